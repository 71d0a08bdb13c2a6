//! Webhook signature checks: verify the `fpjs-event-signature` header of an incoming webhook
//! request and turn its body into an [`Event`].
//!
//! Fingerprint signs every webhook body with the secret configured for the webhook in the
//! dashboard. The header carries one or more comma-separated `version=hash` entries; version
//! `v1` is the lowercase hex of HMAC-SHA256 over the raw body bytes, keyed with the secret.
//! Several `v1` entries can be present while a secret is being rotated: a request is accepted
//! when any one of them matches. Entries with other versions are skipped.
//!
//! Always verify the body exactly as it arrived, before any JSON parsing or re-encoding: a
//! single changed byte (even whitespace) makes the signature fail.
//!
//! ```
//! use fingerprint_server_sdk::webhook;
//!
//! let secret = b"my-webhook-secret";
//! let body = br#"{"event_id":"a","timestamp":1}"#;
//! // What Fingerprint would send, produced here with the test helper.
//! let header = webhook::sign(body, secret);
//!
//! assert!(webhook::verify(&header, body, secret).is_ok());
//! assert!(webhook::verify(&header, b"tampered", secret).is_err());
//! ```
//!
//! In a web framework, keep the secrets in a [`WebhookSecrets`] (one or several, for a rotation
//! on your side) and check whole requests with [`parse_event_request`], which reads the header
//! from an [`http::HeaderMap`]; [`WebhookError::status`] says how to answer a rejected request.
//! With the `axum` feature, the `webhook::axum` module does all of it as an extractor.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::types::Event;

#[cfg(feature = "axum")]
pub mod axum;

/// Name of the HTTP request header that carries the webhook signature.
///
/// HTTP header names are case-insensitive; this is the lowercase spelling.
pub const SIGNATURE_HEADER: &str = "fpjs-event-signature";

/// The only signature version defined today.
const V1: &str = "v1";

/// Length in bytes of a SHA-256 HMAC, i.e. of a decoded `v1` signature.
const V1_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook request was rejected.
///
/// The messages say what failed and what to check; none of them contains the secret.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebhookError {
    /// The signature header value is empty (or only whitespace): the request was probably not
    /// sent by Fingerprint, or the header was dropped by a proxy.
    EmptyHeader,
    /// The secret passed to the check is empty (for a [`WebhookSecrets`], every secret of the
    /// set is): it was probably not configured.
    EmptySecret,
    /// The request body is empty; Fingerprint never signs an empty body.
    EmptyBody,
    /// The header is not a comma-separated list of `version=hash` entries, or a `v1` hash is not
    /// 64 hex digits, and no other entry matched.
    MalformedHeader {
        /// What is wrong with the header (it never repeats the header itself).
        reason: MalformedReason,
    },
    /// The header is well formed but has no `v1` entry (only versions this SDK doesn't know).
    NoV1Signature,
    /// No `v1` entry matches the body: wrong secret, or the body was changed on the way.
    SignatureMismatch,
    /// The signature is valid but the body is not an event this SDK can read.
    InvalidEvent(serde_json::Error),
}

/// What is wrong with a malformed signature header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MalformedReason {
    /// An entry has no `=` between version and hash.
    MissingEquals,
    /// An entry has an empty version before `=`.
    EmptyVersion,
    /// A `v1` hash contains a character that is not a hex digit.
    NotHex,
    /// A `v1` hash has the wrong length (a SHA-256 HMAC is 64 hex digits).
    WrongLength,
    /// The header value is not visible ASCII text (only [`verify_request`] and
    /// [`parse_event_request`], which read raw header values, can see this).
    NotText,
}

impl fmt::Display for MalformedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingEquals => "an entry has no `=` between version and hash",
            Self::EmptyVersion => "an entry has an empty version",
            Self::NotHex => "a v1 hash contains a character that is not a hex digit",
            Self::WrongLength => "a v1 hash is not 64 hex digits long",
            Self::NotText => "the value is not visible ASCII text",
        })
    }
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyHeader => write!(
                f,
                "webhook signature header `{SIGNATURE_HEADER}` is empty or missing; \
                 check that the request comes from Fingerprint and that no proxy strips the header"
            ),
            Self::EmptySecret => f.write_str(
                "webhook secret is empty; check that the secret from the dashboard is configured",
            ),
            Self::EmptyBody => {
                f.write_str("webhook body is empty; pass the raw request body bytes as received")
            }
            Self::MalformedHeader { reason } => write!(
                f,
                "webhook signature header `{SIGNATURE_HEADER}` is malformed ({reason}); \
                 expected comma-separated `v1=<64 hex digits>` entries"
            ),
            Self::NoV1Signature => write!(
                f,
                "webhook signature header `{SIGNATURE_HEADER}` has no `v1` entry; \
                 only unknown signature versions were found"
            ),
            Self::SignatureMismatch => f.write_str(
                "webhook signature does not match the body; check the webhook secret and that \
                 the body is verified exactly as received, before any parsing",
            ),
            Self::InvalidEvent(err) => write!(
                f,
                "webhook signature is valid but the body is not a valid event: {err}"
            ),
        }
    }
}

