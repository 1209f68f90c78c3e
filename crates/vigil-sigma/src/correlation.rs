//! Sigma correlation rules (Sigma correlation rules specification): a YAML
//! document with a `correlation:` section into a [`CorrelationRule`], and a
//! [`CorrelationEngine`] that watches the matches of base rules and reports
//! when a correlation holds.
//!
//! No I/O and no clock: every match carries its own time (microseconds),
//! and windows are measured in event time.
//!
//! Window semantics (the specification says only that events must occur
//! "in the given time frame"/"within" the timespan):
//!
//! - A window is half-open, `[first, first + timespan)`: an event exactly
//!   `timespan` after the window's first event is outside it. `timespan: 5m`
//!   thus covers five minutes' worth of time, as a `5m` bucket would.
//! - Windows slide: every event of a group may start one.
//! - Conditions that can only become true as events arrive (`gt`/`gte` on
//!   event_count, value_count, temporal and temporal_ordered, and the
//!   default "all rules" of the temporal types) fire as soon as they hold.
//!   Every other condition (`lt`, `lte`, `eq`, `neq`, and every condition of
//!   value_sum, value_avg and value_percentile) is judged when the window is
//!   final, see [`CorrelationEngine`].
//! - After a group fires for the window starting at `first`, that group is
//!   suppressed until `first + timespan`: no window starting earlier fires
//!   again (no alert storm). Counting starts afresh with the group's first
//!   event at or after that time.
//! - A hit reports the whole window that fired: its first and last match
//!   and every match in it (for temporal_ordered, the window, not only the
//!   ordered chain found in it).
//! - `generate` is parsed and kept; emitting the referenced rules' own
//!   matches is up to the caller (the engine only sees their matches).
//! - A match whose event has [`REPEAT_COUNT_FIELD`] = N (syslog's `message
//!   repeated N times`) counts N times in event_count and once elsewhere.
//! - Cost: a match is checked against every window that contains it
//!   (one per distinct match time in the last timespan of its group), and
//!   end-of-window conditions go over the rule's groups whenever a window
//!   ends; the caps of [`CorrelationLimits`] bound both.

mod engine;
#[cfg(test)]
mod tests;

pub use engine::{
    BaseHit, CorrelationEngine, CorrelationHit, CorrelationLimits, CorrelationStats, MAX_EVENT_IDS,
    REPEAT_COUNT_FIELD, SNAPSHOT_VERSION,
};

use crate::rule::Level;
use std::collections::BTreeMap;
use std::fmt;
use yaml_serde::{Mapping, Value};

/// The kinds of correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CorrelationType {
    /// Number of events in the window.
    EventCount,
    /// Number of distinct values of the condition's `field`.
    ValueCount,
    /// All (or `condition` many) referenced rules matched, in any order.
    Temporal,
    /// All (or `condition` many) referenced rules matched, in their order.
    TemporalOrdered,
    /// Sum of the numeric values of `field`.
    ValueSum,
    /// Mean of the numeric values of `field`.
    ValueAvg,
    /// The condition's `percentile` of the numeric values of `field`.
    ValuePercentile,
}

impl CorrelationType {
    pub fn parse(text: &str) -> Option<CorrelationType> {
        Some(match text {
            "event_count" => CorrelationType::EventCount,
            "value_count" => CorrelationType::ValueCount,
            "temporal" => CorrelationType::Temporal,
            "temporal_ordered" => CorrelationType::TemporalOrdered,
            "value_sum" => CorrelationType::ValueSum,
            "value_avg" => CorrelationType::ValueAvg,
            "value_percentile" => CorrelationType::ValuePercentile,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::ValuePercentile => "value_percentile",
        }
    }

    /// Whether the condition names a `field` whose values are aggregated.
    pub fn needs_field(self) -> bool {
        matches!(
            self,
            CorrelationType::ValueCount
                | CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
        )
    }

    /// Whether the values of `field` are read as numbers.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
        )
    }

    pub fn is_temporal(self) -> bool {
        matches!(
            self,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        )
    }
}

