//! The event search language.
//!
//! `field:value`, quoted phrases, `*`/`?` wildcards, ranges
//! (`field:[a TO b]`, `field:>a`), CIDR for IP fields
//! (`source.ip:10.0.0.0/8`), `AND`/`OR`/`NOT` and parentheses, and bare words
//! as full text. [`parse`] turns a string into a [`Query`]; what a query means
//! for an index is the index's business (see `vigil-store`).

pub mod ast;
mod parser;

pub use ast::{Predicate, Query, TextMatch, WildcardPiece};
pub use parser::{parse, ParseError};
