//! The audit log: every change through the API is recorded with who, what,
//! which tenant and from where; a tenant admin sees its own tenant's
//! entries only; no endpoint alters them; secrets never reach them.
//!
//! Before: there was no audit log at all.

use crate::bystander::Bystander;
use crate::common::Server;
use serde_json::{json, Value};

fn audit(server: &Server, token: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let response = server
        .get("/api/v1/audit", token)
        .query(query)
        .send()
        .expect("audit");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn entries(page: &Value) -> Vec<Value> {
    page["entries"].as_array().cloned().unwrap_or_default()
}

#[test]
fn changes_are_recorded_with_who_what_tenant_and_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let bravo = Bystander::start(&server, "bravo");
    server.create_tenant("alpha");
    let admin = server.token("alpha", "admin");
    let created = server
        .post("/api/v1/assets", &admin)
        .json(&json!({"name": "web01", "address": "192.0.2.5"}))
        .send()
        .unwrap();
    assert_eq!(created.status(), 201);
    let refused = server
        .post("/api/v1/tenants", &admin)
        .json(&json!({"name": "sneaky"}))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 403);

    let (status, page) = audit(&server, &server.admin, &[("tenant", "alpha")]);
    assert_eq!(status, 200, "{page}");
    let asset = entries(&page)
        .into_iter()
        .find(|e| e["path"] == "/api/v1/assets")
        .unwrap_or_else(|| panic!("the asset's creation is recorded: {page}"));
    assert_eq!(asset["method"], "POST");
    assert_eq!(asset["status"], 201);
    assert_eq!(asset["tenant"], "alpha");
    assert_eq!(asset["role"], "admin");
    assert_eq!(asset["source"], "127.0.0.1");
    assert!(
        asset["actor"].as_str().unwrap_or("").starts_with("token "),
        "{asset}"
    );
    assert!(asset["token_id"].is_i64(), "{asset}");
    assert_eq!(asset["detail"]["name"], "web01");
    let sneaky = entries(&page)
        .into_iter()
        .find(|e| e["path"] == "/api/v1/tenants" && e["status"] == 403);
    assert!(sneaky.is_some(), "a refused change is recorded too: {page}");

    // Logins, right and wrong, without the password.
    server
        .post("/api/v1/users", &server.admin)
        .json(&json!({"name": "olga", "password": "a long enough password", "role": "noc-operator", "tenants": ["alpha"]}))
        .send()
        .unwrap();
    for password in ["wrong password here", "a long enough password"] {
        server
            .request("POST", "/api/v1/login")
            .json(&json!({"name": "olga", "password": password}))
            .send()
            .unwrap();
    }
    let (_, page) = audit(&server, &server.admin, &[("path", "/api/v1/login")]);
    let logins = entries(&page);
    let statuses: Vec<&Value> = logins.iter().map(|e| &e["status"]).collect();
    assert_eq!(statuses, [&json!(200), &json!(401)], "{page}");
    for login in &logins {
        assert_eq!(login["actor"], "olga");
        assert_eq!(login["detail"]["password"], "redacted");
    }
    let (_, mine) = audit(&server, &server.admin, &[("actor", "olga"), ("limit", "1")]);
    assert_eq!((entries(&mine).len(), mine["total"].as_u64()), (1, Some(2)));
    assert!(mine["next"].is_i64(), "a second page: {mine}");
    bravo.finish();
}

