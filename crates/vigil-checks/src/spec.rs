//! What a check is: [`CheckSpec`], as read from a config or the API, and
//! its validation.
//!
//! Validation happens once, when a check is added, so that a run never has
//! to report "your config is wrong" as if the target were down.

use crate::duration::serde_duration;
use crate::format_duration;
use crate::http::Url;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The shortest interval a check may run at.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// The longest interval: a check run less than daily is not monitoring.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// More retries than this only hide a flapping target.
pub const MAX_RETRIES: u8 = 10;
/// Pings in one burst.
pub const MAX_PINGS: u16 = 100;
/// Redirects an HTTP check may follow.
pub const MAX_REDIRECTS: u8 = 20;
/// The longest a run may take: a check is a probe, not a transfer.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest target (a host name, an address, a URL).
pub const MAX_TARGET_BYTES: usize = 2048;
/// The longest text an HTTP check looks for in a body.
pub const MAX_EXPECT_TEXT_BYTES: usize = 1024;
/// Answers a DNS check may expect, and the length of each.
pub const MAX_EXPECTED_ANSWERS: usize = 32;
pub const MAX_ANSWER_BYTES: usize = 255;
/// Ten years: a certificate warning further out is a typo.
pub const MAX_CERT_MIN_DAYS: u32 = 3650;
/// The shortest pause between two pings of a burst.
pub const MIN_PING_INTERVAL: Duration = Duration::from_millis(10);
pub use crate::tls::MAX_CA_BYTES;

/// One check: what to check, where, and how often.
///
/// In TOML: `kind = "http"`, the fields of that kind, then `target`,
/// `interval = "30s"`, `timeout = "5s"`, `retries = 1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckSpec {
    #[serde(flatten)]
    pub kind: CheckKind,
    /// The host (name or address) of ICMP and TCP checks. HTTP and DNS
    /// checks take their peer from `url` and `server`; for them `target`
    /// is the name the results are labelled with.
    pub target: String,
    #[serde(with = "serde_duration")]
    pub interval: Duration,
    /// The budget of one run, retries included.
    #[serde(with = "serde_duration")]
    pub timeout: Duration,
    /// Further attempts after a failed one, while the budget lasts.
    #[serde(default)]
    pub retries: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CheckKind {
    /// A burst of `count` echo requests, `interval` apart.
    Icmp {
        #[serde(default = "default_ping_count")]
        count: u16,
        #[serde(with = "serde_duration", default = "default_ping_interval")]
        interval: Duration,
    },
    /// Up when a TCP connection to `target:port` is accepted.
    Tcp { port: u16 },
    Http {
        url: String,
        /// Statuses that count as up; 200–399 when not given.
        #[serde(default)]
        expect_status: Option<StatusExpect>,
        /// Text the body must contain.
        #[serde(default)]
        expect_text: Option<String>,
        #[serde(default)]
        follow_redirects: u8,
        /// Down when the certificate chain does not verify.
        #[serde(default = "yes")]
        verify_tls: bool,
        /// A CA file (PEM) to verify against instead of the system's: for
        /// checks of a config file only; the server refuses it from the API.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ca_file: Option<PathBuf>,
        /// CA certificates as PEM text, kept with the check (at most
        /// [`MAX_CA_BYTES`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ca_pem: Option<String>,
        /// Down when the certificate expires in fewer days; 0 never.
        #[serde(default = "default_cert_min_days")]
        cert_min_days: u32,
    },
    Dns {
        name: String,
        #[serde(default)]
        record_type: RecordType,
        server: SocketAddr,
        /// Answers (addresses, names, texts) that must all be present.
        #[serde(default)]
        expect: Option<Vec<String>>,
    },
}

fn default_ping_count() -> u16 {
    3
}

fn default_ping_interval() -> Duration {
    Duration::from_millis(200)
}

fn default_cert_min_days() -> u32 {
    7
}

fn yes() -> bool {
    true
}

/// The DNS record types a check can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordType {
    #[default]
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
}

impl RecordType {
    pub fn code(self) -> u16 {
        use crate::dns::{TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_MX, TYPE_TXT};
        match self {
            RecordType::A => TYPE_A,
            RecordType::Cname => TYPE_CNAME,
            RecordType::Mx => TYPE_MX,
            RecordType::Txt => TYPE_TXT,
            RecordType::Aaaa => TYPE_AAAA,
        }
    }

