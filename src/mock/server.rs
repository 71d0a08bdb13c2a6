//! The fake's HTTP side: accept connections on 127.0.0.1, read each request,
//! let the handler decide, record it in the journal, and deliver the answer
//! (late, gzipped, cut short, or not at all, with an orderly close or a
//! reset, when a fault says so).

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::handler::{self, Delivery, Reply};
use super::journal::Entry;
use super::operation;
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
            let connection = Connection::new(stream);
            let signals = connection.signals.clone();
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                let signals = signals.clone();
                async move { handle(&state, signals, req).await }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(connection), service);
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
    signals: Arc<Signals>,
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
    let routed = operation::route(request.method, request.path);
    let delivery = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        state.requests += 1;
        let delivery = match &body {
            Ok(_) => handler::respond(&mut state, &request, routed, now_ms()),
            Err(_) => Delivery::send(Reply::error(
                400,
                "request_read_timeout",
                "request body could not be read",
            )),
        };
        let operation = routed.map(|(op, _)| op);
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
        Delivery::Reset => {
            signals.reset.store(true, Ordering::Relaxed);
            Err(CloseWithoutAnswer)
        }
        Delivery::Send {
            reply,
            delay,
            cut_after,
        } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let reply = if gzip { compress(reply) } else { reply };
            Ok(response(reply, cut_after, signals))
        }
    }
}

/// Where a body of `len` bytes is cut for `cut_after`: never past its last
/// byte but one, so that a cut body is always short; `None` (sent whole)
/// when there is no body to cut.
fn cut_point(cut_after: Option<usize>, len: usize) -> Option<usize> {
    let after = cut_after?;
    (len > 0).then(|| after.min(len - 1))
}

fn response(reply: Reply, cut_after: Option<usize>, signals: Arc<Signals>) -> Response<WireBody> {
    let declared = reply.body.len() as u64;
    let (data, cut) = match cut_point(cut_after, reply.body.len()) {
        Some(n) => (reply.body.slice(..n), Cut::Ahead(signals)),
        None => (reply.body, Cut::None),
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
    // The handler checked the fault's headers: a bad one became its 500.
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
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
/// the API does), unless it is a raw answer, sent as given, or a fault gave
/// it a `Content-Encoding` of its own.
fn compress(mut reply: Reply) -> Reply {
    use std::io::Write;
    let encoded = reply
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-encoding"));
    if reply.body.is_empty() || reply.verbatim || encoded {
        return reply;
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    if let Ok(gz) = encoder
        .write_all(&reply.body)
        .and_then(|()| encoder.finish())
    {
        reply.body = Bytes::from(gz);
        reply
            .headers
            .push(("content-encoding".to_owned(), "gzip".to_owned()));
    }
    reply
}

/// A body that declares its full length but may end early with an error,
/// which makes hyper close the connection mid-body.
struct WireBody {
    data: Option<Bytes>,
    /// The length still announced (the whole body's, at first).
    declared: u64,
    cut: Cut,
}

/// Where a body that is cut short stands.
enum Cut {
    /// The body is sent whole.
    None,
    /// The body is cut after its data.
    Ahead(Arc<Signals>),
    /// The data is with hyper, which had flushed the connection this many
    /// times: the body ends once it has flushed again. hyper drops what it
    /// has not written when a body fails, so failing at once would take the
    /// head and the data with it.
    Flushing(Arc<Signals>, u64),
    /// The body has failed.
    Done,
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
        if let Cut::Ahead(signals) = &this.cut {
            // From here, a completed flush has sent the head and the data.
            let flushes = signals.flushes.load(Ordering::Relaxed);
            this.cut = Cut::Flushing(signals.clone(), flushes);
        }
        if let Some(data) = this.data.take() {
            this.declared = this.declared.saturating_sub(data.len() as u64);
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        let Cut::Flushing(signals, before) = &this.cut else {
            return Poll::Ready(None);
        };
        if signals.flushes.load(Ordering::Relaxed) > *before {
            this.cut = Cut::Done;
            Poll::Ready(Some(Err(BodyCut)))
        } else {
            // hyper flushes right after a body that is not ready, and polls
            // it again once that flush is done (or when the socket can take
            // more): no wake-up of our own is needed.
            Poll::Pending
        }
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && matches!(self.cut, Cut::None | Cut::Done)
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.declared)
    }
}

/// What the service tells its connection, and the connection the bodies it
/// carries.
#[derive(Debug, Default)]
struct Signals {
    /// End the connection with a reset.
    reset: AtomicBool,
    /// How many flushes of the connection have completed.
    flushes: AtomicU64,
}

/// A served connection that can end with a TCP reset (when a fault sets
/// `reset`, it sends no FIN on shutdown, and closing it sends an RST) and
/// counts its completed flushes (for a body cut short).
struct Connection {
    stream: TcpStream,
    signals: Arc<Signals>,
}

impl Connection {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            signals: Arc::default(),
        }
    }

    fn resetting(&self) -> bool {
        self.signals.reset.load(Ordering::Relaxed)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.resetting() {
            // A zero linger makes close send an RST and return at once (it
            // cannot block). `set_zero_linger` says the same but needs tokio
            // 1.50; the crate works with 1.45.
            #[allow(deprecated)]
            let _ = self.stream.set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let flushed = Pin::new(&mut this.stream).poll_flush(cx);
        if let Poll::Ready(Ok(())) = flushed {
            this.signals.flushes.fetch_add(1, Ordering::Relaxed);
        }
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.resetting() {
            // No FIN first: the peer must see the reset, not an end of stream.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_always_holds_back_at_least_one_byte() {
        assert_eq!(cut_point(Some(1_000_000), 10), Some(9));
        assert_eq!(cut_point(Some(3), 10), Some(3));
        assert_eq!(cut_point(Some(0), 10), Some(0));
        assert_eq!(cut_point(Some(5), 0), None, "no body: sent whole");
        assert_eq!(cut_point(None, 10), None);
    }

    #[test]
    fn raw_answers_and_encoded_bodies_are_not_gzipped() {
        let reply = Reply {
            status: 200,
            content_type: None,
            headers: vec![("Content-Encoding".to_owned(), "br".to_owned())],
            body: Bytes::from_static(b"already encoded"),
            verbatim: false,
        };
        assert_eq!(compress(reply.clone()), reply);
        let raw = Reply {
            headers: Vec::new(),
            verbatim: true,
            ..reply.clone()
        };
        assert_eq!(compress(raw.clone()), raw);
        let plain = Reply {
            headers: Vec::new(),
            ..reply
        };
        let gzipped = compress(plain);
        assert_eq!(
            gzipped.headers,
            [("content-encoding".to_owned(), "gzip".to_owned())]
        );
    }
}
