//! Linux authentication messages (auth.log, secure, messages): sshd, sudo,
//! su, PAM, useradd & co., cron, plus the frequent daemon messages of a
//! classic syslog host (ftpd, klogind, logrotate, udev, init scripts...).
//! No I/O: the caller splits the syslog header and passes the tag (`app`,
//! with or without `[pid]`) and the text after `app[pid]: `.
//!
//! Fields keep the message's own names where it has them (`logname`, `rhost`,
//! `TTY`, `COMMAND`, `UID`...) and add ECS names (`user.name`, `source.ip`,
//! `event.outcome`...). `event.action` values are kebab-case verbs.
//! `user.name` is who acts, `user.target.name` whom it is done to (sudo, su,
//! useradd), as in ECS.
//!
//! Messages are matched against small templates (`{}` is a capture) rather
//! than regexes: no dependency, no compile step, and a template reads like
//! the message it matches.

use serde_json::{Map, Value};
use std::net::IpAddr;

/// What a Linux message gave: named fields and its log source (Sigma's
/// `logsource`: `category` and `service`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    pub fields: Map<String, Value>,
    /// `authentication`, `process_creation`, `iam`, `network`...
    pub category: Option<&'static str>,
    /// `sshd`, `sudo`, `cron`, `auth` (other PAM users, su, login), `useradd`...
    pub service: Option<&'static str>,
}

/// The field saying how many times a line's event happened: rsyslog's
/// `message repeated N times: [ msg ]` stands for N events `msg` (the first
/// one was logged on its own line before). Correlations count such an event
/// N times (see `vigil_sigma::correlation::REPEAT_COUNT_FIELD`).
pub const REPEAT_COUNT_FIELD: &str = "event.repeat_count";

/// Decodes one message of `app` (syslog tag, e.g. `sshd`, `sshd[42]`,
/// `sshd(pam_unix)`, `CRON`). `None` when no decoder knows the message.
/// A repeated message (`message repeated 5 times: [ ... ]`) is decoded as
/// its inner message with [`REPEAT_COUNT_FIELD`] set.
pub fn decode_linux(app: &str, message: &str) -> Option<Decoded> {
    let message = message.trim();
    // One level only: rsyslog never nests them, and recursing on outside
    // text would let a crafted line exhaust the stack.
    match capture("message repeated {} times: [{}]", message) {
        Some([count, inner]) => {
            let decoded = decode_once(app, inner.trim())?;
            Some(match count.trim().parse::<u64>() {
                Ok(n) if n > 0 => decoded.num(REPEAT_COUNT_FIELD, &n.to_string()),
                _ => decoded,
            })
        }
        None => decode_once(app, message),
    }
}

fn decode_once(app: &str, message: &str) -> Option<Decoded> {
    let app = app.trim();
    let app = match app.find('[') {
        Some(at) if app.ends_with(']') => &app[..at],
        _ => app,
    };
    // Old Linux-PAM ident: `sshd(pam_unix)`, the message without the
    // `pam_unix(sshd:auth): ` prefix of today's PAM. Another module in
    // parentheses says nothing we read: the program alone counts.
    let app = match app.strip_suffix(')').and_then(|a| a.split_once('(')) {
        Some((service, module)) if module.starts_with("pam_") => {
            return pam(module, service, None, message);
        }
        Some((program, _)) if !program.is_empty() => program,
        _ => app,
    };
    if let Some(decoded) = pam_prefixed(message) {
        return Some(decoded);
    }
    // `syslogd 1.4.1`: the tag carries a version.
    let (name, version) = app.split_once(' ').unwrap_or((app, ""));
    let name = name.to_ascii_lowercase();
    let specific = match name.as_str() {
        "sshd" => sshd(message),
        "sudo" => sudo(message),
        "su" => su(message),
        "cron" | "crond" => cron(message),
        "useradd" | "userdel" | "usermod" | "groupadd" | "groupdel" | "groupmod" | "passwd"
        | "chpasswd" | "gpasswd" | "chage" => iam(static_name(&name), message),
        "ftpd" | "in.ftpd" | "wu-ftpd" => ftpd(message),
        "klogind" | "krb5kdc" => klogind(message),
        "logrotate" => capture("ALERT exited abnormally with [{}]", message).map(|[code]| {
            Decoded::new("logrotate", None, "logrotate-failed")
                .outcome(false)
                .text("log.level", "alert")
                .num("process.exit_code", code)
        }),
        "syslogd" | "syslog" if message == "restart." => {
            Some(Decoded::new("syslog", None, "restart").text("service.version", version))
        }
        "udev" => udev(message),
        "snmpd" => capture("Received SNMP packet(s) from {}", message).map(|[ip]| {
            Decoded::new("snmpd", Some("network"), "snmp-packet-received").host("source", ip)
        }),
        "xinetd" => xinetd(message),
        _ => None,
    };
    specific
        .or_else(|| generic(&name, message))
        .map(|d| match d.service {
            Some(_) => d,
            None => Decoded {
                service: static_name(&name),
                ..d
            },
        })
}

// ---------------------------------------------------------------- sshd

fn sshd(message: &str) -> Option<Decoded> {
    let (message, preauth) = match message.strip_suffix("[preauth]") {
        Some(m) => (m.trim_end(), true),
        None => (message, false),
    };
    let decoded = sshd_levelled(message)?;
    Some(if preauth {
        decoded.flag("ssh.preauth")
    } else {
        decoded
    })
}

/// `error: `/`fatal: ` prefixes, then the message itself.
fn sshd_levelled(message: &str) -> Option<Decoded> {
    for level in ["error", "fatal", "warning"] {
        if let Some(rest) = message
            .strip_prefix(level)
            .and_then(|r| r.strip_prefix(": "))
        {
            let decoded = sshd_message(rest)
                .unwrap_or_else(|| Decoded::new("sshd", None, "error").text("error.message", rest));
            return Some(decoded.text("log.level", level));
        }
    }
    sshd_message(message)
}

