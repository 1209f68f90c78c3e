//! Events: one normalized record each.

use crate::{TenantId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// Fields that carry an event's own time, in order of preference.
pub const TIME_FIELDS: [&str; 3] = ["@timestamp", "timestamp", "time"];

/// Fields kept with an event (shown by searches) but never indexed: the
/// original text of a decoded record, which its decoded fields already
/// cover. Indexing it would double the indexing work of every syslog line.
pub const STORED_ONLY_FIELDS: [&str; 1] = ["event.original"];

/// A unique event id: 48 bits of milliseconds then 80 random bits, so that
/// ids sort roughly by creation time and never collide in practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub u128);

impl EventId {
    pub fn generate(now: Timestamp) -> Self {
        let millis = (now.micros().max(0) / 1000) as u128 & ((1 << 48) - 1);
        let random: u128 = rand::random::<u128>() & ((1 << 80) - 1);
        EventId((millis << 80) | random)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl FromStr for EventId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u128::from_str_radix(s, 16).map(EventId)
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One record of a tenant.
///
/// `doc` is the source's own JSON object, kept as sent: rules and analysts
/// use the source's field names. `raw` is its JSON text (what is written to
/// the write-ahead log and returned by search), so it is never serialized
/// twice on the hot path.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub tenant: TenantId,
    pub time: Timestamp,
    pub doc: Map<String, Value>,
    pub raw: String,
}

/// Calls `visit(path, value)` for every scalar in `doc`, with nested object
/// keys joined by dots (`{"source":{"ip":..}}` gives `source.ip`). Arrays give
/// one call per element under the same path; `null`s are skipped.
pub fn flatten_fields<'a>(doc: &'a Map<String, Value>, visit: &mut impl FnMut(&str, &'a Value)) {
    let mut path = String::new();
    for (key, value) in doc {
        walk(&mut path, key, value, visit);
    }
}

fn walk<'a>(
    path: &mut String,
    key: &str,
    value: &'a Value,
    visit: &mut impl FnMut(&str, &'a Value),
) {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (k, v) in map {
                walk(path, k, v, visit);
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(map) => {
                        for (k, v) in map {
                            walk(path, k, v, visit);
                        }
                    }
                    Value::Array(_) | Value::Null => {}
                    scalar => visit(path, scalar),
                }
            }
        }
        scalar => visit(path, scalar),
    }
    path.truncate(len);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flat(v: Value) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        flatten_fields(v.as_object().unwrap(), &mut |p, v| {
            out.push((p.to_string(), v.clone()))
        });
        // Key order is the map's (sorted, or insertion order when a
        // dependency turns on serde_json's preserve_order): compare sorted.
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn nested_objects_give_dotted_names() {
        let got = flat(json!({"source": {"ip": "10.0.0.1", "port": 22}, "msg": "x", "n": null}));
        assert_eq!(
            got,
            vec![
                ("msg".into(), json!("x")),
                ("source.ip".into(), json!("10.0.0.1")),
                ("source.port".into(), json!(22)),
            ]
        );
    }

    #[test]
    fn arrays_repeat_the_path() {
        let got = flat(json!({"tags": ["a", "b"], "hosts": [{"name": "h1"}, {"name": "h2"}]}));
        assert_eq!(
            got,
            vec![
                ("hosts.name".into(), json!("h1")),
                ("hosts.name".into(), json!("h2")),
                ("tags".into(), json!("a")),
                ("tags".into(), json!("b")),
            ]
        );
    }

    #[test]
    fn event_ids_round_trip_and_sort_by_time() {
        let a = EventId::generate(Timestamp(1_000_000));
        let b = EventId::generate(Timestamp(2_000_000));
        assert!(a < b);
        assert_eq!(a.to_string().parse::<EventId>().unwrap(), a);
        assert_eq!(a.to_string().len(), 32);
    }
}
