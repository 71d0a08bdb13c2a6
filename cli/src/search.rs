//! `events search`: the filters as a search request, and the results
//! streamed to stdout page by page.

use std::io::{self, BufWriter, IsTerminal};

use fingerprint_server_sdk::Error;
use fingerprint_server_sdk::builder::SearchEvents;
use fingerprint_server_sdk::search::{self, Kind, Role};
use serde_json::Value;

use crate::args::{Format, SearchArgs};
use crate::connect::Connection;
use crate::failure::{Failure, Result};
use crate::output::{EventWriter, parse_fields, stdout_width};
use crate::params::{self, Values};
use crate::progress::Progress;
use crate::timespec;

/// How far back the API looks when no start is given.
pub const DEFAULT_WINDOW_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// A search as given and as sent.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedSearch {
    /// The parameters as given (times as typed, e.g. `7d`).
    pub given: Values,
    /// The parameters to send: every time in Unix milliseconds.
    pub sent: Values,
}

impl ResolvedSearch {
    /// Resolves the times against `now_ms`. With `pin_window`, a missing
    /// start or end becomes the API's default (7 days ago, now) fixed at
    /// this moment, so that repeating the search later (a resumed export)
    /// covers the same events.
    pub fn resolve(given: &Values, now_ms: i64, pin_window: bool) -> Result<Self> {
        let mut sent = given.clone();
        for (name, values) in &mut sent {
            let is_time = search::parameter(name).is_some_and(|p| p.kind == Kind::Time);
            if !is_time {
                continue;
            }
            for value in values {
                let ms = timespec::resolve(value, now_ms)
                    .map_err(|e| Failure::usage(format!("{}: {e}", params::flag(name))))?;
                *value = ms.to_string();
            }
        }
        if pin_window {
            for (role, default) in [
                (Role::Start, now_ms - DEFAULT_WINDOW_MS),
                (Role::End, now_ms),
            ] {
                if let Some(name) = params::role_name(role) {
                    sent.entry(name.to_owned())
                        .or_insert_with(|| vec![default.to_string()]);
                }
            }
        }
        let time = |role| {
            let name = params::role_name(role)?;
            let ms = sent.get(name)?.first()?.parse::<i64>().ok()?;
            Some((name, ms))
        };
        if let (Some((from_name, from)), Some((to_name, to))) = (time(Role::Start), time(Role::End))
            && from > to
        {
            return Err(Failure::usage(format!(
                "{} is after {}",
                params::flag(from_name),
                params::flag(to_name)
            )));
        }
        Ok(Self {
            given: given.clone(),
            sent,
        })
    }
}

/// Sets every value on the request, one `with_parameter` call each (a
/// repeated parameter gains one value per call). A value the SDK refuses is
/// a usage error naming its flag.
pub fn apply<'a>(values: &Values, mut search: SearchEvents<'a>) -> Result<SearchEvents<'a>> {
    for (name, list) in values {
        for value in list {
            search = search
                .with_parameter(name, value)
                .map_err(|e| refused(name, &e))?;
        }
    }
    Ok(search)
}

fn refused(name: &str, error: &Error) -> Failure {
    let reason = match error {
        // The SDK names the parameter; the user knows the flag.
        Error::InvalidRequest { message, .. } => message
            .strip_prefix(&format!("{name}: "))
            .unwrap_or(message)
            .to_owned(),
        other => other.to_string(),
    };
    Failure::usage(format!("{}: {reason}", params::flag(name)))
}

