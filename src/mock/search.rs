//! The fake's search: a `searchEvents` query read once into filters, and the
//! page of stored events it selects. Pure: query and events in, events (or
//! the reason for a 400) out; nothing here does I/O or clones an event.
//!
//! The parameters, their kinds (enum values, integer bounds) and roles are
//! the SDK's own table, [`crate::search::PARAMETERS`], generated from the
//! OpenAPI document; what the fake adds is the meaning of each filter
//! ([`SEMANTICS`]) and the window, order and paging it applies.

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::Value;

use super::operation::{Operation, SDK_IDENTITY_PARAMETER, check_pair};
use crate::search::{Kind, Parameter, Role, parameter};

/// The page size when `limit` is not given (the document says so in words
/// only, so the table has no default).
pub(crate) const DEFAULT_LIMIT: usize = 10;
/// A search without `start` looks this far back, as the API does.
pub(crate) const DEFAULT_WINDOW_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// The longest `linked_id` the API takes.
const MAX_LINKED_ID_LEN: usize = 256;

/// Why a query is refused: the message of a 400 `request_cannot_be_parsed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rejection(pub String);

/// The query pairs of a URL query string, decoded (`+` as a space), in
/// order, repeated keys kept.
pub(crate) fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(text: &str) -> String {
    let spaced: Cow<'_, str> = if text.contains('+') {
        Cow::Owned(text.replace('+', " "))
    } else {
        Cow::Borrowed(text)
    };
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// What a filter parameter tests on an event.
#[derive(Clone, Copy, Debug)]
enum Semantics {
    /// The boolean at this path equals the value.
    Bool(&'static [&'static str]),
    /// The string at this path is one of the values.
    Text(&'static [&'static str]),
    /// `factory_reset_timestamp` is set (`true`: after the epoch; `false`: 0).
    FactoryReset,
    /// `suspect_score` is at least the value.
    MinSuspectScore,
    /// `ip_address` is in the range.
    IpAddress,
    /// `ip_info.v4.asn` or `ip_info.v6.asn` is the value.
    Asn,
    /// The origin of `url` is the value.
    Origin,
    /// The `bot` verdict: `all` (good or bad), `good`, `bad`, `none`.
    Bot,
    /// `bot_info`: `all` (present) or `none` (absent, and no bot verdict).
    BotInfo,
    /// Device events (no `source`, or `device`) unless `source=edge`.
    Source,
}

/// The meaning of each filter parameter of [`PARAMETERS`](crate::search::PARAMETERS), by wire name, in
/// the document's order. A test checks that every filter of the table has
/// exactly one entry here and that no entry names a parameter the table
/// lacks: a filter added upstream fails it until it is given a meaning, one
/// removed upstream until its entry goes.
const SEMANTICS: &[(&str, Semantics)] = {
    use Semantics::*;
    &[
        ("visitor_id", Text(&["identification", "visitor_id"])),
        (
            "high_recall_id",
            Text(&["supplementary_id_high_recall", "visitor_id"]),
        ),
        ("bot", Bot),
        ("bot_info", BotInfo),
        ("bot_info_category", Text(&["bot_info", "category"])),
        ("bot_info_identity", Text(&["bot_info", "identity"])),
        ("bot_info_confidence", Text(&["bot_info", "confidence"])),
        ("bot_info_provider", Text(&["bot_info", "provider"])),
        ("bot_info_name", Text(&["bot_info", "name"])),
        ("ip_address", IpAddress),
        ("asn", Asn),
        ("linked_id", Text(&["linked_id"])),
        ("url", Text(&["url"])),
        ("bundle_id", Text(&["bundle_id"])),
        ("package_name", Text(&["package_name"])),
        ("origin", Origin),
        ("suspect", Bool(&["suspect"])),
        ("vpn", Bool(&["vpn"])),
        ("virtual_machine", Bool(&["virtual_machine"])),
        ("tampering", Bool(&["tampering"])),
        (
            "anti_detect_browser",
            Bool(&["tampering_details", "anti_detect_browser"]),
        ),
        ("incognito", Bool(&["incognito"])),
        ("privacy_settings", Bool(&["privacy_settings"])),
        ("jailbroken", Bool(&["jailbroken"])),
        ("frida", Bool(&["frida"])),
        ("factory_reset", FactoryReset),
        ("cloned_app", Bool(&["cloned_app"])),
        ("emulator", Bool(&["emulator"])),
        ("root_apps", Bool(&["root_apps"])),
        ("vpn_confidence", Text(&["vpn_confidence"])),
        ("min_suspect_score", MinSuspectScore),
        ("developer_tools", Bool(&["developer_tools"])),
        ("location_spoofing", Bool(&["location_spoofing"])),
        ("mitm_attack", Bool(&["mitm_attack"])),
        ("rare_device", Bool(&["rare_device"])),
        (
            "rare_device_percentile_bucket",
            Text(&["rare_device_percentile_bucket"]),
        ),
        ("proxy", Bool(&["proxy"])),
        ("sdk_version", Text(&["sdk", "version"])),
        ("sdk_platform", Text(&["sdk", "platform"])),
        ("environment", Text(&["environment_id"])),
        ("proximity_id", Text(&["proximity", "id"])),
        ("tor_node", Bool(&["ip_blocklist", "tor_node"])),
        (
            "incremental_identification_status",
            Text(&["incremental_identification_status"]),
        ),
        ("simulator", Bool(&["simulator"])),
        ("active_call", Bool(&["active_call"])),
        ("source", Source),
    ]
};

