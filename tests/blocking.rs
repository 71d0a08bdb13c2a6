//! The blocking client (feature `blocking`) against the embedded fake API,
//! which runs on a runtime of its own: every operation, retries, errors, the
//! search iterator across pages, use from several threads, and what happens
//! on a thread of a tokio runtime (an error, never a panic).

#![cfg(feature = "blocking")]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::sync::mpsc;
use std::time::Duration;

use fingerprint_server_sdk::mock::{self, FakeApi, Fault};
use fingerprint_server_sdk::{Error, RetryPolicy, blocking, types};
use serde_json::{Value, json};

/// The fake API and the runtime it is served from (a worker thread of its
/// own, so the blocking calls of a test never drive it).
struct Fake {
    api: FakeApi,
    _runtime: tokio::runtime::Runtime,
}

impl Fake {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the fake");
        let api = runtime.block_on(FakeApi::start()).expect("the fake starts");
        Self {
            api,
            _runtime: runtime,
        }
    }

    /// A blocking client of the fake, with `retry`.
    fn client(&self, retry: RetryPolicy) -> blocking::Client {
        blocking::ClientBuilder::from(self.api.client_builder())
            .retry(retry)
            .build()
            .expect("the blocking client builds")
    }

    fn insert(&self, event: Value) {
        self.api.insert_json(event).expect("a valid event");
    }
}

/// Retries after very short waits.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::standard()
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

fn event_json(id: &str, visitor: &str, minutes_ago: i64) -> Value {
    json!({
        "event_id": id,
        "timestamp": mock::now_ms() - minutes_ago * 60_000,
        "identification": {"visitor_id": visitor, "visitor_found": true, "confidence": {"score": 0.99}},
        "bot": "not_detected"
    })
}

fn ids(events: &[types::Event]) -> Vec<&str> {
    events.iter().map(|e| e.event_id.as_str()).collect()
}

fn assert_in_runtime_error(err: &Error) {
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("cannot be used inside an async runtime") && text.contains("async Client"),
        "{text}"
    );
}

// ---- the operations ------------------------------------------------------

#[test]
fn gets_an_event() {
    let fake = Fake::start();
    fake.insert(event_json("evt_1", "vis_1", 1));
    let client = fake.client(RetryPolicy::disabled());

    let event = client
        .run(|c| c.get_event().event_id("evt_1").send())
        .expect("the event")
        .into_inner();

    assert_eq!(event.event_id, "evt_1");
    assert_eq!(
        event.identification.map(|i| i.visitor_id).as_deref(),
        Some("vis_1")
    );
}

#[test]
fn json_of_an_event_is_what_was_stored() {
    let fake = Fake::start();
    let mut stored = event_json("evt_json", "vis_1", 1);
    stored["a_field_from_the_future"] = json!({"kept": true});
    fake.insert(stored);
    let client = fake.client(RetryPolicy::disabled());

    let event = client
        .run(|c| c.get_event().event_id("evt_json").send_json())
        .expect("the event")
        .into_inner();

    assert_eq!(event["a_field_from_the_future"], json!({"kept": true}));
}

#[test]
fn searches_one_page() {
    let fake = Fake::start();
    for (i, minutes) in [(1, 30), (2, 20), (3, 10)] {
        fake.insert(event_json(&format!("evt_{i}"), "vis_1", minutes));
    }
    fake.insert(event_json("evt_other", "vis_2", 5));
    let client = fake.client(RetryPolicy::disabled());

    let page = client
        .run(|c| c.search_events().visitor_id("vis_1").limit(2).send())
        .expect("a page")
        .into_inner();

    // Newest first, two of the three.
    assert_eq!(ids(&page.events), ["evt_3", "evt_2"]);
    assert!(page.pagination_key.is_some());
}

#[test]
fn search_parameters_set_by_name_apply() {
    let fake = Fake::start();
    fake.insert(event_json("evt_a", "vis_a", 1));
    fake.insert(event_json("evt_b", "vis_b", 2));
    let client = fake.client(RetryPolicy::disabled());

    let page = client
        .run(|c| async move {
            c.search_events()
                .with_parameter("visitor_id", "vis_b")?
                .send()
                .await
        })
        .expect("a page")
        .into_inner();

    assert_eq!(ids(&page.events), ["evt_b"]);
}

