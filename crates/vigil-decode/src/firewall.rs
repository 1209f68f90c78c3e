//! Firewall logs: iptables/nftables/UFW kernel lines, Cisco ASA (`%ASA-`),
//! FortiGate key=value and pfSense/pf `filterlog` CSV. No I/O: the caller
//! splits the syslog header and passes the tag (`app`, with or without
//! `[pid]`, `""` when none) and the text after it.
//!
//! Fields keep the source's own names where it has them (`SRC`, `DPT`,
//! `srcip`, `policyid`, pf's `rulenr`, `tracker`...) as text, verbatim, and
//! add ECS names (`source.ip`, `destination.port`, `network.transport`,
//! `event.action`, `event.outcome`, `observer.ingress.interface.name`,
//! `rule.id`/`rule.name`, `user.name`). Ports and counters under ECS names
//! are numbers. Truncated lines give what they hold; nothing panics.

use serde_json::{Map, Value};
use std::net::IpAddr;

/// What a firewall line gave: named fields, the product that wrote it and
/// its log source category (always `firewall`).
#[derive(Debug, Clone, PartialEq)]
pub struct FirewallEvent {
    pub fields: Map<String, Value>,
    /// `iptables`, `ufw`, `cisco_asa`, `fortigate`, `pfsense`.
    pub product: &'static str,
    /// `firewall`.
    pub category: &'static str,
}

/// Decodes one firewall line. `app` is the syslog tag (`kernel`,
/// `filterlog[123]`, `%ASA-4-106023`, `""`...). `None` when the line is not
/// a firewall log this module knows.
pub fn decode_firewall(app: &str, message: &str) -> Option<FirewallEvent> {
    let message = message.trim();
    let app = app.trim();
    let name = match app.find('[') {
        Some(at) if app.ends_with(']') => &app[..at],
        _ => app,
    };
    // The ASA tag may have been taken for the syslog app name.
    if let Some(tag) = asa_tag(name) {
        return Some(asa(tag, message));
    }
    if let Some(at) = message.find("%ASA-").or_else(|| message.find("%FTD-")) {
        let rest = &message[at..];
        let (tag, text) = rest.split_once(':').unwrap_or((rest, ""));
        if let Some(tag) = asa_tag(tag) {
            return Some(asa(tag, text.trim()));
        }
    }
    if name.eq_ignore_ascii_case("filterlog") {
        return pf(message);
    }
    if let Some(rest) = message.strip_prefix("filterlog") {
        let rest = rest.trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(r) => r.split_once(']').map_or("", |(_, r)| r),
            None => rest,
        };
        return pf(rest.trim_start().strip_prefix(':').unwrap_or(rest).trim());
    }
    if let Some(event) = netfilter(name, message) {
        return Some(event);
    }
    fortigate(message)
}

// ------------------------------------------------------------- builder

impl FirewallEvent {
    fn new(product: &'static str) -> Self {
        FirewallEvent {
            fields: Map::new(),
            product,
            category: "firewall",
        }
    }

    /// Sets a text field; empty values are left out.
    fn text(&mut self, key: &str, value: &str) -> &mut Self {
        if !value.is_empty() {
            self.fields.insert(key.into(), Value::from(value));
        }
        self
    }

    /// Sets a number when `value` is one, else nothing.
    fn num(&mut self, key: &str, value: &str) -> &mut Self {
        if let Ok(n) = value.trim().parse::<u64>() {
            self.fields.insert(key.into(), Value::from(n));
        }
        self
    }

    /// `prefix.ip` when `value` is an address (else nothing).
    fn ip(&mut self, prefix: &str, value: &str) -> &mut Self {
        let value = value.trim();
        if let Ok(addr) = value.parse::<IpAddr>() {
            self.text(&format!("{prefix}.ip"), value);
            let kind = if addr.is_ipv4() { "ipv4" } else { "ipv6" };
            if !self.fields.contains_key("network.type") {
                self.text("network.type", kind);
            }
        }
        self
    }

    /// `event.action` and, from it, `event.outcome` and `event.type`.
    fn action(&mut self, action: &str) -> &mut Self {
        let action = action.trim().to_ascii_lowercase();
        let (outcome, kind) = match action.as_str() {
            "deny" | "denied" | "block" | "blocked" | "drop" | "dropped" | "reject"
            | "rejected" => (Some("failure"), Some("denied")),
            "allow" | "allowed" | "accept" | "accepted" | "pass" | "permit" | "permitted" => {
                (Some("success"), Some("allowed"))
            }
            "built" => (Some("success"), Some("start")),
            "teardown" | "close" | "timeout" => (None, Some("end")),
            _ => (None, None),
        };
        self.text("event.action", &action);
        if let Some(outcome) = outcome {
            self.text("event.outcome", outcome);
        }
        if let Some(kind) = kind {
            self.text("event.type", kind);
        }
        self
    }

    /// `network.transport` from a protocol name or IANA number.
    fn transport(&mut self, proto: &str) -> &mut Self {
        let proto = proto.trim();
        let name = match proto.parse::<u8>() {
            Ok(n) => {
                self.num("network.iana_number", proto);
                match n {
                    1 => "icmp",
                    6 => "tcp",
                    17 => "udp",
                    47 => "gre",
                    50 => "esp",
                    51 => "ah",
                    58 => "ipv6-icmp",
                    132 => "sctp",
                    _ => return self,
                }
            }
            Err(_) => match proto.to_ascii_lowercase().as_str() {
                "icmpv6" | "ipv6-icmp" | "icmp6" => "ipv6-icmp",
                "" => return self,
                other => {
                    let other = other.to_string();
                    return self.text("network.transport", &other);
                }
            },
        };
        self.text("network.transport", name)
    }

    fn done(&mut self) -> Self {
        std::mem::replace(self, FirewallEvent::new(self.product))
    }
}

// ---------------------------------------------------- iptables / nftables

