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
/// that need all of it at once (EVTX).
pub fn read_all(
    reader: ChunkReader,
    encoding: Encoding,
    max: usize,
) -> Result<Vec<u8>, ReadError> {
    let mut data = Vec::new();
    reader
        .decoded(encoding)
        .take(max as u64 + 1)
        .read_to_end(&mut data)
        .map_err(ReadError::Io)?;
    if data.len() > max {
        return Err(ReadError::Limit(StreamError::BodyTooLarge { max }));
    }
    Ok(data)
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
