//! The bytes of one input journal record: the frames one connection read
//! at once, with what routing needs (listener, peer, client certificate
//! names) and their time of arrival. Pure: no I/O.
//!
//! Layout (integers little-endian): `version: u8 = 1 | listener: u32 |
//! listener_key: str | received: i64 | peer: str | names: u32 count (u32::MAX: none) × str |
//! messages: u32 count × str`, each `str` a `u32` length and UTF-8 bytes.
//! The log around it checks a CRC, but a record is still read as outside
//! input: every length is checked against what is left before use.

use super::InboundMessage;
use std::net::SocketAddr;
use std::sync::Arc;
use vigil_core::Timestamp;

const VERSION: u8 = 1;
const NO_NAMES: u32 = u32::MAX;

/// One connection's read: what the messages share, and their texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRecord {
    pub listener: usize,
    /// What the listener was when it read the record
    /// ([`super::SyslogInputConfig::journal_key`]): a replay routes by the
    /// listener only if one of this key still exists.
    pub listener_key: String,
    pub peer: SocketAddr,
    pub client_names: Option<Arc<[String]>>,
    pub received: Timestamp,
    pub texts: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("unknown journal record version {0}")]
    Version(u8),
    #[error("journal record cut short")]
    Truncated,
    #[error("journal record has invalid text")]
    Text,
    #[error("journal record has trailing bytes")]
    Trailing,
}

/// The record of a batch that one connection read: every message shares
/// listener, peer, names and arrival (see `stream.rs`), taken from the first.
pub fn encode(listener_key: &str, batch: &[InboundMessage]) -> Vec<u8> {
    let Some(first) = batch.first() else {
        return Vec::new();
    };
    let size: usize = batch.iter().map(|m| m.text.len() + 4).sum();
    let mut out = Vec::with_capacity(size + 64);
    out.push(VERSION);
    put_u32(&mut out, first.listener as u32);
    put_str(&mut out, listener_key);
    out.extend_from_slice(&first.received.0.to_le_bytes());
    put_str(&mut out, &first.peer.to_string());
    match &first.client_names {
        None => put_u32(&mut out, NO_NAMES),
        Some(names) => {
            put_u32(&mut out, names.len() as u32);
            for name in names.iter() {
                put_str(&mut out, name);
            }
        }
    }
    put_u32(&mut out, batch.len() as u32);
    for message in batch {
        put_str(&mut out, &message.text);
    }
    out
}

pub fn decode(bytes: &[u8]) -> Result<JournalRecord, RecordError> {
    let mut r = Reader(bytes);
    let version = r.take(1)?[0];
    if version != VERSION {
        return Err(RecordError::Version(version));
    }
    let listener = r.u32()? as usize;
    let listener_key = r.str()?;
    let received = Timestamp(i64::from_le_bytes(
        r.take(8)?.try_into().map_err(|_| RecordError::Truncated)?,
    ));
    let peer = r.str()?.parse().map_err(|_| RecordError::Text)?;
    let client_names = match r.u32()? {
        NO_NAMES => None,
        n => Some(r.strings(n)?.into()),
    };
    let count = r.u32()?;
    let texts = r.strings(count)?;
    if !r.0.is_empty() {
        return Err(RecordError::Trailing);
    }
    Ok(JournalRecord {
        listener,
        listener_key,
        peer,
        client_names,
        received,
        texts,
    })
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if n > self.0.len() {
            return Err(RecordError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, RecordError> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes(
            bytes.try_into().map_err(|_| RecordError::Truncated)?,
        ))
    }

    fn str(&mut self) -> Result<String, RecordError> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| RecordError::Text)
    }

    /// `count` strings; the count is checked against the bytes left (each
    /// string takes at least its 4-byte length) before allocating.
    fn strings(&mut self, count: u32) -> Result<Vec<String>, RecordError> {
        let count = count as usize;
        if count > self.0.len() / 4 {
            return Err(RecordError::Truncated);
        }
        (0..count).map(|_| self.str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str, names: Option<Arc<[String]>>) -> InboundMessage {
        InboundMessage {
            text: text.into(),
            peer: "[2001:db8::1]:5140".parse().unwrap(),
            listener: 3,
            client_names: names,
            received: Timestamp(1_700_000_000_123_456),
            journal: None,
        }
    }

    #[test]
    fn round_trip() {
        for names in [None, Some(vec!["host.example".to_string()].into())] {
            let batch = vec![message("<13>one", names.clone()), message("two ü", names)];
            let record = decode(&encode("tcp 127.0.0.1:514 acme", &batch)).unwrap();
            assert_eq!(record.listener, 3);
            assert_eq!(record.listener_key, "tcp 127.0.0.1:514 acme");
            assert_eq!(record.peer, batch[0].peer);
            assert_eq!(record.received, batch[0].received);
            assert_eq!(record.client_names, batch[0].client_names);
            assert_eq!(record.texts, vec!["<13>one", "two ü"]);
        }
    }

    #[test]
    fn damaged_records_are_errors() {
        let bytes = encode("udp [::1]:514 -", &[message("hello", None)]);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(decode(&trailing), Err(RecordError::Trailing));
        let mut version = bytes;
        version[0] = 9;
        assert_eq!(decode(&version), Err(RecordError::Version(9)));
        // A huge count allocates nothing.
        let mut huge = vec![VERSION, 0, 0, 0, 0];
        put_str(&mut huge, "key");
        huge.extend_from_slice(&0i64.to_le_bytes());
        put_str(&mut huge, "127.0.0.1:1");
        put_u32(&mut huge, NO_NAMES);
        put_u32(&mut huge, u32::MAX - 1);
        assert_eq!(decode(&huge), Err(RecordError::Truncated));
    }
}
