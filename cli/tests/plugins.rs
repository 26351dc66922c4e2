//! `journey plugin new|check|test` and `--plugins` of `journey simulate` and `journey test`,
//! driving the real binary against the real connector components.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use journey_plugin_api::{ChannelKind, Manifest};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .expect("the cli crate is in the workspace")
}

/// The built connector components, by name (`sms`, `email`, `push`, `webhook`, `misbehave`).
fn component(name: &str) -> PathBuf {
    let built = match journey_plugin_build::components() {
        Ok(c) => c,
        Err(e) => panic!("cannot build the plugin components: {e}"),
    };
    built
        .get(name)
        .unwrap_or_else(|| panic!("no component `{name}`"))
        .to_path_buf()
}

/// The `journey` binary with a private artifact cache and none of the variables the
/// telecom example reads, so that runs do not depend on the caller's environment.
fn journey() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_journey"));
    cmd.env(
        "XDG_CACHE_HOME",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("journey-cache"),
    );
    for var in [
        "SMS_API_URL",
        "SMS_API_KEY",
        "EMAIL_API_URL",
        "EMAIL_API_KEY",
        "PUSH_API_URL",
        "FCM_CREDENTIALS",
        "CALL_CENTER_URL",
        "CALL_CENTER_TOKEN",
        "CALL_CENTER_SIGNING_SECRET",
        "HOOK_URL",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the journey binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

fn message(name: &str) -> PathBuf {
    root()
        .join("plugins/examples/messages")
        .join(format!("{name}.json"))
}

// ------------------------------------------------------------------------------ plugin new

#[test]
fn plugin_new_scaffolds_a_crate_that_builds_into_a_valid_plugin() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let o = run(journey()
        .args(["plugin", "new", "acme-sms", "--kind", "sms", "--dir"])
        .arg(tmp.path()));
    assert!(o.status.success(), "{}", show(&o));
    let krate = tmp.path().join("acme-sms");
    for f in ["Cargo.toml", "src/lib.rs", "README.md", "message.json"] {
        assert!(krate.join(f).is_file(), "{f} missing\n{}", show(&o));
    }
    let cargo_toml = std::fs::read_to_string(krate.join("Cargo.toml")).expect("Cargo.toml");
    assert!(cargo_toml.contains("[workspace]"), "{cargo_toml}");
    let sdk = root().join("plugins/sdk").canonicalize().expect("the SDK");
    assert!(
        cargo_toml.contains(&format!("path = \"{}\"", sdk.display())),
        "{cargo_toml}"
    );

    // The same dependency versions as the workspace, so the build reuses what the connector
    // builds compiled.
    std::fs::copy(root().join("Cargo.lock"), krate.join("Cargo.lock")).expect("copy Cargo.lock");
    let cargo_in_crate = |args: &[&str]| {
        let started = std::time::Instant::now();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let o = Command::new(&cargo)
            .current_dir(&krate)
            .args(args)
            .env("CARGO_TARGET_DIR", journey_plugin_build::target_dir())
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .output()
            .expect("cargo runs");
        assert!(o.status.success(), "cargo {args:?} failed:\n{}", show(&o));
        eprintln!("cargo {args:?}: {:.1} s", started.elapsed().as_secs_f64());
        o
    };
    // Its unit tests pass natively, against the SDK's StubHost.
    let tests = cargo_in_crate(&["test"]);
    assert!(
        stdout(&tests).contains("test result: ok. 4 passed"),
        "{}",
        show(&tests)
    );
    // And it builds as a component.
    cargo_in_crate(&["build", "--release", "--target", "wasm32-wasip2"]);
    let target_dir = journey_plugin_build::target_dir();
    let wasm = target_dir.join("wasm32-wasip2/release/journey_connector_acme_sms.wasm");

    // A valid plugin: the host loads it and reads its manifest.
    let o = run(journey()
        .args(["plugin", "check", "--format", "json"])
        .arg(&wasm));
    assert!(o.status.success(), "{}", show(&o));
    let m = Manifest::from_json(&stdout(&o)).expect("a sound manifest");
    assert_eq!(m.name, "acme-sms");
    assert_eq!(m.kind, ChannelKind::Sms);
    assert_eq!(m.hosts, vec!["{endpoint}".to_string()]);
    let keys: Vec<(&str, bool, bool)> = m
        .config
        .iter()
        .map(|c| (c.name.as_str(), c.required, c.secret))
        .collect();
    assert_eq!(
        keys,
        vec![("endpoint", true, false), ("api_key", true, true)]
    );
    assert_eq!(m.params.len(), 1);
    assert!(!m.params[0].required);

    // And it delivers: one JSON POST with the bearer token to the endpoint's path.
    let o = run(journey()
        .args(["plugin", "test"])
        .arg(&wasm)
        .arg("--message")
        .arg(krate.join("message.json"))
        .args([
            "--config",
            "endpoint=https://api.acme.example/v1/messages",
            "--secret",
            "api_key=key-1",
        ]));
    let out = stdout(&o);
    assert!(o.status.success(), "{}", show(&o));
    assert!(out.contains("outcome: accepted"), "{out}");
    assert!(
        out.contains("requests the local server received: 1"),
        "{out}"
    );
    assert!(out.contains("POST /v1/messages"), "{out}");
    assert!(out.contains("authorization: Bearer key-1"), "{out}");
    assert!(out.contains("\"email\": \"ada@example.com\""), "{out}");
}

