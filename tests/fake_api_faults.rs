//! Each fault kind of the fake API through the SDK's client: what the client
//! does with it (retried or not, which error), and how the fault queue
//! orders, targets and drops faults. Retry settings are explicit (attempts,
//! tiny backoffs) so the tests do not depend on the defaults. The client's
//! retry cases against these faults are in `faults.rs`; what is here is what
//! only the fake shows (the wire, the queue, headers, the paused clock, the
//! journal).

use std::time::Duration;

use fingerprint_server_sdk::mock::{self, FakeApi, Fault, Operation, QueuedFault};
use fingerprint_server_sdk::types::{self, ErrorCode};
use fingerprint_server_sdk::{Client, Error, RetryPolicy};

const GATEWAY_PAGE: &str = "<html><head><title>502 Bad Gateway</title></head>\
<body><h1>502 Bad Gateway</h1><hr>edge-proxy</body></html>";

/// A fake with one event, `evt_1` of `vis_1`.
async fn fake() -> FakeApi {
    let fake = FakeApi::start().await.expect("the fake starts");
    let mut event = mock::event("evt_1", "vis_1");
    event.timestamp -= 60_000;
    fake.insert(&event).expect("stored");
    fake
}

/// Up to `attempts` attempts, a millisecond or so apart.
fn retrying(fake: &FakeApi, attempts: u32) -> Client {
    fake.client_builder()
        .retry(
            RetryPolicy::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(2)),
        )
        .build()
        .expect("client builds")
}

fn single_attempt(fake: &FakeApi) -> Client {
    retrying(fake, 1)
}

/// The statuses the fake answered, oldest first (`None`: no answer).
fn statuses(fake: &FakeApi) -> Vec<Option<u16>> {
    fake.journal().iter().map(|r| r.status).collect()
}

async fn get(client: &Client) -> Result<types::Event, Error> {
    client
        .get_event()
        .event_id("evt_1")
        .send()
        .await
        .map(|r| r.into_inner())
}

/// A request for the edge endpoint (whose answer a test queues or faults).
fn edge_request() -> types::EdgeRequest {
    serde_json::from_value(serde_json::json!({
        "ipv4_address": "192.0.2.7", "method": "GET", "url": "https://shop.example/",
        "headers": []
    }))
    .expect("an edge request")
}

fn update(client: &Client) -> fingerprint_server_sdk::builder::UpdateEvent<'_> {
    client
        .update_event()
        .event_id("evt_1")
        .body(types::EventUpdate {
            suspect: Some(true),
            ..Default::default()
        })
}

// ---- delay ------------------------------------------------------------------

#[tokio::test]
async fn a_delay_within_the_timeout_only_makes_the_answer_late() {
    let fake = fake().await;
    fake.fail_next(1, Fault::Delay(Duration::from_millis(30)));
    let event = get(&single_attempt(&fake)).await.expect("late but whole");
    assert_eq!(event.event_id, "evt_1");
    assert_eq!(statuses(&fake), [Some(200)]);
}

#[tokio::test]
async fn a_delayed_update_takes_effect_even_when_the_client_gives_up() {
    let fake = fake().await;
    fake.fail_next(1, Fault::Delay(Duration::from_millis(400)));
    let client = fake
        .client_builder()
        .attempt_timeout(Duration::from_millis(50))
        .retry(RetryPolicy::disabled())
        .build()
        .expect("client builds");

    let err = update(&client).send().await.expect_err("too slow");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(
        fake.event("evt_1").and_then(|e| e.suspect),
        Some(true),
        "applied when it arrived"
    );
}

#[tokio::test]
async fn set_delay_slows_every_answer_until_reset() {
    let fake = fake().await;
    let client = fake
        .client_builder()
        .attempt_timeout(Duration::from_millis(100))
        .retry(
            RetryPolicy::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .build()
        .expect("client builds");
    fake.set_delay(Duration::from_millis(400));
    let err = get(&client).await.expect_err("every attempt is late");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.attempts(), 2);

    fake.set_delay(Duration::ZERO);
    get(&client).await.expect("on time again");
}

// ---- raw answers --------------------------------------------------------------

