//! Decoders: from the bytes that arrive to Vigil's events. No I/O.
//!
//! Every decoder works line by line (or record by record) so that one bad
//! record is reported with its position and the rest is kept.

pub mod cef;
pub mod firewall;
pub mod linux;
pub mod ndjson;
pub mod syslog;

pub use linux::{decode_linux, Decoded};
pub use ndjson::{decode_ndjson, LineError, NdjsonBatch, NdjsonOptions};
pub use syslog::{parse_syslog, SyslogFormat, SyslogMessage};
