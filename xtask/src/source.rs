//! Where documents come from: local files or http(s) URLs, parsed from YAML
//! or JSON into `serde_json::Value`, with a record of every file read so the
//! input can be fingerprinted.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A document location: an absolute, lexically normalised path or an
/// absolute http(s) URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Loc {
    File(PathBuf),
    Url(String),
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::File(p) => write!(f, "{}", p.display()),
            Loc::Url(u) => f.write_str(u),
        }
    }
}

pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

impl Loc {
    /// Resolves a relative reference (the part of a `$ref` before `#`)
    /// against this document.
    pub fn resolve(&self, reference: &str) -> Result<Loc> {
        if is_url(reference) {
            return Ok(Loc::Url(normalize_url(reference)?));
        }
        match self {
            Loc::File(p) => {
                let rel = Path::new(reference);
                let joined = if rel.is_absolute() {
                    rel.to_path_buf()
                } else {
                    p.parent().unwrap_or(Path::new("/")).join(rel)
                };
                Ok(Loc::File(normalize_path(&joined)))
            }
            Loc::Url(u) => {
                if reference.starts_with('/') {
                    // Absolute path on the same origin.
                    let origin_end = u
                        .find("://")
                        .and_then(|i| u[i + 3..].find('/').map(|j| i + 3 + j))
                        .unwrap_or(u.len());
                    Ok(Loc::Url(normalize_url(&format!(
                        "{}{}",
                        &u[..origin_end],
                        reference
                    ))?))
                } else {
                    let base_end = u.rfind('/').map(|i| i + 1).unwrap_or(u.len());
                    Ok(Loc::Url(normalize_url(&format!(
                        "{}{}",
                        &u[..base_end],
                        reference
                    ))?))
                }
            }
        }
    }

