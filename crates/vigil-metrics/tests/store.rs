//! Behaviour of the store through its public API: durability across
//! reopen, tenant isolation, out-of-order handling, downsampling and
//! retention boundaries, query limits.

use std::path::Path;
use vigil_core::TenantId;
use vigil_metrics::{
    MetricStore, MetricsError, QueryLimits, Retention, Sample, SeriesKey, StoreOptions, DAY_MS,
};

const A: TenantId = TenantId(1);
const B: TenantId = TenantId(2);
const T0: i64 = 1_700_000_000_000 - 1_700_000_000_000 % DAY_MS;

fn open(dir: &Path) -> MetricStore {
    MetricStore::open(dir, StoreOptions::default()).unwrap()
}

fn key(name: &str, host: &str) -> SeriesKey {
    SeriesKey::new(name, [("host", host), ("job", "node")]).unwrap()
}

/// Appends `n` samples every 15 s from `start`, value `f(i)`.
fn fill(
    store: &MetricStore,
    tenant: TenantId,
    key: &SeriesKey,
    start: i64,
    n: i64,
    f: impl Fn(i64) -> f64,
) {
    let id = store.series_id(tenant, key).unwrap();
    let samples: Vec<Sample> = (0..n)
        .map(|i| Sample {
            series: id,
            t: start + i * 15_000,
            v: f(i),
        })
        .collect();
    let report = store.append(tenant, &samples).unwrap();
    assert_eq!(report.accepted, n as usize);
}

fn all(store: &MetricStore, tenant: TenantId, expr: &str) -> Vec<vigil_metrics::Series> {
    store.query(tenant, expr, i64::MIN, i64::MAX, 0).unwrap()
}

fn same_points(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
}

#[test]
fn samples_survive_reopen_from_the_log_and_from_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let special = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        1e-300,
    ];
    let k = key("node_load1", "web1");
    let k2 = key("node_load5", "web1");
    {
        let store = open(dir.path());
        fill(&store, A, &k, T0, 1000, |i| {
            special[i as usize % special.len()]
        });
        // Huge gaps: the epoch's both ends.
        let id = store.series_id(A, &k2).unwrap();
        let samples = [i64::MIN + 1, -1, 0, i64::MAX].map(|t| Sample {
            series: id,
            t,
            v: t as f64,
        });
        store.append(A, &samples).unwrap();
        store.sync().unwrap();
        // Dropped without flush: a crash after the sync.
    }
    let expected = all(&open(dir.path()), A, "node_load1");
    assert_eq!(expected.len(), 1);
    assert_eq!(expected[0].points.len(), 1000);
    assert!(expected[0].points[0].1.is_nan());
    assert_eq!(expected[0].points[3].1.to_bits(), (-0.0f64).to_bits());
    {
        let store = open(dir.path());
        assert_eq!(all(&store, A, "node_load5")[0].points.len(), 4);
        store.flush().unwrap();
        let usage = store.disk_usage(Some(A)).unwrap();
        assert_eq!(usage.log, 0);
        assert!(usage.blocks > 0);
    }
    let store = open(dir.path());
    let again = all(&store, A, "node_load1");
    assert!(same_points(&again[0].points, &expected[0].points));
    let gaps = all(&store, A, "node_load5");
    let times: Vec<i64> = gaps[0].points.iter().map(|p| p.0).collect();
    assert_eq!(times, vec![i64::MIN + 1, -1, 0, i64::MAX]);
    // Series ids are stable across reopen.
    let id = store.series_id(A, &k).unwrap();
    assert_eq!(store.series_id(A, &k).unwrap(), id);
}

#[test]
fn a_torn_log_tail_is_cut_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let k = key("up", "a");
    {
        let store = open(dir.path());
        fill(&store, A, &k, T0, 10, |_| 1.0);
        fill(&store, A, &k, T0 + 10 * 15_000, 10, |_| 2.0);
    }
    let log = std::fs::read_dir(dir.path().join("tenants/1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log") && p.to_string_lossy().contains("wal-"))
        .unwrap();
    let len = std::fs::metadata(&log).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let store = open(dir.path());
    assert_eq!(
        all(&store, A, "up")[0].points.len(),
        10,
        "the torn batch is gone, the first stays"
    );
    fill(&store, A, &k, T0 + 20 * 15_000, 5, |_| 3.0);
    drop(store);
    assert_eq!(all(&open(dir.path()), A, "up")[0].points.len(), 15);
}

