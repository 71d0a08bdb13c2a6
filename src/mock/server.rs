//! The fake's HTTP side: accept connections on 127.0.0.1, read each request,
//! let the handler decide, record it in the journal, and deliver the answer
//! (late, gzipped, cut short or not at all when a fault says so).

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::handler::{self, Delivery, Reply};
use super::journal::Entry;
use super::samples::now_ms;
use super::search;
use super::state::State;

/// Serves connections from `listener` until `stopped` changes.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<Mutex<State>>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            // A failed accept (e.g. too many open files) is not fatal: wait
            // a moment and go on.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let state = state.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { handle(&state, req).await }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stopped.changed() => {}
            }
        });
    }
}

/// The service's error: hyper closes the connection without an answer.
#[derive(Debug)]
struct CloseWithoutAnswer;

impl fmt::Display for CloseWithoutAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection closed by an injected fault")
    }
}

impl std::error::Error for CloseWithoutAnswer {}

async fn handle(
    state: &Mutex<State>,
    req: Request<Incoming>,
) -> Result<Response<WireBody>, CloseWithoutAnswer> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes());
    let query = search::form_pairs(parts.uri.query().unwrap_or(""));
    let gzip = accepts_gzip(&parts.headers);
    let request = handler::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: &query,
        authorization: parts
            .headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
        body: body.as_deref().unwrap_or_default(),
    };
    let operation = handler::operation_of(&request);
    let delivery = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        let delivery = match &body {
            Ok(_) => handler::respond(&mut state, &request, now_ms()),
            Err(_) => {
                state.requests += 1;
                Delivery::Send {
                    reply: read_failure(),
                    delay: Duration::ZERO,
                    cut_after: None,
                }
            }
        };
        // The request's parts move into the journal: nothing is copied.
        state.journal.record(Entry::new(
            parts.method,
            parts.uri,
            query,
            parts.headers,
            body.unwrap_or_default(),
            operation,
            delivery.status(),
        ));
        delivery
    };
    match delivery {
        Delivery::Close => Err(CloseWithoutAnswer),
        Delivery::Send {
            reply,
            delay,
            cut_after,
        } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let reply = if gzip { compress(reply) } else { reply };
            Ok(response(reply, cut_after))
        }
    }
}

fn read_failure() -> Reply {
    Reply {
        status: 400,
        content_type: Some("application/json".to_owned()),
        headers: Vec::new(),
        body: Bytes::from_static(
            br#"{"error":{"code":"request_read_timeout","message":"request body could not be read"}}"#,
        ),
    }
}

fn response(reply: Reply, cut_after: Option<usize>) -> Response<WireBody> {
    let declared = reply.body.len() as u64;
    let (data, cut) = match cut_after {
        Some(n) if n < reply.body.len() => (reply.body.slice(..n), true),
        _ => (reply.body, false),
    };
    let mut response = Response::new(WireBody {
        data: (!data.is_empty()).then_some(data),
        declared,
        cut,
    });
    *response.status_mut() = hyper::StatusCode::from_u16(reply.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if let Some(content_type) = reply.content_type
        && let Ok(value) = HeaderValue::from_str(&content_type)
    {
        headers.insert(header::CONTENT_TYPE, value);
    }
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(name, value);
        }
    }
    response
}

fn accepts_gzip(headers: &hyper::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| coding.split(';').next().map(str::trim) == Some("gzip"))
}

/// Gzips a body (the fake serves compressed answers to clients that ask, as
/// the API does).
fn compress(mut reply: Reply) -> Reply {
    use std::io::Write;
    if reply.body.is_empty() {
        return reply;
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    if let Ok(gz) = encoder
        .write_all(&reply.body)
        .and_then(|()| encoder.finish())
    {
        reply.body = Bytes::from(gz);
        reply.headers.push(("content-encoding", "gzip".to_owned()));
    }
    reply
}

/// A body that declares its full length but may end early with an error,
/// which makes hyper close the connection mid-body.
struct WireBody {
    data: Option<Bytes>,
    /// The length still announced (the whole body's, at first).
    declared: u64,
    cut: bool,
}

/// The error that ends a cut body.
#[derive(Debug)]
struct BodyCut;

impl fmt::Display for BodyCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("body cut short by an injected fault")
    }
}

impl std::error::Error for BodyCut {}

impl Body for WireBody {
    type Data = Bytes;
    type Error = BodyCut;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyCut>>> {
        let this = self.get_mut();
        if let Some(data) = this.data.take() {
            this.declared = this.declared.saturating_sub(data.len() as u64);
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if this.cut {
            this.cut = false;
            return Poll::Ready(Some(Err(BodyCut)));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && !self.cut
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.declared)
    }
}
