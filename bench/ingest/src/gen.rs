//! Synthetic, realistic-looking security/network events, pre-generated as
//! NDJSON request bodies before any timing starts.

use bytes::Bytes;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fmt::Write as _;
use std::io::Write as _;

/// Number of distinct `host.name` values (`host-0` .. `host-49`).
pub const HOSTS: u32 = 50;
/// Number of distinct `user.name` values (`user0` .. `user199`).
pub const USERS: u32 = 200;

const ACTIONS: &[&str] = &[
    "logon",
    "logoff",
    "file-open",
    "process-start",
    "dns-query",
    "http-request",
    "connection-accepted",
    "connection-denied",
];

const DEST_PORTS: &[u16] = &[22, 25, 53, 80, 123, 443, 445, 3306, 3389, 8080];

/// Status codes, weighted by repetition: mostly 2xx, some 4xx and 5xx.
const STATUS: &[u16] = &[
    200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201, 204, 301, 302, 304,
    400, 401, 403, 404, 404, 500, 502, 503, 504,
];

/// Words for `message`; `timeout` is the bare word the search phase looks for.
const WORDS: &[&str] = &[
    "connection",
    "accepted",
    "refused",
    "timeout",
    "session",
    "opened",
    "closed",
    "for",
    "user",
    "from",
    "port",
    "ssh2",
    "password",
    "invalid",
    "failed",
    "publickey",
    "request",
    "completed",
    "upstream",
    "backend",
    "latency",
    "high",
    "disk",
    "quota",
    "exceeded",
    "service",
    "restarted",
    "kernel",
    "packet",
    "dropped",
    "firewall",
    "rule",
    "matched",
    "policy",
    "denied",
    "allowed",
    "token",
    "expired",
    "renewed",
    "certificate",
    "handshake",
    "tls",
    "dns",
    "lookup",
    "resolved",
    "cache",
    "miss",
    "hit",
    "query",
    "slow",
    "process",
    "spawned",
    "terminated",
    "signal",
    "memory",
    "pressure",
    "retry",
    "scheduled",
    "job",
    "started",
    "finished",
    "error",
    "warning",
    "notice",
];

/// The search phase's queries: (label, query). `Counts` tracks, for each,
/// how many generated events must match it, so the search figure doubles as
/// a correctness check.
pub const QUERIES: &[(&str, &str)] = &[
    ("field", "user.name:user17"),
    ("AND", "host.name:host-3 AND event.outcome:failure"),
    ("CIDR v4", "source.ip:10.1.0.0/16"),
    ("range", "http.response.status_code:[500 TO 599]"),
    ("bare word", "timeout"),
    ("wildcard", "host.name:host-4*"),
    (
        "OR/NOT",
        "(event.action:logon OR event.action:logoff) AND NOT event.outcome:success",
    ),
    ("CIDR v6", "source.ip:fd00::/16"),
];

/// Expected hit count per entry of `QUERIES`.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts(pub [u64; QUERIES.len()]);

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }
}

/// Shape of the generated JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// ECS-style nested objects: `{"host":{"name":"host-3"}}`.
    Nested,
    /// Flat dotted keys: `{"host.name":"host-3"}`.
    Flat,
}

pub struct GenConfig {
    pub events: u64,
    pub batch: usize,
    pub run_id: String,
    pub shape: Shape,
    pub gzip: bool,
    pub seed: u64,
    /// Events are spread over this window, ending at generation time.
    pub spread: ChronoDuration,
}

/// One pre-built request body.
pub struct Batch {
    pub body: Bytes,
    /// Events in the body.
    pub events: u64,
    /// Uncompressed NDJSON size in bytes.
    pub raw_bytes: u64,
    /// Expected query hits contributed by this batch.
    pub counts: Counts,
}

pub struct Generated {
    pub batches: Vec<Batch>,
    pub raw_bytes: u64,
    pub wire_bytes: u64,
    /// Earliest `@timestamp` (the latest is the generation time).
    pub first_time: DateTime<Utc>,
}

/// What is fixed about one event; the rest is drawn at random.
pub struct EventSpec<'a> {
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub run_id: &'a str,
    pub shape: Shape,
    /// Value of `bench.marker`, if any.
    pub marker: Option<&'a str>,
}

