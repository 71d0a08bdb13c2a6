//! Optional lists and maps that stay as sent: typify reads a missing
//! optional list or map as empty and leaves an empty one out when writing,
//! so `[]` and `{}` from the server would vanish on a round trip (and
//! `EventUpdate` could not send `"tags": {}`). Such fields become
//! `Option<Vec<_>>` / `Option<Map<_, _>>`, and their model builders follow.

use std::collections::BTreeSet;

use syn::{Fields, Item, parse_quote};

use super::syntax::{SerdeItem, generic_type, module_mut, serde_attribute, serde_items, type_name};
use crate::{Error, Result};

/// Rewrites the `types` module's items; returns the (struct, field) pairs
/// whose type became an `Option`.
pub fn run(items: &mut [Item]) -> Result<BTreeSet<(String, String)>> {
    let mut changed = BTreeSet::new();
    for item in items.iter_mut() {
        match item {
            Item::Struct(st) => {
                let Fields::Named(fields) = &mut st.fields else {
                    continue;
                };
                for field in fields.named.iter_mut() {
                    if optional_if_defaulted(field)?
                        && let Some(name) = &field.ident
                    {
                        changed.insert((st.ident.to_string(), name.to_string()));
                    }
                }
            }
            // Struct variants (the rule actions) have no model builders.
            Item::Enum(e) => {
                for variant in e.variants.iter_mut() {
                    if let Fields::Named(fields) = &mut variant.fields {
                        for field in fields.named.iter_mut() {
                            optional_if_defaulted(field)?;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(builders) = module_mut(items, "builder") {
        follow_in_builders(super::syntax::items_mut(builders)?, &changed)?;
    }
    Ok(changed)
}

/// Turns a field written with `skip_serializing_if = "Vec::is_empty"` (or
/// `Map::is_empty`) into an `Option` skipped when `None`; returns whether
/// it did.
fn optional_if_defaulted(field: &mut syn::Field) -> Result<bool> {
    let Some(pos) = field.attrs.iter().position(|a| a.path().is_ident("serde")) else {
        return Ok(false);
    };
    let mut items = serde_items(std::slice::from_ref(&field.attrs[pos]))?;
    let Some(skip) = items.iter_mut().find(|i| i.key == "skip_serializing_if") else {
        return Ok(false);
    };
    let Some(check) = skip.value.as_deref() else {
        return Ok(false);
    };
    let path: syn::Path = syn::parse_str(check)
        .map_err(|e| Error::new(format!("skip_serializing_if {check:?} is not a path: {e}")))?;
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match names
        .iter()
        .map(String::as_str)
        .rev()
        .take(2)
        .collect::<Vec<_>>()[..]
    {
        ["is_empty", "Vec" | "Map"] => {}
        ["is_empty", owner] => {
            return Err(Error::new(format!(
                "skip_serializing_if on a {owner}: the collection rewrite does not know it"
            )));
        }
        _ => return Ok(false),
    }
    *skip = SerdeItem {
        key: "skip_serializing_if".into(),
        value: Some("::std::option::Option::is_none".into()),
    };
    field.attrs[pos] = serde_attribute(&items);
    let old = field.ty.clone();
    field.ty = parse_quote!(::std::option::Option<#old>);
    Ok(true)
}

/// The model builders (`types::builder::X`) hold `Result<T, String>` per
/// field and take `TryInto<T>` in their setters: `T` becomes `Option<T>`
/// for the changed fields.
fn follow_in_builders(builders: &mut [Item], changed: &BTreeSet<(String, String)>) -> Result<()> {
    for item in builders.iter_mut() {
        match item {
            Item::Struct(st) => {
                let Fields::Named(fields) = &mut st.fields else {
                    continue;
                };
                for field in fields.named.iter_mut() {
                    let name = field
                        .ident
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    if !changed.contains(&(st.ident.to_string(), name.clone())) {
                        continue;
                    }
                    let inner = generic_type(&field.ty, 0).cloned().ok_or_else(|| {
                        Error::new(format!("builder field {}.{name} is not a Result", st.ident))
                    })?;
                    field.ty = parse_quote!(::std::result::Result<::std::option::Option<#inner>, ::std::string::String>);
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
                    if changed.contains(&(owner.clone(), f.sig.ident.to_string())) {
                        optional_setter_target(f);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `where V: TryInto<T>` becomes `where V: TryInto<Option<T>>`.
fn optional_setter_target(f: &mut syn::ImplItemFn) {
    let Some(clause) = f.sig.generics.where_clause.as_mut() else {
        return;
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
            if let syn::PathArguments::AngleBracketed(args) = &mut last.arguments
                && let Some(syn::GenericArgument::Type(target)) = args.args.first_mut()
            {
                let inner = target.clone();
                *target = parse_quote!(::std::option::Option<#inner>);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn defaulted_collections_become_options_in_models_and_builders() {
        let file: syn::File = parse_quote! {
            pub struct Update {
                #[serde(default, skip_serializing_if = "::serde_json::Map::is_empty")]
                pub tags: ::serde_json::Map<String, ::serde_json::Value>,
                #[serde(skip_serializing_if = "::std::option::Option::is_none")]
                pub linked_id: Option<String>,
            }
            pub mod builder {
                pub struct Update {
                    tags: ::std::result::Result<::serde_json::Map<String, ::serde_json::Value>, ::std::string::String>,
                }
                impl Update {
                    pub fn tags<T>(mut self, value: T) -> Self
                    where T: ::std::convert::TryInto<::serde_json::Map<String, ::serde_json::Value>> { self }
                }
            }
        };
        let mut items = file.items;
        let changed = run(&mut items).expect("rewrite");
        assert_eq!(
            changed.into_iter().collect::<Vec<_>>(),
            [("Update".to_owned(), "tags".to_owned())]
        );
        let text = quote!(#(#items)*).to_string().replace(' ', "");
        assert!(text.contains("#[serde(default,skip_serializing_if=\"::std::option::Option::is_none\")]pubtags:::std::option::Option<::serde_json::Map"), "{text}");
        assert!(
            text.contains("tags:::std::result::Result<::std::option::Option<::serde_json::Map"),
            "{text}"
        );
        assert!(
            text.contains("TryInto<::std::option::Option<::serde_json::Map"),
            "{text}"
        );
    }

    #[test]
    fn refuses_an_is_empty_on_an_unknown_collection() {
        let mut items: Vec<Item> = vec![parse_quote! {
            pub struct S {
                #[serde(skip_serializing_if = "::std::collections::HashSet::is_empty")]
                pub s: ::std::collections::HashSet<u8>,
            }
        }];
        assert!(run(&mut items).is_err());
    }
}
