//! Handler tests on fixture text with a cursor marker (`$0`): each feature, including
//! accented names and UTF-16 columns, called directly on a state snapshot.

use journey_lsp::handlers::{
    code_action, completion, definition, folding, formatting, hover, references, rename,
    semantic_tokens, symbols,
};
use journey_lsp::testing::Fixture;
use tower_lsp_server::ls_types::{
    CodeActionOrCommand, DiagnosticSeverity, DocumentSymbol, HoverContents, NumberOrString,
    Position, PrepareRenameResponse, Range,
};

const SCHEMA: &str = r#"/// What we know about a customer.
profile {
  first_name: string
  age: number
  /// Consent to text messages.
  optin_sms: bool = false
  email: string?
}

/// A new line is activated.
event signup { plan: string, canal: string }
event login
event purchase { sku: string, amount: number }
event résiliation
"#;

const CHANNELS: &str = r#"import "schema.journey"

channel sms uses "sms" {
  config { sender: "TELCO" }
  params { short_link: string? }
  requires profile.optin_sms
}

channel email uses "email" {
  params { utm_campaign: string, période: string? }
  requires is_set(profile.email)
}

template bienvenue_sms for sms {
  text: "Salut {profile.first_name} !"
}

template bienvenue for email {
  subject: "Bienvenue"
  text: "Votre forfait {signup.plan}"
}

offer option_data {
  title: "10 Go en plus"
  price: "5 €/mois"
  priority 20
}
"#;

const SEGMENTS: &str = r#"import "schema.journey"

/// « Jeune » : moins de 26 ans.
segment jeune = profile.age < 26
segment fidèle_été = count(purchase over last 90 days) > 2
"#;

fn project(journey: &str) -> Fixture {
    Fixture::new(&[
        (
            "journey.toml",
            "[project]\nname = \"t\"\ntimezone = \"Europe/Paris\"\n",
        ),
        ("schema.journey", SCHEMA),
        ("channels.journey", CHANNELS),
        ("segments.journey", SEGMENTS),
        ("main.journey", journey),
    ])
}

fn main_journey(body: &str) -> String {
    format!(
        "import \"schema.journey\"\nimport \"channels.journey\"\nimport \"segments.journey\"\n\n\
         journey accueil {{\n  entry on signup\n  exit on résiliation\n{body}\n}}\n"
    )
}

fn labels(fx: &Fixture) -> Vec<String> {
    let (snap, pos) = fx.cursor();
    completion::completion(&snap, pos)
        .into_iter()
        .map(|i| i.label)
        .collect()
}

fn has(labels: &[String], wanted: &[&str]) {
    for w in wanted {
        assert!(
            labels.iter().any(|l| l == w),
            "missing `{w}` in completions {labels:?}"
        );
    }
}

fn lacks(labels: &[String], unwanted: &[&str]) {
    for w in unwanted {
        assert!(
            !labels.iter().any(|l| l == w),
            "unexpected `{w}` in completions {labels:?}"
        );
    }
}

fn hover_text(fx: &Fixture) -> String {
    let (snap, pos) = fx.cursor();
    match hover::hover(&snap, pos).map(|h| h.contents) {
        Some(HoverContents::Markup(m)) => m.value,
        other => panic!("no markdown hover: {other:?}"),
    }
}

// ---------------------------------------------------------------- diagnostics

#[test]
fn diagnostics_have_codes_links_and_related_information() {
    let fx = project(&main_journey(
        "  send sms bienvenue_sms\n  wait for logn within 3 days",
    ));
    let main = fx.uri("main.journey");
    let p = fx
        .published
        .iter()
        .rev()
        .find(|p| p.uri == main)
        .expect("main.journey published");
    let d = p
        .diagnostics
        .iter()
        .find(|d| d.code == Some(NumberOrString::String("E0201".into())))
        .expect("an unknown-name diagnostic");
    assert_eq!(d.source.as_deref(), Some("journey"));
    assert_eq!(d.severity, Some(DiagnosticSeverity::ERROR));
    assert!(d.message.contains("unknown event `logn`"), "{}", d.message);
    assert!(
        d.message.contains("help: did you mean `login`?"),
        "{}",
        d.message
    );
    let href = d.code_description.as_ref().expect("a link").href.as_str();
    assert!(href.ends_with("language.md#e0201-unknown-name"), "{href}");
    // `logn` on line 8 (0-based), after `  wait for `.
    assert_eq!(d.range.start, Position::new(8, 11));
    assert_eq!(d.range.end, Position::new(8, 15));
}