    pub fn from_code(code: u16) -> Option<RecordType> {
        [
            RecordType::A,
            RecordType::Aaaa,
            RecordType::Cname,
            RecordType::Mx,
            RecordType::Txt,
        ]
        .into_iter()
        .find(|t| t.code() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
        }
    }
}

/// The HTTP statuses that count as up: written `"200-299"`, `"200,301"`,
/// `200` or `[200, 301]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusExpect {
    Range(u16, u16),
    List(Vec<u16>),
}

impl StatusExpect {
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            StatusExpect::Range(low, high) => (*low..=*high).contains(&status),
            StatusExpect::List(list) => list.contains(&status),
        }
    }

    fn parse(text: &str) -> Result<StatusExpect, String> {
        let number = |s: &str| {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|n| (100..=599).contains(n))
                .ok_or_else(|| format!("{s:?} is not an HTTP status (100-599)"))
        };
        if let Some((low, high)) = text.split_once('-') {
            let (low, high) = (number(low)?, number(high)?);
            if low > high {
                return Err(format!("status range {text:?} is empty"));
            }
            return Ok(StatusExpect::Range(low, high));
        }
        let list = text.split(',').map(number).collect::<Result<Vec<_>, _>>()?;
        Ok(StatusExpect::List(list))
    }
}

impl std::fmt::Display for StatusExpect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusExpect::Range(low, high) => write!(f, "{low}-{high}"),
            StatusExpect::List(list) => {
                let list: Vec<String> = list.iter().map(u16::to_string).collect();
                f.write_str(&list.join(","))
            }
        }
    }
}

impl Serialize for StatusExpect {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for StatusExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Text(String),
            One(u16),
            Many(Vec<u16>),
        }
        let text = match Written::deserialize(deserializer)? {
            Written::Text(text) => text,
            Written::One(n) => n.to_string(),
            Written::Many(list) => {
                let list: Vec<String> = list.iter().map(u16::to_string).collect();
                list.join(",")
            }
        };
        StatusExpect::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("the target is empty")]
    EmptyTarget,
    #[error("interval {0} is shorter than the minimum of 100ms")]
    IntervalTooShort(String),
    #[error("interval {0} is longer than the maximum of 24h")]
    IntervalTooLong(String),
    #[error("timeout must be more than zero")]
    ZeroTimeout,
    #[error("timeout {0} is longer than the maximum of 60s")]
    TimeoutTooLong(String),
    #[error("the target is longer than {MAX_TARGET_BYTES} bytes")]
    LongTarget,
    #[error("timeout {timeout} is longer than the interval {interval}")]
    TimeoutOverInterval { timeout: String, interval: String },
    #[error("retries {0} is more than the maximum of {MAX_RETRIES}")]
    TooManyRetries(u8),
    #[error("an ICMP check needs between 1 and {MAX_PINGS} pings, not {0}")]
    PingCount(u16),
    #[error("{count} pings {interval} apart do not fit in the timeout {timeout}")]
    PingsOverTimeout {
        count: u16,
        interval: String,
        timeout: String,
    },
    #[error("port 0 cannot be checked")]
    ZeroPort,
    #[error("url {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("follow_redirects {0} is more than the maximum of {MAX_REDIRECTS}")]
    TooManyRedirects(u8),
    #[error("expect_text is empty")]
    EmptyExpectText,
    #[error("expect_text is longer than {MAX_EXPECT_TEXT_BYTES} bytes")]
    LongExpectText,
    #[error("cert_min_days {0} is more than the maximum of {MAX_CERT_MIN_DAYS}")]
    CertMinDays(u32),
    #[error("ca_pem: {0}")]
    CaPem(String),
    #[error("give ca_pem or ca_file, not both")]
    CaTwice,
    #[error("ping interval {0} is shorter than the minimum of 10ms")]
    PingInterval(String),
    #[error("a DNS check expects at most {MAX_EXPECTED_ANSWERS} answers of at most {MAX_ANSWER_BYTES} bytes each")]
    ExpectedAnswers,
    #[error("DNS name {name:?}: {reason}")]
    DnsName { name: String, reason: &'static str },
    #[error("an expected DNS answer is empty")]
    EmptyExpectedAnswer,
    #[error("{0} has a control character (CR, LF, NUL or another): refused")]
    ControlCharacter(&'static str),
}

impl SpecError {
    /// The setting the error is about, for messages that name it.
    pub fn field(&self) -> &'static str {
        match self {
            SpecError::EmptyTarget | SpecError::LongTarget => "target",
            SpecError::IntervalTooShort(_) | SpecError::IntervalTooLong(_) => "interval",
            SpecError::ZeroTimeout
            | SpecError::TimeoutTooLong(_)
            | SpecError::TimeoutOverInterval { .. }
            | SpecError::PingsOverTimeout { .. } => "timeout",
            SpecError::TooManyRetries(_) => "retries",
            SpecError::PingCount(_) => "count",
            SpecError::PingInterval(_) => "interval",
            SpecError::ZeroPort => "port",
            SpecError::Url { .. } => "url",
            SpecError::TooManyRedirects(_) => "follow_redirects",
            SpecError::EmptyExpectText | SpecError::LongExpectText => "expect_text",
            SpecError::CertMinDays(_) => "cert_min_days",
            SpecError::CaPem(_) | SpecError::CaTwice => "ca_pem",
            SpecError::ExpectedAnswers | SpecError::EmptyExpectedAnswer => "expect",
            SpecError::DnsName { .. } => "name",
            SpecError::ControlCharacter(field) => field,
        }
    }
}

