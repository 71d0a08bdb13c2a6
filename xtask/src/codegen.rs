//! `cargo xtask codegen`: writes what `build.rs` generates from the vendored
//! documents (models, client, search table; v3 too), formatted, so a schema
//! refresh or a codegen change can be reviewed as a Rust diff. Nothing
//! generated is committed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use fingerprint_server_sdk_codegen::{Generated, Options, generate};

pub const HELP: &str = "\
cargo xtask codegen: write the Rust code build.rs generates, for review

USAGE:
    cargo xtask codegen --out <DIR>     write v4_models.rs, v4_client.rs,
                                        v4_search.rs, v3_models.rs and
                                        v3_client.rs into DIR
    cargo xtask codegen --print         print the v4 files to stdout

Then, for example: diff -ru before/ after/ after a schema refresh.
";

/// Runs the subcommand with its arguments.
pub fn run(args: &[String], root: &Path) -> Result<bool> {
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["--out", dir] => {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, generated) in versions(root)? {
                for (file, text) in generated.files(name) {
                    let path = dir.join(&file);
                    std::fs::write(&path, text)
                        .with_context(|| format!("writing {}", path.display()))?;
                    println!("wrote {}", path.display());
                }
                report_stale(&generated);
            }
            Ok(true)
        }
        ["--print"] => {
            let (name, generated) = versions(root)?
                .into_iter()
                .next()
                .context("no API version generated")?;
            for (file, text) in generated.files(name) {
                println!("// ---- {file}\n{text}");
            }
            report_stale(&generated);
            Ok(true)
        }
        ["-h" | "--help"] | [] => {
            print!("{HELP}");
            Ok(true)
        }
        _ => bail!("usage: cargo xtask codegen --out <DIR> | --print (try --help)"),
    }
}

/// Both API versions, generated as build.rs does (v4 with the docs overlay).
fn versions(root: &Path) -> Result<Vec<(&'static str, Generated)>> {
    let openapi = root.join("openapi");
    let read = |name: &str| {
        let path = openapi.join(name);
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    };
    let docs = read("docs.toml").ok();
    let v4 = generate(
        &read("fingerprint-server-api-v4.json")?,
        docs.as_deref(),
        &Options::v4(),
    )?;
    let v3 = generate(
        &read("fingerprint-server-api-v3.json")?,
        None,
        &Options::v3(),
    )?;
    Ok(vec![("v4", v4), ("v3", v3)])
}

fn report_stale(generated: &Generated) {
    for stale in &generated.stale_docs {
        eprintln!("note: openapi/docs.toml: {stale} (cargo xtask regen prunes it)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_the_build_generates() {
        let root = crate::workspace_root();
        let dir = std::env::temp_dir().join(format!("xtask-codegen-{}", std::process::id()));
        assert!(run(&["--out".into(), dir.display().to_string()], &root).expect("runs"));
        let client = std::fs::read_to_string(dir.join("v4_client.rs")).expect("client");
        assert!(client.contains("pub fn get_event(&self)"), "the v4 client");
        assert!(client.contains("crate::runtime::Call::new"), "the seam");
        let search = std::fs::read_to_string(dir.join("v4_search.rs")).expect("search");
        assert!(search.contains("pub static PARAMETERS"));
        assert!(dir.join("v3_models.rs").exists());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn refuses_unknown_arguments() {
        assert!(run(&["--outt".into()], Path::new(".")).is_err());
    }
}
