//! Search as a stream against the fake API, whose journal tells which page
//! each request asked for (by its `pagination_key`), so the requests made for
//! each page can be counted: key following, laziness (one page at a time),
//! early stops, errors, retries and the filters carried from page to page.

use std::net::SocketAddr;
use std::time::Duration;

use fingerprint_server_sdk::mock::{self, FakeApi, Fault, Operation, RecordedRequest};
use fingerprint_server_sdk::{Client, RetryPolicy, types};
use futures_util::StreamExt;
use serde_json::{Value, json};

const KEY: &str = "sk_test_stream";
const VISITOR: &str = "vis_stream_0001";
const LIMIT: &str = "2";

async fn fake() -> FakeApi {
    FakeApi::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), KEY)
        .await
        .expect("the fake starts")
}

fn client_with(fake: &FakeApi, retry: RetryPolicy) -> Client {
    Client::builder(KEY)
        .base_url(fake.url())
        .retry(retry)
        .build()
        .expect("client builds")
}

/// A client that makes exactly one attempt per request.
fn client(fake: &FakeApi) -> Client {
    client_with(fake, RetryPolicy::disabled())
}

/// An event of the visitor, `minutes` old.
fn event(id: &str, minutes: i64) -> Value {
    json!({
        "event_id": id,
        "timestamp": mock::now_ms() - minutes * 60_000,
        "identification": {"visitor_id": VISITOR, "visitor_found": true},
        "bot": "not_detected",
        "suspect": false
    })
}

/// A page as the API writes it, for the answers the fake is scripted to
/// give (a page shape its own search never produces).
fn page_body(ids: &[&str], next: Option<&str>) -> Value {
    let mut body = json!({ "events": ids.iter().map(|id| event(id, 1)).collect::<Vec<_>>() });
    if let Some(next) = next {
        body["pagination_key"] = json!(next);
    }
    body
}

/// Which page a request asked for, or `None` when it is not a search of the
/// visitor with the limit and `extra` pairs (a request that lost a filter on
/// the way).
fn page_of(request: &RecordedRequest, extra: &[(&str, &str)], keys: [&str; 2]) -> Option<usize> {
    let shaped = request.method == "GET"
        && request.path == "/v4/events"
        && request.query_value("visitor_id") == Some(VISITOR)
        && request.query_value("limit") == Some(LIMIT)
        && extra
            .iter()
            .all(|(k, v)| request.query_values(k).contains(v));
    if !shaped {
        return None;
    }
    match request.query_value("pagination_key") {
        None => Some(0),
        Some(key) if key == keys[0] => Some(1),
        Some(key) if key == keys[1] => Some(2),
        Some(_) => None,
    }
}

/// The three pages of a 5-event search: `e1 e2` → `k2` → `e3 e4` → `k3` → `e5`,
/// with the fake's own keys ([`three_pages`]) or a test's scripted ones
/// ([`ThreePages::scripted`]).
struct ThreePages<'f> {
    fake: &'f FakeApi,
    k2: String,
    k3: String,
    extra: Vec<(&'static str, &'static str)>,
}

impl<'f> ThreePages<'f> {
    /// For pages a test scripts itself: the default query, `k2` the key of
    /// page 2, no page 3.
    fn scripted(fake: &'f FakeApi, k2: &str) -> Self {
        ThreePages {
            fake,
            k2: k2.to_owned(),
            k3: String::new(),
            extra: Vec::new(),
        }
    }

    /// Requests for page 1, 2 and 3, and requests for none of them.
    fn calls(&self) -> [usize; 4] {
        let mut calls = [0; 4];
        for request in self.fake.journal() {
            match page_of(&request, &self.extra, [&self.k2, &self.k3]) {
                Some(page) => calls[page] += 1,
                None => calls[3] += 1,
            }
        }
        calls
    }
}

