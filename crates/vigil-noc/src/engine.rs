//! The engine: observations and clock ticks in, alert transitions out.
//!
//! Two layers per alert key (`rule|asset|series-or-check`):
//!
//! 1. The *condition* (`eval`): does the rule hold for this series
//!    or check, after `for`, hysteresis and learning periods?
//! 2. What has been *shown*: nothing, fired, or suppressed (by whom). Each
//!    change of condition, and each tick, compares what should be shown
//!    (condition + [`SuppressedBy`]) with what was, and emits the one event
//!    of the transition. Nothing is emitted while the state holds.
//!
//! Suppression holds pages back, it never takes one back: an alert that
//! fired stays fired until its condition clears, whatever window opens or
//! parent falls. Precedence: maintenance, then parent, then flapping, then
//! waiting for a parent's answer.
//!
//! Parents: an asset is *down* while one of its reachability checks
//! (`icmp` by default) last reported down, and *recovering* for
//! `parent_grace` after it came back. Alerts of assets behind a down or
//! recovering ancestor are suppressed; once the grace is over, those that
//! still hold fire, those that cleared are withdrawn without a page.
//!
//! Waiting for a parent's answer (`dependency_wait`, 90s by default, `0s`
//! turns it off). Checks run on their own schedules: when a router dies, a
//! host behind it can reach its third failed ping before the router's own
//! check has run once, and without more it would page before anyone knows
//! the router is down (N hosts, N pages, then the router's). So an alert
//! that would fire and sits behind an ancestor that has reachability
//! checks waits (suppressed, [`SuppressedBy::AwaitingParent`]) until each
//! such ancestor has reported a reachability result at or after the moment
//! the alert's condition began (the first failure of the streak, the first
//! sample of a `for`, the start of a silence). A result from after that
//! moment is one the outage would already show: if an ancestor reports
//! down, the alert is suppressed behind it as above and never pages; once
//! all have reported up, or `dependency_wait` has passed since the wait
//! began, it fires, with a note saying what it waited for. This is Nagios'
//! "check the parent before notifying", done with the results the checks
//! send anyway, bounded like Alertmanager's group wait. Nothing waits when
//! no ancestor has reachability checks (no added latency), nor for an
//! ancestor whose checks have not reported within `stale_after` before the
//! condition began (a removed check must not delay every page behind it),
//! nor for one the engine has not seen a result of yet unless the topology
//! says it has reachability checks configured ([`Topology::with_watched`]:
//! after a fresh start, their first results are on their way). Ticks release the
//! pages whose wait ran out. After a restore, held pages wait again from
//! the first moment the engine runs (it saw nothing while it was down, and
//! the ancestors' checks start over). Precedence: maintenance, parent,
//! flapping, then this wait (it only delays what would otherwise page).

use crate::eval::{BaselineState, Change, Gate, PredictState, RateState, Reading};
use crate::flapping::{Flap, FlapConfig, FlapHistory};
use crate::maintenance::{parse_offset, MaintenanceWindow, WindowError};
use crate::span::Span;
use crate::spec::{
    render, show, validate_all, Condition, LabelMatch, RuleSpec, Severity, SpecError, Team,
};
use crate::text;
use crate::topology::Topology;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// The version of [`Engine::snapshot`]'s format.
pub const SNAPSHOT_VERSION: u64 = 1;

/// Times are Unix milliseconds within ± this (the year 9999): an
/// observation or tick outside is ignored, so differences of times never
/// overflow.
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;

/// The rule id of flapping alerts.
pub const FLAPPING_RULE: &str = "flapping";

/// One series: metric name, labels, and the asset it measures.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesRef {
    pub metric: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub asset: String,
}

impl SeriesRef {
    pub fn new(metric: &str, asset: &str, labels: &[(&str, &str)]) -> SeriesRef {
        SeriesRef {
            metric: metric.to_string(),
            asset: asset.to_string(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The same labels and asset under another metric name.
    fn sibling(&self, metric: &str) -> String {
        series_id(metric, &self.labels, &self.asset)
    }
}

impl fmt::Display for SeriesRef {
    /// `metric{a="1",b="2"}@asset`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&series_id(&self.metric, &self.labels, &self.asset))
    }
}

fn series_id(metric: &str, labels: &BTreeMap<String, String>, asset: &str) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{metric}{{{}}}@{asset}", inner.join(","))
}

/// What the engine is fed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Observation {
    Sample {
        series: SeriesRef,
        time_ms: i64,
        value: f64,
    },
    /// One result of an availability check.
    CheckState {
        check: String,
        /// `icmp`, `tcp`, `http`, `dns`... (what rules and reachability
        /// select on).
        kind: String,
        asset: String,
        time_ms: i64,
        up: bool,
        #[serde(default)]
        reason: String,
        /// What it checks (`https://web01.example/health`, `db01:5432`):
        /// alerts name the check by kind and target.
        #[serde(default)]
        target: String,
    },
}

/// Why an alert is held back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressedBy {
    /// Behind this asset, which is down or just came back.
    Parent(String),
    /// Behind this asset, whose reachability checks have not reported since
    /// the condition began: held for at most `dependency_wait`.
    AwaitingParent(String),
    /// In this maintenance window.
    Maintenance(String),
    /// Its check is flapping (the flapping alert stands for it).
    Flapping,
}

