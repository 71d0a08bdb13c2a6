//! The fake against the OpenAPI document: the other operations take the
//! document's query parameters, and every parameter of the SDK's search table
//! (generated from the document) selects events over HTTP (one inserted
//! event that must be found, one that must not) and refuses a bad value.

use serde_json::{Value, json};

use super::operation::{self, Operation};
use super::{FakeApi, now_ms};
use crate::search::{Kind, PARAMETERS, Parameter, Role};

fn document() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi/fingerprint-server-api-v4.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The operation with this id in the document: its path and method.
fn find_operation<'d>(doc: &'d Value, id: &str) -> (String, String, &'d Value) {
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("a path item") {
            if op["operationId"] == id {
                return (path.clone(), method.to_ascii_uppercase(), op);
            }
        }
    }
    panic!("no operation {id} in the document");
}

fn query_parameters(op: &Value) -> Vec<&Value> {
    op["parameters"]
        .as_array()
        .map(|list| list.iter().filter(|p| p["in"] == "query").collect())
        .unwrap_or_default()
}

#[test]
fn the_other_operations_take_the_documents_query_parameters() {
    let doc = document();
    for op in Operation::ALL {
        let (path, method, found) = find_operation(&doc, op.operation_id());
        let path = format!(
            "/v4{}",
            path.replace("{event_id}", "x").replace("{visitor_id}", "x")
        );
        assert_eq!(
            operation::route(&method, &path).map(|(routed, _)| routed),
            Some(op),
            "{method} {path}"
        );
        if op == Operation::SearchEvents {
            continue;
        }
        let names: Vec<&str> = query_parameters(found)
            .iter()
            .map(|p| p["name"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            operation::plain_query_parameters(op),
            names.as_slice(),
            "{op}"
        );
    }
}

/// One parameter's check: the search `query` must find `matching` and not
/// `other`. `{key}` in the query is replaced by the pagination key of a
/// `limit=1` search, `{between}` by a time between the two events.
struct Case {
    query: &'static str,
    matching: Value,
    other: Value,
    /// The matching event is the older one.
    matching_is_older: bool,
    total_hits: Option<u64>,
}

fn case(query: &'static str, matching: Value, other: Value) -> Case {
    Case {
        query,
        matching,
        other,
        matching_is_older: false,
        total_hits: None,
    }
}

fn older(mut case: Case) -> Case {
    case.matching_is_older = true;
    case
}

fn bool_case(query: &'static str, field: &str) -> Case {
    case(query, json!({field: true}), json!({field: false}))
}

fn nested_bool_case(query: &'static str, parent: &str, field: &str) -> Case {
    case(
        query,
        json!({parent: {field: true}}),
        json!({parent: {field: false}}),
    )
}

fn bot_info(category: &str, identity: &str, confidence: &str, provider: &str, name: &str) -> Value {
    json!({"bot_info": {"category": category, "identity": identity, "confidence": confidence,
                        "provider": provider, "name": name}})
}

fn sdk(platform: &str, version: &str) -> Value {
    json!({"sdk": {"platform": platform, "version": version}})
}

fn v4(address: &str, asn: &str) -> Value {
    json!({"ip_info": {"v4": {"address": address, "asn": asn}}})
}

/// The check for each parameter of the document; `None` for one this test
/// does not know yet (the test then fails).
fn case_for(p: &Parameter) -> Option<Case> {
    let filter = match p.name {
        "limit" => case("limit=1", json!({}), json!({})),
        "pagination_key" => older(case("limit=1&pagination_key={key}", json!({}), json!({}))),
        "start" => case("start={between}", json!({}), json!({})),
        "end" => older(case("end={between}", json!({}), json!({}))),
        "reverse" => older(case("reverse=true&limit=1", json!({}), json!({}))),
        "total_hits" => Case {
            total_hits: Some(2),
            ..case("total_hits=5&limit=1", json!({}), json!({}))
        },
        "visitor_id" => case(
            "visitor_id=vis_m",
            json!({"identification": {"visitor_id": "vis_m", "visitor_found": true}}),
            json!({"identification": {"visitor_id": "vis_o", "visitor_found": true}}),
        ),
        "high_recall_id" => case(
            "high_recall_id=hr_m",
            json!({"supplementary_id_high_recall": {"visitor_id": "hr_m", "visitor_found": true}}),
            json!({"supplementary_id_high_recall": {"visitor_id": "hr_o", "visitor_found": true}}),
        ),
        "bot" => case("bot=bad", json!({"bot": "bad"}), json!({"bot": "good"})),
        "bot_info" => case(
            "bot_info=all",
            bot_info("ai_agent", "signed", "high", "OpenAI", "ChatGPT Agent"),
            json!({"bot": "not_detected"}),
        ),
        "bot_info_category" => case(
            "bot_info_category=ai_agent&bot_info_category=scraping",
            bot_info("scraping", "unknown", "low", "X", "Y"),
            bot_info("ai_crawler", "unknown", "low", "X", "Y"),
        ),
        "bot_info_identity" => case(
            "bot_info_identity=verified",
            bot_info("ai_agent", "verified", "low", "X", "Y"),
            bot_info("ai_agent", "spoofed", "low", "X", "Y"),
        ),
        "bot_info_confidence" => case(
            "bot_info_confidence=high&bot_info_confidence=medium",
            bot_info("ai_agent", "unknown", "medium", "X", "Y"),
            bot_info("ai_agent", "unknown", "low", "X", "Y"),
        ),
        "bot_info_provider" => case(
            "bot_info_provider=OpenAI",
            bot_info("ai_agent", "unknown", "low", "OpenAI", "Y"),
            bot_info("ai_agent", "unknown", "low", "Anthropic", "Y"),
        ),
        "bot_info_name" => case(
            "bot_info_name=ChatGPT%20Agent",
            bot_info("ai_agent", "unknown", "low", "OpenAI", "ChatGPT Agent"),
            bot_info("ai_agent", "unknown", "low", "OpenAI", "ChatGPT-User"),
        ),
        "ip_address" => case(
            "ip_address=192.0.2.0%2F24",
            json!({"ip_address": "192.0.2.77"}),
            json!({"ip_address": "198.51.100.77"}),
        ),
        "asn" => case(
            "asn=64500",
            v4("192.0.2.1", "64500"),
            v4("192.0.2.1", "64501"),
        ),
        "linked_id" => case(
            "linked_id=order-1",
            json!({"linked_id": "order-1"}),
            json!({"linked_id": "order-2"}),
        ),
        "url" => case(
            "url=https%3A%2F%2Fshop.example%2Flogin",
            json!({"url": "https://shop.example/login"}),
            json!({"url": "https://shop.example/cart"}),
        ),
        "bundle_id" => case(
            "bundle_id=com.example.a",
            json!({"bundle_id": "com.example.a"}),
            json!({"bundle_id": "com.example.b"}),
        ),
        "package_name" => case(
            "package_name=com.example.a",
            json!({"package_name": "com.example.a"}),
            json!({"package_name": "com.example.b"}),
        ),
        "origin" => case(
            "origin=https%3A%2F%2Fshop.example",
            json!({"url": "https://shop.example/checkout"}),
            json!({"url": "https://other.example/checkout"}),
        ),
        "suspect" => bool_case("suspect=true", "suspect"),
        "vpn" => bool_case("vpn=true", "vpn"),
        "virtual_machine" => bool_case("virtual_machine=true", "virtual_machine"),
        "tampering" => bool_case("tampering=true", "tampering"),
        "anti_detect_browser" => nested_bool_case(
            "anti_detect_browser=true",
            "tampering_details",
            "anti_detect_browser",
        ),
        "incognito" => bool_case("incognito=true", "incognito"),
        "privacy_settings" => bool_case("privacy_settings=true", "privacy_settings"),
        "jailbroken" => bool_case("jailbroken=true", "jailbroken"),
        "frida" => bool_case("frida=true", "frida"),
        "factory_reset" => case(
            "factory_reset=true",
            json!({"factory_reset_timestamp": 1_708_102_555_327_i64}),
            json!({"factory_reset_timestamp": 0}),
        ),
        "cloned_app" => bool_case("cloned_app=true", "cloned_app"),
        "emulator" => bool_case("emulator=true", "emulator"),
        "root_apps" => bool_case("root_apps=true", "root_apps"),
        "vpn_confidence" => case(
            "vpn_confidence=high",
            json!({"vpn_confidence": "high"}),
            json!({"vpn_confidence": "low"}),
        ),
        "min_suspect_score" => case(
            "min_suspect_score=10",
            json!({"suspect_score": 12}),
            json!({"suspect_score": 9}),
        ),
        "developer_tools" => bool_case("developer_tools=true", "developer_tools"),
        "location_spoofing" => bool_case("location_spoofing=true", "location_spoofing"),
        "mitm_attack" => bool_case("mitm_attack=true", "mitm_attack"),
        "rare_device" => bool_case("rare_device=true", "rare_device"),
        "rare_device_percentile_bucket" => case(
            "rare_device_percentile_bucket=p99.9%2B",
            json!({"rare_device_percentile_bucket": "p99.9+"}),
            json!({"rare_device_percentile_bucket": "<p95"}),
        ),
        "proxy" => bool_case("proxy=true", "proxy"),
        "sdk_version" => case(
            "sdk_version=3.12.5",
            sdk("js", "3.12.5"),
            sdk("js", "4.1.0"),
        ),
        "sdk_platform" => case(
            "sdk_platform=android",
            sdk("android", "2.4.0"),
            sdk("js", "2.4.0"),
        ),
        "environment" => case(
            "environment=env_a&environment=env_b",
            json!({"environment_id": "env_b"}),
            json!({"environment_id": "env_c"}),
        ),
        "proximity_id" => case(
            "proximity_id=zone_m",
            json!({"proximity": {"id": "zone_m", "precision_radius": 10, "confidence": 0.9}}),
            json!({"proximity": {"id": "zone_o", "precision_radius": 10, "confidence": 0.9}}),
        ),
        "tor_node" => nested_bool_case("tor_node=true", "ip_blocklist", "tor_node"),
        "incremental_identification_status" => case(
            "incremental_identification_status=completed",
            json!({"incremental_identification_status": "completed"}),
            json!({"incremental_identification_status": "partially_completed"}),
        ),
        "simulator" => bool_case("simulator=true", "simulator"),
        "active_call" => bool_case("active_call=true", "active_call"),
        "source" => case(
            "source=edge",
            json!({"source": "edge"}),
            json!({"source": "device"}),
        ),
        _ => return None,
    };
    Some(filter)
}

fn merged(id: &str, timestamp: i64, patch: &Value) -> Value {
    let mut event = json!({
        "event_id": id,
        "timestamp": timestamp,
        "identification": {"visitor_id": "vis_walk", "visitor_found": true},
    });
    if let (Value::Object(event), Value::Object(patch)) = (&mut event, patch) {
        event.extend(patch.clone());
    }
    event
}

async fn search(http: &reqwest::Client, fake: &FakeApi, query: &str) -> Value {
    let response = http
        .get(format!("{}/events?{query}", fake.url()))
        .bearer_auth(fake.api_key())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let status = response.status().as_u16();
    let body: Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    assert_eq!(status, 200, "{query}: {body}");
    body
}

fn found_ids(page: &Value) -> Vec<&str> {
    page["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|e| e["event_id"].as_str().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_parameter_finds_its_event_and_leaves_out_the_other() {
    // One HTTP client: making one is slower than the whole search.
    let http = reqwest::Client::new();
    let mut missing = Vec::new();
    for p in PARAMETERS {
        let Some(case) = case_for(p) else {
            missing.push(p.name);
            continue;
        };
        assert!(
            case.query.starts_with(&format!("{}=", p.name))
                || case.query.contains(&format!("&{}=", p.name)),
            "{}: the case's query {} does not use it",
            p.name,
            case.query
        );
        let fake = FakeApi::start().await.expect("the fake starts");
        let now = now_ms();
        let (newer, older) = (now - 60_000, now - 120_000);
        let (matching_ts, other_ts) = if case.matching_is_older {
            (older, newer)
        } else {
            (newer, older)
        };
        fake.insert_many([
            merged("matching", matching_ts, &case.matching),
            merged("other", other_ts, &case.other),
        ])
        .unwrap_or_else(|e| panic!("{}: {e}", p.name));

        let mut query = case.query.replace("{between}", &(now - 90_000).to_string());
        if query.contains("{key}") {
            let first = search(&http, &fake, "limit=1").await;
            let key = first["pagination_key"].as_str().expect("a second page");
            query = query.replace("{key}", key);
        }
        // The other event must exist for the search to leave it out: without
        // the parameter, both are found.
        let bare = search(&http, &fake, "").await;
        let both = found_ids(&bare);
        if p.name == "source" {
            assert_eq!(both, ["other"], "source: device events by default");
        } else {
            assert_eq!(both.len(), 2, "{}: {bare}", p.name);
        }

        let page = search(&http, &fake, &query).await;
        assert_eq!(
            found_ids(&page),
            ["matching"],
            "{}: {query}: {page}",
            p.name
        );
        if let Some(total) = case.total_hits {
            assert_eq!(page["total_hits"], json!(total), "{}", p.name);
        }
        if p.role == Role::Filter {
            assert!(page.get("total_hits").is_none());
        }
    }
    assert!(
        missing.is_empty(),
        "parameters without a check (give them semantics and a case): {missing:?}"
    );
}

/// What `GET /events?{name}={value}` answers: the status and, for a 400,
/// the error message.
async fn answer(http: &reqwest::Client, fake: &FakeApi, name: &str, value: &str) -> (u16, String) {
    let response = http
        .get(format!("{}/events", fake.url()))
        .query(&[(name, value)])
        .bearer_auth(fake.api_key())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{name}={value}: {e}"));
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or_default();
    if status == 400 {
        assert_eq!(
            body["error"]["code"], "request_cannot_be_parsed",
            "{name}={value}"
        );
    }
    let message = body["error"]["message"].as_str().unwrap_or_default();
    (status, message.to_owned())
}

#[tokio::test]
async fn a_bad_value_of_any_typed_parameter_is_a_400_naming_it() {
    let fake = FakeApi::start().await.expect("the fake starts");
    let http = reqwest::Client::new();
    for p in PARAMETERS {
        let bad = match p.kind {
            Kind::Bool => "maybe",
            Kind::Integer { .. } => "1.5",
            Kind::Number => "lots",
            Kind::Time => "yesterday",
            Kind::Enum(_) => "not_a_value",
            Kind::String => continue,
        };
        let (status, message) = answer(&http, &fake, p.name, bad).await;
        assert_eq!(status, 400, "{}", p.name);
        let named = message.contains(p.name)
            || (p.name == "bot" && message.contains("bot type"))
            || (p.role == Role::Start && message.contains("start"))
            || (p.role == Role::End && message.contains("end"));
        assert!(named, "{}: {message}", p.name);
    }
}

/// The bounds of the table's integers are the fake's: the bound itself is
/// taken, one past it is a 400 that names the parameter and the range.
#[tokio::test]
async fn integer_bounds_come_from_the_table() {
    let fake = FakeApi::start().await.expect("the fake starts");
    let http = reqwest::Client::new();
    let mut bounded = Vec::new();
    for p in PARAMETERS {
        let Kind::Integer { min, max } = p.kind else {
            continue;
        };
        bounded.push(p.name);
        for (bound, past) in [(min, min.map(|m| m - 1)), (max, max.map(|m| m + 1))] {
            let (Some(bound), Some(past)) = (bound, past) else {
                continue;
            };
            let (status, message) = answer(&http, &fake, p.name, &bound.to_string()).await;
            assert_eq!(status, 200, "{}={bound}: {message}", p.name);
            let (status, message) = answer(&http, &fake, p.name, &past.to_string()).await;
            assert_eq!(status, 400, "{}={past}", p.name);
            assert!(
                message.contains(p.name) && message.contains(&bound.to_string()),
                "{}={past}: {message}",
                p.name
            );
        }
    }
    // The two the fake enforced before it read the table are among them.
    assert!(
        bounded.contains(&"limit") && bounded.contains(&"total_hits"),
        "{bounded:?}"
    );
}
