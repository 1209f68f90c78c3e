//! Compressed chunks of one series: Gorilla-style encoding.
//!
//! A chunk holds up to [`MAX_CHUNK_SAMPLES`] samples `(ms, f64)` with
//! strictly increasing timestamps. Its bytes are
//! `encoding: u8 | count: u16 LE | bit stream`:
//!
//! - Timestamps: the first in 64 bits, then delta-of-deltas in buckets
//!   `0` (same interval), `10`+5 bits, `110`+9, `1110`+13, `11110`+20,
//!   `11111`+64. Bucket widths suit millisecond scrape jitter: a 15 s scrape
//!   with a few ms of jitter costs 1 to 7 bits. Arithmetic wraps, so any
//!   i64 gap round-trips exactly.
//! - Values, encoding [`ENC_XOR`] (the head writes this one; Gorilla): XOR
//!   with the previous value; `0` when equal, `10` + the meaningful bits when
//!   they fit the previous window of leading/trailing zeros, else `11` +
//!   5 bits leading zeros + 6 bits length + the bits. Exact for every bit
//!   pattern: NaN payloads, ±Inf, -0.0.
//! - Values, encoding `ENC_DECIMAL + k` (chosen at flush when smaller):
//!   every value is `n / 10^k` for an integer `n` with `|n| < 2^53`, bit for
//!   bit. A layout byte (width `w` in bits 0–6, bit 7 set when unchanged
//!   values get their own code) and the deltas' GCD `g` (varint) follow the
//!   header; each delta of `n`, divided by `g`, is then `0` (unchanged),
//!   `10` + `w` bits or `11` + 64 bits, or without the zero code `0` + `w`
//!   bits or `1` + 64 bits: whichever is cheapest for the chunk. The GCD
//!   makes byte gauges that move in 4 KiB pages cost what a page count does. Counters of bytes or packets
//!   (`k = 0`) and of seconds with two decimals (`k = 2`) take 1–2 bytes a
//!   sample this way, where XOR needs 3–6.
//! - [`VALUES_ONLY`] in the encoding byte: no timestamps in the stream; the
//!   reader supplies them ([`decode_values`]). Block files store the
//!   timestamps of a scrape once for all the series that share them.
//!
//! [`decode`] reads any bytes without panicking: a chunk from disk is
//! checked by CRC first, but the decoder is also fuzzed on its own.

/// Samples of one chunk at most (the count is a u16).
pub const MAX_CHUNK_SAMPLES: usize = u16::MAX as usize;
pub const ENC_XOR: u8 = 0;
pub const ENC_DECIMAL: u8 = 1;
/// Flag of the encoding byte: the chunk holds no timestamps.
pub const VALUES_ONLY: u8 = 0x80;
const MAX_DECIMALS: u8 = 4;
const HEADER: usize = 3;
const TS_WIDTHS: [u32; 4] = [5, 9, 13, 20];
const POW10: [f64; 5] = [1.0, 10.0, 100.0, 1_000.0, 10_000.0];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("chunk is truncated")]
    Truncated,
    #[error("chunk has unknown encoding {0}")]
    Encoding(u8),
    #[error("chunk has an invalid XOR window")]
    Window,
    #[error("chunk timestamps are not increasing")]
    Order,
    #[error("chunk holds values only and needs its timestamps")]
    Times,
    #[error("chunk has an invalid delta width")]
    Width,
}

/// Appends bits, most significant first.
#[derive(Debug, Clone, Default)]
pub struct BitWriter {
    buf: Vec<u8>,
    acc: u64,
    nacc: u32,
}

impl BitWriter {
    /// Writes the low `n` bits of `value` (`n` ≤ 64).
    pub fn write(&mut self, value: u64, n: u32) {
        let mut n = n;
        while n > 0 {
            let take = n.min(64 - self.nacc);
            let part = (value >> (n - take)) & mask(take);
            self.acc = if take == 64 {
                part
            } else {
                (self.acc << take) | part
            };
            self.nacc += take;
            n -= take;
            if self.nacc == 64 {
                self.buf.extend_from_slice(&self.acc.to_be_bytes());
                self.acc = 0;
                self.nacc = 0;
            }
        }
    }

    pub fn bit(&mut self, b: bool) {
        self.write(b as u64, 1);
    }

