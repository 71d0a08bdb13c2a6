//! `mock serve`: the SDK's fake Server API as a local server, with seed
//! events, rulesets, queued faults and a delay given on the command line.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;

use fingerprint_server_sdk::mock::{self, FakeApi, Fault, Operation, Ruleset};
use serde_json::Value;

use crate::args::{ServeArgs, parse_duration};
use crate::connect::seed_samples;
use crate::failure::{Failure, Result};
use crate::search::DEFAULT_WINDOW_MS;

pub async fn run(args: ServeArgs) -> Result<()> {
    if args.key.trim().is_empty() {
        return Err(Failure::usage("--key must not be empty"));
    }
    // Everything given on the command line is read before anything listens.
    let faults = args
        .fail_next
        .iter()
        .map(|spec| {
            parse_fault(spec).map_err(|e| {
                Failure::usage(format!("--fail-next {spec}: {e}"))
                    .with_hint("e.g. --fail-next 3:429, --fail-next search:1:html=502, --fail-next update:2:409")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let rulesets = args
        .ruleset
        .iter()
        .map(|path| read_rulesets(path))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
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
    // The banner's extra lines, written as each thing is registered
    // (writing into a String cannot fail).
    let mut extras = String::new();
    if !rulesets.is_empty() {
        let ids: Vec<&str> = rulesets.iter().map(Ruleset::id).collect();
        let _ = writeln!(extras, "rulesets: {}", ids.join(", "));
    }
    for ruleset in rulesets {
        fake.add_ruleset(ruleset);
    }
    let mut queued = 0;
    for (operation, times, fault) in faults {
        queued += times;
        match operation {
            Some(operation) => fake.fail_next_on(operation, times, fault),
            None => fake.fail_next(times, fault),
        }
    }
    if queued > 0 {
        let _ = writeln!(extras, "faults queued: {queued}");
    }
    if let Some(delay) = args.delay {
        fake.set_delay(delay);
        let _ = writeln!(extras, "every answer delayed by {delay:?}");
    }
    let url = fake.url();
    let mut out = std::io::stdout().lock();
    // Scripts read the first line for the URL.
    let _ = writeln!(
        out,
        "fake Fingerprint Server API v4 listening on {url}\n\
         secret API key: {key}\n\
         events: {loaded}\n\
         {extras}\
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
    // The line of each event, for naming the one the fake refuses.
    let mut lines = Vec::new();
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
        lines.push(n + 1);
    }
    let loaded = fake.insert_many(events).map_err(|e| {
        let at = match e.position().and_then(|i| lines.get(i)) {
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

/// Reads a ruleset file: one ruleset (a JSON object) or an array of them.
fn read_rulesets(path: &Path) -> Result<Vec<Ruleset>> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Failure::io(&shown, &e))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::invalid(format!("{shown}: not JSON: {e}")))?;
    let list = match value {
        Value::Array(list) => list,
        one => vec![one],
    };
    list.iter()
        .map(|one| Ruleset::from_json(one).map_err(|e| Failure::invalid(format!("{shown}: {e}"))))
        .collect()
}

/// Reads `[OPERATION:]N:FAULT` (see `--fail-next`).
fn parse_fault(spec: &str) -> std::result::Result<(Option<Operation>, usize, Fault), String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (operation, times, kind) = match parts.as_slice() {
        [times, kind] => (None, *times, *kind),
        [operation, times, kind] => {
            let operation = Operation::parse(operation).ok_or_else(|| {
                format!("unknown operation {operation:?}: use get, search, update, delete or edge")
            })?;
            (Some(operation), *times, *kind)
        }
        _ => return Err("expected [OPERATION:]N:FAULT".to_owned()),
    };
    let times: usize = times
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{times:?} is not a number of requests (1 or more)"))?;
    let status = |text: &str| {
        text.parse::<u16>()
            .ok()
            .filter(|s| (400..=599).contains(s))
            .ok_or_else(|| format!("{text:?} is not an error status (400 to 599)"))
    };
    let fault = match kind.split_once('=') {
        None if kind == "close" => Fault::Close,
        None if kind == "reset" => Fault::Reset,
        None => match status(kind)? {
            429 => Fault::TooManyRequests { retry_after: None },
            409 => Fault::StateNotReady,
            code => Fault::Status(code),
        },
        Some(("retry-after", seconds)) => Fault::TooManyRequests {
            retry_after: Some(
                seconds
                    .parse()
                    .map_err(|_| format!("{seconds:?} is not a number of seconds"))?,
            ),
        },
        Some(("html", code)) => {
            let code = status(code)?;
            Fault::html(
                code,
                format!(
                    "<html><head><title>{code} Gateway Error</title></head>\n\
                     <body><h1>{code} Gateway Error</h1><hr>fingerprint mock serve</body></html>\n"
                ),
            )
        }
        Some(("cut", bytes)) => Fault::Truncate {
            after: bytes
                .parse()
                .map_err(|_| format!("{bytes:?} is not a number of bytes"))?,
        },
        Some(("delay", duration)) => Fault::Delay(parse_duration(duration)?),
        Some((name, _)) => {
            return Err(format!(
                "unknown fault {name:?}: use a status, retry-after=, html=, close, reset, cut= or delay="
            ));
        }
    };
    Ok((operation, times, fault))
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn fault_specs_read_as_documented() {
        for (spec, expected) in [
            (
                "3:429",
                (None, 3, Fault::TooManyRequests { retry_after: None }),
            ),
            (
                "1:retry-after=2",
                (
                    None,
                    1,
                    Fault::TooManyRequests {
                        retry_after: Some(2),
                    },
                ),
            ),
            (
                "update:2:409",
                (Some(Operation::UpdateEvent), 2, Fault::StateNotReady),
            ),
            (
                "search:1:503",
                (Some(Operation::SearchEvents), 1, Fault::Status(503)),
            ),
            ("get:1:close", (Some(Operation::GetEvent), 1, Fault::Close)),
            ("2:reset", (None, 2, Fault::Reset)),
            ("1:cut=10", (None, 1, Fault::Truncate { after: 10 })),
            (
                "delete:1:delay=250ms",
                (
                    Some(Operation::DeleteVisitorData),
                    1,
                    Fault::Delay(Duration::from_millis(250)),
                ),
            ),
        ] {
            assert_eq!(parse_fault(spec), Ok(expected), "{spec}");
        }
        let (_, _, html) = parse_fault("edge:1:html=502").unwrap_or_else(|e| panic!("{e}"));
        let Fault::Raw {
            status,
            content_type,
            body,
        } = html
        else {
            panic!("not raw: {html:?}");
        };
        assert_eq!((status, content_type.as_str()), (502, "text/html"));
        assert!(String::from_utf8_lossy(&body).contains("502"));
    }

    #[tokio::test]
    async fn a_seed_line_the_fake_refuses_is_named_even_for_an_empty_event_id() {
        let dir =
            std::env::temp_dir().join(format!("fingerprint-cli-serve-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("empty-id.jsonl");
        let good = mock::event("evt_1", "vis_1");
        let good = serde_json::to_string(&good).unwrap_or_else(|e| panic!("{e}"));
        let empty = good.replace("evt_1", "");
        std::fs::write(&path, format!("{good}\n\n{empty}\n")).unwrap_or_else(|e| panic!("{e}"));
        let fake = FakeApi::start().await.unwrap_or_else(|e| panic!("{e}"));
        let err = seed_file(&fake, &path).expect_err("an empty event_id is refused");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            err.message.contains("empty-id.jsonl:3: "),
            "{}",
            err.message
        );
        assert!(fake.is_empty(), "nothing is stored");
    }

    #[test]
    fn bad_fault_specs_say_what_is_wrong() {
        for (spec, needle) in [
            ("503", "[OPERATION:]N:FAULT"),
            ("0:503", "number of requests"),
            ("x:503", "number of requests"),
            ("1:200", "error status"),
            ("1:teapot", "error status"),
            ("fetch:1:503", "unknown operation"),
            ("1:cut=lots", "bytes"),
            ("1:delay=soon", "duration"),
            ("1:retry-after=x", "seconds"),
            ("1:wait=1", "unknown fault"),
            ("a:b:c:d", "[OPERATION:]N:FAULT"),
        ] {
            let err = parse_fault(spec).expect_err(spec);
            assert!(err.contains(needle), "{spec}: {err}");
        }
    }
}
