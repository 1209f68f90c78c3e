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
    pub fn dedup_key(&self) -> String {
        let part = |v: &Option<String>| v.as_deref().unwrap_or("").replace('|', "||");
        format!(
            "{}|{}|{}",
            part(&self.host),
            part(&self.user),
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
    pub description: String,
    pub time: Timestamp,
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
    /// `last_seen >= from`.
    pub from: Option<Timestamp>,
    /// `first_seen < to`.
    pub to: Option<Timestamp>,
    /// Any of these (all when empty).
    pub severities: Vec<Severity>,
    pub statuses: Vec<AlertStatus>,
    pub team: Option<Team>,
    /// The rule's id or its exact title.
    pub rule: Option<String>,
    pub host: Option<String>,
    pub user: Option<String>,
    pub source_ip: Option<String>,
    /// Most recent first, at most this many.
    pub limit: usize,
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
    /// Records hits, in one transaction: a hit whose tenant, rule and
    /// entities match an alert that is not closed counts into it (count,
    /// last seen, last evidence); any other opens a new alert. Returns the
    /// alerts as they are after each hit, with whether it opened them.
    async fn record_alerts(&self, hits: &[NewAlert]) -> Result<Vec<(Alert, bool)>, StateError>;

    /// A tenant's alerts matching `filter`, most recently seen first.
    async fn list_alerts(
        &self,
        tenant: TenantId,
        filter: &AlertFilter,
    ) -> Result<Vec<Alert>, StateError>;

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
