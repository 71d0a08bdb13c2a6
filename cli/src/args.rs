//! The command line: global options, commands and their arguments.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use fingerprint_server_sdk::Region;

use crate::params::{ForExport, ForFollow, ForSearch, Given};
use crate::timespec;

/// Inspect, update and export Fingerprint identification events from a terminal.
#[derive(Parser, Debug)]
#[command(
    name = "fingerprint",
    version,
    propagate_version = true,
    after_help = "Exit codes: 0 ok, 1 invalid or not found, 2 usage, 3 API refused, \
                  4 gave up (retries, network, timeout), 5 output not written (disk full, \
                  permission denied), 130 interrupted.\n\
                  Try it without an account: fingerprint --demo events search --max 5"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Args, Debug)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Secret API key of the workspace (never printed)
    #[arg(
        long,
        global = true,
        env = "FINGERPRINT_SECRET_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<Secret>,

    /// Region of the workspace: global (or us), eu, ap (or asia) [default: global]
    #[arg(
        long,
        global = true,
        env = "FINGERPRINT_REGION",
        hide_env_values = true,
        value_parser = parse_region
    )]
    pub region: Option<Region>,

    /// Send requests to this base URL instead of the region's (a proxy, `fingerprint mock serve`)
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,

    /// Use an embedded fake API seeded with sample events: no key, no network, changes are not kept
    #[arg(long, global = true)]
    pub demo: bool,

    /// How many times to retry a failed call (429, 5xx, network errors) [default: 2]
    #[arg(long, global = true, value_name = "N")]
    pub retries: Option<u32>,

    /// Give up on one call after this long, retries included: 30s, 2m, 1500ms [default: 90s]
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Trace requests on stderr (method, path, status, retries, timings)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

/// A secret given on the command line or in the environment. Its `Debug`
/// never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

fn parse_region(s: &str) -> Result<Region, String> {
    s.parse::<Region>()
        .map_err(|_| "expected global (or us), eu, or ap (or asia)".to_owned())
}

/// `90`, `90s`, `1500ms`, `2m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 30s, 2m, 1500ms)"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit {other:?}: use ms, s, m or h")),
    };
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 86_400.0 * 7.0 {
        return Err("the duration must be positive and at most a week".to_owned());
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Get, search, follow, export and update identification events
    #[command(subcommand)]
    Events(Box<EventsCommand>),
    /// Delete the data of a visitor, or of a list of visitors within the quota
    #[command(subcommand)]
    Visitors(VisitorsCommand),
    /// Verify or sign webhook bodies, or forward new events to a local webhook endpoint
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Decrypt a sealed client result and print the event it holds
    Unseal(UnsealArgs),
    /// Run the fake Server API as a local server for testing integrations
    #[command(subcommand)]
    Mock(MockCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one page per command to a directory
    Manpage(ManpageArgs),
}

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Print one event as JSON
    Get(GetArgs),
    /// Search events with the API's filters and print them as a table, JSON, JSON lines or CSV
    Search(SearchArgs),
    /// Export every matching event to a JSON lines file, resumable after an interruption
    Export(ExportArgs),
    /// Set an event's linked id, tags or suspect flag
    Update(UpdateArgs),
    /// Print new events as they happen, until Ctrl-C or --max-events
    Tail(TailArgs),
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// The event id (`event_id`, also called request id)
    pub event_id: String,
    /// Evaluate this ruleset and include its action in the event
    #[arg(long, value_name = "ID")]
    pub ruleset: Option<String>,
    /// One line of JSON instead of indented JSON
    #[arg(long)]
    pub compact: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A JSON array, indented
    Json,
    /// One compact JSON event per line
    Jsonl,
    /// Comma-separated values with a header row (see --fields); a text cell
    /// that starts with = + - @, a tab or a carriage return gets a leading '
    /// so that spreadsheets do not run it as a formula
    Csv,
    /// Aligned columns for people, fitted to the terminal's width: event id,
    /// time, visitor, browser/OS, IP and country, bot, suspect score, flags set
    Table,
}

/// The formats that print one event at a time, for output without an end.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LineFormat {
    /// One compact JSON event per line
    Jsonl,
    /// Comma-separated values with a header row (formula-safe, as for search)
    Csv,
    /// Aligned columns fitted to the terminal's width
    Table,
}

