//! Sealed client results: open the encrypted event that the JavaScript agent hands to the
//! browser when "sealed results" are enabled, with the decryption keys from the dashboard.
//!
//! A sealed result is `9E 85 DC ED` (a 4-byte marker), a 12-byte nonce, the ciphertext and a
//! 16-byte tag. It is encrypted with AES-256-GCM (no associated data), and the plaintext is the
//! raw DEFLATE compression (no zlib or gzip header) of the event's UTF-8 JSON.
//!
//! Several keys may be given, for instance while a key is being rotated: they are tried in order
//! and the first one that authenticates the data wins. Decompression is capped
//! ([`DEFAULT_MAX_DECOMPRESSED_LEN`] unless chosen with [`open_with_limit`] or
//! [`unseal_event_with_limit`]), so a small payload that inflates to gigabytes is refused
//! without allocating more than the cap.
//!
//! ```
//! use fingerprint_server_sdk::sealed::{self, DecryptionKey};
//!
//! // The key as shown in the dashboard (base64).
//! let key = DecryptionKey::from_base64("Ko/qm7hulVD7Gt9K38jrnEyjecVRd3D17OOIwr1ZvDk=")?;
//!
//! // A payload made with the test helper; in production it comes from your front end.
//! let sealed_result = sealed::seal(br#"{"event_id":"1.a","timestamp":1}"#, &key)?;
//!
//! let event = sealed::unseal_event(&sealed_result, &[key])?;
//! # let _ = event;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use flate2::{Decompress, FlushDecompress, Status};

use crate::types::Event;

/// The 4 bytes every sealed result starts with.
pub const SEALED_HEADER: [u8; 4] = [0x9E, 0x85, 0xDC, 0xED];

/// Largest decompressed payload accepted by default: 16 MiB (a real event is a few KiB).
pub const DEFAULT_MAX_DECOMPRESSED_LEN: usize = 16 * 1024 * 1024;

/// Length of an AES-256 key in bytes.
const KEY_LEN: usize = 32;
/// Length of the AES-GCM nonce in bytes.
const NONCE_LEN: usize = 12;
/// Length of the AES-GCM authentication tag in bytes.
const TAG_LEN: usize = 16;
/// Shortest input that can hold a header, a nonce and a tag.
const MIN_SEALED_LEN: usize = SEALED_HEADER.len() + NONCE_LEN + TAG_LEN;

/// Base64 as the dashboard and the other SDKs use it: standard alphabet, padding optional, and
/// non-zero trailing bits tolerated (the published test key has them).
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A key that can open sealed results (today always AES-256-GCM).
///
/// Its `Debug` output names the algorithm only, never the key bytes.
#[derive(Clone)]
pub struct DecryptionKey {
    cipher: Aes256Gcm,
}

impl DecryptionKey {
    /// Makes an AES-256-GCM key from its 32 raw bytes.
    ///
    /// # Errors
    ///
    /// [`KeyError::WrongLength`] when `bytes` is not 32 bytes long.
    pub fn aes256gcm(bytes: &[u8]) -> Result<Self, KeyError> {
        <[u8; KEY_LEN]>::try_from(bytes)
            .map(Self::from)
            .map_err(|_| KeyError::WrongLength { len: bytes.len() })
    }

    /// Makes an AES-256-GCM key from its base64 text, as shown in the dashboard.
    ///
    /// Surrounding whitespace is ignored, padding is optional, and non-canonical encodings
    /// (non-zero trailing bits) are accepted like the other Fingerprint SDKs do.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidBase64`] when the text is not base64, [`KeyError::WrongLength`] when
    /// it does not decode to 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = LENIENT_BASE64
            .decode(text.trim())
            .map_err(|err| KeyError::InvalidBase64 {
                reason: describe_base64_error(&err),
            })?;
        Self::aes256gcm(&bytes)
    }
}

impl From<[u8; KEY_LEN]> for DecryptionKey {
    fn from(bytes: [u8; KEY_LEN]) -> Self {
        Self {
            cipher: Aes256Gcm::new(&bytes.into()),
        }
    }
}