    /// The bits so far, the last byte padded with zeros.
    pub fn to_bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.buf);
        let bytes = self.nacc.div_ceil(8) as usize;
        if bytes > 0 {
            let aligned = self.acc << (64 - self.nacc);
            out.extend_from_slice(&aligned.to_be_bytes()[..bytes]);
        }
    }

    pub fn len_bytes(&self) -> usize {
        self.buf.len() + self.nacc.div_ceil(8) as usize
    }
}

fn mask(n: u32) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Reads bits written by [`BitWriter`].
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    pub fn read(&mut self, n: u32) -> Result<u64, ChunkError> {
        if self.pos + n as usize > self.data.len() * 8 {
            return Err(ChunkError::Truncated);
        }
        let mut out = 0u64;
        let mut need = n;
        while need > 0 {
            let byte = self.data[self.pos / 8];
            let avail = 8 - (self.pos % 8) as u32;
            let take = need.min(avail);
            let bits = (byte >> (avail - take)) as u64 & mask(take);
            out = (out << take) | bits;
            need -= take;
            self.pos += take as usize;
        }
        Ok(out)
    }

    pub fn bit(&mut self) -> Result<bool, ChunkError> {
        Ok(self.read(1)? == 1)
    }
}

fn write_signed(w: &mut BitWriter, x: i64, widths: &[u32; 4]) {
    if x == 0 {
        w.bit(false);
        return;
    }
    for (i, &bits) in widths.iter().enumerate() {
        let half = 1i64 << (bits - 1);
        if (-half..half).contains(&x) {
            // Prefix: i+1 ones then a zero.
            w.write((1u64 << (i + 2)) - 2, i as u32 + 2);
            w.write(x as u64, bits);
            return;
        }
    }
    w.write(0b11111, 5);
    w.write(x as u64, 64);
}

fn read_signed(r: &mut BitReader<'_>, widths: &[u32; 4]) -> Result<i64, ChunkError> {
    let mut ones = 0usize;
    while ones < 5 && r.bit()? {
        ones += 1;
    }
    if ones == 0 {
        return Ok(0);
    }
    let bits = widths.get(ones - 1).copied().unwrap_or(64);
    let raw = r.read(bits)?;
    let shift = 64 - bits;
    Ok(((raw << shift) as i64) >> shift)
}

/// Timestamp state shared by both value encodings.
#[derive(Debug, Clone, Default)]
struct TimeState {
    prev: i64,
    delta: i64,
}

impl TimeState {
    fn write(&mut self, w: &mut BitWriter, n: usize, t: i64) {
        if n == 0 {
            w.write(t as u64, 64);
        } else {
            let delta = t.wrapping_sub(self.prev);
            write_signed(w, delta.wrapping_sub(self.delta), &TS_WIDTHS);
            self.delta = delta;
        }
        self.prev = t;
    }

    fn read(&mut self, r: &mut BitReader<'_>, n: usize) -> Result<i64, ChunkError> {
        let t = if n == 0 {
            r.read(64)? as i64
        } else {
            self.delta = self.delta.wrapping_add(read_signed(r, &TS_WIDTHS)?);
            self.prev.wrapping_add(self.delta)
        };
        if n > 0 && t <= self.prev {
            return Err(ChunkError::Order);
        }
        self.prev = t;
        Ok(t)
    }
}

/// The streaming XOR encoder the head appends to.
#[derive(Debug, Clone, Default)]
pub struct ChunkEncoder {
    w: BitWriter,
    count: usize,
    time: TimeState,
    value: u64,
    leading: u32,
    trailing: u32,
    first_t: i64,
}

