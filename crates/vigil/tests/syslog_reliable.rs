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

/// The tenant's events and the count of its most frequent message: with
/// every message distinct, a top count of 1 means no event was stored
/// twice.
fn stored(server: &Server, token: &str) -> (u64, u64) {
    let stats: Value = server
        .get("/api/v1/events/stats", token)
        .query(&[("field", "message"), ("limit", "1")])
        .send()
        .and_then(|r| r.json())
        .unwrap_or_default();
    let total = stats["total"].as_u64().unwrap_or(0);
    let top = stats["values"][0]["count"].as_u64().unwrap_or(0);
    (total, top)
}

/// Waits (two minutes at most) until `want` events are stored, or until
/// the count stops moving for 10 s; returns the last `(total, top)`.
fn settle(server: &Server, token: &str, want: u64) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = (0, 0);
    let mut moved = Instant::now();
    loop {
        let now = stored(server, token);
        if now.0 != last.0 {
            moved = Instant::now();
        }
        last = now;
        if last.0 >= want || Instant::now() > deadline || moved.elapsed() > Duration::from_secs(10)
        {
            return last;
        }
        std::thread::sleep(Duration::from_millis(250));
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
        while stored(&server, &token).0 < mark && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        server.kill();
        kills += 1;
        server = start(dir.path(), &config);
    }
    let (total, top) = settle(&server, &token, RELP_MESSAGES);
    // Some more time: a duplicate would come after the last message.
    std::thread::sleep(Duration::from_millis(1500));
    let (total_after, top_after) = stored(&server, &token);
    println!(
        "relp: sent {RELP_MESSAGES}, stored {total_after}, duplicates {}, kills {kills}",
        total_after.saturating_sub(RELP_MESSAGES)
    );
    assert_eq!(
        total, RELP_MESSAGES,
        "every message is stored\n{}\n{}",
        sender.diagnostics(),
        server.log()
    );
    assert_eq!((total_after, top_after), (RELP_MESSAGES, 1), "once: {top}");
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
        // Until the server is gone (the write fails).
        while sent < 2_000_000 {
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
    while stored(&server, &token).0 < 5_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let sample = "vigil_syslog_journalled_total{protocol=\"tcp\"}";
    let journalled = metric(&server, sample) as u64;
    server.kill();
    let written = writer.join().expect("writer");
    assert!(journalled > 0, "frames were journalled before the kill");

    let server = start(dir.path(), &config);
    settle(&server, &token, journalled);
    // Some more time: a duplicate would come after the last message.
    std::thread::sleep(Duration::from_millis(1000));
    let (total, top) = stored(&server, &token);
    println!(
        "tcp: written {written}, journalled before the kill {journalled}, stored {total}, \
         most copies of one message {top}"
    );
    assert!(
        total >= journalled,
        "{total} stored of {journalled} journalled before the kill\n{}",
        server.log()
    );
    assert!(total <= written, "{total} stored of {written} written");
    assert_eq!(top, 1, "no message stored twice");
}
