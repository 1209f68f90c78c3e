//! Vigil's SNMP client and trap receiver against net-snmp: a real `snmpd`
//! started per test on a loopback port with its own configuration, and
//! the `snmpget`/`snmpwalk`/`snmptrap`/`snmpinform` tools as the
//! reference. Values that move while the test runs (uptime, octets,
//! memory) must fall between the reference's readings before and after.
//!
//! Needs the Debian packages `snmpd` and `snmp`. When they are missing the
//! tests install them if running as root, and otherwise skip saying why.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use vigil_snmp::{
    host_resources, interfaces, system, AuthProtocol, Client, Error, InterfaceRates, Oid,
    PrivProtocol, TrapListener, UsmUser, Value,
};

const COMMUNITY: &str = "vigil-ro";
const SHA_USER: (&str, &str, &str) = ("vigilsha", "authpass123", "privpass123");
const SHA256_USER: (&str, &str, &str) = ("vigil256", "authpass456", "privpass456");
const AUTH_ONLY_USER: (&str, &str, &str) = ("vigilauth", "authpass789", "");

fn on_path(tool: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(tool).exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Whether net-snmp's tools are here, installing them as root if not.
fn net_snmp_available() -> bool {
    static READY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *READY.get_or_init(|| {
        let present = || on_path("snmpd") && on_path("snmpget") && on_path("snmptrap");
        if present() {
            return true;
        }
        if !is_root() {
            eprintln!("SKIPPED: net-snmp (snmpd, snmp) is not installed and we are not root");
            return false;
        }
        let apt = |args: &[&str]| {
            Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        apt(&["update", "-qq"]);
        apt(&["install", "-y", "-qq", "snmpd", "snmp"]);
        if !present() {
            eprintln!("SKIPPED: installing snmpd and snmp failed");
        }
        present()
    })
}

macro_rules! require_net_snmp {
    () => {
        if !net_snmp_available() {
            return;
        }
    };
}

fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

/// A net-snmp tool run with no MIBs loaded (numeric OIDs in and out).
fn tool(name: &str) -> Command {
    let mut c = Command::new(name);
    c.env("MIBS", "").env("MIBDIRS", "/nonexistent");
    c
}

struct Snmpd {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Snmpd {
    fn start() -> Snmpd {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("snmpd.conf");
        let (u1, a1, p1) = SHA_USER;
        let (u2, a2, p2) = SHA256_USER;
        let (u3, a3, _) = AUTH_ONLY_USER;
        std::fs::write(
            &conf,
            format!(
                "rocommunity {COMMUNITY} 127.0.0.1\n\
                 createUser {u1} SHA \"{a1}\" AES \"{p1}\"\n\
                 createUser {u2} SHA-256 \"{a2}\" AES \"{p2}\"\n\
                 createUser {u3} SHA \"{a3}\"\n\
                 rouser {u1} priv\n\
                 rouser {u3} auth\n\
                 rouser {u2} priv\n\
                 sysName vigil-test\n"
            ),
        )
        .unwrap();
        let addr: SocketAddr = ([127, 0, 0, 1], free_udp_port()).into();
        let child = Snmpd::spawn(dir.path(), addr);
        let snmpd = Snmpd {
            child,
            addr,
            _dir: dir,
        };
        snmpd.wait_until_it_answers();
        snmpd
    }

    fn spawn(dir: &Path, addr: SocketAddr) -> Child {
        // Configuration from `dir` only (not /etc/snmp), and state kept
        // there too (it is read back only if on the path): a restart keeps
        // the engine ID and counts a boot.
        let persist = dir.join("persist");
        tool("snmpd")
            .env(
                "SNMPCONFPATH",
                format!("{}:{}", dir.display(), persist.display()),
            )
            .env("SNMP_PERSISTENT_DIR", &persist)
            .arg("-f")
            .arg("-Lf")
            .arg(dir.join("snmpd.log"))
            .arg(format!("udp:{addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("snmpd starts")
    }

    /// Stops snmpd (SIGTERM, so it saves its engine boots) and starts it
    /// again on the same port and state: to its clients, a reboot.
    fn restart(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        self.child = Snmpd::spawn(self._dir.path(), self.addr);
        self.wait_until_it_answers();
    }

    /// Restarts snmpd with its state wiped: a new engine ID.
    fn replace_engine(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(self._dir.path().join("persist"));
        self.child = Snmpd::spawn(self._dir.path(), self.addr);
        self.wait_until_it_answers();
    }

    fn wait_until_it_answers(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let answered = tool("snmpget")
                .args(["-v2c", "-c", COMMUNITY, "-t", "0.2", "-r", "0"])
                .arg(self.addr.to_string())
                .arg("1.3.6.1.2.1.1.3.0")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if answered {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("snmpd on {} did not answer within 15 s", self.addr);
    }

    fn v2c_args(&self) -> Vec<String> {
        ["-v2c", "-c", COMMUNITY].map(String::from).to_vec()
    }

    fn v3_args(user: (&str, &str, &str), auth: &str) -> Vec<String> {
        let (u, a, p) = user;
        [
            "-v3", "-l", "authPriv", "-u", u, "-a", auth, "-A", a, "-x", "AES", "-X", p,
        ]
        .map(String::from)
        .to_vec()
    }

    /// `OID value` pairs printed by snmpget/snmpwalk (`-On -Oq -Ot -Oe`).
    fn reference(&self, cmd: &str, args: &[String], oids: &[&str]) -> BTreeMap<String, String> {
        let out = tool(cmd)
            .args(args)
            .args(["-On", "-Oq", "-Ot", "-Oe"])
            .arg(self.addr.to_string())
            .args(oids)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(o, v)| (o.trim_start_matches('.').to_string(), unquote(v)))
            .collect()
    }

    fn get(&self, oids: &[&str]) -> BTreeMap<String, String> {
        self.reference("snmpget", &self.v2c_args(), oids)
    }

    fn walk(&self, root: &str) -> BTreeMap<String, String> {
        self.reference("snmpwalk", &self.v2c_args(), &[root])
    }

    async fn v2c(&self) -> Client {
        Client::v2c(self.addr, COMMUNITY, Duration::from_secs(2), 1)
            .await
            .unwrap()
    }

    async fn v3(&self, user: (&str, &str, &str), auth: AuthProtocol) -> Client {
        let (name, a, p) = user;
        let user = UsmUser {
            name: name.into(),
            auth,
            auth_password: a.into(),
            privacy: Some((PrivProtocol::Aes128, p.into())),
        };
        Client::v3(self.addr, user, Duration::from_secs(2), 1)
            .await
            .unwrap()
    }
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
        .to_string()
}

fn num(map: &BTreeMap<String, String>, oid: &str) -> u64 {
    map.get(oid)
        .unwrap_or_else(|| panic!("{oid} missing from the reference"))
        .parse()
        .unwrap_or_else(|_| panic!("{oid} is not a number: {:?}", map.get(oid)))
}

fn between(what: &str, before: u64, ours: u64, after: u64) {
    assert!(
        before <= ours && ours <= after,
        "{what}: ours {ours} is not between snmpget's {before} and {after}"
    );
}

fn oid(s: &str) -> Oid {
    s.parse().unwrap()
}

const SYS_UPTIME: &str = "1.3.6.1.2.1.1.3.0";

#[tokio::test]
async fn v2c_system_group_matches_snmpget() {
    require_net_snmp!();
    let agent = Snmpd::start();
    let client = agent.v2c().await;
    let before = agent.get(&[SYS_UPTIME, "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0"]);
    let ours = system(&client).await.unwrap();
    let after = agent.get(&[SYS_UPTIME]);
    assert_eq!(ours.sys_name, "vigil-test");
    assert_eq!(ours.sys_name, before["1.3.6.1.2.1.1.5.0"]);
    assert_eq!(ours.sys_descr, before["1.3.6.1.2.1.1.1.0"]);
    between(
        "sysUpTime",
        num(&before, SYS_UPTIME),
        ours.uptime_ticks.into(),
        num(&after, SYS_UPTIME),
    );
}

#[tokio::test]
async fn v2c_interfaces_match_snmpwalk() {
    require_net_snmp!();
    let agent = Snmpd::start();
    let client = agent.v2c().await;
    let if_table = "1.3.6.1.2.1.2.2.1";
    let ifx_table = "1.3.6.1.2.1.31.1.1.1";
    let (t0, x0) = (agent.walk(if_table), agent.walk(ifx_table));
    let rows = interfaces(&client).await.unwrap();
    let (t1, x1) = (agent.walk(if_table), agent.walk(ifx_table));
    let indexes: Vec<u32> = t0
        .keys()
        .filter_map(|k| k.strip_prefix("1.3.6.1.2.1.2.2.1.1."))
        .map(|i| i.parse().unwrap())
        .collect();
    assert!(!indexes.is_empty());
    assert_eq!(rows.iter().map(|r| r.index).collect::<Vec<_>>(), indexes);
    for r in &rows {
        let col = |c: u32| format!("{if_table}.{c}.{}", r.index);
        let xcol = |c: u32| format!("{ifx_table}.{c}.{}", r.index);
        assert_eq!(r.descr, t0[&col(2)]);
        assert_eq!(r.name, x0[&xcol(1)]);
        assert_eq!(u64::from(r.oper_status), num(&t0, &col(8)));
        let speed = num(&t0, &col(5));
        let high = num(&x0, &xcol(15));
        let expected = if speed != 0 && speed != u64::from(u32::MAX) {
            speed
        } else {
            high * 1_000_000
        };
        assert_eq!(r.speed_bps, expected, "{}", r.name);
        assert_eq!(r.octets_width, vigil_snmp::CounterWidth::Bits64);
        let name = &r.name;
        between(name, num(&x0, &xcol(6)), r.in_octets, num(&x1, &xcol(6)));
        between(name, num(&x0, &xcol(10)), r.out_octets, num(&x1, &xcol(10)));
        for (c, ours) in [
            (13, r.in_discards),
            (14, r.in_errors),
            (19, r.out_discards),
            (20, r.out_errors),
        ] {
            between(name, num(&t0, &col(c)), ours.into(), num(&t1, &col(c)));
        }
    }
}

#[tokio::test]
async fn v2c_host_resources_match_snmpwalk() {
    require_net_snmp!();
    let agent = Snmpd::start();
    let client = agent.v2c().await;
    let storage = "1.3.6.1.2.1.25.2.3.1";
    let loads = "1.3.6.1.2.1.25.3.3.1.2";
    let s0 = agent.walk(storage);
    let l0 = agent.walk(loads);
    let ours = host_resources(&client).await.unwrap();
    let s1 = agent.walk(storage);
    // hrProcessorLoad may be empty in a container; the count must agree.
    let reference_loads: Vec<u64> = l0
        .iter()
        // snmpwalk of an empty subtree prints its root as missing.
        .filter(|(k, _)| k.starts_with(&format!("{loads}.")))
        .map(|(_, v)| v.parse().unwrap())
        .collect();
    assert_eq!(ours.cpu_loads.len(), reference_loads.len());
    assert!(!ours.storage.is_empty());
    for st in &ours.storage {
        let col = |c: u32| format!("{storage}.{c}.{}", st.index);
        assert_eq!(st.descr, s0[&col(3)]);
        let unit = num(&s0, &col(4));
        let size = |m: &BTreeMap<String, String>| num(m, &col(5)) * unit;
        let used = |m: &BTreeMap<String, String>| num(m, &col(6)) * unit;
        // Memory moves while we read: allow what moved between the walks
        // plus a little.
        let (lo, hi) = (used(&s0).min(used(&s1)), used(&s0).max(used(&s1)));
        let slack = size(&s0) / 50 + 4 * unit;
        assert!(
            st.used_bytes + slack >= lo && st.used_bytes <= hi + slack,
            "{}: used {} vs {lo}..{hi}",
            st.descr,
            st.used_bytes
        );
        let (lo, hi) = (size(&s0).min(size(&s1)), size(&s0).max(size(&s1)));
        assert!(
            st.size_bytes + slack >= lo && st.size_bytes <= hi + slack,
            "{}",
            st.descr
        );
    }
    let root = ours
        .storage
        .iter()
        .find(|s| s.descr == "/")
        .expect("the / filesystem");
    assert!(root.size_bytes > 0 && root.used_bytes > 0);
}

#[tokio::test]
async fn walk_returns_what_snmpwalk_does() {
    require_net_snmp!();
    let agent = Snmpd::start();
    let client = agent.v2c().await;
    // The system and interfaces groups: many rows, several types.
    for root in ["1.3.6.1.2.1.1", "1.3.6.1.2.1.2"] {
        let reference = agent.walk(root);
        let ours = client.walk(&oid(root)).await.unwrap();
        let ours_oids: Vec<String> = ours.iter().map(|vb| vb.oid.to_string()).collect();
        let theirs: Vec<String> = reference.keys().cloned().collect();
        let mut sorted = ours_oids.clone();
        sorted.sort_by_key(|o| o.parse::<Oid>().unwrap());
        assert_eq!(ours_oids, sorted, "in MIB order");
        let mut theirs_sorted = theirs;
        theirs_sorted.sort_by_key(|o| o.parse::<Oid>().unwrap());
        assert_eq!(ours_oids, theirs_sorted, "same OIDs under {root}");
    }
    // A leaf and a subtree that does not exist.
    let leaf = client.walk(&oid("1.3.6.1.2.1.1.5.0")).await.unwrap();
    assert!(
        leaf.is_empty(),
        "a walk lists what is under its root, not the root"
    );
    assert!(client
        .walk(&oid("1.3.6.1.2.1.99999"))
        .await
        .unwrap()
        .is_empty());
    // get_next and get_bulk directly.
    let next = client.get_next(&[oid("1.3.6.1.2.1.1.5")]).await.unwrap();
    assert_eq!(next[0].oid, oid("1.3.6.1.2.1.1.5.0"));
    assert_eq!(next[0].value, Value::OctetString(b"vigil-test".to_vec()));
    let bulk = client
        .get_bulk(&[oid("1.3.6.1.2.1.1.3"), oid("1.3.6.1.2.1.2.2.1.2")], 1, 3)
        .await
        .unwrap();
    assert_eq!(bulk.len(), 4);
    assert_eq!(bulk[0].oid, oid(SYS_UPTIME));
    // Missing instances come back as exceptions, not errors.
    let missing = client.get(&[oid("1.3.6.1.2.1.1.5.1")]).await.unwrap();
    assert!(missing[0].value.is_exception());
}

async fn v3_matches(user: (&str, &str, &str), auth: AuthProtocol, auth_arg: &str) {
    let agent = Snmpd::start();
    let client = agent.v3(user, auth).await;
    let args = Snmpd::v3_args(user, auth_arg);
    let before = agent.reference("snmpget", &args, &[SYS_UPTIME, "1.3.6.1.2.1.1.5.0"]);
    let ours = system(&client).await.unwrap();
    let after = agent.reference("snmpget", &args, &[SYS_UPTIME]);
    assert_eq!(ours.sys_name, before["1.3.6.1.2.1.1.5.0"]);
    between(
        "sysUpTime",
        num(&before, SYS_UPTIME),
        ours.uptime_ticks.into(),
        num(&after, SYS_UPTIME),
    );
    // A walk over v3 (many requests on one engine) equals snmpwalk's.
    let reference = agent.reference("snmpwalk", &args, &["1.3.6.1.2.1.2.2.1.2"]);
    let ours = client.walk(&oid("1.3.6.1.2.1.2.2.1.2")).await.unwrap();
    let ours: BTreeMap<String, String> = ours
        .iter()
        .map(|vb| (vb.oid.to_string(), vb.value.as_text().unwrap()))
        .collect();
    assert_eq!(ours, reference);
    interfaces(&client).await.unwrap();
}

#[tokio::test]
async fn v3_sha1_aes_matches_snmpget() {
    require_net_snmp!();
    v3_matches(SHA_USER, AuthProtocol::Sha1, "SHA").await;
}

#[tokio::test]
async fn v3_sha256_aes_matches_snmpget() {
    require_net_snmp!();
    v3_matches(SHA256_USER, AuthProtocol::Sha256, "SHA-256").await;
}

#[tokio::test]
async fn v3_failures_say_why() {
    require_net_snmp!();
    let agent = Snmpd::start();
    let (name, auth, privacy) = SHA_USER;
    let user = |name: &str, a: &str, p: &str| UsmUser {
        name: name.into(),
        auth: AuthProtocol::Sha1,
        auth_password: a.into(),
        privacy: Some((PrivProtocol::Aes128, p.into())),
    };
    let quick = Duration::from_millis(300);
    let get = |u: UsmUser| async move {
        let c = Client::v3(agent.addr, u, quick, 0).await.unwrap();
        c.get(&[oid(SYS_UPTIME)]).await.unwrap_err()
    };
    let wrong_auth = get(user(name, "not-the-password", privacy)).await;
    assert!(
        matches!(wrong_auth, Error::Authentication(_)),
        "{wrong_auth}"
    );
    assert!(
        wrong_auth.to_string().contains("usmStatsWrongDigests"),
        "{wrong_auth}"
    );
    let wrong_user = get(user("nobody", auth, privacy)).await;
    assert!(
        wrong_user.to_string().contains("usmStatsUnknownUserNames"),
        "{wrong_user}"
    );
    // net-snmp drops what it cannot decrypt: silence, and the reason says so.
    let wrong_priv = get(user(name, auth, "not-the-privpass")).await;
    assert!(matches!(wrong_priv, Error::Timeout { .. }), "{wrong_priv}");
    assert!(
        wrong_priv.to_string().contains("privacy password"),
        "{wrong_priv}"
    );
    // A password too short for USM is refused before anything is sent.
    let short = Client::v3(agent.addr, user(name, "short", privacy), quick, 0).await;
    assert!(matches!(short, Err(Error::Config(_))));
}

#[tokio::test]
async fn wrong_community_times_out_with_the_reason() {
    require_net_snmp!();
    let agent = Snmpd::start();
    let client = Client::v2c(
        agent.addr,
        "not-the-community",
        Duration::from_millis(300),
        2,
    )
    .await
    .unwrap();
    let started = Instant::now();
    let err = client.get(&[oid(SYS_UPTIME)]).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { tries: 3, .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("3 tries") && text.contains("wrong community"),
        "{text}"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
}

/// A fake agent: answers each request with what `reply` makes of it.
async fn fake_agent(reply: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            for answer in reply(&buf[..n]) {
                let _ = socket.send_to(&answer, peer).await;
            }
        }
    });
    addr
}

fn response_to(request: &[u8], request_id_delta: i32) -> Vec<u8> {
    use vigil_snmp::ber::{decode_message, encode_message, Message};
    let Message::Community(mut m) = decode_message(request).unwrap() else {
        panic!("not v2c")
    };
    m.pdu.kind = vigil_snmp::PduKind::Response;
    m.pdu.request_id = m.pdu.request_id.wrapping_add(request_id_delta);
    for vb in &mut m.pdu.varbinds {
        vb.value = Value::TimeTicks(42);
    }
    encode_message(&Message::Community(m))
}

#[tokio::test]
async fn malformed_answers_are_an_error_with_the_offset() {
    let addr = fake_agent(|_| vec![vec![0x30, 0x05, 0x02, 0x01]]).await;
    let client = Client::v2c(addr, "public", Duration::from_millis(200), 1)
        .await
        .unwrap();
    let err = client.get(&[oid(SYS_UPTIME)]).await.unwrap_err();
    assert!(matches!(err, Error::Malformed(_)), "{err}");
    assert!(err.to_string().contains("at offset 0"), "{err}");
}

#[tokio::test]
async fn stray_and_late_datagrams_are_ignored() {
    // Each request draws garbage, an answer to another request, then the
    // real answer: only the last is taken.
    let addr =
        fake_agent(|req| vec![b"junk".to_vec(), response_to(req, 1), response_to(req, 0)]).await;
    let client = Client::v2c(addr, "public", Duration::from_secs(2), 0)
        .await
        .unwrap();
    let vbs = client.get(&[oid(SYS_UPTIME)]).await.unwrap();
    assert_eq!(vbs[0].value, Value::TimeTicks(42));
    let counts = client.counts();
    assert_eq!((counts.malformed, counts.ignored), (1, 1), "{counts:?}");
}

#[tokio::test]
async fn an_error_status_names_the_varbind() {
    use vigil_snmp::ber::{decode_message, encode_message, Message};
    let addr = fake_agent(|req| {
        let Message::Community(mut m) = decode_message(req).unwrap() else {
            panic!()
        };
        m.pdu.kind = vigil_snmp::PduKind::Response;
        m.pdu.error_status = 2;
        m.pdu.error_index = 2;
        vec![encode_message(&Message::Community(m))]
    })
    .await;
    let client = Client::v2c(addr, "public", Duration::from_secs(2), 0)
        .await
        .unwrap();
    let err = client
        .get(&[oid(SYS_UPTIME), oid("1.3.6.1.2.1.1.5.0")])
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("noSuchName")
            && text.contains("varbind 2")
            && text.contains("1.3.6.1.2.1.1.5.0"),
        "{text}"
    );
}

#[tokio::test]
async fn a_walk_that_loops_is_stopped() {
    use vigil_snmp::ber::{decode_message, encode_message, Message};
    // An agent that always answers with the same OID.
    let addr = fake_agent(|req| {
        let Message::Community(mut m) = decode_message(req).unwrap() else {
            panic!()
        };
        m.pdu.kind = vigil_snmp::PduKind::Response;
        m.pdu.error_status = 0;
        m.pdu.error_index = 0;
        m.pdu.varbinds = vec![vigil_snmp::VarBind {
            oid: "1.3.6.1.2.1.2.2.1.1.1".parse().unwrap(),
            value: Value::Integer(1),
        }];
        vec![encode_message(&Message::Community(m))]
    })
    .await;
    let client = Client::v2c(addr, "public", Duration::from_secs(2), 0)
        .await
        .unwrap();
    let err = client.walk(&oid("1.3.6.1.2.1.2")).await.unwrap_err();
    assert!(err.to_string().contains("loop"), "{err}");
}

// Multi-threaded: the tools are run blocking, and the listener must
// answer the inform meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traps_from_snmptrap_and_snmpinform_arrive_malformed_ones_are_counted() {
    require_net_snmp!();
    let listener = TrapListener::bind("127.0.0.1:0".parse().unwrap(), Some(vec!["public".into()]))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = listener.stats();
    let (tx, mut rx) = mpsc::channel(16);
    tokio::spawn(listener.run(tx));

    // Garbage first: counted, and the listener goes on.
    let junk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for bad in [
        &b""[..],
        b"\x30\x82\xff\xff",
        b"hello",
        &[0x30, 0x03, 0x02, 0x01, 0x09],
    ] {
        junk.send_to(bad, addr).await.unwrap();
    }
    let send = |cmd: &str, community: &str, trap: &[&str]| {
        let status = tool(cmd)
            .args(["-v", "2c", "-c", community, "-t", "2", "-r", "1"])
            .arg(addr.to_string())
            .args(trap)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success() || community != "public", "{cmd} failed");
    };
    // linkDown with ifIndex 2 (ifIndex is 1.3.6.1.2.1.2.2.1.1).
    send(
        "snmptrap",
        "public",
        &["", "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.2", "i", "2"],
    );
    let trap = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(trap.name, "linkDown");
    assert_eq!(trap.community, "public");
    assert!(!trap.inform);
    assert_eq!(trap.varbinds.len(), 1);
    assert_eq!(trap.varbinds[0].oid, oid("1.3.6.1.2.1.2.2.1.1.2"));
    assert_eq!(trap.varbinds[0].value, Value::Integer(2));
    assert_eq!(
        stats.malformed.load(std::sync::atomic::Ordering::Relaxed),
        4
    );

    // A trap with another community is refused and counted.
    send("snmptrap", "other", &["", "1.3.6.1.6.3.1.1.5.4"]);
    // An enterprise trap with several varbind types, as an inform: the
    // tool only succeeds if our acknowledgement reached it.
    send(
        "snmpinform",
        "public",
        &[
            "12345",
            "1.3.6.1.4.1.8072.2.3.0.1",
            "1.3.6.1.4.1.8072.2.3.2.1",
            "s",
            "disk almost full",
            "1.3.6.1.4.1.8072.2.3.2.2",
            "a",
            "192.0.2.7",
            "1.3.6.1.4.1.8072.2.3.2.3",
            "c",
            "99",
        ],
    );
    let inform = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(inform.inform);
    assert_eq!(inform.name, "1.3.6.1.4.1.8072.2.3.0.1");
    assert_eq!(inform.uptime_ticks, 12345);
    let values: Vec<Value> = inform.varbinds.iter().map(|vb| vb.value.clone()).collect();
    assert_eq!(
        values,
        [
            Value::OctetString(b"disk almost full".to_vec()),
            Value::IpAddress([192, 0, 2, 7]),
            Value::Counter32(99),
        ]
    );
    assert_eq!(
        stats
            .rejected_community
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // coldStart and warmStart by name.
    for (arc, name) in [("1", "coldStart"), ("2", "warmStart"), ("4", "linkUp")] {
        send(
            "snmptrap",
            "public",
            &["", &format!("1.3.6.1.6.3.1.1.5.{arc}")],
        );
        let t = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.name, name);
    }
}

