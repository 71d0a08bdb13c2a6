//! An in-process fake of the Server API v4 on 127.0.0.1, for tests of code
//! that uses this crate and for trying the SDK without an account.
//!
//! [`FakeApi`] holds the events you insert and answers the five operations
//! the way the real API does for them: get by id, search with filters and
//! paging, update, delete a visitor's data, and the edge endpoint (which it
//! refuses with 403 `feature_not_enabled`). It checks the bearer key and can
//! be told to fail the next requests with 429 or 5xx.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use fingerprint_server_sdk::mock::FakeApi;
//!
//! let fake = FakeApi::start().await?;
//! fake.insert_json(serde_json::json!({
//!     "event_id": "evt_1",
//!     "timestamp": fingerprint_server_sdk::mock::now_ms(),
//!     "identification": {"visitor_id": "vis_1", "visitor_found": true,
//!                        "confidence": {"score": 0.97}},
//! }))?;
//! let client = fake.client();
//! let event = client.get_event().event_id("evt_1").send().await?.into_inner();
//! assert_eq!(event.event_id.as_str(), "evt_1");
//! # Ok(()) }
//! ```
//!
//! Like the real API, a search without `start` only looks at the last 7
//! days: give inserted events recent timestamps (see [`now_ms`]) or pass
//! `start`.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize as _;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::{Client, ClientBuilder, types};

/// The key a [`FakeApi`] accepts unless told otherwise.
pub const DEFAULT_KEY: &str = "fake-secret-key";

/// The longest page the fake (like the API) serves.
const MAX_LIMIT: usize = 100;
/// A search without `start` looks this far back, as the API does.
const DEFAULT_WINDOW_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Milliseconds since the Unix epoch, now: the unit of event timestamps.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A failure the fake serves instead of the next answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// 429 `too_many_requests`, with `Retry-After: <seconds>` when given.
    TooManyRequests {
        /// The `Retry-After` value in seconds, if any.
        retry_after: Option<u64>,
    },
    /// This status (e.g. 500, 502, 503, 504) with an API error body.
    Status(u16),
    /// Any API error: this status with `{"error": {"code", "message"}}`
    /// (e.g. 403 `wrong_region`, to test how your code reports it).
    Api {
        /// The HTTP status.
        status: u16,
        /// The error code, e.g. `wrong_region`.
        code: String,
        /// The error message.
        message: String,
    },
}

/// A fake Server API v4 running on 127.0.0.1 until dropped.
pub struct FakeApi {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for FakeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApi")
            .field("url", &self.url())
            .field("events", &self.len())
            .finish()
    }
}

struct State {
    key: String,
    /// Events as JSON, exactly as inserted or updated, by event id.
    events: BTreeMap<String, Value>,
    faults: VecDeque<Fault>,
    requests: u64,
}

/// Why an event could not be inserted.
#[derive(Debug)]
pub struct InsertError(String);

impl std::fmt::Display for InsertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "event not inserted: {}", self.0)
    }
}

impl std::error::Error for InsertError {}

