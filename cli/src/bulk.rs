//! `visitors delete --from-file`: many visitors deleted within the delete
//! quota (30 requests an hour and 500 a day unless told otherwise), with a
//! journal that lets an interrupted run resume without repeating a
//! deletion, and a summary at the end.

use std::io::{self, Read};
use std::path::PathBuf;
use std::time::Duration;

use fingerprint_server_sdk::{Error, RetryPolicy};

use crate::args::{DeleteArgs, Global};
use crate::clock::{Clock, human};
use crate::confirm::confirm;
use crate::connect::{Connection, connect_with};
use crate::failure::{Failure, Result, exit};
use crate::journal::{Entry, Journal, State};
use crate::pace::{Pacer, Quota, time_needed};
use crate::progress::Progress;

/// The delete endpoint's documented quota.
pub const DOCUMENTED_QUOTA: Quota = Quota {
    per_hour: 30,
    per_day: 500,
};

/// The wait after a 429 that has no `Retry-After`.
const THROTTLED_WAIT: Duration = Duration::from_secs(60);

/// The visitor ids of a list: one a line, blank lines and `#` comments
/// skipped, each id once (the first time it appears).
pub fn parse_list(text: &str) -> std::result::Result<Vec<String>, String> {
    let mut ids: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let id = line.trim();
        if id.is_empty() || id.starts_with('#') {
            continue;
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "line {}: {id:?} is not a visitor id (one id a line, nothing else)",
                n + 1
            ));
        }
        if seen.insert(id.to_owned()) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

/// What an answer to a delete request means for the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Deleted,
    NotFound,
    /// 429: wait (as long as `Retry-After` says, when it does) and send the
    /// same request again.
    Throttled(Option<Duration>),
    /// 5xx or no answer: worth a few more tries.
    Transient,
    /// The API refused this visitor (an invalid id): go on with the next.
    Failed,
    /// The API refused the run (key, region, permission, feature): every
    /// other visitor would fail the same way.
    Stop,
}

/// [`Verdict`] from the HTTP status (`None`: no answer) and whether the SDK
/// refused the request before sending it.
pub fn verdict(
    status: Option<u16>,
    refused_before_sending: bool,
    retry_after: Option<Duration>,
) -> Verdict {
    match status {
        _ if refused_before_sending => Verdict::Failed,
        None => Verdict::Transient,
        Some(200..=299) => Verdict::Deleted,
        Some(404) => Verdict::NotFound,
        Some(429) => Verdict::Throttled(retry_after),
        Some(500..=599) => Verdict::Transient,
        Some(400 | 422) => Verdict::Failed,
        Some(_) => Verdict::Stop,
    }
}

fn verdict_of(result: &std::result::Result<(), Error>) -> Verdict {
    match result {
        Ok(()) => verdict(Some(200), false, None),
        Err(Error::Config { .. }) => Verdict::Stop,
        Err(error) => verdict(
            error.status().map(|s| s.as_u16()),
            matches!(error, Error::InvalidRequest { .. }),
            error.retry_after(),
        ),
    }
}

/// The counts for the summary.
#[derive(Debug, Default)]
struct Tally {
    deleted: u64,
    not_found: u64,
    failed: u64,
}

/// The summary line.
fn summary(tally: &Tally, earlier: usize) -> String {
    let mut line = format!(
        "deleted {}, not found {}, failed {}",
        tally.deleted, tally.not_found, tally.failed
    );
    if earlier > 0 {
        line.push_str(&format!(" ({earlier} done in an earlier run, skipped)"));
    }
    line
}

/// Reads the list from FILE, or stdin for `-`.
fn read_list(source: &str) -> Result<Vec<String>> {
    let mut text = String::new();
    let (shown, read) = if source == "-" {
        ("stdin", io::stdin().lock().read_to_string(&mut text))
    } else {
        (
            source,
            std::fs::File::open(source).and_then(|mut f| f.read_to_string(&mut text)),
        )
    };
    read.map_err(|e| Failure::read(shown, &e))?;
    parse_list(&text).map_err(|why| Failure::usage(format!("{shown}: {why}")))
}

fn journal_path(args: &DeleteArgs, source: &str) -> Result<PathBuf> {
    match (&args.journal, source) {
        (Some(path), _) => Ok(path.clone()),
        (None, "-") => Err(Failure::usage("a list on stdin needs --journal")
            .with_hint("pass --journal FILE: it records what is done, for a rerun to skip")),
        (None, file) => Ok(PathBuf::from(format!("{file}.journal"))),
    }
}

