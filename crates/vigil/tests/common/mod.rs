//! Test harness: the real `vigil` binary on an ephemeral port, spoken to
//! over HTTP.

#![allow(dead_code)]

pub mod peers;

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// Addresses of the syslog listeners, in config order.
    pub syslog: Vec<SocketAddr>,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    pub data: PathBuf,
    pub admin: String,
    client: Client,
}

/// The config an MSP writes so that every tenant's checks may reach
/// loopback (test peers listen there; by default checks may not).
#[allow(dead_code)]
pub const ALLOW_LOOPBACK_CHECKS: (&str, &str) = (
    "VIGIL_CHECK_POLICY_ALLOW_NETWORKS",
    r#"["127.0.0.0/8", "::1"]"#,
);

impl Server {
    /// Starts `vigil serve` on `data` with a short commit interval.
    pub fn start(data: &Path) -> Server {
        Self::start_with(data, &[])
    }

    pub fn start_with(data: &Path, env: &[(&str, &str)]) -> Server {
        Self::launch(data, None, env)
    }

    pub fn start_with_config(data: &Path, config: &str) -> Server {
        Self::launch(data, Some(config), &[])
    }

    /// Writes `toml` to `dir/vigil.toml` and starts on it, the data in
    /// `dir/data`.
    pub fn start_with_toml(dir: &Path, toml: &str) -> Server {
        let config = dir.join("vigil.toml");
        std::fs::write(&config, toml).expect("write the config");
        let config = config.to_str().expect("a UTF-8 path").to_string();
        Self::start_with_config(&dir.join("data"), &config)
    }

    /// Starts on `dir/vigil.toml` as [`Server::start_with_toml`] does, but
    /// returns as soon as HTTP answers, the rules perhaps still loading.
    pub fn start_loading_with_toml(dir: &Path, toml: &str) -> Server {
        let config = dir.join("vigil.toml");
        std::fs::write(&config, toml).expect("write the config");
        let config = config.to_str().expect("a UTF-8 path").to_string();
        Self::spawn(&dir.join("data"), Some(&config), &[])
    }

    /// Starts and waits until `/healthz` says ready: the detection rules
    /// load in the background after the listener is up.
    fn launch(data: &Path, config: Option<&str>, env: &[(&str, &str)]) -> Server {
        let server = Self::spawn(data, config, env);
        server.wait_ready();
        server
    }

    /// Waits (a minute at most) until `/healthz` answers 200.
    pub fn wait_ready(&self) {
        wait_for("/healthz to say ready", || {
            let answer = self.request("GET", "/healthz").send().ok()?;
            answer.status().is_success().then_some(Value::Null)
        });
    }

