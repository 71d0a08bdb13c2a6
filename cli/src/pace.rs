//! Pacing requests to a quota of "at most N in any hour and M in any day",
//! as a pure unit: it is told when requests went out and asked how long to
//! wait before the next one, with the time passed in (so tests need no
//! clock).
//!
//! The windows slide: at most `per_hour` requests in any 60 minutes, which
//! also keeps within a quota counted per clock hour (each clock hour is one
//! such window). Requests may go out back to back until a window is full;
//! then the next waits until the oldest request in that window leaves it.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The requests allowed per window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub per_hour: u32,
    pub per_day: u32,
}

/// The window that makes a request wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    Hour,
    Day,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hour => "hourly",
            Self::Day => "daily",
        })
    }
}

/// The times of past requests, and the quota they count against.
#[derive(Clone, Debug)]
pub struct Pacer {
    quota: Quota,
    /// Unix milliseconds of the requests of the last day (and any in the
    /// future of the clock, which count as recent), oldest first.
    sent: VecDeque<i64>,
}

impl Pacer {
    pub fn new(quota: Quota) -> Self {
        Self {
            quota,
            sent: VecDeque::new(),
        }
    }

    /// A request went out at `at_ms` (now, or read back from a journal).
    pub fn record(&mut self, at_ms: i64) {
        let place = self.sent.partition_point(|&t| t <= at_ms);
        self.sent.insert(place, at_ms);
    }

    /// How long to wait, from `now_ms`, before the next request keeps
    /// within the quota, and which window asks for it; `None`: send now.
    pub fn wait(&mut self, now_ms: i64) -> Option<(Duration, Window)> {
        // Requests older than a day count for nothing any more.
        while self.sent.front().is_some_and(|&t| t <= now_ms - DAY_MS) {
            self.sent.pop_front();
        }
        [
            (Window::Hour, HOUR_MS, self.quota.per_hour),
            (Window::Day, DAY_MS, self.quota.per_day),
        ]
        .into_iter()
        .filter_map(|(window, length, limit)| {
            let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
            let start = self.sent.partition_point(|&t| t <= now_ms - length);
            let inside = self.sent.len() - start;
            if inside < limit {
                return None;
            }
            // The next request may go when so many have left the window
            // that it holds limit - 1: when the (inside - limit + 1)-th
            // oldest leaves it.
            let leaving = self.sent[start + (inside - limit)];
            let wait_ms = leaving + length - now_ms;
            Some((Duration::from_millis(wait_ms.max(1) as u64), window))
        })
        .max_by_key(|(wait, _)| *wait)
    }
}