pub async fn run(global: &Global, args: DeleteArgs) -> Result<()> {
    let source = args.from_file.clone().unwrap_or_default();
    let ids = read_list(&source)?;
    let journal_path = journal_path(&args, &source)?;
    let (mut journal, past) = Journal::open(&journal_path)?;
    let todo: Vec<&String> = ids
        .iter()
        .filter(|id| !past.done.contains_key(*id))
        .collect();
    let earlier = ids.len() - todo.len();
    if todo.is_empty() {
        note!("{}", summary(&Tally::default(), earlier));
        return Ok(());
    }
    let done = if earlier > 0 {
        format!(" ({earlier} more are done already)")
    } else {
        String::new()
    };
    confirm(
        &format!("{} visitors", todo.len()),
        &format!(
            "Delete all data of {} visitors listed in {source}{done}?",
            todo.len()
        ),
        source == "-",
        args.yes,
    )?;
    // Every attempt counts against the quota: the SDK does not retry here,
    // this loop does, paced.
    let conn = connect_with(global, Some(RetryPolicy::disabled())).await?;
    let clock = Clock::system();
    let quota = Quota {
        per_hour: args.per_hour.unwrap_or(DOCUMENTED_QUOTA.per_hour),
        per_day: args.per_day.unwrap_or(DOCUMENTED_QUOTA.per_day),
    };
    let mut pacer = Pacer::new(quota);
    for at in &past.requests {
        pacer.record(*at);
    }
    let needed = time_needed(&pacer, clock.now_ms(), todo.len());
    let requests = if quota.per_hour == 1 {
        "request"
    } else {
        "requests"
    };
    let mut plan = format!(
        "deleting {} visitors, at most {} {requests} an hour and {} a day",
        todo.len(),
        quota.per_hour,
        quota.per_day
    );
    if !needed.is_zero() {
        plan.push_str(&format!(": about {}", human(needed)));
    }
    note!("{plan}; journal: {}", journal_path.display());

    let progress = Progress::new(Some(todo.len() as u64), "visitors", false, true);
    let mut run = Run {
        conn: &conn,
        journal: &mut journal,
        pacer: &mut pacer,
        clock,
        progress: &progress,
        quota,
        retries: global.retries.unwrap_or(2),
        tally: Tally::default(),
    };
    let work = async {
        for id in &todo {
            run.delete(id).await?;
            run.progress.inc(1);
        }
        Ok::<(), Failure>(())
    };
    let ended = tokio::select! {
        ended = work => ended,
        _ = tokio::signal::ctrl_c() => Err(Failure::new(exit::INTERRUPTED, "interrupted")),
    };
    progress.finish();
    let tally = run.tally;
    let line = summary(&tally, earlier);
    let resume = format!(
        "run the same command again to go on ({} records what is done)",
        journal_path.display()
    );
    match ended {
        Err(failure) => {
            let message = format!("{}; so far: {line}", failure.message);
            let hint = match failure.hint {
                Some(hint) => format!("{hint}; {resume}"),
                None => resume,
            };
            Err(Failure::new(failure.code, message).with_hint(hint))
        }
        Ok(()) if tally.failed > 0 => Err(Failure::invalid(format!(
            "{} of the deletions failed: {line}",
            tally.failed
        ))
        .with_hint(format!("the lines above say why; {resume}"))),
        Ok(()) => {
            note!("{line}");
            Ok(())
        }
    }
}

/// One run's state.
struct Run<'a> {
    conn: &'a Connection,
    journal: &'a mut Journal,
    pacer: &'a mut Pacer,
    clock: Clock,
    progress: &'a Progress,
    quota: Quota,
    /// More tries after a 5xx or no answer.
    retries: u32,
    tally: Tally,
}

