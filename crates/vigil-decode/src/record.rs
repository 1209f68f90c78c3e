//! The one entry point of the server's pipeline: a syslog line or a JSON
//! object in, a [`Record`] out (flat fields, Sigma log source, own time).
//!
//! [`decode_syslog_record`] splits the syslog header ([`parse_syslog`]) into
//! `message`, `host.name`, `process.name`, `process.pid`,
//! `log.syslog.facility.code`, `log.syslog.severity.code`,
//! `log.syslog.appname`, `log.syslog.msgid` and
//! `log.syslog.structured_data.<sd-id>.<param>`, then tries, in order:
//!
//! 1. a JSON object payload (`{...}`, or `@cee: {...}`): [`decode_json_record`], its fields
//!    first, the header fields added where the payload has none (no
//!    `message`: the payload is the message);
//! 2. CEF / LEEF (the message, or the line from `CEF:`/`LEEF:` on): product
//!    from the device vendor/product ([`cef_product`]);
//! 3. Linux audit records ([`crate::auditd`]): product `linux`, service
//!    `auditd`, with an [`AuditPart`] for the [`crate::AuditAssembler`];
//! 4. firewalls ([`crate::firewall`]): product as the decoder names it,
//!    category `firewall`;
//! 5. Linux daemons ([`crate::linux`]): product `linux`, category and
//!    service from the decoder, else from the program ([`crate::linux_services`]);
//! 6. web server access and error logs ([`crate::web`]): category
//!    `webserver`, product `nginx`/`apache` when known.
//!
//! A message no decoder knows keeps the header fields and `message`; it is
//! tagged product `linux` when it has an RFC 3164/5424 header with a program
//! name (what Sigma's field-less `product: linux` rules are written for),
//! with the program's Sigma service (`vsftpd`, `clamav`, else `syslog`),
//! else it has an empty tag.
//!
//! Time: the record's own time when it carries one (audit `msg=audit(..)`,
//! web log time, JSON payload time), else the syslog header's.

use crate::auditd::{self, AuditPart};
use crate::syslog::{parse_syslog, SyslogFormat};
use crate::{cef, eve, firewall, linux, linux_services, web, winjson, zeek};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::net::IpAddr;
use vigil_core::Timestamp;

/// Sigma's view of where a record comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSourceTag {
    pub product: Option<String>,
    pub categories: Vec<String>,
    pub service: Option<String>,
}

impl LogSourceTag {
    pub(crate) fn new(
        product: Option<&str>,
        category: Option<&str>,
        service: Option<&str>,
    ) -> Self {
        LogSourceTag {
            product: product.map(str::to_string),
            categories: category.into_iter().map(str::to_string).collect(),
            service: service.map(str::to_string),
        }
    }
}

/// A decoded record: flat fields (dotted ECS keys like `source.ip` as
/// single keys of the map), its log source, its own time when it carries
/// one, and, for an audit record, what the assembler needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub doc: Map<String, Value>,
    pub source: LogSourceTag,
    pub time: Option<Timestamp>,
    pub audit: Option<AuditPart>,
}

impl Record {
    pub(crate) fn new(doc: Map<String, Value>, source: LogSourceTag) -> Self {
        Record {
            doc,
            source,
            time: None,
            audit: None,
        }
    }
}

