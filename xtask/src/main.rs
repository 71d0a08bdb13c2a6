//! `cargo xtask`: maintenance tasks for fingerprint-server-sdk.
//!
//! `cargo xtask regen` turns the upstream OpenAPI description of the
//! Fingerprint Server API (multi-file 3.1 tree or bundled single file) into
//! the committed, prose-free OpenAPI 3.0.3 document that `build.rs` feeds to
//! progenitor. See `cargo xtask --help`.

mod check;
mod codegen;
mod convert;
mod msrv;
mod overlay;
mod public_api;
mod source;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use fingerprint_server_sdk_codegen::Options;
use serde_json::{Map, Value};

use source::{Loader, Loc, RealFetch};

const HELP: &str = "\
cargo xtask: maintenance tasks for fingerprint-server-sdk

USAGE:
    cargo xtask regen [OPTIONS]
    cargo xtask codegen --out <DIR> | --print
    cargo xtask msrv
    cargo xtask public-api
    cargo xtask help

codegen writes the Rust code build.rs generates, formatted, for review
(see `cargo xtask codegen --help`). msrv checks that no dependency needs a
newer Rust than the manifests' rust-version. public-api checks, in rustdoc's
JSON output, that the SDK's public API names no progenitor-client type and no
reqwest type but the reqwest::Client that ClientBuilder::http_client takes.

regen bundles the upstream OpenAPI description of the Fingerprint Server API
into one document, converts it to OpenAPI 3.0.3 (what progenitor reads),
strips all prose (descriptions, summaries, examples, titles, x-* extensions)
and writes, under the output directory:
    fingerprint-server-api-v4.json   the document (sorted keys, 2-space indent)
    SOURCE                           where it came from, with input checksums
(for --api v3: fingerprint-server-api-v3.json and SOURCE-v3). Entries of
docs.toml (v4 only) that name something the new document no longer has are
removed from it and listed. Changes against the previous document are listed
in words, grouped by what they mean for the crate's version.

OPTIONS:
    --from <SRC>          A directory holding the upstream schema tree, an entry
                          file (.yaml/.json), or an http(s) URL of one. For a
                          directory the entry is fingerprint-server-api-v4.yaml
                          (v3: fingerprint-server-api-for-sdks.yaml).
                          Default for v4: the bundled file upstream publishes,
                          https://fingerprintjs.github.io/fingerprint-pro-server-api-openapi/schemas/fingerprint-server-api-v4.yaml
    --api <v4|v3>         Which API to generate [default: v4].
    --out-dir <DIR>       Where the committed files live [default: <workspace>/openapi].
    --upstream-version <X>
                          Upstream release or commit to record in SOURCE.
                          Otherwise read from a .schema-version file next to
                          the entry, else recorded as unknown.
    --check               Write nothing: compare the document computed from
                          --from with the committed one. Exit 0 if identical
                          and docs.toml names nothing missing, 1 with a
                          summary of the drift otherwise. SOURCE is not
                          compared.
    --timeout <SECONDS>   Give up on a download after this long [default: 60].
    -h, --help            Show this help.

EXIT STATUS: 0 success, 1 drift found by --check, 2 error.

EXAMPLES:
    cargo xtask regen --from ../shared/upstream/schemas
    cargo xtask regen --check --from ../shared/upstream/schemas
    cargo xtask regen --check --from ../shared/upstream/published/fingerprint-server-api-v4.yaml
    cargo xtask regen --api v3 --from ../shared/upstream/schemas
";

const PUBLISHED_V4: &str = "https://fingerprintjs.github.io/fingerprint-pro-server-api-openapi/schemas/fingerprint-server-api-v4.yaml";

/// What differs between the API versions.
#[derive(Clone, Copy, Debug)]
pub struct Api {
    pub name: &'static str,
    /// Entry file name inside a directory given to `--from`.
    pub entry: &'static str,
    /// Output document file name.
    pub document: &'static str,
    /// Provenance file name.
    pub source: &'static str,
    /// Paths dropped from the document.
    pub drop_paths: &'static [&'static str],
    pub default_from: Option<&'static str>,
    /// The docs overlay next to the document, if this API has one.
    pub docs: Option<&'static str>,
    /// What the build generates this API with (its document policy judges
    /// the overlay's names).
    pub options: fn() -> Options,
}

pub const V4: Api = Api {
    name: "v4",
    entry: "fingerprint-server-api-v4.yaml",
    document: "fingerprint-server-api-v4.json",
    source: "SOURCE",
    drop_paths: &[],
    default_from: Some(PUBLISHED_V4),
    docs: Some("docs.toml"),
    options: Options::v4,
};

