//! The one error type of the SDK ([`Error`]), the decoded API error
//! ([`ApiError`]) and the opaque transport error ([`TransportError`]).

use std::fmt;
use std::time::Duration;

use http::StatusCode;

use crate::types;

/// What went wrong with a call, with everything that is known about it.
///
/// Every variant that had a response keeps its HTTP status and, when the body
/// could not be decoded, its text. The secret API key never appears in any
/// of it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The client could not be built: missing or malformed key, unknown
    /// region, bad base URL, or an HTTP client setting that was refused; or
    /// the blocking client was called inside an async runtime.
    #[non_exhaustive]
    Config {
        /// What is wrong and what to change.
        message: String,
    },
    /// The request was refused before anything was sent (an empty path
    /// parameter, a parameter value that could not be converted).
    #[non_exhaustive]
    InvalidRequest {
        /// The operation, e.g. `get_event`.
        operation: &'static str,
        /// What is wrong with the request.
        message: String,
    },
    /// The API (or a gateway in front of it) answered with an error status.
    #[non_exhaustive]
    Api {
        /// The operation, e.g. `get_event`.
        operation: &'static str,
        /// The HTTP status of the last response.
        status: StatusCode,
        /// The decoded `{"error": {"code", "message"}}` body, when it was one.
        error: Option<ApiError>,
        /// The body as text (lossy UTF-8), kept whether or not it decoded.
        body: String,
        /// The `Retry-After` the server sent with the last response.
        retry_after: Option<Duration>,
        /// How many attempts were made, the first included.
        attempts: u32,
    },
    /// A success response whose body is not what the operation returns
    /// (invalid or truncated JSON, a missing required field).
    #[non_exhaustive]
    Decode {
        /// The operation, e.g. `get_event`.
        operation: &'static str,
        /// The HTTP status of the response.
        status: Option<StatusCode>,
        /// The body as text (lossy UTF-8).
        body: String,
        /// Where and why decoding failed.
        source: serde_json::Error,
        /// How many attempts were made, the first included.
        attempts: u32,
    },
    /// No complete response: the connection failed or was reset, an attempt
    /// timed out, or the body could not be read.
    #[non_exhaustive]
    Transport {
        /// The operation, e.g. `get_event`.
        operation: &'static str,
        /// The status, when the headers arrived but the body did not.
        status: Option<StatusCode>,
        /// How many attempts were made, the first included.
        attempts: u32,
        /// What failed, with the HTTP client's error as its source.
        source: TransportError,
    },
    /// The whole operation (all attempts and the waits between them) took
    /// longer than the client's operation timeout.
    #[non_exhaustive]
    Timeout {
        /// The operation, e.g. `get_event`.
        operation: &'static str,
        /// The operation timeout that ran out.
        limit: Duration,
        /// How many attempts were started, the first included.
        attempts: u32,
        /// The status of the last response seen before time ran out, if any.
        last_status: Option<StatusCode>,
    },
}

/// The error the API reports in its body: `{"error": {"code", "message"}}`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The machine-readable code (open: an unknown code is kept verbatim in
    /// [`types::ErrorCode::Unrecognized`]).
    pub code: types::ErrorCode,
    /// The human-readable message from the API.
    pub message: String,
}

