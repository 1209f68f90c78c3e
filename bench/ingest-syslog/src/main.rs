//! Load tool for Vigil's syslog benchmark: replays a realistic mix (sshd,
//! UFW/iptables, Cisco ASA, nginx, Windows JSON) over TCP with RFC 6587
//! octet counting into a running Vigil syslog listener, and measures how
//! fast it is sent, how soon it is searchable and how soon attacks in it
//! alert. `bench/ingest-syslog.sh` starts a server and runs it; see
//! `bench/README.md` for what each figure means.

mod gen;
mod stats;

use anyhow::{bail, Context, Result};
use clap::Parser;
use gen::{Chunk, Gen, ProbeKind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Client, StatusCode, Url};
use serde_json::{json, Value};
use stats::Latencies;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Parser, Clone)]
#[command(
    name = "vigil-bench-ingest-syslog",
    about = "Vigil syslog ingest + detection benchmark: octet-counted TCP load, time to searchable, time to alert"
)]
struct Args {
    /// Syslog TCP listener of the server (loopback only).
    #[arg(long, default_value = "127.0.0.1:6514")]
    addr: SocketAddr,
    /// Base URL of the server's HTTP API (loopback only); without it only
    /// the sending rate is measured.
    #[arg(long)]
    api: Option<String>,
    /// Bearer token able to read the tenant's events and alerts.
    #[arg(long, env = "VIGIL_BENCH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// File holding the token (e.g. DATA/admin.token).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Tenant the syslog listener files events under.
    #[arg(long, default_value = "bench")]
    tenant: String,
    /// Syslog messages to send (probes may add a few more).
    #[arg(long, default_value_t = 500_000)]
    events: u64,
    /// Concurrent TCP connections.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Messages per second over all connections; 0: as fast as possible.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// One freshness marker (`bench_marker=<run>m<n>`) every this many messages.
    #[arg(long, default_value_t = 1000)]
    marker_every: u64,
    /// One alert probe (an attack from host `benchhost-<run>-<n>`) every this
    /// many messages; 0: none.
    #[arg(long, default_value_t = 10_000)]
    probe_every: u64,
    /// What the probes are.
    #[arg(long, value_enum, default_value = "mixed")]
    probe_kind: ProbeKind,
    /// Failed passwords in an ssh probe (before the accepted one).
    #[arg(long, default_value_t = 8)]
    brute_force_attempts: u32,
    /// Search query finding one marker; `{marker}` is replaced by
    /// `bench_marker=<run>m<n>`.
    #[arg(long, default_value = "\"{marker}\"")]
    marker_query: String,
    /// Search query matching every message of the run (the data directory
    /// is fresh); its total must reach what was sent.
    #[arg(long, default_value = "")]
    total_query: String,
    /// Poll interval of the search and alert APIs, ms.
    #[arg(long, default_value_t = 100)]
    poll_ms: u64,
    /// Give up on a marker or probe after this many seconds.
    #[arg(long, default_value_t = 120)]
    wait_timeout_secs: u64,
    /// Give up waiting for every message to be searchable after this many
    /// seconds without progress.
    #[arg(long, default_value_t = 30)]
    stall_timeout_secs: u64,
    /// Messages per write on each connection (fewer when --rate is low).
    #[arg(long, default_value_t = 200)]
    chunk_events: u64,
    /// Receive with a built-in sink on 127.0.0.1 instead of a server (no
    /// API): the generator's own ceiling on this machine.
    #[arg(long)]
    sink: bool,
    /// The server's pid: its CPU time (/proc/PID/stat) is sampled at the
    /// first send, when everything is searchable and at the end.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Tokio worker threads of this tool.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Also write the JSON summary to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    rt.block_on(run(args))
}

/// What was sent when: per marker and per probe, the instant its write
/// returned.
#[derive(Default)]
struct Sent {
    markers: BTreeMap<u32, Instant>,
    probes: BTreeMap<u32, Instant>,
    last_write: Option<Instant>,
}

struct Plan {
    conns: Vec<Vec<Chunk>>,
    events: u64,
    bytes: u64,
    markers: u32,
    probes: u32,
}