#[test]
fn plugin_new_refuses_bad_names_and_existing_directories() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let o = run(journey()
        .args(["plugin", "new", "Acme!", "--dir"])
        .arg(tmp.path()));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("not a plugin name"), "{}", show(&o));
    assert!(!tmp.path().join("Acme!").exists());

    std::fs::create_dir_all(tmp.path().join("taken")).expect("mkdir");
    std::fs::write(tmp.path().join("taken/notes.txt"), "mine").expect("write");
    let o = run(journey()
        .args(["plugin", "new", "taken", "--dir"])
        .arg(tmp.path()));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = stderr(&o);
    assert!(err.contains("already exists and is not empty"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!tmp.path().join("taken/Cargo.toml").exists());

    // An empty directory is fine.
    std::fs::create_dir_all(tmp.path().join("empty")).expect("mkdir");
    let o = run(journey()
        .args(["plugin", "new", "empty", "--dir"])
        .arg(tmp.path()));
    assert!(o.status.success(), "{}", show(&o));
    assert!(tmp.path().join("empty/src/lib.rs").is_file());

    let o = run(journey()
        .args(["plugin", "new", "nosdk", "--sdk"])
        .arg(tmp.path().join("nowhere"))
        .arg("--dir")
        .arg(tmp.path()));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("--sdk PATH"), "{}", show(&o));
}

// ---------------------------------------------------------------------------- plugin check

#[test]
fn plugin_check_prints_the_manifest_as_text() {
    let o = run(journey().args(["plugin", "check"]).arg(component("sms")));
    let out = stdout(&o);
    assert!(o.status.success(), "{}", show(&o));
    for expected in [
        "plugin sms 1.0.0",
        &format!(
            "contract: journey:channel@{}",
            journey_plugin_api::CONTRACT_VERSION
        ),
        "batches: yes (`deliver-batch`",
        "packed: yes (`packed`",
        "kind: sms",
        "params:",
        "short_link",
        "optional",
        "parts:",
        "config:",
        "required, secret",
        "hosts: {endpoint}",
        "rate limit: 30/s, burst 10",
        "content hash: ",
    ] {
        assert!(out.contains(expected), "`{expected}` missing:\n{out}");
    }
    assert!(
        out.contains("compiled in ") || out.contains("loaded from the artifact cache in "),
        "{out}"
    );
    // The second load of the same bytes comes from the cache.
    let o = run(journey().args(["plugin", "check"]).arg(component("sms")));
    assert!(
        stdout(&o).contains("loaded from the artifact cache in "),
        "{}",
        show(&o)
    );
}

