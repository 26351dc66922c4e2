//! `journey fmt`: rewrites `.journey` files in the canonical layout, or checks them (`--check`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

/// Formats the `.journey` files of `paths` (files, or directories searched recursively).
///
/// Rewrites a file only when its layout changes. With `check`, writes nothing: prints each
/// file that would change with its first differing line, and fails if there is one. A file
/// with a syntax error is reported and left as it is, and the command fails.
pub fn run(paths: &[PathBuf], check: bool) -> Result<ExitCode> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    let (mut changed, mut broken) = (0usize, 0usize);
    let mut report = String::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read `{}`", file.display()))?;
        let formatted = match journey_grammar::format(&text) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {}:{e}", file.display());
                broken += 1;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        changed += 1;
        if check {
            report.push_str(&first_difference(file, &text, &formatted));
        } else {
            std::fs::write(file, &formatted)
                .with_context(|| format!("cannot write `{}`", file.display()))?;
        }
    }
    crate::out(&report);
    let n = files.len();
    let s = if n == 1 { "" } else { "s" };
    let broken_note = match broken {
        0 => String::new(),
        1 => ", 1 with a syntax error".to_string(),
        b => format!(", {b} with syntax errors"),
    };
    if check {
        eprintln!("checked {n} file{s}: {changed} not formatted{broken_note}");
    } else {
        eprintln!("formatted {n} file{s}: {changed} changed{broken_note}");
    }
    if broken > 0 || (check && changed > 0) {
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// Adds `path` (a `.journey` file, or every `.journey` file under a directory) to `files`,
/// sorted, skipping hidden directories and `target`.
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    if !meta.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if entry.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                collect(&entry, files)?;
            }
        } else if entry.extension().is_some_and(|e| e == "journey") {
            files.push(entry);
        }
    }
    Ok(())
}

/// `path:LINE: not formatted` with the first line that differs, before and after.
fn first_difference(path: &Path, old: &str, new: &str) -> String {
    let (mut a, mut b) = (old.lines(), new.lines());
    let mut line = 1;
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (None, None) => {
                return format!(
                    "{}:{line}: not formatted (line endings or white space at the end)\n",
                    path.display()
                );
            }
            (x, y) => {
                let show =
                    |l: Option<&str>| l.map_or("(end of file)".to_string(), |l| l.to_string());
                return format!(
                    "{}:{line}: not formatted\n  - {}\n  + {}\n",
                    path.display(),
                    show(x),
                    show(y)
                );
            }
        }
    }
}
