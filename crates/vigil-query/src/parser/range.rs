//! Ranges: `[a TO b]`, `{a TO b}`, mixed brackets, and `>a`, `>=a`, `<a`, `<=a`.
//!
//! Bounds stay strings: whether `10` and `9` compare as numbers or text, or
//! `2024-05-01` as a time, is the index's business, as it knows field types.

use std::ops::Bound;

use super::cursor::Cursor;
use super::scan::{self, Run};
use super::ParseError;
use crate::Predicate;

/// Reads `[a TO b]` and its variants, the cursor on the opening bracket.
pub(super) fn bracketed(cur: &mut Cursor) -> Result<Predicate, ParseError> {
    let inclusive_lower = cur.bump() == Some('[');
    cur.skip_whitespace();
    let lower = bound(
        cur,
        scan::is_bound_end,
        "expected a lower bound after the '['",
    )?;
    expect_to(cur)?;
    let upper = bound(
        cur,
        scan::is_bound_end,
        "expected an upper bound after 'TO'",
    )?;
    cur.skip_whitespace();
    let inclusive_upper = match cur.peek() {
        Some(']') => true,
        Some('}') => false,
        _ => return Err(cur.error("expected ']' or '}' to close the range")),
    };
    cur.bump();
    Ok(Predicate::Range {
        lower: edge(lower, inclusive_lower),
        upper: edge(upper, inclusive_upper),
    })
}

/// Reads `>a`, `>=a`, `<a` or `<=a`, the cursor on the `<` or `>`.
pub(super) fn comparison(cur: &mut Cursor) -> Result<Predicate, ParseError> {
    let greater = cur.bump() == Some('>');
    let inclusive = cur.eat('=');
    let op = match (greater, inclusive) {
        (true, false) => ">",
        (true, true) => ">=",
        (false, false) => "<",
        (false, true) => "<=",
    };
    let message = format!("expected a value after '{op}'");
    let limit = edge(bound(cur, scan::is_word_end, &message)?, inclusive);
    let (lower, upper) = if greater {
        (limit, Bound::Unbounded)
    } else {
        (Bound::Unbounded, limit)
    };
    Ok(Predicate::Range { lower, upper })
}

/// `Included` or `Excluded` by the bracket or operator; open (`*`) stays open.
fn edge(value: Option<String>, inclusive: bool) -> Bound<String> {
    match value {
        None => Bound::Unbounded,
        Some(v) if inclusive => Bound::Included(v),
        Some(v) => Bound::Excluded(v),
    }
}

/// A bound, quoted or bare; a bare `*` is open. Inclusion is decided by the
/// caller, hence `Option` standing for "a value or open".
fn bound(
    cur: &mut Cursor,
    is_end: fn(char) -> bool,
    missing: &str,
) -> Result<Option<String>, ParseError> {
    if cur.peek() == Some('"') {
        return scan::quoted(cur).map(Some);
    }
    let run: Run = scan::bare_run(cur, is_end)?;
    if run.is_empty() {
        return Err(cur.error(missing));
    }
    Ok((!run.is_plain("*")).then(|| run.text()))
}

/// Expects whitespace, `TO`, whitespace between the two bounds.
fn expect_to(cur: &mut Cursor) -> Result<(), ParseError> {
    let spaced = cur.skip_whitespace();
    let to = cur.peek() == Some('T')
        && cur.peek_at(1) == Some('O')
        && cur.peek_at(2).is_some_and(char::is_whitespace);
    if !(spaced && to) {
        return Err(cur.error("expected 'TO' between the range bounds, as in [a TO b]"));
    }
    cur.bump();
    cur.bump();
    cur.skip_whitespace();
    Ok(())
}
