//! People: users are changed, disabled and deleted; sessions end on
//! logout, disabling, deletion and password changes; the MSP administrator
//! lists and revokes sessions; names are one whatever their case, width or
//! invisible characters; weak passwords are refused; `vigil admin
//! set-password` and the first-start password file let the administrator in.

mod common;

use common::Server;
use reqwest::blocking::Response;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

const PASSWORD: &str = "correct horse battery staple";

fn login(server: &Server, name: &str, password: &str) -> Response {
    server
        .request("POST", "/api/v1/login")
        .json(&json!({"name": name, "password": password}))
        .send()
        .expect("login")
}

/// Logs in and returns the session token.
fn session(server: &Server, name: &str, password: &str) -> String {
    let r = login(server, name, password);
    assert_eq!(r.status(), 200, "login as {name}");
    let body: Value = r.json().expect("login json");
    body["token"].as_str().expect("token").to_string()
}

fn create_user(server: &Server, name: &str, role: &str, tenants: &[&str]) -> Response {
    server
        .post("/api/v1/users", &server.admin)
        .json(&json!({"name": name, "password": PASSWORD, "role": role, "tenants": tenants}))
        .send()
        .expect("create user")
}

/// The status of a read with `token` (401 once the token has ended).
fn status_with(server: &Server, token: &str) -> u16 {
    server
        .get("/api/v1/events", token)
        .query(&[("q", "*"), ("tenant", "acme")])
        .send()
        .expect("search")
        .status()
        .as_u16()
}

fn patch_user(server: &Server, name: &str, body: Value) -> Response {
    server
        .request("PATCH", &format!("/api/v1/users/{name}"))
        .bearer_auth(&server.admin)
        .json(&body)
        .send()
        .expect("patch user")
}

#[test]
fn users_are_changed_disabled_and_deleted_and_their_sessions_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    server.create_tenant("acme");
    server.create_tenant("beta");
    assert_eq!(
        create_user(&server, "nina", "noc-operator", &["acme"]).status(),
        201
    );
    let token = session(&server, "nina", PASSWORD);
    assert_eq!(status_with(&server, &token), 200);

    // Shown, with her tenants.
    let shown: Value = server
        .get("/api/v1/users/NINA", &server.admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (&shown["name"], &shown["tenants"], &shown["disabled"]),
        (&json!("nina"), &json!(["acme"]), &json!(false))
    );

    // A new role and tenants apply to her session at once.
    let changed = patch_user(
        &server,
        "nina",
        json!({"role": "soc-analyst", "tenants": ["beta"]}),
    );
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().unwrap();
    assert_eq!(
        (&changed["role"], &changed["tenants"]),
        (&json!("soc-analyst"), &json!(["beta"]))
    );
    assert_eq!(status_with(&server, &token), 403, "acme is no longer hers");
    patch_user(&server, "nina", json!({"tenants": ["acme"]}));
    assert_eq!(status_with(&server, &token), 200);

    // Disabled: her session gets 401 at once, and she cannot log in.
    let disabled = patch_user(&server, "nina", json!({"disabled": true}));
    assert_eq!(disabled.status(), 200);
    assert_eq!(
        status_with(&server, &token),
        401,
        "a disabled user's session ends"
    );
    assert_eq!(login(&server, "nina", PASSWORD).status(), 401);
    let enabled = patch_user(&server, "nina", json!({"disabled": false}));
    assert_eq!(enabled.status(), 200);
    assert_eq!(
        status_with(&server, &token),
        401,
        "an ended session stays ended"
    );

    // An administrator's new password ends her sessions.
    let token = session(&server, "nina", PASSWORD);
    let weak = patch_user(&server, "nina", json!({"password": "aaaaaaaaaaaa"}));
    assert_eq!(weak.status(), 400);
    assert_eq!(
        status_with(&server, &token),
        200,
        "a refused change changes nothing"
    );
    let reset = patch_user(
        &server,
        "nina",
        json!({"password": "a brand new passphrase"}),
    );
    assert_eq!(reset.status(), 200);
    assert_eq!(status_with(&server, &token), 401);
    assert_eq!(login(&server, "nina", PASSWORD).status(), 401);
    let token = session(&server, "nina", "a brand new passphrase");

    // Deleted: her session ends, her name is free.
    let deleted = server
        .request("DELETE", "/api/v1/users/Nina")
        .bearer_auth(&server.admin)
        .send()
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        status_with(&server, &token),
        401,
        "a deleted user's session ends"
    );
    let gone = server
        .get("/api/v1/users/nina", &server.admin)
        .send()
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(
        create_user(&server, "nina", "noc-operator", &["acme"]).status(),
        201
    );

    // The administrator cannot lock themselves out.
    let me = server
        .request("DELETE", "/api/v1/users/admin")
        .bearer_auth(&server.admin)
        .send()
        .unwrap();
    assert_eq!(me.status(), 400);
    assert_eq!(
        patch_user(&server, "admin", json!({"disabled": true})).status(),
        400
    );
}

