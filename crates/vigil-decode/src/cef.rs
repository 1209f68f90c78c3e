//! ArcSight CEF and IBM QRadar LEEF: the one-line formats most security
//! appliances (firewalls, IDS, proxies, authentication servers) emit. No I/O.
//!
//! The caller strips the syslog header and passes the message part; leading
//! whitespace before `CEF:` / `LEEF:` is accepted.
//!
//! - CEF: `CEF:Version|Device Vendor|Device Product|Device Version|Device
//!   Event Class ID|Name|Severity|Extension`. Header fields are separated by
//!   `|`, with the escapes `\|` and `\\`. The extension is `key=value` pairs
//!   separated by spaces; a value runs until the next ` key=` and may contain
//!   spaces and escaped `\=`; values unescape `\=`, `\\`, `\n`, `\r` (and a
//!   lenient `\|`). An unescaped `=` whose left-hand word is not a key (e.g.
//!   `a b=c=d` where `b=c` follows a space but `c` does not) stays in the
//!   value. Severity is 0-10 or Low, Medium, High, Very-High.
//! - LEEF 1.0 and 2.0: `LEEF:Version|Vendor|Product|Version|EventID|` then
//!   `key=value` attributes separated by a tab. LEEF 2.0 may add a 6th header
//!   field with the delimiter: one literal character or its hex code (`x09`,
//!   `0x5E`); empty means tab. A piece without `=` continues the previous
//!   value (a delimiter inside a value).
//!
//! Fields keep the source's names (`src`, `spt`, `cs1Label`, `usrName`...)
//! under their own names, the header under `cef.*` / `leef.*`, and add ECS
//! names (`source.ip`, `destination.port`, `event.action`, `@timestamp`...),
//! which are only set when the value parses (an IP address, a port number, a
//! time). CEF custom fields with a label (`cs1` + `cs1Label`, `cn2` +
//! `cn2Label`, `flexString1` + `flexString1Label`...) are also given as
//! `cef.custom.<label>`.
//!
//! Times (`rt`, `end`, `devTime`): epoch milliseconds, RFC 3339, or the
//! `MMM dd yyyy HH:mm:ss[.SSS][ UTC|GMT|Z]` form of both specs (taken as UTC
//! when zone-less); anything else leaves no `@timestamp`.

use serde_json::{Map, Value};
use std::net::IpAddr;
use vigil_core::Timestamp;

/// Why a line is not CEF / LEEF. Offsets are byte offsets in the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not {format}: the message does not start with \"{prefix}\"")]
    MissingPrefix {
        format: &'static str,
        prefix: &'static str,
    },
    #[error("{format} header has {got} of {want} fields")]
    ShortHeader {
        format: &'static str,
        got: usize,
        want: usize,
    },
    #[error("bad {format} version {version:?} at byte {offset}")]
    BadVersion {
        format: &'static str,
        version: String,
        offset: usize,
    },
    #[error("bad cef severity {severity:?} at byte {offset}: expected 0-10, Low, Medium, High or Very-High")]
    BadSeverity { severity: String, offset: usize },
    #[error("cef extension has text without a key at byte {offset}: {text:?}")]
    ExtensionWithoutKey { text: String, offset: usize },
    #[error("bad LEEF delimiter {delimiter:?} at byte {offset}: expected one character, or x/0x and hex digits")]
    BadDelimiter { delimiter: String, offset: usize },
    #[error("leef attribute without a key at byte {offset}: {text:?}")]
    AttributeWithoutKey { text: String, offset: usize },
}

type Fields = Map<String, Value>;

