//! The compiled rules in use: what every tenant runs (the config's folders
//! and Vigil's own rules: the shared scope), what each tenant uploaded (a
//! scope per tenant), and what each tenant switched off (a filter, applied
//! when matching). Each scope is compiled on its own and shared by `Arc`:
//! a tenant's change compiles that tenant's scope and swaps a new book
//! holding it, the other scopes carried over as they are; a switch
//! compiles nothing.

use super::load::Loaded;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use vigil_core::TenantId;
use vigil_sigma::correlation::CorrelationRule;
use vigil_sigma::logsource::EventSource;
use vigil_sigma::rule::{CompiledRule, Rule, RuleError};
use vigil_sigma::ruleset::RuleSet;

/// The key a rule is known by in the API and in switches: its id, else its
/// title.
pub fn rule_key(rule: &Rule) -> String {
    rule.id.clone().unwrap_or_else(|| rule.title.clone())
}

/// The key of a correlation rule, as [`rule_key`].
pub fn correlation_key(rule: &CorrelationRule) -> String {
    rule.id.clone().unwrap_or_else(|| rule.title.clone())
}

/// Rules of one scope (shared, or one tenant's uploads).
pub struct Scope {
    pub set: RuleSet,
    pub correlations: Vec<CorrelationRule>,
    /// Keys of rules whose own hits are not alerts: a correlation refers to
    /// them and does not ask to `generate` them (Sigma's correlation spec).
    pub quiet: HashSet<String>,
    /// Keys of rules some correlation refers to.
    pub referenced: HashSet<String>,
    pub errors: Vec<RuleError>,
}

impl Scope {
    pub fn new(loaded: Loaded) -> Scope {
        let mut quiet = HashSet::new();
        let mut referenced = HashSet::new();
        for compiled in &loaded.compiled {
            let referring: Vec<&CorrelationRule> = loaded
                .correlations
                .iter()
                .filter(|c| c.rules.iter().any(|r| refers_to(r, &compiled.rule)))
                .collect();
            if referring.is_empty() {
                continue;
            }
            let key = rule_key(&compiled.rule);
            if referring.iter().all(|c| !c.generate) {
                quiet.insert(key.clone());
            }
            referenced.insert(key);
        }
        Scope {
            set: RuleSet::new(loaded.compiled).with_filters(loaded.filters),
            correlations: loaded.correlations,
            quiet,
            referenced,
            errors: loaded.errors,
        }
    }

    pub fn empty() -> Scope {
        Scope::new(Loaded::default())
    }

    /// Rules, filters and correlations in the scope.
    pub fn len(&self) -> usize {
        self.set.len() + self.correlations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rules of the scope that came from the upload `id`.
    pub fn len_of_upload(&self, id: &str) -> usize {
        let origin = upload_origin(id);
        self.set
            .rules()
            .iter()
            .filter(|r| r.rule.origin.file == origin)
            .count()
    }
}

/// How an uploaded rule's origin is written.
pub fn upload_origin(id: &str) -> String {
    format!("uploaded:{id}")
}

/// Whether a correlation's `rules` entry names `rule` (by id or name).
pub fn refers_to(reference: &str, rule: &Rule) -> bool {
    rule.id
        .as_deref()
        .is_some_and(|id| id.eq_ignore_ascii_case(reference))
        || rule.name.as_deref() == Some(reference)
}

/// A rule that fired on an event, with what the caller needs to know of it.
pub struct Fired<'a> {
    pub rule: &'a CompiledRule,
    pub key: String,
    /// Its own hits are evidence for a correlation, not alerts.
    pub quiet: bool,
    /// A correlation counts its hits.
    pub referenced: bool,
}

#[derive(Clone)]
pub struct RuleBook {
    pub shared: Arc<Scope>,
    pub tenants: HashMap<TenantId, Arc<Scope>>,
    pub disabled: Arc<HashSet<(TenantId, String)>>,
    /// Counts up with every change; correlation state follows it.
    pub generation: u64,
}

impl RuleBook {
    pub fn empty() -> RuleBook {
        RuleBook {
            shared: Arc::new(Scope::empty()),
            tenants: HashMap::new(),
            disabled: Arc::new(HashSet::new()),
            generation: 0,
        }
    }

    pub fn is_enabled(&self, tenant: TenantId, key: &str) -> bool {
        !self.disabled.contains(&(tenant, key.to_string()))
    }

    /// The enabled rules of `tenant` that fire on `event`.
    pub fn matching<'a>(
        &'a self,
        tenant: TenantId,
        source: &EventSource,
        event: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<Fired<'a>> {
        let mut fired = Vec::new();
        let scopes = std::iter::once(&self.shared).chain(self.tenants.get(&tenant));
        for scope in scopes {
            for rule in scope.set.matching(source, event) {
                let key = rule_key(&rule.rule);
                if !self.is_enabled(tenant, &key) {
                    continue;
                }
                fired.push(Fired {
                    rule,
                    quiet: scope.quiet.contains(&key),
                    referenced: scope.referenced.contains(&key),
                    key,
                });
            }
        }
        fired
    }

    /// The correlation rules `tenant` runs, switched-off ones left out.
    pub fn correlations_of(&self, tenant: TenantId) -> Vec<CorrelationRule> {
        let scopes = std::iter::once(&self.shared).chain(self.tenants.get(&tenant));
        scopes
            .flat_map(|s| s.correlations.iter())
            .filter(|c| self.is_enabled(tenant, &correlation_key(c)))
            .cloned()
            .collect()
    }
}
