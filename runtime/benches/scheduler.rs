//! Timer scheduler benchmark: 1M and 5M timers spread uniformly over 365 days, on
//! `journey_runtime::scheduler::Scheduler` and, as the baseline measured in the same run, on a
//! plain `BTreeMap<(i64, u64), u64>` (the `(at, seq)` key makes ties FIFO too; cancelling
//! needs the whole key). Keys are `u64`, like an instance handle.
//!
//! Phases, each timed separately:
//! - schedule: N timers, in random time order;
//! - pop: all N, with the clock at the end of the year (every timer due);
//! - cancel: on a fresh set of N, cancel every other timer by id (random time order);
//! - pop after cancel: pop the N/2 left (which also drops the tombstones);
//! - hold: with N pending, N times pop the earliest and schedule a new timer between it and a
//!   year later, the steady state of a runtime whose clock advances (figure per pair);
//! - hold-mix: the same with the delays of journeys: 60% under an hour, 25% under a day, 10%
//!   under 30 days, 5% under a year (the near future is crowded).
//!
//! Each phase runs in 16 timed slices and keeps, per slice, the best of several runs: on a
//! shared machine this drops the slices where the process was descheduled.
//!
//! Memory per pending timer, after scheduling N: `memory_bytes()` (table capacities) and, for
//! both structures, the growth of the resident set of a child process that builds only that
//! structure (Linux `/proc/self/status`: resident pages, allocator overhead included).
//!
//! Run: `cargo bench -p journey-runtime --bench scheduler`
//! (`-- --profile N [btree]` runs one schedule-and-pop pass for profilers, `--profile-mix N
//! [btree]` one hold-mix pass).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use journey_runtime::scheduler::{Scheduler, TimerId};

const YEAR: i64 = 365 * 86_400;
/// 2027-01-01T00:00:00Z.
const START: i64 = 1_798_761_600;
const END: i64 = START + YEAR;
/// Timed slices per phase.
const SLICES: usize = 16;

/// A xorshift64 generator with a fixed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Timer instants spread uniformly over a year.
fn instants(n: usize) -> Vec<i64> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|_| START + (rng.next() % YEAR as u64) as i64)
        .collect()
}

/// The workload the two structures run.
trait Queue: Sized {
    /// Handle for cancellation.
    type Id: Copy;
    fn build() -> Self;
    fn schedule(&mut self, at: i64, key: u64) -> Self::Id;
    fn cancel(&mut self, id: Self::Id);
    fn pop_due(&mut self, now: i64) -> Option<(i64, u64)>;
    fn len(&self) -> usize;
    /// `memory_bytes()` where there is one.
    fn memory(&self) -> Option<usize>;
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
    fn pop_due(&mut self, now: i64) -> Option<(i64, u64)> {
        Scheduler::pop_due(self, now).map(|(at, _, key)| (at, key))
    }
    fn len(&self) -> usize {
        Scheduler::len(self)
    }
    fn memory(&self) -> Option<usize> {
        Some(self.memory_bytes())
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
    fn pop_due(&mut self, now: i64) -> Option<(i64, u64)> {
        let entry = self.map.first_entry()?;
        (entry.key().0 <= now).then(|| (entry.key().0, entry.remove()))
    }
    fn len(&self) -> usize {
        self.map.len()
    }
    fn memory(&self) -> Option<usize> {
        None
    }
}

/// Best time per slice of one phase, in seconds (0: not measured yet).
#[derive(Clone, Copy, Default)]
struct Phase([f64; SLICES]);

impl Phase {
    /// Runs operations `0..total` (`op(i)`) in timed slices, keeping each slice's best.
    fn run(&mut self, total: usize, mut op: impl FnMut(usize)) {
        for (s, best) in self.0.iter_mut().enumerate() {
            let (lo, hi) = (total * s / SLICES, total * (s + 1) / SLICES);
            let t = Instant::now();
            for i in lo..hi {
                op(i);
            }
            let secs = t.elapsed().as_secs_f64();
            *best = if *best == 0.0 { secs } else { best.min(secs) };
        }
    }

