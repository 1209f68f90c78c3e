//! A check as the NOC inventory keeps it: a JSON object of any kind Vigil
//! runs (the four of this crate, SNMP polls and Prometheus scrapes), read
//! and bounded here, once, for the API, the config file and the rows read
//! back at start alike.
//!
//! Every duration, size and count that comes from outside has a bound, and
//! an error names the field and the bound. Durations are read without
//! overflow (`"18446744073709551615s"` is "over the maximum", never a
//! wrapped number). No file is named: `ca_file` is refused here (the
//! config turns its files into `ca_pem` when it is read, see
//! [`StoredCheck`]); a tenant gives CA certificates as PEM text.

pub use crate::spec::MAX_TIMEOUT;
use crate::spec::{
    CheckSpec, MAX_ANSWER_BYTES, MAX_CA_BYTES, MAX_CERT_MIN_DAYS, MAX_EXPECTED_ANSWERS,
    MAX_EXPECT_TEXT_BYTES, MAX_PINGS, MAX_REDIRECTS, MAX_RETRIES, MAX_TARGET_BYTES,
};
use crate::{format_duration, StatusExpect};
use serde_json::{Map, Value};
use std::time::Duration;

/// The kinds of check Vigil runs.
pub const KINDS: &[&str] = &["icmp", "tcp", "http", "dns", "snmp", "prometheus"];

/// Kinds the scheduler of this crate runs (SNMP and Prometheus are polled
/// by the server's own loops).
pub const RUNNABLE: &[&str] = &["icmp", "tcp", "http", "dns"];

/// The shortest interval of a stored check.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The longest: a check run less than daily is not monitoring.
pub const MAX_INTERVAL: Duration = Duration::from_secs(86_400);
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// A run's budget when the check names none (or the interval, if shorter).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole JSON of one check, CA certificates included.
pub const MAX_SPEC_BYTES: usize = 96 * 1024;
/// Settings of one check, at most.
pub const MAX_KEYS: usize = 64;
/// SNMP: a community, a v3 user name (RFC 3414: 32) and the v3 passwords
/// (RFC 3414 wants at least 8 characters).
pub const MAX_COMMUNITY_BYTES: usize = 255;
pub const MAX_USER_BYTES: usize = 32;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_BYTES: usize = 256;
/// CA certificates kept with a check, at most.
pub const MAX_CA_PEM_BYTES: usize = MAX_CA_BYTES;
/// An SNMP or exporter target (`host[:port]`, or an exporter's URL).
pub const MAX_HOST_BYTES: usize = 255;

/// What is wrong with a check, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

fn bad(field: &str, reason: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// A check read and bounded: the settings every kind has, and the run of a
/// kind this crate's scheduler runs.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCheck {
    pub kind: String,
    pub target: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub enabled: bool,
    /// For icmp, tcp, http and dns.
    pub run: Option<CheckSpec>,
}

/// Reads a check of `kind` from its stored JSON (`asset` and `kind`
/// aside). Never panics, whatever the JSON.
pub fn read_stored(kind: &str, spec: &Map<String, Value>) -> Result<StoredCheck, FieldError> {
    if !KINDS.contains(&kind) {
        return Err(bad(
            "kind",
            format!("{kind:?} is not one of {}", KINDS.join(", ")),
        ));
    }
    if spec.len() > MAX_KEYS {
        return Err(bad("check", format!("more than {MAX_KEYS} settings")));
    }
    // The one large setting first, for an error that names it.
    text(spec, "ca_pem", MAX_CA_BYTES)?;
    let size = serde_json::to_string(spec).map_or(usize::MAX, |s| s.len());
    if size > MAX_SPEC_BYTES {
        return Err(bad(
            "check",
            format!("longer than the maximum of {MAX_SPEC_BYTES} bytes"),
        ));
    }
    if spec.contains_key("ca_file") {
        return Err(bad(
            "ca_file",
            "the server reads no file for a check; give the CA certificates as PEM text in ca_pem",
        ));
    }
    refuse_unknown(kind, spec)?;
    let target = text(spec, "target", MAX_TARGET_BYTES)?.ok_or_else(|| bad("target", "missing"))?;
    if target.trim().is_empty() {
        return Err(bad("target", "empty"));
    }
    let interval =
        duration(spec, "interval", MIN_INTERVAL, MAX_INTERVAL)?.unwrap_or(DEFAULT_INTERVAL);
    let max_timeout = interval.min(MAX_TIMEOUT);
    let timeout = duration(spec, "timeout", Duration::from_millis(1), max_timeout)
        .map_err(|e| match e.reason.contains("maximum") {
            true => bad(
                "timeout",
                format!("{} (the interval, 60s at most)", e.reason),
            ),
            false => e,
        })?
        .unwrap_or(DEFAULT_TIMEOUT.min(interval));
    let enabled = match spec.get("enabled") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("enabled", "true or false")),
    };
    number(spec, "retries", 0, u64::from(MAX_RETRIES))?;
    text(spec, "note", MAX_NOTE_BYTES)?;
    let run = match kind {
        "snmp" => {
            read_snmp(spec, &target)?;
            None
        }
        "prometheus" => {
            read_exporter(&target)?;
            None
        }
        _ => Some(read_runnable(kind, spec, &target, interval, timeout)?),
    };
    Ok(StoredCheck {
        kind: kind.to_owned(),
        target,
        interval,
        timeout,
        enabled,
        run,
    })
}

