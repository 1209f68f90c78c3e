//! The correlation engine: per correlation rule, per group, the recent
//! matches of the referenced rules, kept sorted by time.
//!
//! Time and lateness. Each correlation rule has its own *newest* time (the
//! latest match it has seen) and *watermark* = newest − timespan.
//!
//! - A match older than the watermark is too late: it is dropped and
//!   counted ([`CorrelationStats::late_dropped`]). Any other match, even one
//!   older than the newest, is inserted at its place in time and counts in
//!   every window that contains it and has not been judged yet.
//! - A window `[s, s + timespan)` is final once `s + timespan <= watermark`:
//!   no acceptable match can fall into it any more. Conditions judged at
//!   the end of a window (see [`super`]) are judged then, or by
//!   [`CorrelationEngine::flush`] at the end of the input.
//! - Matches at or before `watermark − timespan` can be in no window still
//!   open nor in one an acceptable late match can start: they are forgotten.
//!
//! Memory is bounded by [`CorrelationLimits`]: past the cap of a group its
//! oldest matches are evicted, past the cap of groups the group seen least
//! recently; both are counted in [`CorrelationStats`].

use super::{CorrelationError, CorrelationRule, CorrelationType};
use crate::rule::Level;
use crate::{EventFields, FieldValue};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::collections::{HashMap, HashSet};

/// The version of [`CorrelationEngine::snapshot`]'s format.
pub const SNAPSHOT_VERSION: u64 = 1;

/// An event with this field (a number ≥ 1) stands for that many identical
/// events: syslog's `message repeated N times: [ ... ]`. It counts that
/// many times in `event_count`; the other measures see it once (a value is
/// as distinct, and a rule as matched, however often it repeats).
pub const REPEAT_COUNT_FIELD: &str = "event.repeat_count";

/// Bound on one event's repeat count, so that sums stay exact.
const MAX_REPEAT: u64 = 1 << 32;

/// One match of a referenced rule: a base rule's hit, or a correlation hit
/// fed back (see [`CorrelationHit::to_base_hit`]) for chained correlations.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseHit {
    pub rule_name: Option<String>,
    pub rule_id: Option<String>,
    /// Event time, microseconds since the Unix epoch.
    pub time: i64,
    pub event: Map<String, Json>,
}

/// A correlation that holds for one group over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationHit {
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub level: Option<Level>,
    pub kind: CorrelationType,
    /// Each group-by field (as written in the rule, aliases included) and
    /// the group's value, in the rule's order.
    pub group: Vec<(String, String)>,
    /// Times of the first and last match in the window.
    pub first_time: i64,
    pub last_time: i64,
    /// The measured value: event count, distinct values, number of rules
    /// matched (temporal) or in order (temporal_ordered), sum, mean or
    /// percentile.
    pub value: f64,
    /// Times of the matches in the window, ascending.
    pub event_times: Vec<i64>,
    /// The ids of the window's events that had one (see
    /// [`CorrelationEngine::observe_chained_with_id`]), in time order, the
    /// first [`MAX_EVENT_IDS`].
    pub event_ids: Vec<String>,
}

/// How many event ids a [`CorrelationHit`] carries: evidence, not the
/// whole window of a storm.
pub const MAX_EVENT_IDS: usize = 100;

impl CorrelationHit {
    /// This hit as a match of the correlation itself, for correlations that
    /// refer to it: named by the correlation's name and id, at the time of
    /// its last match, with the group's fields as its event.
    pub fn to_base_hit(&self) -> BaseHit {
        BaseHit {
            rule_name: self.name.clone(),
            rule_id: self.id.clone(),
            time: self.last_time,
            event: self
                .group
                .iter()
                .map(|(field, value)| (field.clone(), Json::String(value.clone())))
                .collect(),
        }
    }
}

/// Caps on the state kept, per correlation rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelationLimits {
    pub max_events_per_group: usize,
    pub max_groups: usize,
}

impl CorrelationLimits {
    pub const DEFAULT_MAX_EVENTS_PER_GROUP: usize = 10_000;
    pub const DEFAULT_MAX_GROUPS: usize = 100_000;
}

