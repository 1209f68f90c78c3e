//! The NOC inventory as the API and the config give it: assets and checks
//! from JSON or TOML into the store's records, with the checks' common
//! settings read and checked once, here.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;
use vigil_store::state::{AssetSpec, CheckRecord, Criticality, InventoryStore, StateStore};

/// The check kinds Vigil runs.
pub use vigil_checks::settings::KINDS as CHECK_KINDS;

pub use vigil_checks::settings::{DEFAULT_INTERVAL, DEFAULT_TIMEOUT, MIN_INTERVAL};

/// An asset as the API and the config write it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetInput {
    pub name: String,
    pub address: String,
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "default_criticality")]
    pub criticality: String,
    #[serde(default)]
    pub parent: Option<String>,
}

fn default_kind() -> String {
    "host".into()
}

fn default_criticality() -> String {
    "medium".into()
}

impl AssetInput {
    pub fn to_spec(&self) -> Result<AssetSpec, String> {
        Ok(AssetSpec {
            name: self.name.trim().to_string(),
            address: self.address.trim().to_string(),
            kind: self.kind.clone(),
            tags: self.tags.clone(),
            criticality: Criticality::parse(&self.criticality).map_err(|e| e.to_string())?,
            parent: self.parent.clone().filter(|p| !p.is_empty()),
        })
    }
}

/// `30s`, `5m`, `1h`, `1d`, or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a duration: use 30s, 5m, 1h or 1d");
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400).ok_or_else(bad)?,
        "ms" => return Ok(Duration::from_millis(n)),
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}

/// A check from its JSON specification (`asset`, `kind`, `target`,
/// `interval`, and the kind's own settings, kept as given), read and
/// bounded by [`vigil_checks::settings`]: the one reading of a check for
/// the API and the config. It names no server file (`ca_file` is refused:
/// see [`config_check_record`]).
pub fn check_record(spec: Map<String, Value>) -> Result<CheckRecord, String> {
    crate::noc::guard::refuse_control(&spec)?;
    let text = |key: &str| spec.get(key).and_then(Value::as_str).map(str::to_string);
    let asset = text("asset").ok_or("asset: missing: the asset the check belongs to")?;
    if asset.trim().is_empty() || asset.len() > 200 {
        return Err("asset: 1 to 200 characters".into());
    }
    let kind = text("kind").ok_or_else(|| {
        format!(
            "kind: missing: one of {}",
            vigil_checks::settings::KINDS.join(", ")
        )
    })?;
    let read = vigil_checks::settings::read_stored(&kind, &spec).map_err(|e| e.to_string())?;
    Ok(CheckRecord {
        asset,
        kind,
        target: read.target,
        // At most a day: fits.
        interval_ms: i64::try_from(read.interval.as_millis()).unwrap_or(i64::MAX),
        spec: Value::Object(spec),
        enabled: read.enabled,
    })
}

/// A check of the MSP's config file: like [`check_record`], but a
/// `ca_file` is read here, once, as the config is (a regular file of at
/// most 64 KiB), and kept as `ca_pem`; the server never reads it again.
pub fn config_check_record(mut spec: Map<String, Value>) -> Result<CheckRecord, String> {
    if let Some(path) = spec.remove("ca_file") {
        let path = path.as_str().ok_or("ca_file: a path")?;
        let pem = read_ca_file(std::path::Path::new(path))?;
        spec.insert("ca_pem".into(), pem.into());
    }
    check_record(spec)
}

fn read_ca_file(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let cannot = |e: &dyn std::fmt::Display| format!("ca_file {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(|e| cannot(&e))?;
    if !file.metadata().map_err(|e| cannot(&e))?.is_file() {
        return Err(cannot(&"not a regular file"));
    }
    let cap = vigil_checks::settings::MAX_CA_PEM_BYTES;
    let mut text = String::new();
    file.take(cap as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| cannot(&e))?;
    if text.len() > cap {
        return Err(cannot(&format!("over {cap} bytes")));
    }
    Ok(text)
}

/// What a stored check is when read back (at start, at each sync): the
/// same bounds as when it was written, so a row stored before they
/// existed is refused with the reason rather than scheduled.
pub fn read_stored_check(
    kind: &str,
    spec: &Value,
) -> Result<vigil_checks::settings::StoredCheck, String> {
    let map = spec
        .as_object()
        .ok_or("a check specification is a JSON object")?;
    vigil_checks::settings::read_stored(kind, map).map_err(|e| e.to_string())
}

/// Creates the assets and checks of the config that are missing (an asset
/// by name, a check by asset, kind and target). Parents first: assets are
/// created in an order where each parent precedes its children.
pub async fn ensure_config_inventory(
    state: &dyn StateStore,
    inventory: &dyn InventoryStore,
    config: &crate::config::Config,
) -> anyhow::Result<()> {
    let mut pending: Vec<&crate::config::AssetConfig> = config.assets.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut later = Vec::new();
        for asset in pending {
            let tenant = tenant_id(state, &asset.tenant).await?;
            if inventory.asset(tenant, &asset.name).await?.is_some() {
                continue;
            }
            let parent_missing = match &asset.parent {
                Some(p) => inventory.asset(tenant, p).await?.is_none(),
                None => false,
            };
            if parent_missing {
                later.push(asset);
                continue;
            }
            let spec = asset
                .input()
                .to_spec()
                .map_err(|e| anyhow::anyhow!("asset {:?}: {e}", asset.name))?;
            inventory.create_asset(tenant, &spec).await?;
            tracing::info!(tenant = %asset.tenant, asset = %spec.name, "asset from the config created");
        }
        if later.len() == before {
            let names: Vec<&str> = later.iter().map(|a| a.name.as_str()).collect();
            anyhow::bail!("assets {names:?} name parents that no asset of their tenant has");
        }
        pending = later;
    }
    for check in &config.checks {
        let tenant = tenant_id(state, &check.tenant).await?;
        let record = config_check_record(check.spec.clone())
            .map_err(|e| anyhow::anyhow!("a check of tenant {:?}: {e}", check.tenant))?;
        let existing = inventory
            .list_checks(Some(tenant))
            .await?
            .into_iter()
            .find(|c| {
                c.record.asset == record.asset
                    && c.record.kind == record.kind
                    && c.record.target == record.target
            });
        match existing {
            None => {
                inventory.create_check(tenant, &record).await?;
                tracing::info!(tenant = %check.tenant, asset = %record.asset, kind = %record.kind, "check from the config created");
            }
            // A CA file is the config's: its text as read now holds (and a
            // row that still names the file is replaced).
            Some(stored)
                if check.spec.contains_key("ca_file")
                    && (stored.record.spec.get("ca_pem") != record.spec.get("ca_pem")
                        || stored.record.spec.get("ca_file").is_some()) =>
            {
                inventory.update_check(tenant, stored.id, &record).await?;
                tracing::info!(tenant = %check.tenant, asset = %record.asset, kind = %record.kind, "check from the config: CA certificates read again");
            }
            Some(_) => {}
        }
    }
    ensure_config_definitions(state, inventory, config).await
}

