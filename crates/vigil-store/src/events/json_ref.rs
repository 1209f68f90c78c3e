//! An event's JSON handed to tantivy as it is.
//!
//! Tantivy indexes any value that implements its `Value` trait. Giving it
//! the event's own `serde_json` object avoids copying every field into
//! tantivy's `OwnedValue` tree first (a large share of the indexer's time).
//! Tantivy's own `Value` impl for `serde_json::Value` is not used because it
//! turns RFC 3339-looking strings into dates, and Vigil indexes every
//! string as a keyword.

use serde_json::{Map, Value as JsonValue};
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf};
use tantivy::schema::Value;

/// A borrowed JSON value or object, as tantivy reads it.
#[derive(Debug, Clone, Copy)]
pub enum JsonRef<'a> {
    Value(&'a JsonValue),
    Object(&'a Map<String, JsonValue>),
}

/// The elements of a JSON array.
pub struct Elements<'a>(std::slice::Iter<'a, JsonValue>);

impl<'a> Iterator for Elements<'a> {
    type Item = JsonRef<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(JsonRef::Value)
    }
}

/// The members of a JSON object.
pub struct Members<'a>(serde_json::map::Iter<'a>);

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, JsonRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        self.0
            .by_ref()
            .find(|(k, _)| !vigil_core::STORED_ONLY_FIELDS.contains(&String::as_str(k)))
            .map(|(k, v)| (k.as_str(), JsonRef::Value(v)))
    }
}

impl<'a> Value<'a> for JsonRef<'a> {
    type ArrayIter = Elements<'a>;
    type ObjectIter = Members<'a>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        let value = match *self {
            JsonRef::Object(map) => return ReferenceValue::Object(Members(map.iter())),
            JsonRef::Value(value) => value,
        };
        match value {
            JsonValue::Null => ReferenceValueLeaf::Null.into(),
            JsonValue::Bool(b) => ReferenceValueLeaf::Bool(*b).into(),
            JsonValue::Number(n) => number_leaf(n).into(),
            JsonValue::String(s) => ReferenceValueLeaf::Str(s).into(),
            JsonValue::Array(items) => ReferenceValue::Array(Elements(items.iter())),
            JsonValue::Object(map) => ReferenceValue::Object(Members(map.iter())),
        }
    }
}

fn number_leaf(n: &serde_json::Number) -> ReferenceValueLeaf<'static> {
    if let Some(i) = n.as_i64() {
        ReferenceValueLeaf::I64(i)
    } else if let Some(u) = n.as_u64() {
        ReferenceValueLeaf::U64(u)
    } else {
        match n.as_f64() {
            Some(f) if f.is_finite() => ReferenceValueLeaf::F64(f),
            _ => ReferenceValueLeaf::Null,
        }
    }
}
