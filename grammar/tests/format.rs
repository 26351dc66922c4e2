//! The formatter: idempotent, comment-preserving, meaning-preserving; its layout on tricky
//! inputs; no panic on any input.

mod common;

use common::{journey_files, repo};
use journey_grammar::{FormatError, format, parse};
use proptest::prelude::*;

// ---------------------------------------------------------------- helpers

/// The syntax tree of `text` as `Debug` text with every span erased.
fn tree_without_spans(text: &str) -> String {
    let parsed = parse(text);
    assert!(parsed.errors.is_empty(), "{:?}\n{text}", parsed.errors);
    let debug = format!("{:?}", parsed.file);
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(i) = rest.find("Span { start: ") {
        out.push_str(&rest[..i]);
        out.push_str("Span");
        let after = &rest[i..];
        let close = after.find('}').expect("end of span");
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The comments of `text`, found independently of the formatter's scanner: `//` to the end
/// of the line (not `///` doc lines) and `/* */`, outside string literals.
fn comment_texts(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Nesting: each entry is true for a string, false for an interpolation.
    let mut stack: Vec<bool> = Vec::new();
    while i < b.len() {
        let in_string = stack.last() == Some(&true);
        let c = b[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' | b'\n' => {
                    stack.pop();
                }
                b'{' => stack.push(false),
                _ => {}
            }
            i += 1;
            continue;
        }
        if c == b'"' {
            stack.push(true);
        } else if c == b'}' && !stack.is_empty() {
            stack.pop();
        } else if b[i..].starts_with(b"//") {
            let end = b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |n| i + n);
            let doc = b[i..].starts_with(b"///") && !b[i..].starts_with(b"////");
            if !doc && stack.is_empty() {
                out.push(text[i..end].trim_end().to_string());
            }
            i = end;
            continue;
        } else if b[i..].starts_with(b"/*") {
            let end = b[i + 2..]
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(b.len(), |n| i + 2 + n + 2);
            if stack.is_empty() {
                out.push(text[i..end].to_string());
            }
            i = end;
            continue;
        }
        i += 1;
    }
    out.sort();
    out
}

/// Formats `text` and checks every property; returns the formatted text.
fn check_format(text: &str, name: &str) -> String {
    let once = format(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let parsed = parse(&once);
    assert!(
        parsed.errors.is_empty(),
        "{name}: the formatted text does not parse: {:?}\n{once}",
        parsed.errors
    );
    assert_eq!(
        tree_without_spans(text),
        tree_without_spans(&once),
        "{name}: the formatted text means something else\n{once}"
    );
    assert_eq!(
        comment_texts(text),
        comment_texts(&once),
        "{name}: comments changed\n{once}"
    );
    let twice = format(&once).unwrap_or_else(|e| panic!("{name} (second pass): {e}"));
    assert_eq!(once, twice, "{name}: formatting is not idempotent");
    once
}

// ---------------------------------------------------------------- corpus

#[test]
fn every_example_is_formatted_and_keeps_its_meaning() {
    let mut files = Vec::new();
    journey_files(&repo().join("examples"), &mut files);
    assert!(files.len() > 20, "examples not found");
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let name = f.display().to_string();
        let formatted = check_format(&text, &name);
        if formatted != text {
            let line = formatted
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .map_or(0, |i| i + 1);
            panic!("{name}:{line} is not formatted: run `journey fmt examples`");
        }
    }
}

#[test]
fn every_test_case_that_parses_formats_idempotently() {
    let mut files = Vec::new();
    journey_files(&repo().join("tests/cases"), &mut files);
    assert!(!files.is_empty(), "test cases not found");
    let mut formatted = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let name = f.display().to_string();
        if parse(&text).errors.is_empty() {
            check_format(&text, &name);
            formatted += 1;
        } else {
            assert!(
                matches!(format(&text), Err(FormatError::Syntax { .. })),
                "{name}: a file with a syntax error must be refused"
            );
        }
    }
    assert!(formatted > 10);
}

// ---------------------------------------------------------------- layouts

