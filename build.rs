//! Generates the clients and models from the vendored OpenAPI documents.
//!
//! Steps: read `openapi/fingerprint-server-api-v4.json` (and, with the `v3`
//! feature, `openapi/fingerprint-server-api-v3.json`; nothing else),
//! apply the SDK's generation policy to the document, run progenitor in
//! builder style, then post-process the generated syntax tree (open enums,
//! `send` wrappers, route table) and write it, formatted, to `OUT_DIR`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

type BuildResult<T> = Result<T, String>;

fn main() {
    if let Err(message) = run() {
        // A build script reports failure by exiting non-zero; the message is
        // shown by cargo.
        eprintln!("fingerprint-server-sdk build script: {message}");
        std::process::exit(1);
    }
}

fn run() -> BuildResult<()> {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env("OUT_DIR")?);
    let docs = docs::load(&manifest_dir.join("openapi/docs.toml"))?;
    generate(
        &manifest_dir.join("openapi/fingerprint-server-api-v4.json"),
        &out_dir.join("v4.rs"),
        Some(&docs),
        policy::Policy {
            optional_fields: false,
        },
    )?;
    // The deprecated v3 API costs nothing unless asked for.
    if std::env::var_os("CARGO_FEATURE_V3").is_some() {
        generate(
            &manifest_dir.join("openapi/fingerprint-server-api-v3.json"),
            &out_dir.join("v3.rs"),
            None,
            // Upstream's own v3 examples leave out fields the v3 schema calls
            // required (`tampering.confidence`): for the deprecated API,
            // reading what the server sends beats the schema's promises.
            policy::Policy {
                optional_fields: true,
            },
        )?;
    }
    Ok(())
}

fn env(name: &str) -> BuildResult<String> {
    std::env::var(name).map_err(|e| format!("{name}: {e}"))
}

/// Generates one API version's client from `document` into `out`.
fn generate(
    document: &Path,
    out: &Path,
    docs: Option<&docs::Docs>,
    rules: policy::Policy,
) -> BuildResult<()> {
    println!("cargo:rerun-if-changed={}", document.display());
    let text = std::fs::read_to_string(document)
        .map_err(|e| format!("reading {}: {e}", document.display()))?;
    let mut doc: Value =
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", document.display()))?;

    policy::apply(&mut doc, rules);
    if let Some(docs) = docs {
        docs::merge(docs, &mut doc)?;
    }
    let routes = routes::collect(&doc)?;

    let spec: openapiv3::OpenAPI = serde_json::from_value(doc)
        .map_err(|e| format!("{} is not an OpenAPI 3.0 document: {e}", document.display()))?;

    let mut settings = progenitor::GenerationSettings::new();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_inner_type(quote!(crate::client::Inner));
    let mut generator = progenitor::Generator::new(&settings);
    let tokens = generator
        .generate_tokens(&spec)
        .map_err(|e| format!("progenitor: {e}"))?;

    let mut file: syn::File =
        syn::parse2(tokens).map_err(|e| format!("generated code does not parse: {e}"))?;
    postprocess::run(&mut file, &routes)?;
    file.items
        .push(syn::parse2(routes::table(&routes)).map_err(|e| e.to_string())?);

    let code = prettyplease::unparse(&file);
    std::fs::write(out, code).map_err(|e| format!("writing {}: {e}", out.display()))
}

/// The project's own descriptions of the main models and operations
/// (`openapi/docs.toml`), merged into the document so they become the
/// generated items' doc comments. The vendored document carries no prose.
mod docs {
    use std::collections::BTreeMap;
    use std::path::Path;

    use serde_json::Value;

