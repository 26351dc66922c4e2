//! Timer scheduler benchmark: schedule, cancel and pop 1M and 5M timers spread uniformly
//! over 365 days, on `journey_runtime::scheduler::Scheduler` and, as the baseline measured in
//! the same run, on a plain `BTreeMap<(i64, u64), u64>` (the `(at, seq)` key makes ties FIFO
//! too; cancelling needs the whole key). Keys are `u64`, like an instance handle.
//!
//! Phases, each timed separately (best of several runs):
//! - schedule: N timers, in random time order;
//! - pop: all N, with the clock at the end of the year (every timer due);
//! - cancel: on a fresh set of N, cancel every other timer by id (random time order), then
//!   pop the N/2 left ("pop after cancel", which also drops the tombstones).
//!
//! Memory per pending timer, after scheduling N: `memory_bytes()` (table capacities) and, for
//! both structures, the growth of the resident set of a child process that builds only that
//! structure (Linux `/proc/self/status`; resident pages, so untouched capacity is not counted).
//!
//! Run: `cargo bench -p journey-runtime --bench scheduler`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use journey_runtime::scheduler::{Scheduler, TimerId};

const YEAR: i64 = 365 * 86_400;
/// 2027-01-01T00:00:00Z.
const START: i64 = 1_798_761_600;
const END: i64 = START + YEAR;

/// Timer instants spread uniformly over a year (xorshift64, fixed seed).
fn instants(n: usize) -> Vec<i64> {
    let mut s = 0x9e37_79b9_7f4a_7c15_u64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            START + (s % YEAR as u64) as i64
        })
        .collect()
}

/// The workload the two structures run.
trait Queue: Sized {
    /// Handle for cancellation.
    type Id: Copy;
    fn build() -> Self;
    fn schedule(&mut self, at: i64, key: u64) -> Self::Id;
    fn cancel(&mut self, id: Self::Id);
    fn pop_due(&mut self, now: i64) -> Option<u64>;
}

impl Queue for Scheduler<u64> {
    type Id = TimerId;
    fn build() -> Self {
        Scheduler::new()
    }
    fn schedule(&mut self, at: i64, key: u64) -> TimerId {
        Scheduler::schedule(self, at, key)
    }
    fn cancel(&mut self, id: TimerId) {
        Scheduler::cancel(self, id);
    }
    fn pop_due(&mut self, now: i64) -> Option<u64> {
        Scheduler::pop_due(self, now).map(|t| t.2)
    }
}

/// The baseline: an ordered map on `(at, seq)`.
struct Tree {
    map: BTreeMap<(i64, u64), u64>,
    seq: u64,
}

impl Queue for Tree {
    type Id = (i64, u64);
    fn build() -> Self {
        Tree {
            map: BTreeMap::new(),
            seq: 0,
        }
    }
    fn schedule(&mut self, at: i64, key: u64) -> (i64, u64) {
        let id = (at, self.seq);
        self.seq += 1;
        self.map.insert(id, key);
        id
    }
    fn cancel(&mut self, id: (i64, u64)) {
        self.map.remove(&id);
    }
    fn pop_due(&mut self, now: i64) -> Option<u64> {
        let entry = self.map.first_entry()?;
        (entry.key().0 <= now).then(|| entry.remove())
    }
}

/// Best-of-`runs` times of one structure, in ns per operation.
#[derive(Default, Clone, Copy)]
struct Times {
    schedule: f64,
    pop: f64,
    cancel: f64,
    pop_after_cancel: f64,
}

fn ns_per(d: Duration, ops: usize) -> f64 {
    d.as_secs_f64() * 1e9 / ops as f64
}

fn min(a: f64, b: f64) -> f64 {
    if a == 0.0 { b } else { a.min(b) }
}

fn measure<Q: Queue>(ats: &[i64], runs: usize) -> Times {
    let n = ats.len();
    let mut best = Times::default();
    for _ in 0..runs {
        // Schedule then pop everything.
        let mut q = Q::build();
        let t = Instant::now();
        for (k, &at) in ats.iter().enumerate() {
            black_box(q.schedule(at, k as u64));
        }
        best.schedule = min(best.schedule, ns_per(t.elapsed(), n));
        let t = Instant::now();
        let mut popped = 0usize;
        while let Some(k) = q.pop_due(END) {
            black_box(k);
            popped += 1;
        }
        best.pop = min(best.pop, ns_per(t.elapsed(), n));
        assert_eq!(popped, n);
        drop(q);

        // Cancel half, then pop the rest.
        let mut q = Q::build();
        let ids: Vec<Q::Id> = ats
            .iter()
            .enumerate()
            .map(|(k, &at)| q.schedule(at, k as u64))
            .collect();
        let t = Instant::now();
        for id in ids.iter().step_by(2) {
            q.cancel(*id);
        }
        best.cancel = min(best.cancel, ns_per(t.elapsed(), n.div_ceil(2)));
        let t = Instant::now();
        let mut popped = 0usize;
        while let Some(k) = q.pop_due(END) {
            black_box(k);
            popped += 1;
        }
        best.pop_after_cancel = min(best.pop_after_cancel, ns_per(t.elapsed(), n / 2));
        assert_eq!(popped, n / 2);
    }
    best
}