/// One transition of one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AlertEvent {
    /// Page: the condition holds and nothing holds it back.
    Fired {
        key: String,
        rule: String,
        asset: String,
        team: Team,
        severity: Severity,
        title: String,
        description: String,
        value: f64,
        time: i64,
        /// Set when it was held back before (`held back: behind r1...`).
        note: Option<String>,
    },
    /// A fired alert whose condition cleared.
    Resolved {
        key: String,
        rule: String,
        asset: String,
        time: i64,
        reason: String,
    },
    /// The condition holds but the alert is held back (or held back for a
    /// new reason).
    Suppressed {
        key: String,
        rule: String,
        asset: String,
        severity: Severity,
        title: String,
        /// What a page would say (see [`Fired`](AlertEvent::Fired)).
        description: String,
        by: SuppressedBy,
        note: String,
        time: i64,
    },
    /// A suppressed alert whose condition cleared: close it, page nobody.
    Withdrawn {
        key: String,
        rule: String,
        asset: String,
        time: i64,
        reason: String,
    },
}

impl AlertEvent {
    pub fn key(&self) -> &str {
        match self {
            AlertEvent::Fired { key, .. }
            | AlertEvent::Resolved { key, .. }
            | AlertEvent::Suppressed { key, .. }
            | AlertEvent::Withdrawn { key, .. } => key,
        }
    }
}

/// Engine-wide settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// A sample older than this no longer completes a `for` on a tick.
    pub stale_after: Span,
    /// How long children stay suppressed after their parent came back.
    pub parent_grace: Span,
    /// Check kinds whose failure makes an asset down for its children.
    pub reachability_kinds: Vec<String>,
    pub flapping: FlapConfig,
    /// How long an alert that would fire waits for the reachability
    /// results of its ancestors (see the module docs); `0s`: not at all.
    pub dependency_wait: Span,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            stale_after: Span::from_mins(5),
            parent_grace: Span::from_mins(2),
            reachability_kinds: vec!["icmp".to_string()],
            flapping: FlapConfig::default(),
            dependency_wait: Span::from_secs(90),
        }
    }
}

/// Why an engine could not be built or restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Window(#[from] WindowError),
    #[error("engine config: {0}")]
    Config(String),
    #[error("engine snapshot: {0}")]
    Snapshot(String),
}

/// A rule ready to run.
#[derive(Debug)]
struct Compiled {
    spec: RuleSpec,
    labels: Vec<LabelMatch>,
    /// Baseline: seconds east of UTC.
    offset_s: i32,
    fingerprint: String,
}

impl Compiled {
    fn new(spec: RuleSpec) -> Compiled {
        let labels = match &spec.condition {
            Condition::Threshold(c) => &c.labels,
            Condition::RateOfChange(c) => &c.labels,
            Condition::PredictFull(c) => &c.labels,
            Condition::NoData(c) => &c.labels,
            Condition::Baseline(c) => &c.labels,
            Condition::ConsecutiveFailures(_) => &BTreeMap::new(),
        };
        // Validated before: the matchers parse.
        let labels = labels
            .iter()
            .filter_map(|(name, text)| LabelMatch::parse(name, text).ok())
            .collect();
        let offset_s = match &spec.condition {
            Condition::Baseline(b) => b
                .utc_offset
                .as_deref()
                .and_then(|o| parse_offset(o).ok())
                .map_or(0, |o| o.local_minus_utc()),
            _ => 0,
        };
        let fingerprint = serde_json::to_string(&spec.condition).unwrap_or_default();
        Compiled {
            spec,
            labels,
            offset_s,
            fingerprint,
        }
    }

    fn for_ms(&self) -> i64 {
        match &self.spec.condition {
            Condition::Threshold(t) => t.for_.as_ms(),
            Condition::Baseline(b) => b.for_.as_ms(),
            _ => 0,
        }
    }
}

/// Per-kind memory of one alert key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindState {
    #[default]
    Plain,
    Fails(u32),
    Rate(RateState),
    Predict(PredictState),
    NoData {
        last_seen: i64,
        /// The engine was restored: silence counts from here at the
        /// earliest (it could not see samples while it was down).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        blind_from: Option<i64>,
    },
    Baseline(BaselineState),
    /// The flapping alert of a check: changes in the window.
    Flapping(usize),
}

/// What the outside world has been told about a key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Shown {
    #[default]
    Nothing,
    Fired,
    Suppressed(SuppressedBy),
}

/// Everything kept per alert key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Track {
    rule: String,
    asset: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    check: Option<String>,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    #[serde(default)]
    value: f64,
    #[serde(default)]
    gate: Gate,
    #[serde(default)]
    state: KindState,
    #[serde(default)]
    shown: Shown,
    /// Why the condition last cleared.
    #[serde(default)]
    reason: String,
    /// When the condition began to hold: the first failure of the streak,
    /// the first sample of a `for`, the start of a silence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    began: Option<i64>,
    /// Held back waiting for ancestors' reachability results since then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    waiting_since: Option<i64>,
}

impl Track {
    fn new(rule: &str, asset: &str, vars: BTreeMap<String, String>, state: KindState) -> Track {
        Track {
            rule: rule.to_string(),
            asset: asset.to_string(),
            check: None,
            vars,
            value: 0.0,
            gate: Gate::default(),
            state,
            shown: Shown::Nothing,
            reason: String::new(),
            began: None,
            waiting_since: None,
        }
    }
}

impl Track {
    /// Nothing pending, shown or learned: the same as a new track, so it
    /// can be dropped (series come and go; memory should not only grow).
    fn idle(&self) -> bool {
        let trivial = matches!(
            self.state,
            KindState::Plain | KindState::Fails(0) | KindState::Flapping(_)
        );
        trivial
            && !self.gate.active
            && self.gate.pending_since.is_none()
            && self.shown == Shown::Nothing
    }
}

/// The last result and flapping history of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CheckMemo {
    asset: String,
    kind: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    flap: FlapHistory,
    /// Time of the latest result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last: Option<i64>,
}

