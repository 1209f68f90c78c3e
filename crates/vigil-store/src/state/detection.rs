//! What detection keeps: alerts, the rules tenants uploaded or switched
//! off, and the login sources each user was seen coming from.
//!
//! A separate trait from [`StateStore`](super::StateStore) because it is a
//! separate concern with its own suite
//! ([`detection_conformance_tests!`](crate::detection_conformance_tests));
//! the embedded backend implements both on one SQLite file.

use super::StateError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use vigil_core::{TenantId, Timestamp};

/// Which team an alert is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Team {
    Soc,
    Noc,
}

/// How bad it is, from Sigma's `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// New or still receiving evidence, nobody has looked yet.
    Open,
    /// Someone is on it; evidence still counts into it.
    Acknowledged,
    /// Holds, but pages nobody: its parent is down or a maintenance
    /// window covers it (`resolution` says which).
    Suppressed,
    /// Its condition cleared by itself (NOC alerts); see `resolution`.
    Resolved,
    /// Done: the next hit opens a new alert.
    Closed,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = StateError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(StateError::Invalid(format!(
                        "{s:?} is not a {}: use one of {}",
                        stringify!($ty).to_lowercase(),
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }
    };
}

text_enum!(Team { Soc = "soc", Noc = "noc" });
text_enum!(Severity {
    Info = "info",
    Low = "low",
    Medium = "medium",
    High = "high",
    Critical = "critical",
});
text_enum!(AlertStatus {
    Open = "open",
    Acknowledged = "acknowledged",
    Suppressed = "suppressed",
    Resolved = "resolved",
    Closed = "closed",
});

impl Severity {
    /// Sigma's `level` (`informational`, `low`, ..., `critical`).
    pub fn from_sigma_level(level: Option<&str>) -> Severity {
        match level.map(str::to_ascii_lowercase).as_deref() {
            Some("critical") => Severity::Critical,
            Some("high") => Severity::High,
            Some("medium") => Severity::Medium,
            Some("low") => Severity::Low,
            _ => Severity::Info,
        }
    }
}

/// The things an alert is about; also what tells two alerts of one rule
/// apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entities {
    pub host: Option<String>,
    pub user: Option<String>,
    pub source_ip: Option<String>,
    /// What on the host, for NOC alerts: an interface, a filesystem, a
    /// check (`mountpoint=/`, `check 12`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl Entities {
    /// What tells two alerts of one rule apart. The user is its identity
    /// ([`vigil_core::identity::user_identity`]: `WORKSTATION5\wardog` and
    /// `wardog` are one user); the entity keeps the name as logged.
    pub fn dedup_key(&self) -> String {
        let part = |v: &Option<String>| v.as_deref().unwrap_or("").replace('|', "||");
        let user = self
            .user
            .as_deref()
            .map(vigil_core::identity::user_identity);
        format!(
            "{}|{}|{}",
            part(&self.host),
            part(&user),
            part(&self.source_ip)
        ) + &self
            .resource
            .as_ref()
            .map(|r| format!("|{}", r.replace('|', "||")))
            .unwrap_or_default()
    }
}

/// One rule hit, to be recorded as an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub tenant: TenantId,
    pub team: Team,
    pub rule_id: String,
    pub rule_title: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    pub entities: Entities,
    /// The evidence event (hex id), when there is one.
    pub event_id: Option<String>,
    /// More evidence events (hex ids): every event of a correlation, in
    /// time order (`event_id` is the one that completed it).
    pub evidence: Vec<String>,
    /// How long after its last hit (event time) an open alert of this
    /// rule absorbs hits, in microseconds: the rule's own window. `None`:
    /// the tenant's setting, else [`DEFAULT_ALERT_WINDOW`].
    pub window: Option<i64>,
    pub description: String,
    /// The event's time.
    pub time: Timestamp,
}

/// How long an open alert absorbs hits after its last one, unless the rule
/// or the tenant says otherwise: 24 hours, in microseconds.
pub const DEFAULT_ALERT_WINDOW: i64 = 24 * 3600 * 1_000_000;

/// The shortest and longest window a rule or tenant may set: one minute
/// and one year.
pub const ALERT_WINDOW_RANGE: std::ops::RangeInclusive<i64> =
    60 * 1_000_000..=366 * 24 * 3600 * 1_000_000;

/// How many evidence ids an alert keeps: the first ones (all of a
/// correlation of up to this many events) ...
pub const EVIDENCE_FIRST_MAX: usize = 100;
/// ... and a ring of the latest ones after those.
pub const EVIDENCE_LATEST_MAX: usize = 10;

