//! The embedded fake API (`mock::FakeApi`) through the SDK's own client:
//! get, search and its filters, paging, update, visitor deletion, the bearer
//! check, injected faults, and the helpers that fill it.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use fingerprint_server_sdk::mock::{self, FakeApi, Fault};
use fingerprint_server_sdk::types::{self, ErrorCode, SearchEventsBot};
use fingerprint_server_sdk::{Client, Error, RetryPolicy};
use serde_json::{Value, json};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

async fn fake() -> FakeApi {
    FakeApi::start().await.expect("the fake starts")
}

/// A client of `fake` that makes one attempt per call, so an error status
/// comes back as it was served.
fn single_attempt(fake: &FakeApi) -> Client {
    fake.client_builder()
        .retry(RetryPolicy::disabled())
        .build()
        .expect("client builds")
}

/// A client of `fake` that retries after very short waits (a `Retry-After`
/// included).
fn quick_retries(fake: &FakeApi) -> Client {
    fake.client_builder()
        .retry(
            RetryPolicy::standard()
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5)),
        )
        .build()
        .expect("client builds")
}

/// An event `minutes_ago` minutes old, of `visitor`.
fn event_json(id: &str, visitor: &str, minutes_ago: i64) -> Value {
    json!({
        "event_id": id,
        "timestamp": mock::now_ms() - minutes_ago * 60_000,
        "identification": {
            "visitor_id": visitor,
            "visitor_found": true,
            "confidence": {"score": 0.99}
        },
        "bot": "not_detected"
    })
}

fn insert(fake: &FakeApi, event: Value) {
    fake.insert_json(event).expect("a valid event");
}

fn ids(events: &[types::Event]) -> Vec<&str> {
    events.iter().map(|e| e.event_id.as_str()).collect()
}

fn status(err: &Error) -> Option<u16> {
    err.status().map(|s| s.as_u16())
}

async fn search_ids(search: fingerprint_server_sdk::builder::SearchEvents<'_>) -> Vec<String> {
    search
        .send()
        .await
        .expect("the search succeeds")
        .into_inner()
        .events
        .into_iter()
        .map(|e| e.event_id)
        .collect()
}

// ---- get ----------------------------------------------------------------

#[tokio::test]
async fn get_event_returns_the_inserted_event() {
    let fake = fake().await;
    insert(&fake, event_json("evt_a", "vis_a", 5));
    let client = fake.client();

    let event = client
        .get_event()
        .event_id("evt_a")
        .send()
        .await
        .expect("found")
        .into_inner();
    assert_eq!(event.event_id, "evt_a");
    assert_eq!(
        event.identification.expect("identification").visitor_id,
        "vis_a"
    );
    assert_eq!(event.bot, Some(types::BotResult::NotDetected));
}

#[tokio::test]
async fn get_event_of_an_unknown_id_is_404_event_not_found() {
    let fake = fake().await;
    insert(&fake, event_json("evt_a", "vis_a", 5));
    let client = fake.client();

    let err = client
        .get_event()
        .event_id("evt_missing")
        .send()
        .await
        .expect_err("not found");
    assert!(err.is_not_found());
    assert_eq!(status(&err), Some(404));
    assert_eq!(err.code(), Some(&ErrorCode::EventNotFound));
    assert!(!err.api_error().expect("decoded").message.is_empty());
    assert_eq!(err.attempts(), 1, "a 404 is not retried");
}

#[tokio::test]
async fn get_event_finds_ids_with_reserved_characters() {
    let fake = fake().await;
    insert(&fake, event_json("a/b?c d", "vis_a", 5));

    let event = fake
        .client()
        .get_event()
        .event_id("a/b?c d")
        .send()
        .await
        .expect("the percent-encoded id is decoded by the fake")
        .into_inner();
    assert_eq!(event.event_id, "a/b?c d");
}

#[tokio::test]
async fn get_event_returns_unknown_fields_as_they_were_inserted() {
    let fake = fake().await;
    let mut event = event_json("evt_extra", "vis_a", 5);
    event["a_field_from_the_future"] = json!({"nested": [1, 2, 3]});
    insert(&fake, event);

    let raw: Value = reqwest::Client::new()
        .get(format!("{}/events/evt_extra", fake.url()))
        .bearer_auth(fake.api_key())
        .send()
        .await
        .expect("a response")
        .json()
        .await
        .expect("JSON");
    assert_eq!(raw["a_field_from_the_future"], json!({"nested": [1, 2, 3]}));
}

// ---- search filters -------------------------------------------------------

/// Five recent events across two visitors, two linked ids, one suspect and
/// each bot verdict: `e1` is the newest, `e5` the oldest.
fn filter_fixture(fake: &FakeApi) {
    let mut e1 = event_json("e1", "vis_a", 1);
    e1["linked_id"] = json!("order 1+2");
    let mut e2 = event_json("e2", "vis_b", 2);
    e2["bot"] = json!("good");
    e2["suspect"] = json!(true);
    let mut e3 = event_json("e3", "vis_a", 3);
    e3["bot"] = json!("bad");
    e3["linked_id"] = json!("order 1+2");
    let mut e4 = event_json("e4", "vis_b", 4);
    e4["suspect"] = json!(false);
    let e5 = event_json("e5", "vis_a", 5);
    for event in [e3, e5, e1, e4, e2] {
        insert(fake, event);
    }
}

#[tokio::test]
async fn search_without_filters_returns_recent_events_newest_first() {
    let fake = fake().await;
    filter_fixture(&fake);
    let client = fake.client();
    assert_eq!(
        search_ids(client.search_events()).await,
        ["e1", "e2", "e3", "e4", "e5"]
    );
}

#[tokio::test]
async fn search_by_visitor_id_returns_only_that_visitors_events() {
    let fake = fake().await;
    filter_fixture(&fake);
    let client = fake.client();
    assert_eq!(
        search_ids(client.search_events().visitor_id("vis_a")).await,
        ["e1", "e3", "e5"]
    );
    assert_eq!(
        search_ids(client.search_events().visitor_id("vis_b")).await,
        ["e2", "e4"]
    );
    // A visitor no event belongs to is a 404 `visitor_not_found`, as the
    // reference documents for the search.
    let err = single_attempt(&fake)
        .search_events()
        .visitor_id("vis_none")
        .send()
        .await
        .expect_err("unknown visitor");
    assert_eq!(status(&err), Some(404));
    assert_eq!(err.code(), Some(&ErrorCode::VisitorNotFound));
    assert!(err.is_not_found());
}

