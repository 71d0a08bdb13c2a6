//! The call-overhead report: `get_event` through the SDK against a bare
//! `reqwest::Client` (same request, same `types::Event`), against one local
//! keep-alive server, one call at a time and 16 in flight. The two clients
//! run interleaved (SDK, bare, bare, SDK, ...) in one process to cancel
//! drift. For each it prints calls/s, p50/p99 latency, CPU time per call
//! (client side alone, and with the server), the SDK/bare ratios, and the
//! peak RSS of a process that runs only that client.
//!
//! `cargo bench --bench overhead [-- --calls N --rounds R]`
//!
//! Method:
//! - The server runs on its own OS thread with a one-thread tokio runtime;
//!   the client runs on the main thread with another. Client CPU time is the
//!   process's CPU clock (`CLOCK_PROCESS_CPUTIME_ID`) minus the server
//!   thread's (`pthread_getcpuclockid`), read around each run.
//! - Peak RSS comes from `VmHWM` in `/proc/self/status`, read in a child
//!   process (this binary with `--rss sdk|bare`) that makes the same calls
//!   with one client only.
//! - `--only KEY --calls N` makes N sequential calls with one client
//!   and nothing else: the thing to run under `perf record`.
//! - `--breakdown` runs the bare client with the SDK's extras added one at
//!   a time (reqwest timeouts, operation timeout, re-buffered body) and the
//!   SDK without and with retries, interleaved, to show what each costs.

mod common;

use std::time::{Duration, Instant};

use common::{Bare, Caller, Sdk, Server};

const IN_FLIGHT: usize = 16;

struct Options {
    calls: usize,
    rounds: usize,
    rss: Option<String>,
    only: Option<String>,
    breakdown: bool,
}

fn options() -> Options {
    let mut options = Options {
        calls: 10_000,
        rounds: 4,
        rss: None,
        only: None,
        breakdown: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--calls" => options.calls = value().parse().expect("--calls N"),
            "--rounds" => options.rounds = value().parse().expect("--rounds R"),
            "--rss" => options.rss = Some(value()),
            "--only" => options.only = Some(value()),
            "--breakdown" => options.breakdown = true,
            // `cargo bench` passes `--bench`; anything else is ignored too.
            _ => {}
        }
    }
    options
}

/// What one run of N calls cost.
#[derive(Default, Clone)]
struct Run {
    calls: usize,
    wall: Duration,
    process_cpu: Duration,
    server_cpu: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn add(&mut self, other: Run) {
        self.calls += other.calls;
        self.wall += other.wall;
        self.process_cpu += other.process_cpu;
        self.server_cpu += other.server_cpu;
        self.latencies.extend(other.latencies);
    }

    fn calls_per_s(&self) -> f64 {
        self.calls as f64 / self.wall.as_secs_f64()
    }

    fn client_cpu_us(&self) -> f64 {
        (self.process_cpu.saturating_sub(self.server_cpu)).as_secs_f64() * 1e6 / self.calls as f64
    }

    fn total_cpu_us(&self) -> f64 {
        self.process_cpu.as_secs_f64() * 1e6 / self.calls as f64
    }

    fn percentile_us(&mut self, p: f64) -> f64 {
        self.latencies.sort_unstable();
        let index =
            ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[index].as_secs_f64() * 1e6
    }
}

fn measure<C: Caller>(
    runtime: &tokio::runtime::Runtime,
    server: &Server,
    caller: &C,
    calls: usize,
    in_flight: usize,
) -> Run {
    runtime.block_on(async {
        let cpu = common::process_cpu();
        let server_cpu = server.cpu();
        let start = Instant::now();
        let latencies = common::drive(caller, calls, in_flight).await;
        let wall = start.elapsed();
        Run {
            calls,
            wall,
            process_cpu: common::process_cpu() - cpu,
            server_cpu: server.cpu() - server_cpu,
            latencies,
        }
    })
}

/// Child mode: one client only, the same calls as the report; prints the
/// peak RSS.
fn rss_child(kind: &str, calls: usize) {
    let before = common::rss_kib();
    let server = Server::start(common::fixture());
    let runtime = common::client_runtime();
    match kind {
        "sdk" => rss_calls(&runtime, &Sdk::new(&server), calls),
        "bare" => rss_calls(&runtime, &Bare::new(&server), calls),
        other => panic!("--rss sdk|bare, not {other}"),
    }
    println!(
        "rss_kib before={before} peak={} now={}",
        common::peak_rss_kib(),
        common::rss_kib()
    );
}

