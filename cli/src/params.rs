//! The search's parameters as command-line flags, made from the SDK's table
//! (`fingerprint_server_sdk::search::PARAMETERS`) with clap's builder API:
//! one flag per parameter, named after its wire name, parsed by its kind,
//! listing its values when it has a set of them, repeatable when it
//! repeats. The values given come back by wire name. A parameter added to
//! the API becomes a flag with the next SDK, with no edit here.
//!
//! Which parameters a command offers depends on its [`Surface`] and on each
//! parameter's role in the table: every command takes the filters, and the
//! paging and time-window controls only where the command leaves them to the
//! user.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::ops::Bound;

use clap::builder::{
    BoolValueParser, PossibleValue, RangedI64ValueParser, StringValueParser, TypedValueParser,
    ValueParser,
};
use clap::{Arg, ArgAction, ArgMatches, Command};
use fingerprint_server_sdk::search::{self, Kind, Parameter, Role};

use crate::timespec;

/// Values by wire name; a repeated parameter's in the order given.
pub type Values = BTreeMap<String, Vec<String>>;

/// The help heading of the filters.
const FILTERS_HEADING: &str = "Filters (a value not listed is sent as typed)";
/// The help heading of the time window and the order.
const WINDOW_HEADING: &str = "Time window";

/// The commands that take search parameters, each offering its own set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// `events search`: every parameter.
    Search,
    /// `events export`: the filters, the window, the order and the page
    /// size (by default the largest); the export follows the pages itself.
    Export,
    /// `events tail`, `webhook listen`: the filters only; following sets the
    /// window, the order and the page size.
    Follow,
}

/// How a command offers one parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// A flag taking a value of the parameter's kind.
    Value,
    /// A flag without a value: given means `true`.
    Switch,
}

/// How `surface` offers `p`, or `None` when it does not.
fn form(surface: Surface, p: &Parameter) -> Option<Form> {
    match (p.role, surface) {
        (Role::Filter, _) => Some(Form::Value),
        (Role::Reverse, Surface::Search | Surface::Export) => Some(Form::Switch),
        (Role::Start | Role::End | Role::Limit, Surface::Search | Surface::Export) => {
            Some(Form::Value)
        }
        (Role::PaginationKey | Role::TotalHits, Surface::Search) => Some(Form::Value),
        (Role::Start | Role::End | Role::Limit | Role::Reverse, Surface::Follow)
        | (Role::PaginationKey | Role::TotalHits, _) => None,
        // A role newer than this CLI: a plain flag where every parameter is.
        (_, Surface::Search) => Some(Form::Value),
        _ => None,
    }
}

/// The flag of a wire name: underscores become dashes (`a_b` is `--a-b`).
pub fn flag(name: &str) -> String {
    format!("--{}", long(name))
}

fn long(name: &str) -> String {
    name.replace('_', "-")
}

/// The wire name of the parameter playing `role`, if the search has one.
pub fn role_name(role: Role) -> Option<&'static str> {
    search::with_role(role).map(|p| p.name)
}

/// The largest page the search allows, with the page size's wire name
/// (`None` when the table gives no page size or no upper bound).
pub fn largest_page() -> Option<(&'static str, i64)> {
    let p = search::with_role(Role::Limit)?;
    match p.kind {
        Kind::Integer { max: Some(max), .. } => Some((p.name, max)),
        _ => None,
    }
}

/// Whether a parameter decides which events a search finds (a filter, the
/// window, the order), as opposed to how they are paged or counted.
pub fn selects(name: &str) -> bool {
    search::parameter(name)
        .is_none_or(|p| !matches!(p.role, Role::Limit | Role::PaginationKey | Role::TotalHits))
}

/// The values of `values` that decide which events are found (see
/// [`selects`]).
pub fn selection(values: &Values) -> Values {
    values
        .iter()
        .filter(|(name, _)| selects(name))
        .map(|(name, list)| (name.clone(), list.clone()))
        .collect()
}