/// The settings every kind has.
const COMMON_KEYS: &[&str] = &[
    "asset", "kind", "target", "interval", "timeout", "retries", "enabled", "note",
];

/// A check's free-text note for the people who read it (why it exists,
/// whom to call).
const MAX_NOTE_BYTES: usize = 1024;

/// The settings of one kind besides [`COMMON_KEYS`].
pub fn kind_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "icmp" => &["count"],
        "tcp" => &["port"],
        "http" => &[
            "url",
            "expect_status",
            "expect_text",
            "follow_redirects",
            "verify_tls",
            "ca_pem",
            "cert_min_days",
        ],
        "dns" => &["name", "record_type", "server", "expect"],
        "snmp" => &[
            "community",
            "user",
            "auth_protocol",
            "auth_password",
            "priv_password",
        ],
        _ => &[],
    }
}

/// A setting no kind reads is a typo (`expect_staus`) that would be
/// stored and ignored: refused, naming the settings the kind has.
fn refuse_unknown(kind: &str, spec: &Map<String, Value>) -> Result<(), FieldError> {
    let own = kind_keys(kind);
    let known = |key: &str| COMMON_KEYS.contains(&key) || own.contains(&key);
    let Some(unknown) = spec.keys().find(|k| !known(k)) else {
        return Ok(());
    };
    let expected: Vec<String> = COMMON_KEYS
        .iter()
        .chain(own)
        .map(|k| format!("`{k}`"))
        .collect();
    // The key is outside input: shown bounded and escaped.
    let shown: String = unknown.escape_debug().take(100).collect();
    Err(bad(
        &shown,
        format!(
            "unknown field `{shown}` of a {kind} check, expected one of {}",
            expected.join(", ")
        ),
    ))
}

/// A string setting of at most `max` bytes; `None` when absent.
fn text(spec: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, FieldError> {
    match spec.get(field) {
        None => Ok(None),
        Some(Value::String(s)) if s.len() > max => Err(bad(
            field,
            format!("longer than the maximum of {max} bytes"),
        )),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(field, "a string")),
    }
}

/// A whole number setting within `min..=max`; `None` when absent.
fn number(
    spec: &Map<String, Value>,
    field: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, FieldError> {
    let Some(value) = spec.get(field) else {
        return Ok(None);
    };
    let n = value
        .as_u64()
        .ok_or_else(|| bad(field, format!("a whole number from {min} to {max}")))?;
    if !(min..=max).contains(&n) {
        return Err(bad(field, format!("{n} is not between {min} and {max}")));
    }
    Ok(Some(n))
}

/// A duration setting within `min..=max`; `None` when absent.
pub fn duration(
    spec: &Map<String, Value>,
    field: &str,
    min: Duration,
    max: Duration,
) -> Result<Option<Duration>, FieldError> {
    let millis = match spec.get(field) {
        None => return Ok(None),
        Some(Value::String(s)) => duration_millis(s),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(secs) => Ok(u128::from(secs) * 1000),
            None => Err("a whole number of seconds, or a duration such as \"30s\""),
        },
        Some(_) => Err("a duration such as \"30s\""),
    }
    .map_err(|reason| bad(field, reason))?;
    let shown = || match spec.get(field) {
        Some(Value::String(s)) => format!("{:?}", s.trim()),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    if millis > max.as_millis() {
        return Err(bad(
            field,
            format!(
                "{} is over the maximum of {}",
                shown(),
                format_duration(max)
            ),
        ));
    }
    if millis < min.as_millis() {
        return Err(bad(
            field,
            format!(
                "{} is under the minimum of {}",
                shown(),
                format_duration(min)
            ),
        ));
    }
    // Within `max`, so it fits.
    Ok(Some(Duration::from_millis(millis as u64)))
}

/// `30s`, `5m`, `1h`, `1d`, `250ms`, or a number of seconds, in
/// milliseconds; a number too large for any bound is `u128::MAX`, never an
/// overflow.
pub fn duration_millis(text: &str) -> Result<u128, &'static str> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err("a duration such as \"30s\", \"5m\", \"1h\" or \"1d\"");
    }
    let per_unit: u128 = match unit {
        "" | "s" => 1_000,
        "ms" => 1,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err("unknown unit: use ms, s, m, h or d"),
    };
    // 30 digits are beyond every bound; more would not fit a u128.
    if digits.trim_start_matches('0').len() > 30 {
        return Ok(u128::MAX);
    }
    let n: u128 = digits.parse().map_err(|_| "not a number")?;
    Ok(n.saturating_mul(per_unit))
}

