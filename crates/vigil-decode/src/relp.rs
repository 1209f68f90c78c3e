//! RELP, the Reliable Event Logging Protocol of rsyslog's `omrelp` and
//! librelp: the frames, cut from a byte stream, and the server's answers.
//! No I/O.
//!
//! A frame is `TXNR SP COMMAND SP DATALEN [SP DATA] LF`: a transaction
//! number (1 to 999,999,999), a command of letters (`open`, `syslog`,
//! `close`), and DATALEN bytes of data. The server answers each
//! transaction with `TXNR rsp LEN CODE SP TEXT[LF OFFERS]`, and may say
//! `0 serverclose 0 LF` before it hangs up. The sender keeps a window of
//! unanswered transactions and sends them again on a new connection if no
//! answer came: an answer is the promise that the message is kept.
//!
//! Everything here is outside input: lengths are bounded before anything
//! is allocated, and a frame that breaks the grammar is an error after
//! which the stream cannot be trusted (the server answers 500 and closes).

use std::fmt;

/// Longest transaction number, in digits (librelp wraps at 999,999,999).
const MAX_TXNR_DIGITS: usize = 9;
/// Longest command name (librelp's own limit).
const MAX_COMMAND_LEN: usize = 32;
/// Longest DATALEN, in digits.
const MAX_DATALEN_DIGITS: usize = 9;
/// A header longer than this without its third space is not RELP.
const MAX_HEADER_LEN: usize = MAX_TXNR_DIGITS + 1 + MAX_COMMAND_LEN + 1 + MAX_DATALEN_DIGITS + 1;

/// One frame from the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelpFrame {
    pub txnr: u64,
    pub command: String,
    pub data: Vec<u8>,
}

/// Why a stream cannot be read on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelpError {
    /// The transaction number is not 1 to 9 digits.
    BadTxnr,
    /// The command is empty, too long or not letters.
    BadCommand,
    /// DATALEN is not 1 to 9 digits, or the data is not preceded by a space.
    BadDatalen,
    /// DATALEN is over the limit the listener was given.
    TooLarge { len: usize, max: usize },
    /// The byte after the data is not LF.
    MissingTrailer,
    /// The stream ended inside a frame.
    Truncated,
}

impl RelpError {
    /// Short name for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            RelpError::BadTxnr => "bad_txnr",
            RelpError::BadCommand => "bad_command",
            RelpError::BadDatalen => "bad_datalen",
            RelpError::TooLarge { .. } => "too_large",
            RelpError::MissingTrailer => "missing_trailer",
            RelpError::Truncated => "truncated",
        }
    }
}

impl fmt::Display for RelpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelpError::BadTxnr => f.write_str("the transaction number is not 1 to 9 digits"),
            RelpError::BadCommand => f.write_str("the command is not 1 to 32 letters"),
            RelpError::BadDatalen => f.write_str("the data length is not 1 to 9 digits"),
            RelpError::TooLarge { len, max } => {
                write!(f, "a frame of {len} bytes is over the limit of {max}")
            }
            RelpError::MissingTrailer => f.write_str("a frame does not end with LF"),
            RelpError::Truncated => f.write_str("the stream ended inside a frame"),
        }
    }
}

impl std::error::Error for RelpError {}

/// Cuts frames from a byte stream. Holds at most one partial frame (its
/// data bounded by `max_data`) plus what the last push brought.
#[derive(Debug)]
pub struct RelpDecoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already cut into frames.
    start: usize,
    max_data: usize,
    /// After an error nothing more is cut: the stream is out of step.
    failed: Option<RelpError>,
}