#[test]
fn plugin_check_json_is_the_manifest_file() {
    for name in ["email", "sms", "push", "webhook"] {
        let o = run(journey()
            .args(["plugin", "check", "--format", "json"])
            .arg(component(name)));
        assert!(o.status.success(), "{name}: {}", show(&o));
        let printed = Manifest::from_json(&stdout(&o)).expect("a sound manifest");
        assert_eq!(printed.name, name);
        let file = root()
            .join("plugins/manifests")
            .join(format!("{name}.json"));
        if let Ok(text) = std::fs::read_to_string(&file) {
            let stored = Manifest::from_json(&text).expect("a sound manifest file");
            assert_eq!(
                printed,
                stored,
                "{} is out of date: regenerate it with `journey plugin check {} --format json > {}`",
                file.display(),
                component(name).display(),
                file.display()
            );
        }
    }
}

#[test]
fn plugin_check_refuses_what_is_not_a_component() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let text = tmp.path().join("notes.wasm");
    std::fs::write(&text, "hello").expect("write");
    let o = run(journey().args(["plugin", "check"]).arg(&text));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("plugin `notes`"), "{err}");
    assert!(err.contains("is not a WebAssembly component"), "{err}");
    assert!(err.contains("wasm32-wasip2"), "{err}");

    // A core module is WebAssembly, but not a component.
    let module = tmp.path().join("module.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0").expect("write");
    let o = run(journey().args(["plugin", "check"]).arg(&module));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("plugin `module`"), "{err}");

    let o = run(journey()
        .args(["plugin", "check"])
        .arg(tmp.path().join("missing.wasm")));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("missing.wasm"), "{}", show(&o));
}

// ----------------------------------------------------------------------------- plugin test

/// `journey plugin test` of a connector with its example message.
fn plugin_test(name: &str, flags: &[&str]) -> Output {
    run(journey()
        .args(["plugin", "test"])
        .arg(component(name))
        .arg("--message")
        .arg(message(name))
        .args(flags))
}

#[test]
fn plugin_test_delivers_the_example_messages() {
    let cases: [(&str, &[&str], &str, &str); 4] = [
        (
            "email",
            &[
                "--config",
                "endpoint=https://mail.example.com/v1/send",
                "--config",
                "from=bonjour@telco.example",
                "--secret",
                "api_key=test-key",
            ],
            "POST /v1/send",
            "authorization: Bearer test-key",
        ),
        (
            "sms",
            &[
                "--config",
                "endpoint=https://sms.example.com/v1/messages",
                "--config",
                "sender=TELCO",
                "--secret",
                "api_key=test-key",
            ],
            "POST /v1/messages",
            "authorization: Bearer test-key",
        ),
        (
            "push",
            &[
                "--config",
                "endpoint=https://push.example.com",
                "--config",
                "project_id=telco",
                "--secret",
                "credentials=test-key",
            ],
            "POST /v1/projects/telco/messages:send",
            "authorization: Bearer test-key",
        ),
        (
            "webhook",
            &[
                "--config",
                "url=https://hooks.example.com/journey",
                "--secret",
                "signing_secret=s3cret",
            ],
            "POST /journey",
            "x-journey-signature: t=",
        ),
    ];
    for (name, flags, request, header) in cases {
        let o = plugin_test(name, flags);
        let out = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", show(&o));
        assert!(out.contains("outcome: accepted"), "{name}: {out}");
        assert!(
            out.contains("requests the local server received: 1\n"),
            "{name}: {out}"
        );
        assert!(out.contains(&format!("  {request}\n")), "{name}: {out}");
        assert!(out.contains(header), "{name}: {out}");
        assert!(!out.contains("refused"), "{name}: {out}");
    }
}

