//! axum extractors for webhook endpoints: [`VerifiedEvent`] checks the signature of the request
//! and yields the event, [`VerifiedBody`] checks it and yields the raw body.
//!
//! The secrets come from the router's state through [`FromRef`]: put a [`WebhookSecrets`] in
//! the state (or make it reachable from your state type with a `FromRef` impl), and take the
//! extractor as the handler's last argument, since it reads the body.
//!
//! A request that fails is answered without reaching the handler, by [`WebhookRejection`]:
//! 401 when the signature header is missing or does not match, 400 when the body is signed but
//! is not an event, 500 when the state holds no non-empty secret, and axum's own answer (413
//! over the body limit, 400 for a body that cannot be read) when the body cannot be read. The
//! answer's text says what failed, never a secret.
//!
//! ```no_run
//! use axum::{Router, routing::post};
//! use fingerprint_server_sdk::webhook::WebhookSecrets;
//! use fingerprint_server_sdk::webhook::axum::VerifiedEvent;
//!
//! async fn on_webhook(VerifiedEvent(event): VerifiedEvent) -> &'static str {
//!     println!("webhook for {}", event.event_id);
//!     "ok"
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! // The current secret, and the previous one while the dashboard still signs with it.
//! let secrets = WebhookSecrets::new("<webhook secret>").with("<previous secret>");
//! let app = Router::new().route("/webhook", post(on_webhook)).with_state(secrets);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! With a state of your own, say where its secrets are:
//!
//! ```
//! use axum_core::extract::FromRef;
//! use fingerprint_server_sdk::webhook::WebhookSecrets;
//!
//! #[derive(Clone)]
//! struct AppState {
//!     webhook_secrets: WebhookSecrets,
//!     // ... the rest of the application's state
//! }
//!
//! impl FromRef<AppState> for WebhookSecrets {
//!     fn from_ref(state: &AppState) -> Self {
//!         state.webhook_secrets.clone()
//!     }
//! }
//! ```

use std::fmt;

use axum_core::extract::rejection::BytesRejection;
use axum_core::extract::{FromRef, FromRequest, Request};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;

use super::{WebhookError, WebhookSecrets, verify_request};
use crate::types::Event;

/// Extracts the [`Event`] of a webhook request whose signature matches one of the
/// [`WebhookSecrets`] of the router's state.
///
/// Fields of the event that this version of the SDK does not know are dropped; take
/// [`VerifiedBody`] instead to keep the body exactly as it was sent.
#[derive(Debug, Clone)]
pub struct VerifiedEvent(pub Event);

impl VerifiedEvent {
    /// The event.
    pub fn into_inner(self) -> Event {
        self.0
    }
}

/// Extracts the raw body of a webhook request whose signature matches one of the
/// [`WebhookSecrets`] of the router's state, without reading it as an event.
#[derive(Debug, Clone)]
pub struct VerifiedBody(pub Bytes);

impl VerifiedBody {
    /// The body bytes, as received.
    pub fn into_inner(self) -> Bytes {
        self.0
    }
}

impl<S> FromRequest<S> for VerifiedBody
where
    WebhookSecrets: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let secrets = WebhookSecrets::from_ref(state);
        // The body extractor consumes the request; the signature header is needed after it.
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(WebhookRejection::Body)?;
        verify_request(&headers, &body, &secrets).map_err(WebhookRejection::Webhook)?;
        Ok(Self(body))
    }
}

impl<S> FromRequest<S> for VerifiedEvent
where
    WebhookSecrets: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let VerifiedBody(body) = VerifiedBody::from_request(request, state).await?;
        serde_json::from_slice(&body)
            .map(Self)
            .map_err(|err| WebhookRejection::Webhook(WebhookError::InvalidEvent(err)))
    }
}

/// Why [`VerifiedEvent`] or [`VerifiedBody`] refused a request; answers it with
/// [`status`](Self::status) and the error's text.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The request failed the signature check, or its signed body is not an event.
    Webhook(WebhookError),
    /// The body could not be read (larger than the router's body limit, or the connection
    /// failed); axum's own rejection, answered as axum answers it.
    Body(BytesRejection),
}

impl WebhookRejection {
    /// The status the rejection is answered with: [`WebhookError::status`] for a failed check,
    /// axum's for a body that could not be read.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::Webhook(err) => err.status(),
            Self::Body(rejection) => rejection.status(),
        }
    }
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Webhook(err) => err.fmt(f),
            Self::Body(rejection) => write!(f, "cannot read the webhook body: {rejection}"),
        }
    }
}

impl std::error::Error for WebhookRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Webhook(err) => Some(err),
            Self::Body(rejection) => Some(rejection),
        }
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        tracing::debug!(
            status = self.status().as_u16(),
            "webhook request rejected: {self}"
        );
        match self {
            Self::Webhook(err) => (err.status(), format!("{err}\n")).into_response(),
            Self::Body(rejection) => rejection.into_response(),
        }
    }
}