#[tokio::test]
async fn search_by_linked_id_matches_exactly_spaces_and_plus_signs_included() {
    let fake = fake().await;
    filter_fixture(&fake);
    let client = fake.client();
    assert_eq!(
        search_ids(client.search_events().linked_id("order 1+2")).await,
        ["e1", "e3"]
    );
    assert!(
        search_ids(client.search_events().linked_id("order 1 2"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn search_by_suspect_splits_marked_from_unmarked_events() {
    let fake = fake().await;
    filter_fixture(&fake);
    let client = fake.client();
    assert_eq!(
        search_ids(client.search_events().suspect(true)).await,
        ["e2"]
    );
    // Only events where `suspect` was set are searched: those never marked
    // are left out by `suspect=false` too.
    assert_eq!(
        search_ids(client.search_events().suspect(false)).await,
        ["e4"]
    );
}

#[tokio::test]
async fn search_by_bot_verdict() {
    let fake = fake().await;
    filter_fixture(&fake);
    let client = fake.client();
    assert_eq!(
        search_ids(client.search_events().bot(SearchEventsBot::Good)).await,
        ["e2"]
    );
    assert_eq!(
        search_ids(client.search_events().bot(SearchEventsBot::Bad)).await,
        ["e3"]
    );
    assert_eq!(
        search_ids(client.search_events().bot(SearchEventsBot::All)).await,
        ["e2", "e3"]
    );
    assert_eq!(
        search_ids(client.search_events().bot(SearchEventsBot::None)).await,
        ["e1", "e4", "e5"]
    );
}

#[tokio::test]
async fn search_with_an_unknown_bot_value_is_400() {
    let fake = fake().await;
    filter_fixture(&fake);
    let err = single_attempt(&fake)
        .search_events()
        .bot(SearchEventsBot::Unrecognized("sometimes".into()))
        .send()
        .await
        .expect_err("refused");
    assert_eq!(status(&err), Some(400));
    assert_eq!(err.code(), Some(&ErrorCode::RequestCannotBeParsed));
}

#[tokio::test]
async fn search_filters_combine() {
    let fake = fake().await;
    filter_fixture(&fake);
    let client = fake.client();
    assert_eq!(
        search_ids(
            client
                .search_events()
                .visitor_id("vis_a")
                .linked_id("order 1+2")
                .bot(SearchEventsBot::None)
        )
        .await,
        ["e1"]
    );
}

#[tokio::test]
async fn search_reverse_returns_oldest_first() {
    let fake = fake().await;
    filter_fixture(&fake);
    let client = fake.client();
    assert_eq!(
        search_ids(client.search_events().reverse(true)).await,
        ["e5", "e4", "e3", "e2", "e1"]
    );
    assert_eq!(
        search_ids(client.search_events().reverse(false)).await,
        ["e1", "e2", "e3", "e4", "e5"]
    );
}

#[tokio::test]
async fn events_with_the_same_timestamp_are_ordered_by_id() {
    let fake = fake().await;
    let ts = mock::now_ms() - 60_000;
    for id in ["t_b", "t_c", "t_a"] {
        let mut event = event_json(id, "vis_t", 0);
        event["timestamp"] = json!(ts);
        insert(&fake, event);
    }
    let client = fake.client();
    assert_eq!(
        search_ids(client.search_events()).await,
        ["t_c", "t_b", "t_a"]
    );
    assert_eq!(
        search_ids(client.search_events().reverse(true)).await,
        ["t_a", "t_b", "t_c"]
    );
}

/// Events 10, 20, 30 and 40 hours old.
fn time_fixture(fake: &FakeApi) -> i64 {
    let now = mock::now_ms();
    for hours in [10, 20, 30, 40] {
        let mut event = event_json(&format!("h{hours}"), "vis_t", 0);
        event["timestamp"] = json!(now - hours * 3_600_000);
        insert(fake, event);
    }
    now
}

#[tokio::test]
async fn search_time_range_in_unix_milliseconds_is_inclusive() {
    let fake = fake().await;
    let now = time_fixture(&fake);
    let client = fake.client();
    assert_eq!(
        search_ids(
            client
                .search_events()
                .start(now - 35 * 3_600_000)
                .end(now - 15 * 3_600_000)
        )
        .await,
        ["h20", "h30"]
    );
    // Both bounds are inclusive.
    assert_eq!(
        search_ids(
            client
                .search_events()
                .start(now - 30 * 3_600_000)
                .end(now - 20 * 3_600_000)
        )
        .await,
        ["h20", "h30"]
    );
    assert_eq!(
        search_ids(client.search_events().end(now - 25 * 3_600_000)).await,
        ["h30", "h40"]
    );
}

#[tokio::test]
async fn search_time_range_as_rfc3339_dates() {
    let fake = fake().await;
    let now = time_fixture(&fake);
    let at = |ms: i64| Utc.timestamp_millis_opt(ms).single().expect("a valid time");
    let client = fake.client();
    assert_eq!(
        search_ids(
            client
                .search_events()
                .start(at(now - 35 * 3_600_000))
                .end(at(now - 15 * 3_600_000))
        )
        .await,
        ["h20", "h30"]
    );
    assert_eq!(
        search_ids(client.search_events().start(at(now - 25 * 3_600_000))).await,
        ["h10", "h20"]
    );
}

#[tokio::test]
async fn search_with_an_unparsable_start_is_400() {
    let fake = fake().await;
    let response = reqwest::Client::new()
        .get(format!("{}/events?start=yesterday", fake.url()))
        .bearer_auth(fake.api_key())
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "request_cannot_be_parsed");
}

#[tokio::test]
async fn search_defaults_to_the_last_seven_days() {
    let fake = fake().await;
    insert(&fake, event_json("recent", "vis_old", 60));
    let mut old = event_json("eight_days_old", "vis_old", 0);
    old["timestamp"] = json!(mock::now_ms() - 8 * DAY_MS);
    insert(&fake, old);
    let client = fake.client();

    assert_eq!(
        search_ids(client.search_events().visitor_id("vis_old")).await,
        ["recent"]
    );
    assert_eq!(
        search_ids(
            client
                .search_events()
                .visitor_id("vis_old")
                .start(mock::now_ms() - 9 * DAY_MS)
        )
        .await,
        ["recent", "eight_days_old"]
    );
    // Get by id does not care about age.
    client
        .get_event()
        .event_id("eight_days_old")
        .send()
        .await
        .expect("found by id");
}

// ---- limit and paging -----------------------------------------------------

/// `count` events of `vis_p`, one minute apart, `p000` the newest.
fn paging_fixture(fake: &FakeApi, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let id = format!("p{i:03}");
            insert(fake, event_json(&id, "vis_p", 1 + i as i64));
            id
        })
        .collect()
}

#[tokio::test]
async fn search_limit_defaults_to_ten_and_caps_the_page() {
    let fake = fake().await;
    let all = paging_fixture(&fake, 12);
    let client = fake.client();

    let page = client
        .search_events()
        .send()
        .await
        .expect("a page")
        .into_inner();
    assert_eq!(page.events.len(), 10);
    assert!(page.pagination_key.is_some());

    let page = client
        .search_events()
        .limit(3)
        .send()
        .await
        .expect("a page")
        .into_inner();
    assert_eq!(ids(&page.events), &all[..3]);

    let page = client
        .search_events()
        .limit(100)
        .send()
        .await
        .expect("a page")
        .into_inner();
    assert_eq!(page.events.len(), 12);
    assert_eq!(page.pagination_key, None, "everything fit on one page");

    let page = client
        .search_events()
        .limit(1)
        .send()
        .await
        .expect("a page")
        .into_inner();
    assert_eq!(ids(&page.events), &all[..1]);
}

#[tokio::test]
async fn search_limit_out_of_bounds_is_400() {
    let fake = fake().await;
    paging_fixture(&fake, 3);
    let client = single_attempt(&fake);
    for limit in [0, 101, -1] {
        let err = client
            .search_events()
            .limit(limit)
            .send()
            .await
            .expect_err("refused");
        assert_eq!(status(&err), Some(400), "limit {limit}");
        assert_eq!(
            err.code(),
            Some(&ErrorCode::RequestCannotBeParsed),
            "limit {limit}"
        );
    }
    assert_eq!(fake.requests(), 3, "one request each, none retried");
}

#[tokio::test]
async fn pages_chain_through_pagination_keys_to_a_last_page_without_one() {
    let fake = fake().await;
    let all = paging_fixture(&fake, 7);
    let client = fake.client();

    let first = client
        .search_events()
        .limit(3)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&first.events), &all[0..3]);
    let key = first.pagination_key.expect("more pages");
    let second = client
        .search_events()
        .limit(3)
        .pagination_key(key)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&second.events), &all[3..6]);
    let key = second.pagination_key.expect("more pages");
    let third = client
        .search_events()
        .limit(3)
        .pagination_key(key)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&third.events), &all[6..7]);
    assert_eq!(third.pagination_key, None);
}