#[test]
fn duplicate_declarations_point_at_the_other_file() {
    let fx = project("import \"schema.journey\"\nevent login\n");
    // The files are compiled in path order: `main.journey` declares `login` first.
    let schema = fx.uri("schema.journey");
    let p = fx
        .published
        .iter()
        .rev()
        .find(|p| p.uri == schema)
        .expect("published");
    let d = p
        .diagnostics
        .iter()
        .find(|d| d.code == Some(NumberOrString::String("E0204".into())))
        .expect("a duplicate");
    assert_eq!(d.range.start, Position::new(11, 6));
    let related = d.related_information.as_ref().expect("related information");
    assert_eq!(related[0].location.uri, fx.uri("main.journey"));
    assert_eq!(related[0].message, "first declared here");
    assert_eq!(related[0].location.range.start, Position::new(1, 6));
}

#[test]
fn a_change_in_a_shared_file_rechecks_its_importers() {
    // No manifest: each file is compiled alone with what it imports.
    let mut fx = Fixture::new(&[
        ("shared.journey", "event login\n"),
        (
            "a.journey",
            "import \"shared.journey\"\nsegment s = count(login over last 3 days) > 0\n",
        ),
    ]);
    let a = fx.uri("a.journey");
    let shared = fx.uri("shared.journey");
    let clean = |fx: &Fixture| {
        fx.state
            .snapshot(&a)
            .map(|s| s.current.compilation().error_count())
    };
    assert_eq!(clean(&fx), Some(0));
    let out = fx.state.change(
        &shared,
        2,
        vec![tower_lsp_server::ls_types::TextDocumentContentChangeEvent {
            range: None,
            range_length: None,
            text: "event logout\n".into(),
        }],
    );
    let for_a = out
        .iter()
        .find(|p| p.uri == a)
        .expect("a.journey re-checked");
    assert!(
        for_a
            .diagnostics
            .iter()
            .any(|d| d.message.contains("unknown event `login`"))
    );
    assert_eq!(clean(&fx), Some(1));
}

// ---------------------------------------------------------------- hover

#[test]
fn hover_on_an_attribute_shows_type_and_docs() {
    let fx = project(&main_journey("  if profile.optin$0_sms { exit }"));
    let text = hover_text(&fx);
    assert!(text.contains("profile.optin_sms: bool"), "{text}");
    assert!(text.contains("profile attribute"), "{text}");
    assert!(text.contains("Consent to text messages."), "{text}");
}

#[test]
fn hover_on_an_accented_segment() {
    let fx = project(&main_journey(
        "  scenario for fidèle_é$0té { exit }\n  otherwise { exit }",
    ));
    let text = hover_text(&fx);
    assert!(text.contains("segment fidèle_été: bool"), "{text}");
    assert!(
        text.contains("count(purchase over last 90 days) > 2"),
        "{text}"
    );
    // The range is the whole name, in UTF-16 columns (`é` is one unit).
    let (snap, pos) = fx.cursor();
    let range = hover::hover(&snap, pos)
        .and_then(|h| h.range)
        .expect("a range");
    assert_eq!(
        range,
        Range::new(Position::new(7, 15), Position::new(7, 25))
    );
}

#[test]
fn hover_on_an_event_lists_its_properties_and_docs() {
    let fx = project(&main_journey("  wait for sig$0nup within 1 day"));
    let text = hover_text(&fx);
    assert!(
        text.contains("event signup { plan: string, canal: string }"),
        "{text}"
    );
    assert!(text.contains("A new line is activated."), "{text}");
    assert!(text.contains("`schema.journey`"), "{text}");
}

