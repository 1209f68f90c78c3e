//! Linux audit records (auditd's `audit.log`, audisp/`audit` over syslog,
//! or the kernel's own `audit: type=1300 audit(...)` lines) and the
//! [`AuditAssembler`] that joins the records of one event.
//!
//! A record is `[node=HOST ]type=TYPE msg=audit(SECS.MILLIS:SERIAL): k=v ...`.
//! Values are `"quoted"` (no escapes: auditd hex-encodes anything with a
//! quote, space or control character), `'single quoted'` (the `msg='..'` of
//! userspace records, itself `k=v` pairs, merged into the record), or bare.
//! A bare value of a field auditd may hex-encode (`comm`, `exe`, `cwd`,
//! `name`, `proctitle`, `cmd`, `acct`, `key`, `data`..., and EXECVE's
//! `a0..aN`) is decoded when it is hex; PROCTITLE's NUL separators become
//! spaces; a hex `key` holding several keys (`\x01` separated) gives a list.
//! The ENRICHED log format's interpreted fields (after `\x1d`: `ARCH`,
//! `SYSCALL`, `AUID`, `UID`...) are kept under their upper-case names; for
//! the raw format the syscall number is named (`SYSCALL=execve`) for
//! x86_64 and aarch64.
//!
//! Fields keep the raw names at the top level (`type`, `syscall`, `a0`,
//! `exe`, `comm`, `key`, `name`, `nametype`, `SYSCALL`...: what Sigma's
//! linux/auditd rules match) and add ECS names: `process.executable`
//! (exe), `process.name` (comm), `process.pid`, `process.parent.pid`,
//! `process.command_line` (EXECVE args, USER_CMD `cmd`, else PROCTITLE),
//! `process.args`, `process.title` (proctitle), `process.working_directory`
//! (cwd), `user.id` (uid), `user.audit.id` (auid, unless unset),
//! `user.effective.id` (euid), `group.id` (gid), `user.name` (acct, else
//! the ENRICHED `UID`), `user.audit.name` (`AUID`), `user.effective.name`
//! (`EUID`), `group.name` (`GID`),
//! `source.ip` (addr) / `source.domain` (hostname), `destination.ip` and
//! `destination.port` (SOCKADDR `saddr`), `event.outcome` (`res=`,
//! `success=`), `event.action` (the record type lowercased),
//! `event.sequence` (serial), `host.name` (node).
//!
//! Log source: product `linux`, service `auditd`.

use crate::record::{parse_ip, put_num, put_text, LogSourceTag, Record};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use vigil_core::Timestamp;

/// What the [`AuditAssembler`] needs of an audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPart {
    /// The event's serial number (`4567` of `audit(1700000000.123:4567)`).
    pub serial: u64,
    /// The event's time (`1700000000.123`).
    pub time: Timestamp,
    /// The record type as auditd names it (`SYSCALL`, `UNKNOWN[1999]`).
    pub record_type: String,
    /// `node=` of a multi-host audit setup.
    pub node: Option<String>,
    /// A userspace record that is an event by itself: no EOE follows.
    pub standalone: bool,
}

/// Decodes one audit record; `None` when `text` is not one. `text` is the
/// syslog message or the raw `audit.log` line.
pub fn decode_audit(text: &str) -> Option<Record> {
    let header = split_header(text)?;
    let mut doc = Map::new();
    doc.insert("type".into(), Value::from(header.record_type.as_str()));
    if let Some(node) = header.node {
        put_text(&mut doc, "node", node);
        put_text(&mut doc, "host.name", node);
    }
    let is_execve = header.record_type == "EXECVE";
    let mut body = header.body;
    if let Some(rest) = body.strip_prefix("avc:") {
        body = avc(rest, &mut doc);
    }
    let mut args: BTreeMap<u32, String> = BTreeMap::new();
    for (key, value) in pairs(body) {
        if key == "msg" {
            if let Val::Single(inner) = value {
                let inner = match inner.strip_prefix("avc:") {
                    Some(rest) => avc(rest, &mut doc),
                    None => inner,
                };
                for (key, value) in pairs(inner) {
                    insert_field(&mut doc, key, value, false, &mut args);
                }
                continue;
            }
        }
        insert_field(&mut doc, key, value, is_execve, &mut args);
    }
    for (index, arg) in &args {
        let key = format!("a{index}");
        if !doc.contains_key(&key) {
            doc.insert(key, Value::from(arg.as_str()));
        }
    }
    let record_type = header.record_type;
    ecs(&mut doc, &record_type, &args);
    put_num(&mut doc, "event.sequence", &header.serial.to_string());
    let part = AuditPart {
        serial: header.serial,
        time: header.time,
        standalone: is_standalone(&record_type),
        record_type,
        node: header.node.map(str::to_string),
    };
    Some(Record {
        doc,
        source: LogSourceTag::new(Some("linux"), None, Some("auditd")),
        time: Some(header.time),
        audit: Some(part),
    })
}

// ------------------------------------------------------------ header

struct Header<'a> {
    node: Option<&'a str>,
    record_type: String,
    time: Timestamp,
    serial: u64,
    body: &'a str,
}

