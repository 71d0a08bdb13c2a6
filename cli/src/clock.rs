//! Time for the commands that wait (quota pacing, polling, retries): the
//! wall clock and sleeps, through one [`Clock`] so tests can run them
//! faster, and the test hooks read from the environment.
//!
//! The hooks exist only in debug builds (what `cargo test` runs) and in
//! builds with the `test-hooks` feature; a release build (`cargo install`)
//! ignores the variables.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// Test hook: run the clock this many times faster (a number > 0), or
/// `virtual`: a clock that only moves when the command waits, and then at
/// once (so that an hour of quota pacing passes in no time, exactly).
pub const TIME_SCALE_ENV: &str = "FINGERPRINT_TEST_TIME_SCALE";

/// Test hook: after this many checkpointed pages, an export writes the
/// next page's events and exits at once, before its checkpoint, as a crash
/// would.
pub const STOP_AFTER_PAGES_ENV: &str = "FINGERPRINT_EXPORT_STOP_AFTER_PAGES";

#[cfg(any(debug_assertions, feature = "test-hooks"))]
fn hook(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(not(any(debug_assertions, feature = "test-hooks")))]
fn hook(_name: &str) -> Option<String> {
    None
}

/// The export crash hook's page count, if set.
pub fn export_stop_after_pages() -> Option<u64> {
    hook(STOP_AFTER_PAGES_ENV).and_then(|v| v.trim().parse().ok())
}

/// The wall clock in Unix milliseconds, and sleeps, possibly sped up.
#[derive(Clone, Debug)]
pub struct Clock(Kind);

#[derive(Clone, Debug)]
enum Kind {
    Real {
        scale: f64,
        origin: Instant,
        origin_ms: i64,
    },
    /// Moves by the sleeps only (test hook).
    Virtual(Arc<AtomicI64>),
}

impl Clock {
    /// The real clock (sped up, or virtual, only by the test hook).
    pub fn system() -> Self {
        let origin_ms = chrono::Utc::now().timestamp_millis();
        let hook = hook(TIME_SCALE_ENV);
        if hook.as_deref().map(str::trim) == Some("virtual") {
            return Self(Kind::Virtual(Arc::new(AtomicI64::new(origin_ms))));
        }
        let scale = hook
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(1.0);
        Self(Kind::Real {
            scale,
            origin: Instant::now(),
            origin_ms,
        })
    }

    /// Unix milliseconds now: the wall clock at start plus the (scaled)
    /// monotonic time since, so a clock change does not make pacing jump.
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            Kind::Real {
                scale,
                origin,
                origin_ms,
            } => {
                let elapsed = origin.elapsed().as_secs_f64() * scale * 1000.0;
                origin_ms.saturating_add(elapsed as i64)
            }
            Kind::Virtual(now) => now.load(Ordering::SeqCst),
        }
    }

    /// Waits `duration` of this clock's time.
    pub async fn sleep(&self, duration: Duration) {
        match &self.0 {
            Kind::Real { scale, .. } => tokio::time::sleep(duration.div_f64(*scale)).await,
            Kind::Virtual(now) => {
                let ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
                now.fetch_add(ms, Ordering::SeqCst);
                // Let the rest of the program run, as a real wait would.
                tokio::task::yield_now().await;
            }
        }
    }
}

/// A duration for people: `45s`, `12m 5s`, `3h 20m`, `0.4s`.
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs == 0 {
        return format!("{:.1}s", duration.as_secs_f64());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_people() {
        assert_eq!(human(Duration::from_millis(400)), "0.4s");
        assert_eq!(human(Duration::from_secs(45)), "45s");
        assert_eq!(human(Duration::from_secs(120)), "2m");
        assert_eq!(human(Duration::from_secs(725)), "12m 5s");
        assert_eq!(human(Duration::from_secs(3600)), "1h");
        assert_eq!(human(Duration::from_secs(12_030)), "3h 20m");
    }

    #[test]
    fn the_clock_moves_forward() {
        let clock = Clock::system();
        let a = clock.now_ms();
        let b = clock.now_ms();
        assert!(b >= a);
    }
}