#[test]
fn hover_on_a_duration_says_what_it_means() {
    let fx = project(&main_journey("  wait 7 d$0ays\n  exit"));
    let text = hover_text(&fx);
    assert!(
        text.contains("exactly 7 days = 168 hours (604,800 seconds)"),
        "{text}"
    );
    assert!(text.contains("daylight-saving"), "{text}");
}

#[test]
fn hover_on_a_calendar_wait_and_timeline_offset() {
    let fx = project(&main_journey("  wait 2 mon$0ths"));
    let text = hover_text(&fx);
    assert!(
        text.contains("**calendar offset**: 2 months later"),
        "{text}"
    );
    assert!(text.contains("clamped"), "{text}");

    let fx = project(&main_journey(
        "  timeline {\n    month$0 6 at 10:00: send sms bienvenue_sms\n  }",
    ));
    let text = hover_text(&fx);
    assert!(
        text.contains("6 calendar months after the entry, at 10:00 local time"),
        "{text}"
    );

    let fx = project(&main_journey(
        "  timeline {\n    week 1$0: send sms bienvenue_sms\n  }",
    ));
    let text = hover_text(&fx);
    assert!(
        text.contains("1 week (7 calendar days) after the entry"),
        "{text}"
    );
}

#[test]
fn hover_keeps_working_while_the_text_is_broken() {
    // The last good analysis answers for the part of the file that did not change.
    let mut fx = project(&main_journey("  send sms bienvenue_sms\n  wait 3 days"));
    let main = fx.uri("main.journey");
    let text = fx.state.text(&main).expect("open").to_string();
    // Break the journey: an unfinished `send` at its end.
    let at = text.rfind("  wait").expect("wait");
    let broken = format!("{}  send \n{}", &text[..at], &text[at..]);
    fx.state.change(
        &main,
        2,
        vec![tower_lsp_server::ls_types::TextDocumentContentChangeEvent {
            range: None,
            range_length: None,
            text: broken.clone(),
        }],
    );
    let snap = fx.state.snapshot(&main).expect("snapshot");
    assert!(!snap.syntax_ok());
    let off = broken.find("bienvenue_sms").expect("name") as u32 + 3;
    let lines = snap.current.lines().expect("lines");
    let h = hover::hover(&snap, lines.position(off)).expect("hover from the last good analysis");
    let HoverContents::Markup(m) = h.contents else {
        panic!("markdown")
    };
    assert!(
        m.value.contains("template bienvenue_sms for sms"),
        "{}",
        m.value
    );
}

// ---------------------------------------------------------------- completion

#[test]
fn completion_after_send_offers_channels() {
    let fx = project(&main_journey("  send $0"));
    let l = labels(&fx);
    has(&l, &["sms", "email"]);
    lacks(&l, &["bienvenue", "signup"]);
}

#[test]
fn completion_after_send_channel_offers_its_templates() {
    let fx = project(&main_journey("  send email $0"));
    let l = labels(&fx);
    has(&l, &["bienvenue", "template"]);
    lacks(&l, &["bienvenue_sms"]);
}

#[test]
fn completion_in_send_params_offers_the_channel_parameters() {
    let fx = project(&main_journey(
        "  send email bienvenue { utm_campaign: \"x\", $0 }",
    ));
    let l = labels(&fx);
    has(&l, &["période"]);
    lacks(&l, &["utm_campaign", "short_link"]);
}

#[test]
fn completion_of_a_param_value_is_an_expression() {
    let fx = project(&main_journey("  send email bienvenue { utm_campaign: $0 }"));
    let l = labels(&fx);
    has(&l, &["profile", "offer", "signup", "jeune", "len"]);
}

#[test]
fn completion_after_profile_dot_offers_attributes() {
    let fx = project(&main_journey("  if profile.$0"));
    let l = labels(&fx);
    has(&l, &["first_name", "age", "optin_sms", "email"]);
    lacks(&l, &["plan"]);
}

#[test]
fn completion_after_event_dot_offers_its_properties() {
    let fx = project(&main_journey("  if signup.$0"));
    let l = labels(&fx);
    has(&l, &["plan", "canal"]);
    lacks(&l, &["sku", "age"]);
}

