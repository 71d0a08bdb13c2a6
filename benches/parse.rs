//! Parsing the full event fixture (~8 KB, every property set) into the
//! generated `types::Event`, against `serde_json::Value` and against a
//! hand-written struct of three fields, in one run; the ratios are printed
//! at the end.
//!
//! `cargo bench --bench parse`
//!
//! `-- --only event|value|three_fields --iterations N` parses N times with
//! nothing else (no criterion), for instruction counts under callgrind:
//! (count at N2 - count at N1) / (N2 - N1) is one parse.

mod common;

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput};
use fingerprint_server_sdk::types;
use serde::Deserialize;

/// The floor: three fields kept, every other one skipped (serde still has to
/// scan the whole document to skip them).
#[derive(Deserialize)]
struct ThreeFields {
    event_id: String,
    timestamp: i64,
    url: String,
}

fn bench_parse(c: &mut Criterion, json: &[u8]) {
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("event", |b| {
        b.iter(|| serde_json::from_slice::<types::Event>(black_box(json)).unwrap())
    });
    group.bench_function("value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(json)).unwrap())
    });
    group.bench_function("three_fields", |b| {
        b.iter(|| serde_json::from_slice::<ThreeFields>(black_box(json)).unwrap())
    });
    group.finish();
}

/// `--only KIND --iterations N`: N parses of one kind, nothing else.
fn only(json: &[u8]) -> bool {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let Some(kind) = value("--only") else {
        return false;
    };
    let n: usize = value("--iterations")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    for _ in 0..n {
        match kind.as_str() {
            "event" => drop(black_box(
                serde_json::from_slice::<types::Event>(black_box(json)).unwrap(),
            )),
            "value" => drop(black_box(
                serde_json::from_slice::<serde_json::Value>(black_box(json)).unwrap(),
            )),
            "three_fields" => drop(black_box(
                serde_json::from_slice::<ThreeFields>(black_box(json)).unwrap(),
            )),
            other => panic!("--only event|value|three_fields, not {other}"),
        }
    }
    true
}

fn main() {
    let json = common::fixture();
    if only(&json) {
        return;
    }
    // The fixture must really be a full event: fail loudly rather than time
    // an error path.
    let event: types::Event = serde_json::from_slice(&json).expect("fixture parses as Event");
    let small: ThreeFields = serde_json::from_slice(&json).expect("fixture has 3 fields");
    assert_eq!(event.event_id, small.event_id);
    assert_eq!(event.timestamp, small.timestamp);
    assert!(!small.url.is_empty());

    let since = SystemTime::now();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_parse(&mut c, &json);
    c.final_summary();

    let mean = |id| common::criterion_mean_ns("parse", id, since);
    if let (Some(event), Some(value), Some(small)) =
        (mean("event"), mean("value"), mean("three_fields"))
    {
        println!();
        println!(
            "parse summary ({}, {} bytes; load {})",
            common::fixture_name(),
            json.len(),
            common::load_average()
        );
        println!("  types::Event       {:8.2} µs/parse", event / 1e3);
        println!("  serde_json::Value  {:8.2} µs/parse", value / 1e3);
        println!("  3-field struct     {:8.2} µs/parse", small / 1e3);
        println!(
            "  Event / Value = {:.2} (target <= 0.60)   Event / 3-field = {:.2}   Value / 3-field = {:.2}",
            event / value,
            event / small,
            value / small
        );
    }
}
