//! Sources: how files reach the compiler (a host trait, so the CLI, the language server and
//! tests all call the same `compile`), and the map of loaded files used for locations.

use std::collections::BTreeMap;
use std::sync::Arc;

use cranelift_entity::PrimaryMap;
use journey_bytecode::{FileId, Loc};
use journey_grammar::ast::Span;

/// Gives the compiler the text of files by project-relative path (`/`-separated).
pub trait SourceHost {
    /// The text of `path`, or `None` if there is no such file.
    fn read(&self, path: &str) -> Option<Arc<str>>;
}

/// Sources held in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryHost {
    files: BTreeMap<String, Arc<str>>,
}

impl MemoryHost {
    /// An empty host.
    pub fn new() -> MemoryHost {
        MemoryHost::default()
    }
    /// Adds or replaces a file.
    pub fn insert(&mut self, path: impl Into<String>, text: impl Into<Arc<str>>) {
        self.files.insert(path.into(), text.into());
    }
    /// Paths of all files ending in `.journey`, sorted.
    pub fn journey_files(&self) -> Vec<String> {
        self.files
            .keys()
            .filter(|p| p.ends_with(".journey"))
            .cloned()
            .collect()
    }
}

impl SourceHost for MemoryHost {
    fn read(&self, path: &str) -> Option<Arc<str>> {
        self.files.get(path).cloned()
    }
}

/// What to compile.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// Files to compile; their imports are followed.
    pub roots: Vec<String>,
    /// Path of the manifest (`journey.toml`), if the project has one.
    pub manifest: Option<String>,
    /// Project name when there is no manifest.
    pub default_name: String,
    /// Threads to parse files on (0 or 1: parse on the calling thread). The host chooses,
    /// so the compiler never probes the machine; the result does not depend on it.
    pub parse_threads: usize,
    /// Parses of earlier compilations, reused for files whose text has not changed (the
    /// language server keeps one across edits). `None`: parse everything.
    pub parse_cache: Option<std::sync::Arc<ParseCache>>,
}

/// Syntax trees of earlier compilations by path, one [`journey_grammar::Reparser`] per file:
/// a file whose text is unchanged is not parsed again, and an edited file is parsed only in
/// the declarations whose text changed.
#[derive(Debug, Default)]
pub struct ParseCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, journey_grammar::Reparser>>,
}

impl ParseCache {
    /// An empty cache.
    pub fn new() -> ParseCache {
        ParseCache::default()
    }

    /// The parse of `path` with this `text`: the same result as [`journey_grammar::parse`].
    /// Files are parsed outside the lock, so threads parsing different files do not wait
    /// for each other.
    pub(crate) fn parse(&self, path: &str, text: &str) -> journey_grammar::Parsed {
        let taken = self.entries.lock().ok().and_then(|mut e| e.remove(path));
        let mut reparser = taken.unwrap_or_default();
        let parsed = reparser.parse(text).clone();
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(path.to_string(), reparser);
        }
        parsed
    }
}

/// A loaded file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Project-relative path.
    pub path: String,
    /// Its text.
    pub text: Arc<str>,
    line_starts: Vec<u32>,
}

impl SourceFile {
    /// A file with its line index.
    pub fn new(path: String, text: Arc<str>) -> SourceFile {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i as u32 + 1));
        SourceFile {
            path,
            text,
            line_starts,
        }
    }

    /// 0-based line and 0-based byte column of a byte offset.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let line = self
            .line_starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        (line as u32, offset.saturating_sub(start))
    }

    /// Byte offsets where lines start.
    pub fn line_starts(&self) -> &[u32] {
        &self.line_starts
    }
}

/// All files loaded by a compilation.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    /// The files.
    pub files: PrimaryMap<FileId, SourceFile>,
}

impl SourceMap {
    /// The file with this path.
    pub fn find(&self, path: &str) -> Option<FileId> {
        self.files
            .iter()
            .find(|(_, f)| f.path == path)
            .map(|(id, _)| id)
    }

    /// The location record of a span: 1-based line and character column.
    pub fn loc(&self, file: FileId, span: Span) -> Loc {
        use cranelift_entity::EntityRef;
        let Some(f) = self.files.get(file) else {
            return Loc::default();
        };
        let (line, col) = f.line_col(span.start);
        let line_start = f.line_starts.get(line as usize).copied().unwrap_or(0) as usize;
        let col_chars = f
            .text
            .get(line_start..line_start + col as usize)
            .map(|s| s.chars().count())
            .unwrap_or(col as usize);
        Loc {
            file: file.index() as u32,
            start: span.start,
            end: span.end,
            line: line + 1,
            col: col_chars as u32 + 1,
        }
    }
}

/// Joins an import path to the directory of the importing file and normalises `.` and `..`.
/// Returns `None` for a path that climbs above the project root.
pub fn resolve_import(from: &str, import: &str) -> Option<String> {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in import.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Joins a path written in a file (a `[plugins]` entry of `journey.toml`) to that file's
/// directory and normalises `.` and `..`. Unlike [`resolve_import`], the result may climb
/// above the project root: it then starts with `../` (`../../plugins/manifests/sms.json`),
/// which a disk host joins to the project root like any other path. An absolute path is
/// returned as written.
pub fn resolve_relative(from: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(&p) if p != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::resolve_relative;

    #[test]
    fn relative_paths_may_climb_above_the_root() {
        assert_eq!(
            resolve_relative("journey.toml", "../../plugins/manifests/sms.json"),
            "../../plugins/manifests/sms.json"
        );
        assert_eq!(
            resolve_relative("journey.toml", "./plugins/../plugins/web-inbox.json"),
            "plugins/web-inbox.json"
        );
        assert_eq!(resolve_relative("sub/journey.toml", "../a.json"), "a.json");
        assert_eq!(
            resolve_relative("sub/journey.toml", "../../a.json"),
            "../a.json"
        );
        assert_eq!(
            resolve_relative("journey.toml", "/opt/m.json"),
            "/opt/m.json"
        );
    }
}