impl RelpDecoder {
    /// A decoder refusing frames whose data is over `max_data` bytes.
    pub fn new(max_data: usize) -> Self {
        RelpDecoder {
            buf: Vec::new(),
            start: 0,
            max_data,
            failed: None,
        }
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            // Forget what was cut, so the buffer holds one frame at most.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` if more bytes are needed, or the
    /// error that stops the stream (returned again on every later call).
    pub fn next_frame(&mut self) -> Result<Option<RelpFrame>, RelpError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match parse(&self.buf[self.start..], self.max_data) {
            Ok(Some((frame, used))) => {
                self.start += used;
                Ok(Some(frame))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// At the end of the stream: an error if a frame was cut short.
    pub fn finish(&self) -> Result<(), RelpError> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None if self.start < self.buf.len() => Err(RelpError::Truncated),
            None => Ok(()),
        }
    }

    /// Bytes held that are not yet a frame.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }
}

/// One frame from the front of `input` and the bytes it took; `None`
/// when `input` holds no complete frame yet.
fn parse(input: &[u8], max_data: usize) -> Result<Option<(RelpFrame, usize)>, RelpError> {
    let Some((txnr, rest)) = field(input, 0, MAX_TXNR_DIGITS, RelpError::BadTxnr)? else {
        return Ok(None);
    };
    let txnr = digits(txnr).ok_or(RelpError::BadTxnr)?;
    let offset = input.len() - rest.len();
    let Some((command, rest)) = field(rest, offset, MAX_COMMAND_LEN, RelpError::BadCommand)? else {
        return Ok(None);
    };
    if command.is_empty() || !command.iter().all(u8::is_ascii_alphabetic) {
        return Err(RelpError::BadCommand);
    }
    let Some((len, rest)) = datalen(rest)? else {
        return Ok(None);
    };
    if len > max_data {
        return Err(RelpError::TooLarge { len, max: max_data });
    }
    // The data (after its space, when there is data), then LF.
    let data_start = usize::from(len > 0);
    if len > 0 && rest.first().is_some_and(|b| *b != b' ') {
        return Err(RelpError::BadDatalen);
    }
    let Some(&trailer) = rest.get(data_start + len) else {
        return Ok(None);
    };
    if trailer != b'\n' {
        return Err(RelpError::MissingTrailer);
    }
    let data = rest[data_start..data_start + len].to_vec();
    let used = input.len() - rest.len() + data_start + len + 1;
    let frame = RelpFrame {
        txnr,
        command: String::from_utf8_lossy(command).into_owned(),
        data,
    };
    Ok(Some((frame, used)))
}

/// A field and what follows it.
type Split<'a> = (&'a [u8], &'a [u8]);

/// The bytes before the next space (at most `max` of them) and what
/// follows the space; `None` if the space has not arrived yet. `offset`:
/// where `input` starts in the header, to bound the whole header.
fn field(
    input: &[u8],
    offset: usize,
    max: usize,
    error: RelpError,
) -> Result<Option<Split<'_>>, RelpError> {
    match input.iter().take(max + 1).position(|b| *b == b' ') {
        Some(0) => Err(error),
        Some(at) => Ok(Some((&input[..at], &input[at + 1..]))),
        None if input.len() > max || offset + input.len() > MAX_HEADER_LEN => Err(error),
        None => Ok(None),
    }
}

/// DATALEN, ended by a space (data follows) or LF (no data); the LF stays
/// in what is returned, as the frame's trailer.
fn datalen(input: &[u8]) -> Result<Option<(usize, &[u8])>, RelpError> {
    let end = input
        .iter()
        .take(MAX_DATALEN_DIGITS + 1)
        .position(|b| !b.is_ascii_digit());
    let Some(end) = end else {
        if input.len() > MAX_DATALEN_DIGITS {
            return Err(RelpError::BadDatalen);
        }
        return Ok(None);
    };
    if end == 0 || !matches!(input[end], b' ' | b'\n') {
        return Err(RelpError::BadDatalen);
    }
    let len = digits(&input[..end]).ok_or(RelpError::BadDatalen)? as usize;
    if len == 0 && input[end] != b'\n' {
        // `0 SP LF`: librelp writes none, but a space before the trailer
        // is harmless; skip it.
        return match input.get(end + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some((0, &input[end + 1..]))),
            Some(_) => Err(RelpError::BadDatalen),
        };
    }
    Ok(Some((len, &input[end..])))
}