/// `[node=H ]type=T msg=audit(S.M:N): body`, also the kernel's
/// `[ 12.3] audit: type=1300 audit(S.M:N): body`.
fn split_header(text: &str) -> Option<Header<'_>> {
    let mut t = text.trim_start();
    if t.starts_with('[') {
        // The kernel's uptime stamp.
        if let Some((_, rest)) = t.split_once(']') {
            t = rest.trim_start();
        }
    }
    if let Some(rest) = t.strip_prefix("audit:") {
        t = rest.trim_start();
    }
    let mut node = None;
    if let Some(rest) = t.strip_prefix("node=") {
        let (n, rest) = rest.split_once(' ')?;
        node = Some(n);
        t = rest.trim_start();
    }
    let rest = t.strip_prefix("type=")?;
    let (kind, rest) = rest.split_once(' ')?;
    let rest = rest.trim_start();
    let rest = rest
        .strip_prefix("msg=audit(")
        .or_else(|| rest.strip_prefix("audit("))?;
    let (stamp, body) = rest.split_once(')')?;
    let body = body.strip_prefix(':').unwrap_or(body);
    let (time, serial) = stamp.split_once(':')?;
    let time = parse_time(time)?;
    let serial: u64 = serial.parse().ok()?;
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let record_type = match kind.parse::<u32>() {
        Ok(n) => type_name(n).map_or_else(|| format!("UNKNOWN[{n}]"), str::to_string),
        Err(_) => kind.to_string(),
    };
    Some(Header {
        node,
        record_type,
        time,
        serial,
        body: body.trim(),
    })
}

/// `1700000000.123` → its time.
fn parse_time(s: &str) -> Option<Timestamp> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if secs.is_empty() || secs.len() > 12 || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let mut micros = 0i64;
    for i in 0..6 {
        let d = frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
        micros = micros * 10 + d;
    }
    Some(Timestamp(secs.checked_mul(1_000_000)?.checked_add(micros)?))
}

// ------------------------------------------------------------ body

#[derive(Debug, Clone, Copy, PartialEq)]
enum Val<'a> {
    /// `"..."`
    Quoted(&'a str),
    /// `'...'`
    Single(&'a str),
    Bare(&'a str),
}

fn is_sep(c: char) -> bool {
    c == ' ' || c == '\u{1d}' || c == '\t'
}

/// The `key=value` pairs of a record body; words without `=` are skipped.
fn pairs(body: &str) -> Vec<(&str, Val<'_>)> {
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        rest = rest.trim_start_matches(is_sep);
        if rest.is_empty() {
            break;
        }
        let word_end = rest.find(is_sep).unwrap_or(rest.len());
        let Some(eq) = rest.get(..word_end).and_then(|w| w.find('=')) else {
            rest = rest.get(word_end..).unwrap_or("");
            continue;
        };
        let key = rest.get(..eq).unwrap_or("");
        let after = rest.get(eq + 1..).unwrap_or("");
        let (value, next) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let inner = after.get(1..).unwrap_or("");
                let (v, next) = match inner.find(q) {
                    Some(end) => (
                        inner.get(..end).unwrap_or(""),
                        inner.get(end + 1..).unwrap_or(""),
                    ),
                    None => (inner, ""),
                };
                (
                    if q == '"' {
                        Val::Quoted(v)
                    } else {
                        Val::Single(v)
                    },
                    next,
                )
            }
            _ => {
                let end = after.find(is_sep).unwrap_or(after.len());
                (
                    Val::Bare(after.get(..end).unwrap_or("")),
                    after.get(end..).unwrap_or(""),
                )
            }
        };
        // Audit field names are words (`a1[0]`, `old-auid`): a dotted or
        // odd name is dropped rather than let it pose as an ECS name.
        if !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'[' | b']'))
        {
            out.push((key, value));
        }
        rest = next;
    }
    out
}

/// `  denied  { read write } for  pid=..`: `seresult`, `seperms`, the rest.
fn avc<'a>(rest: &'a str, doc: &mut Map<String, Value>) -> &'a str {
    let rest = rest.trim_start();
    let (result, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    put_text(doc, "seresult", result);
    let rest = rest.trim_start();
    let Some(inner) = rest.strip_prefix('{') else {
        return rest;
    };
    let (perms, rest) = inner.split_once('}').unwrap_or((inner, ""));
    let perms: Vec<Value> = perms.split_whitespace().map(Value::from).collect();
    if !perms.is_empty() {
        doc.insert("seperms".into(), Value::Array(perms));
    }
    let rest = rest.trim_start();
    rest.strip_prefix("for").unwrap_or(rest)
}

/// Fields auditd hex-encodes when they hold a space, quote or control
/// character (they are otherwise quoted).
const ENCODED: &[&str] = &[
    "comm",
    "exe",
    "cwd",
    "name",
    "proctitle",
    "cmd",
    "acct",
    "path",
    "key",
    "data",
    "ocomm",
    "dir",
    "file",
    "watch",
    "root_dir",
    "old-chardev",
    "new-chardev",
    "vm",
    "old-vm",
    "new-vm",
    "grp",
    "new_group",
];

