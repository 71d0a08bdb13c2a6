//! Bundles an OpenAPI 3.1 (or 3.0) document split over several files into one
//! document, down-converts it to OpenAPI 3.0.3 and strips everything that is
//! prose, keeping only facts (paths, operations, parameters, bodies,
//! responses, schemas, security, servers).
//!
//! Every object is walked with knowledge of what it is (document, path item,
//! operation, schema, ...), so names (property names, paths, media types,
//! status codes) are never mistaken for keywords. Keywords are whitelisted:
//! each one is kept, converted or stripped on purpose, and an unknown one is
//! an error naming its JSON pointer in the output document.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{Result, anyhow, bail};
use serde_json::{Map, Value, json};

use crate::source::{Loader, Loc, escape};

/// Minimal percent-decoding for `$ref` fragments (`%7B` → `{`).
fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the caller wants besides the general conversion.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Paths to leave out entirely (e.g. v3's fake `/webhook` path).
    pub drop_paths: Vec<String>,
}

/// Where we are: the source file and pointer inside it, and the pointer of
/// the node being produced in the output document.
#[derive(Clone, Debug)]
struct Ctx {
    file: Loc,
    src: String,
    out: String,
}

impl Ctx {
    fn child(&self, seg: &str) -> Ctx {
        let e = escape(seg);
        Ctx {
            file: self.file.clone(),
            src: format!("{}/{e}", self.src),
            out: format!("{}/{e}", self.out),
        }
    }

    fn index(&self, i: usize) -> Ctx {
        self.child(&i.to_string())
    }
}

/// Schema keywords that are prose or annotations with no effect on the
/// wire: dropped.
const SCHEMA_PROSE: &[&str] = &[
    "description",
    "title",
    "examples",
    "example",
    "$comment",
    "externalDocs",
    "xml",
];

pub(crate) const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

const JSON_TYPES: &[&str] = &["string", "number", "integer", "boolean", "array", "object"];

struct Converter<'l, 'f> {
    loader: &'l mut Loader<'f>,
    entry: Loc,
    opts: Options,
    /// Hoisted schema name → file.
    hoisted: BTreeMap<String, Loc>,
    /// File → hoisted schema name.
    names: HashMap<Loc, String>,
    /// Names defined inline in the entry document's `components.schemas`.
    own_schemas: BTreeSet<String>,
    /// Entry `components.schemas` names that are only a `$ref` to a file.
    aliases: BTreeSet<String>,
    /// Files hoisted but not converted yet.
    pending: Vec<String>,
    /// Inlining in progress (file, fragment), to refuse cycles.
    inlining: Vec<(Loc, String)>,
}

/// Loads `entry` (and whatever it references) and returns the bundled,
/// converted, prose-free OpenAPI 3.0.3 document.
pub fn convert(loader: &mut Loader<'_>, entry: &Loc, opts: &Options) -> Result<Value> {
    let doc = loader.load(entry)?.clone();
    let mut c = Converter {
        loader,
        entry: entry.clone(),
        opts: opts.clone(),
        hoisted: BTreeMap::new(),
        names: HashMap::new(),
        own_schemas: BTreeSet::new(),
        aliases: BTreeSet::new(),
        pending: Vec::new(),
        inlining: Vec::new(),
    };
    let out = c.document(&doc)?;
    check_internal_refs(&out)?;
    Ok(out)
}

impl Converter<'_, '_> {
    fn err(&self, ctx: &Ctx, msg: impl std::fmt::Display) -> anyhow::Error {
        let out = if ctx.out.is_empty() { "/" } else { &ctx.out };
        let src = if ctx.src.is_empty() { "" } else { &ctx.src };
        anyhow!(
            "{out}: {msg} (source: {}#{src})",
            ctx.file.relative_to(&self.entry)
        )
    }

    /// Loads (or takes from the cache) a whole file.
    fn load(&mut self, file: &Loc, ctx: &Ctx) -> Result<Value> {
        let r = self.loader.load(file).cloned();
        r.map_err(|e| self.err(ctx, format!("{e:#}")))
    }