impl CheckSpec {
    /// Checks everything that can be known without the network.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.target.trim().is_empty() {
            return Err(SpecError::EmptyTarget);
        }
        if self.target.len() > MAX_TARGET_BYTES {
            return Err(SpecError::LongTarget);
        }
        self.refuse_control()?;
        if self.interval < MIN_INTERVAL {
            return Err(SpecError::IntervalTooShort(format_duration(self.interval)));
        }
        if self.interval > MAX_INTERVAL {
            return Err(SpecError::IntervalTooLong(format_duration(self.interval)));
        }
        if self.timeout.is_zero() {
            return Err(SpecError::ZeroTimeout);
        }
        if self.timeout > MAX_TIMEOUT {
            return Err(SpecError::TimeoutTooLong(format_duration(self.timeout)));
        }
        if self.timeout > self.interval {
            return Err(SpecError::TimeoutOverInterval {
                timeout: format_duration(self.timeout),
                interval: format_duration(self.interval),
            });
        }
        if self.retries > MAX_RETRIES {
            return Err(SpecError::TooManyRetries(self.retries));
        }
        self.kind.validate(self.timeout)
    }
}

impl CheckSpec {
    /// A host, URL or name with a control character would inject protocol
    /// lines (CR/LF) or hide what it is: refused.
    fn refuse_control(&self) -> Result<(), SpecError> {
        let texts: [(&'static str, Option<&str>); 3] = match &self.kind {
            CheckKind::Http { url, .. } => [
                ("target", Some(&self.target)),
                ("url", Some(url)),
                ("", None),
            ],
            CheckKind::Dns { name, .. } => [
                ("target", Some(&self.target)),
                ("name", Some(name)),
                ("", None),
            ],
            _ => [("target", Some(&self.target)), ("", None), ("", None)],
        };
        match texts
            .into_iter()
            .find(|(_, t)| t.is_some_and(crate::guard::has_control))
        {
            Some((field, _)) => Err(SpecError::ControlCharacter(field)),
            None => Ok(()),
        }
    }

    /// The peers this check connects to that are written as address
    /// literals, with their ports (0 for ICMP). Names are judged when they
    /// are resolved, at every run; literals can be judged when the check
    /// is made.
    pub fn literal_peers(&self) -> Vec<SocketAddr> {
        let literal = |host: &str| {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .ok()
        };
        let peer = |host: &str, port| literal(host).map(|ip| SocketAddr::new(ip, port));
        match &self.kind {
            CheckKind::Icmp { .. } => peer(&self.target, 0).into_iter().collect(),
            CheckKind::Tcp { port } => peer(&self.target, *port).into_iter().collect(),
            CheckKind::Http { url, .. } => Url::parse(url)
                .ok()
                .and_then(|u| peer(&u.host, u.port))
                .into_iter()
                .collect(),
            CheckKind::Dns { server, .. } => vec![*server],
        }
    }

    /// Judges the literal peers by `policy` (see [`Self::literal_peers`]).
    pub fn check_policy(&self, policy: &crate::NetworkPolicy) -> Result<(), crate::Denial> {
        self.literal_peers().into_iter().try_for_each(|peer| {
            if peer.port() == 0 {
                policy.check_ip(peer.ip())
            } else {
                policy.check(peer)
            }
        })
    }
}

impl CheckKind {
    fn validate(&self, timeout: Duration) -> Result<(), SpecError> {
        match self {
            CheckKind::Icmp { count, interval } => validate_icmp(*count, *interval, timeout),
            CheckKind::Tcp { port } if *port == 0 => Err(SpecError::ZeroPort),
            CheckKind::Tcp { .. } => Ok(()),
            CheckKind::Http {
                url,
                follow_redirects,
                expect_text,
                ca_file,
                ca_pem,
                cert_min_days,
                ..
            } => {
                validate_http(url, *follow_redirects, expect_text.as_deref())?;
                if *cert_min_days > MAX_CERT_MIN_DAYS {
                    return Err(SpecError::CertMinDays(*cert_min_days));
                }
                validate_ca(ca_file.as_deref(), ca_pem.as_deref())
            }
            CheckKind::Dns { name, expect, .. } => validate_dns(name, expect.as_deref()),
        }
    }