#[test]
fn logout_own_password_and_sessions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    server.create_tenant("acme");
    assert_eq!(
        create_user(&server, "sam", "soc-analyst", &["acme"]).status(),
        201
    );
    let first = session(&server, "sam", PASSWORD);
    let second = session(&server, "sam", PASSWORD);
    let third = session(&server, "SAM", PASSWORD);

    // The MSP administrator sees the sessions (never their secrets).
    let listed = server
        .get("/api/v1/sessions", &server.admin)
        .send()
        .unwrap();
    assert_eq!(listed.status(), 200);
    let text = listed.text().unwrap();
    for secret in [&first, &second, &third] {
        assert!(!text.contains(secret.as_str()), "a listing shows a secret");
    }
    let sessions: Vec<Value> = serde_json::from_str(&text).unwrap();
    let sams: Vec<&Value> = sessions.iter().filter(|s| s["user"] == "sam").collect();
    assert_eq!(sams.len(), 3, "{text}");
    for s in &sams {
        assert_eq!(
            (&s["kind"], &s["source"]),
            (&json!("login"), &json!("127.0.0.1"))
        );
        assert_eq!(s["tenants"], json!(["acme"]));
        assert!(s["expires_at"].is_string() && s["created_at"].is_string());
    }
    // ... and revokes one.
    let third_id = sams[2]["id"].as_i64().unwrap();
    let revoked = server
        .request("DELETE", &format!("/api/v1/sessions/{third_id}"))
        .bearer_auth(&server.admin)
        .send()
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(status_with(&server, &third), 401);
    assert_eq!(status_with(&server, &first), 200);
    // A session cannot list sessions.
    let refused = server.get("/api/v1/sessions", &first).send().unwrap();
    assert_eq!(refused.status(), 403);

    // Own password: the current one is proven; other sessions end.
    let change = |token: &str, current: &str, new: &str| {
        server
            .post("/api/v1/me/password", token)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        change(&first, "not my password at all", "my own new passphrase"),
        403
    );
    assert_eq!(change(&first, PASSWORD, "aaaaaaaaaaaa"), 400, "weak");
    assert_eq!(change(&first, PASSWORD, "my own new passphrase"), 204);
    assert_eq!(
        status_with(&server, &first),
        200,
        "the calling session stays"
    );
    assert_eq!(status_with(&server, &second), 401, "other sessions end");
    assert_eq!(login(&server, "sam", PASSWORD).status(), 401);
    let fresh = session(&server, "sam", "my own new passphrase");

    // Logout ends the calling session only.
    let out = server.post("/api/v1/logout", &first).send().unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(status_with(&server, &first), 401);
    assert_eq!(status_with(&server, &fresh), 200);
    // A machine token has no session to end.
    let ingest = server.token("acme", "ingest");
    let out = server.post("/api/v1/logout", &ingest).send().unwrap();
    assert_eq!(out.status(), 400);
}

