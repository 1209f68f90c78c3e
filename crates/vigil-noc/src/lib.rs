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
//!                                         ▸ waiting for a parent's answer
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
//! - `eval` (private): each kind from samples to readings; the `for` gate.
//! - [`topology`]: parents and tags of assets (cycles refused).
//! - [`maintenance`]: one-off and weekly windows (fixed UTC offsets).
//! - [`flapping`]: state changes per check in a window, with hysteresis.
//! - [`engine`]: state per alert key, suppression (and why an alert behind
//!   a parent waits for that parent's check before paging), events,
//!   snapshot/restore.
//! - [`span`]: durations as written in rules (`5m`, `1h30m`).
//! - [`text`]: what alerts say: checks named by kind and target, the
//!   reason, since when and how often; resolutions after how long.
//!
//! Wiring (for the server): one [`Engine`] per tenant, built from
//! [`builtin_rules`] plus the tenant's rules; every sample and check result
//! goes to [`Engine::observe`], a timer calls [`Engine::tick`] (every 5–30 s:
//! `for`, no-data, holds, windows, parents' grace and the end of waits for
//! a parent's answer are judged there);
//! each [`AlertEvent`] maps onto `/api/v1/alerts` by its `key` (fired and
//! suppressed open an alert, resolved and withdrawn close it; only fired
//! notifies). [`Engine::snapshot`] on a timer and at shutdown,
//! [`Engine::restore`] at start.
//!
//! Defaults ([`EngineConfig`]): a sample older than 5m does not complete a
//! `for`; children stay held back 2m after their parent returns; `icmp`
//! checks decide whether an asset is down for its children; an alert that
//! would fire behind such a parent waits up to 90s (`dependency_wait`) for
//! a result of the parent's check newer than the alert's first failure, so
//! that a host failing before its dead router is checked does not page
//! (checks run on their own schedules; one page for the router, not N);
//! flapping starts at 5 state changes in 10m and stops at 1, or at once
//! when the check stays down for its failure count and longer than any
//! down spell in the window (see [`flapping`]).
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
pub mod text;
pub mod topology;

pub use builtin::builtin_rules;
pub use engine::{
    AlertEvent, Engine, EngineConfig, EngineError, Observation, SeriesRef, SuppressedBy,
};
pub use maintenance::{MaintenanceWindow, Schedule, Scope};
pub use span::Span;
pub use spec::{Condition, RuleSpec, Severity, SpecError, Team};
pub use topology::{Topology, TopologyError};