impl fmt::Display for CorrelationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison of the condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl CmpOp {
    pub fn parse(key: &str) -> Option<CmpOp> {
        Some(match key {
            "gt" => CmpOp::Gt,
            "gte" => CmpOp::Gte,
            "lt" => CmpOp::Lt,
            "lte" => CmpOp::Lte,
            "eq" => CmpOp::Eq,
            "neq" => CmpOp::Neq,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Gt => "gt",
            CmpOp::Gte => "gte",
            CmpOp::Lt => "lt",
            CmpOp::Lte => "lte",
            CmpOp::Eq => "eq",
            CmpOp::Neq => "neq",
        }
    }

    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            CmpOp::Gt => value > bound,
            CmpOp::Gte => value >= bound,
            CmpOp::Lt => value < bound,
            CmpOp::Lte => value <= bound,
            CmpOp::Eq => value == bound,
            CmpOp::Neq => value != bound,
        }
    }
}

/// The `condition:` of a correlation: every comparison must hold (a range
/// is `gt` and `lte` together).
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationCondition {
    /// In the order written.
    pub comparisons: Vec<(CmpOp, f64)>,
    /// The field aggregated by value_count, value_sum, value_avg and
    /// value_percentile (may be an alias).
    pub field: Option<String>,
    /// value_percentile: which percentile, 0 to 100.
    pub percentile: Option<f64>,
}

impl CorrelationCondition {
    pub fn holds(&self, value: f64) -> bool {
        self.comparisons
            .iter()
            .all(|(op, bound)| op.holds(value, *bound))
    }

    /// Whether every comparison, once true, stays true as the window gains
    /// events (for metrics that only grow).
    fn only_lower_bounds(&self) -> bool {
        self.comparisons
            .iter()
            .all(|(op, _)| matches!(op, CmpOp::Gt | CmpOp::Gte))
    }
}

/// A correlation rule as written.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationRule {
    pub title: String,
    pub id: Option<String>,
    /// The name other correlations refer to this one by.
    pub name: Option<String>,
    pub level: Option<Level>,
    pub tags: Vec<String>,
    pub kind: CorrelationType,
    /// Names or ids of the referenced rules (base rules or correlations).
    pub rules: Vec<String>,
    /// Fields (or aliases) whose values split events into groups; empty:
    /// one group.
    pub group_by: Vec<String>,
    /// The timespan in microseconds.
    pub timespan: i64,
    /// Required except for temporal and temporal_ordered, where it counts
    /// distinct referenced rules and defaults to "all of them".
    pub condition: Option<CorrelationCondition>,
    /// Alias → referenced rule (name or id, as in `rules`) → that rule's
    /// field.
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    /// Whether the referenced rules' own matches are reported as well.
    pub generate: bool,
}

impl CorrelationRule {
    /// The name for messages and snapshots: id, else name, else title.
    pub fn key(&self) -> &str {
        self.id
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(&self.title)
    }

    /// Whether the rule fires as soon as its condition holds (the metric
    /// only grows and the condition only bounds it from below) rather than
    /// when a window is final.
    pub fn fires_eagerly(&self) -> bool {
        match self.kind {
            CorrelationType::EventCount | CorrelationType::ValueCount => self
                .condition
                .as_ref()
                .is_some_and(CorrelationCondition::only_lower_bounds),
            CorrelationType::Temporal | CorrelationType::TemporalOrdered => self
                .condition
                .as_ref()
                .is_none_or(CorrelationCondition::only_lower_bounds),
            _ => false,
        }
    }

    /// Which entry of `rules` a match of a rule with this name or id is.
    pub fn reference_index(&self, name: Option<&str>, id: Option<&str>) -> Option<usize> {
        self.rules
            .iter()
            .position(|r| Some(r.as_str()) == name || Some(r.as_str()) == id)
    }

    /// The event field that stands for `field` (a group-by field or the
    /// condition's field) in matches of the referenced rule `reference`.
    pub fn resolve_field<'a>(&'a self, field: &'a str, reference: &str) -> &'a str {
        self.aliases
            .get(field)
            .and_then(|per_rule| per_rule.get(reference))
            .map_or(field, String::as_str)
    }
}

/// Why a correlation document cannot be used, or a snapshot restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorrelationError {
    #[error("missing key `{0}`")]
    Missing(String),
    #[error("invalid `{key}`: {reason}")]
    Invalid { key: String, reason: String },
    #[error("invalid snapshot: {0}")]
    Snapshot(String),
}

