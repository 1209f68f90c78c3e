//! Load test of the check scheduler: `--checks` TCP and HTTP checks at one
//! interval against `--listeners` loopback listeners (half plain TCP that
//! accept and close, half a minimal HTTP responder), in this process or,
//! with `--apart`, in a second one (this binary with `--serve`), so that
//! the CPU of the checking side is measured alone.
//!
//! Prints the checks per second sustained after a warm-up, the lateness
//! (scheduled vs started) percentiles, missed slots and errors by reason,
//! and as a baseline the rate of bare loopback connects from a plain loop
//! with the same concurrency, measured in the same run.

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use vigil_checks::{
    parse_networks, CheckId, CheckKind, CheckResult, CheckSpec, CheckState, NetworkPolicy,
    Scheduler,
};

#[derive(Parser, Debug)]
struct Args {
    /// Loopback listeners (half TCP, half HTTP).
    #[arg(long, default_value_t = 200)]
    listeners: usize,
    /// Checks scheduled.
    #[arg(long, default_value_t = 12_000)]
    checks: u64,
    /// Percent of the checks that are HTTP (GET, expected text); the rest
    /// are TCP connects.
    #[arg(long, default_value_t = 50)]
    http_percent: u64,
    /// The interval of every check.
    #[arg(long, default_value = "1s")]
    interval: String,
    /// The timeout of every check.
    #[arg(long, default_value = "500ms")]
    timeout: String,
    /// Checks running at once at most.
    #[arg(long, default_value_t = 256)]
    max_running: usize,
    /// Length of the run, warm-up included.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds at the start not counted.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// The rate to report reaching or not.
    #[arg(long, default_value_t = 10_000.0)]
    target: f64,
    /// Seconds of the bare-connect baseline (0: none).
    #[arg(long, default_value_t = 3)]
    baseline: u64,
    /// Run the listeners in a second process.
    #[arg(long)]
    apart: bool,
    /// Be that second process: serve the listeners until stdin closes.
    #[arg(long, hide = true)]
    serve: bool,
}

const PAGE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

fn main() -> Result<()> {
    let args = Args::parse();
    if args.listeners < 2 || args.warmup >= args.seconds {
        bail!("need at least 2 listeners and a run longer than the warm-up");
    }
    let runtime = tokio::runtime::Runtime::new().context("tokio runtime")?;
    if args.serve {
        return runtime.block_on(serve(args.listeners));
    }
    runtime.block_on(run(args))
}

/// The second process: listeners up, their ports on one line of stdout
/// (`tcp,ports http,ports`), then serve until stdin closes.
async fn serve(listeners: usize) -> Result<()> {
    let (tcp, http) = start_listeners(listeners).await?;
    let list = |ports: &[u16]| {
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        ports.join(",")
    };
    println!("{} {}", list(&tcp), list(&http));
    tokio::task::spawn_blocking(|| {
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut rest);
    })
    .await?;
    Ok(())
}

/// Where the listeners run.
struct Peers {
    tcp: Vec<u16>,
    http: Vec<u16>,
    child: Option<std::process::Child>,
}