    /// Nanoseconds per operation.
    fn ns_per(&self, ops: usize) -> f64 {
        self.0.iter().sum::<f64>() * 1e9 / ops as f64
    }
}

/// Nanoseconds per operation of each phase of one structure.
#[derive(Clone, Copy)]
struct Times {
    schedule: f64,
    pop: f64,
    cancel: f64,
    pop_after_cancel: f64,
    hold: f64,
    hold_mix: f64,
}

/// Delays in seconds: 60% under an hour, 25% under a day, 10% under 30 days, 5% under a year.
fn mixed_delays(n: usize) -> Vec<i64> {
    let mut rng = Rng(0x5851_f42d_4c95_7f2d);
    (0..n)
        .map(|_| {
            let r = rng.next();
            let span = match r % 100 {
                0..60 => 3_600,
                60..85 => 86_400,
                85..95 => 30 * 86_400,
                _ => YEAR as u64,
            };
            ((r >> 8) % span) as i64
        })
        .collect()
}

fn measure<Q: Queue>(ats: &[i64], runs: usize) -> Times {
    let n = ats.len();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let offsets: Vec<i64> = (0..n).map(|_| (rng.next() % YEAR as u64) as i64).collect();
    let mixed = mixed_delays(2 * n);
    let [
        mut schedule,
        mut pop,
        mut cancel,
        mut pop_after_cancel,
        mut hold,
        mut hold_mix,
    ] = [Phase::default(); 6];
    for _ in 0..runs {
        // Schedule then pop everything.
        let mut q = Q::build();
        schedule.run(n, |i| {
            black_box(q.schedule(ats[i], i as u64));
        });
        pop.run(n, |_| {
            black_box(q.pop_due(END));
        });
        assert_eq!(q.len(), 0);
        drop(q);

        // Cancel half, then pop the rest.
        let mut q = Q::build();
        let ids: Vec<Q::Id> = ats
            .iter()
            .enumerate()
            .map(|(k, &at)| q.schedule(at, k as u64))
            .collect();
        cancel.run(n / 2, |i| q.cancel(ids[2 * i]));
        pop_after_cancel.run(n - n / 2, |_| {
            black_box(q.pop_due(END));
        });
        assert_eq!(q.len(), 0);
        drop(ids);

        // Hold: pop the earliest, schedule one up to a year after it.
        for (k, &at) in ats.iter().enumerate() {
            q.schedule(at, k as u64);
        }
        hold.run(n, |i| {
            if let Some((at, key)) = q.pop_due(i64::MAX) {
                black_box(q.schedule(at + offsets[i], key));
            }
        });
        assert_eq!(q.len(), n);
        drop(q);

        // Hold with journey delays, from a start with the same delays.
        let mut q = Q::build();
        for (k, &delay) in mixed[..n].iter().enumerate() {
            q.schedule(START + delay, k as u64);
        }
        hold_mix.run(n, |i| {
            if let Some((at, key)) = q.pop_due(i64::MAX) {
                black_box(q.schedule(at + mixed[n + i], key));
            }
        });
        assert_eq!(q.len(), n);
    }
    Times {
        schedule: schedule.ns_per(n),
        pop: pop.ns_per(n),
        cancel: cancel.ns_per(n / 2),
        pop_after_cancel: pop_after_cancel.ns_per(n - n / 2),
        hold: hold.ns_per(n),
        hold_mix: hold_mix.ns_per(n),
    }
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
fn rss_child<Q: Queue>(n: usize) {
    let ats = instants(n);
    let before = rss_bytes();
    let mut q = Q::build();
    for (k, &at) in ats.iter().enumerate() {
        q.schedule(at, k as u64);
    }
    let grown = rss_bytes().saturating_sub(before);
    black_box(&q);
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

/// Runs the hold-mix phase once, printing wall and CPU time per pair.
fn profile_mix<Q: Queue>(n: usize) {
    let mixed = mixed_delays(2 * n);
    let mut q = Q::build();
    for (k, &delay) in mixed[..n].iter().enumerate() {
        q.schedule(START + delay, k as u64);
    }
    let (t, c) = (Instant::now(), cpu_ticks());
    for &delay in &mixed[n..] {
        if let Some((at, key)) = q.pop_due(i64::MAX) {
            black_box(q.schedule(at + delay, key));
        }
    }
    let per = |secs: f64| secs * 1e9 / n as f64;
    println!(
        "hold-mix {:.1} ns (cpu {:.1}), {:.1} bytes per timer after",
        per(t.elapsed().as_secs_f64()),
        per((cpu_ticks() - c) as f64 / 100.0),
        q.memory().unwrap_or(0) as f64 / q.len() as f64
    );
}

/// CPU time of this process so far, in clock ticks (10 ms), 0 where /proc is unavailable.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name (which ends with ')'), utime and stime are fields 12 and 13.
    stat.rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|f| f.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

/// Schedules then pops `n` timers once, printing wall and CPU time per operation.
fn profile<Q: Queue>(n: usize) {
    let ats = instants(n);
    let mut q = Q::build();
    let (t, c) = (Instant::now(), cpu_ticks());
    for (k, &at) in ats.iter().enumerate() {
        black_box(q.schedule(at, k as u64));
    }
    let schedule = (t.elapsed().as_secs_f64(), cpu_ticks() - c);
    let (t, c) = (Instant::now(), cpu_ticks());
    while let Some(x) = q.pop_due(END) {
        black_box(x);
    }
    let pop = (t.elapsed().as_secs_f64(), cpu_ticks() - c);
    // Again, timing each pop for the slowest one.
    for (k, &at) in ats.iter().enumerate() {
        q.schedule(at, k as u64);
    }
    let mut slowest = 0f64;
    loop {
        let t = Instant::now();
        let Some(x) = q.pop_due(END) else { break };
        slowest = slowest.max(t.elapsed().as_secs_f64());
        black_box(x);
    }
    let per = |secs: f64| secs * 1e9 / n as f64;
    println!(
        "schedule {:.1} ns (cpu {:.1}), pop {:.1} ns (cpu {:.1}), slowest pop {:.2} ms",
        per(schedule.0),
        per(schedule.1 as f64 / 100.0),
        per(pop.0),
        per(pop.1 as f64 / 100.0),
        slowest * 1e3
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str, k: usize| {
        let i = args.iter().position(|a| a == flag)?;
        Some(args.get(i + k).map_or("", String::as_str))
    };
    let size = |flag: &str| {
        arg(flag, 2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_000_000)
    };
    if let Some(which) = arg("--rss-child", 1) {
        match which {
            "btree" => rss_child::<Tree>(size("--rss-child")),
            _ => rss_child::<Scheduler<u64>>(size("--rss-child")),
        }
        return;
    }
    if arg("--profile-mix", 0).is_some() {
        let n = arg("--profile-mix", 1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_000_000);
        match arg("--profile-mix", 2) {
            Some("btree") => profile_mix::<Tree>(n),
            _ => profile_mix::<Scheduler<u64>>(n),
        }
        return;
    }
    if arg("--profile", 0).is_some() {
        let n = arg("--profile", 1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_000_000);
        match arg("--profile", 2) {
            Some("btree") => profile::<Tree>(n),
            _ => profile::<Scheduler<u64>>(n),
        }
        return;
    }

    println!(
        "journey timer scheduler benchmark: timers uniform over 365 days, u64 keys, ns per operation"
    );
    println!(
        "{:>9} {:<10} {:>9} {:>8} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>11} {:>9}",
        "timers",
        "structure",
        "schedule",
        "Mops/s",
        "pop",
        "Mops/s",
        "cancel",
        "pop-after",
        "hold",
        "hold-mix",
        "bytes/timer",
        "RSS/timer"
    );
    for n in [1_000_000usize, 5_000_000] {
        let ats = instants(n);
        let runs = if n > 1_000_000 { 3 } else { 5 };
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

        let rss = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |b| format!("{b:.1}"));
        for (name, t, bytes, r) in [
            ("Scheduler", ours, format!("{bytes:.1}"), rss(ours_rss)),
            ("BTreeMap", base, "-".to_string(), rss(base_rss)),
        ] {
            println!(
                "{:>9} {:<10} {:>9.1} {:>8.2} {:>9.1} {:>8.2} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>11} {:>9}",
                n,
                name,
                t.schedule,
                1e3 / t.schedule,
                t.pop,
                1e3 / t.pop,
                t.cancel,
                t.pop_after_cancel,
                t.hold,
                t.hold_mix,
                bytes,
                r
            );
        }
        let x = |ours: f64, base: f64| format!("{:.2}x", base / ours);
        println!(
            "{:>9} {:<10} {:>9} {:>8} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>11} {:>9}",
            "",
            "ratio",
            x(ours.schedule, base.schedule),
            "",
            x(ours.pop, base.pop),
            "",
            x(ours.cancel, base.cancel),
            x(ours.pop_after_cancel, base.pop_after_cancel),
            x(ours.hold, base.hold),
            x(ours.hold_mix, base.hold_mix),
            "",
            match (ours_rss, base_rss) {
                (Some(a), Some(b)) => x(a, b),
                _ => "n/a".to_string(),
            }
        );
    }
    println!(
        "ratio = BTreeMap / Scheduler: above 1x the scheduler is faster (time) or smaller (RSS)"
    );
}
