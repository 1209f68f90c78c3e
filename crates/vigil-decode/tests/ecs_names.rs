//! Through the pipeline's entry points (`decode_syslog_record`,
//! `decode_json_record`, `AuditAssembler`), one known line per decoder sets
//! the ECS names (and Sigma names) its module promises, and the log source
//! the server matches Sigma rules with.

use serde_json::{json, Value};
use vigil_core::Timestamp;
use vigil_decode::{
    decode_json_record, decode_syslog_record, AuditAssembler, LogSourceTag, Record,
};

/// 2024-05-01T12:00:00Z
const NOW: Timestamp = Timestamp(1_714_564_800_000_000);

fn has_all(r: &Record, keys: &[&str]) {
    let missing: Vec<&&str> = keys.iter().filter(|k| !r.doc.contains_key(**k)).collect();
    assert!(missing.is_empty(), "missing {missing:?} in {:#?}", r.doc);
}

fn tag(product: Option<&str>, category: Option<&str>, service: Option<&str>) -> LogSourceTag {
    LogSourceTag {
        product: product.map(str::to_string),
        categories: category.into_iter().map(str::to_string).collect(),
        service: service.map(str::to_string),
    }
}

fn json_record(v: Value) -> Record {
    decode_json_record(v.as_object().cloned().expect("object"))
}

#[test]
fn auditd_over_syslog_assembled() {
    let lines = [
        r#"<14>May  1 11:59:00 web1 audispd: node=web1 type=SYSCALL msg=audit(1714564740.100:812): arch=c000003e syscall=59 success=yes exit=0 a0=5601 a1=5602 a2=5603 a3=0 items=2 ppid=2000 pid=2001 auid=1000 uid=0 gid=0 euid=0 comm="curl" exe="/usr/bin/curl" key="susp_exec""#,
        r#"<14>May  1 11:59:00 web1 audispd: node=web1 type=EXECVE msg=audit(1714564740.100:812): argc=3 a0="curl" a1="-o" a2=2F746D702F782073682E7368"#,
        r#"<14>May  1 11:59:00 web1 audispd: node=web1 type=CWD msg=audit(1714564740.100:812): cwd="/tmp""#,
        r#"<14>May  1 11:59:00 web1 audispd: node=web1 type=PATH msg=audit(1714564740.100:812): item=0 name="/usr/bin/curl" nametype=NORMAL"#,
        r#"<14>May  1 11:59:00 web1 audispd: node=web1 type=PATH msg=audit(1714564740.100:812): item=1 name="/lib64/ld-linux-x86-64.so.2" nametype=NORMAL"#,
        r#"<14>May  1 11:59:00 web1 audispd: node=web1 type=PROCTITLE msg=audit(1714564740.100:812): proctitle=6375726C002D6F"#,
        r#"<14>May  1 11:59:00 web1 audispd: node=web1 type=EOE msg=audit(1714564740.100:812): "#,
    ];
    let mut assembler = AuditAssembler::default();
    let mut out = Vec::new();
    for line in lines {
        let r = decode_syslog_record(line, NOW);
        assert_eq!(r.source, tag(Some("linux"), None, Some("auditd")), "{line}");
        assert!(r.audit.is_some(), "{line}");
        out.extend(assembler.push("tenant1/web1", r, NOW));
    }
    assert_eq!(out.len(), 1);
    let r = &out[0];
    has_all(
        r,
        &[
            "type",
            "SYSCALL",
            "a0",
            "a1",
            "exe",
            "comm",
            "key",
            "name",
            "nametype",
            "process.executable",
            "process.name",
            "process.pid",
            "process.parent.pid",
            "process.command_line",
            "user.id",
            "user.audit.id",
            "event.outcome",
            "event.action",
            "host.name",
        ],
    );
    assert_eq!(
        r.doc["type"],
        json!(["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"])
    );
    assert_eq!(r.doc["process.command_line"], "curl -o /tmp/x sh.sh");
    assert_eq!(r.doc["host.name"], "web1");
    assert_eq!(r.time, Some(Timestamp(1_714_564_740_100_000)));

    let r = decode_syslog_record(
        r#"type=USER_LOGIN msg=audit(1714564740.200:813): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=198.51.100.23 terminal=sshd res=failed'"#,
        NOW,
    );
    let out = assembler.push("tenant1/web1", r, NOW);
    assert_eq!(out.len(), 1, "standalone records are given out at once");
    has_all(
        &out[0],
        &[
            "type",
            "user.name",
            "source.ip",
            "event.outcome",
            "event.action",
        ],
    );
}