/// Stores `e1`..`e5` (newest first, or oldest first when `extra` asks for
/// `reverse=true`), learns the fake's keys for pages 2 and 3 of the search
/// with `extra`, then empties the journal.
async fn three_pages<'f>(
    fake: &'f FakeApi,
    extra: &[(&'static str, &'static str)],
) -> ThreePages<'f> {
    let reverse = extra.contains(&("reverse", "true"));
    for (i, id) in ["e1", "e2", "e3", "e4", "e5"].into_iter().enumerate() {
        let minutes = if reverse { 5 - i as i64 } else { 1 + i as i64 };
        fake.insert_json(event(id, minutes)).expect("stored");
    }
    let k2 = next_key(fake, extra, None).await;
    let k3 = next_key(fake, extra, Some(&k2)).await;
    fake.clear_journal();
    ThreePages {
        fake,
        k2,
        k3,
        extra: extra.to_vec(),
    }
}

/// The key the fake gives for the page after the one `key` asks for (`None`:
/// the first).
async fn next_key(fake: &FakeApi, extra: &[(&str, &str)], key: Option<&str>) -> String {
    let mut query: Vec<(&str, &str)> = vec![("visitor_id", VISITOR), ("limit", LIMIT)];
    query.extend_from_slice(extra);
    if let Some(key) = key {
        query.push(("pagination_key", key));
    }
    let page: Value = reqwest::Client::new()
        .get(format!("{}/events", fake.url()))
        .bearer_auth(KEY)
        .query(&query)
        .send()
        .await
        .expect("a page")
        .json()
        .await
        .expect("JSON");
    page["pagination_key"]
        .as_str()
        .expect("a next page")
        .to_owned()
}

fn search(client: &Client) -> fingerprint_server_sdk::builder::SearchEvents<'_> {
    client.search_events().visitor_id(VISITOR).limit(2)
}

fn ids(events: &[types::Event]) -> Vec<&str> {
    events.iter().map(|e| e.event_id.as_str()).collect()
}

#[tokio::test]
async fn into_stream_follows_the_keys_across_three_pages_in_order() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);

    let mut stream = search(&client).into_stream();
    let mut got = Vec::new();
    while let Some(event) = stream.next().await {
        got.push(event.expect("every page succeeds"));
    }

    assert_eq!(ids(&got), ["e1", "e2", "e3", "e4", "e5"]);
    assert_eq!(pages.calls(), [1, 1, 1, 0], "one request per page");
    assert_eq!(stream.pages_received(), 3);
    assert!(stream.next().await.is_none(), "an ended stream stays ended");
    assert_eq!(pages.calls(), [1, 1, 1, 0]);
}

#[tokio::test]
async fn the_next_page_is_requested_only_once_the_current_one_is_consumed() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);
    let mut stream = search(&client).into_stream();

    let e1 = stream.next().await.expect("an item").expect("an event");
    assert_eq!(e1.event_id, "e1");
    assert_eq!(pages.calls(), [1, 0, 0, 0], "after the first item");

    let e2 = stream.next().await.expect("an item").expect("an event");
    assert_eq!(e2.event_id, "e2");
    assert_eq!(
        pages.calls(),
        [1, 0, 0, 0],
        "the last buffered item does not trigger the next request"
    );

    let e3 = stream.next().await.expect("an item").expect("an event");
    assert_eq!(e3.event_id, "e3");
    assert_eq!(pages.calls(), [1, 1, 0, 0], "page 2 once page 1 ran out");
    assert_eq!(stream.pages_received(), 2);
}

#[tokio::test]
async fn each_page_request_carries_the_previous_pages_key_and_the_limit() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);
    let got: Vec<_> = search(&client).into_stream().collect().await;
    assert_eq!(got.len(), 5);

    let journal = fake.journal();
    let asked: Vec<(Option<&str>, Option<&str>)> = journal
        .iter()
        .map(|r| (r.query_value("pagination_key"), r.query_value("limit")))
        .collect();
    assert_eq!(
        asked,
        [
            (None, Some("2")),
            (Some(pages.k2.as_str()), Some("2")),
            (Some(pages.k3.as_str()), Some("2")),
        ]
    );
    for request in &journal {
        assert_eq!(request.query_values("visitor_id"), [VISITOR]);
        assert!(request.query_values("pagination_key").len() <= 1);
    }
}

