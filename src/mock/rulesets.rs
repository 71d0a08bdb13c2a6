//! Rulesets for `get_event(...).ruleset_id(...)`: ordered rules, each a
//! condition and an action, evaluated against the stored event into the
//! event's `rule_action`.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize as _;
use serde_json::{Map, Value, json};

use super::search::{self, Filters};
use crate::types;

/// Why a ruleset, rule or action was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError(String);

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid ruleset: {}", self.0)
    }
}

impl std::error::Error for RuleError {}

/// What a matching rule tells the caller to do with the request: the
/// `rule_action` of the event, without its ruleset and rule ids (the fake
/// adds those).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleAction {
    /// The action's JSON fields, `type` included.
    fields: Map<String, Value>,
}

impl RuleAction {
    /// Let the request through (`{"type": "allow"}`).
    pub fn allow() -> Self {
        let mut fields = Map::new();
        fields.insert("type".into(), json!("allow"));
        Self { fields }
    }

    /// Block the request and answer it with `status_code` and `body`
    /// (`{"type": "block", "status_code", "body"}`).
    pub fn block(status_code: u16, body: impl Into<String>) -> Self {
        let mut fields = Map::new();
        fields.insert("type".into(), json!("block"));
        fields.insert("status_code".into(), json!(status_code));
        fields.insert("body".into(), Value::String(body.into()));
        Self { fields }
    }

    /// Adds a header: for a block, a header of the answer (`headers`); for an
    /// allow, a header to set on the request passed on
    /// (`request_header_modifications.set`).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let field = json!({"name": name.into(), "value": value.into()});
        let list = if self.is_block() {
            self.fields.entry("headers").or_insert_with(|| json!([]))
        } else {
            let modifications = self
                .fields
                .entry("request_header_modifications")
                .or_insert_with(|| json!({}));
            match modifications {
                Value::Object(m) => m.entry("set").or_insert_with(|| json!([])),
                // Only `from_json` could have put something else there, and
                // it refuses that.
                other => other,
            }
        };
        if let Value::Array(items) = list {
            items.push(field);
        }
        self
    }

    /// An action given as the API's `rule_action` JSON (`type` `allow` or
    /// `block` and that type's fields; `ruleset_id`, `rule_id` and
    /// `rule_expression` are set by the fake and refused here).
    pub fn from_json(value: Value) -> Result<Self, RuleError> {
        let Value::Object(fields) = value else {
            return Err(RuleError("an action must be a JSON object".into()));
        };
        match fields.get("type").and_then(Value::as_str) {
            Some("allow" | "block") => {}
            _ => {
                return Err(RuleError(
                    "an action needs \"type\": \"allow\" or \"block\"".into(),
                ));
            }
        }
        for own in ["ruleset_id", "rule_id", "rule_expression"] {
            if fields.contains_key(own) {
                return Err(RuleError(format!(
                    "an action must not set `{own}`: the fake fills it in"
                )));
            }
        }
        let action = Self { fields };
        // What the SDK could not read back is of no use in a test.
        let probe = action.to_json("rs_check", Some("r_check"), Some("check"));
        if !matches!(
            types::EventRuleAction::deserialize(&probe),
            Ok(types::EventRuleAction::Variant0 { .. } | types::EventRuleAction::Variant1 { .. })
        ) {
            return Err(RuleError(format!(
                "the action {} is not a rule action the API sends",
                Value::Object(action.fields)
            )));
        }
        Ok(action)
    }

    fn is_block(&self) -> bool {
        self.fields.get("type").and_then(Value::as_str) == Some("block")
    }

    fn to_json(&self, ruleset_id: &str, rule_id: Option<&str>, expression: Option<&str>) -> Value {
        let mut fields = self.fields.clone();
        fields.insert("ruleset_id".into(), json!(ruleset_id));
        if let Some(rule_id) = rule_id {
            fields.insert("rule_id".into(), json!(rule_id));
        }
        if let Some(expression) = expression {
            fields.insert("rule_expression".into(), json!(expression));
        }
        Value::Object(fields)
    }
}

type Predicate = Arc<dyn Fn(&types::Event) -> bool + Send + Sync>;

#[derive(Clone)]
enum Condition {
    /// Search filters, as query pairs (checked when the rule was made).
    Filters(Vec<(String, String)>),
    Predicate(Predicate),
}

/// One rule: when an event matches its condition, its action applies.
#[derive(Clone)]
pub struct Rule {
    id: Option<String>,
    expression: String,
    condition: Condition,
    action: RuleAction,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("id", &self.id)
            .field("expression", &self.expression)
            .field("action", &self.action)
            .finish()
    }
}

impl Rule {
    /// A rule for the events that a search with these filters would find,
    /// written as a query string: `"vpn=true"`, `"bot=bad&ip_address=10.0.0.0/8"`,
    /// `"bot_info_category=ai_agent&bot_info_category=ai_crawler"`. Only the
    /// filter parameters are allowed (not `start`, `limit`, ...), each with
    /// the search's meaning; the text is also the rule's `rule_expression`.
    pub fn when(filters: &str, action: RuleAction) -> Result<Self, RuleError> {
        let pairs = search::form_pairs(filters);
        if pairs.is_empty() {
            return Err(RuleError(
                "a condition needs at least one filter (e.g. \"vpn=true\")".into(),
            ));
        }
        Filters::parse_condition(&pairs).map_err(|r| RuleError(r.0))?;
        Ok(Self {
            id: None,
            expression: filters.to_owned(),
            condition: Condition::Filters(pairs),
            action,
        })
    }