impl FakeApi {
    /// Starts a fake on a free port of 127.0.0.1, accepting [`DEFAULT_KEY`].
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), DEFAULT_KEY).await
    }

    /// Starts a fake on `addr` accepting `key` as the secret key.
    pub async fn start_on(addr: SocketAddr, key: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            key: key.to_owned(),
            events: BTreeMap::new(),
            faults: VecDeque::new(),
            requests: 0,
        }));
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(serve(listener, state.clone(), stopped));
        Ok(Self { addr, state, stop })
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give [`ClientBuilder::base_url`]: `http://127.0.0.1:PORT/v4`.
    pub fn url(&self) -> String {
        format!("http://{}/v4", self.addr)
    }

    /// The secret key the fake accepts.
    pub fn api_key(&self) -> String {
        self.lock().key.clone()
    }

    /// A client builder pointed at the fake, with its key.
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder(self.api_key()).base_url(self.url())
    }

    /// A client pointed at the fake, with its key and default settings.
    ///
    /// # Panics
    ///
    /// Only if reqwest cannot build a plain HTTP client at all: the URL is
    /// one the fake formats itself and the key is non-empty.
    pub fn client(&self) -> Client {
        self.client_builder()
            .build()
            .unwrap_or_else(|e| panic!("the fake API's client could not be built: {e}"))
    }

    /// Stores an event (replacing one with the same `event_id`).
    pub fn insert(&self, event: &types::Event) -> Result<(), InsertError> {
        let value = serde_json::to_value(event).map_err(|e| InsertError(e.to_string()))?;
        self.insert_json(value)
    }

    /// Stores an event given as JSON (kept exactly, unknown fields too). It
    /// must deserialize as an [`types::Event`].
    pub fn insert_json(&self, event: Value) -> Result<(), InsertError> {
        self.insert_many(std::iter::once(event)).map(drop)
    }

    /// Stores many events given as JSON (see [`insert_json`](Self::insert_json));
    /// nothing is stored unless every one is an event. Returns how many were
    /// given.
    pub fn insert_many(
        &self,
        events: impl IntoIterator<Item = Value>,
    ) -> Result<usize, InsertError> {
        let checked = events
            .into_iter()
            .map(|event| {
                types::Event::deserialize(&event)
                    .map_err(|e| InsertError(format!("not an Event: {e}")))?;
                let id = event_id(&event)
                    .ok_or_else(|| InsertError("no event_id".into()))?
                    .to_owned();
                Ok((id, event))
            })
            .collect::<Result<Vec<_>, InsertError>>()?;
        let count = checked.len();
        self.lock().events.extend(checked);
        Ok(count)
    }

    /// The stored event with this id, as the API would return it.
    pub fn event(&self, event_id: &str) -> Option<types::Event> {
        let state = self.lock();
        let found = state.events.get(event_id)?;
        types::Event::deserialize(found).ok()
    }

    /// How many events are stored.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Serves `fault` instead of the next `times` answers.
    pub fn fail_next(&self, times: usize, fault: Fault) {
        let mut state = self.lock();
        state.faults.extend(std::iter::repeat_n(fault, times));
    }

    /// How many requests the fake has received.
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn event_id(event: &Value) -> Option<&str> {
    event.get("event_id")?.as_str()
}

