//! The HTTP API end to end, against the real binary.

mod common;

use common::Server;
use serde_json::{json, Value};
use std::io::Write;

fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    (dir, server)
}

#[test]
fn first_start_writes_a_private_admin_token() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, server) = server();
    let meta = std::fs::metadata(dir.path().join("admin.token")).expect("admin.token");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(server.admin.len() >= 64, "a token of at least 256 bits");
    let tenants = server
        .get("/api/v1/tenants", &server.admin)
        .send()
        .expect("list");
    assert_eq!(tenants.status(), 200);
}

#[test]
fn ingest_then_search_with_the_query_language() {
    let (_dir, server) = server();
    server.create_tenant("acme");
    let ingest = server.token("acme", "ingest");
    let read = server.token("acme", "read");
    let body = [
        json!({"@timestamp": "2024-05-01T12:00:00Z", "source": {"ip": "10.1.2.3"}, "user": {"name": "alice"}, "event": {"outcome": "failure"}, "message": "Failed password for alice", "status": 401}),
        json!({"@timestamp": "2024-05-01T12:01:00Z", "source": {"ip": "192.168.1.7"}, "user": {"name": "bob"}, "event": {"outcome": "success"}, "message": "Accepted publickey for bob", "status": 200}),
        json!({"timestamp": 1714565000, "source": {"ip": "2001:db8::5"}, "user": {"name": "carol"}, "event": {"outcome": "failure"}, "message": "Connection closed by carol", "status": 503}),
    ]
    .iter()
    .map(|v| v.to_string() + "\n")
    .collect::<String>();
    let answer: Value = server.ingest(&ingest, &body).json().expect("answer");
    assert_eq!(answer["accepted"], 3);
    assert_eq!(answer["rejected_count"], 0);
    let all = server.search_until(&read, "*", 3);
    assert_eq!(all["total"], 3);
    let times: Vec<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["time"].as_str().unwrap())
        .collect();
    assert_eq!(times[0], "2024-05-01T12:03:20Z", "newest first");
    assert_eq!(
        all["events"][0]["event"]["user"]["name"], "carol",
        "the event comes back as sent"
    );
    let cases = [
        ("user.name:alice", 1),
        ("user.name:ALICE", 1),
        ("event.outcome:failure AND NOT user.name:carol", 1),
        ("event.outcome:failure OR user.name:bob", 3),
        ("source.ip:10.0.0.0/8", 1),
        ("source.ip:192.168.0.0/16 OR source.ip:2001:db8::/32", 2),
        ("status:[400 TO 599]", 2),
        ("status:>=500", 1),
        ("user.name:ca*", 1),
        ("\"failed password\"", 1),
        ("accepted", 1),
        (
            "(user.name:alice OR user.name:bob) AND event.outcome:success",
            1,
        ),
    ];
    for (query, want) in cases {
        let result = server.search(&read, query);
        assert_eq!(result["total"], want, "{query}: {result}");
    }
    let window = server
        .get("/api/v1/events", &read)
        .query(&[
            ("q", "*"),
            ("from", "2024-05-01T12:00:30Z"),
            ("to", "2024-05-01T12:02:00Z"),
        ])
        .send()
        .expect("window")
        .json::<Value>()
        .expect("json");
    assert_eq!(window["total"], 1);
    let stats: Value = server
        .get("/api/v1/events/stats", &read)
        .query(&[("q", "*"), ("field", "event.outcome")])
        .send()
        .expect("stats")
        .json()
        .expect("json");
    assert_eq!(stats["values"][0], json!({"value": "failure", "count": 2}));
    assert_eq!(stats["values"][1], json!({"value": "success", "count": 1}));
}

