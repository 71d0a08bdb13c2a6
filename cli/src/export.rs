//! `events export`: every matching event to a JSON lines file, page by page,
//! with a checkpoint after each page so an interrupted export can resume
//! without losing or repeating an event.
//!
//! After a page is written, the data file is flushed and synced; only then
//! is the checkpoint (the next page's key, the event count and the file's
//! length) written to a temporary file, synced and renamed over the previous
//! one. Whatever the moment of an interruption, the checkpoint describes a
//! prefix of the file that holds whole pages. `--resume` cuts the file back
//! to that length and asks for the page after it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::args::{ExportArgs, Format, Query};
use crate::clock;
use crate::connect::Connection;
use crate::failure::{Failure, Result, exit};
use crate::output::{EventWriter, parse_fields};
use crate::progress::Progress;
use crate::search::{ResolvedSearch, next_page_key, page_events};

/// The exit code of the crash the test hook simulates
/// ([`clock::STOP_AFTER_PAGES_ENV`]): what a shell reports for SIGKILL.
const SIMULATED_CRASH_EXIT: i32 = 137;

const CHECKPOINT_KIND: &str = "fingerprint-cli export checkpoint";
const CHECKPOINT_VERSION: u32 = 1;

/// The search an export runs, fixed when it starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SavedSearch {
    search: ResolvedSearch,
    page_size: i32,
    max: Option<u64>,
    fields: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    kind: String,
    version: u32,
    export: SavedSearch,
    /// The key of the next page; `None` before the first page.
    pagination_key: Option<String>,
    pages: u64,
    events: u64,
    /// The length of the data file holding those events.
    bytes: u64,
}

/// `FILE.checkpoint`, next to the data file.
pub fn checkpoint_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".checkpoint");
    PathBuf::from(name)
}

impl Checkpoint {
    fn load(path: &Path) -> Result<Self> {
        let text = match fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Failure::usage(format!(
                    "nothing to resume: {} does not exist",
                    path.display()
                ))
                .with_hint("start the export without --resume"));
            }
            Err(e) => return Err(Failure::read(&path.display().to_string(), &e)),
        };
        let checkpoint: Self = serde_json::from_slice(&text).map_err(|e| {
            Failure::invalid(format!("{} is not a valid checkpoint: {e}", path.display()))
        })?;
        if checkpoint.kind != CHECKPOINT_KIND || checkpoint.version != CHECKPOINT_VERSION {
            return Err(Failure::invalid(format!(
                "{} was written by another version of fingerprint",
                path.display()
            )));
        }
        Ok(checkpoint)
    }

    /// Writes the checkpoint durably: temporary file, sync, rename, sync of
    /// the directory.
    fn save(&self, path: &Path) -> io::Result<()> {
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        {
            let mut file = File::create(&tmp)?;
            serde_json::to_writer_pretty(&mut file, self)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        sync_dir(path);
        Ok(())
    }
}

/// Makes a rename in `path`'s directory durable, where the platform allows.
fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

