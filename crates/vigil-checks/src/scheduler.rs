//! The scheduler: every check at its own interval, spread over it, with a
//! bound on how many run at once.
//!
//! Each check has its own task that sleeps until its next slot. Slots sit
//! on a fixed grid: `epoch + phase + k × interval`, where the phase is a
//! hash of the check's id, so that a thousand checks of 1 minute do not all
//! fire in the same second, and a restart places each at the same offset.
//! The next slot is the previous *scheduled* time plus the interval, never
//! the previous end plus the interval, so a check does not drift. When a
//! run (or its wait for a permit) overran, the slot of the current period
//! runs late and slots whose whole period has passed are skipped and
//! counted, rather than run in a burst to catch up.
//!
//! A run waits for a permit of a semaphore shared by all checks: a burst
//! of targets that all time out at once can use at most that many sockets.
//! The wait is the *lateness* each result reports.
//!
//! A run that panics (a fault of Vigil's, whatever the target sent) is
//! caught: its check gets an error result with a reason of our own
//! ([`crate::INTERNAL_FAULT`], `panicked` set, for the owner to count and
//! log) and keeps its schedule; the other checks never notice. Slot
//! arithmetic saturates instead of overflowing.

use crate::guard::NetworkPolicy;
use crate::result::CheckResult;
use crate::run::run_check;
use crate::spec::{CheckSpec, SpecError, MAX_INTERVAL};
use futures_util::FutureExt;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Who a check is for the code that owns it (the server's database id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckId(pub u64);

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What runs a check once: [`run_check`], or a stand-in in tests.
pub type Runner = Arc<
    dyn Fn(CheckSpec, Arc<NetworkPolicy>) -> Pin<Box<dyn Future<Output = CheckResult> + Send>>
        + Send
        + Sync,
>;

/// Counters since the scheduler started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerStats {
    pub checks: usize,
    pub runs: u64,
    pub up: u64,
    pub missed_slots: u64,
    pub running: usize,
    /// Runs that panicked (each became an error result).
    pub panics: u64,
}

pub struct Scheduler {
    shared: Arc<Shared>,
    checks: Mutex<HashMap<CheckId, Scheduled>>,
    /// The network policy of checks added by [`Scheduler::upsert`].
    policy: Arc<NetworkPolicy>,
}

struct Scheduled {
    spec: CheckSpec,
    policy: Arc<NetworkPolicy>,
    task: JoinHandle<()>,
}

struct Shared {
    runtime: tokio::runtime::Handle,
    permits: Arc<Semaphore>,
    max_running: usize,
    results: mpsc::Sender<(CheckId, CheckResult)>,
    epoch: Instant,
    runs: AtomicU64,
    up: AtomicU64,
    missed_slots: AtomicU64,
    panics: AtomicU64,
    runner: Runner,
}

impl Scheduler {
    /// At most `max_running` checks run at once; results go to `results`
    /// (a full channel holds the checks back: they then miss slots).
    /// Must be made inside a tokio runtime; the checks run on it, and can
    /// then be changed from any thread.
    pub fn new(max_running: usize, results: mpsc::Sender<(CheckId, CheckResult)>) -> Scheduler {
        let runner: Runner = Arc::new(|spec: CheckSpec, policy: Arc<NetworkPolicy>| {
            Box::pin(async move { run_check(&spec, &policy).await })
                as Pin<Box<dyn Future<Output = CheckResult> + Send>>
        });
        Self::with_runner(max_running, results, runner)
    }

    /// The same with another way to run a check (a seam for tests).
    pub fn with_runner(
        max_running: usize,
        results: mpsc::Sender<(CheckId, CheckResult)>,
        runner: Runner,
    ) -> Scheduler {
        let max_running = max_running.max(1);
        Scheduler {
            shared: Arc::new(Shared {
                runtime: tokio::runtime::Handle::current(),
                permits: Arc::new(Semaphore::new(max_running)),
                max_running,
                results,
                epoch: Instant::now(),
                runs: AtomicU64::new(0),
                up: AtomicU64::new(0),
                missed_slots: AtomicU64::new(0),
                panics: AtomicU64::new(0),
                runner,
            }),
            checks: Mutex::new(HashMap::new()),
            policy: Arc::new(NetworkPolicy::default()),
        }
    }

    /// The network policy of checks added without one (the default denies
    /// loopback, link-local, metadata and the other reserved ranges).
    pub fn with_policy(mut self, policy: NetworkPolicy) -> Scheduler {
        self.policy = Arc::new(policy);
        self
    }

    /// Adds a check, or replaces the one with this id, under the
    /// scheduler's policy. An unchanged spec keeps its task (and its place
    /// in the schedule).
    pub fn upsert(&self, id: CheckId, spec: CheckSpec) -> Result<(), SpecError> {
        self.upsert_with(id, spec, self.policy.clone())
    }