/// Decodes one CEF message (`CEF:0|Vendor|Product|...`).
pub fn decode_cef(message: &str) -> Result<Fields, FormatError> {
    let start = message.len() - message.trim_start().len();
    let body_at = start + "CEF:".len();
    if !message[start..].starts_with("CEF:") {
        return Err(FormatError::MissingPrefix {
            format: "cef",
            prefix: "CEF:",
        });
    }
    let (header, ext_at) = split_header(message, body_at, 7);
    if header.len() < 7 {
        return Err(FormatError::ShortHeader {
            format: "cef",
            got: header.len(),
            want: 7,
        });
    }
    let version_text = header[0].0.trim();
    let version: u32 = match version_text.parse() {
        Ok(v) if version_text.bytes().all(|b| b.is_ascii_digit()) => v,
        _ => {
            return Err(FormatError::BadVersion {
                format: "cef",
                version: header[0].0.clone(),
                offset: header[0].1,
            })
        }
    };
    let (severity, severity_at) = (header[6].0.trim(), header[6].1);
    let level = severity_level(severity).ok_or_else(|| FormatError::BadSeverity {
        severity: severity.to_string(),
        offset: severity_at,
    })?;

    let mut f = Fields::new();
    f.insert("cef.version".into(), Value::from(version));
    let names = [
        "cef.device_vendor",
        "cef.device_product",
        "cef.device_version",
        "cef.signature_id",
        "cef.name",
    ];
    for (name, (value, _)) in names.iter().zip(&header[1..6]) {
        f.insert((*name).into(), Value::from(value.as_str()));
    }
    f.insert("cef.severity".into(), Value::from(severity));
    if let Ok(n) = severity.parse::<u8>() {
        f.insert("event.severity".into(), Value::from(n));
    }
    f.insert("log.level".into(), Value::from(level));
    header_ecs(
        &mut f,
        &header[1].0,
        &header[2].0,
        &header[3].0,
        &header[4].0,
    );
    if !header[5].0.is_empty() {
        f.insert("event.reason".into(), Value::from(header[5].0.as_str()));
    }

    let pairs = cef_extension(message, ext_at)?;
    for (key, value) in &pairs {
        f.insert((*key).into(), Value::from(value.as_str()));
    }
    for (key, value) in &pairs {
        let label_key = format!("{key}Label");
        if let Some((_, label)) = pairs.iter().find(|(k, _)| *k == label_key) {
            if !label.is_empty() {
                f.insert(format!("cef.custom.{label}"), Value::from(value.as_str()));
            }
        }
    }
    let get = |k: &str| last_value(&pairs, k);
    endpoints(&mut f, &get, ["src", "dst", "spt", "dpt", "proto"]);
    text(&mut f, "source.user.name", get("suser"));
    text(&mut f, "destination.user.name", get("duser"));
    text(&mut f, "source.domain", get("shost"));
    text(&mut f, "destination.domain", get("dhost"));
    text(&mut f, "event.action", get("act"));
    text(&mut f, "message", get("msg"));
    if let Some(outcome) = get("outcome") {
        let outcome = outcome.trim().trim_start_matches('/').to_ascii_lowercase();
        if !outcome.is_empty() {
            f.insert("event.outcome".into(), Value::from(outcome));
        }
    }
    if let Some(t) = get("rt")
        .and_then(parse_time)
        .or_else(|| get("end").and_then(parse_time))
    {
        f.insert("@timestamp".into(), Value::from(t.to_rfc3339()));
    }
    Ok(f)
}