/// The meaning of the filter parameter `name`, or `None` when the fake has
/// none (a test walks the table so that this never happens).
fn semantics(name: &str) -> Option<Semantics> {
    SEMANTICS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, meaning)| *meaning)
}

/// One filter of a query, with its value(s) read.
#[derive(Clone, Debug)]
enum Filter<'q> {
    Bool(&'static [&'static str], bool),
    /// Any of the values (one unless the parameter repeats).
    Text(&'static str, &'static [&'static str], Vec<&'q str>),
    FactoryReset(bool),
    MinSuspectScore(f64),
    IpAddress(IpRange),
    Asn(&'q str),
    Origin(&'q str),
    Bot(&'q str),
    BotInfo(bool),
    /// `true`: edge events only.
    Source(bool),
}

impl Filter<'_> {
    fn matches(&self, event: &Value) -> bool {
        match self {
            Filter::Bool(path, want) => at(event, path).and_then(Value::as_bool) == Some(*want),
            Filter::Text(_, path, wants) => at(event, path)
                .and_then(Value::as_str)
                .is_some_and(|found| wants.contains(&found)),
            Filter::FactoryReset(want) => event
                .get("factory_reset_timestamp")
                .and_then(Value::as_i64)
                .is_some_and(|t| (t > 0) == *want),
            Filter::MinSuspectScore(min) => event
                .get("suspect_score")
                .and_then(Value::as_f64)
                .is_some_and(|score| score >= *min),
            Filter::IpAddress(range) => event
                .get("ip_address")
                .and_then(Value::as_str)
                .and_then(|text| text.parse::<IpAddr>().ok())
                .is_some_and(|ip| range.contains(ip)),
            Filter::Asn(want) => ["v4", "v6"].iter().any(|family| {
                at(event, &["ip_info", family, "asn"]).and_then(Value::as_str) == Some(*want)
            }),
            Filter::Origin(want) => event
                .get("url")
                .and_then(Value::as_str)
                .and_then(origin_of)
                .is_some_and(|origin| origin.eq_ignore_ascii_case(want)),
            Filter::Bot(want) => {
                let found = event.get("bot").and_then(Value::as_str);
                match *want {
                    "all" => matches!(found, Some("good" | "bad")),
                    "none" => found == Some("not_detected"),
                    kind => found == Some(kind),
                }
            }
            Filter::BotInfo(all) => {
                let has_info = event.get("bot_info").is_some_and(|v| !v.is_null());
                if *all {
                    has_info
                } else {
                    let verdict = event.get("bot").and_then(Value::as_str);
                    !has_info && !matches!(verdict, Some("good" | "bad"))
                }
            }
            Filter::Source(edge) => {
                let source = event.get("source").and_then(Value::as_str);
                if *edge {
                    source == Some("edge")
                } else {
                    matches!(source, None | Some("device"))
                }
            }
        }
    }
}

/// The value at `path` inside `event`.
fn at<'v>(event: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(event, |value, key| value.get(key))
}

/// `scheme://host[:port]` of a URL, as browsers define an origin (without
/// normalising the case or a default port).
fn origin_of(url: &str) -> Option<&str> {
    let authority_start = url.find("://")? + 3;
    let end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    (end > authority_start).then(|| &url[..end])
}

/// An IP address or a CIDR range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Reads `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `x::y/n`. A bare
    /// address is a /32 or /128.
    pub(crate) fn parse(text: &str) -> Option<IpRange> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => {
                // Digits only: `/+8` or `/ 8` are not a prefix.
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (address, Some(prefix.parse::<u8>().ok()?))
            }
            None => (text, None),
        };
        let network: IpAddr = address.parse().ok()?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(IpRange { network, prefix })
    }

    /// Whether `ip` is in the range; an IPv4 address is never in an IPv6
    /// range, nor the other way round.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The filters of a query (everything but window, order and paging).
