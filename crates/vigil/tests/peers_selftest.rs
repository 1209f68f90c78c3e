//! The real-peer helpers (`common/peers.rs`) tested on their own, against
//! tiny sinks in this file: rsyslog forwarding over TCP and TLS, and sshd's
//! log lines after real ssh logins. No Vigil involved: when a syslog test
//! fails, this says whether the peer or Vigil is at fault.

mod common;

use common::peers::{
    deframe_octet_counted, free_tcp_port, port_is_bound, port_is_bound_by, rfc3164, skip_unless,
    Certs, Forward, LogSink, Peer, Rsyslog, Sshd, PEER_TIMEOUT,
};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A unique word for this test run.
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Messages a sink received.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<String>>>);

impl Received {
    fn push(&self, m: String) {
        if std::env::var_os("VIGIL_TEST_LOG").is_some() {
            eprintln!("[sink] {m:?}");
        }
        self.0.lock().expect("sink").push(m);
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().expect("sink").clone()
    }

    fn matching(&self, needle: &str) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|m| m.contains(needle))
            .collect()
    }

    /// Waits until `n` messages contain `needle`, and returns them.
    fn wait_for(&self, needle: &str, n: usize, diag: &dyn Fn() -> String) -> Vec<String> {
        let deadline = Instant::now() + PEER_TIMEOUT;
        loop {
            let found = self.matching(needle);
            if found.len() >= n {
                return found;
            }
            if Instant::now() > deadline {
                panic!(
                    "the sink got {} of {n} messages with {needle:?}; it got:\n{:#?}\n{}",
                    found.len(),
                    self.all(),
                    diag()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads an octet-counted stream and records each message.
fn read_frames(mut stream: impl Read, received: Received) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let (messages, rest) = deframe_octet_counted(&buf);
        for m in messages {
            received.push(m);
        }
        buf = rest;
    }
}

/// A plain TCP syslog receiver on 127.0.0.1 (RFC 6587 octet counting).
struct TcpSink {
    addr: SocketAddr,
    received: Received,
}

impl TcpSink {
    fn start() -> TcpSink {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind tcp sink");
        let addr = listener.local_addr().expect("addr");
        let received = Received::default();
        let r = received.clone();
        // The accept thread ends with the test process.
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let r = r.clone();
                std::thread::spawn(move || read_frames(stream, r));
            }
        });
        TcpSink { addr, received }
    }
}

/// A UDP syslog receiver on 127.0.0.1: one message per datagram.
struct UdpSink {
    addr: SocketAddr,
    received: Received,
}

impl UdpSink {
    fn start() -> UdpSink {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind udp sink");
        let addr = socket.local_addr().expect("addr");
        let received = Received::default();
        let r = received.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok((n, _)) = socket.recv_from(&mut buf) {
                r.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        });
        UdpSink { addr, received }
    }
}

/// `openssl s_server` requiring a client certificate signed by the test CA
/// (`-Verify 1`), printing what it receives (`-quiet`) to stdout. Its stdin
/// stays open: s_server closes the connection when stdin reaches EOF.
struct TlsSink {
    child: Child,
    addr: SocketAddr,
    received: Received,
    stderr: Arc<Mutex<String>>,
}