    fn spawn(data: &Path, config: Option<&str>, env: &[(&str, &str)]) -> Server {
        // VIGIL_TEST_BIN: a copy of the binary, when builds of other
        // worktrees share the target directory and may replace it.
        let bin = std::env::var_os("VIGIL_TEST_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_vigil").into());
        let mut command = Command::new(bin);
        if let Some(config) = config {
            command.args(["serve", "--config", config]);
        } else {
            command.arg("serve");
        }
        command
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("VIGIL_STORAGE_COMMIT_INTERVAL_MS", "200")
            .env("VIGIL_STORAGE_INDEX_THREADS", "1")
            .env("VIGIL_STORAGE_INDEX_MEMORY_MB", "32")
            .env("VIGIL_SERVER_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start vigil");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let log_writer = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_addr(&line) {
                    let _ = tx.send(addr);
                }
                if std::env::var_os("VIGIL_TEST_LOG").is_some() {
                    eprintln!("[vigil] {line}");
                }
                if let Ok(mut log) = log_writer.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| {
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "vigil did not report its address ({e}); its log:\n{}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                )
            });
        let admin = std::fs::read_to_string(data.join("admin.token"))
            .expect("admin.token")
            .trim()
            .to_string();
        // The syslog listeners log their addresses before the HTTP one.
        let syslog = log
            .lock()
            .map(|l| l.lines().filter_map(syslog_addr).collect())
            .unwrap_or_default();
        Server {
            child,
            addr,
            syslog,
            log,
            data: data.to_path_buf(),
            admin,
            client: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
        }
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Alerts of the tenant the token names, with extra query parameters.
    pub fn alerts(&self, token: &str, query: &[(&str, &str)]) -> Value {
        let r = self
            .get("/api/v1/alerts", token)
            .query(query)
            .send()
            .expect("alerts");
        assert_eq!(r.status(), 200, "list alerts");
        r.json().expect("alerts json")
    }

    /// Lists alerts until `check` accepts the answer (detection is live,
    /// but events travel through queues), or 30 s pass.
    pub fn alerts_until(
        &self,
        token: &str,
        query: &[(&str, &str)],
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = self.alerts(token, query);
            if check(&answer) || Instant::now() > deadline {
                return answer;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `GET /api/v1/metrics/query` over the last 5 minutes (`step` as the
    /// API reads it); `None` until the first series has a point.
    pub fn metrics(&self, token: &str, expr: &str, step: Option<&str>) -> Option<Value> {
        let mut query = vec![("series", expr), ("from", "now-5m")];
        if let Some(step) = step {
            query.push(("step", step));
        }
        let answer: Value = self
            .get("/api/v1/metrics/query", token)
            .query(&query)
            .send()
            .ok()?
            .json()
            .ok()?;
        answer["series"][0]["points"].as_array()?.first()?;
        Some(answer)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn get(&self, path: &str, token: &str) -> RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str) -> RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(token)
    }

    pub fn request(&self, method: &str, path: &str) -> RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        self.client.request(method, self.url(path))
    }

    pub fn create_tenant(&self, name: &str) -> Value {
        let r = self
            .post("/api/v1/tenants", &self.admin)
            .json(&json!({ "name": name }))
            .send()
            .expect("create tenant");
        assert_eq!(r.status(), 201, "create tenant {name}");
        r.json().expect("tenant json")
    }

    pub fn token(&self, tenant: &str, role: &str) -> String {
        let r = self
            .post("/api/v1/tokens", &self.admin)
            .json(&json!({ "tenant": tenant, "role": role }))
            .send()
            .expect("create token");
        assert_eq!(r.status(), 201, "create token");
        let body: Value = r.json().expect("token json");
        body["token"].as_str().expect("token").to_string()
    }

    pub fn ingest(&self, token: &str, body: &str) -> Response {
        self.post("/api/v1/ingest", token)
            .body(body.to_string())
            .send()
            .expect("ingest")
    }

    pub fn search(&self, token: &str, query: &str) -> Value {
        let r = self
            .get("/api/v1/events", token)
            .query(&[("q", query), ("limit", "10000")])
            .send()
            .expect("search");
        assert_eq!(r.status(), 200, "search {query}");
        r.json().expect("search json")
    }

    /// Searches until `want` events match (the index commits on a timer).
    pub fn search_until(&self, token: &str, query: &str, want: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let result = self.search(token, query);
            if result["total"].as_u64() == Some(want) || Instant::now() > deadline {
                return result;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(&mut self) {
        unsafe_sigterm(self.child.id());
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn unsafe_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

/// Calls `check` until it gives a value, for at most a minute.
pub fn wait_for(what: &str, mut check: impl FnMut() -> Option<Value>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A peer process, stopped however the test ends.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Finds `addr=IP:PORT` in a "syslog input is listening" log line.
fn syslog_addr(line: &str) -> Option<SocketAddr> {
    if !line.contains("syslog input is listening") {
        return None;
    }
    let start = line.find("addr=")? + 5;
    let rest = &line[start..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Finds `addr=IP:PORT` in vigil's "listening" log line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    if !line.contains("vigil is listening") {
        return None;
    }
    let start = line.find("addr=")? + 5;
    let rest = &line[start..];
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    rest[..end].trim_matches('"').parse().ok()
}
