//! What every test of the `fingerprint` binary starts from: the binary
//! without the user's settings, and scratch directories.

// Each test file uses a part of this.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_fingerprint");

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
