//! A set of compiled rules, indexed by log source so that an event is
//! checked only against the rules that can apply to it.

use crate::logsource::EventSource;
use crate::rule::{CompiledRule, LogSource};
use crate::EventFields;
use std::collections::HashMap;

/// Rules grouped by the category their log source names (most rules name
/// one); rules without a category are checked on every event.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    by_category: HashMap<String, Vec<usize>>,
    uncategorized: Vec<usize>,
    /// The distinct log sources of the rules, and each rule's: an event's
    /// source is checked once per distinct log source, not once per rule.
    sources: Vec<LogSource>,
    source_of: Vec<usize>,
}

impl RuleSet {
    pub fn new(rules: Vec<CompiledRule>) -> Self {
        let mut set = RuleSet::default();
        for (index, rule) in rules.iter().enumerate() {
            match &rule.rule.logsource.category {
                Some(category) => set
                    .by_category
                    .entry(category.to_ascii_lowercase())
                    .or_default()
                    .push(index),
                None => set.uncategorized.push(index),
            }
        }
        for rule in &rules {
            let logsource = &rule.rule.logsource;
            let id = match set.sources.iter().position(|s| s == logsource) {
                Some(id) => id,
                None => {
                    set.sources.push(logsource.clone());
                    set.sources.len() - 1
                }
            };
            set.source_of.push(id);
        }
        set.rules = rules;
        set
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// The rules that fire on `event`, whose log source is `source`, in the
    /// order they were given.
    pub fn matching<'a>(
        &'a self,
        source: &EventSource,
        event: &dyn EventFields,
    ) -> Vec<&'a CompiledRule> {
        let mut candidates: Vec<usize> = self.uncategorized.clone();
        for category in &source.categories {
            if let Some(indexes) = self.by_category.get(&category.to_ascii_lowercase()) {
                candidates.extend(indexes);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut accepted: Vec<Option<bool>> = vec![None; self.sources.len()];
        candidates
            .into_iter()
            .filter(|&i| {
                let id = self.source_of[i];
                *accepted[id].get_or_insert_with(|| self.sources[id].accepts(source))
            })
            .map(|i| &self.rules[i])
            .filter(|r| r.matches(event))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::parse_rules;
    use crate::value::CompileContext;
    use serde_json::json;

    fn rule(title: &str, logsource: &str, field: &str) -> CompiledRule {
        let text = format!("title: {title}\nlogsource:\n{logsource}\ndetection:\n  sel:\n    {field}: x\n  condition: sel\n");
        let (mut rules, errors) = parse_rules(&text, "t.yml");
        assert!(errors.is_empty(), "{errors:?}");
        CompiledRule::compile(rules.remove(0), &CompileContext::default()).expect("compiles")
    }

    #[test]
    fn only_rules_of_the_event_source_fire() {
        let set = RuleSet::new(vec![
            rule(
                "proc",
                "  product: windows\n  category: process_creation",
                "A",
            ),
            rule("file", "  product: windows\n  category: file_event", "A"),
            rule("sec", "  product: windows\n  service: security", "A"),
            rule("linux", "  product: linux", "A"),
        ]);
        let event = json!({"A": "x"});
        let source = EventSource {
            product: Some("windows".into()),
            categories: vec!["process_creation".into()],
            service: Some("sysmon".into()),
        };
        let titles: Vec<&str> = set
            .matching(&source, event.as_object().unwrap())
            .iter()
            .map(|r| r.rule.title.as_str())
            .collect();
        assert_eq!(titles, vec!["proc"]);
        let security = EventSource {
            product: Some("windows".into()),
            categories: vec![],
            service: Some("security".into()),
        };
        let titles: Vec<&str> = set
            .matching(&security, event.as_object().unwrap())
            .iter()
            .map(|r| r.rule.title.as_str())
            .collect();
        assert_eq!(titles, vec!["sec"]);
    }
}
