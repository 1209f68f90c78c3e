//! Hostile Sigma uploads: tenant alpha, as its admin, sends rule text built
//! to exhaust the server (a nesting bomb, an oversize body, a list of
//! 200,000 values, huge regexes, too many rules) while tenant bravo works.
//! Each is refused with a clear 4xx naming the limit, and nothing is
//! stored. Then alpha's large-but-allowed upload does not make bravo's
//! trivial upload recompile alpha's rules, and a restart answers HTTP
//! while the rules still load.

use crate::bystander::Bystander;
use crate::common::{wait_for, Server};
use reqwest::blocking::Response;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn rule(title: &str, detection: &str) -> String {
    format!("title: {title}\nid: {title}\nlogsource:\n  product: linux\ndetection:\n{detection}  condition: sel\nlevel: high\n")
}

/// Uploads `body` as alpha; returns the answer and how long it took.
fn upload(server: &Server, token: &str, body: String) -> (Response, Duration) {
    let started = Instant::now();
    let answer = server
        .post("/api/v1/rules", token)
        .body(body)
        .send()
        .expect("upload");
    (answer, started.elapsed())
}

/// Asserts a 4xx whose JSON message contains every one of `words`.
fn refused(what: &str, answer: Response, status: u16, words: &[&str]) -> Value {
    assert_eq!(answer.status().as_u16(), status, "{what}");
    let body: Value = answer
        .json()
        .unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
    let message = body["error"]["message"]
        .as_str()
        .or_else(|| body["message"].as_str())
        .unwrap_or_default()
        .to_string();
    for word in words {
        assert!(message.contains(word), "{what}: {message:?} lacks {word:?}");
    }
    body
}

/// The value of a counter of `/metrics` (0 when absent).
fn counter(server: &Server, series: &str) -> f64 {
    let text = server
        .request("GET", "/metrics")
        .send()
        .expect("metrics")
        .text()
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn uploaded_rules(server: &Server, token: &str) -> usize {
    let list: Value = server
        .get("/api/v1/rules", token)
        .send()
        .expect("list")
        .json()
        .expect("list JSON");
    list["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| r["origin"] == "uploaded")
        .count()
}

#[test]
fn hostile_sigma_uploads_are_refused_at_once_and_store_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    server.create_tenant("alpha");
    let alpha = server.token("alpha", "admin");
    let bravo = Bystander::start(&server, "bravo");

    let (answer, depth_took) = upload(&server, &alpha, "[".repeat(50_000));
    refused("depth bomb", answer, 400, &["nests deeper", "64"]);

    let huge = rule(
        "huge",
        &format!("  sel:\n    a: '{}'\n", "x".repeat(2 << 20)),
    );
    let (answer, _) = upload(&server, &alpha, huge);
    refused("oversize body", answer, 413, &["524288 bytes"]);

    let values = vec!["a"; 200_000].join(",");
    let many = rule(
        "many",
        &format!("  sel:\n    CommandLine|contains: [{values}]\n"),
    );
    let (answer, values_took) = upload(&server, &alpha, many);
    refused("200,000 values", answer, 400, &["200000 values", "1000"]);

    let regexes: String = (0..20)
        .map(|i| format!("      - '\\w{{300}}{i}'\n"))
        .collect();
    let wide = rule("wide", &format!("  sel:\n    CommandLine|re:\n{regexes}"));
    let (answer, _) = upload(&server, &alpha, wide);
    refused("huge regexes", answer, 400, &["size limit"]);

    let rules: Vec<String> = (0..101)
        .map(|i| rule(&format!("r{i}"), "  sel:\n    a: b\n"))
        .collect();
    let (answer, _) = upload(&server, &alpha, rules.join("---\n"));
    refused("too many rules", answer, 400, &["limit of 100 rules"]);

    assert_eq!(uploaded_rules(&server, &alpha), 0, "nothing was stored");
    assert!(counter(&server, "vigil_rule_uploads_refused_total") >= 4.0);
    eprintln!("refused: 50,000 '[' in {depth_took:?}; 200,000 values in {values_took:?}");
    bravo.finish();
}

#[test]
fn a_tenants_upload_compiles_that_tenants_rules_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    server.create_tenant("alpha");
    let alpha = server.token("alpha", "admin");
    let bravo = Bystander::start(&server, "bravo");
    let bravo_admin = server.token("bravo", "admin");

    // Large but allowed: 80 rules of 400 values each.
    let rules: Vec<String> = (0..80)
        .map(|r| {
            let values: Vec<String> = (0..400).map(|v| format!("x{r}y{v}")).collect();
            rule(
                &format!("alpha-{r}"),
                &format!("  sel:\n    CommandLine|contains: [{}]\n", values.join(",")),
            )
        })
        .collect();
    let (answer, took) = upload(&server, &alpha, rules.join("---\n"));
    assert_eq!(
        answer.status(),
        201,
        "{}",
        answer.text().unwrap_or_default()
    );
    eprintln!("alpha's 80 rules of 400 values: {took:?}");
    assert_eq!(uploaded_rules(&server, &alpha), 80);

    let shared = counter(&server, "vigil_rule_compilations_total{scope=\"shared\"}");
    let tenant_rules = counter(&server, "vigil_rules_compiled_total{scope=\"tenant\"}");
    let trivial = rule("bravo-own", "  sel:\n    user.name: mallory\n");
    let (answer, took) = upload(&server, &bravo_admin, trivial);
    assert_eq!(
        answer.status(),
        201,
        "{}",
        answer.text().unwrap_or_default()
    );
    eprintln!("bravo's trivial upload after alpha's: {took:?}");
    assert_eq!(
        counter(&server, "vigil_rule_compilations_total{scope=\"shared\"}"),
        shared,
        "bravo's upload recompiled no shared rule"
    );
    assert_eq!(
        counter(&server, "vigil_rules_compiled_total{scope=\"tenant\"}") - tenant_rules,
        1.0,
        "bravo's upload compiled bravo's one rule, none of alpha's"
    );

    // A switch compiles nothing, and applies to alpha only.
    let tenant_compilations = counter(&server, "vigil_rule_compilations_total{scope=\"tenant\"}");
    let switched = server
        .request("PATCH", "/api/v1/rules/alpha-1")
        .bearer_auth(&alpha)
        .json(&json!({"enabled": false}))
        .send()
        .expect("switch");
    assert_eq!(switched.status(), 200);
    assert_eq!(
        counter(&server, "vigil_rule_compilations_total{scope=\"tenant\"}"),
        tenant_compilations
    );
    bravo.finish();
}

