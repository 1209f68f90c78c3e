//! Which asset sits behind which: the parent (upstream router, switch,
//! hypervisor) of each asset, and each asset's tags.
//!
//! The engine reads it to hold back the alerts of assets behind a parent
//! that is down: one page for the router, not one per host behind it. A
//! cycle would make "behind" meaningless (and a walk up the chain endless),
//! so it is refused when the topology is built.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Parents and tags of assets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    parents: BTreeMap<String, String>,
    tags: BTreeMap<String, BTreeSet<String>>,
    /// Assets with reachability checks configured, whether or not a result
    /// came yet: a child's page waits for them even before their first
    /// result (after a fresh start).
    #[serde(default)]
    watched: BTreeSet<String>,
}

/// A topology that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    #[error("assets depend on each other in a cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("asset {0:?} is its own parent")]
    SelfParent(String),
}

impl Topology {
    /// From (child, parent) pairs; refuses cycles.
    pub fn new(parents: BTreeMap<String, String>) -> Result<Topology, TopologyError> {
        let topology = Topology {
            parents,
            tags: BTreeMap::new(),
            watched: BTreeSet::new(),
        };
        topology.check_acyclic()?;
        Ok(topology)
    }

    /// Adds tags (used by maintenance windows' scopes).
    pub fn with_tags(mut self, tags: BTreeMap<String, BTreeSet<String>>) -> Topology {
        self.tags = tags;
        self
    }

    /// Adds the assets that have reachability checks (see `watched`).
    pub fn with_watched(mut self, watched: BTreeSet<String>) -> Topology {
        self.watched = watched;
        self
    }

    /// Whether the asset has reachability checks configured.
    pub fn is_watched(&self, asset: &str) -> bool {
        self.watched.contains(asset)
    }

    pub fn parent(&self, asset: &str) -> Option<&str> {
        self.parents.get(asset).map(String::as_str)
    }

    pub fn tags(&self, asset: &str) -> Option<&BTreeSet<String>> {
        self.tags.get(asset)
    }

    /// Parent, grandparent... nearest first. Finite: no cycles.
    pub fn ancestors<'a>(&'a self, asset: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        std::iter::successors(self.parent(asset), move |a| self.parent(a))
    }

    fn check_acyclic(&self) -> Result<(), TopologyError> {
        let mut cleared: BTreeSet<&str> = BTreeSet::new();
        for start in self.parents.keys() {
            let mut path: Vec<&str> = vec![start];
            let mut at = start.as_str();
            while let Some(parent) = self.parent(at) {
                if parent == at {
                    return Err(TopologyError::SelfParent(at.to_string()));
                }
                if cleared.contains(parent) {
                    break;
                }
                if let Some(pos) = path.iter().position(|a| *a == parent) {
                    let mut cycle: Vec<String> =
                        path[pos..].iter().map(|a| a.to_string()).collect();
                    cycle.push(parent.to_string());
                    return Err(TopologyError::Cycle(cycle));
                }
                path.push(parent);
                at = parent;
            }
            cleared.extend(path);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(c, p)| (c.to_string(), p.to_string()))
            .collect()
    }

    #[test]
    fn ancestors_nearest_first() {
        let t = Topology::new(pairs(&[("host", "switch"), ("switch", "router")])).expect("acyclic");
        assert_eq!(
            t.ancestors("host").collect::<Vec<_>>(),
            ["switch", "router"]
        );
        assert_eq!(t.ancestors("router").count(), 0);
    }

    #[test]
    fn cycles_are_refused_with_the_path() {
        let err = Topology::new(pairs(&[("a", "b"), ("b", "c"), ("c", "a"), ("x", "a")]))
            .expect_err("cycle");
        assert_eq!(
            err.to_string(),
            "assets depend on each other in a cycle: a -> b -> c -> a"
        );
        let err = Topology::new(pairs(&[("a", "a")])).expect_err("self");
        assert_eq!(err, TopologyError::SelfParent("a".into()));
    }

    #[test]
    fn shared_ancestors_are_not_cycles() {
        let t = Topology::new(pairs(&[("h1", "r"), ("h2", "r"), ("r", "core")]));
        assert!(t.is_ok());
    }
}