#[derive(Clone, Debug, Default)]
pub(crate) struct Filters<'q> {
    list: Vec<Filter<'q>>,
}

impl Filters<'_> {
    /// Whether `event` passes every filter.
    pub(crate) fn matches(&self, event: &Value) -> bool {
        self.list.iter().all(|f| f.matches(event))
    }

    /// The `visitor_id` asked for, if any.
    pub(crate) fn visitor_id(&self) -> Option<&str> {
        self.list.iter().find_map(|f| match f {
            Filter::Text("visitor_id", _, wants) => wants.first().copied(),
            _ => None,
        })
    }

    /// Reads the filter parameters of `pairs`, as a rule's condition: no
    /// window, order or paging, and no default `source`.
    pub(crate) fn parse_condition(pairs: &[(String, String)]) -> Result<Filters<'_>, Rejection> {
        let mut reader = Reader::default();
        for (n, (name, value)) in pairs.iter().enumerate() {
            let p = reader.accept(&pairs[..n], name, value)?;
            if p.role != Role::Filter {
                return Err(Rejection(format!(
                    "`{name}` is not a filter: a condition takes the search filters only"
                )));
            }
            reader.filter(p, value)?;
        }
        Ok(reader.filters)
    }
}

/// A `searchEvents` query, read.
#[derive(Clone, Debug)]
pub(crate) struct Search<'q> {
    start: i64,
    end: i64,
    limit: usize,
    reverse: bool,
    total_hits: Option<usize>,
    after: Option<Cursor<'q>>,
    pub(crate) filters: Filters<'q>,
}

impl<'q> Search<'q> {
    /// Reads a query (its decoded pairs), `now_ms` giving the default window.
    pub(crate) fn parse(pairs: &'q [(String, String)], now_ms: i64) -> Result<Self, Rejection> {
        let mut reader = Reader::default();
        let mut start = None;
        let mut end = None;
        let mut limit = DEFAULT_LIMIT;
        let mut reverse = false;
        let mut total_hits = None;
        let mut after = None;
        for (n, (name, value)) in pairs.iter().enumerate() {
            if name == SDK_IDENTITY_PARAMETER {
                continue;
            }
            let p = reader.accept(&pairs[..n], name, value)?;
            match p.role {
                Role::Filter => reader.filter(p, value)?,
                Role::Start => {
                    start = Some(parse_time(value).ok_or_else(|| rejection("invalid start time"))?)
                }
                Role::End => {
                    end = Some(parse_time(value).ok_or_else(|| rejection("invalid end time"))?)
                }
                Role::Limit => limit = count(p, value)?,
                Role::Reverse => {
                    reverse = parse_bool(value).ok_or_else(|| rejection("invalid reverse param"))?
                }
                Role::TotalHits => total_hits = Some(count(p, value)?),
                Role::PaginationKey => {
                    after = Some(
                        Cursor::parse(value).ok_or_else(|| rejection("invalid pagination key"))?,
                    )
                }
            }
        }
        if !reader.source_given {
            reader.filters.list.push(Filter::Source(false));
        }
        Ok(Search {
            start: start.unwrap_or(now_ms - DEFAULT_WINDOW_MS),
            end: end.unwrap_or(now_ms),
            limit,
            reverse,
            total_hits,
            after,
            filters: reader.filters,
        })
    }

