//! Suricata EVE JSON: one event object (`event_type` alert, flow, netflow,
//! dns, http, tls, fileinfo...). The object is kept as it is; ECS names are
//! added as flat dotted keys beside it.
//!
//! Recognised by `event_type` and `timestamp` plus one of `flow_id`,
//! `src_ip`, `dest_ip`, `in_iface` (or `event_type: stats`).
//!
//! ECS names (when the event has the source field):
//! - all: `source.ip`/`source.port` (`src_ip`/`src_port`),
//!   `destination.ip`/`destination.port`, `network.transport` (`proto`,
//!   lowercase), `network.protocol` (`app_proto`), `network.community_id`,
//!   `observer.ingress.interface.name` (`in_iface`), `observer.name`
//!   (`host`), `event.kind` (`alert` or `event`), `event.dataset`
//!   (`suricata.<event_type>`);
//! - alert: `rule.id` (`alert.signature_id`, as text), `rule.name`
//!   (`signature`), `rule.category`, `rule.version` (`rev`),
//!   `event.severity` (1 high .. 3 low, as Suricata numbers it),
//!   `event.action` (`allowed`/`blocked`);
//! - dns (EVE v1, v2 and v3 layouts): `dns.question.name`,
//!   `dns.question.type`, `dns.response_code`, `dns.id`, `dns.type`,
//!   `dns.answers` (objects `name`, `type`, `ttl`, `data`),
//!   `dns.resolved_ip`, and Sigma's `category: dns` names `query`,
//!   `record_type`, `answer`;
//! - http: `url.original`, `url.path`, `url.query`, `url.extension`,
//!   `url.domain` (`hostname`), `http.request.method`, `http.version`,
//!   `http.response.status_code`, `http.response.body.bytes` (`length`),
//!   `http.request.referrer`, `http.response.mime_type`,
//!   `user_agent.original`, and Sigma's proxy names (`c-uri`,
//!   `c-uri-query`, `c-uri-extension`, `cs-host`, `cs-method`,
//!   `c-useragent`, `cs-referrer`, `cs-version`, `sc-status`, `dst_ip`);
//! - tls: `tls.server.sni` and `tls.client.server_name` (`sni`),
//!   `tls.version`, `tls.server.subject`, `tls.server.issuer`,
//!   `tls.server.not_before`/`not_after`, `tls.client.ja3`,
//!   `tls.server.ja3s`;
//! - flow: `source.bytes`/`packets` (to server), `destination.bytes`/
//!   `packets` (to client), `network.bytes`, `network.packets`,
//!   `event.start`, `event.end`;
//! - fileinfo: `file.name`, `file.size`, `file.hash.md5/sha1/sha256`.
//!
//! Log source: product `suricata`, service the `event_type`, categories:
//! `ids` for alert (no Sigma category fits), `network` for flow and
//! netflow, `dns` for dns, `proxy` for http (what Sigma's web-traffic rules
//! are written against), none for the others. Time: `timestamp`.

use crate::record::{
    alias, first_time, http_version, put_ip, put_proxy_names, put_text, put_url, transport_name,
    value_text, value_u64, LogSourceTag, Record,
};
use serde_json::{Map, Value};

/// Whether `doc` looks like a Suricata EVE event.
pub fn is_eve(doc: &Map<String, Value>) -> bool {
    let Some(kind) = doc.get("event_type").and_then(Value::as_str) else {
        return false;
    };
    doc.contains_key("timestamp")
        && (kind == "stats"
            || ["flow_id", "src_ip", "dest_ip", "in_iface"]
                .iter()
                .any(|k| doc.contains_key(*k)))
}

