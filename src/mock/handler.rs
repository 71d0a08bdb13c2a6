//! What the fake answers: the key check, the queued fault, then the
//! operation itself against the stored events. Pure: a request and the state
//! in, an answer (and how to deliver it) out; the server does the I/O.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use super::faults::Fault;
use super::operation::{self, Operation};
use super::search::Search;
use super::state::State;
use crate::types;

/// An answer, before it goes on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// `Content-Type`, when there is one.
    pub(crate) content_type: Option<String>,
    /// Other headers.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Bytes,
    /// Sent exactly as it is (a [`Fault::Raw`]): never gzipped.
    pub(crate) verbatim: bool,
}

impl Reply {
    fn json(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            content_type: Some("application/json".to_owned()),
            headers: Vec::new(),
            body: Bytes::from(body),
            verbatim: false,
        }
    }

    fn empty(status: u16) -> Self {
        Self {
            status,
            content_type: None,
            headers: Vec::new(),
            body: Bytes::new(),
            verbatim: false,
        }
    }

    /// The API's error body, `{"error": {"code", "message"}}`.
    pub(crate) fn error(status: u16, code: &str, message: &str) -> Self {
        let body = json!({"error": {"code": code, "message": message}});
        Self::json(status, body.to_string().into_bytes())
    }

    fn bad_request(message: &str) -> Self {
        Self::error(400, "request_cannot_be_parsed", message)
    }
}

/// How the answer goes out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    Send {
        reply: Reply,
        /// Wait this long first.
        delay: Duration,
        /// Close the connection after this many body bytes (of the body
        /// as sent: the server holds back at least the last one).
        cut_after: Option<usize>,
    },
    /// Close the connection without answering.
    Close,
    /// Reset the connection (TCP RST) without answering.
    Reset,
}

impl Delivery {
    /// `reply`, on time and whole.
    pub(crate) fn send(reply: Reply) -> Self {
        Delivery::Send {
            reply,
            delay: Duration::ZERO,
            cut_after: None,
        }
    }

    /// The status the client sees, if any.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Delivery::Send { reply, .. } => Some(reply.status),
            Delivery::Close | Delivery::Reset => None,
        }
    }
}

/// One request, as far as the answer depends on it.
pub(crate) struct Request<'r> {
    pub(crate) method: &'r str,
    /// Still percent-encoded.
    pub(crate) path: &'r str,
    pub(crate) query: &'r [(String, String)],
    pub(crate) authorization: Option<&'r [u8]>,
    pub(crate) body: &'r [u8],
}

/// Decides the answer to `request` and applies its effect to `state`.
/// `routed` is what [`operation::route`] made of its method and path (the
/// server routes once, for the answer and the journal).
pub(crate) fn respond(
    state: &mut State,
    request: &Request<'_>,
    routed: Option<(Operation, Option<&str>)>,
    now_ms: i64,
) -> Delivery {
    // The key is checked before anything else, faults included.
    if let Some(refusal) = check_key(&state.key, request.authorization) {
        return Delivery::send(refusal);
    }
    let Some((op, id)) = routed else {
        return Delivery::send(Reply::error(
            404,
            "request_cannot_be_parsed",
            "unknown path or method",
        ));
    };
    let mut delivery = match state.faults.take_for(op) {
        None => Delivery::send(answer(state, op, id, request, now_ms)),
        Some(fault) => deliver(state, op, id, request, now_ms, fault),
    };
    if let Delivery::Send { delay, .. } = &mut delivery {
        *delay = delay.saturating_add(state.delay);
    }
    delivery
}

fn check_key(key: &str, given: Option<&[u8]>) -> Option<Reply> {
    let Some(given) = given else {
        return Some(Reply::error(
            403,
            "secret_api_key_required",
            "secret API key in header is missing or empty",
        ));
    };
    let matches = given
        .strip_prefix(b"Bearer ")
        .is_some_and(|k| k == key.as_bytes());
    (!matches).then(|| {
        Reply::error(
            403,
            "secret_api_key_not_found",
            "no workspace found for provided secret API key",
        )
    })
}

