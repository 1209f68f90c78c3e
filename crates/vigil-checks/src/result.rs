//! What one run of a check gives: a state and metric samples.

use std::time::{Duration, SystemTime};

/// Up, down, or unknown.
///
/// `Down` means the target answered and the answer is wrong (refused the
/// connection, a status not expected, a certificate about to expire, no
/// such name). `Error` means no usable answer came at all (timed out,
/// malformed, the name of the target did not resolve, no socket): the
/// target may be fine and the path to it broken. Both count as not up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckState {
    Up,
    Down { reason: String },
    Error { reason: String },
}

impl CheckState {
    pub fn is_up(&self) -> bool {
        matches!(self, CheckState::Up)
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            CheckState::Up => None,
            CheckState::Down { reason } | CheckState::Error { reason } => Some(reason),
        }
    }
}

/// One metric point. Labels are `check` (the kind) and `target`; the
/// server adds the tenant and the check's id.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

/// The reason of a run that panicked. It says nothing of the panic itself
/// (that goes to the log): a tenant sees that the fault is Vigil's.
pub const INTERNAL_FAULT: &str = "internal error while running the check (logged for the operator)";

#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub state: CheckState,
    /// Of the last attempt, when it got far enough to measure one.
    pub latency: Option<Duration>,
    pub samples: Vec<Sample>,
    /// When the run started (after its scheduling delay).
    pub started: SystemTime,
    /// How long after its scheduled time the run started; zero for a run
    /// not made by the [`crate::Scheduler`].
    pub lateness: Duration,
    /// Slots of this check skipped since its previous run because that run
    /// (or the queue for a concurrency permit) overran them.
    pub missed_slots: u64,
    /// Attempts made, retries included.
    pub attempts: u8,
    /// The run panicked (a fault of Vigil's, not of the target): the state
    /// is an error with a reason of the scheduler's own.
    pub panicked: bool,
}

impl CheckResult {
    /// What a run that panicked gives: an error saying so, no samples.
    pub fn internal_fault(started: SystemTime) -> CheckResult {
        CheckResult {
            state: CheckState::Error {
                reason: INTERNAL_FAULT.to_owned(),
            },
            latency: None,
            samples: Vec::new(),
            started,
            lateness: Duration::ZERO,
            missed_slots: 0,
            attempts: 1,
            panicked: true,
        }
    }

    /// The value of the first sample named `name`.
    pub fn sample(&self, name: &str) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value)
    }
}