fn sshd_message(m: &str) -> Option<Decoded> {
    let auth = |action: &str| Decoded::new("sshd", Some("authentication"), action);
    for (verb, ok) in [("Accepted ", true), ("Failed ", false)] {
        if let Some([method, rest]) = m.strip_prefix(verb).and_then(|r| capture("{} for {}", r)) {
            let (rest, invalid) = strip_invalid(rest);
            let [user, ip, port, tail] = capture("{} from {} port {} {}", rest)?;
            let (protocol, key) = tail.split_once(": ").unwrap_or((tail, ""));
            let mut d = auth("ssh-login")
                .outcome(ok)
                .text("ssh.event", verb.trim())
                .text("ssh.method", method)
                .text("user.name", user)
                .host("source", ip)
                .num("source.port", port)
                .text("ssh.protocol", protocol);
            if let Some((key_type, fingerprint)) = key.split_once(' ') {
                d = d
                    .text("ssh.key_type", key_type)
                    .text("ssh.fingerprint", fingerprint);
            }
            return Some(if invalid { d.flag("user.invalid") } else { d });
        }
    }
    if let Some([user, rest]) = capture("Invalid user {} from {}", m) {
        return Some(
            auth("invalid-user")
                .outcome(false)
                .text("user.name", user)
                .address(rest)
                .flag("user.invalid"),
        );
    }
    if let Some([user]) = capture("input_userauth_request: invalid user {}", m) {
        return Some(
            auth("invalid-user")
                .outcome(false)
                .text("user.name", user)
                .flag("user.invalid"),
        );
    }
    for (prefix, action) in [
        ("Connection closed by ", "connection-closed"),
        ("Disconnected from ", "disconnected"),
        (
            "Did not receive identification string from ",
            "no-identification",
        ),
    ] {
        if let Some(rest) = m.strip_prefix(prefix) {
            return Some(user_address(auth(action), rest));
        }
    }
    if let Some([ip, port, code, reason]) = capture("Received disconnect from {} port {}:{}: {}", m)
    {
        return Some(
            auth("disconnect-received")
                .host("source", ip)
                .num("source.port", port)
                .num("ssh.disconnect_code", code)
                .text("event.reason", reason.trim()),
        );
    }
    if let Some([addr, code, reason]) = capture("Received disconnect from {}: {}: {}", m) {
        return Some(
            auth("disconnect-received")
                .address(addr)
                .num("ssh.disconnect_code", code)
                .text("event.reason", reason.trim()),
        );
    }
    if let Some([rest]) = capture("Disconnecting: Too many authentication failures for {}", m)
        .or_else(|| capture("maximum authentication attempts exceeded for {}", m))
    {
        let (rest, invalid) = strip_invalid(rest);
        let d = auth("too-many-authentication-failures").outcome(false);
        let d = match capture("{} from {} port {} {}", rest) {
            Some([user, ip, port, protocol]) => d
                .text("user.name", user)
                .host("source", ip)
                .num("source.port", port)
                .text("ssh.protocol", protocol),
            None => d.text("user.name", rest),
        };
        return Some(if invalid { d.flag("user.invalid") } else { d });
    }
    if let Some([count, _plural, kv]) = capture("PAM {} more authentication failure{}; {}", m) {
        return Some(
            pam_kv(auth("authentication-failure").outcome(false), kv)
                .num("pam.more_failures", count),
        );
    }
    if let Some([service, tries, max]) = capture("PAM service({}) ignoring max retries; {} > {}", m)
    {
        return Some(
            auth("pam-max-retries")
                .outcome(false)
                .text("pam.service", service)
                .num("pam.retries", tries)
                .num("pam.max_retries", max),
        );
    }
    if let Some([host, ip]) = capture(
        "reverse mapping checking getaddrinfo for {} [{}] failed - POSSIBLE BREAK-IN ATTEMPT!",
        m,
    ) {
        return Some(
            auth("reverse-mapping-failed")
                .text("source.domain", host)
                .host("source", ip),
        );
    }
    if let Some([ip, host]) = capture(
        "Address {} maps to {}, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!",
        m,
    ) {
        return Some(
            auth("reverse-mapping-failed")
                .host("source", ip)
                .text("source.domain", host),
        );
    }
    if let Some([ip, port, local, local_port]) =
        capture("Connection from {} port {} on {} port {}", m)
    {
        return Some(
            Decoded::new("sshd", Some("network"), "connection")
                .host("source", ip)
                .num("source.port", port)
                .host("destination", local)
                .num("destination.port", local_port),
        );
    }
    if let Some([ip, port]) = capture("Server listening on {} port {}.", m) {
        return Some(
            Decoded::new("sshd", None, "listen")
                .host("server", ip)
                .num("server.port", port),
        );
    }
    if let Some([version, addr]) = capture("Bad protocol version identification '{}' from {}", m) {
        return Some(
            auth("bad-protocol-version")
                .text("ssh.client_version", version)
                .address(addr),
        );
    }
    None
}

/// `invalid user X` / `X`: the rest and whether the user was invalid.
fn strip_invalid(rest: &str) -> (&str, bool) {
    match rest.strip_prefix("invalid user ") {
        Some(r) => (r, true),
        None => (rest, false),
    }
}

/// `[invalid |authenticating ]user X IP port N` or `IP [port N]`.
fn user_address(d: Decoded, rest: &str) -> Decoded {
    for (prefix, flag) in [
        ("invalid user ", Some("user.invalid")),
        ("authenticating user ", None),
        ("user ", None),
    ] {
        if let Some(r) = rest.strip_prefix(prefix) {
            let (user_ip, port) = match r.rsplit_once(" port ") {
                Some((left, port)) => (left, Some(port)),
                None => (r, None),
            };
            if let Some((user, ip)) = user_ip.rsplit_once(' ') {
                let d = d.text("user.name", user).host("source", ip);
                let d = match port {
                    Some(port) => d.num("source.port", port),
                    None => d,
                };
                return match flag {
                    Some(f) => d.flag(f),
                    None => d,
                };
            }
        }
    }
    d.address(rest)
}

// ---------------------------------------------------------------- PAM

/// `pam_unix(sshd:auth): ...`
fn pam_prefixed(message: &str) -> Option<Decoded> {
    let (head, rest) = message.split_once("): ")?;
    let (module, service_type) = head.split_once('(')?;
    if !module.starts_with("pam_") {
        return None;
    }
    let (service, kind) = service_type.split_once(':').unwrap_or((service_type, ""));
    pam(module, service, Some(kind), rest)
}

