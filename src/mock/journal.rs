//! The request journal: what the fake received, for assertions on what a
//! client sent.

use std::collections::VecDeque;

use bytes::Bytes;

use super::operation::Operation;

/// How many requests the journal keeps; older ones are dropped first, so a
/// long-running fake (`fingerprint mock serve`) does not grow without end.
pub const JOURNAL_CAPACITY: usize = 10_000;

/// What stands in for the value of the `Authorization` header.
const REDACTED: &str = "[redacted]";
const BEARER_REDACTED: &str = "Bearer [redacted]";

/// One request as the fake received it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The path exactly as sent, still percent-encoded
    /// (`/v4/events/a%2Fb`).
    pub path: String,
    /// The query pairs, decoded, in the order sent, repeated keys kept.
    pub query: Vec<(String, String)>,
    /// The headers, names in lower case, one pair per value. The value of
    /// `authorization` is replaced (`Bearer [redacted]`): the journal never
    /// holds the key.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
    /// The operation the method and path ask for; `None` for any other path.
    pub operation: Option<Operation>,
    /// The status the fake answered with; `None` when it closed the
    /// connection without an answer ([`Fault::Close`](super::Fault::Close),
    /// [`Fault::Reset`](super::Fault::Reset)).
    pub status: Option<u16>,
}

impl RecordedRequest {
    /// The first value of the query parameter `name`.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of the query parameter `name`, in order.
    pub fn query_values(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body read as JSON, or `None` when it is not JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// A request as kept: the parts hyper read, moved rather than copied (the
/// journal costs next to nothing per request), turned into a
/// [`RecordedRequest`] only when asked for.
#[derive(Debug)]
pub(crate) struct Entry {
    method: http::Method,
    uri: http::Uri,
    query: Vec<(String, String)>,
    /// With the `authorization` value already replaced.
    headers: http::HeaderMap,
    body: Bytes,
    operation: Option<Operation>,
    status: Option<u16>,
}

impl Entry {
    pub(crate) fn new(
        method: http::Method,
        uri: http::Uri,
        query: Vec<(String, String)>,
        mut headers: http::HeaderMap,
        body: Bytes,
        operation: Option<Operation>,
        status: Option<u16>,
    ) -> Self {
        redact(&mut headers);
        Self {
            method,
            uri,
            query,
            headers,
            body,
            operation,
            status,
        }
    }

    fn recorded(&self) -> RecordedRequest {
        RecordedRequest {
            method: self.method.as_str().to_owned(),
            path: self.uri.path().to_owned(),
            query: self.query.clone(),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: self.body.to_vec(),
            operation: self.operation,
            status: self.status,
        }
    }
}

/// Replaces the value of `authorization` (every one, if repeated) by
/// `Bearer [redacted]`, or `[redacted]` for another scheme.
fn redact(headers: &mut http::HeaderMap) {
    if let http::header::Entry::Occupied(mut entry) = headers.entry(http::header::AUTHORIZATION) {
        let bearer = entry
            .get()
            .as_bytes()
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"bearer "));
        let shown = if bearer { BEARER_REDACTED } else { REDACTED };
        entry.insert(http::HeaderValue::from_static(shown));
    }
}

/// The most recent requests, up to [`JOURNAL_CAPACITY`].
#[derive(Debug, Default)]
pub(crate) struct Journal {
    entries: VecDeque<Entry>,
}

impl Journal {
    pub(crate) fn record(&mut self, entry: Entry) {
        if self.entries.len() == JOURNAL_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    pub(crate) fn entries(&self) -> Vec<RecordedRequest> {
        self.entries.iter().map(Entry::recorded).collect()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, authorization: Option<&'static str>) -> Entry {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "content-type",
            http::HeaderValue::from_static("application/json"),
        );
        if let Some(value) = authorization {
            headers.insert("authorization", http::HeaderValue::from_static(value));
        }
        Entry::new(
            http::Method::GET,
            path.parse().unwrap_or_else(|e| panic!("{e}")),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x".into()),
                ("a".into(), "2".into()),
            ],
            headers,
            Bytes::from_static(br#"{"k":true}"#),
            None,
            Some(200),
        )
    }

    #[test]
    fn lookups_keep_repeated_keys_and_ignore_header_case() {
        let r = entry("/v4/events?a=1", None).recorded();
        assert_eq!(r.path, "/v4/events");
        assert_eq!(r.query_value("a"), Some("1"));
        assert_eq!(r.query_values("a"), ["1", "2"]);
        assert!(r.query_values("c").is_empty());
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.body_json(), Some(serde_json::json!({"k": true})));
    }

    #[test]
    fn the_key_is_never_kept() {
        let bearer = entry("/", Some("Bearer sk_live_123"));
        assert_eq!(
            bearer.recorded().header("authorization"),
            Some("Bearer [redacted]")
        );
        assert!(!format!("{bearer:?}").contains("sk_live_123"));
        let other = entry("/", Some("sk_live_123"));
        assert_eq!(other.recorded().header("authorization"), Some("[redacted]"));
        assert!(!format!("{other:?}").contains("sk_live_123"));
    }

    #[test]
    fn the_oldest_entries_go_first_past_the_capacity() {
        let mut journal = Journal::default();
        for i in 0..JOURNAL_CAPACITY + 2 {
            journal.record(entry(&format!("/{i}"), None));
        }
        let entries = journal.entries();
        assert_eq!(entries.len(), JOURNAL_CAPACITY);
        assert_eq!(entries[0].path, "/2");
        journal.clear();
        assert!(journal.entries().is_empty());
    }
}