/// One syslog line (de-framed, no trailing newline; may be
/// invalid-UTF-8-repaired text) → Record. Never fails: a line no decoder
/// knows is kept with its header fields and `message`.
pub fn decode_syslog_record(line: &str, now: Timestamp) -> Record {
    let msg = parse_syslog(line, now);
    let mut header = Map::new();
    put_text(&mut header, "host.name", msg.hostname.unwrap_or(""));
    if let Some(app) = msg.app_name {
        put_text(&mut header, "process.name", app);
        put_text(&mut header, "log.syslog.appname", app);
    }
    if let Some(pid) = msg.proc_id {
        put_num(&mut header, "process.pid", pid);
    }
    if let Some(f) = msg.facility {
        header.insert("log.syslog.facility.code".into(), Value::from(f));
    }
    if let Some(s) = msg.severity {
        header.insert("log.syslog.severity.code".into(), Value::from(s));
    }
    put_text(&mut header, "log.syslog.msgid", msg.msg_id.unwrap_or(""));
    for (key, value) in &msg.structured_data {
        header.insert(
            format!("log.syslog.structured_data.{key}"),
            Value::from(value.as_str()),
        );
    }
    let app = msg.app_name.unwrap_or("");
    // `sshd(pam_unix)`: the Linux decoder reads the message as the module's.
    let tag = match msg.app_module {
        Some(module) => Cow::Owned(format!("{app}({module})")),
        None => Cow::Borrowed(app),
    };
    let message = msg.message.trim_start_matches('\u{feff}');
    let trimmed = message.trim();

    let mut record = decode_message(Program { app, tag: &tag }, trimmed, line, msg.format);
    if record.is_none() && msg.format != SyslogFormat::Unknown {
        // The header may have swallowed part of a record that is not syslog.
        let whole = line.trim();
        if whole != trimmed {
            let none = Program { app: "", tag: "" };
            record = decode_message(none, whole, line, SyslogFormat::Unknown);
        }
    }
    let Some(Decoded {
        mut record,
        payload,
    }) = record
    else {
        let mut doc = header;
        doc.insert("message".into(), Value::from(message));
        let product =
            (msg.format != SyslogFormat::Unknown && !app.is_empty() && !trimmed.starts_with('%'))
                .then_some("linux");
        // Sigma's service of the program (`vsftpd`, else `syslog`).
        let service = product.map(|_| linux_services::linux_service(app));
        let mut record = Record::new(doc, LogSourceTag::new(product, None, service));
        record.time = msg.timestamp;
        return record;
    };
    if !payload {
        record
            .doc
            .entry("message")
            .or_insert_with(|| Value::from(message));
    }
    for (key, value) in header {
        // The payload's own program and host win over the relay's.
        record.doc.entry(key).or_insert(value);
    }
    if !payload {
        ports_as_numbers(&mut record.doc);
    }
    record.time = record.time.or(msg.timestamp);
    record
}

/// `source.port` and `destination.port` are numbers: a decoder that found
/// text where a port goes (a mangled line) leaves none.
fn ports_as_numbers(doc: &mut Map<String, Value>) {
    for key in ["source.port", "destination.port"] {
        let port = match doc.get(key) {
            None => continue,
            Some(Value::Number(n)) => n.as_u64().filter(|p| *p <= u64::from(u16::MAX)),
            Some(Value::String(s)) => s.trim().parse::<u16>().ok().map(u64::from),
            Some(_) => None,
        };
        match port {
            Some(p) => {
                doc.insert(key.into(), Value::from(p));
            }
            None => {
                doc.remove(key);
            }
        }
    }
}

struct Decoded {
    record: Record,
    /// The message was a structured payload (JSON): no `message` added.
    payload: bool,
}

/// The program of a syslog header: its name (`sshd`) and its whole tag
/// without pid (`sshd(pam_unix)`).
#[derive(Clone, Copy)]
struct Program<'a> {
    app: &'a str,
    tag: &'a str,
}

fn decode_message(
    Program { app, tag }: Program<'_>,
    message: &str,
    line: &str,
    format: SyslogFormat,
) -> Option<Decoded> {
    let plain = |record: Record| {
        Some(Decoded {
            record,
            payload: false,
        })
    };
    // rsyslog's CEE cookie: `@cee: {...}`.
    let json = message
        .strip_prefix("@cee:")
        .map_or(message, str::trim_start);
    if json.starts_with('{') {
        if let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(json) {
            return Some(Decoded {
                record: decode_json_record(doc),
                payload: true,
            });
        }
    }
    if let Some(record) = cef_record(message, false).or_else(|| match format {
        SyslogFormat::Unknown => None,
        _ => cef_record(line, true),
    }) {
        return plain(record);
    }
    if let Some(record) = auditd::decode_audit(message) {
        return plain(record);
    }
    if let Some(event) = firewall::decode_firewall(app, message) {
        let source = LogSourceTag::new(Some(event.product), Some(event.category), None);
        return plain(Record::new(event.fields, source));
    }
    if !app.is_empty() {
        if let Some(d) = linux::decode_linux(tag, message) {
            return plain(Record::new(
                d.fields,
                LogSourceTag::new(
                    Some("linux"),
                    d.category,
                    d.service
                        .or_else(|| Some(linux_services::linux_service(app))),
                ),
            ));
        }
    }
    web::decode_web(app, message).and_then(plain)
}

