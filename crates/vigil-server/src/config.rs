//! The configuration: one TOML file, every key with a default, every key
//! overridable by a `VIGIL_*` environment variable.
//!
//! The variable's name is the key's path in upper case joined by `_`:
//! `[server] listen` is `VIGIL_SERVER_LISTEN`, `[ingest] max_line_bytes` is
//! `VIGIL_INGEST_MAX_LINE_BYTES`. Its value is read as a TOML value
//! (`true`, `42`, `[1, 2]`) and, failing that, as a string.

pub use crate::config_check::Problem;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use vigil_core::TenantName;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    /// Logins and sessions: idle timeout, login rate limits, password
    /// hashing (`[auth]`).
    pub auth: AuthConfig,
    pub ingest: IngestConfig,
    pub storage: StorageConfig,
    pub retention: RetentionConfig,
    pub inputs: InputsConfig,
    pub detection: DetectionConfig,
    /// The NOC engine's settings for every tenant (`[noc]`): how long a
    /// child's page waits for its parent's check (`dependency_wait`), how
    /// long children stay held after the parent is back (`parent_grace`),
    /// which check kinds make an asset down for its children
    /// (`reachability_kinds`), flapping, and when a sample is stale.
    pub noc: vigil_noc::EngineConfig,
    /// Where checks may connect (`[check_policy]`): networks denied and
    /// allowed for every tenant; a tenant adds its own in `[[tenants]]`.
    pub check_policy: CheckPolicyConfig,
    /// Tenants created at start when missing.
    pub tenants: Vec<TenantConfig>,
    /// NOC assets created at start when missing: `[[assets]]` tables.
    pub assets: Vec<AssetConfig>,
    /// Checks created at start when missing: `[[checks]]` tables.
    pub checks: Vec<TenantDocument>,
    /// A tenant's maintenance windows, `[[maintenance_windows]]` tables
    /// (`tenant`, and a window as `POST /api/v1/maintenance-windows` takes
    /// it); created or replaced at start.
    pub maintenance_windows: Vec<TenantDocument>,
    /// A tenant's NOC rules, `[[noc_rules]]` tables (`tenant`, and a rule
    /// as `POST /api/v1/noc-rules` takes it); created or replaced at start.
    pub noc_rules: Vec<TenantDocument>,
    /// `VIGIL_*` variables that name no key (other tools use the prefix
    /// too); the server warns about them.
    #[serde(skip)]
    pub ignored_env: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the HTTP API.
    pub listen: SocketAddr,
    /// Where everything is stored.
    pub data_dir: PathBuf,
    /// Log filter (`info`, `debug`, `vigil_server=debug,info`).
    pub log: String,
    /// How long a token from `POST /api/v1/login` authenticates, in minutes.
    pub session_minutes: u32,
    /// Time a client has to send a request's header, from the moment the
    /// server waits for it (connect, or the previous answer on a kept-alive
    /// connection), in seconds. Slow senders are closed, not held.
    pub header_read_timeout_secs: u64,
    /// A connection on which nothing moves while no request is being
    /// answered is closed after this many seconds.
    pub idle_timeout_secs: u64,
    /// Time a request's body has to arrive in full, in seconds (408 beyond).
    pub request_body_timeout_secs: u64,
    /// Connections open at once at most; more are closed on accept.
    pub max_connections: usize,
    /// Connections open at once from one client address at most.
    pub max_connections_per_address: usize,
    /// Largest body of a request without an `Authorization` header (the
    /// login), in bytes (413 beyond).
    pub unauthenticated_body_bytes: usize,
    /// PEM certificate chain of the API listener: with `tls_key`, the API
    /// speaks HTTPS only. Without both, plain HTTP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

/// Logins and sessions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// A login session unused this many minutes ends (0: only
    /// `server.session_minutes` ends it).
    pub idle_minutes: u32,
    /// Failed logins of one user name before each further one is delayed.
    pub free_failures_per_user: u32,
    /// Failed logins from one address (an IPv6 /64) before each further one
    /// is delayed; higher than per user, for offices behind one address.
    pub free_failures_per_address: u32,
    /// The first delay, in seconds; it doubles with every further failure
    /// (attempts during a delay count, and are refused with 429 whatever
    /// the password).
    pub first_delay_secs: u64,
    /// The longest delay, in seconds.
    pub max_delay_secs: u64,
    /// Password hashes computed at once (argon2: 19 MiB and tens of
    /// milliseconds of a core each); 0: half the cores, at least one.
    pub hash_concurrency: usize,
    /// How long a login waits for a hashing turn before 503, in
    /// milliseconds.
    pub hash_wait_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            idle_minutes: 60,
            free_failures_per_user: 5,
            free_failures_per_address: 20,
            first_delay_secs: 1,
            max_delay_secs: 300,
            hash_concurrency: 0,
            hash_wait_ms: 2000,
        }
    }
}

