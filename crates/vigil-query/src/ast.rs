//! The query AST: what a search string means, independent of any index.

use std::collections::HashSet;
use std::net::IpAddr;
use std::ops::Bound;

/// A parsed search query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Matches every event (the empty query, or a lone `*`).
    All,
    /// Every part must match (explicit `AND`, or terms side by side).
    And(Vec<Query>),
    /// At least one part must match.
    Or(Vec<Query>),
    /// The part must not match (`NOT x`, `-x`).
    Not(Box<Query>),
    /// A condition on one field: `field:...`.
    Field { field: String, predicate: Predicate },
    /// A bare word or phrase: full text over every field.
    Text(TextMatch),
    /// `id:` followed by an event id as the API shows it (32 hex digits):
    /// the event with that id. A backend also matches it against a field
    /// named `id` holding that text (what `id:` meant before, and what
    /// logs with 32-hex-digit ids of their own, such as trace ids, need).
    Id(IdValue),
}

/// An event id in a query, as its 128 bits. Two halves rather than a
/// `u128`: a `u128` makes the whole AST 16-byte aligned, which grows the
/// parser's recursive frames enough to overflow a test thread's stack at
/// the deepest nesting allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdValue {
    high: u64,
    low: u64,
}

impl IdValue {
    pub fn new(id: u128) -> Self {
        IdValue {
            high: (id >> 64) as u64,
            low: id as u64,
        }
    }

    pub fn get(self) -> u128 {
        (u128::from(self.high) << 64) | u128::from(self.low)
    }
}

/// The name under which a query asks for an event by its id (`id:`).
pub const ID_FIELD: &str = "id";

/// An event id in the text form the API shows (exactly 32 hex digits,
/// either case), or `None`.
pub fn parse_event_id(text: &str) -> Option<IdValue> {
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(text, 16).ok().map(IdValue::new)
}

impl Query {
    /// The field names the query uses, each once, in order of appearance.
    ///
    /// Lets a caller check them against the fields an index knows, and say
    /// "no event has field X" instead of silently finding nothing.
    pub fn fields(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        let mut seen = HashSet::new();
        // An explicit stack: a tree built by hand may be deeper than the
        // parser allows, and this must not overflow on it.
        let mut pending = vec![self];
        while let Some(query) = pending.pop() {
            match query {
                Query::And(parts) | Query::Or(parts) => pending.extend(parts.iter().rev()),
                Query::Not(inner) => pending.push(inner),
                Query::Field { field, .. } => {
                    if seen.insert(field.as_str()) {
                        names.push(field);
                    }
                }
                Query::All | Query::Text(_) | Query::Id(_) => {}
            }
        }
        names
    }
}

/// What a field condition asks of the field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `field:value`: the whole value equals `value` (case-insensitive for
    /// strings; numbers compare as numbers).
    Equals(String),
    /// `field:"a phrase"`: the whole value equals the phrase; `*` and `?`
    /// inside the quotes are literal.
    Phrase(String),
    /// `field:val*e?`: `*` any run of characters, `?` one character; `\`
    /// escapes. Held as a list of pieces so no one re-parses escapes.
    Wildcard(Vec<WildcardPiece>),
    /// `field:[a TO b]`, `field:{a TO b}`, `field:>a`, `>=`, `<`, `<=`.
    /// `*` as a bound means unbounded.
    Range {
        lower: Bound<String>,
        upper: Bound<String>,
    },
    /// `field:10.0.0.0/8`, `field:2001:db8::/32`: an IP inside the network.
    Cidr { network: IpAddr, prefix_len: u8 },
    /// `field:*`: the field is present.
    Exists,
}

/// A piece of a wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WildcardPiece {
    Literal(String),
    /// `*`
    AnyRun,
    /// `?`
    AnyChar,
}

/// A bare (field-less) condition, matched against the full text of events.
#[derive(Debug, Clone, PartialEq)]
pub enum TextMatch {
    /// `error`
    Word(String),
    /// `"connection refused"`: the words in this order.
    Phrase(String),
    /// `err*`
    Wildcard(Vec<WildcardPiece>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str) -> Query {
        Query::Field {
            field: name.to_owned(),
            predicate: Predicate::Exists,
        }
    }

    #[test]
    fn fields_in_order_of_appearance_without_repeats() {
        let query = Query::Or(vec![
            Query::And(vec![field("b"), Query::Text(TextMatch::Word("x".into()))]),
            Query::Not(Box::new(field("a"))),
            field("b"),
            Query::All,
            field("c"),
        ]);
        assert_eq!(query.fields(), vec!["b", "a", "c"]);
        assert!(Query::All.fields().is_empty());
    }

    #[test]
    fn fields_of_a_very_deep_tree() {
        let mut query = field("deep");
        for _ in 0..100_000 {
            query = Query::Not(Box::new(query));
        }
        assert_eq!(query.fields(), vec!["deep"]);
        // Dropping recurses; unwind it by hand so the test thread's stack holds.
        while let Query::Not(inner) = query {
            query = *inner;
        }
    }
}
