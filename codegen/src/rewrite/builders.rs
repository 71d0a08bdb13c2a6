//! The request builders (`builder::GetEvent`, ...): progenitor's `send`
//! becomes `prepare`, which only builds the request, and the new `send` and
//! `send_json` hand it to the runtime, which runs the whole call (attempts,
//! timeouts, reading and decoding the body, errors). Each builder also gets
//! per-call `timeout` and `retry_policy`, setters whose errors name the
//! parameter, the value and why, and the search builder a setter by wire
//! name driven by the search parameter table.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::visit::Visit;
use syn::{Expr, Fields, Item, ItemImpl, ItemStruct, Stmt, parse_quote};

use super::syntax::{generic_type, type_name};
use crate::operations::Operation;
use crate::search::Parameter;
use crate::{Error, Result};

/// The field every builder gets for its per-call settings.
const CALL: &str = "call";
/// Methods the rewrite adds; a builder that already has one is refused.
const ADDED: &[&str] = &[
    "prepare",
    "send_json",
    "timeout",
    "retry_policy",
    "with_parameter",
];

/// Rewrites the `builder` module's items; returns how many builders were
/// rewritten.
pub fn run(
    items: &mut [Item],
    operations: &[Operation],
    search: Option<(&str, &[Parameter])>,
) -> Result<usize> {
    // Builder name -> its field names (before the call field is added).
    let mut builders: Vec<(String, Vec<String>)> = Vec::new();
    for item in items.iter_mut() {
        if let Item::Struct(st) = item
            && has_client_field(st)
        {
            builders.push((st.ident.to_string(), field_names(st)));
            add_call_field(st)?;
        }
    }
    let mut rewritten = 0;
    for item in items.iter_mut() {
        let Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() {
            continue;
        }
        let Some(owner) = type_name(&imp.self_ty) else {
            continue;
        };
        let Some((_, fields)) = builders.iter().find(|(name, _)| *name == owner) else {
            continue;
        };
        rewrite_impl(imp, &owner, fields, operations, search)?;
        rewritten += 1;
    }
    if rewritten != builders.len() {
        return Err(Error::new(format!(
            "{} builders but {rewritten} of them had an inherent impl",
            builders.len()
        )));
    }
    Ok(rewritten)
}

fn field_names(st: &ItemStruct) -> Vec<String> {
    st.fields
        .iter()
        .filter_map(|f| f.ident.as_ref().map(ToString::to_string))
        .collect()
}

fn has_client_field(st: &ItemStruct) -> bool {
    matches!(&st.fields, Fields::Named(f) if f.named.iter().any(|f| f.ident.as_ref().is_some_and(|i| i == "client")))
}

fn add_call_field(st: &mut ItemStruct) -> Result<()> {
    let Fields::Named(fields) = &mut st.fields else {
        return Ok(());
    };
    if fields
        .named
        .iter()
        .any(|f| f.ident.as_ref().is_some_and(|i| i == CALL))
    {
        return Err(Error::new(format!(
            "builder {} already has a field named {CALL}",
            st.ident
        )));
    }
    fields
        .named
        .push(parse_quote!(call: crate::runtime::CallOptions));
    Ok(())
}