fn plan(args: &Args, run: &str) -> Plan {
    let conns_n = args.connections.max(1);
    let per_conn_rate = args.rate / conns_n as f64;
    // Pacing works per write: keep about 50 writes a second per connection.
    let chunk_events = if args.rate > 0.0 {
        ((per_conn_rate / 50.0) as u64).clamp(1, args.chunk_events.max(1))
    } else {
        args.chunk_events.max(1)
    };
    let mut g = Gen::new(
        StdRng::seed_from_u64(args.seed),
        run,
        args.brute_force_attempts.max(1),
    );
    let mut conns: Vec<Vec<Chunk>> = (0..conns_n).map(|_| Vec::new()).collect();
    let (mut events, mut bytes, mut markers, mut probes) = (0u64, 0u64, 0u32, 0u32);
    let mut next_conn = 0;
    // The next message index that is a marker / a probe.
    let mut next_marker = args.marker_every / 2;
    let mut next_probe = args.probe_every.saturating_sub(1);
    let started = Instant::now();
    while events < args.events {
        let mut chunk = Chunk::default();
        while chunk.events < chunk_events && events + chunk.events < args.events {
            let i = events + chunk.events;
            if args.marker_every > 0 && i >= next_marker {
                g.marker_event(markers, &mut chunk);
                markers += 1;
                next_marker += args.marker_every;
            } else if args.probe_every > 0 && i >= next_probe {
                g.probe(probes, args.probe_kind, &mut chunk);
                probes += 1;
                next_probe += args.probe_every;
            } else {
                g.event(&mut chunk);
            }
        }
        // Timestamps follow the clock once generation takes over a second.
        if started.elapsed() > Duration::from_secs(1) {
            g.now = chrono::Utc::now();
        }
        events += chunk.events;
        bytes += chunk.bytes.len() as u64;
        conns[next_conn].push(chunk);
        next_conn = (next_conn + 1) % conns_n;
    }
    Plan {
        conns,
        events,
        bytes,
        markers,
        probes,
    }
}

fn loopback_only(args: &Args) -> Result<Option<Url>> {
    if !args.addr.ip().is_loopback() {
        bail!(
            "--addr {} is not a loopback address; this tool only loads 127.0.0.1/::1",
            args.addr
        );
    }
    let Some(api) = &args.api else {
        return Ok(None);
    };
    let url = Url::parse(api).with_context(|| format!("--api {api:?} is not a URL"))?;
    let host = url.host_str().unwrap_or("");
    let loopback = host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false);
    if !loopback {
        bail!("--api {api} is not a loopback URL; this tool only loads 127.0.0.1/::1");
    }
    Ok(Some(url))
}