/// Kernel netfilter `LOG`/nft `log` lines: `[prefix] IN=.. OUT=.. SRC=..`.
fn netfilter(app: &str, message: &str) -> Option<FirewallEvent> {
    let message = strip_kernel_time(message);
    let at = find_in(message, app.eq_ignore_ascii_case("kernel"))?;
    let prefix = message[..at].trim();
    let body = &message[at..];
    let product = if prefix.starts_with("[UFW ") {
        "ufw"
    } else {
        "iptables"
    };
    let mut e = FirewallEvent::new(product);
    let label = prefix
        .trim_start_matches('[')
        .trim_end_matches(':')
        .trim_end_matches(']')
        .trim();
    e.text("prefix", prefix).text("rule.name", label);
    let upper = label.to_ascii_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    for (word, action) in [
        ("BLOCK", "block"),
        ("BLOCKED", "block"),
        ("DROP", "drop"),
        ("DROPPED", "drop"),
        ("DENY", "deny"),
        ("DENIED", "deny"),
        ("REJECT", "reject"),
        ("ALLOW", "allow"),
        ("ALLOWED", "allow"),
        ("ACCEPT", "accept"),
        ("ACCEPTED", "accept"),
    ] {
        if words.contains(&word) {
            e.action(action);
            break;
        }
    }
    let mut inner = false;
    for token in body.split_whitespace() {
        // ICMP errors quote the offending packet in brackets.
        if inner || token.starts_with('[') {
            inner = !token.ends_with(']');
            continue;
        }
        match token.split_once('=') {
            Some((key, value)) if !e.fields.contains_key(key) => {
                e.text(key, value);
            }
            Some(_) => {}
            None if token.bytes().all(|b| b.is_ascii_uppercase()) => {
                e.fields.insert(token.into(), Value::Bool(true));
            }
            None => {}
        }
    }
    let get = |k: &str| e.fields.get(k).and_then(Value::as_str).map(str::to_string);
    let (src, dst, spt, dpt) = (get("SRC"), get("DST"), get("SPT"), get("DPT"));
    let (iface, out, proto, mac) = (get("IN"), get("OUT"), get("PROTO"), get("MAC"));
    let (len, icmp_type, icmp_code) = (get("LEN"), get("TYPE"), get("CODE"));
    e.ip("source", src.as_deref().unwrap_or(""))
        .ip("destination", dst.as_deref().unwrap_or(""))
        .num("source.port", spt.as_deref().unwrap_or(""))
        .num("destination.port", dpt.as_deref().unwrap_or(""))
        .text(
            "observer.ingress.interface.name",
            iface.as_deref().unwrap_or(""),
        )
        .text(
            "observer.egress.interface.name",
            out.as_deref().unwrap_or(""),
        )
        .transport(proto.as_deref().unwrap_or(""))
        .num("network.bytes", len.as_deref().unwrap_or(""))
        .num("icmp.type", icmp_type.as_deref().unwrap_or(""))
        .num("icmp.code", icmp_code.as_deref().unwrap_or(""));
    if let Some(mac) = mac {
        let octets: Vec<&str> = mac.split(':').collect();
        if octets.len() >= 12 && octets.iter().all(|o| o.len() == 2) {
            let join = |o: &[&str]| o.join("-").to_ascii_uppercase();
            e.text("destination.mac", &join(&octets[..6]))
                .text("source.mac", &join(&octets[6..12]));
        }
    }
    Some(e.done())
}

/// `[ 1234.567890] ` at the start of a kernel line.
fn strip_kernel_time(message: &str) -> &str {
    if let Some(rest) = message.strip_prefix('[') {
        if let Some((time, rest)) = rest.split_once(']') {
            if !time.trim().is_empty()
                && time.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.')
            {
                return rest.trim_start();
            }
        }
    }
    message
}

/// Where `IN=` starts: followed by `OUT=`, or at a word start in a kernel
/// line that also has `SRC=` (a truncated line may lack `OUT=`).
fn find_in(message: &str, kernel: bool) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = message[from..].find("IN=") {
        let at = from + found;
        let after = &message[at + 3..];
        let value_end = after.find(char::is_whitespace).unwrap_or(after.len());
        let next = after[value_end..].trim_start();
        let word_start = at == 0 || message[..at].ends_with(|c: char| c.is_whitespace());
        if next.starts_with("OUT=")
            || (word_start && (kernel || next.starts_with("MAC=")) && after.contains("SRC="))
        {
            return Some(at);
        }
        from = at + 3;
    }
    None
}

// ------------------------------------------------------------ Cisco ASA

/// `%ASA-4-106023` → (`4`, `106023`).
fn asa_tag(tag: &str) -> Option<(u8, &str)> {
    let rest = tag
        .trim()
        .strip_prefix("%ASA-")
        .or_else(|| tag.trim().strip_prefix("%FTD-"))?;
    let (level, id) = rest.split_once('-')?;
    let level = level.parse::<u8>().ok().filter(|l| *l <= 7)?;
    let id = id.trim_end_matches(':');
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then_some((level, id))
}

fn asa((level, id): (u8, &str), message: &str) -> FirewallEvent {
    let mut e = FirewallEvent::new("cisco_asa");
    const LEVELS: [&str; 8] = [
        "emergency",
        "alert",
        "critical",
        "error",
        "warning",
        "notification",
        "informational",
        "debugging",
    ];
    e.text("cisco.asa.message_id", id)
        .text("event.code", id)
        .text("log.level", LEVELS[usize::from(level)])
        .text("message", message);
    e.fields.insert("event.severity".into(), Value::from(level));
    match id {
        "106023" => asa_106023(&mut e, message),
        "106001" => asa_106001(&mut e, message),
        "106100" => asa_106100(&mut e, message),
        "302013" | "302015" => asa_built(&mut e, message),
        "302014" | "302016" => asa_teardown(&mut e, message),
        "113004" | "113005" | "113015" => asa_aaa(&mut e, message),
        "605004" | "605005" => asa_login(&mut e, message),
        _ => {}
    }
    e.done()
}

