//! Code generation for `fingerprint-server-sdk`: from the vendored OpenAPI
//! document to the formatted Rust source its `build.rs` writes to `OUT_DIR`.
//!
//! The steps, one module each:
//! - [`policy`]: changes to the document before generation (forward
//!   compatibility and fidelity: open objects, no value constraints, `f64`,
//!   primitive aliases inlined, error responses left to the hand layer);
//! - [`docs`]: the project's own descriptions (`openapi/docs.toml`) merged
//!   into the document, with the names it describes that the document no
//!   longer has reported, never fatal;
//! - [`operations`]: the table of operations (name, method, path template);
//! - [`search`]: the table of search parameters;
//! - progenitor, in builder style;
//! - [`rewrite`]: rewrites of progenitor's syntax tree, each matching on
//!   parsed syntax (paths, idents, attribute meta), never on token text.

pub mod docs;
pub mod operations;
pub mod policy;
pub mod rewrite;
pub mod search;

use std::fmt;

use serde_json::Value;

/// Why generation failed: a document progenitor cannot read, or generated
/// code of a shape the rewrites do not know (after a progenitor upgrade).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to generate for one API version.
#[derive(Debug, Clone)]
pub struct Options {
    /// The document policy for this API version.
    pub policy: policy::Policy,
    /// Emit the search parameter table (the v4 API's `searchEvents`).
    pub search_table: bool,
}

impl Options {
    /// The options of the current API (v4).
    pub fn v4() -> Self {
        Self {
            policy: policy::Policy::default(),
            search_table: true,
        }
    }

    /// The options of the deprecated v3 API: every field below the response
    /// envelopes optional, no search table.
    pub fn v3() -> Self {
        Self {
            policy: policy::Policy {
                optional_fields: true,
            },
            search_table: false,
        }
    }
}

/// The outcome of a generation: three formatted Rust sources, each meant
/// to be included in a module of its own.
#[derive(Debug)]
pub struct Generated {
    /// The models: the items of a `types` module.
    pub models: String,
    /// The client, its request builders and the operation table; they name
    /// the models as `super::types` (the including module must have them
    /// in scope as `types`) and the hand-written layer as `crate::runtime`.
    pub client: String,
    /// The search parameter table (`pub static PARAMETERS`), when asked
    /// for; it names `Parameter`, `Kind` and `Role` of the including module.
    pub search: Option<String>,
    /// The docs overlay's names that the document does not have (stale
    /// after a schema refresh); their text was left out.
    pub stale_docs: Vec<docs::Stale>,
}

impl Generated {
    /// The files of API version `version` (`v4`, `v3`): name and text, as
    /// the SDK's `build.rs` writes them to `OUT_DIR` and includes them
    /// (`{version}_models.rs`, `{version}_client.rs` and, when there is a
    /// search table, `{version}_search.rs`).
    pub fn files(&self, version: &str) -> Vec<(String, &str)> {
        let mut out = vec![
            (format!("{version}_models.rs"), self.models.as_str()),
            (format!("{version}_client.rs"), self.client.as_str()),
        ];
        if let Some(search) = &self.search {
            out.push((format!("{version}_search.rs"), search.as_str()));
        }
        out
    }
}

/// Generates the client and models from `document` (the OpenAPI 3.0 JSON
/// text) with the optional docs overlay `docs` (the TOML text of
/// `openapi/docs.toml`).
pub fn generate(document: &str, docs: Option<&str>, options: &Options) -> Result<Generated> {
    let mut doc: Value = serde_json::from_str(document)
        .map_err(|e| Error::new(format!("the document is not JSON: {e}")))?;
    // Read before the policy removes the value constraints (the bounds).
    let mut search = if options.search_table {
        Some(search::collect(&doc, search::OPERATION)?)
    } else {
        None
    };
    policy::apply(&mut doc, &options.policy);
    let (overlay, stale_docs) = match docs {
        Some(text) => merge_overlay(&mut doc, text),
        None => (docs::Docs::default(), Vec::new()),
    };
    for parameter in search.iter_mut().flatten() {
        if let Some(text) = overlay.parameter(search::OPERATION, &parameter.name) {
            parameter.summary = text.to_owned();
        }
    }
    let operations = operations::collect(&doc)?;
    let discriminators = discriminators(&doc);

    let spec: openapiv3::OpenAPI = serde_json::from_value(doc)
        .map_err(|e| Error::new(format!("not an OpenAPI 3.0 document: {e}")))?;
    let mut settings = progenitor::GenerationSettings::new();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_inner_type(quote::quote!(crate::runtime::Core));
    let tokens = progenitor::Generator::new(&settings)
        .generate_tokens(&spec)
        .map_err(|e| Error::new(format!("progenitor: {e}")))?;
    let mut file: syn::File = syn::parse2(tokens)
        .map_err(|e| Error::new(format!("progenitor's output does not parse: {e}")))?;

    let search_operation = operations::snake(search::OPERATION);
    rewrite::run(
        &mut file,
        &operations,
        search
            .as_deref()
            .map(|parameters| (search_operation.as_str(), parameters)),
        &discriminators,
    )?;
    file.items
        .extend(parse_items(operations::table(&operations))?);
    let models = take_module(&mut file, "types")?;
    let search = match &search {
        Some(parameters) => Some(unparse(parse_items(search::table(parameters))?)),
        None => None,
    };
    Ok(Generated {
        models: unparse(models),
        client: prettyplease::unparse(&file),
        search,
        stale_docs,
    })
}

