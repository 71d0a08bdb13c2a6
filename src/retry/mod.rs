//! When a call is tried again and how long it waits: [`RetryPolicy`] and
//! [`RetryBudget`] (the settings), the pure classification of an attempt's
//! outcome and the decision that follows ([`classify`]), and the token
//! bucket one client's calls share ([`budget`]).

pub(crate) mod budget;
pub(crate) mod classify;

use std::time::Duration;

/// How a client retries a failed attempt.
///
/// The default ([`RetryPolicy::standard`]) makes up to 3 attempts in all (the
/// first counts). Between attempts it waits a random time between zero and
/// an exponentially growing bound (500 ms, 1 s, 2 s, ... at most 20 s), or,
/// when the server sent `Retry-After`, exactly that long: a server's wait is
/// never cut short. A wait that would not fit in what is left of the call's
/// timeout is not started: the error comes back at once, with
/// [`Error::retry_after`](crate::Error::retry_after) set when the server
/// asked for it, so the caller can schedule the next try.
///
/// What is retried: 429 on every operation; 500, 502, 503, 504 and transport
/// failures (connection reset, attempt timeout, truncated body) on `GET`,
/// `PATCH` and `DELETE`; a failure to connect on every operation, `POST`
/// included (the request never reached the server); 409 `state_not_ready`
/// on `update_event`. Nothing else: other statuses come back at once.
///
/// Retries also draw on the client's [`RetryBudget`], so that when the API
/// is in trouble a busy service does not multiply its traffic by the number
/// of attempts.
///
/// ```
/// use fingerprint_server_sdk::{RetryBudget, RetryPolicy};
/// let patient = RetryPolicy::standard().with_max_attempts(5);
/// let none = RetryPolicy::disabled();
/// let unbudgeted = RetryPolicy::standard().without_budget();
/// assert_eq!(patient.max_attempts(), 5);
/// assert_eq!(none.max_attempts(), 1);
/// assert_eq!(unbudgeted.budget(), None);
/// assert_eq!(RetryPolicy::standard().budget(), Some(&RetryBudget::standard()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_total_wait: Option<Duration>,
    budget: Option<RetryBudget>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::standard()
    }
}

impl RetryPolicy {
    /// 3 attempts, backoff from 500 ms with full jitter, each of our own
    /// waits at most 20 s, a server's `Retry-After` honoured in full, and
    /// the standard [`RetryBudget`].
    pub fn standard() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_total_wait: None,
            budget: Some(RetryBudget::standard()),
        }
    }

    /// One attempt: nothing is retried (and no budget is used).
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

    /// Sets the longest of the client's own waits. A `Retry-After` sent by
    /// the server is not capped by it.
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Sets the most time spent waiting between attempts, all waits
    /// together (server-requested ones included); a retry whose wait would
    /// go past it is not made. Unset by default: the call's timeout bounds
    /// the waiting.
    pub fn with_max_total_wait(mut self, total: Duration) -> Self {
        self.max_total_wait = Some(total);
        self
    }

    /// Draws retries from a client-wide budget of this size and cost (the
    /// default is [`RetryBudget::standard`]).
    pub fn with_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Retries without a budget: each call retries up to its attempts,
    /// however many other calls are failing.
    pub fn without_budget(mut self) -> Self {
        self.budget = None;
        self
    }

    /// The number of attempts in all, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The longest of the client's own waits.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The budget retries draw on, if any.
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.budget.as_ref()
    }
}

/// A token bucket shared by the calls of one client, as in the standard
/// retry strategy of the AWS SDKs: each retry takes tokens from it, each
/// call that succeeds puts some back, and when it is empty no call retries
/// until successes have refilled it. When the API is healthy the bucket
/// stays full and changes nothing; when most calls fail it caps the extra
/// traffic retries add.
///
/// The standard bucket holds 500 tokens; a retry costs 5 (10 after an
/// attempt timeout), a call that succeeds on its first attempt adds 1, and
/// one that succeeds after retries gives back what its retries took.
///
/// The bucket belongs to the client and is sized by the client's policy; a
/// per-call policy decides only whether that call draws from it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryBudget {
    capacity: u32,
    retry_cost: u32,
    timeout_retry_cost: u32,
    success_reward: u32,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::standard()
    }
}

impl RetryBudget {
    /// 500 tokens; a retry costs 5, or 10 after an attempt timeout; a first
    /// attempt that succeeds adds 1.
    pub fn standard() -> Self {
        Self {
            capacity: 500,
            retry_cost: 5,
            timeout_retry_cost: 10,
            success_reward: 1,
        }
    }

    /// Sets how many tokens the bucket holds (and starts with).
    pub fn with_capacity(mut self, tokens: u32) -> Self {
        self.capacity = tokens;
        self
    }

    /// Sets the cost of a retry after anything but an attempt timeout.
    pub fn with_retry_cost(mut self, tokens: u32) -> Self {
        self.retry_cost = tokens;
        self
    }

    /// Sets the cost of a retry after an attempt timeout.
    pub fn with_timeout_retry_cost(mut self, tokens: u32) -> Self {
        self.timeout_retry_cost = tokens;
        self
    }

    /// Sets how many tokens a call that succeeds on its first attempt adds.
    pub fn with_success_reward(mut self, tokens: u32) -> Self {
        self.success_reward = tokens;
        self
    }

    /// How many tokens the bucket holds when full.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }
}