/// `events search`.
pub async fn run(conn: &Connection, args: SearchArgs) -> Result<()> {
    let fields = parse_fields(&args.fields)?;
    let terminal = io::stdout().is_terminal();
    let format = output_format(args.format, terminal, !fields.is_empty())?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut sent = ResolvedSearch::resolve(&args.query.values, now, false)?.sent;
    let follow = args.all || args.max.is_some();
    if follow && let Some((page_size, largest)) = params::largest_page() {
        // Fewer requests for the same events.
        sent.entry(page_size.to_owned())
            .or_insert_with(|| vec![largest.to_string()]);
    }
    let search = apply(&sent, conn.client.search_events())?;

    let stdout = io::stdout().lock();
    let mut out = EventWriter::new(BufWriter::with_capacity(64 * 1024, stdout), format, fields)
        .with_width(stdout_width());
    let io_failure = |e: io::Error| Failure::write("stdout", &e);
    out.begin().map_err(io_failure)?;
    // A bar only when the events go elsewhere than the terminal it is on.
    let progress = Progress::new(args.max, "events", true, follow && !terminal);

    let mut remaining = args.max;
    let mut next_key: Option<String> = None;
    let mut cut_short = false;
    // Pages as the API sent them: every field of every event is printed.
    let mut pages = search.into_json_page_stream();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                // What was printed stays printed (the JSON array stays open,
                // so a consumer notices it is incomplete).
                out.flush().map_err(io_failure)?;
                progress.finish();
                return Err(conn.failure("search events", &e));
            }
        };
        if pages.pages_received() == 1
            && let Some(total) = page.get("total_hits").and_then(Value::as_i64)
        {
            progress.line(&format!("total hits: {total}"));
        }
        for event in page_events(&page) {
            if remaining == Some(0) {
                cut_short = true;
                break;
            }
            out.event(event).map_err(io_failure)?;
            remaining = remaining.map(|n| n - 1);
            progress.inc(1);
        }
        // Show each page as soon as it is complete.
        out.flush().map_err(io_failure)?;
        next_key = next_page_key(&page);
        if !follow || remaining == Some(0) {
            break;
        }
    }
    out.finish().map_err(io_failure)?;
    progress.finish();
    // Only set when the search stopped early (one page, or --max).
    if cut_short {
        note!("more events: raise --max, or use --all");
    } else if let Some(key) = next_key {
        match params::role_name(Role::PaginationKey) {
            Some(name) => note!(
                "more events: --all for every page, or {} {key} for the next one",
                params::flag(name)
            ),
            None => note!("more events: --all for every page"),
        }
    }
    Ok(())
}

/// The format asked for, or the default: a table for people at a terminal,
/// JSON for programs (and whenever `--fields` is given: the table has its
/// own columns).
pub fn output_format(asked: Option<Format>, terminal: bool, fields: bool) -> Result<Format> {
    match asked {
        Some(Format::Table) if fields => Err(Failure::usage(
            "--fields does not apply to --format table (its columns are fixed)",
        )
        .with_hint("use --format json, jsonl or csv with --fields")),
        Some(format) => Ok(format),
        None if terminal && !fields => Ok(Format::Table),
        None => Ok(Format::Json),
    }
}