#[test]
fn updates_an_event() {
    let fake = Fake::start();
    fake.insert(event_json("evt_up", "vis_1", 1));
    let client = fake.client(RetryPolicy::disabled());

    client
        .run(|c| {
            c.update_event()
                .event_id("evt_up")
                .body(types::EventUpdate {
                    linked_id: Some("order-7".into()),
                    suspect: Some(true),
                    ..Default::default()
                })
                .send()
        })
        .expect("the update");

    let stored = fake.api.event("evt_up").expect("still there");
    assert_eq!(stored.linked_id.as_deref(), Some("order-7"));
    assert_eq!(stored.suspect, Some(true));
}

#[test]
fn deletes_a_visitor_and_its_event_is_then_not_found() {
    let fake = Fake::start();
    fake.insert(event_json("evt_del", "vis_del", 1));
    let client = fake.client(RetryPolicy::disabled());

    client
        .run(|c| c.delete_visitor_data().visitor_id("vis_del").send())
        .expect("the deletion");

    let err = client
        .run(|c| c.get_event().event_id("evt_del").send())
        .expect_err("the event is gone");
    assert!(err.is_not_found(), "{err:?}");
}

// ---- errors and retries --------------------------------------------------

#[test]
fn an_unknown_event_is_the_same_error_as_with_the_async_client() {
    let fake = Fake::start();
    let client = fake.client(quick_retries());

    let err = client
        .run(|c| c.get_event().event_id("no-such-event").send())
        .expect_err("404");

    assert!(err.is_not_found(), "{err:?}");
    assert!(matches!(err, Error::Api { .. }), "{err:?}");
    assert_eq!(err.code(), Some(&types::ErrorCode::EventNotFound));
    assert_eq!(err.operation(), Some("get_event"));
    assert_eq!(err.attempts(), 1, "a 404 is not retried");
}

#[test]
fn an_invalid_request_is_refused_before_sending() {
    let fake = Fake::start();
    let client = fake.client(RetryPolicy::disabled());

    let err = client
        .run(|c| c.get_event().event_id("..").send())
        .expect_err("refused");

    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    assert_eq!(fake.api.requests(), 0);
}

#[test]
fn a_503_is_retried_through_the_same_pipeline() {
    let fake = Fake::start();
    fake.insert(event_json("evt_r", "vis_1", 1));
    fake.api.fail_next(1, Fault::Status(503));
    let client = fake.client(quick_retries());

    let event = client
        .run(|c| c.get_event().event_id("evt_r").send())
        .expect("the second attempt succeeds")
        .into_inner();

    assert_eq!(event.event_id, "evt_r");
    assert_eq!(fake.api.requests(), 2);
}

#[test]
fn a_per_call_retry_policy_applies() {
    let fake = Fake::start();
    fake.insert(event_json("evt_p", "vis_1", 1));
    fake.api.fail_next(1, Fault::Status(503));
    let client = fake.client(quick_retries());

    let err = client
        .run(|c| {
            c.get_event()
                .event_id("evt_p")
                .retry_policy(RetryPolicy::disabled())
                .send()
        })
        .expect_err("one attempt only");

    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(err.attempts(), 1);
    assert_eq!(fake.api.requests(), 1);
}

#[test]
fn an_empty_key_is_a_config_error() {
    let err = blocking::Client::builder("  ")
        .build()
        .expect_err("refused");
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
}

// ---- the search iterator -------------------------------------------------

#[test]
fn iterates_every_event_of_a_search_across_pages() {
    let fake = Fake::start();
    for i in 0..5 {
        fake.insert(event_json(&format!("evt_{i}"), "vis_it", 50 - i));
    }
    fake.insert(event_json("evt_other", "vis_other", 1));
    let client = fake.client(RetryPolicy::disabled());

    let mut events = client.iter(|c| {
        c.search_events()
            .visitor_id("vis_it")
            .limit(2)
            .into_stream()
    });
    let got: Vec<String> = events
        .by_ref()
        .map(|e| e.expect("an event").event_id)
        .collect();

    assert_eq!(got, ["evt_4", "evt_3", "evt_2", "evt_1", "evt_0"]);
    assert_eq!(events.get_ref().pages_received(), 3);
    assert_eq!(fake.api.requests(), 3);
    assert!(events.next().is_none(), "fused");
}

