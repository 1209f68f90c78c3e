//! Tenant B at work while tenant A attacks: a thread that keeps calling
//! `/healthz`, ingesting one event and searching, and records the slowest
//! answer of each. [`Bystander::finish`] stops it and fails the test when
//! any call failed or took a second or more.

use crate::common::Server;
use reqwest::blocking::Client;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest any of B's calls may take while A attacks.
pub const PATIENCE: Duration = Duration::from_secs(1);

/// What B saw: the slowest answer of each kind, and every failure.
#[derive(Debug, Default)]
pub struct Seen {
    pub rounds: u32,
    pub slowest_healthz: Duration,
    pub slowest_ingest: Duration,
    pub slowest_search: Duration,
    pub failures: Vec<String>,
}

pub struct Bystander {
    stop: Arc<AtomicBool>,
    worker: Option<JoinHandle<Seen>>,
}

impl Bystander {
    /// Creates tenant `tenant` with an ingest and a read token and starts
    /// working it.
    pub fn start(server: &Server, tenant: &str) -> Bystander {
        server.create_tenant(tenant);
        let ingest = server.token(tenant, "ingest");
        let read = server.token(tenant, "read");
        Self::start_with_tokens(server.addr, ingest, read)
    }

    /// Works a tenant that already exists, through the given tokens.
    pub fn start_with_tokens(addr: SocketAddr, ingest: String, read: String) -> Bystander {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let worker = std::thread::spawn(move || work(addr, &ingest, &read, &stopping));
        // Let B get one round in before the attack starts.
        std::thread::sleep(Duration::from_millis(300));
        Bystander {
            stop,
            worker: Some(worker),
        }
    }

    /// Stops B and asserts it was served well throughout.
    pub fn finish(mut self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        let seen = self
            .worker
            .take()
            .expect("the bystander runs")
            .join()
            .expect("the bystander thread");
        assert!(seen.rounds > 0, "the bystander never completed a round");
        assert!(
            seen.failures.is_empty(),
            "tenant B was refused or failed while A attacked: {seen:#?}"
        );
        for (what, took) in [
            ("/healthz", seen.slowest_healthz),
            ("ingest", seen.slowest_ingest),
            ("search", seen.slowest_search),
        ] {
            assert!(
                took < PATIENCE,
                "tenant B's {what} took {took:?} while A attacked: {seen:#?}"
            );
        }
        seen
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn work(addr: SocketAddr, ingest: &str, read: &str, stop: &AtomicBool) -> Seen {
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let base = format!("http://{addr}");
    let mut seen = Seen::default();
    while !stop.load(Ordering::SeqCst) {
        let round = seen.rounds;
        let started = Instant::now();
        match client.get(format!("{base}/healthz")).send() {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => seen.failures.push(format!("healthz: {}", r.status())),
            Err(e) => seen.failures.push(format!("healthz: {e}")),
        }
        seen.slowest_healthz = seen.slowest_healthz.max(started.elapsed());

        let started = Instant::now();
        let line = json!({"message": "bystander", "round": round}).to_string() + "\n";
        match client
            .post(format!("{base}/api/v1/ingest"))
            .bearer_auth(ingest)
            .body(line)
            .send()
        {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => seen.failures.push(format!("ingest: {}", r.status())),
            Err(e) => seen.failures.push(format!("ingest: {e}")),
        }
        seen.slowest_ingest = seen.slowest_ingest.max(started.elapsed());

        let started = Instant::now();
        match client
            .get(format!("{base}/api/v1/events"))
            .bearer_auth(read)
            .query(&[("q", "message:bystander"), ("limit", "1")])
            .send()
        {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => seen.failures.push(format!("search: {}", r.status())),
            Err(e) => seen.failures.push(format!("search: {e}")),
        }
        seen.slowest_search = seen.slowest_search.max(started.elapsed());
        seen.rounds += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    seen
}
