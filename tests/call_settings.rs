//! Per-call settings, the retry budget, a client brought by the caller, and
//! the errors a caller branches on, against the embedded fake API.

use std::time::Duration;

use fingerprint_server_sdk::mock::{FakeApi, Fault};
use fingerprint_server_sdk::{Client, Error, Region, RetryBudget, RetryPolicy};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Standard retries with millisecond waits and no budget unless given.
fn quick() -> RetryPolicy {
    RetryPolicy::standard()
        .with_initial_backoff(ms(1))
        .with_max_backoff(ms(5))
        .without_budget()
}

async fn fake_with_event() -> FakeApi {
    let fake = FakeApi::start().await.expect("fake starts");
    fake.insert(&fingerprint_server_sdk::mock::event("e1", "v1"))
        .expect("inserted");
    fake
}

#[tokio::test]
async fn a_per_call_timeout_shorter_than_the_clients_applies_to_that_call_only() {
    let fake = fake_with_event().await;
    fake.set_delay(ms(400));
    let client = fake
        .client_builder()
        .timeout(Duration::from_secs(30))
        .retry(RetryPolicy::disabled())
        .build()
        .expect("client");
    let err = client
        .get_event()
        .event_id("e1")
        .timeout(ms(100))
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::Timeout { limit, .. } => assert_eq!(*limit, ms(100)),
        other => panic!("expected the operation timeout: {other:?}"),
    }
    assert!(err.is_timeout() && err.is_retryable());
    // The same client, without the override, waits for the answer.
    let event = client
        .get_event()
        .event_id("e1")
        .send()
        .await
        .expect("the client's timeout is 30 s");
    assert_eq!(event.event_id, "e1");
}

#[tokio::test]
async fn a_per_call_retry_policy_overrides_the_clients_both_ways() {
    let fake = fake_with_event().await;
    let no_retries = fake
        .client_builder()
        .retry(RetryPolicy::disabled())
        .build()
        .expect("client");
    fake.fail_next(1, Fault::Status(503));
    let event = no_retries
        .get_event()
        .event_id("e1")
        .retry_policy(quick())
        .send()
        .await
        .expect("this call retries the 503");
    assert_eq!(event.event_id, "e1");
    assert_eq!(fake.requests(), 2);

    let retrying = fake
        .client_builder()
        .retry(quick())
        .build()
        .expect("client");
    fake.fail_next(1, Fault::Status(503));
    let err = retrying
        .get_event()
        .event_id("e1")
        .retry_policy(RetryPolicy::disabled())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert!(err.is_server_error() && err.is_retryable());
    assert_eq!(fake.requests(), 3);
}

#[tokio::test]
async fn the_retry_budget_runs_dry_then_refills_with_successes() {
    let fake = fake_with_event().await;
    // Ten tokens: one failing call's two retries (5 each) empty the bucket.
    let policy = quick().with_budget(RetryBudget::standard().with_capacity(10));
    let client = fake.client_builder().retry(policy).build().expect("client");

    fake.fail_next(3, Fault::Status(503));
    let err = client.get_event().event_id("e1").send().await.unwrap_err();
    assert_eq!(err.attempts(), 3, "a full bucket pays for two retries");

    fake.fail_next(3, Fault::Status(503));
    let err = client.get_event().event_id("e1").send().await.unwrap_err();
    assert_eq!(err.attempts(), 1, "an empty bucket pays for none");
    fake.clear_faults();

    // Each first-attempt success puts one token back: five pay for a retry.
    for _ in 0..5 {
        client.get_event().event_id("e1").send().await.expect("ok");
    }
    fake.fail_next(1, Fault::Status(503));
    client
        .get_event()
        .event_id("e1")
        .send()
        .await
        .expect("one retry is paid for again");

    // A call may opt out of the budget with its own policy.
    fake.fail_next(3, Fault::Status(503));
    let _ = client.get_event().event_id("e1").send().await;
    fake.clear_faults();
    fake.fail_next(2, Fault::Status(503));
    client
        .get_event()
        .event_id("e1")
        .retry_policy(quick())
        .send()
        .await
        .expect("without a budget the call retries as its policy says");
}