impl FromStr for DecryptionKey {
    type Err = KeyError;

    /// Same as [`DecryptionKey::from_base64`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_base64(text)
    }
}

impl fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptionKey")
            .field("algorithm", &"AES-256-GCM")
            .finish_non_exhaustive()
    }
}

/// Why a [`DecryptionKey`] could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not valid base64.
    InvalidBase64 {
        /// What the decoder objected to (never the key text itself).
        reason: String,
    },
    /// The key does not have the 32 bytes AES-256 needs.
    WrongLength {
        /// How many bytes were given.
        len: usize,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidBase64 { reason } => write!(
                f,
                "decryption key is not valid base64 ({reason}); copy the key from the dashboard"
            ),
            Self::WrongLength { len } => write!(
                f,
                "decryption key is {len} bytes long but AES-256-GCM needs {KEY_LEN}; \
                 check that the whole key was copied"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// Describes a base64 error without quoting the offending character (it may be part of a key).
fn describe_base64_error(err: &base64::DecodeError) -> String {
    match err {
        base64::DecodeError::InvalidByte(offset, _) => {
            format!("invalid character at offset {offset}")
        }
        base64::DecodeError::InvalidLength(len) => format!("invalid length {len}"),
        base64::DecodeError::InvalidLastSymbol { offset, .. } => {
            format!("invalid last character at offset {offset}")
        }
        base64::DecodeError::InvalidPadding => "invalid padding".to_owned(),
    }
}

/// Why one key could not open a sealed result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFailureReason {
    /// The authentication tag did not match: the data was sealed with another key, or altered.
    AuthenticationFailed,
}

impl fmt::Display for KeyFailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AuthenticationFailed => "authentication failed (other key, or altered data)",
        })
    }
}

/// One key's failure, in the list carried by [`UnsealError::NoKeyMatched`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyFailure {
    /// Position of the key in the slice that was passed.
    pub index: usize,
    /// Why it failed.
    pub reason: KeyFailureReason,
}

impl fmt::Display for KeyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key #{}: {}", self.index, self.reason)
    }
}

/// Why a sealed result could not be opened.
///
/// The messages say what failed and what to check; none of them contains key bytes.
#[derive(Debug)]
#[non_exhaustive]
pub enum UnsealError {
    /// The base64 text given to [`unseal_event_base64`] is not base64.
    InvalidBase64 {
        /// What the decoder objected to.
        reason: String,
    },
    /// The data does not start with [`SEALED_HEADER`]: it is not a sealed result (or it is
    /// still base64-encoded). No key was tried.
    InvalidHeader,
    /// The data is shorter than a header, a nonce and a tag: it was cut off.
    TooShort {
        /// Length of the data.
        len: usize,
        /// Minimum length of a sealed result.
        min: usize,
    },
    /// The key list is empty.
    NoKeys,
    /// No key could authenticate the data; one entry per key, in the order given.
    NoKeyMatched {
        /// Each key's failure.
        failures: Vec<KeyFailure>,
    },
    /// A key opened the data but the plaintext is not valid raw DEFLATE.
    Decompress {
        /// Index of the key that opened the data.
        key_index: usize,
        /// What the decompressor reported.
        reason: String,
    },
    /// The decompressed payload is larger than the limit; decompression stopped there.
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The decompressed payload is not UTF-8.
    InvalidUtf8 {
        /// Number of valid bytes before the first invalid sequence.
        valid_up_to: usize,
    },
    /// The decompressed payload is not well-formed JSON (for instance cut off).
    InvalidJson(serde_json::Error),
    /// The payload is JSON but not an event of this API version (for example a sealed result
    /// from API v3, or an object without the required fields).
    NotAnEvent(serde_json::Error),
}

