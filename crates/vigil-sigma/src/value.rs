//! Field specifications and their value modifiers (Sigma specification
//! v2.1 and its modifiers appendix): `CommandLine|contains|all: [a, b]`
//! compiled into a [`FieldMatcher`] that tests events.
//!
//! Semantics implemented here:
//! - a list of values is OR-linked, AND-linked with `all`;
//! - strings compare case-insensitively (`cased` for case-sensitive), whole
//!   value, with `*`/`?` wildcards and `\` escapes;
//! - `null` matches an absent or null field, numbers compare numerically with
//!   numeric event values and by their text with string ones;
//! - a field with several event values matches when any of them does;
//! - keyword (field-less) values search every string of the event, as
//!   substrings.

mod encode;
mod fields;
mod pattern;
#[cfg(test)]
mod tests;

pub use fields::compile_field;
pub use fields::{CompileContext, FieldMatcher, ValueError};
