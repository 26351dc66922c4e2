//! Contract 1.1's `batch.deliver-batch`: plugins that export it get the messages due
//! together on a channel in one call; plugins built against 1.0.0 (without it) still load
//! and get one `deliver` call per message.

mod common;

use common::{host, load, message, mode, setup};
use journey_host::{BatchDelivery, ErrorKind, PluginError, RetryPolicy};
use journey_plugin_api::{Message, Outcome};

/// `n` messages with the idempotency keys `k0`, `k1`, ...
fn messages(n: usize) -> Vec<Message> {
    (0..n)
        .map(|i| {
            let mut m = message(&[("text", "bonjour")], &[], &[]);
            m.idempotency_key = format!("k{i}");
            m
        })
        .collect()
}

/// The errors of `d`, which must have failed every one of its `n` messages.
fn errors(d: &BatchDelivery, n: usize) -> Vec<&PluginError> {
    assert_eq!(d.results.len(), n);
    d.results
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|_| ())
                .map_err(|e| &**e)
                .expect_err("failed")
        })
        .collect()
}

fn accepted(results: &[Result<Outcome, Box<PluginError>>]) -> Vec<String> {
    results
        .iter()
        .map(|r| match r {
            Ok(Outcome::Accepted(id)) => id.clone(),
            other => panic!("not accepted: {other:?}"),
        })
        .collect()
}

#[test]
fn a_plugin_built_against_contract_1_0_loads_and_gets_one_call_per_message() {
    let h = host();
    let old = load(&h, "contract-1-0");
    assert_eq!(old.manifest().contract, "1.0.0");
    assert!(!old.batches(), "a 1.0 plugin has no `batch` export");
    let mut i = old.instantiate().expect("instance");
    let s = setup("legacy", &[("prefix", "old-")], &[], &[]);
    let one = i.deliver(&s, &messages(1)[0]).expect("delivers");
    assert_eq!(one.outcome, Outcome::Accepted("old-k0".into()));
    let d = i.deliver_batch(&s, &messages(3));
    assert_eq!(d.calls, 3, "one `deliver` per message");
    assert_eq!(accepted(&d.results), ["old-k0", "old-k1", "old-k2"]);
}

#[test]
fn plugins_of_contract_1_1_get_a_batch_in_one_call_in_order() {
    let h = host();
    let p = load(&h, "misbehave");
    assert_eq!(p.manifest().contract, journey_plugin_api::CONTRACT_VERSION);
    assert!(p.batches());
    let mut i = p.instantiate().expect("instance");
    let d = i.deliver_batch(&mode("batch-size"), &messages(5));
    assert_eq!(d.calls, 1);
    assert_eq!(
        accepted(&d.results),
        ["5-k0", "5-k1", "5-k2", "5-k3", "5-k4"]
    );
    // `deliver` is still there, for one message.
    let one = i
        .deliver(&mode("batch-size"), &messages(1)[0])
        .expect("delivers");
    assert_eq!(one.outcome, Outcome::Accepted("1-k0".into()));
    // An empty batch makes no call.
    let none = i.deliver_batch(&mode("batch-size"), &[]);
    assert_eq!((none.calls, none.results.len()), (0, 0));
}

#[test]
fn a_batch_answer_of_the_wrong_length_fails_every_message_of_the_call() {
    let h = host();
    let p = load(&h, "misbehave");
    let mut i = p.instantiate().expect("instance");
    let d = i.deliver_batch(&mode("short"), &messages(3));
    for e in errors(&d, 3) {
        assert!(matches!(e.kind, ErrorKind::Malformed(_)), "{e}");
        assert!(
            e.to_string()
                .contains("`deliver-batch` answered 2 outcomes for 3 messages"),
            "{e}"
        );
        assert!(e.is_transient(), "retried: {e}");
    }
    // A malformed answer does not stop the instance.
    assert!(i.is_usable());
    let ok = i.deliver_batch(&mode("ok"), &messages(2));
    assert_eq!(accepted(&ok.results), ["ok-k0", "ok-k1"]);
}

#[test]
fn a_trap_in_a_batch_fails_every_message_and_stops_the_instance() {
    let h = host();
    let p = load(&h, "misbehave");
    let mut i = p.instantiate().expect("instance");
    let d = i.deliver_batch(&mode("panic"), &messages(3));
    for e in errors(&d, 3) {
        assert!(matches!(e.kind, ErrorKind::Trap(_)), "{e}");
        assert!(e.to_string().contains("panicked"), "{e}");
    }
    assert!(!i.is_usable());
    let again = i.deliver_batch(&mode("ok"), &messages(2));
    for e in errors(&again, 2) {
        assert!(e.to_string().contains("cannot be reused"), "{e}");
    }
    assert_eq!(again.calls, 0);
}

#[test]
fn a_batch_that_runs_past_its_deadline_is_stopped_and_every_message_fails() {
    let h = host();
    let p = load(&h, "misbehave");
    let mut i = p.instantiate().expect("instance");
    let started = std::time::Instant::now();
    let d = i.deliver_batch(&mode("loop"), &messages(2));
    // The test host's deadline is 400 ms a call, so 800 ms for two messages.
    assert!(started.elapsed() >= std::time::Duration::from_millis(800));
    for e in errors(&d, 2) {
        assert!(
            matches!(e.kind, ErrorKind::Deadline(d) if d == std::time::Duration::from_millis(800)),
            "{e}"
        );
    }
    assert!(!i.is_usable());
}

