//! Renders a [`Query`] back to canonical query syntax.
//!
//! For any tree [`parse`](crate::parse) returns, `parse(&q.to_string())`
//! gives `q` again, so a query can be stored, shown or rewritten as text.
//! Operators are spelled `AND`, `OR`, `NOT`; parentheses appear only where
//! precedence needs them; bare text is escaped just enough to read back the
//! same. Trees `parse` never builds (an empty `And`, a one-part `Or`) render
//! as an equivalent query. Field names are written as they are.

use std::fmt::{self, Display, Formatter, Write};
use std::ops::Bound;

use crate::cidr::{self, Cidr};
use crate::{parse_event_id, Predicate, Query, TextMatch, WildcardPiece, ID_FIELD};

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Query::All => f.write_str("*"),
            Query::And(parts) => write_joined(f, parts, " AND ", "*", |q| {
                matches!(q, Query::And(_) | Query::Or(_))
            }),
            Query::Or(parts) => {
                write_joined(f, parts, " OR ", "NOT *", |q| matches!(q, Query::Or(_)))
            }
            Query::Not(inner) => {
                f.write_str("NOT ")?;
                write_operand(f, inner, matches!(**inner, Query::And(_) | Query::Or(_)))
            }
            Query::Field { field, predicate } => {
                write!(f, "{field}:")?;
                match predicate {
                    // `id:` and an id read back as `Query::Id`: an escaped
                    // first digit keeps this the field condition it is.
                    Predicate::Equals(value)
                        if field == ID_FIELD && parse_event_id(value).is_some() =>
                    {
                        write!(f, "\\{value}")
                    }
                    _ => write_predicate(f, predicate),
                }
            }
            Query::Id(id) => write!(f, "{ID_FIELD}:{:032x}", id.get()),
            Query::Text(text) => write_text(f, text),
        }
    }
}

/// Parts joined by an operator; `empty` is what no part at all means.
fn write_joined(
    f: &mut Formatter<'_>,
    parts: &[Query],
    separator: &str,
    empty: &str,
    needs_parens: fn(&Query) -> bool,
) -> fmt::Result {
    if parts.is_empty() {
        return f.write_str(empty);
    }
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        write_operand(f, part, needs_parens(part))?;
    }
    Ok(())
}

fn write_operand(f: &mut Formatter<'_>, query: &Query, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({query})")
    } else {
        write!(f, "{query}")
    }
}

fn write_predicate(f: &mut Formatter<'_>, predicate: &Predicate) -> fmt::Result {
    match predicate {
        Predicate::Equals(value) if value.is_empty() => write_quoted(f, value),
        Predicate::Equals(value) => {
            let network_like = cidr::classify(value) != Cidr::No;
            write_bare(f, value, true, network_like)
        }
        Predicate::Phrase(phrase) => write_quoted(f, phrase),
        Predicate::Wildcard(pieces) => write_pattern(f, pieces),
        Predicate::Range { lower, upper } => write_range(f, lower, upper),
        Predicate::Cidr {
            network,
            prefix_len,
        } => write!(f, "{network}/{prefix_len}"),
        Predicate::Exists => f.write_str("*"),
    }
}

fn write_text(f: &mut Formatter<'_>, text: &TextMatch) -> fmt::Result {
    match text {
        TextMatch::Word(word) if word.is_empty() => write_quoted(f, word),
        TextMatch::Word(word) => {
            if matches!(word.as_str(), "AND" | "OR" | "NOT") {
                f.write_char('\\')?;
            }
            write_bare(f, word, true, false)
        }
        TextMatch::Phrase(phrase) => write_quoted(f, phrase),
        TextMatch::Wildcard(pieces) => write_pattern(f, pieces),
    }
}

/// Wildcard pieces: literals escaped, `*` and `?` as themselves.
fn write_pattern(f: &mut Formatter<'_>, pieces: &[WildcardPiece]) -> fmt::Result {
    if pieces.is_empty() {
        return write_quoted(f, "");
    }
    for (i, piece) in pieces.iter().enumerate() {
        match piece {
            WildcardPiece::Literal(text) => write_bare(f, text, i == 0, false)?,
            WildcardPiece::AnyRun => f.write_char('*')?,
            WildcardPiece::AnyChar => f.write_char('?')?,
        }
    }
    Ok(())
}

/// One-sided ranges as comparisons (`>=a`), others in brackets.
fn write_range(f: &mut Formatter<'_>, lower: &Bound<String>, upper: &Bound<String>) -> fmt::Result {
    let (op, limit) = match (lower, upper) {
        (Bound::Excluded(v), Bound::Unbounded) => (">", v),
        (Bound::Included(v), Bound::Unbounded) => (">=", v),
        (Bound::Unbounded, Bound::Excluded(v)) => ("<", v),
        (Bound::Unbounded, Bound::Included(v)) => ("<=", v),
        _ => {
            f.write_char(if matches!(lower, Bound::Excluded(_)) {
                '{'
            } else {
                '['
            })?;
            write_bound(f, lower)?;
            f.write_str(" TO ")?;
            write_bound(f, upper)?;
            return f.write_char(if matches!(upper, Bound::Excluded(_)) {
                '}'
            } else {
                ']'
            });
        }
    };
    f.write_str(op)?;
    write_bound_value(f, limit)
}

