//! Parser behaviour that the snapshot cases do not pin down directly.

use journey_grammar::ast::{ExprKind, ItemKind, StmtKind};
use journey_grammar::parse;

fn journey_body(text: &str) -> Vec<journey_grammar::ast::Stmt> {
    let p = parse(text);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    match &p.file.items[0].kind {
        ItemKind::Journey(j) => j.body.clone(),
        other => panic!("not a journey: {other:?}"),
    }
}

#[test]
fn keywords_need_a_word_boundary() {
    // `sendsms` is not `send sms`: it is not a step at all.
    let p = parse("journey j { entry on e\n sendsms a b }");
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    assert_eq!(p.errors[0].help.as_deref(), None);
    let p = parse("journey j { entry on e\n sned sms a }");
    assert_eq!(p.errors[0].help.as_deref(), Some("did you mean `send`?"));
}

#[test]
fn every_broken_declaration_is_reported_and_the_rest_kept() {
    let text = "event a\nsegment s = profile.age <\nevent b\nsegment t = (\nevent c\njourney j { entry on a\n  wait 3 }\nevent d\n";
    let p = parse(text);
    assert_eq!(p.errors.len(), 3, "{:?}", p.errors);
    let names: Vec<String> = p
        .file
        .items
        .iter()
        .filter_map(|i| match &i.kind {
            ItemKind::Event(e) => Some(e.name.text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
    // The incomplete segment is reported at its last token, not at the next declaration.
    assert_eq!(&text[p.errors[0].span.range()], "");
    assert_eq!(
        p.errors[0].span.start as usize,
        text.find('<').expect("<") + 1
    );
}

#[test]
fn a_doc_comment_after_a_default_is_not_a_division() {
    let p = parse("profile {\n  n: number = 0\n  /// doc\n  m: string\n}");
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let ItemKind::Profile(profile) = &p.file.items[0].kind else {
        panic!("profile")
    };
    assert_eq!(profile.fields.len(), 2);
    assert_eq!(profile.fields[1].docs.as_deref(), Some("doc"));
}

#[test]
fn statement_spans_end_at_their_last_token() {
    let text = "journey j {\n  entry on e\n  send sms a   \n  wait 3 days\n}";
    let body = journey_body(text);
    assert_eq!(&text[body[0].span.range()], "send sms a");
    assert_eq!(&text[body[1].span.range()], "wait 3 days");
}

#[test]
fn precedence_and_calls() {
    let p = parse("segment s = not a or b and len(profile.x) + 1 * 2 > 3");
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let ItemKind::Segment(s) = &p.file.items[0].kind else {
        panic!("segment")
    };
    // `or` is the loosest operator, `not` binds tighter than `or`.
    let ExprKind::Binary(op, lhs, _) = &s.condition.kind else {
        panic!("binary")
    };
    assert_eq!(op.symbol(), "or");
    assert!(matches!(lhs.kind, ExprKind::Unary(..)));
}

#[test]
fn expect_send_without_message_then_at() {
    let p = parse(
        "test \"t\" {\n  expect send sms at 2027-01-04 09:00\n  expect no send email\n  run until 2027-02-01 00:00\n}",
    );
    assert!(p.errors.is_empty(), "{:?}", p.errors);
}

#[test]
fn timeline_entries_take_several_steps() {
    let body = journey_body(
        "journey j { entry on e\n timeline {\n week 1: send sms a\n   emit x\n month 6 at 10:00: send email b\n } }",
    );
    let StmtKind::Timeline(entries) = &body[0].kind else {
        panic!("timeline")
    };
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].body.len(), 2);
}
