//! The seam between the generated code and the hand-written layer: every
//! item of this crate that the generated client and request builders name
//! is here (`grep -rn "crate::runtime" $OUT_DIR` lists the uses), and the
//! generated code names nothing else of the crate but [`crate::Error`] and
//! the models.
//!
//! A request builder's `send()` builds its `reqwest::Request` (the code
//! progenitor generated), then hands it to [`Call`], which runs the whole
//! call in [`crate::pipeline`].

use std::fmt::Display;
use std::str::FromStr;

pub(crate) use crate::pipeline::{BuildError, Call, CallOptions, Core, Operation};
pub(crate) use crate::response::ResponseValue;
pub(crate) use crate::retry::RetryPolicy;
pub(crate) use progenitor_client::{QueryParam, encode_path};

use crate::Error;

/// Decodes a JSON success body.
pub(crate) fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(body)
}

/// The success body of an operation that returns nothing: ignored.
pub(crate) fn empty(_body: &[u8]) -> Result<(), serde_json::Error> {
    Ok(())
}

/// A setter's message for a value that could not be converted; kept in the
/// builder and reported by `send()` as [`Error::InvalidRequest`].
pub(crate) fn invalid_value(parameter: &str, reason: &dyn Display) -> String {
    format!("{parameter}: {reason}")
}

/// Parses the text of a parameter set by name
/// (`SearchEvents::with_parameter`).
pub(crate) fn parse_parameter<T>(
    operation: &'static str,
    name: &str,
    value: &str,
) -> Result<T, Error>
where
    T: FromStr,
    T::Err: Display,
{
    value.parse::<T>().map_err(|e| {
        let reason = e.to_string();
        // Some conversions name the value themselves.
        let message = if reason.contains(&format!("{value:?}")) {
            format!("{name}: {reason}")
        } else {
            format!("{name}: {value:?} is not valid: {reason}")
        };
        Error::InvalidRequest { operation, message }
    })
}

/// Appends one value to a repeated parameter's list.
pub(crate) fn push_parameter<T>(slot: &mut Result<Option<Vec<T>>, String>, value: T) {
    if let Ok(list) = slot {
        list.get_or_insert_with(Vec::new).push(value);
    }
}

/// The error for a parameter name the operation does not have.
pub(crate) fn unknown_parameter(operation: &'static str, name: &str) -> Error {
    Error::InvalidRequest {
        operation,
        message: format!("{name:?} is not a parameter of {operation} (see search::PARAMETERS)"),
    }
}