impl WebhookError {
    /// The HTTP status a webhook endpoint should answer this error with.
    ///
    /// 400 Bad Request for [`InvalidEvent`](Self::InvalidEvent) (the request is authentic but
    /// its body is not an event), 500 Internal Server Error for
    /// [`EmptySecret`](Self::EmptySecret) (the endpoint itself is not configured), and
    /// 401 Unauthorized for everything else: the request could not be shown to come from
    /// Fingerprint.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::InvalidEvent(_) => http::StatusCode::BAD_REQUEST,
            Self::EmptySecret => http::StatusCode::INTERNAL_SERVER_ERROR,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }
}

impl std::error::Error for WebhookError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidEvent(err) => Some(err),
            _ => None,
        }
    }
}

/// Checks that `signature_header` (the value of the [`SIGNATURE_HEADER`] header) is a valid
/// signature of `body` with `secret`.
///
/// `body` must be the raw request body, byte for byte. `secret` is the webhook secret from the
/// dashboard, as bytes (`secret.as_bytes()` for a string). The request passes when any `v1`
/// entry of the header matches; entries with other versions are ignored. The comparison runs in
/// constant time.
///
/// # Errors
///
/// [`WebhookError::EmptyHeader`], [`WebhookError::EmptySecret`] or [`WebhookError::EmptyBody`]
/// when an input is empty; otherwise, when no `v1` entry matches,
/// [`WebhookError::SignatureMismatch`] if there was at least one well-formed `v1` entry,
/// else [`WebhookError::MalformedHeader`] if some entry was malformed, else
/// [`WebhookError::NoV1Signature`].
pub fn verify(signature_header: &str, body: &[u8], secret: &[u8]) -> Result<(), WebhookError> {
    verify_with_any(signature_header, body, [secret])
}

/// [`verify`] against several secrets: passes when any `v1` entry matches any non-empty secret.
/// Fails with [`WebhookError::EmptySecret`] only when no secret is non-empty.
fn verify_with_any<'s>(
    signature_header: &str,
    body: &[u8],
    secrets: impl IntoIterator<Item = &'s [u8]>,
) -> Result<(), WebhookError> {
    let header = signature_header.trim();
    if header.is_empty() {
        return Err(WebhookError::EmptyHeader);
    }
    let mut failure = WebhookError::EmptySecret;
    for secret in secrets {
        if secret.is_empty() {
            continue;
        }
        if body.is_empty() {
            return Err(WebhookError::EmptyBody);
        }
        // Every secret meets the same header, so the last failure describes them all.
        match verify_one(header, body, secret) {
            Ok(()) => return Ok(()),
            Err(err) => failure = err,
        }
    }
    Err(failure)
}

/// [`verify`] for one non-empty secret, a trimmed non-empty header and a non-empty body.
fn verify_one(header: &str, body: &[u8], secret: &[u8]) -> Result<(), WebhookError> {
    // HMAC accepts keys of any length, so this never fails; stay panic-free all the same.
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return Err(WebhookError::SignatureMismatch);
    };
    mac.update(body);

    let mut saw_v1 = false;
    let mut malformed = None;
    for entry in header.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            // Tolerate a stray comma ("v1=..,").
            continue;
        }
        let Some((version, hash)) = entry.split_once('=') else {
            malformed.get_or_insert(MalformedReason::MissingEquals);
            continue;
        };
        let version = version.trim();
        if version.is_empty() {
            malformed.get_or_insert(MalformedReason::EmptyVersion);
            continue;
        }
        if version != V1 {
            continue;
        }
        let expected = match decode_hex_32(hash.trim()) {
            Ok(bytes) => bytes,
            Err(reason) => {
                malformed.get_or_insert(reason);
                continue;
            }
        };
        saw_v1 = true;
        // `verify_slice` consumes the MAC, so check against a copy of the keyed state.
        if mac.clone().verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }

    Err(if saw_v1 {
        WebhookError::SignatureMismatch
    } else if let Some(reason) = malformed {
        WebhookError::MalformedHeader { reason }
    } else {
        WebhookError::NoV1Signature
    })
}

