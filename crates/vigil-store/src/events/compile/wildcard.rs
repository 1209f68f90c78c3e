//! Wildcard patterns (`*` any run, `?` one character) over dictionary keys.
//!
//! Not tantivy's `RegexQuery`: its automaton must spell out the JSON path
//! bytes of the key, and its DFA stops at 1,000 states, which a pattern of
//! some 50 `?` or a long literal (a Sigma `contains` of a command line)
//! exceeds. Here the key range narrows to the path and the pattern's
//! literal head (`bast*` only visits keys starting with `bast`), and each
//! key's value is matched by a plain glob matcher: no size limit, no regex
//! syntax, so no literal character is ever special.

use std::sync::Arc;

use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::schema::Field;
use tantivy::{BitSet, DocId, DocSet, Score, SegmentReader, TantivyError};
use vigil_query::WildcardPiece;

use super::key_range::{add_docs, KeyRange};

/// One step of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Char(char),
    AnyChar,
    AnyRun,
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    steps: Vec<Step>,
}

impl Pattern {
    /// The pattern of `pieces`, literals passed through `normalize` (the
    /// same normalization the indexed values got).
    pub fn new(pieces: &[WildcardPiece], normalize: impl Fn(&str) -> String) -> Self {
        let mut steps = Vec::new();
        for piece in pieces {
            match piece {
                WildcardPiece::Literal(text) => {
                    steps.extend(normalize(text).chars().map(Step::Char))
                }
                WildcardPiece::AnyChar => steps.push(Step::AnyChar),
                // `**` is `*`.
                WildcardPiece::AnyRun if steps.last() == Some(&Step::AnyRun) => {}
                WildcardPiece::AnyRun => steps.push(Step::AnyRun),
            }
        }
        Pattern { steps }
    }

    /// The literal text every match starts with.
    pub fn literal_head(&self) -> String {
        self.steps
            .iter()
            .map_while(|step| match step {
                Step::Char(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// Whether the whole of `value` matches. Greedy with backtracking to
    /// the last `*`: O(pattern × value) at worst, linear in practice.
    pub fn matches(&self, value: &str) -> bool {
        let value: Vec<char> = value.chars().collect();
        let steps = &self.steps;
        let (mut p, mut v) = (0, 0);
        // Position after the last `*` seen, and where its run now ends.
        let mut backtrack: Option<(usize, usize)> = None;
        while v < value.len() {
            match steps.get(p) {
                Some(Step::AnyRun) => {
                    backtrack = Some((p + 1, v));
                    p += 1;
                }
                Some(Step::AnyChar) => (p, v) = (p + 1, v + 1),
                Some(Step::Char(c)) if *c == value[v] => (p, v) = (p + 1, v + 1),
                _ => match backtrack {
                    Some((after_star, run_end)) => {
                        backtrack = Some((after_star, run_end + 1));
                        (p, v) = (after_star, run_end + 1);
                    }
                    None => return false,
                },
            }
        }
        steps[p.min(steps.len())..]
            .iter()
            .all(|s| *s == Step::AnyRun)
    }
}

/// Matches documents having a term of `field` whose key is `prefix`
/// followed by a value matching `pattern`.
#[derive(Debug, Clone)]
pub struct WildcardQuery {
    field: Field,
    prefix: Vec<u8>,
    pattern: Arc<Pattern>,
}

impl WildcardQuery {
    pub fn new(field: Field, prefix: Vec<u8>, pattern: Pattern) -> Self {
        WildcardQuery {
            field,
            prefix,
            pattern: Arc::new(pattern),
        }
    }
}

impl Query for WildcardQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for WildcardQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut docs = BitSet::with_max_value(reader.max_doc());
        let index = reader.inverted_index(self.field)?;
        let head = [
            self.prefix.as_slice(),
            self.pattern.literal_head().as_bytes(),
        ]
        .concat();
        let skip = self.prefix.len();
        add_docs(&index, &KeyRange::prefix(head), &mut docs, |key| {
            std::str::from_utf8(&key[skip..]).is_ok_and(|value| self.pattern.matches(value))
        })?;
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(docs), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        Ok(Explanation::new("WildcardQuery", 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use WildcardPiece::{AnyChar, AnyRun};

    fn lit(text: &str) -> WildcardPiece {
        WildcardPiece::Literal(text.to_string())
    }

    fn pattern(pieces: Vec<WildcardPiece>) -> Pattern {
        Pattern::new(&pieces, str::to_string)
    }

    #[test]
    fn globs_match_whole_values() {
        let p = pattern(vec![lit("a"), AnyRun, lit("b"), AnyChar]);
        assert!(p.matches("abx"));
        assert!(p.matches("a-b-bx"));
        assert!(!p.matches("ab"));
        assert!(!p.matches("xabx"));
        let p = pattern(vec![AnyRun, lit("aab")]);
        assert!(p.matches("aaab"));
        assert!(!p.matches("aaba"));
        let p = pattern(vec![AnyRun, AnyRun]);
        assert!(p.matches("") && p.matches("anything"));
        assert!(pattern(vec![]).matches(""));
        assert!(!pattern(vec![]).matches("x"));
        let p = pattern(vec![AnyChar, AnyChar]);
        assert!(p.matches("éa") && !p.matches("a"));
    }

    #[test]
    fn literal_head_stops_at_the_first_wildcard() {
        assert_eq!(
            pattern(vec![lit("ba"), lit("st"), AnyRun]).literal_head(),
            "bast"
        );
        assert_eq!(pattern(vec![AnyChar, lit("x")]).literal_head(), "");
    }

    #[test]
    fn long_patterns_have_no_size_limit() {
        let mut pieces = vec![AnyRun];
        pieces.extend(std::iter::repeat_n(AnyChar, 500));
        pieces.push(lit(&"x".repeat(5_000)));
        let value = format!("{}{}", "y".repeat(600), "x".repeat(5_000));
        assert!(pattern(pieces).matches(&value));
    }
}
