//! `sealed::unseal_event` and `webhook::verify`, on the tests' fixtures and
//! on the full event fixture (sealed and signed at start with the SDK's own
//! `sealed::seal` and `webhook::sign`).
//!
//! `cargo bench --bench sealed_webhook`

mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine;
use criterion::{Criterion, Throughput};
use fingerprint_server_sdk::sealed::{self, DecryptionKey};
use fingerprint_server_sdk::{types, webhook};

fn read(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

struct Inputs {
    /// The tests' sealed fixture (a small event), decoded from base64.
    sealed_small: Vec<u8>,
    /// The full event fixture, sealed with the primary key.
    sealed_full: Vec<u8>,
    /// The full event's plaintext JSON (for the parse-only comparison).
    full_json: Vec<u8>,
    keys: Vec<DecryptionKey>,
    /// An unrelated key first, then the right one: a key rotation.
    rotated_keys: Vec<DecryptionKey>,
    webhook_body: Vec<u8>,
    webhook_secret: Vec<u8>,
    webhook_header: String,
    full_header: String,
}

fn inputs() -> Inputs {
    let keys: serde_json::Value =
        serde_json::from_slice(&read("tests/fixtures/sealed/keys.json")).expect("keys.json");
    let key = |name: &str| {
        DecryptionKey::from_base64(keys[name].as_str().expect("key text")).expect("valid key")
    };
    let sealed_text = String::from_utf8(read("tests/fixtures/sealed/event.sealed.b64")).unwrap();
    let sealed_small = base64::engine::general_purpose::STANDARD
        .decode(sealed_text.trim())
        .expect("base64 fixture");
    let full_json = common::fixture().to_vec();
    let sealed_full = sealed::seal(&full_json, &key("primary")).expect("seal the full event");
    let webhook_secret = read("tests/fixtures/webhook/secret.txt");
    let webhook_body = read("tests/fixtures/webhook/event.json");
    let webhook_header = String::from_utf8(read("tests/fixtures/webhook/event.json.signature"))
        .unwrap()
        .trim()
        .to_owned();
    let full_header = webhook::sign(&full_json, &webhook_secret);
    Inputs {
        sealed_small,
        sealed_full,
        full_json,
        keys: vec![key("primary")],
        rotated_keys: vec![key("unrelated"), key("primary")],
        webhook_body,
        webhook_secret,
        webhook_header,
        full_header,
    }
}

fn bench(c: &mut Criterion, i: &Inputs) {
    let mut group = c.benchmark_group("sealed");
    group.throughput(Throughput::Elements(1));
    group.bench_function("unseal_event_fixture", |b| {
        b.iter(|| sealed::unseal_event(black_box(&i.sealed_small), &i.keys).unwrap())
    });
    group.bench_function("unseal_event_full", |b| {
        b.iter(|| sealed::unseal_event(black_box(&i.sealed_full), &i.keys).unwrap())
    });
    group.bench_function("unseal_event_full_second_key", |b| {
        b.iter(|| sealed::unseal_event(black_box(&i.sealed_full), &i.rotated_keys).unwrap())
    });
    group.bench_function("open_full", |b| {
        b.iter(|| sealed::open(black_box(&i.sealed_full), &i.keys).unwrap())
    });
    group.bench_function("parse_full", |b| {
        b.iter(|| serde_json::from_slice::<types::Event>(black_box(&i.full_json)).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("webhook");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_fixture", |b| {
        b.iter(|| {
            webhook::verify(
                black_box(&i.webhook_header),
                black_box(&i.webhook_body),
                &i.webhook_secret,
            )
            .unwrap()
        })
    });
    group.bench_function("verify_full", |b| {
        b.iter(|| {
            webhook::verify(
                black_box(&i.full_header),
                black_box(&i.full_json),
                &i.webhook_secret,
            )
            .unwrap()
        })
    });
    group.bench_function("parse_event_full", |b| {
        b.iter(|| {
            webhook::parse_event(
                black_box(&i.full_header),
                black_box(&i.full_json),
                &i.webhook_secret,
            )
            .unwrap()
        })
    });
    group.finish();
}

fn main() {
    let inputs = inputs();
    // Check every input before timing it.
    sealed::unseal_event(&inputs.sealed_small, &inputs.keys).expect("small sealed fixture");
    sealed::unseal_event(&inputs.sealed_full, &inputs.rotated_keys).expect("full sealed event");
    webhook::verify(
        &inputs.webhook_header,
        &inputs.webhook_body,
        &inputs.webhook_secret,
    )
    .expect("webhook fixture");
    webhook::verify(
        &inputs.full_header,
        &inputs.full_json,
        &inputs.webhook_secret,
    )
    .expect("signed full event");

    let since = SystemTime::now();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench(&mut c, &inputs);
    c.final_summary();

    let rows = [
        (
            "sealed",
            "unseal_event_fixture",
            format!(
                "unseal_event, tests' fixture ({} B sealed)",
                inputs.sealed_small.len()
            ),
        ),
        (
            "sealed",
            "unseal_event_full",
            format!(
                "unseal_event, full event ({} B sealed)",
                inputs.sealed_full.len()
            ),
        ),
        (
            "sealed",
            "unseal_event_full_second_key",
            "unseal_event, full event, right key second".to_owned(),
        ),
        (
            "sealed",
            "open_full",
            "  of which open (AES-GCM + inflate)".to_owned(),
        ),
        (
            "sealed",
            "parse_full",
            "  of which parse into Event".to_owned(),
        ),
        (
            "webhook",
            "verify_fixture",
            format!("verify, tests' fixture ({} B)", inputs.webhook_body.len()),
        ),
        (
            "webhook",
            "verify_full",
            format!("verify, full event ({} B)", inputs.full_json.len()),
        ),
        (
            "webhook",
            "parse_event_full",
            "parse_event (verify + parse), full event".to_owned(),
        ),
    ];
    println!();
    println!("sealed/webhook summary (load {})", common::load_average());
    for (group, id, label) in rows {
        if let Some(ns) = common::criterion_mean_ns(group, id, since) {
            println!("  {label:<48} {:8.2} µs", ns / 1e3);
        }
    }
}
