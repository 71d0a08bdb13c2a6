//! What every test of the `fingerprint` binary starts from: the binary
//! without the user's settings, running it and reading what it printed,
//! the SDK's fake API for it to call, and scratch directories.

// Each test file uses a part of this.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use fingerprint_server_sdk::mock::{self, FakeApi};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_fingerprint");

/// A key that appears nowhere unless something prints it.
pub const SECRET_KEY: &str = "sk_test_cli_Wq3nP8zK5vT1";

/// The binary with none of the user's Fingerprint settings, nor the test
/// hooks' or the terminal's, and no stdin.
pub fn command() -> Command {
    let mut command = Command::new(BIN);
    for var in [
        "FINGERPRINT_SECRET_API_KEY",
        "FINGERPRINT_REGION",
        "FINGERPRINT_WEBHOOK_SECRET",
        "FINGERPRINT_EXPORT_STOP_AFTER_PAGES",
        "FINGERPRINT_TEST_TIME_SCALE",
        "COLUMNS",
    ] {
        command.env_remove(var);
    }
    command.stdin(Stdio::null());
    command
}

/// A fresh directory under cargo's temporary directory, one folder per
/// test file.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(concat!(env!("CARGO_CRATE_NAME"), "-tests"))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

pub fn path_str(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {path:?}"))
}

/// What a finished command printed, and its exit code (-1 when a signal
/// ended it).
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn finish(output: std::process::Output) -> Output {
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs [`command`] with `args` to the end.
pub fn run(args: &[&str]) -> Output {
    run_in(command(), args)
}

pub fn run_in(mut command: Command, args: &[&str]) -> Output {
    finish(
        command
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}")),
    )
}

/// A spawned command whose stdout and stderr are read as they come.
pub struct Running {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_lines: mpsc::Receiver<String>,
}

impl Running {
    pub fn start(mut command: Command, args: &[&str]) -> Self {
        let mut child = command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
        let (out_tx, stdout) = mpsc::channel();
        let out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
                if out_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let (err_tx, stderr_lines) = mpsc::channel();
        let err = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let all = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(|l| l.ok()) {
                if let Ok(mut all) = all.lock() {
                    all.push_str(&line);
                    all.push('\n');
                }
                let _ = err_tx.send(line);
            }
        });
        Self {
            child,
            stdout,
            stderr,
            stderr_lines,
        }
    }

    /// The process id, for signals.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line, within a few seconds.
    pub fn line(&self) -> String {
        self.stdout
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no output; stderr: {}", self.stderr()))
    }

    /// Reads stderr until a line contains `text`.
    pub fn wait_for_stderr(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no stderr line with {text:?}: {}", self.stderr())
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits for the exit (killing the command after `limit`), then
    /// returns what it printed that was not read yet.
    pub fn finish(mut self, limit: Duration) -> Output {
        let deadline = Instant::now() + limit;
        let code = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.code().unwrap_or(-1),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.child.kill();
                    panic!("still running after {limit:?}; stderr: {}", self.stderr());
                }
            }
        };
        // The reader threads end with the process's pipes.
        let stdout: String = self.stdout.iter().map(|l| l + "\n").collect();
        while self.stderr_lines.recv().is_ok() {}
        Output {
            code,
            stdout,
            stderr: self.stderr(),
        }
    }
}

/// A test that fails midway leaves no process behind.
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fake API on its own runtime, for the child processes to call.
pub struct Api {
    pub fake: FakeApi,
    pub url: String,
    /// The timestamp of `evt-00000` (see [`Api::with_events`]).
    pub newest_ms: i64,
    // Dropped after the fake.
    _runtime: tokio::runtime::Runtime,
}

impl Api {
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let fake = runtime
            .block_on(FakeApi::start_on(addr, SECRET_KEY))
            .unwrap_or_else(|e| panic!("{e}"));
        Self {
            url: fake.url(),
            newest_ms: mock::now_ms() - 60_000,
            fake,
            _runtime: runtime,
        }
    }

    /// `count` events `evt-00000`, `evt-00001`, ... one second apart, newest
    /// first (the newest a minute old), over `visitors` visitors.
    pub fn with_events(count: usize, visitors: usize) -> Self {
        let api = Self::start();
        for i in 0..count {
            api.insert(event(
                i,
                api.newest_ms - (i as i64) * 1000,
                &format!("vis{}", i % visitors),
            ));
        }
        api
    }

    pub fn insert(&self, event: Value) {
        self.fake
            .insert_json(event)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["--base-url", &self.url, "--api-key", SECRET_KEY];
        all.extend_from_slice(args);
        run(&all)
    }
}

/// The event `evt-{i:05}` at `ts`: a bad bot every tenth from the fourth,
/// suspect every seventh.
pub fn event(i: usize, ts: i64, visitor: &str) -> Value {
    json!({
        "event_id": format!("evt-{i:05}"),
        "timestamp": ts,
        "url": format!("https://shop.example/p/{i}"),
        "ip_address": format!("192.0.2.{}", i % 250 + 1),
        "identification": {
            "visitor_id": visitor,
            "visitor_found": true,
            "confidence": {"score": 0.5}
        },
        "bot": if i % 10 == 3 { "bad" } else { "not_detected" },
        "suspect": i.is_multiple_of(7)
    })
}

/// `text` as JSON, or a panic showing it.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The lines of `text` that are not empty.
pub fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.is_empty()).collect()
}

/// The `event_id` of each JSON line of `text`.
pub fn ids(text: &str) -> Vec<String> {
    lines(text)
        .iter()
        .map(|l| json(l)["event_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The ids [`event`] gives the events numbered `range`.
pub fn expected_ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("evt-{i:05}")).collect()
}

/// Asserts that stderr is one `error: ` line.
pub fn assert_one_error_line(out: &Output) {
    let errors = lines(&out.stderr);
    assert_eq!(errors.len(), 1, "{out:?}");
    assert!(errors[0].starts_with("error: "), "{out:?}");
}
