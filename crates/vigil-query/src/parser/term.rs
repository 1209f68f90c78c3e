//! Bare terms: the `field:` prefix and full-text words.

use super::cursor::Cursor;
use super::scan::{self, Run};
use super::ParseError;
use crate::{parse_event_id, IdValue, Query, TextMatch, ID_FIELD};

/// Characters a field name is made of (`source.ip`, `@timestamp`,
/// `winlog.event_data.TargetUserName`, `user-agent`).
pub(crate) fn is_field_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '-')
}

/// Reads `name:` when the term starts with one and returns the name;
/// otherwise leaves the cursor where it was.
///
/// Only the first colon counts: whatever follows it is the value, colons
/// included (`source.ip:2001:db8::1`, `@timestamp:>2024-05-01T00:00:00Z`).
pub(super) fn field_prefix(cur: &mut Cursor) -> Option<String> {
    let start = cur.pos();
    let mut name = String::new();
    while let Some(c) = cur.peek().filter(|&c| is_field_char(c)) {
        name.push(c);
        cur.bump();
    }
    if !name.is_empty() && cur.eat(':') {
        return Some(name);
    }
    cur.reset(start);
    None
}

/// After `id:`, an event id: exactly 32 hex digits, unescaped, ending the
/// word. Anything else (`id:42`, `id:abc*`, an escaped digit) leaves the
/// cursor where it was, to read as a condition on a field named `id`.
pub(super) fn event_id(cur: &mut Cursor, field: &str) -> Option<IdValue> {
    if field != ID_FIELD {
        return None;
    }
    let start = cur.pos();
    let mut text = String::new();
    while let Some(c) = cur.peek().filter(|c| !scan::is_word_end(*c)) {
        text.push(c);
        cur.bump();
        if text.len() > 32 {
            break;
        }
    }
    let id = parse_event_id(&text);
    if id.is_none() {
        cur.reset(start);
    }
    id
}

/// A bare word that is not a field condition: `*`, a pattern or a word.
pub(super) fn word(run: &Run) -> Result<Query, ParseError> {
    if let Some(colon) = run.chars.iter().position(|c| c.ch == ':' && !c.escaped) {
        return Err(misplaced_colon(run, colon));
    }
    if run.is_plain("*") {
        return Ok(Query::All);
    }
    let text = if run.has_wildcard() {
        TextMatch::Wildcard(run.pieces())
    } else {
        TextMatch::Word(run.text())
    };
    Ok(Query::Text(text))
}

/// A word with an unescaped colon that did not read as `field:`: the part
/// before the colon is not a field name. Saying so beats silently searching
/// the full text for something the user meant as a field condition.
fn misplaced_colon(run: &Run, colon: usize) -> ParseError {
    let name = &run.chars[..colon];
    let bad = name.iter().find(|c| c.escaped || !is_field_char(c.ch));
    match (name.is_empty(), bad) {
        (false, Some(c)) => {
            let shown = if c.escaped { '\\' } else { c.ch };
            ParseError::at(
                c.pos,
                format!(
                    "invalid character '{shown}' in field name: expected letters, digits, \
                     '_', '.', '@' or '-' (quote the word or escape the ':' to search text)"
                ),
            )
        }
        _ => ParseError::at(
            run.chars[colon].pos,
            "expected a field name before ':' (quote the word or escape the ':' to search text)",
        ),
    }
}