#[tokio::test]
async fn a_result_that_fills_the_last_page_exactly_ends_without_a_key() {
    let fake = fake().await;
    paging_fixture(&fake, 6);
    let client = fake.client();
    let mut pages = client.search_events().limit(3).into_page_stream();
    let mut sizes = Vec::new();
    while let Some(page) = pages.next().await {
        sizes.push(page.expect("a page").events.len());
    }
    assert_eq!(sizes, [3, 3], "no trailing empty page");
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn into_stream_yields_every_event_exactly_once_in_order() {
    let fake = fake().await;
    let all = paging_fixture(&fake, 25);
    // Another visitor's events must not leak into the stream.
    insert(&fake, event_json("other", "vis_other", 3));
    let client = fake.client();

    let mut stream = client
        .search_events()
        .visitor_id("vis_p")
        .limit(7)
        .into_stream();
    let mut got = Vec::new();
    while let Some(event) = stream.next().await {
        got.push(event.expect("an event").event_id);
    }

    assert_eq!(got, all);
    assert_eq!(
        got.iter().collect::<HashSet<_>>().len(),
        25,
        "no duplicates"
    );
    assert_eq!(stream.pages_received(), 4);
    assert_eq!(fake.requests(), 4);
}

#[tokio::test]
async fn into_stream_with_reverse_yields_oldest_first() {
    let fake = fake().await;
    let mut all = paging_fixture(&fake, 11);
    all.reverse();
    let client = fake.client();

    let mut stream = client.search_events().reverse(true).limit(4).into_stream();
    let mut got = Vec::new();
    while let Some(event) = stream.next().await {
        got.push(event.expect("an event").event_id);
    }
    assert_eq!(got, all);
    assert_eq!(stream.pages_received(), 3);
}

#[tokio::test]
async fn into_stream_max_events_stops_requesting_pages() {
    let fake = fake().await;
    let all = paging_fixture(&fake, 20);
    let client = fake.client();

    let mut stream = client.search_events().limit(5).into_stream().max_events(5);
    let mut got = Vec::new();
    while let Some(event) = stream.next().await {
        got.push(event.expect("an event").event_id);
    }
    assert_eq!(got, &all[..5]);
    assert_eq!(fake.requests(), 1);
}

#[tokio::test]
async fn an_invalid_pagination_key_is_400() {
    let fake = fake().await;
    paging_fixture(&fake, 5);
    let client = single_attempt(&fake);
    for key in ["garbage", "~", "notanumber~p001", "1708102555327"] {
        let err = client
            .search_events()
            .pagination_key(key)
            .send()
            .await
            .expect_err("refused");
        assert_eq!(status(&err), Some(400), "key {key:?}");
        assert_eq!(
            err.code(),
            Some(&ErrorCode::RequestCannotBeParsed),
            "key {key:?}"
        );
    }
}

// ---- update ---------------------------------------------------------------

#[tokio::test]
async fn update_event_changes_linked_id_suspect_and_tags() {
    let fake = fake().await;
    insert(&fake, event_json("evt_u", "vis_u", 5));
    insert(&fake, event_json("evt_other", "vis_u", 6));
    let client = fake.client();

    let mut tags = serde_json::Map::new();
    tags.insert("campaign".into(), json!("spring"));
    tags.insert("score".into(), json!(3));
    client
        .update_event()
        .event_id("evt_u")
        .body(types::EventUpdate {
            linked_id: Some("order-77".into()),
            suspect: Some(true),
            tags: Some(tags.clone()),
            ..Default::default()
        })
        .send()
        .await
        .expect("updated");

    let event = client
        .get_event()
        .event_id("evt_u")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(event.linked_id.as_deref(), Some("order-77"));
    assert_eq!(event.suspect, Some(true));
    assert_eq!(event.tags.map(|t| t.0), Some(tags));
    // The change is visible to the searches too.
    assert_eq!(
        search_ids(client.search_events().linked_id("order-77")).await,
        ["evt_u"]
    );
    assert_eq!(
        search_ids(client.search_events().suspect(true)).await,
        ["evt_u"]
    );
    // And to the helper.
    assert_eq!(
        fake.event("evt_u").and_then(|e| e.linked_id).as_deref(),
        Some("order-77")
    );
    // The other event is untouched.
    let other = fake.event("evt_other").expect("still there");
    assert_eq!(other.linked_id, None);
    assert_eq!(other.suspect, None);
}

#[tokio::test]
async fn update_event_leaves_fields_that_are_not_in_the_body() {
    let fake = fake().await;
    let mut event = event_json("evt_u", "vis_u", 5);
    event["linked_id"] = json!("kept");
    event["tags"] = json!({"kept": true});
    insert(&fake, event);
    let client = fake.client();

    client
        .update_event()
        .event_id("evt_u")
        .body(types::EventUpdate {
            suspect: Some(false),
            ..Default::default()
        })
        .send()
        .await
        .expect("updated");

    let event = fake.event("evt_u").expect("stored");
    assert_eq!(event.linked_id.as_deref(), Some("kept"));
    assert_eq!(event.suspect, Some(false));
    assert_eq!(
        event.tags.map(|t| t.0.get("kept").cloned()),
        Some(Some(json!(true)))
    );
}

#[tokio::test]
async fn update_with_empty_tags_clears_them() {
    let fake = fake().await;
    let mut event = event_json("evt_u", "vis_u", 5);
    event["tags"] = json!({"old": 1});
    insert(&fake, event);

    fake.client()
        .update_event()
        .event_id("evt_u")
        .body(types::EventUpdate {
            tags: Some(serde_json::Map::new()),
            ..Default::default()
        })
        .send()
        .await
        .expect("updated");

    let tags = fake.event("evt_u").and_then(|e| e.tags).map(|t| t.0);
    assert_eq!(tags, Some(serde_json::Map::new()));
}

#[tokio::test]
async fn update_of_an_unknown_event_is_404_event_not_found() {
    let fake = fake().await;
    let err = single_attempt(&fake)
        .update_event()
        .event_id("evt_missing")
        .body(types::EventUpdate {
            suspect: Some(true),
            ..Default::default()
        })
        .send()
        .await
        .expect_err("not found");
    assert_eq!(status(&err), Some(404));
    assert_eq!(err.code(), Some(&ErrorCode::EventNotFound));
    assert!(fake.is_empty());
}

#[tokio::test]
async fn update_with_a_body_that_is_not_an_update_is_400() {
    let fake = fake().await;
    insert(&fake, event_json("evt_u", "vis_u", 5));
    let response = reqwest::Client::new()
        .patch(format!("{}/events/evt_u", fake.url()))
        .bearer_auth(fake.api_key())
        .header("content-type", "application/json")
        .body(r#"{"suspect": "very"}"#)
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "request_cannot_be_parsed");
    assert_eq!(fake.event("evt_u").expect("stored").suspect, None);
}

// ---- delete visitor ---------------------------------------------------------

#[tokio::test]
async fn delete_visitor_data_removes_every_event_of_that_visitor_only() {
    let fake = fake().await;
    insert(&fake, event_json("a1", "vis_gone", 1));
    insert(&fake, event_json("a2", "vis_gone", 2));
    insert(&fake, event_json("b1", "vis_kept", 3));
    let client = fake.client();

    client
        .delete_visitor_data()
        .visitor_id("vis_gone")
        .send()
        .await
        .expect("deleted");

    assert_eq!(fake.len(), 1);
    assert!(
        client
            .get_event()
            .event_id("a1")
            .send()
            .await
            .expect_err("gone")
            .is_not_found()
    );
    // The visitor is unknown now: a search for it is a 404, as for any
    // visitor the API has never seen.
    let err = client
        .search_events()
        .visitor_id("vis_gone")
        .send()
        .await
        .expect_err("no such visitor any more");
    assert_eq!(err.code(), Some(&ErrorCode::VisitorNotFound));
    assert_eq!(search_ids(client.search_events()).await, ["b1"]);
}

#[tokio::test]
async fn delete_of_a_visitor_without_events_is_404_visitor_not_found() {
    let fake = fake().await;
    insert(&fake, event_json("a1", "vis_a", 1));
    let client = single_attempt(&fake);

    let err = client
        .delete_visitor_data()
        .visitor_id("vis_nobody")
        .send()
        .await
        .expect_err("not found");
    assert_eq!(status(&err), Some(404));
    assert_eq!(err.code(), Some(&ErrorCode::VisitorNotFound));

    client
        .delete_visitor_data()
        .visitor_id("vis_a")
        .send()
        .await
        .expect("deleted");
    let again = client
        .delete_visitor_data()
        .visitor_id("vis_a")
        .send()
        .await
        .expect_err("already deleted");
    assert_eq!(again.code(), Some(&ErrorCode::VisitorNotFound));
}

// ---- bearer check -----------------------------------------------------------

#[tokio::test]
async fn a_wrong_key_is_403_secret_api_key_not_found() {
    let fake = fake().await;
    insert(&fake, event_json("evt_a", "vis_a", 1));
    let client = Client::builder("not-the-fakes-key")
        .base_url(fake.url())
        .build()
        .expect("client builds");

    let err = client
        .get_event()
        .event_id("evt_a")
        .send()
        .await
        .expect_err("refused");
    assert_eq!(status(&err), Some(403));
    assert_eq!(err.code(), Some(&ErrorCode::SecretApiKeyNotFound));
    assert_eq!(err.attempts(), 1, "a 403 is not retried");
    assert!(err.hint().is_some());
}

#[tokio::test]
async fn a_request_without_authorization_is_403_secret_api_key_required() {
    let fake = fake().await;
    insert(&fake, event_json("evt_a", "vis_a", 1));

    let response = reqwest::Client::new()
        .get(format!("{}/events/evt_a", fake.url()))
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status().as_u16(), 403);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
    );
    let body: types::ErrorResponse = response.json().await.expect("the API's error shape");
    assert_eq!(body.error.code, ErrorCode::SecretApiKeyRequired);
    assert!(!body.error.message.is_empty());
}