    use super::BuildResult;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Docs {
        #[serde(default)]
        schemas: BTreeMap<String, SchemaDocs>,
        #[serde(default)]
        operations: BTreeMap<String, String>,
        /// operationId → parameter name → description.
        #[serde(default)]
        parameters: BTreeMap<String, BTreeMap<String, String>>,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SchemaDocs {
        description: String,
        #[serde(default)]
        properties: BTreeMap<String, String>,
    }

    pub fn load(path: &Path) -> BuildResult<Docs> {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Sets each description; a name the document does not have is an error,
    /// so the overlay cannot silently go stale after a schema refresh.
    pub fn merge(docs: &Docs, doc: &mut Value) -> BuildResult<()> {
        for (name, schema_docs) in &docs.schemas {
            let schema = doc
                .pointer_mut(&format!("/components/schemas/{name}"))
                .and_then(Value::as_object_mut)
                .ok_or_else(|| format!("docs.toml: no schema {name}"))?;
            schema.insert(
                "description".into(),
                Value::String(schema_docs.description.clone()),
            );
            for (property, text) in &schema_docs.properties {
                let target = schema
                    .get_mut("properties")
                    .and_then(|p| p.get_mut(property))
                    .and_then(Value::as_object_mut)
                    .ok_or_else(|| {
                        format!("docs.toml: schema {name} has no property {property}")
                    })?;
                describe(target, text);
            }
        }
        for (operation_id, text) in &docs.operations {
            let op = operation_mut(doc, operation_id)
                .ok_or_else(|| format!("docs.toml: no operation {operation_id}"))?;
            op.insert("description".into(), Value::String(text.clone()));
        }
        for (operation_id, parameters) in &docs.parameters {
            let op = operation_mut(doc, operation_id)
                .ok_or_else(|| format!("docs.toml: no operation {operation_id}"))?;
            let list = op
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
                .ok_or_else(|| format!("docs.toml: operation {operation_id} has no parameters"))?;
            for (name, text) in parameters {
                let parameter = list
                    .iter_mut()
                    .find(|p| p.get("name").and_then(Value::as_str) == Some(name.as_str()))
                    .and_then(Value::as_object_mut)
                    .ok_or_else(|| format!("docs.toml: {operation_id} has no parameter {name}"))?;
                parameter.insert("description".into(), Value::String(text.clone()));
            }
        }
        Ok(())
    }

    /// A `$ref` cannot carry a description in OpenAPI 3.0; wrapping it in
    /// `allOf` would change the generated type, so a referenced property
    /// keeps its type's description and the text goes on inline ones only.
    fn describe(target: &mut serde_json::Map<String, Value>, text: &str) {
        if !target.contains_key("$ref") {
            target.insert("description".into(), Value::String(text.to_owned()));
        }
    }

    fn operation_mut<'a>(
        doc: &'a mut Value,
        operation_id: &str,
    ) -> Option<&'a mut serde_json::Map<String, Value>> {
        let paths = doc.get_mut("paths")?.as_object_mut()?;
        for item in paths.values_mut() {
            for op in item.as_object_mut()?.values_mut() {
                if op.get("operationId").and_then(Value::as_str) == Some(operation_id) {
                    return op.as_object_mut();
                }
            }
        }
        None
    }
}

/// Changes made to the document before generation: the forward-compatibility
/// and fidelity policy of the SDK.
mod policy {
    use serde_json::Value;

    /// The choices that differ between API versions.
    pub struct Policy {
        /// Drop `required` from every component schema, so a missing field
        /// is `None` rather than a failed response.
        pub optional_fields: bool,
    }

    /// Applies every rule to the document.
    pub fn apply(doc: &mut Value, rules: Policy) {
        if rules.optional_fields {
            let envelopes = envelopes(doc);
            if let Some(schemas) = doc
                .pointer_mut("/components/schemas")
                .and_then(Value::as_object_mut)
            {
                schemas
                    .iter_mut()
                    .filter(|(name, _)| !envelopes.contains(name.as_str()))
                    .for_each(|(_, schema)| drop_required(schema));
            }
        }
        walk(doc);
        inline_primitive_aliases(doc);
        undeclare_errors(doc);
    }

    /// Keywords that only constrain values. The server is the validator: a
    /// model must never refuse what the server sends (a score above a
    /// documented maximum, an id of a new shape), and a builder must not
    /// force `NonZeroU32` on a plain `limit(100)`.
    const CONSTRAINTS: &[&str] = &[
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "multipleOf",
    ];

    /// Replaces every reference to a component schema that is only a
    /// primitive (`EventId` is a string, `Timestamp` an integer, `Suspect` a
    /// boolean) with the primitive itself, so fields are plain `String`,
    /// `i64` and `bool` rather than one newtype each. Enums and objects keep
    /// their names.
    fn inline_primitive_aliases(doc: &mut Value) {
        let Some(schemas) = doc
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        let aliases: serde_json::Map<String, Value> = schemas
            .iter()
            .filter(|(_, schema)| is_primitive(schema))
            .map(|(name, schema)| (format!("#/components/schemas/{name}"), schema.clone()))
            .collect();
        schemas.retain(|name, _| !aliases.contains_key(&format!("#/components/schemas/{name}")));
        replace_refs(doc, &aliases);
    }

