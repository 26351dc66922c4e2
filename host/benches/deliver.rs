//! What a deliver call costs through the component boundary, measured against the same
//! connector code called natively (`StubHost`), in the same run, on warm instances:
//!
//! - **boundary**: the `misbehave` plugin in `ok` mode (no HTTP; it formats an id from the
//!   message) with a 1 KB message, then with the smallest message the contract allows,
//!   which separates what a call costs from what its message costs to cross;
//! - **one HTTP request**: `misbehave` in `declared` mode, a small JSON POST through
//!   `wasi:http` with the transport stubbed in the host (`Transport::Stub`, no socket): the
//!   whole deliver path a connector takes, with almost no work of its own;
//! - **webhook**: the real webhook connector (the 1 KB message as JSON, HMAC-SHA256 signed),
//!   transport stubbed: what a real connector's own work adds;
//! - **batch**: the boundary's 1 KB message, 32 of them (the dispatcher's default batch) in
//!   one `deliver-batch` call (contract 1.1), per message: what the fixed cost of a call
//!   becomes when the messages due together on a channel share it; then the same batch with
//!   one HTTP request per message, and through the webhook connector with `batch_url` set
//!   (one signed request for the whole batch, HTTP stubbed);
//! - **typed**: the boundary and batch parts again through `connector.deliver` and
//!   `batch.deliver-batch`, as a host calls a plugin of contract 1.1 (`packed_messages`
//!   off): what contract 1.2's `packed` interface saves;
//! - **fresh instance**: instantiating a connector from the pool, new store and WASI
//!   context included, then dropping it.
//!
//! `cargo bench -p journey-host --bench deliver [-- --calls N] [--only PART]`, where `--only`
//! (`boundary-component`, `boundary-native`, `boundary-typed`, `minimal-component`,
//! `minimal-native`, `http-component`, `http-native`, `webhook-component`, `webhook-native`,
//! `batch-component`, `batch-native`, `batch-typed`, `batch-http-component`,
//! `batch-http-native`, `batch-webhook-component`, `batch-webhook-native`, `fresh`) runs one
//! loop alone for a profiler and prints only its figure (`JOURNEY_PLUGIN_PERFMAP=1` names
//! the plugins' functions for `perf`). Goals: ≤ 2 µs overhead per call, ≤ 20 µs per fresh
//! instance, ≥ 100,000 deliver calls/s per core.

use std::sync::Arc;
use std::time::Instant;

use journey_host::{ChannelSetup, HostConfig, Instance, Plugin, PluginHost, Transport};
use journey_plugin_api::{Content, Message, Outcome, ParamValue};
use journey_plugin_sdk::testing::StubHost;
use journey_plugin_sdk::{Connector, HttpResponse};

/// The allocator of the `journey` binary, which makes these calls in production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn message() -> Message {
    // About 1 KB of content, parameters and addresses.
    let text =
        "Bonjour Zoé, votre facture de mars est disponible dans votre espace client. ".repeat(11);
    Message {
        idempotency_key: "0123456789abcdef".into(),
        attempt: 1,
        customer_id: "C-000042".into(),
        locale: Some("fr-FR".into()),
        time_zone: "Europe/Paris".into(),
        channel: "call_center".into(),
        origin: "facturation/relance".into(),
        template: Some("relance_impaye".into()),
        content: Content::Rendered(vec![("script".into(), ParamValue::Text(text))]),
        recipient: vec![("phone".into(), ParamValue::Text("+33612345678".into()))],
        params: vec![
            ("queue".into(), ParamValue::Text("recouvrement".into())),
            ("urgency".into(), ParamValue::Number(1.0)),
        ],
        offer: None,
        sent_at: "2027-03-01T09:30:00Z".into(),
    }
}

fn size(m: &Message) -> usize {
    serde_json::to_vec(m).map(|v| v.len()).unwrap_or(0)
}

/// Best of `rounds` runs of `n` calls of `f`, in ns per call.
fn best(rounds: usize, n: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / n as f64);
    }
    best
}

/// Best times, in ns per message, of `deliver` (which delivers `per_call` messages to a
/// warm instance of `plugin`) and of `native` (which delivers the same), over about
/// `messages` messages per round.
fn timed<O>(
    plugin: &Plugin,
    per_call: usize,
    messages: usize,
    (component_rounds, native_rounds): (usize, usize),
    mut deliver: impl FnMut(&mut Instance),
    mut native: impl FnMut() -> O,
) -> (f64, f64) {
    let mut inst = plugin.instantiate().expect("instance");
    let calls = (messages / per_call).max(1);
    let per_message = |ns: f64| {
        if ns == f64::MAX {
            ns
        } else {
            ns / per_call as f64
        }
    };
    let component = best(component_rounds, calls, || deliver(&mut inst));
    let native = best(native_rounds, calls, || {
        std::hint::black_box(native());
    });
    (per_message(component), per_message(native))
}