/// The config's maintenance windows and NOC rules, created or replaced:
/// for the ones it names, the config file is what holds.
async fn ensure_config_definitions(
    state: &dyn StateStore,
    inventory: &dyn InventoryStore,
    config: &crate::config::Config,
) -> anyhow::Result<()> {
    use crate::noc::definitions::{rule_from_json, window_from_json};
    use vigil_store::state::DefinitionKind;
    let now = vigil_core::Timestamp::now();
    let mut wanted = Vec::new();
    for window in &config.maintenance_windows {
        let read = window_from_json(window.spec.clone(), now).map_err(|e| {
            anyhow::anyhow!("a maintenance window of tenant {:?}: {e}", window.tenant)
        })?;
        let doc = serde_json::to_value(&read)?;
        wanted.push((&window.tenant, DefinitionKind::Window, read.id, doc));
    }
    for rule in &config.noc_rules {
        let read = rule_from_json(rule.spec.clone())
            .map_err(|e| anyhow::anyhow!("a NOC rule of tenant {:?}: {e}", rule.tenant))?;
        wanted.push((
            &rule.tenant,
            DefinitionKind::Rule,
            read.id.clone(),
            read.to_json(),
        ));
    }
    for (tenant_name, kind, name, doc) in wanted {
        let tenant = tenant_id(state, tenant_name).await?;
        match inventory.create_definition(tenant, kind, &name, &doc).await {
            Err(vigil_store::state::StateError::Conflict(_)) => {
                inventory
                    .replace_definition(tenant, kind, &name, &doc)
                    .await?;
            }
            other => {
                other?;
            }
        }
        tracing::info!(tenant = %tenant_name, kind = kind.as_str(), %name, "NOC definition from the config applied");
    }
    Ok(())
}

async fn tenant_id(state: &dyn StateStore, name: &str) -> anyhow::Result<vigil_core::TenantId> {
    state
        .tenant_by_name(name)
        .await?
        .map(|t| t.id)
        .ok_or_else(|| anyhow::anyhow!("the config names tenant {name:?}, which does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert!(parse_duration("18446744073709551615d").is_err());
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "s", "5y", "-1s", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn checks_are_read_and_checked() {
        let record = check_record(spec(json!({
            "asset": "web01", "kind": "http", "target": "https://192.0.2.10/health",
            "interval": "30s", "expect_text": "ok"
        })))
        .expect("valid");
        assert_eq!(record.interval_ms, 30_000);
        assert_eq!(record.spec["expect_text"], "ok", "kind settings are kept");
        assert!(record.enabled);
        let errors = [
            json!({"kind": "tcp", "target": "x"}),
            json!({"asset": "a", "kind": "gopher", "target": "x"}),
            json!({"asset": "a", "kind": "tcp", "target": " "}),
            json!({"asset": "a", "kind": "tcp", "target": "x", "interval": "500ms"}),
            json!({"asset": "a", "kind": "tcp", "target": "x", "interval": "10s", "timeout": "1m"}),
            json!({"asset": "a", "kind": "prometheus", "target": "http://x/", "interval": "18446744073709551615s"}),
            json!({"asset": "a", "kind": "snmp", "target": "x", "interval": "18446744073709551615"}),
            json!({"asset": "a", "kind": "http", "target": "https://x/", "ca_file": "/dev/urandom"}),
        ];
        for e in errors {
            assert!(check_record(spec(e.clone())).is_err(), "{e}");
        }
    }

    #[test]
    fn a_config_ca_file_is_read_once_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let check = |path: &str| {
            config_check_record(spec(json!({
                "asset": "a", "kind": "http", "target": "https://x/", "ca_file": path
            })))
        };
        for device in ["/dev/urandom", "/dev/zero"] {
            let err = check(device).unwrap_err();
            assert!(err.contains("not a regular file"), "{err}");
        }
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'a'; 100_000]).unwrap();
        assert!(check(big.to_str().unwrap()).unwrap_err().contains("over"));
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not pem").unwrap();
        assert!(check(junk.to_str().unwrap())
            .unwrap_err()
            .starts_with("ca_pem:"));
    }
}
