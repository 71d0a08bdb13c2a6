//! Streams every event of one visitor in a time range, page after page, and
//! prints a summary: bot verdicts, browsers, countries, first and last seen,
//! how many are marked suspect.
//!
//! ```text
//! cargo run --example search_all                                  # embedded fake API, sample data
//! FINGERPRINT_SECRET_API_KEY=... cargo run --example search_all -- <visitor id> [start] [end]
//! ```
//!
//! With `FINGERPRINT_SECRET_API_KEY` set (and `FINGERPRINT_REGION` if the
//! workspace is not in the global region) it reads from the real API. The
//! visitor id is the first argument or `FINGERPRINT_VISITOR_ID`; the range is
//! given by the next two arguments or `FINGERPRINT_START` / `FINGERPRINT_END`,
//! each an RFC 3339 time (`2025-03-01T12:00:00Z`), a date (`2025-03-01`,
//! midnight UTC), Unix milliseconds or an age such as `36h` or `3d`. The
//! default is the last 7 days.
//!
//! Without a key it starts the crate's fake API on 127.0.0.1, fills it with
//! sample events and summarises one of the sample visitors.

use std::collections::BTreeMap;
use std::process::ExitCode;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use fingerprint_server_sdk::mock::FakeApi;
use fingerprint_server_sdk::{Client, types};

const DEFAULT_DAYS: i64 = 7;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("{message}\n\nusage: search_all [visitor id] [start] [end]");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Usage(String),
    Other(Box<dyn std::error::Error>),
}

impl<E: std::error::Error + 'static> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::Other(Box::new(e))
    }
}

async fn run() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg_or_env = |index: usize, var: &str| {
        args.get(index)
            .cloned()
            .or_else(|| std::env::var(var).ok())
            .filter(|v| !v.trim().is_empty())
    };
    let now = Utc::now();
    let start = match arg_or_env(1, "FINGERPRINT_START") {
        Some(text) => parse_time(&text, now).map_err(Failure::Usage)?,
        None => now - Duration::days(DEFAULT_DAYS),
    };
    let end = match arg_or_env(2, "FINGERPRINT_END") {
        Some(text) => parse_time(&text, now).map_err(Failure::Usage)?,
        None => now,
    };
    if start > end {
        return Err(Failure::Usage(format!(
            "the start ({}) is after the end ({})",
            show(start),
            show(end)
        )));
    }

    let live = std::env::var_os("FINGERPRINT_SECRET_API_KEY").is_some_and(|k| !k.is_empty());
    // Kept alive until the end when the fake is used.
    let fake;
    let (client, visitor, page_size) = if live {
        let visitor = arg_or_env(0, "FINGERPRINT_VISITOR_ID").ok_or_else(|| {
            Failure::Usage(
                "give the visitor id as the first argument or in FINGERPRINT_VISITOR_ID".into(),
            )
        })?;
        let client = Client::from_env()?;
        println!("Using the Server API at {}", client.base_url());
        (client, visitor, 100)
    } else {
        fake = FakeApi::start().await?;
        let stored = fake.insert_samples(88)?;
        let client = fake.client();
        let visitor = match arg_or_env(0, "FINGERPRINT_VISITOR_ID") {
            Some(visitor) => visitor,
            None => sample_visitor(&client).await?,
        };
        println!(
            "No FINGERPRINT_SECRET_API_KEY set: using the embedded fake API at {} with {stored} sample events.",
            fake.url()
        );
        // Small pages, so that the stream has several to follow.
        (client, visitor, 3)
    };

    println!(
        "Events of visitor {visitor} from {} to {}, {page_size} per page:",
        show(start),
        show(end)
    );
    let mut events = client
        .search_events()
        .visitor_id(&visitor)
        .start(start)
        .end(end)
        .limit(page_size)
        .into_stream();
    let mut summary = Summary::default();
    let mut failure = None;
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => summary.add(&event),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    summary.print(events.pages_received());

    match failure {
        None => Ok(()),
        Some(e) => {
            eprintln!("\nThe search stopped after {} events.", summary.events);
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            Err(e.into())
        }
    }
}

