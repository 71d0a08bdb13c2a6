//! Each operation against the fake API, whose journal shows what was sent:
//! method, path, query, headers, body, and the decoded result; regions and
//! base URLs; path parameter checks.

use std::net::SocketAddr;
use std::time::Duration;

use fingerprint_server_sdk::mock::{FakeApi, Fault, Operation, RecordedRequest, Ruleset};
use fingerprint_server_sdk::{Client, Error, Region, RetryPolicy, SDK_IDENTIFIER, types};
use httpmock::prelude::*;
use serde_json::json;

const KEY: &str = "sk_test_0123456789abcdef";

async fn fake() -> FakeApi {
    FakeApi::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), KEY)
        .await
        .expect("the fake starts")
}

fn client(fake: &FakeApi) -> Client {
    Client::builder(KEY)
        .base_url(fake.url())
        .retry(RetryPolicy::disabled())
        .build()
        .expect("client builds")
}

/// The one request the fake received.
fn only_request(fake: &FakeApi) -> RecordedRequest {
    let mut journal = fake.journal();
    assert_eq!(journal.len(), 1, "{journal:?}");
    journal.remove(0)
}

/// The query pairs of a request, sorted, so repeated keys can be compared.
fn query_pairs(req: &RecordedRequest) -> Vec<(String, String)> {
    let mut pairs = req.query.clone();
    pairs.sort();
    pairs
}

/// `expected` plus the SDK identity every request carries, sorted.
fn expected_query(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(std::iter::once((
            "ii".to_string(),
            SDK_IDENTIFIER.to_string(),
        )))
        .collect();
    expected.sort();
    expected
}

/// The request carried the key: the fake answers anything else with 403
/// (and its journal never holds the key itself).
fn assert_sent_the_key(req: &RecordedRequest) {
    assert_eq!(req.header("authorization"), Some("Bearer [redacted]"));
    assert_ne!(req.status, Some(403), "the fake refused the key");
}

fn sample_event(id: &str) -> serde_json::Value {
    json!({
        "event_id": id,
        "timestamp": 1_708_102_555_327_i64,
        "bot": "not_detected",
        "suspect_score": 12,
        "proxy_ml_score": 0.95,
        "identification": {
            "visitor_id": "vis_0001",
            "confidence": {"score": 0.95, "version": "v1.1"},
            "visitor_found": true,
            "first_seen_at": 1_708_102_555_000_i64,
            "last_seen_at": 1_708_102_555_200_i64
        },
        "ip_address": "192.0.2.10"
    })
}

#[tokio::test]
async fn get_event_sends_bearer_identity_and_decodes_the_event() {
    let fake = fake().await;
    fake.insert_json(sample_event("1708102555327.NLOjmg"))
        .expect("stored");
    fake.add_ruleset(Ruleset::new("rs_42"));
    let event = client(&fake)
        .get_event()
        .event_id("1708102555327.NLOjmg")
        .ruleset_id("rs_42")
        .send()
        .await
        .expect("event")
        .into_inner();
    let req = only_request(&fake);
    assert_eq!(req.method, "GET");
    assert_eq!(req.path, "/v4/events/1708102555327.NLOjmg");
    assert_sent_the_key(&req);
    assert_eq!(req.header("user-agent"), Some(SDK_IDENTIFIER));
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(
        query_pairs(&req),
        expected_query(&[("ruleset_id", "rs_42")])
    );
    assert_eq!(event.event_id.as_str(), "1708102555327.NLOjmg");
    assert_eq!(event.bot, Some(types::BotResult::NotDetected));
    assert_eq!(event.suspect_score, Some(12));
    let identification = event.identification.expect("identification");
    assert_eq!(identification.visitor_id, "vis_0001");
}

#[tokio::test]
async fn get_event_percent_encodes_the_path_parameter() {
    let fake = fake().await;
    fake.insert_json(sample_event("a/b?c d")).expect("stored");
    let event = client(&fake)
        .get_event()
        .event_id("a/b?c d")
        .send()
        .await
        .expect("event");
    let req = only_request(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("GET", "/v4/events/a%2Fb%3Fc%20d")
    );
    assert_eq!(event.event_id.as_str(), "a/b?c d");
}

