//! Pagination: `search_events().into_stream()` over pages of 100 events
//! (each a copy of the full event fixture) from a local keep-alive server.
//!
//! 1. Memory: the peak heap held by the client while streaming 1, 10, 100 and
//!    1,000 pages, counted by a global allocator that counts the client
//!    thread's allocations only (the server runs on a thread of its own).
//!    Flat means the same peak whatever the number of pages: one page at a
//!    time.
//! 2. Speed (criterion): 10,000 events over 100 pages, events/s, through the
//!    SDK's stream and through a bare `reqwest` loop over the same pages
//!    parsing into the same `types::EventSearch`.
//!
//! `cargo bench --bench pagination`

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use common::{KEY, PAGE_SIZE, Server};
use criterion::{Criterion, Throughput};
use fingerprint_server_sdk::{Client, types};

// ---------------------------------------------------------------------------
// The heap meter.

struct Metered;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    /// Only the client thread's allocations are counted.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn counted() -> bool {
    COUNTED.try_with(Cell::get).unwrap_or(false)
}

fn grow(size: usize) {
    let now = LIVE.fetch_add(size as isize, Ordering::Relaxed) + size as isize;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrink(size: usize) {
    LIVE.fetch_sub(size as isize, Ordering::Relaxed);
}

// SAFETY: every call goes to the system allocator unchanged; only counters
// are kept on the side.
unsafe impl GlobalAlloc for Metered {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() && counted() {
            grow(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) };
        if counted() {
            shrink(layout.size());
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() && counted() {
            shrink(layout.size());
            grow(new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Metered = Metered;

// ---------------------------------------------------------------------------

/// Streams every event of a search of `pages` pages through the SDK, each
/// event dropped once seen; returns how many there were.
async fn sdk_stream(client: &Client, pages: usize) -> usize {
    let mut events = client
        .search_events()
        .linked_id(format!("pages-{pages}"))
        .limit(PAGE_SIZE as i32)
        .into_stream();
    let mut count = 0;
    while let Some(event) = events.next().await {
        std::hint::black_box(event.expect("page"));
        count += 1;
    }
    count
}

/// The same pages with a bare `reqwest` loop following `pagination_key`.
async fn bare_stream(http: &reqwest::Client, base: &str, pages: usize) -> usize {
    let mut key: Option<String> = None;
    let mut count = 0;
    loop {
        let mut request = http
            .get(format!("{base}/events"))
            .query(&[("linked_id", format!("pages-{pages}"))])
            .query(&[("limit", PAGE_SIZE)]);
        if let Some(key) = &key {
            request = request.query(&[("pagination_key", key)]);
        }
        let page: types::EventSearch = request
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("bare page")
            .json()
            .await
            .expect("bare page body");
        for event in page.events {
            std::hint::black_box(event);
            count += 1;
        }
        match page.pagination_key {
            Some(next) if !next.is_empty() => key = Some(next),
            _ => return count,
        }
    }
}

/// Peak heap held by this thread above what it held at the start, while
/// streaming `pages` pages.
fn peak_while_streaming(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    pages: usize,
) -> (usize, isize) {
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let events = runtime.block_on(sdk_stream(client, pages));
    (events, PEAK.load(Ordering::Relaxed) - baseline)
}

fn main() {
    COUNTED.with(|c| c.set(true));
    let fixture = common::fixture();
    let server = Server::start(fixture.clone());
    let runtime = common::client_runtime();
    let client = common::sdk_client(&server);
    let http = reqwest::Client::builder()
        .default_headers(
            [(
                reqwest::header::AUTHORIZATION,
                reqwest::header::HeaderValue::from_str(&format!("Bearer {KEY}")).unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .expect("reqwest client");
    let base = server.base_url();

    // Warm up (connection, server's page buffer), then the memory check.
    runtime.block_on(sdk_stream(&client, 2));
    println!(
        "pagination memory: pages of {PAGE_SIZE} copies of {} ({} bytes, {} KiB a page); load {}",
        common::fixture_name(),
        fixture.len(),
        PAGE_SIZE * (fixture.len() + 1) / 1024,
        common::load_average()
    );
    println!("| pages | events | peak client heap while streaming | time | events/s |");
    println!("|---:|---:|---:|---:|---:|");
    let mut peaks = Vec::new();
    for pages in [1, 10, 100, 1000] {
        let start = Instant::now();
        let (events, peak) = peak_while_streaming(&runtime, &client, pages);
        let elapsed = start.elapsed();
        assert_eq!(events, pages * PAGE_SIZE, "every event streamed");
        println!(
            "| {pages} | {events} | {:.2} MiB | {:.0} ms | {:.0} |",
            peak as f64 / (1024.0 * 1024.0),
            elapsed.as_secs_f64() * 1e3,
            events as f64 / elapsed.as_secs_f64()
        );
        peaks.push(peak);
    }
    println!(
        "peak(100 pages) / peak(10 pages) = {:.2}, peak(1000 pages) / peak(10 pages) = {:.2} (flat = 1.00)",
        peaks[2] as f64 / peaks[1] as f64,
        peaks[3] as f64 / peaks[1] as f64
    );
    println!();

    let since = SystemTime::now();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6))
        .sample_size(10)
        .configure_from_args();
    let mut group = c.benchmark_group("pagination");
    let pages = 100;
    group.throughput(Throughput::Elements((pages * PAGE_SIZE) as u64));
    group.bench_function("sdk_stream_100_pages", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    sdk_stream(&client, pages).await;
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("bare_100_pages", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    bare_stream(&http, &base, pages).await;
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    c.final_summary();

    let mean = |id| common::criterion_mean_ns("pagination", id, since);
    if let (Some(sdk), Some(bare)) = (mean("sdk_stream_100_pages"), mean("bare_100_pages")) {
        let events = (pages * PAGE_SIZE) as f64;
        println!();
        println!(
            "pagination summary: sdk {:.0} events/s, bare {:.0} events/s, sdk/bare throughput = {:.3}",
            events / (sdk / 1e9),
            events / (bare / 1e9),
            bare / sdk
        );
    }
}