impl AuthConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.idle_minutes > MAX_SESSION_MINUTES {
            return Err(format!(
                "auth.idle_minutes must be 0 to {MAX_SESSION_MINUTES}, got {}",
                self.idle_minutes
            ));
        }
        if self.free_failures_per_user == 0 || self.free_failures_per_address == 0 {
            return Err(
                "auth.free_failures_per_user and auth.free_failures_per_address must be above 0"
                    .into(),
            );
        }
        if !(1..=86_400).contains(&self.first_delay_secs)
            || !(self.first_delay_secs..=86_400).contains(&self.max_delay_secs)
        {
            return Err(format!(
                "auth.first_delay_secs must be 1 to 86400 and auth.max_delay_secs from it to 86400, got {} and {}",
                self.first_delay_secs, self.max_delay_secs
            ));
        }
        if self.hash_concurrency > 1024 || self.hash_wait_ms > 60_000 {
            return Err(format!(
                "auth.hash_concurrency must be 0 to 1024 and auth.hash_wait_ms 0 to 60000, got {} and {}",
                self.hash_concurrency, self.hash_wait_ms
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Largest accepted request body, after decompression (413 beyond).
    pub max_body_bytes: usize,
    /// Longest accepted NDJSON line.
    pub max_line_bytes: usize,
    /// Most events (non-blank NDJSON lines, or EVTX records) in one
    /// request (413 beyond): bounds a request's memory and time however
    /// small its events.
    pub max_events_per_request: usize,
    /// Ingest requests (both endpoints) in progress at once, all tenants
    /// together; beyond, 429 with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// Ingest requests in progress at once for one tenant; below
    /// `max_concurrent_requests`, so that other tenants always have room.
    pub max_concurrent_per_tenant: usize,
    /// Longest time to receive one ingest body, in seconds (408 beyond):
    /// a slow sender cannot hold a request slot for ever.
    pub body_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Longest time from acknowledgement to searchable, in milliseconds.
    pub commit_interval_ms: u64,
    /// Indexing threads per open partition writer.
    pub index_threads: usize,
    /// Indexing memory per open partition writer, in MiB.
    pub index_memory_mb: usize,
    /// Partition writers kept open at most.
    pub max_open_writers: usize,
    /// Size at which a write-ahead log segment is closed, in MiB.
    pub wal_segment_mb: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days of events kept for a tenant that sets none.
    pub default_days: u32,
    /// How often old partitions are dropped, in seconds.
    pub interval_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub name: TenantName,
    /// Days of events kept; `retention.default_days` when absent.
    pub retention_days: Option<u32>,
    /// Syslog senders of this tenant: addresses or CIDR blocks
    /// (`192.0.2.0/24`, `2001:db8::/32`), for listeners without a tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// TLS client certificates of this tenant's senders: a subject CN, a
    /// DNS name, or `sha256:<hex>` of the certificate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_certs: Vec<String>,
    /// Networks this tenant's checks may reach although they are denied
    /// by default (loopback, link-local, metadata): addresses or CIDR
    /// blocks. A deny (here or in `[check_policy]`) still wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check_allow_networks: Vec<String>,
    /// Networks this tenant's checks may never reach, besides
    /// `[check_policy] deny_networks`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check_deny_networks: Vec<String>,
    /// Whether this tenant's checks may reach Vigil's own listeners (its
    /// API, syslog and trap inputs); `[check_policy]` decides when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_allow_own_listeners: Option<bool>,
}

/// The network policy of checks (`[check_policy]`), for every tenant.
///
/// Precedence, for each address a check connects to (after resolving,
/// for every connection; an IPv4-mapped or -compatible IPv6 address
/// counts as its IPv4 address too): a denied network (`deny_networks`,
/// or the tenant's `check_deny_networks`) refuses; Vigil's own listeners
/// refuse unless `allow_own_listeners` (or the tenant's
/// `check_allow_own_listeners`); an allowed network (`allow_networks`, or
/// the tenant's `check_allow_networks`) admits; loopback, unspecified,
/// link-local, cloud metadata, multicast and broadcast addresses refuse;
/// anything else is admitted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CheckPolicyConfig {
    /// Networks no tenant's check may reach (`["10.10.0.0/16"]`).
    pub deny_networks: Vec<String>,
    /// Networks every tenant's checks may reach although denied by
    /// default (`["127.0.0.0/8"]` to check services on Vigil's host).
    pub allow_networks: Vec<String>,
    /// Whether checks may reach Vigil's own listeners.
    pub allow_own_listeners: bool,
}

/// An asset of a tenant, as `[[assets]]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AssetConfig {
    pub tenant: String,
    pub name: String,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criticality: Option<String>,
    /// The asset in front of this one (same tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

impl AssetConfig {
    pub fn input(&self) -> crate::inventory::AssetInput {
        crate::inventory::AssetInput {
            name: self.name.clone(),
            address: self.address.clone(),
            kind: self.kind.clone().unwrap_or_else(|| "host".into()),
            tags: self.tags.clone(),
            criticality: self.criticality.clone().unwrap_or_else(|| "medium".into()),
            parent: self.parent.clone(),
        }
    }
}

/// A tenant's document in the config: `tenant` and the fields the API
/// takes for the same thing. A check (`[[checks]]`: `asset`, `kind`,
/// `target`, `interval`, and the kind's own settings), a maintenance
/// window, a NOC rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TenantDocument {
    pub tenant: String,
    #[serde(flatten)]
    pub spec: serde_json::Map<String, serde_json::Value>,
}

