//! The BER subset SNMP speaks (X.690 as profiled by RFC 3416 and 3412).
//!
//! Decoding reads outside data, so it is defensive: every length is checked
//! against what is left, long-form lengths are at most four bytes, the
//! indefinite form and multi-byte tags are refused, integers must fit their
//! type, and the nesting is the fixed shape of an SNMP message (message,
//! header, PDU, varbind list, varbind, value), never a recursion the input
//! controls. Errors carry the byte offset where reading stopped.
//!
//! Decoding is lenient where real agents are sloppy (long-form lengths when
//! short would do, an unsigned counter without its leading zero byte);
//! encoding is always the shortest form, so `encode(decode(x))` is
//! canonical and decoding it again gives the same value.

use crate::oid::{Oid, MAX_ARCS};
use serde::Serialize;

pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_NULL: u8 = 0x05;
pub const TAG_OID: u8 = 0x06;
pub const TAG_SEQUENCE: u8 = 0x30;
pub const TAG_IP_ADDRESS: u8 = 0x40;
pub const TAG_COUNTER32: u8 = 0x41;
pub const TAG_GAUGE32: u8 = 0x42;
pub const TAG_TIMETICKS: u8 = 0x43;
pub const TAG_OPAQUE: u8 = 0x44;
pub const TAG_COUNTER64: u8 = 0x46;
pub const TAG_NO_SUCH_OBJECT: u8 = 0x80;
pub const TAG_NO_SUCH_INSTANCE: u8 = 0x81;
pub const TAG_END_OF_MIB_VIEW: u8 = 0x82;

/// Most varbinds accepted in one PDU: far more than any agent sends in a
/// datagram, few enough that a hostile one costs little.
pub const MAX_VARBINDS: usize = 4096;

/// Where and why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed SNMP message at offset {offset}: {reason}")]
pub struct DecodeError {
    pub offset: usize,
    pub reason: String,
}

/// One value of a varbind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Value {
    /// INTEGER (Integer32 in SMIv2; wider values are kept, not cut).
    Integer(i64),
    OctetString(Vec<u8>),
    Null,
    Oid(Oid),
    IpAddress([u8; 4]),
    Counter32(u32),
    Gauge32(u32),
    TimeTicks(u32),
    Opaque(Vec<u8>),
    Counter64(u64),
    NoSuchObject,
    NoSuchInstance,
    EndOfMibView,
}

impl Value {
    /// The value as an unsigned number, for any numeric type that is not
    /// negative.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Integer(i) => u64::try_from(i).ok(),
            Value::Counter32(v) | Value::Gauge32(v) | Value::TimeTicks(v) => Some(u64::from(v)),
            Value::Counter64(v) => Some(v),
            _ => None,
        }
    }

    /// The value as text: an octet string read as UTF-8 (lossy).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::OctetString(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// Whether this is one of the three exceptions (RFC 3416 section 3).
    pub fn is_exception(&self) -> bool {
        matches!(
            self,
            Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView
        )
    }
}

/// A name and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VarBind {
    pub oid: Oid,
    pub value: Value,
}

impl VarBind {
    /// A varbind asking for `oid` (value NULL, as requests carry).
    pub fn null(oid: Oid) -> VarBind {
        VarBind {
            oid,
            value: Value::Null,
        }
    }
}

/// The PDU types of SNMPv2 (RFC 3416).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PduKind {
    Get,
    GetNext,
    Response,
    Set,
    GetBulk,
    Inform,
    TrapV2,
    Report,
}

impl PduKind {
    pub fn tag(self) -> u8 {
        match self {
            PduKind::Get => 0xA0,
            PduKind::GetNext => 0xA1,
            PduKind::Response => 0xA2,
            PduKind::Set => 0xA3,
            PduKind::GetBulk => 0xA5,
            PduKind::Inform => 0xA6,
            PduKind::TrapV2 => 0xA7,
            PduKind::Report => 0xA8,
        }
    }

    fn from_tag(tag: u8) -> Option<PduKind> {
        Some(match tag {
            0xA0 => PduKind::Get,
            0xA1 => PduKind::GetNext,
            0xA2 => PduKind::Response,
            0xA3 => PduKind::Set,
            0xA5 => PduKind::GetBulk,
            0xA6 => PduKind::Inform,
            0xA7 => PduKind::TrapV2,
            0xA8 => PduKind::Report,
            _ => return None,
        })
    }
}

