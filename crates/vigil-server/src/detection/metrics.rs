//! Detection's own figures in `/metrics` (no tenant labels: see
//! `crate::metrics`): how often rules were compiled, and how many, per
//! scope, so that one can see (and a test prove) that a tenant's change
//! compiled that tenant's rules only.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// `shared` (rule folders and Vigil's own rules) or `tenant` (one
/// tenant's uploads).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScopeLabel {
    pub scope: &'static str,
}

pub const SHARED: ScopeLabel = ScopeLabel { scope: "shared" };
pub const TENANT: ScopeLabel = ScopeLabel { scope: "tenant" };

#[derive(Default, Clone)]
pub struct DetectionMetrics {
    /// Compilations of a scope's rules.
    pub compilations: Family<ScopeLabel, Counter>,
    /// Rules (and filters) compiled, all compilations together.
    pub rules_compiled: Family<ScopeLabel, Counter>,
    /// Rule uploads refused for a limit or a rule that cannot run.
    pub uploads_refused: Counter,
}

impl DetectionMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "rule_compilations",
            "Compilations of a scope of detection rules (shared or one tenant's)",
            self.compilations.clone(),
        );
        registry.register(
            "rules_compiled",
            "Detection rules compiled, by scope",
            self.rules_compiled.clone(),
        );
        registry.register(
            "rule_uploads_refused",
            "Rule uploads refused (over a limit, or a rule that cannot run)",
            self.uploads_refused.clone(),
        );
    }

    pub fn compiled(&self, scope: &ScopeLabel, rules: usize) {
        self.compilations.get_or_create(scope).inc();
        self.rules_compiled
            .get_or_create(scope)
            .inc_by(rules as u64);
    }
}
