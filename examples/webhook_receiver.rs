//! A small HTTP endpoint that receives Fingerprint webhooks, checks their signature and prints
//! each event.
//!
//! ```text
//! FINGERPRINT_WEBHOOK_SECRET=... cargo run --example webhook_receiver -- [PORT]
//! ```
//!
//! It listens on 127.0.0.1, on the port given as the first argument, else in the environment
//! variable `PORT`, else 8787. Every request is answered:
//! - 200 when the signature is valid and the body is an event (the event is printed);
//! - 401 when the signature header is missing or does not match;
//! - 400 when the signature is valid but the body is not an event;
//! - 405 for anything but POST, 413 for bodies over 1 MiB.
//!
//! To try it without waiting for a real webhook, sign a body with the SDK's helper
//! (`fingerprint_server_sdk::webhook::sign`) and send it with the `fpjs-event-signature` header.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use fingerprint_server_sdk::webhook::{self, WebhookError};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Body;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Port used when none is given.
pub const DEFAULT_PORT: u16 = 8787;

/// Largest request body accepted; real events are a few KiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let secret = match std::env::var("FINGERPRINT_WEBHOOK_SECRET") {
        Ok(secret) if !secret.is_empty() => secret,
        _ => {
            eprintln!(
                "set FINGERPRINT_WEBHOOK_SECRET to the webhook secret shown in the dashboard"
            );
            return ExitCode::from(2);
        }
    };
    let port_text = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok());
    let port = match port_text.as_deref().map(str::parse::<u16>) {
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
    match listener.local_addr() {
        Ok(addr) => println!("waiting for webhooks on http://{addr}/"),
        Err(_) => println!("waiting for webhooks on port {port}"),
    }
    match serve(listener, Arc::from(secret.into_bytes())).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("server stopped: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Accepts connections on `listener` forever, answering each request with [`handle`].
pub async fn serve(listener: TcpListener, secret: Arc<[u8]>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let secret = Arc::clone(&secret);
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(request, Arc::clone(&secret)));
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection error: {err}");
            }
        });
    }
}

/// Answers one webhook request: checks the method, reads at most [`MAX_BODY_BYTES`], verifies
/// the signature and prints the event.
pub async fn handle<B>(
    request: Request<B>,
    secret: Arc<[u8]>,
) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if request.method() != Method::POST {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED, "use POST\n".into()));
    }
    let signature = match request.headers().get(webhook::SIGNATURE_HEADER) {
        None => String::new(),
        Some(value) => match value.to_str() {
            Ok(text) => text.to_owned(),
            Err(_) => {
                let text = "signature header is not ASCII\n".to_owned();
                return Ok(reply(StatusCode::UNAUTHORIZED, text));
            }
        },
    };
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            let text = format!("body larger than {MAX_BODY_BYTES} bytes\n");
            return Ok(reply(StatusCode::PAYLOAD_TOO_LARGE, text));
        }
        Err(err) => {
            return Ok(reply(
                StatusCode::BAD_REQUEST,
                format!("cannot read body: {err}\n"),
            ));
        }
    };

    match webhook::parse_event(&signature, &body, &secret) {
        Ok(event) => {
            // Read the fields through JSON so this example does not depend on the generated
            // types' field shapes.
            let json = serde_json::to_value(&event).unwrap_or_default();
            let event_id = json["event_id"].as_str().unwrap_or("?").to_owned();
            println!(
                "event {event_id} at {} from visitor {}",
                json["timestamp"],
                json["identification"]["visitor_id"].as_str().unwrap_or("?")
            );
            if let Ok(pretty) = serde_json::to_string_pretty(&json) {
                println!("{pretty}");
            }
            Ok(reply(StatusCode::OK, format!("received {event_id}\n")))
        }
        Err(err @ WebhookError::InvalidEvent(_)) => {
            eprintln!("rejected: {err}");
            Ok(reply(StatusCode::BAD_REQUEST, format!("{err}\n")))
        }
        Err(err) => {
            eprintln!("rejected: {err}");
            Ok(reply(StatusCode::UNAUTHORIZED, format!("{err}\n")))
        }
    }
}

fn reply(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
}