#[tokio::test]
async fn an_html_502_keeps_its_status_and_text() {
    let fake = fake().await;
    fake.fail_next(1, Fault::html(502, GATEWAY_PAGE));

    let err = get(&single_attempt(&fake)).await.expect_err("502");
    assert!(matches!(err, Error::Api { .. }), "{err:?}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
    assert!(err.api_error().is_none(), "not an API error body");
    assert_eq!(err.body(), Some(GATEWAY_PAGE));
    assert!(err.to_string().contains("502"), "{err}");
}

#[tokio::test]
async fn a_raw_answer_can_be_any_status_type_and_body() {
    let fake = fake().await;
    fake.fail_next(
        1,
        Fault::Raw {
            status: 503,
            content_type: String::new(),
            body: Vec::new(),
        },
    );
    let err = get(&single_attempt(&fake)).await.expect_err("503");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(err.body(), Some(""));

    fake.fail_next(
        1,
        Fault::json(
            200,
            &serde_json::json!({"event_id": "scripted", "timestamp": 1}),
        ),
    );
    let event = get(&single_attempt(&fake)).await.expect("a scripted event");
    assert_eq!(event.event_id, "scripted");
}

// ---- truncated bodies -----------------------------------------------------------

/// Only with the `gzip` feature does the client ask for (and the fake send)
/// a gzipped page.
#[cfg(feature = "gzip")]
#[tokio::test]
async fn a_truncated_search_page_with_gzip_fails_the_same_way() {
    let fake = fake().await;
    fake.insert_samples(30).expect("stored");
    fake.fail_next_on(Operation::SearchEvents, 1, Fault::Truncate { after: 100 });
    let err = single_attempt(&fake)
        .search_events()
        .limit(30)
        .send()
        .await
        .expect_err("cut short");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    let journal = fake.journal();
    let asked = journal[0].header("accept-encoding");
    assert!(asked.is_some_and(|v| v.contains("gzip")), "{asked:?}");
}

/// Sends `GET path` with the fake's key on a fresh connection (no gzip) and
/// reads until the fake closes it: the head, and the body bytes that came.
async fn raw_get(fake: &FakeApi, path: &str) -> std::io::Result<(String, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(fake.addr()).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer {}\r\n\r\n",
        fake.api_key()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await?;
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |i| i + 4);
    let body = bytes.split_off(end);
    Ok((String::from_utf8_lossy(&bytes).into_owned(), body))
}

fn content_length(head: &str) -> Option<usize> {
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .and_then(|v| v.trim().parse().ok())
}

/// On the wire: the head with the full length, then exactly the first
/// bytes of the body, then the end of the connection. Also for a body of
/// megabytes cut after more than a socket buffer holds.
#[tokio::test]
async fn a_cut_answer_sends_its_head_and_exactly_the_first_bytes() {
    let fake = fake().await;
    let whole = fake
        .event("evt_1")
        .map(|e| serde_json::to_vec(&e).expect("JSON"))
        .expect("stored");
    fake.fail_next(1, Fault::Truncate { after: 15 });
    let (head, body) = raw_get(&fake, "/v4/events/evt_1").await.expect("read");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(content_length(&head), Some(whole.len()), "{head}");
    assert_eq!(body, whole[..15]);

    let page = vec![b'x'; 3 << 20];
    fake.fail_next(
        1,
        Fault::Raw {
            status: 502,
            content_type: "text/html".to_owned(),
            body: page,
        }
        .cut_after(2 << 20),
    );
    let (head, body) = raw_get(&fake, "/v4/events/evt_1").await.expect("read");
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    assert_eq!(content_length(&head), Some(3 << 20));
    assert_eq!(body.len(), 2 << 20);
}

#[tokio::test]
async fn truncating_an_answer_without_a_body_sends_it_whole() {
    let fake = fake().await;
    fake.fail_next_on(Operation::UpdateEvent, 1, Fault::Truncate { after: 0 });
    update(&single_attempt(&fake))
        .send()
        .await
        .expect("nothing to cut");
}

// ---- closed and reset connections -----------------------------------------------------

#[tokio::test]
async fn a_connection_closed_without_an_answer_on_a_get_is_retried() {
    let fake = fake().await;
    fake.fail_next(1, Fault::Close);
    get(&retrying(&fake, 3)).await.expect("retried");
    assert_eq!(statuses(&fake), [None, Some(200)]);
}

#[tokio::test]
async fn a_closed_connection_with_one_attempt_is_a_transport_error_without_status() {
    let fake = fake().await;
    fake.fail_next(1, Fault::Close);
    let err = get(&single_attempt(&fake)).await.expect_err("no answer");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.status(), None);
    assert!(!err.is_timeout());
}