#[test]
fn gzip_bodies_are_accepted() {
    let (_dir, server) = server();
    server.create_tenant("acme");
    let ingest = server.token("acme", "ingest");
    let read = server.token("acme", "read");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..100 {
        writeln!(gz, "{}", json!({"n": i, "kind": "zipped"})).unwrap();
    }
    let r = server
        .post("/api/v1/ingest", &ingest)
        .header("Content-Encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .expect("ingest");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["accepted"], 100);
    assert_eq!(server.search_until(&read, "kind:zipped", 100)["total"], 100);
}

#[test]
fn bad_lines_are_reported_and_good_ones_kept() {
    let (_dir, server) = server();
    server.create_tenant("acme");
    let ingest = server.token("acme", "ingest");
    let read = server.token("acme", "read");
    let long = format!("{{\"big\":\"{}\"}}", "x".repeat(2 << 20));
    let mut body = Vec::new();
    body.extend_from_slice(b"{\"ok\":1}\n{broken\n[1,2]\n\xff\xfe\n");
    body.extend_from_slice(long.as_bytes());
    body.extend_from_slice(b"\n{\"ok\":2}\n");
    let r = server
        .post("/api/v1/ingest", &ingest)
        .body(body)
        .send()
        .expect("ingest");
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().unwrap();
    assert_eq!(answer["accepted"], 2);
    assert_eq!(answer["rejected_count"], 4);
    let lines: Vec<u64> = answer["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![2, 3, 4, 5]);
    assert!(answer["rejected"][3]["error"]
        .as_str()
        .unwrap()
        .contains("over the maximum"));
    assert_eq!(server.search_until(&read, "ok:*", 2)["total"], 2);

    let empty = server.ingest(&ingest, "");
    assert_eq!(empty.status(), 400);
    let all_bad = server.ingest(&ingest, "nope\n");
    assert_eq!(all_bad.status(), 400);
    assert_eq!(all_bad.json::<Value>().unwrap()["rejected"][0]["line"], 1);
}

#[test]
fn oversized_bodies_get_413() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(dir.path(), &[("VIGIL_INGEST_MAX_BODY_BYTES", "1000")]);
    server.create_tenant("acme");
    let ingest = server.token("acme", "ingest");
    let big = format!("{{\"m\":\"{}\"}}\n", "y".repeat(2000));
    let r = server.ingest(&ingest, &big);
    assert_eq!(r.status(), 413);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(big.as_bytes()).unwrap();
    let r = server
        .post("/api/v1/ingest", &ingest)
        .header("Content-Encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .expect("ingest");
    assert_eq!(r.status(), 413, "the limit applies after decompression");
    assert_eq!(
        server.ingest(&ingest, "{\"small\":1}\n").status(),
        200,
        "the server goes on"
    );
}

#[test]
fn tokens_are_checked() {
    let (_dir, server) = server();
    server.create_tenant("acme");
    let ingest = server.token("acme", "ingest");
    let no_token = server
        .request("POST", "/api/v1/ingest")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(no_token.status(), 401);
    let wrong = server.ingest(
        "vgl_0000000000000000000000000000000000000000000000000000000000000000",
        "{}",
    );
    assert_eq!(wrong.status(), 401);
    let garbage = server.ingest("not a token at all", "{}");
    assert_eq!(garbage.status(), 401);
    let read_with_ingest = server.get("/api/v1/events", &ingest).send().unwrap();
    assert_eq!(
        read_with_ingest.status(),
        403,
        "an ingest token cannot read"
    );
    let read = server.token("acme", "read");
    assert_eq!(
        server.ingest(&read, "{}").status(),
        403,
        "a read token cannot ingest"
    );
    let mint = server
        .post("/api/v1/tokens", &read)
        .json(&json!({"tenant": "acme", "role": "admin"}))
        .send()
        .unwrap();
    assert_eq!(mint.status(), 403, "a read token cannot mint tokens");
    let tenant = server
        .post("/api/v1/tenants", &read)
        .json(&json!({"name": "x"}))
        .send()
        .unwrap();
    assert_eq!(tenant.status(), 403);
}

#[test]
fn query_errors_and_missing_fields() {
    let (_dir, server) = server();
    server.create_tenant("acme");
    let ingest = server.token("acme", "ingest");
    let read = server.token("acme", "read");
    server.ingest(&ingest, "{\"user\":\"bob\"}\n");
    server.search_until(&read, "*", 1);
    let r = server
        .get("/api/v1/events", &read)
        .query(&[("q", "user:bob AND (")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"]["code"], "query_syntax");
    assert!(body["error"]["position"].is_u64(), "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("position"));
    let none = server.search(&read, "usr:bob");
    assert_eq!(none["total"], 0);
    assert!(none["hint"].as_str().unwrap().contains("usr"), "{none}");
    let bad_value = server
        .get("/api/v1/events", &read)
        .query(&[("q", "_time:soon")])
        .send()
        .unwrap();
    assert_eq!(
        bad_value.status(),
        400,
        "a query that parses but means nothing is refused"
    );
    let bad_time = server
        .get("/api/v1/events", &read)
        .query(&[("from", "yesterday-ish")])
        .send()
        .unwrap();
    assert_eq!(bad_time.status(), 400);
}

#[test]
fn config_tenants_are_created_and_users_log_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        "[[tenants]]\nname = \"acme\"\nretention_days = 7\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let cfg = config.to_string_lossy().to_string();
    let server = Server::start_with(&data, &[]);
    drop(server);
    // Restart with the config file: the tenant appears.
    let server = {
        let mut s = Server::start_with_config(&data, &cfg);
        let tenants: Value = s
            .get("/api/v1/tenants", &s.admin.clone())
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(tenants[0]["name"], "acme");
        assert_eq!(tenants[0]["retention_days"], 7);
        s.stop();
        s
    };
    drop(server);
    let server = Server::start(&data);
    let user = server
        .post("/api/v1/users", &server.admin)
        .json(&json!({"name": "nina", "password": "correct horse battery", "role": "noc-operator", "tenants": ["acme"]}))
        .send()
        .unwrap();
    assert_eq!(user.status(), 201);
    let login = server
        .request("POST", "/api/v1/login")
        .json(&json!({"name": "nina", "password": "wrong password!!"}))
        .send()
        .unwrap();
    assert_eq!(login.status(), 401);
    let login: Value = server
        .request("POST", "/api/v1/login")
        .json(&json!({"name": "nina", "password": "correct horse battery"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = login["token"].as_str().unwrap();
    let tenants: Value = server
        .get("/api/v1/tenants", token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(tenants.as_array().unwrap().len(), 1);
    let search = server
        .get("/api/v1/events", token)
        .query(&[("tenant", "acme")])
        .send()
        .unwrap();
    assert_eq!(search.status(), 200);
}

/// Seconds since the epoch of the server's RFC 3339 UTC times
/// (`2024-05-01T12:00:00.123456Z`), fractions dropped.
fn epoch_secs(rfc3339: &str) -> i64 {
    let num = |range: std::ops::Range<usize>| -> i64 {
        rfc3339
            .get(range)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an RFC 3339 time: {rfc3339:?}"))
    };
    assert!(rfc3339.ends_with('Z'), "not UTC: {rfc3339:?}");
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    // Days from the civil date (proleptic Gregorian), March-based year.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

#[test]
fn epoch_secs_reads_the_servers_times() {
    assert_eq!(epoch_secs("1970-01-01T00:00:00Z"), 0);
    assert_eq!(epoch_secs("2024-05-01T12:00:00Z"), 1_714_564_800);
    assert_eq!(epoch_secs("2024-02-29T23:59:59.999999Z"), 1_709_251_199);
}

#[test]
fn login_sessions_expire_after_session_minutes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(dir.path(), &[("VIGIL_SERVER_SESSION_MINUTES", "90")]);
    server.create_tenant("acme");
    let user = server
        .post("/api/v1/users", &server.admin)
        .json(&json!({"name": "nina", "password": "correct horse battery", "role": "soc-analyst", "tenants": ["acme"]}))
        .send()
        .unwrap();
    assert_eq!(user.status(), 201);

    let before = now_secs();
    let login = server
        .request("POST", "/api/v1/login")
        .json(&json!({"name": "nina", "password": "correct horse battery"}))
        .send()
        .unwrap();
    let after = now_secs();
    assert_eq!(login.status(), 200);
    let login: Value = login.json().unwrap();
    let expires = login["expires_at"]
        .as_str()
        .unwrap_or_else(|| panic!("the login answer has no expires_at: {login}"));
    let expires = epoch_secs(expires);
    assert!(
        (before + 90 * 60 - 1..=after + 90 * 60 + 1).contains(&expires),
        "a 90-minute session ends at {expires}, logged in between {before} and {after}"
    );
    assert_eq!(login["role"], "soc-analyst");
    let token = login["token"].as_str().unwrap();
    let tenants = server.get("/api/v1/tenants", token).send().unwrap();
    assert_eq!(tenants.status(), 200, "the session works before it expires");

    // Tenant tokens last until revoked unless they ask for an expiry.
    let lasting = server
        .post("/api/v1/tokens", &server.admin)
        .json(&json!({"tenant": "acme", "role": "read"}))
        .send()
        .unwrap();
    assert_eq!(lasting.status(), 201);
    let lasting: Value = lasting.json().unwrap();
    assert!(lasting.get("expires_at").is_none(), "{lasting}");
    let weekly = server
        .post("/api/v1/tokens", &server.admin)
        .json(&json!({"tenant": "acme", "role": "ingest", "expires_in_days": 7}))
        .send()
        .unwrap();
    assert_eq!(weekly.status(), 201);
    let weekly: Value = weekly.json().unwrap();
    let week = epoch_secs(weekly["expires_at"].as_str().expect("expires_at"));
    assert!(
        (week - now_secs() - 7 * 86_400).abs() < 120,
        "7 days from now: {weekly}"
    );
    let ingest = weekly["token"].as_str().unwrap();
    assert_eq!(server.ingest(ingest, "{\"a\":1}\n").status(), 200);
    for bad in [json!(0), json!(36_501), json!(-1), json!("7")] {
        let r = server
            .post("/api/v1/tokens", &server.admin)
            .json(&json!({"tenant": "acme", "role": "read", "expires_in_days": bad}))
            .send()
            .unwrap();
        assert!(
            r.status().is_client_error(),
            "expires_in_days {bad}: {}",
            r.status()
        );
    }
    let listed: Value = server
        .get("/api/v1/tokens", &server.admin)
        .query(&[("tenant", "acme")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed[0].get("expires_at").is_none(), "{listed:?}");
    assert_eq!(listed[1]["expires_at"], weekly["expires_at"]);
}

#[test]
fn health_and_metrics() {
    let (_dir, server) = server();
    let health = server.request("GET", "/healthz").send().unwrap();
    assert_eq!(health.status(), 200);
    server.create_tenant("acme");
    let ingest = server.token("acme", "ingest");
    server.ingest(&ingest, "{\"a\":1}\n{\"a\":2}\nbad\n");
    let text = server
        .request("GET", "/metrics")
        .send()
        .unwrap()
        .text()
        .unwrap();
    for needle in [
        "vigil_ingested_events_total 2",
        "vigil_ingest_rejected_lines_total 1",
        "vigil_wal_commit_seconds_bucket",
        "vigil_queue_depth{queue=\"wal\"}",
        "vigil_queue_depth{queue=\"index\"}",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    assert!(!text.contains("acme"), "no tenant names in /metrics");
}

#[test]
fn json_bodies_need_no_content_type_and_bad_ones_get_json_errors() {
    let (_dir, server) = server();
    // What `curl -d` sends: a form content type.
    let r = server
        .post("/api/v1/tenants", &server.admin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#"{"name":"acme"}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    for (body, needle) in [
        ("{\"name\":", "invalid JSON body"),
        ("", "empty body"),
        ("{\"nom\":\"x\"}", "unknown field"),
    ] {
        let r = server
            .post("/api/v1/tenants", &server.admin)
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let answer: Value = r.json().expect("a JSON error");
        assert_eq!(answer["error"]["code"], "bad_request");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{answer}"
        );
    }
}

/// The NOC inventory through the API and the config: assets with parents,
/// checks with their kind's settings, partial updates, clear refusals.
#[test]
fn assets_and_checks_from_the_api_and_the_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("vigil.toml");
    std::fs::write(
        &config,
        r#"
[[tenants]]
name = "acme"
# Its checks below name loopback, which checks may reach only when allowed.
check_allow_networks = ["127.0.0.0/8"]

[[assets]]
tenant = "acme"
name = "web01"
address = "192.0.2.10"
parent = "core-router"

[[assets]]
tenant = "acme"
name = "core-router"
address = "192.0.2.1"
kind = "router"
criticality = "critical"

[[checks]]
tenant = "acme"
asset = "web01"
kind = "http"
target = "http://127.0.0.1:9/health"
interval = "30s"
enabled = false
expect_text = "ok"
"#,
    )
    .expect("config");
    let server = Server::start_with_config(&dir.path().join("data"), config.to_str().unwrap());
    let noc = server.token("acme", "admin");
    let assets: Value = server
        .get("/api/v1/assets", &noc)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(assets.as_array().map(Vec::len), Some(2), "{assets}");
    assert_eq!(assets[1]["name"], "web01");
    assert_eq!(
        assets[1]["parent"], "core-router",
        "a parent declared after its child"
    );
    assert_eq!(assets[0]["criticality"], "critical");
    let checks: Value = server
        .get("/api/v1/checks", &noc)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(checks[0]["interval_seconds"], 30.0);
    assert_eq!(checks[0]["spec"]["expect_text"], "ok");

    let created = server
        .post("/api/v1/assets", &noc)
        .json(&json!({"name": "db01", "address": "192.0.2.20", "parent": "core-router", "tags": ["sql"]}))
        .send()
        .unwrap();
    assert_eq!(created.status(), 201);
    let cycle = server
        .request("PATCH", "/api/v1/assets/core-router")
        .bearer_auth(&noc)
        .json(&json!({"parent": "db01"}))
        .send()
        .unwrap();
    assert_eq!(cycle.status(), 400, "a loop of parents is refused");
    let unparented: Value = server
        .request("PATCH", "/api/v1/assets/db01")
        .bearer_auth(&noc)
        .json(&json!({"parent": null}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(unparented["parent"], Value::Null);
    assert_eq!(
        unparented["tags"],
        json!(["sql"]),
        "fields not given are kept"
    );

    let bad = server
        .post("/api/v1/checks", &noc)
        .json(&json!({"asset": "db01", "kind": "telnet", "target": "x"}))
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().unwrap().contains("telnet"));
    let check: Value = server
        .post("/api/v1/checks", &noc)
        .json(&json!({"asset": "db01", "kind": "tcp", "target": "127.0.0.1:9", "interval": "10s", "enabled": false}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = check["id"].as_i64().unwrap();
    let patched: Value = server
        .request("PATCH", &format!("/api/v1/checks/{id}"))
        .bearer_auth(&noc)
        .json(&json!({"interval": "1m"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(patched["interval_seconds"], 60.0);
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["target"], "127.0.0.1:9");
    let viewer = server.token("acme", "read");
    let refused = server
        .post("/api/v1/assets", &viewer)
        .json(&json!({"name": "x", "address": "192.0.2.30"}))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 403, "a read token keeps no inventory");
    let gone = server
        .request("DELETE", "/api/v1/assets/db01")
        .bearer_auth(&noc)
        .send()
        .unwrap();
    assert_eq!(gone.status(), 204);
    let left: Value = server
        .get("/api/v1/checks", &noc)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        left.as_array().map(Vec::len),
        Some(1),
        "db01's check went with it"
    );
}