#[tokio::test]
async fn empty_dot_and_dot_dot_ids_are_refused_before_sending() {
    let fake = fake().await;
    let client = client(&fake);
    for id in ["", ".", ".."] {
        let err = client.get_event().event_id(id).send().await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidRequest {
                    operation: "get_event",
                    ..
                }
            ),
            "{id:?}: {err:?}"
        );
        assert!(err.to_string().contains("event_id"), "{err}");
        let err = client
            .update_event()
            .event_id(id)
            .body(types::EventUpdate::default())
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidRequest { .. }),
            "{id:?}: {err:?}"
        );
        let err = client
            .delete_visitor_data()
            .visitor_id(id)
            .send()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("visitor_id"), "{err}");
    }
    let err = client.get_event().send().await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidRequest { .. }),
        "missing id: {err:?}"
    );
    assert_eq!(fake.requests(), 0, "nothing may reach the server");
    assert!(fake.journal().is_empty());
}

#[tokio::test]
async fn update_event_patches_with_only_the_fields_set() {
    let fake = fake().await;
    fake.insert_json(sample_event("evt_1")).expect("stored");
    let mut tags = serde_json::Map::new();
    tags.insert("plan".into(), json!("pro"));
    tags.insert("n".into(), json!(3));
    let update = types::EventUpdate {
        linked_id: Some("order-7".into()),
        suspect: Some(true),
        tags: Some(tags),
        ..Default::default()
    };
    let response = client(&fake)
        .update_event()
        .event_id("evt_1")
        .body(update)
        .send()
        .await
        .expect("updated");
    let req = only_request(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("PATCH", "/v4/events/evt_1")
    );
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_sent_the_key(&req);
    assert_eq!(
        req.body_json(),
        Some(json!({"linked_id": "order-7", "suspect": true, "tags": {"plan": "pro", "n": 3}}))
    );
    assert_eq!(query_pairs(&req), expected_query(&[]));
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn search_events_sends_repeated_keys_and_both_time_forms() {
    let fake = fake().await;
    // "page 2/+" is not a key the fake made: this page is scripted.
    fake.fail_next_on(
        Operation::SearchEvents,
        1,
        Fault::json(
            200,
            &json!({
                "events": [sample_event("e1"), sample_event("e2")],
                "pagination_key": "next-key"
            }),
        ),
    );
    let start: chrono::DateTime<chrono::Utc> = "2024-02-16T17:15:55Z".parse().unwrap();
    let end: chrono::DateTime<chrono::Utc> = "2024-02-17T00:00:00Z".parse().unwrap();
    let page = client(&fake)
        .search_events()
        .visitor_id("vis_0001")
        .limit(100)
        .reverse(true)
        .suspect(false)
        .bot(types::SearchEventsBot::Bad)
        .bot_info_category(vec![
            types::BotInfoCategory::AiAgent,
            types::BotInfoCategory::AiAssistant,
        ])
        .environment(vec!["env_a".to_string(), "env_b".to_string()])
        .start(start)
        .end(end)
        .pagination_key("page 2/+")
        .send()
        .await
        .expect("page")
        .into_inner();
    let req = only_request(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("GET", "/v4/events")
    );
    assert_eq!(
        query_pairs(&req),
        expected_query(&[
            ("visitor_id", "vis_0001"),
            ("limit", "100"),
            ("reverse", "true"),
            ("suspect", "false"),
            ("bot", "bad"),
            ("bot_info_category", "ai_agent"),
            ("bot_info_category", "ai_assistant"),
            ("environment", "env_a"),
            ("environment", "env_b"),
            ("start", "2024-02-16T17:15:55Z"),
            ("end", "2024-02-17T00:00:00Z"),
            ("pagination_key", "page 2/+"),
        ])
    );
    assert_eq!(page.events.len(), 2);
    assert_eq!(page.pagination_key.as_deref(), Some("next-key"));

    // The fake's own search this time: a day in 2024, and no events.
    fake.clear_journal();
    let page = client(&fake)
        .search_events()
        .start(1_708_102_555_000_i64)
        .end(1_708_188_955_000_i64)
        .send()
        .await
        .expect("page")
        .into_inner();
    let req = only_request(&fake);
    assert_eq!(
        query_pairs(&req),
        expected_query(&[("start", "1708102555000"), ("end", "1708188955000")])
    );
    assert!(page.events.is_empty());
    assert!(page.pagination_key.is_none());
}

#[tokio::test]
async fn delete_visitor_data_sends_delete() {
    let fake = fake().await;
    fake.insert_json(sample_event("e1")).expect("stored");
    let response = client(&fake)
        .delete_visitor_data()
        .visitor_id("vis_0001")
        .send()
        .await
        .expect("deleted");
    let req = only_request(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("DELETE", "/v4/visitors/vis_0001")
    );
    assert_sent_the_key(&req);
    assert_eq!(query_pairs(&req), expected_query(&[]));
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn edge_posts_the_request_body() {
    let fake = fake().await;
    let body = json!({
        "ipv4_address": "192.0.2.7",
        "method": "GET",
        "url": "https://shop.example/checkout",
        "headers": [{"name": "user-agent", "value": "curl/8"}]
    });
    let request: types::EdgeRequest = match serde_json::from_value(body.clone()) {
        Ok(r) => r,
        Err(e) => panic!("own edge request fixture does not fit the schema: {e}"),
    };
    let sent = serde_json::to_value(&request).unwrap();
    // The fake refuses the edge endpoint (403 `feature_not_enabled`): the
    // answer is scripted.
    fake.fail_next_on(
        Operation::Edge,
        1,
        Fault::json(
            200,
            &json!({"event_id": "edge_1", "timestamp": 1_708_102_555_327_i64, "ip_info": {}, "vpn": false}),
        ),
    );
    let response = client(&fake)
        .analyze_request_for_automation_intelligence()
        .body(request)
        .send()
        .await
        .expect("edge response")
        .into_inner();
    let req = only_request(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v4/edge")
    );
    assert_sent_the_key(&req);
    assert_eq!(req.body_json(), Some(sent));
    let response = serde_json::to_value(&response).unwrap();
    assert_eq!(response["event_id"], "edge_1");
    assert_eq!(response["vpn"], false);
}

#[test]
fn regions_have_their_base_urls_and_parse_from_names() {
    assert_eq!(Region::Global.base_url(), "https://api.fpjs.io/v4");
    assert_eq!(Region::Eu.base_url(), "https://eu.api.fpjs.io/v4");
    assert_eq!(Region::Asia.base_url(), "https://ap.api.fpjs.io/v4");
    assert_eq!(Region::default(), Region::Global);
    for (name, region) in [
        ("global", Region::Global),
        ("us", Region::Global),
        ("EU", Region::Eu),
        ("ap", Region::Asia),
        ("asia", Region::Asia),
    ] {
        assert_eq!(name.parse::<Region>().unwrap(), region, "{name}");
    }
    let err = "mars".parse::<Region>().unwrap_err();
    assert!(err.to_string().contains("mars"), "{err}");
}

#[test]
fn built_client_uses_the_region_or_the_base_url_override() {
    for region in [Region::Global, Region::Eu, Region::Asia] {
        let client = Client::builder(KEY).region(region).build().unwrap();
        assert_eq!(client.base_url(), region.base_url());
    }
    let client = Client::builder(KEY)
        .region(Region::Eu)
        .base_url("http://127.0.0.1:8080/v4/")
        .build()
        .unwrap();
    assert_eq!(client.base_url(), "http://127.0.0.1:8080/v4");
}

/// On httpmock: the fake serves the API under `/v4` only, and this test
/// needs a base URL with another path (a proxy's).
#[tokio::test]
async fn base_url_override_routes_requests_there() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET).path("/proxy/fp/events/e1");
            then.status(200).json_body(sample_event("e1"));
        })
        .await;
    let client = Client::builder(KEY)
        .region(Region::Asia)
        .base_url(server.url("/proxy/fp"))
        .build()
        .unwrap();
    client
        .get_event()
        .event_id("e1")
        .send()
        .await
        .expect("event");
    mock.assert_async().await;
}

