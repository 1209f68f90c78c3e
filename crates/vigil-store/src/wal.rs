//! The write-ahead log: what makes an acknowledgement a promise.
//!
//! An append returns only once its record is on disk (`fdatasync`). One
//! writer thread does all the writing and commits in groups: it takes every
//! append waiting in its queue, writes them together and syncs once, so
//! that many concurrent clients share the cost of one sync (group commit).
//!
//! After the sync, the writer hands each record's item to a sink, in log
//! order; the sink is meant to be a bounded channel, so that a slow consumer
//! (the indexer) slows the writer, which slows the appenders (back-pressure,
//! never unbounded memory). The consumer calls [`Wal::checkpoint`] once
//! everything up to a sequence number is durable elsewhere; the writer then
//! deletes the whole segments below it, and [`Wal::open`] replays only what
//! follows it. The checkpoint is a shared number, not a message, so that a
//! consumer never waits on a writer that waits on it.
//!
//! On disk: `DIR/<first-seq>.wal` segments of records framed as
//! `len: u32 LE | crc32(payload): u32 LE | seq: u64 LE | payload`, and
//! `DIR/checkpoint` holding the last checkpointed sequence number. A torn
//! record at the end of the last segment (a crash mid-write, never
//! acknowledged) is cut off at open.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

const HEADER_LEN: usize = 16;
/// Appends taken into one group commit at most.
const MAX_GROUP: usize = 1024;
/// Records bigger than this are refused (and a length field beyond it
/// marks corruption on replay).
pub const MAX_RECORD_BYTES: usize = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("write-ahead log i/o error in {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("write-ahead log record of {0} bytes is over the maximum")]
    TooLarge(usize),
    #[error("write-ahead log is closed")]
    Closed,
    #[error("write-ahead log in {0} is corrupt: its sequence numbers are exhausted")]
    Exhausted(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
    move |source| WalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone)]
pub struct WalOptions {
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// Appends waiting for the writer at most (back-pressure beyond).
    pub queue_capacity: usize,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes: 64 << 20,
            queue_capacity: 256,
        }
    }
}

/// Called by the writer thread after each group commit: how many records,
/// bytes, and how long the write and sync took.
pub type CommitObserver = Box<dyn Fn(usize, usize, Duration) + Send>;

/// Receives `(seq, item)` of each durable append, in log order; returns
/// false when the consumer is gone.
pub type Sink<T> = Box<dyn FnMut(u64, T) -> bool + Send>;

/// A record found on disk at open that follows the last checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRecord {
    pub seq: u64,
    pub payload: Vec<u8>,
}

struct Request<T> {
    payload: Vec<u8>,
    item: T,
    done: oneshot::Sender<Result<u64, WalError>>,
}

/// Handle to the log; cheap to clone, all clones feed the one writer.
pub struct Wal<T> {
    requests: mpsc::Sender<Request<T>>,
    checkpoint: Arc<AtomicU64>,
}

impl<T> Clone for Wal<T> {
    fn clone(&self) -> Self {
        Wal {
            requests: self.requests.clone(),
            checkpoint: self.checkpoint.clone(),
        }
    }
}

/// Declares checkpoints (see [`Wal::checkpoint`]).
#[derive(Clone)]
pub struct Checkpointer(Arc<AtomicU64>);

impl Checkpointer {
    pub fn mark(&self, seq: u64) {
        self.0.fetch_max(seq, Ordering::AcqRel);
    }
}

/// What [`Wal::open`] gives: the handle, the writer thread, and the records
/// to replay (already in log order).
pub struct OpenedWal<T> {
    pub wal: Wal<T>,
    pub writer: JoinHandle<()>,
    pub replay: Vec<ReplayRecord>,
}

