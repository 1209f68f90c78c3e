//! Reading a response body up to a cap, by its framing.

use super::head::Framing;
use crate::reason::Failure;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// The longest chunk-size line taken (size, extensions, CRLF).
const MAX_CHUNK_LINE: u64 = 1024;

/// Reads the body; past `cap` bytes the rest is left unread (the check
/// only searches the start of a large page).
pub(super) async fn read<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    framing: Framing,
    cap: usize,
) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    let result = match framing {
        Framing::Empty => Ok(()),
        Framing::Length(n) => read_exact_up_to(reader, n, cap, &mut body).await,
        Framing::UntilClose => reader
            .take(cap as u64)
            .read_to_end(&mut body)
            .await
            .map(drop),
        Framing::Chunked => read_chunked(reader, cap, &mut body).await,
    };
    result.map_err(|e| Failure::io(&e, "reading the HTTP body"))?;
    Ok(body)
}

async fn read_exact_up_to<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    length: u64,
    cap: usize,
    body: &mut Vec<u8>,
) -> std::io::Result<()> {
    let want = length.min(cap as u64);
    let got = reader.take(want).read_to_end(body).await?;
    if (got as u64) < want {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

async fn read_chunked<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    cap: usize,
    body: &mut Vec<u8>,
) -> std::io::Result<()> {
    while body.len() < cap {
        let size = chunk_size(reader).await?;
        if size == 0 {
            return Ok(());
        }
        let room = (cap - body.len()) as u64;
        read_exact_up_to(reader, size, room as usize, body).await?;
        if size > room {
            return Ok(());
        }
        let mut crlf = Vec::new();
        reader.take(2).read_until(b'\n', &mut crlf).await?;
        if crlf.last() != Some(&b'\n') {
            return Err(invalid("a chunk does not end in CRLF"));
        }
    }
    Ok(())
}

async fn chunk_size<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<u64> {
    let mut line = Vec::new();
    reader
        .take(MAX_CHUNK_LINE)
        .read_until(b'\n', &mut line)
        .await?;
    if line.last() != Some(&b'\n') {
        return Err(invalid("bad chunk size line"));
    }
    let digits = line
        .split(|&b| b == b';' || b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let text = std::str::from_utf8(digits).map_err(|_| invalid("bad chunk size"))?;
    u64::from_str_radix(text, 16).map_err(|_| invalid("bad chunk size"))
}

fn invalid(what: &'static str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(bytes: &[u8], framing: Framing, cap: usize) -> Result<Vec<u8>, Failure> {
        let mut reader = bytes;
        read(&mut reader, framing, cap).await
    }

    #[tokio::test]
    async fn reads_each_framing() {
        let chunked = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n";
        assert_eq!(
            body(chunked, Framing::Chunked, 100).await.unwrap(),
            b"Wikipedia"
        );
        assert_eq!(body(chunked, Framing::Chunked, 6).await.unwrap(), b"Wikipe");
        assert_eq!(
            body(b"hello!", Framing::Length(5), 100).await.unwrap(),
            b"hello"
        );
        assert_eq!(body(b"hello", Framing::Length(5), 3).await.unwrap(), b"hel");
        assert_eq!(
            body(b"to eof", Framing::UntilClose, 100).await.unwrap(),
            b"to eof"
        );
    }

    #[tokio::test]
    async fn a_short_or_broken_body_is_an_error() {
        assert!(body(b"hel", Framing::Length(5), 100).await.is_err());
        assert!(body(b"zz\r\nab\r\n", Framing::Chunked, 100).await.is_err());
        assert!(body(b"2\r\nabXY", Framing::Chunked, 100).await.is_err());
        let endless = vec![b'1'; 4096];
        assert!(body(&endless, Framing::Chunked, 100).await.is_err());
    }
}
