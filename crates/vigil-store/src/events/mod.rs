//! The event store: durable appends, search and field statistics, per tenant.
//!
//! [`EventStore`] is what the server uses; [`EmbeddedEventStore`] is the
//! no-setup backend: a write-ahead log ([`crate::wal`]) for durability and
//! one tantivy index per tenant and day of arrival ([`partition`]) for
//! search, fed by
//! one indexer thread ([`indexer`]). Every backend runs the suite in
//! [`conformance`].

pub mod codec;
pub mod compile;
pub mod conformance;
mod embedded;
mod indexer;
mod json_ref;
pub mod partition;
pub mod schema;

pub use embedded::{EmbeddedEventStore, EmbeddedOptions};

use async_trait::async_trait;
use serde::Serialize;
use vigil_core::{Event, EventId, TenantId, Timestamp};
use vigil_query::Query;

#[derive(Debug, thiserror::Error)]
pub enum EventStoreError {
    #[error(transparent)]
    Wal(#[from] crate::wal::WalError),
    #[error("event index error in {context}: {message}")]
    Index { context: String, message: String },
    #[error("event store i/o error in {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the event store is shutting down")]
    Closed,
    /// The query parses but means nothing for the index (`_time:soon`).
    #[error("{0}")]
    BadQuery(String),
}

/// A search over one tenant's events.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: Query,
    /// Inclusive lower bound on the event time.
    pub from: Option<Timestamp>,
    /// Exclusive upper bound on the event time.
    pub to: Option<Timestamp>,
    pub limit: usize,
}

/// Matching events, newest first, and how many matched in all.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SearchResult {
    pub total: u64,
    pub events: Vec<StoredEvent>,
    /// Fields named by the query that no event of the searched time range
    /// has: the likely reason for an empty result.
    pub missing_fields: Vec<String>,
    /// Partitions (or shards) the search opened: those whose event times
    /// overlap the range. For tests and diagnostics, not part of the API.
    #[serde(skip)]
    pub partitions_opened: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    pub id: EventId,
    pub time: Timestamp,
    /// The event's JSON text as it was ingested.
    pub raw: String,
    /// The day (since the Unix epoch) the store accepted the event, when
    /// the backend knows it: retention counts from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival_day: Option<i64>,
}

/// The most ids one [`EventStore::get`] may ask for.
pub const MAX_GET_IDS: usize = 1_000;

/// Top values of `field` among the events that match.
#[derive(Debug, Clone)]
pub struct StatsRequest {
    pub search: SearchRequest,
    pub field: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StatsResult {
    /// Events that matched the query.
    pub total: u64,
    /// `(value, count)`, most frequent first.
    pub values: Vec<(serde_json::Value, u64)>,
}

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Stores `events` of `tenant`; returns once they are durable. The
    /// store notes the time of arrival itself ([`EventStore::append_arrived`]
    /// at `Timestamp::now()`).
    async fn append(&self, tenant: TenantId, events: Vec<Event>) -> Result<(), EventStoreError> {
        self.append_arrived(tenant, events, Timestamp::now()).await
    }

    /// Stores `events` of `tenant` as received at `arrival`; returns once
    /// they are durable. Retention counts from the arrival, and one append
    /// never spreads over more than one partition, whatever times the events
    /// claim. `arrival` must be the store's own clock (tests set it to
    /// simulate days passing), never a time taken from a request.
    async fn append_arrived(
        &self,
        tenant: TenantId,
        events: Vec<Event>,
        arrival: Timestamp,
    ) -> Result<(), EventStoreError>;

    /// Like [`EventStore::append_arrived`], for events that may be stored
    /// already (the syslog input journal replayed after a crash, its event
    /// ids derived from the journal): each replaces any event of the same
    /// id in the partition of `arrival`, so that a replay never stores an
    /// event twice.
    async fn append_replacing(
        &self,
        tenant: TenantId,
        events: Vec<Event>,
        arrival: Timestamp,
    ) -> Result<(), EventStoreError>;

    async fn search(
        &self,
        tenant: TenantId,
        request: SearchRequest,
    ) -> Result<SearchResult, EventStoreError>;

    async fn stats(
        &self,
        tenant: TenantId,
        request: StatsRequest,
    ) -> Result<StatsResult, EventStoreError>;

    /// The tenant's events with these ids, in the order asked (an id asked
    /// twice comes once); ids the tenant has no event of (missing, expired,
    /// or another tenant's) are left out. More than [`MAX_GET_IDS`] ids is a
    /// [`EventStoreError::BadQuery`]. Sees what [`EventStore::search`] sees.
    async fn get(
        &self,
        tenant: TenantId,
        ids: &[EventId],
    ) -> Result<Vec<StoredEvent>, EventStoreError>;

    /// Makes everything appended before the call searchable.
    async fn refresh(&self) -> Result<(), EventStoreError>;

    /// Drops the tenant's events that *arrived* on days wholly older than
    /// `keep_days` days before `now`, whatever their own times; returns how
    /// many daily partitions went.
    async fn apply_retention(
        &self,
        tenant: TenantId,
        keep_days: u32,
        now: Timestamp,
    ) -> Result<usize, EventStoreError>;
}
