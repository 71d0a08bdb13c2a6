//! One call from start to end: the path check, the SDK identifier and the
//! key, every attempt with its timeout, the waits between attempts (asking
//! [`classify`](crate::retry::classify) what to do after a failure), reading
//! the whole body, decoding it, and turning whatever went wrong into an
//! [`Error`]. What a call saw (attempts, last status) is local state of its
//! loop.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::StatusCode;
use http::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use tokio::time::Instant;

use crate::error::TransportError;
use crate::path_check::check_path;
use crate::response::ResponseValue;
use crate::retry::RetryPolicy;
use crate::retry::budget::Bucket;
use crate::retry::classify::{self, Decision, Outcome, Progress, Stop};
use crate::{ApiError, Error, SDK_IDENTIFIER};

/// `ii=<SDK identifier>`, encoded as a form value (what `query_pairs_mut`
/// would write: `/` and `+` escaped). The identifier is a constant, so this
/// is encoded once per process and shared by every client.
fn ii_query() -> &'static str {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const FORM: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'*')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_');
    static ENCODED: LazyLock<String> =
        LazyLock::new(|| format!("ii={}", utf8_percent_encode(SDK_IDENTIFIER, FORM)));
    &ENCODED
}

/// One operation of the API, as read from the document at build time.
#[derive(Debug)]
pub(crate) struct Operation {
    /// progenitor's name for it (`get_event`).
    pub name: &'static str,
    /// Its HTTP method (`GET`).
    #[allow(dead_code)]
    pub method: &'static str,
    /// Its path template (`/events/{event_id}`).
    pub template: &'static str,
}

/// Where the key goes on each request.
pub(crate) enum Auth {
    /// In this header (marked sensitive: never logged, never compressed).
    Header(HeaderName, HeaderValue),
    /// In this query parameter (the v3 opt-in only).
    #[cfg_attr(not(feature = "v3"), allow(dead_code))]
    Query(&'static str, String),
}

/// What every call of one client shares: the HTTP client, where the key
/// goes, the retry policy and budget, and the timeouts.
pub(crate) struct Settings {
    pub(crate) http: reqwest::Client,
    pub(crate) auth: Auth,
    pub(crate) user_agent: HeaderValue,
    pub(crate) retry: RetryPolicy,
    pub(crate) budget: Option<Bucket>,
    pub(crate) operation_timeout: Duration,
    pub(crate) attempt_timeout: Duration,
    /// Whether each request carries the attempt timeout itself: only for an
    /// HTTP client brought by the caller. The SDK's own client has it as
    /// its default, which spares every request (and its copy for a retry)
    /// the map reqwest keeps per-request settings in.
    pub(crate) timeout_per_request: bool,
    /// The base URL's path (`/v4` for the regions), for the path check.
    pub(crate) base_path: String,
}

/// A client's shared [`Settings`], cheap to clone.
#[derive(Clone)]
pub struct Core(Arc<Settings>);

impl Core {
    pub(crate) fn new(settings: Settings) -> Self {
        Self(Arc::new(settings))
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.0
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0;
        f.debug_struct("Core")
            .field("retry", &s.retry)
            .field("budget_tokens", &s.budget.as_ref().map(Bucket::tokens))
            .field("operation_timeout", &s.operation_timeout)
            .field("attempt_timeout", &s.attempt_timeout)
            .finish_non_exhaustive()
    }
}

/// The settings one call may override (a request builder's `timeout` and
/// `retry_policy`).
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    timeout: Option<Duration>,
    // Boxed: rarely set, and every call's future carries this struct.
    retry: Option<Box<RetryPolicy>>,
}

impl CallOptions {
    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = Some(timeout);
    }

    pub(crate) fn set_retry_policy(&mut self, policy: RetryPolicy) {
        self.retry = Some(Box::new(policy));
    }
}

/// Why a request could not be built (the generated builders' `Error`).
#[derive(Debug)]
pub(crate) enum BuildError {
    /// A parameter was missing or its value could not be converted.
    InvalidRequest(String),
    /// The HTTP client refused to build the request.
    Http(reqwest::Error),
}

impl From<reqwest::Error> for BuildError {
    fn from(e: reqwest::Error) -> Self {
        Self::Http(e)
    }
}

/// How a success body becomes the operation's value.
pub(crate) type Decode<T> = fn(&[u8]) -> Result<T, serde_json::Error>;

