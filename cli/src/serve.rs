//! `mock serve`: the SDK's fake Server API as a local server.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;

use fingerprint_server_sdk::mock::{self, FakeApi};

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
    let loaded = match &args.seed {
        Some(path) => seed_file(&fake, path)?,
        None => {
            seed_samples(&fake, args.samples)?;
            args.samples
        }
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

/// Loads one event per line; returns how many.
fn seed_file(fake: &FakeApi, path: &std::path::Path) -> Result<usize> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Failure::io(&shown, &e))?;
    let cutoff = mock::now_ms() - DEFAULT_WINDOW_MS;
    let (mut loaded, mut old) = (0usize, 0usize);
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Failure::io(&shown, &e))?;
        if line.trim().is_empty() {
            continue;
        }
        let event: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| Failure::invalid(format!("{shown}:{}: not JSON: {e}", n + 1)))?;
        if event
            .get("timestamp")
            .and_then(serde_json::Value::as_i64)
            .is_some_and(|t| t < cutoff)
        {
            old += 1;
        }
        fake.insert_json(event)
            .map_err(|e| Failure::invalid(format!("{shown}:{}: {e}", n + 1)))?;
        loaded += 1;
    }
    if old > 0 {
        eprintln!(
            "note: {old} of the events are older than 7 days: a search finds them only with --start"
        );
    }
    Ok(loaded)
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