#[test]
fn web_logs() {
    let r = decode_syslog_record(
        r#"<190>May  1 11:59:00 edge nginx: 198.51.100.4 - admin [01/May/2024:11:59:00 +0000] "GET /index.php?page=../../../etc/passwd HTTP/1.1" 404 153 "https://example.com/" "Nikto/2.5.0" "-""#,
        NOW,
    );
    assert_eq!(
        r.source,
        tag(Some("nginx"), Some("webserver"), Some("access"))
    );
    has_all(
        &r,
        &[
            "source.ip",
            "user.name",
            "http.request.method",
            "url.original",
            "url.path",
            "url.query",
            "http.version",
            "http.response.status_code",
            "http.response.body.bytes",
            "http.request.referrer",
            "user_agent.original",
            "cs-method",
            "cs-uri-query",
            "cs-uri-stem",
            "sc-status",
            "cs-user-agent",
            "cs-referer",
            "c-ip",
            "host.name",
        ],
    );
    assert_eq!(r.time, Some(Timestamp(NOW.0 - 60_000_000)));

    // A raw access line, producer unknown.
    let r = decode_syslog_record(
        r#"10.0.0.7 - - [01/May/2024:11:59:00 +0000] "POST /login HTTP/1.1" 200 12 "-" "curl/8.0""#,
        NOW,
    );
    assert_eq!(r.source, tag(None, Some("webserver"), Some("access")));

    let r = decode_syslog_record(
        r#"2024/05/01 11:59:00 [error] 77#77: *1 access forbidden by rule, client: 198.51.100.4, server: example.com, request: "GET /.git/config HTTP/1.1", host: "example.com""#,
        NOW,
    );
    assert_eq!(
        r.source,
        tag(Some("nginx"), Some("webserver"), Some("error"))
    );
    has_all(
        &r,
        &["log.level", "error.message", "source.ip", "url.original"],
    );

    let r = decode_syslog_record(
        "[Wed May 01 11:59:00.123456 2024] [authz_core:error] [pid 4242:tid 140] [client 198.51.100.4:50000] AH01630: client denied by server configuration: /var/www/html/.env",
        NOW,
    );
    assert_eq!(
        r.source,
        tag(Some("apache"), Some("webserver"), Some("error"))
    );
    has_all(
        &r,
        &["log.level", "error.message", "source.ip", "error.code"],
    );
}

#[test]
fn suricata_eve() {
    let r = json_record(json!({
        "timestamp": "2024-05-01T11:59:00.000000+0000", "flow_id": 1, "event_type": "alert",
        "src_ip": "10.0.0.5", "src_port": 50000, "dest_ip": "203.0.113.80", "dest_port": 80, "proto": "TCP",
        "alert": {"action": "allowed", "signature_id": 2100498, "signature": "GPL ATTACK_RESPONSE id check returned root",
                  "category": "Potentially Bad Traffic", "severity": 2},
        "http": {"hostname": "203.0.113.80", "url": "/cmd.php?c=id", "http_user_agent": "python-requests/2.31",
                 "http_method": "GET", "protocol": "HTTP/1.1", "status": 200, "length": 39}}));
    assert_eq!(r.source, tag(Some("suricata"), Some("ids"), Some("alert")));
    has_all(
        &r,
        &[
            "source.ip",
            "source.port",
            "destination.ip",
            "destination.port",
            "network.transport",
            "rule.id",
            "rule.name",
            "rule.category",
            "event.severity",
            "url.original",
            "url.path",
            "url.query",
            "http.request.method",
            "http.response.status_code",
            "user_agent.original",
        ],
    );
    let r = json_record(
        json!({"timestamp": "2024-05-01T11:59:00.000000+0000", "event_type": "dns",
        "src_ip": "10.0.0.5", "dest_ip": "10.0.0.1", "proto": "UDP",
        "dns": {"type": "answer", "rrname": "x.example", "rrtype": "A", "rcode": "NOERROR",
                "answers": [{"rrname": "x.example", "rrtype": "A", "ttl": 5, "rdata": "192.0.2.1"}]}}),
    );
    assert_eq!(r.source, tag(Some("suricata"), Some("dns"), Some("dns")));
    has_all(&r, &["dns.question.name", "dns.answers", "query", "answer"]);
    let r = json_record(
        json!({"timestamp": "2024-05-01T11:59:00.000000+0000", "event_type": "tls",
        "src_ip": "10.0.0.5", "tls": {"sni": "x.example", "version": "TLS 1.3"}}),
    );
    has_all(&r, &["tls.server.sni"]);
}

