//! Zeek JSON logs (conn, dns, http, ssl and the others), one object a line,
//! as Zeek writes them (`"id.orig_h"` flat keys), as some shippers rewrite
//! them (`id_orig_h`, or a nested `"id": {"orig_h": ..}`), with the log's
//! name in `_path`, `@stream` or `_write_path`, or none.
//!
//! Recognised by `uid` and the originator address (`id.orig_h` in any of
//! the three forms), or by a log name and `ts` (files, x509... have no
//! connection id). The log is the named one, else guessed from its
//! fields (`query` → dns, `method`/`uri` → http, `conn_state` → conn,
//! `server_name`/`cipher` → ssl).
//!
//! The object is kept; added:
//! - `id.orig_h`, `id.orig_p`, `id.resp_h`, `id.resp_p` as flat keys when
//!   they came as `id_orig_h` (Sigma's zeek rules use `id.resp_h`), and
//!   x509's `certificate.*`, `san.*`, `basic_constraints.*` when they came
//!   as `certificate_serial`...;
//! - all: `source.ip`, `source.port`, `destination.ip`,
//!   `destination.port`, `network.transport` (`proto`), `event.dataset`
//!   (`zeek.<log>`), `event.id` (`uid`);
//! - conn: `network.protocol` (`service`), `event.duration` (ns),
//!   `source.bytes`/`packets`, `destination.bytes`/`packets`;
//! - dns: `dns.question.name` (`query`), `dns.question.type` (`qtype_name`),
//!   `dns.response_code` (`rcode_name`), `dns.id` (`trans_id`),
//!   `dns.answers` (objects `data`, `ttl`), `dns.resolved_ip`, and Sigma's
//!   `category: dns` names `answer` and `record_type` (`query` is Zeek's);
//! - http: `http.request.method`, `url.original` (`uri`), `url.path`,
//!   `url.query`, `url.extension`, `url.domain` (`host`), `http.version`,
//!   `http.response.status_code`, `http.request.body.bytes`,
//!   `http.response.body.bytes`, `http.request.referrer`,
//!   `http.response.mime_type`, `user_agent.original`, `user.name`
//!   (`username`), and Sigma's proxy names (`c-uri`, `c-useragent`,
//!   `cs-host`, `cs-method`, `c-uri-query`, `c-uri-extension`,
//!   `cs-referrer`, `sc-status`, `dst_ip`...);
//! - ssl: `tls.server.sni` and `tls.client.server_name` (`server_name`),
//!   `tls.version`, `tls.cipher`, `tls.established`, `tls.resumed`,
//!   `tls.client.ja3`, `tls.server.ja3s`, `tls.server.subject`,
//!   `tls.server.issuer`;
//! - files: `file.hash.md5/sha1/sha256`, `file.mime_type`, `file.name`,
//!   `file.size` (`seen_bytes`).
//!
//! Log source: product `zeek`, service the log's name (`conn`, `dns`,
//! `http`, `ssl`, `smb_files`, `kerberos`...: SigmaHQ's zeek services are
//! Zeek's log names), category `dns` for dns, `proxy` for http (so Sigma's
//! proxy rules see Zeek's HTTP), `network` for conn. Time: `ts` (epoch
//! seconds or ISO 8601).

use crate::eve::put_answers;
use crate::record::{
    alias, first_time, put_ip, put_proxy_names, put_text, put_url, transport_name, value_text,
    value_u64, LogSourceTag, Record,
};
use serde_json::{Map, Value};

const ID_FIELDS: [&str; 4] = ["orig_h", "orig_p", "resp_h", "resp_p"];

/// Whether `doc` looks like a Zeek log entry: a `uid` and an originator
/// address, or a log name (`_path`, `@stream`, `_write_path`) and a `ts`
/// (the logs without a connection: files, x509, notice...).
pub fn is_zeek(doc: &Map<String, Value>) -> bool {
    (doc.get("uid").is_some_and(Value::is_string) && id(doc, "orig_h").is_some())
        || (doc.contains_key("ts") && log_name(doc).is_some())
}

