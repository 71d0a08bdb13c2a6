//! What the command line reports when a command fails: one line on stderr
//! and a documented exit code.

use std::fmt;
use std::io;

use fingerprint_server_sdk::types::ErrorCode;
use fingerprint_server_sdk::{Error, Region};

/// The exit codes, as documented in `--help` and the README.
pub mod exit {
    /// Done.
    pub const OK: u8 = 0;
    /// The input is invalid or the thing does not exist: event or visitor
    /// not found, a request the API found invalid, a signature that does
    /// not match, a sealed result that does not open.
    pub const INVALID: u8 = 1;
    /// The command line was wrong, or a required confirmation was missing.
    pub const USAGE: u8 = 2;
    /// The API refused the call (key, region, permissions, subscription).
    pub const REFUSED: u8 = 3;
    /// No usable answer: gave up after retries, network failure, timeout.
    pub const GAVE_UP: u8 = 4;
    /// The output could not be written: disk full, permission denied, a
    /// file that cannot be created (not the reader of stdout going away,
    /// which ends the command quietly with [`OK`]).
    pub const OUTPUT: u8 = 5;
    /// Stopped by Ctrl-C.
    pub const INTERRUPTED: u8 = 130;
}

/// A failed command: its exit code and the line to print.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    /// Nothing is printed (e.g. the reader of stdout went away).
    pub silent: bool,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            silent: false,
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(exit::USAGE, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(exit::INVALID, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// An input the command line named (a file, stdin) that cannot be
    /// read: a usage error, the name is probably wrong.
    pub fn read(what: &str, error: &io::Error) -> Self {
        Self::new(exit::USAGE, format!("{what}: {error}"))
    }

    /// The name `mock serve` (src/serve.rs) uses for [`read`](Self::read).
    pub fn io(what: &str, error: &io::Error) -> Self {
        Self::read(what, error)
    }

    /// Output (stdout, a file, a checkpoint or journal) that cannot be
    /// written. A closed stdout (`fingerprint ... | head`) ends the command
    /// quietly.
    pub fn write(what: &str, error: &io::Error) -> Self {
        if error.kind() == io::ErrorKind::BrokenPipe {
            return Self {
                code: exit::OK,
                silent: true,
                message: String::new(),
                hint: None,
            };
        }
        Self::new(exit::OUTPUT, format!("{what}: {error}"))
    }

    /// An SDK error, with the CLI's own hint when the SDK's is worded for
    /// code.
    pub fn api(context: &str, error: &Error, target: &Target) -> Self {
        let code = exit_code(error);
        let mut message = match (error.status(), error.api_error()) {
            (Some(status), Some(api)) => {
                let mut line = format!(
                    "{context}: HTTP {}: {}: {}",
                    status.as_u16(),
                    api.code,
                    api.message
                );
                if error.attempts() > 1 {
                    line.push_str(&format!(" (gave up after {} attempts)", error.attempts()));
                }
                line
            }
            // The SDK's own sentence covers everything else (transport,
            // timeout, a body that is not an API error).
            _ => {
                let text = error.to_string();
                format!(
                    "{context}: {}",
                    sdk_sentence(&text, error.operation(), error.hint())
                )
            }
        };
        message = one_line(&message);
        let hint = cli_hint(error, target).or_else(|| error.hint().map(str::to_owned));
        Self {
            code,
            silent: false,
            message,
            hint,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "; hint: {hint}")?;
        }
        Ok(())
    }
}

/// Where requests go, for hints about regions.
#[derive(Clone, Debug)]
pub struct Target {
    pub region: Region,
    pub base_url_set: bool,
}

fn exit_code(error: &Error) -> u8 {
    match error {
        Error::Config { .. } | Error::InvalidRequest { .. } => exit::USAGE,
        Error::Api { status, .. } => match status.as_u16() {
            400 | 404 | 422 => exit::INVALID,
            429 | 500..=599 => exit::GAVE_UP,
            409 if error.code() == Some(&ErrorCode::StateNotReady) => exit::GAVE_UP,
            _ => exit::REFUSED,
        },
        _ => exit::GAVE_UP,
    }
}

