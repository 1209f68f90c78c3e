//! Log sources: which rules apply to which events.

use crate::rule::LogSource;

/// What an event is, in Sigma's terms: its product, the categories it
/// belongs to (a Sysmon registry event is both `registry_set` and
/// `registry_event`), and its service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSource {
    pub product: Option<String>,
    pub categories: Vec<String>,
    pub service: Option<String>,
}

impl LogSource {
    /// Whether a rule with this log source applies to an event of `source`:
    /// every part the rule names must match (case-insensitive).
    pub fn accepts(&self, source: &EventSource) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| match want {
            None => true,
            Some(w) => have.is_some_and(|h| h.eq_ignore_ascii_case(w)),
        };
        same(&self.product, source.product.as_deref())
            && same(&self.service, source.service.as_deref())
            && match &self.category {
                None => true,
                Some(c) => source.categories.iter().any(|s| s.eq_ignore_ascii_case(c)),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(product: &str, categories: &[&str], service: Option<&str>) -> EventSource {
        EventSource {
            product: Some(product.into()),
            categories: categories.iter().map(|c| c.to_string()).collect(),
            service: service.map(str::to_string),
        }
    }

    #[test]
    fn every_named_part_must_match() {
        let rule = LogSource {
            category: Some("registry_event".into()),
            product: Some("windows".into()),
            service: None,
        };
        assert!(rule.accepts(&source(
            "windows",
            &["registry_set", "registry_event"],
            Some("sysmon")
        )));
        assert!(!rule.accepts(&source("windows", &["process_creation"], Some("sysmon"))));
        assert!(!rule.accepts(&source("linux", &["registry_event"], None)));
        let security = LogSource {
            category: None,
            product: Some("windows".into()),
            service: Some("security".into()),
        };
        assert!(security.accepts(&source("Windows", &[], Some("Security"))));
        assert!(!security.accepts(&source("windows", &[], Some("system"))));
        assert!(LogSource::default().accepts(&EventSource::default()));
    }
}
