//! Splits a query into operators, parentheses and terms.
//!
//! A whole term (`field:[a TO b]`, `"a phrase"`, `err*`) is one token, built
//! into its leaf [`Query`] here: what a character means inside a value depends
//! only on the term it is in, never on the boolean structure around it.

use super::cursor::Cursor;
use super::{scan, term, value, ParseError};
use crate::{Query, TextMatch};

/// What a token is. Operators keep their spelling for error messages.
#[derive(Debug)]
pub(super) enum Kind {
    LParen,
    RParen,
    And(&'static str),
    Or(&'static str),
    Not(&'static str),
    Term(Query),
    End,
}

impl Kind {
    /// How an error message names the token it found.
    pub(super) fn describe(&self) -> String {
        match self {
            Kind::LParen => "'('".to_owned(),
            Kind::RParen => "')'".to_owned(),
            Kind::And(op) | Kind::Or(op) | Kind::Not(op) => format!("'{op}'"),
            Kind::Term(_) => "a term".to_owned(),
            Kind::End => "the end of the query".to_owned(),
        }
    }
}

/// A token and the offset of its first character.
#[derive(Debug)]
pub(super) struct Token {
    pub(super) kind: Kind,
    pub(super) pos: usize,
}

/// Reads tokens one at a time.
pub(super) struct Lexer {
    cur: Cursor,
}

impl Lexer {
    pub(super) fn new(input: &str) -> Self {
        Self {
            cur: Cursor::new(input),
        }
    }

    pub(super) fn next_token(&mut self) -> Result<Token, ParseError> {
        self.cur.skip_whitespace();
        let pos = self.cur.pos();
        let kind = match self.symbol() {
            Some(kind) => kind,
            None => self.term()?,
        };
        Ok(Token { kind, pos })
    }

    /// One- or two-character tokens: parentheses and symbolic operators.
    ///
    /// `-` and `!` are NOT only at the start of a term (`a-b` is a word).
    fn symbol(&mut self) -> Option<Kind> {
        let (kind, width) = match (self.cur.peek(), self.cur.peek_at(1)) {
            (None, _) => return Some(Kind::End),
            (Some('('), _) => (Kind::LParen, 1),
            (Some(')'), _) => (Kind::RParen, 1),
            (Some('&'), Some('&')) => (Kind::And("&&"), 2),
            (Some('|'), Some('|')) => (Kind::Or("||"), 2),
            (Some('!'), _) => (Kind::Not("!"), 1),
            (Some('-'), _) => (Kind::Not("-"), 1),
            _ => return None,
        };
        for _ in 0..width {
            self.cur.bump();
        }
        Some(kind)
    }

    /// A phrase, a field condition, a keyword operator, or a word.
    fn term(&mut self) -> Result<Kind, ParseError> {
        if self.cur.peek() == Some('"') {
            let phrase = scan::quoted(&mut self.cur)?;
            return Ok(Kind::Term(Query::Text(TextMatch::Phrase(phrase))));
        }
        if let Some(field) = term::field_prefix(&mut self.cur) {
            if let Some(id) = term::event_id(&mut self.cur, &field) {
                return Ok(Kind::Term(Query::Id(id)));
            }
            let predicate = value::predicate(&mut self.cur, &field)?;
            return Ok(Kind::Term(Query::Field { field, predicate }));
        }
        let run = scan::bare_run(&mut self.cur, scan::is_word_end)?;
        Ok(match () {
            _ if run.is_plain("AND") => Kind::And("AND"),
            _ if run.is_plain("OR") => Kind::Or("OR"),
            _ if run.is_plain("NOT") => Kind::Not("NOT"),
            _ => Kind::Term(term::word(&run)?),
        })
    }
}
