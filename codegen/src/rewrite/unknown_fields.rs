//! Models that lose nothing: every object model gains `unknown_fields`, a
//! map of the properties this version of the SDK has no field for, filled
//! when reading and written back (flattened) when writing. Reading is a
//! hand-written `Deserialize` per model (serde's `flatten` would buffer
//! every object first, which costs more than the whole parse), and an
//! object union with a discriminator (the rule action) is read by its
//! discriminator value instead of trying each shape.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Expr, Fields, FieldsNamed, Item, ItemEnum, ItemStruct, parse_quote};

use super::syntax::{
    derives, has_serde_flag, items_mut, module_mut, remove_derive, serde_items, trait_name,
    type_name,
};
use crate::{Error, Result};

/// The name of the added field.
pub const FIELD: &str = "unknown_fields";

/// Rewrites the `types` module: `discriminators` maps a union schema's name
/// to its discriminator property (from the document). Returns how many
/// models keep unknown properties.
pub fn run(types: &mut Vec<Item>, discriminators: &BTreeMap<String, String>) -> Result<usize> {
    let tags = one_value_enums(types)?;
    let mut generated = Vec::new();
    let mut models = BTreeSet::new();
    for item in types.iter_mut() {
        match item {
            Item::Struct(st) if is_object_model(st) => {
                let Fields::Named(named) = &mut st.fields else {
                    continue;
                };
                let fields = specs(named, &st.ident.to_string())?;
                add_field(named, false);
                remove_derive(&mut st.attrs, "Deserialize");
                let ident = &st.ident;
                let visitor = map_visitor(ident, &fields);
                generated.push(quote! {
                    impl<'de> ::serde::Deserialize<'de> for #ident {
                        fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                            #visitor
                            deserializer.deserialize_map(Visitor)
                        }
                    }
                });
                models.insert(ident.to_string());
            }
            Item::Enum(e) if has_serde_flag(&e.attrs, "untagged") => {
                if let Some(property) = discriminators.get(&e.ident.to_string()) {
                    generated.push(by_discriminator(e, property, &tags)?);
                    models.insert(e.ident.to_string());
                }
            }
            _ => {}
        }
    }
    for tokens in generated {
        types.extend(crate::parse_items(tokens)?);
    }
    if let Some(builders) = module_mut(types, "builder") {
        fill_in_builders(items_mut(builders)?, &models)?;
    }
    Ok(models.len())
}

/// A struct read from a JSON object: named fields, serde-derived, not a
/// transparent wrapper.
fn is_object_model(st: &ItemStruct) -> bool {
    matches!(st.fields, Fields::Named(_))
        && derives(&st.attrs, "Deserialize")
        && !has_serde_flag(&st.attrs, "transparent")
}

/// How one field is read.
struct Spec {
    ident: syn::Ident,
    wire: String,
    ty: syn::Type,
    /// Missing is fine: `None` for an `Option`, the default for a
    /// `#[serde(default)]` field.
    optional: bool,
}

fn specs(named: &FieldsNamed, owner: &str) -> Result<Vec<Spec>> {
    let mut out = Vec::new();
    for field in &named.named {
        let ident = field
            .ident
            .clone()
            .ok_or_else(|| Error::new(format!("{owner} has an unnamed field")))?;
        let mut wire = ident.to_string().trim_start_matches("r#").to_owned();
        let mut default = false;
        for item in serde_items(&field.attrs)? {
            match (item.key.as_str(), item.value) {
                ("rename", Some(name)) => wire = name,
                ("default", None) => default = true,
                ("skip_serializing_if", Some(_)) => {}
                (key, _) => {
                    return Err(Error::new(format!(
                        "{owner}.{ident}: serde item `{key}` is not read by the unknown-fields rewrite"
                    )));
                }
            }
        }
        if ident == FIELD || wire == FIELD {
            return Err(Error::new(format!(
                "{owner} already has a property named {FIELD}"
            )));
        }
        let optional = default || type_name(&field.ty).as_deref() == Some("Option");
        out.push(Spec {
            ident,
            wire,
            ty: field.ty.clone(),
            optional,
        });
    }
    Ok(out)
}