fn insert_field(
    doc: &mut Map<String, Value>,
    key: &str,
    value: Val<'_>,
    is_execve: bool,
    args: &mut BTreeMap<u32, String>,
) {
    let arg = is_execve.then(|| execve_arg(key)).flatten();
    let text = match value {
        Val::Quoted(v) | Val::Single(v) => v.to_string(),
        Val::Bare(v) if arg.is_some() || ENCODED.contains(&key) => match unhex(v) {
            Some(bytes) if key == "key" && bytes.contains(&1) => {
                let keys: Vec<Value> = bytes
                    .split(|&b| b == 1)
                    .map(|k| Value::from(String::from_utf8_lossy(k).into_owned()))
                    .collect();
                doc.entry(key).or_insert(Value::Array(keys));
                return;
            }
            Some(mut bytes) => {
                if key == "proctitle" {
                    while bytes.last() == Some(&0) {
                        bytes.pop();
                    }
                    for b in &mut bytes {
                        if *b == 0 {
                            *b = b' ';
                        }
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
            None => v.to_string(),
        },
        Val::Bare(v) => v.to_string(),
    };
    if let Some((index, piece)) = arg {
        // `a1[0]=..` `a1[1]=..`: one long argument in pieces, joined (and
        // given as `a1`) by `decode_audit` once all are read.
        let entry = args.entry(index).or_default();
        if piece.is_some() || entry.is_empty() {
            entry.push_str(&text);
        }
        if piece.is_some() {
            return;
        }
    }
    doc.entry(key).or_insert(Value::from(text));
}

/// `a3` → (3, None), `a3[1]` → (3, Some(1)); `a3_len` and others → None.
fn execve_arg(key: &str) -> Option<(u32, Option<u32>)> {
    let rest = key.strip_prefix('a')?;
    let (index, piece) = match rest.split_once('[') {
        Some((i, p)) => (i, Some(p.strip_suffix(']')?.parse().ok()?)),
        None => (rest, None),
    };
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((index.parse().ok()?, piece))
}

/// Upper-case hex with an even number of digits → its bytes.
fn unhex(v: &str) -> Option<Vec<u8>> {
    let b = v.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    b.chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(digit(*hi)? << 4 | digit(*lo)?),
            _ => None,
        })
        .collect()
}

// ------------------------------------------------------------ ECS names

/// `(null)`, `?` and the unset id mean "nothing".
fn meaningful(v: &str) -> bool {
    !matches!(
        v,
        "" | "?" | "(null)" | "(none)" | "4294967295" | "-1" | "unset"
    )
}

fn raw<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    doc.get(key)
        .and_then(Value::as_str)
        .filter(|v| meaningful(v))
}

fn ecs(doc: &mut Map<String, Value>, record_type: &str, args: &BTreeMap<u32, String>) {
    // The first source of a name wins.
    let copy = |doc: &mut Map<String, Value>, from: &str, to: &str, number: bool| {
        if doc.contains_key(to) {
            return;
        }
        if let Some(v) = raw(doc, from).map(str::to_string) {
            if number {
                put_num(doc, to, &v);
            } else {
                put_text(doc, to, &v);
            }
        }
    };
    copy(doc, "exe", "process.executable", false);
    copy(doc, "comm", "process.name", false);
    copy(doc, "pid", "process.pid", true);
    copy(doc, "ppid", "process.parent.pid", true);
    copy(doc, "uid", "user.id", false);
    copy(doc, "auid", "user.audit.id", false);
    copy(doc, "euid", "user.effective.id", false);
    copy(doc, "gid", "group.id", false);
    copy(doc, "acct", "user.name", false);
    // ENRICHED format: the names of the ids.
    copy(doc, "UID", "user.name", false);
    copy(doc, "AUID", "user.audit.name", false);
    copy(doc, "EUID", "user.effective.name", false);
    copy(doc, "GID", "group.name", false);
    copy(doc, "cwd", "process.working_directory", false);
    copy(doc, "proctitle", "process.title", false);
    if let Some(addr) = raw(doc, "addr").map(str::to_string) {
        if let Some(ip) = parse_ip(&addr) {
            put_text(doc, "source.ip", &ip.to_string());
        }
    }
    if let Some(host) = raw(doc, "hostname").map(str::to_string) {
        match parse_ip(&host) {
            Some(ip) => {
                doc.entry("source.ip")
                    .or_insert(Value::from(ip.to_string()));
            }
            None => put_text(doc, "source.domain", &host),
        }
    }
    let outcome = match (raw(doc, "res"), raw(doc, "success")) {
        (Some("success" | "1" | "yes"), _) | (None, Some("yes")) => Some("success"),
        (Some("failed" | "0" | "no" | "failure"), _) | (None, Some("no")) => Some("failure"),
        _ => None,
    };
    if let Some(o) = outcome {
        put_text(doc, "event.outcome", o);
    }
    put_text(doc, "event.action", &record_type.to_ascii_lowercase());
    if record_type == "EXECVE" && !args.is_empty() {
        let list: Vec<&str> = args.values().map(String::as_str).collect();
        put_text(doc, "process.command_line", &list.join(" "));
        doc.insert(
            "process.args".into(),
            Value::Array(list.into_iter().map(Value::from).collect()),
        );
        copy(doc, "argc", "process.args_count", true);
    }
    if record_type == "USER_CMD" {
        copy(doc, "cmd", "process.command_line", false);
    }
    if record_type == "PROCTITLE" {
        copy(doc, "proctitle", "process.command_line", false);
    }
    if record_type == "SOCKADDR" {
        if let Some((ip, port)) = raw(doc, "saddr").and_then(sockaddr) {
            put_text(doc, "destination.ip", &ip);
            if port != 0 {
                doc.insert("destination.port".into(), Value::from(port));
            }
        }
    }
    if !doc.contains_key("SYSCALL") {
        let arch = raw(doc, "arch").unwrap_or("");
        if let Some(name) = raw(doc, "syscall")
            .and_then(|n| n.parse::<u32>().ok())
            .and_then(|n| syscall_name(arch, n))
        {
            put_text(doc, "SYSCALL", name);
        }
    }
}