#[test]
fn a_tenant_admin_sees_only_its_tenants_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let bravo = Bystander::start(&server, "bravo");
    server.create_tenant("alpha");
    let alpha = server.token("alpha", "admin");
    let bravo_admin = server.token("bravo", "admin");
    for (token, name) in [(&alpha, "alpha-host"), (&bravo_admin, "bravo-host")] {
        let r = server
            .post("/api/v1/assets", token)
            .json(&json!({"name": name, "address": "192.0.2.7"}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    // Alpha names bravo: refused, and never an entry of bravo's.
    let r = server
        .post("/api/v1/assets", &alpha)
        .query(&[("tenant", "bravo")])
        .json(&json!({"name": "planted", "address": "192.0.2.8"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);

    let (status, page) = audit(&server, &alpha, &[]);
    assert_eq!(status, 200, "{page}");
    let seen = entries(&page);
    assert!(!seen.is_empty());
    for entry in &seen {
        assert_eq!(entry["tenant"], "alpha", "alpha sees only its own: {entry}");
    }
    let text = page.to_string();
    assert!(
        !text.contains("bravo-host"),
        "bravo's change leaked: {text}"
    );
    assert!(
        !text.contains("/api/v1/tenants\""),
        "MSP entries leaked: {text}"
    );
    let (status, denied) = audit(&server, &alpha, &[("tenant", "bravo")]);
    assert_eq!(status, 403, "{denied}");
    for role in ["read", "ingest"] {
        let token = server.token("alpha", role);
        let (status, _) = audit(&server, &token, &[]);
        assert_eq!(status, 403, "a {role} token reads no audit log");
    }
    let (_, bravo_page) = audit(&server, &bravo_admin, &[]);
    assert!(
        !bravo_page.to_string().contains("planted"),
        "alpha's attempt is not bravo's entry: {bravo_page}"
    );

    // The MSP admin sees everything: both tenants and its own work.
    let (_, all) = audit(&server, &server.admin, &[("limit", "1000")]);
    let all = entries(&all);
    for want in ["alpha", "bravo"] {
        assert!(all.iter().any(|e| e["tenant"] == want), "{want}");
    }
    assert!(all
        .iter()
        .any(|e| e["tenant"].is_null() && e["path"] == "/api/v1/tenants"));
    bravo.finish();
}

#[test]
fn no_endpoint_alters_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    server.create_tenant("alpha");
    let (_, before) = audit(&server, &server.admin, &[("limit", "1000")]);
    let before = entries(&before);
    assert!(!before.is_empty());
    let first = before.last().expect("first")["id"].to_string();
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        for path in [
            "/api/v1/audit".to_string(),
            format!("/api/v1/audit/{first}"),
        ] {
            let r = server
                .request(method, &path)
                .bearer_auth(&server.admin)
                .json(&json!({"actor": "nobody"}))
                .send()
                .unwrap();
            let status = r.status().as_u16();
            assert!(status == 404 || status == 405, "{method} {path}: {status}");
        }
    }
    let (_, after) = audit(&server, &server.admin, &[("limit", "1000")]);
    let after = entries(&after);
    for entry in &before {
        assert!(after.contains(entry), "entry changed or gone: {entry}");
    }
    assert!(
        !after.iter().any(|e| e["actor"] == "nobody"),
        "no entry was written by the caller's hand"
    );
    assert!(vigil_server::api::endpoint_list()
        .iter()
        .filter(|e| e.path.starts_with("/api/v1/audit"))
        .all(|e| e.method == "GET"));
}

#[test]
fn secrets_are_redacted_in_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    server.create_tenant("alpha");
    let user_password = "correct horse battery staple 42";
    server
        .post("/api/v1/users", &server.admin)
        .json(&json!({"name": "carol", "password": user_password, "role": "client-viewer", "tenants": ["alpha"]}))
        .send()
        .unwrap();
    let login: Value = server
        .request("POST", "/api/v1/login")
        .json(&json!({"name": "carol", "password": user_password}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let session = login["token"].as_str().expect("token").to_string();
    let made: Value = server
        .post("/api/v1/tokens", &server.admin)
        .json(&json!({"tenant": "alpha", "role": "read"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = made["token"].as_str().expect("token").to_string();
    let admin = server.token("alpha", "admin");
    server
        .post("/api/v1/assets", &admin)
        .json(&json!({"name": "sw1", "address": "192.0.2.9"}))
        .send()
        .unwrap();
    let community = "s3cret-community-string";
    server
        .post("/api/v1/checks", &admin)
        .json(&json!({"asset": "sw1", "kind": "snmp", "target": "192.0.2.9", "interval": "60s", "community": community, "enabled": false}))
        .send()
        .unwrap();

    let (_, page) = audit(&server, &server.admin, &[("limit", "1000")]);
    let text = page.to_string();
    for secret in [user_password, session.as_str(), token.as_str(), community] {
        assert!(
            !text.contains(secret),
            "a secret in the audit log: {secret}"
        );
    }
    assert!(text.contains("redacted"), "{text}");
    let log = std::fs::read(dir.path().join("state.db")).unwrap_or_default();
    let raw = String::from_utf8_lossy(&log);
    assert!(
        !raw.contains(user_password),
        "the password reached state.db"
    );
}
