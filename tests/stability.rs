//! Stable step identities: an edit elsewhere in a journey keeps the keys of the other
//! steps, inside branches too; editing a step's own target changes only its key.

use std::collections::BTreeMap;

use journey_compiler::{Input, MemoryHost, compile};

const BASE: &str = r#"
profile { age: number, optin_sms: bool }
event signup
event purchase { amount: number }
segment jeune = profile.age < 26
channel sms uses "sms" { requires profile.optin_sms }
channel email uses "email" { }
journey j {
  entry on signup
  reentry after exit
  //INSERT
  scenario for jeune { send sms "a" }
  otherwise { send email "b" }
  if profile.age > 40 { send email "c" } else { send sms "d" }
  wait for purchase within 3 days else { send email "e"
    exit }
  timeline { week 1: send sms "f"
             month 6: send email "g" }
}
"#;

fn keys(text: &str) -> BTreeMap<String, u64> {
    let mut host = MemoryHost::new();
    host.insert("main.journey", text.to_string());
    let c = compile(
        &host,
        &Input {
            roots: vec!["main.journey".into()],
            ..Input::default()
        },
    );
    assert_eq!(c.error_count(), 0, "{:?}", c.diagnostics);
    let p = c.program.expect("compiles");
    // Identify steps by their source text, which the edits below leave alone.
    p.steps
        .values()
        .map(|s| {
            (
                text[s.loc.start as usize..s.loc.end as usize].to_string(),
                s.key,
            )
        })
        .collect()
}

#[test]
fn an_unrelated_step_keeps_the_other_keys() {
    let before = keys(BASE);
    let after = keys(&BASE.replace("//INSERT", "send email \"new\"\n  wait 1 day"));
    assert_eq!(after.len(), before.len() + 2);
    for (text, key) in &before {
        assert_eq!(after.get(text), Some(key), "the key of `{text}` changed");
    }
}

#[test]
fn editing_a_send_target_changes_only_that_key() {
    let before = keys(BASE);
    let after = keys(&BASE.replace("send email \"c\"", "send email \"c2\""));
    let changed: Vec<&String> = before
        .keys()
        .filter(|n| after.get(*n) != before.get(*n))
        .collect();
    // Only the edited send, and the if around it whose text includes it.
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert!(changed.iter().all(|t| t.contains("\"c\"")), "{changed:?}");
    let new_send = after
        .keys()
        .find(|t| t.as_str() == "send email \"c2\"")
        .expect("the edited send");
    assert!(!before.values().any(|k| *k == after[new_send]));
}

#[test]
fn keys_are_unique_within_a_journey() {
    let k = keys(BASE);
    let mut values: Vec<u64> = k.values().copied().collect();
    values.sort();
    values.dedup();
    assert_eq!(values.len(), k.len());
}