fn add_field(named: &mut FieldsNamed, variant: bool) {
    let ident = format_ident!("{}", FIELD);
    // Fields of an enum variant have the enum's visibility.
    let vis: syn::Visibility = if variant {
        syn::Visibility::Inherited
    } else {
        parse_quote!(pub)
    };
    named.named.push(parse_quote! {
        /// The properties the server sent that this version of the SDK has
        /// no field for, exactly as they came: writing the model out again
        /// gives them back. Empty when there were none (and in models made
        /// with a builder).
        #[serde(flatten)]
        #vis #ident: ::serde_json::Map<::std::string::String, ::serde_json::Value>
    });
}

/// The `Key` of a model's properties (`F0`.. for `wires`, `Tag` for the
/// discriminator when there is one, `Other` for the rest) and how serde
/// reads it from a property name.
fn key_type(tag: Option<&str>, keys: &[syn::Ident], wires: &[&String]) -> TokenStream {
    let tag_variant = tag.map(|_| quote!(Tag,));
    let tag_arm = tag.map(|t| quote!(#t => Some(Key::Tag),));
    quote! {
        #[allow(non_camel_case_types, clippy::enum_variant_names)]
        enum Key { #tag_variant #(#keys,)* Other(::std::string::String) }
        impl Key {
            fn of(name: &str) -> ::std::option::Option<Self> {
                match name {
                    #tag_arm
                    #(#wires => Some(Key::#keys),)*
                    _ => None,
                }
            }
        }
        struct KeyVisitor;
        impl<'de> ::serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str("a property name")
            }
            fn visit_str<E: ::serde::de::Error>(self, name: &str) -> ::std::result::Result<Key, E> {
                Ok(Key::of(name).unwrap_or_else(|| Key::Other(name.to_owned())))
            }
            fn visit_string<E: ::serde::de::Error>(self, name: ::std::string::String) -> ::std::result::Result<Key, E> {
                Ok(Key::of(&name).unwrap_or(Key::Other(name)))
            }
        }
        impl<'de> ::serde::Deserialize<'de> for Key {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                deserializer.deserialize_identifier(KeyVisitor)
            }
        }
    }
}