/// The flag of `p` on `surface`, or `None` when the command does not offer it.
fn arg(surface: Surface, p: &Parameter) -> Option<Arg> {
    let form = form(surface, p)?;
    let arg = Arg::new(p.name)
        .long(long(p.name))
        .help(help(surface, p))
        .help_heading(heading(p.role));
    Some(match form {
        Form::Switch => arg.action(ArgAction::SetTrue),
        Form::Value => {
            let mut arg = arg
                .value_name(value_name(p))
                .value_parser(parser(p))
                .action(if p.repeated {
                    ArgAction::Append
                } else {
                    ArgAction::Set
                });
            if p.kind == Kind::Bool {
                // The flag alone means `true`.
                arg = arg.num_args(0..=1).default_missing_value("true");
            }
            if surface == Surface::Export
                && p.role == Role::Limit
                && let Kind::Integer { max: Some(max), .. } = p.kind
            {
                arg = arg.default_value(max.to_string());
            }
            arg
        }
    })
}

fn heading(role: Role) -> Option<&'static str> {
    match role {
        Role::Start | Role::End | Role::Reverse => Some(WINDOW_HEADING),
        Role::Limit | Role::PaginationKey | Role::TotalHits => None,
        _ => Some(FILTERS_HEADING),
    }
}

fn value_name(p: &Parameter) -> &'static str {
    match (p.role, p.kind) {
        (Role::PaginationKey, _) => "KEY",
        (_, Kind::Bool) => "BOOL",
        (_, Kind::Integer { .. }) => "N",
        (_, Kind::Number) => "NUMBER",
        (_, Kind::Time) => "TIME",
        (_, Kind::String) => "TEXT",
        _ => "VALUE",
    }
}

/// Every value comes out as text, as `with_parameter` takes it.
fn parser(p: &Parameter) -> ValueParser {
    match p.kind {
        Kind::Bool => ValueParser::new(BoolValueParser::new().map(|b| b.to_string())),
        Kind::Integer { min, max } => {
            let bound = |b: Option<i64>| b.map_or(Bound::Unbounded, Bound::Included);
            ValueParser::new(
                RangedI64ValueParser::<i64>::new()
                    .range((bound(min), bound(max)))
                    .map(|n| n.to_string()),
            )
        }
        // Checked now, resolved when the command runs (`7d` is relative).
        Kind::Time => ValueParser::new(timespec::check),
        Kind::Enum(values) => ValueParser::new(open_enum(values)),
        // Numbers and text: the SDK checks them when they are set.
        _ => ValueParser::new(StringValueParser::new()),
    }
}

/// `1-100`, `at least 1`, `at most 9`, or nothing.
fn range(kind: Kind) -> Option<String> {
    match kind {
        Kind::Integer {
            min: Some(min),
            max: Some(max),
        } => Some(format!("{min}-{max}")),
        Kind::Integer {
            min: Some(min),
            max: None,
        } => Some(format!("at least {min}")),
        Kind::Integer {
            min: None,
            max: Some(max),
        } => Some(format!("at most {max}")),
        _ => None,
    }
}

/// The help of a flag: the CLI's own words for the paging and window
/// controls it handles, the table's summary for the rest.
fn help(surface: Surface, p: &Parameter) -> String {
    const TIME_FORMS: &str = "RFC 3339, Unix ms, or ago (7d, 12h, 30m)";
    let bounds = range(p.kind).map(|r| format!(" ({r})")).unwrap_or_default();
    match p.role {
        Role::Start => format!("From this time: {TIME_FORMS} [API default: 7 days ago]"),
        Role::End => format!("Up to this time: {TIME_FORMS} [API default: now]"),
        Role::Reverse => "Oldest first".to_owned(),
        Role::Limit if surface == Surface::Search => {
            format!("Events per page{bounds} [default: the API's; the largest with --all or --max]")
        }
        Role::Limit => format!("Events per page{bounds}"),
        Role::PaginationKey => format!("Start at this page (the `{}` of a previous page)", p.name),
        Role::TotalHits => {
            format!("Ask the API to count the matches, up to N{bounds} (printed on stderr)")
        }
        _ => {
            // One line of help: no closing full stop, as for the other flags.
            let summary = p.summary.trim();
            let mut text = if summary.is_empty() {
                generic_help(p)
            } else {
                summary.strip_suffix('.').unwrap_or(summary).to_owned()
            };
            if p.repeated {
                text.push_str(" (repeatable)");
            }
            text
        }
    }
}

