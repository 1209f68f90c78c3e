//! Decoders: from the bytes that arrive to Vigil's events. No I/O.
//!
//! Every decoder works line by line (or record by record) so that one bad
//! record is reported with its position and the rest is kept.
//!
//! The server's pipeline calls [`decode_syslog_record`] (a syslog line) and
//! [`decode_json_record`] (a JSON object), which dispatch to the decoders
//! below, and joins audit records with an [`AuditAssembler`].

pub mod auditd;
pub mod cef;
pub mod eve;
pub mod evtx;
pub mod firewall;
pub mod linux;
pub mod linux_services;
pub mod ndjson;
pub mod ndjson_stream;
pub mod prometheus;
pub mod record;
pub mod relp;
pub mod sniff;
pub mod syslog;
pub mod web;
pub mod winjson;
pub mod zeek;

pub use auditd::{AuditAssembler, AuditPart};
pub use linux::{decode_linux, Decoded};
pub use ndjson::{decode_ndjson, LineError, NdjsonBatch, NdjsonOptions};
pub use ndjson_stream::{NdjsonLines, NdjsonStream, StreamError, StreamLimits};
pub use record::{decode_json_record, decode_syslog_record, LogSourceTag, Record};
pub use syslog::{parse_syslog, SyslogFormat, SyslogMessage};
