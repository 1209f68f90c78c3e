//! Counting the values of one field among the matching documents.
//!
//! A collector of our own over the columns (fast field) of the `fields` JSON
//! field rather than tantivy's terms aggregation: a JSON path can have a
//! string column and a numeric column at once, numbers come back typed (an
//! integral count stays an integer in JSON), and the counts are exact per
//! partition (no shard-size approximation), which is what the caller merges.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{Number, Value as JsonValue};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, DynamicColumn, MonotonicallyMappableToU64, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// One value of a field, with numbers normalized like tantivy's JSON
/// numbers (integral values as i64 where they fit), so that counts of one
/// number from an i64 column and an f64 column add up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValueKey {
    Bool(bool),
    Int(i64),
    UInt(u64),
    /// `f64::to_bits` of a finite, non-integral (or out of i64 range) value.
    Float(u64),
    Str(String),
}

impl ValueKey {
    fn from_f64(f: f64) -> ValueKey {
        if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
            ValueKey::Int(f as i64)
        } else {
            ValueKey::Float(f.to_bits())
        }
    }

    fn from_u64(u: u64) -> ValueKey {
        i64::try_from(u).map_or(ValueKey::UInt(u), ValueKey::Int)
    }

    pub fn to_json(&self) -> JsonValue {
        match self {
            ValueKey::Bool(b) => JsonValue::Bool(*b),
            ValueKey::Int(i) => JsonValue::from(*i),
            ValueKey::UInt(u) => JsonValue::from(*u),
            ValueKey::Float(bits) => {
                Number::from_f64(f64::from_bits(*bits)).map_or(JsonValue::Null, JsonValue::Number)
            }
            ValueKey::Str(s) => JsonValue::String(s.clone()),
        }
    }

    /// A stable order for ties: bools, then numbers by value, then strings.
    fn cmp_for_ties(&self, other: &ValueKey) -> Ordering {
        let rank = |key: &ValueKey| match key {
            ValueKey::Bool(_) => 0,
            ValueKey::Str(_) => 2,
            _ => 1,
        };
        rank(self)
            .cmp(&rank(other))
            .then_with(|| match (self, other) {
                (ValueKey::Bool(a), ValueKey::Bool(b)) => a.cmp(b),
                (ValueKey::Str(a), ValueKey::Str(b)) => a.cmp(b),
                _ => self.as_f64().total_cmp(&other.as_f64()),
            })
    }

    fn as_f64(&self) -> f64 {
        match self {
            ValueKey::Int(i) => *i as f64,
            ValueKey::UInt(u) => *u as f64,
            ValueKey::Float(bits) => f64::from_bits(*bits),
            ValueKey::Bool(_) | ValueKey::Str(_) => 0.0,
        }
    }
}

/// Sorts counts by count descending, ties by value, and keeps `limit`.
pub fn top(counts: HashMap<ValueKey, u64>, limit: usize) -> Vec<(JsonValue, u64)> {
    let mut entries: Vec<(ValueKey, u64)> = counts.into_iter().collect();
    entries.sort_by(|(ka, ca), (kb, cb)| cb.cmp(ca).then_with(|| ka.cmp_for_ties(kb)));
    entries.truncate(limit);
    entries.into_iter().map(|(k, c)| (k.to_json(), c)).collect()
}

/// Counts, per value of the fast column `column` (a full column name like
/// `fields.source.ip`), the matching documents having it.
pub struct ValueCounter {
    pub column: String,
}

impl Collector for ValueCounter {
    type Fruit = HashMap<ValueKey, u64>;
    type Child = SegmentValueCounter;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentValueCounter> {
        let mut columns = Vec::new();
        for handle in reader.fast_fields().dynamic_column_handles(&self.column)? {
            if let Some(column) = CountedColumn::open(handle.open()?) {
                columns.push(column);
            }
        }
        Ok(SegmentValueCounter {
            columns,
            scratch: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<tantivy::Result<HashMap<ValueKey, u64>>>,
    ) -> tantivy::Result<HashMap<ValueKey, u64>> {
        let mut total: HashMap<ValueKey, u64> = HashMap::new();
        for fruit in fruits {
            for (key, count) in fruit? {
                *total.entry(key).or_default() += count;
            }
        }
        Ok(total)
    }
}

/// How the u64s of a column read back as values.
enum Kind {
    Str(StrColumn),
    I64,
    U64,
    F64,
    Bool,
}

struct CountedColumn {
    kind: Kind,
    values: Column<u64>,
    counts: HashMap<u64, u64>,
}

impl CountedColumn {
    /// The column as u64s (term ordinals for strings); `None` for types the
    /// `fields` field never holds (dates, IPs, bytes).
    fn open(column: DynamicColumn) -> Option<Self> {
        let (kind, values) = match column {
            DynamicColumn::Str(strs) => {
                let ords = strs.ords().clone();
                (Kind::Str(strs), ords)
            }
            DynamicColumn::I64(c) => (Kind::I64, c.to_u64_monotonic()),
            DynamicColumn::U64(c) => (Kind::U64, c),
            DynamicColumn::F64(c) => (Kind::F64, c.to_u64_monotonic()),
            DynamicColumn::Bool(c) => (Kind::Bool, c.to_u64_monotonic()),
            _ => return None,
        };
        Some(CountedColumn {
            kind,
            values,
            counts: HashMap::new(),
        })
    }

    fn key(&self, raw: u64) -> tantivy::Result<Option<ValueKey>> {
        Ok(Some(match &self.kind {
            Kind::Str(strs) => {
                let mut text = String::new();
                if !strs.ord_to_str(raw, &mut text)? {
                    return Ok(None);
                }
                ValueKey::Str(text)
            }
            Kind::I64 => ValueKey::Int(i64::from_u64(raw)),
            Kind::U64 => ValueKey::from_u64(raw),
            Kind::F64 => ValueKey::from_f64(f64::from_u64(raw)),
            Kind::Bool => ValueKey::Bool(bool::from_u64(raw)),
        }))
    }
}

/// The per-segment part of [`ValueCounter`].
pub struct SegmentValueCounter {
    columns: Vec<CountedColumn>,
    scratch: Vec<u64>,
}

impl SegmentCollector for SegmentValueCounter {
    type Fruit = tantivy::Result<HashMap<ValueKey, u64>>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        for column in &mut self.columns {
            // A document counts once per value, however often it repeats it.
            self.scratch.clear();
            self.scratch.extend(column.values.values_for_doc(doc));
            self.scratch.sort_unstable();
            self.scratch.dedup();
            for raw in &self.scratch {
                *column.counts.entry(*raw).or_default() += 1;
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        let mut out: HashMap<ValueKey, u64> = HashMap::new();
        for column in &self.columns {
            for (raw, count) in &column.counts {
                if let Some(key) = column.key(*raw)? {
                    *out.entry(key).or_default() += count;
                }
            }
        }
        Ok(out)
    }
}
