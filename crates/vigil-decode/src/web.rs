//! Web server logs: nginx and Apache access logs (common and combined
//! format, Apache's `vhost_combined` with a leading `host:port`, and extra
//! trailing fields such as nginx's `$request_time` or
//! `"$http_x_forwarded_for"`), nginx error logs and Apache error logs (2.2
//! and 2.4 forms). No I/O; one line at a time.
//!
//! Fields, ECS: `source.ip` (or `source.domain` for a host name),
//! `user.name`, `http.request.method`, `url.original`, `url.path`,
//! `url.query`, `url.extension`, `http.version`,
//! `http.response.status_code`, `http.response.body.bytes`,
//! `http.request.referrer`, `user_agent.original`, `log.level`,
//! `error.message`, `error.code` (Apache `AH00126`), `process.pid`,
//! `process.thread.id`, `source.port`, `event.duration` (nanoseconds, from
//! a trailing seconds figure such as nginx's `$request_time`),
//! `http.request.x_forwarded_for` (a trailing list of addresses), and
//! Sigma's `webserver` names (W3C extended log format): `c-ip`,
//! `cs-username`, `cs-method`, `cs-uri-stem` (path), `cs-uri-query` (query
//! string only), `cs-version`, `sc-status`, `sc-bytes`, `cs-referer`,
//! `cs-user-agent`. Fields logged as `-` are left out (Sigma's `field: null`
//! then means "not logged").
//!
//! Log source: category `webserver`; product `nginx` or `apache` when the
//! line's form or the syslog program name tells (`nginx`; `httpd`,
//! `apache`, `apache2`), else none; service `access` or `error`.
//!
//! Times without a zone (error logs) are taken as UTC.

use crate::record::{
    days_from_civil, http_version, parse_ip, put_num, put_text, put_url, LogSourceTag, Record,
};
use serde_json::{Map, Value};
use vigil_core::Timestamp;

/// Decodes one access or error log line; `app` is the syslog program name
/// (`""` when none). `None` when the line is neither.
pub fn decode_web(app: &str, line: &str) -> Option<Record> {
    let line = line.trim();
    let app = app.trim().to_ascii_lowercase();
    let app_product = match app.as_str() {
        "nginx" => Some("nginx"),
        "httpd" | "apache" | "apache2" => Some("apache"),
        _ => None,
    };
    let (doc, time, product, service) = if let Some((doc, time)) = access(line) {
        (doc, time, app_product, "access")
    } else if let Some((doc, time)) = nginx_error(line) {
        (doc, time, Some("nginx"), "error")
    } else if let Some((doc, time)) = apache_error(line) {
        (doc, time, Some("apache"), "error")
    } else {
        return None;
    };
    Some(Record {
        doc,
        source: LogSourceTag::new(product, Some("webserver"), Some(service)),
        time,
        audit: None,
    })
}

// ------------------------------------------------------------ access

type Parsed = (Map<String, Value>, Option<Timestamp>);

