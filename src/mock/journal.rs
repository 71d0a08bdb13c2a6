//! The request journal: what the fake received, for assertions on what a
//! client sent.

use std::collections::VecDeque;

use super::operation::Operation;

/// How many requests the journal keeps; older ones are dropped first, so a
/// long-running fake (`fingerprint mock serve`) does not grow without end.
pub const JOURNAL_CAPACITY: usize = 10_000;

/// What stands in for the value of the `Authorization` header.
pub(crate) const REDACTED: &str = "[redacted]";

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
    /// The headers in the order sent, names in lower case. The value of
    /// `authorization` is replaced (`Bearer [redacted]`): the journal never
    /// holds the key.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
    /// The operation the method and path ask for; `None` for any other path.
    pub operation: Option<Operation>,
    /// The status the fake answered with; `None` when it closed the
    /// connection without an answer ([`Fault::Close`](super::Fault::Close)).
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

/// The most recent requests, up to [`JOURNAL_CAPACITY`].
#[derive(Debug, Default)]
pub(crate) struct Journal {
    entries: VecDeque<RecordedRequest>,
}

impl Journal {
    pub(crate) fn record(&mut self, request: RecordedRequest) {
        if self.entries.len() == JOURNAL_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(request);
    }

    pub(crate) fn entries(&self) -> Vec<RecordedRequest> {
        self.entries.iter().cloned().collect()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

/// The value the journal keeps for a header: the header's own unless it is
/// `authorization`.
pub(crate) fn journal_value(name: &str, value: &[u8]) -> String {
    if name.eq_ignore_ascii_case("authorization") {
        return match value.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => format!("Bearer {REDACTED}"),
            _ => REDACTED.to_owned(),
        };
    }
    String::from_utf8_lossy(value).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> RecordedRequest {
        RecordedRequest {
            method: "GET".into(),
            path: path.into(),
            query: vec![
                ("a".into(), "1".into()),
                ("b".into(), "x".into()),
                ("a".into(), "2".into()),
            ],
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: br#"{"k":true}"#.to_vec(),
            operation: None,
            status: Some(200),
        }
    }

    #[test]
    fn lookups_keep_repeated_keys_and_ignore_header_case() {
        let r = request("/v4/events");
        assert_eq!(r.query_value("a"), Some("1"));
        assert_eq!(r.query_values("a"), ["1", "2"]);
        assert!(r.query_values("c").is_empty());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.body_json(), Some(serde_json::json!({"k": true})));
    }

    #[test]
    fn the_key_is_never_kept() {
        assert_eq!(
            journal_value("Authorization", b"Bearer sk_live_123"),
            "Bearer [redacted]"
        );
        assert_eq!(journal_value("authorization", b"sk_live_123"), "[redacted]");
        assert_eq!(journal_value("user-agent", b"sdk/1"), "sdk/1");
    }

    #[test]
    fn the_oldest_entries_go_first_past_the_capacity() {
        let mut journal = Journal::default();
        for i in 0..JOURNAL_CAPACITY + 2 {
            journal.record(request(&format!("/{i}")));
        }
        let entries = journal.entries();
        assert_eq!(entries.len(), JOURNAL_CAPACITY);
        assert_eq!(entries[0].path, "/2");
        journal.clear();
        assert!(journal.entries().is_empty());
    }
}
