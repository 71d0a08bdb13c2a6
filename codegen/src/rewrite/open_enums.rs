//! Open string enums: every all-unit enum keeps its known values as
//! variants and gains `Unrecognized(String)` for any other value, kept
//! verbatim and written back unchanged, with `as_str()`, `Display`, `From`
//! and hand-written serde. A newer server's new value then does not make a
//! whole response unreadable.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Fields, Item, ItemEnum, parse_quote};

use super::syntax::{has_serde_flag, remove_derive, serde_value, trait_name, type_name};
use crate::{Error, Result};

/// Opens the enums among `items` (the `types` module); returns how many.
pub fn run(items: &mut Vec<Item>) -> Result<usize> {
    let discriminators = discriminators(items);
    let mut open: BTreeMap<String, Vec<(syn::Ident, String)>> = BTreeMap::new();
    for item in items.iter_mut() {
        let Item::Enum(e) = item else { continue };
        let Some(values) = wire_values(e)? else {
            continue;
        };
        if discriminators.contains(&e.ident.to_string()) {
            continue;
        }
        if values.iter().any(|(v, _)| v == "Unrecognized") {
            return Err(Error::new(format!(
                "enum {} already has a variant named Unrecognized",
                e.ident
            )));
        }
        for name in ["Copy", "Deserialize", "Serialize"] {
            remove_derive(&mut e.attrs, name);
        }
        // serde is implemented by hand below; its attributes would have no
        // derive left to read them.
        e.attrs.retain(|a| !a.path().is_ident("serde"));
        for v in e.variants.iter_mut() {
            v.attrs.retain(|a| !a.path().is_ident("serde"));
        }
        let doc =
            "A value this version of the SDK does not know, kept exactly as the server sent it.";
        e.variants.push(parse_quote! {
            #[doc = #doc]
            Unrecognized(::std::string::String)
        });
        open.insert(e.ident.to_string(), values);
    }
    // The conversions typify wrote for the closed form go; the open form
    // gets its own below.
    items.retain(|item| {
        let Item::Impl(imp) = item else { return true };
        let opened = type_name(&imp.self_ty).is_some_and(|name| open.contains_key(&name));
        !(opened
            && matches!(
                trait_name(imp).as_deref(),
                Some("Display" | "FromStr" | "TryFrom")
            ))
    });
    let count = open.len();
    for (name, values) in open {
        let tokens = impls(&format_ident!("{}", name), &values);
        items.extend(crate::parse_items(tokens)?);
    }
    Ok(count)
}

/// The enums that type a field of an untagged enum's variant (the one-value
/// `type` of the allow and block rule actions): they tell the variants
/// apart, so they must keep refusing other values.
fn discriminators(items: &[Item]) -> BTreeSet<String> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::Enum(e) if has_serde_flag(&e.attrs, "untagged") => Some(e),
            _ => None,
        })
        .flat_map(|e| e.variants.iter())
        .flat_map(|v| v.fields.iter())
        .filter_map(|f| type_name(&f.ty))
        .collect()
}

/// The variants of an all-unit enum with their wire values, or `None` when
/// the enum has any other kind of variant.
pub(super) fn wire_values(e: &ItemEnum) -> Result<Option<Vec<(syn::Ident, String)>>> {
    let mut out = Vec::new();
    for v in &e.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Ok(None);
        }
        let wire = serde_value(&v.attrs, "rename")?.unwrap_or_else(|| v.ident.to_string());
        out.push((v.ident.clone(), wire));
    }
    Ok(Some(out))
}

fn impls(ident: &syn::Ident, values: &[(syn::Ident, String)]) -> TokenStream {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> Vec<Item> {
        let file: syn::File = parse_quote! {
            #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Copy, Debug)]
            pub enum Bot {
                #[serde(rename = "good")]
                Good,
                #[serde(rename = "not_detected")]
                NotDetected,
            }
            impl ::std::fmt::Display for Bot {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result { Ok(()) }
            }
            impl ::std::str::FromStr for Bot {
                type Err = ();
                fn from_str(v: &str) -> Result<Self, ()> { Err(()) }
            }
            #[derive(::serde::Deserialize, Clone, Copy, Debug)]
            pub enum AllowType {
                #[serde(rename = "allow")]
                Allow,
            }
            #[derive(::serde::Deserialize, Clone, Debug)]
            #[serde(untagged)]
            pub enum Action {
                Variant0 { #[serde(rename = "type")] type_: AllowType },
            }
            #[derive(::serde::Deserialize, Clone, Debug)]
            pub enum Shape { Point(i64) }
        };
        file.items
    }

    fn find_enum<'a>(items: &'a [Item], name: &str) -> &'a ItemEnum {
        items
            .iter()
            .find_map(|i| match i {
                Item::Enum(e) if e.ident == name => Some(e),
                _ => None,
            })
            .expect("enum")
    }

    #[test]
    fn string_enums_get_a_catch_all_and_their_own_impls() {
        let mut items = types();
        assert_eq!(run(&mut items).expect("rewrite"), 1);
        let bot = find_enum(&items, "Bot");
        let names: Vec<String> = bot.variants.iter().map(|v| v.ident.to_string()).collect();
        assert_eq!(names, ["Good", "NotDetected", "Unrecognized"]);
        assert!(!super::super::syntax::derives(&bot.attrs, "Copy"));
        assert!(bot.attrs.iter().all(|a| !a.path().is_ident("serde")));
        // typify's closed conversions are replaced by exactly one of each.
        let impls = |tr: &str| {
            items
                .iter()
                .filter(|i| {
                    matches!(i, Item::Impl(imp)
                    if type_name(&imp.self_ty).as_deref() == Some("Bot")
                        && trait_name(imp).as_deref() == Some(tr))
                })
                .count()
        };
        assert_eq!(
            (impls("Display"), impls("FromStr"), impls("Deserialize")),
            (1, 1, 1)
        );
        let text = quote!(#(#items)*).to_string();
        assert!(
            text.contains("\"not_detected\""),
            "wire values come from rename"
        );
    }

    #[test]
    fn discriminators_and_data_enums_stay_closed() {
        let mut items = types();
        run(&mut items).expect("rewrite");
        assert_eq!(find_enum(&items, "AllowType").variants.len(), 1);
        assert_eq!(find_enum(&items, "Shape").variants.len(), 1);
    }

    #[test]
    fn refuses_an_enum_that_already_has_the_catch_all_name() {
        let mut items: Vec<Item> = vec![parse_quote!(
            #[derive(Debug)]
            pub enum E {
                A,
                Unrecognized,
            }
        )];
        assert!(run(&mut items).is_err());
    }
}