#[test]
fn a_flush_cut_short_is_redone_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let k = key("up", "a");
    {
        let store = open(dir.path());
        fill(&store, A, &k, T0, 100, |i| i as f64);
        store.sync().unwrap();
    }
    // A raw file of the live generation (as if written before a crash that
    // kept the log from rotating) duplicates nothing after reopen.
    let raw = dir.path().join("tenants/1/raw");
    {
        let store = open(dir.path());
        store.flush().unwrap();
    }
    let file = std::fs::read_dir(&raw)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    let (window, gen) = name.trim_end_matches(".blk").split_once('_').unwrap();
    let gen: u64 = gen.parse().unwrap();
    // Put back the log of that generation: the flush "did not finish".
    std::fs::remove_file(dir.path().join(format!("tenants/1/wal-{}.log", gen + 1))).unwrap();
    {
        let store = open(dir.path());
        fill(&store, A, &k, T0 + 100 * 15_000, 1, |_| 0.0);
    }
    let leftover = raw.join(format!("{window}_{}.blk", gen + 5));
    std::fs::copy(&file, &leftover).unwrap();
    let store = open(dir.path());
    assert!(
        !leftover.exists(),
        "a raw file of the live generation is removed"
    );
    let points = &all(&store, A, "up")[0].points;
    assert_eq!(points.len(), 101);
}

#[test]
fn out_of_order_and_duplicate_samples_are_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let id = store.series_id(A, &key("up", "a")).unwrap();
    let s = |t: i64, v: f64| Sample { series: id, t, v };
    let report = store
        .append(
            A,
            &[
                s(1000, 1.0),
                s(3000, 3.0),
                s(2000, 2.0),
                s(3000, 4.0),
                s(4000, 5.0),
            ],
        )
        .unwrap();
    assert_eq!(
        (report.accepted, report.out_of_order, report.duplicates),
        (3, 1, 1)
    );
    assert_eq!(store.stats().out_of_order, 1);
    store.flush().unwrap();
    drop(store);
    // The newest time is known again after reopen, from the block index.
    let store = open(dir.path());
    let report = store.append(A, &[s(3500, 1.0), s(5000, 1.0)]).unwrap();
    assert_eq!((report.accepted, report.out_of_order), (1, 1));
}

/// Conformance: whatever tenant A stores or asks, it never sees tenant B's
/// series, and B's ids are refused for A.
#[test]
fn tenants_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    fill(
        &store,
        A,
        &key("node_cpu_seconds_total", "a1"),
        T0,
        50,
        |i| i as f64,
    );
    fill(
        &store,
        B,
        &key("node_cpu_seconds_total", "b1"),
        T0,
        50,
        |i| i as f64,
    );
    fill(&store, B, &key("secret_metric", "b1"), T0, 50, |i| i as f64);
    let b_id = store.series_id(B, &key("secret_metric", "b1")).unwrap();
    let err = store
        .append(
            A,
            &[Sample {
                series: b_id,
                t: T0 + 10_000_000,
                v: 1.0,
            }],
        )
        .unwrap_err();
    assert!(matches!(err, MetricsError::ForeignSeries(..)), "{err}");
    for round in 0..2 {
        for expr in [
            "node_cpu_seconds_total",
            "secret_metric",
            r#"{__name__=~".+"}"#,
            r#"{host=~"b.*"}"#,
            r#"{job="node"}"#,
            "rate(node_cpu_seconds_total[5m])",
        ] {
            let step = if expr.starts_with("rate") { 60_000 } else { 0 };
            let result = store
                .query(A, expr, T0 - DAY_MS, T0 + DAY_MS, step)
                .unwrap();
            for s in &result {
                assert_eq!(s.key.get("host"), Some("a1"), "{expr}: {}", s.key);
            }
            let b = store
                .query(B, expr, T0 - DAY_MS, T0 + DAY_MS, step)
                .unwrap();
            assert!(b.iter().all(|s| s.key.get("host") == Some("b1")), "{expr}");
        }
        assert!(store
            .query(TenantId(3), "node_cpu_seconds_total", 0, i64::MAX, 0)
            .unwrap()
            .is_empty());
        store.flush().unwrap();
        let _ = round;
    }
    assert!(
        !dir.path().join("tenants/3").exists(),
        "a query creates no tenant"
    );
}

