//! Opens a sealed client result and prints the event it contains as JSON.
//!
//! ```text
//! FINGERPRINT_DECRYPTION_KEYS=<key>[,<key>...] cargo run --example unseal -- <sealed result>
//! ```
//!
//! The sealed result is the base64 text your front end received from the JavaScript agent; pass
//! `-` (or nothing) to read it from standard input. The keys are the base64 decryption keys from
//! the dashboard, separated by commas or spaces, tried in order (useful while rotating keys).

use std::error::Error;
use std::io::Read;
use std::process::ExitCode;

use fingerprint_server_sdk::sealed::{self, DecryptionKey};

/// Environment variable that holds the decryption keys.
pub const KEYS_VAR: &str = "FINGERPRINT_DECRYPTION_KEYS";

fn main() -> ExitCode {
    let Ok(keys_text) = std::env::var(KEYS_VAR) else {
        eprintln!("set {KEYS_VAR} to the decryption key(s) from the dashboard");
        return ExitCode::from(2);
    };
    let sealed_text = match std::env::args().nth(1).filter(|arg| arg != "-") {
        Some(arg) => arg,
        None => {
            let mut input = String::new();
            if let Err(err) = std::io::stdin().read_to_string(&mut input) {
                eprintln!("cannot read standard input: {err}");
                return ExitCode::from(2);
            }
            input
        }
    };
    match unseal_to_json(&sealed_text, &keys_text) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the keys, opens the sealed result and returns the event as pretty JSON.
pub fn unseal_to_json(sealed_base64: &str, keys_text: &str) -> Result<String, Box<dyn Error>> {
    let keys = keys_text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|key| !key.is_empty())
        .enumerate()
        .map(|(index, key)| {
            DecryptionKey::from_base64(key).map_err(|err| format!("key #{index}: {err}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let event = sealed::unseal_event_base64(sealed_base64, &keys)?;
    Ok(serde_json::to_string_pretty(&event)?)
}
