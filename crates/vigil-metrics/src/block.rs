//! Block files: the compressed, immutable part of a tenant's data.
//!
//! One file per flush (raw) or per downsampling run (5-minute aggregates)
//! and time window. Layout:
//!
//! ```text
//! "VGMB" | kind: u8 | 3 zero bytes
//! entry payloads, back to back
//! index: count: u32 LE, then per entry, in (series, min_t) order
//!        Δseries: varint | min_t − window: zigzag varint | max_t − min_t: varint
//!        | len: varint | crc32(payload): u32 LE
//!        (payloads are in index order from byte 8: offsets are implicit)
//! footer: index offset: u64 LE | crc32(index): u32 LE | "VGMB"
//! ```
//!
//! A raw entry's payload is either one chunk ([`crate::chunk`]) or, when
//! its timestamps are shared, `0xFE | column: u32 LE | values-only chunk`.
//! Every series of one scrape has the same timestamps: a flush stores each
//! distinct timestamp sequence used by two chunks or more once, as a
//! column entry (series [`COLUMN_BASE`] + column, a chunk of the times with
//! zero values), so a scrape's jitter is paid once per target instead of
//! once per series. A downsampled entry's payload is five chunks (min, max,
//! sum, count, last over 5-minute buckets, timestamped at the bucket
//! start), each behind a u32 LE length, the first with the timestamps and
//! the other four values only. Files are
//! written to a temporary name, synced and renamed, so a file that exists is
//! whole. The index is read at open and kept in memory; payloads are read
//! on demand with positioned reads and checked against their CRC.