    /// The page of `events` (in any order) this search selects.
    pub(crate) fn run<'e>(&self, events: impl Iterator<Item = &'e Value>) -> Page<'e> {
        let mut matching: Vec<(i64, &'e str, &'e Value)> = events
            .filter_map(|e| {
                let ts = timestamp(e);
                (ts >= self.start && ts <= self.end && self.filters.matches(e))
                    .then(|| (ts, event_id(e), e))
            })
            .collect();
        // Newest first by default, oldest first with `reverse`; ties by id so
        // that the order, and so the paging, is stable.
        if self.reverse {
            matching.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        } else {
            matching.sort_unstable_by(|a, b| (b.0, b.1).cmp(&(a.0, a.1)));
        }
        let total = matching.len();
        let from = match &self.after {
            None => 0,
            Some(cursor) => matching
                .iter()
                .position(|(ts, id, _)| cursor.is_before((*ts, id), self.reverse))
                .unwrap_or(total),
        };
        let to = (from + self.limit).min(total);
        let next = (to < total && to > from).then(|| {
            let (ts, id, _) = matching[to - 1];
            Cursor::format(ts, id)
        });
        Page {
            events: matching[from..to].iter().map(|(_, _, e)| *e).collect(),
            pagination_key: next,
            total_hits: self.total_hits.map(|cap| total.min(cap)),
        }
    }
}

/// A page of search results, serialized as the body of the answer:
/// `{"events": [...], "pagination_key"?, "total_hits"?}` in that order,
/// written straight from the stored events.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Page<'e> {
    pub(crate) events: Vec<&'e Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pagination_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) total_hits: Option<usize>,
}

/// The fake's pagination key: timestamp and id of the last event of a page
/// (opaque to clients, as the API's is). Paging goes on from the first event
/// that sorts after it, so that a page still follows when the event the key
/// was taken from has since been deleted or updated out of the filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cursor<'q> {
    timestamp: i64,
    id: &'q str,
}

impl<'q> Cursor<'q> {
    fn parse(key: &'q str) -> Option<Self> {
        let (ts, id) = key.split_once('~')?;
        Some(Cursor {
            timestamp: ts.parse().ok()?,
            id,
        })
    }

    fn format(timestamp: i64, id: &str) -> String {
        format!("{timestamp}~{id}")
    }

    /// Whether an event at `here` comes after the cursor in the search order.
    fn is_before(&self, here: (i64, &str), reverse: bool) -> bool {
        let cursor = (self.timestamp, self.id);
        if reverse {
            here > cursor
        } else {
            here < cursor
        }
    }
}

/// The bookkeeping of reading parameters one pair at a time.
#[derive(Default)]
struct Reader<'q> {
    source_given: bool,
    filters: Filters<'q>,
}

impl<'q> Reader<'q> {
    /// Checks that `name` is a parameter, not repeated (among the `earlier`
    /// pairs) unless it may be, and that `value` is of its kind.
    fn accept(
        &mut self,
        earlier: &[(String, String)],
        name: &str,
        value: &str,
    ) -> Result<&'static Parameter, Rejection> {
        let p = check_pair(
            Operation::SearchEvents,
            parameter(name),
            |p| p.repeated,
            earlier,
            name,
            value,
        )
        .map_err(Rejection)?;
        // Window, order and paging check their values themselves, with the
        // API's messages (`count` holds limit and total_hits to the table's
        // bounds, parsing them once).
        if p.role == Role::Filter {
            check_kind(p, value)?;
        }
        Ok(p)
    }

    /// Adds the filter `p` with `value` (one more value for a repeated one).
    fn filter(&mut self, p: &'static Parameter, value: &'q str) -> Result<(), Rejection> {
        let Some(meaning) = semantics(p.name) else {
            return Err(Rejection(format!(
                "the fake API does not implement the `{}` filter",
                p.name
            )));
        };
        let filter = match meaning {
            Semantics::Bool(path) => Filter::Bool(path, value == "true"),
            Semantics::Text(path) => {
                if p.name == "linked_id" && value.chars().count() > MAX_LINKED_ID_LEN {
                    return Err(rejection("linked_id can be at most 256 characters long"));
                }
                let existing = self.filters.list.iter_mut().find_map(|f| match f {
                    Filter::Text(name, _, wants) if *name == p.name => Some(wants),
                    _ => None,
                });
                if let Some(wants) = existing {
                    wants.push(value);
                    return Ok(());
                }
                Filter::Text(p.name, path, vec![value])
            }
            Semantics::FactoryReset => Filter::FactoryReset(value == "true"),
            Semantics::MinSuspectScore => {
                // `check_kind` made sure it is a finite number.
                Filter::MinSuspectScore(value.parse().unwrap_or(f64::INFINITY))
            }
            Semantics::IpAddress => Filter::IpAddress(
                IpRange::parse(value).ok_or_else(|| rejection("invalid ip address"))?,
            ),
            Semantics::Asn => Filter::Asn(value),
            Semantics::Origin => Filter::Origin(value.strip_suffix('/').unwrap_or(value)),
            Semantics::Bot => Filter::Bot(value),
            Semantics::BotInfo => Filter::BotInfo(value == "all"),
            Semantics::Source => {
                // The document allows one item.
                if self.source_given {
                    return Err(rejection("`source` takes one value"));
                }
                self.source_given = true;
                Filter::Source(value == "edge")
            }
        };
        self.filters.list.push(filter);
        Ok(())
    }
}

