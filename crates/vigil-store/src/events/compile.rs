//! From a parsed query ([`vigil_query::Query`]) to a tantivy query, plus the
//! two questions search asks an index besides "which events": does any event
//! have field X ([`has_field`]), and what are the most frequent values of a
//! field ([`top_values`]).
//!
//! Meaning of a field condition `path:...` (see `schema` for the encoding):
//!
//! - `Equals`/`Phrase` `v`: the keyword (lowercased) string equals `v`, or
//!   `v` is a number and a number (JSON, or a numeric string) equals it, or
//!   `v` is `true`/`false` and a bool equals it, or `v` is an IP address and
//!   a string of the field is the same address (`::ffff:10.0.0.1` equals
//!   `10.0.0.1`).
//! - `Wildcard`: over keyword strings, `*` any run and `?` one character;
//!   no literal character is special, so `a.b*` means a dot.
//! - `Range`: both bounds (ignoring `*`) numbers → numeric range over JSON
//!   numbers and numeric strings; otherwise a range over keyword strings
//!   (lowercased; RFC 3339 times in one format and zone sort as strings).
//!   `[* TO *]` means the field exists.
//! - `Cidr`: an IP of the field (IPv4 also as IPv4-mapped IPv6) is inside.
//! - `Exists`: the field, or any field under it (`source:*` when there is a
//!   `source.ip`), has a value.
//!
//! The pseudo-field [`TIME_FIELD`] (`_time`) is the event time (the `time`
//! field), its values read by `Timestamp::parse` (RFC 3339 or epoch
//! seconds/millis/micros/nanos): `_time:[2024-05-01T00:00:00Z TO *]`.
//! It supports equality, ranges and `_time:*` (every event).
//!
//! Not supported: wildcards over numbers (`port:22*` only sees string
//! values), and full-text wildcards spanning several words (`foo-ba*` is
//! one token pattern, and the text analyzer splits at `-`).

mod ids;
mod key_range;
mod numeric;
mod top_values;
mod wildcard;

#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::ops::Bound;

use serde_json::Value as JsonValue;
use tantivy::columnar::NumericalValue;
use tantivy::fastfield::FastValue;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, PhraseQuery, Query as TantivyQuery, RangeQuery,
    TermQuery,
};
use tantivy::schema::{IndexRecordOption, Type};
use tantivy::tokenizer::TokenStream;
use tantivy::{Searcher, Term};
use vigil_core::Timestamp;
use vigil_query::{Predicate, Query, TextMatch, WildcardPiece};

use super::schema::{
    ip_bits, ip_key, normalize_keyword, parse_ip, parse_number, text_analyzer, EventSchema,
};
pub use ids::IdQuery;
use key_range::{KeyRange, KeyRangeQuery};
use top_values::ValueCounter;
use wildcard::{Pattern, WildcardQuery};

/// The pseudo-field naming the event time in queries.
pub const TIME_FIELD: &str = "_time";

/// A query that has no meaning for the index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("{field}: {value:?} is not a time (expected RFC 3339 like 2024-05-01T12:00:00Z, or epoch seconds/milliseconds/microseconds)")]
    InvalidTime { field: String, value: String },
    #[error("{field}: {what} is not supported on this field")]
    Unsupported { field: String, what: &'static str },
    #[error("{field}: {network}/{prefix_len} is not a network (prefix longer than the address)")]
    InvalidCidr {
        field: String,
        network: IpAddr,
        prefix_len: u8,
    },
}

type Compiled = Result<Box<dyn TantivyQuery>, CompileError>;

/// The tantivy query matching the events `query` describes, or a query
/// matching nothing when `query` has no meaning for the index (see
/// [`try_compile`] to tell the user why).
pub fn compile(schema: &EventSchema, query: &Query) -> Box<dyn TantivyQuery> {
    try_compile(schema, query).unwrap_or_else(|_| Box::new(EmptyQuery))
}

/// The tantivy query matching the events `query` describes, or why there is
/// none: a `_time` value that is not a time, a wildcard or network on
/// `_time`, a network prefix longer than its address.
pub fn try_compile(schema: &EventSchema, query: &Query) -> Compiled {
    Compiler { schema }.query(query)
}

/// Whether any event of the searcher has a value at `path` or under it
/// (used to tell "no event has field X"). `_time` always exists. An index
/// that cannot be read answers `true`: never claim an absence unverified.
pub fn has_field(schema: &EventSchema, searcher: &Searcher, path: &str) -> bool {
    if path == TIME_FIELD {
        return true;
    }
    let range = path_and_subpaths(&schema.path_term(schema.fields, path));
    searcher
        .segment_readers()
        .iter()
        .any(|segment| match segment.inverted_index(schema.fields) {
            Ok(index) => range.any_in(index.terms()).unwrap_or(true),
            Err(_) => true,
        })
}

