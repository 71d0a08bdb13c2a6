//! Tests of the `sealed` module: the project's own fixtures (own keys, own events, sealed by the
//! module's own helper) cover every behaviour; the shared known-answer vectors of the other
//! Fingerprint SDKs are read in place when present, and skipped with a message otherwise.
//!
//! The committed `tests/fixtures/sealed/*.sealed.b64` files are made by the ignored test
//! `regenerate_fixtures` (`cargo test --test sealed -- --ignored regenerate_fixtures`).
#![cfg(feature = "sealed")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fingerprint_server_sdk::sealed::{
    self, DEFAULT_MAX_DECOMPRESSED_LEN, DecryptionKey, KeyError, KeyFailureReason, SEALED_HEADER,
    UnsealError,
};
use proptest::prelude::*;
use serde_json::Value;

#[path = "common/fixtures.rs"]
mod fixtures;
#[allow(dead_code)]
#[path = "../examples/unseal.rs"]
mod unseal_example;

// ---------------------------------------------------------------------------------------------
// Allocation meter: counts the bytes held by the current thread, to show that a decompression
// bomb is refused without allocating past the limit.

struct MeteredAllocator;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note_alloc(size: usize) {
    let _ = HELD.try_with(|held| {
        let now = held.get().saturating_add_unsigned(size);
        held.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn note_free(size: usize) {
    let _ = HELD.try_with(|held| held.set(held.get().saturating_sub_unsigned(size)));
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are kept.
unsafe impl GlobalAlloc for MeteredAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            note_alloc(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        note_free(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            note_free(layout.size());
            note_alloc(new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: MeteredAllocator = MeteredAllocator;

/// Runs `f` and returns its result with the most bytes this thread held at once during it,
/// above what it held before.
fn peak_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = HELD.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let out = f();
    let peak = PEAK.with(Cell::get);
    (out, usize::try_from(peak - start).unwrap_or(0))
}

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers.

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sealed")
}

fn fixture_text(name: &str) -> String {
    let path = fixture_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read fixture {}: {err}", path.display()))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).expect("fixture is JSON")
}

fn fixture_sealed(name: &str) -> Vec<u8> {
    STANDARD
        .decode(fixture_text(name).trim())
        .expect("fixture is base64")
}

/// The project's own test keys (random, made for this project only).
struct OwnKeys {
    primary_b64: String,
    primary_bytes: Vec<u8>,
    secondary: DecryptionKey,
    unrelated: DecryptionKey,
}

fn own_keys() -> OwnKeys {
    let keys = fixture_json("keys.json");
    let text = |name: &str| keys[name].as_str().expect("key text").to_owned();
    let primary_b64 = text("primary");
    OwnKeys {
        primary_bytes: STANDARD.decode(&primary_b64).expect("canonical base64"),
        secondary: DecryptionKey::from_base64(&text("secondary")).expect("secondary key"),
        unrelated: DecryptionKey::from_base64(&text("unrelated")).expect("unrelated key"),
        primary_b64,
    }
}

impl OwnKeys {
    fn primary(&self) -> DecryptionKey {
        DecryptionKey::from_base64(&self.primary_b64).expect("primary key")
    }
}

/// Encrypts `plaintext` as a sealed result WITHOUT compressing it, to build payloads that the
/// SDK's own `seal` would never produce (bad DEFLATE, bad UTF-8 after inflating...).
fn encrypt_raw(plaintext: &[u8], key: &[u8], nonce: [u8; 12]) -> Vec<u8> {
    let cipher = Aes256Gcm::new_from_slice(key).expect("32-byte key");
    let ciphertext = cipher
        .encrypt(&Nonce::from(nonce), plaintext)
        .expect("encrypt");
    [SEALED_HEADER.as_slice(), &nonce, &ciphertext].concat()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("compress");
    enc.finish().expect("compress")
}

/// Asserts that the event, serialized back, is the expected JSON exactly (modulo empty fields).
fn assert_same_event(event: &impl serde::Serialize, expected: &Value) {
    let got = serde_json::to_value(event).expect("event serializes");
    let mut diffs = Vec::new();
    fixtures::loose_differences(&got, expected, "", &mut diffs);
    assert!(diffs.is_empty(), "event differs from fixture: {diffs:#?}");
}

/// Asserts the key fields, and that every field kept by the parsed event has the expected
/// value. Fields the v4 types don't know (old vectors) may be dropped; they are listed.
fn assert_event_subset(event: &impl serde::Serialize, expected: &Value, what: &str) {
    let got = serde_json::to_value(event).expect("event serializes");
    for key in ["event_id", "timestamp"] {
        assert_eq!(got[key], expected[key], "{what}: {key}");
    }
    assert_eq!(
        got["identification"]["visitor_id"], expected["identification"]["visitor_id"],
        "{what}: identification.visitor_id"
    );
    let mut diffs = Vec::new();
    fixtures::loose_differences(&got, expected, "", &mut diffs);
    let (dropped, wrong): (Vec<_>, Vec<_>) = diffs
        .into_iter()
        .partition(|d| d.ends_with("missing from the parsed event"));
    assert!(
        wrong.is_empty(),
        "{what}: parsed event disagrees: {wrong:#?}"
    );
    if !dropped.is_empty() {
        eprintln!("{what}: fields not kept by the generated Event: {dropped:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Keys.

#[test]
fn key_from_base64_and_bytes_agree() {
    let keys = own_keys();
    let payload = sealed::seal(br#"{"event_id":"k","timestamp":1}"#, &keys.primary()).unwrap();
    let from_bytes = DecryptionKey::aes256gcm(&keys.primary_bytes).unwrap();
    let array: [u8; 32] = keys.primary_bytes.clone().try_into().unwrap();
    let from_array = DecryptionKey::from(array);
    let parsed: DecryptionKey = keys.primary_b64.parse().unwrap();
    for key in [from_bytes, from_array, parsed] {
        assert!(sealed::open(&payload, &[key]).is_ok());
    }
}

#[test]
fn key_text_is_lenient_about_whitespace_padding_and_trailing_bits() {
    let keys = own_keys();
    let payload = sealed::seal(br#"{"event_id":"k","timestamp":1}"#, &keys.primary()).unwrap();
    let canonical = keys.primary_b64.as_str();
    assert!(canonical.ends_with('='), "fixture key has one padding char");
    // Same key, but with the 2 unused trailing bits set: not canonical base64.
    let body = canonical.trim_end_matches('=');
    let (head, last) = body.split_at(body.len() - 1);
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let pos = alphabet
        .iter()
        .position(|&c| c == last.as_bytes()[0])
        .unwrap();
    let dirty = format!("{head}{}=", char::from(alphabet[pos | 0b11]));
    assert_ne!(dirty, canonical);
    assert!(STANDARD.decode(&dirty).is_err(), "strict base64 rejects it");

    for text in [
        canonical.to_owned(),
        dirty,
        body.to_owned(),
        format!("  {canonical}\n"),
    ] {
        let key = DecryptionKey::from_base64(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(sealed::open(&payload, &[key]).is_ok(), "{text:?}");
    }
}

#[test]
fn key_of_wrong_length_or_bad_text_is_refused_clearly() {
    for len in [0, 16, 24, 31, 33, 64] {
        let err = DecryptionKey::aes256gcm(&vec![7; len]).unwrap_err();
        assert_eq!(err, KeyError::WrongLength { len });
        assert!(err.to_string().contains("32"), "{err}");
    }
    let short = STANDARD.encode([1u8; 16]);
    assert_eq!(
        DecryptionKey::from_base64(&short).unwrap_err(),
        KeyError::WrongLength { len: 16 }
    );
    for text in ["not base64!", "Ko/qm7hu$VD7Gt9K", "a", "===="] {
        let err = DecryptionKey::from_base64(text).unwrap_err();
        assert!(
            matches!(err, KeyError::InvalidBase64 { .. }),
            "{text:?}: {err:?}"
        );
        if text.len() > 4 {
            assert!(!err.to_string().contains(text), "message quotes the key");
        }
    }
}

#[test]
fn key_debug_never_shows_key_material() {
    let keys = own_keys();
    let shown = format!("{:?} {:#?}", keys.primary(), keys.primary());
    assert!(shown.contains("AES-256-GCM"), "{shown}");
    let hex: String = keys
        .primary_bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!shown.contains(&keys.primary_b64[..8]));
    assert!(!shown.to_lowercase().contains(&hex[..8]));
    assert!(!shown.contains('['), "{shown}");
}

// ---------------------------------------------------------------------------------------------
// Opening the project's own fixtures.

#[test]
fn committed_fixture_opens_to_the_fixture_event() {
    let keys = own_keys();
    let expected = fixture_json("event.json");
    let payload = fixture_sealed("event.sealed.b64");
    let json = sealed::open(&payload, &[keys.primary()]).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&json).unwrap(),
        expected,
        "payload bytes"
    );
    let event = sealed::unseal_event(&payload, &[keys.primary()]).unwrap();
    assert_same_event(&event, &expected);
    let event =
        sealed::unseal_event_base64(&fixture_text("event.sealed.b64"), &[keys.primary()]).unwrap();
    assert_same_event(&event, &expected);
}

#[test]
fn seal_then_unseal_round_trips() {
    let keys = own_keys();
    let raw = fixture_text("event.json");
    let expected = fixture_json("event.json");
    let one = sealed::seal(raw.as_bytes(), &keys.primary()).unwrap();
    let two = sealed::seal(raw.as_bytes(), &keys.primary()).unwrap();
    assert_ne!(one, two, "nonces are random");
    assert!(one.starts_with(&SEALED_HEADER));
    assert!(one.len() < raw.len(), "payload is compressed");
    for payload in [one, two] {
        // open() gives back the exact bytes that were sealed.
        assert_eq!(
            sealed::open(&payload, &[keys.primary()]).unwrap(),
            raw.as_bytes()
        );
        let event = sealed::unseal_event(&payload, &[keys.primary()]).unwrap();
        assert_same_event(&event, &expected);
    }
    // Sealing with a fixed nonce is reproducible.
    let a = sealed::seal_with_nonce(raw.as_bytes(), &keys.primary(), [9; 12]).unwrap();
    let b = sealed::seal_with_nonce(raw.as_bytes(), &keys.primary(), [9; 12]).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.get(4..16), Some([9u8; 12].as_slice()));
}

#[test]
fn seal_base64_gives_padded_standard_base64_that_unseals() {
    let keys = own_keys();
    let raw = fixture_text("event.json");
    let text = sealed::seal_base64(raw.as_bytes(), &keys.primary()).unwrap();
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')),
        "standard alphabet: {text}"
    );
    assert_eq!(text.len() % 4, 0, "padded");
    assert_eq!(
        sealed::open_base64(&text, &[keys.primary()]).unwrap(),
        raw.as_bytes()
    );
    let event = sealed::unseal_event_base64(&text, &[keys.primary()]).unwrap();
    assert_same_event(&event, &fixture_json("event.json"));
    let err = sealed::unseal_event_base64(&text, std::slice::from_ref(&keys.secondary));
    assert!(err.is_err(), "another key does not open it");
}

#[test]
fn webhook_fixture_event_round_trips_too() {
    let keys = own_keys();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webhook/event.json");
    let raw = std::fs::read(path).unwrap();
    let payload = sealed::seal(&raw, &keys.secondary).unwrap();
    let event = sealed::unseal_event(&payload, std::slice::from_ref(&keys.secondary)).unwrap();
    assert_same_event(&event, &serde_json::from_slice(&raw).unwrap());
}

#[test]
fn unknown_fields_from_a_newer_api_are_accepted() {
    let keys = own_keys();
    let mut event = fixture_json("event.json");
    event["signal_from_the_future"] = serde_json::json!({"score": 0.5, "kind": "new"});
    event["identification"]["new_nested_field"] = Value::Bool(true);
    // A value the closed enum of this version doesn't know yet.
    event["bot"] = Value::from("brand_new_verdict");
    let payload = sealed::seal(event.to_string().as_bytes(), &keys.primary()).unwrap();
    let parsed = sealed::unseal_event(&payload, &[keys.primary()]).unwrap();
    let parsed = serde_json::to_value(&parsed).unwrap();
    assert_eq!(parsed["event_id"], event["event_id"]);
    assert_eq!(parsed["bot"], "brand_new_verdict");
}

#[test]
fn keys_are_tried_in_order_and_the_first_match_wins() {
    let keys = own_keys();
    let raw = fixture_text("event.json");
    let by_secondary = sealed::seal(raw.as_bytes(), &keys.secondary).unwrap();
    let rotation = [
        keys.primary(),
        keys.unrelated.clone(),
        keys.secondary.clone(),
    ];
    assert_eq!(
        sealed::open(&by_secondary, &rotation).unwrap(),
        raw.as_bytes()
    );
    let by_primary = sealed::seal(raw.as_bytes(), &keys.primary()).unwrap();
    assert!(sealed::unseal_event(&by_primary, &rotation).is_ok());
}

#[test]
fn when_every_key_fails_each_failure_is_listed() {
    let keys = own_keys();
    let payload = fixture_sealed("event.sealed.b64");
    let err =
        sealed::open(&payload, &[keys.unrelated.clone(), keys.secondary.clone()]).unwrap_err();
    let UnsealError::NoKeyMatched { failures } = &err else {
        panic!("expected NoKeyMatched, got {err:?}");
    };
    assert_eq!(failures.len(), 2);
    for (i, failure) in failures.iter().enumerate() {
        assert_eq!(failure.index, i);
        assert_eq!(failure.reason, KeyFailureReason::AuthenticationFailed);
    }
    let message = err.to_string();
    assert!(
        message.contains("key #0") && message.contains("key #1"),
        "{message}"
    );
    assert!(!message.contains(&keys.primary_b64[..8]));
}

#[test]
fn altered_data_fails_authentication() {
    let keys = own_keys();
    let payload = fixture_sealed("event.sealed.b64");
    // Flip one bit in the nonce, the ciphertext and the tag in turn.
    for pos in [5, 20, payload.len() / 2, payload.len() - 1] {
        let mut altered = payload.clone();
        altered[pos] ^= 0x01;
        let err = sealed::open(&altered, &[keys.primary()]).unwrap_err();
        assert!(
            matches!(&err, UnsealError::NoKeyMatched { failures } if failures.len() == 1),
            "byte {pos}: {err:?}"
        );
    }
    // Cut-off payloads still longer than the minimum also fail authentication.
    let err = sealed::open(&payload[..payload.len() - 3], &[keys.primary()]).unwrap_err();
    assert!(matches!(err, UnsealError::NoKeyMatched { .. }), "{err:?}");
}

#[test]
fn no_keys_is_its_own_error_but_comes_after_the_header_check() {
    let payload = fixture_sealed("event.sealed.b64");
    assert!(matches!(
        sealed::open(&payload, &[]),
        Err(UnsealError::NoKeys)
    ));
    let mut wrong = payload.clone();
    wrong[0] = 0x9F;
    assert!(matches!(
        sealed::open(&wrong, &[]),
        Err(UnsealError::InvalidHeader)
    ));
}

#[test]
fn wrong_header_is_refused_before_any_key_is_tried() {
    let keys = own_keys();
    let payload = fixture_sealed("event.sealed.b64");
    for pos in 0..4 {
        let mut wrong = payload.clone();
        wrong[pos] ^= 0x40;
        let err = sealed::open(&wrong, &[keys.primary()]).unwrap_err();
        assert!(matches!(err, UnsealError::InvalidHeader), "{err:?}");
        assert!(err.to_string().contains("9E 85 DC ED"), "{err}");
    }
    // Still base64 text instead of bytes: a typical mistake.
    let text = fixture_text("event.sealed.b64");
    let err = sealed::open(text.as_bytes(), &[keys.primary()]).unwrap_err();
    assert!(matches!(err, UnsealError::InvalidHeader), "{err:?}");
    let err = sealed::open(&[0x00], &[keys.primary()]).unwrap_err();
    assert!(matches!(err, UnsealError::InvalidHeader), "{err:?}");
}

#[test]
fn truncated_input_is_too_short() {
    let keys = own_keys();
    let payload = fixture_sealed("event.sealed.b64");
    for len in [0, 1, 3, 4, 7, 16, 31] {
        let err = sealed::open(&payload[..len], &[keys.primary()]).unwrap_err();
        assert!(
            matches!(err, UnsealError::TooShort { len: l, min: 32 } if l == len),
            "{len}: {err:?}"
        );
    }
    // Exactly header + nonce + tag is long enough to be tried (and then fails to authenticate).
    let err = sealed::open(&payload[..32], &[keys.primary()]).unwrap_err();
    assert!(matches!(err, UnsealError::NoKeyMatched { .. }), "{err:?}");
}

#[test]
fn plaintext_that_is_not_deflate_is_a_decompression_error() {
    let keys = own_keys();
    let payload = fixture_sealed("not_deflate.sealed.b64");
    let err = sealed::open(&payload, &[keys.unrelated.clone(), keys.primary()]).unwrap_err();
    assert!(
        matches!(&err, UnsealError::Decompress { key_index: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("key #1"), "{err}");

    // A zlib-wrapped (not raw) stream is refused too.
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut zlib, fixture_text("event.json").as_bytes()).unwrap();
    let zlib = zlib.finish().unwrap();
    let err = sealed::open(
        &encrypt_raw(&zlib, &keys.primary_bytes, [1; 12]),
        &[keys.primary()],
    )
    .unwrap_err();
    assert!(matches!(err, UnsealError::Decompress { .. }), "{err:?}");

    // An empty plaintext has no DEFLATE block at all.
    let err = sealed::open(
        &encrypt_raw(b"", &keys.primary_bytes, [2; 12]),
        &[keys.primary()],
    )
    .unwrap_err();
    assert!(matches!(err, UnsealError::Decompress { .. }), "{err:?}");
}

#[test]
fn deflate_stream_cut_before_its_end_is_a_decompression_error() {
    let keys = own_keys();
    let compressed = deflate(fixture_text("event.json").as_bytes());
    for cut in [1, compressed.len() / 2, compressed.len() - 1] {
        let payload = encrypt_raw(&compressed[..cut], &keys.primary_bytes, [3; 12]);
        let err = sealed::open(&payload, &[keys.primary()]).unwrap_err();
        assert!(
            matches!(err, UnsealError::Decompress { key_index: 0, .. }),
            "cut at {cut}: {err:?}"
        );
    }
}

#[test]
fn payload_that_is_not_utf8_is_its_own_error() {
    let keys = own_keys();
    let payload = fixture_sealed("invalid_utf8.sealed.b64");
    let err = sealed::unseal_event(&payload, &[keys.primary()]).unwrap_err();
    assert!(
        matches!(err, UnsealError::InvalidUtf8 { valid_up_to: 14 }),
        "{err:?}"
    );
    // open() itself does not care about the content.
    assert!(sealed::open(&payload, &[keys.primary()]).is_ok());
}

#[test]
fn cut_off_json_is_invalid_json() {
    let keys = own_keys();
    let payload = fixture_sealed("truncated_json.sealed.b64");
    let err = sealed::unseal_event(&payload, &[keys.primary()]).unwrap_err();
    assert!(matches!(err, UnsealError::InvalidJson(_)), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn json_that_is_not_an_event_is_not_an_event() {
    let keys = own_keys();
    let payload = fixture_sealed("not_an_event.sealed.b64");
    let err = sealed::unseal_event(&payload, &[keys.primary()]).unwrap_err();
    assert!(matches!(err, UnsealError::NotAnEvent(_)), "{err:?}");
    // The serde message says what is missing.
    assert!(err.to_string().contains("missing field"), "{err}");

    for body in [
        r#"{"products":{"identification":{"data":{"visitorId":"x"}}}}"#,
        r#"{"event_id":"1.a"}"#,
        r#"{"event_id":1,"timestamp":1}"#,
        "[]",
        "null",
        "42",
    ] {
        let payload = sealed::seal(body.as_bytes(), &keys.primary()).unwrap();
        let err = sealed::unseal_event(&payload, &[keys.primary()]).unwrap_err();
        assert!(matches!(err, UnsealError::NotAnEvent(_)), "{body}: {err:?}");
    }
    for body in [
        "",
        "{",
        r#"{"event_id":"1.a","#,
        "nul",
        r#"{"event_id":"1.a","timestamp":1} x"#,
    ] {
        let payload = sealed::seal(body.as_bytes(), &keys.primary()).unwrap();
        let err = sealed::unseal_event(&payload, &[keys.primary()]).unwrap_err();
        assert!(
            matches!(err, UnsealError::InvalidJson(_)),
            "{body}: {err:?}"
        );
    }
}

#[test]
fn base64_input_is_decoded_leniently_and_errors_are_clear() {
    let keys = own_keys();
    let text = fixture_text("event.sealed.b64");
    let unpadded = format!("\n {}\n", text.trim().trim_end_matches('='));
    assert!(sealed::unseal_event_base64(&unpadded, &[keys.primary()]).is_ok());
    let err = sealed::unseal_event_base64("noXc7%%%", &[keys.primary()]).unwrap_err();
    assert!(matches!(err, UnsealError::InvalidBase64 { .. }), "{err:?}");
    let err = sealed::unseal_event_base64("", &[keys.primary()]).unwrap_err();
    assert!(
        matches!(err, UnsealError::TooShort { len: 0, .. }),
        "{err:?}"
    );
}

#[test]
fn example_unseal_prints_the_event() {
    let keys = own_keys();
    let text = fixture_text("event.sealed.b64");
    let unrelated = fixture_json("keys.json")["unrelated"].clone();
    let unrelated = unrelated.as_str().unwrap();
    let key_list = format!("{unrelated}, {}\n", keys.primary_b64);
    let json = unseal_example::unseal_to_json(&text, &key_list).unwrap();
    let mut diffs = Vec::new();
    fixtures::loose_differences(
        &serde_json::from_str(&json).unwrap(),
        &fixture_json("event.json"),
        "",
        &mut diffs,
    );
    assert!(diffs.is_empty(), "{diffs:#?}");
    let err = unseal_example::unseal_to_json(&text, "short").unwrap_err();
    assert!(err.to_string().starts_with("key #0"), "{err}");
    let err = unseal_example::unseal_to_json(&text, "").unwrap_err();
    assert!(err.to_string().contains("no decryption key"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Size limit and decompression bombs.

/// Raw DEFLATE data that inflates to `mib` MiB of zeros, built by repeating one non-final block
/// (each block only refers back to zeros, so the copies stay valid). About 1 KiB per MiB.
fn deflate_bomb(mib: usize) -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
    let zeros = vec![0u8; 1024 * 1024];
    let mut block = Vec::with_capacity(4096);
    let status = compress
        .compress_vec(&zeros, &mut block, flate2::FlushCompress::Sync)
        .unwrap();
    assert_eq!(status, flate2::Status::Ok);
    assert_eq!(
        compress.total_in(),
        zeros.len() as u64,
        "one call took it all"
    );
    let mut bomb = Vec::with_capacity(block.len() * mib + 8);
    for _ in 0..mib {
        bomb.extend_from_slice(&block);
    }
    // A final, empty fixed-Huffman block.
    bomb.extend_from_slice(&[0x03, 0x00]);
    bomb
}

#[test]
fn decompression_bomb_is_refused_without_allocating_past_the_limit() {
    let keys = own_keys();
    // 1 GiB of zeros.
    let bomb = deflate_bomb(1024);
    let payload = encrypt_raw(&bomb, &keys.primary_bytes, [4; 12]);
    let key = [keys.primary()];
    let started = std::time::Instant::now();
    let (result, peak) = peak_allocation(|| sealed::unseal_event(&payload, &key));
    let elapsed = started.elapsed();
    let err = result.unwrap_err();
    assert!(
        matches!(err, UnsealError::TooLarge { limit } if limit == DEFAULT_MAX_DECOMPRESSED_LEN),
        "{err:?}"
    );
    eprintln!(
        "bomb: {} bytes sealed (inflating to 1 GiB) refused in {elapsed:?}, peak heap {} bytes \
         (limit {DEFAULT_MAX_DECOMPRESSED_LEN}, decrypted copy {} bytes)",
        payload.len(),
        peak,
        bomb.len()
    );
    // Output buffer (limit + 1) plus the decrypted copy of the input, plus small change.
    assert!(
        peak <= DEFAULT_MAX_DECOMPRESSED_LEN + 1 + 2 * payload.len() + 256 * 1024,
        "peak {peak}"
    );
}

#[test]
fn a_chosen_limit_is_exact() {
    let keys = own_keys();
    let raw = fixture_text("event.json");
    let payload = fixture_sealed("event.sealed.b64");
    let key = [keys.primary()];
    assert!(sealed::open_with_limit(&payload, &key, raw.len()).is_ok());
    assert!(sealed::unseal_event_with_limit(&payload, &key, raw.len()).is_ok());
    for limit in [0, 1, 100, raw.len() - 1] {
        let err = sealed::open_with_limit(&payload, &key, limit).unwrap_err();
        assert!(
            matches!(err, UnsealError::TooLarge { limit: l } if l == limit),
            "{limit}: {err:?}"
        );
    }
    // A small bomb goes through with a large enough limit.
    let bomb = encrypt_raw(&deflate_bomb(2), &keys.primary_bytes, [5; 12]);
    let (out, peak) = peak_allocation(|| sealed::open_with_limit(&bomb, &key, 2 << 20));
    assert_eq!(out.unwrap().len(), 2 << 20);
    assert!(
        peak <= (2 << 20) + 1 + 2 * bomb.len() + 64 * 1024,
        "peak {peak}"
    );
    let err = sealed::open_with_limit(&bomb, &key, (2 << 20) - 1).unwrap_err();
    assert!(matches!(err, UnsealError::TooLarge { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Never panic on arbitrary input.

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let keys = own_keys();
        let key = [keys.primary()];
        let _ = sealed::open(&data, &key);
        let _ = sealed::unseal_event(&data, &key);
        let with_header = [SEALED_HEADER.as_slice(), &data].concat();
        let _ = sealed::open(&with_header, &key);
        prop_assert!(sealed::unseal_event(&with_header, &[]).is_err());
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,120}") {
        let keys = own_keys();
        let _ = sealed::unseal_event_base64(&text, &[keys.primary()]);
        let _ = DecryptionKey::from_base64(&text);
    }

    #[test]
    fn arbitrary_authentic_plaintext_never_panics(
        plaintext in proptest::collection::vec(any::<u8>(), 0..300),
        limit in 0usize..2048,
    ) {
        // Authentic (so it reaches decompression and parsing) but arbitrary content.
        let keys = own_keys();
        let payload = encrypt_raw(&plaintext, &keys.primary_bytes, [6; 12]);
        let _ = sealed::unseal_event(&payload, &[keys.primary()]);
        let _ = sealed::unseal_event_with_limit(&payload, &[keys.primary()], limit);
    }

    #[test]
    fn arbitrary_sealed_content_round_trips(content in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let keys = own_keys();
        let payload = sealed::seal(&content, &keys.primary()).unwrap();
        prop_assert_eq!(sealed::open(&payload, &[keys.primary()]).unwrap(), content.clone());
        let _ = sealed::unseal_event(&payload, &[keys.primary()]);
        let too_small = content.len().saturating_sub(1);
        if !content.is_empty() {
            let too_large = matches!(
                sealed::open_with_limit(&payload, &[keys.primary()], too_small),
                Err(UnsealError::TooLarge { .. })
            );
            prop_assert!(too_large);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared known-answer vectors of the other SDKs, read in place.

fn vectors_dir() -> Option<PathBuf> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors"));
    if dir.is_dir() {
        Some(dir.to_path_buf())
    } else {
        eprintln!(
            "skipped: shared vectors not found at {} (they live beside the repository)",
            dir.display()
        );
        None
    }
}

/// Reads one vector file, or says why it is skipped.
fn vector_text(dir: &Path, name: &str) -> Option<String> {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(text) => Some(text),
        Err(err) => {
            eprintln!("skipped vector {name}: {err}");
            None
        }
    }
}

fn vector_sealed(dir: &Path, name: &str) -> Option<Vec<u8>> {
    vector_text(dir, name).map(|t| STANDARD.decode(t.trim()).expect("vector is base64"))
}

struct VectorKeys {
    valid_as_published: String,
    valid_canonical: String,
    valid_hex: String,
    invalid: Vec<String>,
    short: Vec<String>,
}

/// The vectors' keys: `None` (with a message) when the file is absent; a
/// file of another shape fails the test rather than skipping it.
fn vector_keys(dir: &Path) -> Option<VectorKeys> {
    let keys: Value = serde_json::from_str(&vector_text(dir, "sealed_keys.json")?)
        .expect("sealed_keys.json is JSON");
    let text = |field: &str| {
        keys[field]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("sealed_keys.json has no string {field}"))
    };
    let invalid_keys = keys["invalid_keys_b64"]
        .as_object()
        .expect("sealed_keys.json has an invalid_keys_b64 object");
    Some(VectorKeys {
        valid_as_published: text("valid_key_b64_as_in_tests"),
        valid_canonical: text("valid_key_b64_canonical"),
        valid_hex: text("valid_key_hex"),
        invalid: invalid_keys
            .values()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        short: invalid_keys
            .values()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
    })
}

fn valid_vector_key(keys: &VectorKeys) -> DecryptionKey {
    DecryptionKey::from_base64(&keys.valid_as_published).expect("published test key")
}

fn invalid_vector_keys(keys: &VectorKeys) -> Vec<DecryptionKey> {
    keys.invalid
        .iter()
        .map(|k| DecryptionKey::from_base64(k).expect("wrong but well-formed key"))
        .collect()
}

/// Reads the expected event from the node SDK's Vitest snapshot (JavaScript-ish: trailing
/// commas inside objects and arrays).
fn snapshot_event(snap: &str) -> Option<Value> {
    let start = snap.find("= `")? + 3;
    let end = start + snap[start..].find('`')?;
    let mut json = String::with_capacity(end - start);
    let body = &snap[start..end];
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            let rest = chars.clone().find(|c| !c.is_whitespace());
            if matches!(rest, Some('}' | ']')) {
                continue;
            }
        }
        json.push(c);
    }
    serde_json::from_str(&json).ok()
}

#[test]
fn vector_keys_are_read_like_the_other_sdks() {
    let Some(dir) = vectors_dir() else { return };
    let Some(keys) = vector_keys(&dir) else {
        return;
    };
    let hex: Vec<u8> = (0..keys.valid_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&keys.valid_hex[i..i + 2], 16).unwrap())
        .collect();
    assert!(DecryptionKey::aes256gcm(&hex).is_ok());
    assert!(
        STANDARD.decode(&keys.valid_as_published).is_err(),
        "published key is non-canonical"
    );
    assert!(DecryptionKey::from_base64(&keys.valid_as_published).is_ok());
    assert!(DecryptionKey::from_base64(&keys.valid_canonical).is_ok());
    for short in &keys.short {
        let err = DecryptionKey::from_base64(short).unwrap_err();
        assert!(
            matches!(err, KeyError::WrongLength { .. }),
            "{short}: {err:?}"
        );
    }
    // Every form of the valid key opens a sealed payload made with the raw bytes.
    let payload = sealed::seal(b"{}", &DecryptionKey::aes256gcm(&hex).unwrap()).unwrap();
    for text in [&keys.valid_as_published, &keys.valid_canonical] {
        let key = DecryptionKey::from_base64(text).unwrap();
        assert!(sealed::open(&payload, &[key]).is_ok());
    }
}

#[test]
fn vector_valid_payloads_open_to_the_expected_events() {
    let Some(dir) = vectors_dir() else { return };
    let Some(keys) = vector_keys(&dir) else {
        return;
    };
    let canonical = DecryptionKey::from_base64(&keys.valid_canonical).unwrap();
    let mut expected_node = vector_text(&dir, "node-sdk/sealedResults.spec.ts.snap")
        .map(|snap| snapshot_event(&snap).expect("snapshot parses"));
    if expected_node.is_none() {
        expected_node = vector_text(&dir, "python-sdk/test_unseal_aes256gcm.expected_event.json")
            .map(|t| serde_json::from_str(&t).unwrap());
    }
    let expected_go = vector_text(&dir, "go-sdk/sealed/sealed_event.json")
        .map(|t| serde_json::from_str::<Value>(&t).unwrap());
    let cases = [
        ("node-sdk/sealed_valid.b64.txt", expected_node),
        ("go-sdk/sealed/get_event_200.txt", expected_go),
    ];
    let mut checked = 0;
    for (name, expected) in cases {
        let (Some(payload), Some(expected)) = (vector_sealed(&dir, name), expected) else {
            continue;
        };
        // With the valid key alone, after wrong ones, and in its canonical spelling.
        let mut rotation = invalid_vector_keys(&keys);
        rotation.push(valid_vector_key(&keys));
        for keyset in [
            vec![valid_vector_key(&keys)],
            rotation,
            vec![canonical.clone()],
        ] {
            let json = sealed::open(&payload, &keyset).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                serde_json::from_slice::<Value>(&json).unwrap(),
                expected,
                "{name}: payload"
            );
            let event =
                sealed::unseal_event(&payload, &keyset).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_event_subset(&event, &expected, name);
        }
        checked += 1;
    }
    // The python SDK expects the same event from the node blob.
    if let (Some(py), Some(node)) = (
        vector_text(&dir, "python-sdk/test_unseal_aes256gcm.expected_event.json"),
        vector_sealed(&dir, "node-sdk/sealed_valid.b64.txt"),
    ) {
        let event = sealed::unseal_event(&node, &[valid_vector_key(&keys)]).unwrap();
        assert_event_subset(
            &event,
            &serde_json::from_str(&py).unwrap(),
            "python expected",
        );
    }
    eprintln!("checked {checked} valid sealed vectors");
    assert!(checked > 0, "the vectors are there but none was checked");
}

#[test]
fn vector_negative_payloads_give_the_matching_error() {
    let Some(dir) = vectors_dir() else { return };
    let Some(keys) = vector_keys(&dir) else {
        return;
    };
    let valid = [valid_vector_key(&keys)];
    type Check = fn(&UnsealError) -> bool;
    let cases: [(&str, Check); 9] = [
        ("go-sdk/sealed/invalid_header.txt", |e| {
            matches!(e, UnsealError::InvalidHeader)
        }),
        ("node-sdk/invalid_header.b64.txt", |e| {
            matches!(e, UnsealError::InvalidHeader)
        }),
        ("python-sdk/test_unseal_invalid_header.b64.txt", |e| {
            matches!(e, UnsealError::InvalidHeader)
        }),
        ("go-sdk/sealed/invalid_compression.txt", |e| {
            matches!(e, UnsealError::Decompress { key_index: 0, .. })
        }),
        ("node-sdk/not_compressed.b64.txt", |e| {
            matches!(e, UnsealError::Decompress { key_index: 0, .. })
        }),
        ("go-sdk/sealed/invalid_json.txt", |e| {
            matches!(e, UnsealError::InvalidJson(_))
        }),
        (
            "java-sdk/unsealEventResponseWithInvalidJsonSealedResultTest.b64.txt",
            |e| matches!(e, UnsealError::InvalidJson(_)),
        ),
        ("node-sdk/invalid_event_response.b64.txt", |e| {
            matches!(e, UnsealError::NotAnEvent(_))
        }),
        // The valid key does open this one: its payload is a v3 result, not a v4 event.
        ("python-sdk/test_unseal_all_keys_invalid.b64.txt", |e| {
            matches!(e, UnsealError::NotAnEvent(_))
        }),
    ];
    let mut checked = 0;
    for (name, check) in cases {
        let Some(payload) = vector_sealed(&dir, name) else {
            continue;
        };
        let err = sealed::unseal_event(&payload, &valid).unwrap_err();
        assert!(check(&err), "{name}: unexpected {err:?}");
        checked += 1;
    }
    // With only the wrong keys, every well-formed blob fails on each key.
    let wrong = invalid_vector_keys(&keys);
    for name in [
        "python-sdk/test_unseal_all_keys_invalid.b64.txt",
        "node-sdk/sealed_valid.b64.txt",
        "go-sdk/sealed/get_event_200.txt",
    ] {
        let Some(payload) = vector_sealed(&dir, name) else {
            continue;
        };
        let err = sealed::unseal_event(&payload, &wrong).unwrap_err();
        assert!(
            matches!(&err, UnsealError::NoKeyMatched { failures } if failures.len() == wrong.len()),
            "{name}: {err:?}"
        );
        checked += 1;
    }
    if let Some(text) = vector_text(&dir, "sealed_keys.json") {
        let keys_json: Value = serde_json::from_str(&text).unwrap();
        if let Some(hex) = keys_json["too_short_payload_hex"].as_str() {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let err = sealed::unseal_event(&bytes, &valid).unwrap_err();
            assert!(matches!(err, UnsealError::TooShort { .. }), "{err:?}");
            checked += 1;
        }
    }
    eprintln!("checked {checked} negative sealed vectors");
    assert!(checked > 0, "the vectors are there but none was checked");
}

// ---------------------------------------------------------------------------------------------
// Fixture generator.

/// Rewrites the committed sealed fixtures from `event.json` and `keys.json` with fixed nonces,
/// so the output is reproducible. Run on purpose only:
/// `cargo test --test sealed -- --ignored regenerate_fixtures`.
#[test]
#[ignore = "writes the committed fixtures"]
fn regenerate_fixtures() {
    let keys = own_keys();
    let key = keys.primary();
    let raw = fixture_text("event.json");
    let write = |name: &str, payload: &[u8]| {
        std::fs::write(fixture_dir().join(name), STANDARD.encode(payload) + "\n").unwrap();
    };
    write(
        "event.sealed.b64",
        &sealed::seal_with_nonce(raw.as_bytes(), &key, *b"own-fixture1").unwrap(),
    );
    write(
        "not_an_event.sealed.b64",
        &sealed::seal_with_nonce(br#"{"invalid":true}"#, &key, *b"own-fixture2").unwrap(),
    );
    let cut = &raw.as_bytes()[..raw.len() / 2];
    write(
        "truncated_json.sealed.b64",
        &sealed::seal_with_nonce(cut, &key, *b"own-fixture3").unwrap(),
    );
    write(
        "invalid_utf8.sealed.b64",
        &sealed::seal_with_nonce(b"{\"event_id\": \"\xff\xfe\"}", &key, *b"own-fixture4").unwrap(),
    );
    write(
        "not_deflate.sealed.b64",
        &encrypt_raw(raw.as_bytes(), &keys.primary_bytes, *b"own-fixture5"),
    );
}

#[test]
fn open_base64_gives_the_exact_json_bytes() {
    let key = DecryptionKey::aes256gcm(&[7u8; 32]).expect("key");
    let json = br#"{"event_id":"evt_b64","timestamp":1,"unknown_to_the_sdk":{"a":[1,2]}}"#;
    let sealed_bytes = sealed::seal(json, &key).expect("sealed");
    let text = STANDARD.encode(&sealed_bytes);
    let keys = std::slice::from_ref(&key);
    let opened = sealed::open_base64(&format!("  {text}\n"), keys).expect("opened");
    assert_eq!(opened, json);
    assert!(matches!(
        sealed::open_base64("not base64 !!", keys),
        Err(UnsealError::InvalidBase64 { .. })
    ));
}