#[test]
fn completion_in_a_condition_offers_segments_and_events_in_scope() {
    let fx = project(&main_journey("  wait for purchase\n  if $0"));
    let l = labels(&fx);
    // The entry event and the event waited for are in scope; login is not.
    has(
        &l,
        &[
            "signup",
            "purchase",
            "jeune",
            "fidèle_été",
            "profile",
            "count",
            "is_set",
        ],
    );
    lacks(&l, &["login", "send"]);
}

#[test]
fn completion_at_statement_start_offers_keywords() {
    let fx = project(&main_journey("  $0"));
    let l = labels(&fx);
    has(
        &l,
        &[
            "send",
            "wait for",
            "scenario for",
            "timeline",
            "goal",
            "exit on",
        ],
    );
    let fx = project(&main_journey("  if jeune {\n    $0\n  }"));
    let l = labels(&fx);
    has(&l, &["send", "emit"]);
    lacks(&l, &["goal", "entry"]);
}

#[test]
fn completion_of_clauses() {
    has(
        &labels(&project(&main_journey("  exit on $0"))),
        &["login", "purchase"],
    );
    has(
        &labels(&project(&main_journey("  scenario for $0"))),
        &["jeune", "fidèle_été"],
    );
    has(
        &labels(&project(&main_journey(
            "  send sms bienvenue_sms with offer $0",
        ))),
        &["option_data"],
    );
    has(
        &labels(&project(&main_journey("  send sms bienvenue_sms $0"))),
        &["with offer"],
    );
    has(
        &labels(&project(&main_journey("  timeline {\n    $0\n  }"))),
        &["month", "week", "send"],
    );
    has(
        &labels(&project(&main_journey("  segment_x: critical send $0"))),
        &["sms"],
    );
    let l = labels(&project(&main_journey("  entry on $0")));
    has(&l, &["signup", "entering"]);
    let l = labels(&project(
        "import \"segments.journey\"\njourney j {\n  entry on entering $0\n}\n",
    ));
    has(&l, &["jeune"]);
}

#[test]
fn completion_at_top_level_offers_declarations() {
    let fx = project("segment a = true\n$0");
    has(&labels(&fx), &["journey", "segment", "event", "import"]);
}

#[test]
fn completion_in_aggregates_and_interpolations() {
    let fx = project("import \"schema.journey\"\nsegment s = count($0");
    let l = labels(&fx);
    has(&l, &["login", "purchase"]);
    lacks(&l, &["profile"]);
    let fx =
        project("import \"schema.journey\"\nsegment s = sum(purchase.amount where purchase.$0");
    has(&labels(&fx), &["amount", "sku"]);
    let fx = project(&main_journey("  send sms \"Bonjour {$0}\""));
    has(&labels(&fx), &["profile", "signup"]);
    let fx = project(&main_journey("  send sms \"Bonjour $0\""));
    assert!(labels(&fx).is_empty());
    let fx = project(&main_journey("  // send $0"));
    assert!(labels(&fx).is_empty());
}

#[test]
fn completion_in_templates_offers_offer_fields() {
    let fx =
        project("import \"channels.journey\"\ntemplate t for email {\n  text: \"{offer.$0}\"\n}\n");
    has(&labels(&fx), &["title", "price", "name"]);
}

#[test]
fn completion_in_tests() {
    let base = "import \"main2.journey\"\ntest \"t\" {\n";
    let j = main_journey("  send sms bienvenue_sms");
    let mk = |body: &str| {
        Fixture::new(&[
            ("journey.toml", "[project]\nname = \"t\"\n"),
            ("schema.journey", SCHEMA),
            ("channels.journey", CHANNELS),
            ("segments.journey", SEGMENTS),
            ("main2.journey", &j),
            ("t.journey", &format!("{base}{body}\n}}\n")),
        ])
    };
    has(
        &labels(&mk("  given profile { age: 22, $0 }")),
        &["first_name", "optin_sms"],
    );
    has(
        &labels(&mk("  at 2027-01-04 10:00 event signup { $0 }")),
        &["plan", "canal"],
    );
    has(&labels(&mk("  expect send $0")), &["sms", "email"]);
    has(&labels(&mk("  expect send sms $0")), &["bienvenue_sms"]);
    has(&labels(&mk("  expect $0")), &["send", "reached", "entered"]);
    has(&labels(&mk("  at 2027-01-04 10:00 event $0")), &["signup"]);
}

