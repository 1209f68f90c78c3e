//! A stored check (the inventory's JSON) into the checks crate's
//! [`CheckSpec`], filling what operators leave out: a timeout, a TCP port
//! written in the target (`db01:5432`), an HTTP check whose target is its
//! URL, a DNS check whose target is the name to resolve.

use serde_json::Value;
use vigil_checks::CheckSpec;

/// Kinds the scheduler runs itself (SNMP and Prometheus scrapes are
/// polled by their own loops).
pub use vigil_checks::settings::RUNNABLE;

/// The run of a stored check of a kind the scheduler runs, read and
/// bounded as when it was written.
pub fn check_spec(kind: &str, stored: &Value) -> Result<CheckSpec, String> {
    crate::inventory::read_stored_check(kind, stored)?
        .run
        .ok_or_else(|| format!("{kind} checks are not run by the scheduler"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;
    use vigil_checks::CheckKind;

    #[test]
    fn operators_shorthands_are_filled_in() {
        let spec = check_spec(
            "tcp",
            &json!({"asset": "db01", "kind": "tcp", "target": "192.0.2.20:5432", "interval": "30s"}),
        )
        .expect("tcp");
        assert_eq!(spec.target, "192.0.2.20");
        assert!(matches!(spec.kind, CheckKind::Tcp { port: 5432 }));
        assert_eq!(spec.interval, Duration::from_secs(30));
        assert_eq!(spec.timeout, Duration::from_secs(10));
        let spec = check_spec(
            "http",
            &json!({"kind": "http", "target": "https://192.0.2.10/health", "interval": "5s"}),
        )
        .expect("http");
        assert!(
            matches!(&spec.kind, CheckKind::Http { url, .. } if url == "https://192.0.2.10/health")
        );
        assert_eq!(
            spec.timeout,
            Duration::from_secs(5),
            "never longer than the interval"
        );
    }

    #[test]
    fn what_cannot_run_says_why() {
        let err = check_spec("tcp", &json!({"target": "db01", "interval": "30s"})).unwrap_err();
        assert!(err.contains("port"), "{err}");
        let err = check_spec("dns", &json!({"target": "example.org"})).unwrap_err();
        assert!(err.contains("server"), "{err}");
    }
}
