//! Events to fill the fake with: made-up but plausible sample events, and a
//! minimal typed event to start a test from.

use serde_json::{Value, json};

use crate::types;

/// Milliseconds since the Unix epoch, now: the unit of event timestamps.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A typed event with `event_id`, `timestamp` [`now_ms`] and an
/// `identification` of `visitor_id` (a returning visitor, confidence 1), and
/// nothing else: no Smart Signal, so filters on signals leave it out until
/// you set them. Its fields are public; set what your test needs.
///
/// ```
/// use fingerprint_server_sdk::{mock, types};
///
/// let mut event = mock::event("evt_1", "vis_1");
/// event.vpn = Some(true);
/// event.bot = Some(types::BotResult::Bad);
/// event.ip_address = Some("192.0.2.7".into());
/// event.timestamp -= 60_000; // a minute ago
/// assert_eq!(event.identification.as_ref().map(|i| i.visitor_id.as_str()), Some("vis_1"));
/// ```
pub fn event(event_id: &str, visitor_id: &str) -> types::Event {
    let now = now_ms();
    let identification = types::Identification {
        confidence: Some(types::IdentificationConfidence {
            comment: None,
            score: 1.0,
            version: None,
            unknown_fields: Default::default(),
        }),
        first_seen_at: Some(now),
        last_seen_at: Some(now),
        visitor_found: true,
        visitor_id: visitor_id.to_owned(),
        unknown_fields: Default::default(),
    };
    let built = types::Event::builder()
        .event_id(event_id)
        .timestamp(now)
        .identification(Some(identification));
    match types::Event::try_from(built) {
        Ok(event) => event,
        // Both required fields are set just above.
        Err(e) => unreachable!("an event with an id and a timestamp is complete: {e}"),
    }
}

/// `count` made-up but plausible events, newest first, spread over the last
/// few days before `now_ms` (so a default search finds them): a handful of
/// visitors, browsers, countries and bot verdicts (with their `bot_info`),
/// some suspect, some with a linked id, and values for most Smart Signals so
/// that the search filters have something to select. The same arguments give
/// the same events.
pub fn sample_events(count: usize, now_ms: i64) -> Vec<Value> {
    const BROWSERS: [(&str, &str, &str); 4] = [
        ("Chrome", "131", "Windows"),
        ("Safari", "18", "Mac OS X"),
        ("Firefox", "133", "Linux"),
        ("Edge", "131", "Windows"),
    ];
    const PLACES: [(&str, &str, &str, f64, f64); 4] = [
        ("Berlin", "DE", "Germany", 52.52, 13.405),
        ("Austin", "US", "United States", 30.2672, -97.7431),
        ("Mumbai", "IN", "India", 19.076, 72.8777),
        ("Lyon", "FR", "France", 45.764, 4.8357),
    ];
    const BOTS: [&str; 5] = [
        "not_detected",
        "not_detected",
        "not_detected",
        "good",
        "bad",
    ];
    const BUCKETS: [&str; 5] = ["<p95", "<p95", "<p95", "p95-p99", "p99.9+"];
    let visitors = (count / 8).clamp(1, 40);
    (0..count)
        .map(|i| {
            let ts = now_ms - (i as i64) * 7 * 60 * 1000 - 60_000;
            let (browser, version, os) = BROWSERS[i % BROWSERS.len()];
            let place = (i / 3) % PLACES.len();
            let (city, country_code, country, lat, lon) = PLACES[place];
            let visitor = format!("demoVisitor{:02}", i % visitors);
            let bot = BOTS[i % BOTS.len()];
            let vpn = i % 9 == 0;
            let mut event = json!({
                "event_id": format!("{ts}.demo{i:04}"),
                "timestamp": ts,
                "url": format!("https://shop.example/{}", ["checkout", "login", "cart", "search"][i % 4]),
                "ip_address": format!("192.0.2.{}", 1 + i % 250),
                "user_agent": format!("Mozilla/5.0 ({os}) {browser}/{version}.0"),
                "environment_id": (["ae_demo_production", "ae_demo_staging"][usize::from(i % 10 == 9)]),
                "sdk": {"platform": "js", "version": (["3.12.5", "4.1.0"][i % 2])},
                "browser_details": {
                    "browser_name": browser,
                    "browser_major_version": version,
                    "browser_full_version": format!("{version}.0.1"),
                    "os": os,
                    "os_version": "10",
                    "device": "Other"
                },
                "identification": {
                    "visitor_id": visitor,
                    "visitor_found": i >= visitors,
                    "confidence": {"score": if i % 5 == 0 { 0.87 } else { 0.99 }, "version": "1.1"},
                    "first_seen_at": ts - 86_400_000,
                    "last_seen_at": ts - 3_600_000
                },
                "supplementary_id_high_recall": {
                    "visitor_id": format!("{visitor}hr"),
                    "visitor_found": i >= visitors
                },
                "proximity": {
                    "id": format!("demoZone{place}"),
                    "precision_radius": 450,
                    "confidence": 0.9
                },
                "bot": bot,
                "incognito": i % 6 == 0,
                "vpn": vpn,
                "vpn_confidence": if vpn { "high" } else { "low" },
                "proxy": i % 11 == 0,
                "tampering": false,
                "tampering_details": {"anomaly_score": 0.1, "anti_detect_browser": false},
                "virtual_machine": i % 19 == 0,
                "privacy_settings": false,
                "developer_tools": i % 8 == 0,
                "rare_device": i % 5 == 4,
                "rare_device_percentile_bucket": (BUCKETS[i % BUCKETS.len()]),
                "suspect_score": (i % 7) as i64,
                "ip_blocklist": {"email_spam": false, "attack_source": false, "tor_node": i % 17 == 0},
                "ip_info": {"v4": {
                    "address": format!("192.0.2.{}", 1 + i % 250),
                    "geolocation": {
                        "city_name": city,
                        "country_code": country_code,
                        "country_name": country,
                        "latitude": lat,
                        "longitude": lon,
                        "accuracy_radius": 20
                    },
                    "asn": "64500",
                    "asn_name": "Example Networks",
                    "datacenter_result": false
                }}
            });
            match bot {
                "good" => {
                    event["bot_info"] = json!({"category": "search_engine_crawler",
                        "provider": "Example Search", "name": "ExampleBot",
                        "identity": "verified", "confidence": "high"});
                }
                "bad" => {
                    event["bot_info"] = json!({"category": "browser_automation",
                        "provider": "Unknown", "name": "Headless Chrome",
                        "identity": "unknown", "confidence": "medium"});
                }
                _ => {}
            }
            if i % 4 == 0 {
                event["linked_id"] = json!(format!("order-{}", 1000 + i));
            }
            if i % 13 == 0 {
                event["suspect"] = json!(true);
            }
            event
        })
        .collect()
}