impl ChunkEncoder {
    pub fn new() -> Self {
        ChunkEncoder {
            leading: u32::MAX,
            ..Default::default()
        }
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn is_full(&self) -> bool {
        self.count >= MAX_CHUNK_SAMPLES
    }

    pub fn first_time(&self) -> i64 {
        self.first_t
    }

    pub fn last_time(&self) -> i64 {
        self.time.prev
    }

    /// Appends a sample; the caller guarantees `t` is after the last one
    /// and that the chunk is not full.
    pub fn append(&mut self, t: i64, v: f64) {
        if self.count == 0 {
            self.first_t = t;
        }
        self.time.write(&mut self.w, self.count, t);
        let bits = v.to_bits();
        if self.count == 0 {
            self.w.write(bits, 64);
        } else {
            self.write_xor(bits ^ self.value);
        }
        self.value = bits;
        self.count += 1;
    }

    /// Appends a value without a timestamp (values-only chunks).
    fn append_value(&mut self, v: f64) {
        let bits = v.to_bits();
        if self.count == 0 {
            self.w.write(bits, 64);
        } else {
            self.write_xor(bits ^ self.value);
        }
        self.value = bits;
        self.count += 1;
    }

    fn write_xor(&mut self, xor: u64) {
        if xor == 0 {
            self.w.bit(false);
            return;
        }
        let leading = xor.leading_zeros().min(31);
        let trailing = xor.trailing_zeros();
        if self.leading != u32::MAX && leading >= self.leading && trailing >= self.trailing {
            let sig = 64 - self.leading - self.trailing;
            self.w.write(0b10, 2);
            self.w.write(xor >> self.trailing, sig);
            return;
        }
        let sig = 64 - leading - trailing;
        self.w.write(0b11, 2);
        self.w.write(leading as u64, 5);
        self.w.write((sig & 63) as u64, 6);
        self.w.write(xor >> trailing, sig);
        self.leading = leading;
        self.trailing = trailing;
    }

    /// The chunk's bytes as they are now.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.w.len_bytes());
        out.push(ENC_XOR);
        out.extend_from_slice(&(self.count as u16).to_le_bytes());
        self.w.to_bytes(&mut out);
        out
    }

    pub fn len_bytes(&self) -> usize {
        HEADER + self.w.len_bytes()
    }
}

/// Encodes samples (increasing timestamps, at most MAX_CHUNK_SAMPLES) in
/// the smallest encoding, timestamps included.
pub fn encode_best(samples: &[(i64, f64)]) -> Vec<u8> {
    let times: Vec<i64> = samples.iter().map(|s| s.0).collect();
    let values: Vec<f64> = samples.iter().map(|s| s.1).collect();
    best(Some(&times), &values)
}

/// Encodes values alone (at most MAX_CHUNK_SAMPLES), for a series whose
/// timestamps are stored once for many series (see [`crate::block`]).
pub fn encode_values_best(values: &[f64]) -> Vec<u8> {
    best(None, values)
}

fn best(times: Option<&[i64]>, values: &[f64]) -> Vec<u8> {
    let xor = encode_xor(times, values);
    match decimals(values) {
        Some((k, ints)) => {
            let dec = encode_decimal(times, &ints, k);
            if dec.len() < xor.len() {
                dec
            } else {
                xor
            }
        }
        None => xor,
    }
}

fn header(encoding: u8, times: Option<&[i64]>, count: usize) -> Vec<u8> {
    let flag = if times.is_some() { 0 } else { VALUES_ONLY };
    let mut out = vec![encoding | flag];
    out.extend_from_slice(&(count as u16).to_le_bytes());
    out
}

fn encode_xor(times: Option<&[i64]>, values: &[f64]) -> Vec<u8> {
    let mut enc = ChunkEncoder::new();
    match times {
        Some(times) => times
            .iter()
            .zip(values)
            .for_each(|(&t, &v)| enc.append(t, v)),
        None => values.iter().for_each(|&v| enc.append_value(v)),
    }
    let mut out = header(ENC_XOR, times, values.len());
    enc.w.to_bytes(&mut out);
    out
}

/// The fewest decimals `k` such that every value is exactly `n / 10^k`,
/// and the `n`s.
fn decimals(values: &[f64]) -> Option<(u8, Vec<i64>)> {
    (0..=MAX_DECIMALS).find_map(|k| {
        let ints: Option<Vec<i64>> = values.iter().map(|&v| scaled(v, k)).collect();
        ints.map(|ints| (k, ints))
    })
}

fn scaled(v: f64, k: u8) -> Option<i64> {
    let n = (v * POW10[k as usize]).round();
    if !n.is_finite() || n.abs() >= 9_007_199_254_740_992.0 {
        return None;
    }
    let n = n as i64;
    (unscale(n, k).to_bits() == v.to_bits()).then_some(n)
}

fn unscale(n: i64, k: u8) -> f64 {
    if k == 0 {
        n as f64
    } else {
        n as f64 / POW10[k as usize]
    }
}

/// Bits of the smallest two's complement form of `d`.
fn signed_bits(d: i64) -> u32 {
    65 - (d ^ (d >> 63)).leading_zeros()
}