/// What a snapshot holds.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotDoc {
    version: u64,
    now: i64,
    /// Rule id → fingerprint of its condition.
    rules: BTreeMap<String, String>,
    tracks: BTreeMap<String, Track>,
    checks: BTreeMap<String, CheckMemo>,
    aux: BTreeMap<String, f64>,
    down: BTreeMap<String, BTreeSet<String>>,
    up_since: BTreeMap<String, i64>,
}

/// The state of a set of NOC rules over all series, checks and assets.
#[derive(Debug)]
pub struct Engine {
    rules: Vec<Compiled>,
    by_id: HashMap<String, usize>,
    /// Rule indexes by the metric they evaluate.
    by_metric: HashMap<String, Vec<usize>>,
    /// Metrics read as guards or sizes: their latest values are kept.
    aux_metrics: BTreeSet<String>,
    config: EngineConfig,
    topology: Topology,
    windows: Vec<MaintenanceWindow>,
    tracks: BTreeMap<String, Track>,
    checks: BTreeMap<String, CheckMemo>,
    aux: BTreeMap<String, f64>,
    /// Assets that are down → their failing reachability checks.
    down: BTreeMap<String, BTreeSet<String>>,
    /// Assets that came back → when (kept through the grace).
    up_since: BTreeMap<String, i64>,
    /// Assets with reachability checks → time of their latest result
    /// (derived from `checks`).
    reach_last: HashMap<String, i64>,
    now: i64,
    /// Restored and not ticked yet.
    restored: bool,
}

/// What should be shown for a key now.
enum Want {
    Nothing,
    /// With a note when it was held back.
    Fired(Option<String>),
    Suppressed(SuppressedBy, String),
}