fn rewrite_impl(
    imp: &mut ItemImpl,
    owner: &str,
    fields: &[String],
    operations: &[Operation],
    search: Option<(&str, &[Parameter])>,
) -> Result<()> {
    for member in &imp.items {
        if let syn::ImplItem::Fn(f) = member
            && ADDED.contains(&f.sig.ident.to_string().as_str())
        {
            return Err(Error::new(format!(
                "builder {owner} already has a method {}",
                f.sig.ident
            )));
        }
    }
    let mut added: Vec<syn::ImplItem> = Vec::new();
    let mut sent = false;
    for member in imp.items.iter_mut() {
        let syn::ImplItem::Fn(f) = member else {
            continue;
        };
        if f.sig.ident == "new" {
            add_call_to_constructor(f, owner)?;
        } else if f.sig.ident == "send" {
            let send = Send::read(f, owner)?;
            let operation = operations
                .iter()
                .find(|op| op.name == send.operation)
                .ok_or_else(|| {
                    Error::new(format!(
                        "operation {} of builder {owner} is not in the operation table",
                        send.operation
                    ))
                })?;
            *f = send.prepare(f, operation)?;
            added.extend(send.senders(operation)?);
            if let Some((name, parameters)) = search
                && name == operation.name
            {
                if let Some(missing) = parameters
                    .iter()
                    .find(|p| !fields.iter().any(|f| f == p.method()))
                {
                    return Err(Error::new(format!(
                        "search parameter {} has no field in builder {owner}",
                        missing.name
                    )));
                }
                added.push(with_parameter(&operation.name, parameters));
            }
            sent = true;
        } else {
            explain_setter_error(f);
        }
    }
    if !sent {
        return Err(Error::new(format!("builder {owner} has no send method")));
    }
    added.push(parse_quote! {
        /// Sets the time allowed for this call, every attempt and every wait
        /// between attempts together, instead of the client's.
        pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.call.set_timeout(timeout);
            self
        }
    });
    added.push(parse_quote! {
        /// Sets the retry policy of this call instead of the client's (the
        /// client's retry budget still applies unless the policy turns it
        /// off).
        pub fn retry_policy(mut self, policy: crate::runtime::RetryPolicy) -> Self {
            self.call.set_retry_policy(policy);
            self
        }
    });
    imp.items.extend(added);
    Ok(())
}

/// `Self { client: client, ... }` gains `call: Default::default()`.
fn add_call_to_constructor(f: &mut syn::ImplItemFn, owner: &str) -> Result<()> {
    let Some(Stmt::Expr(Expr::Struct(init), None)) = f.block.stmts.last_mut() else {
        return Err(Error::new(format!(
            "{owner}::new does not end with a struct expression"
        )));
    };
    init.fields
        .push(parse_quote!(call: ::std::default::Default::default()));
    Ok(())
}

