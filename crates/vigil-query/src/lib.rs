//! The event search language.
//!
//! `field:value`, quoted phrases, `*`/`?` wildcards, ranges
//! (`field:[a TO b]`, `field:>a`), CIDR for IP fields
//! (`source.ip:10.0.0.0/8`), `AND`/`OR`/`NOT` and parentheses, and bare words
//! as full text; `id:<32 hex digits>` finds an event by its id
//! ([`Query::Id`]). [`parse`] turns a string into a [`Query`]; what a query means
//! for an index is the index's business (see `vigil-store`).
//!
//! A [`Query`] displays as canonical query text that parses back to the same
//! query, and [`Query::fields`] lists the fields it names. The grammar is in
//! the `parser` module; errors carry the character offset of the offending
//! character ([`ParseError`]).

pub mod ast;
mod cidr;
mod display;
mod parser;

pub use ast::{parse_event_id, IdValue, Predicate, Query, TextMatch, WildcardPiece, ID_FIELD};
pub use parser::{parse, ParseError, MAX_DEPTH};