impl Engine {
    /// An engine for these rules (validated, ids unique).
    pub fn new(rules: Vec<RuleSpec>, config: EngineConfig) -> Result<Engine, EngineError> {
        validate_all(&rules)?;
        config.flapping.validate().map_err(EngineError::Config)?;
        if config.stale_after.as_ms() <= 0 {
            return Err(EngineError::Config(
                "stale_after must be longer than 0s".into(),
            ));
        }
        let rules: Vec<Compiled> = rules.into_iter().map(Compiled::new).collect();
        let mut by_metric: HashMap<String, Vec<usize>> = HashMap::new();
        let mut aux_metrics = BTreeSet::new();
        for (i, rule) in rules.iter().enumerate() {
            let metrics = rule.spec.metrics();
            if let Some((main, rest)) = metrics.split_first() {
                by_metric.entry(main.to_string()).or_default().push(i);
                aux_metrics.extend(rest.iter().map(|m| m.to_string()));
            }
        }
        let by_id = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.spec.id.clone(), i))
            .collect();
        Ok(Engine {
            rules,
            by_id,
            by_metric,
            aux_metrics,
            config,
            topology: Topology::default(),
            windows: Vec::new(),
            tracks: BTreeMap::new(),
            checks: BTreeMap::new(),
            aux: BTreeMap::new(),
            down: BTreeMap::new(),
            up_since: BTreeMap::new(),
            reach_last: HashMap::new(),
            now: -MAX_TIME_MS,
            restored: false,
        })
    }

    /// Parents and tags; judged from the next observation or tick on.
    pub fn set_topology(&mut self, topology: Topology) {
        self.topology = topology;
    }

    /// Replaces the maintenance windows (each validated).
    pub fn set_windows(&mut self, windows: Vec<MaintenanceWindow>) -> Result<(), WindowError> {
        windows.iter().try_for_each(MaintenanceWindow::validate)?;
        self.windows = windows;
        Ok(())
    }

    pub fn rules(&self) -> impl Iterator<Item = &RuleSpec> {
        self.rules.iter().map(|r| &r.spec)
    }

    /// Keys whose condition holds now, with what is shown for each
    /// (`None`: fired, `Some(by)`: suppressed).
    pub fn active(&self) -> Vec<(&str, Option<&SuppressedBy>)> {
        self.tracks
            .iter()
            .filter(|(_, t)| t.gate.active)
            .map(|(key, t)| match &t.shown {
                Shown::Suppressed(by) => (key.as_str(), Some(by)),
                _ => (key.as_str(), None),
            })
            .collect()
    }

    /// Feeds one observation; returns the transitions it caused.
    pub fn observe(&mut self, observation: &Observation) -> Vec<AlertEvent> {
        let mut out = Vec::new();
        let (Observation::Sample { time_ms, .. } | Observation::CheckState { time_ms, .. }) =
            observation;
        if time_ms.unsigned_abs() > MAX_TIME_MS.unsigned_abs() {
            return out;
        }
        match observation {
            Observation::Sample {
                series,
                time_ms,
                value,
            } => self.sample(series, *time_ms, *value, &mut out),
            Observation::CheckState {
                check,
                kind,
                asset,
                time_ms,
                up,
                reason,
                target,
            } => {
                let id = CheckId {
                    check,
                    kind,
                    target,
                };
                self.check(&id, asset, *time_ms, *up, reason, &mut out)
            }
        }
        out
    }

    /// Judges what depends on time alone: `for` durations, no-data,
    /// holds, flapping that calmed down, maintenance windows opening and
    /// closing, parents' grace running out.
    pub fn tick(&mut self, now: i64) -> Vec<AlertEvent> {
        if now.unsigned_abs() > MAX_TIME_MS.unsigned_abs() {
            return Vec::new();
        }
        self.advance(now);
        let now = self.now;
        let mut out = Vec::new();
        if std::mem::take(&mut self.restored) {
            self.start_blind(now);
        }
        let keys: Vec<String> = self.tracks.keys().cloned().collect();
        for key in &keys {
            self.tick_track(key, now);
        }
        self.tick_flapping(now);
        let grace = self.config.parent_grace.as_ms();
        for key in &keys {
            self.publish(key, &mut out);
        }
        self.up_since.retain(|_, since| now - *since < grace);
        self.tracks.retain(|_, track| !track.idle());
        out
    }

    fn advance(&mut self, time: i64) {
        self.now = self.now.max(time);
    }

    fn sample(&mut self, series: &SeriesRef, time: i64, value: f64, out: &mut Vec<AlertEvent>) {
        if !value.is_finite() {
            return;
        }
        self.advance(time);
        if self.aux_metrics.contains(&series.metric) {
            self.aux.insert(series.to_string(), value);
        }
        let Some(indexes) = self.by_metric.get(&series.metric).cloned() else {
            return;
        };
        for i in indexes {
            if !self.rules[i]
                .labels
                .iter()
                .all(|m| m.matches(&series.labels))
            {
                continue;
            }
            let key = format!("{}|{}|{}", self.rules[i].spec.id, series.asset, series);
            self.sample_rule(i, &key, series, time, value);
            self.publish(&key, out);
        }
    }

    fn sample_rule(&mut self, i: usize, key: &str, series: &SeriesRef, time: i64, value: f64) {
        let rule = &self.rules[i];
        let track = self.tracks.entry(key.to_string()).or_insert_with(|| {
            let mut vars = series.labels.clone();
            vars.insert("asset".into(), series.asset.clone());
            vars.insert("metric".into(), series.metric.clone());
            vars.insert("unit".into(), rule.spec.unit.clone());
            vars.insert(
                "series".into(),
                series_id(&series.metric, &series.labels, "")
                    .trim_end_matches('@')
                    .to_string(),
            );
            Track::new(
                &rule.spec.id,
                &series.asset,
                vars,
                initial_state(&rule.spec.condition, time),
            )
        });
        let pending = track.gate.pending_since;
        let reading = read_sample(rule, track, &self.aux, series, time, value);
        let change = match reading {
            Some(reading) => apply(track, &reading, rule.for_ms()),
            None => None,
        };
        note_change(track, change, pending.unwrap_or(time), time);
    }

    fn check(
        &mut self,
        id: &CheckId<'_>,
        asset: &str,
        time: i64,
        up: bool,
        reason: &str,
        out: &mut Vec<AlertEvent>,
    ) {
        let (check, kind) = (id.check, id.kind);
        self.advance(time);
        let settle = self.failure_count(kind);
        let memo = self
            .checks
            .entry(check.to_string())
            .or_insert_with(|| CheckMemo {
                asset: asset.to_string(),
                kind: kind.to_string(),
                target: String::new(),
                flap: FlapHistory::default(),
                last: None,
            });
        let moved = std::mem::replace(&mut memo.asset, asset.to_string());
        let rekinded = std::mem::replace(&mut memo.kind, kind.to_string()) != kind;
        memo.target = id.target.to_string();
        memo.last = Some(memo.last.map_or(time, |t| t.max(time)));
        let flap = memo.flap.record(time, up, &self.config.flapping, settle);
        let reachability = self.is_reachability(kind);
        if moved != asset || rekinded {
            self.index_reachability();
        } else if reachability {
            let last = self.reach_last.entry(asset.to_string()).or_insert(time);
            *last = (*last).max(time);
        }
        // A check moved to another asset no longer holds its old one down.
        let mut reach_changed =
            moved != asset && self.note_reachability(check, kind, &moved, time, true);
        reach_changed |= self.note_reachability(check, kind, asset, time, up);
        let mut touched = self.check_rules(id, asset, time, up, reason);
        if let Some(flap) = flap {
            touched.push(self.flap_changed(check, asset, flap, time));
            touched.extend(self.keys_of_check(check));
        }
        if reach_changed {
            touched = self.tracks.keys().cloned().collect();
        } else if reachability {
            // It may answer what held-back alerts wait for.
            touched.extend(
                self.tracks
                    .iter()
                    .filter(|(_, t)| {
                        matches!(t.shown, Shown::Suppressed(SuppressedBy::AwaitingParent(_)))
                    })
                    .map(|(k, _)| k.clone()),
            );
        }
        for key in touched {
            self.publish(&key, out);
        }
    }

    /// The failures in a row that page a check of this kind: the smallest
    /// `n` of the consecutive-failure rules for it (`u32::MAX`: none).
    /// Flapping settles at it (see [`crate::flapping`]).
    fn failure_count(&self, kind: &str) -> u32 {
        self.rules
            .iter()
            .filter_map(|r| match &r.spec.condition {
                Condition::ConsecutiveFailures(c)
                    if c.check_kinds.is_empty() || c.check_kinds.iter().any(|k| k == kind) =>
                {
                    Some(c.n)
                }
                _ => None,
            })
            .min()
            .unwrap_or(u32::MAX)
    }

    fn is_reachability(&self, kind: &str) -> bool {
        self.config.reachability_kinds.iter().any(|k| k == kind)
    }

    /// Rebuilds `reach_last` from the checks' memos (after a restore, or a
    /// check moved to another asset or changed kind).
    fn index_reachability(&mut self) {
        let mut index: HashMap<String, i64> = HashMap::new();
        for memo in self.checks.values() {
            let Some(time) = memo.last else { continue };
            if self.is_reachability(&memo.kind) {
                let last = index.entry(memo.asset.clone()).or_insert(time);
                *last = (*last).max(time);
            }
        }
        self.reach_last = index;
    }

    /// Updates the down set; true when the asset went down or came up.
    fn note_reachability(
        &mut self,
        check: &str,
        kind: &str,
        asset: &str,
        time: i64,
        up: bool,
    ) -> bool {
        if !self.is_reachability(kind) {
            return false;
        }
        let was_down = self.down.contains_key(asset);
        if up {
            if let Some(set) = self.down.get_mut(asset) {
                set.remove(check);
                if set.is_empty() {
                    self.down.remove(asset);
                    self.up_since.insert(asset.to_string(), time);
                }
            }
        } else {
            self.down
                .entry(asset.to_string())
                .or_default()
                .insert(check.to_string());
            self.up_since.remove(asset);
        }
        was_down != self.down.contains_key(asset)
    }

    /// Runs the consecutive-failure rules on a check result; returns the
    /// keys it touched.
    fn check_rules(
        &mut self,
        id: &CheckId<'_>,
        asset: &str,
        time: i64,
        up: bool,
        reason: &str,
    ) -> Vec<String> {
        let (check, kind) = (id.check, id.kind);
        let mut keys = Vec::new();
        for rule in &self.rules {
            let Condition::ConsecutiveFailures(c) = &rule.spec.condition else {
                continue;
            };
            if !c.check_kinds.is_empty() && !c.check_kinds.iter().any(|k| k == kind) {
                continue;
            }
            let key = format!("{}|{asset}|{check}", rule.spec.id);
            let track = self.tracks.entry(key.clone()).or_insert_with(|| {
                let mut t = Track::new(&rule.spec.id, asset, BTreeMap::new(), KindState::Fails(0));
                t.check = Some(check.to_string());
                t
            });
            // Kind and target may change with the check: named as now.
            track.vars.extend(check_vars(id, asset));
            let (was_began, was_fails) = match track.state {
                KindState::Fails(n) => (track.began, n),
                _ => (track.began, 0),
            };
            let fails = match (&mut track.state, up) {
                (KindState::Fails(n), false) => {
                    *n = n.saturating_add(1);
                    *n
                }
                (state, _) => {
                    *state = KindState::Fails(0);
                    0
                }
            };
            track.began = match up {
                true => None,
                false => Some(track.began.unwrap_or(time)),
            };
            if fails == 1 {
                track.vars.remove("reason");
            }
            if !up && !reason.trim().is_empty() {
                track
                    .vars
                    .insert("reason".into(), reason.trim().to_string());
            }
            let clear = text::check_back_up(kind, id.target, was_began, time, was_fails);
            let reading = Reading::new(time, f64::from(fails), fails >= c.n, !up, clear);
            if let Some(Change::Cleared(reason)) = apply(track, &reading, 0) {
                track.reason = reason;
            }
            keys.push(key);
        }
        keys
    }

    fn keys_of_check(&self, check: &str) -> Vec<String> {
        self.tracks
            .iter()
            .filter(|(_, t)| t.check.as_deref() == Some(check))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Starts or stops a check's flapping alert; returns its key.
    fn flap_changed(&mut self, check: &str, asset: &str, flap: Flap, time: i64) -> String {
        let key = format!("{FLAPPING_RULE}|{asset}|{check}");
        let window = self.config.flapping.window;
        let (kind, target) = self
            .checks
            .get(check)
            .map(|m| (m.kind.clone(), m.target.clone()))
            .unwrap_or_default();
        let id = CheckId {
            check,
            kind: &kind,
            target: &target,
        };
        let track = self.tracks.entry(key.clone()).or_insert_with(|| {
            let mut t = Track::new(
                FLAPPING_RULE,
                asset,
                BTreeMap::new(),
                KindState::Flapping(0),
            );
            t.check = Some(check.to_string());
            t
        });
        track.vars.extend(check_vars(&id, asset));
        match flap {
            Flap::Started(n) => {
                track.state = KindState::Flapping(n);
                track.value = n as f64;
                track.vars.insert("changes".into(), n.to_string());
                track.gate.active = true;
                track.began = Some(time);
            }
            Flap::Stopped(n) => {
                track.state = KindState::Flapping(n);
                track.gate.active = false;
                let plural = if n == 1 { "" } else { "s" };
                let reason = format!("cleared: stable, {n} state change{plural} in {window}");
                track.reason = text::cleared_after(&reason, track.began.take(), time);
            }
            Flap::Settled(n) => {
                track.state = KindState::Flapping(0);
                track.gate.active = false;
                let reason = format!(
                    "cleared: no longer flapping, down {n} times in a row (longer than any down spell in the last {window}): its down alert pages"
                );
                track.reason = text::cleared_after(&reason, track.began.take(), time);
            }
        }
        key
    }

    fn tick_flapping(&mut self, now: i64) {
        let cfg = self.config.flapping.clone();
        let mut changed = Vec::new();
        for (check, memo) in &mut self.checks {
            if let Some(flap) = memo.flap.judge(now, &cfg) {
                changed.push((check.clone(), memo.asset.clone(), flap));
            }
        }
        for (check, asset, flap) in changed {
            self.flap_changed(&check, &asset, flap, now);
        }
    }

    fn tick_track(&mut self, key: &str, now: i64) {
        let Some(track) = self.tracks.get_mut(key) else {
            return;
        };
        let Some(&i) = self.by_id.get(&track.rule) else {
            return;
        };
        let rule = &self.rules[i];
        let mut began = track.gate.pending_since.unwrap_or(now);
        let change = match (&rule.spec.condition, &mut track.state) {
            (
                Condition::NoData(n),
                KindState::NoData {
                    last_seen,
                    blind_from,
                },
            ) => {
                let from = blind_from.map_or(*last_seen, |b| b.max(*last_seen));
                began = from;
                let silent = now - from;
                if track.gate.active || silent < n.after.as_ms() {
                    None
                } else {
                    track.value = silent as f64 / 1000.0;
                    track
                        .vars
                        .insert("silent".into(), Span::from_ms(silent).to_string());
                    track.gate.active = true;
                    Some(Change::Activated)
                }
            }
            (Condition::RateOfChange(r), KindState::Rate(state)) if !r.hold.is_zero() => {
                let over = track.gate.active && state.hold_over(now, r.hold.as_ms());
                over.then(|| {
                    track
                        .gate
                        .clear(format!("cleared: no breach for {}", r.hold))
                })
                .flatten()
            }
            _ => track
                .gate
                .tick(now, rule.for_ms(), self.config.stale_after.as_ms()),
        };
        note_change(track, change, began, now);
    }

    fn start_blind(&mut self, now: i64) {
        for track in self.tracks.values_mut() {
            if let KindState::NoData { blind_from, .. } = &mut track.state {
                *blind_from = Some(now);
            }
        }
    }

    /// Why an alert of this asset (and check) is held back now, if it is.
    fn suppression(&self, track: &Track) -> Option<(SuppressedBy, String)> {
        let asset = track.asset.as_str();
        let tags = self.topology.tags(asset);
        if let Some(w) = self
            .windows
            .iter()
            .find(|w| w.covers(asset, tags) && w.is_open(self.now))
        {
            let note = match w.note.is_empty() {
                true => format!("in maintenance window {}", w.id),
                false => format!("in maintenance window {}: {}", w.id, w.note),
            };
            return Some((SuppressedBy::Maintenance(w.id.clone()), note));
        }
        let grace = self.config.parent_grace.as_ms();
        for ancestor in self.topology.ancestors(asset) {
            if self.down.contains_key(ancestor) {
                return Some((
                    SuppressedBy::Parent(ancestor.into()),
                    format!("behind {ancestor}, which is down"),
                ));
            }
            if self
                .up_since
                .get(ancestor)
                .is_some_and(|t| self.now - t < grace)
            {
                let note = format!("behind {ancestor}, which has just come back");
                return Some((SuppressedBy::Parent(ancestor.into()), note));
            }
        }
        let check = track.check.as_deref()?;
        let flapping = self.checks.get(check).is_some_and(|m| m.flap.flapping);
        let name = track.vars.get("check_name").map_or(check, String::as_str);
        (flapping && track.rule != FLAPPING_RULE)
            .then(|| (SuppressedBy::Flapping, format!("{name} is flapping")))
    }

    /// The nearest ancestor whose reachability results an alert of this
    /// track still waits for, if any (see the module docs).
    fn awaited_ancestor<'a>(&'a self, track: &'a Track) -> Option<&'a str> {
        if self.config.dependency_wait.as_ms() <= 0 {
            return None;
        }
        let began = track.began.or(track.waiting_since).unwrap_or(self.now);
        let fresh = began.saturating_sub(self.config.stale_after.as_ms());
        self.topology
            .ancestors(&track.asset)
            .find(|a| match self.reach_last.get(*a) {
                Some(&last) => last < began && last >= fresh,
                // Never answered: wait only where a check is configured
                // (its first result is on its way after a fresh start).
                None => self.topology.is_watched(a),
            })
    }

    /// What should be shown for a key now, and since when it waits for
    /// its ancestors' answers if it does.
    fn want(&self, track: &Track) -> (Want, Option<i64>) {
        if !track.gate.active {
            return (Want::Nothing, None);
        }
        if let Some((by, note)) = self.suppression(track) {
            return (Want::Suppressed(by, note), None);
        }
        if track.shown == Shown::Fired {
            return (Want::Fired(None), None);
        }
        let wait = self.config.dependency_wait;
        let since = track.waiting_since.unwrap_or(self.now);
        let waited = Span::from_ms(self.now - since);
        let awaited = match &track.shown {
            Shown::Suppressed(SuppressedBy::AwaitingParent(a)) => Some(a.as_str()),
            _ => None,
        };
        match self.awaited_ancestor(track) {
            Some(a) if waited < wait => {
                let note = format!("behind {a}: waiting up to {wait} for {a}'s reachability check");
                (
                    Want::Suppressed(SuppressedBy::AwaitingParent(a.into()), note),
                    Some(since),
                )
            }
            Some(a) => {
                let a = awaited.unwrap_or(a);
                let note = format!(
                    "fired after waiting {waited} for {a}'s reachability check (no result)"
                );
                (Want::Fired(Some(note)), None)
            }
            None => {
                let note = awaited.map(|a| {
                    format!("fired after waiting {waited} for {a}'s reachability check ({a} is up)")
                });
                (Want::Fired(note), None)
            }
        }
    }

    /// Emits the transition, if any, between what was shown for a key and
    /// what should be.
    fn publish(&mut self, key: &str, out: &mut Vec<AlertEvent>) {
        let Some(track) = self.tracks.get(key) else {
            return;
        };
        let (want, waiting_since) = self.want(track);
        let event = self.transition(key, track, want);
        let Some(track) = self.tracks.get_mut(key) else {
            return;
        };
        track.waiting_since = waiting_since;
        if let Some((event, shown)) = event {
            track.shown = shown;
            out.push(event);
        }
    }

    fn transition(&self, key: &str, track: &Track, want: Want) -> Option<(AlertEvent, Shown)> {
        let (rule, asset, time) = (track.rule.clone(), track.asset.clone(), self.now);
        match (&track.shown, want) {
            (Shown::Nothing, Want::Nothing)
            | (Shown::Fired, Want::Fired(_) | Want::Suppressed(..)) => None,
            (Shown::Nothing, Want::Fired(note)) => {
                Some((self.fired(key, track, note), Shown::Fired))
            }
            (Shown::Suppressed(by), Want::Fired(note)) => {
                let note = note.unwrap_or_else(|| format!("held back before: {}", describe(by)));
                Some((self.fired(key, track, Some(note)), Shown::Fired))
            }
            (Shown::Suppressed(was), Want::Suppressed(by, _)) if *was == by => None,
            (_, Want::Suppressed(by, note)) => {
                let (severity, title) = self.headline(track);
                let event = AlertEvent::Suppressed {
                    key: key.to_string(),
                    rule,
                    asset,
                    severity,
                    title,
                    description: self.description(track),
                    by: by.clone(),
                    note,
                    time,
                };
                Some((event, Shown::Suppressed(by)))
            }
            (Shown::Fired, Want::Nothing) => {
                let reason = track.reason.clone();
                Some((
                    AlertEvent::Resolved {
                        key: key.to_string(),
                        rule,
                        asset,
                        time,
                        reason,
                    },
                    Shown::Nothing,
                ))
            }
            (Shown::Suppressed(_), Want::Nothing) => {
                let reason = track.reason.clone();
                Some((
                    AlertEvent::Withdrawn {
                        key: key.to_string(),
                        rule,
                        asset,
                        time,
                        reason,
                    },
                    Shown::Nothing,
                ))
            }
        }
    }

    fn headline(&self, track: &Track) -> (Severity, String) {
        let mut vars = track.vars.clone();
        vars.insert("value".into(), show(track.value));
        match self.by_id.get(&track.rule) {
            Some(&i) => (
                self.rules[i].spec.severity,
                render(&self.rules[i].spec.title, &vars),
            ),
            None => {
                let check = vars.get("check_name").cloned().unwrap_or_default();
                let title = format!(
                    "{}: {check} is flapping ({} state changes in {})",
                    track.asset,
                    show(track.value),
                    self.config.flapping.window
                );
                (self.config.flapping.severity, title)
            }
        }
    }

    fn fired(&self, key: &str, track: &Track, note: Option<String>) -> AlertEvent {
        let (severity, title) = self.headline(track);
        let rule = self.by_id.get(&track.rule).map(|&i| &self.rules[i].spec);
        AlertEvent::Fired {
            key: key.to_string(),
            rule: track.rule.clone(),
            asset: track.asset.clone(),
            team: rule.map_or(Team::Noc, |r| r.team),
            severity,
            title,
            description: self.description(track),
            value: track.value,
            time: self.now,
            note,
        }
    }

    /// What an alert says beyond its title: what was seen, since when,
    /// how often, why (see [`text`]); then the rule's own description
    /// (its `{placeholders}` filled).
    fn description(&self, track: &Track) -> String {
        let var = |name: &str| track.vars.get(name).cloned();
        let (now, began) = (self.now, track.began);
        let rule = self.by_id.get(&track.rule).map(|&i| &self.rules[i].spec);
        let facts = match rule.map(|r| &r.condition) {
            None => {
                let kind = var("kind").unwrap_or_default();
                let target = var("target").unwrap_or_default();
                let changes = var("changes").unwrap_or_else(|| show(track.value));
                let action = text::check_action(&kind, &target);
                text::flapping(&action, &changes, self.config.flapping.window, began, now)
            }
            Some(Condition::ConsecutiveFailures(_)) => {
                let fails = match track.state {
                    KindState::Fails(n) => n,
                    _ => 0,
                };
                text::check_failing(
                    &var("kind").unwrap_or_default(),
                    &var("target").unwrap_or_default(),
                    fails,
                    began.unwrap_or(now),
                    now,
                    &var("reason").unwrap_or_default(),
                )
            }
            Some(condition) => text::metric_breach(&text::MetricFacts {
                condition,
                series: track.vars.get("series").map_or("", String::as_str),
                asset: &track.asset,
                unit: rule.map_or("", |r| r.unit.as_str()),
                value: track.value,
                extra: &var,
                since: began,
                now,
            }),
        };
        match rule.map(|r| render(&r.description, &track.vars)) {
            Some(own) if !own.trim().is_empty() => format!("{facts}\n{}", own.trim()),
            _ => facts,
        }
    }

    /// The engine's state as JSON, to survive a restart.
    pub fn snapshot(&self) -> Json {
        let doc = SnapshotDoc {
            version: SNAPSHOT_VERSION,
            now: self.now,
            rules: self
                .rules
                .iter()
                .map(|r| (r.spec.id.clone(), r.fingerprint.clone()))
                .collect(),
            tracks: self.tracks.clone(),
            checks: self.checks.clone(),
            aux: self.aux.clone(),
            down: self.down.clone(),
            up_since: self.up_since.clone(),
        };
        serde_json::to_value(doc).unwrap_or(Json::Null)
    }

    /// An engine for `rules` with the state of `snapshot` that still
    /// applies: alert keys of rules whose condition is unchanged (title and
    /// severity may change), checks, parents' states. Alerts shown for rules
    /// that are gone or changed are closed by the returned events. No-data
    /// silence counts from the first tick after the restore at the earliest;
    /// a page held for a parent's answer waits again (up to
    /// `dependency_wait`) from the first observation or tick after it.
    pub fn restore(
        rules: Vec<RuleSpec>,
        config: EngineConfig,
        snapshot: &Json,
    ) -> Result<(Engine, Vec<AlertEvent>), EngineError> {
        let doc: SnapshotDoc = serde_json::from_value(snapshot.clone())
            .map_err(|e| EngineError::Snapshot(e.to_string()))?;
        if doc.version != SNAPSHOT_VERSION {
            return Err(EngineError::Snapshot(format!(
                "version {} (this engine reads version {SNAPSHOT_VERSION})",
                doc.version
            )));
        }
        let mut engine = Engine::new(rules, config)?;
        engine.now = doc.now.clamp(-MAX_TIME_MS, MAX_TIME_MS);
        engine.checks = doc.checks;
        engine.aux = doc.aux;
        engine.down = doc.down;
        engine.up_since = doc.up_since;
        engine.restored = true;
        engine.index_reachability();
        let mut out = Vec::new();
        for (key, mut track) in doc.tracks {
            // Held pages wait again from the first moment this engine runs:
            // it saw nothing while it was down.
            track.waiting_since = None;
            let same = track.rule == FLAPPING_RULE
                || engine.by_id.get(&track.rule).is_some_and(|&i| {
                    Some(&engine.rules[i].fingerprint) == doc.rules.get(&track.rule)
                });
            if same {
                engine.tracks.insert(key, track);
                continue;
            }
            let (rule, asset, time) = (track.rule, track.asset, engine.now);
            let reason = format!("cleared: rule {rule} was removed or changed");
            let key = key.clone();
            match track.shown {
                Shown::Nothing => {}
                Shown::Fired => out.push(AlertEvent::Resolved {
                    key,
                    rule,
                    asset,
                    time,
                    reason,
                }),
                Shown::Suppressed(_) => out.push(AlertEvent::Withdrawn {
                    key,
                    rule,
                    asset,
                    time,
                    reason,
                }),
            }
        }
        Ok((engine, out))
    }
}

