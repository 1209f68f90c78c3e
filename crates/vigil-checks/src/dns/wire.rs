//! The DNS wire format (RFC 1035): a query out, a response in.
//!
//! The response comes from the network and is fuzzed
//! (`fuzz/fuzz_targets/checks_dns.rs`): every read is bounds-checked, a
//! compression pointer must point before the name it continues (so it
//! cannot loop), and names stop at 255 bytes.
//!
//! No imports from the rest of the crate: the fuzz target compiles this
//! file on its own.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Record type codes (RFC 1035, RFC 3596).
pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_MX: u16 = 15;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;

/// The longest name on the wire (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;
const HEADER: usize = 12;
/// Records read of one section; more are not looked at.
pub const MAX_RECORDS: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("shorter than a DNS header")]
    Short,
    #[error("not a response")]
    NotResponse,
    #[error("ends inside a record")]
    Truncated,
    #[error("bad name compression")]
    Pointer,
    #[error("a name longer than 255 bytes")]
    LongName,
    #[error("a label with reserved flag bits")]
    Label,
    #[error("record data does not fit its type")]
    Data,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub id: u16,
    pub truncated: bool,
    pub rcode: u8,
    /// The first question, lowercased, without a trailing dot.
    pub question: Option<(String, u16)>,
    pub answers: Vec<Record>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub rtype: u16,
    pub ttl: u32,
    pub data: Data,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Mx { preference: u16, exchange: String },
    Txt(String),
    Other,
}

impl Data {
    /// As an operator writes it in `expect`.
    pub fn text(&self) -> Option<String> {
        match self {
            Data::A(ip) => Some(ip.to_string()),
            Data::Aaaa(ip) => Some(ip.to_string()),
            Data::Cname(name) => Some(name.clone()),
            Data::Mx {
                preference,
                exchange,
            } => Some(format!("{preference} {exchange}")),
            Data::Txt(text) => Some(text.clone()),
            Data::Other => None,
        }
    }
}

/// Appends `name` in wire form; the error says what is wrong with it.
pub fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), &'static str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("empty name");
    }
    if name.len() > 253 {
        return Err("longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("empty label");
        }
        if label.len() > 63 {
            return Err("a label longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*')
        {
            return Err("characters other than letters, digits, '-', '_' and '*'");
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

/// A recursive query for `name`/`rtype` (a type code), class IN.
pub fn build_query(id: u16, name: &str, rtype: u16) -> Result<Vec<u8>, &'static str> {
    let mut query = Vec::with_capacity(HEADER + name.len() + 6);
    query.extend_from_slice(&id.to_be_bytes());
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    encode_name(name, &mut query)?;
    query.extend_from_slice(&rtype.to_be_bytes());
    query.extend_from_slice(&1u16.to_be_bytes());
    Ok(query)
}

/// The id of a message, if it is long enough to have one.
pub fn message_id(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]))
}

/// Parses a response: header, first question, answer section. Authority
/// and additional sections are not needed by a check and not read.
pub fn parse_response(bytes: &[u8]) -> Result<Response, WireError> {
    if bytes.len() < HEADER {
        return Err(WireError::Short);
    }
    let word = |at: usize| u16::from_be_bytes([bytes[at], bytes[at + 1]]);
    let flags = word(2);
    if flags & 0x8000 == 0 {
        return Err(WireError::NotResponse);
    }
    let (qdcount, ancount) = (word(4), word(6));
    let mut at = HEADER;
    let mut question = None;
    for i in 0..qdcount.min(MAX_RECORDS as u16) {
        let (name, next) = read_name(bytes, at)?;
        let qtype = read_u16(bytes, next)?;
        read_u16(bytes, next + 2)?;
        at = next + 4;
        if i == 0 {
            question = Some((name, qtype));
        }
    }
    let mut answers = Vec::new();
    for _ in 0..usize::from(ancount).min(MAX_RECORDS) {
        let (record, next) = read_record(bytes, at)?;
        answers.push(record);
        at = next;
    }
    Ok(Response {
        id: word(0),
        truncated: flags & 0x0200 != 0,
        rcode: (flags & 0x000f) as u8,
        question,
        answers,
    })
}