#[tokio::test]
async fn the_key_is_checked_before_anything_else() {
    let fake = fake().await;
    // Even an unknown path and a search that would be refused get 403 first.
    for path in ["/nowhere", "/events?limit=0"] {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", fake.url()))
            .bearer_auth("wrong")
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status().as_u16(), 403, "{path}");
    }
}

#[tokio::test]
async fn start_on_accepts_the_key_it_was_given() {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let fake = FakeApi::start_on(addr, "my-own-key").await.expect("starts");
    assert_eq!(fake.api_key(), "my-own-key");
    assert_eq!(fake.addr().ip().to_string(), "127.0.0.1");
    assert_ne!(fake.addr().port(), 0, "the port actually bound is reported");
    assert_eq!(fake.url(), format!("http://{}/v4", fake.addr()));
    insert(&fake, event_json("evt_a", "vis_a", 1));

    fake.client()
        .get_event()
        .event_id("evt_a")
        .send()
        .await
        .expect("its client uses its key");
    let err = Client::builder(mock::DEFAULT_KEY)
        .base_url(fake.url())
        .build()
        .unwrap()
        .get_event()
        .event_id("evt_a")
        .send()
        .await
        .expect_err("the default key is not accepted");
    assert_eq!(err.code(), Some(&ErrorCode::SecretApiKeyNotFound));
}

// ---- unknown routes ---------------------------------------------------------

#[tokio::test]
async fn the_edge_endpoint_and_unknown_paths_are_refused() {
    let fake = fake().await;
    let http = reqwest::Client::new();
    let edge = http
        .post(format!("{}/edge", fake.url()))
        .bearer_auth(fake.api_key())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("a response");
    assert_eq!(edge.status().as_u16(), 403);
    let body: Value = edge.json().await.unwrap();
    assert_eq!(body["error"]["code"], "feature_not_enabled");

    let unknown = http
        .get(format!("{}/no/such/thing", fake.url()))
        .bearer_auth(fake.api_key())
        .send()
        .await
        .expect("a response");
    assert_eq!(unknown.status().as_u16(), 404);
}