/// The events an alert rests on, bounded: the first
/// [`EVIDENCE_FIRST_MAX`] ids, the latest [`EVIDENCE_LATEST_MAX`] after
/// those, and how many there were in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub first: Vec<String>,
    pub latest: Vec<String>,
    /// Distinct evidence events counted in (can exceed the lists: ids that
    /// left the ring are no longer recognised, so a repeat of one of those
    /// counts again).
    pub count: i64,
}

impl Evidence {
    /// Adds ids not already kept; returns how many were new.
    pub fn add<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) -> usize {
        let mut added = 0;
        for id in ids {
            if self.first.iter().chain(&self.latest).any(|k| k == id) {
                continue;
            }
            added += 1;
            if self.first.len() < EVIDENCE_FIRST_MAX {
                self.first.push(id.to_string());
                continue;
            }
            self.latest.push(id.to_string());
            if self.latest.len() > EVIDENCE_LATEST_MAX {
                self.latest.remove(0);
            }
        }
        self.count = self.count.saturating_add(added as i64);
        added
    }

    /// Every id kept, first ones then the latest.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.first.iter().chain(&self.latest).map(String::as_str)
    }
}

impl NewAlert {
    pub fn dedup_key(&self) -> String {
        self.entities.dedup_key()
    }
}

/// An alert as stored and listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub id: i64,
    pub tenant: TenantId,
    pub team: Team,
    pub rule_id: String,
    pub rule_title: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    pub entities: Entities,
    /// The first evidence event.
    pub event_id: Option<String>,
    /// The latest evidence event.
    pub last_event_id: Option<String>,
    pub description: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Hits counted into this alert.
    pub count: i64,
    pub status: AlertStatus,
    /// Why it resolved, for a resolved alert.
    pub resolution: Option<String>,
    /// The alert of the same rule and entities before this one.
    pub previous_id: Option<i64>,
    /// When detection opened it (wall clock; `first_seen` is event time).
    pub detected_at: Timestamp,
    /// When its latest hit was detected.
    pub last_detected_at: Timestamp,
    pub evidence: Evidence,
}

/// An alert whose condition cleared: the open alert of this tenant, rule
/// and entities resolves, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedAlert {
    pub tenant: TenantId,
    pub rule_id: String,
    pub entities: Entities,
    pub reason: String,
    pub time: Timestamp,
}

/// Which alerts to list; every part given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Detection time: `last_detected_at >= from` (detected, or hit
    /// again, since).
    pub from: Option<Timestamp>,
    /// Detection time: `detected_at < to`.
    pub to: Option<Timestamp>,
    /// Event time: `last_seen >= event_from`.
    pub event_from: Option<Timestamp>,
    /// Event time: `first_seen < event_to`.
    pub event_to: Option<Timestamp>,
    /// Any of these (all when empty).
    pub severities: Vec<Severity>,
    pub statuses: Vec<AlertStatus>,
    pub team: Option<Team>,
    /// The rule's id or its exact title.
    pub rule: Option<String>,
    pub host: Option<String>,
    /// Any spelling of the user: `WORKSTATION5\\wardog` finds `wardog`.
    pub user: Option<String>,
    pub source_ip: Option<String>,
    /// Newest detection first, at most this many.
    pub limit: usize,
    /// Only alerts after this one in that order (the previous page's
    /// [`AlertPage::next`]).
    pub after: Option<AlertCursor>,
}

/// A place in the alert list (newest detection first): the last alert of
/// a page. Alerts opened later sort before it, so paging on from it sees
/// every older alert once, whatever is opened meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertCursor {
    pub detected_at: i64,
    pub id: i64,
}

impl AlertCursor {
    const PREFIX: &'static str = "a1.";

    pub fn of(alert: &Alert) -> AlertCursor {
        AlertCursor {
            detected_at: alert.detected_at.micros(),
            id: alert.id,
        }
    }

    /// Opaque text for an API: `a1.` + URL-safe base64 of the two numbers.
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        let text = format!("{}:{}", self.detected_at, self.id);
        Self::PREFIX.to_string() + &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    /// Reads [`AlertCursor::encode`]'s text; `Invalid` for anything else.
    pub fn decode(text: &str) -> Result<AlertCursor, StateError> {
        use base64::Engine as _;
        let invalid = || StateError::Invalid("cursor is not one this server gave".into());
        // Two i64 and a colon fit in 40 bytes, base64 of that in 56.
        let body = text
            .strip_prefix(Self::PREFIX)
            .filter(|b| b.len() <= 64)
            .ok_or_else(invalid)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| invalid())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
        let (at, id) = text.split_once(':').ok_or_else(invalid)?;
        Ok(AlertCursor {
            detected_at: at.parse().map_err(|_| invalid())?,
            id: id.parse().map_err(|_| invalid())?,
        })
    }
}