impl From<LineFormat> for Format {
    fn from(format: LineFormat) -> Self {
        match format {
            LineFormat::Jsonl => Self::Jsonl,
            LineFormat::Csv => Self::Csv,
            LineFormat::Table => Self::Table,
        }
    }
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Follow the pages to the end of the results
    #[arg(long)]
    pub all: bool,
    /// Stop after this many events (follows pages as needed)
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
    /// Output format [default: table on a terminal, json otherwise or with --fields]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Only these fields, comma-separated, nested with dots: event_id,identification.visitor_id
    #[arg(long, value_name = "A,B.C", value_delimiter = ',')]
    pub fields: Vec<String>,
    /// The search's parameters: filters, time window, order, paging.
    #[command(flatten)]
    pub query: Given<ForSearch>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The JSON lines file to write
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Continue an interrupted export of FILE from its checkpoint (FILE.checkpoint)
    #[arg(long)]
    pub resume: bool,
    /// Overwrite FILE (and drop its checkpoint) when it exists
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Stop after this many events
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
    /// Only these fields, comma-separated, nested with dots
    #[arg(long, value_name = "A,B.C", value_delimiter = ',')]
    pub fields: Vec<String>,
    /// Nothing on stderr but errors (no progress bar, no summary)
    #[arg(long, short)]
    pub quiet: bool,
    /// The search's parameters: filters, time window, order, page size.
    #[command(flatten)]
    pub query: Given<ForExport>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The event id
    pub event_id: String,
    /// Set the event's linked id
    #[arg(long, value_name = "ID")]
    pub linked_id: Option<String>,
    /// Set a tag (repeatable); the tags given replace the event's tags
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
    /// Mark the event as suspect, or not
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub suspect: Option<bool>,
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err("expected KEY=VALUE with a non-empty key".to_owned()),
    }
}

#[derive(Subcommand, Debug)]
pub enum VisitorsCommand {
    /// Delete everything stored about a visitor, or about every visitor in a list (asks first unless --yes)
    #[command(
        after_help = "With --from-file, requests are paced so that at most --per-hour of them \
        go out in any hour and --per-day in any 24 hours (the API's documented delete quota is 30 an \
        hour and 500 a day). Each request and its outcome are appended to the journal (synced to disk \
        entry by entry), and the quota counts the journal's requests too: run the same command again \
        after an interruption and the visitors already deleted (or not found) are skipped. A visitor \
        whose request was under way when the run stopped is sent again (deleting twice is harmless). \
        An HTTP 429 is answered by waiting as long as Retry-After says, then trying the same visitor \
        again. The run ends with a summary (deleted, not found, failed) and exits 1 when any \
        deletion failed."
    )]
    Delete(DeleteArgs),
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The visitor id
    #[arg(required_unless_present = "from_file", conflicts_with = "from_file")]
    pub visitor_id: Option<String>,
    /// Delete every visitor listed in FILE, one id a line (- for stdin; blank lines and # comments skipped)
    #[arg(long, value_name = "FILE|-")]
    pub from_file: Option<String>,
    /// Where --from-file records its progress [default: FILE.journal; required with -]
    #[arg(
        long,
        value_name = "JOURNAL",
        requires = "from_file",
        conflicts_with = "visitor_id"
    )]
    pub journal: Option<PathBuf>,
    /// With --from-file: delete requests allowed in any hour [default: 30, the API's quota]
    #[arg(
        long,
        value_name = "N",
        requires = "from_file",
        conflicts_with = "visitor_id",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub per_hour: Option<u32>,
    /// With --from-file: delete requests allowed in any 24 hours [default: 500, the API's quota]
    #[arg(
        long,
        value_name = "N",
        requires = "from_file",
        conflicts_with = "visitor_id",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub per_day: Option<u32>,
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Check a webhook body against its signature header (exit 0 valid, 1 not)
    Verify(VerifyArgs),
    /// Print the signature header Fingerprint would send with a body
    Sign(SignArgs),
    /// Forward new events to a local webhook endpoint, signed as Fingerprint signs webhooks
    #[command(
        after_help = "Events are found by searching the API (oldest first, from the last \
        event seen), not pushed by Fingerprint: each one is POSTed once, in order, with the event \
        JSON as the body, Content-Type: application/json and an fpjs-event-signature header made \
        with the secret. A receiver that answers other than 2xx, or cannot be reached, is tried \
        3 more times (after 1s, 2s and 4s); then the event is reported on stderr and skipped. \
        Each delivery attempt is one line on stderr: time, event id, the receiver's status and \
        the time it took. Searches go out at most once a second and every --interval when \
        nothing is new; a 429 or a failed search is retried with a growing pause. Stop with \
        Ctrl-C (exit 0) or --max-events."
    )]
    Listen(Box<ListenArgs>),
}

#[derive(Args, Debug)]
pub struct ListenArgs {
    /// The URL to POST each event to, e.g. http://localhost:3000/webhook
    #[arg(long, value_name = "URL", value_parser = parse_http_url)]
    pub forward_to: ForwardUrl,
    /// The webhook secret to sign with (never printed; the environment variable keeps it out of the process list)
    #[arg(
        long,
        env = "FINGERPRINT_WEBHOOK_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub secret: Secret,
    #[command(flatten)]
    pub follow: FollowArgs,
}

