//! A tiny HTTP/1.1 server for fault-injection tests.
//!
//! It listens on 127.0.0.1 only, answers each request it reads with the next
//! [`Reply`] of its script (the last one repeats once the script runs out),
//! and records what it saw. Every answer closes the connection, so each
//! request arrives on a fresh connection and no client-side connection reuse
//! can hide or add an attempt. The server lives in the test's own runtime:
//! it needs no timers (so tokio's paused clock does not disturb it) and it
//! stops when the [`FaultServer`] is dropped or the runtime ends.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The largest request head or body the server reads; anything bigger is
/// dropped (the SDK never sends that much).
const MAX_REQUEST: usize = 1 << 20;

/// What the server does with one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A complete response; the connection is closed after it.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Closes the connection with a TCP reset (`SO_LINGER` 0) without
    /// answering.
    Reset,
    /// Keeps the connection open and never answers.
    Stall,
    /// Sends the head with `Content-Length: declared`, then only `body`
    /// (shorter), then closes.
    Truncated {
        status: u16,
        declared: usize,
        body: Vec<u8>,
    },
}

impl Reply {
    /// A response with this status and no body.
    pub fn status(status: u16) -> Self {
        Self::Respond {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response with a JSON body.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::status(status)
            .header("Content-Type", "application/json")
            .body(body)
    }

    /// A response with an HTML body, as a gateway would send.
    pub fn html(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::status(status)
            .header("Content-Type", "text/html")
            .body(body)
    }

    /// A `{"error": {"code", "message"}}` body with this status.
    pub fn api_error(status: u16, code: &str, message: &str) -> Self {
        let body = serde_json::json!({"error": {"code": code, "message": message}});
        Self::json(status, body.to_string())
    }

    /// 200 with a minimal valid event.
    pub fn event(id: &str) -> Self {
        let body = serde_json::json!({"event_id": id, "timestamp": 1_708_102_555_327_i64});
        Self::json(200, body.to_string())
    }

    /// 301 to `location`.
    pub fn redirect(location: &str) -> Self {
        Self::status(301).header("Location", location)
    }

    /// Adds a header (only to [`Reply::Respond`]).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Self::Respond { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Sets the body (only of [`Reply::Respond`]).
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        if let Self::Respond { body, .. } = &mut self {
            *body = bytes.into();
        }
        self
    }
}

/// One request as the server read it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `needle` occurs anywhere in the request: target, any header
    /// name or value, or body.
    pub fn contains(&self, needle: &str) -> bool {
        self.target.contains(needle)
            || self
                .headers
                .iter()
                .any(|(n, v)| n.contains(needle) || v.contains(needle))
            || String::from_utf8_lossy(&self.body).contains(needle)
    }
}

struct State {
    script: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
}

impl State {
    fn next_reply(&self) -> Reply {
        let mut script = self.script.lock().unwrap_or_else(PoisonError::into_inner);
        if script.len() > 1 {
            script.pop_front().expect("non-empty script")
        } else {
            script.front().cloned().expect("non-empty script")
        }
    }
}

/// A running fault server; dropping it stops it (and ends every connection
/// it holds, stalled ones included).
pub struct FaultServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl FaultServer {
    /// Starts a server that answers requests with `script`, in order; the
    /// last reply repeats.
    pub async fn start(script: impl IntoIterator<Item = Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        Self::serve(listener, script)
    }

    /// Serves `script` on a listener the test already has (bound to
    /// 127.0.0.1).
    pub fn serve(listener: TcpListener, script: impl IntoIterator<Item = Reply>) -> Self {
        let script: VecDeque<Reply> = script.into_iter().collect();
        assert!(
            !script.is_empty(),
            "a fault server needs at least one reply"
        );
        let addr = listener.local_addr().expect("local addr");
        assert!(addr.ip().is_loopback(), "fault servers bind loopback only");
        let state = Arc::new(State {
            script: Mutex::new(script),
            seen: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(accept_loop(listener, state.clone()));
        Self { addr, state, task }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The v4 base URL of this server, for `ClientBuilder::base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v4", self.addr)
    }

    /// How many requests the server has read.
    pub fn hits(&self) -> usize {
        self.seen().len()
    }

    /// Every request the server has read, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        // The accept loop owns the connection tasks (a JoinSet): aborting it
        // drops them all.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        // An accept error ends the server: a bounded loop, never a spin.
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(serve_connection(stream, state.clone()));
    }
}

async fn serve_connection(mut stream: TcpStream, state: Arc<State>) {
    let Some(seen) = read_request(&mut stream).await else {
        return;
    };
    state
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(seen);
    match state.next_reply() {
        Reply::Respond {
            status,
            headers,
            body,
        } => {
            let head = head(status, &headers, body.len());
            let _ = stream.write_all(&head).await;
            let _ = stream.write_all(&body).await;
            let _ = stream.shutdown().await;
        }
        Reply::Reset => {
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        Reply::Stall => {
            // Holds the connection until the server is dropped.
            std::future::pending::<()>().await;
        }
        Reply::Truncated {
            status,
            declared,
            body,
        } => {
            assert!(body.len() < declared, "a truncated body must be short");
            let head = head(
                status,
                &[("Content-Type".into(), "application/json".into())],
                declared,
            );
            let _ = stream.write_all(&head).await;
            let _ = stream.write_all(&body).await;
            let _ = stream.shutdown().await;
        }
    }
}

fn head(status: u16, headers: &[(String, String)], content_length: usize) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Whatever");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {content_length}\r\nConnection: close\r\n\r\n"
    ));
    out.into_bytes()
}

/// Reads one request: the head, then a body of `Content-Length` bytes.
/// `None` when the peer goes away first or the request is too big.
async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_REQUEST {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    if length > MAX_REQUEST {
        return None;
    }
    let mut body = buf.split_off(head_end + 4);
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(Seen {
        method,
        target,
        headers,
        body,
    })
}
