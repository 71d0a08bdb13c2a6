//! The search's decisions, without a server: how each kind of filter reads an
//! event, what is refused, and how pages are cut.

use serde_json::json;

use super::*;
use crate::search::PARAMETERS;

const NOW: i64 = 1_750_000_000_000;

fn pairs(query: &str) -> Vec<(String, String)> {
    form_pairs(query)
}

/// The ids `query` selects from `events` (each gets a recent timestamp when
/// it has none).
fn select(query: &str, events: &[Value]) -> Result<Vec<String>, Rejection> {
    let events: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.clone();
            if e.get("timestamp").is_none() {
                e["timestamp"] = json!(NOW - 1000 * (i as i64 + 1));
            }
            e
        })
        .collect();
    let pairs = pairs(query);
    let search = Search::parse(&pairs, NOW)?;
    Ok(search
        .run(events.iter())
        .events
        .iter()
        .map(|e| event_id(e).to_owned())
        .collect())
}

fn ids(query: &str, events: &[Value]) -> Vec<String> {
    select(query, events).unwrap_or_else(|r| panic!("{query}: refused: {}", r.0))
}

fn refused(query: &str) -> String {
    match select(query, &[]) {
        Ok(found) => panic!("{query}: accepted, found {found:?}"),
        Err(Rejection(message)) => message,
    }
}

/// The meanings and the SDK's table agree both ways: every filter of the
/// table has one meaning, every meaning names a filter of the table, and the
/// roles that are not filters are each played by a parameter.
#[test]
fn every_filter_of_the_table_has_one_meaning_and_none_is_stale() {
    let filters: Vec<&str> = PARAMETERS
        .iter()
        .filter(|p| p.role == Role::Filter)
        .map(|p| p.name)
        .collect();
    let without: Vec<&str> = filters
        .iter()
        .copied()
        .filter(|name| semantics(name).is_none())
        .collect();
    assert!(without.is_empty(), "filters without a meaning: {without:?}");
    let mut named: Vec<&str> = SEMANTICS.iter().map(|(name, _)| *name).collect();
    let stale: Vec<&str> = named
        .iter()
        .copied()
        .filter(|name| !filters.contains(name))
        .collect();
    assert!(stale.is_empty(), "meanings of no filter: {stale:?}");
    named.sort_unstable();
    named.dedup();
    assert_eq!(named.len(), SEMANTICS.len(), "a filter with two meanings");
    for role in [
        Role::Start,
        Role::End,
        Role::Limit,
        Role::PaginationKey,
        Role::Reverse,
        Role::TotalHits,
    ] {
        assert!(
            PARAMETERS.iter().any(|p| p.role == role),
            "no parameter plays {role:?}"
        );
    }
}

#[test]
fn a_boolean_filter_leaves_out_events_without_the_property() {
    let events = [
        json!({"event_id": "yes", "vpn": true}),
        json!({"event_id": "no", "vpn": false}),
        json!({"event_id": "absent"}),
        json!({"event_id": "null", "vpn": null}),
    ];
    assert_eq!(ids("vpn=true", &events), ["yes"]);
    assert_eq!(ids("vpn=false", &events), ["no"]);
    assert_eq!(ids("", &events), ["yes", "no", "absent", "null"]);
}

#[test]
fn nested_booleans_read_their_own_paths() {
    let events = [
        json!({"event_id": "tor", "ip_blocklist": {"tor_node": true}}),
        json!({"event_id": "anti", "tampering_details": {"anti_detect_browser": true}}),
        json!({"event_id": "flat", "tor_node": true, "anti_detect_browser": true}),
    ];
    assert_eq!(ids("tor_node=true", &events), ["tor"]);
    assert_eq!(ids("anti_detect_browser=true", &events), ["anti"]);
}

#[test]
fn factory_reset_reads_the_timestamp_zero_meaning_none() {
    let events = [
        json!({"event_id": "reset", "factory_reset_timestamp": 1_708_102_555_327_i64}),
        json!({"event_id": "never", "factory_reset_timestamp": 0}),
        json!({"event_id": "unknown"}),
    ];
    assert_eq!(ids("factory_reset=true", &events), ["reset"]);
    assert_eq!(ids("factory_reset=false", &events), ["never"]);
}

