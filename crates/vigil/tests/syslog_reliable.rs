//! No acknowledged syslog message lost: SIGKILL the server, several times,
//! under a real rsyslog sending over RELP (`omrelp`, disk-assisted queue,
//! retrying forever), restart it on the same data and port, and find every
//! message stored exactly once. And on plain TCP, which has no
//! acknowledgement: what the input journal held when the server was
//! killed is stored after the restart, once.

mod common;

use common::peers::{self, Peer};
use common::Server;
use serde_json::Value;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Messages rsyslog sends over RELP.
const RELP_MESSAGES: u64 = 20_000;
/// Messages a client writes over plain TCP, at most.
const TCP_MESSAGES: u64 = 60_000;
/// SIGKILLs of the server while they flow.
const KILLS: u64 = 4;

/// A loopback port free now, so that the server keeps it across restarts.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn config(dir: &Path, protocol: &str, port: u16) -> String {
    let toml = format!(
        "[[tenants]]\nname = \"acme\"\n\n[[inputs.syslog]]\nprotocol = \"{protocol}\"\n\
         listen = \"127.0.0.1:{port}\"\ntenant = \"acme\"\n"
    );
    let file = dir.join("vigil.toml");
    std::fs::write(&file, toml).expect("write the config");
    file.to_str().expect("utf-8").to_string()
}

fn start(dir: &Path, config: &str) -> Server {
    let server = Server::start_with_config(&dir.join("data"), config);
    assert_eq!(server.syslog.len(), 1, "{}", server.log());
    server
}

/// How many of the tenant's events have `word` (a search's total).
fn count(server: &Server, token: &str, word: &str) -> u64 {
    server
        .get("/api/v1/events", token)
        .query(&[("q", word), ("limit", "1")])
        .send()
        .and_then(|r| r.json::<Value>())
        .ok()
        .and_then(|v| v["total"].as_u64())
        .unwrap_or(0)
}

/// The count of the tenant's most frequent message: with every message
/// sent distinct, 1 means no message was stored twice.
fn most_copies(server: &Server, token: &str) -> u64 {
    let stats: Value = server
        .get("/api/v1/events/stats", token)
        .query(&[("field", "message"), ("limit", "1")])
        .send()
        .and_then(|r| r.json())
        .unwrap_or_default();
    stats["values"][0]["count"].as_u64().unwrap_or(0)
}

/// Waits until `want` events have `word`, five minutes at most (a debug
/// build on a busy machine takes a while over a replay); returns the
/// last count.
fn wait_count(server: &Server, token: &str, word: &str, want: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let now = count(server, token, word);
        if now >= want || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A real rsyslogd reading `input` with imfile and sending each line over
/// RELP to `to`: an action queue in memory backed by disk, retried forever
/// every second, so that messages wait for the server through its kills.
struct RelpSender {
    child: Child,
    dir: tempfile::TempDir,
}

impl RelpSender {
    fn start(input: &Path, to: SocketAddr) -> RelpSender {
        let dir = tempfile::Builder::new()
            .prefix("vigil-relp.")
            .tempdir()
            .expect("tempdir");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).expect("work dir");
        let conf = format!(
            r#"global(workDirectory="{work}" processInternalMessages="on" net.enableDNS="off")
module(load="imfile")
module(load="omrelp")
input(type="imfile" file="{input}" tag="relptest:" ruleset="forward" freshStartTail="off")
ruleset(name="forward") {{
  action(type="omrelp" target="{ip}" port="{port}" template="RSYSLOG_SyslogProtocol23Format"
    queue.type="LinkedList" queue.filename="relpq" queue.size="50000"
    queue.saveOnShutdown="on" action.resumeRetryCount="-1" action.resumeInterval="1")
}}
*.* action(type="omfile" file="{diag}")
"#,
            work = work.display(),
            input = input.display(),
            ip = to.ip(),
            port = to.port(),
            diag = dir.path().join("diag.log").display(),
        );
        let file = dir.path().join("rsyslog.conf");
        std::fs::write(&file, conf).expect("write rsyslog.conf");
        let child = Command::new("rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&file)
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd");
        RelpSender { child, dir }
    }

    fn diagnostics(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("diag.log")).unwrap_or_default()
    }
}

