//! Sigma filters (Sigma filters specification v2.0.0): environment-specific
//! tuning applied to named rules without editing them.
//!
//! A filter is its own YAML document:
//!
//! ```yaml
//! title: Filter Administrator account
//! logsource:
//!     category: process_creation
//!     product: windows
//! filter:
//!     rules:
//!         - 6f3e2987-db24-4c78-a860-b4f4095a7095
//!     selection:
//!         User|startswith: 'adm_'
//!     condition: selection
//! ```
//!
//! `filter.rules` lists the rules (by `id` or by `title`) the filter is added
//! to; the other keys of `filter` are selections and a `condition`, written
//! as in a rule's `detection`. The filter's condition describes the events
//! to suppress (the specification's example above keeps administrator
//! accounts, `adm_*`, from firing the rules it names): for a rule the filter
//! applies to, the rule fires when its own condition holds and the filter's
//! does not (`rule and not filter`).
//!
//! A filter applies to a rule it names only when their log sources agree:
//! every part (`category`, `product`, `service`) the filter names, the rule
//! names too, with the same value (case-insensitive). A filter naming a rule
//! that is not loaded, or one whose log source differs, is not an error of
//! the filter: [`Filter::check_references`] reports it so that a loader can
//! warn.

use crate::rule::{CompiledRule, LogSource, Rule, RuleError, RuleOrigin};
use crate::value::CompileContext;
use crate::EventFields;
use yaml_serde::{Mapping, Value};

/// A filter document as written (not yet compiled).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub origin: RuleOrigin,
    pub id: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub logsource: LogSource,
    /// The ids or titles of the rules the filter is added to (`filter.rules`).
    pub rules: Vec<String>,
    /// The `filter:` mapping without `rules`: selections and `condition`.
    pub detection: Mapping,
}

