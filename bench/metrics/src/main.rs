//! Ingests node_exporter-like samples into a fresh `MetricStore`, then
//! prints samples/s appended, bytes per sample on disk after the flush, and
//! query latencies. See bench/README.md.
//!
//! The data: targets of 200 series scraped every 15 s, each scrape's
//! timestamp with ±5 ms of jitter and 0.1 % of scrapes missed, every series
//! of one scrape sharing its time (as Prometheus does). Series classes, in
//! shares close to a node_exporter's:
//!
//! - 40 % constant (sizes, info metrics, `up`), changing once in a while;
//! - 20 % integer counters increasing irregularly (bytes, packets; a
//!   quarter of the scrapes see no change);
//! - 15 % counters of seconds with two decimals (`node_cpu_seconds_total`);
//! - 10 % integer gauges with noise (memory in 4 KiB pages);
//! - 10 % gauges with two decimals and noise (load, temperatures);
//! - 5 % gauges of full-precision floats (ratios, quantiles).

use std::time::{Duration, Instant};
use vigil_core::TenantId;
use vigil_metrics::{MetricStore, Sample, SeriesId, SeriesKey, StoreOptions};

const TENANT: TenantId = TenantId(1);
const INTERVAL: i64 = 15_000;
const TARGET_SERIES: usize = 200;
const START: i64 = 1_763_683_200_000; // 2025-11-21 00:00 UTC

