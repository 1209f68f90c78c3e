//! A position-keeping reader over the characters of a query.
//!
//! Error positions are character offsets (what a person counts in a search
//! box), so the query is read as a `Vec<char>`: nothing is ever sliced by byte,
//! so no input can make us cut a multi-byte character in half.

use super::ParseError;

/// The query's characters and the offset of the next one to read.
pub(super) struct Cursor {
    chars: Vec<char>,
    pos: usize,
}

impl Cursor {
    pub(super) fn new(input: &str) -> Self {
        Self {
            chars: input.chars().collect(),
            pos: 0,
        }
    }

    /// Offset of the next character (the query's length at the end).
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// Goes back to an offset read earlier (for one-shot lookahead).
    pub(super) fn reset(&mut self, pos: usize) {
        self.pos = pos.min(self.chars.len());
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.peek_at(0)
    }

    /// The character `ahead` places after the next one.
    pub(super) fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos.saturating_add(ahead)).copied()
    }

    pub(super) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// Consumes `c` if it comes next.
    pub(super) fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Skips whitespace; says whether there was any.
    pub(super) fn skip_whitespace(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// An error at the next character (or at the end).
    pub(super) fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::at(self.pos, message)
    }
}
