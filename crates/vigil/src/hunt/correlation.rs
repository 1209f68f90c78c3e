//! Correlation rules in a hunt.
//!
//! The hits of the rules a correlation refers to are gathered from every
//! file, put in time order, and run through the correlation engine once all
//! files are read; its hits are written after the rules' hits, as hits of a
//! rule-shaped entry per correlation. A referenced rule whose correlations
//! do not ask to `generate` its own hits is kept quiet, as the Sigma
//! correlation specification says.

use super::output::Hit;
use serde_json::{Map, Value};
use vigil_core::Timestamp;
use vigil_sigma::correlation::{BaseHit, CorrelationEngine, CorrelationHit, CorrelationRule};
use vigil_sigma::rule::{CompiledRule, Rule};

/// The rule-shaped entry under which a correlation's hits are written.
pub fn as_rule(correlation: &CorrelationRule) -> Rule {
    Rule {
        origin: Default::default(),
        id: correlation.id.clone(),
        name: correlation.name.clone(),
        title: correlation.title.clone(),
        status: None,
        level: correlation.level,
        description: None,
        author: None,
        tags: correlation.tags.clone(),
        references: Vec::new(),
        falsepositives: Vec::new(),
        fields: Vec::new(),
        logsource: Default::default(),
        detection: Default::default(),
        attributes: Default::default(),
    }
}

pub struct Correlated<'a> {
    correlations: &'a [CorrelationRule],
    /// Per base rule: its name and id when a correlation refers to it.
    referenced: Vec<Option<(Option<String>, Option<String>)>>,
    /// Per base rule: whether its own hits are kept quiet.
    quiet: Vec<bool>,
    base: Vec<BaseHit>,
    /// Hits of referenced rules without a readable time (not correlated).
    pub untimed: usize,
}

impl<'a> Correlated<'a> {
    pub fn new(correlations: &'a [CorrelationRule], rules: &[CompiledRule]) -> Self {
        let mut referenced = Vec::with_capacity(rules.len());
        let mut quiet = Vec::with_capacity(rules.len());
        for rule in rules {
            let referring: Vec<&CorrelationRule> = correlations
                .iter()
                .filter(|c| c.rules.iter().any(|r| refers_to(r, &rule.rule)))
                .collect();
            referenced.push(
                (!referring.is_empty()).then(|| (rule.rule.name.clone(), rule.rule.id.clone())),
            );
            quiet.push(!referring.is_empty() && referring.iter().all(|c| !c.generate));
        }
        Correlated {
            correlations,
            referenced,
            quiet,
            base: Vec::new(),
            untimed: 0,
        }
    }

    /// Records the hits of referenced rules and drops the quiet ones.
    pub fn take(&mut self, hits: &mut Vec<Hit>) {
        if self.correlations.is_empty() {
            return;
        }
        for hit in hits.iter() {
            let Some(Some((name, id))) = self.referenced.get(hit.rule) else {
                continue;
            };
            let time = hit.time.as_deref().and_then(|t| Timestamp::parse(t).ok());
            let Some(time) = time else {
                self.untimed += 1;
                continue;
            };
            self.base.push(BaseHit {
                rule_name: name.clone(),
                rule_id: id.clone(),
                time: time.micros(),
                event: hit.event.clone().unwrap_or_default(),
            });
        }
        hits.retain(|h| !self.quiet.get(h.rule).copied().unwrap_or(false));
    }

    /// Runs the engine over the gathered hits in time order; `base_len` is
    /// the number of rules before the correlations' entries.
    pub fn finish(mut self, base_len: usize) -> Vec<Hit> {
        if self.correlations.is_empty() {
            return Vec::new();
        }
        self.base.sort_by_key(|b| b.time);
        let mut engine = CorrelationEngine::new(self.correlations.to_vec());
        let mut found = Vec::new();
        for hit in &self.base {
            found.extend(engine.observe_chained(hit));
        }
        found.extend(engine.flush());
        found
            .into_iter()
            .filter_map(|hit| {
                let index = self.correlations.iter().position(|c| is_of(&hit, c))?;
                Some(as_hit(&hit, base_len + index))
            })
            .collect()
    }
}

/// Whether a correlation's `rules` entry names `rule` (by id or name).
fn refers_to(reference: &str, rule: &Rule) -> bool {
    rule.id
        .as_deref()
        .is_some_and(|id| id.eq_ignore_ascii_case(reference))
        || rule.name.as_deref() == Some(reference)
}

fn is_of(hit: &CorrelationHit, correlation: &CorrelationRule) -> bool {
    hit.id == correlation.id && hit.name == correlation.name && hit.title == correlation.title
}

fn as_hit(hit: &CorrelationHit, rule: usize) -> Hit {
    let mut event = Map::new();
    for (field, value) in &hit.group {
        event.insert(field.clone(), Value::String(value.clone()));
    }
    event.insert("correlation.value".into(), serde_json::json!(hit.value));
    event.insert(
        "correlation.first_time".into(),
        Value::String(Timestamp(hit.first_time).to_rfc3339()),
    );
    event.insert(
        "correlation.events".into(),
        serde_json::json!(hit.event_times.len()),
    );
    let computer = hit
        .group
        .iter()
        .find(|(f, _)| f == "Computer" || f == "host.name")
        .map(|(_, v)| v.clone());
    Hit {
        rule,
        time: Some(Timestamp(hit.last_time).to_rfc3339()),
        computer,
        file: None,
        record: None,
        event: Some(event),
    }
}
