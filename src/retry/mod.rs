//! When to try a request again and how long to wait: [`RetryPolicy`] and the
//! pure decision function the client's request loop asks after each attempt.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};

/// How the client retries a failed attempt.
///
/// The default ([`RetryPolicy::standard`]) makes up to 3 attempts in all (the
/// first counts), waiting a random time between zero and an exponentially
/// growing bound (500 ms, 1 s, 2 s, ... capped at 20 s) between them, and at
/// most 60 s in all. A `Retry-After` sent by the server replaces the random
/// wait, capped at the same 20 s.
///
/// What is retried: 429 on every operation; 500, 502, 503, 504 and transport
/// failures (connection refused or reset, attempt timeout, truncated body) on
/// `GET`, `PATCH` and `DELETE`; on `POST` only a failure to connect (the
/// request surely never reached the server); 409 `state_not_ready` on
/// `update_event`. Nothing else: other 4xx come back at once.
///
/// ```
/// use fingerprint_server_sdk::RetryPolicy;
/// let patient = RetryPolicy::standard().with_max_attempts(5);
/// let none = RetryPolicy::disabled();
/// assert_eq!(patient.max_attempts(), 5);
/// assert_eq!(none.max_attempts(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: std::time::Duration,
    max_backoff: Duration,
    max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::standard()
    }
}

impl RetryPolicy {
    /// 3 attempts, backoff from 500 ms with full jitter, each wait at most
    /// 20 s, at most 60 s of waiting in all.
    pub fn standard() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_total_wait: Duration::from_secs(60),
        }
    }

    /// One attempt: nothing is retried.
    pub fn disabled() -> Self {
        Self {
            max_attempts: 1,
            ..Self::standard()
        }
    }

    /// Sets the number of attempts in all, the first included (0 is read as
    /// 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the bound of the first random wait; it doubles with each retry.
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the longest single wait, including one asked for by
    /// `Retry-After`.
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Sets the most time spent waiting between attempts, all waits
    /// together; a retry that would go past it is not made.
    pub fn with_max_total_wait(mut self, total: Duration) -> Self {
        self.max_total_wait = total;
        self
    }

    /// The number of attempts in all, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The longest single wait.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }
}

/// What an attempt produced, as far as the retry decision is concerned.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome<'a> {
    /// A response arrived with this status and these headers. `code` is the
    /// API error code, read only for statuses where it matters (409).
    Response {
        status: StatusCode,
        headers: &'a HeaderMap,
        code: Option<&'a str>,
    },
    /// No response: `connect` is true when the connection was never made.
    Transport { connect: bool },
}

/// The decision after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Return what the attempt produced.
    Stop,
    /// Wait this long, then try again.
    Retry(Duration),
}

