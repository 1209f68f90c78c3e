//! The rule format: what a NOC rule says, as it is written in TOML or JSON,
//! and its validation.
//!
//! A rule is common fields (id, severity, title template, unit) and one
//! `condition` of six kinds, tagged by `kind`:
//!
//! ```toml
//! [[rule]]
//! id = "link-saturated"
//! severity = "high"
//! title = "{asset}: link {ifName} saturated ({value}%)"
//! unit = "%"
//! [rule.condition]
//! kind = "threshold"
//! metric = "vigil_if_utilization_percent"
//! op = ">"
//! value = 90
//! resolve_value = 80
//! for = "5m"
//! ```
//!
//! Unknown keys are refused (a typo must not silently turn a rule off), and
//! [`RuleSpec::validate`] checks what serde cannot: hysteresis on the right
//! side of the threshold, positive windows, label matchers that parse.

use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// How bad it is; the same names as the alerts API's severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// Which queue the alert goes to. NOC rules default to the NOC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Team {
    #[default]
    Noc,
    Soc,
}

/// A comparison of a measured value with a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Op::Gt => value > bound,
            Op::Ge => value >= bound,
            Op::Lt => value < bound,
            Op::Le => value <= bound,
            Op::Eq => value == bound,
            Op::Ne => value != bound,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    /// The symbol of the opposite comparison, for "cleared: 72% < 80%".
    pub fn negated_symbol(self) -> &'static str {
        match self {
            Op::Gt => "<=",
            Op::Ge => "<",
            Op::Lt => ">=",
            Op::Le => ">",
            Op::Eq => "!=",
            Op::Ne => "==",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// One NOC alert rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique among the rules; part of every alert key.
    pub id: String,
    pub severity: Severity,
    /// Template: `{asset}`, `{value}`, `{unit}`; for series `{metric}` and
    /// every label (`{mountpoint}`); for checks `{check}`, `{kind}`,
    /// `{reason}`; `{hours}` (predict_full), `{expected}` (baseline),
    /// `{silent}` (no_data). A name without a value stays as written.
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub team: Team,
    /// Shown after values in titles and reasons (`%`, `ms`, ` days`).
    #[serde(default)]
    pub unit: String,
    pub condition: Condition,
}

/// What makes a rule's alert hold, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    Threshold(Threshold),
    ConsecutiveFailures(ConsecutiveFailures),
    RateOfChange(RateOfChange),
    PredictFull(PredictFull),
    NoData(NoData),
    Baseline(Baseline),
}

/// Label matchers by label name. A value is `a` (equal), `a|b` (one of),
/// `!a` or `!a|b` (none of; an absent label matches), or `*` (present).
pub type Labels = BTreeMap<String, String>;

/// `metric op value` held for `for`; once firing it holds until the value
/// is past `resolve_value` (hysteresis: `> 90`, resolve `80` clears at
/// `< 80`; at exactly 80 it still holds). Without `resolve_value` the alert
/// clears once the value is past `value` itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub metric: String,
    #[serde(default)]
    pub labels: Labels,
    pub op: Op,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_value: Option<f64>,
    #[serde(default, rename = "for")]
    pub for_: Span,
    /// Only while another series of the same asset and labels meets this
    /// (interface down only when administratively up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Guard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
}

/// A condition on a sibling series: same asset, same labels, other metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    pub metric: String,
    pub op: Op,
    pub value: f64,
}

/// What to make of a sample's value before comparing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// The value is a Unix time in seconds (a certificate's `notAfter`);
    /// compare the days left from the sample's time.
    DaysUntil,
}

/// `n` failed results of a check in a row. Holds until the check is up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsecutiveFailures {
    pub n: u32,
    /// The check kinds this applies to (`icmp`, `tcp`, `http`...); empty
    /// for all.
    #[serde(default)]
    pub check_kinds: Vec<String>,
}

/// The change between consecutive samples, scaled to `per`, compared with
/// `value`. `hold` keeps the alert for that long after the last breach
/// (a reboot is a moment, the alert should be seen).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateOfChange {
    pub metric: String,
    #[serde(default)]
    pub labels: Labels,
    pub per: Span,
    pub op: Op,
    pub value: f64,
    #[serde(default)]
    pub hold: Span,
}

/// What a predicted metric measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// Used fraction, full at 1.0.
    UsedRatio,
    /// Used amount, full at the latest value of `size_metric`.
    Used,
    /// Free amount, full at 0 (node_exporter's `avail_bytes`).
    Free,
}

/// Full within `within_hours`, by a least-squares line through the samples
/// of the last `window`, once they span `min_history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictFull {
    pub metric: String,
    #[serde(default)]
    pub labels: Labels,
    pub fill: Fill,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_metric: Option<String>,
    pub within_hours: f64,
    pub min_history: Span,
    #[serde(default = "default_predict_window")]
    pub window: Span,
}

fn default_predict_window() -> Span {
    Span::from_hours(6)
}

