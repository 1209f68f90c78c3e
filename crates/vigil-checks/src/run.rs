//! One run of a check: attempts and retries within the timeout budget, and
//! the samples every check gives.

use crate::guard::NetworkPolicy;
use crate::reason::Failure;
use crate::result::{CheckResult, CheckState, Sample};
use crate::spec::{CheckKind, CheckSpec};
use std::future::Future;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// The pause before a retry; none when less budget than twice this is left.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// The time a run may take. Every step of an attempt waits at most until
/// the run's deadline, so a run never outlasts its timeout, retries
/// included.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub deadline: Instant,
    pub total: Duration,
}

impl Budget {
    pub fn new(total: Duration) -> Budget {
        Budget {
            deadline: Instant::now() + total,
            total,
        }
    }

    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Runs `step` until the deadline; when it runs out the failure says
    /// what was being waited for (only then formatted: this is on the path
    /// of every check).
    pub async fn within<T, F, W>(&self, waiting_for: W, step: F) -> Result<T, Failure>
    where
        F: Future<Output = Result<T, Failure>>,
        W: std::fmt::Display,
    {
        match tokio::time::timeout_at(self.deadline, step).await {
            Ok(result) => result,
            Err(_) => Err(Failure::timed_out(self.total, &waiting_for.to_string())),
        }
    }
}

/// What one attempt found: its outcome, and what it measured on the way
/// (also when it failed: the status of a wrong answer is worth keeping).
#[derive(Debug, Default)]
pub(crate) struct Attempt {
    pub outcome: Option<Failure>,
    pub latency: Option<Duration>,
    pub values: Vec<(&'static str, f64)>,
}

impl Attempt {
    pub fn failed(failure: Failure) -> Attempt {
        Attempt {
            outcome: Some(failure),
            ..Attempt::default()
        }
    }
}

/// Runs `spec` once: up to `retries` more attempts after a failed one, all
/// within `spec.timeout`, connecting only where `policy` allows. Never
/// panics on what a target sends.
pub async fn run_check(spec: &CheckSpec, policy: &NetworkPolicy) -> CheckResult {
    let started = SystemTime::now();
    let budget = Budget::new(spec.timeout);
    let mut attempts = 0u8;
    let attempt = loop {
        attempts += 1;
        let attempt = attempt_once(spec, policy, budget).await;
        let retry = attempt.outcome.is_some()
            && attempts <= spec.retries
            && budget.remaining() >= RETRY_PAUSE * 2;
        if !retry {
            break attempt;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    };
    finish(spec, attempt, attempts, started)
}

async fn attempt_once(spec: &CheckSpec, policy: &NetworkPolicy, budget: Budget) -> Attempt {
    match &spec.kind {
        CheckKind::Tcp { port } => crate::tcp::check(&spec.target, *port, policy, budget).await,
        CheckKind::Icmp { count, interval } => {
            crate::icmp::check(&spec.target, *count, *interval, policy, budget).await
        }
        CheckKind::Http { .. } => crate::http::check(&spec.kind, policy, budget).await,
        CheckKind::Dns { .. } => crate::dns::check(&spec.kind, policy, budget).await,
    }
}

fn finish(spec: &CheckSpec, attempt: Attempt, attempts: u8, started: SystemTime) -> CheckResult {
    let labels = vec![
        ("check", spec.kind.label().to_owned()),
        ("target", spec.target.clone()),
    ];
    let sample = |name, value| Sample {
        name,
        labels: labels.clone(),
        value,
    };
    let up = attempt.outcome.is_none();
    let mut samples = vec![sample("vigil_check_up", if up { 1.0 } else { 0.0 })];
    if let Some(latency) = attempt.latency {
        samples.push(sample("vigil_check_latency_seconds", latency.as_secs_f64()));
    }
    samples.extend(attempt.values.iter().map(|&(n, v)| sample(n, v)));
    let with_attempts = |reason: String| match attempts {
        1 => reason,
        n => format!("{reason} ({n} attempts)"),
    };
    let state = match attempt.outcome {
        None => CheckState::Up,
        Some(Failure::Down(reason)) => CheckState::Down {
            reason: with_attempts(reason),
        },
        Some(Failure::Error(reason)) => CheckState::Error {
            reason: with_attempts(reason),
        },
    };
    CheckResult {
        state,
        latency: attempt.latency,
        samples,
        started,
        lateness: Duration::ZERO,
        missed_slots: 0,
        attempts,
        panicked: false,
    }
}