#[test]
fn completion_uses_the_last_good_analysis_for_names_being_rewritten() {
    // The segment declaration is broken now; its name still completes from the last good
    // analysis of the same file.
    let mut fx = Fixture::new(&[(
        "solo.journey",
        "profile { age: number }\nevent login\nsegment âgé = profile.age > 60\njourney j {\n  entry on login\n  wait 1 day\n}\n",
    )]);
    let uri = fx.uri("solo.journey");
    let text = fx.state.text(&uri).expect("open").to_string();
    let broken = text
        .replace("profile.age > 60", "profile.age >")
        .replace("  wait 1 day\n", "  if \n");
    fx.state.change(
        &uri,
        2,
        vec![tower_lsp_server::ls_types::TextDocumentContentChangeEvent {
            range: None,
            range_length: None,
            text: broken.clone(),
        }],
    );
    let snap = fx.state.snapshot(&uri).expect("snapshot");
    let off = broken.find("  if ").expect("if") as u32 + 5;
    let pos = snap.current.lines().expect("lines").position(off);
    let l: Vec<String> = completion::completion(&snap, pos)
        .into_iter()
        .map(|i| i.label)
        .collect();
    has(&l, &["âgé", "login", "profile"]);
}

// ---------------------------------------------------------------- navigation

#[test]
fn definition_jumps_to_another_file() {
    let fx = project(&main_journey(
        "  scenario for jeu$0ne { exit }\n  otherwise { exit }",
    ));
    let (snap, pos) = fx.cursor();
    let loc = definition::definition(&snap, pos).expect("a definition");
    assert_eq!(loc.uri, fx.uri("segments.journey"));
    assert_eq!(
        loc.range,
        Range::new(Position::new(3, 8), Position::new(3, 13))
    );
}

#[test]
fn references_across_files_with_utf16_columns() {
    let fx = project(&main_journey("  exit on résili$0ation"));
    // `exit on résiliation` is written twice: in the clause of main_journey and here.
    let (snap, pos) = fx.cursor();
    let refs = references::references(&snap, pos, true);
    assert_eq!(refs.len(), 3, "{refs:?}");
    let decl = refs
        .iter()
        .find(|l| l.uri == fx.uri("schema.journey"))
        .expect("the declaration");
    // `event résiliation`: `é` is one UTF-16 unit, so the name spans columns 6..17.
    assert_eq!(
        decl.range,
        Range::new(Position::new(13, 6), Position::new(13, 17))
    );
    let without = references::references(&snap, pos, false);
    assert_eq!(without.len(), 2);
}

#[test]
fn rename_across_files() {
    let fx = project(&main_journey("  if jeu$0ne { exit }"));
    let (snap, pos) = fx.cursor();
    match rename::prepare(&snap, pos) {
        Some(PrepareRenameResponse::RangeWithPlaceholder { placeholder, range }) => {
            assert_eq!(placeholder, "jeune");
            assert_eq!(range, Range::new(Position::new(7, 5), Position::new(7, 10)));
        }
        other => panic!("{other:?}"),
    }
    let edit = rename::rename(&snap, pos, "moins_de_26_ans").expect("renamed");
    let changes = edit.changes.expect("changes");
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[&fx.uri("segments.journey")].len(), 1);
    assert_eq!(
        changes[&fx.uri("main.journey")][0].new_text,
        "moins_de_26_ans"
    );
    assert!(rename::rename(&snap, pos, "journey").is_err());
    assert!(rename::rename(&snap, pos, "deux mots").is_err());
    assert!(rename::rename(&snap, pos, "été_2027").is_ok());
}