/// How a decimal chunk writes its deltas (after dividing by their GCD):
/// with `zeros`, `0` (unchanged), `10` + `width` bits or `11` + 64 bits;
/// without, `0` + `width` bits or `1` + 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DeltaLayout {
    width: u32,
    zeros: bool,
}

impl DeltaLayout {
    /// The cheapest layout for these deltas.
    fn best(deltas: &[i64]) -> DeltaLayout {
        let mut counts = [0u64; 66];
        let mut zeros = 0u64;
        for &d in deltas {
            if d == 0 {
                zeros += 1;
            } else {
                counts[signed_bits(d).min(64) as usize] += 1;
            }
        }
        let total: u64 = counts.iter().sum();
        let (mut fit, mut best, mut best_cost) = (
            0u64,
            DeltaLayout {
                width: 64,
                zeros: true,
            },
            u64::MAX,
        );
        for width in 1..=64u32 {
            fit += counts[width as usize];
            let w = width as u64;
            let with_zeros = zeros + fit * (2 + w) + (total - fit) * 66;
            let dense = (zeros + fit) * (1 + w) + (total - fit) * 65;
            for (cost, zeros) in [(with_zeros, true), (dense, false)] {
                if cost < best_cost {
                    (best, best_cost) = (DeltaLayout { width, zeros }, cost);
                }
            }
        }
        best
    }

    fn byte(self) -> u8 {
        self.width as u8 | if self.zeros { 0x80 } else { 0 }
    }

    fn from_byte(b: u8) -> Result<DeltaLayout, ChunkError> {
        let width = (b & 0x7f) as u32;
        if !(1..=64).contains(&width) {
            return Err(ChunkError::Width);
        }
        Ok(DeltaLayout {
            width,
            zeros: b & 0x80 != 0,
        })
    }

    fn write(self, w: &mut BitWriter, d: i64) {
        let fits = signed_bits(d) <= self.width;
        match (self.zeros, d == 0, fits) {
            (true, true, _) => w.bit(false),
            (true, false, true) => {
                w.write(0b10, 2);
                w.write(d as u64, self.width);
            }
            (false, _, true) => {
                w.bit(false);
                w.write(d as u64, self.width);
            }
            (true, false, false) => {
                w.write(0b11, 2);
                w.write(d as u64, 64);
            }
            (false, _, false) => {
                w.bit(true);
                w.write(d as u64, 64);
            }
        }
    }

