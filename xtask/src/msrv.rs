//! `cargo xtask msrv`: checks the `rust-version` the workspace's crates declare without
//! installing that toolchain.
//!
//! Two checks, both on what is committed:
//! - no package that a crate with a `rust-version` builds (its dependency graph as locked in
//!   `Cargo.lock`, every feature on) declares a newer `rust-version` than the crate itself;
//! - nothing turns clippy's `incompatible_msrv` lint off (it flags standard library items newer
//!   than `rust-version`; CI runs clippy with `-D warnings`) or gives clippy another `msrv`.
//!
//! Neither sees a language feature newer than `rust-version` (clippy checks library items
//! only); building with that exact toolchain would.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

pub const HELP: &str = "\
cargo xtask msrv: check the declared minimum supported Rust version

USAGE:
    cargo xtask msrv

Reads `cargo metadata --all-features --locked` and fails when a package in the
locked dependency graph of a workspace crate declares a newer `rust-version`
than that crate, or when a file of the workspace allows clippy's
`incompatible_msrv` lint or sets clippy's `msrv`.

EXIT STATUS: 0 all good, 1 a check failed, 2 error.
";

/// Runs both checks on the workspace at `root`; `Ok(false)` when one failed.
pub fn run(args: &[String], root: &Path) -> Result<bool> {
    if let Some(arg) = args.first() {
        if matches!(arg.as_str(), "-h" | "--help") {
            print!("{HELP}");
            return Ok(true);
        }
        bail!("unknown argument `{arg}` (try `cargo xtask msrv --help`)");
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--all-features",
            "--locked",
        ])
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("reading cargo metadata's output")?;

    let mut ok = true;
    for report in check_graph(&metadata)? {
        println!("{report}");
        ok &= report.newer.is_empty();
    }
    let overrides = lint_overrides(root)?;
    for place in &overrides {
        println!("msrv: {place}");
    }
    if overrides.is_empty() {
        println!("msrv: nothing allows clippy's incompatible_msrv lint or overrides its msrv");
    }
    Ok(ok && overrides.is_empty())
}

/// A Rust version as `rust-version` writes it (`1.88` or `1.88.0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RustVersion(u64, u64, u64);

impl RustVersion {
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = || anyhow!("`{text}` is not a rust-version");
        let numbers: Vec<u64> = text
            .trim()
            .split('.')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| invalid())?;
        match numbers[..] {
            [major, minor] => Ok(Self(major, minor, 0)),
            [major, minor, patch] => Ok(Self(major, minor, patch)),
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for RustVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// What one workspace crate's graph holds.
#[derive(Debug)]
pub struct Report {
    pub krate: String,
    pub declared: RustVersion,
    /// Packages in the graph, the crate itself excluded.
    pub packages: usize,
    /// Packages that declare no `rust-version` (nothing to check them against).
    pub undeclared: usize,
    /// The highest `rust-version` declared in the graph, and who declares it.
    pub highest: Option<(RustVersion, Vec<String>)>,
    /// Packages declaring a newer `rust-version` than the crate (`name version: rust-version`).
    pub newer: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "msrv: {} declares rust-version {}; its locked graph has {} packages, {} without a rust-version",
            self.krate, self.declared, self.packages, self.undeclared
        )?;
        if let Some((version, who)) = &self.highest {
            write!(
                f,
                "; the highest declared is {version} ({})",
                who.join(", ")
            )?;
        }
        for package in &self.newer {
            write!(f, "\nmsrv: NEWER than {}: {package}", self.declared)?;
        }
        Ok(())
    }
}

