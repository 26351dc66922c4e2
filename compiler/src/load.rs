//! Loading: parse the root files, follow their imports through the host, and compute which
//! files each file can see. Reports syntax errors, missing files and import cycles.

use std::collections::{HashMap, HashSet};

use cranelift_entity::{EntityRef, SecondaryMap};
use journey_bytecode::FileId;
use journey_grammar::ast::{File, ItemKind, Span};

use crate::codes;
use crate::diagnostic::{Diagnostic, Sink};
use crate::source::{Input, ParseCache, SourceFile, SourceHost, SourceMap, resolve_import};

/// The parsed project.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The files.
    pub sources: SourceMap,
    /// The syntax tree of each `.journey` file (the manifest has an empty one).
    pub asts: SecondaryMap<FileId, File>,
    /// For each file, the files it sees (itself and its transitive imports), as a sorted list.
    pub visible: SecondaryMap<FileId, Vec<FileId>>,
    /// The manifest file, if any.
    pub manifest: Option<FileId>,
}

impl Loaded {
    /// Whether `from` can see declarations of `decl`.
    pub fn sees(&self, from: FileId, decl: FileId) -> bool {
        from == decl || self.visible[from].binary_search(&decl).is_ok()
    }
}

/// Converts a syntax error into a diagnostic (the only place that does).
pub fn syntax_diagnostic(file: FileId, e: &journey_grammar::SyntaxError) -> Diagnostic {
    Diagnostic::new(&codes::SYNTAX_ERROR, file, e.span, e.message.clone())
        .primary_label(format!("expected {}", e.expected))
        .maybe_help(e.help.clone())
}

/// Loads the roots and everything they import.
pub fn load(host: &dyn SourceHost, input: &Input, sink: &mut Sink) -> Loaded {
    let mut loaded = Loaded::default();
    if let Some(m) = &input.manifest
        && let Some(text) = host.read(m)
    {
        loaded.manifest = Some(loaded.sources.files.push(SourceFile::new(m.clone(), text)));
    }
    let mut by_path: HashMap<String, FileId> = HashMap::new();
    let mut imports: SecondaryMap<FileId, Vec<(FileId, Span)>> = SecondaryMap::new();
    let mut queue: Vec<FileId> = Vec::new();
    for root in &input.roots {
        if by_path.contains_key(root) {
            continue;
        }
        match host.read(root) {
            Some(text) => {
                let id = loaded
                    .sources
                    .files
                    .push(SourceFile::new(root.clone(), text));
                by_path.insert(root.clone(), id);
                queue.push(id);
            }
            None => {
                // A root that cannot be read is reported by the host's caller (no location).
            }
        }
    }
    // The roots are known up front: parse them on every core. Files reached only through
    // imports are parsed as they are found.
    let cache = input.parse_cache.as_deref();
    let mut pre = parse_all(&loaded.sources, &queue, input.parse_threads, cache);
    let mut i = 0;
    while i < queue.len() {
        let file = queue[i];
        i += 1;
        let parsed = match pre.remove(&file) {
            Some(p) => p,
            None => parse_one(&loaded.sources.files[file], cache),
        };
        for e in &parsed.errors {
            sink.push(syntax_diagnostic(file, e));
        }
        let from_path = loaded.sources.files[file].path.clone();
        for item in &parsed.file.items {
            let ItemKind::Import(imp) = &item.kind else {
                continue;
            };
            let Some(rel) = imp.path.plain() else {
                sink.push(
                    Diagnostic::new(
                        &codes::NOT_CONSTANT,
                        file,
                        imp.path.span,
                        "an import path cannot be interpolated",
                    )
                    .primary_label("write the path as plain text"),
                );
                continue;
            };
            let target = resolve_import(&from_path, &rel);
            let Some(target) = target else {
                sink.push(
                    Diagnostic::new(
                        &codes::MISSING_FILE,
                        file,
                        imp.path.span,
                        format!("`{rel}` is outside the project"),
                    )
                    .primary_label("this path climbs above the project root"),
                );
                continue;
            };
            let id = match by_path.get(&target) {
                Some(&id) => id,
                None => match host.read(&target) {
                    Some(text) => {
                        let id = loaded
                            .sources
                            .files
                            .push(SourceFile::new(target.clone(), text));
                        by_path.insert(target.clone(), id);
                        queue.push(id);
                        id
                    }
                    None => {
                        let mut d = Diagnostic::new(
                            &codes::MISSING_FILE,
                            file,
                            imp.path.span,
                            format!("cannot find `{target}`"),
                        )
                        .primary_label("no such file in the project");
                        if let Some(best) = closest_path(&target, by_path.keys()) {
                            d = d.help(format!("did you mean `{best}`?"));
                        }
                        sink.push(d);
                        continue;
                    }
                },
            };
            if id == file {
                sink.push(
                    Diagnostic::new(
                        &codes::IMPORT_CYCLE,
                        file,
                        imp.path.span,
                        "a file imports itself",
                    )
                    .primary_label("remove this import"),
                );
                continue;
            }
            imports[file].push((id, imp.path.span));
        }
        loaded.asts[file] = parsed.file;
    }
    report_cycles(&loaded, &imports, sink);
    for (file, _) in loaded.sources.files.iter() {
        let mut seen: HashSet<FileId> = HashSet::new();
        let mut stack = vec![file];
        while let Some(f) = stack.pop() {
            for &(t, _) in &imports[f] {
                if seen.insert(t) {
                    stack.push(t);
                }
            }
        }
        let mut v: Vec<FileId> = seen.into_iter().collect();
        v.sort();
        loaded.visible[file] = v;
    }
    loaded
}

