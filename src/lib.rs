#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
// On docs.rs (and in CI's docs step) every feature-gated item shows the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The code progenitor generates from `openapi/fingerprint-server-api-v4.json`
/// at build time, after the SDK's post-processing (see `build.rs`). Nothing in
/// here is written by hand; the lints below apply to it alone.
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
    include!(concat!(env!("OUT_DIR"), "/v4.rs"));
}

mod call;
mod client;
mod error;
#[cfg(feature = "mock")]
pub mod mock;
mod retry;
mod route;
#[cfg(feature = "sealed")]
pub mod sealed;
mod stream;
#[cfg(feature = "v3")]
pub mod v3;
#[cfg(feature = "webhook")]
pub mod webhook;

pub use client::{Client, ClientBuilder, Region};
pub use error::{ApiError, Error};
pub use generated::{ByteStream, ResponseValue};
pub use retry::RetryPolicy;
pub use stream::{EventStream, ItemStream, PageStream};

/// Every model of the API (`Event`, `EventSearch`, `EventUpdate`,
/// `ErrorResponse`, `ErrorCode`, ...), generated from the OpenAPI document.
///
/// String enums are open: a value this version does not know deserializes
/// into the `Unrecognized(String)` variant and serializes back unchanged, and
/// `as_str()` gives the wire value of any variant. Unknown fields are ignored.
pub mod types {
    pub use crate::generated::types::*;
}

/// The request builders returned by the operation methods of [`Client`]
/// (`client.get_event()` returns a [`builder::GetEvent`], and so on). Set the
/// parameters, then call `send()`.
pub mod builder {
    pub use crate::generated::builder::*;
}

/// The name and version this SDK reports to the API, in the `User-Agent`
/// header and in the `ii` query parameter of every request.
pub const SDK_IDENTIFIER: &str = concat!("fingerprint-server-sdk-rust/", env!("CARGO_PKG_VERSION"));
