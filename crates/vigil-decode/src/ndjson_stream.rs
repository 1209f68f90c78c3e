//! NDJSON as it arrives: pushed in chunks of any size (a line may be split
//! anywhere), checked line by line against the request's limits, and kept
//! compactly — the good lines' text end to end — until they become events.
//!
//! Why not the events at once: a parsed JSON object costs far more than its
//! text (a one-field object allocates a whole B-tree node, ~640 bytes, for
//! 8 bytes of text). Keeping the text and parsing a slice of lines at a time
//! ([`NdjsonLines::events`]) keeps a request's memory near its size.
//!
//! The lines accepted and rejected, and the reasons, are those of
//! [`decode_ndjson`](crate::ndjson::decode_ndjson) on the whole body; only
//! the listed rejections are capped (their count is not).

use crate::ndjson::{event_of_line, LineError};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::ops::Range;
use vigil_core::{Event, TenantId, Timestamp};

/// What one request may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Longest accepted line in bytes (without its line ending); longer
    /// lines are rejected, and only this much of one is ever buffered.
    pub max_line_bytes: usize,
    /// Most bytes of NDJSON (after decompression) in one body.
    pub max_body_bytes: usize,
    /// Most non-blank lines (events and rejected lines) in one body.
    pub max_lines: usize,
    /// Rejections listed with their reason at most; the rest are counted.
    pub max_listed_rejections: usize,
}

/// Why a body was refused as a whole (nothing of it is kept).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("the body is over the maximum of {max} bytes")]
    BodyTooLarge { max: usize },
    #[error("the body has over the maximum of {max} non-blank lines")]
    TooManyLines { max: usize },
}

/// The good lines of a body, their trimmed text end to end, and what was
/// rejected.
#[derive(Debug, Default)]
pub struct NdjsonLines {
    text: String,
    /// Where each line's text ends in `text`.
    ends: Vec<usize>,
    rejected: Vec<LineError>,
    rejected_count: usize,
}

impl NdjsonLines {
    /// Good lines.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The text of good line `index` (counting good lines from 0).
    pub fn line(&self, index: usize) -> &str {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.text[start..self.ends[index]]
    }

    /// The first rejections, in line order.
    pub fn rejected(&self) -> &[LineError] {
        &self.rejected
    }

    /// Every rejected line, listed or not.
    pub fn rejected_count(&self) -> usize {
        self.rejected_count
    }

    /// Heap bytes held (text and line index), for accounting.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }

    /// Consecutive ranges of good lines covering all of them, each of at
    /// most `max_lines` lines and `max_bytes` of text (a longer line is a
    /// range of its own).
    pub fn batches(&self, max_lines: usize, max_bytes: usize) -> Vec<Range<usize>> {
        let mut batches = Vec::new();
        let mut start = 0;
        let mut start_byte = 0;
        for (index, &end) in self.ends.iter().enumerate() {
            let lines = index + 1 - start;
            if lines > 1 && (lines > max_lines.max(1) || end - start_byte > max_bytes) {
                batches.push(start..index);
                start = index;
                start_byte = if index == 0 { 0 } else { self.ends[index - 1] };
            }
        }
        if start < self.ends.len() {
            batches.push(start..self.ends.len());
        }
        batches
    }

    /// The events of good lines `range` (out-of-bounds indices are left
    /// out), timed by their own time field, else `received`.
    pub fn events(&self, range: Range<usize>, tenant: TenantId, received: Timestamp) -> Vec<Event> {
        let range = range.start.min(self.len())..range.end.min(self.len());
        range
            .filter_map(|index| event_of_line(self.line(index), tenant, received).ok())
            .collect()
    }
}

/// The push side: feed it chunks, then [`finish`](NdjsonStream::finish).
#[derive(Debug)]
pub struct NdjsonStream {
    limits: StreamLimits,
    lines: NdjsonLines,
    /// The current line so far, at most `max_line_bytes + 1` bytes of it
    /// (one more for a trailing `\r`).
    partial: Vec<u8>,
    /// Bytes of the current line, buffered or not.
    line_bytes: usize,
    /// The current line is only ASCII whitespace so far.
    line_blank: bool,
    last_byte: Option<u8>,
    /// The current line's number, from 1.
    line_number: usize,
    body_bytes: usize,
    non_blank: usize,
}

impl NdjsonStream {
    pub fn new(limits: StreamLimits) -> NdjsonStream {
        NdjsonStream {
            limits,
            lines: NdjsonLines::default(),
            partial: Vec::new(),
            line_bytes: 0,
            line_blank: true,
            last_byte: None,
            line_number: 1,
            body_bytes: 0,
            non_blank: 0,
        }
    }

    /// Decoded bytes pushed so far.
    pub fn body_bytes(&self) -> usize {
        self.body_bytes
    }

