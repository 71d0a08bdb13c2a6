//! Fuzzes `sealed::open` and `sealed::unseal_event` with arbitrary sealed bytes (header, length
//! and authentication checks), and `unseal_event_base64` with the same bytes as text.
#![no_main]

use fingerprint_server_sdk::sealed::{self, DecryptionKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = [
        DecryptionKey::from([7u8; 32]),
        DecryptionKey::from([9u8; 32]),
    ];
    let _ = sealed::open(data, &keys);
    let _ = sealed::unseal_event(data, &keys);
    let _ = sealed::unseal_event(data, &[]);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sealed::unseal_event_base64(text, &keys);
        let _ = DecryptionKey::from_base64(text);
    }
});