/// Decodes one LEEF 1.0 or 2.0 message (`LEEF:2.0|Vendor|Product|...`).
pub fn decode_leef(message: &str) -> Result<Fields, FormatError> {
    let start = message.len() - message.trim_start().len();
    let body_at = start + "LEEF:".len();
    if !message[start..].starts_with("LEEF:") {
        return Err(FormatError::MissingPrefix {
            format: "leef",
            prefix: "LEEF:",
        });
    }
    let (header, mut attrs_at) = split_header(message, body_at, 5);
    if header.len() < 5 {
        return Err(FormatError::ShortHeader {
            format: "leef",
            got: header.len(),
            want: 5,
        });
    }
    let version = match header[0].0.trim() {
        "1.0" | "1" => "1.0",
        "2.0" | "2" => "2.0",
        _ => {
            return Err(FormatError::BadVersion {
                format: "leef",
                version: header[0].0.clone(),
                offset: header[0].1,
            })
        }
    };
    let mut delimiter = '\t';
    let mut delimiter_given = None;
    if version == "2.0" {
        let rest = &message[attrs_at..];
        // The 6th field is a delimiter when a `|` ends it and it has no `=`
        // (a first attribute always has one).
        if let Some(bar) = rest.find('|') {
            let candidate = &rest[..bar];
            if !candidate.contains('=') {
                delimiter =
                    parse_delimiter(candidate).ok_or_else(|| FormatError::BadDelimiter {
                        delimiter: candidate.to_string(),
                        offset: attrs_at,
                    })?;
                delimiter_given = Some(candidate);
                attrs_at += bar + 1;
            }
        }
    }

    let mut f = Fields::new();
    f.insert("leef.version".into(), Value::from(version));
    let names = [
        "leef.device_vendor",
        "leef.device_product",
        "leef.device_version",
        "leef.event_id",
    ];
    for (name, (value, _)) in names.iter().zip(&header[1..5]) {
        f.insert((*name).into(), Value::from(value.as_str()));
    }
    if let Some(given) = delimiter_given {
        f.insert("leef.delimiter".into(), Value::from(given));
    }
    header_ecs(
        &mut f,
        &header[1].0,
        &header[2].0,
        &header[3].0,
        &header[4].0,
    );

    let mut pairs: Vec<(&str, String)> = Vec::new();
    let mut at = attrs_at;
    for piece in message[attrs_at..].split(delimiter) {
        let piece_at = at;
        at += piece.len() + delimiter.len_utf8();
        let trimmed = piece.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            continue;
        }
        match trimmed.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                pairs.push((key.trim(), value.to_string()))
            }
            Some(_) => {
                return Err(FormatError::AttributeWithoutKey {
                    text: trimmed.to_string(),
                    offset: piece_at,
                })
            }
            None => match pairs.last_mut() {
                Some((_, value)) => {
                    value.push(delimiter);
                    value.push_str(trimmed);
                }
                None => {
                    return Err(FormatError::AttributeWithoutKey {
                        text: trimmed.to_string(),
                        offset: piece_at,
                    })
                }
            },
        }
    }
    for (key, value) in &pairs {
        f.insert((*key).into(), Value::from(value.as_str()));
    }
    let get = |k: &str| last_value(&pairs, k);
    endpoints(&mut f, &get, ["src", "dst", "srcPort", "dstPort", "proto"]);
    text(&mut f, "user.name", get("usrName"));
    text(&mut f, "event.action", get("action"));
    if let Some(sev) = get("sev").and_then(|s| s.trim().parse::<u8>().ok()) {
        f.insert("event.severity".into(), Value::from(sev));
    }
    if let Some(t) = get("devTime").and_then(parse_time) {
        f.insert("@timestamp".into(), Value::from(t.to_rfc3339()));
    }
    Ok(f)
}

/// Splits up to `count` `|`-terminated header fields after `from`, with the
/// escapes `\|` and `\\` (any other backslash is kept). Returns each field
/// (unescaped, with its byte offset) and where the rest begins. The last
/// field may end at the end of the line rather than at a `|`.
fn split_header(message: &str, from: usize, count: usize) -> (Vec<(String, usize)>, usize) {
    let mut fields = Vec::with_capacity(count);
    let mut current = String::new();
    let mut field_at = from;
    let mut chars = message[from..]
        .char_indices()
        .map(|(i, c)| (i + from, c))
        .peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&(_, next @ ('|' | '\\'))) => {
                    current.push(next);
                    chars.next();
                }
                _ => current.push('\\'),
            },
            '|' => {
                fields.push((std::mem::take(&mut current), field_at));
                field_at = i + 1;
                if fields.len() == count {
                    return (fields, i + 1);
                }
            }
            _ => current.push(c),
        }
    }
    let trimmed = current.trim_end_matches(['\r', '\n']);
    if !trimmed.is_empty() {
        fields.push((trimmed.to_string(), field_at));
    }
    (fields, message.len())
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']')
}

