//! The query expressions of `GET /api/v1/metrics/query?series=..`:
//! Prometheus series selectors, optionally inside `rate(..[range])`.
//!
//! ```text
//! expr     := selector | "rate" "(" selector "[" duration "]" ")"
//! selector := name | name? "{" (matcher ("," matcher)* ","?)? "}"
//! matcher  := label ("=" | "!=" | "=~" | "!~") string
//! string   := "..." | '...'   (escapes \\ \" \' \n \t)
//! duration := (digits unit)+  units ms s m h d w y, e.g. 5m, 1h30m
//! ```
//!
//! Regular expressions are anchored at both ends, as in Prometheus, and
//! compiled with a size limit (a query is outside data). A selector must
//! have at least one matcher that does not match the empty string, so that
//! no query reads every series of a tenant by accident. Errors carry the
//! byte position where parsing stopped.

use crate::series::{is_label_name, is_metric_name, SeriesKey};
use regex::{Regex, RegexBuilder};
use std::fmt;

/// Compiled size of one regular expression at most.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Bytes of an expression at most.
pub const MAX_EXPR_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {pos}: {message}")]
pub struct ParseError {
    pub pos: usize,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

/// One label matcher. An absent label matches as the empty string.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub label: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Regex>,
}

impl Matcher {
    pub fn matches(&self, value: Option<&str>) -> bool {
        let value = value.unwrap_or("");
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            (_, None) => false,
        }
    }
}

/// A series selector: all its matchers must match.
#[derive(Debug, Clone)]
pub struct Selector {
    pub matchers: Vec<Matcher>,
}

impl Selector {
    pub fn matches(&self, key: &SeriesKey) -> bool {
        self.matchers.iter().all(|m| m.matches(key.get(&m.label)))
    }

    /// The metric name when the selector fixes it (`name{..}` or
    /// `{__name__="name"}`), for a lookup by name instead of a scan.
    pub fn metric_name(&self) -> Option<&str> {
        self.matchers
            .iter()
            .find(|m| m.label == "__name__" && m.op == MatchOp::Equal)
            .map(|m| m.value.as_str())
    }
}

/// An aggregation across series, at each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
}

impl AggOp {
    fn from_word(word: &str) -> Option<AggOp> {
        Some(match word {
            "sum" => AggOp::Sum,
            "avg" => AggOp::Avg,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "count" => AggOp::Count,
            _ => return None,
        })
    }
}

/// A query expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// The series' values.
    Select(Selector),
    /// Per-second increase of counters over the range (ms) before each step.
    Rate { selector: Selector, range_ms: i64 },
    /// `op by (labels) (inner)`: one series per distinct value of the
    /// labels (one in all without `by`); the metric name is dropped.
    Aggregate {
        op: AggOp,
        by: Vec<String>,
        inner: Box<Expr>,
    },
}

impl Expr {
    pub fn selector(&self) -> &Selector {
        match self {
            Expr::Select(s) | Expr::Rate { selector: s, .. } => s,
            Expr::Aggregate { inner, .. } => inner.selector(),
        }
    }
}

/// Parses a query expression.
pub fn parse_expr(input: &str) -> Result<Expr, ParseError> {
    if input.len() > MAX_EXPR_BYTES {
        return Err(ParseError {
            pos: MAX_EXPR_BYTES,
            message: format!("expression over {MAX_EXPR_BYTES} bytes"),
        });
    }
    let mut p = Parser { s: input, pos: 0 };
    p.skip_ws();
    let expr = p.expr(true)?;
    p.skip_ws();
    if p.pos < p.s.len() {
        return Err(p.error("unexpected text after the expression"));
    }
    Ok(expr)
}

/// Parses a selector alone.
pub fn parse_selector(input: &str) -> Result<Selector, ParseError> {
    match parse_expr(input)? {
        Expr::Select(s) => Ok(s),
        _ => Err(ParseError {
            pos: 0,
            message: "expected a selector, found a function".into(),
        }),
    }
}

