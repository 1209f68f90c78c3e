//! Checks cannot hurt the server: no server file is read for a tenant
//! (`ca_file` refused, without a hint whether the file exists), absurd
//! durations and sizes of every kind are a 400 naming the field (nothing
//! stored), and secrets (SNMP communities, v3 passwords) are never given
//! back to any role nor kept in plaintext in `state.db`.
//!
//! Targets are documentation addresses (192.0.2.x) and the checks are
//! disabled where they need not run: no traffic leaves the machine.

use crate::bystander::Bystander;
use crate::common::Server;
use serde_json::{json, Value};

fn alpha(server: &Server) -> String {
    server.create_tenant("alpha");
    let admin = server.token("alpha", "admin");
    let r = server
        .post("/api/v1/assets", &admin)
        .json(&json!({"name": "sw1", "address": "192.0.2.1"}))
        .send()
        .expect("create asset");
    assert_eq!(r.status(), 201, "asset");
    admin
}

/// POSTs a check; the status and the body's text.
fn create(server: &Server, token: &str, spec: &Value) -> (u16, String) {
    let r = server
        .post("/api/v1/checks", token)
        .json(spec)
        .send()
        .expect("create check");
    (r.status().as_u16(), r.text().unwrap_or_default())
}

fn stored_checks(server: &Server, token: &str) -> Vec<Value> {
    let r = server.get("/api/v1/checks", token).send().expect("list");
    assert_eq!(r.status(), 200);
    r.json::<Vec<Value>>().expect("json")
}

fn error_of(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.to_string())
}

#[test]
fn server_paths_in_checks_are_refused_without_a_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let bravo = Bystander::start(&server, "bravo");
    let token = alpha(&server);
    let mut errors = Vec::new();
    for path in [
        "/dev/urandom",
        "/dev/zero",
        "/etc/shadow",
        "/no/such/file.pem",
    ] {
        let spec = json!({"asset": "sw1", "kind": "http", "target": "https://192.0.2.10/",
                          "interval": "30s", "enabled": false, "ca_file": path});
        let (status, body) = create(&server, &token, &spec);
        assert_eq!(status, 400, "{path}: {body}");
        let error = error_of(&body);
        assert!(error.starts_with("ca_file:"), "{error}");
        assert!(error.contains("ca_pem"), "says what to do instead: {error}");
        errors.push(error);
    }
    errors.dedup();
    assert_eq!(
        errors.len(),
        1,
        "the same answer whatever the path: {errors:?}"
    );
    // Nor through an update of a good check.
    let (status, body) = create(
        &server,
        &token,
        &json!({"asset": "sw1", "kind": "http", "target": "https://192.0.2.10/",
                "interval": "30s", "enabled": false}),
    );
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).expect("json")["id"].clone();
    let r = server
        .request("PATCH", &format!("/api/v1/checks/{id}"))
        .bearer_auth(&token)
        .json(&json!({"ca_file": "/dev/urandom"}))
        .send()
        .expect("patch");
    assert_eq!(r.status(), 400);
    // CA certificates as text: bounded and parsed.
    for (pem, want) in [
        ("not a certificate".to_string(), "ca_pem:"),
        ("A".repeat(100_000), "ca_pem:"),
    ] {
        let spec = json!({"asset": "sw1", "kind": "http", "target": "https://192.0.2.11/",
                          "enabled": false, "ca_pem": pem});
        let (status, body) = create(&server, &token, &spec);
        assert_eq!(status, 400, "{body}");
        assert!(error_of(&body).starts_with(want), "{body}");
    }
    assert_eq!(
        stored_checks(&server, &token).len(),
        1,
        "only the good check"
    );
    let health = server.request("GET", "/healthz").send().expect("healthz");
    assert_eq!(health.status(), 200);
    bravo.finish();
}

#[test]
fn absurd_durations_and_sizes_of_every_kind_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let bravo = Bystander::start(&server, "bravo");
    let token = alpha(&server);
    let huge = "18446744073709551615s";
    let long = "x".repeat(5000);
    let base = |kind: &str| -> Value {
        match kind {
            "icmp" => json!({"target": "192.0.2.1"}),
            "tcp" => json!({"target": "192.0.2.1:22"}),
            "http" => json!({"target": "http://192.0.2.1/"}),
            "dns" => json!({"target": "example.org", "server": "192.0.2.53:53"}),
            "snmp" => json!({"target": "192.0.2.1", "community": "public"}),
            _ => json!({"target": "http://192.0.2.1:9100/metrics"}),
        }
    };
    let kinds = ["icmp", "tcp", "http", "dns", "snmp", "prometheus"];
    let mut cases: Vec<(String, Value, &str)> = Vec::new();
    for kind in kinds {
        for (key, value) in [
            ("interval", json!(huge)),
            ("interval", json!(18446744073709551615u64)),
            ("interval", json!("18446744073709551615")),
            ("interval", json!("0s")),
            ("interval", json!("100000d")),
            ("timeout", json!(huge)),
            ("timeout", json!("2h")),
            ("retries", json!(100000)),
            ("target", json!(long)),
        ] {
            let mut spec = base(kind);
            spec[key] = value;
            cases.push((kind.to_string(), spec, key));
        }
    }
    let own = [
        (
            "icmp",
            json!({"target": "192.0.2.1", "count": 65535}),
            "count",
        ),
        ("tcp", json!({"target": "192.0.2.1", "port": 70000}), "port"),
        (
            "http",
            json!({"target": "http://192.0.2.1/", "follow_redirects": 100000}),
            "follow_redirects",
        ),
        (
            "http",
            json!({"target": "http://192.0.2.1/", "expect_text": long}),
            "expect_text",
        ),
        (
            "http",
            json!({"target": "http://192.0.2.1/", "cert_min_days": 99999999}),
            "cert_min_days",
        ),
        (
            "dns",
            json!({"target": "h", "server": "192.0.2.53:53", "expect": vec!["a"; 1000]}),
            "expect",
        ),
        (
            "snmp",
            json!({"target": "192.0.2.1", "community": long}),
            "community",
        ),
        (
            "snmp",
            json!({"target": "192.0.2.1", "user": long, "auth_password": "abcdefgh"}),
            "user",
        ),
        (
            "snmp",
            json!({"target": "192.0.2.1", "user": "u", "auth_password": long}),
            "auth_password",
        ),
        (
            "prometheus",
            json!({"target": "http://192.0.2.1:99999/metrics"}),
            "target",
        ),
    ];
    for (kind, spec, field) in own {
        cases.push((kind.to_string(), spec, field));
    }
    for (kind, mut spec, field) in cases {
        spec["asset"] = json!("sw1");
        spec["kind"] = json!(kind);
        spec["enabled"] = json!(false);
        let (status, body) = create(&server, &token, &spec);
        assert_eq!(status, 400, "{kind} {field}: {body}");
        let error = error_of(&body);
        assert!(
            error.starts_with(&format!("{field}:")),
            "{kind} {field}: {error}"
        );
        if field == "interval" && spec["interval"] == json!(huge) {
            assert!(error.contains("maximum of 24h"), "names the bound: {error}");
        }
    }
    assert!(stored_checks(&server, &token).is_empty(), "nothing stored");
    bravo.finish();
}

