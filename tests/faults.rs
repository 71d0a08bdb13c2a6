//! Fault injection: the client against the embedded fake API (`mock::FakeApi`)
//! answering with throttling, gateway errors, resets, stalls, truncated and
//! oversized bodies and redirects. Each test counts the requests the fake
//! received and checks what the caller gets back.
//!
//! Waits that matter (`Retry-After`, backoff, the operation timeout) are
//! measured on tokio's paused clock: the fake runs in the test's runtime (its
//! only timers are its delays, which the paused clock runs too), every
//! reqwest timer is set far away, and `tokio::time::Instant` gives the
//! virtual time spent. Tests on the real clock use millisecond backoffs.
//!
//! Two cases need no server or another one: nothing listening (a released
//! port, a full accept queue), and the host a redirect points to, which
//! must not be the fake (see [`foreign_host`]).

use std::net::SocketAddr;
use std::time::Duration;

use fingerprint_server_sdk::mock::{self, FakeApi, Fault, Operation};
use fingerprint_server_sdk::{Client, ClientBuilder, Error, ResponseValue, RetryPolicy, types};
use reqwest::StatusCode;
use serde_json::json;
use tokio::time::Instant;

const KEY: &str = "sk_test_faults_Zq8vK2mW9xR4tY7u";
/// A part of the key that is unlikely to appear anywhere by chance.
const KEY_PART: &str = "Zq8vK2mW9xR4tY7u";

const MIB: usize = 1 << 20;

/// How many times a fault that should never stop is queued: more than any
/// test's attempts.
const ALWAYS: usize = 20;

/// A delay no test waits out: the fake stalls.
const STALL: Duration = Duration::from_secs(3600);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A fake that takes [`KEY`], holding event `e1` of visitor `v1`.
async fn fake_api() -> FakeApi {
    let fake = FakeApi::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), KEY)
        .await
        .expect("the fake starts");
    fake.insert(&mock::event("e1", "v1")).expect("stored");
    fake
}

/// The statuses the fake answered, oldest first (`None`: no answer).
fn statuses(fake: &FakeApi) -> Vec<Option<u16>> {
    fake.journal().iter().map(|r| r.status).collect()
}

/// An answer with this status and nothing else: no body, no content type.
fn empty(status: u16) -> Fault {
    Fault::Raw {
        status,
        content_type: String::new(),
        body: Vec::new(),
    }
}

/// An API error answer: `status` with the API's error body.
fn api_error(status: u16, code: &str, message: &str) -> Fault {
    Fault::Api {
        status,
        code: code.into(),
        message: message.into(),
    }
}

/// A 200 with `body` as JSON, whatever the bytes are.
fn raw_json(body: impl Into<Vec<u8>>) -> Fault {
    Fault::Raw {
        status: 200,
        content_type: "application/json".into(),
        body: body.into(),
    }
}

/// Standard retries with millisecond waits, for tests on the real clock
/// (a server's `Retry-After` is not capped: tests that send one run on the
/// paused clock).
fn quick() -> RetryPolicy {
    RetryPolicy::standard()
        .with_initial_backoff(ms(1))
        .with_max_backoff(ms(5))
}

fn builder(base_url: String) -> ClientBuilder {
    Client::builder(KEY).base_url(base_url)
}

/// A client for the real clock.
fn client(fake: &FakeApi, policy: RetryPolicy) -> Client {
    builder(fake.url())
        .retry(policy)
        .build()
        .expect("client builds")
}

/// A client for the paused clock: reqwest's own timers are an hour away, so
/// only the retry waits (and a timeout the test sets) move virtual time.
fn paused_builder(base_url: String, policy: RetryPolicy) -> ClientBuilder {
    builder(base_url)
        .retry(policy)
        .connect_timeout(secs(3600))
        .attempt_timeout(secs(3600))
        .timeout(secs(4 * 3600))
}

fn paused_client(fake: &FakeApi, policy: RetryPolicy) -> Client {
    paused_builder(fake.url(), policy)
        .build()
        .expect("client builds")
}

async fn get_event(client: &Client) -> Result<ResponseValue<types::Event>, Error> {
    client.get_event().event_id("e1").send().await
}

async fn update_event(client: &Client) -> Result<ResponseValue<()>, Error> {
    client
        .update_event()
        .event_id("e1")
        .body(types::EventUpdate {
            suspect: Some(true),
            ..Default::default()
        })
        .send()
        .await
}

async fn analyze(client: &Client) -> Result<ResponseValue<types::EdgeResponse>, Error> {
    let body: types::EdgeRequest = serde_json::from_value(json!({
        "method": "GET",
        "url": "https://shop.example/",
        "headers": [{"name": "a", "value": "b"}]
    }))
    .expect("edge request");
    client
        .analyze_request_for_automation_intelligence()
        .body(body)
        .send()
        .await
}

/// A successful answer of the edge endpoint (the fake refuses the endpoint
/// itself, so a test that needs one queues it).
fn edge_ok() -> Fault {
    Fault::json(
        200,
        &json!({"event_id": "e1", "timestamp": 1_708_102_555_327_i64, "ip_info": {}}),
    )
}