fn pam(module: &str, service: &str, kind: Option<&str>, m: &str) -> Option<Decoded> {
    let base = |action: &str, category: &'static str| {
        Decoded::new(pam_service(service), Some(category), action)
            .text("pam.module", module)
            .text("pam.service", service)
            .text("pam.type", kind.unwrap_or(""))
    };
    if let Some([kv]) = capture("authentication failure; {}", m) {
        return Some(pam_kv(
            base("authentication-failure", "authentication").outcome(false),
            kv,
        ));
    }
    if let Some([count, _plural, kv]) = capture("{} more authentication failure{}; {}", m) {
        return Some(
            pam_kv(
                base("authentication-failure", "authentication").outcome(false),
                kv,
            )
            .num("pam.more_failures", count),
        );
    }
    if let Some([reason]) = capture("check pass; {}", m) {
        return Some(
            base("check-pass", "authentication")
                .outcome(false)
                .text("event.reason", reason),
        );
    }
    if let Some([user]) = capture("auth could not identify password for [{}]", m) {
        return Some(
            base("authentication-failure", "authentication")
                .outcome(false)
                .text("user.name", user)
                .text("event.reason", "could not identify password"),
        );
    }
    for (prefix, action) in [
        ("session opened for user ", "session-opened"),
        ("session closed for user ", "session-closed"),
    ] {
        if let Some(rest) = m.strip_prefix(prefix) {
            return Some(session(base(action, "authentication").outcome(true), rest));
        }
    }
    if let Some([user]) = capture("password changed for {}", m) {
        return Some(
            base("password-changed", "iam")
                .outcome(true)
                .text("user.target.name", user),
        );
    }
    if let Some([user]) = capture("account {} has expired (account expired)", m) {
        return Some(
            base("account-expired", "authentication")
                .outcome(false)
                .text("user.name", user),
        );
    }
    None
}

/// `logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root`
fn pam_kv(mut d: Decoded, kv: &str) -> Decoded {
    for (key, value) in kv.split_whitespace().filter_map(|t| t.split_once('=')) {
        d = match key {
            "uid" | "euid" => d.num(key, value),
            _ => d.text(key, value),
        };
        d = match key {
            "user" => d.text("user.name", value),
            "rhost" => d.host("source", value),
            _ => d,
        };
    }
    d
}

/// `root by alice(uid=1000)`, `root(uid=0) by (uid=0)`, `root by LOGIN(uid=0)`, `root`.
fn session(d: Decoded, rest: &str) -> Decoded {
    let (target, by) = rest.split_once(" by ").unwrap_or((rest, ""));
    let (target, target_uid) = name_uid(target.trim());
    let (by_name, by_uid) = name_uid(by.trim());
    let d = d
        .text("pam.user", target)
        .num("pam.user_id", target_uid)
        .text("pam.by_user", by_name)
        .num("pam.by_uid", by_uid);
    if !by_name.is_empty() && by_name != "LOGIN" && by_name != target {
        d.text("user.name", by_name)
            .num("user.id", by_uid)
            .text("user.target.name", target)
            .num("user.target.id", target_uid)
    } else {
        d.text("user.name", target).num("user.id", target_uid)
    }
}

/// `alice(uid=1000)` -> (`alice`, `1000`); `alice` -> (`alice`, ``).
fn name_uid(s: &str) -> (&str, &str) {
    match capture("{}(uid={})", s) {
        Some([name, uid]) => (name, uid),
        None => (s, ""),
    }
}

fn pam_service(service: &str) -> &'static str {
    match service.to_ascii_lowercase().as_str() {
        "sshd" => "sshd",
        "sudo" | "sudo-i" => "sudo",
        "cron" | "crond" => "cron",
        "passwd" => "passwd",
        "chpasswd" => "chpasswd",
        _ => "auth",
    }
}

// ---------------------------------------------------------------- sudo, su, cron

/// `alice : [REASON ; ]TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls -l`
fn sudo(m: &str) -> Option<Decoded> {
    let (user, rest) = m.split_once(" : ")?;
    if user.contains(' ') {
        return None;
    }
    let (head, command) = match rest.find("COMMAND=") {
        Some(at) => (&rest[..at], Some(&rest[at + "COMMAND=".len()..])),
        None => (rest, None),
    };
    let mut d = Decoded::new("sudo", None, "sudo-command").text("user.name", user);
    let mut reasons = Vec::new();
    for part in head.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((key, value)) if key.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => {
                d = d.text(key, value);
                d = match key {
                    "USER" => d.text("user.target.name", value),
                    "GROUP" => d.text("group.name", value),
                    "PWD" => d.text("process.working_directory", value),
                    _ => d,
                };
            }
            _ => reasons.push(part),
        }
    }
    if let Some(command) = command {
        let command = command.trim();
        d = d
            .text("COMMAND", command)
            .text("process.command_line", command)
            .text(
                "process.executable",
                command.split_whitespace().next().unwrap_or(""),
            );
    }
    if reasons.is_empty() {
        d.category = Some("process_creation");
        return Some(d.outcome(true));
    }
    d.category = Some("authentication");
    for reason in &reasons {
        if let Some([n]) = capture("{} incorrect password attempt{}", reason).map(|[n, _]| [n]) {
            d = d.num("sudo.attempts", n);
        }
    }
    Some(d.outcome(false).text("event.reason", &reasons.join("; ")))
}

fn su(m: &str) -> Option<Decoded> {
    let d = |ok: bool, user: &str, target: &str| {
        Decoded::new("auth", Some("authentication"), "su")
            .outcome(ok)
            .text("user.name", user)
            .text("user.target.name", target)
    };
    if let Some([target, user, tty]) = capture("FAILED SU (to {}) {} on {}", m) {
        return Some(d(false, user, target).text("tty", tty));
    }
    if let Some([target, user, tty]) = capture("(to {}) {} on {}", m) {
        return Some(d(true, user, target).text("tty", tty));
    }
    if let Some([target, user]) = capture("Successful su for {} by {}", m) {
        return Some(d(true, user, target));
    }
    if let Some([target, user]) = capture("FAILED su for {} by {}", m) {
        return Some(d(false, user, target));
    }
    for (sign, ok) in [("+ ", true), ("- ", false)] {
        if let Some([tty, user, target]) = m.strip_prefix(sign).and_then(|r| capture("{} {}:{}", r))
        {
            return Some(d(ok, user, target).text("tty", tty));
        }
    }
    None
}

