//! loghub's Linux_2k (an old Red Hat host: PAM logs under its own ident,
//! `sshd(pam_unix)[19939]: authentication failure; ... rhost=...`) and
//! OpenSSH_2k (a modern sshd: `Failed password ...`, `message repeated 5
//! times: [ ... ]`, pam_unix's first failure per connection) tailed by a
//! real rsyslogd (imfile) and forwarded with omfwd over TCP, each file to
//! its own tenant's listener. The SSH brute-force alerts must name exactly
//! the sources the log itself shows attacking, computed here from the raw
//! lines with the rule's semantics (≥ 5 failures from one address within
//! 5 minutes; a repeated line counts its N; once fired, a source is quiet
//! until the window that fired ends).
//!
//! Needs root, rsyslogd, logger and `VIGIL_CORPORA`; skipped (with a
//! notice) without.

mod common;

use common::peers::{self, Peer};
use common::{KillOnDrop, Server};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const RULE: &str = "SSH brute force from one source";
/// The rule's window and threshold (crates/vigil-server/rules/ssh_brute_force.yml).
const WINDOW_SECS: i64 = 300;
const THRESHOLD: u64 = 5;

const CONFIG: &str = r#"
[[tenants]]
name = "combo"

[[tenants]]
name = "labsz"

[[inputs.syslog]]
protocol = "tcp"
listen = "127.0.0.1:0"
tenant = "combo"

[[inputs.syslog]]
protocol = "tcp"
listen = "127.0.0.1:0"
tenant = "labsz"
"#;

/// One piece of evidence of a failed SSH login: when (seconds into a
/// year without Feb 29: only differences count), from where, how many.
struct Failure {
    time: i64,
    address: String,
    count: u64,
}