fn log_name(doc: &Map<String, Value>) -> Option<&str> {
    ["_path", "@stream", "_write_path"]
        .iter()
        .find_map(|k| doc.get(*k).and_then(Value::as_str))
}

/// `id.<part>` in any of its forms.
fn id<'a>(doc: &'a Map<String, Value>, part: &str) -> Option<&'a Value> {
    doc.get(&format!("id.{part}"))
        .or_else(|| doc.get(&format!("id_{part}")))
        .or_else(|| doc.get("id").and_then(|i| i.get(part)))
}

/// Adds ECS names and the log source to a Zeek entry (see the module doc).
pub fn decode_zeek(mut doc: Map<String, Value>) -> Record {
    let log = log_name(&doc).map_or_else(|| guess(&doc).to_string(), str::to_string);
    for part in ID_FIELDS {
        if let Some(v) = doc.get(&format!("id_{part}")).cloned() {
            doc.entry(format!("id.{part}")).or_insert(v);
        }
    }
    // x509's record fields, likewise (`certificate_serial`).
    let renamed: Vec<(String, Value)> = doc
        .iter()
        .filter_map(|(k, v)| {
            ["certificate_", "san_", "basic_constraints_"]
                .iter()
                .find_map(|p| k.strip_prefix(p).map(|rest| (p, rest)))
                .map(|(p, rest)| (format!("{}.{rest}", p.trim_end_matches('_')), v.clone()))
        })
        .collect();
    for (k, v) in renamed {
        doc.entry(k).or_insert(v);
    }
    let text = |doc: &Map<String, Value>, k: &str| doc.get(k).and_then(value_text);
    if let Some(ip) = id(&doc, "orig_h").and_then(value_text) {
        put_ip(&mut doc, "source.ip", &ip);
    }
    if let Some(ip) = id(&doc, "resp_h").and_then(value_text) {
        put_ip(&mut doc, "destination.ip", &ip);
    }
    for (part, to) in [("orig_p", "source.port"), ("resp_p", "destination.port")] {
        if let Some(p) = id(&doc, part)
            .and_then(value_u64)
            .filter(|p| *p <= u64::from(u16::MAX))
        {
            doc.insert(to.into(), Value::from(p));
        }
    }
    if let Some(p) = text(&doc, "proto") {
        put_text(&mut doc, "network.transport", &transport_name(&p));
    }
    if !log.is_empty() {
        put_text(&mut doc, "event.dataset", &format!("zeek.{log}"));
    }
    alias(&mut doc, "uid", "event.id");
    let category = match log.as_str() {
        "conn" => {
            conn(&mut doc);
            Some("network")
        }
        "dns" => {
            dns(&mut doc);
            Some("dns")
        }
        "http" => {
            http(&mut doc);
            Some("proxy")
        }
        "ssl" => {
            ssl(&mut doc);
            None
        }
        "files" => {
            for (from, to) in [
                ("md5", "file.hash.md5"),
                ("sha1", "file.hash.sha1"),
                ("sha256", "file.hash.sha256"),
                ("mime_type", "file.mime_type"),
                ("filename", "file.name"),
                ("seen_bytes", "file.size"),
            ] {
                alias(&mut doc, from, to);
            }
            None
        }
        _ => None,
    };
    let time = first_time(&doc, &["ts", "@timestamp"]);
    let service = (!log.is_empty()).then_some(log.as_str());
    Record {
        source: LogSourceTag::new(Some("zeek"), category, service),
        time,
        audit: None,
        doc,
    }
}

fn guess(doc: &Map<String, Value>) -> &'static str {
    let has = |k: &str| doc.contains_key(k);
    if has("query") || has("qtype_name") || has("trans_id") && has("rcode") {
        "dns"
    } else if has("method") || has("uri") || has("status_code") && has("trans_depth") {
        "http"
    } else if has("conn_state") || has("history") && has("orig_bytes") {
        "conn"
    } else if has("server_name") || has("cipher") {
        "ssl"
    } else {
        ""
    }
}

