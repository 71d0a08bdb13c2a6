//! Fault injection: the client against a server of the tests' own that
//! answers with throttling, gateway errors, resets, stalls, truncated and
//! oversized bodies and redirects. Each test counts the attempts at the
//! server and checks what the caller gets back.
//!
//! Waits that matter (`Retry-After`, backoff, the operation timeout) are
//! measured on tokio's paused clock: the server runs in the test's runtime,
//! every reqwest timer is set far away, and `tokio::time::Instant` gives the
//! virtual time spent. Tests on the real clock use millisecond backoffs.

#[path = "common/fault_server.rs"]
mod fault_server;

use std::time::Duration;

use fault_server::{FaultServer, Reply};
use fingerprint_server_sdk::{Client, ClientBuilder, Error, ResponseValue, RetryPolicy, types};
use reqwest::StatusCode;
use serde_json::json;
use tokio::time::Instant;

const KEY: &str = "sk_test_faults_Zq8vK2mW9xR4tY7u";
/// A part of the key that is unlikely to appear anywhere by chance.
const KEY_PART: &str = "Zq8vK2mW9xR4tY7u";

const MIB: usize = 1 << 20;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
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
fn client(server: &FaultServer, policy: RetryPolicy) -> Client {
    builder(server.base_url())
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

fn paused_client(server: &FaultServer, policy: RetryPolicy) -> Client {
    paused_builder(server.base_url(), policy)
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

fn edge_ok() -> Reply {
    Reply::json(
        200,
        json!({"event_id": "e1", "timestamp": 1_708_102_555_327_i64, "ip_info": {}}).to_string(),
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

/// `get_event` against `[fault, event]`: it must succeed on the second
/// attempt.
async fn get_event_recovers_after(fault: Reply) {
    let server = FaultServer::start([fault.clone(), Reply::event("e1")]).await;
    let event = get_event(&client(&server, quick()))
        .await
        .unwrap_or_else(|e| panic!("after {fault:?}: {e}"))
        .into_inner();
    assert_eq!(event.event_id, "e1");
    assert_eq!(server.hits(), 2, "after {fault:?}");
}

#[tokio::test]
async fn retries_500_with_json_body_then_succeeds() {
    get_event_recovers_after(Reply::api_error(500, "failed", "internal")).await;
}

#[tokio::test]
async fn retries_502_with_html_body_then_succeeds() {
    get_event_recovers_after(Reply::html(
        502,
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
    ))
    .await;
}

#[tokio::test]
async fn retries_503_with_empty_body_then_succeeds() {
    get_event_recovers_after(Reply::status(503)).await;
}

#[tokio::test]
async fn retries_504_with_json_body_then_succeeds() {
    get_event_recovers_after(Reply::json(504, r#"{"message":"upstream timed out"}"#)).await;
}

#[tokio::test]
async fn retries_429_then_succeeds() {
    get_event_recovers_after(Reply::api_error(429, "too_many_requests", "slow down")).await;
}

#[tokio::test]
async fn retries_reset_connection_on_get_then_succeeds() {
    get_event_recovers_after(Reply::Reset).await;
}

#[tokio::test]
async fn retries_truncated_body_on_get_then_succeeds() {
    get_event_recovers_after(Reply::Truncated {
        status: 200,
        declared: 400,
        body: br#"{"event_id":"e1","timest"#.to_vec(),
    })
    .await;
}

#[tokio::test]
async fn retries_truncated_error_body_on_get_then_succeeds() {
    get_event_recovers_after(Reply::Truncated {
        status: 503,
        declared: 400,
        body: br#"{"error":{"co"#.to_vec(),
    })
    .await;
}

#[tokio::test]
async fn retries_a_stalled_attempt_on_get_then_succeeds() {
    let server = FaultServer::start([Reply::Stall, Reply::event("e1")]).await;
    let client = builder(server.base_url())
        .retry(quick())
        .attempt_timeout(ms(200))
        .build()
        .expect("client builds");
    let started = Instant::now();
    let event = get_event(&client).await.expect("second attempt answers");
    assert_eq!(event.event_id, "e1");
    assert_eq!(server.hits(), 2);
    assert!(started.elapsed() >= ms(200), "{:?}", started.elapsed());
}

#[tokio::test]
async fn retries_503_on_patch_update_event_then_succeeds() {
    let server = FaultServer::start([Reply::status(503), Reply::status(200)]).await;
    let response = update_event(&client(&server, quick()))
        .await
        .expect("updated");
    assert_eq!(response.status(), StatusCode::OK);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(request.method, "PATCH");
        let body: serde_json::Value = serde_json::from_slice(&request.body).expect("JSON body");
        assert_eq!(body, json!({"suspect": true}), "the body is resent whole");
    }
}

#[tokio::test]
async fn retries_502_on_delete_visitor_data_then_succeeds() {
    let server =
        FaultServer::start([Reply::html(502, "<h1>bad gateway</h1>"), Reply::status(200)]).await;
    client(&server, quick())
        .delete_visitor_data()
        .visitor_id("v1")
        .send()
        .await
        .expect("deleted");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|r| r.method == "DELETE"));
}

#[tokio::test]
async fn retries_state_not_ready_on_update_event_then_succeeds() {
    let server = FaultServer::start([
        Reply::api_error(409, "state_not_ready", "event not processed yet"),
        Reply::api_error(409, "state_not_ready", "event not processed yet"),
        Reply::status(200),
    ])
    .await;
    update_event(&client(&server, quick()))
        .await
        .expect("updated on the third attempt");
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn retries_429_on_post_edge_then_succeeds() {
    let server = FaultServer::start([
        Reply::api_error(429, "too_many_requests", "slow down"),
        edge_ok(),
    ])
    .await;
    let response = analyze(&client(&server, quick())).await.expect("analyzed");
    assert_eq!(response.event_id, "e1");
    let seen = server.seen();
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
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the released port can be bound again");
        FaultServer::serve(listener, [edge_ok()])
    };
    let (result, server) = tokio::join!(analyze(&client), bring_up);
    let response = result.expect("second attempt reaches the server");
    assert_eq!(response.event_id, "e1");
    assert_eq!(server.hits(), 1);
    assert_eq!(recorder.named("sending").len(), 2, "{}", recorder.text());
}

// ---------------------------------------------------------------------------
// Persistent faults: a clear error after max_attempts.

#[tokio::test]
async fn persistent_503_gives_up_after_max_attempts_with_status_and_api_error() {
    let server = FaultServer::start([Reply::api_error(
        503,
        "service_unavailable",
        "try again later",
    )])
    .await;
    let started = Instant::now();
    let err = get_event(&client(&server, quick())).await.unwrap_err();
    assert!(started.elapsed() < secs(2), "{:?}", started.elapsed());
    assert_eq!(server.hits(), 3);
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
    let server = FaultServer::start([Reply::html(502, page)]).await;
    let err = get_event(&client(&server, quick().with_max_attempts(5)))
        .await
        .unwrap_err();
    assert_eq!(server.hits(), 5);
    assert_eq!(err.attempts(), 5);
    assert_eq!(status_of(&err), Some(502));
    assert!(err.api_error().is_none());
    assert_eq!(err.body(), Some(page));
    assert!(err.to_string().contains("5 attempts"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn persistent_429_reports_attempts_status_retry_after_and_code() {
    let server = FaultServer::start([
        Reply::api_error(429, "too_many_requests", "rate limited").header("Retry-After", "1")
    ])
    .await;
    let started = Instant::now();
    let err = get_event(&paused_client(
        &server,
        RetryPolicy::standard().with_max_attempts(4),
    ))
    .await
    .unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed >= secs(3) && elapsed < ms(3100), "{elapsed:?}");
    assert_eq!(server.hits(), 4);
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
    let server = FaultServer::start([Reply::Reset]).await;
    let err = get_event(&client(&server, quick())).await.unwrap_err();
    assert_eq!(server.hits(), 3);
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.status(), None);
    assert!(!err.is_timeout());
    assert!(err.to_string().contains("3 attempts"), "{err}");
}

#[tokio::test]
async fn persistent_truncated_body_gives_a_transport_error_with_the_status() {
    let server = FaultServer::start([Reply::Truncated {
        status: 200,
        declared: 1000,
        body: br#"{"event_id":"e1""#.to_vec(),
    }])
    .await;
    let err = get_event(&client(&server, quick())).await.unwrap_err();
    assert_eq!(server.hits(), 3);
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.attempts(), 3);
    assert_eq!(status_of(&err), Some(200), "the headers did arrive");
    assert!(err.to_string().contains("3 attempts"), "{err}");
}

/// The status in a transport error belongs to the attempt that failed, not
/// to an earlier one.
#[tokio::test]
async fn reset_after_a_503_does_not_report_the_old_status() {
    let server = FaultServer::start([Reply::status(503), Reply::Reset]).await;
    let err = get_event(&client(&server, quick())).await.unwrap_err();
    assert_eq!(server.hits(), 3);
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
        let server =
            FaultServer::start([Reply::api_error(status, code, "no"), Reply::event("e1")]).await;
        let err = get_event(&client(&server, quick())).await.unwrap_err();
        assert_eq!(server.hits(), 1, "{status}");
        assert_eq!(status_of(&err), Some(status));
        assert_eq!(err.attempts(), 1, "{status}");
        assert_eq!(err.code().map(|c| c.as_str()), Some(code));
        assert!(!err.to_string().contains("attempts"), "{err}");
    }
}

#[tokio::test]
async fn does_not_retry_other_4xx_or_501() {
    for status in [401, 405, 413, 422, 501] {
        let server = FaultServer::start([Reply::status(status), Reply::event("e1")]).await;
        let err = get_event(&client(&server, quick())).await.unwrap_err();
        assert_eq!(server.hits(), 1, "{status}");
        assert_eq!(status_of(&err), Some(status));
    }
}

#[tokio::test]
async fn disabled_policy_makes_one_attempt() {
    let faults = [
        Reply::status(503),
        Reply::api_error(429, "too_many_requests", "slow").header("Retry-After", "1"),
        Reply::Reset,
    ];
    for fault in faults {
        let server = FaultServer::start([fault.clone(), Reply::event("e1")]).await;
        let err = get_event(&client(&server, RetryPolicy::disabled()))
            .await
            .unwrap_err();
        assert_eq!(server.hits(), 1, "{fault:?}");
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
    for fault in [
        Reply::api_error(500, "failed", "boom"),
        Reply::html(502, "<h1>bad gateway</h1>"),
        Reply::status(503),
        Reply::json(504, "{}"),
    ] {
        let server = FaultServer::start([fault.clone(), edge_ok()]).await;
        let err = analyze(&client(&server, quick())).await.unwrap_err();
        assert_eq!(server.hits(), 1, "{fault:?}");
        assert_eq!(err.attempts(), 1, "{fault:?}");
        assert!(status_of(&err).is_some_and(|s| s >= 500), "{err:?}");
    }
}

#[tokio::test]
async fn post_edge_is_not_retried_after_a_reset_or_a_truncated_body() {
    let truncated = Reply::Truncated {
        status: 200,
        declared: 500,
        body: br#"{"event_id":"#.to_vec(),
    };
    for fault in [Reply::Reset, truncated] {
        let server = FaultServer::start([fault.clone(), edge_ok()]).await;
        let err = analyze(&client(&server, quick())).await.unwrap_err();
        assert_eq!(server.hits(), 1, "{fault:?}");
        assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn post_edge_is_not_retried_after_an_attempt_timeout() {
    let server = FaultServer::start([Reply::Stall, edge_ok()]).await;
    let client = builder(server.base_url())
        .retry(quick())
        .attempt_timeout(ms(100))
        .build()
        .expect("client builds");
    let err = analyze(&client).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn conflict_with_another_code_on_update_event_is_not_retried() {
    let server = FaultServer::start([
        Reply::api_error(409, "request_cannot_be_parsed", "conflict"),
        Reply::status(200),
    ])
    .await;
    let err = update_event(&client(&server, quick())).await.unwrap_err();
    assert_eq!(server.hits(), 1);
    assert_eq!(status_of(&err), Some(409));
    assert_eq!(
        err.code().map(|c| c.as_str()),
        Some("request_cannot_be_parsed")
    );
}

#[tokio::test]
async fn persistent_state_not_ready_on_update_event_gives_up_with_the_code() {
    let server = FaultServer::start([Reply::api_error(409, "state_not_ready", "not yet")]).await;
    let err = update_event(&client(&server, quick())).await.unwrap_err();
    assert_eq!(server.hits(), 3);
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.code(), Some(&types::ErrorCode::StateNotReady));
}

#[tokio::test]
async fn state_not_ready_on_get_event_is_not_retried() {
    let server = FaultServer::start([
        Reply::api_error(409, "state_not_ready", "not yet"),
        Reply::event("e1"),
    ])
    .await;
    let err = get_event(&client(&server, quick())).await.unwrap_err();
    assert_eq!(server.hits(), 1);
    assert_eq!(status_of(&err), Some(409));
}

#[tokio::test]
async fn decode_error_after_a_retry_counts_both_attempts() {
    let server = FaultServer::start([Reply::status(503), Reply::json(200, "[]")]).await;
    let err = get_event(&client(&server, quick())).await.unwrap_err();
    assert_eq!(server.hits(), 2);
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
    let server = FaultServer::start([
        Reply::json(200, r#"{"event_id": "e1", "timestamp": "#),
        Reply::event("e1"),
    ])
    .await;
    let err = get_event(&client(&server, quick())).await.unwrap_err();
    assert_eq!(server.hits(), 1);
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert_eq!(status_of(&err), Some(200));
    assert_eq!(err.body(), Some(r#"{"event_id": "e1", "timestamp": "#));
}

// ---------------------------------------------------------------------------
// Waits, on tokio's paused clock.

#[tokio::test(start_paused = true)]
async fn retries_429_after_retry_after_seconds() {
    let server = FaultServer::start([
        Reply::status(429).header("Retry-After", "1"),
        Reply::event("e1"),
    ])
    .await;
    let started = Instant::now();
    get_event(&paused_client(&server, RetryPolicy::standard()))
        .await
        .expect("second attempt succeeds");
    let elapsed = started.elapsed();
    assert!(elapsed >= secs(1) && elapsed < ms(1100), "{elapsed:?}");
    assert_eq!(server.hits(), 2);
}

#[tokio::test(start_paused = true)]
async fn retries_429_after_retry_after_http_date() {
    // An HTTP-date has whole seconds and is read against the wall clock: 3 s
    // ahead means a wait of a little over 2 s to 3 s.
    let at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let server = FaultServer::start([
        Reply::status(429).header("Retry-After", &date),
        Reply::event("e1"),
    ])
    .await;
    let started = Instant::now();
    get_event(&paused_client(&server, RetryPolicy::standard()))
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
    assert_eq!(server.hits(), 2);
}

/// The per-delay cap limits the client's own backoff only: a server's
/// `Retry-After` (here 21 s and 120 s, past the default 20 s cap) is waited
/// out in full when it fits in the operation timeout.
#[tokio::test(start_paused = true)]
async fn a_long_retry_after_is_waited_in_full() {
    for seconds in [21u64, 120] {
        let server = FaultServer::start([
            Reply::status(429).header("Retry-After", &seconds.to_string()),
            Reply::event("e1"),
        ])
        .await;
        let client = paused_builder(server.base_url(), RetryPolicy::standard())
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
        assert_eq!(server.hits(), 2);
    }
}

/// The HTTP-date form of a long `Retry-After` is waited out in full too.
#[tokio::test(start_paused = true)]
async fn a_long_retry_after_date_is_waited_in_full() {
    let at = std::time::SystemTime::now() + secs(45);
    let date = chrono::DateTime::<chrono::Utc>::from(at)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let server = FaultServer::start([
        Reply::status(429).header("Retry-After", &date),
        Reply::event("e1"),
    ])
    .await;
    let started = Instant::now();
    get_event(&paused_client(&server, RetryPolicy::standard()))
        .await
        .expect("second attempt succeeds");
    let elapsed = started.elapsed();
    // The date has a one-second resolution.
    assert!(elapsed >= secs(43) && elapsed <= secs(46), "{elapsed:?}");
    assert_eq!(server.hits(), 2);
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
        let server = FaultServer::start([
            Reply::status(429).header("Retry-After", &value),
            Reply::event("e1"),
        ])
        .await;
        let client = paused_builder(server.base_url(), RetryPolicy::standard())
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
        assert_eq!(server.hits(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn stops_retrying_when_the_total_wait_cap_would_be_passed() {
    let server = FaultServer::start([Reply::status(429).header("Retry-After", "1")]).await;
    let policy = RetryPolicy::standard()
        .with_max_attempts(5)
        .with_max_total_wait(ms(1500));
    let started = Instant::now();
    let err = get_event(&paused_client(&server, policy))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(server.hits(), 2, "a second 1 s wait would pass 1.5 s");
    assert_eq!(err.attempts(), 2);
    assert!(elapsed >= secs(1) && elapsed < ms(1100), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn backs_off_without_retry_after_within_the_jitter_bounds() {
    let recorder = Recorder::default();
    let _guard = recorder.install();
    let server =
        FaultServer::start([Reply::status(429), Reply::status(503), Reply::event("e1")]).await;
    let started = Instant::now();
    get_event(&paused_client(&server, RetryPolicy::standard()))
        .await
        .expect("third attempt succeeds");
    let elapsed = started.elapsed();
    assert_eq!(server.hits(), 3);
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
    let server = FaultServer::start([
        Reply::status(429).header("Retry-After", "1"),
        Reply::status(429).header("Retry-After", "2"),
        Reply::event("e1"),
    ])
    .await;
    get_event(&paused_client(&server, RetryPolicy::standard()))
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
    let server = FaultServer::start([Reply::Stall]).await;
    let client = builder(server.base_url())
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
    assert_eq!(server.hits(), 1);
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn stalled_server_gives_the_operation_timeout_with_retries_on() {
    let server = FaultServer::start([Reply::Stall]).await;
    let client = builder(server.base_url())
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
    let server = FaultServer::start([Reply::Stall]).await;
    let client = builder(server.base_url())
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
    let attempts = err.attempts() as usize;
    assert!((2..=3).contains(&attempts), "{err}");
    assert!(
        (2..=attempts).contains(&server.hits()),
        "{} hits, {attempts} attempts",
        server.hits()
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
    let server = FaultServer::start([
        Reply::api_error(429, "too_many_requests", "later").header("Retry-After", "10"),
        Reply::event("e1"),
    ])
    .await;
    let client = paused_builder(server.base_url(), RetryPolicy::standard())
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
    assert_eq!(server.hits(), 1);
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
    let server = FaultServer::start([Reply::status(503), Reply::json(200, page)]).await;
    let result = client(&server, quick())
        .search_events()
        .limit(10)
        .send()
        .await
        .expect("page")
        .into_inner();
    assert_eq!(server.hits(), 2);
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
    let server = FaultServer::start([Reply::html(502, page.clone())]).await;
    let err = get_event(&client(&server, quick())).await.unwrap_err();
    assert_eq!(server.hits(), 3);
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
    let server = FaultServer::start([Reply::html(502, page.clone())]).await;
    let err = analyze(&client(&server, quick())).await.unwrap_err();
    assert_eq!(server.hits(), 1);
    let body = err.body().expect("body kept");
    assert_eq!(body.len(), MIB);
    assert!(page.starts_with(body));
}

// ---------------------------------------------------------------------------
// The key stays home.

/// Host A answers every request with a 301 to `location` (on host B); B
/// answers with an event. Whatever reqwest does with the redirect, B must
/// never see the key.
async fn redirect_keeps_the_key_from(location_host: &str) {
    let b = FaultServer::start([Reply::event("e1")]).await;
    let location = format!("http://{location_host}:{}/v4/events/e1", b.port());
    let a = FaultServer::start([Reply::redirect(&location)]).await;
    let result = get_event(&client(&a, RetryPolicy::disabled())).await;

    let to_a = a.seen();
    assert_eq!(to_a.len(), 1);
    assert_eq!(
        to_a[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str()),
        "the key does go to the API host"
    );
    let to_b = b.seen();
    for request in &to_b {
        assert!(
            request.header("authorization").is_none(),
            "{location_host}: {request:?}"
        );
        assert!(!request.contains(KEY_PART), "{location_host}: {request:?}");
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
        Reply::api_error(429, "too_many_requests", "slow").header("Retry-After", "0"),
        Reply::api_error(503, "service_unavailable", "down"),
        Reply::html(502, "<h1>gateway</h1>"),
        Reply::status(401),
        Reply::Reset,
        Reply::Truncated {
            status: 200,
            declared: 100,
            body: b"{".to_vec(),
        },
        Reply::json(200, "not json"),
    ];
    for fault in script {
        let server = FaultServer::start([fault]).await;
        let client = client(&server, quick());
        // update_event ignores a 200's body, so not every call fails.
        errors.extend(get_event(&client).await.err());
        errors.extend(update_event(&client).await.err());
        errors.extend(analyze(&client).await.err());
    }
    let stall = FaultServer::start([Reply::Stall]).await;
    let timing_out = builder(stall.base_url())
        .retry(quick())
        .attempt_timeout(ms(50));
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
            .base_url(stall.base_url())
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
    assert!(!format!("{:?}", builder(stall.base_url())).contains(KEY_PART));
}