/// Writes one event as a single JSON line (without the newline) and adds
/// the queries it matches to `counts`.
pub fn write_event(
    out: &mut String,
    rng: &mut impl Rng,
    spec: &EventSpec<'_>,
    counts: &mut Counts,
) {
    let EventSpec {
        seq,
        time,
        run_id,
        shape,
        marker,
    } = *spec;
    let ts = time.to_rfc3339_opts(SecondsFormat::Millis, true);
    let host = rng.gen_range(0..HOSTS);
    let user = rng.gen_range(0..USERS);
    let v6 = rng.gen_bool(0.05);
    let octet2: u8 = rng.gen();
    let src_ip = if v6 {
        format!(
            "fd00:{:x}:{:x}::{:x}",
            rng.gen::<u16>(),
            rng.gen::<u16>(),
            rng.gen::<u16>() | 1
        )
    } else {
        format!(
            "10.{}.{}.{}",
            octet2,
            rng.gen::<u8>(),
            rng.gen_range(1..255u8)
        )
    };
    let src_port: u16 = rng.gen_range(1024..=65535);
    let dst_port = DEST_PORTS[rng.gen_range(0..DEST_PORTS.len())];
    let action = ACTIONS[rng.gen_range(0..ACTIONS.len())];
    let outcome = match rng.gen_range(0..100u8) {
        0..=84 => "success",
        85..=96 => "failure",
        _ => "unknown",
    };
    let status = STATUS[rng.gen_range(0..STATUS.len())];
    let mut message = String::with_capacity(64);
    let mut has_timeout = false;
    for i in 0..rng.gen_range(3..=7) {
        if i > 0 {
            message.push(' ');
        }
        let word = WORDS[rng.gen_range(0..WORDS.len())];
        has_timeout |= word == "timeout";
        message.push_str(word);
    }

    let hits = [
        user == 17,
        host == 3 && outcome == "failure",
        !v6 && octet2 == 1,
        (500..=599).contains(&status),
        has_timeout,
        host == 4 || (40..=49).contains(&host),
        (action == "logon" || action == "logoff") && outcome != "success",
        v6,
    ];
    for (c, hit) in counts.0.iter_mut().zip(hits) {
        *c += u64::from(hit);
    }

    // Field values are generated above from fixed alphabets: none needs
    // JSON escaping.
    match shape {
        Shape::Nested => {
            let _ = write!(
                out,
                r#"{{"@timestamp":"{ts}","seq":{seq},"bench":{{"run":"{run_id}""#
            );
            if let Some(m) = marker {
                let _ = write!(out, r#","marker":"{m}""#);
            }
            let _ = write!(
                out,
                concat!(
                    r#"}},"host":{{"name":"host-{host}"}},"#,
                    r#""source":{{"ip":"{src_ip}","port":{src_port}}},"#,
                    r#""destination":{{"port":{dst_port}}},"#,
                    r#""user":{{"name":"user{user}"}},"#,
                    r#""event":{{"action":"{action}","outcome":"{outcome}"}},"#,
                    r#""http":{{"response":{{"status_code":{status}}}}},"#,
                    r#""message":"{message}"}}"#
                ),
                host = host,
                src_ip = src_ip,
                src_port = src_port,
                dst_port = dst_port,
                user = user,
                action = action,
                outcome = outcome,
                status = status,
                message = message,
            );
        }
        Shape::Flat => {
            let _ = write!(
                out,
                r#"{{"@timestamp":"{ts}","seq":{seq},"bench.run":"{run_id}""#
            );
            if let Some(m) = marker {
                let _ = write!(out, r#","bench.marker":"{m}""#);
            }
            let _ = write!(
                out,
                concat!(
                    r#","host.name":"host-{host}","#,
                    r#""source.ip":"{src_ip}","source.port":{src_port},"#,
                    r#""destination.port":{dst_port},"#,
                    r#""user.name":"user{user}","#,
                    r#""event.action":"{action}","event.outcome":"{outcome}","#,
                    r#""http.response.status_code":{status},"#,
                    r#""message":"{message}"}}"#
                ),
                host = host,
                src_ip = src_ip,
                src_port = src_port,
                dst_port = dst_port,
                user = user,
                action = action,
                outcome = outcome,
                status = status,
                message = message,
            );
        }
    }
}

pub fn gzip(data: &[u8]) -> Bytes {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    Bytes::from(enc.finish().unwrap_or_default())
}

/// Generates all request bodies. The last event of the last batch carries
/// `bench.marker = final_marker`.
pub fn generate(cfg: &GenConfig, final_marker: &str) -> Generated {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let now = Utc::now();
    let first_time = now - cfg.spread;
    let spread_ms = cfg.spread.num_milliseconds().max(1) as f64;
    let n = cfg.events.max(1);
    let batch = cfg.batch.max(1) as u64;
    let nbatches = n.div_ceil(batch);

    let mut batches = Vec::with_capacity(nbatches as usize);
    let mut raw_total = 0u64;
    let mut wire_total = 0u64;
    let mut seq = 0u64;
    let mut text = String::new();
    for b in 0..nbatches {
        let count = batch.min(n - seq);
        text.clear();
        text.reserve(count as usize * 360);
        let mut counts = Counts::default();
        for i in 0..count {
            let offset_ms = (seq as f64 / n as f64 * spread_ms) as i64;
            let time = first_time + ChronoDuration::milliseconds(offset_ms);
            let is_final = b == nbatches - 1 && i == count - 1;
            let spec = EventSpec {
                seq,
                time,
                run_id: &cfg.run_id,
                shape: cfg.shape,
                marker: is_final.then_some(final_marker),
            };
            write_event(&mut text, &mut rng, &spec, &mut counts);
            text.push('\n');
            seq += 1;
        }
        let raw_bytes = text.len() as u64;
        let body = if cfg.gzip {
            gzip(text.as_bytes())
        } else {
            Bytes::copy_from_slice(text.as_bytes())
        };
        raw_total += raw_bytes;
        wire_total += body.len() as u64;
        batches.push(Batch {
            body,
            events: count,
            raw_bytes,
            counts,
        });
    }
    Generated {
        batches,
        raw_bytes: raw_total,
        wire_bytes: wire_total,
        first_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(shape: Shape, gzip: bool) -> GenConfig {
        GenConfig {
            events: 2_500,
            batch: 1_000,
            run_id: "r1".into(),
            shape,
            gzip,
            seed: 7,
            spread: ChronoDuration::minutes(10),
        }
    }

    #[test]
    fn bodies_are_valid_ndjson_with_unique_seq_and_a_final_marker() {
        for shape in [Shape::Nested, Shape::Flat] {
            let g = generate(&cfg(shape, false), "mfinal");
            assert_eq!(g.batches.len(), 3);
            assert_eq!(g.batches.iter().map(|b| b.events).sum::<u64>(), 2_500);
            let mut seqs = Vec::new();
            let mut markers = 0;
            let mut size = 0usize;
            for b in &g.batches {
                let text = std::str::from_utf8(&b.body).unwrap();
                for line in text.lines() {
                    size += line.len();
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    seqs.push(v["seq"].as_u64().unwrap());
                    let marker = match shape {
                        Shape::Nested => &v["bench"]["marker"],
                        Shape::Flat => &v["bench.marker"],
                    };
                    if marker.as_str() == Some("mfinal") {
                        markers += 1;
                    }
                }
            }
            seqs.sort_unstable();
            seqs.dedup();
            assert_eq!(seqs.len(), 2_500);
            assert_eq!(markers, 1);
            let avg = size / 2_500;
            assert!((250..=400).contains(&avg), "average event size {avg}");
        }
    }

    /// The expected hit counts agree with an independent reading of the
    /// generated JSON.
    #[test]
    fn counts_match_the_generated_events() {
        let g = generate(&cfg(Shape::Nested, false), "m");
        let mut want = Counts::default();
        for b in &g.batches {
            want.add(&b.counts);
        }
        let mut got = Counts::default();
        for b in &g.batches {
            for line in std::str::from_utf8(&b.body).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let host = v["host"]["name"].as_str().unwrap();
                let outcome = v["event"]["outcome"].as_str().unwrap();
                let action = v["event"]["action"].as_str().unwrap();
                let ip: std::net::IpAddr = v["source"]["ip"].as_str().unwrap().parse().unwrap();
                let status = v["http"]["response"]["status_code"].as_u64().unwrap();
                let msg = v["message"].as_str().unwrap();
                let hits = [
                    v["user"]["name"] == "user17",
                    host == "host-3" && outcome == "failure",
                    matches!(ip, std::net::IpAddr::V4(a) if a.octets()[..2] == [10, 1]),
                    (500..=599).contains(&status),
                    msg.split(' ').any(|w| w == "timeout"),
                    host.starts_with("host-4"),
                    (action == "logon" || action == "logoff") && outcome != "success",
                    matches!(ip, std::net::IpAddr::V6(a) if a.segments()[0] == 0xfd00),
                ];
                for (c, h) in got.0.iter_mut().zip(hits) {
                    *c += u64::from(h);
                }
            }
        }
        assert_eq!(got, want);
        assert!(want.0.iter().all(|&c| c > 0), "{want:?}");
    }

    #[test]
    fn gzip_bodies_decompress_to_the_raw_text() {
        use std::io::Read;
        let g = generate(&cfg(Shape::Nested, true), "m");
        let b = &g.batches[0];
        let mut out = String::new();
        flate2::read::GzDecoder::new(&b.body[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out.len() as u64, b.raw_bytes);
        assert!(g.wire_bytes < g.raw_bytes);
    }
}
