//! Building a [`Client`]: the key and where it goes, the region or base URL,
//! timeouts, the retry policy and, optionally, an HTTP client of your own.

use std::fmt;
use std::time::Duration;

use http::header::{AUTHORIZATION, HeaderName, HeaderValue};

use crate::pipeline::{Auth, Core, Settings};
use crate::retry::RetryPolicy;
use crate::retry::budget::Bucket;
use crate::{Error, Region, SDK_IDENTIFIER};

pub use crate::generated::Client;

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.baseurl)
            .field("api_key", &"<redacted>")
            .field("settings", &self.inner)
            .finish()
    }
}

impl Client {
    /// Starts building a client authenticated with the workspace's secret API
    /// key.
    pub fn builder(secret_api_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(secret_api_key)
    }

    /// Builds a client from the environment: the key from
    /// `FINGERPRINT_SECRET_API_KEY`, the region from `FINGERPRINT_REGION`
    /// (optional, default global).
    pub fn from_env() -> Result<Self, Error> {
        ClientBuilder::from_env()?.build()
    }

    /// The base URL requests go to (the region's, or the one set with
    /// [`ClientBuilder::base_url`]).
    pub fn base_url(&self) -> &str {
        &self.baseurl
    }

    /// The retry policy of this client.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.settings().retry
    }
}

/// Settings for a [`Client`]; start with [`Client::builder`].
#[derive(Clone)]
#[must_use]
pub struct ClientBuilder {
    api_key: String,
    region: Region,
    base_url: Option<String>,
    retry: RetryPolicy,
    connect_timeout: Duration,
    attempt_timeout: Duration,
    operation_timeout: Duration,
    user_agent_suffix: Option<String>,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &"<redacted>")
            .field("region", &self.region)
            .field("base_url", &self.base_url)
            .field("retry", &self.retry)
            .field("connect_timeout", &self.connect_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("own_http_client", &self.http.is_some())
            .finish()
    }
}

impl ClientBuilder {
    /// Default time allowed to open a connection.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default time allowed for one attempt, from sending to the last byte
    /// of the response.
    pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default time allowed for a whole operation: every attempt and every
    /// wait between them.
    pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(90);

    /// A builder with the default settings (global region, standard retries,
    /// default timeouts).
    pub fn new(secret_api_key: impl Into<String>) -> Self {
        Self {
            api_key: secret_api_key.into(),
            region: Region::default(),
            base_url: None,
            retry: RetryPolicy::standard(),
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            attempt_timeout: Self::DEFAULT_ATTEMPT_TIMEOUT,
            operation_timeout: Self::DEFAULT_OPERATION_TIMEOUT,
            user_agent_suffix: None,
            http: None,
        }
    }

    /// A builder from `FINGERPRINT_SECRET_API_KEY` and, when set,
    /// `FINGERPRINT_REGION`.
    pub fn from_env() -> Result<Self, Error> {
        let key = std::env::var("FINGERPRINT_SECRET_API_KEY").map_err(|_| {
            Error::config("FINGERPRINT_SECRET_API_KEY is not set (or is not valid UTF-8)")
        })?;
        let mut builder = Self::new(key);
        if let Ok(region) = std::env::var("FINGERPRINT_REGION")
            && !region.trim().is_empty()
        {
            let region = region
                .parse()
                .map_err(|e| Error::config(format!("FINGERPRINT_REGION: {e}")))?;
            builder = builder.region(region);
        }
        Ok(builder)
    }

    /// Selects the region (ignored when [`base_url`](Self::base_url) is set).
    pub fn region(mut self, region: Region) -> Self {
        self.region = region;
        self
    }

