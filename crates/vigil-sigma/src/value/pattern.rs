//! Sigma string values: wildcards (`*`, `?`), backslash escapes, and the
//! compiled comparison (exact, prefix, suffix, substring or regex).

use std::borrow::Cow;

/// Characters the `windash` modifier treats as interchangeable.
pub(crate) const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// One piece of a Sigma string.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Lit(String),
    /// `*`: any run of characters, possibly empty.
    Any,
    /// `?`: exactly one character.
    One,
}

/// Splits a Sigma string into literal runs and wildcards. `\*`, `\?` and
/// `\\` are escapes; a backslash before anything else (or at the end) is a
/// plain backslash.
pub(crate) fn parse(raw: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    lit.push(n);
                    chars.next();
                }
                _ => lit.push('\\'),
            },
            '*' | '?' => {
                if !lit.is_empty() {
                    out.push(Token::Lit(std::mem::take(&mut lit)));
                }
                out.push(if c == '*' { Token::Any } else { Token::One });
            }
            _ => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Token::Lit(lit));
    }
    out
}

/// The text of a Sigma string without wildcards, or None when it has any.
pub(crate) fn plain_text(raw: &str) -> Option<String> {
    let tokens = parse(raw);
    match tokens.as_slice() {
        [] => Some(String::new()),
        [Token::Lit(s)] => Some(s.clone()),
        _ => None,
    }
}

/// Lowercases for case-insensitive comparison, without allocating when the
/// text is already lowercase ASCII.
pub(crate) fn lower(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Maps every `windash` character to `-`, so that one comparison covers
/// all the permutations the modifier stands for.
pub(crate) fn fold_dashes(s: &str) -> Cow<'_, str> {
    if s.contains(DASHES) {
        Cow::Owned(
            s.chars()
                .map(|c| if DASHES.contains(&c) { '-' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// A compiled string comparison. Literals are stored already folded
/// (lowercased unless cased, dashes folded under windash).
#[derive(Debug, Clone)]
pub(crate) enum StrMatch {
    Exact(String),
    Prefix(String),
    Suffix(String),
    /// The needle, and a searcher built once for it (building one per
    /// comparison, as `str::contains` does, was a tenth of a hunt's time).
    Contains(String, Box<memchr::memmem::Finder<'static>>),
    /// `*`: any value at all.
    Anything,
    /// The regex and the literal runs of the pattern (for needles).
    Regex(regex::Regex, Vec<String>),
}

impl StrMatch {
    /// Compiles tokens (with the `contains`/`startswith`/`endswith` wrapping
    /// already applied). `fold` is applied to every literal; a wildcard
    /// pattern's regex may compile to `regex_bytes` at most.
    pub(crate) fn compile(
        tokens: &[Token],
        fold: &dyn Fn(&str) -> String,
        regex_bytes: usize,
    ) -> Result<StrMatch, regex::Error> {
        let mut toks: Vec<Token> = Vec::with_capacity(tokens.len());
        for t in tokens {
            match t {
                Token::Any if toks.last() == Some(&Token::Any) => {}
                Token::Lit(s) => match toks.last_mut() {
                    Some(Token::Lit(prev)) => prev.push_str(&fold(s)),
                    _ => toks.push(Token::Lit(fold(s))),
                },
                other => toks.push(other.clone()),
            }
        }
        use Token::*;
        Ok(match toks.as_slice() {
            [] => StrMatch::Exact(String::new()),
            [Lit(s)] => StrMatch::Exact(s.clone()),
            [Any] => StrMatch::Anything,
            [Lit(s), Any] => StrMatch::Prefix(s.clone()),
            [Any, Lit(s)] => StrMatch::Suffix(s.clone()),
            [Any, Lit(s), Any] => StrMatch::Contains(
                s.clone(),
                Box::new(memchr::memmem::Finder::new(s.as_bytes()).into_owned()),
            ),
            _ => {
                let mut re = String::from("(?s)^");
                for t in &toks {
                    match t {
                        Lit(s) => re.push_str(&regex::escape(s)),
                        Any => re.push_str(".*"),
                        One => re.push('.'),
                    }
                }
                re.push('$');
                let lits = toks
                    .iter()
                    .filter_map(|t| match t {
                        Lit(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                StrMatch::Regex(
                    regex::RegexBuilder::new(&re)
                        .size_limit(regex_bytes)
                        .dfa_size_limit(regex_bytes.min(1 << 21))
                        .build()?,
                    lits,
                )
            }
        })
    }

    /// `text` must be folded the same way as the literals.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        match self {
            StrMatch::Exact(s) => text == s,
            StrMatch::Prefix(s) => text.starts_with(s.as_str()),
            StrMatch::Suffix(s) => text.ends_with(s.as_str()),
            StrMatch::Contains(_, finder) => finder.find(text.as_bytes()).is_some(),
            StrMatch::Anything => true,
            StrMatch::Regex(r, _) => r.is_match(text),
        }
    }

    /// The longest literal any match must contain (as folded), if any.
    pub(crate) fn needle(&self, windash: bool) -> Option<String> {
        let longest = |s: &str| -> Option<String> {
            let best = if windash {
                s.split('-').max_by_key(|p| p.len()).unwrap_or("")
            } else {
                s
            };
            (!best.is_empty()).then(|| best.to_string())
        };
        match self {
            StrMatch::Exact(s)
            | StrMatch::Prefix(s)
            | StrMatch::Suffix(s)
            | StrMatch::Contains(s, _) => longest(s),
            StrMatch::Anything => None,
            StrMatch::Regex(_, lits) => lits
                .iter()
                .filter_map(|l| longest(l))
                .max_by_key(|l| l.len()),
        }
    }
}