struct Args {
    series: usize,
    samples: usize,
    batch: usize,
    dir: Option<String>,
    /// Only this class of series (constant, int-counter, seconds-counter,
    /// int-gauge, decimal-gauge, float-gauge).
    class: Option<Class>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        series: 2000,
        samples: 5760,
        batch: 10_000,
        dir: None,
        class: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--series" => args.series = value()?.parse().map_err(|e| format!("--series: {e}"))?,
            "--samples-per-series" => args.samples = value()?.parse().map_err(|e| format!("--samples-per-series: {e}"))?,
            "--batch" => args.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--dir" => args.dir = Some(value()?),
            "--class" => {
                let name = value()?;
                args.class = Some(CLASSES.iter().find(|c| c.1 == name).ok_or(format!("unknown class {name}"))?.0)
            }
            "-h" | "--help" => {
                return Err("usage: vigil-bench-metrics [--series N] [--samples-per-series M] [--batch B] [--dir DIR] [--class NAME]".into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.series == 0 || args.samples == 0 || args.batch == 0 {
        return Err("--series, --samples-per-series and --batch must be positive".into());
    }
    Ok(args)
}

/// xorshift64*: reproducible, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy)]
enum Class {
    Constant,
    IntCounter,
    SecondsCounter,
    IntGauge,
    DecimalGauge,
    FloatGauge,
}

const CLASSES: [(Class, &str); 6] = [
    (Class::Constant, "constant"),
    (Class::IntCounter, "int-counter"),
    (Class::SecondsCounter, "seconds-counter"),
    (Class::IntGauge, "int-gauge"),
    (Class::DecimalGauge, "decimal-gauge"),
    (Class::FloatGauge, "float-gauge"),
];

fn class_of(i: usize) -> Class {
    match i % 20 {
        0..=7 => Class::Constant,
        8..=11 => Class::IntCounter,
        12..=14 => Class::SecondsCounter,
        15..=16 => Class::IntGauge,
        17..=18 => Class::DecimalGauge,
        _ => Class::FloatGauge,
    }
}

struct Generated {
    class: Class,
    /// Integer state (counts, pages, hundredths).
    n: i64,
    f: f64,
}

impl Generated {
    fn next(&mut self, rng: &mut Rng) -> f64 {
        match self.class {
            Class::Constant => {
                if rng.below(2000) == 0 {
                    self.n += 1;
                }
                self.n as f64
            }
            Class::IntCounter => {
                if rng.below(4) != 0 {
                    self.n += rng.below(20_000) as i64;
                }
                self.n as f64
            }
            Class::SecondsCounter => {
                self.n += rng.below(1500) as i64;
                self.n as f64 / 100.0
            }
            Class::IntGauge => {
                self.n = (self.n + rng.below(201) as i64 - 100).max(0);
                (self.n * 4096) as f64
            }
            Class::DecimalGauge => {
                self.n = (self.n + rng.below(41) as i64 - 20).max(0);
                self.n as f64 / 100.0
            }
            Class::FloatGauge => {
                self.f = (self.f + (rng.unit() - 0.5) * 0.01).abs();
                self.f
            }
        }
    }
}

fn name_of(class: Class) -> &'static str {
    match class {
        Class::Constant => "node_filesystem_size_bytes",
        Class::IntCounter => "node_network_receive_bytes_total",
        Class::SecondsCounter => "node_cpu_seconds_total",
        Class::IntGauge => "node_memory_free_bytes",
        Class::DecimalGauge => "node_load1",
        Class::FloatGauge => "go_gc_duration_seconds",
    }
}

fn key_of(i: usize, class: Option<Class>) -> SeriesKey {
    let host = format!("host-{:04}", i / TARGET_SERIES);
    let group = format!("g{}", i / 1000);
    let index = (i % TARGET_SERIES).to_string();
    SeriesKey::new(
        name_of(class.unwrap_or(class_of(i))),
        [
            ("instance", host.as_str()),
            ("job", "node"),
            ("group", group.as_str()),
            ("index", index.as_str()),
        ],
    )
    .expect("valid key")
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = args
        .dir
        .as_deref()
        .map(std::path::PathBuf::from)
        .unwrap_or(tmp.path().to_path_buf());
    let store = MetricStore::open(&dir, StoreOptions::default())?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let ids: Vec<SeriesId> = (0..args.series)
        .map(|i| store.series_id(TENANT, &key_of(i, args.class)))
        .collect::<Result<_, _>>()?;
    let mut gens: Vec<Generated> = (0..args.series)
        .map(|i| Generated {
            class: args.class.unwrap_or(class_of(i)),
            n: rng.below(1_000_000) as i64,
            f: rng.unit(),
        })
        .collect();
    let targets = args.series.div_ceil(TARGET_SERIES);
    let mut batch: Vec<Sample> = Vec::with_capacity(args.batch);
    let (mut appended, mut busy) = (0u64, Duration::ZERO);
    let mut baseline = Duration::ZERO;
    let mut copy: Vec<Sample> = Vec::with_capacity(args.batch);
    let mut send = |batch: &mut Vec<Sample>,
                    busy: &mut Duration,
                    appended: &mut u64|
     -> Result<(), Box<dyn std::error::Error>> {
        // Baseline in the same run: copying the batch (the floor of any append).
        let t = Instant::now();
        copy.clear();
        copy.extend_from_slice(batch);
        std::hint::black_box(&copy);
        baseline += t.elapsed();
        let t = Instant::now();
        let report = store.append(TENANT, batch)?;
        *busy += t.elapsed();
        *appended += report.accepted as u64;
        batch.clear();
        Ok(())
    };
    for k in 0..args.samples as i64 {
        for target in 0..targets {
            if rng.below(1000) == 0 {
                continue; // a missed scrape
            }
            let t = START + k * INTERVAL + rng.below(11) as i64 - 5;
            let first = target * TARGET_SERIES;
            for i in first..(first + TARGET_SERIES).min(args.series) {
                let v = gens[i].next(&mut rng);
                batch.push(Sample {
                    series: ids[i],
                    t,
                    v,
                });
                if batch.len() == args.batch {
                    send(&mut batch, &mut busy, &mut appended)?;
                }
            }
        }
    }
    if !batch.is_empty() {
        send(&mut batch, &mut busy, &mut appended)?;
    }
    let t = Instant::now();
    store.sync()?;
    let sync = t.elapsed();
    let t = Instant::now();
    store.flush()?;
    let flush = t.elapsed();
    let usage = store.disk_usage(None)?;
    let on_disk = usage.blocks + usage.series_index;
    let du = dir_bytes(&dir)?;

    println!(
        "vigil-metrics: {} series x {} samples, batches of {}",
        args.series, args.samples, args.batch
    );
    println!(
        "ingest          {appended} samples in {:.2} s of append calls = {:.0} samples/s  (sync {:.0} ms, flush {:.0} ms)",
        busy.as_secs_f64(),
        appended as f64 / busy.as_secs_f64(),
        sync.as_secs_f64() * 1e3,
        flush.as_secs_f64() * 1e3,
    );
    println!(
        "  incl. flush   {:.0} samples/s",
        appended as f64 / (busy + sync + flush).as_secs_f64()
    );
    println!(
        "  baseline      copying the batches: {:.0} samples/s; append / copy = {:.1}x the time",
        appended as f64 / baseline.as_secs_f64(),
        busy.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "on disk         {} bytes of blocks + {} of series index = {:.3} bytes/sample ({} bytes in the directory: {:.3}); raw (i64, f64) 16 bytes/sample: {:.1}x smaller",
        usage.blocks,
        usage.series_index,
        on_disk as f64 / appended as f64,
        du,
        du as f64 / appended as f64,
        16.0 * appended as f64 / on_disk as f64,
    );
    if args.class.is_none() {
        queries(&store, args)?;
    }
    drop(store);
    Ok(())
}

fn queries(store: &MetricStore, args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let end = START + (args.samples as i64 - 1) * INTERVAL;
    let day = 86_400_000;
    let one = r#"node_cpu_seconds_total{instance="host-0000",index="12"}"#;
    let group = r#"{group="g0"}"#;
    let cases = [
        ("24h, 1 series, raw", one.to_string(), end - day, 0),
        (
            "24h, 1 series, step 60s",
            one.to_string(),
            end - day,
            60_000,
        ),
        (
            "24h, 1 series, rate[5m] step 60s",
            format!("rate({one}[5m])"),
            end - day,
            60_000,
        ),
        (
            "1h, 1000 series, raw",
            group.to_string(),
            end - 3_600_000,
            0,
        ),
        (
            "1h, 1000 series, step 60s",
            group.to_string(),
            end - 3_600_000,
            60_000,
        ),
    ];
    for (label, expr, from, step) in cases {
        let mut times = Vec::new();
        let mut shape = (0, 0);
        for _ in 0..7 {
            let t = Instant::now();
            let result = store.query(TENANT, &expr, from, end, step)?;
            times.push(t.elapsed());
            shape = (
                result.len(),
                result.iter().map(|s| s.points.len()).sum::<usize>(),
            );
        }
        times.sort();
        println!(
            "query           {label:<34} {:>5} series {:>7} points  median {:>8.2} ms  (min {:.2})",
            shape.0,
            shape.1,
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3
        );
    }
    Ok(())
}

fn dir_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_bytes(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