/// Adds ECS names and the log source to an EVE event (see the module doc).
pub fn decode_eve(mut doc: Map<String, Value>) -> Record {
    let kind = doc
        .get("event_type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let text = |doc: &Map<String, Value>, k: &str| doc.get(k).and_then(value_text);
    if let Some(ip) = text(&doc, "src_ip") {
        put_ip(&mut doc, "source.ip", &ip);
    }
    if let Some(ip) = text(&doc, "dest_ip") {
        put_ip(&mut doc, "destination.ip", &ip);
    }
    port(&mut doc, "src_port", "source.port");
    port(&mut doc, "dest_port", "destination.port");
    if let Some(p) = text(&doc, "proto") {
        put_text(&mut doc, "network.transport", &transport_name(&p));
    }
    if let Some(p) = text(&doc, "app_proto") {
        put_text(&mut doc, "network.protocol", &p.to_ascii_lowercase());
    }
    alias(&mut doc, "community_id", "network.community_id");
    alias(&mut doc, "in_iface", "observer.ingress.interface.name");
    if doc.get("host").is_some_and(Value::is_string) {
        alias(&mut doc, "host", "observer.name");
    }
    put_text(
        &mut doc,
        "event.kind",
        if kind == "alert" { "alert" } else { "event" },
    );
    if !kind.is_empty() {
        put_text(&mut doc, "event.dataset", &format!("suricata.{kind}"));
    }
    if let Some(Value::Object(alert)) = doc.get("alert").cloned() {
        alert_fields(&mut doc, &alert);
    }
    if let Some(Value::Object(dns)) = doc.get("dns").cloned() {
        dns_fields(&mut doc, &dns);
    }
    if let Some(Value::Object(http)) = doc.get("http").cloned() {
        http_fields(&mut doc, &http);
    }
    if let Some(Value::Object(tls)) = doc.get("tls").cloned() {
        tls_fields(&mut doc, &tls);
    }
    if let Some(Value::Object(flow)) = doc.get("flow").cloned() {
        flow_fields(&mut doc, &flow);
    }
    if let Some(Value::Object(file)) = doc.get("fileinfo").cloned() {
        for (from, to) in [
            ("filename", "file.name"),
            ("md5", "file.hash.md5"),
            ("sha1", "file.hash.sha1"),
            ("sha256", "file.hash.sha256"),
        ] {
            if let Some(v) = file.get(from).and_then(Value::as_str) {
                put_text(&mut doc, to, v);
            }
        }
        if let Some(n) = file.get("size").and_then(value_u64) {
            doc.insert("file.size".into(), Value::from(n));
        }
    }
    let category = match kind.as_str() {
        "alert" => Some("ids"),
        "flow" | "netflow" => Some("network"),
        "dns" => Some("dns"),
        "http" => Some("proxy"),
        _ => None,
    };
    let service = (!kind.is_empty()).then_some(kind.as_str());
    let time = first_time(&doc, &["timestamp", "@timestamp"]);
    Record {
        source: LogSourceTag::new(Some("suricata"), category, service),
        time,
        audit: None,
        doc,
    }
}

fn port(doc: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(p) = doc
        .get(from)
        .and_then(value_u64)
        .filter(|p| *p <= u64::from(u16::MAX))
    {
        doc.insert(to.into(), Value::from(p));
    }
}

fn alert_fields(doc: &mut Map<String, Value>, alert: &Map<String, Value>) {
    let text = |k: &str| alert.get(k).and_then(value_text);
    for (from, to) in [
        ("signature_id", "rule.id"),
        ("signature", "rule.name"),
        ("category", "rule.category"),
        ("rev", "rule.version"),
        ("action", "event.action"),
    ] {
        if let Some(v) = text(from) {
            put_text(doc, to, &v);
        }
    }
    if let Some(n) = alert.get("severity").and_then(value_u64) {
        doc.insert("event.severity".into(), Value::from(n));
    }
}

fn dns_fields(doc: &mut Map<String, Value>, dns: &Map<String, Value>) {
    let text = |m: &Map<String, Value>, k: &str| m.get(k).and_then(value_text);
    // v3 (`queries`) or v1/v2 (`rrname` at the top of `dns`).
    let question = match dns.get("queries").and_then(Value::as_array) {
        Some(q) => q.first().and_then(Value::as_object).cloned(),
        None => Some(dns.clone()),
    };
    if let Some(q) = question {
        if let Some(name) = text(&q, "rrname") {
            put_text(doc, "dns.question.name", &name);
            put_text(doc, "query", &name);
        }
        if let Some(t) = text(&q, "rrtype") {
            put_text(doc, "dns.question.type", &t);
            put_text(doc, "record_type", &t);
        }
    }
    if let Some(code) = text(dns, "rcode") {
        put_text(doc, "dns.response_code", &code);
    }
    if let Some(id) = dns.get("id").and_then(value_u64) {
        doc.insert("dns.id".into(), Value::from(id));
    }
    if let Some(t) = text(dns, "type") {
        put_text(doc, "dns.type", &t);
    }
    let mut answers = Vec::new();
    // v2 detailed: `answers: [{rrname, rrtype, ttl, rdata}]`; v1 answer
    // events carry one answer at the top of `dns`.
    match dns.get("answers").and_then(Value::as_array) {
        Some(list) => {
            for a in list.iter().filter_map(Value::as_object) {
                answers.push(answer(a));
            }
        }
        None if dns.get("type").and_then(Value::as_str) == Some("answer")
            && dns.contains_key("rdata") =>
        {
            answers.push(answer(dns));
        }
        None => {}
    }
    // v2 grouped: `grouped: {A: ["1.2.3.4"], CNAME: [..]}`.
    if let Some(Value::Object(grouped)) = dns.get("grouped") {
        if answers.is_empty() {
            for (rtype, list) in grouped {
                for data in list.as_array().into_iter().flatten() {
                    let mut a = Map::new();
                    a.insert("type".into(), Value::from(rtype.as_str()));
                    if let Some(d) = value_text(data) {
                        a.insert("data".into(), Value::from(d));
                    }
                    answers.push(a);
                }
            }
        }
    }
    put_answers(doc, answers);
}

fn answer(a: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (from, to) in [
        ("rrname", "name"),
        ("rrtype", "type"),
        ("ttl", "ttl"),
        ("rdata", "data"),
    ] {
        if let Some(v) = a.get(from).filter(|v| !v.is_null()) {
            out.insert(to.into(), v.clone());
        }
    }
    out
}

/// `dns.answers`, `dns.resolved_ip` and Sigma's `answer` (the data).
pub(crate) fn put_answers(doc: &mut Map<String, Value>, answers: Vec<Map<String, Value>>) {
    if answers.is_empty() {
        return;
    }
    let data: Vec<Value> = answers
        .iter()
        .filter_map(|a| a.get("data").and_then(value_text))
        .map(Value::from)
        .collect();
    let ips: Vec<Value> = data
        .iter()
        .filter_map(Value::as_str)
        .filter_map(crate::record::parse_ip)
        .map(|ip| Value::from(ip.to_string()))
        .collect();
    doc.insert(
        "dns.answers".into(),
        Value::Array(answers.into_iter().map(Value::Object).collect()),
    );
    if !ips.is_empty() {
        doc.insert("dns.resolved_ip".into(), Value::Array(ips));
    }
    if !data.is_empty() {
        doc.entry("answer").or_insert(Value::Array(data));
    }
}

fn http_fields(doc: &mut Map<String, Value>, http: &Map<String, Value>) {
    let text = |k: &str| http.get(k).and_then(value_text);
    if let Some(url) = text("url") {
        put_url(doc, &url);
    }
    if let Some(host) = text("hostname") {
        put_text(doc, "url.domain", &host);
    }
    if let Some(m) = text("http_method") {
        put_text(doc, "http.request.method", &m);
    }
    if let Some(p) = text("protocol") {
        put_text(doc, "http.version", http_version(&p));
    }
    if let Some(n) = http.get("status").and_then(value_u64) {
        doc.insert("http.response.status_code".into(), Value::from(n));
    }
    if let Some(n) = http.get("length").and_then(value_u64) {
        doc.insert("http.response.body.bytes".into(), Value::from(n));
    }
    for (from, to) in [
        ("http_refer", "http.request.referrer"),
        ("http_user_agent", "user_agent.original"),
        ("http_content_type", "http.response.mime_type"),
        ("xff", "http.request.x_forwarded_for"),
    ] {
        if let Some(v) = text(from) {
            put_text(doc, to, &v);
        }
    }
    put_proxy_names(doc);
}

fn tls_fields(doc: &mut Map<String, Value>, tls: &Map<String, Value>) {
    let text = |k: &str| tls.get(k).and_then(value_text);
    if let Some(sni) = text("sni") {
        put_text(doc, "tls.server.sni", &sni);
        put_text(doc, "tls.client.server_name", &sni);
    }
    if let Some(v) = text("version") {
        // `TLS 1.2`, `TLSv1.3`, `SSLv3`.
        let lower = v.to_ascii_lowercase();
        let (protocol, number) = match lower.strip_prefix("tls") {
            Some(n) => ("tls", n.trim_start_matches([' ', 'v'])),
            None => match lower.strip_prefix("ssl") {
                Some(n) => ("ssl", n.trim_start_matches([' ', 'v'])),
                None => ("", lower.as_str()),
            },
        };
        put_text(doc, "tls.version", number);
        put_text(doc, "tls.version_protocol", protocol);
    }
    for (from, to) in [
        ("subject", "tls.server.subject"),
        ("issuerdn", "tls.server.issuer"),
        ("notbefore", "tls.server.not_before"),
        ("notafter", "tls.server.not_after"),
        ("serial", "tls.server.x509.serial_number"),
    ] {
        if let Some(v) = text(from) {
            put_text(doc, to, &v);
        }
    }
    for (from, to) in [("ja3", "tls.client.ja3"), ("ja3s", "tls.server.ja3s")] {
        if let Some(hash) = tls
            .get(from)
            .and_then(|j| j.get("hash"))
            .and_then(Value::as_str)
        {
            put_text(doc, to, hash);
        }
    }
}

fn flow_fields(doc: &mut Map<String, Value>, flow: &Map<String, Value>) {
    let num = |k: &str| flow.get(k).and_then(value_u64);
    let mut total = [0u64; 2];
    for (from, to, slot) in [
        ("pkts_toserver", "source.packets", 0),
        ("pkts_toclient", "destination.packets", 0),
        ("bytes_toserver", "source.bytes", 1),
        ("bytes_toclient", "destination.bytes", 1),
    ] {
        if let Some(n) = num(from) {
            doc.insert(to.into(), Value::from(n));
            total[slot] = total[slot].saturating_add(n);
        }
    }
    if num("pkts_toserver").is_some() || num("pkts_toclient").is_some() {
        doc.insert("network.packets".into(), Value::from(total[0]));
    }
    if num("bytes_toserver").is_some() || num("bytes_toclient").is_some() {
        doc.insert("network.bytes".into(), Value::from(total[1]));
    }
    for (from, to) in [("start", "event.start"), ("end", "event.end")] {
        if let Some(v) = flow.get(from).and_then(Value::as_str) {
            put_text(doc, to, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::decode_json_record;
    use serde_json::json;
    use vigil_core::Timestamp;

    fn eve(v: Value) -> Record {
        let doc = v.as_object().cloned().unwrap_or_default();
        assert!(is_eve(&doc), "not eve: {doc:?}");
        decode_json_record(doc)
    }

    fn get<'a>(r: &'a Record, key: &str) -> &'a Value {
        r.doc
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", r.doc))
    }

    #[test]
    fn alert_event() {
        let r = eve(json!({
            "timestamp": "2024-05-01T12:00:00.250000+0200", "flow_id": 1234567, "in_iface": "eth0",
            "event_type": "alert", "src_ip": "10.0.0.5", "src_port": 49152,
            "dest_ip": "203.0.113.80", "dest_port": 80, "proto": "TCP", "app_proto": "http",
            "community_id": "1:abc=",
            "alert": {"action": "allowed", "gid": 1, "signature_id": 2019401, "rev": 3,
                      "signature": "ET POLICY curl User-Agent Outbound", "category": "Attempted Information Leak", "severity": 2},
            "http": {"hostname": "example.com", "url": "/x.exe?a=1", "http_user_agent": "curl/8.1",
                     "http_method": "GET", "protocol": "HTTP/1.1", "status": 200, "length": 42}
        }));
        assert_eq!(get(&r, "source.ip"), "10.0.0.5");
        assert_eq!(get(&r, "source.port"), &json!(49152));
        assert_eq!(get(&r, "destination.ip"), "203.0.113.80");
        assert_eq!(get(&r, "destination.port"), &json!(80));
        assert_eq!(get(&r, "network.transport"), "tcp");
        assert_eq!(get(&r, "network.protocol"), "http");
        assert_eq!(get(&r, "rule.id"), "2019401");
        assert_eq!(get(&r, "rule.name"), "ET POLICY curl User-Agent Outbound");
        assert_eq!(get(&r, "rule.category"), "Attempted Information Leak");
        assert_eq!(get(&r, "event.severity"), &json!(2));
        assert_eq!(get(&r, "event.kind"), "alert");
        assert_eq!(get(&r, "url.original"), "/x.exe?a=1");
        assert_eq!(get(&r, "c-uri-extension"), "exe");
        assert_eq!(get(&r, "user_agent.original"), "curl/8.1");
        assert_eq!(get(&r, "c-useragent"), "curl/8.1");
        assert_eq!(get(&r, "http.response.status_code"), &json!(200));
        // The original object is kept.
        assert_eq!(r.doc["alert"]["signature_id"], json!(2019401));
        assert_eq!(r.time, Some(Timestamp(1_714_557_600_250_000)));
        assert_eq!(
            r.source,
            LogSourceTag::new(Some("suricata"), Some("ids"), Some("alert"))
        );
    }

    #[test]
    fn dns_layouts() {
        let r = eve(
            json!({"timestamp": "2024-05-01T12:00:00+0000", "event_type": "dns",
            "src_ip": "10.0.0.5", "dest_ip": "10.0.0.1", "proto": "UDP",
            "dns": {"version": 2, "type": "answer", "id": 7, "rrname": "evil.example", "rrtype": "A",
                    "rcode": "NOERROR", "answers": [{"rrname": "evil.example", "rrtype": "A", "ttl": 60, "rdata": "198.51.100.2"}]}}),
        );
        assert_eq!(get(&r, "dns.question.name"), "evil.example");
        assert_eq!(get(&r, "query"), "evil.example");
        assert_eq!(get(&r, "record_type"), "A");
        assert_eq!(get(&r, "dns.response_code"), "NOERROR");
        assert_eq!(
            get(&r, "dns.answers"),
            &json!([{"name": "evil.example", "type": "A", "ttl": 60, "data": "198.51.100.2"}])
        );
        assert_eq!(get(&r, "dns.resolved_ip"), &json!(["198.51.100.2"]));
        assert_eq!(get(&r, "answer"), &json!(["198.51.100.2"]));
        assert_eq!(r.source.categories, vec!["dns".to_string()]);
        let r = eve(
            json!({"timestamp": "2024-05-01T12:00:00+0000", "event_type": "dns", "src_ip": "10.0.0.5",
            "dns": {"version": 3, "queries": [{"rrname": "a.example", "rrtype": "TXT"}],
                    "grouped": {"TXT": ["hello"]}}}),
        );
        assert_eq!(get(&r, "dns.question.name"), "a.example");
        assert_eq!(get(&r, "answer"), &json!(["hello"]));
    }

    #[test]
    fn tls_and_flow() {
        let r = eve(
            json!({"timestamp": "2024-05-01T12:00:00+0000", "event_type": "tls", "src_ip": "10.0.0.5",
            "tls": {"subject": "CN=x", "issuerdn": "CN=ca", "sni": "login.example", "version": "TLS 1.2",
                    "ja3": {"hash": "abc"}, "ja3s": {"hash": "def"}}}),
        );
        assert_eq!(get(&r, "tls.server.sni"), "login.example");
        assert_eq!(get(&r, "tls.client.server_name"), "login.example");
        assert_eq!(get(&r, "tls.version"), "1.2");
        assert_eq!(get(&r, "tls.client.ja3"), "abc");
        let r = eve(
            json!({"timestamp": "2024-05-01T12:00:00+0000", "event_type": "flow", "src_ip": "10.0.0.5",
            "src_port": 99999, "proto": "17",
            "flow": {"pkts_toserver": 2, "pkts_toclient": 3, "bytes_toserver": 100, "bytes_toclient": 200,
                     "start": "2024-05-01T11:59:00.000000+0000", "state": "established"}}),
        );
        assert_eq!(get(&r, "network.bytes"), &json!(300));
        assert_eq!(get(&r, "network.packets"), &json!(5));
        assert_eq!(get(&r, "network.transport"), "udp");
        assert!(!r.doc.contains_key("source.port"), "out of range port");
        assert_eq!(r.source.categories, vec!["network".to_string()]);
    }

    #[test]
    fn odd_values_do_not_break() {
        let r = eve(
            json!({"timestamp": 5, "event_type": "alert", "src_ip": 7, "alert": "x",
            "dns": {"queries": "no", "answers": [1, null]}, "http": {"url": 3}, "tls": {"ja3": "x"}, "flow": []}),
        );
        assert_eq!(r.source.product.as_deref(), Some("suricata"));
        assert!(!is_eve(json!({"event_type": "alert"}).as_object().unwrap()));
    }
}
