//! Search as a stream against a local mock whose pages are told apart by
//! their `pagination_key`, so the requests made for each page can be counted:
//! key following, laziness (one page at a time), early stops, errors, retries
//! and the filters carried from page to page.

use std::time::Duration;

use fingerprint_server_sdk::{Client, RetryPolicy, types};
use futures_util::StreamExt;
use httpmock::Mock;
use httpmock::prelude::*;
use serde_json::{Value, json};

const KEY: &str = "sk_test_stream";
const VISITOR: &str = "vis_stream_0001";
const LIMIT: &str = "2";

fn client_with(server: &MockServer, retry: RetryPolicy) -> Client {
    Client::builder(KEY)
        .base_url(server.url("/v4"))
        .retry(retry)
        .build()
        .expect("client builds")
}

/// A client that makes exactly one attempt per request.
fn client(server: &MockServer) -> Client {
    client_with(server, RetryPolicy::disabled())
}

fn event(id: &str) -> Value {
    json!({
        "event_id": id,
        "timestamp": 1_708_102_555_327_i64,
        "identification": {"visitor_id": VISITOR, "visitor_found": true},
        "bot": "not_detected"
    })
}

fn page_body(ids: &[&str], next: Option<&str>) -> Value {
    let mut body = json!({ "events": ids.iter().map(|id| event(id)).collect::<Vec<_>>() });
    if let Some(next) = next {
        body["pagination_key"] = json!(next);
    }
    body
}

/// Which page a request asks for: the first one (no `pagination_key`) or
/// the one after `key`.
#[derive(Clone, Copy)]
enum Page<'a> {
    First,
    After(&'a str),
}

/// A search page that only answers when the request carries the visitor,
/// the limit and the page's key (plus `extra` pairs): a request that lost a
/// filter on the way matches nothing and falls through to [`unexpected`].
async fn page_mock<'s>(
    server: &'s MockServer,
    page: Page<'_>,
    extra: &[(&str, &str)],
    status: u16,
    body: Value,
) -> Mock<'s> {
    let page = match page {
        Page::First => None,
        Page::After(key) => Some(key.to_owned()),
    };
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    server
        .mock_async(move |when, then| {
            let when = when
                .method(GET)
                .path("/v4/events")
                .header("authorization", format!("Bearer {KEY}"))
                .query_param("visitor_id", VISITOR)
                .query_param("limit", LIMIT);
            let when = match page {
                None => when.query_param_missing("pagination_key"),
                Some(key) => when.query_param("pagination_key", key),
            };
            extra
                .into_iter()
                .fold(when, |when, (k, v)| when.query_param(k, v));
            then.status(status)
                .header("content-type", "application/json")
                .json_body(body);
        })
        .await
}

/// Catches every request no page mock matched; tests assert it saw none.
/// Mocks are matched in the order they were created, so this one must be
/// created last.
async fn unexpected(server: &MockServer) -> Mock<'_> {
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(500).body("unexpected request");
        })
        .await
}

/// The three pages of a 5-event search: `e1 e2` → `k2` → `e3 e4` → `k3` → `e5`.
struct ThreePages<'s> {
    first: Mock<'s>,
    second: Mock<'s>,
    third: Mock<'s>,
    unexpected: Mock<'s>,
}

impl ThreePages<'_> {
    async fn calls(&self) -> [usize; 4] {
        [
            self.first.calls_async().await,
            self.second.calls_async().await,
            self.third.calls_async().await,
            self.unexpected.calls_async().await,
        ]
    }
}

async fn three_pages<'s>(server: &'s MockServer, extra: &[(&str, &str)]) -> ThreePages<'s> {
    let first = page_mock(
        server,
        Page::First,
        extra,
        200,
        page_body(&["e1", "e2"], Some("k2")),
    )
    .await;
    let second = page_mock(
        server,
        Page::After("k2"),
        extra,
        200,
        page_body(&["e3", "e4"], Some("k3")),
    )
    .await;
    let third = page_mock(
        server,
        Page::After("k3"),
        extra,
        200,
        page_body(&["e5"], None),
    )
    .await;
    ThreePages {
        first,
        second,
        third,
        unexpected: unexpected(server).await,
    }
}