/// Formats `input`, checks every property and compares with `expected` (both without the
/// newline that follows their opening quote).
fn layout(input: &str, expected: &str) {
    let input = input.strip_prefix('\n').unwrap_or(input);
    let expected = expected.strip_prefix('\n').unwrap_or(expected);
    let got = check_format(input, "input");
    assert_eq!(
        got, expected,
        "\n--- got:\n{got}\n--- expected:\n{expected}"
    );
    // The expected layout is a fixed point.
    assert_eq!(format(expected).expect("expected parses"), expected);
}

#[test]
fn declarations_are_separated_by_one_blank_line_imports_stay_together() {
    layout(
        r#"
import "a.journey"
import "b.journey"



import "c.journey"
event login
event churn {}
segment s   =   profile.age<26


"#,
        r#"
import "a.journey"
import "b.journey"

import "c.journey"

event login

event churn

segment s = profile.age < 26
"#,
    );
}

#[test]
fn fields_on_one_line_up_to_three_else_one_per_line() {
    layout(
        r#"
event e{a:string,b:number?,c:list<string>}
event f { a: string b: number c: bool d: date }
profile {
  /// Doc.
  age: number = 0,
}
"#,
        r#"
event e { a: string, b: number?, c: list<string> }

event f {
  a: string
  b: number
  c: bool
  d: date
}

profile {
  /// Doc.
  age: number = 0
}
"#,
    );
}

#[test]
fn comments_everywhere_are_kept() {
    layout(
        r#"
// header

/// The profile.
// between docs and keyword
profile { // after brace
  age: number // trailing
  // before name
  name: string /* inline */
  // last
}
// between
event e { /* inside */ }

// at the end
"#,
        r#"
// header

// between docs and keyword
/// The profile.
profile { // after brace
  age: number // trailing
  // before name
  name: string /* inline */
  // last
}

// between
event e { /* inside */
}

// at the end
"#,
    );
}

#[test]
fn comments_inside_expressions_move_before_the_line() {
    layout(
        r#"
segment s = profile.age < 26 // young
  and /* families */ profile.children > 0
"#,
        r#"
// young
/* families */
segment s = profile.age < 26 and profile.children > 0
"#,
    );
}

#[test]
fn doc_comments_keep_their_text() {
    layout(
        r#"
///Tight.
///
///   Indented.
segment s = true
"#,
        r#"
/// Tight.
///
///   Indented.
segment s = true
"#,
    );
}

#[test]
fn nested_blocks_blank_lines_and_else_if() {
    layout(
        r#"
journey j {
entry on e


  if a {send sms t} else if b {

 send sms u
} else {exit}
  wait for e2 within 3 days else {   }
  l: critical if not (a or b) { wait until monday at 09:00 }
  else { if c { exit } }
}
"#,
        r#"
journey j {
  entry on e

  if a {
    send sms t
  } else if b {
    send sms u
  } else { exit }
  wait for e2 within 3 days else {}
  l: critical if not (a or b) {
    wait until monday at 09:00
  } else {
    if c { exit }
  }
}
"#,
    );
}

#[test]
fn scenarios_and_experiments() {
    layout(
        r#"
journey j { entry on e
 scenario for jeune { send sms a } // young
 // families
 scenario for famille { send sms b } otherwise { send email c }
 experiment x { holdout 10%
 variant a 45% { send sms a } variant b 45% {} } }
"#,
        r#"
journey j {
  entry on e
  scenario for jeune {
    send sms a
  } // young
  // families
  scenario for famille {
    send sms b
  }
  otherwise {
    send email c
  }
  experiment x {
    holdout 10%
    variant a 45% {
      send sms a
    }
    variant b 45% {}
  }
}
"#,
    );
}

#[test]
fn timelines_put_steps_under_their_offset() {
    layout(
        r#"
journey j { entry on e
 timeline { day 0: send sms a
 emit x week 1 at 10:00: { send email b
 // end of week 1
 }

 month   6: {}
 year 1: if a { exit } } }
"#,
        r#"
journey j {
  entry on e
  timeline {
    day 0:
      send sms a
      emit x
    week 1 at 10:00:
      send email b
    // end of week 1

    month 6: {}
    year 1:
      if a { exit }
  }
}
"#,
    );
}