#[tokio::test]
async fn max_events_of_one_page_stops_without_requesting_page_two() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);

    let mut stream = search(&client).into_stream().max_events(2);
    let mut got = Vec::new();
    while let Some(event) = stream.next().await {
        got.push(event.expect("an event"));
    }

    assert_eq!(ids(&got), ["e1", "e2"]);
    assert!(stream.next().await.is_none());
    assert_eq!(pages.calls(), [1, 0, 0, 0]);
}

#[tokio::test]
async fn max_events_inside_page_two_never_requests_page_three() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);

    let mut stream = search(&client).into_stream().max_events(3);
    let mut got = Vec::new();
    while let Some(event) = stream.next().await {
        got.push(event.expect("an event"));
    }

    assert_eq!(ids(&got), ["e1", "e2", "e3"]);
    assert_eq!(pages.calls(), [1, 1, 0, 0]);
}

#[tokio::test]
async fn max_events_zero_sends_no_request_at_all() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);

    let mut stream = search(&client).into_stream().max_events(0);
    assert!(stream.next().await.is_none());
    assert_eq!(pages.calls(), [0, 0, 0, 0]);
}

#[tokio::test]
async fn max_events_larger_than_the_result_ends_after_the_last_page() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);

    let mut stream = search(&client).into_stream().max_events(1_000);
    let mut count = 0;
    while let Some(event) = stream.next().await {
        event.expect("an event");
        count += 1;
    }
    assert_eq!(count, 5);
    assert_eq!(pages.calls(), [1, 1, 1, 0]);
}

#[tokio::test]
async fn stream_ext_take_stops_early_without_further_requests() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);

    let got: Vec<types::Event> = search(&client)
        .into_stream()
        .take(3)
        .map(|item| item.expect("an event"))
        .collect()
        .await;

    assert_eq!(ids(&got), ["e1", "e2", "e3"]);
    assert_eq!(pages.calls(), [1, 1, 0, 0]);
}

#[tokio::test]
async fn stream_ext_collects_every_event_of_every_page() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);

    let got: Vec<Result<types::Event, _>> = search(&client).into_stream().collect().await;
    let got: Vec<types::Event> = got
        .into_iter()
        .map(|item| item.expect("an event"))
        .collect();

    assert_eq!(ids(&got), ["e1", "e2", "e3", "e4", "e5"]);
    assert_eq!(pages.calls(), [1, 1, 1, 0]);
}

#[tokio::test]
async fn an_error_on_page_two_is_yielded_once_and_ends_the_stream() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);

    let mut stream = search(&client).into_stream();
    assert_eq!(stream.next().await.unwrap().unwrap().event_id, "e1");
    assert_eq!(stream.next().await.unwrap().unwrap().event_id, "e2");
    // Page 1 is consumed and page 2 not asked for yet: the next search fails.
    fake.fail_next_on(
        Operation::SearchEvents,
        1,
        Fault::Api {
            status: 400,
            code: "request_cannot_be_parsed".into(),
            message: "pagination_key is invalid".into(),
        },
    );
    let err = stream
        .next()
        .await
        .expect("the error is an item")
        .expect_err("page 2 fails");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(err.code(), Some(&types::ErrorCode::RequestCannotBeParsed));
    assert_eq!(err.attempts(), 1);

    // A stream that went on after the error would ask for a page again.
    assert!(stream.next().await.is_none(), "nothing after the error");
    assert!(stream.next().await.is_none(), "and nothing later either");
    let [first, second, _, unexpected] = pages.calls();
    assert_eq!(first, 1);
    assert_eq!(second, 1, "the failed page is not retried by the stream");
    assert_eq!(unexpected, 0);
    assert_eq!(stream.pages_received(), 1);
}

#[tokio::test]
async fn an_error_on_the_first_page_is_the_only_item() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    // A key the fake does not know: 403 `secret_api_key_not_found`.
    let client = Client::builder("sk_test_someone_else")
        .base_url(fake.url())
        .retry(RetryPolicy::disabled())
        .build()
        .expect("client builds");

    let items: Vec<_> = search(&client).into_stream().collect().await;
    assert_eq!(items.len(), 1);
    let err = items.into_iter().next().unwrap().expect_err("an error");
    assert_eq!(err.code(), Some(&types::ErrorCode::SecretApiKeyNotFound));
    let [first, _, _, unexpected] = pages.calls();
    assert_eq!(first, 1);
    assert_eq!(unexpected, 0);
}

