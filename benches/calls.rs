//! Call overhead under criterion: `get_event` through the SDK (default retry
//! policy and timeouts, no faults) against a bare `reqwest::Client` making
//! the same request and parsing into the same `types::Event`, one call at a
//! time and 16 in flight, against a local keep-alive server that returns the
//! full event fixture. Criterion reports time per call and calls/s; the
//! ratios are printed at the end.
//!
//! For CPU time per call, p50/p99 and peak RSS, with the two clients
//! interleaved, run `cargo bench --bench overhead` (see BENCHMARKS.md).
//!
//! `cargo bench --bench calls`

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::{Bare, Caller, Sdk, Server};
use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};

const IN_FLIGHT: usize = 16;

fn bench_one<C: Caller>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &tokio::runtime::Runtime,
    id: &str,
    caller: &C,
    in_flight: usize,
) {
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                common::drive(caller, iters as usize, in_flight).await;
                start.elapsed()
            })
        })
    });
}

fn main() {
    let server = Server::start(common::fixture());
    let runtime = common::client_runtime();
    let sdk = Sdk::new(&server);
    let bare = Bare::new(&server);
    // Open the connections and fill the pools before anything is timed.
    runtime.block_on(async {
        common::drive(&sdk, 200, IN_FLIGHT).await;
        common::drive(&bare, 200, IN_FLIGHT).await;
    });

    let since = SystemTime::now();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(30)
        .configure_from_args();
    for (name, in_flight) in [("sequential", 1), ("concurrent16", IN_FLIGHT)] {
        let group_name = format!("calls_{name}");
        let mut group = c.benchmark_group(&group_name);
        group.throughput(Throughput::Elements(1));
        bench_one(&mut group, &runtime, "sdk", &sdk, in_flight);
        bench_one(&mut group, &runtime, "bare", &bare, in_flight);
        group.finish();
    }
    c.final_summary();

    println!();
    println!(
        "calls summary ({}; load {})",
        common::fixture_name(),
        common::load_average()
    );
    for name in ["sequential", "concurrent16"] {
        let group = format!("calls_{name}");
        let mean = |id| common::criterion_mean_ns(&group, id, since);
        if let (Some(sdk), Some(bare)) = (mean("sdk"), mean("bare")) {
            println!(
                "  {name:<13} sdk {:7.0} calls/s   bare {:7.0} calls/s   throughput sdk/bare = {:.3}",
                1e9 / sdk,
                1e9 / bare,
                bare / sdk
            );
        }
    }
}
