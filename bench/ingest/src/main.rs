//! Load tool for Vigil's ingest + search benchmark. `bench/ingest.sh` starts
//! a server and runs `vigil-bench-ingest run`; see `bench/README.md` for
//! what each figure means.

mod gen;
mod stats;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use clap::{Parser, Subcommand};
use gen::{Counts, GenConfig, Generated, Shape, QUERIES};
use rand::Rng;
use reqwest::{Client, StatusCode, Url};
use serde_json::{json, Value};
use stats::Samples;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "vigil-bench-ingest", about = "Vigil ingest + search benchmark")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the benchmark against a running `vigil serve`.
    Run(Box<RunArgs>),
    /// Print a free TCP port on 127.0.0.1 (for the script).
    FreePort,
}

#[derive(Parser, Clone)]
struct RunArgs {
    /// Base URL of the server; must be a loopback address.
    #[arg(long, env = "VIGIL_BENCH_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Token with the ingest role.
    #[arg(long, env = "VIGIL_BENCH_INGEST_TOKEN", hide_env_values = true)]
    ingest_token: String,
    /// Token with the read role.
    #[arg(long, env = "VIGIL_BENCH_READ_TOKEN", hide_env_values = true)]
    read_token: String,
    /// Concurrent ingest connections.
    #[arg(long, env = "BENCH_CONNECTIONS", default_value_t = 8)]
    connections: usize,
    /// Events (NDJSON lines) per ingest request.
    #[arg(long, env = "BENCH_BATCH", default_value_t = 1000)]
    batch: usize,
    /// Total events to ingest.
    #[arg(long, env = "BENCH_EVENTS", default_value_t = 2_000_000)]
    events: u64,
    /// Send bodies with `Content-Encoding: gzip` (compressed before timing).
    #[arg(long, env = "BENCH_GZIP")]
    gzip: bool,
    /// Flat dotted keys (`"host.name":..`) instead of nested ECS objects.
    #[arg(long)]
    flat: bool,
    /// Seconds of `GET /healthz` load for the baseline.
    #[arg(long, default_value_t = 3.0)]
    baseline_secs: f64,
    /// Runs of each search query.
    #[arg(long, default_value_t = 30)]
    search_iters: usize,
    /// `limit` of each search.
    #[arg(long, default_value_t = 100)]
    search_limit: usize,
    /// Interval between freshness markers during the ingest run, ms.
    #[arg(long, default_value_t = 1000)]
    marker_interval_ms: u64,
    /// Poll interval while waiting for an event to become searchable, ms.
    #[arg(long, default_value_t = 20)]
    poll_ms: u64,
    /// Give up on one marker after this many seconds.
    #[arg(long, default_value_t = 60)]
    fresh_timeout_secs: u64,
    /// Give up waiting for all events to be searchable after this many seconds.
    #[arg(long, default_value_t = 180)]
    visible_timeout_secs: u64,
    /// Stop sending batches after this many seconds (the run is then partial).
    #[arg(long, default_value_t = 900)]
    max_ingest_secs: u64,
    /// Timeout of one HTTP request, seconds.
    #[arg(long, default_value_t = 120)]
    request_timeout_secs: u64,
    /// Target ingest rate the figure is compared with, events/s.
    #[arg(long, default_value_t = 100_000.0)]
    target_eps: f64,
    /// Do not send `from`/`to` with searches (use the server's default range).
    #[arg(long)]
    no_time_range: bool,
    /// Seed of the event generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Tokio worker threads of this load tool.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Also write the JSON summary to this file.
    #[arg(long)]
    json_out: Option<std::path::PathBuf>,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::FreePort => {
            let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
            println!("{}", l.local_addr()?.port());
            Ok(())
        }
        Cmd::Run(args) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(args.threads.max(1))
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            rt.block_on(run(*args))
        }
    }
}

/// Everything the phases share.
struct Ctx {
    args: RunArgs,
    base: Url,
    run_id: String,
    first_time: DateTime<Utc>,
    /// Events acknowledged outside the timed batches (probe, markers) and
    /// the query hits they add.
    extra_accepted: AtomicU64,
    extra_counts: shared_counts::Shared,
}

/// A tiny mutex-protected `Counts` (std only).
mod shared_counts {
    use super::Counts;
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Shared(Mutex<Counts>);

    impl Shared {
        pub fn add(&self, c: &Counts) {
            if let Ok(mut g) = self.0.lock() {
                g.add(c);
            }
        }
        pub fn get(&self) -> Counts {
            self.0.lock().map(|g| *g).unwrap_or_default()
        }
    }
}

impl Ctx {
    fn endpoint(&self, path: &str) -> Result<Url> {
        self.base
            .join(path)
            .with_context(|| format!("building the url for {path}"))
    }