#[test]
fn ip_address_takes_addresses_and_cidr_ranges_of_both_families() {
    let events = [
        json!({"event_id": "v4a", "ip_address": "10.1.2.3"}),
        json!({"event_id": "v4b", "ip_address": "10.1.3.4"}),
        json!({"event_id": "v6", "ip_address": "2001:db8::1"}),
        json!({"event_id": "junk", "ip_address": "not an ip"}),
        json!({"event_id": "none"}),
    ];
    assert_eq!(ids("ip_address=10.1.2.3", &events), ["v4a"]);
    assert_eq!(ids("ip_address=10.1.2.0/24", &events), ["v4a"]);
    assert_eq!(ids("ip_address=10.1.0.0/16", &events), ["v4a", "v4b"]);
    // Host bits set in the range are ignored, as a mask does.
    assert_eq!(ids("ip_address=10.1.2.99/24", &events), ["v4a"]);
    assert_eq!(ids("ip_address=0.0.0.0/0", &events), ["v4a", "v4b"]);
    assert_eq!(ids("ip_address=2001:db8::1", &events), ["v6"]);
    assert_eq!(ids("ip_address=2001:db8::/32", &events), ["v6"]);
    assert_eq!(ids("ip_address=::/0", &events), ["v6"]);
    assert_eq!(ids("ip_address=10.1.2.4", &events), Vec::<String>::new());
    for bad in [
        "10.1.2",
        "10.1.2.3/33",
        "2001:db8::/129",
        "10.1.2.3/",
        "10.1.2.3/+8",
        "10.0.0.0/8/8",
        "host.example",
    ] {
        assert_eq!(
            refused(&format!("ip_address={}", bad.replace('+', "%2B"))),
            "invalid ip address",
            "{bad}"
        );
    }
}

#[test]
fn min_suspect_score_includes_the_threshold() {
    let events = [
        json!({"event_id": "s12", "suspect_score": 12}),
        json!({"event_id": "s7", "suspect_score": 7}),
        json!({"event_id": "s6", "suspect_score": 6}),
        json!({"event_id": "none"}),
    ];
    assert_eq!(ids("min_suspect_score=7", &events), ["s12", "s7"]);
    assert_eq!(ids("min_suspect_score=6.5", &events), ["s12", "s7"]);
    assert_eq!(ids("min_suspect_score=0", &events), ["s12", "s7", "s6"]);
    assert!(refused("min_suspect_score=high").contains("min_suspect_score"));
    assert!(refused("min_suspect_score=NaN").contains("min_suspect_score"));
}

#[test]
fn asn_matches_either_address_family() {
    let events = [
        json!({"event_id": "v4", "ip_info": {"v4": {"address": "10.0.0.1", "asn": "64500"}}}),
        json!({"event_id": "v6", "ip_info": {"v6": {"address": "2001:db8::1", "asn": "64500"}}}),
        json!({"event_id": "other", "ip_info": {"v4": {"address": "10.0.0.2", "asn": "64501"}}}),
    ];
    assert_eq!(ids("asn=64500", &events), ["v4", "v6"]);
}

#[test]
fn origin_is_scheme_host_and_port_of_the_url() {
    let events = [
        json!({"event_id": "plain", "url": "https://shop.example/login?next=/"}),
        json!({"event_id": "port", "url": "https://shop.example:8443/login"}),
        json!({"event_id": "bare", "url": "https://shop.example"}),
        json!({"event_id": "other", "url": "https://shop.example.org/"}),
        json!({"event_id": "app", "bundle_id": "com.example.app"}),
    ];
    assert_eq!(
        ids("origin=https://shop.example", &events),
        ["plain", "bare"]
    );
    assert_eq!(
        ids("origin=HTTPS://Shop.Example/", &events),
        ["plain", "bare"]
    );
    assert_eq!(ids("origin=https://shop.example:8443", &events), ["port"]);
    assert_eq!(origin_of("no-scheme.example/path"), None);
    assert_eq!(origin_of("https:///path"), None);
}

#[test]
fn repeated_parameters_match_any_of_their_values() {
    let events = [
        json!({"event_id": "a", "environment_id": "env_a"}),
        json!({"event_id": "b", "environment_id": "env_b"}),
        json!({"event_id": "c", "environment_id": "env_c"}),
        json!({"event_id": "none"}),
    ];
    assert_eq!(ids("environment=env_a", &events), ["a"]);
    assert_eq!(
        ids("environment=env_a&environment=env_c", &events),
        ["a", "c"]
    );
    let bots = [
        json!({"event_id": "agent", "bot_info": {"category": "ai_agent", "provider": "OpenAI",
               "name": "ChatGPT Agent", "identity": "signed", "confidence": "high"}}),
        json!({"event_id": "crawler", "bot_info": {"category": "ai_crawler", "provider": "Example",
               "name": "ExampleBot", "identity": "verified", "confidence": "low"}}),
        json!({"event_id": "human"}),
    ];
    assert_eq!(
        ids(
            "bot_info_category=ai_agent&bot_info_category=ai_crawler",
            &bots
        ),
        ["agent", "crawler"]
    );
    assert_eq!(ids("bot_info_name=ChatGPT%20Agent", &bots), ["agent"]);
    assert_eq!(ids("bot_info_name=ChatGPT+Agent", &bots), ["agent"]);
    // Different parameters combine with "and".
    assert_eq!(
        ids(
            "bot_info_category=ai_crawler&bot_info_provider=OpenAI",
            &bots
        ),
        Vec::<String>::new()
    );
}

