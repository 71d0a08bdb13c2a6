//! `events search`: the filters as a search request, and the results
//! streamed to stdout page by page.

use std::io::{self, BufWriter, IsTerminal};

use fingerprint_server_sdk::builder::SearchEvents;
use fingerprint_server_sdk::types;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::args::{Filters, Format, Query, SearchArgs};
use crate::connect::Connection;
use crate::failure::{Failure, Result};
use crate::output::{EventWriter, parse_fields, stdout_width};
use crate::progress::Progress;
use crate::timespec;

/// How far back the API looks when no start is given.
pub const DEFAULT_WINDOW_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The search with its times resolved to Unix milliseconds, as sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolvedSearch {
    /// The search as given (times as typed, e.g. `7d`).
    #[serde(rename = "filters")]
    pub query: Query,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

impl ResolvedSearch {
    /// Resolves the times against `now_ms`. With `pin_window`, a missing
    /// start or end becomes the API's default (7 days ago, now) fixed at
    /// this moment, so that repeating the search later (a resumed export)
    /// covers the same events.
    pub fn resolve(query: &Query, now_ms: i64, pin_window: bool) -> Result<Self> {
        let time = |flag: &str, text: &Option<String>| -> Result<Option<i64>> {
            text.as_deref()
                .map(|t| {
                    timespec::resolve(t, now_ms).map_err(|e| Failure::usage(format!("{flag}: {e}")))
                })
                .transpose()
        };
        let mut start_ms = time("--start", &query.window.start)?;
        let mut end_ms = time("--end", &query.window.end)?;
        if pin_window {
            end_ms = end_ms.or(Some(now_ms));
            start_ms = start_ms.or(Some(now_ms - DEFAULT_WINDOW_MS));
        }
        if let (Some(start), Some(end)) = (start_ms, end_ms)
            && start > end
        {
            return Err(Failure::usage("--start is after --end"));
        }
        Ok(Self {
            query: query.clone(),
            start_ms,
            end_ms,
        })
    }

    /// Sets the window, the order and every given filter on the request.
    pub fn apply<'a>(&self, search: SearchEvents<'a>) -> SearchEvents<'a> {
        let mut search = apply_filters(&self.query.filters, search);
        if self.query.window.reverse {
            search = search.reverse(true);
        }
        if let Some(start) = self.start_ms {
            search = search.start(start);
        }
        if let Some(end) = self.end_ms {
            search = search.end(end);
        }
        search
    }
}

/// Sets every filter given on the command line on the request (the window,
/// order and paging are the caller's).
pub fn apply_filters<'a>(f: &Filters, mut search: SearchEvents<'a>) -> SearchEvents<'a> {
    // Filters whose flag value is the parameter's value.
    macro_rules! plain {
        ($($name:ident),* $(,)?) => {
            $(if let Some(value) = &f.$name {
                search = search.$name(value.clone());
            })*
        };
    }
    plain!(
        visitor_id,
        high_recall_id,
        linked_id,
        suspect,
        ip_address,
        asn,
        url,
        bundle_id,
        package_name,
        origin,
        sdk_version,
        proximity_id,
        min_suspect_score,
        vpn,
        proxy,
        tor_node,
        incognito,
        tampering,
        anti_detect_browser,
        privacy_settings,
        virtual_machine,
        developer_tools,
        location_spoofing,
        mitm_attack,
        rare_device,
        jailbroken,
        frida,
        factory_reset,
        cloned_app,
        emulator,
        simulator,
        root_apps,
        active_call,
    );
    // The enums are open: every text is accepted (a value this SDK does
    // not know is sent as typed; the API says whether it is valid).
    macro_rules! open_enum {
        ($($name:ident: $ty:ty),* $(,)?) => {
            $(if let Some(value) = &f.$name {
                search = search.$name(<$ty>::from(value.as_str()));
            })*
        };
    }
    open_enum!(
        bot: types::SearchEventsBot,
        bot_info: types::SearchEventsBotInfo,
        vpn_confidence: types::SearchEventsVpnConfidence,
        rare_device_percentile_bucket: types::SearchEventsRareDevicePercentileBucket,
        sdk_platform: types::SearchEventsSdkPlatform,
        incremental_identification_status: types::SearchEventsIncrementalIdentificationStatus,
    );
    macro_rules! list {
        ($($name:ident: $ty:ty),* $(,)?) => {
            $(if !f.$name.is_empty() {
                let values: Vec<$ty> = f.$name.iter().map(|v| <$ty>::from(v.as_str())).collect();
                search = search.$name(values);
            })*
        };
    }
    list!(
        bot_info_category: types::BotInfoCategory,
        bot_info_identity: types::BotInfoIdentity,
        bot_info_confidence: types::BotInfoConfidence,
        bot_info_provider: String,
        bot_info_name: String,
        environment: String,
        source: types::SearchEventsSourceItem,
    );
    search
}

/// `events search`.
pub async fn run(conn: &Connection, args: SearchArgs) -> Result<()> {
    let fields = parse_fields(&args.fields)?;
    let terminal = io::stdout().is_terminal();
    let format = output_format(args.format, terminal, !fields.is_empty())?;
    let now = chrono::Utc::now().timestamp_millis();
    let resolved = ResolvedSearch::resolve(&args.query, now, false)?;
    let follow = args.all || args.max.is_some();
    let mut search = resolved.apply(conn.client.search_events());
    if let Some(limit) = args.limit.or(follow.then_some(100)) {
        search = search.limit(limit);
    }
    if let Some(key) = &args.pagination_key {
        search = search.pagination_key(key.clone());
    }
    if let Some(total) = args.total_hits {
        search = search.total_hits(total);
    }

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
        note!("more events: --all for every page, or --pagination-key {key} for the next one");
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

    #[test]
    fn export_windows_are_pinned() {
        let filters = Query::default();
        let loose = ResolvedSearch::resolve(&filters, NOW, false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((loose.start_ms, loose.end_ms), (None, None));
        let pinned = ResolvedSearch::resolve(&filters, NOW, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pinned.start_ms, Some(NOW - DEFAULT_WINDOW_MS));
        assert_eq!(pinned.end_ms, Some(NOW));
    }

    #[test]
    fn relative_times_resolve_once() {
        let window = |start: &str, end: &str| Query {
            window: crate::args::Window {
                start: Some(start.into()),
                end: Some(end.into()),
                reverse: false,
            },
            ..Query::default()
        };
        let filters = window("2h", "1h");
        let resolved =
            ResolvedSearch::resolve(&filters, NOW, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resolved.start_ms, Some(NOW - 2 * 3_600_000));
        assert_eq!(resolved.end_ms, Some(NOW - 3_600_000));
        let backwards = window("1h", "2h");
        assert!(ResolvedSearch::resolve(&backwards, NOW, false).is_err());
    }
}