#[test]
fn a_1_0_plugin_that_stops_mid_batch_gives_the_rest_its_error() {
    let h = host();
    let old = load(&h, "contract-1-0");
    let mut i = old.instantiate().expect("instance");
    let d = i.deliver_batch(
        &setup("legacy", &[("prefix", "trap")], &[], &[]),
        &messages(3),
    );
    assert_eq!(d.calls, 1, "the first call stopped the instance");
    for e in errors(&d, 3) {
        assert!(matches!(e.kind, ErrorKind::Trap(_)), "{e}");
        assert!(e.to_string().contains("panicked"), "{e}");
    }
    assert!(!i.is_usable());
}

const PROJECT: &str = r#"
profile { phone: string? }
event go
channel sized uses "misbehave" { config { mode: "batch-size" } }
channel legacy uses "contract-1-0" { config { prefix: "old-" } }
journey both {
  entry on go
  send sized "to the batching plugin"
  send legacy "to the 1.0 plugin"
}
"#;

fn program() -> std::sync::Arc<journey_bytecode::Program> {
    common::compile(PROJECT, "batch")
}

#[test]
fn the_dispatcher_batches_the_sends_of_one_instant_per_channel() {
    let program = program();
    let h = host();
    let plugins = vec![load(&h, "misbehave"), load(&h, "contract-1-0")];
    let mut d = common::dispatcher(&program, plugins, RetryPolicy::default());
    d.batch_size(4);
    let t0 = 1_800_000_000;
    // Ten customers at one instant, three at another a minute later.
    let instants: Vec<i64> = (0..13).map(|n| if n < 10 { t0 } else { t0 + 60 }).collect();
    common::send_through(&mut d, &program, "go", &instants);
    let stats = d.stats();
    let (misbehave, legacy) = (&stats[0].1, &stats[1].1);
    assert_eq!(misbehave.accepted, 13, "{misbehave:?}");
    assert_eq!(misbehave.calls, 4, "4 + 4 + 2, then 3: {misbehave:?}");
    assert_eq!(legacy.accepted, 13, "{legacy:?}");
    assert_eq!(legacy.calls, 13, "one call per message: {legacy:?}");
    let sizes: Vec<&str> = d
        .records()
        .iter()
        .filter(|r| r.channel == "sized")
        .map(|r| {
            r.result
                .strip_prefix("accepted ")
                .and_then(|id| id.split('-').next())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        sizes,
        [
            "4", "4", "4", "4", "4", "4", "4", "4", "2", "2", "3", "3", "3"
        ]
    );
    assert!(
        d.records()
            .iter()
            .filter(|r| r.channel == "legacy")
            .all(|r| r.result.starts_with("accepted old-")),
        "{:?}",
        d.records()
    );
    // One call per message when asked.
    let mut one = common::dispatcher(
        &program,
        vec![load(&h, "misbehave")],
        RetryPolicy::default(),
    );
    one.batch_size(0);
    common::send_through(&mut one, &program, "go", &[t0; 5]);
    let s = &one.stats()[0].1;
    assert_eq!((s.calls, s.accepted), (5, 5), "{s:?}");
    assert!(
        one.records()
            .iter()
            .all(|r| r.result.starts_with("accepted 1-")),
        "{:?}",
        one.records()
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

    /// Whatever the batch size and however sends fall on instants, every send is delivered
    /// exactly once, in calls of at most the batch size, one group per instant and channel.
    #[test]
    fn batches_cover_every_send_once(
        size in 1usize..6,
        offsets in proptest::collection::vec(0i64..4, 1..24),
    ) {
        let program = program();
        let h = host();
        let plugins = vec![load(&h, "misbehave"), load(&h, "contract-1-0")];
        let mut d = common::dispatcher(&program, plugins, RetryPolicy::default());
        d.batch_size(size);
        let t0 = 1_800_000_000;
        let mut instants: Vec<i64> = offsets.iter().map(|off| t0 + off * 60).collect();
        instants.sort_unstable();
        common::send_through(&mut d, &program, "go", &instants);
        let stats = d.stats();
        let n = offsets.len() as u64;
        proptest::prop_assert_eq!(stats[0].1.accepted, n);
        proptest::prop_assert_eq!(stats[1].1.accepted, n);
        let mut per_instant = std::collections::BTreeMap::new();
        for off in &offsets {
            *per_instant.entry(*off).or_insert(0usize) += 1;
        }
        let calls: usize = per_instant.values().map(|k| k.div_ceil(size)).sum();
        proptest::prop_assert_eq!(stats[0].1.calls, calls as u64);
        let mut keys: Vec<&str> = d
            .records()
            .iter()
            .filter(|r| r.channel == "sized")
            .map(|r| r.key.as_str())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        proptest::prop_assert_eq!(keys.len() as u64, n);
    }
}
