//! Rewrites of progenitor's output, one module per concern. Each decides on
//! parsed syntax (paths, idents, attribute meta) and refuses a shape it does
//! not know, so a progenitor upgrade that changes its output fails the
//! generation loudly instead of producing something subtly different.

pub mod builders;
pub mod client;
pub mod collections;
pub mod open_enums;
pub mod syntax;
pub mod unknown_fields;
pub mod untagged;

use std::collections::BTreeMap;

use crate::operations::Operation;
use crate::search::Parameter;
use crate::{Error, Result};

/// Runs every rewrite on the generated file. `search` is the search
/// operation's name and its parameter table, for the search builder.
pub fn run(
    file: &mut syn::File,
    operations: &[Operation],
    search: Option<(&str, &[Parameter])>,
    discriminators: &BTreeMap<String, String>,
) -> Result<()> {
    client::run(&mut file.items)?;

    let types = syntax::module_mut(&mut file.items, "types")
        .ok_or_else(|| Error::new("the generated code has no types module"))?;
    let types = syntax::items_mut(types)?;
    if open_enums::run(types)? == 0 {
        return Err(Error::new(
            "no enum was opened: the generated code has an unexpected shape",
        ));
    }
    untagged::catch_all(types);
    untagged::explain_from_str(types)?;
    collections::run(types)?;
    unknown_fields::run(types, discriminators)?;

    let builders = syntax::module_mut(&mut file.items, "builder")
        .ok_or_else(|| Error::new("the generated code has no builder module"))?;
    let builders = syntax::items_mut(builders)?;
    client::reroute_builders(builders);
    let rewritten = builders::run(builders, operations, search)?;
    if rewritten != operations.len() {
        return Err(Error::new(format!(
            "rewrote {rewritten} request builders for {} operations",
            operations.len()
        )));
    }
    Ok(())
}
