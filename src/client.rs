//! Building a [`Client`]: region, key, timeouts and retry policy; and the
//! hooks every generated operation runs through (authentication is a default
//! header, the SDK identifier, the path check and the retry loop).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, USER_AGENT};
use tokio::time::Instant;

use crate::retry::{self, Decision, Outcome, RetryPolicy};
use crate::{Error, SDK_IDENTIFIER, call, route};

pub use crate::generated::Client;

/// Where the workspace's data lives; each region has its own API host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Region {
    /// `https://api.fpjs.io/v4` (the default).
    #[default]
    Global,
    /// `https://eu.api.fpjs.io/v4`.
    Eu,
    /// `https://ap.api.fpjs.io/v4` (Mumbai).
    Asia,
}

impl Region {
    /// Every region, in the order of [`Region::as_str`]'s names.
    pub const ALL: [Region; 3] = [Region::Global, Region::Eu, Region::Asia];

    /// The v4 base URL of the region.
    pub fn base_url(self) -> &'static str {
        match self {
            Self::Global => "https://api.fpjs.io/v4",
            Self::Eu => "https://eu.api.fpjs.io/v4",
            Self::Asia => "https://ap.api.fpjs.io/v4",
        }
    }

    /// The region's host URL, without an API version (the v3 base URL).
    pub fn host_url(self) -> &'static str {
        match self {
            Self::Global => "https://api.fpjs.io",
            Self::Eu => "https://eu.api.fpjs.io",
            Self::Asia => "https://ap.api.fpjs.io",
        }
    }

    /// The short name accepted by [`FromStr`]: `global`, `eu` or `ap`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::Eu => "eu",
            Self::Asia => "ap",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Region {
    type Err = Error;

    /// Accepts `global` or `us`, `eu`, and `ap` or `asia`, in any case.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "global" | "us" => Ok(Self::Global),
            "eu" => Ok(Self::Eu),
            "ap" | "asia" => Ok(Self::Asia),
            other => Err(Error::config(format!(
                "unknown region {other:?}: use \"global\" (or \"us\"), \"eu\", or \"ap\" (or \"asia\")"
            ))),
        }
    }
}

/// The client's settings that the request hooks read on every call.
#[derive(Clone)]
pub struct Inner(Arc<Settings>);

pub(crate) struct Settings {
    pub(crate) retry: RetryPolicy,
    pub(crate) operation_timeout: Duration,
    /// The base URL's path (`/v4` for the regions), for the path check.
    pub(crate) base_path: String,
    /// The operations of the API version this client speaks.
    pub(crate) routes: &'static [route::Route],
    /// A query parameter carrying the key, for the v3 opt-in only.
    pub(crate) query_auth: Option<(&'static str, String)>,
}

impl Inner {
    pub(crate) fn settings(&self) -> &Settings {
        &self.0
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("retry", &self.0.retry)
            .field("operation_timeout", &self.0.operation_timeout)
            .finish()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.baseurl())
            .field("api_key", &"<redacted>")
            .field("settings", self.inner())
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
        self.baseurl()
    }

    /// The retry policy of this client.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner().settings().retry
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
            builder = builder.region(region.parse()?);
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
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets the time allowed for a whole operation: every attempt and every
    /// wait between attempts together.
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

