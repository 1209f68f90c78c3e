//! The audit log: who changed what, on which tenant, from where, with what
//! outcome. Append-only: the trait has no way to alter or remove an entry,
//! and the SQLite table refuses `UPDATE` and `DELETE` with triggers.
//!
//! Every backend must pass [`audit_conformance_tests!`](crate::audit_conformance_tests).

use super::StateError;
use serde::{Deserialize, Serialize};
use vigil_core::{TenantId, Timestamp};

/// An entry to append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAuditEntry {
    pub at: Timestamp,
    /// A user's name, `token N` for a machine token, the name tried at a
    /// login, or `cli` for a command run on the server.
    pub actor: String,
    /// The token the request came with, if any.
    pub token_id: Option<i64>,
    /// The caller's role (kebab-case), if known.
    pub role: Option<String>,
    /// The tenant acted on; `None` for the MSP's own administration.
    pub tenant: Option<TenantId>,
    /// The client's address, or `local` for the CLI.
    pub source: Option<String>,
    /// The HTTP method, or `CLI`.
    pub method: String,
    /// The request path (its target included), or the command line.
    pub path: String,
    /// The HTTP status of the answer; `None` where there is none (CLI).
    pub status: Option<u16>,
    /// The request body when small, secrets replaced by `"redacted"`.
    pub detail: Option<serde_json::Value>,
}

impl NewAuditEntry {
    /// An entry for a command run on the server (`vigil admin ...`), now.
    pub fn cli(command: impl Into<String>, tenant: Option<TenantId>) -> Self {
        NewAuditEntry {
            at: Timestamp::now(),
            actor: "cli".into(),
            token_id: None,
            role: None,
            tenant,
            source: Some("local".into()),
            method: "CLI".into(),
            path: command.into(),
            status: None,
            detail: None,
        }
    }
}

/// A stored entry: ids increase in the order entries were appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    #[serde(flatten)]
    pub entry: NewAuditEntry,
}

/// Whose entries a listing may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditScope {
    /// Every entry, the MSP's own included.
    All,
    /// Entries of these tenants only: never the MSP-level ones.
    Tenants(Vec<TenantId>),
}

/// A listing: newest first, filtered, one page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    pub scope: AuditScope,
    /// Exact actor.
    pub actor: Option<String>,
    /// Exact method (`POST`, `CLI`...).
    pub method: Option<String>,
    /// Paths that start with this.
    pub path_prefix: Option<String>,
    /// From this instant, inclusive.
    pub from: Option<Timestamp>,
    /// Up to this instant, exclusive.
    pub to: Option<Timestamp>,
    /// Only entries with an id below this (the `next` of the previous page).
    pub before: Option<i64>,
    /// Entries a page at most (1 to [`MAX_AUDIT_PAGE`]).
    pub limit: u32,
}

/// Largest page of a listing.
pub const MAX_AUDIT_PAGE: u32 = 1000;

impl AuditFilter {
    /// Every entry in `scope`, a page of 100.
    pub fn new(scope: AuditScope) -> Self {
        AuditFilter {
            scope,
            actor: None,
            method: None,
            path_prefix: None,
            from: None,
            to: None,
            before: None,
            limit: 100,
        }
    }
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// How many entries match the filter, over all pages.
    pub total: u64,
    /// The `before` of the next page; `None` on the last page.
    pub next: Option<i64>,
}

/// The audit log.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends an entry and returns it with its id.
    async fn append(&self, entry: NewAuditEntry) -> Result<AuditEntry, StateError>;

    /// A page of the entries that match, newest first. `Invalid` for a
    /// limit outside 1 to [`MAX_AUDIT_PAGE`].
    async fn list(&self, filter: &AuditFilter) -> Result<AuditPage, StateError>;
}

/// Keys whose values are secrets, by a part of their name.
const SECRET_KEY_PARTS: &[&str] = &[
    "password",
    "passphrase",
    "secret",
    "token",
    "community",
    "key",
    "credential",
    "auth",
];

/// Whether a JSON key names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEY_PARTS.iter().any(|part| key.contains(part))
}

/// `value` with the value of every secret key, at any depth, replaced by
/// `"redacted"`.
pub fn redact(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if is_secret_key(&k) {
                        (k, Value::String("redacted".into()))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let body = json!({
            "name": "alice",
            "password": "hunter2",
            "spec": {"community": "public", "v3": {"auth_password": "x", "priv_key": "y"}},
            "list": [{"api_token": "t"}, {"ok": 1}],
            "Secret": {"nested": "z"},
        });
        let out = redact(body);
        assert_eq!(
            out,
            json!({
                "name": "alice",
                "password": "redacted",
                "spec": {"community": "redacted", "v3": {"auth_password": "redacted", "priv_key": "redacted"}},
                "list": [{"api_token": "redacted"}, {"ok": 1}],
                "Secret": "redacted",
            })
        );
        let text = out.to_string();
        for secret in ["hunter2", "public", "\"x\"", "\"y\"", "\"t\"", "\"z\""] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}