/// A line for a parameter the SDK has no description of: what it takes,
/// nothing about what it means.
fn generic_help(p: &Parameter) -> String {
    let takes = match p.kind {
        Kind::Bool => "true or false".to_owned(),
        Kind::Integer { .. } => match range(p.kind) {
            Some(r) => format!("a whole number, {r}"),
            None => "a whole number".to_owned(),
        },
        Kind::Number => "a number".to_owned(),
        Kind::Time => format!("a time, {}", "RFC 3339, Unix ms, or ago (7d, 12h, 30m)"),
        Kind::Enum(_) => "one of the values below, or a newer one".to_owned(),
        _ => "text".to_owned(),
    };
    format!("The search's `{}` parameter: {takes}", p.name)
}

/// A value parser for a parameter with a set of values: `values` are offered
/// by `--help` and shell completion, and any other text is accepted and sent
/// as typed (the API is open to values newer than this CLI and says itself
/// whether one is valid). Empty text is refused.
pub fn open_enum(values: &'static [&'static str]) -> OpenEnum {
    OpenEnum(values)
}

#[derive(Clone, Debug)]
pub struct OpenEnum(&'static [&'static str]);

impl TypedValueParser for OpenEnum {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let text = StringValueParser::new().parse_ref(cmd, arg, value)?;
        if text.trim().is_empty() {
            let mut error = clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd);
            if let Some(arg) = arg {
                error.insert(
                    clap::error::ContextKind::InvalidArg,
                    clap::error::ContextValue::String(arg.to_string()),
                );
            }
            error.insert(
                clap::error::ContextKind::InvalidValue,
                clap::error::ContextValue::String(text),
            );
            return Err(error);
        }
        Ok(text)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.0.iter().copied().map(PossibleValue::new)))
    }
}

/// A command's set of search parameters, as a type (clap's `Args` is
/// implemented per type).
pub trait Offer {
    const SURFACE: Surface;
}

/// `events search`'s parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForSearch;
/// `events export`'s parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForExport;
/// `events tail`'s and `webhook listen`'s parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForFollow;

impl Offer for ForSearch {
    const SURFACE: Surface = Surface::Search;
}
impl Offer for ForExport {
    const SURFACE: Surface = Surface::Export;
}
impl Offer for ForFollow {
    const SURFACE: Surface = Surface::Follow;
}

/// The search parameters given to a command (defaults included), by wire
/// name, as typed (times not yet resolved).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Given<S> {
    pub values: Values,
    surface: PhantomData<S>,
}

impl<S> Given<S> {
    pub fn new(values: Values) -> Self {
        Self {
            values,
            surface: PhantomData,
        }
    }
}

impl<S: Offer> clap::FromArgMatches for Given<S> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut values = Values::new();
        for p in search::PARAMETERS {
            let given: Vec<String> = match form(S::SURFACE, p) {
                None => continue,
                Some(Form::Switch) => match matches.try_get_one::<bool>(p.name) {
                    Ok(Some(true)) => vec!["true".to_owned()],
                    Ok(_) => continue,
                    Err(e) => return Err(internal(p, &e)),
                },
                Some(Form::Value) => match matches.try_get_many::<String>(p.name) {
                    Ok(Some(list)) => list.cloned().collect(),
                    Ok(None) => continue,
                    Err(e) => return Err(internal(p, &e)),
                },
            };
            values.insert(p.name.to_owned(), given);
        }
        Ok(Self::new(values))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

