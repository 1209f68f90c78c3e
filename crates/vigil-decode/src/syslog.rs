//! Syslog: one message (the payload of one UDP datagram or one TCP frame)
//! into its fields. No I/O, never fails.
//!
//! Formats:
//! - RFC 5424 (`<34>1 2003-10-11T22:14:15.003Z host su - ID47 [id@1 k="v"] msg`):
//!   `-` nil values, structured data with the escapes `\"`, `\\`, `\]`, a
//!   UTF-8 BOM before MSG. Recognised only after a PRI (`<34>1 `).
//! - RFC 3164 and what real devices send under that name: with or without
//!   PRI (the lines of a plain syslog file), with or without hostname, tag
//!   with or without `[pid]`, `sshd(pam_unix)` tags (app `sshd`, module
//!   `pam_unix`: old Linux-PAM logged under such an ident), the odd
//!   `syslogd 1.4.1:` and `-- root[2421]:` tags of old sysklogd/login, ISO
//!   timestamps in place of the BSD one (rsyslog's high-precision format),
//!   and Cisco IOS (`<189>123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: ...`,
//!   the `%...` kept in the message, no hostname nor app).
//!
//! Anything without a recognisable header is [`SyslogFormat::Unknown`]: its
//! message is the whole line, or what follows a valid PRI (whose facility
//! and severity are kept), as RFC 3164 §4.3.3 tells a relay to do. A line
//! that starts with `<` but no valid PRI (`<999>`, `<ab>`) is Unknown with
//! the whole line as message.
//!
//! Every `&str` of the result (hostname, app, pid, msg id, message) is a
//! slice of the input, so nothing is copied but structured-data values
//! (which need unescaping).
//!
//! Why hand-written and not `syslog_loose`: the sloppy variants above are
//! exactly where parsers differ, and we want to decide each one ourselves
//! and test it against loghub (`sshd(pam_unix)` → app `sshd`, the year of a
//! BSD timestamp taken from the caller's `now` rather than the wall clock,
//! Cisco's sequence numbers, keeping every field a borrowed slice). The
//! grammar is small (this file), costs no dependency, and is fuzzed.
//!
//! Timestamps without a zone (BSD ones, zone-less ISO) are taken as UTC. BSD
//! timestamps have no year: the year of `now`, or the previous year if that
//! puts the time more than a day after `now`.

use vigil_core::Timestamp;

/// Which grammar a message was read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyslogFormat {
    Rfc5424,
    Rfc3164,
    /// No header recognised: the message is the line (after a valid PRI).
    Unknown,
}

/// One syslog message; the `&str` fields borrow from the input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage<'a> {
    /// 0..=23.
    pub facility: Option<u8>,
    /// 0 (emergency) ..= 7 (debug).
    pub severity: Option<u8>,
    pub timestamp: Option<Timestamp>,
    pub hostname: Option<&'a str>,
    /// The program: `sshd` for the tags `sshd[1]:` and `sshd(pam_unix)[1]:`.
    pub app_name: Option<&'a str>,
    /// What the tag names in parentheses after the program: `pam_unix` of
    /// `sshd(pam_unix)[1]:`. The message is that module's, not the
    /// program's own (`authentication failure; ... rhost=...`), so the
    /// Linux decoder needs it to read the message.
    pub app_module: Option<&'a str>,
    pub proc_id: Option<&'a str>,
    pub msg_id: Option<&'a str>,
    /// RFC 5424 structured data, in order: (`sd-id.param-name`, unescaped
    /// value); an element without parameters gives (`sd-id`, "").
    pub structured_data: Vec<(String, String)>,
    pub message: &'a str,
    pub format: SyslogFormat,
}

impl<'a> SyslogMessage<'a> {
    fn unknown(message: &'a str) -> Self {
        SyslogMessage {
            facility: None,
            severity: None,
            timestamp: None,
            hostname: None,
            app_name: None,
            app_module: None,
            proc_id: None,
            msg_id: None,
            structured_data: Vec::new(),
            message,
            format: SyslogFormat::Unknown,
        }
    }
}

/// Largest valid PRI: facility 23, severity 7.
const MAX_PRI: u32 = 191;
/// A 3164 tag (with its `[pid]`) is looked for in this many leading bytes.
const MAX_TAG_BYTES: usize = 64;
const BOM: char = '\u{feff}';
const MICROS_PER_SEC: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;

