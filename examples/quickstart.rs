//! The quick start: get an event, search a visitor's events as a stream,
//! update an event and delete a visitor's data.
//!
//! With `FINGERPRINT_SECRET_API_KEY` set (and optionally
//! `FINGERPRINT_REGION`: global, eu or ap) it reads from the real API and
//! only reads: the update and delete steps run against the fake alone.
//! Without a key it starts the crate's embedded fake API on 127.0.0.1 with
//! some sample events and runs every step against it.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use fingerprint_server_sdk::mock::FakeApi;
use fingerprint_server_sdk::{Client, Error, types};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let live = std::env::var_os("FINGERPRINT_SECRET_API_KEY").is_some_and(|k| !k.is_empty());
    // Keep the fake alive for the whole run when there is one.
    let fake;
    let client = if live {
        let client = Client::from_env()?;
        println!("Using the Server API at {}", client.base_url());
        client
    } else {
        fake = FakeApi::start().await?;
        let stored = fake.insert_samples(24)?;
        println!(
            "No FINGERPRINT_SECRET_API_KEY set: using the embedded fake API at {} with {stored} sample events.",
            fake.url()
        );
        fake.client()
    };

    // 1. The most recent events, to have ids to work with.
    let recent = client.search_events().limit(5).send().await?.into_inner();
    println!(
        "\n1. search_events (limit 5): {} events",
        recent.events.len()
    );
    for event in &recent.events {
        println!("   {}", summary(event));
    }
    let Some(first) = recent.events.first() else {
        println!("No events in the last 7 days: nothing more to show.");
        return Ok(());
    };

    // 2. One event by id.
    let event_id = first.event_id.clone();
    let event = client
        .get_event()
        .event_id(&event_id)
        .send()
        .await?
        .into_inner();
    println!("\n2. get_event {event_id}:\n   {}", summary(&event));
    if let Some(v4) = event.ip_info.as_ref().and_then(|ip| ip.v4.as_ref()) {
        let network = v4.asn_name.as_deref().unwrap_or("unknown network");
        println!("   IP {} ({network})", v4.address);
    }

    // 3. All events of the same visitor, streamed page by page.
    if let Some(visitor) = event.identification.as_ref().map(|i| i.visitor_id.clone()) {
        let mut stream = client
            .search_events()
            .visitor_id(&visitor)
            .limit(2)
            .into_stream()
            .max_events(10);
        let mut count = 0;
        println!("\n3. every event of visitor {visitor}, two per page:");
        while let Some(event) = stream.next().await {
            let event = event?;
            count += 1;
            println!("   {}", summary(&event));
        }
        println!("   {count} events over {} pages", stream.pages_received());
    }

    if live {
        println!("\n4-5. update_event and delete_visitor_data are skipped against the real API.");
        return Ok(());
    }

    // 4. Flag the event as suspect and link it to an order.
    client
        .update_event()
        .event_id(&event_id)
        .body(types::EventUpdate {
            linked_id: Some("order-quickstart".into()),
            suspect: Some(true),
            ..Default::default()
        })
        .send()
        .await?;
    let updated = client
        .get_event()
        .event_id(&event_id)
        .send()
        .await?
        .into_inner();
    println!(
        "\n4. update_event: linked_id is now {:?}, suspect {:?}",
        updated.linked_id.as_deref(),
        updated.suspect
    );

    // 5. Delete the visitor's data; the event is gone afterwards.
    if let Some(visitor) = updated
        .identification
        .as_ref()
        .map(|i| i.visitor_id.clone())
    {
        client
            .delete_visitor_data()
            .visitor_id(&visitor)
            .send()
            .await?;
        match client.get_event().event_id(&event_id).send().await {
            Err(e) if e.is_not_found() => {
                println!(
                    "\n5. delete_visitor_data {visitor}: done; getting the event now gives:\n   {e}"
                );
            }
            Err(e) => return Err(e.into()),
            Ok(_) => println!("\n5. delete_visitor_data {visitor}: the event is still there"),
        }
    }

    // Errors carry what the API said.
    let err: Error = client
        .get_event()
        .event_id("no-such-event")
        .send()
        .await
        .err()
        .ok_or("expected an error")?;
    println!(
        "\nAn unknown id: status {:?}, code {:?}",
        err.status().map(|s| s.as_u16()),
        err.code().map(|c| c.as_str())
    );
    Ok(())
}

fn summary(event: &types::Event) -> String {
    let visitor = event
        .identification
        .as_ref()
        .map(|i| i.visitor_id.as_str())
        .unwrap_or("-");
    let browser = event
        .browser_details
        .as_ref()
        .map(|b| format!("{} {}", b.browser_name, b.browser_major_version))
        .unwrap_or_else(|| "-".into());
    let bot = event.bot.as_ref().map(|b| b.as_str()).unwrap_or("-");
    let when = chrono::DateTime::from_timestamp_millis(event.timestamp)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    format!(
        "{} {when} visitor {visitor} {browser} bot={bot}{}",
        event.event_id,
        if event.suspect == Some(true) {
            " SUSPECT"
        } else {
            ""
        }
    )
}
