//! Commands that need no API: webhook signatures and sealed results.

use std::io::{self, Read};

use fingerprint_server_sdk::sealed::{self, DecryptionKey, UnsealError};
use fingerprint_server_sdk::types;
use fingerprint_server_sdk::webhook::{self, WebhookError};
use serde::Deserialize;
use serde_json::Value;

use crate::args::{SignArgs, UnsealArgs, VerifyArgs};
use crate::failure::{Failure, Result};
use crate::output::{print_json, print_line};

/// How the hint for a missing webhook secret names it.
const WEBHOOK_SECRET: &str = "the webhook's secret";

/// The bytes of FILE, or of stdin for `-`.
fn read_input(input: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let read = if input == "-" {
        io::stdin().lock().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(input).map(|b| bytes = b)
    };
    read.map_err(|e| {
        let what = if input == "-" { "stdin" } else { input };
        Failure::read(what, &e)
    })?;
    Ok(bytes)
}

/// The secret in environment variable `var`, refused when unset or empty;
/// `what` names it in the hint (`the webhook's secret`).
fn secret_from_env(var: &str, what: &str) -> Result<Vec<u8>> {
    match std::env::var_os(var) {
        Some(value) if !value.is_empty() => Ok(value.into_encoded_bytes()),
        Some(_) => Err(Failure::usage(format!(
            "the environment variable {var} is empty"
        ))),
        None => Err(
            Failure::usage(format!("the environment variable {var} is not set"))
                .with_hint(format!("export {var}=<{what}>, then run again")),
        ),
    }
}

/// `webhook verify`: exit 0 and `valid` when the signature matches.
pub fn verify(args: VerifyArgs) -> Result<()> {
    let secret = secret_from_env(&args.secret_env, WEBHOOK_SECRET)?;
    let body = read_input(&args.input)?;
    match webhook::verify(&args.signature, &body, &secret) {
        Ok(()) => print_line("valid"),
        Err(WebhookError::EmptySecret) => Err(Failure::usage("the webhook secret is empty")),
        Err(e) => Err(Failure::invalid(format!("invalid: {e}"))),
    }
}

/// `webhook sign`: the header value Fingerprint would send with the body.
pub fn sign(args: SignArgs) -> Result<()> {
    let secret = secret_from_env(&args.secret_env, WEBHOOK_SECRET)?;
    let body = read_input(&args.input)?;
    if body.is_empty() {
        return Err(Failure::usage(
            "the body is empty: Fingerprint never signs an empty body",
        ));
    }
    print_line(&webhook::sign(&body, &secret))
}

/// `unseal`: raw sealed bytes, or the same as base64 text. The event is
/// printed as it was sealed, fields unknown to this SDK included.
pub fn unseal(args: UnsealArgs) -> Result<()> {
    let keys = decryption_keys(&args)?;
    let input = read_input(&args.input)?;
    let opened = if input.starts_with(&sealed::SEALED_HEADER) {
        sealed::open(&input, &keys)
    } else {
        sealed::open_base64(&String::from_utf8_lossy(&input), &keys)
    };
    let event = opened
        .and_then(|payload| read_event(&payload))
        .map_err(|e| Failure::invalid(format!("cannot unseal: {e}")))?;
    print_json(&event, args.compact)
}

/// The `--key` keys, then the `--key-env` ones. Errors name the flag, never
/// the key.
fn decryption_keys(args: &UnsealArgs) -> Result<Vec<DecryptionKey>> {
    let given = args.keys.iter().enumerate().map(|(i, key)| {
        DecryptionKey::from_base64(key.expose())
            .map_err(|e| Failure::usage(format!("--key #{}: {e}", i + 1)))
    });
    let from_env = args.key_envs.iter().map(|var| {
        let text = secret_from_env(var, "a decryption key, base64")?;
        let text = String::from_utf8(text).map_err(|_| {
            Failure::usage(format!(
                "--key-env {var}: the key is not base64 text (not UTF-8)"
            ))
        })?;
        DecryptionKey::from_base64(&text)
            .map_err(|e| Failure::usage(format!("--key-env {var}: {e}")))
    });
    given.chain(from_env).collect()
}

/// Checks that an opened payload is a v4 event and returns its JSON, whole.
/// Refusals are reported like the SDK's own (not UTF-8, not JSON, not an
/// event).
fn read_event(payload: &[u8]) -> Result<Value, UnsealError> {
    let text = std::str::from_utf8(payload).map_err(|e| UnsealError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let event: Value = serde_json::from_str(text).map_err(UnsealError::InvalidJson)?;
    // Only to check: what is printed is `event`, not the typed reading.
    types::Event::deserialize(&event).map_err(UnsealError::NotAnEvent)?;
    Ok(event)
}
