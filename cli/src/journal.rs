//! The journal of a bulk deletion: an append-only JSON lines file with an
//! entry before each request and one for its outcome, each synced to disk
//! before the run goes on, so that an interrupted run resumes without
//! repeating a deletion and its pacing counts the requests already made.
//!
//! ```text
//! {"kind":"fingerprint-cli delete journal","version":1}
//! {"visitor_id":"vis1","state":"sending","at":1717243200000}
//! {"visitor_id":"vis1","state":"deleted","at":1717243200180}
//! ```

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::durable::sync_dir;
use crate::failure::{Failure, Result};

const KIND: &str = "fingerprint-cli delete journal";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    kind: String,
    version: u32,
}

/// Where a visitor's deletion stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// A request is going out (its outcome follows, unless the run stopped).
    Sending,
    Deleted,
    /// The API knows no such visitor: nothing to delete.
    NotFound,
    /// HTTP 429: the request is made again after a wait.
    Throttled,
    /// Not deleted; a later run tries again.
    Failed,
}

impl State {
    /// Whether a later run skips the visitor.
    pub fn is_done(self) -> bool {
        matches!(self, Self::Deleted | Self::NotFound)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub visitor_id: String,
    pub state: State,
    /// Unix milliseconds.
    pub at: i64,
    /// Why a request failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What an existing journal says.
#[derive(Debug, Default, PartialEq)]
pub struct Past {
    /// The visitors whose deletion is over (deleted, or not found).
    pub done: HashMap<String, State>,
    /// When each request went out, for the quota.
    pub requests: Vec<i64>,
    /// The length of the whole entries; a torn last line (a write cut off
    /// by a crash) lies beyond and is cut away before appending.
    pub valid_len: u64,
}

/// Reads a journal's text.
pub fn read(text: &str) -> std::result::Result<Past, String> {
    let mut past = Past::default();
    let mut offset = 0usize;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let complete = line.ends_with('\n');
        let body = line.trim_end();
        if n == 0 {
            let header: Option<Header> = serde_json::from_str(body).ok();
            match header {
                Some(h) if h.kind == KIND && h.version == VERSION => {}
                Some(h) if h.kind == KIND => {
                    return Err(format!(
                        "written by another version of fingerprint (journal version {})",
                        h.version
                    ));
                }
                _ if !complete => {}
                _ => return Err("not a deletion journal (its first line is not one)".into()),
            }
        } else if !body.is_empty() {
            match serde_json::from_str::<Entry>(body) {
                Ok(entry) => {
                    if entry.state == State::Sending {
                        past.requests.push(entry.at);
                    }
                    if entry.state.is_done() {
                        past.done.insert(entry.visitor_id, entry.state);
                    } else {
                        past.done.remove(&entry.visitor_id);
                    }
                }
                // Cut off by a crash while it was written: dropped.
                Err(_) if !complete => break,
                Err(e) => return Err(format!("line {}: {e}", n + 1)),
            }
        }
        if complete {
            offset += line.len();
        }
    }
    past.valid_len = offset as u64;
    Ok(past)
}

/// An open journal, appended to entry by entry.
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// Opens the journal at `path`, creating it (with its header) when it
    /// does not exist, and returns what it already holds.
    pub fn open(path: &Path) -> Result<(Self, Past)> {
        let shown = path.display().to_string();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Failure::write(&shown, &e))?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| Failure::read(&shown, &e))?;
        let mut journal = Self {
            file,
            path: path.to_owned(),
        };
        if text.is_empty() {
            let header = Header {
                kind: KIND.into(),
                version: VERSION,
            };
            journal.write_line(&header)?;
            sync_dir(path);
            return Ok((journal, Past::default()));
        }
        let past = read(&text).map_err(|why| {
            Failure::invalid(format!("{shown}: {why}"))
                .with_hint("give another --journal, or move this file away to start over")
        })?;
        journal
            .file
            .set_len(past.valid_len)
            .map_err(|e| Failure::write(&shown, &e))?;
        if past.valid_len == 0 {
            // Only a torn header: write it again.
            let header = Header {
                kind: KIND.into(),
                version: VERSION,
            };
            journal.write_line(&header)?;
        }
        Ok((journal, past))
    }

    /// Appends an entry and syncs it to disk.
    pub fn append(&mut self, entry: &Entry) -> Result<()> {
        self.write_line(entry)
    }

    fn write_line(&mut self, value: &impl Serialize) -> Result<()> {
        let mut line = serde_json::to_vec(value)
            .map_err(io::Error::from)
            .map_err(|e| self.failure(&e))?;
        line.push(b'\n');
        // Appends go to the end whatever the position (the file may have
        // been cut back).
        use std::io::Seek;
        self.file
            .seek(io::SeekFrom::End(0))
            .and_then(|_| self.file.write_all(&line))
            .and_then(|()| self.file.sync_data())
            .map_err(|e| self.failure(&e))
    }

    fn failure(&self, error: &io::Error) -> Failure {
        Failure::write(&self.path.display().to_string(), error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "{\"kind\":\"fingerprint-cli delete journal\",\"version\":1}\n";

    fn entry(id: &str, state: &str, at: i64) -> String {
        format!("{{\"visitor_id\":\"{id}\",\"state\":\"{state}\",\"at\":{at}}}\n")
    }

    #[test]
    fn the_last_outcome_of_each_visitor_counts() {
        let text = [
            HEADER.to_owned(),
            entry("a", "sending", 1),
            entry("a", "deleted", 2),
            entry("b", "sending", 3),
            entry("b", "throttled", 4),
            entry("b", "sending", 5),
            entry("b", "not_found", 6),
            entry("c", "sending", 7),
            entry("c", "failed", 8),
            entry("d", "sending", 9),
        ]
        .concat();
        let past = read(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(past.done.len(), 2);
        assert_eq!(past.done.get("a"), Some(&State::Deleted));
        assert_eq!(past.done.get("b"), Some(&State::NotFound));
        // Failed, and cut off while sending: tried again.
        assert!(!past.done.contains_key("c") && !past.done.contains_key("d"));
        assert_eq!(past.requests, [1, 3, 5, 7, 9]);
        assert_eq!(past.valid_len, text.len() as u64);
    }

    #[test]
    fn a_torn_last_line_is_dropped() {
        let whole = [HEADER.to_owned(), entry("a", "sending", 1)].concat();
        let torn = format!("{whole}{{\"visitor_id\":\"a\",\"sta");
        let past = read(&torn).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(past.valid_len, whole.len() as u64);
        assert_eq!(past.requests, [1]);
        assert!(past.done.is_empty());
    }

    #[test]
    fn other_files_are_refused() {
        assert!(read("vis1\nvis2\n").is_err());
        assert!(read("{\"kind\":\"fingerprint-cli delete journal\",\"version\":9}\n").is_err());
        let bad_middle = [HEADER.to_owned(), "oops\n".into(), entry("a", "deleted", 1)].concat();
        let why = read(&bad_middle).err().unwrap_or_default();
        assert!(why.starts_with("line 2:"), "{why}");
    }

    #[test]
    fn appended_entries_are_read_back() {
        let dir = std::env::temp_dir().join(format!("fp-journal-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("j.journal");
        let _ = std::fs::remove_file(&path);
        {
            let (mut journal, past) = Journal::open(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(past, Past::default());
            for (state, at) in [(State::Sending, 10), (State::Deleted, 11)] {
                let written = journal.append(&Entry {
                    visitor_id: "v".into(),
                    state,
                    at,
                    detail: None,
                });
                assert!(written.is_ok());
            }
        }
        // A crash in the middle of the next entry.
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str("{\"visitor_id\":\"w\"");
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        let (mut journal, past) = Journal::open(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(past.done.get("v"), Some(&State::Deleted));
        let written = journal.append(&Entry {
            visitor_id: "w".into(),
            state: State::Failed,
            at: 12,
            detail: Some("HTTP 400".into()),
        });
        assert!(written.is_ok());
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            text.ends_with("\"at\":11}\n{\"visitor_id\":\"w\",\"state\":\"failed\",\"at\":12,\"detail\":\"HTTP 400\"}\n"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