/// `(root) CMD (command)`, `(root) RELOAD (crontabs/root)`.
fn cron(m: &str) -> Option<Decoded> {
    let [user, verb, detail] = capture("({}) {} ({})", m)?;
    if verb.is_empty() || !verb.bytes().all(|b| b.is_ascii_uppercase() || b == b' ') {
        return None;
    }
    let detail = detail.trim();
    let d = Decoded::new(
        "cron",
        None,
        &format!("cron-{}", verb.to_ascii_lowercase().replace(' ', "-")),
    )
    .text("cron.user", user)
    .text("cron.action", verb)
    .text("cron.detail", detail);
    let d = if user.starts_with('*') || user == "CRON" {
        d
    } else {
        d.text("user.name", user)
    };
    Some(if verb == "CMD" {
        Decoded {
            category: Some("process_creation"),
            ..d.text("process.command_line", detail)
        }
    } else {
        d
    })
}

// ---------------------------------------------------------------- useradd & co.

fn iam(service: Option<&'static str>, m: &str) -> Option<Decoded> {
    let d = |action: &str| Decoded {
        service,
        ..Decoded::new("auth", Some("iam"), action).outcome(true)
    };
    if let Some([kv]) = capture("new user: {}", m) {
        return Some(comma_kv(d("user-created"), kv));
    }
    if let Some([kv]) = capture("new group: {}", m) {
        return Some(comma_kv(d("group-created"), kv));
    }
    if let Some([file, kv]) = capture("group added to {}: {}", m) {
        return Some(comma_kv(d("group-created"), kv).text("file.path", file));
    }
    if let Some([user]) = capture("delete user '{}'", m) {
        return Some(d("user-deleted").text("user.target.name", user));
    }
    if let Some([_shadow, group, owner]) = capture("removed {}group '{}' owned by '{}'", m) {
        return Some(
            d("group-deleted")
                .text("group.name", group)
                .text("user.target.name", owner),
        );
    }
    if let Some([group]) = capture("group '{}' removed", m) {
        return Some(d("group-deleted").text("group.name", group));
    }
    if let Some([group, file]) = capture("group '{}' removed from {}", m) {
        return Some(
            d("group-deleted")
                .text("group.name", group)
                .text("file.path", file),
        );
    }
    if let Some([user, _shadow, group]) = capture("add '{}' to {}group '{}'", m) {
        return Some(
            d("user-added-to-group")
                .text("user.target.name", user)
                .text("group.name", group),
        );
    }
    if let Some([user, _shadow, group]) = capture("delete '{}' from {}group '{}'", m) {
        return Some(
            d("user-removed-from-group")
                .text("user.target.name", user)
                .text("group.name", group),
        );
    }
    for verb in ["change", "lock", "unlock"] {
        if let Some([user, what]) = m
            .strip_prefix(verb)
            .and_then(|r| capture(" user '{}' {}", r))
        {
            return Some(
                d(&format!("user-{verb}"))
                    .text("user.target.name", user)
                    .text("event.reason", what),
            );
        }
    }
    if let Some([user]) = capture("password changed for {}", m) {
        return Some(d("password-changed").text("user.target.name", user));
    }
    if let Some([user]) = capture("changed password expiry for {}", m) {
        return Some(d("password-expiry-changed").text("user.target.name", user));
    }
    None
}

/// `name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash`
fn comma_kv(mut d: Decoded, kv: &str) -> Decoded {
    let group = d.fields.get("event.action").and_then(Value::as_str) == Some("group-created");
    for (key, value) in kv.split(',').filter_map(|t| t.trim().split_once('=')) {
        d = match key {
            "UID" | "GID" => d.num(key, value),
            _ => d.text(key, value),
        };
        d = match (key, group) {
            ("name", false) => d.text("user.target.name", value),
            ("name", true) => d.text("group.name", value),
            ("UID", _) => d.num("user.target.id", value),
            ("GID", _) => d.num("group.id", value),
            _ => d,
        };
    }
    d
}

// ---------------------------------------------------------------- other daemons

fn ftpd(m: &str) -> Option<Decoded> {
    if let Some([ip, host, time]) = capture("connection from {} ({}) at {}", m) {
        return Some(
            Decoded::new("ftpd", Some("network"), "connection")
                .host("source", ip)
                .text("source.domain", host)
                .text("ftp.time", time),
        );
    }
    if let Some([ip, id]) = capture("ANONYMOUS FTP LOGIN FROM {},{}", m) {
        return Some(
            Decoded::new("ftpd", Some("authentication"), "ftp-login")
                .outcome(true)
                .host("source", ip)
                .text("user.name", "anonymous")
                .text(
                    "ftp.anonymous_id",
                    id.trim().trim_start_matches('(').trim_end_matches(')'),
                ),
        );
    }
    if let Some([failed, ip, _host, user]) = capture("{}FTP LOGIN FROM {} [{}], {}", m) {
        return Some(
            Decoded::new("ftpd", Some("authentication"), "ftp-login")
                .outcome(failed.trim().is_empty())
                .host("source", ip)
                .text("user.name", user),
        );
    }
    if let Some([user, seconds, time]) = capture("User {} timed out after {} seconds at {}", m) {
        return Some(
            Decoded::new("ftpd", None, "timeout")
                .text("user.name", user)
                .num("ftp.timeout_seconds", seconds)
                .text("ftp.time", time),
        );
    }
    if let Some([call, program, error]) = capture("{} ({}): {}", m) {
        if !call.contains(' ') {
            return Some(
                Decoded::new("ftpd", None, "error")
                    .text("error.function", call)
                    .text("process.name", program)
                    .text("error.message", error),
            );
        }
    }
    None
}

fn klogind(m: &str) -> Option<Decoded> {
    let d = Decoded::new("auth", Some("authentication"), "kerberos-login").outcome(false);
    if let Some([ip, host, reason]) = capture("Authentication failed from {} ({}): {}", m) {
        return Some(
            d.host("source", ip)
                .text("source.domain", host)
                .text("event.reason", reason),
        );
    }
    (m == "Kerberos authentication failed").then(|| d.text("event.reason", m))
}