fn search(client: &Client) -> fingerprint_server_sdk::builder::SearchEvents<'_> {
    client.search_events().visitor_id(VISITOR).limit(2)
}

fn ids(events: &[types::Event]) -> Vec<&str> {
    events.iter().map(|e| e.event_id.as_str()).collect()
}

#[tokio::test]
async fn into_stream_follows_the_keys_across_three_pages_in_order() {
    let server = MockServer::start_async().await;
    let pages = three_pages(&server, &[]).await;
    let client = client(&server);

    let mut stream = search(&client).into_stream();
    let mut got = Vec::new();
    while let Some(event) = stream.next().await {
        got.push(event.expect("every page succeeds"));
    }

    assert_eq!(ids(&got), ["e1", "e2", "e3", "e4", "e5"]);
    assert_eq!(pages.calls().await, [1, 1, 1, 0], "one request per page");
    assert_eq!(stream.pages_received(), 3);
    assert!(stream.next().await.is_none(), "an ended stream stays ended");
    assert_eq!(pages.calls().await, [1, 1, 1, 0]);
}

#[tokio::test]
async fn the_next_page_is_requested_only_once_the_current_one_is_consumed() {
    let server = MockServer::start_async().await;
    let pages = three_pages(&server, &[]).await;
    let client = client(&server);
    let mut stream = search(&client).into_stream();

    let e1 = stream.next().await.expect("an item").expect("an event");
    assert_eq!(e1.event_id, "e1");
    assert_eq!(pages.calls().await, [1, 0, 0, 0], "after the first item");

    let e2 = stream.next().await.expect("an item").expect("an event");
    assert_eq!(e2.event_id, "e2");
    assert_eq!(
        pages.calls().await,
        [1, 0, 0, 0],
        "the last buffered item does not trigger the next request"
    );

    let e3 = stream.next().await.expect("an item").expect("an event");
    assert_eq!(e3.event_id, "e3");
    assert_eq!(
        pages.calls().await,
        [1, 1, 0, 0],
        "page 2 once page 1 ran out"
    );
    assert_eq!(stream.pages_received(), 2);
}

#[tokio::test]
async fn max_events_of_one_page_stops_without_requesting_page_two() {
    let server = MockServer::start_async().await;
    let pages = three_pages(&server, &[]).await;
    let client = client(&server);

    let mut stream = search(&client).into_stream().max_events(2);
    let mut got = Vec::new();
    while let Some(event) = stream.next().await {
        got.push(event.expect("an event"));
    }

    assert_eq!(ids(&got), ["e1", "e2"]);
    assert!(stream.next().await.is_none());
    assert_eq!(pages.calls().await, [1, 0, 0, 0]);
}

#[tokio::test]
async fn max_events_inside_page_two_never_requests_page_three() {
    let server = MockServer::start_async().await;
    let pages = three_pages(&server, &[]).await;
    let client = client(&server);

    let mut stream = search(&client).into_stream().max_events(3);
    let mut got = Vec::new();
    while let Some(event) = stream.next().await {
        got.push(event.expect("an event"));
    }

    assert_eq!(ids(&got), ["e1", "e2", "e3"]);
    assert_eq!(pages.calls().await, [1, 1, 0, 0]);
}

#[tokio::test]
async fn max_events_zero_sends_no_request_at_all() {
    let server = MockServer::start_async().await;
    let pages = three_pages(&server, &[]).await;
    let client = client(&server);

    let mut stream = search(&client).into_stream().max_events(0);
    assert!(stream.next().await.is_none());
    assert_eq!(pages.calls().await, [0, 0, 0, 0]);
}

#[tokio::test]
async fn max_events_larger_than_the_result_ends_after_the_last_page() {
    let server = MockServer::start_async().await;
    let pages = three_pages(&server, &[]).await;
    let client = client(&server);

    let mut stream = search(&client).into_stream().max_events(1_000);
    let mut count = 0;
    while let Some(event) = stream.next().await {
        event.expect("an event");
        count += 1;
    }
    assert_eq!(count, 5);
    assert_eq!(pages.calls().await, [1, 1, 1, 0]);
}