/// Where `webhook listen` sends events. Shown (in `Debug` and on stderr)
/// without the password it may hold.
#[derive(Clone)]
pub struct ForwardUrl(pub reqwest::Url);

impl fmt::Display for ForwardUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        write!(f, "{shown}")
    }
}

impl fmt::Debug for ForwardUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ForwardUrl({self})")
    }
}

/// An absolute `http` or `https` URL.
fn parse_http_url(s: &str) -> Result<ForwardUrl, String> {
    let url = reqwest::Url::parse(s.trim()).map_err(|e| format!("not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(ForwardUrl(url)),
        _ => Err("expected an http:// or https:// URL with a host".to_owned()),
    }
}

#[derive(Args, Debug)]
pub struct TailArgs {
    /// Output format [default: table on a terminal, jsonl otherwise]
    #[arg(long, value_enum)]
    pub format: Option<LineFormat>,
    #[command(flatten)]
    pub follow: FollowArgs,
}

/// What `events tail` and `webhook listen` share: where to start, when to
/// stop, how often to look, and which events.
#[derive(Args, Debug)]
pub struct FollowArgs {
    /// Start with the events from this time: RFC 3339, Unix ms, or ago (7d, 12h, 30m) [default: now]
    #[arg(long, value_name = "TIME", value_parser = timespec::check)]
    pub since: Option<String>,
    /// Stop after this many events
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_events: Option<u64>,
    /// How long to wait between searches when nothing is new (at least 1s)
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_interval)]
    pub interval: Duration,
    /// The search's filters (following sets the window, order and paging).
    #[command(flatten)]
    pub filters: Given<ForFollow>,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let interval = parse_duration(s)?;
    if interval < Duration::from_secs(1) {
        return Err("at least 1s: every search counts against the API's rate limit".to_owned());
    }
    Ok(interval)
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Name of the environment variable holding the webhook secret
    #[arg(long, value_name = "VAR")]
    pub secret_env: String,
    /// The value of the `fpjs-event-signature` header (e.g. v1=ab12...)
    #[arg(long, value_name = "HEADER")]
    pub signature: String,
    /// The body exactly as received: a file, or - for stdin
    #[arg(default_value = "-", value_name = "FILE|-")]
    pub input: String,
}

#[derive(Args, Debug)]
pub struct SignArgs {
    /// Name of the environment variable holding the webhook secret
    #[arg(long, value_name = "VAR")]
    pub secret_env: String,
    /// The body: a file, or - for stdin
    #[arg(default_value = "-", value_name = "FILE|-")]
    pub input: String,
}

// At least one key, given with `--key` or `--key-env` (both may repeat).
#[derive(Args, Debug)]
#[command(group(
    clap::ArgGroup::new("decryption_keys")
        .args(["keys", "key_envs"])
        .multiple(true)
        .required(true)
))]
pub struct UnsealArgs {
    /// A decryption key from the dashboard, base64 (repeatable: tried in order)
    #[arg(long = "key", value_name = "B64")]
    pub keys: Vec<Secret>,
    /// Environment variable holding a decryption key, base64 (repeatable: tried after --key)
    #[arg(long = "key-env", value_name = "VAR")]
    pub key_envs: Vec<String>,
    /// The sealed result, raw bytes or base64 text: a file, or - for stdin
    #[arg(default_value = "-", value_name = "FILE|-")]
    pub input: String,
    /// One line of JSON instead of indented JSON
    #[arg(long)]
    pub compact: bool,
}