/// Best times, in ns per call, of `plugin` delivering `msg` and of `native`.
fn compare<O>(
    plugin: &Plugin,
    setup: &Arc<ChannelSetup>,
    msg: &Message,
    calls: usize,
    component_rounds: usize,
    native_rounds: usize,
    native: impl FnMut() -> O,
) -> (f64, f64) {
    let deliver = |inst: &mut Instance| {
        let d = inst.deliver(setup, msg).expect("delivers");
        assert!(matches!(d.outcome, Outcome::Accepted(_)), "{:?}", d.outcome);
        std::hint::black_box(d);
    };
    timed(
        plugin,
        1,
        calls,
        (component_rounds, native_rounds),
        deliver,
        native,
    )
}

/// Best times, in ns per message, of `plugin` delivering `msgs` in one call and of
/// `native` (which delivers them all too).
fn compare_batch<O>(
    plugin: &Plugin,
    setup: &Arc<ChannelSetup>,
    msgs: &[Message],
    calls: usize,
    component_rounds: usize,
    native_rounds: usize,
    native: impl FnMut() -> O,
) -> (f64, f64) {
    let deliver = |inst: &mut Instance| {
        let d = inst.deliver_batch(setup, msgs);
        assert_eq!(d.calls, 1);
        for r in &d.results {
            assert!(matches!(r, Ok(Outcome::Accepted(_))), "{r:?}");
        }
        std::hint::black_box(d);
    };
    let rounds = (component_rounds, native_rounds);
    timed(plugin, msgs.len(), calls, rounds, deliver, native)
}

/// The loops `--only` can run alone.
const PARTS: [&str; 17] = [
    "boundary-component",
    "boundary-native",
    "boundary-typed",
    "minimal-component",
    "minimal-native",
    "http-component",
    "http-native",
    "webhook-component",
    "webhook-native",
    "batch-component",
    "batch-native",
    "batch-typed",
    "batch-http-component",
    "batch-http-native",
    "batch-webhook-component",
    "batch-webhook-native",
    "fresh",
];

/// Prints how to run the benchmark (after `problem`, if any) and exits: with status 2 for a
/// problem, 0 for `--help`.
fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!(
        "usage: cargo bench -p journey-host --bench deliver -- [--calls N] [--only PART]\nparts: {}",
        PARTS.join(", ")
    );
    std::process::exit(if problem.is_empty() { 0 } else { 2 })
}

/// Prints what a part costs through the typed functions (`typed`, ns per `unit`) against
/// the packed ones (`packed`, the part's component figure).
fn report_typed(what: &str, unit: &str, packed: f64, typed: f64) {
    if typed == f64::MAX {
        return;
    }
    let typed_us = typed / 1000.0;
    if packed == f64::MAX {
        println!("{what}, typed messages: {typed_us:.2} µs/{unit} (the packed loop not run)");
        return;
    }
    println!(
        "{what}, typed messages (contract 1.1's functions, `packed` off): {typed_us:.2} µs/{unit}; packed {:.2} µs/{unit} is {:.2}× faster",
        packed / 1000.0,
        typed / packed.max(1.0)
    );
}

/// Prints a part's figures per `unit` (`call`, or `message` for batches).
fn report(what: &str, unit: &str, component: f64, native: f64, goal: &str) {
    // `--only` leaves the other loops unrun (their best is still `f64::MAX`).
    if component == f64::MAX || native == f64::MAX {
        let (part, ns) = if component == f64::MAX {
            ("native", native)
        } else {
            ("component", component)
        };
        if ns != f64::MAX {
            println!(
                "{what}: {part} {:.2} µs/{unit} (the other loop not run)",
                ns / 1000.0
            );
        }
        return;
    }
    println!(
        "{what}: component {:.2} µs/{unit} ({:.0} {unit}s/s), native {:.2} µs/{unit}, overhead {:.2} µs/{unit} ({:.1}× native); {goal}",
        component / 1000.0,
        1e9 / component,
        native / 1000.0,
        (component - native) / 1000.0,
        component / native.max(1.0)
    );
}