#[tokio::test]
async fn stream_ext_take_stops_early_without_further_requests() {
    let server = MockServer::start_async().await;
    let pages = three_pages(&server, &[]).await;
    let client = client(&server);

    let got: Vec<types::Event> = search(&client)
        .into_stream()
        .take(3)
        .map(|item| item.expect("an event"))
        .collect()
        .await;

    assert_eq!(ids(&got), ["e1", "e2", "e3"]);
    assert_eq!(pages.calls().await, [1, 1, 0, 0]);
}

#[tokio::test]
async fn stream_ext_collects_every_event_of_every_page() {
    let server = MockServer::start_async().await;
    let pages = three_pages(&server, &[]).await;
    let client = client(&server);

    let got: Vec<Result<types::Event, _>> = search(&client).into_stream().collect().await;
    let got: Vec<types::Event> = got
        .into_iter()
        .map(|item| item.expect("an event"))
        .collect();

    assert_eq!(ids(&got), ["e1", "e2", "e3", "e4", "e5"]);
    assert_eq!(pages.calls().await, [1, 1, 1, 0]);
}

#[tokio::test]
async fn an_error_on_page_two_is_yielded_once_and_ends_the_stream() {
    let server = MockServer::start_async().await;
    let first = page_mock(
        &server,
        Page::First,
        &[],
        200,
        page_body(&["e1", "e2"], Some("k2")),
    )
    .await;
    let second = page_mock(
        &server,
        Page::After("k2"),
        &[],
        400,
        json!({"error": {"code": "request_cannot_be_parsed", "message": "pagination_key is invalid"}}),
    )
    .await;
    // A stream that went on after the error would hit `unexpected`.
    let unexpected = unexpected(&server).await;
    let client = client(&server);

    let mut stream = search(&client).into_stream();
    assert_eq!(stream.next().await.unwrap().unwrap().event_id, "e1");
    assert_eq!(stream.next().await.unwrap().unwrap().event_id, "e2");
    let err = stream
        .next()
        .await
        .expect("the error is an item")
        .expect_err("page 2 fails");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(err.code(), Some(&types::ErrorCode::RequestCannotBeParsed));
    assert_eq!(err.attempts(), 1);

    assert!(stream.next().await.is_none(), "nothing after the error");
    assert!(stream.next().await.is_none(), "and nothing later either");
    assert_eq!(first.calls_async().await, 1);
    assert_eq!(
        second.calls_async().await,
        1,
        "the failed page is not retried by the stream"
    );
    assert_eq!(unexpected.calls_async().await, 0);
    assert_eq!(stream.pages_received(), 1);
}

#[tokio::test]
async fn an_error_on_the_first_page_is_the_only_item() {
    let server = MockServer::start_async().await;
    let first = page_mock(
        &server,
        Page::First,
        &[],
        403,
        json!({"error": {"code": "secret_api_key_not_found", "message": "no such key"}}),
    )
    .await;
    let unexpected = unexpected(&server).await;
    let client = client(&server);

    let items: Vec<_> = search(&client).into_stream().collect().await;
    assert_eq!(items.len(), 1);
    let err = items.into_iter().next().unwrap().expect_err("an error");
    assert_eq!(err.code(), Some(&types::ErrorCode::SecretApiKeyNotFound));
    assert_eq!(first.calls_async().await, 1);
    assert_eq!(unexpected.calls_async().await, 0);
}

#[tokio::test]
async fn each_page_request_goes_through_the_retry_policy() {
    let server = MockServer::start_async().await;
    let first = page_mock(
        &server,
        Page::First,
        &[],
        200,
        page_body(&["e1", "e2"], Some("k2")),
    )
    .await;
    // Page 2 answers 503 once, then the mock created after it takes over.
    let unavailable = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v4/events")
                .query_param("pagination_key", "k2");
            then.status(503)
                .header("content-type", "application/json")
                .json_body(
                    json!({"error": {"code": "service_unavailable", "message": "try again"}}),
                )
                .up_to_n_times(1);
        })
        .await;
    let second = page_mock(
        &server,
        Page::After("k2"),
        &[],
        200,
        page_body(&["e3", "e4"], Some("k3")),
    )
    .await;
    let third = page_mock(
        &server,
        Page::After("k3"),
        &[],
        200,
        page_body(&["e5"], None),
    )
    .await;
    let unexpected = unexpected(&server).await;
    let client = client_with(
        &server,
        RetryPolicy::standard().with_initial_backoff(Duration::from_millis(1)),
    );

    let got: Vec<types::Event> = search(&client)
        .into_stream()
        .map(|item| item.expect("the retry hides the 503"))
        .collect()
        .await;

    assert_eq!(ids(&got), ["e1", "e2", "e3", "e4", "e5"]);
    assert_eq!(first.calls_async().await, 1);
    assert_eq!(unavailable.calls_async().await, 1);
    assert_eq!(second.calls_async().await, 1);
    assert_eq!(third.calls_async().await, 1);
    assert_eq!(unexpected.calls_async().await, 0);
}

