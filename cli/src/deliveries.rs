//! `--plugins` of `journey simulate` and `journey test`: every send goes through the real
//! channel plugins that journey.toml's `[plugins]` names (their `component`), against a
//! local recording server, so nothing reaches a provider.
//!
//! Environment variables that are not set and secrets (read from environment variables of
//! the same name) that are missing get placeholders, `http://sink.invalid/NAME` and
//! `placeholder-NAME`: a run needs no credentials.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use journey_bytecode::Program;
use journey_compiler::Compilation;
use journey_host::sink::Sink;
use journey_host::{DeliveryStats, Dispatcher, Plugin, RetryPolicy, Secrets, Transport};

use crate::plugin::one_line;
use crate::simulate::Table;

/// Secrets from environment variables, with placeholders for the missing ones.
#[derive(Default)]
struct Lookup {
    env: RefCell<BTreeSet<String>>,
    secrets: RefCell<BTreeSet<String>>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Lookup {
    fn env(&self, name: &str) -> Option<String> {
        var(name).or_else(|| {
            self.env.borrow_mut().insert(name.to_string());
            Some(format!("http://sink.invalid/{name}"))
        })
    }
}

impl Secrets for Lookup {
    fn get(&self, name: &str) -> Option<String> {
        var(name).or_else(|| {
            self.secrets.borrow_mut().insert(name.to_string());
            Some(format!("placeholder-{name}"))
        })
    }
}

/// The plugins of a project, loaded, and the local server their requests go to.
pub struct Routing {
    program: Arc<Program>,
    sink: Sink,
    plugins: Vec<Plugin>,
    /// Plugins of `[plugins]` without a `component`.
    without_component: Vec<String>,
    lookup: Lookup,
    /// The most messages per call into a plugin ([`Dispatcher::batch_size`]).
    batch_size: usize,
}

/// Counts of one plugin, summed over dispatchers.
#[derive(Default, Clone)]
pub struct Totals {
    /// Per plugin (`name version`), in load order.
    pub plugins: Vec<(String, DeliveryStats)>,
    /// Sends on channels without a loaded plugin, per channel.
    pub unrouted: BTreeMap<String, u64>,
}

impl Totals {
    /// Adds a dispatcher's counts.
    pub fn add(&mut self, d: &Dispatcher) {
        let stats = d.stats();
        if self.plugins.is_empty() {
            self.plugins = stats
                .iter()
                .map(|(label, _)| (label.clone(), DeliveryStats::default()))
                .collect();
        }
        for ((_, total), (_, s)) in self.plugins.iter_mut().zip(&stats) {
            *total += s;
        }
        for (ch, n) in d.unrouted() {
            *self.unrouted.entry(ch.clone()).or_default() += n;
        }
    }
}

/// Mean microseconds per call into the plugin (a call may carry a batch of messages).
fn mean_micros(s: &DeliveryStats) -> f64 {
    per(s.call_micros, s.calls)
}

/// Mean microseconds per attempt at a message (what each message cost, batches shared out).
fn mean_micros_per_message(s: &DeliveryStats) -> f64 {
    per(
        s.call_micros,
        s.accepted + s.retry_after + s.failed + s.errors,
    )
}

fn per(micros: u64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        (micros as f64 / n as f64 * 10.0).round() / 10.0
    }
}

impl Routing {
    /// Loads the components `[plugins]` names (paths relative to journey.toml, whose
    /// directory is `root`) and starts the local server.
    pub fn load(c: &Compilation, program: Arc<Program>, root: &Path) -> Result<Routing> {
        let sink = Sink::start().map_err(|e| anyhow!("cannot start the local HTTP server: {e}"))?;
        let host = crate::plugin::host(Transport::Sink(sink.addr()))?;
        let mut plugins = Vec::new();
        let mut without_component = Vec::new();
        for (name, p) in &c.plugins.by_name {
            let Some(component) = &p.component_path else {
                without_component.push(name.clone());
                continue;
            };
            let path = root.join(component);
            let plugin = crate::plugin::load(&host, &path).map_err(|e| {
                anyhow!(
                    "`[plugins.{name}]` component `{}`: {e} (build the component, fix the path in journey.toml, or remove `component` to leave the plugin's channels unrouted)",
                    path.display(),
                )
            })?;
            if plugin.manifest().name != *name {
                bail!(
                    "`[plugins.{name}]` component `{}` is the plugin `{}`, not `{name}`: fix the path in journey.toml",
                    path.display(),
                    plugin.manifest().name
                );
            }
            if let Some(declared) = &p.manifest
                && declared != plugin.manifest()
            {
                eprintln!(
                    "warning: the component of the plugin `{name}` declares another manifest than `{}`: regenerate it with `journey plugin check {} --format json > {}`",
                    p.manifest_path,
                    path.display(),
                    root.join(&p.manifest_path).display()
                );
            }
            plugins.push(plugin);
        }
        let routing = Routing {
            program,
            sink,
            plugins,
            without_component,
            lookup: Lookup::default(),
            batch_size: journey_host::DEFAULT_BATCH_SIZE,
        };
        // Resolves every channel now, so that a configuration error stops the run before
        // anything is simulated.
        routing.dispatcher()?;
        Ok(routing)
    }