async fn poll(client: &Client) -> (Instant, u32, Vec<vigil_snmp::IfRow>) {
    let sys = system(client).await.unwrap();
    let rows = interfaces(client).await.unwrap();
    (Instant::now(), sys.uptime_ticks, rows)
}

#[tokio::test]
async fn an_agent_restart_is_a_reboot_without_spikes_and_v3_resyncs() {
    require_net_snmp!();
    let mut agent = Snmpd::start();
    let client = agent.v3(SHA_USER, AuthProtocol::Sha1).await;
    let mut rates = InterfaceRates::new();
    let (t, up, rows) = poll(&client).await;
    let (reboot, first) = rates.update(t, up, &rows);
    assert!(reboot.is_none() && first.iter().all(|r| r.in_bps.is_none()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (t, up, rows) = poll(&client).await;
    let (reboot, second) = rates.update(t, up, &rows);
    assert!(reboot.is_none(), "{reboot:?}");
    let lo = second
        .iter()
        .zip(&rows)
        .find(|(_, r)| r.name == "lo")
        .unwrap()
        .0;
    // A rate, and a sane one (snmpd caches interface counters for a few
    // seconds, so it may well be zero here).
    let bps = lo.in_bps.expect("a rate on the second poll");
    assert!((0.0..1e10).contains(&bps), "{bps}");

    agent.restart();
    // The cached engine time is now wrong (boots went up): the client
    // must resync on the agent's report rather than fail.
    assert_eq!(
        (client.counts().discoveries, client.counts().resyncs),
        (1, 0)
    );
    let (t, up, rows) = poll(&client).await;
    assert_eq!(client.counts().resyncs, 1, "{:?}", client.counts());
    let (reboot, third) = rates.update(t, up, &rows);
    let reboot = reboot.expect("sysUpTime went down: a reboot");
    assert!(reboot.uptime_ticks < reboot.previous_uptime_ticks);
    assert!(third
        .iter()
        .all(|r| r.in_bps.is_none() && r.out_bps.is_none()));
}

#[tokio::test]
async fn a_new_engine_id_is_rediscovered() {
    require_net_snmp!();
    let mut agent = Snmpd::start();
    let client = agent.v3(SHA256_USER, AuthProtocol::Sha256).await;
    let before = system(&client).await.unwrap();
    agent.replace_engine();
    // Keys are localized to the engine ID: the client must notice the
    // unknownEngineID report, rediscover and localize again.
    let after = system(&client).await.unwrap();
    assert_eq!(after.sys_name, before.sys_name);
    assert_eq!(client.counts().discoveries, 2, "{:?}", client.counts());
}

#[tokio::test]
async fn nobody_listening_is_a_timeout_not_a_socket_error() {
    // The port is closed: the kernel answers with ICMP port unreachable,
    // which must read as silence, try after try.
    let port = free_udp_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let client = Client::v2c(addr, "public", Duration::from_millis(100), 2)
        .await
        .unwrap();
    let err = client.get(&[oid(SYS_UPTIME)]).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { tries: 3, .. }), "{err}");
    // And the client still works afterwards (here: still times out
    // cleanly rather than returning a stale socket error).
    let again = client.get(&[oid(SYS_UPTIME)]).await.unwrap_err();
    assert!(matches!(again, Error::Timeout { .. }), "{again}");
}