impl Run<'_> {
    fn record(&mut self, id: &str, state: State, at: i64, detail: Option<String>) -> Result<()> {
        self.journal.append(&Entry {
            visitor_id: id.to_owned(),
            state,
            at,
            detail,
        })
    }

    /// Deletes one visitor: waits for the quota, sends, and records the
    /// outcome; an error ends the run.
    async fn delete(&mut self, id: &str) -> Result<()> {
        let mut transient = 0u32;
        loop {
            if let Some((wait, window)) = self.pacer.wait(self.clock.now_ms()) {
                let per = match window {
                    crate::pace::Window::Hour => format!("{} an hour", self.quota.per_hour),
                    crate::pace::Window::Day => format!("{} a day", self.quota.per_day),
                };
                self.progress.line(&format!(
                    "waiting {} for the {window} quota ({per})",
                    human(wait)
                ));
                self.clock.sleep(wait).await;
            }
            let sent_at = self.clock.now_ms();
            self.record(id, State::Sending, sent_at, None)?;
            self.pacer.record(sent_at);
            let result = self
                .conn
                .client
                .delete_visitor_data()
                .visitor_id(id)
                .send()
                .await
                .map(drop);
            let now = self.clock.now_ms();
            match verdict_of(&result) {
                Verdict::Deleted => {
                    self.record(id, State::Deleted, now, None)?;
                    self.tally.deleted += 1;
                    self.progress.line(&format!("deleted {id}"));
                    return Ok(());
                }
                Verdict::NotFound => {
                    self.record(id, State::NotFound, now, None)?;
                    self.tally.not_found += 1;
                    self.progress
                        .line(&format!("not found {id} (nothing to delete)"));
                    return Ok(());
                }
                Verdict::Throttled(retry_after) => {
                    self.record(id, State::Throttled, now, None)?;
                    let wait = retry_after.unwrap_or(THROTTLED_WAIT);
                    self.progress.line(&format!(
                        "HTTP 429 for {id}: waiting {} before trying it again",
                        human(wait)
                    ));
                    self.clock.sleep(wait).await;
                }
                Verdict::Transient if transient < self.retries => {
                    transient += 1;
                    let wait = Duration::from_secs(2u64 << transient.min(8));
                    let why = self.why(&result, id);
                    self.progress
                        .line(&format!("{why}; trying again in {}", human(wait)));
                    self.clock.sleep(wait).await;
                }
                Verdict::Transient | Verdict::Failed => {
                    let why = self.why(&result, id);
                    self.record(id, State::Failed, now, Some(why.clone()))?;
                    self.tally.failed += 1;
                    self.progress.line(&format!("failed {id}: {why}"));
                    return Ok(());
                }
                Verdict::Stop => {
                    // The request's outcome stays unrecorded: a later run
                    // sends it again.
                    return Err(match &result {
                        Err(error) => self.conn.failure(&format!("delete visitor {id}"), error),
                        Ok(()) => Failure::new(exit::GAVE_UP, "unexpected answer"),
                    });
                }
            }
        }
    }

    /// The error of a failed request, in one line (after the visitor id).
    fn why(&self, result: &std::result::Result<(), Error>, id: &str) -> String {
        let Err(error) = result else {
            return String::new();
        };
        let context = format!("delete visitor {id}");
        let message = self.conn.failure(&context, error).message;
        match message
            .strip_prefix(&context)
            .and_then(|m| m.strip_prefix(": "))
        {
            Some(rest) => rest.to_owned(),
            None => message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_skip_blanks_comments_and_repeats() {
        let list = "# erase request 42\nvis1\n\n  vis2  \nvis1\n# done\nvis3\r\n";
        assert_eq!(
            parse_list(list).ok(),
            Some(vec!["vis1".to_owned(), "vis2".into(), "vis3".into()])
        );
        assert_eq!(parse_list("").ok(), Some(vec![]));
        let why = parse_list("vis1\nvis2 vis3\n").err().unwrap_or_default();
        assert!(why.starts_with("line 2:"), "{why}");
    }

    #[test]
    fn answers_and_what_they_mean() {
        let secs = Duration::from_secs;
        assert_eq!(verdict(Some(200), false, None), Verdict::Deleted);
        assert_eq!(verdict(Some(404), false, None), Verdict::NotFound);
        assert_eq!(
            verdict(Some(429), false, Some(secs(30))),
            Verdict::Throttled(Some(secs(30)))
        );
        assert_eq!(verdict(Some(503), false, None), Verdict::Transient);
        assert_eq!(verdict(None, false, None), Verdict::Transient);
        assert_eq!(verdict(Some(400), false, None), Verdict::Failed);
        assert_eq!(verdict(None, true, None), Verdict::Failed);
        for refused in [401, 403, 409] {
            assert_eq!(
                verdict(Some(refused), false, None),
                Verdict::Stop,
                "{refused}"
            );
        }
    }

    #[test]
    fn the_summary_counts_each_outcome() {
        let tally = Tally {
            deleted: 5,
            not_found: 1,
            failed: 0,
        };
        assert_eq!(summary(&tally, 0), "deleted 5, not found 1, failed 0");
        assert_eq!(
            summary(&tally, 2),
            "deleted 5, not found 1, failed 0 (2 done in an earlier run, skipped)"
        );
    }
}
