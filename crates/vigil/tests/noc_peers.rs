//! HTTP(S) and DNS checks against real servers on loopback: Debian's nginx
//! serving a certificate that expires in 10 days (made here with openssl),
//! and unbound answering a local zone. The certificate's days to expiry
//! reach the metric store and raise the "certificate expiring" alert; the
//! DNS answer is checked.

mod common;

use common::peers::{free_tcp_port, free_udp_port, missing_programs, runnable};
use common::{wait_for, KillOnDrop, Server};
use std::path::Path;
use std::process::{Command, Stdio};

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a server certificate for 127.0.0.1 signed by it that
/// expires in `days`.
fn certificates(dir: &Path, days: u32) {
    let d = |name: &str| dir.join(name);
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", "/CN=Vigil test CA", "-keyout"])
        .arg(d("ca.key"))
        .arg("-out")
        .arg(d("ca.pem")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
        ])
        .arg(d("server.key"))
        .arg("-out")
        .arg(d("server.csr")));
    std::fs::write(d("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").expect("ext");
    run(Command::new("openssl")
        .args(["x509", "-req", "-in"])
        .arg(d("server.csr"))
        .arg("-CA")
        .arg(d("ca.pem"))
        .arg("-CAkey")
        .arg(d("ca.key"))
        .args(["-CAcreateserial", "-days", &days.to_string(), "-extfile"])
        .arg(d("ext.cnf"))
        .arg("-out")
        .arg(d("server.pem")));
}

fn nginx(dir: &Path, port: u16) -> KillOnDrop {
    let conf = dir.join("nginx.conf");
    let p = |name: &str| dir.join(name).display().to_string();
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nmaster_process off;\npid {pid};\nerror_log {err};\nevents {{}}\n\
             http {{\n access_log off;\n client_body_temp_path {t}/body;\n proxy_temp_path {t}/proxy;\n\
             fastcgi_temp_path {t}/fcgi;\n uwsgi_temp_path {t}/uwsgi;\n scgi_temp_path {t}/scgi;\n\
             server {{\n  listen 127.0.0.1:{port} ssl;\n  ssl_certificate {cert};\n  ssl_certificate_key {key};\n\
             location /health {{ return 200 \"ok\\n\"; }}\n }}\n}}\n",
            pid = p("nginx.pid"),
            err = p("nginx.err"),
            t = dir.display(),
            cert = p("server.pem"),
            key = p("server.key"),
        ),
    )
    .expect("nginx.conf");
    KillOnDrop(
        Command::new("/usr/sbin/nginx")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx"),
    )
}

fn unbound(dir: &Path, port: u16) -> KillOnDrop {
    let conf = dir.join("unbound.conf");
    std::fs::write(
        &conf,
        format!(
            "server:\n  interface: 127.0.0.1@{port}\n  port: {port}\n  do-daemonize: no\n  chroot: \"\"\n\
             username: \"\"\n  directory: \"{dir}\"\n  pidfile: \"{dir}/unbound.pid\"\n  use-syslog: no\n\
             logfile: \"\"\n  access-control: 127.0.0.0/8 allow\n  module-config: \"iterator\"\n\
             do-not-query-localhost: yes\n  local-zone: \"vigil.test.\" static\n\
             local-data: \"app.vigil.test. 60 IN A 192.0.2.55\"\n",
            dir = dir.display()
        ),
    )
    .expect("unbound.conf");
    KillOnDrop(
        Command::new("/usr/sbin/unbound")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start unbound"),
    )
}

#[test]
fn nginx_and_unbound_are_checked_and_an_expiring_certificate_alerts() {
    let test = "nginx_and_unbound_are_checked_and_an_expiring_certificate_alerts";
    if !runnable(test, missing_programs(&["nginx", "unbound", "openssl"])) {
        return;
    }
    let peers = tempfile::tempdir().expect("tempdir");
    certificates(peers.path(), 10);
    let (https, dns) = (free_tcp_port(), free_udp_port());
    let _nginx = nginx(peers.path(), https);
    let _unbound = unbound(peers.path(), dns);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with_toml(
        dir.path(),
        &format!(
            r#"
[[tenants]]
name = "acme"
# The peers listen on loopback, which checks may reach only when allowed.
check_allow_networks = ["127.0.0.0/8", "::1"]

[[assets]]
tenant = "acme"
name = "web01"
address = "127.0.0.1"

[[checks]]
tenant = "acme"
asset = "web01"
kind = "http"
target = "https://127.0.0.1:{https}/health"
ca_file = "{ca}"
expect_text = "ok"
interval = "1s"

[[checks]]
tenant = "acme"
asset = "web01"
kind = "dns"
target = "app.vigil.test"
server = "127.0.0.1:{dns}"
expect = ["192.0.2.55"]
interval = "1s"
"#,
            ca = peers.path().join("ca.pem").display()
        ),
    );
    let read = server.token("acme", "read");
    let query = |expr: &str| server.metrics(&read, expr, None);
    let days = wait_for("the certificate's days to expiry", || {
        query("vigil_tls_cert_expiry_days{asset=\"web01\"}")
    });
    let days = days["series"][0]["points"][0][1].as_f64().expect("days");
    assert!((9.0..=10.01).contains(&days), "days to expiry: {days}");
    let up = wait_for("both checks up", || {
        let r = query("vigil_check_up{asset=\"web01\"}")?;
        let all_up = r["series"].as_array()?.iter().all(|s| {
            s["points"]
                .as_array()
                .and_then(|p| p.last())
                .is_some_and(|p| p[1] == 1.0)
        });
        (all_up && r["series"].as_array()?.len() == 2).then_some(r)
    });
    assert_eq!(up["series"].as_array().map(Vec::len), Some(2), "{up}");
    let alerts = server.alerts_until(&read, &[("rule", "certificate-expiring")], |a| {
        a["total"] == 1
    });
    assert_eq!(alerts["total"], 1, "{alerts}");
    assert_eq!(alerts["alerts"][0]["entities"]["host"], "web01");

    // A tenant gives the same CA as PEM text through the API (it may name
    // no file of the server's): the check verifies nginx's chain with it.
    let admin = server.token("acme", "admin");
    let pem = std::fs::read_to_string(peers.path().join("ca.pem")).expect("ca.pem");
    let created = server
        .post("/api/v1/checks", &admin)
        .json(&serde_json::json!({"asset": "web01", "kind": "http",
            "target": format!("https://127.0.0.1:{https}/health"),
            "interval": "1s", "ca_pem": pem}))
        .send()
        .expect("create a check with ca_pem");
    assert_eq!(created.status(), 201, "{:?}", created.text());
    let id = created.json::<serde_json::Value>().expect("check json")["id"].clone();
    let status = wait_for("the ca_pem check up", || {
        let check: serde_json::Value = server
            .get(&format!("/api/v1/checks/{id}"), &read)
            .send()
            .ok()?
            .json()
            .ok()?;
        (check["status"]["state"] == "up").then_some(check)
    });
    assert_eq!(status["status"]["state"], "up", "{status}");
}
