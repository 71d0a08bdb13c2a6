//! Fuzzes `webhook::verify`, `webhook::parse_event` and the request-level checks
//! (`WebhookSecrets`, `parse_event_request`) with arbitrary headers, bodies and secrets, plus
//! headers that carry the right signature so the parsing path is reached.
//!
//! The input is `header \n secret \n body`: a signed webhook from `tests/fixtures/webhook`
//! written that way is a seed that passes (`fuzz/ci.sh` makes it).
#![no_main]

use fingerprint_server_sdk::webhook::{self, WebhookSecrets};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&byte| byte == b'\n');
    let header = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let secret = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();

    let _ = webhook::verify(&header, body, secret);
    let _ = webhook::parse_event(&header, body, secret);

    // With a genuine signature, mixed into the fuzzed header.
    let signed = format!("{header},{}", webhook::sign(body, secret));
    let result = webhook::verify(&signed, body, secret);
    if !body.is_empty() && !secret.is_empty() {
        assert!(result.is_ok(), "a matching v1 entry must pass");
    }
    let _ = webhook::parse_event(&signed, body, secret);

    // The same through a header map (raw bytes, possibly not text) and a set of secrets.
    let secrets = WebhookSecrets::new(b"another secret").with(secret);
    let mut headers = HeaderMap::new();
    for value in [&data[..data.len().min(80)], signed.as_bytes()] {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(webhook::SIGNATURE_HEADER, value);
        }
    }
    let from_map = webhook::parse_event_request(&headers, body, &secrets);
    let direct = secrets.parse_event(&signed, body);
    if headers.len() == 1 && signed.is_ascii() && HeaderValue::from_bytes(signed.as_bytes()).is_ok()
    {
        // Only the signed header went in, as text: both ways must agree.
        assert_eq!(from_map.is_ok(), direct.is_ok());
    }
});
