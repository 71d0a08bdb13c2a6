//! Tests of the axum extractors (`webhook::axum`) against a real axum server on 127.0.0.1: the
//! router of `examples/axum_webhook.rs`, and routers with an application state of their own.
#![cfg(feature = "axum")]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::FromRef;
use axum::routing::post;
use fingerprint_server_sdk::webhook::axum::VerifiedBody;
use fingerprint_server_sdk::webhook::{self, SIGNATURE_HEADER, WebhookSecrets};
use serde_json::Value;
use tokio::net::TcpListener;

#[allow(dead_code)]
#[path = "../examples/axum_webhook.rs"]
mod example;

/// The project's own webhook fixture: body and the secret it is signed with.
fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/webhook")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

const OTHER_SECRET: &str = "another-secret-0f3a91";

/// Serves `app` on a free loopback port until the test ends; returns the base URL.
async fn serve(app: Router) -> String {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// What the client saw: status and body text.
struct Answer {
    status: u16,
    content_type: String,
    text: String,
}

async fn post_webhook(url: &str, signature: Option<&str>, body: &[u8]) -> Answer {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header(SIGNATURE_HEADER, signature);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("a body");
    Answer {
        status,
        content_type,
        text,
    }
}

fn assert_no_secret(answer: &Answer, secrets: &[&[u8]]) {
    for secret in secrets {
        let secret = String::from_utf8_lossy(secret);
        assert!(
            !answer.text.contains(&*secret),
            "the answer reveals a secret: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn a_signed_event_reaches_the_handler_and_comes_back_as_read() {
    let (body, secret) = (fixture("event.json"), fixture("secret.txt"));
    let base = serve(example::app(WebhookSecrets::new(&secret))).await;

    let answer = post_webhook(
        &format!("{base}/webhook"),
        Some(&webhook::sign(&body, &secret)),
        &body,
    )
    .await;

    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.content_type, "application/json");
    let sent: Value = serde_json::from_slice(&body).unwrap();
    let echoed: Value = serde_json::from_str(&answer.text).unwrap();
    assert_eq!(echoed["event_id"], sent["event_id"]);
    assert_eq!(
        echoed["identification"]["visitor_id"],
        sent["identification"]["visitor_id"]
    );
}

#[tokio::test]
async fn a_request_signed_with_the_second_secret_passes_and_an_unknown_one_does_not() {
    let (body, secret) = (fixture("event.json"), fixture("secret.txt"));
    // The endpoint has moved to a new secret and still accepts the fixture's (older) one.
    let base = serve(example::app(
        WebhookSecrets::new(OTHER_SECRET).with(&secret),
    ))
    .await;
    let url = format!("{base}/webhook");

    let old = post_webhook(&url, Some(&webhook::sign(&body, &secret)), &body).await;
    assert_eq!(old.status, 200, "{}", old.text);
    let new = post_webhook(
        &url,
        Some(&webhook::sign(&body, OTHER_SECRET.as_bytes())),
        &body,
    )
    .await;
    assert_eq!(new.status, 200, "{}", new.text);

    let unknown = post_webhook(&url, Some(&webhook::sign(&body, b"not-configured")), &body).await;
    assert_eq!(unknown.status, 401, "{}", unknown.text);
    assert!(unknown.text.contains("does not match"), "{}", unknown.text);
    assert_no_secret(&unknown, &[&secret, OTHER_SECRET.as_bytes()]);
}

#[tokio::test]
async fn missing_or_bad_signatures_are_401_and_a_signed_non_event_is_400() {
    let (body, secret) = (fixture("event.json"), fixture("secret.txt"));
    let base = serve(example::app(WebhookSecrets::new(&secret))).await;
    let url = format!("{base}/webhook");
    let good = webhook::sign(&body, &secret);

    let missing = post_webhook(&url, None, &body).await;
    assert_eq!(missing.status, 401, "{}", missing.text);
    assert!(missing.text.contains(SIGNATURE_HEADER), "{}", missing.text);

    // The right signature over other bytes: one changed byte in the body.
    let mut tampered = body.clone();
    tampered[1] ^= 0x20;
    let bad = post_webhook(&url, Some(&good), &tampered).await;
    assert_eq!(bad.status, 401, "{}", bad.text);

    let malformed = post_webhook(&url, Some("v1=not-hex"), &body).await;
    assert_eq!(malformed.status, 401, "{}", malformed.text);
    assert!(malformed.text.contains("malformed"), "{}", malformed.text);

    let not_event = br#"{"hello":"world"}"#;
    let signed_junk = post_webhook(&url, Some(&webhook::sign(not_event, &secret)), not_event).await;
    assert_eq!(signed_junk.status, 400, "{}", signed_junk.text);
    assert!(
        signed_junk.text.contains("not a valid event"),
        "{}",
        signed_junk.text
    );

    for answer in [&missing, &bad, &malformed, &signed_junk] {
        assert_no_secret(answer, &[&secret]);
        // The handler never ran: it would have answered with JSON.
        assert!(
            answer.content_type.starts_with("text/plain"),
            "{}",
            answer.content_type
        );
    }
}

/// An application state of its own, from which the extractors find the secrets.
#[derive(Clone)]
struct AppState {
    secrets: WebhookSecrets,
}

impl FromRef<AppState> for WebhookSecrets {
    fn from_ref(state: &AppState) -> Self {
        state.secrets.clone()
    }
}

async fn raw_body(VerifiedBody(body): VerifiedBody) -> Vec<u8> {
    body.to_vec()
}

#[tokio::test]
async fn verified_body_gives_the_bytes_as_sent_from_an_app_state() {
    let secret = fixture("secret.txt");
    let app = Router::new()
        .route("/raw", post(raw_body))
        .with_state(AppState {
            secrets: WebhookSecrets::new(&secret),
        });
    let base = serve(app).await;
    // A field no version of the SDK knows, and spacing a re-encoding would lose.
    let body = br#"{ "event_id" : "e1", "timestamp": 1, "field_from_the_future": [1, 2] }"#;

    let answer = post_webhook(
        &format!("{base}/raw"),
        Some(&webhook::sign(body, &secret)),
        body,
    )
    .await;

    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.text.as_bytes(), body);
}

#[tokio::test]
async fn a_state_without_a_usable_secret_is_a_500_that_names_no_secret() {
    let body = fixture("event.json");
    let base = serve(example::app(WebhookSecrets::new(""))).await;

    let answer = post_webhook(
        &format!("{base}/webhook"),
        Some(&webhook::sign(&body, b"whatever")),
        &body,
    )
    .await;

    assert_eq!(answer.status, 500, "{}", answer.text);
    assert!(answer.text.contains("secret is empty"), "{}", answer.text);
}

#[tokio::test]
async fn a_body_over_the_router_limit_gets_axums_413() {
    let secret = fixture("secret.txt");
    let app = example::app(WebhookSecrets::new(&secret)).layer(DefaultBodyLimit::max(64));
    let base = serve(app).await;
    let body = fixture("event.json");
    assert!(body.len() > 64);

    let answer = post_webhook(
        &format!("{base}/webhook"),
        Some(&webhook::sign(&body, &secret)),
        &body,
    )
    .await;

    assert_eq!(answer.status, 413, "{}", answer.text);
}