pub const V3: Api = Api {
    name: "v3",
    entry: "fingerprint-server-api-for-sdks.yaml",
    document: "fingerprint-server-api-v3.json",
    source: "SOURCE-v3",
    // A fake `trace` operation upstream uses to describe the webhook body.
    drop_paths: &["/webhook"],
    default_from: None,
    docs: None,
    options: Options::v3,
};

#[derive(Debug)]
struct Args {
    api: &'static Api,
    from: Option<String>,
    out_dir: Option<PathBuf>,
    upstream_version: Option<String>,
    check: bool,
    /// For the whole of each download.
    timeout: Duration,
}

enum Command {
    Help,
    Regen(Args),
    Msrv(Vec<String>),
    Codegen(Vec<String>),
    PublicApi(Vec<String>),
}

fn parse_args(args: &[String]) -> Result<Command> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        None | Some("help" | "-h" | "--help") => return Ok(Command::Help),
        Some("regen") => {}
        Some("msrv") => return Ok(Command::Msrv(it.cloned().collect())),
        Some("codegen") => return Ok(Command::Codegen(it.cloned().collect())),
        Some("public-api") => return Ok(Command::PublicApi(it.cloned().collect())),
        Some(other) => bail!("unknown command `{other}` (try `cargo xtask --help`)"),
    }
    let mut a = Args {
        api: &V4,
        from: None,
        out_dir: None,
        upstream_version: None,
        check: false,
        timeout: source::DEFAULT_TIMEOUT,
    };
    let rest: Vec<&String> = it.collect();
    let mut i = 0;
    while i < rest.len() {
        let arg = rest[i].as_str();
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg, None),
        };
        let mut value = || -> Result<String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            i += 1;
            rest.get(i)
                .map(|s| s.to_string())
                .ok_or_else(|| anyhow!("{flag} needs a value"))
        };
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "--check" => a.check = true,
            "--from" => a.from = Some(value()?),
            "--out-dir" => a.out_dir = Some(PathBuf::from(value()?)),
            "--upstream-version" => a.upstream_version = Some(value()?),
            "--timeout" => {
                let v = value()?;
                a.timeout = v
                    .parse::<f64>()
                    .ok()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        anyhow!("--timeout {v}: expected a number of seconds above 0")
                    })?;
            }
            "--api" => {
                a.api = match value()?.as_str() {
                    "v4" | "4" => &V4,
                    "v3" | "3" => &V3,
                    other => bail!("unknown --api `{other}` (expected v4 or v3)"),
                }
            }
            _ => bail!("unknown argument `{arg}` (try `cargo xtask regen --help`)"),
        }
        i += 1;
    }
    Ok(Command::Regen(a))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = parse_args(&args).and_then(|cmd| match cmd {
        Command::Help => {
            print!("{HELP}");
            Ok(true)
        }
        Command::Regen(a) => regen(&a, &mut std::io::stdout()),
        Command::Msrv(rest) => msrv::run(&rest, &workspace_root()),
        Command::Codegen(rest) => codegen::run(&rest, &workspace_root()),
        Command::PublicApi(rest) => public_api::run(&rest, &workspace_root()),
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root (the parent of this crate).
fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The result of one generation, before anything is written.
#[derive(Debug)]
pub struct Generated {
    pub document: Value,
    /// The document as committed: canonical JSON text.
    pub text: String,
    /// The SOURCE file text.
    pub source: String,
    pub form: &'static str,
    pub files_read: usize,
}

/// Where the input is, as a location of the entry document.
fn entry_location(from: &str, api: &Api, cwd: &Path) -> Result<Loc> {
    if source::is_url(from) {
        let url = if from.ends_with('/') {
            format!("{from}{}", api.entry)
        } else {
            from.to_string()
        };
        return Ok(Loc::Url(url));
    }
    let path = source::normalize_path(&cwd.join(from));
    if path.is_dir() {
        Ok(Loc::File(path.join(api.entry)))
    } else if path.is_file() {
        Ok(Loc::File(path))
    } else {
        bail!("--from {from}: no such file or directory")
    }
}

/// `--from` as recorded in SOURCE: URLs as given, local paths relative to
/// the workspace root.
fn recorded_from(from: &str, cwd: &Path, root: &Path) -> String {
    if source::is_url(from) {
        return from.to_string();
    }
    let abs = source::normalize_path(&cwd.join(from));
    let rel = source::relative_path(&abs, &source::normalize_path(root));
    if rel.starts_with("../..") {
        // Far from the workspace: a relative path would only confuse.
        abs.to_string_lossy().replace('\\', "/")
    } else {
        rel
    }
}

fn upstream_version(flag: Option<&str>, entry: &Loc) -> Result<String> {
    if let Some(v) = flag {
        return Ok(v.trim().to_string());
    }
    if let Loc::File(p) = entry {
        let file = p.with_file_name(".schema-version");
        if file.is_file() {
            let v = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let v = v.trim();
            if !v.is_empty() {
                return Ok(v.to_string());
            }
        }
    }
    Ok("unknown".to_string())
}

/// Builds the document and SOURCE text for `entry`.
pub fn generate(
    fetch: &dyn source::Fetch,
    entry: &Loc,
    api: &Api,
    recorded_from: &str,
    upstream_version: &str,
) -> Result<Generated> {
    let mut loader = Loader::new(fetch);
    let opts = convert::Options {
        drop_paths: api.drop_paths.iter().map(|s| s.to_string()).collect(),
    };
    let document = convert::convert(&mut loader, entry, &opts)?;
    let text = canonical_json(&document)?;

    let files: Vec<(String, &[u8])> = loader
        .files()
        .map(|(l, b)| (l.relative_to(entry), b))
        .collect();
    let files_read = files.len();
    let (form, input_sha) = if files_read == 1 {
        ("single-file", source::sha256_hex(files[0].1))
    } else {
        ("tree", source::tree_sha256(files))
    };
    let info_version = document
        .pointer("/info/version")
        .and_then(Value::as_str)
        .unwrap_or("");
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string());
    let entry_name = match entry {
        Loc::File(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Loc::Url(u) => u.rsplit('/').next().unwrap_or(u).to_string(),
    };
    let sha_note = if form == "tree" {
        "# input_sha256: over every file read, sorted by path relative to the entry's\n\
         # directory, each as: path, NUL, byte length in decimal, NUL, bytes.\n"
    } else {
        "# input_sha256: of the single input file.\n"
    };
    let source = format!(
        "# Generated by `cargo xtask regen`; do not edit by hand.\n\
         # Provenance of {doc} (next to this file): the upstream source below,\n\
         # bundled, converted to OpenAPI 3.0.3 and stripped of prose.\n\
         api = {api}\n\
         from = {from}\n\
         form = {form}\n\
         entry = {entry}\n\
         upstream_version = {uv}\n\
         info_version = {iv}\n\
         files_read = {files_read}\n\
         {sha_note}\
         input_sha256 = {isha}\n\
         document_sha256 = {dsha}\n",
        doc = api.document,
        api = q(api.name),
        from = q(recorded_from),
        form = q(form),
        entry = q(&entry_name),
        uv = q(upstream_version),
        iv = q(info_version),
        isha = q(&input_sha),
        dsha = q(&source::sha256_hex(text.as_bytes())),
    );
    Ok(Generated {
        document,
        text,
        source,
        form,
        files_read,
    })
}

/// Deterministic JSON: keys sorted at every level, 2-space indent, trailing
/// newline. Sorting is done here rather than relying on serde_json's map
/// type, so the output does not depend on its `preserve_order` feature.
pub fn canonical_json(v: &Value) -> Result<String> {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let mut s = serde_json::to_string_pretty(&sorted(v)).context("serializing the document")?;
    s.push('\n');
    Ok(s)
}

fn summary(doc: &Value) -> String {
    let count = |p: &str| {
        doc.pointer(p)
            .and_then(Value::as_object)
            .map_or(0, Map::len)
    };
    let ops = check::operations(doc).len();
    format!(
        "{} paths, {ops} operations, {} schemas",
        count("/paths"),
        count("/components/schemas")
    )
}

fn display(p: &Path, root: &Path) -> String {
    match p.strip_prefix(root) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => p.display().to_string(),
    }
}

/// Prints a line, ignoring a closed pipe (`| head`).
macro_rules! say {
    ($out:expr, $($t:tt)*) => {{
        let _ = writeln!($out, $($t)*);
    }};
}

/// The docs overlay of `api` under `out_dir`, if it has one and the file
/// exists: its path and parsed form.
fn read_overlay(api: &Api, out_dir: &Path) -> Result<Option<(PathBuf, toml_edit::DocumentMut)>> {
    let Some(name) = api.docs else {
        return Ok(None);
    };
    let path = out_dir.join(name);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let docs = overlay::parse(&text).with_context(|| format!("{}", path.display()))?;
    Ok(Some((path, docs)))
}

/// Runs `regen`, reporting to `out`; `Ok(false)` means `--check` found
/// drift.
fn regen(a: &Args, out: &mut dyn Write) -> Result<bool> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let root = workspace_root();
    let from = match (&a.from, a.api.default_from) {
        (Some(f), _) if source::is_url(f) => f.clone(),
        (Some(f), _) => match f.trim_end_matches(['/', '\\']) {
            "" => f.clone(),
            trimmed => trimmed.to_string(),
        },
        (None, Some(d)) => {
            eprintln!("no --from given: using {d}");
            d.to_string()
        }
        (None, None) => bail!("--api {} needs --from", a.api.name),
    };
    let entry = entry_location(&from, a.api, &cwd)?;
    let out_dir = match &a.out_dir {
        Some(d) => source::normalize_path(&cwd.join(d)),
        None => root.join("openapi"),
    };
    let uv = upstream_version(a.upstream_version.as_deref(), &entry)?;
    let recorded = recorded_from(&from, &cwd, &root);
    let fetch = RealFetch { timeout: a.timeout };
    let g = generate(&fetch, &entry, a.api, &recorded, &uv)
        .with_context(|| format!("converting {entry}"))?;

    let doc_path = out_dir.join(a.api.document);
    let shown = display(&doc_path, &root);
    let committed = match std::fs::read_to_string(&doc_path) {
        Ok(t) => Some(t.replace("\r\n", "\n")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", doc_path.display())),
    };
    let overlay = read_overlay(a.api, &out_dir)?;
    let stale = match &overlay {
        Some((_, docs)) => overlay::stale_names(docs, &g.document, &(a.api.options)().policy)?,
        None => Vec::new(),
    };
    let entries = format!(
        "{} entr{} naming what the new document does not have",
        stale.len(),
        if stale.len() == 1 { "y" } else { "ies" }
    );
    let list_stale = |out: &mut dyn Write, headline: String| {
        say!(out, "{headline}:");
        for s in &stale {
            say!(out, "    - {}", overlay::Entry(s));
        }
    };

    if a.check {
        let mut ok = true;
        match committed {
            None => {
                say!(
                    out,
                    "DRIFT: {shown} does not exist; run `cargo xtask regen --api {} --from {from}`",
                    a.api.name
                );
                ok = false;
            }
            Some(committed) if committed == g.text => say!(
                out,
                "OK: {shown} is up to date with {from} ({})",
                summary(&g.document)
            ),
            Some(committed) => {
                say!(
                    out,
                    "DRIFT: {shown} differs from what {from} gives; from the committed document to it:"
                );
                match serde_json::from_str::<Value>(&committed) {
                    Ok(old) => {
                        let d = check::compare(&old, &g.document);
                        if d.is_empty() {
                            say!(out, "  same content, different formatting (hand-edited?)");
                        } else {
                            say!(out, "{}", d.render().trim_end());
                        }
                    }
                    Err(e) => say!(out, "  the committed file is not valid JSON: {e}"),
                }
                ok = false;
            }
        }
        if let Some((path, _)) = overlay.as_ref().filter(|_| !stale.is_empty()) {
            let path = display(path, &root);
            list_stale(out, format!("{path} has {entries} (regen removes them)"));
            ok = false;
        }
        if !ok {
            say!(
                out,
                "To accept it: cargo xtask regen --api {} --from {from}",
                a.api.name
            );
        }
        return Ok(ok);
    }

    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    if let Some(old) = committed
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    {
        let d = check::compare(&old, &g.document);
        if !d.is_empty() {
            say!(out, "changes against the previous {shown}:");
            say!(out, "{}", d.render().trim_end());
        }
    }
    std::fs::write(&doc_path, &g.text)
        .with_context(|| format!("writing {}", doc_path.display()))?;
    let source_path = out_dir.join(a.api.source);
    std::fs::write(&source_path, &g.source)
        .with_context(|| format!("writing {}", source_path.display()))?;
    say!(
        out,
        "wrote {shown} ({}) and {} from {from} ({}, {} file{} read, upstream version {uv})",
        summary(&g.document),
        display(&source_path, &root),
        g.form,
        g.files_read,
        if g.files_read == 1 { "" } else { "s" },
    );
    if let Some((path, mut docs)) = overlay.filter(|_| !stale.is_empty()) {
        overlay::prune(&mut docs, &stale);
        std::fs::write(&path, docs.to_string())
            .with_context(|| format!("writing {}", path.display()))?;
        let path = display(&path, &root);
        list_stale(out, format!("removed from {path} {entries}"));
    }
    Ok(true)
}

#[cfg(test)]
mod tests;
