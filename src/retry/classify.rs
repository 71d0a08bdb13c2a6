//! The retry decision as pure functions: [`classify`] says what kind of
//! failure an attempt's outcome is for its operation and method, and
//! [`decide`] turns that, the policy and the time left into "stop" or "wait
//! this long, then retry". Nothing here does I/O or reads a clock.

use std::time::{Duration, SystemTime};

use http::header::{HeaderMap, RETRY_AFTER};
use http::{Method, StatusCode};

use super::RetryPolicy;

/// What an attempt produced, as far as the retry decision is concerned.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome<'a> {
    /// A whole response with an error status.
    Response {
        status: StatusCode,
        headers: &'a HeaderMap,
        body: &'a [u8],
    },
    /// No whole response. `connect`: the connection was never made (so the
    /// request never reached the server); `timeout`: the attempt timeout ran
    /// out.
    Transport { connect: bool, timeout: bool },
}

/// The kind of failure, which decides whether a retry may help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// 429: try again, after the server's `Retry-After` when it sent one.
    Throttled { retry_after: Option<Duration> },
    /// A failure that may be gone on the next try and that repeating the
    /// request cannot make worse (5xx or a lost response on an idempotent
    /// method). `timeout` when an attempt timeout caused it.
    Transient { timeout: bool },
    /// The connection could not be made: safe to repeat for every method.
    NotConnected,
    /// 409 `state_not_ready` on `update_event`: the event is still being
    /// processed.
    NotReady,
    /// Retrying cannot help, or could do the work twice.
    Final,
}

impl Class {
    /// Whether this kind of failure is worth another try.
    pub(crate) fn is_retryable(self) -> bool {
        self != Self::Final
    }
}

/// Classifies the outcome of an attempt of `operation` (progenitor's name)
/// with `method`; `now` reads an HTTP-date `Retry-After`.
pub(crate) fn classify(
    operation: &str,
    method: &Method,
    outcome: Outcome<'_>,
    now: SystemTime,
) -> Class {
    let idempotent = is_idempotent(method);
    match outcome {
        Outcome::Transport { connect: true, .. } => Class::NotConnected,
        Outcome::Transport { timeout, .. } if idempotent => Class::Transient { timeout },
        Outcome::Transport { .. } => Class::Final,
        Outcome::Response {
            status,
            headers,
            body,
        } => match status.as_u16() {
            429 => Class::Throttled {
                retry_after: retry_after(headers, now),
            },
            500 | 502 | 503 | 504 if idempotent => Class::Transient { timeout: false },
            409 if operation == "update_event" && is_state_not_ready(body) => Class::NotReady,
            _ => Class::Final,
        },
    }
}

fn is_state_not_ready(body: &[u8]) -> bool {
    crate::ApiError::from_body(body).is_some_and(|e| e.code.as_str() == "state_not_ready")
}

/// Why no retry follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The failure is [`Class::Final`].
    NotRetryable,
    /// The policy's attempts are used up.
    OutOfAttempts,
    /// The wait (the server's `Retry-After`, or our backoff) would not fit
    /// in what is left of the call's timeout.
    WaitPastTimeout,
    /// The wait would pass the policy's total-wait cap.
    WaitPastCap,
}

/// The decision after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Return what the attempt produced.
    Stop(Stop),
    /// Wait this long, then try again; the retry costs this many tokens of
    /// the budget (0 without one).
    Retry { wait: Duration, cost: u32 },
}

/// Where a call stands when an attempt has failed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Progress {
    /// The attempt that just failed, 1-based.
    pub attempt: u32,
    /// Time already spent waiting between attempts.
    pub waited: Duration,
    /// What is left of the call's timeout.
    pub remaining: Duration,
}

/// Decides whether a failed attempt of kind `class` is followed by another.
/// `jitter` is a number in `[0, 1)` that picks the random wait (passed in so
/// the function stays pure).
pub(crate) fn decide(
    policy: &RetryPolicy,
    class: Class,
    progress: Progress,
    jitter: f64,
) -> Decision {
    if !class.is_retryable() {
        return Decision::Stop(Stop::NotRetryable);
    }
    if progress.attempt >= policy.max_attempts {
        return Decision::Stop(Stop::OutOfAttempts);
    }
    // The server's wait is used as given: retrying earlier only earns
    // another 429. Our own backoff is capped by the policy.
    let wait = match class {
        Class::Throttled {
            retry_after: Some(wait),
        } => wait,
        _ => backoff(policy, progress.attempt, jitter),
    };
    if wait >= progress.remaining {
        return Decision::Stop(Stop::WaitPastTimeout);
    }
    if policy
        .max_total_wait
        .is_some_and(|cap| progress.waited.saturating_add(wait) > cap)
    {
        return Decision::Stop(Stop::WaitPastCap);
    }
    let cost = match (&policy.budget, class) {
        (None, _) => 0,
        (Some(budget), Class::Transient { timeout: true }) => budget.timeout_retry_cost,
        (Some(budget), _) => budget.retry_cost,
    };
    Decision::Retry { wait, cost }
}