use crate::chunk::{self, ChunkError};
use crate::error::{corrupt, io_err, Result};
use crate::log::{get_varint, put_varint, unzigzag, zigzag};
use crate::DOWNSAMPLE_MS;
use std::collections::hash_map::Entry as MapEntry;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"VGMB";
/// Entries at or above this series number are shared timestamp columns;
/// series ids stay below it.
pub const COLUMN_BASE: u32 = 1 << 31;
/// First byte of a raw payload whose timestamps are in a column.
const SHARED: u8 = 0xFE;
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

    /// Appends the points of one entry to `out`: a raw chunk's samples, or
    /// a downsampled entry's last values at each bucket's last millisecond.
    /// `columns` caches this block's decoded timestamp columns.
    pub fn read_points(
        &self,
        file: &File,
        entry: &Entry,
        columns: &mut HashMap<u32, Vec<i64>>,
        out: &mut Vec<(i64, f64)>,
    ) -> Result<()> {
        let payload = self.read(file, entry)?;
        let bad = |e: ChunkError| corrupt(&self.path, format!("series {}: {e}", entry.series));
        match self.kind {
            Kind::Raw => match payload.split_first() {
                Some((&SHARED, rest)) => {
                    let (column, values) = rest
                        .split_first_chunk::<4>()
                        .ok_or_else(|| bad(ChunkError::Truncated))?;
                    let column = u32::from_le_bytes(*column);
                    let times = self.column(file, column, columns)?;
                    chunk::decode_values_into(values, times, out).map_err(bad)
                }
                _ => chunk::decode_into(&payload, out).map_err(bad),
            },
            Kind::Downsampled => {
                let parts = split_parts(&payload).ok_or_else(|| bad(ChunkError::Truncated))?;
                let times: Vec<i64> = chunk::decode(parts[0])
                    .map_err(bad)?
                    .into_iter()
                    .map(|p| p.0)
                    .collect();
                let start = out.len();
                chunk::decode_values_into(parts[4], &times, out).map_err(bad)?;
                for p in &mut out[start..] {
                    p.0 = p.0.saturating_add(DOWNSAMPLE_MS - 1);
                }
                Ok(())
            }
        }
    }

    fn column<'c>(
        &self,
        file: &File,
        column: u32,
        cache: &'c mut HashMap<u32, Vec<i64>>,
    ) -> Result<&'c [i64]> {
        if let MapEntry::Vacant(slot) = cache.entry(column) {
            let entry = *self
                .series_entries(COLUMN_BASE.saturating_add(column))
                .first()
                .ok_or_else(|| corrupt(&self.path, format!("no timestamp column {column}")))?;
            let payload = self.read(file, &entry)?;
            let times = chunk::decode(&payload)
                .map_err(|e| corrupt(&self.path, format!("timestamp column {column}: {e}")))?;
            slot.insert(times.into_iter().map(|p| p.0).collect());
        }
        Ok(cache.get(&column).map(Vec::as_slice).unwrap_or_default())
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

    /// Adds the chunks of one time window (series, samples in time order, at
    /// most [`chunk::MAX_CHUNK_SAMPLES`] each), storing timestamp
    /// sequences that several chunks share once.
    pub fn add_chunks(&mut self, chunks: &[(u32, Vec<(i64, f64)>)]) {
        let times: Vec<Vec<i64>> = chunks
            .iter()
            .map(|(_, s)| s.iter().map(|p| p.0).collect())
            .collect();
        let mut uses: HashMap<&[i64], (u32, usize)> = HashMap::new();
        for t in &times {
            uses.entry(t.as_slice()).or_insert((0, 0)).1 += 1;
        }
        let mut next = 0u32;
        let mut shared: Vec<(&[i64], u32)> = Vec::new();
        for t in &times {
            if let Some(u) = uses.get_mut(t.as_slice()) {
                if u.1 >= 2 && t.len() >= 2 && u.0 == 0 {
                    next += 1;
                    u.0 = next;
                    shared.push((t.as_slice(), next - 1));
                }
            }
        }
        for (t, column) in &shared {
            let zeros: Vec<(i64, f64)> = t.iter().map(|&t| (t, 0.0)).collect();
            self.add(
                COLUMN_BASE + column,
                t[0],
                t[t.len() - 1],
                &chunk::encode_best(&zeros),
            );
        }
        for ((series, samples), t) in chunks.iter().zip(&times) {
            let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
                continue;
            };
            match uses.get(t.as_slice()) {
                Some(&(column, _)) if column > 0 => {
                    let values: Vec<f64> = samples.iter().map(|p| p.1).collect();
                    let mut payload = vec![SHARED];
                    payload.extend_from_slice(&(column - 1).to_le_bytes());
                    payload.extend_from_slice(&chunk::encode_values_best(&values));
                    self.add(*series, first.0, last.0, &payload);
                }
                _ => self.add(*series, first.0, last.0, &chunk::encode_best(samples)),
            }
        }
    }

    /// Writes the file at `path` (temporary name, sync, rename) and returns
    /// it opened. The directory is synced by the caller.
    pub fn write(mut self, path: &Path, window: i64, gen: u64) -> Result<Block> {
        // Payloads in index order, so that offsets need not be stored.
        self.entries.sort_by_key(|e| (e.series, e.min_t));
        let mut data = Vec::with_capacity(self.data.len() + self.entries.len() * 16 + 32);
        data.extend_from_slice(&self.data[..8]);
        for e in &mut self.entries {
            let start = e.offset as usize;
            data.extend_from_slice(&self.data[start..start + e.len as usize]);
            e.offset = (data.len() - e.len as usize) as u64;
        }
        self.data = data;
        let index_offset = self.data.len() as u64;
        let mut index = Vec::with_capacity(4 + self.entries.len() * 16);
        index.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        let mut prev_series = 0u32;
        for e in &self.entries {
            put_varint(&mut index, (e.series - prev_series) as u64);
            put_varint(&mut index, zigzag(e.min_t.wrapping_sub(window)));
            put_varint(&mut index, e.max_t.wrapping_sub(e.min_t) as u64);
            put_varint(&mut index, e.len as u64);
            index.extend_from_slice(&e.crc.to_le_bytes());
            prev_series = e.series;
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
    let entries = parse_index(&index, index_offset, window)
        .ok_or_else(|| corrupt(path, "malformed index"))?;
    Ok(make_block(
        path.to_path_buf(),
        kind,
        window,
        gen,
        size,
        entries,
    ))
}

fn parse_index(index: &[u8], data_end: u64, window: i64) -> Option<Vec<Entry>> {
    let (count, mut input) = index.split_first_chunk::<4>()?;
    let count = u32::from_le_bytes(*count) as usize;
    // An entry takes 8 bytes at least.
    if count > input.len() / 8 {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    let (mut series, mut offset) = (0u32, 8u64);
    for _ in 0..count {
        series = series.checked_add(u32::try_from(get_varint(&mut input)?).ok()?)?;
        let min_t = window.wrapping_add(unzigzag(get_varint(&mut input)?));
        let max_t = min_t.wrapping_add(get_varint(&mut input)? as i64);
        let len = u32::try_from(get_varint(&mut input)?).ok()?;
        let (crc, rest) = input.split_first_chunk::<4>()?;
        input = rest;
        entries.push(Entry {
            series,
            min_t,
            max_t,
            offset,
            len,
            crc: u32::from_le_bytes(*crc),
        });
        offset = offset.checked_add(len as u64)?;
    }
    (input.is_empty() && offset == data_end && entries.iter().all(|e| e.min_t <= e.max_t))
        .then_some(entries)
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
        bytes[9] ^= 1; // inside "one": payloads are stored in series order
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