async fn run(args: Args) -> Result<()> {
    let api = loopback_only(&args)?;
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => Some(t.trim().to_string()),
        (None, Some(f)) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading the token from {}", f.display()))?
                .trim()
                .to_string(),
        ),
        (None, None) => None,
    };
    if api.is_some() && token.is_none() && !args.sink {
        bail!("--api needs --token or --token-file");
    }
    let run_id = format!("r{:06x}", rand::thread_rng().gen_range(0..0xff_ffffu32));

    eprintln!(
        "generating {} messages (seed {})...",
        args.events, args.seed
    );
    let t = Instant::now();
    let plan = plan(&args, &run_id);
    eprintln!(
        "generated {} messages, {:.1} MB, {} markers, {} probes in {:.2} s (not timed)",
        plan.events,
        plan.bytes as f64 / 1e6,
        plan.markers,
        plan.probes,
        t.elapsed().as_secs_f64()
    );

    // The sink, when asked for, stands in for the server.
    let sink = if args.sink {
        Some(Sink::start().await?)
    } else {
        None
    };
    let addr = sink.as_ref().map_or(args.addr, |s| s.addr);
    let api = if args.sink { None } else { api };

    let sent = Arc::new(Mutex::new(Sent::default()));
    let sent_events = Arc::new(AtomicU64::new(0));
    let sending_done = Arc::new(AtomicBool::new(false));

    // Connect everything first: connection setup is not part of the rate.
    let mut streams = Vec::new();
    for _ in 0..plan.conns.len() {
        let s = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to the syslog listener {addr}"))?;
        s.set_nodelay(true).ok();
        streams.push(s);
    }

    let cpu_start = args.server_pid.and_then(cpu_secs);
    let start = Instant::now();
    let client = Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the http client")?;
    let poller = api.clone().map(|base| {
        Arc::new(Poller {
            client,
            base,
            token: token.clone().unwrap_or_default(),
            tenant: args.tenant.clone(),
            run: run_id.clone(),
            marker_query: args.marker_query.clone(),
            probe_kind: args.probe_kind,
            poll: Duration::from_millis(args.poll_ms.max(10)),
            timeout: Duration::from_secs(args.wait_timeout_secs),
            from: chrono::Utc::now() - chrono::Duration::hours(1),
        })
    });
    let marker_task = poller.clone().map(|p| {
        let (sent, done) = (sent.clone(), sending_done.clone());
        tokio::spawn(async move { p.markers(sent, done).await })
    });
    let probe_task = poller.clone().filter(|_| plan.probes > 0).map(|p| {
        let (sent, done) = (sent.clone(), sending_done.clone());
        tokio::spawn(async move { p.probes(sent, done).await })
    });

    let per_conn_rate = args.rate / plan.conns.len() as f64;
    let mut senders = Vec::new();
    for (stream, chunks) in streams.into_iter().zip(plan.conns) {
        let (sent, sent_events) = (sent.clone(), sent_events.clone());
        senders.push(tokio::spawn(async move {
            send(stream, chunks, per_conn_rate, start, sent, sent_events).await
        }));
    }
    let mut send_error = None;
    for s in senders {
        match s.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => send_error = Some(e),
            Err(e) => send_error = Some(anyhow::anyhow!("sender task: {e}")),
        }
    }
    sending_done.store(true, Ordering::SeqCst);
    let total_sent = sent_events.load(Ordering::SeqCst);
    let last_write = sent
        .lock()
        .map(|s| s.last_write)
        .ok()
        .flatten()
        .unwrap_or_else(Instant::now);
    let send_secs = last_write.duration_since(start).as_secs_f64().max(1e-9);
    let send_eps = total_sent as f64 / send_secs;
    if let Some(e) = &send_error {
        eprintln!("sending stopped early: {e:#}");
    }

    let mut summary = json!({
        "run": run_id,
        "events_sent": total_sent,
        "connections": args.connections.max(1),
        "rate_limit": args.rate,
        "send_secs": send_secs,
        "send_eps": send_eps,
        "send_mb_s": plan.bytes as f64 / 1e6 / send_secs,
    });
    println!(
        "sent            {} messages in {:.2} s = {:.0} messages/s ({:.1} MB/s, {} connections{})",
        total_sent,
        send_secs,
        send_eps,
        plan.bytes as f64 / 1e6 / send_secs,
        args.connections.max(1),
        if args.rate > 0.0 {
            format!(", limited to {} /s", args.rate)
        } else {
            String::new()
        }
    );

    if let Some(sink) = &sink {
        let (frames, last) = sink.wait_for(total_sent, Duration::from_secs(30)).await;
        let secs = last.duration_since(start).as_secs_f64().max(1e-9);
        println!(
            "sink            received {frames} frames, the last {:.2} s after the first send = {:.0} frames/s",
            secs,
            frames as f64 / secs
        );
        summary["sink_frames"] = json!(frames);
        summary["sink_eps"] = json!(frames as f64 / secs);
        if frames != total_sent {
            println!("sink            MISMATCH: sent {total_sent}, received {frames}");
        }
    }

    if let Some(p) = &poller {
        // Everything searchable: the total of the run's query reaches what
        // was sent.
        let (total, at) = p
            .wait_total(
                &args.total_query,
                total_sent,
                Duration::from_secs(args.stall_timeout_secs),
            )
            .await;
        let secs = at.duration_since(start).as_secs_f64().max(1e-9);
        if total >= total_sent {
            println!(
                "searchable      all {} messages searchable {:.2} s after the first send = {:.0} messages/s end to end ({:.2} s after the last send)",
                total,
                secs,
                total as f64 / secs,
                at.duration_since(last_write).as_secs_f64()
            );
        } else {
            println!(
                "searchable      INCOMPLETE: {total} of {total_sent} messages searchable (no progress for {} s)",
                args.stall_timeout_secs
            );
        }
        if let (Some(pid), Some(c0)) = (args.server_pid, cpu_start) {
            if let Some(c1) = cpu_secs(pid) {
                let cpu = c1 - c0;
                println!(
                    "server CPU      {cpu:.2} s from the first send until all searchable = {:.2} cores, {:.1} µs per message",
                    cpu / secs,
                    cpu * 1e6 / total_sent.max(1) as f64
                );
                summary["server_cpu_ingest_s"] = json!(cpu);
                summary["server_cores_ingest"] = json!(cpu / secs);
                summary["server_cpu_us_per_event"] = json!(cpu * 1e6 / total_sent.max(1) as f64);
            }
        }
        summary["searchable_total"] = json!(total);
        summary["searchable_secs"] = json!(secs);
        summary["searchable_eps"] = json!(total as f64 / secs);
        summary["complete"] = json!(total >= total_sent);

        if let Some(t) = marker_task {
            let (lat, lost) = t.await.unwrap_or_default();
            println!(
                "send→searchable {} markers: {}{}",
                lat.len(),
                lat.describe(),
                if lost > 0 {
                    format!("  ({lost} not found within {} s)", args.wait_timeout_secs)
                } else {
                    String::new()
                }
            );
            summary["searchable_p50_s"] = json!(lat.percentile(50.0));
            summary["searchable_p99_s"] = json!(lat.percentile(99.0));
            summary["markers_found"] = json!(lat.len());
            summary["markers_lost"] = json!(lost);
        }
        if let Some(t) = probe_task {
            let outcome = t.await.unwrap_or_default();
            match &outcome.unavailable {
                Some(why) => println!("send→alert      alerts API unavailable: {why}"),
                None => {
                    println!(
                        "send→alert      {} of {} probes alerted: {}{}",
                        outcome.latencies.len(),
                        outcome.latencies.len() + outcome.missed,
                        outcome.latencies.describe(),
                        if outcome.missed > 0 {
                            format!(
                                "  ({} without an alert within {} s)",
                                outcome.missed, args.wait_timeout_secs
                            )
                        } else {
                            String::new()
                        }
                    );
                    for (kind, (lat, missed)) in &outcome.by_kind {
                        println!(
                            "                {kind:<6} {} alerted: {}{}",
                            lat.len(),
                            lat.describe(),
                            if *missed > 0 {
                                format!("  ({missed} without an alert)")
                            } else {
                                String::new()
                            }
                        );
                        summary[format!("alert_{kind}_p50_s")] = json!(lat.percentile(50.0));
                        summary[format!("probes_{kind}_missed")] = json!(missed);
                    }
                    if !outcome.rules.is_empty() {
                        let rules: Vec<_> = outcome.rules.iter().cloned().collect();
                        println!(
                            "                rules that fired on probes: {}",
                            rules.join("; ")
                        );
                    }
                }
            }
            summary["alert_p50_s"] = json!(outcome.latencies.percentile(50.0));
            summary["alert_p99_s"] = json!(outcome.latencies.percentile(99.0));
            summary["probes_alerted"] = json!(outcome.latencies.len());
            summary["probes_missed"] = json!(outcome.missed);
            summary["alerts_unavailable"] = json!(outcome.unavailable);
        }
    }

    let line = summary.to_string();
    println!("{line}");
    if let Some(path) = &args.json_out {
        std::fs::write(path, format!("{line}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    match send_error {
        Some(e) => Err(e.context("sending")),
        None => Ok(()),
    }
}

async fn send(
    mut stream: TcpStream,
    chunks: Vec<Chunk>,
    rate: f64,
    start: Instant,
    sent: Arc<Mutex<Sent>>,
    sent_events: Arc<AtomicU64>,
) -> Result<()> {
    let mut done = 0u64;
    for chunk in chunks {
        if rate > 0.0 {
            let due = start + Duration::from_secs_f64(done as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
        stream
            .write_all(&chunk.bytes)
            .await
            .context("writing to the syslog listener")?;
        let now = Instant::now();
        done += chunk.events;
        sent_events.fetch_add(chunk.events, Ordering::SeqCst);
        if let Ok(mut s) = sent.lock() {
            for m in &chunk.markers {
                s.markers.insert(*m, now);
            }
            for p in &chunk.probes {
                s.probes.insert(*p, now);
            }
            s.last_write = Some(s.last_write.map_or(now, |l| l.max(now)));
        }
    }
    stream.flush().await.ok();
    stream.shutdown().await.ok();
    Ok(())
}

// ---------------------------------------------------------------------------
// Polling the API

struct Poller {
    client: Client,
    base: Url,
    token: String,
    tenant: String,
    run: String,
    marker_query: String,
    probe_kind: ProbeKind,
    poll: Duration,
    timeout: Duration,
    from: chrono::DateTime<chrono::Utc>,
}

#[derive(Default)]
struct ProbeOutcome {
    latencies: Latencies,
    missed: usize,
    /// Per kind (`ssh`, `whoami`): delays and probes without an alert.
    by_kind: BTreeMap<&'static str, (Latencies, usize)>,
    rules: BTreeSet<String>,
    unavailable: Option<String>,
}

impl Poller {
    fn kind_name(&self, n: u32) -> &'static str {
        match Gen::probe_kind(self.probe_kind, n) {
            ProbeKind::Whoami => "whoami",
            _ => "ssh",
        }
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<(StatusCode, Value)> {
        let url = self.base.join(path).context("building the url")?;
        let r = self
            .client
            .get(url)
            .bearer_auth(&self.token)
            .query(query)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = r.status();
        let body = r.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    async fn search(&self, q: &str, limit: usize) -> Result<Value> {
        let to = chrono::Utc::now() + chrono::Duration::hours(1);
        let (status, body) = self
            .get(
                "/api/v1/events",
                &[
                    ("tenant", self.tenant.clone()),
                    ("q", q.to_string()),
                    ("limit", limit.to_string()),
                    ("from", self.from.to_rfc3339()),
                    ("to", to.to_rfc3339()),
                ],
            )
            .await?;
        if !status.is_success() {
            bail!("search {q:?}: http {status}: {body}");
        }
        Ok(body)
    }

    /// Polls for the markers as they are sent; returns their send →
    /// searchable delays and how many were never found.
    async fn markers(&self, sent: Arc<Mutex<Sent>>, done: Arc<AtomicBool>) -> (Latencies, usize) {
        let mut lat = Latencies::default();
        let mut found = BTreeSet::new();
        let mut lost = BTreeSet::new();
        loop {
            let finished = done.load(Ordering::SeqCst);
            let pending: Vec<(u32, Instant)> = sent
                .lock()
                .map(|s| {
                    s.markers
                        .iter()
                        .filter(|(n, _)| !found.contains(*n) && !lost.contains(*n))
                        .map(|(n, t)| (*n, *t))
                        .collect()
                })
                .unwrap_or_default();
            if finished && pending.is_empty() {
                return (lat, lost.len());
            }
            for (n, t) in &pending {
                if t.elapsed() > self.timeout {
                    lost.insert(*n);
                }
            }
            // One search for up to 50 pending markers, oldest first.
            let batch: Vec<(u32, Instant)> = pending
                .into_iter()
                .filter(|(n, _)| !lost.contains(n))
                .take(50)
                .collect();
            if !batch.is_empty() {
                let q = batch
                    .iter()
                    .map(|(n, _)| {
                        self.marker_query
                            .replace("{marker}", &Gen::marker(&self.run, *n))
                    })
                    .collect::<Vec<_>>()
                    .join(" OR ");
                match self.search(&q, batch.len()).await {
                    Ok(body) => {
                        let now = Instant::now();
                        let text = body["events"].to_string();
                        for (n, t) in &batch {
                            if contains_token(&text, &Gen::marker(&self.run, *n)) {
                                found.insert(*n);
                                lat.push(now.duration_since(*t));
                            }
                        }
                    }
                    Err(e) => eprintln!("marker search: {e:#}"),
                }
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Polls the alerts API for each probe's host.
    async fn probes(&self, sent: Arc<Mutex<Sent>>, done: Arc<AtomicBool>) -> ProbeOutcome {
        let mut out = ProbeOutcome::default();
        let mut settled = BTreeSet::new();
        loop {
            let finished = done.load(Ordering::SeqCst);
            let pending: Vec<(u32, Instant)> = sent
                .lock()
                .map(|s| {
                    s.probes
                        .iter()
                        .filter(|(n, _)| !settled.contains(*n))
                        .map(|(n, t)| (*n, *t))
                        .collect()
                })
                .unwrap_or_default();
            if finished && pending.is_empty() {
                return out;
            }
            for (n, t) in pending.into_iter().take(20) {
                if t.elapsed() > self.timeout {
                    settled.insert(n);
                    out.missed += 1;
                    out.by_kind.entry(self.kind_name(n)).or_default().1 += 1;
                    continue;
                }
                let host = Gen::probe_host(&self.run, n);
                match self
                    .get(
                        "/api/v1/alerts",
                        &[("tenant", self.tenant.clone()), ("host", host.clone())],
                    )
                    .await
                {
                    Ok((status, body)) if status.is_success() => {
                        if body["total"].as_u64().unwrap_or(0) > 0 {
                            out.latencies.push(t.elapsed());
                            out.by_kind
                                .entry(self.kind_name(n))
                                .or_default()
                                .0
                                .push(t.elapsed());
                            settled.insert(n);
                            for a in body["alerts"].as_array().into_iter().flatten() {
                                if let Some(title) = a["rule_title"].as_str() {
                                    out.rules.insert(title.to_string());
                                }
                            }
                        }
                    }
                    Ok((status, body))
                        if status == StatusCode::NOT_FOUND
                            || status == StatusCode::METHOD_NOT_ALLOWED =>
                    {
                        out.unavailable = Some(format!("GET /api/v1/alerts: http {status} {body}"));
                        return out;
                    }
                    Ok((status, body)) => eprintln!("alerts for {host}: http {status}: {body}"),
                    Err(e) => eprintln!("alerts for {host}: {e:#}"),
                }
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Waits until `q` counts `want` events; gives up when the count has not
    /// grown for `stall`. Returns the last total and when it was seen.
    async fn wait_total(&self, q: &str, want: u64, stall: Duration) -> (u64, Instant) {
        let mut best = 0u64;
        let mut progress = Instant::now();
        loop {
            match self.search(q, 1).await {
                Ok(body) => {
                    let total = body["total"].as_u64().unwrap_or(0);
                    let now = Instant::now();
                    if total >= want {
                        return (total, now);
                    }
                    if total > best {
                        best = total;
                        progress = now;
                    }
                }
                Err(e) => eprintln!("total search: {e:#}"),
            }
            if progress.elapsed() > stall {
                return (best, Instant::now());
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

/// User + system CPU seconds of process `pid` (fields 14 and 15 of
/// /proc/PID/stat, in USER_HZ = 100 ticks a second on Linux).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Whether `text` holds `token` not followed by another digit (marker 1 is
/// not marker 12).
fn contains_token(text: &str, token: &str) -> bool {
    text.match_indices(token).any(|(at, _)| {
        !text[at + token.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

// ---------------------------------------------------------------------------
// The built-in sink

/// A TCP receiver on 127.0.0.1 that de-frames octet counting and counts
/// messages.
struct Sink {
    addr: SocketAddr,
    frames: Arc<AtomicU64>,
    last: Arc<Mutex<Instant>>,
}

impl Sink {
    async fn start() -> Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the sink")?;
        let addr = listener.local_addr()?;
        let frames = Arc::new(AtomicU64::new(0));
        let last = Arc::new(Mutex::new(Instant::now()));
        let (f, l) = (frames.clone(), last.clone());
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (f, l) = (f.clone(), l.clone());
                tokio::spawn(async move {
                    if let Err(e) = sink_conn(conn, f, l).await {
                        eprintln!("sink: {e:#}");
                    }
                });
            }
        });
        Ok(Sink { addr, frames, last })
    }

    /// Waits until `want` frames arrived (or `timeout`); returns the count
    /// and the instant the last one arrived.
    async fn wait_for(&self, want: u64, timeout: Duration) -> (u64, Instant) {
        let deadline = Instant::now() + timeout;
        while self.frames.load(Ordering::SeqCst) < want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let last = self
            .last
            .lock()
            .map(|l| *l)
            .unwrap_or_else(|_| Instant::now());
        (self.frames.load(Ordering::SeqCst), last)
    }
}

async fn sink_conn(
    mut conn: TcpStream,
    frames: Arc<AtomicU64>,
    last: Arc<Mutex<Instant>>,
) -> Result<()> {
    let mut buf = Vec::with_capacity(1 << 20);
    let mut chunk = vec![0u8; 256 << 10];
    loop {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            if !buf.is_empty() {
                bail!("{} bytes of an incomplete frame at the end", buf.len());
            }
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let (count, used) = deframe(&buf)?;
        buf.drain(..used);
        if count > 0 {
            frames.fetch_add(count, Ordering::SeqCst);
            if let Ok(mut l) = last.lock() {
                *l = Instant::now();
            }
        }
    }
}

/// Counts the complete octet-counted frames at the start of `buf`; returns
/// the count and the bytes they take.
fn deframe(buf: &[u8]) -> Result<(u64, usize)> {
    let (mut count, mut pos) = (0u64, 0usize);
    while let Some(space) = buf[pos..].iter().take(12).position(|&b| b == b' ') {
        let digits = &buf[pos..pos + space];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            bail!("not an octet count: {:?}", String::from_utf8_lossy(digits));
        }
        let len: usize = std::str::from_utf8(digits)?.parse()?;
        let end = pos + space + 1 + len;
        if end > buf.len() {
            break;
        }
        count += 1;
        pos = end;
    }
    if buf.len() - pos >= 12 && !buf[pos..pos + 12].contains(&b' ') {
        bail!(
            "no octet count in {:?}",
            String::from_utf8_lossy(&buf[pos..pos + 12])
        );
    }
    Ok((count, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(events: u64) -> Args {
        Args::parse_from(["t", "--events", &events.to_string(), "--connections", "3"])
    }

    #[test]
    fn the_plan_is_octet_counted_and_seeded() {
        let a = plan(&args(20_000), "rtest");
        assert!(a.events >= 20_000 && a.events <= 20_000 + 8, "{}", a.events);
        let all: Vec<u8> = a
            .conns
            .iter()
            .flatten()
            .flat_map(|c| c.bytes.clone())
            .collect();
        let (frames, used) = deframe(&all).unwrap();
        assert_eq!(used, all.len());
        assert_eq!(frames, a.events);
        assert_eq!(a.markers, 20);
        assert_eq!(a.probes, 2);
        let text = String::from_utf8_lossy(&all);
        for needle in [
            "sshd",
            "[UFW BLOCK]",
            "%ASA-4-106023",
            "UNION SELECT",
            "\"event_id\":4688",
            "whoami /priv",
            "benchhost-rtest-0",
            "bench_marker=rtestm19 ",
        ] {
            assert!(text.contains(needle), "{needle}");
        }
        let b = plan(&args(20_000), "rtest");
        let same = |p: &Plan| {
            p.conns
                .iter()
                .flatten()
                .map(|c| c.bytes.len())
                .sum::<usize>()
        };
        assert_eq!(same(&a), same(&b));
    }

    #[test]
    fn windows_events_are_json_and_lines_are_single() {
        let a = plan(&args(5_000), "rtest");
        let all: Vec<u8> = a
            .conns
            .iter()
            .flatten()
            .flat_map(|c| c.bytes.clone())
            .collect();
        let mut pos = 0;
        let mut json_seen = 0;
        while pos < all.len() {
            let space = all[pos..].iter().position(|&b| b == b' ').unwrap();
            let len: usize = std::str::from_utf8(&all[pos..pos + space])
                .unwrap()
                .parse()
                .unwrap();
            let msg = std::str::from_utf8(&all[pos + space + 1..pos + space + 1 + len]).unwrap();
            assert!(!msg.contains('\n'), "{msg}");
            assert!(msg.starts_with('<'), "{msg}");
            if let Some(at) = msg.find("- - {") {
                let v: Value = serde_json::from_str(&msg[at + 4..]).expect(msg);
                assert!(v["winlog"]["event_id"].is_u64());
                json_seen += 1;
            }
            pos += space + 1 + len;
        }
        assert!(json_seen > 500, "{json_seen}");
    }

    #[test]
    fn cpu_time_of_this_process() {
        assert!(cpu_secs(std::process::id()).is_some());
    }

    #[test]
    fn marker_tokens_do_not_match_longer_numbers() {
        assert!(contains_token("x bench_marker=r1m1 y", "bench_marker=r1m1"));
        assert!(!contains_token(
            "x bench_marker=r1m12 y",
            "bench_marker=r1m1"
        ));
        assert!(contains_token(
            "bench_marker=r1m12 bench_marker=r1m1\"",
            "bench_marker=r1m1"
        ));
    }

    #[test]
    fn remote_targets_are_refused() {
        let mut a = args(1);
        a.addr = "192.0.2.1:514".parse().unwrap();
        assert!(loopback_only(&a).is_err());
        let mut a = args(1);
        a.api = Some("http://example.com:8080".into());
        assert!(loopback_only(&a).is_err());
        a.api = Some("http://127.0.0.1:8080".into());
        assert!(loopback_only(&a).unwrap().is_some());
    }
}
