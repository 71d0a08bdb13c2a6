//! The search parameters of `searchEvents` as the fake knows them: wire name,
//! kind, whether repeated, and role. The one list the fake's search reads.
//!
//! It mirrors the shape of the SDK's planned public table
//! (`search::PARAMETERS`), so that once that table exists this file becomes a
//! re-export of it. A test compares this list with the vendored OpenAPI
//! document, so a parameter added upstream fails the build's tests until the
//! fake gives it a meaning.

/// What a parameter's value is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    Bool,
    String,
    Integer,
    Number,
    /// Unix milliseconds or RFC 3339.
    Time,
    Enum {
        values: &'static [&'static str],
    },
}

/// What a parameter does to a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Filter,
    Start,
    End,
    Limit,
    PaginationKey,
    Reverse,
    TotalHits,
}

/// One query parameter of `searchEvents`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parameter {
    /// The name on the wire.
    pub name: &'static str,
    pub kind: Kind,
    /// An array parameter: the key may repeat (`a=x&a=y`).
    pub repeated: bool,
    pub role: Role,
}

const fn filter(name: &'static str, kind: Kind) -> Parameter {
    Parameter {
        name,
        kind,
        repeated: false,
        role: Role::Filter,
    }
}

const fn repeated(name: &'static str, kind: Kind) -> Parameter {
    Parameter {
        name,
        kind,
        repeated: true,
        role: Role::Filter,
    }
}

const fn control(name: &'static str, kind: Kind, role: Role) -> Parameter {
    Parameter {
        name,
        kind,
        repeated: false,
        role,
    }
}

const BOT_INFO_CATEGORIES: &[&str] = &[
    "advertising_and_marketing",
    "aggregator",
    "ai_agent",
    "ai_assistant",
    "ai_browser",
    "ai_crawler",
    "ai_search",
    "browser_automation",
    "ecommerce",
    "monitoring_and_analytics",
    "other",
    "scraping",
    "security",
    "search_engine_crawler",
    "search_engine_optimization",
    "unknown",
];

/// The parameters in the document's order.
pub(crate) const PARAMETERS: &[Parameter] = &[
    control("limit", Kind::Integer, Role::Limit),
    control("pagination_key", Kind::String, Role::PaginationKey),
    filter("visitor_id", Kind::String),
    filter("high_recall_id", Kind::String),
    filter(
        "bot",
        Kind::Enum {
            values: &["all", "good", "bad", "none"],
        },
    ),
    filter(
        "bot_info",
        Kind::Enum {
            values: &["all", "none"],
        },
    ),
    repeated(
        "bot_info_category",
        Kind::Enum {
            values: BOT_INFO_CATEGORIES,
        },
    ),
    repeated(
        "bot_info_identity",
        Kind::Enum {
            values: &["verified", "signed", "spoofed", "unknown"],
        },
    ),
    repeated(
        "bot_info_confidence",
        Kind::Enum {
            values: &["low", "medium", "high"],
        },
    ),
    repeated("bot_info_provider", Kind::String),
    repeated("bot_info_name", Kind::String),
    filter("ip_address", Kind::String),
    filter("asn", Kind::String),
    filter("linked_id", Kind::String),
    filter("url", Kind::String),
    filter("bundle_id", Kind::String),
    filter("package_name", Kind::String),
    filter("origin", Kind::String),
    control("start", Kind::Time, Role::Start),
    control("end", Kind::Time, Role::End),
    control("reverse", Kind::Bool, Role::Reverse),
    filter("suspect", Kind::Bool),
    filter("vpn", Kind::Bool),
    filter("virtual_machine", Kind::Bool),
    filter("tampering", Kind::Bool),
    filter("anti_detect_browser", Kind::Bool),
    filter("incognito", Kind::Bool),
    filter("privacy_settings", Kind::Bool),
    filter("jailbroken", Kind::Bool),
    filter("frida", Kind::Bool),
    filter("factory_reset", Kind::Bool),
    filter("cloned_app", Kind::Bool),
    filter("emulator", Kind::Bool),
    filter("root_apps", Kind::Bool),
    filter(
        "vpn_confidence",
        Kind::Enum {
            values: &["high", "medium", "low"],
        },
    ),
    filter("min_suspect_score", Kind::Number),
    filter("developer_tools", Kind::Bool),
    filter("location_spoofing", Kind::Bool),
    filter("mitm_attack", Kind::Bool),
    filter("rare_device", Kind::Bool),
    filter(
        "rare_device_percentile_bucket",
        Kind::Enum {
            values: &[
                "<p95",
                "p95-p99",
                "p99-p99.5",
                "p99.5-p99.9",
                "p99.9+",
                "not_seen",
            ],
        },
    ),
    filter("proxy", Kind::Bool),
    filter("sdk_version", Kind::String),
    filter(
        "sdk_platform",
        Kind::Enum {
            values: &["js", "android", "ios"],
        },
    ),
    repeated("environment", Kind::String),
    filter("proximity_id", Kind::String),
    control("total_hits", Kind::Integer, Role::TotalHits),
    filter("tor_node", Kind::Bool),
    filter(
        "incremental_identification_status",
        Kind::Enum {
            values: &["partially_completed", "completed"],
        },
    ),
    filter("simulator", Kind::Bool),
    filter("active_call", Kind::Bool),
    repeated("source", Kind::Enum { values: &["edge"] }),
];