/// One report per workspace member that declares a `rust-version`, over the packages it
/// builds: normal and build dependencies all the way down, and its own dev-dependencies (its
/// tests and examples must build with that toolchain too), every feature on.
pub fn check_graph(metadata: &Value) -> Result<Vec<Report>> {
    let packages: BTreeMap<&str, &Value> = metadata["packages"]
        .as_array()
        .ok_or_else(|| anyhow!("cargo metadata: no packages"))?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .ok_or_else(|| anyhow!("cargo metadata: no resolve graph"))?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let members = metadata["workspace_members"]
        .as_array()
        .ok_or_else(|| anyhow!("cargo metadata: no workspace members"))?;

    let mut reports = Vec::new();
    for member in members.iter().filter_map(Value::as_str) {
        let package = packages
            .get(member)
            .ok_or_else(|| anyhow!("cargo metadata: member {member} has no package"))?;
        let Some(declared) = package["rust_version"].as_str() else {
            continue;
        };
        let declared = RustVersion::parse(declared)?;
        let graph = reachable(member, &nodes);

        let mut report = Report {
            krate: package["name"].as_str().unwrap_or(member).to_owned(),
            declared,
            packages: graph.len(),
            undeclared: 0,
            highest: None,
            newer: Vec::new(),
        };
        for id in graph {
            let dep = packages
                .get(id)
                .ok_or_else(|| anyhow!("cargo metadata: {id} has no package"))?;
            let name = format!(
                "{} {}",
                dep["name"].as_str().unwrap_or(id),
                dep["version"].as_str().unwrap_or("?")
            );
            let Some(text) = dep["rust_version"].as_str() else {
                report.undeclared += 1;
                continue;
            };
            let version = RustVersion::parse(text).with_context(|| name.clone())?;
            if version > declared {
                report.newer.push(format!("{name}: rust-version {text}"));
            }
            match &mut report.highest {
                Some((top, who)) if *top == version => who.push(name),
                Some((top, _)) if *top > version => {}
                _ => report.highest = Some((version, vec![name])),
            }
        }
        reports.push(report);
    }
    Ok(reports)
}

/// Everything `root` builds, `root` excluded: dev-dependency edges are followed from `root`
/// only, since a dependency's dev-dependencies are never built for it.
fn reachable<'a>(root: &'a str, nodes: &BTreeMap<&'a str, &'a Value>) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        let Some(node) = nodes.get(id) else { continue };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let Some(pkg) = dep["pkg"].as_str() else {
                continue;
            };
            let only_dev = dep["dep_kinds"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().all(|k| k["kind"] == "dev"));
            if only_dev && id != root {
                continue;
            }
            if pkg != root && seen.insert(pkg) {
                stack.push(pkg);
            }
        }
    }
    seen
}

/// Places in the workspace that would silence the clippy side of the check: any mention of
/// `incompatible_msrv` (an `allow`, an `expect`, a `-A` in a config's rustflags, a `[lints]`
/// entry) outside this file, and an `msrv` key in a clippy configuration.
pub fn lint_overrides(root: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut files = Vec::new();
    collect_files(root, &mut files)?;
    for path in files {
        let relative = path.strip_prefix(root).unwrap_or(&path);
        if relative == Path::new("xtask/src/msrv.rs") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let shown = relative.display();
        for (number, line) in text.lines().enumerate() {
            if line.contains("incompatible_msrv") {
                found.push(format!(
                    "{shown}:{}: mentions incompatible_msrv",
                    number + 1
                ));
            }
            let is_clippy_config = relative
                .file_name()
                .is_some_and(|name| name == "clippy.toml" || name == ".clippy.toml");
            if is_clippy_config && line.trim_start().starts_with("msrv") {
                found.push(format!(
                    "{shown}:{}: sets clippy's msrv (rust-version is the one to use)",
                    number + 1
                ));
            }
        }
    }
    Ok(found)
}

