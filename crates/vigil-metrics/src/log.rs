//! Append-only framed files: the raw-sample log and the series log.
//!
//! A record is `len: u32 LE | crc32(payload): u32 LE | payload`. Reading
//! stops at the first record that is short or fails its CRC: that is a
//! write cut by a crash, and [`read_records`] reports the length of the
//! good prefix so that the opener truncates the file there and appends
//! after it.
//!
//! Raw-sample records (one per append batch) hold the accepted samples:
//! `count: varint`, then per sample `series: varint | Δt: zigzag varint |
//! value: f64 LE`, Δt from the previous sample of the record (the first
//! from 0). About 11 bytes a sample: the log is a short-lived file, deleted
//! at each flush, so it is made cheap to write rather than small.

use crate::error::{io_err, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

/// A record longer than this marks corruption.
const MAX_RECORD: usize = 256 << 20;

pub(crate) fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Every complete record of `path`, and the byte length they span.
pub(crate) fn read_records(path: &Path) -> Result<(Vec<Vec<u8>>, u64)> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(io_err(path))?;
    let (mut records, mut pos) = (Vec::new(), 0usize);
    while let Some(header) = data.get(pos..pos + 8) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_RECORD {
            break;
        }
        let Some(payload) = data.get(pos + 8..pos + 8 + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        records.push(payload.to_vec());
        pos += 8 + len;
    }
    Ok((records, pos as u64))
}

/// Opens `path` for appending after its first `len` bytes (cutting a torn
/// tail), creating it when missing.
pub(crate) fn open_append(path: &Path, len: u64) -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    file.set_len(len).map_err(io_err(path))?;
    let mut file = file;
    use std::io::Seek;
    file.seek(std::io::SeekFrom::End(0)).map_err(io_err(path))?;
    Ok(file)
}

pub(crate) fn write_all(file: &mut File, path: &Path, bytes: &[u8]) -> Result<()> {
    file.write_all(bytes).map_err(io_err(path))
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn get_varint(input: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = input.split_first()?;
        *input = rest;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Encodes one batch of `(series, t, v)` as a log payload.
pub(crate) fn encode_samples(samples: &[(u32, i64, f64)], out: &mut Vec<u8>) {
    put_varint(out, samples.len() as u64);
    let mut prev = 0i64;
    for &(series, t, v) in samples {
        put_varint(out, series as u64);
        put_varint(out, zigzag(t.wrapping_sub(prev)));
        out.extend_from_slice(&v.to_le_bytes());
        prev = t;
    }
}

/// Decodes a log payload; `None` when it is not one.
pub(crate) fn decode_samples(mut input: &[u8]) -> Option<Vec<(u32, i64, f64)>> {
    let count = get_varint(&mut input)? as usize;
    let mut out = Vec::with_capacity(count.min(input.len() / 10));
    let mut prev = 0i64;
    for _ in 0..count {
        let series = u32::try_from(get_varint(&mut input)?).ok()?;
        let t = prev.wrapping_add(unzigzag(get_varint(&mut input)?));
        let (value, rest) = input.split_first_chunk::<8>()?;
        input = rest;
        out.push((series, t, f64::from_le_bytes(*value)));
        prev = t;
    }
    input.is_empty().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_round_trip_and_torn_tails_are_cut() {
        let samples = vec![
            (0, i64::MIN, f64::NAN),
            (7, i64::MAX, -0.0),
            (u32::MAX, 0, 1.5),
        ];
        let mut payload = Vec::new();
        encode_samples(&samples, &mut payload);
        let back = decode_samples(&payload).unwrap();
        assert_eq!(back.len(), 3);
        assert!(back
            .iter()
            .zip(&samples)
            .all(|(a, b)| a.0 == b.0 && a.1 == b.1 && a.2.to_bits() == b.2.to_bits()));
        assert!(decode_samples(&payload[..payload.len() - 1]).is_none());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut bytes = Vec::new();
        frame(&payload, &mut bytes);
        frame(b"second", &mut bytes);
        let good = bytes.len() as u64;
        frame(b"torn", &mut bytes);
        std::fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
        let (records, len) = read_records(&path).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(len, good);
        let mut file = open_append(&path, len).unwrap();
        write_all(&mut file, &path, b"").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
    }
}