#[test]
fn long_sends_break_their_arguments_or_their_offer() {
    layout(
        r#"
journey j { entry on e
 send call_center appel { queue: "accueil", urgency: 2, reason: "Appel de bienvenue à J+7, avec un motif assez long" }
 send email offre_complementaire { utm_campaign: "offre_m7" } with best offer from forfait_illimite, pack_famille
 send sms a {} with offer o
 emit x {}
 emit y { a: 1, // one
 b: 2 } }
"#,
        r#"
journey j {
  entry on e
  send call_center appel {
    queue: "accueil",
    urgency: 2,
    reason: "Appel de bienvenue à J+7, avec un motif assez long",
  }
  send email offre_complementaire { utm_campaign: "offre_m7" }
    with best offer from forfait_illimite, pack_famille
  send sms a {} with offer o
  emit x
  emit y {
    a: 1, // one
    b: 2,
  }
}
"#,
    );
}

#[test]
fn long_expressions_stay_on_one_line_with_minimal_parentheses() {
    layout(
        r#"
segment s = ((a)) or (b and c) or d and (e or f) or not g == h or (not g) == h or -(x + y) * z - (p - q) - r or count(usage where usage.roaming over last   90 days) >= 3 and x not  in ["a","b",] and len(profile.first_name) > 1.50
"#,
        r#"
segment s = (a) or (b and c) or d and (e or f) or not g == h or (not g) == h or -(x + y) * z - (p - q) - r or count(usage where usage.roaming over last 90 days) >= 3 and x not in ["a", "b"] and len(profile.first_name) > 1.50
"#,
    );
}

#[test]
fn strings_keep_their_escapes_and_interpolations() {
    layout(
        r#"
template t for email {
  subject:   "Bonjour {profile.first_name} \"{ len("a}b") }\" \{x\} \\",
  text: "a\nb\tc // not a comment /* nor this */"
}
"#,
        r#"
template t for email {
  subject: "Bonjour {profile.first_name} \"{ len("a}b") }\" \{x\} \\"
  text: "a\nb\tc // not a comment /* nor this */"
}
"#,
    );
}

#[test]
fn empty_blocks() {
    layout(
        r#"
profile {}
event e {
}
channel c uses "x" {}
template t for c {}
offer o {}
policy p {}
journey j {}
test "t" {}
"#,
        r#"
profile {}

event e

channel c uses "x" {}

template t for c {}

offer o {}

policy p {}

journey j {}

test "t" {}
"#,
    );
}

#[test]
fn channels_offers_and_policies() {
    layout(
        r#"
channel sms uses "sms" {
  requires profile.optin_sms
  config { sender: "X" }
  params { short_link: string? }
  config { api_key: secret("K"), url: env("U") }
}
offer o { title: "T" eligible when jeune
 priority -5 valid until 2029-01-01T00:00 valid from 2027-01-01 }
policy p { at most 1 message per day at most 3 sms per 7   days
 quiet hours 21:00 to 8:00 local on sms, push quiet hours 1:00 to 2:00
 priority a, b exempt c }
"#,
        r#"
channel sms uses "sms" {
  config {
    sender: "X"
    api_key: secret("K")
    url: env("U")
  }
  params { short_link: string? }
  requires profile.optin_sms
}

offer o {
  title: "T"
  eligible when jeune
  priority -5
  valid until 2029-01-01T00:00
  valid from 2027-01-01
}

policy p {
  at most 1 message per day
  at most 3 sms per 7 days
  quiet hours 21:00 to 8:00 local on sms, push
  quiet hours 1:00 to 2:00
  priority a, b
  exempt c
}
"#,
    );
}

