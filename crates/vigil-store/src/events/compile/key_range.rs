//! A query over ranges of term-dictionary keys.
//!
//! tantivy's `RangeQuery` refuses JSON fields unless they are fast, and its
//! fast-field path cannot see the `ips`/`nums` views nor tell a JSON path's
//! value types apart the way the inverted index does. The dictionary key of
//! a JSON term is `path \0 type value`, with values encoded so that bytes
//! sort like values (big-endian order-preserving numbers, UTF-8 strings,
//! fixed-width hex IPs). So every JSON range Vigil needs (numbers of one
//! type, strings, CIDRs, "this path exists") is an exact key range, which
//! this query walks directly.

use std::io;
use std::ops::Bound;

use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::termdict::TermDictionary;
use tantivy::{BitSet, DocId, DocSet, InvertedIndexReader, Score, SegmentReader, TantivyError};

/// A range of dictionary keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub lower: Bound<Vec<u8>>,
    pub upper: Bound<Vec<u8>>,
}

impl KeyRange {
    /// Every key starting with `prefix`.
    pub fn prefix(prefix: Vec<u8>) -> Self {
        KeyRange {
            upper: prefix_end(&prefix),
            lower: Bound::Included(prefix),
        }
    }

    /// Whether any key of `dict` is in the range.
    pub fn any_in(&self, dict: &TermDictionary) -> io::Result<bool> {
        let mut stream = self.stream(dict)?;
        Ok(stream.advance())
    }

    fn stream<'a>(
        &self,
        dict: &'a TermDictionary,
    ) -> io::Result<tantivy::termdict::TermStreamer<'a>> {
        let builder = dict.range();
        let builder = match &self.lower {
            Bound::Included(key) => builder.ge(key),
            Bound::Excluded(key) => builder.gt(key),
            Bound::Unbounded => builder,
        };
        let builder = match &self.upper {
            Bound::Included(key) => builder.le(key),
            Bound::Excluded(key) => builder.lt(key),
            Bound::Unbounded => builder,
        };
        builder.into_stream()
    }
}

/// The first key after every key starting with `prefix` (excluded).
fn prefix_end(prefix: &[u8]) -> Bound<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Bound::Excluded(end);
        }
    }
    Bound::Unbounded
}

/// Matches the documents having a term of `field` whose key is in any of
/// `ranges`. Every match scores `boost` (like tantivy's own range queries).
#[derive(Debug, Clone)]
pub struct KeyRangeQuery {
    field: Field,
    ranges: Vec<KeyRange>,
}

impl KeyRangeQuery {
    pub fn new(field: Field, ranges: Vec<KeyRange>) -> Self {
        KeyRangeQuery { field, ranges }
    }
}

impl Query for KeyRangeQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for KeyRangeQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut docs = BitSet::with_max_value(reader.max_doc());
        let index = reader.inverted_index(self.field)?;
        for range in &self.ranges {
            add_docs(&index, range, &mut docs, |_| true)?;
        }
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(docs), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        Ok(Explanation::new("KeyRangeQuery", 1.0))
    }
}

/// Adds to `docs` the documents of every term whose key is in `range` and
/// passes `accept`.
pub fn add_docs(
    index: &InvertedIndexReader,
    range: &KeyRange,
    docs: &mut BitSet,
    mut accept: impl FnMut(&[u8]) -> bool,
) -> io::Result<()> {
    let mut terms = range.stream(index.terms())?;
    while terms.advance() {
        if !accept(terms.key()) {
            continue;
        }
        let mut postings =
            index.read_block_postings_from_terminfo(terms.value(), IndexRecordOption::Basic)?;
        while !postings.docs().is_empty() {
            for &doc in postings.docs() {
                docs.insert(doc);
            }
            postings.advance();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_skips_max_bytes() {
        assert_eq!(prefix_end(b"ab"), Bound::Excluded(b"ac".to_vec()));
        assert_eq!(prefix_end(&[b'a', 0xff]), Bound::Excluded(b"b".to_vec()));
        assert_eq!(prefix_end(&[0xff, 0xff]), Bound::Unbounded);
        assert_eq!(prefix_end(b""), Bound::Unbounded);
    }
}
