//! Helpers for the workspace's tests: one per boundary. Each takes a case path (a `.journey`
//! file, or a directory holding a project) and returns the text a snapshot records.

use std::path::Path;

use journey_compiler::{Compilation, Input, MemoryHost, SourceHost, compile, render};

/// Loads a case into memory: a single file, or every file of a project directory.
pub fn load_case(path: &Path) -> (MemoryHost, Input) {
    let mut host = MemoryHost::new();
    let mut input = Input {
        default_name: stem(path),
        ..Input::default()
    };
    if path.is_dir() {
        let mut files = Vec::new();
        walk(path, path, &mut files);
        files.sort();
        let mut plugin_manifests = Vec::new();
        for (rel, text) in files {
            if rel == "journey.toml" {
                input.manifest = Some(rel.clone());
                plugin_manifests = plugin_manifest_paths(&text);
            } else if rel.ends_with(".journey") {
                input.roots.push(rel.clone());
            }
            host.insert(rel, text);
        }
        // Plugin manifests may live outside the project (`../../plugins/manifests/sms.json`):
        // read them from disk as the CLI's host would. A missing one stays missing.
        for rel in plugin_manifests {
            if SourceHost::read(&host, &rel).is_none()
                && let Ok(text) = std::fs::read_to_string(path.join(&rel))
            {
                host.insert(rel, text);
            }
        }
    } else {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).unwrap_or_default();
        host.insert(name.clone(), text);
        input.roots.push(name);
    }
    (host, input)
}

/// The project-relative paths of the plugin manifests a `journey.toml` names (none when it
/// does not parse).
pub fn plugin_manifest_paths(toml: &str) -> Vec<String> {
    let Ok(m) = journey_compiler::manifest::parse(toml) else {
        return Vec::new();
    };
    m.plugins
        .unwrap_or_default()
        .values()
        .map(|p| journey_compiler::source::resolve_relative("journey.toml", p.manifest.get_ref()))
        .collect()
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out);
        } else if let Ok(text) = std::fs::read_to_string(&p) {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, text));
        }
    }
}

/// Compiles a case.
pub fn compile_case(path: &Path) -> Compilation {
    let (host, input) = load_case(path);
    compile(&host, &input)
}

/// The sources of a case followed by its rendered diagnostics (no colour).
pub fn check_diagnostics(path: &Path) -> String {
    let c = compile_case(path);
    let mut out = String::new();
    for (_, f) in c.sources.files.iter() {
        out.push_str(&format!("==== {} ====\n{}", f.path, f.text));
        if !f.text.ends_with('\n') {
            out.push('\n');
        }
    }
    out.push_str("==== diagnostics ====\n");
    out.push_str(&render::render(&c.diagnostics, &c.sources, false));
    out.push_str(&format!(
        "{} error(s), {} warning(s)\n",
        c.error_count(),
        c.warning_count()
    ));
    out
}

/// The disassembly of a case that must compile.
pub fn check_bytecode(path: &Path) -> String {
    let c = compile_case(path);
    match &c.program {
        Some(p) => journey_bytecode::disasm::disassemble(p),
        None => format!(
            "did not compile:\n{}",
            render::render(&c.diagnostics, &c.sources, false)
        ),
    }
}

/// Compiles one source text as the single file `main.journey` of a project.
pub fn compile_source(text: impl Into<String>) -> Compilation {
    let mut host = MemoryHost::new();
    host.insert("main.journey", text.into());
    let input = Input {
        roots: vec!["main.journey".into()],
        ..Input::default()
    };
    compile(&host, &input)
}

/// The codes of the diagnostics of a case.
pub fn codes_of(path: &Path) -> Vec<&'static str> {
    compile_case(path)
        .diagnostics
        .iter()
        .map(|d| d.code.code)
        .collect()
}