fn describe(by: &SuppressedBy) -> String {
    match by {
        SuppressedBy::Parent(p) => format!("behind {p}"),
        SuppressedBy::AwaitingParent(p) => format!("waiting for {p}'s reachability check"),
        SuppressedBy::Maintenance(w) => format!("maintenance window {w}"),
        SuppressedBy::Flapping => "flapping".to_string(),
    }
}

fn initial_state(condition: &Condition, time: i64) -> KindState {
    match condition {
        Condition::Threshold(_) => KindState::Plain,
        Condition::ConsecutiveFailures(_) => KindState::Fails(0),
        Condition::RateOfChange(_) => KindState::Rate(RateState::default()),
        Condition::PredictFull(_) => KindState::Predict(PredictState::default()),
        Condition::NoData(_) => KindState::NoData {
            last_seen: time,
            blind_from: None,
        },
        Condition::Baseline(_) => KindState::Baseline(BaselineState::default()),
    }
}

/// The reading of one sample for a rule, or `None` when there is nothing to
/// judge yet (first sample of a rate, short history, learning, guard
/// unknown). No-data clears its alert here directly.
fn read_sample(
    rule: &Compiled,
    track: &mut Track,
    aux: &BTreeMap<String, f64>,
    series: &SeriesRef,
    time: i64,
    value: f64,
) -> Option<Reading> {
    let unit = rule.spec.unit.as_str();
    match (&rule.spec.condition, &mut track.state) {
        (Condition::Threshold(t), _) => {
            let mut reading = crate::eval::threshold_reading(t, unit, time, value);
            if let Some(guard) = &t.when {
                let ok = aux
                    .get(&series.sibling(&guard.metric))
                    .is_some_and(|v| guard.op.holds(*v, guard.value));
                reading.fires &= ok;
                if !ok {
                    reading.holds = false;
                    reading.clear = format!(
                        "cleared: {} no longer {} {}",
                        guard.metric,
                        guard.op,
                        show(guard.value)
                    );
                }
            }
            Some(reading)
        }
        (Condition::RateOfChange(r), KindState::Rate(state)) => state.reading(r, unit, time, value),
        (Condition::PredictFull(p), KindState::Predict(state)) => {
            let size = p
                .size_metric
                .as_ref()
                .and_then(|m| aux.get(&series.sibling(m)).copied());
            state.reading(p, size, time, value)
        }
        (Condition::NoData(_), KindState::NoData { last_seen, .. }) => {
            *last_seen = (*last_seen).max(time);
            track.value = value;
            if let Some(Change::Cleared(reason)) = track
                .gate
                .clear(format!("cleared: data again ({})", show(value)))
            {
                track.reason = text::cleared_after(&reason, track.began.take(), time);
            }
            None
        }
        (Condition::Baseline(b), KindState::Baseline(state)) => {
            state.reading(b, rule.offset_s, unit, time, value)
        }
        _ => None,
    }
}

