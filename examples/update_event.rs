//! Updates the linked id, tags and suspect mark of an event and prints them
//! before and after.
//!
//! ```text
//! cargo run --example update_event                                # embedded fake API, a sample event
//! cargo run --example update_event -- --linked-id order-7 --tag campaign=spring --suspect false
//! FINGERPRINT_SECRET_API_KEY=... cargo run --example update_event -- <event id> --suspect true
//! ```
//!
//! Options: `--linked-id <id>`, `--tag <key>=<value>` (repeatable; a value
//! that reads as JSON, like `3` or `true`, is stored as such, anything else
//! as a string; the given tags are merged into the event's existing ones),
//! `--suspect <true|false>`.
//!
//! The real API is written to only when `FINGERPRINT_SECRET_API_KEY` is set
//! (with `FINGERPRINT_REGION` if the workspace is not in the global region)
//! AND an event id is given as an argument; then at least one option is
//! required. Otherwise the example starts the crate's fake API on 127.0.0.1
//! with sample events and updates the newest of them (with made-up values
//! when no option is given).

use std::process::ExitCode;

use fingerprint_server_sdk::mock::FakeApi;
use fingerprint_server_sdk::{Client, Error, types};
use serde_json::{Map, Value};

const USAGE: &str =
    "usage: update_event [event id] [--linked-id ID] [--tag KEY=VALUE]... [--suspect true|false]";

#[tokio::main]
async fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("{message}\n\n{USAGE}");
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

/// What the command line asks for.
#[derive(Debug, Default)]
struct Options {
    event_id: Option<String>,
    linked_id: Option<String>,
    tags: Vec<(String, Value)>,
    suspect: Option<bool>,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Self::default();
        while let Some(arg) = args.next() {
            let mut value_of =
                |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
            match arg.as_str() {
                "--linked-id" => options.linked_id = Some(value_of("--linked-id")?),
                "--tag" => {
                    let tag = value_of("--tag")?;
                    let Some((key, value)) = tag.split_once('=') else {
                        return Err(format!("--tag takes KEY=VALUE, not {tag:?}"));
                    };
                    if key.is_empty() {
                        return Err(format!("--tag {tag:?} has an empty key"));
                    }
                    // `3`, `true` or `{"a":1}` are kept as JSON, anything
                    // else is a string.
                    let value = serde_json::from_str(value)
                        .unwrap_or_else(|_| Value::String(value.to_owned()));
                    options.tags.push((key.to_owned(), value));
                }
                "--suspect" => {
                    options.suspect = Some(match value_of("--suspect")?.as_str() {
                        "true" => true,
                        "false" => false,
                        other => {
                            return Err(format!("--suspect takes true or false, not {other:?}"));
                        }
                    });
                }
                "-h" | "--help" => {
                    return Err("Updates an event's linked id, tags and suspect mark.".into());
                }
                flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
                _ if options.event_id.is_none() => options.event_id = Some(arg),
                _ => return Err(format!("unexpected argument {arg:?}")),
            }
        }
        Ok(options)
    }

    fn changes_nothing(&self) -> bool {
        self.linked_id.is_none() && self.tags.is_empty() && self.suspect.is_none()
    }
}

async fn run(mut options: Options) -> Result<(), Failure> {
    let has_key = std::env::var_os("FINGERPRINT_SECRET_API_KEY").is_some_and(|k| !k.is_empty());
    // Kept alive until the end when the fake is used.
    let fake;
    let (client, event_id) = match (has_key, options.event_id.take()) {
        (true, Some(event_id)) => {
            if options.changes_nothing() {
                return Err(Failure::Usage(
                    "nothing to change: give --linked-id, --tag or --suspect".into(),
                ));
            }
            let client = Client::from_env()?;
            println!("Using the Server API at {}", client.base_url());
            (client, event_id)
        }
        (has_key, given_id) => {
            fake = FakeApi::start().await?;
            let stored = fake.insert_samples(12)?;
            let why = if has_key {
                "FINGERPRINT_SECRET_API_KEY is set but no event id was given"
            } else {
                "No FINGERPRINT_SECRET_API_KEY set"
            };
            println!(
                "{why}: using the embedded fake API at {} with {stored} sample events.",
                fake.url()
            );
            if has_key {
                println!("(The real API is only written to for an event id given as an argument.)");
            } else if let Some(id) = given_id {
                println!(
                    "(No FINGERPRINT_SECRET_API_KEY set: the event id {id:?} is not used, the fake's newest event is.)"
                );
            }
            let client = fake.client();
            let newest = client.search_events().limit(1).send().await?.into_inner();
            let Some(event) = newest.events.into_iter().next() else {
                return Err(Failure::Usage("the fake API holds no events".into()));
            };
            if options.changes_nothing() {
                options.linked_id = Some("order-1042".into());
                options
                    .tags
                    .push(("campaign".into(), Value::from("spring-sale")));
                options.suspect = Some(event.suspect != Some(true));
            }
            (client, event.event_id)
        }
    };

    let before = get(&client, &event_id).await?;
    println!("\nEvent {event_id}, before:");
    print_fields(&before);

    let update = build_update(&before, &options);
    println!(
        "\nPATCH /events/{event_id} {}",
        serde_json::to_string(&update)?
    );
    client
        .update_event()
        .event_id(&event_id)
        .body(update)
        .send()
        .await?;

    let after = get(&client, &event_id).await?;
    println!("\nAfter:");
    print_fields(&after);
    Ok(())
}

async fn get(client: &Client, event_id: &str) -> Result<types::Event, Error> {
    Ok(client
        .get_event()
        .event_id(event_id)
        .send()
        .await?
        .into_inner())
}

/// The update body. The API replaces the tags object as a whole, so the
/// given tags are merged into the event's current ones; without `--tag` the
/// tags are left out and stay as they are.
fn build_update(before: &types::Event, options: &Options) -> types::EventUpdate {
    let tags = (!options.tags.is_empty()).then(|| {
        let mut tags: Map<String, Value> = before
            .tags
            .as_ref()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        tags.extend(options.tags.iter().cloned());
        tags
    });
    types::EventUpdate {
        linked_id: options.linked_id.clone(),
        suspect: options.suspect,
        tags,
        ..Default::default()
    }
}

fn print_fields(event: &types::Event) {
    println!(
        "  linked_id  {}",
        event.linked_id.as_deref().unwrap_or("(none)")
    );
    println!(
        "  suspect    {}",
        event
            .suspect
            .map_or_else(|| "(not set)".to_owned(), |s| s.to_string())
    );
    let tags = match &event.tags {
        Some(tags) if !tags.is_empty() => {
            serde_json::to_string(&tags.0).unwrap_or_else(|e| format!("(unprintable: {e})"))
        }
        _ => "(none)".to_owned(),
    };
    println!("  tags       {tags}");
}
