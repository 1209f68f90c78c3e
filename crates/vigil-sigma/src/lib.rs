//! Sigma detection rules (Sigma specification v2.1): parse, compile, match.
//!
//! No I/O: callers hand in rule text and events. The pieces:
//!
//! - [`event`]: how the engine reads an event's fields ([`EventFields`]).
//! - [`condition`]: the condition grammar (`selection and not 1 of filter_*`).
//! - [`value`]: field specifications with their modifiers
//!   (`CommandLine|contains|all`) compiled into value matchers.
//! - [`rule`]: the rule format (YAML, multi-document) into [`rule::Rule`],
//!   compiled into a matcher.

pub mod condition;
pub mod event;
pub mod rule;
pub mod value;

pub use event::{EventFields, FieldValue};
