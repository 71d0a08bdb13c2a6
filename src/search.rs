//! The search parameters of [`Client::search_events`](crate::Client::search_events)
//! as a table, read from the OpenAPI document when the SDK was built: for
//! each its wire name, the kind of value it takes, whether it repeats, the
//! request builder method that sets it and what it is for. A command line
//! can make one flag per entry and a test double can check it honours every
//! one; a parameter added to the API appears here with the next schema
//! refresh, with no hand edit.
//!
//! ```
//! use fingerprint_server_sdk::search::{self, Kind};
//! let bot = search::parameter("bot").expect("a search parameter");
//! assert_eq!(bot.method, "bot");
//! assert!(matches!(bot.kind, Kind::Enum(values) if values.contains(&"bad")));
//! let repeated: Vec<&str> = search::PARAMETERS
//!     .iter()
//!     .filter(|p| p.repeated)
//!     .map(|p| p.name)
//!     .collect();
//! assert!(repeated.contains(&"environment"));
//! ```
//!
//! To set a parameter from text (a flag, a query string), use
//! [`SearchEvents::with_parameter`](crate::builder::SearchEvents::with_parameter).

/// One query parameter of the search.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Parameter {
    /// The name on the wire (`vpn_confidence`).
    pub name: &'static str,
    /// The method of [`SearchEvents`](crate::builder::SearchEvents) that sets
    /// it (typed; `with_parameter` sets it from text).
    pub method: &'static str,
    /// The values it takes.
    pub kind: Kind,
    /// Whether it is a list, sent as repeated keys (`a=x&a=y`): each value
    /// matches on its own (any of them).
    pub repeated: bool,
    /// What it is for: a filter, or a paging or time-window control.
    pub role: Role,
    /// The SDK's one-line description, empty when there is none.
    pub summary: &'static str,
}

/// The values a search parameter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// `true` or `false`.
    Bool,
    /// Any text.
    String,
    /// A whole number, within these documented bounds when given.
    Integer {
        /// The smallest documented value.
        min: Option<i64>,
        /// The largest documented value.
        max: Option<i64>,
    },
    /// A number.
    Number,
    /// A point in time: Unix milliseconds or an RFC 3339 date-time.
    Time,
    /// One of these values (the API may add more: the SDK sends an unknown
    /// one as given).
    Enum(&'static [&'static str]),
}

/// What a search parameter is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// Narrows the events returned.
    Filter,
    /// The start of the time window (the API's default: 7 days ago).
    Start,
    /// The end of the time window (the API's default: now).
    End,
    /// The page size.
    Limit,
    /// The key of the next page, from the previous page.
    PaginationKey,
    /// Oldest first instead of newest first.
    Reverse,
    /// Ask for the number of matching events, up to this many.
    TotalHits,
}

include!(concat!(env!("OUT_DIR"), "/v4_search.rs"));

/// The parameter with this wire name.
pub fn parameter(name: &str) -> Option<&'static Parameter> {
    PARAMETERS.iter().find(|p| p.name == name)
}

/// The parameter playing `role` (the first, if several do).
pub fn with_role(role: Role) -> Option<&'static Parameter> {
    PARAMETERS.iter().find(|p| p.role == role)
}

impl Parameter {
    /// The values of an enum parameter; empty for other kinds.
    pub fn values(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Enum(values) => values,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_the_search_builder() {
        assert_eq!(PARAMETERS.len(), 52);
        let client = crate::Client::builder("k").build().expect("client");
        for p in PARAMETERS {
            assert_eq!(p.method, p.name);
            let sample = match p.kind {
                Kind::Bool => "true",
                Kind::String => "x",
                Kind::Integer { min, .. } => {
                    if min.is_some() {
                        "1"
                    } else {
                        "5"
                    }
                }
                Kind::Number => "0.5",
                Kind::Time => "1700000000000",
                Kind::Enum(values) => values[0],
            };
            client
                .search_events()
                .with_parameter(p.name, sample)
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
        assert!(
            client
                .search_events()
                .with_parameter("no_such", "1")
                .is_err()
        );
        for role in [
            Role::Start,
            Role::End,
            Role::Limit,
            Role::PaginationKey,
            Role::Reverse,
            Role::TotalHits,
        ] {
            assert!(with_role(role).is_some(), "{role:?}");
        }
    }
}