#[tokio::test]
async fn your_own_http_client_keeps_its_default_headers_and_gets_ours() {
    let fake = fake_with_event().await;
    let mut defaults = reqwest::header::HeaderMap::new();
    defaults.insert("x-app", "billing-service".parse().expect("header"));
    let own = reqwest::Client::builder()
        .default_headers(defaults)
        .build()
        .expect("reqwest client");
    let client = fake
        .client_builder()
        .http_client(own)
        .user_agent_suffix("billing/2.1")
        .build()
        .expect("client");
    client.get_event().event_id("e1").send().await.expect("ok");

    let journal = fake.journal();
    let request = journal.last().expect("one request");
    assert_eq!(
        request.header("x-app"),
        Some("billing-service"),
        "the client's own"
    );
    assert_eq!(
        request.header("authorization"),
        Some("Bearer [redacted]"),
        "the key"
    );
    let agent = request.header("user-agent").expect("user agent");
    assert!(
        agent.starts_with(fingerprint_server_sdk::SDK_IDENTIFIER) && agent.ends_with("billing/2.1"),
        "{agent}"
    );
    assert_eq!(
        request.query_value("ii"),
        Some(fingerprint_server_sdk::SDK_IDENTIFIER)
    );
}

#[tokio::test]
async fn your_own_http_client_still_gets_retries_and_the_attempt_timeout() {
    let fake = fake_with_event().await;
    let client = fake
        .client_builder()
        .http_client(reqwest::Client::new())
        .retry(quick())
        .attempt_timeout(ms(150))
        .build()
        .expect("client");
    fake.fail_next(1, Fault::Delay(ms(600)));
    let event = client
        .get_event()
        .event_id("e1")
        .send()
        .await
        .expect("the slow attempt times out and the retry succeeds");
    assert_eq!(event.event_id, "e1");
    assert_eq!(fake.requests(), 2, "one slow attempt, one retry");
}

#[tokio::test]
async fn a_setter_error_names_the_parameter_the_value_and_why() {
    let client = Client::builder("k").build().expect("client");
    let err = client
        .search_events()
        .start("2024-13-45")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    let shown = err.to_string();
    for part in [
        "start",
        "\"2024-13-45\"",
        "RFC 3339",
        "whole number",
        "out of range",
    ] {
        assert!(shown.contains(part), "{part:?} missing from: {shown}");
    }
    assert_eq!(err.attempts(), 0, "nothing was sent");

    let err = client
        .search_events()
        .with_parameter("vpn", "maybe")
        .unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.contains("vpn") && shown.contains("\"maybe\""),
        "{shown}"
    );
    let err = client
        .search_events()
        .with_parameter("no_such_filter", "1")
        .unwrap_err();
    assert!(err.to_string().contains("\"no_such_filter\""), "{err}");
}

#[tokio::test]
async fn errors_say_what_kind_they_are_and_leave_the_hint_to_hint() {
    let fake = fake_with_event().await;
    let client = fake
        .client_builder()
        .retry(RetryPolicy::disabled())
        .build()
        .expect("client");

    fake.fail_next(
        1,
        Fault::TooManyRequests {
            retry_after: Some(3),
        },
    );
    let throttled = client.get_event().event_id("e1").send().await.unwrap_err();
    assert!(throttled.is_rate_limited() && throttled.is_retryable());
    assert!(!throttled.is_server_error() && !throttled.is_decode());
    assert_eq!(throttled.retry_after(), Some(Duration::from_secs(3)));

    let missing = client
        .get_event()
        .event_id("nope")
        .send()
        .await
        .unwrap_err();
    assert!(missing.is_not_found() && !missing.is_retryable());
    let hint = missing.hint().expect("a hint for a missing event");
    assert!(
        !missing.to_string().contains(hint) && !missing.to_string().contains("hint"),
        "Display leaves the hint out: {missing}"
    );

    fake.fail_next(1, Fault::json(200, &serde_json::json!({"not": "an event"})));
    let undecodable = client.get_event().event_id("e1").send().await.unwrap_err();
    assert!(
        undecodable.is_decode() && !undecodable.is_retryable(),
        "{undecodable:?}"
    );

    fake.fail_next(1, Fault::Close);
    let lost = client.get_event().event_id("e1").send().await.unwrap_err();
    match &lost {
        Error::Transport { source, .. } => {
            assert!(!source.is_timeout());
            assert!(
                std::error::Error::source(source).is_some(),
                "the client's error is the source"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(lost.is_retryable());
}

#[test]
fn an_unknown_region_has_its_own_error() {
    let err = "mars".parse::<Region>().unwrap_err();
    assert_eq!(err.given(), "mars");
    assert!(err.to_string().contains("\"mars\""), "{err}");
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(boxed.to_string().starts_with("unknown region"));
}
