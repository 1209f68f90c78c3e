//! Crash durability: SIGKILL while clients ingest; after a restart on the
//! same data directory, every acknowledged event is found by search.

mod common;

use common::Server;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BATCH: usize = 200;

#[test]
fn every_acknowledged_event_survives_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path());
    server.create_tenant("acme");
    let ingest = server.token("acme", "ingest");
    let read = server.token("acme", "read");
    let url = server.url("/api/v1/ingest");
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..3u64)
        .map(|client| {
            let (url, token, acked, stop) =
                (url.clone(), ingest.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                for n in 0..10_000u64 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let batch = client * 1_000_000 + n;
                    let body: String = (0..BATCH)
                        .map(|i| {
                            format!(
                                "{}\n",
                                json!({"batch": batch, "i": i, "message": "crash test event"})
                            )
                        })
                        .collect();
                    match http.post(&url).bearer_auth(&token).body(body).send() {
                        Ok(r) if r.status() == 200 => {
                            let answer: Value = r.json().unwrap_or_default();
                            assert_eq!(answer["accepted"], BATCH as u64);
                            acked.lock().unwrap().push(batch);
                        }
                        _ => break, // the server is gone
                    }
                }
            })
        })
        .collect();
    // Let the clients get going, then kill the server mid-stream.
    std::thread::sleep(Duration::from_millis(2500));
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 10,
        "the clients got some acknowledgements before the kill ({})",
        acked.len()
    );

    let server = Server::start(dir.path());
    let want = (acked.len() * BATCH) as u64;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let stats = loop {
        let stats: Value = server
            .get("/api/v1/events/stats", &read)
            .query(&[("field", "batch"), ("limit", "10000")])
            .send()
            .unwrap()
            .json()
            .unwrap();
        if stats["total"].as_u64().unwrap_or(0) >= want || std::time::Instant::now() > deadline {
            break stats;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let counts: std::collections::HashMap<u64, u64> = stats["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| {
            (
                v["value"].as_u64().unwrap_or(u64::MAX),
                v["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    for batch in &acked {
        assert_eq!(
            counts.get(batch),
            Some(&(BATCH as u64)),
            "acknowledged batch {batch} is whole after the crash"
        );
    }
    assert!(stats["total"].as_u64().unwrap() >= want);
    eprintln!(
        "{} acknowledged batches ({} events) all found after SIGKILL",
        acked.len(),
        want
    );
}
