//! `/api/v1/checks` refuses unknown settings and names the field in every
//! error, on create and on update alike (the same reading as the config).

mod common;

use common::Server;
use serde_json::{json, Value};

/// The error of a refused request: its status and message.
fn refusal(response: reqwest::blocking::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().expect("a JSON error");
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (status, message)
}

#[test]
fn the_check_api_refuses_unknown_keys_and_names_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    server.create_tenant("acme");
    let noc = server.token("acme", "admin");
    let post = |body: Value| {
        refusal(
            server
                .post("/api/v1/checks", &noc)
                .json(&body)
                .send()
                .unwrap(),
        )
    };
    let cases = [
        (
            json!({"asset": "web1", "kind": "http", "target": "http://192.0.2.10/", "expect_staus": 200}),
            "expect_staus: unknown field `expect_staus` of a http check, expected one of `asset`",
        ),
        (
            json!({"asset": "db1", "kind": "tcp", "target": "192.0.2.20", "port": 99999}),
            "port: 99999 is not a port (1–65535)",
        ),
        (
            json!({"asset": "db1", "kind": "tcp", "target": "192.0.2.20:99999"}),
            "target: port 99999 is not a port (1–65535)",
        ),
        (
            json!({"asset": "db1", "kind": "tcp", "target": "192.0.2.20"}),
            "port: missing",
        ),
        (
            json!({"asset": "web1", "kind": "http", "target": "ftp://192.0.2.10/"}),
            "url: ",
        ),
        (
            json!({"asset": "ns1", "kind": "dns", "target": "example.org"}),
            "server: missing",
        ),
        (
            json!({"kind": "icmp", "target": "192.0.2.1"}),
            "asset: missing",
        ),
        (
            json!({"asset": "x", "target": "192.0.2.1"}),
            "kind: missing",
        ),
        (
            json!({"asset": "x", "kind": "icmp", "target": "192.0.2.1", "interval": "2d"}),
            "interval: \"2d\" is over the maximum of 24h",
        ),
        (
            json!({"asset": "x", "kind": "icmp", "target": "127.0.0.1"}),
            "target 127.0.0.1 is in a denied network",
        ),
        (
            json!({"asset": "x", "kind": "icmp", "target": "192.0.2.1\r\nX: y"}),
            "target: has a control character",
        ),
    ];
    for (body, want) in &cases {
        let (status, message) = post(body.clone());
        assert_eq!(status, 400, "{body}: {message}");
        assert!(message.starts_with(want), "{body}: {message:?}");
    }
    println!("check API refusals, each naming its field: {}", cases.len());

    // An update reads the merged check the same way.
    let asset = server
        .post("/api/v1/assets", &noc)
        .json(&json!({"name": "web1", "address": "192.0.2.10"}))
        .send()
        .unwrap();
    assert_eq!(asset.status(), 201);
    let created: Value = server
        .post("/api/v1/checks", &noc)
        .json(&json!({"asset": "web1", "kind": "http", "target": "http://192.0.2.10/"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = created["id"].as_i64().expect("created");
    let (status, message) = refusal(
        server
            .request("PATCH", &format!("/api/v1/checks/{id}"))
            .bearer_auth(&noc)
            .json(&json!({"expect_staus": "200-299"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400, "{message}");
    assert!(
        message.starts_with("expect_staus: unknown field"),
        "{message}"
    );
    let checks: Value = server
        .get("/api/v1/checks", &noc)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(checks.as_array().map(Vec::len), Some(1), "{checks}");
    assert!(
        checks[0]["spec"].get("expect_staus").is_none(),
        "nothing unknown is stored: {checks}"
    );
}
