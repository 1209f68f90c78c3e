//! State: tenants, users and API tokens.
//!
//! Everything the API needs to answer "who is calling and which tenants may
//! they see" lives behind [`StateStore`], so that the embedded SQLite backend
//! ([`SqliteState`]) and a later PostgreSQL backend are interchangeable. Both
//! must pass the same suite: [`state_conformance_tests!`](crate::state_conformance_tests).
//!
//! Rules every backend shares (and gets from [`validate`], so they cannot
//! drift apart):
//!
//! - User roles ([`Role::MspAdmin`], [`Role::NocOperator`], [`Role::SocAnalyst`],
//!   [`Role::ClientViewer`]) describe people; token roles ([`Role::Ingest`],
//!   [`Role::Read`], [`Role::Admin`]) describe machines and are bound to one
//!   tenant.
//! - An MSP admin sees every tenant; a client viewer exactly one; NOC and SOC
//!   staff the tenants they are assigned.
//! - Passwords are hashed with argon2id; API tokens are 256 random bits and
//!   only their SHA-256 is stored.

pub mod audit;
pub mod audit_conformance;
pub mod conformance;
pub mod detection;
pub mod detection_conformance;
pub mod inventory;
pub mod inventory_conformance;
mod password;
mod schema;
mod sqlite;
mod sqlite_audit;
mod sqlite_detection;
mod sqlite_inventory;
mod sqlite_people;
mod token;
pub mod validate;

pub use audit::{
    AuditEntry, AuditFilter, AuditPage, AuditScope, AuditStore, NewAuditEntry, MAX_AUDIT_PAGE,
};
pub use detection::{
    Alert, AlertCursor, AlertFilter, AlertPage, AlertStatus, DetectionStore, Entities, Evidence,
    LoginNovelty, LoginSeen, NewAlert, ResolvedAlert, Severity, StoredRule, Team,
    ALERT_WINDOW_RANGE, DEFAULT_ALERT_WINDOW, EVIDENCE_FIRST_MAX, EVIDENCE_LATEST_MAX,
};
pub use inventory::{
    Asset, AssetSpec, Check, CheckRecord, Criticality, Definition, DefinitionKind, InventoryStore,
};
pub use password::configure_hashing;
pub use sqlite::SqliteState;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use vigil_core::{TenantId, TenantName, Timestamp};

/// A client network the MSP watches; owner of every stored record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: TenantName,
    /// How many days of events are kept before they are deleted.
    pub retention_days: u32,
    pub created_at: Timestamp,
}

/// What a caller may do. Serialized as kebab-case (`"msp-admin"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// MSP staff with every tenant and the administration of Vigil itself.
    MspAdmin,
    /// NOC staff: availability and performance of their tenants.
    NocOperator,
    /// SOC staff: security of their tenants.
    SocAnalyst,
    /// A client's own staff: read access to their one tenant.
    ClientViewer,
    /// Token role: a collector that sends events to one tenant.
    Ingest,
    /// Token role: read-only API access to one tenant.
    Read,
    /// Token role: full API access to one tenant.
    Admin,
}

impl Role {
    /// Every role, for tests and for listing the choices in errors.
    pub const ALL: [Role; 7] = [
        Role::MspAdmin,
        Role::NocOperator,
        Role::SocAnalyst,
        Role::ClientViewer,
        Role::Ingest,
        Role::Read,
        Role::Admin,
    ];

    /// The kebab-case name used in serde, the database and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::MspAdmin => "msp-admin",
            Role::NocOperator => "noc-operator",
            Role::SocAnalyst => "soc-analyst",
            Role::ClientViewer => "client-viewer",
            Role::Ingest => "ingest",
            Role::Read => "read",
            Role::Admin => "admin",
        }
    }

    /// Roles a person (a [`User`]) can have.
    pub fn is_user_role(self) -> bool {
        matches!(
            self,
            Role::MspAdmin | Role::NocOperator | Role::SocAnalyst | Role::ClientViewer
        )
    }

    /// Roles only a machine token can have, always bound to one tenant.
    pub fn is_token_role(self) -> bool {
        !self.is_user_role()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = StateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| StateError::Invalid(format!("unknown role {s:?}")))
    }
}

/// A person who logs in with a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// The tenants this user may see, ascending; empty for an MSP admin,
    /// who sees all of them.
    pub tenants: Vec<TenantId>,
    pub created_at: Timestamp,
    /// A disabled user cannot log in, and every token of theirs was ended
    /// when they were disabled.
    pub disabled: bool,
}

