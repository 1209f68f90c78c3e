//! Windows event log files (EVTX) into JSON records, in the shape EVTX
//! parsers emit: `{"Event": {"System": .., "EventData": ..}}`.
//!
//! Damage is reported, not fatal: a bad chunk or record becomes a warning
//! (`chunk N: ...`) and the rest of the file is read; a file cut inside a
//! chunk gives its records up to the cut.

use serde_json::Value;
use std::error::Error;

const EVTX_HEADER_SIZE: usize = 4096;
const EVTX_CHUNK_SIZE: usize = 65536;

/// The first bytes of every EVTX file.
pub const EVTX_MAGIC: &[u8] = b"ElfFile\0";

/// Reads every record of an EVTX file held in `data`, in file order, and
/// hands each to `on_record`; problems inside the file go to `on_warning`.
/// `Err` means it is not an EVTX file at all.
pub fn decode_evtx(
    mut data: Vec<u8>,
    on_record: &mut dyn FnMut(Value),
    on_warning: &mut dyn FnMut(String),
) -> Result<(), String> {
    use evtx::{EvtxParser, ParserSettings};
    if !data.starts_with(EVTX_MAGIC) {
        return Err("not an EVTX file (no ElfFile header)".into());
    }
    let body = data.len().saturating_sub(EVTX_HEADER_SIZE);
    let whole = body / EVTX_CHUNK_SIZE;
    let partial = body % EVTX_CHUNK_SIZE;
    if partial != 0 {
        // The parser reads whole chunks only: it would drop the chunk a
        // file was cut in without a word. Padded with zeros to its full
        // size, the chunk gives its records up to the cut, and the parser
        // names the record where it breaks.
        data.resize(EVTX_HEADER_SIZE + (whole + 1) * EVTX_CHUNK_SIZE, 0);
    }
    // Callers parallelise over files; one thread per file.
    let settings = ParserSettings::new().num_threads(1);
    let mut parser = EvtxParser::from_buffer(data)
        .map_err(|e| chain(&e))?
        .with_configuration(settings);
    let header_chunks = u64::from(parser.header().chunk_count);
    for record in parser.records_json_value() {
        match record {
            Ok(record) => on_record(record.data),
            Err(e) => on_warning(evtx_error(&e)),
        }
    }
    let whole = whole as u64;
    if partial != 0 {
        on_warning(format!(
            "chunk {whole}: truncated ({partial} of {EVTX_CHUNK_SIZE} bytes), read up to the cut{}",
            if header_chunks > whole + 1 {
                format!(" (the file header names {header_chunks} chunks)")
            } else {
                String::new()
            }
        ));
    } else if header_chunks > whole {
        on_warning(format!(
            "chunk {whole}: missing (the file header names {header_chunks} chunks, the file holds {whole})"
        ));
    }
    Ok(())
}

/// An EVTX error as `chunk N: ...` where the chunk is known.
fn evtx_error(e: &evtx::err::EvtxError) -> String {
    use evtx::err::EvtxError;
    match e {
        EvtxError::FailedToParseChunk { chunk_id, source } => {
            format!("chunk {chunk_id}: {}", chain(source.as_ref()))
        }
        EvtxError::FailedToReadRecordAt {
            chunk: Some(chunk),
            offset,
            source,
        } => format!(
            "chunk {chunk}: record at offset {offset:#x}: {}",
            chain(source.as_ref())
        ),
        EvtxError::FailedToParseRecord { record_id, source } => {
            format!("record {record_id}: {}", chain(source.as_ref()))
        }
        other => chain(other),
    }
}

/// An error and its causes, `outer: inner: ...`.
fn chain(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