/// `iface:ip/port` (port optional) into `side.*`.
fn asa_endpoint(e: &mut FirewallEvent, side: &str, text: &str) {
    let text = text.trim();
    let (iface, addr) = match text.split_once(':') {
        // An IPv6 address without an interface has several colons.
        Some((i, a)) if !i.contains('/') && i.parse::<IpAddr>().is_err() => (i, a),
        _ => ("", text),
    };
    e.text(&format!("cisco.asa.{side}_interface"), iface);
    let (ip, port) = addr.rsplit_once('/').unwrap_or((addr, ""));
    e.ip(side, ip).num(&format!("{side}.port"), port);
    if !port.is_empty() && port.parse::<u64>().is_err() {
        e.text(&format!("{side}.service"), port);
    }
}

/// `Deny tcp src outside:1.2.3.4/5555 dst inside:10.0.0.5/22 by access-group "X" [..]`.
fn asa_106023(e: &mut FirewallEvent, m: &str) {
    let mut words = m.split_whitespace();
    if let Some(verb) = words.next() {
        e.action(verb);
    }
    let mut proto = words.next().unwrap_or("");
    if proto == "protocol" {
        proto = words.next().unwrap_or("");
    }
    e.transport(proto);
    let mut last = "";
    for word in words {
        match last {
            "src" => asa_endpoint(e, "source", word),
            "dst" => asa_endpoint(e, "destination", word),
            "access-group" => {
                e.text("rule.name", word.trim_matches('"'));
            }
            _ => {}
        }
        last = word;
    }
    if e.fields.contains_key("rule.name") {
        let rule = e.fields["rule.name"].clone();
        e.fields.insert("cisco.asa.rule_name".into(), rule);
    }
    if let Some((_, icmp)) = m.split_once("(type ") {
        let (t, rest) = icmp.split_once(',').unwrap_or((icmp, ""));
        e.num("icmp.type", t);
        if let Some(code) = rest.trim().strip_prefix("code ") {
            e.num("icmp.code", code.split(')').next().unwrap_or(""));
        }
    }
}

/// `Inbound TCP connection denied from 1.2.3.4/5555 to 10.0.0.5/22 flags SYN on interface outside`.
fn asa_106001(e: &mut FirewallEvent, m: &str) {
    let mut words = m.split_whitespace();
    let _direction = words.next();
    e.transport(words.next().unwrap_or(""));
    e.action("deny");
    let mut last = "";
    let mut flags = Vec::new();
    let mut in_flags = false;
    for word in words {
        match last {
            "from" => asa_endpoint(e, "source", word),
            "to" => asa_endpoint(e, "destination", word),
            "interface" => {
                e.text("observer.ingress.interface.name", word)
                    .text("cisco.asa.source_interface", word);
            }
            _ => {}
        }
        if word == "on" {
            in_flags = false;
        }
        if in_flags {
            flags.push(word);
        }
        if word == "flags" {
            in_flags = true;
        }
        last = word;
    }
    e.text("cisco.asa.tcp_flags", &flags.join(" "));
}

/// `access-list ACL denied tcp outside/1.2.3.4(5555) -> inside/10.0.0.5(22) hit-cnt 1 first hit [..]`.
fn asa_106100(e: &mut FirewallEvent, m: &str) {
    let Some(rest) = m.strip_prefix("access-list ") else {
        return;
    };
    let mut words = rest.split_whitespace();
    let acl = words.next().unwrap_or("");
    e.text("rule.name", acl).text("cisco.asa.rule_name", acl);
    match words.next().unwrap_or("") {
        "permitted" | "est-allowed" => {
            e.action("permitted");
        }
        "denied" => {
            e.action("denied");
        }
        other => {
            e.text("event.action", other);
        }
    }
    e.transport(words.next().unwrap_or(""));
    let endpoint = |e: &mut FirewallEvent, side: &str, text: &str| {
        let (iface, addr) = text.split_once('/').unwrap_or(("", text));
        let (ip, port) = addr.split_once('(').unwrap_or((addr, ""));
        e.text(&format!("cisco.asa.{side}_interface"), iface)
            .ip(side, ip)
            .num(&format!("{side}.port"), port.trim_end_matches(')'));
    };
    if let Some(src) = words.next() {
        endpoint(e, "source", src);
    }
    if words.next() == Some("->") {
        if let Some(dst) = words.next() {
            endpoint(e, "destination", dst);
        }
    }
    if let Some(("hit-cnt", count)) = words.next().zip(words.next()) {
        e.num("cisco.asa.hit_count", count);
    }
}

/// `Built inbound TCP connection 123 for outside:1.2.3.4/5555 (1.2.3.4/5555) to inside:10.0.0.5/22 (10.0.0.5/22)`.
fn asa_built(e: &mut FirewallEvent, m: &str) {
    let Some(rest) = m.strip_prefix("Built ") else {
        return;
    };
    e.action("built");
    let mut words = rest.split_whitespace();
    let direction = words.next().unwrap_or("");
    e.text("network.direction", &direction.to_ascii_lowercase());
    e.transport(words.next().unwrap_or(""));
    let _connection = words.next();
    if let Some(id) = words.next() {
        e.text("cisco.asa.connection_id", id);
    }
    // Outbound: the `to` side (inside) opened the connection.
    let (first, second) = if direction.eq_ignore_ascii_case("outbound") {
        ("destination", "source")
    } else {
        ("source", "destination")
    };
    let mut side = "";
    for word in words {
        match word {
            "for" => side = first,
            "to" => side = second,
            w if w.starts_with('(') && !side.is_empty() => {
                let mapped = w.trim_matches(|c| c == '(' || c == ')');
                let (ip, port) = mapped.rsplit_once('/').unwrap_or((mapped, ""));
                let real = e.fields.get(&format!("{side}.ip")).and_then(Value::as_str);
                if ip.parse::<IpAddr>().is_ok() && real != Some(ip) {
                    e.text(&format!("{side}.nat.ip"), ip)
                        .num(&format!("{side}.nat.port"), port);
                }
                side = "";
            }
            w if !side.is_empty() && !e.fields.contains_key(&format!("{side}.ip")) => {
                asa_endpoint(e, side, w);
            }
            _ => {}
        }
    }
    let ingress = e
        .fields
        .get("cisco.asa.source_interface")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(ingress) = ingress {
        e.text("observer.ingress.interface.name", &ingress);
    }
}