impl fmt::Display for UnsealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidBase64 { reason } => {
                write!(f, "sealed result is not valid base64 ({reason})")
            }
            Self::InvalidHeader => f.write_str(
                "sealed result does not start with the expected header 9E 85 DC ED; \
                 check that it is a sealed result and that it was base64-decoded exactly once",
            ),
            Self::TooShort { len, min } => write!(
                f,
                "sealed result is {len} bytes long, shorter than the {min} bytes of header, \
                 nonce and tag; it was probably cut off"
            ),
            Self::NoKeys => f.write_str("no decryption key was given"),
            Self::NoKeyMatched { failures } => {
                f.write_str(
                    "no decryption key could open the sealed result; check that the keys are \
                     the current ones from the dashboard (",
                )?;
                for (i, failure) in failures.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{failure}")?;
                }
                f.write_str(")")
            }
            Self::Decompress { key_index, reason } => write!(
                f,
                "key #{key_index} opened the sealed result but its content is not valid raw \
                 DEFLATE data: {reason}"
            ),
            Self::TooLarge { limit } => write!(
                f,
                "sealed result decompresses to more than {limit} bytes; refused"
            ),
            Self::InvalidUtf8 { valid_up_to } => write!(
                f,
                "decompressed sealed result is not UTF-8 (invalid bytes after byte {valid_up_to})"
            ),
            Self::InvalidJson(err) => {
                write!(f, "decompressed sealed result is not valid JSON: {err}")
            }
            Self::NotAnEvent(err) => write!(
                f,
                "decompressed sealed result is JSON but not a v4 event (is the workspace still \
                 on API v3?): {err}"
            ),
        }
    }
}

impl std::error::Error for UnsealError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidJson(err) | Self::NotAnEvent(err) => Some(err),
            _ => None,
        }
    }
}

/// Why [`seal`] could not produce a sealed result.
#[derive(Debug)]
#[non_exhaustive]
pub enum SealError {
    /// The operating system's random generator failed while drawing the nonce.
    Random(String),
    /// Compression failed.
    Compress(String),
    /// Encryption failed (the payload is too large for AES-GCM).
    Encrypt,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Random(reason) => write!(f, "could not draw a random nonce: {reason}"),
            Self::Compress(reason) => write!(f, "could not compress the payload: {reason}"),
            Self::Encrypt => f.write_str("could not encrypt the payload (too large for AES-GCM)"),
        }
    }
}

impl std::error::Error for SealError {}

/// Decrypts and decompresses a sealed result, and returns the payload (the event's JSON bytes).
///
/// Uses [`DEFAULT_MAX_DECOMPRESSED_LEN`] as the size cap. The header is checked before any key
/// is tried; then the keys are tried in order and the first that authenticates the data is used.
///
/// # Errors
///
/// See [`UnsealError`]. Once a key has authenticated the data, a decompression failure is
/// reported as such ([`UnsealError::Decompress`], [`UnsealError::TooLarge`]) rather than tried
/// with the remaining keys: the data is known to come from the holder of that key.
pub fn open(sealed: &[u8], keys: &[DecryptionKey]) -> Result<Vec<u8>, UnsealError> {
    open_with_limit(sealed, keys, DEFAULT_MAX_DECOMPRESSED_LEN)
}

/// Like [`open`], with a chosen cap on the decompressed size in bytes.
///
/// # Errors
///
/// See [`open`].
pub fn open_with_limit(
    sealed: &[u8],
    keys: &[DecryptionKey],
    max_decompressed_len: usize,
) -> Result<Vec<u8>, UnsealError> {
    let too_short = || UnsealError::TooShort {
        len: sealed.len(),
        min: MIN_SEALED_LEN,
    };
    let Some(rest) = sealed.strip_prefix(&SEALED_HEADER) else {
        // A prefix of the header (including nothing at all) was cut off rather than wrong.
        return Err(if SEALED_HEADER.starts_with(sealed) {
            too_short()
        } else {
            UnsealError::InvalidHeader
        });
    };
    let Some((nonce, ciphertext_and_tag)) = rest.split_first_chunk::<NONCE_LEN>() else {
        return Err(too_short());
    };
    if ciphertext_and_tag.len() < TAG_LEN {
        return Err(too_short());
    }
    let nonce = Nonce::from(*nonce);

    if keys.is_empty() {
        return Err(UnsealError::NoKeys);
    }
    let mut failures = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        match key.cipher.decrypt(&nonce, ciphertext_and_tag) {
            Ok(compressed) => {
                return inflate_raw(&compressed, max_decompressed_len).map_err(|err| match err {
                    InflateError::TooLarge => UnsealError::TooLarge {
                        limit: max_decompressed_len,
                    },
                    InflateError::Corrupt(reason) => UnsealError::Decompress {
                        key_index: index,
                        reason,
                    },
                });
            }
            Err(_) => failures.push(KeyFailure {
                index,
                reason: KeyFailureReason::AuthenticationFailed,
            }),
        }
    }
    Err(UnsealError::NoKeyMatched { failures })
}

