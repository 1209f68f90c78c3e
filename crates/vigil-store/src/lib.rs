//! Vigil's storage.
//!
//! Two concerns, each behind a trait so that a scale-out backend can replace
//! the embedded one, and each with one conformance suite every backend runs:
//!
//! - [`state`]: tenants, users, API tokens (SQLite embedded; SQL kept
//!   portable for PostgreSQL).
//! - [`events`]: the event store: a write-ahead log for durability and a
//!   tantivy index per tenant and day of arrival for search.

pub mod events;
pub mod secrets;
pub mod state;
pub mod wal;
