//! The boolean structure of a query, over the tokens of [`lexer`].
//!
//! Grammar (whitespace separates tokens; precedence NOT > AND > OR):
//!
//! ```text
//! query   = [ or ]                      empty means everything
//! or      = and { ("OR" | "||") and }
//! and     = unary { [ "AND" | "&&" ] unary }   side by side means AND
//! unary   = { "NOT" | "!" | "-" } primary
//! primary = "(" or ")" | term
//! term    = field ":" value | '"' phrase '"' | word
//! value   = '"' phrase '"' | range | ("<" | "<=" | ">" | ">=") bound | bare
//! range   = ("[" | "{") bound "TO" bound ("]" | "}")     "*" is open
//! ```
//!
//! Nested `And`s and `Or`s are flattened and a one-part group is its part, so
//! that `(a b) c` and `a b c` give the same tree. Nesting (parentheses and
//! NOTs) is limited to [`MAX_DEPTH`] levels: whoever walks the tree later
//! (compiler, renderer, drop) recurses, and a query is untrusted input.

mod cursor;
mod lexer;
mod range;
mod scan;
mod term;
mod value;

use lexer::{Kind, Lexer, Token};

use crate::Query;

/// How deep parentheses and NOTs may nest.
pub const MAX_DEPTH: usize = 256;

/// Why a query could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query syntax error at position {position}: {message}")]
pub struct ParseError {
    /// 0-based character offset into the query string.
    pub position: usize,
    pub message: String,
}

impl ParseError {
    pub(crate) fn at(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }
}

/// Parses a search query. An empty or blank query matches everything.
pub fn parse(input: &str) -> Result<Query, ParseError> {
    let mut parser = Parser::new(input)?;
    if matches!(parser.token.kind, Kind::End) {
        return Ok(Query::All);
    }
    let query = parser.or("")?;
    match parser.token.kind {
        Kind::End => Ok(query),
        Kind::RParen => Err(parser.error_here("unexpected ')' without a matching '('")),
        ref other => Err(parser.error_here(format!("unexpected {}", other.describe()))),
    }
}

/// A recursive-descent parser with one token of lookahead.
struct Parser {
    lexer: Lexer,
    token: Token,
    depth: usize,
}

impl Parser {
    fn new(input: &str) -> Result<Self, ParseError> {
        let mut lexer = Lexer::new(input);
        let token = lexer.next_token()?;
        Ok(Self {
            lexer,
            token,
            depth: 0,
        })
    }

    /// Moves to the next token and hands back the current one.
    fn advance(&mut self) -> Result<Token, ParseError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.token, next))
    }

    fn error_here(&self, message: impl Into<String>) -> ParseError {
        ParseError::at(self.token.pos, message)
    }

    /// `after` names what came before, for "expected a term after 'AND'".
    fn or(&mut self, after: &str) -> Result<Query, ParseError> {
        let mut parts = vec![self.and(after)?];
        while let Kind::Or(op) = self.token.kind {
            self.advance()?;
            parts.push(self.and(&format!(" after '{op}'"))?);
        }
        Ok(group(Op::Or, parts))
    }

    fn and(&mut self, after: &str) -> Result<Query, ParseError> {
        let mut parts = vec![self.unary(after)?];
        loop {
            match self.token.kind {
                Kind::And(op) => {
                    self.advance()?;
                    parts.push(self.unary(&format!(" after '{op}'"))?);
                }
                Kind::Term(_) | Kind::LParen | Kind::Not(_) => parts.push(self.unary("")?),
                _ => break,
            }
        }
        Ok(group(Op::And, parts))
    }

    /// NOTs are counted in a loop, not by recursion, but still count as depth.
    fn unary(&mut self, after: &str) -> Result<Query, ParseError> {
        let mut nots = 0;
        let mut after = after.to_owned();
        while let Kind::Not(op) = self.token.kind {
            self.enter()?;
            self.advance()?;
            nots += 1;
            after = format!(" after '{op}'");
        }
        let mut query = self.primary(&after)?;
        for _ in 0..nots {
            query = Query::Not(Box::new(query));
        }
        self.depth -= nots;
        Ok(query)
    }

    fn primary(&mut self, after: &str) -> Result<Query, ParseError> {
        match self.token.kind {
            Kind::LParen => self.parenthesized(),
            Kind::Term(_) => match self.advance()?.kind {
                Kind::Term(query) => Ok(query),
                _ => Err(self.error_here("expected a term")),
            },
            ref other => {
                let found = other.describe();
                Err(self.error_here(format!("expected a term{after}, found {found}")))
            }
        }
    }

    fn parenthesized(&mut self) -> Result<Query, ParseError> {
        let open = self.token.pos;
        self.enter()?;
        self.advance()?;
        let inner = self.or(" after '('")?;
        if !matches!(self.token.kind, Kind::RParen) {
            let found = self.token.kind.describe();
            return Err(self.error_here(format!(
                "expected ')' to close the '(' at position {open}, found {found}"
            )));
        }
        self.advance()?;
        self.depth -= 1;
        Ok(inner)
    }

    /// One level deeper; refuses past [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_here(format!(
                "query nested too deeply: at most {MAX_DEPTH} levels of parentheses and NOT"
            )));
        }
        Ok(())
    }
}

/// The two operators that join several parts.
#[derive(Debug, Clone, Copy)]
enum Op {
    And,
    Or,
}

/// Joins parts with one operator: children of the same operator are
/// flattened into it, and a single part stands for itself.
fn group(op: Op, parts: Vec<Query>) -> Query {
    let mut flat = Vec::with_capacity(parts.len());
    for part in parts {
        match (op, part) {
            (Op::And, Query::And(children)) | (Op::Or, Query::Or(children)) => {
                flat.extend(children);
            }
            (_, other) => flat.push(other),
        }
    }
    if flat.len() == 1 {
        if let Some(only) = flat.pop() {
            return only;
        }
    }
    match op {
        Op::And => Query::And(flat),
        Op::Or => Query::Or(flat),
    }
}

#[cfg(test)]
mod tests;