impl Default for CorrelationLimits {
    fn default() -> Self {
        CorrelationLimits {
            max_events_per_group: Self::DEFAULT_MAX_EVENTS_PER_GROUP,
            max_groups: Self::DEFAULT_MAX_GROUPS,
        }
    }
}

/// What the engine had to drop, summed over its rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CorrelationStats {
    /// Matches evicted because their group was full.
    pub evicted_events: u64,
    /// Groups evicted because the rule had too many.
    pub evicted_groups: u64,
    /// Matches older than the watermark.
    pub late_dropped: u64,
    /// Matches without a value for a group-by field.
    pub missing_group_field: u64,
    /// Matches without a (numeric, where needed) value for the condition's
    /// field.
    pub missing_value: u64,
}

/// One kept match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Stored {
    /// Time.
    t: i64,
    /// Which of the rule's references it matched.
    r: usize,
    /// value_count: the field's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<String>,
    /// value_sum/avg/percentile: the field's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<f64>,
    /// The event's id, for the hit's evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    /// How many events it stands for ([`REPEAT_COUNT_FIELD`]).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    w: u64,
}

fn one() -> u64 {
    1
}

fn is_one(w: &u64) -> bool {
    *w == 1
}

/// The repeat count of a match: [`REPEAT_COUNT_FIELD`] within 1..=MAX_REPEAT, else 1.
fn repeat_count(event: &Map<String, Json>) -> u64 {
    first_number(event, REPEAT_COUNT_FIELD)
        .filter(|n| *n >= 1.0)
        .map_or(1, |n| (n as u64).min(MAX_REPEAT))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Group {
    /// Sorted by time; equal times in arrival order.
    events: Vec<Stored>,
    /// Windows starting before this do not fire (the group fired).
    suppress_until: i64,
    /// Windows starting at or before this have been judged (end-of-window
    /// conditions).
    closed_through: i64,
    /// Newest match time, for choosing a group to evict.
    last_seen: i64,
}

impl Default for Group {
    fn default() -> Self {
        Group {
            events: Vec::new(),
            suppress_until: i64::MIN,
            closed_through: i64::MIN,
            last_seen: i64::MIN,
        }
    }
}

#[derive(Debug)]
struct RuleState {
    rule: CorrelationRule,
    eager: bool,
    groups: HashMap<Vec<String>, Group>,
    newest: Option<i64>,
    /// When the newest time reaches this, forget old matches everywhere.
    next_sweep: i64,
    /// End-of-window conditions: no window ends before this, so no need to
    /// look until the watermark reaches it.
    next_close: i64,
}

/// The state of a set of correlation rules.
///
/// Per rule, *watermark* = newest match time − timespan. A match older than
/// the watermark is dropped as too late (counted); any other match is put
/// in its place in time, even when older than the newest. A window
/// `[s, s + timespan)` is final once `s + timespan <= watermark`; conditions
/// judged at the end of a window are judged then (or by
/// [`CorrelationEngine::flush`]). Matches at or before
/// `watermark − timespan` are forgotten.
#[derive(Debug)]
pub struct CorrelationEngine {
    states: Vec<RuleState>,
    limits: CorrelationLimits,
    stats: CorrelationStats,
}

impl CorrelationEngine {
    pub fn new(rules: Vec<CorrelationRule>) -> Self {
        Self::with_limits(rules, CorrelationLimits::default())
    }

    pub fn with_limits(rules: Vec<CorrelationRule>, limits: CorrelationLimits) -> Self {
        CorrelationEngine {
            states: rules.into_iter().map(RuleState::new).collect(),
            limits,
            stats: CorrelationStats::default(),
        }
    }

    pub fn set_limits(&mut self, limits: CorrelationLimits) {
        self.limits = limits;
    }

    pub fn rules(&self) -> impl Iterator<Item = &CorrelationRule> {
        self.states.iter().map(|s| &s.rule)
    }

    pub fn stats(&self) -> CorrelationStats {
        self.stats
    }

    /// Number of groups currently kept, over all rules.
    pub fn group_count(&self) -> usize {
        self.states.iter().map(|s| s.groups.len()).sum()
    }

    /// Number of matches currently kept, over all rules and groups.
    pub fn event_count(&self) -> usize {
        self.states
            .iter()
            .flat_map(|s| s.groups.values())
            .map(|g| g.events.len())
            .sum()
    }

    /// Takes one match into every correlation that refers to its rule;
    /// returns the correlations that now hold. Hits are not fed back: see
    /// [`CorrelationEngine::observe_chained`].
    pub fn observe(&mut self, hit: &BaseHit) -> Vec<CorrelationHit> {
        self.observe_with_id(hit, None)
    }

    /// [`CorrelationEngine::observe`] of a match whose event has an id:
    /// the hits it takes part in list it in [`CorrelationHit::event_ids`].
    pub fn observe_with_id(
        &mut self,
        hit: &BaseHit,
        event_id: Option<&str>,
    ) -> Vec<CorrelationHit> {
        let mut out = Vec::new();
        for state in &mut self.states {
            let Some(reference) = state
                .rule
                .reference_index(hit.rule_name.as_deref(), hit.rule_id.as_deref())
            else {
                continue;
            };
            state.observe(
                (reference, event_id),
                hit,
                self.limits,
                &mut self.stats,
                &mut out,
            );
        }
        out
    }

    /// [`CorrelationEngine::observe`], then every hit fed back as a match
    /// of its correlation, for correlations over correlations. Returns all
    /// hits, inner ones first.
    pub fn observe_chained(&mut self, hit: &BaseHit) -> Vec<CorrelationHit> {
        self.observe_chained_with_id(hit, None)
    }

    /// [`CorrelationEngine::observe_chained`] of a match whose event has
    /// an id (see [`CorrelationEngine::observe_with_id`]).
    pub fn observe_chained_with_id(
        &mut self,
        hit: &BaseHit,
        event_id: Option<&str>,
    ) -> Vec<CorrelationHit> {
        let mut all = Vec::new();
        let mut pending = self.observe_with_id(hit, event_id);
        // A chain is at most as deep as there are rules (guards cycles).
        for _ in 0..=self.states.len() {
            if pending.is_empty() {
                break;
            }
            let mut next = Vec::new();
            for inner in &pending {
                next.extend(self.observe(&inner.to_base_hit()));
            }
            all.append(&mut pending);
            pending = next;
        }
        all.append(&mut pending);
        all
    }

    /// End of input: judges every window not yet judged, as if no more
    /// matches could come. Rules that fire eagerly have nothing to add.
    pub fn flush(&mut self) -> Vec<CorrelationHit> {
        let mut out = Vec::new();
        for state in &mut self.states {
            if !state.eager {
                state.close_windows(i64::MAX, &mut out);
            }
        }
        out
    }

    /// The engine's state as JSON, to restore after a restart.
    pub fn snapshot(&self) -> Json {
        let doc = SnapshotDoc {
            version: SNAPSHOT_VERSION,
            stats: self.stats,
            rules: self
                .states
                .iter()
                .map(|state| {
                    let mut groups: Vec<GroupSnap> = state
                        .groups
                        .iter()
                        .map(|(key, group)| GroupSnap {
                            key: key.clone(),
                            group: group.clone(),
                        })
                        .collect();
                    groups.sort_by(|a, b| a.key.cmp(&b.key));
                    RuleSnap {
                        key: state.rule.key().to_string(),
                        fingerprint: fingerprint(&state.rule),
                        newest: state.newest,
                        groups,
                    }
                })
                .collect(),
        };
        serde_json::to_value(doc).unwrap_or(Json::Null)
    }

    /// An engine for `rules` with the state of a snapshot. A rule's state
    /// is restored when the snapshot has a rule with the same key (id, else
    /// name, else title) and the same definition; a rule that is new or
    /// changed starts empty, and state of rules no longer given is dropped.
    pub fn restore(rules: Vec<CorrelationRule>, snapshot: &Json) -> Result<Self, CorrelationError> {
        let doc: SnapshotDoc = serde_json::from_value(snapshot.clone())
            .map_err(|e| CorrelationError::Snapshot(e.to_string()))?;
        if doc.version != SNAPSHOT_VERSION {
            return Err(CorrelationError::Snapshot(format!(
                "version {} (this engine reads version {SNAPSHOT_VERSION})",
                doc.version
            )));
        }
        let mut engine = CorrelationEngine::new(rules);
        engine.stats = doc.stats;
        let mut saved: Vec<Option<RuleSnap>> = doc.rules.into_iter().map(Some).collect();
        for state in &mut engine.states {
            let key = state.rule.key();
            let print = fingerprint(&state.rule);
            let Some(slot) = saved.iter_mut().find(|s| {
                s.as_ref()
                    .is_some_and(|s| s.key == key && s.fingerprint == print)
            }) else {
                continue;
            };
            let Some(snap) = slot.take() else { continue };
            state.newest = snap.newest;
            for GroupSnap {
                key: group_key,
                group,
            } in snap.groups
            {
                if group_key.len() != state.rule.group_by.len() {
                    return Err(CorrelationError::Snapshot(format!(
                        "rule {key}: a group key has {} values for {} group-by fields",
                        group_key.len(),
                        state.rule.group_by.len()
                    )));
                }
                if group.events.iter().any(|e| e.r >= state.rule.rules.len()) {
                    return Err(CorrelationError::Snapshot(format!(
                        "rule {key}: a match refers to a rule it does not have"
                    )));
                }
                if group.events.windows(2).any(|w| w[0].t > w[1].t) {
                    return Err(CorrelationError::Snapshot(format!(
                        "rule {key}: matches out of time order"
                    )));
                }
                state.groups.insert(group_key, group);
            }
            if let Some(newest) = state.newest {
                state.next_sweep = newest.saturating_add(state.rule.timespan);
            }
            state.next_close = i64::MIN;
        }
        Ok(engine)
    }
}

#[derive(Serialize, Deserialize)]
struct SnapshotDoc {
    version: u64,
    #[serde(default)]
    stats: CorrelationStats,
    rules: Vec<RuleSnap>,
}

#[derive(Serialize, Deserialize)]
struct RuleSnap {
    key: String,
    fingerprint: String,
    newest: Option<i64>,
    groups: Vec<GroupSnap>,
}

#[derive(Serialize, Deserialize)]
struct GroupSnap {
    key: Vec<String>,
    #[serde(flatten)]
    group: Group,
}

/// What a rule's saved state depends on.
fn fingerprint(rule: &CorrelationRule) -> String {
    format!(
        "{:?}",
        (
            rule.kind,
            &rule.rules,
            &rule.group_by,
            rule.timespan,
            &rule.condition,
            &rule.aliases
        )
    )
}

impl RuleState {
    fn new(rule: CorrelationRule) -> Self {
        RuleState {
            eager: rule.fires_eagerly(),
            rule,
            groups: HashMap::new(),
            newest: None,
            next_sweep: i64::MIN,
            next_close: i64::MAX,
        }
    }

    fn observe(
        &mut self,
        (reference, event_id): (usize, Option<&str>),
        hit: &BaseHit,
        limits: CorrelationLimits,
        stats: &mut CorrelationStats,
        out: &mut Vec<CorrelationHit>,
    ) {
        let rule = &self.rule;
        let span = rule.timespan;
        let reference_name = rule.rules[reference].as_str();

        let mut key = Vec::with_capacity(rule.group_by.len());
        for field in &rule.group_by {
            let field = rule.resolve_field(field, reference_name);
            match first_text(&hit.event, field) {
                Some(v) => key.push(v),
                None => {
                    stats.missing_group_field += 1;
                    return;
                }
            }
        }

        let mut stored = Stored {
            t: hit.time,
            r: reference,
            v: None,
            n: None,
            id: event_id.map(str::to_string),
            w: repeat_count(&hit.event),
        };
        if let Some(field) = rule.condition.as_ref().and_then(|c| c.field.as_deref()) {
            let field = rule.resolve_field(field, reference_name);
            if rule.kind.is_numeric() {
                stored.n = first_number(&hit.event, field);
            } else {
                stored.v = first_text(&hit.event, field);
            }
            if stored.n.is_none() && stored.v.is_none() {
                stats.missing_value += 1;
                return;
            }
        }

        let previous = self.newest;
        if let Some(newest) = previous {
            if hit.time < newest.saturating_sub(span) {
                stats.late_dropped += 1;
                return;
            }
        }
        let newest = previous.map_or(hit.time, |n| n.max(hit.time));
        self.newest = Some(newest);
        let watermark = newest.saturating_sub(span);
        let forget_before = watermark.saturating_sub(span);
        let advanced = previous.is_none_or(|p| newest > p);
        // Judge the windows this match finalises before forgetting anything
        // (a match that moves the watermark is the newest: in none of them).
        if advanced && !self.eager && watermark >= self.next_close {
            self.close_windows(watermark, out);
        }

        if !self.groups.contains_key(&key) && self.groups.len() >= limits.max_groups.max(1) {
            self.groups
                .retain(|_, g| g.events.last().is_some_and(|e| e.t > forget_before));
            if self.groups.len() >= limits.max_groups.max(1) {
                if let Some(oldest) = self
                    .groups
                    .iter()
                    .min_by(|a, b| a.1.last_seen.cmp(&b.1.last_seen).then(a.0.cmp(b.0)))
                    .map(|(k, _)| k.clone())
                {
                    self.groups.remove(&oldest);
                    stats.evicted_groups += 1;
                }
            }
        }

        let group = self.groups.entry(key.clone()).or_default();
        let at = group.events.partition_point(|e| e.t <= hit.time);
        group.events.insert(at, stored);
        group.last_seen = group.last_seen.max(hit.time);
        let expired = group.events.partition_point(|e| e.t <= forget_before);
        group.events.drain(..expired);
        let cap = limits.max_events_per_group.max(1);
        if group.events.len() > cap {
            let extra = group.events.len() - cap;
            group.events.drain(..extra);
            stats.evicted_events += extra as u64;
        }

        if self.eager {
            if let Some(found) = fire_eager(&self.rule, &key, group, hit.time) {
                out.push(found);
            }
        } else {
            self.next_close = self.next_close.min(hit.time.saturating_add(span));
        }

        if advanced && newest >= self.next_sweep {
            self.groups.retain(|_, g| {
                let expired = g.events.partition_point(|e| e.t <= forget_before);
                g.events.drain(..expired);
                !g.events.is_empty()
            });
            self.next_sweep = newest.saturating_add(span);
        }
    }

    /// Judges, in every group, the windows that end at or before
    /// `watermark` and have not been judged.
    fn close_windows(&mut self, watermark: i64, out: &mut Vec<CorrelationHit>) {
        let rule = &self.rule;
        let span = rule.timespan;
        let mut keys: Vec<&Vec<String>> = self.groups.keys().collect();
        keys.sort();
        let mut fired: Vec<(Vec<String>, i64, i64)> = Vec::new();
        let mut next_close = i64::MAX;
        for key in keys {
            let group = &self.groups[key];
            let mut suppress_until = group.suppress_until;
            let mut closed_through = group.closed_through;
            let mut last_anchor = None;
            let first = group.events.partition_point(|e| e.t <= closed_through);
            for (i, e) in group.events.iter().enumerate().skip(first) {
                let s = e.t;
                if last_anchor == Some(s) {
                    continue;
                }
                last_anchor = Some(s);
                if s.saturating_add(span) > watermark {
                    next_close = next_close.min(s.saturating_add(span));
                    break;
                }
                closed_through = s;
                if s < suppress_until {
                    continue;
                }
                let end = s.saturating_add(span);
                let hi = group.events.partition_point(|e| e.t < end);
                if let Some(found) = judge(rule, key, &group.events[i..hi]) {
                    out.push(found);
                    suppress_until = end;
                }
            }
            fired.push((key.clone(), suppress_until, closed_through));
        }
        self.next_close = next_close;
        for (key, suppress_until, closed_through) in fired {
            if let Some(group) = self.groups.get_mut(&key) {
                group.suppress_until = suppress_until;
                group.closed_through = closed_through;
            }
        }
    }
}

/// For conditions that only become true: the earliest window containing
/// `time` that holds, if any; the group is then suppressed until it ends.
fn fire_eager(
    rule: &CorrelationRule,
    key: &[String],
    group: &mut Group,
    time: i64,
) -> Option<CorrelationHit> {
    let span = rule.timespan;
    let lowest = time
        .saturating_sub(span)
        .saturating_add(1)
        .max(group.suppress_until);
    let start = group.events.partition_point(|e| e.t < lowest);
    let mut last_anchor = None;
    for i in start..group.events.len() {
        let s = group.events[i].t;
        if s > time {
            break;
        }
        if last_anchor == Some(s) {
            continue;
        }
        last_anchor = Some(s);
        let end = s.saturating_add(span);
        let hi = group.events.partition_point(|e| e.t < end);
        if let Some(found) = judge(rule, key, &group.events[i..hi]) {
            group.suppress_until = end;
            return Some(found);
        }
    }
    None
}

/// The hit for one window, if the rule's condition holds over it.
fn judge(rule: &CorrelationRule, key: &[String], window: &[Stored]) -> Option<CorrelationHit> {
    let value = measure(rule, window)?;
    let holds = match &rule.condition {
        Some(condition) => condition.holds(value),
        None => value >= rule.rules.len() as f64,
    };
    if !holds {
        return None;
    }
    Some(CorrelationHit {
        title: rule.title.clone(),
        id: rule.id.clone(),
        name: rule.name.clone(),
        level: rule.level,
        kind: rule.kind,
        group: rule
            .group_by
            .iter()
            .cloned()
            .zip(key.iter().cloned())
            .collect(),
        first_time: window.first()?.t,
        last_time: window.last()?.t,
        value,
        event_times: window.iter().map(|e| e.t).collect(),
        event_ids: window
            .iter()
            .filter_map(|e| e.id.clone())
            .take(MAX_EVENT_IDS)
            .collect(),
    })
}

/// The rule's metric over a window (none for an empty one).
fn measure(rule: &CorrelationRule, window: &[Stored]) -> Option<f64> {
    if window.is_empty() {
        return None;
    }
    let numbers = || window.iter().filter_map(|e| e.n);
    Some(match rule.kind {
        CorrelationType::EventCount => window.iter().map(|e| e.w).sum::<u64>() as f64,
        CorrelationType::ValueCount => window
            .iter()
            .filter_map(|e| e.v.as_deref())
            .collect::<HashSet<_>>()
            .len() as f64,
        CorrelationType::Temporal => {
            window.iter().map(|e| e.r).collect::<HashSet<_>>().len() as f64
        }
        CorrelationType::TemporalOrdered => {
            // Greedy: the longest prefix of the rules matched in order.
            let mut next = 0;
            for e in window {
                if e.r == next {
                    next += 1;
                    if next == rule.rules.len() {
                        break;
                    }
                }
            }
            next as f64
        }
        CorrelationType::ValueSum => numbers().sum(),
        CorrelationType::ValueAvg => {
            let (sum, n) = numbers().fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
            if n == 0 {
                return None;
            }
            sum / n as f64
        }
        CorrelationType::ValuePercentile => {
            let mut values: Vec<f64> = numbers().collect();
            let p = rule.condition.as_ref()?.percentile?;
            percentile(&mut values, p)?
        }
    })
}

/// Linear interpolation between the closest ranks (`p` from 0 to 100).
fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = p / 100.0 * (values.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    Some(values[lo] + (values[hi] - values[lo]) * (rank - lo as f64))
}

/// The first non-null value of a field, as text.
fn first_text(event: &Map<String, Json>, field: &str) -> Option<String> {
    event
        .field_values(field)
        .into_iter()
        .find(|v| !matches!(v, FieldValue::Null))
        .map(|v| v.as_text().into_owned())
}

/// The first numeric value of a field (numbers, or text that reads as one).
fn first_number(event: &Map<String, Json>, field: &str) -> Option<f64> {
    event
        .field_values(field)
        .into_iter()
        .find_map(|v| match v {
            FieldValue::Int(i) => Some(i as f64),
            FieldValue::Float(f) => Some(f),
            FieldValue::Str(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        })
        .filter(|n| n.is_finite())
}

#[cfg(test)]
mod unit {
    use super::percentile;

    #[test]
    fn correlation_percentile_interpolates() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile(&mut v, 0.0), Some(1.0));
        assert_eq!(percentile(&mut v, 100.0), Some(4.0));
        assert_eq!(percentile(&mut v, 50.0), Some(2.5));
        assert_eq!(percentile(&mut [], 50.0), None);
    }
}