    fn read(self, r: &mut BitReader<'_>) -> Result<i64, ChunkError> {
        if self.zeros && !r.bit()? {
            return Ok(0);
        }
        if r.bit()? {
            return Ok(r.read(64)? as i64);
        }
        let shift = 64 - self.width;
        Ok(((r.read(self.width)? << shift) as i64) >> shift)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn encode_decimal(times: Option<&[i64]>, ints: &[i64], k: u8) -> Vec<u8> {
    let deltas: Vec<i64> = ints.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    // Values are below 2^53, so deltas are below 2^54: no overflow here.
    let g = deltas
        .iter()
        .fold(0u64, |g, d| gcd(g, d.unsigned_abs()))
        .max(1);
    let scaled: Vec<i64> = deltas.iter().map(|&d| d / g as i64).collect();
    let layout = DeltaLayout::best(&scaled);
    let mut w = BitWriter::default();
    let mut time = TimeState::default();
    for (i, &n) in ints.iter().enumerate() {
        if let Some(times) = times {
            time.write(&mut w, i, times[i]);
        }
        if i == 0 {
            w.write(n as u64, 64);
        } else {
            layout.write(&mut w, scaled[i - 1]);
        }
    }
    let mut out = header(ENC_DECIMAL + k, times, ints.len());
    out.push(layout.byte());
    crate::log::put_varint(&mut out, g);
    w.to_bytes(&mut out);
    out
}

/// Number of samples a chunk says it holds (0 for a short buffer).
pub fn chunk_count(bytes: &[u8]) -> usize {
    bytes
        .get(1..3)
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as usize)
}

/// True when the chunk holds values only.
pub fn is_values_only(bytes: &[u8]) -> bool {
    bytes.first().is_some_and(|b| b & VALUES_ONLY != 0)
}

/// Decodes a chunk with its timestamps, appending its samples to `out`.
pub fn decode_into(bytes: &[u8], out: &mut Vec<(i64, f64)>) -> Result<(), ChunkError> {
    decode_with(bytes, None, out)
}

/// Decodes a chunk with its timestamps.
pub fn decode(bytes: &[u8]) -> Result<Vec<(i64, f64)>, ChunkError> {
    let mut out = Vec::new();
    decode_into(bytes, &mut out)?;
    Ok(out)
}

/// Decodes a values-only chunk against its timestamps.
pub fn decode_values_into(
    bytes: &[u8],
    times: &[i64],
    out: &mut Vec<(i64, f64)>,
) -> Result<(), ChunkError> {
    decode_with(bytes, Some(times), out)
}

pub fn decode_values(bytes: &[u8], times: &[i64]) -> Result<Vec<(i64, f64)>, ChunkError> {
    let mut out = Vec::new();
    decode_values_into(bytes, times, &mut out)?;
    Ok(out)
}

fn decode_with(
    bytes: &[u8],
    times: Option<&[i64]>,
    out: &mut Vec<(i64, f64)>,
) -> Result<(), ChunkError> {
    if bytes.len() < HEADER {
        return Err(ChunkError::Truncated);
    }
    let encoding = bytes[0] & !VALUES_ONLY;
    let count = chunk_count(bytes);
    let times = match (bytes[0] & VALUES_ONLY != 0, times) {
        (true, Some(t)) if t.len() == count => Some(t),
        (true, _) => return Err(ChunkError::Times),
        (false, _) => None,
    };
    let mut body = &bytes[HEADER..];
    let (layout, g) = if encoding == ENC_XOR {
        (
            DeltaLayout {
                width: 64,
                zeros: true,
            },
            1,
        )
    } else {
        let (&b, rest) = body.split_first().ok_or(ChunkError::Truncated)?;
        body = rest;
        let layout = DeltaLayout::from_byte(b)?;
        let g = crate::log::get_varint(&mut body).ok_or(ChunkError::Truncated)?;
        (layout, g as i64)
    };
    // Each sample takes a bit at least: refuse counts the bytes cannot hold
    // before reserving room for them.
    if count > body.len() * 8 {
        return Err(ChunkError::Truncated);
    }
    out.reserve(count);
    let mut r = BitReader::new(body);
    let mut time = TimeState::default();
    let mut t_at = |r: &mut BitReader<'_>, i: usize| match times {
        Some(t) => Ok(t[i]),
        None => time.read(r, i),
    };
    match encoding {
        ENC_XOR => {
            let mut v = XorState::default();
            for i in 0..count {
                let t = t_at(&mut r, i)?;
                out.push((t, v.read(&mut r, i)?));
            }
            Ok(())
        }
        e if (ENC_DECIMAL..=ENC_DECIMAL + MAX_DECIMALS).contains(&e) => {
            let k = e - ENC_DECIMAL;
            let mut n = 0i64;
            for i in 0..count {
                let t = t_at(&mut r, i)?;
                n = if i == 0 {
                    r.read(64)? as i64
                } else {
                    n.wrapping_add(layout.read(&mut r)?.wrapping_mul(g))
                };
                out.push((t, unscale(n, k)));
            }
            Ok(())
        }
        e => Err(ChunkError::Encoding(e)),
    }
}

#[derive(Default)]
struct XorState {
    value: u64,
    leading: u32,
    trailing: u32,
    window: bool,
}