pub async fn run(conn: &Connection, args: ExportArgs) -> Result<()> {
    let out_path = args.out.clone();
    let cp_path = checkpoint_path(&out_path);
    let shown = out_path.display().to_string();
    let file_failure = |e: io::Error| Failure::write(&shown, &e);

    let (mut checkpoint, file) = if args.resume {
        resume(&args, &out_path, &cp_path)?
    } else {
        start(&args, &out_path, &cp_path)?
    };
    let export = checkpoint.export.clone();
    let fields = parse_fields(&export.fields)?;
    let mut writer = EventWriter::new(
        BufWriter::with_capacity(256 * 1024, file),
        Format::Jsonl,
        fields,
    );
    let started = Instant::now();
    let pages_before = checkpoint.pages;
    let progress = Progress::new(export.max, "events", true, !args.quiet);
    progress.set_position(checkpoint.events);

    let finished = checkpoint.pages > 0 && checkpoint.pagination_key.is_none()
        || export.max.is_some_and(|max| checkpoint.events >= max);
    if !finished {
        let mut search = export
            .search
            .apply(conn.client.search_events())
            .limit(export.page_size);
        if let Some(key) = &checkpoint.pagination_key {
            search = search.pagination_key(key.clone());
        }
        let stop_after = clock::export_stop_after_pages();
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        // Pages as the API sent them: events are exported with every field.
        let mut pages = search.into_json_page_stream();
        loop {
            let page = tokio::select! {
                page = pages.next() => page,
                _ = &mut interrupted => {
                    progress.finish();
                    return Err(Failure::new(
                        exit::INTERRUPTED,
                        format!("interrupted: {} events are in {shown}", checkpoint.events),
                    )
                    .with_hint("continue with the same command and --resume"));
                }
            };
            let Some(page) = page else { break };
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    progress.finish();
                    return Err(conn
                        .failure("search events", &e)
                        .with_resume_hint(checkpoint.events, &shown));
                }
            };
            let room = export.max.map_or(usize::MAX, |max| {
                usize::try_from(max - checkpoint.events).unwrap_or(usize::MAX)
            });
            let events = page_events(&page);
            let take = events.len().min(room);
            for event in &events[..take] {
                writer.event(event).map_err(file_failure)?;
            }
            // The page is on disk before the checkpoint says so.
            writer.flush().map_err(file_failure)?;
            let file = writer.get_mut().get_mut();
            file.sync_data().map_err(file_failure)?;
            let bytes = file.stream_position().map_err(file_failure)?;

            checkpoint.pages += 1;
            checkpoint.events += take as u64;
            checkpoint.bytes = bytes;
            checkpoint.pagination_key = next_page_key(&page);
            progress.set_position(checkpoint.events);
            let done = checkpoint.pagination_key.is_none()
                || export.max.is_some_and(|max| checkpoint.events >= max);
            if done {
                break;
            }
            if stop_after.is_some_and(|n| checkpoint.pages > n) {
                // Simulated crash: this page's events are in the file, its
                // checkpoint is not written.
                std::process::exit(SIMULATED_CRASH_EXIT);
            }
            checkpoint
                .save(&cp_path)
                .map_err(|e| Failure::write(&cp_path.display().to_string(), &e))?;
        }
    }
    writer.finish().map_err(file_failure)?;
    writer
        .get_mut()
        .get_mut()
        .sync_all()
        .map_err(file_failure)?;
    match fs::remove_file(&cp_path) {
        Ok(()) => sync_dir(&cp_path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Failure::write(&cp_path.display().to_string(), &e)),
    }
    progress.finish();
    if !args.quiet {
        note!(
            "exported {} events to {shown} ({} pages in {:.1}s)",
            checkpoint.events,
            checkpoint.pages - pages_before,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// A new export: refuses to overwrite unless `--force`, fixes the search and
/// writes the first checkpoint.
fn start(args: &ExportArgs, out: &Path, cp_path: &Path) -> Result<(Checkpoint, File)> {
    if !args.force {
        if cp_path.exists() {
            return Err(Failure::usage(format!(
                "an interrupted export of {} exists ({})",
                out.display(),
                cp_path.display()
            ))
            .with_hint("continue it with --resume, or start over with --force"));
        }
        if out.exists() {
            return Err(Failure::usage(format!("{} already exists", out.display()))
                .with_hint("choose another --out, or overwrite it with --force"));
        }
    }
    parse_fields(&args.fields)?;
    let now = chrono::Utc::now().timestamp_millis();
    let checkpoint = Checkpoint {
        kind: CHECKPOINT_KIND.to_owned(),
        version: CHECKPOINT_VERSION,
        export: SavedSearch {
            search: ResolvedSearch::resolve(&args.query, now, true)?,
            page_size: args.limit,
            max: args.max,
            fields: args.fields.clone(),
        },
        pagination_key: None,
        pages: 0,
        events: 0,
        bytes: 0,
    };
    let shown = out.display().to_string();
    let file = File::create(out).map_err(|e| Failure::write(&shown, &e))?;
    checkpoint
        .save(cp_path)
        .map_err(|e| Failure::write(&cp_path.display().to_string(), &e))?;
    Ok((checkpoint, file))
}

/// Reopens an interrupted export: checks the file against the checkpoint and
/// cuts it back to the last whole page.
fn resume(args: &ExportArgs, out: &Path, cp_path: &Path) -> Result<(Checkpoint, File)> {
    let checkpoint = Checkpoint::load(cp_path)?;
    if args.query != Query::default() && args.query != checkpoint.export.search.query {
        return Err(
            Failure::usage("the filters differ from those of the interrupted export")
                .with_hint("resume with the same filters, or none (the checkpoint keeps them)"),
        );
    }
    let shown = out.display().to_string();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(out)
        .map_err(|e| Failure::write(&shown, &e))?;
    let len = file
        .metadata()
        .map_err(|e| Failure::write(&shown, &e))?
        .len();
    let mismatch = |why: &str| {
        Failure::invalid(format!("{shown} does not match its checkpoint: {why}"))
            .with_hint("start over with --force")
    };
    if len < checkpoint.bytes {
        return Err(mismatch(&format!(
            "it has {len} bytes, the checkpoint counts {}",
            checkpoint.bytes
        )));
    }
    let lines = count_lines(&mut file, checkpoint.bytes).map_err(|e| Failure::write(&shown, &e))?;
    if lines != checkpoint.events {
        return Err(mismatch(&format!(
            "its first {} bytes hold {lines} lines, the checkpoint counts {} events",
            checkpoint.bytes, checkpoint.events
        )));
    }
    file.set_len(checkpoint.bytes)
        .and_then(|()| file.seek(SeekFrom::Start(checkpoint.bytes)))
        .map_err(|e| Failure::write(&shown, &e))?;
    if !args.quiet {
        note!(
            "resuming {shown} after {} events ({} pages)",
            checkpoint.events,
            checkpoint.pages
        );
    }
    Ok((checkpoint, file))
}

/// The number of line ends in the first `len` bytes of `file`, which must
/// end with one (unless empty).
fn count_lines(file: &mut File, len: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::with_capacity(256 * 1024, (&*file).take(len));
    let mut lines = 0u64;
    let mut last = b'\n';
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[n - 1];
    }
    if last != b'\n' {
        // A partial line inside the checkpointed part: not ours.
        return Ok(u64::MAX);
    }
    Ok(lines)
}

impl Failure {
    fn with_resume_hint(self, events: u64, file: &str) -> Self {
        let resume = format!("{events} events are in {file}; continue later with --resume");
        let hint = match &self.hint {
            Some(hint) => format!("{hint}; {resume}"),
            None => resume,
        };
        self.with_hint(hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_sits_next_to_the_file() {
        assert_eq!(
            checkpoint_path(Path::new("dir/events.jsonl")),
            PathBuf::from("dir/events.jsonl.checkpoint")
        );
    }
}
