//! Prometheus scrapes: `kind = "prometheus"` checks read an exporter's
//! `/metrics` (node_exporter for server health: CPU, memory, filesystems,
//! disks, network, SMART through its textfile collector) every interval.
//!
//! Plain HTTP/1.0 GET, so the answer is never chunked; the body is capped
//! and the whole scrape bounded by the check's timeout. (HTTPS exporters
//! are left for later: node_exporter on a LAN is HTTP.)
//!
//! An answer with lines that are not the text format is judged as a whole:
//! when not one sample could be read, the target is not an exporter (a web
//! page, binary junk) and the scrape fails, saying why; when most lines
//! are fine, the good samples are kept, the check stays up, and the
//! refused lines are counted (`vigil_scrape_lines_refused`) and named in
//! the check's status.

use super::Row;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigil_checks::NetworkPolicy;
use vigil_decode::prometheus::{parse_exposition, Exposition, ParseLimits};

/// The most bytes read from one exporter.
pub const MAX_SCRAPE_BYTES: usize = 16 << 20;

/// `http://host[:port][/path]` into `(host:port, path)`. A control
/// character anywhere is refused: CR/LF in a target would be sent as
/// request lines of their own.
pub fn split_url(url: &str) -> Result<(String, String), String> {
    if vigil_checks::has_control(url) || url.contains(' ') {
        return Err("the exporter URL has spaces or control characters".into());
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http:// exporters are scraped"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/metrics"),
    };
    if authority.is_empty() {
        return Err(format!("{url:?} names no host"));
    }
    let authority = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.to_string()))
}

/// Reads and parses one exporter. `Err` says what went wrong, in words an
/// operator can act on, and never quotes what the exporter sent. The
/// exporter's name is resolved once per scrape and every address judged
/// by `policy`; the connection is to a judged address.
pub async fn scrape(
    url: &str,
    timeout: Duration,
    policy: &NetworkPolicy,
) -> Result<Exposition, String> {
    let (authority, path) = split_url(url)?;
    let fetch = async {
        let (host, port) = super::guard::split_host_port(&authority, 80)
            .ok_or_else(|| format!("{url:?}: bad host or port"))?;
        let addrs = super::guard::resolve_vetted(host, port, policy).await?;
        let mut stream = connect(&addrs).await?;
        let host = authority
            .rsplit_once(':')
            .map_or(authority.as_str(), |(h, _)| h);
        let request = format!(
            "GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: text/plain;version=0.0.4\r\nUser-Agent: vigil\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("sending the request to {authority}: {e}"))?;
        let mut body = Vec::new();
        (&mut stream)
            .take(MAX_SCRAPE_BYTES as u64 + 1)
            .read_to_end(&mut body)
            .await
            .map_err(|e| format!("reading from {authority}: {e}"))?;
        if body.len() > MAX_SCRAPE_BYTES {
            return Err(format!("the exporter sent over {MAX_SCRAPE_BYTES} bytes"));
        }
        Ok(body)
    };
    let response = tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| format!("no complete answer from {url} within {timeout:?}"))??;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{url} did not answer HTTP"))?;
    // The status code only: the rest of the line is the exporter's text.
    let status = head.lines().next().unwrap_or_default();
    match status.split_whitespace().nth(1) {
        Some("200") => Ok(parse_exposition(body, ParseLimits::default())),
        Some(code) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!("{url} answered HTTP status {code} (expected 200)"))
        }
        _ => Err(format!("{url} did not answer HTTP")),
    }
}

