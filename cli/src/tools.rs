//! Commands that need no API: webhook signatures and sealed results.

use std::io::{self, Read};

use fingerprint_server_sdk::sealed::{self, DecryptionKey};
use fingerprint_server_sdk::webhook::{self, WebhookError};

use crate::args::{SignArgs, UnsealArgs, VerifyArgs};
use crate::failure::{Failure, Result};
use crate::output::print_json;

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
        Failure::io(what, &e)
    })?;
    Ok(bytes)
}

/// The secret in environment variable `var`, refused when unset or empty.
fn secret_from_env(var: &str) -> Result<Vec<u8>> {
    match std::env::var_os(var) {
        Some(value) if !value.is_empty() => Ok(value.into_encoded_bytes()),
        Some(_) => Err(Failure::usage(format!(
            "the environment variable {var} is empty"
        ))),
        None => Err(
            Failure::usage(format!("the environment variable {var} is not set")).with_hint(
                format!("export {var}=<the webhook's secret>, then run again"),
            ),
        ),
    }
}

/// `webhook verify`: exit 0 and `valid` when the signature matches.
pub fn verify(args: VerifyArgs) -> Result<()> {
    let secret = secret_from_env(&args.secret_env)?;
    let body = read_input(&args.input)?;
    match webhook::verify(&args.signature, &body, &secret) {
        Ok(()) => {
            println!("valid");
            Ok(())
        }
        Err(WebhookError::EmptySecret) => Err(Failure::usage("the webhook secret is empty")),
        Err(e) => Err(Failure::invalid(format!("invalid: {e}"))),
    }
}

/// `webhook sign`: the header value Fingerprint would send with the body.
pub fn sign(args: SignArgs) -> Result<()> {
    let secret = secret_from_env(&args.secret_env)?;
    let body = read_input(&args.input)?;
    if body.is_empty() {
        return Err(Failure::usage(
            "the body is empty: Fingerprint never signs an empty body",
        ));
    }
    println!("{}", webhook::sign(&body, &secret));
    Ok(())
}

/// `unseal`: raw sealed bytes, or the same as base64 text.
pub fn unseal(args: UnsealArgs) -> Result<()> {
    let keys = args
        .keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            DecryptionKey::from_base64(key.expose())
                .map_err(|e| Failure::usage(format!("--key #{}: {e}", i + 1)))
        })
        .collect::<Result<Vec<_>>>()?;
    let input = read_input(&args.input)?;
    let opened = if input.starts_with(&sealed::SEALED_HEADER) {
        sealed::unseal_event(&input, &keys)
    } else {
        let text = String::from_utf8_lossy(&input);
        sealed::unseal_event_base64(&text, &keys)
    };
    let event = opened.map_err(|e| Failure::invalid(format!("cannot unseal: {e}")))?;
    print_json(&event, args.compact)
}
