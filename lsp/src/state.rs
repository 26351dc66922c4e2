//! The server's state: open documents overlaying the disk, the projects they belong to, and
//! the analyses handlers read.
//!
//! - **Projects.** A document belongs to the nearest enclosing directory that holds a
//!   `journey.toml` (every `.journey` file under it is compiled, as `journey check DIR` does),
//!   else to itself alone (the file and what it imports), else, for a document that is not a
//!   file (`untitled:`), to itself in memory.
//! - **Checking.** Every open, change or close compiles the whole project again through
//!   [`journey_compiler::compile`] with an [`OverlayHost`] (open documents first, then the
//!   disk); it takes a few milliseconds. A change also re-checks the other projects whose last
//!   compilation read the changed file (a file compiled alone that imports it). The result is
//!   one [`Publish`] per file whose diagnostics changed, including files that became clean.
//! - **Analyses.** Handlers read immutable [`Analysis`] values behind `Arc`s, so a request
//!   never waits for a compilation. Each document keeps its current analysis and the last one
//!   in which it had no syntax error, so hover and completion keep working while the text is
//!   broken.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use journey_bytecode::FileId;
use journey_compiler::{Compilation, Input, SourceHost, codes, compile};
use journey_grammar::ast::{self, Span};
use tower_lsp_server::ls_types::{self as lsp, Location, TextDocumentContentChangeEvent, Uri};

use crate::handlers::diagnostics;
use crate::line_index::{LineIndex, map_offset};

/// Which project a document belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProjectKey {
    /// A directory holding a `journey.toml`: every `.journey` file under it.
    Manifest(PathBuf),
    /// A file outside any project, compiled alone with what it imports.
    Single(PathBuf),
    /// A document that is not a file on disk (an unsaved `untitled:` buffer).
    Virtual(Uri),
}

/// A `publishDiagnostics` to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    /// The file.
    pub uri: Uri,
    /// Its diagnostics (empty to clear).
    pub diagnostics: Vec<lsp::Diagnostic>,
    /// The document version they were computed for, when the file is open.
    pub version: Option<i32>,
}

/// One compilation of a project, with what editors need to read it: the URI, line index and
/// syntax tree of each file (the last two built on first use).
#[derive(Debug)]
pub struct Analysis {
    /// The project root (`None` for an in-memory document).
    pub root: Option<PathBuf>,
    /// What the compiler returned.
    pub compilation: Compilation,
    files: HashMap<FileId, FileData>,
}

#[derive(Debug, Default)]
struct FileData {
    uri: Option<Uri>,
    lines: OnceLock<LineIndex>,
    ast: OnceLock<journey_grammar::Parsed>,
    syntax_ok: bool,
}

impl Analysis {
    /// Wraps a compilation; `uri_of` names each file (by project-relative path).
    pub fn new(
        root: Option<PathBuf>,
        compilation: Compilation,
        uri_of: impl Fn(&str) -> Option<Uri>,
    ) -> Analysis {
        let mut files = HashMap::new();
        for (id, f) in compilation.sources.files.iter() {
            let syntax_ok = !compilation
                .diagnostics
                .iter()
                .any(|d| d.primary.file == id && std::ptr::eq(d.code, &codes::SYNTAX_ERROR));
            files.insert(
                id,
                FileData {
                    uri: uri_of(&f.path),
                    syntax_ok,
                    ..FileData::default()
                },
            );
        }
        Analysis {
            root,
            compilation,
            files,
        }
    }