/// Applies a reading to a track's gate, keeping value and template values.
fn apply(track: &mut Track, reading: &Reading, for_ms: i64) -> Option<Change> {
    if !track.gate.active || reading.holds {
        track.value = reading.value;
        track.vars.extend(reading.vars.clone());
    }
    track.gate.apply(reading, for_ms)
}

/// Keeps why a condition cleared (and after how long), and when one that
/// became active began.
fn note_change(track: &mut Track, change: Option<Change>, began: i64, now: i64) {
    match change {
        Some(Change::Activated) => track.began = Some(began),
        Some(Change::Cleared(reason)) => {
            track.reason = text::cleared_after(&reason, track.began.take(), now);
        }
        None => {}
    }
}

/// A check as the engine was told it, for its alerts' texts.
struct CheckId<'a> {
    check: &'a str,
    kind: &'a str,
    target: &'a str,
}

/// Template values of a check's alerts: `{asset}`, `{check}` (its id),
/// `{kind}`, `{target}`, `{check_name}` (`HTTPS check https://…`).
fn check_vars(id: &CheckId<'_>, asset: &str) -> [(String, String); 5] {
    // Without a target (an older caller), the id stands in: the kind
    // still says what it is.
    let target = match id.target.is_empty() {
        true => id.check,
        false => id.target,
    };
    [
        ("asset".into(), asset.to_string()),
        ("check".into(), id.check.to_string()),
        ("kind".into(), id.kind.to_string()),
        ("target".into(), target.to_string()),
        ("check_name".into(), text::check_name(id.kind, target)),
    ]
}