/// The `limit` most frequent values of field `path` among the documents
/// matching `query`, with their document counts, most frequent first (ties
/// by value: bools, numbers, strings). Strings come back in keyword form
/// (lowercased, cut); numbers as JSON numbers (integral ones as integers).
/// Counts are exact for this searcher; to merge partitions exactly, ask for
/// more than you show (`usize::MAX` returns every value).
pub fn top_values(
    schema: &EventSchema,
    searcher: &Searcher,
    query: &dyn TantivyQuery,
    path: &str,
    limit: usize,
) -> tantivy::Result<Vec<(JsonValue, u64)>> {
    let column = format!(
        "{}.{}",
        schema.schema.get_field_name(schema.fields),
        path.replace('\\', "\\\\")
    );
    let counts = searcher.search(query, &ValueCounter { column })?;
    Ok(top_values::top(counts, limit))
}

struct Compiler<'a> {
    schema: &'a EventSchema,
}

impl Compiler<'_> {
    fn query(&self, query: &Query) -> Compiled {
        match query {
            Query::All => Ok(Box::new(AllQuery)),
            Query::And(parts) => self.and(parts),
            Query::Or(parts) => self.or(parts),
            Query::Not(inner) => Ok(all_but(self.query(inner)?)),
            Query::Field { field, predicate } if field == TIME_FIELD => self.time(predicate),
            Query::Field { field, predicate } => self.field(field, predicate),
            Query::Text(text) => self.text(text),
        }
    }

    /// `NOT` parts become exclusions; with no positive part, the base is
    /// every event (tantivy matches nothing for exclusions alone).
    fn and(&self, parts: &[Query]) -> Compiled {
        let mut clauses = Vec::with_capacity(parts.len() + 1);
        for part in parts {
            clauses.push(match part {
                Query::Not(inner) => (Occur::MustNot, self.query(inner)?),
                positive => (Occur::Must, self.query(positive)?),
            });
        }
        if !clauses.iter().any(|(occur, _)| *occur == Occur::Must) {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        if clauses.len() == 1 {
            if let Some((_, only)) = clauses.pop() {
                return Ok(only);
            }
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    fn or(&self, parts: &[Query]) -> Compiled {
        let compiled = parts
            .iter()
            .map(|part| self.query(part))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(any_of(compiled))
    }

    fn field(&self, path: &str, predicate: &Predicate) -> Compiled {
        match predicate {
            Predicate::Equals(value) | Predicate::Phrase(value) => Ok(self.equals(path, value)),
            Predicate::Wildcard(pieces) => Ok(self.wildcard(path, pieces)),
            Predicate::Range { lower, upper } => Ok(self.range(path, lower, upper)),
            Predicate::Cidr {
                network,
                prefix_len,
            } => self.cidr(path, *network, *prefix_len),
            Predicate::Exists => Ok(self.exists(path)),
        }
    }

    fn equals(&self, path: &str, value: &str) -> Box<dyn TantivyQuery> {
        let s = self.schema;
        let mut keyword = s.path_term(s.fields, path);
        keyword.append_type_and_str(&normalize_keyword(value));
        let mut terms = vec![keyword];
        if let Some(number) = parse_number(value) {
            terms.push(number_term(s.path_term(s.fields, path), number));
            terms.push(number_term(s.path_term(s.nums, path), number));
        }
        if let Ok(flag) = value.to_ascii_lowercase().parse::<bool>() {
            let mut term = s.path_term(s.fields, path);
            term.append_type_and_fast_value(flag);
            terms.push(term);
        }
        if let Some(ip) = parse_ip(value) {
            let mut term = s.path_term(s.ips, path);
            term.append_type_and_str(&ip_key(ip));
            terms.push(term);
        }
        any_of(terms.into_iter().map(term_query).collect())
    }

    fn wildcard(&self, path: &str, pieces: &[WildcardPiece]) -> Box<dyn TantivyQuery> {
        let s = self.schema;
        let prefix = section_prefix(&s.path_term(s.fields, path), Type::Str);
        let pattern = Pattern::new(pieces, normalize_keyword);
        Box::new(WildcardQuery::new(s.fields, prefix, pattern))
    }

    fn range(
        &self,
        path: &str,
        lower: &Bound<String>,
        upper: &Bound<String>,
    ) -> Box<dyn TantivyQuery> {
        let (lower, upper) = (without_star(lower), without_star(upper));
        if lower == Bound::Unbounded && upper == Bound::Unbounded {
            return self.exists(path);
        }
        let number = |value: &&str| parse_number(value);
        match (map_bound(&lower, number), map_bound(&upper, number)) {
            (Some(lower), Some(upper)) => self.numeric_range(path, &lower, &upper),
            _ => self.string_range(path, lower, upper),
        }
    }

    fn numeric_range(
        &self,
        path: &str,
        lower: &Bound<NumericalValue>,
        upper: &Bound<NumericalValue>,
    ) -> Box<dyn TantivyQuery> {
        let s = self.schema;
        let queries = [s.fields, s.nums]
            .into_iter()
            .map(|field| {
                let base = s.path_term(field, path);
                let mut ranges = Vec::new();
                ranges.extend(typed_range(&base, numeric::i64_section(lower, upper)));
                ranges.extend(typed_range(&base, numeric::u64_section(lower, upper)));
                ranges.extend(typed_range(&base, numeric::f64_section(lower, upper)));
                Box::new(KeyRangeQuery::new(field, ranges)) as Box<dyn TantivyQuery>
            })
            .collect();
        any_of(queries)
    }

    fn string_range(
        &self,
        path: &str,
        lower: Bound<&str>,
        upper: Bound<&str>,
    ) -> Box<dyn TantivyQuery> {
        let s = self.schema;
        let prefix = section_prefix(&s.path_term(s.fields, path), Type::Str);
        let key = |value: &str| normalize_keyword(value).into_bytes();
        let range = section_range(prefix, lower.map(key), upper.map(key));
        Box::new(KeyRangeQuery::new(s.fields, vec![range]))
    }

    fn cidr(&self, path: &str, network: IpAddr, prefix_len: u8) -> Compiled {
        let s = self.schema;
        let host_bits = match network {
            IpAddr::V4(_) => 32u32.checked_sub(u32::from(prefix_len)),
            IpAddr::V6(_) => 128u32.checked_sub(u32::from(prefix_len)),
        }
        .ok_or_else(|| CompileError::InvalidCidr {
            field: path.to_string(),
            network,
            prefix_len,
        })?;
        let hosts = if host_bits == 0 {
            0
        } else {
            u128::MAX >> (128 - host_bits)
        };
        let first = ip_bits(network) & !hosts;
        let key = |bits: u128| format!("{bits:032x}").into_bytes();
        let prefix = section_prefix(&s.path_term(s.ips, path), Type::Str);
        let range = section_range(
            prefix,
            Bound::Included(key(first)),
            Bound::Included(key(first | hosts)),
        );
        Ok(Box::new(KeyRangeQuery::new(s.ips, vec![range])))
    }

    fn exists(&self, path: &str) -> Box<dyn TantivyQuery> {
        let s = self.schema;
        let range = path_and_subpaths(&s.path_term(s.fields, path));
        Box::new(KeyRangeQuery::new(s.fields, vec![range]))
    }

    fn time(&self, predicate: &Predicate) -> Compiled {
        let field = self.schema.time;
        match predicate {
            Predicate::Equals(value) | Predicate::Phrase(value) => Ok(term_query(
                Term::from_field_i64(field, parse_time(value)?.micros()),
            )),
            Predicate::Range { lower, upper } => self.time_range(lower, upper),
            Predicate::Exists => Ok(Box::new(AllQuery)),
            Predicate::Wildcard(_) => Err(unsupported(TIME_FIELD, "a wildcard")),
            Predicate::Cidr { .. } => Err(unsupported(TIME_FIELD, "a network")),
        }
    }

    fn time_range(&self, lower: &Bound<String>, upper: &Bound<String>) -> Compiled {
        let field = self.schema.time;
        let term = |value: &str| -> Result<Term, CompileError> {
            Ok(Term::from_field_i64(field, parse_time(value)?.micros()))
        };
        let lower = transpose(without_star(lower).map(term))?;
        let upper = transpose(without_star(upper).map(term))?;
        if lower == Bound::Unbounded && upper == Bound::Unbounded {
            return Ok(Box::new(AllQuery));
        }
        Ok(Box::new(RangeQuery::new(lower, upper)))
    }

    fn text(&self, text: &TextMatch) -> Compiled {
        match text {
            TextMatch::Word(words) | TextMatch::Phrase(words) => Ok(self.words(words)),
            TextMatch::Wildcard(pieces) => {
                let lowercase = |text: &str| text.chars().flat_map(char::to_lowercase).collect();
                let pattern = Pattern::new(pieces, lowercase);
                Ok(Box::new(WildcardQuery::new(
                    self.schema.text,
                    Vec::new(),
                    pattern,
                )))
            }
        }
    }

    /// Words as the `text` field analyzed them: one token is a term, several
    /// (`10.0.0.1`, `connection refused`) a phrase, none (only separators,
    /// or a token too long to be indexed) matches nothing.
    fn words(&self, words: &str) -> Box<dyn TantivyQuery> {
        let mut analyzer = text_analyzer();
        let mut stream = analyzer.token_stream(words);
        let mut terms = Vec::new();
        while stream.advance() {
            let token = stream.token();
            terms.push((
                token.position,
                Term::from_field_text(self.schema.text, &token.text),
            ));
        }
        match terms.len() {
            0 => Box::new(EmptyQuery),
            1 => Box::new(TermQuery::new(
                terms.remove(0).1,
                IndexRecordOption::WithFreqs,
            )),
            _ => Box::new(PhraseQuery::new_with_offset(terms)),
        }
    }
}

fn term_query(term: Term) -> Box<dyn TantivyQuery> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

/// Matches when any part does; nothing for no part.
fn any_of(mut queries: Vec<Box<dyn TantivyQuery>>) -> Box<dyn TantivyQuery> {
    match queries.len() {
        0 => Box::new(EmptyQuery),
        1 => queries.remove(0),
        _ => Box::new(BooleanQuery::new(
            queries.into_iter().map(|q| (Occur::Should, q)).collect(),
        )),
    }
}

/// Every event except those `query` matches.
fn all_but(query: Box<dyn TantivyQuery>) -> Box<dyn TantivyQuery> {
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, Box::new(AllQuery)),
        (Occur::MustNot, query),
    ]))
}

