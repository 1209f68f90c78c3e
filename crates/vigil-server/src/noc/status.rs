//! The last result of each check, in memory, so that an operator sees in
//! the API whether a check is up and, when it is not, why: the reason the
//! run gave, since when, and how many runs in a row failed.
//!
//! Only the last result is kept: the history is in the metric store
//! (`vigil_check_up`) and the alerts. Nothing is written to disk; after a
//! restart a check has no status until its first run.

use serde::{Serialize, Serializer};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use vigil_core::{TenantId, Timestamp};

/// What one run of a check gave, as the status records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub up: bool,
    /// Why the check is not up; ignored when it is.
    pub reason: String,
    /// Something an operator should know about a run that counts as up
    /// (an exporter whose lines were partly refused).
    pub note: Option<String>,
    /// When the run started.
    pub started: SystemTime,
    /// How long the run took, when known.
    pub duration: Option<Duration>,
    /// The target's answer time, when the run measured one.
    pub latency: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Up,
    Down,
}

/// A check's current state, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CheckStatus {
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the last run started.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub checked_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Failed runs in a row; 0 when up.
    pub failures: u64,
    /// When the check entered its current state.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub since: Timestamp,
}

fn rfc3339<S: Serializer>(time: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339())
}

/// The statuses of all checks, by check id. The tenant is kept beside each
/// so that a lookup under another tenant finds nothing, whatever the
/// caller checked before.
#[derive(Default)]
pub struct Statuses {
    by_check: Mutex<HashMap<u64, (TenantId, CheckStatus)>>,
}

impl Statuses {
    /// Records a run. A result older than the one recorded (a run of a
    /// replaced scrape job finishing late) is dropped, so the status never
    /// goes back in time.
    pub fn record(&self, tenant: TenantId, check: u64, outcome: &Outcome) {
        let mut map = self.lock();
        let previous = map
            .get(&check)
            .filter(|(owner, _)| *owner == tenant)
            .map(|(_, status)| status);
        if let Some(next) = next_status(previous, outcome) {
            map.insert(check, (tenant, next));
        }
    }

    /// The status of `check` if it belongs to `tenant` and has run.
    pub fn get(&self, tenant: TenantId, check: u64) -> Option<CheckStatus> {
        self.lock()
            .get(&check)
            .filter(|(owner, _)| *owner == tenant)
            .map(|(_, status)| status.clone())
    }

    pub fn forget(&self, check: u64) {
        self.lock().remove(&check);
    }

    /// Keeps only the statuses of `live` checks.
    pub fn retain(&self, live: &HashSet<u64>) {
        self.lock().retain(|id, _| live.contains(id));
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (TenantId, CheckStatus)>> {
        self.by_check.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The status after `outcome`; `None` when the outcome is older than the
/// status it would replace.
fn next_status(previous: Option<&CheckStatus>, outcome: &Outcome) -> Option<CheckStatus> {
    let checked_at = timestamp_of(outcome.started);
    if previous.is_some_and(|p| checked_at < p.checked_at) {
        return None;
    }
    let state = if outcome.up { State::Up } else { State::Down };
    let since = match previous {
        Some(p) if p.state == state => p.since,
        _ => checked_at,
    };
    let failures = match (state, previous) {
        (State::Up, _) => 0,
        (State::Down, Some(p)) => p.failures.saturating_add(1),
        (State::Down, None) => 1,
    };
    Some(CheckStatus {
        state,
        reason: (!outcome.up).then(|| reason_or_unknown(&outcome.reason)),
        note: outcome.note.clone().filter(|n| !n.is_empty()),
        checked_at,
        duration_ms: outcome.duration.map(|d| d.as_millis() as u64),
        latency_ms: outcome.latency.map(|d| d.as_secs_f64() * 1000.0),
        failures,
        since,
    })
}

/// A down state always says something, even when a run gave no words.
fn reason_or_unknown(reason: &str) -> String {
    if reason.trim().is_empty() {
        "failed without a reason".to_string()
    } else {
        reason.to_string()
    }
}

fn timestamp_of(time: SystemTime) -> Timestamp {
    let micros = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or_default();
    Timestamp(i64::try_from(micros).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, up: bool, reason: &str) -> Outcome {
        Outcome {
            up,
            reason: reason.to_string(),
            note: None,
            started: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            duration: Some(Duration::from_millis(1500)),
            latency: None,
        }
    }

    #[test]
    fn failures_count_in_a_row_and_since_is_the_change() {
        let statuses = Statuses::default();
        let acme = TenantId(1);
        statuses.record(acme, 7, &at(10, true, ""));
        statuses.record(acme, 7, &at(20, false, "timed out after 2s"));
        statuses.record(acme, 7, &at(30, false, "timed out after 2s"));
        let down = statuses.get(acme, 7).expect("a status");
        assert_eq!(down.state, State::Down);
        assert_eq!(down.failures, 2);
        assert_eq!(down.since, Timestamp::from_secs(20));
        assert_eq!(down.checked_at, Timestamp::from_secs(30));
        assert_eq!(down.reason.as_deref(), Some("timed out after 2s"));
        assert_eq!(down.duration_ms, Some(1500));
        statuses.record(acme, 7, &at(40, true, ""));
        let up = statuses.get(acme, 7).expect("a status");
        assert_eq!((up.state, up.failures, up.reason), (State::Up, 0, None));
        assert_eq!(up.since, Timestamp::from_secs(40));
    }

    #[test]
    fn another_tenant_sees_nothing() {
        let statuses = Statuses::default();
        statuses.record(TenantId(1), 7, &at(10, false, "refused"));
        assert_eq!(statuses.get(TenantId(2), 7), None);
        assert!(statuses.get(TenantId(1), 7).is_some());
    }

    #[test]
    fn a_late_older_result_does_not_go_back_in_time() {
        let statuses = Statuses::default();
        statuses.record(TenantId(1), 7, &at(30, true, ""));
        statuses.record(TenantId(1), 7, &at(20, false, "old"));
        let status = statuses.get(TenantId(1), 7).expect("a status");
        assert_eq!(status.state, State::Up);
    }

    #[test]
    fn a_down_state_always_has_a_reason() {
        let statuses = Statuses::default();
        statuses.record(TenantId(1), 7, &at(30, false, " "));
        let status = statuses.get(TenantId(1), 7).expect("a status");
        assert_eq!(status.reason.as_deref(), Some("failed without a reason"));
    }

    #[test]
    fn forgotten_and_pruned_checks_have_no_status() {
        let statuses = Statuses::default();
        for id in 1..=3 {
            statuses.record(TenantId(1), id, &at(10, true, ""));
        }
        statuses.forget(1);
        statuses.retain(&HashSet::from([3]));
        assert_eq!(statuses.len(), 1);
        assert!(statuses.get(TenantId(1), 3).is_some());
    }

    #[test]
    fn the_api_shape() {
        let statuses = Statuses::default();
        statuses.record(TenantId(1), 7, &at(20, false, "timed out"));
        let json = serde_json::to_value(statuses.get(TenantId(1), 7)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "state": "down",
                "reason": "timed out",
                "checked_at": "1970-01-01T00:00:20Z",
                "duration_ms": 1500,
                "failures": 1,
                "since": "1970-01-01T00:00:20Z",
            })
        );
    }
}
