//! The blocking client in a plain `fn main`, no async code: the latest
//! events, one event by id, every event of its visitor across pages, then
//! an update and an error.
//!
//! With `FINGERPRINT_SECRET_API_KEY` set (and optionally
//! `FINGERPRINT_REGION`) it reads from the real API and only reads: the
//! update runs against the fake alone. Without a key it starts the crate's
//! embedded fake API (on a runtime of its own, since the fake is an async
//! server) with some sample events.
//!
//! ```text
//! cargo run --example blocking --features blocking
//! ```

use fingerprint_server_sdk::mock::FakeApi;
use fingerprint_server_sdk::{blocking, types};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let live = std::env::var_os("FINGERPRINT_SECRET_API_KEY").is_some_and(|k| !k.is_empty());
    // The fake and the runtime serving it live as long as the client is used.
    let fake;
    let client = if live {
        let client = blocking::Client::from_env()?;
        println!("Using the Server API at {}", client.base_url());
        client
    } else {
        fake = start_fake()?;
        let (api, _) = &fake;
        let stored = api.insert_samples(12)?;
        println!(
            "No FINGERPRINT_SECRET_API_KEY set: using the embedded fake API at {} with {stored} sample events.",
            api.url()
        );
        blocking::ClientBuilder::from(api.client_builder()).build()?
    };

    // 1. The latest events: the async request builder, sent by `run`.
    let recent = client
        .run(|c| c.search_events().limit(3).send())?
        .into_inner();
    println!("\n1. the {} latest events:", recent.events.len());
    for event in &recent.events {
        println!("   {} at {}", event.event_id, event.timestamp);
    }
    let Some(first) = recent.events.first() else {
        println!("No events in the last 7 days: nothing more to show.");
        return Ok(());
    };

    // 2. One event by id.
    let event_id = first.event_id.clone();
    let event = client
        .run(|c| c.get_event().event_id(&event_id).send())?
        .into_inner();
    let visitor = event.identification.as_ref().map(|i| i.visitor_id.clone());
    println!(
        "\n2. get_event {event_id}: visitor {}",
        visitor.as_deref().unwrap_or("-")
    );

    // 3. Every event of that visitor, two per page, as an Iterator.
    if let Some(visitor) = &visitor {
        let mut events = client.iter(|c| {
            c.search_events()
                .visitor_id(visitor)
                .limit(2)
                .into_stream()
                .max_events(10)
        });
        println!("\n3. every event of visitor {visitor}:");
        for event in events.by_ref() {
            let event = event?;
            println!("   {} at {}", event.event_id, event.timestamp);
        }
        println!("   ({} pages)", events.get_ref().pages_received());
    }

    // 4. Flag the event as suspect (against the fake only).
    if !live {
        client.run(|c| {
            c.update_event()
                .event_id(&event_id)
                .body(types::EventUpdate {
                    suspect: Some(true),
                    ..Default::default()
                })
                .send()
        })?;
        println!("\n4. update_event: {event_id} is now flagged suspect");
    }

    // Errors are the async client's: status, API code, attempts.
    match client.run(|c| c.get_event().event_id("no-such-event").send()) {
        Err(e) if e.is_not_found() => println!("\nAn unknown id: {e}"),
        Err(e) => return Err(e.into()),
        Ok(_) => println!("\nAn unknown id was found?"),
    }
    Ok(())
}

/// The fake API, served by a runtime of its own (the fake is an async server;
/// this program's own calls need none).
fn start_fake() -> std::io::Result<(FakeApi, tokio::runtime::Runtime)> {
    let runtime = tokio::runtime::Runtime::new()?;
    let api = runtime.block_on(FakeApi::start())?;
    Ok((api, runtime))
}