fn udev(m: &str) -> Option<Decoded> {
    for (verb, action) in [
        ("creating", "device-node-created"),
        ("removing", "device-node-removed"),
    ] {
        if let Some([path]) = m
            .strip_prefix(verb)
            .and_then(|r| capture(" device node '{}'", r))
        {
            return Some(Decoded::new("udev", None, action).text("file.path", path));
        }
    }
    None
}

/// `START: ftp pid=26462 from=1.2.3.4`, `EXIT: ftp status=0 pid=26462 duration=0(sec)`
fn xinetd(m: &str) -> Option<Decoded> {
    let [verb, rest] = capture("{}: {}", m)?;
    if !matches!(verb, "START" | "EXIT" | "FAIL" | "USERID") {
        return None;
    }
    let mut parts = rest.split_whitespace();
    let mut d = Decoded::new(
        "xinetd",
        Some("network"),
        &format!("xinetd-{}", verb.to_ascii_lowercase()),
    )
    .text("service.name", parts.next().unwrap_or(""));
    for (key, value) in parts.filter_map(|t| t.split_once('=')) {
        d = d.text(key, value);
        d = match key {
            "from" => d.host("source", value.trim_start_matches("::ffff:")),
            "pid" => d.num("process.pid", value),
            "status" => d.num("process.exit_code", value),
            _ => d,
        };
    }
    Some(d)
}

/// Messages any program may log: init scripts, login, log levels.
fn generic(app: &str, m: &str) -> Option<Decoded> {
    for (phase, action) in [
        ("startup", "service-started"),
        ("shutdown", "service-stopped"),
    ] {
        for (result, ok) in [("succeeded", true), ("failed", false)] {
            if let Some([name]) = capture(&format!("{{}} {phase} {result}"), m) {
                if !name.contains(' ') {
                    return Some(
                        Decoded::new_without_service(None, action)
                            .outcome(ok)
                            .text("service.name", name),
                    );
                }
            }
        }
    }
    for (result, ok) in [("succeeded", true), ("failed", false)] {
        if let Some([step]) = capture(&format!("{{}}:  {result}"), m) {
            return Some(
                Decoded::new_without_service(None, "init-step")
                    .outcome(ok)
                    .text("service.step", step),
            );
        }
    }
    if let Some([tty]) = capture("ROOT LOGIN ON {}", m) {
        return Some(
            Decoded::new("auth", Some("authentication"), "login")
                .outcome(true)
                .text("user.name", "root")
                .text("tty", tty),
        );
    }
    if let Some([tty, user]) = capture("LOGIN ON {} BY {}", m) {
        return Some(
            Decoded::new("auth", Some("authentication"), "login")
                .outcome(true)
                .text("user.name", user)
                .text("tty", tty),
        );
    }
    let known: &[(&str, &str, &str, Option<bool>)] = &[
        (
            "named",
            "notify question section contains no SOA",
            "dns-notify-without-soa",
            None,
        ),
        (
            "gdm-binary",
            "Couldn't authenticate user",
            "authentication-failure",
            Some(false),
        ),
    ];
    for &(known_app, text, action, outcome) in known {
        if app == known_app && m == text {
            let d = Decoded::new_without_service(None, action).text("event.reason", text);
            return Some(match outcome {
                Some(ok) => Decoded {
                    category: Some("authentication"),
                    ..d.outcome(ok)
                },
                None => d,
            });
        }
    }
    for level in ["warning", "error", "fatal"] {
        if let Some(rest) = m.strip_prefix(level).and_then(|r| r.strip_prefix(": ")) {
            return Some(
                Decoded::new_without_service(None, "error")
                    .text("log.level", level)
                    .text("error.message", rest),
            );
        }
    }
    None
}

fn static_name(app: &str) -> Option<&'static str> {
    const KNOWN: &[&str] = &[
        "sshd",
        "sudo",
        "su",
        "cron",
        "useradd",
        "userdel",
        "usermod",
        "groupadd",
        "groupdel",
        "groupmod",
        "passwd",
        "chpasswd",
        "gpasswd",
        "chage",
        "ftpd",
        "klogind",
        "logrotate",
        "syslog",
        "udev",
        "snmpd",
        "xinetd",
        "named",
        "login",
        "gdm",
        "cups",
        "kernel",
    ];
    let app = match app {
        "crond" => "cron",
        "syslogd" => "syslog",
        "gdm-binary" => "gdm",
        "in.ftpd" | "wu-ftpd" => "ftpd",
        other => other,
    };
    KNOWN.iter().copied().find(|k| *k == app)
}

// ---------------------------------------------------------------- building blocks

impl Decoded {
    fn new(service: &'static str, category: Option<&'static str>, action: &str) -> Self {
        Decoded {
            service: Some(service),
            ..Decoded::new_without_service(category, action)
        }
    }

    /// The service is then taken from the app name.
    fn new_without_service(category: Option<&'static str>, action: &str) -> Self {
        let mut fields = Map::new();
        fields.insert("event.action".into(), Value::from(action));
        Decoded {
            fields,
            category,
            service: None,
        }
    }

    /// Sets a text field; empty values are left out.
    fn text(mut self, key: &str, value: &str) -> Self {
        if !value.is_empty() {
            self.fields.insert(key.into(), Value::from(value));
        }
        self
    }

    /// Sets a number when `value` is one, else the text.
    fn num(self, key: &str, value: &str) -> Self {
        match value.parse::<u64>() {
            Ok(n) => {
                let mut d = self;
                d.fields.insert(key.into(), Value::from(n));
                d
            }
            Err(_) => self.text(key, value),
        }
    }

    fn flag(mut self, key: &str) -> Self {
        self.fields.insert(key.into(), Value::Bool(true));
        self
    }

    fn outcome(self, ok: bool) -> Self {
        self.text("event.outcome", if ok { "success" } else { "failure" })
    }

    /// `prefix.ip` when `value` is an address, else `prefix.domain`; both
    /// also as `prefix.address` (ECS: the address as logged, IP or name),
    /// which rules group by so that a source logged by name (PAM's `rhost`
    /// after a reverse lookup) is still one source.
    fn host(self, prefix: &str, value: &str) -> Self {
        let value = value.trim();
        let d = self.text(&format!("{prefix}.address"), value);
        match value.parse::<IpAddr>() {
            Ok(_) => d.text(&format!("{prefix}.ip"), value),
            Err(_) => d.text(&format!("{prefix}.domain"), value),
        }
    }

