//! The common names of a Windows event, beside its own: what lets one
//! query span Windows and Linux events (`user.name:alice`, `host.name:*`).
//!
//! Added, never replacing a name the event already has (flat or nested,
//! e.g. Winlogbeat's own `host.name`):
//!
//! - `host.name` (`Computer`), `event.code` (the id as text),
//!   `event.provider` (`Provider_Name`);
//! - `user.name`, `user.domain`, `user.id`: the account the event is
//!   about, by family (logons: the target account; account management:
//!   the subject who acted, with `user.target.*` and `group.*`); a
//!   `DOMAIN\user` or `user@domain` value is split;
//! - `process.*`: `pid`, `executable`, `name`, `command_line` and the
//!   same under `process.parent.`;
//! - `source.ip`/`source.port`, `destination.ip`/`destination.port`/
//!   `destination.domain` (IPv4-mapped IPv6 as IPv4; `-` and port 0 are
//!   no value);
//! - `event.action` and `event.outcome` where the event id says them
//!   ([`KINDS`]); other Security events take their outcome from the audit
//!   keywords (Audit Success / Audit Failure).
//!
//! Pure and table-driven: the tables are the documentation.

use serde_json::{Map, Value};
use std::net::IpAddr;

/// Which fields name the account an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Account {
    /// Logons and credential checks: `Target*` is who logged on.
    Target,
    /// Account changes: `Subject*` acted on `Target*` (`user.target.*`).
    SubjectOnUser,
    /// Group changes: `Subject*` acted on the group `Target*` (`group.*`),
    /// `Member*` is the member (`user.target.*`).
    SubjectOnGroup,
    /// `Subject*` is the account (4672, 4688, 1102, 104).
    Subject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    /// `Status` (or `ResultCode`) 0 is success, anything else failure.
    FromStatus,
}

/// Who writes the event: event ids mean different things per provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Security,
    Eventlog,
    Sysmon,
    ServiceControl,
}

/// One kind of event: family and id, with what the id says.
struct Kind {
    family: Family,
    ids: &'static [i64],
    action: &'static str,
    outcome: Option<Outcome>,
    account: Option<Account>,
}

const fn kind(
    family: Family,
    ids: &'static [i64],
    action: &'static str,
    outcome: Option<Outcome>,
    account: Option<Account>,
) -> Kind {
    Kind {
        family,
        ids,
        action,
        outcome,
        account,
    }
}

use Account::*;
use Family::*;
use Outcome::*;