    /// Every file of the compilation.
    pub fn file_ids(&self) -> impl Iterator<Item = FileId> + '_ {
        self.compilation.sources.files.keys()
    }

    /// The project-relative path of a file.
    pub fn path(&self, file: FileId) -> &str {
        self.compilation
            .sources
            .files
            .get(file)
            .map_or("", |f| f.path.as_str())
    }

    /// The text of a file.
    pub fn text(&self, file: FileId) -> &str {
        self.compilation
            .sources
            .files
            .get(file)
            .map_or("", |f| &*f.text)
    }

    /// The URI of a file.
    pub fn uri(&self, file: FileId) -> Option<&Uri> {
        self.files.get(&file).and_then(|d| d.uri.as_ref())
    }

    /// The file with this URI.
    pub fn file_of_uri(&self, uri: &Uri) -> Option<FileId> {
        self.files
            .iter()
            .find(|(_, d)| d.uri.as_ref() == Some(uri))
            .map(|(&id, _)| id)
    }

    /// The line index of a file.
    pub fn lines(&self, file: FileId) -> Option<&LineIndex> {
        let data = self.files.get(&file)?;
        let text = self.compilation.sources.files.get(file)?.text.clone();
        Some(data.lines.get_or_init(|| LineIndex::new(text)))
    }

    /// The syntax tree of a file (parsed on first use; the manifest's is empty).
    pub fn ast(&self, file: FileId) -> Option<&ast::File> {
        let data = self.files.get(&file)?;
        let f = self.compilation.sources.files.get(file)?;
        let parsed = data.ast.get_or_init(|| {
            if f.path.ends_with(".journey") {
                journey_grammar::parse(&f.text)
            } else {
                journey_grammar::Parsed::default()
            }
        });
        Some(&parsed.file)
    }

    /// Whether a file has no syntax error.
    pub fn syntax_ok(&self, file: FileId) -> bool {
        self.files.get(&file).is_some_and(|d| d.syntax_ok)
    }

    /// The LSP location of a span of a file.
    pub fn location(&self, file: FileId, span: Span) -> Option<Location> {
        Some(Location::new(
            self.uri(file)?.clone(),
            self.lines(file)?.range(span),
        ))
    }
}

/// One file of an analysis.
#[derive(Debug, Clone)]
pub struct FileView {
    /// The analysis.
    pub analysis: Arc<Analysis>,
    /// The file.
    pub file: FileId,
}

impl FileView {
    /// The file's text.
    pub fn text(&self) -> &str {
        self.analysis.text(self.file)
    }
    /// The file's line index.
    pub fn lines(&self) -> Option<&LineIndex> {
        self.analysis.lines(self.file)
    }
    /// The file's syntax tree.
    pub fn ast(&self) -> Option<&ast::File> {
        self.analysis.ast(self.file)
    }
    /// The compilation.
    pub fn compilation(&self) -> &Compilation {
        &self.analysis.compilation
    }
}

/// What a request handler reads about one document.
#[derive(Debug, Clone)]
pub struct DocSnapshot {
    /// The document.
    pub uri: Uri,
    /// Its version.
    pub version: i32,
    /// The analysis of its current text.
    pub current: FileView,
    /// The last analysis in which it had no syntax error (the current one when it has none).
    pub good: Option<FileView>,
}

impl DocSnapshot {
    /// The current text.
    pub fn text(&self) -> &str {
        self.current.text()
    }

    /// The last good analysis and the offset in its text corresponding to `offset` in the
    /// current text, when there is one (the offset is not inside the region edited since).
    pub fn good_at(&self, offset: u32) -> Option<(&FileView, u32)> {
        let good = self.good.as_ref()?;
        let mapped = map_offset(good.text(), self.current.text(), offset)?;
        Some((good, mapped))
    }

    /// Whether the current text parses.
    pub fn syntax_ok(&self) -> bool {
        self.current.analysis.syntax_ok(self.current.file)
    }
}

#[derive(Debug)]
struct Document {
    path: Option<PathBuf>,
    text: Arc<str>,
    version: i32,
    project: ProjectKey,
    current: Option<FileView>,
    good: Option<FileView>,
}

#[derive(Debug)]
struct Project {
    root: Option<PathBuf>,
    /// The `.journey` files on disk (manifest projects), listed when the project is found
    /// and again when the client reports created or deleted files.
    listing: Vec<String>,
    /// Texts read from disk, by project-relative path (`None`: no such file).
    disk: RefCell<HashMap<String, Option<Arc<str>>>>,
    analysis: Option<Arc<Analysis>>,
    /// What was last published for each file, when not empty.
    published: HashMap<Uri, Vec<lsp::Diagnostic>>,
    /// Absolute paths of the files the last compilation read.
    files: HashSet<PathBuf>,
}