/// Parses one file, through the cache when there is one.
fn parse_one(file: &SourceFile, cache: Option<&ParseCache>) -> journey_grammar::Parsed {
    match cache {
        Some(c) => c.parse(&file.path, &file.text),
        None => journey_grammar::parse(&file.text),
    }
}

/// Parses files on up to `threads` threads; the result does not depend on the number.
fn parse_all(
    sources: &SourceMap,
    files: &[FileId],
    threads: usize,
    cache: Option<&ParseCache>,
) -> HashMap<FileId, journey_grammar::Parsed> {
    let threads = threads.min(files.len()).max(1);
    if threads == 1 {
        return files
            .iter()
            .map(|&f| (f, parse_one(&sources.files[f], cache)))
            .collect();
    }
    // Deal the files out by size so every thread gets a similar share.
    let mut by_size: Vec<FileId> = files.to_vec();
    by_size.sort_by_key(|f| std::cmp::Reverse(sources.files[*f].text.len()));
    let mut shares: Vec<Vec<FileId>> = vec![Vec::new(); threads];
    for (i, f) in by_size.into_iter().enumerate() {
        shares[i % threads].push(f);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| {
                scope.spawn(move || {
                    share
                        .into_iter()
                        .map(|f| (f, parse_one(&sources.files[f], cache)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut out = HashMap::new();
        for h in handles {
            // A panic in a parser thread would be a bug; re-raise it rather than lose a file.
            match h.join() {
                Ok(v) => out.extend(v),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        out
    })
}

fn closest_path<'a>(target: &str, known: impl Iterator<Item = &'a String>) -> Option<String> {
    known
        .map(|k| (k, strsim::levenshtein(target, k)))
        .filter(|(_, d)| *d <= 3)
        .min_by_key(|(_, d)| *d)
        .map(|(k, _)| k.clone())
}

/// Reports each import cycle once, at the import that closes it.
fn report_cycles(
    loaded: &Loaded,
    imports: &SecondaryMap<FileId, Vec<(FileId, Span)>>,
    sink: &mut Sink,
) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let n = loaded.sources.files.len();
    let mut mark = vec![Mark::New; n];
    // Iterative DFS keeping the path of (file, index of next import).
    for start in 0..n {
        if mark[start] != Mark::New {
            continue;
        }
        let mut path: Vec<(FileId, usize)> = vec![(FileId::new(start), 0)];
        mark[start] = Mark::Active;
        while let Some(&mut (f, ref mut next)) = path.last_mut() {
            if let Some(&(t, span)) = imports[f].get(*next) {
                *next += 1;
                match mark[t.index()] {
                    Mark::New => {
                        mark[t.index()] = Mark::Active;
                        path.push((t, 0));
                    }
                    Mark::Active => {
                        let pos = path.iter().position(|(p, _)| *p == t).unwrap_or(0);
                        let names: Vec<&str> = path[pos..]
                            .iter()
                            .map(|(p, _)| loaded.sources.files[*p].path.as_str())
                            .collect();
                        let mut d = Diagnostic::new(
                            &codes::IMPORT_CYCLE,
                            f,
                            span,
                            format!(
                                "import cycle: {} → {}",
                                names.join(" → "),
                                loaded.sources.files[t].path
                            ),
                        )
                        .primary_label("this import closes the cycle");
                        for w in path[pos..].windows(2) {
                            if let Some(&(_, s)) =
                                imports[w[0].0].iter().find(|(x, _)| *x == w[1].0)
                            {
                                d = d.label(w[0].0, s, "imported here");
                            }
                        }
                        sink.push(
                            d.help("move the shared declarations into a file that both import"),
                        );
                    }
                    Mark::Done => {}
                }
            } else {
                mark[f.index()] = Mark::Done;
                path.pop();
            }
        }
    }
}