fn missing(key: &str) -> CorrelationError {
    CorrelationError::Missing(key.to_string())
}

fn invalid(key: &str, reason: impl Into<String>) -> CorrelationError {
    CorrelationError::Invalid {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Whether a YAML document is a correlation rule.
pub fn is_correlation(doc: &Mapping) -> bool {
    doc.contains_key("correlation")
}

/// Reads a correlation rule from its YAML document.
pub fn parse_correlation(doc: &Mapping) -> Result<CorrelationRule, CorrelationError> {
    let title = match doc.get("title") {
        None | Some(Value::Null) => return Err(missing("title")),
        Some(v) => scalar_text(v).ok_or_else(|| invalid("title", "must be a string"))?,
    };
    let id = optional_text(doc, "id")?;
    let name = optional_text(doc, "name")?;
    let level = match optional_text(doc, "level")? {
        None => None,
        Some(text) => Some(Level::parse(&text).ok_or_else(|| {
            invalid(
                "level",
                format!("unknown level {text:?} (informational, low, medium, high, critical)"),
            )
        })?),
    };
    let tags = text_list(doc, "tags", "tags")?;
    let generate = match doc.get("generate") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("generate", "must be true or false")),
    };

    let section = match doc.get("correlation") {
        None | Some(Value::Null) => return Err(missing("correlation")),
        Some(Value::Mapping(m)) => m,
        Some(_) => return Err(invalid("correlation", "must be a mapping")),
    };
    for (key, _) in section {
        let key = key.as_str().unwrap_or("?");
        if !matches!(
            key,
            "type" | "rules" | "group-by" | "timespan" | "condition" | "aliases" | "generate"
        ) {
            return Err(invalid(
                &format!("correlation.{key}"),
                "unknown key (type, rules, group-by, timespan, condition, aliases, generate)",
            ));
        }
    }
    // `generate` sits at the top level in the specification; accept it in
    // the section too.
    let generate = match section.get("generate") {
        None | Some(Value::Null) => generate,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("correlation.generate", "must be true or false")),
    };

    let kind = match section.get("type") {
        None | Some(Value::Null) => return Err(missing("correlation.type")),
        Some(v) => {
            let text = v
                .as_str()
                .ok_or_else(|| invalid("correlation.type", "must be a string"))?;
            CorrelationType::parse(text).ok_or_else(|| {
                invalid(
                    "correlation.type",
                    format!(
                        "unknown type {text:?} (event_count, value_count, temporal, \
                         temporal_ordered, value_sum, value_avg, value_percentile)"
                    ),
                )
            })?
        }
    };

    if !section.contains_key("rules") {
        return Err(missing("correlation.rules"));
    }
    let rules = text_list(section, "rules", "correlation.rules")?;
    if rules.is_empty() {
        return Err(invalid("correlation.rules", "must name at least one rule"));
    }

    let group_by = text_list(section, "group-by", "correlation.group-by")?;

    let timespan = match section.get("timespan") {
        None | Some(Value::Null) => return Err(missing("correlation.timespan")),
        Some(v) => {
            let text = v
                .as_str()
                .ok_or_else(|| invalid("correlation.timespan", "must be a string like 5m"))?;
            parse_timespan(text).map_err(|reason| invalid("correlation.timespan", reason))?
        }
    };

    let aliases = parse_aliases(section, &rules)?;

    let condition = match section.get("condition") {
        None | Some(Value::Null) => {
            if !kind.is_temporal() {
                return Err(missing("correlation.condition"));
            }
            None
        }
        Some(Value::Mapping(m)) => Some(parse_condition(m, kind)?),
        Some(_) => return Err(invalid("correlation.condition", "must be a mapping")),
    };

    Ok(CorrelationRule {
        title,
        id,
        name,
        level,
        tags,
        kind,
        rules,
        group_by,
        timespan,
        condition,
        aliases,
        generate,
    })
}

/// `30s`, `5m`, `1h`, `1d` into microseconds: a positive whole number and
/// one lowercase unit.
pub fn parse_timespan(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit (s, m, h or d)"))?;
    let (digits, unit) = text.split_at(unit_at);
    let seconds: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?}: expected a number and a unit s, m, h or d (like 5m)"
            ))
        }
    };
    let number: i64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: expected a number before the unit (like 5m)"))?;
    if number <= 0 {
        return Err(format!("{text:?}: must be longer than zero"));
    }
    number
        .checked_mul(seconds)
        .and_then(|s| s.checked_mul(1_000_000))
        .ok_or_else(|| format!("{text:?} is too long"))
}

