//! A stored check (the inventory's JSON) into the checks crate's
//! [`CheckSpec`], filling what operators leave out: a timeout, a TCP port
//! written in the target (`db01:5432`), an HTTP check whose target is its
//! URL, a DNS check whose target is the name to resolve.

use crate::inventory::{interval_of, timeout_of};
use serde_json::{Map, Value};
use vigil_checks::CheckSpec;

/// Kinds the scheduler runs itself (SNMP and Prometheus scrapes are
/// polled by their own loops).
pub const RUNNABLE: &[&str] = &["icmp", "tcp", "http", "dns"];

pub fn check_spec(kind: &str, stored: &Value) -> Result<CheckSpec, String> {
    let mut spec: Map<String, Value> = match stored {
        Value::Object(map) => map.clone(),
        _ => return Err("a check specification is a JSON object".into()),
    };
    spec.remove("asset");
    spec.remove("enabled");
    spec.insert("kind".into(), kind.into());
    let text = |spec: &Map<String, Value>, key: &str| {
        spec.get(key).and_then(Value::as_str).map(str::to_string)
    };
    let target = text(&spec, "target").unwrap_or_default();
    let interval = interval_of(&spec)?;
    let timeout = timeout_of(&spec, interval)?;
    for (key, value) in [("interval", interval), ("timeout", timeout)] {
        spec.insert(key.into(), format!("{}ms", value.as_millis()).into());
    }
    match kind {
        "tcp" if !spec.contains_key("port") => {
            let (host, port) = target
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
                .ok_or("a tcp check needs a port: \"port\" or a target such as host:443")?;
            spec.insert("target".into(), host.trim_matches(['[', ']']).into());
            spec.insert("port".into(), port.into());
        }
        "http" if !spec.contains_key("url") => {
            spec.insert("url".into(), target.into());
        }
        "dns" if !spec.contains_key("name") => {
            spec.insert("name".into(), target.into());
        }
        _ => {}
    }
    let spec: CheckSpec =
        serde_json::from_value(Value::Object(spec)).map_err(|e| format!("check: {e}"))?;
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
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
