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
//! - [`limits`]: bounds on rule text from outside (size, depth, values,
//!   regexes).
//! - [`logsource`]: which rules apply to an event ([`logsource::EventSource`]).
//! - [`windows`]: Windows events (EVTX or flat JSON) into the Sigma view,
//!   through a mapping file users can read and extend.

pub mod condition;
pub mod correlation;
pub mod event;
pub mod filter;
pub mod limits;
pub mod logsource;
pub mod rule;
pub mod ruleset;
pub mod value;
pub mod windows;

pub use event::{EventFields, FieldValue};