/// `client ident user [time] "request" status bytes ["referer" "agent"] extra...`
fn access(line: &str) -> Option<Parsed> {
    let open = line.find(" [")?;
    let words: Vec<&str> = line.get(..open)?.split(' ').collect();
    let (vhost, client, user) = match words.as_slice() {
        [client, _ident, user] => (None, *client, *user),
        [vhost, client, _ident, user] => (Some(*vhost), *client, *user),
        _ => return None,
    };
    if client.is_empty() {
        return None;
    }
    let rest = line.get(open + 2..)?;
    let (stamp, rest) = rest.split_once(']')?;
    let time = clf_time(stamp)?;
    let (request, rest) = quoted(rest.trim_start())?;
    let mut rest = rest.trim_start().split(' ');
    let status = rest.next()?;
    if status.len() != 3 || !status.parse::<u16>().is_ok_and(|s| s >= 100) {
        return None;
    }
    let bytes = rest.next().unwrap_or("-");
    if bytes != "-" && !bytes.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let tail: Vec<&str> = rest.collect();
    let tail = tail.join(" ");

    let mut doc = Map::new();
    if let Some(v) = vhost {
        let (host, port) = v.rsplit_once(':').unwrap_or((v, ""));
        put_text(&mut doc, "url.domain", host);
        if port.parse::<u16>().is_ok() {
            put_num(&mut doc, "url.port", port);
        }
    }
    client_field(&mut doc, client);
    put_text(&mut doc, "c-ip", client);
    if user != "-" {
        put_text(&mut doc, "user.name", user);
        put_text(&mut doc, "cs-username", user);
    }
    request_fields(&mut doc, &request);
    put_num(&mut doc, "http.response.status_code", status);
    put_num(&mut doc, "sc-status", status);
    if bytes != "-" {
        put_num(&mut doc, "http.response.body.bytes", bytes);
        put_num(&mut doc, "sc-bytes", bytes);
    }
    // Combined: "referer" "agent"; then whatever the admin added.
    let mut tail = tail.trim_start();
    let mut extras = Vec::new();
    while !tail.is_empty() {
        if tail.starts_with('"') {
            let (value, rest) = quoted(tail)?;
            extras.push((value, true));
            tail = rest.trim_start();
        } else {
            let (word, rest) = tail.split_once(' ').unwrap_or((tail, ""));
            extras.push((word.to_string(), false));
            tail = rest.trim_start();
        }
    }
    let mut extras = extras.into_iter().peekable();
    if extras.peek().is_some_and(|(_, q)| *q) {
        if let Some((referer, _)) = extras.next() {
            if referer != "-" && !referer.is_empty() {
                put_text(&mut doc, "http.request.referrer", &referer);
                put_text(&mut doc, "cs-referer", &referer);
            }
        }
        if extras.peek().is_some_and(|(_, q)| *q) {
            if let Some((agent, _)) = extras.next() {
                if agent != "-" && !agent.is_empty() {
                    put_text(&mut doc, "user_agent.original", &agent);
                    put_text(&mut doc, "cs-user-agent", &agent);
                }
            }
        }
    }
    let mut rest = Vec::new();
    for (value, _) in extras {
        let ips: Vec<&str> = value.split(',').map(str::trim).collect();
        if value != "-" && ips.iter().all(|ip| parse_ip(ip).is_some()) {
            put_text(&mut doc, "http.request.x_forwarded_for", &value);
        } else if let Some(ns) = seconds_to_nanos(&value) {
            doc.entry("event.duration").or_insert(Value::from(ns));
        }
        rest.push(Value::from(value));
    }
    if !rest.is_empty() {
        doc.insert("log.extra".into(), Value::Array(rest));
    }
    Some((doc, Some(time)))
}

/// `0.005` (seconds, with a fraction) → nanoseconds.
fn seconds_to_nanos(v: &str) -> Option<u64> {
    let (whole, frac) = v.split_once('.')?;
    if whole.is_empty()
        || whole.len() > 9
        || frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut nanos: u64 = whole.parse::<u64>().ok()?.checked_mul(1_000_000_000)?;
    let mut scale = 100_000_000;
    for b in frac.bytes().take(9) {
        nanos += u64::from(b - b'0') * scale;
        scale /= 10;
    }
    Some(nanos)
}

fn client_field(doc: &mut Map<String, Value>, client: &str) {
    match parse_ip(client) {
        Some(ip) => put_text(doc, "source.ip", &ip.to_string()),
        None if client != "-" => put_text(doc, "source.domain", client),
        None => {}
    }
}

/// `GET /a?b HTTP/1.1` → method, url, version, and Sigma's names.
fn request_fields(doc: &mut Map<String, Value>, request: &str) {
    let mut parts = request.split(' ').filter(|p| !p.is_empty());
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return;
    };
    if !method
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b == b'_' || b == b'-')
    {
        return;
    }
    put_text(doc, "http.request.method", method);
    put_text(doc, "cs-method", method);
    put_url(doc, target);
    if let Some(path) = doc.get("url.path").cloned() {
        doc.insert("cs-uri-stem".into(), path);
    }
    if let Some(query) = doc.get("url.query").cloned() {
        doc.insert("cs-uri-query".into(), query);
    }
    if let Some(protocol) = parts.next() {
        put_text(doc, "http.version", http_version(protocol));
        put_text(doc, "cs-version", protocol);
    }
}

/// A `"..."` field at the start of `s` (`\"` and `\\` escapes as Apache
/// writes them; nginx writes `\x22`) and the rest after it.
fn quoted(s: &str) -> Option<(String, &str)> {
    let inner = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = inner.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => out.push(e),
                Some((_, e)) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            '"' => return Some((out, inner.get(i + 1..).unwrap_or(""))),
            c => out.push(c),
        }
    }
    None
}