/// A PDU. For GetBulk, `error_status` is non-repeaters and `error_index`
/// max-repetitions, as on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pdu {
    pub kind: PduKind,
    pub request_id: i32,
    pub error_status: i32,
    pub error_index: i32,
    pub varbinds: Vec<VarBind>,
}

/// SNMP versions on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Version {
    V1,
    V2c,
    V3,
}

impl Version {
    fn number(self) -> i64 {
        match self {
            Version::V1 => 0,
            Version::V2c => 1,
            Version::V3 => 3,
        }
    }
}

/// A v1 or v2c message: version, community, PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunityMessage {
    pub version: Version,
    pub community: Vec<u8>,
    pub pdu: Pdu,
}

/// The User-based Security Model's parameters (RFC 3414 section 2.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsmParams {
    pub engine_id: Vec<u8>,
    pub boots: i32,
    pub time: i32,
    pub user: Vec<u8>,
    pub auth_params: Vec<u8>,
    pub priv_params: Vec<u8>,
}

/// The scoped PDU of a v3 message (RFC 3412 section 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedPdu {
    pub context_engine_id: Vec<u8>,
    pub context_name: Vec<u8>,
    pub pdu: Pdu,
}

/// A v3 message's data: in clear, or encrypted (privacy on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopedData {
    Plain(ScopedPdu),
    Encrypted(Vec<u8>),
}

pub const FLAG_AUTH: u8 = 0x01;
pub const FLAG_PRIV: u8 = 0x02;
pub const FLAG_REPORTABLE: u8 = 0x04;
/// msgSecurityModel of USM.
pub const SECURITY_MODEL_USM: i64 = 3;

/// A v3 message (RFC 3412 section 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Message {
    pub msg_id: i32,
    pub max_size: i32,
    pub flags: u8,
    pub usm: UsmParams,
    pub data: ScopedData,
}

/// Any SNMP message Vigil reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Community(CommunityMessage),
    V3(V3Message),
}

// ---------------------------------------------------------------- reading

/// One tag-length-value read; `at` is the offset of the content.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    at: usize,
    content: &'a [u8],
}

/// Reads TLVs from `buf[pos..end]`, keeping offsets absolute.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