async fn serve(
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
                async move { Ok::<_, Infallible>(handle(&state, req).await) }
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

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, body: &Value) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn empty(status: StatusCode) -> Answer {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

fn api_error(status: StatusCode, code: &str, message: &str) -> Answer {
    answer(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

async fn handle(state: &Mutex<State>, req: Request<Incoming>) -> Answer {
    let gzip = accepts_gzip(req.headers());
    let answer = respond(state, req).await;
    if gzip { compress(answer) } else { answer }
}

fn accepts_gzip(headers: &hyper::HeaderMap) -> bool {
    headers
        .get_all(hyper::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| coding.split(';').next().map(str::trim) == Some("gzip"))
}

/// Gzips a body (the fake serves compressed answers to clients that ask, as
/// the API does).
fn compress(answer: Answer) -> Answer {
    use std::io::Write;
    let (mut parts, body) = answer.into_parts();
    let bytes = body.into_inner().unwrap_or_default();
    if bytes.is_empty() {
        return Response::from_parts(parts, Full::new(bytes));
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let compressed = encoder.write_all(&bytes).and_then(|()| encoder.finish());
    match compressed {
        Ok(gz) => {
            parts.headers.insert(
                hyper::header::CONTENT_ENCODING,
                hyper::header::HeaderValue::from_static("gzip"),
            );
            Response::from_parts(parts, Full::new(Bytes::from(gz)))
        }
        Err(_) => Response::from_parts(parts, Full::new(bytes)),
    }
}

async fn respond(state: &Mutex<State>, req: Request<Incoming>) -> Answer {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "request_read_timeout",
                "request body could not be read",
            );
        }
    };
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    state.requests += 1;

    let expected = format!("Bearer {}", state.key);
    match parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .map(|v| v.as_bytes())
    {
        None => {
            return api_error(
                StatusCode::FORBIDDEN,
                "secret_api_key_required",
                "secret API key in header is missing or empty",
            );
        }
        Some(given) if given != expected.as_bytes() => {
            return api_error(
                StatusCode::FORBIDDEN,
                "secret_api_key_not_found",
                "no workspace found for provided secret API key",
            );
        }
        Some(_) => {}
    }

    if let Some(fault) = state.faults.pop_front() {
        return match fault {
            Fault::TooManyRequests { retry_after } => {
                let mut response = api_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    "too many requests",
                );
                if let Some(seconds) = retry_after {
                    response
                        .headers_mut()
                        .insert(hyper::header::RETRY_AFTER, seconds.into());
                }
                response
            }
            Fault::Status(code) => {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let code = match status.as_u16() {
                    503 => "service_unavailable",
                    429 => "too_many_requests",
                    _ => "failed",
                };
                api_error(status, code, "injected failure")
            }
            Fault::Api {
                status,
                code,
                message,
            } => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                api_error(status, &code, &message)
            }
        };
    }

    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (&parts.method, segments.as_slice()) {
        (&Method::GET, ["v4", "events"]) => search(&state, query),
        (&Method::GET, ["v4", "events", id]) => match find(&state, id) {
            Some(event) => answer(StatusCode::OK, event),
            None => not_found_event(),
        },
        (&Method::PATCH, ["v4", "events", id]) => update(&mut state, id, &body),
        (&Method::DELETE, ["v4", "visitors", visitor]) => {
            let visitor = decode(visitor);
            let before = state.events.len();
            state
                .events
                .retain(|_, e| visitor_id(e) != Some(visitor.as_str()));
            if state.events.len() == before {
                api_error(
                    StatusCode::NOT_FOUND,
                    "visitor_not_found",
                    "visitor not found",
                )
            } else {
                empty(StatusCode::OK)
            }
        }
        (&Method::POST, ["v4", "edge"]) => api_error(
            StatusCode::FORBIDDEN,
            "feature_not_enabled",
            "the fake API does not implement the edge endpoint",
        ),
        _ => api_error(
            StatusCode::NOT_FOUND,
            "request_cannot_be_parsed",
            "unknown path or method",
        ),
    }
}

fn not_found_event() -> Answer {
    api_error(
        StatusCode::NOT_FOUND,
        "event_not_found",
        "event id not found",
    )
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn find<'a>(state: &'a State, id: &str) -> Option<&'a Value> {
    state.events.get(&decode(id))
}

fn visitor_id(event: &Value) -> Option<&str> {
    event.get("identification")?.get("visitor_id")?.as_str()
}

fn timestamp(event: &Value) -> i64 {
    event.get("timestamp").and_then(Value::as_i64).unwrap_or(0)
}

fn update(state: &mut State, id: &str, body: &[u8]) -> Answer {
    let update: types::EventUpdate = match serde_json::from_slice(body) {
        Ok(update) => update,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "request_cannot_be_parsed",
                &format!("request body is not valid: {e}"),
            );
        }
    };
    let id = decode(id);
    let Some(event) = state.events.get_mut(&id) else {
        return not_found_event();
    };
    let Some(fields) = event.as_object_mut() else {
        return not_found_event();
    };
    if let Some(linked) = update.linked_id {
        fields.insert("linked_id".into(), Value::String(linked));
    }
    if let Some(tags) = update.tags {
        fields.insert("tags".into(), Value::Object(tags));
    }
    if let Some(suspect) = update.suspect {
        fields.insert("suspect".into(), Value::Bool(suspect));
    }
    empty(StatusCode::OK)
}

/// Parses `start`/`end`: Unix milliseconds or RFC 3339.
fn parse_time(value: &str) -> Option<i64> {
    value.parse::<i64>().ok().or_else(|| {
        chrono::DateTime::parse_from_rfc3339(value)
            .ok()
            .map(|t| t.timestamp_millis())
    })
}

