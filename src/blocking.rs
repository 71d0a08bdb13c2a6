//! A client whose calls block the calling thread, for scripts, command-line
//! tools and synchronous services (feature `blocking`).
//!
//! **Not for async code.** Called on a thread that belongs to a tokio
//! runtime (an async task, `block_on`, `spawn_blocking`, or inside
//! `Runtime::enter`), every call returns [`Error::Config`] instead of
//! blocking; in async code, `.await` the async [`crate::Client`].
//!
//! ```no_run
//! use fingerprint_server_sdk::blocking;
//!
//! # fn main() -> Result<(), fingerprint_server_sdk::Error> {
//! let client = blocking::Client::from_env()?;
//!
//! // One call: the same request builder as the async client, without `.await`.
//! let event = client.run(|c| c.get_event().event_id("evt_123").send())?.into_inner();
//! println!("{} at {}", event.event_id, event.timestamp);
//!
//! // Every event of a search, across pages, as an `Iterator`.
//! for event in client.iter(|c| c.search_events().visitor_id("vis_123").limit(100).into_stream()) {
//!     let event = event?;
//!     println!("{}", event.event_id);
//! }
//! # Ok(()) }
//! ```
//!
//! # Why a closure
//!
//! [`Client::run`] hands the closure the async client; the closure builds a
//! request exactly as async code would (every operation, every parameter,
//! [`with_parameter`](crate::builder::SearchEvents::with_parameter), a
//! per-call `timeout` or `retry_policy`, `send()` or `send_json()`) and
//! returns the call, which `run` then drives to its end on this thread. So
//! the blocking client has no request builders of its own to learn or to
//! fall behind the async ones (blocking copies of them would repeat every
//! setter, the search's fifty-odd filters included, for each schema
//! refresh), and a call goes through the one call path of the crate: the
//! same retries, timeouts and [`Error`]s. [`Client::iter`]
//! does the same for the streams (`into_stream()`, `into_json_stream()`,
//! `into_page_stream()`, `max_events`), yielding their items as an
//! [`Iterator`].
//!
//! # How it runs
//!
//! Each client owns a small tokio runtime with one worker thread (named
//! `fingerprint-blocking`). A call runs on the thread that makes it; the
//! worker drives the sockets, the timers and the pooled connections, also
//! between calls, so a connection the server closed while idle is noticed
//! and not reused (with a current-thread runtime nothing would watch it
//! between calls, and the next call would fail on it). A client can be
//! shared by several threads (`&Client` is enough, it is `Send` and
//! `Sync`); their calls run at the same time. Dropping the client stops its worker and waits for it;
//! inside an async runtime it stops it in the background instead (no
//! blocking, no panic).

use std::fmt;
use std::future::Future;
use std::iter::FusedIterator;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use tokio::runtime::{Handle, Runtime};

use crate::{Error, Region, RetryPolicy};

/// What a call made on a runtime's thread returns.
const IN_RUNTIME: &str = "the blocking client cannot be used inside an async runtime \
     (an async task, block_on, spawn_blocking or Runtime::enter): use the async Client and \
     `.await` the call instead";

/// The blocking client for the Server API v4; see the [module](self) docs.
///
/// Built with [`Client::builder`] (the same settings as
/// [`crate::ClientBuilder`]) or [`Client::from_env`].
pub struct Client {
    // Dropped first: the connections it pools are tasks of the runtime.
    inner: crate::Client,
    runtime: OwnedRuntime,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Client")
            .field("client", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts building a blocking client authenticated with the workspace's
    /// secret API key.
    pub fn builder(secret_api_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder(crate::ClientBuilder::new(secret_api_key))
    }

    /// Builds a blocking client from the environment, as
    /// [`crate::Client::from_env`] does (`FINGERPRINT_SECRET_API_KEY`, and
    /// `FINGERPRINT_REGION` when set).
    pub fn from_env() -> Result<Self, Error> {
        ClientBuilder::from_env()?.build()
    }

    /// Runs one call to its end on this thread and returns its result.
    ///
    /// The closure gets the async client and returns the call, built as
    /// async code would build it but not awaited:
    ///
    /// ```no_run
    /// # fn demo(client: &fingerprint_server_sdk::blocking::Client) -> Result<(), fingerprint_server_sdk::Error> {
    /// use std::time::Duration;
    /// use fingerprint_server_sdk::types::EventUpdate;
    ///
    /// let event = client
    ///     .run(|c| c.get_event().event_id("evt_123").timeout(Duration::from_secs(10)).send())?
    ///     .into_inner();
    /// client.run(|c| {
    ///     c.update_event()
    ///         .event_id(&event.event_id)
    ///         .body(EventUpdate { suspect: Some(true), ..Default::default() })
    ///         .send()
    /// })?;
    /// # Ok(()) }
    /// ```
    ///
    /// Fails with [`Error::Config`], without calling the closure, on a
    /// thread of a tokio runtime (see the [module](self) docs).
    pub fn run<'c, F, Fut, T>(&'c self, call: F) -> Result<T, Error>
    where
        F: FnOnce(&'c crate::Client) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        outside_runtime()?;
        self.runtime.get().block_on(call(&self.inner))
    }

