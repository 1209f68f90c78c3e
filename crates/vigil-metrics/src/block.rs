//! Block files: the compressed, immutable part of a tenant's data.
//!
//! One file per flush (raw) or per downsampling run (5-minute aggregates)
//! and time window. Layout:
//!
//! ```text
//! "VGMB" | kind: u8 | 3 zero bytes
//! entry payloads, back to back
//! index: count: u32 LE, then per entry
//!        series: u32 | min_t: i64 | max_t: i64 | offset: u64 | len: u32 | crc32: u32   (all LE)
//! footer: index offset: u64 LE | crc32(index): u32 LE | "VGMB"
//! ```
//!
//! A raw entry's payload is one chunk ([`crate::chunk`]); a downsampled
//! entry's is five chunks (min, max, sum, count, last over 5-minute buckets,
//! timestamped at the bucket start), each behind a u32 LE length. Files are
//! written to a temporary name, synced and renamed, so a file that exists is
//! whole. The index is read at open and kept in memory; payloads are read
//! on demand with positioned reads and checked against their CRC.

use crate::error::{corrupt, io_err, Result};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"VGMB";
const ENTRY_BYTES: usize = 36;
const FOOTER_BYTES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Raw = 0,
    Downsampled = 1,
}

#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub series: u32,
    pub min_t: i64,
    pub max_t: i64,
    offset: u64,
    len: u32,
    crc: u32,
}

/// An open block file: its path and index.
#[derive(Debug)]
pub struct Block {
    pub path: PathBuf,
    pub kind: Kind,
    /// Start of the time window the file covers (its name).
    pub window: i64,
    /// Generation: the log generation flushed into a raw file, the highest
    /// raw generation a downsampled file covers.
    pub gen: u64,
    pub min_t: i64,
    pub max_t: i64,
    pub bytes: u64,
    /// Sorted by series, then time.
    pub entries: Vec<Entry>,
}

impl Block {
    /// The entries of one series, in time order.
    pub fn series_entries(&self, series: u32) -> &[Entry] {
        let start = self.entries.partition_point(|e| e.series < series);
        let end = self.entries.partition_point(|e| e.series <= series);
        &self.entries[start..end]
    }

    pub fn read(&self, file: &File, entry: &Entry) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; entry.len as usize];
        file.read_exact_at(&mut buf, entry.offset)
            .map_err(io_err(&self.path))?;
        if crc32fast::hash(&buf) != entry.crc {
            return Err(corrupt(
                &self.path,
                format!("entry of series {} fails its CRC", entry.series),
            ));
        }
        Ok(buf)
    }

    pub fn open_file(&self) -> Result<File> {
        File::open(&self.path).map_err(io_err(&self.path))
    }
}

/// Collects entries and writes one block file.
pub struct BlockWriter {
    kind: Kind,
    data: Vec<u8>,
    entries: Vec<Entry>,
}