/// The CEF extension from `from`: `(key, unescaped value)` in order.
fn cef_extension(message: &str, from: usize) -> Result<Vec<(&str, String)>, FormatError> {
    let ext = message[from..].trim_end_matches(['\r', '\n']);
    let bytes = ext.as_bytes();
    // Key starts and their `=`: an unescaped `=` whose word (back to a space
    // or the start) is a well-formed key.
    let mut keys: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'=' => {
                let word_at = ext[..i].rfind(' ').map_or(0, |s| s + 1);
                let word = &bytes[word_at..i];
                if !word.is_empty() && word.iter().all(|&b| is_key_byte(b)) {
                    keys.push((word_at, i));
                }
            }
            _ => {}
        }
        i += 1;
    }
    let lead = ext.len() - ext.trim_start().len();
    let first = keys.first().map_or(ext.len(), |&(at, _)| at);
    if !ext[lead..first].trim().is_empty() {
        return Err(FormatError::ExtensionWithoutKey {
            text: ext[lead..first].trim_end().to_string(),
            offset: from + lead,
        });
    }
    let mut pairs = Vec::with_capacity(keys.len());
    for (n, &(key_at, eq)) in keys.iter().enumerate() {
        let end = keys.get(n + 1).map_or(ext.len(), |&(next, _)| next);
        let raw = ext[eq + 1..end].trim_end_matches(' ');
        pairs.push((&ext[key_at..eq], unescape_value(raw)));
    }
    Ok(pairs)
}

fn unescape_value(raw: &str) -> String {
    if !raw.contains('\\') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('=') => out.push('='),
            Some('\\') => out.push('\\'),
            Some('|') => out.push('|'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// `Low` (0-3), `Medium` (4-6), `High` (7-8), `Very-High` (9-10).
fn severity_level(severity: &str) -> Option<&'static str> {
    if let Ok(n) = severity.parse::<u8>() {
        return match n {
            0..=3 => Some("low"),
            4..=6 => Some("medium"),
            7..=8 => Some("high"),
            9..=10 => Some("very-high"),
            _ => None,
        };
    }
    match severity.to_ascii_lowercase().as_str() {
        "low" => Some("low"),
        "medium" => Some("medium"),
        "high" => Some("high"),
        "very-high" | "very high" | "veryhigh" => Some("very-high"),
        _ => None,
    }
}

/// A LEEF 2.0 delimiter field: empty (tab), one character, or `x`/`0x` and
/// 1-4 hex digits. `=` is never a delimiter.
fn parse_delimiter(field: &str) -> Option<char> {
    let mut chars = field.chars();
    let c = match (chars.next(), chars.next()) {
        (None, _) => return Some('\t'),
        (Some(c), None) => c,
        _ => {
            let lower = field.to_ascii_lowercase();
            let hex = lower
                .strip_prefix("0x")
                .or_else(|| lower.strip_prefix('x'))?;
            if hex.is_empty() || hex.len() > 4 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
        }
    };
    (c != '=' && c != '\0').then_some(c)
}

fn header_ecs(f: &mut Fields, vendor: &str, product: &str, version: &str, code: &str) {
    text(f, "observer.vendor", Some(vendor));
    text(f, "observer.product", Some(product));
    text(f, "observer.version", Some(version));
    text(f, "event.code", Some(code));
}

/// The last value of `key` (a repeated key: the last one wins).
fn last_value<'a, K: AsRef<str>>(pairs: &'a [(K, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k.as_ref() == key)
        .map(|(_, v)| v.as_str())
}

/// The ECS source/destination addresses, ports and transport, from the
/// format's own keys: `[source ip, destination ip, source port,
/// destination port, protocol]` (CEF and LEEF name them differently).
fn endpoints<'a>(f: &mut Fields, get: &dyn Fn(&str) -> Option<&'a str>, keys: [&str; 5]) {
    ip(f, "source.ip", get(keys[0]));
    ip(f, "destination.ip", get(keys[1]));
    port(f, "source.port", get(keys[2]));
    port(f, "destination.port", get(keys[3]));
    transport(f, get(keys[4]));
}

fn text(f: &mut Fields, name: &str, value: Option<&str>) {
    if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
        f.insert(name.into(), Value::from(v));
    }
}

fn ip(f: &mut Fields, name: &str, value: Option<&str>) {
    if let Some(addr) = value.and_then(|v| v.trim().parse::<IpAddr>().ok()) {
        f.insert(name.into(), Value::from(addr.to_string()));
    }
}