#[test]
fn journey_clauses_keep_their_order() {
    layout(
        r#"
journey j {
  send sms a
  entry on e where e.x>1
  goal g on purchase where purchase.amount > 0 within 30 days after l
  reentry after   7 days
  exit when profile.churned
  entry yearly on profile.birthday at 9:00
  entry monthly on day 1 entry weekly on monday at 08:00 entry daily at 07:00 entry by api entry on leaving s
}
"#,
        r#"
journey j {
  send sms a
  entry on e where e.x > 1
  goal g on purchase where purchase.amount > 0 within 30 days after l
  reentry after 7 days
  exit when profile.churned
  entry yearly on profile.birthday at 9:00
  entry monthly on day 1
  entry weekly on monday at 08:00
  entry daily at 07:00
  entry by api
  entry on leaving s
}
"#,
    );
}

#[test]
fn tests_pack_their_inputs() {
    layout(
        r#"
test "t" {
 given customer "C-1"
 given profile { customer_ref: "C-100234", first_name: "Léa", last_name: "Martin", age: 22, plan: "mobile_5g", birthday: 2004-09-18 }
 at 2027-01-04  10:15 event signup {}
 at 2027-01-04 10:15 set profile.x = 1 at 2027-01-05 09:00 enter j run until 2027-02-01 00:00
 expect send sms t at 2027-01-04 10:15 expect no send email template "x" expect not reached j.a expect goal j.g expect no goal g expect exit j expect scenario otherwise in j expect variant x.holdout expect emit e at 2027-01-04 10:15 expect entered j expect not entered k
}
"#,
        r#"
test "t" {
  given customer "C-1"
  given profile {
    customer_ref: "C-100234", first_name: "Léa", last_name: "Martin", age: 22,
    plan: "mobile_5g", birthday: 2004-09-18
  }
  at 2027-01-04 10:15 event signup
  at 2027-01-04 10:15 set profile.x = 1
  at 2027-01-05 09:00 enter j
  run until 2027-02-01 00:00
  expect send sms t at 2027-01-04 10:15
  expect no send email template "x"
  expect not reached j.a
  expect goal j.g
  expect no goal g
  expect exit j
  expect scenario otherwise in j
  expect variant x.holdout
  expect emit e at 2027-01-04 10:15
  expect entered j
  expect not entered k
}
"#,
    );
}

#[test]
fn windows_line_endings_and_tabs_are_normalised() {
    layout(
        "event e {\r\n\ta: string // c\r\n}\r\n",
        "event e {\n  a: string // c\n}\n",
    );
}

#[test]
fn only_comments_and_nothing() {
    assert_eq!(format("").expect("empty"), "");
    assert_eq!(format("\n\n  \n").expect("blank"), "");
    layout("// a\n\n\n/* b */\n", "// a\n\n/* b */\n");
}

#[test]
fn tricky_inputs_keep_their_meaning_and_comments() {
    let inputs = [
        "segment s = a == not b",
        "segment s = not not a and - -b > 1 or -(3) < (-3) or not (a) in [1]",
        "segment s = (a == b) == (c == d) and a - (b - c) == a - b - c and a / (b * c) > 1",
        "segment s = (not a) and (not b or c) and not (a and b)",
        "segment s = a not in (not b)",
        "segment s = [] == [[1, (2)], 2 days, 2027-01-01, 2027-01-01 09:00, true, \"x\"]",
        "segment s = last(e.x over last 1.5 hours) + sum(e.y where (e.z)) * min(e.w)",
        "journey j { entry on e\n if a { } // c\n else { } // d\n}",
        "journey j { entry on e\n if a { exit } /* between */ else /* x */ if b /* y */ { exit } }",
        "journey j { entry on e\n send sms t { } // c\n send sms u { // c\n } with offer o /* tail */ }",
        "journey j { entry on e\n send sms t { a: 1 } /* c */ with best offer from x, y\n}",
        "journey j { entry on e\n scenario for a { exit }\n\n // between arms\n\n scenario for b { exit } // after b\n otherwise { exit } }",
        "journey j { entry on e\n l: timeline { day 1: /* c */ send sms a day 2 at 9:00: // c2\n { send sms b } } }",
        "journey j { entry on e\n experiment x { // c\n variant a 50% { exit } // c2\n holdout 50% // c3\n } }",
        "journey j { entry on e\n wait until 09:00 wait until friday wait for e where e.x within 2 days // c\n}",
        "profile { a: list<list<string>?>? = [] b: number = -1 // c\n}",
        "channel c uses \"x\" { // c1\n config { // c2\n } requires a // c3\n params {} }",
        "offer o { valid valid from 2027-01-01 // c\n title: \"x\", }",
        "test \"t\" { given profile { a: 1, // c\n b: 2 } at 2027-01-01 09:00 event e { } // c2\n}",
        "event e { a: string, /* c */ }",
        "/// d\n// c\n/// e\nevent e",
        "import \"a\" /* c */ import \"b\"",
    ];
    for (i, input) in inputs.iter().enumerate() {
        check_format(input, &format!("input {i}: {input}"));
    }
}