#[test]
fn the_iterator_requests_no_page_past_max_events() {
    let fake = Fake::start();
    for i in 0..6 {
        fake.insert(event_json(&format!("evt_{i}"), "vis_max", 60 - i));
    }
    let client = fake.client(RetryPolicy::disabled());

    let got = client
        .iter(|c| {
            c.search_events()
                .visitor_id("vis_max")
                .limit(2)
                .into_stream()
                .max_events(3)
        })
        .collect::<Result<Vec<_>, _>>()
        .expect("three events");

    assert_eq!(ids(&got), ["evt_5", "evt_4", "evt_3"]);
    assert_eq!(fake.api.requests(), 2);
}

#[test]
fn an_error_in_the_middle_of_a_search_is_yielded_once_and_ends_it() {
    let fake = Fake::start();
    for i in 0..5 {
        fake.insert(event_json(&format!("evt_{i}"), "vis_err", 50 - i));
    }
    let client = fake.client(RetryPolicy::disabled());

    let mut events = client.iter(|c| {
        c.search_events()
            .visitor_id("vis_err")
            .limit(2)
            .into_stream()
    });
    assert!(events.next().expect("first").is_ok());
    assert!(events.next().expect("second").is_ok());
    fake.api.fail_next(1, Fault::Status(500));
    let err = events
        .next()
        .expect("an item")
        .expect_err("the page failed");

    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert_eq!(err.operation(), Some("search_events"));
    assert!(events.next().is_none());
    assert_eq!(fake.api.requests(), 2);
}

#[test]
fn iterates_whole_pages() {
    let fake = Fake::start();
    for i in 0..3 {
        fake.insert(event_json(&format!("evt_{i}"), "vis_pages", 30 - i));
    }
    let client = fake.client(RetryPolicy::disabled());

    let sizes: Vec<usize> = client
        .iter(|c| {
            c.search_events()
                .visitor_id("vis_pages")
                .limit(2)
                .into_page_stream()
        })
        .map(|page| page.expect("a page").events.len())
        .collect();

    assert_eq!(sizes, [2, 1]);
}

// ---- threads -------------------------------------------------------------

#[test]
fn the_client_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<blocking::Client>();
}

#[test]
fn several_threads_call_through_one_client_at_once() {
    const THREADS: usize = 8;
    const CALLS: usize = 10;
    let fake = Fake::start();
    for t in 0..THREADS {
        fake.insert(event_json(&format!("evt_t{t}"), &format!("vis_t{t}"), 1));
    }
    let client = fake.client(RetryPolicy::disabled());

    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let client = &client;
                scope.spawn(move || {
                    let id = format!("evt_t{t}");
                    for _ in 0..CALLS {
                        let event = client
                            .run(|c| c.get_event().event_id(&id).send())
                            .expect("the event")
                            .into_inner();
                        assert_eq!(event.event_id, id);
                    }
                    let searched = client
                        .iter(|c| {
                            c.search_events()
                                .visitor_id(format!("vis_t{t}"))
                                .into_stream()
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .expect("the search");
                    assert_eq!(ids(&searched), [id.as_str()]);
                })
            })
            .collect();
        for handle in handles {
            handle.join().expect("no thread panicked");
        }
    });

    assert_eq!(fake.api.requests(), (THREADS * (CALLS + 1)) as u64);
}

// ---- on a thread of a tokio runtime --------------------------------------