/// The files a compilation reads: open documents first, then the disk (cached).
pub struct OverlayHost<'a> {
    root: Option<&'a Path>,
    overlay: HashMap<String, Arc<str>>,
    disk: &'a RefCell<HashMap<String, Option<Arc<str>>>>,
}

impl SourceHost for OverlayHost<'_> {
    fn read(&self, path: &str) -> Option<Arc<str>> {
        if let Some(text) = self.overlay.get(path) {
            return Some(text.clone());
        }
        let root = self.root?;
        if let Some(cached) = self.disk.borrow().get(path) {
            return cached.clone();
        }
        let text = std::fs::read_to_string(root.join(path)).ok().map(Arc::from);
        self.disk
            .borrow_mut()
            .insert(path.to_string(), text.clone());
        text
    }
}

/// Open documents and projects.
#[derive(Debug)]
pub struct State {
    docs: HashMap<Uri, Document>,
    projects: HashMap<ProjectKey, Project>,
    docs_url: String,
    parse_threads: usize,
    /// Parses reused across edits: files whose text did not change are not parsed again, and
    /// an edited file reparses only its changed declarations (parsing was most of a
    /// compilation). Correct across projects: reuse needs the same text.
    parse_cache: std::sync::Arc<journey_compiler::ParseCache>,
}

impl Default for State {
    fn default() -> State {
        State::new()
    }
}

/// The default base of the links to diagnostic explanations: the language reference of the
/// source tree this server was built from.
pub fn default_docs_url() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md");
    let path = normalize(&path);
    Uri::from_file_path(&path)
        .map(|u| u.as_str().to_string())
        .unwrap_or_else(|| format!("file://{}", path.display()))
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

impl State {
    /// No documents.
    pub fn new() -> State {
        State {
            docs: HashMap::new(),
            projects: HashMap::new(),
            docs_url: default_docs_url(),
            parse_threads: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(4),
            parse_cache: std::sync::Arc::new(journey_compiler::ParseCache::new()),
        }
    }

    /// Sets the base URL of the links to diagnostic explanations (`…/language.md`); the anchor
    /// `#e0201-unknown-name` is appended.
    pub fn set_docs_url(&mut self, url: String) {
        self.docs_url = url;
    }

    /// How many threads a manifest project's files are parsed on (default: the cores, at
    /// most 4; benchmarks set 1 to measure the work on one thread).
    pub fn set_parse_threads(&mut self, threads: usize) {
        self.parse_threads = threads.max(1);
    }

    /// The base URL of the links to diagnostic explanations.
    pub fn docs_url(&self) -> &str {
        &self.docs_url
    }

    /// Opens a document; returns the diagnostics to publish.
    pub fn open(&mut self, uri: Uri, text: String, version: i32) -> Vec<Publish> {
        let path = file_path(&uri);
        let key = match &path {
            Some(p) => find_project(p),
            None => ProjectKey::Virtual(uri.clone()),
        };
        self.ensure_project(&key);
        self.docs.insert(
            uri.clone(),
            Document {
                path,
                text: Arc::from(text),
                version,
                project: key.clone(),
                current: None,
                good: None,
            },
        );
        self.recheck_around(&uri)
    }

    /// Applies the edits of a `didChange`; returns the diagnostics to publish. Changes to an
    /// unknown document are ignored.
    pub fn change(
        &mut self,
        uri: &Uri,
        version: i32,
        changes: Vec<TextDocumentContentChangeEvent>,
    ) -> Vec<Publish> {
        let Some(doc) = self.docs.get_mut(uri) else {
            return Vec::new();
        };
        let mut text = doc.text.to_string();
        for change in changes {
            match change.range {
                None => text = change.text,
                Some(range) => {
                    let lines = LineIndex::new(Arc::from(text.as_str()));
                    let span = lines.span(range);
                    text.replace_range(span.range(), &change.text);
                }
            }
        }
        doc.text = Arc::from(text);
        doc.version = version;
        self.recheck_around(uri)
    }