/// A hex `struct sockaddr` of AF_INET or AF_INET6 → (address, port).
fn sockaddr(hex: &str) -> Option<(String, u16)> {
    let b = unhex(&hex.to_ascii_uppercase())?;
    let family = u16::from_le_bytes([*b.first()?, *b.get(1)?]);
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    match family {
        2 => {
            let ip: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some((std::net::Ipv4Addr::from(ip).to_string(), port))
        }
        10 => {
            let ip: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            Some((std::net::Ipv6Addr::from(ip).to_string(), port))
        }
        _ => None,
    }
}

/// Userspace records, which are events by themselves (no EOE follows).
fn is_standalone(record_type: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "USER_",
        "CRED_",
        "ADD_",
        "DEL_",
        "SERVICE_",
        "DAEMON_",
        "SYSTEM_",
        "ACCT_",
        "GRP_",
        "USYS_",
        "CHUSER_ID",
        "CHGRP_ID",
        "TRUSTED_APP",
        "SOFTWARE_UPDATE",
        "ANOM_LOGIN",
        "ANOM_ADD_ACCT",
        "ANOM_DEL_ACCT",
        "ANOM_MOD_ACCT",
        "ANOM_ROOT_TRANS",
        "RESP_",
        "CRYPTO_",
        "VIRT_",
        "ROLE_",
        "LOGIN",
    ];
    if let Some(n) = record_type
        .strip_prefix("UNKNOWN[")
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|n| n.parse::<u32>().ok())
    {
        return (1100..=1299).contains(&n) || (2100..=2999).contains(&n);
    }
    PREFIXES.iter().any(|p| record_type.starts_with(p))
}

/// The name of a numeric record type (the kernel's `type=1300`).
fn type_name(n: u32) -> Option<&'static str> {
    const NAMES: &[(u32, &str)] = &[
        (1005, "CONFIG_CHANGE"),
        (1006, "LOGIN"),
        (1100, "USER_AUTH"),
        (1101, "USER_ACCT"),
        (1102, "USER_MGMT"),
        (1103, "CRED_ACQ"),
        (1104, "CRED_DISP"),
        (1105, "USER_START"),
        (1106, "USER_END"),
        (1107, "USER_AVC"),
        (1108, "USER_CHAUTHTOK"),
        (1109, "USER_ERR"),
        (1110, "CRED_REFR"),
        (1111, "USYS_CONFIG"),
        (1112, "USER_LOGIN"),
        (1113, "USER_LOGOUT"),
        (1114, "ADD_USER"),
        (1115, "DEL_USER"),
        (1116, "ADD_GROUP"),
        (1117, "DEL_GROUP"),
        (1119, "CHGRP_ID"),
        (1121, "TRUSTED_APP"),
        (1123, "USER_CMD"),
        (1124, "USER_TTY"),
        (1125, "CHUSER_ID"),
        (1126, "GRP_AUTH"),
        (1127, "SYSTEM_BOOT"),
        (1128, "SYSTEM_SHUTDOWN"),
        (1129, "SYSTEM_RUNLEVEL"),
        (1130, "SERVICE_START"),
        (1131, "SERVICE_STOP"),
        (1132, "GRP_MGMT"),
        (1133, "GRP_CHAUTHTOK"),
        (1135, "ACCT_LOCK"),
        (1136, "ACCT_UNLOCK"),
        (1137, "USER_DEVICE"),
        (1138, "SOFTWARE_UPDATE"),
        (1300, "SYSCALL"),
        (1302, "PATH"),
        (1303, "IPC"),
        (1304, "SOCKETCALL"),
        (1305, "CONFIG_CHANGE"),
        (1306, "SOCKADDR"),
        (1307, "CWD"),
        (1309, "EXECVE"),
        (1318, "OBJ_PID"),
        (1319, "TTY"),
        (1320, "EOE"),
        (1321, "BPRM_FCAPS"),
        (1322, "CAPSET"),
        (1323, "MMAP"),
        (1324, "NETFILTER_PKT"),
        (1325, "NETFILTER_CFG"),
        (1326, "SECCOMP"),
        (1327, "PROCTITLE"),
        (1328, "FEATURE_CHANGE"),
        (1329, "REPLACE"),
        (1330, "KERN_MODULE"),
        (1331, "FANOTIFY"),
        (1334, "BPF"),
        (1400, "AVC"),
        (1401, "SELINUX_ERR"),
        (1700, "ANOM_PROMISCUOUS"),
        (1701, "ANOM_ABEND"),
        (1702, "ANOM_LINK"),
    ];
    NAMES.iter().find(|(k, _)| *k == n).map(|(_, name)| *name)
}