#[test]
fn bot_and_bot_info_verdicts() {
    let events = [
        json!({"event_id": "good", "bot": "good"}),
        json!({"event_id": "bad", "bot": "bad", "bot_info": {"category": "scraping",
               "provider": "p", "name": "n", "identity": "unknown", "confidence": "low"}}),
        json!({"event_id": "human", "bot": "not_detected"}),
        json!({"event_id": "unknown"}),
    ];
    assert_eq!(ids("bot=all", &events), ["good", "bad"]);
    assert_eq!(ids("bot=good", &events), ["good"]);
    assert_eq!(ids("bot=bad", &events), ["bad"]);
    assert_eq!(ids("bot=none", &events), ["human"]);
    assert_eq!(ids("bot_info=all", &events), ["bad"]);
    assert_eq!(ids("bot_info=none", &events), ["human", "unknown"]);
}

#[test]
fn source_defaults_to_device_events_and_takes_one_value() {
    let events = [
        json!({"event_id": "untagged"}),
        json!({"event_id": "device", "source": "device"}),
        json!({"event_id": "edge", "source": "edge"}),
    ];
    assert_eq!(ids("", &events), ["untagged", "device"]);
    assert_eq!(ids("source=edge", &events), ["edge"]);
    assert!(refused("source=edge&source=edge").contains("one value"));
    assert!(refused("source=device").contains("source"));
}

#[test]
fn enums_are_checked_and_the_error_names_the_values() {
    let message = refused("bot=sometimes");
    assert!(message.starts_with("invalid bot type"), "{message}");
    assert!(message.contains("all, good, bad, none"), "{message}");
    let message = refused("sdk_platform=windows");
    assert!(
        message.contains("sdk_platform") && message.contains("js, android, ios"),
        "{message}"
    );
    assert!(refused("bot_info_category=ai_agent&bot_info_category=robots").contains("robots"));
    assert!(
        refused("rare_device_percentile_bucket=p100").contains("rare_device_percentile_bucket")
    );
    let events = [json!({"event_id": "rare", "rare_device_percentile_bucket": "p99.9+"})];
    assert_eq!(
        ids("rare_device_percentile_bucket=p99.9%2B", &events),
        ["rare"]
    );
}

#[test]
fn what_the_document_does_not_have_is_refused_by_name() {
    let message = refused("vpn_detected=true");
    assert!(message.contains("`vpn_detected`"), "{message}");
    assert!(refused("vpn=true&vpn=false").contains("more than once"));
    assert!(refused("limit=5&limit=6").contains("more than once"));
    assert!(refused("linked_id=").contains("empty value"));
    assert!(refused("vpn=yes").contains("vpn"));
    assert!(refused("environment[]=env_a").contains("environment[]"));
    // The SDK identity every official SDK sends is the one exception.
    assert!(select("ii=fingerprint-server-sdk-rust%2F1.0", &[]).is_ok());
}

#[test]
fn control_parameters_are_checked() {
    assert_eq!(refused("limit=0"), "invalid limit: between 1 and 100");
    assert_eq!(refused("limit=101"), "invalid limit: between 1 and 100");
    assert!(refused("limit=ten").contains("limit"));
    assert!(refused("total_hits=0").contains("total_hits"));
    assert!(refused("total_hits=1001").contains("total_hits"));
    assert_eq!(refused("start=yesterday"), "invalid start time");
    assert_eq!(refused("end=soon"), "invalid end time");
    assert_eq!(refused("reverse=1"), "invalid reverse param");
    assert_eq!(refused("pagination_key=garbage"), "invalid pagination key");
    assert!(refused(&format!("linked_id={}", "x".repeat(257))).contains("256"));
    assert!(select(&format!("linked_id={}", "x".repeat(256)), &[]).is_ok());
}

