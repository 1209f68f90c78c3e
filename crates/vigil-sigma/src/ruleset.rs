//! A set of compiled rules, indexed by log source so that an event is
//! checked only against the rules that can apply to it.

use crate::filter::CompiledFilter;
use crate::logsource::EventSource;
use crate::rule::{CompiledRule, LogSource};
use crate::EventFields;
use aho_corasick::{AhoCorasick, MatchKind};
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
    prefilter: Option<Prefilter>,
    filters: Vec<CompiledFilter>,
    /// Per rule, the filters that apply to it.
    filters_of: Vec<Vec<usize>>,
}

/// The literal needles of all rules in one automaton: a rule whose needles
/// do not occur in an event's text cannot match it and is not evaluated.
#[derive(Debug)]
struct Prefilter {
    automaton: AhoCorasick,
    /// Needle → the rules that require it (one of theirs).
    rules_of: Vec<Vec<usize>>,
    /// Rules with no derivable needles: always evaluated.
    always: Vec<bool>,
}

impl Prefilter {
    fn build(rules: &[CompiledRule]) -> Option<Prefilter> {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut rules_of: Vec<Vec<usize>> = Vec::new();
        let mut always = vec![false; rules.len()];
        for (index, rule) in rules.iter().enumerate() {
            match rule.required_needles() {
                Some(needles) if !needles.is_empty() => {
                    for needle in needles {
                        let next = rules_of.len();
                        let id = *ids.entry(needle).or_insert(next);
                        if id == next {
                            rules_of.push(Vec::new());
                        }
                        rules_of[id].push(index);
                    }
                }
                _ => always[index] = true,
            }
        }
        let mut needles: Vec<(String, usize)> = ids.into_iter().collect();
        needles.sort_by_key(|(_, id)| *id);
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(needles.iter().map(|(n, _)| n.as_str()))
            .ok()?;
        Some(Prefilter {
            automaton,
            rules_of,
            always,
        })
    }

    /// Which rules may match an event with this text (lowercased values).
    fn candidates(&self, text: &str) -> Vec<bool> {
        let mut possible = self.always.clone();
        for found in self.automaton.find_overlapping_iter(text) {
            for &rule in &self.rules_of[found.pattern().as_usize()] {
                possible[rule] = true;
            }
        }
        possible
    }
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
        set.prefilter = Prefilter::build(&rules);
        set.filters_of = vec![Vec::new(); rules.len()];
        set.rules = rules;
        set
    }

    /// The set with `filters` applied to the rules they name (a filter
    /// suppresses the events its condition matches).
    pub fn with_filters(mut self, filters: Vec<CompiledFilter>) -> Self {
        for (index, rule) in self.rules.iter().enumerate() {
            self.filters_of[index] = filters
                .iter()
                .enumerate()
                .filter(|(_, f)| f.applies_to(&rule.rule))
                .map(|(i, _)| i)
                .collect();
        }
        self.filters = filters;
        self
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
        let possible = self
            .prefilter
            .as_ref()
            .map(|p| p.candidates(&event_text(event)));
        candidates
            .into_iter()
            .filter(|&i| possible.as_ref().is_none_or(|p| p[i]))
            .filter(|&i| {
                let id = self.source_of[i];
                *accepted[id].get_or_insert_with(|| self.sources[id].accepts(source))
            })
            .filter(|&i| {
                self.rules[i].matches(event)
                    && self.filters_of[i]
                        .iter()
                        .all(|&f| self.filters[f].allows(event))
            })
            .map(|i| &self.rules[i])
            .collect()
    }
}

/// The event's values, lowercased, one after another: what the needles of
/// case-insensitive comparisons are searched in.
fn event_text(event: &dyn EventFields) -> String {
    let mut text = String::new();
    for value in event.all_text() {
        text.push_str(&value.to_lowercase());
        text.push('\n');
    }
    text
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

    /// The prefilter must never hide a match: numbers and booleans of the
    /// event are searched as text too (a rule on `Initiated: 'true'` once
    /// missed events whose value was the JSON boolean).
    #[test]
    fn prefilter_keeps_matches_on_numbers_and_booleans() {
        let text = "title: rdp\nlogsource:\n  product: windows\ndetection:\n  sel:\n    DestinationPort: 3389\n    Initiated: 'true'\n  condition: sel\n";
        let (mut rules, errors) = parse_rules(text, "rdp.yml");
        assert!(errors.is_empty(), "{errors:?}");
        let rdp =
            CompiledRule::compile(rules.remove(0), &CompileContext::default()).expect("compiles");
        assert!(
            rdp.required_needles().is_some(),
            "the rule has needles for the prefilter"
        );
        let set = RuleSet::new(vec![rdp, rule("other", "  product: windows", "Image")]);
        let source = EventSource {
            product: Some("windows".into()),
            ..EventSource::default()
        };
        let event = json!({"DestinationPort": 3389, "Initiated": true, "Image": "C:\\x.exe"});
        let titles: Vec<&str> = set
            .matching(&source, event.as_object().unwrap())
            .iter()
            .map(|r| r.rule.title.as_str())
            .collect();
        assert_eq!(titles, vec!["rdp"]);
    }
}
