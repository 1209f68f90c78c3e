//! Live correlation: one engine per tenant (a tenant's events never count
//! toward another's), rebuilt when the rules change, its state written to
//! the data directory so that a restart does not forget a half-counted
//! brute force.

use super::rulebook::RuleBook;
use crate::state_file;
use serde_json::Value;
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
    /// Engines restored from `data/SNAPSHOT_FILE`, if there is one.
    pub fn load(data: &Path) -> Correlations {
        Correlations {
            engines: HashMap::new(),
            restored: state_file::read(&data.join(SNAPSHOT_FILE), "correlation state"),
        }
    }

    /// Feeds one base rule hit of `tenant` from the event `event_id`;
    /// returns the correlations that now hold (chained ones included),
    /// each with the ids of its window's events.
    pub fn observe(
        &mut self,
        book: &RuleBook,
        tenant: TenantId,
        hit: &BaseHit,
        event_id: &str,
    ) -> Vec<CorrelationHit> {
        self.engine(book, tenant)
            .observe_chained_with_id(hit, Some(event_id))
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
    pub fn snapshots(&self) -> Vec<(TenantId, Value)> {
        let restored = self.restored.iter().map(|(t, s)| (*t, s.clone()));
        let live = self.engines.iter().map(|(t, e)| (*t, e.engine.snapshot()));
        restored.chain(live).collect()
    }
}

#[cfg(test)]
mod tests {
    /// The decoder writes the repeat count where the engine reads it.
    #[test]
    fn repeat_count_field_is_shared() {
        assert_eq!(
            vigil_decode::linux::REPEAT_COUNT_FIELD,
            vigil_sigma::correlation::REPEAT_COUNT_FIELD
        );
    }
}