#[tokio::test]
async fn each_page_request_goes_through_the_retry_policy() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client_with(
        &fake,
        RetryPolicy::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1)),
    );

    let mut stream = search(&client).into_stream();
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(stream.next().await.unwrap().expect("page 1"));
    }
    // Page 2 answers 503 once; the retry gets the page.
    fake.fail_next_on(Operation::SearchEvents, 1, Fault::Status(503));
    while let Some(item) = stream.next().await {
        got.push(item.expect("the retry hides the 503"));
    }

    assert_eq!(ids(&got), ["e1", "e2", "e3", "e4", "e5"]);
    let journal = fake.journal();
    let unavailable = journal.iter().filter(|r| r.status == Some(503)).count();
    assert_eq!(unavailable, 1);
    let page_two: Vec<Option<u16>> = journal
        .iter()
        .filter(|r| r.query_value("pagination_key") == Some(pages.k2.as_str()))
        .map(|r| r.status)
        .collect();
    assert_eq!(page_two, [Some(503), Some(200)], "page 2, then its retry");
    let [first, second, third, unexpected] = pages.calls();
    assert_eq!(first, 1);
    assert_eq!(second, 2, "the 503 and the retry");
    assert_eq!(third, 1);
    assert_eq!(unexpected, 0);
}

#[tokio::test]
async fn an_empty_result_ends_the_stream_after_one_request() {
    let fake = fake().await;
    // The visitor is known, but all its events are older than the default
    // 7-day window.
    fake.insert_json(event("e_old", 8 * 24 * 60))
        .expect("stored");
    let pages = ThreePages::scripted(&fake, "");
    let client = client(&fake);

    let mut stream = search(&client).into_stream();
    assert!(stream.next().await.is_none());
    assert!(stream.next().await.is_none());
    assert_eq!(stream.pages_received(), 1);
    let [only, _, _, unexpected] = pages.calls();
    assert_eq!(only, 1);
    assert_eq!(unexpected, 0);
}

/// The fake's search never serves an empty page with a key, nor an empty
/// key: these pages are scripted as raw answers, and the journal still
/// checks what the stream asked for.
#[tokio::test]
async fn an_empty_page_that_carries_a_key_is_skipped_over() {
    let fake = fake().await;
    fake.insert_json(event("e3", 1)).expect("stored");
    fake.fail_next_on(
        Operation::SearchEvents,
        1,
        Fault::json(200, &page_body(&[], Some("k2"))),
    );
    fake.fail_next_on(
        Operation::SearchEvents,
        1,
        Fault::json(200, &page_body(&["e3"], None)),
    );
    let pages = ThreePages::scripted(&fake, "k2");
    let client = client(&fake);

    let mut stream = search(&client).into_stream();
    assert_eq!(stream.next().await.unwrap().unwrap().event_id, "e3");
    assert!(stream.next().await.is_none());
    let [first, second, _, unexpected] = pages.calls();
    assert_eq!(first, 1);
    assert_eq!(second, 1);
    assert_eq!(unexpected, 0);
}

#[tokio::test]
async fn an_empty_pagination_key_is_read_as_the_last_page() {
    let fake = fake().await;
    fake.fail_next_on(
        Operation::SearchEvents,
        1,
        Fault::json(200, &page_body(&["e1"], Some(""))),
    );
    let pages = ThreePages::scripted(&fake, "");
    let client = client(&fake);

    let got: Vec<_> = search(&client).into_stream().collect().await;
    assert_eq!(got.len(), 1);
    let [first, _, _, unexpected] = pages.calls();
    assert_eq!(first, 1);
    assert_eq!(unexpected, 0, "the first page must not be asked for again");
}