/// Opens a sealed result and reads it as an [`Event`].
///
/// Reading is forward-compatible like API responses: fields added by newer versions of the API
/// do not make it fail.
///
/// # Errors
///
/// Every error of [`open`]; [`UnsealError::InvalidUtf8`], [`UnsealError::InvalidJson`] or
/// [`UnsealError::NotAnEvent`] when the payload is not an event.
pub fn unseal_event(sealed: &[u8], keys: &[DecryptionKey]) -> Result<Event, UnsealError> {
    unseal_event_with_limit(sealed, keys, DEFAULT_MAX_DECOMPRESSED_LEN)
}

/// Like [`unseal_event`], with a chosen cap on the decompressed size in bytes.
///
/// # Errors
///
/// See [`unseal_event`].
pub fn unseal_event_with_limit(
    sealed: &[u8],
    keys: &[DecryptionKey],
    max_decompressed_len: usize,
) -> Result<Event, UnsealError> {
    let payload = open_with_limit(sealed, keys, max_decompressed_len)?;
    parse_event(&payload)
}

/// Like [`unseal_event`], for a sealed result given as base64 text (as the JavaScript agent
/// returns it). Surrounding whitespace is ignored and padding is optional.
///
/// # Errors
///
/// [`UnsealError::InvalidBase64`], then every error of [`unseal_event`].
pub fn unseal_event_base64(sealed: &str, keys: &[DecryptionKey]) -> Result<Event, UnsealError> {
    unseal_event(&decode_sealed_base64(sealed)?, keys)
}

/// Like [`open`], for a sealed result given as base64 text: the decrypted,
/// decompressed payload (the event's JSON as the server wrote it, fields this
/// SDK does not know included).
///
/// # Errors
///
/// [`UnsealError::InvalidBase64`], then every error of [`open`].
pub fn open_base64(sealed: &str, keys: &[DecryptionKey]) -> Result<Vec<u8>, UnsealError> {
    open(&decode_sealed_base64(sealed)?, keys)
}

fn decode_sealed_base64(sealed: &str) -> Result<Vec<u8>, UnsealError> {
    LENIENT_BASE64
        .decode(sealed.trim())
        .map_err(|err| UnsealError::InvalidBase64 {
            reason: describe_base64_error(&err),
        })
}

/// Reads a decompressed payload as an event, telling bad UTF-8, bad JSON and non-events apart.
fn parse_event(payload: &[u8]) -> Result<Event, UnsealError> {
    let text = std::str::from_utf8(payload).map_err(|err| UnsealError::InvalidUtf8 {
        valid_up_to: err.valid_up_to(),
    })?;
    serde_json::from_str(text).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => UnsealError::NotAnEvent(err),
        _ => UnsealError::InvalidJson(err),
    })
}

/// Why raw DEFLATE data could not be inflated.
enum InflateError {
    /// Not valid DEFLATE data, or cut off before its end.
    Corrupt(String),
    /// The output would exceed the limit.
    TooLarge,
}