#[test]
fn downsampling_and_retention_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .set_retention(
            A,
            Retention {
                raw_days: 2,
                downsampled_days: 5,
            },
        )
        .unwrap();
    assert!(store
        .set_retention(
            A,
            Retention {
                raw_days: 3,
                downsampled_days: 2
            }
        )
        .is_err());
    let k = key("node_network_receive_bytes_total", "a");
    // Day 0 and day 1, one sample a minute, a counter that resets at noon of day 1.
    let id = store.series_id(A, &k).unwrap();
    let samples: Vec<Sample> = (0..2 * 1440)
        .map(|i| Sample {
            series: id,
            t: T0 + i * 60_000,
            v: if i < 1440 + 720 {
                (i * 100) as f64
            } else {
                ((i - 2160) * 100) as f64
            },
        })
        .collect();
    store.append(A, &samples).unwrap();
    store.flush().unwrap();
    let raw_rate = store
        .query(
            A,
            "rate(node_network_receive_bytes_total[10m])",
            T0,
            T0 + 2 * DAY_MS,
            600_000,
        )
        .unwrap();
    assert!(raw_rate[0].points.iter().all(|p| p.1 >= 0.0));
    // Day 0 ends at T0 + 1 day: at now = T0 + 3 days it is exactly raw_days old.
    assert_eq!(store.apply_retention(A, T0 + 3 * DAY_MS - 1).unwrap(), 0);
    let raw = all(&store, A, "node_network_receive_bytes_total");
    assert_eq!(raw[0].points.len(), 2 * 1440);
    assert_eq!(
        store.apply_retention(A, T0 + 3 * DAY_MS).unwrap(),
        12,
        "day 0's twelve 2-hour raw files go"
    );
    let mixed = all(&store, A, "node_network_receive_bytes_total");
    // Day 0: 288 five-minute points (last value, at the bucket's end); day 1 raw.
    assert_eq!(mixed[0].points.len(), 288 + 1440);
    assert_eq!(mixed[0].points[0], (T0 + 299_999, 400.0));
    // A range inside the last bucket of day 0 still sees that bucket's point.
    let end_of_day0 = store
        .query(
            A,
            "node_network_receive_bytes_total",
            T0 + DAY_MS - 1000,
            T0 + DAY_MS - 1,
            0,
        )
        .unwrap();
    assert_eq!(end_of_day0[0].points, vec![(T0 + DAY_MS - 1, 143_900.0)]);
    let day0_rate = store
        .query(
            A,
            "rate(node_network_receive_bytes_total[15m])",
            T0 + 3_600_000,
            T0 + 3_600_000,
            60_000,
        )
        .unwrap();
    assert!(
        (day0_rate[0].points[0].1 - 100.0 / 60.0).abs() < 1e-9,
        "{:?}",
        day0_rate
    );
    // Reopen: the downsampled file is found, the raw one stays gone.
    drop(store);
    let store = open(dir.path());
    assert_eq!(
        store.retention(A).unwrap(),
        Retention {
            raw_days: 2,
            downsampled_days: 5
        }
    );
    assert_eq!(
        all(&store, A, "node_network_receive_bytes_total")[0]
            .points
            .len(),
        288 + 1440
    );
    // Day 1 downsampled too; then day 0 ends 5 days before now and goes.
    store.apply_retention(A, T0 + 4 * DAY_MS).unwrap();
    assert_eq!(
        all(&store, A, "node_network_receive_bytes_total")[0]
            .points
            .len(),
        2 * 288
    );
    store.apply_retention(A, T0 + 6 * DAY_MS - 1).unwrap();
    assert_eq!(
        all(&store, A, "node_network_receive_bytes_total")[0]
            .points
            .len(),
        2 * 288
    );
    store.apply_retention(A, T0 + 6 * DAY_MS).unwrap();
    assert_eq!(
        all(&store, A, "node_network_receive_bytes_total")[0]
            .points
            .len(),
        288
    );
    let report = store.compact(T0 + 100 * DAY_MS).unwrap();
    assert_eq!(report.files_removed, 1);
    assert!(all(&store, A, "node_network_receive_bytes_total").is_empty());
}