/// What each event id says (actions named as Winlogbeat's security module
/// names them, so queries written for it read the same here).
#[rustfmt::skip]
const KINDS: &[Kind] = &[
    kind(Security, &[4624], "logged-in", Some(Success), Some(Target)),
    kind(Security, &[4625], "logon-failed", Some(Failure), Some(Target)),
    kind(Security, &[4634, 4647], "logged-out", Some(Success), Some(Target)),
    kind(Security, &[4648], "logged-in-explicit", Some(Success), Some(Subject)),
    kind(Security, &[4672], "logged-in-special", Some(Success), Some(Subject)),
    kind(Security, &[4688], "created-process", Some(Success), Some(Subject)),
    kind(Security, &[4689], "exited-process", Some(Success), Some(Subject)),
    kind(Security, &[4697], "service-installed", Some(Success), Some(Subject)),
    kind(Security, &[4698], "scheduled-task-created", Some(Success), Some(Subject)),
    kind(Security, &[4699], "scheduled-task-deleted", Some(Success), Some(Subject)),
    kind(Security, &[4720], "added-user-account", Some(Success), Some(SubjectOnUser)),
    kind(Security, &[4722], "enabled-user-account", Some(Success), Some(SubjectOnUser)),
    kind(Security, &[4723], "changed-password", None, Some(SubjectOnUser)),
    kind(Security, &[4724], "reset-password", None, Some(SubjectOnUser)),
    kind(Security, &[4725], "disabled-user-account", Some(Success), Some(SubjectOnUser)),
    kind(Security, &[4726], "deleted-user-account", Some(Success), Some(SubjectOnUser)),
    kind(Security, &[4738], "modified-user-account", Some(Success), Some(SubjectOnUser)),
    kind(Security, &[4740], "locked-out-user-account", Some(Success), Some(SubjectOnUser)),
    kind(Security, &[4767], "unlocked-user-account", Some(Success), Some(SubjectOnUser)),
    kind(Security, &[4781], "renamed-user-account", Some(Success), Some(SubjectOnUser)),
    kind(Security, &[4727, 4731, 4744, 4749, 4754, 4759], "added-group-account", Some(Success), Some(SubjectOnGroup)),
    kind(Security, &[4728, 4732, 4746, 4751, 4756, 4761], "added-member-to-group", Some(Success), Some(SubjectOnGroup)),
    kind(Security, &[4729, 4733, 4747, 4752, 4757, 4762], "removed-member-from-group", Some(Success), Some(SubjectOnGroup)),
    kind(Security, &[4730, 4734, 4748, 4753, 4758, 4763], "deleted-group-account", Some(Success), Some(SubjectOnGroup)),
    kind(Security, &[4735, 4737, 4745, 4750, 4755, 4760], "modified-group-account", Some(Success), Some(SubjectOnGroup)),
    kind(Security, &[4798], "user-member-enumerated", Some(Success), Some(SubjectOnUser)),
    kind(Security, &[4799], "group-membership-enumerated", Some(Success), Some(SubjectOnGroup)),
    kind(Security, &[4768], "kerberos-authentication-ticket-requested", Some(FromStatus), Some(Target)),
    kind(Security, &[4769], "kerberos-service-ticket-requested", Some(FromStatus), Some(Target)),
    kind(Security, &[4770], "kerberos-service-ticket-renewed", Some(Success), Some(Target)),
    kind(Security, &[4771], "kerberos-preauth-failed", Some(Failure), Some(Target)),
    kind(Security, &[4776], "credential-validated", Some(FromStatus), Some(Target)),
    kind(Security, &[4719], "changed-audit-config", Some(Success), Some(Subject)),
    kind(Security, &[1102], "audit-log-cleared", Some(Success), Some(Subject)),
    kind(Eventlog, &[1102], "audit-log-cleared", Some(Success), Some(Subject)),
    kind(Eventlog, &[104], "log-cleared", Some(Success), Some(Subject)),
    kind(Eventlog, &[1100], "logging-service-shutdown", Some(Success), None),
    kind(ServiceControl, &[7045], "service-installed", Some(Success), None),
    kind(ServiceControl, &[7036], "service-state-changed", None, None),
    kind(ServiceControl, &[7040], "service-start-type-changed", None, None),
    kind(Sysmon, &[1], "process-created", None, None),
    kind(Sysmon, &[2], "file-creation-time-changed", None, None),
    kind(Sysmon, &[3], "network-connection", None, None),
    kind(Sysmon, &[5], "process-terminated", None, None),
    kind(Sysmon, &[6], "driver-loaded", None, None),
    kind(Sysmon, &[7], "image-loaded", None, None),
    kind(Sysmon, &[8], "remote-thread-created", None, None),
    kind(Sysmon, &[9], "raw-disk-access", None, None),
    kind(Sysmon, &[10], "process-accessed", None, None),
    kind(Sysmon, &[11], "file-created", None, None),
    kind(Sysmon, &[12], "registry-object-added-or-deleted", None, None),
    kind(Sysmon, &[13], "registry-value-set", None, None),
    kind(Sysmon, &[14], "registry-object-renamed", None, None),
    kind(Sysmon, &[15], "file-stream-created", None, None),
    kind(Sysmon, &[17], "pipe-created", None, None),
    kind(Sysmon, &[18], "pipe-connected", None, None),
    kind(Sysmon, &[19, 20, 21], "wmi-event", None, None),
    kind(Sysmon, &[22], "dns-query", None, None),
    kind(Sysmon, &[23, 26], "file-deleted", None, None),
    kind(Sysmon, &[24], "clipboard-changed", None, None),
    kind(Sysmon, &[25], "process-tampering", None, None),
];