#[test]
fn bad_configuration_is_a_clear_error() {
    for (builder, needle) in [
        (Client::builder(""), "empty"),
        (Client::builder("  "), "empty"),
        (Client::builder("key\nwith newline"), "header"),
        (
            Client::builder(KEY).base_url("not a url"),
            "not a valid URL",
        ),
        (
            Client::builder(KEY).base_url("ftp://example.com/v4"),
            "http",
        ),
        (
            Client::builder(KEY).base_url("http://example.com/v4?x=1"),
            "query",
        ),
        (
            Client::builder(KEY).base_url("http://u:p@example.com/v4"),
            "credentials",
        ),
    ] {
        let err = builder.build().unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
        assert!(
            err.to_string().contains(needle),
            "{err} should mention {needle}"
        );
    }
}

#[test]
fn debug_output_never_shows_the_key() {
    let builder = Client::builder(KEY).timeout(Duration::from_secs(5));
    let shown = format!("{builder:?}");
    assert!(
        !shown.contains(KEY) && shown.contains("redacted"),
        "{shown}"
    );
    let client = builder.build().unwrap();
    let shown = format!("{client:?} {client:#?}");
    assert!(
        !shown.contains(KEY) && shown.contains("redacted"),
        "{shown}"
    );
    let shown = format!("{:?}", client.get_event().event_id("e1"));
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn the_key_does_not_appear_in_errors() {
    // A fake with another key answers 403 `secret_api_key_not_found`.
    let fake = FakeApi::start().await.expect("the fake starts");
    let err = client(&fake)
        .get_event()
        .event_id("e1")
        .send()
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
}

#[tokio::test]
async fn send_json_keeps_fields_the_sdk_does_not_know() {
    let fake = fake().await;
    let mut event = sample_event("e_json");
    event["field_from_the_future"] = json!({"nested": [1, 2.5, "x"]});
    event["identification"]["new_inner"] = json!(true);
    fake.insert_json(event.clone()).expect("stored");
    let client = client(&fake);
    let raw = client
        .get_event()
        .event_id("e_json")
        .send_json()
        .await
        .expect("json")
        .into_inner();
    assert_eq!(raw, event, "the body comes back exactly");
    let typed = client
        .get_event()
        .event_id("e_json")
        .send()
        .await
        .expect("typed");
    let typed = typed.into_inner();
    // The typed model keeps what it has no field for (issue: models that
    // lose nothing), at every level, and writes it back unchanged.
    assert_eq!(
        typed.unknown_fields.get("field_from_the_future"),
        Some(&json!({"nested": [1, 2.5, "x"]}))
    );
    let written = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        written["field_from_the_future"],
        event["field_from_the_future"]
    );
    assert_eq!(written["identification"]["new_inner"], json!(true));
}