fn conn(doc: &mut Map<String, Value>) {
    if let Some(s) = doc
        .get("service")
        .and_then(Value::as_str)
        .map(str::to_string)
    {
        put_text(doc, "network.protocol", &s);
    }
    if let Some(d) = doc
        .get("duration")
        .and_then(Value::as_f64)
        .filter(|d| d.is_finite() && *d >= 0.0 && *d < 1e9)
    {
        doc.insert("event.duration".into(), Value::from((d * 1e9) as u64));
    }
    for (from, to) in [
        ("orig_bytes", "source.bytes"),
        ("resp_bytes", "destination.bytes"),
        ("orig_pkts", "source.packets"),
        ("resp_pkts", "destination.packets"),
    ] {
        if let Some(n) = doc.get(from).and_then(value_u64) {
            doc.insert(to.into(), Value::from(n));
        }
    }
}

fn dns(doc: &mut Map<String, Value>) {
    for (from, to) in [
        ("query", "dns.question.name"),
        ("qtype_name", "dns.question.type"),
        ("qtype_name", "record_type"),
        ("rcode_name", "dns.response_code"),
    ] {
        alias(doc, from, to);
    }
    if let Some(n) = doc.get("trans_id").and_then(value_u64) {
        doc.insert("dns.id".into(), Value::from(n));
    }
    let ttls: Vec<Value> = doc
        .get("TTLs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let answers: Vec<Map<String, Value>> = doc
        .get("answers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, a)| {
            let mut m = Map::new();
            m.insert("data".into(), Value::from(value_text(a)?));
            if let Some(ttl) = ttls.get(i).filter(|t| t.is_number()) {
                m.insert("ttl".into(), ttl.clone());
            }
            Some(m)
        })
        .collect();
    put_answers(doc, answers);
}

fn http(doc: &mut Map<String, Value>) {
    let text = |doc: &Map<String, Value>, k: &str| doc.get(k).and_then(value_text);
    if let Some(uri) = text(doc, "uri") {
        put_url(doc, &uri);
    }
    for (from, to) in [
        ("host", "url.domain"),
        ("method", "http.request.method"),
        ("version", "http.version"),
        ("referrer", "http.request.referrer"),
        ("user_agent", "user_agent.original"),
        ("username", "user.name"),
    ] {
        if let Some(v) = text(doc, from) {
            put_text(doc, to, &v);
        }
    }
    for (from, to) in [
        ("status_code", "http.response.status_code"),
        ("request_body_len", "http.request.body.bytes"),
        ("response_body_len", "http.response.body.bytes"),
    ] {
        if let Some(n) = doc.get(from).and_then(value_u64) {
            doc.insert(to.into(), Value::from(n));
        }
    }
    if let Some(mime) = doc
        .get("resp_mime_types")
        .and_then(Value::as_array)
        .and_then(|m| m.first())
        .and_then(Value::as_str)
        .map(str::to_string)
    {
        put_text(doc, "http.response.mime_type", &mime);
    }
    put_proxy_names(doc);
}

