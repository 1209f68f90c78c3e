//! Alerts end, keep their evidence and list properly, on the real binary:
//! a replay of 2019 events makes alerts found by detection time; a burst
//! two days after another opens a new alert linked to the first; one user
//! written three ways is one alert; a correlation keeps every event that
//! made it, resolved by `GET /api/v1/alerts/{id}`; the list pages with a
//! cursor and a true total; `tenant=*` lists a staff member's tenants.

mod common;

use common::Server;
use serde_json::{json, Value};
use std::collections::HashSet;

const BURST_RULE: &str = "title: Test burst\nid: vigil-test-burst\ndetection:\n  sel:\n    action: burst\n  condition: sel\nlevel: high\n";

const FAIL_RULES: &str = "title: Test failure\nname: vigil_test_fail\nid: vigil-test-fail\ndetection:\n  sel:\n    action: fail\n  condition: sel\nlevel: low\n---\ntitle: Many test failures\nid: vigil-test-many-fails\ncorrelation:\n  type: event_count\n  rules: [vigil_test_fail]\n  group-by: [host.name]\n  timespan: 10m\n  condition:\n    gte: 4\nlevel: high\n";

fn tenant(server: &Server, name: &str) {
    let r = server
        .post("/api/v1/tenants", &server.admin)
        .json(&json!({"name": name, "retention_days": 36500}))
        .send()
        .expect("create tenant");
    assert_eq!(r.status(), 201, "create tenant {name}");
}

fn upload(server: &Server, admin: &str, rules: &str) {
    let r = server
        .post("/api/v1/rules", admin)
        .body(rules.to_string())
        .send()
        .expect("upload");
    assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
}

fn event(time: &str, host: &str, user: &str, action: &str) -> String {
    json!({"@timestamp": time, "host.name": host, "user.name": user, "action": action}).to_string()
}

fn ingest(server: &Server, token: &str, lines: &[String]) {
    let r = server.ingest(token, &(lines.join("\n") + "\n"));
    assert_eq!(r.status(), 200, "ingest");
}

fn total(answer: &Value) -> u64 {
    answer["total"].as_u64().unwrap_or(u64::MAX)
}

fn get(server: &Server, token: &str, path: &str) -> Value {
    let r = server.get(path, token).send().expect("get");
    assert_eq!(r.status(), 200, "{path}");
    r.json().expect("json")
}