#[test]
fn zeek_logs() {
    let r = json_record(
        json!({"_path": "http", "ts": 1714564740.5, "uid": "CHhAvVGS1DHFjwGM9",
        "id.orig_h": "10.0.0.5", "id.orig_p": 50000, "id.resp_h": "203.0.113.80", "id.resp_p": 80,
        "method": "PUT", "host": "203.0.113.80", "uri": "/webdav/x.exe", "version": "1.1",
        "user_agent": "Microsoft-WebDAV-MiniRedir/10.0.19045", "status_code": 201,
        "resp_mime_types": ["application/x-dosexec"]}),
    );
    assert_eq!(r.source, tag(Some("zeek"), Some("proxy"), Some("http")));
    // Sigma's zeek http rules: method, user_agent, id.resp_h, host, uri,
    // resp_mime_types, c-uri, c-useragent.
    has_all(
        &r,
        &[
            "method",
            "user_agent",
            "id.resp_h",
            "host",
            "uri",
            "resp_mime_types",
            "c-uri",
            "c-useragent",
            "source.ip",
            "source.port",
            "destination.ip",
            "destination.port",
            "url.original",
            "http.request.method",
            "user_agent.original",
        ],
    );
    let r = json_record(
        json!({"_path": "dns", "ts": 1714564740.5, "uid": "C2", "id.orig_h": "10.0.0.5",
        "id.orig_p": 5353, "id.resp_h": "10.0.0.1", "id.resp_p": 53, "proto": "udp", "query": "a.example",
        "qtype_name": "TXT", "Z": 0, "answers": ["v=spf1"], "rejected": false}),
    );
    assert_eq!(r.source, tag(Some("zeek"), Some("dns"), Some("dns")));
    // Sigma's zeek dns rules: query, qtype_name, Z, answers, rejected, id.resp_p.
    has_all(
        &r,
        &[
            "query",
            "qtype_name",
            "Z",
            "answers",
            "rejected",
            "id.resp_p",
            "dns.question.name",
            "dns.answers",
            "answer",
            "record_type",
            "network.transport",
        ],
    );
    let r = json_record(
        json!({"_path": "conn", "ts": 1714564740.5, "uid": "C3", "id.orig_h": "10.0.0.5",
        "id.orig_p": 1, "id.resp_h": "10.0.0.1", "id.resp_p": 2, "proto": "tcp", "conn_state": "S0"}),
    );
    assert_eq!(r.source, tag(Some("zeek"), Some("network"), Some("conn")));
    has_all(&r, &["source.ip", "destination.port", "network.transport"]);
}

/// Windows events get their Sigma names here; the common names come
/// after, from vigil-sigma's Windows mapping (one place for every shape).
#[test]
fn windows_json() {
    let r = json_record(json!({"@timestamp": "2024-05-01T11:59:00.000Z",
        "winlog": {"event_id": 4624, "channel": "Security", "provider_name": "Microsoft-Windows-Security-Auditing",
                   "computer_name": "DC1", "event_data": {"TargetUserName": "alice", "IpAddress": "10.0.0.9",
                   "LogonType": "10"}}}));
    assert_eq!(r.source, tag(Some("windows"), None, None));
    has_all(
        &r,
        &[
            "EventID",
            "Channel",
            "Provider_Name",
            "Computer",
            "TargetUserName",
            "LogonType",
        ],
    );
    let r = json_record(
        json!({"EventID": 4688, "Channel": "Security", "SourceName": "Microsoft-Windows-Security-Auditing",
        "Hostname": "WS1", "CommandLine": "whoami /all", "NewProcessName": "C:\\Windows\\System32\\whoami.exe",
        "SubjectUserName": "bob", "EventTime": "2024-05-01 11:59:00"}),
    );
    has_all(
        &r,
        &[
            "EventID",
            "Provider_Name",
            "Computer",
            "CommandLine",
            "SubjectUserName",
        ],
    );
    assert_eq!(r.time, Some(Timestamp(NOW.0 - 60_000_000)));
}

#[test]
fn syslog_carrying_json() {
    let r = decode_syslog_record(
        r#"<134>1 2024-05-01T11:59:00Z sensor1 zeek - - - {"_path":"dns","ts":1714564740.5,"uid":"C9","id.orig_h":"10.0.0.5","id.resp_h":"10.0.0.1","query":"x.example"}"#,
        NOW,
    );
    assert_eq!(r.source, tag(Some("zeek"), Some("dns"), Some("dns")));
    has_all(
        &r,
        &["host.name", "log.syslog.appname", "dns.question.name"],
    );
    assert_eq!(r.time, Some(Timestamp(1_714_564_740_500_000)));
}