fn read_u16(bytes: &[u8], at: usize) -> Result<u16, WireError> {
    let pair = bytes.get(at..at + 2).ok_or(WireError::Truncated)?;
    Ok(u16::from_be_bytes([pair[0], pair[1]]))
}

fn read_u32(bytes: &[u8], at: usize) -> Result<u32, WireError> {
    let quad = bytes.get(at..at + 4).ok_or(WireError::Truncated)?;
    Ok(u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
}

fn read_record(bytes: &[u8], at: usize) -> Result<(Record, usize), WireError> {
    let (name, at) = read_name(bytes, at)?;
    let rtype = read_u16(bytes, at)?;
    let ttl = read_u32(bytes, at + 4)?;
    let length = usize::from(read_u16(bytes, at + 8)?);
    let start = at + 10;
    let rdata = bytes
        .get(start..start + length)
        .ok_or(WireError::Truncated)?;
    let data = read_data(bytes, start, rdata, rtype)?;
    let record = Record {
        name,
        rtype,
        ttl,
        data,
    };
    Ok((record, start + length))
}

/// `rdata` is `bytes[start..]` of the record's length; names inside it may
/// point anywhere before them in the message.
fn read_data(bytes: &[u8], start: usize, rdata: &[u8], rtype: u16) -> Result<Data, WireError> {
    let end = start + rdata.len();
    let name_within = |at: usize| -> Result<String, WireError> {
        let (name, next) = read_name(bytes, at)?;
        if next > end {
            return Err(WireError::Data);
        }
        Ok(name)
    };
    Ok(match rtype {
        TYPE_A => {
            let octets: [u8; 4] = rdata.try_into().map_err(|_| WireError::Data)?;
            Data::A(Ipv4Addr::from(octets))
        }
        TYPE_AAAA => {
            let octets: [u8; 16] = rdata.try_into().map_err(|_| WireError::Data)?;
            Data::Aaaa(Ipv6Addr::from(octets))
        }
        TYPE_CNAME => Data::Cname(name_within(start)?),
        TYPE_MX => Data::Mx {
            preference: read_u16(rdata, 0).map_err(|_| WireError::Data)?,
            exchange: name_within(start + 2)?,
        },
        TYPE_TXT => Data::Txt(read_strings(rdata)?),
        _ => Data::Other,
    })
}

/// The character-strings of a TXT record, joined (as one long TXT value
/// split in 255-byte pieces reads).
fn read_strings(rdata: &[u8]) -> Result<String, WireError> {
    let mut text = Vec::with_capacity(rdata.len());
    let mut rest = rdata;
    while let Some((&length, tail)) = rest.split_first() {
        let piece = tail.get(..usize::from(length)).ok_or(WireError::Data)?;
        text.extend_from_slice(piece);
        rest = &tail[usize::from(length)..];
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Reads a name at `at`; gives it and where the bytes after it start.
fn read_name(bytes: &[u8], at: usize) -> Result<(String, usize), WireError> {
    let mut name = String::new();
    let mut wire_length = 1;
    let mut pos = at;
    // Where reading goes on after the name: set at the first pointer.
    let mut after = None;
    // Each pointer must go strictly before the label that holds it.
    let mut limit = at;
    loop {
        let length = *bytes.get(pos).ok_or(WireError::Truncated)?;
        match length & 0xc0 {
            0x00 if length == 0 => break,
            0x00 => {
                let label = bytes
                    .get(pos + 1..pos + 1 + usize::from(length))
                    .ok_or(WireError::Truncated)?;
                wire_length += label.len() + 1;
                if wire_length > MAX_NAME {
                    return Err(WireError::LongName);
                }
                push_label(&mut name, label);
                pos += 1 + label.len();
            }
            0xc0 => {
                let low = *bytes.get(pos + 1).ok_or(WireError::Truncated)?;
                let target = usize::from(length & 0x3f) << 8 | usize::from(low);
                if target >= limit {
                    return Err(WireError::Pointer);
                }
                after.get_or_insert(pos + 2);
                limit = target;
                pos = target;
            }
            _ => return Err(WireError::Label),
        }
    }
    Ok((name, after.unwrap_or(pos + 1)))
}

fn push_label(name: &mut String, label: &[u8]) {
    if !name.is_empty() {
        name.push('.');
    }
    for &b in label {
        match b {
            b'.' | b'\\' => {
                name.push('\\');
                name.push(char::from(b));
            }
            0x21..=0x7e => name.push(char::from(b.to_ascii_lowercase())),
            _ => name.push_str(&format!("\\{b:03}")),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A response to `query` with the given answers (owner name a pointer
    /// to the question) and flags.
    pub fn answer(query: &[u8], flags: u16, records: &[(u16, &[u8])]) -> Vec<u8> {
        let mut out = query.to_vec();
        out[2..4].copy_from_slice(&flags.to_be_bytes());
        out[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
        for (rtype, rdata) in records {
            out.extend_from_slice(&[0xc0, 12]);
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            out.extend_from_slice(rdata);
        }
        out
    }

    #[test]
    fn builds_a_query() {
        let query = build_query(0xabcd, "Example.org.", TYPE_AAAA).unwrap();
        assert_eq!(
            query,
            b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07Example\x03org\x00\x00\x1c\x00\x01"
        );
        assert_eq!(build_query(1, "a..b", TYPE_A), Err("empty label"));
        assert!(build_query(1, &"a".repeat(64), TYPE_A).is_err());
    }

    #[test]
    fn reads_answers_with_compression() {
        let query = build_query(7, "example.org", TYPE_A).unwrap();
        // A CNAME to "www" + pointer to the question name, then its A.
        let cname: &[u8] = &[3, b'w', b'w', b'w', 0xc0, 12];
        let response = answer(&query, 0x8180, &[(5, cname), (1, &[192, 0, 2, 1])]);
        let parsed = parse_response(&response).unwrap();
        assert_eq!(parsed.id, 7);
        assert_eq!(parsed.rcode, 0);
        assert_eq!(parsed.question, Some(("example.org".into(), 1)));
        assert_eq!(
            parsed.answers[0].data,
            Data::Cname("www.example.org".into())
        );
        assert_eq!(parsed.answers[1].data, Data::A(Ipv4Addr::new(192, 0, 2, 1)));
    }

    #[test]
    fn reads_mx_and_txt() {
        let query = build_query(7, "example.org", TYPE_MX).unwrap();
        let mx: &[u8] = &[0, 10, 4, b'm', b'a', b'i', b'l', 0xc0, 12];
        let txt: &[u8] = b"\x05hello\x06 world";
        let parsed = parse_response(&answer(&query, 0x8180, &[(15, mx), (16, txt)])).unwrap();
        assert_eq!(
            parsed.answers[0].data.text().as_deref(),
            Some("10 mail.example.org")
        );
        assert_eq!(parsed.answers[1].data, Data::Txt("hello world".into()));
    }

    #[test]
    fn refuses_loops_and_overruns() {
        let query = build_query(7, "example.org", TYPE_A).unwrap();
        let mut looped = answer(&query, 0x8180, &[(1, &[1, 2, 3, 4])]);
        looped[30] = 29; // the answer's owner points at itself
        assert_eq!(parse_response(&looped), Err(WireError::Pointer));
        let short = answer(&query, 0x8180, &[(1, &[1, 2, 3])]);
        assert_eq!(parse_response(&short), Err(WireError::Data));
        let mut cut = answer(&query, 0x8180, &[(1, &[1, 2, 3, 4])]);
        cut.truncate(cut.len() - 1);
        assert_eq!(parse_response(&cut), Err(WireError::Truncated));
        assert_eq!(parse_response(&query), Err(WireError::NotResponse));
        assert_eq!(parse_response(&[0x80; 5]), Err(WireError::Short));
        let mut long = vec![0u8, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert_eq!(parse_response(&long), Err(WireError::LongName));
    }
}
