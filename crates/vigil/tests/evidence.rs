//! Evidence can be opened and stays: an alert's `event_id` resolves through
//! `GET /api/v1/events/{event}` and `id:` searches, for the tenant only,
//! and an EVTX file of 2019 imported today outlives the retention rounds
//! that follow (retention counts from arrival, not from the events' time).

mod common;

use common::{wait_for, Server};
use serde_json::{json, Value};
use std::path::Path;

/// An attack sample of 2019-09-22: two 4732 events (a member added to the
/// Administrators group), which Vigil's own rule turns into an alert.
const SAMPLE: &str =
    "evtx/EVTX-ATTACK-SAMPLES/Persistence/Network_Service_Guest_added_to_admins_4732.evtx";
const RULE: &str = "6f0d7a52-7d1e-4a8e-9b51-0c3f2b8e1a12";

fn get_event(server: &Server, token: &str, id: &str, tenant: Option<&str>) -> (u16, Value) {
    let mut request = server.get(&format!("/api/v1/events/{id}"), token);
    if let Some(tenant) = tenant {
        request = request.query(&[("tenant", tenant)]);
    }
    let response = request.send().expect("get event");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// Retention rounds the server has done, from `/metrics`.
fn retention_rounds(server: &Server) -> u64 {
    let text = server
        .request("GET", "/metrics")
        .send()
        .expect("metrics")
        .text()
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix("vigil_retention_rounds_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no vigil_retention_rounds_total in\n{text}"))
}

fn create_tenant(server: &Server, name: &str, retention_days: u32) {
    let r = server
        .post("/api/v1/tenants", &server.admin)
        .json(&json!({"name": name, "retention_days": retention_days}))
        .send()
        .expect("create tenant");
    assert_eq!(r.status(), 201, "create tenant {name}");
}

#[test]
fn imported_evidence_of_2019_opens_and_survives_retention() {
    let Some(corpora) = std::env::var_os("VIGIL_CORPORA") else {
        eprintln!("SKIPPED imported_evidence_of_2019_opens_and_survives_retention: VIGIL_CORPORA is not set");
        return;
    };
    let sample = Path::new(&corpora).join(SAMPLE);
    let dir = tempfile::tempdir().expect("tempdir");
    // A retention round every second, so that several run during the test.
    let server = Server::start_with(dir.path(), &[("VIGIL_RETENTION_INTERVAL_SECS", "1")]);
    create_tenant(&server, "acme", 90);
    create_tenant(&server, "other", 90);
    let ingest = server.token("acme", "ingest");
    let read = server.token("acme", "read");
    let other_read = server.token("other", "read");

    let r = server
        .post("/api/v1/ingest/evtx", &ingest)
        .body(std::fs::read(&sample).expect("read the sample"))
        .send()
        .expect("import");
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().expect("import json");
    let accepted = answer["accepted"].as_u64().expect("accepted");
    println!("imported {accepted} events of 2019 from {SAMPLE}");
    assert!(accepted >= 2, "{answer}");
    let all = server.search_until(&read, "*", accepted);
    assert_eq!(all["total"].as_u64(), Some(accepted));

    let alerts = server.alerts_until(&read, &[("rule", RULE)], |a| {
        a["alerts"][0]["last_event_id"].is_string()
    });
    let alert = &alerts["alerts"][0];
    let evidence: Vec<String> = ["event_id", "last_event_id"]
        .iter()
        .map(|key| {
            alert[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} in {alert}"))
        })
        .map(str::to_string)
        .collect();

    // The evidence opens: the event as stored, of 2019, arrived today.
    let rounds_before = retention_rounds(&server);
    let check_evidence = |when: &str| {
        for id in &evidence {
            let (status, event) = get_event(&server, &read, id, None);
            assert_eq!(status, 200, "{when}: {id}: {event}");
            assert_eq!(event["id"], id.as_str(), "{when}");
            let time = event["time"].as_str().expect("time");
            assert!(time.starts_with("2019-09-22T"), "{when}: {event}");
            let arrival = event["arrival_day"].as_str().expect("arrival_day");
            assert!(arrival > "2025-", "{when}: arrived today: {event}");
            assert!(event["event"].is_object(), "{when}: {event}");
            assert!(
                event["event"].to_string().contains("4732"),
                "{when}: {event}"
            );
        }
    };
    check_evidence("after the import");

    // Only for its tenant: another tenant's caller gets the 404 of a
    // missing event.
    for (token, tenant) in [(&other_read, None), (&server.admin, Some("other"))] {
        let (status, body) = get_event(&server, token, &evidence[0], tenant);
        assert_eq!(status, 404, "{body}");
        assert!(!body.to_string().contains("4732"), "{body}");
    }
    let (status, _) = get_event(&server, &server.admin, &evidence[0], Some("acme"));
    assert_eq!(status, 200, "the MSP admin naming the tenant");
    let (status, body) = get_event(&server, &read, &"0".repeat(32), None);
    assert_eq!(status, 404, "{body}");
    let (status, body) = get_event(&server, &read, "not-an-id", None);
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("32 hex digits"), "{body}");

    // `id:` finds them, with boolean logic.
    let (a, b) = (&evidence[0], &evidence[1]);
    let distinct = if a == b { 1 } else { 2 };
    assert_eq!(
        server.search(&read, &format!("id:{a} OR id:{b}"))["total"],
        distinct
    );
    assert_eq!(
        server.search(&read, &format!("id:{a} AND NOT id:{a}"))["total"],
        0
    );
    assert_eq!(
        server.search(&read, &format!("NOT id:{a}"))["total"].as_u64(),
        Some(accepted - 1)
    );
    assert_eq!(server.search(&other_read, &format!("id:{a}"))["total"], 0);

    // Rounds of retention (90 days) pass: two more than had begun, so at
    // least one ran wholly after the import. Nothing goes.
    wait_for("two retention rounds", || {
        let rounds = retention_rounds(&server);
        (rounds >= rounds_before + 2).then(|| json!(rounds))
    });
    println!(
        "retention rounds during the test: {}",
        retention_rounds(&server)
    );
    check_evidence("after retention rounds");
    assert_eq!(server.search(&read, "*")["total"].as_u64(), Some(accepted));
    let alert_now = server.alerts(&read, &[("rule", RULE)]);
    assert_eq!(alert_now["alerts"][0]["event_id"], evidence[0].as_str());
}