/// ASCII digits as a number; `None` if empty or not digits.
fn digits(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > MAX_DATALEN_DIGITS.max(MAX_TXNR_DIGITS) {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// The answer to transaction `txnr`: `CODE TEXT`, then `extra` lines (the
/// offers of an `open` answer).
pub fn response(txnr: u64, code: u16, text: &str, extra: Option<&str>) -> Vec<u8> {
    let mut data = format!("{code} {text}");
    if let Some(extra) = extra {
        data.push('\n');
        data.push_str(extra);
    }
    format!("{txnr} rsp {} {data}\n", data.len()).into_bytes()
}

/// What the server says before it closes the connection itself.
pub fn server_close() -> Vec<u8> {
    b"0 serverclose 0\n".to_vec()
}

/// The offers of the server's `open` answer: version 0, and `syslog` as the
/// one command it serves.
pub fn open_offers(software: &str) -> String {
    format!("relp_version=0\nrelp_software={software}\ncommands=syslog")
}

/// Whether the sender's `open` offers the `syslog` command (a sender that
/// does not would never send a message).
pub fn offers_syslog(open_data: &[u8]) -> bool {
    String::from_utf8_lossy(open_data).lines().any(|line| {
        line.strip_prefix("commands=")
            .is_some_and(|v| v.split(',').any(|c| c.trim() == "syslog"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], max: usize) -> (Vec<RelpFrame>, Option<RelpError>) {
        let mut d = RelpDecoder::new(max);
        d.push(input);
        let mut out = Vec::new();
        loop {
            match d.next_frame() {
                Ok(Some(f)) => out.push(f),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn librelp_session() {
        let open = b"relp_version=0\nrelp_software=librelp,1.11.0\ncommands=syslog";
        let mut stream = format!("1 open {} ", open.len()).into_bytes();
        stream.extend_from_slice(open);
        stream.extend_from_slice(b"\n2 syslog 5 hello\n3 syslog 0\n4 close 0\n");
        let (got, err) = frames(&stream, 1024);
        assert_eq!(err, None);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].command, "open");
        assert!(offers_syslog(&got[0].data));
        assert_eq!((got[1].txnr, got[1].data.as_slice()), (2, &b"hello"[..]));
        assert_eq!((got[2].command.as_str(), got[2].data.len()), ("syslog", 0));
        assert_eq!((got[3].txnr, got[3].command.as_str()), (4, "close"));
    }

    #[test]
    fn frames_split_anywhere_come_out_whole() {
        let stream = b"7 syslog 11 hello world\n8 syslog 3 a\nb\n";
        for cut in 0..stream.len() {
            let mut d = RelpDecoder::new(64);
            let mut got = Vec::new();
            for part in [&stream[..cut], &stream[cut..]] {
                d.push(part);
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got.len(), 2, "cut at {cut}");
            assert_eq!(got[1].data, b"a\nb");
            assert!(d.finish().is_ok());
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn malformed_frames_stop_the_stream() {
        let cases: &[(&[u8], RelpError)] = &[
            (b"x syslog 1 a\n", RelpError::BadTxnr),
            (b" syslog 1 a\n", RelpError::BadTxnr),
            (b"1234567890 syslog 1 a\n", RelpError::BadTxnr),
            (b"1 sys1og 1 a\n", RelpError::BadCommand),
            (b"1  1 a\n", RelpError::BadCommand),
            (b"1 syslog a a\n", RelpError::BadDatalen),
            (b"1 syslog 1234567890 a\n", RelpError::BadDatalen),
            (b"1 syslog 2xab\n", RelpError::BadDatalen),
            (b"1 syslog 1 ab\n", RelpError::MissingTrailer),
            (b"1 syslog 0 x\n", RelpError::BadDatalen),
        ];
        for (input, want) in cases {
            let (got, err) = frames(input, 64);
            assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(input));
            assert_eq!(
                err.as_ref(),
                Some(want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        // An endless command never grows the buffer unchecked.
        let (_, err) = frames(&[b'a'; 100], 64);
        assert_eq!(err, Some(RelpError::BadTxnr));
        let (_, err) = frames(b"1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64);
        assert_eq!(err, Some(RelpError::BadCommand));
    }

    #[test]
    fn oversized_frames_are_refused_before_their_data() {
        let (_, err) = frames(b"1 syslog 999999999 ", 1000);
        assert_eq!(
            err,
            Some(RelpError::TooLarge {
                len: 999_999_999,
                max: 1000
            })
        );
        let (got, err) = frames(b"1 syslog 4 abcd\n", 4);
        assert_eq!((got.len(), err), (1, None));
    }

    #[test]
    fn errors_stick_and_truncation_is_seen() {
        let mut d = RelpDecoder::new(64);
        d.push(b"1 syslog 5 ab");
        assert_eq!(d.next_frame(), Ok(None));
        assert_eq!(d.finish(), Err(RelpError::Truncated));
        d.push(b"cde\n");
        assert!(d.next_frame().unwrap().is_some());
        d.push(b"?\n2 syslog 1 a\n");
        assert_eq!(d.next_frame(), Err(RelpError::BadTxnr));
        assert_eq!(d.next_frame(), Err(RelpError::BadTxnr));
    }

    #[test]
    fn answers() {
        assert_eq!(response(3, 200, "OK", None), b"3 rsp 6 200 OK\n");
        let open = response(1, 200, "OK", Some(&open_offers("vigil")));
        let text = String::from_utf8(open).unwrap();
        assert!(
            text.starts_with("1 rsp 57 200 OK\nrelp_version=0\n"),
            "{text}"
        );
        assert!(text.ends_with("commands=syslog\n"));
        // Our own answer reads back as a frame.
        let (got, err) = frames(text.as_bytes(), 1024);
        assert_eq!((got.len(), err), (1, None));
        assert_eq!(got[0].command, "rsp");
        assert_eq!(server_close(), b"0 serverclose 0\n");
        assert!(!offers_syslog(b"relp_version=0\ncommands=other"));
    }
}
