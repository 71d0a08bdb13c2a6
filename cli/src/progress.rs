//! Progress of long work (export, bulk deletion, `--all` searches) on
//! stderr: an indicatif bar when stderr is a terminal, nothing when it is
//! not, so logs and pipes only get the lines that matter.

use std::io::{self, IsTerminal};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar (known total) or a counter with a spinner (unknown total).
pub struct Progress {
    bar: ProgressBar,
    visible: bool,
}

impl Progress {
    /// Counts `unit`s ("events", "visitors") towards `total`, if known.
    /// Shown only when `wanted` and stderr is a terminal.
    pub fn new(total: Option<u64>, unit: &str, wanted: bool) -> Self {
        if !wanted || !io::stderr().is_terminal() {
            return Self::hidden();
        }
        let template = match total {
            Some(_) => format!(
                "{{spinner}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{per_sec}}, {{elapsed}}) {{msg}}"
            ),
            None => format!("{{spinner}} {{pos}} {unit} ({{per_sec}}, {{elapsed}}) {{msg}}"),
        };
        // The template is ours and valid; should indicatif ever refuse it,
        // the default style still shows progress.
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar =
            ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr()).with_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar, visible: true }
    }

    /// Shows nothing; [`line`](Self::line) still prints.
    pub fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
            visible: false,
        }
    }

    pub fn set_position(&self, done: u64) {
        self.bar.set_position(done);
    }

    pub fn inc(&self, by: u64) {
        self.bar.inc(by);
    }

    /// What is happening now (e.g. a wait for a quota), after the counts.
    pub fn set_message(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
    }

    /// A line that stays: printed above the bar, or on stderr when there is
    /// no bar.
    pub fn line(&self, text: &str) {
        if self.visible {
            self.bar.println(text);
        } else {
            note!("{text}");
        }
    }

    /// Removes the bar (before the final summary line).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // An error return leaves no half-drawn bar before the error line.
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}