fn status_of(err: &Error) -> Option<u16> {
    err.status().map(|s| s.as_u16())
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A tiny `tracing` subscriber that keeps every event's level and fields.
mod trace {
    use std::collections::BTreeMap;
    use std::fmt;
    use std::sync::{Arc, Mutex, PoisonError};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::subscriber::{DefaultGuard, Interest};
    use tracing::{Event, Level, Metadata, Subscriber};

    #[derive(Clone, Debug)]
    pub struct Captured {
        pub level: Level,
        pub fields: BTreeMap<&'static str, String>,
    }

    impl Captured {
        pub fn message(&self) -> &str {
            self.field("message").unwrap_or("")
        }

        pub fn field(&self, name: &str) -> Option<&str> {
            self.fields.get(name).map(String::as_str)
        }

        pub fn number(&self, name: &str) -> Option<u64> {
            self.field(name)?.parse().ok()
        }
    }

    /// Records the events of the thread it is installed on (a
    /// current-thread test runtime runs every task there).
    #[derive(Clone, Default)]
    pub struct Recorder(Arc<Mutex<Vec<Captured>>>);

    impl Recorder {
        pub fn install(&self) -> DefaultGuard {
            tracing::subscriber::set_default(self.clone())
        }

        pub fn events(&self) -> Vec<Captured> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }

        /// The events whose message ends with `suffix`.
        pub fn named(&self, suffix: &str) -> Vec<Captured> {
            self.events()
                .into_iter()
                .filter(|e| e.message().ends_with(suffix))
                .collect()
        }

        /// Every event as one line of text.
        pub fn text(&self) -> String {
            self.events()
                .iter()
                .map(|e| format!("{} {:?}\n", e.level, e.fields))
                .collect()
        }
    }

    struct Fields(BTreeMap<&'static str, String>);

    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name(), value.to_owned());
        }

        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.0.insert(field.name(), format!("{value:?}"));
        }
    }

    impl Subscriber for Recorder {
        fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
            Interest::sometimes()
        }

        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }

        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }

        fn record(&self, _: &Id, _: &Record<'_>) {}

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields(BTreeMap::new());
            event.record(&mut fields);
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Captured {
                    level: *event.metadata().level(),
                    fields: fields.0,
                });
        }

        fn enter(&self, _: &Id) {}

        fn exit(&self, _: &Id) {}
    }
}

use trace::Recorder;

// ---------------------------------------------------------------------------
// Transient faults, then success.

/// `get_event` with `fault` once, then the event: it must succeed on the
/// second attempt. Returns the fake, for checks of its journal.
async fn get_event_recovers_after(fault: Fault) -> FakeApi {
    let fake = fake_api().await;
    fake.fail_next(1, fault.clone());
    let event = get_event(&client(&fake, quick()))
        .await
        .unwrap_or_else(|e| panic!("after {fault:?}: {e}"))
        .into_inner();
    assert_eq!(event.event_id, "e1");
    assert_eq!(fake.requests(), 2, "after {fault:?}");
    fake
}

#[tokio::test]
async fn retries_500_with_json_body_then_succeeds() {
    get_event_recovers_after(api_error(500, "failed", "internal")).await;
}

#[tokio::test]
async fn retries_502_with_html_body_then_succeeds() {
    let fake = get_event_recovers_after(Fault::html(
        502,
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
    ))
    .await;
    assert_eq!(statuses(&fake), [Some(502), Some(200)]);
}

#[tokio::test]
async fn retries_503_with_empty_body_then_succeeds() {
    get_event_recovers_after(empty(503)).await;
}

#[tokio::test]
async fn retries_504_with_json_body_then_succeeds() {
    get_event_recovers_after(Fault::json(504, &json!({"message": "upstream timed out"}))).await;
}

#[tokio::test]
async fn retries_429_then_succeeds() {
    get_event_recovers_after(Fault::TooManyRequests { retry_after: None }).await;
}

#[tokio::test]
async fn retries_reset_connection_on_get_then_succeeds() {
    let fake = get_event_recovers_after(Fault::Reset).await;
    assert_eq!(statuses(&fake), [None, Some(200)]);
}

#[tokio::test]
async fn retries_truncated_body_on_get_then_succeeds() {
    get_event_recovers_after(Fault::Truncate { after: 24 }).await;
}

#[tokio::test]
async fn retries_truncated_error_body_on_get_then_succeeds() {
    let fake = get_event_recovers_after(Fault::Status(503).cut_after(12)).await;
    assert_eq!(statuses(&fake), [Some(503), Some(200)]);
}

#[tokio::test]
async fn retries_a_stalled_attempt_on_get_then_succeeds() {
    let fake = fake_api().await;
    fake.fail_next(1, Fault::Delay(STALL));
    let client = builder(fake.url())
        .retry(quick())
        .attempt_timeout(ms(200))
        .build()
        .expect("client builds");
    let started = Instant::now();
    let event = get_event(&client).await.expect("second attempt answers");
    assert_eq!(event.event_id, "e1");
    assert_eq!(fake.requests(), 2);
    assert!(started.elapsed() >= ms(200), "{:?}", started.elapsed());
}

#[tokio::test]
async fn retries_503_on_patch_update_event_then_succeeds() {
    let fake = fake_api().await;
    fake.fail_next(1, empty(503));
    let response = update_event(&client(&fake, quick()))
        .await
        .expect("updated");
    assert_eq!(response.status(), StatusCode::OK);
    let seen = fake.journal();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(request.method, "PATCH");
        let body = request.body_json().expect("JSON body");
        assert_eq!(body, json!({"suspect": true}), "the body is resent whole");
    }
}

#[tokio::test]
async fn retries_502_on_delete_visitor_data_then_succeeds() {
    let fake = fake_api().await;
    fake.fail_next(1, Fault::html(502, "<h1>bad gateway</h1>"));
    client(&fake, quick())
        .delete_visitor_data()
        .visitor_id("v1")
        .send()
        .await
        .expect("deleted");
    let seen = fake.journal();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|r| r.method == "DELETE"));
}

