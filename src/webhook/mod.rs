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

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::types::Event;

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
    /// The secret passed to the check is empty: it was probably not configured.
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
}

impl fmt::Display for MalformedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingEquals => "an entry has no `=` between version and hash",
            Self::EmptyVersion => "an entry has an empty version",
            Self::NotHex => "a v1 hash contains a character that is not a hex digit",
            Self::WrongLength => "a v1 hash is not 64 hex digits long",
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
    let header = signature_header.trim();
    if header.is_empty() {
        return Err(WebhookError::EmptyHeader);
    }
    if secret.is_empty() {
        return Err(WebhookError::EmptySecret);
    }
    if body.is_empty() {
        return Err(WebhookError::EmptyBody);
    }

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