// ---- fault injection --------------------------------------------------------

#[tokio::test]
async fn an_injected_429_carries_its_retry_after() {
    let fake = fake().await;
    insert(&fake, event_json("evt_a", "vis_a", 1));
    fake.fail_next(
        1,
        Fault::TooManyRequests {
            retry_after: Some(1),
        },
    );
    let client = single_attempt(&fake);

    let err = client
        .get_event()
        .event_id("evt_a")
        .send()
        .await
        .expect_err("429");
    assert_eq!(status(&err), Some(429));
    assert_eq!(err.code(), Some(&ErrorCode::TooManyRequests));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));

    // The fault is used up: the next call goes through.
    client
        .get_event()
        .event_id("evt_a")
        .send()
        .await
        .expect("served normally");
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn an_injected_429_without_retry_after_has_none() {
    let fake = fake().await;
    fake.fail_next(1, Fault::TooManyRequests { retry_after: None });
    let err = single_attempt(&fake)
        .search_events()
        .send()
        .await
        .expect_err("429");
    assert_eq!(status(&err), Some(429));
    assert_eq!(err.retry_after(), None);
}

#[tokio::test]
async fn a_retrying_client_gets_through_an_injected_429() {
    let fake = fake().await;
    insert(&fake, event_json("evt_a", "vis_a", 1));
    fake.fail_next(
        1,
        Fault::TooManyRequests {
            retry_after: Some(1),
        },
    );

    let event = quick_retries(&fake)
        .get_event()
        .event_id("evt_a")
        .send()
        .await
        .expect("retried after the 429")
        .into_inner();
    assert_eq!(event.event_id, "evt_a");
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn an_injected_503_is_served_then_retried_past() {
    let fake = fake().await;
    insert(&fake, event_json("evt_a", "vis_a", 1));

    fake.fail_next(1, Fault::Status(503));
    let err = single_attempt(&fake)
        .get_event()
        .event_id("evt_a")
        .send()
        .await
        .expect_err("503");
    assert_eq!(status(&err), Some(503));
    assert!(err.api_error().is_some(), "an API error body: {err:?}");
    assert_eq!(fake.requests(), 1);

    fake.fail_next(1, Fault::Status(503));
    quick_retries(&fake)
        .get_event()
        .event_id("evt_a")
        .send()
        .await
        .expect("retried after the 503");
    assert_eq!(fake.requests(), 3);
}

#[tokio::test]
async fn injected_faults_are_served_in_order_then_run_out() {
    let fake = fake().await;
    fake.fail_next(2, Fault::Status(502));
    fake.fail_next(
        1,
        Fault::TooManyRequests {
            retry_after: Some(2),
        },
    );
    let client = single_attempt(&fake);

    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(match client.search_events().send().await {
            Ok(response) => response.status().as_u16(),
            Err(e) => status(&e).unwrap_or(0),
        });
    }
    assert_eq!(statuses, [502, 502, 429, 200]);
}

#[tokio::test]
async fn more_faults_than_attempts_exhaust_the_retries() {
    let fake = fake().await;
    insert(&fake, event_json("evt_a", "vis_a", 1));
    fake.fail_next(5, Fault::Status(500));

    let err = quick_retries(&fake)
        .get_event()
        .event_id("evt_a")
        .send()
        .await
        .expect_err("three attempts, three 500s");
    assert_eq!(status(&err), Some(500));
    assert_eq!(err.attempts(), 3);
    assert_eq!(fake.requests(), 3);
}

#[tokio::test]
async fn a_fault_also_hits_updates_and_a_retry_still_applies_the_change() {
    let fake = fake().await;
    insert(&fake, event_json("evt_a", "vis_a", 1));
    fake.fail_next(1, Fault::Status(503));

    quick_retries(&fake)
        .update_event()
        .event_id("evt_a")
        .body(types::EventUpdate {
            suspect: Some(true),
            ..Default::default()
        })
        .send()
        .await
        .expect("PATCH is retried after a 503");
    assert_eq!(fake.event("evt_a").unwrap().suspect, Some(true));
    assert_eq!(fake.requests(), 2);
}

// ---- inserting --------------------------------------------------------------

#[tokio::test]
async fn insert_json_refuses_what_is_not_an_event() {
    let fake = fake().await;
    let not_events = [
        json!("just a string"),
        json!({"event_id": "no_timestamp"}),
        json!({"timestamp": 1_708_102_555_327_i64}),
        json!({"event_id": "bad_ts", "timestamp": "yesterday"}),
        json!([{"event_id": "in_an_array", "timestamp": 1}]),
    ];
    for value in not_events {
        let err = fake.insert_json(value.clone()).expect_err("refused");
        assert!(!err.to_string().is_empty(), "{value}");
    }
    assert!(fake.is_empty());
}

#[tokio::test]
async fn insert_of_a_typed_event_round_trips_through_the_api() {
    let fake = fake().await;
    let original: types::Event = serde_json::from_value(json!({
        "event_id": "evt_typed",
        "timestamp": mock::now_ms() - 30_000,
        "identification": {"visitor_id": "vis_typed", "visitor_found": false,
                           "confidence": {"score": 0.95}},
        "bot": "good",
        "proxy_ml_score": 0.95,
        "suspect_score": 7,
        "tags": {"k": "v"},
        "browser_details": {"browser_name": "Firefox", "browser_major_version": "133",
                            "browser_full_version": "133.0.1", "os": "Linux",
                            "os_version": "6", "device": "Other"}
    }))
    .expect("a valid event");
    fake.insert(&original).expect("stored");

    let fetched = fake
        .client()
        .get_event()
        .event_id("evt_typed")
        .send()
        .await
        .expect("found")
        .into_inner();
    assert_eq!(
        serde_json::to_value(&fetched).unwrap(),
        serde_json::to_value(&original).unwrap()
    );
    assert_eq!(
        serde_json::to_value(fake.event("evt_typed").expect("stored")).unwrap(),
        serde_json::to_value(&original).unwrap()
    );
}

#[tokio::test]
async fn inserting_an_existing_id_replaces_the_event() {
    let fake = fake().await;
    insert(&fake, event_json("evt_a", "vis_first", 1));
    insert(&fake, event_json("evt_a", "vis_second", 1));
    assert_eq!(fake.len(), 1);
    assert_eq!(
        fake.event("evt_a")
            .and_then(|e| e.identification)
            .map(|i| i.visitor_id)
            .as_deref(),
        Some("vis_second")
    );
}

