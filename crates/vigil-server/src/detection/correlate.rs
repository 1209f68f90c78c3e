//! Live correlation: one engine per tenant (a tenant's events never count
//! toward another's), rebuilt when the rules change, its state written to
//! the data directory so that a restart does not forget a half-counted
//! brute force.

use super::rulebook::RuleBook;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;
use vigil_core::TenantId;
use vigil_sigma::correlation::{BaseHit, CorrelationEngine, CorrelationHit};

/// The file, under the data directory, holding the engines' state.
pub const SNAPSHOT_FILE: &str = "detection/correlations.json";

#[derive(Default)]
pub struct Correlations {
    engines: HashMap<TenantId, Engine>,
    /// State read at start, for tenants whose engine is not built yet.
    restored: HashMap<TenantId, Value>,
}

struct Engine {
    generation: u64,
    engine: CorrelationEngine,
}

impl Correlations {
    /// Engines restored from `data/SNAPSHOT_FILE`, if there is one. A file
    /// that cannot be read is logged and set aside, never fatal: losing
    /// half-counted windows is better than not starting.
    pub fn load(data: &Path) -> Correlations {
        let path = data.join(SNAPSHOT_FILE);
        let restored = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<HashMap<i64, Value>>(&bytes) {
                Ok(map) => map.into_iter().map(|(k, v)| (TenantId(k), v)).collect(),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "correlation state unreadable; starting afresh");
                    HashMap::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the correlation state");
                HashMap::new()
            }
        };
        Correlations {
            engines: HashMap::new(),
            restored,
        }
    }

    /// Feeds one base rule hit of `tenant`; returns the correlations that
    /// now hold (chained ones included).
    pub fn observe(
        &mut self,
        book: &RuleBook,
        tenant: TenantId,
        hit: &BaseHit,
    ) -> Vec<CorrelationHit> {
        self.engine(book, tenant).observe_chained(hit)
    }

    fn engine(&mut self, book: &RuleBook, tenant: TenantId) -> &mut CorrelationEngine {
        let stale = self
            .engines
            .get(&tenant)
            .is_none_or(|e| e.generation != book.generation);
        if stale {
            // The state of rules that did not change carries over: the
            // engine keeps a rule's windows when its fingerprint matches.
            let previous = match self.engines.remove(&tenant) {
                Some(e) => Some(e.engine.snapshot()),
                None => self.restored.remove(&tenant),
            };
            let rules = book.correlations_of(tenant);
            let engine = previous
                .and_then(|snap| CorrelationEngine::restore(rules.clone(), &snap).ok())
                .unwrap_or_else(|| CorrelationEngine::new(rules));
            self.engines.insert(
                tenant,
                Engine {
                    generation: book.generation,
                    engine,
                },
            );
        }
        &mut self
            .engines
            .entry(tenant)
            .or_insert_with(|| Engine {
                generation: book.generation,
                engine: CorrelationEngine::new(book.correlations_of(tenant)),
            })
            .engine
    }

    /// Every engine's state (and state restored but not yet used).
    pub fn snapshot(&self) -> Value {
        let mut all = Map::new();
        for (tenant, snap) in &self.restored {
            all.insert(tenant.0.to_string(), snap.clone());
        }
        for (tenant, engine) in &self.engines {
            all.insert(tenant.0.to_string(), engine.engine.snapshot());
        }
        Value::Object(all)
    }
}

/// Writes `snapshot` to `data/SNAPSHOT_FILE` atomically.
pub fn save(data: &Path, snapshot: &Value) -> std::io::Result<()> {
    write_atomically(&data.join(SNAPSHOT_FILE), snapshot)
}

/// Writes JSON to `path` atomically (temporary file, fsync, rename), so a
/// crash leaves the old state or the new, never half.
pub fn write_atomically(path: &Path, value: &Value) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&serde_json::to_vec(value).unwrap_or_default())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