/// The provider's name: EVTX and Winlogbeat, then NXLog's names.
const PROVIDER: &[&str] = &["Provider_Name", "ProviderName", "SourceName"];

/// Process fields: (common name, the event's fields in order of preference).
const PROCESS: &[(&str, &[&str])] = &[
    (
        "process.executable",
        &["Image", "NewProcessName", "ProcessName", "Application"],
    ),
    ("process.command_line", &["CommandLine"]),
    (
        "process.parent.executable",
        &["ParentImage", "ParentProcessName"],
    ),
    ("process.parent.command_line", &["ParentCommandLine"]),
    ("process.working_directory", &["CurrentDirectory"]),
    ("process.entity_id", &["ProcessGuid"]),
    ("process.parent.entity_id", &["ParentProcessGuid"]),
];

/// Process ids: (common name, fields), decimal or `0x` hex.
const PIDS: &[(&str, &[&str])] = &[
    ("process.pid", &["ProcessId", "NewProcessId"]),
    ("process.parent.pid", &["ParentProcessId"]),
];

/// One end of a connection: the common prefix and the event's fields.
struct End {
    prefix: &'static str,
    ips: &'static [&'static str],
    ports: &'static [&'static str],
    hosts: &'static [&'static str],
}

const ENDS: &[End] = &[
    End {
        prefix: "source",
        ips: &["IpAddress", "SourceIp", "SourceAddress", "ClientAddress"],
        ports: &["IpPort", "SourcePort"],
        hosts: &["SourceHostname", "WorkstationName"],
    },
    End {
        prefix: "destination",
        ips: &["DestinationIp", "DestAddress"],
        ports: &["DestinationPort", "DestPort"],
        hosts: &["DestinationHostname"],
    },
];

/// Adds the common names of a flat Windows event (see the module doc).
pub fn add_common_names(fields: &mut Map<String, Value>) {
    let id = fields.get("EventID").and_then(Value::as_i64);
    let family = family(fields);
    let kind = id.and_then(|id| {
        KINDS
            .iter()
            .find(|k| Some(k.family) == family && k.ids.contains(&id))
    });
    if let Some(id) = id {
        put(fields, "event.code", Value::from(id.to_string()));
    }
    copy_text(fields, "host.name", &["Computer", "Hostname"]);
    copy_text(fields, "event.provider", PROVIDER);
    if let Some(kind) = kind {
        put(fields, "event.action", Value::from(kind.action));
    }
    let outcome = match kind.and_then(|k| k.outcome) {
        Some(Success) => Some(true),
        Some(Failure) => Some(false),
        Some(FromStatus) => status_ok(fields),
        None if family == Some(Security) => keywords_outcome(fields),
        None => None,
    };
    if let Some(ok) = outcome {
        put(
            fields,
            "event.outcome",
            Value::from(if ok { "success" } else { "failure" }),
        );
    }
    accounts(fields, kind.and_then(|k| k.account));
    for (name, from) in PROCESS {
        copy_text(fields, name, from);
    }
    for (name, from) in PIDS {
        if let Some(pid) = from
            .iter()
            .find_map(|f| text(fields, f).and_then(|v| parse_id(&v)))
        {
            put(fields, name, Value::from(pid));
        }
    }
    for (name, from) in [
        ("process.name", "process.executable"),
        ("process.parent.name", "process.parent.executable"),
    ] {
        if let Some(base) = text(fields, from).map(|p| basename(&p).to_string()) {
            put(fields, name, Value::from(base));
        }
    }
    for end in ENDS {
        network_end(fields, end);
    }
}

/// The event's family, from its provider (else its channel).
fn family(fields: &Map<String, Value>) -> Option<Family> {
    let provider = PROVIDER
        .iter()
        .find_map(|f| text(fields, f))
        .unwrap_or_default();
    let channel = text(fields, "Channel").unwrap_or_default();
    let provider = provider.to_ascii_lowercase();
    match provider.as_str() {
        "microsoft-windows-security-auditing" => Some(Security),
        "microsoft-windows-eventlog" | "eventlog" => Some(Eventlog),
        "microsoft-windows-sysmon" => Some(Sysmon),
        "service control manager" => Some(ServiceControl),
        "" if channel.eq_ignore_ascii_case("security") => Some(Security),
        "" if channel.eq_ignore_ascii_case("microsoft-windows-sysmon/operational") => Some(Sysmon),
        _ => None,
    }
}