/// Resident set size of this process, in bytes (0 where /proc is unavailable).
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Child mode: build one structure with `n` timers and print the resident-set growth.
fn rss_child(which: &str, n: usize) {
    let ats = instants(n);
    let before = rss_bytes();
    let grown = if which == "scheduler" {
        let mut q = <Scheduler<u64> as Queue>::build();
        for (k, &at) in ats.iter().enumerate() {
            q.schedule(at, k as u64);
        }
        let grown = rss_bytes().saturating_sub(before);
        black_box(&q);
        grown
    } else {
        let mut q = Tree::build();
        for (k, &at) in ats.iter().enumerate() {
            q.schedule(at, k as u64);
        }
        let grown = rss_bytes().saturating_sub(before);
        black_box(&q);
        grown
    };
    println!("{grown}");
}

/// Resident-set growth per timer measured in a child process, if it can be run.
fn rss_per_timer(which: &str, n: usize) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe)
        .args(["--rss-child", which, &n.to_string()])
        .output()
        .ok()?;
    let bytes: usize = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    (bytes > 0).then(|| bytes as f64 / n as f64)
}

fn fmt_rss(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |b| format!("{b:.1}"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss-child") {
        let which = args.get(i + 1).map_or("scheduler", String::as_str);
        let n = args
            .get(i + 2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_000_000);
        rss_child(which, n);
        return;
    }
    println!(
        "journey timer scheduler benchmark: timers uniform over 365 days, u64 keys, best of several runs"
    );
    println!(
        "{:>9} {:<10} {:>11} {:>9} {:>11} {:>9} {:>11} {:>12} {:>14} {:>11}",
        "timers",
        "structure",
        "schedule ns",
        "Mops/s",
        "pop ns",
        "Mops/s",
        "cancel ns",
        "pop-after ns",
        "bytes/timer",
        "RSS/timer"
    );
    for n in [1_000_000usize, 5_000_000] {
        let ats = instants(n);
        let runs = if n > 1_000_000 { 2 } else { 3 };
        let ours = measure::<Scheduler<u64>>(&ats, runs);
        let base = measure::<Tree>(&ats, runs);

        let mut s = Scheduler::new();
        for (k, &at) in ats.iter().enumerate() {
            s.schedule(at, k as u64);
        }
        let bytes = s.memory_bytes() as f64 / s.len() as f64;
        drop(s);
        let ours_rss = rss_per_timer("scheduler", n);
        let base_rss = rss_per_timer("btree", n);

        for (name, t, bytes, rss) in [
            ("Scheduler", ours, format!("{bytes:.1}"), ours_rss),
            ("BTreeMap", base, "-".to_string(), base_rss),
        ] {
            println!(
                "{:>9} {:<10} {:>11.1} {:>9.2} {:>11.1} {:>9.2} {:>11.1} {:>12.1} {:>14} {:>11}",
                n,
                name,
                t.schedule,
                1e3 / t.schedule,
                t.pop,
                1e3 / t.pop,
                t.cancel,
                t.pop_after_cancel,
                bytes,
                fmt_rss(rss)
            );
        }
        let ratio = |a: f64, b: f64| b / a;
        println!(
            "{:>9} {:<10} {:>11} {:>9} {:>11} {:>9} {:>11} {:>12} {:>14} {:>11}",
            "",
            "speedup",
            format!("{:.2}x", ratio(ours.schedule, base.schedule)),
            "",
            format!("{:.2}x", ratio(ours.pop, base.pop)),
            "",
            format!("{:.2}x", ratio(ours.cancel, base.cancel)),
            format!(
                "{:.2}x",
                ratio(ours.pop_after_cancel, base.pop_after_cancel)
            ),
            "",
            match (ours_rss, base_rss) {
                (Some(a), Some(b)) => format!("{:.2}x", b / a),
                _ => "n/a".to_string(),
            }
        );
    }
    println!(
        "speedup = BTreeMap time / Scheduler time (>1: the scheduler is faster); RSS/timer: BTreeMap / Scheduler (>1: the scheduler is smaller)"
    );
}
