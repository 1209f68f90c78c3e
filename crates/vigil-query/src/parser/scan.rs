//! The two lexical shapes a word or value takes: a bare run of characters
//! (with `\` escapes) and a quoted string.
//!
//! A bare run keeps, for every character, whether it was escaped and where it
//! stood, so that later steps can tell `*` from `\*` and point errors at the
//! right offset without re-reading the input.

use super::cursor::Cursor;
use super::ParseError;
use crate::WildcardPiece;

/// One character of a bare run.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunChar {
    pub(super) ch: char,
    /// Written as `\ch`: never an operator, wildcard or separator.
    pub(super) escaped: bool,
    /// Offset of the character (of its `\` when escaped).
    pub(super) pos: usize,
}

/// A bare (unquoted) word or value, escapes resolved.
#[derive(Debug)]
pub(super) struct Run {
    pub(super) chars: Vec<RunChar>,
}

impl Run {
    pub(super) fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The text with escapes removed.
    pub(super) fn text(&self) -> String {
        self.chars.iter().map(|c| c.ch).collect()
    }

    pub(super) fn has_escape(&self) -> bool {
        self.chars.iter().any(|c| c.escaped)
    }

    /// Whether the run is exactly `word`, written without escapes (so `\*`
    /// or `\AND` never count as the operator they spell).
    pub(super) fn is_plain(&self, word: &str) -> bool {
        !self.has_escape() && self.chars.iter().map(|c| c.ch).eq(word.chars())
    }

    /// Whether an unescaped `*` or `?` makes this a pattern.
    pub(super) fn has_wildcard(&self) -> bool {
        self.chars
            .iter()
            .any(|c| !c.escaped && matches!(c.ch, '*' | '?'))
    }

    /// The run as wildcard pieces; literal characters are merged.
    pub(super) fn pieces(&self) -> Vec<WildcardPiece> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        for c in &self.chars {
            let wild = match (c.escaped, c.ch) {
                (false, '*') => WildcardPiece::AnyRun,
                (false, '?') => WildcardPiece::AnyChar,
                _ => {
                    literal.push(c.ch);
                    continue;
                }
            };
            if !literal.is_empty() {
                pieces.push(WildcardPiece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(wild);
        }
        if !literal.is_empty() {
            pieces.push(WildcardPiece::Literal(literal));
        }
        pieces
    }
}

/// Where a bare word or value ends: whitespace, a parenthesis or a quote.
pub(super) fn is_word_end(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

/// Where a bare bound inside `[a TO b]` ends: also at the closing bracket.
pub(super) fn is_bound_end(c: char) -> bool {
    is_word_end(c) || matches!(c, ']' | '}')
}

/// Reads a bare run up to a character for which `is_end` holds; `\x` stands
/// for `x`, whatever `x` is.
pub(super) fn bare_run(cur: &mut Cursor, is_end: fn(char) -> bool) -> Result<Run, ParseError> {
    let mut chars = Vec::new();
    while let Some(c) = cur.peek().filter(|&c| !is_end(c)) {
        let pos = cur.pos();
        cur.bump();
        let escaped = c == '\\';
        let ch = if escaped {
            cur.bump()
                .ok_or_else(|| ParseError::at(pos, "expected a character after '\\'"))?
        } else {
            c
        };
        chars.push(RunChar { ch, escaped, pos });
    }
    Ok(Run { chars })
}

/// Reads a quoted string, the cursor being on the opening `"`.
///
/// Only `\"` and `\\` are escapes; any other backslash is kept as written,
/// so that Windows paths (`"C:\Windows\System32"`) need no doubling.
pub(super) fn quoted(cur: &mut Cursor) -> Result<String, ParseError> {
    let open = cur.pos();
    let unterminated = || ParseError::at(open, "unterminated quote: expected a closing '\"'");
    cur.bump();
    let mut text = String::new();
    loop {
        match cur.bump().ok_or_else(unterminated)? {
            '"' => return Ok(text),
            '\\' => match cur.peek().ok_or_else(unterminated)? {
                c @ ('"' | '\\') => {
                    cur.bump();
                    text.push(c);
                }
                _ => text.push('\\'),
            },
            c => text.push(c),
        }
    }
}
