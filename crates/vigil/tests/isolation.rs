//! Tenant isolation: no endpoint gives a caller of tenant alpha anything of
//! tenant bravo, nor lets it change bravo.
//!
//! The endpoints come from the server's own list, so an endpoint added
//! there is covered here without editing this test.

mod common;

use common::Server;
use serde_json::{json, Value};

const SECRET: &str = "bravo-secret-7f3a";

struct Probe {
    label: &'static str,
    token: String,
}

#[test]
fn no_endpoint_leaks_or_changes_another_tenant() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Bravo's exporter is a closed port on loopback, allowed like an MSP would.
    let server = Server::start_with(dir.path(), &[common::ALLOW_LOOPBACK_CHECKS]);
    server.create_tenant("alpha");
    server.create_tenant("bravo");
    let bravo_ingest = server.token("bravo", "ingest");
    let bravo_read = server.token("bravo", "read");
    let answer = server.ingest(
        &bravo_ingest,
        &format!("{}\n", json!({"note": SECRET, "user": "bravo-user"})),
    );
    assert_eq!(answer.status(), 200);
    let bravo_events = server.search_until(&bravo_read, "*", 1);
    let bravo_event_id = bravo_events["events"][0]["id"]
        .as_str()
        .expect("event id")
        .to_string();
    // Bravo has an alert (from Vigil's own rules) and an uploaded rule.
    let windows = json!({"winlog": {"event_id": 4732, "channel": "Security",
        "computer_name": "bravo-user-dc",
        "provider_name": "Microsoft-Windows-Security-Auditing",
        "event_data": {"TargetSid": "S-1-5-32-544", "TargetUserName": "Administrators"}}});
    assert_eq!(
        server
            .ingest(&bravo_ingest, &format!("{windows}\n"))
            .status(),
        200
    );
    let bravo_alerts = server.alerts_until(&bravo_read, &[], |a| a["total"] == 1);
    let bravo_alert = bravo_alerts["alerts"][0].clone();
    let bravo_alert_id = bravo_alert["id"].as_i64().expect("alert id").to_string();
    let upload = server
        .post("/api/v1/rules", &server.admin)
        .query(&[("tenant", "bravo")])
        .body("title: bravo-user rule\nid: bravo-rule\nlogsource:\n  product: linux\ndetection:\n  sel:\n    user.name: x\n  condition: sel\n")
        .send()
        .expect("upload bravo rule");
    assert_eq!(upload.status(), 201);
    let bravo_rules = rules_of(&server, "bravo");
    // And an asset with a check.
    let asset = server
        .post("/api/v1/assets", &server.admin)
        .query(&[("tenant", "bravo")])
        .json(&json!({"name": "bravo-router", "address": "192.0.2.1", "tags": [SECRET]}))
        .send()
        .expect("bravo asset");
    assert_eq!(asset.status(), 201);
    // The check scrapes a closed port once a day: it runs once, now, so
    // its status (down, with the reason) is there to leak, and stays put.
    let closed = format!("127.0.0.1:{}", common::peers::free_tcp_port());
    let check: Value = server
        .post("/api/v1/checks", &server.admin)
        .query(&[("tenant", "bravo")])
        .json(&json!({"asset": "bravo-router", "kind": "prometheus", "target": format!("http://{closed}/metrics"), "interval": "1d", "note": SECRET}))
        .send()
        .expect("bravo check")
        .json()
        .expect("check json");
    let bravo_check_id = check["id"].as_i64().expect("check id").to_string();
    wait_for_status(&server, &bravo_check_id);
    // And a maintenance window and a NOC rule of its own.
    for (path, body) in [
        (
            "/api/v1/maintenance-windows",
            json!({"id": "bravo-window", "note": SECRET, "scope": {"all": true},
                   "schedule": {"kind": "once", "start": "now", "end": "now+1h"}}),
        ),
        (
            "/api/v1/noc-rules",
            json!({"id": "bravo-latency", "severity": "low", "title": SECRET,
                   "condition": {"kind": "threshold", "metric": "vigil_icmp_rtt_ms",
                                 "op": ">", "value": 1.0}}),
        ),
    ] {
        let made = server
            .post(path, &server.admin)
            .query(&[("tenant", "bravo")])
            .json(&body)
            .send()
            .expect("bravo NOC definition");
        assert_eq!(made.status(), 201, "{path}");
    }
    let bravo_inventory = inventory_of(&server, "bravo");
    // And a person with a session of their own.
    let (bravo_person, bravo_session_id) = bravo_user(&server);
    let alpha_ingest = server.token("alpha", "ingest");
    server.ingest(&alpha_ingest, "{\"note\":\"alpha event\"}\n");
    let bravo_tokens = tokens_of(&server, "bravo");
    let bravo_token_id = bravo_tokens[0]["id"]
        .as_i64()
        .expect("token id")
        .to_string();

    let probes = alpha_callers(&server);
    let endpoints = vigil_server::api::endpoint_list();
    assert!(endpoints.len() >= 10, "the endpoint list is the server's");
    let mut checked = 0;
    for endpoint in &endpoints {
        let path = endpoint
            .path
            .replace("{name}", "bravo")
            .replace("{id}", &bravo_token_id)
            .replace("{alert}", &bravo_alert_id)
            .replace("{rule}", "bravo-rule")
            .replace("{asset}", "bravo-router")
            .replace("{check}", &bravo_check_id)
            .replace("{window}", "bravo-window")
            .replace("{noc_rule}", "bravo-latency")
            .replace("{user}", "bravo-viewer")
            .replace("{session}", &bravo_session_id)
            .replace("{event}", &bravo_event_id);
        let body = endpoint.example_body.map(|b| b.replace("{name}", "bravo"));
        for probe in &probes {
            // `*` is every tenant of the caller's: alpha's only.
            for tenant_param in [Some("bravo"), Some("*"), None] {
                let mut request = server
                    .request(endpoint.method, &path)
                    .bearer_auth(&probe.token);
                if let Some(t) = tenant_param {
                    request = request.query(&[("tenant", t), ("q", "*")]);
                }
                if let Some(b) = &body {
                    request = request
                        .header("content-type", "application/json")
                        .body(b.clone());
                }
                let response = request.send().expect("request");
                let status = response.status();
                let text = response.text().unwrap_or_default();
                let what = format!(
                    "{} {} as {} (tenant={tenant_param:?}): {status} {text}",
                    endpoint.method, path, probe.label
                );
                assert!(!text.contains(SECRET), "leaked bravo's event: {what}");
                if endpoint.path.contains("{event}") && tenant_param.is_none() {
                    // Alpha's own tenant has no such event: the same 404
                    // as an id that exists nowhere (or 403 to a caller
                    // that may not read events at all).
                    assert!(matches!(status.as_u16(), 403 | 404), "{what}");
                    if probe.label == "alpha read token" {
                        assert_eq!(status, 404, "{what}");
                    }
                }
                assert!(!text.contains("bravo-user"), "leaked bravo's event: {what}");
                for t in [&bravo_ingest, &bravo_read, &bravo_person] {
                    assert!(!text.contains(t.as_str()), "leaked a bravo token: {what}");
                }
                if status.is_success() && path == "/api/v1/audit" {
                    // Alpha's own entries quote what alpha sent (names of
                    // bravo's records among them): none may be bravo's.
                    let page: Value = serde_json::from_str(&text).expect("audit JSON");
                    for entry in page["entries"].as_array().expect("entries") {
                        assert_eq!(entry["tenant"], "alpha", "{what}");
                    }
                } else if status.is_success() {
                    assert!(!text.contains("bravo"), "a success names bravo: {what}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= endpoints.len() * probes.len() * 3);

    // Nothing of bravo changed.
    let bravo = server.search(&bravo_read, "*");
    assert_eq!(bravo["total"], 2, "no event was added to bravo: {bravo}");
    assert_eq!(
        tokens_of(&server, "bravo"),
        bravo_tokens,
        "bravo's tokens are as they were"
    );
    let tenant: Value = server
        .get("/api/v1/tenants/bravo", &server.admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        tenant["retention_days"], 30,
        "bravo's retention is unchanged"
    );
    let alerts = server.alerts(&bravo_read, &[]);
    assert_eq!(
        alerts["alerts"][0], bravo_alert,
        "bravo's alert is unchanged"
    );
    assert_eq!(
        rules_of(&server, "bravo"),
        bravo_rules,
        "bravo's rules are unchanged"
    );
    assert_eq!(
        inventory_of(&server, "bravo"),
        bravo_inventory,
        "bravo's assets, checks, windows and NOC rules are unchanged"
    );
    let person: Value = server
        .get("/api/v1/users/bravo-viewer", &server.admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (&person["disabled"], &person["role"]),
        (&json!(false), &json!("client-viewer")),
        "bravo's user is unchanged: {person}"
    );
    let still = server
        .get("/api/v1/events", &bravo_person)
        .query(&[("q", "*")])
        .send()
        .unwrap();
    assert_eq!(still.status(), 200, "bravo's session still works");
}

/// A client viewer of bravo, logged in: its session token and session id.
fn bravo_user(server: &Server) -> (String, String) {
    let r = server
        .post("/api/v1/users", &server.admin)
        .json(&json!({"name": "bravo-viewer", "password": "a long enough password", "role": "client-viewer", "tenants": ["bravo"]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "create bravo's user");
    let login: Value = server
        .request("POST", "/api/v1/login")
        .json(&json!({"name": "bravo-viewer", "password": "a long enough password"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = login["token"].as_str().expect("session token").to_string();
    let id = login["session"].as_i64().expect("session id").to_string();
    (token, id)
}

/// Bravo's assets, checks, maintenance windows and NOC rules.
fn inventory_of(server: &Server, tenant: &str) -> Vec<Value> {
    let get = |path: &str| -> Value {
        let r = server
            .get(path, &server.admin)
            .query(&[("tenant", tenant)])
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().unwrap()
    };
    let inventory = [
        get("/api/v1/assets"),
        get("/api/v1/checks"),
        get("/api/v1/maintenance-windows"),
    ];
    for part in &inventory {
        assert_eq!(part.as_array().map(Vec::len), Some(1), "{inventory:?}");
    }
    let rules = get("/api/v1/noc-rules");
    let own: Vec<&Value> = rules
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["origin"] != "built-in")
        .collect();
    assert_eq!(own.len(), 1, "{rules}");
    let mut all = inventory.to_vec();
    all.push(rules);
    all
}

/// Waits until bravo's check has run: from then on its status is part of
/// the inventory that must neither leak nor change.
fn wait_for_status(server: &Server, id: &str) {
    common::wait_for("bravo's check status", || {
        let check: Value = server
            .get(&format!("/api/v1/checks/{id}"), &server.admin)
            .query(&[("tenant", "bravo")])
            .send()
            .ok()?
            .json()
            .ok()?;
        (check["status"]["state"] == "down").then_some(check)
    });
}

fn rules_of(server: &Server, tenant: &str) -> Value {
    let r = server
        .get("/api/v1/rules", &server.admin)
        .query(&[("tenant", tenant), ("q", "bravo")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let rules: Value = r.json().unwrap();
    assert_eq!(rules["total"], 1, "{rules}");
    rules
}

fn tokens_of(server: &Server, tenant: &str) -> Vec<Value> {
    let r = server
        .get("/api/v1/tokens", &server.admin)
        .query(&[("tenant", tenant)])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Vec<Value>>().unwrap()
}

/// Every kind of caller tenant alpha can have.
fn alpha_callers(server: &Server) -> Vec<Probe> {
    let mut probes: Vec<Probe> = ["ingest", "read", "admin"]
        .into_iter()
        .zip([
            "alpha ingest token",
            "alpha read token",
            "alpha admin token",
        ])
        .map(|(role, label)| Probe {
            label,
            token: server.token("alpha", role),
        })
        .collect();
    for (role, label) in [
        ("noc-operator", "alpha noc operator"),
        ("soc-analyst", "alpha soc analyst"),
        ("client-viewer", "alpha client viewer"),
    ] {
        let name = role.replace('-', "");
        let r = server
            .post("/api/v1/users", &server.admin)
            .json(&json!({"name": name, "password": "a long enough password", "role": role, "tenants": ["alpha"]}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "create {role}");
        let login: Value = server
            .request("POST", "/api/v1/login")
            .json(&json!({"name": name, "password": "a long enough password"}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        probes.push(Probe {
            label,
            token: login["token"].as_str().unwrap().to_string(),
        });
    }
    probes
}