fn internal(p: &Parameter, e: &dyn std::fmt::Display) -> clap::Error {
    clap::Error::raw(
        clap::error::ErrorKind::InvalidValue,
        format!("{}: {e}", flag(p.name)),
    )
}

impl<S: Offer> clap::Args for Given<S> {
    fn augment_args(cmd: Command) -> Command {
        // Grouped as `--help` shows them: paging, the window, the filters;
        // each group in the table's order.
        let mut params: Vec<&Parameter> = search::PARAMETERS.iter().collect();
        params.sort_by_key(|p| match heading(p.role) {
            None => 0,
            Some(WINDOW_HEADING) => 1,
            Some(_) => 2,
        });
        cmd.args(params.into_iter().filter_map(|p| arg(S::SURFACE, p)))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command with `S`'s parameters only.
    fn command<S: Offer>() -> Command {
        <Given<S> as clap::Args>::augment_args(Command::new("x"))
    }

    fn parse<S: Offer>(args: &[&str]) -> Result<Values, clap::Error> {
        let matches = command::<S>()
            .try_get_matches_from(std::iter::once("x").chain(args.iter().copied()))?;
        <Given<S> as clap::FromArgMatches>::from_arg_matches(&matches).map(|given| given.values)
    }

    fn first(test: impl Fn(&Parameter) -> bool) -> &'static Parameter {
        search::PARAMETERS
            .iter()
            .find(|p| test(p))
            .unwrap_or_else(|| panic!("the table has no such parameter"))
    }

    fn is_filter(p: &Parameter) -> bool {
        p.role == Role::Filter
    }