fn bad_request(message: &str) -> Answer {
    api_error(StatusCode::BAD_REQUEST, "request_cannot_be_parsed", message)
}

fn search(state: &State, query: &str) -> Answer {
    let pairs: Vec<(String, String)> = form_pairs(query);
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    let limit = match get("limit").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return bad_request("limit must be between 1 and 100"),
    };
    let now = now_ms();
    let start = match get("start").map(parse_time) {
        None => now - DEFAULT_WINDOW_MS,
        Some(Some(t)) => t,
        Some(None) => return bad_request("start is not a valid time"),
    };
    let end = match get("end").map(parse_time) {
        None => now,
        Some(Some(t)) => t,
        Some(None) => return bad_request("end is not a valid time"),
    };
    let reverse = match get("reverse") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return bad_request("reverse must be true or false"),
    };
    let suspect = match get("suspect") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return bad_request("suspect must be true or false"),
    };
    let bot = get("bot");
    let wanted_visitor = get("visitor_id");
    let wanted_linked = get("linked_id");
    if bot.is_some_and(|b| !matches!(b, "all" | "good" | "bad" | "none")) {
        return bad_request("bot must be all, good, bad or none");
    }

    let mut matching: Vec<&Value> = state
        .events
        .values()
        .filter(|e| {
            let ts = timestamp(e);
            ts >= start && ts <= end
        })
        .filter(|e| wanted_visitor.is_none_or(|v| visitor_id(e) == Some(v)))
        .filter(|e| {
            wanted_linked.is_none_or(|v| e.get("linked_id").and_then(Value::as_str) == Some(v))
        })
        .filter(|e| {
            suspect.is_none_or(|want| {
                e.get("suspect").and_then(Value::as_bool).unwrap_or(false) == want
            })
        })
        .filter(|e| {
            let found = e.get("bot").and_then(Value::as_str);
            match bot {
                None => true,
                Some("all") => matches!(found, Some("good" | "bad")),
                Some("none") => found == Some("not_detected"),
                Some(kind) => found == Some(kind),
            }
        })
        .collect();
    // Newest first by default; oldest first with reverse. Ties by id so the
    // order (and so the paging) is stable.
    fn key(e: &Value) -> (i64, &str) {
        (timestamp(e), event_id(e).unwrap_or(""))
    }
    matching.sort_by(|a, b| {
        if reverse {
            key(a).cmp(&key(b))
        } else {
            key(b).cmp(&key(a))
        }
    });
    let total = matching.len();

    let from = match get("pagination_key") {
        None => 0,
        Some(key) => match cursor_position(&matching, key, reverse) {
            Some(position) => position,
            None => return bad_request("pagination_key is invalid"),
        },
    };
    let page: Vec<Value> = matching
        .iter()
        .skip(from)
        .take(limit)
        .map(|e| (*e).clone())
        .collect();
    let mut body = json!({ "events": page });
    if from + limit < total
        && let Some(last) = matching.get(from + limit - 1)
    {
        body["pagination_key"] = Value::String(cursor(last));
    }
    if let Some(cap) = get("total_hits").and_then(|v| v.parse::<usize>().ok()) {
        body["total_hits"] = json!(total.min(cap));
    }
    answer(StatusCode::OK, &body)
}

/// The fake's pagination key: the timestamp and id of the last event of the
/// page (opaque to clients, as the real one is).
fn cursor(event: &Value) -> String {
    format!("{}~{}", timestamp(event), event_id(event).unwrap_or(""))
}

/// Where the page after `key` starts in `events` (sorted as the search
/// asked): at the first event that sorts after the key's (timestamp, id), so
/// that paging goes on even when the event the key was taken from has been
/// deleted (or updated away from the filters) in the meantime. `None` when
/// the key is not one of the fake's.
fn cursor_position(events: &[&Value], key: &str, reverse: bool) -> Option<usize> {
    let (ts, id) = key.split_once('~')?;
    let cursor = (ts.parse::<i64>().ok()?, id);
    let after = |e: &&Value| {
        let here = (timestamp(e), event_id(e).unwrap_or(""));
        if reverse {
            here > cursor
        } else {
            here < cursor
        }
    };
    Some(events.iter().position(after).unwrap_or(events.len()))
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let unplus = |s: &str| decode(&s.replace('+', " "));
            (unplus(k), unplus(v))
        })
        .collect()
}

