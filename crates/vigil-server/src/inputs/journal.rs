//! The input journal: what the TCP, TLS and RELP listeners read is written
//! here, and synced, before anything decodes it.
//!
//! A connection reads, cuts its frames, appends them as one record, and
//! reads again only once the record is on disk (and, for RELP, only then
//! answers). The journal is a [`vigil_store::wal::Wal`] of its own under
//! `DATA/inputs/journal`: one writer thread, group commit (the records of
//! every connection waiting share one `fdatasync`), and a sink that hands
//! each durable record to the pipeline's bounded queue. A full queue
//! stops the writer, whose own bounded queue then stops the connections
//! (they stop reading, TCP flow control stops the senders): the journal
//! holds at most what the pipeline has not stored yet, never more.
//!
//! The pipeline declares a record done once every event decoded from it
//! is durable in the event store (see `pipeline::progress`); the journal
//! keeps the records after the last such checkpoint, and at start they
//! are replayed through the pipeline. Event ids are derived from the
//! record's position, and replayed events replace events of the same id,
//! so a replay never stores an event twice.
//!
//! UDP is not journalled: a datagram has no sender waiting on it, and
//! what the kernel drops unread is lost anyway (best effort, counted).

use super::journal_record::{self, JournalRecord};
use super::InboundMessage;
use std::path::Path;
use std::thread::JoinHandle;
use tokio::sync::mpsc;
use vigil_store::wal::{Checkpointer, Wal, WalError, WalOptions};

/// A journal segment is closed past this size, and deleted once the
/// checkpoint passes it: small, so disk use follows the pipeline closely.
const SEGMENT_BYTES: u64 = 8 << 20;

/// Appends waiting for the writer at most (then connections wait).
const QUEUE_RECORDS: usize = 256;

/// Where a message is in the journal: its record and its place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalPos {
    pub seq: u64,
    pub index: u32,
}

/// What the pipeline's queue carries: messages, and for journalled ones
/// the record they came in.
#[derive(Debug)]
pub struct Delivery {
    pub messages: Vec<InboundMessage>,
    /// `None` for UDP (not journalled).
    pub journal: Option<JournalEntry>,
}

/// A journal record in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalEntry {
    pub seq: u64,
    /// Read back at start: its events may be stored already.
    pub replayed: bool,
}

impl Delivery {
    /// Messages that no journal holds (UDP).
    pub fn unjournalled(messages: Vec<InboundMessage>) -> Delivery {
        Delivery {
            messages,
            journal: None,
        }
    }

    /// The messages of journal record `seq`, each marked with its place.
    fn journalled(seq: u64, mut messages: Vec<InboundMessage>, replayed: bool) -> Delivery {
        for (index, message) in messages.iter_mut().enumerate() {
            message.journal = Some(JournalPos {
                seq,
                index: index as u32,
            });
        }
        Delivery {
            messages,
            journal: Some(JournalEntry { seq, replayed }),
        }
    }
}

/// Handle to the journal; cheap to clone. The writer stops once every
/// handle is gone.
#[derive(Clone)]
pub struct Journal {
    wal: Wal<Vec<InboundMessage>>,
}

/// What [`Journal::open`] gives.
pub struct OpenedJournal {
    pub journal: Journal,
    pub checkpointer: Checkpointer,
    pub writer: JoinHandle<()>,
    /// The records after the last checkpoint, oldest first, to be sent
    /// through the pipeline before anything new.
    pub replay: Vec<Delivery>,
}