/// A request ready to go, with its operation and per-call settings.
///
/// The request is boxed (264 bytes, one small allocation): a call's future
/// holds it and the copy for a retry across its awaits, and inline they
/// would more than double the future, which is moved on every call.
pub(crate) struct Call<'a> {
    core: &'a Core,
    operation: &'static Operation,
    options: CallOptions,
    request: Result<Box<reqwest::Request>, BuildError>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(
        core: &'a Core,
        operation: &'static Operation,
        options: CallOptions,
        request: Result<reqwest::Request, BuildError>,
    ) -> Self {
        Self {
            core,
            operation,
            options,
            request: request.map(Box::new),
        }
    }

    /// Runs the call, decoding a success body with `decode`. Nothing
    /// happens until the future is first polled (it may be made outside a
    /// runtime).
    pub(crate) fn send<T: Send + 'a>(
        self,
        decode: Decode<T>,
    ) -> impl Future<Output = Result<ResponseValue<T>, Error>> + Send + 'a {
        run(self, decode)
    }
}

/// The most of an error body kept in an [`Error`].
const MAX_ERROR_BODY: usize = 1 << 20;

/// What the attempts of one call saw, kept outside the operation timeout
/// so a timeout can still report it.
#[derive(Default)]
struct Seen {
    attempts: u32,
    status: Option<StatusCode>,
}