#[test]
fn replayed_bursts_end_link_and_keep_their_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    tenant(&server, "acme");
    let admin = server.token("acme", "admin");
    let ingest_token = server.token("acme", "ingest");
    let read = server.token("acme", "read");
    upload(&server, &admin, BURST_RULE);
    upload(&server, &admin, FAIL_RULES);
    let bad = server
        .post("/api/v1/rules", &admin)
        .body(BURST_RULE.replace("level: high", "level: high\nvigil:\n  alert_window: 5s"))
        .send()
        .expect("upload a bad window");
    assert_eq!(bad.status(), 400, "a window under a minute is refused");

    // Burst one, July 2019: one user written three ways.
    let first_burst: Vec<String> = ["WORKSTATION5\\wardog", "wardog", "WarDog@shire.example"]
        .iter()
        .enumerate()
        .map(|(i, user)| event(&format!("2019-07-01T10:00:0{i}Z"), "ws5", user, "burst"))
        .collect();
    ingest(&server, &ingest_token, &first_burst);
    let burst = [("rule", "vigil-test-burst")];
    let answer = server.alerts_until(&read, &burst, |a| a["alerts"][0]["count"] == 3);
    assert_eq!(total(&answer), 1, "one user, one alert: {answer}");
    let first = answer["alerts"][0].clone();
    assert_eq!(first["entities"]["user"], "WORKSTATION5\\wardog");
    assert_eq!(first["evidence"]["count"], 3);

    // Burst two, two days later: a new alert that links the first.
    ingest(
        &server,
        &ingest_token,
        &[
            event("2019-07-03T10:00:00Z", "ws5", "wardog", "burst"),
            event("2019-07-03T10:00:01Z", "ws5", "wardog", "burst"),
        ],
    );
    let answer = server.alerts_until(&read, &burst, |a| {
        total(a) == 2 && a["alerts"][0]["count"] == 2
    });
    assert_eq!(total(&answer), 2, "{answer}");
    let second = &answer["alerts"][0];
    assert_eq!(second["previous_id"], first["id"], "{answer}");
    assert_eq!(second["first_seen"], "2019-07-03T10:00:00Z");
    let ended = &answer["alerts"][1];
    assert_eq!(ended["status"], "resolved");
    assert!(
        ended["resolution"]
            .as_str()
            .is_some_and(|r| r.starts_with("expired")),
        "{ended}"
    );

    // Detection time, not event time.
    let recent = server.alerts(&read, &[("rule", "vigil-test-burst"), ("from", "now-24h")]);
    assert_eq!(total(&recent), 2, "2019 events detected today: {recent}");
    let by_event = server.alerts(
        &read,
        &[("rule", "vigil-test-burst"), ("event_from", "now-24h")],
    );
    assert_eq!(total(&by_event), 0, "{by_event}");
    let july_first = server.alerts(&read, &[("event_to", "2019-07-02T00:00:00Z")]);
    assert_eq!(total(&july_first), 1, "{july_first}");

    // The tenant's window: an hour, so a hit two hours on is a new alert.
    let r = server
        .request("PATCH", "/api/v1/tenants/acme")
        .bearer_auth(&admin)
        .json(&json!({"alert_window": "1h"}))
        .send()
        .expect("patch");
    assert_eq!(r.status(), 200);
    let patched: Value = r.json().expect("json");
    assert_eq!(patched["alert_window"], "3600s");
    ingest(
        &server,
        &ingest_token,
        &[event("2019-07-03T12:00:01Z", "ws5", "wardog", "burst")],
    );
    let answer = server.alerts_until(&read, &burst, |a| total(a) == 3);
    assert_eq!(answer["alerts"][0]["previous_id"], second["id"], "{answer}");

    // A correlation keeps every event that made it.
    let fails: Vec<String> = (0..5)
        .map(|i| event(&format!("2019-07-05T08:00:0{i}Z"), "db1", "root", "fail"))
        .collect();
    ingest(&server, &ingest_token, &fails);
    let many = [("rule", "vigil-test-many-fails")];
    let answer = server.alerts_until(&read, &many, |a| total(a) == 1);
    assert_eq!(total(&answer), 1, "{answer}");
    let id = answer["alerts"][0]["id"].as_i64().expect("id");
    // The events become searchable (and readable) at the next refresh.
    let detail = common::wait_for("the evidence events", || {
        let detail = get(&server, &read, &format!("/api/v1/alerts/{id}"));
        (detail["events"].as_array().map(Vec::len) == Some(4)).then_some(detail)
    });
    assert_eq!(
        detail["evidence"]["count"], 4,
        "the four that made it: {detail}"
    );
    let events = detail["events"].as_array().expect("events");
    assert_eq!(events.len(), 4, "resolved to stored events: {detail}");
    let kept: HashSet<&str> = detail["evidence"]["first"]
        .as_array()
        .expect("first")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for e in events {
        assert!(kept.contains(e["id"].as_str().unwrap_or("")), "{e}");
        assert_eq!(e["event"]["action"], "fail");
    }
    println!("correlation evidence: {} events resolved", events.len());

    // Many alerts: pages through a cursor see each once, with the total.
    let hosts: Vec<String> = (0..12)
        .map(|i| event("2019-08-01T00:00:00Z", &format!("h{i:02}"), "bob", "burst"))
        .collect();
    ingest(&server, &ingest_token, &hosts);
    let all = server.alerts_until(&read, &[], |a| total(a) == 16);
    assert_eq!(total(&all), 16, "3 + 1 + 12: {all}");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("limit", "5".to_string())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let page = server
            .get("/api/v1/alerts", &read)
            .query(&query)
            .send()
            .expect("page")
            .json::<Value>()
            .expect("json");
        assert_eq!(total(&page), 16, "the total of every page: {page}");
        pages += 1;
        seen.extend(
            page["alerts"]
                .as_array()
                .expect("alerts")
                .iter()
                .map(|a| a["id"].as_i64()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10, "paging ends");
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len(), pages), (16, 16, 4));
    println!("paging: {} alerts in {pages} pages of 5", seen.len());
    let bad = server
        .get("/api/v1/alerts", &read)
        .query(&[("cursor", "not-a-cursor")])
        .send()
        .expect("bad cursor");
    assert_eq!(bad.status(), 400);
}

#[test]
fn staff_list_alerts_across_their_tenants() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    for name in ["acme", "globex"] {
        tenant(&server, name);
        let admin = server.token(name, "admin");
        upload(&server, &admin, BURST_RULE);
        let ingest_token = server.token(name, "ingest");
        ingest(
            &server,
            &ingest_token,
            &[event("2026-11-01T00:00:00Z", "srv", "alice", "burst")],
        );
    }
    let star = [("tenant", "*")];
    let all = server.alerts_until(&server.admin, &star, |a| total(a) == 2);
    assert_eq!(total(&all), 2, "{all}");
    let tenants: HashSet<&str> = all["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(|a| a["tenant"].as_str())
        .collect();
    assert_eq!(
        tenants,
        HashSet::from(["acme", "globex"]),
        "each says its tenant"
    );
    let acme = server.token("acme", "read");
    let own = server.alerts(&acme, &star);
    assert_eq!(total(&own), 1, "a one-tenant token sees its own: {own}");
    assert_eq!(own["alerts"][0]["tenant"], "acme");
}
