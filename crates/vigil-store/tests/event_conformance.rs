//! The embedded event store passes the event store conformance suite.

mod common;

vigil_store::event_store_conformance_tests!(common::open);
