//! The Prometheus text exposition format (version 0.0.4), as exporters
//! such as node_exporter serve it: what a scrape check reads.
//!
//! ```text
//! # HELP node_filesystem_avail_bytes Filesystem space available.
//! # TYPE node_filesystem_avail_bytes gauge
//! node_filesystem_avail_bytes{device="/dev/sda1",mountpoint="/"} 1.2e+10
//! ```
//!
//! A bad line is reported with its number and the rest is kept, so that one
//! broken collector does not blank a whole host. Limits (`ParseLimits`)
//! bound what an exporter can make us hold.

use std::collections::HashMap;

/// The `# TYPE` of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl MetricKind {
    fn parse(text: &str) -> MetricKind {
        match text {
            "counter" => MetricKind::Counter,
            "gauge" => MetricKind::Gauge,
            "histogram" => MetricKind::Histogram,
            "summary" => MetricKind::Summary,
            _ => MetricKind::Untyped,
        }
    }
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSample {
    pub name: String,
    /// In the order written.
    pub labels: Labels,
    pub value: f64,
    /// Milliseconds since the epoch, when the exporter gave one.
    pub timestamp_ms: Option<i64>,
    /// The family's `# TYPE` (histogram and summary series included).
    pub kind: MetricKind,
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromLineError {
    /// 1-based.
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    pub max_samples: usize,
    pub max_labels: usize,
    pub max_line_bytes: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_samples: 200_000,
            max_labels: 64,
            max_line_bytes: 64 * 1024,
        }
    }
}

#[derive(Debug, Default)]
pub struct Exposition {
    pub samples: Vec<PromSample>,
    pub errors: Vec<PromLineError>,
    /// Samples left out past `max_samples`.
    pub dropped: usize,
}

/// Reads a whole exposition.
pub fn parse_exposition(text: &str, limits: ParseLimits) -> Exposition {
    let mut out = Exposition::default();
    let mut kinds: HashMap<String, MetricKind> = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fail = |reason: String| PromLineError {
            line: index + 1,
            reason,
        };
        if line.len() > limits.max_line_bytes {
            out.errors.push(fail(format!(
                "line longer than {} bytes",
                limits.max_line_bytes
            )));
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.split_whitespace();
            if words.next() == Some("TYPE") {
                if let (Some(name), Some(kind)) = (words.next(), words.next()) {
                    kinds.insert(name.to_string(), MetricKind::parse(kind));
                }
            }
            continue;
        }
        if out.samples.len() >= limits.max_samples {
            out.dropped += 1;
            continue;
        }
        match sample_line(line, limits.max_labels) {
            Ok(mut sample) => {
                sample.kind = family_kind(&kinds, &sample.name);
                out.samples.push(sample);
            }
            Err(reason) => out.errors.push(fail(reason)),
        }
    }
    out
}

/// The kind of the family a series belongs to: `x_bucket`, `x_sum`,
/// `x_count` are the histogram or summary `x`'s.
fn family_kind(kinds: &HashMap<String, MetricKind>, name: &str) -> MetricKind {
    if let Some(kind) = kinds.get(name) {
        return *kind;
    }
    for suffix in ["_bucket", "_sum", "_count", "_created"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if let Some(kind) = kinds.get(base) {
                return *kind;
            }
        }
    }
    MetricKind::Untyped
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn sample_line(line: &str, max_labels: usize) -> Result<PromSample, String> {
    let name_end = line.find(|c: char| !is_name_char(c)).unwrap_or(line.len());
    let name = &line[..name_end];
    if !name.starts_with(is_name_start) {
        return Err(format!(
            "{:?} does not start with a metric name",
            clip(line)
        ));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, remaining) = label_set(after, max_labels)?;
        labels = parsed;
        rest = remaining;
    }
    let mut fields = rest.split_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| format!("{name}: no value"))
        .and_then(|v| value_of(v).ok_or_else(|| format!("{name}: {v:?} is not a number")))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| format!("{name}: timestamp {t:?} is not an integer"))?,
        ),
    };
    if let Some(extra) = fields.next() {
        return Err(format!("{name}: unexpected {extra:?} after the timestamp"));
    }
    Ok(PromSample {
        name: name.to_string(),
        labels,
        value,
        timestamp_ms,
        kind: MetricKind::Untyped,
    })
}

