//! Plugins that misbehave on purpose (`plugins/testing/misbehave`): each failure is stopped
//! and named, the next call gets a fresh instance, and other channels' sends go through.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{host, load, message, mode, setup};
use journey_host::{ErrorKind, HostConfig, PluginHost, RetryPolicy, Transport};
use journey_plugin_api::Outcome;

fn msg() -> journey_plugin_api::Message {
    message(&[("text", "bonjour")], &[], &[])
}

/// `mode_name` with the sink's URL as `url` and the sink's address declared (resolved into
/// the allow-list).
fn with_sink(mode_name: &str, sink: &journey_host::sink::Sink) -> Arc<journey_host::ChannelSetup> {
    setup(
        "misbehaving",
        &[("mode", mode_name), ("url", &sink.url("/hook"))],
        &[],
        &[&sink.addr().to_string()],
    )
}

#[test]
fn the_misbehaving_plugin_loads_and_behaves_when_asked() {
    let h = host();
    let p = load(&h, "misbehave");
    assert_eq!(p.manifest().name, "misbehave");
    assert_eq!(
        p.id().version.as_deref(),
        Some(p.manifest().version.as_str())
    );
    let mut i = p.instantiate().expect("instantiates");
    let d = i.deliver(&mode("ok"), &msg()).expect("ok mode delivers");
    assert_eq!(d.outcome, Outcome::Accepted("ok-0123456789abcdef".into()));
}

/// A call that runs straight through is finished without the scheduler; one that waits on
/// HTTP is handed over to it, and the instance then expects the next call to wait too. Both
/// kinds, in any order on one instance, must deliver.
#[test]
fn one_instance_serves_calls_that_wait_and_calls_that_do_not() {
    let sink = journey_host::sink::Sink::start().expect("sink");
    let h = host();
    let p = load(&h, "misbehave");
    let mut i = p.instantiate().expect("instantiates");
    let declared = with_sink("declared", &sink);
    let order = ["ok", "declared", "declared", "ok", "ok", "declared", "ok"];
    for (n, m) in order.iter().enumerate() {
        let s = if *m == "ok" {
            mode("ok")
        } else {
            declared.clone()
        };
        let d = i
            .deliver(&s, &msg())
            .unwrap_or_else(|f| panic!("call {n} ({m}): {}", f.error));
        assert!(
            matches!(d.outcome, Outcome::Accepted(_)),
            "call {n} ({m}): {:?}",
            d.outcome
        );
        assert_eq!(
            d.http.len(),
            usize::from(*m == "declared"),
            "call {n} ({m})"
        );
    }
    assert_eq!(sink.requests().len(), 3);
    assert!(i.is_usable());
}

/// Delivers in `mode`, which never returns by itself: the call must end with the 400 ms
/// deadline, poison its instance, and leave the plugin able to serve from a fresh one.
fn assert_stopped_at_the_deadline(mode_name: &str) {
    let h = host();
    let p = load(&h, "misbehave");
    let mut i = p.instantiate().expect("instantiates");
    let started = Instant::now();
    let f = i
        .deliver(&mode(mode_name), &msg())
        .expect_err("the call is stopped");
    let took = started.elapsed();
    assert_eq!(
        f.error.kind,
        ErrorKind::Deadline(Duration::from_millis(400))
    );
    assert!(took >= Duration::from_millis(400), "stopped after {took:?}");
    assert!(took < Duration::from_secs(5), "stopped after {took:?}");
    assert!(!i.is_usable(), "a stopped instance is not reused");
    let text = f.error.to_string();
    assert!(text.starts_with("plugin `misbehave` "), "{text}");
    assert!(text.contains("deadline of 400 ms"), "{text}");
    // The plugin itself is fine: a fresh instance serves the next call.
    let mut fresh = p.instantiate().expect("a fresh instance");
    assert!(fresh.deliver(&mode("ok"), &msg()).is_ok());
}

#[test]
fn an_infinite_loop_is_stopped_at_the_deadline() {
    assert_stopped_at_the_deadline("loop");
}

#[test]
fn a_plugin_waiting_on_a_clock_is_stopped_at_the_deadline() {
    // `stall` sleeps for an hour on a WASI clock: no wasm runs while it waits, so epoch
    // interruption alone would never fire; the call's timer on the runtime must.
    assert_stopped_at_the_deadline("stall");
}

