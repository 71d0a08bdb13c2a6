//! [`ResponseValue`]: what a successful `send()` returns, the decoded body
//! with the response's status and headers.

use std::fmt;
use std::ops::{Deref, DerefMut};

use http::{HeaderMap, StatusCode};

/// A successful response: the decoded body (reach it through `Deref`, or
/// take it with [`into_inner`](Self::into_inner)), its HTTP status and its
/// headers.
///
/// ```no_run
/// # async fn demo(client: fingerprint_server_sdk::Client) -> Result<(), fingerprint_server_sdk::Error> {
/// let response = client.get_event().event_id("1708102555327.NLOjmg").send().await?;
/// println!("{} {:?}", response.status(), response.headers().get("content-type"));
/// println!("{}", response.event_id); // fields of the body, through Deref
/// let event = response.into_inner();
/// # let _ = event; Ok(()) }
/// ```
pub struct ResponseValue<T> {
    inner: T,
    status: StatusCode,
    headers: HeaderMap,
}

impl<T> ResponseValue<T> {
    pub(crate) fn new(inner: T, status: StatusCode, headers: HeaderMap) -> Self {
        Self {
            inner,
            status,
            headers,
        }
    }

    /// The decoded body.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// The decoded body, the status and the headers.
    pub fn into_parts(self) -> (T, StatusCode, HeaderMap) {
        (self.inner, self.status, self.headers)
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers of the response.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The same response with its body changed by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> ResponseValue<U> {
        ResponseValue {
            inner: f(self.inner),
            status: self.status,
            headers: self.headers,
        }
    }
}

impl<T> Deref for ResponseValue<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for ResponseValue<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for ResponseValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseValue")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.inner)
            .finish()
    }
}