/// A `struct Visitor;` and its `Visitor` impl reading a JSON object into
/// `model { fields.., unknown_fields }`.
fn map_visitor(model: &syn::Ident, fields: &[Spec]) -> TokenStream {
    let keys: Vec<syn::Ident> = (0..fields.len()).map(|i| format_ident!("F{i}")).collect();
    let wires: Vec<&String> = fields.iter().map(|f| &f.wire).collect();
    let slots: Vec<syn::Ident> = (0..fields.len()).map(|i| format_ident!("f{i}")).collect();
    let types: Vec<&syn::Type> = fields.iter().map(|f| &f.ty).collect();
    let inits = fields.iter().zip(&slots).map(|(f, slot)| {
        let ident = &f.ident;
        let wire = &f.wire;
        if f.optional {
            quote!(#ident: #slot.unwrap_or_default())
        } else {
            quote!(#ident: match #slot {
                Some(value) => value,
                None => return Err(::serde::de::Error::missing_field(#wire)),
            })
        }
    });
    let unknown = format_ident!("{}", FIELD);
    let expecting = format!("a {model} object");
    let key_type = key_type(None, &keys, &wires);
    let read_keys = read_keys(None, &keys, &slots, &wires);
    quote! {
        #key_type
        struct Visitor;
        impl<'de> ::serde::de::Visitor<'de> for Visitor {
            type Value = #model;
            fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(#expecting)
            }
            fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> ::std::result::Result<#model, A::Error> {
                #(let mut #slots: ::std::option::Option<#types> = None;)*
                let mut #unknown = ::serde_json::Map::new();
                #read_keys
                Ok(#model { #(#inits,)* #unknown })
            }
        }
    }
}

/// The loop of a `visit_map` reading each property into its slot (`slots`,
/// of the `Key` variants `keys`, named `wires` on the wire), the
/// discriminator `tag` into `tag` when there is one, and the rest into
/// `unknown_fields`; a property given twice is an error.
fn read_keys(
    tag: Option<&str>,
    keys: &[syn::Ident],
    slots: &[syn::Ident],
    wires: &[&String],
) -> TokenStream {
    let unknown = format_ident!("{}", FIELD);
    let tag_arm = tag.map(|property| {
        quote! {
            Key::Tag => {
                if tag.is_some() {
                    return Err(::serde::de::Error::duplicate_field(#property));
                }
                tag = Some(map.next_value()?);
            }
        }
    });
    quote! {
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                #tag_arm
                #(Key::#keys => {
                    if #slots.is_some() {
                        return Err(::serde::de::Error::duplicate_field(#wires));
                    }
                    #slots = Some(map.next_value()?);
                })*
                Key::Other(name) => {
                    let value: ::serde_json::Value = map.next_value()?;
                    #unknown.insert(name, value);
                }
            }
        }
    }
}

/// The one variant and its wire value of each one-value string enum (the
/// discriminator types of union variants): enum name → (variant, value).
fn one_value_enums(types: &[Item]) -> Result<BTreeMap<String, (syn::Ident, String)>> {
    let mut out = BTreeMap::new();
    for item in types {
        let Item::Enum(e) = item else { continue };
        if let Some(mut values) = super::open_enums::wire_values(e)?
            && values.len() == 1
            && let Some(value) = values.pop()
        {
            out.insert(e.ident.to_string(), value);
        }
    }
    Ok(out)
}

/// A union of objects read by its discriminator, in one pass: every
/// property of every variant has a typed slot, the discriminator is read
/// wherever it comes in the object, and the variant it names is built from
/// the slots (properties of other variants go to its `unknown_fields`). No
/// tag, an unknown tag, or a known tag without that variant's required
/// properties: the whole object is kept in the catch-all variant. A value
/// of the wrong type for a known property is a decode error, as it is for
/// any other model.
fn by_discriminator(
    e: &mut ItemEnum,
    property: &str,
    tags: &BTreeMap<String, (syn::Ident, String)>,
) -> Result<TokenStream> {
    let name = e.ident.clone();
    let catch_all = e
        .variants
        .iter()
        .find(|v| matches!(v.fields, Fields::Unnamed(_)))
        .map(|v| v.ident.clone())
        .ok_or_else(|| Error::new(format!("union {name} has no catch-all variant")))?;
    // Every property but the discriminator, once, with its type.
    let mut slots: Vec<(String, syn::Type)> = Vec::new();
    struct Variant {
        ident: syn::Ident,
        tag: String,
        tag_variant: syn::Ident,
        tag_field: syn::Ident,
        tag_type: syn::Type,
        fields: Vec<Spec>,
    }
    let mut variants = Vec::new();
    for variant in e.variants.iter_mut() {
        let Fields::Named(named) = &mut variant.fields else {
            continue;
        };
        let owner = format!("{name}::{}", variant.ident);
        let mut fields = specs(named, &owner)?;
        let position = fields
            .iter()
            .position(|f| f.wire == property)
            .ok_or_else(|| Error::new(format!("{owner} has no `{property}`")))?;
        let tag_spec = fields.remove(position);
        let (tag_variant, tag) = type_name(&tag_spec.ty)
            .and_then(|t| tags.get(&t))
            .ok_or_else(|| {
                Error::new(format!(
                    "{owner}: its `{property}` is not a one-value enum, so it has no tag"
                ))
            })?
            .clone();
        for field in &fields {
            match slots.iter().find(|(wire, _)| *wire == field.wire) {
                Some((_, ty)) if *ty != field.ty => {
                    return Err(Error::new(format!(
                        "{name}: the variants disagree on the type of `{}`",
                        field.wire
                    )));
                }
                Some(_) => {}
                None => slots.push((field.wire.clone(), field.ty.clone())),
            }
        }
        add_field(named, true);
        variants.push(Variant {
            ident: variant.ident.clone(),
            tag,
            tag_variant,
            tag_field: tag_spec.ident,
            tag_type: tag_spec.ty,
            fields,
        });
    }
    remove_derive(&mut e.attrs, "Deserialize");

    let unknown = format_ident!("{}", FIELD);
    let keys: Vec<syn::Ident> = (0..slots.len()).map(|i| format_ident!("F{i}")).collect();
    let slot_idents: Vec<syn::Ident> = (0..slots.len()).map(|i| format_ident!("f{i}")).collect();
    let wires: Vec<&String> = slots.iter().map(|(w, _)| w).collect();
    let types: Vec<&syn::Type> = slots.iter().map(|(_, t)| t).collect();
    let slot_of = |wire: &str| {
        slots
            .iter()
            .position(|(w, _)| w == wire)
            .map(|i| slot_idents[i].clone())
    };
    let mut builds = Vec::new();
    for (index, variant) in variants.iter().enumerate() {
        let required: Vec<(syn::Ident, &Spec)> = variant
            .fields
            .iter()
            .filter(|f| !f.optional)
            .filter_map(|f| Some((slot_of(&f.wire)?, f)))
            .collect();
        let taken: Vec<syn::Ident> = (0..required.len()).map(|i| format_ident!("r{i}")).collect();
        let required_slots: Vec<&syn::Ident> = required.iter().map(|(s, _)| s).collect();
        let inits = variant.fields.iter().filter_map(|f| {
            let ident = &f.ident;
            let slot = slot_of(&f.wire)?;
            Some(match required.iter().position(|(s, _)| *s == slot) {
                Some(i) => {
                    let r = &taken[i];
                    quote!(#ident: #r)
                }
                None => quote!(#ident: #slot.take().unwrap_or_default()),
            })
        });
        let own: BTreeSet<&str> = variant.fields.iter().map(|f| f.wire.as_str()).collect();
        let others = slots
            .iter()
            .zip(&slot_idents)
            .filter(|((wire, _), _)| !own.contains(wire.as_str()))
            .map(|((wire, _), slot)| {
                quote! {
                    if let Some(value) = #slot.take() {
                        #unknown.insert(#wire.to_owned(), ::serde_json::to_value(value).map_err(::serde::de::Error::custom)?);
                    }
                }
            });
        let (variant_ident, tag_field, tag_type, tag_variant) = (
            &variant.ident,
            &variant.tag_field,
            &variant.tag_type,
            &variant.tag_variant,
        );
        let puts_back = required_slots
            .iter()
            .zip(&taken)
            .map(|(slot, r)| quote!(#slot = #r;));
        // `which` matched the tag's only wire value, so the tag is that
        // one-value enum's variant: it is not decoded again.
        let build = quote! {
            let mut #unknown = #unknown;
            #(#others)*
            return Ok(#name::#variant_ident { #tag_field: #tag_type::#tag_variant, #(#inits,)* #unknown });
        };
        builds.push(if required.is_empty() {
            quote!(#index => { #build })
        } else {
            quote! {
                #index => match (#(#required_slots.take(),)*) {
                    (#(Some(#taken),)*) => { #build }
                    (#(#taken,)*) => { #(#puts_back)* }
                }
            }
        });
    }
    let tag_values = variants.iter().map(|v| &v.tag);
    let indexes = 0..variants.len();
    let expecting = format!("a {name} object");
    let key_type = key_type(Some(property), &keys, &wires);
    let read_keys = read_keys(Some(property), &keys, &slot_idents, &wires);
    Ok(quote! {
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                #key_type
                struct Visitor;
                impl<'de> ::serde::de::Visitor<'de> for Visitor {
                    type Value = #name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(#expecting)
                    }
                    #[allow(unused_parens, clippy::let_unit_value)]
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> ::std::result::Result<#name, A::Error> {
                        let mut tag: ::std::option::Option<::serde_json::Value> = None;
                        #(let mut #slot_idents: ::std::option::Option<#types> = None;)*
                        let mut #unknown = ::serde_json::Map::new();
                        #read_keys
                        let which = match tag.as_ref().and_then(::serde_json::Value::as_str) {
                            #(Some(#tag_values) => #indexes,)*
                            _ => usize::MAX,
                        };
                        match which {
                            #(#builds)*
                            _ => {}
                        }
                        // Kept whole: what was read, as it came.
                        let mut object = #unknown;
                        if let Some(tag) = tag {
                            object.insert(#property.to_owned(), tag);
                        }
                        #(if let Some(value) = #slot_idents {
                            object.insert(#wires.to_owned(), ::serde_json::to_value(value).map_err(::serde::de::Error::custom)?);
                        })*
                        Ok(#name::#catch_all(::serde_json::Value::Object(object)))
                    }
                }
                deserializer.deserialize_map(Visitor)
            }
        }
    })
}

/// typify's model builders build the model with every field named:
/// `unknown_fields` starts empty.
fn fill_in_builders(builders: &mut [Item], models: &BTreeSet<String>) -> Result<()> {
    for item in builders.iter_mut() {
        let Item::Impl(imp) = item else { continue };
        if trait_name(imp).as_deref() != Some("TryFrom") {
            continue;
        }
        if !type_name(&imp.self_ty).is_some_and(|t| models.contains(&t)) {
            continue;
        }
        let mut filled = false;
        for member in imp.items.iter_mut() {
            let syn::ImplItem::Fn(f) = member else {
                continue;
            };
            for stmt in f.block.stmts.iter_mut() {
                if let syn::Stmt::Expr(Expr::Call(call), _) = stmt
                    && let Some(Expr::Struct(init)) = call.args.first_mut()
                    && init.path.is_ident("Self")
                {
                    let ident = format_ident!("{}", FIELD);
                    init.fields
                        .push(parse_quote!(#ident: ::std::default::Default::default()));
                    filled = true;
                }
            }
        }
        if !filled {
            return Err(Error::new(format!(
                "a model builder's TryFrom for {} does not end with Ok(Self {{ .. }})",
                type_name(&imp.self_ty).unwrap_or_default()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> Vec<Item> {
        let file: syn::File = parse_quote! {
            #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
            pub struct Thing {
                pub id: ::std::string::String,
                #[serde(rename = "type", skip_serializing_if = "::std::option::Option::is_none")]
                pub type_: ::std::option::Option<::std::string::String>,
                #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                pub tags: ::std::option::Option<::std::vec::Vec<::std::string::String>>,
            }
            #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
            #[serde(transparent)]
            pub struct Wrapper(pub ::std::string::String);
            #[derive(Clone, Debug)]
            pub enum AllowType { #[serde(rename = "allow")] Allow }
            #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
            #[serde(untagged)]
            pub enum Action {
                Variant0 { #[serde(rename = "type")] type_: AllowType, id: ::std::string::String },
                Unrecognized(::serde_json::Value),
            }
            pub mod builder {
                pub struct Thing { id: Result<String, String> }
                impl ::std::convert::TryFrom<Thing> for super::Thing {
                    type Error = String;
                    fn try_from(value: Thing) -> Result<Self, String> {
                        Ok(Self { id: value.id?, type_: None, tags: None })
                    }
                }
            }
        };
        file.items
    }

    #[test]
    fn object_models_gain_the_map_and_their_own_deserialize() {
        let mut items = types();
        let discriminators = BTreeMap::from([("Action".to_owned(), "type".to_owned())]);
        assert_eq!(run(&mut items, &discriminators).expect("rewrite"), 2);
        let text = quote!(#(#items)*).to_string();
        // The struct: the field, no derived Deserialize, a written one that
        // reads the renamed key and keeps the rest.
        assert!(
            text.contains("pub unknown_fields : :: serde_json :: Map"),
            "{text}"
        );
        assert!(text.contains("\"type\" => Some (Key :: F1)"), "{text}");
        assert!(text.contains("missing_field (\"id\")"), "{text}");
        assert!(
            !text.contains("missing_field (\"tags\")"),
            "optional: {text}"
        );
        assert_eq!(text.matches("Deserialize < 'de > for Thing").count(), 1);
        // The transparent wrapper is left alone.
        assert!(text.contains("pub struct Wrapper (pub :: std :: string :: String)"));
        // The union is read by its tag.
        assert!(text.contains("Some (\"allow\") =>"), "{text}");
        // Builders start the map empty.
        assert!(text.contains("unknown_fields : :: std :: default :: Default :: default ()"));
    }

    #[test]
    fn refuses_what_it_cannot_read_the_same_way_serde_would() {
        let mut odd: Vec<Item> = vec![parse_quote! {
            #[derive(::serde::Deserialize)]
            pub struct S { #[serde(alias = "b")] pub a: String }
        }];
        assert!(run(&mut odd, &BTreeMap::new()).is_err());
        let mut clash: Vec<Item> = vec![parse_quote! {
            #[derive(::serde::Deserialize)]
            pub struct S { pub unknown_fields: String }
        }];
        assert!(run(&mut clash, &BTreeMap::new()).is_err());
    }
}