impl<T: Send + 'static> Wal<T> {
    /// Opens (or creates) the log in `dir`, reads the records after the last
    /// checkpoint, and starts the writer thread, which sends `(seq, item)`
    /// of every durable append to `sink`.
    pub fn open(
        dir: &Path,
        options: WalOptions,
        sink: Sink<T>,
        observer: Option<CommitObserver>,
    ) -> Result<OpenedWal<T>, WalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let checkpoint = read_checkpoint(dir)?;
        let mut segments = list_segments(dir)?;
        let mut replay = Vec::new();
        let mut last_seq = checkpoint;
        let count = segments.len();
        for (i, segment) in segments.iter().enumerate() {
            let records = read_segment(&segment.path, i + 1 == count)?;
            for record in records {
                last_seq = last_seq.max(record.seq);
                if record.seq > checkpoint {
                    replay.push(record);
                }
            }
        }
        let current = match segments.last() {
            Some(last) => open_append(&last.path)?,
            None => {
                let segment = new_segment(dir, last_seq.saturating_add(1))?;
                let file = open_append(&segment.path)?;
                segments.push(segment);
                file
            }
        };
        let checkpoint_cell = Arc::new(AtomicU64::new(checkpoint));
        let writer = Writer {
            checkpoint: checkpoint_cell.clone(),
            checkpointed: checkpoint,
            dir: dir.to_path_buf(),
            options: options.clone(),
            segments,
            current,
            next_seq: last_seq
                .checked_add(1)
                .ok_or_else(|| WalError::Exhausted(dir.to_path_buf()))?,
            sink,
            observer,
        };
        let (requests, inbox) = mpsc::channel(options.queue_capacity);
        let handle = std::thread::Builder::new()
            .name("vigil-wal".into())
            .spawn(move || writer.run(inbox))
            .map_err(io_err(dir))?;
        Ok(OpenedWal {
            wal: Wal {
                requests,
                checkpoint: checkpoint_cell,
            },
            writer: handle,
            replay,
        })
    }

    /// Appends one record; resolves with its sequence number once it is on
    /// disk. Waits (without blocking a thread) while the queue is full.
    pub async fn append(&self, payload: Vec<u8>, item: T) -> Result<u64, WalError> {
        if payload.len() > MAX_RECORD_BYTES {
            return Err(WalError::TooLarge(payload.len()));
        }
        let (done, wait) = oneshot::channel();
        self.requests
            .send(Request {
                payload,
                item,
                done,
            })
            .await
            .map_err(|_| WalError::Closed)?;
        wait.await.map_err(|_| WalError::Closed)?
    }

    /// Declares every record up to `seq` durable elsewhere. Applied by the
    /// writer after its next group commit, and when it stops.
    pub fn checkpoint(&self, seq: u64) {
        self.checkpointer().mark(seq);
    }

    /// A handle for the consumer to declare checkpoints with. Unlike a
    /// [`Wal`] clone, it does not keep the writer alive.
    pub fn checkpointer(&self) -> Checkpointer {
        Checkpointer(self.checkpoint.clone())
    }

    /// Number of appends waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.requests.max_capacity() - self.requests.capacity()
    }
}

struct Segment {
    first_seq: u64,
    path: PathBuf,
}

struct Writer<T> {
    dir: PathBuf,
    options: WalOptions,
    segments: Vec<Segment>,
    current: File,
    next_seq: u64,
    checkpoint: Arc<AtomicU64>,
    checkpointed: u64,
    sink: Sink<T>,
    observer: Option<CommitObserver>,
}

impl<T> Writer<T> {
    fn run(mut self, mut inbox: mpsc::Receiver<Request<T>>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        let mut buffer = Vec::new();
        while let Some(first) = inbox.blocking_recv() {
            group.push(first);
            while group.len() < MAX_GROUP {
                match inbox.try_recv() {
                    Ok(request) => group.push(request),
                    Err(_) => break,
                }
            }
            if !self.commit(&mut group, &mut buffer) {
                break;
            }
            self.apply_checkpoint();
        }
        self.apply_checkpoint();
    }

