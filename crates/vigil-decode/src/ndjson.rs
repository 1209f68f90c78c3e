//! NDJSON: one JSON object a line, the body of `POST /api/v1/ingest`.

use serde_json::{Map, Value};
use vigil_core::{Event, EventId, TenantId, Timestamp};

pub use vigil_core::TIME_FIELDS;

#[derive(Debug, Clone, Copy)]
pub struct NdjsonOptions {
    /// Longest accepted line in bytes (without its line ending).
    pub max_line_bytes: usize,
}

impl Default for NdjsonOptions {
    fn default() -> Self {
        NdjsonOptions {
            max_line_bytes: 1 << 20,
        }
    }
}

/// Why one line was not accepted; `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LineError {
    pub line: usize,
    pub error: String,
}

/// What a body gave: the events of its good lines and the reasons for the bad.
#[derive(Debug, Default)]
pub struct NdjsonBatch {
    pub events: Vec<Event>,
    pub rejected: Vec<LineError>,
}

/// Decodes an NDJSON body into events of `tenant`. Blank lines are skipped;
/// each bad line is reported and the others are kept. Events without a
/// recognised time field get `received`.
pub fn decode_ndjson(
    body: &[u8],
    tenant: TenantId,
    received: Timestamp,
    options: NdjsonOptions,
) -> NdjsonBatch {
    let mut batch = NdjsonBatch::default();
    for (index, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match decode_line(line, tenant, received, options) {
            Ok(event) => batch.events.push(event),
            Err(error) => batch.rejected.push(LineError {
                line: index + 1,
                error,
            }),
        }
    }
    batch
}

fn decode_line(
    line: &[u8],
    tenant: TenantId,
    received: Timestamp,
    options: NdjsonOptions,
) -> Result<Event, String> {
    if line.len() > options.max_line_bytes {
        return Err(format!(
            "line is {} bytes, over the maximum of {} bytes",
            line.len(),
            options.max_line_bytes
        ));
    }
    let text = std::str::from_utf8(line)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?
        .trim();
    event_of_line(text, tenant, received)
}

/// The event of one trimmed line holding a JSON object, else why not.
pub(crate) fn event_of_line(
    text: &str,
    tenant: TenantId,
    received: Timestamp,
) -> Result<Event, String> {
    let doc = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(doc)) => doc,
        Ok(other) => return Err(format!("expected a JSON object, found {}", kind(&other))),
        Err(e) => return Err(format!("invalid JSON: {e}")),
    };
    let time = event_time(&doc).unwrap_or(received);
    Ok(Event {
        id: EventId::generate(received),
        tenant,
        time,
        raw: text.to_string(),
        doc,
    })
}

/// The event's own time: the first of [`TIME_FIELDS`] that parses.
pub fn event_time(doc: &Map<String, Value>) -> Option<Timestamp> {
    TIME_FIELDS
        .iter()
        .filter_map(|f| doc.get(*f))
        .find_map(Timestamp::from_json)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: Timestamp = Timestamp(1_700_000_000_000_000);

    fn decode(body: &[u8]) -> NdjsonBatch {
        decode_ndjson(body, TenantId(7), NOW, NdjsonOptions::default())
    }

    #[test]
    fn good_lines_become_events_of_the_tenant() {
        let batch = decode(
            b"{\"a\":1}\r\n\n  \n{\"@timestamp\":\"2024-05-01T12:00:00Z\",\"b\":{\"c\":2}}\n",
        );
        assert!(batch.rejected.is_empty());
        assert_eq!(batch.events.len(), 2);
        assert!(batch.events.iter().all(|e| e.tenant == TenantId(7)));
        assert_eq!(batch.events[0].time, NOW);
        assert_eq!(batch.events[0].raw, "{\"a\":1}");
        assert_eq!(batch.events[1].time.0, 1_714_564_800_000_000);
    }

    #[test]
    fn time_fields_in_order_of_preference() {
        let batch =
            decode(b"{\"time\":1714564800,\"timestamp\":\"bad\"}\n{\"timestamp\":1714564800000}");
        assert_eq!(batch.events[0].time.0, 1_714_564_800_000_000);
        assert_eq!(batch.events[1].time.0, 1_714_564_800_000_000);
    }

    #[test]
    fn bad_lines_are_reported_and_the_rest_kept() {
        let body = b"{\"ok\":1}\n{not json\n[1,2]\n\"s\"\n\xff\xfe\n{\"ok\":2}\n{\"truncated\":";
        let batch = decode(body);
        assert_eq!(batch.events.len(), 2);
        let lines: Vec<usize> = batch.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 7]);
        assert!(batch.rejected[0].error.starts_with("invalid JSON"));
        assert_eq!(
            batch.rejected[1].error,
            "expected a JSON object, found an array"
        );
        assert_eq!(batch.rejected[3].error, "invalid UTF-8 at byte 0");
    }

    #[test]
    fn overlong_lines_are_rejected() {
        let long = format!("{{\"m\":\"{}\"}}\n{{\"ok\":1}}", "x".repeat(100));
        let batch = decode_ndjson(
            long.as_bytes(),
            TenantId(1),
            NOW,
            NdjsonOptions { max_line_bytes: 50 },
        );
        assert_eq!(batch.events.len(), 1);
        assert_eq!(batch.rejected[0].line, 1);
        assert!(batch.rejected[0]
            .error
            .contains("over the maximum of 50 bytes"));
    }

    proptest! {
        /// Any bytes: no panic, and every non-blank line is either an event
        /// or a rejection, never lost.
        #[test]
        fn never_panics_and_accounts_for_every_line(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let batch = decode(&body);
            let non_blank = body
                .split(|&b| b == b'\n')
                .filter(|l| !l.strip_suffix(b"\r").unwrap_or(l).iter().all(u8::is_ascii_whitespace))
                .count();
            prop_assert_eq!(batch.events.len() + batch.rejected.len(), non_blank);
        }

        /// Objects survive the trip: each generated object comes back whole.
        #[test]
        fn objects_round_trip(values in proptest::collection::vec((".{0,8}", any::<i64>()), 1..20)) {
            let body: String = values
                .iter()
                .map(|(k, v)| format!("{}\n", serde_json::json!({ k.clone(): v })))
                .collect();
            let batch = decode(body.as_bytes());
            prop_assert!(batch.rejected.is_empty());
            for (event, (k, v)) in batch.events.iter().zip(&values) {
                prop_assert_eq!(event.doc.get(k).and_then(Value::as_i64), Some(*v));
            }
        }
    }
}
