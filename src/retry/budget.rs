//! The retry token bucket one client's calls share (sized by a
//! [`RetryBudget`](super::RetryBudget)): retries take tokens, successes put
//! some back, and an empty bucket means no retry.

use std::sync::atomic::{AtomicU32, Ordering};

use super::RetryBudget;

/// The bucket's state.
#[derive(Debug)]
pub(crate) struct Bucket {
    tokens: AtomicU32,
    capacity: u32,
    success_reward: u32,
}

impl Bucket {
    /// A full bucket of `budget`'s size.
    pub(crate) fn new(budget: &RetryBudget) -> Self {
        Self {
            tokens: AtomicU32::new(budget.capacity),
            capacity: budget.capacity,
            success_reward: budget.success_reward,
        }
    }

    /// Takes `cost` tokens for a retry; `false` (and nothing taken) when
    /// there are fewer.
    pub(crate) fn try_take(&self, cost: u32) -> bool {
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tokens| {
                tokens.checked_sub(cost)
            })
            .is_ok()
    }

    /// A call succeeded: it gives back what its retries took (`taken`), or
    /// the success reward when it took nothing. Never above capacity.
    pub(crate) fn succeeded(&self, taken: u32) {
        let back = if taken == 0 {
            self.success_reward
        } else {
            taken
        };
        // The closure always returns Some: the update cannot fail.
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tokens| {
                Some(tokens.saturating_add(back).min(self.capacity))
            });
    }

    /// Tokens left.
    pub(crate) fn tokens(&self) -> u32 {
        self.tokens.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_dry_and_refills_with_successes() {
        let bucket = Bucket::new(&RetryBudget::standard().with_capacity(12));
        assert!(bucket.try_take(5));
        assert!(bucket.try_take(5));
        assert_eq!(bucket.tokens(), 2);
        // Not enough for another: nothing is taken.
        assert!(!bucket.try_take(5));
        assert_eq!(bucket.tokens(), 2);
        // Three first-attempt successes add one each.
        for _ in 0..3 {
            bucket.succeeded(0);
        }
        assert!(bucket.try_take(5));
        assert_eq!(bucket.tokens(), 0);
    }

    #[test]
    fn a_success_after_retries_returns_what_they_took_up_to_capacity() {
        let bucket = Bucket::new(&RetryBudget::standard().with_capacity(20));
        assert!(bucket.try_take(10));
        bucket.succeeded(10);
        assert_eq!(bucket.tokens(), 20);
        bucket.succeeded(10);
        bucket.succeeded(0);
        assert_eq!(bucket.tokens(), 20, "never above capacity");
    }

    #[test]
    fn is_shared_between_threads_without_losing_tokens() {
        let bucket = std::sync::Arc::new(Bucket::new(&RetryBudget::standard()));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let bucket = bucket.clone();
                std::thread::spawn(move || (0..100).filter(|_| bucket.try_take(1)).count())
            })
            .collect();
        let taken: usize = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
        assert_eq!(taken, 400);
        assert_eq!(bucket.tokens(), 100);
    }
}