impl Drop for RelpSender {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn relp_loses_nothing_across_sigkills() {
    if !peers::skip_unless("relp_loses_nothing_across_sigkills", &[Peer::Rsyslog]) {
        return;
    }
    if !omrelp_installed() {
        if std::env::var_os("VIGIL_REQUIRE_PEERS").is_some() {
            panic!("rsyslog's omrelp is missing (package rsyslog-relp)");
        }
        eprintln!("skipped: rsyslog's omrelp is missing (package rsyslog-relp)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = config(dir.path(), "relp", port);
    let mut server = start(dir.path(), &config);
    let token = server.token("acme", "read");
    let input = dir.path().join("numbered.log");
    let lines: String = (0..RELP_MESSAGES)
        .map(|n| format!("relp-seq {n:06} of a reliable stream\n"))
        .collect();
    std::fs::write(&input, lines).expect("write the input");
    let sender = RelpSender::start(&input, server.syslog[0]);

    // Kill when a share of the stream is stored, so that every kill lands
    // mid-stream, with transactions in flight.
    let mut kills = 0;
    for k in 1..=KILLS {
        let mark = RELP_MESSAGES * k / (KILLS + 2);
        let deadline = Instant::now() + Duration::from_secs(120);
        while count(&server, &token, "reliable") < mark && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        server.kill();
        kills += 1;
        server = start(dir.path(), &config);
    }
    let total = wait_count(&server, &token, "reliable", RELP_MESSAGES);
    // Some more time: a duplicate would come after the last message.
    std::thread::sleep(Duration::from_millis(1500));
    let total = total.max(count(&server, &token, "reliable"));
    let top = most_copies(&server, &token);
    println!(
        "relp: sent {RELP_MESSAGES}, stored {total}, duplicates {}, kills {kills}",
        total.saturating_sub(RELP_MESSAGES)
    );
    assert_eq!(
        total,
        RELP_MESSAGES,
        "every message is stored, once\n{}\n{}",
        sender.diagnostics(),
        server.log()
    );
    assert_eq!(top, 1, "no message is stored twice");
    assert_eq!(kills, KILLS);
}

fn omrelp_installed() -> bool {
    let mut dirs = vec![PathBuf::from("/usr/lib/rsyslog")];
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        dirs.extend(entries.flatten().map(|e| e.path().join("rsyslog")));
    }
    dirs.iter().any(|d| d.join("omrelp.so").exists())
}

/// The value of a sample in the server's `/metrics`, 0 when absent.
fn metric(server: &Server, sample: &str) -> f64 {
    let text = server
        .request("GET", "/metrics")
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn tcp_frames_journalled_before_a_sigkill_are_stored_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = config(dir.path(), "tcp", port);
    let mut server = start(dir.path(), &config);
    let token = server.token("acme", "read");
    let to = server.syslog[0];
    let writer = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(to).expect("connect");
        let mut sent = 0u64;
        // Until the server is gone (the write fails), or enough: the
        // pipeline's queue and the journal hold a bounded backlog anyway.
        while sent < TCP_MESSAGES {
            let chunk: String = (sent..sent + 100)
                .map(|n| format!("<13>tcp-seq {n:08} written before a crash\n"))
                .collect();
            if stream.write_all(chunk.as_bytes()).is_err() {
                break;
            }
            sent += 100;
        }
        sent
    });
    // Mid-stream: some stored, more journalled, more on their way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&server, &token, "crash") < 5_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let sample = "vigil_syslog_journalled_total{protocol=\"tcp\"}";
    let journalled = metric(&server, sample) as u64;
    let searchable_at_kill = count(&server, &token, "crash");
    server.kill();
    let written = writer.join().expect("writer");
    assert!(journalled > 0, "frames were journalled before the kill");

    let server = start(dir.path(), &config);
    wait_count(&server, &token, "crash", journalled);
    // Some more time: a duplicate would come after the last message.
    std::thread::sleep(Duration::from_millis(1000));
    let total = count(&server, &token, "crash");
    let top = most_copies(&server, &token);
    println!(
        "tcp: written {written}, journalled before the kill {journalled} \
         (searchable then {searchable_at_kill}), stored {total}, most copies of one message {top}"
    );
    assert!(
        total >= journalled,
        "{total} stored of {journalled} journalled before the kill\n{}",
        server.log()
    );
    assert!(total <= written, "{total} stored of {written} written");
    assert_eq!(top, 1, "no message stored twice");
}