    /// `IP` or `IP port N` into `source.*`.
    fn address(self, addr: &str) -> Self {
        match addr.trim().split_once(" port ") {
            Some((ip, port)) => self.host("source", ip).num("source.port", port.trim()),
            None => self.host("source", addr),
        }
    }
}

/// Matches `text` against `template`, where each `{}` captures the shortest
/// text that lets the rest match (the last one takes what remains).
fn capture<'a, const N: usize>(template: &str, text: &'a str) -> Option<[&'a str; N]> {
    let mut literals = template.split("{}");
    let first = literals.next()?;
    let rest: Vec<&str> = literals.collect();
    debug_assert_eq!(rest.len(), N, "template {template:?}");
    let mut out = [""; N];
    let text = text.strip_prefix(first)?;
    fill(&rest, text, &mut out, 0).then_some(out)
}

fn fill<'a>(literals: &[&str], text: &'a str, out: &mut [&'a str], at: usize) -> bool {
    let Some((literal, more)) = literals.split_first() else {
        return text.is_empty();
    };
    if literal.is_empty() && more.is_empty() {
        out[at] = text;
        return true;
    }
    let mut from = 0;
    while let Some(found) = text[from..].find(literal) {
        let end = from + found;
        out[at] = &text[..end];
        if fill(more, &text[end + literal.len()..], out, at + 1) {
            return true;
        }
        from = end + text[end..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(d: &'a Decoded, key: &str) -> &'a Value {
        d.fields
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", d.fields))
    }

    fn s<'a>(d: &'a Decoded, key: &str) -> &'a str {
        get(d, key)
            .as_str()
            .unwrap_or_else(|| panic!("{key} not text"))
    }

    #[test]
    fn capture_backtracks() {
        assert_eq!(
            capture("({}) {} ({})", "(root) CMD (a (b) c)"),
            Some(["root", "CMD", "a (b) c"])
        );
        assert_eq!(capture::<1>("x {}", "y 1"), None);
        assert_eq!(capture("{} by {}", "a by b by c"), Some(["a", "b by c"]));
    }

    #[test]
    fn sshd_accepted_publickey() {
        let d = decode_linux(
            "sshd",
            "Accepted publickey for alice from 10.0.0.5 port 52144 ssh2: RSA SHA256:abcdef",
        )
        .unwrap();
        assert_eq!(d.service, Some("sshd"));
        assert_eq!(d.category, Some("authentication"));
        assert_eq!(s(&d, "event.outcome"), "success");
        assert_eq!(s(&d, "user.name"), "alice");
        assert_eq!(s(&d, "source.ip"), "10.0.0.5");
        assert_eq!(get(&d, "source.port"), &Value::from(52144));
        assert_eq!(s(&d, "ssh.method"), "publickey");
        assert_eq!(s(&d, "ssh.key_type"), "RSA");
        assert_eq!(s(&d, "ssh.fingerprint"), "SHA256:abcdef");
    }

    #[test]
    fn sshd_failed_invalid_user() {
        let d = decode_linux(
            "sshd[42]",
            "Failed password for invalid user admin from 1.2.3.4 port 22 ssh2",
        )
        .unwrap();
        assert_eq!(s(&d, "event.outcome"), "failure");
        assert_eq!(s(&d, "user.name"), "admin");
        assert_eq!(get(&d, "user.invalid"), &Value::Bool(true));
        let d = decode_linux(
            "sshd",
            "Failed keyboard-interactive/pam for root from ::1 port 5 ssh2",
        )
        .unwrap();
        assert_eq!(s(&d, "ssh.method"), "keyboard-interactive/pam");
        assert_eq!(s(&d, "source.ip"), "::1");
    }

    #[test]
    fn sshd_invalid_user_and_disconnects() {
        let d = decode_linux("sshd", "Invalid user webmaster from 173.234.31.186").unwrap();
        assert_eq!(s(&d, "event.action"), "invalid-user");
        assert_eq!(s(&d, "source.ip"), "173.234.31.186");
        let d = decode_linux("sshd", "Invalid user bob from 1.2.3.4 port 4242").unwrap();
        assert_eq!(get(&d, "source.port"), &Value::from(4242));
        let d = decode_linux(
            "sshd",
            "Connection closed by invalid user test 5.6.7.8 port 33 [preauth]",
        )
        .unwrap();
        assert_eq!(s(&d, "user.name"), "test");
        assert_eq!(s(&d, "source.ip"), "5.6.7.8");
        assert_eq!(get(&d, "ssh.preauth"), &Value::Bool(true));
        let d = decode_linux("sshd", "Connection closed by 173.234.31.186 [preauth]").unwrap();
        assert_eq!(s(&d, "source.ip"), "173.234.31.186");
        let d = decode_linux(
            "sshd",
            "Disconnected from authenticating user root 9.9.9.9 port 1 [preauth]",
        )
        .unwrap();
        assert_eq!(s(&d, "user.name"), "root");
        let d = decode_linux(
            "sshd",
            "Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]",
        )
        .unwrap();
        assert_eq!(get(&d, "ssh.disconnect_code"), &Value::from(11));
        assert_eq!(s(&d, "event.reason"), "Bye Bye");
        let d = decode_linux("sshd", "Did not receive identification string from 1.1.1.1").unwrap();
        assert_eq!(s(&d, "source.ip"), "1.1.1.1");
    }

    #[test]
    fn sshd_received_disconnect_with_port() {
        let d = decode_linux(
            "sshd",
            "Received disconnect from 52.80.34.196 port 36060:11: Bye Bye [preauth]",
        )
        .unwrap();
        assert_eq!(s(&d, "source.ip"), "52.80.34.196");
        assert_eq!(get(&d, "source.port"), &Value::from(36060));
        assert_eq!(get(&d, "ssh.disconnect_code"), &Value::from(11));
    }

    #[test]
    fn sshd_pam_and_misc() {
        let d = decode_linux(
            "sshd",
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root",
        )
        .unwrap();
        assert_eq!(d.service, Some("sshd"));
        assert_eq!(s(&d, "rhost"), "1.2.3.4");
        assert_eq!(s(&d, "source.ip"), "1.2.3.4");
        assert_eq!(s(&d, "user.name"), "root");
        assert_eq!(get(&d, "uid"), &Value::from(0));
        let d = decode_linux(
            "sshd",
            "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root",
        )
        .unwrap();
        assert_eq!(get(&d, "pam.more_failures"), &Value::from(2));
        let d = decode_linux(
            "sshd",
            "error: maximum authentication attempts exceeded for invalid user x from 1.2.3.4 port 5 ssh2 [preauth]",
        )
        .unwrap();
        assert_eq!(s(&d, "log.level"), "error");
        assert_eq!(s(&d, "user.name"), "x");
        let d = decode_linux(
            "sshd",
            "reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
        )
        .unwrap();
        assert_eq!(s(&d, "source.domain"), "ns.example.com");
        assert_eq!(s(&d, "source.ip"), "173.234.31.186");
        let d = decode_linux(
            "sshd",
            "pam_unix(sshd:session): session opened for user bob by (uid=0)",
        )
        .unwrap();
        assert_eq!(s(&d, "event.action"), "session-opened");
        assert_eq!(s(&d, "user.name"), "bob");
        let d = decode_linux(
            "sshd",
            "pam_unix(sshd:session): session closed for user bob",
        )
        .unwrap();
        assert_eq!(s(&d, "event.action"), "session-closed");
        let d = decode_linux(
            "sshd",
            "message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]",
        )
        .unwrap();
        assert_eq!(get(&d, "event.repeat_count"), &Value::from(5));
        assert_eq!(get(&d, "source.port"), &Value::from(42393));
        assert!(decode_linux("sshd", "something nobody knows").is_none());
    }

    #[test]
    fn sudo_messages() {
        let d = decode_linux(
            "sudo",
            "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls -la ; echo",
        )
        .unwrap();
        assert_eq!(d.category, Some("process_creation"));
        assert_eq!(d.service, Some("sudo"));
        assert_eq!(s(&d, "user.name"), "alice");
        assert_eq!(s(&d, "user.target.name"), "root");
        assert_eq!(s(&d, "process.command_line"), "/bin/ls -la ; echo");
        assert_eq!(s(&d, "process.executable"), "/bin/ls");
        assert_eq!(s(&d, "TTY"), "pts/0");
        let d = decode_linux(
            "sudo",
            "alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh",
        )
        .unwrap();
        assert_eq!(s(&d, "event.outcome"), "failure");
        assert_eq!(get(&d, "sudo.attempts"), &Value::from(3));
        let d = decode_linux(
            "sudo",
            "pam_unix(sudo:session): session opened for user root by alice(uid=1000)",
        )
        .unwrap();
        assert_eq!(d.service, Some("sudo"));
        assert_eq!(s(&d, "user.name"), "alice");
        assert_eq!(get(&d, "user.id"), &Value::from(1000));
        assert_eq!(s(&d, "user.target.name"), "root");
    }

    #[test]
    fn su_messages() {
        let d = decode_linux("su", "(to root) alice on pts/0").unwrap();
        assert_eq!(s(&d, "event.outcome"), "success");
        assert_eq!(s(&d, "user.target.name"), "root");
        assert_eq!(s(&d, "user.name"), "alice");
        let d = decode_linux("su", "FAILED SU (to root) alice on pts/0").unwrap();
        assert_eq!(s(&d, "event.outcome"), "failure");
        let d = decode_linux("su", "pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=pts/0 ruser=alice rhost=  user=root").unwrap();
        assert_eq!(s(&d, "ruser"), "alice");
        assert_eq!(d.service, Some("auth"));
        let d = decode_linux("su(pam_unix)", "session opened for user news by (uid=0)").unwrap();
        assert_eq!(s(&d, "user.name"), "news");
        assert_eq!(get(&d, "pam.by_uid"), &Value::from(0));
    }

    #[test]
    fn loghub_pam_variant() {
        let d = decode_linux(
            "sshd(pam_unix)",
            "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4  user=root",
        )
        .unwrap();
        assert_eq!(d.service, Some("sshd"));
        assert_eq!(s(&d, "source.ip"), "218.188.2.4");
        assert_eq!(s(&d, "tty"), "NODEVssh");
        let d = decode_linux("sshd(pam_unix)", "check pass; user unknown").unwrap();
        assert_eq!(s(&d, "event.reason"), "user unknown");
        let d = decode_linux(
            "login(pam_unix)",
            "session opened for user root by LOGIN(uid=0)",
        )
        .unwrap();
        assert_eq!(s(&d, "user.name"), "root");
        let d = decode_linux(
            "gdm(pam_unix)",
            "authentication failure; logname= uid=0 euid=0 tty=:0 ruser= rhost=",
        )
        .unwrap();
        assert!(!d.fields.contains_key("source.ip"));
    }

    #[test]
    fn pam_tags_of_every_program() {
        let failure = "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root";
        for (tag, service) in [
            ("sshd(pam_unix)[20882]", "sshd"),
            ("sshd(pam_unix)", "sshd"),
            ("su(pam_unix)[1]", "auth"),
            ("login(pam_unix)", "auth"),
            ("vsftpd(pam_unix)[7]", "auth"),
            ("cupsd(pam_unix)", "auth"),
        ] {
            let d = decode_linux(tag, failure).unwrap_or_else(|| panic!("{tag}"));
            assert_eq!(d.service, Some(service), "{tag}");
            assert_eq!(d.category, Some("authentication"), "{tag}");
            assert_eq!(s(&d, "event.action"), "authentication-failure", "{tag}");
            assert_eq!(s(&d, "event.outcome"), "failure", "{tag}");
            assert_eq!(s(&d, "user.name"), "root", "{tag}");
            assert_eq!(s(&d, "source.domain"), "220-135-151-1.hinet-ip.hinet.net");
            assert_eq!(s(&d, "source.address"), "220-135-151-1.hinet-ip.hinet.net");
            assert!(!d.fields.contains_key("source.ip"), "{tag}");
            assert_eq!(s(&d, "pam.module"), "pam_unix", "{tag}");
            assert_eq!(get(&d, "uid"), &Value::from(0));
        }
        let d = decode_linux(
            "sshd(pam_unix)",
            "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ",
        )
        .unwrap();
        assert_eq!(s(&d, "source.ip"), "218.188.2.4");
        assert_eq!(s(&d, "source.address"), "218.188.2.4");
        assert!(!d.fields.contains_key("user.name"));
        let d = decode_linux("vsftpd(pam_unix)", "check pass; user unknown").unwrap();
        assert_eq!(s(&d, "event.action"), "check-pass");
        // Another module in parentheses: the program's own decoder.
        let d = decode_linux("sshd(privsep)[3]", "Invalid user bob from 1.2.3.4").unwrap();
        assert_eq!(s(&d, "event.action"), "invalid-user");
        assert_eq!(d.service, Some("sshd"));
    }

    #[test]
    fn repeated_messages() {
        let d = decode_linux(
            "sshd[24227]",
            "message repeated 2 times: [ pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root]",
        )
        .unwrap();
        assert_eq!(s(&d, "event.action"), "authentication-failure");
        assert_eq!(s(&d, "source.ip"), "1.2.3.4");
        assert_eq!(get(&d, REPEAT_COUNT_FIELD), &Value::from(2));
        let d = decode_linux(
            "sshd(pam_unix)",
            "message repeated 3 times: [ authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=1.2.3.4]",
        )
        .unwrap();
        assert_eq!(get(&d, REPEAT_COUNT_FIELD), &Value::from(3));
        assert_eq!(s(&d, "event.outcome"), "failure");
        // A count that is no positive number: the message, once.
        for count in ["0", "-1", "many", "99999999999999999999999"] {
            let line = format!("message repeated {count} times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]");
            let d = decode_linux("sshd", &line).unwrap();
            assert!(!d.fields.contains_key(REPEAT_COUNT_FIELD), "{count}");
            assert_eq!(s(&d, "user.name"), "root");
        }
        // Not nested: an inner repetition is a message nobody knows.
        assert!(decode_linux(
            "sshd",
            "message repeated 2 times: [ message repeated 3 times: [ Failed password for root from 1.2.3.4 port 1 ssh2]]"
        )
        .is_none());
        // Deeply nested text costs no stack.
        let deep = "message repeated 2 times: [ ".repeat(50_000) + &"]".repeat(50_000);
        assert!(decode_linux("sshd", &deep).is_none());
        assert!(decode_linux(
            "sshd",
            "message repeated 5 times: [ something nobody knows]"
        )
        .is_none());
    }

    #[test]
    fn user_management() {
        let d = decode_linux(
            "useradd",
            "new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, from=/dev/pts/0",
        )
        .unwrap();
        assert_eq!(d.service, Some("useradd"));
        assert_eq!(d.category, Some("iam"));
        assert_eq!(s(&d, "user.target.name"), "bob");
        assert_eq!(get(&d, "user.target.id"), &Value::from(1001));
        assert_eq!(s(&d, "shell"), "/bin/bash");
        let d = decode_linux("groupadd", "new group: name=bob, GID=1001").unwrap();
        assert_eq!(s(&d, "group.name"), "bob");
        assert_eq!(get(&d, "group.id"), &Value::from(1001));
        let d = decode_linux("userdel", "delete user 'bob'").unwrap();
        assert_eq!(s(&d, "event.action"), "user-deleted");
        let d = decode_linux("usermod", "add 'bob' to group 'sudo'").unwrap();
        assert_eq!(s(&d, "group.name"), "sudo");
        assert_eq!(s(&d, "user.target.name"), "bob");
        let d = decode_linux("usermod", "add 'bob' to shadow group 'sudo'").unwrap();
        assert_eq!(s(&d, "group.name"), "sudo");
        let d = decode_linux(
            "passwd",
            "pam_unix(passwd:chauthtok): password changed for bob",
        )
        .unwrap();
        assert_eq!(s(&d, "event.action"), "password-changed");
        assert_eq!(d.service, Some("passwd"));
        let d = decode_linux("chpasswd", "password changed for bob").unwrap();
        assert_eq!(s(&d, "user.target.name"), "bob");
    }

    #[test]
    fn cron_messages() {
        let d = decode_linux(
            "CRON",
            "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
        )
        .unwrap();
        assert_eq!(d.service, Some("cron"));
        assert_eq!(d.category, Some("process_creation"));
        assert_eq!(s(&d, "user.name"), "root");
        assert_eq!(
            s(&d, "process.command_line"),
            "cd / && run-parts --report /etc/cron.hourly"
        );
        let d = decode_linux(
            "CRON",
            "pam_unix(cron:session): session opened for user root by (uid=0)",
        )
        .unwrap();
        assert_eq!(d.service, Some("cron"));
        assert_eq!(s(&d, "user.name"), "root");
        let d = decode_linux(
            "CRON",
            "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
        )
        .unwrap();
        assert_eq!(get(&d, "user.id"), &Value::from(0));
    }

    #[test]
    fn other_daemons() {
        let d = decode_linux(
            "ftpd",
            "connection from 24.54.76.216 (24-54-76-216.bflony.adelphia.net) at Fri Jun 17 07:07:00 2005",
        )
        .unwrap();
        assert_eq!(s(&d, "source.ip"), "24.54.76.216");
        assert_eq!(s(&d, "source.domain"), "24-54-76-216.bflony.adelphia.net");
        let d = decode_linux("klogind", "Authentication failed from 163.27.187.39 (163.27.187.39): Permission denied in replay cache code").unwrap();
        assert_eq!(s(&d, "event.outcome"), "failure");
        let d = decode_linux("logrotate", "ALERT exited abnormally with [1]").unwrap();
        assert_eq!(get(&d, "process.exit_code"), &Value::from(1));
        let d = decode_linux("cups", "cupsd startup succeeded").unwrap();
        assert_eq!(s(&d, "service.name"), "cupsd");
        assert_eq!(d.service, Some("cups"));
        let d = decode_linux("syslogd 1.4.1", "restart.").unwrap();
        assert_eq!(s(&d, "service.version"), "1.4.1");
        let d = decode_linux("-- root", "ROOT LOGIN ON tty2").unwrap();
        assert_eq!(s(&d, "tty"), "tty2");
        let d = decode_linux("xinetd", "START: ftp pid=26462 from=::ffff:1.2.3.4").unwrap();
        assert_eq!(s(&d, "source.ip"), "1.2.3.4");
    }
}