/// What to create a login session for ([`StateStore::create_session`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub user_id: i64,
    /// When the session ends, however busy it is.
    pub expires_at: Timestamp,
    /// A session unused this long ends too; `None` for no idle limit.
    pub idle_timeout: Option<std::time::Duration>,
    /// Where the login came from (an address), for the session listing.
    pub source: Option<String>,
}

/// A token bound to a user, as listed: a login session, or an API token
/// issued to the user (such as the bootstrap administrator's). Never the
/// secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: i64,
    pub user_id: i64,
    pub user: String,
    /// The user's current role and tenants (ascending).
    pub role: Role,
    pub tenants: Vec<TenantId>,
    /// Whether it came from a login (`false`: an API token of the user).
    pub login: bool,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// When it last authenticated a request, to the minute; `None` if never.
    pub last_used_at: Option<Timestamp>,
    pub source: Option<String>,
}

/// The tenants a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantScope {
    All,
    /// Ascending, without duplicates.
    Only(Vec<TenantId>),
}

impl TenantScope {
    /// Whether records of `tenant` are visible in this scope.
    pub fn allows(&self, tenant: TenantId) -> bool {
        match self {
            TenantScope::All => true,
            TenantScope::Only(ids) => ids.contains(&tenant),
        }
    }
}

/// Who is calling, resolved from a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: i64,
    pub role: Role,
    pub scope: TenantScope,
    /// The user's name for a token issued to a user.
    pub user: Option<String>,
}

/// What to create a token for. See [`StateStore::create_token`] for the
/// valid combinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub role: Role,
    pub tenant: Option<TenantId>,
    pub user_id: Option<i64>,
    pub label: Option<String>,
    /// When the token stops authenticating (it is refused from this instant
    /// on); `None` for a token that lasts until revoked. A time in the past
    /// is accepted and gives a token that never authenticates.
    pub expires_at: Option<Timestamp>,
}

/// A token as listed: everything but the secret, which is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    /// For a token issued to a user, the user's current role.
    pub role: Role,
    pub tenant: Option<TenantId>,
    /// The user's name for a token issued to a user.
    pub user: Option<String>,
    pub label: Option<String>,
    pub created_at: Timestamp,
    /// See [`NewToken::expires_at`]. Listed until purged, even once past.
    pub expires_at: Option<Timestamp>,
}

/// Why a state operation failed. Messages are lowercase and name the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The record already exists (a tenant or user name is taken).
    #[error("{0}")]
    Conflict(String),
    /// A referenced record (tenant, user, token) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The input breaks a rule (password too short, bad role combination).
    #[error("{0}")]
    Invalid(String),
    /// The database failed; not the caller's fault.
    #[error("state backend: {0}")]
    Backend(String),
    /// Too much work of this kind at once (password hashing): try again
    /// shortly.
    #[error("{0}")]
    Busy(String),
}