#[tokio::test]
async fn retries_state_not_ready_on_update_event_then_succeeds() {
    let fake = fake_api().await;
    fake.fail_next_on(Operation::UpdateEvent, 2, Fault::StateNotReady);
    update_event(&client(&fake, quick()))
        .await
        .expect("updated on the third attempt");
    assert_eq!(fake.requests(), 3);
    assert_eq!(statuses(&fake), [Some(409), Some(409), Some(200)]);
    assert_eq!(fake.event("e1").and_then(|e| e.suspect), Some(true));
}

#[tokio::test]
async fn retries_429_on_post_edge_then_succeeds() {
    let fake = fake_api().await;
    fake.fail_next_on(
        Operation::Edge,
        1,
        Fault::TooManyRequests { retry_after: None },
    );
    fake.fail_next_on(Operation::Edge, 1, edge_ok());
    let response = analyze(&client(&fake, quick())).await.expect("analyzed");
    assert_eq!(response.event_id, "e1");
    let seen = fake.journal();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|r| r.method == "POST" && !r.body.is_empty())
    );
}

/// The first attempt finds nothing listening; the server comes up during the
/// wait; the second attempt gets through. The test keeps the runtime busy
/// until the first attempt has failed, so the paused clock cannot run the
/// wait out before the listener exists.
#[tokio::test(start_paused = true)]
async fn retries_connection_refused_on_post_edge_until_the_server_listens() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let port = closed_port();
    let client = paused_builder(
        format!("http://127.0.0.1:{port}/v4"),
        RetryPolicy::standard()
            .with_initial_backoff(secs(60))
            .with_max_backoff(secs(60)),
    )
    .build()
    .expect("client builds");
    let bring_up = async {
        let mut refused = false;
        for _ in 0..200_000 {
            if !recorder.named("no response").is_empty() {
                refused = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(
            refused,
            "the first attempt never failed: {}",
            recorder.text()
        );
        let fake = FakeApi::start_on(SocketAddr::from(([127, 0, 0, 1], port)), KEY)
            .await
            .expect("the released port can be bound again");
        fake.fail_next_on(Operation::Edge, 1, edge_ok());
        fake
    };
    let (result, fake) = tokio::join!(analyze(&client), bring_up);
    let response = result.expect("second attempt reaches the server");
    assert_eq!(response.event_id, "e1");
    assert_eq!(fake.requests(), 1);
    assert_eq!(recorder.named("sending").len(), 2, "{}", recorder.text());
}

// ---------------------------------------------------------------------------
// Persistent faults: a clear error after max_attempts.

#[tokio::test]
async fn persistent_503_gives_up_after_max_attempts_with_status_and_api_error() {
    let fake = fake_api().await;
    fake.fail_next(
        ALWAYS,
        api_error(503, "service_unavailable", "try again later"),
    );
    let started = Instant::now();
    let err = get_event(&client(&fake, quick())).await.unwrap_err();
    assert!(started.elapsed() < secs(2), "{:?}", started.elapsed());
    assert_eq!(fake.requests(), 3);
    assert!(matches!(err, Error::Api { .. }), "{err:?}");
    assert_eq!(err.attempts(), 3);
    assert_eq!(status_of(&err), Some(503));
    assert_eq!(err.retry_after(), None);
    let api = err.api_error().expect("decoded API error");
    assert_eq!(api.code, types::ErrorCode::ServiceUnavailable);
    assert_eq!(api.message, "try again later");
    let shown = err.to_string();
    assert!(shown.contains("3 attempts"), "{shown}");
    assert!(shown.contains("503"), "{shown}");
}

#[tokio::test]
async fn persistent_html_502_with_five_attempts_keeps_the_page() {
    let page = "<html><body>502 Bad Gateway</body></html>";
    let fake = fake_api().await;
    fake.fail_next(ALWAYS, Fault::html(502, page));
    let err = get_event(&client(&fake, quick().with_max_attempts(5)))
        .await
        .unwrap_err();
    assert_eq!(fake.requests(), 5);
    assert_eq!(err.attempts(), 5);
    assert_eq!(status_of(&err), Some(502));
    assert!(err.api_error().is_none());
    assert_eq!(err.body(), Some(page));
    assert!(err.to_string().contains("5 attempts"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn persistent_429_reports_attempts_status_retry_after_and_code() {
    let fake = fake_api().await;
    fake.fail_next(
        ALWAYS,
        Fault::TooManyRequests {
            retry_after: Some(1),
        },
    );
    let started = Instant::now();
    let err = get_event(&paused_client(
        &fake,
        RetryPolicy::standard().with_max_attempts(4),
    ))
    .await
    .unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed >= secs(3) && elapsed < ms(3100), "{elapsed:?}");
    assert_eq!(fake.requests(), 4);
    assert_eq!(err.attempts(), 4);
    assert_eq!(status_of(&err), Some(429));
    assert_eq!(err.retry_after(), Some(secs(1)));
    assert_eq!(err.code(), Some(&types::ErrorCode::TooManyRequests));
    let shown = err.to_string();
    assert!(
        shown.contains("4 attempts") && shown.contains("Retry-After 1s"),
        "{shown}"
    );
}

#[tokio::test]
async fn persistent_reset_gives_a_transport_error_after_max_attempts() {
    let fake = fake_api().await;
    fake.fail_next(ALWAYS, Fault::Reset);
    let err = get_event(&client(&fake, quick())).await.unwrap_err();
    assert_eq!(fake.requests(), 3);
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.status(), None);
    assert!(!err.is_timeout());
    assert!(err.to_string().contains("3 attempts"), "{err}");
}

#[tokio::test]
async fn persistent_truncated_body_gives_a_transport_error_with_the_status() {
    let fake = fake_api().await;
    fake.fail_next(ALWAYS, Fault::Truncate { after: 16 });
    let err = get_event(&client(&fake, quick())).await.unwrap_err();
    assert_eq!(fake.requests(), 3);
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.attempts(), 3);
    assert_eq!(status_of(&err), Some(200), "the headers did arrive");
    assert_eq!(
        statuses(&fake),
        [Some(200), Some(200), Some(200)],
        "the headers arrived each time"
    );
    assert!(err.to_string().contains("3 attempts"), "{err}");
}

/// The status in a transport error belongs to the attempt that failed, not
/// to an earlier one.
#[tokio::test]
async fn reset_after_a_503_does_not_report_the_old_status() {
    let fake = fake_api().await;
    fake.fail_next(1, empty(503));
    fake.fail_next(ALWAYS, Fault::Reset);
    let err = get_event(&client(&fake, quick())).await.unwrap_err();
    assert_eq!(fake.requests(), 3);
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.status(), None, "{err}");
    assert!(!err.to_string().contains("503"), "{err}");
}