/// Parses a duration such as `15s`, `5m` or `1h30m` into milliseconds; it
/// must be positive.
pub fn parse_duration(s: &str) -> Result<i64, ParseError> {
    let err = |pos: usize, message: &str| ParseError {
        pos,
        message: message.to_string(),
    };
    if s.is_empty() {
        return Err(err(0, "expected a duration such as 5m"));
    }
    let bytes = s.as_bytes();
    let (mut pos, mut total) = (0usize, 0i64);
    while pos < bytes.len() {
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        let number: i64 = s[start..pos]
            .parse()
            .map_err(|_| err(start, "expected a number in the duration"))?;
        let unit_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
            pos += 1;
        }
        let unit_ms = match &s[unit_start..pos] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return Err(err(unit_start, "expected a unit: ms, s, m, h, d, w or y")),
        };
        total = number
            .checked_mul(unit_ms)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| err(start, "duration too long"))?;
    }
    if total <= 0 {
        return Err(err(0, "a duration must be positive"));
    }
    Ok(total)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            pos: self.pos,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), ParseError> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected '{}'", c as char)))
        }
    }

    fn word_end(&self) -> usize {
        let bytes = self.s.as_bytes();
        let mut end = self.pos;
        while end < bytes.len()
            && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'_' | b':'))
        {
            end += 1;
        }
        end
    }

    fn peek_word(&self) -> Option<&str> {
        let end = self.word_end();
        (end > self.pos).then(|| &self.s[self.pos..end])
    }

    fn after_word_is(&self, c: u8) -> bool {
        let bytes = self.s.as_bytes();
        let mut i = self.word_end();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        bytes.get(i) == Some(&c)
    }

    fn expr(&mut self, top: bool) -> Result<Expr, ParseError> {
        let word = self.peek_word();
        if let Some(op) = word.and_then(AggOp::from_word) {
            if self.after_word_is(b'(') || self.word_after_word() == Some("by") {
                if !top {
                    return Err(self.error("aggregations do not nest"));
                }
                return self.aggregate(op, word.map_or(0, str::len));
            }
        }
        if word == Some("rate") && self.after_word_is(b'(') {
            return self.rate();
        }
        Ok(Expr::Select(self.selector()?))
    }

    fn aggregate(&mut self, op: AggOp, word_len: usize) -> Result<Expr, ParseError> {
        self.pos += word_len;
        self.skip_ws();
        let mut by = None;
        if self.peek_word() == Some("by") {
            by = Some(self.grouping()?);
        }
        self.expect(b'(')?;
        self.skip_ws();
        let inner = self.expr(false)?;
        self.expect(b')')?;
        self.skip_ws();
        if by.is_none() && self.peek_word() == Some("by") {
            by = Some(self.grouping()?);
        }
        Ok(Expr::Aggregate {
            op,
            by: by.unwrap_or_default(),
            inner: Box::new(inner),
        })
    }

    /// `by (label, ...)`, at `by`.
    fn grouping(&mut self) -> Result<Vec<String>, ParseError> {
        self.pos += 2;
        self.expect(b'(')?;
        let mut labels = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b')') {
                self.pos += 1;
                return Ok(labels);
            }
            match self.peek_word() {
                Some(w) if is_label_name(w) => {
                    labels.push(w.to_string());
                    self.pos += w.len();
                }
                _ => return Err(self.error("expected a label name")),
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {}
                _ => return Err(self.error("expected ',' or ')'")),
            }
        }
    }

    fn rate(&mut self) -> Result<Expr, ParseError> {
        self.pos += 4;
        self.skip_ws();
        self.expect(b'(')?;
        let selector = self.selector()?;
        self.expect(b'[')?;
        self.skip_ws();
        let start = self.pos;
        while self.pos < self.s.len() && self.s.as_bytes()[self.pos] != b']' {
            self.pos += 1;
        }
        let range_ms = parse_duration(self.s[start..self.pos].trim()).map_err(|e| ParseError {
            pos: start + e.pos,
            message: e.message,
        })?;
        self.expect(b']')?;
        self.expect(b')')?;
        Ok(Expr::Rate { selector, range_ms })
    }

    /// The word after the current word and whitespace.
    fn word_after_word(&self) -> Option<&str> {
        let bytes = self.s.as_bytes();
        let mut i = self.word_end();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        (i > start).then(|| &self.s[start..i])
    }

    fn selector(&mut self) -> Result<Selector, ParseError> {
        self.skip_ws();
        let mut matchers = Vec::new();
        let start = self.pos;
        if let Some(word) = self.peek_word() {
            if !is_metric_name(word) {
                return Err(self.error(format!("{word:?} is not a metric name")));
            }
            matchers.push(equal("__name__", word));
            self.pos += word.len();
            self.skip_ws();
        }
        if self.peek() == Some(b'{') {
            self.pos += 1;
            self.matchers(&mut matchers)?;
        } else if matchers.is_empty() {
            return Err(self.error("expected a metric name or '{'"));
        }
        if !matchers.iter().any(|m| !m.matches(None)) {
            return Err(ParseError {
                pos: start,
                message: "a selector needs a metric name or a matcher that does not match the empty string".into(),
            });
        }
        Ok(Selector { matchers })
    }

    fn matchers(&mut self, out: &mut Vec<Matcher>) -> Result<(), ParseError> {
        loop {
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(());
            }
            out.push(self.matcher()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn matcher(&mut self) -> Result<Matcher, ParseError> {
        let label = match self.peek_word() {
            Some(w) if is_label_name(w) => w.to_string(),
            Some(w) => return Err(self.error(format!("{w:?} is not a label name"))),
            None => return Err(self.error("expected a label name")),
        };
        self.pos += label.len();
        self.skip_ws();
        let rest = &self.s.as_bytes()[self.pos..];
        let (op, len) = match rest {
            [b'=', b'~', ..] => (MatchOp::Regex, 2),
            [b'!', b'~', ..] => (MatchOp::NotRegex, 2),
            [b'!', b'=', ..] => (MatchOp::NotEqual, 2),
            [b'=', ..] => (MatchOp::Equal, 1),
            _ => return Err(self.error("expected one of =, !=, =~, !~")),
        };
        self.pos += len;
        self.skip_ws();
        let value_pos = self.pos;
        let value = self.string()?;
        if label == "__name__" && op == MatchOp::Equal && !is_metric_name(&value) {
            return Err(ParseError {
                pos: value_pos,
                message: format!("{value:?} is not a metric name"),
            });
        }
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                Some(compile(&value).map_err(|message| ParseError {
                    pos: value_pos,
                    message,
                })?)
            }
            _ => None,
        };
        Ok(Matcher {
            label,
            op,
            value,
            regex,
        })
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let quote = match self.peek() {
            Some(q @ (b'"' | b'\'')) => q as char,
            _ => return Err(self.error("expected a quoted string")),
        };
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.s[self.pos + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos += 1 + i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, c @ ('\\' | '"' | '\''))) => out.push(c),
                    Some((j, _)) => {
                        return Err(ParseError {
                            pos: self.pos + 1 + j,
                            message: "unknown escape".into(),
                        })
                    }
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err(ParseError {
            pos: start,
            message: "unterminated string".into(),
        })
    }
}