/// Parses one syslog message. Trailing `\r`, `\n` and NUL (frame
/// terminators) are dropped; everything else is kept.
pub fn parse_syslog(line: &str, now: Timestamp) -> SyslogMessage<'_> {
    let line = line.trim_end_matches(['\r', '\n', '\0']);
    let mut msg = SyslogMessage::unknown(line);
    let rest = match parse_pri(line) {
        Pri::Valid(pri, rest) => {
            msg.facility = Some((pri >> 3) as u8);
            msg.severity = Some((pri & 7) as u8);
            if let Some(after_version) = rfc5424_version(rest) {
                parse_5424(after_version, &mut msg);
                return msg;
            }
            rest
        }
        Pri::Absent => line,
        Pri::Invalid => return msg,
    };
    if !parse_3164(rest, now, &mut msg) {
        msg.message = rest;
    }
    msg
}

enum Pri<'a> {
    Valid(u32, &'a str),
    Absent,
    Invalid,
}

fn parse_pri(line: &str) -> Pri<'_> {
    let Some(after) = line.strip_prefix('<') else {
        return Pri::Absent;
    };
    match digits(after, 1, 3) {
        Some((pri, rest)) if pri <= MAX_PRI => match rest.strip_prefix('>') {
            Some(rest) => Pri::Valid(pri, rest),
            None => Pri::Invalid,
        },
        _ => Pri::Invalid,
    }
}

/// `1 ` (VERSION SP) after the PRI: the mark of RFC 5424.
fn rfc5424_version(s: &str) -> Option<&str> {
    match s.as_bytes().first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let (_, rest) = digits(s, 1, 3)?;
    rest.strip_prefix(' ')
}

// ---------------------------------------------------------------- RFC 5424

fn parse_5424<'a>(s: &'a str, msg: &mut SyslogMessage<'a>) {
    msg.format = SyslogFormat::Rfc5424;
    msg.message = end_of(s);
    let (ts, Some(s)) = token(s) else {
        msg.timestamp = nil(s).and_then(parse_iso);
        return;
    };
    msg.timestamp = nil(ts).and_then(parse_iso);
    let mut rest = s;
    for field in [
        &mut msg.hostname,
        &mut msg.app_name,
        &mut msg.proc_id,
        &mut msg.msg_id,
    ] {
        let (tok, next) = token(rest);
        *field = nil(tok);
        match next {
            Some(next) => rest = next,
            None => return,
        }
    }
    // STRUCTURED-DATA [SP MSG]
    let after_sd = if let Some(after) = rest.strip_prefix('-') {
        after
    } else if rest.starts_with('[') {
        match parse_sd(rest) {
            Some((sd, after)) => {
                msg.structured_data = sd;
                after
            }
            // Truncated or malformed: keep it all as the message.
            None => rest,
        }
    } else {
        rest
    };
    let text = after_sd.strip_prefix(' ').unwrap_or(after_sd);
    msg.message = text.strip_prefix(BOM).unwrap_or(text);
}

/// The empty slice at the end of `s` (so that every field of a message
/// points into its input, even an empty one).
fn end_of(s: &str) -> &str {
    &s[s.len()..]
}

/// `-` or empty is nil.
fn nil(tok: &str) -> Option<&str> {
    (!tok.is_empty() && tok != "-").then_some(tok)
}

/// The text up to the first space and what follows that space (None: the
/// input ended).
fn token(s: &str) -> (&str, Option<&str>) {
    match s.find(' ') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// One or more SD-ELEMENTs: `[id name="value" ...]...`. None when an
/// element is malformed or truncated.
fn parse_sd(mut s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut out = Vec::new();
    while let Some(inner) = s.strip_prefix('[') {
        let end = inner.find([' ', ']']).unwrap_or(inner.len());
        let id = &inner[..end];
        if !is_sd_name(id) {
            return None;
        }
        s = &inner[end..];
        let mut params = 0;
        loop {
            s = s.trim_start_matches(' ');
            if let Some(after) = s.strip_prefix(']') {
                s = after;
                break;
            }
            let eq = s.find('=')?;
            let name = &s[..eq];
            if !is_sd_name(name) {
                return None;
            }
            let (value, after) = sd_value(s[eq + 1..].strip_prefix('"')?)?;
            out.push((format!("{id}.{name}"), value));
            params += 1;
            s = after;
        }
        if params == 0 {
            out.push((id.to_string(), String::new()));
        }
    }
    Some((out, s))
}

/// SD-NAME: printable ASCII but `=`, space, `]`, `"`.
fn is_sd_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'=' | b']' | b'"'))
}

/// A PARAM-VALUE after its opening quote: the unescaped value and the text
/// after the closing quote. `\"`, `\\`, `\]` are escapes; any other
/// backslash is kept as it is (RFC 5424 §6.3.3).
fn sd_value(s: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &s[i + 1..])),
            '\\' => match s[i + 1..].chars().next() {
                Some(e @ ('"' | '\\' | ']')) => {
                    value.push(e);
                    chars.next();
                }
                _ => value.push('\\'),
            },
            c => value.push(c),
        }
    }
    None
}