/// The visitor of the most recent sample event.
async fn sample_visitor(client: &Client) -> Result<String, Failure> {
    let page = client.search_events().limit(1).send().await?.into_inner();
    page.events
        .into_iter()
        .find_map(|e| e.identification.map(|i| i.visitor_id))
        .ok_or_else(|| Failure::Usage("the fake holds no event with a visitor".into()))
}

/// Reads a time: RFC 3339, a date (midnight UTC), Unix milliseconds, or an
/// age before `now` (`90m`, `36h`, `3d`, `2w`).
fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    if let Ok(ms) = text.parse::<i64>() {
        return DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| format!("{text} ms is out of range"));
    }
    let (amount, unit) = text.split_at(text.len().saturating_sub(1));
    let amount: i64 = amount.parse().map_err(|_| {
        format!(
            "cannot read the time {text:?}: use RFC 3339, YYYY-MM-DD, Unix milliseconds or an age such as 36h or 3d"
        )
    })?;
    let age = match unit {
        "m" => Duration::minutes(amount),
        "h" => Duration::hours(amount),
        "d" => Duration::days(amount),
        "w" => Duration::weeks(amount),
        _ => return Err(format!("unknown unit in {text:?}: use m, h, d or w")),
    };
    Ok(now - age)
}

fn show(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[derive(Default)]
struct Summary {
    events: u64,
    suspect: u64,
    first: Option<i64>,
    last: Option<i64>,
    bots: BTreeMap<String, u64>,
    browsers: BTreeMap<String, u64>,
    countries: BTreeMap<String, u64>,
}

impl Summary {
    fn add(&mut self, event: &types::Event) {
        self.events += 1;
        if event.suspect == Some(true) {
            self.suspect += 1;
        }
        self.first = Some(
            self.first
                .map_or(event.timestamp, |t| t.min(event.timestamp)),
        );
        self.last = Some(
            self.last
                .map_or(event.timestamp, |t| t.max(event.timestamp)),
        );

        let bot = event.bot.as_ref().map_or("unknown", |b| b.as_str());
        *self.bots.entry(bot.to_owned()).or_default() += 1;

        let browser = event.browser_details.as_ref().map_or_else(
            || "unknown".to_owned(),
            |b| format!("{} {}", b.browser_name, b.browser_major_version),
        );
        *self.browsers.entry(browser).or_default() += 1;

        *self.countries.entry(country(event)).or_default() += 1;
    }

    fn print(&self, pages: u64) {
        println!(
            "\n{} events over {pages} page{}",
            self.events,
            if pages == 1 { "" } else { "s" }
        );
        if self.events == 0 {
            println!("(nothing in this range)");
            return;
        }
        let when = |ms: Option<i64>| {
            ms.and_then(DateTime::from_timestamp_millis)
                .map_or_else(|| "-".to_owned(), show)
        };
        println!("  first seen   {}", when(self.first));
        println!("  last seen    {}", when(self.last));
        println!(
            "  suspect      {} ({:.0}%)",
            self.suspect,
            percent(self.suspect, self.events)
        );
        print_counts("bot verdict", &self.bots, self.events);
        print_counts("browser", &self.browsers, self.events);
        print_counts("country", &self.countries, self.events);
    }
}

/// The country of the event's IP address (v4, else v6), as "Name (CC)".
fn country(event: &types::Event) -> String {
    let ip = event.ip_info.as_ref();
    let geo = ip
        .and_then(|ip| ip.v4.as_ref())
        .and_then(|v4| v4.geolocation.as_ref())
        .or_else(|| {
            ip.and_then(|ip| ip.v6.as_ref())
                .and_then(|v6| v6.geolocation.as_ref())
        });
    match geo.map(|g| (g.country_name.as_deref(), g.country_code.as_deref())) {
        Some((Some(name), Some(code))) => format!("{name} ({code})"),
        Some((Some(name), None)) => name.to_owned(),
        Some((None, Some(code))) => code.to_owned(),
        _ => "unknown".to_owned(),
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Prints counts, largest first (ties by name).
fn print_counts(title: &str, counts: &BTreeMap<String, u64>, total: u64) {
    let mut rows: Vec<(&String, &u64)> = counts.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    println!("  by {title}:");
    for (name, count) in rows {
        println!(
            "    {name:<28} {count:>6}  {:>5.1}%",
            percent(*count, total)
        );
    }
}
