//! The generated `Client` and the file's imports: construction goes through
//! the SDK's builder only, `Debug` is the SDK's own (it never prints the
//! key), and nothing of progenitor-client is left in the public API: its
//! traits, re-exports and prelude go, and what the request builders still
//! use of it is reached through the runtime module.

use syn::visit_mut::VisitMut;
use syn::{Item, parse_quote};

use super::syntax::{is_inherent_impl_of, remove_derive, trait_name, type_name};
use crate::{Error, Result};

/// Rewrites the file's top-level items.
pub fn run(items: &mut Vec<Item>) -> Result<()> {
    let mut api_version = None;
    let mut found_client = false;
    items.retain_mut(|item| match item {
        // `pub use progenitor_client::{...}` and `use progenitor_client::{...}`.
        Item::Use(u) => !uses_crate(&u.tree, "progenitor_client"),
        Item::Mod(m) => m.ident != "prelude",
        Item::Struct(s) if s.ident == "Client" => {
            remove_derive(&mut s.attrs, "Debug");
            found_client = true;
            true
        }
        Item::Impl(imp)
            if type_name(&imp.self_ty).as_deref() == Some("Client")
                && trait_name(imp).as_deref() == Some("ClientInfo") =>
        {
            api_version = imp.items.iter().find_map(|i| match i {
                syn::ImplItem::Fn(f) if f.sig.ident == "api_version" => Some(f.block.clone()),
                _ => None,
            });
            false
        }
        Item::Impl(imp) if trait_name(imp).as_deref() == Some("ClientHooks") => false,
        Item::Impl(imp) if is_inherent_impl_of(imp, "Client") => {
            // The generated constructors would skip the key, the retries and
            // the timeouts the SDK's builder sets up.
            imp.items
                .retain(|i| !matches!(i, syn::ImplItem::Fn(f) if f.sig.ident == "new"));
            for i in &mut imp.items {
                if let syn::ImplItem::Fn(f) = i
                    && f.sig.ident == "new_with_client"
                {
                    f.vis = parse_quote!(pub(crate));
                }
            }
            true
        }
        _ => true,
    });
    if !found_client {
        return Err(Error::new("the generated code has no Client struct"));
    }
    let body = api_version.ok_or_else(|| Error::new("the generated Client has no api_version"))?;
    // The request builders send it as the `api-version` header.
    items.push(parse_quote! {
        impl Client {
            /// The API version of the document this client was generated from.
            pub(crate) fn api_version() -> &'static str #body
        }
    });
    Ok(())
}

/// Points the builders' remaining uses of progenitor-client at the runtime
/// module: its `use` list becomes the runtime's, and full paths
/// `progenitor_client::X` become `crate::runtime::X`.
pub fn reroute_builders(builders: &mut Vec<Item>) {
    builders.retain(|item| !matches!(item, Item::Use(u) if is_super_glob_of_progenitor(&u.tree)));
    let runtime: syn::Path = parse_quote!(crate::runtime);
    builders.insert(
        0,
        parse_quote! {
            #[allow(unused_imports)]
            use #runtime::{encode_path, BuildError as Error};
        },
    );
    let mut reroute = Reroute { runtime };
    for item in builders.iter_mut() {
        reroute.visit_item_mut(item);
    }
}

/// Whether a `use` tree starts with the crate `name`.
fn uses_crate(tree: &syn::UseTree, name: &str) -> bool {
    match tree {
        syn::UseTree::Path(p) => p.ident == name,
        _ => false,
    }
}

/// `use super::{encode_path, ..., ResponseValue};`: the builders' import of
/// what the file re-exported from progenitor-client.
fn is_super_glob_of_progenitor(tree: &syn::UseTree) -> bool {
    let syn::UseTree::Path(p) = tree else {
        return false;
    };
    if p.ident != "super" {
        return false;
    }
    let syn::UseTree::Group(group) = &*p.tree else {
        return false;
    };
    group
        .items
        .iter()
        .any(|i| matches!(i, syn::UseTree::Name(n) if n.ident == "ResponseValue" || n.ident == "OperationInfo"))
}

struct Reroute {
    runtime: syn::Path,
}

impl VisitMut for Reroute {
    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        if path
            .segments
            .first()
            .is_some_and(|s| s.ident == "progenitor_client")
        {
            let rest: Vec<_> = path.segments.iter().skip(1).cloned().collect();
            let runtime = &self.runtime;
            *path = parse_quote!(#runtime::#(#rest)::*);
        }
        syn::visit_mut::visit_path_mut(self, path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn file() -> Vec<Item> {
        let file: syn::File = parse_quote! {
            pub use progenitor_client::{ByteStream, ClientInfo, Error, ResponseValue};
            use progenitor_client::{encode_path, ClientHooks, OperationInfo, RequestBuilderExt};
            pub mod types {}
            #[derive(Clone, Debug)]
            pub struct Client { pub(crate) baseurl: String }
            impl Client {
                pub fn new(baseurl: &str) -> Self { todo!() }
                pub fn new_with_client(baseurl: &str) -> Self { todo!() }
            }
            impl ClientInfo<crate::runtime::Inner> for Client {
                fn api_version() -> &'static str { "4" }
                fn baseurl(&self) -> &str { &self.baseurl }
            }
            impl ClientHooks<crate::runtime::Inner> for &Client {}
            impl Client { pub fn get_thing(&self) {} }
            pub mod prelude { pub use self::super::Client; }
        };
        file.items
    }

    #[test]
    fn nothing_of_progenitor_client_stays_public() {
        let mut items = file();
        run(&mut items).expect("rewrite");
        let text = quote!(#(#items)*).to_string();
        for gone in [
            "progenitor_client",
            "ClientInfo",
            "ClientHooks",
            "prelude",
            "Debug",
            "fn new (",
        ] {
            assert!(!text.contains(gone), "{gone} in {text}");
        }
        assert!(text.contains("pub (crate) fn new_with_client"), "{text}");
        assert!(
            text.contains("pub (crate) fn api_version () -> & 'static str { \"4\" }"),
            "{text}"
        );
        assert!(text.contains("fn get_thing"));
    }

    #[test]
    fn refuses_a_file_without_the_client() {
        let mut items: Vec<Item> = vec![parse_quote!(
            pub mod types {}
        )];
        assert!(run(&mut items).is_err());
    }

    #[test]
    fn builders_reach_progenitor_client_through_the_runtime() {
        let mut builders: Vec<Item> = vec![
            parse_quote!(
                use super::types;
            ),
            parse_quote!(
                use super::{encode_path, ByteStream, Error, OperationInfo, ResponseValue};
            ),
            parse_quote!(
                fn f() {
                    let q = progenitor_client::QueryParam::new("a", &1);
                }
            ),
        ];
        reroute_builders(&mut builders);
        let text = quote!(#(#builders)*).to_string();
        assert!(!text.contains("progenitor_client"), "{text}");
        assert!(
            text.contains("crate :: runtime :: QueryParam :: new"),
            "{text}"
        );
        assert!(
            text.contains("use crate :: runtime :: { encode_path , BuildError as Error }"),
            "{text}"
        );
        assert!(text.contains("use super :: types"));
    }
}
