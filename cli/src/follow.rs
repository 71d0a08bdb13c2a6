//! Following new events through the search API, for `events tail` and
//! `webhook listen`: poll oldest first from the last event seen, and hand
//! out each event once, in order.
//!
//! Each poll searches from the cursor (the newest timestamp handed out so
//! far), oldest first, following the pages to the end. The window's start
//! includes its own millisecond, so a poll sees again the
//! events of the cursor's millisecond; the ids handed out at that
//! millisecond are kept to skip them, while an event that arrived since,
//! with that same timestamp, is new. Requests go out at most once a
//! [`MIN_GAP`], and every `--interval` once a poll has found nothing more;
//! a failed search (429, 5xx, network) is tried again after a growing
//! pause instead of ending the command.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use fingerprint_server_sdk::search::Role;
use fingerprint_server_sdk::{Error, PageStream};
use serde_json::Value;

use crate::args::FollowArgs;
use crate::clock::{Clock, human};
use crate::connect::Connection;
use crate::failure::{Failure, Result};
use crate::params::{self, Values};
use crate::search::{ResolvedSearch, apply, next_page_key, page_events};
use crate::timespec;

/// The least time between two searches: one a second at most, a fifth of
/// the API's default rate limit (5 requests a second per workspace, shared
/// with identification), so following never crowds out production traffic.
pub const MIN_GAP: Duration = Duration::from_secs(1);
/// The longest pause after failed searches.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The boundary between the events handed out and those to come.
#[derive(Clone, Debug)]
pub struct Cursor {
    at_ms: i64,
    /// The ids handed out whose timestamp is `at_ms`.
    seen: HashSet<String>,
}

impl Cursor {
    pub fn new(since_ms: i64) -> Self {
        Self {
            at_ms: since_ms,
            seen: HashSet::new(),
        }
    }

    /// Where the next poll starts (inclusive).
    pub fn start_ms(&self) -> i64 {
        self.at_ms
    }

    /// Whether an event found by a poll is new, and if so moves the cursor
    /// past it. Polls list events oldest first, so an event older than the
    /// cursor has been handed out (or is older than `--since`).
    pub fn admit(&mut self, timestamp_ms: i64, event_id: &str) -> bool {
        if timestamp_ms < self.at_ms {
            return false;
        }
        if timestamp_ms > self.at_ms {
            self.at_ms = timestamp_ms;
            self.seen.clear();
        }
        self.seen.insert(event_id.to_owned())
    }
}

/// How long to pause after the `failures`-th failed search in a row, or
/// `None` when the error will not go away by waiting (a bad key, a filter
/// the API refuses): the command then ends with it.
pub fn after_failure(error: &Error, failures: u32) -> Option<Duration> {
    if matches!(error, Error::Config { .. } | Error::InvalidRequest { .. }) {
        return None;
    }
    backoff(
        error.status().map(|s| s.as_u16()),
        error.retry_after(),
        failures,
    )
}

/// [`after_failure`] on what it reads from the error: the HTTP status
/// (`None`: no answer, a network failure or timeout) and `Retry-After`.
/// 429, 5xx and no answer are worth waiting for: 2 s, 4 s, 8 s... up to a
/// minute, or what `Retry-After` asks (up to a minute too, so that a
/// following command keeps looking).
pub fn backoff(
    status: Option<u16>,
    retry_after: Option<Duration>,
    failures: u32,
) -> Option<Duration> {
    let transient = status.is_none_or(|s| s == 429 || (500..=599).contains(&s));
    if !transient {
        return None;
    }
    let growing = MIN_GAP.saturating_mul(1 << failures.clamp(1, 6));
    Some(retry_after.unwrap_or(growing).min(MAX_BACKOFF))
}

/// New events, one at a time, for as long as the caller asks.
pub struct Follower<'a> {
    conn: &'a Connection,
    /// What every poll sends besides the window's start: the filters (times
    /// resolved), oldest first, the largest pages.
    sent: Values,
    /// The wire name of the window's start.
    from_name: &'static str,
    cursor: Cursor,
    interval: Duration,
    clock: Clock,
    /// The poll under way: its remaining pages.
    pages: Option<PageStream<'a, Value>>,
    /// Admitted events not yet handed out.
    ready: VecDeque<Value>,
    /// When the last search went out (this clock's milliseconds).
    last_request_ms: Option<i64>,
    /// What the next search waits for, counted from the last one.
    next_gap: Duration,
    failures: u32,
}

impl<'a> Follower<'a> {
    /// Starts at `--since` (default: now).
    pub fn new(conn: &'a Connection, args: &FollowArgs, clock: Clock) -> Result<Self> {
        let now = clock.now_ms();
        let since = match &args.since {
            Some(text) => {
                timespec::resolve(text, now).map_err(|e| Failure::usage(format!("--since: {e}")))?
            }
            None => now,
        };
        let needed = |role| {
            params::role_name(role).ok_or_else(|| {
                Failure::invalid(format!(
                    "this version's search has no {role:?} parameter: it cannot follow new events"
                ))
            })
        };
        let from_name = needed(Role::Start)?;
        let mut sent = ResolvedSearch::resolve(&args.filters.values, now, false)?.sent;
        sent.insert(needed(Role::Reverse)?.to_owned(), vec!["true".to_owned()]);
        if let Some((page_size, largest)) = params::largest_page() {
            sent.insert(page_size.to_owned(), vec![largest.to_string()]);
        }
        // A value the SDK refuses ends the command before the first poll.
        apply(&sent, conn.client.search_events())?;
        Ok(Self {
            conn,
            sent,
            from_name,
            cursor: Cursor::new(since),
            interval: args.interval,
            clock,
            pages: None,
            ready: VecDeque::new(),
            last_request_ms: None,
            next_gap: Duration::ZERO,
            failures: 0,
        })
    }