/// `Teardown TCP connection 123 for outside:1.2.3.4/5555 to inside:10.0.0.5/22 duration 0:00:30 bytes 1024 TCP FINs`.
fn asa_teardown(e: &mut FirewallEvent, m: &str) {
    let Some(rest) = m.strip_prefix("Teardown ") else {
        return;
    };
    e.action("teardown");
    let mut words = rest.split_whitespace().peekable();
    e.transport(words.next().unwrap_or(""));
    let _connection = words.next();
    if let Some(id) = words.next() {
        e.text("cisco.asa.connection_id", id);
    }
    let mut last = "";
    let mut reason = Vec::new();
    let mut after_bytes = false;
    for word in words {
        match last {
            "for" => asa_endpoint(e, "source", word),
            "to" => asa_endpoint(e, "destination", word),
            "duration" => {
                let parts: Vec<u64> = word.split(':').filter_map(|p| p.parse().ok()).collect();
                if let [h, m, s] = parts[..] {
                    let nanos = ((h * 60 + m) * 60 + s).saturating_mul(1_000_000_000);
                    e.fields.insert("event.duration".into(), Value::from(nanos));
                }
                e.text("cisco.asa.duration", word);
            }
            "bytes" if !after_bytes => {
                e.num("network.bytes", word);
                after_bytes = true;
                last = word;
                continue;
            }
            _ => {}
        }
        if after_bytes && !word.starts_with('(') {
            reason.push(word);
        }
        last = word;
    }
    e.text("event.reason", &reason.join(" "));
    let ingress = e
        .fields
        .get("cisco.asa.source_interface")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(ingress) = ingress {
        e.text("observer.ingress.interface.name", &ingress);
    }
}

/// `AAA user authentication Successful : server = 10.1.1.1 : user = alice`,
/// `AAA user authentication Rejected : reason = .. : local database : user = bob: user IP = 10.0.0.1`.
fn asa_aaa(e: &mut FirewallEvent, m: &str) {
    e.text("event.action", "user-authentication")
        .text("event.category", "authentication");
    let mut parts = m.split(" : ");
    let head = parts.next().unwrap_or("");
    if head.ends_with("Successful") {
        e.text("event.outcome", "success");
    } else if head.ends_with("Rejected") {
        e.text("event.outcome", "failure");
    }
    for part in parts {
        let (part, user_ip) = match part.split_once(": user IP = ") {
            Some((p, ip)) => (p, Some(ip)),
            None => (part, None),
        };
        if let Some(ip) = user_ip {
            e.ip("source", ip);
        }
        match part.split_once(" = ") {
            Some(("user", user)) => {
                e.text("user.name", user.trim());
            }
            Some(("server", server)) => {
                e.ip("server", server);
            }
            Some(("reason", reason)) => {
                e.text("event.reason", reason.trim());
            }
            Some(("user IP", ip)) => {
                e.ip("source", ip);
            }
            _ => {
                e.text("cisco.asa.aaa_source", part.trim());
            }
        }
    }
}

/// `Login denied from 1.2.3.4/5555 to outside:10.0.0.1/ssh for user "admin"`.
fn asa_login(e: &mut FirewallEvent, m: &str) {
    let mut words = m.split_whitespace();
    if words.next() != Some("Login") {
        return;
    }
    e.text("event.category", "authentication");
    match words.next() {
        Some("permitted") => {
            e.text("event.action", "login")
                .text("event.outcome", "success");
        }
        Some("denied") => {
            e.text("event.action", "login")
                .text("event.outcome", "failure");
        }
        _ => {}
    }
    let mut last = "";
    for word in words {
        match last {
            "from" => asa_endpoint(e, "source", word),
            "to" => asa_endpoint(e, "destination", word),
            _ => {}
        }
        last = word;
    }
    if let Some((_, user)) = m.split_once(" for user ") {
        e.text("user.name", user.trim().trim_matches('"'));
    }
}

// ------------------------------------------------------------- FortiGate

/// `date=.. time=.. devname="FG100" logid=".." type="traffic" ...`.
fn fortigate(message: &str) -> Option<FirewallEvent> {
    let pairs = key_values(message);
    let has = |k: &str| pairs.iter().any(|(key, _)| *key == k);
    if !(has("logid") || has("devname") || has("devid")) || !(has("type") || has("subtype")) {
        return None;
    }
    let mut e = FirewallEvent::new("fortigate");
    for (key, value) in &pairs {
        if !e.fields.contains_key(*key) {
            e.text(key, value);
        }
    }
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| *key == k)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    e.ip("source", &get("srcip"))
        .num("source.port", &get("srcport"))
        .ip("destination", &get("dstip"))
        .num("destination.port", &get("dstport"))
        .transport(&get("proto"))
        .text("observer.name", &get("devname"))
        .text("observer.ingress.interface.name", &get("srcintf"))
        .text("observer.egress.interface.name", &get("dstintf"))
        .text("rule.id", &get("policyid"))
        .text("rule.name", &get("policyname"))
        .text("log.level", &get("level"))
        .text("event.code", &get("logid"));
    let user = get("user");
    if !user.is_empty() && user != "N/A" {
        e.text("user.name", &user);
    }
    let (sent, rcvd) = (get("sentbyte"), get("rcvdbyte"));
    if let (Ok(s), Ok(r)) = (sent.parse::<u64>(), rcvd.parse::<u64>()) {
        e.fields
            .insert("network.bytes".into(), Value::from(s.saturating_add(r)));
    }
    let action = get("action");
    if !action.is_empty() {
        e.action(&action);
    }
    Some(e.done())
}

