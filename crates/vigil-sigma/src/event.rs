//! How the engine reads an event: by field name, one value or several.

use std::borrow::Cow;

/// One value of an event's field, as the engine compares it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

impl FieldValue<'_> {
    /// The value as text: what string modifiers compare against. Numbers
    /// and booleans compare by their usual text (`4688`, `true`).
    pub fn as_text(&self) -> Cow<'_, str> {
        match self {
            FieldValue::Str(s) => Cow::Borrowed(s.as_ref()),
            FieldValue::Int(i) => Cow::Owned(i.to_string()),
            FieldValue::Float(f) => Cow::Owned(f.to_string()),
            FieldValue::Bool(b) => Cow::Owned(b.to_string()),
            FieldValue::Null => Cow::Borrowed(""),
        }
    }
}

/// An event as the engine sees it. `field_values` returns every value of a field
/// (none when the field is absent); field names are the rule's, already
/// mapped by the caller where a log source renames them.
pub trait EventFields {
    fn field_values(&self, field: &str) -> Vec<FieldValue<'_>>;

    /// Every value of the event as text (strings, numbers, booleans), for
    /// keyword (field-less) searches and prefilters: whatever a field
    /// comparison can match must appear here.
    fn all_text(&self) -> Vec<Cow<'_, str>>;
}

/// A JSON object read as an event: nested objects give dotted names, and a
/// field name is looked up as given first (`EventID`) and then as a path.
impl EventFields for serde_json::Map<String, serde_json::Value> {
    fn field_values(&self, field: &str) -> Vec<FieldValue<'_>> {
        let found = self.get(field).or_else(|| lookup_path(self, field));
        let mut out = Vec::new();
        if let Some(v) = found {
            push_values(v, &mut out);
        }
        out
    }

    fn all_text(&self) -> Vec<Cow<'_, str>> {
        let mut out = Vec::new();
        for v in self.values() {
            collect_text(v, &mut out);
        }
        out
    }
}

fn lookup_path<'a>(
    map: &'a serde_json::Map<String, serde_json::Value>,
    path: &str,
) -> Option<&'a serde_json::Value> {
    let (head, rest) = path.split_once('.')?;
    match map.get(head)? {
        serde_json::Value::Object(inner) => inner.get(rest).or_else(|| lookup_path(inner, rest)),
        _ => None,
    }
}

fn push_values<'a>(value: &'a serde_json::Value, out: &mut Vec<FieldValue<'a>>) {
    use serde_json::Value;
    match value {
        Value::Null => out.push(FieldValue::Null),
        Value::Bool(b) => out.push(FieldValue::Bool(*b)),
        Value::Number(n) => out.push(match n.as_i64() {
            Some(i) => FieldValue::Int(i),
            None => FieldValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        }),
        Value::String(s) => out.push(FieldValue::Str(Cow::Borrowed(s))),
        Value::Array(items) => items.iter().for_each(|i| push_values(i, out)),
        Value::Object(_) => {}
    }
}

fn collect_text<'a>(value: &'a serde_json::Value, out: &mut Vec<Cow<'a, str>>) {
    use serde_json::Value;
    match value {
        Value::String(s) => out.push(Cow::Borrowed(s)),
        Value::Number(n) => out.push(Cow::Owned(n.to_string())),
        Value::Bool(b) => out.push(Cow::Owned(b.to_string())),
        Value::Array(items) => items.iter().for_each(|i| collect_text(i, out)),
        Value::Object(map) => map.values().for_each(|v| collect_text(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_flat_nested_and_array_fields() {
        let event = json!({"EventID": 4688, "process": {"command_line": "a b"}, "tags": ["x", "y"], "winlog.event_data.User": "bob"});
        let map = event.as_object().unwrap();
        assert_eq!(map.field_values("EventID"), vec![FieldValue::Int(4688)]);
        assert_eq!(
            map.field_values("process.command_line"),
            vec![FieldValue::Str("a b".into())]
        );
        assert_eq!(map.field_values("tags").len(), 2);
        assert_eq!(
            map.field_values("winlog.event_data.User"),
            vec![FieldValue::Str("bob".into())]
        );
        assert!(map.field_values("missing").is_empty());
        assert_eq!(map.all_text().len(), 5);
        let flags = json!({"Initiated": true});
        assert_eq!(
            flags.as_object().unwrap().all_text(),
            vec![Cow::Borrowed("true")]
        );
    }
}