fn fail<T>(offset: usize, reason: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError {
        offset,
        reason: reason.into(),
    })
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    /// A reader of a constructed TLV's content.
    fn inside(&self, tlv: Tlv<'a>) -> Reader<'a> {
        Reader {
            buf: self.buf,
            pos: tlv.at,
            end: tlv.at + tlv.content.len(),
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    fn byte(&mut self, what: &str) -> Result<u8, DecodeError> {
        if self.pos >= self.end {
            return fail(self.pos, format!("ends inside {what}"));
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    fn tlv(&mut self) -> Result<Tlv<'a>, DecodeError> {
        let start = self.pos;
        let tag = self.byte("a tag")?;
        if tag & 0x1F == 0x1F {
            return fail(start, "multi-byte tags are not used by SNMP");
        }
        let first = self.byte("a length")?;
        let len = match first {
            0..=0x7F => usize::from(first),
            0x80 => return fail(start + 1, "indefinite length"),
            _ => {
                let count = usize::from(first & 0x7F);
                if count > 4 {
                    return fail(start + 1, "length of more than four bytes");
                }
                let mut len = 0usize;
                for _ in 0..count {
                    len = (len << 8) | usize::from(self.byte("a length")?);
                }
                len
            }
        };
        if len > self.end - self.pos {
            return fail(start, format!("length {len} runs past the end"));
        }
        let at = self.pos;
        self.pos += len;
        Ok(Tlv {
            tag,
            at,
            content: &self.buf[at..at + len],
        })
    }

    fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>, DecodeError> {
        let start = self.pos;
        let tlv = self.tlv()?;
        if tlv.tag != tag {
            return fail(
                start,
                format!(
                    "expected {what} (tag 0x{tag:02x}), found tag 0x{:02x}",
                    tlv.tag
                ),
            );
        }
        Ok(tlv)
    }

    fn integer(&mut self, what: &str) -> Result<i64, DecodeError> {
        let tlv = self.expect(TAG_INTEGER, what)?;
        signed(tlv)
    }

    fn int32(&mut self, what: &str) -> Result<i32, DecodeError> {
        let at = self.pos;
        let v = self.integer(what)?;
        i32::try_from(v).or_else(|_| fail(at, format!("{what} {v} is out of range")))
    }

    fn octets(&mut self, what: &str) -> Result<Vec<u8>, DecodeError> {
        Ok(self.expect(TAG_OCTET_STRING, what)?.content.to_vec())
    }

    fn done(&self, what: &str) -> Result<(), DecodeError> {
        if self.at_end() {
            Ok(())
        } else {
            fail(self.pos, format!("bytes left over after {what}"))
        }
    }
}

fn signed(tlv: Tlv) -> Result<i64, DecodeError> {
    let c = tlv.content;
    if c.is_empty() || c.len() > 8 {
        return fail(tlv.at, format!("an integer of {} bytes", c.len()));
    }
    let mut v: i64 = if c[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in c {
        v = (v << 8) | i64::from(b);
    }
    Ok(v)
}

/// An unsigned value of at most `bytes` bytes; a leading zero byte (and
/// any extra ones) is allowed, as BER needs one when the top bit is set.
fn unsigned(tlv: Tlv, bytes: usize) -> Result<u64, DecodeError> {
    let c = tlv.content;
    if c.is_empty() {
        return fail(tlv.at, "an empty integer");
    }
    let first = c.iter().position(|&b| b != 0).unwrap_or(c.len());
    let digits = &c[first..];
    if digits.len() > bytes {
        return fail(tlv.at, format!("an unsigned value over {} bits", bytes * 8));
    }
    Ok(digits.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)))
}

fn decode_oid(tlv: Tlv) -> Result<Oid, DecodeError> {
    let c = tlv.content;
    if c.is_empty() {
        return fail(tlv.at, "an empty OID");
    }
    let mut arcs = Vec::new();
    let mut acc: u64 = 0;
    for (i, &b) in c.iter().enumerate() {
        acc = (acc << 7) | u64::from(b & 0x7F);
        if acc > u64::from(u32::MAX) {
            return fail(tlv.at + i, "an OID arc over 32 bits");
        }
        if b & 0x80 != 0 {
            continue;
        }
        if arcs.is_empty() {
            let (first, second) = match acc {
                0..=39 => (0, acc),
                40..=79 => (1, acc - 40),
                _ => (2, acc - 80),
            };
            arcs.push(first as u32);
            arcs.push(second as u32);
        } else {
            arcs.push(acc as u32);
        }
        if arcs.len() > MAX_ARCS {
            return fail(tlv.at + i, "an OID of more than 128 arcs");
        }
        acc = 0;
    }
    if c[c.len() - 1] & 0x80 != 0 {
        return fail(tlv.at + c.len() - 1, "an OID ends inside an arc");
    }
    Ok(Oid::from_vec_unchecked(arcs))
}

fn decode_value(tlv: Tlv) -> Result<Value, DecodeError> {
    let c = tlv.content;
    let empty = |v: Value| {
        if c.is_empty() {
            Ok(v)
        } else {
            fail(tlv.at, "content in a value that has none")
        }
    };
    Ok(match tlv.tag {
        TAG_INTEGER => Value::Integer(signed(tlv)?),
        TAG_OCTET_STRING => Value::OctetString(c.to_vec()),
        TAG_NULL => return empty(Value::Null),
        TAG_OID => Value::Oid(decode_oid(tlv)?),
        TAG_IP_ADDRESS => match <[u8; 4]>::try_from(c) {
            Ok(ip) => Value::IpAddress(ip),
            Err(_) => return fail(tlv.at, "an IpAddress that is not four bytes"),
        },
        TAG_COUNTER32 => Value::Counter32(unsigned(tlv, 4)? as u32),
        TAG_GAUGE32 => Value::Gauge32(unsigned(tlv, 4)? as u32),
        TAG_TIMETICKS => Value::TimeTicks(unsigned(tlv, 4)? as u32),
        TAG_OPAQUE => Value::Opaque(c.to_vec()),
        TAG_COUNTER64 => Value::Counter64(unsigned(tlv, 8)?),
        TAG_NO_SUCH_OBJECT => return empty(Value::NoSuchObject),
        TAG_NO_SUCH_INSTANCE => return empty(Value::NoSuchInstance),
        TAG_END_OF_MIB_VIEW => return empty(Value::EndOfMibView),
        other => return fail(tlv.at, format!("unknown value type 0x{other:02x}")),
    })
}

fn decode_varbinds(r: &mut Reader) -> Result<Vec<VarBind>, DecodeError> {
    let list = r.expect(TAG_SEQUENCE, "the varbind list")?;
    let mut items = r.inside(list);
    let mut out = Vec::new();
    while !items.at_end() {
        if out.len() == MAX_VARBINDS {
            return fail(items.pos, "too many varbinds");
        }
        let vb = items.expect(TAG_SEQUENCE, "a varbind")?;
        let mut inner = items.inside(vb);
        let oid = decode_oid(inner.expect(TAG_OID, "a varbind's name")?)?;
        let value = decode_value(inner.tlv()?)?;
        inner.done("a varbind")?;
        out.push(VarBind { oid, value });
    }
    Ok(out)
}

fn decode_pdu(r: &mut Reader) -> Result<Pdu, DecodeError> {
    let start = r.pos;
    let tlv = r.tlv()?;
    let Some(kind) = PduKind::from_tag(tlv.tag) else {
        let why = if tlv.tag == 0xA4 {
            "an SNMPv1 Trap-PDU (not supported)".to_string()
        } else {
            format!("unknown PDU type 0x{:02x}", tlv.tag)
        };
        return fail(start, why);
    };
    let mut inner = r.inside(tlv);
    let pdu = Pdu {
        kind,
        request_id: inner.int32("request-id")?,
        error_status: inner.int32("error-status")?,
        error_index: inner.int32("error-index")?,
        varbinds: decode_varbinds(&mut inner)?,
    };
    inner.done("the PDU")?;
    Ok(pdu)
}

fn decode_scoped(r: &mut Reader) -> Result<ScopedPdu, DecodeError> {
    let seq = r.expect(TAG_SEQUENCE, "the scoped PDU")?;
    let mut inner = r.inside(seq);
    let scoped = ScopedPdu {
        context_engine_id: inner.octets("contextEngineID")?,
        context_name: inner.octets("contextName")?,
        pdu: decode_pdu(&mut inner)?,
    };
    inner.done("the scoped PDU")?;
    Ok(scoped)
}

/// Reads a scoped PDU on its own: the plaintext of an encrypted one.
/// Block ciphers may leave padding after it, which is ignored.
pub fn decode_scoped_pdu(bytes: &[u8]) -> Result<ScopedPdu, DecodeError> {
    decode_scoped(&mut Reader::new(bytes))
}

/// USM parameters and the offset of msgAuthenticationParameters' content.
fn decode_usm(r: &mut Reader) -> Result<(UsmParams, usize), DecodeError> {
    let wrapper = r.expect(TAG_OCTET_STRING, "msgSecurityParameters")?;
    let mut outer = r.inside(wrapper);
    let seq = outer.expect(TAG_SEQUENCE, "the USM parameters")?;
    outer.done("the USM parameters")?;
    let mut p = outer.inside(seq);
    let engine_id = p.octets("msgAuthoritativeEngineID")?;
    let boots = p.int32("msgAuthoritativeEngineBoots")?;
    let time = p.int32("msgAuthoritativeEngineTime")?;
    let user = p.octets("msgUserName")?;
    let auth = p.expect(TAG_OCTET_STRING, "msgAuthenticationParameters")?;
    let priv_params = p.octets("msgPrivacyParameters")?;
    p.done("the USM parameters")?;
    let usm = UsmParams {
        engine_id,
        boots,
        time,
        user,
        auth_params: auth.content.to_vec(),
        priv_params,
    };
    Ok((usm, auth.at))
}

fn decode_v3(r: &mut Reader) -> Result<(V3Message, usize), DecodeError> {
    let header = r.expect(TAG_SEQUENCE, "msgGlobalData")?;
    let mut h = r.inside(header);
    let msg_id = h.int32("msgID")?;
    let max_size = h.int32("msgMaxSize")?;
    let flags_at = h.pos;
    let flags = h.octets("msgFlags")?;
    let [flags] = flags[..] else {
        return fail(flags_at, "msgFlags is not one byte");
    };
    let model_at = h.pos;
    if h.integer("msgSecurityModel")? != SECURITY_MODEL_USM {
        return fail(model_at, "a security model other than USM");
    }
    h.done("msgGlobalData")?;
    let (usm, auth_at) = decode_usm(r)?;
    let data = if flags & FLAG_PRIV != 0 {
        ScopedData::Encrypted(r.octets("the encrypted PDU")?)
    } else {
        ScopedData::Plain(decode_scoped(r)?)
    };
    let msg = V3Message {
        msg_id,
        max_size,
        flags,
        usm,
        data,
    };
    Ok((msg, auth_at))
}

/// Decodes a whole message. For v3 it also gives the offset of the
/// authentication parameters, which HMACs are computed over zeroed.
pub fn decode_message_with_auth_offset(
    bytes: &[u8],
) -> Result<(Message, Option<usize>), DecodeError> {
    let mut top = Reader::new(bytes);
    let seq = top.expect(TAG_SEQUENCE, "the message")?;
    top.done("the message")?;
    let mut r = top.inside(seq);
    let version_at = r.pos;
    let (msg, auth) = match r.integer("the version")? {
        v @ (0 | 1) => {
            let version = if v == 0 { Version::V1 } else { Version::V2c };
            let community = r.octets("the community")?;
            let pdu = decode_pdu(&mut r)?;
            let msg = CommunityMessage {
                version,
                community,
                pdu,
            };
            (Message::Community(msg), None)
        }
        3 => {
            let (msg, at) = decode_v3(&mut r)?;
            (Message::V3(msg), Some(at))
        }
        v => return fail(version_at, format!("unknown SNMP version {v}")),
    };
    r.done("the message")?;
    Ok((msg, auth))
}

/// Decodes a whole message.
pub fn decode_message(bytes: &[u8]) -> Result<Message, DecodeError> {
    decode_message_with_auth_offset(bytes).map(|(m, _)| m)
}

// ---------------------------------------------------------------- writing

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = (len as u64).to_be_bytes();
    let skip = bytes.iter().position(|&b| b != 0).unwrap_or(7);
    out.push(0x80 | (8 - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// Appends a TLV.
fn push_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    push_len(out, content.len());
    out.extend_from_slice(content);
}

fn signed_bytes(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

fn unsigned_bytes(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().position(|&b| b != 0).unwrap_or(7);
    let mut out = Vec::with_capacity(9);
    if bytes[skip] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(&bytes[skip..]);
    out
}

fn push_int(out: &mut Vec<u8>, v: i64) {
    push_tlv(out, TAG_INTEGER, &signed_bytes(v));
}

fn push_subid(out: &mut Vec<u8>, v: u64) {
    let mut groups = [0u8; 10];
    let mut n = 0;
    let mut rest = v;
    loop {
        groups[n] = (rest & 0x7F) as u8;
        n += 1;
        rest >>= 7;
        if rest == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(groups[i] | if i > 0 { 0x80 } else { 0 });
    }
}

fn oid_bytes(oid: &Oid) -> Vec<u8> {
    let arcs = oid.arcs();
    let mut out = Vec::with_capacity(arcs.len() + 4);
    if let [first, second, rest @ ..] = arcs {
        push_subid(&mut out, u64::from(*first) * 40 + u64::from(*second));
        for &a in rest {
            push_subid(&mut out, u64::from(a));
        }
    }
    out
}

fn push_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Integer(i) => push_int(out, *i),
        Value::OctetString(b) => push_tlv(out, TAG_OCTET_STRING, b),
        Value::Null => push_tlv(out, TAG_NULL, &[]),
        Value::Oid(o) => push_tlv(out, TAG_OID, &oid_bytes(o)),
        Value::IpAddress(ip) => push_tlv(out, TAG_IP_ADDRESS, ip),
        Value::Counter32(v) => push_tlv(out, TAG_COUNTER32, &unsigned_bytes(u64::from(*v))),
        Value::Gauge32(v) => push_tlv(out, TAG_GAUGE32, &unsigned_bytes(u64::from(*v))),
        Value::TimeTicks(v) => push_tlv(out, TAG_TIMETICKS, &unsigned_bytes(u64::from(*v))),
        Value::Opaque(b) => push_tlv(out, TAG_OPAQUE, b),
        Value::Counter64(v) => push_tlv(out, TAG_COUNTER64, &unsigned_bytes(*v)),
        Value::NoSuchObject => push_tlv(out, TAG_NO_SUCH_OBJECT, &[]),
        Value::NoSuchInstance => push_tlv(out, TAG_NO_SUCH_INSTANCE, &[]),
        Value::EndOfMibView => push_tlv(out, TAG_END_OF_MIB_VIEW, &[]),
    }
}

/// Encodes a PDU.
pub fn encode_pdu(pdu: &Pdu) -> Vec<u8> {
    let mut list = Vec::new();
    for vb in &pdu.varbinds {
        let mut one = Vec::new();
        push_tlv(&mut one, TAG_OID, &oid_bytes(&vb.oid));
        push_value(&mut one, &vb.value);
        push_tlv(&mut list, TAG_SEQUENCE, &one);
    }
    let mut body = Vec::with_capacity(list.len() + 16);
    push_int(&mut body, i64::from(pdu.request_id));
    push_int(&mut body, i64::from(pdu.error_status));
    push_int(&mut body, i64::from(pdu.error_index));
    push_tlv(&mut body, TAG_SEQUENCE, &list);
    let mut out = Vec::with_capacity(body.len() + 4);
    push_tlv(&mut out, pdu.kind.tag(), &body);
    out
}

/// Encodes a scoped PDU (what privacy encrypts).
pub fn encode_scoped_pdu(scoped: &ScopedPdu) -> Vec<u8> {
    let mut body = Vec::new();
    push_tlv(&mut body, TAG_OCTET_STRING, &scoped.context_engine_id);
    push_tlv(&mut body, TAG_OCTET_STRING, &scoped.context_name);
    body.extend_from_slice(&encode_pdu(&scoped.pdu));
    let mut out = Vec::new();
    push_tlv(&mut out, TAG_SEQUENCE, &body);
    out
}

/// Encodes a message. For v3 it also gives the offset of the
/// authentication parameters' content, where the HMAC goes.
pub fn encode_message_with_auth_offset(msg: &Message) -> (Vec<u8>, Option<usize>) {
    let mut body = Vec::new();
    let mut auth_in_body = None;
    match msg {
        Message::Community(m) => {
            push_int(&mut body, m.version.number());
            push_tlv(&mut body, TAG_OCTET_STRING, &m.community);
            body.extend_from_slice(&encode_pdu(&m.pdu));
        }
        Message::V3(m) => {
            push_int(&mut body, Version::V3.number());
            let mut header = Vec::new();
            push_int(&mut header, i64::from(m.msg_id));
            push_int(&mut header, i64::from(m.max_size));
            push_tlv(&mut header, TAG_OCTET_STRING, &[m.flags]);
            push_int(&mut header, SECURITY_MODEL_USM);
            push_tlv(&mut body, TAG_SEQUENCE, &header);
            let (usm, auth_at) = encode_usm(&m.usm);
            // The USM sequence sits in an OCTET STRING: its header first.
            push_tlv(&mut body, TAG_OCTET_STRING, &usm);
            auth_in_body = Some(body.len() - usm.len() + auth_at);
            match &m.data {
                ScopedData::Plain(s) => body.extend_from_slice(&encode_scoped_pdu(s)),
                ScopedData::Encrypted(b) => push_tlv(&mut body, TAG_OCTET_STRING, b),
            }
        }
    }
    let mut out = Vec::with_capacity(body.len() + 4);
    push_tlv(&mut out, TAG_SEQUENCE, &body);
    let header = out.len() - body.len();
    (out, auth_in_body.map(|at| at + header))
}

/// The USM sequence and the offset of the auth parameters' content in it.
fn encode_usm(p: &UsmParams) -> (Vec<u8>, usize) {
    let mut body = Vec::new();
    push_tlv(&mut body, TAG_OCTET_STRING, &p.engine_id);
    push_int(&mut body, i64::from(p.boots));
    push_int(&mut body, i64::from(p.time));
    push_tlv(&mut body, TAG_OCTET_STRING, &p.user);
    push_tlv(&mut body, TAG_OCTET_STRING, &p.auth_params);
    let auth_content = body.len() - p.auth_params.len();
    push_tlv(&mut body, TAG_OCTET_STRING, &p.priv_params);
    let mut out = Vec::new();
    push_tlv(&mut out, TAG_SEQUENCE, &body);
    let header = out.len() - body.len();
    (out, header + auth_content)
}

/// Encodes a message.
pub fn encode_message(msg: &Message) -> Vec<u8> {
    encode_message_with_auth_offset(msg).0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(s: &str) -> Oid {
        s.parse().unwrap()
    }

    fn sample_pdu() -> Pdu {
        Pdu {
            kind: PduKind::Response,
            request_id: -7,
            error_status: 0,
            error_index: 0,
            varbinds: vec![
                VarBind {
                    oid: oid("1.3.6.1.2.1.1.3.0"),
                    value: Value::TimeTicks(u32::MAX),
                },
                VarBind {
                    oid: oid("1.3.6.1.2.1.1.5.0"),
                    value: Value::OctetString(b"host".to_vec()),
                },
                VarBind {
                    oid: oid("1.3.6.1.2.1.31.1.1.1.6.2"),
                    value: Value::Counter64(u64::MAX),
                },
                VarBind {
                    oid: oid("2.999.1"),
                    value: Value::Integer(i64::from(i32::MIN)),
                },
                VarBind {
                    oid: oid("1.3.6.1.2.1.4.20.1.1"),
                    value: Value::IpAddress([10, 0, 0, 1]),
                },
                VarBind {
                    oid: oid("1.3.6.1.6.3.1.1.4.1.0"),
                    value: Value::Oid(oid("1.3.6.1.6.3.1.1.5.3")),
                },
                VarBind {
                    oid: oid("1.3.6.1.2.1.2.2.1.10.1"),
                    value: Value::Counter32(128),
                },
                VarBind {
                    oid: oid("1.3.6.1.2.1.2.2.1.5.1"),
                    value: Value::Gauge32(0),
                },
                VarBind {
                    oid: oid("1.3.6.1.4.1.1"),
                    value: Value::Opaque(vec![0x9f, 0x78, 4, 0, 0, 0, 0]),
                },
                VarBind {
                    oid: oid("1.3.6.1.4.1.2"),
                    value: Value::NoSuchObject,
                },
                VarBind {
                    oid: oid("1.3.6.1.4.1.3"),
                    value: Value::NoSuchInstance,
                },
                VarBind {
                    oid: oid("1.3.6.1.4.1.4"),
                    value: Value::EndOfMibView,
                },
                VarBind {
                    oid: oid("1.3.6.1.4.1.5"),
                    value: Value::Null,
                },
            ],
        }
    }

    #[test]
    fn community_message_round_trips() {
        let msg = Message::Community(CommunityMessage {
            version: Version::V2c,
            community: b"public".to_vec(),
            pdu: sample_pdu(),
        });
        let bytes = encode_message(&msg);
        assert_eq!(decode_message(&bytes).unwrap(), msg);
    }

    #[test]
    fn v3_message_round_trips_and_finds_the_auth_params() {
        let msg = Message::V3(V3Message {
            msg_id: 99,
            max_size: 65507,
            flags: FLAG_AUTH | FLAG_REPORTABLE,
            usm: UsmParams {
                engine_id: vec![0x80, 0, 0x1f, 0x88, 4],
                boots: 3,
                time: 1234,
                user: b"vigil".to_vec(),
                auth_params: vec![0xAA; 12],
                priv_params: vec![],
            },
            data: ScopedData::Plain(ScopedPdu {
                context_engine_id: vec![1, 2],
                context_name: vec![],
                pdu: sample_pdu(),
            }),
        });
        let (bytes, at) = encode_message_with_auth_offset(&msg);
        let at = at.unwrap();
        assert_eq!(&bytes[at..at + 12], &[0xAA; 12]);
        let (back, at2) = decode_message_with_auth_offset(&bytes).unwrap();
        assert_eq!(back, msg);
        assert_eq!(at2, Some(at));
    }

    #[test]
    fn known_bytes_of_a_get() {
        // snmpget -v2c -c public HOST 1.3.6.1.2.1.1.3.0, request-id 1.
        let expected = [
            0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0,
            0x19, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c,
            0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x05, 0x00,
        ];
        let msg = Message::Community(CommunityMessage {
            version: Version::V2c,
            community: b"public".to_vec(),
            pdu: Pdu {
                kind: PduKind::Get,
                request_id: 1,
                error_status: 0,
                error_index: 0,
                varbinds: vec![VarBind::null(oid("1.3.6.1.2.1.1.3.0"))],
            },
        });
        assert_eq!(encode_message(&msg), expected);
    }

    #[test]
    fn lenient_forms_decode() {
        // Long-form lengths and a Counter32 without its leading zero.
        let bytes = [
            0x30, 0x82, 0x00, 0x1c, 0x02, 0x01, 0x01, 0x04, 0x01, b'p', 0xa2, 0x81, 0x15, 0x02,
            0x01, 0x05, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0a, 0x30, 0x08, 0x06, 0x02,
            0x2b, 0x06, 0x41, 0x02, 0xff, 0xff, 0x00, 0x00,
        ];
        // Fix the outer length to what follows it.
        let mut bytes = bytes.to_vec();
        bytes.truncate(bytes.len() - 2);
        let outer = bytes.len() - 4;
        bytes[3] = outer as u8;
        let Message::Community(m) = decode_message(&bytes).unwrap() else {
            panic!()
        };
        assert_eq!(m.pdu.varbinds[0].value, Value::Counter32(0xffff));
    }

    #[test]
    fn integers_are_minimal() {
        for (v, bytes) in [
            (0i64, vec![0]),
            (127, vec![0x7f]),
            (128, vec![0, 0x80]),
            (-1, vec![0xff]),
            (-128, vec![0x80]),
            (-129, vec![0xff, 0x7f]),
        ] {
            assert_eq!(signed_bytes(v), bytes, "{v}");
        }
        assert_eq!(unsigned_bytes(0), vec![0]);
        assert_eq!(unsigned_bytes(0xff), vec![0, 0xff]);
        assert_eq!(unsigned_bytes(u64::MAX).len(), 9);
    }

    #[test]
    fn errors_carry_offsets_and_never_panic() {
        let msg = Message::Community(CommunityMessage {
            version: Version::V2c,
            community: b"public".to_vec(),
            pdu: sample_pdu(),
        });
        let bytes = encode_message(&msg);
        // Every truncation fails cleanly with an offset inside the input.
        for cut in 0..bytes.len() {
            let err = decode_message(&bytes[..cut]).unwrap_err();
            assert!(err.offset <= cut, "{err}");
        }
        // Every single-byte corruption is either read or refused.
        for i in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                let _ = decode_message(&b);
            }
        }
    }

    #[test]
    fn refuses_what_snmp_does_not_use() {
        assert!(decode_message(&[0x30, 0x80, 0, 0])
            .unwrap_err()
            .reason
            .contains("indefinite"));
        assert!(decode_message(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_err());
        assert!(decode_message(&[0x3f, 0x01, 0]).is_err());
        // An OID arc of 33 bits.
        let t = Tlv {
            tag: TAG_OID,
            at: 0,
            content: &[0x2b, 0x90, 0x80, 0x80, 0x80, 0x00],
        };
        assert!(decode_oid(t).is_err());
        let t = Tlv {
            tag: TAG_OID,
            at: 0,
            content: &[0x2b, 0x86],
        };
        assert!(decode_oid(t).is_err());
        let t = Tlv {
            tag: TAG_INTEGER,
            at: 0,
            content: &[1; 9],
        };
        assert!(signed(t).is_err());
        let t = Tlv {
            tag: TAG_COUNTER32,
            at: 0,
            content: &[1, 0, 0, 0, 0],
        };
        assert!(decode_value(t).is_err());
    }

    #[test]
    fn oid_first_arcs() {
        for s in ["0.0", "0.39", "1.0", "1.39", "2.0", "2.40", "2.4294967215"] {
            let o = oid(s);
            let t = Tlv {
                tag: TAG_OID,
                at: 0,
                content: &oid_bytes(&o),
            };
            assert_eq!(decode_oid(t).unwrap(), o, "{s}");
        }
    }
}