/// One page of alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertPage {
    pub alerts: Vec<Alert>,
    /// Alerts matching the filter on all pages.
    pub total: u64,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<AlertCursor>,
}

/// A rule a tenant uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRule {
    pub tenant: TenantId,
    pub rule_id: String,
    pub title: String,
    pub yaml: String,
    pub created_at: Timestamp,
}

/// One successful login, for the new-source memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSeen {
    pub tenant: TenantId,
    pub user: String,
    pub source: String,
    pub time: Timestamp,
}

/// What the memory knew of a login before it was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginNovelty {
    /// The source had never been seen for this user.
    pub new_source: bool,
    /// When the user was first seen from any source (`None`: never before).
    pub user_first_seen: Option<Timestamp>,
}

/// Alerts, uploaded rules and detection memory.
#[async_trait::async_trait]
pub trait DetectionStore: Send + Sync + 'static {
    /// Records hits, in one transaction. A hit counts into the open
    /// (acknowledged, suppressed) alert of its tenant, rule and entities
    /// when its event time is within that alert's window (the hit's own,
    /// else the tenant's, else [`DEFAULT_ALERT_WINDOW`]) of the alert's
    /// events: count, times, evidence. A later hit resolves that alert
    /// (expired) and opens a new one whose `previous_id` links it. A hit
    /// with no open alert counts into an ended alert whose span (window
    /// before it included) holds its time, as late evidence; otherwise it
    /// opens a new alert, linked to the latest one of the key. A hit older
    /// than the open alert's window that no alert holds is recorded as a
    /// resolved alert of its own (late: it pages nobody). Returns the
    /// alerts as they are after each hit, with whether it made them.
    async fn record_alerts(&self, hits: &[NewAlert]) -> Result<Vec<(Alert, bool)>, StateError>;

    /// The alerts of `tenants` matching `filter`, newest detection first,
    /// one page, with the total over all pages.
    async fn list_alerts(
        &self,
        tenants: &[TenantId],
        filter: &AlertFilter,
    ) -> Result<AlertPage, StateError>;

    /// Sets how long `tenant`'s open alerts absorb hits after their last
    /// one (microseconds, within [`ALERT_WINDOW_RANGE`]); `None` for the
    /// default. A rule's own window comes first.
    async fn set_alert_window(
        &self,
        tenant: TenantId,
        window: Option<i64>,
    ) -> Result<(), StateError>;

    /// The tenant's window, if it set one.
    async fn alert_window(&self, tenant: TenantId) -> Result<Option<i64>, StateError>;

    /// One alert of `tenant`; `None` for an id of another tenant.
    async fn alert(&self, tenant: TenantId, id: i64) -> Result<Option<Alert>, StateError>;

    /// `NotFound` for an unknown id or one of another tenant.
    async fn set_alert_status(
        &self,
        tenant: TenantId,
        id: i64,
        status: AlertStatus,
    ) -> Result<Alert, StateError>;

    /// Records alerts that hold but page nobody (status suppressed, with
    /// the reason in `resolution`); an open one of the same key is left as
    /// it is. A later [`DetectionStore::record_alerts`] of the same key opens it.
    async fn suppress_alerts(&self, held: &[(NewAlert, String)]) -> Result<Vec<Alert>, StateError>;

    /// Resolves the open (acknowledged, suppressed) alerts named; returns
    /// those that were. The next hit of the same rule and entities opens a new one.
    async fn resolve_alerts(&self, resolved: &[ResolvedAlert]) -> Result<Vec<Alert>, StateError>;

    /// Adds or replaces the tenant's rule with this id.
    async fn put_rule(&self, rule: &StoredRule) -> Result<(), StateError>;

    /// `NotFound` if the tenant has no such uploaded rule.
    async fn delete_rule(&self, tenant: TenantId, rule_id: &str) -> Result<(), StateError>;

    /// Every uploaded rule, all tenants (the detection engine loads them).
    async fn all_rules(&self) -> Result<Vec<StoredRule>, StateError>;

    async fn set_rule_enabled(
        &self,
        tenant: TenantId,
        rule_id: &str,
        enabled: bool,
    ) -> Result<(), StateError>;

    /// Every `(tenant, rule id)` switched off.
    async fn disabled_rules(&self) -> Result<Vec<(TenantId, String)>, StateError>;

    /// Records logins and tells, for each, what was known before it
    /// (earlier logins of the same batch count as known).
    async fn observe_logins(&self, logins: &[LoginSeen]) -> Result<Vec<LoginNovelty>, StateError>;
}