/// Where events come from besides `POST /api/v1/ingest`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct InputsConfig {
    /// Syslog listeners: `[[inputs.syslog]]` tables.
    pub syslog: Vec<crate::inputs::SyslogInputConfig>,
    /// SNMP trap listeners: `[[inputs.snmp_traps]]` tables.
    pub snmp_traps: Vec<TrapInputConfig>,
    /// Batches of received messages waiting for the pipeline, at most;
    /// beyond, TCP senders wait and UDP datagrams are dropped (counted).
    pub queue_batches: usize,
    /// Batches decoded, matched and stored at once.
    pub pipeline_workers: usize,
}

/// One SNMP trap listener (v2c traps and informs).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrapInputConfig {
    pub listen: SocketAddr,
    /// The tenant whose events the traps become.
    pub tenant: String,
    /// Communities accepted; any when empty.
    #[serde(default)]
    pub communities: Vec<String>,
}

/// Live detection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DetectionConfig {
    /// Folders (or files) of Sigma rules every tenant runs, e.g. a
    /// checkout of SigmaHQ's rules; re-read when a file changes.
    pub rule_paths: Vec<PathBuf>,
    /// Values of `expand` placeholders (a YAML mapping), if any.
    pub placeholders: Option<PathBuf>,
    /// Vigil's own rules (SSH brute force, new local admin, firewall deny
    /// storm).
    pub builtin_rules: bool,
    /// Rules below this level never alert: informational, low, medium,
    /// high, critical.
    pub min_level: String,
    /// How often the rule folders are checked for changes, in seconds (0:
    /// never).
    pub reload_interval_secs: u64,
    /// A user must be known this long before a login from a new source
    /// alerts, in hours.
    pub new_source_learning_hours: u64,
    /// How often correlation state is written to disk, in seconds.
    pub state_interval_secs: u64,
    /// Bytes of YAML in one rule upload (larger: 413).
    pub upload_max_bytes: usize,
    /// Nesting of YAML collections in an uploaded rule.
    pub upload_max_depth: usize,
    /// Values in one list of an uploaded rule (a `contains` list).
    pub upload_max_list_values: usize,
    /// Values in one uploaded rule, all lists together.
    pub upload_max_rule_values: usize,
    /// Rules (YAML documents) in one upload.
    pub upload_max_rules: usize,
    /// Regular expressions (`|re` values) in one uploaded rule.
    pub upload_max_regexes: usize,
    /// Compiled size of one regular expression of an upload, in bytes.
    pub upload_max_regex_bytes: usize,
    /// Uploaded rules one tenant may have, all uploads together.
    pub tenant_max_rules: usize,
    /// Blocking threads that parse and compile tenants' uploads at once
    /// (each tenant uses one at a time).
    pub compile_workers: usize,
}

