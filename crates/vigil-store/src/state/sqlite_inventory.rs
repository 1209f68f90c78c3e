//! [`InventoryStore`] on the embedded SQLite file.

use super::inventory::{
    Asset, AssetSpec, Check, CheckRecord, Criticality, Definition, DefinitionKind, InventoryStore,
};
use super::sqlite::{db, found, get, kind};
use super::{SqliteState, StateError};
use crate::secrets::CHECK_SECRET_FIELDS;
use sqlx::error::ErrorKind;
use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;
use vigil_core::{TenantId, Timestamp};

const ASSET_SELECT: &str = "SELECT a.id, a.tenant_id, a.name, a.address, a.kind, a.tags, \
     a.criticality, p.name AS parent, a.created_at \
     FROM assets a LEFT JOIN assets p ON p.id = a.parent_id";

const CHECK_SELECT: &str = "SELECT c.id, c.tenant_id, a.name AS asset, c.kind, c.target, \
     c.interval_ms, c.spec, c.enabled, c.created_at \
     FROM checks c JOIN assets a ON a.id = c.asset_id";

/// Parents are followed at most this far when looking for a cycle.
const MAX_DEPTH: usize = 64;

fn validate(spec: &AssetSpec) -> Result<(), StateError> {
    if spec.name.trim().is_empty() || spec.name.len() > 200 {
        return Err(StateError::Invalid(
            "an asset name must be 1 to 200 characters".into(),
        ));
    }
    if spec.address.trim().is_empty() {
        return Err(StateError::Invalid(format!(
            "asset {:?} needs an address",
            spec.name
        )));
    }
    Ok(())
}

async fn asset_id(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    name: &str,
) -> Result<Option<i64>, StateError> {
    sqlx::query_scalar("SELECT id FROM assets WHERE tenant_id = $1 AND name = $2")
        .bind(tenant.0)
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(db)
}

async fn parent_id(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    spec: &AssetSpec,
) -> Result<Option<i64>, StateError> {
    let Some(parent) = &spec.parent else {
        return Ok(None);
    };
    asset_id(conn, tenant, parent)
        .await?
        .map(Some)
        .ok_or_else(|| StateError::NotFound(format!("no asset {parent:?} to be the parent")))
}

