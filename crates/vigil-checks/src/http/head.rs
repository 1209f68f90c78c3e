//! The head of an HTTP/1.x response: status line and header fields.
//!
//! The bytes come from a target nobody vouches for, so the parser is strict
//! about structure, bounded in size and count, and fuzzed
//! (`fuzz/fuzz_targets/checks_http_head.rs`).

/// The most bytes of a head read before giving up on it.
pub const MAX_HEAD: usize = 16 * 1024;
/// The most header fields kept.
pub const MAX_HEADERS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub reason: String,
    /// Names lowercased; values trimmed.
    pub headers: Vec<(String, String)>,
}

/// How the body after a head ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("the response does not start with an HTTP/1 status line")]
    NotHttp,
    #[error("bad status code")]
    Status,
    #[error("the head has no end")]
    Unterminated,
    #[error("bad header line")]
    Header,
    #[error("more than {MAX_HEADERS} header fields")]
    TooManyHeaders,
    #[error("bad or conflicting Content-Length")]
    ContentLength,
}

/// Parses a head, from the status line to the empty line (included or
/// not). Lines end in CRLF or, leniently, LF.
pub fn parse_head(bytes: &[u8]) -> Result<Head, HeadError> {
    let mut lines = bytes.split_inclusive(|&b| b == b'\n');
    let first = lines.next().ok_or(HeadError::NotHttp)?;
    let (status, reason) = status_line(trim_end(first))?;
    let mut headers = Vec::new();
    let mut ended = false;
    for line in lines {
        if !line.ends_with(b"\n") {
            break;
        }
        let line = trim_end(line);
        if line.is_empty() {
            ended = true;
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(HeadError::TooManyHeaders);
        }
        headers.push(header(line)?);
    }
    if !ended {
        return Err(HeadError::Unterminated);
    }
    Ok(Head {
        status,
        reason,
        headers,
    })
}

/// The line without its LF or CRLF.
fn trim_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn status_line(line: &[u8]) -> Result<(u16, String), HeadError> {
    let rest = line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| line.strip_prefix(b"HTTP/1.0 "))
        .ok_or(HeadError::NotHttp)?;
    let code = rest.get(..3).ok_or(HeadError::Status)?;
    if !code.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(|&b| b != b' ') {
        return Err(HeadError::Status);
    }
    let status = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&status) {
        return Err(HeadError::Status);
    }
    let reason = String::from_utf8_lossy(rest.get(4..).unwrap_or_default()).into_owned();
    Ok((status, reason))
}

fn header(line: &[u8]) -> Result<(String, String), HeadError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(HeadError::Header)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
        return Err(HeadError::Header);
    }
    let value = String::from_utf8_lossy(value.trim_ascii());
    Ok((
        String::from_utf8_lossy(name).to_ascii_lowercase(),
        value.into_owned(),
    ))
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl Head {
    /// The first value of a header (`name` lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// How the body is framed (RFC 9112 §6.3), for a response to GET.
    pub fn framing(&self) -> Result<Framing, HeadError> {
        if self.status < 200 || self.status == 204 || self.status == 304 {
            return Ok(Framing::Empty);
        }
        let chunked = self
            .headers
            .iter()
            .filter(|(n, _)| n == "transfer-encoding")
            .any(|(_, v)| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            return Ok(Framing::Chunked);
        }
        let mut length = None;
        for (_, value) in self.headers.iter().filter(|(n, _)| n == "content-length") {
            for part in value.split(',') {
                let n: u64 = part.trim().parse().map_err(|_| HeadError::ContentLength)?;
                if length.is_some_and(|l| l != n) {
                    return Err(HeadError::ContentLength);
                }
                length = Some(n);
            }
        }
        Ok(length.map_or(Framing::UntilClose, Framing::Length))
    }

    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_head() {
        let head = parse_head(
            b"HTTP/1.1 301 Moved Permanently\r\nLocation: /new\r\nContent-Length:  0 \r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.status, 301);
        assert_eq!(head.reason, "Moved Permanently");
        assert_eq!(head.header("location"), Some("/new"));
        assert_eq!(head.framing(), Ok(Framing::Length(0)));
        assert!(head.is_redirect());
    }

    #[test]
    fn knows_how_the_body_ends() {
        let framing = |text: &[u8]| parse_head(text).unwrap().framing();
        assert_eq!(
            framing(b"HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked\n\n"),
            Ok(Framing::Chunked)
        );
        assert_eq!(framing(b"HTTP/1.0 200\n\n"), Ok(Framing::UntilClose));
        assert_eq!(
            framing(b"HTTP/1.1 204 No Content\r\n\r\n"),
            Ok(Framing::Empty)
        );
        assert_eq!(
            framing(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Err(HeadError::ContentLength)
        );
        assert_eq!(
            framing(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            Err(HeadError::ContentLength)
        );
    }

    #[test]
    fn refuses_what_is_not_a_head() {
        assert_eq!(parse_head(b""), Err(HeadError::NotHttp));
        assert_eq!(parse_head(b"SSH-2.0-OpenSSH\r\n"), Err(HeadError::NotHttp));
        assert_eq!(parse_head(b"HTTP/1.1 99 x\r\n\r\n"), Err(HeadError::Status));
        assert_eq!(parse_head(b"HTTP/1.1 2000\r\n\r\n"), Err(HeadError::Status));
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\n"),
            Err(HeadError::Unterminated)
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n"),
            Err(HeadError::Header)
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n"),
            Err(HeadError::Header)
        );
        let many = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "a: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(parse_head(many.as_bytes()), Err(HeadError::TooManyHeaders));
    }
}
