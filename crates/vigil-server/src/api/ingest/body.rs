//! An ingest body as it arrives, never whole in memory: received on the
//! async side within a deadline and a size cap, handed over a small bounded
//! channel to a blocking thread that reads it (inflating gzip as it goes)
//! with an ordinary [`Read`].

use crate::error::ApiError;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, HeaderMap, StatusCode};
use std::io::{self, Read};
use std::pin::Pin;
use tokio::sync::mpsc;
use tokio::time::Instant;
use vigil_decode::{NdjsonLines, NdjsonStream, StreamError, StreamLimits};

/// Chunks in flight between the network and the reader: backpressure on
/// the sender beyond this.
const CHANNEL_CHUNKS: usize = 4;

/// Read size on the reader's side (inflated bytes at a time).
const READ_BYTES: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
}

/// The body's `Content-Encoding`: none or gzip.
pub fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().map(|v| v.trim().to_ascii_lowercase()));
    match encoding {
        None => Ok(Encoding::Identity),
        Some(Ok(v)) if v == "identity" => Ok(Encoding::Identity),
        Some(Ok(v)) if v == "gzip" || v == "x-gzip" => Ok(Encoding::Gzip),
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            format!(
                "Content-Encoding {:?} is not supported; use gzip or none",
                other.unwrap_or_default()
            ),
        )),
    }
}

/// Why reading the body stopped.
#[derive(Debug)]
pub enum ReadError {
    Limit(StreamError),
    /// Bad gzip, or the transfer broke off.
    Io(io::Error),
    /// Not the format expected: why.
    Format(&'static str),
}

/// Receives `body` (at most `max_bytes` as sent, within `deadline`) while
/// `consume` reads it on a blocking thread; `consume`'s answer, or why the
/// body could not be had.
pub async fn receive<T: Send + 'static>(
    body: Body,
    max_bytes: usize,
    deadline: Instant,
    consume: impl FnOnce(ChunkReader) -> Result<T, ReadError> + Send + 'static,
) -> Result<T, ApiError> {
    let (chunks, inbox) = mpsc::channel(CHANNEL_CHUNKS);
    let reading = tokio::task::spawn_blocking(move || consume(ChunkReader::new(inbox)));
    let pumped = pump(body, &chunks, max_bytes, deadline).await;
    drop(chunks);
    let read = reading
        .await
        .map_err(|e| ApiError::internal(format!("reading the body failed: {e}")))?;
    pumped?;
    read.map_err(|e| match e {
        ReadError::Limit(StreamError::BodyTooLarge { max }) => too_large(max),
        ReadError::Limit(StreamError::TooManyLines { max }) => too_many_events(max),
        // The transfer's own faults were answered above: this is the gzip.
        ReadError::Io(e) => ApiError::bad_request(format!("invalid gzip body: {e}")),
        ReadError::Format(why) => ApiError::bad_request(why),
    })
}

/// Forwards the body's data to the reader until it ends, is over
/// `max_bytes`, the deadline passes, or the reader stops (having seen
/// enough: its own answer then counts).
async fn pump(
    mut body: Body,
    chunks: &mpsc::Sender<io::Result<Bytes>>,
    max_bytes: usize,
    deadline: Instant,
) -> Result<(), ApiError> {
    let mut received = 0usize;
    loop {
        let next = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        let frame = match tokio::time::timeout_at(deadline, next).await {
            Err(_) => {
                let _ = chunks.send(Err(io::Error::other("timed out"))).await;
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    "the body did not arrive in time (ingest.body_timeout_secs)",
                ));
            }
            Ok(None) => return Ok(()),
            Ok(Some(Err(e))) => {
                let _ = chunks.send(Err(io::Error::other("broken off"))).await;
                return Err(ApiError::bad_request(format!("cannot read the body: {e}")));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        received = received.saturating_add(data.len());
        if received > max_bytes {
            let _ = chunks.send(Err(io::Error::other("too large"))).await;
            return Err(too_large(max_bytes));
        }
        if chunks.send(Ok(data)).await.is_err() {
            return Ok(());
        }
    }
}

