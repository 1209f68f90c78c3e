//! Real peers for integration tests: rsyslog forwarding over TCP (RFC 6587
//! octet counting) or TLS (RFC 5425, GnuTLS driver), OpenSSH's `sshd` with a
//! real `ssh` client, and certificates made with the `openssl` CLI.
//!
//! Every helper owns a temporary directory and its processes, and cleans
//! both up on `Drop`. They need root (sshd's privilege separation, throwaway
//! users) and the Debian packages `scripts/test` installs; a test first calls
//! [`skip_unless`] so that it says why it did not run instead of passing
//! silently. With `VIGIL_REQUIRE_PEERS=1` a missing peer fails the test.
//!
//! Traffic only ever goes to 127.0.0.1.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a helper waits for a peer to come up or for a log line.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Preconditions

/// The peers each test can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// `rsyslogd` and `logger`.
    Rsyslog,
    /// rsyslog's GnuTLS network stream driver (package rsyslog-gnutls).
    RsyslogTls,
    /// `openssl` CLI.
    Openssl,
    /// `/usr/sbin/sshd`, `ssh`, `ssh-keygen`, `sshpass`.
    Sshd,
    /// `useradd`, `chpasswd`, `userdel` (throwaway local users).
    Users,
}

/// Why the peers cannot run here (not root, a binary missing), or `None`.
pub fn missing(peers: &[Peer]) -> Option<String> {
    if !is_root() {
        return Some("needs root (sshd privilege separation, rsyslogd, throwaway users)".into());
    }
    let mut missing = Vec::new();
    for peer in peers {
        let bins: &[&str] = match peer {
            Peer::Rsyslog => &["rsyslogd", "logger"],
            Peer::RsyslogTls => &["rsyslogd"],
            Peer::Openssl => &["openssl"],
            Peer::Sshd => &["sshd", "ssh", "ssh-keygen", "sshpass"],
            Peer::Users => &["useradd", "chpasswd", "userdel"],
        };
        for bin in bins {
            if which(bin).is_none() {
                missing.push((*bin).to_string());
            }
        }
        if *peer == Peer::RsyslogTls && rsyslog_module("lmnsd_gtls.so").is_none() {
            missing.push("rsyslog gtls driver (package rsyslog-gnutls)".into());
        }
    }
    if missing.is_empty() {
        None
    } else {
        Some(format!(
            "missing {} (scripts/test installs them)",
            missing.join(", ")
        ))
    }
}

/// `true` when the test can go on; otherwise prints why it is skipped and
/// returns `false` (or panics when `VIGIL_REQUIRE_PEERS` is set, as on CI).
pub fn skip_unless(test: &str, peers: &[Peer]) -> bool {
    runnable(test, missing(peers))
}

/// `true` when nothing is `missing`; otherwise prints why `test` is
/// skipped and returns `false` (or panics when `VIGIL_REQUIRE_PEERS` is
/// set, as on CI).
pub fn runnable(test: &str, missing: Option<String>) -> bool {
    match missing {
        None => true,
        Some(why) => {
            if std::env::var_os("VIGIL_REQUIRE_PEERS").is_some() {
                panic!("{test}: {why}, and VIGIL_REQUIRE_PEERS is set");
            }
            eprintln!("SKIPPED {test}: {why}");
            false
        }
    }
}

/// Why a network-namespace lab cannot run here (not root, `ip` or one of
/// `bins` missing), or `None`.
pub fn missing_for_netns(bins: &[&str]) -> Option<String> {
    if !is_root() {
        return Some("needs root for network namespaces".into());
    }
    let all: Vec<&str> = ["ip"].iter().chain(bins).copied().collect();
    missing_programs(&all)
}

/// The programs of `bins` that are not installed, said as a reason, or
/// `None` when all are.
pub fn missing_programs(bins: &[&str]) -> Option<String> {
    let missing: Vec<&str> = bins
        .iter()
        .copied()
        .filter(|b| which(b).is_none())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "missing {} (scripts/test installs them)",
            missing.join(", ")
        )
    })
}

