//! What crossing the component boundary costs, measured against the same connector code
//! called natively, in the same run:
//!
//! - **boundary**: the `misbehave` plugin in `ok` mode (no HTTP; it formats an id from the
//!   message) with a 1 KB message: component call on a warm instance vs. native call;
//! - **webhook**: the real webhook connector (JSON body, HMAC signature) with the HTTP
//!   transport stubbed: in the host (`Transport::Stub`, no socket) vs. natively
//!   (`StubHost`);
//! - **fresh instance**: instantiating a connector from the pool, new store and WASI
//!   context included, then dropping it.
//!
//! `cargo bench -p journey-host --bench deliver [-- --calls N]`. Goals: ≤ 2 µs overhead per
//! call, ≤ 20 µs per fresh instance, ≥ 100,000 deliver calls/s per core.

use std::sync::Arc;
use std::time::Instant;

use journey_host::{ChannelSetup, HostConfig, PluginHost, Transport};
use journey_plugin_api::{Content, Message, ParamValue};
use journey_plugin_sdk::testing::StubHost;
use journey_plugin_sdk::{Connector, HttpResponse};

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

fn main() {
    let mut calls = 20_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--calls"
            && let Some(n) = args.next().and_then(|n| n.parse().ok())
        {
            calls = n;
        }
    }
    let components = match journey_plugin_build::components() {
        Ok(c) => c,
        Err(e) => panic!("the plugin components could not be built:\n{e}"),
    };
    let host = PluginHost::new(HostConfig {
        transport: Transport::Stub(200),
        max_instances: 64,
        ..HostConfig::default()
    })
    .expect("host");
    let msg = message();
    println!(
        "message: {} bytes as JSON; {calls} calls per round, best of 5 rounds",
        size(&msg)
    );

    // Boundary: misbehave in `ok` mode.
    let plugin = host
        .load_file(components.path("misbehave"))
        .expect("misbehave loads");
    let ok = Arc::new(ChannelSetup {
        channel: "bench".into(),
        config: [("mode".to_string(), "ok".to_string())].into(),
        ..ChannelSetup::default()
    });
    let mut inst = plugin.instantiate().expect("instance");
    let component_ok = best(5, calls, || {
        let d = inst.deliver(&ok, &msg).expect("delivers");
        std::hint::black_box(d);
    });
    let native_host = StubHost::new()
        .with_config("mode", "ok")
        .without_recording();
    let native_ok = best(5, calls, || {
        let o = journey_plugin_misbehave::Misbehave::deliver(&native_host, &msg);
        std::hint::black_box(o);
    });
    println!(
        "boundary (1 KB message, no HTTP): component {:.2} µs/call ({:.0} calls/s), native {:.2} µs/call, overhead {:.2} µs/call ({:.1}× native); goal ≤ 2 µs overhead",
        component_ok / 1000.0,
        1e9 / component_ok,
        native_ok / 1000.0,
        (component_ok - native_ok) / 1000.0,
        component_ok / native_ok.max(1.0)
    );

    // Webhook with the HTTP transport stubbed.
    let webhook = host
        .load_file(components.path("webhook"))
        .expect("webhook loads");
    let setup = Arc::new(ChannelSetup {
        channel: "call_center".into(),
        config: [("url".to_string(), "https://hooks.example/tasks".to_string())].into(),
        secrets: [("signing_secret".to_string(), "s3cret".to_string())].into(),
        allowed_hosts: vec!["hooks.example".into()],
    });
    let mut inst = webhook.instantiate().expect("instance");
    let component_hook = best(5, calls, || {
        let d = inst.deliver(&setup, &msg).expect("delivers");
        std::hint::black_box(d);
    });
    let native_host = StubHost::new()
        .with_config("url", "https://hooks.example/tasks")
        .with_secret("signing_secret", "s3cret")
        .without_recording()
        .responder(|_| {
            Ok(HttpResponse::new(200).with_body(journey_host::STUB_BODY.as_bytes().to_vec()))
        });
    let native_hook = best(5, calls, || {
        let o = journey_connector_webhook::Webhook::deliver(&native_host, &msg);
        std::hint::black_box(o);
    });
    println!(
        "webhook (HMAC-signed JSON, HTTP stubbed): component {:.2} µs/call ({:.0} calls/s), native {:.2} µs/call, overhead {:.2} µs/call ({:.1}× native); goal ≥ 100,000 calls/s",
        component_hook / 1000.0,
        1e9 / component_hook,
        native_hook / 1000.0,
        (component_hook - native_hook) / 1000.0,
        component_hook / native_hook.max(1.0)
    );

    // Fresh instances.
    let n = (calls / 4).max(100);
    let fresh = best(5, n, || {
        let i = webhook.instantiate().expect("instance");
        std::hint::black_box(i);
    });
    println!(
        "fresh instance (pooled, new store and WASI context): {:.2} µs; goal ≤ 20 µs",
        fresh / 1000.0
    );
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