/// Inflates raw DEFLATE `data`, refusing output larger than `limit` bytes.
///
/// The output buffer grows by doubling but never past `limit + 1` bytes, the one extra byte
/// being how an over-long stream is detected. Bytes after the end of the stream are an error.
fn inflate_raw(data: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let cap_max = limit.saturating_add(1);
    // JSON compresses about 3 to 5 times; start near the likely size.
    let initial = data.len().saturating_mul(4).max(1024).min(cap_max);
    let mut out = Vec::with_capacity(initial);
    let mut inflater = Decompress::new(false);
    loop {
        if out.len() > limit {
            return Err(InflateError::TooLarge);
        }
        if out.len() == out.capacity() {
            let target = out.capacity().saturating_mul(2).max(1024).min(cap_max);
            out.reserve_exact(target.saturating_sub(out.len()));
        }
        let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
        let input = data.get(consumed..).unwrap_or_default();
        let out_before = out.len();
        let status = inflater
            .decompress_vec(input, &mut out, FlushDecompress::None)
            .map_err(|err| InflateError::Corrupt(err.to_string()))?;
        let consumed_now = usize::try_from(inflater.total_in())
            .unwrap_or(usize::MAX)
            .saturating_sub(consumed);
        match status {
            Status::StreamEnd => {
                if out.len() > limit {
                    return Err(InflateError::TooLarge);
                }
                // Fingerprint seals exactly one stream; bytes after its end mean the plaintext
                // was not DEFLATE at all (plain text can look like a very short stream).
                let used = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
                if used < data.len() {
                    return Err(InflateError::Corrupt(format!(
                        "{} bytes follow the end of the compressed stream",
                        data.len() - used
                    )));
                }
                return Ok(out);
            }
            Status::Ok | Status::BufError => {
                let stalled = consumed_now == 0 && out.len() == out_before;
                if stalled && out.len() < out.capacity() {
                    return Err(InflateError::Corrupt(
                        "the compressed stream ends before its final block".to_owned(),
                    ));
                }
            }
        }
    }
}

/// Seals `event_json` with `key` the way Fingerprint does (raw DEFLATE, then AES-256-GCM with a
/// random nonce), giving bytes that [`open`] and [`unseal_event`] accept.
///
/// Meant for tests of code that receives sealed results.
///
/// # Errors
///
/// [`SealError::Random`] if the operating system's random generator fails.
pub fn seal(event_json: &[u8], key: &DecryptionKey) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng
        .try_fill_bytes(&mut nonce)
        .map_err(|err| SealError::Random(err.to_string()))?;
    seal_with_nonce(event_json, key, nonce)
}

/// Like [`seal`], giving base64 text (standard alphabet, padded), as the
/// JavaScript agent hands sealed results to the front end; [`unseal_event_base64`] and
/// [`open_base64`] accept it.
///
/// Meant for tests of code that receives sealed results as text.
///
/// # Errors
///
/// As [`seal`].
pub fn seal_base64(event_json: &[u8], key: &DecryptionKey) -> Result<String, SealError> {
    seal(event_json, key).map(|sealed| base64::engine::general_purpose::STANDARD.encode(sealed))
}

/// Like [`seal`] with a given nonce, for reproducible output.
///
/// Never reuse a nonce with the same key outside tests: AES-GCM loses its security if you do.
///
/// # Errors
///
/// [`SealError::Compress`] or [`SealError::Encrypt`], which do not happen for payloads of a
/// realistic size.
pub fn seal_with_nonce(
    event_json: &[u8],
    key: &DecryptionKey,
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, SealError> {
    let compressed = deflate_raw(event_json)?;
    let nonce = Nonce::from(nonce);
    let ciphertext = key
        .cipher
        .encrypt(&nonce, compressed.as_slice())
        .map_err(|_| SealError::Encrypt)?;
    let mut sealed = Vec::with_capacity(SEALED_HEADER.len() + NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&SEALED_HEADER);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// Compresses `data` as raw DEFLATE.
fn deflate_raw(data: &[u8]) -> Result<Vec<u8>, SealError> {
    use std::io::Write;

    let mut encoder = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        flate2::Compression::default(),
    );
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(|err| SealError::Compress(err.to_string()))
}