#[tokio::test]
async fn an_empty_result_ends_the_stream_after_one_request() {
    let server = MockServer::start_async().await;
    let only = page_mock(&server, Page::First, &[], 200, json!({"events": []})).await;
    let unexpected = unexpected(&server).await;
    let client = client(&server);

    let mut stream = search(&client).into_stream();
    assert!(stream.next().await.is_none());
    assert!(stream.next().await.is_none());
    assert_eq!(stream.pages_received(), 1);
    assert_eq!(only.calls_async().await, 1);
    assert_eq!(unexpected.calls_async().await, 0);
}

#[tokio::test]
async fn an_empty_page_that_carries_a_key_is_skipped_over() {
    let server = MockServer::start_async().await;
    let first = page_mock(&server, Page::First, &[], 200, page_body(&[], Some("k2"))).await;
    let second = page_mock(
        &server,
        Page::After("k2"),
        &[],
        200,
        page_body(&["e3"], None),
    )
    .await;
    let unexpected = unexpected(&server).await;
    let client = client(&server);

    let mut stream = search(&client).into_stream();
    assert_eq!(stream.next().await.unwrap().unwrap().event_id, "e3");
    assert!(stream.next().await.is_none());
    assert_eq!(first.calls_async().await, 1);
    assert_eq!(second.calls_async().await, 1);
    assert_eq!(unexpected.calls_async().await, 0);
}

#[tokio::test]
async fn an_empty_pagination_key_is_read_as_the_last_page() {
    let server = MockServer::start_async().await;
    let first = page_mock(&server, Page::First, &[], 200, page_body(&["e1"], Some(""))).await;
    let unexpected = unexpected(&server).await;
    let client = client(&server);

    let got: Vec<_> = search(&client).into_stream().collect().await;
    assert_eq!(got.len(), 1);
    assert_eq!(first.calls_async().await, 1);
    assert_eq!(
        unexpected.calls_async().await,
        0,
        "the first page must not be asked for again"
    );
}

#[tokio::test]
async fn reverse_and_the_other_filters_are_sent_with_every_page() {
    let server = MockServer::start_async().await;
    // Every page mock also requires `reverse=true` and `suspect=false`: a
    // page request that dropped one falls through to `unexpected`.
    let pages = three_pages(&server, &[("reverse", "true"), ("suspect", "false")]).await;
    let client = client(&server);

    let mut stream = search(&client).reverse(true).suspect(false).into_stream();
    let mut got = Vec::new();
    while let Some(event) = stream.next().await {
        got.push(event.expect("every page matches its mock"));
    }

    assert_eq!(ids(&got), ["e1", "e2", "e3", "e4", "e5"]);
    assert_eq!(pages.calls().await, [1, 1, 1, 0]);
}

#[tokio::test]
async fn a_search_without_reverse_does_not_send_it() {
    let server = MockServer::start_async().await;
    let only = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v4/events")
                .query_param_missing("reverse");
            then.status(200).json_body(page_body(&["e1"], None));
        })
        .await;
    let unexpected = unexpected(&server).await;
    let client = client(&server);

    let got: Vec<_> = search(&client).into_stream().collect().await;
    assert_eq!(got.len(), 1);
    assert_eq!(only.calls_async().await, 1);
    assert_eq!(unexpected.calls_async().await, 0);
}

