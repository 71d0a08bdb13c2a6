//! `webhook listen`: new events POSTed to a local endpoint the way
//! Fingerprint's webhooks send them (the event JSON, signed with the
//! webhook's secret), for developing a receiver without deploying it.

use std::time::{Duration, Instant};

use fingerprint_server_sdk::webhook;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::args::ListenArgs;
use crate::clock::{Clock, human};
use crate::connect::Connection;
use crate::failure::{Failure, Result};
use crate::follow::{Ended, Follower, until_stopped};

/// Attempts per event, the first included.
pub const ATTEMPTS: u32 = 4;
/// The longest one attempt may take (connecting included).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The pause before attempt `attempt + 1`: 1 s, 2 s, 4 s; `None` after
/// the last attempt.
pub fn retry_wait(attempt: u32) -> Option<Duration> {
    (attempt < ATTEMPTS).then(|| Duration::from_secs(1 << (attempt - 1).min(10)))
}

/// What one attempt got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered with this status.
    Status(u16),
    /// No answer: why.
    NoAnswer(String),
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        matches!(self, Self::Status(200..=299))
    }
}

/// The stderr line of one attempt: time (UTC), event id, the receiver's
/// status (or why there was none), latency, and what happens next when
/// the attempt failed.
pub fn delivery_line(
    at_ms: i64,
    event_id: &str,
    outcome: &Outcome,
    latency: Duration,
    attempt: u32,
) -> String {
    let time = chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default();
    let status = match outcome {
        Outcome::Status(code) => code.to_string(),
        Outcome::NoAnswer(why) => why.clone(),
    };
    let mut line = format!("{time}  {event_id}  {status}  {}ms", latency.as_millis());
    if !outcome.delivered() {
        match retry_wait(attempt) {
            Some(wait) => line.push_str(&format!(
                "  (attempt {attempt} of {ATTEMPTS}, next in {})",
                human(wait)
            )),
            None => line.push_str(&format!(
                "  (attempt {attempt} of {ATTEMPTS}: gave up, event skipped)"
            )),
        }
    }
    line
}

/// Why a request got no answer, in a few words (without the URL, which the
/// banner has already shown).
fn no_answer(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut innermost = None;
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        innermost = Some(cause);
        source = cause.source();
    }
    match innermost {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_owned(),
    }
}

/// POSTs events to the receiver.
struct Forwarder {
    http: reqwest::Client,
    url: reqwest::Url,
    secret: Vec<u8>,
    clock: Clock,
}

impl Forwarder {
    /// Delivers one event, retrying as [`retry_wait`] says; true when the
    /// receiver took it.
    async fn deliver(&self, event: &Value) -> bool {
        // The event as the API sent it, every field; signed as sent here.
        let body = match serde_json::to_vec(event) {
            Ok(body) => body,
            Err(_) => return false,
        };
        let signature = webhook::sign(&body, &self.secret);
        let id = event
            .get("event_id")
            .and_then(Value::as_str)
            .unwrap_or("(no event_id)");
        for attempt in 1..=ATTEMPTS {
            let started = Instant::now();
            let sent = self
                .http
                .post(self.url.clone())
                .header(CONTENT_TYPE, "application/json")
                .header(webhook::SIGNATURE_HEADER, &signature)
                .body(body.clone())
                .send()
                .await;
            let outcome = match sent {
                Ok(response) => Outcome::Status(response.status().as_u16()),
                Err(e) => Outcome::NoAnswer(no_answer(&e)),
            };
            let line = delivery_line(
                self.clock.now_ms(),
                id,
                &outcome,
                started.elapsed(),
                attempt,
            );
            note!("{line}");
            if outcome.delivered() {
                return true;
            }
            match retry_wait(attempt) {
                Some(wait) => self.clock.sleep(wait).await,
                None => return false,
            }
        }
        false
    }
}

pub async fn run(conn: &Connection, args: ListenArgs) -> Result<()> {
    let secret = args.secret.expose().as_bytes().to_vec();
    if secret.is_empty() {
        return Err(Failure::usage("the webhook secret is empty")
            .with_hint("pass --secret or set FINGERPRINT_WEBHOOK_SECRET"));
    }
    let http = reqwest::Client::builder()
        // A redirect would turn the POST into a GET: report it as it is.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ATTEMPT_TIMEOUT)
        .user_agent(concat!(
            "fingerprint-cli/",
            env!("CARGO_PKG_VERSION"),
            " (webhook listen)"
        ))
        .build()
        .map_err(|e| Failure::usage(format!("cannot make the HTTP client: {e}")))?;
    let clock = Clock::system();
    let forwarder = Forwarder {
        http,
        url: args.forward_to.0.clone(),
        secret,
        clock: clock.clone(),
    };
    let mut follower = Follower::new(conn, &args.follow, clock)?;
    let since = chrono::DateTime::from_timestamp_millis(follower.position_ms())
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    note!(
        "forwarding events from {since} to {} (Ctrl-C to stop)",
        args.forward_to
    );
    let (mut forwarded, mut skipped) = (0u64, 0u64);
    let max = args.follow.max_events;
    let work = async {
        while max.is_none_or(|max| forwarded + skipped < max) {
            let event = follower.next().await?;
            if forwarder.deliver(&event).await {
                forwarded += 1;
            } else {
                skipped += 1;
            }
        }
        Ok(())
    };
    let ended = until_stopped(conn, work).await?;
    let stopped = if ended == Ended::Interrupted {
        "stopped: "
    } else {
        ""
    };
    note!("{stopped}forwarded {forwarded} events, {skipped} skipped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: i64 = 1_717_243_200_123;

    #[test]
    fn three_retries_with_doubling_pauses() {
        let waits: Vec<Option<Duration>> = (1..=ATTEMPTS).map(retry_wait).collect();
        assert_eq!(
            waits,
            [
                Some(Duration::from_secs(1)),
                Some(Duration::from_secs(2)),
                Some(Duration::from_secs(4)),
                None
            ]
        );
    }

    #[test]
    fn one_line_per_attempt() {
        let ms = Duration::from_millis;
        assert_eq!(
            delivery_line(AT, "1717243200000.abc", &Outcome::Status(200), ms(12), 1),
            "2024-06-01T12:00:00.123Z  1717243200000.abc  200  12ms"
        );
        assert_eq!(
            delivery_line(AT, "e1", &Outcome::Status(503), ms(3), 2),
            "2024-06-01T12:00:00.123Z  e1  503  3ms  (attempt 2 of 4, next in 2s)"
        );
        assert_eq!(
            delivery_line(
                AT,
                "e1",
                &Outcome::NoAnswer("could not connect: connection refused".into()),
                ms(0),
                4
            ),
            "2024-06-01T12:00:00.123Z  e1  could not connect: connection refused  0ms  \
             (attempt 4 of 4: gave up, event skipped)"
        );
        // Any 2xx is a delivery; a redirect is not.
        assert!(Outcome::Status(204).delivered());
        assert!(!Outcome::Status(302).delivered());
    }
}