/// A series seen before that has had no sample for `after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoData {
    pub metric: String,
    #[serde(default)]
    pub labels: Labels,
    pub after: Span,
}

/// How far from the baseline is an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Deviation {
    /// Standard deviations from the mean.
    Sigma(f64),
    /// Fraction of the mean (`0.5`: 50 % above or below).
    Ratio(f64),
}

/// Which side of the baseline counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Both,
    Above,
    Below,
}

/// Mean and deviation per hour of the week, exponentially weighted; alerts
/// only for hours of the week seen in `min_weeks` earlier weeks (the
/// learning period).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub metric: String,
    #[serde(default)]
    pub labels: Labels,
    pub deviation: Deviation,
    #[serde(default = "default_min_weeks")]
    pub min_weeks: u32,
    #[serde(default)]
    pub direction: Direction,
    /// Weight of a new sample in the slot's mean and variance.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Hours of the week are local to this offset (`+02:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<String>,
    #[serde(default, rename = "for")]
    pub for_: Span,
}

fn default_min_weeks() -> u32 {
    2
}
fn default_alpha() -> f64 {
    0.3
}

/// A rule that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("rule {rule:?}: {problem}")]
    Invalid { rule: String, problem: String },
    #[error("rule id {0:?} is used by two rules")]
    DuplicateId(String),
    #[error("rule file: {0}")]
    Parse(String),
}

impl RuleSpec {
    /// Checks what the types cannot say.
    pub fn validate(&self) -> Result<(), SpecError> {
        self.check().map_err(|problem| SpecError::Invalid {
            rule: self.id.clone(),
            problem,
        })
    }

    fn check(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if !id_ok {
            return Err("id must be non-empty letters, digits, - _ . :".into());
        }
        if self.title.trim().is_empty() {
            return Err("title is empty".into());
        }
        match &self.condition {
            Condition::Threshold(t) => check_threshold(t),
            Condition::ConsecutiveFailures(c) => match c.n {
                0 => Err("n must be at least 1".into()),
                _ => Ok(()),
            },
            Condition::RateOfChange(r) => {
                check_series(&r.metric, &r.labels)?;
                finite("value", r.value)?;
                positive_span("per", r.per)
            }
            Condition::PredictFull(p) => check_predict(p),
            Condition::NoData(n) => {
                check_series(&n.metric, &n.labels)?;
                positive_span("after", n.after)
            }
            Condition::Baseline(b) => check_baseline(b),
        }
    }

    /// The metric names this rule reads (its own and guard/size metrics).
    pub fn metrics(&self) -> Vec<&str> {
        match &self.condition {
            Condition::Threshold(t) => {
                let mut names = vec![t.metric.as_str()];
                names.extend(t.when.as_ref().map(|g| g.metric.as_str()));
                names
            }
            Condition::ConsecutiveFailures(_) => Vec::new(),
            Condition::RateOfChange(r) => vec![r.metric.as_str()],
            Condition::PredictFull(p) => {
                let mut names = vec![p.metric.as_str()];
                names.extend(p.size_metric.as_deref());
                names
            }
            Condition::NoData(n) => vec![n.metric.as_str()],
            Condition::Baseline(b) => vec![b.metric.as_str()],
        }
    }
}

fn check_threshold(t: &Threshold) -> Result<(), String> {
    check_series(&t.metric, &t.labels)?;
    finite("value", t.value)?;
    if let Some(guard) = &t.when {
        check_metric_name(&guard.metric)?;
        finite("when.value", guard.value)?;
    }
    let Some(resolve) = t.resolve_value else {
        return Ok(());
    };
    finite("resolve_value", resolve)?;
    let wrong_side = match t.op {
        Op::Gt | Op::Ge => resolve > t.value,
        Op::Lt | Op::Le => resolve < t.value,
        Op::Eq | Op::Ne => resolve != t.value,
    };
    if wrong_side {
        let side = match t.op {
            Op::Gt | Op::Ge => "at or below",
            Op::Lt | Op::Le => "at or above",
            Op::Eq | Op::Ne => "equal to",
        };
        return Err(format!(
            "resolve_value {resolve} must be {side} value {} for op {}",
            t.value, t.op
        ));
    }
    Ok(())
}

fn check_predict(p: &PredictFull) -> Result<(), String> {
    check_series(&p.metric, &p.labels)?;
    if !(p.within_hours.is_finite() && p.within_hours > 0.0) {
        return Err(format!(
            "within_hours must be positive, not {}",
            p.within_hours
        ));
    }
    positive_span("min_history", p.min_history)?;
    positive_span("window", p.window)?;
    if p.min_history > p.window {
        return Err(format!(
            "min_history {} is longer than the window {}",
            p.min_history, p.window
        ));
    }
    match (p.fill, &p.size_metric) {
        (Fill::Used, None) => Err("fill = \"used\" needs size_metric".into()),
        (Fill::Used, Some(size)) => check_metric_name(size),
        (_, Some(_)) => Err("size_metric is only for fill = \"used\"".into()),
        (_, None) => Ok(()),
    }
}

