//! The rule format: YAML text into [`Rule`]s, and rules into
//! [`CompiledRule`]s that match events.
//!
//! A file may hold several YAML documents. A document with
//! `action: global` is merged into the documents that follow it until an
//! `action: reset` (Sigma rule collections). Every rule that cannot run is
//! returned as a [`RuleError`] naming its file, the line its document
//! starts on, and the reason; the other rules of the file still load.

use crate::condition::{parse_condition, parse_conditions, Condition};
use crate::limits::{LimitError, Limits};
use crate::value::{compile_field, CompileContext, FieldMatcher};
use crate::EventFields;
use std::fmt;
use yaml_serde::{Mapping, Value};

/// How severe a rule's hits are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "informational" | "info" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The events a rule applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSource {
    pub category: Option<String>,
    pub product: Option<String>,
    pub service: Option<String>,
}

/// Where a rule came from, for messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleOrigin {
    pub file: String,
    /// 1-based line where the rule's YAML document starts.
    pub line: usize,
}

impl fmt::Display for RuleOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A detection rule as written (not yet compiled).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub origin: RuleOrigin,
    pub id: Option<String>,
    /// The name correlation rules refer to this rule by.
    pub name: Option<String>,
    pub title: String,
    pub status: Option<String>,
    pub level: Option<Level>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub fields: Vec<String>,
    pub logsource: LogSource,
    /// The `detection:` mapping, selections and `condition`.
    pub detection: Mapping,
    /// The other attributes of the rule format (`related`, `license`,
    /// `date`, `modified`, `taxonomy`, `scope`, custom ones...), as written.
    pub attributes: Mapping,
}

/// Why a rule cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: rule {name}: {reason}")]
pub struct RuleError {
    pub origin: RuleOrigin,
    /// The rule's title or id when known, else `?`.
    pub name: String,
    pub reason: String,
}

/// Everything one YAML file holds: rules, filters, and the documents that
/// could not be read.
#[derive(Debug, Default)]
pub struct RuleFile {
    pub rules: Vec<Rule>,
    pub filters: Vec<crate::filter::Filter>,
    pub correlations: Vec<crate::correlation::CorrelationRule>,
    pub errors: Vec<RuleError>,
}

/// Reads every rule of one YAML file. Rules that cannot be read are
/// returned as errors; the others are kept. (Filter documents are left out:
/// see [`parse_file`].)
pub fn parse_rules(text: &str, file: &str) -> (Vec<Rule>, Vec<RuleError>) {
    let parsed = parse_file(text, file);
    (parsed.rules, parsed.errors)
}

/// Reads every document of one YAML file: rules and filters.
pub fn parse_file(text: &str, file: &str) -> RuleFile {
    parse_file_with(text, file, None)
}

/// [`parse_file`] of text from outside: with `limits`, text over a bound
/// is refused before the YAML parser sees it, and every document is
/// checked against them once parsed.
pub fn parse_file_with(text: &str, file: &str, limits: Option<&Limits>) -> RuleFile {
    if let Some(Err(e)) = limits.map(|l| l.check_text(text)) {
        let line = match e {
            LimitError::TooDeep { line, .. } => line,
            _ => 1,
        };
        let origin = RuleOrigin {
            file: file.to_string(),
            line,
        };
        return RuleFile {
            errors: vec![error(origin, "?", e.to_string())],
            ..RuleFile::default()
        };
    }
    let starts = document_starts(text);
    let mut rules = Vec::new();
    let mut filters = Vec::new();
    let mut correlations = Vec::new();
    let mut errors = Vec::new();
    let mut global: Option<Mapping> = None;
    for (index, document) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let origin = RuleOrigin {
            file: file.to_string(),
            line: starts.get(index).copied().unwrap_or(1),
        };
        if let Some(limits) = limits.filter(|l| index >= l.max_rules) {
            let e = LimitError::TooManyRules {
                limit: limits.max_rules,
            };
            errors.push(error(origin, "?", e.to_string()));
            break;
        }
        let value: Value = match serde::Deserialize::deserialize(document) {
            Ok(v) => v,
            Err(e) => {
                let line = e.location().map_or(origin.line, |l| l.line());
                errors.push(RuleError {
                    origin: RuleOrigin { line, ..origin },
                    name: "?".into(),
                    reason: format!("invalid YAML: {e}"),
                });
                // A syntax error ends the stream: the rest is unreadable.
                break;
            }
        };
        if let Some(Err(e)) = limits.map(|l| l.check_document(&value)) {
            errors.push(error(origin, "?", e.to_string()));
            continue;
        }
        let Value::Mapping(mut map) = value else {
            if !value.is_null() {
                errors.push(error(origin, "?", "a rule must be a YAML mapping"));
            }
            continue;
        };
        match map.get("action").and_then(Value::as_str) {
            Some("global") => {
                map.remove("action");
                global = Some(map);
                continue;
            }
            Some("reset") => {
                global = None;
                continue;
            }
            Some("repeat") => {
                map.remove("action");
                if let Some(previous) = rules.last().map(rule_mapping) {
                    let mut merged = previous;
                    merge(&mut merged, map);
                    map = merged;
                }
            }
            _ => {}
        }
        if let Some(global) = &global {
            let mut merged = global.clone();
            merge(&mut merged, map);
            map = merged;
        }
        if crate::correlation::is_correlation(&map) {
            match crate::correlation::parse_correlation(&map) {
                Ok(rule) => correlations.push(rule),
                Err(e) => {
                    let name = map
                        .get("title")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_string();
                    errors.push(error(origin, &name, e.to_string()));
                }
            }
            continue;
        }
        if crate::filter::is_filter_document(&map) {
            match crate::filter::parse_filter(&map, origin) {
                Ok(filter) => filters.push(filter),
                Err(e) => errors.push(e),
            }
            continue;
        }
        match rule_from_mapping(map, origin) {
            Ok(rule) => rules.push(rule),
            Err(e) => errors.push(e),
        }
    }
    RuleFile {
        rules,
        filters,
        correlations,
        errors,
    }
}

