//! The DNS check: one query to the configured server over UDP (over TCP
//! when the answer is truncated), and what its answer says.

mod wire;

pub use wire::{
    build_query, encode_name, message_id, parse_response, Data, Record, Response, WireError,
    MAX_RECORDS, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_MX, TYPE_TXT,
};

use crate::guard::NetworkPolicy;
use crate::reason::Failure;
use crate::run::{Attempt, Budget};
use crate::spec::{CheckKind, RecordType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

/// A UDP answer is at most this long without EDNS; bigger ones come
/// truncated and are asked again over TCP.
const UDP_BUFFER: usize = 4096;

pub(crate) async fn check(kind: &CheckKind, policy: &NetworkPolicy, budget: Budget) -> Attempt {
    let CheckKind::Dns {
        name,
        record_type,
        server,
        expect,
    } = kind
    else {
        return Attempt::failed(Failure::error("not a DNS check"));
    };
    // The server is an address: judged once, before the first datagram.
    if let Err(denial) = policy.check(*server) {
        return Attempt::failed(Failure::down(denial.to_string()));
    }
    let start = Instant::now();
    let response = match query(name, *record_type, *server, budget).await {
        Ok(response) => response,
        Err(failure) => return Attempt::failed(failure),
    };
    let latency = start.elapsed();
    let found = answers_of(&response, *record_type);
    Attempt {
        outcome: judge(name, *record_type, &response, &found, expect.as_deref()).err(),
        latency: Some(latency),
        values: vec![
            ("vigil_dns_answers", found.len() as f64),
            ("vigil_dns_rcode", f64::from(response.rcode)),
        ],
    }
}

/// The answers of the type asked for, as text.
fn answers_of(response: &Response, rtype: RecordType) -> Vec<String> {
    response
        .answers
        .iter()
        .filter(|r| r.rtype == rtype.code())
        .filter_map(|r| r.data.text())
        .collect()
}

fn judge(
    name: &str,
    rtype: RecordType,
    response: &Response,
    found: &[String],
    expect: Option<&[String]>,
) -> Result<(), Failure> {
    match response.rcode {
        0 => {}
        3 => return Err(Failure::down(format!("{name} does not exist (NXDOMAIN)"))),
        2 => return Err(Failure::down("the server failed to answer (SERVFAIL)")),
        5 => return Err(Failure::down("the server refused the query (REFUSED)")),
        code => {
            return Err(Failure::down(format!(
                "the server answered with code {code}"
            )))
        }
    }
    if found.is_empty() {
        return Err(Failure::down(format!(
            "no {} record for {name}",
            rtype.as_str()
        )));
    }
    // What the server answered is not quoted: the reason is ours alone
    // (the count of answers is a sample).
    for wanted in expect.unwrap_or_default() {
        if !found.iter().any(|got| same_answer(got, wanted)) {
            return Err(Failure::down(format!(
                "expected answer {wanted} not found among {} {}",
                found.len(),
                if found.len() == 1 {
                    "answer"
                } else {
                    "answers"
                }
            )));
        }
    }
    Ok(())
}

/// Addresses compare as addresses (`::1` is `0:0::1`), names without case
/// or trailing dot.
fn same_answer(got: &str, wanted: &str) -> bool {
    let wanted = wanted.trim();
    if let (Ok(a), Ok(b)) = (got.parse::<IpAddr>(), wanted.parse::<IpAddr>()) {
        return a == b;
    }
    let normal = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    got == wanted || normal(got) == normal(wanted)
}

async fn query(
    name: &str,
    rtype: RecordType,
    server: SocketAddr,
    budget: Budget,
) -> Result<Response, Failure> {
    let id: u16 = rand::random();
    let query = build_query(id, name, rtype.code())
        .map_err(|e| Failure::error(format!("DNS name {name:?}: {e}")))?;
    let response = budget
        .within("the DNS answer", over_udp(&query, id, server))
        .await?;
    let response = if response.truncated {
        budget
            .within("the DNS answer over TCP", over_tcp(&query, id, server))
            .await?
    } else {
        response
    };
    check_question(&response, name, rtype)?;
    Ok(response)
}

fn check_question(response: &Response, name: &str, rtype: RecordType) -> Result<(), Failure> {
    let asked = name.trim_end_matches('.').to_ascii_lowercase();
    match &response.question {
        Some((got, code)) if *got != asked || *code != rtype.code() => {
            Err(Failure::error("the DNS answer is for another question"))
        }
        _ => Ok(()),
    }
}

/// Sends the query and waits for the answer with its id; datagrams with
/// another id (late answers to earlier queries, spoofs) are dropped.
async fn over_udp(query: &[u8], id: u16, server: SocketAddr) -> Result<Response, Failure> {
    let local: IpAddr = match server {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind((local, 0))
        .await
        .map_err(|e| Failure::error(format!("cannot open a UDP socket: {e}")))?;
    let doing = format!("asking {server}");
    socket
        .connect(server)
        .await
        .map_err(|e| Failure::io(&e, &doing))?;
    socket
        .send(query)
        .await
        .map_err(|e| Failure::io(&e, &doing))?;
    let mut buffer = vec![0; UDP_BUFFER];
    loop {
        let n = socket
            .recv(&mut buffer)
            .await
            .map_err(|e| Failure::io(&e, &format!("waiting for {server}")))?;
        let datagram = &buffer[..n];
        if message_id(datagram) != Some(id) {
            continue;
        }
        return parse_response(datagram)
            .map_err(|e| Failure::error(format!("malformed DNS answer: {e}")));
    }
}

async fn over_tcp(query: &[u8], id: u16, server: SocketAddr) -> Result<Response, Failure> {
    let doing = format!("asking {server} over TCP");
    let mut stream = TcpStream::connect(server)
        .await
        .map_err(|e| Failure::io(&e, &doing))?;
    let mut message = (query.len() as u16).to_be_bytes().to_vec();
    message.extend_from_slice(query);
    stream
        .write_all(&message)
        .await
        .map_err(|e| Failure::io(&e, &doing))?;
    let length = stream
        .read_u16()
        .await
        .map_err(|e| Failure::io(&e, &doing))?;
    let mut answer = vec![0; usize::from(length)];
    stream
        .read_exact(&mut answer)
        .await
        .map_err(|e| Failure::io(&e, &doing))?;
    if message_id(&answer) != Some(id) {
        return Err(Failure::error("the DNS answer over TCP has another id"));
    }
    parse_response(&answer).map_err(|e| Failure::error(format!("malformed DNS answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_compare_as_what_they_are() {
        assert!(same_answer("::1", "0:0::1"));
        assert!(same_answer("192.0.2.1", " 192.0.2.1 "));
        assert!(!same_answer("192.0.2.1", "192.0.2.10"));
        assert!(same_answer("mail.example.org", "Mail.Example.org."));
        assert!(same_answer("10 mail.example.org", "10 mail.example.org."));
        assert!(!same_answer("v=spf1 -all", "v=spf1 ~all"));
    }
}