// ---------------------------------------------------------------- RFC 3164

/// Reads `s` (after the PRI, if any) as RFC 3164 or a variant; false when it
/// starts with no timestamp we know, leaving `msg` untouched.
fn parse_3164<'a>(s: &'a str, now: Timestamp, msg: &mut SyslogMessage<'a>) -> bool {
    // Cisco IOS: an optional sequence number `123: `, then `*` (clock not
    // set) or `.` (not synchronised) before the time.
    let s = cisco_sequence(s).unwrap_or(s);
    let s = s.trim_start_matches(['*', '.']);
    let Some((timestamp, after_ts)) = parse_bsd(s, now).or_else(|| parse_iso_token(s)) else {
        return false;
    };
    msg.format = SyslogFormat::Rfc3164;
    msg.timestamp = timestamp;
    msg.message = end_of(s);

    // Cisco: `...18:46:11.123: %SYS-5-...` or `... UTC: %SYS-5-...`.
    if let Some(text) = cisco_time_end(after_ts) {
        msg.message = text.strip_prefix(' ').unwrap_or(text);
        return true;
    }
    let Some(rest) = after_ts.strip_prefix(' ') else {
        // Ends after the time (or junk glued to it: keep that as message).
        msg.message = after_ts;
        return true;
    };
    let mut rest = rest.trim_start_matches(' ');

    // HOSTNAME, unless the word is already the tag (no hostname sent) or the
    // last word of the line (then it is the message).
    if let (word, Some(after)) = token(rest) {
        if !word.is_empty() && !looks_like_tag(word) {
            msg.hostname = Some(word);
            rest = after.trim_start_matches(' ');
        }
    }

    match parse_tag(rest) {
        Some(Tag {
            app,
            module,
            pid,
            text,
        }) => {
            msg.app_name = Some(app);
            msg.app_module = module;
            msg.proc_id = pid;
            msg.message = text;
        }
        None => msg.message = rest,
    }
    true
}

fn looks_like_tag(word: &str) -> bool {
    word.ends_with(':') || word.contains('[')
}

/// `123: ` → what follows.
fn cisco_sequence(s: &str) -> Option<&str> {
    let (_, rest) = digits(s, 1, 20)?;
    rest.strip_prefix(": ")
}

/// After a Cisco time: `: text`, or ` UTC: text` (a zone abbreviation, which
/// we cannot resolve and ignore: the time stays UTC).
fn cisco_time_end(s: &str) -> Option<&str> {
    if let Some(text) = s.strip_prefix(':') {
        return Some(text);
    }
    let zone = s.strip_prefix(' ')?;
    let len = zone.bytes().take_while(u8::is_ascii_uppercase).count();
    if (2..=5).contains(&len) {
        zone[len..].strip_prefix(':')
    } else {
        None
    }
}

/// The tag at the start of `s`: `app[pid]: `, `app: `, `app(sub)[pid]: `,
/// `app 1.2.3: ` (version dropped), `-- app[pid]: `, or `app[pid] ` without
/// colon.
fn parse_tag(s: &str) -> Option<Tag<'_>> {
    let window = &s.as_bytes()[..s.len().min(MAX_TAG_BYTES)];
    let colon = window
        .iter()
        .enumerate()
        .find(|&(i, &b)| b == b':' && matches!(s.as_bytes().get(i + 1), None | Some(b' ')))
        .map(|(i, _)| i);
    let (region, text) = match colon {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => {
            // `app[pid] message`: the first word must end in `]`.
            let (word, after) = token(s);
            if !(word.ends_with(']') && word.contains('[')) || word.len() > MAX_TAG_BYTES {
                return None;
            }
            (word, after.unwrap_or(end_of(s)))
        }
    };
    let text = text.strip_prefix(' ').unwrap_or(text);

    let (name, pid) = match (region.strip_suffix(']'), region.rfind('[')) {
        (Some(inner), Some(open)) => (&region[..open], nil(&inner[open + 1..])),
        _ => (region, None),
    };
    if pid.is_some_and(|p| p.contains(' ')) {
        return None;
    }
    let mut words = name.split(' ').filter(|w| !w.is_empty());
    let first = words.next()?;
    let app = match (words.next(), words.next()) {
        (None, _) => first,
        // sysklogd's `syslogd 1.4.1:`
        (Some(second), None) if second.starts_with(|c: char| c.is_ascii_digit()) => first,
        // login's `-- root[2421]:`
        (Some(second), None) if first.bytes().all(|b| b.is_ascii_punctuation()) => second,
        _ => return None,
    };
    if !app
        .chars()
        .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '=' | '"'))
    {
        return None;
    }
    // `sshd(pam_unix)` → `sshd`, module `pam_unix`
    let (app, module) = match app.find('(') {
        Some(i) if i > 0 => {
            let inner = app[i + 1..].strip_suffix(')');
            (&app[..i], inner.and_then(nil))
        }
        _ => (app, None),
    };
    Some(Tag {
        app,
        module,
        pid,
        text,
    })
}