/// Whether a request with `method` may be sent again after a failure that
/// may have reached the server.
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::PATCH | Method::DELETE | Method::HEAD | Method::PUT
    )
}

/// Full jitter: a random wait in `[0, min(max, initial * 2^(attempt-1)))`.
fn backoff(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let bound = policy
        .initial_backoff
        .saturating_mul(1u32 << exp)
        .min(policy.max_backoff);
    bound.mul_f64(jitter.clamp(0.0, 1.0))
}

/// Reads `Retry-After` as seconds or as an HTTP-date (relative to `now`).
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(u64::try_from(date.timestamp()).ok()?))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A number in `[0, 1)` for jitter, from the standard library's randomly
/// seeded hasher (no extra dependency, and good enough to spread retries).
pub(crate) fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderValue;

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;
    const STATE_NOT_READY: &[u8] = br#"{"error":{"code":"state_not_ready","message":"not yet"}}"#;

    fn response<'a>(code: u16, headers: &'a HeaderMap, body: &'a [u8]) -> Outcome<'a> {
        Outcome::Response {
            status: StatusCode::from_u16(code).expect("status"),
            headers,
            body,
        }
    }

    fn early() -> Progress {
        Progress {
            attempt: 1,
            waited: Duration::ZERO,
            remaining: Duration::from_secs(90),
        }
    }

    /// The classification table: (operation, method, outcome) -> class.
    #[test]
    fn classification_table() {
        let none = HeaderMap::new();
        let mut seven = HeaderMap::new();
        seven.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        let transport = |connect, timeout| Outcome::Transport { connect, timeout };
        let table: Vec<(&str, Method, Outcome<'_>, Class)> = vec![
            // Throttling, every operation and method.
            (
                "search_events",
                Method::GET,
                response(429, &none, b""),
                Class::Throttled { retry_after: None },
            ),
            (
                "analyze",
                Method::POST,
                response(429, &seven, b""),
                Class::Throttled {
                    retry_after: Some(Duration::from_secs(7)),
                },
            ),
            (
                "update_event",
                Method::PATCH,
                response(429, &none, b""),
                Class::Throttled { retry_after: None },
            ),
            // Transient server errors, idempotent methods only.
            (
                "get_event",
                Method::GET,
                response(500, &none, b""),
                Class::Transient { timeout: false },
            ),
            (
                "get_event",
                Method::GET,
                response(502, &none, b"<html>"),
                Class::Transient { timeout: false },
            ),
            (
                "delete_visitor_data",
                Method::DELETE,
                response(503, &none, b""),
                Class::Transient { timeout: false },
            ),
            (
                "update_event",
                Method::PATCH,
                response(504, &none, b""),
                Class::Transient { timeout: false },
            ),
            (
                "analyze",
                Method::POST,
                response(503, &none, b""),
                Class::Final,
            ),
            (
                "get_event",
                Method::GET,
                response(501, &none, b""),
                Class::Final,
            ),
            // Lost responses: idempotent only; connect failures: everyone.
            (
                "get_event",
                Method::GET,
                transport(false, false),
                Class::Transient { timeout: false },
            ),
            (
                "get_event",
                Method::GET,
                transport(false, true),
                Class::Transient { timeout: true },
            ),
            (
                "analyze",
                Method::POST,
                transport(false, false),
                Class::Final,
            ),
            (
                "analyze",
                Method::POST,
                transport(false, true),
                Class::Final,
            ),
            (
                "analyze",
                Method::POST,
                transport(true, false),
                Class::NotConnected,
            ),
            (
                "analyze",
                Method::POST,
                transport(true, true),
                Class::NotConnected,
            ),
            (
                "get_event",
                Method::GET,
                transport(true, false),
                Class::NotConnected,
            ),
            // The per-operation rule.
            (
                "update_event",
                Method::PATCH,
                response(409, &none, STATE_NOT_READY),
                Class::NotReady,
            ),
            (
                "get_event",
                Method::GET,
                response(409, &none, STATE_NOT_READY),
                Class::Final,
            ),
            (
                "update_event",
                Method::PATCH,
                response(409, &none, b"{}"),
                Class::Final,
            ),
            // Everything else is final.
            (
                "get_event",
                Method::GET,
                response(400, &none, b""),
                Class::Final,
            ),
            (
                "get_event",
                Method::GET,
                response(403, &none, b""),
                Class::Final,
            ),
            (
                "get_event",
                Method::GET,
                response(404, &none, b""),
                Class::Final,
            ),
            (
                "get_event",
                Method::GET,
                response(413, &none, b""),
                Class::Final,
            ),
        ];
        for (operation, method, outcome, want) in table {
            assert_eq!(
                classify(operation, &method, outcome, NOW),
                want,
                "{operation} {method} {outcome:?}"
            );
        }
    }

    #[test]
    fn a_long_retry_after_is_waited_in_full_when_it_fits() {
        for seconds in [21, 120] {
            let class = Class::Throttled {
                retry_after: Some(Duration::from_secs(seconds)),
            };
            let decision = decide(
                &RetryPolicy::standard(),
                class,
                Progress {
                    remaining: Duration::from_secs(300),
                    ..early()
                },
                0.5,
            );
            assert_eq!(
                decision,
                Decision::Retry {
                    wait: Duration::from_secs(seconds),
                    cost: 5
                }
            );
        }
    }

    #[test]
    fn a_retry_after_that_does_not_fit_stops_at_once() {
        let class = Class::Throttled {
            retry_after: Some(Duration::from_secs(120)),
        };
        let decision = decide(&RetryPolicy::standard(), class, early(), 0.5);
        assert_eq!(decision, Decision::Stop(Stop::WaitPastTimeout));
    }

    #[test]
    fn an_enormous_retry_after_with_no_caps_does_not_overflow() {
        let mut h = HeaderMap::new();
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("18446744073709551615"),
        );
        let class = classify("get_event", &Method::GET, response(429, &h, b""), NOW);
        let uncapped = RetryPolicy::standard()
            .with_max_backoff(Duration::MAX)
            .with_max_total_wait(Duration::MAX);
        let unbounded = Progress {
            waited: Duration::from_secs(5),
            remaining: Duration::MAX,
            ..early()
        };
        assert_eq!(
            decide(&uncapped, class, unbounded, 0.5),
            Decision::Retry {
                wait: Duration::from_secs(u64::MAX),
                cost: 5
            }
        );
        assert_eq!(
            decide(&uncapped, class, early(), 0.5),
            Decision::Stop(Stop::WaitPastTimeout)
        );
    }

    #[test]
    fn reads_retry_after_as_http_date() {
        let mut h = HeaderMap::new();
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:05 GMT"),
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(5)));
        let later = now + Duration::from_secs(60);
        assert_eq!(retry_after(&h, later), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn backs_off_without_retry_after_with_jitter_in_bounds() {
        let policy = RetryPolicy::standard();
        let throttled = Class::Throttled { retry_after: None };
        let transient = Class::Transient { timeout: false };
        assert_eq!(
            decide(&policy, throttled, early(), 0.5),
            Decision::Retry {
                wait: Duration::from_millis(250),
                cost: 5
            }
        );
        assert_eq!(
            decide(
                &policy,
                transient,
                Progress {
                    attempt: 2,
                    ..early()
                },
                0.5
            ),
            Decision::Retry {
                wait: Duration::from_millis(500),
                cost: 5
            }
        );
        let many = RetryPolicy::standard().with_max_attempts(20);
        for attempt in 1..15 {
            let d = decide(
                &many,
                transient,
                Progress {
                    attempt,
                    remaining: Duration::MAX,
                    ..early()
                },
                0.999,
            );
            let Decision::Retry { wait, .. } = d else {
                panic!("{d:?}")
            };
            assert!(wait <= Duration::from_secs(20), "{wait:?}");
        }
    }

    #[test]
    fn timeouts_cost_more_of_the_budget_and_no_budget_costs_nothing() {
        let timeout = Class::Transient { timeout: true };
        let Decision::Retry { cost, .. } = decide(&RetryPolicy::standard(), timeout, early(), 0.5)
        else {
            panic!("retries")
        };
        assert_eq!(cost, 10);
        let free = RetryPolicy::standard().without_budget();
        let Decision::Retry { cost, .. } = decide(&free, timeout, early(), 0.5) else {
            panic!("retries")
        };
        assert_eq!(cost, 0);
    }

    #[test]
    fn stops_after_max_attempts_and_when_disabled() {
        let transient = Class::Transient { timeout: false };
        assert_eq!(
            decide(
                &RetryPolicy::standard(),
                transient,
                Progress {
                    attempt: 3,
                    ..early()
                },
                0.5
            ),
            Decision::Stop(Stop::OutOfAttempts)
        );
        assert_eq!(
            decide(
                &RetryPolicy::disabled(),
                Class::Throttled { retry_after: None },
                early(),
                0.5
            ),
            Decision::Stop(Stop::OutOfAttempts)
        );
        assert_eq!(
            decide(&RetryPolicy::standard(), Class::Final, early(), 0.5),
            Decision::Stop(Stop::NotRetryable)
        );
    }

    #[test]
    fn stops_when_the_total_wait_would_pass_the_cap() {
        let class = Class::Throttled {
            retry_after: Some(Duration::from_secs(10)),
        };
        let policy = RetryPolicy::standard()
            .with_max_attempts(10)
            .with_max_total_wait(Duration::from_secs(15));
        assert!(matches!(
            decide(&policy, class, early(), 0.5),
            Decision::Retry { .. }
        ));
        let second = Progress {
            attempt: 2,
            waited: Duration::from_secs(10),
            ..early()
        };
        assert_eq!(
            decide(&policy, class, second, 0.5),
            Decision::Stop(Stop::WaitPastCap)
        );
    }

    #[test]
    fn jitter_is_in_unit_interval() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