#[derive(Subcommand, Debug)]
pub enum MockCommand {
    /// Serve the fake API on 127.0.0.1 until Ctrl-C
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManpageArgs {
    /// Write fingerprint.1 and one page per command (fingerprint-events-search.1, ...) into DIR
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Port to listen on (0: any free port)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Load these events (one JSON event per line) instead of the sample events
    #[arg(long, value_name = "FILE.jsonl")]
    pub seed: Option<PathBuf>,
    /// How many sample events to load when there is no --seed
    #[arg(long, value_name = "N", default_value_t = 300)]
    pub samples: usize,
    /// The secret API key the fake accepts
    #[arg(long, value_name = "KEY", default_value = fingerprint_server_sdk::mock::DEFAULT_KEY)]
    pub key: String,
    /// Load a ruleset for `events get --ruleset ID` from a JSON file (repeatable):
    /// {"id": "rs_1", "rules": [{"when": "bot=bad", "action": {"type": "block", "status_code": 403}}]}
    #[arg(long, value_name = "FILE.json")]
    pub ruleset: Vec<PathBuf>,
    /// Fail the next N requests, in the order given (repeatable): [OPERATION:]N:FAULT, where
    /// OPERATION is get, search, update, delete or edge and FAULT is an HTTP status (429, 409,
    /// 500, 503...), retry-after=SECONDS (a 429), html=STATUS (a gateway's HTML page), close, reset,
    /// cut=BYTES or delay=DURATION. E.g. 3:429, search:1:html=502, update:2:409
    #[arg(long, value_name = "SPEC")]
    pub fail_next: Vec<String>,
    /// Answer every request this much later: 500ms, 2s
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub delay: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn tags() {
        assert_eq!(parse_tag("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_tag("a="), Ok(("a".into(), String::new())));
        assert!(parse_tag("=b").is_err());
        assert!(parse_tag("ab").is_err());
    }

    #[test]
    fn unseal_takes_keys_from_flags_and_the_environment() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["fingerprint", "unseal"].iter().chain(args)).map(|cli| {
                match cli.command {
                    Command::Unseal(args) => (args.keys.len(), args.key_envs),
                    other => panic!("{other:?}"),
                }
            })
        };
        assert!(parse(&[]).is_err(), "a key is required");
        assert_eq!(parse(&["--key", "k"]).ok(), Some((1, vec![])));
        assert_eq!(
            parse(&["--key-env", "A", "--key", "k", "--key-env", "B"]).ok(),
            Some((1, vec!["A".to_owned(), "B".to_owned()]))
        );
    }

    #[test]
    fn search_commands_take_the_search_parameters() {
        use fingerprint_server_sdk::search::{self, Role};
        let filter = search::PARAMETERS
            .iter()
            .find(|p| p.role == Role::Filter && p.values().len() > 1)
            .unwrap_or_else(|| panic!("an enum filter"));
        let flag = crate::params::flag(filter.name);
        let value = filter.values()[1];
        let given = |args: &[&str]| {
            Cli::try_parse_from(["fingerprint"].iter().chain(args)).map(|cli| match cli.command {
                Command::Events(events) => match *events {
                    EventsCommand::Search(search) => search.query.values,
                    EventsCommand::Export(export) => export.query.values,
                    EventsCommand::Tail(tail) => tail.follow.filters.values,
                    other => panic!("{other:?}"),
                },
                Command::Webhook(WebhookCommand::Listen(listen)) => listen.follow.filters.values,
                other => panic!("{other:?}"),
            })
        };
        for command in [
            &["events", "search"][..],
            &["events", "export", "--out", "f"],
            &["events", "tail"],
            &[
                "webhook",
                "listen",
                "--forward-to",
                "http://h/",
                "--secret",
                "s",
            ],
        ] {
            let mut args = command.to_vec();
            args.extend([flag.as_str(), value]);
            let values = given(&args).unwrap_or_else(|e| panic!("{command:?}: {e}"));
            assert_eq!(
                values.get(filter.name),
                Some(&vec![value.to_owned()]),
                "{command:?}"
            );
        }
    }

    #[test]
    fn bulk_delete_flags_need_the_list() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["fingerprint", "visitors", "delete"].iter().chain(args))
        };
        assert!(parse(&["vis1"]).is_ok());
        assert!(parse(&["--from-file", "list.txt", "--per-hour", "10"]).is_ok());
        assert!(parse(&[]).is_err(), "an id or a list");
        assert!(parse(&["vis1", "--from-file", "list.txt"]).is_err());
        assert!(parse(&["vis1", "--per-hour", "10"]).is_err());
        assert!(parse(&["vis1", "--journal", "j"]).is_err());
        assert!(parse(&["--from-file", "l", "--per-day", "0"]).is_err());
    }

    #[test]
    fn the_webhook_secret_is_not_in_debug_output() {
        let cli = Cli::try_parse_from([
            "fingerprint",
            "webhook",
            "listen",
            "--forward-to",
            "http://dev:hunter2pass@localhost:3000/hook",
            "--secret",
            "whsec_very_secret",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{cli:?}");
        assert!(
            shown.contains("ForwardUrl(http://dev:***@localhost:3000/hook)"),
            "{shown}"
        );
        assert!(!shown.contains("very_secret"), "{shown}");
        assert!(!shown.contains("hunter2pass"), "{shown}");
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let cli = Cli::try_parse_from([
            "fingerprint",
            "--api-key",
            "sk_live_very_secret",
            "events",
            "get",
            "x",
        ])
        .expect("parses");
        let shown = format!("{cli:?}");
        assert!(!shown.contains("very_secret"), "{shown}");
    }
}