    fn client(&self) -> Result<Client> {
        Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(self.args.request_timeout_secs))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("building the http client")
    }

    fn shape(&self) -> Shape {
        if self.args.flat {
            Shape::Flat
        } else {
            Shape::Nested
        }
    }

    /// Builds a one-event body carrying `marker`.
    fn marker_body(&self, marker: &str, seq: u64) -> (Bytes, Counts) {
        let mut text = String::with_capacity(400);
        let mut counts = Counts::default();
        let spec = gen::EventSpec {
            seq,
            time: Utc::now(),
            run_id: &self.run_id,
            shape: self.shape(),
            marker: Some(marker),
        };
        gen::write_event(&mut text, &mut rand::thread_rng(), &spec, &mut counts);
        text.push('\n');
        let body = if self.args.gzip {
            gen::gzip(text.as_bytes())
        } else {
            Bytes::from(text)
        };
        (body, counts)
    }

    /// One search; returns the parsed answer.
    async fn search(&self, client: &Client, q: &str, limit: usize) -> Result<SearchAnswer> {
        let mut req = client
            .get(self.endpoint("/api/v1/events")?)
            .bearer_auth(&self.args.read_token);
        let limit = limit.to_string();
        let mut params: Vec<(&str, String)> = vec![("q", q.to_string()), ("limit", limit)];
        if !self.args.no_time_range {
            let from = self.first_time - ChronoDuration::hours(1);
            let to = Utc::now() + ChronoDuration::hours(1);
            params.push(("from", from.to_rfc3339_opts(SecondsFormat::Secs, true)));
            params.push(("to", to.to_rfc3339_opts(SecondsFormat::Secs, true)));
        }
        req = req.query(&params);
        let resp = req.send().await.with_context(|| format!("search {q:?}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("search {q:?}: http {status}: {}", truncate(&text, 300));
        }
        let v: Value = serde_json::from_str(&text).with_context(|| {
            format!("search {q:?}: answer is not JSON: {}", truncate(&text, 300))
        })?;
        let total = total_of(&v)
            .with_context(|| format!("search {q:?}: no total in {}", truncate(&text, 300)))?;
        let events = v["events"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let markers = events
            .iter()
            .filter_map(|e| {
                let e = &e["event"];
                e["bench"]["marker"]
                    .as_str()
                    .or_else(|| e["bench.marker"].as_str())
                    .map(str::to_string)
            })
            .collect();
        Ok(SearchAnswer {
            total,
            returned: events.len(),
            took_ms: v["took_ms"].as_f64(),
            markers,
        })
    }

    /// Polls a search until it finds `want` hits; returns when it did.
    async fn wait_visible(
        &self,
        client: &Client,
        q: &str,
        want: u64,
        timeout: Duration,
    ) -> Result<Instant> {
        let deadline = Instant::now() + timeout;
        let mut last_err = None;
        loop {
            match self.search(client, q, 1).await {
                Ok(a) if a.total >= want => return Ok(Instant::now()),
                Ok(_) => {}
                Err(e) => last_err = Some(e),
            }
            if Instant::now() >= deadline {
                match last_err {
                    Some(e) => bail!("{q:?} not visible after {timeout:?}: {e:#}"),
                    None => bail!("{q:?} not visible after {timeout:?}"),
                }
            }
            tokio::time::sleep(Duration::from_millis(self.args.poll_ms)).await;
        }
    }
}

struct SearchAnswer {
    total: u64,
    returned: usize,
    took_ms: Option<f64>,
    /// `bench.marker` values of the returned events.
    markers: Vec<String>,
}

/// `total` as a number, or `{"value": N}` as some engines answer.
fn total_of(v: &Value) -> Option<u64> {
    let t = &v["total"];
    t.as_u64().or_else(|| t["value"].as_u64())
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

struct IngestAnswer {
    accepted: u64,
    rejected: u64,
    first_rejection: Option<String>,
}

enum PostError {
    /// Worth retrying: transport error, 429, 5xx.
    Transient(String),
    Fatal(String),
}

async fn post_ingest(ctx: &Ctx, client: &Client, body: Bytes) -> Result<IngestAnswer, PostError> {
    let url = ctx
        .endpoint("/api/v1/ingest")
        .map_err(|e| PostError::Fatal(format!("{e:#}")))?;
    let mut req = client
        .post(url)
        .bearer_auth(&ctx.args.ingest_token)
        .header("Content-Type", "application/x-ndjson");
    if ctx.args.gzip {
        req = req.header("Content-Encoding", "gzip");
    }
    let resp = req
        .body(body)
        .send()
        .await
        .map_err(|e| PostError::Transient(format!("ingest request: {e}")))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| PostError::Transient(format!("ingest answer: {e}")))?;
    if !status.is_success() {
        let msg = format!("ingest: http {status}: {}", truncate(&text, 300));
        return Err(
            if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                PostError::Transient(msg)
            } else {
                PostError::Fatal(msg)
            },
        );
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        PostError::Fatal(format!(
            "ingest answer is not JSON ({e}): {}",
            truncate(&text, 300)
        ))
    })?;
    let accepted = v["accepted"].as_u64().ok_or_else(|| {
        PostError::Fatal(format!(
            "ingest answer has no accepted count: {}",
            truncate(&text, 300)
        ))
    })?;
    // The server lists at most 100 rejected lines; `rejected_count` is the
    // whole count when present.
    let rejected = v["rejected"].as_array();
    Ok(IngestAnswer {
        accepted,
        rejected: v["rejected_count"]
            .as_u64()
            .unwrap_or_else(|| rejected.map_or(0, |r| r.len() as u64)),
        first_rejection: rejected
            .and_then(|r| r.first())
            .map(|r| truncate(&r.to_string(), 200)),
    })
}