/// A 3164 tag read by [`parse_tag`], and the message after it.
struct Tag<'a> {
    app: &'a str,
    module: Option<&'a str>,
    pid: Option<&'a str>,
    text: &'a str,
}

// ---------------------------------------------------------------- time

/// `Mmm dd hh:mm:ss[.frac]`, day space- or zero-padded or single-digit, with
/// an optional year before the time (`Mar  1 2024 18:46:11`, Cisco). The
/// timestamp is None when the numbers are out of range (`Feb 30`).
fn parse_bsd(s: &str, now: Timestamp) -> Option<(Option<Timestamp>, &str)> {
    let month = month(s.get(..3)?)?;
    let r = s[3..].strip_prefix(' ')?;
    let r = r.strip_prefix(' ').unwrap_or(r);
    let (day, r) = digits(r, 1, 2)?;
    let mut r = r.strip_prefix(' ')?;
    let mut year = None;
    if let Some((y, after)) = digits(r, 4, 4) {
        if let Some(after) = after.strip_prefix(' ') {
            year = Some(i64::from(y));
            r = after;
        }
    }
    let (hour, r) = digits(r, 1, 2)?;
    let (minute, r) = digits(r.strip_prefix(':')?, 2, 2)?;
    let (second, r) = digits(r.strip_prefix(':')?, 2, 2)?;
    let (micros, r) = fraction(r);
    if !(r.is_empty() || r.starts_with([' ', ':'])) {
        return None;
    }
    let at = |year: i64| -> Option<Timestamp> {
        if day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let secs = i64::from(hour * 3600 + minute * 60 + second.min(59));
        // Checked: a `now` near the ends of i64 gives years past its range.
        days_from_civil(year, month, day)
            .checked_mul(MICROS_PER_DAY)?
            .checked_add(secs * MICROS_PER_SEC + micros)
            .map(Timestamp)
    };
    let timestamp = match year {
        Some(y) => at(y),
        None => {
            let this_year = civil_year(now.day());
            match at(this_year) {
                Some(t) if t.0 <= now.0.saturating_add(MICROS_PER_DAY) => Some(t),
                _ => at(this_year - 1),
            }
        }
    };
    Some((timestamp, r))
}

/// An ISO 8601 / RFC 3339 time as the first word of `s`
/// (`2024-05-01T12:00:00.123456+02:00`).
fn parse_iso_token(s: &str) -> Option<(Option<Timestamp>, &str)> {
    let end = s.find(' ').unwrap_or(s.len());
    let tok = &s[..end];
    looks_iso(tok).then(|| (parse_iso(tok), &s[end..]))
}

/// `YYYY-MM-DDT...`: the only shape we hand to [`Timestamp::parse`], which
/// would otherwise also read plain numbers as epoch times.
fn looks_iso(tok: &str) -> bool {
    let b = tok.as_bytes();
    b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
}

fn parse_iso(tok: &str) -> Option<Timestamp> {
    if !looks_iso(tok) {
        return None;
    }
    Timestamp::parse(tok).ok()
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

/// `.123456789` → microseconds (digits past the sixth dropped).
fn fraction(s: &str) -> (i64, &str) {
    let Some(after) = s.strip_prefix('.') else {
        return (0, s);
    };
    let n = after.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return (0, s);
    }
    let mut micros = 0i64;
    for i in 0..6 {
        let d = after
            .as_bytes()
            .get(i)
            .filter(|_| i < n)
            .map_or(0, |b| b - b'0');
        micros = micros * 10 + i64::from(d);
    }
    (micros, &after[n..])
}