    /// A rule for the events `predicate` accepts; `expression` is what the
    /// event's `rule_action.rule_expression` says.
    pub fn when_event(
        expression: impl Into<String>,
        predicate: impl Fn(&types::Event) -> bool + Send + Sync + 'static,
        action: RuleAction,
    ) -> Self {
        Self {
            id: None,
            expression: expression.into(),
            condition: Condition::Predicate(Arc::new(predicate)),
            action,
        }
    }

    /// Sets the rule's id (`rule_action.rule_id`); by default `r_<n>`, its
    /// position in the ruleset counted from 1.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    fn matches(&self, event: &Value) -> bool {
        match &self.condition {
            Condition::Filters(pairs) => {
                Filters::parse_condition(pairs).is_ok_and(|filters| filters.matches(event))
            }
            Condition::Predicate(predicate) => {
                types::Event::deserialize(event).is_ok_and(|typed| predicate(&typed))
            }
        }
    }
}

/// A ruleset: rules tried in order, the first that matches gives the action;
/// when none does, the ruleset's default action (allow unless set with
/// [`otherwise`](Ruleset::otherwise)) applies, with no `rule_id`.
///
/// ```
/// use fingerprint_server_sdk::mock::{Rule, RuleAction, Ruleset};
///
/// let ruleset = Ruleset::new("rs_checkout")
///     .rule(Rule::when("bot=bad", RuleAction::block(403, "no bots"))?)
///     .rule(Rule::when("vpn=true&min_suspect_score=10", RuleAction::block(429, ""))?)
///     .rule(Rule::when_event(
///         "visitor on the allow list",
///         |e| e.linked_id.as_deref() == Some("trusted"),
///         RuleAction::allow().with_header("x-trusted", "1"),
///     ));
/// # let _ = ruleset;
/// # Ok::<(), fingerprint_server_sdk::mock::RuleError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Ruleset {
    id: String,
    rules: Vec<Rule>,
    otherwise: RuleAction,
}