#[test]
fn sample_events_are_valid_distinct_and_deterministic() {
    let now = 1_750_000_000_000_i64;
    let samples = mock::sample_events(60, now);
    assert_eq!(samples.len(), 60);
    assert_eq!(
        samples,
        mock::sample_events(60, now),
        "same arguments, same events"
    );

    let events: Vec<types::Event> = samples
        .iter()
        .map(|v| serde_json::from_value(v.clone()).expect("every sample is an Event"))
        .collect();
    let unique: HashSet<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(unique.len(), 60, "distinct ids");
    for pair in events.windows(2) {
        assert!(pair[0].timestamp > pair[1].timestamp, "newest first");
    }
    for event in &events {
        assert!(event.timestamp < now, "in the past");
        assert!(
            event.timestamp > now - 7 * DAY_MS,
            "inside the default window"
        );
        let identification = event.identification.as_ref().expect("a visitor");
        assert!(!identification.visitor_id.is_empty());
        assert!(event.bot.is_some());
        assert!(event.browser_details.is_some());
    }
    // A mix worth summarising: several visitors, verdicts and suspects.
    let visitors: HashSet<&str> = events
        .iter()
        .filter_map(|e| e.identification.as_ref())
        .map(|i| i.visitor_id.as_str())
        .collect();
    assert!(visitors.len() > 1);
    let verdicts: HashSet<&str> = events
        .iter()
        .filter_map(|e| e.bot.as_ref())
        .map(|b| b.as_str())
        .collect();
    assert_eq!(verdicts.len(), 3, "{verdicts:?}");
    assert!(events.iter().any(|e| e.suspect == Some(true)));
    assert!(events.iter().any(|e| e.linked_id.is_some()));
}

#[test]
fn sample_events_follow_the_given_clock() {
    let a = mock::sample_events(5, 1_000_000_000_000);
    let b = mock::sample_events(5, 1_000_000_060_000);
    assert_ne!(a, b);
    assert_eq!(a.len(), 5);
    assert!(mock::sample_events(0, 1_000_000_000_000).is_empty());
}

#[tokio::test]
async fn insert_samples_fills_the_fake_for_a_default_search() {
    let fake = fake().await;
    assert_eq!(fake.insert_samples(30).expect("stored"), 30);
    assert_eq!(fake.len(), 30);
    let client = fake.client();

    let mut stream = client.search_events().limit(100).into_stream();
    let mut count = 0;
    while let Some(event) = stream.next().await {
        event.expect("an event");
        count += 1;
    }
    assert_eq!(count, 30, "every sample is inside the default window");
}

// ---- lifecycle --------------------------------------------------------------

#[tokio::test]
async fn requests_counts_every_request_the_fake_answered() {
    let fake = fake().await;
    assert_eq!(fake.requests(), 0);
    let client = single_attempt(&fake);
    let _ = client.get_event().event_id("x").send().await;
    let _ = client.search_events().send().await;
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn a_dropped_fake_stops_answering() {
    let fake = fake().await;
    let client = single_attempt(&fake);
    client.search_events().send().await.expect("running");
    drop(fake);
    // Give the server task a moment to see the stop signal.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = client
        .search_events()
        .send()
        .await
        .expect_err("nothing listens any more");
    assert_eq!(err.status(), None, "no response at all: {err:?}");
}

#[tokio::test]
async fn debug_output_shows_the_url_and_the_event_count_but_not_the_key() {
    let fake = fake().await;
    insert(&fake, event_json("evt_a", "vis_a", 1));
    let shown = format!("{fake:?}");
    assert!(shown.contains(&fake.url()), "{shown}");
    assert!(shown.contains("events: 1"), "{shown}");
    assert!(!shown.contains(&fake.api_key()), "{shown}");
}

#[tokio::test]
async fn paging_goes_on_after_the_event_a_key_points_at_is_deleted() {
    let fake = fake().await;
    // Newest first: x0 (vis_x), y1, x2 (vis_x), y3, y4.
    insert(&fake, event_json("x0", "vis_x", 1));
    insert(&fake, event_json("y1", "vis_y", 2));
    insert(&fake, event_json("x2", "vis_x", 3));
    insert(&fake, event_json("y3", "vis_y", 4));
    insert(&fake, event_json("y4", "vis_y", 5));
    let client = fake.client();

    let mut stream = client.search_events().limit(3).into_stream();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(stream.next().await.unwrap().expect("page 1").event_id);
    }
    assert_eq!(got, ["x0", "y1", "x2"]);
    // The consumer acts on what it read: x2, the event the next key was
    // taken from, is deleted before page 2 is asked for.
    client
        .delete_visitor_data()
        .visitor_id("vis_x")
        .send()
        .await
        .expect("deleted");
    while let Some(event) = stream.next().await {
        got.push(event.expect("page 2 still follows the key").event_id);
    }
    assert_eq!(got, ["x0", "y1", "x2", "y3", "y4"]);
}

#[tokio::test]
async fn paging_goes_on_after_the_keyed_event_is_updated_out_of_the_filter() {
    let fake = fake().await;
    let all: Vec<String> = (0..5)
        .map(|i| {
            let id = format!("p{i:03}");
            let mut event = event_json(&id, "vis_p", 1 + i);
            event["suspect"] = json!(false);
            insert(&fake, event);
            id
        })
        .collect();
    let client = fake.client();

    let mut stream = client.search_events().suspect(false).limit(2).into_stream();
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(stream.next().await.unwrap().expect("page 1").event_id);
    }
    // The last event of page 1 no longer matches `suspect=false`.
    client
        .update_event()
        .event_id(&all[1])
        .body(types::EventUpdate {
            suspect: Some(true),
            ..Default::default()
        })
        .send()
        .await
        .expect("updated");
    while let Some(event) = stream.next().await {
        got.push(event.expect("the next pages").event_id);
    }
    assert_eq!(got, all);
}

#[tokio::test]
async fn a_well_formed_key_past_every_event_gives_an_empty_last_page() {
    let fake = fake().await;
    paging_fixture(&fake, 3);
    let page = fake
        .client()
        .search_events()
        .pagination_key("1~a")
        .send()
        .await
        .expect("a page")
        .into_inner();
    assert!(page.events.is_empty());
    assert_eq!(page.pagination_key, None);
}

#[tokio::test]
async fn json_stream_keeps_unknown_fields_across_pages() {
    let fake = FakeApi::start().await.expect("fake starts");
    let now = fingerprint_server_sdk::mock::now_ms();
    let events: Vec<serde_json::Value> = (0..5)
        .map(|i| {
            serde_json::json!({
                "event_id": format!("evt_json_{i}"),
                "timestamp": now - 1_000 * (i + 1),
                "identification": {"visitor_id": "vis_json", "visitor_found": true,
                                   "confidence": {"score": 0.5}, "added_later": i},
                "brand_new_signal": {"result": i % 2 == 0}
            })
        })
        .collect();
    assert_eq!(fake.insert_many(events.clone()).expect("inserted"), 5);
    let client = fake.client();
    let mut stream = client
        .search_events()
        .visitor_id("vis_json")
        .limit(2)
        .into_json_stream();
    let mut got = Vec::new();
    while let Some(event) = stream.next().await {
        got.push(event.expect("event"));
    }
    assert_eq!(got, events, "newest first, every field kept");
    assert_eq!(stream.pages_received(), 3);
}