#[test]
fn the_window_defaults_to_seven_days_and_its_bounds_are_inclusive() {
    let events = [
        json!({"event_id": "now", "timestamp": NOW}),
        json!({"event_id": "week", "timestamp": NOW - DEFAULT_WINDOW_MS}),
        json!({"event_id": "older", "timestamp": NOW - DEFAULT_WINDOW_MS - 1}),
        json!({"event_id": "future", "timestamp": NOW + 1}),
    ];
    assert_eq!(ids("", &events), ["now", "week"]);
    let start = NOW - DEFAULT_WINDOW_MS - 1;
    assert_eq!(
        ids(&format!("start={start}&end={}", NOW + 1), &events),
        ["future", "now", "week", "older"]
    );
    assert_eq!(
        ids(
            "start=2025-06-15T15:06:40Z&end=2025-06-15T15:06:40Z",
            &events
        ),
        ["now"],
        "{NOW} is 2025-06-15T15:06:40Z"
    );
}

#[test]
fn pages_follow_keys_in_either_order_and_report_total_hits() {
    let events: Vec<Value> = (0..5)
        .map(|i| json!({"event_id": format!("e{i}"), "timestamp": NOW - 1000 * i}))
        .collect();
    let run = |query: &str| {
        let pairs = pairs(query);
        let search = Search::parse(&pairs, NOW).unwrap_or_else(|r| panic!("{}", r.0));
        let page = search.run(events.iter());
        let ids: Vec<String> = page.events.iter().map(|e| event_id(e).to_owned()).collect();
        (ids, page.pagination_key, page.total_hits)
    };
    let (first, key, total) = run("limit=2&total_hits=3");
    assert_eq!(first, ["e0", "e1"]);
    assert_eq!(total, Some(3), "capped at total_hits");
    let key = key.expect("more pages");
    let (second, key, total) = run(&format!("limit=2&pagination_key={key}"));
    assert_eq!(second, ["e2", "e3"]);
    assert_eq!(total, None);
    let (third, key, _) = run(&format!("limit=2&pagination_key={}", key.expect("more")));
    assert_eq!(third, ["e4"]);
    assert_eq!(key, None);

    let (first, key, _) = run("limit=3&reverse=true");
    assert_eq!(first, ["e4", "e3", "e2"]);
    let (second, key, _) = run(&format!(
        "limit=3&reverse=true&pagination_key={}",
        key.expect("more")
    ));
    assert_eq!(second, ["e1", "e0"]);
    assert_eq!(key, None, "a short last page has no key");

    // The fake knows the page ends at the last event: no key for an empty
    // page after it.
    let (all, key, _) = run("limit=5");
    assert_eq!(all, ["e0", "e1", "e2", "e3", "e4"]);
    assert_eq!(key, None, "an exactly full last page has no key");
}

#[test]
fn the_page_body_is_the_stored_json_unchanged() {
    let stored = [json!({"event_id": "e1", "timestamp": NOW, "future": {"x": [1, 2.5]}})];
    let pairs = pairs("total_hits=10");
    let search = Search::parse(&pairs, NOW).unwrap_or_else(|r| panic!("{}", r.0));
    let body = serde_json::to_vec(&search.run(stored.iter())).unwrap_or_else(|e| panic!("{e}"));
    let body: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        body,
        json!({"events": [stored[0].clone()], "total_hits": 1})
    );
}

#[test]
fn the_page_body_keeps_its_field_order_and_leaves_out_what_is_absent() {
    let event = json!({"event_id": "e1"});
    let page = Page {
        events: vec![&event],
        pagination_key: Some("5~e1".to_owned()),
        total_hits: Some(7),
    };
    let body = serde_json::to_vec(&page).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        String::from_utf8_lossy(&body),
        r#"{"events":[{"event_id":"e1"}],"pagination_key":"5~e1","total_hits":7}"#
    );
    let bare = Page {
        events: Vec::new(),
        pagination_key: None,
        total_hits: None,
    };
    let body = serde_json::to_vec(&bare).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(String::from_utf8_lossy(&body), r#"{"events":[]}"#);
}

#[test]
fn conditions_take_filters_only_and_no_default_source() {
    let pairs = pairs("vpn=true");
    let filters = Filters::parse_condition(&pairs).unwrap_or_else(|r| panic!("{}", r.0));
    assert!(filters.matches(&json!({"vpn": true, "source": "edge"})));
    let pairs = self::pairs("limit=3");
    assert!(Filters::parse_condition(&pairs).is_err());
}