/// `label="value",...}`: the labels and what follows the `}`.
/// Label names and values, in the order written.
type Labels = Vec<(String, String)>;

fn label_set(mut text: &str, max: usize) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix('}') {
            return Ok((labels, rest));
        }
        if labels.len() >= max {
            return Err(format!("more than {max} labels"));
        }
        let name_end = text.find(|c: char| !is_name_char(c)).unwrap_or(text.len());
        let name = &text[..name_end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("bad label name at {:?}", clip(text)));
        }
        let rest = text[name_end..].trim_start();
        let rest = rest
            .strip_prefix('=')
            .ok_or_else(|| format!("label {name}: '=' expected"))?
            .trim_start();
        let rest = rest
            .strip_prefix('"')
            .ok_or_else(|| format!("label {name}: quoted value expected"))?;
        let (value, rest) =
            quoted(rest).ok_or_else(|| format!("label {name}: unterminated value"))?;
        labels.push((name.to_string(), value));
        text = rest.trim_start();
        if let Some(after) = text.strip_prefix(',') {
            text = after;
        } else if !text.starts_with('}') {
            return Err(format!("label {name}: ',' or '}}' expected"));
        }
    }
}

/// A label value up to its closing quote, with `\\`, `\"` and `\n` undone.
fn quoted(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[at + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            other => value.push(other),
        }
    }
    None
}

fn value_of(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        other => other.parse().ok(),
    }
}

fn clip(text: &str) -> &str {
    match text.char_indices().nth(40) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = r#"
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 12345.67
node_cpu_seconds_total{cpu="0",mode="user"} 89.5
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 1.2e+10
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1"} 3
http_request_duration_seconds_bucket{le="+Inf"} 5
http_request_duration_seconds_sum 1.5
http_request_duration_seconds_count 5
odd{path="a \"quoted\" \\ back\nline",} -Inf 1700000000000
up 1
"#;

    #[test]
    fn node_exporter_like_text() {
        let e = parse_exposition(NODE, ParseLimits::default());
        assert!(e.errors.is_empty(), "{:?}", e.errors);
        assert_eq!(e.samples.len(), 9);
        let idle = &e.samples[0];
        assert_eq!(idle.name, "node_cpu_seconds_total");
        assert_eq!(idle.kind, MetricKind::Counter);
        assert_eq!(
            idle.labels,
            vec![("cpu".into(), "0".into()), ("mode".into(), "idle".into())]
        );
        assert_eq!(idle.value, 12345.67);
        assert_eq!(e.samples[2].kind, MetricKind::Gauge);
        assert_eq!(e.samples[2].value, 1.2e10);
        assert_eq!(e.samples[4].labels[0].1, "+Inf");
        assert_eq!(e.samples[4].value, 5.0);
        assert_eq!(
            e.samples[6].kind,
            MetricKind::Histogram,
            "_count of a histogram"
        );
        let odd = &e.samples[7];
        assert_eq!(odd.labels[0].1, "a \"quoted\" \\ back\nline");
        assert_eq!(odd.value, f64::NEG_INFINITY);
        assert_eq!(odd.timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(e.samples[8].kind, MetricKind::Untyped);
    }

    #[test]
    fn bad_lines_are_named_and_the_rest_kept() {
        let text =
            "ok 1\n9bad 1\nnovalue\nx{a=\"1\" 2\nx{a=1} 2\ny 1 2 3\nz abc\nfine{a=\"b\"} 2\n";
        let e = parse_exposition(text, ParseLimits::default());
        let lines: Vec<usize> = e.errors.iter().map(|x| x.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7], "{:?}", e.errors);
        assert_eq!(e.samples.len(), 2);
        assert!(e.errors[0].reason.contains("metric name"));
    }

    #[test]
    fn limits_bound_what_an_exporter_can_send() {
        let many: String = (0..100).map(|i| format!("m{i} 1\n")).collect();
        let e = parse_exposition(
            &many,
            ParseLimits {
                max_samples: 10,
                ..ParseLimits::default()
            },
        );
        assert_eq!((e.samples.len(), e.dropped), (10, 90));
        let labels: String = (0..100).map(|i| format!("l{i}=\"v\",")).collect();
        let e = parse_exposition(&format!("m{{{labels}}} 1\n"), ParseLimits::default());
        assert!(e.errors[0].reason.contains("labels"));
    }
}
