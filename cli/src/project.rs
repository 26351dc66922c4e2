//! Reading a project from disk into the compiler's [`Input`]: a directory (every `.journey`
//! file under it, and its `journey.toml`) or a single file (with the manifest of the nearest
//! enclosing project, if any).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use journey_compiler::{Input, SourceHost};

/// Reads files relative to a project root.
pub struct DiskHost {
    /// The project root.
    pub root: PathBuf,
}

impl SourceHost for DiskHost {
    fn read(&self, path: &str) -> Option<Arc<str>> {
        std::fs::read_to_string(self.root.join(path))
            .ok()
            .map(Arc::from)
    }
}

/// A project found on disk.
pub struct Project {
    /// Reads its files.
    pub host: DiskHost,
    /// What to compile.
    pub input: Input,
}

/// Finds the project for a path.
pub fn open(path: &Path) -> Result<Project> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    if meta.is_dir() {
        let root = path.to_path_buf();
        let mut roots = Vec::new();
        collect(&root, &root, &mut roots)?;
        roots.sort();
        if roots.is_empty() {
            bail!("`{}` holds no .journey file", path.display());
        }
        let manifest = root
            .join("journey.toml")
            .is_file()
            .then(|| "journey.toml".to_string());
        let default_name = dir_name(&root);
        Ok(Project {
            host: DiskHost { root },
            input: Input {
                roots,
                manifest,
                default_name,
                parse_threads: threads(),
                parse_cache: None,
            },
        })
    } else {
        let file = path
            .canonicalize()
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let root = dir
            .ancestors()
            .find(|d| d.join("journey.toml").is_file())
            .map(Path::to_path_buf)
            .unwrap_or(dir);
        let rel = relative(&root, &file);
        let manifest = root
            .join("journey.toml")
            .is_file()
            .then(|| "journey.toml".to_string());
        let default_name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Project {
            host: DiskHost { root },
            input: Input {
                roots: vec![rel],
                manifest,
                default_name,
                parse_threads: threads(),
                parse_cache: None,
            },
        })
    }
}

/// Parse on every core the machine offers.
fn threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn dir_name(p: &Path) -> String {
    p.canonicalize()
        .ok()
        .and_then(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "project".into())
}

fn relative(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list `{}`", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let p = e.path();
        if p.is_dir() {
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            collect(root, &p, out)?;
        } else if name.ends_with(".journey") {
            out.push(relative(root, &p));
        }
    }
    Ok(())
}