fn port(f: &mut Fields, name: &str, value: Option<&str>) {
    if let Some(p) = value.and_then(|v| v.trim().parse::<u16>().ok()) {
        f.insert(name.into(), Value::from(p));
    }
}

/// `network.transport`, lowercase; IANA numbers of the usual ones as names.
fn transport(f: &mut Fields, value: Option<&str>) {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return;
    };
    let name = match v {
        "1" => "icmp".to_string(),
        "6" => "tcp".to_string(),
        "17" => "udp".to_string(),
        "58" => "ipv6-icmp".to_string(),
        _ => v.to_ascii_lowercase(),
    };
    f.insert("network.transport".into(), Value::from(name));
}

/// Epoch milliseconds, RFC 3339, or `MMM dd yyyy HH:mm:ss[.SSS][ UTC|GMT|Z]`.
fn parse_time(value: &str) -> Option<Timestamp> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = v.parse().ok()?;
        return Some(Timestamp(ms.checked_mul(1000)?));
    }
    if v.as_bytes()[0].is_ascii_digit() {
        return Timestamp::parse(v).ok();
    }
    let mut parts = v.split_ascii_whitespace();
    let month = match parts.next()?.to_ascii_lowercase().as_str() {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    let day: u32 = parts.next()?.parse().ok()?;
    let year: i64 = parts.next()?.parse().ok()?;
    let clock = parts.next()?;
    if let Some(zone) = parts.next() {
        if !matches!(zone, "UTC" | "GMT" | "Z") || parts.next().is_some() {
            return None;
        }
    }
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut hms = hms.split(':').map(|p| p.parse::<u32>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || h > 23 || m > 59 || s > 60 || !(1..=31).contains(&day) {
        return None;
    }
    if !(1..=9999).contains(&year) || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros_frac: i64 = format!("{frac:0<6}")[..6].parse().ok()?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(h * 3600 + m * 60 + s);
    Some(Timestamp(secs * 1_000_000 + micros_frac))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn s<'a>(f: &'a Fields, k: &str) -> &'a Value {
        f.get(k).unwrap_or_else(|| panic!("no {k} in {f:?}"))
    }

    #[test]
    fn cef_firewall_deny() {
        let f = decode_cef(
            "CEF:0|Palo Alto Networks|PAN-OS|10.1.0|TRAFFIC|deny|3|rt=Mar 01 2024 12:00:05 src=10.0.0.5 dst=203.0.113.9 spt=51514 dpt=443 proto=TCP act=deny suser=acme\\\\jdoe cs1Label=Rule cs1=block outbound cs2Label=Zone cs2=trust",
        )
        .unwrap();
        assert_eq!(s(&f, "cef.version"), &json!(0));
        assert_eq!(s(&f, "cef.device_vendor"), "Palo Alto Networks");
        assert_eq!(s(&f, "cef.device_product"), "PAN-OS");
        assert_eq!(s(&f, "cef.device_version"), "10.1.0");
        assert_eq!(s(&f, "cef.signature_id"), "TRAFFIC");
        assert_eq!(s(&f, "cef.name"), "deny");
        assert_eq!(s(&f, "cef.severity"), "3");
        assert_eq!(s(&f, "event.severity"), &json!(3));
        assert_eq!(s(&f, "log.level"), "low");
        assert_eq!(s(&f, "observer.vendor"), "Palo Alto Networks");
        assert_eq!(s(&f, "observer.product"), "PAN-OS");
        assert_eq!(s(&f, "src"), "10.0.0.5");
        assert_eq!(s(&f, "source.ip"), "10.0.0.5");
        assert_eq!(s(&f, "destination.ip"), "203.0.113.9");
        assert_eq!(s(&f, "source.port"), &json!(51514));
        assert_eq!(s(&f, "destination.port"), &json!(443));
        assert_eq!(s(&f, "network.transport"), "tcp");
        assert_eq!(s(&f, "event.action"), "deny");
        assert_eq!(s(&f, "suser"), "acme\\jdoe");
        assert_eq!(s(&f, "source.user.name"), "acme\\jdoe");
        assert_eq!(s(&f, "cs1"), "block outbound");
        assert_eq!(s(&f, "cef.custom.Rule"), "block outbound");
        assert_eq!(s(&f, "cef.custom.Zone"), "trust");
        assert_eq!(s(&f, "@timestamp"), "2024-03-01T12:00:05Z");
    }

    #[test]
    fn cef_ids_alert_after_whitespace() {
        let f = decode_cef(
            "  CEF:0|Trend Micro|Deep Security Agent|10.0|4000030|Intrusion Prevention|Very-High|cn1=123 cn1Label=Host ID dvchost=web01 src=192.168.1.10 dst=192.168.1.20 act=reset msg=SQL injection attempt in query rt=1709294405123\r\n",
        )
        .unwrap();
        assert_eq!(s(&f, "cef.severity"), "Very-High");
        assert_eq!(s(&f, "log.level"), "very-high");
        assert!(!f.contains_key("event.severity"));
        assert_eq!(s(&f, "cef.custom.Host ID"), "123");
        assert_eq!(s(&f, "message"), "SQL injection attempt in query");
        assert_eq!(s(&f, "event.action"), "reset");
        assert_eq!(s(&f, "@timestamp"), "2024-03-01T12:00:05.123Z");
        assert_eq!(s(&f, "rt"), "1709294405123");
    }

    #[test]
    fn cef_auth_failure() {
        let f = decode_cef(
            "CEF:1|Microsoft|Windows|10|4625|An account failed to log on|High|duser=alice dhost=dc01.example.com src=2001:db8::7 outcome=/Failure end=2024-05-01T12:00:00Z spt=notaport",
        )
        .unwrap();
        assert_eq!(s(&f, "cef.version"), &json!(1));
        assert_eq!(s(&f, "destination.user.name"), "alice");
        assert_eq!(s(&f, "destination.domain"), "dc01.example.com");
        assert_eq!(s(&f, "source.ip"), "2001:db8::7");
        assert_eq!(s(&f, "event.outcome"), "failure");
        assert_eq!(s(&f, "@timestamp"), "2024-05-01T12:00:00Z");
        assert_eq!(s(&f, "spt"), "notaport");
        assert!(!f.contains_key("source.port"));
    }

    #[test]
    fn cef_header_escapes() {
        let f = decode_cef(
            r"CEF:0|secu\|rity|threat\\manager|1.0|100|detected a \| in message|10|src=10.0.0.1",
        )
        .unwrap();
        assert_eq!(s(&f, "cef.device_vendor"), "secu|rity");
        assert_eq!(s(&f, "cef.device_product"), "threat\\manager");
        assert_eq!(s(&f, "cef.name"), "detected a | in message");
        assert_eq!(s(&f, "cef.severity"), "10");
        assert_eq!(s(&f, "log.level"), "very-high");
    }

    #[test]
    fn cef_extension_escapes_spaces_and_equals() {
        let f = decode_cef(
            r"CEF:0|V|P|1|1|n|5|msg=a\=b c\\d\nline2\rx file=C:\\dir\\f.txt request=http://x/?a=1&b=2 act=blocked pipe=a|b",
        )
        .unwrap();
        assert_eq!(s(&f, "msg"), "a=b c\\d\nline2\rx");
        assert_eq!(s(&f, "file"), "C:\\dir\\f.txt");
        // `?a=1&b=2`: the words before these `=` are not keys.
        assert_eq!(s(&f, "request"), "http://x/?a=1&b=2");
        assert_eq!(s(&f, "act"), "blocked");
        assert_eq!(s(&f, "pipe"), "a|b");
        assert_eq!(s(&f, "log.level"), "medium");
    }

    #[test]
    fn cef_empty_extension_and_no_trailing_bar() {
        let f = decode_cef("CEF:0|V|P|1|1|name|Low|").unwrap();
        assert_eq!(s(&f, "cef.severity"), "Low");
        assert_eq!(f.keys().filter(|k| !k.contains('.')).count(), 0, "{f:?}");
        let g = decode_cef("CEF:0|V|P|1|1|name|Medium").unwrap();
        assert_eq!(s(&g, "log.level"), "medium");
        let h = decode_cef("CEF:0|V|P|1|1|name|2|   ").unwrap();
        assert_eq!(s(&h, "event.severity"), &json!(2));
    }

    #[test]
    fn cef_errors() {
        let e = decode_cef("<34>Oct 11 host CEF:0|a").unwrap_err();
        assert!(matches!(e, FormatError::MissingPrefix { .. }), "{e}");
        assert_eq!(
            decode_cef("CEF:0|V|P|1|100|").unwrap_err().to_string(),
            "cef header has 5 of 7 fields"
        );
        assert_eq!(
            decode_cef("CEF:").unwrap_err().to_string(),
            "cef header has 0 of 7 fields"
        );
        assert_eq!(
            decode_cef("CEF:x|V|P|1|1|n|3|").unwrap_err().to_string(),
            "bad cef version \"x\" at byte 4"
        );
        let e = decode_cef("CEF:0|V|P|1|1|n|11|").unwrap_err();
        assert_eq!(
            e,
            FormatError::BadSeverity {
                severity: "11".into(),
                offset: 16
            }
        );
        let e = decode_cef("CEF:0|V|P|1|1|n|Unknown|").unwrap_err();
        assert!(
            e.to_string().starts_with("bad cef severity \"Unknown\""),
            "{e}"
        );
        let e = decode_cef("CEF:0|V|P|1|1|n|3|garbage here src=1.2.3.4").unwrap_err();
        assert_eq!(
            e,
            FormatError::ExtensionWithoutKey {
                text: "garbage here".into(),
                offset: 18
            }
        );
        assert!(decode_cef("CEF:0|V|P|1|1|n|3|just text").is_err());
    }

    #[test]
    fn leef1_firewall_deny() {
        let f = decode_leef(
            "LEEF:1.0|Fortinet|FortiGate|6.4|traffic:deny|cat=traffic\tsrc=10.1.1.1\tdst=8.8.8.8\tsrcPort=50000\tdstPort=53\tproto=17\taction=deny\tdevTime=Mar 01 2024 12:00:05.250\tsev=5",
        )
        .unwrap();
        assert_eq!(s(&f, "leef.version"), "1.0");
        assert_eq!(s(&f, "leef.device_vendor"), "Fortinet");
        assert_eq!(s(&f, "leef.device_product"), "FortiGate");
        assert_eq!(s(&f, "leef.device_version"), "6.4");
        assert_eq!(s(&f, "leef.event_id"), "traffic:deny");
        assert_eq!(s(&f, "observer.vendor"), "Fortinet");
        assert_eq!(s(&f, "source.ip"), "10.1.1.1");
        assert_eq!(s(&f, "destination.ip"), "8.8.8.8");
        assert_eq!(s(&f, "source.port"), &json!(50000));
        assert_eq!(s(&f, "destination.port"), &json!(53));
        assert_eq!(s(&f, "network.transport"), "udp");
        assert_eq!(s(&f, "event.action"), "deny");
        assert_eq!(s(&f, "event.severity"), &json!(5));
        assert_eq!(s(&f, "@timestamp"), "2024-03-01T12:00:05.250Z");
        assert!(!f.contains_key("leef.delimiter"));
    }

    #[test]
    fn leef2_ids_alert_caret_delimiter() {
        let f = decode_leef(
            "LEEF:2.0|Cisco|Firepower|6.6|ids-alert|^|src=172.16.0.4^dst=10.0.0.8^dstPort=80^msg=ET WEB attack a=b^sev=9",
        )
        .unwrap();
        assert_eq!(s(&f, "leef.version"), "2.0");
        assert_eq!(s(&f, "leef.delimiter"), "^");
        assert_eq!(s(&f, "msg"), "ET WEB attack a=b");
        assert_eq!(s(&f, "destination.port"), &json!(80));
        assert_eq!(s(&f, "sev"), "9");
    }

    #[test]
    fn leef2_hex_delimiter_both_forms() {
        for d in ["x09", "0x09", "X09", "0x5E"] {
            let sep = if d.ends_with("5E") { "^" } else { "\t" };
            let line = format!(
                "LEEF:2.0|IBM|QRadar|7.5|auth-failure|{d}|usrName=bob smith{sep}src=10.9.9.9{sep}outcome=failure"
            );
            let f = decode_leef(&line).unwrap();
            assert_eq!(s(&f, "user.name"), "bob smith", "{d}");
            assert_eq!(s(&f, "source.ip"), "10.9.9.9", "{d}");
            assert_eq!(s(&f, "leef.delimiter"), d);
        }
        // No delimiter field: tab; an empty one: tab.
        for line in [
            "LEEF:2.0|V|P|1|E|src=1.2.3.4\tdst=5.6.7.8",
            "LEEF:2.0|V|P|1|E||src=1.2.3.4\tdst=5.6.7.8",
        ] {
            let f = decode_leef(line).unwrap();
            assert_eq!(s(&f, "destination.ip"), "5.6.7.8", "{line}");
        }
    }

    #[test]
    fn leef_delimiter_in_value_and_empty_attributes() {
        let f = decode_leef("LEEF:2.0|V|P|1|E|^|msg=a^b^src=1.1.1.1^^").unwrap();
        assert_eq!(s(&f, "msg"), "a^b");
        let g = decode_leef("LEEF:1.0|V|P|1|E|").unwrap();
        assert_eq!(g.len(), 9, "{g:?}");
        let h = decode_leef("LEEF:1.0|V|P|1|E").unwrap();
        assert_eq!(s(&h, "leef.event_id"), "E");
    }

    #[test]
    fn leef_errors() {
        assert!(matches!(
            decode_leef("CEF:0|"),
            Err(FormatError::MissingPrefix { .. })
        ));
        assert_eq!(
            decode_leef("LEEF:1.0|V|P").unwrap_err().to_string(),
            "leef header has 3 of 5 fields"
        );
        assert_eq!(
            decode_leef("LEEF:3.0|V|P|1|E|").unwrap_err().to_string(),
            "bad leef version \"3.0\" at byte 5"
        );
        for d in ["xZZ", "^^", "0x", "x12345"] {
            let e = decode_leef(&format!("LEEF:2.0|V|P|1|E|{d}|a=b")).unwrap_err();
            assert_eq!(
                e,
                FormatError::BadDelimiter {
                    delimiter: d.into(),
                    offset: 17
                }
            );
            assert!(e.to_string().starts_with("bad LEEF delimiter"));
        }
        let e = decode_leef("LEEF:1.0|V|P|1|E|=x\ta=b").unwrap_err();
        assert_eq!(
            e,
            FormatError::AttributeWithoutKey {
                text: "=x".into(),
                offset: 17
            }
        );
        let e = decode_leef("LEEF:1.0|V|P|1|E|noequals\ta=b").unwrap_err();
        assert!(
            matches!(e, FormatError::AttributeWithoutKey { offset: 17, .. }),
            "{e}"
        );
    }

    #[test]
    fn times() {
        assert_eq!(
            parse_time("Feb 29 2024 23:59:60 UTC")
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2024-03-01T00:00:00Z")
        );
        assert_eq!(parse_time("Jan 01 1970 00:00:00"), Some(Timestamp(0)));
        assert_eq!(parse_time("Jan 01 2024 00:00:00 EST"), None);
        assert_eq!(parse_time("Jan 01 2024 25:00:00"), None);
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("99999999999999999999"), None);
    }

    proptest! {
        #[test]
        fn never_panics(line in ".{0,200}") {
            let _ = decode_cef(&line);
            let _ = decode_leef(&line);
            let _ = decode_cef(&format!("CEF:{line}"));
            let _ = decode_leef(&format!("LEEF:{line}"));
        }

        #[test]
        fn structured_never_panics(parts in proptest::collection::vec("[a-z0-9=\\\\| \t^]{0,12}", 0..12)) {
            let body = parts.join("|");
            let _ = decode_cef(&format!("CEF:0|{body}"));
            let _ = decode_leef(&format!("LEEF:2.0|{body}"));
            let _ = decode_leef(&format!("LEEF:1.0|{body}"));
        }
    }
}