/// The first of the judged addresses that accepts.
async fn connect(addrs: &[std::net::SocketAddr]) -> Result<tokio::net::TcpStream, String> {
    let mut failure = String::from("no address to connect to");
    for addr in addrs {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => failure = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(failure)
}

/// The sample rows of a scrape, and a note when lines were refused; `Err`
/// when lines came and none of them was a sample. Refused lines are named
/// by number only: the parser's reason quotes the line.
pub fn rows_of(exposition: Exposition) -> Result<(Vec<Row>, Option<String>), String> {
    let refused = exposition.errors.len();
    let first = exposition
        .errors
        .first()
        .map(|e| format!("line {}", e.line));
    if exposition.samples.is_empty() {
        if let Some(first) = first {
            return Err(format!(
                "no sample could be parsed: first error {first} (lines refused: {refused})"
            ));
        }
    }
    let mut notes = Vec::new();
    if let Some(first) = first {
        notes.push(format!("exporter lines refused: {refused}, first {first}"));
    }
    if exposition.dropped > 0 {
        notes.push(format!(
            "{} samples left out past the limit of one scrape",
            exposition.dropped
        ));
    }
    let mut rows: Vec<Row> = exposition
        .samples
        .into_iter()
        .map(|s| (s.name, s.labels, s.value))
        .collect();
    rows.push((
        "vigil_scrape_lines_refused".into(),
        Vec::new(),
        refused as f64,
    ));
    Ok((rows, (!notes.is_empty()).then(|| notes.join("; "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exporter_urls() {
        assert_eq!(
            split_url("http://127.0.0.1:9100/metrics"),
            Ok(("127.0.0.1:9100".into(), "/metrics".into()))
        );
        assert_eq!(
            split_url("http://srv1"),
            Ok(("srv1:80".into(), "/metrics".into()))
        );
        assert!(split_url("https://srv1/metrics").is_err());
        assert!(split_url("http:///metrics").is_err());
        assert!(split_url("http://h/metrics\r\nX: y").is_err());
        assert!(split_url("http://h\n/metrics").is_err());
        assert!(split_url("http://h/\u{85}").is_err());
    }

    fn parse(text: &str) -> Exposition {
        parse_exposition(text, ParseLimits::default())
    }

    #[test]
    fn an_answer_without_one_sample_is_a_failed_scrape() {
        let err = rows_of(parse("\u{1}\u{2}junk\n<html>\nup 1 2 3 4\n")).unwrap_err();
        assert_eq!(
            err, "no sample could be parsed: first error line 1 (lines refused: 3)",
            "the lines are not quoted"
        );
        assert!(err.ends_with("(lines refused: 3)"), "{err}");
    }

    #[test]
    fn a_few_bad_lines_keep_the_good_samples_and_say_so() {
        let (rows, note) =
            rows_of(parse("# TYPE a gauge\na 1\nb{x=\"1\"} 2\nc{broken 3\n")).expect("up");
        let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(names, ["a", "b", "vigil_scrape_lines_refused"]);
        assert_eq!(rows[2].2, 1.0);
        let note = note.expect("a note");
        assert_eq!(note, "exporter lines refused: 1, first line 4");
    }

    #[test]
    fn an_empty_exposition_is_up_with_nothing_to_say() {
        // An exporter with nothing to expose yet is not broken (Prometheus
        // counts it as up too).
        let (rows, note) = rows_of(parse("# HELP nothing yet\n")).expect("up");
        assert_eq!(rows.len(), 1);
        assert_eq!(note, None);
    }

    #[tokio::test]
    async fn garbage_and_silence_are_errors_with_reasons() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            // First: garbage; second: accept and say nothing.
            if let Ok((mut s, _)) = listener.accept().await {
                let mut request = [0u8; 512];
                let _ = s.read(&mut request).await;
                let _ = s.write_all(b"\x00\x01 not http at all").await;
                let _ = s.shutdown().await;
            }
            if let Ok((s, _)) = listener.accept().await {
                tokio::time::sleep(Duration::from_secs(5)).await;
                drop(s);
            }
        });
        let url = format!("http://{addr}/metrics");
        let open = NetworkPolicy::permissive();
        let err = scrape(&url, Duration::from_secs(2), &open)
            .await
            .unwrap_err();
        assert!(err.contains("did not answer HTTP"), "{err}");
        let err = scrape(&url, Duration::from_millis(300), &open)
            .await
            .unwrap_err();
        assert!(err.contains("no complete answer"), "{err}");
        let err = scrape(&url, Duration::from_secs(1), &NetworkPolicy::default())
            .await
            .unwrap_err();
        assert!(err.contains("denied network (loopback)"), "{err}");
    }
}