/// 1-based first line of each YAML document (documents are separated by
/// lines starting with `---`).
fn document_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![1];
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("---") {
            if i == 0 {
                starts[0] = 2;
            } else {
                starts.push(i + 2);
            }
        }
    }
    starts
}

fn error(origin: RuleOrigin, name: &str, reason: impl Into<String>) -> RuleError {
    RuleError {
        origin,
        name: name.to_string(),
        reason: reason.into(),
    }
}

/// Deep merge: maps merge key by key, anything else is replaced.
fn merge(base: &mut Mapping, over: Mapping) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Mapping(b)), Value::Mapping(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn rule_mapping(rule: &Rule) -> Mapping {
    let mut map = Mapping::new();
    map.insert("title".into(), Value::String(rule.title.clone()));
    map.insert("detection".into(), Value::Mapping(rule.detection.clone()));
    let mut logsource = Mapping::new();
    for (key, value) in [
        ("category", &rule.logsource.category),
        ("product", &rule.logsource.product),
        ("service", &rule.logsource.service),
    ] {
        if let Some(v) = value {
            logsource.insert(key.into(), Value::String(v.clone()));
        }
    }
    map.insert("logsource".into(), Value::Mapping(logsource));
    map
}

fn text(map: &Mapping, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn texts(map: &Mapping, key: &str) -> Vec<String> {
    match map.get(key) {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// The attributes that have no field of their own in [`Rule`].
fn other_attributes(map: &Mapping) -> Mapping {
    const OWN: [&str; 13] = [
        "title",
        "id",
        "name",
        "status",
        "level",
        "description",
        "author",
        "tags",
        "references",
        "falsepositives",
        "fields",
        "logsource",
        "detection",
    ];
    map.iter()
        .filter(|(k, _)| k.as_str().is_none_or(|k| !OWN.contains(&k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn rule_from_mapping(map: Mapping, origin: RuleOrigin) -> Result<Rule, RuleError> {
    let id = text(&map, "id");
    let title = text(&map, "title");
    let name = title
        .clone()
        .or_else(|| id.clone())
        .unwrap_or_else(|| "?".into());
    let fail = |reason: &str| error(origin.clone(), &name, reason);
    let title = title.ok_or_else(|| fail("the rule has no title"))?;
    let detection = match map.get("detection") {
        Some(Value::Mapping(d)) => d.clone(),
        Some(_) => return Err(fail("detection must be a mapping")),
        None => return Err(fail("the rule has no detection")),
    };
    let level = match text(&map, "level") {
        Some(l) => Some(Level::parse(&l).ok_or_else(|| fail(&format!("unknown level {l:?}")))?),
        None => None,
    };
    let logsource = match map.get("logsource") {
        Some(Value::Mapping(ls)) => LogSource {
            category: text(ls, "category"),
            product: text(ls, "product"),
            service: text(ls, "service"),
        },
        Some(_) => return Err(fail("logsource must be a mapping")),
        None => LogSource::default(),
    };
    Ok(Rule {
        origin,
        id,
        name: text(&map, "name"),
        title,
        status: text(&map, "status"),
        level,
        description: text(&map, "description"),
        author: text(&map, "author"),
        tags: texts(&map, "tags"),
        references: texts(&map, "references"),
        falsepositives: texts(&map, "falsepositives"),
        fields: texts(&map, "fields"),
        logsource,
        detection,
        attributes: other_attributes(&map),
    })
}

/// One named search of a detection.
#[derive(Debug)]
enum Selection {
    /// A mapping: every field entry must match.
    All(Vec<FieldMatcher>),
    /// A list of mappings (or of keyword values): any may match.
    Any(Vec<Selection>),
}

impl Selection {
    fn matches(&self, event: &dyn EventFields) -> bool {
        match self {
            Selection::All(fields) => fields.iter().all(|f| f.matches(event)),
            Selection::Any(parts) => parts.iter().any(|p| p.matches(event)),
        }
    }

    /// Needles of which at least one appears (lowercased) in the text of
    /// any event this selection matches; `None` when none can be derived.
    fn required(&self) -> Option<Vec<String>> {
        match self {
            // Every field must match: any one field's needles will do; take
            // the most selective (longest shortest needle).
            Selection::All(fields) => fields
                .iter()
                .map(|f| f.needles())
                .filter(|n| !n.is_empty())
                .max_by_key(|n| n.iter().map(String::len).min().unwrap_or(0)),
            // Any part may match: all parts need needles, and any may appear.
            Selection::Any(parts) => {
                let mut all = Vec::new();
                for part in parts {
                    all.extend(part.required()?);
                }
                Some(all)
            }
        }
    }

    fn needles(&self, out: &mut Vec<String>) {
        match self {
            Selection::All(fields) => fields.iter().for_each(|f| out.extend(f.needles())),
            Selection::Any(parts) => parts.iter().for_each(|p| p.needles(out)),
        }
    }
}

/// A rule ready to match events.
#[derive(Debug)]
pub struct CompiledRule {
    pub rule: Rule,
    selections: Vec<(String, Selection)>,
    /// The condition with selection names resolved to indexes, so that
    /// evaluation never compares names.
    condition: Expr,
}

impl CompiledRule {
    /// Compiles `rule`: its selections and its condition.
    pub fn compile(rule: Rule, ctx: &CompileContext) -> Result<CompiledRule, RuleError> {
        let name = rule.title.clone();
        let fail = |reason: String| error(rule.origin.clone(), &name, reason);
        let mut selections = Vec::new();
        let mut condition = None;
        for (key, value) in &rule.detection {
            let key = match key {
                Value::String(s) => s.clone(),
                other => return Err(fail(format!("detection key {other:?} is not a name"))),
            };
            if key == "condition" {
                condition = Some(condition_of(value).map_err(&fail)?);
                continue;
            }
            if key == "timeframe" {
                continue;
            }
            let selection =
                selection(value, ctx).map_err(|e| fail(format!("selection {key}: {e}")))?;
            selections.push((key, selection));
        }
        let condition = condition.ok_or_else(|| fail("the detection has no condition".into()))?;
        let mut names: Vec<String> = selections.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        let condition = condition
            .expand(&names)
            .map_err(|e| fail(format!("condition: {e}")))?;
        let condition = Expr::resolve(&condition, &selections)
            .map_err(|name| fail(format!("condition: unknown search identifier {name:?}")))?;
        Ok(CompiledRule {
            rule,
            selections,
            condition,
        })
    }

    /// Whether the event matches the rule's detection (the log source is
    /// the caller's business).
    pub fn matches(&self, event: &dyn EventFields) -> bool {
        self.condition.evaluate(&self.selections, event)
    }

    /// Needles of which at least one appears in the lowercased text of every
    /// event the rule matches (`None`: no such set; the rule must always be
    /// evaluated). What a prefilter may use to skip the rule.
    pub fn required_needles(&self) -> Option<Vec<String>> {
        self.condition.required(&self.selections)
    }

    /// Literal needles of the rule's string comparisons (for prefilters).
    pub fn needles(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (_, selection) in &self.selections {
            selection.needles(&mut out);
        }
        out
    }
}

/// An expanded condition over selection indexes.
#[derive(Debug)]
enum Expr {
    Selection(usize),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl Expr {
    /// Resolves an expanded condition's names; the error is the unknown name.
    fn resolve(condition: &Condition, selections: &[(String, Selection)]) -> Result<Expr, String> {
        let all = |parts: &[Condition]| -> Result<Vec<Expr>, String> {
            parts.iter().map(|p| Expr::resolve(p, selections)).collect()
        };
        Ok(match condition {
            Condition::Ident(name) => Expr::Selection(
                selections
                    .iter()
                    .position(|(n, _)| n == name)
                    .ok_or_else(|| name.clone())?,
            ),
            Condition::Not(inner) => Expr::Not(Box::new(Expr::resolve(inner, selections)?)),
            Condition::And(parts) => Expr::And(all(parts)?),
            Condition::Or(parts) => Expr::Or(all(parts)?),
            Condition::Quantified { pattern, .. } => return Err(pattern.to_string()),
        })
    }

    /// See [`CompiledRule::required_needles`].
    fn required(&self, selections: &[(String, Selection)]) -> Option<Vec<String>> {
        match self {
            Expr::Selection(i) => selections[*i].1.required(),
            Expr::Not(_) => None,
            // Every part must hold: any part's requirement will do.
            Expr::And(parts) => parts
                .iter()
                .filter_map(|p| p.required(selections))
                .max_by_key(|n| n.iter().map(String::len).min().unwrap_or(0)),
            Expr::Or(parts) => {
                let mut all = Vec::new();
                for part in parts {
                    all.extend(part.required(selections)?);
                }
                Some(all)
            }
        }
    }

    fn evaluate(&self, selections: &[(String, Selection)], event: &dyn EventFields) -> bool {
        match self {
            Expr::Selection(i) => selections[*i].1.matches(event),
            Expr::Not(inner) => !inner.evaluate(selections, event),
            Expr::And(parts) => parts.iter().all(|p| p.evaluate(selections, event)),
            Expr::Or(parts) => parts.iter().any(|p| p.evaluate(selections, event)),
        }
    }
}

fn condition_of(value: &Value) -> Result<Condition, String> {
    match value {
        Value::String(s) => parse_condition(s).map_err(|e| format!("condition {s:?}: {e}")),
        Value::Sequence(items) => {
            let list: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect();
            let list = list.ok_or("a condition list must hold strings")?;
            parse_conditions(&list).map_err(|e| format!("condition {list:?}: {e}"))
        }
        _ => Err("the condition must be a string or a list of strings".into()),
    }
}

fn selection(value: &Value, ctx: &CompileContext) -> Result<Selection, String> {
    match value {
        Value::Mapping(map) => {
            let mut fields = Vec::new();
            for (spec, values) in map {
                let spec = match spec {
                    Value::String(s) => s.as_str(),
                    other => return Err(format!("field name {other:?} is not a string")),
                };
                fields.push(compile_field(spec, values, ctx).map_err(|e| e.to_string())?);
            }
            Ok(Selection::All(fields))
        }
        Value::Sequence(items) if items.iter().all(|i| matches!(i, Value::Mapping(_))) => {
            let parts: Result<Vec<Selection>, String> =
                items.iter().map(|i| selection(i, ctx)).collect();
            Ok(Selection::Any(parts?))
        }
        Value::Sequence(_) | Value::String(_) | Value::Number(_) => {
            // Keywords: values searched in the whole event.
            let matcher = compile_field("", value, ctx).map_err(|e| e.to_string())?;
            Ok(Selection::All(vec![matcher]))
        }
        Value::Null => Err("an empty selection matches nothing".into()),
        _ => Err("a selection must be a mapping, a list or keywords".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const RULE: &str = r#"
title: Whoami Execution
id: e28a5a99-da44-436d-b7a0-2afc20a5f413
status: test
level: medium
tags:
    - attack.discovery
    - attack.t1033
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\whoami.exe'
    filter:
        User: 'SYSTEM'
    condition: selection and not filter
"#;

    #[test]
    fn reads_the_rule_format() {
        let (rules, errors) = parse_rules(RULE, "whoami.yml");
        assert!(errors.is_empty(), "{errors:?}");
        let rule = &rules[0];
        assert_eq!(rule.title, "Whoami Execution");
        assert_eq!(rule.level, Some(Level::Medium));
        assert_eq!(rule.tags, vec!["attack.discovery", "attack.t1033"]);
        assert_eq!(rule.logsource.category.as_deref(), Some("process_creation"));
        assert_eq!(rule.origin.to_string(), "whoami.yml:1");
        assert!(rule.attributes.is_empty());
        let (rules, _) = parse_rules(
            &format!(
                "{RULE}related:\n  - id: x\n    type: derived\ndate: 2024-01-01\nlicense: DRL\n"
            ),
            "r.yml",
        );
        assert_eq!(rules[0].attributes.len(), 3);
        assert_eq!(
            rules[0].attributes.get("license").and_then(Value::as_str),
            Some("DRL")
        );
    }

    #[test]
    fn bad_documents_are_reported_and_the_rest_kept() {
        let text = format!("{RULE}\n---\ntitle: no detection\n---\ndetection: {{}}\n");
        let (rules, errors) = parse_rules(&text, "many.yml");
        assert_eq!(rules.len(), 1);
        assert_eq!(errors.len(), 2);
        assert!(
            errors[0].to_string().contains("no detection"),
            "{}",
            errors[0]
        );
        assert!(errors[0].origin.line > 10);
        let (_, errors) = parse_rules("title: [unclosed", "bad.yml");
        assert!(errors[0].reason.starts_with("invalid YAML"), "{errors:?}");
    }

    #[test]
    fn global_documents_are_merged() {
        let text = "action: global\ntitle: Shared\nlogsource:\n  product: windows\n---\ndetection:\n  sel:\n    EventID: 1\n  condition: sel\n---\nlogsource:\n  category: x\ndetection:\n  sel:\n    EventID: 2\n  condition: sel\n";
        let (rules, errors) = parse_rules(text, "collection.yml");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].title, "Shared");
        assert_eq!(rules[1].logsource.product.as_deref(), Some("windows"));
        assert_eq!(rules[1].logsource.category.as_deref(), Some("x"));
    }
}

#[cfg(test)]
mod matching_tests {
    use super::*;
    use serde_json::json;

    fn compile(text: &str) -> CompiledRule {
        let (mut rules, errors) = parse_rules(text, "test.yml");
        assert!(errors.is_empty(), "{errors:?}");
        CompiledRule::compile(rules.remove(0), &CompileContext::default()).expect("compiles")
    }

    fn matches(rule: &CompiledRule, event: serde_json::Value) -> bool {
        rule.matches(event.as_object().expect("object"))
    }

    #[test]
    fn selection_and_not_filter() {
        let rule = compile(tests::RULE);
        assert!(matches(
            &rule,
            json!({"Image": "C:\\Windows\\System32\\WHOAMI.EXE", "User": "bob"})
        ));
        assert!(!matches(
            &rule,
            json!({"Image": "C:\\Windows\\System32\\whoami.exe", "User": "SYSTEM"})
        ));
        assert!(!matches(
            &rule,
            json!({"Image": "C:\\Windows\\System32\\cmd.exe"})
        ));
    }

    #[test]
    fn lists_of_maps_keywords_and_quantifiers() {
        let rule = compile(
            "title: t\ndetection:\n  sel_a:\n    - CommandLine|contains: mimikatz\n    - Image|endswith: '\\m.exe'\n  sel_b:\n    User: admin\n  keywords:\n    - 'sekurlsa::'\n  _aux:\n    Never: here\n  condition: 1 of sel_* and (all of them or keywords)\n",
        );
        // `_aux` is not part of `them`: the event lacks its field and still matches.
        assert!(matches(
            &rule,
            json!({"CommandLine": "run MIMIKATZ sekurlsa::x", "User": "Admin"}),
        ));
        assert!(matches(
            &rule,
            json!({"Image": "x\\m.exe", "User": "admin", "Other": "sekurlsa::logonpasswords"})
        ));
        assert!(!matches(
            &rule,
            json!({"Image": "x\\m.exe", "User": "guest", "Other": "nothing"})
        ));
    }

    #[test]
    fn rules_that_cannot_run_say_why() {
        for (text, needle) in [
            (
                "title: t\ndetection:\n  sel:\n    A|nosuchmod: x\n  condition: sel\n",
                "nosuchmod",
            ),
            (
                "title: t\ndetection:\n  sel:\n    A|re: '(unclosed'\n  condition: sel\n",
                "regex",
            ),
            (
                "title: t\ndetection:\n  sel:\n    A: x\n  condition: sel and missing\n",
                "missing",
            ),
            ("title: t\ndetection:\n  sel:\n    A: x\n", "no condition"),
        ] {
            let (mut rules, _) = parse_rules(text, "bad.yml");
            let err =
                CompiledRule::compile(rules.remove(0), &CompileContext::default()).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
            assert!(err.to_string().starts_with("bad.yml:1: rule t:"), "{err}");
        }
    }
}