fn parse_condition(
    map: &Mapping,
    kind: CorrelationType,
) -> Result<CorrelationCondition, CorrelationError> {
    let mut condition = CorrelationCondition {
        comparisons: Vec::new(),
        field: None,
        percentile: None,
    };
    for (key, value) in map {
        let key = key.as_str().unwrap_or("?");
        let path = format!("correlation.condition.{key}");
        if let Some(op) = CmpOp::parse(key) {
            let bound = number(value).ok_or_else(|| invalid(&path, "must be a number"))?;
            condition.comparisons.push((op, bound));
        } else if key == "field" {
            if !kind.needs_field() {
                return Err(invalid(&path, format!("not used by {kind}")));
            }
            let field = value
                .as_str()
                .filter(|f| !f.is_empty())
                .ok_or_else(|| invalid(&path, "must be a field name"))?;
            condition.field = Some(field.to_string());
        } else if key == "percentile" {
            if kind != CorrelationType::ValuePercentile {
                return Err(invalid(&path, format!("not used by {kind}")));
            }
            let p = number(value)
                .filter(|p| (0.0..=100.0).contains(p))
                .ok_or_else(|| invalid(&path, "must be a number from 0 to 100"))?;
            condition.percentile = Some(p);
        } else {
            return Err(invalid(
                &path,
                "unknown key (gt, gte, lt, lte, eq, neq, field, percentile)",
            ));
        }
    }
    if condition.comparisons.is_empty() {
        return Err(invalid(
            "correlation.condition",
            "needs a comparison (gt, gte, lt, lte, eq or neq)",
        ));
    }
    if kind.needs_field() && condition.field.is_none() {
        return Err(missing("correlation.condition.field"));
    }
    if kind == CorrelationType::ValuePercentile && condition.percentile.is_none() {
        return Err(missing("correlation.condition.percentile"));
    }
    Ok(condition)
}

fn parse_aliases(
    section: &Mapping,
    rules: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, CorrelationError> {
    let mut aliases = BTreeMap::new();
    let map = match section.get("aliases") {
        None | Some(Value::Null) => return Ok(aliases),
        Some(Value::Mapping(m)) => m,
        Some(_) => return Err(invalid("correlation.aliases", "must be a mapping")),
    };
    for (alias, per_rule) in map {
        let alias = alias
            .as_str()
            .ok_or_else(|| invalid("correlation.aliases", "alias names must be strings"))?;
        let path = format!("correlation.aliases.{alias}");
        let Value::Mapping(per_rule) = per_rule else {
            return Err(invalid(&path, "must map rule names to field names"));
        };
        let mut fields = BTreeMap::new();
        for (rule, field) in per_rule {
            let rule =
                scalar_text(rule).ok_or_else(|| invalid(&path, "rule names must be strings"))?;
            if !rules.contains(&rule) {
                return Err(invalid(
                    &path,
                    format!("{rule:?} is not one of the correlation's rules"),
                ));
            }
            let field = field
                .as_str()
                .filter(|f| !f.is_empty())
                .ok_or_else(|| invalid(&format!("{path}.{rule}"), "must be a field name"))?;
            fields.insert(rule, field.to_string());
        }
        aliases.insert(alias.to_string(), fields);
    }
    Ok(aliases)
}

fn number(value: &Value) -> Option<f64> {
    value.as_f64().filter(|n| n.is_finite())
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn optional_text(map: &Mapping, key: &str) -> Result<Option<String>, CorrelationError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => scalar_text(v)
            .map(Some)
            .ok_or_else(|| invalid(key, "must be a string")),
    }
}

/// A string or a list of strings (absent: empty).
fn text_list(map: &Mapping, key: &str, path: &str) -> Result<Vec<String>, CorrelationError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| scalar_text(item).ok_or_else(|| invalid(path, "must be a list of strings")))
            .collect(),
        Some(v) => scalar_text(v)
            .map(|s| vec![s])
            .ok_or_else(|| invalid(path, "must be a string or a list of strings")),
    }
}
