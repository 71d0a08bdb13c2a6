//! The docs overlay, `openapi/docs.toml`: which of the names it describes a
//! document no longer has, and taking those entries out while leaving the
//! rest of the file (comments, order, layout) as it was.
//!
//! Which names are stale is decided where the overlay is merged, by the
//! codegen crate ([`fingerprint_server_sdk_codegen::stale_docs`]); this
//! module turns its answer into entries of the file and takes them out.

use std::fmt;

use anyhow::{Result, anyhow, bail};
use fingerprint_server_sdk_codegen::{policy::Policy, stale_docs};
use serde_json::Value;
use toml_edit::{DocumentMut, Item, Table, TableLike};

use fingerprint_server_sdk_codegen::docs::Stale;

/// An entry of docs.toml whose name the document does not have, as regen's
/// report names it: the name and the table that holds its entry.
pub struct Entry<'a>(pub &'a Stale);

impl fmt::Display for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Stale::Schema(s) => write!(f, "schema `{s}` ([schemas.{s}])"),
            Stale::Property { schema, property } => {
                write!(
                    f,
                    "property `{schema}.{property}` ([schemas.{schema}.properties])"
                )
            }
            Stale::Operation(id) => write!(f, "operation `{id}` ([operations])"),
            Stale::Parameter {
                operation,
                parameter,
            } => write!(
                f,
                "parameter `{parameter}` of `{operation}` ([parameters.{operation}])"
            ),
            Stale::Unreadable(why) => write!(f, "docs.toml could not be read: {why}"),
        }
    }
}

/// The table holding the entry and, for a single key, the key; `None` for
/// an unreadable overlay, which has no entry to take out.
fn location(stale: &Stale) -> Option<(Vec<String>, Option<String>)> {
    let v = |parts: &[&str]| parts.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Some(match stale {
        Stale::Schema(s) => (v(&["schemas", s]), None),
        Stale::Property { schema, property } => (
            v(&["schemas", schema, "properties"]),
            Some(property.clone()),
        ),
        Stale::Operation(id) => (v(&["operations"]), Some(id.clone())),
        Stale::Parameter {
            operation,
            parameter,
        } => (v(&["parameters", operation]), Some(parameter.clone())),
        Stale::Unreadable(_) => return None,
    })
}

/// Parses docs.toml, with a one-line error.
pub fn parse(text: &str) -> Result<DocumentMut> {
    text.parse::<DocumentMut>().map_err(|e| {
        let line = e
            .span()
            .and_then(|s| text.get(..s.start))
            .map(|before| before.matches('\n').count() + 1);
        let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
        match line {
            Some(l) => anyhow!("line {l}: {message}"),
            None => anyhow!("{message}"),
        }
    })
}

/// Every entry of `docs` that names something `doc` does not have, as the
/// build's merge sees it under `policy` (that of the API version the
/// document is for); never [`Stale::Unreadable`], an error instead.
pub fn stale_names(docs: &DocumentMut, doc: &Value, policy: &Policy) -> Result<Vec<Stale>> {
    let mut stale = stale_docs(doc, &docs.to_string(), policy);
    if let Some(why) = stale.iter().find_map(|s| match s {
        Stale::Unreadable(why) => Some(why),
        _ => None,
    }) {
        bail!("docs.toml: {why}");
    }
    // Schemas, operations, parameters, each in the order of the file, as a
    // reader of it expects.
    let order = anchors(docs);
    stale.sort_by_key(|entry| {
        let (table, key) = location(entry).unwrap_or_default();
        let group = ["schemas", "operations", "parameters"]
            .iter()
            .position(|g| table.first().map(String::as_str) == Some(*g));
        let at = order.iter().position(|a| a.table == table && a.key == key);
        (group, at)
    });
    Ok(stale)
}

/// A table header or a key, with the text before it (comments, blank lines).
struct Anchor {
    table: Vec<String>,
    key: Option<String>,
    prefix: String,
}

fn prefix_of(decor: &toml_edit::Decor) -> String {
    decor
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .to_string()
}

