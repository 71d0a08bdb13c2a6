//! The deprecated v3 client: each operation on the wire, authentication
//! (header by default, query parameter as an opt-in), the visit-history
//! stream, forward compatibility, and upstream's v3 examples.
//!
//! These run on httpmock, not on `mock::FakeApi`: the fake serves the v4 API
//! only (other paths, auth header and pagination than v3's).
#![cfg(feature = "v3")]
#![allow(deprecated)]

use std::path::Path;

use fingerprint_server_sdk::v3::{self, types};
use fingerprint_server_sdk::{Error, Region, RetryPolicy, SDK_IDENTIFIER};
use httpmock::prelude::*;
use serde_json::json;

const KEY: &str = "v3_secret_key_123";

fn client(server: &MockServer) -> v3::Client {
    v3::Client::builder(KEY)
        .base_url(server.base_url())
        .retry(RetryPolicy::disabled())
        .build()
        .expect("v3 client builds")
}

fn visit(request_id: &str, timestamp: i64) -> serde_json::Value {
    json!({
        "requestId": request_id,
        "browserDetails": {
            "browserName": "Firefox", "browserMajorVersion": "133", "browserFullVersion": "133.0",
            "os": "Linux", "osVersion": "6", "device": "Other", "userAgent": "Mozilla/5.0"
        },
        "incognito": false,
        "ip": "198.51.100.4",
        "timestamp": timestamp,
        "time": "2024-02-16T17:15:55Z",
        "url": "https://shop.example/",
        "tag": {},
        "visitorFound": true,
        "firstSeenAt": {"global": "2024-01-01T00:00:00Z", "subscription": "2024-01-01T00:00:00Z"},
        "lastSeenAt": {"global": null, "subscription": null}
    })
}

fn own_event() -> serde_json::Value {
    json!({
        "products": {
            "botd": {"data": {
                "bot": {"result": "notDetected"},
                "url": "https://shop.example/",
                "ip": "198.51.100.4",
                "time": "2024-02-16T17:15:55Z",
                "userAgent": "Mozilla/5.0",
                "requestId": "1708102555327.v3own"
            }},
            "incognito": {"data": {"result": false}},
            "quantumTunnel": {"data": {"result": true}}
        },
        "futureTopLevel": 1
    })
}

#[tokio::test]
async fn get_event_uses_the_auth_api_key_header_and_no_bearer() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/events/1708102555327.v3own")
                .header("auth-api-key", KEY)
                .header("user-agent", SDK_IDENTIFIER)
                .header_missing("authorization")
                .query_param("ii", SDK_IDENTIFIER)
                .query_param_missing("api_key");
            then.status(200).json_body(own_event());
        })
        .await;
    let event = client(&server)
        .get_event()
        .request_id("1708102555327.v3own")
        .send()
        .await
        .expect("event")
        .into_inner();
    mock.assert_async().await;
    let botd = event.products.botd.expect("botd").data.expect("data");
    assert_eq!(
        botd.bot.and_then(|b| b.result),
        Some(types::BotdBotResult::NotDetected)
    );
    assert_eq!(botd.request_id.as_deref(), Some("1708102555327.v3own"));
}

#[tokio::test]
async fn key_in_query_is_an_opt_in_and_stays_out_of_errors() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/events/e1")
                .query_param("api_key", KEY)
                .header_missing("auth-api-key");
            then.status(404).json_body(
                json!({"error": {"code": "RequestNotFound", "message": "request id not found"}}),
            );
        })
        .await;
    let client = v3::Client::builder(KEY)
        .base_url(server.base_url())
        .retry(RetryPolicy::disabled())
        .key_in_query(true)
        .build()
        .unwrap();
    let err = client
        .get_event()
        .request_id("e1")
        .send()
        .await
        .unwrap_err();
    mock.assert_async().await;
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    let api = err.api_error().expect("decoded");
    assert_eq!(api.code.as_str(), "RequestNotFound");
    let shown = format!("{err} {err:?} {client:?}");
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn transport_errors_do_not_carry_the_query_key() {
    // A port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = v3::Client::builder(KEY)
        .base_url(format!("http://127.0.0.1:{port}"))
        .retry(RetryPolicy::disabled())
        .key_in_query(true)
        .build()
        .unwrap();
    let err = client
        .get_event()
        .request_id("e1")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn update_event_puts_the_body() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(PUT)
                .path("/events/e1")
                .json_body(json!({"linkedId": "order-9", "suspect": true}));
            then.status(200).json_body(json!({}));
        })
        .await;
    client(&server)
        .update_event()
        .request_id("e1")
        .body(types::EventsUpdateRequest {
            linked_id: Some("order-9".into()),
            suspect: Some(true),
            tag: None,
            unknown_fields: Default::default(),
        })
        .send()
        .await
        .expect("updated");
    mock.assert_async().await;
}

#[tokio::test]
async fn search_events_sends_limit_and_filters() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/events/search")
                .query_param("limit", "20")
                .query_param("visitor_id", "vis_v3")
                .query_param("bot", "bad")
                .query_param("reverse", "true");
            then.status(200)
                .json_body(json!({"events": [{"products": {}}], "paginationKey": "n1"}));
        })
        .await;
    let page = client(&server)
        .search_events()
        .limit(20)
        .visitor_id("vis_v3")
        .bot(types::SearchEventsBot::Bad)
        .reverse(true)
        .send()
        .await
        .expect("page")
        .into_inner();
    mock.assert_async().await;
    assert_eq!(page.events.map(|e| e.len()), Some(1));
    assert_eq!(page.pagination_key.as_deref(), Some("n1"));
}

