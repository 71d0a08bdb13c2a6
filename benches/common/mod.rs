//! What the benchmarks share: the event fixture, a local keep-alive HTTP
//! server on 127.0.0.1 running on a thread of its own, and CPU and memory
//! readings. Each bench binary uses a part of it.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// The secret key the benchmarks' clients send (the server does not check it).
pub const KEY: &str = "bench-secret-key";

/// The event id every `get_event` of the benchmarks asks for.
pub const EVENT_ID: &str = "1708102555327.NLOjmg";

/// The event the benchmarks parse and serve: `$BENCH_EVENT_FIXTURE` when
/// set, else the project's full event fixture (every property of `Event`
/// set).
pub fn fixture_path() -> PathBuf {
    if let Some(path) = std::env::var_os("BENCH_EVENT_FIXTURE") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events/full_event.json")
}

/// The fixture's bytes, exactly as stored.
pub fn fixture() -> Bytes {
    let path = fixture_path();
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("cannot read the event fixture {}: {e}", path.display()));
    Bytes::from(bytes)
}

/// The fixture's path relative to the crate, for reports.
pub fn fixture_name() -> String {
    let path = fixture_path();
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(&path)
        .display()
        .to_string()
}

// ---------------------------------------------------------------------------
// The local server.

struct Shared {
    event: Bytes,
    /// `{"events":[E,E,...]` for pages of [`PAGE_SIZE`] events, made on the
    /// first page request.
    page_head: std::sync::OnceLock<Bytes>,
    /// When set, the head of the next request is written here.
    capture: Mutex<Option<String>>,
}

/// Events per page served for `GET /v4/events`.
pub const PAGE_SIZE: usize = 100;

/// A minimal HTTP/1.1 server (hyper 1, keep-alive) on 127.0.0.1, on its own
/// OS thread with a one-thread tokio runtime, so that its CPU time can be
/// read apart from the client's.
///
/// - `GET /v4/events/<id>`: the fixture event, `application/json`.
/// - `GET /v4/events?linked_id=pages-<P>[&pagination_key=<n>]`: page `n`
///   (from 0) of `P`, each holding [`PAGE_SIZE`] copies of the fixture, with
///   `pagination_key` set to `n + 1` on every page but the last.
pub struct Server {
    addr: SocketAddr,
    cpu_clock: libc::clockid_t,
    shared: Arc<Shared>,
    _thread: std::thread::JoinHandle<()>,
}

impl Server {
    /// Starts the server serving `event` and waits until it listens.
    pub fn start(event: Bytes) -> Self {
        let shared = Arc::new(Shared {
            event,
            page_head: std::sync::OnceLock::new(),
            capture: Mutex::new(None),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("bench-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("server runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                        .await
                        .expect("bind 127.0.0.1");
                    tx.send(listener.local_addr().expect("local address"))
                        .expect("report address");
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let _ = stream.set_nodelay(true);
                        let shared = for_thread.clone();
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |req| {
                                let response = respond(&shared, &req);
                                async move { Ok::<_, Infallible>(response) }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                });
            })
            .expect("spawn the server thread");
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the server did not start");
        let cpu_clock = thread_clock(&thread);
        Server {
            addr,
            cpu_clock,
            shared,
            _thread: thread,
        }
    }

    /// `http://127.0.0.1:PORT/v4`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v4", self.addr)
    }

    /// CPU time used so far by the server's thread.
    pub fn cpu(&self) -> Duration {
        clock(self.cpu_clock)
    }

    /// Records the head of the next request (method, target, headers); read
    /// it back with [`Server::captured`].
    pub fn capture_next(&self) {
        *self.shared.capture.lock().unwrap() = Some(String::new());
    }

    /// The request head recorded after [`Server::capture_next`].
    pub fn captured(&self) -> Option<String> {
        self.shared.capture.lock().unwrap().take()
    }
}