#[test]
fn rename_an_attribute_everywhere() {
    let fx = project(&main_journey("  if profile.a$0ge > 3 { exit }"));
    let (snap, pos) = fx.cursor();
    let edit = rename::rename(&snap, pos, "âge").expect("renamed");
    let changes = edit.changes.expect("changes");
    assert_eq!(changes[&fx.uri("schema.journey")].len(), 1);
    assert_eq!(changes[&fx.uri("segments.journey")].len(), 1);
    assert_eq!(changes[&fx.uri("main.journey")].len(), 1);
}

// ---------------------------------------------------------------- symbols

fn find<'a>(syms: &'a [DocumentSymbol], name: &str) -> &'a DocumentSymbol {
    syms.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no symbol `{name}` in {:?}",
            syms.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

#[test]
fn document_outline_of_a_journey() {
    let fx = project(&main_journey(
        "  goal achat on purchase within 30 days\n  scenario for jeune { send sms bienvenue_sms }\n  otherwise { send email bienvenue { utm_campaign: \"b\" } }\n  timeline {\n    week 1: appel: send sms bienvenue_sms\n    month 6 at 10:00: exit\n  }",
    ));
    let snap = fx.snapshot("main.journey").expect("open");
    let syms = symbols::document_symbols(&snap);
    let j = find(&syms, "accueil");
    let children = j.children.as_deref().expect("children");
    find(children, "achat");
    let arm = find(children, "scenario for jeune");
    find(
        arm.children.as_deref().expect("steps"),
        "send sms bienvenue_sms",
    );
    find(children, "otherwise");
    let timeline = find(children, "timeline");
    let entries = timeline.children.as_deref().expect("entries");
    find(entries, "week 1");
    find(entries, "month 6 at 10:00");
}

#[test]
fn workspace_symbols_find_declarations_of_the_project() {
    let fx = project(&main_journey("  exit"));
    let analyses = fx.state.analyses();
    let found = symbols::workspace_symbols(&analyses, "fidl", 100);
    assert!(found.iter().any(|s| s.name == "fidèle_été"), "{found:?}");
    let all = symbols::workspace_symbols(&analyses, "", 1000);
    assert!(all.iter().any(|s| s.name == "accueil"));
    assert!(all.iter().any(|s| s.name == "bienvenue_sms"));
}

// ---------------------------------------------------------------- folding, tokens, actions, formatting

#[test]
fn folding_ranges_for_blocks_comments_and_timeline_entries() {
    let fx = project(&main_journey(
        "  // one\n  // two\n  timeline {\n    week 1:\n      send sms bienvenue_sms\n      exit\n  }",
    ));
    let snap = fx.snapshot("main.journey").expect("open");
    let ranges = folding::folding_ranges(&snap);
    let spans: Vec<(u32, u32)> = ranges.iter().map(|r| (r.start_line, r.end_line)).collect();
    assert!(spans.contains(&(4, 13)), "journey body: {spans:?}");
    assert!(spans.contains(&(7, 8)), "comments: {spans:?}");
    assert!(spans.contains(&(9, 12)), "timeline: {spans:?}");
    assert!(spans.contains(&(10, 12)), "timeline entry: {spans:?}");
    assert!(spans.contains(&(0, 2)), "imports: {spans:?}");
}

#[test]
fn semantic_tokens_classify_names_with_utf16_lengths() {
    let fx = project(&main_journey(
        "  scenario for fidèle_été { exit }\n  otherwise { exit }",
    ));
    let snap = fx.snapshot("main.journey").expect("open");
    let tokens = semantic_tokens::semantic_tokens(&snap).data;
    // Decode to absolute positions.
    let (mut line, mut col) = (0, 0);
    let mut abs = Vec::new();
    for t in &tokens {
        if t.delta_line > 0 {
            line += t.delta_line;
            col = t.delta_start;
        } else {
            col += t.delta_start;
        }
        abs.push((line, col, t.length, t.token_type));
    }
    let ty = |name: &str| {
        semantic_tokens::TYPES
            .iter()
            .position(|t| t.as_str() == name)
            .expect("type") as u32
    };
    // `fidèle_été` on line 7 at column 15: 10 UTF-16 units, a segment (variable).
    assert!(abs.contains(&(7, 15, 10, ty("variable"))), "{abs:?}");
    // `scenario` is a keyword; `signup` an event; `accueil` a journey.
    assert!(abs.contains(&(7, 2, 8, ty("keyword"))), "{abs:?}");
    assert!(abs.contains(&(5, 11, 6, ty("event"))), "{abs:?}");
    assert!(abs.contains(&(4, 8, 7, ty("class"))), "{abs:?}");
}

