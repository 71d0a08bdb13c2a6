//! `events tail`: new events printed as they happen (JSON lines, CSV or a
//! table), until Ctrl-C or `--max-events`.

use std::io::{self, BufWriter, IsTerminal};

use crate::args::{Format, LineFormat, TailArgs};
use crate::clock::Clock;
use crate::connect::Connection;
use crate::failure::{Failure, Result};
use crate::follow::{Follower, until_stopped};
use crate::output::{EventWriter, stdout_width};

/// The format asked for, or a table on a terminal and JSON lines otherwise.
pub fn tail_format(asked: Option<LineFormat>, terminal: bool) -> Format {
    match asked {
        Some(format) => format.into(),
        None if terminal => Format::Table,
        None => Format::Jsonl,
    }
}

pub async fn run(conn: &Connection, args: TailArgs) -> Result<()> {
    let format = tail_format(args.format, io::stdout().is_terminal());
    let clock = Clock::system();
    let mut follower = Follower::new(conn, &args.follow, clock)?;
    let mut out = EventWriter::new(BufWriter::new(io::stdout().lock()), format, Vec::new())
        .with_width(stdout_width());
    if io::stderr().is_terminal() {
        let since = chrono::DateTime::from_timestamp_millis(follower.position_ms())
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        note!("following events from {since} (Ctrl-C to stop)");
    }
    let io_failure = |e: io::Error| Failure::write("stdout", &e);
    out.begin().and_then(|()| out.flush()).map_err(io_failure)?;
    let max = args.follow.max_events;
    let mut printed = 0u64;
    let work = async {
        while max.is_none_or(|max| printed < max) {
            let event = follower.next().await?;
            out.event(&event)
                .and_then(|()| out.flush())
                .map_err(io_failure)?;
            printed += 1;
        }
        Ok(())
    };
    until_stopped(conn, work).await?;
    out.finish().map_err(io_failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_for_people_json_lines_for_programs() {
        assert_eq!(tail_format(None, true), Format::Table);
        assert_eq!(tail_format(None, false), Format::Jsonl);
        assert_eq!(tail_format(Some(LineFormat::Csv), true), Format::Csv);
        assert_eq!(tail_format(Some(LineFormat::Table), false), Format::Table);
    }
}