/// The Rust sources and the Cargo and clippy configuration files under `dir`, outside build
/// output and version control.
fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir() {
            let skipped = name == "target" || (name.starts_with('.') && name != ".cargo");
            if !skipped {
                collect_files(&path, out)?;
            }
        } else if name.ends_with(".rs") || name.ends_with(".toml") || name == "config" {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(id: &str, rust_version: Option<&str>) -> Value {
        json!({ "id": id, "name": id, "version": "1.0.0", "rust_version": rust_version })
    }

    fn edge(pkg: &str, kind: Option<&str>) -> Value {
        json!({ "pkg": pkg, "dep_kinds": [{ "kind": kind }] })
    }

    /// app (1.88) -> lib (normal) -> deep; app -> test_only (dev); lib -> lib_dev (dev, never
    /// built for app); tool has no rust-version.
    fn metadata(deep: Option<&str>, test_only: Option<&str>, lib_dev: Option<&str>) -> Value {
        json!({
            "workspace_members": ["app", "tool"],
            "packages": [
                package("app", Some("1.88")),
                package("tool", None),
                package("lib", Some("1.70")),
                package("deep", deep),
                package("test_only", test_only),
                package("lib_dev", lib_dev),
            ],
            "resolve": { "nodes": [
                { "id": "app", "deps": [edge("lib", None), edge("test_only", Some("dev"))] },
                { "id": "tool", "deps": [edge("lib_dev", None)] },
                { "id": "lib", "deps": [edge("deep", Some("build")), edge("lib_dev", Some("dev"))] },
                { "id": "deep", "deps": [] },
                { "id": "test_only", "deps": [] },
                { "id": "lib_dev", "deps": [] },
            ]}
        })
    }

    #[test]
    fn versions_parse_with_or_without_a_patch_and_order_numerically() {
        let v = |text| RustVersion::parse(text).unwrap();
        assert_eq!(v("1.88"), v("1.88.0"));
        assert!(v("1.100") > v("1.88"));
        assert!(v("1.88.1") > v("1.88"));
        for bad in ["", "1", "1.x", "1.88.0.1", "1.88-nightly"] {
            assert!(RustVersion::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_graph_within_the_declared_version_passes() {
        let reports = check_graph(&metadata(Some("1.88"), None, Some("1.95"))).unwrap();
        assert_eq!(
            reports.len(),
            1,
            "only members with a rust-version are checked"
        );
        let report = &reports[0];
        assert_eq!(report.krate, "app");
        assert!(report.newer.is_empty(), "{report}");
        // lib, deep and test_only; lib's own dev-dependency is not built for app.
        assert_eq!(report.packages, 3);
        assert_eq!(report.undeclared, 1);
        let (top, who) = report.highest.clone().unwrap();
        assert_eq!(
            (top, who),
            (RustVersion(1, 88, 0), vec!["deep 1.0.0".to_owned()])
        );
    }

    #[test]
    fn a_newer_build_dependency_or_dev_dependency_fails() {
        let report = &check_graph(&metadata(Some("1.89"), Some("1.90.1"), None)).unwrap()[0];
        assert_eq!(
            report.newer,
            [
                "deep 1.0.0: rust-version 1.89",
                "test_only 1.0.0: rust-version 1.90.1"
            ]
        );
        let text = report.to_string();
        assert!(text.contains("NEWER than 1.88.0: deep 1.0.0"), "{text}");
    }

    #[test]
    fn an_allowed_lint_or_a_clippy_msrv_is_found() {
        let dir = std::env::temp_dir().join(format!("xtask-msrv-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("target")).unwrap();
        std::fs::write(dir.join("src/lib.rs"), "//! Fine.\npub fn f() {}\n").unwrap();
        // Build output is not the workspace's.
        std::fs::write(
            dir.join("target/x.rs"),
            "#![allow(clippy::incompatible_msrv)]",
        )
        .unwrap();
        assert!(lint_overrides(&dir).unwrap().is_empty());

        std::fs::write(
            dir.join("src/lib.rs"),
            "//! Not fine.\n#![allow(clippy::incompatible_msrv)]\n",
        )
        .unwrap();
        std::fs::write(dir.join("clippy.toml"), "msrv = \"1.60\"\n").unwrap();
        let found = lint_overrides(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found.iter().any(|f| f.starts_with("src/lib.rs:2:")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|f| f.starts_with("clippy.toml:1:")),
            "{found:?}"
        );
    }
}