/// The syscall names of x86_64 (`arch=c000003e`) and aarch64
/// (`c00000b7`) that audit rules usually watch.
fn syscall_name(arch: &str, n: u32) -> Option<&'static str> {
    const X86_64: &[(u32, &str)] = &[
        (0, "read"),
        (1, "write"),
        (2, "open"),
        (3, "close"),
        (4, "stat"),
        (9, "mmap"),
        (10, "mprotect"),
        (21, "access"),
        (41, "socket"),
        (42, "connect"),
        (43, "accept"),
        (44, "sendto"),
        (45, "recvfrom"),
        (49, "bind"),
        (50, "listen"),
        (56, "clone"),
        (57, "fork"),
        (58, "vfork"),
        (59, "execve"),
        (60, "exit"),
        (62, "kill"),
        (63, "uname"),
        (76, "truncate"),
        (77, "ftruncate"),
        (80, "chdir"),
        (82, "rename"),
        (83, "mkdir"),
        (84, "rmdir"),
        (85, "creat"),
        (86, "link"),
        (87, "unlink"),
        (88, "symlink"),
        (90, "chmod"),
        (91, "fchmod"),
        (92, "chown"),
        (93, "fchown"),
        (94, "lchown"),
        (99, "sysinfo"),
        (101, "ptrace"),
        (103, "syslog"),
        (105, "setuid"),
        (106, "setgid"),
        (113, "setreuid"),
        (114, "setregid"),
        (117, "setresuid"),
        (119, "setresgid"),
        (133, "mknod"),
        (157, "prctl"),
        (159, "adjtimex"),
        (161, "chroot"),
        (164, "settimeofday"),
        (165, "mount"),
        (166, "umount2"),
        (169, "reboot"),
        (170, "sethostname"),
        (171, "setdomainname"),
        (175, "init_module"),
        (176, "delete_module"),
        (188, "setxattr"),
        (189, "lsetxattr"),
        (190, "fsetxattr"),
        (197, "removexattr"),
        (198, "lremovexattr"),
        (199, "fremovexattr"),
        (227, "clock_settime"),
        (231, "exit_group"),
        (246, "kexec_load"),
        (257, "openat"),
        (258, "mkdirat"),
        (259, "mknodat"),
        (260, "fchownat"),
        (263, "unlinkat"),
        (264, "renameat"),
        (265, "linkat"),
        (266, "symlinkat"),
        (268, "fchmodat"),
        (269, "faccessat"),
        (272, "unshare"),
        (288, "accept4"),
        (304, "open_by_handle_at"),
        (308, "setns"),
        (310, "process_vm_readv"),
        (311, "process_vm_writev"),
        (313, "finit_module"),
        (316, "renameat2"),
        (319, "memfd_create"),
        (320, "kexec_file_load"),
        (321, "bpf"),
        (322, "execveat"),
        (435, "clone3"),
        (437, "openat2"),
    ];
    const AARCH64: &[(u32, &str)] = &[
        (33, "mknodat"),
        (34, "mkdirat"),
        (35, "unlinkat"),
        (39, "umount2"),
        (40, "mount"),
        (53, "fchmodat"),
        (54, "fchownat"),
        (56, "openat"),
        (57, "close"),
        (63, "read"),
        (64, "write"),
        (105, "init_module"),
        (106, "delete_module"),
        (116, "syslog"),
        (117, "ptrace"),
        (129, "kill"),
        (179, "sysinfo"),
        (198, "socket"),
        (200, "bind"),
        (201, "listen"),
        (202, "accept"),
        (203, "connect"),
        (220, "clone"),
        (221, "execve"),
        (273, "finit_module"),
        (279, "memfd_create"),
        (281, "execveat"),
    ];
    let table = match arch.to_ascii_lowercase().as_str() {
        "c000003e" | "x86_64" => X86_64,
        "c00000b7" | "aarch64" => AARCH64,
        _ => return None,
    };
    table.iter().find(|(k, _)| *k == n).map(|(_, name)| *name)
}

// ------------------------------------------------------------ assembler

/// Joins the records of one audit event (same `group`, node, time and
/// serial) into one record:
///
/// - `type` becomes the list of the record types, in order, without
///   repeats and without `EOE` (`["SYSCALL","EXECVE","CWD","PATH"]`);
/// - other fields: the first record that has a field wins, except that
///   EXECVE's `a0..aN`, `process.args` and `process.command_line` replace
///   the SYSCALL record's (`a0..a3` of SYSCALL are then left out: they are
///   pointers), and the `name`/`nametype` of the PATH records are collected
///   into lists (a single one stays a single value);
/// - `event.action` is the first record type, lowercased.
///
/// Events are given out when their EOE record arrives, at once for
/// standalone userspace records (USER_*, CRED_*, ADD_*, DEL_*, SERVICE_*,
/// LOGIN...), by [`AuditAssembler::flush`] for those that never get an
/// EOE, and, oldest first, when more than `max_pending` events wait.
/// Records that are not audit records (`Record::audit` is `None`) pass
/// through.
#[derive(Debug)]
pub struct AuditAssembler {
    pending: HashMap<EventKey, Pending>,
    /// Arrival order: sequence number → event.
    order: BTreeMap<u64, EventKey>,
    next_seq: u64,
    max_pending: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EventKey {
    group: String,
    node: Option<String>,
    time: Timestamp,
    serial: u64,
}

#[derive(Debug)]
struct Pending {
    seq: u64,
    received: Timestamp,
    records: Vec<Record>,
}

/// Records kept per event; more are dropped (an event with thousands of
/// PATH records is not worth the memory).
const MAX_RECORDS_PER_EVENT: usize = 256;

impl Default for AuditAssembler {
    fn default() -> Self {
        AuditAssembler::new(4096)
    }
}

impl AuditAssembler {
    /// An assembler holding at most `max_pending` (at least 1) unfinished
    /// events.
    pub fn new(max_pending: usize) -> Self {
        AuditAssembler {
            pending: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            max_pending: max_pending.max(1),
        }
    }