#[test]
fn code_actions_apply_did_you_mean_fixes() {
    let fx = project(&main_journey("  wait for log$0n within 1 day"));
    let (snap, pos) = fx.cursor();
    let actions =
        code_action::code_actions(&snap, Range::new(pos, pos), "file:///docs/language.md");
    let CodeActionOrCommand::CodeAction(a) = actions.first().expect("a fix") else {
        panic!("a code action")
    };
    assert_eq!(a.title, "replace with `login`");
    let changes = a
        .edit
        .as_ref()
        .and_then(|e| e.changes.as_ref())
        .expect("edit");
    let edits = &changes[&fx.uri("main.journey")];
    assert_eq!(edits[0].new_text, "login");
    assert_eq!(
        edits[0].range,
        Range::new(Position::new(7, 11), Position::new(7, 15))
    );
    assert!(a.diagnostics.as_ref().is_some_and(|d| d.len() == 1));
}

#[test]
fn code_action_adds_a_missing_import() {
    let fx = project("journey j {\n  entry on sig$0nup\n}\n");
    let (snap, pos) = fx.cursor();
    let actions = code_action::code_actions(&snap, Range::new(pos, pos), "file:///x");
    let titles: Vec<String> = actions
        .iter()
        .filter_map(|a| match a {
            CodeActionOrCommand::CodeAction(a) => Some(a.title.clone()),
            CodeActionOrCommand::Command(_) => None,
        })
        .collect();
    assert!(
        titles
            .iter()
            .any(|t| t == "add `import \"schema.journey\"`"),
        "{titles:?}"
    );
}

#[test]
fn formatting_uses_the_formatter() {
    let fx = Fixture::new(&[(
        "f.journey",
        "event   login\nsegment s =   count(login over last 3 days) > 0\n",
    )]);
    let snap = fx.snapshot("f.journey").expect("open");
    let edits = formatting::format(&snap).expect("formatted");
    let expected = journey_grammar::format::format(snap.text()).expect("formats");
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0].new_text, expected);
    // A broken file is left alone, with the reason.
    let fx = Fixture::new(&[("g.journey", "segment s = \n")]);
    let snap = fx.snapshot("g.journey").expect("open");
    assert!(formatting::format(&snap).is_err());
}

#[test]
fn a_changed_plugin_manifest_rechecks_its_channels() {
    let manifest = |sender_required: bool| {
        format!(
            r#"{{"name": "sms", "version": "1.0.0", "contract": "1.0.0", "kind": "sms",
                "config": [{{"name": "endpoint", "required": true}},
                           {{"name": "sender", "required": {sender_required}}}],
                "hosts": ["{{endpoint}}"]}}"#
        )
    };
    let mut fx = Fixture::new(&[
        (
            "journey.toml",
            "[project]\nname = \"t\"\n\n[plugins.sms]\nmanifest = \"sms.json\"\n",
        ),
        ("sms.json", &manifest(true)),
        (
            "main.journey",
            "channel sms uses \"sms\" { config { endpoint: \"https://sms.example/send\" } }\n",
        ),
    ]);
    let main = fx.uri("main.journey");
    let codes = |published: &[journey_lsp::state::Publish]| -> Vec<String> {
        published
            .iter()
            .rev()
            .find(|p| p.uri == main)
            .map(|p| {
                p.diagnostics
                    .iter()
                    .filter_map(|d| match &d.code {
                        Some(NumberOrString::String(c)) => Some(c.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(codes(&fx.published), vec!["E0703".to_string()]);
    // The plugin no longer requires `sender`: the watcher's notice re-checks the project.
    std::fs::write(fx.dir.join("sms.json"), manifest(false)).expect("rewrite the manifest");
    let republished = fx.state.files_changed();
    assert_eq!(codes(&republished), Vec::<String>::new());
}