    /// The `check` label of the samples.
    pub fn label(&self) -> &'static str {
        match self {
            CheckKind::Icmp { .. } => "icmp",
            CheckKind::Tcp { .. } => "tcp",
            CheckKind::Http { .. } => "http",
            CheckKind::Dns { .. } => "dns",
        }
    }
}

fn validate_icmp(count: u16, interval: Duration, timeout: Duration) -> Result<(), SpecError> {
    if count == 0 || count > MAX_PINGS {
        return Err(SpecError::PingCount(count));
    }
    if interval < MIN_PING_INTERVAL {
        return Err(SpecError::PingInterval(format_duration(interval)));
    }
    let burst = interval.checked_mul(u32::from(count - 1));
    if burst.is_none_or(|burst| burst >= timeout) {
        return Err(SpecError::PingsOverTimeout {
            count,
            interval: format_duration(interval),
            timeout: format_duration(timeout),
        });
    }
    Ok(())
}

fn validate_http(url: &str, redirects: u8, text: Option<&str>) -> Result<(), SpecError> {
    Url::parse(url).map_err(|e| SpecError::Url {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    if redirects > MAX_REDIRECTS {
        return Err(SpecError::TooManyRedirects(redirects));
    }
    if text.is_some_and(str::is_empty) {
        return Err(SpecError::EmptyExpectText);
    }
    if text.is_some_and(|t| t.len() > MAX_EXPECT_TEXT_BYTES) {
        return Err(SpecError::LongExpectText);
    }
    Ok(())
}

/// PEM text must be small and hold a usable CA certificate; a file is read
/// only when a check runs (it is the MSP's, from the config).
fn validate_ca(file: Option<&std::path::Path>, pem: Option<&str>) -> Result<(), SpecError> {
    let Some(pem) = pem else {
        return Ok(());
    };
    if file.is_some() {
        return Err(SpecError::CaTwice);
    }
    if pem.len() > MAX_CA_BYTES {
        return Err(SpecError::CaPem(format!(
            "longer than the maximum of {MAX_CA_BYTES} bytes"
        )));
    }
    crate::tls::pem_roots(pem.as_bytes())
        .map(drop)
        .map_err(SpecError::CaPem)
}

fn validate_dns(name: &str, expect: Option<&[String]>) -> Result<(), SpecError> {
    crate::dns::encode_name(name, &mut Vec::new()).map_err(|reason| SpecError::DnsName {
        name: name.to_owned(),
        reason,
    })?;
    if expect.is_some_and(|list| list.iter().any(|e| e.trim().is_empty())) {
        return Err(SpecError::EmptyExpectedAnswer);
    }
    let too_many = |list: &[String]| {
        list.len() > MAX_EXPECTED_ANSWERS || list.iter().any(|e| e.len() > MAX_ANSWER_BYTES)
    };
    if expect.is_some_and(too_many) {
        return Err(SpecError::ExpectedAnswers);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> CheckSpec {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn reads_an_http_check_from_toml() {
        let spec = read(
            r#"
            kind = "http"
            url = "https://example.org/health"
            expect_status = "200-299"
            expect_text = "ok"
            follow_redirects = 3
            target = "example.org"
            interval = "30s"
            timeout = "5s"
            retries = 2
            "#,
        );
        assert_eq!(spec.interval, Duration::from_secs(30));
        assert_eq!(spec.retries, 2);
        let CheckKind::Http {
            expect_status,
            verify_tls,
            cert_min_days,
            ..
        } = &spec.kind
        else {
            panic!("not http: {spec:?}");
        };
        assert_eq!(expect_status, &Some(StatusExpect::Range(200, 299)));
        assert!(verify_tls);
        assert_eq!(*cert_min_days, 7);
        spec.validate().unwrap();
    }

    #[test]
    fn round_trips_through_json() {
        let spec = read(
            r#"
            kind = "dns"
            name = "example.org"
            record_type = "AAAA"
            server = "127.0.0.1:53"
            expect = ["::1"]
            target = "resolver"
            interval = "1m"
            timeout = "2s"
            "#,
        );
        let json = serde_json::to_string(&spec).unwrap();
        assert!(json.contains(r#""kind":"dns""#), "{json}");
        assert!(json.contains(r#""interval":"1m""#), "{json}");
        let back: CheckSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn reads_statuses_in_each_form() {
        let status = |json: &str| serde_json::from_str::<StatusExpect>(json);
        assert_eq!(status("200").unwrap(), StatusExpect::List(vec![200]));
        assert_eq!(
            status("[200, 301]").unwrap(),
            StatusExpect::List(vec![200, 301])
        );
        assert_eq!(
            status(r#""200,204""#).unwrap(),
            StatusExpect::List(vec![200, 204])
        );
        assert!(status(r#""300-200""#).is_err());
        assert!(status("700").is_err());
    }

    #[test]
    fn a_bad_duration_is_a_clear_error() {
        let error = toml::from_str::<CheckSpec>(
            "kind = \"tcp\"\nport = 80\ntarget = \"h\"\ninterval = \"30\"\ntimeout = \"1s\"",
        )
        .unwrap_err();
        assert!(error.to_string().contains("has no unit"), "{error}");
    }

    fn tcp(interval: u64, timeout: u64) -> CheckSpec {
        CheckSpec {
            kind: CheckKind::Tcp { port: 80 },
            target: "h".into(),
            interval: Duration::from_millis(interval),
            timeout: Duration::from_millis(timeout),
            retries: 0,
        }
    }

    #[test]
    fn validation_says_what_is_wrong() {
        assert_eq!(
            tcp(1000, 2000).validate().unwrap_err().to_string(),
            "timeout 2s is longer than the interval 1s"
        );
        assert!(matches!(
            tcp(50, 10).validate(),
            Err(SpecError::IntervalTooShort(_))
        ));
        assert_eq!(
            tcp(48 * 3_600_000, 1000)
                .validate()
                .unwrap_err()
                .to_string(),
            "interval 48h is longer than the maximum of 24h"
        );
        let mut spec = tcp(1000, 500);
        spec.kind = CheckKind::Icmp {
            count: 5,
            interval: Duration::from_millis(200),
        };
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            "5 pings 200ms apart do not fit in the timeout 500ms"
        );
        spec.kind = CheckKind::Http {
            url: "ftp://x".into(),
            expect_status: None,
            expect_text: None,
            follow_redirects: 0,
            verify_tls: true,
            ca_file: None,
            ca_pem: None,
            cert_min_days: 7,
        };
        assert!(spec
            .validate()
            .unwrap_err()
            .to_string()
            .contains("only http and https"));
        spec.kind = CheckKind::Dns {
            name: "a..b".into(),
            record_type: RecordType::A,
            server: "127.0.0.1:53".parse().unwrap(),
            expect: None,
        };
        assert!(matches!(spec.validate(), Err(SpecError::DnsName { .. })));
    }

    #[test]
    fn control_characters_are_refused_and_literals_judged() {
        let mut spec = tcp(1000, 500);
        spec.target = "db01\r\nX: y".into();
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            "target has a control character (CR, LF, NUL or another): refused"
        );
        spec.target = "127.0.0.1".into();
        spec.validate().unwrap();
        let policy = crate::NetworkPolicy::default();
        assert!(spec.check_policy(&policy).is_err());
        spec.target = "db01".into();
        assert!(
            spec.literal_peers().is_empty(),
            "a name is judged at run time"
        );
        spec.kind = CheckKind::Http {
            url: "http://[::1]:8080/".into(),
            expect_status: None,
            expect_text: None,
            follow_redirects: 0,
            verify_tls: true,
            ca_file: None,
            ca_pem: None,
            cert_min_days: 7,
        };
        assert_eq!(spec.literal_peers(), vec!["[::1]:8080".parse().unwrap()]);
        assert!(spec.check_policy(&policy).is_err());
    }
}
