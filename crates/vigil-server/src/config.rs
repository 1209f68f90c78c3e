//! The configuration: one TOML file, every key with a default, every key
//! overridable by a `VIGIL_*` environment variable.
//!
//! The variable's name is the key's path in upper case joined by `_`:
//! `[server] listen` is `VIGIL_SERVER_LISTEN`, `[ingest] max_line_bytes` is
//! `VIGIL_INGEST_MAX_LINE_BYTES`. Its value is read as a TOML value
//! (`true`, `42`, `[1, 2]`) and, failing that, as a string.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use vigil_core::TenantName;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
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
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Largest accepted request body, after decompression (413 beyond).
    pub max_body_bytes: usize,
    /// Longest accepted NDJSON line.
    pub max_line_bytes: usize,
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
        DetectionConfig {
            rule_paths: Vec::new(),
            placeholders: None,
            builtin_rules: true,
            min_level: "low".into(),
            reload_interval_secs: 5,
            new_source_learning_hours: 24,
            state_interval_secs: 30,
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
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_body_bytes: 64 << 20,
            max_line_bytes: 1 << 20,
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

    /// Parses TOML text; `origin` names it in errors.
    pub fn parse(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        // Check the file alone first, so that its errors carry its lines.
        let config: Config = toml::from_str(text).map_err(|e| invalid(origin, text, &e))?;
        let overrides: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("VIGIL_"))
            .collect();
        if overrides.is_empty() {
            return config.validated(origin);
        }
        let mut table = toml::Table::try_from(&config).map_err(|e| ConfigError::Invalid {
            origin: origin.into(),
            location: String::new(),
            message: e.to_string(),
        })?;
        let mut ignored_env = Vec::new();
        for (name, value) in overrides {
            if !apply_env(&mut table, &name, &value) {
                ignored_env.push(name);
            }
        }
        let mut config: Config =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    origin: "environment".into(),
                    location: String::new(),
                    message: e.message().to_string(),
                })?;
        config.ignored_env = ignored_env;
        config.validated(origin)
    }

    fn validated(self, origin: &str) -> Result<Config, ConfigError> {
        let fail = |message: String| {
            Err(ConfigError::Invalid {
                origin: origin.into(),
                location: String::new(),
                message,
            })
        };
        if !(1..=MAX_SESSION_MINUTES).contains(&self.server.session_minutes) {
            return fail(format!(
                "server.session_minutes must be 1 to {MAX_SESSION_MINUTES} (a year), got {}",
                self.server.session_minutes
            ));
        }
        if self.ingest.max_line_bytes == 0 || self.ingest.max_body_bytes == 0 {
            return fail("ingest.max_line_bytes and ingest.max_body_bytes must be above 0".into());
        }
        if self.storage.index_threads == 0 || self.storage.max_open_writers == 0 {
            return fail(
                "storage.index_threads and storage.max_open_writers must be above 0".into(),
            );
        }
        if self.storage.index_memory_mb < 15 * self.storage.index_threads {
            return fail(format!(
                "storage.index_memory_mb must be at least 15 per index thread ({})",
                15 * self.storage.index_threads
            ));
        }
        if !["informational", "low", "medium", "high", "critical"]
            .contains(&self.detection.min_level.as_str())
        {
            return fail(format!(
                "detection.min_level must be informational, low, medium, high or critical, got {:?}",
                self.detection.min_level
            ));
        }
        if self.inputs.queue_batches == 0 || self.inputs.pipeline_workers == 0 {
            return fail("inputs.queue_batches and inputs.pipeline_workers must be above 0".into());
        }
        for (i, input) in self.inputs.syslog.iter().enumerate() {
            if let Err(e) = input.validate() {
                return fail(format!("inputs.syslog[{i}] ({}): {e}", input.listen));
            }
        }
        if let Err(e) = crate::noc::guard::Policies::validate(&self) {
            return fail(e);
        }
        for tenant in &self.tenants {
            for source in &tenant.sources {
                if let Err(e) = crate::pipeline::tenants::Cidr::parse(source) {
                    return fail(format!("tenant {:?}: sources: {e}", tenant.name.as_str()));
                }
            }
        }
        for asset in &self.assets {
            if let Err(e) = asset.input().to_spec() {
                return fail(format!("asset {:?}: {e}", asset.name));
            }
        }
        for check in &self.checks {
            if let Err(e) = crate::inventory::check_record(check.spec.clone()) {
                return fail(format!("a check of tenant {:?}: {e}", check.tenant));
            }
        }
        if let Err(e) = vigil_noc::Engine::new(Vec::new(), self.noc.clone()) {
            return fail(format!("noc: {e}"));
        }
        for window in &self.maintenance_windows {
            let doc = window.spec.clone();
            if let Err(e) =
                crate::noc::definitions::window_from_json(doc, vigil_core::Timestamp::now())
            {
                return fail(format!(
                    "a maintenance window of tenant {:?}: {e}",
                    window.tenant
                ));
            }
        }
        for rule in &self.noc_rules {
            if let Err(e) = crate::noc::definitions::rule_from_json(rule.spec.clone()) {
                return fail(format!("a NOC rule of tenant {:?}: {e}", rule.tenant));
            }
        }
        let mut names: Vec<&str> = self.tenants.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        if let Some(dup) = names.windows(2).find(|w| w[0] == w[1]) {
            return fail(format!("tenant {:?} is declared twice", dup[0]));
        }
        Ok(self)
    }

    /// The effective configuration as TOML (`vigil config show`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
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
            keys.contains_key(rest)
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
            err.starts_with("vigil.toml line 5: unknown field `max_lines`"),
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
    fn unknown_environment_is_set_aside_and_bad_values_refused() {
        let config = Config::parse("", "t", env(&[("VIGIL_NOPE", "1")])).unwrap();
        assert_eq!(config.ignored_env, vec!["VIGIL_NOPE".to_string()]);
        let err =
            Config::parse("", "t", env(&[("VIGIL_INGEST_MAX_LINE_BYTES", "many")])).unwrap_err();
        assert!(err.to_string().contains("environment"), "{err}");
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
