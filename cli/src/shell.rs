//! `completions` and `manpage`: the command line described for shells and
//! for `man`, generated from the same definitions as `--help`.

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs, ManpageArgs};
use crate::failure::{Failure, Result};
use crate::output::print_bytes;

/// The name the scripts and pages use.
const NAME: &str = "fingerprint";

/// `completions <shell>`: the script on stdout.
pub fn completions(args: &CompletionsArgs) -> Result<()> {
    // Written to memory first: the generators panic on a write error (a
    // closed pipe), the CLI reports it.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), NAME, &mut script);
    print_bytes(&script)
}

/// `manpage`: the main page on stdout, or every page into `--dir`.
pub fn manpage(args: &ManpageArgs) -> Result<()> {
    let command = Cli::command().name(NAME);
    match &args.dir {
        Some(dir) => {
            let shown = dir.display().to_string();
            std::fs::create_dir_all(dir).map_err(|e| Failure::write(&shown, &e))?;
            clap_mangen::generate_to(command, dir).map_err(|e| Failure::write(&shown, &e))?;
            note!("wrote the manual pages to {shown}");
            Ok(())
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|e| Failure::write("stdout", &e))?;
            print_bytes(&page)
        }
    }
}