/// Every table header and key of the file, in the file's order.
fn anchors(docs: &DocumentMut) -> Vec<Anchor> {
    fn tables<'t>(t: &'t Table, path: Vec<String>, out: &mut Vec<(Vec<String>, &'t Table)>) {
        out.push((path.clone(), t));
        for (k, item) in t.iter() {
            if let Item::Table(sub) = item {
                let mut p = path.clone();
                p.push(k.to_string());
                tables(sub, p, out);
            }
        }
    }
    let mut all = Vec::new();
    tables(docs.as_table(), Vec::new(), &mut all);
    // The root first, then by position in the file.
    all.sort_by_key(|(path, t)| (!path.is_empty(), t.position().unwrap_or(isize::MAX)));
    let mut out = Vec::new();
    for (path, t) in all {
        if !path.is_empty() && !t.is_implicit() {
            out.push(Anchor {
                table: path.clone(),
                key: None,
                prefix: prefix_of(t.decor()),
            });
        }
        for (k, item) in t.iter() {
            if item.is_value()
                && let Some(key) = t.key(k)
            {
                out.push(Anchor {
                    table: path.clone(),
                    key: Some(k.to_string()),
                    prefix: prefix_of(key.leaf_decor()),
                });
            }
        }
    }
    out
}

/// The comment lines of `prefix` that stand apart from what follows (a
/// section heading with a blank line after it): they survive the removal of
/// the entry below them. Comment lines right above the entry go with it.
fn detached(prefix: &str) -> &str {
    let mut end = 0;
    let mut pos = 0;
    for line in prefix.split_inclusive('\n') {
        pos += line.len();
        if line.ends_with('\n') && line.trim().is_empty() {
            end = pos;
        }
    }
    let part = &prefix[..end];
    if part.contains('#') { part } else { "" }
}

fn table_like_mut<'d>(docs: &'d mut DocumentMut, path: &[String]) -> Option<&'d mut dyn TableLike> {
    let mut t: &mut dyn TableLike = docs.as_table_mut();
    for k in path {
        t = t.get_mut(k)?.as_table_like_mut()?;
    }
    Some(t)
}

fn table_mut<'d>(docs: &'d mut DocumentMut, path: &[String]) -> Option<&'d mut Table> {
    let mut t: &mut Table = docs.as_table_mut();
    for k in path {
        t = t.get_mut(k)?.as_table_mut()?;
    }
    Some(t)
}

