//! An in-process fake of the Server API v4 on 127.0.0.1, for tests of code
//! that uses this crate and for trying the SDK without an account.
//!
//! [`FakeApi`] holds the events you insert and answers the five operations
//! the way the reference describes them: get by id (with
//! [rulesets](#rulesets)), search with every filter of the document, update,
//! delete a visitor's data, and the edge endpoint (which it refuses with 403
//! `feature_not_enabled`). It checks the bearer key, can be told to
//! [fail](#faults) in the ways the API and the gateways in front of it do,
//! and keeps a [journal](#the-journal) of what it received.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use fingerprint_server_sdk::mock::{self, FakeApi};
//!
//! let fake = FakeApi::start().await?;
//! let mut event = mock::event("evt_1", "vis_1");
//! event.vpn = Some(true);
//! fake.insert(&event)?;
//!
//! let client = fake.client();
//! let found = client.search_events().vpn(true).send().await?.into_inner();
//! assert_eq!(found.events.len(), 1);
//! # Ok(()) }
//! ```
//!
//! # Events
//!
//! Insert typed events ([`FakeApi::insert`]) or JSON ([`FakeApi::insert_json`],
//! kept byte for byte, unknown fields too). [`event`] gives a minimal typed
//! event whose public fields you then set; the generated builder works too
//! (every field is a method, required ones must be set):
//!
//! ```
//! use fingerprint_server_sdk::types;
//!
//! let event: types::Event = types::Event::builder()
//!     .event_id("evt_2")
//!     .timestamp(fingerprint_server_sdk::mock::now_ms())
//!     .identification(Some(
//!         types::Identification::builder()
//!             .visitor_id("vis_2")
//!             .visitor_found(false)
//!             .try_into()?,
//!     ))
//!     .bot(Some(types::BotResult::Good))
//!     .suspect_score(Some(12))
//!     .try_into()?;
//! # let _ = event;
//! # Ok::<(), types::error::ConversionError>(())
//! ```
//!
//! [`sample_events`] makes plausible events in bulk ([`FakeApi::insert_samples`]).
//!
//! # Search
//!
//! Every query parameter of `searchEvents` in the document (the SDK's table,
//! [`search::PARAMETERS`](crate::search::PARAMETERS), which the fake reads for
//! names, enum values and integer bounds) has the meaning its reference
//! description gives it. Where the description leaves a detail open, the fake
//! decides as follows (each is tested):
//!
//! - **Window and order.** Without `start` the search looks back 7 days,
//!   without `end` up to now; both bounds are inclusive and take Unix
//!   milliseconds or RFC 3339. Newest first (`reverse=true`: oldest first),
//!   events with the same timestamp by event id. `limit` is 1 to 100
//!   (default 10), `total_hits` 1 to 1000 (the count, capped at it).
//! - **Boolean signals** (`vpn`, `proxy`, `tampering`, `incognito`,
//!   `virtual_machine`, `privacy_settings`, `jailbroken`, `frida`,
//!   `cloned_app`, `emulator`, `root_apps`, `developer_tools`,
//!   `location_spoofing`, `mitm_attack`, `rare_device`, `simulator`,
//!   `active_call`, `suspect`) match only events that have the property with
//!   that value: an event without it is left out by `vpn=false` as by
//!   `vpn=true`. `anti_detect_browser` reads `tampering_details.anti_detect_browser`
//!   and `tor_node` reads `ip_blocklist.tor_node`. `factory_reset=true` matches
//!   a `factory_reset_timestamp` after the epoch, `false` one of `0`.
//! - **Exact text**, compared as is: `visitor_id` (`identification.visitor_id`),
//!   `high_recall_id` (`supplementary_id_high_recall.visitor_id`), `linked_id`
//!   (at most 256 characters), `url`, `bundle_id`, `package_name`,
//!   `sdk_version` (`sdk.version`), `proximity_id` (`proximity.id`), `asn`
//!   (`ip_info.v4.asn` or `ip_info.v6.asn`).
//! - **Enums**, checked against the document's values: `bot` (`all` is good
//!   or bad, `none` is `not_detected`; events without `bot` are left out),
//!   `sdk_platform` (`sdk.platform`), `vpn_confidence` (the event's
//!   `vpn_confidence`; the reference still says `vpn.confidence`, the v3
//!   shape), `rare_device_percentile_bucket`, `incremental_identification_status`.
//!   `bot_info=all` matches events with a `bot_info`; `bot_info=none` those
//!   with neither a `bot_info` nor a good or bad `bot` verdict.
//! - **Repeated keys** (`environment`, `bot_info_category`,
//!   `bot_info_identity`, `bot_info_confidence`, `bot_info_provider`,
//!   `bot_info_name`) match any of their values (`environment` reads
//!   `environment_id`, the others `bot_info.*`).
//! - `ip_address`: an IPv4 or IPv6 address (a /32 or /128) or a CIDR range,
//!   against the event's `ip_address`; an IPv4 range never matches an IPv6
//!   address. A malformed one is a 400.
//! - `min_suspect_score`: `suspect_score` at or above the value (a minimum
//!   includes itself).
//! - `origin`: the `scheme://host[:port]` of the event's `url`, compared
//!   without regard to case; a trailing `/` in the value is ignored.
//! - `source`: without it only device events are searched (no `source`
//!   property, or `device`); `source=edge` searches only edge events. The
//!   document allows one value: a second one is a 400.
//! - `visitor_id` of a visitor no stored event has: 404 `visitor_not_found`,
//!   as the reference documents.
//! - `pagination_key` is the fake's own (opaque) key; paging goes on from the
//!   position after it even if that event was deleted or updated since. The
//!   last page has no key, also when it is exactly full.
//!
//! **Stricter than the API, on purpose**: a query parameter the operation
//! does not have (a typo such as `vpn_detected=true`), a parameter given
//! twice that is not an array, or an empty value is answered with 400
//! `request_cannot_be_parsed` naming it, so that a mistake in a test fails
//! loudly instead of widening the search; the real API may ignore some of
//! these. The only parameter outside the document that is accepted is `ii`,
//! the SDK identity every official SDK sends.
//!
//! # Rulesets
//!
//! [`FakeApi::add_ruleset`] gives the fake a [`Ruleset`]: rules tried in
//! order, each a condition written as search filters (or a closure over the
//! typed event) and a [`RuleAction`]. `get_event` with that `ruleset_id`
//! returns the event with its `rule_action`; an unknown `ruleset_id` is a 400
//! `ruleset_not_found` (checked before the event is looked up).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use fingerprint_server_sdk::mock::{self, FakeApi, Rule, RuleAction, Ruleset};
//!
//! let fake = FakeApi::start().await?;
//! fake.add_ruleset(
//!     Ruleset::new("rs_login").rule(Rule::when("bot=bad", RuleAction::block(403, "no bots"))?),
//! );
//! let mut event = mock::event("evt_1", "vis_1");
//! event.bot = Some(fingerprint_server_sdk::types::BotResult::Bad);
//! fake.insert(&event)?;
//! let event = fake.client().get_event().event_id("evt_1").ruleset_id("rs_login").send().await?;
//! assert!(event.rule_action.is_some());
//! # Ok(()) }
//! ```
//!
//! # Faults
//!
//! [`FakeApi::fail_next`] queues a [`Fault`] for the next requests of any
//! operation, [`FakeApi::fail_next_on`] for the next requests of one
//! [`Operation`]. The queue is first in, first out: a request takes the
//! oldest fault queued for its operation or for any operation; faults for
//! other operations keep their place. A fault is taken only by a request
//! that carries the right key and names one of the five operations.
//! [`FakeApi::queued_faults`] shows what is left, [`FakeApi::clear_faults`]
//! drops it.
//!
//! The kinds: API errors ([`Fault::Status`], [`Fault::Api`],
//! [`Fault::TooManyRequests`], [`Fault::StateNotReady`]), any answer at all
//! ([`Fault::Raw`], e.g. a gateway's HTML page), a late answer
//! ([`Fault::Delay`]; a long one is a server that stalls), a body cut short
//! ([`Fault::Truncate`]), no answer ([`Fault::Close`], [`Fault::Reset`]).
//! [`Fault::with_header`] and [`Fault::cut_after`] alter a fault's answer: a
//! `Retry-After` date, a redirect, an error page cut short. The fake's timers
//! (delays) are tokio's, so under a paused clock
//! (`#[tokio::test(start_paused = true)]`) a long delay takes no real time.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use fingerprint_server_sdk::mock::{FakeApi, Fault, Operation};
//!
//! let fake = FakeApi::start().await?;
//! fake.fail_next_on(Operation::UpdateEvent, 1, Fault::StateNotReady);
//! fake.fail_next(2, Fault::Status(503));
//! // Queue: [update: 409] [any: 503] [any: 503]
//! // A search takes the first 503 (the 409 waits for an update), an update
//! // then takes the 409, the next request of any kind the second 503.
//! assert_eq!(fake.queued_faults().len(), 3);
//! # Ok(()) }
//! ```
//!
//! # The journal
//!
//! [`FakeApi::journal`] lists the requests received (the last
//! [`JOURNAL_CAPACITY`]), oldest first, as [`RecordedRequest`]s: method, raw
//! path, decoded query pairs in order with repeated keys, headers (the key
//! redacted), body, operation and the status answered.
//! [`FakeApi::clear_journal`] empties it.