/// `user.*`, `user.target.*` and `group.*` by the event's account kind;
/// without one: the target account, else the subject, else `User`-like
/// fields (Sysmon's `User` is `DOMAIN\user`).
fn accounts(fields: &mut Map<String, Value>, account: Option<Account>) {
    let side = |fields: &Map<String, Value>, side: &str| {
        text(fields, &format!("{side}UserName")).map(|name| {
            (
                name,
                text(fields, &format!("{side}DomainName")),
                text(fields, &format!("{side}UserSid"))
                    .or_else(|| text(fields, &format!("{side}Sid"))),
            )
        })
    };
    let (user, target, group) = match account {
        Some(Target) => (side(fields, "Target"), None, None),
        Some(Subject) => (side(fields, "Subject"), None, None),
        Some(SubjectOnUser) => (side(fields, "Subject"), side(fields, "Target"), None),
        Some(SubjectOnGroup) => {
            let member = text(fields, "MemberName")
                .map(|n| (n, None, text(fields, "MemberSid")))
                .or_else(|| text(fields, "MemberSid").map(|sid| (String::new(), None, Some(sid))));
            (side(fields, "Subject"), member, side(fields, "Target"))
        }
        None => {
            let plain = ["User", "UserName", "AccountName", "SamAccountName"]
                .iter()
                .find_map(|f| text(fields, f))
                .map(|n| (n, text(fields, "Domain"), text(fields, "UserSid")));
            (
                side(fields, "Target")
                    .or_else(|| side(fields, "Subject"))
                    .or(plain),
                None,
                None,
            )
        }
    };
    for (prefix, who) in [("user", user), ("user.target", target), ("group", group)] {
        let Some((name, domain, id)) = who else {
            continue;
        };
        let (name, split_domain) = split_account(&name);
        if !name.is_empty() {
            put(fields, &format!("{prefix}.name"), Value::from(name));
        }
        if let Some(domain) = domain.or(split_domain) {
            put(fields, &format!("{prefix}.domain"), Value::from(domain));
        }
        if let Some(id) = id {
            put(fields, &format!("{prefix}.id"), Value::from(id));
        }
    }
}

/// `DOMAIN\user` → (`user`, `DOMAIN`); `user@domain` → (`user`, `domain`);
/// anything else is a bare name.
pub fn split_account(account: &str) -> (String, Option<String>) {
    if let Some((domain, user)) = account.split_once('\\') {
        if !domain.is_empty() && !user.is_empty() {
            return (user.to_string(), Some(domain.to_string()));
        }
    }
    if let Some((user, domain)) = account.rsplit_once('@') {
        if !domain.is_empty() && !user.is_empty() {
            return (user.to_string(), Some(domain.to_string()));
        }
    }
    (account.to_string(), None)
}

/// `source.*` or `destination.*` from the first field with an address.
fn network_end(fields: &mut Map<String, Value>, end: &End) {
    let prefix = end.prefix;
    if let Some(ip) = end
        .ips
        .iter()
        .find_map(|f| text(fields, f).and_then(|v| parse_ip(&v)))
    {
        put(fields, &format!("{prefix}.ip"), Value::from(ip.to_string()));
    }
    let port = end.ports.iter().find_map(|f| {
        text(fields, f)
            .and_then(|v| v.trim().parse::<u16>().ok())
            .filter(|p| *p > 0)
    });
    if let Some(port) = port {
        put(fields, &format!("{prefix}.port"), Value::from(port));
    }
    copy_text(fields, &format!("{prefix}.domain"), end.hosts);
}