/// CEF or LEEF at the start of `text` or, when `anywhere`, from its first
/// `CEF:`/`LEEF:` on (after a header the syslog parser did not recognise).
fn cef_record(text: &str, anywhere: bool) -> Option<Record> {
    let text = text.trim_start();
    let at = if anywhere {
        ["CEF:", "LEEF:"]
            .iter()
            .filter_map(|p| text.find(p))
            .min()?
    } else if text.starts_with("CEF:") || text.starts_with("LEEF:") {
        0
    } else {
        return None;
    };
    let body = text.get(at..)?;
    let (fields, prefix) = if body.starts_with("CEF:") {
        (cef::decode_cef(body).ok()?, "cef")
    } else {
        (cef::decode_leef(body).ok()?, "leef")
    };
    let vendor = fields
        .get(&format!("{prefix}.device_vendor"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let product = fields
        .get(&format!("{prefix}.device_product"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let (product, service) = cef_product(vendor, product);
    let mut record = Record::new(
        fields.clone(),
        LogSourceTag {
            product,
            categories: Vec::new(),
            service,
        },
    );
    record.time = fields.get("@timestamp").and_then(Timestamp::from_json);
    Some(record)
}

/// The Sigma product (and service) of a CEF/LEEF device: the names SigmaHQ
/// uses for the vendors it has rules for (`fortigate`, `cisco` + service,
/// `paloalto`, `juniper`, `huawei`), else the device product lowercased
/// with runs of non-alphanumerics as `_` (`None` when that leaves nothing).
pub fn cef_product(vendor: &str, product: &str) -> (Option<String>, Option<String>) {
    let v = vendor.to_ascii_lowercase();
    let p = slug(product);
    let known = |name: &str| Some(name.to_string());
    if v.starts_with("fortinet") || p.starts_with("fortigate") {
        return (known("fortigate"), None);
    }
    if v.starts_with("cisco") {
        return (known("cisco"), (!p.is_empty()).then_some(p));
    }
    if v.starts_with("palo alto") || p == "pan_os" {
        return (known("paloalto"), None);
    }
    if v.starts_with("juniper") {
        return (known("juniper"), None);
    }
    if v.starts_with("huawei") {
        return (known("huawei"), None);
    }
    ((!p.is_empty()).then_some(p), None)
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// A JSON object (HTTP NDJSON ingest, or the JSON payload of a syslog
/// message) → Record: adds ECS names and the log source when it recognises
/// Suricata EVE, Zeek, Winlogbeat or NXLog; otherwise the doc unchanged with
/// an empty tag (and the time of its `@timestamp`/`timestamp`/`time`).
pub fn decode_json_record(doc: Map<String, Value>) -> Record {
    if eve::is_eve(&doc) {
        return eve::decode_eve(doc);
    }
    if zeek::is_zeek(&doc) {
        return zeek::decode_zeek(doc);
    }
    if winjson::is_windows(&doc) {
        return winjson::decode_windows(doc);
    }
    let time = crate::ndjson::event_time(&doc);
    Record {
        time,
        ..Record::new(doc, LogSourceTag::default())
    }
}

// ------------------------------------------------------- shared helpers

/// Sets a text field; empty values are left out.
pub(crate) fn put_text(doc: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        doc.insert(key.into(), Value::from(value));
    }
}

/// Sets a number when `value` is a whole number ≥ 0, else the text.
pub(crate) fn put_num(doc: &mut Map<String, Value>, key: &str, value: &str) {
    match value.trim().parse::<u64>() {
        Ok(n) => {
            doc.insert(key.into(), Value::from(n));
        }
        Err(_) => put_text(doc, key, value),
    }
}

/// Sets `key` when `value` is an IP address (an IPv4-mapped IPv6 address
/// and `[v6]` brackets are unwrapped); returns whether it was.
pub(crate) fn put_ip(doc: &mut Map<String, Value>, key: &str, value: &str) -> bool {
    match parse_ip(value) {
        Some(ip) => {
            doc.insert(key.into(), Value::from(ip.to_string()));
            true
        }
        None => false,
    }
}

pub(crate) fn parse_ip(value: &str) -> Option<IpAddr> {
    let v = value.trim();
    let v = v
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(v);
    let ip = v.parse::<IpAddr>().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// Copies a value under another name unless that name is taken.
pub(crate) fn alias(doc: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(v) = doc.get(from).filter(|v| !v.is_null()).cloned() {
        doc.entry(to).or_insert(v);
    }
}

/// A JSON value as text (strings as they are, numbers and booleans printed).
pub(crate) fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A JSON value as an unsigned number (also from a numeric string).
pub(crate) fn value_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `/a/b.exe?x=1` → (`/a/b.exe`, `x=1`); the fragment is dropped.
pub(crate) fn split_target(target: &str) -> (&str, Option<&str>) {
    let target = target.split('#').next().unwrap_or(target);
    match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    }
}

/// Sets the `url.*` names and Sigma's `cs-uri-*`/`c-uri-*` names of a
/// request target: `url.original`, `url.path`, `url.query`,
/// `url.extension`. The path of an absolute target (`http://h/p`, a proxy
/// request) is its part after the authority.
pub(crate) fn put_url(doc: &mut Map<String, Value>, target: &str) {
    put_text(doc, "url.original", target);
    let (path, query) = split_target(target);
    let path = match path.split_once("://") {
        Some((scheme, rest)) if !scheme.contains('/') => {
            put_text(doc, "url.scheme", scheme);
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            put_text(doc, "url.domain", host);
            path
        }
        _ => path,
    };
    put_text(doc, "url.path", path);
    if let Some(q) = query {
        put_text(doc, "url.query", q);
    }
    let last = path.rsplit('/').next().unwrap_or("");
    if let Some((_, ext)) = last.rsplit_once('.') {
        if !ext.is_empty() && ext.len() <= 16 && ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
            put_text(doc, "url.extension", ext);
        }
    }
}

/// Sigma's proxy names of an HTTP request already in ECS names: `c-uri`,
/// `c-uri-query`, `c-uri-extension`, `cs-host`, `cs-method`,
/// `c-useragent`, `cs-referrer`, `cs-version`, `sc-status`, `dst_ip`.
pub(crate) fn put_proxy_names(doc: &mut Map<String, Value>) {
    for (from, to) in [
        ("url.original", "c-uri"),
        ("url.query", "c-uri-query"),
        ("url.extension", "c-uri-extension"),
        ("url.domain", "cs-host"),
        ("http.request.method", "cs-method"),
        ("user_agent.original", "c-useragent"),
        ("http.request.referrer", "cs-referrer"),
        ("http.version", "cs-version"),
        ("http.response.status_code", "sc-status"),
        ("destination.ip", "dst_ip"),
    ] {
        alias(doc, from, to);
    }
}

/// `HTTP/1.1` → `1.1`.
pub(crate) fn http_version(protocol: &str) -> &str {
    let p = protocol.trim();
    p.strip_prefix("HTTP/")
        .or_else(|| p.strip_prefix("http/"))
        .unwrap_or(p)
}

/// Lowercase transport name; the IANA numbers of the usual ones as names.
pub(crate) fn transport_name(proto: &str) -> String {
    match proto.trim() {
        "1" => "icmp".into(),
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "58" | "ipv6-icmp" | "IPv6-ICMP" | "ICMPv6" | "icmpv6" => "ipv6-icmp".into(),
        other => other.to_ascii_lowercase(),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A JSON time: what [`Timestamp::from_json`] reads, and also an RFC 3339
/// time whose offset has no colon (`+0000`, as Suricata writes it).
pub(crate) fn json_time(v: &Value) -> Option<Timestamp> {
    if let Some(t) = Timestamp::from_json(v) {
        return Some(t);
    }
    let s = v.as_str()?.trim();
    let cut = s.len().checked_sub(5)?;
    let (head, zone) = (s.get(..cut)?, s.get(cut..)?);
    let b = zone.as_bytes();
    if matches!(b.first(), Some(b'+' | b'-')) && zone.get(1..)?.bytes().all(|c| c.is_ascii_digit())
    {
        let fixed = format!("{head}{}:{}", zone.get(..3)?, zone.get(3..)?);
        return Timestamp::parse(&fixed).ok();
    }
    None
}

/// The first of `keys` that holds a time.
pub(crate) fn first_time(doc: &Map<String, Value>, keys: &[&str]) -> Option<Timestamp> {
    keys.iter().filter_map(|k| doc.get(*k)).find_map(json_time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2024-05-01T12:00:00Z
    const NOW: Timestamp = Timestamp(1_714_564_800_000_000);

    fn get<'a>(r: &'a Record, key: &str) -> &'a Value {
        r.doc
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", r.doc))
    }

    #[test]
    fn syslog_header_fields() {
        let r = decode_syslog_record(
            "<34>1 2024-05-01T11:59:00Z web1 myapp 4242 ID47 [origin@1 ip=\"10.0.0.1\"] something odd happened",
            NOW,
        );
        assert_eq!(get(&r, "message"), "something odd happened");
        assert_eq!(get(&r, "host.name"), "web1");
        assert_eq!(get(&r, "process.name"), "myapp");
        assert_eq!(get(&r, "process.pid"), &json!(4242));
        assert_eq!(get(&r, "log.syslog.facility.code"), &json!(4));
        assert_eq!(get(&r, "log.syslog.severity.code"), &json!(2));
        assert_eq!(get(&r, "log.syslog.appname"), "myapp");
        assert_eq!(get(&r, "log.syslog.msgid"), "ID47");
        assert_eq!(
            get(&r, "log.syslog.structured_data.origin@1.ip"),
            "10.0.0.1"
        );
        assert_eq!(r.source.product.as_deref(), Some("linux"));
        assert!(r.source.categories.is_empty());
        assert_eq!(r.time, Some(Timestamp(NOW.0 - 60_000_000)));
        assert_eq!(r.audit, None);
    }

    #[test]
    fn mangled_ports_are_dropped() {
        let r = decode_syslog_record(
            "<38>May  1 11:00:00 bastion sshd[811]: Failed password for root from 203.0.113.7 port 4\u{fffd}0022 ssh2",
            NOW,
        );
        assert_eq!(get(&r, "source.ip"), "203.0.113.7");
        assert!(!r.doc.contains_key("source.port"));
    }

    #[test]
    fn unknown_line_is_kept() {
        let r = decode_syslog_record("just some text", NOW);
        assert_eq!(get(&r, "message"), "just some text");
        assert_eq!(r.source, LogSourceTag::default());
        assert_eq!(r.time, None);
    }

    #[test]
    fn syslog_pam_tag_reaches_the_linux_decoder() {
        let r = decode_syslog_record(
            "Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root",
            NOW,
        );
        assert_eq!(get(&r, "process.name"), "sshd");
        assert_eq!(get(&r, "process.pid"), &json!(20882));
        assert_eq!(get(&r, "event.action"), "authentication-failure");
        assert_eq!(get(&r, "event.outcome"), "failure");
        assert_eq!(get(&r, "user.name"), "root");
        assert_eq!(get(&r, "source.domain"), "220-135-151-1.hinet-ip.hinet.net");
        assert_eq!(
            get(&r, "source.address"),
            "220-135-151-1.hinet-ip.hinet.net"
        );
        assert_eq!(get(&r, "pam.module"), "pam_unix");
        assert_eq!(
            r.source,
            LogSourceTag::new(Some("linux"), Some("authentication"), Some("sshd"))
        );
        let r = decode_syslog_record(
            "<86>Jul  7 08:06:15 combo su(pam_unix)[2421]: session opened for user news by (uid=0)",
            NOW,
        );
        assert_eq!(get(&r, "event.action"), "session-opened");
        assert_eq!(get(&r, "user.name"), "news");
    }

    #[test]
    fn syslog_repeated_message() {
        let r = decode_syslog_record(
            "<38>Dec 10 07:13:56 LabSZ sshd[24227]: message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]",
            NOW,
        );
        assert_eq!(get(&r, "event.action"), "ssh-login");
        assert_eq!(get(&r, "source.ip"), "5.36.59.76");
        assert_eq!(get(&r, "source.port"), &json!(42393));
        assert_eq!(get(&r, crate::linux::REPEAT_COUNT_FIELD), &json!(5));
    }

    #[test]
    fn syslog_linux_sshd() {
        let r = decode_syslog_record(
            "<38>May  1 11:00:00 bastion sshd[811]: Failed password for root from 203.0.113.7 port 40022 ssh2",
            NOW,
        );
        assert_eq!(get(&r, "user.name"), "root");
        assert_eq!(get(&r, "source.ip"), "203.0.113.7");
        assert_eq!(get(&r, "event.outcome"), "failure");
        assert_eq!(get(&r, "host.name"), "bastion");
        assert_eq!(get(&r, "process.pid"), &json!(811));
        assert_eq!(
            r.source,
            LogSourceTag::new(Some("linux"), Some("authentication"), Some("sshd"))
        );
        assert!(r.time.is_some());
    }

    #[test]
    fn syslog_firewall_ufw() {
        let r = decode_syslog_record(
            "May  1 11:00:00 gw kernel: [123.456] [UFW BLOCK] IN=eth0 OUT= MAC=00 SRC=198.51.100.9 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=4444 DPT=22 WINDOW=1 RES=0x00 SYN URGP=0",
            NOW,
        );
        assert_eq!(get(&r, "source.ip"), "198.51.100.9");
        assert_eq!(get(&r, "destination.port"), &json!(22));
        assert_eq!(r.source.categories, vec!["firewall".to_string()]);
        assert_eq!(r.source.product.as_deref(), Some("ufw"));
    }

    #[test]
    fn syslog_cef_and_leef() {
        let r = decode_syslog_record(
            "<134>May  1 11:00:00 fw1 CEF:0|Fortinet|FortiGate|7.0|13|traffic|3|src=10.1.1.1 dst=8.8.8.8 dpt=53 proto=UDP act=accept",
            NOW,
        );
        assert_eq!(get(&r, "source.ip"), "10.1.1.1");
        assert_eq!(get(&r, "destination.port"), &json!(53));
        assert_eq!(r.source.product.as_deref(), Some("fortigate"));
        let r = decode_syslog_record(
            "LEEF:1.0|Acme|Web Gateway|2.1|login|src=10.2.2.2\tusrName=bob",
            NOW,
        );
        assert_eq!(get(&r, "source.ip"), "10.2.2.2");
        assert_eq!(r.source.product.as_deref(), Some("web_gateway"));
        assert_eq!(
            cef_product("Cisco", "ASA"),
            (Some("cisco".into()), Some("asa".into()))
        );
    }

    #[test]
    fn syslog_json_payload() {
        let r = decode_syslog_record(
            r#"<14>May  1 11:00:00 sensor suricata[99]: {"timestamp":"2024-05-01T10:59:59.500000+0000","event_type":"alert","src_ip":"10.0.0.5","src_port":1234,"dest_ip":"192.0.2.1","dest_port":80,"proto":"TCP","alert":{"signature_id":2010935,"signature":"ET SCAN","category":"Attempted Information Leak","severity":2}}"#,
            NOW,
        );
        assert_eq!(get(&r, "rule.id"), "2010935");
        assert_eq!(get(&r, "host.name"), "sensor");
        assert!(!r.doc.contains_key("message"));
        assert_eq!(r.source.product.as_deref(), Some("suricata"));
        assert_eq!(r.time, Some(Timestamp(NOW.0 - 3_600_500_000)));
    }

    #[test]
    fn json_unknown_is_unchanged() {
        let doc = json!({"a": 1, "@timestamp": "2024-05-01T12:00:00Z"});
        let r = decode_json_record(doc.as_object().unwrap().clone());
        assert_eq!(Value::Object(r.doc), doc);
        assert_eq!(r.source, LogSourceTag::default());
        assert_eq!(r.time, Some(NOW));
    }

    proptest::proptest! {
        /// Any text, alone or behind the headers and prefixes the decoders
        /// look for: a record, the same one twice, ports within u16.
        #[test]
        fn any_line_gives_a_record(body in "\\PC{0,120}") {
            for line in [
                body.clone(),
                format!("<14>May  1 11:00:00 host audispd: type=SYSCALL msg=audit(1.2:3): {body}"),
                format!("<14>May  1 11:00:00 host nginx: 1.2.3.4 - - [01/May/2024:11:00:00 +0000] \"{body}"),
                format!("<14>May  1 11:00:00 host app: {{\"event_type\":\"dns\",\"timestamp\":1,\"src_ip\":\"{body}\"}}"),
                format!("CEF:0|{body}"),
            ] {
                let r = decode_syslog_record(&line, NOW);
                proptest::prop_assert_eq!(&r, &decode_syslog_record(&line, NOW));
                for k in ["source.port", "destination.port"] {
                    proptest::prop_assert!(r.doc.get(k).is_none_or(|p| p.as_u64().is_some_and(|p| p <= 65535)));
                }
            }
        }
    }

    #[test]
    fn url_parts() {
        let mut doc = Map::new();
        put_url(&mut doc, "http://example.com/a/b.php?x=1#frag");
        assert_eq!(doc["url.domain"], "example.com");
        assert_eq!(doc["url.path"], "/a/b.php");
        assert_eq!(doc["url.query"], "x=1");
        assert_eq!(doc["url.extension"], "php");
        assert_eq!(doc["url.scheme"], "http");
        let mut doc = Map::new();
        put_url(&mut doc, "/");
        assert_eq!(doc["url.path"], "/");
        assert!(!doc.contains_key("url.query"));
    }
}
