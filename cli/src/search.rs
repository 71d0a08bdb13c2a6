//! `events search`: the filters as a search request, and the results
//! streamed to stdout page by page.

use std::io::{self, BufWriter};

use fingerprint_server_sdk::builder::SearchEvents;
use fingerprint_server_sdk::types;
use serde::{Deserialize, Serialize};

use crate::args::{Filters, SearchArgs};
use crate::connect::Connection;
use crate::failure::{Failure, Result};
use crate::output::{EventWriter, parse_fields};
use crate::timespec;

/// How far back the API looks when no start is given.
pub const DEFAULT_WINDOW_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The filters with their times resolved to Unix milliseconds, as sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolvedSearch {
    /// The filters as given (times as typed, e.g. `7d`).
    pub filters: Filters,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

impl ResolvedSearch {
    /// Resolves the times against `now_ms`. With `pin_window`, a missing
    /// start or end becomes the API's default (7 days ago, now) fixed at
    /// this moment, so that repeating the search later (a resumed export)
    /// covers the same events.
    pub fn resolve(filters: &Filters, now_ms: i64, pin_window: bool) -> Result<Self> {
        let time = |flag: &str, text: &Option<String>| -> Result<Option<i64>> {
            text.as_deref()
                .map(|t| {
                    timespec::resolve(t, now_ms).map_err(|e| Failure::usage(format!("{flag}: {e}")))
                })
                .transpose()
        };
        let mut start_ms = time("--start", &filters.start)?;
        let mut end_ms = time("--end", &filters.end)?;
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
            filters: filters.clone(),
            start_ms,
            end_ms,
        })
    }

    /// Sets every given filter on the request.
    pub fn apply<'a>(&self, mut search: SearchEvents<'a>) -> Result<SearchEvents<'a>> {
        let f = &self.filters;
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
            total_hits,
        );
        // Open enums: every text is accepted (a value this SDK does not know
        // is sent as typed; the API says whether it is valid).
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
        );
        if !f.source.is_empty() {
            // The one closed enum among the filters.
            let sources = f
                .source
                .iter()
                .map(|s| {
                    s.parse::<types::SearchEventsSourceItem>().map_err(|_| {
                        Failure::usage(format!("--source {s:?}: the API knows only `edge`"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            search = search.source(sources);
        }
        if f.reverse {
            search = search.reverse(true);
        }
        if let Some(start) = self.start_ms {
            search = search.start(start);
        }
        if let Some(end) = self.end_ms {
            search = search.end(end);
        }
        Ok(search)
    }
}

/// `events search`.
pub async fn run(conn: &Connection, args: SearchArgs) -> Result<()> {
    let fields = parse_fields(&args.fields)?;
    let now = chrono::Utc::now().timestamp_millis();
    let resolved = ResolvedSearch::resolve(&args.filters, now, false)?;
    let follow = args.all || args.max.is_some();
    let mut search = resolved.apply(conn.client.search_events())?;
    if let Some(limit) = args.limit.or(follow.then_some(100)) {
        search = search.limit(limit);
    }
    if let Some(key) = &args.pagination_key {
        search = search.pagination_key(key.clone());
    }

    let stdout = io::stdout().lock();
    let mut out = EventWriter::new(
        BufWriter::with_capacity(64 * 1024, stdout),
        args.format,
        fields,
    );
    let io_failure = |e: io::Error| Failure::io("stdout", &e);
    out.begin().map_err(io_failure)?;

    let mut remaining = args.max;
    let mut next_key: Option<String> = None;
    let mut cut_short = false;
    let mut pages = search.into_page_stream();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                // What was printed stays printed (the JSON array stays open,
                // so a consumer notices it is incomplete).
                out.flush().map_err(io_failure)?;
                return Err(conn.failure("search events", &e));
            }
        };
        if pages.pages_received() == 1
            && let Some(total) = page.total_hits
        {
            eprintln!("total hits: {total}");
        }
        for event in &page.events {
            if remaining == Some(0) {
                cut_short = true;
                break;
            }
            out.event(event).map_err(io_failure)?;
            remaining = remaining.map(|n| n - 1);
        }
        // Show each page as soon as it is complete.
        out.flush().map_err(io_failure)?;
        next_key = page.pagination_key.filter(|k| !k.is_empty());
        if !follow || remaining == Some(0) {
            break;
        }
    }
    out.finish().map_err(io_failure)?;
    // Only set when the search stopped early (one page, or --max).
    if cut_short {
        eprintln!("more events: raise --max, or use --all");
    } else if let Some(key) = next_key {
        eprintln!("more events: --all for every page, or --pagination-key {key} for the next one");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_717_243_200_000;

    #[test]
    fn export_windows_are_pinned() {
        let filters = Filters::default();
        let loose = ResolvedSearch::resolve(&filters, NOW, false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((loose.start_ms, loose.end_ms), (None, None));
        let pinned = ResolvedSearch::resolve(&filters, NOW, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pinned.start_ms, Some(NOW - DEFAULT_WINDOW_MS));
        assert_eq!(pinned.end_ms, Some(NOW));
    }

    #[test]
    fn relative_times_resolve_once() {
        let filters = Filters {
            start: Some("2h".into()),
            end: Some("1h".into()),
            ..Filters::default()
        };
        let resolved =
            ResolvedSearch::resolve(&filters, NOW, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resolved.start_ms, Some(NOW - 2 * 3_600_000));
        assert_eq!(resolved.end_ms, Some(NOW - 3_600_000));
        let backwards = Filters {
            start: Some("1h".into()),
            end: Some("2h".into()),
            ..Filters::default()
        };
        assert!(ResolvedSearch::resolve(&backwards, NOW, false).is_err());
    }
}