/// How `fault` answers a request of `op` (running the operation unless the
/// fault replaces its answer).
fn deliver(
    state: &mut State,
    op: Operation,
    id: Option<&str>,
    request: &Request<'_>,
    now_ms: i64,
    fault: Fault,
) -> Delivery {
    let send = |reply, delay, cut_after| Delivery::Send {
        reply,
        delay,
        cut_after,
    };
    match effect_of(fault) {
        Effect::Replace(reply) => Delivery::send(reply),
        Effect::Delay(delay) => send(answer(state, op, id, request, now_ms), delay, None),
        Effect::Cut(after) => send(
            answer(state, op, id, request, now_ms),
            Duration::ZERO,
            Some(after),
        ),
        Effect::Close => {
            answer(state, op, id, request, now_ms);
            Delivery::Close
        }
        Effect::Reset => {
            answer(state, op, id, request, now_ms);
            Delivery::Reset
        }
        Effect::Alter {
            fault,
            headers,
            cut_after,
        } => {
            let mut delivery = deliver(state, op, id, request, now_ms, fault);
            if let Delivery::Send {
                reply,
                cut_after: cut,
                ..
            } = &mut delivery
            {
                if let Err(refusal) = set_headers(reply, headers) {
                    *reply = refusal;
                }
                if let Some(after) = cut_after {
                    *cut = Some(cut.map_or(after, |earlier| earlier.min(after)));
                }
            }
            delivery
        }
    }
}

/// What a fault does to the answer.
enum Effect {
    /// This answer instead of the operation's (which does not run).
    Replace(Reply),
    /// The operation's answer, this much later.
    Delay(Duration),
    /// The operation's answer, cut after this many body bytes.
    Cut(usize),
    /// The operation runs; the connection closes without an answer.
    Close,
    /// The operation runs; the connection is reset without an answer.
    Reset,
    /// The answer of `fault`, with these headers set and cut short.
    Alter {
        fault: Fault,
        headers: Vec<(String, String)>,
        cut_after: Option<usize>,
    },
}

fn effect_of(fault: Fault) -> Effect {
    let valid = |status: u16| {
        if (100..=999).contains(&status) {
            status
        } else {
            500
        }
    };
    let reply = match fault {
        Fault::Delay(delay) => return Effect::Delay(delay),
        Fault::Truncate { after } => return Effect::Cut(after),
        Fault::Close => return Effect::Close,
        Fault::Reset => return Effect::Reset,
        Fault::Altered {
            fault,
            headers,
            cut_after,
        } => {
            return Effect::Alter {
                fault: *fault,
                headers,
                cut_after,
            };
        }
        Fault::TooManyRequests { retry_after } => {
            let mut reply = Reply::error(429, "too_many_requests", "too many requests");
            if let Some(seconds) = retry_after {
                reply
                    .headers
                    .push(("retry-after".to_owned(), seconds.to_string()));
            }
            reply
        }
        Fault::Status(status) => {
            let status = valid(status);
            let code = match status {
                503 => "service_unavailable",
                429 => "too_many_requests",
                409 => "state_not_ready",
                _ => "failed",
            };
            Reply::error(status, code, "injected failure")
        }
        Fault::Api {
            status,
            code,
            message,
        } => Reply::error(valid(status), &code, &message),
        Fault::StateNotReady => Reply::error(
            409,
            "state_not_ready",
            "the event is not ready to be updated yet, try again",
        ),
        Fault::Raw {
            status,
            content_type,
            body,
        } => Reply {
            status: valid(status),
            content_type: (!content_type.is_empty()).then_some(content_type),
            headers: Vec::new(),
            body: Bytes::from(body),
            verbatim: true,
        },
    };
    Effect::Replace(reply)
}

/// Sets `headers` on `reply`, each replacing any of its name. A header that
/// is not valid HTTP, or one the fake sets itself, gives the 500 to send
/// instead.
fn set_headers(reply: &mut Reply, headers: Vec<(String, String)>) -> Result<(), Reply> {
    for (name, value) in headers {
        let refusal = |why: &str| {
            Reply::error(
                500,
                "failed",
                &format!("the fault's header `{name}` was not sent: {why}"),
            )
        };
        let Ok(parsed) = http::HeaderName::from_bytes(name.as_bytes()) else {
            return Err(refusal("not a valid header name"));
        };
        if http::HeaderValue::from_str(&value).is_err() {
            return Err(refusal("not a valid header value"));
        }
        if parsed == http::header::CONTENT_LENGTH || parsed == http::header::TRANSFER_ENCODING {
            return Err(refusal(
                "the fake frames the body itself (cut_after gives a short one)",
            ));
        }
        if parsed == http::header::CONTENT_TYPE {
            reply.content_type = Some(value);
            continue;
        }
        reply
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        reply.headers.push((parsed.as_str().to_owned(), value));
    }
    Ok(())
}