/// Hints in the command line's terms (flags, not builder methods).
fn cli_hint(error: &Error, target: &Target) -> Option<String> {
    match error.code()? {
        ErrorCode::WrongRegion => {
            let others: Vec<String> = other_regions(target)
                .into_iter()
                .map(|r| format!("--region {r}"))
                .collect();
            let mut hint = format!(
                "the key belongs to a workspace in another region: try {}",
                others.join(" or ")
            );
            if target.base_url_set {
                hint.push_str(" without --base-url");
            }
            Some(hint)
        }
        ErrorCode::SecretApiKeyNotFound => {
            let place = if target.base_url_set {
                "behind --base-url".to_owned()
            } else {
                format!("in region {}", target.region)
            };
            Some(format!(
                "no workspace has this secret key {place}: check the key (--api-key or \
                 FINGERPRINT_SECRET_API_KEY), that it is a secret key of the environment you \
                 mean (each environment has its own keys), and --region"
            ))
        }
        ErrorCode::SecretApiKeyRequired => {
            Some("pass --api-key or set FINGERPRINT_SECRET_API_KEY (or try --demo)".to_owned())
        }
        ErrorCode::EventNotFound => Some(
            "no event with this id in the workspace: check the id and --region \
             (a very recent event may take a few seconds to appear)"
                .to_owned(),
        ),
        ErrorCode::VisitorNotFound => {
            Some("no visitor with this id in the workspace: check the id and --region".to_owned())
        }
        _ => None,
    }
}

/// The regions to suggest after `wrong_region`: every other one, or all of
/// them when a base URL hid the region.
fn other_regions(target: &Target) -> Vec<Region> {
    Region::ALL
        .into_iter()
        .filter(|r| target.base_url_set || *r != target.region)
        .collect()
}

/// The SDK's message (`text`, its `Display`) without what the CLI says
/// itself: the leading `"<operation>: "` (the CLI's context names the
/// operation) and the trailing `"; hint: <hint>"` (the CLI prints a hint of
/// its own).
fn sdk_sentence<'t>(text: &'t str, operation: Option<&str>, hint: Option<&str>) -> &'t str {
    let mut text = text;
    if let Some(rest) = operation
        .and_then(|op| text.strip_prefix(op))
        .and_then(|rest| rest.strip_prefix(": "))
    {
        text = rest;
    }
    if let Some(hint) = hint
        && let Some(rest) = text
            .strip_suffix(hint)
            .and_then(|rest| rest.strip_suffix("; hint: "))
    {
        text = rest;
    }
    text
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(region: Region, base_url_set: bool) -> Target {
        Target {
            region,
            base_url_set,
        }
    }

    #[test]
    fn one_line_only() {
        assert_eq!(one_line("a\nb\r\n  c"), "a b c");
    }

    #[test]
    fn the_operation_and_the_sdk_hint_are_not_repeated() {
        let op = Some("get_event");
        assert_eq!(
            sdk_sentence("get_event: could not connect: x", op, None),
            "could not connect: x"
        );
        // A configuration error has no operation: kept whole.
        assert_eq!(
            sdk_sentence("client configuration: bad", None, None),
            "client configuration: bad"
        );
        // Only the error's own operation is taken off.
        assert_eq!(
            sdk_sentence("search_events: x", op, None),
            "search_events: x"
        );
        let hint = Some("retry later");
        assert_eq!(
            sdk_sentence("get_event: HTTP 429 x; hint: retry later", op, hint),
            "HTTP 429 x"
        );
        // Only the exact hint is taken off, at the very end.
        assert_eq!(
            sdk_sentence("get_event: a; hint: retry later; b", op, hint),
            "a; hint: retry later; b"
        );
        assert_eq!(
            sdk_sentence("get_event: a; hint: other", op, hint),
            "a; hint: other"
        );
    }

    #[test]
    fn broken_pipe_is_silent() {
        let f = Failure::write("stdout", &io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(f.silent);
        assert_eq!(f.code, exit::OK);
    }

    #[test]
    fn output_that_cannot_be_written_is_not_a_usage_error() {
        for kind in [
            io::ErrorKind::StorageFull,
            io::ErrorKind::PermissionDenied,
            io::ErrorKind::Other,
        ] {
            let f = Failure::write("out.jsonl", &io::Error::from(kind));
            assert_eq!(f.code, exit::OUTPUT, "{kind:?}");
            assert!(!f.silent);
            assert!(f.to_string().starts_with("error: out.jsonl: "), "{f}");
        }
        let f = Failure::read("list.txt", &io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(f.code, exit::USAGE);
    }

    #[test]
    fn wrong_region_names_the_other_regions() {
        let names = |region, set| -> Vec<String> {
            other_regions(&target(region, set))
                .into_iter()
                .map(|r| r.to_string())
                .collect()
        };
        assert_eq!(names(Region::Global, false), ["eu", "ap"]);
        assert_eq!(names(Region::Eu, false), ["global", "ap"]);
        assert_eq!(names(Region::Eu, true), ["global", "eu", "ap"]);
    }
}
