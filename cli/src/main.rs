//! `fingerprint`: inspect, update and export Fingerprint identification
//! events from a terminal, built on `fingerprint-server-sdk`.

/// A line on stderr. Unlike `eprintln!`, a closed stderr is not a panic:
/// the line is lost, the command goes on.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
mod bulk;
mod clock;
mod confirm;
mod connect;
mod durable;
mod export;
mod failure;
mod follow;
mod journal;
mod listen;
mod output;
mod pace;
mod params;
mod progress;
mod search;
mod serve;
mod shell;
mod table;
mod tail;
mod timespec;
mod tools;

use std::io;
use std::process::ExitCode;

use clap::Parser;
use fingerprint_server_sdk::types;
use serde_json::Value;

use args::{
    Cli, Command, EventsCommand, GetArgs, MockCommand, UpdateArgs, VisitorsCommand, WebhookCommand,
};
use connect::{Connection, connect};
use failure::{Failure, Result, exit};

fn main() -> ExitCode {
    // Usage errors exit with 2, help and version with 0 (clap's codes).
    let cli = Cli::parse();
    if cli.global.verbose > 0 {
        init_tracing(cli.global.verbose);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            note!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::GAVE_UP);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            if !failure.silent {
                note!("{failure}");
            }
            ExitCode::from(failure.code)
        }
    }
}

/// `-v`: the SDK's request events (sending, response, retrying) on stderr.
/// Only the SDK's own events are shown: they name the method and path, never
/// the key, which travels in a header the SDK does not log.
fn init_tracing(verbosity: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = if verbosity > 1 {
        LevelFilter::TRACE
    } else {
        LevelFilter::DEBUG
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(Targets::new().with_target("fingerprint_server_sdk", level))
        .try_init();
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Webhook(WebhookCommand::Verify(args)) => tools::verify(args),
        Command::Webhook(WebhookCommand::Sign(args)) => tools::sign(args),
        Command::Webhook(WebhookCommand::Listen(args)) => {
            let conn = connect(&cli.global).await?;
            listen::run(&conn, *args).await
        }
        Command::Unseal(args) => tools::unseal(args),
        Command::Mock(MockCommand::Serve(args)) => serve::run(args).await,
        Command::Completions(args) => shell::completions(&args),
        Command::Manpage(args) => shell::manpage(&args),
        Command::Events(command) => {
            let conn = connect(&cli.global).await?;
            match *command {
                EventsCommand::Get(args) => get(&conn, args).await,
                EventsCommand::Search(args) => search::run(&conn, args).await,
                EventsCommand::Export(args) => export::run(&conn, args).await,
                EventsCommand::Update(args) => update(&conn, args).await,
                EventsCommand::Tail(args) => tail::run(&conn, args).await,
            }
        }
        Command::Visitors(VisitorsCommand::Delete(args)) if args.from_file.is_some() => {
            bulk::run(&cli.global, args).await
        }
        Command::Visitors(VisitorsCommand::Delete(args)) => {
            let visitor_id = args.visitor_id.clone().unwrap_or_default();
            // Ask before connecting: nothing is started for a refusal.
            confirm::confirm(
                &format!("visitor {visitor_id}"),
                &format!("Delete all data of visitor {visitor_id}?"),
                false,
                args.yes,
            )?;
            let conn = connect(&cli.global).await?;
            delete(&conn, &visitor_id).await
        }
    }
}

async fn get(conn: &Connection, args: GetArgs) -> Result<()> {
    let mut request = conn.client.get_event().event_id(args.event_id.as_str());
    if let Some(ruleset) = &args.ruleset {
        request = request.ruleset_id(ruleset.as_str());
    }
    // The event as the API sent it, fields unknown to this SDK included.
    let event = request
        .send_json()
        .await
        .map_err(|e| conn.failure(&format!("get event {}", args.event_id), &e))?
        .into_inner();
    output::print_json(&event, args.compact)
}

async fn update(conn: &Connection, args: UpdateArgs) -> Result<()> {
    if args.linked_id.is_none() && args.tags.is_empty() && args.suspect.is_none() {
        return Err(Failure::usage("nothing to update")
            .with_hint("pass --linked-id, --tag KEY=VALUE or --suspect true|false"));
    }
    // No --tag: the event's tags are left alone (not cleared).
    let tags = (!args.tags.is_empty()).then(|| {
        args.tags
            .into_iter()
            .map(|(key, value)| (key, Value::String(value)))
            .collect()
    });
    let body = types::EventUpdate {
        linked_id: args.linked_id,
        tags,
        suspect: args.suspect,
        ..Default::default()
    };
    conn.client
        .update_event()
        .event_id(args.event_id.as_str())
        .body(body)
        .send()
        .await
        .map_err(|e| conn.failure(&format!("update event {}", args.event_id), &e))?;
    note!("updated event {}", args.event_id);
    Ok(())
}

async fn delete(conn: &Connection, visitor_id: &str) -> Result<()> {
    conn.client
        .delete_visitor_data()
        .visitor_id(visitor_id)
        .send()
        .await
        .map_err(|e| conn.failure(&format!("delete visitor {visitor_id}"), &e))?;
    note!("deleted the data of visitor {visitor_id}");
    Ok(())
}