/// The events of a search page (none when the page has no `events` array).
pub fn page_events(page: &Value) -> &[Value] {
    page.get("events")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The key of the page after this one; `None` on the last page.
pub fn next_page_key(page: &Value) -> Option<String> {
    page.get("pagination_key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_717_243_200_000;

    #[test]
    fn pages_are_read_as_sent() {
        let page = serde_json::json!({
            "events": [{"event_id": "1.a", "new_field": 1}],
            "pagination_key": "k1"
        });
        assert_eq!(page_events(&page).len(), 1);
        assert_eq!(page_events(&page)[0]["new_field"], 1);
        assert_eq!(next_page_key(&page).as_deref(), Some("k1"));
        // The last page: no key, an empty key, or no events at all.
        for last in [
            serde_json::json!({"events": []}),
            serde_json::json!({"events": [], "pagination_key": ""}),
            serde_json::json!({"events": null, "pagination_key": null}),
        ] {
            assert!(page_events(&last).is_empty(), "{last}");
            assert_eq!(next_page_key(&last), None, "{last}");
        }
    }

    #[test]
    fn tables_for_terminals_json_for_programs() {
        assert_eq!(output_format(None, true, false).ok(), Some(Format::Table));
        assert_eq!(output_format(None, false, false).ok(), Some(Format::Json));
        assert_eq!(output_format(None, true, true).ok(), Some(Format::Json));
        assert_eq!(
            output_format(Some(Format::Csv), true, false).ok(),
            Some(Format::Csv)
        );
        assert_eq!(
            output_format(Some(Format::Table), false, false).ok(),
            Some(Format::Table)
        );
        assert!(output_format(Some(Format::Table), true, true).is_err());
    }

    fn name(role: Role) -> &'static str {
        params::role_name(role).unwrap_or_else(|| panic!("the search has no {role:?}"))
    }

    /// The first value of the parameter playing `role`, as sent.
    fn sent_ms(resolved: &ResolvedSearch, role: Role) -> Option<i64> {
        resolved.sent.get(name(role))?.first()?.parse().ok()
    }

    #[test]
    fn export_windows_are_pinned() {
        let none = Values::new();
        let loose = ResolvedSearch::resolve(&none, NOW, false).unwrap_or_else(|e| panic!("{e}"));
        assert!(loose.sent.is_empty());
        let pinned = ResolvedSearch::resolve(&none, NOW, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sent_ms(&pinned, Role::Start), Some(NOW - DEFAULT_WINDOW_MS));
        assert_eq!(sent_ms(&pinned, Role::End), Some(NOW));
        assert!(pinned.given.is_empty());
    }

    #[test]
    fn relative_times_resolve_once() {
        let window = |from: &str, to: &str| -> Values {
            [
                (name(Role::Start).to_owned(), vec![from.to_owned()]),
                (name(Role::End).to_owned(), vec![to.to_owned()]),
            ]
            .into()
        };
        let given = window("2h", "1h");
        let resolved = ResolvedSearch::resolve(&given, NOW, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sent_ms(&resolved, Role::Start), Some(NOW - 2 * 3_600_000));
        assert_eq!(sent_ms(&resolved, Role::End), Some(NOW - 3_600_000));
        assert_eq!(resolved.given, given, "kept as typed");
        let backwards = window("1h", "2h");
        let refused = ResolvedSearch::resolve(&backwards, NOW, false)
            .err()
            .map(|f| f.message);
        assert_eq!(
            refused,
            Some(format!(
                "{} is after {}",
                params::flag(name(Role::Start)),
                params::flag(name(Role::End))
            ))
        );
    }

    #[test]
    fn values_the_sdk_refuses_name_their_flag() {
        let client = fingerprint_server_sdk::Client::builder("k")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let number = search::PARAMETERS
            .iter()
            .find(|p| p.kind == Kind::Number)
            .unwrap_or_else(|| panic!("a number parameter"));
        let values: Values = [(number.name.to_owned(), vec!["many".to_owned()])].into();
        let failure = apply(&values, client.search_events())
            .err()
            .unwrap_or_else(|| panic!("\"many\" is not a number"));
        assert_eq!(failure.code, crate::failure::exit::USAGE);
        assert!(
            failure
                .message
                .starts_with(&format!("{}: ", params::flag(number.name))),
            "{}",
            failure.message
        );
        assert!(failure.message.contains("many"), "{}", failure.message);
        let unknown: Values = [("no_such".to_owned(), vec!["1".to_owned()])].into();
        assert!(apply(&unknown, client.search_events()).is_err());
        // Repeated parameters take one call per value.
        let repeated = search::PARAMETERS
            .iter()
            .find(|p| p.repeated && p.kind == Kind::String)
            .unwrap_or_else(|| panic!("a repeated text parameter"));
        let two: Values = [(repeated.name.to_owned(), vec!["a".into(), "b".into()])].into();
        assert!(apply(&two, client.search_events()).is_ok());
    }
}
