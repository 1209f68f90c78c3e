//! A tenant tunes its NOC on the real binary: maintenance windows (from
//! the config and the API) hold alerts back and say why, and page when the
//! window is gone while the problem stays; the tenant's own rules add to,
//! replace or switch off the built-ins, and the alerts of a switched-off
//! rule resolve with that reason.
//!
//! The failing service is a loopback port nobody listens on.

mod common;

use common::peers::free_tcp_port;
use common::Server;
use serde_json::{json, Value};

/// A config with tenant acme, asset app01 and a failing TCP check every
/// second, plus `extra`.
fn start(dir: &std::path::Path, extra: &str) -> Server {
    Server::start_with_toml(
        dir,
        &format!(
            r#"
[[tenants]]
name = "acme"
# The peers listen on loopback, which checks may reach only when allowed.
check_allow_networks = ["127.0.0.0/8", "::1"]

[[assets]]
tenant = "acme"
name = "app01"
address = "127.0.0.1"
tags = ["web"]

[[checks]]
tenant = "acme"
asset = "app01"
kind = "tcp"
target = "127.0.0.1:{}"
interval = "1s"
timeout = "500ms"
{extra}
"#,
            // A loopback port nobody listens on.
            free_tcp_port()
        ),
    )
}

fn send(server: &Server, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let mut request = server.request(method, path).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().expect("request");
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    json!({"status": status, "body": serde_json::from_str::<Value>(&text).unwrap_or(Value::Null)})
}

#[test]
fn a_maintenance_window_holds_alerts_back_and_pages_when_it_is_gone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(
        dir.path(),
        r#"
[[maintenance_windows]]
tenant = "acme"
id = "switch-swap"
note = "change 4711"
scope = { tags = ["web"] }
schedule = { kind = "once", start = "now", end = "now+1h" }

[[maintenance_windows]]
tenant = "acme"
id = "sunday-patching"
scope = { assets = ["db01"] }
schedule = { kind = "weekly", days = ["sun"], start = "22:00", duration = "4h", utc_offset = "+01:00" }
"#,
    );
    let read = server.token("acme", "read");
    let noc = server.token("acme", "admin");

    let held = server.alerts_until(&read, &[("team", "noc")], |a| a["total"] == 1);
    let alert = &held["alerts"][0];
    assert_eq!(alert["rule_id"], "service-down", "{held}");
    assert_eq!(alert["status"], "suppressed", "{held}");
    assert!(
        alert["resolution"]
            .as_str()
            .is_some_and(|r| r.contains("switch-swap")),
        "it says which window: {held}"
    );
    // Held back, it says as much as a page would: check, reason, count.
    let title = alert["rule_title"].as_str().unwrap_or_default();
    let description = alert["description"].as_str().unwrap_or_default();
    println!("held back: {title} / {description}");
    assert!(
        title.starts_with("app01: TCP check 127.0.0.1:") && title.ends_with(" down"),
        "{held}"
    );
    assert!(
        description.starts_with("TCP connect to 127.0.0.1:")
            && description.contains(" failed 3 times in a row since ")
            && description.ends_with(": connection refused"),
        "{held}"
    );

    let windows = send(&server, "GET", "/api/v1/maintenance-windows", &read, None);
    let list = windows["body"].as_array().expect("a list");
    assert_eq!(list.len(), 2, "{windows}");
    let swap = list
        .iter()
        .find(|w| w["id"] == "switch-swap")
        .expect("swap");
    assert_eq!(swap["open_now"], true, "{swap}");
    assert!(swap["ends_at"].is_string(), "{swap}");
    // A reader may look but not change.
    let refused = send(
        &server,
        "DELETE",
        "/api/v1/maintenance-windows/switch-swap",
        &read,
        None,
    );
    assert_eq!(refused["status"], 403, "{refused}");

    let gone = send(
        &server,
        "DELETE",
        "/api/v1/maintenance-windows/switch-swap",
        &noc,
        None,
    );
    assert_eq!(gone["status"], 204, "{gone}");
    let paged = server.alerts_until(&read, &[("team", "noc"), ("status", "open")], |a| {
        a["total"] == 1
    });
    let alert = &paged["alerts"][0];
    assert_eq!(alert["id"], held["alerts"][0]["id"], "the held alert opens");
    assert!(
        alert["description"]
            .as_str()
            .is_some_and(|d| d.contains("held back") && d.contains(" times in a row since ")),
        "the page says it was held back, and what failed: {paged}"
    );
}