    /// The file name without its extension (`components/schemas/Foo.yaml` → `Foo`).
    pub fn stem(&self) -> String {
        let name = match self {
            Loc::File(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Loc::Url(u) => {
                let path = u.split(['?', '#']).next().unwrap_or(u);
                path.rsplit('/').next().unwrap_or(path).to_string()
            }
        };
        match name.rfind('.') {
            Some(i) if i > 0 => name[..i].to_string(),
            _ => name,
        }
    }

    fn is_json(&self) -> bool {
        let s = match self {
            Loc::File(p) => p.to_string_lossy().into_owned(),
            Loc::Url(u) => u.split(['?', '#']).next().unwrap_or(u).to_string(),
        };
        s.ends_with(".json")
    }

    /// This location written relative to `base` (a document whose directory
    /// is the root of the input), with `/` separators.
    pub fn relative_to(&self, base: &Loc) -> String {
        match (self, base) {
            (Loc::File(p), Loc::File(b)) => {
                let dir = b.parent().unwrap_or(Path::new("/"));
                relative_path(p, dir)
            }
            (Loc::Url(u), Loc::Url(b)) => {
                let dir = &b[..b.rfind('/').map(|i| i + 1).unwrap_or(b.len())];
                match u.strip_prefix(dir) {
                    Some(rest) => rest.to_string(),
                    None => u.clone(),
                }
            }
            _ => self.to_string(),
        }
    }
}

/// Removes `.` and resolves `..` segments without touching the file system.
pub fn normalize_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` relative to the directory `dir` (both absolute), with `/` separators.
pub fn relative_path(path: &Path, dir: &Path) -> String {
    let p: Vec<_> = path.components().collect();
    let d: Vec<_> = dir.components().collect();
    let common = p.iter().zip(&d).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = Vec::new();
    for _ in common..d.len() {
        parts.push("..".to_string());
    }
    for c in &p[common..] {
        parts.push(c.as_os_str().to_string_lossy().into_owned());
    }
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

fn normalize_url(u: &str) -> Result<String> {
    let scheme_end = u.find("://").ok_or_else(|| anyhow!("not a URL: {u}"))? + 3;
    let path_start = u[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(u.len());
    let (origin, rest) = u.split_at(path_start);
    let (path, tail) = match rest.find(['?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut segs: Vec<&str> = Vec::new();
    let trailing = path.ends_with('/');
    for s in path.split('/').skip(1) {
        match s {
            "." | "" => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = format!("{origin}/{}", segs.join("/"));
    if trailing && !segs.is_empty() {
        out.push('/');
    }
    out.push_str(tail);
    Ok(out)
}

/// Reads raw bytes for a location.
pub trait Fetch {
    fn fetch(&self, loc: &Loc) -> Result<Vec<u8>>;
}

/// How long one download may take, unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The real thing: the file system and, for URLs, a blocking HTTP GET.
pub struct RealFetch {
    /// For the whole of each download, from connecting to the body's end.
    pub timeout: Duration,
}

impl Default for RealFetch {
    fn default() -> Self {
        RealFetch {
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl RealFetch {
    /// A download failure in a few words.
    fn why(&self, e: &ureq::Error) -> String {
        let timed_out = match e {
            ureq::Error::Timeout(_) | ureq::Error::BodyStalled => true,
            ureq::Error::Io(io) => matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        };
        if timed_out {
            return format!(
                "no complete answer within {:?} (a longer --timeout may help)",
                self.timeout
            );
        }
        match e {
            ureq::Error::StatusCode(code) => format!("the server answered with HTTP status {code}"),
            other => other.to_string().replace('\n', " "),
        }
    }
}

impl Fetch for RealFetch {
    fn fetch(&self, loc: &Loc) -> Result<Vec<u8>> {
        match loc {
            Loc::File(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display())),
            Loc::Url(u) => {
                let agent = ureq::Agent::config_builder()
                    .timeout_global(Some(self.timeout))
                    .build()
                    .new_agent();
                let mut resp = agent
                    .get(u.as_str())
                    .call()
                    .map_err(|e| anyhow!("downloading {u}: {}", self.why(&e)))?;
                resp.body_mut()
                    .with_config()
                    .limit(64 * 1024 * 1024)
                    .read_to_vec()
                    .map_err(|e| anyhow!("downloading {u}: {}", self.why(&e)))
            }
        }
    }
}

/// Loads and caches parsed documents and remembers the bytes of each.
pub struct Loader<'f> {
    fetch: &'f dyn Fetch,
    docs: HashMap<Loc, Value>,
    bytes: BTreeMap<Loc, Vec<u8>>,
}

impl<'f> Loader<'f> {
    pub fn new(fetch: &'f dyn Fetch) -> Self {
        Loader {
            fetch,
            docs: HashMap::new(),
            bytes: BTreeMap::new(),
        }
    }

    pub fn load(&mut self, loc: &Loc) -> Result<&Value> {
        if !self.docs.contains_key(loc) {
            let bytes = self.fetch.fetch(loc)?;
            let doc =
                parse_document(&bytes, loc.is_json()).with_context(|| format!("parsing {loc}"))?;
            self.bytes.insert(loc.clone(), bytes);
            self.docs.insert(loc.clone(), doc);
        }
        self.docs
            .get(loc)
            .ok_or_else(|| anyhow!("internal: {loc} not cached"))
    }

    /// Every document read so far.
    pub fn files(&self) -> impl Iterator<Item = (&Loc, &[u8])> {
        self.bytes.iter().map(|(l, b)| (l, b.as_slice()))
    }
}

/// Parses YAML (or JSON) text into a JSON value. Scalar mapping keys become
/// strings (`200:` → `"200"`); tags, non-finite numbers, complex keys and
/// duplicate keys are errors.
pub fn parse_document(bytes: &[u8], json: bool) -> Result<Value> {
    let text = std::str::from_utf8(bytes).context("the document is not UTF-8")?;
    if json {
        return serde_json::from_str(text).context("invalid JSON");
    }
    let yaml: serde_norway::Value = serde_norway::from_str(text).context("invalid YAML")?;
    yaml_to_json(&yaml, "")
}

fn yaml_to_json(v: &serde_norway::Value, ptr: &str) -> Result<Value> {
    use serde_norway::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n
                    .as_f64()
                    .ok_or_else(|| anyhow!("unrepresentable number at {ptr}"))?;
                Value::Number(
                    serde_json::Number::from_f64(f)
                        .ok_or_else(|| anyhow!("non-finite number at {ptr}"))?,
                )
            }
        }
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(seq) => Value::Array(
            seq.iter()
                .enumerate()
                .map(|(i, x)| yaml_to_json(x, &format!("{ptr}/{i}")))
                .collect::<Result<_>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let key = match k {
                    Y::String(s) => s.clone(),
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    _ => bail!("unsupported mapping key {k:?} at {ptr}"),
                };
                let child = format!("{ptr}/{}", escape(&key));
                let val = yaml_to_json(x, &child)?;
                if out.insert(key.clone(), val).is_some() {
                    bail!("duplicate key `{key}` at {ptr}");
                }
            }
            Value::Object(out)
        }
        Y::Tagged(t) => bail!("unsupported YAML tag {} at {ptr}", t.tag),
    })
}

/// SHA-256 as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 over several files: for each, sorted by relative path,
/// `path NUL length NUL bytes` (length in decimal).
pub fn tree_sha256<'a>(files: impl IntoIterator<Item = (String, &'a [u8])>) -> String {
    let mut sorted: Vec<(String, &[u8])> = files.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::new();
    for (path, bytes) in sorted {
        h.update(path.as_bytes());
        h.update([0u8]);
        h.update(bytes.len().to_string().as_bytes());
        h.update([0u8]);
        h.update(bytes);
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Escapes one JSON pointer segment (`~` and `/`).
pub fn escape(seg: &str) -> String {
    seg.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// An in-memory file system for tests: absolute path → text.
    pub struct MemFetch(pub HashMap<PathBuf, String>);

    impl MemFetch {
        pub fn new(files: &[(&str, &str)]) -> Self {
            MemFetch(
                files
                    .iter()
                    .map(|(p, t)| (PathBuf::from(p), t.to_string()))
                    .collect(),
            )
        }
    }

    impl Fetch for MemFetch {
        fn fetch(&self, loc: &Loc) -> Result<Vec<u8>> {
            match loc {
                Loc::File(p) => self
                    .0
                    .get(p)
                    .map(|t| t.clone().into_bytes())
                    .ok_or_else(|| anyhow!("no such file {}", p.display())),
                Loc::Url(u) => bail!("no network in tests: {u}"),
            }
        }
    }

    #[test]
    fn resolves_relative_files_and_urls() {
        let f = Loc::File("/a/b/paths/x.yaml".into());
        assert_eq!(
            f.resolve("../components/schemas/Foo.yaml").unwrap(),
            Loc::File("/a/b/components/schemas/Foo.yaml".into())
        );
        let u = Loc::Url("https://h.example/s/api.yaml".into());
        assert_eq!(
            u.resolve("paths/../c/Foo.yaml").unwrap(),
            Loc::Url("https://h.example/s/c/Foo.yaml".into())
        );
        assert_eq!(
            u.resolve("/root.yaml").unwrap(),
            Loc::Url("https://h.example/root.yaml".into())
        );
        assert_eq!(
            Loc::File("/a/b/c/Foo.yaml".into()).relative_to(&Loc::File("/a/b/api.yaml".into())),
            "c/Foo.yaml"
        );
        assert_eq!(Loc::File("/a/b/c/Foo.yaml".into()).stem(), "Foo");
    }

    #[test]
    fn yaml_numeric_keys_become_strings_and_tags_fail() {
        let v = parse_document(b"responses:\n  200: {a: 1}\n  '404': {b: 2.5}\n", false).unwrap();
        assert_eq!(v["responses"]["200"]["a"], 1);
        assert_eq!(v["responses"]["404"]["b"], 2.5);
        assert!(parse_document(b"a: !custom 1\n", false).is_err());
        assert!(parse_document(b"a: 1\na: 2\n", false).is_err());
    }
}