impl XorState {
    fn read(&mut self, r: &mut BitReader<'_>, i: usize) -> Result<f64, ChunkError> {
        if i == 0 {
            self.value = r.read(64)?;
        } else if r.bit()? {
            if r.bit()? {
                let leading = r.read(5)? as u32;
                let sig = match r.read(6)? as u32 {
                    0 => 64,
                    s => s,
                };
                if leading + sig > 64 {
                    return Err(ChunkError::Window);
                }
                (self.leading, self.trailing, self.window) = (leading, 64 - leading - sig, true);
            } else if !self.window {
                return Err(ChunkError::Window);
            }
            let sig = 64 - self.leading - self.trailing;
            let bits = r.read(sig)?;
            self.value ^= if self.trailing >= 64 {
                0
            } else {
                bits << self.trailing
            };
        }
        Ok(f64::from_bits(self.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
    }

    fn round_trip(samples: &[(i64, f64)]) {
        let mut enc = ChunkEncoder::new();
        for &(t, v) in samples {
            enc.append(t, v);
        }
        assert!(same(&decode(&enc.bytes()).unwrap(), samples), "xor");
        assert!(
            same(&decode(&encode_best(samples)).unwrap(), samples),
            "best"
        );
        let times: Vec<i64> = samples.iter().map(|s| s.0).collect();
        let values: Vec<f64> = samples.iter().map(|s| s.1).collect();
        let only = encode_values_best(&values);
        assert!(is_values_only(&only));
        assert!(
            same(&decode_values(&only, &times).unwrap(), samples),
            "values only"
        );
        assert_eq!(decode(&only).err(), Some(ChunkError::Times));
        if let Some((k, ints)) = decimals(&values) {
            let dec = encode_decimal(Some(&times), &ints, k);
            assert!(same(&decode(&dec).unwrap(), samples), "decimal");
        }
    }

    #[test]
    fn special_values_and_gaps() {
        round_trip(&[
            (i64::MIN, f64::NAN),
            (-1, f64::INFINITY),
            (0, f64::NEG_INFINITY),
            (1, -0.0),
            (2, 0.0),
            (i64::MAX - 1, f64::from_bits(0x7ff8_dead_beef_0001)),
            (i64::MAX, f64::MIN_POSITIVE),
        ]);
        round_trip(&[(5, 1.0)]);
        round_trip(&[]);
        round_trip(&[
            (0, 1.5),
            (1, -2.25),
            (2, 1e300),
            (3, 12345.67),
            (4, 9_007_199_254_740_993.0),
        ]);
    }

    #[test]
    fn decimal_encoding_is_chosen_for_counters() {
        let samples: Vec<(i64, f64)> = (0..480)
            .map(|i| {
                (
                    1_700_000_000_000 + i * 15_000,
                    (12_345_678 + i * 731) as f64 / 100.0,
                )
            })
            .collect();
        let best = encode_best(&samples);
        assert!(best[0] >= ENC_DECIMAL, "encoding {}", best[0]);
        assert!(best.len() < 480 * 3, "{} bytes", best.len());
        round_trip(&samples);
    }

    #[test]
    fn page_gauges_cost_their_page_counts() {
        let mut pages = 1_000_000i64;
        let samples: Vec<(i64, f64)> = (0..480)
            .map(|i| {
                pages += (i * 7919) % 201 - 100;
                (i * 15_000, (pages * 4096) as f64)
            })
            .collect();
        let best = encode_best(&samples);
        // 480 deltas of ±100 pages: 9 bits + 1 each, and the timestamps.
        assert!(
            best.len() < 480 * 10 / 8 + 480 / 8 + 40,
            "{} bytes",
            best.len()
        );
        round_trip(&samples);
        // Deltas of 0 and a constant series.
        round_trip(&(0..100).map(|i| (i, 5.0)).collect::<Vec<_>>());
        round_trip(
            &(0..100)
                .map(|i| (i, (i / 10 * 3) as f64))
                .collect::<Vec<_>>(),
        );
    }

    #[test]
    fn truncated_chunks_are_errors() {
        let samples: Vec<(i64, f64)> = (0..50).map(|i| (i * 1000, i as f64 * 0.1)).collect();
        for bytes in [encode_best(&samples), {
            let mut e = ChunkEncoder::new();
            samples.iter().for_each(|&(t, v)| e.append(t, v));
            e.bytes()
        }] {
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut]).is_err(), "cut {cut}");
            }
        }
    }

    proptest! {
        #[test]
        fn any_samples_round_trip(
            start in any::<i64>(),
            steps in proptest::collection::vec((1u64..u64::MAX / 1024, any::<u64>(), 0u8..4), 0..300),
        ) {
            let mut t = start;
            let mut samples = Vec::new();
            for (gap, bits, kind) in steps {
                let gap = match kind { 0 => 15_000 + gap % 50, 1 => gap % 3 + 1, _ => gap };
                let Some(next) = t.checked_add(gap as i64) else { break };
                t = next;
                let v = match kind {
                    0 => (bits % 100_000) as f64 / 100.0,
                    1 => f64::from_bits(bits),
                    _ => (bits >> 20) as f64,
                };
                samples.push((t, v));
            }
            round_trip(&samples);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