impl DetectionConfig {
    /// The bounds of an uploaded rule.
    pub fn upload_limits(&self) -> vigil_sigma::limits::Limits {
        vigil_sigma::limits::Limits {
            max_bytes: self.upload_max_bytes,
            max_depth: self.upload_max_depth,
            max_list_values: self.upload_max_list_values,
            max_rule_values: self.upload_max_rule_values,
            max_rules: self.upload_max_rules,
            max_regexes: self.upload_max_regexes,
            max_regex_bytes: self.upload_max_regex_bytes,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        let bounds = [
            ("upload_max_bytes", self.upload_max_bytes, 1024, 64 << 20),
            ("upload_max_depth", self.upload_max_depth, 8, 1_000),
            (
                "upload_max_list_values",
                self.upload_max_list_values,
                1,
                1_000_000,
            ),
            (
                "upload_max_rule_values",
                self.upload_max_rule_values,
                1,
                10_000_000,
            ),
            ("upload_max_rules", self.upload_max_rules, 1, 100_000),
            ("upload_max_regexes", self.upload_max_regexes, 0, 100_000),
            (
                "upload_max_regex_bytes",
                self.upload_max_regex_bytes,
                1024,
                1 << 30,
            ),
            ("tenant_max_rules", self.tenant_max_rules, 1, 1_000_000),
            ("compile_workers", self.compile_workers, 1, 256),
        ];
        for (key, value, low, high) in bounds {
            if !(low..=high).contains(&value) {
                return Err(format!(
                    "detection.{key} must be {low} to {high}, got {value}"
                ));
            }
        }
        Ok(())
    }
}

impl Default for InputsConfig {
    fn default() -> Self {
        InputsConfig {
            syslog: Vec::new(),
            snmp_traps: Vec::new(),
            queue_batches: 64,
            pipeline_workers: 2,
        }
    }
}

impl Default for DetectionConfig {
    fn default() -> Self {
        let limits = vigil_sigma::limits::Limits::default();
        DetectionConfig {
            rule_paths: Vec::new(),
            placeholders: None,
            builtin_rules: true,
            min_level: "low".into(),
            reload_interval_secs: 5,
            new_source_learning_hours: 24,
            state_interval_secs: 30,
            upload_max_bytes: limits.max_bytes,
            upload_max_depth: limits.max_depth,
            upload_max_list_values: limits.max_list_values,
            upload_max_rule_values: limits.max_rule_values,
            upload_max_rules: limits.max_rules,
            upload_max_regexes: limits.max_regexes,
            upload_max_regex_bytes: limits.max_regex_bytes,
            tenant_max_rules: 1_000,
            compile_workers: 2,
        }
    }
}

/// Twelve hours: a working day, then a fresh login.
pub const DEFAULT_SESSION_MINUTES: u32 = 12 * 60;

/// Longest session accepted: a year. A login is a person at a console; a
/// machine that needs a lasting credential gets an API token instead.
pub const MAX_SESSION_MINUTES: u32 = 366 * 24 * 60;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("vigil-data"),
            log: "info".into(),
            session_minutes: DEFAULT_SESSION_MINUTES,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            request_body_timeout_secs: 60,
            max_connections: 1024,
            max_connections_per_address: 256,
            unauthenticated_body_bytes: 8 << 10,
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl IngestConfig {
    /// The request limits hold together: some work is allowed, and one
    /// tenant's share leaves room for the others.
    pub(crate) fn validate_limits(&self) -> Result<(), String> {
        if self.max_events_per_request == 0 {
            return Err("ingest.max_events_per_request must be above 0".into());
        }
        if self.max_concurrent_per_tenant == 0
            || self.max_concurrent_per_tenant >= self.max_concurrent_requests
        {
            return Err(format!(
                "ingest.max_concurrent_per_tenant must be 1 or more and below ingest.max_concurrent_requests ({}), got {}",
                self.max_concurrent_requests, self.max_concurrent_per_tenant
            ));
        }
        if !(1..=3600).contains(&self.body_timeout_secs) {
            return Err(format!(
                "ingest.body_timeout_secs must be 1 to 3600, got {}",
                self.body_timeout_secs
            ));
        }
        Ok(())
    }
}

/// Longest of the HTTP timeouts accepted: an hour.
pub const MAX_HTTP_TIMEOUT_SECS: u64 = 3600;

impl ServerConfig {
    /// The HTTP limits: timeouts 1 s to an hour, caps above 0, TLS files
    /// both or neither.
    pub(crate) fn validate_http(&self) -> Result<(), String> {
        for (key, secs) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("request_body_timeout_secs", self.request_body_timeout_secs),
        ] {
            if !(1..=MAX_HTTP_TIMEOUT_SECS).contains(&secs) {
                return Err(format!(
                    "server.{key} must be 1 to {MAX_HTTP_TIMEOUT_SECS}, got {secs}"
                ));
            }
        }
        if self.max_connections == 0 || self.max_connections_per_address == 0 {
            return Err(
                "server.max_connections and server.max_connections_per_address must be above 0"
                    .into(),
            );
        }
        if !(256..=1 << 20).contains(&self.unauthenticated_body_bytes) {
            return Err(format!(
                "server.unauthenticated_body_bytes must be 256 to 1048576, got {}",
                self.unauthenticated_body_bytes
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(
                "server.tls_cert and server.tls_key go together: set both or neither".into(),
            );
        }
        Ok(())
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_body_bytes: 64 << 20,
            max_line_bytes: 1 << 20,
            max_events_per_request: 100_000,
            // Sized for two cores: decoding is CPU work, and more requests
            // at once than this only wait for the CPU while holding memory.
            // One tenant gets half, so that the others always have room.
            max_concurrent_requests: 16,
            max_concurrent_per_tenant: 8,
            body_timeout_secs: 120,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            commit_interval_ms: 1000,
            index_threads: 2,
            index_memory_mb: 128,
            max_open_writers: 16,
            wal_segment_mb: 64,
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            default_days: 30,
            interval_secs: 3600,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}{location}: {message}")]
    Invalid {
        origin: String,
        /// ` line N` or empty.
        location: String,
        message: String,
    },
    /// Everything wrong with the config, one problem a line.
    #[error("{}", list_problems(origin, problems))]
    Problems {
        origin: String,
        problems: Vec<Problem>,
    },
}

fn list_problems(origin: &str, problems: &[Problem]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| match p.line {
            Some(line) => format!(
                "{origin} line {line}: {}",
                Problem {
                    line: None,
                    ..p.clone()
                }
            ),
            None => format!("{origin}: {p}"),
        })
        .collect();
    lines.join("\n")
}

impl ConfigError {
    /// The problems found; one for an error that stops reading (an
    /// unreadable file, bad TOML syntax).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            ConfigError::Problems { problems, .. } => problems.clone(),
            other => vec![Problem::new("", other.to_string())],
        }
    }
}

