//! The things an alert is about (host, user, source address), read from an
//! event under the names the decoders and the usual shippers give them.

use serde_json::{Map, Value};
use vigil_store::state::Entities;

const HOST_FIELDS: &[&str] = &[
    "host.name",
    "Computer",
    "host.hostname",
    "hostname",
    "observer.name",
];
const USER_FIELDS: &[&str] = &[
    "user.name",
    "TargetUserName",
    "SubjectUserName",
    "user.target.name",
    "User",
    "username",
];
const SOURCE_FIELDS: &[&str] = &[
    "source.ip",
    "IpAddress",
    "src_ip",
    "SourceIp",
    "client.ip",
    "c-ip",
    // Last: the address as logged, a name when the log gave one (PAM's
    // rhost); correlations over SSH failures group by it.
    "source.address",
];

/// Values that mean "nobody" or "nowhere" in Windows and Unix logs.
fn is_placeholder(value: &str) -> bool {
    matches!(value, "" | "-" | "::1" | "N/A" | "n/a" | "(unknown)")
}

fn first_text(doc: &Map<String, Value>, fields: &[&str]) -> Option<String> {
    fields.iter().find_map(|field| {
        let text = match doc.get(*field)? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        (!is_placeholder(text.trim())).then(|| text.trim().to_string())
    })
}

/// The entities of an event.
pub fn of_event(doc: &Map<String, Value>) -> Entities {
    Entities {
        host: first_text(doc, HOST_FIELDS),
        user: first_text(doc, USER_FIELDS),
        source_ip: first_text(doc, SOURCE_FIELDS),
        resource: None,
    }
}

/// The entities of a correlation: its group-by values where they name
/// one, else those of the event that completed it.
pub fn of_correlation(group: &[(String, String)], evidence: &Map<String, Value>) -> Entities {
    let grouped: Map<String, Value> = group
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let from_group = of_event(&grouped);
    let from_event = of_event(evidence);
    // A correlation grouped by source must not be split by the user of its
    // last event: fields outside the group stay empty when there is a group.
    if group.is_empty() {
        return from_event;
    }
    Entities {
        host: from_group.host.or(from_event.host),
        user: from_group.user,
        source_ip: from_group.source_ip,
        resource: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn ecs_names_first_then_windows_names() {
        let e = of_event(&doc(json!({
            "host.name": "web01", "Computer": "ignored",
            "TargetUserName": "alice", "IpAddress": "-", "src_ip": "192.0.2.9"
        })));
        assert_eq!(e.host.as_deref(), Some("web01"));
        assert_eq!(e.user.as_deref(), Some("alice"));
        assert_eq!(e.source_ip.as_deref(), Some("192.0.2.9"), "'-' is nobody");
    }

    #[test]
    fn a_correlation_is_about_its_group() {
        let evidence =
            doc(json!({"host.name": "srv", "user.name": "bob", "source.ip": "10.0.0.1"}));
        let e = of_correlation(&[("source.ip".into(), "10.0.0.1".into())], &evidence);
        assert_eq!(e.source_ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(e.user, None, "the group is per source, not per user");
        assert_eq!(e.host.as_deref(), Some("srv"));
    }

    #[test]
    fn a_source_known_by_name_is_the_source() {
        // PAM's rhost after a reverse lookup: no IP, the name is the source.
        let evidence = doc(json!({"source.domain": "h.example", "source.address": "h.example"}));
        let e = of_correlation(&[("source.address".into(), "h.example".into())], &evidence);
        assert_eq!(e.source_ip.as_deref(), Some("h.example"));
        let e = of_event(&doc(
            json!({"source.ip": "10.0.0.1", "source.address": "10.0.0.1"}),
        ));
        assert_eq!(e.source_ip.as_deref(), Some("10.0.0.1"));
    }
}