/// Both faults end the connection after the fake has read the request, so
/// on a POST the client cannot know whether it was applied.
#[tokio::test]
async fn a_closed_or_reset_connection_on_a_post_is_not_retried() {
    for fault in [Fault::Close, Fault::Reset] {
        let fake = fake().await;
        fake.fail_next_on(Operation::Edge, 1, fault.clone());
        let err = retrying(&fake, 3)
            .analyze_request_for_automation_intelligence()
            .body(edge_request())
            .send()
            .await
            .expect_err("no answer");
        assert!(matches!(err, Error::Transport { .. }), "{fault:?}: {err:?}");
        assert_eq!(
            err.attempts(),
            1,
            "{fault:?}: the request may have been applied"
        );
        assert_eq!(fake.requests(), 1, "{fault:?}");
    }
}

/// The operation runs before the connection ends: an update the client got
/// no answer to has taken effect.
#[tokio::test]
async fn an_update_cut_off_by_a_close_or_reset_still_applies() {
    for fault in [Fault::Close, Fault::Reset] {
        let fake = fake().await;
        fake.fail_next_on(Operation::UpdateEvent, 1, fault.clone());
        update(&single_attempt(&fake))
            .send()
            .await
            .expect_err("no answer");
        assert_eq!(
            fake.event("evt_1").and_then(|e| e.suspect),
            Some(true),
            "{fault:?}"
        );
    }
}

/// What the client reads is a reset, not an end of stream (which is what
/// `Fault::Close` gives).
#[tokio::test]
async fn a_reset_is_a_tcp_reset_and_a_close_is_not() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fake = fake().await;
    let request = format!(
        "GET /v4/events/evt_1 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
        fake.api_key()
    );
    for (fault, reset) in [(Fault::Reset, true), (Fault::Close, false)] {
        fake.fail_next(1, fault.clone());
        let mut stream = tokio::net::TcpStream::connect(fake.addr())
            .await
            .expect("connects");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("request sent");
        let mut buf = Vec::new();
        let read = stream.read_to_end(&mut buf).await;
        match read {
            Err(e) => assert!(
                reset && e.kind() == std::io::ErrorKind::ConnectionReset,
                "{fault:?}: {e}"
            ),
            Ok(n) => assert!(!reset && n == 0, "{fault:?}: {n} bytes"),
        }
    }
}

// ---- altered answers: headers, cut error pages -------------------------------------------

#[tokio::test]
async fn a_retry_after_date_reaches_the_caller() {
    let fake = fake().await;
    let at = std::time::SystemTime::now() + Duration::from_secs(120);
    let date = httpdate(at);
    fake.fail_next(
        1,
        Fault::TooManyRequests { retry_after: None }.with_header("Retry-After", &date),
    );
    let err = get(&single_attempt(&fake)).await.expect_err("429");
    assert!(err.is_rate_limited(), "{err:?}");
    let wait = err.retry_after().expect("the date is read");
    assert!(
        wait > Duration::from_secs(110) && wait <= Duration::from_secs(120),
        "{date}: {wait:?}"
    );
}

fn httpdate(at: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

#[tokio::test]
async fn a_header_of_a_fault_reaches_the_client_and_replaces_the_faults_own() {
    let fake = fake().await;
    fake.fail_next(
        1,
        Fault::TooManyRequests {
            retry_after: Some(1),
        }
        .with_header("retry-after", "7"),
    );
    let err = get(&single_attempt(&fake)).await.expect_err("429");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn an_error_page_cut_short_is_a_transport_error_with_its_status() {
    let fake = fake().await;
    fake.fail_next(1, Fault::Status(503).cut_after(10));
    let err = get(&single_attempt(&fake)).await.expect_err("cut short");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(
        err.status().map(|s| s.as_u16()),
        Some(503),
        "the head arrived: {err:?}"
    );
}

#[tokio::test]
async fn a_header_the_fake_cannot_send_is_a_500_naming_it() {
    let fake = fake().await;
    fake.fail_next(1, Fault::Status(503).with_header("content-length", "5"));
    let err = get(&single_attempt(&fake)).await.expect_err("500");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert!(
        err.api_error()
            .is_some_and(|e| e.message.contains("content-length")),
        "{err:?}"
    );
}

// ---- the paused clock ------------------------------------------------------------------------

/// The fake's delays are tokio timers in the test's runtime: under a paused
/// clock a long delay passes in virtual time, and a client timeout shorter
/// than it fires at its own virtual deadline.
#[tokio::test(start_paused = true)]
async fn delays_run_on_a_paused_clock() {
    let fake = fake().await;
    let client = |attempt_timeout: Duration| {
        fake.client_builder()
            .retry(RetryPolicy::disabled())
            .connect_timeout(Duration::from_secs(3600))
            .attempt_timeout(attempt_timeout)
            .timeout(Duration::from_secs(4 * 3600))
            .build()
            .expect("client builds")
    };
    fake.fail_next(1, Fault::Delay(Duration::from_secs(90)));
    let started = tokio::time::Instant::now();
    get(&client(Duration::from_secs(3600)))
        .await
        .expect("late but whole");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(90) && elapsed < Duration::from_secs(91),
        "{elapsed:?}"
    );

    fake.set_delay(Duration::from_secs(600));
    let started = tokio::time::Instant::now();
    let err = get(&client(Duration::from_secs(30)))
        .await
        .expect_err("too slow");
    let elapsed = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        elapsed >= Duration::from_secs(30) && elapsed < Duration::from_secs(31),
        "{elapsed:?}"
    );
}