fn respond(shared: &Shared, req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    {
        let mut capture = shared.capture.lock().unwrap();
        if let Some(text) = capture.as_mut()
            && text.is_empty()
        {
            text.push_str(&format!("{} {}\n", req.method(), req.uri()));
            for (name, value) in req.headers() {
                text.push_str(&format!(
                    "  {name}: {}\n",
                    String::from_utf8_lossy(value.as_bytes())
                ));
            }
        }
    }
    let body = if req.uri().path() == "/v4/events" {
        page(shared, req.uri().query().unwrap_or(""))
    } else {
        shared.event.clone()
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn page(shared: &Shared, query: &str) -> Bytes {
    let mut pages = 1usize;
    let mut index = 0usize;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("linked_id", v)) => {
                pages = v
                    .strip_prefix("pages-")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1)
            }
            Some(("pagination_key", v)) => index = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    let head = shared.page_head.get_or_init(|| {
        let mut head = Vec::with_capacity(PAGE_SIZE * (shared.event.len() + 1) + 16);
        head.extend_from_slice(b"{\"events\":[");
        for i in 0..PAGE_SIZE {
            if i > 0 {
                head.push(b',');
            }
            head.extend_from_slice(&shared.event);
        }
        head.push(b']');
        Bytes::from(head)
    });
    let mut body = Vec::with_capacity(head.len() + 40);
    body.extend_from_slice(head);
    if index + 1 < pages {
        body.extend_from_slice(format!(",\"pagination_key\":\"{}\"", index + 1).as_bytes());
    }
    body.push(b'}');
    Bytes::from(body)
}

// ---------------------------------------------------------------------------
// Clocks and memory.

fn thread_clock(thread: &std::thread::JoinHandle<()>) -> libc::clockid_t {
    use std::os::unix::thread::JoinHandleExt;
    let mut id: libc::clockid_t = 0;
    // SAFETY: the thread is alive (it never returns) and `id` is a valid
    // place to write the clock id.
    let rc = unsafe { libc::pthread_getcpuclockid(thread.as_pthread_t(), &mut id) };
    assert_eq!(rc, 0, "pthread_getcpuclockid failed");
    id
}