#[test]
fn names_are_one_whatever_their_case_width_or_invisible_characters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    server.create_tenant("acme");
    assert_eq!(
        create_user(&server, "noc_a", "noc-operator", &["acme"]).status(),
        201
    );
    for same in ["NOC_A", "Noc_a", "\u{FF4E}\u{FF4F}\u{FF43}\u{FF3F}\u{FF41}"] {
        let r = create_user(&server, same, "noc-operator", &["acme"]);
        assert_eq!(r.status(), 409, "{same:?} is noc_a");
    }
    for invisible in [
        "noc_a\u{200B}",
        "noc\u{200D}_a",
        "\u{202E}noc_a",
        "noc_a\u{7}",
    ] {
        let r = create_user(&server, invisible, "noc-operator", &["acme"]);
        assert_eq!(r.status(), 400, "{invisible:?}");
        let body: Value = r.json().unwrap();
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("U+"), "names the character: {message}");
    }
    let users: Vec<Value> = server
        .get("/api/v1/users", &server.admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let nocs = users
        .iter()
        .filter(|u| {
            u["name"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
                .contains("noc")
        })
        .count();
    assert_eq!(nocs, 1, "{users:?}");
    // Login with another case finds the same user.
    session(&server, "NOC_A", PASSWORD);
    assert_eq!(login(&server, "noc_a\u{200B}", PASSWORD).status(), 401);

    // Weak passwords are refused, saying why.
    let r = server
        .post("/api/v1/users", &server.admin)
        .json(&json!({"name": "weak", "password": "aaaaaaaaaaaa", "role": "noc-operator", "tenants": ["acme"]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().unwrap();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("too weak") && message.contains("repeats"),
        "{message}"
    );

    // Errors name a tenant as people write it.
    let again = server
        .post("/api/v1/tenants", &server.admin)
        .json(&json!({"name": "acme"}))
        .send()
        .unwrap();
    assert_eq!(again.status(), 409);
    let text = again.text().unwrap();
    assert!(text.contains(r#"tenant \"acme\" already exists"#), "{text}");
    assert!(!text.contains("TenantName"), "{text}");
    // A tenant is found whatever the case.
    let tenant = server
        .get("/api/v1/tenants/ACME", &server.admin)
        .send()
        .unwrap();
    assert_eq!(tenant.status(), 200);
}

fn set_password(server: &Server, name: &str, stdin: &str, extra: &[&str]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["admin", "set-password", name, "--data"])
        .arg(&server.data)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vigil admin set-password");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write the password");
    child.wait_with_output().expect("set-password output")
}

#[test]
fn the_administrator_gets_a_usable_password() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    // First start: a generated password in a private file.
    let file = server.data.join("admin.password");
    let mode = std::fs::metadata(&file)
        .expect("admin.password")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let first = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(first.len() >= 20);
    let token = session(&server, "admin", &first);
    assert_eq!(
        server
            .get("/api/v1/tenants", &token)
            .send()
            .unwrap()
            .status(),
        200
    );
    assert!(
        server.log().contains("admin.password"),
        "the log names the file"
    );

    // vigil admin set-password, from standard input, while the server runs.
    let out = set_password(&server, "ADMIN", "the administrator's passphrase\n", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(login(&server, "admin", &first).status(), 401);
    assert_eq!(status_with(&server, &token), 401, "the old sessions ended");
    session(&server, "admin", "the administrator's passphrase");

    // A weak one is refused, saying why; nothing changes.
    let out = set_password(&server, "admin", "aaaaaaaaaaaa\n", &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("too weak"));
    session(&server, "admin", "the administrator's passphrase");

    // Generated: printed once, and it works.
    let out = set_password(&server, "admin", "", &["--generate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(generated.len() >= 20, "{generated}");
    session(&server, "admin", &generated);

    // An unknown user is named.
    let out = set_password(&server, "nobody", "", &["--generate"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody"));

    // The CLI's changes are in the audit log, refused ones too, and no
    // password is.
    let audit: serde_json::Value = server
        .get("/api/v1/audit", &server.admin)
        .query(&[("method", "CLI"), ("limit", "100")])
        .send()
        .expect("audit")
        .json()
        .expect("audit json");
    let entries = audit["entries"].as_array().expect("entries");
    let cli: Vec<_> = entries
        .iter()
        .filter(|e| e["actor"] == "cli" && e["path"] == "admin set-password admin")
        .collect();
    assert_eq!(cli.len(), 3, "three runs on admin: {audit}");
    assert!(
        cli.iter().any(|e| e["detail"]["outcome"] == "refused"),
        "{audit}"
    );
    let text = audit.to_string();
    assert!(
        !text.contains("passphrase") && !text.contains(&generated),
        "{text}"
    );
}