#[tokio::test]
async fn a_pagination_key_set_on_the_builder_is_where_the_stream_starts() {
    let server = MockServer::start_async().await;
    let pages = three_pages(&server, &[]).await;
    let client = client(&server);

    let got: Vec<types::Event> = search(&client)
        .pagination_key("k2")
        .into_stream()
        .map(|item| item.expect("an event"))
        .collect()
        .await;

    assert_eq!(ids(&got), ["e3", "e4", "e5"]);
    assert_eq!(pages.calls().await, [0, 1, 1, 0]);
}

#[tokio::test]
async fn into_page_stream_yields_whole_pages_one_request_at_a_time() {
    let server = MockServer::start_async().await;
    let pages = three_pages(&server, &[]).await;
    let client = client(&server);

    let mut stream = search(&client).into_page_stream();
    let page1: types::EventSearch = stream.next().await.unwrap().unwrap();
    assert_eq!(ids(&page1.events), ["e1", "e2"]);
    assert_eq!(page1.pagination_key.as_deref(), Some("k2"));
    assert_eq!(pages.calls().await, [1, 0, 0, 0]);

    let page2 = stream.next().await.unwrap().unwrap();
    assert_eq!(ids(&page2.events), ["e3", "e4"]);
    assert_eq!(page2.pagination_key.as_deref(), Some("k3"));

    let page3 = stream.next().await.unwrap().unwrap();
    assert_eq!(ids(&page3.events), ["e5"]);
    assert_eq!(page3.pagination_key, None);

    assert!(stream.next().await.is_none());
    assert_eq!(stream.pages_received(), 3);
    assert_eq!(pages.calls().await, [1, 1, 1, 0]);
}

#[tokio::test]
async fn into_page_stream_works_with_stream_ext() {
    let server = MockServer::start_async().await;
    let pages = three_pages(&server, &[]).await;
    let client = client(&server);

    let sizes: Vec<usize> = search(&client)
        .into_page_stream()
        .map(|page| page.expect("a page").events.len())
        .collect()
        .await;
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(pages.calls().await, [1, 1, 1, 0]);
}

#[tokio::test]
async fn an_event_stream_can_be_moved_into_a_spawned_task() {
    let server = MockServer::start_async().await;
    let pages = three_pages(&server, &[]).await;
    let client = client(&server);

    // `tokio::spawn` needs a `Send` future: the stream held across `.await`
    // must be `Send` for this to compile.
    let task = tokio::spawn(async move {
        let mut stream = search(&client).into_stream();
        let mut ids = Vec::new();
        while let Some(event) = stream.next().await {
            ids.push(event.expect("an event").event_id);
        }
        ids
    });
    let got = task.await.expect("the task ends");
    assert_eq!(got, ["e1", "e2", "e3", "e4", "e5"]);
    assert_eq!(pages.calls().await, [1, 1, 1, 0]);
}

#[tokio::test]
async fn debug_output_of_a_stream_shows_its_progress() {
    let server = MockServer::start_async().await;
    let _pages = three_pages(&server, &[]).await;
    let client = client(&server);

    let mut stream = search(&client).into_stream().max_events(4);
    assert_eq!(stream.next().await.unwrap().unwrap().event_id, "e1");
    let shown = format!("{stream:?}");
    assert!(shown.contains("pages: 1"), "{shown}");
    assert!(shown.contains("buffered: 1"), "{shown}");
    assert!(shown.contains("remaining: Some(3)"), "{shown}");
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn a_next_call_abandoned_mid_request_resumes_the_same_request() {
    let server = MockServer::start_async().await;
    let slow = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/v4/events")
                .query_param_missing("pagination_key");
            then.status(200)
                .delay(Duration::from_millis(300))
                .json_body(page_body(&["e1"], None));
        })
        .await;
    let unexpected = unexpected(&server).await;
    let client = client(&server);
    let mut stream = search(&client).into_stream();

    // Give up on the first `next()` while the page is still on its way, as
    // a `select!` or a timeout would.
    let abandoned = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
    assert!(abandoned.is_err(), "the page cannot have arrived yet");

    // The request in flight is kept, not lost nor sent again.
    let event = stream.next().await.expect("an item").expect("an event");
    assert_eq!(event.event_id, "e1");
    assert!(stream.next().await.is_none());
    assert_eq!(slow.calls_async().await, 1);
    assert_eq!(unexpected.calls_async().await, 0);
}
