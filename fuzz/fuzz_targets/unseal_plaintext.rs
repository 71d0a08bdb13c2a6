//! Fuzzes what happens after a key has authenticated the data: the input is encrypted as-is
//! (not compressed) with a known key, so every input reaches the DEFLATE decoder, the size cap,
//! the UTF-8 check and the JSON parser. The first two bytes pick a small size cap.
#![no_main]

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use fingerprint_server_sdk::sealed::{self, DecryptionKey, SEALED_HEADER};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [42; 32];
const NONCE: [u8; 12] = [1; 12];

fuzz_target!(|data: &[u8]| {
    let Ok(cipher) = Aes256Gcm::new_from_slice(&KEY) else {
        return;
    };
    let Ok(ciphertext) = cipher.encrypt(&Nonce::from(NONCE), data) else {
        return;
    };
    let sealed_bytes = [SEALED_HEADER.as_slice(), &NONCE, &ciphertext].concat();
    let keys = [DecryptionKey::from(KEY)];
    let _ = sealed::unseal_event(&sealed_bytes, &keys);
    let limit = match data {
        [a, b, ..] => usize::from(u16::from_le_bytes([*a, *b])),
        _ => 0,
    };
    if let Ok(out) = sealed::open_with_limit(&sealed_bytes, &keys, limit) {
        assert!(out.len() <= limit, "the size cap must hold");
    }
});