impl Config {
    /// Reads `path` (defaults alone when `None`), then applies `VIGIL_*`
    /// variables from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (text, origin) = match path {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?,
                p.display().to_string(),
            ),
            None => (String::new(), "defaults".to_string()),
        };
        Self::parse(&text, &origin, env)
    }

    /// Parses TOML text; `origin` names it in errors. Every problem of
    /// keys, values and names is found at once (see
    /// [`crate::config_check`]); files are checked by
    /// [`Config::file_problems`].
    pub fn parse(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (config, problems) = Self::parse_all(text, origin, env)?;
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Problems {
                origin: origin.into(),
                problems,
            })
        }
    }

    /// Everything wrong with a config file, files included, as `serve`
    /// would refuse it (`vigil config check`): the keys that fit, and
    /// every problem. `Err` only when nothing can be read (no file, bad
    /// TOML syntax).
    pub fn check_file(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, Vec<Problem>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let (config, mut problems) = Self::parse_all(&text, &path.display().to_string(), env)?;
        for mut problem in config.file_problems() {
            problem.line = crate::config_check::locate_problem(&text, &problem);
            problems.push(problem);
        }
        Ok((config, problems))
    }

    /// The keys that fit and every problem of keys, values and names.
    fn parse_all(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, Vec<Problem>), ConfigError> {
        // Syntax first: nothing can be read past a syntax error.
        let table: toml::Table = toml::from_str(text).map_err(|e| invalid(origin, text, &e))?;
        // The file alone first, so that its problems carry its lines.
        let (config, mut problems, declared) = crate::config_check::read_keys(text, table);
        let overrides: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("VIGIL_"))
            .collect();
        let config = if overrides.is_empty() {
            config
        } else {
            match with_env(config.clone(), overrides) {
                Ok(config) => config,
                Err(problem) => {
                    problems.push(problem);
                    config
                }
            }
        };
        for mut problem in config.problems_declaring(&declared) {
            problem.line = crate::config_check::locate_problem(text, &problem);
            problems.push(problem);
        }
        // In the file's order (the table's keys come sorted by name).
        problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        Ok((config, problems))
    }

    /// The effective configuration as TOML (`vigil config show`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// `config` with the `VIGIL_*` variables applied; unknown ones are set