/// A whole response: the status, the headers and the body read to its end.
struct Done {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

async fn run<T>(call: Call<'_>, decode: Decode<T>) -> Result<ResponseValue<T>, Error> {
    let Call {
        core,
        operation,
        options,
        request,
    } = call;
    let settings = core.settings();
    let invalid = |message| Error::InvalidRequest {
        operation: operation.name,
        message,
    };
    let mut request = request.map_err(|e| match e {
        BuildError::InvalidRequest(message) => invalid(message),
        BuildError::Http(e) => invalid(format!(
            "the request could not be built: {}",
            TransportError::new(e, None)
        )),
    })?;
    prepare(settings, operation, &mut request).map_err(invalid)?;

    let policy = options.retry.as_deref().unwrap_or(&settings.retry);
    let limit = options.timeout.unwrap_or(settings.operation_timeout);
    let mut seen = Seen::default();
    let attempts = attempts(settings, policy, operation, request, limit, &mut seen);
    let done = match tokio::time::timeout(limit, attempts).await {
        Ok(done) => done?,
        Err(_elapsed) => {
            return Err(Error::Timeout {
                operation: operation.name,
                limit,
                attempts: seen.attempts,
                last_status: seen.status,
            });
        }
    };
    match decode(&done.body) {
        Ok(value) => Ok(ResponseValue::new(value, done.status, done.headers)),
        Err(source) => Err(Error::Decode {
            operation: operation.name,
            status: Some(done.status),
            body: lossy(&done.body),
            source,
            attempts: seen.attempts,
        }),
    }
}

/// Checks the path, then adds the SDK identifier, the key, the user agent
/// and (for a client brought with
/// [`ClientBuilder::http_client`](crate::ClientBuilder::http_client)) the
/// attempt timeout: per request rather than as the HTTP client's defaults,
/// so that such a client gets them too.
fn prepare(
    settings: &Settings,
    operation: &Operation,
    request: &mut reqwest::Request,
) -> Result<(), String> {
    check_path(
        operation.name,
        operation.template,
        &settings.base_path,
        request.url().path(),
    )?;
    let url = request.url_mut();
    match url.query() {
        // Encoded once: this runs on every call.
        None => url.set_query(Some(ii_query())),
        Some(query) => {
            let joined = format!("{query}&{}", ii_query());
            url.set_query(Some(&joined));
        }
    }
    if let Auth::Query(name, key) = &settings.auth {
        url.query_pairs_mut().append_pair(name, key);
    }
    let headers = request.headers_mut();
    if let Auth::Header(name, value) = &settings.auth {
        headers.insert(name.clone(), value.clone());
    }
    headers.insert(USER_AGENT, settings.user_agent.clone());
    if settings.timeout_per_request {
        *request.timeout_mut() = Some(settings.attempt_timeout);
    }
    Ok(())
}

/// How an attempt failed.
enum Failed {
    /// A whole response with an error status.
    Status(Done),
    /// No whole response; `status` when the headers came but not the body.
    Lost {
        status: Option<StatusCode>,
        error: reqwest::Error,
    },
}

/// Sends `request` until it succeeds or the policy says stop.
async fn attempts(
    settings: &Settings,
    policy: &RetryPolicy,
    operation: &Operation,
    request: Box<reqwest::Request>,
    limit: Duration,
    seen: &mut Seen,
) -> Result<Done, Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let bucket = policy.budget().and(settings.budget.as_ref());
    let mut taken = 0u32;
    let mut waited = Duration::ZERO;
    let mut request = request;
    loop {
        seen.attempts += 1;
        let attempt = seen.attempts;
        // A copy for the next attempt, only when there can be one; a
        // request whose body cannot be copied is sent once.
        let spare = if attempt < policy.max_attempts() {
            request.try_clone().map(Box::new)
        } else {
            None
        };
        tracing::debug!(
            operation = operation.name,
            attempt,
            method = %method,
            path = request.url().path(),
            "fingerprint-server-sdk: sending"
        );
        let sent = Instant::now();
        let outcome = send_once(settings, request, seen).await;
        let elapsed_ms = sent.elapsed().as_millis() as u64;
        if let Ok(done) | Err(Failed::Status(done)) = &outcome {
            tracing::debug!(
                operation = operation.name,
                attempt,
                status = done.status.as_u16(),
                elapsed_ms,
                "fingerprint-server-sdk: response"
            );
        }
        let outcome = match outcome {
            Ok(done) => {
                if let Some(bucket) = bucket {
                    bucket.succeeded(taken);
                }
                return Ok(done);
            }
            Err(failed) => failed,
        };
        let now = SystemTime::now();
        let class = match &outcome {
            Failed::Status(done) => {
                let outcome = Outcome::Response {
                    status: done.status,
                    headers: &done.headers,
                    body: &done.body,
                };
                classify::classify(operation.name, &method, outcome, now)
            }
            Failed::Lost { error, .. } => {
                tracing::debug!(
                    operation = operation.name,
                    attempt,
                    error = %crate::error::describe(error, Some(settings.attempt_timeout)),
                    elapsed_ms,
                    "fingerprint-server-sdk: no response"
                );
                let outcome = Outcome::Transport {
                    connect: error.is_connect(),
                    timeout: error.is_timeout(),
                };
                classify::classify(operation.name, &method, outcome, now)
            }
        };
        let decision = match &spare {
            None => Decision::Stop(Stop::OutOfAttempts),
            Some(_) => {
                let progress = Progress {
                    attempt,
                    waited,
                    remaining: limit.saturating_sub(started.elapsed()),
                };
                classify::decide(policy, class, progress, classify::jitter())
            }
        };
        let (wait, next) = match (decision, spare) {
            (Decision::Retry { wait, cost }, Some(next)) => {
                if let Some(bucket) = bucket {
                    if !bucket.try_take(cost) {
                        tracing::debug!(
                            operation = operation.name,
                            attempt,
                            "fingerprint-server-sdk: not retrying, the client's retry budget is empty"
                        );
                        return Err(failure(operation, outcome, attempt, settings, now));
                    }
                    taken = taken.saturating_add(cost);
                }
                (wait, next)
            }
            (decision, _) => {
                if class.is_retryable() {
                    tracing::debug!(
                        operation = operation.name,
                        attempt,
                        why = ?decision,
                        "fingerprint-server-sdk: not retrying"
                    );
                }
                return Err(failure(operation, outcome, attempt, settings, now));
            }
        };
        let status = match &outcome {
            Failed::Status(done) => Some(done.status.as_u16()),
            Failed::Lost { status, .. } => status.map(|s| s.as_u16()),
        };
        tracing::debug!(
            operation = operation.name,
            attempt,
            status,
            class = ?class,
            delay_ms = wait.as_millis() as u64,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "fingerprint-server-sdk: retrying"
        );
        drop(outcome);
        tokio::time::sleep(wait).await;
        waited = waited.saturating_add(wait);
        request = next;
    }
}