fn equal(label: &str, value: &str) -> Matcher {
    Matcher {
        label: label.to_string(),
        op: MatchOp::Equal,
        value: value.to_string(),
        regex: None,
    }
}

fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regular expression: {e}"))
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        };
        write!(f, "{}{op}", self.label)?;
        crate::series::write_quoted(f, &self.value)
    }
}

impl fmt::Display for Selector {
    /// Canonical text: `{__name__="up",job="x"}`; parses back to the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.matchers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(labels: &[(&str, &str)]) -> SeriesKey {
        SeriesKey::new("node_cpu_seconds_total", labels.iter().copied()).unwrap()
    }

    #[test]
    fn selectors_match_as_prometheus() {
        let s =
            parse_selector(r#"node_cpu_seconds_total{mode!="idle", cpu=~"0|1", host!~'db.*',}"#)
                .unwrap();
        assert_eq!(s.metric_name(), Some("node_cpu_seconds_total"));
        assert!(s.matches(&key(&[("mode", "user"), ("cpu", "1"), ("host", "web1")])));
        assert!(!s.matches(&key(&[("mode", "idle"), ("cpu", "1")])));
        assert!(
            !s.matches(&key(&[("mode", "user"), ("cpu", "10")])),
            "anchored"
        );
        assert!(!s.matches(&key(&[("mode", "user"), ("cpu", "0"), ("host", "db2")])));
        // An absent label is the empty string.
        let s = parse_selector(r#"{__name__=~"node_.*", job=""}"#).unwrap();
        assert!(s.matches(&key(&[])));
        assert!(!s.matches(&key(&[("job", "x")])));
    }

    #[test]
    fn rate_and_durations() {
        match parse_expr(" rate ( http_requests_total{code=\"200\"} [ 1h30m ] ) ").unwrap() {
            Expr::Rate { selector, range_ms } => {
                assert_eq!(range_ms, 5_400_000);
                assert_eq!(selector.matchers.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        // A metric may be called rate.
        assert!(matches!(parse_expr("rate").unwrap(), Expr::Select(_)));
        assert_eq!(parse_duration("15s"), Ok(15_000));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("99999999999999y").is_err());
    }

    #[test]
    fn aggregations() {
        for input in [
            "sum by (mode) (rate(node_cpu_seconds_total[5m]))",
            "sum(rate(node_cpu_seconds_total[5m])) by (mode)",
            "sum by(mode)(rate(node_cpu_seconds_total [5m]))",
        ] {
            match parse_expr(input).unwrap() {
                Expr::Aggregate { op, by, inner } => {
                    assert_eq!(op, AggOp::Sum);
                    assert_eq!(by, vec!["mode".to_string()]);
                    assert!(
                        matches!(
                            *inner,
                            Expr::Rate {
                                range_ms: 300_000,
                                ..
                            }
                        ),
                        "{input}"
                    );
                }
                other => panic!("{input}: {other:?}"),
            }
        }
        assert!(matches!(
            parse_expr("max(up)").unwrap(),
            Expr::Aggregate { op: AggOp::Max, ref by, .. } if by.is_empty()
        ));
        // Metrics may be called like the operators.
        assert!(matches!(parse_expr("count").unwrap(), Expr::Select(_)));
        assert!(matches!(
            parse_expr(r#"sum{a="b"}"#).unwrap(),
            Expr::Select(_)
        ));
        let err = parse_expr("sum(max(up))").unwrap_err();
        assert_eq!(
            (err.pos, err.message.as_str()),
            (4, "aggregations do not nest")
        );
        let err = parse_expr("sum by (a b) (up)").unwrap_err();
        assert_eq!(err.pos, 10);
        let err = parse_expr("avg by (1) (up)").unwrap_err();
        assert_eq!(err.pos, 8);
    }

    #[test]
    fn errors_say_where() {
        let cases = [
            ("", 0, "expected a metric name"),
            ("{}", 0, "needs a metric name"),
            (r#"{job=~".*"}"#, 0, "needs a metric name"),
            ("up{job}", 6, "expected one of"),
            ("up{job=x}", 7, "quoted string"),
            (r#"up{job="x}"#, 7, "unterminated"),
            (r#"up{job="x" mode="y"}"#, 11, "expected ',' or '}'"),
            (r#"up{9a="x"}"#, 3, "not a label name"),
            (r#"up{a=~"("}"#, 6, "invalid regular expression"),
            (r#"up{a="\q"}"#, 7, "unknown escape"),
            ("up x", 3, "unexpected text"),
            ("rate(up[5q])", 9, "expected a unit"),
            ("rate(up)", 7, "expected '['"),
            (r#"{__name__="1x"}"#, 10, "not a metric name"),
        ];
        for (input, pos, message) in cases {
            let err = parse_expr(input).expect_err(input);
            assert_eq!(err.pos, pos, "{input}: {err}");
            assert!(err.message.contains(message), "{input}: {err}");
        }
    }

    #[test]
    fn display_parses_back() {
        let s = parse_selector(r#"up{job="a\"b\\c\n",x!~"y+"}"#).unwrap();
        let again = parse_selector(&s.to_string()).unwrap();
        assert_eq!(s.to_string(), again.to_string());
    }
}
