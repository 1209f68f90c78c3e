//! The condition grammar (Sigma specification v2.1, section "Condition").
//!
//! ```text
//! condition  := or_expr
//! or_expr    := and_expr ( "or" and_expr )*
//! and_expr   := unary ( "and" unary )*
//! unary      := "not" unary | primary
//! primary    := "(" or_expr ")" | quantifier "of" pattern | identifier
//! quantifier := "1" | "all"
//! pattern    := "them" | identifier-with-"*"-wildcards
//! ```
//!
//! Precedence, least to most binding: `or`, `and`, `not`, `x of pattern`,
//! `( expression )`. Keywords (`and`, `or`, `not`, `of`, `all`, `them`) are
//! case-insensitive; identifiers are case-sensitive (they are YAML keys) and
//! made of letters, digits, `_`, `-` and `.` (`filter_main_mdadm.conf` occurs
//! in SigmaHQ). `*` is a wildcard, allowed only in the pattern of `1 of` /
//! `all of`.
//!
//! The specification knows only `1 of` and `all of`: `2 of x` and the older
//! `any of x` are rejected with an error saying so.
//!
//! Pipeline: [`parse_condition`] (or [`parse_conditions`] for the legacy list
//! form) gives a [`Condition`] that may hold [`Condition::Quantified`] nodes;
//! [`Condition::expand`] resolves those against the rule's search identifiers
//! (reporting unknown identifiers and patterns matching nothing); then
//! [`Condition::evaluate`] decides a match from each identifier's truth.

use std::fmt;

/// Nesting limit of parentheses and `not`s: deeper conditions are an error
/// (and never a stack overflow).
pub const MAX_DEPTH: usize = 256;

/// A parsed `condition:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// A detection identifier (`selection`).
    Ident(String),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    /// `1 of PATTERN` (`all: false`) or `all of PATTERN` (`all: true`).
    Quantified {
        all: bool,
        pattern: Pattern,
    },
}

/// What `1 of` / `all of` range over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `them`: every identifier not starting with `_`.
    Them,
    /// `selection*`: identifiers matching the glob (`*` wildcards).
    Glob(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("condition error at position {position}: {message}")]
pub struct ConditionError {
    /// 0-based character offset in the condition text. Errors of
    /// [`Condition::expand`] have position 0 (the AST keeps no positions);
    /// their message names the identifier or pattern at fault.
    pub position: usize,
    pub message: String,
}

impl ConditionError {
    fn new(position: usize, message: impl Into<String>) -> Self {
        ConditionError {
            position,
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    /// A run of identifier characters (keywords included).
    Word(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Character offset of the token's first character.
    pos: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '*')
}

fn tokenize(text: &str) -> Result<Vec<Token>, ConditionError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().enumerate().peekable();
    while let Some((pos, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => tokens.push(Token {
                tok: Tok::LParen,
                pos,
            }),
            ')' => tokens.push(Token {
                tok: Tok::RParen,
                pos,
            }),
            c if is_word_char(c) => {
                let mut word = String::from(c);
                while let Some(&(_, c)) = chars.peek() {
                    if !is_word_char(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token {
                    tok: Tok::Word(word),
                    pos,
                });
            }
            c => {
                return Err(ConditionError::new(
                    pos,
                    format!("unexpected character {c:?}"),
                ))
            }
        }
    }
    Ok(tokens)
}

/// The reserved words, lowercase. An identifier may not be spelled like one
/// (in any case).
const KEYWORDS: [&str; 6] = ["and", "or", "not", "of", "all", "them"];

fn keyword(word: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .copied()
        .find(|k| word.eq_ignore_ascii_case(k))
}

// ---------------------------------------------------------------------------
// Parser

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// Character count of the text: the position of "end of condition".
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn peek_keyword(&self, offset: usize) -> Option<&'static str> {
        match self.tokens.get(self.next + offset) {
            Some(Token {
                tok: Tok::Word(w), ..
            }) => keyword(w),
            _ => None,
        }
    }