    /// Unfinished events held.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Adds one record of `group` (e.g. the tenant and sending host),
    /// received at `received` (the caller's clock, which
    /// [`AuditAssembler::flush`] compares with); returns the events it
    /// completes.
    pub fn push(&mut self, group: &str, record: Record, received: Timestamp) -> Vec<Record> {
        let Some(part) = record.audit.clone() else {
            return vec![record];
        };
        if part.standalone {
            return vec![record];
        }
        let key = EventKey {
            group: group.to_string(),
            node: part.node.clone(),
            time: part.time,
            serial: part.serial,
        };
        if part.record_type == "EOE" {
            return self.take(&key).into_iter().collect();
        }
        let mut out = Vec::new();
        match self.pending.get_mut(&key) {
            Some(p) => {
                if p.records.len() < MAX_RECORDS_PER_EVENT {
                    p.records.push(record);
                }
            }
            None => {
                while self.pending.len() >= self.max_pending {
                    let Some((_, oldest)) = self.order.pop_first() else {
                        break;
                    };
                    if let Some(p) = self.pending.remove(&oldest) {
                        out.push(merge(p.records));
                    }
                }
                let seq = self.next_seq;
                self.next_seq += 1;
                self.order.insert(seq, key.clone());
                self.pending.insert(
                    key,
                    Pending {
                        seq,
                        received,
                        records: vec![record],
                    },
                );
            }
        }
        out
    }

    /// Gives out, in arrival order, the events whose first record was
    /// received before `older_than` (they will not get their EOE).
    pub fn flush(&mut self, older_than: Timestamp) -> Vec<Record> {
        let due: Vec<EventKey> = self
            .order
            .values()
            .filter(|k| {
                self.pending
                    .get(*k)
                    .is_some_and(|p| p.received < older_than)
            })
            .cloned()
            .collect();
        due.iter().filter_map(|k| self.take(k)).collect()
    }

    /// Gives out every unfinished event (at shutdown).
    pub fn flush_all(&mut self) -> Vec<Record> {
        let keys: Vec<EventKey> = self.order.values().cloned().collect();
        keys.iter().filter_map(|k| self.take(k)).collect()
    }

    fn take(&mut self, key: &EventKey) -> Option<Record> {
        let p = self.pending.remove(key)?;
        self.order.remove(&p.seq);
        Some(merge(p.records))
    }
}

/// One record out of the records of one event (see [`AuditAssembler`]).
fn merge(records: Vec<Record>) -> Record {
    let has_execve = records
        .iter()
        .any(|r| r.audit.as_ref().is_some_and(|a| a.record_type == "EXECVE"));
    let mut doc = Map::new();
    let mut types: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut nametypes = Vec::new();
    let mut first: Option<(LogSourceTag, Option<Timestamp>, Option<AuditPart>)> = None;
    for r in records {
        let kind = r
            .audit
            .as_ref()
            .map_or_else(String::new, |a| a.record_type.clone());
        if first.is_none() {
            first = Some((r.source.clone(), r.time, r.audit.clone()));
        }
        if !kind.is_empty() && kind != "EOE" && !types.contains(&kind) {
            types.push(kind.clone());
        }
        for (key, value) in r.doc {
            let is_arg = execve_arg(&key).is_some_and(|(_, piece)| piece.is_none());
            match key.as_str() {
                "type" | "event.action" => {}
                "name" if kind == "PATH" => names.push(value),
                "nametype" if kind == "PATH" => nametypes.push(value),
                "process.args" | "process.command_line" | "process.args_count"
                    if kind == "EXECVE" =>
                {
                    doc.insert(key, value);
                }
                _ if is_arg && kind == "EXECVE" => {
                    doc.insert(key, value);
                }
                _ if is_arg && has_execve => {}
                _ => {
                    doc.entry(key).or_insert(value);
                }
            }
        }
    }
    for (key, mut list) in [("name", names), ("nametype", nametypes)] {
        match list.len() {
            0 => {}
            1 => {
                doc.entry(key).or_insert(list.remove(0));
            }
            _ => {
                doc.insert(key.into(), Value::Array(list));
            }
        }
    }
    if let Some(t) = types.first() {
        doc.insert("event.action".into(), Value::from(t.to_ascii_lowercase()));
    }
    doc.insert(
        "type".into(),
        Value::Array(types.into_iter().map(Value::from).collect()),
    );
    let (source, time, audit) = first.unwrap_or_default();
    Record {
        doc,
        source,
        time,
        audit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T: Timestamp = Timestamp(1_700_000_000_123_000);

    fn get<'a>(r: &'a Record, key: &str) -> &'a Value {
        r.doc
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", r.doc))
    }

    fn audit(line: &str) -> Record {
        decode_audit(line).unwrap_or_else(|| panic!("not audit: {line}"))
    }

    const SYSCALL: &str = r#"type=SYSCALL msg=audit(1700000000.123:4567): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c4a8e2a0 a1=55d0c4a8e2d0 a2=55d0c4a8e300 a3=8 items=2 ppid=1200 pid=1300 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="bash" exe="/usr/bin/bash" subj=unconfined key="exec""#;
    const EXECVE: &str = r#"type=EXECVE msg=audit(1700000000.123:4567): argc=3 a0="bash" a1="-c" a2=6563686F2068656C6C6F"#;
    const CWD: &str = r#"type=CWD msg=audit(1700000000.123:4567): cwd="/home/alice""#;
    const PATH0: &str = r#"type=PATH msg=audit(1700000000.123:4567): item=0 name="/usr/bin/bash" inode=1 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0"#;
    const PATH1: &str = r#"type=PATH msg=audit(1700000000.123:4567): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=2 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL"#;
    const PROCTITLE: &str = "type=PROCTITLE msg=audit(1700000000.123:4567): proctitle=62617368002D63006563686F2068656C6C6F";
    const EOE: &str = "type=EOE msg=audit(1700000000.123:4567): ";

