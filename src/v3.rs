//! The deprecated Server API v3, for code still migrating to v4.
//!
//! **v3 is deprecated and shuts down on 2027-01-07.** Move to the v4
//! [`crate::Client`]; the README's "Migrating from v3" section maps each v3
//! call to its v4 equivalent.
//!
//! The v3 client is generated the same way as v4 (from
//! `openapi/fingerprint-server-api-v3.json`, with the same open enums and
//! models that keep unknown fields) and shares v4's regions, retry policy, timeouts
//! and [`Error`]. Unlike v4, every field below the response envelopes is an
//! `Option`: upstream's own v3 examples leave out fields the v3 schema calls
//! required, and reading what the server sends matters more here than the
//! schema's promises. It authenticates with the `Auth-API-Key` header; the
//! `api_key` query parameter is available as an opt-in
//! ([`ClientBuilder::key_in_query`]) but not recommended: URLs end up in
//! proxy and server logs.
//!
//! ```no_run
//! # #[allow(deprecated)]
//! # async fn demo() -> Result<(), fingerprint_server_sdk::Error> {
//! use fingerprint_server_sdk::v3;
//! let client = v3::Client::builder("<secret API key>").build()?;
//! let event = client.get_event().request_id("1708102555327.NLOjmg").send().await?;
//! let mut visits = client.get_visits().visitor_id("<visitor id>").limit(100).into_stream();
//! while let Some(visit) = visits.next().await {
//!     println!("{:?}", visit?.request_id);
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use crate::client::{V3_KEY_HEADER, sensitive};
use crate::pipeline::Auth;
use crate::stream::{ItemStream, PageStream};
use crate::{Error, Region, RetryPolicy};

/// Every v3 model (`EventsGetResponse`, `SearchEventsResponse`,
/// `VisitorsGetResponse`, `RelatedVisitorsResponse`, ...).
#[allow(
    missing_docs,
    deprecated,
    clippy::all,
    clippy::pedantic,
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags
)]
pub mod types {
    include!(concat!(env!("OUT_DIR"), "/v3_models.rs"));
}

/// The v3 client and request builders, generated from the v3 document at
/// build time.
#[allow(
    missing_docs,
    unused_imports,
    dead_code,
    deprecated,
    clippy::all,
    clippy::pedantic,
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags
)]
mod generated {
    use super::types;
    include!(concat!(env!("OUT_DIR"), "/v3_client.rs"));
}

pub use generated::Client;

/// The v3 request builders returned by the operation methods of [`Client`].
pub mod builder {
    pub use super::generated::builder::*;
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("v3::Client")
            .field("base_url", &self.baseurl)
            .field("api_key", &"<redacted>")
            .field("settings", &self.inner)
            .finish()
    }
}

impl Client {
    /// Starts building a v3 client (deprecated: the v3 API shuts down on
    /// 2027-01-07; use [`crate::Client::builder`]).
    #[deprecated(
        since = "0.1.0",
        note = "the Server API v3 shuts down on 2027-01-07: migrate to the v4 `Client` (see the README)"
    )]
    pub fn builder(secret_api_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            common: crate::ClientBuilder::new(secret_api_key),
            key_in_query: false,
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.baseurl
    }
}

/// Settings for a v3 [`Client`]: the same as v4's, plus where the key goes.
#[derive(Clone, Debug)]
#[must_use]
pub struct ClientBuilder {
    common: crate::ClientBuilder,
    key_in_query: bool,
}

impl ClientBuilder {
    /// Selects the region (ignored when a base URL is set).
    pub fn region(mut self, region: Region) -> Self {
        self.common = self.common.region(region);
        self
    }

    /// Sends requests to this base URL (without `/v4`) instead of the
    /// region's.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.common = self.common.base_url(url);
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.common = self.common.retry(policy);
        self
    }

    /// Sets the time allowed for a whole operation.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.common = self.common.timeout(timeout);
        self
    }

    /// Sets the time allowed for one attempt.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.common = self.common.attempt_timeout(timeout);
        self
    }

    /// Sets the time allowed to open a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.common = self.common.connect_timeout(timeout);
        self
    }

    /// Sends requests through this HTTP client; see
    /// [`crate::ClientBuilder::http_client`].
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.common = self.common.http_client(client);
        self
    }

    /// Sends the key as the `api_key` query parameter instead of the
    /// `Auth-API-Key` header. Not recommended: URLs are written to logs by
    /// proxies and servers. Errors from this client never include URLs.
    pub fn key_in_query(mut self, enabled: bool) -> Self {
        self.key_in_query = enabled;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let key = self.common.key()?.to_owned();
        let base = self
            .common
            .base_url_override()
            .map(str::to_owned)
            .unwrap_or_else(|| self.common.region_setting().host_url().to_owned());
        let auth = if self.key_in_query {
            Auth::Query("api_key", key)
        } else {
            Auth::Header(V3_KEY_HEADER, sensitive(&key)?)
        };
        let (http, base, core) = self.common.connect(&base, auth)?;
        Ok(Client::new_with_client(&base, http, core))
    }
}

/// The visits of a v3 visitor, across pages; see
/// [`builder::GetVisits::into_stream`].
pub type VisitStream<'a> = ItemStream<'a, types::VisitorsGetResponse, types::Visit>;

impl<'a> builder::GetVisits<'a> {
    /// Every visit of the visitor (filtered as set on the builder), one at a
    /// time, following `paginationKey`; the next page is requested only when
    /// the current one has been consumed.
    pub fn into_stream(self) -> VisitStream<'a> {
        ItemStream::new(self.into_page_stream(), |page| page.visits)
    }

    /// Every page of the visit history, whole.
    pub fn into_page_stream(self) -> PageStream<'a, types::VisitorsGetResponse> {
        PageStream::new(
            Box::new(move |key| {
                let history = self.clone();
                Box::pin(async move {
                    match key {
                        Some(key) => history.pagination_key(key).send().await,
                        None => history.send().await,
                    }
                })
            }),
            |page| page.pagination_key.as_deref(),
        )
    }
}
