//! `mock serve`: the SDK's fake Server API as a local server.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;

use fingerprint_server_sdk::mock::{self, FakeApi};
use fingerprint_server_sdk::types;
use serde::Deserialize;
use serde_json::Value;

use crate::args::ServeArgs;
use crate::connect::seed_samples;
use crate::failure::{Failure, Result};
use crate::search::DEFAULT_WINDOW_MS;

pub async fn run(args: ServeArgs) -> Result<()> {
    if args.key.trim().is_empty() {
        return Err(Failure::usage("--key must not be empty"));
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let fake = FakeApi::start_on(addr, &args.key).await.map_err(|e| {
        Failure::usage(format!("cannot listen on {addr}: {e}")).with_hint("choose another --port")
    })?;
    // Every event is in before the URL is announced: a script that reads
    // it finds them all.
    let loaded = match &args.seed {
        Some(path) => seed_file(&fake, path)?,
        None => seed_samples(&fake, args.samples)?,
    };
    let url = fake.url();
    let mut out = std::io::stdout().lock();
    // Scripts read the first line for the URL.
    let _ = writeln!(
        out,
        "fake Fingerprint Server API v4 listening on {url}\n\
         secret API key: {key}\n\
         events: {loaded}\n\
         try: fingerprint --base-url {url} --api-key {key} events search --limit 3\n\
         press Ctrl-C to stop",
        key = args.key,
    );
    let _ = out.flush();
    drop(out);
    wait_for_stop().await;
    eprintln!("stopped ({} requests served)", fake.requests());
    Ok(())
}

/// Loads one event per line, all at once (nothing is stored unless every
/// line is an event); returns how many.
fn seed_file(fake: &FakeApi, path: &Path) -> Result<usize> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Failure::io(&shown, &e))?;
    let cutoff = mock::now_ms() - DEFAULT_WINDOW_MS;
    let mut events = Vec::new();
    let mut old = 0usize;
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Failure::io(&shown, &e))?;
        if line.trim().is_empty() {
            continue;
        }
        let event: Value = serde_json::from_str(&line)
            .map_err(|e| Failure::invalid(format!("{shown}:{}: not JSON: {e}", n + 1)))?;
        if event
            .get("timestamp")
            .and_then(Value::as_i64)
            .is_some_and(|t| t < cutoff)
        {
            old += 1;
        }
        events.push(event);
    }
    let loaded = fake.insert_many(events).map_err(|e| {
        // The fake says what is wrong, not where: find the line.
        let at = match first_bad_line(path) {
            Some(line) => format!("{shown}:{line}"),
            None => shown.clone(),
        };
        Failure::invalid(format!("{at}: {e}"))
    })?;
    if old > 0 {
        eprintln!(
            "note: {old} of the events are older than 7 days: a search finds them only with --start"
        );
    }
    Ok(loaded)
}

/// The number of the first line of the seed file that the fake would refuse
/// (see [`FakeApi::insert_json`]: an event with an `event_id`). Read again
/// only after a refusal, so that loading keeps one copy of the events.
fn first_bad_line(path: &Path) -> Option<usize> {
    let file = std::fs::File::open(path).ok()?;
    BufReader::new(file)
        .lines()
        .enumerate()
        .find_map(|(n, line)| {
            let line = line.ok()?;
            if line.trim().is_empty() {
                return None;
            }
            let event: Value = serde_json::from_str(&line).ok()?;
            let refused = event.get("event_id").and_then(Value::as_str).is_none()
                || types::Event::deserialize(&event).is_err();
            refused.then_some(n + 1)
        })
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling: serve until killed.
        std::future::pending::<()>().await;
    }
}