impl ApiError {
    /// Decodes an API error body; `None` when the body is not one.
    pub fn from_body(body: &[u8]) -> Option<Self> {
        let decoded: types::ErrorResponse = serde_json::from_slice(body).ok()?;
        Some(Self {
            code: decoded.error.code,
            message: decoded.error.message,
        })
    }
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config {
            message: message.into(),
        }
    }

    /// The operation that failed (`get_event`, `search_events`, ...), or
    /// `None` for a configuration error.
    pub fn operation(&self) -> Option<&'static str> {
        match self {
            Self::InvalidRequest { operation, .. }
            | Self::Api { operation, .. }
            | Self::Decode { operation, .. }
            | Self::Transport { operation, .. }
            | Self::Timeout { operation, .. } => Some(operation),
            Self::Config { .. } => None,
        }
    }

    /// The HTTP status of the response, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::Decode { status, .. } | Self::Transport { status, .. } => *status,
            Self::Timeout { last_status, .. } => *last_status,
            Self::Config { .. } | Self::InvalidRequest { .. } => None,
        }
    }

    /// The decoded API error (`code` and `message`), when the body had one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::Api { error, .. } => error.as_ref(),
            _ => None,
        }
    }

    /// The API error code, when the body had one.
    pub fn code(&self) -> Option<&types::ErrorCode> {
        self.api_error().map(|e| &e.code)
    }

    /// The response body as text, for an error status or a body that did not
    /// decode.
    pub fn body(&self) -> Option<&str> {
        match self {
            Self::Api { body, .. } | Self::Decode { body, .. } => Some(body),
            _ => None,
        }
    }

    /// How many attempts were made before giving up (0 when nothing was
    /// sent).
    pub fn attempts(&self) -> u32 {
        match self {
            Self::Api { attempts, .. }
            | Self::Decode { attempts, .. }
            | Self::Transport { attempts, .. }
            | Self::Timeout { attempts, .. } => *attempts,
            Self::Config { .. } | Self::InvalidRequest { .. } => 0,
        }
    }

    /// The `Retry-After` delay the server sent with the last response.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether a timeout ended the call: an attempt's or the whole
    /// operation's.
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::Timeout { .. } => true,
            Self::Transport { source, .. } => source.is_timeout(),
            _ => false,
        }
    }

    /// Whether the resource was not found (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// Whether the API throttled the call (HTTP 429); see
    /// [`retry_after`](Self::retry_after) for when to try again.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Self::Api { status, .. } if *status == StatusCode::TOO_MANY_REQUESTS)
    }

    /// Whether the API, or a gateway in front of it, answered with a 5xx
    /// status.
    pub fn is_server_error(&self) -> bool {
        matches!(self, Self::Api { status, .. } if status.is_server_error())
    }

    /// Whether a success response had a body that is not what the operation
    /// returns.
    pub fn is_decode(&self) -> bool {
        matches!(self, Self::Decode { .. })
    }

    /// Whether the same call may succeed if made again later: throttling,
    /// a 500, 502, 503 or 504, an event not processed yet (409
    /// `state_not_ready`), a transport failure or a timeout. The client's
    /// retry policy already retried such failures where it was safe; this
    /// is for scheduling a later try. For a `POST` whose response was lost,
    /// the server may have done the work already.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => {
                matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
                    || self.code().is_some_and(|c| c.as_str() == "state_not_ready")
            }
            Self::Transport { .. } | Self::Timeout { .. } => true,
            Self::Config { .. } | Self::InvalidRequest { .. } | Self::Decode { .. } => false,
        }
    }

    /// A hint for the person reading the error, when there is a likely fix.
    pub fn hint(&self) -> Option<&'static str> {
        use types::ErrorCode as C;
        let code = self.code()?;
        Some(match code {
            C::WrongRegion => {
                "the key belongs to a workspace in another region: set the client's region \
                 (Region::Eu, Region::Asia or Region::Global) to the workspace's"
            }
            C::SecretApiKeyNotFound => {
                "the secret key is not known in this region: check the key, its environment and \
                 the client's region"
            }
            C::SecretApiKeyRequired => "no secret key was sent: check how the client was built",
            C::FeatureNotEnabled => "this feature is not enabled for the workspace",
            C::SubscriptionNotActive => "the workspace's subscription is not active",
            C::TooManyRequests => "the request was throttled: retry later or lower the rate",
            C::StateNotReady => "the event is still being processed: retry in a few seconds",
            C::EventNotFound => "no event with this id in the workspace (check the region too)",
            C::VisitorNotFound => "no visitor with this id in the workspace (check the region too)",
            _ => return None,
        })
    }
}

