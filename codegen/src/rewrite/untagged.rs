//! Untagged enums: a last variant that keeps any other JSON, so a shape
//! added later (a new rule action type) does not make a whole event
//! unreadable; and `FromStr` of the scalar ones (a time given as a date or
//! as milliseconds) saying what the value is not, and why.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Fields, Item, ItemEnum, parse_quote};

use super::syntax::{has_serde_flag, trait_name, type_name};
use crate::{Error, Result};

/// Adds `Unrecognized(serde_json::Value)` to every untagged enum with
/// struct variants; returns how many.
pub fn catch_all(items: &mut [Item]) -> usize {
    let mut count = 0;
    for item in items.iter_mut() {
        let Item::Enum(e) = item else { continue };
        let objects = e
            .variants
            .iter()
            .any(|v| matches!(v.fields, Fields::Named(_)));
        if has_serde_flag(&e.attrs, "untagged") && objects {
            let doc =
                "A shape this version of the SDK does not know, kept as the JSON the server sent.";
            e.variants.push(parse_quote! {
                #[doc = #doc]
                Unrecognized(::serde_json::Value)
            });
            count += 1;
        }
    }
    count
}

/// Replaces typify's `FromStr` of each untagged enum of one-field scalar
/// variants with one whose error names the value and why each reading
/// failed (typify's says only that no variant matched).
pub fn explain_from_str(items: &mut Vec<Item>) -> Result<usize> {
    let scalars: Vec<(syn::Ident, Vec<(syn::Ident, syn::Type)>)> = items
        .iter()
        .filter_map(|item| match item {
            Item::Enum(e) if has_serde_flag(&e.attrs, "untagged") => scalar_variants(e),
            _ => None,
        })
        .collect();
    let mut replaced = 0;
    for (ident, variants) in &scalars {
        let before = items.len();
        items.retain(|item| {
            !matches!(item, Item::Impl(imp)
                if type_name(&imp.self_ty).as_deref() == Some(&ident.to_string())
                    && trait_name(imp).as_deref() == Some("FromStr"))
        });
        if items.len() == before {
            continue;
        }
        items.extend(crate::parse_items(from_str(ident, variants)?)?);
        replaced += 1;
    }
    Ok(replaced)
}

/// The variants of an enum whose every variant holds one value, or `None`.
fn scalar_variants(e: &ItemEnum) -> Option<(syn::Ident, Vec<(syn::Ident, syn::Type)>)> {
    let mut out = Vec::new();
    for v in &e.variants {
        let Fields::Unnamed(fields) = &v.fields else {
            return None;
        };
        let [field] = fields.unnamed.iter().collect::<Vec<_>>()[..] else {
            return None;
        };
        out.push((v.ident.clone(), field.ty.clone()));
    }
    Some((e.ident.clone(), out))
}

/// What a value of `ty` looks like, for the error message.
fn describe(ty: &syn::Type) -> Result<&'static str> {
    Ok(match type_name(ty).as_deref() {
        Some("DateTime") => "an RFC 3339 date-time",
        Some("NaiveDate") => "a date (YYYY-MM-DD)",
        Some("i64" | "i32" | "u64" | "u32") => "a whole number",
        Some("f64" | "f32") => "a number",
        Some("bool") => "true or false",
        Some("String") => "text",
        other => {
            return Err(Error::new(format!(
                "untagged enum variant of type {other:?}: no description for its FromStr"
            )));
        }
    })
}

fn from_str(ident: &syn::Ident, variants: &[(syn::Ident, syn::Type)]) -> Result<TokenStream> {
    let attempts = variants
        .iter()
        .map(|(variant, ty)| {
            let what = describe(ty)?;
            Ok(quote! {
                match value.parse::<#ty>() {
                    Ok(v) => return Ok(Self::#variant(v)),
                    Err(e) => reasons.push(format!("{} ({})", #what, e)),
                }
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(quote! {
        impl ::std::str::FromStr for #ident {
            type Err = self::error::ConversionError;
            fn from_str(value: &str) -> ::std::result::Result<Self, self::error::ConversionError> {
                let mut reasons: ::std::vec::Vec<::std::string::String> = ::std::vec::Vec::new();
                #(#attempts)*
                Err(format!("{:?} is neither {}", value, reasons.join(" nor ")).into())
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;

    #[test]
    fn object_unions_get_a_json_catch_all() {
        let mut items: Vec<Item> = vec![
            parse_quote!(
                #[serde(untagged)]
                pub enum Action {
                    A { x: u8 },
                    B { y: u8 },
                }
            ),
            parse_quote!(
                #[serde(untagged)]
                pub enum Time {
                    D(String),
                    I(i64),
                }
            ),
            parse_quote!(
                pub enum Plain {
                    A { x: u8 },
                }
            ),
        ];
        assert_eq!(catch_all(&mut items), 1);
        let Item::Enum(action) = &items[0] else {
            panic!()
        };
        assert_eq!(
            action.variants.last().map(|v| v.ident.to_string()),
            Some("Unrecognized".into())
        );
    }

    #[test]
    fn scalar_unions_explain_what_the_value_is_not() {
        let mut items: Vec<Item> = vec![
            parse_quote!(
                #[serde(untagged)]
                pub enum Time {
                    DateTime(::chrono::DateTime<::chrono::offset::Utc>),
                    Int64(i64),
                }
            ),
            parse_quote!(impl ::std::str::FromStr for Time {
                type Err = self::error::ConversionError;
                fn from_str(value: &str) -> Result<Self, Self::Err> { Err("x".into()) }
            }),
        ];
        assert_eq!(explain_from_str(&mut items).expect("rewrite"), 1);
        let text = items
            .iter()
            .map(|i| i.to_token_stream().to_string())
            .collect::<String>();
        assert!(text.contains("an RFC 3339 date-time") && text.contains("a whole number"));
        assert_eq!(text.matches("FromStr for Time").count(), 1);
    }

    #[test]
    fn refuses_a_variant_type_it_cannot_describe() {
        let mut items: Vec<Item> = vec![
            parse_quote!(
                #[serde(untagged)]
                pub enum Odd {
                    A(Thing),
                }
            ),
            parse_quote!(impl ::std::str::FromStr for Odd {
                type Err = ();
                fn from_str(value: &str) -> Result<Self, ()> { Err(()) }
            }),
        ];
        assert!(explain_from_str(&mut items).is_err());
    }
}