fn rss_calls<C: Caller>(runtime: &tokio::runtime::Runtime, caller: &C, calls: usize) {
    runtime.block_on(async {
        common::drive(caller, calls, 1).await;
        common::drive(caller, calls, IN_FLIGHT).await;
    });
}

fn peak_rss_of(kind: &str, calls: usize) -> Option<(u64, u64)> {
    let exe = std::env::current_exe().ok()?;
    let output = std::process::Command::new(exe)
        .args(["--rss", kind, "--calls", &calls.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().find(|l| l.starts_with("rss_kib"))?;
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(name))
            .and_then(|v| v.parse().ok())
    };
    Some((field("before=")?, field("peak=")?))
}

fn main() {
    let options = options();
    if let Some(kind) = &options.rss {
        rss_child(kind, options.calls);
        return;
    }
    let server = Server::start(common::fixture());
    let runtime = common::client_runtime();
    let sdk = Sdk::new(&server);
    let bare = Bare::new(&server);

    if let Some(key) = &options.only {
        let all = variants(&server);
        let Some((_, label, caller)) = all.iter().find(|(k, _, _)| k == key) else {
            let keys: Vec<&str> = all.iter().map(|(k, _, _)| *k).collect();
            panic!("--only one of {}, not {key}", keys.join("|"));
        };
        let run = measure(&runtime, &server, caller, options.calls, 1);
        println!(
            "{label}: {} calls, {:.0} calls/s, client CPU {:.2} µs/call",
            run.calls,
            run.calls_per_s(),
            run.client_cpu_us()
        );
        return;
    }
    if options.breakdown {
        breakdown(&runtime, &server, &options);
        return;
    }

    let date = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "call overhead: {date}, {cores} cores, load {} at start; fixture {} ({} bytes); \
         {} calls per run, {} rounds per mode, SDK and bare interleaved",
        common::load_average(),
        common::fixture_name(),
        common::fixture().len(),
        options.calls,
        options.rounds
    );

    println!(
        "sizes: types::Event {} bytes; future of one SDK get_event().send() {} bytes",
        std::mem::size_of::<fingerprint_server_sdk::types::Event>(),
        std::mem::size_of_val(&sdk.0.get_event().event_id(common::EVENT_ID).send()),
    );

    // The two requests as the server sees them.
    for (name, request) in [
        ("sdk", capture(&runtime, &server, &sdk)),
        ("bare", capture(&runtime, &server, &bare)),
    ] {
        print!("{name} request: {request}");
    }

    // Warm-up: connections, pools, allocator.
    let warm = (options.calls / 5).max(500);
    for in_flight in [1, IN_FLIGHT] {
        measure(&runtime, &server, &sdk, warm, in_flight);
        measure(&runtime, &server, &bare, warm, in_flight);
    }

    println!();
    println!(
        "| mode | client | calls/s | p50 µs | p99 µs | client CPU µs/call | total CPU µs/call |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let mut summary = Vec::new();
    for (mode, in_flight) in [("sequential", 1), ("16 in flight", IN_FLIGHT)] {
        let mut sdk_total = Run::default();
        let mut bare_total = Run::default();
        let mut round_ratios = Vec::new();
        for round in 0..options.rounds {
            // SDK, bare, then bare, SDK: each gets the first slot half the time.
            let (s, b) = if round % 2 == 0 {
                let s = measure(&runtime, &server, &sdk, options.calls, in_flight);
                let b = measure(&runtime, &server, &bare, options.calls, in_flight);
                (s, b)
            } else {
                let b = measure(&runtime, &server, &bare, options.calls, in_flight);
                let s = measure(&runtime, &server, &sdk, options.calls, in_flight);
                (s, b)
            };
            round_ratios.push((
                s.calls_per_s() / b.calls_per_s(),
                s.client_cpu_us() / b.client_cpu_us(),
            ));
            sdk_total.add(s);
            bare_total.add(b);
        }
        for (name, run) in [("sdk", &mut sdk_total), ("bare", &mut bare_total)] {
            let (p50, p99) = (run.percentile_us(0.50), run.percentile_us(0.99));
            println!(
                "| {mode} | {name} | {:.0} | {p50:.1} | {p99:.1} | {:.2} | {:.2} |",
                run.calls_per_s(),
                run.client_cpu_us(),
                run.total_cpu_us()
            );
        }
        let p50 = sdk_total.percentile_us(0.5) / bare_total.percentile_us(0.5);
        let p99 = sdk_total.percentile_us(0.99) / bare_total.percentile_us(0.99);
        summary.push((
            mode,
            sdk_total.calls_per_s() / bare_total.calls_per_s(),
            sdk_total.client_cpu_us() / bare_total.client_cpu_us(),
            sdk_total.total_cpu_us() / bare_total.total_cpu_us(),
            p50,
            p99,
            round_ratios,
        ));
    }

    println!();
    println!("SDK / bare (1.00 = no overhead); per round: throughput, client CPU");
    for (mode, throughput, client_cpu, total_cpu, p50, p99, rounds) in summary {
        let per_round: Vec<String> = rounds
            .iter()
            .map(|(t, c)| format!("{t:.3}/{c:.3}"))
            .collect();
        println!(
            "  {mode:<13} throughput {throughput:.3} (target >= 0.95)   client CPU/call {client_cpu:.3} \
             (target <= 1.03)   total CPU/call {total_cpu:.3}   p50 {p50:.3}   p99 {p99:.3}   rounds [{}]",
            per_round.join(" ")
        );
    }

    println!();
    println!(
        "peak RSS of a process making {} sequential then {} concurrent calls with one client \
         (server thread included):",
        options.calls, options.calls
    );
    for kind in ["sdk", "bare"] {
        match peak_rss_of(kind, options.calls) {
            Some((before, peak)) => println!(
                "  {kind:<4} {:.1} MiB (at start {:.1} MiB)",
                peak as f64 / 1024.0,
                before as f64 / 1024.0
            ),
            None => println!("  {kind:<4} (the child process failed)"),
        }
    }
    println!("load at end: {}", common::load_average());
}

