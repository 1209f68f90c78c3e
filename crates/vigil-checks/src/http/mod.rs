//! The HTTP(S) check: a small HTTP/1.1 client that says which step failed.
//!
//! One GET per connection (`Connection: close`), redirects followed up to
//! the check's limit, the body read only when the check looks for text in
//! it, and then at most [`MAX_BODY`] bytes of it.

mod body;
mod head;
mod url;

pub use head::{parse_head, Framing, Head, HeadError, MAX_HEAD, MAX_HEADERS};
pub use url::{Url, UrlError};

use crate::guard::NetworkPolicy;
use crate::reason::Failure;
use crate::run::{Attempt, Budget};
use crate::spec::{CheckKind, StatusExpect};
use crate::tls::{CertInfo, Roots};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::time::Instant;

/// The most body bytes searched for the expected text.
pub const MAX_BODY: usize = 1024 * 1024;

const READ_BUFFER: usize = 2048;

const USER_AGENT: &str = concat!("vigil-checks/", env!("CARGO_PKG_VERSION"));

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The check's settings that matter per request.
struct Request<'a> {
    expect_text: Option<&'a str>,
    /// The roots the chain is verified against (named for the setting it
    /// first came from: a file, or now also PEM text).
    ca_file: Roots<'a>,
    /// Judges the address of every connection, each redirect's included.
    policy: &'a NetworkPolicy,
}

/// One response, and the certificate of its connection when it was TLS.
struct Response {
    head: Head,
    cert: Option<CertInfo>,
    text_found: Option<bool>,
}

pub(crate) async fn check(kind: &CheckKind, policy: &NetworkPolicy, budget: Budget) -> Attempt {
    let CheckKind::Http {
        url,
        expect_status,
        expect_text,
        follow_redirects,
        verify_tls,
        ca_file,
        ca_pem,
        cert_min_days,
    } = kind
    else {
        return Attempt::failed(Failure::error("not an HTTP check"));
    };
    let request = Request {
        expect_text: expect_text.as_deref(),
        ca_file: match (ca_pem, ca_file) {
            (Some(pem), _) => Roots::Pem(pem),
            (None, Some(path)) => Roots::File(path),
            (None, None) => Roots::System,
        },
        policy,
    };
    let start = Instant::now();
    let (response, redirects) = match fetch(url, &request, *follow_redirects, budget).await {
        Ok(found) => found,
        Err(failure) => return Attempt::failed(failure),
    };
    let mut attempt = Attempt {
        latency: Some(start.elapsed()),
        ..Attempt::default()
    };
    attempt.values = values(&response, redirects);
    attempt.outcome = judge(
        &response,
        expect_status.as_ref(),
        *verify_tls,
        *cert_min_days,
    )
    .err();
    attempt
}

fn values(response: &Response, redirects: u8) -> Vec<(&'static str, f64)> {
    let mut values = vec![
        ("vigil_http_status_code", f64::from(response.head.status)),
        ("vigil_http_redirects", f64::from(redirects)),
    ];
    if let Some(cert) = &response.cert {
        if let Some(days) = cert.expiry_days {
            values.push(("vigil_tls_cert_expiry_days", days));
        }
        let valid = if cert.untrusted.is_none() { 1.0 } else { 0.0 };
        values.push(("vigil_tls_cert_valid", valid));
    }
    if let Some(found) = response.text_found {
        values.push(("vigil_http_content_match", if found { 1.0 } else { 0.0 }));
    }
    values
}

/// Up or the first thing wrong, the certificate first: a page behind an
/// untrusted certificate is not reachable for a browser.
fn judge(
    response: &Response,
    expect: Option<&StatusExpect>,
    verify_tls: bool,
    cert_min_days: u32,
) -> Result<(), Failure> {
    if let Some(cert) = &response.cert {
        if let (true, Some(untrusted)) = (verify_tls, &cert.untrusted) {
            return Err(Failure::down(untrusted.clone()));
        }
        if let Some(days) = cert.expiry_days.filter(|_| cert_min_days > 0) {
            if days < f64::from(cert_min_days) {
                return Err(Failure::down(expiry_reason(days)));
            }
        }
    }
    let status = response.head.status;
    let accepted = match expect {
        Some(expect) => expect.accepts(status),
        None => (200..=399).contains(&status),
    };
    if !accepted {
        let wanted = expect.map_or("200-399".to_owned(), ToString::to_string);
        return Err(Failure::down(format!(
            "HTTP status {status} (expected {wanted})"
        )));
    }
    if response.text_found == Some(false) {
        return Err(Failure::down("expected text not found"));
    }
    Ok(())
}

fn expiry_reason(days: f64) -> String {
    if days < 0.0 {
        return "certificate expired".into();
    }
    if days < 1.0 {
        return "certificate expires in less than a day".into();
    }
    match days.round() as u64 {
        1 => "certificate expires in 1 day".into(),
        n => format!("certificate expires in {n} days"),
    }
}