/// `count` made-up but plausible events, newest first, spread over the last
/// few days before `now_ms` (so a default search finds them): a handful of
/// visitors, browsers, countries and bot verdicts, some suspect, some with a
/// linked id. The same arguments give the same events.
pub fn sample_events(count: usize, now_ms: i64) -> Vec<Value> {
    const BROWSERS: [(&str, &str, &str); 4] = [
        ("Chrome", "131", "Windows"),
        ("Safari", "18", "Mac OS X"),
        ("Firefox", "133", "Linux"),
        ("Edge", "131", "Windows"),
    ];
    const PLACES: [(&str, &str, &str, f64, f64); 4] = [
        ("Berlin", "DE", "Germany", 52.52, 13.405),
        ("Austin", "US", "United States", 30.2672, -97.7431),
        ("Mumbai", "IN", "India", 19.076, 72.8777),
        ("Lyon", "FR", "France", 45.764, 4.8357),
    ];
    const BOTS: [&str; 5] = [
        "not_detected",
        "not_detected",
        "not_detected",
        "good",
        "bad",
    ];
    let visitors = (count / 8).clamp(1, 40);
    (0..count)
        .map(|i| {
            let ts = now_ms - (i as i64) * 7 * 60 * 1000 - 60_000;
            let (browser, version, os) = BROWSERS[i % BROWSERS.len()];
            let (city, country_code, country, lat, lon) = PLACES[(i / 3) % PLACES.len()];
            let visitor = format!("demoVisitor{:02}", i % visitors);
            let bot = BOTS[i % BOTS.len()];
            let mut event = json!({
                "event_id": format!("{ts}.demo{i:04}"),
                "timestamp": ts,
                "url": format!("https://shop.example/{}", ["checkout", "login", "cart", "search"][i % 4]),
                "ip_address": format!("192.0.2.{}", 1 + i % 250),
                "user_agent": format!("Mozilla/5.0 ({os}) {browser}/{version}.0"),
                "browser_details": {
                    "browser_name": browser,
                    "browser_major_version": version,
                    "browser_full_version": format!("{version}.0.1"),
                    "os": os,
                    "os_version": "10",
                    "device": "Other"
                },
                "identification": {
                    "visitor_id": visitor,
                    "visitor_found": i >= visitors,
                    "confidence": {"score": if i % 5 == 0 { 0.87 } else { 0.99 }, "version": "1.1"},
                    "first_seen_at": ts - 86_400_000,
                    "last_seen_at": ts - 3_600_000
                },
                "bot": bot,
                "incognito": i % 6 == 0,
                "vpn": i % 9 == 0,
                "proxy": i % 11 == 0,
                "tampering": false,
                "suspect_score": (i % 7) as i64,
                "ip_info": {"v4": {
                    "address": format!("192.0.2.{}", 1 + i % 250),
                    "geolocation": {
                        "city_name": city,
                        "country_code": country_code,
                        "country_name": country,
                        "latitude": lat,
                        "longitude": lon,
                        "accuracy_radius": 20
                    },
                    "asn": "64500",
                    "asn_name": "Example Networks",
                    "datacenter_result": false
                }}
            });
            if i % 4 == 0 {
                event["linked_id"] = json!(format!("order-{}", 1000 + i));
            }
            if i % 13 == 0 {
                event["suspect"] = json!(true);
            }
            event
        })
        .collect()
}

impl FakeApi {
    /// Inserts [`sample_events`]`(count, now_ms())` and returns how many were
    /// stored.
    pub fn insert_samples(&self, count: usize) -> Result<usize, InsertError> {
        self.insert_many(sample_events(count, now_ms()))
    }
}