    /// Sends requests to this base URL instead of the region's, e.g. a proxy
    /// or a local fake (`http://127.0.0.1:8080/v4`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the retry policy ([`RetryPolicy::disabled`] turns retries off).
    /// The client's retry budget is sized by this policy's
    /// [`RetryBudget`](crate::RetryBudget).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets the time allowed for a whole operation: every attempt and every
    /// wait between attempts together. A request builder's `timeout` sets it
    /// for one call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// Sets the time allowed for one attempt, from sending the request to
    /// the last byte of the response.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Sets the time allowed to open a connection. Not applied to a client
    /// given with [`http_client`](Self::http_client): set it on that one.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Appends a product token to the `User-Agent` (e.g. `my-app/1.2`).
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(suffix.into());
        self
    }

    /// Sends requests through this HTTP client (with your proxies, root
    /// certificates, connection pool settings or default headers) instead
    /// of one the SDK builds. The key, the SDK identifier, the user agent,
    /// retries, the attempt timeout and the operation timeout still apply
    /// to every request; the connect timeout, TLS and redirect settings are
    /// the given client's.
    ///
    /// This is the one place the SDK's API names a `reqwest` type, so
    /// `reqwest` 0.13 is a public dependency of this crate.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds the client. Fails on an empty or malformed key, or a base URL
    /// that is not an absolute http(s) URL.
    pub fn build(self) -> Result<Client, Error> {
        let key = self.key()?;
        let auth = Auth::Header(AUTHORIZATION, sensitive(&format!("Bearer {key}"))?);
        let base = self
            .base_url
            .clone()
            .unwrap_or_else(|| self.region.base_url().to_owned());
        let (http, base, core) = self.connect(&base, auth)?;
        Ok(Client::new_with_client(&base, http, core))
    }

    /// The key, trimmed; an empty key is refused.
    pub(crate) fn key(&self) -> Result<&str, Error> {
        let key = self.api_key.trim();
        if key.is_empty() {
            return Err(Error::config("the secret API key is empty"));
        }
        Ok(key)
    }

    #[cfg_attr(not(feature = "v3"), allow(dead_code))]
    pub(crate) fn base_url_override(&self) -> Option<&str> {
        self.base_url.as_deref()
    }

    #[cfg_attr(not(feature = "v3"), allow(dead_code))]
    pub(crate) fn region_setting(&self) -> Region {
        self.region
    }

    /// The HTTP client, the checked base URL and the settings every call
    /// shares, for every API version.
    pub(crate) fn connect(
        self,
        base: &str,
        auth: Auth,
    ) -> Result<(reqwest::Client, String, Core), Error> {
        let base = base.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| Error::config(format!("base URL {base:?} is not a valid URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
            return Err(Error::config(format!(
                "base URL {base:?} must be an absolute http or https URL"
            )));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(Error::config(format!(
                "base URL {base:?} must not have a query or a fragment"
            )));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(Error::config("base URL must not carry credentials"));
        }
        let user_agent = match &self.user_agent_suffix {
            Some(suffix) => format!("{SDK_IDENTIFIER} {suffix}"),
            None => SDK_IDENTIFIER.to_owned(),
        };
        let user_agent = HeaderValue::from_str(&user_agent)
            .map_err(|_| Error::config("the user agent suffix is not a valid header value"))?;
        let timeout_per_request = self.http.is_some();
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .timeout(self.attempt_timeout)
                .build()
                .map_err(|e| Error::config(format!("the HTTP client could not be built: {e}")))?,
        };
        let core = Core::new(Settings {
            http: http.clone(),
            auth,
            user_agent,
            budget: self.retry.budget().map(Bucket::new),
            retry: self.retry,
            operation_timeout: self.operation_timeout,
            attempt_timeout: self.attempt_timeout,
            timeout_per_request,
            base_path: parsed.path().to_owned(),
        });
        Ok((http, base, core))
    }
}

/// A header value holding the key, marked sensitive (never printed by
/// `Debug`, never kept by HTTP/2 header compression).
pub(crate) fn sensitive(value: &str) -> Result<HeaderValue, Error> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        Error::config("the secret API key contains characters not allowed in an HTTP header")
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// The v3 API's key header.
#[cfg_attr(not(feature = "v3"), allow(dead_code))]
pub(crate) const V3_KEY_HEADER: HeaderName = HeaderName::from_static("auth-api-key");