    fn apply_checkpoint(&mut self) {
        if let Err(e) = self.checkpoint() {
            tracing::error!(error = %e, "write-ahead log checkpoint failed");
        }
    }

    /// Writes and syncs one group, answers its appenders, feeds the sink.
    /// Returns false when the sink is gone (shutting down).
    fn commit(&mut self, group: &mut Vec<Request<T>>, buffer: &mut Vec<u8>) -> bool {
        let started = Instant::now();
        buffer.clear();
        let first_seq = self.next_seq;
        for (i, request) in group.iter().enumerate() {
            encode_record(buffer, first_seq.saturating_add(i as u64), &request.payload);
        }
        let result = self.write_and_sync(buffer);
        if let Some(observer) = &self.observer {
            observer(group.len(), buffer.len(), started.elapsed());
        }
        let failed = result.as_ref().err().map(|e| e.to_string());
        for (i, Request { item, done, .. }) in group.drain(..).enumerate() {
            let seq = first_seq.saturating_add(i as u64);
            if let Some(message) = &failed {
                let _ = done.send(Err(WalError::Io {
                    path: self.dir.clone(),
                    source: io::Error::other(message.clone()),
                }));
                continue;
            }
            self.next_seq = seq + 1;
            // Hand over before answering: once a client has its answer, the
            // event is on its way to the index.
            if !(self.sink)(seq, item) {
                let _ = done.send(Err(WalError::Closed));
                return false;
            }
            let _ = done.send(Ok(seq));
        }
        if failed.is_none() {
            self.maybe_rotate();
        }
        true
    }

    fn write_and_sync(&mut self, buffer: &[u8]) -> Result<(), WalError> {
        let path = &self.segments.last().expect("a current segment").path;
        self.current.write_all(buffer).map_err(io_err(path))?;
        self.current.sync_data().map_err(io_err(path))
    }

    fn maybe_rotate(&mut self) {
        let size = self.current.metadata().map(|m| m.len()).unwrap_or(0);
        if size < self.options.segment_bytes {
            return;
        }
        match new_segment(&self.dir, self.next_seq).and_then(|s| Ok((open_append(&s.path)?, s))) {
            Ok((file, segment)) => {
                self.current = file;
                self.segments.push(segment);
            }
            Err(e) => tracing::error!(error = %e, "cannot start a new write-ahead log segment"),
        }
    }

    /// Records the checkpoint, then deletes the segments it covers whole.
    fn checkpoint(&mut self) -> Result<(), WalError> {
        let seq = self.checkpoint.load(Ordering::Acquire);
        if seq <= self.checkpointed {
            return Ok(());
        }
        write_checkpoint(&self.dir, seq)?;
        self.checkpointed = seq;
        while self.segments.len() > 1 && self.segments[1].first_seq <= seq + 1 {
            let old = self.segments.remove(0);
            fs::remove_file(&old.path).map_err(io_err(&old.path))?;
        }
        Ok(())
    }
}

fn encode_record(buffer: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&seq.to_le_bytes());
    crc.update(payload);
    buffer.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buffer.extend_from_slice(&crc.finalize().to_le_bytes());
    buffer.extend_from_slice(&seq.to_le_bytes());
    buffer.extend_from_slice(payload);
}

/// Reads a segment's records. A bad record ends the segment: in the last
/// segment it is a torn write and is truncated away; elsewhere it is
/// corruption, reported, and the segment's remainder is skipped.
fn read_segment(path: &Path, is_last: bool) -> Result<Vec<ReplayRecord>, WalError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut offset = 0u64;
    loop {
        match read_record(&mut reader) {
            Ok(Some(record)) => {
                offset += (HEADER_LEN + record.payload.len()) as u64;
                records.push(record);
            }
            Ok(None) => break,
            Err(reason) => {
                tracing::warn!(path = %path.display(), offset, reason, "write-ahead log ends in a bad record");
                if is_last {
                    let file = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(io_err(path))?;
                    file.set_len(offset).map_err(io_err(path))?;
                    file.sync_all().map_err(io_err(path))?;
                }
                break;
            }
        }
    }
    Ok(records)
}

