//! `Reparser` (the language server's incremental parse) must give exactly what `parse` gives:
//! on every example and compiler case, and along random edit sequences where one reparser
//! sees every version, so reused declarations are moved to new offsets.

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;

use common::{journey_files, repo};
use journey_grammar::{Reparser, parse};
use proptest::prelude::*;

/// Every example and compiler-case file with its text, read once per test binary.
fn corpus() -> &'static [(PathBuf, String)] {
    static CORPUS: LazyLock<Vec<(PathBuf, String)>> = LazyLock::new(|| {
        let repo = repo();
        let mut files = Vec::new();
        journey_files(&repo.join("examples"), &mut files);
        journey_files(&repo.join("tests/cases"), &mut files);
        assert!(files.len() > 100, "corpus not found: {}", files.len());
        files
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).expect("readable");
                (p, text)
            })
            .collect()
    });
    &CORPUS
}

/// The whole result, spans included.
fn render(text: &str, reparser: Option<&mut Reparser>) -> String {
    let parsed = match reparser {
        Some(r) => r.parse(text).clone(),
        None => parse(text),
    };
    format!("{parsed:#?}")
}

#[test]
fn same_result_as_parse_on_every_file() {
    for (path, text) in corpus() {
        let mut r = Reparser::new();
        assert_eq!(
            render(text, Some(&mut r)),
            render(text, None),
            "{}",
            path.display()
        );
        // The same text again: the latest result as it is.
        assert_eq!(
            render(text, Some(&mut r)),
            render(text, None),
            "{} (cached)",
            path.display()
        );
    }
}

#[test]
fn typing_above_a_declaration_moves_its_cached_tree() {
    let text = "segment a = profile.x > 1\n\nevent e { n: number }\n";
    let mut r = Reparser::new();
    r.parse(text);
    let edited = format!("// a comment\n{text}");
    let moved = r.parse(&edited).clone();
    let fresh = parse(&edited);
    assert_eq!(format!("{moved:?}"), format!("{fresh:?}"));
    let spans: Vec<u32> = moved.file.items.iter().map(|i| i.span.start).collect();
    assert_eq!(spans, vec![13, 40]);
    // Deleting the line moves them back towards the start.
    let back = r.parse(text).clone();
    assert_eq!(format!("{back:?}"), format!("{:?}", parse(text)));
    let spans: Vec<u32> = back.file.items.iter().map(|i| i.span.start).collect();
    assert_eq!(spans, vec![0, 27]);
}

#[test]
fn a_wrong_cut_is_healed_by_parsing_the_whole_file() {
    // A line inside a block that starts in column 0 with a declaration keyword: the cut
    // there is wrong, the file is valid.
    let text = "profile {\n  âge: number\nevent: string\n}\n";
    let fresh = parse(text);
    assert!(fresh.errors.is_empty(), "{:?}", fresh.errors);
    assert_eq!(fresh.file.items.len(), 1);
    let mut r = Reparser::new();
    let again = r.parse(text).clone();
    assert_eq!(format!("{again:?}"), format!("{fresh:?}"));
    // The wrong cut stays while the user types in the declarations after it: the rest of
    // the file is parsed again as a whole, but the trees kept aside for the unchanged
    // declarations are reused and moved, and only the edited one is parsed alone.
    let tail = "segment s = profile.âge > 1\nevent e { n: number }\n";
    let mut text = format!("event first\n{text}{tail}");
    r.parse(&text);
    for typed in ["2", "3", "\n"] {
        let at = text.find("> 1").expect("segment") + 3;
        text.insert_str(at, typed);
        let got = r.parse(&text).clone();
        assert_eq!(format!("{got:?}"), format!("{:?}", parse(&text)), "{text}");
        let rest = text.len() - text.find("profile").expect("profile");
        let segment = text.find("event e").expect("event") - text.find("segment").expect("s");
        assert_eq!(r.bytes_parsed(), rest + segment, "{text}");
    }
}

#[test]
fn an_indented_doc_comment_stays_with_its_declaration() {
    let text = "segment a = profile.x > 1\n  /// The journey.\njourney j {\n  entry on e\n}\n";
    let fresh = parse(text);
    assert!(fresh.errors.is_empty(), "{:?}", fresh.errors);
    let mut r = Reparser::new();
    assert_eq!(format!("{:?}", r.parse(text)), format!("{fresh:?}"));
    // Typing in the journey parses the journey with its doc comment, nothing else.
    let edited = text.replace("entry on e", "entry on ex");
    assert_eq!(
        format!("{:?}", r.parse(&edited)),
        format!("{:?}", parse(&edited))
    );
    let journey = edited.len() - edited.find("  /// The journey.").expect("doc");
    assert_eq!(r.bytes_parsed(), journey);
}

/// The first line where two renderings differ, with a few lines around it from each.
fn first_difference(got: &str, want: &str) -> String {
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    let at = g.iter().zip(&w).take_while(|(a, b)| a == b).count();
    let around = |v: &[&str]| v[at.saturating_sub(12)..(at + 4).min(v.len())].join("\n");
    format!("reparser:\n{}\nparse:\n{}", around(&g), around(&w))
}

/// Edits a user makes while typing: fragments of declarations, brackets, quotes, new lines.
const FRAGMENTS: &[&str] = &[
    "\n",
    "{",
    "}",
    "\"",
    "(",
    ")",
    " ",
    "x",
    "é",
    "\nevent ",
    "\nsegment s = ",
    "\njourney j {\n  entry on e\n}\n",
    "send sms \"hi\"\n",
    "wait 2 days\n",
    "/// doc\n",
    "  /// doc\n",
    "// note\n",
    "\ntest \"t\" {\n",
    "profile.âge > 3",
];

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, usize),
    Delete(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0..FRAGMENTS.len()).prop_map(|(at, f)| Edit::Insert(at, f)),
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Edit::Delete(at, n)),
    ]
}

fn boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &mut String, e: &Edit) {
    match *e {
        Edit::Insert(at, f) => {
            let at = boundary(text, at);
            text.insert_str(at, FRAGMENTS[f]);
        }
        Edit::Delete(at, n) => {
            let start = boundary(text, at);
            let end = boundary(text, start.saturating_add(n).min(text.len()));
            text.replace_range(start..end.max(start), "");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn same_result_as_parse_along_random_edits(
        file in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..12),
    ) {
        let corpus = corpus();
        let (_, text) = &corpus[file.index(corpus.len())];
        let mut text = text.clone();
        let mut r = Reparser::new();
        r.parse(&text);
        for e in &edits {
            apply(&mut text, e);
            let (got, want) = (render(&text, Some(&mut r)), render(&text, None));
            prop_assert!(got == want, "after {:?}: {}\n--- text:\n{}", e, first_difference(&got, &want), text);
        }
    }
}