fn number_term(mut base: Term, number: NumericalValue) -> Term {
    match number {
        NumericalValue::I64(i) => base.append_type_and_fast_value(i),
        NumericalValue::U64(u) => base.append_type_and_fast_value(u),
        NumericalValue::F64(f) => base.append_type_and_fast_value(f),
    }
    base
}

/// The key bytes every value of one type at a path starts with.
fn section_prefix(base: &Term, typ: Type) -> Vec<u8> {
    let mut prefix = base.serialized_value_bytes().to_vec();
    prefix.push(typ.to_code());
    prefix
}

/// The keys of one path and type section between two value bounds
/// (unbounded means the section's start or end).
fn section_range(prefix: Vec<u8>, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> KeyRange {
    let whole = KeyRange::prefix(prefix.clone());
    let key = |value: Vec<u8>| [prefix.as_slice(), &value].concat();
    KeyRange {
        lower: match lower {
            Bound::Unbounded => whole.lower,
            bounded => bounded.map(key),
        },
        upper: match upper {
            Bound::Unbounded => whole.upper,
            bounded => bounded.map(key),
        },
    }
}

/// The numeric section of type `T` at the path of `base`, if not empty.
fn typed_range<T: FastValue>(base: &Term, section: numeric::Section<T>) -> Option<KeyRange> {
    let (lower, upper) = section?;
    let bytes = |v: T| v.to_u64().to_be_bytes().to_vec();
    let prefix = section_prefix(base, T::to_type());
    Some(section_range(prefix, lower.map(bytes), upper.map(bytes)))
}

/// Keys of the path itself (`path \0 ...`) and of every path under it
/// (`path \1 ...`): one range, since the two markers are bytes 0 and 1.
/// (tantivy's `ExistsQuery` would need the fast columns; the term
/// dictionary answers the same from the index every query already reads.)
fn path_and_subpaths(base: &Term) -> KeyRange {
    let path = base.serialized_value_bytes();
    let stem = path.strip_suffix(&[0u8]).unwrap_or(path);
    KeyRange {
        lower: Bound::Included([stem, &[0u8]].concat()),
        upper: Bound::Excluded([stem, &[2u8]].concat()),
    }
}

fn parse_time(value: &str) -> Result<Timestamp, CompileError> {
    Timestamp::parse(value).map_err(|_| CompileError::InvalidTime {
        field: TIME_FIELD.to_string(),
        value: value.to_string(),
    })
}

fn unsupported(field: &str, what: &'static str) -> CompileError {
    CompileError::Unsupported {
        field: field.to_string(),
        what,
    }
}

/// A `*` bound means unbounded, whatever the parser made of it.
fn without_star(bound: &Bound<String>) -> Bound<&str> {
    match bound {
        Bound::Included(v) | Bound::Excluded(v) if v == "*" => Bound::Unbounded,
        other => other.as_ref().map(String::as_str),
    }
}

/// A bound's value converted, `None` if a conversion fails.
fn map_bound<T, U>(bound: &Bound<T>, f: impl Fn(&T) -> Option<U>) -> Option<Bound<U>> {
    Some(match bound {
        Bound::Included(v) => Bound::Included(f(v)?),
        Bound::Excluded(v) => Bound::Excluded(f(v)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

fn transpose<T, E>(bound: Bound<Result<T, E>>) -> Result<Bound<T>, E> {
    Ok(match bound {
        Bound::Included(v) => Bound::Included(v?),
        Bound::Excluded(v) => Bound::Excluded(v?),
        Bound::Unbounded => Bound::Unbounded,
    })
}
