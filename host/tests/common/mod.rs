//! Shared set-up of the host's tests: the real plugin components (built on first use by
//! `journey-plugin-build`), a host with short limits, messages and compiled programs.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use journey_bytecode::Program;
use journey_host::{
    ChannelSetup, Dispatcher, HostConfig, Plugin, PluginHost, RetryPolicy, Transport,
};
use journey_plugin_api::{Content, Message, ParamValue};

/// The path of a built plugin component; panics with the command to run when it cannot be
/// built (the wasm32-wasip2 target missing, say).
pub fn component(name: &str) -> PathBuf {
    match journey_plugin_build::components() {
        Ok(c) => c.path(name).to_path_buf(),
        Err(e) => panic!("the plugin components could not be built:\n{e}"),
    }
}

/// A host with limits short enough for tests.
pub fn host_with(transport: Transport) -> PluginHost {
    PluginHost::new(test_config(transport)).expect("host starts")
}

/// The configuration of [`host_with`].
pub fn test_config(transport: Transport) -> HostConfig {
    HostConfig {
        memory_limit: 32 * 1024 * 1024,
        call_deadline: Duration::from_millis(400),
        http_timeout: Duration::from_secs(2),
        max_instances: 16,
        cache_dir: None,
        transport,
        packed_messages: true,
    }
}

/// A host sending to the network.
pub fn host() -> PluginHost {
    host_with(Transport::Network)
}

/// Loads a built plugin.
pub fn load(host: &PluginHost, name: &str) -> Plugin {
    host.load_file(&component(name))
        .unwrap_or_else(|e| panic!("{name} loads: {e}"))
}

/// A channel set-up.
pub fn setup(
    channel: &str,
    config: &[(&str, &str)],
    secrets: &[(&str, &str)],
    hosts: &[&str],
) -> Arc<ChannelSetup> {
    Arc::new(ChannelSetup {
        channel: channel.to_string(),
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        secrets: secrets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        allowed_hosts: hosts.iter().map(|h| h.to_string()).collect(),
    })
}

/// A message with rendered parts, addresses and parameters.
pub fn message(
    parts: &[(&str, &str)],
    recipient: &[(&str, &str)],
    params: &[(&str, ParamValue)],
) -> Message {
    Message {
        idempotency_key: "0123456789abcdef".to_string(),
        attempt: 1,
        customer_id: "C42".to_string(),
        locale: Some("fr-FR".to_string()),
        time_zone: "Europe/Paris".to_string(),
        channel: "test".to_string(),
        origin: "bienvenue/premier_message".to_string(),
        template: Some("bienvenue".to_string()),
        content: Content::Rendered(
            parts
                .iter()
                .map(|(k, v)| (k.to_string(), ParamValue::Text(v.to_string())))
                .collect(),
        ),
        recipient: recipient
            .iter()
            .map(|(k, v)| (k.to_string(), ParamValue::Text(v.to_string())))
            .collect(),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        offer: None,
        sent_at: "2027-03-01T09:30:00Z".to_string(),
    }
}

/// A channel of the misbehaving plugin in `mode` (see `plugins/testing/misbehave`).
pub fn mode(m: &str) -> Arc<ChannelSetup> {
    setup("misbehaving", &[("mode", m)], &[], &[])
}

/// `source` compiled as a one-file project; panics with the diagnostics if it does not
/// compile.
pub fn compile(source: &str, name: &str) -> Arc<Program> {
    let mut files = journey_compiler::MemoryHost::new();
    files.insert("main.journey", source);
    let input = journey_compiler::Input {
        roots: vec!["main.journey".to_string()],
        default_name: name.to_string(),
        ..journey_compiler::Input::default()
    };
    let c = journey_compiler::compile(&files, &input);
    Arc::new(
        c.program
            .unwrap_or_else(|| panic!("compiles: {:?}", c.diagnostics)),
    )
}

/// A dispatcher for `program` over `plugins`, with no environment and no secrets.
pub fn dispatcher(program: &Arc<Program>, plugins: Vec<Plugin>, policy: RetryPolicy) -> Dispatcher {
    Dispatcher::new(
        program.clone(),
        plugins,
        &|_| None,
        &BTreeMap::new(),
        policy,
    )
    .expect("channels resolve")
}

/// Runs `program`'s event `event` for customers `C0`, `C1`, ... at `instants` (Unix
/// seconds, in time order), hands every send to `d` as the runtime would, then flushes `d`.
pub fn send_through(d: &mut Dispatcher, program: &Arc<Program>, event: &str, instants: &[i64]) {
    let id = program
        .events
        .iter()
        .find(|(_, e)| e.name == event)
        .map(|(id, _)| id)
        .unwrap_or_else(|| panic!("no event `{event}`"));
    let start = instants.first().copied().unwrap_or_default();
    let mut engine =
        journey_runtime::Engine::new(program.clone(), journey_runtime::Config::default(), start);
    for (n, at) in instants.iter().enumerate() {
        engine.event(&format!("C{n}"), id, Vec::new(), *at);
    }
    for e in engine.drain_effects() {
        if let journey_runtime::Effect::Send(s) = e {
            journey_runtime::ChannelSink::deliver(d, &s);
        }
    }
    d.flush();
}
