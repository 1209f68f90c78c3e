//! Ingest requests in progress, capped in all and per tenant.
//!
//! A request takes a slot before its body is read and holds it until it is
//! answered; with none free it is refused at once (429, `Retry-After`)
//! rather than queued, so that a flood costs the server nothing but the
//! refusal. A tenant's cap is below the global one: however many requests
//! one tenant sends, the others keep room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use vigil_core::TenantId;

pub struct IngestSlots {
    global_max: usize,
    tenant_max: usize,
    taken: Mutex<Taken>,
}

#[derive(Default)]
struct Taken {
    all: usize,
    by_tenant: HashMap<TenantId, usize>,
}

/// Why no slot was free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// The tenant has this many requests in progress, its most.
    Tenant(usize),
    /// The server has this many requests in progress, its most.
    Server(usize),
}

/// A request's slot, given back when dropped.
pub struct Slot {
    slots: Arc<IngestSlots>,
    tenant: TenantId,
}

impl IngestSlots {
    pub fn new(global_max: usize, tenant_max: usize) -> Arc<IngestSlots> {
        Arc::new(IngestSlots {
            global_max,
            tenant_max,
            taken: Mutex::new(Taken::default()),
        })
    }

    /// A slot for one request of `tenant`, if both caps allow.
    pub fn try_take(self: &Arc<Self>, tenant: TenantId) -> Result<Slot, Busy> {
        let mut taken = self.lock();
        let mine = taken.by_tenant.get(&tenant).copied().unwrap_or(0);
        if mine >= self.tenant_max {
            return Err(Busy::Tenant(self.tenant_max));
        }
        if taken.all >= self.global_max {
            return Err(Busy::Server(self.global_max));
        }
        taken.all += 1;
        taken.by_tenant.insert(tenant, mine + 1);
        Ok(Slot {
            slots: self.clone(),
            tenant,
        })
    }

    /// Requests in progress, all tenants together.
    pub fn in_progress(&self) -> usize {
        self.lock().all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Taken> {
        // The counts stay consistent whatever panicked while holding it.
        self.taken.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut taken = self.slots.lock();
        taken.all = taken.all.saturating_sub(1);
        if let Some(mine) = taken.by_tenant.get_mut(&self.tenant) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                taken.by_tenant.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: TenantId = TenantId(1);
    const B: TenantId = TenantId(2);
    const C: TenantId = TenantId(3);

    #[test]
    fn one_tenant_fills_its_share_and_the_others_keep_room() {
        let slots = IngestSlots::new(3, 2);
        let a1 = slots.try_take(A).unwrap();
        let _a2 = slots.try_take(A).unwrap();
        assert_eq!(slots.try_take(A).err(), Some(Busy::Tenant(2)));
        let _b = slots.try_take(B).unwrap();
        assert_eq!(slots.try_take(C).err(), Some(Busy::Server(3)));
        drop(a1);
        assert_eq!(slots.in_progress(), 2);
        let _c = slots.try_take(C).unwrap();
    }

    #[test]
    fn slots_come_back_when_requests_end() {
        let slots = IngestSlots::new(2, 1);
        for _ in 0..5 {
            let a = slots.try_take(A).unwrap();
            assert!(slots.try_take(A).is_err());
            drop(a);
        }
        assert_eq!(slots.in_progress(), 0);
        assert!(slots.lock().by_tenant.is_empty());
    }

    #[test]
    fn slots_taken_from_many_threads_never_exceed_the_caps() {
        let slots = IngestSlots::new(4, 3);
        let peak = Arc::new(Mutex::new(0usize));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let slots = slots.clone();
                let peak = peak.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        if let Ok(slot) = slots.try_take(TenantId(i % 2)) {
                            let now = slots.in_progress();
                            let mut peak = peak.lock().unwrap();
                            *peak = (*peak).max(now);
                            drop(slot);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(*peak.lock().unwrap() <= 4);
        assert_eq!(slots.in_progress(), 0);
    }
}