impl Ruleset {
    /// An empty ruleset with this id (the `ruleset_id` clients pass).
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            rules: Vec::new(),
            otherwise: RuleAction::allow(),
        }
    }

    /// Appends a rule.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The action when no rule matches.
    pub fn otherwise(mut self, action: RuleAction) -> Self {
        self.otherwise = action;
        self
    }

    /// The ruleset's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Reads a ruleset from JSON:
    /// `{"id": "rs_1", "rules": [{"id"?: "r_1", "when": "bot=bad", "action": {...}}], "otherwise"?: {...}}`,
    /// where `when` is as in [`Rule::when`] and each action as in
    /// [`RuleAction::from_json`].
    pub fn from_json(value: &Value) -> Result<Self, RuleError> {
        let id = value
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| RuleError("a ruleset needs a non-empty \"id\"".into()))?;
        let mut ruleset = Ruleset::new(id);
        let rules = match value.get("rules") {
            None => &[][..],
            Some(Value::Array(rules)) => rules.as_slice(),
            Some(_) => return Err(RuleError("\"rules\" must be an array".into())),
        };
        for (n, rule) in rules.iter().enumerate() {
            let at = |e: RuleError| RuleError(format!("rule {}: {}", n + 1, e.0));
            let when = rule
                .get("when")
                .and_then(Value::as_str)
                .ok_or_else(|| at(RuleError("needs \"when\": a filter query".into())))?;
            let action = rule
                .get("action")
                .cloned()
                .ok_or_else(|| at(RuleError("needs an \"action\"".into())))?;
            let mut made =
                Rule::when(when, RuleAction::from_json(action).map_err(at)?).map_err(at)?;
            if let Some(rule_id) = rule.get("id").and_then(Value::as_str) {
                made = made.with_id(rule_id);
            }
            ruleset = ruleset.rule(made);
        }
        if let Some(otherwise) = value.get("otherwise") {
            ruleset = ruleset.otherwise(RuleAction::from_json(otherwise.clone())?);
        }
        Ok(ruleset)
    }

    /// The `rule_action` of `event` under this ruleset.
    pub(crate) fn evaluate(&self, event: &Value) -> Value {
        for (n, rule) in self.rules.iter().enumerate() {
            if rule.matches(event) {
                let id = rule.id.clone().unwrap_or_else(|| format!("r_{}", n + 1));
                return rule
                    .action
                    .to_json(&self.id, Some(&id), Some(&rule.expression));
            }
        }
        self.otherwise.to_json(&self.id, None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(extra: Value) -> Value {
        let mut event = json!({"event_id": "e1", "timestamp": 1});
        if let (Value::Object(base), Value::Object(extra)) = (&mut event, extra) {
            base.extend(extra);
        }
        event
    }

    #[test]
    fn the_first_matching_rule_wins_and_names_itself() -> Result<(), RuleError> {
        let ruleset = Ruleset::new("rs_1")
            .rule(Rule::when("bot=bad", RuleAction::block(403, "bots"))?)
            .rule(Rule::when("vpn=true", RuleAction::block(429, ""))?.with_id("r_vpn"));
        let both = event(json!({"bot": "bad", "vpn": true}));
        assert_eq!(
            ruleset.evaluate(&both),
            json!({"type": "block", "status_code": 403, "body": "bots",
                   "ruleset_id": "rs_1", "rule_id": "r_1", "rule_expression": "bot=bad"})
        );
        let vpn = event(json!({"bot": "not_detected", "vpn": true}));
        assert_eq!(ruleset.evaluate(&vpn)["rule_id"], "r_vpn");
        Ok(())
    }

    #[test]
    fn no_matching_rule_gives_the_default_action_without_a_rule() -> Result<(), RuleError> {
        let ruleset =
            Ruleset::new("rs_1").rule(Rule::when("vpn=true", RuleAction::block(403, ""))?);
        assert_eq!(
            ruleset.evaluate(&event(json!({"vpn": false}))),
            json!({"type": "allow", "ruleset_id": "rs_1"})
        );
        let strict = ruleset.otherwise(RuleAction::block(451, "no"));
        assert_eq!(strict.evaluate(&event(json!({})))["status_code"], 451);
        Ok(())
    }

    #[test]
    fn predicates_see_the_typed_event() {
        let ruleset = Ruleset::new("rs_p").rule(Rule::when_event(
            "linked to vip",
            |e| e.linked_id.as_deref() == Some("vip"),
            RuleAction::allow().with_header("x-vip", "1"),
        ));
        assert_eq!(
            ruleset.evaluate(&event(json!({"linked_id": "vip"}))),
            json!({"type": "allow", "ruleset_id": "rs_p", "rule_id": "r_1",
                   "rule_expression": "linked to vip",
                   "request_header_modifications": {"set": [{"name": "x-vip", "value": "1"}]}})
        );
        assert_eq!(
            ruleset.evaluate(&event(json!({"linked_id": "other"})))["rule_id"],
            Value::Null
        );
    }

    #[test]
    fn block_headers_go_on_the_answer() {
        let action = RuleAction::block(403, "{}").with_header("content-type", "application/json");
        assert_eq!(
            action.to_json("rs", None, None)["headers"],
            json!([{"name": "content-type", "value": "application/json"}])
        );
    }

    #[test]
    fn conditions_are_search_filters_checked_up_front() {
        for bad in [
            "",
            "limit=5",
            "vpn=maybe",
            "no_such_filter=1",
            "bot=sometimes",
        ] {
            assert!(Rule::when(bad, RuleAction::allow()).is_err(), "{bad:?}");
        }
        assert!(Rule::when("ip_address=10.0.0.0/8&asn=64500", RuleAction::allow()).is_ok());
    }

    #[test]
    fn a_ruleset_reads_from_json() -> Result<(), RuleError> {
        let ruleset = Ruleset::from_json(&json!({
            "id": "rs_json",
            "rules": [
                {"when": "tor_node=true", "action": {"type": "block", "status_code": 403}},
                {"id": "r_named", "when": "incognito=true", "action": {"type": "allow",
                  "request_header_modifications": {"remove": ["cookie"]}}}
            ],
            "otherwise": {"type": "block", "status_code": 401, "body": "who?"}
        }))?;
        assert_eq!(ruleset.id(), "rs_json");
        let tor = event(json!({"ip_blocklist": {"tor_node": true}}));
        assert_eq!(ruleset.evaluate(&tor)["rule_id"], "r_1");
        let incognito = event(json!({"incognito": true}));
        assert_eq!(
            ruleset.evaluate(&incognito)["request_header_modifications"],
            json!({"remove": ["cookie"]})
        );
        assert_eq!(ruleset.evaluate(&event(json!({})))["status_code"], 401);
        Ok(())
    }

    #[test]
    fn bad_json_rulesets_say_what_is_wrong() {
        for (bad, needle) in [
            (json!({"rules": []}), "id"),
            (json!({"id": "rs", "rules": {}}), "array"),
            (
                json!({"id": "rs", "rules": [{"action": {"type": "allow"}}]}),
                "rule 1",
            ),
            (
                json!({"id": "rs", "rules": [{"when": "vpn=true", "action": {"type": "maybe"}}]}),
                "type",
            ),
            (
                json!({"id": "rs", "rules": [{"when": "vpn=true", "action": {"type": "block", "status_code": "x"}}]}),
                "not a rule action",
            ),
            (
                json!({"id": "rs", "otherwise": {"type": "allow", "rule_id": "x"}}),
                "rule_id",
            ),
            (
                json!({"id": "rs", "rules": [{"when": "vpn=yes", "action": {"type": "allow"}}]}),
                "vpn",
            ),
        ] {
            let err = Ruleset::from_json(&bad).expect_err("refused").to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