fn ssl(doc: &mut Map<String, Value>) {
    let text = |doc: &Map<String, Value>, k: &str| doc.get(k).and_then(value_text);
    if let Some(sni) = text(doc, "server_name") {
        put_text(doc, "tls.server.sni", &sni);
        put_text(doc, "tls.client.server_name", &sni);
    }
    if let Some(v) = text(doc, "version") {
        // `TLSv12` → `1.2`, `TLSv13` → `1.3`, `SSLv3` → `3`.
        let (protocol, digits) = match (v.strip_prefix("TLSv"), v.strip_prefix("SSLv")) {
            (Some(d), _) => ("tls", d),
            (_, Some(d)) => ("ssl", d),
            _ => ("", v.as_str()),
        };
        let number = match digits.as_bytes() {
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                format!("{}.{}", char::from(*a), char::from(*b))
            }
            _ => digits.to_string(),
        };
        put_text(doc, "tls.version", &number);
        put_text(doc, "tls.version_protocol", protocol);
    }
    for (from, to) in [
        ("cipher", "tls.cipher"),
        ("established", "tls.established"),
        ("resumed", "tls.resumed"),
        ("ja3", "tls.client.ja3"),
        ("ja3s", "tls.server.ja3s"),
        ("subject", "tls.server.subject"),
        ("issuer", "tls.server.issuer"),
    ] {
        alias(doc, from, to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::decode_json_record;
    use serde_json::json;
    use vigil_core::Timestamp;

    fn zeek(v: Value) -> Record {
        let doc = v.as_object().cloned().unwrap_or_default();
        assert!(is_zeek(&doc), "not zeek: {doc:?}");
        decode_json_record(doc)
    }

    fn get<'a>(r: &'a Record, key: &str) -> &'a Value {
        r.doc
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", r.doc))
    }

    #[test]
    fn conn_entry() {
        let r = zeek(json!({"ts": 1588316619.797806, "uid": "CyLse01Jig9yHofDXc",
            "id.orig_h": "10.0.1.5", "id.orig_p": 55979, "id.resp_h": "10.0.0.4", "id.resp_p": 53,
            "proto": "udp", "service": "dns", "duration": 0.5, "orig_bytes": 82, "resp_bytes": 207,
            "conn_state": "SF", "orig_pkts": 2, "resp_pkts": 1}));
        assert_eq!(get(&r, "source.ip"), "10.0.1.5");
        assert_eq!(get(&r, "source.port"), &json!(55979));
        assert_eq!(get(&r, "destination.ip"), "10.0.0.4");
        assert_eq!(get(&r, "destination.port"), &json!(53));
        assert_eq!(get(&r, "network.transport"), "udp");
        assert_eq!(get(&r, "network.protocol"), "dns");
        assert_eq!(get(&r, "event.duration"), &json!(500_000_000));
        assert_eq!(get(&r, "source.bytes"), &json!(82));
        assert_eq!(
            r.source,
            LogSourceTag::new(Some("zeek"), Some("network"), Some("conn"))
        );
        assert_eq!(r.time, Some(Timestamp(1_588_316_619_797_806)));
    }

    #[test]
    fn dns_entry_with_underscore_ids() {
        let r = zeek(
            json!({"@stream": "dns", "ts": 1588316619.797806, "uid": "C1",
            "id_orig_h": "10.0.1.5", "id_orig_p": 55979, "id_resp_h": "10.0.0.4", "id_resp_p": 53,
            "proto": "udp", "trans_id": 40230, "query": "ctldl.windowsupdate.com", "qtype_name": "A",
            "rcode_name": "NOERROR", "Z": 0, "answers": ["a767.dscg3.akamai.net", "23.62.7.160"],
            "TTLs": [899.0, 19.0], "rejected": false}),
        );
        assert_eq!(get(&r, "id.resp_h"), "10.0.0.4");
        assert_eq!(get(&r, "id.resp_p"), &json!(53));
        assert_eq!(get(&r, "dns.question.name"), "ctldl.windowsupdate.com");
        assert_eq!(get(&r, "query"), "ctldl.windowsupdate.com");
        assert_eq!(get(&r, "dns.question.type"), "A");
        assert_eq!(get(&r, "record_type"), "A");
        assert_eq!(get(&r, "dns.resolved_ip"), &json!(["23.62.7.160"]));
        assert_eq!(
            get(&r, "dns.answers"),
            &json!([{"data": "a767.dscg3.akamai.net", "ttl": 899.0}, {"data": "23.62.7.160", "ttl": 19.0}])
        );
        assert_eq!(get(&r, "Z"), &json!(0));
        assert_eq!(
            r.source,
            LogSourceTag::new(Some("zeek"), Some("dns"), Some("dns"))
        );
    }

    #[test]
    fn http_entry_guessed() {
        let r = zeek(json!({"ts": "2020-05-01T07:09:23.457737Z", "uid": "CDts",
            "id": {"orig_h": "10.0.1.5", "orig_p": 60997, "resp_h": "192.168.0.4", "resp_p": 8080},
            "trans_depth": 1, "method": "PUT", "host": "192.168.0.4", "uri": "/webdav/m.exe", "version": "1.1",
            "user_agent": "Microsoft-WebDAV-MiniRedir/10.0", "request_body_len": 0,
            "response_body_len": 1011864, "status_code": 201, "resp_mime_types": ["application/x-dosexec"]}));
        assert_eq!(r.source.service.as_deref(), Some("http"));
        assert_eq!(get(&r, "source.ip"), "10.0.1.5");
        assert_eq!(get(&r, "http.request.method"), "PUT");
        assert_eq!(get(&r, "url.original"), "/webdav/m.exe");
        assert_eq!(get(&r, "c-uri"), "/webdav/m.exe");
        assert_eq!(get(&r, "c-useragent"), "Microsoft-WebDAV-MiniRedir/10.0");
        assert_eq!(
            get(&r, "user_agent.original"),
            "Microsoft-WebDAV-MiniRedir/10.0"
        );
        assert_eq!(get(&r, "cs-host"), "192.168.0.4");
        assert_eq!(get(&r, "http.response.status_code"), &json!(201));
        assert_eq!(get(&r, "http.response.mime_type"), "application/x-dosexec");
        assert_eq!(get(&r, "url.domain"), "192.168.0.4");
        assert!(r.time.is_some());
    }

    #[test]
    fn x509_entry_without_connection() {
        let r = zeek(
            json!({"@stream": "x509", "ts": 1588316619.755627, "id": "FSEOuu0uAa3hHdMa8",
            "certificate_serial": "8BB00EE", "certificate_subject": "CN=x"}),
        );
        assert_eq!(get(&r, "certificate.serial"), "8BB00EE");
        assert_eq!(
            r.source,
            LogSourceTag::new(Some("zeek"), None, Some("x509"))
        );
    }

    #[test]
    fn ssl_entry() {
        let r = zeek(
            json!({"_path": "ssl", "ts": 1.0, "uid": "C2", "id.orig_h": "10.0.1.5",
            "version": "TLSv12", "cipher": "TLS_ECDHE", "server_name": "login.example", "ja3": "c12f"}),
        );
        assert_eq!(get(&r, "tls.server.sni"), "login.example");
        assert_eq!(get(&r, "tls.version"), "1.2");
        assert_eq!(get(&r, "tls.client.ja3"), "c12f");
    }

    #[test]
    fn apt29_corpus() {
        let Some(dir) = std::env::var_os("VIGIL_CORPORA") else {
            return;
        };
        let path = std::path::Path::new(&dir).join("zeek/apt29-day2-combined.log");
        let text = std::fs::read_to_string(path).expect("zeek corpus");
        let mut seen = std::collections::BTreeMap::new();
        for line in text.lines() {
            let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let stream = doc
                .get("@stream")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let r = decode_json_record(doc);
            if r.source.product.as_deref() != Some("zeek") {
                continue;
            }
            assert!(r.time.is_some(), "{line}");
            if line.contains("\"uid\"") && line.contains("\"id_orig_h\"") {
                assert!(r.doc.contains_key("source.ip"), "{line}");
            }
            assert_eq!(r.source.service.as_deref(), Some(stream.as_str()));
            *seen.entry(stream).or_insert(0) += 1;
        }
        for log in [
            "conn",
            "dns",
            "http",
            "ssl",
            "kerberos",
            "smb_files",
            "files",
        ] {
            assert!(seen.get(log).is_some_and(|n| *n > 0), "{log}: {seen:?}");
        }
    }
}