    #[test]
    fn syscall_record() {
        let r = audit(SYSCALL);
        assert_eq!(get(&r, "type"), "SYSCALL");
        assert_eq!(get(&r, "SYSCALL"), "execve");
        assert_eq!(get(&r, "syscall"), "59");
        assert_eq!(get(&r, "exe"), "/usr/bin/bash");
        assert_eq!(get(&r, "comm"), "bash");
        assert_eq!(get(&r, "key"), "exec");
        assert_eq!(get(&r, "a0"), "55d0c4a8e2a0");
        assert_eq!(get(&r, "process.executable"), "/usr/bin/bash");
        assert_eq!(get(&r, "process.name"), "bash");
        assert_eq!(get(&r, "process.pid"), &json!(1300));
        assert_eq!(get(&r, "process.parent.pid"), &json!(1200));
        assert_eq!(get(&r, "user.id"), "0");
        assert_eq!(get(&r, "user.audit.id"), "1000");
        assert_eq!(get(&r, "event.outcome"), "success");
        assert_eq!(get(&r, "event.action"), "syscall");
        assert_eq!(r.time, Some(T));
        assert_eq!(
            r.source,
            LogSourceTag::new(Some("linux"), None, Some("auditd"))
        );
        let part = r.audit.unwrap();
        assert_eq!(part.serial, 4567);
        assert!(!part.standalone);
    }

    #[test]
    fn execve_and_proctitle_hex() {
        let r = audit(EXECVE);
        assert_eq!(get(&r, "a2"), "echo hello");
        assert_eq!(get(&r, "process.command_line"), "bash -c echo hello");
        assert_eq!(
            get(&r, "process.args"),
            &json!(["bash", "-c", "echo hello"])
        );
        let r = audit(PROCTITLE);
        assert_eq!(get(&r, "proctitle"), "bash -c echo hello");
        let r = audit(
            r#"type=EXECVE msg=audit(1.5:9): argc=2 a0="cat" a1_len=10 a1[0]=2F6574632F a1[1]=706173737764"#,
        );
        assert_eq!(get(&r, "a1"), "/etc/passwd");
        assert_eq!(get(&r, "process.command_line"), "cat /etc/passwd");
    }

    #[test]
    fn hex_names_and_unset_ids() {
        let r = audit("type=SYSCALL msg=audit(1700000000.5:1): arch=c000003e syscall=2 success=no exit=-2 pid=5 auid=4294967295 uid=1000 comm=6D792070726F67 exe=2F746D702F6D792070726F67 key=6B31016B32");
        assert_eq!(get(&r, "comm"), "my prog");
        assert_eq!(get(&r, "exe"), "/tmp/my prog");
        assert_eq!(get(&r, "key"), &json!(["k1", "k2"]));
        assert_eq!(get(&r, "event.outcome"), "failure");
        assert_eq!(get(&r, "SYSCALL"), "open");
        assert!(!r.doc.contains_key("user.audit.id"));
        assert_eq!(r.time, Some(Timestamp(1_700_000_000_500_000)));
    }

    #[test]
    fn user_records_nested_msg() {
        let r = audit(
            r#"type=USER_LOGIN msg=audit(1700000100.000:77): pid=4242 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.50 terminal=sshd res=failed'"#,
        );
        assert_eq!(get(&r, "type"), "USER_LOGIN");
        assert_eq!(get(&r, "op"), "login");
        assert_eq!(get(&r, "user.name"), "root");
        assert_eq!(get(&r, "acct"), "root");
        assert_eq!(get(&r, "source.ip"), "203.0.113.50");
        assert_eq!(get(&r, "event.outcome"), "failure");
        assert_eq!(get(&r, "event.action"), "user_login");
        assert_eq!(get(&r, "process.executable"), "/usr/sbin/sshd");
        assert!(r.audit.unwrap().standalone);

        let r = audit(
            r#"type=USER_CMD msg=audit(1700000200.000:80): pid=900 uid=1000 auid=1000 ses=2 msg='cwd="/home/alice" cmd=636174202F6574632F736861646F77 exe="/usr/bin/sudo" terminal=pts/0 res=success'"#,
        );
        assert_eq!(get(&r, "cmd"), "cat /etc/shadow");
        assert_eq!(get(&r, "process.command_line"), "cat /etc/shadow");
        assert_eq!(get(&r, "process.working_directory"), "/home/alice");
        assert_eq!(get(&r, "event.outcome"), "success");

        let r = audit(
            r#"type=ADD_USER msg=audit(1700000300.000:90): pid=1 uid=0 auid=1000 ses=2 msg='op=adding user id=1001 exe="/usr/sbin/useradd" hostname=web1 addr=? terminal=pts/1 res=success'"#,
        );
        assert_eq!(get(&r, "type"), "ADD_USER");
        assert_eq!(get(&r, "source.domain"), "web1");
        let r = audit(
            r#"type=USER_AUTH msg=audit(1700000400.000:91): pid=3 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct=28696E76616C6964207573657229 exe="/usr/sbin/sshd" hostname=10.0.0.9 addr=10.0.0.9 terminal=ssh res=failed'"#,
        );
        assert_eq!(get(&r, "user.name"), "(invalid user)");
    }