fn is_root() -> bool {
    // The effective uid, from /proc, without a libc dependency.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Finds a program on `PATH` or in the sbin directories (not always on a
/// test's `PATH`).
pub fn which(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(bin))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

fn rsyslog_module(name: &str) -> Option<PathBuf> {
    let mut dirs = vec![PathBuf::from("/usr/lib/rsyslog")];
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        dirs.extend(entries.flatten().map(|e| e.path().join("rsyslog")));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

// ---------------------------------------------------------------------------
// Ports

/// A free TCP port on 127.0.0.1 (bound to port 0, read, closed). Another
/// process could take it before it is used; good enough on a test machine.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0/tcp")
        .port()
}

/// A free UDP port on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|s| s.local_addr())
        .expect("bind 127.0.0.1:0/udp")
        .port()
}

/// Whether some socket of this network namespace listens on TCP `port`
/// (or, with `udp`, is bound to UDP `port`), read from /proc/net.
pub fn port_is_bound(port: u16, udp: bool) -> bool {
    !bound_inodes(port, udp).is_empty()
}

/// Whether process `pid` itself holds the socket bound to `port`: another
/// process may have taken a port between [`free_tcp_port`] and the peer's
/// bind.
pub fn port_is_bound_by(pid: u32, port: u16, udp: bool) -> bool {
    let inodes = bound_inodes(port, udp);
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .ok()
            .and_then(|l| {
                let l = l.to_string_lossy().into_owned();
                l.strip_prefix("socket:[")
                    .and_then(|r| r.strip_suffix(']'))
                    .and_then(|n| n.parse::<u64>().ok())
            })
            .is_some_and(|inode| inodes.contains(&inode))
    })
}

/// Inodes of the sockets listening on TCP `port` / bound to UDP `port`.
fn bound_inodes(port: u16, udp: bool) -> Vec<u64> {
    let (files, state) = if udp {
        (["/proc/net/udp", "/proc/net/udp6"], "07")
    } else {
        (["/proc/net/tcp", "/proc/net/tcp6"], "0A")
    };
    let want = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 9 && cols[1].ends_with(&want) && cols[3] == state {
                if let Ok(inode) = cols[9].parse() {
                    inodes.push(inode);
                }
            }
        }
    }
    inodes
}

/// How many times a peer is started on a new port when it could not bind.
const START_ATTEMPTS: usize = 3;