/// The body's bytes as a blocking [`Read`], for a blocking thread.
pub struct ChunkReader {
    inbox: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl ChunkReader {
    fn new(inbox: mpsc::Receiver<io::Result<Bytes>>) -> ChunkReader {
        ChunkReader {
            inbox,
            current: Bytes::new(),
        }
    }

    /// The body, inflated if `encoding` says so.
    pub fn decoded(self, encoding: Encoding) -> Box<dyn Read> {
        match encoding {
            Encoding::Identity => Box::new(self),
            Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(self)),
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.inbox.blocking_recv() {
                None => return Ok(0),
                Some(chunk) => self.current = chunk?,
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Reads NDJSON through the stream decoder, a bounded buffer at a time.
pub fn read_ndjson(
    reader: ChunkReader,
    encoding: Encoding,
    limits: StreamLimits,
) -> Result<NdjsonLines, ReadError> {
    let mut source = reader.decoded(encoding);
    let mut stream = NdjsonStream::new(limits);
    let mut buf = vec![0u8; READ_BYTES];
    loop {
        let n = source.read(&mut buf).map_err(ReadError::Io)?;
        if n == 0 {
            return stream.finish().map_err(ReadError::Limit);
        }
        stream.push(&buf[..n]).map_err(ReadError::Limit)?;
    }
}

/// Reads a whole body of at most `max` bytes (after decoding): for formats
/// that need all of it at once (EVTX). One that does not start with
/// `magic` is refused (saying `not_magic`) after its first bytes.
pub fn read_all(
    reader: ChunkReader,
    encoding: Encoding,
    max: usize,
    (magic, not_magic): (&[u8], &'static str),
) -> Result<Vec<u8>, ReadError> {
    let mut source = reader.decoded(encoding);
    let mut data = Vec::new();
    let mut buf = vec![0u8; READ_BYTES];
    loop {
        let n = source.read(&mut buf).map_err(ReadError::Io)?;
        if n == 0 {
            return Ok(data);
        }
        if n > max - data.len() {
            return Err(ReadError::Limit(StreamError::BodyTooLarge { max }));
        }
        data.extend_from_slice(&buf[..n]);
        let seen = data.len().min(magic.len());
        if data[..seen] != magic[..seen] {
            return Err(ReadError::Format(not_magic));
        }
    }
}

pub fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the body is over the maximum of {max} bytes (ingest.max_body_bytes)"),
    )
}

pub fn too_many_events(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_events",
        format!(
            "the body has over the maximum of {max} events (ingest.max_events_per_request); send them in smaller requests"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A reader over `chunks` as they would come off the network.
    fn reader(chunks: Vec<io::Result<Bytes>>) -> ChunkReader {
        let (tx, rx) = mpsc::channel(chunks.len().max(1));
        for chunk in chunks {
            tx.try_send(chunk).expect("room");
        }
        ChunkReader::new(rx)
    }

    fn split(data: &[u8], size: usize) -> Vec<io::Result<Bytes>> {
        data.chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn limits() -> StreamLimits {
        StreamLimits {
            max_line_bytes: 1024,
            max_body_bytes: 1 << 20,
            max_lines: 1000,
            max_listed_rejections: 10,
        }
    }

    const BODY: &[u8] = b"{\"a\":1}\n{\"b\":2}\r\nbad\n{\"c\":3}";

    #[test]
    fn plain_and_gzip_bodies_in_any_chunks_read_the_same() {
        for size in [1, 3, 7, 1000] {
            let plain =
                read_ndjson(reader(split(BODY, size)), Encoding::Identity, limits()).unwrap();
            assert_eq!(plain.len(), 3);
            assert_eq!(plain.rejected()[0].line, 3);
            let zipped = gzip(BODY);
            let gz = read_ndjson(reader(split(&zipped, size)), Encoding::Gzip, limits()).unwrap();
            assert_eq!(
                (0..3).map(|i| gz.line(i)).collect::<Vec<_>>(),
                ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]
            );
        }
    }

    #[test]
    fn concatenated_gzip_members_are_one_body() {
        let mut zipped = gzip(b"{\"a\":1}\n");
        zipped.extend(gzip(b"{\"b\":2}\n"));
        let lines = read_ndjson(reader(split(&zipped, 5)), Encoding::Gzip, limits()).unwrap();
        assert_eq!(lines.len(), 2);
    }

    #[test]
    fn inflating_stops_at_the_body_limit() {
        let zipped = gzip(&vec![b'x'; 10 << 20]);
        let err = read_ndjson(reader(split(&zipped, 4096)), Encoding::Gzip, limits()).unwrap_err();
        assert!(
            matches!(err, ReadError::Limit(StreamError::BodyTooLarge { max }) if max == 1 << 20)
        );
        let many = "{}\n".repeat(1001);
        let err = read_ndjson(
            reader(split(&gzip(many.as_bytes()), 100)),
            Encoding::Gzip,
            limits(),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ReadError::Limit(StreamError::TooManyLines { max: 1000 })
        ));
    }

    #[test]
    fn bad_gzip_and_broken_transfers_are_errors() {
        let err = read_ndjson(
            reader(split(b"not gzip at all", 4)),
            Encoding::Gzip,
            limits(),
        )
        .unwrap_err();
        assert!(matches!(err, ReadError::Io(_)));
        let chunks = vec![
            Ok(Bytes::from_static(b"{\"a\":1}\n")),
            Err(io::Error::other("cut")),
        ];
        let err = read_ndjson(reader(chunks), Encoding::Identity, limits()).unwrap_err();
        assert!(matches!(err, ReadError::Io(_)));
    }

    #[test]
    fn read_all_checks_the_magic_and_the_size() {
        let magic: (&[u8], &str) = (b"MAGIC", "not magic");
        let ok = read_all(
            reader(split(b"MAGIC and more", 2)),
            Encoding::Identity,
            100,
            magic,
        );
        assert_eq!(ok.unwrap(), b"MAGIC and more");
        let wrong = read_all(reader(split(b"MAGXC", 2)), Encoding::Identity, 100, magic);
        assert!(matches!(wrong, Err(ReadError::Format("not magic"))));
        let zipped = gzip(&[b"MAGIC".as_slice(), &vec![0u8; 1 << 20]].concat());
        let big = read_all(reader(split(&zipped, 512)), Encoding::Gzip, 4096, magic);
        assert!(matches!(
            big,
            Err(ReadError::Limit(StreamError::BodyTooLarge { max: 4096 }))
        ));
    }

    #[test]
    fn content_encodings() {
        let mut headers = HeaderMap::new();
        assert_eq!(encoding(&headers).unwrap(), Encoding::Identity);
        headers.insert(header::CONTENT_ENCODING, " GZip ".parse().unwrap());
        assert_eq!(encoding(&headers).unwrap(), Encoding::Gzip);
        headers.insert(header::CONTENT_ENCODING, "br".parse().unwrap());
        assert_eq!(
            encoding(&headers).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }
}