/// How long sending `count` more requests takes from `now_ms`, each as soon
/// as the quota allows (the requests themselves taking no time): an
/// estimate to show before a long run.
pub fn time_needed(pacer: &Pacer, now_ms: i64, count: usize) -> Duration {
    let mut pacer = pacer.clone();
    let mut at = now_ms;
    for _ in 0..count {
        if let Some((wait, _)) = pacer.wait(at) {
            at = at.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        }
        pacer.record(at);
    }
    Duration::from_millis(u64::try_from(at - now_ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_717_243_200_000;
    const MIN: i64 = 60_000;

    fn pacer(per_hour: u32, per_day: u32) -> Pacer {
        Pacer::new(Quota { per_hour, per_day })
    }

    /// Sends `count` requests as soon as allowed from `start`; returns when
    /// each went out.
    fn run(pacer: &mut Pacer, start: i64, count: usize) -> Vec<i64> {
        let mut now = start;
        let mut times = Vec::new();
        for _ in 0..count {
            if let Some((wait, _)) = pacer.wait(now) {
                now += wait.as_millis() as i64;
            }
            assert_eq!(pacer.wait(now), None, "may send after waiting");
            pacer.record(now);
            times.push(now);
        }
        times
    }

    /// At most `limit` of `times` in any window of `length` ms.
    fn within(times: &[i64], length: i64, limit: usize) -> bool {
        times
            .iter()
            .all(|&t| times.iter().filter(|&&u| u >= t && u < t + length).count() <= limit)
    }

    #[test]
    fn sends_at_once_until_the_hour_is_full() {
        let mut p = pacer(30, 500);
        for i in 0..30 {
            assert_eq!(p.wait(T0 + i), None);
            p.record(T0 + i);
        }
        // The 31st waits until the first request is an hour old.
        assert_eq!(
            p.wait(T0 + 30),
            Some((Duration::from_millis((HOUR_MS - 30) as u64), Window::Hour))
        );
        assert_eq!(p.wait(T0 + HOUR_MS), None);
    }

    #[test]
    fn the_documented_quota_holds_over_two_days() {
        let mut p = pacer(30, 500);
        let times = run(&mut p, T0, 1_100);
        assert!(within(&times, HOUR_MS, 30));
        assert!(within(&times, DAY_MS, 500));
        // And it is used: 500 in the first day, the rest after.
        assert_eq!(times.iter().filter(|&&t| t < T0 + DAY_MS).count(), 500);
        assert_eq!(
            times.iter().filter(|&&t| t < T0 + 2 * DAY_MS).count(),
            1_000
        );
    }

    #[test]
    fn the_daily_quota_can_be_the_one_that_waits() {
        let mut p = pacer(10, 15);
        let times = run(&mut p, T0, 16);
        // 10 at once, 5 an hour later, the 16th a day after the first.
        assert_eq!(times[9], T0);
        assert_eq!(times[10], T0 + HOUR_MS);
        assert_eq!(times[15], T0 + DAY_MS);
        let mut p = pacer(10, 15);
        for t in &times[..15] {
            p.record(*t);
        }
        let (_, window) = p.wait(T0 + HOUR_MS + 1).expect("a wait");
        assert_eq!(window, Window::Day);
    }

    #[test]
    fn past_requests_from_a_journal_count() {
        // An interrupted run sent 30 in the last 40 minutes.
        let mut p = pacer(30, 500);
        for i in 0..30 {
            p.record(T0 - 40 * MIN + i * MIN);
        }
        let (wait, window) = p.wait(T0).expect("a wait");
        assert_eq!(window, Window::Hour);
        assert_eq!(wait, Duration::from_millis((20 * MIN) as u64));
        // Recorded out of order, the same answer.
        let mut q = pacer(30, 500);
        for i in (0..30).rev() {
            q.record(T0 - 40 * MIN + i * MIN);
        }
        assert_eq!(q.wait(T0), Some((wait, window)));
        // A day later none of them counts.
        assert_eq!(p.wait(T0 + DAY_MS), None);
    }

    #[test]
    fn requests_stamped_in_the_future_still_count() {
        let mut p = pacer(1, 500);
        p.record(T0 + 10 * MIN);
        let (wait, _) = p.wait(T0).expect("a wait");
        assert_eq!(wait, Duration::from_millis((70 * MIN) as u64));
    }

    #[test]
    fn the_time_a_run_needs() {
        let p = pacer(30, 500);
        assert_eq!(time_needed(&p, T0, 0), Duration::ZERO);
        assert_eq!(time_needed(&p, T0, 30), Duration::ZERO);
        assert_eq!(time_needed(&p, T0, 31), Duration::from_secs(3600));
        assert_eq!(time_needed(&p, T0, 500), Duration::from_secs(16 * 3600));
        assert_eq!(time_needed(&p, T0, 501), Duration::from_secs(24 * 3600));
    }

    #[test]
    fn a_quota_of_one_spaces_requests_an_hour_apart() {
        let mut p = pacer(1, 500);
        let times = run(&mut p, T0, 3);
        assert_eq!(times, [T0, T0 + HOUR_MS, T0 + 2 * HOUR_MS]);
    }
}