#[tokio::test]
async fn reverse_and_the_other_filters_are_sent_with_every_page() {
    let fake = fake().await;
    // Every page request must also carry `reverse=true` and `suspect=false`:
    // one that dropped either counts as unexpected.
    let pages = three_pages(&fake, &[("reverse", "true"), ("suspect", "false")]).await;
    let client = client(&fake);

    let mut stream = search(&client).reverse(true).suspect(false).into_stream();
    let mut got = Vec::new();
    while let Some(event) = stream.next().await {
        got.push(event.expect("every page matches"));
    }

    assert_eq!(ids(&got), ["e1", "e2", "e3", "e4", "e5"]);
    assert_eq!(pages.calls(), [1, 1, 1, 0]);
}

#[tokio::test]
async fn a_search_without_reverse_does_not_send_it() {
    let fake = fake().await;
    fake.insert_json(event("e1", 1)).expect("stored");
    let client = client(&fake);

    let got: Vec<_> = search(&client).into_stream().collect().await;
    assert_eq!(got.len(), 1);
    let journal = fake.journal();
    let only = journal
        .iter()
        .filter(|r| r.query_value("reverse").is_none())
        .count();
    assert_eq!(only, 1);
    assert_eq!(journal.len() - only, 0);
}

#[tokio::test]
async fn a_pagination_key_set_on_the_builder_is_where_the_stream_starts() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);

    let got: Vec<types::Event> = search(&client)
        .pagination_key(pages.k2.clone())
        .into_stream()
        .map(|item| item.expect("an event"))
        .collect()
        .await;

    assert_eq!(ids(&got), ["e3", "e4", "e5"]);
    assert_eq!(pages.calls(), [0, 1, 1, 0]);
}

#[tokio::test]
async fn into_page_stream_yields_whole_pages_one_request_at_a_time() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);

    let mut stream = search(&client).into_page_stream();
    let page1: types::EventSearch = stream.next().await.unwrap().unwrap();
    assert_eq!(ids(&page1.events), ["e1", "e2"]);
    assert_eq!(page1.pagination_key.as_deref(), Some(pages.k2.as_str()));
    assert_eq!(pages.calls(), [1, 0, 0, 0]);

    let page2 = stream.next().await.unwrap().unwrap();
    assert_eq!(ids(&page2.events), ["e3", "e4"]);
    assert_eq!(page2.pagination_key.as_deref(), Some(pages.k3.as_str()));

    let page3 = stream.next().await.unwrap().unwrap();
    assert_eq!(ids(&page3.events), ["e5"]);
    assert_eq!(page3.pagination_key, None);

    assert!(stream.next().await.is_none());
    assert_eq!(stream.pages_received(), 3);
    assert_eq!(pages.calls(), [1, 1, 1, 0]);
}

#[tokio::test]
async fn into_page_stream_works_with_stream_ext() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);

    let sizes: Vec<usize> = search(&client)
        .into_page_stream()
        .map(|page| page.expect("a page").events.len())
        .collect()
        .await;
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(pages.calls(), [1, 1, 1, 0]);
}

#[tokio::test]
async fn an_event_stream_can_be_moved_into_a_spawned_task() {
    let fake = fake().await;
    let pages = three_pages(&fake, &[]).await;
    let client = client(&fake);

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
    assert_eq!(pages.calls(), [1, 1, 1, 0]);
}

#[tokio::test]
async fn debug_output_of_a_stream_shows_its_progress() {
    let fake = fake().await;
    let _pages = three_pages(&fake, &[]).await;
    let client = client(&fake);

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
    let fake = fake().await;
    fake.insert_json(event("e1", 1)).expect("stored");
    fake.fail_next_on(
        Operation::SearchEvents,
        1,
        Fault::Delay(Duration::from_millis(300)),
    );
    let client = client(&fake);
    let mut stream = search(&client).into_stream();

    // Give up on the first `next()` while the page is still on its way, as
    // a `select!` or a timeout would.
    let abandoned = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
    assert!(abandoned.is_err(), "the page cannot have arrived yet");

    // The request in flight is kept, not lost nor sent again.
    let event = stream.next().await.expect("an item").expect("an event");
    assert_eq!(event.event_id, "e1");
    assert!(stream.next().await.is_none());
    let journal = fake.journal();
    assert_eq!(journal.len(), 1, "one request, answered late");
    assert_eq!(journal[0].query_value("pagination_key"), None);
}
