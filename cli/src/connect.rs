//! The client every API command uses: the real API (key, region or base
//! URL), or with `--demo` an embedded fake seeded with sample events.

use std::time::Duration;

use fingerprint_server_sdk::mock::{self, FakeApi};
use fingerprint_server_sdk::{Client, Error, RetryPolicy};
use serde_json::{Value, json};

use crate::args::Global;
use crate::clock::Clock;
use crate::failure::{Failure, Result, Target};

/// How many sample events `--demo` starts with.
pub const DEMO_EVENTS: usize = 300;

/// A client and where it points.
pub struct Connection {
    pub client: Client,
    pub target: Target,
    /// Kept alive for the command's duration with `--demo`.
    fake: Option<FakeApi>,
}

impl Connection {
    /// The failure for an SDK error, with hints for this target.
    pub fn failure(&self, context: &str, error: &Error) -> Failure {
        Failure::api(context, error, &self.target)
    }

    /// With `--demo`, a new sample event every couple of seconds, forever
    /// (so `events tail` and `webhook listen` have something to show);
    /// otherwise never returns.
    pub async fn feed_demo(&self) {
        let Some(fake) = &self.fake else {
            return std::future::pending().await;
        };
        let clock = Clock::system();
        for n in 0u64.. {
            clock.sleep(DEMO_EVERY).await;
            // Best effort: a refused event only means one less to show.
            let _ = fake.insert_json(live_sample(n, clock.now_ms()));
        }
    }
}

/// How often `--demo` adds an event while a command follows new ones.
const DEMO_EVERY: Duration = Duration::from_secs(2);

/// The `n`-th live demo event: one of the samples, happening at `now_ms`.
fn live_sample(n: u64, now_ms: i64) -> Value {
    const KINDS: usize = 24;
    let index = usize::try_from(n).unwrap_or(0) % KINDS;
    let mut event = mock::sample_events(KINDS, now_ms)
        .into_iter()
        .nth(index)
        .unwrap_or_else(|| json!({}));
    event["timestamp"] = json!(now_ms);
    event["event_id"] = json!(format!("{now_ms}.live{:04}", n % 10_000));
    event
}

pub async fn connect(global: &Global) -> Result<Connection> {
    connect_with(global, None).await
}

/// [`connect`], with this retry policy instead of the one `--retries` sets
/// (bulk deletion retries on its own, as every attempt counts against the
/// delete quota).
pub async fn connect_with(global: &Global, retry: Option<RetryPolicy>) -> Result<Connection> {
    let region = global.region.unwrap_or_default();
    let target = Target {
        region,
        base_url_set: global.base_url.is_some(),
    };
    let (builder, fake) = if global.demo {
        if global.base_url.is_some() {
            return Err(Failure::usage(
                "--demo and --base-url cannot be used together",
            ));
        }
        let fake = FakeApi::start().await.map_err(|e| {
            Failure::new(
                crate::failure::exit::GAVE_UP,
                format!("the demo API could not start: {e}"),
            )
        })?;
        // Seeded before the first request is sent.
        seed_samples(&fake, DEMO_EVENTS)?;
        (fake.client_builder(), Some(fake))
    } else {
        let Some(key) = global
            .api_key
            .as_ref()
            .filter(|k| !k.expose().trim().is_empty())
        else {
            return Err(Failure::usage("no secret API key")
                .with_hint("pass --api-key or set FINGERPRINT_SECRET_API_KEY; or try --demo"));
        };
        let mut builder = Client::builder(key.expose()).region(region);
        if let Some(url) = &global.base_url {
            builder = builder.base_url(url.clone());
        }
        (builder, None)
    };
    let retry = retry.unwrap_or_else(|| match global.retries {
        None => RetryPolicy::standard(),
        Some(retries) => RetryPolicy::standard().with_max_attempts(retries.saturating_add(1)),
    });
    let mut builder = builder
        .retry(retry)
        .user_agent_suffix(concat!("fingerprint-cli/", env!("CARGO_PKG_VERSION")));
    if let Some(timeout) = global.timeout {
        builder = builder.timeout(timeout);
    }
    // Only settings can fail here (key, base URL): a usage error.
    let client = builder.build().map_err(|e| Failure::usage(e.to_string()))?;
    Ok(Connection {
        client,
        target,
        fake,
    })
}

/// Stores `count` sample events in the fake, all at once, and returns how
/// many. Their times (and so their ids) are anchored to the start of the
/// current UTC day, so the ids stay the same from one command to the next
/// during a day: `events search` then `events get <id>` works across two
/// `--demo` runs.
pub fn seed_samples(fake: &FakeApi, count: usize) -> Result<usize> {
    const DAY_MS: i64 = 86_400_000;
    let anchor = mock::now_ms().div_euclid(DAY_MS) * DAY_MS;
    fake.insert_many(mock::sample_events(count, anchor))
        .map_err(|e| Failure::new(crate::failure::exit::GAVE_UP, format!("demo data: {e}")))
}