/// Sends one body with up to 3 retries on transient errors.
async fn post_with_retries(
    ctx: &Ctx,
    client: &Client,
    body: &Bytes,
    retries: &mut u64,
) -> Result<(IngestAnswer, Duration), String> {
    let mut attempt = 0u32;
    loop {
        let t0 = Instant::now();
        match post_ingest(ctx, client, body.clone()).await {
            Ok(a) => return Ok((a, t0.elapsed())),
            Err(PostError::Fatal(e)) => return Err(e),
            Err(PostError::Transient(e)) => {
                attempt += 1;
                if attempt > 3 {
                    return Err(e);
                }
                *retries += 1;
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
        }
    }
}

// ---------------------------------------------------------------- baseline

struct Baseline {
    requests: u64,
    errors: u64,
    secs: f64,
    latency: Samples,
}

async fn baseline(ctx: Arc<Ctx>) -> Result<Baseline> {
    let dur = Duration::from_secs_f64(ctx.args.baseline_secs.max(0.1));
    let url = ctx.endpoint("/healthz")?;
    let start = Instant::now();
    let end = start + dur;
    let mut tasks = Vec::new();
    for _ in 0..ctx.args.connections.max(1) {
        let client = ctx.client()?;
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Samples::default();
            let mut errors = 0u64;
            while Instant::now() < end {
                let t0 = Instant::now();
                let ok = match client.get(url.clone()).send().await {
                    Ok(r) => {
                        let ok = r.status().is_success();
                        ok && r.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                if ok {
                    lat.push(t0.elapsed());
                } else {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            (lat, errors)
        }));
    }
    let mut latency = Samples::default();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.context("baseline task")?;
        latency.extend(l);
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(Baseline {
        requests: latency.len() as u64,
        errors,
        secs,
        latency,
    })
}

// ------------------------------------------------------------------ ingest

#[derive(Default)]
struct WorkerResult {
    accepted: u64,
    rejected: u64,
    requests: u64,
    failed_batches: u64,
    failed_events: u64,
    retries: u64,
    raw_bytes: u64,
    wire_bytes: u64,
    latency: Samples,
    /// (time of the ack since the start, events accepted) per request.
    acks: Vec<(Duration, u64)>,
    last_ack: Option<Instant>,
    final_ack: Option<Instant>,
    counts: Counts,
    counts_exact: bool,
    first_error: Option<String>,
    first_rejection: Option<String>,
}

struct Ingest {
    result: WorkerResult,
    wall: Duration,
    truncated: bool,
    aborted: bool,
}

async fn ingest(ctx: Arc<Ctx>, data: Arc<Generated>, progress: Arc<AtomicU64>) -> Result<Ingest> {
    let next = Arc::new(AtomicUsize::new(0));
    let abort = Arc::new(AtomicBool::new(false));
    let truncated = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(ctx.args.max_ingest_secs);
    let last_index = data.batches.len().saturating_sub(1);
    let mut tasks = Vec::new();
    for _ in 0..ctx.args.connections.max(1) {
        let client = ctx.client()?;
        let (ctx, data, next, abort, truncated, progress) = (
            ctx.clone(),
            data.clone(),
            next.clone(),
            abort.clone(),
            truncated.clone(),
            progress.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut r = WorkerResult {
                counts_exact: true,
                ..Default::default()
            };
            let mut consecutive_failures = 0;
            loop {
                if abort.load(Ordering::Relaxed) {
                    break;
                }
                if Instant::now() >= deadline {
                    truncated.store(true, Ordering::Relaxed);
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = data.batches.get(i) else {
                    break;
                };
                r.requests += 1;
                match post_with_retries(&ctx, &client, &batch.body, &mut r.retries).await {
                    Ok((a, lat)) => {
                        consecutive_failures = 0;
                        let now = Instant::now();
                        r.latency.push(lat);
                        r.accepted += a.accepted;
                        r.rejected += a.rejected;
                        r.raw_bytes += batch.raw_bytes;
                        r.wire_bytes += batch.body.len() as u64;
                        r.last_ack = Some(now);
                        r.acks.push((now - start, a.accepted));
                        if i == last_index {
                            r.final_ack = Some(now);
                        }
                        if a.accepted == batch.events {
                            r.counts.add(&batch.counts);
                        } else {
                            r.counts_exact = false;
                        }
                        if r.first_rejection.is_none() {
                            r.first_rejection = a.first_rejection;
                        }
                        progress.fetch_add(a.accepted, Ordering::Relaxed);
                    }
                    Err(e) => {
                        r.failed_batches += 1;
                        r.failed_events += batch.events;
                        r.counts_exact = false;
                        if r.first_error.is_none() {
                            r.first_error = Some(e);
                        }
                        consecutive_failures += 1;
                        if consecutive_failures >= 10 {
                            abort.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
            r
        }));
    }
    let mut total = WorkerResult {
        counts_exact: true,
        ..Default::default()
    };
    for t in tasks {
        let r = t.await.context("ingest task")?;
        total.accepted += r.accepted;
        total.rejected += r.rejected;
        total.requests += r.requests;
        total.failed_batches += r.failed_batches;
        total.failed_events += r.failed_events;
        total.retries += r.retries;
        total.raw_bytes += r.raw_bytes;
        total.wire_bytes += r.wire_bytes;
        total.latency.extend(r.latency);
        total.acks.extend(r.acks);
        total.last_ack = total.last_ack.max(r.last_ack);
        total.final_ack = total.final_ack.or(r.final_ack);
        total.counts.add(&r.counts);
        total.counts_exact &= r.counts_exact;
        total.first_error = total.first_error.or(r.first_error);
        total.first_rejection = total.first_rejection.or(r.first_rejection);
    }
    let wall = total.last_ack.unwrap_or_else(Instant::now) - start;
    Ok(Ingest {
        result: total,
        wall,
        truncated: truncated.load(Ordering::Relaxed),
        aborted: abort.load(Ordering::Relaxed),
    })
}

/// Freshness under load: markers sent during the ingest run.
struct Freshness {
    latency: Samples,
    timeouts: u64,
    errors: u64,
    first_error: Option<String>,
}

/// Sends a marker event every interval while `stop` is false, and polls
/// (every `--poll-ms`, one search for all markers still pending) until each
/// is searchable, recording the time from its acknowledgement. Markers are
/// sent on schedule even while earlier ones are still pending, so a slow
/// refresh does not thin out the samples.
async fn freshness_sampler(ctx: Arc<Ctx>, stop: Arc<AtomicBool>) -> Result<Freshness> {
    use std::sync::Mutex;
    let ingest_client = ctx.client()?;
    let search_client = ctx.client()?;
    let timeout = Duration::from_secs(ctx.args.fresh_timeout_secs);
    let pending: Mutex<Vec<(String, Instant)>> = Mutex::new(Vec::new());
    let sender_done = AtomicBool::new(false);
    let out = Mutex::new(Freshness {
        latency: Samples::default(),
        timeouts: 0,
        errors: 0,
        first_error: None,
    });
    let fail = |e: String, timed_out: bool| {
        if let Ok(mut o) = out.lock() {
            if timed_out {
                o.timeouts += 1;
            } else {
                o.errors += 1;
            }
            o.first_error.get_or_insert(e);
        }
    };

    let sender = async {
        let mut tick =
            tokio::time::interval(Duration::from_millis(ctx.args.marker_interval_ms.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut k = 0u64;
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            if stop.load(Ordering::Relaxed) {
                break;
            }
            k += 1;
            let marker = new_marker();
            let (body, counts) = ctx.marker_body(&marker, (1 << 60) + k);
            match post_ingest(&ctx, &ingest_client, body).await {
                Ok(a) if a.accepted == 1 => {
                    let acked = Instant::now();
                    ctx.extra_accepted.fetch_add(1, Ordering::Relaxed);
                    ctx.extra_counts.add(&counts);
                    if let Ok(mut p) = pending.lock() {
                        p.push((marker, acked));
                    }
                }
                Ok(a) => fail(
                    format!("marker not accepted: {:?}", a.first_rejection),
                    false,
                ),
                Err(PostError::Fatal(e) | PostError::Transient(e)) => fail(e, false),
            }
        }
        sender_done.store(true, Ordering::Relaxed);
    };

    let poller = async {
        loop {
            let wanted: Vec<String> = pending
                .lock()
                .map(|p| p.iter().map(|(m, _)| m.clone()).collect())
                .unwrap_or_default();
            if wanted.is_empty() {
                if sender_done.load(Ordering::Relaxed) {
                    break;
                }
            } else {
                let q = wanted
                    .iter()
                    .map(|m| marker_query(m))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                let answer = ctx.search(&search_client, &q, wanted.len()).await;
                let now = Instant::now();
                let mut p = match pending.lock() {
                    Ok(p) => p,
                    Err(_) => break,
                };
                match answer {
                    Ok(a) => {
                        p.retain(|(m, acked)| {
                            if a.markers.iter().any(|seen| seen == m) {
                                if let Ok(mut o) = out.lock() {
                                    o.latency.push(now - *acked);
                                }
                                false
                            } else {
                                true
                            }
                        });
                    }
                    Err(e) => {
                        if let Ok(mut o) = out.lock() {
                            o.first_error.get_or_insert(format!("{e:#}"));
                        }
                    }
                }
                p.retain(|(m, acked)| {
                    if now - *acked > timeout {
                        fail(format!("marker {m} not searchable after {timeout:?}"), true);
                        false
                    } else {
                        true
                    }
                });
            }
            tokio::time::sleep(Duration::from_millis(ctx.args.poll_ms)).await;
        }
    };

    tokio::join!(sender, poller);
    out.into_inner()
        .map_err(|_| anyhow::anyhow!("freshness sampler state poisoned"))
}

fn new_marker() -> String {
    format!("m{:016x}", rand::thread_rng().gen::<u64>())
}

fn marker_query(marker: &str) -> String {
    format!("bench.marker:{marker}")
}

// ------------------------------------------------------------------ search

struct QueryResult {
    label: &'static str,
    query: String,
    latency: Samples,
    first: Option<Duration>,
    total: Option<u64>,
    returned: usize,
    expected: Option<u64>,
    took_ms: Samples,
    error: Option<String>,
}

async fn run_query(
    ctx: &Ctx,
    client: &Client,
    label: &'static str,
    query: &str,
    expected: Option<u64>,
) -> QueryResult {
    let mut r = QueryResult {
        label,
        query: query.to_string(),
        latency: Samples::default(),
        first: None,
        total: None,
        returned: 0,
        expected,
        took_ms: Samples::default(),
        error: None,
    };
    for i in 0..ctx.args.search_iters.max(1) {
        let t0 = Instant::now();
        match ctx.search(client, query, ctx.args.search_limit).await {
            Ok(a) => {
                let d = t0.elapsed();
                r.latency.push(d);
                if i == 0 {
                    r.first = Some(d);
                }
                r.total = Some(a.total);
                r.returned = a.returned;
                if let Some(t) = a.took_ms {
                    r.took_ms.push(Duration::from_secs_f64(t.max(0.0) / 1e3));
                }
            }
            Err(e) => {
                r.error = Some(format!("{e:#}"));
                break;
            }
        }
    }
    r
}

struct StatsResult {
    latency: Samples,
    sample: Option<String>,
    error: Option<String>,
}

async fn run_stats(ctx: &Ctx, client: &Client, q: &str, field: &str) -> Result<StatsResult> {
    let url = ctx.endpoint("/api/v1/events/stats")?;
    let mut out = StatsResult {
        latency: Samples::default(),
        sample: None,
        error: None,
    };
    for _ in 0..ctx.args.search_iters.max(1) {
        let mut params: Vec<(&str, String)> = vec![("q", q.into()), ("field", field.into())];
        if !ctx.args.no_time_range {
            let from = ctx.first_time - ChronoDuration::hours(1);
            let to = Utc::now() + ChronoDuration::hours(1);
            params.push(("from", from.to_rfc3339_opts(SecondsFormat::Secs, true)));
            params.push(("to", to.to_rfc3339_opts(SecondsFormat::Secs, true)));
        }
        let t0 = Instant::now();
        let resp = client
            .get(url.clone())
            .bearer_auth(&ctx.args.read_token)
            .query(&params)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                out.error = Some(format!("stats: {e}"));
                break;
            }
        };
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            out.error = Some(format!("stats: http {status}: {}", truncate(&text, 200)));
            break;
        }
        out.latency.push(t0.elapsed());
        out.sample.get_or_insert_with(|| describe_stats(&text));
    }
    Ok(out)
}

/// `total N; top: v1 n1, v2 n2, v3 n3` from a stats answer
/// (`{"total":N,"values":[{"value":..,"count":..}]}`), else the raw text.
fn describe_stats(text: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return truncate(text, 160);
    };
    let Some(values) = v["values"].as_array() else {
        return truncate(text, 160);
    };
    let top = values
        .iter()
        .take(3)
        .map(|x| {
            let value = match &x["value"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!(
                "{value} {}",
                x["count"].as_u64().map_or("?".into(), fmt_int)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    match total_of(&v) {
        Some(t) => format!("total {}; top: {top}", fmt_int(t)),
        None => format!("top: {top}"),
    }
}

// --------------------------------------------------------------- main flow

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

async fn run(args: RunArgs) -> Result<()> {
    let base = Url::parse(&args.url).with_context(|| format!("parsing --url {:?}", args.url))?;
    if !is_loopback(&base) {
        bail!(
            "refusing to load {}: only loopback addresses are allowed",
            args.url
        );
    }
    if args.batch == 0 || args.events == 0 || args.connections == 0 {
        bail!("--events, --batch and --connections must be positive");
    }
    let run_id = format!("r{:08x}", rand::thread_rng().gen::<u32>());
    let final_marker = new_marker();

    // Pre-generate every body before timing anything.
    eprintln!(
        "generating {} events in batches of {}...",
        fmt_int(args.events),
        fmt_int(args.batch as u64)
    );
    let t_gen = Instant::now();
    let gen_cfg = GenConfig {
        events: args.events,
        batch: args.batch,
        run_id: run_id.clone(),
        shape: if args.flat {
            Shape::Flat
        } else {
            Shape::Nested
        },
        gzip: args.gzip,
        seed: args.seed,
        spread: ChronoDuration::minutes(15),
    };
    let data = Arc::new(gen::generate(&gen_cfg, &final_marker));
    let gen_secs = t_gen.elapsed().as_secs_f64();
    let avg_event = data.raw_bytes as f64 / args.events as f64;

    let ctx = Arc::new(Ctx {
        args: args.clone(),
        base,
        run_id,
        first_time: data.first_time,
        extra_accepted: AtomicU64::new(0),
        extra_counts: Default::default(),
    });

    // Probe: the server answers, and the tokens work, before timing.
    let probe = ctx.client()?;
    let health = probe
        .get(ctx.endpoint("/healthz")?)
        .send()
        .await
        .context("GET /healthz")?;
    if !health.status().is_success() {
        bail!("GET /healthz: http {}", health.status());
    }
    let probe_marker = new_marker();
    let (body, counts) = ctx.marker_body(&probe_marker, 1 << 61);
    match post_ingest(&ctx, &probe, body).await {
        Ok(a) if a.accepted == 1 => {
            ctx.extra_accepted.fetch_add(1, Ordering::Relaxed);
            ctx.extra_counts.add(&counts);
        }
        Ok(a) => bail!(
            "probe event not accepted: accepted {}, rejected {:?}",
            a.accepted,
            a.first_rejection
        ),
        Err(PostError::Fatal(e) | PostError::Transient(e)) => bail!("probe ingest failed: {e}"),
    }
    let probe_search = ctx
        .search(&probe, &marker_query(&probe_marker), 1)
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:#}"));
    if let Err(e) = &probe_search {
        eprintln!("warning: probe search failed: {e}");
    }

    // 1. Baseline.
    eprintln!("baseline: GET /healthz for {:.1} s...", args.baseline_secs);
    let mut base_res = baseline(ctx.clone()).await?;

    // 2. Ingest, with the freshness sampler alongside.
    eprintln!(
        "ingest: {} events over {} connections...",
        fmt_int(args.events),
        args.connections
    );
    let progress = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(freshness_sampler(ctx.clone(), stop.clone()));
    let reporter = {
        let (progress, stop) = (progress.clone(), stop.clone());
        let total = args.events;
        tokio::spawn(async move {
            let t0 = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tick.tick().await;
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let n = progress.load(Ordering::Relaxed);
                eprintln!(
                    "  {} / {} events acknowledged ({:.0} events/s)",
                    fmt_int(n),
                    fmt_int(total),
                    n as f64 / t0.elapsed().as_secs_f64()
                );
            }
        })
    };
    let mut ing = ingest(ctx.clone(), data.clone(), progress).await?;
    stop.store(true, Ordering::Relaxed);
    reporter.abort();

    // 3. Freshness after the last acknowledgement.
    let search_client = ctx.client()?;
    let fresh_final = match ing.result.final_ack {
        Some(final_ack) => ctx
            .wait_visible(
                &search_client,
                &marker_query(&final_marker),
                1,
                Duration::from_secs(args.fresh_timeout_secs),
            )
            .await
            .map(|seen| {
                (
                    seen - final_ack,
                    seen - ing.result.last_ack.unwrap_or(final_ack),
                )
            })
            .map_err(|e| format!("{e:#}")),
        None => Err("the batch with the final marker was not acknowledged".to_string()),
    };
    let mut fresh = match tokio::time::timeout(
        Duration::from_secs(args.fresh_timeout_secs + args.request_timeout_secs + 5),
        sampler,
    )
    .await
    {
        Ok(Ok(Ok(f))) => f,
        Ok(Ok(Err(e))) => return Err(e),
        Ok(Err(e)) => bail!("freshness sampler: {e}"),
        Err(_) => bail!("freshness sampler did not stop"),
    };

    // 4. All acknowledged events searchable.
    let expected_all = ing.result.accepted + ctx.extra_accepted.load(Ordering::Relaxed);
    let all_visible = wait_all(&ctx, &search_client, expected_all, ing.result.last_ack).await;

    // 5. Search latency.
    eprintln!("search: {} runs per query...", args.search_iters);
    let mut expected = ing.result.counts;
    expected.add(&ctx.extra_counts.get());
    let exact = ing.result.counts_exact && ing.result.rejected == 0;
    let mut queries = Vec::new();
    for (i, (label, q)) in QUERIES.iter().enumerate() {
        let exp = exact.then_some(expected.0[i]);
        queries.push(run_query(&ctx, &search_client, label, q, exp).await);
    }
    let all_q = format!("bench.run:{}", ctx.run_id);
    queries.push(
        run_query(
            &ctx,
            &search_client,
            "all (run id)",
            &all_q,
            Some(expected_all),
        )
        .await,
    );
    let mut stats_res =
        run_stats(&ctx, &search_client, "event.outcome:failure", "host.name").await?;

    // ---------------------------------------------------------- report
    let mut lat = std::mem::take(&mut ing.result.latency);
    let requests_ok = lat.len() as u64;
    let r = &ing.result;
    let wall = ing.wall.as_secs_f64().max(1e-9);
    let eps = r.accepted as f64 / wall;
    let mbps = r.raw_bytes as f64 / 1e6 / wall;
    let wire_mbps = r.wire_bytes as f64 / 1e6 / wall;
    let req_rate = requests_ok as f64 / wall;
    let quarters = rate_by_slice(&r.acks, ing.wall, 4);
    let (a50, a99, amax) = lat.summary_ms();
    let base_rps = base_res.requests as f64 / base_res.secs.max(1e-9);
    let (b50, b99, bmax) = base_res.latency.summary_ms();
    let (f50, _, fmax) = fresh.latency.summary_ms();

    println!();
    println!("== Vigil ingest + search benchmark ==");
    println!("server              {}", args.url);
    println!(
        "workload            {} events, {} per request, {} connections, {} B/event avg, {} bodies{}",
        fmt_int(args.events),
        fmt_int(args.batch as u64),
        args.connections,
        avg_event.round(),
        if args.flat { "flat" } else { "nested" },
        if args.gzip { ", gzip" } else { "" }
    );
    println!(
        "generated           {:.1} MB raw ({:.1} MB on the wire) in {:.1} s, before timing",
        data.raw_bytes as f64 / 1e6,
        data.wire_bytes as f64 / 1e6,
        gen_secs
    );
    println!();
    println!(
        "-- baseline: GET /healthz, {} connections, {:.1} s",
        args.connections, base_res.secs
    );
    println!(
        "round trips         {:>12} req/s   p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} errors)",
        fmt_f(base_rps),
        b50,
        b99,
        bmax,
        base_res.errors
    );
    println!();
    println!("-- ingest: POST /api/v1/ingest (ack = durable)");
    println!(
        "accepted            {} events in {:.2} s ({} requests, {} rejected lines, {} failed requests, {} retries){}",
        fmt_int(r.accepted),
        wall,
        fmt_int(requests_ok),
        r.rejected,
        r.failed_batches,
        r.retries,
        if ing.truncated {
            "  PARTIAL: --max-ingest-secs reached"
        } else if ing.aborted {
            "  ABORTED: too many failures"
        } else {
            ""
        }
    );
    println!(
        "throughput          {:>12} events/s   {:.1} MB/s raw   {:.1} MB/s wire   {:.1} req/s",
        fmt_f(eps),
        mbps,
        wire_mbps,
        req_rate
    );
    println!(
        "by quarter of run   {} events/s",
        quarters
            .iter()
            .map(|&q| fmt_f(q))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    println!(
        "ack latency         p50 {a50:.1} ms   p99 {a99:.1} ms   max {amax:.1} ms  (per request)"
    );
    println!(
        "vs target           {:.2}x of {} events/s",
        eps / args.target_eps,
        fmt_f(args.target_eps)
    );
    println!(
        "vs baseline         {:.2} events acknowledged per /healthz round trip ({:.4} ingest requests per round trip)",
        eps / base_rps.max(1e-9),
        req_rate / base_rps.max(1e-9)
    );
    if let Some(e) = &r.first_error {
        println!("first error         {e}");
    }
    if let Some(e) = &r.first_rejection {
        println!("first rejection     {e}");
    }
    println!();
    println!(
        "-- freshness: acknowledgement -> searchable (poll every {} ms)",
        args.poll_ms
    );
    match &fresh_final {
        Ok((own, last)) => println!(
            "final marker        searchable {:.3} s after its ack ({:.3} s after the last ack)",
            own.as_secs_f64(),
            last.as_secs_f64()
        ),
        Err(e) => println!("final marker        NOT SEEN: {e}"),
    }
    match &all_visible {
        AllVisible::Done { after, total } => println!(
            "all events          {} searchable {:.3} s after the last ack",
            fmt_int(*total),
            after.as_secs_f64()
        ),
        AllVisible::Short { total, reason } => println!(
            "all events          only {} of {} found: {reason}",
            fmt_int(*total),
            fmt_int(expected_all)
        ),
    }
    println!(
        "during the run      {} markers: p50 {:.3} s  max {:.3} s  ({} timed out, {} failed)",
        fresh.latency.len(),
        f50 / 1e3,
        fmax / 1e3,
        fresh.timeouts,
        fresh.errors
    );
    if let Some(e) = &fresh.first_error {
        println!("marker error        {e}");
    }
    println!();
    println!(
        "-- search: GET /api/v1/events, {} runs each, limit {}",
        args.search_iters, args.search_limit
    );
    let w = queries
        .iter()
        .map(|q| q.query.len())
        .max()
        .unwrap_or(0)
        .max(34);
    println!(
        "{:<13} {:<w$} {:>8} {:>8} {:>8} {:>8} {:>9} {:>11} {:>11}",
        "kind", "query", "first ms", "p50 ms", "p99 ms", "max ms", "server ms", "total", "expected"
    );
    let mut query_json = Vec::new();
    let mut mismatches = 0;
    for q in &mut queries {
        let (p50, p99, max) = q.latency.summary_ms();
        let (srv50, _, _) = q.took_ms.summary_ms();
        let ok = match (q.total, q.expected) {
            (Some(t), Some(e)) => t == e,
            _ => true,
        };
        if !ok {
            mismatches += 1;
        }
        match &q.error {
            Some(e) => println!("{:<13} {:<w$} ERROR: {e}", q.label, q.query),
            None => println!(
                "{:<13} {:<w$} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9} {:>11} {:>11}{}",
                q.label,
                q.query,
                q.first.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
                p50,
                p99,
                max,
                if srv50.is_nan() {
                    "-".to_string()
                } else {
                    format!("{srv50:.1}")
                },
                q.total.map_or("-".into(), fmt_int),
                q.expected.map_or("?".into(), fmt_int),
                if ok { "" } else { "  MISMATCH" }
            ),
        }
        query_json.push(json!({
            "kind": q.label,
            "q": q.query,
            "p50_ms": num(p50),
            "p99_ms": num(p99),
            "max_ms": num(max),
            "server_p50_ms": num(srv50),
            "total": q.total,
            "expected": q.expected,
            "returned": q.returned,
            "error": q.error,
        }));
    }
    let (s50, s99, smax) = stats_res.latency.summary_ms();
    match &stats_res.error {
        Some(e) => println!(
            "{:<13} {:<w$} ERROR: {e}",
            "stats", "event.outcome:failure by host.name"
        ),
        None => println!(
            "{:<13} {:<w$} {:>8} {:>8.1} {:>8.1} {:>8.1}   {}",
            "stats",
            "event.outcome:failure by host.name",
            "",
            s50,
            s99,
            smax,
            stats_res.sample.as_deref().unwrap_or("")
        ),
    }
    if mismatches > 0 {
        println!(
            "WARNING: {mismatches} queries returned a total different from the generated data"
        );
    }

    let summary = json!({
        "bench": "vigil-ingest",
        "events": args.events,
        "batch": args.batch,
        "connections": args.connections,
        "gzip": args.gzip,
        "avg_event_bytes": avg_event.round(),
        "accepted": r.accepted,
        "rejected": r.rejected,
        "failed_requests": r.failed_batches,
        "partial": ing.truncated || ing.aborted,
        "ingest_secs": round3(wall),
        "ingest_eps": eps.round(),
        "ingest_mb_s": round3(mbps),
        "ingest_eps_by_quarter": quarters.iter().map(|q| q.round()).collect::<Vec<_>>(),
        "ack_p50_ms": num(a50),
        "ack_p99_ms": num(a99),
        "ack_max_ms": num(amax),
        "target_eps": args.target_eps,
        "ratio_to_target": round3(eps / args.target_eps),
        "healthz_rps": base_rps.round(),
        "healthz_p50_ms": num(b50),
        "events_per_healthz_rtt": round3(eps / base_rps.max(1e-9)),
        "fresh_final_s": fresh_final.as_ref().ok().map(|(d, _)| round3(d.as_secs_f64())),
        "fresh_all_s": match &all_visible { AllVisible::Done { after, .. } => Some(round3(after.as_secs_f64())), _ => None },
        "fresh_run_p50_s": num(f50 / 1e3),
        "fresh_run_max_s": num(fmax / 1e3),
        "fresh_run_samples": fresh.latency.len(),
        "search_mismatches": mismatches,
        "search": query_json,
        "stats_p50_ms": num(s50),
    });
    let line = serde_json::to_string(&summary)?;
    println!();
    println!("{line}");
    if let Some(path) = &args.json_out {
        std::fs::write(path, format!("{line}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

enum AllVisible {
    Done { after: Duration, total: u64 },
    Short { total: u64, reason: String },
}

/// Polls the run's total until it reaches `expected`; gives up at the
/// timeout or when the total stops moving for 15 s.
async fn wait_all(
    ctx: &Ctx,
    client: &Client,
    expected: u64,
    last_ack: Option<Instant>,
) -> AllVisible {
    let q = format!("bench.run:{}", ctx.run_id);
    let deadline = Instant::now() + Duration::from_secs(ctx.args.visible_timeout_secs);
    let mut last_total = 0;
    let mut last_change = Instant::now();
    loop {
        match ctx.search(client, &q, 1).await {
            Ok(a) if a.total >= expected => {
                let now = Instant::now();
                return AllVisible::Done {
                    after: now - last_ack.unwrap_or(now),
                    total: a.total,
                };
            }
            Ok(a) => {
                if a.total != last_total {
                    last_total = a.total;
                    last_change = Instant::now();
                } else if last_change.elapsed() > Duration::from_secs(15) {
                    return AllVisible::Short {
                        total: a.total,
                        reason: "total stopped growing for 15 s (capped or lost?)".into(),
                    };
                }
            }
            Err(e) => {
                return AllVisible::Short {
                    total: last_total,
                    reason: format!("{e:#}"),
                }
            }
        }
        if Instant::now() >= deadline {
            return AllVisible::Short {
                total: last_total,
                reason: format!("timeout after {} s", ctx.args.visible_timeout_secs),
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Events/s acknowledged in each of `n` equal slices of the run.
fn rate_by_slice(acks: &[(Duration, u64)], wall: Duration, n: usize) -> Vec<f64> {
    let slice = wall.as_secs_f64() / n as f64;
    if slice <= 0.0 {
        return vec![0.0; n];
    }
    let mut sums = vec![0u64; n];
    for &(at, accepted) in acks {
        let i = ((at.as_secs_f64() / slice) as usize).min(n - 1);
        sums[i] += accepted;
    }
    sums.into_iter().map(|s| s as f64 / slice).collect()
}

fn num(x: f64) -> Value {
    if x.is_finite() {
        json!(round3(x))
    } else {
        Value::Null
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn fmt_int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_f(x: f64) -> String {
    if x.is_finite() && x >= 0.0 {
        fmt_int(x.round() as u64)
    } else {
        "-".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(fmt_int(0), "0");
        assert_eq!(fmt_int(999), "999");
        assert_eq!(fmt_int(1000), "1,000");
        assert_eq!(fmt_int(2_000_000), "2,000,000");
    }

    #[test]
    fn only_loopback_targets() {
        for ok in ["http://127.0.0.1:1", "http://localhost:2", "http://[::1]:3"] {
            assert!(is_loopback(&Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:1",
            "http://example.com",
            "http://192.168.1.1",
        ] {
            assert!(!is_loopback(&Url::parse(bad).unwrap()), "{bad}");
        }
    }

    #[test]
    fn stats_description() {
        let text = r#"{"field":"host.name","total":1200,"values":[{"value":"host-1","count":30},{"value":7,"count":2}],"took_ms":1}"#;
        assert_eq!(describe_stats(text), "total 1,200; top: host-1 30, 7 2");
        assert_eq!(describe_stats("oops"), "oops");
    }

    #[test]
    fn rates_by_slice() {
        let ms = Duration::from_millis;
        let acks = [(ms(100), 10), (ms(900), 20), (ms(1000), 30), (ms(1999), 40)];
        assert_eq!(rate_by_slice(&acks, ms(2000), 2), vec![30.0, 70.0]);
        assert_eq!(rate_by_slice(&[], Duration::ZERO, 2), vec![0.0, 0.0]);
    }

    #[test]
    fn total_in_both_shapes() {
        assert_eq!(total_of(&json!({"total": 5})), Some(5));
        assert_eq!(total_of(&json!({"total": {"value": 7}})), Some(7));
        assert_eq!(total_of(&json!({})), None);
    }
}