    /// The items of a stream (every event of a search, every page, ...) as
    /// an [`Iterator`] whose `next()` blocks until the item is there.
    ///
    /// The closure gets the async client and returns the stream, e.g.
    /// `|c| c.search_events().visitor_id("vis_123").into_stream()`. As with
    /// the stream, a page is requested only when the items before it have
    /// been taken, and an error is yielded once and ends the iteration.
    ///
    /// On a thread of a tokio runtime (see the [module](self) docs),
    /// `next()` yields one [`Error::Config`] and then `None`, without any
    /// request.
    pub fn iter<'c, F, S, T>(&'c self, stream: F) -> Iter<'c, S>
    where
        F: FnOnce(&'c crate::Client) -> S,
        S: Stream<Item = Result<T, Error>> + Unpin,
    {
        Iter {
            runtime: self.runtime.get(),
            stream: stream(&self.inner),
            done: false,
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        self.inner.base_url()
    }

    /// The retry policy of this client.
    pub fn retry_policy(&self) -> &RetryPolicy {
        self.inner.retry_policy()
    }
}

/// `Err` on a thread where blocking would stall (or, for tokio's own
/// `block_on`, panic in) an async runtime. tokio's public API cannot tell a
/// worker thread from a `spawn_blocking` one, so both are refused.
fn outside_runtime() -> Result<(), Error> {
    match Handle::try_current() {
        Ok(_) => Err(Error::config(IN_RUNTIME)),
        Err(_) => Ok(()),
    }
}

/// The client's runtime, shut down without blocking when it is dropped in
/// an async context (dropping it there normally would panic).
struct OwnedRuntime(Option<Runtime>);

impl OwnedRuntime {
    fn get(&self) -> &Runtime {
        // Only `drop` takes it out.
        self.0
            .as_ref()
            .expect("the runtime is taken out only when the client is dropped")
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            if Handle::try_current().is_ok() {
                runtime.shutdown_background();
            } else {
                // Stops the worker and waits for it.
                drop(runtime);
            }
        }
    }
}

/// Settings for a blocking [`Client`]: the same as [`crate::ClientBuilder`]'s.
/// Start with [`Client::builder`], or convert an async builder with
/// `From` (e.g. `mock::FakeApi::client_builder()`).
#[derive(Clone, Debug)]
#[must_use]
pub struct ClientBuilder(crate::ClientBuilder);

impl From<crate::ClientBuilder> for ClientBuilder {
    fn from(builder: crate::ClientBuilder) -> Self {
        Self(builder)
    }
}

impl ClientBuilder {
    /// A builder from the environment; see [`crate::ClientBuilder::from_env`].
    pub fn from_env() -> Result<Self, Error> {
        crate::ClientBuilder::from_env().map(Self)
    }

    /// Selects the region; see [`crate::ClientBuilder::region`].
    pub fn region(self, region: Region) -> Self {
        Self(self.0.region(region))
    }

    /// Sends requests to this base URL; see [`crate::ClientBuilder::base_url`].
    pub fn base_url(self, url: impl Into<String>) -> Self {
        Self(self.0.base_url(url))
    }

    /// Sets the retry policy; see [`crate::ClientBuilder::retry`].
    pub fn retry(self, policy: RetryPolicy) -> Self {
        Self(self.0.retry(policy))
    }

    /// Sets the time allowed for a whole call; see
    /// [`crate::ClientBuilder::timeout`].
    pub fn timeout(self, timeout: Duration) -> Self {
        Self(self.0.timeout(timeout))
    }

    /// Sets the time allowed for one attempt; see
    /// [`crate::ClientBuilder::attempt_timeout`].
    pub fn attempt_timeout(self, timeout: Duration) -> Self {
        Self(self.0.attempt_timeout(timeout))
    }

    /// Sets the time allowed to open a connection; see
    /// [`crate::ClientBuilder::connect_timeout`].
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        Self(self.0.connect_timeout(timeout))
    }

    /// Appends a product token to the `User-Agent`; see
    /// [`crate::ClientBuilder::user_agent_suffix`].
    pub fn user_agent_suffix(self, suffix: impl Into<String>) -> Self {
        Self(self.0.user_agent_suffix(suffix))
    }

    /// Sends requests through this HTTP client; see
    /// [`crate::ClientBuilder::http_client`]. Its connections then live on
    /// the blocking client's runtime while it is in use.
    pub fn http_client(self, client: reqwest::Client) -> Self {
        Self(self.0.http_client(client))
    }

    /// Builds the client and starts its runtime. Fails as
    /// [`crate::ClientBuilder::build`] does, or when the runtime's thread
    /// cannot be started.
    pub fn build(self) -> Result<Client, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fingerprint-blocking")
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| {
                Error::config(format!(
                    "the blocking client's runtime could not start: {e}"
                ))
            })?;
        let runtime = OwnedRuntime(Some(runtime));
        // Anything the HTTP client sets up belongs to this runtime.
        let inner = {
            let _entered = runtime.get().enter();
            self.0.build()?
        };
        Ok(Client { inner, runtime })
    }
}

/// The items of a stream, one blocking `next()` at a time; see
/// [`Client::iter`].
#[must_use = "iterators do nothing unless consumed"]
pub struct Iter<'c, S> {
    runtime: &'c Runtime,
    stream: S,
    done: bool,
}

impl<S: fmt::Debug> fmt::Debug for Iter<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Iter")
            .field("stream", &self.stream)
            .field("done", &self.done)
            .finish()
    }
}

impl<S> Iter<'_, S> {
    /// The stream being iterated, e.g. for
    /// [`pages_received`](crate::ItemStream::pages_received).
    pub fn get_ref(&self) -> &S {
        &self.stream
    }
}

impl<S, T> Iterator for Iter<'_, S>
where
    S: Stream<Item = Result<T, Error>> + Unpin,
{
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Err(e) = outside_runtime() {
            self.done = true;
            return Some(Err(e));
        }
        let stream = &mut self.stream;
        let item = self.runtime.block_on(std::future::poll_fn(|cx| {
            Pin::new(&mut *stream).poll_next(cx)
        }));
        self.done = item.is_none();
        item
    }
}

impl<S, T> FusedIterator for Iter<'_, S> where S: Stream<Item = Result<T, Error>> + Unpin {}
