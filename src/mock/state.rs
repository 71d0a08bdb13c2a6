//! Everything a running fake holds: its key, the stored events, queued
//! faults, the journal and the rulesets.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::Value;

use super::faults::FaultQueue;
use super::journal::Journal;
use super::rulesets::Ruleset;

/// No `Debug`: it holds the key.
pub(crate) struct State {
    pub(crate) key: String,
    /// Events as JSON, exactly as inserted or updated, by event id.
    pub(crate) events: BTreeMap<String, Value>,
    pub(crate) faults: FaultQueue,
    pub(crate) journal: Journal,
    pub(crate) rulesets: HashMap<String, Ruleset>,
    pub(crate) requests: u64,
    /// Added before every answer.
    pub(crate) delay: Duration,
}

impl State {
    pub(crate) fn new(key: &str) -> Self {
        Self {
            key: key.to_owned(),
            events: BTreeMap::new(),
            faults: FaultQueue::default(),
            journal: Journal::default(),
            rulesets: HashMap::new(),
            requests: 0,
            delay: Duration::ZERO,
        }
    }
}
