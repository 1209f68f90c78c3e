//! Series identity: a metric name and its labels, Prometheus style.
//!
//! A [`SeriesKey`] is validated once, when it is made, and kept in one
//! canonical form (labels sorted by name, no empty values: Prometheus treats
//! an empty label as an absent one), so that two spellings of the same
//! series are always one series. Names follow Prometheus:
//! metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names
//! `[a-zA-Z_][a-zA-Z0-9_]*`; `__name__` is the metric name itself, so it is
//! not a label.
//!
//! The binary form ([`SeriesKey::encode`]) is what the series log stores;
//! [`SeriesKey::decode`] never panics on bad bytes.

use std::fmt;

/// Labels a series may carry at most.
pub const MAX_LABELS: usize = 64;
/// Bytes of name and label names and values of one series at most.
pub const MAX_KEY_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    #[error("metric name {0:?} is not [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidName(String),
    #[error("label name {0:?} is not [a-zA-Z_][a-zA-Z0-9_]*")]
    InvalidLabelName(String),
    #[error("label {0:?} is reserved")]
    ReservedLabel(String),
    #[error("label {0:?} is given twice")]
    DuplicateLabel(String),
    #[error("a series has {0} labels, over the limit of {MAX_LABELS}")]
    TooManyLabels(usize),
    #[error("a series key of {0} bytes is over the limit of {MAX_KEY_BYTES}")]
    TooLong(usize),
}

/// True for a valid metric name.
pub fn is_metric_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// True for a valid label name.
pub fn is_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A metric name with its labels, sorted by label name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    name: String,
    labels: Vec<(String, String)>,
}

impl SeriesKey {
    /// Validates and canonicalises: labels sorted, empty values dropped.
    pub fn new<K, V>(
        name: &str,
        labels: impl IntoIterator<Item = (K, V)>,
    ) -> Result<SeriesKey, SeriesError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        if !is_metric_name(name) {
            return Err(SeriesError::InvalidName(name.to_string()));
        }
        let mut pairs = Vec::new();
        for (k, v) in labels {
            let (k, v) = (k.into(), v.into());
            if !is_label_name(&k) {
                return Err(SeriesError::InvalidLabelName(k));
            }
            if k == "__name__" {
                return Err(SeriesError::ReservedLabel(k));
            }
            if !v.is_empty() {
                pairs.push((k, v));
            }
        }
        if pairs.len() > MAX_LABELS {
            return Err(SeriesError::TooManyLabels(pairs.len()));
        }
        pairs.sort();
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(SeriesError::DuplicateLabel(w[0].0.clone()));
        }
        let bytes = name.len() + pairs.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        if bytes > MAX_KEY_BYTES {
            return Err(SeriesError::TooLong(bytes));
        }
        Ok(SeriesKey {
            name: name.to_string(),
            labels: pairs,
        })
    }

    /// The key of an aggregation's result: labels of valid keys, no
    /// metric name (Prometheus drops it too). Never stored.
    pub fn without_name(mut labels: Vec<(String, String)>) -> SeriesKey {
        labels.retain(|(_, v)| !v.is_empty());
        labels.sort();
        labels.dedup_by(|a, b| a.0 == b.0);
        SeriesKey {
            name: String::new(),
            labels,
        }
    }

    /// The metric name; empty for an aggregation's result.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Labels, sorted by name.
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// A label's value; `__name__` gives the metric name.
    pub fn get(&self, label: &str) -> Option<&str> {
        if label == "__name__" {
            return (!self.name.is_empty()).then_some(self.name.as_str());
        }
        self.labels
            .binary_search_by(|(k, _)| k.as_str().cmp(label))
            .ok()
            .map(|i| self.labels[i].1.as_str())
    }

    /// Appends the binary form: name, label count, then names and values,
    /// each a u16 LE length and its bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_str(out, &self.name);
        out.extend_from_slice(&(self.labels.len() as u16).to_le_bytes());
        for (k, v) in &self.labels {
            put_str(out, k);
            put_str(out, v);
        }
    }

    /// Reads the binary form back, re-validating it; `None` when the bytes
    /// are not one valid key.
    pub fn decode(bytes: &[u8]) -> Option<SeriesKey> {
        let mut input = bytes;
        let name = take_str(&mut input)?;
        let count = u16::from_le_bytes(take(&mut input, 2)?.try_into().ok()?) as usize;
        let mut labels = Vec::with_capacity(count.min(MAX_LABELS));
        for _ in 0..count {
            let k = take_str(&mut input)?;
            let v = take_str(&mut input)?;
            labels.push((k, v));
        }
        if !input.is_empty() {
            return None;
        }
        let key = SeriesKey::new(name, labels).ok()?;
        (key.labels.len() == count).then_some(key)
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Lengths fit: a key is at most MAX_KEY_BYTES.
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Some(head)
}

fn take_str<'a>(input: &mut &'a [u8]) -> Option<&'a str> {
    let len = u16::from_le_bytes(take(input, 2)?.try_into().ok()?) as usize;
    std::str::from_utf8(take(input, len)?).ok()
}

/// Writes a label value as a double-quoted string with `\\`, `\"` and `\n`
/// escaped (the Prometheus exposition format).
pub(crate) fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '"' => f.write_str("\\\"")?,
            '\n' => f.write_str("\\n")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for SeriesKey {
    /// `name{a="x",b="y"}`, or just `name` without labels.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.labels.is_empty() && !self.name.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, (k, v)) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(k)?;
            f.write_str("=")?;
            write_quoted(f, v)?;
        }
        f.write_str("}")
    }
}

impl serde::Serialize for SeriesKey {
    /// As the Prometheus API does: `{"__name__": .., label: value, ..}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        if !self.name.is_empty() {
            map.serialize_entry("__name__", &self.name)?;
        }
        for (k, v) in &self.labels {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_canonical() {
        let a = SeriesKey::new("up", [("job", "node"), ("instance", "a:9100"), ("x", "")]).unwrap();
        let b = SeriesKey::new("up", [("instance", "a:9100"), ("job", "node")]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), r#"up{instance="a:9100",job="node"}"#);
        assert_eq!(a.get("__name__"), Some("up"));
        assert_eq!(a.get("job"), Some("node"));
        assert_eq!(a.get("x"), None);
    }

    #[test]
    fn invalid_names_are_refused() {
        let none: [(&str, &str); 0] = [];
        assert!(matches!(
            SeriesKey::new("9up", none),
            Err(SeriesError::InvalidName(_))
        ));
        assert!(matches!(
            SeriesKey::new("", none),
            Err(SeriesError::InvalidName(_))
        ));
        assert!(SeriesKey::new("node:cpu_seconds:rate5m", none).is_ok());
        assert!(matches!(
            SeriesKey::new("up", [("a:b", "1")]),
            Err(SeriesError::InvalidLabelName(_))
        ));
        assert!(matches!(
            SeriesKey::new("up", [("__name__", "x")]),
            Err(SeriesError::ReservedLabel(_))
        ));
        assert!(matches!(
            SeriesKey::new("up", [("a", "1"), ("a", "2")]),
            Err(SeriesError::DuplicateLabel(_))
        ));
    }

    #[test]
    fn binary_form_round_trips() {
        let key =
            SeriesKey::new("http_requests_total", [("code", "200"), ("path", "/é\"\n")]).unwrap();
        let mut bytes = Vec::new();
        key.encode(&mut bytes);
        assert_eq!(SeriesKey::decode(&bytes), Some(key));
        for cut in 0..bytes.len() {
            assert_eq!(SeriesKey::decode(&bytes[..cut]), None);
        }
    }
}
