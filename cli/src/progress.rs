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
    /// Counts `unit`s ("events", "visitors") towards `total`, if known,
    /// with their rate per second when `rate`. Shown only when `wanted` and
    /// stderr is a terminal.
    pub fn new(total: Option<u64>, unit: &str, rate: bool, wanted: bool) -> Self {
        if !wanted || !io::stderr().is_terminal() {
            return Self::hidden();
        }
        let rate = if rate { "{rate}, " } else { "" };
        let template = match total {
            Some(_) => {
                format!("{{spinner}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({rate}{{elapsed}})")
            }
            None => format!("{{spinner}} {{pos}} {unit} ({rate}{{elapsed}})"),
        };
        // The template is ours and valid; should indicatif ever refuse it,
        // the default style still shows progress.
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}/s", state.per_sec());
                },
            )
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
