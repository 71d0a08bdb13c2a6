//! Fuzzes deserialization of the generated `Event` type, and checks that whatever parses
//! serializes and parses again.
#![no_main]

use fingerprint_server_sdk::types::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<Event>(data) {
        let json = serde_json::to_vec(&event).expect("a parsed event serializes");
        serde_json::from_slice::<Event>(&json).expect("a serialized event parses again");
    }
});
