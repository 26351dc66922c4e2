//! End-to-end protocol runs over an in-memory duplex stream: JSON-RPC framing, the
//! initialize handshake, notifications, requests, server-to-client requests and shutdown.

use journey_lsp::testing::{Client, temp_dir, uri_of};
use serde_json::{Value, json};

const SCHEMA: &str = "/// Someone signed up.\nevent inscription { forfait: string }\nevent connexion\nprofile { prénom: string }\n";
const MAIN: &str =
    "journey bienvenue {\n  entry on inscription\n  wait for connexion within 3 days\n}\n";

fn pos(text: &str, needle: &str, delta: usize) -> Value {
    // UTF-16 column of `needle` + `delta` characters.
    let at = text.find(needle).expect("needle");
    let line = text[..at].matches('\n').count();
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let col: usize = text[start..at].encode_utf16().count() + delta;
    json!({"line": line, "character": col})
}

#[tokio::test]
async fn a_whole_session() {
    let dir = temp_dir("e2e");
    std::fs::write(dir.join("journey.toml"), "[project]\nname = \"e2e\"\n").expect("write");
    std::fs::write(dir.join("schema.journey"), SCHEMA).expect("write");
    std::fs::write(dir.join("main.journey"), MAIN).expect("write");
    let schema = uri_of(&dir.join("schema.journey")).as_str().to_string();
    let main = uri_of(&dir.join("main.journey")).as_str().to_string();

    let mut c = Client::start();
    let init = c.initialize().await;
    let caps = &init["capabilities"];
    assert_eq!(caps["positionEncoding"], "utf-16");
    assert!(caps["semanticTokensProvider"]["legend"]["tokenTypes"].is_array());
    assert_eq!(caps["renameProvider"]["prepareProvider"], true);

    // main.journey does not import the schema: E0104 with related information and a fix.
    c.open(&main, MAIN).await;
    let diags = c.diagnostics(&main, |d| !d.is_empty()).await;
    let d = diags
        .iter()
        .find(|d| d["code"] == "E0104")
        .unwrap_or_else(|| panic!("{diags:?}"));
    assert_eq!(d["source"], "journey");
    assert!(
        d["codeDescription"]["href"]
            .as_str()
            .is_some_and(|h| h.ends_with("#e0104-not-imported"))
    );
    let related = &d["relatedInformation"][0];
    assert_eq!(related["location"]["uri"], schema.as_str());
    assert_eq!(related["message"], "declared here");

    let actions = c
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": main}, "range": d["range"], "context": {"diagnostics": [d]}}),
        )
        .await;
    assert_eq!(actions[0]["title"], "add `import \"schema.journey\"`");

    // Fix it with an incremental change: the diagnostics are cleared.
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": main, "version": 2},
            "contentChanges": [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "import \"schema.journey\"\n"}]
        }),
    )
    .await;
    c.diagnostics(&main, |d| d.is_empty()).await;
    let text = format!("import \"schema.journey\"\n{MAIN}");

    // Hover.
    let hover = c
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": main}, "position": pos(&text, "inscription", 2)}),
        )
        .await;
    let value = hover["contents"]["value"].as_str().expect("markdown");
    assert!(
        value.contains("event inscription { forfait: string }"),
        "{value}"
    );
    assert!(value.contains("Someone signed up."), "{value}");

    // Completion of statements inside the journey.
    let text2 = text.replace(
        "  wait for connexion within 3 days\n",
        "  wait for connexion within 3 days\n  send \n",
    );
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main, "version": 3}, "contentChanges": [{"text": text2}]}),
    )
    .await;
    let items = c
        .request(
            "textDocument/completion",
            json!({"textDocument": {"uri": main}, "position": pos(&text2, "  send ", 7)}),
        )
        .await;
    assert!(
        items.as_array().is_some_and(|a| a.is_empty()),
        "no channel declared: {items}"
    );
    let items = c
        .request(
            "textDocument/completion",
            json!({"textDocument": {"uri": main}, "position": pos(&text2, "  send ", 2)}),
        )
        .await;
    let labels: Vec<&str> = items
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["label"].as_str())
        .collect();
    assert!(
        labels.contains(&"wait for") && labels.contains(&"goal"),
        "{labels:?}"
    );
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main, "version": 4}, "contentChanges": [{"text": text}]}),
    )
    .await;

    // Definition in the other file.
    let def = c
        .request(
            "textDocument/definition",
            json!({"textDocument": {"uri": main}, "position": pos(&text, "connexion", 1)}),
        )
        .await;
    assert_eq!(def["uri"], schema.as_str());
    assert_eq!(def["range"]["start"], json!({"line": 2, "character": 6}));

    // Rename across the two files.
    let edit = c
        .request(
            "textDocument/rename",
            json!({"textDocument": {"uri": main}, "position": pos(&text, "inscription", 0), "newName": "souscription"}),
        )
        .await;
    let changes = edit["changes"].as_object().expect("changes");
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[&schema][0]["newText"], "souscription");
    // A reserved word is refused with an error, and the server goes on.
    let refused = c
        .request_raw(
            "textDocument/rename",
            json!({"textDocument": {"uri": main}, "position": pos(&text, "inscription", 0), "newName": "journey"}),
        )
        .await;
    assert!(refused.get("error").is_some(), "{refused}");

    // Formatting.
    let ugly = text.replace("  entry on", "entry    on");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main, "version": 5}, "contentChanges": [{"text": ugly}]}),
    )
    .await;
    let edits = c
        .request(
            "textDocument/formatting",
            json!({"textDocument": {"uri": main}, "options": {"tabSize": 2, "insertSpaces": true}}),
        )
        .await;
    let formatted = edits[0]["newText"].as_str().expect("text");
    assert!(formatted.contains("  entry on inscription"), "{formatted}");

    // Requests about unknown documents answer null rather than failing.
    let none = c
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": "file:///nowhere.journey"}, "position": {"line": 0, "character": 0}}),
        )
        .await;
    assert!(none.is_null());

    c.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn malformed_requests_do_not_stop_the_server() {
    let mut c = Client::start();
    c.initialize().await;
    let uri = "untitled:Untitled-1";
    c.open(uri, "segment s = \n").await;
    c.diagnostics(uri, |d| !d.is_empty()).await;
    // Invalid params: an error response.
    let bad = c
        .request_raw("textDocument/hover", json!({"textDocument": 3}))
        .await;
    assert!(bad.get("error").is_some(), "{bad}");
    // Positions far outside the text are clamped.
    for method in [
        "textDocument/hover",
        "textDocument/completion",
        "textDocument/definition",
    ] {
        c.request(
            method,
            json!({"textDocument": {"uri": uri}, "position": {"line": 99999, "character": 99999}}),
        )
        .await;
    }
    // An edit range past the end is clamped too.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"range": {"start": {"line": 50, "character": 3}, "end": {"line": 2, "character": 0}}, "text": "true\n"}]}),
    )
    .await;
    c.diagnostics(uri, |d| d.is_empty()).await;
    // Unknown methods are reported, not fatal.
    let unknown = c.request_raw("journey/unknown", json!({})).await;
    assert!(unknown.get("error").is_some());
    c.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    )
    .await;
    c.shutdown().await;
}