fn error(origin: &RuleOrigin, name: &str, reason: impl Into<String>) -> RuleError {
    RuleError {
        origin: origin.clone(),
        name: name.to_string(),
        reason: reason.into(),
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether a YAML document is a filter document (has a `filter` section and
/// no `detection`), for loaders that sort documents.
pub fn is_filter_document(doc: &Mapping) -> bool {
    doc.contains_key("filter") && !doc.contains_key("detection")
}

/// Reads one filter document. Errors name the filter (its title, else its
/// id, else `?`) and say `filter:` in their reason.
pub fn parse_filter(doc: &Mapping, origin: RuleOrigin) -> Result<Filter, RuleError> {
    let title = doc.get("title").and_then(scalar);
    let id = doc.get("id").and_then(scalar);
    let name = title
        .clone()
        .or_else(|| id.clone())
        .unwrap_or_else(|| "?".into());
    let fail = |reason: &str| error(&origin, &name, format!("filter: {reason}"));
    if doc.contains_key("detection") {
        return Err(fail(
            "a filter document has a `filter` section, not `detection`",
        ));
    }
    let title = match (doc.get("title"), title) {
        (_, Some(t)) if !t.trim().is_empty() => t,
        (None, _) => return Err(fail("the filter has no title")),
        _ => return Err(fail("the title must be a non-empty string")),
    };
    if doc.get("id").is_some() && id.is_none() {
        return Err(fail("the id must be a string"));
    }
    let description = doc.get("description").and_then(scalar);
    let logsource = match doc.get("logsource") {
        Some(Value::Mapping(ls)) => {
            let part = |key: &str| -> Result<Option<String>, RuleError> {
                match ls.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => scalar(v)
                        .map(Some)
                        .ok_or_else(|| fail(&format!("logsource.{key} must be a string"))),
                }
            };
            LogSource {
                category: part("category")?,
                product: part("product")?,
                service: part("service")?,
            }
        }
        Some(_) => return Err(fail("logsource must be a mapping")),
        None => return Err(fail("the filter has no logsource")),
    };
    let section = match doc.get("filter") {
        Some(Value::Mapping(f)) => f,
        Some(_) => return Err(fail("the filter section must be a mapping")),
        None => return Err(fail("the document has no filter section")),
    };
    let rules = match section.get("rules") {
        Some(Value::Sequence(items)) => {
            let mut rules = Vec::new();
            for item in items {
                let r = scalar(item)
                    .filter(|r| !r.trim().is_empty())
                    .ok_or_else(|| fail("filter.rules must list rule ids or titles (strings)"))?;
                if !rules.contains(&r) {
                    rules.push(r);
                }
            }
            rules
        }
        Some(Value::String(_)) => {
            return Err(fail(
                "filter.rules must be a list of rule ids or titles, not a single string",
            ))
        }
        Some(_) => return Err(fail("filter.rules must be a list of rule ids or titles")),
        None => return Err(fail("the filter section has no rules")),
    };
    if rules.is_empty() {
        return Err(fail("filter.rules is empty: the filter applies to no rule"));
    }
    if !section.contains_key("condition") {
        return Err(fail("the filter section has no condition"));
    }
    let mut detection = section.clone();
    detection.remove("rules");
    if detection.len() < 2 {
        return Err(fail("the filter section has no selection"));
    }
    Ok(Filter {
        origin,
        id,
        title,
        description,
        logsource,
        rules,
        detection,
    })
}

impl Filter {
    /// The name used in messages: the title.
    pub fn name(&self) -> &str {
        &self.title
    }

    /// Whether `reference` (an entry of `filter.rules`) names `rule`: its id
    /// (case-insensitive, ids are UUIDs) or its title (exact).
    fn names(reference: &str, rule: &Rule) -> bool {
        let reference = reference.trim();
        rule.id
            .as_deref()
            .is_some_and(|id| id.trim().eq_ignore_ascii_case(reference))
            || rule.title == reference
    }

    /// Whether the filter names `rule` in `filter.rules`.
    pub fn names_rule(&self, rule: &Rule) -> bool {
        self.rules.iter().any(|r| Filter::names(r, rule))
    }

    /// Whether the filter's log source agrees with the rule's: every part
    /// the filter names, the rule names with the same value.
    pub fn logsource_compatible(&self, rule: &LogSource) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| match want {
            None => true,
            Some(w) => have.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(w)),
        };
        same(&self.logsource.category, &rule.category)
            && same(&self.logsource.product, &rule.product)
            && same(&self.logsource.service, &rule.service)
    }

    /// Whether the filter is added to `rule`: named, with a compatible log
    /// source.
    pub fn applies_to(&self, rule: &Rule) -> bool {
        self.names_rule(rule) && self.logsource_compatible(&rule.logsource)
    }

    /// Problems with `filter.rules` against the loaded rules, for warnings:
    /// a reference no rule has as id or title, or a named rule whose log
    /// source differs from the filter's (the filter does not apply to it).
    /// Each error names the filter.
    pub fn check_references<'a>(
        &self,
        rules: impl IntoIterator<Item = &'a Rule>,
    ) -> Vec<RuleError> {
        let rules: Vec<&Rule> = rules.into_iter().collect();
        let mut problems = Vec::new();
        for reference in &self.rules {
            let named: Vec<&&Rule> = rules
                .iter()
                .filter(|r| Filter::names(reference, r))
                .collect();
            if named.is_empty() {
                problems.push(error(
                    &self.origin,
                    &self.title,
                    format!("filter: no loaded rule has the id or title {reference:?}"),
                ));
            }
            for rule in named {
                if !self.logsource_compatible(&rule.logsource) {
                    problems.push(error(
                        &self.origin,
                        &self.title,
                        format!(
                            "filter: not applied to rule {:?} ({}): its logsource {} differs from the filter's {}",
                            rule.title,
                            rule.origin,
                            describe(&rule.logsource),
                            describe(&self.logsource),
                        ),
                    ));
                }
            }
        }
        problems
    }
}