#[tokio::test]
async fn a_call_inside_a_runtime_is_an_error_not_a_panic() {
    let fake = FakeApi::start().await.expect("the fake starts");
    let client = blocking::ClientBuilder::from(fake.client_builder())
        .build()
        .expect("building inside a runtime is allowed");

    let mut called = false;
    let err = client
        .run(|c| {
            called = true;
            c.get_event().event_id("evt_1").send()
        })
        .expect_err("refused");

    assert_in_runtime_error(&err);
    assert!(!called, "the call is not even built");
    assert_eq!(fake.requests(), 0);
    // Dropped here, inside the runtime.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_iterator_inside_a_runtime_yields_one_error_then_ends() {
    let fake = FakeApi::start().await.expect("the fake starts");
    fake.insert_json(event_json("evt_1", "vis_1", 1))
        .expect("a valid event");
    let client = blocking::ClientBuilder::from(fake.client_builder())
        .build()
        .expect("the client builds");

    let mut events = client.iter(|c| c.search_events().into_stream());
    let err = events.next().expect("one item").expect_err("refused");

    assert_in_runtime_error(&err);
    assert!(events.next().is_none());
    assert_eq!(fake.requests(), 0);
}

#[tokio::test]
async fn spawn_blocking_threads_are_refused_too() {
    let fake = FakeApi::start().await.expect("the fake starts");
    let client = blocking::ClientBuilder::from(fake.client_builder())
        .build()
        .expect("the client builds");

    let err = tokio::task::spawn_blocking(move || {
        client
            .run(|c| c.get_event().event_id("evt_1").send())
            .expect_err("refused")
    })
    .await
    .expect("no panic");

    assert_in_runtime_error(&err);
}

#[test]
fn a_used_client_dropped_inside_a_runtime_does_not_panic() {
    let fake = Fake::start();
    fake.insert(event_json("evt_d", "vis_1", 1));
    let client = fake.client(RetryPolicy::disabled());
    // A call first, so the client's runtime holds a pooled connection.
    client
        .run(|c| c.get_event().event_id("evt_d").send())
        .expect("the event");

    for flavor in ["current_thread", "multi_thread"] {
        let client = fake.client(RetryPolicy::disabled());
        client
            .run(|c| c.get_event().event_id("evt_d").send())
            .expect("the event");
        let runtime = match flavor {
            "current_thread" => tokio::runtime::Builder::new_current_thread().build(),
            _ => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .build(),
        }
        .expect("a runtime");
        let task = runtime.spawn(async move { drop(client) });
        runtime.block_on(task).expect("the task did not panic");
    }
    runtime_block_on_drop(client);
}

/// Drops `client` directly in `block_on` (not in a spawned task).
fn runtime_block_on_drop(client: blocking::Client) {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(async move { drop(client) });
}

// ---- connections ---------------------------------------------------------

/// A keep-alive connection the server closes while the client is idle is
/// noticed (the client's worker keeps watching its sockets between calls),
/// so the next call opens a new one instead of failing on the dead one.
#[test]
fn a_connection_closed_by_the_server_while_idle_is_not_reused() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (noticed_tx, noticed_rx) = mpsc::channel();
    let (idle_tx, idle_rx) = mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let body = json!({"event_id": "evt_k", "timestamp": 1_708_102_555_327_i64}).to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        for connection in 0..2 {
            let (mut stream, _) = listener.accept().expect("accept");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            read_head(&mut stream);
            stream.write_all(response.as_bytes()).expect("write");
            if connection == 0 {
                // Once the client's call has returned, close our side of
                // the idle keep-alive connection, then wait for the client
                // to close its side.
                idle_rx.recv().expect("the first call returned");
                stream.shutdown(Shutdown::Write).expect("shutdown");
                let mut rest = Vec::new();
                let closed = stream.read_to_end(&mut rest).is_ok();
                let _ = noticed_tx.send(closed && rest.is_empty());
            }
        }
    });

    let client = blocking::Client::builder("sk_test")
        .base_url(format!("http://{addr}/v4"))
        .retry(RetryPolicy::disabled())
        .build()
        .expect("the client builds");
    let get = || client.run(|c| c.get_event().event_id("evt_k").send());

    get().expect("the first call");
    idle_tx.send(()).expect("the server waits");
    let noticed = noticed_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the client closed the connection the server had closed");
    assert!(noticed, "the client sent nothing more on it");
    let event = get()
        .expect("the second call, on a new connection, with no retry")
        .into_inner();
    assert_eq!(event.event_id, "evt_k");
    server.join().expect("the server thread");
}

/// Reads a request head (the test's requests have no body).
fn read_head(stream: &mut std::net::TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => panic!("the request head ended early"),
        }
    }
}