/// Decides whether attempt number `attempt` (1-based) is followed by another.
///
/// `waited` is the time already spent waiting between attempts; `jitter` is a
/// number in `[0, 1)` that picks the random wait (passed in so the function
/// stays pure).
pub(crate) fn decide(
    policy: &RetryPolicy,
    method: &Method,
    operation: &str,
    outcome: Outcome<'_>,
    attempt: u32,
    waited: Duration,
    jitter: f64,
) -> Decision {
    if attempt >= policy.max_attempts {
        return Decision::Stop;
    }
    let idempotent = is_idempotent(method);
    let mut server_wait = None;
    let retryable = match outcome {
        Outcome::Response {
            status,
            headers,
            code,
        } => match status.as_u16() {
            429 => {
                server_wait = retry_after(headers, SystemTime::now());
                true
            }
            500 | 502 | 503 | 504 => idempotent,
            409 => operation == "update_event" && code == Some("state_not_ready"),
            _ => false,
        },
        Outcome::Transport { connect } => idempotent || connect,
    };
    if !retryable {
        return Decision::Stop;
    }
    let wait = match server_wait {
        Some(wait) => wait.min(policy.max_backoff),
        None => backoff(policy, attempt, jitter),
    };
    if waited.saturating_add(wait) > policy.max_total_wait {
        return Decision::Stop;
    }
    Decision::Retry(wait)
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
    use reqwest::header::HeaderValue;

    fn status(code: u16, headers: &HeaderMap) -> Outcome<'_> {
        Outcome::Response {
            status: StatusCode::from_u16(code).unwrap(),
            headers,
            code: None,
        }
    }

    fn decide_get(outcome: Outcome<'_>, attempt: u32) -> Decision {
        decide(
            &RetryPolicy::standard(),
            &Method::GET,
            "get_event",
            outcome,
            attempt,
            Duration::ZERO,
            0.5,
        )
    }

    #[test]
    fn retries_429_after_retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            decide_get(status(429, &h), 1),
            Decision::Retry(Duration::from_secs(7))
        );
    }

    #[test]
    fn caps_retry_after_at_max_backoff() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3600"));
        assert_eq!(
            decide_get(status(429, &h), 1),
            Decision::Retry(Duration::from_secs(20))
        );
    }

    #[test]
    fn an_enormous_retry_after_with_no_caps_does_not_overflow() {
        let mut h = HeaderMap::new();
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("18446744073709551615"),
        );
        let uncapped = RetryPolicy::standard()
            .with_max_backoff(Duration::MAX)
            .with_max_total_wait(Duration::MAX);
        let decision = decide(
            &uncapped,
            &Method::GET,
            "get_event",
            status(429, &h),
            1,
            Duration::from_secs(5),
            0.5,
        );
        // The policy allows it; the request loop then declines a wait that
        // passes the operation timeout, without overflowing either.
        assert_eq!(decision, Decision::Retry(Duration::from_secs(u64::MAX)));
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
        let h = HeaderMap::new();
        assert_eq!(
            decide_get(status(429, &h), 1),
            Decision::Retry(Duration::from_millis(250))
        );
        assert_eq!(
            decide_get(status(503, &h), 2),
            Decision::Retry(Duration::from_millis(500))
        );
        let policy = RetryPolicy::standard().with_max_attempts(20);
        for attempt in 1..15 {
            let d = decide(
                &policy,
                &Method::GET,
                "get_event",
                status(503, &h),
                attempt,
                Duration::ZERO,
                0.999,
            );
            let Decision::Retry(wait) = d else {
                panic!("{d:?}")
            };
            assert!(wait <= Duration::from_secs(20), "{wait:?}");
        }
    }

    #[test]
    fn retries_5xx_only_on_idempotent_methods() {
        let h = HeaderMap::new();
        for code in [500, 502, 503, 504] {
            assert!(
                matches!(decide_get(status(code, &h), 1), Decision::Retry(_)),
                "{code}"
            );
            let post = decide(
                &RetryPolicy::standard(),
                &Method::POST,
                "analyze",
                status(code, &h),
                1,
                Duration::ZERO,
                0.5,
            );
            assert_eq!(post, Decision::Stop, "{code}");
        }
    }

    #[test]
    fn never_retries_other_client_errors() {
        let h = HeaderMap::new();
        for code in [400, 401, 403, 404, 409, 413, 501] {
            assert_eq!(decide_get(status(code, &h), 1), Decision::Stop, "{code}");
        }
    }

    #[test]
    fn retries_state_not_ready_only_on_update_event() {
        let h = HeaderMap::new();
        let conflict = |code| Outcome::Response {
            status: StatusCode::CONFLICT,
            headers: &h,
            code,
        };
        let update = |outcome| {
            decide(
                &RetryPolicy::standard(),
                &Method::PATCH,
                "update_event",
                outcome,
                1,
                Duration::ZERO,
                0.5,
            )
        };
        assert!(matches!(
            update(conflict(Some("state_not_ready"))),
            Decision::Retry(_)
        ));
        assert_eq!(update(conflict(Some("other"))), Decision::Stop);
        assert_eq!(update(conflict(None)), Decision::Stop);
    }

    #[test]
    fn transport_failures_on_post_retry_only_when_never_connected() {
        let post = |connect| {
            decide(
                &RetryPolicy::standard(),
                &Method::POST,
                "analyze",
                Outcome::Transport { connect },
                1,
                Duration::ZERO,
                0.5,
            )
        };
        assert!(matches!(post(true), Decision::Retry(_)));
        assert_eq!(post(false), Decision::Stop);
        assert!(matches!(
            decide_get(Outcome::Transport { connect: false }, 1),
            Decision::Retry(_)
        ));
    }

    #[test]
    fn stops_after_max_attempts_and_when_disabled() {
        let h = HeaderMap::new();
        assert_eq!(decide_get(status(503, &h), 3), Decision::Stop);
        let off = decide(
            &RetryPolicy::disabled(),
            &Method::GET,
            "get_event",
            status(429, &h),
            1,
            Duration::ZERO,
            0.5,
        );
        assert_eq!(off, Decision::Stop);
    }

    #[test]
    fn stops_when_the_total_wait_would_pass_the_cap() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("10"));
        let policy = RetryPolicy::standard()
            .with_max_attempts(10)
            .with_max_total_wait(Duration::from_secs(15));
        let first = decide(
            &policy,
            &Method::GET,
            "get_event",
            status(429, &h),
            1,
            Duration::ZERO,
            0.5,
        );
        assert_eq!(first, Decision::Retry(Duration::from_secs(10)));
        let second = decide(
            &policy,
            &Method::GET,
            "get_event",
            status(429, &h),
            2,
            Duration::from_secs(10),
            0.5,
        );
        assert_eq!(second, Decision::Stop);
    }

    #[test]
    fn jitter_is_in_unit_interval() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
