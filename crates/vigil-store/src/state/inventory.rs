//! The NOC's inventory: each tenant's assets (hosts, devices, links,
//! services), the asset in front of each (its parent: the router or switch
//! whose failure explains its own), and the checks run against them.
//!
//! A check's kind-specific settings are kept as the JSON the checks crate
//! reads (`spec`), so that a new check kind needs no migration; the fields
//! every check has (kind, target, interval) are columns, for listing.
//!
//! Beside them, each tenant's NOC definitions: maintenance windows and its
//! own alert rules, kept as the JSON documents the NOC engine reads (the
//! store checks names and tenants; the server validates the content).

use super::StateError;
use serde::{Deserialize, Serialize};
use vigil_core::{TenantId, Timestamp};

/// How much an asset matters: what the NOC looks at first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Criticality {
    Low,
    Medium,
    High,
    Critical,
}

impl Criticality {
    pub fn as_str(self) -> &'static str {
        match self {
            Criticality::Low => "low",
            Criticality::Medium => "medium",
            Criticality::High => "high",
            Criticality::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Result<Criticality, StateError> {
        match text {
            "low" => Ok(Criticality::Low),
            "medium" => Ok(Criticality::Medium),
            "high" => Ok(Criticality::High),
            "critical" => Ok(Criticality::Critical),
            other => Err(StateError::Invalid(format!(
                "criticality {other:?} is not one of low, medium, high, critical"
            ))),
        }
    }
}

/// An asset as given to create or replace it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetSpec {
    /// Unique within the tenant; how the API and the config name it.
    pub name: String,
    /// IP address or DNS name.
    pub address: String,
    /// `host`, `router`, `switch`, `firewall`, `service`... (free text).
    pub kind: String,
    pub tags: Vec<String>,
    pub criticality: Criticality,
    /// The parent's name, in the same tenant.
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    pub id: i64,
    pub tenant: TenantId,
    #[serde(flatten)]
    pub spec: AssetSpec,
    pub created_at: Timestamp,
}

/// A check as given to create or replace it. Its `Debug` shows secrets
/// as `"set"`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// The asset's name, in the same tenant.
    pub asset: String,
    /// `icmp`, `tcp`, `http`, `dns`, `snmp`, `prometheus`.
    pub kind: String,
    pub target: String,
    pub interval_ms: i64,
    /// The whole specification, as the checks crate reads it.
    pub spec: serde_json::Value,
    pub enabled: bool,
}

impl std::fmt::Debug for CheckRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut spec = self.spec.clone();
        crate::secrets::redact_fields(&mut spec, crate::secrets::CHECK_SECRET_FIELDS);
        f.debug_struct("CheckRecord")
            .field("asset", &self.asset)
            .field("kind", &self.kind)
            .field("target", &self.target)
            .field("interval_ms", &self.interval_ms)
            .field("spec", &spec)
            .field("enabled", &self.enabled)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub id: i64,
    pub tenant: TenantId,
    #[serde(flatten)]
    pub record: CheckRecord,
    pub created_at: Timestamp,
}

/// What a NOC definition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefinitionKind {
    /// A maintenance window.
    Window,
    /// An alert rule of the tenant's own (or its replacement of a built-in).
    Rule,
}

impl DefinitionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DefinitionKind::Window => "window",
            DefinitionKind::Rule => "rule",
        }
    }
}

/// A named JSON document of a tenant's NOC: a window or a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    pub tenant: TenantId,
    pub kind: DefinitionKind,
    /// Unique per tenant and kind (the window's or rule's id).
    pub name: String,
    pub spec: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Assets, checks and NOC definitions, per tenant.
#[async_trait::async_trait]
pub trait InventoryStore: Send + Sync + 'static {
    /// `Conflict` for a name taken in the tenant, `NotFound` for an unknown
    /// parent, `Invalid` for an empty name or address.
    async fn create_asset(&self, tenant: TenantId, spec: &AssetSpec) -> Result<Asset, StateError>;

    /// Replaces an asset's fields (its name included). `Invalid` if the new
    /// parent would make a cycle.
    async fn update_asset(
        &self,
        tenant: TenantId,
        name: &str,
        spec: &AssetSpec,
    ) -> Result<Asset, StateError>;

    /// Deletes an asset and its checks; children lose their parent.
    async fn delete_asset(&self, tenant: TenantId, name: &str) -> Result<(), StateError>;

    async fn asset(&self, tenant: TenantId, name: &str) -> Result<Option<Asset>, StateError>;

    /// A tenant's assets, by name.
    async fn list_assets(&self, tenant: TenantId) -> Result<Vec<Asset>, StateError>;

    /// `NotFound` for an unknown asset.
    async fn create_check(
        &self,
        tenant: TenantId,
        check: &CheckRecord,
    ) -> Result<Check, StateError>;

    async fn update_check(
        &self,
        tenant: TenantId,
        id: i64,
        check: &CheckRecord,
    ) -> Result<Check, StateError>;

    async fn delete_check(&self, tenant: TenantId, id: i64) -> Result<(), StateError>;

    async fn check(&self, tenant: TenantId, id: i64) -> Result<Option<Check>, StateError>;

    /// A tenant's checks, or every tenant's (`None`: the scheduler loads
    /// them all), by id.
    async fn list_checks(&self, tenant: Option<TenantId>) -> Result<Vec<Check>, StateError>;

    /// Creates a definition; `Conflict` when the name is taken for that
    /// kind in the tenant, `Invalid` for an empty or over-long name.
    async fn create_definition(
        &self,
        tenant: TenantId,
        kind: DefinitionKind,
        name: &str,
        spec: &serde_json::Value,
    ) -> Result<Definition, StateError>;

    /// Replaces a definition's document; `NotFound` when there is none.
    async fn replace_definition(
        &self,
        tenant: TenantId,
        kind: DefinitionKind,
        name: &str,
        spec: &serde_json::Value,
    ) -> Result<Definition, StateError>;

    async fn delete_definition(
        &self,
        tenant: TenantId,
        kind: DefinitionKind,
        name: &str,
    ) -> Result<(), StateError>;

    /// A tenant's definitions of one kind, by name.
    async fn list_definitions(
        &self,
        tenant: TenantId,
        kind: DefinitionKind,
    ) -> Result<Vec<Definition>, StateError>;
}