/// `10/Oct/2000:13:55:36 -0700` (the zone optional).
fn clf_time(s: &str) -> Option<Timestamp> {
    let (clock, zone) = s.trim().split_once(' ').unwrap_or((s.trim(), "+0000"));
    let mut parts = clock.splitn(3, '/');
    let day: u32 = parts.next()?.parse().ok()?;
    let month = month(parts.next()?)?;
    let rest = parts.next()?;
    let (year, hms) = rest.split_once(':')?;
    let year: i64 = year.parse().ok()?;
    let (h, m, sec, micros) = hms_fraction(hms)?;
    let offset = zone_offset(zone)?;
    civil(year, month, day, h, m, sec, micros).map(|t| Timestamp(t.0 - offset))
}

/// `+0200` / `-07:00` → microseconds east of UTC.
fn zone_offset(zone: &str) -> Option<i64> {
    let z = zone.trim();
    if z == "Z" || z.is_empty() {
        return Some(0);
    }
    let sign = match z.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = z.get(1..)?.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i64 = digits.get(..2)?.parse().ok()?;
    let m: i64 = digits.get(2..)?.parse().ok()?;
    Some(sign * (h * 3600 + m * 60) * 1_000_000)
}

/// `13:55:36[.123456]` → (h, m, s, µs).
fn hms_fraction(s: &str) -> Option<(u32, u32, u32, i64)> {
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut it = hms.split(':');
    let h: u32 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let sec: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let mut micros = 0i64;
    for i in 0..6 {
        micros = micros * 10 + frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
    }
    Some((h, m, sec, micros))
}

fn civil(
    year: i64,
    month: u32,
    day: u32,
    h: u32,
    m: u32,
    s: u32,
    micros: i64,
) -> Option<Timestamp> {
    if !(1..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || h > 23
        || m > 59
        || s > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(h * 3600 + m * 60 + s);
    Some(Timestamp(secs * 1_000_000 + micros))
}

fn month(s: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(s))
        .map(|i| i as u32 + 1)
}

// ------------------------------------------------------------ nginx error

/// `2024/01/02 03:04:05 [error] 123#0: *5 message, client: .., server: ..`
fn nginx_error(line: &str) -> Option<Parsed> {
    let (date, rest) = line.split_once(' ')?;
    let (clock, rest) = rest.split_once(' ')?;
    let mut ymd = date.split('/');
    let (y, mo, d) = (ymd.next()?, ymd.next()?, ymd.next()?);
    if y.len() != 4 || ymd.next().is_some() {
        return None;
    }
    let (h, mi, s, micros) = hms_fraction(clock)?;
    let time = civil(
        y.parse().ok()?,
        mo.parse().ok()?,
        d.parse().ok()?,
        h,
        mi,
        s,
        micros,
    )?;
    let rest = rest.strip_prefix('[')?;
    let (level, rest) = rest.split_once("] ")?;
    if level.is_empty() || !level.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let mut doc = Map::new();
    put_text(&mut doc, "log.level", level);
    let (ids, rest) = rest.split_once(": ").unwrap_or(("", rest));
    if let Some((pid, tid)) = ids.split_once('#') {
        put_num(&mut doc, "process.pid", pid);
        put_num(&mut doc, "process.thread.id", tid);
    }
    let rest = match rest.strip_prefix('*') {
        Some(r) => {
            let (cid, r) = r.split_once(' ').unwrap_or((r, ""));
            put_num(&mut doc, "nginx.error.connection_id", cid);
            r
        }
        None => rest,
    };
    // The message runs to the first `, client: ` (the context that nginx
    // appends), each context value up to the next `, key: `.
    let (message, context) = match rest.find(", client: ") {
        Some(at) => (rest.get(..at)?, rest.get(at + 2..)?),
        None => (rest, ""),
    };
    put_text(&mut doc, "error.message", message.trim());
    for (key, value) in nginx_context(context) {
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        match key {
            "client" => {
                client_field(&mut doc, value);
                put_text(&mut doc, "c-ip", value);
            }
            "server" => put_text(&mut doc, "nginx.error.server", value),
            "request" => request_fields(&mut doc, value),
            "host" => put_text(&mut doc, "url.domain", value),
            "referrer" => {
                put_text(&mut doc, "http.request.referrer", value);
                put_text(&mut doc, "cs-referer", value);
            }
            "upstream" => put_text(&mut doc, "nginx.error.upstream", value),
            other => {
                if other
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    put_text(&mut doc, &format!("nginx.error.{other}"), value);
                }
            }
        }
    }
    Some((doc, Some(time)))
}

