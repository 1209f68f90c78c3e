//! Vigil against real syslog senders: rsyslog forwarding over TCP with
//! octet counting and over TLS with its GnuTLS driver and a client
//! certificate, util-linux `logger` over UDP, and OpenSSH's sshd taking
//! failed logins from a real ssh client until the brute-force alert fires.

mod common;

use common::peers::{self, Certs, Forward, LogSink, Peer, Rsyslog, Sshd};
use common::Server;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// acme is named by its TLS client certificate (CN `acme-fw`); beta owns
/// the plain TCP and UDP listeners.
fn config(certs: &Certs) -> String {
    format!(
        r#"
[[tenants]]
name = "acme"
client_certs = ["{cn}"]

[[tenants]]
name = "beta"

[[inputs.syslog]]
protocol = "tcp"
listen = "127.0.0.1:0"
tenant = "beta"

[[inputs.syslog]]
protocol = "tls"
listen = "127.0.0.1:0"
tls_cert = "{cert}"
tls_key = "{key}"
tls_client_ca = "{ca}"
tls_client_required = true

[[inputs.syslog]]
protocol = "udp"
listen = "127.0.0.1:0"
tenant = "beta"
"#,
        cn = certs.client_cn,
        cert = certs.server_cert.display(),
        key = certs.server_key.display(),
        ca = certs.ca_cert.display(),
    )
}

fn start(dir: &Path, certs: &Certs) -> Server {
    let file = dir.join("vigil.toml");
    std::fs::write(&file, config(certs)).expect("write config");
    let server = Server::start_with_config(&dir.join("data"), file.to_str().expect("utf-8"));
    assert_eq!(server.syslog.len(), 3, "{}", server.log());
    server
}

fn first_event(answer: &Value) -> &Value {
    &answer["events"][0]["event"]
}

#[test]
fn rsyslog_forwards_over_tcp_and_tls_and_logger_over_udp() {
    if !peers::skip_unless(
        "rsyslog_forwards_over_tcp_and_tls_and_logger_over_udp",
        &[Peer::Rsyslog, Peer::RsyslogTls, Peer::Openssl],
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = Certs::make(&dir.path().join("certs"));
    let server = start(dir.path(), &certs);
    let beta = server.token("beta", "read");
    let acme = server.token("acme", "read");

    // rsyslog → Vigil over TCP, RFC 6587 octet counting.
    let tcp = Rsyslog::start(Forward::Tcp {
        to: server.syslog[0],
    });
    tcp.send_with(
        "auth.info",
        "sshd[321]",
        "Failed password for invalid user oracle from 192.0.2.77 port 50000 ssh2",
    );
    let found = server.search_until(&beta, "user.name:oracle", 1);
    assert_eq!(found["total"], 1, "{found}\n{}", tcp.diagnostics());
    let event = first_event(&found);
    assert_eq!(event["source.ip"], "192.0.2.77", "{event}");
    assert_eq!(event["event.outcome"], "failure", "{event}");
    assert_eq!(event["process.name"], "sshd", "{event}");

    // rsyslog → Vigil over TLS with the acme-fw client certificate: acme's.
    let tls = Rsyslog::start(Forward::Tls {
        to: server.syslog[1],
        certs: &certs,
    });
    tls.send("firewall", "over-tls-marker from the acme firewall");
    let found = server.search_until(&acme, "over-tls-marker", 1);
    assert_eq!(found["total"], 1, "{found}\n{}", tls.diagnostics());
    assert_eq!(
        server.search(&beta, "over-tls-marker")["total"],
        0,
        "the certificate decides the tenant"
    );

    // logger → Vigil over UDP, RFC 3164.
    let status = Command::new("logger")
        .args(["-n", "127.0.0.1", "-P"])
        .arg(server.syslog[2].port().to_string())
        .args(["-d", "--rfc3164", "-t", "sudo", "--"])
        .arg("alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id udp-marker")
        .status()
        .expect("run logger");
    assert!(status.success());
    let found = server.search_until(&beta, "udp-marker", 1);
    assert_eq!(found["total"], 1, "{found}");
    let event = first_event(&found);
    assert_eq!(event["user.name"], "alice", "{event}");
}

#[test]
fn real_ssh_failures_raise_the_brute_force_alert() {
    if !peers::skip_unless(
        "real_ssh_failures_raise_the_brute_force_alert",
        &[Peer::Sshd, Peer::Users, Peer::Openssl],
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = Certs::make(&dir.path().join("certs"));
    let server = start(dir.path(), &certs);
    let beta = server.token("beta", "read");
    let sshd = Sshd::start(LogSink::Tcp(server.syslog[0]));
    sshd.failed_logins("vigil-nobody", 6);
    let answer = server.alerts_until(&beta, &[("rule", "SSH brute force from one source")], |a| {
        a["total"].as_u64() == Some(1)
    });
    assert_eq!(answer["total"], 1, "{answer}\n{}", sshd.log().text());
    let alert = &answer["alerts"][0];
    assert_eq!(alert["entities"]["source_ip"], "127.0.0.1", "{alert}");
    assert_eq!(alert["severity"], "high");
    assert!(alert["tags"]
        .as_array()
        .is_some_and(|t| t.iter().any(|x| x == "attack.t1110.001")));

    // Then the right password from the same source: likely compromised.
    sshd.successful_login("vigilbrute", "a-test-password-7Q");
    let answer = server.alerts_until(
        &beta,
        &[("rule", "SSH brute force followed by a successful login")],
        |a| a["total"].as_u64() == Some(1),
    );
    assert_eq!(answer["total"], 1, "{answer}\n{}", sshd.log().text());
    assert_eq!(answer["alerts"][0]["severity"], "critical");
}
