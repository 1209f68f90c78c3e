//! DNS checks against a server here: a UDP socket that answers each query
//! as the test says (canned answers, wrong ids, garbage, truncation), and
//! a TCP listener on the same port for the retry of a truncated answer.

mod common;

use common::spec;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use vigil_checks::{run_check, CheckKind, CheckResult, CheckState, NetworkPolicy, RecordType};

/// The query with the answer flags set and `records` (owner: a pointer to
/// the question name) appended.
fn answer(query: &[u8], flags: u16, records: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let end = question_end(query);
    let mut out = query[..end].to_vec();
    out[2..4].copy_from_slice(&flags.to_be_bytes());
    out[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
    for (rtype, rdata) in records {
        out.extend_from_slice(&[0xc0, 12]);
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 1, 0]);
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
    }
    out
}

fn question_end(query: &[u8]) -> usize {
    let mut at = 12;
    while query[at] != 0 {
        at += 1 + usize::from(query[at]);
    }
    at + 5
}

const OK: u16 = 0x8180;

fn a(ip: [u8; 4]) -> (u16, Vec<u8>) {
    (1, ip.to_vec())
}

/// Starts the server; `udp(query)` gives the datagrams to send back,
/// `tcp(query)` the one answer over TCP.
async fn dns_server<U, T>(udp: U, tcp: T) -> SocketAddr
where
    U: Fn(&[u8]) -> Vec<Vec<u8>> + Send + Sync + 'static,
    T: Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static,
{
    let (socket, listener, addr) = bind_both().await;
    tokio::spawn(async move {
        let mut buffer = [0u8; 512];
        while let Ok((n, peer)) = socket.recv_from(&mut buffer).await {
            for datagram in udp(&buffer[..n]) {
                let _ = socket.send_to(&datagram, peer).await;
            }
        }
    });
    let tcp = Arc::new(tcp);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tcp = tcp.clone();
            tokio::spawn(async move {
                let length = stream.read_u16().await.unwrap();
                let mut query = vec![0; usize::from(length)];
                stream.read_exact(&mut query).await.unwrap();
                let reply = tcp(&query);
                let _ = stream.write_u16(reply.len() as u16).await;
                let _ = stream.write_all(&reply).await;
            });
        }
    });
    addr
}

/// A UDP socket and a TCP listener on one port. The TCP side first: its
/// port may still be taken for UDP by another test, retried then.
async fn bind_both() -> (UdpSocket, TcpListener, SocketAddr) {
    for _ in 0..50 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        if let Ok(socket) = UdpSocket::bind(addr).await {
            return (socket, listener, addr);
        }
    }
    panic!("no port free for both UDP and TCP");
}

fn no_tcp(_: &[u8]) -> Vec<u8> {
    Vec::new()
}

async fn check(
    server: SocketAddr,
    record_type: RecordType,
    expect: Option<Vec<&str>>,
) -> CheckResult {
    let kind = CheckKind::Dns {
        name: "www.example.org".into(),
        record_type,
        server,
        expect: expect.map(|e| e.into_iter().map(String::from).collect()),
    };
    run_check(&spec(kind, "resolver", 700), &NetworkPolicy::permissive()).await
}

#[tokio::test]
async fn an_expected_answer_is_up() {
    let server = dns_server(
        |q| vec![answer(q, OK, &[a([192, 0, 2, 1]), a([192, 0, 2, 2])])],
        no_tcp,
    )
    .await;
    let result = check(server, RecordType::A, Some(vec!["192.0.2.2"])).await;
    assert_eq!(result.state, CheckState::Up, "{result:?}");
    assert_eq!(result.sample("vigil_dns_answers"), Some(2.0));
    assert!(result.latency.is_some());

    let result = check(server, RecordType::A, Some(vec!["192.0.2.9"])).await;
    assert_eq!(
        result.state.reason(),
        Some("expected answer 192.0.2.9 not found among 2 answers")
    );
}