fn capture<C: Caller>(runtime: &tokio::runtime::Runtime, server: &Server, caller: &C) -> String {
    server.capture_next();
    runtime.block_on(caller.call());
    server.captured().unwrap_or_default()
}

/// Either client, for the breakdown's list of variants.
#[derive(Clone)]
enum Variant {
    Sdk(Sdk),
    Bare(Bare),
}

impl Caller for Variant {
    async fn call(&self) {
        match self {
            Variant::Sdk(c) => c.call().await,
            Variant::Bare(c) => c.call().await,
        }
    }
}

/// The clients of the breakdown, by `--only` key: the bare client with the
/// SDK's extras added one at a time, then the SDK without and with retries.
fn variants(server: &Server) -> Vec<(&'static str, &'static str, Variant)> {
    vec![
        ("bare", "bare reqwest", Variant::Bare(Bare::new(server))),
        (
            "bare-op-timeout",
            "bare + operation timeout only",
            Variant::Bare(Bare::variant(server, false, true, false)),
        ),
        (
            "bare-timeouts",
            "bare + reqwest timeouts only",
            Variant::Bare(Bare::variant(server, true, false, false)),
        ),
        (
            "bare-both",
            "bare + both timeouts",
            Variant::Bare(Bare::variant(server, true, true, false)),
        ),
        (
            "bare-both-rebuffer",
            "bare + both timeouts + re-buffered body",
            Variant::Bare(Bare::variant(server, true, true, true)),
        ),
        (
            "sdk-no-retry",
            "SDK, retries off",
            Variant::Sdk(Sdk::without_retries(server)),
        ),
        ("sdk", "SDK, default", Variant::Sdk(Sdk::new(server))),
    ]
}

fn breakdown(runtime: &tokio::runtime::Runtime, server: &Server, options: &Options) {
    let variants = variants(server);
    println!(
        "breakdown: {} calls per run, {} rounds, load {}",
        options.calls,
        options.rounds,
        common::load_average()
    );
    for in_flight in [1, IN_FLIGHT] {
        for (_, _, v) in &variants {
            measure(runtime, server, v, options.calls / 5, in_flight);
        }
        // Per round and variant: (calls/s, client CPU µs per call).
        let mut rounds = vec![Vec::new(); variants.len()];
        for round in 0..options.rounds {
            // Rotate the order every round.
            for k in 0..variants.len() {
                let i = (k + round) % variants.len();
                let run = measure(runtime, server, &variants[i].2, options.calls, in_flight);
                rounds[i].push((run.calls_per_s(), run.client_cpu_us()));
            }
        }
        println!();
        println!(
            "{in_flight} in flight (medians over rounds; vs bare: median of the per-round ratios):"
        );
        println!("| variant | calls/s | client CPU µs/call | CPU vs bare |");
        println!("|---|---:|---:|---:|");
        for ((_, name, _), own) in variants.iter().zip(&rounds) {
            let ratios: Vec<f64> = own
                .iter()
                .zip(&rounds[0])
                .map(|(v, floor)| v.1 / floor.1)
                .collect();
            println!(
                "| {name} | {:.0} | {:.2} | {:+.1}% |",
                median(own.iter().map(|r| r.0).collect()),
                median(own.iter().map(|r| r.1).collect()),
                (median(ratios) - 1.0) * 100.0
            );
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
