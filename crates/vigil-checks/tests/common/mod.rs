//! Real peers on loopback for the checks to talk to.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vigil_checks::{CheckKind, CheckSpec};

pub fn spec(kind: CheckKind, target: &str, timeout_ms: u64) -> CheckSpec {
    CheckSpec {
        kind,
        target: target.to_owned(),
        interval: Duration::from_secs(10),
        timeout: Duration::from_millis(timeout_ms),
        retries: 0,
    }
}

pub fn http(url: String) -> CheckKind {
    CheckKind::Http {
        url,
        expect_status: None,
        expect_text: None,
        follow_redirects: 0,
        verify_tls: true,
        ca_file: None,
        ca_pem: None,
        cert_min_days: 7,
    }
}

/// A port nothing listens on (bound, then closed).
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// Accepts connections and closes them at once.
pub async fn open_listener() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { while listener.accept().await.is_ok() {} });
    port
}

/// Accepts connections and never answers; keeps them open.
pub async fn silent_listener() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// An HTTP/1.1 server: `answer(path)` gives the raw bytes to send back.
pub async fn http_server<F>(answer: F) -> SocketAddr
where
    F: Fn(&str) -> Vec<u8> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move { serve(stream, &*answer).await });
        }
    });
    addr
}

async fn serve<S, F>(mut stream: S, answer: &F)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    F: Fn(&str) -> Vec<u8>,
{
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let path = request.split(' ').nth(1).unwrap_or("/").to_owned();
    let _ = stream.write_all(&answer(&path)).await;
    let _ = stream.shutdown().await;
}

/// Reads a request head; gives its text.
pub async fn read_request<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).ok()
}

pub fn response(status: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let mut text = format!("HTTP/1.1 {status}\r\n");
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    text.into_bytes()
}

/// Serves TLS with `acceptor`, then HTTP as [`http_server`].
pub async fn https_server<F>(acceptor: tokio_rustls::TlsAcceptor, answer: F) -> SocketAddr
where
    F: Fn(&str) -> Vec<u8> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, answer) = (acceptor.clone(), answer.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(stream).await {
                    serve(tls, &*answer).await;
                }
            });
        }
    });
    addr
}

pub async fn connect_ok(addr: SocketAddr) -> bool {
    TcpStream::connect(addr).await.is_ok()
}