impl BlockWriter {
    pub fn new(kind: Kind) -> Self {
        let mut data = MAGIC.to_vec();
        data.extend_from_slice(&[kind as u8, 0, 0, 0]);
        BlockWriter {
            kind,
            data,
            entries: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn add(&mut self, series: u32, min_t: i64, max_t: i64, payload: &[u8]) {
        self.entries.push(Entry {
            series,
            min_t,
            max_t,
            offset: self.data.len() as u64,
            len: payload.len() as u32,
            crc: crc32fast::hash(payload),
        });
        self.data.extend_from_slice(payload);
    }

    /// Writes the file at `path` (temporary name, sync, rename) and returns
    /// it opened. The directory is synced by the caller.
    pub fn write(mut self, path: &Path, window: i64, gen: u64) -> Result<Block> {
        self.entries.sort_by_key(|e| (e.series, e.min_t));
        let index_offset = self.data.len() as u64;
        let mut index = Vec::with_capacity(4 + self.entries.len() * ENTRY_BYTES);
        index.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            index.extend_from_slice(&e.series.to_le_bytes());
            index.extend_from_slice(&e.min_t.to_le_bytes());
            index.extend_from_slice(&e.max_t.to_le_bytes());
            index.extend_from_slice(&e.offset.to_le_bytes());
            index.extend_from_slice(&e.len.to_le_bytes());
            index.extend_from_slice(&e.crc.to_le_bytes());
        }
        let crc = crc32fast::hash(&index);
        self.data.extend_from_slice(&index);
        self.data.extend_from_slice(&index_offset.to_le_bytes());
        self.data.extend_from_slice(&crc.to_le_bytes());
        self.data.extend_from_slice(MAGIC);
        let tmp = path.with_extension("tmp");
        let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
        file.write_all(&self.data).map_err(io_err(&tmp))?;
        file.sync_data().map_err(io_err(&tmp))?;
        fs::rename(&tmp, path).map_err(io_err(path))?;
        Ok(make_block(
            path.to_path_buf(),
            self.kind,
            window,
            gen,
            self.data.len() as u64,
            self.entries,
        ))
    }
}

fn make_block(
    path: PathBuf,
    kind: Kind,
    window: i64,
    gen: u64,
    bytes: u64,
    entries: Vec<Entry>,
) -> Block {
    let min_t = entries.iter().map(|e| e.min_t).min().unwrap_or(i64::MAX);
    let max_t = entries.iter().map(|e| e.max_t).max().unwrap_or(i64::MIN);
    Block {
        path,
        kind,
        window,
        gen,
        min_t,
        max_t,
        bytes,
        entries,
    }
}

/// Reads a block file's index.
pub fn open_block(path: &Path, window: i64, gen: u64) -> Result<Block> {
    let file = File::open(path).map_err(io_err(path))?;
    let size = file.metadata().map_err(io_err(path))?.len();
    if size < (8 + FOOTER_BYTES) as u64 {
        return Err(corrupt(path, "shorter than a header and a footer"));
    }
    let mut head = [0u8; 8];
    file.read_exact_at(&mut head, 0).map_err(io_err(path))?;
    let mut footer = [0u8; FOOTER_BYTES];
    file.read_exact_at(&mut footer, size - FOOTER_BYTES as u64)
        .map_err(io_err(path))?;
    if &head[..4] != MAGIC || &footer[12..] != MAGIC {
        return Err(corrupt(path, "bad magic"));
    }
    let kind = match head[4] {
        0 => Kind::Raw,
        1 => Kind::Downsampled,
        k => return Err(corrupt(path, format!("unknown kind {k}"))),
    };
    let index_offset = u64::from_le_bytes(footer[..8].try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(footer[8..12].try_into().unwrap_or_default());
    let index_end = size - FOOTER_BYTES as u64;
    if index_offset < 8 || index_offset > index_end {
        return Err(corrupt(path, "index offset out of the file"));
    }
    let mut index = vec![0u8; (index_end - index_offset) as usize];
    file.read_exact_at(&mut index, index_offset)
        .map_err(io_err(path))?;
    if crc32fast::hash(&index) != crc {
        return Err(corrupt(path, "index fails its CRC"));
    }
    let entries =
        parse_index(&index, index_offset).ok_or_else(|| corrupt(path, "malformed index"))?;
    Ok(make_block(
        path.to_path_buf(),
        kind,
        window,
        gen,
        size,
        entries,
    ))
}

fn parse_index(index: &[u8], data_end: u64) -> Option<Vec<Entry>> {
    let count = u32::from_le_bytes(index.get(..4)?.try_into().ok()?) as usize;
    let body = &index[4..];
    if body.len() != count.checked_mul(ENTRY_BYTES)? {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    for e in body.chunks_exact(ENTRY_BYTES) {
        let entry = Entry {
            series: u32::from_le_bytes(e[0..4].try_into().ok()?),
            min_t: i64::from_le_bytes(e[4..12].try_into().ok()?),
            max_t: i64::from_le_bytes(e[12..20].try_into().ok()?),
            offset: u64::from_le_bytes(e[20..28].try_into().ok()?),
            len: u32::from_le_bytes(e[28..32].try_into().ok()?),
            crc: u32::from_le_bytes(e[32..36].try_into().ok()?),
        };
        if entry.offset.checked_add(entry.len as u64)? > data_end {
            return None;
        }
        entries.push(entry);
    }
    entries.sort_by_key(|e| (e.series, e.min_t));
    Some(entries)
}

/// Splits a downsampled payload into its five chunks.
pub fn split_parts(payload: &[u8]) -> Option<[&[u8]; 5]> {
    let mut parts: [&[u8]; 5] = [&[]; 5];
    let mut input = payload;
    for part in &mut parts {
        let (len, rest) = input.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return None;
        }
        *part = &rest[..len];
        input = &rest[len..];
    }
    input.is_empty().then_some(parts)
}

pub fn join_parts(parts: &[Vec<u8>; 5]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(&(part.len() as u32).to_le_bytes());
        out.extend_from_slice(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_and_detect_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0-1.blk");
        let mut w = BlockWriter::new(Kind::Raw);
        w.add(3, 10, 20, b"three");
        w.add(1, 5, 6, b"one");
        let written = w.write(&path, 0, 1).unwrap();
        let block = open_block(&path, 0, 1).unwrap();
        assert_eq!((block.min_t, block.max_t), (5, 20));
        assert_eq!(block.entries.len(), 2);
        assert_eq!(written.entries.len(), 2);
        let file = block.open_file().unwrap();
        let e = block.series_entries(3)[0];
        assert_eq!(block.read(&file, &e).unwrap(), b"three");
        assert!(block.series_entries(2).is_empty());

        let mut bytes = fs::read(&path).unwrap();
        bytes[14] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let block = open_block(&path, 0, 1).unwrap();
        let e = block.series_entries(1)[0];
        assert!(block.read(&block.open_file().unwrap(), &e).is_err());
        let n = bytes.len();
        bytes[n - 20] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(open_block(&path, 0, 1).is_err());
        fs::write(&path, b"VGMB").unwrap();
        assert!(open_block(&path, 0, 1).is_err());
    }

    #[test]
    fn parts_split() {
        let parts = [
            b"a".to_vec(),
            vec![],
            b"ccc".to_vec(),
            b"d".to_vec(),
            b"e".to_vec(),
        ];
        let joined = join_parts(&parts);
        let split = split_parts(&joined).unwrap();
        assert_eq!(split[2], b"ccc");
        assert!(split_parts(&joined[..joined.len() - 1]).is_none());
    }
}