#[tokio::test]
async fn visit_history_sends_its_filters_and_streams_across_pages() {
    let server = MockServer::start_async().await;
    let first = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/visitors/vis_v3")
                .query_param("limit", "2")
                .query_param("linked_id", "acct-1")
                .query_param("before", "1708102555999")
                .query_param_missing("paginationKey");
            then.status(200).json_body(json!({
                "visitorId": "vis_v3",
                "visits": [visit("r1", 3), visit("r2", 2)],
                "paginationKey": "p2"
            }));
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/visitors/vis_v3")
                .query_param("paginationKey", "p2");
            then.status(200)
                .json_body(json!({"visitorId": "vis_v3", "visits": [visit("r3", 1)]}));
        })
        .await;
    let client = client(&server);
    let mut visits = client
        .get_visits()
        .visitor_id("vis_v3")
        .limit(2)
        .linked_id("acct-1")
        .before(1_708_102_555_999_i64)
        .into_stream();
    let mut ids = Vec::new();
    while let Some(visit) = visits.next().await {
        ids.push(visit.expect("visit").request_id.unwrap_or_default());
    }
    assert_eq!(ids, ["r1", "r2", "r3"]);
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
    assert_eq!(visits.pages_received(), 2);
}

#[tokio::test]
async fn delete_and_related_visitors() {
    let server = MockServer::start_async().await;
    let delete = server
        .mock_async(|when, then| {
            when.method(DELETE)
                .path("/visitors/vis_v3")
                .header("auth-api-key", KEY);
            then.status(200);
        })
        .await;
    let related = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/related-visitors")
                .query_param("visitor_id", "vis_v3");
            then.status(200)
                .json_body(json!({"relatedVisitors": [{"visitorId": "vis_other"}]}));
        })
        .await;
    let client = client(&server);
    client
        .delete_visitor_data()
        .visitor_id("vis_v3")
        .send()
        .await
        .expect("deleted");
    let found = client
        .get_related_visitors()
        .visitor_id("vis_v3")
        .send()
        .await
        .expect("related")
        .into_inner();
    delete.assert_async().await;
    related.assert_async().await;
    assert_eq!(
        found.related_visitors[0].visitor_id.as_deref(),
        Some("vis_other")
    );
}

#[tokio::test]
async fn empty_request_id_is_refused_before_sending() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|_when, then| {
            then.status(200);
        })
        .await;
    for id in ["", ".", ".."] {
        let err = client(&server)
            .get_event()
            .request_id(id)
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidRequest { .. }),
            "{id:?}: {err:?}"
        );
    }
    assert_eq!(any.calls_async().await, 0);
}

#[test]
fn regions_use_host_urls_without_the_v4_path() {
    for (region, url) in [
        (Region::Global, "https://api.fpjs.io"),
        (Region::Eu, "https://eu.api.fpjs.io"),
        (Region::Asia, "https://ap.api.fpjs.io"),
    ] {
        let client = v3::Client::builder(KEY).region(region).build().unwrap();
        assert_eq!(client.base_url(), url);
    }
}

#[test]
fn unknown_fields_and_enum_values_deserialize_and_are_kept() {
    let mut event = own_event();
    event["products"]["botd"]["data"]["bot"] = json!({"result": "suspicious", "type": "newKind"});
    event["products"]["botd"]["data"]["extra"] = json!({"nested": [1, 2]});
    let parsed: types::EventsGetResponse =
        serde_json::from_value(event).expect("forward compatible");
    let result = parsed
        .products
        .botd
        .unwrap()
        .data
        .unwrap()
        .bot
        .unwrap()
        .result
        .unwrap();
    assert_eq!(
        result,
        types::BotdBotResult::Unrecognized("suspicious".into())
    );
    assert_eq!(serde_json::to_value(&result).unwrap(), json!("suspicious"));
}

#[test]
fn upstream_v3_examples_deserialize() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/upstream/v3-examples");
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent (it is present in CI)", dir.display());
        return;
    }
    let read = |name: &str| -> serde_json::Value {
        let text =
            std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    fn check<T: serde::de::DeserializeOwned>(name: &str, value: serde_json::Value) {
        if let Err(e) = serde_json::from_value::<T>(value) {
            panic!("{name} does not deserialize: {e}");
        }
    }
    check::<types::EventsGetResponse>("get_event_200.json", read("get_event_200.json"));
    check::<types::SearchEventsResponse>(
        "get_event_search_200.json",
        read("get_event_search_200.json"),
    );
    check::<types::VisitorsGetResponse>(
        "get_visitors_200_limit_1.json",
        read("get_visitors_200_limit_1.json"),
    );
    check::<types::EventsUpdateRequest>(
        "update_event_one_field_request.json",
        read("update_event_one_field_request.json"),
    );
    check::<types::RelatedVisitorsResponse>(
        "related-visitors/get_related_visitors_200.json",
        read("related-visitors/get_related_visitors_200.json"),
    );
    for entry in std::fs::read_dir(dir.join("errors")).expect("errors dir") {
        let path = entry.unwrap().path();
        let name = path.display().to_string();
        let body = std::fs::read(&path).unwrap();
        let decoded = fingerprint_server_sdk::ApiError::from_body(&body);
        let plain: serde_json::Value = serde_json::from_slice(&body).unwrap();
        match plain["error"].as_object() {
            Some(error) => {
                let decoded = decoded.unwrap_or_else(|| panic!("{name}: not decoded"));
                assert_eq!(decoded.code.as_str(), error["code"], "{name}");
            }
            None => assert!(decoded.is_none(), "{name}"),
        }
    }
}