#[tokio::test]
async fn connection_refused_on_post_edge_is_retried_up_to_max_attempts() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let port = closed_port();
    let client = builder(format!("http://127.0.0.1:{port}/v4"))
        .retry(quick())
        .build()
        .expect("client builds");
    let err = analyze(&client).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.status(), None);
    let shown = err.to_string();
    assert!(
        shown.contains("could not connect") && shown.contains("3 attempts"),
        "{shown}"
    );
    assert_eq!(recorder.named("sending").len(), 3, "{}", recorder.text());
}

// ---------------------------------------------------------------------------
// What is not retried.

#[tokio::test]
async fn does_not_retry_400_403_or_404() {
    for (status, code) in [
        (400, "request_cannot_be_parsed"),
        (403, "secret_api_key_not_found"),
        (404, "event_not_found"),
    ] {
        let fake = fake_api().await;
        fake.fail_next(1, api_error(status, code, "no"));
        let err = get_event(&client(&fake, quick())).await.unwrap_err();
        assert_eq!(fake.requests(), 1, "{status}");
        assert_eq!(status_of(&err), Some(status));
        assert_eq!(err.attempts(), 1, "{status}");
        assert_eq!(err.code().map(|c| c.as_str()), Some(code));
        assert!(!err.to_string().contains("attempts"), "{err}");
    }
}

#[tokio::test]
async fn does_not_retry_other_4xx_or_501() {
    for status in [401, 405, 413, 422, 501] {
        let fake = fake_api().await;
        fake.fail_next(1, empty(status));
        let err = get_event(&client(&fake, quick())).await.unwrap_err();
        assert_eq!(fake.requests(), 1, "{status}");
        assert_eq!(status_of(&err), Some(status));
    }
}

#[tokio::test]
async fn disabled_policy_makes_one_attempt() {
    let faults = [
        empty(503),
        Fault::TooManyRequests {
            retry_after: Some(1),
        },
        Fault::Reset,
    ];
    for fault in faults {
        let fake = fake_api().await;
        fake.fail_next(1, fault.clone());
        let err = get_event(&client(&fake, RetryPolicy::disabled()))
            .await
            .unwrap_err();
        assert_eq!(fake.requests(), 1, "{fault:?}");
        assert_eq!(err.attempts(), 1, "{fault:?}");
    }
    let port = closed_port();
    let client = builder(format!("http://127.0.0.1:{port}/v4"))
        .retry(RetryPolicy::disabled())
        .build()
        .expect("client builds");
    assert_eq!(analyze(&client).await.unwrap_err().attempts(), 1);
}

#[tokio::test]
async fn post_edge_is_not_retried_on_5xx() {
    for (fault, status) in [
        (api_error(500, "failed", "boom"), 500),
        (Fault::html(502, "<h1>bad gateway</h1>"), 502),
        (empty(503), 503),
        (Fault::json(504, &json!({})), 504),
    ] {
        let fake = fake_api().await;
        fake.fail_next_on(Operation::Edge, 1, fault.clone());
        fake.fail_next_on(Operation::Edge, 1, edge_ok());
        let err = analyze(&client(&fake, quick())).await.unwrap_err();
        assert_eq!(fake.requests(), 1, "{fault:?}");
        assert_eq!(err.attempts(), 1, "{fault:?}");
        assert_eq!(status_of(&err), Some(status), "{err:?}");
        assert_eq!(statuses(&fake), [Some(status)], "{fault:?}");
    }
}