impl TlsSink {
    fn start(certs: &Certs) -> TlsSink {
        let port = free_tcp_port();
        let mut child = Command::new("openssl")
            .args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(&certs.server_cert)
            .arg("-key")
            .arg(&certs.server_key)
            .arg("-CAfile")
            .arg(&certs.ca_cert)
            .args(["-Verify", "1", "-quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openssl s_server");
        let received = Received::default();
        let r = received.clone();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || read_frames(stdout, r));
        let stderr = Arc::new(Mutex::new(String::new()));
        let e = stderr.clone();
        let mut err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = err.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                e.lock()
                    .expect("stderr")
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
        let deadline = Instant::now() + PEER_TIMEOUT;
        while !port_is_bound(port, false) {
            assert!(
                Instant::now() < deadline,
                "s_server did not listen: {}",
                stderr.lock().expect("stderr")
            );
            assert!(
                child.try_wait().expect("try_wait").is_none(),
                "s_server exited: {}",
                stderr.lock().expect("stderr")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        TlsSink {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            received,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr").clone()
    }
}

impl Drop for TlsSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// No peers needed

#[test]
fn rfc3164_timestamps_and_octet_counting() {
    assert_eq!(rfc3164(0), "Jan  1 00:00:00");
    // 2024-02-29 13:05:09 UTC (a leap day).
    assert_eq!(rfc3164(1_709_211_909), "Feb 29 13:05:09");
    // 2026-11-21 07:45:11 UTC.
    assert_eq!(rfc3164(1_795_247_111), "Nov 21 07:45:11");

    let (msgs, rest) = deframe_octet_counted(b"5 hello10 <13>1 x y\n3 ab");
    assert_eq!(msgs, vec!["hello".to_string(), "<13>1 x y\n".to_string()]);
    assert_eq!(rest, b"3 ab");
}

#[test]
fn port_ownership_is_read_from_proc() {
    let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("udp");
    let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("tcp");
    let (u, t) = (
        udp.local_addr().expect("addr").port(),
        tcp.local_addr().expect("addr").port(),
    );
    let me = std::process::id();
    assert!(port_is_bound(u, true) && port_is_bound(t, false));
    assert!(port_is_bound_by(me, u, true) && port_is_bound_by(me, t, false));
    let child = Command::new("sleep").arg("5").spawn();
    if let Ok(mut child) = child {
        assert!(!port_is_bound_by(child.id(), u, true));
        let _ = child.kill();
        let _ = child.wait();
    }
    drop((udp, tcp));
    assert!(!port_is_bound_by(me, u, true) && !port_is_bound_by(me, t, false));
}

// ---------------------------------------------------------------------------
// rsyslog

#[test]
fn rsyslog_forwards_over_tcp_with_octet_counting() {
    if !skip_unless(
        "rsyslog_forwards_over_tcp_with_octet_counting",
        &[Peer::Rsyslog],
    ) {
        return;
    }
    let sink = TcpSink::start();
    let rsyslog = Rsyslog::start(Forward::Tcp { to: sink.addr });
    let word = unique("tcp-hello");
    rsyslog.send("vigiltest", &format!("first message {word}"));
    rsyslog.send_with("auth.warning", "sshd[4242]", &format!("second {word}"));

    let got = sink.received.wait_for(&word, 2, &|| rsyslog.diagnostics());
    let first = got.iter().find(|m| m.contains("first")).expect("first");
    // RFC 5424 (RSYSLOG_SyslogProtocol23Format), user.notice = <13>.
    assert!(first.starts_with("<13>1 "), "{first:?}");
    assert!(first.contains(" vigiltest - - "), "{first:?}");
    assert!(
        first.ends_with('\n'),
        "the template ends with a LF: {first:?}"
    );
    // auth.warning = 4 * 8 + 4; the pid in the tag becomes PROCID.
    let second = got.iter().find(|m| m.contains("second")).expect("second");
    assert!(second.starts_with("<36>1 "), "{second:?}");
    assert!(second.contains(" sshd 4242 - - "), "{second:?}");
}

#[test]
fn rsyslog_forwards_over_tls_with_the_client_certificate() {
    if !skip_unless(
        "rsyslog_forwards_over_tls_with_the_client_certificate",
        &[Peer::Rsyslog, Peer::RsyslogTls, Peer::Openssl],
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = Certs::make(&dir.path().join("certs"));
    assert!(std::fs::read_to_string(&certs.client_key)
        .expect("client key")
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    let sink = TlsSink::start(&certs);
    let rsyslog = Rsyslog::start(Forward::Tls {
        to: sink.addr,
        certs: &certs,
    });
    let word = unique("tls-hello");
    rsyslog.send("vigiltls", &format!("over tls {word}"));
    let got = sink.received.wait_for(&word, 1, &|| {
        format!(
            "{}\ns_server stderr:\n{}",
            rsyslog.diagnostics(),
            sink.stderr()
        )
    });
    assert!(got[0].starts_with("<13>1 "), "{:?}", got[0]);
    assert!(got[0].contains(" vigiltls - - "), "{:?}", got[0]);
    // s_server verified the client certificate rsyslog presented.
    assert!(
        sink.stderr().contains("CN = acme-fw"),
        "s_server stderr: {}",
        sink.stderr()
    );
    drop(rsyslog);
    drop(sink);
    let path = certs.dir.clone();
    drop(certs);
    assert!(!path.exists(), "Certs removes the directory it made");
}

// ---------------------------------------------------------------------------
// sshd

#[test]
fn sshd_failed_logins_reach_a_udp_sink() {
    if !skip_unless("sshd_failed_logins_reach_a_udp_sink", &[Peer::Sshd]) {
        return;
    }
    let sink = UdpSink::start();
    let sshd = Sshd::start(LogSink::Udp(sink.addr));
    let user = unique("nosuch").replace('-', "");
    sshd.failed_logins(&user, 3);

    let diag = || format!("sshd log:\n{}", sshd.log().text());
    let failed = sink.received.wait_for(
        &format!("Failed password for invalid user {user} from 127.0.0.1 port "),
        3,
        &diag,
    );
    let tag = format!(" {} sshd[{}]: ", Sshd::DEFAULT_HOST, sshd.pid());
    for m in &failed {
        assert!(m.starts_with("<38>") && m.contains(&tag), "{m:?}");
        assert!(m.ends_with(" ssh2"), "{m:?}");
    }
    sink.received.wait_for(
        &format!("Invalid user {user} from 127.0.0.1 port "),
        3,
        &diag,
    );
}

#[test]
fn sshd_brute_force_then_success_through_rsyslog_over_tcp() {
    if !skip_unless(
        "sshd_brute_force_then_success_through_rsyslog_over_tcp",
        &[Peer::Sshd, Peer::Rsyslog, Peer::Users],
    ) {
        return;
    }
    let sink = TcpSink::start();
    let rsyslog = Rsyslog::start(Forward::Tcp { to: sink.addr });
    let sshd = Sshd::start_as(LogSink::Udp(rsyslog.input_addr()), "web-01");
    let user = format!("vgt{}", std::process::id());
    sshd.create_user(&user, "Corr3ct-Horse");
    sshd.failed_logins(&user, 4);
    sshd.successful_login(&user, "Corr3ct-Horse");

    let diag = || {
        format!(
            "{}\nsshd log:\n{}",
            rsyslog.diagnostics(),
            sshd.log().text()
        )
    };
    let failed = sink.received.wait_for(
        &format!("Failed password for {user} from 127.0.0.1"),
        4,
        &diag,
    );
    let accepted = sink.received.wait_for(
        &format!("Accepted password for {user} from 127.0.0.1"),
        1,
        &diag,
    );
    // rsyslog parsed the RFC 3164 line and forwarded it as RFC 5424 with
    // the host, app-name and procid it found: auth.info = <38>.
    let head = format!(" web-01 sshd {} - - ", sshd.pid());
    for m in failed.iter().chain(&accepted) {
        assert!(m.starts_with("<38>1 ") && m.contains(&head), "{m:?}");
    }
    drop(sshd);
    // The throwaway user is gone.
    let passwd = std::fs::read_to_string("/etc/passwd").expect("passwd");
    assert!(
        !passwd.lines().any(|l| l.starts_with(&format!("{user}:"))),
        "user {user} was not removed"
    );
}

#[test]
fn sshd_logs_over_tcp_with_octet_counting() {
    if !skip_unless("sshd_logs_over_tcp_with_octet_counting", &[Peer::Sshd]) {
        return;
    }
    let sink = TcpSink::start();
    let sshd = Sshd::start(LogSink::Tcp(sink.addr));
    let user = unique("ghost").replace('-', "");
    sshd.failed_logins(&user, 2);
    let got = sink.received.wait_for(
        &format!("Failed password for invalid user {user}"),
        2,
        &|| sshd.log().text(),
    );
    assert!(got[0].starts_with("<38>"), "{:?}", got[0]);
    // sshd's start line went over the same connection first.
    assert!(
        !sink
            .received
            .matching("Server listening on 127.0.0.1")
            .is_empty(),
        "{:#?}",
        sink.received.all()
    );
}