    fn obj<'v>(&self, v: &'v Value, ctx: &Ctx, what: &str) -> Result<&'v Map<String, Value>> {
        v.as_object().ok_or_else(|| {
            let found = match v {
                Value::Null => "nothing",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "a list",
                Value::Object(_) => "an object",
            };
            self.err(ctx, format!("expected {what} (an object), found {found}"))
        })
    }

    fn str<'v>(&self, v: &'v Value, ctx: &Ctx) -> Result<&'v str> {
        v.as_str().ok_or_else(|| self.err(ctx, "expected a string"))
    }

    fn bool(&self, v: &Value, ctx: &Ctx) -> Result<Value> {
        match v {
            Value::Bool(_) => Ok(v.clone()),
            _ => Err(self.err(ctx, "expected a boolean")),
        }
    }

    fn unknown(&self, ctx: &Ctx, key: &str, what: &str) -> anyhow::Error {
        self.err(
            ctx,
            format!("unsupported keyword `{key}` in {what} (not known to this converter)"),
        )
    }

    // ---------------------------------------------------------------- refs

    /// Splits a `$ref` into the target file and the (decoded) fragment
    /// pointer, `""` meaning the whole file.
    fn target(&self, reference: &str, ctx: &Ctx) -> Result<(Loc, String)> {
        let (file_part, frag) = match reference.find('#') {
            Some(i) => (&reference[..i], percent_decode(&reference[i + 1..])),
            None => (reference, String::new()),
        };
        if !frag.is_empty() && !frag.starts_with('/') {
            return Err(self.err(
                ctx,
                format!("unsupported `$ref` fragment `#{frag}` (anchors are not supported)"),
            ));
        }
        let file = if file_part.is_empty() {
            ctx.file.clone()
        } else {
            ctx.file.resolve(file_part)?
        };
        Ok((file, frag))
    }

    /// Registers a schema file under `#/components/schemas/<name>` and
    /// returns the name.
    fn hoist(&mut self, file: &Loc, ctx: &Ctx) -> Result<String> {
        if let Some(n) = self.names.get(file) {
            return Ok(n.clone());
        }
        let name = file.stem();
        if name.is_empty() {
            return Err(self.err(ctx, format!("cannot name a schema after {file}")));
        }
        if let Some(other) = self.hoisted.get(&name) {
            return Err(self.err(
                ctx,
                format!(
                    "two schema files would both become #/components/schemas/{name}: {} and {}",
                    other.relative_to(&self.entry),
                    file.relative_to(&self.entry)
                ),
            ));
        }
        if self.own_schemas.contains(&name) {
            return Err(self.err(
                ctx,
                format!(
                    "schema file {} clashes with the schema {name} defined in the entry document",
                    file.relative_to(&self.entry)
                ),
            ));
        }
        // Fail here, where the reference is, if the file cannot be read.
        self.load(file, ctx)?;
        self.hoisted.insert(name.clone(), file.clone());
        self.names.insert(file.clone(), name.clone());
        self.pending.push(name.clone());
        Ok(name)
    }

    /// Loads `file`, takes the node at `frag` and converts it with `f`,
    /// refusing reference cycles.
    fn inline(
        &mut self,
        file: Loc,
        frag: String,
        ctx: &Ctx,
        f: fn(&mut Self, &Value, &Ctx) -> Result<Value>,
    ) -> Result<Value> {
        if self.inlining.iter().any(|(l, p)| *l == file && *p == frag) {
            return Err(self.err(
                ctx,
                format!(
                    "circular reference to {}#{frag} cannot be inlined",
                    file.relative_to(&self.entry)
                ),
            ));
        }
        let doc = self.load(&file, ctx)?;
        let node = doc.pointer(&frag).ok_or_else(|| {
            self.err(
                ctx,
                format!(
                    "`$ref` target {}#{frag} does not exist",
                    file.relative_to(&self.entry)
                ),
            )
        })?;
        let inner = Ctx {
            file: file.clone(),
            src: frag.clone(),
            out: ctx.out.clone(),
        };
        self.inlining.push((file, frag));
        let r = f(self, node, &inner);
        self.inlining.pop();
        r
    }

    /// A reference in a non-schema position (path item, parameter,
    /// response, request body, header, security scheme): refs inside the
    /// entry document stay, everything else is inlined.
    fn object_ref(
        &mut self,
        m: &Map<String, Value>,
        ctx: &Ctx,
        keep_internal: bool,
        f: fn(&mut Self, &Value, &Ctx) -> Result<Value>,
    ) -> Result<Value> {
        for k in m.keys() {
            if k != "$ref" && k != "description" && k != "summary" && !k.starts_with("x-") {
                return Err(self.err(&ctx.child(k), format!("`$ref` cannot have sibling `{k}`")));
            }
        }
        let r = self.str(&m["$ref"], &ctx.child("$ref"))?;
        let (file, frag) = self.target(r, ctx)?;
        if keep_internal && file == self.entry && !frag.is_empty() {
            return Ok(json!({ "$ref": format!("#{frag}") }));
        }
        self.inline(file, frag, ctx, f)
    }

    // ------------------------------------------------------------ document

    fn document(&mut self, doc: &Value) -> Result<Value> {
        let ctx = Ctx {
            file: self.entry.clone(),
            src: String::new(),
            out: String::new(),
        };
        let m = self.obj(doc, &ctx, "an OpenAPI document")?;
        let version = m
            .get("openapi")
            .and_then(Value::as_str)
            .ok_or_else(|| self.err(&ctx, "missing `openapi` version"))?;
        if !(version.starts_with("3.0.") || version.starts_with("3.1.")) {
            return Err(self.err(
                &ctx.child("openapi"),
                format!("unsupported OpenAPI version {version}"),
            ));
        }
        self.prepare_components(m, &ctx)?;

        let mut out = Map::new();
        out.insert("openapi".into(), json!("3.0.3"));
        for (k, v) in m {
            let c = ctx.child(k);
            match k.as_str() {
                "openapi" => {}
                "info" => {
                    out.insert(k.clone(), self.info(v, &c)?);
                }
                "servers" => {
                    out.insert(k.clone(), self.servers(v, &c)?);
                }
                "paths" => {
                    out.insert(k.clone(), self.paths(v, &c)?);
                }
                "components" => {
                    out.insert(k.clone(), self.components(v, &c)?);
                }
                "security" => {
                    out.insert(k.clone(), self.security(v, &c)?);
                }
                // Prose, or not expressible in 3.0 (webhooks) and not used
                // by the client.
                "tags" | "externalDocs" | "webhooks" | "jsonSchemaDialect" => {}
                k if k.starts_with("x-") => {}
                _ => return Err(self.unknown(&c, k, "the document")),
            }
        }
        if !out.contains_key("paths") {
            out.insert("paths".into(), json!({}));
        }
        // Hoisted schema files, converted until no new file is referenced.
        let mut hoisted = Map::new();
        while let Some(name) = self.pending.pop() {
            let file = self.hoisted[&name].clone();
            let c = Ctx {
                file: file.clone(),
                src: String::new(),
                out: format!("/components/schemas/{}", escape(&name)),
            };
            let doc = self.load(&file, &c)?;
            hoisted.insert(name, self.schema(&doc, &c)?);
        }
        if !hoisted.is_empty() {
            let comps = out
                .entry("components")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .ok_or_else(|| anyhow!("internal: components is not an object"))?;
            let schemas = comps
                .entry("schemas")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .ok_or_else(|| anyhow!("internal: components.schemas is not an object"))?;
            for (name, s) in hoisted {
                if schemas.insert(name.clone(), s).is_some() {
                    bail!("/components/schemas/{name}: defined twice");
                }
            }
        }
        Ok(Value::Object(out))
    }

    /// Looks at the entry's `components.schemas` before anything else: an
    /// entry `Name: {$ref: file.yaml}` makes that file's schema `Name`; any
    /// other entry is a schema of the document's own.
    fn prepare_components(&mut self, m: &Map<String, Value>, ctx: &Ctx) -> Result<()> {
        let Some(schemas) = m
            .get("components")
            .and_then(|c| c.get("schemas"))
            .and_then(Value::as_object)
        else {
            return Ok(());
        };
        for (name, s) in schemas {
            let c = ctx.child("components").child("schemas").child(name);
            let file_ref = s
                .as_object()
                .and_then(|o| o.get("$ref"))
                .and_then(Value::as_str)
                .filter(|r| !r.starts_with('#') && !r.contains('#'));
            match file_ref {
                Some(r) => {
                    let (file, _) = self.target(r, &c)?;
                    if let Some(prev) = self.names.get(&file) {
                        return Err(self.err(
                            &c,
                            format!("{} is already named {prev}", file.relative_to(&self.entry)),
                        ));
                    }
                    if let Some(prev) = self.hoisted.get(name) {
                        return Err(self.err(
                            &c,
                            format!("{name} already names {}", prev.relative_to(&self.entry)),
                        ));
                    }
                    self.hoisted.insert(name.clone(), file.clone());
                    self.names.insert(file, name.clone());
                    self.aliases.insert(name.clone());
                    self.pending.push(name.clone());
                }
                None => {
                    self.own_schemas.insert(name.clone());
                }
            }
        }
        Ok(())
    }

    fn info(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "info")?;
        let mut out = Map::new();
        for (k, v) in m {
            let c = ctx.child(k);
            match k.as_str() {
                "title" => {
                    out.insert(k.clone(), json!(self.str(v, &c)?));
                }
                "version" => {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => return Err(self.err(&c, "expected a string")),
                    };
                    out.insert(k.clone(), json!(s));
                }
                "license" => {
                    let l = self.obj(v, &c, "license")?;
                    if let Some(name) = l.get("name") {
                        out.insert(
                            k.clone(),
                            json!({ "name": self.str(name, &c.child("name"))? }),
                        );
                    }
                }
                "description" | "summary" | "contact" | "termsOfService" => {}
                k if k.starts_with("x-") => {}
                _ => return Err(self.unknown(&c, k, "info")),
            }
        }
        for req in ["title", "version"] {
            if !out.contains_key(req) {
                return Err(self.err(ctx, format!("info.{req} is required")));
            }
        }
        Ok(Value::Object(out))
    }

    fn servers(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let arr = v
            .as_array()
            .ok_or_else(|| self.err(ctx, "expected an array of servers"))?;
        let mut out = Vec::new();
        for (i, s) in arr.iter().enumerate() {
            let c = ctx.index(i);
            let m = self.obj(s, &c, "a server")?;
            let mut o = Map::new();
            for (k, v) in m {
                let cc = c.child(k);
                match k.as_str() {
                    "url" => {
                        o.insert(k.clone(), json!(self.str(v, &cc)?));
                    }
                    "variables" => {
                        let vars = self.obj(v, &cc, "server variables")?;
                        let mut ov = Map::new();
                        for (name, var) in vars {
                            let vc = cc.child(name);
                            let vm = self.obj(var, &vc, "a server variable")?;
                            let mut o2 = Map::new();
                            for (k2, v2) in vm {
                                match k2.as_str() {
                                    "default" | "enum" => {
                                        o2.insert(k2.clone(), v2.clone());
                                    }
                                    "description" => {}
                                    k2 if k2.starts_with("x-") => {}
                                    _ => {
                                        return Err(self.unknown(
                                            &vc.child(k2),
                                            k2,
                                            "a server variable",
                                        ));
                                    }
                                }
                            }
                            ov.insert(name.clone(), Value::Object(o2));
                        }
                        o.insert(k.clone(), Value::Object(ov));
                    }
                    "description" => {}
                    k if k.starts_with("x-") => {}
                    _ => return Err(self.unknown(&cc, k, "a server")),
                }
            }
            if !o.contains_key("url") {
                return Err(self.err(&c, "server without url"));
            }
            out.push(Value::Object(o));
        }
        Ok(Value::Array(out))
    }

    fn security(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let arr = v
            .as_array()
            .ok_or_else(|| self.err(ctx, "expected an array of security requirements"))?;
        for (i, req) in arr.iter().enumerate() {
            let c = ctx.index(i);
            let m = self.obj(req, &c, "a security requirement")?;
            for (name, scopes) in m {
                let ok = scopes
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string));
                if !ok {
                    return Err(self.err(&c.child(name), "expected an array of scope names"));
                }
            }
        }
        Ok(v.clone())
    }

    // --------------------------------------------------------------- paths

    fn paths(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "paths")?;
        let mut out = Map::new();
        for (path, item) in m {
            if path.starts_with("x-") {
                continue;
            }
            let c = ctx.child(path);
            if !path.starts_with('/') {
                return Err(self.err(&c, "a path must start with `/`"));
            }
            if self.opts.drop_paths.iter().any(|p| p == path) {
                continue;
            }
            out.insert(path.clone(), self.path_item(item, &c)?);
        }
        Ok(Value::Object(out))
    }

    fn path_item(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "a path item")?;
        if m.contains_key("$ref") {
            // 3.0 has no reusable path items: always inline.
            return self.object_ref(m, ctx, false, Self::path_item);
        }
        let mut out = Map::new();
        for (k, v) in m {
            let c = ctx.child(k);
            match k.as_str() {
                method if HTTP_METHODS.contains(&method) => {
                    out.insert(k.clone(), self.operation(v, &c)?);
                }
                "parameters" => {
                    out.insert(k.clone(), self.parameters(v, &c)?);
                }
                "servers" => {
                    out.insert(k.clone(), self.servers(v, &c)?);
                }
                "summary" | "description" => {}
                k if k.starts_with("x-") => {}
                _ => return Err(self.unknown(&c, k, "a path item")),
            }
        }
        Ok(Value::Object(out))
    }

    fn operation(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "an operation")?;
        let mut out = Map::new();
        for (k, v) in m {
            let c = ctx.child(k);
            match k.as_str() {
                "operationId" => {
                    out.insert(k.clone(), json!(self.str(v, &c)?));
                }
                "parameters" => {
                    out.insert(k.clone(), self.parameters(v, &c)?);
                }
                "requestBody" => {
                    out.insert(k.clone(), self.request_body(v, &c)?);
                }
                "responses" => {
                    out.insert(k.clone(), self.responses(v, &c)?);
                }
                "deprecated" => {
                    out.insert(k.clone(), self.bool(v, &c)?);
                }
                "security" => {
                    out.insert(k.clone(), self.security(v, &c)?);
                }
                "servers" => {
                    out.insert(k.clone(), self.servers(v, &c)?);
                }
                "tags" | "summary" | "description" | "externalDocs" => {}
                k if k.starts_with("x-") => {}
                _ => return Err(self.unknown(&c, k, "an operation")),
            }
        }
        if !out.contains_key("responses") {
            return Err(self.err(ctx, "operation without responses"));
        }
        Ok(Value::Object(out))
    }

    fn parameters(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let arr = v
            .as_array()
            .ok_or_else(|| self.err(ctx, "expected an array of parameters"))?;
        let mut out = Vec::new();
        for (i, p) in arr.iter().enumerate() {
            out.push(self.parameter(p, &ctx.index(i))?);
        }
        Ok(Value::Array(out))
    }

    fn parameter(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "a parameter")?;
        if m.contains_key("$ref") {
            return self.object_ref(m, ctx, true, Self::parameter);
        }
        let mut out = Map::new();
        for (k, v) in m {
            let c = ctx.child(k);
            match k.as_str() {
                "name" | "in" | "style" => {
                    out.insert(k.clone(), json!(self.str(v, &c)?));
                }
                "required" | "deprecated" | "allowEmptyValue" | "explode" | "allowReserved" => {
                    out.insert(k.clone(), self.bool(v, &c)?);
                }
                "schema" => {
                    out.insert(k.clone(), self.schema(v, &c)?);
                }
                "content" => {
                    out.insert(k.clone(), self.content(v, &c)?);
                }
                "description" | "example" | "examples" => {}
                k if k.starts_with("x-") => {}
                _ => return Err(self.unknown(&c, k, "a parameter")),
            }
        }
        for req in ["name", "in"] {
            if !out.contains_key(req) {
                return Err(self.err(ctx, format!("parameter without `{req}`")));
            }
        }
        Ok(Value::Object(out))
    }

    fn header(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "a header")?;
        if m.contains_key("$ref") {
            return self.object_ref(m, ctx, true, Self::header);
        }
        let mut out = Map::new();
        for (k, v) in m {
            let c = ctx.child(k);
            match k.as_str() {
                "style" => {
                    out.insert(k.clone(), json!(self.str(v, &c)?));
                }
                "required" | "deprecated" | "allowEmptyValue" | "explode" | "allowReserved" => {
                    out.insert(k.clone(), self.bool(v, &c)?);
                }
                "schema" => {
                    out.insert(k.clone(), self.schema(v, &c)?);
                }
                "content" => {
                    out.insert(k.clone(), self.content(v, &c)?);
                }
                "description" | "example" | "examples" => {}
                k if k.starts_with("x-") => {}
                _ => return Err(self.unknown(&c, k, "a header")),
            }
        }
        Ok(Value::Object(out))
    }

    fn headers(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "headers")?;
        let mut out = Map::new();
        for (name, h) in m {
            out.insert(name.clone(), self.header(h, &ctx.child(name))?);
        }
        Ok(Value::Object(out))
    }

    fn request_body(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "a request body")?;
        if m.contains_key("$ref") {
            return self.object_ref(m, ctx, true, Self::request_body);
        }
        let mut out = Map::new();
        for (k, v) in m {
            let c = ctx.child(k);
            match k.as_str() {
                "content" => {
                    out.insert(k.clone(), self.content(v, &c)?);
                }
                "required" => {
                    out.insert(k.clone(), self.bool(v, &c)?);
                }
                "description" => {}
                k if k.starts_with("x-") => {}
                _ => return Err(self.unknown(&c, k, "a request body")),
            }
        }
        if !out.contains_key("content") {
            return Err(self.err(ctx, "request body without content"));
        }
        Ok(Value::Object(out))
    }

    fn responses(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "responses")?;
        let mut out = Map::new();
        for (code, r) in m {
            if code.starts_with("x-") {
                continue;
            }
            let c = ctx.child(code);
            let valid = code == "default"
                || (code.len() == 3
                    && code.chars().enumerate().all(|(i, ch)| {
                        (i == 0 && ('1'..='5').contains(&ch))
                            || (i > 0 && (ch.is_ascii_digit() || ch == 'X'))
                    }));
            if !valid {
                return Err(self.err(&c, format!("`{code}` is not a response status code")));
            }
            out.insert(code.clone(), self.response(r, &c)?);
        }
        Ok(Value::Object(out))
    }

    fn response(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "a response")?;
        if m.contains_key("$ref") {
            return self.object_ref(m, ctx, true, Self::response);
        }
        let mut out = Map::new();
        // Required by OpenAPI 3.0; the text itself is prose.
        out.insert("description".into(), json!(""));
        for (k, v) in m {
            let c = ctx.child(k);
            match k.as_str() {
                "content" => {
                    out.insert(k.clone(), self.content(v, &c)?);
                }
                "headers" => {
                    out.insert(k.clone(), self.headers(v, &c)?);
                }
                "description" => {}
                k if k.starts_with("x-") => {}
                _ => return Err(self.unknown(&c, k, "a response")),
            }
        }
        Ok(Value::Object(out))
    }

    /// A `content` map: media type → media type object.
    fn content(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "content")?;
        let mut out = Map::new();
        for (media, mt) in m {
            let c = ctx.child(media);
            let mm = self.obj(mt, &c, "a media type")?;
            let mut o = Map::new();
            for (k, v) in mm {
                let cc = c.child(k);
                match k.as_str() {
                    "schema" => {
                        o.insert(k.clone(), self.schema(v, &cc)?);
                    }
                    "encoding" => {
                        o.insert(k.clone(), self.encoding(v, &cc)?);
                    }
                    "example" | "examples" => {}
                    k if k.starts_with("x-") => {}
                    _ => return Err(self.unknown(&cc, k, "a media type")),
                }
            }
            out.insert(media.clone(), Value::Object(o));
        }
        Ok(Value::Object(out))
    }

    fn encoding(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "an encoding map")?;
        let mut out = Map::new();
        for (prop, e) in m {
            let c = ctx.child(prop);
            let em = self.obj(e, &c, "an encoding")?;
            let mut o = Map::new();
            for (k, v) in em {
                let cc = c.child(k);
                match k.as_str() {
                    "contentType" | "style" => {
                        o.insert(k.clone(), json!(self.str(v, &cc)?));
                    }
                    "explode" | "allowReserved" => {
                        o.insert(k.clone(), self.bool(v, &cc)?);
                    }
                    "headers" => {
                        o.insert(k.clone(), self.headers(v, &cc)?);
                    }
                    k if k.starts_with("x-") => {}
                    _ => return Err(self.unknown(&cc, k, "an encoding")),
                }
            }
            out.insert(prop.clone(), Value::Object(o));
        }
        Ok(Value::Object(out))
    }

    // ---------------------------------------------------------- components

    fn components(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "components")?;
        let mut out = Map::new();
        for (k, v) in m {
            let c = ctx.child(k);
            let f: fn(&mut Self, &Value, &Ctx) -> Result<Value> = match k.as_str() {
                "schemas" => Self::component_schema,
                "parameters" => Self::parameter,
                "responses" => Self::response,
                "requestBodies" => Self::request_body,
                "headers" => Self::header,
                "securitySchemes" => Self::security_scheme,
                "examples" => continue,
                "links" | "callbacks" | "pathItems" => {
                    if self.obj(v, &c, k)?.is_empty() {
                        continue;
                    }
                    return Err(self.err(&c, format!("`{k}` are not supported by this converter")));
                }
                k if k.starts_with("x-") => continue,
                _ => return Err(self.unknown(&c, k, "components")),
            };
            let items = self.obj(v, &c, k)?;
            let mut o = Map::new();
            for (name, item) in items {
                if k == "schemas" && self.aliases.contains(name) {
                    // A `$ref` to a file, hoisted under this name.
                    continue;
                }
                o.insert(name.clone(), f(self, item, &c.child(name))?);
            }
            out.insert(k.clone(), Value::Object(o));
        }
        Ok(Value::Object(out))
    }

    fn component_schema(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        self.schema(v, ctx)
    }

    fn security_scheme(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "a security scheme")?;
        if m.contains_key("$ref") {
            return self.object_ref(m, ctx, true, Self::security_scheme);
        }
        let mut out = Map::new();
        for (k, v) in m {
            let c = ctx.child(k);
            match k.as_str() {
                "type" | "name" | "in" | "scheme" | "bearerFormat" | "openIdConnectUrl" => {
                    out.insert(k.clone(), json!(self.str(v, &c)?));
                }
                "flows" => {
                    let flows = self.obj(v, &c, "OAuth flows")?;
                    let mut of = Map::new();
                    for (fname, flow) in flows {
                        if fname.starts_with("x-") {
                            continue;
                        }
                        let fc = c.child(fname);
                        let fm = self.obj(flow, &fc, "an OAuth flow")?;
                        let mut o = Map::new();
                        for (fk, fv) in fm {
                            let kc = fc.child(fk);
                            match fk.as_str() {
                                "authorizationUrl" | "tokenUrl" | "refreshUrl" => {
                                    o.insert(fk.clone(), json!(self.str(fv, &kc)?));
                                }
                                "scopes" => {
                                    // Scope name → prose: keep the names only.
                                    let scopes = self.obj(fv, &kc, "scopes")?;
                                    let s: Map<String, Value> =
                                        scopes.keys().map(|n| (n.clone(), json!(""))).collect();
                                    o.insert(fk.clone(), Value::Object(s));
                                }
                                fk if fk.starts_with("x-") => {}
                                _ => return Err(self.unknown(&kc, fk, "an OAuth flow")),
                            }
                        }
                        of.insert(fname.clone(), Value::Object(o));
                    }
                    out.insert(k.clone(), Value::Object(of));
                }
                "description" => {}
                k if k.starts_with("x-") => {}
                _ => return Err(self.unknown(&c, k, "a security scheme")),
            }
        }
        Ok(Value::Object(out))
    }

    // ------------------------------------------------------------- schemas

    /// A `$ref` in a schema position, already checked for siblings.
    fn schema_ref(&mut self, reference: &str, ctx: &Ctx) -> Result<Value> {
        let (file, frag) = self.target(reference, ctx)?;
        if file == self.entry {
            if frag.is_empty() {
                return Err(self.err(ctx, "a schema cannot reference the whole entry document"));
            }
            return Ok(json!({ "$ref": format!("#{frag}") }));
        }
        if frag.is_empty() {
            let name = self.hoist(&file, ctx)?;
            return Ok(json!({ "$ref": format!("#/components/schemas/{}", escape(&name)) }));
        }
        // A part of another file: copy it in place.
        self.inline(file, frag, ctx, Self::schema)
    }

    /// `{$ref: X, const: v}` (3.1) → `{type: <X's type>, enum: [v]}`. The
    /// one-value enum is what tells apart e.g. allow and block rule actions,
    /// so it must not be lost.
    fn const_with_ref(&mut self, reference: &str, konst: &Value, ctx: &Ctx) -> Result<Value> {
        let (file, frag) = self.target(reference, ctx)?;
        let doc = self.load(&file, ctx)?;
        let target = doc
            .pointer(&frag)
            .ok_or_else(|| self.err(ctx, format!("`$ref` target {reference} does not exist")))?;
        // Keep the referenced type as a component even if nothing else uses it.
        if file != self.entry && frag.is_empty() {
            self.hoist(&file, ctx)?;
        }
        let ty = match target.get("type") {
            Some(Value::String(t)) => t.clone(),
            _ => infer_type(konst)
                .ok_or_else(|| self.err(ctx, "cannot infer the type of `const`"))?,
        };
        if let Some(Value::Array(values)) = target.get("enum")
            && !values.contains(konst)
        {
            return Err(self.err(
                &ctx.child("const"),
                format!("const {konst} is not one of the values of {reference}"),
            ));
        }
        Ok(json!({ "type": ty, "enum": [konst] }))
    }

    /// `allOf: [{$ref: X}, {const: v}]`, the bundled form of `$ref` + `const`.
    fn allof_const_pattern<'v>(&self, v: &'v Value) -> Option<(&'v str, &'v Value)> {
        let parts = v.as_array()?;
        if parts.len() != 2 {
            return None;
        }
        let only = |o: &Map<String, Value>, key: &str| {
            o.keys()
                .all(|k| k == key || SCHEMA_PROSE.contains(&k.as_str()) || k.starts_with("x-"))
        };
        let mut r = None;
        let mut c = None;
        for p in parts {
            let o = p.as_object()?;
            if let Some(Value::String(s)) = o.get("$ref")
                && only(o, "$ref")
            {
                r = Some(s.as_str());
                continue;
            }
            if let Some(k) = o.get("const")
                && only(o, "const")
            {
                c = Some(k);
                continue;
            }
            return None;
        }
        Some((r?, c?))
    }

    fn schema(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = match v {
            Value::Object(m) => m,
            Value::Bool(true) => return Ok(json!({})),
            Value::Bool(false) => {
                return Err(self.err(ctx, "the `false` schema has no OpenAPI 3.0 form"));
            }
            _ => return Err(self.err(ctx, "expected a schema (an object)")),
        };
        let skippable = |k: &str| SCHEMA_PROSE.contains(&k) || k.starts_with("x-");

        if let Some(r) = m.get("$ref") {
            let r = self.str(r, &ctx.child("$ref"))?;
            let mut konst = None;
            for (k, val) in m {
                match k.as_str() {
                    "$ref" => {}
                    "const" => konst = Some(val),
                    // 3.1 reference objects may carry a summary.
                    "summary" => {}
                    k if skippable(k) => {}
                    _ => {
                        return Err(self.err(
                            &ctx.child(k),
                            format!("`$ref` cannot have sibling `{k}` in OpenAPI 3.0"),
                        ));
                    }
                }
            }
            return match konst {
                Some(c) => self.const_with_ref(r, c, ctx),
                None => self.schema_ref(r, ctx),
            };
        }

        if let Some(all) = m.get("allOf")
            && let Some((r, c)) = self.allof_const_pattern(all)
            && m.keys().all(|k| k == "allOf" || skippable(k))
        {
            return self.const_with_ref(r, c, &ctx.child("allOf"));
        }

        let mut out = Map::new();
        let mut ty: Option<String> = None;
        let mut nullable = false;
        let mut konst: Option<&Value> = None;
        let mut excl_min: Option<&Value> = None;
        let mut excl_max: Option<&Value> = None;
        for (k, val) in m {
            let c = ctx.child(k);
            match k.as_str() {
                k if skippable(k) => {}
                // 3.1 only; no 3.0 form. Dropping it only makes the schema
                // more permissive.
                "unevaluatedProperties" => {}
                "type" => match val {
                    Value::String(t) => {
                        if !JSON_TYPES.contains(&t.as_str()) {
                            return Err(self.err(&c, format!("type `{t}` has no OpenAPI 3.0 form")));
                        }
                        ty = Some(t.clone());
                    }
                    Value::Array(ts) => {
                        let mut non_null = Vec::new();
                        for (i, t) in ts.iter().enumerate() {
                            match t.as_str() {
                                Some("null") => nullable = true,
                                Some(t) if JSON_TYPES.contains(&t) => non_null.push(t.to_string()),
                                _ => return Err(self.err(&c.index(i), "not a JSON Schema type")),
                            }
                        }
                        if non_null.len() != 1 {
                            return Err(self.err(
                                &c,
                                format!("type {val} has no OpenAPI 3.0 form (exactly one non-null type is needed)"),
                            ));
                        }
                        ty = non_null.pop();
                    }
                    _ => return Err(self.err(&c, "expected a type name or an array of them")),
                },
                "nullable" => {
                    if self.bool(val, &c)? == json!(true) {
                        nullable = true;
                    }
                }
                "format" | "pattern" => {
                    out.insert(k.to_string(), json!(self.str(val, &c)?));
                }
                "enum" => {
                    if val.as_array().is_none_or(|a| a.is_empty()) {
                        return Err(self.err(&c, "expected a non-empty array"));
                    }
                    out.insert(k.to_string(), val.clone());
                }
                "required" => {
                    if !val
                        .as_array()
                        .is_some_and(|a| a.iter().all(Value::is_string))
                    {
                        return Err(self.err(&c, "expected an array of property names"));
                    }
                    out.insert(k.to_string(), val.clone());
                }
                "minimum" | "maximum" | "multipleOf" => {
                    if !val.is_number() {
                        return Err(self.err(&c, "expected a number"));
                    }
                    out.insert(k.to_string(), val.clone());
                }
                "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties"
                | "maxProperties" => {
                    if !val.is_u64() {
                        return Err(self.err(&c, "expected a non-negative integer"));
                    }
                    out.insert(k.to_string(), val.clone());
                }
                "uniqueItems" | "readOnly" | "writeOnly" | "deprecated" => {
                    out.insert(k.to_string(), self.bool(val, &c)?);
                }
                "default" => {
                    out.insert(k.to_string(), val.clone());
                }
                "exclusiveMinimum" => excl_min = Some(val),
                "exclusiveMaximum" => excl_max = Some(val),
                "const" => konst = Some(val),
                "properties" => {
                    let props = self.obj(val, &c, "properties")?;
                    let mut o = Map::new();
                    for (name, s) in props {
                        o.insert(name.clone(), self.schema(s, &c.child(name))?);
                    }
                    out.insert(k.to_string(), Value::Object(o));
                }
                "items" => {
                    if val.is_array() {
                        return Err(
                            self.err(&c, "tuple `items` (an array) has no OpenAPI 3.0 form")
                        );
                    }
                    out.insert(k.to_string(), self.schema(val, &c)?);
                }
                "additionalProperties" => {
                    let s = match val {
                        Value::Bool(_) => val.clone(),
                        _ => self.schema(val, &c)?,
                    };
                    out.insert(k.to_string(), s);
                }
                "not" => {
                    out.insert(k.to_string(), self.schema(val, &c)?);
                }
                "allOf" | "oneOf" | "anyOf" => {
                    let arr = val
                        .as_array()
                        .filter(|a| !a.is_empty())
                        .ok_or_else(|| self.err(&c, "expected a non-empty array of schemas"))?;
                    let mut o = Vec::new();
                    for (i, s) in arr.iter().enumerate() {
                        o.push(self.schema(s, &c.index(i))?);
                    }
                    out.insert(k.to_string(), Value::Array(o));
                }
                "discriminator" => {
                    out.insert(k.to_string(), self.discriminator(val, &c)?);
                }
                _ => return Err(self.unknown(&c, k, "a schema")),
            }
        }

        if let Some(c) = konst {
            let cc = ctx.child("const");
            if let Some(e) = out.get("enum")
                && e.as_array().is_none_or(|a| a.len() != 1 || a[0] != *c)
            {
                return Err(self.err(&cc, "`const` together with a different `enum`"));
            }
            if c.is_null() {
                return Err(self.err(&cc, "`const: null` has no OpenAPI 3.0 form"));
            }
            out.insert("enum".into(), json!([c]));
            if ty.is_none() {
                ty = infer_type(c);
            }
        }
        for (key, bound, val) in [
            ("exclusiveMinimum", "minimum", excl_min),
            ("exclusiveMaximum", "maximum", excl_max),
        ] {
            let Some(val) = val else { continue };
            let c = ctx.child(key);
            match val {
                Value::Bool(b) => {
                    if *b && !out.contains_key(bound) {
                        return Err(self.err(&c, format!("`{key}: true` without `{bound}`")));
                    }
                    out.insert(key.into(), val.clone());
                }
                Value::Number(n) => {
                    let x = n.as_f64().ok_or_else(|| self.err(&c, "bad number"))?;
                    // With both forms present, the stricter bound wins.
                    let replace = match out.get(bound).and_then(Value::as_f64) {
                        None => true,
                        Some(b) if key == "exclusiveMinimum" => x >= b,
                        Some(b) => x <= b,
                    };
                    if replace {
                        out.insert(bound.into(), val.clone());
                        out.insert(key.into(), json!(true));
                    }
                }
                _ => return Err(self.err(&c, "expected a number or a boolean")),
            }
        }
        if let Some(t) = ty {
            out.insert("type".into(), json!(t));
        }
        if nullable {
            out.insert("nullable".into(), json!(true));
        }
        Ok(Value::Object(out))
    }

    fn discriminator(&mut self, v: &Value, ctx: &Ctx) -> Result<Value> {
        let m = self.obj(v, ctx, "a discriminator")?;
        let mut out = Map::new();
        for (k, val) in m {
            let c = ctx.child(k);
            match k.as_str() {
                "propertyName" => {
                    out.insert(k.clone(), json!(self.str(val, &c)?));
                }
                "mapping" => {
                    let mapping = self.obj(val, &c, "a discriminator mapping")?;
                    let mut o = Map::new();
                    for (tag, target) in mapping {
                        let tc = c.child(tag);
                        let t = self.str(target, &tc)?;
                        o.insert(tag.clone(), json!(self.mapping_target(t, &tc)?));
                    }
                    out.insert(k.clone(), Value::Object(o));
                }
                k if k.starts_with("x-") => {}
                _ => return Err(self.unknown(&c, k, "a discriminator")),
            }
        }
        if !out.contains_key("propertyName") {
            return Err(self.err(ctx, "discriminator without propertyName"));
        }
        Ok(Value::Object(out))
    }

    /// A discriminator mapping value: a file reference becomes the hoisted
    /// schema's internal reference; internal refs of the entry and bare
    /// schema names stay.
    fn mapping_target(&mut self, t: &str, ctx: &Ctx) -> Result<String> {
        let looks_like_ref = t.contains('/')
            || t.contains('#')
            || [".yaml", ".yml", ".json"].iter().any(|e| t.ends_with(e));
        if !looks_like_ref {
            return Ok(t.to_string());
        }
        let (file, frag) = self.target(t, ctx)?;
        if file == self.entry {
            if frag.is_empty() {
                return Err(self.err(ctx, "a mapping cannot point at the whole entry document"));
            }
            return Ok(format!("#{frag}"));
        }
        if frag.is_empty() {
            let name = self.hoist(&file, ctx)?;
            return Ok(format!("#/components/schemas/{}", escape(&name)));
        }
        Err(self.err(
            ctx,
            format!("mapping to a part of another file ({t}) is not supported"),
        ))
    }
}

fn infer_type(v: &Value) -> Option<String> {
    Some(
        match v {
            Value::String(_) => "string",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Null => return None,
        }
        .to_string(),
    )
}

/// Every `$ref` left in the output must point inside it.
fn check_internal_refs(doc: &Value) -> Result<()> {
    fn walk(doc: &Value, v: &Value, ptr: &str) -> Result<()> {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref") {
                    let r = r
                        .as_str()
                        .ok_or_else(|| anyhow!("{ptr}/$ref: not a string"))?;
                    let frag = r.strip_prefix('#').ok_or_else(|| {
                        anyhow!("{ptr}/$ref: `{r}` is not internal after bundling")
                    })?;
                    if doc.pointer(frag).is_none() {
                        bail!("{ptr}/$ref: `{r}` does not resolve in the bundled document");
                    }
                }
                for (k, x) in m {
                    walk(doc, x, &format!("{ptr}/{}", escape(k)))?;
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(doc, x, &format!("{ptr}/{i}"))?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    walk(doc, doc, "")
}