impl Peers {
    async fn start(count: usize, apart: bool) -> Result<Peers> {
        if !apart {
            let (tcp, http) = start_listeners(count).await?;
            return Ok(Peers {
                tcp,
                http,
                child: None,
            });
        }
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .args(["--serve", "--listeners", &count.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("starting the listener process")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)?;
        let parse = |list: Option<&str>| -> Result<Vec<u16>> {
            let list = list.context("the listener process said no ports")?;
            Ok(list.split(',').map(str::parse).collect::<Result<_, _>>()?)
        };
        let mut parts = line.split_whitespace();
        let (tcp, http) = (parse(parts.next())?, parse(parts.next())?);
        Ok(Peers {
            tcp,
            http,
            child: Some(child),
        })
    }

    /// CPU seconds of the listener process, if apart.
    fn cpu(&self) -> Option<f64> {
        let pid = self.child.as_ref()?.id();
        cpu_seconds(&pid.to_string()).map(|(u, s)| u + s)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

async fn run(args: Args) -> Result<()> {
    let interval = vigil_checks::parse_duration(&args.interval)?;
    let timeout = vigil_checks::parse_duration(&args.timeout)?;
    println!(
        "checks: {} ({} TCP, {} HTTP) every {}, timeout {}, {} listeners, max running {}, fd limit {}",
        args.checks,
        args.checks - http_checks(args.checks, args.http_percent),
        http_checks(args.checks, args.http_percent),
        args.interval,
        args.timeout,
        args.listeners,
        args.max_running,
        fd_limit().unwrap_or_else(|| "?".into()),
    );
    let mut peers = Peers::start(args.listeners, args.apart).await?;
    let (tcp_ports, http_ports) = (peers.tcp.clone(), peers.http.clone());
    if args.baseline > 0 {
        let before = (cpu_total(), peers.cpu());
        let rate = baseline(&tcp_ports, args.max_running, args.baseline).await;
        let connects = rate * args.baseline as f64;
        println!(
            "baseline: bare loopback connects, {} at once: {rate:.0}/s, CPU each: {}",
            args.max_running,
            cpu_split(before, (cpu_total(), peers.cpu()), connects)
        );
    }
    let cpu_before = (cpu_total(), peers.cpu());
    let (tx, rx) = mpsc::channel(16_384);
    // The peers are on loopback: allowed the way an MSP allows a tenant's
    // loopback in the config, so every connection is judged as in the server.
    let loopback = parse_networks(&["127.0.0.0/8"])?;
    let scheduler =
        Scheduler::new(args.max_running, tx).with_policy(NetworkPolicy::new(Vec::new(), loopback));
    for n in 0..args.checks {
        let spec = check(
            n,
            args.http_percent,
            &tcp_ports,
            &http_ports,
            interval,
            timeout,
        );
        scheduler.upsert(CheckId(n), spec)?;
    }
    let report = collect(rx, args.seconds, args.warmup).await;
    let stats = scheduler.stats();
    scheduler.shutdown().await;
    let seconds = args.seconds - args.warmup;
    let rate = report.counted as f64 / seconds as f64;
    report.print(seconds, args.checks as f64 / interval.as_secs_f64());
    println!(
        "scheduler: {} runs, {} missed slots in all",
        stats.runs, stats.missed_slots
    );
    if let Some((user, system)) = cpu_seconds("self") {
        println!("CPU of this process: user {user:.1} s, system {system:.1} s");
    }
    // CPU per check is what the machine's other load does not change: it
    // says what the run would reach on cores of its own.
    let cpu_after = (cpu_total(), peers.cpu());
    let runs = stats.runs.max(1) as f64;
    let both =
        (cpu_after.0 - cpu_before.0) + cpu_after.1.zip(cpu_before.1).map_or(0.0, |(a, b)| a - b);
    println!(
        "CPU per check: {}; {} idle cores would run about {:.0} checks/s",
        cpu_split(cpu_before, cpu_after, runs),
        cores(),
        cores() as f64 * runs / both
    );
    peers.stop();
    // A result more or less at the edges of the window is noise.
    let verdict = if rate >= args.target * 0.995 {
        "reached"
    } else {
        "NOT reached"
    };
    println!("target {:.0} checks/s: {verdict}", args.target);
    Ok(())
}

/// HTTP checks among the first `checks`: `percent` of them, spread evenly.
fn http_checks(checks: u64, percent: u64) -> u64 {
    checks * percent.min(100) / 100
}

fn check(
    n: u64,
    http_percent: u64,
    tcp: &[u16],
    http: &[u16],
    interval: Duration,
    timeout: Duration,
) -> CheckSpec {
    let is_http = http_checks(n + 1, http_percent) != http_checks(n, http_percent);
    let kind = if !is_http {
        CheckKind::Tcp {
            port: tcp[n as usize % tcp.len()],
        }
    } else {
        let port = http[n as usize % http.len()];
        CheckKind::Http {
            url: format!("http://127.0.0.1:{port}/health"),
            expect_status: None,
            expect_text: Some("ok".into()),
            follow_redirects: 0,
            verify_tls: false,
            ca_file: None,
            ca_pem: None,
            cert_min_days: 0,
        }
    };
    CheckSpec {
        kind,
        target: "127.0.0.1".into(),
        interval,
        timeout,
        retries: 0,
    }
}

async fn start_listeners(count: usize) -> Result<(Vec<u16>, Vec<u16>)> {
    let (mut tcp, mut http) = (Vec::new(), Vec::new());
    for n in 0..count {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        if n % 2 == 0 {
            tokio::spawn(accept_and_close(listener));
            tcp.push(port);
        } else {
            tokio::spawn(serve_http(listener));
            http.push(port);
        }
    }
    Ok((tcp, http))
}

async fn accept_and_close(listener: TcpListener) {
    loop {
        if listener.accept().await.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn serve_http(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(respond(stream));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Reads until the end of the request head, answers, closes.
async fn respond(mut stream: TcpStream) {
    let mut request = Vec::with_capacity(256);
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
        if request.len() > 16 * 1024 {
            return;
        }
    }
    let _ = stream.write_all(PAGE).await;
}

/// Connects and drops in `concurrency` loops for `seconds`.
async fn baseline(ports: &[u16], concurrency: usize, seconds: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for n in 0..concurrency {
        let (done, port) = (done.clone(), ports[n % ports.len()]);
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    done.load(Ordering::Relaxed) as f64 / seconds as f64
}

#[derive(Default)]
struct Report {
    counted: u64,
    up: u64,
    missed: u64,
    lateness_us: Vec<u64>,
    errors: HashMap<String, u64>,
    per_second: Vec<u64>,
}

async fn collect(
    mut rx: mpsc::Receiver<(CheckId, CheckResult)>,
    seconds: u64,
    warmup: u64,
) -> Report {
    let start = Instant::now();
    let counting = start + Duration::from_secs(warmup);
    let end = start + Duration::from_secs(seconds);
    let mut report = Report {
        per_second: vec![0; seconds as usize],
        ..Report::default()
    };
    while let Ok(Some((_, result))) = tokio::time::timeout_at(end, rx.recv()).await {
        let now = Instant::now();
        let second = (now - start).as_secs() as usize;
        if let Some(slot) = report.per_second.get_mut(second) {
            *slot += 1;
        }
        if now < counting {
            continue;
        }
        report.add(result);
    }
    report
}

impl Report {
    fn add(&mut self, result: CheckResult) {
        self.counted += 1;
        self.missed += result.missed_slots;
        self.lateness_us.push(result.lateness.as_micros() as u64);
        match result.state {
            CheckState::Up => self.up += 1,
            CheckState::Down { reason } | CheckState::Error { reason } => {
                *self.errors.entry(reason).or_default() += 1;
            }
        }
    }

    fn print(mut self, seconds: u64, scheduled_rate: f64) {
        let rate = self.counted as f64 / seconds as f64;
        println!(
            "sustained: {rate:.0} checks/s over {seconds} s ({:.1} % of the {scheduled_rate:.0}/s scheduled), {} up",
            100.0 * rate / scheduled_rate,
            self.up
        );
        self.lateness_us.sort_unstable();
        let at = |q: f64| {
            let n = self.lateness_us.len();
            if n == 0 {
                return 0.0;
            }
            self.lateness_us[((n - 1) as f64 * q) as usize] as f64 / 1000.0
        };
        println!(
            "lateness: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; missed slots {}",
            at(0.5),
            at(0.99),
            at(1.0),
            self.missed
        );
        let errors: u64 = self.errors.values().sum();
        println!("errors: {errors}");
        let mut reasons: Vec<_> = self.errors.into_iter().collect();
        reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
        for (reason, count) in reasons.iter().take(5) {
            println!("  {count:>8}  {reason}");
        }
        println!("results per second: {:?}", self.per_second);
    }
}

fn fd_limit() -> Option<String> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3).map(str::to_owned)
}

/// User and system CPU seconds of this process (`/proc/self/stat`, in
/// USER_HZ = 100 ticks per second on Linux).
fn cpu_seconds(pid: &str) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(11)? / 100.0, ticks(12)? / 100.0))
}

fn cpu_total() -> f64 {
    cpu_seconds("self").map_or(0.0, |(user, system)| user + system)
}

/// µs of CPU per unit of work between two readings of (this process, the
/// listener process if apart).
fn cpu_split(before: (f64, Option<f64>), after: (f64, Option<f64>), work: f64) -> String {
    let us = |seconds: f64| seconds / work.max(1.0) * 1e6;
    match after.1.zip(before.1) {
        None => format!("{:.0} µs (both ends)", us(after.0 - before.0)),
        Some((a, b)) => format!(
            "{:.0} µs checking + {:.0} µs listening",
            us(after.0 - before.0),
            us(a - b)
        ),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
