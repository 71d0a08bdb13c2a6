//! Generates the client and models from the vendored OpenAPI documents, with
//! the `fingerprint-server-sdk-codegen` crate: read the document (and the
//! docs overlay), generate, write to `OUT_DIR`. Nothing else is read; no
//! network.

use std::path::{Path, PathBuf};

use fingerprint_server_sdk_codegen::{Options, generate};

fn main() {
    if let Err(message) = run() {
        // A build script reports failure by exiting non-zero; cargo shows
        // the message.
        eprintln!("fingerprint-server-sdk build script: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(env("OUT_DIR")?);
    let openapi = manifest.join("openapi");
    // A stale or unreadable overlay never fails a build: its text is left
    // out, and `cargo xtask regen` prunes it.
    let docs = read(&openapi.join("docs.toml")).ok();
    write_version(
        &openapi.join("fingerprint-server-api-v4.json"),
        docs.as_deref(),
        &Options::v4(),
        &out,
        "v4",
    )?;
    // The deprecated v3 API costs nothing unless asked for.
    if std::env::var_os("CARGO_FEATURE_V3").is_some() {
        write_version(
            &openapi.join("fingerprint-server-api-v3.json"),
            None,
            &Options::v3(),
            &out,
            "v3",
        )?;
    }
    Ok(())
}

fn write_version(
    document: &Path,
    docs: Option<&str>,
    options: &Options,
    out: &Path,
    name: &str,
) -> Result<(), String> {
    let generated = generate(&read(document)?, docs, options)
        .map_err(|e| format!("{}: {e}", document.display()))?;
    for stale in &generated.stale_docs {
        println!("cargo:warning=openapi/docs.toml: {stale} (run `cargo xtask regen` to prune)");
    }
    for (file, text) in generated.files(name) {
        write(&out.join(file), text)?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, String> {
    println!("cargo:rerun-if-changed={}", path.display());
    std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|e| format!("{name}: {e}"))
}