mod faults;
mod handler;
mod journal;
mod operation;
mod rulesets;
mod samples;
mod search;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize as _;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use faults::{Fault, QueuedFault};
pub use journal::{JOURNAL_CAPACITY, RecordedRequest};
pub use operation::Operation;
pub use rulesets::{Rule, RuleAction, RuleError, Ruleset};
pub use samples::{event, now_ms, sample_events};

use crate::{Client, ClientBuilder, types};
use state::State;

/// The key a [`FakeApi`] accepts unless told otherwise.
pub const DEFAULT_KEY: &str = "fake-secret-key";

/// A fake Server API v4 running on 127.0.0.1 until dropped.
pub struct FakeApi {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for FakeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApi")
            .field("url", &self.url())
            .field("events", &self.len())
            .finish()
    }
}

/// Why an event could not be inserted.
#[derive(Debug)]
pub struct InsertError {
    position: Option<usize>,
    message: String,
}

impl InsertError {
    fn new(position: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }

    /// Which event was refused: its position (from 0) among those given to
    /// [`FakeApi::insert_many`] (`Some(0)` for [`FakeApi::insert_json`] and
    /// [`FakeApi::insert`]), so that a caller loading events from a file can
    /// say where the bad one is. `None` when the refusal is not about one
    /// event (a typed event that could not be written as JSON).
    pub fn position(&self) -> Option<usize> {
        self.position
    }
}