#[tokio::test]
async fn v3_auth_no_priv_and_a_security_level_the_user_lacks() {
    require_net_snmp!();
    let agent = Snmpd::start();
    let (name, auth, _) = AUTH_ONLY_USER;
    let user = |name: &str| UsmUser {
        name: name.into(),
        auth: AuthProtocol::Sha1,
        auth_password: auth.into(),
        privacy: None,
    };
    let client = Client::v3(agent.addr, user(name), Duration::from_secs(2), 1)
        .await
        .unwrap();
    let ours = system(&client).await.unwrap();
    let args = [
        "-v3",
        "-l",
        "authNoPriv",
        "-u",
        name,
        "-a",
        "SHA",
        "-A",
        auth,
    ]
    .map(String::from);
    let theirs = agent.reference("snmpget", &args, &["1.3.6.1.2.1.1.5.0"]);
    assert_eq!(ours.sys_name, theirs["1.3.6.1.2.1.1.5.0"]);
    // The authPriv-only user without privacy: refused, with a reason.
    let (name, auth, _) = SHA_USER;
    let lacking = UsmUser {
        auth_password: auth.into(),
        ..user(name)
    };
    let client = Client::v3(agent.addr, lacking, Duration::from_millis(500), 0)
        .await
        .unwrap();
    let err = client.get(&[oid("1.3.6.1.2.1.1.5.0")]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the agent answered authorizationError (16)"
    );
}
