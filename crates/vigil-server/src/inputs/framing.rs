//! Syslog framing, independent of sockets: the byte stream of a TCP or TLS
//! connection cut into messages (RFC 6587, RFC 5425), and a UDP datagram
//! cut into the messages it carries.
//!
//! A stream may mix both framings of RFC 6587, so the choice is made per
//! frame: a frame that starts with a non-zero digit, more digits and a
//! space is octet-counted (`MSG-LEN SP SYSLOG-MSG`); any other frame ends
//! at the next LF or NUL (non-transparent framing). `0 ` and ` 12 ` are not
//! octet counts: RFC 6587 forbids a leading zero, and a leading space means
//! the sender does not count.
//!
//! Memory stays bounded by `max + read size`: a newline frame longer than
//! the limit is cut and the rest of it skipped without being kept, and an
//! octet count above the limit is an error, since the rest of such a stream
//! cannot be trusted.

/// One message cut from a stream, its trailing CR, LF and NULs removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub bytes: Vec<u8>,
    /// The frame was longer than the limit and only its first `max` bytes
    /// are kept (newline framing only).
    pub truncated: bool,
}

/// Why the rest of a stream cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// An octet count larger than the limit (or than any number).
    #[error("octet count {declared} is over the limit of {max} bytes")]
    OctetCountTooLarge { declared: String, max: usize },
    /// The stream ended inside an octet-counted frame.
    #[error("the stream ended {missing} bytes short of an octet-counted frame")]
    TruncatedAtEof { missing: usize },
}

impl FramingError {
    /// A short name for a metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            FramingError::OctetCountTooLarge { .. } => "octet_count_too_large",
            FramingError::TruncatedAtEof { .. } => "truncated_at_eof",
        }
    }
}

/// What the start of the buffered bytes is.
enum Head {
    /// Octet-counted: the message starts at `start` and has `len` bytes.
    Counted { start: usize, len: usize },
    /// Newline-terminated.
    Newline,
    /// Too few bytes to tell.
    Unknown,
}

/// Cuts a byte stream into frames. Feed it with [`Deframer::push`], take
/// frames with [`Deframer::next_frame`] until `None`, and call
/// [`Deframer::finish`] at the end of the stream.
#[derive(Debug)]
pub struct Deframer {
    buf: Vec<u8>,
    /// Where the unread bytes of `buf` start.
    pos: usize,
    /// Bytes after `pos` already searched for a terminator, so that a frame
    /// arriving a byte at a time is scanned once, not once per byte.
    scanned: usize,
    /// Skipping the rest of a cut newline frame up to its terminator.
    discarding: bool,
    max: usize,
}

/// Longest octet count read as one: `usize::MAX` has 20 digits.
const MAX_COUNT_DIGITS: usize = 20;

/// Most bytes a [`Deframer`] holds once [`Deframer::next_frame`] has
/// returned `None`: a partial frame of `max` bytes and its count.
pub fn max_buffered(max: usize) -> usize {
    max.max(1) + MAX_COUNT_DIGITS + 1
}

