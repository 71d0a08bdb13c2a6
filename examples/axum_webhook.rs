//! A webhook endpoint built with axum and the SDK's `VerifiedEvent` extractor.
//!
//! ```text
//! FINGERPRINT_WEBHOOK_SECRET=... cargo run --example axum_webhook --features axum -- [PORT]
//! ```
//!
//! It listens on 127.0.0.1, on the port given as the first argument, else 8788, and accepts
//! `POST /webhook`. While you replace the webhook secret, set the old one in
//! `FINGERPRINT_WEBHOOK_SECRET_PREVIOUS` too: requests signed with either pass. A valid request
//! is answered 200 with the event as the SDK read it (JSON) and printed; a missing or wrong
//! signature gets 401, a signed body that is not an event 400, without reaching the handler.
//!
//! To try it, sign a body with `fingerprint webhook sign` or `webhook::sign` and send it with
//! the `fpjs-event-signature` header.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::post;
use fingerprint_server_sdk::webhook::WebhookSecrets;
use fingerprint_server_sdk::webhook::axum::VerifiedEvent;
use tokio::net::TcpListener;

/// Port used when none is given (one above `webhook_receiver`'s, so both can run).
pub const DEFAULT_PORT: u16 = 8788;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(secrets) = secrets_from_env() else {
        eprintln!("set FINGERPRINT_WEBHOOK_SECRET to the webhook secret shown in the dashboard");
        return ExitCode::from(2);
    };
    let port = match std::env::args().nth(1).map(|text| text.parse::<u16>()) {
        None => DEFAULT_PORT,
        Some(Ok(port)) => port,
        Some(Err(_)) => {
            eprintln!("the port must be a number from 0 to 65535");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(addr) = listener.local_addr() {
        println!("waiting for webhooks on http://{addr}/webhook");
    }
    match axum::serve(listener, app(secrets)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("server stopped: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The secrets from `FINGERPRINT_WEBHOOK_SECRET` and, during a rotation,
/// `FINGERPRINT_WEBHOOK_SECRET_PREVIOUS`; `None` when the first is unset or empty.
fn secrets_from_env() -> Option<WebhookSecrets> {
    let current = std::env::var("FINGERPRINT_WEBHOOK_SECRET")
        .ok()
        .filter(|secret| !secret.is_empty())?;
    let secrets = WebhookSecrets::new(current);
    Some(match std::env::var("FINGERPRINT_WEBHOOK_SECRET_PREVIOUS") {
        Ok(previous) if !previous.is_empty() => secrets.with(previous),
        _ => secrets,
    })
}

/// The endpoint: `POST /webhook`, checked against `secrets`.
pub fn app(secrets: WebhookSecrets) -> Router {
    Router::new()
        .route("/webhook", post(on_webhook))
        .with_state(secrets)
}

/// Runs only for requests whose signature matched and whose body is an event.
async fn on_webhook(VerifiedEvent(event): VerifiedEvent) -> impl IntoResponse {
    let visitor = event
        .identification
        .as_ref()
        .map_or("?", |identification| identification.visitor_id.as_str());
    println!("event {} from visitor {visitor}", event.event_id);
    match serde_json::to_string(&event) {
        Ok(json) => ([(CONTENT_TYPE, "application/json")], json).into_response(),
        Err(err) => format!("cannot write the event back: {err}").into_response(),
    }
}
