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

use fingerprint_server_sdk::Client;
use fingerprint_server_sdk::builder::SearchEvents;
use fingerprint_server_sdk::search::{self, Role};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::args::{ExportArgs, Format};
use crate::clock;
use crate::connect::Connection;
use crate::durable::sync_dir;
use crate::failure::{Failure, Result, exit};
use crate::output::{EventWriter, parse_fields};
use crate::params::{self, Values};
use crate::progress::Progress;
use crate::search::{ResolvedSearch, apply, next_page_key, page_events};

/// The exit code of the crash the test hook simulates
/// ([`clock::STOP_AFTER_PAGES_ENV`]): what a shell reports for SIGKILL.
const SIMULATED_CRASH_EXIT: i32 = 137;

const CHECKPOINT_KIND: &str = "fingerprint-cli export checkpoint";
/// 2: the search as parameters by wire name (from the SDK's table).
const CHECKPOINT_VERSION: u32 = 2;

/// The search an export runs, fixed when it starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SavedSearch {
    /// The parameters as given (times as typed), which `--resume` compares.
    given: Values,
    /// The parameters every page request sends besides the page key: times
    /// in Unix milliseconds, the window pinned, the page size.
    sent: Values,
    max: Option<u64>,
    fields: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    kind: String,
    version: u32,
    export: SavedSearch,
    /// The key of the next page; `None` before the first page.
    next_page: Option<String>,
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
        let not_valid = |e: &dyn std::fmt::Display| {
            Failure::invalid(format!("{} is not a valid checkpoint: {e}", path.display()))
        };
        let value: Value = serde_json::from_slice(&text).map_err(|e| not_valid(&e))?;
        let kind = value.get("kind").and_then(Value::as_str);
        let version = value.get("version").and_then(Value::as_u64);
        match (kind, version) {
            (Some(CHECKPOINT_KIND), Some(v)) if v == u64::from(CHECKPOINT_VERSION) => {
                serde_json::from_value(value).map_err(|e| not_valid(&e))
            }
            (Some(CHECKPOINT_KIND), Some(1)) => {
                let old: v1::Checkpoint =
                    serde_json::from_value(value).map_err(|e| not_valid(&e))?;
                old.upgrade().map_err(|why| {
                    Failure::invalid(format!(
                        "{} was written by an earlier fingerprint and cannot be resumed: {why}",
                        path.display()
                    ))
                    .with_hint("start over with --force")
                })
            }
            _ => Err(Failure::invalid(format!(
                "{} was written by another version of fingerprint",
                path.display()
            ))
            .with_hint("resume it with that version, or start over with --force")),
        }
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