/// The names the docs overlay (`docs`, TOML text) describes that
/// `document` does not have, judged as [`generate`] merges them (after the
/// policy, which inlines primitive aliases). For `cargo xtask regen`, which
/// prunes them.
pub fn stale_docs(document: &Value, docs: &str, policy: &policy::Policy) -> Vec<docs::Stale> {
    let mut doc = document.clone();
    policy::apply(&mut doc, policy);
    merge_overlay(&mut doc, docs).1
}

/// Merges the overlay (`docs`, TOML text) into `doc`, which the policy has
/// already changed: the overlay and the names it describes that `doc` does
/// not have. An overlay that does not parse merges nothing and is reported
/// as [`docs::Stale::Unreadable`], never fatal.
fn merge_overlay(doc: &mut Value, docs: &str) -> (docs::Docs, Vec<docs::Stale>) {
    match docs::Docs::parse(docs) {
        Ok(overlay) => {
            let stale = overlay.merge(doc);
            (overlay, stale)
        }
        Err(e) => (
            docs::Docs::default(),
            vec![docs::Stale::Unreadable(e.to_string())],
        ),
    }
}

/// Component schema name -> the property its `discriminator` names.
fn discriminators(doc: &Value) -> std::collections::BTreeMap<String, String> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, schema)| {
            let property = schema.pointer("/discriminator/propertyName")?.as_str()?;
            Some((name.clone(), property.to_owned()))
        })
        .collect()
}

/// Removes module `name` from `file` and returns its items.
fn take_module(file: &mut syn::File, name: &str) -> Result<Vec<syn::Item>> {
    let position = file
        .items
        .iter()
        .position(|i| matches!(i, syn::Item::Mod(m) if m.ident == name))
        .ok_or_else(|| Error::new(format!("the generated code has no {name} module")))?;
    match file.items.remove(position) {
        syn::Item::Mod(syn::ItemMod {
            content: Some((_, items)),
            ..
        }) => Ok(items),
        _ => Err(Error::new(format!("module {name} has no body"))),
    }
}

fn unparse(items: Vec<syn::Item>) -> String {
    prettyplease::unparse(&syn::File {
        shebang: None,
        attrs: Vec::new(),
        items,
    })
}

/// Items from tokens this crate produced itself.
pub(crate) fn parse_items(tokens: proc_macro2::TokenStream) -> Result<Vec<syn::Item>> {
    let file: syn::File = syn::parse2(tokens)
        .map_err(|e| Error::new(format!("generated items do not parse: {e}")))?;
    Ok(file.items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_of_a_version_are_named_after_it() {
        let mut generated = Generated {
            models: "m".into(),
            client: "c".into(),
            search: Some("s".into()),
            stale_docs: Vec::new(),
        };
        assert_eq!(
            generated.files("v4"),
            [
                ("v4_models.rs".to_owned(), "m"),
                ("v4_client.rs".to_owned(), "c"),
                ("v4_search.rs".to_owned(), "s"),
            ]
        );
        generated.search = None;
        assert_eq!(
            generated.files("v3"),
            [
                ("v3_models.rs".to_owned(), "m"),
                ("v3_client.rs".to_owned(), "c"),
            ]
        );
    }
}