/// `key=value` pairs; values may be `"quoted with spaces"` (`\"` inside).
fn key_values(text: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let Some(eq) = rest[..word_end].find('=') else {
            rest = rest[word_end..].trim_start();
            continue;
        };
        let key = &rest[..eq];
        let after = &rest[eq + 1..];
        if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, next)) = chars.next() {
                            value.push(next);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            out.push((key, value));
            rest = quoted[end..].trim_start();
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            out.push((key, after[..end].to_string()));
            rest = after[end..].trim_start();
        }
    }
    out.retain(|(k, _)| !k.is_empty());
    out
}

// ---------------------------------------------------------- pf filterlog

/// pfSense/OPNsense `filterlog` CSV:
/// `rulenr,subrulenr,anchorname,tracker,interface,reason,action,dir,ipversion,`
/// then IPv4 `tos,ecn,ttl,id,offset,flags,protoid,proto,length,src,dst` or
/// IPv6 `class,flowlabel,hlim,proto,protoid,length,src,dst`, then the
/// protocol's fields.
fn pf(message: &str) -> Option<FirewallEvent> {
    let cols: Vec<&str> = message.split(',').collect();
    if cols.len() < 8 || !matches!(cols[6], "block" | "pass" | "match" | "reject" | "") {
        return None;
    }
    let mut e = FirewallEvent::new("pfsense");
    let put = |e: &mut FirewallEvent, names: &[&str], from: usize| {
        for (i, name) in names.iter().enumerate() {
            if let Some(value) = cols.get(from + i) {
                e.text(name, value.trim());
            }
        }
    };
    let head = [
        "rulenr",
        "subrulenr",
        "anchorname",
        "tracker",
        "interface",
        "reason",
        "action",
        "dir",
        "ipversion",
    ];
    put(&mut e, &head, 0);
    let next = match cols.get(8).map(|v| v.trim()) {
        Some("4") => {
            let names = [
                "tos", "ecn", "ttl", "id", "offset", "flags", "protoid", "proto", "length", "src",
                "dst",
            ];
            put(&mut e, &names, 9);
            20
        }
        Some("6") => {
            let names = [
                "class",
                "flowlabel",
                "hlim",
                "proto",
                "protoid",
                "length",
                "src",
                "dst",
            ];
            put(&mut e, &names, 9);
            17
        }
        _ => cols.len(),
    };
    let proto = e
        .fields
        .get("proto")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    match proto.as_str() {
        "tcp" => put(
            &mut e,
            &[
                "srcport", "dstport", "datalen", "tcpflags", "seq", "ack", "window", "urg",
                "options",
            ],
            next,
        ),
        "udp" => put(&mut e, &["srcport", "dstport", "datalen"], next),
        "icmp" | "ipv6-icmp" | "icmp6" => {
            put(&mut e, &["icmp_type"], next);
            let names: &[&str] = match cols.get(next).map(|t| t.trim()) {
                Some("request" | "reply") => &["icmp_id", "icmp_seq"],
                Some("unreachproto") => &["icmp_dstip", "icmp_protoid"],
                Some("unreachport") => &["icmp_dstip", "icmp_protoid", "icmp_port"],
                Some("unreach" | "timexceed" | "paramprob" | "redirect" | "maskreply") => {
                    &["icmp_descr"]
                }
                Some("needfrag") => &["icmp_dstip", "icmp_mtu"],
                Some("tstamp") => &["icmp_id", "icmp_seq"],
                Some("tstampreply") => &[
                    "icmp_id",
                    "icmp_seq",
                    "icmp_otime",
                    "icmp_rtime",
                    "icmp_ttime",
                ],
                _ => &[],
            };
            put(&mut e, names, next + 1);
        }
        _ => {}
    }
    let get = |e: &FirewallEvent, k: &str| {
        e.fields
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (src, dst) = (get(&e, "src"), get(&e, "dst"));
    let (sport, dport) = (get(&e, "srcport"), get(&e, "dstport"));
    let (iface, action, dir) = (get(&e, "interface"), get(&e, "action"), get(&e, "dir"));
    let (tracker, rulenr, length) = (get(&e, "tracker"), get(&e, "rulenr"), get(&e, "length"));
    let reason = get(&e, "reason");
    let proto = match get(&e, "proto").as_str() {
        "" => get(&e, "protoid"),
        p => p.to_string(),
    };
    e.ip("source", &src)
        .ip("destination", &dst)
        .num("source.port", &sport)
        .num("destination.port", &dport)
        .transport(&proto)
        .num("network.bytes", &length)
        .text(
            "rule.id",
            if tracker.is_empty() {
                &rulenr
            } else {
                &tracker
            },
        )
        .text("event.reason", &reason);
    match dir.as_str() {
        "in" => e.text("observer.ingress.interface.name", &iface),
        "out" => e.text("observer.egress.interface.name", &iface),
        _ => e.text("observer.ingress.interface.name", &iface),
    };
    match dir.as_str() {
        "in" => e.text("network.direction", "ingress"),
        "out" => e.text("network.direction", "egress"),
        _ => &mut e,
    };
    if !action.is_empty() {
        e.action(&action);
    }
    Some(e.done())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s<'a>(e: &'a FirewallEvent, k: &str) -> &'a str {
        e.fields.get(k).and_then(Value::as_str).unwrap_or("")
    }
    fn n(e: &FirewallEvent, k: &str) -> u64 {
        e.fields.get(k).and_then(Value::as_u64).unwrap_or(u64::MAX)
    }

    #[test]
    fn ufw_block_tcp() {
        let e = decode_firewall(
            "kernel",
            "[12345.678901] [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 \
             SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=1 DF PROTO=TCP \
             SPT=51515 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0",
        )
        .unwrap();
        assert_eq!((e.product, e.category), ("ufw", "firewall"));
        assert_eq!(s(&e, "SRC"), "1.2.3.4");
        assert_eq!(s(&e, "DPT"), "22");
        assert_eq!(s(&e, "source.ip"), "1.2.3.4");
        assert_eq!(s(&e, "destination.ip"), "5.6.7.8");
        assert_eq!(n(&e, "source.port"), 51515);
        assert_eq!(n(&e, "destination.port"), 22);
        assert_eq!(s(&e, "network.transport"), "tcp");
        assert_eq!(s(&e, "event.action"), "block");
        assert_eq!(s(&e, "event.outcome"), "failure");
        assert_eq!(s(&e, "observer.ingress.interface.name"), "eth0");
        assert!(!e.fields.contains_key("OUT"));
        assert!(!e.fields.contains_key("observer.egress.interface.name"));
        assert_eq!(e.fields["DF"], Value::Bool(true));
        assert_eq!(e.fields["SYN"], Value::Bool(true));
        assert_eq!(s(&e, "source.mac"), "66-77-88-99-AA-BB");
        assert_eq!(s(&e, "destination.mac"), "00-11-22-33-44-55");
        assert_eq!(s(&e, "rule.name"), "UFW BLOCK");
    }

    #[test]
    fn ufw_allow_udp_and_iptables_prefix() {
        let e = decode_firewall(
            "kernel",
            "[UFW ALLOW] IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=76 TTL=64 ID=7 PROTO=UDP SPT=123 DPT=123 LEN=56",
        )
        .unwrap();
        assert_eq!(s(&e, "event.action"), "allow");
        assert_eq!(s(&e, "event.outcome"), "success");
        assert_eq!(s(&e, "network.transport"), "udp");
        assert_eq!(s(&e, "LEN"), "76");

        let e = decode_firewall(
            "kernel",
            "IPTABLES-DROP: IN=ppp0 OUT=eth1 SRC=1.2.3.4 DST=192.168.1.10 LEN=40 PROTO=TCP SPT=1 DPT=445 ACK RST",
        )
        .unwrap();
        assert_eq!(e.product, "iptables");
        assert_eq!(s(&e, "event.action"), "drop");
        assert_eq!(s(&e, "rule.name"), "IPTABLES-DROP");
        assert_eq!(s(&e, "observer.egress.interface.name"), "eth1");
        assert_eq!(e.fields["RST"], Value::Bool(true));
    }

    #[test]
    fn nft_icmp_and_ipv6() {
        let e = decode_firewall(
            "kernel",
            "nft-in-drop: IN=eth0 OUT= SRC=8.8.8.8 DST=10.0.0.2 LEN=84 TOS=0x00 PREC=0x00 TTL=118 ID=0 \
             PROTO=ICMP TYPE=8 CODE=0 ID=77 SEQ=1",
        )
        .unwrap();
        assert_eq!(s(&e, "network.transport"), "icmp");
        assert_eq!(n(&e, "icmp.type"), 8);
        assert_eq!(n(&e, "icmp.code"), 0);
        assert_eq!(s(&e, "ID"), "0");
        assert_eq!(s(&e, "event.action"), "drop");

        let e = decode_firewall(
            "",
            "IN=eth0 OUT= MAC=aa SRC=2001:db8::1 DST=2001:db8::2 LEN=72 TC=0 HOPLIMIT=64 FLOWLBL=0 \
             PROTO=ICMPv6 TYPE=3 CODE=0 [SRC=2001:db8::2 DST=2001:db8::9 LEN=44 PROTO=UDP SPT=1 DPT=2 ]",
        )
        .unwrap();
        assert_eq!(s(&e, "source.ip"), "2001:db8::1");
        assert_eq!(s(&e, "network.type"), "ipv6");
        assert_eq!(s(&e, "network.transport"), "ipv6-icmp");
        assert!(!e.fields.contains_key("SPT"));
        assert!(!e.fields.contains_key("event.action"));
    }

    #[test]
    fn asa_deny_access_group() {
        let e = decode_firewall(
            "",
            "%ASA-4-106023: Deny tcp src outside:1.2.3.4/5555 dst inside:10.0.0.5/22 by access-group \"OUTSIDE_IN\" [0x0, 0x0]",
        )
        .unwrap();
        assert_eq!(e.product, "cisco_asa");
        assert_eq!(s(&e, "cisco.asa.message_id"), "106023");
        assert_eq!(n(&e, "event.severity"), 4);
        assert_eq!(s(&e, "log.level"), "warning");
        assert_eq!(s(&e, "event.action"), "deny");
        assert_eq!(s(&e, "event.outcome"), "failure");
        assert_eq!(s(&e, "source.ip"), "1.2.3.4");
        assert_eq!(n(&e, "source.port"), 5555);
        assert_eq!(s(&e, "destination.ip"), "10.0.0.5");
        assert_eq!(n(&e, "destination.port"), 22);
        assert_eq!(s(&e, "cisco.asa.source_interface"), "outside");
        assert_eq!(s(&e, "rule.name"), "OUTSIDE_IN");
        assert_eq!(s(&e, "network.transport"), "tcp");

        // The tag as syslog app, ICMP with type/code.
        let e = decode_firewall(
            "%ASA-4-106023",
            "Deny icmp src outside:1.2.3.4 dst inside:10.0.0.5 (type 8, code 0) by access-group \"OUTSIDE_IN\" [0x0, 0x0]",
        )
        .unwrap();
        assert_eq!(s(&e, "network.transport"), "icmp");
        assert_eq!(n(&e, "icmp.type"), 8);
        assert_eq!(n(&e, "icmp.code"), 0);
        assert_eq!(s(&e, "destination.ip"), "10.0.0.5");
    }

    #[test]
    fn asa_connections() {
        let e = decode_firewall("", "%ASA-6-302013: Built inbound TCP connection 123 for outside:1.2.3.4/5555 (1.2.3.4/5555) to inside:10.0.0.5/22 (203.0.113.5/22)").unwrap();
        assert_eq!(s(&e, "event.action"), "built");
        assert_eq!(s(&e, "source.ip"), "1.2.3.4");
        assert_eq!(s(&e, "destination.ip"), "10.0.0.5");
        assert_eq!(s(&e, "destination.nat.ip"), "203.0.113.5");
        assert!(!e.fields.contains_key("source.nat.ip"));
        assert_eq!(s(&e, "cisco.asa.connection_id"), "123");
        assert_eq!(s(&e, "observer.ingress.interface.name"), "outside");

        let e = decode_firewall("", "%ASA-6-302015: Built outbound UDP connection 9 for outside:8.8.8.8/53 (8.8.8.8/53) to inside:10.0.0.5/5353 (198.51.100.1/5353)").unwrap();
        assert_eq!(s(&e, "network.transport"), "udp");
        assert_eq!(s(&e, "source.ip"), "10.0.0.5");
        assert_eq!(s(&e, "destination.ip"), "8.8.8.8");
        assert_eq!(s(&e, "source.nat.ip"), "198.51.100.1");

        let e = decode_firewall("", "%ASA-6-302014: Teardown TCP connection 123 for outside:1.2.3.4/5555 to inside:10.0.0.5/22 duration 0:01:02 bytes 4096 TCP FINs").unwrap();
        assert_eq!(s(&e, "event.action"), "teardown");
        assert_eq!(n(&e, "network.bytes"), 4096);
        assert_eq!(n(&e, "event.duration"), 62_000_000_000);
        assert_eq!(s(&e, "event.reason"), "TCP FINs");
        assert_eq!(n(&e, "destination.port"), 22);
    }

    #[test]
    fn asa_106001_106100() {
        let e = decode_firewall("", "%ASA-2-106001: Inbound TCP connection denied from 1.2.3.4/5555 to 10.0.0.5/80 flags SYN  on interface outside").unwrap();
        assert_eq!(s(&e, "event.action"), "deny");
        assert_eq!(s(&e, "observer.ingress.interface.name"), "outside");
        assert_eq!(n(&e, "destination.port"), 80);
        assert_eq!(s(&e, "cisco.asa.tcp_flags"), "SYN");
        assert_eq!(s(&e, "log.level"), "critical");

        let e = decode_firewall("", "%ASA-6-106100: access-list OUTSIDE_IN permitted udp outside/1.2.3.4(5555) -> inside/10.0.0.5(53) hit-cnt 3 300-second interval [0x1, 0x0]").unwrap();
        assert_eq!(s(&e, "event.action"), "permitted");
        assert_eq!(s(&e, "event.outcome"), "success");
        assert_eq!(s(&e, "rule.name"), "OUTSIDE_IN");
        assert_eq!(s(&e, "source.ip"), "1.2.3.4");
        assert_eq!(n(&e, "destination.port"), 53);
        assert_eq!(n(&e, "cisco.asa.hit_count"), 3);
    }

    #[test]
    fn asa_aaa_and_login() {
        let e = decode_firewall(
            "",
            "%ASA-6-113004: AAA user authentication Successful : server =  10.1.1.1 : user = alice",
        )
        .unwrap();
        assert_eq!(s(&e, "user.name"), "alice");
        assert_eq!(s(&e, "event.outcome"), "success");
        assert_eq!(s(&e, "server.ip"), "10.1.1.1");

        let e = decode_firewall("", "%ASA-6-113015: AAA user authentication Rejected : reason = Invalid password : local database : user = bob: user IP = 10.0.0.9").unwrap();
        assert_eq!(s(&e, "user.name"), "bob");
        assert_eq!(s(&e, "event.outcome"), "failure");
        assert_eq!(s(&e, "source.ip"), "10.0.0.9");
        assert_eq!(s(&e, "event.reason"), "Invalid password");

        let e = decode_firewall(
            "",
            "%ASA-6-605004: Login denied from 1.2.3.4/5555 to outside:10.0.0.1/ssh for user \"admin\"",
        )
        .unwrap();
        assert_eq!(s(&e, "event.action"), "login");
        assert_eq!(s(&e, "event.outcome"), "failure");
        assert_eq!(s(&e, "user.name"), "admin");
        assert_eq!(s(&e, "destination.service"), "ssh");
        let e = decode_firewall(
            "",
            "%ASA-6-605005: Login permitted from 1.2.3.4/5555 to inside:10.0.0.1/https for user \"enable_15\"",
        )
        .unwrap();
        assert_eq!(s(&e, "event.outcome"), "success");
        assert_eq!(s(&e, "user.name"), "enable_15");
    }

    #[test]
    fn asa_other_kept() {
        let e = decode_firewall(
            "",
            "%ASA-5-111008: User 'enable_15' executed the 'write mem' command.",
        )
        .unwrap();
        assert_eq!(s(&e, "cisco.asa.message_id"), "111008");
        assert_eq!(n(&e, "event.severity"), 5);
        assert!(s(&e, "message").starts_with("User"));
    }

    #[test]
    fn fortigate_traffic() {
        let line = r#"date=2024-05-01 time=12:00:00 devname="FG100" devid="FGT1" logid="0000000013" type="traffic" subtype="forward" level="notice" srcip=1.2.3.4 srcport=5555 srcintf="wan1" dstip=5.6.7.8 dstport=443 dstintf="internal" action="deny" policyid=5 policyname="Block \"bad\" hosts" service="HTTPS" proto=6 user="John Smith""#;
        let e = decode_firewall("", line).unwrap();
        assert_eq!(e.product, "fortigate");
        assert_eq!(s(&e, "srcip"), "1.2.3.4");
        assert_eq!(s(&e, "logid"), "0000000013");
        assert_eq!(s(&e, "source.ip"), "1.2.3.4");
        assert_eq!(n(&e, "destination.port"), 443);
        assert_eq!(s(&e, "network.transport"), "tcp");
        assert_eq!(s(&e, "event.action"), "deny");
        assert_eq!(s(&e, "event.outcome"), "failure");
        assert_eq!(s(&e, "rule.id"), "5");
        assert_eq!(s(&e, "rule.name"), "Block \"bad\" hosts");
        assert_eq!(s(&e, "user.name"), "John Smith");
        assert_eq!(s(&e, "observer.ingress.interface.name"), "wan1");
        assert_eq!(s(&e, "observer.name"), "FG100");

        let e = decode_firewall("", "devname=FG logid=0000000013 type=traffic action=accept srcip=10.0.0.1 dstip=10.0.0.2 proto=17 sentbyte=10 rcvdbyte=20").unwrap();
        assert_eq!(s(&e, "event.outcome"), "success");
        assert_eq!(s(&e, "network.transport"), "udp");
        assert_eq!(n(&e, "network.bytes"), 30);
    }

    #[test]
    fn pf_ipv4_tcp_udp_icmp() {
        let e = decode_firewall("filterlog[123]", "5,,,1000000103,em0,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,1.2.3.4,5.6.7.8,5555,22,0,S,1234567,,29200,,mss;sackOK;TS;nop;wscale").unwrap();
        assert_eq!(e.product, "pfsense");
        assert_eq!(s(&e, "source.ip"), "1.2.3.4");
        assert_eq!(n(&e, "destination.port"), 22);
        assert_eq!(s(&e, "network.transport"), "tcp");
        assert_eq!(s(&e, "event.action"), "block");
        assert_eq!(s(&e, "event.outcome"), "failure");
        assert_eq!(s(&e, "rule.id"), "1000000103");
        assert_eq!(s(&e, "observer.ingress.interface.name"), "em0");
        assert_eq!(s(&e, "tcpflags"), "S");

        let e = decode_firewall("filterlog", "7,,,1000000105,igb1,match,pass,out,4,0x0,,64,1234,0,none,17,udp,76,10.0.0.1,8.8.8.8,5353,53,56").unwrap();
        assert_eq!(s(&e, "network.transport"), "udp");
        assert_eq!(s(&e, "event.outcome"), "success");
        assert_eq!(s(&e, "observer.egress.interface.name"), "igb1");
        assert_eq!(n(&e, "source.port"), 5353);

        let e = decode_firewall("filterlog", "8,,,1000000106,em0,match,block,in,4,0x0,,64,1,0,none,1,icmp,84,1.2.3.4,5.6.7.8,request,4321,7").unwrap();
        assert_eq!(s(&e, "network.transport"), "icmp");
        assert_eq!(s(&e, "icmp_type"), "request");
        assert_eq!(s(&e, "icmp_id"), "4321");
    }

    #[test]
    fn pf_ipv6() {
        let e = decode_firewall("", "filterlog[99]: 9,,,1000000107,em0,match,block,in,6,0x00,0x00000,64,tcp,6,40,2001:db8::1,2001:db8::2,5555,443,0,S,1,,65535,,").unwrap();
        assert_eq!(s(&e, "source.ip"), "2001:db8::1");
        assert_eq!(s(&e, "destination.ip"), "2001:db8::2");
        assert_eq!(n(&e, "destination.port"), 443);
        assert_eq!(s(&e, "network.transport"), "tcp");
        assert_eq!(s(&e, "network.type"), "ipv6");

        let e = decode_firewall(
            "filterlog",
            "9,,,1000000108,em0,match,pass,in,6,0x00,0x00000,255,ipv6-icmp,58,32,fe80::1,ff02::1,",
        )
        .unwrap();
        assert_eq!(s(&e, "network.transport"), "ipv6-icmp");
        assert_eq!(s(&e, "event.action"), "pass");
    }

    #[test]
    fn not_firewall() {
        for (app, line) in [
            (
                "sshd",
                "Accepted password for root from 1.2.3.4 port 22 ssh2",
            ),
            (
                "kernel",
                "usb 1-1: new high-speed USB device number 2 using ehci-pci",
            ),
            ("", "hello world"),
            ("", "key=value other=thing"),
            ("filterlog", "not,a,pf,line"),
            ("", ""),
            ("", "LOGIN=root"),
        ] {
            assert_eq!(decode_firewall(app, line), None, "{line}");
        }
    }

    #[test]
    fn truncated_best_effort() {
        let e = decode_firewall(
            "kernel",
            "[UFW BLOCK] IN=eth0 OUT= MAC=00:11 SRC=1.2.3.4 DST=5.6",
        )
        .unwrap();
        assert_eq!(s(&e, "source.ip"), "1.2.3.4");
        assert!(!e.fields.contains_key("destination.ip"));
        let e = decode_firewall("", "%ASA-4-106023: Deny tcp src outside:1.2.3.4/55").unwrap();
        assert_eq!(n(&e, "source.port"), 55);
        let e = decode_firewall("", "%ASA-6-302013: Built inbound TCP connection").unwrap();
        assert_eq!(s(&e, "event.action"), "built");
        let e =
            decode_firewall("filterlog", "5,,,1000000103,em0,match,block,in,4,0x0,,64").unwrap();
        assert_eq!(s(&e, "event.action"), "block");
        let e = decode_firewall(
            "",
            r#"devname="FG1" type="traffic" srcip=1.2.3.4 policyname="unterminated"#,
        )
        .unwrap();
        assert_eq!(s(&e, "policyname"), "unterminated");
    }

    proptest! {
        #[test]
        fn never_panics(app in ".{0,12}", line in ".{0,200}") {
            let _ = decode_firewall(&app, &line);
        }

        #[test]
        fn shaped_lines_never_panic(
            head in "(%ASA-[0-9]-(106023|302013|302014|106100|113015|605004|106001): |filterlog: |\\[UFW BLOCK\\] IN=|devname=x type=)",
            rest in r#"[ -~]{0,120}"#,
        ) {
            let _ = decode_firewall("", &format!("{head}{rest}"));
            let _ = decode_firewall("filterlog", &rest);
            let _ = decode_firewall("kernel", &format!("IN=eth0 OUT= {rest}"));
        }
    }
}