#[tokio::test]
async fn insert_many_stores_nothing_when_one_is_not_an_event() {
    let fake = FakeApi::start().await.expect("fake starts");
    let now = fingerprint_server_sdk::mock::now_ms();
    let result = fake.insert_many([
        serde_json::json!({"event_id": "ok_1", "timestamp": now}),
        serde_json::json!({"not": "an event"}),
    ]);
    assert!(result.is_err());
    assert_eq!(fake.len(), 0);
}

#[tokio::test]
async fn api_fault_serves_any_error_code() {
    let fake = FakeApi::start().await.expect("fake starts");
    fake.fail_next(
        1,
        Fault::Api {
            status: 403,
            code: "wrong_region".into(),
            message: "wrong region".into(),
        },
    );
    let err = fake.client().search_events().send().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
    assert_eq!(err.code().map(|c| c.as_str()), Some("wrong_region"));
    assert!(err.hint().is_some());
}

// ---- filters through the typed builder --------------------------------------

#[tokio::test]
async fn a_bad_bot_behind_a_vpn_in_a_time_window_finds_only_that_event() {
    let fake = fake().await;
    let now = mock::now_ms();
    let mut bad_vpn = mock::event("bad_vpn", "vis_1");
    bad_vpn.timestamp = now - 60_000;
    bad_vpn.bot = Some(types::BotResult::Bad);
    bad_vpn.vpn = Some(true);
    let mut bad_direct = mock::event("bad_direct", "vis_1");
    bad_direct.timestamp = now - 120_000;
    bad_direct.bot = Some(types::BotResult::Bad);
    bad_direct.vpn = Some(false);
    let mut bad_unknown_vpn = mock::event("bad_unknown_vpn", "vis_1");
    bad_unknown_vpn.timestamp = now - 180_000;
    bad_unknown_vpn.bot = Some(types::BotResult::Bad);
    let mut old_bad_vpn = mock::event("old_bad_vpn", "vis_1");
    old_bad_vpn.timestamp = now - 2 * DAY_MS;
    old_bad_vpn.bot = Some(types::BotResult::Bad);
    old_bad_vpn.vpn = Some(true);
    for event in [&bad_vpn, &bad_direct, &bad_unknown_vpn, &old_bad_vpn] {
        fake.insert(event).expect("stored");
    }

    let found = search_ids(
        fake.client()
            .search_events()
            .bot(SearchEventsBot::Bad)
            .vpn(true)
            .start(now - DAY_MS)
            .end(now),
    )
    .await;
    assert_eq!(found, ["bad_vpn"]);
}

#[tokio::test]
async fn ip_address_environment_and_score_filters_reach_the_fake() {
    let fake = fake().await;
    let mut a = mock::event("a", "vis_1");
    a.ip_address = Some("203.0.113.9".into());
    a.environment_id = Some("env_prod".into());
    a.suspect_score = Some(20);
    let mut b = mock::event("b", "vis_1");
    b.timestamp -= 1000;
    b.ip_address = Some("2001:db8::9".into());
    b.environment_id = Some("env_test".into());
    b.suspect_score = Some(3);
    fake.insert(&a).expect("stored");
    fake.insert(&b).expect("stored");
    let client = fake.client();

    assert_eq!(
        search_ids(client.search_events().ip_address("203.0.113.0/24")).await,
        ["a"]
    );
    assert_eq!(
        search_ids(client.search_events().ip_address("2001:db8::/64")).await,
        ["b"]
    );
    assert_eq!(
        search_ids(
            client
                .search_events()
                .environment(vec!["env_test".to_string(), "env_prod".to_string()])
        )
        .await,
        ["a", "b"]
    );
    assert_eq!(
        search_ids(client.search_events().min_suspect_score(10.0)).await,
        ["a"]
    );
    let err = single_attempt(&fake)
        .search_events()
        .ip_address("203.0.113.0/40")
        .send()
        .await
        .expect_err("not a range");
    assert_eq!(err.code(), Some(&ErrorCode::RequestCannotBeParsed));
}

#[tokio::test]
async fn edge_events_are_found_only_with_source_edge() {
    let fake = fake().await;
    let mut edge = mock::event("edge_1", "vis_1");
    edge.source = Some(types::EventSource::Edge);
    fake.insert(&edge).expect("stored");
    fake.insert(&mock::event("device_1", "vis_1"))
        .expect("stored");
    let client = fake.client();

    assert_eq!(search_ids(client.search_events()).await, ["device_1"]);
    assert_eq!(
        search_ids(
            client
                .search_events()
                .source(vec![types::SearchEventsSourceItem::Edge])
        )
        .await,
        ["edge_1"]
    );
}

#[tokio::test]
async fn a_query_parameter_the_document_does_not_have_is_a_400_naming_it() {
    let fake = fake().await;
    insert(&fake, event_json("e1", "vis_a", 1));
    let http = reqwest::Client::new();
    for (path, name) in [
        ("/events?vpn_detected=true", "vpn_detected"),
        ("/events/e1?rulesetid=rs_1", "rulesetid"),
        ("/events?environment%5B%5D=env_a", "environment[]"),
    ] {
        let response = http
            .get(format!("{}{path}", fake.url()))
            .bearer_auth(fake.api_key())
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status().as_u16(), 400, "{path}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["error"]["code"], "request_cannot_be_parsed", "{path}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("`{name}`")), "{path}: {message}");
    }
}

// ---- rulesets -----------------------------------------------------------------