/// A setter's `map_err(|_| "conversion to `X` for p failed")` becomes one
/// whose message names the parameter, the value and the reason.
fn explain_setter_error(f: &mut syn::ImplItemFn) {
    let Some(bound_target) = try_into_target(f) else {
        return;
    };
    let name = f.sig.ident.to_string();
    let mut replaced = false;
    for stmt in f.block.stmts.iter_mut() {
        let Stmt::Expr(Expr::Assign(assign), _) = stmt else {
            continue;
        };
        if let Expr::MethodCall(call) = &mut *assign.right
            && call.method == "map_err"
            && call.args.len() == 1
        {
            call.args[0] = parse_quote!(|e| crate::runtime::invalid_value(#name, &e));
            replaced = true;
        }
    }
    if !replaced {
        return;
    }
    let display: syn::WherePredicate = parse_quote!(
        <V as ::std::convert::TryInto<#bound_target>>::Error: ::std::fmt::Display
    );
    let clause = f.sig.generics.make_where_clause();
    let already = clause.predicates.iter().any(|p| *p == display);
    if !already {
        clause.predicates.push(display);
    }
}

/// `T` in the setter's `where V: TryInto<T>`.
fn try_into_target(f: &syn::ImplItemFn) -> Option<syn::Type> {
    let clause = f.sig.generics.where_clause.as_ref()?;
    clause.predicates.iter().find_map(|p| {
        let syn::WherePredicate::Type(bound) = p else {
            return None;
        };
        if type_name(&bound.bounded_ty).as_deref() != Some("V") {
            return None;
        }
        bound.bounds.iter().find_map(|b| {
            let syn::TypeParamBound::Trait(t) = b else {
                return None;
            };
            let last = t.path.segments.last()?;
            if last.ident != "TryInto" {
                return None;
            }
            match &last.arguments {
                syn::PathArguments::AngleBracketed(args) => match args.args.first()? {
                    syn::GenericArgument::Type(target) => Some(target.clone()),
                    _ => None,
                },
                _ => None,
            }
        })
    })
}

/// How the body of a success is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Decoded as JSON into the success type.
    Json,
    /// Ignored (the operation returns nothing).
    Empty,
}

/// What progenitor's `send` says about its operation.
#[derive(Debug)]
struct Send {
    /// progenitor's operation name, from its `OperationInfo`.
    operation: String,
    /// The success type, `T` in `Result<ResponseValue<T>, Error<E>>`.
    success: syn::Type,
    body: Body,
    /// How many statements, from the first, build the request (up to and
    /// including `let request = ....build()?;`).
    building: usize,
}

impl Send {
    /// Reads progenitor's `async fn send(self)`, refusing any shape the
    /// rewrite does not know.
    fn read(f: &syn::ImplItemFn, owner: &str) -> Result<Self> {
        let refuse = |what: &str| Error::new(format!("{owner}::send: {what}"));
        if f.sig.asyncness.is_none() {
            return Err(refuse("not an async fn"));
        }
        let syn::ReturnType::Type(_, output) = &f.sig.output else {
            return Err(refuse("returns nothing"));
        };
        let success = generic_type(output, 0)
            .and_then(|ok| generic_type(ok, 0))
            .cloned()
            .ok_or_else(|| refuse("does not return Result<ResponseValue<T>, _>"))?;
        let stmts = &f.block.stmts;
        match stmts.first() {
            Some(Stmt::Local(local)) if matches!(&local.pat, syn::Pat::Struct(p) if p.path.is_ident("Self")) =>
                {}
            _ => return Err(refuse("does not start with `let Self { .. } = self;`")),
        }
        let info = stmts
            .iter()
            .position(|s| operation_info(s).is_some())
            .ok_or_else(|| refuse("has no OperationInfo"))?;
        let operation = stmts
            .get(info)
            .and_then(operation_info)
            .ok_or_else(|| refuse("has no OperationInfo"))?;
        match info.checked_sub(1).and_then(|i| stmts.get(i)) {
            Some(Stmt::Local(local)) if binds(&local.pat, "request") => {}
            _ => {
                return Err(refuse(
                    "does not build `request` just before its OperationInfo",
                ));
            }
        }
        let body = match stmts.last() {
            Some(Stmt::Expr(Expr::Match(m), None)) => success_body(m).map_err(|e| refuse(&e))?,
            _ => return Err(refuse("does not end with a match on the status")),
        };
        Ok(Self {
            operation,
            success,
            body,
            building: info,
        })
    }

    /// The private `prepare`: the request building statements, run in a
    /// closure so their `?` ends there, and the call handed to the runtime.
    fn prepare(&self, f: &syn::ImplItemFn, operation: &Operation) -> Result<syn::ImplItemFn> {
        let mut stmts = f.block.stmts.clone();
        stmts.truncate(self.building);
        let mut rest = stmts.split_off(1);
        let Some(Stmt::Local(destructure)) = stmts.first_mut() else {
            return Err(Error::new("send lost its first statement"));
        };
        let syn::Pat::Struct(pattern) = &mut destructure.pat else {
            return Err(Error::new("send's first statement is not a struct pattern"));
        };
        let with_call: syn::Pat = parse_quote!(Self { call });
        if let syn::Pat::Struct(with_call) = with_call {
            pattern.fields.extend(with_call.fields);
        }
        rest.push(parse_quote!(return Ok(request);));
        let destructure = &stmts[0];
        let op = operation.static_ident();
        Ok(parse_quote! {
            fn prepare(self) -> crate::runtime::Call<'a> {
                #destructure
                let request = (move || -> ::std::result::Result<::reqwest::Request, Error> {
                    #(#rest)*
                })();
                crate::runtime::Call::new(&client.inner, &super::operations::#op, call, request)
            }
        })
    }

    /// `send`, and `send_json` when there is a body.
    fn senders(&self, operation: &Operation) -> Result<Vec<syn::ImplItem>> {
        let name = &operation.name;
        let success = &self.success;
        let doc = format!(
            "Sends the request (operation `{name}`) with the client's retry policy and \
             timeouts (or this call's), and returns the decoded response or a [`crate::Error`]."
        );
        let decode = match self.body {
            Body::Json => quote!(crate::runtime::json::<#success>),
            Body::Empty => quote!(crate::runtime::empty),
        };
        let mut out = vec![parse_quote! {
            #[doc = #doc]
            pub fn send(self) -> impl ::std::future::Future<
                Output = ::std::result::Result<crate::runtime::ResponseValue<#success>, crate::Error>,
            > + Send + 'a {
                self.prepare().send(#decode)
            }
        }];
        if self.body == Body::Json {
            let doc = format!(
                "Like `send`, but returns the body as JSON exactly as the server sent it, \
                 fields this version of the SDK does not know included (operation `{name}`)."
            );
            out.push(parse_quote! {
                #[doc = #doc]
                pub fn send_json(self) -> impl ::std::future::Future<
                    Output = ::std::result::Result<crate::runtime::ResponseValue<::serde_json::Value>, crate::Error>,
                > + Send + 'a {
                    self.prepare().send(crate::runtime::json::<::serde_json::Value>)
                }
            });
        }
        Ok(out)
    }
}

/// The `operation_id` of `let info = OperationInfo { operation_id: ".." };`.
fn operation_info(stmt: &Stmt) -> Option<String> {
    let Stmt::Local(local) = stmt else {
        return None;
    };
    let Expr::Struct(init) = &*local.init.as_ref()?.expr else {
        return None;
    };
    if init.path.segments.last()?.ident != "OperationInfo" {
        return None;
    }
    init.fields
        .iter()
        .find_map(|field| match (&field.member, &field.expr) {
            (syn::Member::Named(name), Expr::Lit(lit)) if name == "operation_id" => {
                match &lit.lit {
                    syn::Lit::Str(s) => Some(s.value()),
                    _ => None,
                }
            }
            _ => None,
        })
}

fn binds(pat: &syn::Pat, name: &str) -> bool {
    matches!(pat, syn::Pat::Ident(p) if p.ident == name)
}

/// How the success arms of the final `match response.status().as_u16()`
/// read the body: every non-wildcard arm must call
/// `ResponseValue::from_response` (JSON) or `ResponseValue::empty`.
fn success_body(m: &syn::ExprMatch) -> std::result::Result<Body, String> {
    let mut found: Option<Body> = None;
    for arm in &m.arms {
        if matches!(arm.pat, syn::Pat::Wild(_)) {
            continue;
        }
        let mut calls = Calls::default();
        calls.visit_expr(&arm.body);
        let body = if calls.0.iter().any(|c| c == "from_response") {
            Body::Json
        } else if calls.0.iter().any(|c| c == "empty") {
            Body::Empty
        } else {
            return Err(format!("a success arm reads the body as {:?}", calls.0));
        };
        if found.is_some_and(|b| b != body) {
            return Err("success arms read the body in different ways".into());
        }
        found = Some(body);
    }
    found.ok_or_else(|| "no success arm".to_owned())
}

/// The last segments of the paths of the functions called in an expression.
#[derive(Default)]
struct Calls(Vec<String>);

impl<'ast> Visit<'ast> for Calls {
    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let Expr::Path(p) = &*call.func
            && let Some(last) = p.path.segments.last()
        {
            self.0.push(last.ident.to_string());
        }
        syn::visit::visit_expr_call(self, call);
    }
}

