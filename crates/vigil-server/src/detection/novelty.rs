//! "A login from a source never seen for that user": a detection Sigma
//! cannot express, because it needs a memory of every user's sources. The
//! memory is the detection store's `login_sources`; a user is judged only
//! once it has been known for the learning period, so that a fresh install
//! does not page on every first login.

use serde_json::{Map, Value};
use vigil_sigma::logsource::EventSource;

/// The id under which this detection's alerts are filed (and switched off).
pub const RULE_ID: &str = "vigil-login-new-source";
pub const RULE_TITLE: &str = "Login from a source never seen for this user";

/// `(user, source address)` of a successful login, or `None`.
pub fn login_of(source: &EventSource, doc: &Map<String, Value>) -> Option<(String, String)> {
    let text = |field: &str| doc.get(field).and_then(Value::as_str);
    if text("event.outcome") != Some("success") {
        return None;
    }
    let is_login = source
        .categories
        .iter()
        .any(|c| c.eq_ignore_ascii_case("authentication"))
        || text("event.category") == Some("authentication")
        || windows_network_logon(doc);
    if !is_login {
        return None;
    }
    let user = text("user.name")?.trim();
    let address = text("source.ip")?.trim();
    if user.is_empty() || address.is_empty() || address == "-" {
        return None;
    }
    Some((user.to_string(), address.to_string()))
}

/// Event 4624 with a network or remote-interactive logon type: a logon
/// from somewhere, not a service starting.
fn windows_network_logon(doc: &Map<String, Value>) -> bool {
    let number = |field: &str| match doc.get(field) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    number("EventID") == Some(4624) && matches!(number("LogonType"), Some(3 | 10))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn auth() -> EventSource {
        EventSource {
            product: Some("linux".into()),
            categories: vec!["authentication".into()],
            service: Some("sshd".into()),
        }
    }

    #[test]
    fn successful_logins_with_user_and_source_count() {
        let d = doc(
            json!({"event.outcome": "success", "user.name": "alice", "source.ip": "192.0.2.1"}),
        );
        assert_eq!(
            login_of(&auth(), &d),
            Some(("alice".into(), "192.0.2.1".into()))
        );
        let failed = doc(
            json!({"event.outcome": "failure", "user.name": "alice", "source.ip": "192.0.2.1"}),
        );
        assert_eq!(login_of(&auth(), &failed), None);
        assert_eq!(login_of(&EventSource::default(), &d), None, "not a login");
    }

    #[test]
    fn windows_network_logons_count() {
        let d = doc(
            json!({"EventID": 4624, "LogonType": "10", "event.outcome": "success",
                           "user.name": "bob", "source.ip": "198.51.100.4"}),
        );
        assert!(login_of(&EventSource::default(), &d).is_some());
        let service = doc(
            json!({"EventID": 4624, "LogonType": 5, "event.outcome": "success",
                                 "user.name": "SYSTEM", "source.ip": "-"}),
        );
        assert_eq!(login_of(&EventSource::default(), &service), None);
    }
}
