//! Gets one event by id and prints it as pretty JSON.
//!
//! ```text
//! cargo run --example get_event                                   # embedded fake API, a sample event
//! FINGERPRINT_SECRET_API_KEY=... cargo run --example get_event -- <event id>
//! ```
//!
//! The event id is the first argument or `FINGERPRINT_EVENT_ID`. With
//! `FINGERPRINT_SECRET_API_KEY` set (and `FINGERPRINT_REGION` if the
//! workspace is not in the global region) it reads from the real API and the
//! id is required. Without a key it starts the crate's fake API on 127.0.0.1
//! with sample events and gets the id given, or the newest sample.
//!
//! The JSON goes to standard output and everything else to standard error,
//! so the output can be piped (`| jq .bot`). When the call fails, the error
//! (status, the API's code and message, a hint) is printed instead.

use std::process::ExitCode;

use fingerprint_server_sdk::mock::FakeApi;
use fingerprint_server_sdk::{Client, Error};

#[tokio::main]
async fn main() -> ExitCode {
    let event_id = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("FINGERPRINT_EVENT_ID").ok())
        .filter(|id| !id.trim().is_empty());
    let live = std::env::var_os("FINGERPRINT_SECRET_API_KEY").is_some_and(|k| !k.is_empty());

    // Kept alive until the end when the fake is used.
    let fake;
    let (client, event_id) = if live {
        let Some(event_id) = event_id else {
            eprintln!("give the event id as the first argument or in FINGERPRINT_EVENT_ID");
            eprintln!("\nusage: get_event <event id>");
            return ExitCode::from(2);
        };
        let client = match Client::from_env() {
            Ok(client) => client,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        eprintln!("Using the Server API at {}", client.base_url());
        (client, event_id)
    } else {
        fake = match start_fake().await {
            Ok(fake) => fake,
            Err(e) => {
                eprintln!("error: the fake API did not start: {e}");
                return ExitCode::FAILURE;
            }
        };
        let client = fake.client();
        let event_id = match event_id {
            Some(id) => id,
            None => match newest_event_id(&client).await {
                Ok(Some(id)) => id,
                Ok(None) => {
                    eprintln!("the fake API holds no events");
                    return ExitCode::FAILURE;
                }
                Err(e) => return report(&e),
            },
        };
        // Status lines go to standard error, so standard output is only
        // the JSON (and can be piped into jq).
        eprintln!(
            "No FINGERPRINT_SECRET_API_KEY set: using the embedded fake API at {} with {} sample events.",
            fake.url(),
            fake.len()
        );
        (client, event_id)
    };

    eprintln!("Event {event_id}:");
    match client.get_event().event_id(&event_id).send().await {
        Ok(response) => match serde_json::to_string_pretty(&*response) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: the event could not be written as JSON: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => report(&e),
    }
}

async fn start_fake() -> Result<FakeApi, Box<dyn std::error::Error>> {
    let fake = FakeApi::start().await?;
    fake.insert_samples(12)?;
    Ok(fake)
}

/// The id of the most recent event, if there is any.
async fn newest_event_id(client: &Client) -> Result<Option<String>, Error> {
    let page = client.search_events().limit(1).send().await?.into_inner();
    Ok(page.events.into_iter().next().map(|e| e.event_id))
}

/// Prints a failed call: the error's text already holds the status, the
/// API's code and message, and a hint when there is one.
fn report(e: &Error) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}
