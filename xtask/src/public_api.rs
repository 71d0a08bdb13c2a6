//! `cargo xtask public-api`: checks that the SDK's public API names no type
//! of `progenitor-client` and no `reqwest` type but the one deliberate door
//! (the `reqwest::Client` taken by `http_client`), so that upgrading either
//! is not a breaking change for users. Reads rustdoc's JSON output (a
//! nightly-only format; run on the stable toolchain with `RUSTC_BOOTSTRAP=1`
//! for rustdoc alone).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Crates whose items must not appear in the public API.
const FORBIDDEN: &[&str] = &["progenitor_client", "reqwest"];

/// (public item, external path) pairs that are allowed.
const ALLOWED: &[(&str, &str)] = &[("http_client", "reqwest::async_impl::client::Client")];

/// Builds the JSON docs of the SDK (every feature) and checks them.
pub fn run(args: &[String], root: &Path) -> Result<bool> {
    if !args.is_empty() {
        bail!("usage: cargo xtask public-api (no arguments)");
    }
    let wrapper = root.join(".ci/rustdoc-nightly-features");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(root)
        .env("RUSTDOC", &wrapper)
        .args([
            "rustdoc",
            "-p",
            "fingerprint-server-sdk",
            "--all-features",
            "--",
            "-Z",
            "unstable-options",
            "--output-format",
            "json",
        ])
        .status()
        .context("running cargo rustdoc")?;
    if !status.success() {
        bail!("cargo rustdoc failed ({status})");
    }
    // Where cargo put it: CARGO_TARGET_DIR or build.target-dir may move
    // the target directory away from the workspace's `target/`.
    let metadata = Command::new(&cargo)
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("running cargo metadata")?;
    if !metadata.status.success() {
        bail!("cargo metadata failed ({})", metadata.status);
    }
    let metadata: Value =
        serde_json::from_slice(&metadata.stdout).context("cargo metadata's JSON")?;
    let path = target_directory(&metadata)?.join("doc/fingerprint_server_sdk.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let doc: Value = serde_json::from_str(&text).context("rustdoc's JSON")?;
    let found = violations(&doc)?;
    if found.is_empty() {
        println!(
            "OK: no {} type in the public API except {}",
            FORBIDDEN.join(" or "),
            ALLOWED
                .iter()
                .map(|(item, path)| format!("{path} in `{item}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(true);
    }
    println!("the public API names types of {}:", FORBIDDEN.join(" or "));
    for (item, path) in &found {
        println!("  `{item}` names {path}");
    }
    Ok(false)
}

/// The target directory `cargo metadata` reports.
fn target_directory(metadata: &Value) -> Result<PathBuf> {
    metadata
        .get("target_directory")
        .and_then(Value::as_str)
        .map(PathBuf::from)
        .context("cargo metadata names no target_directory")
}

/// Every (public item, forbidden external path) the JSON docs hold, less
/// the allowed ones: references from the crate's own items, and external
/// items re-exported (inlined) into its API.
pub fn violations(doc: &Value) -> Result<BTreeSet<(String, String)>> {
    let crates: BTreeMap<u64, &str> = doc
        .get("external_crates")
        .and_then(Value::as_object)
        .context("no external_crates")?
        .iter()
        .filter_map(|(id, c)| Some((id.parse().ok()?, c.get("name")?.as_str()?)))
        .collect();
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .context("no paths")?;
    let forbidden_crate = |crate_id: Option<u64>| {
        crate_id
            .and_then(|id| crates.get(&id))
            .is_some_and(|name| FORBIDDEN.contains(name))
    };
    let external = |id: u64| -> Option<String> {
        let entry = paths.get(&id.to_string())?;
        if !forbidden_crate(entry.get("crate_id").and_then(Value::as_u64)) {
            return None;
        }
        let parts: Vec<&str> = entry
            .get("path")?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        Some(parts.join("::"))
    };
    let mut out = BTreeSet::new();
    let index = doc
        .get("index")
        .and_then(Value::as_object)
        .context("no index")?;
    for item in index.values() {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("(impl)")
            .to_owned();
        let crate_id = item.get("crate_id").and_then(Value::as_u64);
        if forbidden_crate(crate_id) {
            out.insert((
                name.clone(),
                format!("itself (an item of that crate): {name}"),
            ));
            continue;
        }
        if crate_id != Some(0) {
            continue;
        }
        let mut ids = BTreeSet::new();
        referenced_ids(item.get("inner").unwrap_or(&Value::Null), &mut ids);
        for id in ids {
            if let Some(path) = external(id)
                && !ALLOWED.contains(&(name.as_str(), path.as_str()))
            {
                out.insert((name.clone(), path));
            }
        }
    }
    Ok(out)
}

/// Every `"id"` under `node`: paths of types, re-exports, trait impls.
fn referenced_ids(node: &Value, out: &mut BTreeSet<u64>) {
    match node {
        Value::Object(map) => {
            if let Some(id) = map.get("id").and_then(Value::as_u64) {
                out.insert(id);
            }
            map.values().for_each(|v| referenced_ids(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| referenced_ids(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_json_is_read_from_the_target_directory_cargo_reports() {
        let metadata = json!({"packages": [], "target_directory": "/elsewhere/target"});
        assert_eq!(
            target_directory(&metadata)
                .unwrap()
                .join("doc/fingerprint_server_sdk.json"),
            Path::new("/elsewhere/target/doc/fingerprint_server_sdk.json")
        );
        assert!(target_directory(&json!({"packages": []})).is_err());
    }

    fn doc(index: Value) -> Value {
        json!({
            "external_crates": {"1": {"name": "reqwest"}, "2": {"name": "progenitor_client"}, "3": {"name": "http"}},
            "paths": {
                "10": {"crate_id": 1, "path": ["reqwest", "async_impl", "client", "Client"]},
                "11": {"crate_id": 1, "path": ["reqwest", "error", "Error"]},
                "12": {"crate_id": 2, "path": ["progenitor_client", "ResponseValue"]},
                "13": {"crate_id": 3, "path": ["http", "status", "StatusCode"]}
            },
            "index": index
        })
    }

    #[test]
    fn the_one_door_passes_and_everything_else_is_named() {
        let clean = doc(json!({
            "100": {"crate_id": 0, "name": "http_client", "inner": {"function": {"sig": {"inputs": [["client", {"resolved_path": {"path": "reqwest::Client", "id": 10}}]]}}}},
            "101": {"crate_id": 0, "name": "status", "inner": {"function": {"sig": {"output": {"resolved_path": {"path": "http::StatusCode", "id": 13}}}}}}
        }));
        assert_eq!(violations(&clean).expect("checks"), BTreeSet::new());

        let leaky = doc(json!({
            "100": {"crate_id": 0, "name": "Transport", "inner": {"variant": {"kind": {"struct": {"fields": [{"resolved_path": {"path": "reqwest::Error", "id": 11}}]}}}}},
            "101": {"crate_id": 0, "name": "ResponseValue", "inner": {"use": {"source": "progenitor_client::ResponseValue", "name": "ResponseValue", "id": 12}}},
            "102": {"crate_id": 0, "name": "other", "inner": {"function": {"sig": {"inputs": [["c", {"resolved_path": {"path": "reqwest::Client", "id": 10}}]]}}}},
            "103": {"crate_id": 2, "name": "ByteStream", "inner": {"struct": {}}}
        }));
        let found: Vec<(String, String)> =
            violations(&leaky).expect("checks").into_iter().collect();
        assert_eq!(
            found,
            [
                (
                    "ByteStream".into(),
                    "itself (an item of that crate): ByteStream".into()
                ),
                (
                    "ResponseValue".into(),
                    "progenitor_client::ResponseValue".into()
                ),
                ("Transport".into(), "reqwest::error::Error".into()),
                ("other".into(), "reqwest::async_impl::client::Client".into()),
            ]
        );
    }
}