/// One attempt: sends the request and reads the whole body; a success
/// status is `Ok`.
async fn send_once(
    settings: &Settings,
    request: Box<reqwest::Request>,
    seen: &mut Seen,
) -> Result<Done, Failed> {
    let mut response = match settings.http.execute(*request).await {
        Ok(response) => response,
        Err(error) => {
            return Err(Failed::Lost {
                status: None,
                error,
            });
        }
    };
    let status = response.status();
    seen.status = Some(status);
    let headers = std::mem::take(response.headers_mut());
    // Chunk by chunk rather than `bytes()`: its future holds the response
    // and a collector, and every call's future would carry it.
    let mut body = BodyBuffer::default();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => body.push(chunk),
            Ok(None) => break,
            Err(error) => {
                return Err(Failed::Lost {
                    status: Some(status),
                    error,
                });
            }
        }
    }
    let done = Done {
        status,
        headers,
        body: body.finish(),
    };
    if status.is_success() {
        Ok(done)
    } else {
        Err(Failed::Status(done))
    }
}

/// A body read in chunks: most bodies come in one, kept without a copy.
#[derive(Default)]
enum BodyBuffer {
    #[default]
    Empty,
    One(Bytes),
    Many(Vec<u8>),
}

impl BodyBuffer {
    fn push(&mut self, chunk: Bytes) {
        *self = match std::mem::take(self) {
            Self::Empty => Self::One(chunk),
            Self::One(first) => {
                let mut all = Vec::with_capacity(first.len() + chunk.len());
                all.extend_from_slice(&first);
                all.extend_from_slice(&chunk);
                Self::Many(all)
            }
            Self::Many(mut all) => {
                all.extend_from_slice(&chunk);
                Self::Many(all)
            }
        };
    }

    fn finish(self) -> Bytes {
        match self {
            Self::Empty => Bytes::new(),
            Self::One(chunk) => chunk,
            Self::Many(all) => Bytes::from(all),
        }
    }
}

/// The error for an attempt after which no retry follows.
fn failure(
    operation: &Operation,
    outcome: Failed,
    attempts: u32,
    settings: &Settings,
    now: SystemTime,
) -> Error {
    match outcome {
        Failed::Status(done) => {
            let body = &done.body[..done.body.len().min(MAX_ERROR_BODY)];
            Error::Api {
                operation: operation.name,
                status: done.status,
                error: ApiError::from_body(body),
                body: lossy(body),
                retry_after: classify::retry_after(&done.headers, now),
                attempts,
            }
        }
        Failed::Lost { status, error } => Error::Transport {
            operation: operation.name,
            status,
            attempts,
            source: TransportError::new(error, Some(settings.attempt_timeout)),
        },
    }
}

fn lossy(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_identifier_is_encoded_as_a_form_value() {
        let mut url = reqwest::Url::parse("http://example.test/v4/events").expect("url");
        url.query_pairs_mut()
            .append_pair("ii", crate::SDK_IDENTIFIER);
        assert_eq!(url.query(), Some(super::ii_query()));
        // Whatever the version: the value carries no raw `/` or `+`.
        let value = &super::ii_query()["ii=".len()..];
        assert!(value.contains("%2F") && !value.contains(['/', '+']));
    }

    /// The future of a call is kept small: it is copied on every call and
    /// grows every future that awaits it (an `Event` held across an
    /// `.await`, or the request builder, would add KBs).
    #[test]
    fn call_futures_stay_small() {
        let client = crate::Client::builder("k")
            .base_url("http://127.0.0.1:9/v4")
            .build()
            .expect("client");
        let send = client.get_event().event_id("x").send();
        let size = std::mem::size_of_val(&send);
        assert!(
            size < 1024,
            "the future of get_event().send() is {size} bytes (an Event is {})",
            std::mem::size_of::<crate::types::Event>()
        );
        let search = client.search_events().limit(10).send();
        assert!(std::mem::size_of_val(&search) < 1024);
    }

    /// The future of `send()` may be made outside a runtime and awaited in
    /// one: nothing that needs the runtime is made before the first poll.
    #[test]
    fn send_can_be_made_outside_a_runtime() {
        let client = crate::Client::builder("k")
            .base_url("http://127.0.0.1:9/v4")
            .retry(crate::RetryPolicy::disabled())
            .build()
            .expect("client");
        let call = client.get_event().event_id("x").send();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let outcome = runtime.block_on(call);
        assert!(
            matches!(outcome, Err(crate::Error::Transport { .. })),
            "{outcome:?}"
        );
    }
}