/// Takes the `stale` entries out of `docs`. A table left empty by it goes
/// too; a section comment above a removed table moves to what follows.
pub fn prune(docs: &mut DocumentMut, stale: &[Stale]) {
    let mut gone_tables: Vec<Vec<String>> = Vec::new();
    let mut gone_keys: Vec<(Vec<String>, String)> = Vec::new();
    for s in stale {
        match location(s) {
            Some((table, None)) => gone_tables.push(table),
            Some((table, Some(key))) => gone_keys.push((table, key)),
            None => {}
        }
    }
    // Tables whose every entry goes.
    let mut emptied = Vec::new();
    for (table, _) in &gone_keys {
        let Some(t) = docs
            .as_table()
            .get(&table[0])
            .and_then(|first| {
                table[1..]
                    .iter()
                    .try_fold(first, |item, k| item.as_table_like()?.get(k))
            })
            .and_then(Item::as_table_like)
        else {
            continue;
        };
        let all_gone = t
            .iter()
            .all(|(k, _)| gone_keys.iter().any(|(tt, kk)| tt == table && kk == k));
        if all_gone && !emptied.contains(table) {
            emptied.push(table.clone());
        }
    }
    gone_tables.extend(emptied);

    let is_gone = |a: &Anchor| {
        gone_tables.iter().any(|g| a.table.starts_with(g))
            || a.key
                .as_ref()
                .is_some_and(|k| gone_keys.iter().any(|(t, kk)| *t == a.table && kk == k))
    };
    let mut pending = String::new();
    let mut new_prefixes: Vec<(Vec<String>, Option<String>, String)> = Vec::new();
    for a in anchors(docs) {
        if is_gone(&a) {
            pending.push_str(detached(&a.prefix));
        } else if !pending.is_empty() {
            let own = a.prefix.trim_start_matches(['\n', '\r']);
            new_prefixes.push((a.table, a.key, format!("{pending}{own}")));
            pending.clear();
        }
    }
    for (table, key, prefix) in new_prefixes {
        let Some(t) = table_mut(docs, &table) else {
            continue;
        };
        match key {
            Some(k) => {
                if let Some(mut key) = t.key_mut(&k) {
                    key.leaf_decor_mut().set_prefix(prefix);
                }
            }
            None => t.decor_mut().set_prefix(prefix),
        }
    }
    if !pending.is_empty() {
        let trailing = docs.trailing().as_str().unwrap_or("").to_string();
        docs.set_trailing(format!("{pending}{trailing}"));
    }

    for (table, key) in &gone_keys {
        if let Some(t) = table_like_mut(docs, table) {
            t.remove(key);
        }
    }
    for table in &gone_tables {
        if let Some((last, parent)) = table.split_last()
            && let Some(t) = table_like_mut(docs, parent)
        {
            t.remove(last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fingerprint_server_sdk_codegen::Options;
    use serde_json::json;

    const DOCS: &str = r#"# Header comment.

[operations]
getA = "A."
gone = "G."

# ---- things

[schemas.Thing]
description = "T."

[schemas.Thing.properties]
keep = "K."
# About old.
old = "O."

# ---- gone section

[schemas.Gone]
description = "G."

[schemas.Gone.properties]
x = "X."

[schemas.Last]
description = "L."

[parameters.opGone]
p = "P."

[parameters.getA]
only = "O."
"#;

    fn document() -> Value {
        json!({
            "paths": {"/a": {"get": {"operationId": "getA", "parameters": [
                {"name": "other", "in": "query", "schema": {"type": "string"}}
            ]}}},
            "components": {"schemas": {
                "Thing": {"type": "object", "properties": {"keep": {"type": "string"}}},
                "Last": {"type": "string", "enum": ["a"]},
                "Alias": {"type": "string"}
            }}
        })
    }

    #[test]
    fn finds_every_kind_of_stale_name_in_file_order() {
        let docs = parse(DOCS).unwrap();
        let stale = stale_names(&docs, &document(), &Options::v4().policy).unwrap();
        assert_eq!(
            stale,
            vec![
                Stale::Property {
                    schema: "Thing".into(),
                    property: "old".into()
                },
                Stale::Schema("Gone".into()),
                Stale::Operation("gone".into()),
                Stale::Parameter {
                    operation: "opGone".into(),
                    parameter: "p".into()
                },
                Stale::Parameter {
                    operation: "getA".into(),
                    parameter: "only".into()
                },
            ]
        );
        assert_eq!(
            Entry(&stale[0]).to_string(),
            "property `Thing.old` ([schemas.Thing.properties])"
        );
    }

    #[test]
    fn a_schema_the_build_inlines_cannot_be_described() {
        let docs = parse("[schemas.Alias]\ndescription = \"A.\"\n").unwrap();
        assert_eq!(
            stale_names(&docs, &document(), &Options::v4().policy).unwrap(),
            vec![Stale::Schema("Alias".into())]
        );
    }

    #[test]
    fn nothing_stale_when_every_name_exists() {
        let docs = parse(
            "[operations]\ngetA = \"A.\"\n[parameters.getA]\nother = \"O.\"\n[schemas.Thing]\ndescription = \"T.\"\n[schemas.Thing.properties]\nkeep = \"K.\"\n",
        )
        .unwrap();
        assert_eq!(
            stale_names(&docs, &document(), &Options::v4().policy).unwrap(),
            vec![]
        );
    }

    #[test]
    fn prune_removes_entries_and_keeps_the_rest_of_the_file() {
        let mut docs = parse(DOCS).unwrap();
        let stale = stale_names(&docs, &document(), &Options::v4().policy).unwrap();
        prune(&mut docs, &stale);
        let expected = r#"# Header comment.

[operations]
getA = "A."

# ---- things

[schemas.Thing]
description = "T."

[schemas.Thing.properties]
keep = "K."

# ---- gone section

[schemas.Last]
description = "L."
"#;
        assert_eq!(docs.to_string(), expected);
        // Pruning what is left finds nothing more.
        let again = parse(&docs.to_string()).unwrap();
        assert_eq!(
            stale_names(&again, &document(), &Options::v4().policy).unwrap(),
            vec![]
        );
    }

    #[test]
    fn a_section_comment_of_the_last_table_stays_at_the_end() {
        let mut docs = parse("[schemas.Thing]\ndescription = \"T.\"\n\n# ---- end\n\n[schemas.Gone]\ndescription = \"G.\"\n").unwrap();
        prune(&mut docs, &[Stale::Schema("Gone".into())]);
        assert_eq!(
            docs.to_string(),
            "[schemas.Thing]\ndescription = \"T.\"\n\n# ---- end\n\n"
        );
    }

    #[test]
    fn parse_errors_are_one_line_with_the_line_number() {
        let err = parse("[operations]\ngetA = \"A.\"\nbroken = \n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 3: "), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