fn checkout_rules() -> mock::Ruleset {
    mock::Ruleset::new("rs_checkout")
        .rule(
            mock::Rule::when(
                "bot=bad",
                mock::RuleAction::block(403, r#"{"title":"Forbidden"}"#),
            )
            .expect("a valid condition")
            .with_id("r_bots"),
        )
        .rule(mock::Rule::when_event(
            "trusted partner",
            |e| e.linked_id.as_deref() == Some("partner"),
            mock::RuleAction::allow().with_header("x-partner", "1"),
        ))
}

#[tokio::test]
async fn get_event_with_a_ruleset_returns_the_matching_rules_action() {
    let fake = fake().await;
    fake.add_ruleset(checkout_rules());
    let mut bot = event_json("evt_bot", "vis_a", 1);
    bot["bot"] = json!("bad");
    insert(&fake, bot);
    let client = fake.client();

    let event = client
        .get_event()
        .event_id("evt_bot")
        .ruleset_id("rs_checkout")
        .send()
        .await
        .expect("found")
        .into_inner();
    let Some(types::EventRuleAction::Variant1 {
        ruleset_id,
        rule_id,
        rule_expression,
        status_code,
        body,
        ..
    }) = event.rule_action
    else {
        panic!("a block action: {:?}", event.rule_action);
    };
    assert_eq!(ruleset_id, "rs_checkout");
    assert_eq!(rule_id.as_deref(), Some("r_bots"));
    assert_eq!(rule_expression.as_deref(), Some("bot=bad"));
    assert_eq!(status_code, Some(403));
    assert_eq!(body.as_deref(), Some(r#"{"title":"Forbidden"}"#));

    // Without `ruleset_id` the event has no action.
    let plain = client
        .get_event()
        .event_id("evt_bot")
        .send()
        .await
        .expect("found")
        .into_inner();
    assert!(plain.rule_action.is_none());
}

#[tokio::test]
async fn a_closure_rule_and_the_default_allow() {
    let fake = fake().await;
    fake.add_ruleset(checkout_rules());
    let mut partner = event_json("evt_partner", "vis_a", 1);
    partner["linked_id"] = json!("partner");
    insert(&fake, partner);
    insert(&fake, event_json("evt_plain", "vis_a", 2));
    let client = fake.client();

    let raw = client
        .get_event()
        .event_id("evt_partner")
        .ruleset_id("rs_checkout")
        .send_json()
        .await
        .expect("found")
        .into_inner();
    assert_eq!(
        raw["rule_action"],
        json!({"type": "allow", "ruleset_id": "rs_checkout", "rule_id": "r_2",
               "rule_expression": "trusted partner",
               "request_header_modifications": {"set": [{"name": "x-partner", "value": "1"}]}})
    );
    let raw = client
        .get_event()
        .event_id("evt_plain")
        .ruleset_id("rs_checkout")
        .send_json()
        .await
        .expect("found")
        .into_inner();
    assert_eq!(
        raw["rule_action"],
        json!({"type": "allow", "ruleset_id": "rs_checkout"})
    );
}

#[tokio::test]
async fn an_unknown_ruleset_is_400_ruleset_not_found_before_the_event_is_looked_up() {
    let fake = fake().await;
    fake.add_ruleset(checkout_rules());
    insert(&fake, event_json("evt_a", "vis_a", 1));
    let client = single_attempt(&fake);
    for event_id in ["evt_a", "evt_missing"] {
        let err = client
            .get_event()
            .event_id(event_id)
            .ruleset_id("rs_other")
            .send()
            .await
            .expect_err("unknown ruleset");
        assert_eq!(status(&err), Some(400), "{event_id}");
        assert_eq!(err.code(), Some(&ErrorCode::RulesetNotFound), "{event_id}");
        assert_eq!(err.attempts(), 1);
    }
}

#[tokio::test]
async fn adding_a_ruleset_with_the_same_id_replaces_it() {
    let fake = fake().await;
    fake.add_ruleset(checkout_rules());
    fake.add_ruleset(
        mock::Ruleset::new("rs_checkout").otherwise(mock::RuleAction::block(451, "closed")),
    );
    insert(&fake, event_json("evt_a", "vis_a", 1));
    let raw = fake
        .client()
        .get_event()
        .event_id("evt_a")
        .ruleset_id("rs_checkout")
        .send_json()
        .await
        .expect("found")
        .into_inner();
    assert_eq!(raw["rule_action"]["status_code"], 451);
}

// ---- the journal ------------------------------------------------------------------

#[tokio::test]
async fn the_journal_records_what_the_client_sent_without_the_key() {
    let fake = fake().await;
    insert(&fake, event_json("evt/1", "vis_a", 1));
    let client = fake.client();
    client
        .search_events()
        .visitor_id("vis_a")
        .environment(vec!["env b".to_string(), "env_a".to_string()])
        .limit(5)
        .send()
        .await
        .expect("found");
    client
        .update_event()
        .event_id("evt/1")
        .body(types::EventUpdate {
            linked_id: Some("order-1".into()),
            ..Default::default()
        })
        .send()
        .await
        .expect("updated");

    let journal = fake.journal();
    assert_eq!(journal.len(), 2);
    let search = &journal[0];
    assert_eq!(search.method, "GET");
    assert_eq!(search.path, "/v4/events");
    assert_eq!(search.operation, Some(mock::Operation::SearchEvents));
    assert_eq!(search.status, Some(200));
    let sent: Vec<(&str, &str)> = search
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(k, _)| *k != "ii")
        .collect();
    assert_eq!(
        sent,
        [
            ("environment", "env b"),
            ("environment", "env_a"),
            ("limit", "5"),
            ("visitor_id", "vis_a")
        ],
        "decoded, repeated keys kept in order"
    );
    assert_eq!(search.query_values("environment"), ["env b", "env_a"]);
    assert_eq!(
        search.query_value("ii"),
        Some(fingerprint_server_sdk::SDK_IDENTIFIER)
    );
    assert_eq!(search.header("authorization"), Some("Bearer [redacted]"));
    assert_eq!(
        search.header("User-Agent"),
        Some(fingerprint_server_sdk::SDK_IDENTIFIER)
    );
    assert!(search.body.is_empty());

    let update = &journal[1];
    assert_eq!(update.method, "PATCH");
    assert_eq!(update.path, "/v4/events/evt%2F1", "the path as sent");
    assert_eq!(update.operation, Some(mock::Operation::UpdateEvent));
    assert_eq!(update.body_json(), Some(json!({"linked_id": "order-1"})));
    assert_eq!(update.header("content-type"), Some("application/json"));

    let shown = format!("{journal:?}");
    assert!(!shown.contains(&fake.api_key()), "{shown}");

    fake.clear_journal();
    assert!(fake.journal().is_empty());
    assert_eq!(fake.requests(), 2, "the count stays");
}

#[tokio::test]
async fn the_journal_keeps_refused_requests_too() {
    let fake = fake().await;
    let http = reqwest::Client::new();
    http.get(format!("{}/nowhere", fake.url()))
        .bearer_auth(fake.api_key())
        .send()
        .await
        .expect("a response");
    http.get(format!("{}/events", fake.url()))
        .bearer_auth("wrong-key")
        .send()
        .await
        .expect("a response");
    let journal = fake.journal();
    assert_eq!(journal.len(), 2);
    assert_eq!((journal[0].operation, journal[0].status), (None, Some(404)));
    assert_eq!(
        (journal[1].operation, journal[1].status),
        (Some(mock::Operation::SearchEvents), Some(403))
    );
    assert_eq!(
        journal[1].header("authorization"),
        Some("Bearer [redacted]")
    );
}

// ---- typed events -------------------------------------------------------------------

#[tokio::test]
async fn mock_event_is_a_recent_event_of_its_visitor() {
    let fake = fake().await;
    let event = mock::event("evt_made", "vis_made");
    assert!(event.timestamp <= mock::now_ms());
    fake.insert(&event).expect("stored");
    let found = search_ids(fake.client().search_events().visitor_id("vis_made")).await;
    assert_eq!(found, ["evt_made"]);
    // No signal is set, so signal filters leave it out.
    assert!(
        search_ids(fake.client().search_events().vpn(false))
            .await
            .is_empty()
    );
}
