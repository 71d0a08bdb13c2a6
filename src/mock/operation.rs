//! The five operations of the API as the fake tells them apart: which one a
//! method and path ask for, and which query parameters each one takes.

use std::fmt;

/// One operation of the Server API v4, as a fault target and in the
/// [journal](super::RecordedRequest::operation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `GET /events/{event_id}` (`client.get_event()`).
    GetEvent,
    /// `GET /events` (`client.search_events()`).
    SearchEvents,
    /// `PATCH /events/{event_id}` (`client.update_event()`).
    UpdateEvent,
    /// `DELETE /visitors/{visitor_id}` (`client.delete_visitor_data()`).
    DeleteVisitorData,
    /// `POST /edge` (`client.analyze_request_for_automation_intelligence()`),
    /// which the fake refuses with 403 `feature_not_enabled`.
    Edge,
}

impl Operation {
    /// Every operation, in the order of the list above.
    pub const ALL: [Operation; 5] = [
        Operation::GetEvent,
        Operation::SearchEvents,
        Operation::UpdateEvent,
        Operation::DeleteVisitorData,
        Operation::Edge,
    ];

    /// The client method's name, as [`crate::Error::operation`] reports it
    /// (`get_event`, `search_events`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::GetEvent => "get_event",
            Operation::SearchEvents => "search_events",
            Operation::UpdateEvent => "update_event",
            Operation::DeleteVisitorData => "delete_visitor_data",
            Operation::Edge => "analyze_request_for_automation_intelligence",
        }
    }

    /// The operation's id in the OpenAPI document (`getEvent`, ...).
    pub fn operation_id(self) -> &'static str {
        match self {
            Operation::GetEvent => "getEvent",
            Operation::SearchEvents => "searchEvents",
            Operation::UpdateEvent => "updateEvent",
            Operation::DeleteVisitorData => "deleteVisitorData",
            Operation::Edge => "analyzeRequestForAutomationIntelligence",
        }
    }

    /// Reads a name as given on the command line: the client method's name
    /// or a short one (`get`, `search`, `update`, `delete`, `edge`).
    pub fn parse(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| {
            op.as_str() == name
                || op.operation_id() == name
                || op.short_name().eq_ignore_ascii_case(name)
        })
    }

    fn short_name(self) -> &'static str {
        match self {
            Operation::GetEvent => "get",
            Operation::SearchEvents => "search",
            Operation::UpdateEvent => "update",
            Operation::DeleteVisitorData => "delete",
            Operation::Edge => "edge",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The query parameter every official SDK adds to every request
/// (`ii=<sdk>/<version>`): accepted on every operation though the document
/// does not list it.
pub(crate) const SDK_IDENTITY_PARAMETER: &str = "ii";

/// The query parameters of `op` other than the search filters (which are in
/// the search parameter table), as the document lists them.
pub(crate) fn plain_query_parameters(op: Operation) -> &'static [&'static str] {
    match op {
        Operation::GetEvent => &["ruleset_id"],
        _ => &[],
    }
}

/// The check every operation makes of a query pair before reading its value,
/// the same for all so that the messages are: `found` is what the operation
/// has under `name` (`None`: no such parameter), the value is not empty, and
/// the name is not among the `earlier` pairs unless `repeats` says it may
/// be. The error is the message of the 400, naming the parameter.
pub(crate) fn check_pair<P>(
    op: Operation,
    found: Option<P>,
    repeats: impl FnOnce(&P) -> bool,
    earlier: &[(String, String)],
    name: &str,
    value: &str,
) -> Result<P, String> {
    let Some(found) = found else {
        return Err(format!(
            "unknown query parameter `{name}`: {} has no such parameter",
            op.operation_id()
        ));
    };
    if value.is_empty() {
        return Err(format!("`{name}` has an empty value"));
    }
    if !repeats(&found) && earlier.iter().any(|(earlier, _)| earlier == name) {
        return Err(format!("`{name}` is given more than once"));
    }
    Ok(found)
}

/// Which operation `method` on `path` asks for, and its path parameter (still
/// percent-encoded), or `None` for anything else. `path` is the whole path,
/// `/v4` prefix included.
pub(crate) fn route<'p>(method: &str, path: &'p str) -> Option<(Operation, Option<&'p str>)> {
    let rest = path.strip_prefix("/v4/")?;
    let (collection, id) = match rest.split_once('/') {
        Some((collection, id)) => (collection, Some(id)),
        None => (rest, None),
    };
    // An id with a slash in it was not encoded: no operation has such a path.
    if id.is_some_and(|id| id.is_empty() || id.contains('/')) {
        return None;
    }
    match (method, collection, id) {
        ("GET", "events", None) => Some((Operation::SearchEvents, None)),
        ("GET", "events", Some(id)) => Some((Operation::GetEvent, Some(id))),
        ("PATCH", "events", Some(id)) => Some((Operation::UpdateEvent, Some(id))),
        ("DELETE", "visitors", Some(id)) => Some((Operation::DeleteVisitorData, Some(id))),
        ("POST", "edge", None) => Some((Operation::Edge, None)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_the_five_operations_and_nothing_else() {
        assert_eq!(
            route("GET", "/v4/events"),
            Some((Operation::SearchEvents, None))
        );
        assert_eq!(
            route("GET", "/v4/events/a%2Fb"),
            Some((Operation::GetEvent, Some("a%2Fb")))
        );
        assert_eq!(
            route("PATCH", "/v4/events/e1"),
            Some((Operation::UpdateEvent, Some("e1")))
        );
        assert_eq!(
            route("DELETE", "/v4/visitors/v1"),
            Some((Operation::DeleteVisitorData, Some("v1")))
        );
        assert_eq!(route("POST", "/v4/edge"), Some((Operation::Edge, None)));
        for (method, path) in [
            ("GET", "/v4/events/"),
            ("GET", "/v4/events/a/b"),
            ("PUT", "/v4/events/e1"),
            ("DELETE", "/v4/events/e1"),
            ("GET", "/events/e1"),
            ("GET", "/v4/visitors/v1"),
            ("GET", "/v4/edge"),
            ("GET", "/v4"),
        ] {
            assert_eq!(route(method, path), None, "{method} {path}");
        }
    }

    #[test]
    fn operations_parse_from_every_name_they_have() {
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.as_str()), Some(op));
            assert_eq!(Operation::parse(op.operation_id()), Some(op));
            assert_eq!(Operation::parse(op.short_name()), Some(op));
        }
        assert_eq!(Operation::parse("SEARCH"), Some(Operation::SearchEvents));
        assert_eq!(Operation::parse("list"), None);
    }
}