/// aside in `ignored_env`.
fn with_env(config: Config, overrides: Vec<(String, String)>) -> Result<Config, Problem> {
    let environment = |message: String| Problem::new("environment", message);
    let mut table = toml::Table::try_from(&config).map_err(|e| environment(e.to_string()))?;
    let mut ignored_env = Vec::new();
    for (name, value) in overrides {
        if !apply_env(&mut table, &name, &value) {
            ignored_env.push(name);
        }
    }
    let mut config: Config = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| environment(e.message().to_string()))?;
    config.ignored_env = ignored_env;
    Ok(config)
}

fn invalid(origin: &str, text: &str, e: &toml::de::Error) -> ConfigError {
    let location = e
        .span()
        .map(|span| {
            format!(
                " line {}",
                text[..span.start.min(text.len())].matches('\n').count() + 1
            )
        })
        .unwrap_or_default();
    ConfigError::Invalid {
        origin: origin.into(),
        location,
        message: e.message().to_string(),
    }
}

/// Keys without a default, absent from the table until set, that a
/// `VIGIL_*` variable may still set.
const OPTIONAL_KEYS: &[(&str, &str)] = &[("server", "tls_cert"), ("server", "tls_key")];

/// Sets the key that `VIGIL_A_B_C` names; false if it names none. Key
/// names contain `_` too, so the path is found by matching against the
/// keys the table has.
fn apply_env(table: &mut toml::Table, name: &str, value: &str) -> bool {
    let wanted = name.trim_start_matches("VIGIL_").to_ascii_lowercase();
    let found = table
        .iter()
        .filter_map(|(section, v)| Some((section, v.as_table()?)))
        .find_map(|(section, keys)| {
            let rest = wanted.strip_prefix(section.as_str())?.strip_prefix('_')?;
            (keys.contains_key(rest) || OPTIONAL_KEYS.contains(&(section.as_str(), rest)))
                .then(|| (section.clone(), rest.to_string()))
        });
    let Some((section, key)) = found else {
        return false;
    };
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    if let Some(keys) = table.get_mut(&section).and_then(toml::Value::as_table_mut) {
        keys.insert(key, parsed);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = Config::parse("", "test", env(&[])).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.server.data_dir, PathBuf::from("vigil-data"));
    }

    #[test]
    fn the_default_file_round_trips() {
        let text = Config::default().to_toml();
        assert_eq!(
            Config::parse(&text, "test", env(&[])).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn file_values_and_tenants() {
        let text = "[server]\nlisten = \"0.0.0.0:9000\"\n[[tenants]]\nname = \"acme\"\nretention_days = 7\n";
        let config = Config::parse(text, "test", env(&[])).unwrap();
        assert_eq!(config.server.listen.port(), 9000);
        assert_eq!(config.tenants[0].name.as_str(), "acme");
        assert_eq!(config.tenants[0].retention_days, Some(7));
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let text = "[server]\nlisten = \"127.0.0.1:1\"\n\n[ingest]\nmax_lines = 5\n";
        let err = Config::parse(text, "vigil.toml", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("vigil.toml line 5: ingest.max_lines: unknown field `max_lines`"),
            "{err}"
        );
    }

    #[test]
    fn bad_value_is_named_with_its_line() {
        let text = "[server]\nlisten = \"nowhere\"\n";
        let err = Config::parse(text, "vigil.toml", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("vigil.toml line 2:"), "{err}");
        let err = Config::parse("[[tenants]]\nname = \"Bad Name\"\n", "f", env(&[])).unwrap_err();
        assert!(err.to_string().contains("invalid tenant name"), "{err}");
    }

    #[test]
    fn environment_overrides_every_key() {
        let vars = env(&[
            ("VIGIL_SERVER_LISTEN", "127.0.0.1:9999"),
            ("VIGIL_INGEST_MAX_LINE_BYTES", "2048"),
            ("VIGIL_SERVER_DATA_DIR", "/tmp/x"),
            ("OTHER", "ignored"),
        ]);
        let config = Config::parse("[ingest]\nmax_line_bytes = 10\n", "t", vars).unwrap();
        assert_eq!(config.server.listen.port(), 9999);
        assert_eq!(config.ingest.max_line_bytes, 2048);
        assert_eq!(config.server.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn ingest_request_limits_are_read_and_checked() {
        let vars = env(&[
            ("VIGIL_INGEST_MAX_EVENTS_PER_REQUEST", "500"),
            ("VIGIL_INGEST_MAX_CONCURRENT_PER_TENANT", "2"),
        ]);
        let config = Config::parse("[ingest]\nmax_concurrent_requests = 3\n", "t", vars).unwrap();
        assert_eq!(config.ingest.max_events_per_request, 500);
        assert_eq!(config.ingest.max_concurrent_requests, 3);
        assert_eq!(config.ingest.max_concurrent_per_tenant, 2);
        for (text, named) in [
            ("max_events_per_request = 0", "max_events_per_request"),
            (
                "max_concurrent_per_tenant = 16",
                "max_concurrent_per_tenant",
            ),
            ("max_concurrent_per_tenant = 0", "max_concurrent_per_tenant"),
            ("body_timeout_secs = 0", "body_timeout_secs"),
        ] {
            let err = Config::parse(&format!("[ingest]\n{text}\n"), "t", env(&[])).unwrap_err();
            assert!(err.to_string().contains(named), "{text}: {err}");
        }
    }

    #[test]
    fn unknown_environment_is_set_aside_and_bad_values_refused() {
        let config = Config::parse("", "t", env(&[("VIGIL_NOPE", "1")])).unwrap();
        assert_eq!(config.ignored_env, vec!["VIGIL_NOPE".to_string()]);
        let err =
            Config::parse("", "t", env(&[("VIGIL_INGEST_MAX_LINE_BYTES", "many")])).unwrap_err();
        assert!(err.to_string().contains("environment"), "{err}");
    }

    #[test]
    fn auth_keys_default_environment_and_bounds() {
        let config = Config::parse("", "t", env(&[])).unwrap();
        assert_eq!(config.auth, AuthConfig::default());
        let config = Config::parse(
            "[auth]\nmax_delay_secs = 8\n",
            "t",
            env(&[("VIGIL_AUTH_IDLE_MINUTES", "5")]),
        )
        .unwrap();
        assert_eq!(
            (config.auth.max_delay_secs, config.auth.idle_minutes),
            (8, 5)
        );
        assert!(config.ignored_env.is_empty());
        for bad in [
            "[auth]\nfirst_delay_secs = 0\n",
            "[auth]\nfirst_delay_secs = 10\nmax_delay_secs = 5\n",
            "[auth]\nfree_failures_per_user = 0\n",
            "[auth]\nhash_wait_ms = 600000\n",
            "[auth]\nidle_minutes = 999999\n",
        ] {
            let err = Config::parse(bad, "t", env(&[]))
                .expect_err(bad)
                .to_string();
            assert!(err.contains("auth."), "{bad}: {err}");
        }
    }

    #[test]
    fn http_limits_defaults_environment_and_bounds() {
        let config = Config::parse("", "t", env(&[])).unwrap();
        assert_eq!(config.server.header_read_timeout_secs, 10);
        assert_eq!(config.server.tls_cert, None);
        let config = Config::parse(
            "",
            "t",
            env(&[
                ("VIGIL_SERVER_HEADER_READ_TIMEOUT_SECS", "2"),
                ("VIGIL_SERVER_TLS_CERT", "/etc/vigil/cert.pem"),
                ("VIGIL_SERVER_TLS_KEY", "/etc/vigil/key.pem"),
            ]),
        )
        .unwrap();
        assert_eq!(config.server.header_read_timeout_secs, 2);
        assert_eq!(
            config.server.tls_key,
            Some(PathBuf::from("/etc/vigil/key.pem"))
        );
        assert!(config.ignored_env.is_empty());
        for bad in [
            "[server]\nheader_read_timeout_secs = 0\n",
            "[server]\nidle_timeout_secs = 99999\n",
            "[server]\nmax_connections = 0\n",
            "[server]\nunauthenticated_body_bytes = 1\n",
            "[server]\ntls_cert = \"/c.pem\"\n",
        ] {
            let err = Config::parse(bad, "t", env(&[])).unwrap_err().to_string();
            assert!(err.contains("server."), "{bad}: {err}");
        }
    }

    #[test]
    fn session_minutes_default_file_environment_and_bounds() {
        let config = Config::parse("", "t", env(&[])).unwrap();
        assert_eq!(config.server.session_minutes, 720);
        let config = Config::parse("[server]\nsession_minutes = 30\n", "t", env(&[])).unwrap();
        assert_eq!(config.server.session_minutes, 30);
        let config = Config::parse(
            "[server]\nsession_minutes = 30\n",
            "t",
            env(&[("VIGIL_SERVER_SESSION_MINUTES", "90")]),
        )
        .unwrap();
        assert_eq!(config.server.session_minutes, 90);
        assert!(config.ignored_env.is_empty());
        for bad in ["0", "527041", "-5", "soon"] {
            let err = Config::parse("", "t", env(&[("VIGIL_SERVER_SESSION_MINUTES", bad)]))
                .expect_err(bad)
                .to_string();
            assert!(
                err.contains("session_minutes") || err.contains("environment"),
                "{bad}: {err}"
            );
        }
        let err = Config::parse("[server]\nsession_minutes = 0\n", "vigil.toml", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.session_minutes must be 1 to"), "{err}");
    }

    #[test]
    fn syslog_inputs_and_detection_are_checked() {
        let text = "[[inputs.syslog]]\nprotocol = \"tls\"\nlisten = \"127.0.0.1:6514\"\n";
        let err = Config::parse(text, "f", env(&[])).unwrap_err().to_string();
        assert!(
            err.contains("inputs.syslog[0]") && err.contains("tls_cert"),
            "{err}"
        );
        let text = "[[tenants]]\nname = \"acme\"\nsources = [\"10.0.0.0/33\"]\n";
        let err = Config::parse(text, "f", env(&[])).unwrap_err().to_string();
        assert!(err.contains("acme") && err.contains("10.0.0.0/33"), "{err}");
        let err = Config::parse("[detection]\nmin_level = \"severe\"\n", "f", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("min_level"), "{err}");
        let ok = "[[tenants]]\nname = \"acme\"\nsources = [\"192.0.2.0/24\", \"2001:db8::1\"]\n[[inputs.syslog]]\nprotocol = \"udp\"\nlisten = \"127.0.0.1:5514\"\ntenant = \"acme\"\n[detection]\nrule_paths = [\"/rules\"]\n";
        let config = Config::parse(ok, "f", env(&[])).expect("valid");
        assert_eq!(config.inputs.syslog.len(), 1);
        assert_eq!(config.detection.rule_paths.len(), 1);
    }

    #[test]
    fn upload_limits_have_defaults_env_overrides_and_bounds() {
        let config = Config::parse("", "t", env(&[])).unwrap();
        assert_eq!(
            config.detection.upload_limits(),
            vigil_sigma::limits::Limits::default()
        );
        let config = Config::parse(
            "",
            "t",
            env(&[("VIGIL_DETECTION_UPLOAD_MAX_BYTES", "65536")]),
        )
        .unwrap();
        assert_eq!(config.detection.upload_limits().max_bytes, 65536);
        let err = Config::parse("[detection]\nupload_max_depth = 2\n", "t", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("detection.upload_max_depth"), "{err}");
        assert!(Config::parse("[detection]\ncompile_workers = 0\n", "t", env(&[])).is_err());
    }

    #[test]
    fn check_policy_networks_are_read_and_checked() {
        let text = "[check_policy]\ndeny_networks = [\"10.0.0.0/8\"]\n[[tenants]]\nname = \"acme\"\ncheck_allow_networks = [\"127.0.0.0/8\", \"::1\"]\n";
        let config = Config::parse(text, "t", env(&[])).unwrap();
        assert_eq!(config.check_policy.deny_networks, ["10.0.0.0/8"]);
        assert_eq!(config.tenants[0].check_allow_networks.len(), 2);
        let config = Config::parse(
            "",
            "t",
            env(&[("VIGIL_CHECK_POLICY_ALLOW_NETWORKS", "[\"127.0.0.1\"]")]),
        )
        .unwrap();
        assert_eq!(config.check_policy.allow_networks, ["127.0.0.1"]);
        let err = Config::parse(
            "[check_policy]\ndeny_networks = [\"10.0.0.0/33\"]\n",
            "t",
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("check_policy.deny_networks") && err.contains("10.0.0.0/33"),
            "{err}"
        );
        let text = "[[tenants]]\nname = \"acme\"\ncheck_allow_networks = [\"localhost\"]\n";
        let err = Config::parse(text, "t", env(&[])).unwrap_err().to_string();
        assert!(err.contains("acme") && err.contains("localhost"), "{err}");
    }

    #[test]
    fn duplicate_tenants_and_bad_values_are_refused() {
        let text = "[[tenants]]\nname = \"a\"\n[[tenants]]\nname = \"a\"\n";
        assert!(Config::parse(text, "t", env(&[])).is_err());
        assert!(Config::parse("[storage]\nindex_memory_mb = 1\n", "t", env(&[])).is_err());
    }
}