#[test]
fn plugin_test_delivers_a_list_of_messages_as_one_batch() {
    let one: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(message("webhook")).expect("the example message"),
    )
    .expect("JSON");
    let mut list = Vec::new();
    for k in ["b-1", "b-2", "b-3"] {
        let mut m = one.clone();
        m["idempotency_key"] = serde_json::json!(k);
        list.push(m);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("batch.json");
    std::fs::write(&file, serde_json::to_string(&list).expect("JSON")).expect("write");
    let flags = [
        "--config",
        "url=https://hooks.example.com/in",
        "--config",
        "batch_url=https://hooks.example.com/batch",
        "--secret",
        "signing_secret=s3cret",
    ];
    let deliver = || {
        run(journey()
            .args(["plugin", "test"])
            .arg(component("webhook"))
            .arg("--message")
            .arg(&file)
            .args(flags))
    };
    let o = deliver();
    let out = stdout(&o);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        out.contains("3 messages in one `deliver-batch` call"),
        "{out}"
    );
    for k in ["b-1", "b-2", "b-3"] {
        assert!(
            out.contains(&format!("outcome for {k} (attempt 1): accepted")),
            "{out}"
        );
    }
    assert!(
        out.contains("requests the local server received: 1"),
        "{out}"
    );
    assert!(out.contains("POST /batch"), "{out}");
    // An empty list, and a list with a bad item, are refused with the reason.
    std::fs::write(&file, "[]").expect("write");
    let o = deliver();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is an empty list"), "{}", show(&o));
    std::fs::write(&file, format!("[{one}, 7]")).expect("write");
    let o = deliver();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("item 2 of the list is not a message"),
        "{}",
        show(&o)
    );
}