/// icmp, tcp, http, dns: the bounds of their own settings, the operators'
/// shorthands filled in, then the crate's [`CheckSpec`].
fn read_runnable(
    kind: &str,
    stored: &Map<String, Value>,
    target: &str,
    interval: Duration,
    timeout: Duration,
) -> Result<CheckSpec, FieldError> {
    let mut spec = stored.clone();
    spec.remove("asset");
    spec.remove("enabled");
    spec.insert("kind".into(), kind.into());
    for (key, value) in [("interval", interval), ("timeout", timeout)] {
        spec.insert(key.into(), format!("{}ms", value.as_millis()).into());
    }
    match kind {
        "icmp" => {
            number(&spec, "count", 1, u64::from(MAX_PINGS))?;
        }
        "tcp" => {
            if let Some(port) = spec.get("port") {
                read_port("port", port)?;
            } else {
                let (host, port) = split_port(target)?;
                spec.insert("target".into(), host.trim_matches(['[', ']']).into());
                spec.insert("port".into(), port.into());
            }
        }
        "http" => read_http(&mut spec, target)?,
        "dns" => {
            text(&spec, "name", 255)?;
            if !spec.contains_key("name") {
                spec.insert("name".into(), target.into());
            }
            read_dns_types(&spec)?;
            if let Some(list) = spec.get("expect").and_then(Value::as_array) {
                if list.len() > MAX_EXPECTED_ANSWERS {
                    return Err(bad(
                        "expect",
                        format!("more than {MAX_EXPECTED_ANSWERS} answers"),
                    ));
                }
                let long = |v: &Value| v.as_str().is_some_and(|s| s.len() > MAX_ANSWER_BYTES);
                if list.iter().any(long) {
                    return Err(bad(
                        "expect",
                        format!("an answer is longer than {MAX_ANSWER_BYTES} bytes"),
                    ));
                }
            }
        }
        _ => {}
    }
    let spec: CheckSpec =
        serde_json::from_value(Value::Object(spec)).map_err(|e| serde_error(&e.to_string()))?;
    spec.validate().map_err(|e| bad(e.field(), e.to_string()))?;
    Ok(spec)
}

/// A port setting: a whole number from 1 to 65535.
fn read_port(field: &str, value: &Value) -> Result<u16, FieldError> {
    value
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| bad(field, format!("{value} is not a port (1–65535)")))
}

/// A tcp target `host:port`: a target without a port needs `port`, and a
/// port written in it must be one.
fn split_port(target: &str) -> Result<(&str, u16), FieldError> {
    let needs = || {
        bad(
            "port",
            "missing: a tcp check needs \"port\" or a target such as host:443",
        )
    };
    let (host, port) = target.rsplit_once(':').ok_or_else(needs)?;
    let shown: String = port.escape_debug().take(40).collect();
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| bad("target", format!("port {shown} is not a port (1–65535)")))?;
    Ok((host, port))
}

/// A serde error of the kind's settings, under the field it names
/// (`missing field `server``), else under the kind's own settings.
fn serde_error(message: &str) -> FieldError {
    let named = message.split('`').nth(1).filter(|name| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    });
    match named {
        Some(field) => bad(field, message),
        None => bad("check", message),
    }
}

/// The DNS settings serde would refuse without naming them.
fn read_dns_types(spec: &Map<String, Value>) -> Result<(), FieldError> {
    match spec.get("server") {
        None => {
            return Err(bad(
                "server",
                "missing: the resolver, such as 192.0.2.53:53",
            ))
        }
        Some(Value::String(s)) if s.parse::<std::net::SocketAddr>().is_ok() => {}
        Some(_) => {
            return Err(bad(
                "server",
                "an address with its port, such as 192.0.2.53:53",
            ))
        }
    }
    if let Some(kind) = spec.get("record_type") {
        let known = ["A", "AAAA", "CNAME", "MX", "TXT"];
        if !kind.as_str().is_some_and(|k| known.contains(&k)) {
            return Err(bad("record_type", format!("one of {}", known.join(", "))));
        }
    }
    if let Some(expect) = spec.get("expect") {
        let strings = expect
            .as_array()
            .is_some_and(|list| list.iter().all(Value::is_string));
        if !strings {
            return Err(bad("expect", "a list of answers (strings)"));
        }
    }
    Ok(())
}