impl std::fmt::Display for InsertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "event not inserted: {}", self.message)
    }
}

impl std::error::Error for InsertError {}

impl FakeApi {
    /// Starts a fake on a free port of 127.0.0.1, accepting [`DEFAULT_KEY`].
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), DEFAULT_KEY).await
    }

    /// Starts a fake on `addr` accepting `key` as the secret key.
    pub async fn start_on(addr: SocketAddr, key: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::new(key)));
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(server::serve(listener, state.clone(), stopped));
        Ok(Self { addr, state, stop })
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give [`ClientBuilder::base_url`]: `http://127.0.0.1:PORT/v4`.
    pub fn url(&self) -> String {
        format!("http://{}/v4", self.addr)
    }

    /// The secret key the fake accepts.
    pub fn api_key(&self) -> String {
        self.lock().key.clone()
    }

    /// A client builder pointed at the fake, with its key.
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder(self.api_key()).base_url(self.url())
    }

    /// A client pointed at the fake, with its key and default settings.
    ///
    /// # Panics
    ///
    /// Only if reqwest cannot build a plain HTTP client at all: the URL is
    /// one the fake formats itself and the key is non-empty.
    pub fn client(&self) -> Client {
        self.client_builder()
            .build()
            .unwrap_or_else(|e| panic!("the fake API's client could not be built: {e}"))
    }

    /// Stores an event (replacing one with the same `event_id`).
    pub fn insert(&self, event: &types::Event) -> Result<(), InsertError> {
        let value =
            serde_json::to_value(event).map_err(|e| InsertError::new(None, e.to_string()))?;
        self.insert_json(value)
    }

    /// Stores an event given as JSON (kept exactly, unknown fields too). It
    /// must deserialize as an [`types::Event`].
    pub fn insert_json(&self, event: Value) -> Result<(), InsertError> {
        self.insert_many(std::iter::once(event)).map(drop)
    }

    /// Stores many events given as JSON (see [`insert_json`](Self::insert_json));
    /// nothing is stored unless every one is an event with a non-empty
    /// `event_id`. Returns how many were given; an error tells the
    /// [position](InsertError::position) of the first event refused.
    pub fn insert_many(
        &self,
        events: impl IntoIterator<Item = Value>,
    ) -> Result<usize, InsertError> {
        let checked = events
            .into_iter()
            .enumerate()
            .map(|(position, event)| {
                let refused = |message: String| InsertError::new(Some(position), message);
                types::Event::deserialize(&event)
                    .map_err(|e| refused(format!("not an Event: {e}")))?;
                // The id is the key events are stored and found by: an empty
                // one would be an event no `get_event` can ask for.
                let id = search::event_id(&event);
                if id.is_empty() {
                    return Err(refused("no event_id".to_owned()));
                }
                Ok((id.to_owned(), event))
            })
            .collect::<Result<Vec<_>, InsertError>>()?;
        let count = checked.len();
        self.lock().events.extend(checked);
        Ok(count)
    }

    /// Inserts [`sample_events`]`(count, now_ms())` and returns how many were
    /// stored.
    pub fn insert_samples(&self, count: usize) -> Result<usize, InsertError> {
        self.insert_many(sample_events(count, now_ms()))
    }

    /// The stored event with this id, as the API would return it.
    pub fn event(&self, event_id: &str) -> Option<types::Event> {
        let state = self.lock();
        let found = state.events.get(event_id)?;
        types::Event::deserialize(found).ok()
    }

    /// How many events are stored.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a ruleset for `get_event(...).ruleset_id(...)`, replacing one
    /// with the same id.
    pub fn add_ruleset(&self, ruleset: Ruleset) {
        self.lock()
            .rulesets
            .insert(ruleset.id().to_owned(), ruleset);
    }

    /// Serves `fault` to the next `times` requests, of any operation (see
    /// [Faults](self#faults) for the order).
    pub fn fail_next(&self, times: usize, fault: Fault) {
        self.lock().faults.push(None, times, fault);
    }

    /// Serves `fault` to the next `times` requests of `operation` only.
    pub fn fail_next_on(&self, operation: Operation, times: usize, fault: Fault) {
        self.lock().faults.push(Some(operation), times, fault);
    }

    /// The faults not served yet, in the order they were queued.
    pub fn queued_faults(&self) -> Vec<QueuedFault> {
        self.lock().faults.snapshot()
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Sends the answers of the five operations `delay` late from now on
    /// (`Duration::ZERO`: on time), on top of any [`Fault::Delay`]: every
    /// answer to a request with the right key that names an operation,
    /// fault answers and refusals of a bad query included. Sent at once: the
    /// 403 for a missing or wrong key, the 404 for an unknown path or method,
    /// and the 400 for a request body that could not be read; a
    /// [`Fault::Close`] or [`Fault::Reset`] closes the connection at once. For
    /// trying client timeouts against a slow API.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// How many requests the fake has received.
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    /// The requests received, oldest first (the last [`JOURNAL_CAPACITY`]).
    pub fn journal(&self) -> Vec<RecordedRequest> {
        self.lock().journal.entries()
    }

    /// Empties the journal (the [`requests`](Self::requests) count stays).
    pub fn clear_journal(&self) {
        self.lock().journal.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[cfg(test)]
mod tests;