    /// Sets the time allowed to open a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Appends a product token to the `User-Agent` (e.g. `my-app/1.2`).
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(suffix.into());
        self
    }

    /// Builds the client. Fails on an empty or malformed key, or a base URL
    /// that is not an absolute http(s) URL.
    pub fn build(self) -> Result<Client, Error> {
        let key = self.key()?;
        let auth = sensitive(&format!("Bearer {key}"))?;
        let base = self
            .base_url
            .clone()
            .unwrap_or_else(|| self.region.base_url().to_owned());
        let (http, base, settings) = self.connect(
            &base,
            Some((AUTHORIZATION, auth)),
            crate::generated::ROUTES,
            None,
        )?;
        Ok(Client::new_with_client(&base, http, settings))
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

    /// The HTTP client, the checked base URL and the hook settings, shared by
    /// every API version.
    pub(crate) fn connect(
        self,
        base: &str,
        auth: Option<(reqwest::header::HeaderName, HeaderValue)>,
        routes: &'static [route::Route],
        query_auth: Option<(&'static str, String)>,
    ) -> Result<(reqwest::Client, String, Inner), Error> {
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

        let mut headers = HeaderMap::new();
        if let Some((name, value)) = auth {
            headers.insert(name, value);
        }
        let user_agent = match &self.user_agent_suffix {
            Some(suffix) => format!("{SDK_IDENTIFIER} {suffix}"),
            None => SDK_IDENTIFIER.to_owned(),
        };
        headers.insert(
            USER_AGENT,
            HeaderValue::from_str(&user_agent)
                .map_err(|_| Error::config("the user agent suffix is not a valid header value"))?,
        );

        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(self.connect_timeout)
            .timeout(self.attempt_timeout)
            .build()
            .map_err(|e| Error::config(format!("the HTTP client could not be built: {e}")))?;

        let inner = Inner(Arc::new(Settings {
            retry: self.retry,
            operation_timeout: self.operation_timeout,
            base_path: parsed.path().to_owned(),
            routes,
            query_auth,
        }));
        Ok((http, base, inner))
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

impl ClientHooks<Inner> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        prepare(self, request, info).map_err(progenitor_client::Error::InvalidRequest)
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        send_with_retries(self, request, info).await
    }
}

/// The `pre` hook of every API version: checks the path still has its
/// template's shape and adds the SDK identifier (and, for v3 with the opt-in,
/// the key as a query parameter).
pub(crate) fn prepare<C: ClientInfo<Inner>>(
    client: &C,
    request: &mut reqwest::Request,
    info: &OperationInfo,
) -> Result<(), String> {
    let settings = client.inner().settings();
    if let Some(route) = route::find(settings.routes, info.operation_id) {
        route::check_path(route, &settings.base_path, request.url().path())?;
    }
    let mut query = request.url_mut().query_pairs_mut();
    query.append_pair("ii", SDK_IDENTIFIER);
    if let Some((name, key)) = &settings.query_auth {
        query.append_pair(name, key);
    }
    Ok(())
}

/// The `exec` hook of every API version: sends the request, retrying as the
/// client's [`RetryPolicy`] says. The decision is made on the raw status,
/// before any body is parsed.
pub(crate) async fn send_with_retries<C: ClientInfo<Inner>>(
    client: &C,
    request: reqwest::Request,
    info: &OperationInfo,
) -> reqwest::Result<reqwest::Response> {
    let settings = client.inner().settings();
    let policy = &settings.retry;
    let operation = info.operation_id;
    let method = request.method().clone();
    let idempotent = retry::is_idempotent(&method);
    let started = Instant::now();
    let mut waited = Duration::ZERO;
    let mut attempt = 0u32;
    let mut request = request;
    loop {
        attempt += 1;
        call::record_attempt(attempt);
        // A copy for the next attempt, only when there can be one. A
        // request whose body cannot be copied is sent once.
        let spare = if attempt < policy.max_attempts() {
            request.try_clone()
        } else {
            None
        };
        tracing::debug!(
            operation,
            attempt,
            method = %method,
            path = request.url().path(),
            "fingerprint-server-sdk: sending"
        );
        let sent = Instant::now();
        let result = client.client().execute(request).await;
        match &result {
            Ok(response) => {
                call::record_response(response.status());
                tracing::debug!(
                    operation,
                    attempt,
                    status = response.status().as_u16(),
                    elapsed_ms = sent.elapsed().as_millis() as u64,
                    "fingerprint-server-sdk: response"
                );
            }
            Err(e) => tracing::debug!(
                operation,
                attempt,
                error = %crate::error::describe_transport(e),
                elapsed_ms = sent.elapsed().as_millis() as u64,
                "fingerprint-server-sdk: no response"
            ),
        }
        let Some(spare) = spare else {
            return result;
        };
        let (result, decision) = match result {
            Ok(response) => {
                let status = response.status();
                if status.is_success() && !idempotent {
                    return Ok(response);
                }
                // Read the whole body here so that a truncated one counts
                // as a failed attempt (and the 409 code can be seen).
                match buffer(response).await {
                    Ok((response, body)) => {
                        if status.is_success() {
                            return Ok(response);
                        }
                        let code = if status == reqwest::StatusCode::CONFLICT {
                            crate::ApiError::from_body(&body).map(|e| e.code)
                        } else {
                            None
                        };
                        let outcome = Outcome::Response {
                            status,
                            headers: response.headers(),
                            code: code.as_ref().map(|c| c.as_str()),
                        };
                        let decision = retry::decide(
                            policy,
                            &method,
                            operation,
                            outcome,
                            attempt,
                            waited,
                            retry::jitter(),
                        );
                        (Ok(response), decision)
                    }
                    Err(e) => {
                        let decision =
                            transport_decision(policy, &method, operation, &e, attempt, waited);
                        (Err(e), decision)
                    }
                }
            }
            Err(e) => {
                let decision = transport_decision(policy, &method, operation, &e, attempt, waited);
                (Err(e), decision)
            }
        };
        match decision {
            Decision::Stop => return result,
            // A wait that would outlast the operation timeout only turns a
            // useful answer (a 429 with its Retry-After) into a bare timeout.
            Decision::Retry(wait)
                if started.elapsed().saturating_add(wait) >= settings.operation_timeout =>
            {
                tracing::debug!(
                    operation,
                    attempt,
                    delay_ms = wait.as_millis() as u64,
                    "fingerprint-server-sdk: not retrying, the wait would pass the operation timeout"
                );
                return result;
            }
            Decision::Retry(wait) => {
                tracing::debug!(
                    operation,
                    attempt,
                    status = result.as_ref().ok().map(|r| r.status().as_u16()),
                    error = result.as_ref().err().map(crate::error::describe_transport),
                    delay_ms = wait.as_millis() as u64,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "fingerprint-server-sdk: retrying"
                );
                drop(result);
                tokio::time::sleep(wait).await;
                waited += wait;
                request = spare;
            }
        }
    }
}

fn transport_decision(
    policy: &RetryPolicy,
    method: &reqwest::Method,
    operation: &str,
    error: &reqwest::Error,
    attempt: u32,
    waited: Duration,
) -> Decision {
    let outcome = Outcome::Transport {
        connect: error.is_connect(),
    };
    retry::decide(
        policy,
        method,
        operation,
        outcome,
        attempt,
        waited,
        retry::jitter(),
    )
}

/// Reads the whole body and gives back an equivalent response holding it.
/// The rebuilt response keeps the request's URL: without one, reqwest
/// parses a placeholder URL (through IDNA) on every call.
async fn buffer(
    mut response: reqwest::Response,
) -> reqwest::Result<(reqwest::Response, bytes::Bytes)> {
    use reqwest::ResponseBuilderExt;
    let status = response.status();
    let version = response.version();
    let url = response.url().clone();
    let headers = std::mem::take(response.headers_mut());
    let bytes = response.bytes().await?;
    let body = || reqwest::Body::from(bytes.clone());
    // Setting only a URL cannot fail; if it ever did, only the URL is lost.
    let mut rebuilt = http::Response::builder()
        .url(url)
        .body(body())
        .unwrap_or_else(|_| http::Response::new(body()));
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    Ok((reqwest::Response::from(rebuilt), bytes))
}