/// `Invalid` if making `parent` the parent of `child` closes a loop.
async fn refuse_cycle(
    conn: &mut SqliteConnection,
    child: i64,
    parent: Option<i64>,
) -> Result<(), StateError> {
    let mut at = parent;
    for _ in 0..MAX_DEPTH {
        let Some(id) = at else { return Ok(()) };
        if id == child {
            return Err(StateError::Invalid(
                "that parent would make the asset its own ancestor".into(),
            ));
        }
        at = sqlx::query_scalar("SELECT parent_id FROM assets WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?
            .flatten();
    }
    Err(StateError::Invalid(format!(
        "parents nest deeper than {MAX_DEPTH}"
    )))
}

fn taken(e: sqlx::Error, name: &str) -> StateError {
    match kind(&e) {
        Some(ErrorKind::UniqueViolation) => {
            StateError::Conflict(format!("asset {name:?} already exists"))
        }
        Some(ErrorKind::ForeignKeyViolation) => StateError::NotFound("tenant not found".into()),
        _ => db(e),
    }
}

#[async_trait::async_trait]
impl InventoryStore for SqliteState {
    async fn create_asset(&self, tenant: TenantId, spec: &AssetSpec) -> Result<Asset, StateError> {
        validate(spec)?;
        let mut tx = self.begin_write().await?;
        let parent = parent_id(&mut tx, tenant, spec).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO assets (tenant_id, name, address, kind, tags, criticality, parent_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(tenant.0)
        .bind(&spec.name)
        .bind(&spec.address)
        .bind(&spec.kind)
        .bind(serde_json::to_string(&spec.tags).unwrap_or_else(|_| "[]".into()))
        .bind(spec.criticality.as_str())
        .bind(parent)
        .bind(Timestamp::now().micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| taken(e, &spec.name))?;
        let asset = fetch_asset(&mut tx, id).await?;
        tx.commit().await.map_err(db)?;
        Ok(asset)
    }

    async fn update_asset(
        &self,
        tenant: TenantId,
        name: &str,
        spec: &AssetSpec,
    ) -> Result<Asset, StateError> {
        validate(spec)?;
        let mut tx = self.begin_write().await?;
        let id = asset_id(&mut tx, tenant, name)
            .await?
            .ok_or_else(|| StateError::NotFound(format!("no asset {name:?}")))?;
        let parent = parent_id(&mut tx, tenant, spec).await?;
        refuse_cycle(&mut tx, id, parent).await?;
        sqlx::query(
            "UPDATE assets SET name = $2, address = $3, kind = $4, tags = $5, criticality = $6,
                 parent_id = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(&spec.name)
        .bind(&spec.address)
        .bind(&spec.kind)
        .bind(serde_json::to_string(&spec.tags).unwrap_or_else(|_| "[]".into()))
        .bind(spec.criticality.as_str())
        .bind(parent)
        .execute(&mut *tx)
        .await
        .map_err(|e| taken(e, &spec.name))?;
        let asset = fetch_asset(&mut tx, id).await?;
        tx.commit().await.map_err(db)?;
        Ok(asset)
    }

    async fn delete_asset(&self, tenant: TenantId, name: &str) -> Result<(), StateError> {
        let done = sqlx::query("DELETE FROM assets WHERE tenant_id = $1 AND name = $2")
            .bind(tenant.0)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        found(&done, || format!("no asset {name:?}"))?;
        Ok(())
    }

    async fn asset(&self, tenant: TenantId, name: &str) -> Result<Option<Asset>, StateError> {
        sqlx::query(&format!(
            "{ASSET_SELECT} WHERE a.tenant_id = $1 AND a.name = $2"
        ))
        .bind(tenant.0)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .as_ref()
        .map(asset_from_row)
        .transpose()
    }

    async fn list_assets(&self, tenant: TenantId) -> Result<Vec<Asset>, StateError> {
        let rows = sqlx::query(&format!(
            "{ASSET_SELECT} WHERE a.tenant_id = $1 ORDER BY a.name"
        ))
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(asset_from_row).collect()
    }

    async fn create_check(
        &self,
        tenant: TenantId,
        check: &CheckRecord,
    ) -> Result<Check, StateError> {
        let mut tx = self.begin_write().await?;
        let asset = asset_id(&mut tx, tenant, &check.asset)
            .await?
            .ok_or_else(|| StateError::NotFound(format!("no asset {:?}", check.asset)))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO checks (tenant_id, asset_id, kind, target, interval_ms, spec, enabled, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(tenant.0)
        .bind(asset)
        .bind(&check.kind)
        .bind(&check.target)
        .bind(check.interval_ms)
        .bind(self.sealed_spec(&check.spec)?)
        .bind(check.enabled)
        .bind(Timestamp::now().micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let check = fetch_check(&mut tx, tenant, id)
            .await?
            .ok_or_else(|| StateError::Backend("a created check vanished".into()))?;
        tx.commit().await.map_err(db)?;
        Ok(self.opened(check))
    }

    async fn update_check(
        &self,
        tenant: TenantId,
        id: i64,
        check: &CheckRecord,
    ) -> Result<Check, StateError> {
        let mut tx = self.begin_write().await?;
        let asset = asset_id(&mut tx, tenant, &check.asset)
            .await?
            .ok_or_else(|| StateError::NotFound(format!("no asset {:?}", check.asset)))?;
        let done = sqlx::query(
            "UPDATE checks SET asset_id = $3, kind = $4, target = $5, interval_ms = $6, spec = $7,
                 enabled = $8 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(asset)
        .bind(&check.kind)
        .bind(&check.target)
        .bind(check.interval_ms)
        .bind(self.sealed_spec(&check.spec)?)
        .bind(check.enabled)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        found(&done, || format!("no check {id}"))?;
        let check = fetch_check(&mut tx, tenant, id)
            .await?
            .ok_or_else(|| StateError::NotFound(format!("no check {id}")))?;
        tx.commit().await.map_err(db)?;
        Ok(self.opened(check))
    }

    async fn delete_check(&self, tenant: TenantId, id: i64) -> Result<(), StateError> {
        let done = sqlx::query("DELETE FROM checks WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        found(&done, || format!("no check {id}"))?;
        Ok(())
    }

    async fn check(&self, tenant: TenantId, id: i64) -> Result<Option<Check>, StateError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        Ok(fetch_check(&mut conn, tenant, id)
            .await?
            .map(|c| self.opened(c)))
    }

    async fn list_checks(&self, tenant: Option<TenantId>) -> Result<Vec<Check>, StateError> {
        let rows = match tenant {
            Some(t) => {
                sqlx::query(&format!(
                    "{CHECK_SELECT} WHERE c.tenant_id = $1 ORDER BY c.id"
                ))
                .bind(t.0)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(&format!("{CHECK_SELECT} ORDER BY c.id"))
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(db)?;
        rows.iter()
            .map(|row| check_from_row(row).map(|c| self.opened(c)))
            .collect()
    }

    async fn create_definition(
        &self,
        tenant: TenantId,
        kind: DefinitionKind,
        name: &str,
        spec: &serde_json::Value,
    ) -> Result<Definition, StateError> {
        validate_definition_name(kind, name)?;
        let now = Timestamp::now().micros();
        sqlx::query(
            "INSERT INTO noc_definitions (tenant_id, kind, name, spec, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(tenant.0)
        .bind(kind.as_str())
        .bind(name)
        .bind(spec.to_string())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| match super::sqlite::kind(&e) {
            Some(ErrorKind::UniqueViolation) => {
                StateError::Conflict(format!("{} {name:?} already exists", kind.as_str()))
            }
            Some(ErrorKind::ForeignKeyViolation) => StateError::NotFound("tenant not found".into()),
            _ => db(e),
        })?;
        fetch_definition(&self.pool, tenant, kind, name).await
    }

    async fn replace_definition(
        &self,
        tenant: TenantId,
        kind: DefinitionKind,
        name: &str,
        spec: &serde_json::Value,
    ) -> Result<Definition, StateError> {
        let done = sqlx::query(
            "UPDATE noc_definitions SET spec = $4, updated_at = $5
             WHERE tenant_id = $1 AND kind = $2 AND name = $3",
        )
        .bind(tenant.0)
        .bind(kind.as_str())
        .bind(name)
        .bind(spec.to_string())
        .bind(Timestamp::now().micros())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        found(&done, || format!("no {} {name:?}", kind.as_str()))?;
        fetch_definition(&self.pool, tenant, kind, name).await
    }

    async fn delete_definition(
        &self,
        tenant: TenantId,
        kind: DefinitionKind,
        name: &str,
    ) -> Result<(), StateError> {
        let done = sqlx::query(
            "DELETE FROM noc_definitions WHERE tenant_id = $1 AND kind = $2 AND name = $3",
        )
        .bind(tenant.0)
        .bind(kind.as_str())
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        found(&done, || format!("no {} {name:?}", kind.as_str()))?;
        Ok(())
    }

    async fn list_definitions(
        &self,
        tenant: TenantId,
        kind: DefinitionKind,
    ) -> Result<Vec<Definition>, StateError> {
        let rows = sqlx::query(&format!(
            "{DEFINITION_SELECT} WHERE tenant_id = $1 AND kind = $2 ORDER BY name"
        ))
        .bind(tenant.0)
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| definition_from_row(row, kind))
            .collect()
    }
}

impl SqliteState {
    /// A check's spec as stored: its secrets sealed.
    fn sealed_spec(&self, spec: &serde_json::Value) -> Result<String, StateError> {
        let (Some(sealer), serde_json::Value::Object(map)) = (&self.sealer, spec) else {
            return Ok(spec.to_string());
        };
        let mut map = map.clone();
        sealer
            .seal_fields(&mut map, CHECK_SECRET_FIELDS)
            .map_err(|e| StateError::Backend(e.to_string()))?;
        Ok(serde_json::Value::Object(map).to_string())
    }

    /// A check as read: its secrets opened (one that cannot be stays
    /// sealed; the NOC refuses such a check, saying why).
    fn opened(&self, mut check: Check) -> Check {
        if let (Some(sealer), serde_json::Value::Object(map)) =
            (&self.sealer, &mut check.record.spec)
        {
            sealer.open_fields(map, CHECK_SECRET_FIELDS);
        }
        check
    }

    /// Seals the secrets of checks stored before sealing existed (or
    /// before this store had a sealer). Returns how many checks changed.
    pub async fn seal_stored_secrets(&self) -> Result<usize, StateError> {
        let Some(sealer) = &self.sealer else {
            return Ok(0);
        };
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, spec FROM checks")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let mut changed = 0;
        for (id, text) in rows {
            let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&text) else {
                continue;
            };
            let plain = CHECK_SECRET_FIELDS.iter().any(|f| {
                map.get(*f)
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|v| !crate::secrets::is_sealed(v))
            });
            if !plain {
                continue;
            }
            let mut sealed = map;
            sealer
                .seal_fields(&mut sealed, CHECK_SECRET_FIELDS)
                .map_err(|e| StateError::Backend(e.to_string()))?;
            sqlx::query("UPDATE checks SET spec = $2 WHERE id = $1")
                .bind(id)
                .bind(serde_json::Value::Object(sealed).to_string())
                .execute(&self.pool)
                .await
                .map_err(db)?;
            changed += 1;
        }
        Ok(changed)
    }
}

const DEFINITION_SELECT: &str =
    "SELECT tenant_id, name, spec, created_at, updated_at FROM noc_definitions";

fn validate_definition_name(kind: DefinitionKind, name: &str) -> Result<(), StateError> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(StateError::Invalid(format!(
            "a {} id must be 1 to 200 characters",
            kind.as_str()
        )));
    }
    Ok(())
}

async fn fetch_definition(
    pool: &sqlx::SqlitePool,
    tenant: TenantId,
    kind: DefinitionKind,
    name: &str,
) -> Result<Definition, StateError> {
    let row = sqlx::query(&format!(
        "{DEFINITION_SELECT} WHERE tenant_id = $1 AND kind = $2 AND name = $3"
    ))
    .bind(tenant.0)
    .bind(kind.as_str())
    .bind(name)
    .fetch_optional(pool)
    .await
    .map_err(db)?
    .ok_or_else(|| StateError::NotFound(format!("no {} {name:?}", kind.as_str())))?;
    definition_from_row(&row, kind)
}

fn definition_from_row(row: &SqliteRow, kind: DefinitionKind) -> Result<Definition, StateError> {
    let spec: String = get(row, "spec")?;
    Ok(Definition {
        tenant: TenantId(get(row, "tenant_id")?),
        kind,
        name: get(row, "name")?,
        spec: serde_json::from_str(&spec)
            .map_err(|e| StateError::Backend(format!("stored NOC definition: {e}")))?,
        created_at: Timestamp(get(row, "created_at")?),
        updated_at: Timestamp(get(row, "updated_at")?),
    })
}

async fn fetch_asset(conn: &mut SqliteConnection, id: i64) -> Result<Asset, StateError> {
    let row = sqlx::query(&format!("{ASSET_SELECT} WHERE a.id = $1"))
        .bind(id)
        .fetch_one(conn)
        .await
        .map_err(db)?;
    asset_from_row(&row)
}

async fn fetch_check(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    id: i64,
) -> Result<Option<Check>, StateError> {
    sqlx::query(&format!(
        "{CHECK_SELECT} WHERE c.tenant_id = $1 AND c.id = $2"
    ))
    .bind(tenant.0)
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db)?
    .as_ref()
    .map(check_from_row)
    .transpose()
}

fn asset_from_row(row: &SqliteRow) -> Result<Asset, StateError> {
    let tags: String = get(row, "tags")?;
    let criticality: String = get(row, "criticality")?;
    Ok(Asset {
        id: get(row, "id")?,
        tenant: TenantId(get(row, "tenant_id")?),
        spec: AssetSpec {
            name: get(row, "name")?,
            address: get(row, "address")?,
            kind: get(row, "kind")?,
            tags: serde_json::from_str(&tags)
                .map_err(|e| StateError::Backend(format!("stored tags: {e}")))?,
            criticality: Criticality::parse(&criticality)?,
            parent: get(row, "parent")?,
        },
        created_at: Timestamp(get(row, "created_at")?),
    })
}

fn check_from_row(row: &SqliteRow) -> Result<Check, StateError> {
    let spec: String = get(row, "spec")?;
    Ok(Check {
        id: get(row, "id")?,
        tenant: TenantId(get(row, "tenant_id")?),
        record: CheckRecord {
            asset: get(row, "asset")?,
            kind: get(row, "kind")?,
            target: get(row, "target")?,
            interval_ms: get(row, "interval_ms")?,
            spec: serde_json::from_str(&spec)
                .map_err(|e| StateError::Backend(format!("stored check spec: {e}")))?,
            enabled: get(row, "enabled")?,
        },
        created_at: Timestamp(get(row, "created_at")?),
    })
}

#[cfg(test)]
mod secret_tests {
    use super::*;
    use crate::secrets::Sealer;
    use crate::state::StateStore;
    use serde_json::json;

    async fn store_with_asset() -> (SqliteState, TenantId) {
        let store = SqliteState::in_memory()
            .await
            .unwrap()
            .with_sealer(Sealer::from_key(&[3; 32]));
        let name = vigil_core::TenantName::new("acme").unwrap();
        let tenant = store.create_tenant(&name, 30).await.unwrap().id;
        let asset = AssetSpec {
            name: "sw1".into(),
            address: "192.0.2.1".into(),
            kind: "switch".into(),
            tags: Vec::new(),
            criticality: Criticality::Medium,
            parent: None,
        };
        store.create_asset(tenant, &asset).await.unwrap();
        (store, tenant)
    }

    async fn raw_specs(store: &SqliteState) -> Vec<String> {
        sqlx::query_scalar("SELECT spec FROM checks")
            .fetch_all(&store.pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn secrets_are_sealed_at_rest_and_open_when_read() {
        let (store, tenant) = store_with_asset().await;
        let record = CheckRecord {
            asset: "sw1".into(),
            kind: "snmp".into(),
            target: "192.0.2.1".into(),
            interval_ms: 60_000,
            spec: json!({"target": "192.0.2.1", "community": "c0mmunity-XYZ"}),
            enabled: true,
        };
        let created = store.create_check(tenant, &record).await.unwrap();
        assert_eq!(created.record.spec["community"], "c0mmunity-XYZ");
        let raw = raw_specs(&store).await.join("\n");
        assert!(!raw.contains("c0mmunity-XYZ"), "{raw}");
        assert!(raw.contains("enc:v1:"), "{raw}");
        let listed = store.list_checks(Some(tenant)).await.unwrap();
        assert_eq!(listed[0].record.spec["community"], "c0mmunity-XYZ");
        assert!(!format!("{:?}", listed[0]).contains("c0mmunity-XYZ"));
    }

    #[tokio::test]
    async fn plaintext_rows_from_before_are_read_and_sealed_at_start() {
        let (store, tenant) = store_with_asset().await;
        let asset: i64 = sqlx::query_scalar("SELECT id FROM assets")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO checks (tenant_id, asset_id, kind, target, interval_ms, spec, enabled, created_at)
             VALUES ($1, $2, 'snmp', 'h', 60000, $3, 1, 0)",
        )
        .bind(tenant.0)
        .bind(asset)
        .bind(json!({"target": "h", "community": "legacy-plain"}).to_string())
        .execute(&store.pool)
        .await
        .unwrap();
        let listed = store.list_checks(Some(tenant)).await.unwrap();
        assert_eq!(listed[0].record.spec["community"], "legacy-plain");
        assert_eq!(store.seal_stored_secrets().await.unwrap(), 1);
        assert_eq!(store.seal_stored_secrets().await.unwrap(), 0);
        assert!(!raw_specs(&store).await.join("").contains("legacy-plain"));
        let listed = store.list_checks(Some(tenant)).await.unwrap();
        assert_eq!(listed[0].record.spec["community"], "legacy-plain");
    }
}