fn read_http(spec: &mut Map<String, Value>, target: &str) -> Result<(), FieldError> {
    text(spec, "url", MAX_TARGET_BYTES)?;
    if !spec.contains_key("url") {
        spec.insert("url".into(), target.into());
    }
    if let Some(text) = text(spec, "expect_text", MAX_EXPECT_TEXT_BYTES)? {
        if text.is_empty() {
            return Err(bad("expect_text", "empty"));
        }
    }
    number(spec, "follow_redirects", 0, u64::from(MAX_REDIRECTS))?;
    number(spec, "cert_min_days", 0, u64::from(MAX_CERT_MIN_DAYS))?;
    if let Some(status) = spec.get("expect_status") {
        let shown = status.to_string();
        if shown.len() > 512 {
            return Err(bad("expect_status", "longer than 512 bytes"));
        }
        serde_json::from_value::<StatusExpect>(status.clone())
            .map_err(|e| bad("expect_status", e.to_string()))?;
    }
    if spec.get("verify_tls").is_some_and(|v| !v.is_boolean()) {
        return Err(bad("verify_tls", "true or false"));
    }
    if let Some(pem) = text(spec, "ca_pem", MAX_CA_BYTES)? {
        crate::tls::pem_roots(pem.as_bytes()).map_err(|e| bad("ca_pem", e))?;
    }
    Ok(())
}

/// SNMP: v2c with `community`, or v3 with `user`, `auth_protocol`,
/// `auth_password` and optionally `priv_password`.
fn read_snmp(spec: &Map<String, Value>, target: &str) -> Result<(), FieldError> {
    read_host_port(target)?;
    for field in ["community", "auth_password", "priv_password"] {
        // What the store could not open keeps its sealed form.
        if spec
            .get(field)
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("enc:v1:"))
        {
            return Err(bad(
                field,
                "a sealed value this server cannot open (its secret key changed?); set it again",
            ));
        }
    }
    if let Some(community) = text(spec, "community", MAX_COMMUNITY_BYTES)? {
        if community.is_empty() {
            return Err(bad("community", "empty"));
        }
    }
    let user = text(spec, "user", MAX_USER_BYTES)?;
    if let Some(protocol) = text(spec, "auth_protocol", 16)? {
        if !["sha", "sha1", "sha256"].contains(&protocol.as_str()) {
            return Err(bad("auth_protocol", "sha or sha256"));
        }
    }
    for field in ["auth_password", "priv_password"] {
        if let Some(password) = text(spec, field, MAX_PASSWORD_BYTES)? {
            if password.chars().count() < MIN_PASSWORD_CHARS {
                return Err(bad(
                    field,
                    format!("at least {MIN_PASSWORD_CHARS} characters (RFC 3414)"),
                ));
            }
            if user.is_none() {
                return Err(bad(field, "v3 passwords go with a user"));
            }
        }
    }
    match &user {
        Some(name) if name.trim().is_empty() => Err(bad("user", "empty")),
        Some(_) if !spec.contains_key("auth_password") => {
            Err(bad("auth_password", "an SNMPv3 user needs one"))
        }
        _ => Ok(()),
    }
}

/// `host` or `host:port` (a bracketed IPv6 literal too).
fn read_host_port(target: &str) -> Result<(), FieldError> {
    if target.len() > MAX_HOST_BYTES {
        return Err(bad(
            "target",
            format!("longer than the maximum of {MAX_HOST_BYTES} bytes"),
        ));
    }
    let port = match target.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((_, "")) => None,
            Some((_, tail)) => Some(tail.strip_prefix(':').unwrap_or("x")),
            None => return Err(bad("target", "an IPv6 address without its closing ]")),
        },
        // One colon: host:port; more: an IPv6 literal without a port.
        None => match target.matches(':').count() {
            1 => target.rsplit_once(':').map(|(_, p)| p),
            _ => None,
        },
    };
    if port.is_some_and(|p| !p.parse::<u16>().is_ok_and(|p| p > 0)) {
        return Err(bad(
            "target",
            "host or host:port, with a port from 1 to 65535",
        ));
    }
    Ok(())
}

/// A Prometheus exporter: `http://host[:port][/path]`.
fn read_exporter(target: &str) -> Result<(), FieldError> {
    let rest = target
        .strip_prefix("http://")
        .ok_or_else(|| bad("target", "an exporter URL: http://host[:port][/path]"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(bad("target", "the exporter URL names no host"));
    }
    read_host_port(authority)
}

#[cfg(test)]
mod tests;