/// The normal answer of `op`.
fn answer(
    state: &mut State,
    op: Operation,
    id: Option<&str>,
    request: &Request<'_>,
    now_ms: i64,
) -> Reply {
    if op != Operation::SearchEvents
        && let Some(refusal) = check_plain_query(op, request.query)
    {
        return refusal;
    }
    let id = id.map(decode);
    match (op, id) {
        (Operation::SearchEvents, _) => search_events(state, request.query, now_ms),
        (Operation::GetEvent, Some(id)) => get_event(state, &id, request.query),
        (Operation::UpdateEvent, Some(id)) => update_event(state, &id, request.body),
        (Operation::DeleteVisitorData, Some(visitor)) => delete_visitor(state, &visitor),
        (Operation::Edge, _) => Reply::error(
            403,
            "feature_not_enabled",
            "the fake API does not implement the edge endpoint",
        ),
        // `route` gives every operation but search and edge an id.
        _ => Reply::bad_request("missing path parameter"),
    }
}

/// Refuses a query parameter `op` does not have (or one given twice or
/// empty), naming it.
fn check_plain_query(op: Operation, query: &[(String, String)]) -> Option<Reply> {
    let known = operation::plain_query_parameters(op);
    query.iter().enumerate().find_map(|(n, (name, value))| {
        if name == operation::SDK_IDENTITY_PARAMETER {
            return None;
        }
        let found = known.iter().find(|known| **known == name);
        let checked = operation::check_pair(op, found, |_| false, &query[..n], name, value);
        checked.err().map(|message| Reply::bad_request(&message))
    })
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn event_not_found() -> Reply {
    Reply::error(404, "event_not_found", "event id not found")
}

fn visitor_id(event: &Value) -> Option<&str> {
    event.get("identification")?.get("visitor_id")?.as_str()
}

fn get_event(state: &State, id: &str, query: &[(String, String)]) -> Reply {
    let ruleset = match query.iter().find(|(k, _)| k == "ruleset_id") {
        None => None,
        Some((_, ruleset_id)) => match state.rulesets.get(ruleset_id) {
            Some(ruleset) => Some(ruleset),
            None => return Reply::error(400, "ruleset_not_found", "ruleset not found"),
        },
    };
    let Some(event) = state.events.get(id) else {
        return event_not_found();
    };
    let body = match ruleset {
        None => serde_json::to_vec(event),
        Some(ruleset) => {
            let mut with_action = event.clone();
            if let Some(fields) = with_action.as_object_mut() {
                fields.insert("rule_action".into(), ruleset.evaluate(event));
            }
            serde_json::to_vec(&with_action)
        }
    };
    match body {
        Ok(body) => Reply::json(200, body),
        Err(_) => Reply::error(500, "failed", "the stored event could not be written"),
    }
}

fn update_event(state: &mut State, id: &str, body: &[u8]) -> Reply {
    let update: types::EventUpdate = match serde_json::from_slice(body) {
        Ok(update) => update,
        Err(e) => return Reply::bad_request(&format!("request body is not valid: {e}")),
    };
    let Some(fields) = state.events.get_mut(id).and_then(Value::as_object_mut) else {
        return event_not_found();
    };
    if let Some(linked) = update.linked_id {
        fields.insert("linked_id".into(), Value::String(linked));
    }
    if let Some(tags) = update.tags {
        fields.insert("tags".into(), Value::Object(tags));
    }
    if let Some(suspect) = update.suspect {
        fields.insert("suspect".into(), Value::Bool(suspect));
    }
    Reply::empty(200)
}

fn delete_visitor(state: &mut State, visitor: &str) -> Reply {
    let before = state.events.len();
    state.events.retain(|_, e| visitor_id(e) != Some(visitor));
    if state.events.len() == before {
        Reply::error(404, "visitor_not_found", "visitor not found")
    } else {
        Reply::empty(200)
    }
}

fn search_events(state: &State, query: &[(String, String)], now_ms: i64) -> Reply {
    let search = match Search::parse(query, now_ms) {
        Ok(search) => search,
        Err(rejection) => return Reply::bad_request(&rejection.0),
    };
    // The API answers 404 for a visitor it has never seen.
    if let Some(wanted) = search.filters.visitor_id()
        && !state.events.values().any(|e| visitor_id(e) == Some(wanted))
    {
        return Reply::error(404, "visitor_not_found", "visitor not found");
    }
    let page = search.run(state.events.values());
    match serde_json::to_vec(&page) {
        Ok(body) => Reply::json(200, body),
        Err(_) => Reply::error(500, "failed", "the page could not be written"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        let mut state = State::new("k");
        state.events.insert(
            "e1".into(),
            json!({"event_id": "e1", "timestamp": 1000, "identification": {"visitor_id": "v1", "visitor_found": true}}),
        );
        state
    }

    fn get<'r>(path: &'r str, query: &'r [(String, String)]) -> Request<'r> {
        Request {
            method: "GET",
            path,
            query,
            authorization: Some(b"Bearer k"),
            body: b"",
        }
    }

    /// Routes `request` and answers it, as the server does.
    fn respond(state: &mut State, request: &Request<'_>, now_ms: i64) -> Delivery {
        let routed = operation::route(request.method, request.path);
        super::respond(state, request, routed, now_ms)
    }

    fn reply(delivery: Delivery) -> Reply {
        match delivery {
            Delivery::Send { reply, .. } => reply,
            Delivery::Close | Delivery::Reset => panic!("closed"),
        }
    }

    fn code(reply: &Reply) -> String {
        let body: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_missing_or_wrong_key_is_403_before_any_fault() {
        let mut state = state();
        state.faults.push(None, 1, Fault::Status(503));
        let mut request = get("/v4/events/e1", &[]);
        request.authorization = None;
        let r = reply(respond(&mut state, &request, 0));
        assert_eq!(
            (r.status, code(&r).as_str()),
            (403, "secret_api_key_required")
        );
        request.authorization = Some(b"Bearer other");
        let r = reply(respond(&mut state, &request, 0));
        assert_eq!(
            (r.status, code(&r).as_str()),
            (403, "secret_api_key_not_found")
        );
        request.authorization = Some(b"k");
        assert_eq!(reply(respond(&mut state, &request, 0)).status, 403);
        assert_eq!(state.faults.snapshot().len(), 1, "the fault still waits");
    }

    #[test]
    fn a_request_for_no_operation_takes_no_fault() {
        let mut state = state();
        state.faults.push(None, 1, Fault::Status(503));
        let r = reply(respond(&mut state, &get("/v4/nowhere", &[]), 0));
        assert_eq!(r.status, 404);
        assert_eq!(state.faults.snapshot().len(), 1);
    }

    #[test]
    fn an_unknown_query_parameter_of_get_is_named_in_a_400() {
        let mut state = state();
        let query = pairs(&[("ii", "sdk/1"), ("rulset_id", "rs")]);
        let r = reply(respond(&mut state, &get("/v4/events/e1", &query), 0));
        assert_eq!(
            (r.status, code(&r).as_str()),
            (400, "request_cannot_be_parsed")
        );
        assert!(String::from_utf8_lossy(&r.body).contains("rulset_id"));
    }

    #[test]
    fn an_unknown_ruleset_is_400_ruleset_not_found() {
        let mut state = state();
        let query = pairs(&[("ruleset_id", "rs_missing")]);
        let r = reply(respond(&mut state, &get("/v4/events/e1", &query), 0));
        assert_eq!((r.status, code(&r).as_str()), (400, "ruleset_not_found"));
    }

    #[test]
    fn an_altered_fault_sets_headers_and_cuts_its_own_answer() {
        let mut state = state();
        state.faults.push(
            None,
            1,
            Fault::TooManyRequests {
                retry_after: Some(5),
            }
            .with_header("Retry-After", "Wed, 21 Oct 2026 07:28:00 GMT")
            .with_header("content-type", "text/plain")
            .with_header("x-trace", "a")
            .cut_after(7),
        );
        let Delivery::Send {
            reply, cut_after, ..
        } = respond(&mut state, &get("/v4/events/e1", &[]), 0)
        else {
            panic!("no answer");
        };
        assert_eq!(reply.status, 429);
        assert_eq!(
            reply.headers,
            [
                (
                    "retry-after".to_owned(),
                    "Wed, 21 Oct 2026 07:28:00 GMT".to_owned()
                ),
                ("x-trace".to_owned(), "a".to_owned())
            ],
            "the date replaced the seconds"
        );
        assert_eq!(reply.content_type.as_deref(), Some("text/plain"));
        assert_eq!(cut_after, Some(7));
    }

    #[test]
    fn an_altered_delay_or_truncation_alters_the_normal_answer() {
        let mut state = state();
        state.faults.push(
            None,
            1,
            Fault::Truncate { after: 20 }
                .cut_after(9)
                .with_header("x-a", "b"),
        );
        let Delivery::Send {
            reply, cut_after, ..
        } = respond(&mut state, &get("/v4/events/e1", &[]), 0)
        else {
            panic!("no answer");
        };
        assert_eq!(reply.status, 200);
        assert_eq!(reply.headers, [("x-a".to_owned(), "b".to_owned())]);
        assert_eq!(cut_after, Some(9), "the shorter cut wins");
        // Nothing to alter on a connection closed without an answer.
        state
            .faults
            .push(None, 1, Fault::Reset.with_header("x-a", "b"));
        assert_eq!(
            respond(&mut state, &get("/v4/events/e1", &[]), 0),
            Delivery::Reset
        );
    }

    #[test]
    fn a_header_that_cannot_be_sent_is_a_500_naming_it() {
        for (name, value) in [
            ("bad name", "v"),
            ("x-ok", "line\nbreak"),
            ("Content-Length", "10"),
            ("transfer-encoding", "chunked"),
        ] {
            let mut state = state();
            state
                .faults
                .push(None, 1, Fault::Status(503).with_header(name, value));
            let r = reply(respond(&mut state, &get("/v4/events/e1", &[]), 0));
            assert_eq!((r.status, code(&r).as_str()), (500, "failed"), "{name}");
            assert!(
                String::from_utf8_lossy(&r.body).contains(name),
                "{name}: {:?}",
                r.body
            );
        }
    }

    #[test]
    fn a_closed_connection_still_applies_the_update() {
        let mut state = state();
        state
            .faults
            .push(Some(Operation::UpdateEvent), 1, Fault::Close);
        let request = Request {
            method: "PATCH",
            path: "/v4/events/e1",
            query: &[],
            authorization: Some(b"Bearer k"),
            body: br#"{"suspect": true}"#,
        };
        assert_eq!(respond(&mut state, &request, 0), Delivery::Close);
        assert_eq!(state.events["e1"]["suspect"], json!(true));
    }

    #[test]
    fn the_global_delay_adds_to_a_delay_fault() {
        let mut state = state();
        state.delay = Duration::from_millis(5);
        state
            .faults
            .push(None, 1, Fault::Delay(Duration::from_millis(10)));
        let Delivery::Send { delay, .. } = respond(&mut state, &get("/v4/events/e1", &[]), 0)
        else {
            panic!("closed");
        };
        assert_eq!(delay, Duration::from_millis(15));
        let Delivery::Send { delay, .. } = respond(&mut state, &get("/v4/events/e1", &[]), 0)
        else {
            panic!("closed");
        };
        assert_eq!(delay, Duration::from_millis(5));
    }

    #[test]
    fn a_search_for_a_visitor_never_seen_is_404_visitor_not_found() {
        let mut state = state();
        let query = pairs(&[("visitor_id", "v_unknown")]);
        let r = reply(respond(&mut state, &get("/v4/events", &query), 0));
        assert_eq!((r.status, code(&r).as_str()), (404, "visitor_not_found"));
        // A known visitor with nothing in the window is an empty page.
        let query = pairs(&[("visitor_id", "v1")]);
        let r = reply(respond(
            &mut state,
            &get("/v4/events", &query),
            10 * 86_400_000,
        ));
        assert_eq!(r.status, 200);
        assert_eq!(r.body.as_ref(), br#"{"events":[]}"#);
    }
}
