//! How far the input journal's records are stored: the checkpoint.
//!
//! Records reach the pipeline in journal order, but their events are
//! stored out of order (tenants in parallel shards, several stores in
//! flight). The journal may forget a record only once it and every record
//! before it are done, so the checkpoint is the end of the longest done
//! prefix. A [`Ticket`] stands for the records of one coalesced batch; its
//! tenant pieces share it, and the last piece to finish (stored, or given
//! up on and counted lost) drops it, which marks them done.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Declares a checkpoint (the journal's `Checkpointer::mark`).
type Mark = Box<dyn Fn(u64) + Send + Sync>;

/// The records in the pipeline, in journal order, and whether each is done.
pub struct Progress {
    records: Mutex<VecDeque<(u64, bool)>>,
    mark: Mark,
}

impl Progress {
    pub fn new(mark: impl Fn(u64) + Send + Sync + 'static) -> Arc<Progress> {
        Arc::new(Progress {
            records: Mutex::new(VecDeque::new()),
            mark: Box::new(mark),
        })
    }

    /// Registers records as they are taken from the queue (journal order);
    /// the ticket marks them done when dropped.
    pub fn ticket(self: &Arc<Self>, seqs: Vec<u64>) -> Option<Arc<Ticket>> {
        if seqs.is_empty() {
            return None;
        }
        let mut records = self.lock();
        records.extend(seqs.iter().map(|&seq| (seq, false)));
        Some(Arc::new(Ticket {
            seqs,
            progress: self.clone(),
        }))
    }

    fn done(&self, seqs: &[u64]) {
        let mut records = self.lock();
        for seq in seqs {
            if let Ok(at) = records.binary_search_by_key(seq, |(s, _)| *s) {
                records[at].1 = true;
            }
        }
        let mut last = None;
        while let Some(&(seq, true)) = records.front() {
            last = Some(seq);
            records.pop_front();
        }
        if let Some(seq) = last {
            (self.mark)(seq);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(u64, bool)>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The journal records of one batch; done when the last clone goes.
pub struct Ticket {
    seqs: Vec<u64>,
    progress: Arc<Progress>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.progress.done(&self.seqs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_is_the_done_prefix() {
        let marks = Arc::new(Mutex::new(Vec::new()));
        let seen = marks.clone();
        let progress = Progress::new(move |seq| seen.lock().unwrap().push(seq));
        let first = progress.ticket(vec![1, 2]).unwrap();
        let second = progress.ticket(vec![3]).unwrap();
        let third = progress.ticket(vec![4]).unwrap();
        let piece = second.clone();
        assert!(progress.ticket(Vec::new()).is_none());
        drop(second);
        drop(piece);
        // 3 is done, but 1 and 2 are not: nothing may be forgotten yet.
        assert!(marks.lock().unwrap().is_empty());
        drop(first);
        assert_eq!(*marks.lock().unwrap(), vec![3]);
        drop(third);
        assert_eq!(*marks.lock().unwrap(), vec![3, 4]);
        assert!(progress.lock().is_empty());
    }
}
