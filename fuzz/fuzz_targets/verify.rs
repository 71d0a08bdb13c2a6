//! Fuzzes `webhook::verify` and `webhook::parse_event` with arbitrary headers, bodies and
//! secrets, plus headers that carry the right signature so the parsing path is reached.
#![no_main]

use fingerprint_server_sdk::webhook;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &[u8], &[u8])| {
    let (header, body, secret) = input;
    let _ = webhook::verify(header, body, secret);
    let _ = webhook::parse_event(header, body, secret);

    // With a genuine signature, mixed into the fuzzed header.
    let signed = format!("{header},{}", webhook::sign(body, secret));
    let result = webhook::verify(&signed, body, secret);
    if !body.is_empty() && !secret.is_empty() {
        assert!(result.is_ok(), "a matching v1 entry must pass");
    }
    let _ = webhook::parse_event(&signed, body, secret);
});
