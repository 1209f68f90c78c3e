//! How a batch of events is written in a write-ahead log record.
//!
//! `ARRIVED: i64 | arrival: i64 | tenant: i64 | count: u32 |
//! count × (id: u128 | time: i64 | len: u32 | raw JSON)`, all little-endian.
//! `ARRIVED` is `i64::MIN`, a tenant id that never exists, so that records
//! of the first format (which began with the tenant and had no arrival
//! time) are still read: they decode with `arrival: None`.
//!
//! The arrival time is when the store accepted the batch; it names the
//! partition the batch goes to, on the first indexing and on replay alike.
//!
//! Only the raw JSON text is kept: the parsed object is rebuilt from it on
//! replay, which is rare, instead of being serialized twice on every append.

use serde_json::Value;
use vigil_core::{Event, EventId, TenantId, Timestamp};

/// The first field of a record that carries its arrival time.
const ARRIVED: i64 = i64::MIN;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("corrupt event batch record: {0}")]
pub struct CodecError(pub String);

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedBatch {
    pub tenant: TenantId,
    /// When the store accepted the batch; `None` in records of the first
    /// format, whose events went to the partition of their own day.
    pub arrival: Option<Timestamp>,
    pub events: Vec<Event>,
}

pub fn encode_batch(tenant: TenantId, arrival: Timestamp, events: &[Event]) -> Vec<u8> {
    let size: usize = 28 + events.iter().map(|e| 28 + e.raw.len()).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&ARRIVED.to_le_bytes());
    out.extend_from_slice(&arrival.0.to_le_bytes());
    encode_events(&mut out, tenant, events);
    out
}

/// The first format, without the arrival time (kept to test reading it).
pub fn encode_batch_v1(tenant: TenantId, events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_events(&mut out, tenant, events);
    out
}

fn encode_events(out: &mut Vec<u8>, tenant: TenantId, events: &[Event]) {
    out.extend_from_slice(&tenant.0.to_le_bytes());
    out.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for event in events {
        out.extend_from_slice(&event.id.0.to_le_bytes());
        out.extend_from_slice(&event.time.0.to_le_bytes());
        out.extend_from_slice(&(event.raw.len() as u32).to_le_bytes());
        out.extend_from_slice(event.raw.as_bytes());
    }
}

pub fn decode_batch(bytes: &[u8]) -> Result<DecodedBatch, CodecError> {
    let mut reader = Reader { bytes, at: 0 };
    let first = i64::from_le_bytes(reader.array()?);
    let (arrival, tenant) = if first == ARRIVED {
        let arrival = Timestamp(i64::from_le_bytes(reader.array()?));
        (Some(arrival), TenantId(i64::from_le_bytes(reader.array()?)))
    } else {
        (None, TenantId(first))
    };
    let count = u32::from_le_bytes(reader.array()?) as usize;
    let mut events = Vec::with_capacity(count.min(bytes.len() / 28));
    for _ in 0..count {
        let id = EventId(u128::from_le_bytes(reader.array()?));
        let time = Timestamp(i64::from_le_bytes(reader.array()?));
        let len = u32::from_le_bytes(reader.array()?) as usize;
        let raw = std::str::from_utf8(reader.take(len)?)
            .map_err(|e| CodecError(format!("event {id}: {e}")))?;
        let doc = match serde_json::from_str(raw) {
            Ok(Value::Object(doc)) => doc,
            _ => return Err(CodecError(format!("event {id}: not a JSON object"))),
        };
        events.push(Event {
            id,
            tenant,
            time,
            doc,
            raw: raw.to_string(),
        });
    }
    if reader.at != bytes.len() {
        return Err(CodecError("trailing bytes".into()));
    }
    Ok(DecodedBatch {
        tenant,
        arrival,
        events,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], CodecError> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| CodecError(format!("truncated at byte {}", self.at)))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(raw: &str, micros: i64) -> Event {
        Event {
            id: EventId::generate(Timestamp(micros)),
            tenant: TenantId(3),
            time: Timestamp(micros),
            doc: serde_json::from_str(raw).unwrap(),
            raw: raw.to_string(),
        }
    }

    #[test]
    fn round_trips() {
        let events = vec![event(r#"{"a":1}"#, 5), event(r#"{"b":{"c":"é"}}"#, -7)];
        let arrival = Timestamp(1_714_564_800_000_000);
        let back = decode_batch(&encode_batch(TenantId(3), arrival, &events)).unwrap();
        assert_eq!(back.tenant, TenantId(3));
        assert_eq!(back.arrival, Some(arrival));
        assert_eq!(back.events, events);
    }

    #[test]
    fn records_of_the_first_format_are_read_without_arrival() {
        let events = vec![event(r#"{"a":1}"#, 5)];
        for tenant in [TenantId(0), TenantId(3), TenantId(i64::MAX)] {
            let back = decode_batch(&encode_batch_v1(tenant, &events)).unwrap();
            assert_eq!(back.tenant, tenant);
            assert_eq!(back.arrival, None);
            assert_eq!(back.events[0].tenant, tenant);
            assert_eq!(
                back.events,
                events
                    .iter()
                    .cloned()
                    .map(|e| Event { tenant, ..e })
                    .collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn truncation_is_an_error() {
        let bytes = encode_batch(TenantId(3), Timestamp(9), &[event(r#"{"a":1}"#, 5)]);
        for cut in 0..bytes.len() {
            assert!(decode_batch(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let bytes = encode_batch_v1(TenantId(3), &[event(r#"{"a":1}"#, 5)]);
        for cut in 0..bytes.len() {
            assert!(decode_batch(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_batch(&bytes);
        }
    }
}