/// Verifies the request like [`verify`], then reads the body as an [`Event`].
///
/// Reading is forward-compatible in the same way as API responses: fields added by newer
/// versions of the API do not make it fail.
///
/// # Errors
///
/// Every error of [`verify`], and [`WebhookError::InvalidEvent`] (keeping the JSON error) when
/// the signed body is not a valid event.
pub fn parse_event(
    signature_header: &str,
    body: &[u8],
    secret: &[u8],
) -> Result<Event, WebhookError> {
    verify(signature_header, body, secret)?;
    serde_json::from_slice(body).map_err(WebhookError::InvalidEvent)
}

/// The webhook secrets an endpoint accepts: one, or several while a secret is being replaced.
///
/// A request passes when its signature matches any of them. Cloning is cheap (the secrets are
/// shared), so the set can live in an application's state and be handed to every request.
/// `Debug` shows only how many secrets there are, never their bytes. Empty secrets are ignored;
/// a set with none but empty ones rejects every request with [`WebhookError::EmptySecret`].
///
/// ```
/// use fingerprint_server_sdk::webhook::{self, WebhookSecrets};
///
/// // The new secret first; the old one stays accepted until the dashboard stops using it.
/// let secrets = WebhookSecrets::new("new-secret").with("old-secret");
/// let body = br#"{"event_id":"a","timestamp":1}"#;
/// assert!(secrets.verify(&webhook::sign(body, b"old-secret"), body).is_ok());
/// assert_eq!(format!("{secrets:?}"), "WebhookSecrets { count: 2, .. }");
/// ```
#[derive(Clone)]
pub struct WebhookSecrets {
    secrets: Arc<[Box<[u8]>]>,
}

impl WebhookSecrets {
    /// A set holding one secret (`&str`, `String`, `&[u8]`, `Vec<u8>`, ...).
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self {
            secrets: Arc::from([Box::from(secret.as_ref())]),
        }
    }

    /// The same set with one more secret accepted.
    #[must_use]
    pub fn with(self, secret: impl AsRef<[u8]>) -> Self {
        let mut secrets = self.secrets.to_vec();
        secrets.push(Box::from(secret.as_ref()));
        Self {
            secrets: Arc::from(secrets),
        }
    }

    /// How many secrets the set holds (empty ones included).
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Whether the set holds no secret at all.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// [`verify`] against every secret of the set: passes when any of them matches.
    ///
    /// # Errors
    ///
    /// As [`verify`]; [`WebhookError::EmptySecret`] when the set has no non-empty secret.
    pub fn verify(&self, signature_header: &str, body: &[u8]) -> Result<(), WebhookError> {
        verify_with_any(signature_header, body, self.iter())
    }

    /// [`parse_event`] against every secret of the set.
    ///
    /// # Errors
    ///
    /// As [`WebhookSecrets::verify`], and [`WebhookError::InvalidEvent`] when the signed body
    /// is not a valid event.
    pub fn parse_event(&self, signature_header: &str, body: &[u8]) -> Result<Event, WebhookError> {
        self.verify(signature_header, body)?;
        serde_json::from_slice(body).map_err(WebhookError::InvalidEvent)
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.secrets.iter().map(|secret| &**secret)
    }
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSecrets")
            .field("count", &self.secrets.len())
            .finish_non_exhaustive()
    }
}

/// Collects secrets into a set (for example from a configuration list).
impl<S: AsRef<[u8]>> FromIterator<S> for WebhookSecrets {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self {
            secrets: iter
                .into_iter()
                .map(|secret| Box::from(secret.as_ref()))
                .collect(),
        }
    }
}