    /// Sets the most messages a dispatcher hands a plugin in one call (the sends due at one
    /// instant on one channel go together).
    pub fn set_batch_size(&mut self, n: usize) {
        self.batch_size = n.max(1);
    }

    /// A fresh dispatcher over the plugins.
    pub fn dispatcher(&self) -> Result<Dispatcher> {
        let env = |name: &str| self.lookup.env(name);
        let batch_size = self.batch_size;
        Dispatcher::new(
            self.program.clone(),
            self.plugins.clone(),
            &env,
            &self.lookup,
            RetryPolicy::default(),
        )
        .map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(|e| one_line(&e.to_string())).collect();
            anyhow!(
                "{} (fix the channel's `config {{ }}` or the environment variable it reads; an unset variable gets a placeholder)",
                lines.join("; ")
            )
        })
        .map(|mut d| {
            d.batch_size(batch_size);
            d
        })
    }

    /// Requests the local server received.
    pub fn requests(&self) -> usize {
        self.sink.requests().len()
    }

    /// The deliveries section as text.
    pub fn text(&self, t: &Totals) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\ndeliveries through channel plugins (local server {}: {} requests)",
            self.sink.url(""),
            self.requests()
        );
        if self.plugins.is_empty() {
            let _ = writeln!(
                out,
                "  no plugin of journey.toml's [plugins] has a `component`"
            );
        } else {
            let mut table =
                Table::new(&[false, true, true, true, true, true, true, true, true, true]);
            table.row(
                [
                    "plugin",
                    "calls",
                    "accepted",
                    "retry-after",
                    "failed",
                    "errors",
                    "dead-lettered",
                    "rate-limited",
                    "µs/call",
                    "µs/message",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            );
            for (label, s) in &t.plugins {
                table.row(vec![
                    label.clone(),
                    s.calls.to_string(),
                    s.accepted.to_string(),
                    s.retry_after.to_string(),
                    s.failed.to_string(),
                    s.errors.to_string(),
                    s.dead_lettered.to_string(),
                    s.rate_limited.to_string(),
                    format!("{:.1}", mean_micros(s)),
                    format!("{:.1}", mean_micros_per_message(s)),
                ]);
            }
            table.render("  ", &mut out);
        }
        if t.unrouted.is_empty() {
            let _ = writeln!(out, "  unrouted: none");
        } else {
            let list: Vec<String> = t.unrouted.iter().map(|(c, n)| format!("{c} {n}")).collect();
            let _ = writeln!(out, "  unrouted (no loaded plugin): {}", list.join(", "));
        }
        if !self.without_component.is_empty() {
            let _ = writeln!(
                out,
                "  plugins without a component: {}",
                self.without_component.join(", ")
            );
        }
        if let Some(note) = self.placeholder_note() {
            let _ = writeln!(out, "  {note}");
        }
        out
    }

    /// The deliveries section as JSON.
    pub fn json(&self, t: &Totals) -> serde_json::Value {
        let plugins: Vec<serde_json::Value> = t
            .plugins
            .iter()
            .map(|(label, s)| {
                serde_json::json!({
                    "plugin": label,
                    "calls": s.calls,
                    "accepted": s.accepted,
                    "retry_after": s.retry_after,
                    "failed": s.failed,
                    "errors": s.errors,
                    "dead_lettered": s.dead_lettered,
                    "rate_limited": s.rate_limited,
                    "instances": s.instances,
                    "mean_micros_per_call": mean_micros(s),
                    "mean_micros_per_message": mean_micros_per_message(s),
                })
            })
            .collect();
        serde_json::json!({
            "plugins": plugins,
            "unrouted": t.unrouted,
            "without_component": self.without_component,
            "sink_requests": self.requests(),
            "placeholders": {
                "env": *self.lookup.env.borrow(),
                "secrets": *self.lookup.secrets.borrow(),
            },
        })
    }

    /// The one line that says which values are placeholders, if any is.
    pub fn placeholder_note(&self) -> Option<String> {
        let env = self.lookup.env.borrow();
        let secrets = self.lookup.secrets.borrow();
        if env.is_empty() && secrets.is_empty() {
            return None;
        }
        let mut parts = Vec::new();
        if !env.is_empty() {
            parts.push(format!(
                "unset environment variables {} read as http://sink.invalid/NAME",
                env.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if !secrets.is_empty() {
            parts.push(format!(
                "missing secrets {} read as placeholder-NAME",
                secrets.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        Some(format!(
            "placeholders: {} (every request went to the local server)",
            parts.join("; ")
        ))
    }
}