// ---------------------------------------------------------------- refusals

#[test]
fn a_syntax_error_is_refused_with_its_position() {
    let err = format("event a\n\njourney j {\n  sned sms a\n}\n").expect_err("syntax error");
    let FormatError::Syntax { line, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*line, 4);
    assert!(err.to_string().starts_with("4:"), "{err}");
}

#[test]
fn what_the_tree_keeps_once_is_refused() {
    let err = format("offer o { priority 1 priority 2 }").expect_err("repeated");
    assert!(
        matches!(err, FormatError::Unsupported { line: 1, .. }),
        "{err:?}"
    );
    let err = format("channel c uses \"x\" { requires a requires b }").expect_err("repeated");
    assert!(err.to_string().contains("requires"), "{err}");
}

// ---------------------------------------------------------------- robustness

fn example_texts() -> Vec<String> {
    let mut files = Vec::new();
    journey_files(&repo().join("examples"), &mut files);
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("read"))
        .collect()
}

const SOUP: &[&str] = &[
    "journey",
    "j",
    "{",
    "}",
    "entry",
    "on",
    "e",
    "send",
    "sms",
    "\"t {x}\"",
    "wait",
    "3 days",
    "if",
    "else",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "=",
    "==",
    "and",
    "not",
    "in",
    "-",
    "+",
    "*",
    "/",
    "// c\n",
    "/* c */",
    "/// d\n",
    "\n",
    "\n\n",
    "timeline",
    "day 1",
    "at",
    "09:00",
    "scenario",
    "for",
    "otherwise",
    "experiment",
    "variant",
    "50%",
    "holdout",
    "event",
    "profile",
    "segment",
    "channel",
    "uses",
    "config",
    "params",
    "requires",
    "offer",
    "valid",
    "from",
    "2027-01-01",
    "priority",
    "policy",
    "test",
    "expect",
    "given",
    "\"",
    "\\",
    "exit",
    "emit",
    "critical",
    "l:",
    "with",
    "best",
    "template",
    "set",
    "profile.x",
    "count(e)",
    "{{",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(SOUP), 0..60)) {
        let text = tokens.join(" ");
        if let Ok(once) = format(&text) {
            // Whatever parses formats to a fixed point.
            prop_assert_eq!(format(&once).ok(), Some(once));
        }
    }

    #[test]
    fn any_text_never_panics(text in "\\PC{0,200}") {
        let _ = format(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A comment inserted anywhere in a formatted example is kept, and the result is still
    /// a fixed point of the formatter with the same meaning.
    #[test]
    fn a_comment_anywhere_is_kept(
        file in 0usize..64,
        at in 0.0f64..1.0,
        line_comment in any::<bool>(),
    ) {
        let files = example_texts();
        let text = &files[file % files.len()];
        let mut pos = (text.len() as f64 * at) as usize;
        while !text.is_char_boundary(pos) {
            pos -= 1;
        }
        let comment = if line_comment { " // inserted\n" } else { " /* inserted */ " };
        let edited = format!("{}{comment}{}", &text[..pos], &text[pos..]);
        if parse(&edited).errors.is_empty() {
            check_format(&edited, "edited example");
        }
    }
}