    /// Takes the next bytes of the body. After an error the body is refused
    /// and the stream should be dropped.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), StreamError> {
        if bytes.len() > self.limits.max_body_bytes.saturating_sub(self.body_bytes) {
            return Err(StreamError::BodyTooLarge {
                max: self.limits.max_body_bytes,
            });
        }
        self.body_bytes += bytes.len();
        let mut rest = bytes;
        while let Some(at) = memchr::memchr(b'\n', rest) {
            self.extend(&rest[..at]);
            self.end_line()?;
            rest = &rest[at + 1..];
        }
        self.extend(rest);
        Ok(())
    }

    /// The body has ended: its last line (without a line ending) counts too.
    pub fn finish(mut self) -> Result<NdjsonLines, StreamError> {
        self.end_line()?;
        Ok(self.lines)
    }

    fn extend(&mut self, segment: &[u8]) {
        let Some(&last) = segment.last() else { return };
        self.line_bytes += segment.len();
        self.last_byte = Some(last);
        if self.line_blank {
            self.line_blank = segment.iter().all(u8::is_ascii_whitespace);
        }
        let room = (self.limits.max_line_bytes + 1).saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&segment[..segment.len().min(room)]);
    }

    fn end_line(&mut self) -> Result<(), StreamError> {
        let number = self.line_number;
        let blank = self.line_blank;
        let len = self.line_bytes - usize::from(self.last_byte == Some(b'\r'));
        self.line_number += 1;
        self.line_bytes = 0;
        self.line_blank = true;
        self.last_byte = None;
        if blank {
            self.partial.clear();
            return Ok(());
        }
        self.non_blank += 1;
        if self.non_blank > self.limits.max_lines {
            return Err(StreamError::TooManyLines {
                max: self.limits.max_lines,
            });
        }
        let verdict = if len > self.limits.max_line_bytes {
            Err(format!(
                "line is {len} bytes, over the maximum of {} bytes",
                self.limits.max_line_bytes
            ))
        } else {
            checked_line(&self.partial[..len])
        };
        match verdict {
            Ok(text) => {
                self.lines.text.push_str(text);
                self.lines.ends.push(self.lines.text.len());
            }
            Err(error) => {
                self.lines.rejected_count += 1;
                if self.lines.rejected.len() < self.limits.max_listed_rejections {
                    self.lines.rejected.push(LineError {
                        line: number,
                        error,
                    });
                }
            }
        }
        self.partial.clear();
        Ok(())
    }
}

