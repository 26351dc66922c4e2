//! Helpers shared by the grammar's test files.

use std::path::{Path, PathBuf};

/// Every `.journey` file below `dir`, in a stable order.
pub fn journey_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            journey_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "journey") {
            out.push(p);
        }
    }
}

/// The workspace root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}