fn write_bound(f: &mut Formatter<'_>, bound: &Bound<String>) -> fmt::Result {
    match bound {
        Bound::Included(v) | Bound::Excluded(v) => write_bound_value(f, v),
        Bound::Unbounded => f.write_char('*'),
    }
}

/// A bound bare when it reads back unchanged, quoted otherwise.
fn write_bound_value(f: &mut Formatter<'_>, value: &str) -> fmt::Result {
    let needs_quotes = value.is_empty()
        || value == "*"
        || value.starts_with('=')
        || value
            .chars()
            .any(|c| c.is_whitespace() || "()[]{}\"\\".contains(c));
    if needs_quotes {
        write_quoted(f, value)
    } else {
        f.write_str(value)
    }
}

/// `"..."` with `\` and `"` escaped.
fn write_quoted(f: &mut Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

/// Bare text with `\` before every character that would otherwise end the
/// word, act as a wildcard or field separator, or (at the start of a term)
/// read as an operator or a range.
fn write_bare(
    f: &mut Formatter<'_>,
    text: &str,
    at_start: bool,
    escape_slash: bool,
) -> fmt::Result {
    for (i, c) in text.chars().enumerate() {
        let special = c.is_whitespace()
            || "()\"\\:*?".contains(c)
            || (escape_slash && c == '/')
            || (at_start && i == 0 && "-!&|[{<>".contains(c));
        if special {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{parse, Predicate, Query, TextMatch};

    /// Parses, renders, and checks the rendering reads back the same.
    fn canonical(input: &str) -> String {
        let query = parse(input).expect("test query parses");
        let text = query.to_string();
        assert_eq!(parse(&text), Ok(query), "{input:?} rendered as {text:?}");
        text
    }

    #[test]
    fn operators_and_parentheses() {
        assert_eq!(canonical(""), "*");
        assert_eq!(canonical("a b || c"), "a AND b OR c");
        assert_eq!(canonical("(a || b) c"), "(a OR b) AND c");
        assert_eq!(canonical("!(a b)"), "NOT (a AND b)");
        assert_eq!(canonical("- -a"), "NOT NOT a");
        assert_eq!(canonical("a OR (b OR c)"), "a OR b OR c");
    }

    #[test]
    fn values() {
        assert_eq!(canonical("f:x"), "f:x");
        assert_eq!(canonical(r#"f:"a \"q\" \\""#), r#"f:"a \"q\" \\""#);
        assert_eq!(canonical(r"f:a\*b?"), r"f:a\*b?");
        assert_eq!(canonical("f:*"), "f:*");
        assert_eq!(canonical(r"f:\*"), r"f:\*");
        assert_eq!(canonical("ip:2001:db8::/32"), "ip:2001:db8::/32");
        assert_eq!(canonical(r"ip:10.0.0.0\/8"), r"ip:10.0.0.0\/8");
        assert_eq!(canonical("ip:2001:db8::1"), r"ip:2001\:db8\:\:1");
        assert_eq!(canonical(r"f:\[x"), r"f:\[x");
        let id = "0123456789abcdef0123456789ABCDEF";
        assert_eq!(
            canonical(&format!("id:{id}")),
            format!("id:{}", id.to_lowercase())
        );
        assert_eq!(canonical(&format!("id:\\{id}")), format!("id:\\{id}"));
        assert_eq!(canonical(r"f:\>x"), r"f:\>x");
    }

    #[test]
    fn ranges() {
        assert_eq!(canonical("n:[1 TO 5}"), "n:[1 TO 5}");
        assert_eq!(canonical("n:{* TO 5]"), "n:<=5");
        assert_eq!(canonical("n:[1 TO *]"), "n:>=1");
        assert_eq!(canonical("n:{* TO *}"), "n:[* TO *]");
        assert_eq!(canonical(r#"n:>"=x""#), r#"n:>"=x""#);
        assert_eq!(canonical(r#"n:["*" TO "a b"]"#), r#"n:["*" TO "a b"]"#);
        assert_eq!(
            canonical(r#"t:["2024-05-01T00:00:00Z" TO *]"#),
            "t:>=2024-05-01T00:00:00Z"
        );
    }

    #[test]
    fn words_that_look_like_syntax() {
        assert_eq!(canonical(r"\AND"), r"\AND");
        assert_eq!(canonical(r"\-x"), r"\-x");
        assert_eq!(canonical(r"\!x"), r"\!x");
        assert_eq!(canonical(r"\&&"), r"\&&");
        assert_eq!(canonical(r"a\:b"), r"a\:b");
        assert_eq!(canonical(r"\*"), r"\*");
        assert_eq!(canonical(r"a\ b"), r"a\ b");
    }

    #[test]
    fn trees_parse_never_builds_render_equivalently() {
        assert_eq!(Query::And(vec![]).to_string(), "*");
        assert_eq!(Query::Or(vec![]).to_string(), "NOT *");
        let empty = Query::Field {
            field: "f".into(),
            predicate: Predicate::Equals(String::new()),
        };
        assert_eq!(empty.to_string(), r#"f:"""#);
        assert_eq!(
            Query::Text(TextMatch::Wildcard(vec![])).to_string(),
            r#""""#
        );
    }
}
