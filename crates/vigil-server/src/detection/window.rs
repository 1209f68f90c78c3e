//! A rule's own alert window: how long after its last hit an open alert of
//! the rule absorbs more hits (see `DetectionStore::record_alerts`).
//!
//! Sigma has no such attribute, so it is Vigil's own, in a `vigil:` block
//! that other Sigma tools ignore as a custom attribute:
//!
//! ```yaml
//! vigil:
//!   alert_window: 2h    # s, m, h or d, from 1m to 366d
//! ```
//!
//! A rule without it takes the tenant's window, else 24 hours.

use vigil_sigma::correlation::parse_timespan;
use vigil_store::state::ALERT_WINDOW_RANGE;
use yaml_serde::{Mapping, Value};

/// The window a rule's attributes set, in microseconds; an error names
/// what is wrong.
pub fn of_rule(attributes: &Mapping) -> Result<Option<i64>, String> {
    let Some(block) = attributes.get("vigil") else {
        return Ok(None);
    };
    let Value::Mapping(block) = block else {
        return Err("vigil: must be a mapping (like `alert_window: 2h`)".into());
    };
    let Some(value) = block.get("alert_window") else {
        return Ok(None);
    };
    let Value::String(text) = value else {
        return Err("vigil.alert_window: must be a time span like 2h".into());
    };
    let window = parse_timespan(text).map_err(|e| format!("vigil.alert_window: {e}"))?;
    if !ALERT_WINDOW_RANGE.contains(&window) {
        return Err(format!(
            "vigil.alert_window: {text:?} is outside 1m to 366d"
        ));
    }
    Ok(Some(window))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(yaml: &str) -> Mapping {
        yaml_serde::from_str(yaml).expect("yaml")
    }

    #[test]
    fn a_rule_may_set_its_window() {
        assert_eq!(of_rule(&attributes("license: MIT")), Ok(None));
        assert_eq!(
            of_rule(&attributes("vigil:\n  alert_window: 2h")),
            Ok(Some(2 * 3_600_000_000))
        );
        for bad in [
            "vigil: 2h",
            "vigil:\n  alert_window: 5",
            "vigil:\n  alert_window: 2 hours",
            "vigil:\n  alert_window: 10s",
            "vigil:\n  alert_window: 400d",
        ] {
            let e = of_rule(&attributes(bad)).expect_err(bad);
            assert!(e.contains("vigil"), "{bad}: {e}");
        }
    }
}