impl Deframer {
    /// `max` is the largest message kept, in bytes (at least 1).
    pub fn new(max: usize) -> Self {
        Deframer {
            buf: Vec::new(),
            pos: 0,
            scanned: 0,
            discarding: false,
            max: max.max(1),
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        if self.pos > 0 {
            // What is kept is at most one partial frame: cheap to move.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes held that are not yet part of a returned frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    /// Empty frames (blank lines, the LF some senders put after an
    /// octet-counted frame) are skipped. After an error the stream must be
    /// closed: further calls return the same error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        loop {
            if self.discarding && !self.skip_discarded() {
                return Ok(None);
            }
            let frame = match self.head()? {
                Head::Unknown => return Ok(None),
                Head::Counted { start, len } => match self.take_counted(start, len) {
                    Some(frame) => frame,
                    None => return Ok(None),
                },
                Head::Newline => match self.take_line() {
                    Some(frame) => frame,
                    None => return Ok(None),
                },
            };
            if !frame.bytes.is_empty() {
                return Ok(Some(frame));
            }
        }
    }

    /// At the end of the stream: the last frame if it was newline-framed
    /// and not empty; an error if an octet-counted frame is incomplete.
    pub fn finish(&mut self) -> Result<Option<Frame>, FramingError> {
        if let Some(frame) = self.next_frame()? {
            return Ok(Some(frame));
        }
        if self.discarding {
            self.pos = self.buf.len();
            return Ok(None);
        }
        let rest = &self.buf[self.pos..];
        let result = match self.head()? {
            Head::Counted { start, len } => Err(FramingError::TruncatedAtEof {
                missing: start + len - rest.len(),
            }),
            // A lone run of digits is a message that lacks its LF.
            Head::Unknown | Head::Newline => {
                let line = trim_end(rest);
                let truncated = line.len() > self.max;
                let bytes = trim_end(&line[..line.len().min(self.max)]).to_vec();
                Ok((!bytes.is_empty()).then_some(Frame { bytes, truncated }))
            }
        };
        self.pos = self.buf.len();
        self.scanned = 0;
        result
    }

    /// Reads the framing of the frame at `pos`.
    fn head(&self) -> Result<Head, FramingError> {
        let rest = &self.buf[self.pos..];
        let Some(&first) = rest.first() else {
            return Ok(Head::Unknown);
        };
        if !(b'1'..=b'9').contains(&first) {
            return Ok(Head::Newline);
        }
        // Counting stops past the longest count: a longer run of digits is
        // not a count, decided at once (not on the byte after the run), so
        // that the run is neither kept nor scanned again on every read, and
        // the outcome is the same however the reads are cut.
        let digits = rest
            .iter()
            .take(MAX_COUNT_DIGITS + 1)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits > MAX_COUNT_DIGITS {
            return Ok(Head::Newline);
        }
        match rest.get(digits) {
            Some(b' ') => {
                let text = &rest[..digits];
                match parse_count(text) {
                    Some(len) if len <= self.max => Ok(Head::Counted {
                        start: digits + 1,
                        len,
                    }),
                    _ => Err(FramingError::OctetCountTooLarge {
                        declared: String::from_utf8_lossy(text).into_owned(),
                        max: self.max,
                    }),
                }
            }
            Some(_) => Ok(Head::Newline),
            // Only digits so far: a count or a message of digits.
            None => Ok(Head::Unknown),
        }
    }

    fn take_counted(&mut self, start: usize, len: usize) -> Option<Frame> {
        let rest = &self.buf[self.pos..];
        let body = rest.get(start..start + len)?;
        let bytes = trim_end(body).to_vec();
        self.pos += start + len;
        self.scanned = 0;
        Some(Frame {
            bytes,
            truncated: false,
        })
    }

    fn take_line(&mut self) -> Option<Frame> {
        let rest = &self.buf[self.pos..];
        let from = self.scanned.min(rest.len());
        match find_terminator(&rest[from..]).map(|i| from + i) {
            Some(end) if trim_end(&rest[..end]).len() <= self.max => {
                let bytes = trim_end(&rest[..end]).to_vec();
                self.pos += end + 1;
                self.scanned = 0;
                Some(Frame {
                    bytes,
                    truncated: false,
                })
            }
            // Over the limit: keep the first `max` bytes, skip the rest.
            Some(_) => Some(self.cut_line()),
            // A CR may wait for its LF: the limit is on the message.
            None if rest.len() > self.max + 1 || trim_end(rest).len() > self.max => {
                Some(self.cut_line())
            }
            None => {
                self.scanned = rest.len();
                None
            }
        }
    }

    /// Returns the first `max` bytes of an overlong line and starts
    /// skipping the rest of it.
    fn cut_line(&mut self) -> Frame {
        let bytes = self.buf[self.pos..self.pos + self.max].to_vec();
        self.pos += self.max;
        self.scanned = 0;
        self.discarding = true;
        Frame {
            bytes: trim_end(&bytes).to_vec(),
            truncated: true,
        }
    }

    /// Drops bytes of a cut line up to and including its terminator;
    /// whether the terminator was found.
    fn skip_discarded(&mut self) -> bool {
        match find_terminator(&self.buf[self.pos..]) {
            Some(i) => {
                self.pos += i + 1;
                self.discarding = false;
                true
            }
            None => {
                self.pos = self.buf.len();
                false
            }
        }
    }
}

fn find_terminator(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n' || b == 0)
}

/// An octet count, `None` when it does not fit in a `usize`.
fn parse_count(digits: &[u8]) -> Option<usize> {
    digits.iter().try_fold(0usize, |n, &d| {
        n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })
}

/// Removes trailing CR, LF and NUL bytes.
pub fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| !matches!(b, b'\n' | b'\r' | 0))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Cuts a UDP datagram into messages. A datagram is one message (RFC 5426),
/// but some senders pack several, one per line. Cutting at every LF would
/// also cut a multi-line message (a stack trace) into pieces, so it is cut
/// only at a LF (or NUL) followed by `<`, the start of the next message's
/// priority. Trailing CR, LF and NULs of each message are removed; empty
/// messages are skipped.
pub fn split_datagram(datagram: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = datagram;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let cut = rest
            .windows(2)
            .position(|w| matches!(w[0], b'\n' | 0) && w[1] == b'<');
        let (message, next) = match cut {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let message = trim_end(message);
        if !message.is_empty() {
            return Some(message);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` one after the other, collecting every frame, then
    /// ends the stream.
    fn run(max: usize, chunks: &[&[u8]]) -> (Vec<Frame>, Result<(), FramingError>) {
        let mut d = Deframer::new(max);
        let mut frames = Vec::new();
        for chunk in chunks {
            d.push(chunk);
            loop {
                match d.next_frame() {
                    Ok(Some(f)) => frames.push(f),
                    Ok(None) => break,
                    Err(e) => return (frames, Err(e)),
                }
            }
        }
        match d.finish() {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => {}
            Err(e) => return (frames, Err(e)),
        }
        (frames, Ok(()))
    }

    fn texts(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
            .collect()
    }

    #[test]
    fn newline_frames_with_crlf_and_nul() {
        let (frames, end) = run(100, &[b"<1>a\n<2>b\r\n<3>c\0<4>d\n\n\n"]);
        assert_eq!(end, Ok(()));
        assert_eq!(texts(&frames), ["<1>a", "<2>b", "<3>c", "<4>d"]);
    }

    #[test]
    fn octet_counted_and_mixed() {
        let (frames, end) = run(100, &[b"5 <1>ab3 xyz\n<2>line\n7 <3>abc\n"]);
        assert_eq!(end, Ok(()));
        assert_eq!(texts(&frames), ["<1>ab", "xyz", "<2>line", "<3>abc"]);
    }

    #[test]
    fn octet_counted_frame_may_hold_newlines() {
        let (frames, _) = run(100, &[b"8 <1>a\nb\nc"]);
        assert_eq!(texts(&frames), ["<1>a\nb\nc"]);
    }

    #[test]
    fn partial_frames_byte_by_byte() {
        let stream = b"11 <1>hello wo<2>second line\n3 end";
        let chunks: Vec<&[u8]> = stream.chunks(1).collect();
        let (frames, end) = run(100, &chunks);
        assert_eq!(end, Ok(()));
        assert_eq!(texts(&frames), ["<1>hello wo", "<2>second line", "end"]);
    }

    #[test]
    fn count_split_across_reads() {
        let (frames, end) = run(100, &[b"1", b"0", b" <1>", b"456", b"789\n"]);
        assert_eq!(end, Ok(()));
        assert_eq!(texts(&frames), ["<1>456789"]);
    }

    #[test]
    fn huge_count_is_an_error() {
        let (frames, end) = run(100, &[b"<1>ok\n99999999999999999999 x"]);
        assert_eq!(texts(&frames), ["<1>ok"]);
        assert!(matches!(end, Err(FramingError::OctetCountTooLarge { .. })));
        let (_, end) = run(100, &[b"101 x"]);
        assert_eq!(
            end,
            Err(FramingError::OctetCountTooLarge {
                declared: "101".into(),
                max: 100
            })
        );
        // At the limit is fine.
        let body = vec![b'a'; 100];
        let mut stream = b"100 ".to_vec();
        stream.extend_from_slice(&body);
        let (frames, end) = run(100, &[&stream]);
        assert_eq!(end, Ok(()));
        assert_eq!(frames[0].bytes, body);
    }

    #[test]
    fn zero_and_leading_spaces_are_newline_frames() {
        let (frames, end) = run(100, &[b"0 <1>zero\n  12 <2>spaced\n"]);
        assert_eq!(end, Ok(()));
        assert_eq!(texts(&frames), ["0 <1>zero", "  12 <2>spaced"]);
    }

    #[test]
    fn digits_without_space_are_a_line() {
        let (frames, end) = run(100, &[b"12345\n", b"678"]);
        assert_eq!(end, Ok(()));
        assert_eq!(texts(&frames), ["12345", "678"]);
    }

    #[test]
    fn more_than_twenty_digits_are_not_a_count() {
        let digits = "1".repeat(21);
        let (frames, end) = run(100, &[format!("{digits} <1>x\n").as_bytes()]);
        assert_eq!(end, Ok(()));
        assert_eq!(texts(&frames), [format!("{digits} <1>x")]);
    }

    #[test]
    fn the_last_line_is_cut_too() {
        let (frames, end) = run(1, &[b"<1>a\n", b"11"]);
        assert_eq!(end, Ok(()));
        assert_eq!(texts(&frames), ["<", "1"]);
        assert!(frames[1].truncated);
    }

    #[test]
    fn long_digit_run_is_cut_like_a_line() {
        let (frames, end) = run(4, &[b"1234567", b"89\n<1>x\n"]);
        assert_eq!(end, Ok(()));
        assert_eq!(texts(&frames), ["1234", "<1>x"]);
        assert!(frames[0].truncated);
    }

    #[test]
    fn oversized_line_is_cut_and_the_rest_skipped() {
        let (frames, end) = run(5, &[b"<1>abcdefgh", b"ijk", b"lm\n<2>ok\n"]);
        assert_eq!(end, Ok(()));
        assert_eq!(texts(&frames), ["<1>ab", "<2>ok"]);
        assert!(frames[0].truncated);
        assert!(!frames[1].truncated);
    }

    #[test]
    fn skipped_bytes_are_not_kept() {
        let mut d = Deframer::new(10);
        d.push(b"<1>aaaaaaaaaaaaaaaaaaaa");
        assert!(d.next_frame().unwrap().unwrap().truncated);
        for _ in 0..1000 {
            d.push(&[b'x'; 1000]);
            assert_eq!(d.next_frame(), Ok(None));
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn a_line_waiting_for_its_end_is_bounded() {
        let mut d = Deframer::new(100);
        for _ in 0..50 {
            d.push(b"xx");
            assert_eq!(d.next_frame(), Ok(None));
        }
        assert_eq!(d.buffered(), 100);
        d.push(b"y");
        let f = d.next_frame().unwrap().unwrap();
        assert!(f.truncated);
        assert_eq!(f.bytes.len(), 100);
        assert_eq!(d.buffered(), 1);
    }

    #[test]
    fn truncated_at_eof() {
        let (frames, end) = run(100, &[b"<1>a\n10 <2>b"]);
        assert_eq!(texts(&frames), ["<1>a"]);
        assert_eq!(end, Err(FramingError::TruncatedAtEof { missing: 6 }));
        let (frames, end) = run(100, &[b"<1>a\n<2>no newline"]);
        assert_eq!(end, Ok(()));
        assert_eq!(texts(&frames), ["<1>a", "<2>no newline"]);
        let (frames, end) = run(100, &[b"\r\n\0"]);
        assert_eq!(end, Ok(()));
        assert!(frames.is_empty());
    }

    #[test]
    fn error_is_sticky() {
        let mut d = Deframer::new(10);
        d.push(b"11 abcdefghijk");
        assert!(d.next_frame().is_err());
        assert!(d.next_frame().is_err());
    }

    #[test]
    fn datagrams() {
        let split = |d: &'static [u8]| -> Vec<&[u8]> { split_datagram(d).collect() };
        assert_eq!(split(b"<1>one\n"), [b"<1>one"]);
        assert_eq!(
            split(b"<1>one\n<2>two\r\n<3>three"),
            [&b"<1>one"[..], b"<2>two", b"<3>three"]
        );
        assert_eq!(
            split(b"<1>trace\n  at a\n  at b\n"),
            [b"<1>trace\n  at a\n  at b"]
        );
        assert_eq!(split(b"<1>a\0<2>b\0"), [&b"<1>a"[..], b"<2>b"]);
        assert!(split(b"\n\n\0").is_empty());
        assert!(split(b"").is_empty());
        assert_eq!(split(b"\n<1>x\n\n<2>y"), [&b"<1>x"[..], b"<2>y"]);
    }

    #[test]
    fn trims() {
        assert_eq!(trim_end(b"a\r\n\0\0"), b"a");
        assert_eq!(trim_end(b"\r\n"), b"");
        assert_eq!(trim_end(b"a b "), b"a b ");
    }
}