#[test]
fn secrets_are_never_returned_to_any_role_nor_stored_in_plaintext() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path());
    let bravo = Bystander::start(&server, "bravo");
    let token = alpha(&server);
    let community = "c0mmunity-Secret-4711";
    let auth = "v3-Auth-Secret-0815";
    let private = "v3-Priv-Secret-2342";
    let (status, body) = create(
        &server,
        &token,
        &json!({"asset": "sw1", "kind": "snmp", "target": "192.0.2.1", "community": community,
                "enabled": false}),
    );
    assert_eq!(status, 201, "{body}");
    assert!(!body.contains(community), "{body}");
    let v2c: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v2c["spec"]["community"], "set");
    let (status, body) = create(
        &server,
        &token,
        &json!({"asset": "sw1", "kind": "snmp", "target": "192.0.2.2", "user": "mon",
                "auth_password": auth, "priv_password": private, "enabled": false}),
    );
    assert_eq!(status, 201, "{body}");
    assert!(!body.contains(auth) && !body.contains(private), "{body}");
    // "set" stands only for a value already stored.
    let (status, _) = create(
        &server,
        &token,
        &json!({"asset": "sw1", "kind": "snmp", "target": "192.0.2.3", "community": "set",
                "enabled": false}),
    );
    assert_eq!(status, 400);
    // An update that leaves the community out, or sends "set", keeps it.
    let id = v2c["id"].clone();
    for patch in [json!({"interval": "2m"}), json!({"community": "set"})] {
        let r = server
            .request("PATCH", &format!("/api/v1/checks/{id}"))
            .bearer_auth(&token)
            .json(&patch)
            .send()
            .expect("patch");
        assert_eq!(r.status(), 200);
        let text = r.text().expect("text");
        assert!(!text.contains(community), "{text}");
        assert!(text.contains(r#""community":"set""#), "{text}");
    }
    // Every role that reads checks: tokens, and people signed in.
    let mut readers = vec![
        ("msp-admin", server.admin.clone()),
        ("admin", token.clone()),
        ("read", server.token("alpha", "read")),
    ];
    for role in ["noc-operator", "client-viewer"] {
        let name = role.replace('-', "");
        let password = "Vq8#stable-Horse-Battery-91";
        let r = server
            .post("/api/v1/users", &server.admin)
            .json(&json!({"name": name, "password": password, "role": role, "tenants": ["alpha"]}))
            .send()
            .expect("user");
        assert_eq!(r.status(), 201, "create {role}");
        let login: Value = server
            .request("POST", "/api/v1/login")
            .json(&json!({"name": name, "password": password}))
            .send()
            .expect("login")
            .json()
            .expect("json");
        let session = login["token"].as_str().expect("a session").to_string();
        readers.push((role, session));
    }
    for (role, reader) in &readers {
        for path in [
            "/api/v1/checks?tenant=alpha".to_string(),
            format!("/api/v1/checks/{id}?tenant=alpha"),
        ] {
            let r = server.get(&path, reader).send().expect("get");
            assert_eq!(r.status(), 200, "{role} {path}");
            let text = r.text().expect("text");
            for secret in [community, auth, private] {
                assert!(
                    !text.contains(secret),
                    "{role} got a secret from {path}: {text}"
                );
            }
            assert!(text.contains(r#""community":"set""#), "{role}: {text}");
        }
    }
    bravo.finish();
    server.stop();
    let mut bytes = Vec::new();
    for name in ["state.db", "state.db-wal"] {
        if let Ok(mut b) = std::fs::read(dir.path().join(name)) {
            bytes.append(&mut b);
        }
    }
    assert!(!bytes.is_empty());
    for secret in [community, auth, private] {
        let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "{secret} in state.db");
    }
    use std::os::unix::fs::PermissionsExt;
    let key = std::fs::metadata(dir.path().join("secret.key")).expect("secret.key");
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
    assert_eq!(key.len(), 32);
}