pub async fn run(conn: &Connection, args: ExportArgs) -> Result<()> {
    let out_path = args.out.clone();
    let cp_path = checkpoint_path(&out_path);
    let shown = out_path.display().to_string();
    let file_failure = |e: io::Error| Failure::write(&shown, &e);

    let (mut checkpoint, file) = if args.resume {
        resume(&args, &out_path, &cp_path)?
    } else {
        start(&conn.client, &args, &out_path, &cp_path)?
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

    let finished = checkpoint.pages > 0 && checkpoint.next_page.is_none()
        || export.max.is_some_and(|max| checkpoint.events >= max);
    if !finished {
        let search = page_request(&conn.client, &export.sent, checkpoint.next_page.as_deref())?;
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
            checkpoint.next_page = next_page_key(&page);
            progress.set_position(checkpoint.events);
            let done = checkpoint.next_page.is_none()
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

/// The request for the pages of `sent`, from the page with key `next_page`
/// (from the first without one).
fn page_request<'a>(
    client: &'a Client,
    sent: &Values,
    next_page: Option<&str>,
) -> Result<SearchEvents<'a>> {
    let mut values = sent.clone();
    if let Some(key) = next_page {
        let name = params::role_name(Role::PaginationKey).ok_or_else(|| {
            Failure::invalid("this version's search takes no page key: the export cannot go on")
        })?;
        values.insert(name.to_owned(), vec![key.to_owned()]);
    }
    apply(&values, client.search_events())
}

/// A new export: refuses to overwrite unless `--force`, fixes the search and
/// writes the first checkpoint.
fn start(
    client: &Client,
    args: &ExportArgs,
    out: &Path,
    cp_path: &Path,
) -> Result<(Checkpoint, File)> {
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
    let search = ResolvedSearch::resolve(&args.query.values, now, true)?;
    // A value the SDK refuses stops the export before anything is written.
    page_request(client, &search.sent, None)?;
    let checkpoint = Checkpoint {
        kind: CHECKPOINT_KIND.to_owned(),
        version: CHECKPOINT_VERSION,
        export: SavedSearch {
            given: params::selection(&search.given),
            sent: search.sent,
            max: args.max,
            fields: args.fields.clone(),
        },
        next_page: None,
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
    // The page size is the checkpoint's; the filters and the window, when
    // given again, must be the same.
    let asked = params::selection(&args.query.values);
    if !asked.is_empty() && asked != checkpoint.export.given {
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

/// Checkpoints of version 1, which kept the search as the fields of the
/// CLI's former filter struct. Those fields were named after the wire names,
/// so the SDK's table reads them; the keys below are that file format's.
mod v1 {
    use serde::Deserialize;
    use serde_json::{Map, Value};

    use super::{CHECKPOINT_KIND, CHECKPOINT_VERSION, SavedSearch, Values, params, search};
    use fingerprint_server_sdk::search::Role;

    #[derive(Deserialize)]
    pub struct Checkpoint {
        export: Export,
        pagination_key: Option<String>,
        pages: u64,
        events: u64,
        bytes: u64,
    }

    #[derive(Deserialize)]
    struct Export {
        search: Search,
        page_size: i64,
        max: Option<u64>,
        fields: Vec<String>,
    }

    #[derive(Deserialize)]
    struct Search {
        filters: Map<String, Value>,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
    }

    impl Checkpoint {
        /// The same export as a version 2 checkpoint, or why it cannot be.
        pub fn upgrade(self) -> Result<super::Checkpoint, String> {
            let Self {
                export,
                pagination_key,
                pages,
                events,
                bytes,
            } = self;
            let mut given = Values::new();
            for (name, value) in export.search.filters {
                let list = match value {
                    Value::Null => continue,
                    Value::Array(items) if items.is_empty() => continue,
                    value => texts(value).ok_or_else(|| format!("{name} is not text"))?,
                };
                let p = search::parameter(&name).ok_or_else(|| {
                    format!(
                        "it searched with {}, which this version does not have",
                        params::flag(&name)
                    )
                })?;
                // The order was saved even when not given.
                if p.role == Role::Reverse && list == ["false"] {
                    continue;
                }
                given.insert(name, list);
            }
            let mut sent = given.clone();
            let pinned = [
                (Role::Start, export.search.start_ms),
                (Role::End, export.search.end_ms),
                (Role::Limit, Some(export.page_size)),
            ];
            for (role, value) in pinned {
                if let (Some(name), Some(value)) = (params::role_name(role), value) {
                    sent.insert(name.to_owned(), vec![value.to_string()]);
                }
            }
            Ok(super::Checkpoint {
                kind: CHECKPOINT_KIND.to_owned(),
                version: CHECKPOINT_VERSION,
                export: SavedSearch {
                    given: params::selection(&given),
                    sent,
                    max: export.max,
                    fields: export.fields,
                },
                next_page: pagination_key,
                pages,
                events,
                bytes,
            })
        }
    }

    /// A saved value as the texts a flag would have given.
    fn texts(value: Value) -> Option<Vec<String>> {
        match value {
            Value::Bool(b) => Some(vec![b.to_string()]),
            Value::Number(n) => Some(vec![n.to_string()]),
            Value::String(s) => Some(vec![s]),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("fingerprint-cli-export-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        let path = dir.join(name);
        fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path
    }

    fn name(role: Role) -> String {
        params::role_name(role)
            .unwrap_or_else(|| panic!("no {role:?}"))
            .to_owned()
    }

    #[test]
    fn checkpoints_of_version_1_are_resumed_with_the_same_search() {
        // What version 1 wrote for a text filter, a repeated one given twice,
        // a bare boolean one, a relative start and a page size of 50: every
        // filter, given or not.
        let mut filters = serde_json::Map::new();
        for p in search::PARAMETERS {
            let unset = if p.repeated { json!([]) } else { Value::Null };
            filters.insert(p.name.to_owned(), unset);
        }
        filters.insert(name(Role::Reverse), json!(false));
        let text_filter = search::PARAMETERS
            .iter()
            .find(|p| p.role == Role::Filter && p.kind == search::Kind::String && !p.repeated)
            .unwrap_or_else(|| panic!("a text filter"));
        let list_filter = search::PARAMETERS
            .iter()
            .find(|p| p.role == Role::Filter && p.repeated)
            .unwrap_or_else(|| panic!("a repeated filter"));
        let bool_filter = search::PARAMETERS
            .iter()
            .find(|p| p.role == Role::Filter && p.kind == search::Kind::Bool)
            .unwrap_or_else(|| panic!("a boolean filter"));
        filters.insert(text_filter.name.to_owned(), json!("v1"));
        filters.insert(list_filter.name.to_owned(), json!(["a", "b"]));
        filters.insert(bool_filter.name.to_owned(), json!(true));
        filters.insert(name(Role::Start), json!("2h"));
        let old = json!({
            "kind": CHECKPOINT_KIND,
            "version": 1,
            "export": {
                "search": {"filters": filters, "start_ms": 1000, "end_ms": 9000},
                "page_size": 50,
                "max": 7,
                "fields": ["event_id"]
            },
            "pagination_key": "k9",
            "pages": 3,
            "events": 150,
            "bytes": 4096
        });
        let path = write("v1.checkpoint", &old.to_string());
        let checkpoint = Checkpoint::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let one = |v: &str| vec![v.to_owned()];
        let given: Values = [
            (text_filter.name.to_owned(), one("v1")),
            (list_filter.name.to_owned(), vec!["a".into(), "b".into()]),
            (bool_filter.name.to_owned(), one("true")),
            (name(Role::Start), one("2h")),
        ]
        .into();
        assert_eq!(checkpoint.export.given, given);
        let mut sent = given.clone();
        sent.insert(name(Role::Start), one("1000"));
        sent.insert(name(Role::End), one("9000"));
        sent.insert(name(Role::Limit), one("50"));
        assert_eq!(checkpoint.export.sent, sent);
        assert_eq!(checkpoint.export.max, Some(7));
        assert_eq!(checkpoint.export.fields, ["event_id"]);
        assert_eq!(checkpoint.next_page.as_deref(), Some("k9"));
        assert_eq!(
            (checkpoint.pages, checkpoint.events, checkpoint.bytes),
            (3, 150, 4096)
        );
        assert_eq!(checkpoint.version, CHECKPOINT_VERSION);

        // A parameter this version does not know cannot be searched again.
        let mut gone = old.clone();
        gone["export"]["search"]["filters"]["retired_filter"] = json!("x");
        let path = write("gone.checkpoint", &gone.to_string());
        let refused = Checkpoint::load(&path).err().map(|f| f.message);
        assert!(
            refused
                .as_deref()
                .is_some_and(|m| m.contains("--retired-filter")),
            "{refused:?}"
        );
        // Versions after this one's are refused.
        let mut newer = old;
        newer["version"] = json!(CHECKPOINT_VERSION + 1);
        let path = write("newer.checkpoint", &newer.to_string());
        let refused = Checkpoint::load(&path).err().map(|f| f.message);
        assert!(
            refused
                .as_deref()
                .is_some_and(|m| m.contains("another version")),
            "{refused:?}"
        );
    }

    #[test]
    fn checkpoint_sits_next_to_the_file() {
        assert_eq!(
            checkpoint_path(Path::new("dir/events.jsonl")),
            PathBuf::from("dir/events.jsonl.checkpoint")
        );
    }
}