fn describe(ls: &LogSource) -> String {
    let parts: Vec<String> = [
        ("category", &ls.category),
        ("product", &ls.product),
        ("service", &ls.service),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
    .collect();
    format!("{{{}}}", parts.join(", "))
}

/// A filter ready to test events.
#[derive(Debug)]
pub struct CompiledFilter {
    pub filter: Filter,
    /// The filter's selections and condition, compiled as a rule's detection.
    detection: CompiledRule,
}

impl CompiledFilter {
    /// Compiles the filter's selections and condition (modifiers,
    /// placeholders and condition grammar as in rules).
    pub fn compile(filter: Filter, ctx: &CompileContext) -> Result<CompiledFilter, RuleError> {
        let rule = Rule {
            name: None,
            attributes: Default::default(),
            origin: filter.origin.clone(),
            id: filter.id.clone(),
            title: filter.title.clone(),
            status: None,
            level: None,
            description: None,
            author: None,
            tags: Vec::new(),
            references: Vec::new(),
            falsepositives: Vec::new(),
            fields: Vec::new(),
            logsource: filter.logsource.clone(),
            detection: filter.detection.clone(),
        };
        let detection = CompiledRule::compile(rule, ctx).map_err(|e| RuleError {
            reason: format!("filter: {}", e.reason),
            ..e
        })?;
        Ok(CompiledFilter { filter, detection })
    }

    /// See [`Filter::applies_to`].
    pub fn applies_to(&self, rule: &Rule) -> bool {
        self.filter.applies_to(rule)
    }

    /// Whether the event passes the filter (its condition does not hold),
    /// that is, whether a rule it applies to may fire on the event.
    pub fn allows(&self, event: &dyn EventFields) -> bool {
        !self.detection.matches(event)
    }
}

/// The filters of `filters` that apply to `rule`, to compute once per rule.
pub fn applicable<'f, F>(filters: F, rule: &Rule) -> Vec<&'f CompiledFilter>
where
    F: IntoIterator<Item = &'f CompiledFilter>,
{
    filters.into_iter().filter(|f| f.applies_to(rule)).collect()
}

/// Whether `rule` fires on `event`: it matches, and every filter of
/// `filters` that applies to it allows the event. Filters that do not apply
/// to the rule are ignored, so callers may pass all filters (or, faster, the
/// result of [`applicable`]).
pub fn rule_fires(
    rule: &CompiledRule,
    filters: &[&CompiledFilter],
    event: &dyn EventFields,
) -> bool {
    rule.matches(event)
        && filters
            .iter()
            .filter(|f| f.applies_to(&rule.rule))
            .all(|f| f.allows(event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::parse_rules;
    use serde_json::json;

    const WHOAMI: &str = r#"
title: Whoami Execution
id: e28a5a99-da44-436d-b7a0-2afc20a5f413
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection
---
title: Rar Compression
id: 6f3e2987-db24-4c78-a860-b4f4095a7095
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\rar.exe'
    condition: selection
---
title: Net Use
id: 11111111-2222-4333-8444-555555555555
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\net.exe'
    condition: selection
---
title: Linux Whoami
id: 99999999-2222-4333-8444-555555555555
logsource:
    category: process_creation
    product: linux
detection:
    selection:
        Image|endswith: '/whoami'
    condition: selection
"#;

    fn rules() -> Vec<CompiledRule> {
        let (rules, errors) = parse_rules(WHOAMI, "rules.yml");
        assert!(errors.is_empty(), "{errors:?}");
        rules
            .into_iter()
            .map(|r| CompiledRule::compile(r, &CompileContext::default()).expect("compiles"))
            .collect()
    }

    fn doc(text: &str) -> Mapping {
        yaml_serde::from_str(text).expect("yaml")
    }

    fn origin() -> RuleOrigin {
        RuleOrigin {
            file: "mf_test.yml".into(),
            line: 1,
        }
    }

    fn filter(text: &str) -> CompiledFilter {
        let f = parse_filter(&doc(text), origin()).expect("parses");
        CompiledFilter::compile(f, &CompileContext::default()).expect("compiles")
    }

    fn fires(rule: &CompiledRule, filters: &[&CompiledFilter], event: serde_json::Value) -> bool {
        rule_fires(rule, filters, event.as_object().expect("object"))
    }

    const SYSTEM_FILTER: &str = r#"
title: Filter SYSTEM
id: 0e95725d-7320-415d-80f7-004da920fc11
logsource:
    category: process_creation
    product: windows
filter:
    rules:
        - e28a5a99-da44-436d-b7a0-2afc20a5f413
    selection:
        User: SYSTEM
    condition: selection
"#;

    #[test]
    fn excludes_by_field_value_for_the_named_rule_only() {
        let rules = rules();
        let f = filter(SYSTEM_FILTER);
        assert_eq!(f.filter.rules, ["e28a5a99-da44-436d-b7a0-2afc20a5f413"]);
        assert!(f.applies_to(&rules[0].rule));
        assert!(!f.applies_to(&rules[1].rule));
        let whoami = json!({"Image": "C:\\Windows\\whoami.exe", "User": "system"});
        assert!(rules[0].matches(whoami.as_object().unwrap()));
        assert!(!f.allows(whoami.as_object().unwrap()));
        assert!(!fires(&rules[0], &[&f], whoami));
        assert!(fires(
            &rules[0],
            &[&f],
            json!({"Image": "C:\\Windows\\whoami.exe", "User": "bob"})
        ));
        // Not named: the filter does not touch the rar rule.
        assert!(fires(
            &rules[1],
            &[&f],
            json!({"Image": "C:\\x\\rar.exe", "User": "SYSTEM"})
        ));
        // And a rule that does not match still does not fire.
        assert!(!fires(
            &rules[0],
            &[&f],
            json!({"Image": "C:\\x\\rar.exe", "User": "bob"})
        ));
    }

    #[test]
    fn one_filter_several_rules_by_id_and_title_with_modifiers() {
        let rules = rules();
        // The specification's example (User|startswith), with a second selection.
        let f = filter(
            r#"
title: Filter Administrator account
description: The valid administrator account start with adm_
logsource:
    category: process_creation
    product: windows
filter:
    rules:
        - 6F3E2987-DB24-4C78-A860-B4F4095A7095 # Data Compressed - rar.exe
        - Whoami Execution
    selection:
        User|startswith: 'adm_'
    gpo:
        CommandLine|contains|all:
            - '\\sysvol\\'
            - '.ps1'
    condition: selection or gpo
"#,
        );
        assert!(f.applies_to(&rules[0].rule));
        assert!(f.applies_to(&rules[1].rule));
        assert!(!f.applies_to(&rules[2].rule));
        let all = [&f];
        for (rule, image) in [(&rules[0], "whoami.exe"), (&rules[1], "rar.exe")] {
            let image = format!("C:\\x\\{image}");
            assert!(!fires(
                rule,
                &all,
                json!({"Image": image, "User": "ADM_jane"})
            ));
            assert!(!fires(
                rule,
                &all,
                json!({"Image": image, "User": "bob", "CommandLine": "run \\\\dc\\SYSVOL\\x.PS1"})
            ));
            assert!(fires(
                rule,
                &all,
                json!({"Image": image, "User": "bob", "CommandLine": "run \\\\dc\\sysvol\\x.bat"})
            ));
        }
        assert!(fires(
            &rules[2],
            &all,
            json!({"Image": "C:\\x\\net.exe", "User": "adm_jane"})
        ));
        let filters = [f];
        assert_eq!(applicable(&filters, &rules[1].rule).len(), 1);
        assert!(applicable(&filters, &rules[2].rule).is_empty());
    }

    #[test]
    fn several_filters_all_must_allow() {
        let rules = rules();
        let a = filter(SYSTEM_FILTER);
        let b = filter(&SYSTEM_FILTER.replace("User: SYSTEM", "ParentImage|endswith: '\\svc.exe'"));
        let event = json!({"Image": "a\\whoami.exe", "User": "bob", "ParentImage": "c\\svc.exe"});
        assert!(fires(&rules[0], &[&a], event.clone()));
        assert!(!fires(&rules[0], &[&a, &b], event));
    }

    #[test]
    fn logsource_must_agree() {
        let rules = rules();
        let text = SYSTEM_FILTER.replace(
            "- e28a5a99-da44-436d-b7a0-2afc20a5f413",
            "- e28a5a99-da44-436d-b7a0-2afc20a5f413\n        - Linux Whoami",
        );
        let f = filter(&text);
        assert!(f.applies_to(&rules[0].rule));
        assert!(!f.applies_to(&rules[3].rule));
        let event = json!({"Image": "/usr/bin/whoami", "User": "SYSTEM"});
        assert!(fires(&rules[3], &[&f], event));
        let problems = f.filter.check_references(rules.iter().map(|r| &r.rule));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].reason.contains("Linux Whoami"),
            "{}",
            problems[0]
        );
        assert!(
            problems[0].reason.contains("product: linux"),
            "{}",
            problems[0]
        );
        // A filter with an empty logsource agrees with every rule.
        let open = filter(&text.replace(
            "logsource:\n    category: process_creation\n    product: windows",
            "logsource: {}",
        ));
        assert!(open.applies_to(&rules[3].rule));
    }

    #[test]
    fn unknown_rules_are_reported_not_fatal() {
        let rules = rules();
        let text = SYSTEM_FILTER.replace(
            "- e28a5a99-da44-436d-b7a0-2afc20a5f413",
            "- e28a5a99-da44-436d-b7a0-2afc20a5f413\n        - 00000000-0000-4000-8000-000000000000",
        );
        let f = filter(&text);
        let problems = f.filter.check_references(rules.iter().map(|r| &r.rule));
        assert_eq!(problems.len(), 1, "{problems:?}");
        let message = problems[0].to_string();
        assert!(
            message.starts_with("mf_test.yml:1: rule Filter SYSTEM: filter:"),
            "{message}"
        );
        assert!(
            message.contains("00000000-0000-4000-8000-000000000000"),
            "{message}"
        );
        // The known rule is still filtered.
        assert!(!fires(
            &rules[0],
            &[&f],
            json!({"Image": "a\\whoami.exe", "User": "SYSTEM"})
        ));
    }

    #[test]
    fn malformed_filters_say_why_and_name_the_filter() {
        let base = SYSTEM_FILTER;
        for (text, needle) in [
            (base.replace("title: Filter SYSTEM\n", ""), "no title"),
            (
                base.replace(
                    "logsource:\n    category: process_creation\n    product: windows\n",
                    "",
                ),
                "no logsource",
            ),
            (
                base.replace(
                    "logsource:\n    category: process_creation\n    product: windows",
                    "logsource: windows",
                ),
                "logsource must be a mapping",
            ),
            (
                base.replace(
                    "    rules:\n        - e28a5a99-da44-436d-b7a0-2afc20a5f413\n",
                    "",
                ),
                "no rules",
            ),
            (
                base.replace(
                    "    rules:\n        - e28a5a99-da44-436d-b7a0-2afc20a5f413\n",
                    "    rules: e28a5a99\n",
                ),
                "not a single string",
            ),
            (
                base.replace(
                    "    rules:\n        - e28a5a99-da44-436d-b7a0-2afc20a5f413\n",
                    "    rules: []\n",
                ),
                "empty",
            ),
            (
                base.replace(
                    "        - e28a5a99-da44-436d-b7a0-2afc20a5f413\n",
                    "        - {a: b}\n",
                ),
                "strings",
            ),
            (
                base.replace("    condition: selection\n", ""),
                "no condition",
            ),
            (
                base.replace("    selection:\n        User: SYSTEM\n", ""),
                "no selection",
            ),
            (base.replace("filter:\n", "detection:\n"), "not `detection`"),
            (
                base.split("filter:").next().unwrap().to_string() + "filter: nope\n",
                "must be a mapping",
            ),
            (
                base.split("filter:").next().unwrap().to_string(),
                "no filter section",
            ),
        ] {
            let err = parse_filter(&doc(&text), origin()).expect_err(needle);
            let message = err.to_string();
            assert!(message.contains(needle), "{needle}: {message}");
            assert!(message.contains("filter:"), "{message}");
            if needle != "no title" {
                assert!(
                    message.starts_with("mf_test.yml:1: rule Filter SYSTEM: "),
                    "{message}"
                );
            } else {
                assert!(message.contains("0e95725d"), "{message}");
            }
        }
        // Errors of the selections and condition, at compile time.
        for (text, needle) in [
            (
                base.replace("User: SYSTEM", "User|nosuchmod: SYSTEM"),
                "nosuchmod",
            ),
            (
                base.replace("condition: selection", "condition: selection and missing"),
                "missing",
            ),
            (
                base.replace("condition: selection", "condition: (selection"),
                "condition",
            ),
        ] {
            let f = parse_filter(&doc(&text), origin()).expect("parses");
            let err = CompiledFilter::compile(f, &CompileContext::default()).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(needle), "{message}");
            assert!(
                message.starts_with("mf_test.yml:1: rule Filter SYSTEM: filter: "),
                "{message}"
            );
        }
    }

    #[test]
    fn recognises_filter_documents() {
        assert!(is_filter_document(&doc(SYSTEM_FILTER)));
        assert!(!is_filter_document(&doc(WHOAMI
            .split("---")
            .next()
            .unwrap())));
    }
}