    /// Closes a document: its project reads the file from disk again, and a project with no
    /// open document left is dropped (its diagnostics are cleared).
    pub fn close(&mut self, uri: &Uri) -> Vec<Publish> {
        let Some(doc) = self.docs.remove(uri) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for project in self.projects.values() {
            project.disk.borrow_mut().clear();
        }
        let still_used = self.docs.values().any(|d| d.project == doc.project);
        if still_used {
            out.extend(self.check(&doc.project));
        } else if let Some(project) = self.projects.remove(&doc.project) {
            out.extend(project.published.into_keys().map(|uri| Publish {
                uri,
                diagnostics: Vec::new(),
                version: None,
            }));
        }
        if let Some(path) = &doc.path {
            out.extend(self.check_importers(path, &doc.project));
        }
        out
    }

    /// A document was saved: what is on disk changed.
    pub fn saved(&mut self, _uri: &Uri) {
        for project in self.projects.values() {
            project.disk.borrow_mut().clear();
        }
    }

    /// Files changed on disk (created, changed, deleted): projects are found again, listed
    /// again and checked again.
    pub fn files_changed(&mut self) -> Vec<Publish> {
        let mut out = Vec::new();
        let uris: Vec<Uri> = self.docs.keys().cloned().collect();
        for uri in &uris {
            let Some(doc) = self.docs.get_mut(uri) else {
                continue;
            };
            if let Some(p) = &doc.path {
                doc.project = find_project(p);
            }
        }
        let used: HashSet<ProjectKey> = self.docs.values().map(|d| d.project.clone()).collect();
        let stale: Vec<ProjectKey> = self
            .projects
            .keys()
            .filter(|k| !used.contains(*k))
            .cloned()
            .collect();
        for key in stale {
            if let Some(project) = self.projects.remove(&key) {
                out.extend(project.published.into_keys().map(|uri| Publish {
                    uri,
                    diagnostics: Vec::new(),
                    version: None,
                }));
            }
        }
        for key in &used {
            // Keep what was published, so files that became clean are cleared.
            let published = self
                .projects
                .remove(key)
                .map(|p| p.published)
                .unwrap_or_default();
            self.ensure_project(key);
            if let Some(p) = self.projects.get_mut(key) {
                p.published = published;
            }
            out.extend(self.check(key));
        }
        out
    }

    /// The snapshot of an open document for a request.
    pub fn snapshot(&self, uri: &Uri) -> Option<DocSnapshot> {
        let doc = self.docs.get(uri)?;
        Some(DocSnapshot {
            uri: uri.clone(),
            version: doc.version,
            current: doc.current.clone()?,
            good: doc.good.clone(),
        })
    }

    /// The current analysis of every project.
    pub fn analyses(&self) -> Vec<Arc<Analysis>> {
        self.projects
            .values()
            .filter_map(|p| p.analysis.clone())
            .collect()
    }

    /// The text of an open document.
    pub fn text(&self, uri: &Uri) -> Option<&str> {
        self.docs.get(uri).map(|d| &*d.text)
    }

    fn ensure_project(&mut self, key: &ProjectKey) {
        if self.projects.contains_key(key) {
            return;
        }
        let (root, listing) = match key {
            ProjectKey::Manifest(root) => (Some(root.clone()), list_journey_files(root)),
            ProjectKey::Single(file) => (file.parent().map(Path::to_path_buf), Vec::new()),
            ProjectKey::Virtual(_) => (None, Vec::new()),
        };
        self.projects.insert(
            key.clone(),
            Project {
                root,
                listing,
                disk: RefCell::new(HashMap::new()),
                analysis: None,
                published: HashMap::new(),
                files: HashSet::new(),
            },
        );
    }