#[tokio::test]
async fn post_edge_is_not_retried_after_a_reset_or_a_truncated_body() {
    for fault in [Fault::Reset, edge_ok().cut_after(12)] {
        let fake = fake_api().await;
        fake.fail_next_on(Operation::Edge, 1, fault.clone());
        fake.fail_next_on(Operation::Edge, 1, edge_ok());
        let err = analyze(&client(&fake, quick())).await.unwrap_err();
        assert_eq!(fake.requests(), 1, "{fault:?}");
        assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn post_edge_is_not_retried_after_an_attempt_timeout() {
    let fake = fake_api().await;
    fake.fail_next_on(Operation::Edge, 1, Fault::Delay(STALL));
    fake.fail_next_on(Operation::Edge, 1, edge_ok());
    let client = builder(fake.url())
        .retry(quick())
        .attempt_timeout(ms(100))
        .build()
        .expect("client builds");
    let err = analyze(&client).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(fake.requests(), 1);
}

#[tokio::test]
async fn conflict_with_another_code_on_update_event_is_not_retried() {
    let fake = fake_api().await;
    fake.fail_next(1, api_error(409, "request_cannot_be_parsed", "conflict"));
    let err = update_event(&client(&fake, quick())).await.unwrap_err();
    assert_eq!(fake.requests(), 1);
    assert_eq!(status_of(&err), Some(409));
    assert_eq!(
        err.code().map(|c| c.as_str()),
        Some("request_cannot_be_parsed")
    );
}

#[tokio::test]
async fn persistent_state_not_ready_on_update_event_gives_up_with_the_code() {
    let fake = fake_api().await;
    fake.fail_next(ALWAYS, Fault::StateNotReady);
    let err = update_event(&client(&fake, quick())).await.unwrap_err();
    assert_eq!(fake.requests(), 3);
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.code(), Some(&types::ErrorCode::StateNotReady));
}

#[tokio::test]
async fn state_not_ready_on_get_event_is_not_retried() {
    let fake = fake_api().await;
    fake.fail_next(1, Fault::StateNotReady);
    let err = get_event(&client(&fake, quick())).await.unwrap_err();
    assert_eq!(fake.requests(), 1);
    assert_eq!(status_of(&err), Some(409));
}

#[tokio::test]
async fn decode_error_after_a_retry_counts_both_attempts() {
    let fake = fake_api().await;
    fake.fail_next(1, empty(503));
    fake.fail_next(1, Fault::json(200, &json!([])));
    let err = get_event(&client(&fake, quick())).await.unwrap_err();
    assert_eq!(fake.requests(), 2);
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert_eq!(err.attempts(), 2);
    assert_eq!(
        status_of(&err),
        Some(200),
        "the status of the answer decoded"
    );
}

#[tokio::test]
async fn invalid_json_with_200_is_a_decode_error_without_retry() {
    let fake = fake_api().await;
    fake.fail_next(1, raw_json(br#"{"event_id": "e1", "timestamp": "#));
    let err = get_event(&client(&fake, quick())).await.unwrap_err();
    assert_eq!(fake.requests(), 1);
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert_eq!(status_of(&err), Some(200));
    assert_eq!(err.body(), Some(r#"{"event_id": "e1", "timestamp": "#));
}

// ---------------------------------------------------------------------------
// Waits, on tokio's paused clock.

#[tokio::test(start_paused = true)]
async fn retries_429_after_retry_after_seconds() {
    let fake = fake_api().await;
    fake.fail_next(
        1,
        Fault::TooManyRequests {
            retry_after: Some(1),
        },
    );
    let started = Instant::now();
    get_event(&paused_client(&fake, RetryPolicy::standard()))
        .await
        .expect("second attempt succeeds");
    let elapsed = started.elapsed();
    assert!(elapsed >= secs(1) && elapsed < ms(1100), "{elapsed:?}");
    assert_eq!(fake.requests(), 2);
}

#[tokio::test(start_paused = true)]
async fn retries_429_after_retry_after_http_date() {
    // An HTTP-date has whole seconds and is read against the wall clock: 3 s
    // ahead means a wait of a little over 2 s to 3 s.
    let at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let fake = fake_api().await;
    fake.fail_next(1, empty(429).with_header("Retry-After", &date));
    let started = Instant::now();
    get_event(&paused_client(&fake, RetryPolicy::standard()))
        .await
        .expect("second attempt succeeds");
    let elapsed = started.elapsed();
    // The wait was read against the wall clock, which kept moving while the
    // request was made: at least what was left of it at the end.
    let whole_seconds = chrono::DateTime::parse_from_rfc2822(&date).expect("date");
    let left = (whole_seconds.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    assert!(
        elapsed >= left && elapsed <= ms(3100),
        "{elapsed:?} (at least {left:?})"
    );
    assert_eq!(fake.requests(), 2);
}

/// The per-delay cap limits the client's own backoff only: a server's
/// `Retry-After` (here 21 s and 120 s, past the default 20 s cap) is waited
/// out in full when it fits in the operation timeout.
#[tokio::test(start_paused = true)]
async fn a_long_retry_after_is_waited_in_full() {
    for seconds in [21u64, 120] {
        let fake = fake_api().await;
        fake.fail_next(
            1,
            Fault::TooManyRequests {
                retry_after: Some(seconds),
            },
        );
        let client = paused_builder(fake.url(), RetryPolicy::standard())
            .timeout(secs(300))
            .build()
            .expect("client builds");
        let started = Instant::now();
        get_event(&client).await.expect("second attempt succeeds");
        let elapsed = started.elapsed();
        assert!(
            elapsed >= secs(seconds) && elapsed < secs(seconds) + ms(100),
            "{seconds}: {elapsed:?}"
        );
        assert_eq!(fake.requests(), 2);
    }
}

/// The HTTP-date form of a long `Retry-After` is waited out in full too.
#[tokio::test(start_paused = true)]
async fn a_long_retry_after_date_is_waited_in_full() {
    let at = std::time::SystemTime::now() + secs(45);
    let date = chrono::DateTime::<chrono::Utc>::from(at)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let fake = fake_api().await;
    fake.fail_next(1, empty(429).with_header("Retry-After", &date));
    let started = Instant::now();
    get_event(&paused_client(&fake, RetryPolicy::standard()))
        .await
        .expect("second attempt succeeds");
    let elapsed = started.elapsed();
    // The date has a one-second resolution.
    assert!(elapsed >= secs(43) && elapsed <= secs(46), "{elapsed:?}");
    assert_eq!(fake.requests(), 2);
}

/// A `Retry-After` that does not fit in what is left of the operation
/// timeout is not waited for at all: the 429 comes back at once, with its
/// `Retry-After`, so the caller can schedule.
#[tokio::test(start_paused = true)]
async fn a_retry_after_past_the_operation_timeout_returns_at_once() {
    let at = std::time::SystemTime::now() + secs(600);
    let date = chrono::DateTime::<chrono::Utc>::from(at)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    for value in ["120".to_owned(), date] {
        let fake = fake_api().await;
        fake.fail_next(1, empty(429).with_header("Retry-After", &value));
        let client = paused_builder(fake.url(), RetryPolicy::standard())
            .timeout(secs(60))
            .build()
            .expect("client builds");
        let started = Instant::now();
        let err = get_event(&client).await.unwrap_err();
        assert!(started.elapsed() < ms(100), "{:?}", started.elapsed());
        assert!(err.is_rate_limited(), "{err:?}");
        assert_eq!(err.attempts(), 1);
        let wait = err.retry_after().expect("retry_after is kept");
        assert!(wait >= secs(119) && wait <= secs(600), "{value}: {wait:?}");
        assert_eq!(fake.requests(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn stops_retrying_when_the_total_wait_cap_would_be_passed() {
    let fake = fake_api().await;
    fake.fail_next(ALWAYS, empty(429).with_header("Retry-After", "1"));
    let policy = RetryPolicy::standard()
        .with_max_attempts(5)
        .with_max_total_wait(ms(1500));
    let started = Instant::now();
    let err = get_event(&paused_client(&fake, policy)).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(fake.requests(), 2, "a second 1 s wait would pass 1.5 s");
    assert_eq!(err.attempts(), 2);
    assert!(elapsed >= secs(1) && elapsed < ms(1100), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn backs_off_without_retry_after_within_the_jitter_bounds() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let fake = fake_api().await;
    fake.fail_next(1, empty(429));
    fake.fail_next(1, empty(503));
    let started = Instant::now();
    get_event(&paused_client(&fake, RetryPolicy::standard()))
        .await
        .expect("third attempt succeeds");
    let elapsed = started.elapsed();
    assert_eq!(fake.requests(), 3);
    let delays: Vec<u64> = recorder
        .named("retrying")
        .iter()
        .map(|e| e.number("delay_ms").expect("delay_ms"))
        .collect();
    assert_eq!(delays.len(), 2, "{}", recorder.text());
    assert!(delays[0] < 500 && delays[1] < 1000, "{delays:?}");
    // The waits really happened, on the test clock.
    let total = ms(delays[0] + delays[1]);
    assert!(
        elapsed >= total && elapsed < total + ms(10),
        "{elapsed:?} vs {delays:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_events_carry_attempt_status_delay_and_elapsed_at_debug_level() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let fake = fake_api().await;
    fake.fail_next(1, empty(429).with_header("Retry-After", "1"));
    fake.fail_next(1, empty(429).with_header("Retry-After", "2"));
    get_event(&paused_client(&fake, RetryPolicy::standard()))
        .await
        .expect("third attempt succeeds");
    let retries = recorder.named("retrying");
    assert_eq!(retries.len(), 2, "{}", recorder.text());
    for (i, event) in retries.iter().enumerate() {
        assert_eq!(event.level, tracing::Level::DEBUG);
        assert_eq!(event.number("attempt"), Some(i as u64 + 1));
        assert_eq!(event.number("status"), Some(429));
        assert_eq!(event.number("delay_ms"), Some(1000 * (i as u64 + 1)));
        assert_eq!(event.field("operation"), Some("get_event"));
    }
    // Elapsed is read on the runtime's clock: the first wait (1 s) is in the
    // second event's figure.
    let elapsed: Vec<u64> = retries
        .iter()
        .map(|e| e.number("elapsed_ms").expect("elapsed_ms"))
        .collect();
    assert!(
        elapsed[0] < 100 && (1000..1100).contains(&elapsed[1]),
        "{elapsed:?}"
    );
    assert_eq!(recorder.named("sending").len(), 3);
    let ours: Vec<_> = recorder
        .events()
        .into_iter()
        .filter(|e| e.message().starts_with("fingerprint-server-sdk"))
        .collect();
    assert_eq!(ours.len(), 3 + 3 + 2, "{}", recorder.text());
    assert!(
        ours.iter().all(|e| e.level == tracing::Level::DEBUG),
        "{}",
        recorder.text()
    );
}

// ---------------------------------------------------------------------------
// Timeouts.

#[tokio::test]
async fn stalled_server_gives_an_attempt_timeout_without_retries() {
    let fake = fake_api().await;
    fake.set_delay(STALL);
    let client = builder(fake.url())
        .retry(RetryPolicy::disabled())
        .attempt_timeout(ms(200))
        .build()
        .expect("client builds");
    let started = Instant::now();
    let err = get_event(&client).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(elapsed >= ms(200) && elapsed < secs(1), "{elapsed:?}");
    assert_eq!(fake.requests(), 1);
    assert_eq!(err.attempts(), 1);
    assert_eq!(err.status(), None);
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn stalled_server_gives_the_operation_timeout_with_retries_on() {
    let fake = fake_api().await;
    fake.set_delay(STALL);
    let client = builder(fake.url())
        .retry(quick())
        .timeout(ms(500))
        .build()
        .expect("client builds");
    let started = Instant::now();
    let err = get_event(&client).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_timeout());
    assert_eq!(err.attempts(), 1);
    assert!(elapsed >= ms(500) && elapsed < ms(1500), "{elapsed:?}");
    assert!(err.to_string().contains("500ms"), "{err}");
}

#[tokio::test]
async fn operation_timeout_covers_every_attempt_of_a_stalling_server() {
    let fake = fake_api().await;
    fake.set_delay(STALL);
    let client = builder(fake.url())
        .retry(quick().with_max_attempts(10))
        .attempt_timeout(ms(150))
        .timeout(ms(400))
        .build()
        .expect("client builds");
    let started = Instant::now();
    let err = get_event(&client).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(elapsed >= ms(400) && elapsed < ms(1400), "{elapsed:?}");
    // Attempts start at about 0, 150 and 300 ms; the last one may be cut
    // before the server has read it.
    let attempts = u64::from(err.attempts());
    assert!((2..=3).contains(&attempts), "{err}");
    assert!(
        (2..=attempts).contains(&fake.requests()),
        "{} hits, {attempts} attempts",
        fake.requests()
    );
}

/// A listener with a backlog of 0 that never accepts: once one connection
/// fills its queue, the next handshakes go unanswered.
async fn unanswered_handshakes() -> (tokio::net::TcpListener, Vec<tokio::net::TcpStream>) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(([127, 0, 0, 1], 0).into()).expect("bind");
    let listener = socket.listen(0).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut queued = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(ms(200), tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => queued.push(stream),
            _ => return (listener, queued),
        }
    }
    panic!("the accept queue never filled: connect timeouts cannot be tested here");
}

#[tokio::test]
async fn connect_timeout_on_post_edge_is_retried_as_never_sent() {
    let (listener, _queued) = unanswered_handshakes().await;
    let client = builder(format!("http://{}/v4", listener.local_addr().unwrap()))
        .retry(quick())
        .connect_timeout(ms(100))
        .build()
        .expect("client builds");
    let started = Instant::now();
    let err = analyze(&client).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.attempts(), 3, "{err}");
    assert!(elapsed >= ms(300) && elapsed < secs(2), "{elapsed:?}");
    let shown = err.to_string();
    assert!(
        shown.contains("could not connect") && shown.contains("connect timeout"),
        "{shown}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_past_the_operation_timeout_returns_the_429_at_once() {
    let fake = fake_api().await;
    fake.fail_next(
        1,
        Fault::TooManyRequests {
            retry_after: Some(10),
        },
    );
    let client = paused_builder(fake.url(), RetryPolicy::standard())
        .timeout(secs(3))
        .build()
        .expect("client builds");
    let started = Instant::now();
    let err = get_event(&client).await.unwrap_err();
    let elapsed = started.elapsed();
    // Waiting 10 s could only end in a timeout at 3 s: the caller gets the
    // 429 and its Retry-After now instead.
    assert!(matches!(err, Error::Api { .. }), "{err:?}");
    assert!(elapsed < secs(1), "{elapsed:?}");
    assert_eq!(err.attempts(), 1);
    assert_eq!(status_of(&err), Some(429));
    assert_eq!(err.retry_after(), Some(secs(10)));
    assert_eq!(fake.requests(), 1);
}

// ---------------------------------------------------------------------------
// Large bodies.

/// A valid `EventSearch` page of about `size` bytes.
fn big_search_page(size: usize) -> String {
    let padding = "x".repeat(50_000);
    let events: Vec<_> = (0..size / 50_000)
        .map(|i| {
            json!({
                "event_id": format!("e{i}"),
                "timestamp": 1_708_102_555_327_i64,
                "url": format!("https://shop.example/{padding}")
            })
        })
        .collect();
    json!({"events": events}).to_string()
}

#[tokio::test]
async fn several_megabyte_search_page_after_a_503_is_decoded_whole() {
    let page = big_search_page(5 * MIB);
    assert!(page.len() > 5 * MIB - 100_000, "{}", page.len());
    let fake = fake_api().await;
    fake.fail_next(1, empty(503));
    fake.fail_next(1, raw_json(page.into_bytes()));
    let result = client(&fake, quick())
        .search_events()
        .limit(10)
        .send()
        .await
        .expect("page")
        .into_inner();
    assert_eq!(fake.requests(), 2);
    assert_eq!(result.events.len(), 5 * MIB / 50_000);
    assert_eq!(result.events[7].event_id, "e7");
    assert!(
        result.events[7]
            .url
            .as_deref()
            .is_some_and(|u| u.len() > 50_000)
    );
}

#[tokio::test]
async fn several_megabyte_html_502_keeps_one_mebibyte_of_body() {
    let page = format!(
        "<html><body>{}</body></html>",
        "<p>bad gateway</p>".repeat(5 * MIB / 18)
    );
    let fake = fake_api().await;
    fake.fail_next(3, Fault::html(502, page.clone()));
    let err = get_event(&client(&fake, quick())).await.unwrap_err();
    assert_eq!(fake.requests(), 3);
    assert_eq!(err.attempts(), 3);
    assert_eq!(status_of(&err), Some(502));
    let body = err.body().expect("body kept");
    assert_eq!(body.len(), MIB, "capped at 1 MiB");
    assert!(page.starts_with(body), "the start of the page is kept");
    assert!(err.to_string().len() < 2_000, "Display stays short");
}

#[tokio::test]
async fn several_megabyte_html_502_on_post_edge_keeps_one_mebibyte_of_body() {
    let page = "<p>bad gateway</p>".repeat(5 * MIB / 18);
    let fake = fake_api().await;
    fake.fail_next(1, Fault::html(502, page.clone()));
    let err = analyze(&client(&fake, quick())).await.unwrap_err();
    assert_eq!(fake.requests(), 1);
    let body = err.body().expect("body kept");
    assert_eq!(body.len(), MIB);
    assert!(page.starts_with(body));
}

// ---------------------------------------------------------------------------
// The key stays home.

/// The host a redirect points to. It cannot be a fake API: it stands for a
/// host that is not the API, so it answers without asking for a key (a fake
/// refuses a request without one), and it keeps each request as the raw
/// text that arrived (a fake's journal holds `Authorization` redacted).
mod foreign_host {
    use std::sync::{Arc, Mutex, PoisonError};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    /// The largest request head kept; the SDK's are far smaller.
    const MAX_HEAD: usize = 64 * 1024;

    /// Answers every request with event `e1` and closes the connection.
    pub struct ForeignHost {
        pub port: u16,
        seen: Arc<Mutex<Vec<String>>>,
        task: JoinHandle<()>,
    }

    impl ForeignHost {
        pub async fn start() -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let port = listener.local_addr().expect("addr").port();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let task = tokio::spawn(serve(listener, seen.clone()));
            Self { port, seen, task }
        }

        /// Each request's head as it arrived, in order.
        pub fn seen(&self) -> Vec<String> {
            self.seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }
    }

    impl Drop for ForeignHost {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    async fn serve(listener: TcpListener, seen: Arc<Mutex<Vec<String>>>) {
        let body = r#"{"event_id":"e1","timestamp":1708102555327}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut chunk = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&chunk[..n]),
                }
            }
            seen.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(String::from_utf8_lossy(&head).into_owned());
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    }
}

/// Host A (the fake) answers every request with a 301 to `location` (on
/// host B); B answers with an event. Whatever reqwest does with the
/// redirect, B must never see the key.
async fn redirect_keeps_the_key_from(location_host: &str) {
    let b = foreign_host::ForeignHost::start().await;
    let location = format!("http://{location_host}:{}/v4/events/e1", b.port);
    let a = fake_api().await;
    a.fail_next(ALWAYS, empty(301).with_header("location", &location));
    let result = get_event(&client(&a, RetryPolicy::disabled())).await;

    let to_a = a.journal();
    assert_eq!(to_a.len(), 1);
    // The fake serves a fault only to a request with its key: the 301 shows
    // the key went to the API host (the journal keeps it redacted).
    assert_eq!(
        (to_a[0].header("authorization"), to_a[0].status),
        (Some("Bearer [redacted]"), Some(301)),
        "the key does go to the API host"
    );
    let to_b = b.seen();
    for request in &to_b {
        assert!(
            !request.to_ascii_lowercase().contains("\r\nauthorization:"),
            "{location_host}: {request}"
        );
        assert!(!request.contains(KEY_PART), "{location_host}: {request}");
    }
    match result {
        // reqwest followed the redirect without the header.
        Ok(event) => {
            assert_eq!(event.event_id, "e1");
            assert_eq!(to_b.len(), 1);
        }
        // Or it did not follow.
        Err(err) => {
            assert_eq!(to_b.len(), 0, "{err:?}");
            assert_eq!(status_of(&err), Some(301), "{err:?}");
        }
    }
}

#[tokio::test]
async fn authorization_is_not_sent_to_another_host_after_a_redirect() {
    redirect_keeps_the_key_from("localhost").await;
}

#[tokio::test]
async fn authorization_is_not_sent_to_another_port_after_a_redirect() {
    redirect_keeps_the_key_from("127.0.0.1").await;
}

/// Every kind of failure, with tracing on: the key is in no error's
/// `Display`, `Debug` or source chain, and in no traced event.
#[tokio::test]
async fn api_key_never_appears_in_errors_or_traces() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let mut errors = Vec::new();

    let script = [
        Fault::TooManyRequests {
            retry_after: Some(0),
        },
        api_error(503, "service_unavailable", "down"),
        Fault::html(502, "<h1>gateway</h1>"),
        empty(401),
        Fault::Reset,
        raw_json([b'{'; 100]).cut_after(1),
        raw_json(b"not json"),
    ];
    for fault in script {
        let fake = fake_api().await;
        fake.fail_next(ALWAYS, fault);
        let client = client(&fake, quick());
        // update_event ignores a 200's body, so not every call fails.
        errors.extend(get_event(&client).await.err());
        errors.extend(update_event(&client).await.err());
        errors.extend(analyze(&client).await.err());
    }
    let stall = fake_api().await;
    stall.set_delay(STALL);
    let timing_out = builder(stall.url()).retry(quick()).attempt_timeout(ms(50));
    errors.push(
        get_event(&timing_out.clone().build().unwrap())
            .await
            .unwrap_err(),
    );
    errors.push(
        get_event(&timing_out.timeout(ms(80)).build().unwrap())
            .await
            .unwrap_err(),
    );
    let refused = builder(format!("http://127.0.0.1:{}/v4", closed_port()))
        .retry(quick())
        .build()
        .unwrap();
    errors.push(analyze(&refused).await.unwrap_err());
    errors.push(
        Client::builder(format!("{KEY}\u{7}"))
            .base_url(stall.url())
            .build()
            .unwrap_err(),
    );

    assert!(errors.len() >= 20);
    for err in &errors {
        let mut texts = vec![err.to_string(), format!("{err:?}"), format!("{err:#?}")];
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            texts.push(s.to_string());
            texts.push(format!("{s:?}"));
            source = s.source();
        }
        for text in texts {
            assert!(!text.contains(KEY_PART), "key leaked: {text}");
        }
    }
    let traced = recorder.text();
    assert!(recorder.named("retrying").len() >= 5, "{traced}");
    assert!(
        !traced.contains(KEY_PART),
        "key leaked into traces: {traced}"
    );

    let client = client(&stall, quick());
    assert!(!format!("{client:?}").contains(KEY_PART));
    assert!(!format!("{:?}", builder(stall.url())).contains(KEY_PART));
}