    fn bump(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).cloned();
        if token.is_some() {
            self.next += 1;
        }
        token
    }

    fn enter(&mut self, pos: usize) -> Result<(), ConditionError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ConditionError::new(
                pos,
                format!("condition nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Condition, ConditionError> {
        let mut items = vec![self.and_expr()?];
        while self.peek_keyword(0) == Some("or") {
            self.bump();
            items.push(self.and_expr()?);
        }
        Ok(join(items, false))
    }

    fn and_expr(&mut self) -> Result<Condition, ConditionError> {
        let mut items = vec![self.unary()?];
        while self.peek_keyword(0) == Some("and") {
            self.bump();
            items.push(self.unary()?);
        }
        Ok(join(items, true))
    }

    fn unary(&mut self) -> Result<Condition, ConditionError> {
        if self.peek_keyword(0) == Some("not") {
            let pos = self.bump().map_or(self.end, |t| t.pos);
            self.enter(pos)?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Condition::Not(Box::new(inner)));
        }
        self.primary()
    }

    /// The error for a missing operand, `after` describing what came before.
    fn missing_operand(&self, after: &str) -> ConditionError {
        match self.peek() {
            None => ConditionError::new(
                self.end,
                format!("expected an identifier or expression after {after}, found the end of the condition"),
            ),
            Some(Token { tok: Tok::RParen, pos }) => ConditionError::new(
                *pos,
                format!("expected an identifier or expression after {after}, found ')'"),
            ),
            Some(Token { tok: Tok::Word(w), pos }) => ConditionError::new(
                *pos,
                format!("expected an identifier or expression after {after}, found keyword '{w}'"),
            ),
            Some(Token { tok: Tok::LParen, pos }) => {
                ConditionError::new(*pos, "unexpected '('")
            }
        }
    }

    fn primary(&mut self) -> Result<Condition, ConditionError> {
        let before = match self.next.checked_sub(1).and_then(|i| self.tokens.get(i)) {
            None => "the start of the condition".to_string(),
            Some(Token {
                tok: Tok::LParen, ..
            }) => "'('".to_string(),
            Some(Token {
                tok: Tok::RParen, ..
            }) => "')'".to_string(),
            Some(Token {
                tok: Tok::Word(w), ..
            }) => format!("'{w}'"),
        };
        let Some(token) = self.peek().cloned() else {
            return Err(self.missing_operand(&before));
        };
        match token.tok {
            Tok::LParen => {
                self.bump();
                self.enter(token.pos)?;
                if let Some(Token {
                    tok: Tok::RParen,
                    pos,
                }) = self.peek()
                {
                    return Err(ConditionError::new(*pos, "empty parentheses"));
                }
                let inner = self.or_expr()?;
                match self.bump() {
                    Some(Token {
                        tok: Tok::RParen, ..
                    }) => {}
                    Some(other) => return Err(self.unexpected_after_operand(&other)),
                    None => {
                        return Err(ConditionError::new(
                            token.pos,
                            "unclosed parenthesis: '(' without matching ')'",
                        ))
                    }
                }
                self.depth -= 1;
                Ok(inner)
            }
            Tok::RParen => Err(self.missing_operand(&before)),
            Tok::Word(word) => {
                if self.peek_keyword(1) == Some("of") {
                    return self.quantified(&word, token.pos);
                }
                if let Some(k) = keyword(&word) {
                    return Err(match k {
                        "and" | "or" => ConditionError::new(
                            token.pos,
                            format!("operator '{word}' without a left operand"),
                        ),
                        "all" => ConditionError::new(token.pos, "expected 'of' after 'all'"),
                        _ => self.missing_operand(&before),
                    });
                }
                if let Some(star) = word.chars().position(|c| c == '*') {
                    return Err(ConditionError::new(
                        token.pos + star,
                        "wildcard '*' is only allowed in the pattern of '1 of' or 'all of'",
                    ));
                }
                self.bump();
                Ok(Condition::Ident(word))
            }
        }
    }

    /// `QUANT of PATTERN`, the current token being `QUANT` and the next `of`.
    fn quantified(&mut self, quant: &str, pos: usize) -> Result<Condition, ConditionError> {
        let all = if quant == "1" {
            false
        } else if quant.eq_ignore_ascii_case("all") {
            true
        } else if quant.eq_ignore_ascii_case("any") {
            return Err(ConditionError::new(
                pos,
                "'any of' is not in the sigma specification; use '1 of'",
            ));
        } else if quant.chars().all(|c| c.is_ascii_digit()) {
            return Err(ConditionError::new(
                pos,
                format!(
                    "'{quant} of' is not supported: the sigma specification has only '1 of' and 'all of'"
                ),
            ));
        } else {
            return Err(ConditionError::new(
                pos,
                format!("expected '1' or 'all' before 'of', found '{quant}'"),
            ));
        };
        self.bump();
        let of_pos = self.bump().map_or(self.end, |t| t.pos);
        let pattern = match self.bump() {
            Some(Token {
                tok: Tok::Word(w),
                pos: wpos,
            }) => match keyword(&w) {
                Some("them") => Pattern::Them,
                Some(_) => {
                    return Err(ConditionError::new(
                        wpos,
                        format!("expected 'them' or an identifier pattern after 'of', found keyword '{w}'"),
                    ))
                }
                None => Pattern::Glob(w),
            },
            Some(Token { tok, pos: tpos }) => {
                let found = if tok == Tok::LParen { "'('" } else { "')'" };
                return Err(ConditionError::new(
                    tpos,
                    format!("expected 'them' or an identifier pattern after 'of', found {found}"),
                ));
            }
            None => {
                return Err(ConditionError::new(
                    self.end.max(of_pos + 2),
                    "expected 'them' or an identifier pattern after 'of', found the end of the condition",
                ))
            }
        };
        Ok(Condition::Quantified { all, pattern })
    }

    /// The error for a token where only `and`, `or`, `)` or the end may come.
    fn unexpected_after_operand(&self, token: &Token) -> ConditionError {
        match &token.tok {
            Tok::RParen => ConditionError::new(token.pos, "unmatched ')'"),
            Tok::LParen => {
                ConditionError::new(token.pos, "missing operator ('and' or 'or') before '('")
            }
            Tok::Word(w) => match keyword(w) {
                Some("not") => ConditionError::new(
                    token.pos,
                    "missing operator before 'not' (write 'and not' or 'or not')",
                ),
                Some(_) => ConditionError::new(token.pos, format!("unexpected keyword '{w}'")),
                None => ConditionError::new(
                    token.pos,
                    format!("missing operator ('and' or 'or') before '{w}'"),
                ),
            },
        }
    }
}