    /// Checks the project of a document and every other project that read it.
    fn recheck_around(&mut self, uri: &Uri) -> Vec<Publish> {
        let Some(doc) = self.docs.get(uri) else {
            return Vec::new();
        };
        let key = doc.project.clone();
        let path = doc.path.clone();
        let mut out = self.check_touching(&key, Some(uri));
        if let Some(path) = path {
            out.extend(self.check_importers(&path, &key));
        }
        out
    }

    fn check_importers(&mut self, path: &Path, except: &ProjectKey) -> Vec<Publish> {
        let importers: Vec<ProjectKey> = self
            .projects
            .iter()
            .filter(|(k, p)| *k != except && p.files.contains(path))
            .map(|(k, _)| k.clone())
            .collect();
        importers.iter().flat_map(|k| self.check(k)).collect()
    }

    /// Compiles a project and updates its documents; returns the diagnostics to publish.
    fn check(&mut self, key: &ProjectKey) -> Vec<Publish> {
        self.check_touching(key, None)
    }

    /// Like [`State::check`]; the diagnostics of `touched` (the document just edited) are
    /// published even when they did not change, so the client sees them for its version.
    fn check_touching(&mut self, key: &ProjectKey, touched: Option<&Uri>) -> Vec<Publish> {
        let Some(project) = self.projects.get(key) else {
            return Vec::new();
        };
        let root = project.root.clone();
        // Open documents under the root, by project-relative path.
        let mut overlay: HashMap<String, Arc<str>> = HashMap::new();
        let mut open_paths: HashMap<PathBuf, Uri> = HashMap::new();
        for (uri, doc) in &self.docs {
            match (&root, &doc.path) {
                (Some(root), Some(path)) => {
                    if let Some(rel) = relative(root, path) {
                        overlay.insert(rel, doc.text.clone());
                        open_paths.insert(path.clone(), uri.clone());
                    }
                }
                (None, _) if doc.project == *key => {
                    overlay.insert(virtual_name(uri), doc.text.clone());
                }
                _ => {}
            }
        }
        let input = match key {
            ProjectKey::Manifest(dir) => {
                let mut roots: Vec<String> = project.listing.clone();
                roots.extend(overlay.keys().filter(|p| p.ends_with(".journey")).cloned());
                roots.sort();
                roots.dedup();
                Input {
                    roots,
                    manifest: Some("journey.toml".into()),
                    default_name: dir_name(dir),
                    parse_threads: self.parse_threads,
                    parse_cache: Some(self.parse_cache.clone()),
                }
            }
            ProjectKey::Single(file) => Input {
                roots: root
                    .as_deref()
                    .and_then(|r| relative(r, file))
                    .into_iter()
                    .collect(),
                manifest: None,
                default_name: file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                parse_threads: 1,
                parse_cache: Some(self.parse_cache.clone()),
            },
            ProjectKey::Virtual(uri) => Input {
                roots: vec![virtual_name(uri)],
                manifest: None,
                default_name: "untitled".into(),
                parse_threads: 1,
                parse_cache: Some(self.parse_cache.clone()),
            },
        };
        let host = OverlayHost {
            root: root.as_deref(),
            overlay,
            disk: &project.disk,
        };
        let compilation = compile(&host, &input);
        let virtual_uri = match key {
            ProjectKey::Virtual(uri) => Some(uri.clone()),
            _ => None,
        };
        let uri_of = |rel: &str| -> Option<Uri> {
            if let Some(uri) = &virtual_uri {
                return Some(uri.clone());
            }
            let abs = root.as_ref()?.join(rel);
            open_paths
                .get(&abs)
                .cloned()
                .or_else(|| Uri::from_file_path(&abs))
        };
        let analysis = Arc::new(Analysis::new(root.clone(), compilation, uri_of));
        let files: HashSet<PathBuf> = match &root {
            Some(r) => analysis
                .file_ids()
                .map(|f| r.join(analysis.path(f)))
                .collect(),
            None => HashSet::new(),
        };

        // Documents of this project see the new analysis.
        let mut versions: HashMap<Uri, i32> = HashMap::new();
        for (uri, doc) in self.docs.iter_mut() {
            versions.insert(uri.clone(), doc.version);
            if doc.project != *key {
                continue;
            }
            let Some(file) = analysis.file_of_uri(uri) else {
                continue;
            };
            let view = FileView {
                analysis: analysis.clone(),
                file,
            };
            if analysis.syntax_ok(file) {
                doc.good = Some(view.clone());
            }
            doc.current = Some(view);
        }

        // Diagnostics of the files this project owns: all of them for a manifest project;
        // for a file compiled alone, itself and the files it imports that are not open.
        let owned = |f: FileId| -> bool {
            match key {
                ProjectKey::Manifest(_) | ProjectKey::Virtual(_) => true,
                ProjectKey::Single(file) => {
                    let abs = root.as_ref().map(|r| r.join(analysis.path(f)));
                    abs.as_ref() == Some(file) || abs.is_some_and(|a| !open_paths.contains_key(&a))
                }
            }
        };
        let docs_url = self.docs_url.clone();
        let mut fresh: HashMap<Uri, Vec<lsp::Diagnostic>> = HashMap::new();
        for file in analysis.file_ids() {
            if !owned(file) {
                continue;
            }
            let Some(uri) = analysis.uri(file) else {
                continue;
            };
            let diags = diagnostics::for_file(&analysis, file, &docs_url);
            fresh.insert(uri.clone(), diags);
        }
        let Some(project) = self.projects.get_mut(key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (uri, diags) in &fresh {
            let before = project.published.get(uri);
            let changed = match before {
                Some(b) => b != diags,
                None => !diags.is_empty(),
            };
            if changed || Some(uri) == touched {
                out.push(Publish {
                    uri: uri.clone(),
                    diagnostics: diags.clone(),
                    version: versions.get(uri).copied(),
                });
            }
        }
        for uri in project.published.keys() {
            if !fresh.contains_key(uri) {
                out.push(Publish {
                    uri: uri.clone(),
                    diagnostics: Vec::new(),
                    version: versions.get(uri).copied(),
                });
            }
        }
        project.published = fresh.into_iter().filter(|(_, d)| !d.is_empty()).collect();
        project.analysis = Some(analysis);
        project.files = files;
        out.sort_by(|a, b| a.uri.as_str().cmp(b.uri.as_str()));
        out
    }
}

/// The absolute path of a `file:` URI.
pub fn file_path(uri: &Uri) -> Option<PathBuf> {
    if !uri.as_str().starts_with("file:") {
        return None;
    }
    let path = uri.to_file_path()?.into_owned();
    path.is_absolute().then_some(path)
}

/// The project of a file: the nearest enclosing directory with a `journey.toml`, else the
/// file alone.
pub fn find_project(path: &Path) -> ProjectKey {
    let dir = path.parent().unwrap_or(path);
    match dir.ancestors().find(|d| d.join("journey.toml").is_file()) {
        Some(root) => ProjectKey::Manifest(root.to_path_buf()),
        None if path.file_name().is_some_and(|n| n == "journey.toml") => {
            ProjectKey::Manifest(dir.to_path_buf())
        }
        None => ProjectKey::Single(path.to_path_buf()),
    }
}

fn virtual_name(uri: &Uri) -> String {
    let last = uri
        .as_str()
        .rsplit(['/', ':'])
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("untitled");
    if last.ends_with(".journey") {
        last.to_string()
    } else {
        format!("{last}.journey")
    }
}

fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into())
}

/// `path` relative to `root`, `/`-separated, if it is under it.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Every `.journey` file under a project root (hidden directories, `target` and
/// `node_modules` skipped), sorted.
fn list_journey_files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<String>) {
        if depth > 32 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                    walk(root, &p, depth + 1, out);
                }
            } else if name.ends_with(".journey")
                && let Some(rel) = relative(root, &p)
            {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, 0, &mut out);
    out.sort();
    out
}