/// `client: 1.2.3.4, server: x, request: "GET / HTTP/1.1"` → pairs.
fn nginx_context(mut s: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    while let Some((key, rest)) = s.split_once(": ") {
        if key.is_empty() || key.contains(' ') {
            break;
        }
        // A value ends at `, word: ` (a quoted one at its closing quote).
        let end = if rest.starts_with('"') {
            rest.get(1..)
                .and_then(|r| r.find('"'))
                .map_or(rest.len(), |e| e + 2)
        } else {
            next_key(rest).unwrap_or(rest.len())
        };
        out.push((key, rest.get(..end).unwrap_or(rest)));
        s = rest.get(end..).unwrap_or("");
        s = s.strip_prefix(", ").unwrap_or(s);
        if s.is_empty() {
            break;
        }
    }
    out
}

/// Where the next `, key: ` starts (a key is one word). Linear: each
/// candidate's word is scanned only up to the next space or colon.
fn next_key(s: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = s.get(from..)?.find(", ") {
        let start = from + at;
        let after = s.get(start + 2..)?;
        let word_end = after.find([' ', ':']).unwrap_or(after.len());
        if word_end > 0 && after.get(word_end..).is_some_and(|r| r.starts_with(": ")) {
            return Some(start);
        }
        from = start + 2;
    }
    None
}

// ------------------------------------------------------------ Apache error

/// `[Tue Jan 02 03:04:05.123456 2024] [core:error] [pid 123:tid 456]
/// [client 1.2.3.4:5678] AH00126: message[, referer: url]`
fn apache_error(line: &str) -> Option<Parsed> {
    let rest = line.strip_prefix('[')?;
    let (stamp, mut rest) = rest.split_once(']')?;
    let time = apache_time(stamp)?;
    let mut doc = Map::new();
    let mut level_seen = false;
    loop {
        rest = rest.trim_start();
        let Some(group) = rest.strip_prefix('[') else {
            break;
        };
        let Some((inner, after)) = group.split_once(']') else {
            break;
        };
        if let Some(ids) = inner.strip_prefix("pid ") {
            let (pid, tid) = ids.split_once(":tid ").unwrap_or((ids, ""));
            put_num(&mut doc, "process.pid", pid.trim());
            put_num(&mut doc, "process.thread.id", tid.trim());
        } else if let Some(addr) = inner
            .strip_prefix("client ")
            .or_else(|| inner.strip_prefix("remote "))
        {
            let addr = addr.trim();
            let (ip, port) = match parse_ip(addr) {
                Some(_) => (addr, ""),
                None => addr.rsplit_once(':').unwrap_or((addr, "")),
            };
            client_field(&mut doc, ip);
            put_text(&mut doc, "c-ip", ip);
            if port.parse::<u16>().is_ok() {
                put_num(&mut doc, "source.port", port);
            }
        } else if !level_seen && !inner.contains(' ') {
            let (module, level) = inner.split_once(':').unwrap_or(("", inner));
            put_text(&mut doc, "apache.error.module", module);
            put_text(&mut doc, "log.level", level);
            level_seen = true;
        } else {
            break;
        }
        rest = after;
    }
    if !level_seen {
        return None;
    }
    let mut message = rest.trim();
    if let Some((m, referer)) = message.rsplit_once(", referer: ") {
        put_text(&mut doc, "http.request.referrer", referer.trim());
        put_text(&mut doc, "cs-referer", referer.trim());
        message = m;
    }
    if let Some((code, m)) = message.split_once(": ") {
        if code.len() == 7
            && code.starts_with("AH")
            && code.bytes().skip(2).all(|b| b.is_ascii_digit())
        {
            put_text(&mut doc, "error.code", code);
            message = m;
        }
    }
    put_text(&mut doc, "error.message", message);
    Some((doc, Some(time)))
}