/// Checks a whole webhook request, for any web framework built on the `http` crate: reads the
/// [`SIGNATURE_HEADER`] from `headers` and verifies `body` (the raw body bytes, as received)
/// against `secrets`.
///
/// The header may appear more than once; its values are then read as one comma-separated list.
///
/// # Errors
///
/// As [`WebhookSecrets::verify`]; a missing header is [`WebhookError::EmptyHeader`], and a
/// value that is not visible ASCII is [`WebhookError::MalformedHeader`] with
/// [`MalformedReason::NotText`] (unless another value matches). [`WebhookError::status`] gives
/// the HTTP answer.
pub fn verify_request(
    headers: &http::HeaderMap,
    body: &[u8],
    secrets: &WebhookSecrets,
) -> Result<(), WebhookError> {
    let mut values = headers.get_all(SIGNATURE_HEADER).iter();
    let (Some(first), None) = (values.next(), values.next()) else {
        return verify_joined(headers, body, secrets);
    };
    match first.to_str() {
        Ok(header) => secrets.verify(header, body),
        Err(_) => Err(WebhookError::MalformedHeader {
            reason: MalformedReason::NotText,
        }),
    }
}

/// [`verify_request`] when the header is absent or appears several times.
fn verify_joined(
    headers: &http::HeaderMap,
    body: &[u8],
    secrets: &WebhookSecrets,
) -> Result<(), WebhookError> {
    let mut joined = String::new();
    let mut not_text = false;
    for value in headers.get_all(SIGNATURE_HEADER) {
        match value.to_str() {
            Ok(text) => {
                joined.push_str(text);
                joined.push(',');
            }
            Err(_) => not_text = true,
        }
    }
    match secrets.verify(&joined, body) {
        Err(WebhookError::EmptyHeader) if not_text => Err(WebhookError::MalformedHeader {
            reason: MalformedReason::NotText,
        }),
        other => other,
    }
}

/// [`verify_request`], then reads the body as an [`Event`].
///
/// ```
/// use fingerprint_server_sdk::webhook::{self, WebhookSecrets};
/// use http::{HeaderMap, HeaderValue, StatusCode};
///
/// let secrets = WebhookSecrets::new("my-webhook-secret");
/// let body = br#"{"event_id":"a","timestamp":1}"#;
/// let mut headers = HeaderMap::new();
/// let signature = webhook::sign(body, b"my-webhook-secret");
/// headers.insert(webhook::SIGNATURE_HEADER, HeaderValue::from_str(&signature).unwrap());
///
/// let event = webhook::parse_event_request(&headers, body, &secrets).unwrap();
/// assert_eq!(event.event_id, "a");
///
/// let refused = webhook::parse_event_request(&HeaderMap::new(), body, &secrets).unwrap_err();
/// assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
/// ```
///
/// # Errors
///
/// As [`verify_request`], and [`WebhookError::InvalidEvent`] when the signed body is not a
/// valid event.
pub fn parse_event_request(
    headers: &http::HeaderMap,
    body: &[u8],
    secrets: &WebhookSecrets,
) -> Result<Event, WebhookError> {
    verify_request(headers, body, secrets)?;
    serde_json::from_slice(body).map_err(WebhookError::InvalidEvent)
}

/// Signs `body` with `secret` the way Fingerprint does, and returns a complete header value
/// (`v1=<64 lowercase hex digits>`).
///
/// Meant for tests: send the result as the [`SIGNATURE_HEADER`] header to exercise a webhook
/// handler without waiting for a real event.
pub fn sign(body: &[u8], secret: &[u8]) -> String {
    let digest = match HmacSha256::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            mac.finalize().into_bytes()
        }
        // Unreachable: HMAC takes keys of any length.
        Err(_) => Default::default(),
    };
    let mut header = String::with_capacity(V1.len() + 1 + 2 * V1_LEN);
    header.push_str(V1);
    header.push('=');
    for byte in digest {
        header.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        header.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
    }
    header
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Decodes a 64-digit hex string (either case) into 32 bytes.
fn decode_hex_32(hex: &str) -> Result<[u8; V1_LEN], MalformedReason> {
    let digits = hex.as_bytes();
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(MalformedReason::NotHex);
    }
    if digits.len() != 2 * V1_LEN {
        return Err(MalformedReason::WrongLength);
    }
    let mut out = [0u8; V1_LEN];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *byte = (hex_value(*hi) << 4) | hex_value(*lo);
        }
    }
    Ok(out)
}

/// Value of one ASCII hex digit (already checked to be one).
fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let header = sign(b"data", b"secret");
        let hash = header.strip_prefix("v1=").unwrap_or_default();
        let bytes = decode_hex_32(hash);
        assert!(bytes.is_ok());
        assert_eq!(decode_hex_32(&hash.to_uppercase()), bytes);
        assert_eq!(decode_hex_32("zz"), Err(MalformedReason::NotHex));
        assert_eq!(decode_hex_32("abcd"), Err(MalformedReason::WrongLength));
    }
}