fn rejection(message: &str) -> Rejection {
    Rejection(message.to_owned())
}

/// Checks `value` against the kind of `p`: a value of an enum, an integer
/// within the document's bounds, and so on.
fn check_kind(p: &Parameter, value: &str) -> Result<(), Rejection> {
    let ok = match p.kind {
        Kind::Integer { .. } => return integer(p, value).map(drop),
        Kind::Bool => parse_bool(value).is_some(),
        Kind::String => true,
        Kind::Number => value.parse::<f64>().is_ok_and(f64::is_finite),
        Kind::Time => parse_time(value).is_some(),
        Kind::Enum(values) => values.contains(&value),
    };
    if ok {
        return Ok(());
    }
    let expected = match p.kind {
        Kind::Bool => "true or false".to_owned(),
        Kind::Number => "a number".to_owned(),
        Kind::Time => "Unix milliseconds or an RFC 3339 time".to_owned(),
        Kind::Enum(values) => format!("one of {}", values.join(", ")),
        Kind::String | Kind::Integer { .. } => "text".to_owned(),
    };
    // The API's own words for its best known case.
    let what = if p.name == "bot" {
        "invalid bot type".to_owned()
    } else {
        format!("invalid {}", p.name)
    };
    Err(Rejection(format!("{what} `{value}`: expected {expected}")))
}

/// Reads the integer parameter `p`, within the bounds the table gives it
/// (`invalid limit: between 1 and 100`, as the API words it).
fn integer(p: &Parameter, value: &str) -> Result<i64, Rejection> {
    let (min, max) = match p.kind {
        Kind::Integer { min, max } => (min, max),
        _ => (None, None),
    };
    let within = |n: &i64| min.is_none_or(|m| *n >= m) && max.is_none_or(|m| *n <= m);
    value.parse::<i64>().ok().filter(within).ok_or_else(|| {
        let bounds = match (min, max) {
            (Some(min), Some(max)) => format!("between {min} and {max}"),
            (Some(min), None) => format!("at least {min}"),
            (None, Some(max)) => format!("at most {max}"),
            (None, None) => "an integer".to_owned(),
        };
        Rejection(format!("invalid {}: {bounds}", p.name))
    })
}

/// Reads a count (`limit`, `total_hits`): an integer within its bounds, and
/// never negative whatever the table says.
fn count(p: &Parameter, value: &str) -> Result<usize, Rejection> {
    let n = integer(p, value)?;
    usize::try_from(n).map_err(|_| Rejection(format!("invalid {}: {n} is negative", p.name)))
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Parses `start`/`end`: Unix milliseconds or RFC 3339.
fn parse_time(value: &str) -> Option<i64> {
    value.parse::<i64>().ok().or_else(|| {
        chrono::DateTime::parse_from_rfc3339(value)
            .ok()
            .map(|t| t.timestamp_millis())
    })
}

pub(crate) fn event_id(event: &Value) -> &str {
    event.get("event_id").and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn timestamp(event: &Value) -> i64 {
    event.get("timestamp").and_then(Value::as_i64).unwrap_or(0)
}

#[cfg(test)]
mod tests;