impl Journal {
    /// Opens (or creates) the journal in `dir`; durable records go to
    /// `sink`, the pipeline's queue. `listener_keys`: the key of each
    /// listener of this start, by index, to find the listener a replayed
    /// record was read by.
    pub fn open(
        dir: &Path,
        sink: mpsc::Sender<Delivery>,
        listener_keys: &[String],
    ) -> Result<OpenedJournal, WalError> {
        let options = WalOptions {
            segment_bytes: SEGMENT_BYTES,
            queue_capacity: QUEUE_RECORDS,
        };
        // On the writer thread: waiting here is the back-pressure.
        let to_pipeline = Box::new(move |seq, messages| {
            sink.blocking_send(Delivery::journalled(seq, messages, false))
                .is_ok()
        });
        let opened = Wal::open(dir, options, to_pipeline, None)?;
        let replay = opened
            .replay
            .into_iter()
            .filter_map(|record| match journal_record::decode(&record.payload) {
                Ok(decoded) => Some(Delivery::journalled(
                    record.seq,
                    messages(decoded, listener_keys),
                    true,
                )),
                Err(e) => {
                    tracing::error!(seq = record.seq, error = %e, "skipping a bad input journal record");
                    None
                }
            })
            .collect::<Vec<_>>();
        if !replay.is_empty() {
            tracing::info!(records = replay.len(), "replaying the syslog input journal");
        }
        Ok(OpenedJournal {
            checkpointer: opened.wal.checkpointer(),
            journal: Journal { wal: opened.wal },
            writer: opened.writer,
            replay,
        })
    }

    /// Writes one connection's batch; returns once it is on disk and on
    /// its way to the pipeline.
    pub async fn append(
        &self,
        listener_key: &str,
        batch: Vec<InboundMessage>,
    ) -> Result<u64, WalError> {
        let payload = journal_record::encode(listener_key, &batch);
        self.wal.append(payload, batch).await
    }
}

fn messages(record: JournalRecord, listener_keys: &[String]) -> Vec<InboundMessage> {
    let listener = listener_now(&record, listener_keys);
    let JournalRecord {
        peer,
        client_names,
        received,
        texts,
        ..
    } = record;
    texts
        .into_iter()
        .map(|text| InboundMessage {
            text,
            peer,
            listener,
            client_names: client_names.clone(),
            received,
            journal: None,
        })
        .collect()
}

/// The index, in this start's config, of the listener that read `record`.
/// Listeners may have been added, removed or reordered since: a record is
/// routed by a listener only if one with the same key (protocol, address,
/// tenant) is there; otherwise by none ([`NO_LISTENER`]: the sender's
/// certificate or address decides, else quarantine), never by whichever
/// listener now has its old index, which may belong to another tenant.
fn listener_now(record: &JournalRecord, listener_keys: &[String]) -> usize {
    if listener_keys.get(record.listener) == Some(&record.listener_key) {
        return record.listener;
    }
    listener_keys
        .iter()
        .position(|k| *k == record.listener_key)
        .unwrap_or(NO_LISTENER)
}

/// A listener index no config has.
pub const NO_LISTENER: usize = usize::MAX;

#[cfg(test)]
mod listener_tests {
    use super::*;

    fn record(listener: usize, key: &str) -> JournalRecord {
        JournalRecord {
            listener,
            listener_key: key.into(),
            peer: "127.0.0.1:5000".parse().unwrap(),
            client_names: None,
            received: vigil_core::Timestamp(0),
            texts: vec!["x".into()],
        }
    }

    #[test]
    fn a_replayed_record_finds_its_listener_by_key_never_by_a_stale_index() {
        let keys = [
            "tcp 127.0.0.1:514 acme".to_string(),
            "tcp 127.0.0.1:515 bravo".to_string(),
        ];
        assert_eq!(listener_now(&record(0, &keys[0]), &keys), 0);
        // Reordered: found where it is now.
        assert_eq!(listener_now(&record(1, &keys[0]), &keys), 0);
        // Gone, or given to another tenant: no listener routes it.
        assert_eq!(
            listener_now(&record(0, "tcp 127.0.0.1:514 other"), &keys),
            NO_LISTENER
        );
        assert_eq!(
            listener_now(&record(7, "tcp 127.0.0.1:9 -"), &keys),
            NO_LISTENER
        );
    }
}