/// Waits until `child` itself has bound `port`. On failure (it exited, or
/// did not bind within `timeout`) kills it and says why.
fn wait_bound(
    child: &mut Child,
    port: u16,
    udp: bool,
    what: &str,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if port_is_bound_by(child.id(), port, udp) {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            // Let the output threads catch up before the caller reports.
            std::thread::sleep(Duration::from_millis(100));
            return Err(format!(
                "{what} exited ({status}) before binding port {port}"
            ));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{what} did not bind port {port} within {timeout:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Collects a child's output stream, line by line, on a thread.
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn collect<R: Read + Send + 'static>(
        &self,
        stream: R,
        label: &'static str,
        mut each: impl FnMut(&str) + Send + 'static,
    ) {
        let lines = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if std::env::var_os("VIGIL_TEST_LOG").is_some() {
                    eprintln!("[{label}] {line}");
                }
                each(&line);
                if let Ok(mut all) = lines.0.lock() {
                    all.push(line);
                }
            }
        });
    }

    pub fn all(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn text(&self) -> String {
        self.all().join("\n")
    }

    pub fn count(&self, needle: &str) -> usize {
        self.0
            .lock()
            .map(|l| l.iter().filter(|l| l.contains(needle)).count())
            .unwrap_or(0)
    }

    /// Waits until at least `n` lines contain `needle`; returns whether they did.
    pub fn wait_for(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.count(needle) >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.count(needle) >= n
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    out
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn kill_and_wait(child: &mut Child) {
    // SIGTERM first so that the peer can close its connections cleanly.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir")
}

// ---------------------------------------------------------------------------
// Certificates

/// A test PKI made with the openssl CLI: a CA, a server certificate for
/// `127.0.0.1` and `localhost` (subject CN `localhost`), and a client
/// certificate with CN `acme-fw` (SAN dNSName `acme-fw`, extended key usage
/// clientAuth). RSA 2048, valid 2 days, all PEM. Private keys are unencrypted
/// PKCS#8 (`BEGIN PRIVATE KEY`): rsyslog's GnuTLS driver (8.2302, GnuTLS 3.7)
/// loads them as well as PKCS#1, and rustls reads both.
///
/// The files are written into the directory given to [`Certs::make`] and
/// removed on drop (with the directory if `make` created it).
pub struct Certs {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// The client certificate's subject CN.
    pub client_cn: String,
    created_dir: bool,
    files: Vec<PathBuf>,
}

impl Certs {
    pub fn make(dir: &Path) -> Certs {
        let created_dir = !dir.exists();
        std::fs::create_dir_all(dir).expect("certs dir");
        let p = |name: &str| dir.join(name);
        let openssl = which("openssl").expect("openssl");
        let mut files = Vec::new();

        // The CA: self-signed, basicConstraints CA:TRUE.
        run_ok(
            Command::new(&openssl)
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .args(["-subj", "/CN=vigil-test-ca"])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
                .arg("-keyout")
                .arg(p("ca.key"))
                .arg("-out")
                .arg(p("ca.pem")),
        );
        files.extend([p("ca.key"), p("ca.pem"), p("ca.srl")]);

        let leaf = |name: &str, cn: &str, eku: &str, san: &str, files: &mut Vec<PathBuf>| {
            let (key, csr, ext, pem) = (
                p(&format!("{name}.key")),
                p(&format!("{name}.csr")),
                p(&format!("{name}.ext")),
                p(&format!("{name}.pem")),
            );
            std::fs::write(
                &ext,
                format!(
                    "basicConstraints=CA:FALSE\n\
                     keyUsage=critical,digitalSignature,keyEncipherment\n\
                     extendedKeyUsage={eku}\n\
                     subjectAltName={san}\n"
                ),
            )
            .expect("write ext");
            run_ok(
                Command::new(&openssl)
                    .args(["req", "-new", "-newkey", "rsa:2048", "-nodes"])
                    .args(["-subj", &format!("/CN={cn}")])
                    .arg("-keyout")
                    .arg(&key)
                    .arg("-out")
                    .arg(&csr),
            );
            run_ok(
                Command::new(&openssl)
                    .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
                    .arg("-in")
                    .arg(&csr)
                    .arg("-CA")
                    .arg(p("ca.pem"))
                    .arg("-CAkey")
                    .arg(p("ca.key"))
                    .arg("-extfile")
                    .arg(&ext)
                    .arg("-out")
                    .arg(&pem),
            );
            files.extend([key, csr, ext, pem]);
        };
        leaf(
            "server",
            "localhost",
            "serverAuth",
            "IP:127.0.0.1,DNS:localhost",
            &mut files,
        );
        leaf("client", "acme-fw", "clientAuth", "DNS:acme-fw", &mut files);

        Certs {
            dir: dir.to_path_buf(),
            ca_cert: p("ca.pem"),
            ca_key: p("ca.key"),
            server_cert: p("server.pem"),
            server_key: p("server.key"),
            client_cert: p("client.pem"),
            client_key: p("client.key"),
            client_cn: "acme-fw".into(),
            created_dir,
            files,
        }
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        if self.created_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            for f in &self.files {
                let _ = std::fs::remove_file(f);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// rsyslog

/// Where [`Rsyslog`] forwards what it receives.
pub enum Forward<'a> {
    /// omfwd over plain TCP, RFC 6587 octet counting.
    Tcp { to: SocketAddr },
    /// omfwd over TLS (RFC 5425: octet counting inside TLS) with the gtls
    /// driver: `StreamDriverMode=1`, `StreamDriverAuthMode=x509/name` with
    /// permitted peer `localhost` (the server must present `certs`'
    /// server certificate or another one for `localhost` signed by the CA),
    /// and `certs`' `acme-fw` client certificate.
    Tls { to: SocketAddr, certs: &'a Certs },
}

/// A real `rsyslogd` (run in the foreground with `-n`, its own config file,
/// `-i` pid file and work directory; no imklog, no imuxsock), receiving
/// syslog on UDP `127.0.0.1:input_port` (imudp) and forwarding every message
/// it receives there with omfwd, in **RFC 5424** (rsyslog's built-in
/// `RSYSLOG_SyslogProtocol23Format`, as `rsyslog.conf` examples for
/// RFC 5425 use). Note that this template ends the message with a LF, which
/// rsyslog puts inside the octet-counted frame: `LEN <PRI>1 TIME HOST APP
/// PROCID MSGID SD MSG\n`. rsyslog's own messages (errors, start/stop) go
/// to `diag.log`, never to the forward target. For an RFC 3164 input (as
/// [`Rsyslog::send`] sends) rsyslog keeps the space after the tag's colon
/// in MSG, so the forwarded message reads `... sshd 4242 - -  Failed ...`
/// with two spaces: real rsyslog output, which a receiver has to trim.
///
/// The imudp port is picked by binding 127.0.0.1:0 and closing; `start`
/// checks that rsyslogd itself holds it (via /proc) and tries again on a
/// new port, up to 3 times, if another process took it first.
///
/// The action retries forever, every second (`action.resumeRetryCount=-1`),
/// so the receiver may start after rsyslog.
pub struct Rsyslog {
    child: Child,
    dir: tempfile::TempDir,
    /// UDP port of the imudp input on 127.0.0.1.
    pub input_port: u16,
    stderr: Lines,
}

impl Rsyslog {
    pub fn start(forward: Forward<'_>) -> Rsyslog {
        let dir = tempdir("vigil-rsyslog.");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).expect("rsyslog work dir");
        let q = |p: &Path| p.display().to_string().replace('"', "\\\"");

        let (globals, target, driver) = match &forward {
            Forward::Tcp { to } => (String::new(), *to, String::new()),
            Forward::Tls { to, certs } => (
                format!(
                    "  defaultNetstreamDriverCAFile=\"{}\"\n  \
                     defaultNetstreamDriverCertFile=\"{}\"\n  \
                     defaultNetstreamDriverKeyFile=\"{}\"\n",
                    q(&certs.ca_cert),
                    q(&certs.client_cert),
                    q(&certs.client_key)
                ),
                *to,
                "    StreamDriver=\"gtls\" StreamDriverMode=\"1\"\n    \
                 StreamDriverAuthMode=\"x509/name\" StreamDriverPermittedPeers=\"localhost\"\n"
                    .to_string(),
            ),
        };
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let input_port = free_udp_port();
            let diag_log = q(&dir.path().join("diag.log"));
            let config = [
                "# Written by crates/vigil/tests/common/peers.rs".to_string(),
                "global(".into(),
                format!("  workDirectory=\"{}\"", q(&work)),
                "  processInternalMessages=\"on\"".into(),
                "  net.enableDNS=\"off\"".into(),
                format!("{globals})"),
                "module(load=\"imudp\")".into(),
                format!(
                    "input(type=\"imudp\" address=\"127.0.0.1\" port=\"{input_port}\" \
                     ruleset=\"forward\")"
                ),
                "ruleset(name=\"forward\") {".into(),
                format!(
                    "  action(type=\"omfwd\" target=\"{}\" port=\"{}\" protocol=\"tcp\"",
                    target.ip(),
                    target.port()
                ),
                "    TCP_Framing=\"octet-counted\" template=\"RSYSLOG_SyslogProtocol23Format\""
                    .into(),
                format!("{driver}    action.resumeRetryCount=\"-1\" action.resumeInterval=\"1\")"),
                "}".into(),
                "# rsyslog's own messages (main ruleset) stay here, for diagnostics.".into(),
                format!("*.* action(type=\"omfile\" file=\"{diag_log}\")"),
                String::new(),
            ]
            .join("\n");
            let conf = dir.path().join("rsyslog.conf");
            std::fs::write(&conf, &config).expect("write rsyslog.conf");

            let mut child = Command::new(which("rsyslogd").expect("rsyslogd"))
                .arg("-n")
                .arg("-f")
                .arg(&conf)
                .arg("-i")
                .arg(dir.path().join("rsyslogd.pid"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start rsyslogd");
            let stderr = Lines::default();
            stderr.collect(child.stderr.take().expect("stderr"), "rsyslogd", |_| {});
            let diag_path = dir.path().join("diag.log");
            let diag = || {
                format!(
                    "config:\n{config}\nstderr:\n{}\ndiag.log:\n{}",
                    stderr.text(),
                    std::fs::read_to_string(&diag_path).unwrap_or_default()
                )
            };
            match wait_bound(&mut child, input_port, true, "rsyslogd", PEER_TIMEOUT / 2) {
                Ok(()) => {
                    return Rsyslog {
                        child,
                        dir,
                        input_port,
                        stderr,
                    }
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    failures.push(format!("{why}\n{}", diag()));
                }
            }
        }
        panic!(
            "rsyslogd did not start in {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    pub fn input_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.input_port))
    }

    /// Sends `msg` with `logger -n 127.0.0.1 -P PORT -d --rfc3164 -t TAG`
    /// (UDP, facility user, severity notice). `tag` may carry a pid:
    /// `sshd[1234]`.
    pub fn send(&self, tag: &str, msg: &str) {
        self.send_with("user.notice", tag, msg);
    }

    /// Like [`Rsyslog::send`] with a priority such as `auth.info`.
    pub fn send_with(&self, priority: &str, tag: &str, msg: &str) {
        run_ok(
            Command::new(which("logger").expect("logger"))
                .args(["-n", "127.0.0.1", "-P", &self.input_port.to_string(), "-d"])
                .args(["--rfc3164", "-p", priority, "-t", tag, "--", msg]),
        );
    }

    /// Sends one datagram as is (e.g. an RFC 3164 line written by the test).
    pub fn send_raw(&self, line: &str) {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("udp socket");
        socket
            .send_to(line.as_bytes(), self.input_addr())
            .expect("send to rsyslog");
    }

    /// rsyslogd's stderr and its own messages (diag.log), for assertions'
    /// messages.
    pub fn diagnostics(&self) -> String {
        format!(
            "rsyslogd stderr:\n{}\nrsyslogd diag.log:\n{}",
            self.stderr.text(),
            std::fs::read_to_string(self.dir.path().join("diag.log")).unwrap_or_default()
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        kill_and_wait(&mut self.child);
    }
}

// ---------------------------------------------------------------------------
// sshd

/// Where [`Sshd`] sends its log lines.
#[derive(Clone, Copy, Debug)]
pub enum LogSink {
    /// One RFC 3164 datagram per line.
    Udp(SocketAddr),
    /// One TCP connection, RFC 6587 octet-counted RFC 3164 frames
    /// (reconnects once if the connection breaks).
    Tcp(SocketAddr),
}

/// Debian's real `/usr/sbin/sshd` on a free 127.0.0.1 port, in the
/// foreground (`-D`) with its own host key (ed25519, made by ssh-keygen in
/// a temp dir) and `sshd_config`: password authentication only, `UsePAM no`
/// (checks /etc/shadow itself, needs no PAM config), `MaxAuthTries 100`,
/// `MaxStartups 100:30:200`, `PerSourcePenalties no` where the OpenSSH
/// version knows it (9.8+), `UseDNS no`, `LogLevel INFO`.
///
/// Logging: sshd runs with `-e` (log to stderr, the per-connection
/// processes too); a thread reads each line and sends it to the sink as an
/// RFC 3164 message, facility auth, severity info (`<38>`), timestamp in
/// UTC, HOSTNAME `hostname` (default [`Sshd::DEFAULT_HOST`]) and TAG
/// `sshd[PID]` with the listening sshd's pid, exactly as a Linux host's
/// syslog daemon would forward `sshd`'s lines:
/// `<38>Nov 21 07:45:11 vigil-sshd-host sshd[4242]: Failed password for invalid user bob from 127.0.0.1 port 50122 ssh2`.
/// Writing the line here (rather than going through syslog(3) and a local
/// rsyslog) keeps the host name under the test's control and needs no
/// /dev/log; to test rsyslog too, point the sink at [`Rsyslog::input_addr`].
pub struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
    pub hostname: String,
    lines: Lines,
    users: Mutex<Vec<String>>,
}

impl Sshd {
    pub const DEFAULT_HOST: &'static str = "vigil-sshd-host";

    pub fn start(log_sink: LogSink) -> Sshd {
        Self::start_as(log_sink, Self::DEFAULT_HOST)
    }

    /// Like [`Sshd::start`], with the HOSTNAME of the forwarded lines.
    pub fn start_as(log_sink: LogSink, hostname: &str) -> Sshd {
        let dir = tempdir("vigil-sshd.");
        // Privilege separation needs this directory (normally made by the
        // service unit).
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let key = dir.path().join("ssh_host_ed25519_key");
        run_ok(
            Command::new(which("ssh-keygen").expect("ssh-keygen"))
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "vigil-test", "-f"])
                .arg(&key),
        );
        let sshd = which("sshd").expect("sshd");
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_tcp_port();
            let conf = dir.path().join("sshd_config");
            let base = format!(
                "ListenAddress 127.0.0.1:{port}\n\
                 HostKey {key}\n\
                 PidFile {pid}\n\
                 PasswordAuthentication yes\n\
                 KbdInteractiveAuthentication no\n\
                 PubkeyAuthentication no\n\
                 UsePAM no\n\
                 PermitRootLogin no\n\
                 MaxAuthTries 100\n\
                 MaxStartups 100:30:200\n\
                 LoginGraceTime 30\n\
                 UseDNS no\n\
                 SyslogFacility AUTH\n\
                 LogLevel INFO\n",
                key = key.display(),
                pid = dir.path().join("sshd.pid").display(),
            );
            // PerSourcePenalties (OpenSSH 9.8+) would refuse a brute force;
            // older versions reject the keyword, so try it with `sshd -t`.
            std::fs::write(&conf, format!("{base}PerSourcePenalties no\n")).expect("sshd_config");
            if !run(Command::new(&sshd).arg("-t").arg("-f").arg(&conf))
                .status
                .success()
            {
                std::fs::write(&conf, &base).expect("sshd_config");
                run_ok(Command::new(&sshd).arg("-t").arg("-f").arg(&conf));
            }

            let mut child = Command::new(&sshd)
                .args(["-D", "-e", "-f"])
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start sshd");
            let pid = child.id();
            let lines = Lines::default();
            let mut forwarder = SyslogForwarder::new(log_sink, hostname.to_string(), pid);
            lines.collect(child.stderr.take().expect("stderr"), "sshd", move |line| {
                forwarder.send(line)
            });
            match wait_bound(&mut child, port, false, "sshd", PEER_TIMEOUT / 2) {
                Ok(()) => {
                    return Sshd {
                        child,
                        dir,
                        port,
                        hostname: hostname.to_string(),
                        lines,
                        users: Mutex::new(Vec::new()),
                    }
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    failures.push(format!("{why}; sshd output:\n{}", lines.text()));
                }
            }
        }
        panic!(
            "sshd did not start in {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Every line sshd logged so far.
    pub fn log(&self) -> &Lines {
        &self.lines
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// One `ssh` login attempt with `password` (through sshpass, one
    /// password prompt, password authentication only); true on success.
    pub fn try_login(&self, user: &str, password: &str) -> bool {
        let out = run(Command::new(which("sshpass").expect("sshpass"))
            .args(["-p", password])
            .arg(which("ssh").expect("ssh"))
            .args(["-p", &self.port.to_string()])
            .args(["-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null"])
            .args(["-o", "PreferredAuthentications=password"])
            .args(["-o", "PubkeyAuthentication=no"])
            .args(["-o", "NumberOfPasswordPrompts=1"])
            .args(["-o", "ConnectTimeout=5"])
            .args(["-o", "BatchMode=no"])
            .args(["-o", "LogLevel=ERROR"])
            .arg(format!("{user}@127.0.0.1"))
            .arg("true"));
        out.status.success()
    }

    /// Runs the real ssh client `n` times with a wrong password for `user`,
    /// then waits until sshd logged `n` more `Failed password` lines for
    /// that user (so they have been handed to the sink). For a user that
    /// does not exist sshd also logs `Invalid user USER from 127.0.0.1 port N`
    /// and the failures read `Failed password for invalid user USER ...`.
    pub fn failed_logins(&self, user: &str, n: usize) {
        let needle = format!(" {user} from 127.0.0.1 port ");
        let failed = |lines: &Lines| {
            lines
                .all()
                .iter()
                .filter(|l| l.starts_with("Failed password for ") && l.contains(&needle))
                .count()
        };
        let before = failed(&self.lines);
        for i in 0..n {
            assert!(
                !self.try_login(user, &format!("wrong-password-{i}")),
                "a wrong password logged {user} in"
            );
        }
        let deadline = Instant::now() + PEER_TIMEOUT;
        while failed(&self.lines) < before + n {
            assert!(
                Instant::now() < deadline,
                "sshd did not log {n} failed passwords for {user}:\n{}",
                self.lines.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Creates a throwaway local user (`useradd -M -s /bin/sh`, password set
    /// with chpasswd), removed with `userdel` on drop. Names must be new:
    /// an existing user is never touched.
    pub fn create_user(&self, user: &str, password: &str) {
        assert!(
            user.len() <= 32
                && user
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "throwaway user names are [a-z0-9-]{{1,32}}: {user}"
        );
        run_ok(
            Command::new(which("useradd").expect("useradd"))
                .args(["-M", "-s", "/bin/sh", "-c", "vigil test user"])
                .arg(user),
        );
        self.users.lock().expect("users").push(user.to_string());
        let mut chpasswd = Command::new(which("chpasswd").expect("chpasswd"))
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd");
        chpasswd
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{user}:{password}\n").as_bytes())
            .expect("write chpasswd");
        assert!(
            chpasswd.wait().expect("chpasswd").success(),
            "chpasswd {user}"
        );
    }

    /// Logs `user` in with the right password (creating the throwaway user
    /// first if this helper has not), runs `true`, and waits for sshd's
    /// `Accepted password for USER from 127.0.0.1 port N ssh2`.
    pub fn successful_login(&self, user: &str, password: &str) {
        let created = self.users.lock().expect("users").iter().any(|u| u == user);
        if !created {
            self.create_user(user, password);
        }
        let needle = format!("Accepted password for {user} from 127.0.0.1");
        let before = self.lines.count(&needle);
        assert!(
            self.try_login(user, password),
            "ssh login as {user} failed:\n{}",
            self.lines.text()
        );
        assert!(
            self.lines.wait_for(&needle, before + 1, PEER_TIMEOUT),
            "sshd did not log the accepted login:\n{}",
            self.lines.text()
        );
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        kill_and_wait(&mut self.child);
        if let Ok(users) = self.users.lock() {
            for user in users.iter() {
                let _ = Command::new(which("userdel").unwrap_or_else(|| "userdel".into()))
                    .arg(user)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// Sends log lines to a [`LogSink`] as RFC 3164 `auth.info` messages.
struct SyslogForwarder {
    sink: LogSink,
    hostname: String,
    pid: u32,
    udp: Option<UdpSocket>,
    tcp: Option<TcpStream>,
}

impl SyslogForwarder {
    fn new(sink: LogSink, hostname: String, pid: u32) -> Self {
        SyslogForwarder {
            sink,
            hostname,
            pid,
            udp: None,
            tcp: None,
        }
    }

    fn send(&mut self, line: &str) {
        let msg = format!(
            "<38>{} {} sshd[{}]: {}",
            rfc3164_now(),
            self.hostname,
            self.pid,
            line
        );
        match self.sink {
            LogSink::Udp(to) => {
                if self.udp.is_none() {
                    self.udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok();
                }
                if let Some(s) = &self.udp {
                    let _ = s.send_to(msg.as_bytes(), to);
                }
            }
            LogSink::Tcp(to) => {
                let frame = format!("{} {}", msg.len(), msg);
                for _ in 0..2 {
                    if self.tcp.is_none() {
                        self.tcp = TcpStream::connect_timeout(&to, Duration::from_secs(5)).ok();
                    }
                    if let Some(s) = &mut self.tcp {
                        if s.write_all(frame.as_bytes()).is_ok() {
                            return;
                        }
                    }
                    self.tcp = None;
                }
                eprintln!("sshd log forwarder: could not send to {to}: {line}");
            }
        }
    }
}

/// Now in UTC as an RFC 3164 timestamp: `Nov  1 07:05:09`.
pub fn rfc3164_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3164(secs)
}

/// `secs` since the Unix epoch (UTC) as an RFC 3164 timestamp.
pub fn rfc3164(secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Walk the calendar from 1970: at most a few hundred iterations.
    let mut year = 1970u64;
    let mut day = days;
    loop {
        let leap =
            (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let len = if leap { 366 } else { 365 };
        if day < len {
            let month_len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            let mut month = 0;
            while day >= month_len[month] {
                day -= month_len[month];
                month += 1;
            }
            return format!(
                "{} {:>2} {:02}:{:02}:{:02}",
                MONTHS[month],
                day + 1,
                rem / 3600,
                rem % 3600 / 60,
                rem % 60
            );
        }
        day -= len;
        year += 1;
    }
}

/// Splits an RFC 6587 octet-counted stream (`LEN SP MSG`...) into messages;
/// returns the messages and the unconsumed rest (an incomplete frame).
/// Panics on a frame that does not start with a length: the peer did not
/// use octet counting.
pub fn deframe_octet_counted(buf: &[u8]) -> (Vec<String>, Vec<u8>) {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &buf[pos..];
        let Some(space) = rest.iter().position(|&b| b == b' ') else {
            break;
        };
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "not an octet-counted frame: {:?}",
                    String::from_utf8_lossy(&rest[..rest.len().min(80)])
                )
            });
        if rest.len() < space + 1 + len {
            break;
        }
        out.push(String::from_utf8_lossy(&rest[space + 1..space + 1 + len]).into_owned());
        pos += space + 1 + len;
    }
    (out, buf[pos..].to_vec())
}
