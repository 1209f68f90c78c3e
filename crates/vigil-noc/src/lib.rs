//! NOC alert rules and noise control (no I/O, no async).
//!
//! The monitor hands in observations (metric samples, check results) and
//! clock ticks; the engine hands back alert transitions for the alerts API
//! (team NOC). A map of the crate:
//!
//! ```text
//! RuleSpec (TOML/JSON, spec) ──validate──► Engine::new
//!                                           │
//! Observation::Sample ─┐                    ▼
//! Observation::Check ──┼──► per key (rule|asset|series-or-check):
//! Engine::tick(now) ───┘      eval: Reading (fires / holds) ─► Gate (`for`)
//!                                           │ condition active?
//!                                           ▼
//!                            suppression: maintenance ▸ parent ▸ flapping
//!                                           │
//!                                           ▼
//!                  AlertEvent: Fired | Suppressed | Resolved | Withdrawn
//!                  (one per transition, nothing while a state holds)
//! ```
//!
//! - [`spec`]: the rule format, six kinds (threshold with hysteresis and
//!   `for`, consecutive failures, rate of change, full-within prediction,
//!   no data, hour-of-week baseline), validation, title templates.
//! - [`builtin`]: ten rules that work out of the box, with their defaults.
//! - [`eval`] (private): each kind from samples to readings; the `for` gate.
//! - [`topology`]: parents and tags of assets (cycles refused).
//! - [`maintenance`]: one-off and weekly windows (fixed UTC offsets).
//! - [`flapping`]: state changes per check in a window, with hysteresis.
//! - [`engine`]: state per alert key, suppression, events,
//!   snapshot/restore.
//! - [`span`]: durations as written in rules (`5m`, `1h30m`).
//!
//! Why two layers (condition, then what is shown): noise control must never
//! change *whether* something is wrong, only *who is told*. Keeping the
//! condition exact means a held-back alert can still fire when its window
//! closes or its parent returns, and close silently when it cleared.

pub mod builtin;
pub mod engine;
mod eval;
pub mod flapping;
pub mod maintenance;
pub mod span;
pub mod spec;
pub mod topology;

pub use builtin::builtin_rules;
pub use engine::{
    AlertEvent, Engine, EngineConfig, EngineError, Observation, SeriesRef, SuppressedBy,
};
pub use maintenance::{MaintenanceWindow, Schedule, Scope};
pub use span::Span;
pub use spec::{Condition, RuleSpec, Severity, SpecError, Team};
pub use topology::{Topology, TopologyError};