    /// Where following started or has got to, in Unix milliseconds.
    pub fn position_ms(&self) -> i64 {
        self.cursor.start_ms()
    }

    /// The next new event, waiting (and polling) as long as it takes.
    pub async fn next(&mut self) -> Result<Value> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Ok(event);
            }
            self.pause().await;
            let mut pages = match self.pages.take() {
                Some(pages) => pages,
                None => self.poll()?,
            };
            self.last_request_ms = Some(self.clock.now_ms());
            match pages.next().await {
                Some(Ok(page)) => {
                    self.failures = 0;
                    self.take(&page);
                    if next_page_key(&page).is_none() {
                        // Caught up: the next poll after the interval.
                        self.next_gap = self.interval;
                    } else {
                        self.pages = Some(pages);
                        self.next_gap = MIN_GAP;
                    }
                }
                // The stream ends after its last page, which is dropped
                // above; should it end otherwise, poll again.
                None => {
                    self.next_gap = self.interval;
                }
                Some(Err(error)) => {
                    self.failures += 1;
                    let failure = self.conn.failure("search events", &error);
                    let Some(wait) = after_failure(&error, self.failures) else {
                        return Err(failure);
                    };
                    let message = failure.message;
                    note!("{message}; searching again in {}", human(wait));
                    self.next_gap = wait;
                }
            }
        }
    }

    /// The pages of a poll from the cursor.
    fn poll(&self) -> Result<PageStream<'a, Value>> {
        let mut values = self.sent.clone();
        let from = self.cursor.start_ms().to_string();
        values.insert(self.from_name.to_owned(), vec![from]);
        Ok(apply(&values, self.conn.client.search_events())?.into_json_page_stream())
    }

    /// Waits until `next_gap` has passed since the last search.
    async fn pause(&self) {
        let Some(last) = self.last_request_ms else {
            return;
        };
        let since = u64::try_from(self.clock.now_ms() - last).unwrap_or(0);
        if let Some(left) = self.next_gap.checked_sub(Duration::from_millis(since))
            && !left.is_zero()
        {
            self.clock.sleep(left).await;
        }
    }

    /// Queues the page's new events.
    fn take(&mut self, page: &Value) {
        for event in page_events(page) {
            let timestamp = event.get("timestamp").and_then(Value::as_i64);
            let id = event.get("event_id").and_then(Value::as_str);
            let (Some(timestamp), Some(id)) = (timestamp, id) else {
                note!("skipped an event without a timestamp or an event_id");
                continue;
            };
            if self.cursor.admit(timestamp, id) {
                self.ready.push_back(event.clone());
            }
        }
    }
}

/// How a follow command ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The work finished (e.g. `--max-events`).
    Done,
    /// Ctrl-C.
    Interrupted,
}

/// Runs `work` until it ends or Ctrl-C. With `--demo`, new sample events
/// arrive in the fake meanwhile, so there is something to follow.
pub async fn until_stopped(
    conn: &Connection,
    work: impl Future<Output = Result<()>>,
) -> Result<Ended> {
    tokio::select! {
        done = work => done.map(|()| Ended::Done),
        _ = tokio::signal::ctrl_c() => Ok(Ended::Interrupted),
        () = conn.feed_demo() => Ok(Ended::Done),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_717_243_200_000;

    /// What a poll admits, in order.
    fn poll(cursor: &mut Cursor, events: &[(i64, &str)]) -> Vec<String> {
        events
            .iter()
            .filter(|(ts, id)| cursor.admit(*ts, id))
            .map(|(_, id)| (*id).to_owned())
            .collect()
    }

    #[test]
    fn each_event_once_across_polls_with_shared_timestamps() {
        let mut cursor = Cursor::new(T);
        // Two events in the same millisecond, the newest so far.
        assert_eq!(
            poll(&mut cursor, &[(T, "a"), (T + 5, "b"), (T + 5, "c")]),
            ["a", "b", "c"]
        );
        assert_eq!(cursor.start_ms(), T + 5);
        // The next poll starts at T + 5 and sees b and c again, and a new
        // event d in that same millisecond, then e.
        assert_eq!(
            poll(
                &mut cursor,
                &[(T + 5, "b"), (T + 5, "c"), (T + 5, "d"), (T + 9, "e")]
            ),
            ["d", "e"]
        );
        // Nothing new: nothing again.
        assert_eq!(poll(&mut cursor, &[(T + 9, "e")]), Vec::<String>::new());
        assert_eq!(cursor.start_ms(), T + 9);
    }

    #[test]
    fn older_events_and_repeats_in_one_poll_are_not_new() {
        let mut cursor = Cursor::new(T);
        assert_eq!(
            poll(&mut cursor, &[(T - 1, "old"), (T, "a"), (T, "a")]),
            ["a"]
        );
    }

    #[test]
    fn failures_that_waiting_cures_are_retried_with_growing_pauses() {
        let secs = Duration::from_secs;
        assert_eq!(backoff(Some(429), None, 1), Some(secs(2)));
        assert_eq!(backoff(Some(503), None, 2), Some(secs(4)));
        assert_eq!(backoff(None, None, 3), Some(secs(8)), "no answer");
        assert_eq!(backoff(Some(503), None, 30), Some(MAX_BACKOFF));
        assert_eq!(backoff(Some(429), Some(secs(7)), 1), Some(secs(7)));
        assert_eq!(backoff(Some(429), Some(secs(3600)), 1), Some(MAX_BACKOFF));
        for refused in [400, 401, 403, 404, 409] {
            assert_eq!(backoff(Some(refused), None, 1), None, "{refused}");
        }
    }
}
