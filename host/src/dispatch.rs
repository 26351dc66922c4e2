//! Delivering the runtime's sends through plugins: channel routing and configuration,
//! per-plugin rate limits, retries with exponential backoff and jitter, dead letters.
//!
//! Time is the caller's: [`Dispatcher::advance_to`] takes milliseconds since the Unix epoch,
//! from the wall clock in production and from the virtual clock in simulations, so the same
//! retry schedule is exercised by both.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use std::time::Duration;

use journey_bytecode::{ChannelId, ConfigValue, Const, Program};
use journey_plugin_api::{Content, Message, Offer, Outcome, ParamValue};
use journey_runtime::{ChannelSink, SendRecord, Value};

use crate::error::{ErrorKind, PluginError};
use crate::plugin::{Instance, Plugin};
use crate::state::ChannelSetup;

/// Where secrets come from.
pub trait Secrets {
    /// The secret named `name` (what a channel writes `secret("NAME")`).
    fn get(&self, name: &str) -> Option<String>;
}

impl Secrets for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 5).
    pub max_attempts: u32,
    /// Delay before the second attempt (default 2 s); doubles each attempt.
    pub base_delay: Duration,
    /// The longest delay backoff alone gives (default 1 h); a longer `retry-after` is still
    /// honoured.
    pub max_delay: Duration,
    /// The share of each delay taken off at random (default 0.5: a delay of `d` becomes one
    /// in `[d/2, d]`), so that retries of many messages do not arrive together.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(3600),
            jitter: 0.5,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1`, after attempt `attempt` failed, for the
    /// message with `key`; at least `retry_after`. Deterministic: the jitter comes from a
    /// hash of the key and the attempt.
    pub fn delay(&self, key: &str, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let backoff = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(key.as_bytes());
        h.update(&attempt.to_le_bytes());
        let unit = (h.digest() >> 11) as f64 / (1u64 << 53) as f64;
        let jitter = self.jitter.clamp(0.0, 1.0);
        let jittered = backoff.mul_f64(1.0 - jitter * unit);
        jittered.max(retry_after.unwrap_or_default())
    }
}

/// A message given up on.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The message as last attempted.
    pub message: Message,
    /// Plugin name and version.
    pub plugin: String,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub reason: String,
    /// When it was given up (ms since the epoch).
    pub at_ms: i64,
}

/// A message a plugin failed permanently (its `failed` outcome).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The message as attempted.
    pub message: Message,
    /// Plugin name and version.
    pub plugin: String,
    /// The plugin's reason.
    pub reason: String,
    /// When (ms since the epoch).
    pub at_ms: i64,
}

/// One attempt and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    /// Idempotency key of the message.
    pub key: String,
    /// Channel.
    pub channel: String,
    /// Plugin name and version.
    pub plugin: String,
    /// Attempt number.
    pub attempt: u32,
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// What happened, in words (`accepted SM123`, `retry in 30000 ms: HTTP 429`, ...).
    pub result: String,
}

/// How many messages of one channel [`Dispatcher`] hands a plugin in one call at most, by
/// default (see [`Dispatcher::batch_size`]).
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// Counts per plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryStats {
    /// Calls made into the plugin: one per batch of messages for a plugin with
    /// `deliver-batch`, one per message for one without.
    pub calls: u64,
    /// Messages accepted by the provider.
    pub accepted: u64,
    /// Attempts that asked to be retried (`retry-after`).
    pub retry_after: u64,
    /// Messages failed permanently (the plugin said so).
    pub failed: u64,
    /// Attempts stopped by the host (trap, deadline, memory cap, malformed result).
    pub errors: u64,
    /// Messages dead-lettered after their last attempt.
    pub dead_lettered: u64,
    /// Attempts postponed by the plugin's rate limit.
    pub rate_limited: u64,
    /// Fresh instances made (the first, and after each stopped call).
    pub instances: u64,
    /// Microseconds spent in calls.
    pub call_micros: u64,
}

impl std::ops::AddAssign<&DeliveryStats> for DeliveryStats {
    fn add_assign(&mut self, s: &DeliveryStats) {
        self.calls += s.calls;
        self.accepted += s.accepted;
        self.retry_after += s.retry_after;
        self.failed += s.failed;
        self.errors += s.errors;
        self.dead_lettered += s.dead_lettered;
        self.rate_limited += s.rate_limited;
        self.instances += s.instances;
        self.call_micros += s.call_micros;
    }
}

struct Route {
    plugin: usize,
    setup: Arc<ChannelSetup>,
}

struct Bucket {
    per_ms: f64,
    capacity: f64,
    tokens: f64,
    at_ms: i64,
}

impl Bucket {
    /// Takes a token at `now`, or says when one will be there.
    fn take(&mut self, now: i64) -> Result<(), i64> {
        if self.at_ms == i64::MIN {
            self.at_ms = now;
        }
        if now > self.at_ms {
            self.tokens =
                (self.tokens + (now - self.at_ms) as f64 * self.per_ms).min(self.capacity);
            self.at_ms = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(self.at_ms + ((1.0 - self.tokens) / self.per_ms).ceil() as i64)
        }
    }
}

struct Slot {
    plugin: Plugin,
    label: String,
    instance: Option<Instance>,
    bucket: Option<Bucket>,
    stats: DeliveryStats,
}

struct Pending {
    message: Message,
    route: usize,
}

/// A pending attempt in the retry queue, ordered by due time, then by arrival.
struct Queued {
    due: i64,
    seq: u64,
    pending: Pending,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Queued) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Queued) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Queued) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// The runtime's channel sink over plugins.
pub struct Dispatcher {
    program: Arc<Program>,
    slots: Vec<Slot>,
    routes: Vec<Option<Route>>,
    policy: RetryPolicy,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    unrouted: BTreeMap<String, u64>,
    dead: Vec<DeadLetter>,
    failures: Vec<Failure>,
    records: Vec<DeliveryRecord>,
    keep_records: bool,
    batch_size: usize,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("plugins", &self.slots.len())
            .field("pending", &self.queue.len())
            .finish_non_exhaustive()
    }
}

fn const_text(c: &Const) -> String {
    match c {
        Const::String(s) => s.clone(),
        Const::Number(n) => journey_runtime::value::format_number(*n),
        Const::Bool(b) => b.to_string(),
        Const::Date(d) => d.to_string(),
        Const::Duration(d) => d.to_string(),
        other => Value::from_const(other).render(),
    }
}

/// The host (and port, when the URL gives one) of a URL-valued configuration entry: an
/// `http` or `https` URL. A bare word (`api.example.com`, `notaurl`) parses as a host alone,
/// but a plugin cannot send a request to it, so it is refused here, where the error names
/// the channel and the key, rather than at every delivery.
fn url_host(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return None;
    }
    let host = uri.host()?;
    Some(match uri.port_u16() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// The hosts a channel's plugin may call: the manifest's entries, with each `{key}` replaced
/// by the host (and port, when given) of that configuration value; a key the channel does not
/// set adds nothing. The error is the key and value that are not a URL with a host.
pub fn allowed_hosts(
    manifest: &journey_plugin_api::Manifest,
    setup: &ChannelSetup,
) -> Result<Vec<String>, (String, String)> {
    let mut out = Vec::new();
    for h in &manifest.hosts {
        match h.strip_prefix('{').and_then(|k| k.strip_suffix('}')) {
            Some(key) => {
                let Some(value) = setup.config.get(key).or_else(|| setup.secrets.get(key)) else {
                    continue;
                };
                let host = url_host(value).ok_or_else(|| (key.to_string(), value.clone()))?;
                out.push(host);
            }
            None => out.push(h.clone()),
        }
    }
    Ok(out)
}

/// Resolves a channel's configuration for its plugin: literals as written, `env("X")` from
/// `env`, `secret("X")` from `secrets`; the manifest's `{key}` hosts from the values.
/// Errors name the channel, the key and the variable.
pub fn resolve_channel(
    program: &Program,
    channel: ChannelId,
    plugin: &Plugin,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &dyn Secrets,
) -> Result<ChannelSetup, PluginError> {
    let def = &program.channels[channel];
    let manifest = plugin.manifest();
    let fail = |m: String| PluginError::new(plugin.id(), ErrorKind::Config(m));
    let mut setup = ChannelSetup {
        channel: def.name.clone(),
        ..ChannelSetup::default()
    };
    for (key, value) in &def.config {
        let secret_key = manifest.config_key(key).is_some_and(|c| c.secret);
        match value {
            ConfigValue::Const(c) => {
                let text = const_text(&program.consts[*c]);
                if secret_key {
                    setup.secrets.insert(key.clone(), text);
                } else {
                    setup.config.insert(key.clone(), text);
                }
            }
            ConfigValue::Env(var) => {
                let text = env(var).ok_or_else(|| {
                    fail(format!(
                        "channel `{}`: `{key}` reads the environment variable {var}, which is not set",
                        def.name
                    ))
                })?;
                if secret_key {
                    setup.secrets.insert(key.clone(), text);
                } else {
                    setup.config.insert(key.clone(), text);
                }
            }
            ConfigValue::Secret(name) => {
                let text = secrets.get(name).ok_or_else(|| {
                    fail(format!(
                        "channel `{}`: `{key}` reads the secret {name}, which the secret store does not have",
                        def.name
                    ))
                })?;
                setup.secrets.insert(key.clone(), text);
            }
        }
    }
    for spec in &manifest.config {
        if spec.required
            && !setup.config.contains_key(&spec.name)
            && !setup.secrets.contains_key(&spec.name)
        {
            return Err(fail(format!(
                "channel `{}` does not set `{}`, which the plugin requires",
                def.name, spec.name
            )));
        }
    }
    setup.allowed_hosts = allowed_hosts(manifest, &setup).map_err(|(key, value)| {
        fail(format!(
            "channel `{}`: `{key}` = {value:?} is not an http(s) URL with a host, which the \
             plugin's requests may go to only: write it like \"https://api.example.com/send\"",
            def.name
        ))
    })?;
    Ok(setup)
}

fn param_value(v: &Value) -> Option<ParamValue> {
    Some(match v {
        Value::None => return None,
        Value::Bool(b) => ParamValue::Boolean(*b),
        Value::Number(n) => ParamValue::Number(*n),
        Value::Duration(d) => ParamValue::Number(*d as f64),
        Value::String(_) | Value::Date(_) | Value::Timestamp(_) => ParamValue::Text(v.render()),
        Value::List(items) => {
            if items.iter().all(|i| matches!(i, Value::Number(_))) && !items.is_empty() {
                ParamValue::NumberList(
                    items
                        .iter()
                        .filter_map(|i| match i {
                            Value::Number(n) => Some(*n),
                            _ => None,
                        })
                        .collect(),
                )
            } else {
                ParamValue::TextList(items.iter().map(Value::render).collect())
            }
        }
    })
}

/// The message a plugin receives for a send (attempt 1).
pub fn message_for(program: &Program, send: &SendRecord) -> Message {
    let journey = program
        .journeys
        .get(send.journey)
        .map(|j| j.name.as_str())
        .unwrap_or_default();
    let step = program
        .steps
        .get(send.step)
        .map(|s| s.name.as_str())
        .unwrap_or_default();
    let channel = program
        .channels
        .get(send.channel)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let content = if send.external {
        Content::ProviderTemplate(send.template.clone().unwrap_or_default())
    } else {
        Content::Rendered(
            send.parts
                .iter()
                .map(|(k, v)| (k.clone(), ParamValue::Text(v.clone())))
                .collect(),
        )
    };
    let mut locale = None;
    let mut recipient = Vec::new();
    for (k, v) in &send.recipient {
        if *k == "locale" {
            locale = Some(v.clone());
        } else {
            recipient.push((k.to_string(), ParamValue::Text(v.clone())));
        }
    }
    Message {
        idempotency_key: send.idempotency_key.clone(),
        attempt: 1,
        customer_id: send.customer.clone(),
        locale,
        time_zone: send.time_zone.clone(),
        channel,
        origin: format!("{journey}/{step}"),
        template: if send.external {
            None
        } else {
            send.template.clone()
        },
        content,
        recipient,
        params: send
            .params
            .iter()
            .filter_map(|(k, v)| param_value(v).map(|p| (k.clone(), p)))
            .collect(),
        offer: send
            .offer
            .and_then(|o| program.offers.get(o))
            .map(|o| Offer {
                id: o.name.clone(),
                fields: o
                    .fields
                    .iter()
                    .map(|(k, v)| (k.clone(), ParamValue::Text(v.clone())))
                    .collect(),
            }),
        sent_at: jiff::Timestamp::from_second(send.at)
            .map(|t| t.to_string())
            .unwrap_or_default(),
    }
}

impl Dispatcher {
    /// A dispatcher for `program`'s channels over `plugins`: each channel whose plugin name
    /// matches a plugin's manifest is routed to it, with its configuration resolved now (a
    /// missing variable or secret is an error before anything is sent). Channels of other
    /// plugins are counted as unrouted.
    pub fn new(
        program: Arc<Program>,
        plugins: Vec<Plugin>,
        env: &dyn Fn(&str) -> Option<String>,
        secrets: &dyn Secrets,
        policy: RetryPolicy,
    ) -> Result<Dispatcher, Vec<PluginError>> {
        let mut errors = Vec::new();
        let mut routes = Vec::new();
        for (id, ch) in program.channels.iter() {
            let Some(ix) = plugins.iter().position(|p| p.manifest().name == ch.plugin) else {
                routes.push(None);
                continue;
            };
            match resolve_channel(&program, id, &plugins[ix], env, secrets) {
                Ok(setup) => routes.push(Some(Route {
                    plugin: ix,
                    setup: Arc::new(setup),
                })),
                Err(e) => {
                    errors.push(e);
                    routes.push(None);
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let slots = plugins
            .into_iter()
            .map(|plugin| Slot {
                label: plugin.id().to_string(),
                bucket: plugin.manifest().rate_limit.map(|r| Bucket {
                    per_ms: r.per_second as f64 / 1000.0,
                    capacity: f64::from(r.burst.max(1)),
                    tokens: f64::from(r.burst.max(1)),
                    at_ms: i64::MIN,
                }),
                plugin,
                instance: None,
                stats: DeliveryStats::default(),
            })
            .collect();
        Ok(Dispatcher {
            program,
            slots,
            routes,
            policy,
            queue: BinaryHeap::new(),
            seq: 0,
            unrouted: BTreeMap::new(),
            dead: Vec::new(),
            failures: Vec::new(),
            records: Vec::new(),
            keep_records: true,
            batch_size: DEFAULT_BATCH_SIZE,
        })
    }

    /// Whether every attempt is kept in [`Dispatcher::records`] (default true; turn off for
    /// long simulations).
    pub fn keep_records(&mut self, keep: bool) {
        self.keep_records = keep;
    }

    /// The most messages handed to a plugin in one call (default [`DEFAULT_BATCH_SIZE`]; 0
    /// counts as 1, which makes one call per message). Messages due at the same instant on
    /// the same channel go together, in the order they were queued.
    pub fn batch_size(&mut self, n: usize) {
        self.batch_size = n.max(1);
    }

    /// Queues a send for delivery at its own time.
    pub fn submit(&mut self, send: &SendRecord) {
        let Some(Some(_)) = self.routes.get(send.channel.as_u32() as usize) else {
            let name = self
                .program
                .channels
                .get(send.channel)
                .map(|c| c.name.clone())
                .unwrap_or_default();
            *self.unrouted.entry(name).or_default() += 1;
            return;
        };
        let message = message_for(&self.program, send);
        self.enqueue(
            send.at.saturating_mul(1000),
            Pending {
                message,
                route: send.channel.as_u32() as usize,
            },
        );
    }

    fn enqueue(&mut self, due: i64, p: Pending) {
        self.seq += 1;
        self.queue.push(Reverse(Queued {
            due,
            seq: self.seq,
            pending: p,
        }));
    }

    /// When the next attempt is due (ms since the epoch).
    pub fn next_due(&self) -> Option<i64> {
        self.queue.peek().map(|Reverse(q)| q.due)
    }

    /// Messages waiting for an attempt.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Makes every attempt due up to `now_ms`, in order of due time. The attempts due at
    /// one instant are grouped by channel, in the order their first message was queued, and
    /// each group goes to its plugin in calls of at most [`Dispatcher::batch_size`] messages.
    pub fn advance_to(&mut self, now_ms: i64) {
        while let Some(due) = self.next_due().filter(|&due| due <= now_ms) {
            let mut groups: Vec<(usize, Vec<Message>)> = Vec::new();
            while self.next_due() == Some(due) {
                let Some(Reverse(q)) = self.queue.pop() else {
                    break;
                };
                let Pending { message, route } = q.pending;
                match groups.iter_mut().find(|(r, _)| *r == route) {
                    Some((_, messages)) => messages.push(message),
                    None => groups.push((route, vec![message])),
                }
            }
            for (route, messages) in groups {
                let mut messages = messages.into_iter().peekable();
                while messages.peek().is_some() {
                    let batch: Vec<Message> = messages.by_ref().take(self.batch_size).collect();
                    self.attempt(due, route, batch);
                }
            }
        }
    }

    /// Runs every queued attempt and retry to the end, moving the clock as far as needed.
    pub fn flush(&mut self) {
        while let Some(due) = self.next_due() {
            self.advance_to(due);
        }
    }

    /// Attempts `messages`, all on the channel of `route`, at `now`: those the plugin's rate
    /// limit admits in one call, the others queued for when it will.
    fn attempt(&mut self, now: i64, route: usize, messages: Vec<Message>) {
        let Some(Some(r)) = self.routes.get(route) else {
            return;
        };
        let setup = r.setup.clone();
        let slot_ix = r.plugin;
        let mut admitted = Vec::with_capacity(messages.len());
        for message in messages {
            let slot = &mut self.slots[slot_ix];
            if let Some(b) = &mut slot.bucket
                && let Err(next) = b.take(now)
            {
                slot.stats.rate_limited += 1;
                self.enqueue(next, Pending { message, route });
                continue;
            }
            admitted.push(message);
        }
        if admitted.is_empty() {
            return;
        }
        let slot = &mut self.slots[slot_ix];
        let usable = slot.instance.as_ref().is_some_and(Instance::is_usable);
        if !usable {
            match slot.plugin.instantiate() {
                Ok(i) => {
                    slot.instance = Some(i);
                    slot.stats.instances += 1;
                }
                Err(e) => {
                    let text = e.to_string();
                    for message in admitted {
                        self.slots[slot_ix].stats.errors += 1;
                        self.after_failure(
                            now,
                            Pending { message, route },
                            slot_ix,
                            None,
                            text.clone(),
                        );
                    }
                    return;
                }
            }
        }
        let Some(instance) = slot.instance.as_mut() else {
            return;
        };
        let started = std::time::Instant::now();
        let delivered = instance.deliver_batch(&setup, &admitted);
        slot.stats.calls += u64::from(delivered.calls);
        slot.stats.call_micros += started.elapsed().as_micros() as u64;
        for (message, result) in admitted.into_iter().zip(delivered.results) {
            let p = Pending { message, route };
            let slot = &mut self.slots[slot_ix];
            match result {
                Ok(Outcome::Accepted(id)) => {
                    slot.stats.accepted += 1;
                    self.record(now, &p, slot_ix, format!("accepted {id}"));
                }
                Ok(Outcome::Failed(why)) => {
                    slot.stats.failed += 1;
                    self.record(now, &p, slot_ix, format!("failed: {why}"));
                    self.failures.push(Failure {
                        plugin: self.slots[slot_ix].label.clone(),
                        message: p.message,
                        reason: why,
                        at_ms: now,
                    });
                }
                Ok(Outcome::RetryAfter { after_ms, reason }) => {
                    slot.stats.retry_after += 1;
                    self.after_failure(
                        now,
                        p,
                        slot_ix,
                        Some(Duration::from_millis(after_ms)),
                        format!("retry after {after_ms} ms: {reason}"),
                    );
                }
                Err(error) => {
                    slot.stats.errors += 1;
                    let text = error.to_string();
                    if error.is_transient() {
                        self.after_failure(now, p, slot_ix, None, text);
                    } else {
                        self.dead_letter(now, p, slot_ix, text);
                    }
                }
            }
        }
    }

    fn record(&mut self, now: i64, p: &Pending, slot: usize, result: String) {
        if !self.keep_records {
            return;
        }
        self.records.push(DeliveryRecord {
            key: p.message.idempotency_key.clone(),
            channel: p.message.channel.clone(),
            plugin: self.slots[slot].label.clone(),
            attempt: p.message.attempt,
            at_ms: now,
            result,
        });
    }

    fn after_failure(
        &mut self,
        now: i64,
        mut p: Pending,
        slot: usize,
        retry_after: Option<Duration>,
        why: String,
    ) {
        if p.message.attempt >= self.policy.max_attempts {
            self.dead_letter(now, p, slot, why);
            return;
        }
        let delay = self
            .policy
            .delay(&p.message.idempotency_key, p.message.attempt, retry_after);
        self.record(
            now,
            &p,
            slot,
            format!("{why}; next attempt in {} ms", delay.as_millis()),
        );
        p.message.attempt += 1;
        self.enqueue(now.saturating_add(delay.as_millis() as i64), p);
    }

    fn dead_letter(&mut self, now: i64, p: Pending, slot: usize, why: String) {
        self.slots[slot].stats.dead_lettered += 1;
        self.record(now, &p, slot, format!("dead letter: {why}"));
        self.dead.push(DeadLetter {
            attempts: p.message.attempt,
            message: p.message,
            plugin: self.slots[slot].label.clone(),
            reason: why,
            at_ms: now,
        });
    }

    /// Counts per plugin (`name version`), in load order.
    pub fn stats(&self) -> Vec<(String, DeliveryStats)> {
        self.slots
            .iter()
            .map(|s| {
                let m = s.plugin.manifest();
                (format!("{} {}", m.name, m.version), s.stats.clone())
            })
            .collect()
    }

    /// Sends on channels with no loaded plugin, per channel.
    pub fn unrouted(&self) -> &BTreeMap<String, u64> {
        &self.unrouted
    }

    /// Messages given up on.
    pub fn dead_letters(&self) -> &[DeadLetter] {
        &self.dead
    }

    /// Messages the plugins failed permanently, in order.
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// Every attempt, in order (when kept).
    pub fn records(&self) -> &[DeliveryRecord] {
        &self.records
    }
}

/// Sends come in time order: each one makes the attempts due before its instant (not at
/// it, so that the sends of one instant go to their plugins together); the caller runs the
/// rest with [`Dispatcher::advance_to`] or [`Dispatcher::flush`].
impl ChannelSink for Dispatcher {
    fn deliver(&mut self, send: &SendRecord) {
        self.submit(send);
        self.advance_to(send.at.saturating_mul(1000).saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts_keep_ports() {
        assert_eq!(
            url_host("https://api.example.com/v1").as_deref(),
            Some("api.example.com")
        );
        assert_eq!(
            url_host("http://127.0.0.1:8080/x").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(url_host("not a url"), None);
        assert_eq!(url_host("/relative"), None);
        // Bare words and other schemes parse as URIs, but no request can go there.
        assert_eq!(url_host("notaurl"), None);
        assert_eq!(url_host("api.example.com:443"), None);
        assert_eq!(url_host("ftp://files.example.com/x"), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let p = RetryPolicy::default();
        for attempt in 1..=6 {
            let full = p.base_delay * (1 << (attempt - 1));
            let full = full.min(p.max_delay);
            let d = p.delay("k", attempt, None);
            assert!(d <= full && d >= full / 2, "attempt {attempt}: {d:?}");
            assert_eq!(d, p.delay("k", attempt, None), "deterministic");
        }
        let long = Duration::from_secs(7200);
        assert_eq!(p.delay("k", 1, Some(long)), long);
    }

    #[test]
    fn the_bucket_refills_at_its_rate() {
        let mut b = Bucket {
            per_ms: 0.01,
            capacity: 2.0,
            tokens: 2.0,
            at_ms: i64::MIN,
        };
        assert_eq!(b.take(1_000), Ok(()));
        assert_eq!(b.take(1_000), Ok(()));
        assert_eq!(b.take(1_000), Err(1_100));
        assert_eq!(b.take(1_100), Ok(()));
    }
}
