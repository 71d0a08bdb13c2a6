//! Small readers and writers of syntax shared by the rewrites: type names,
//! derive lists and serde attributes, all matched on parsed syntax.

use syn::punctuated::Punctuated;
use syn::{Attribute, Item, ItemMod, Token, parse_quote};

use crate::{Error, Result};

/// The last segment of a path type (`Vec` for `::std::vec::Vec<T>`).
pub fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// The generic arguments of a path type's last segment (`T, E` for
/// `Result<T, E>`).
pub fn generic_args(ty: &syn::Type) -> Option<&Punctuated<syn::GenericArgument, Token![,]>> {
    let syn::Type::Path(p) = ty else { return None };
    match &p.path.segments.last()?.arguments {
        syn::PathArguments::AngleBracketed(a) => Some(&a.args),
        _ => None,
    }
}

/// The `n`th generic argument of a path type, when it is a type.
pub fn generic_type(ty: &syn::Type, n: usize) -> Option<&syn::Type> {
    match generic_args(ty)?.iter().nth(n)? {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

/// The items of a module with a body.
pub fn items_mut(module: &mut ItemMod) -> Result<&mut Vec<Item>> {
    module
        .content
        .as_mut()
        .map(|(_, items)| items)
        .ok_or_else(|| Error::new(format!("module {} has no body", module.ident)))
}

/// The module `name` among `items`.
pub fn module_mut<'a>(items: &'a mut [Item], name: &str) -> Option<&'a mut ItemMod> {
    items.iter_mut().find_map(|item| match item {
        Item::Mod(m) if m.ident == name => Some(m),
        _ => None,
    })
}

/// Whether `imp` is an inherent impl of a type named `name`.
pub fn is_inherent_impl_of(imp: &syn::ItemImpl, name: &str) -> bool {
    imp.trait_.is_none() && type_name(&imp.self_ty).as_deref() == Some(name)
}

/// The last segment of the trait an impl implements (`Display`).
pub fn trait_name(imp: &syn::ItemImpl) -> Option<String> {
    let (_, path, _) = imp.trait_.as_ref()?;
    path.segments.last().map(|s| s.ident.to_string())
}

/// Removes `name` from every `#[derive(...)]` list.
pub fn remove_derive(attrs: &mut [Attribute], name: &str) {
    for attr in attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
        let Ok(paths) = attr.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
        else {
            continue;
        };
        let kept: Vec<&syn::Path> = paths
            .iter()
            .filter(|p| p.segments.last().is_none_or(|s| s.ident != name))
            .collect();
        *attr = parse_quote!(#[derive(#(#kept),*)]);
    }
}

/// Whether some `#[derive(...)]` lists `name`.
pub fn derives(attrs: &[Attribute], name: &str) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .filter_map(|a| {
            a.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
                .ok()
        })
        .any(|paths| {
            paths
                .iter()
                .any(|p| p.segments.last().is_some_and(|s| s.ident == name))
        })
}

/// One item of a `#[serde(...)]` attribute: a flag (`default`,
/// `untagged`) or a key with a string value (`rename = "type"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerdeItem {
    /// The key (`skip_serializing_if`).
    pub key: String,
    /// The string value, for `key = "value"` items.
    pub value: Option<String>,
}

/// The items of every `#[serde(...)]` attribute in `attrs`, in order.
/// Fails on an item that is neither a flag nor `key = "string"`.
pub fn serde_items(attrs: &[Attribute]) -> Result<Vec<SerdeItem>> {
    let mut items = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .ok_or_else(|| meta.error("a serde item that is not a single word"))?;
            let value = if meta.input.peek(Token![=]) {
                let lit: syn::LitStr = meta.value()?.parse()?;
                Some(lit.value())
            } else {
                None
            };
            items.push(SerdeItem { key, value });
            Ok(())
        })
        .map_err(|e| Error::new(format!("unexpected serde attribute: {e}")))?;
    }
    Ok(items)
}

/// The value of serde item `key` (`rename`), when present.
pub fn serde_value(attrs: &[Attribute], key: &str) -> Result<Option<String>> {
    Ok(serde_items(attrs)?
        .into_iter()
        .find(|i| i.key == key)
        .and_then(|i| i.value))
}

/// Whether the serde flag `key` (`untagged`, `transparent`) is set.
pub fn has_serde_flag(attrs: &[Attribute], key: &str) -> bool {
    serde_items(attrs).is_ok_and(|items| items.iter().any(|i| i.key == key && i.value.is_none()))
}

/// A `#[serde(...)]` attribute holding `items`.
pub fn serde_attribute(items: &[SerdeItem]) -> Attribute {
    let parts = items.iter().map(|item| {
        let key = syn::Ident::new(&item.key, proc_macro2::Span::call_site());
        match &item.value {
            Some(value) => quote::quote!(#key = #value),
            None => quote::quote!(#key),
        }
    });
    parse_quote!(#[serde(#(#parts),*)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_items_read_flags_and_values() {
        let field: syn::Field = parse_quote! {
            #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
            #[serde(rename = "type")]
            pub x: Vec<u8>
        };
        assert_eq!(
            serde_items(&field.attrs).expect("items"),
            [
                SerdeItem {
                    key: "default".into(),
                    value: None
                },
                SerdeItem {
                    key: "skip_serializing_if".into(),
                    value: Some("::std::vec::Vec::is_empty".into())
                },
                SerdeItem {
                    key: "rename".into(),
                    value: Some("type".into())
                },
            ]
        );
        assert_eq!(
            serde_value(&field.attrs, "rename").expect("ok"),
            Some("type".into())
        );
        assert!(has_serde_flag(&field.attrs, "default"));
        assert!(!has_serde_flag(&field.attrs, "rename"));
        let rebuilt = serde_attribute(&serde_items(&field.attrs).expect("items"));
        assert_eq!(serde_items(&[rebuilt]).expect("again").len(), 3);
    }

    #[test]
    fn a_doc_string_mentioning_untagged_is_not_the_flag() {
        let e: syn::ItemEnum = parse_quote! {
            /// Not #[serde(untagged)], just words.
            #[serde(rename_all = "untagged")]
            enum E { A }
        };
        assert!(!has_serde_flag(&e.attrs, "untagged"));
        let tagged: syn::ItemEnum = parse_quote!(
            #[serde(untagged)]
            enum E {
                A(u8),
            }
        );
        assert!(has_serde_flag(&tagged.attrs, "untagged"));
    }

    #[test]
    fn derives_are_removed_by_name() {
        let mut s: syn::ItemStruct = parse_quote!(
            #[derive(::serde::Deserialize, Clone, Debug)]
            struct S;
        );
        assert!(derives(&s.attrs, "Debug"));
        remove_derive(&mut s.attrs, "Debug");
        remove_derive(&mut s.attrs, "Deserialize");
        assert!(!derives(&s.attrs, "Debug") && !derives(&s.attrs, "Deserialize"));
        assert!(derives(&s.attrs, "Clone"));
    }

    #[test]
    fn unexpected_serde_shapes_are_refused() {
        let field: syn::Field = parse_quote!(#[serde(with(x))] pub x: u8);
        assert!(serde_items(&field.attrs).is_err());
    }
}