fn check_baseline(b: &Baseline) -> Result<(), String> {
    check_series(&b.metric, &b.labels)?;
    let bound = match b.deviation {
        Deviation::Sigma(s) | Deviation::Ratio(s) => s,
    };
    if !(bound.is_finite() && bound > 0.0) {
        return Err(format!("deviation must be positive, not {bound}"));
    }
    if b.min_weeks == 0 {
        return Err("min_weeks must be at least 1".into());
    }
    if !(b.alpha > 0.0 && b.alpha <= 1.0) {
        return Err(format!("alpha must be in (0, 1], not {}", b.alpha));
    }
    if let Some(offset) = &b.utc_offset {
        crate::maintenance::parse_offset(offset)?;
    }
    Ok(())
}

fn check_series(metric: &str, labels: &Labels) -> Result<(), String> {
    check_metric_name(metric)?;
    for (name, matcher) in labels {
        LabelMatch::parse(name, matcher)?;
    }
    Ok(())
}

fn check_metric_name(metric: &str) -> Result<(), String> {
    let ok = metric
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_alphabetic() || "_:".contains(c) || (i > 0 && c.is_ascii_digit()));
    if metric.is_empty() || !ok {
        return Err(format!("metric name {metric:?} is not a valid name"));
    }
    Ok(())
}

fn finite(what: &str, v: f64) -> Result<(), String> {
    match v.is_finite() {
        true => Ok(()),
        false => Err(format!("{what} must be a finite number")),
    }
}

fn positive_span(what: &str, span: Span) -> Result<(), String> {
    match span.as_ms() > 0 {
        true => Ok(()),
        false => Err(format!("{what} must be longer than 0s")),
    }
}

/// A compiled label matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMatch {
    pub name: String,
    pub test: LabelTest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelTest {
    OneOf(Vec<String>),
    NoneOf(Vec<String>),
    Present,
}

impl LabelMatch {
    pub fn parse(name: &str, text: &str) -> Result<LabelMatch, String> {
        if name.is_empty() {
            return Err("a label matcher has an empty label name".into());
        }
        let test = if text == "*" {
            LabelTest::Present
        } else if let Some(rest) = text.strip_prefix('!') {
            LabelTest::NoneOf(alternatives(name, rest)?)
        } else {
            LabelTest::OneOf(alternatives(name, text)?)
        };
        Ok(LabelMatch {
            name: name.to_string(),
            test,
        })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.name);
        match &self.test {
            LabelTest::Present => value.is_some(),
            LabelTest::OneOf(set) => value.is_some_and(|v| set.contains(v)),
            LabelTest::NoneOf(set) => value.is_none_or(|v| !set.contains(v)),
        }
    }
}

fn alternatives(name: &str, text: &str) -> Result<Vec<String>, String> {
    let parts: Vec<String> = text.split('|').map(str::to_string).collect();
    if parts.iter().any(String::is_empty) {
        return Err(format!(
            "label {name}: matcher {text:?} has an empty alternative"
        ));
    }
    Ok(parts)
}

/// Reads rules from JSON: a list of rules, or `{"rule": [...]}` (the shape
/// of a TOML file's `[[rule]]` tables). Errors name the rule by its place
/// and id; every rule is validated and ids must be unique.
pub fn rules_from_json(text: &str) -> Result<Vec<RuleSpec>, SpecError> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| SpecError::Parse(e.to_string()))?;
    let list = match doc {
        serde_json::Value::Array(list) => list,
        serde_json::Value::Object(mut map) => match map.remove("rule") {
            Some(serde_json::Value::Array(list)) => list,
            _ => {
                return Err(SpecError::Parse(
                    "expected a list of rules or {\"rule\": [...]}".into(),
                ))
            }
        },
        _ => {
            return Err(SpecError::Parse(
                "expected a list of rules or {\"rule\": [...]}".into(),
            ))
        }
    };
    let rules = list
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let id = value
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            serde_json::from_value(value)
                .map_err(|e| SpecError::Parse(format!("rule {} {id:?}: {e}", i + 1)))
        })
        .collect::<Result<Vec<RuleSpec>, SpecError>>()?;
    validate_all(&rules)?;
    Ok(rules)
}

/// Validates every rule and that ids are unique.
pub fn validate_all(rules: &[RuleSpec]) -> Result<(), SpecError> {
    let mut seen = std::collections::BTreeSet::new();
    for rule in rules {
        rule.validate()?;
        if !seen.insert(rule.id.as_str()) {
            return Err(SpecError::DuplicateId(rule.id.clone()));
        }
    }
    Ok(())
}

/// Fills `{name}` placeholders from `vars`; unknown names stay as written.
pub fn render(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if vars.contains_key(&after[..close]) => {
                out.push_str(&vars[&after[..close]]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A number as people read it in a title: at most two decimals, no
/// trailing zeros.
pub fn show(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" => "0".to_string(),
        t => t.to_string(),
    }
}