/// Between `min` and `max` leading ASCII digits as a number (max 9 digits
/// are summed, enough for every caller) and the rest.
fn digits(s: &str, min: usize, max: usize) -> Option<(u32, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n < min {
        return None;
    }
    let value = s.as_bytes()[..n].iter().fold(0u32, |v, b| {
        v.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    });
    Some((value, &s[n..]))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of day `days` since the epoch (inverse of [`days_from_civil`]).
fn civil_year(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2024-05-01T12:00:00Z
    const NOW: Timestamp = Timestamp(1_714_564_800_000_000);

    fn ts(s: &str) -> Option<Timestamp> {
        Some(Timestamp::parse(s).unwrap())
    }

    fn p(line: &str) -> SyslogMessage<'_> {
        parse_syslog(line, NOW)
    }

    #[test]
    fn rfc5424_example() {
        let line = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 \
                    [exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] \u{feff}'su root' failed";
        let m = p(line);
        assert_eq!(m.format, SyslogFormat::Rfc5424);
        assert_eq!((m.facility, m.severity), (Some(4), Some(2)));
        assert_eq!(m.timestamp, ts("2003-10-11T22:14:15.003Z"));
        assert_eq!(m.hostname, Some("mymachine.example.com"));
        assert_eq!(m.app_name, Some("su"));
        assert_eq!(m.proc_id, None);
        assert_eq!(m.msg_id, Some("ID47"));
        assert_eq!(
            m.structured_data,
            vec![
                ("exampleSDID@32473.iut".into(), "3".into()),
                ("exampleSDID@32473.eventSource".into(), "Application".into()),
            ]
        );
        assert_eq!(m.message, "'su root' failed");
    }

    #[test]
    fn rfc5424_nil_values_and_no_message() {
        let m = p("<165>1 - - - - - -");
        assert_eq!(m.format, SyslogFormat::Rfc5424);
        assert_eq!((m.facility, m.severity), (Some(20), Some(5)));
        assert_eq!(
            (m.timestamp, m.hostname, m.app_name, m.proc_id, m.msg_id),
            (None, None, None, None, None)
        );
        assert!(m.structured_data.is_empty());
        assert_eq!(m.message, "");

        let m = p("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.");
        assert_eq!(m.timestamp, ts("2003-08-24T12:14:15.000003Z"));
        assert_eq!(m.hostname, Some("192.0.2.1"));
        assert_eq!(m.proc_id, Some("8710"));
        assert_eq!(m.msg_id, None);
        assert_eq!(m.message, "%% It's time to make the do-nuts.");
    }

    #[test]
    fn rfc5424_structured_data_escapes_and_elements() {
        let m = p(
            r#"<165>1 2003-10-11T22:14:15.003Z host evntslog - ID47 [a@1 q="say \"hi\"" b="c:\\dir" r="x\]y" o="\n"][meta][b@2 k="]"] text"#,
        );
        assert_eq!(
            m.structured_data,
            vec![
                ("a@1.q".into(), "say \"hi\"".into()),
                ("a@1.b".into(), "c:\\dir".into()),
                ("a@1.r".into(), "x]y".into()),
                ("a@1.o".into(), "\\n".into()),
                ("meta".into(), String::new()),
                ("b@2.k".into(), "]".into()),
            ]
        );
        assert_eq!(m.message, "text");

        // SD right at the end, no MSG.
        let m = p(r#"<13>1 - h a p m [x@1 k="v"]"#);
        assert_eq!(m.structured_data, vec![("x@1.k".into(), "v".into())]);
        assert_eq!(m.message, "");
    }

    #[test]
    fn rfc5424_truncated_structured_data_is_kept_as_message() {
        for sd in [r#"[x@1 k="v"#, r#"[x@1 k="#, "[x@1", "[", r#"[x@1 k="v""#] {
            let line = format!("<13>1 - h a p m {sd}");
            let m = p(&line);
            assert_eq!(m.format, SyslogFormat::Rfc5424, "{sd}");
            assert_eq!(m.app_name, Some("a"));
            assert!(m.structured_data.is_empty(), "{sd}");
            assert_eq!(m.message, sd);
        }
        // After a complete element, the rest is MSG.
        let m = p(r#"<13>1 - h a p m [x@1 k="v"] [y"#);
        assert_eq!(m.structured_data, vec![("x@1.k".into(), "v".into())]);
        assert_eq!(m.message, "[y");
        // A header cut short keeps what came.
        let m = p("<13>1 2024-05-01T12:00:00Z host");
        assert_eq!(m.format, SyslogFormat::Rfc5424);
        assert_eq!(m.timestamp, Some(NOW));
        assert_eq!(m.hostname, Some("host"));
        assert_eq!((m.app_name, m.message), (None, ""));
    }

    #[test]
    fn rfc3164_with_pri() {
        let m = p("<13>Feb  5 17:32:18 10.0.0.99 myproc[10]: message text");
        assert_eq!(m.format, SyslogFormat::Rfc3164);
        assert_eq!((m.facility, m.severity), (Some(1), Some(5)));
        assert_eq!(m.timestamp, ts("2024-02-05T17:32:18Z"));
        assert_eq!(m.hostname, Some("10.0.0.99"));
        assert_eq!(m.app_name, Some("myproc"));
        assert_eq!(m.proc_id, Some("10"));
        assert_eq!(m.message, "message text");
        assert_eq!(m.msg_id, None);
    }

    #[test]
    fn rfc3164_file_lines_without_pri() {
        let m = p(
            "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 ",
        );
        assert_eq!(m.format, SyslogFormat::Rfc3164);
        assert_eq!((m.facility, m.severity), (None, None));
        // June is after NOW (May 1st): last year.
        assert_eq!(m.timestamp, ts("2023-06-14T15:16:01Z"));
        assert_eq!(m.hostname, Some("combo"));
        assert_eq!(m.app_name, Some("sshd"));
        assert_eq!(m.app_module, Some("pam_unix"));
        assert_eq!(m.proc_id, Some("19939"));
        assert_eq!(m.message, "authentication failure; logname= uid=0 ");

        let m = p("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186");
        assert_eq!(m.app_name, Some("sshd"));
        assert_eq!(m.hostname, Some("LabSZ"));
        assert_eq!(m.timestamp, ts("2023-12-10T06:55:46Z"));

        let m = p("Jun 19 04:09:11 combo syslogd 1.4.1: restart.");
        assert_eq!((m.app_name, m.proc_id), (Some("syslogd"), None));
        assert_eq!(m.message, "restart.");

        let m = p("Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2");
        assert_eq!(m.hostname, Some("combo"));
        assert_eq!((m.app_name, m.proc_id), (Some("root"), Some("2421")));
        assert_eq!(m.message, "ROOT LOGIN ON tty2");
    }

    #[test]
    fn rfc3164_tag_variants() {
        let m = p("<13>Feb  5 17:32:18 host kernel: [ 12.345] eth0: link up");
        assert_eq!((m.app_name, m.proc_id), (Some("kernel"), None));
        assert_eq!(m.message, "[ 12.345] eth0: link up");

        // No hostname: the first word is the tag.
        let m = p("<13>Feb  5 17:32:18 myproc[10]: message");
        assert_eq!(m.hostname, None);
        assert_eq!((m.app_name, m.proc_id), (Some("myproc"), Some("10")));
        let m = p("<13>Feb  5 17:32:18 cron: job done");
        assert_eq!((m.hostname, m.app_name), (None, Some("cron")));
        assert_eq!(m.message, "job done");

        // Tag with pid but no colon.
        let m = p("<13>Feb  5 17:32:18 host app[7] no colon here");
        assert_eq!((m.app_name, m.proc_id), (Some("app"), Some("7")));
        assert_eq!(m.message, "no colon here");

        // No tag at all: host, then message.
        let m = p("<13>Feb  5 17:32:18 host just some words: with a colon");
        assert_eq!((m.hostname, m.app_name), (Some("host"), None));
        assert_eq!(m.message, "just some words: with a colon");

        // Paths, su(pam_unix), zero-padded and single-digit days.
        let m = p("Feb 05 01:02:03 h /usr/sbin/cron[99]: x");
        assert_eq!(m.app_name, Some("/usr/sbin/cron"));
        assert_eq!(m.timestamp, ts("2024-02-05T01:02:03Z"));
        let m = p("Feb 5 01:02:03 h su(pam_unix)[1]: session opened");
        assert_eq!((m.app_name, m.app_module), (Some("su"), Some("pam_unix")));
        let m = p("Feb 5 01:02:03 h cupsd(pam_unix): x");
        assert_eq!(
            (m.app_name, m.app_module),
            (Some("cupsd"), Some("pam_unix"))
        );
        let m = p("Feb 5 01:02:03 h app(): x");
        assert_eq!((m.app_name, m.app_module), (Some("app"), None));
        let m = p("Feb 5 01:02:03 h /usr/sbin/cron[99]: x");
        assert_eq!(m.app_module, None);
        assert_eq!(m.timestamp, ts("2024-02-05T01:02:03Z"));

        // Time and host only; time only.
        let m = p("<13>Feb  5 17:32:18 host");
        assert_eq!(
            (m.format, m.hostname, m.message),
            (SyslogFormat::Rfc3164, None, "host")
        );
        let m = p("<13>Feb  5 17:32:18");
        assert_eq!((m.format, m.message), (SyslogFormat::Rfc3164, ""));
        assert!(m.timestamp.is_some());
    }

    #[test]
    fn rfc3164_iso_timestamps() {
        let m = p("2024-05-01T12:00:00.123456+02:00 host app[1]: msg");
        assert_eq!(m.format, SyslogFormat::Rfc3164);
        assert_eq!(m.timestamp, ts("2024-05-01T10:00:00.123456Z"));
        assert_eq!(m.hostname, Some("host"));
        assert_eq!(
            (m.app_name, m.proc_id, m.message),
            (Some("app"), Some("1"), "msg")
        );

        let m = p("<30>2024-05-01T12:00:00Z host systemd[1]: Started x.");
        assert_eq!((m.facility, m.severity), (Some(3), Some(6)));
        assert_eq!(m.timestamp, Some(NOW));
        assert_eq!(m.app_name, Some("systemd"));

        // ISO shape with bad numbers: still a header, no time.
        let m = p("2024-13-45T99:00:00Z host app: x");
        assert_eq!((m.format, m.timestamp), (SyslogFormat::Rfc3164, None));
        assert_eq!(m.app_name, Some("app"));
    }

    #[test]
    fn cisco() {
        let m =
            p("<189>123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured from console by vty0");
        assert_eq!(m.format, SyslogFormat::Rfc3164);
        assert_eq!((m.facility, m.severity), (Some(23), Some(5)));
        assert_eq!(m.timestamp, ts("2024-03-01T18:46:11.123Z"));
        assert_eq!((m.hostname, m.app_name), (None, None));
        assert_eq!(
            m.message,
            "%SYS-5-CONFIG_I: Configured from console by vty0"
        );

        let m = p("<187>45: .Mar  1 2023 18:46:11 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down");
        assert_eq!(m.timestamp, ts("2023-03-01T18:46:11Z"));
        assert_eq!(
            m.message,
            "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down"
        );
    }

    #[test]
    fn year_rollover() {
        // Dec 31 seen on Jan 1st: last year.
        let jan1 = Timestamp::parse("2024-01-01T00:10:00Z").unwrap();
        let m = parse_syslog("Dec 31 23:59:59 h a: x", jan1);
        assert_eq!(m.timestamp, ts("2023-12-31T23:59:59Z"));
        // Less than a day ahead (clock skew): this year.
        let m = parse_syslog("Jan  1 20:00:00 h a: x", jan1);
        assert_eq!(m.timestamp, ts("2024-01-01T20:00:00Z"));
        // More than a day ahead: last year.
        let m = parse_syslog("Jan  3 00:00:00 h a: x", jan1);
        assert_eq!(m.timestamp, ts("2023-01-03T00:00:00Z"));
        // Feb 29 in a leap year, and in a non-leap year (no time).
        let m = p("Feb 29 10:00:00 h a: x");
        assert_eq!(m.timestamp, ts("2024-02-29T10:00:00Z"));
        let m = parse_syslog(
            "Feb 29 10:00:00 h a: x",
            Timestamp::parse("2023-06-01T00:00:00Z").unwrap(),
        );
        assert_eq!((m.format, m.timestamp), (SyslogFormat::Rfc3164, None));
        assert_eq!(m.message, "x");
        assert_eq!(civil_year(-1), 1969);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 5, 1), NOW.day());
    }

    #[test]
    fn edge_cases() {
        let m = p("");
        assert_eq!(
            (m.format, m.message, m.facility),
            (SyslogFormat::Unknown, "", None)
        );

        let m = p("<13>");
        assert_eq!(
            (m.format, m.facility, m.severity),
            (SyslogFormat::Unknown, Some(1), Some(5))
        );
        assert_eq!(m.message, "");

        let m = p("<13>hello world");
        assert_eq!(
            (m.format, m.severity, m.message),
            (SyslogFormat::Unknown, Some(5), "hello world")
        );

        for bad in [
            "<999>Feb  5 17:32:18 h a: x",
            "<192>x",
            "<>x",
            "<1x>y",
            "<1234>z",
            "<13",
        ] {
            let m = p(bad);
            assert_eq!(m.format, SyslogFormat::Unknown, "{bad}");
            assert_eq!((m.facility, m.message), (None, bad), "{bad}");
        }
        let m = p("<191>1 - - - - - - max");
        assert_eq!(
            (m.facility, m.severity, m.message),
            (Some(23), Some(7), "max")
        );
        let m = p("<0>Jan  1 00:00:00 h a: x");
        assert_eq!((m.facility, m.severity), (Some(0), Some(0)));

        let m = p("just a line of text");
        assert_eq!(
            (m.format, m.message),
            (SyslogFormat::Unknown, "just a line of text")
        );

        // Frame terminators dropped.
        let m = p("<13>Feb  5 17:32:18 h a: x\r\n\0");
        assert_eq!(m.message, "x");

        // Non-ASCII everywhere.
        let m = p("<13>Fé");
        assert_eq!(m.format, SyslogFormat::Unknown);
        let m = p("Feb  5 17:32:18 hôte prögram[ü]: ünïcode ✓");
        assert_eq!(
            (m.hostname, m.app_name, m.proc_id),
            (Some("hôte"), Some("prögram"), Some("ü"))
        );
        assert_eq!(m.message, "ünïcode ✓");
    }

    #[test]
    fn found_by_fuzzing() {
        // Tag without colon at the end of the line: the empty message is
        // still a slice of the input.
        let line = "Jan  5 01:13:16 host app[1]";
        let m = p(line);
        assert_eq!((m.app_name, m.message), (Some("app"), ""));
        assert!(is_slice_of(m.message, line));
        // A `now` at the ends of time: no overflow, no time.
        for now in [i64::MAX, i64::MIN] {
            let m = parse_syslog("Dec 31 23:59:59 h a: x", Timestamp(now));
            assert_eq!(m.message, "x");
        }
    }

    #[test]
    fn very_long_lines() {
        let body = "x".repeat(1 << 20);
        let line = format!("<13>Feb  5 17:32:18 host app[1]: {body}");
        let m = p(&line);
        assert_eq!(m.message.len(), 1 << 20);
        let line = format!("<13>1 - h a - - [x@1 k=\"{body}");
        let m = p(&line);
        assert!(m.structured_data.is_empty());
        assert_eq!(m.message.len(), body.len() + 8);
        let line = ":".repeat(1 << 20);
        assert_eq!(p(&line).format, SyslogFormat::Unknown);
        let long_tag = format!("Feb  5 17:32:18 host {}: msg", "a".repeat(100));
        assert_eq!(p(&long_tag).app_name, None);
    }

    fn is_slice_of(part: &str, whole: &str) -> bool {
        let (p, w) = (part.as_ptr() as usize, whole.as_ptr() as usize);
        p >= w && p + part.len() <= w + whole.len()
    }

    proptest! {
        #[test]
        fn never_panics_and_borrows_from_input(line in ".{0,200}", now in any::<i64>()) {
            let m = parse_syslog(&line, Timestamp(now));
            prop_assert!(is_slice_of(m.message, &line));
            for f in [m.hostname, m.app_name, m.app_module, m.proc_id, m.msg_id].into_iter().flatten() {
                prop_assert!(is_slice_of(f, &line));
            }
            prop_assert!(m.facility.is_none_or(|f| f <= 23));
            prop_assert!(m.severity.is_none_or(|s| s <= 7));
        }

        #[test]
        fn syslog_shaped_lines_never_panic(
            pri in "(<[0-9]{1,4}>)?",
            ver in "(1 )?",
            head in "[A-Za-z]{3} [ 0-9]{1,2} [0-9:.]{5,12} ",
            rest in r#"[ -~\[\]"\\=:]{0,80}"#,
        ) {
            let line = format!("{pri}{ver}{head}{rest}");
            let m = parse_syslog(&line, NOW);
            prop_assert!(is_slice_of(m.message, &line));
        }
    }

    #[test]
    fn loghub_files() {
        let Some(root) = std::env::var_os("VIGIL_CORPORA") else {
            eprintln!("VIGIL_CORPORA unset: skipping the loghub syslog test");
            return;
        };
        let root = std::path::PathBuf::from(root).join("loghub");
        for (file, apps) in [
            (
                "Linux/Linux_2k.log",
                &["sshd", "su", "ftpd", "kernel", "syslogd", "root"][..],
            ),
            ("OpenSSH/OpenSSH_2k.log", &["sshd"][..]),
        ] {
            let path = root.join(file);
            let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let text = String::from_utf8_lossy(&text);
            let mut counts = std::collections::BTreeMap::<&str, usize>::new();
            let mut lines = 0;
            for (i, line) in text.lines().enumerate() {
                let m = parse_syslog(line, NOW);
                assert_eq!(m.format, SyslogFormat::Rfc3164, "{file}:{}: {line}", i + 1);
                assert!(m.timestamp.is_some(), "{file}:{}: {line}", i + 1);
                assert!(m.hostname.is_some(), "{file}:{}: {line}", i + 1);
                let app = m
                    .app_name
                    .unwrap_or_else(|| panic!("{file}:{}: no app: {line}", i + 1));
                *counts.entry(app).or_default() += 1;
                lines += 1;
            }
            for app in apps {
                assert!(counts.contains_key(app), "{file}: no {app} in {counts:?}");
            }
            eprintln!(
                "{file}: {lines} lines, all RFC 3164 with time, host and app; apps {counts:?}"
            );
        }
    }
}