/// `Mmm dd hh:mm:ss` → seconds since Jan 1st of a non-leap year.
fn seconds(stamp: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const DAYS: [i64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut words = stamp.split_whitespace();
    let name = words.next()?;
    let month = MONTHS.iter().position(|m| *m == name)?;
    let day: i64 = words.next()?.parse().ok()?;
    let mut clock = words.next()?.split(':').map(|n| n.parse::<i64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    let days = DAYS[..month].iter().sum::<i64>() + day - 1;
    Some(days * 86_400 + h * 3_600 + m * 60 + s)
}

/// The failed SSH logins of a syslog file, read without Vigil's decoders:
/// sshd's `Failed <method> for ... from ADDR port N` and pam_unix's
/// `authentication failure; ... rhost=ADDR` of service sshd (not its
/// `PAM N more authentication failures` summary), a `message repeated N
/// times: [ ... ]` counting N.
fn failures(log: &str) -> Vec<Failure> {
    let mut out = Vec::new();
    for line in log.lines() {
        let Some(time) = line.get(..15).and_then(seconds) else {
            continue;
        };
        // `HOST TAG: message`
        let rest = line[15..].trim_start();
        let Some((_host, rest)) = rest.split_once(' ') else {
            continue;
        };
        let Some((tag, message)) = rest.split_once(": ") else {
            continue;
        };
        let program = tag.split('[').next().unwrap_or(tag);
        if program != "sshd" && program != "sshd(pam_unix)" {
            continue;
        }
        let (count, text) = match message
            .strip_prefix("message repeated ")
            .and_then(|r| r.split_once(" times: ["))
        {
            Some((n, inner)) => (n.parse().unwrap_or(1), inner.trim().trim_end_matches(']')),
            None => (1, message),
        };
        let text = text.strip_prefix("pam_unix(sshd:auth): ").unwrap_or(text);
        let address = if text.starts_with("Failed ") {
            text.split_once(" from ")
                .and_then(|(_, r)| r.split_once(" port "))
                .map(|(a, _)| a)
        } else if text.starts_with("authentication failure;") {
            text.split_whitespace()
                .find_map(|kv| kv.strip_prefix("rhost="))
                .filter(|a| !a.is_empty())
        } else {
            None
        };
        if let Some(address) = address {
            out.push(Failure {
                time,
                address: address.to_string(),
                count,
            });
        }
    }
    out
}

/// How often the rule fires per address: in the order of the log, a source
/// fires when some window `[s, s + 5m)` with `s` after its last firing's
/// window holds ≥ 5 failures seen so far; it is then quiet until that
/// window ends.
fn expected_firings(failures: &[Failure]) -> BTreeMap<String, u64> {
    /// Per source: its failures so far (time, count), quiet until when.
    type Source = (Vec<(i64, u64)>, i64);
    let mut seen: BTreeMap<&str, Source> = BTreeMap::new();
    let mut fired = BTreeMap::new();
    for f in failures {
        let (events, quiet_until) = seen.entry(&f.address).or_insert((Vec::new(), i64::MIN));
        events.push((f.time, f.count));
        let starts: Vec<i64> = events
            .iter()
            .map(|(t, _)| *t)
            .filter(|s| *s > f.time - WINDOW_SECS && *s >= *quiet_until)
            .collect();
        for s in starts {
            let total: u64 = events
                .iter()
                .filter(|(t, _)| (s..s + WINDOW_SECS).contains(t))
                .map(|(_, n)| n)
                .sum();
            if total >= THRESHOLD {
                *fired.entry(f.address.clone()).or_insert(0) += 1;
                *quiet_until = s + WINDOW_SECS;
                break;
            }
        }
    }
    fired
}

/// A real rsyslogd tailing files (imfile, from their start) and forwarding
/// each line as it is (`%rawmsg%`: the loghub line with its own time) with
/// omfwd over TCP, RFC 6587 octet counting.
struct RsyslogTail {
    _child: KillOnDrop,
    dir: PathBuf,
}

impl RsyslogTail {
    fn start(dir: &Path, files: &[(&Path, SocketAddr)]) -> RsyslogTail {
        let work = dir.join("work");
        std::fs::create_dir_all(&work).expect("rsyslog work dir");
        let mut config = vec![
            "# Written by crates/vigil/tests/linux_auth.rs".to_string(),
            format!("global(workDirectory=\"{}\")", work.display()),
            "module(load=\"imfile\" mode=\"polling\" PollingInterval=\"1\")".into(),
            "template(name=\"raw\" type=\"string\" string=\"%rawmsg%\")".into(),
        ];
        for (i, (file, to)) in files.iter().enumerate() {
            config.extend([
                format!(
                    "input(type=\"imfile\" file=\"{}\" tag=\"loghub\" ruleset=\"to{i}\" \
                     freshStartTail=\"off\")",
                    file.display()
                ),
                format!("ruleset(name=\"to{i}\") {{"),
                format!(
                    "  action(type=\"omfwd\" target=\"{}\" port=\"{}\" protocol=\"tcp\" \
                     TCP_Framing=\"octet-counted\" template=\"raw\" \
                     action.resumeRetryCount=\"-1\" action.resumeInterval=\"1\")",
                    to.ip(),
                    to.port()
                ),
                "}".into(),
            ]);
        }
        let diag = dir.join("diag.log");
        config.push(format!(
            "*.* action(type=\"omfile\" file=\"{}\")",
            diag.display()
        ));
        let conf = dir.join("rsyslog.conf");
        std::fs::write(&conf, config.join("\n") + "\n").expect("write rsyslog.conf");
        let child = Command::new(peers::which("rsyslogd").expect("rsyslogd"))
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd");
        RsyslogTail {
            _child: KillOnDrop(child),
            dir: dir.to_path_buf(),
        }
    }

    fn diagnostics(&self) -> String {
        std::fs::read_to_string(self.dir.join("diag.log")).unwrap_or_default()
    }
}

/// Brute-force firings per source address, from the tenant's alerts.
fn alerted(answer: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for alert in answer["alerts"].as_array().into_iter().flatten() {
        if alert["rule_title"] != RULE {
            continue;
        }
        let source = alert["entities"]["source_ip"].as_str().unwrap_or("(none)");
        *out.entry(source.to_string()).or_insert(0) += alert["count"].as_u64().unwrap_or(0);
    }
    out
}

#[test]
fn loghub_linux_and_openssh_over_rsyslog_raise_the_brute_force_alerts() {
    let test = "loghub_linux_and_openssh_over_rsyslog_raise_the_brute_force_alerts";
    if !peers::skip_unless(test, &[Peer::Rsyslog]) {
        return;
    }
    let Some(corpora) = std::env::var_os("VIGIL_CORPORA").map(PathBuf::from) else {
        eprintln!("SKIPPED {test}: VIGIL_CORPORA is not set");
        return;
    };
    let loghub = corpora.join("loghub");
    if !loghub.is_dir() {
        eprintln!("SKIPPED {test}: {} missing", loghub.display());
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with_toml(dir.path(), CONFIG);
    assert_eq!(server.syslog.len(), 2, "{}", server.log());

    let sets = [
        ("combo", "Linux/Linux_2k.log", server.syslog[0]),
        ("labsz", "OpenSSH/OpenSSH_2k.log", server.syslog[1]),
    ];
    // Copies: rsyslog keeps its read position next to them, not in the corpus.
    let mut files = Vec::new();
    let mut expected = Vec::new();
    for (tenant, log, to) in sets {
        let mut text = std::fs::read(loghub.join(log)).expect("read the loghub file");
        // loghub's files end without a newline, and a tail forwards no line
        // before its end (syslog writes whole lines).
        if !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        let copy = dir.path().join(format!("{tenant}.log"));
        std::fs::write(&copy, &text).expect("copy the loghub file");
        let text = String::from_utf8_lossy(&text);
        let evidence = failures(&text);
        let firings = expected_firings(&evidence);
        println!(
            "{log}: {} lines, {} failure lines ({} failures counting repeats) from {} sources; \
             expected {} brute-force firings from {} sources: {firings:?}",
            text.lines().count(),
            evidence.len(),
            evidence.iter().map(|f| f.count).sum::<u64>(),
            evidence
                .iter()
                .map(|f| &f.address)
                .collect::<std::collections::HashSet<_>>()
                .len(),
            firings.values().sum::<u64>(),
            firings.len(),
        );
        assert!(!firings.is_empty(), "{log}: the log shows attacks");
        files.push((copy, to));
        expected.push((tenant, log, firings));
    }
    let rsyslog_dir = dir.path().join("rsyslog");
    std::fs::create_dir_all(&rsyslog_dir).expect("rsyslog dir");
    let file_refs: Vec<(&Path, SocketAddr)> =
        files.iter().map(|(f, a)| (f.as_path(), *a)).collect();
    let rsyslog = RsyslogTail::start(&rsyslog_dir, &file_refs);

    for (tenant, log, firings) in &expected {
        let token = server.token(tenant, "read");
        // Every line arrives (one event per line), then the alerts settle.
        let lines = std::fs::read_to_string(dir.path().join(format!("{tenant}.log")))
            .map(|t| t.lines().count())
            .unwrap_or(0) as u64;
        let host = if *tenant == "combo" { "combo" } else { "LabSZ" };
        let all = server.search_until(&token, &format!("host.name:{host}"), lines);
        assert_eq!(
            all["total"].as_u64(),
            Some(lines),
            "{log}: events stored\n{}",
            rsyslog.diagnostics()
        );
        if *tenant == "labsz" {
            // Its two `message repeated 5 times: [ Failed password ... ]`.
            let repeated = server.search(&token, "event.repeat_count:5 AND event.action:ssh-login");
            assert_eq!(repeated["total"], 2, "{repeated}");
        }
        let query = [("rule", RULE), ("limit", "10000")];
        let answer = server.alerts_until(&token, &query, |a| &alerted(a) == firings);
        let got = alerted(&answer);
        let decoded = server.search(&token, "event.outcome:failure AND source.address:*");
        println!(
            "{log} → tenant {tenant}: {lines} events, {} failures with a source address, \
             {} brute-force firings from {} sources",
            decoded["total"],
            got.values().sum::<u64>(),
            got.len()
        );
        assert_eq!(
            &got, firings,
            "{log}: brute-force alerts per source\n{answer}"
        );
    }

    // Neither tenant sees the other's attackers.
    let combo = server.token("combo", "read");
    let answer = server.alerts(&combo, &[("rule", RULE), ("limit", "10000")]);
    let labsz_sources = &expected[1].2;
    assert!(
        alerted(&answer)
            .keys()
            .all(|s| !labsz_sources.contains_key(s)),
        "{answer}"
    );
}

#[test]
fn the_expected_firings_follow_the_rule() {
    // 6 failures in 13 s, 5 of them in one repeated line: one firing.
    let log = "Dec 10 07:13:31 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=a.example  user=root\n\
               Dec 10 07:13:43 h sshd[1]: Failed password for root from 5.36.59.76 port 42393 ssh2\n\
               Dec 10 07:13:56 h sshd[1]: message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]\n\
               Dec 10 07:13:56 h sshd[1]: PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.36.59.76  user=root\n";
    let f = failures(log);
    assert_eq!(f.iter().map(|f| f.count).sum::<u64>(), 7);
    let fired = expected_firings(&f);
    assert_eq!(fired.get("5.36.59.76"), Some(&1), "{fired:?}");
    assert_eq!(fired.get("a.example"), None);
    // Four in a window, the fifth 5 minutes after the first: none.
    let log: String = [0, 60, 120, 180, 300]
        .iter()
        .map(|s| {
            format!(
                "Jun 14 15:{:02}:{:02} combo sshd(pam_unix)[1]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=1.2.3.4\n",
                s / 60,
                s % 60
            )
        })
        .collect();
    assert!(expected_firings(&failures(&log)).is_empty());
}