// ---- 409 state_not_ready ---------------------------------------------------------------

#[tokio::test]
async fn state_not_ready_reaches_the_caller_when_retries_are_off() {
    let fake = fake().await;
    fake.fail_next_on(Operation::UpdateEvent, 1, Fault::StateNotReady);
    let err = update(&single_attempt(&fake))
        .send()
        .await
        .expect_err("409");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(409));
    assert_eq!(err.code(), Some(&ErrorCode::StateNotReady));
    assert_eq!(
        fake.event("evt_1").and_then(|e| e.suspect),
        None,
        "not applied"
    );
}

// ---- the queue -----------------------------------------------------------------------------

#[tokio::test]
async fn a_targeted_fault_waits_for_its_operation() {
    let fake = fake().await;
    fake.fail_next_on(Operation::SearchEvents, 1, Fault::Status(503));
    let client = single_attempt(&fake);

    get(&client).await.expect("a get is not a search");
    let err = client.search_events().send().await.expect_err("503");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    client.search_events().send().await.expect("used up");
}

#[tokio::test]
async fn the_queue_is_first_in_first_out_per_operation() {
    let fake = fake().await;
    fake.fail_next_on(Operation::UpdateEvent, 1, Fault::StateNotReady);
    fake.fail_next(2, Fault::Status(503));
    assert_eq!(
        fake.queued_faults(),
        [
            QueuedFault::for_operation(Operation::UpdateEvent, Fault::StateNotReady),
            QueuedFault::any(Fault::Status(503)),
            QueuedFault::any(Fault::Status(503)),
        ]
    );
    let client = single_attempt(&fake);

    let search = client.search_events().send().await.expect_err("first 503");
    assert_eq!(search.status().map(|s| s.as_u16()), Some(503));
    let updated = update(&client).send().await.expect_err("the 409 waited");
    assert_eq!(updated.status().map(|s| s.as_u16()), Some(409));
    let got = get(&client).await.expect_err("second 503");
    assert_eq!(got.status().map(|s| s.as_u16()), Some(503));
    assert!(fake.queued_faults().is_empty());
    get(&client).await.expect("nothing left");
}

#[tokio::test]
async fn clear_faults_drops_what_is_queued() {
    let fake = fake().await;
    fake.fail_next(3, Fault::Close);
    fake.fail_next_on(Operation::GetEvent, 1, Fault::Status(500));
    assert_eq!(fake.queued_faults().len(), 4);
    fake.clear_faults();
    assert!(fake.queued_faults().is_empty());
    get(&single_attempt(&fake)).await.expect("no fault left");
}

#[tokio::test]
async fn a_request_with_the_wrong_key_takes_no_fault() {
    let fake = fake().await;
    fake.fail_next(1, Fault::Status(503));
    let stranger = fingerprint_server_sdk::Client::builder("not-the-key")
        .base_url(fake.url())
        .retry(RetryPolicy::disabled())
        .build()
        .expect("client builds");
    let err = get(&stranger).await.expect_err("403");
    assert_eq!(err.code(), Some(&ErrorCode::SecretApiKeyNotFound));
    assert_eq!(fake.queued_faults().len(), 1, "the fault still waits");
}