fn main() {
    let mut calls = 20_000usize;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--calls" => match args.next().and_then(|n| n.replace('_', "").parse().ok()) {
                Some(n) if n > 0 => calls = n,
                _ => usage("`--calls` needs a positive number after it"),
            },
            "--only" => match args.next() {
                Some(part) if PARTS.contains(&part.as_str()) => only = Some(part),
                Some(part) => usage(&format!("`--only {part}`: no such part")),
                None => usage("`--only` needs a part after it"),
            },
            // `cargo bench` passes `--bench`.
            "--bench" => {}
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    // `--only webhook-component` runs that loop alone, for a profiler.
    let rounds = |part: &str| {
        if only.as_deref().is_some_and(|o| o != part) {
            0
        } else {
            5
        }
    };
    let components = match journey_plugin_build::components() {
        Ok(c) => c,
        Err(e) => panic!("the plugin components could not be built:\n{e}"),
    };
    let config = HostConfig {
        transport: Transport::Stub(200),
        max_instances: 64,
        ..HostConfig::default()
    };
    let host = PluginHost::new(config.clone()).expect("host");
    // The same plugins through `connector.deliver` and `batch.deliver-batch`, as a host
    // calls a plugin of contract 1.1: the baseline of `packed`.
    let typed_host = PluginHost::new(HostConfig {
        packed_messages: false,
        ..config
    })
    .expect("host");
    let msg = message();
    println!(
        "message: {} bytes as JSON; {calls} calls per round, best of 5 rounds",
        size(&msg)
    );

    // Boundary: misbehave in `ok` mode.
    let misbehave = host
        .load_file(components.path("misbehave"))
        .expect("misbehave loads");
    let ok = Arc::new(ChannelSetup {
        channel: "bench".into(),
        config: [("mode".to_string(), "ok".to_string())].into(),
        ..ChannelSetup::default()
    });
    let native_host = StubHost::new()
        .with_config("mode", "ok")
        .without_recording();
    let (component, native) = compare(
        &misbehave,
        &ok,
        &msg,
        calls,
        rounds("boundary-component"),
        rounds("boundary-native"),
        || journey_plugin_misbehave::Misbehave::deliver(&native_host, &msg),
    );
    report(
        "boundary (1 KB message, no HTTP)",
        "call",
        component,
        native,
        "goal ≤ 2 µs overhead",
    );
    let misbehave_typed = typed_host
        .load_file(components.path("misbehave"))
        .expect("misbehave loads");
    let (typed, _) = compare(
        &misbehave_typed,
        &ok,
        &msg,
        calls,
        rounds("boundary-typed"),
        0,
        || (),
    );
    report_typed("boundary (1 KB message, no HTTP)", "call", component, typed);

    // The same with the smallest message the contract allows (no fields, no locale or
    // template): what a call costs whatever it carries; the difference is what the 1 KB
    // message's 9 further strings and 3 lists cost to cross.
    let minimal = Message {
        locale: None,
        template: None,
        content: Content::Rendered(Vec::new()),
        recipient: Vec::new(),
        params: Vec::new(),
        ..msg.clone()
    };
    let (small, small_native) = compare(
        &misbehave,
        &ok,
        &minimal,
        calls,
        rounds("minimal-component"),
        rounds("minimal-native"),
        || journey_plugin_misbehave::Misbehave::deliver(&native_host, &minimal),
    );
    report(
        "boundary (minimal message: 6 strings, no lists)",
        "call",
        small,
        small_native,
        "the part of a call that does not depend on the message",
    );

    // The whole deliver path with one HTTP request: misbehave in `declared` mode posts a
    // small JSON body to its declared URL through wasi:http, answered by the stub.
    let url = "https://hooks.example/tasks";
    let declared = Arc::new(ChannelSetup {
        channel: "bench".into(),
        config: [
            ("mode".to_string(), "declared".to_string()),
            ("url".to_string(), url.to_string()),
        ]
        .into(),
        allowed_hosts: vec!["hooks.example".into()],
        ..ChannelSetup::default()
    });
    let stub = |_: &journey_plugin_sdk::HttpRequest| {
        Ok(HttpResponse::new(200).with_body(journey_host::STUB_BODY.as_bytes().to_vec()))
    };
    let native_host = StubHost::new()
        .with_config("mode", "declared")
        .with_config("url", url)
        .without_recording()
        .responder(stub);
    let (component, native) = compare(
        &misbehave,
        &declared,
        &msg,
        calls,
        rounds("http-component"),
        rounds("http-native"),
        || journey_plugin_misbehave::Misbehave::deliver(&native_host, &msg),
    );
    report(
        "one HTTP request (1 KB message, small JSON POST, HTTP stubbed)",
        "call",
        component,
        native,
        "goal ≥ 100,000 calls/s",
    );

    // The webhook connector with the HTTP transport stubbed.
    let webhook = host
        .load_file(components.path("webhook"))
        .expect("webhook loads");
    let setup = Arc::new(ChannelSetup {
        channel: "call_center".into(),
        config: [("url".to_string(), url.to_string())].into(),
        secrets: [("signing_secret".to_string(), "s3cret".to_string())].into(),
        allowed_hosts: vec!["hooks.example".into()],
    });
    let native_host = StubHost::new()
        .with_config("url", url)
        .with_secret("signing_secret", "s3cret")
        .without_recording()
        .responder(stub);
    let (component, native) = compare(
        &webhook,
        &setup,
        &msg,
        calls,
        rounds("webhook-component"),
        rounds("webhook-native"),
        || journey_connector_webhook::Webhook::deliver(&native_host, &msg),
    );
    report(
        "webhook connector (1 KB message as HMAC-signed JSON, HTTP stubbed)",
        "call",
        component,
        native,
        "the connector's own work included",
    );

    // Batches: the 1 KB message, as many times as the dispatcher puts in one call by
    // default, each with its own idempotency key.
    let batch: Vec<Message> = (0..journey_host::DEFAULT_BATCH_SIZE)
        .map(|i| Message {
            idempotency_key: format!("{}-{i}", msg.idempotency_key),
            ..msg.clone()
        })
        .collect();
    let native_host = StubHost::new()
        .with_config("mode", "ok")
        .without_recording();
    let (component, native) = compare_batch(
        &misbehave,
        &ok,
        &batch,
        calls,
        rounds("batch-component"),
        rounds("batch-native"),
        || journey_plugin_misbehave::Misbehave::deliver_batch(&native_host, &batch),
    );
    report(
        &format!(
            "batch of {} (1 KB messages, no HTTP), per message",
            batch.len()
        ),
        "message",
        component,
        native,
        "goal ≤ 2 µs overhead",
    );
    let (typed, _) = compare_batch(
        &misbehave_typed,
        &ok,
        &batch,
        calls,
        rounds("batch-typed"),
        0,
        || (),
    );
    report_typed(
        &format!("batch of {}, per message", batch.len()),
        "message",
        component,
        typed,
    );
    let native_host = StubHost::new()
        .with_config("mode", "declared")
        .with_config("url", url)
        .without_recording()
        .responder(stub);
    let (component, native) = compare_batch(
        &misbehave,
        &declared,
        &batch,
        calls,
        rounds("batch-http-component"),
        rounds("batch-http-native"),
        || journey_plugin_misbehave::Misbehave::deliver_batch(&native_host, &batch),
    );
    report(
        &format!(
            "batch of {} with one HTTP request per message (HTTP stubbed), per message",
            batch.len()
        ),
        "message",
        component,
        native,
        "goal ≥ 100,000 calls/s",
    );

    // The webhook connector posting each batch in one request to `batch_url`.
    let batch_url = "https://hooks.example/batch";
    let batched = Arc::new(ChannelSetup {
        config: [
            ("url".to_string(), url.to_string()),
            ("batch_url".to_string(), batch_url.to_string()),
        ]
        .into(),
        ..(*setup).clone()
    });
    let native_host = StubHost::new()
        .with_config("url", url)
        .with_config("batch_url", batch_url)
        .with_secret("signing_secret", "s3cret")
        .without_recording()
        .responder(stub);
    let (component, native) = compare_batch(
        &webhook,
        &batched,
        &batch,
        calls,
        rounds("batch-webhook-component"),
        rounds("batch-webhook-native"),
        || journey_connector_webhook::Webhook::deliver_batch(&native_host, &batch),
    );
    report(
        &format!(
            "webhook connector with batch_url: {} messages in one signed request (HTTP stubbed), per message",
            batch.len()
        ),
        "message",
        component,
        native,
        "goal ≥ 100,000 calls/s",
    );

    // Fresh instances.
    let n = (calls / 4).max(100);
    let fresh = best(rounds("fresh"), n, || {
        let i = webhook.instantiate().expect("instance");
        std::hint::black_box(i);
    });
    if fresh != f64::MAX {
        println!(
            "fresh instance (pooled, new store and WASI context): {:.2} µs; goal ≤ 20 µs",
            fresh / 1000.0
        );
    }
    let cold = {
        let t = Instant::now();
        let h = PluginHost::new(HostConfig::default()).expect("host");
        let p = h
            .load_file(components.path("webhook"))
            .expect("webhook loads");
        let took = t.elapsed();
        std::hint::black_box(p);
        took
    };
    println!(
        "load without cache (compile + contract check + manifest): {:.1} ms",
        cold.as_secs_f64() * 1000.0
    );
}
