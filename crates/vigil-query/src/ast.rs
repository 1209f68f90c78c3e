//! The query AST: what a search string means, independent of any index.

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