#[tokio::test]
async fn errors_name_their_operation() {
    // A fake without events: the visitor is unknown to both calls (404
    // `visitor_not_found`).
    let fake = fake().await;
    let client = client(&fake);
    let err = client
        .delete_visitor_data()
        .visitor_id("v")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.operation(), Some("delete_visitor_data"));
    let err = client
        .search_events()
        .visitor_id("v")
        .send_json()
        .await
        .unwrap_err();
    assert_eq!(err.operation(), Some("search_events"));
    assert!(err.is_not_found());
    let config = Client::builder("").build().unwrap_err();
    assert_eq!(config.operation(), None);
}

#[test]
fn region_all_lists_every_region_once() {
    assert_eq!(Region::ALL.len(), 3);
    for name in ["global", "eu", "ap"] {
        let region: Region = name.parse().unwrap();
        assert_eq!(Region::ALL.iter().filter(|r| **r == region).count(), 1);
        assert_eq!(region.as_str(), name);
    }
}

#[test]
fn one_value_enums_outside_discriminators_are_open() {
    assert_eq!(
        types::SearchEventsSourceItem::from("edge"),
        types::SearchEventsSourceItem::Edge
    );
    let other = types::SearchEventsSourceItem::from("api");
    assert_eq!(
        other,
        types::SearchEventsSourceItem::Unrecognized("api".into())
    );
    assert_eq!(other.as_str(), "api");
}