/// GETs `url`, following up to `max_redirects` redirects; gives the last
/// response and the number of redirects followed.
async fn fetch(
    url: &str,
    request: &Request<'_>,
    max_redirects: u8,
    budget: Budget,
) -> Result<(Response, u8), Failure> {
    let mut url = Url::parse(url).map_err(|e| Failure::error(format!("bad url: {e}")))?;
    let mut redirects = 0;
    loop {
        let is_last = redirects == max_redirects;
        let response = get(&url, request, !is_last, budget).await?;
        let location = response
            .head
            .header("location")
            .filter(|_| response.head.is_redirect());
        let Some(location) = location.filter(|_| max_redirects > 0) else {
            return Ok((response, redirects));
        };
        if is_last {
            let plural = if max_redirects == 1 { "" } else { "s" };
            return Err(Failure::down(format!(
                "more than {max_redirects} redirect{plural}"
            )));
        }
        // The location is the target's text: named by what is wrong with
        // it only, never quoted.
        url = url
            .join(location)
            .map_err(|e| Failure::down(format!("redirect to a bad location: {e}")))?;
        redirects += 1;
    }
}

/// One request on a new connection. A response that will be followed as a
/// redirect is not searched for the text.
async fn get(
    url: &Url,
    request: &Request<'_>,
    may_redirect: bool,
    budget: Budget,
) -> Result<Response, Failure> {
    let addrs = crate::tcp::resolve(&url.host, url.port, request.policy, budget).await?;
    let stream = crate::tcp::connect(&addrs, request.policy, budget).await?;
    let (mut io, cert): (Box<dyn Io>, _) = if url.https {
        let (tls, cert) = crate::tls::handshake(stream, &url.host, request.ca_file, budget).await?;
        (Box::new(tls), Some(cert))
    } else {
        (Box::new(stream), None)
    };
    send(&mut io, url, budget).await?;
    // A check reads a head and at most a short page: a small buffer.
    let mut reader = BufReader::with_capacity(READ_BUFFER, io);
    let head = read_head(&mut reader, budget).await?;
    let text_found = match request.expect_text {
        Some(text) if !(may_redirect && head.is_redirect()) => {
            let framing = head
                .framing()
                .map_err(|e| Failure::error(format!("bad HTTP response: {e}")))?;
            let body = budget
                .within("the HTTP body", body::read(&mut reader, framing, MAX_BODY))
                .await?;
            Some(contains(&body, text.as_bytes()))
        }
        _ => None,
    };
    Ok(Response {
        head,
        cert,
        text_found,
    })
}

async fn send(io: &mut Box<dyn Io>, url: &Url, budget: Budget) -> Result<(), Failure> {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path,
        url.authority()
    );
    let write = async {
        io.write_all(request.as_bytes()).await?;
        io.flush().await
    };
    budget
        .within("the request to be sent", async {
            write
                .await
                .map_err(|e| Failure::io(&e, "sending the HTTP request"))
        })
        .await
}

/// Reads up to the empty line: the wait for the first byte is the wait for
/// the status line; after it, for the rest of the head.
async fn read_head<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    budget: Budget,
) -> Result<Head, Failure> {
    let first = async {
        reader
            .fill_buf()
            .await
            .map(|b| b.len())
            .map_err(|e| Failure::io(&e, "reading the HTTP status line"))
    };
    if budget.within("the HTTP status line", first).await? == 0 {
        return Err(Failure::error(
            "the server closed the connection without a response",
        ));
    }
    let mut bytes = Vec::with_capacity(512);
    let rest = async {
        let mut limited = reader.take(MAX_HEAD as u64);
        loop {
            let line_start = bytes.len();
            let n = limited
                .read_until(b'\n', &mut bytes)
                .await
                .map_err(|e| Failure::io(&e, "reading the HTTP headers"))?;
            let line = &bytes[line_start..];
            if n == 0 || line == b"\r\n" || line == b"\n" {
                return Ok(());
            }
        }
    };
    budget.within("the HTTP headers", rest).await?;
    parse_head(&bytes).map_err(|e| match e {
        HeadError::Unterminated if bytes.len() >= MAX_HEAD => {
            Failure::error(format!("the HTTP head is longer than {MAX_HEAD} bytes"))
        }
        e => Failure::error(format!("bad HTTP response: {e}")),
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, cert: Option<CertInfo>, text_found: Option<bool>) -> Response {
        Response {
            head: Head {
                status,
                reason: String::new(),
                headers: Vec::new(),
            },
            cert,
            text_found,
        }
    }

    fn cert(days: f64, untrusted: Option<&str>) -> Option<CertInfo> {
        Some(CertInfo {
            expiry_days: Some(days),
            untrusted: untrusted.map(str::to_owned),
        })
    }

    #[test]
    fn the_certificate_is_judged_first() {
        let bad = response(500, cert(2.0, Some("certificate expired")), Some(false));
        assert_eq!(
            judge(&bad, None, true, 7),
            Err(Failure::down("certificate expired"))
        );
        assert_eq!(
            judge(&bad, None, false, 7),
            Err(Failure::down("certificate expires in 2 days"))
        );
        assert_eq!(
            judge(&bad, None, false, 0),
            Err(Failure::down("HTTP status 500 (expected 200-399)"))
        );
        let fine = response(200, cert(90.0, None), Some(true));
        assert_eq!(judge(&fine, None, true, 7), Ok(()));
    }

    #[test]
    fn expiry_reads_well() {
        assert_eq!(expiry_reason(-0.5), "certificate expired");
        assert_eq!(expiry_reason(0.3), "certificate expires in less than a day");
        assert_eq!(expiry_reason(1.2), "certificate expires in 1 day");
        assert_eq!(expiry_reason(9.999), "certificate expires in 10 days");
    }

    #[test]
    fn finds_text() {
        assert!(contains(b"all systems go", b"systems"));
        assert!(!contains(b"all", b"all systems"));
        assert!(contains(b"", b""));
    }
}