#[test]
fn a_blocking_call_inside_a_current_thread_runtime_is_refused_not_a_panic() {
    let h = host();
    let p = load(&h, "misbehave");
    let mut i = p.instantiate().expect("instantiates");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let f = rt.block_on(async {
        i.deliver(&mode("ok"), &msg())
            .expect_err("blocking inside a task is refused")
    });
    assert!(
        matches!(f.error.kind, ErrorKind::Runtime(_)),
        "{:?}",
        f.error
    );
    assert!(f.error.to_string().contains("_async"), "{}", f.error);
    assert!(i.is_usable(), "a refused call does not spoil the instance");
    // The async form works there, and the blocking form works outside.
    let d = rt
        .block_on(i.deliver_async(&mode("ok"), &msg()))
        .expect("the async form delivers");
    assert_eq!(d.outcome, Outcome::Accepted("ok-0123456789abcdef".into()));
    assert!(i.deliver(&mode("ok"), &msg()).is_ok());
}

#[test]
fn blocking_calls_work_from_tasks_of_a_multi_thread_runtime() {
    // A server's handlers run as tasks on worker threads: the blocking forms hand the
    // worker over while they run, and a plugin's HTTP still completes.
    let sink = journey_host::sink::Sink::start().expect("sink");
    let h = host();
    let p = load(&h, "misbehave");
    let declared = setup(
        "misbehaving",
        &[("mode", "declared"), ("url", &sink.url("/hook"))],
        &[],
        &[&sink.addr().to_string()],
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let outcomes = rt.block_on(async move {
        let task = tokio::spawn(async move {
            let mut i = p.instantiate().expect("instantiates in a task");
            let first = i.deliver(&mode("ok"), &msg()).map(|d| d.outcome);
            let second = i.deliver(&declared, &msg()).map(|d| d.outcome);
            (first, second)
        });
        task.await.expect("the task ends")
    });
    let (first, second) = outcomes;
    assert_eq!(
        first.expect("delivers"),
        Outcome::Accepted("ok-0123456789abcdef".into())
    );
    assert!(
        matches!(second.expect("delivers over HTTP"), Outcome::Accepted(_)),
        "the declared request went through"
    );
    assert_eq!(sink.requests().len(), 1);
}

#[test]
fn a_memory_hog_is_capped() {
    let h = host();
    let p = load(&h, "misbehave");
    let mut i = p.instantiate().expect("instantiates");
    let f = i
        .deliver(&mode("hog"), &msg())
        .expect_err("the hog is stopped");
    assert_eq!(
        f.error.kind,
        ErrorKind::Memory(32 * 1024 * 1024),
        "{}",
        f.error
    );
    assert!(f.error.to_string().contains("memory cap of 32 MiB"));
    let mut fresh = p.instantiate().expect("a fresh instance");
    assert!(fresh.deliver(&mode("ok"), &msg()).is_ok());
}

#[test]
fn a_panic_is_a_trap_with_its_message() {
    let h = host();
    let p = load(&h, "misbehave");
    let mut i = p.instantiate().expect("instantiates");
    let f = i
        .deliver(&mode("panic"), &msg())
        .expect_err("the panic traps");
    match &f.error.kind {
        ErrorKind::Trap(t) => assert!(t.contains("panicked"), "{t}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(f.error.is_transient());
}

#[test]
fn malformed_results_are_refused() {
    let h = host();
    let p = load(&h, "misbehave");
    for (m, want) in [
        ("garbage", "empty provider id"),
        ("retry-forever", "retry-after"),
    ] {
        let mut i = p.instantiate().expect("instantiates");
        let f = i.deliver(&mode(m), &msg()).expect_err(m);
        match &f.error.kind {
            ErrorKind::Malformed(t) => assert!(t.contains(want), "{m}: {t}"),
            other => panic!("{m}: expected malformed, got {other:?}"),
        }
    }
}

#[test]
fn a_request_to_an_undeclared_host_is_denied() {
    let sink = journey_host::sink::Sink::start().expect("sink");
    let h = host();
    let p = load(&h, "misbehave");
    let mut i = p.instantiate().expect("instantiates");
    // Declared: the sink's URL (as `url`, resolved into the allow-list).
    let declared = with_sink("declared", &sink);
    let d = i.deliver(&declared, &msg()).expect("declared host works");
    assert!(matches!(d.outcome, Outcome::Accepted(_)), "{:?}", d.outcome);
    assert_eq!(sink.requests().len(), 1);
    // Undeclared: refused by the host before any connection.
    let sneaky = with_sink("sneaky", &sink);
    let d = i
        .deliver(&sneaky, &msg())
        .expect("the call itself completes");
    assert_eq!(d.http.len(), 1, "{:?}", d.http);
    let refused = d.http[0].error.as_deref().unwrap_or_default();
    assert!(
        refused.contains("not among the hosts the plugin declared"),
        "{refused}"
    );
    assert_eq!(d.http[0].status, None);
    assert_eq!(sink.requests().len(), 1, "nothing more reached the network");
    assert!(
        !matches!(d.outcome, Outcome::Accepted(_)),
        "the plugin saw the denial: {:?}",
        d.outcome
    );
}

#[test]
fn components_that_are_not_plugins_are_refused_before_instantiation() {
    let h = host();
    let cases: [(&str, &str); 4] = [
        ("not wasm", "not a WebAssembly component"),
        ("(component)", "does not export `journey:channel/connector`"),
        (
            r#"(component (instance $i) (export "journey:channel/connector@2.0.0" (instance $i)))"#,
            "built against contract journey:channel@2.0.0",
        ),
        (
            r#"(component (import "evil:fs/files@1.0.0" (instance)) (instance $i) (export "journey:channel/connector@1.0.0" (instance $i)))"#,
            "imports `evil:fs/files@1.0.0`",
        ),
    ];
    for (text, want) in cases {
        let e = h.load("fake", text.as_bytes()).expect_err(text);
        assert!(e.to_string().contains(want), "{text}: {e}");
        assert!(e.to_string().starts_with("plugin `fake`"), "{e}");
    }
}

#[test]
fn compiled_components_are_cached_by_content_hash() {
    let dir = std::env::temp_dir().join(format!("journey-host-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let h = PluginHost::new(HostConfig {
        cache_dir: Some(dir.clone()),
        ..HostConfig::default()
    })
    .expect("host");
    let path = common::component("misbehave");
    let first = h.load_file(&path).expect("first load");
    assert!(!first.from_cache());
    let second = h.load_file(&path).expect("second load");
    assert!(second.from_cache());
    assert_eq!(first.content_hash(), second.content_hash());
    assert_eq!(first.manifest(), second.manifest());
    let files: Vec<_> = std::fs::read_dir(&dir).expect("cache dir").collect();
    assert_eq!(files.len(), 1);
    // A damaged artifact is compiled again, not trusted.
    for f in std::fs::read_dir(&dir).expect("cache dir").flatten() {
        std::fs::write(f.path(), b"garbage").expect("overwrite");
    }
    let third = h.load_file(&path).expect("third load");
    assert!(!third.from_cache());
    // So is one with a single bit flipped in its code, whose header wasmtime would accept:
    // the seal written with it no longer matches.
    assert!(h.load_file(&path).expect("fourth load").from_cache());
    for f in std::fs::read_dir(&dir).expect("cache dir").flatten() {
        let mut bytes = std::fs::read(f.path()).expect("read the artifact");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(f.path(), bytes).expect("damage the artifact");
    }
    let fifth = h.load_file(&path).expect("fifth load");
    assert!(!fifth.from_cache(), "a damaged artifact was trusted");
    let mut inst = fifth.instantiate().expect("instance");
    let d = inst.deliver(&mode("ok"), &msg()).expect("delivers");
    assert!(
        matches!(d.outcome, journey_plugin_api::Outcome::Accepted(_)),
        "{:?}",
        d.outcome
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A project with two channels on the misbehaving plugin: one that works, one that panics.
const PROJECT: &str = r#"
profile { phone: string? }
event go
channel good uses "misbehave" { config { mode: "ok" } }
channel bad uses "misbehave" { config { mode: "panic" } }
journey both {
  entry on go
  send bad "first, to the broken channel"
  send good "then to the working one"
}
"#;

#[test]
fn a_broken_channel_does_not_stop_the_others() {
    let program = common::compile(PROJECT, "containment");
    let h = PluginHost::new(HostConfig {
        transport: Transport::Network,
        ..HostConfig::default()
    })
    .expect("host");
    let plugin = h.load_file(&common::component("misbehave")).expect("loads");
    let policy = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    let mut d = common::dispatcher(&program, vec![plugin], policy);
    let instants: Vec<i64> = (0..25).map(|n| 1_800_000_000 + n).collect();
    common::send_through(&mut d, &program, "go", &instants);
    let stats = d.stats();
    assert_eq!(stats.len(), 1);
    let s = &stats[0].1;
    assert_eq!(s.accepted, 25, "{s:?}");
    assert_eq!(s.dead_lettered, 25, "{s:?}");
    assert_eq!(s.errors, 75, "three attempts each: {s:?}");
    assert_eq!(d.dead_letters().len(), 25);
    let dl = &d.dead_letters()[0];
    assert_eq!(dl.attempts, 3);
    assert_eq!(dl.message.channel, "bad");
    assert!(dl.reason.contains("plugin `misbehave`"), "{}", dl.reason);
    assert!(dl.reason.contains("panicked"), "{}", dl.reason);
    // Retries wait longer each time (2 s base, doubled, jittered into [d/2, d]).
    let attempts: Vec<_> = d
        .records()
        .iter()
        .filter(|r| r.key == dl.message.idempotency_key)
        .collect();
    assert_eq!(attempts.len(), 3);
    let gap1 = attempts[1].at_ms - attempts[0].at_ms;
    let gap2 = attempts[2].at_ms - attempts[1].at_ms;
    assert!((1000..=2000).contains(&gap1), "{gap1}");
    assert!((2000..=4000).contains(&gap2), "{gap2}");
}

/// How a test server frames its answer.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// `Content-Length`, the body in two writes 50 ms apart: the plugin's first read gets
    /// only the first part, and it must go on reading to the declared length.
    LengthInTwoParts,
    /// `Transfer-Encoding: chunked`, two chunks 50 ms apart.
    Chunked,
    /// Neither: the body ends when the server closes the connection.
    UntilClose,
}

/// Serves one request on `listener`, answering `200` with `{"id":"framed-<framing>"}`.
fn answer_once(listener: &std::net::TcpListener, framing: Framing) {
    use std::io::{BufRead, BufReader, Read, Write};
    let Ok((stream, _)) = listener.accept() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut request_body = vec![0; length];
    let _ = reader.read_exact(&mut request_body);
    let mut stream = reader.into_inner();
    let body = format!(r#"{{"id":"framed-{framing:?}"}}"#);
    let (first, second) = body.split_at(body.len() / 2);
    let pause = || std::thread::sleep(Duration::from_millis(50));
    let mut write = |bytes: &[u8]| {
        let _ = stream.write_all(bytes);
        let _ = stream.flush();
    };
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n";
    match framing {
        Framing::LengthInTwoParts => {
            write(format!("{head}Content-Length: {}\r\n\r\n{first}", body.len()).as_bytes());
            pause();
            write(second.as_bytes());
        }
        Framing::Chunked => {
            write(
                format!(
                    "{head}Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n",
                    first.len()
                )
                .as_bytes(),
            );
            pause();
            write(format!("{:x}\r\n{second}\r\n0\r\n\r\n", second.len()).as_bytes());
        }
        Framing::UntilClose => {
            write(format!("{head}\r\n{first}").as_bytes());
            pause();
            write(second.as_bytes());
        }
    }
}

/// The SDK reads a response to its declared length, or to its end when it declares none:
/// however a server frames the body and however it arrives, the connector gets all of it
/// (`declared` mode answers with the `id` of the JSON body, and with a made-up id when the
/// body is cut short).
#[test]
fn response_bodies_are_read_whole_however_they_are_framed() {
    let h = host();
    let p = load(&h, "misbehave");
    let mut i = p.instantiate().expect("instantiates");
    for framing in [
        Framing::LengthInTwoParts,
        Framing::Chunked,
        Framing::UntilClose,
    ] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = std::thread::spawn(move || answer_once(&listener, framing));
        let s = setup(
            "misbehaving",
            &[
                ("mode", "declared"),
                ("url", &format!("http://{addr}/hook")),
            ],
            &[],
            &[&addr.to_string()],
        );
        let d = i
            .deliver(&s, &msg())
            .unwrap_or_else(|f| panic!("{framing:?}: {}", f.error));
        assert_eq!(
            d.outcome,
            Outcome::Accepted(format!("framed-{framing:?}")),
            "{framing:?}"
        );
        server.join().expect("server thread");
    }
}