#[test]
fn steps_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        limits: QueryLimits {
            max_series: 3,
            max_points: 250,
        },
        ..StoreOptions::default()
    };
    let store = MetricStore::open(dir.path(), options).unwrap();
    for host in ["a", "b", "c", "d"] {
        fill(&store, A, &key("up", host), T0, 100, |_| 1.0);
    }
    let err = store.query(A, "up", T0, T0 + DAY_MS, 0).unwrap_err();
    assert!(
        matches!(err, MetricsError::TooManySeries { found: 4, limit: 3 }),
        "{err}"
    );
    let three = store
        .query(A, r#"up{host!="d"}"#, T0, T0 + 99 * 15_000, 60_000)
        .unwrap();
    assert_eq!(three.len(), 3);
    assert_eq!(three[0].points.len(), 25);
    assert_eq!(three[0].points[1], (T0 + 60_000, 1.0));
    let err = store
        .query(A, r#"up{host!="d"}"#, T0, T0 + 99 * 15_000, 0)
        .unwrap_err();
    assert!(matches!(err, MetricsError::TooManyPoints { .. }), "{err}");
    assert!(matches!(
        store.query(A, "up", T0, T0 + DAY_MS, 1).unwrap_err(),
        MetricsError::TooManyPoints { .. }
    ));
    assert!(matches!(
        store.query(A, "up", 10, 0, 0).unwrap_err(),
        MetricsError::Range(_)
    ));
    assert!(matches!(
        store.query(A, "rate(up[5m])", 0, 10, 0).unwrap_err(),
        MetricsError::Range(_)
    ));
    assert!(matches!(
        store.query(A, "up{", 0, 10, 0).unwrap_err(),
        MetricsError::Parse(_)
    ));
}

/// Series of one scrape share their timestamps on disk; every series must
/// still read back its own values, before and after downsampling.
#[test]
fn shared_timestamps_read_back_per_series() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .set_retention(
            A,
            Retention {
                raw_days: 1,
                downsampled_days: 30,
            },
        )
        .unwrap();
    let ids: Vec<_> = (0..50)
        .map(|i| store.series_id(A, &key("m", &format!("h{i}"))).unwrap())
        .collect();
    let mut expected: Vec<Vec<(i64, f64)>> = vec![Vec::new(); 50];
    for k in 0..600i64 {
        let t = T0 + k * 15_000 + (k * 7919) % 11;
        let batch: Vec<Sample> = ids
            .iter()
            .enumerate()
            // Series 49 is scraped on its own schedule.
            .map(|(i, &id)| Sample {
                series: id,
                t: if i == 49 { t + 3 } else { t },
                v: (i as i64 * 1000 + k * (i as i64 % 7)) as f64 / 10.0,
            })
            .collect();
        for s in &batch {
            expected[ids.iter().position(|&id| id == s.series).unwrap()].push((s.t, s.v));
        }
        store.append(A, &batch).unwrap();
    }
    store.flush().unwrap();
    drop(store);
    let store = open(dir.path());
    for (i, want) in expected.iter().enumerate() {
        let got = store
            .query(A, &format!(r#"m{{host="h{i}"}}"#), i64::MIN, i64::MAX, 0)
            .unwrap();
        assert!(same_points(&got[0].points, want), "series {i}");
    }
    store.apply_retention(A, T0 + 3 * DAY_MS).unwrap();
    for (i, want) in expected.iter().enumerate() {
        let got = store
            .query(A, &format!(r#"m{{host="h{i}"}}"#), i64::MIN, i64::MAX, 0)
            .unwrap();
        let last_of_first_bucket = want
            .iter()
            .take_while(|p| p.0 < T0 + 300_000)
            .last()
            .unwrap()
            .1;
        assert_eq!(
            got[0].points[0],
            (T0 + 299_999, last_of_first_bucket),
            "series {i}"
        );
        assert_eq!(got[0].points.len(), 600 * 15 / 300);
    }
}

#[test]
fn aggregations_by_label() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for (host, mode, per_scrape) in [
        ("a", "user", 15.0),
        ("a", "idle", 30.0),
        ("b", "user", 45.0),
    ] {
        let k = SeriesKey::new("node_cpu_seconds_total", [("host", host), ("mode", mode)]).unwrap();
        fill(&store, A, &k, T0, 100, |i| i as f64 * per_scrape);
    }
    let from = T0 + 600_000;
    let by_mode = store
        .query(
            A,
            "sum by (mode) (rate(node_cpu_seconds_total[1m]))",
            from,
            from + 60_000,
            60_000,
        )
        .unwrap();
    assert_eq!(by_mode.len(), 2);
    assert_eq!(by_mode[0].key.to_string(), r#"{mode="idle"}"#);
    assert_eq!(by_mode[0].points, vec![(from, 2.0), (from + 60_000, 2.0)]);
    assert_eq!(by_mode[1].key.get("mode"), Some("user"));
    assert_eq!(by_mode[1].key.get("__name__"), None);
    assert_eq!(by_mode[1].points[0], (from, 4.0));
    let all = store
        .query(A, "max(node_cpu_seconds_total)", from, from, 60_000)
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].key.to_string(), "{}");
    assert_eq!(all[0].points, vec![(from, 40.0 * 45.0)]);
    let count = store
        .query(
            A,
            r#"count(node_cpu_seconds_total{host="a"}) by (host)"#,
            from,
            from,
            60_000,
        )
        .unwrap();
    assert_eq!(count[0].points, vec![(from, 2.0)]);
    assert!(matches!(
        store.query(A, "sum(up)", T0, T0, 0).unwrap_err(),
        MetricsError::Range(_)
    ));
}