fn clock(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time (user + system) used so far by every thread of this process.
pub fn process_cpu() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time used so far by the calling thread.
pub fn thread_cpu() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// The process's peak resident set size so far (`VmHWM`), in KiB.
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

/// The process's resident set size now (`VmRSS`), in KiB.
pub fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` prints them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "?".into())
}

/// A client of the SDK pointed at `server`, with the default settings
/// (standard retry policy, default timeouts).
pub fn sdk_client(server: &Server) -> fingerprint_server_sdk::Client {
    fingerprint_server_sdk::Client::builder(KEY)
        .base_url(server.base_url())
        .build()
        .expect("SDK client")
}

// ---------------------------------------------------------------------------
// Reading criterion's results back, for the ratio summaries.

/// Where criterion writes its results: `$CRITERION_HOME`, else the cargo
/// target directory's `criterion/`.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("criterion")
}

/// Criterion's estimate of the time per iteration, in nanoseconds, for
/// `group/id` (the slope of the linear fit when there is one, else the mean:
/// the figure criterion prints), if that benchmark ran in this process
/// (written after `since`).
pub fn criterion_mean_ns(group: &str, id: &str, since: std::time::SystemTime) -> Option<f64> {
    let path = criterion_home()
        .join(group)
        .join(id)
        .join("new")
        .join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["slope"]["point_estimate"]
        .as_f64()
        .or_else(|| value["mean"]["point_estimate"].as_f64())
}

// ---------------------------------------------------------------------------
// The two clients of the call-overhead benchmarks, and the loops that drive
// them.

/// One `get_event` call, the way a client under test makes it.
pub trait Caller: Clone + Send + Sync + 'static {
    /// Fetches the fixture event and parses it into `types::Event`.
    fn call(&self) -> impl std::future::Future<Output = ()> + Send;
}

/// The SDK: `client.get_event().event_id(..).send()`, default settings.
#[derive(Clone)]
pub struct Sdk(pub fingerprint_server_sdk::Client);

impl Sdk {
    pub fn new(server: &Server) -> Self {
        Sdk(sdk_client(server))
    }

    /// The SDK with retries turned off (one attempt: no spare request, no
    /// re-buffered body), for the breakdown.
    pub fn without_retries(server: &Server) -> Self {
        Sdk(fingerprint_server_sdk::Client::builder(KEY)
            .base_url(server.base_url())
            .retry(fingerprint_server_sdk::RetryPolicy::disabled())
            .build()
            .expect("SDK client"))
    }
}

impl Caller for Sdk {
    async fn call(&self) {
        let event = self
            .0
            .get_event()
            .event_id(EVENT_ID)
            .send()
            .await
            .expect("SDK get_event")
            .into_inner();
        std::hint::black_box(event);
    }
}

/// The floor: a bare `reqwest::Client` sending the same request (same URL
/// with the SDK's `ii` parameter, same headers) and parsing the body into the
/// same `types::Event`, with no retry loop, no timeouts, no hooks.
#[derive(Clone)]
pub struct Bare {
    http: reqwest::Client,
    base: Arc<str>,
    ii: Arc<str>,
    /// Breakdown variants: wrap the call in `tokio::time::timeout(90 s)`.
    operation_timeout: bool,
    /// Breakdown variants: read the body, rebuild the response around it,
    /// then read it again, as the SDK's retry loop does.
    rebuffer: bool,
}

/// `ii=<SDK identifier>`, percent-encoded as the SDK sends it.
fn ii_query() -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("static URL");
    url.query_pairs_mut()
        .append_pair("ii", fingerprint_server_sdk::SDK_IDENTIFIER);
    url.query().unwrap_or_default().to_owned()
}

impl Bare {
    pub fn new(server: &Server) -> Self {
        Self::variant(server, false, false, false)
    }

    /// The bare client with some of the SDK's extras added, to find where
    /// the SDK's time goes: reqwest's connect (10 s) and per-request (30 s)
    /// timeouts, an operation timeout around the call, and the re-buffering
    /// of the body.
    pub fn variant(
        server: &Server,
        reqwest_timeouts: bool,
        operation_timeout: bool,
        rebuffer: bool,
    ) -> Self {
        use reqwest::header::{AUTHORIZATION, HeaderMap, USER_AGENT};
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(&format!("Bearer {KEY}")).expect("header");
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(fingerprint_server_sdk::SDK_IDENTIFIER),
        );
        let mut builder = reqwest::Client::builder().default_headers(headers);
        if reqwest_timeouts {
            builder = builder
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(30));
        }
        Bare {
            http: builder.build().expect("reqwest client"),
            base: server.base_url().into(),
            ii: ii_query().into(),
            operation_timeout,
            rebuffer,
        }
    }

    async fn get_event(&self) -> fingerprint_server_sdk::types::Event {
        let url = format!("{}/events/{EVENT_ID}?{}", self.base, self.ii);
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header("api-version", "4")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("bare get_event");
        if self.rebuffer {
            let status = response.status();
            let headers = std::mem::take(response.headers_mut());
            let bytes = response.bytes().await.expect("bare body");
            let mut rebuilt = http::Response::new(reqwest::Body::from(bytes));
            *rebuilt.status_mut() = status;
            *rebuilt.headers_mut() = headers;
            response = reqwest::Response::from(rebuilt);
        }
        response.json().await.expect("bare body")
    }
}

impl Caller for Bare {
    async fn call(&self) {
        let event = if self.operation_timeout {
            tokio::time::timeout(Duration::from_secs(90), self.get_event())
                .await
                .expect("bare get_event in time")
        } else {
            self.get_event().await
        };
        std::hint::black_box(event);
    }
}

/// Makes `n` calls, `in_flight` at a time (1: one after the other), on the
/// current runtime; returns each call's latency.
pub async fn drive<C: Caller>(caller: &C, n: usize, in_flight: usize) -> Vec<Duration> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;
    if in_flight <= 1 {
        let mut latencies = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            caller.call().await;
            latencies.push(start.elapsed());
        }
        return latencies;
    }
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let caller = caller.clone();
        let next = next.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(n / in_flight + 1);
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let start = Instant::now();
                caller.call().await;
                latencies.push(start.elapsed());
            }
            latencies
        });
    }
    let mut latencies = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done.expect("a call task panicked"));
    }
    latencies
}

/// A one-thread tokio runtime for the client side (the server has its own
/// thread), so that the 2 cores split one for each.
pub fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime")
}