/// Tenants, users and API tokens.
///
/// Every backend must pass [`state_conformance_tests!`](crate::state_conformance_tests).
#[async_trait::async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// Creates a tenant. `Conflict` if the name is taken, `Invalid` if the
    /// retention is outside [`validate::RETENTION_DAYS`].
    async fn create_tenant(
        &self,
        name: &TenantName,
        retention_days: u32,
    ) -> Result<Tenant, StateError>;

    async fn tenant(&self, id: TenantId) -> Result<Option<Tenant>, StateError>;

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, StateError>;

    /// All tenants, ordered by name.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StateError>;

    /// `NotFound` for an unknown tenant, `Invalid` for a retention outside
    /// [`validate::RETENTION_DAYS`].
    async fn set_retention(&self, id: TenantId, days: u32) -> Result<(), StateError>;

    /// Creates a user. `Invalid` for a bad name, password or role/tenant
    /// combination (see [`validate::user_tenants`]), `NotFound` for an unknown
    /// tenant, `Conflict` if the name is taken.
    async fn create_user(
        &self,
        name: &str,
        password: &str,
        role: Role,
        tenants: &[TenantId],
    ) -> Result<User, StateError>;

    /// Changes a user's role and tenants, with the rules of
    /// [`StateStore::create_user`]. Tokens issued to the user follow at once.
    /// `NotFound` for an unknown user or tenant.
    async fn update_user(
        &self,
        id: i64,
        role: Role,
        tenants: &[TenantId],
    ) -> Result<User, StateError>;

    /// All users, ordered by name.
    async fn list_users(&self) -> Result<Vec<User>, StateError>;

    async fn user(&self, id: i64) -> Result<Option<User>, StateError>;

    /// The user a name names: compared after normalisation and case
    /// folding ([`vigil_core::names::key`]), so `NOC_A` finds `noc_a`.
    async fn user_by_name(&self, name: &str) -> Result<Option<User>, StateError>;

    /// Sets a user's password (checked like [`StateStore::create_user`]'s)
    /// and ends every login session of the user but `keep` (the caller's
    /// own when a user changes their own password). `NotFound` for an
    /// unknown user.
    async fn set_password(
        &self,
        id: i64,
        password: &str,
        keep: Option<i64>,
    ) -> Result<(), StateError>;

    /// Disables (or enables again) a user. Disabling ends every token bound
    /// to the user at once, sessions and API tokens alike.
    async fn set_user_disabled(&self, id: i64, disabled: bool) -> Result<User, StateError>;

    /// Deletes a user and every token bound to them. `NotFound` if unknown.
    async fn delete_user(&self, id: i64) -> Result<(), StateError>;

    /// Creates a login session of an enabled user and returns its secret.
    /// `NotFound` for an unknown user, `Invalid` for a disabled one.
    async fn create_session(&self, new: NewSession) -> Result<(SessionInfo, String), StateError>;

    /// Every token bound to a user (sessions first by id), never a secret.
    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, StateError>;

    /// Ends a token bound to a user; `NotFound` if there is no such one
    /// (tenant tokens are revoked through [`StateStore::revoke_token`]).
    async fn revoke_session(&self, id: i64) -> Result<(), StateError>;

    async fn count_users(&self) -> Result<u64, StateError>;

    /// The user if the password is right; `None` for an unknown or
    /// disabled user or a wrong password, at the same cost for all. The
    /// name is looked up as by [`StateStore::user_by_name`]. `Busy` when
    /// too many passwords are being checked at once.
    async fn verify_password(&self, name: &str, password: &str)
        -> Result<Option<User>, StateError>;

    /// Creates a token and returns its plaintext, which is never shown again.
    ///
    /// Valid combinations (`Invalid` otherwise; `NotFound` for an unknown
    /// tenant or user):
    /// - a token role (ingest, read, admin) with a tenant and no user;
    /// - a user's own role with that user and no tenant: role and scope are
    ///   then read from the user on every request;
    /// - a user role without a user: with a tenant, or for msp-admin also
    ///   without one (every tenant).
    async fn create_token(&self, new: NewToken) -> Result<(TokenInfo, String), StateError>;

    /// Tokens ordered by id; with `Some(tenant)` only those bound to that
    /// tenant (tokens issued to users are not bound to a tenant).
    async fn list_tokens(&self, tenant: Option<TenantId>) -> Result<Vec<TokenInfo>, StateError>;

    /// Deletes a token; `NotFound` if there is none with that id.
    async fn revoke_token(&self, id: i64) -> Result<(), StateError>;

    /// The caller behind a bearer token, or `None` for a malformed, unknown,
    /// revoked or expired token (expired: `expires_at <= now`, or a session
    /// unused for its idle timeout), or one of a disabled user. Called on
    /// every API request: one indexed query (and, at most once a minute per
    /// session, a write of when it was last used).
    async fn authenticate(&self, token: &str) -> Result<Option<Principal>, StateError>;

    /// Deletes every token whose `expires_at` is at or before `now` and
    /// returns how many went; tokens without an expiry are never touched.
    async fn purge_expired_tokens(&self, now: Timestamp) -> Result<u64, StateError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_serialize_as_kebab_case() {
        for role in Role::ALL {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("MspAdmin".parse::<Role>().is_err());
    }

    #[test]
    fn user_and_token_roles_partition_all_roles() {
        let users = Role::ALL.iter().filter(|r| r.is_user_role()).count();
        let tokens = Role::ALL.iter().filter(|r| r.is_token_role()).count();
        assert_eq!((users, tokens), (4, 3));
    }

    #[test]
    fn scope_allows_only_listed_tenants() {
        let scope = TenantScope::Only(vec![TenantId(1)]);
        assert!(scope.allows(TenantId(1)));
        assert!(!scope.allows(TenantId(2)));
        assert!(TenantScope::All.allows(TenantId(2)));
    }
}