    fn is_primitive(schema: &Value) -> bool {
        let Some(map) = schema.as_object() else {
            return false;
        };
        let primitive = matches!(
            map.get("type").and_then(Value::as_str),
            Some("string" | "integer" | "number" | "boolean")
        );
        primitive && !map.contains_key("enum")
    }

    fn replace_refs(node: &mut Value, aliases: &serde_json::Map<String, Value>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref")
                    && let Some(schema) = aliases.get(target)
                {
                    *node = schema.clone();
                    return;
                }
                map.values_mut().for_each(|v| replace_refs(v, aliases));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| replace_refs(v, aliases)),
            _ => {}
        }
    }

    /// Removes the non-2xx responses from every operation. progenitor would
    /// decode a declared error status itself and lose the status or the body
    /// when the body is not the documented JSON (an HTML page from a gateway,
    /// an empty 503); undeclared, every error response reaches the
    /// hand-written layer whole, which keeps the status, the headers and the
    /// body text and decodes the error JSON itself.
    fn undeclare_errors(doc: &mut Value) {
        let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
            return;
        };
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                    responses.retain(|status, _| status.starts_with('2'));
                }
            }
        }
    }

    /// The schemas an operation returns or takes as its body directly: their
    /// own required fields stay required.
    fn envelopes(doc: &Value) -> std::collections::BTreeSet<String> {
        let mut names = std::collections::BTreeSet::new();
        let ops = doc
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|paths| paths.values())
            .filter_map(Value::as_object)
            .flat_map(|item| item.values());
        for op in ops {
            let bodies = op
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|r| r.values())
                .chain(op.get("requestBody"));
            for body in bodies {
                let target = body
                    .pointer("/content/application~1json/schema/$ref")
                    .and_then(Value::as_str);
                if let Some(name) = target.and_then(|t| t.strip_prefix("#/components/schemas/")) {
                    names.insert(name.to_owned());
                }
            }
        }
        names
    }

    fn drop_required(node: &mut Value) {
        match node {
            Value::Object(map) => {
                if matches!(map.get("required"), Some(Value::Array(_))) {
                    map.remove("required");
                }
                map.values_mut().for_each(drop_required);
            }
            Value::Array(items) => items.iter_mut().for_each(drop_required),
            _ => {}
        }
    }

    fn walk(node: &mut Value) {
        match node {
            Value::Object(map) => {
                // A closed object (`additionalProperties: false`) would make
                // the generated struct reject any field the server adds later.
                if map.get("additionalProperties") == Some(&Value::Bool(false)) {
                    map.remove("additionalProperties");
                }
                // A numeric enum would become a newtype that refuses any
                // number not listed (a new precision radius, say): keep the
                // number, the listed values stay documented.
                if matches!(
                    map.get("type").and_then(Value::as_str),
                    Some("integer" | "number")
                ) && matches!(map.get("enum"), Some(Value::Array(_)))
                {
                    map.remove("enum");
                }
                // Only scalar values: an object under such a key is a
                // property that happens to have that name.
                map.retain(|key, value| {
                    !(CONSTRAINTS.contains(&key.as_str())
                        && (value.is_number() || value.is_string() || value.is_boolean()))
                });
                if let Some(Value::String(format)) = map.get("format") {
                    match format.as_str() {
                        // `f32` cannot hold what the server sends (0.95 comes
                        // back as 0.949999988079071): use `f64` throughout.
                        "float" => {
                            map.insert("format".into(), Value::String("double".into()));
                        }
                        // Typed IP addresses would re-serialize in canonical
                        // form and refuse a malformed value outright; strings
                        // keep exactly what the server sent.
                        "ipv4" | "ipv6" => {
                            map.remove("format");
                        }
                        _ => {}
                    }
                }
                for value in map.values_mut() {
                    walk(value);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
}

/// The table of operations (name and path template) read from the document,
/// used to check requests before they are sent.
mod routes {
    use super::*;

    pub struct Route {
        pub operation_id: String,
        pub template: String,
    }

    pub fn collect(doc: &Value) -> BuildResult<Vec<Route>> {
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("document has no paths")?;
        let mut routes = Vec::new();
        for (template, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                if !matches!(
                    method.as_str(),
                    "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
                ) {
                    continue;
                }
                let operation_id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{method} {template} has no operationId"))?;
                routes.push(Route {
                    operation_id: snake(operation_id),
                    template: template.clone(),
                });
            }
        }
        routes.sort_by(|a, b| a.operation_id.cmp(&b.operation_id));
        Ok(routes)
    }

    /// progenitor's names for operations: snake case of the operationId.
    pub fn snake(id: &str) -> String {
        let mut out = String::new();
        let mut prev_lower = false;
        for c in id.chars() {
            if c.is_ascii_uppercase() {
                if prev_lower {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
                prev_lower = false;
            } else {
                out.push(c);
                prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            }
        }
        out
    }

    /// `pub(crate) static ROUTES: &[Route]` for the hand-written layer.
    pub fn table(routes: &[Route]) -> TokenStream {
        let entries = routes.iter().map(|r| {
            let id = &r.operation_id;
            let template = &r.template;
            quote! {
                crate::route::Route {
                    operation_id: #id,
                    template: #template,
                }
            }
        });
        quote! {
            /// Every operation of the document, as read at build time.
            pub(crate) static ROUTES: &[crate::route::Route] = &[#(#entries),*];
        }
    }
}

/// Rewrites of the generated syntax tree.
mod postprocess {
    use super::*;
    use syn::{Fields, Item, ItemEnum, ItemImpl, ItemMod, parse_quote};

    pub fn run(file: &mut syn::File, routes: &[routes::Route]) -> BuildResult<()> {
        let mut opened = 0;
        let mut wrapped = 0;
        for item in &mut file.items {
            match item {
                Item::Mod(m) if m.ident == "types" => {
                    opened += open_enums(m)?;
                    catch_all_untagged(m);
                    optional_collections(m)?;
                }
                Item::Mod(m) if m.ident == "builder" => wrapped += wrap_sends(m, routes)?,
                Item::Struct(s) if s.ident == "Client" => {
                    // The hand-written layer implements `Debug` itself so the
                    // key can never be printed.
                    remove_derive(&mut s.attrs, "Debug");
                }
                Item::Impl(imp) if is_inherent_impl_of(imp, "Client") => {
                    // Construction goes through `Client::builder`, which sets
                    // up authentication, retries and timeouts; the generated
                    // constructors would skip all of that.
                    imp.items
                        .retain(|i| !matches!(i, syn::ImplItem::Fn(f) if f.sig.ident == "new"));
                    for i in &mut imp.items {
                        if let syn::ImplItem::Fn(f) = i
                            && f.sig.ident == "new_with_client"
                        {
                            f.vis = parse_quote!(pub(crate));
                        }
                    }
                }
                _ => {}
            }
        }
        if opened == 0 {
            return Err("no enum was opened: the generated code has an unexpected shape".into());
        }
        if wrapped != routes.len() {
            return Err(format!(
                "wrapped {wrapped} send methods for {} operations",
                routes.len()
            ));
        }
        // The prelude is progenitor's; the crate has its own layout.
        file.items
            .retain(|i| !matches!(i, Item::Mod(m) if m.ident == "prelude"));
        Ok(())
    }

    fn is_inherent_impl_of(imp: &ItemImpl, name: &str) -> bool {
        imp.trait_.is_none() && type_name(&imp.self_ty).as_deref() == Some(name)
    }

    fn type_name(ty: &syn::Type) -> Option<String> {
        match ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        }
    }

    fn remove_derive(attrs: &mut [syn::Attribute], name: &str) {
        for attr in attrs.iter_mut() {
            if !attr.path().is_ident("derive") {
                continue;
            }
            let Ok(paths) = attr.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            ) else {
                continue;
            };
            let kept: Vec<&syn::Path> = paths
                .iter()
                .filter(|p| p.segments.last().is_none_or(|s| s.ident != name))
                .collect();
            *attr = parse_quote!(#[derive(#(#kept),*)]);
        }
    }

    /// The enums that type a field of an untagged enum's variant (the
    /// one-value `type` of the allow and block rule actions, from `const`):
    /// they tell the variants apart, so they must refuse other values.
    fn discriminators(items: &[Item]) -> std::collections::BTreeSet<String> {
        let mut names = std::collections::BTreeSet::new();
        for item in items {
            let Item::Enum(e) = item else { continue };
            let untagged = e
                .attrs
                .iter()
                .any(|a| a.path().is_ident("serde") && quote!(#a).to_string().contains("untagged"));
            if !untagged {
                continue;
            }
            for variant in &e.variants {
                for field in &variant.fields {
                    if let Some(name) = type_name(&field.ty) {
                        names.insert(name);
                    }
                }
            }
        }
        names
    }

    /// Turns every string enum into an open enum: the known values stay
    /// variants, anything else is kept verbatim in `Unrecognized(String)`.
    /// Only the enums that tell an untagged enum's variants apart stay
    /// closed (see [`discriminators`]).
    fn open_enums(types: &mut ItemMod) -> BuildResult<usize> {
        let Some((_, items)) = types.content.as_mut() else {
            return Err("types module has no content".into());
        };
        let discriminators = discriminators(items);
        let mut open: BTreeMap<String, Vec<(syn::Ident, String)>> = BTreeMap::new();
        for item in items.iter_mut() {
            let Item::Enum(e) = item else { continue };
            let Some(values) = wire_values(e) else {
                continue;
            };
            if discriminators.contains(&e.ident.to_string()) {
                continue;
            }
            if values.iter().any(|(v, _)| v == "Unrecognized") {
                return Err(format!(
                    "enum {} already has a variant named Unrecognized",
                    e.ident
                ));
            }
            for name in ["Copy", "Deserialize", "Serialize"] {
                remove_derive(&mut e.attrs, name);
            }
            // serde is implemented by hand below; its attributes would have
            // no derive to read them.
            e.attrs.retain(|a| !a.path().is_ident("serde"));
            for v in e.variants.iter_mut() {
                v.attrs.retain(|a| !a.path().is_ident("serde"));
            }
            let doc = "A value this version of the SDK does not know, kept exactly as the server sent it.";
            e.variants.push(parse_quote! {
                #[doc = #doc]
                Unrecognized(::std::string::String)
            });
            open.insert(e.ident.to_string(), values);
        }
        // Drop the conversions typify wrote for the closed form; the open
        // form gets its own below.
        items.retain(|item| {
            let Item::Impl(imp) = item else { return true };
            let Some(name) = type_name(&imp.self_ty) else {
                return true;
            };
            if !open.contains_key(&name) {
                return true;
            }
            let Some((_, trait_path, _)) = &imp.trait_ else {
                return true;
            };
            let last = trait_path.segments.last().map(|s| s.ident.to_string());
            !matches!(last.as_deref(), Some("Display" | "FromStr" | "TryFrom"))
        });
        let count = open.len();
        for (name, values) in open {
            let ident = format_ident!("{}", name);
            let tokens = open_enum_impls(&ident, &values);
            let file: syn::File = syn::parse2(tokens).map_err(|e| e.to_string())?;
            items.extend(file.items);
        }
        Ok(count)
    }

    /// Gives every untagged enum of objects (the rule action: allow or block)
    /// a last variant that takes any other JSON, so an action type added
    /// later does not make the whole event unreadable.
    fn catch_all_untagged(types: &mut ItemMod) {
        let Some((_, items)) = types.content.as_mut() else {
            return;
        };
        for item in items.iter_mut() {
            let Item::Enum(e) = item else { continue };
            let untagged = e
                .attrs
                .iter()
                .any(|a| a.path().is_ident("serde") && quote!(#a).to_string().contains("untagged"));
            let objects = e
                .variants
                .iter()
                .any(|v| matches!(v.fields, Fields::Named(_)));
            if untagged && objects {
                let doc = "A shape this version of the SDK does not know, kept as the JSON the server sent.";
                e.variants.push(parse_quote! {
                    #[doc = #doc]
                    Unrecognized(::serde_json::Value)
                });
            }
        }
    }

    /// typify reads a missing optional list or map as empty and leaves an
    /// empty one out when writing, so `[]` and `{}` from the server would
    /// vanish on a round trip (and `EventUpdate` could not send `"tags": {}`).
    /// Such fields become `Option<Vec<_>>` / `Option<Map<_, _>>`: absent stays
    /// absent, empty stays empty. Their builders follow.
    fn optional_collections(types: &mut ItemMod) -> BuildResult<()> {
        let Some((_, items)) = types.content.as_mut() else {
            return Ok(());
        };
        // (struct, field) whose type became an `Option`
        let mut changed: std::collections::BTreeSet<(String, String)> = Default::default();
        for item in items.iter_mut() {
            match item {
                Item::Struct(st) => {
                    let Fields::Named(fields) = &mut st.fields else {
                        continue;
                    };
                    for field in fields.named.iter_mut() {
                        if optional_if_defaulted(field, &st.ident)?
                            && let Some(name) = &field.ident
                        {
                            changed.insert((st.ident.to_string(), name.to_string()));
                        }
                    }
                }
                // Struct variants (the rule actions) have no builders.
                Item::Enum(e) => {
                    for variant in e.variants.iter_mut() {
                        let Fields::Named(fields) = &mut variant.fields else {
                            continue;
                        };
                        for field in fields.named.iter_mut() {
                            optional_if_defaulted(field, &e.ident)?;
                        }
                    }
                }
                _ => {}
            }
        }
        let Some(builders) = items.iter_mut().find_map(|item| match item {
            Item::Mod(m) if m.ident == "builder" => m.content.as_mut().map(|(_, items)| items),
            _ => None,
        }) else {
            return Ok(());
        };
        for item in builders.iter_mut() {
            match item {
                Item::Struct(st) => {
                    let Fields::Named(fields) = &mut st.fields else {
                        continue;
                    };
                    for field in fields.named.iter_mut() {
                        let key = (
                            st.ident.to_string(),
                            field
                                .ident
                                .as_ref()
                                .map(|i| i.to_string())
                                .unwrap_or_default(),
                        );
                        if changed.contains(&key) {
                            // `Result<X, String>` with X written as the
                            // builder module sees it (`super::...`).
                            let inner = last_generic_args(&field.ty)
                                .and_then(|args| args.first().cloned())
                                .ok_or_else(|| format!("builder field {key:?} is not a Result"))?;
                            field.ty = parse_quote!(::std::result::Result<::std::option::Option<#inner>, ::std::string::String>);
                        }
                    }
                }
                Item::Impl(imp) if imp.trait_.is_none() => {
                    let Some(owner) = type_name(&imp.self_ty) else {
                        continue;
                    };
                    for member in imp.items.iter_mut() {
                        let syn::ImplItem::Fn(f) = member else {
                            continue;
                        };
                        if !changed.contains(&(owner.clone(), f.sig.ident.to_string())) {
                            continue;
                        }
                        let Some(clause) = f.sig.generics.where_clause.as_mut() else {
                            continue;
                        };
                        for predicate in clause.predicates.iter_mut() {
                            let syn::WherePredicate::Type(bound) = predicate else {
                                continue;
                            };
                            for b in bound.bounds.iter_mut() {
                                let syn::TypeParamBound::Trait(t) = b else {
                                    continue;
                                };
                                let Some(last) = t.path.segments.last_mut() else {
                                    continue;
                                };
                                if last.ident != "TryInto" {
                                    continue;
                                }
                                if let syn::PathArguments::AngleBracketed(args) =
                                    &mut last.arguments
                                    && let Some(syn::GenericArgument::Type(target)) =
                                        args.args.first_mut()
                                {
                                    let inner = target.clone();
                                    *target = parse_quote!(::std::option::Option<#inner>);
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Turns a field typify reads with `default` and writes with
    /// `skip_serializing_if = "...::is_empty"` into an `Option`; returns
    /// whether it did.
    fn optional_if_defaulted(field: &mut syn::Field, owner: &syn::Ident) -> BuildResult<bool> {
        let Some(pos) = field.attrs.iter().position(|a| {
            a.path().is_ident("serde") && {
                let text = quote!(#a).to_string();
                text.contains("skip_serializing_if") && text.contains("::is_empty\"")
            }
        }) else {
            return Ok(false);
        };
        let attr = &field.attrs[pos];
        let rewritten = quote!(#attr)
            .to_string()
            .replace(
                "\"::std::vec::Vec::is_empty\"",
                "\"::std::option::Option::is_none\"",
            )
            .replace(
                "\"::serde_json::Map::is_empty\"",
                "\"::std::option::Option::is_none\"",
            );
        if rewritten.contains("is_empty") {
            return Err(format!(
                "unexpected skip_serializing_if in {owner}: {rewritten}"
            ));
        }
        let tokens: TokenStream = rewritten.parse().map_err(|e| format!("{e:?}"))?;
        let mut parsed: Vec<syn::Attribute> =
            syn::parse::Parser::parse2(syn::Attribute::parse_outer, tokens)
                .map_err(|e| e.to_string())?;
        if parsed.len() != 1 {
            return Err(format!(
                "rewritten attribute in {owner} did not parse as one"
            ));
        }
        field.attrs[pos] = parsed.remove(0);
        let old = field.ty.clone();
        field.ty = parse_quote!(::std::option::Option<#old>);
        Ok(true)
    }

    /// The variants of an all-unit enum with their wire values, or `None`
    /// when the enum has any other kind of variant.
    fn wire_values(e: &ItemEnum) -> Option<Vec<(syn::Ident, String)>> {
        let mut out = Vec::new();
        for v in &e.variants {
            if !matches!(v.fields, Fields::Unit) {
                return None;
            }
            let mut wire = None;
            for attr in &v.attrs {
                if !attr.path().is_ident("serde") {
                    continue;
                }
                let _ = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("rename") {
                        let lit: syn::LitStr = meta.value()?.parse()?;
                        wire = Some(lit.value());
                    }
                    Ok(())
                });
            }
            out.push((v.ident.clone(), wire.unwrap_or_else(|| v.ident.to_string())));
        }
        Some(out)
    }

    fn open_enum_impls(ident: &syn::Ident, values: &[(syn::Ident, String)]) -> TokenStream {
        let variants: Vec<&syn::Ident> = values.iter().map(|(v, _)| v).collect();
        let wires: Vec<&String> = values.iter().map(|(_, w)| w).collect();
        let expecting = format!("a {ident} string");
        quote! {
            impl #ident {
                /// The value as it appears on the wire.
                pub fn as_str(&self) -> &str {
                    match self {
                        #(Self::#variants => #wires,)*
                        Self::Unrecognized(value) => value.as_str(),
                    }
                }

                /// Whether the value is one this version of the SDK does not know.
                pub fn is_unrecognized(&self) -> bool {
                    matches!(self, Self::Unrecognized(_))
                }
            }
            impl ::std::fmt::Display for #ident {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.write_str(self.as_str())
                }
            }
            impl ::std::convert::From<&str> for #ident {
                fn from(value: &str) -> Self {
                    match value {
                        #(#wires => Self::#variants,)*
                        other => Self::Unrecognized(other.to_owned()),
                    }
                }
            }
            impl ::std::convert::From<::std::string::String> for #ident {
                fn from(value: ::std::string::String) -> Self {
                    match value.as_str() {
                        #(#wires => Self::#variants,)*
                        _ => Self::Unrecognized(value),
                    }
                }
            }
            impl ::std::convert::From<&::std::string::String> for #ident {
                fn from(value: &::std::string::String) -> Self {
                    Self::from(value.as_str())
                }
            }
            impl ::std::str::FromStr for #ident {
                type Err = ::std::convert::Infallible;
                fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                    Ok(Self::from(value))
                }
            }
            impl ::serde::Serialize for #ident {
                fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                    serializer.serialize_str(self.as_str())
                }
            }
            impl<'de> ::serde::Deserialize<'de> for #ident {
                fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                    struct Visitor;
                    impl<'de> ::serde::de::Visitor<'de> for Visitor {
                        type Value = #ident;
                        fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                            f.write_str(#expecting)
                        }
                        fn visit_str<E: ::serde::de::Error>(self, value: &str) -> ::std::result::Result<#ident, E> {
                            Ok(#ident::from(value))
                        }
                        fn visit_string<E: ::serde::de::Error>(self, value: ::std::string::String) -> ::std::result::Result<#ident, E> {
                            Ok(#ident::from(value))
                        }
                    }
                    deserializer.deserialize_str(Visitor)
                }
            }
        }
    }

    /// Renames each operation builder's `send` to `send_raw` and adds a
    /// `send` that runs it through the hand-written call layer, which returns
    /// the crate's own `Error`.
    fn wrap_sends(builders: &mut ItemMod, routes: &[routes::Route]) -> BuildResult<usize> {
        let Some((_, items)) = builders.content.as_mut() else {
            return Err("builder module has no content".into());
        };
        let mut wrapped = 0;
        for item in items.iter_mut() {
            let Item::Impl(imp) = item else { continue };
            if imp.trait_.is_some() {
                continue;
            }
            let mut added: Vec<syn::ImplItem> = Vec::new();
            for member in &mut imp.items {
                let syn::ImplItem::Fn(f) = member else {
                    continue;
                };
                if f.sig.ident != "send" {
                    continue;
                }
                let ok_type = success_type(&f.sig.output)
                    .ok_or_else(|| format!("unexpected send signature: {}", quote!(#f)))?;
                let operation_id = operation_of(f).ok_or("send method without an OperationInfo")?;
                if !routes.iter().any(|r| r.operation_id == operation_id) {
                    return Err(format!(
                        "operation {operation_id} is not in the route table"
                    ));
                }
                f.sig.ident = format_ident!("send_raw");
                f.vis = syn::Visibility::Inherited;
                f.attrs.retain(|a| !a.path().is_ident("doc"));
                let doc = format!(
                    "Sends the request (operation `{operation_id}`), with the client's retry \
                     policy and timeouts, and returns the decoded response or an [`crate::Error`]."
                );
                added.push(parse_quote! {
                    #[doc = #doc]
                    pub fn send(self) -> impl ::std::future::Future<
                        Output = ::std::result::Result<ResponseValue<#ok_type>, crate::Error>,
                    > {
                        let client = self.client;
                        crate::call::run(client, #operation_id, self.send_raw())
                    }
                });
                // The same request with the body kept as JSON: nothing the
                // server sent is dropped (fields this version does not know
                // included), for exports and pass-through.
                let unit: syn::Type = parse_quote!(());
                if ok_type != unit {
                    let mut json = f.clone();
                    json.sig.ident = format_ident!("send_json_raw");
                    let output = &mut json.sig.output;
                    *output = parse_quote! {
                        -> Result<ResponseValue<::serde_json::Value>, Error<()>>
                    };
                    let json_doc = format!(
                        "Like `send`, but returns the body as JSON, exactly as the server sent it \
                         (operation `{operation_id}`)."
                    );
                    added.push(syn::ImplItem::Fn(json));
                    added.push(parse_quote! {
                        #[doc = #json_doc]
                        pub fn send_json(self) -> impl ::std::future::Future<
                            Output = ::std::result::Result<ResponseValue<::serde_json::Value>, crate::Error>,
                        > {
                            let client = self.client;
                            crate::call::run(client, #operation_id, self.send_json_raw())
                        }
                    });
                }
            }
            if !added.is_empty() {
                imp.items.extend(added);
                wrapped += 1;
            }
        }
        Ok(wrapped)
    }

    /// `T` in `Result<ResponseValue<T>, Error<E>>`.
    fn success_type(output: &syn::ReturnType) -> Option<syn::Type> {
        let syn::ReturnType::Type(_, ty) = output else {
            return None;
        };
        let result = last_generic_args(ty)?;
        let syn::GenericArgument::Type(ok) = result.first()? else {
            return None;
        };
        let inner = last_generic_args(ok)?;
        match inner.first()? {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        }
    }

    fn last_generic_args(
        ty: &syn::Type,
    ) -> Option<&syn::punctuated::Punctuated<syn::GenericArgument, syn::Token![,]>> {
        let syn::Type::Path(p) = ty else { return None };
        match &p.path.segments.last()?.arguments {
            syn::PathArguments::AngleBracketed(a) => Some(&a.args),
            _ => None,
        }
    }

    /// The `operation_id` string literal of the `OperationInfo` built in `send`.
    fn operation_of(f: &syn::ImplItemFn) -> Option<String> {
        let text = quote!(#f).to_string();
        let at = text.find("operation_id :")?;
        let rest = &text[at..];
        let start = rest.find('"')? + 1;
        let end = rest[start..].find('"')? + start;
        Some(rest[start..end].to_string())
    }
}