/// `Tue Jan 02 03:04:05.123456 2024`
fn apache_time(s: &str) -> Option<Timestamp> {
    let mut parts = s.split_whitespace();
    let _weekday = parts.next()?;
    let month = month(parts.next()?)?;
    let day: u32 = parts.next()?.parse().ok()?;
    let (h, m, sec, micros) = hms_fraction(parts.next()?)?;
    let year: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    civil(year, month, day, h, m, sec, micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn web(app: &str, line: &str) -> Record {
        decode_web(app, line).unwrap_or_else(|| panic!("not a web log: {line}"))
    }

    fn get<'a>(r: &'a Record, key: &str) -> &'a Value {
        r.doc
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", r.doc))
    }

    #[test]
    fn combined_access_line() {
        let r = web(
            "nginx",
            r#"203.0.113.9 - alice [10/Oct/2023:13:55:36 -0700] "GET /cgi-bin/test.php?cmd=whoami&x=1 HTTP/1.1" 200 2326 "http://example.com/start" "Mozilla/5.0 (X11; Linux x86_64) sqlmap/1.7""#,
        );
        assert_eq!(get(&r, "source.ip"), "203.0.113.9");
        assert_eq!(get(&r, "c-ip"), "203.0.113.9");
        assert_eq!(get(&r, "user.name"), "alice");
        assert_eq!(get(&r, "http.request.method"), "GET");
        assert_eq!(get(&r, "cs-method"), "GET");
        assert_eq!(get(&r, "url.original"), "/cgi-bin/test.php?cmd=whoami&x=1");
        assert_eq!(get(&r, "url.path"), "/cgi-bin/test.php");
        assert_eq!(get(&r, "cs-uri-stem"), "/cgi-bin/test.php");
        assert_eq!(get(&r, "url.query"), "cmd=whoami&x=1");
        assert_eq!(get(&r, "cs-uri-query"), "cmd=whoami&x=1");
        assert_eq!(get(&r, "http.version"), "1.1");
        assert_eq!(get(&r, "http.response.status_code"), &json!(200));
        assert_eq!(get(&r, "sc-status"), &json!(200));
        assert_eq!(get(&r, "http.response.body.bytes"), &json!(2326));
        assert_eq!(get(&r, "http.request.referrer"), "http://example.com/start");
        assert_eq!(get(&r, "cs-referer"), "http://example.com/start");
        assert_eq!(
            get(&r, "user_agent.original"),
            "Mozilla/5.0 (X11; Linux x86_64) sqlmap/1.7"
        );
        assert_eq!(get(&r, "cs-user-agent"), get(&r, "user_agent.original"));
        // 2023-10-10T20:55:36Z
        assert_eq!(r.time, Some(Timestamp(1_696_971_336_000_000)));
        assert_eq!(
            r.source,
            LogSourceTag::new(Some("nginx"), Some("webserver"), Some("access"))
        );
    }

    #[test]
    fn common_format_and_extras() {
        let r = web(
            "",
            r#"10.0.0.1 - - [02/Jan/2024:03:04:05 +0000] "POST /login HTTP/1.0" 401 -"#,
        );
        assert_eq!(get(&r, "http.response.status_code"), &json!(401));
        assert!(!r.doc.contains_key("user.name"));
        assert!(!r.doc.contains_key("http.response.body.bytes"));
        assert!(!r.doc.contains_key("cs-referer"));
        assert_eq!(r.source.product, None);
        let r = web(
            "",
            r#"10.0.0.1 - - [02/Jan/2024:03:04:05 +0000] "GET / HTTP/2.0" 200 5 "-" "curl/8.0" 0.005 "198.51.100.1, 10.0.0.2""#,
        );
        assert!(!r.doc.contains_key("http.request.referrer"));
        assert_eq!(get(&r, "user_agent.original"), "curl/8.0");
        assert_eq!(get(&r, "event.duration"), &json!(5_000_000));
        assert_eq!(
            get(&r, "http.request.x_forwarded_for"),
            "198.51.100.1, 10.0.0.2"
        );
        assert_eq!(get(&r, "http.version"), "2.0");
        let r = web(
            "apache2",
            r#"www.example.com:443 192.0.2.4 - - [02/Jan/2024:03:04:05 +0100] "GET /a\"b HTTP/1.1" 404 0 "-" "x""#,
        );
        assert_eq!(get(&r, "url.domain"), "www.example.com");
        assert_eq!(get(&r, "url.original"), "/a\"b");
        assert_eq!(r.source.product.as_deref(), Some("apache"));
        // Garbage request line: kept without URL fields.
        let r = web(
            "",
            r#"192.0.2.5 - - [02/Jan/2024:03:04:05 +0000] "\x16\x03\x01" 400 157 "-" "-""#,
        );
        assert!(!r.doc.contains_key("url.original"));
    }

    #[test]
    fn nginx_error_line() {
        let r = web(
            "",
            r#"2024/01/02 03:04:05 [error] 123#0: *5 open() "/usr/share/nginx/html/x.php" failed (2: No such file or directory), client: 198.51.100.7, server: www.example.com, request: "GET /x.php?id=1 HTTP/1.1", host: "www.example.com", referrer: "http://evil/""#,
        );
        assert_eq!(get(&r, "log.level"), "error");
        assert_eq!(
            get(&r, "error.message"),
            r#"open() "/usr/share/nginx/html/x.php" failed (2: No such file or directory)"#
        );
        assert_eq!(get(&r, "source.ip"), "198.51.100.7");
        assert_eq!(get(&r, "process.pid"), &json!(123));
        assert_eq!(get(&r, "http.request.method"), "GET");
        assert_eq!(get(&r, "url.query"), "id=1");
        assert_eq!(get(&r, "url.domain"), "www.example.com");
        assert_eq!(get(&r, "http.request.referrer"), "http://evil/");
        assert_eq!(get(&r, "nginx.error.server"), "www.example.com");
        assert_eq!(r.time, Some(Timestamp(1_704_164_645_000_000)));
        assert_eq!(
            r.source,
            LogSourceTag::new(Some("nginx"), Some("webserver"), Some("error"))
        );
    }

    #[test]
    fn apache_error_lines() {
        let r = web(
            "",
            "[Tue Jan 02 03:04:05.123456 2024] [core:error] [pid 123:tid 456] [client 1.2.3.4:5678] AH00126: Invalid URI in request GET /../../etc/passwd HTTP/1.1, referer: http://x/",
        );
        assert_eq!(get(&r, "log.level"), "error");
        assert_eq!(get(&r, "apache.error.module"), "core");
        assert_eq!(get(&r, "process.pid"), &json!(123));
        assert_eq!(get(&r, "process.thread.id"), &json!(456));
        assert_eq!(get(&r, "source.ip"), "1.2.3.4");
        assert_eq!(get(&r, "source.port"), &json!(5678));
        assert_eq!(get(&r, "error.code"), "AH00126");
        assert_eq!(
            get(&r, "error.message"),
            "Invalid URI in request GET /../../etc/passwd HTTP/1.1"
        );
        assert_eq!(get(&r, "http.request.referrer"), "http://x/");
        assert_eq!(r.time, Some(Timestamp(1_704_164_645_123_456)));
        let r = web(
            "",
            "[Sun Dec 04 04:47:44 2005] [error] [client 218.62.18.218] Directory index forbidden by rule: /var/www/html/",
        );
        assert_eq!(get(&r, "source.ip"), "218.62.18.218");
        assert_eq!(
            get(&r, "error.message"),
            "Directory index forbidden by rule: /var/www/html/"
        );
        assert_eq!(r.source.product.as_deref(), Some("apache"));
    }

    #[test]
    fn not_web() {
        for line in [
            "",
            "hello",
            "1.2.3.4 - - [bad] \"GET / HTTP/1.1\" 200 1",
            "1.2.3.4 - - [02/Jan/2024:03:04:05 +0000] \"GET / HTTP/1.1\" 20 1",
            "1.2.3.4 - - [02/Jan/2024:03:04:05 +0000] \"GET / HTTP/1.1\" 002 1",
            "[nope] [error] x",
            "2024/01/02 03:04:05 error x",
        ] {
            assert_eq!(decode_web("", line), None, "{line}");
        }
    }

    #[test]
    fn loghub_apache_error_log() {
        let Some(dir) = std::env::var_os("VIGIL_CORPORA") else {
            return;
        };
        let path = std::path::Path::new(&dir).join("loghub/Apache/Apache_2k.log");
        let text = std::fs::read_to_string(path).expect("loghub Apache sample");
        let mut n = 0;
        for line in text.lines() {
            let r = web("", line);
            assert!(r.doc.contains_key("log.level"), "{line}");
            assert!(r.doc.contains_key("error.message"), "{line}");
            assert!(r.time.is_some());
            n += 1;
        }
        assert_eq!(n, 2000);
    }
}