fn truncate(body: &str, max: usize) -> &str {
    if body.len() <= max {
        return body;
    }
    let mut end = max;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[..end]
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config { message } => write!(f, "client configuration: {message}"),
            Self::InvalidRequest { operation, message } => {
                write!(f, "{operation}: request not sent: {message}")
            }
            Self::Api {
                operation,
                status,
                error,
                body,
                attempts,
                retry_after,
            } => {
                write!(f, "{operation}: HTTP {status}")?;
                match error {
                    Some(e) => write!(f, " {}: {}", e.code, e.message)?,
                    None if body.trim().is_empty() => write!(f, " with an empty body")?,
                    None => write!(
                        f,
                        " with a body that is not an API error: {:?}",
                        truncate(body, 200)
                    )?,
                }
                if *attempts > 1 {
                    write!(f, " (gave up after {attempts} attempts")?;
                    if let Some(wait) = retry_after {
                        write!(f, "; last Retry-After {}s", wait.as_secs())?;
                    }
                    write!(f, ")")?;
                }
                Ok(())
            }
            Self::Decode {
                operation,
                status,
                body,
                source,
                ..
            } => {
                write!(f, "{operation}: ")?;
                if let Some(status) = status {
                    write!(f, "HTTP {status} ")?;
                }
                write!(
                    f,
                    "response could not be decoded: {source} (body starts {:?})",
                    truncate(body, 200)
                )
            }
            Self::Transport {
                operation,
                status,
                attempts,
                source,
            } => {
                write!(f, "{operation}: ")?;
                if let Some(status) = status {
                    write!(f, "HTTP {status}, then ")?;
                }
                write!(f, "{source}")?;
                if *attempts > 1 {
                    write!(f, " (gave up after {attempts} attempts)")?;
                }
                Ok(())
            }
            Self::Timeout {
                operation,
                limit,
                attempts,
                last_status,
            } => {
                write!(
                    f,
                    "{operation}: operation timeout of {limit:?} ran out after {attempts} attempt(s)"
                )?;
                if let Some(status) = last_status {
                    write!(f, "; last status {status}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decode { source, .. } => Some(source),
            Self::Transport { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A request that got no whole response: the connection failed or was
/// reset, an attempt timed out, or the body could not be read. Opaque, so
/// that the HTTP client behind it can change without changing this type;
/// the client's own error is its [`source`](std::error::Error::source).
pub struct TransportError {
    source: reqwest::Error,
    attempt_timeout: Option<Duration>,
}

impl TransportError {
    /// Wraps the HTTP client's error, without its URL (harmless, since the
    /// key travels only in a header, but long). `attempt_timeout` is the
    /// attempt timeout in force, named when it is what ran out.
    pub(crate) fn new(source: reqwest::Error, attempt_timeout: Option<Duration>) -> Self {
        Self {
            source: source.without_url(),
            attempt_timeout,
        }
    }

    /// Whether a timeout ended the attempt (the connect timeout or the
    /// attempt timeout).
    pub fn is_timeout(&self) -> bool {
        self.source.is_timeout()
    }

    /// Whether the connection could not be made (the request never reached
    /// the server).
    pub fn is_connect(&self) -> bool {
        self.source.is_connect()
    }

    /// Whether the response's body could not be read whole (cut short or
    /// malformed).
    pub fn is_body(&self) -> bool {
        self.source.is_body() || self.source.is_decode()
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(&self.source, self.attempt_timeout).fmt(f)
    }
}

/// A one-line description of the HTTP client's error `e`; the attempt
/// timeout is named when it is what ran out.
pub(crate) fn describe(e: &reqwest::Error, attempt_timeout: Option<Duration>) -> Described<'_> {
    Described { e, attempt_timeout }
}

/// See [`describe`].
pub(crate) struct Described<'a> {
    e: &'a reqwest::Error,
    attempt_timeout: Option<Duration>,
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.e;
        if e.is_timeout() && !e.is_connect() {
            // The inner cause would only repeat "operation timed out".
            return match self.attempt_timeout {
                Some(limit) => write!(f, "timed out: the attempt timeout of {limit:?} ran out"),
                None => f.write_str("timed out: the attempt timeout ran out"),
            };
        }
        let what = if e.is_connect() && e.is_timeout() {
            "could not connect: the connect timeout ran out"
        } else if e.is_connect() {
            "could not connect"
        } else if e.is_body() || e.is_decode() {
            "the response body could not be read"
        } else if e.is_redirect() {
            "redirect refused"
        } else {
            "request failed"
        };
        f.write_str(what)?;
        // The innermost cause says the most (e.g. "Connection refused").
        let mut innermost: Option<&dyn std::error::Error> = None;
        let mut cause = std::error::Error::source(e);
        while let Some(c) = cause {
            innermost = Some(c);
            cause = c.source();
        }
        match innermost.map(ToString::to_string) {
            Some(detail) if !detail.is_empty() => write!(f, ": {detail}"),
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("message", &self.to_string())
            .field("is_timeout", &self.is_timeout())
            .field("is_connect", &self.is_connect())
            .finish()
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