#[test]
fn plugin_test_reports_a_provider_asking_to_retry() {
    let o = plugin_test(
        "sms",
        &[
            "--config",
            "endpoint=https://sms.example.com/v1/messages",
            "--config",
            "sender=TELCO",
            "--secret",
            "api_key=test-key",
            "--status",
            "503",
        ],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(out.contains("outcome: retry-after"), "{out}");
    assert!(out.contains("HTTP 503"), "{out}");
    assert!(
        out.contains("requests the local server received: 1"),
        "{out}"
    );
}

#[test]
fn plugin_test_shows_refused_requests_and_logs() {
    let misbehave = component("misbehave");
    let o = run(journey()
        .args(["plugin", "test"])
        .arg(&misbehave)
        .arg("--message")
        .arg(message("webhook"))
        .args([
            "--config",
            "mode=sneaky",
            "--config",
            "url=https://hooks.example.com/x",
        ]));
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(out.contains("outcome: failed"), "{out}");
    assert!(
        out.contains("requests the local server received: none"),
        "{out}"
    );
    assert!(
        out.contains("requests the host refused or that failed: 1"),
        "{out}"
    );
    assert!(out.contains("metadata.internal.example"), "{out}");

    let o = run(journey()
        .args(["plugin", "test"])
        .arg(&misbehave)
        .arg("--message")
        .arg(message("webhook"))
        .args(["--config", "mode=log"]));
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(out.contains("log:\n  debug"), "{out}");
}

#[test]
fn plugin_test_refuses_bad_input_before_calling() {
    // Missing required configuration: every missing flag is named.
    let o = plugin_test("sms", &["--config", "sender=TELCO"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--config endpoint=URL"), "{err}");
    assert!(err.contains("--secret api_key="), "{err}");
    assert!(stdout(&o).is_empty(), "{}", show(&o));

    // A secret given as configuration.
    let o = plugin_test(
        "sms",
        &[
            "--config",
            "endpoint=https://sms.example.com/",
            "--config",
            "sender=T",
            "--config",
            "api_key=k",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("--secret api_key="), "{}", show(&o));

    // An unknown key, with the keys the plugin reads.
    let o = plugin_test("webhook", &["--config", "endpoint=https://x.example/"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("`url`"), "{}", show(&o));

    // A message that is not one: the file and serde's words.
    let tmp = tempfile::tempdir().expect("temp dir");
    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"customer_id": "C-1", "content": {"rendered": {}}}"#,
    )
    .expect("write");
    let o = run(journey()
        .args(["plugin", "test"])
        .arg(component("webhook"))
        .arg("--message")
        .arg(&bad)
        .args([
            "--config",
            "url=https://x.example/",
            "--secret",
            "signing_secret=s",
        ]));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bad.json"), "{err}");
    assert!(err.contains("missing field `idempotency_key`"), "{err}");

    // A flag that is not KEY=VALUE.
    let o = plugin_test("webhook", &["--config", "url"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("KEY=VALUE"), "{}", show(&o));
}

// ------------------------------------------------------------------------------- --plugins

/// A copy of examples/telecom whose journey.toml names the built components.
fn telecom() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    let src = root().join("examples/telecom");
    for entry in std::fs::read_dir(&src).expect("examples/telecom") {
        let entry = entry.expect("entry");
        if entry.path().extension().is_some_and(|e| e == "journey") {
            std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).expect("copy");
        }
    }
    let mut toml = String::from("[project]\nname = \"telecom\"\ntimezone = \"Europe/Paris\"\n");
    for name in ["sms", "email", "push", "webhook"] {
        toml.push_str(&format!(
            "\n[plugins.{name}]\nmanifest = {:?}\ncomponent = {:?}\n",
            root()
                .join("plugins/manifests")
                .join(format!("{name}.json"))
                .display()
                .to_string(),
            component(name).display().to_string()
        ));
    }
    std::fs::write(tmp.path().join("journey.toml"), toml).expect("journey.toml");
    tmp
}

#[test]
fn simulate_batch_size_sets_the_messages_per_call() {
    let project = telecom();
    let totals = |batch: Option<&str>| {
        let mut cmd = journey();
        cmd.args(["simulate", "--plugins", "--customers", "50", "--days", "60"])
            .args(["--format", "json"]);
        if let Some(n) = batch {
            cmd.args(["--batch-size", n]);
        }
        let o = run(cmd.arg(project.path()));
        assert!(o.status.success(), "{}", show(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
        let plugins = v["deliveries"]["plugins"]
            .as_array()
            .expect("plugins")
            .clone();
        let total = |f: &str| -> u64 { plugins.iter().filter_map(|p| p[f].as_u64()).sum() };
        (total("calls"), total("accepted"))
    };
    let (batched_calls, accepted) = totals(None);
    let (single_calls, single_accepted) = totals(Some("1"));
    assert_eq!(accepted, single_accepted, "the same deliveries either way");
    assert_eq!(
        single_calls, accepted,
        "one call per message with --batch-size 1"
    );
    assert!(
        batched_calls < single_calls,
        "{batched_calls} < {single_calls}"
    );
    // 0 and a missing --plugins are refused by the argument parser.
    let o = run(journey()
        .args(["simulate", "--plugins", "--batch-size", "0"])
        .arg(project.path()));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--batch-size"), "{}", show(&o));
    let o = run(journey()
        .args(["simulate", "--batch-size", "4"])
        .arg(project.path()));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--plugins"), "{}", show(&o));
}

#[test]
fn simulate_with_plugins_reports_deliveries() {
    let project = telecom();
    let started = std::time::Instant::now();
    let o = run(journey()
        .args(["simulate", "--plugins", "--customers", "50", "--days", "60"])
        .arg(project.path()));
    eprintln!(
        "simulate --plugins: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let out = stdout(&o);
    assert!(o.status.success(), "{}", show(&o));
    let section = out
        .split("\ndeliveries through channel plugins")
        .nth(1)
        .unwrap_or_else(|| panic!("no deliveries section:\n{out}"));
    // `sms 1.0.0  calls  accepted ...`: every loaded plugin has a row.
    let mut accepted = 0;
    for (name, version) in [
        ("email", "1.1.0"),
        ("push", "1.0.0"),
        ("sms", "1.0.0"),
        ("webhook", "1.1.0"),
    ] {
        let row = section
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} {version}")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{section}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        accepted += cells[3].parse::<u64>().expect("accepted is a number");
    }
    assert!(accepted > 0, "{section}");
    assert!(section.contains("placeholders: "), "{section}");
    assert!(section.contains("SMS_API_URL"), "{section}");
    assert!(section.contains("placeholder-NAME"), "{section}");

    // The same run as JSON: the report with a `deliveries` object, the sink's count equal
    // to the calls that reached it.
    let o = run(journey()
        .args(["simulate", "--plugins", "--customers", "50", "--days", "60"])
        .args(["--format", "json"])
        .arg(project.path()));
    assert!(o.status.success(), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["project"], "telecom");
    let d = &v["deliveries"];
    let plugins = d["plugins"].as_array().expect("plugins");
    assert_eq!(plugins.len(), 4, "{d:#}");
    let total = |field: &str| -> u64 { plugins.iter().filter_map(|p| p[field].as_u64()).sum() };
    assert_eq!(
        total("accepted"),
        accepted,
        "the same seed, the same deliveries"
    );
    // Every send ends accepted, failed or dead-lettered (retries run to their end).
    let sent = v["totals"]["sends"].as_u64().expect("sends");
    assert_eq!(
        total("accepted") + total("failed") + total("dead_lettered"),
        sent,
        "{d:#}"
    );
    assert_eq!(d["unrouted"], serde_json::json!({}), "{d:#}");
    // Attempts that reached HTTP reached the local server (a plugin may fail before); a
    // call may carry several messages, each its own request.
    let requests = d["sink_requests"].as_u64().expect("sink_requests");
    let attempts = total("accepted") + total("retry_after") + total("failed") + total("errors");
    assert!(
        requests >= total("accepted") && requests <= attempts,
        "{d:#}"
    );
    // Sends of one instant on one channel share a call (the telecom example's scheduled
    // sends start together).
    assert!(total("calls") < attempts, "{d:#}");
    assert!(
        d["placeholders"]["secrets"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == "SMS_API_KEY"))
    );

    // Without --plugins, no deliveries.
    let o = run(journey()
        .args(["simulate", "--customers", "5", "--days", "5"])
        .arg(project.path()));
    assert!(o.status.success(), "{}", show(&o));
    assert!(!stdout(&o).contains("deliveries"), "{}", show(&o));
}

/// A small project on the misbehaving plugin: `declared` posts to its URL, `sneaky` calls an
/// undeclared host and fails permanently.
fn misbehaving_project(with_component: bool) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    let manifest = run(journey()
        .args(["plugin", "check", "--format", "json"])
        .arg(component("misbehave")));
    assert!(manifest.status.success(), "{}", show(&manifest));
    std::fs::write(tmp.path().join("misbehave.json"), &manifest.stdout).expect("manifest");
    let mut toml = String::from(
        "[project]\nname = \"hooks\"\ntimezone = \"UTC\"\n\n[plugins.misbehave]\nmanifest = \"misbehave.json\"\n",
    );
    if with_component {
        toml.push_str(&format!(
            "component = {:?}\n",
            component("misbehave").display().to_string()
        ));
    }
    std::fs::write(tmp.path().join("journey.toml"), toml).expect("journey.toml");
    std::fs::write(
        tmp.path().join("hooks.journey"),
        r#"event signup { plan: string }
event upgrade { plan: string }

channel hook uses "misbehave" {
  config { mode: "declared", url: env("HOOK_URL") }
}

channel sneaky uses "misbehave" {
  config { mode: "sneaky" }
}

journey welcome {
  entry on signup
  send hook "Welcome"
}

journey upsell {
  entry on upgrade
  send sneaky "Thanks"
}

test "a signup is posted" {
  at 2027-01-04 10:00 event signup { plan: "mobile" }
  expect send hook at 2027-01-04 10:00
}

test "an upgrade is thanked" {
  at 2027-01-05 10:00 event upgrade { plan: "fibre" }
  expect send sneaky at 2027-01-05 10:00
}
"#,
    )
    .expect("hooks.journey");
    tmp
}

#[test]
fn test_with_plugins_fails_on_a_message_a_plugin_fails() {
    let project = misbehaving_project(true);
    // The tests themselves pass.
    let o = run(journey().arg("test").arg(project.path()));
    assert!(o.status.success(), "{}", show(&o));
    assert!(!stdout(&o).contains("deliveries"), "{}", show(&o));

    let o = run(journey().args(["test", "--plugins"]).arg(project.path()));
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(out.contains("2 passed; 0 failed"), "{out}");
    assert!(out.contains("deliveries through channel plugins"), "{out}");
    assert!(out.contains("(local server http://127.0.0.1:"), "{out}");
    assert!(out.contains(": 1 requests)"), "{out}");
    let failures = out
        .split("\ndelivery failures:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no delivery failures:\n{out}"));
    let lines: Vec<&str> = failures.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "{failures}");
    assert!(
        lines[0].contains("test an upgrade is thanked"),
        "{failures}"
    );
    assert!(lines[0].contains("channel `sneaky`"), "{failures}");
    assert!(lines[0].contains("plugin `misbehave` 1.0.0"), "{failures}");
    assert!(
        lines[0].contains("sneaky: the undeclared request failed"),
        "{failures}"
    );
    assert!(
        out.contains("HOOK_URL"),
        "the placeholder is announced: {out}"
    );
}