/// `with_parameter(name, value)`: sets a search parameter by its wire
/// name from text, through the typed setter's field.
fn with_parameter(operation: &str, parameters: &[Parameter]) -> syn::ImplItem {
    let arms = parameters.iter().map(|p| -> TokenStream {
        let name = &p.name;
        let field = format_ident!("{}", p.method());
        if p.repeated {
            quote! {
                #name => crate::runtime::push_parameter(
                    &mut self.#field,
                    crate::runtime::parse_parameter(#operation, #name, value)?,
                ),
            }
        } else {
            quote! {
                #name => {
                    self.#field = Ok(Some(crate::runtime::parse_parameter(#operation, #name, value)?));
                }
            }
        }
    });
    parse_quote! {
        /// Sets the search parameter `name` (its wire name, as listed in
        /// [`crate::search::PARAMETERS`]) from text, as a command line or a
        /// query string gives it: `true`/`false`, numbers, times as Unix
        /// milliseconds or RFC 3339, enum values (any text: an unknown value
        /// is sent as given). A repeated parameter gains one value per
        /// call. Fails at once on an unknown name or a value that does not
        /// parse.
        pub fn with_parameter(mut self, name: &str, value: &str) -> ::std::result::Result<Self, crate::Error> {
            match name {
                #(#arms)*
                _ => return Err(crate::runtime::unknown_parameter(#operation, name)),
            }
            Ok(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{Kind, Role};

    /// A builder of the shape progenitor 0.15 generates.
    fn builder_items(send_body: TokenStream) -> Vec<Item> {
        let file: syn::File = syn::parse2(quote! {
            pub struct GetThing<'a> {
                client: &'a super::Client,
                thing_id: Result<::std::string::String, String>,
            }
            impl<'a> GetThing<'a> {
                pub fn new(client: &'a super::Client) -> Self {
                    Self { client: client, thing_id: Err("thing_id was not initialized".to_string()) }
                }
                pub fn thing_id<V>(mut self, value: V) -> Self
                where
                    V: std::convert::TryInto<::std::string::String>,
                {
                    self.thing_id = value
                        .try_into()
                        .map_err(|_| "conversion to `String` for thing_id failed".to_string());
                    self
                }
                pub async fn send(self) -> Result<ResponseValue<types::Thing>, Error<()>> {
                    #send_body
                }
            }
        })
        .expect("parses");
        file.items
    }

    fn progenitor_send_body() -> TokenStream {
        quote! {
            let Self { client, thing_id } = self;
            let thing_id = thing_id.map_err(Error::InvalidRequest)?;
            let url = format!("{}/things/{}", client.baseurl, encode_path(&thing_id.to_string()));
            #[allow(unused_mut)]
            let mut request = client.client.get(url).build()?;
            let info = OperationInfo { operation_id: "get_thing" };
            client.pre(&mut request, &info).await?;
            let result = client.exec(request, &info).await;
            client.post(&result, &info).await?;
            let response = result?;
            match response.status().as_u16() {
                200u16 => ResponseValue::from_response(response).await,
                _ => Err(Error::UnexpectedResponse(response)),
            }
        }
    }

    fn operations() -> Vec<Operation> {
        vec![Operation {
            name: "get_thing".into(),
            method: "GET".into(),
            template: "/things/{thing_id}".into(),
        }]
    }

    fn text(items: &[Item]) -> String {
        quote!(#(#items)*).to_string()
    }

    #[test]
    fn send_becomes_prepare_and_the_runtime_runs_the_call() {
        let mut items = builder_items(progenitor_send_body());
        assert_eq!(run(&mut items, &operations(), None).expect("rewrites"), 1);
        let out = text(&items);
        // The per-call settings: a field, its default, two setters.
        assert!(
            out.contains("call : crate :: runtime :: CallOptions"),
            "{out}"
        );
        assert!(
            out.contains("call : :: std :: default :: Default :: default ()"),
            "{out}"
        );
        assert!(out.contains("pub fn timeout (mut self"), "{out}");
        assert!(out.contains("pub fn retry_policy (mut self"), "{out}");
        // The request is built in a closure; nothing of progenitor's hooks
        // is left.
        assert!(
            out.contains("fn prepare (self) -> crate :: runtime :: Call < 'a >"),
            "{out}"
        );
        assert!(
            out.contains("let Self { client , thing_id , call } = self"),
            "{out}"
        );
        assert!(out.contains("super :: operations :: GET_THING"), "{out}");
        for gone in [
            "client . pre",
            "client . exec",
            "OperationInfo",
            "from_response",
        ] {
            assert!(!out.contains(gone), "{gone} left in {out}");
        }
        // send decodes JSON into the success type; send_json keeps JSON.
        assert!(
            out.contains("crate :: runtime :: json :: < types :: Thing >"),
            "{out}"
        );
        assert!(out.contains("pub fn send_json (self)"), "{out}");
        // The setter explains a failed conversion.
        assert!(
            out.contains("crate :: runtime :: invalid_value (\"thing_id\" , & e)"),
            "{out}"
        );
        assert!(out.contains(":: std :: fmt :: Display"), "{out}");
    }

    #[test]
    fn an_empty_success_is_not_decoded_and_has_no_send_json() {
        let body = quote! {
            let Self { client, thing_id } = self;
            #[allow(unused_mut)]
            let mut request = client.client.delete("x").build()?;
            let info = OperationInfo { operation_id: "get_thing" };
            let response = client.exec(request, &info).await?;
            match response.status().as_u16() {
                200u16 => Ok(ResponseValue::empty(response)),
                _ => Err(Error::UnexpectedResponse(response)),
            }
        };
        let mut items = builder_items(body);
        run(&mut items, &operations(), None).expect("rewrites");
        let out = text(&items);
        assert!(out.contains("crate :: runtime :: empty"), "{out}");
        assert!(!out.contains("send_json"), "{out}");
    }

    #[test]
    fn the_search_builder_gains_a_setter_by_wire_name() {
        let mut items = builder_items(progenitor_send_body());
        let table = [Parameter {
            name: "thing_id".into(),
            kind: Kind::String,
            repeated: false,
            role: Role::Filter,
            summary: String::new(),
        }];
        run(&mut items, &operations(), Some(("get_thing", &table))).expect("rewrites");
        let out = text(&items);
        assert!(
            out.contains("pub fn with_parameter (mut self , name : & str , value : & str)"),
            "{out}"
        );
        assert!(out.contains("\"thing_id\" =>"), "{out}");

        let mut items = builder_items(progenitor_send_body());
        let unknown = [Parameter {
            name: "colour".into(),
            ..table[0].clone()
        }];
        let err = run(&mut items, &operations(), Some(("get_thing", &unknown))).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn refuses_shapes_it_does_not_know() {
        // An operation the table does not have.
        let mut items = builder_items(progenitor_send_body());
        assert!(run(&mut items, &[], None).is_err());
        // No OperationInfo.
        let mut items = builder_items(quote! {
            let Self { client, thing_id } = self;
            let request = client.client.get("x").build()?;
            todo!()
        });
        let err = run(&mut items, &operations(), None).unwrap_err();
        assert!(err.to_string().contains("OperationInfo"), "{err}");
        // A success read another way (a byte stream).
        let mut items = builder_items(quote! {
            let Self { client, thing_id } = self;
            let request = client.client.get("x").build()?;
            let info = OperationInfo { operation_id: "get_thing" };
            let response = client.exec(request, &info).await?;
            match response.status().as_u16() {
                200u16 => Ok(ResponseValue::stream(response)),
                _ => Err(Error::UnexpectedResponse(response)),
            }
        });
        assert!(run(&mut items, &operations(), None).is_err());
        // A name the rewrite would add already taken.
        let mut items = builder_items(progenitor_send_body());
        if let Item::Impl(imp) = &mut items[1] {
            imp.items.push(parse_quote!(
                pub fn timeout(self) -> Self {
                    self
                }
            ));
        }
        let err = run(&mut items, &operations(), None).unwrap_err();
        assert!(err.to_string().contains("timeout"), "{err}");
    }
}
