#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
// On docs.rs (and in CI's docs step) every feature-gated item shows the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Every model of the API (`Event`, `EventSearch`, `EventUpdate`,
/// `ErrorResponse`, `ErrorCode`, ...), generated from the OpenAPI document
/// at build time.
///
/// String enums are open: a value this version does not know deserializes
/// into the `Unrecognized(String)` variant and serializes back unchanged,
/// and `as_str()` gives the wire value of any variant. Every object model
/// keeps the fields it has no field for in `unknown_fields` and writes them
/// back, so nothing the server sent is lost on a round trip. A model is
/// built with its builder (`types::Event::builder()`) or a struct literal
/// ending in `..Default::default()` where the model has a default.
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags
)]
pub mod types {
    include!(concat!(env!("OUT_DIR"), "/v4_models.rs"));
}

/// The client, its request builders and the operation table, generated from
/// `openapi/fingerprint-server-api-v4.json` at build time (see the
/// `fingerprint-server-sdk-codegen` crate). It reaches the hand-written
/// layer only through [`runtime`]; the lints below apply to it alone.
#[allow(
    missing_docs,
    unused_imports,
    dead_code,
    clippy::all,
    clippy::pedantic,
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags
)]
mod generated {
    use crate::types;
    include!(concat!(env!("OUT_DIR"), "/v4_client.rs"));
}

#[cfg(feature = "blocking")]
pub mod blocking;
mod client;
mod error;
#[cfg(feature = "mock")]
pub mod mock;
mod path_check;
mod pipeline;
mod region;
mod response;
mod retry;
mod runtime;
#[cfg(feature = "sealed")]
pub mod sealed;
pub mod search;
mod stream;
#[cfg(feature = "v3")]
pub mod v3;
#[cfg(feature = "webhook")]
pub mod webhook;

pub use client::{Client, ClientBuilder};
pub use error::{ApiError, Error, TransportError};
pub use region::{ParseRegionError, Region};
pub use response::ResponseValue;
pub use retry::{RetryBudget, RetryPolicy};
pub use stream::{EventStream, ItemStream, PageStream};

/// The request builders the operation methods of [`Client`] return
/// (`client.get_event()` returns a [`builder::GetEvent`], and so on). Set the
/// parameters, optionally this call's `timeout` and `retry_policy`, then
/// call `send()`.
pub mod builder {
    pub use crate::generated::builder::*;
}

/// The name and version this SDK reports to the API, in the `User-Agent`
/// header and in the `ii` query parameter of every request.
pub const SDK_IDENTIFIER: &str = concat!("fingerprint-server-sdk-rust/", env!("CARGO_PKG_VERSION"));