    #[test]
    fn syslog_forms_and_kernel_numbers() {
        let r = audit("node=web1 type=SERVICE_START msg=audit(1700000000.000:5): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='unit=nginx comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'");
        assert_eq!(get(&r, "host.name"), "web1");
        assert_eq!(get(&r, "unit"), "nginx");
        assert_eq!(r.audit.as_ref().unwrap().node.as_deref(), Some("web1"));
        let r = audit("audit: type=1300 audit(1700000000.123:45): arch=c000003e syscall=42 success=yes exit=0 a0=3 pid=7 comm=\"curl\"");
        assert_eq!(get(&r, "type"), "SYSCALL");
        assert_eq!(get(&r, "SYSCALL"), "connect");
        let r = audit("[ 1234.567] audit: type=1400 audit(1700000000.1:46): avc:  denied  { read write } for  pid=8 comm=\"httpd\" name=\"x\" scontext=a tcontext=b tclass=file permissive=0");
        assert_eq!(get(&r, "type"), "AVC");
        assert_eq!(get(&r, "seresult"), "denied");
        assert_eq!(get(&r, "seperms"), &json!(["read", "write"]));
        assert_eq!(get(&r, "comm"), "httpd");
        let r = audit(
            "type=SOCKADDR msg=audit(1700000000.1:47): saddr=02000050C0A800010000000000000000",
        );
        assert_eq!(get(&r, "destination.ip"), "192.168.0.1");
        assert_eq!(get(&r, "destination.port"), &json!(80));
        let r = audit("type=SYSCALL msg=audit(1700000000.1:48): arch=c000003e syscall=59 success=yes exit=0 comm=\"id\"\u{1d}ARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"root\"");
        assert_eq!(get(&r, "SYSCALL"), "execve");
        assert_eq!(get(&r, "AUID"), "alice");
        assert_eq!(get(&r, "user.audit.name"), "alice");
        assert_eq!(get(&r, "user.name"), "root");
        assert_eq!(get(&r, "ARCH"), "x86_64");
    }

    #[test]
    fn not_audit() {
        for line in [
            "",
            "type=",
            "type=SYSCALL",
            "type=SYSCALL msg=audit(abc:1): x=1",
            "type=SYSCALL msg=audit(1.2:x): x=1",
            "hello world",
            "type=X msg=audit(1.2:3",
        ] {
            assert_eq!(decode_audit(line), None, "{line}");
        }
        // Odd but harmless bodies.
        let r = audit("type=X msg=audit(1.2:3): a=\"unterminated k='x");
        assert_eq!(get(&r, "a"), "unterminated k='x");
        let r = audit("type=X msg=audit(1.2:3): source.port=x event.action=y ok=1");
        assert!(!r.doc.contains_key("source.port"));
        assert_eq!(get(&r, "event.action"), "x");
        assert_eq!(get(&r, "ok"), "1");
    }

    fn assemble(lines: &[&str]) -> (AuditAssembler, Vec<Record>) {
        let mut a = AuditAssembler::new(16);
        let mut out = Vec::new();
        for line in lines {
            out.extend(a.push("host1", audit(line), T));
        }
        (a, out)
    }

    #[test]
    fn assembles_one_execve_event() {
        let (a, out) = assemble(&[SYSCALL, EXECVE, CWD, PATH0, PATH1, PROCTITLE, EOE]);
        assert_eq!(a.pending(), 0);
        assert_eq!(out.len(), 1);
        let r = &out[0];
        assert_eq!(
            get(r, "type"),
            &json!(["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"])
        );
        assert_eq!(
            get(r, "name"),
            &json!(["/usr/bin/bash", "/lib64/ld-linux-x86-64.so.2"])
        );
        assert_eq!(get(r, "nametype"), &json!(["NORMAL", "NORMAL"]));
        assert_eq!(get(r, "a0"), "bash");
        assert_eq!(get(r, "a2"), "echo hello");
        assert!(!r.doc.contains_key("a3"), "syscall pointer args dropped");
        assert_eq!(get(r, "process.command_line"), "bash -c echo hello");
        assert_eq!(get(r, "process.working_directory"), "/home/alice");
        assert_eq!(get(r, "process.executable"), "/usr/bin/bash");
        assert_eq!(get(r, "SYSCALL"), "execve");
        assert_eq!(get(r, "event.action"), "syscall");
        assert_eq!(get(r, "key"), "exec");
        assert_eq!(r.time, Some(T));
        assert_eq!(r.source.service.as_deref(), Some("auditd"));
    }

    #[test]
    fn standalone_flush_and_cap() {
        let mut a = AuditAssembler::new(2);
        let user = audit("type=USER_END msg=audit(1700000000.0:1): pid=1 uid=0 msg='op=PAM:session_close acct=\"bob\" res=success'");
        assert_eq!(a.push("h", user, T).len(), 1);
        let other_host = audit(SYSCALL);
        assert!(a.push("h", audit(SYSCALL), T).is_empty());
        assert!(a.push("h2", other_host, T).is_empty());
        assert_eq!(a.pending(), 2);
        // A third event pushes out the oldest.
        let third = audit("type=SYSCALL msg=audit(1700000001.0:2): syscall=1");
        let out = a.push("h", third, Timestamp(T.0 + 10));
        assert_eq!(out.len(), 1);
        assert_eq!(get(&out[0], "type"), &json!(["SYSCALL"]));
        assert_eq!(a.pending(), 2);
        assert!(a.flush(T).is_empty());
        assert_eq!(a.flush(Timestamp(T.0 + 1)).len(), 1);
        assert_eq!(a.flush_all().len(), 1);
        assert_eq!(a.pending(), 0);
        // Non-audit records pass through; a lone EOE gives nothing.
        let plain = Record::new(Map::new(), LogSourceTag::default());
        assert_eq!(a.push("h", plain, T).len(), 1);
        assert!(a.push("h", audit(EOE), T).is_empty());
    }
}