/// The trimmed text of a line that holds one JSON object, else why not
/// (the reasons of `decode_ndjson`).
fn checked_line(line: &[u8]) -> Result<&str, String> {
    let text = std::str::from_utf8(line)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?
        .trim();
    match serde_json::from_str::<Kind>(text) {
        Ok(Kind("an object")) => Ok(text),
        Ok(Kind(other)) => Err(format!("expected a JSON object, found {other}")),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

/// The kind of a JSON value, read as strictly as `serde_json::Value` reads
/// it (the same parser and visits) but building nothing.
struct Kind(&'static str);

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor).map(Kind)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = &'static str;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok("a boolean")
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok("a number")
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok("a number")
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok("a number")
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok("a string")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok("null")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Kind>()?.is_some() {}
        Ok("an array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<Kind, Kind>()?.is_some() {}
        Ok("an object")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ndjson::{decode_ndjson, NdjsonOptions};
    use proptest::prelude::*;

    const NOW: Timestamp = Timestamp(1_700_000_000_000_000);

    fn limits() -> StreamLimits {
        StreamLimits {
            max_line_bytes: 1 << 20,
            max_body_bytes: 1 << 24,
            max_lines: 1_000_000,
            max_listed_rejections: usize::MAX,
        }
    }

    fn stream(chunks: &[&[u8]], limits: StreamLimits) -> Result<NdjsonLines, StreamError> {
        let mut stream = NdjsonStream::new(limits);
        for chunk in chunks {
            stream.push(chunk)?;
        }
        stream.finish()
    }

    fn texts(lines: &NdjsonLines) -> Vec<&str> {
        (0..lines.len()).map(|i| lines.line(i)).collect()
    }

    #[test]
    fn lines_split_across_chunks_come_out_whole() {
        let lines = stream(
            &[b"{\"a\"", b":1}\r", b"\n\n  {\"b\":", b"2}  \n{\"c\":3}"],
            limits(),
        )
        .unwrap();
        assert_eq!(texts(&lines), ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
        let events = lines.events(0..3, TenantId(4), NOW);
        assert_eq!(events.len(), 3);
        assert_eq!(events[2].doc["c"], 3);
        assert!(events
            .iter()
            .all(|e| e.tenant == TenantId(4) && e.time == NOW));
    }

    #[test]
    fn bad_lines_are_numbered_as_in_the_body() {
        let lines = stream(&[b"{\"ok\":1}\n[1,2]\n\n\"s\"\n\xff\n{not"], limits()).unwrap();
        assert_eq!(lines.len(), 1);
        let numbers: Vec<usize> = lines.rejected().iter().map(|r| r.line).collect();
        assert_eq!(numbers, [2, 4, 5, 6]);
        assert_eq!(
            lines.rejected()[0].error,
            "expected a JSON object, found an array"
        );
        assert_eq!(
            lines.rejected()[1].error,
            "expected a JSON object, found a string"
        );
        assert_eq!(lines.rejected()[2].error, "invalid UTF-8 at byte 0");
        assert!(lines.rejected()[3].error.starts_with("invalid JSON"));
    }

    #[test]
    fn an_overlong_line_is_rejected_without_being_buffered() {
        let long = vec![b'x'; 10_000];
        let mut s = NdjsonStream::new(StreamLimits {
            max_line_bytes: 50,
            ..limits()
        });
        s.push(b"{\"m\":\"").unwrap();
        for _ in 0..10 {
            s.push(&long).unwrap();
            assert!(s.partial.len() <= 51);
        }
        s.push(b"\"}\r\n{\"ok\":1}\n").unwrap();
        let lines = s.finish().unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(
            lines.rejected()[0].error,
            "line is 100008 bytes, over the maximum of 50 bytes"
        );
    }

    #[test]
    fn a_line_of_exactly_the_limit_with_cr_is_kept() {
        let line = b"{\"m\":\"xxxx\"}"; // 12 bytes
        let lines = stream(
            &[line, b"\r\n"],
            StreamLimits {
                max_line_bytes: 12,
                ..limits()
            },
        )
        .unwrap();
        assert_eq!(lines.len(), 1);
    }

    #[test]
    fn the_body_limit_counts_decoded_bytes() {
        let limits = StreamLimits {
            max_body_bytes: 10,
            ..limits()
        };
        assert!(stream(&[b"{\"a\":1}\n", b"\n\n"], limits).is_ok());
        assert_eq!(
            stream(&[b"{\"a\":1}\n", b"\n\n\n"], limits).unwrap_err(),
            StreamError::BodyTooLarge { max: 10 }
        );
    }

    #[test]
    fn the_line_limit_counts_non_blank_lines_good_or_bad() {
        let limits = StreamLimits {
            max_lines: 2,
            ..limits()
        };
        assert!(stream(&[b"{}\n\n\nbad\n\n"], limits).is_ok());
        assert_eq!(
            stream(&[b"{}\nbad\n{}"], limits).unwrap_err(),
            StreamError::TooManyLines { max: 2 }
        );
    }

    #[test]
    fn listed_rejections_are_capped_but_all_counted() {
        let body = "x\n".repeat(500);
        let lines = stream(
            &[body.as_bytes()],
            StreamLimits {
                max_listed_rejections: 3,
                ..limits()
            },
        )
        .unwrap();
        assert_eq!(lines.rejected().len(), 3);
        assert_eq!(lines.rejected_count(), 500);
    }

    #[test]
    fn tiny_events_cost_little_more_than_their_text() {
        let body = "{\"a\":1}\n".repeat(100_000);
        let lines = stream(&[body.as_bytes()], limits()).unwrap();
        assert_eq!(lines.len(), 100_000);
        // 7 bytes of text and one 8-byte end a line, with Vec growth slack.
        assert!(
            lines.heap_bytes() < 100_000 * 15 * 2,
            "{}",
            lines.heap_bytes()
        );
    }

    #[test]
    fn batches_cover_every_line_within_their_bounds() {
        let body = "{\"a\":1}\n{\"long\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}\n{\"b\":2}\n".repeat(5);
        let lines = stream(&[body.as_bytes()], limits()).unwrap();
        let batches = lines.batches(4, 20);
        let covered: Vec<usize> = batches.iter().flat_map(|r| r.clone()).collect();
        assert_eq!(covered, (0..15).collect::<Vec<_>>());
        for batch in &batches {
            let bytes: usize = batch.clone().map(|i| lines.line(i).len()).sum();
            assert!(batch.len() <= 4);
            assert!(batch.len() == 1 || bytes <= 20, "{batch:?} {bytes}");
        }
        assert!(lines.batches(100, 1 << 20).len() == 1);
        assert!(NdjsonLines::default().batches(10, 10).is_empty());
    }

    proptest! {
        /// Any bytes split anywhere: the same good lines and rejections as
        /// the one-shot decoder on the whole body.
        #[test]
        fn agrees_with_the_one_shot_decoder(
            body in proptest::collection::vec(
                prop_oneof![
                    Just(b'\n'), Just(b'\r'), Just(b' '), Just(b'{'), Just(b'}'),
                    Just(b'"'), Just(b':'), Just(b'a'), Just(b'1'), any::<u8>()
                ],
                0..300,
            ),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
            max_line_bytes in 1usize..40,
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
            cuts.sort_unstable();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut at = 0;
            for cut in cuts {
                chunks.push(&body[at..cut]);
                at = cut;
            }
            chunks.push(&body[at..]);
            let lines = stream(&chunks, StreamLimits { max_line_bytes, ..limits() }).unwrap();
            let whole = decode_ndjson(&body, TenantId(1), NOW, NdjsonOptions { max_line_bytes });
            let raws: Vec<&str> = whole.events.iter().map(|e| e.raw.as_str()).collect();
            prop_assert_eq!(texts(&lines), raws);
            prop_assert_eq!(lines.rejected(), &whole.rejected[..]);
            prop_assert_eq!(lines.rejected_count(), whole.rejected.len());
            let events = lines.events(0..lines.len(), TenantId(1), NOW);
            prop_assert_eq!(events.len(), lines.len());
        }
    }
}