/// An address: IPv4-mapped IPv6 as IPv4, `[..]` unwrapped.
fn parse_ip(value: &str) -> Option<IpAddr> {
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

/// `Status` (Kerberos `0x0`, NTLM `0x0`) or `ResultCode`: zero is success.
fn status_ok(fields: &Map<String, Value>) -> Option<bool> {
    ["Status", "ResultCode"]
        .iter()
        .find_map(|f| text(fields, f))
        .and_then(|s| parse_id(&s))
        .map(|code| code == 0)
}

/// Security events carry Audit Success (bit 53) or Audit Failure (bit 52)
/// in their keywords: `0x8020000000000000` as text, or the same bits as a
/// (signed) number from NXLog.
fn keywords_outcome(fields: &Map<String, Value>) -> Option<bool> {
    let bits = match fields.get("Keywords")? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_i64().map(|i| i as u64))?,
        Value::String(s) => parse_id(s)?,
        _ => return None,
    };
    const SUCCESS: u64 = 0x0020_0000_0000_0000;
    const FAILURE: u64 = 0x0010_0000_0000_0000;
    match (bits & SUCCESS != 0, bits & FAILURE != 0) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

/// `1234` or `0x4d2`.
fn parse_id(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The last part of a Windows or Unix path.
fn basename(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// A field's value as text, with Windows' placeholders for "none" (`-`,
/// empty, `%%1793` is "<value not set>") as no value.
fn text(fields: &Map<String, Value>, name: &str) -> Option<String> {
    let value = match fields.get(name)? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!value.is_empty() && value != "-" && value != "%%1793").then_some(value)
}

fn copy_text(fields: &mut Map<String, Value>, to: &str, from: &[&str]) {
    if let Some(value) = from.iter().find_map(|f| text(fields, f)) {
        put(fields, to, Value::from(value));
    }
}

/// Inserts `name` unless the event has it, flat (`host.name`) or nested
/// (`{"host": {"name": ..}}`).
fn put(fields: &mut Map<String, Value>, name: &str, value: Value) {
    if !has(fields, name) {
        fields.insert(name.to_string(), value);
    }
}

fn has(fields: &Map<String, Value>, name: &str) -> bool {
    if fields.contains_key(name) {
        return true;
    }
    match name.split_once('.') {
        Some((head, rest)) => match fields.get(head) {
            Some(Value::Object(inner)) => has(inner, rest),
            _ => false,
        },
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A flat Security event with `data`, and its common names.
    fn security(id: i64, data: Value) -> Map<String, Value> {
        let mut fields = json!({"EventID": id, "Channel": "Security", "Computer": "dc1.corp.local",
            "Provider_Name": "Microsoft-Windows-Security-Auditing"});
        let object = fields.as_object_mut().expect("object");
        object.extend(data.as_object().cloned().unwrap_or_default());
        let mut fields = object.clone();
        add_common_names(&mut fields);
        fields
    }

    fn get<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
        fields.get(name).and_then(Value::as_str)
    }

    const LOGON: &str = r#"{"SubjectUserName": "DC1$", "SubjectDomainName": "CORP",
        "TargetUserName": "alice", "TargetDomainName": "CORP", "TargetUserSid": "S-1-5-21-9",
        "IpAddress": "::ffff:10.1.2.3", "IpPort": "51234", "LogonType": "3",
        "ProcessName": "C:\\Windows\\System32\\lsass.exe", "ProcessId": "0x2f4"}"#;

    #[test]
    fn logons_name_the_target_account() {
        let data: Value = serde_json::from_str(LOGON).expect("json");
        let f = security(4624, data.clone());
        assert_eq!(get(&f, "host.name"), Some("dc1.corp.local"));
        assert_eq!(get(&f, "event.code"), Some("4624"));
        assert_eq!(
            get(&f, "event.provider"),
            Some("Microsoft-Windows-Security-Auditing")
        );
        assert_eq!(get(&f, "event.action"), Some("logged-in"));
        assert_eq!(get(&f, "event.outcome"), Some("success"));
        assert_eq!(get(&f, "user.name"), Some("alice"));
        assert_eq!(get(&f, "user.domain"), Some("CORP"));
        assert_eq!(get(&f, "user.id"), Some("S-1-5-21-9"));
        assert_eq!(get(&f, "source.ip"), Some("10.1.2.3"));
        assert_eq!(f["source.port"], 51234);
        assert_eq!(
            get(&f, "process.executable"),
            Some("C:\\Windows\\System32\\lsass.exe")
        );
        assert_eq!(get(&f, "process.name"), Some("lsass.exe"));
        assert_eq!(f["process.pid"], 0x2f4);
        // The source names stay as they were.
        assert_eq!(get(&f, "TargetUserName"), Some("alice"));
        assert_eq!(get(&f, "IpAddress"), Some("::ffff:10.1.2.3"));
        let f = security(4625, data.clone());
        assert_eq!(get(&f, "event.outcome"), Some("failure"));
        assert_eq!(get(&f, "event.action"), Some("logon-failed"));
        assert_eq!(get(&f, "user.name"), Some("alice"));
        let f = security(4634, data);
        assert_eq!(get(&f, "event.action"), Some("logged-out"));
        assert_eq!(get(&f, "user.name"), Some("alice"));
    }

    #[test]
    fn explicit_credentials_and_special_logons_name_the_subject() {
        let f = security(
            4648,
            json!({"SubjectUserName": "bob", "SubjectDomainName": "CORP", "TargetUserName": "admin",
                "TargetServerName": "srv1", "IpAddress": "-", "IpPort": "0"}),
        );
        assert_eq!(get(&f, "user.name"), Some("bob"));
        assert_eq!(get(&f, "event.action"), Some("logged-in-explicit"));
        assert!(!f.contains_key("source.ip"), "- is no address");
        assert!(!f.contains_key("source.port"), "0 is no port");
        let f = security(
            4672,
            json!({"SubjectUserName": "carol", "SubjectDomainName": "CORP",
            "PrivilegeList": "SeDebugPrivilege"}),
        );
        assert_eq!(get(&f, "user.name"), Some("carol"));
        assert_eq!(get(&f, "event.action"), Some("logged-in-special"));
        assert_eq!(get(&f, "event.outcome"), Some("success"));
    }

    #[test]
    fn account_and_group_changes_name_actor_and_target() {
        let f = security(
            4720,
            json!({"SubjectUserName": "admin", "SubjectDomainName": "CORP",
            "TargetUserName": "newbie", "TargetDomainName": "CORP", "TargetSid": "S-1-5-21-7"}),
        );
        assert_eq!(get(&f, "user.name"), Some("admin"));
        assert_eq!(get(&f, "user.target.name"), Some("newbie"));
        assert_eq!(get(&f, "user.target.id"), Some("S-1-5-21-7"));
        assert_eq!(get(&f, "event.action"), Some("added-user-account"));
        let f = security(
            4732,
            json!({"SubjectUserName": "eve", "SubjectDomainName": "CORP",
            "TargetUserName": "Administrators", "TargetDomainName": "Builtin", "TargetSid": "S-1-5-32-544",
            "MemberName": "-", "MemberSid": "S-1-5-21-1-2-3-1104"}),
        );
        assert_eq!(get(&f, "user.name"), Some("eve"));
        assert_eq!(get(&f, "group.name"), Some("Administrators"));
        assert_eq!(get(&f, "group.domain"), Some("Builtin"));
        assert_eq!(get(&f, "group.id"), Some("S-1-5-32-544"));
        assert_eq!(get(&f, "user.target.id"), Some("S-1-5-21-1-2-3-1104"));
        assert!(!f.contains_key("user.target.name"));
        assert_eq!(get(&f, "event.action"), Some("added-member-to-group"));
    }

    #[test]
    fn cleared_logs() {
        let mut f = json!({"EventID": 1102, "Channel": "Security", "Provider_Name": "Microsoft-Windows-Eventlog",
            "SubjectUserName": "mallory", "SubjectDomainName": "CORP"})
        .as_object()
        .cloned()
        .expect("object");
        add_common_names(&mut f);
        assert_eq!(get(&f, "event.action"), Some("audit-log-cleared"));
        assert_eq!(get(&f, "user.name"), Some("mallory"));
    }

    #[test]
    fn kerberos_and_ntlm_outcomes_come_from_the_status() {
        let f = security(4776, json!({"TargetUserName": "alice", "Status": "0x0"}));
        assert_eq!(get(&f, "event.outcome"), Some("success"));
        let f = security(4768, json!({"TargetUserName": "alice", "Status": "0x6"}));
        assert_eq!(get(&f, "event.outcome"), Some("failure"));
        let f = security(4771, json!({"TargetUserName": "alice", "Status": "0x18"}));
        assert_eq!(get(&f, "event.outcome"), Some("failure"));
    }

    #[test]
    fn other_security_events_take_the_audit_keywords() {
        let f = security(
            4663,
            json!({"Keywords": "0x8010000000000000", "SubjectUserName": "x"}),
        );
        assert_eq!(get(&f, "event.outcome"), Some("failure"));
        assert!(!f.contains_key("event.action"));
        // NXLog sends the keywords as a signed number.
        let f = security(4663, json!({"Keywords": -9214364837600034816_i64}));
        assert_eq!(get(&f, "event.outcome"), Some("success"));
    }

    #[test]
    fn sysmon_process_and_network_events() {
        let mut f = json!({"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Provider_Name": "Microsoft-Windows-Sysmon", "Computer": "ws1",
            "Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c calc",
            "ProcessId": "4242", "ParentImage": "C:\\Windows\\explorer.exe", "ParentProcessId": "100",
            "ParentCommandLine": "explorer.exe", "User": "CORP\\alice"})
        .as_object()
        .cloned()
        .expect("object");
        add_common_names(&mut f);
        assert_eq!(get(&f, "event.action"), Some("process-created"));
        assert!(!f.contains_key("event.outcome"));
        assert_eq!(get(&f, "user.name"), Some("alice"));
        assert_eq!(get(&f, "user.domain"), Some("CORP"));
        assert_eq!(f["process.pid"], 4242);
        assert_eq!(f["process.parent.pid"], 100);
        assert_eq!(get(&f, "process.command_line"), Some("cmd /c calc"));
        assert_eq!(get(&f, "process.parent.command_line"), Some("explorer.exe"));
        let mut f = json!({"EventID": 3, "Provider_Name": "Microsoft-Windows-Sysmon",
            "SourceIp": "10.0.0.5", "SourcePort": "49812", "DestinationIp": "192.0.2.7",
            "DestinationPort": "443", "DestinationHostname": "example.org", "User": "bob@corp.local"})
        .as_object()
        .cloned()
        .expect("object");
        add_common_names(&mut f);
        assert_eq!(get(&f, "event.action"), Some("network-connection"));
        assert_eq!(get(&f, "source.ip"), Some("10.0.0.5"));
        assert_eq!(f["source.port"], 49812);
        assert_eq!(get(&f, "destination.ip"), Some("192.0.2.7"));
        assert_eq!(f["destination.port"], 443);
        assert_eq!(get(&f, "destination.domain"), Some("example.org"));
        assert_eq!(get(&f, "user.name"), Some("bob"));
        assert_eq!(get(&f, "user.domain"), Some("corp.local"));
    }

    #[test]
    fn names_the_event_has_are_kept() {
        // Winlogbeat's own `host.name` (nested) is not doubled.
        let mut f = json!({"EventID": 4624, "Computer": "DC1", "host": {"name": "dc1"},
            "user.name": "given", "TargetUserName": "alice"})
        .as_object()
        .cloned()
        .expect("object");
        add_common_names(&mut f);
        assert!(!f.contains_key("host.name"));
        assert_eq!(get(&f, "user.name"), Some("given"));
    }

    #[test]
    fn accounts_split() {
        assert_eq!(
            split_account("CORP\\alice"),
            ("alice".into(), Some("CORP".into()))
        );
        assert_eq!(
            split_account("alice@corp.local"),
            ("alice".into(), Some("corp.local".into()))
        );
        assert_eq!(split_account("alice"), ("alice".into(), None));
        assert_eq!(split_account("\\x"), ("\\x".into(), None));
    }
}
