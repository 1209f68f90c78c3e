//! Events by their ids: what `EventStore::get` and `id:` in a query ask.
//!
//! Partitions made since issue 11 index the `id` field (one raw term per
//! event), so a lookup is one term per id and segment. Partitions made
//! before have it stored only: tantivy refuses a term query on them, so
//! their segments are scanned through the document store instead. That
//! costs a read of every document, but only once per lookup and only in
//! partitions that retention is already counting down.

use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{BitSet, DocId, DocSet, Score, SegmentReader, TantivyDocument, TantivyError, Term};
use vigil_core::EventId;

/// Matches the documents whose event id is one of `ids`.
#[derive(Debug, Clone)]
pub struct IdQuery {
    field: Field,
    /// The ids as indexed: 32 lowercase hex digits, sorted, no repeats.
    ids: Vec<String>,
}

impl IdQuery {
    pub fn new(field: Field, ids: &[EventId]) -> Self {
        let mut ids: Vec<String> = ids.iter().map(EventId::to_string).collect();
        ids.sort_unstable();
        ids.dedup();
        IdQuery { field, ids }
    }

    /// Documents of the segment whose id term is one of ours.
    fn from_index(&self, reader: &SegmentReader, docs: &mut BitSet) -> tantivy::Result<()> {
        let index = reader.inverted_index(self.field)?;
        for id in &self.ids {
            let term = Term::from_field_text(self.field, id);
            let Some(info) = index.get_term_info(&term)? else {
                continue;
            };
            let mut postings =
                index.read_block_postings_from_terminfo(&info, IndexRecordOption::Basic)?;
            while !postings.docs().is_empty() {
                for &doc in postings.docs() {
                    docs.insert(doc);
                }
                postings.advance();
            }
        }
        Ok(())
    }

    /// Documents of a segment that does not index ids: read each one's
    /// stored id (partitions of before issue 11).
    fn from_store(&self, reader: &SegmentReader, docs: &mut BitSet) -> tantivy::Result<()> {
        let store = reader.get_store_reader(1)?;
        for doc in 0..reader.max_doc() {
            if reader
                .alive_bitset()
                .is_some_and(|alive| alive.is_deleted(doc))
            {
                continue;
            }
            let stored: TantivyDocument = store.get(doc)?;
            let id = stored.get_first(self.field).and_then(|v| v.as_str());
            if id.is_some_and(|id| self.ids.binary_search_by(|x| x.as_str().cmp(id)).is_ok()) {
                docs.insert(doc);
            }
        }
        Ok(())
    }
}

impl Query for IdQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for IdQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut docs = BitSet::with_max_value(reader.max_doc());
        if !self.ids.is_empty() {
            // The segment's own schema: it says how its partition was made.
            if reader.schema().get_field_entry(self.field).is_indexed() {
                self.from_index(reader, &mut docs)?;
            } else {
                self.from_store(reader, &mut docs)?;
            }
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
        Ok(Explanation::new("IdQuery", 1.0))
    }
}