#[test]
fn windows_that_cannot_work_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), "");
    let admin = server.token("acme", "admin");
    let cases = [
        (
            json!({"id": "w", "scope": {}, "schedule": {"kind": "once", "start": "now", "end": "now+1h"}}),
            "scope",
        ),
        (
            json!({"id": "w", "scope": {"all": true}, "schedule": {"kind": "once", "start": "now-2h", "end": "now-1h"}}),
            "in the past",
        ),
        (
            json!({"id": "w", "scope": {"all": true}, "schedule": {"kind": "weekly", "days": [], "start": "22:00", "duration": "1h"}}),
            "no days",
        ),
        (
            json!({"id": "w", "scope": {"all": true}, "schedule": {"kind": "once", "start": "tomorrow", "end": "now+1h"}}),
            "not a time",
        ),
    ];
    for (body, reason) in cases {
        let r = send(
            &server,
            "POST",
            "/api/v1/maintenance-windows",
            &admin,
            Some(body.clone()),
        );
        assert_eq!(r["status"], 400, "{body}: {r}");
        let message = r["body"]["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{body}: {r}");
    }
    let listed = send(&server, "GET", "/api/v1/maintenance-windows", &admin, None);
    assert_eq!(listed["body"], json!([]), "nothing was kept: {listed}");
}

#[test]
fn tenant_rules_add_replace_and_switch_off_builtins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(
        dir.path(),
        r#"
[[noc_rules]]
tenant = "acme"
id = "reboot-detected"
enabled = false
"#,
    );
    let read = server.token("acme", "read");
    let admin = server.token("acme", "admin");

    // The built-in pages first.
    server.alerts_until(&read, &[("team", "noc"), ("rule", "service-down")], |a| {
        a["total"] == 1
    });
    // A rule of the tenant's own: any failed TCP check, at once.
    let own = json!({"id": "lab-any-failure", "severity": "low",
        "title": "{asset}: {check} failed ({reason})",
        "condition": {"kind": "consecutive_failures", "n": 1, "check_kinds": ["tcp"]}});
    let made = send(&server, "POST", "/api/v1/noc-rules", &admin, Some(own));
    assert_eq!(made["status"], 201, "{made}");
    let lab = server.alerts_until(
        &read,
        &[("team", "noc"), ("rule", "lab-any-failure")],
        |a| a["total"] == 1,
    );
    assert_eq!(lab["alerts"][0]["severity"], "low", "{lab}");

    // Switching the built-in off closes its alert, saying so.
    let off = json!({"id": "service-down", "enabled": false});
    let made = send(&server, "POST", "/api/v1/noc-rules", &admin, Some(off));
    assert_eq!(made["status"], 201, "{made}");
    let closed = server.alerts_until(
        &read,
        &[
            ("team", "noc"),
            ("rule", "service-down"),
            ("status", "resolved"),
        ],
        |a| a["total"] == 1,
    );
    assert!(
        closed["alerts"][0]["resolution"]
            .as_str()
            .is_some_and(|r| r.contains("service-down") && r.contains("removed or changed")),
        "{closed}"
    );

    let rules = send(&server, "GET", "/api/v1/noc-rules", &read, None);
    let origin = |id: &str| {
        let rule = rules["body"]
            .as_array()
            .and_then(|list| list.iter().find(|r| r["id"] == id))
            .cloned()
            .unwrap_or(Value::Null);
        (rule["origin"].clone(), rule["enabled"].clone())
    };
    assert_eq!(origin("host-down"), (json!("built-in"), json!(true)));
    assert_eq!(
        origin("service-down"),
        (json!("tenant, replacing the built-in"), json!(false))
    );
    assert_eq!(
        origin("reboot-detected"),
        (json!("tenant, replacing the built-in"), json!(false)),
        "the config's switch"
    );
    assert_eq!(origin("lab-any-failure"), (json!("tenant"), json!(true)));

    // Deleting the switch brings the built-in back, and it pages again.
    let back = send(
        &server,
        "DELETE",
        "/api/v1/noc-rules/service-down",
        &admin,
        None,
    );
    assert_eq!(back["status"], 204, "{back}");
    server.alerts_until(
        &read,
        &[
            ("team", "noc"),
            ("rule", "service-down"),
            ("status", "open"),
        ],
        |a| a["total"] == 1,
    );

    // Rules that cannot work are refused with the reason; readers cannot
    // write.
    let bad = json!({"id": "x", "severity": "low", "title": "t",
        "condition": {"kind": "threshold", "metric": "", "op": ">", "value": 1.0}});
    let r = send(&server, "POST", "/api/v1/noc-rules", &admin, Some(bad));
    assert_eq!(r["status"], 400, "{r}");
    assert!(
        r["body"]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"x\"")),
        "{r}"
    );
    let r = send(
        &server,
        "POST",
        "/api/v1/noc-rules",
        &read,
        Some(json!({"id": "host-down", "enabled": false})),
    );
    assert_eq!(r["status"], 403, "{r}");
}