/// `items` joined by `and` (`all`) or `or`, nested joins of the same kind
/// flattened, a single item returned as it is.
fn join(items: Vec<Condition>, all: bool) -> Condition {
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match (item, all) {
            (Condition::And(inner), true) | (Condition::Or(inner), false) => flat.extend(inner),
            (item, _) => flat.push(item),
        }
    }
    if flat.len() == 1 {
        if let Some(only) = flat.pop() {
            return only;
        }
    }
    if all {
        Condition::And(flat)
    } else {
        Condition::Or(flat)
    }
}

/// Parses one condition string.
pub fn parse_condition(text: &str) -> Result<Condition, ConditionError> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(ConditionError::new(0, "empty condition"));
    }
    let mut parser = Parser {
        tokens,
        next: 0,
        end: text.chars().count(),
        depth: 0,
    };
    let condition = parser.or_expr()?;
    if let Some(token) = parser.bump() {
        return Err(parser.unexpected_after_operand(&token));
    }
    Ok(condition)
}

/// Parses the legacy list form of `condition:` (a YAML list of strings): the
/// OR of each. An error's position is inside the failing item, which its
/// message names (1-based).
pub fn parse_conditions(list: &[String]) -> Result<Condition, ConditionError> {
    if list.is_empty() {
        return Err(ConditionError::new(0, "empty condition list"));
    }
    let items = list
        .iter()
        .enumerate()
        .map(|(i, text)| {
            parse_condition(text).map_err(|e| {
                ConditionError::new(
                    e.position,
                    format!("condition list item {}: {}", i + 1, e.message),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(join(items, false))
}

// ---------------------------------------------------------------------------
// Expansion and evaluation

/// Whether `text` matches `pattern`, `*` matching any run of characters
/// (iterative, linear backtracking: no blow-up on many stars).
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

impl Pattern {
    /// Whether `identifier` is in the range of this pattern. `them` takes
    /// every identifier not starting with `_` (the specification's
    /// convention). A glob is "the same as `them`, restricted to matching
    /// identifiers", so it skips `_`-prefixed identifiers as well, unless the
    /// pattern itself starts with `_` (`1 of _filter*` names them on purpose).
    /// `condition` is the rule's condition attribute, never a search
    /// identifier, and is never matched.
    pub fn matches(&self, identifier: &str) -> bool {
        if identifier == "condition" {
            return false;
        }
        match self {
            Pattern::Them => !identifier.starts_with('_'),
            Pattern::Glob(glob) => {
                (!identifier.starts_with('_') || glob.starts_with('_'))
                    && glob_match(glob, identifier)
            }
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Them => f.write_str("them"),
            Pattern::Glob(glob) => f.write_str(glob),
        }
    }
}

impl Condition {
    /// Resolves `1 of` / `all of` against the rule's search identifiers (its
    /// detection keys, in order; a `condition` key is ignored) into `Or` /
    /// `And` of `Ident`s, and checks that every `Ident` is defined. The
    /// result holds only `Ident`, `Not`, `And`, `Or`, nested joins
    /// flattened. An unknown identifier, or a pattern matching nothing, is an
    /// error naming it: the rule cannot run as written.
    pub fn expand(&self, identifiers: &[String]) -> Result<Condition, ConditionError> {
        match self {
            Condition::Ident(name) => {
                if identifiers.iter().any(|i| i == name) {
                    Ok(self.clone())
                } else {
                    Err(ConditionError::new(
                        0,
                        format!("unknown search identifier '{name}'"),
                    ))
                }
            }
            Condition::Not(inner) => Ok(Condition::Not(Box::new(inner.expand(identifiers)?))),
            Condition::And(items) => Ok(join(
                items
                    .iter()
                    .map(|c| c.expand(identifiers))
                    .collect::<Result<_, _>>()?,
                true,
            )),
            Condition::Or(items) => Ok(join(
                items
                    .iter()
                    .map(|c| c.expand(identifiers))
                    .collect::<Result<_, _>>()?,
                false,
            )),
            Condition::Quantified { all, pattern } => {
                let mut matched: Vec<Condition> = Vec::new();
                for id in identifiers {
                    if pattern.matches(id)
                        && !matched.iter().any(|m| m == &Condition::Ident(id.clone()))
                    {
                        matched.push(Condition::Ident(id.clone()));
                    }
                }
                if matched.is_empty() {
                    let quant = if *all { "all" } else { "1" };
                    return Err(ConditionError::new(
                        0,
                        format!("'{quant} of {pattern}' matches no search identifier"),
                    ));
                }
                Ok(join(matched, *all))
            }
        }
    }

    /// Evaluates an expanded condition, `truth` telling whether a search
    /// identifier matched; short-circuits, so `truth` is asked only as needed.
    /// A `Quantified` node (a condition not [expanded](Self::expand)) is
    /// false.
    pub fn evaluate(&self, truth: &mut impl FnMut(&str) -> bool) -> bool {
        match self {
            Condition::Ident(name) => truth(name),
            Condition::Not(inner) => !inner.evaluate(truth),
            Condition::And(items) => items.iter().all(|c| c.evaluate(truth)),
            Condition::Or(items) => items.iter().any(|c| c.evaluate(truth)),
            Condition::Quantified { .. } => false,
        }
    }

    /// The search identifiers this condition names directly (`Ident`s),
    /// each once, in order of appearance.
    pub fn identifiers(&self) -> Vec<&str> {
        fn walk<'a>(c: &'a Condition, out: &mut Vec<&'a str>) {
            match c {
                Condition::Ident(name) => {
                    if !out.contains(&name.as_str()) {
                        out.push(name);
                    }
                }
                Condition::Not(inner) => walk(inner, out),
                Condition::And(items) | Condition::Or(items) => {
                    items.iter().for_each(|i| walk(i, out))
                }
                Condition::Quantified { .. } => {}
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }
}

/// Renders condition text that parses back to the same condition (for a
/// condition as the parser builds it: joins flattened, of two or more items,
/// identifiers that are valid and not keywords). Parentheses only where
/// needed.
impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Ident(name) => f.write_str(name),
            Condition::Not(inner) => match **inner {
                Condition::And(_) | Condition::Or(_) => write!(f, "not ({inner})"),
                _ => write!(f, "not {inner}"),
            },
            Condition::And(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    match item {
                        Condition::And(_) | Condition::Or(_) => write!(f, "({item})")?,
                        _ => write!(f, "{item}")?,
                    }
                }
                Ok(())
            }
            Condition::Or(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    match item {
                        Condition::Or(_) => write!(f, "({item})")?,
                        _ => write!(f, "{item}")?,
                    }
                }
                Ok(())
            }
            Condition::Quantified { all, pattern } => {
                write!(f, "{} of {pattern}", if *all { "all" } else { "1" })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Condition {
        Condition::Ident(s.into())
    }
    fn not(c: Condition) -> Condition {
        Condition::Not(Box::new(c))
    }
    fn one(p: &str) -> Condition {
        Condition::Quantified {
            all: false,
            pattern: Pattern::Glob(p.into()),
        }
    }
    fn all(p: &str) -> Condition {
        Condition::Quantified {
            all: true,
            pattern: Pattern::Glob(p.into()),
        }
    }
    fn p(s: &str) -> Condition {
        parse_condition(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }
    fn err(s: &str) -> (usize, String) {
        let e = parse_condition(s).expect_err(s);
        (e.position, e.message)
    }
    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn condition_identifiers() {
        assert_eq!(p("selection"), id("selection"));
        assert_eq!(p("  keywords1  "), id("keywords1"));
        assert_eq!(p("filter_main_mdadm.conf"), id("filter_main_mdadm.conf"));
        assert_eq!(p("sel-1"), id("sel-1"));
        assert_eq!(p("Selection"), id("Selection"));
        // a word that merely starts with a keyword is an identifier
        assert_eq!(
            p("notepad and order"),
            Condition::And(vec![id("notepad"), id("order")])
        );
        assert_eq!(p("(selection)"), id("selection"));
        assert_eq!(p("((selection))"), id("selection"));
    }

    #[test]
    fn condition_precedence() {
        // or < and < not
        assert_eq!(
            p("a or b and c"),
            Condition::Or(vec![id("a"), Condition::And(vec![id("b"), id("c")])])
        );
        assert_eq!(
            p("a and b or c"),
            Condition::Or(vec![Condition::And(vec![id("a"), id("b")]), id("c")])
        );
        assert_eq!(
            p("not a and b"),
            Condition::And(vec![not(id("a")), id("b")])
        );
        assert_eq!(
            p("not a or not b"),
            Condition::Or(vec![not(id("a")), not(id("b"))])
        );
        assert_eq!(p("not not a"), not(not(id("a"))));
        // parentheses override
        assert_eq!(
            p("selection1 and (keywords1 or keywords2)"),
            Condition::And(vec![
                id("selection1"),
                Condition::Or(vec![id("keywords1"), id("keywords2")])
            ])
        );
        assert_eq!(
            p("not (a or b)"),
            not(Condition::Or(vec![id("a"), id("b")]))
        );
        // flattening
        assert_eq!(
            p("a and (b and c) and ((d))"),
            Condition::And(vec![id("a"), id("b"), id("c"), id("d")])
        );
        assert_eq!(
            p("(a or b) or c or (d or (e or f))"),
            Condition::Or(["a", "b", "c", "d", "e", "f"].map(id).to_vec())
        );
        assert_eq!(
            p("keywords and not filters"),
            Condition::And(vec![id("keywords"), not(id("filters"))])
        );
    }

    #[test]
    fn condition_quantifiers() {
        assert_eq!(p("all of selection*"), all("selection*"));
        assert_eq!(p("all of selection_*"), all("selection_*"));
        assert_eq!(
            p("1 of them"),
            Condition::Quantified {
                all: false,
                pattern: Pattern::Them
            }
        );
        assert_eq!(
            p("ALL OF THEM"),
            Condition::Quantified {
                all: true,
                pattern: Pattern::Them
            }
        );
        // `x of` binds to its pattern only
        assert_eq!(
            p("1 of selection* and keywords"),
            Condition::And(vec![one("selection*"), id("keywords")])
        );
        assert_eq!(
            p("1 of selection* and not 1 of filter*"),
            Condition::And(vec![one("selection*"), not(one("filter*"))])
        );
        assert_eq!(p("not 1 of filter*"), not(one("filter*")));
        assert_eq!(p("(1 of x)"), one("x"));
        assert_eq!(p("1 of *_main_*"), one("*_main_*"));
        assert_eq!(
            p("selection and not 1 of filter_main_* and not 1 of filter_optional_*"),
            Condition::And(vec![
                id("selection"),
                not(one("filter_main_*")),
                not(one("filter_optional_*"))
            ])
        );
    }

    #[test]
    fn condition_keywords_case_insensitive() {
        assert_eq!(
            p("a AND b Or NOT c"),
            Condition::Or(vec![Condition::And(vec![id("a"), id("b")]), not(id("c"))])
        );
        assert_eq!(p("All Of sel*"), all("sel*"));
        assert_eq!(
            p("1 OF Them"),
            Condition::Quantified {
                all: false,
                pattern: Pattern::Them
            }
        );
    }

    #[test]
    fn condition_legacy_list() {
        let list = ids(&["sel1 and not filter", "sel2", "1 of x*"]);
        assert_eq!(
            parse_conditions(&list).unwrap(),
            Condition::Or(vec![
                Condition::And(vec![id("sel1"), not(id("filter"))]),
                id("sel2"),
                one("x*")
            ])
        );
        assert_eq!(parse_conditions(&ids(&["a"])).unwrap(), id("a"));
        assert_eq!(
            parse_conditions(&ids(&["a or b", "c"])).unwrap(),
            Condition::Or(vec![id("a"), id("b"), id("c")])
        );
        let e = parse_conditions(&ids(&["a", "b and"])).unwrap_err();
        assert_eq!(e.position, 5);
        assert!(e.message.starts_with("condition list item 2: "), "{e}");
        let e = parse_conditions(&[]).unwrap_err();
        assert_eq!(
            (e.position, e.message.as_str()),
            (0, "empty condition list")
        );
    }

    #[test]
    fn condition_errors() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty condition"),
            ("   ", 0, "empty condition"),
            ("(a and b", 0, "unclosed parenthesis"),
            ("a and (b or (c)", 6, "unclosed parenthesis"),
            ("a)", 1, "unmatched ')'"),
            ("(a))", 3, "unmatched ')'"),
            (")", 0, "found ')'"),
            ("()", 1, "empty parentheses"),
            ("a and", 5, "after 'and', found the end"),
            ("a or ", 5, "after 'or', found the end"),
            ("not", 3, "after 'not', found the end"),
            ("a and not", 9, "after 'not', found the end"),
            ("and a", 0, "operator 'and' without a left operand"),
            ("a and or b", 6, "operator 'or' without a left operand"),
            ("(and a)", 1, "operator 'and' without a left operand"),
            ("a and )", 6, "after 'and', found ')'"),
            ("a b", 2, "missing operator ('and' or 'or') before 'b'"),
            ("a (b)", 2, "missing operator ('and' or 'or') before '('"),
            ("a not b", 2, "missing operator before 'not'"),
            ("a | count() > 5", 2, "unexpected character '|'"),
            ("sel1 && sel2", 5, "unexpected character '&'"),
            ("a =", 2, "unexpected character '='"),
            ("sel*", 3, "wildcard '*'"),
            ("a and f*x", 7, "wildcard '*'"),
            ("2 of sel*", 0, "'2 of' is not supported"),
            ("a or 10 of them", 5, "'10 of' is not supported"),
            (
                "any of sel*",
                0,
                "'any of' is not in the sigma specification",
            ),
            ("x of sel", 0, "expected '1' or 'all' before 'of'"),
            ("1 of", 4, "after 'of', found the end"),
            ("1 of (a)", 5, "after 'of', found '('"),
            ("1 of and", 5, "found keyword 'and'"),
            ("all", 0, "expected 'of' after 'all'"),
            ("all sel*", 0, "expected 'of' after 'all'"),
            ("of", 0, "found keyword 'of'"),
            ("them", 0, "found keyword 'them'"),
            ("a and them", 6, "found keyword 'them'"),
            ("1 of them them", 10, "unexpected keyword 'them'"),
            ("é and (b", 6, "unclosed parenthesis"),
            ("ü ü", 2, "missing operator"),
        ];
        for &(text, position, message) in cases {
            let (pos, msg) = err(text);
            assert_eq!(pos, position, "{text:?}: {msg}");
            assert!(msg.contains(message), "{text:?}: {msg:?} lacks {message:?}");
            assert_eq!(msg, msg.to_lowercase(), "{text:?}: message not lowercase");
        }
    }

    #[test]
    fn condition_depth_limit() {
        let ok = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(p(&ok), id("a"));
        let deep = format!(
            "{}a{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        let (pos, msg) = err(&deep);
        assert_eq!(pos, MAX_DEPTH);
        assert!(msg.contains("nested too deeply"), "{msg}");
        let nots = format!("{}a", "not ".repeat(MAX_DEPTH + 1));
        assert!(err(&nots).1.contains("nested too deeply"));
        // very deep input: an error, no stack overflow
        let huge = "(".repeat(100_000);
        assert!(err(&huge).1.contains("nested too deeply"));
        let huge = "not ".repeat(100_000);
        assert!(err(&huge).1.contains("nested too deeply"));
        // long flat input is fine
        let long = vec!["a"; 10_000].join(" and ");
        assert!(matches!(p(&long), Condition::And(v) if v.len() == 10_000));
    }

    #[test]
    fn condition_expand() {
        let rule = ids(&[
            "selection_img",
            "selection_cli",
            "filter_main_a",
            "filter_optional_b",
            "_private",
            "_filter_x",
        ]);
        let ex = |s: &str| p(s).expand(&rule);
        assert_eq!(
            ex("all of selection_*").unwrap(),
            Condition::And(vec![id("selection_img"), id("selection_cli")])
        );
        assert_eq!(
            ex("1 of selection_* and not 1 of filter_*").unwrap(),
            Condition::And(vec![
                Condition::Or(vec![id("selection_img"), id("selection_cli")]),
                not(Condition::Or(vec![
                    id("filter_main_a"),
                    id("filter_optional_b")
                ]))
            ])
        );
        // `them` leaves out identifiers starting with `_`
        assert_eq!(
            ex("1 of them").unwrap(),
            Condition::Or(
                [
                    "selection_img",
                    "selection_cli",
                    "filter_main_a",
                    "filter_optional_b"
                ]
                .map(id)
                .to_vec()
            )
        );
        // so does a pattern that does not itself start with `_`
        assert_eq!(
            ex("all of *filter*").unwrap(),
            Condition::And(vec![id("filter_main_a"), id("filter_optional_b")])
        );
        // a pattern starting with `_` names them on purpose
        assert_eq!(
            ex("1 of _*").unwrap(),
            Condition::Or(vec![id("_private"), id("_filter_x")])
        );
        assert_eq!(ex("not 1 of _filter*").unwrap(), not(id("_filter_x")));
        // an `_` identifier named directly is fine
        assert_eq!(ex("_private").unwrap(), id("_private"));
        // a single match is the identifier itself; a pattern without `*` is exact
        assert_eq!(ex("1 of selection_img").unwrap(), id("selection_img"));
        assert_eq!(ex("all of filter_main*").unwrap(), id("filter_main_a"));
        // flattening after expansion
        assert_eq!(
            ex("selection_img or 1 of filter_*").unwrap(),
            Condition::Or(vec![
                id("selection_img"),
                id("filter_main_a"),
                id("filter_optional_b")
            ])
        );
        // errors name what is at fault
        let e = ex("selection and not filter").unwrap_err();
        assert_eq!(e.message, "unknown search identifier 'selection'");
        let e = ex("selection_img and not 1 of nothing_*").unwrap_err();
        assert_eq!(e.message, "'1 of nothing_*' matches no search identifier");
        let e = ex("all of selection").unwrap_err();
        assert_eq!(e.message, "'all of selection' matches no search identifier");
        let e = p("1 of them")
            .expand(&ids(&["_a", "condition"]))
            .unwrap_err();
        assert_eq!(e.message, "'1 of them' matches no search identifier");
        // `condition` is never a search identifier; duplicates count once
        assert_eq!(
            p("1 of them")
                .expand(&ids(&["sel", "condition", "sel"]))
                .unwrap(),
            id("sel")
        );
    }

    #[test]
    fn condition_glob() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "abc"));
        assert!(glob_match("a*c", "abc"));
        assert!(glob_match("a*c", "ac"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(!glob_match("abc", "abcd"));
        assert!(!glob_match("sel", "selection"));
        assert!(glob_match("*_main_*", "filter_main_x"));
        assert!(glob_match("**a**", "a"));
        assert!(!glob_match(&"*a".repeat(50), &"a".repeat(49)));
    }

    #[test]
    fn condition_evaluate() {
        let rule = ids(&["a", "b", "f1", "f2"]);
        let c = p("(a or b) and not 1 of f*").expand(&rule).unwrap();
        let eval = |set: &[&str]| {
            let mut asked = Vec::new();
            let r = c.evaluate(&mut |name: &str| {
                asked.push(name.to_string());
                set.contains(&name)
            });
            (r, asked)
        };
        assert_eq!(eval(&["a"]), (true, ids(&["a", "f1", "f2"])));
        assert_eq!(eval(&["b", "f2"]), (false, ids(&["a", "b", "f1", "f2"])));
        // short-circuit: neither a nor b, so no filter is asked
        assert_eq!(eval(&[]), (false, ids(&["a", "b"])));
        assert_eq!(eval(&["a", "f1"]), (false, ids(&["a", "f1"])));
        let c = p("all of them").expand(&rule).unwrap();
        assert!(c.evaluate(&mut |_| true));
        assert!(!c.evaluate(&mut |n| n != "f2"));
        assert!(!one("x").evaluate(&mut |_| true));
    }

    #[test]
    fn condition_display() {
        for text in [
            "a",
            "not a",
            "a and b",
            "a or b and c",
            "(a or b) and c",
            "not (a and b)",
            "not (a or b) or c",
            "1 of them and not all of filter_*",
            "not 1 of x*",
            "a and (b or not (c and d))",
        ] {
            let c = p(text);
            assert_eq!(c.to_string(), text);
            assert_eq!(p(&c.to_string()), c);
        }
        assert_eq!(p("A AND (b) Or NOT(c)").to_string(), "A and b or not c");
    }

    #[test]
    fn condition_identifiers_list() {
        assert_eq!(
            p("a and not (b or a) and 1 of c*").identifiers(),
            vec!["a", "b"]
        );
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        fn ident() -> impl Strategy<Value = String> {
            "[a-zA-Z_][a-zA-Z0-9_.-]{0,8}".prop_filter("keyword", |s| keyword(s).is_none())
        }

        fn pattern() -> impl Strategy<Value = Pattern> {
            prop_oneof![
                Just(Pattern::Them),
                "[a-z_*][a-z0-9_*.-]{0,6}"
                    .prop_filter("keyword", |s| keyword(s).is_none())
                    .prop_map(Pattern::Glob),
            ]
        }

        /// Conditions as the parser builds them: joins flattened, of two or
        /// more items.
        fn condition() -> impl Strategy<Value = Condition> {
            let leaf = prop_oneof![
                ident().prop_map(Condition::Ident),
                (any::<bool>(), pattern())
                    .prop_map(|(all, pattern)| Condition::Quantified { all, pattern }),
            ];
            leaf.prop_recursive(6, 48, 4, |inner| {
                prop_oneof![
                    inner.clone().prop_map(|c| Condition::Not(Box::new(c))),
                    prop::collection::vec(inner.clone(), 2..5).prop_map(|v| join(v, true)),
                    prop::collection::vec(inner, 2..5).prop_map(|v| join(v, false)),
                ]
            })
        }

        fn token_soup() -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop_oneof![
                    Just("and"),
                    Just("or"),
                    Just("not"),
                    Just("1"),
                    Just("2"),
                    Just("all"),
                    Just("of"),
                    Just("them"),
                    Just("("),
                    Just(")"),
                    Just("sel"),
                    Just("f*"),
                    Just("_x"),
                    Just("|"),
                ],
                0..12,
            )
            .prop_map(|v| v.join(" "))
        }

        /// Only `Ident`, `Not` and `And`/`Or` of two or more items.
        fn only_basic(c: &Condition) -> bool {
            match c {
                Condition::Ident(_) => true,
                Condition::Not(i) => only_basic(i),
                Condition::And(v) | Condition::Or(v) => v.len() >= 2 && v.iter().all(only_basic),
                Condition::Quantified { .. } => false,
            }
        }

        proptest! {
            #[test]
            fn condition_no_panic(text in any::<String>()) {
                if let Err(e) = parse_condition(&text) {
                    prop_assert!(e.position <= text.chars().count());
                }
            }

            #[test]
            fn condition_no_panic_tokens(text in token_soup()) {
                match parse_condition(&text) {
                    Ok(c) => prop_assert_eq!(parse_condition(&c.to_string()), Ok(c)),
                    Err(e) => prop_assert!(e.position <= text.chars().count()),
                }
            }

            #[test]
            fn condition_round_trip(c in condition()) {
                let text = c.to_string();
                prop_assert_eq!(parse_condition(&text), Ok(c), "{}", text);
            }

            #[test]
            fn condition_expand_evaluate(c in condition(), truth in prop::collection::vec(any::<bool>(), 8)) {
                let names: Vec<String> = c.identifiers().iter().map(|s| s.to_string()).collect();
                let mut all = names.clone();
                all.extend(["sel_a", "sel_b", "_sel_c"].map(String::from));
                if let Ok(ex) = c.expand(&all) {
                    prop_assert!(only_basic(&ex), "{:?}", ex);
                    let _ = ex.evaluate(&mut |n: &str| truth[n.len() % truth.len()]);
                }
            }
        }
    }
}
