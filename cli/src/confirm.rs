//! Asking on the terminal before a deletion that cannot be undone.

use std::io::{self, BufRead, IsTerminal, Write};

use crate::failure::{Failure, Result};

/// Asks `question` on the terminal unless `yes`. Refuses, as a usage error
/// naming `what`, when there is no terminal to ask on (stdin is not one, or
/// `stdin_is_input`: it carries the data), no answer, or not a yes.
pub fn confirm(what: &str, question: &str, stdin_is_input: bool, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    let refuse = |why: &str| {
        Failure::usage(format!("not deleting {what}: {why}"))
            .with_hint("pass --yes to delete without asking")
    };
    let stdin = io::stdin();
    if stdin_is_input || !stdin.is_terminal() {
        return Err(refuse("no terminal to confirm on"));
    }
    eprint!("{question} This cannot be undone. [y/N] ");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    match stdin.lock().read_line(&mut answer) {
        Ok(0) | Err(_) => Err(refuse("no answer")),
        Ok(_) if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") => Ok(()),
        Ok(_) => Err(refuse("not confirmed")),
    }
}