    /// Adds or replaces a check that connects only where `policy` allows
    /// (its tenant's policy).
    pub fn upsert_with(
        &self,
        id: CheckId,
        spec: CheckSpec,
        policy: Arc<NetworkPolicy>,
    ) -> Result<(), SpecError> {
        spec.validate()?;
        let mut checks = self.lock();
        if checks
            .get(&id)
            .is_some_and(|s| s.spec == spec && Arc::ptr_eq(&s.policy, &policy))
        {
            return Ok(());
        }
        let task = self.shared.runtime.spawn(run_schedule(
            id,
            spec.clone(),
            policy.clone(),
            self.shared.clone(),
        ));
        if let Some(old) = checks.insert(id, Scheduled { spec, policy, task }) {
            old.task.abort();
        }
        Ok(())
    }

    /// Stops a check (a run in progress is abandoned); false if unknown.
    pub fn remove(&self, id: CheckId) -> bool {
        match self.lock().remove(&id) {
            Some(old) => {
                old.task.abort();
                true
            }
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn stats(&self) -> SchedulerStats {
        let shared = &self.shared;
        SchedulerStats {
            checks: self.len(),
            runs: shared.runs.load(Ordering::Relaxed),
            up: shared.up.load(Ordering::Relaxed),
            missed_slots: shared.missed_slots.load(Ordering::Relaxed),
            running: shared
                .max_running
                .saturating_sub(shared.permits.available_permits()),
            panics: shared.panics.load(Ordering::Relaxed),
        }
    }

    /// Stops every check and waits until their tasks are gone.
    pub async fn shutdown(&self) {
        let checks: Vec<Scheduled> = self.lock().drain().map(|(_, s)| s).collect();
        for check in &checks {
            check.task.abort();
        }
        for check in checks {
            let _ = check.task.await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<CheckId, Scheduled>> {
        self.checks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        for check in self.lock().values() {
            check.task.abort();
        }
    }
}

async fn run_schedule(
    id: CheckId,
    spec: CheckSpec,
    policy: Arc<NetworkPolicy>,
    shared: Arc<Shared>,
) {
    let interval = spec.interval;
    let mut slot = first_slot(shared.epoch, Instant::now(), interval, phase(id, interval));
    let mut missed = 0;
    loop {
        tokio::time::sleep_until(slot).await;
        let Ok(permit) = shared.permits.acquire().await else {
            return;
        };
        let lateness = slot.elapsed();
        let mut result = run_caught(&shared, spec.clone(), policy.clone()).await;
        drop(permit);
        result.lateness = lateness;
        result.missed_slots = missed;
        shared.runs.fetch_add(1, Ordering::Relaxed);
        if result.state.is_up() {
            shared.up.fetch_add(1, Ordering::Relaxed);
        }
        if shared.results.send((id, result)).await.is_err() {
            return;
        }
        (slot, missed) = next_slot(slot, interval, Instant::now());
        shared.missed_slots.fetch_add(missed, Ordering::Relaxed);
    }
}

/// One run; a panic in it becomes an error result (and is counted).
async fn run_caught(shared: &Shared, spec: CheckSpec, policy: Arc<NetworkPolicy>) -> CheckResult {
    let started = std::time::SystemTime::now();
    match AssertUnwindSafe((shared.runner)(spec, policy))
        .catch_unwind()
        .await
    {
        Ok(result) => result,
        Err(_) => {
            shared.panics.fetch_add(1, Ordering::Relaxed);
            CheckResult::internal_fault(started)
        }
    }
}

/// `t + d`, never overflowing: a duration past what the clock holds
/// (impossible within the bounds of a valid spec) is cut to the longest
/// interval.
fn after(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .or_else(|| t.checked_add(MAX_INTERVAL))
        .unwrap_or(t)
}

/// The check's offset in its interval: the same for the same id, spread
/// evenly over ids (splitmix64 of the id).
fn phase(id: CheckId, interval: Duration) -> Duration {
    let mut x = id.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    let nanos = interval.as_nanos().max(1);
    Duration::from_nanos((u128::from(x) % nanos) as u64)
}

/// The first slot of the grid `epoch + phase + k × interval` not before `now`.
fn first_slot(epoch: Instant, now: Instant, interval: Duration, phase: Duration) -> Instant {
    let first = after(epoch, phase);
    if first >= now {
        return first;
    }
    let behind = now.saturating_duration_since(first).as_nanos();
    let steps = behind.div_ceil(interval.as_nanos().max(1));
    let steps = u32::try_from(steps).unwrap_or(u32::MAX);
    after(first, interval.saturating_mul(steps))
}

/// The slot after `slot`, and how many slots were skipped. A slot whose
/// whole period is already past at `now` is skipped; the current one runs,
/// late if need be, so a run that overran a little costs lateness, not a
/// whole interval, and an overrun of many intervals costs one late run,
/// not a burst.
fn next_slot(slot: Instant, interval: Duration, now: Instant) -> (Instant, u64) {
    let next = after(slot, interval);
    if after(next, interval) > now {
        return (next, 0);
    }
    let skipped = now.saturating_duration_since(next).as_nanos() / interval.as_nanos().max(1);
    let skipped = u32::try_from(skipped).unwrap_or(u32::MAX);
    (
        after(next, interval.saturating_mul(skipped)),
        u64::from(skipped),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::CheckKind;

    const SECOND: Duration = Duration::from_secs(1);

    fn spec(target: &str) -> CheckSpec {
        CheckSpec {
            kind: CheckKind::Tcp { port: 1 },
            target: target.into(),
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(50),
            retries: 0,
        }
    }

    /// A check whose run panics every time gets an error result of the
    /// scheduler's own at each slot, is counted, and the other checks run
    /// on as if nothing happened.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_check_is_caught_and_the_others_go_on() {
        let runner: Runner = Arc::new(|spec: CheckSpec, _policy| {
            Box::pin(async move {
                if spec.target == "panic" {
                    panic!("injected fault");
                }
                let mut result = CheckResult::internal_fault(std::time::SystemTime::now());
                result.state = crate::CheckState::Up;
                result.panicked = false;
                result
            }) as Pin<Box<dyn Future<Output = CheckResult> + Send>>
        });
        let (tx, mut rx) = mpsc::channel(1024);
        let scheduler = Scheduler::with_runner(4, tx, runner);
        scheduler.upsert(CheckId(1), spec("panic")).unwrap();
        for id in 2..6 {
            scheduler.upsert(CheckId(id), spec("fine")).unwrap();
        }
        let mut seen: HashMap<CheckId, Vec<CheckResult>> = HashMap::new();
        let deadline = Instant::now() + Duration::from_millis(1050);
        while let Ok(Some((id, r))) = tokio::time::timeout_at(deadline, rx.recv()).await {
            seen.entry(id).or_default().push(r);
        }
        let stats = scheduler.stats();
        scheduler.shutdown().await;
        let faults = &seen[&CheckId(1)];
        assert!(
            faults.len() >= 5,
            "the faulty check kept its schedule: {}",
            faults.len()
        );
        assert!(faults
            .iter()
            .all(|r| r.panicked && r.state.reason() == Some(crate::INTERNAL_FAULT)));
        assert_eq!(stats.panics, faults.len() as u64);
        for id in 2..6 {
            let runs = &seen[&CheckId(id)];
            assert!(runs.len() >= 5, "check {id}: {} runs", runs.len());
            assert!(runs.iter().all(|r| r.state.is_up() && !r.panicked));
        }
    }

    #[test]
    fn slot_arithmetic_saturates() {
        let epoch = Instant::now();
        let huge = Duration::from_secs(u64::MAX);
        // Neither panics; both stay at or after their start.
        assert!(first_slot(epoch, epoch + SECOND, huge, huge) >= epoch);
        assert!(next_slot(epoch, huge, epoch + SECOND).0 >= epoch);
        assert!(next_slot(epoch, Duration::from_nanos(1), epoch + SECOND * 3600).0 >= epoch);
    }

    #[test]
    fn phases_are_fixed_and_spread() {
        assert_eq!(phase(CheckId(7), SECOND), phase(CheckId(7), SECOND));
        let mut tenths = [0; 10];
        for id in 0..10_000 {
            tenths[(phase(CheckId(id), SECOND).as_millis() / 100) as usize] += 1;
        }
        assert!(
            tenths.iter().all(|&n| (800..1200).contains(&n)),
            "{tenths:?}"
        );
    }

    #[test]
    fn slots_stay_on_the_grid() {
        let epoch = Instant::now();
        let phase = Duration::from_millis(300);
        assert_eq!(first_slot(epoch, epoch, SECOND, phase), epoch + phase);
        let now = epoch + Duration::from_millis(2500);
        assert_eq!(
            first_slot(epoch, now, SECOND, phase),
            epoch + Duration::from_millis(3300)
        );
        let slot = epoch + phase;
        // A run that ends within its interval: the next slot, none missed.
        assert_eq!(
            next_slot(slot, SECOND, slot + Duration::from_millis(400)),
            (slot + SECOND, 0)
        );
        // One that overran a little: the next slot still, run late.
        assert_eq!(
            next_slot(slot, SECOND, slot + Duration::from_millis(1100)),
            (slot + SECOND, 0)
        );
        // One that took 2.5 intervals: the slots at +1s (whole period
        // past) skipped; the one at +2s runs, late, back on the grid.
        assert_eq!(
            next_slot(slot, SECOND, slot + Duration::from_millis(2500)),
            (slot + 2 * SECOND, 1)
        );
        assert_eq!(
            next_slot(slot, SECOND, slot + Duration::from_millis(3000)),
            (slot + 3 * SECOND, 2)
        );
    }
}