fn read_record(reader: &mut impl Read) -> Result<Option<ReplayRecord>, &'static str> {
    let mut header = [0u8; HEADER_LEN];
    match read_full(reader, &mut header) {
        Ok(0) => return Ok(None),
        Ok(n) if n < HEADER_LEN => return Err("truncated record header"),
        Ok(_) => {}
        Err(_) => return Err("unreadable record header"),
    }
    let len = u32::from_le_bytes(header[0..4].try_into().unwrap_or_default()) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default());
    let seq = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
    if len > MAX_RECORD_BYTES {
        return Err("record length out of range");
    }
    let mut payload = vec![0u8; len];
    match read_full(reader, &mut payload) {
        Ok(n) if n == len => {}
        _ => return Err("truncated record payload"),
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    hasher.update(&payload);
    if hasher.finalize() != crc {
        return Err("record checksum mismatch");
    }
    Ok(Some(ReplayRecord { seq, payload }))
}

/// Like `read_exact`, but tells how much it got before the end.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn list_segments(dir: &Path) -> Result<Vec<Segment>, WalError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        let first_seq = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".wal"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(first_seq) = first_seq {
            segments.push(Segment { first_seq, path });
        }
    }
    segments.sort_by_key(|s| s.first_seq);
    Ok(segments)
}

fn new_segment(dir: &Path, first_seq: u64) -> Result<Segment, WalError> {
    let path = dir.join(format!("{first_seq:020}.wal"));
    File::create(&path).map_err(io_err(&path))?;
    sync_dir(dir)?;
    Ok(Segment { first_seq, path })
}

fn open_append(path: &Path) -> Result<File, WalError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_err(path))
}

fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn read_checkpoint(dir: &Path) -> Result<u64, WalError> {
    let path = dir.join("checkpoint");
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(path = %path.display(), "unreadable checkpoint: replaying the whole log");
            0
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Writes the checkpoint atomically: a temporary file, synced, renamed.
fn write_checkpoint(dir: &Path, seq: u64) -> Result<(), WalError> {
    let tmp = dir.join("checkpoint.tmp");
    let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
    file.write_all(seq.to_string().as_bytes())
        .map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, dir.join("checkpoint")).map_err(io_err(dir))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{sync_channel, Receiver};

    fn open(dir: &Path, segment_bytes: u64) -> (OpenedWal<u32>, Receiver<(u64, u32)>) {
        let (tx, rx) = sync_channel(1024);
        let tx: Sink<u32> = Box::new(move |seq, item| tx.send((seq, item)).is_ok());
        let options = WalOptions {
            segment_bytes,
            ..WalOptions::default()
        };
        (Wal::open(dir, options, tx, None).unwrap(), rx)
    }

    fn shut(opened: OpenedWal<u32>) {
        drop(opened.wal);
        opened.writer.join().unwrap();
    }

    #[tokio::test]
    async fn appends_are_replayed_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (opened, rx) = open(dir.path(), 1 << 20);
        for i in 0..10u32 {
            let seq = opened
                .wal
                .append(vec![i as u8; i as usize], i)
                .await
                .unwrap();
            assert_eq!(seq, u64::from(i) + 1);
        }
        let fed: Vec<_> = rx.try_iter().collect();
        assert_eq!(fed.len(), 10);
        assert_eq!(fed[3], (4, 3));
        shut(opened);
        let (opened, _rx) = open(dir.path(), 1 << 20);
        assert_eq!(opened.replay.len(), 10);
        assert_eq!(opened.replay[9].payload, vec![9u8; 9]);
        let seq = opened.wal.append(vec![], 0).await.unwrap();
        assert_eq!(seq, 11, "sequence numbers continue after reopen");
        shut(opened);
    }

    #[tokio::test]
    async fn concurrent_appends_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let (opened, rx) = open(dir.path(), 4096);
        let mut tasks = Vec::new();
        for i in 0..200u32 {
            let wal = opened.wal.clone();
            tasks.push(tokio::spawn(async move {
                wal.append(i.to_le_bytes().to_vec(), i).await
            }));
        }
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap().unwrap());
        }
        seqs.sort();
        assert_eq!(seqs, (1..=200).collect::<Vec<u64>>());
        let fed: Vec<u64> = rx.try_iter().map(|(s, _)| s).collect();
        assert_eq!(
            fed,
            (1..=200).collect::<Vec<u64>>(),
            "the sink sees log order"
        );
        shut(opened);
        let (opened, _rx) = open(dir.path(), 4096);
        assert_eq!(opened.replay.len(), 200);
        shut(opened);
    }

    #[tokio::test]
    async fn checkpoint_skips_replay_and_deletes_old_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (opened, _rx) = open(dir.path(), 100);
        for i in 0..20u32 {
            opened.wal.append(vec![0; 50], i).await.unwrap();
        }
        let before = list_segments(dir.path()).unwrap().len();
        assert!(before > 5);
        opened.wal.checkpoint(15);
        // The checkpoint runs after the next group commit.
        opened.wal.append(vec![1], 20).await.unwrap();
        let after = list_segments(dir.path()).unwrap();
        assert!(after.len() < before);
        assert!(after[0].first_seq <= 16);
        shut(opened);
        let (opened, _rx) = open(dir.path(), 100);
        let seqs: Vec<u64> = opened.replay.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (16..=21).collect::<Vec<u64>>());
        shut(opened);
    }

    #[tokio::test]
    async fn torn_tail_is_cut_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (opened, _rx) = open(dir.path(), 1 << 20);
        for i in 0..3u32 {
            opened.wal.append(vec![7; 10], i).await.unwrap();
        }
        shut(opened);
        let segment = list_segments(dir.path()).unwrap().pop().unwrap().path;
        let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
        file.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(file);
        let (opened, _rx) = open(dir.path(), 1 << 20);
        assert_eq!(opened.replay.len(), 3);
        assert_eq!(opened.wal.append(vec![1], 9).await.unwrap(), 4);
        shut(opened);
        let (opened, _rx) = open(dir.path(), 1 << 20);
        assert_eq!(
            opened.replay.len(),
            4,
            "the cut tail does not hide later records"
        );
        shut(opened);
    }

    #[test]
    fn exhausted_sequence_numbers_are_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut record = Vec::new();
        encode_record(&mut record, u64::MAX, b"");
        fs::write(dir.path().join("00000000000000000001.wal"), record).unwrap();
        let (tx, _rx) = sync_channel(1);
        let sink: Sink<u32> = Box::new(move |seq, item| tx.send((seq, item)).is_ok());
        let err = Wal::open(dir.path(), WalOptions::default(), sink, None)
            .err()
            .unwrap();
        assert!(err.to_string().contains("exhausted"), "{err}");
    }

    #[tokio::test]
    async fn flipped_bit_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let (opened, _rx) = open(dir.path(), 1 << 20);
        opened.wal.append(b"hello".to_vec(), 0).await.unwrap();
        opened.wal.append(b"world".to_vec(), 1).await.unwrap();
        shut(opened);
        let segment = list_segments(dir.path()).unwrap().pop().unwrap().path;
        let mut bytes = fs::read(&segment).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&segment, bytes).unwrap();
        let (opened, _rx) = open(dir.path(), 1 << 20);
        assert_eq!(opened.replay.len(), 1);
        assert_eq!(opened.replay[0].payload, b"hello");
        shut(opened);
    }
}