#[test]
fn plugins_without_a_component_leave_their_channels_unrouted() {
    let project = misbehaving_project(false);
    let o = run(journey().args(["test", "--plugins"]).arg(project.path()));
    let out = stdout(&o);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        out.contains("unrouted (no loaded plugin): hook 1, sneaky 1"),
        "{out}"
    );
    assert!(
        out.contains("plugins without a component: misbehave"),
        "{out}"
    );

    // A component path that does not exist is an error naming the table and the file.
    let toml = project.path().join("journey.toml");
    let text = std::fs::read_to_string(&toml).expect("journey.toml");
    std::fs::write(
        &toml,
        format!("{text}component = \"nowhere/misbehave.wasm\"\n"),
    )
    .expect("write");
    let o = run(journey()
        .args(["simulate", "--plugins", "--customers", "5", "--days", "5"])
        .arg(project.path()));
    assert!(!o.status.success(), "{}", show(&o));
    let err = stderr(&o);
    assert!(err.contains("[plugins.misbehave]"), "{err}");
    assert!(err.contains("nowhere/misbehave.wasm"), "{err}");
    assert!(stdout(&o).is_empty(), "{}", show(&o));
}

#[test]
fn a_configuration_the_plugin_cannot_use_stops_the_run() {
    let project = misbehaving_project(true);
    let file = project.path().join("hooks.journey");
    let text = std::fs::read_to_string(&file).expect("hooks.journey");
    // A bare host name parses as a URI, but no request can go to it: refused before the run,
    // like text that is no URL at all, and a scheme other than http(s).
    for url in [
        "not a url",
        "hooks.example.com",
        "ftp://hooks.example.com/in",
    ] {
        let edited = text.replace("url: env(\"HOOK_URL\")", &format!("url: \"{url}\""));
        assert_ne!(edited, text);
        std::fs::write(&file, edited).expect("write");
        let o = run(journey().args(["test", "--plugins"]).arg(project.path()));
        assert!(!o.status.success(), "{url}: {}", show(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("channel `hook`"), "{err}");
        assert!(err.contains("is not an http(s) URL with a host"), "{err}");
        assert!(err.contains("\"https://api.example.com/send\""), "{err}");
        assert!(stdout(&o).is_empty(), "{}", show(&o));
    }
}