#[tokio::test]
async fn reads_names_and_texts() {
    let server = dns_server(
        |q| {
            let mx = [&[0u8, 10][..], b"\x04mail\xc0\x10"].concat();
            let txt = b"\x0bv=spf1 -all".to_vec();
            vec![answer(q, OK, &[(15, mx), (16, txt)])]
        },
        no_tcp,
    )
    .await;
    let mx = check(server, RecordType::Mx, Some(vec!["10 mail.example.org."])).await;
    assert_eq!(mx.state, CheckState::Up, "{mx:?}");
    let txt = check(server, RecordType::Txt, Some(vec!["v=spf1 -all"])).await;
    assert_eq!(txt.state, CheckState::Up, "{txt:?}");
}

#[tokio::test]
async fn negative_answers_are_down() {
    let server = dns_server(|q| vec![answer(q, 0x8183, &[])], no_tcp).await;
    let result = check(server, RecordType::A, None).await;
    assert_eq!(
        result.state,
        CheckState::Down {
            reason: "www.example.org does not exist (NXDOMAIN)".into()
        }
    );
    assert_eq!(result.sample("vigil_dns_rcode"), Some(3.0));

    let server = dns_server(|q| vec![answer(q, OK, &[a([192, 0, 2, 1])])], no_tcp).await;
    let result = check(server, RecordType::Aaaa, None).await;
    assert_eq!(
        result.state.reason(),
        Some("no AAAA record for www.example.org")
    );
}

#[tokio::test]
async fn answers_with_another_id_are_ignored() {
    let server = dns_server(
        |q| {
            let mut wrong = answer(q, OK, &[a([203, 0, 113, 66])]);
            wrong[0] ^= 0xff;
            vec![wrong, answer(q, OK, &[a([192, 0, 2, 1])])]
        },
        no_tcp,
    )
    .await;
    let result = check(server, RecordType::A, Some(vec!["192.0.2.1"])).await;
    assert_eq!(result.state, CheckState::Up, "{result:?}");

    // Only wrong ids: no answer at all.
    let server = dns_server(
        |q| {
            let mut wrong = answer(q, OK, &[a([203, 0, 113, 66])]);
            wrong[1] ^= 0xff;
            vec![wrong]
        },
        no_tcp,
    )
    .await;
    let result = check(server, RecordType::A, None).await;
    assert_eq!(
        result.state,
        CheckState::Error {
            reason: "timed out after 700ms waiting for the DNS answer".into()
        }
    );
}

/// How the server answers one query.
type Reply = fn(&[u8]) -> Vec<u8>;

#[tokio::test]
async fn malformed_answers_are_errors() {
    let cases: Vec<(Reply, &str)> = vec![
        (
            |q| {
                let mut cut = answer(q, OK, &[a([192, 0, 2, 1])]);
                cut.truncate(cut.len() - 2);
                cut
            },
            "malformed DNS answer: ends inside a record",
        ),
        (
            |q| {
                let mut looped = answer(q, OK, &[a([192, 0, 2, 1])]);
                let at = question_end(q) + 1;
                looped[at] = at as u8 - 1;
                looped
            },
            "malformed DNS answer: bad name compression",
        ),
        (
            |q| q[..2].to_vec(),
            "malformed DNS answer: shorter than a DNS header",
        ),
        (
            |q| answer(q, OK, &[(1, vec![1, 2, 3])]),
            "malformed DNS answer: record data does not fit its type",
        ),
    ];
    for (reply, reason) in cases {
        let server = dns_server(move |q| vec![reply(q)], no_tcp).await;
        let result = check(server, RecordType::A, None).await;
        assert_eq!(
            result.state,
            CheckState::Error {
                reason: reason.into()
            }
        );
    }
}

#[tokio::test]
async fn a_truncated_answer_is_asked_again_over_tcp() {
    let server = dns_server(
        |q| vec![answer(q, OK | 0x0200, &[])],
        |q| answer(q, OK, &[a([192, 0, 2, 7])]),
    )
    .await;
    let result = check(server, RecordType::A, Some(vec!["192.0.2.7"])).await;
    assert_eq!(result.state, CheckState::Up, "{result:?}");
}

#[tokio::test]
async fn an_answer_to_another_question_is_an_error() {
    let server = dns_server(
        |q| {
            let mut other = answer(q, OK, &[a([192, 0, 2, 1])]);
            other[13] = b'x'; // www → xww
            vec![other]
        },
        no_tcp,
    )
    .await;
    let result = check(server, RecordType::A, None).await;
    assert_eq!(
        result.state.reason(),
        Some("the DNS answer is for another question")
    );
}