    #[test]
    fn flags_are_the_wire_names_with_dashes() {
        assert_eq!(flag("a_b_c"), "--a-b-c");
        let cmd = command::<ForSearch>();
        for p in search::PARAMETERS {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_id() == p.name)
                .unwrap_or_else(|| panic!("{} is not a flag", p.name));
            assert_eq!(arg.get_long(), Some(long(p.name).as_str()));
        }
    }

    #[test]
    fn booleans_take_true_or_false_and_alone_mean_true() {
        let p = first(|p| is_filter(p) && p.kind == Kind::Bool && !p.repeated);
        let f = flag(p.name);
        let given = |args: &[&str]| parse::<ForFollow>(args).map(|v| v.get(p.name).cloned());
        assert_eq!(given(&[&f]).ok(), Some(Some(vec!["true".to_owned()])));
        assert_eq!(
            given(&[&f, "false"]).ok(),
            Some(Some(vec!["false".to_owned()]))
        );
        assert!(given(&[&f, "maybe"]).is_err());
        assert!(given(&[&f, "true", &f, "true"]).is_err(), "not repeatable");
        assert_eq!(given(&[]).ok(), Some(None));
    }

    #[test]
    fn enums_offer_their_values_and_take_any_other_text() {
        let p = first(|p| is_filter(p) && matches!(p.kind, Kind::Enum(_)));
        let parser = open_enum(p.values());
        let offered: Vec<String> = parser
            .possible_values()
            .into_iter()
            .flatten()
            .map(|v| v.get_name().to_owned())
            .collect();
        assert_eq!(offered, p.values());
        let f = flag(p.name);
        let given = |args: &[&str]| parse::<ForSearch>(args).map(|v| v.get(p.name).cloned());
        assert_eq!(
            given(&[&f, p.values()[0]]).ok(),
            Some(Some(vec![p.values()[0].to_owned()]))
        );
        // Newer than this CLI: kept as typed.
        assert_eq!(
            given(&[&f, "some_new_value"]).ok(),
            Some(Some(vec!["some_new_value".to_owned()]))
        );
        assert!(given(&[&f, " "]).is_err(), "empty text is refused");
    }

    #[test]
    fn repeated_parameters_are_repeatable_flags() {
        let p = first(|p| is_filter(p) && p.repeated);
        let f = flag(p.name);
        let (a, b) = match p.kind {
            Kind::Enum(values) => (values[0], values[values.len() - 1]),
            _ => ("a", "b"),
        };
        let values = parse::<ForExport>(&[&f, a, &f, b]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(values.get(p.name), Some(&vec![a.to_owned(), b.to_owned()]));
    }

    #[test]
    fn integers_are_checked_against_their_bounds() {
        let Some((page_size, max)) = largest_page() else {
            panic!("the table has a bounded page size");
        };
        let f = flag(page_size);
        assert!(parse::<ForSearch>(&[&f, &max.to_string()]).is_ok());
        assert!(parse::<ForSearch>(&[&f, &(max + 1).to_string()]).is_err());
        assert!(parse::<ForSearch>(&[&f, "many"]).is_err());
    }

    #[test]
    fn each_command_offers_its_set() {
        let search = command::<ForSearch>();
        let export = command::<ForExport>();
        let follow = command::<ForFollow>();
        let has = |cmd: &Command, name: &str| cmd.get_arguments().any(|a| a.get_id() == name);
        for p in search::PARAMETERS {
            assert!(has(&search, p.name), "search: {}", p.name);
            let window = matches!(p.role, Role::Start | Role::End | Role::Reverse);
            assert_eq!(
                has(&export, p.name),
                p.role == Role::Filter || window || p.role == Role::Limit,
                "export: {}",
                p.name
            );
            assert_eq!(
                has(&follow, p.name),
                p.role == Role::Filter,
                "follow: {}",
                p.name
            );
        }
        // The export pages with the largest page unless told otherwise.
        let (page_size, max) = largest_page().unwrap_or_else(|| panic!("a page size"));
        let values = parse::<ForExport>(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(values.get(page_size), Some(&vec![max.to_string()]));
        assert_eq!(values.len(), 1);
    }

    #[test]
    fn the_order_is_a_bare_flag_and_times_keep_their_text() {
        let order = role_name(Role::Reverse).unwrap_or_else(|| panic!("an order"));
        let from = role_name(Role::Start).unwrap_or_else(|| panic!("a window start"));
        let values = parse::<ForSearch>(&[&flag(order), &flag(from), "7d"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(values.get(order), Some(&vec!["true".to_owned()]));
        assert_eq!(values.get(from), Some(&vec!["7d".to_owned()]));
        assert!(parse::<ForSearch>(&[&flag(from), "yesterday"]).is_err());
    }

    #[test]
    fn help_comes_from_the_summary_or_the_kind() {
        for p in search::PARAMETERS.iter().filter(|p| is_filter(p)) {
            let text = help(Surface::Search, p);
            assert!(!text.trim().is_empty(), "{}", p.name);
            let summary = p.summary.trim();
            if !summary.is_empty() {
                let line = summary.strip_suffix('.').unwrap_or(summary);
                assert!(text.starts_with(line), "{}", p.name);
            }
            assert_eq!(text.ends_with("(repeatable)"), p.repeated, "{}", p.name);
        }
        let mut bare = *first(|p| is_filter(p) && p.kind == Kind::Bool);
        bare.summary = "";
        assert_eq!(
            help(Surface::Search, &bare),
            format!("The search's `{}` parameter: true or false", bare.name)
        );
    }

    #[test]
    fn paging_is_not_part_of_what_a_search_selects() {
        let (page_size, _) = largest_page().unwrap_or_else(|| panic!("a page size"));
        let filter = first(is_filter).name;
        let values: Values = [
            (page_size.to_owned(), vec!["5".to_owned()]),
            (filter.to_owned(), vec!["x".to_owned()]),
        ]
        .into();
        assert_eq!(
            selection(&values).keys().collect::<Vec<_>>(),
            [&filter.to_owned()]
        );
    }
}
