//! What follows `field:`: a phrase, a range, a comparison, or a bare value.

use super::cursor::Cursor;
use super::scan::{self, Run};
use super::{range, ParseError};
use crate::cidr::{self, Cidr};
use crate::Predicate;

/// Reads the value of `field:`, the cursor right after the colon.
pub(super) fn predicate(cur: &mut Cursor, field: &str) -> Result<Predicate, ParseError> {
    match cur.peek() {
        Some('"') => Ok(Predicate::Phrase(scan::quoted(cur)?)),
        Some('[' | '{') => range::bracketed(cur),
        Some('<' | '>') => range::comparison(cur),
        Some('(') => Err(cur.error(format!(
            "expected a value after '{field}:' (groups such as field:(a OR b) are not \
             supported: write field:a OR field:b)"
        ))),
        Some(c) if !scan::is_word_end(c) => bare(scan::bare_run(cur, scan::is_word_end)?),
        _ => Err(cur.error(format!("expected a value after '{field}:'"))),
    }
}

/// Classifies a bare value: `*` alone, a pattern, a network, or a plain value.
///
/// An escaped character anywhere makes the value plain text (`10.0.0.0\/8`
/// searches for that string, not the network).
fn bare(run: Run) -> Result<Predicate, ParseError> {
    if run.is_plain("*") {
        return Ok(Predicate::Exists);
    }
    if run.has_wildcard() {
        return Ok(Predicate::Wildcard(run.pieces()));
    }
    let text = run.text();
    if run.has_escape() {
        return Ok(Predicate::Equals(text));
    }
    match cidr::classify(&text) {
        Cidr::No => Ok(Predicate::Equals(text)),
        Cidr::Network(network, prefix_len) => Ok(Predicate::Cidr {
            network,
            prefix_len,
        }),
        Cidr::TooLong { offset, max } => {
            let pos = run.chars.get(offset).map_or(0, |c| c.pos);
            let len: String = text.chars().skip(offset).collect();
            Err(ParseError::at(
                pos,
                format!("invalid network prefix length {len}: expected 0 to {max}"),
            ))
        }
    }
}
