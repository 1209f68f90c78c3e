//! Types every Vigil crate shares.
//!
//! - [`TenantId`]: the owner of every stored record. Tenancy is not a filter
//!   added late: every API that touches data takes one.
//! - [`Event`]: one normalized record, kept as the source's own JSON object
//!   (so rules written against the source's field names keep working) with
//!   an id, an owner and a time.
//! - [`Timestamp`]: microseconds since the Unix epoch, UTC; the precision the
//!   event index keeps.

pub mod event;
pub mod identity;
pub mod names;
pub mod tenant;
pub mod time;

pub use event::{flatten_fields, Event, EventId, STORED_ONLY_FIELDS, TIME_FIELDS};
pub use tenant::{TenantId, TenantName, TenantNameError};
pub use time::{Timestamp, TimestampError};