/// A rule folder that takes a while to compile: the SigmaHQ set when
/// `$VIGIL_CORPORA/sigma/rules` exists, else generated rules with long
/// lists (folder rules are the MSP's: no upload limits apply).
fn slow_rule_folder(dir: &std::path::Path) -> std::path::PathBuf {
    if let Some(corpora) = std::env::var_os("VIGIL_CORPORA") {
        let sigma = std::path::Path::new(&corpora).join("sigma/rules");
        if sigma.is_dir() {
            return sigma;
        }
    }
    let folder = dir.join("rules");
    std::fs::create_dir_all(&folder).expect("rule folder");
    for r in 0..12 {
        let values: Vec<String> = (0..8_000).map(|v| format!("f{r}z{v}")).collect();
        let text = rule(
            &format!("folder-{r}"),
            &format!("  sel:\n    CommandLine|contains: [{}]\n", values.join(",")),
        );
        std::fs::write(folder.join(format!("r{r}.yml")), text).expect("rule file");
    }
    folder
}

#[test]
fn a_restart_answers_http_while_the_rules_load_and_loses_no_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start_with_toml(dir.path(), "");
    server.create_tenant("alpha");
    let admin = server.token("alpha", "admin");
    let ingest = server.token("alpha", "ingest");
    let read = server.token("alpha", "read");
    // No log source: it applies to events ingested as plain JSON.
    let own = "title: alpha-mallory\nid: alpha-mallory\nlogsource: {}\ndetection:\n  sel:\n    user.name: mallory\n  condition: sel\nlevel: high\n".to_string();
    let (answer, _) = upload(&server, &admin, own);
    assert_eq!(answer.status(), 201);
    server.stop();

    let folder = slow_rule_folder(dir.path());
    let toml = format!(
        "[detection]\nrule_paths = [{:?}]\n",
        folder.to_str().expect("UTF-8 path")
    );
    let started = Instant::now();
    let server = Server::start_loading_with_toml(dir.path(), &toml);
    let health = server.request("GET", "/healthz").send().expect("healthz");
    let status = health.status().as_u16();
    let loaded_before = server.log().contains("detection rules ready");
    eprintln!(
        "healthz answered {status} {:?} after start; rules loaded then: {loaded_before}",
        started.elapsed()
    );
    if status != 200 {
        assert_eq!(status, 503);
        assert_eq!(
            health.json::<Value>().expect("JSON"),
            json!({"status": "loading"})
        );
    }
    assert!(
        loaded_before || status == 503,
        "healthz said ok before the rules were ready"
    );

    // Sent while the rules may still load: it waits, and is matched.
    let event = json!({"user": {"name": "mallory"}, "message": "login"}).to_string();
    let answer = server.ingest(&ingest, &event);
    assert!(answer.status().is_success(), "{}", answer.status());
    server.wait_ready();
    eprintln!("rules ready {:?} after start", started.elapsed());
    wait_for("the alert of the event sent while loading", || {
        let alerts = server.alerts(&read, &[("rule", "alpha-mallory")]);
        (alerts["total"].as_u64()? >= 1).then_some(alerts)
    });
}
