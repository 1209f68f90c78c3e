//! The syslog network inputs over real sockets on 127.0.0.1: framing,
//! limits, back-pressure, loss accounting, TLS with client certificates
//! made by the `openssl` command, and shutdown.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use vigil_server::inputs::{
    start_syslog_inputs, Delivery, InboundMessage, SyslogInputConfig, SyslogProtocol,
};
use vigil_server::metrics::Metrics;

const WAIT: Duration = Duration::from_secs(10);

struct Inputs {
    addrs: Vec<SocketAddr>,
    rx: mpsc::Receiver<Delivery>,
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
}

fn local(protocol: SyslogProtocol) -> SyslogInputConfig {
    SyslogInputConfig::new(protocol, "127.0.0.1:0".parse().unwrap())
}

async fn start(configs: Vec<SyslogInputConfig>, capacity: usize) -> Inputs {
    let (tx, rx) = mpsc::channel(capacity);
    let (stop, stopping) = watch::channel(false);
    let metrics = Metrics::new();
    let addrs = start_syslog_inputs(&configs, tx, None, metrics.clone(), stopping)
        .await
        .expect("the inputs start");
    assert_eq!(addrs.len(), configs.len());
    Inputs {
        addrs,
        rx,
        metrics,
        stop,
    }
}

impl Inputs {
    /// The next `n` messages, failing after [`WAIT`].
    async fn take(&mut self, n: usize) -> Vec<InboundMessage> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        while got.len() < n {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(batch)) => got.extend(batch.messages),
                Ok(None) => panic!("the channel closed after {} messages", got.len()),
                Err(_) => panic!("only {} of {n} messages arrived: {got:?}", got.len()),
            }
        }
        assert_eq!(got.len(), n, "more messages than expected: {got:?}");
        got
    }

    /// Fails if a message arrives within `wait`.
    async fn expect_nothing(&mut self, wait: Duration) {
        if let Ok(Some(batch)) = tokio::time::timeout(wait, self.rx.recv()).await {
            panic!("unexpected messages: {batch:?}");
        }
    }

    /// The value of one sample of `/metrics`, 0 when absent.
    fn metric(&self, sample: &str) -> f64 {
        metric(&self.metrics, sample)
    }

    /// Waits until `sample` reaches at least `value`.
    async fn wait_metric(&self, sample: &str, value: f64) {
        let deadline = Instant::now() + WAIT;
        while self.metric(sample) < value {
            assert!(
                Instant::now() < deadline,
                "{sample} stayed at {} (< {value})\n{}",
                self.metric(sample),
                self.metrics.encode()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn metric(metrics: &Metrics, sample: &str) -> f64 {
    let text = metrics.encode();
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

fn texts(messages: &[InboundMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.text.as_str()).collect()
}

/// Reads until the server closes the connection; fails if it stays open.
async fn assert_closed(stream: &mut (impl AsyncReadExt + Unpin)) {
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(WAIT, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the server left the connection open"),
        }
    }
}

#[tokio::test]
async fn udp_single_and_multi_message_datagrams() {
    let mut inputs = start(vec![local(SyslogProtocol::Udp)], 16).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(inputs.addrs[0]).await.unwrap();
    client
        .send(b"<13>Nov 21 08:00:00 host app: one\n")
        .await
        .unwrap();
    let first = inputs.take(1).await;
    assert_eq!(texts(&first), ["<13>Nov 21 08:00:00 host app: one"]);
    assert_eq!(first[0].peer, client.local_addr().unwrap());
    assert_eq!(first[0].listener, 0);
    assert!(first[0].client_names.is_none());

    client
        .send(b"<13>1 - h a - - - two\r\n<14>three\n<15>four")
        .await
        .unwrap();
    // A multi-line message stays whole: its lines do not start with `<`.
    client
        .send(b"<11>trace:\n  at one\n  at two\n")
        .await
        .unwrap();
    let rest = inputs.take(4).await;
    assert_eq!(
        texts(&rest),
        [
            "<13>1 - h a - - - two",
            "<14>three",
            "<15>four",
            "<11>trace:\n  at one\n  at two"
        ]
    );
    assert_eq!(
        inputs.metric("vigil_syslog_messages_total{protocol=\"udp\"}"),
        5.0
    );
}

#[tokio::test]
async fn tcp_newline_octet_counting_mixed_and_nul() {
    let mut inputs = start(vec![local(SyslogProtocol::Tcp)], 16).await;
    let mut client = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    let stream = b"<13>newline one\n\
        17 <14>octet counted\
        <15>nul terminated\0\
        20 <16>counted with LF\n\
        <17>crlf\r\n\
        0 <18>zero is not a count\n";
    client.write_all(stream).await.unwrap();
    let got = inputs.take(6).await;
    assert_eq!(
        texts(&got),
        [
            "<13>newline one",
            "<14>octet counted",
            "<15>nul terminated",
            "<16>counted with LF",
            "<17>crlf",
            "0 <18>zero is not a count"
        ]
    );
    assert_eq!(got[0].peer, client.local_addr().unwrap());
    // The last message may lack its LF: the close delivers it.
    client.write_all(b"<19>last, no LF").await.unwrap();
    client.shutdown().await.unwrap();
    assert_eq!(texts(&inputs.take(1).await), ["<19>last, no LF"]);
    inputs
        .wait_metric(
            "vigil_syslog_connections_closed_total{protocol=\"tcp\",reason=\"eof\"}",
            1.0,
        )
        .await;
    assert_eq!(
        inputs.metric("vigil_syslog_messages_total{protocol=\"tcp\"}"),
        7.0
    );
    assert_eq!(
        inputs.metric("vigil_syslog_connections_open{protocol=\"tcp\"}"),
        0.0
    );
}

#[tokio::test]
async fn a_message_split_across_many_small_writes() {
    let mut inputs = start(vec![local(SyslogProtocol::Tcp)], 16).await;
    let mut client = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    client.set_nodelay(true).unwrap();
    let stream = b"43 <13>1 2026-11-21T08:00:00Z host app - - \xe2\x9c\x93<14>second, by newline\n";
    for (i, byte) in stream.iter().enumerate() {
        client.write_all(&[*byte]).await.unwrap();
        if i % 8 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let got = inputs.take(2).await;
    assert_eq!(
        texts(&got),
        [
            "<13>1 2026-11-21T08:00:00Z host app - - \u{2713}",
            "<14>second, by newline"
        ]
    );
}

#[tokio::test]
async fn invalid_utf8_is_repaired_and_counted() {
    let mut inputs = start(vec![local(SyslogProtocol::Tcp)], 16).await;
    let mut client = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    client
        .write_all(b"<13>bad \xff\xfe bytes\n<13>good\n")
        .await
        .unwrap();
    let got = inputs.take(2).await;
    assert_eq!(texts(&got), ["<13>bad \u{fffd}\u{fffd} bytes", "<13>good"]);
    assert_eq!(
        inputs.metric("vigil_syslog_invalid_utf8_total{protocol=\"tcp\"}"),
        1.0
    );
}

#[tokio::test]
async fn oversized_newline_frame_is_cut_and_counted() {
    let config = SyslogInputConfig {
        max_message_bytes: 100,
        ..local(SyslogProtocol::Tcp)
    };
    let mut inputs = start(vec![config], 16).await;
    let mut client = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    let mut long = b"<13>".to_vec();
    long.extend(std::iter::repeat_n(b'a', 5000));
    long.extend_from_slice(b"\n<13>next is fine\n");
    client.write_all(&long).await.unwrap();
    let got = inputs.take(2).await;
    assert_eq!(got[0].text.len(), 100);
    assert!(got[0].text.starts_with("<13>aaaa"));
    assert_eq!(got[1].text, "<13>next is fine");
    assert_eq!(
        inputs.metric("vigil_syslog_oversized_total{protocol=\"tcp\"}"),
        1.0
    );
}

/// A cut that splits a character drops the part, without counting the
/// message as invalid UTF-8; a message cut where it was already invalid
/// is counted.
#[tokio::test]
async fn a_cut_keeps_whole_characters() {
    let config = SyslogInputConfig {
        max_message_bytes: 100,
        ..local(SyslogProtocol::Udp)
    };
    let mut inputs = start(vec![config], 16).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(inputs.addrs[0]).await.unwrap();
    // 5 + 2 × 60 bytes: the 100th byte is the first half of an é.
    let message = format!("<13>a{}", "\u{e9}".repeat(60));
    client.send(message.as_bytes()).await.unwrap();
    let got = inputs.take(1).await;
    assert_eq!(got[0].text, format!("<13>a{}", "\u{e9}".repeat(47)));
    let mut broken = b"<13>".to_vec();
    broken.extend(std::iter::repeat_n(0xff, 200));
    client.send(&broken).await.unwrap();
    let got = inputs.take(1).await;
    assert!(got[0].text.starts_with("<13>\u{fffd}"));
    assert_eq!(
        inputs.metric("vigil_syslog_oversized_total{protocol=\"udp\"}"),
        2.0
    );
    assert_eq!(
        inputs.metric("vigil_syslog_invalid_utf8_total{protocol=\"udp\"}"),
        1.0
    );
}

#[tokio::test]
async fn oversized_octet_count_closes_only_that_connection() {
    let config = SyslogInputConfig {
        max_message_bytes: 100,
        ..local(SyslogProtocol::Tcp)
    };
    let mut inputs = start(vec![config], 16).await;
    let mut good = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    good.write_all(b"<13>before\n").await.unwrap();
    assert_eq!(texts(&inputs.take(1).await), ["<13>before"]);

    let mut bad = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    bad.write_all(b"11 <13>counted5000 <13>").await.unwrap();
    assert_eq!(texts(&inputs.take(1).await), ["<13>counted"]);
    assert_closed(&mut bad).await;
    assert_eq!(
        inputs.metric(
            "vigil_syslog_framing_errors_total{protocol=\"tcp\",reason=\"octet_count_too_large\"}"
        ),
        1.0
    );
    assert_eq!(
        inputs.metric("vigil_syslog_oversized_total{protocol=\"tcp\"}"),
        1.0
    );

    good.write_all(b"6 <13>ok").await.unwrap();
    assert_eq!(texts(&inputs.take(1).await), ["<13>ok"]);
    let mut later = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    later.write_all(b"<13>after\n").await.unwrap();
    assert_eq!(texts(&inputs.take(1).await), ["<13>after"]);
}

#[tokio::test]
async fn truncated_octet_frame_at_eof_is_dropped_and_counted() {
    let mut inputs = start(vec![local(SyslogProtocol::Tcp)], 16).await;
    let mut client = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    client.write_all(b"<13>whole\n50 <13>cut sh").await.unwrap();
    client.shutdown().await.unwrap();
    assert_eq!(texts(&inputs.take(1).await), ["<13>whole"]);
    inputs
        .wait_metric(
            "vigil_syslog_framing_errors_total{protocol=\"tcp\",reason=\"truncated_at_eof\"}",
            1.0,
        )
        .await;
    inputs.expect_nothing(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn idle_connection_is_closed_after_the_timeout() {
    let config = SyslogInputConfig {
        idle_timeout_secs: 1,
        ..local(SyslogProtocol::Tcp)
    };
    let inputs = start(vec![config], 16).await;
    let mut client = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    let started = Instant::now();
    assert_closed(&mut client).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
    inputs
        .wait_metric("vigil_syslog_idle_closed_total{protocol=\"tcp\"}", 1.0)
        .await;
    inputs
        .wait_metric(
            "vigil_syslog_connections_closed_total{protocol=\"tcp\",reason=\"idle\"}",
            1.0,
        )
        .await;
}

#[tokio::test]
async fn connections_over_the_limit_are_closed_at_once() {
    let config = SyslogInputConfig {
        max_connections: 2,
        ..local(SyslogProtocol::Tcp)
    };
    let mut inputs = start(vec![config], 16).await;
    let mut first = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    let mut second = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    first.write_all(b"<13>1\n").await.unwrap();
    second.write_all(b"<13>2\n").await.unwrap();
    inputs.take(2).await;
    let mut third = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    assert_closed(&mut third).await;
    assert_eq!(
        inputs.metric("vigil_syslog_connections_rejected_total{protocol=\"tcp\"}"),
        1.0
    );
    assert_eq!(
        inputs.metric("vigil_syslog_connections_open{protocol=\"tcp\"}"),
        2.0
    );
    // A slot that frees up can be taken again.
    drop(first);
    inputs
        .wait_metric(
            "vigil_syslog_connections_closed_total{protocol=\"tcp\",reason=\"eof\"}",
            1.0,
        )
        .await;
    let mut fourth = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    fourth.write_all(b"<13>4\n").await.unwrap();
    assert_eq!(texts(&inputs.take(1).await), ["<13>4"]);
}

/// A sender faster than a pipeline that does not read is held back by TCP:
/// its writes stop while the input keeps a bounded amount, and once the
/// pipeline reads, every message arrives, in order.
#[tokio::test]
async fn tcp_back_pressure_holds_the_sender() {
    // 80 MB: more than the kernel's buffers can take (loopback autotuning
    // may grow a receive buffer to tcp_rmem's maximum, often 32 MiB).
    const MESSAGES: usize = 80_000;
    const CHUNK: usize = 10;
    let mut inputs = start(vec![local(SyslogProtocol::Tcp)], 1).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(32 << 10).unwrap();
    let mut client = socket.connect(inputs.addrs[0]).await.unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let progress = written.clone();
    let writer = tokio::spawn(async move {
        let padding = "x".repeat(984);
        for start in (0..MESSAGES).step_by(CHUNK) {
            let mut chunk = String::new();
            for i in start..start + CHUNK {
                chunk.push_str(&format!("<13>msg {i:07} {padding}\n"));
            }
            client.write_all(chunk.as_bytes()).await.unwrap();
            progress.store(start + CHUNK, Ordering::SeqCst);
        }
        client.shutdown().await.unwrap();
    });

    // Wait for the writes to stop progressing.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = usize::MAX;
    let mut still = 0;
    while still < 3 {
        assert!(Instant::now() < deadline, "the sender was never held back");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = written.load(Ordering::SeqCst);
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
    assert!(last < MESSAGES, "everything was written: nothing held back");
    assert!(!writer.is_finished());
    // Taken while held: the kernel's socket buffers (a few hundred KB
    // here) and two batches; 16 MiB leaves room for generous autotuning.
    let held_bytes = last * 1000;
    eprintln!("the sender was held after {held_bytes} bytes");
    assert!(held_bytes < 16 << 20, "{held_bytes} bytes taken while held");

    let mut next = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while next < MESSAGES {
        let batch = tokio::time::timeout_at(deadline, inputs.rx.recv())
            .await
            .expect("messages keep coming")
            .expect("the channel is open");
        for message in batch.messages {
            let expected = format!("<13>msg {next:07} ");
            assert!(
                message.text.starts_with(&expected),
                "{} instead of {expected}",
                message.text
            );
            next += 1;
        }
    }
    writer.await.unwrap();
    inputs.expect_nothing(Duration::from_millis(200)).await;
}

/// UDP must not wait for the pipeline: a full channel drops the batch and
/// the loss shows in the metrics.
#[tokio::test]
async fn udp_overload_is_dropped_and_counted() {
    let mut inputs = start(vec![local(SyslogProtocol::Udp)], 1).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(inputs.addrs[0]).await.unwrap();
    const SENT: usize = 2000;
    for i in 0..SENT {
        client
            .send(format!("<13>datagram {i}").as_bytes())
            .await
            .unwrap();
        if i % 100 == 99 {
            // Let the receive loop run, so that several batches are made.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    inputs
        .wait_metric("vigil_syslog_udp_dropped_total", 1.0)
        .await;
    // Every message received is either in the channel or counted dropped
    // (the kernel may have dropped some before: they were never received).
    let deadline = Instant::now() + WAIT;
    let (received, dropped, queued) = loop {
        let received = inputs.metric("vigil_syslog_messages_total{protocol=\"udp\"}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        if received == inputs.metric("vigil_syslog_messages_total{protocol=\"udp\"}") {
            let dropped = inputs.metric("vigil_syslog_udp_dropped_total");
            let mut queued = 0;
            while let Ok(batch) = inputs.rx.try_recv() {
                queued += batch.messages.len();
            }
            break (received, dropped, queued as f64);
        }
        assert!(Instant::now() < deadline, "the input never settled");
    };
    assert!(queued >= 1.0);
    assert!(received <= SENT as f64);
    assert_eq!(received, dropped + queued);
    let kernel = format!(
        "vigil_syslog_udp_kernel_drops{{listen=\"{}\"}}",
        inputs.addrs[0]
    );
    assert!(
        inputs.metrics.encode().contains(&kernel),
        "no kernel drop gauge:\n{}",
        inputs.metrics.encode()
    );
}

#[tokio::test]
async fn bind_and_certificate_errors_name_the_listener() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let configs = vec![
        local(SyslogProtocol::Udp),
        SyslogInputConfig::new(SyslogProtocol::Tcp, taken.local_addr().unwrap()),
    ];
    let (tx, _rx) = mpsc::channel(1);
    let (_stop, stopping) = watch::channel(false);
    let err = start_syslog_inputs(&configs, tx.clone(), None, Metrics::new(), stopping.clone())
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("syslog input 1 (tcp 127.0.0.1:"), "{text}");

    let tls = SyslogInputConfig {
        tls_cert: Some("/nonexistent/cert.pem".into()),
        tls_key: Some("/nonexistent/key.pem".into()),
        ..local(SyslogProtocol::Tls)
    };
    let err = start_syslog_inputs(&[tls], tx, None, Metrics::new(), stopping)
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("syslog input 0 (tls"), "{text}");
    assert!(text.contains("/nonexistent/cert.pem"), "{text}");
}

#[tokio::test]
async fn shutdown_stops_listeners_and_ends_connections() {
    let pki = Pki::new();
    let inputs = start(
        vec![
            local(SyslogProtocol::Tcp),
            local(SyslogProtocol::Udp),
            pki.listener(false),
        ],
        16,
    )
    .await;
    // Stuck in its handshake (which may last 10 s) when the stop comes.
    let mut silent = TcpStream::connect(inputs.addrs[2]).await.unwrap();
    let mut client = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    client.write_all(b"<13>hello\n").await.unwrap();
    inputs
        .wait_metric("vigil_syslog_messages_total{protocol=\"tcp\"}", 1.0)
        .await;
    let stopped = Instant::now();
    inputs.stop.send(true).unwrap();
    assert_closed(&mut client).await;
    assert_closed(&mut silent).await;
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(inputs.addrs[0]).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after shutdown");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every task let go of the channel: the pipeline sees its end.
    let mut rx = inputs.rx;
    let end = tokio::time::timeout(WAIT, async { while rx.recv().await.is_some() {} }).await;
    assert!(end.is_ok(), "a task still holds the channel");
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}

// --- TLS ---------------------------------------------------------------

/// A CA, a server certificate for 127.0.0.1 and localhost, and a client
/// certificate with CN `acme-fw`, made by the `openssl` command.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        openssl(
            path,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=Vigil Test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Self::leaf(
            path,
            "server",
            "/CN=localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        Self::leaf(
            path,
            "client",
            "/O=Acme/CN=acme-fw",
            "subjectAltName=DNS:fw1.acme.example\nextendedKeyUsage=clientAuth\n",
        );
        Pki { dir }
    }

    fn leaf(path: &Path, name: &str, subject: &str, extensions: &str) {
        let ext = format!("{name}.ext");
        std::fs::write(
            path.join(&ext),
            format!("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n{extensions}"),
        )
        .unwrap();
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        openssl(
            path,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                subject,
            ],
        );
        openssl(
            path,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &pem,
                "-extfile",
                &ext,
            ],
        );
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn listener(&self, client_required: bool) -> SyslogInputConfig {
        SyslogInputConfig {
            tls_cert: Some(self.path("server.pem")),
            tls_key: Some(self.path("server.key")),
            tls_client_ca: Some(self.path("ca.pem")),
            tls_client_required: client_required,
            ..local(SyslogProtocol::Tls)
        }
    }

    fn connector(&self, with_client_cert: bool) -> tokio_rustls::TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.path("ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_client_cert {
            let chain = CertificateDer::pem_file_iter(self.path("client.pem"))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_file(self.path("client.key")).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn tls_connect(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

#[tokio::test]
async fn tls_client_certificate_names_arrive_with_the_messages() {
    let pki = Pki::new();
    let mut inputs = start(vec![local(SyslogProtocol::Udp), pki.listener(true)], 16).await;
    let mut client = tls_connect(&pki.connector(true), inputs.addrs[1])
        .await
        .expect("the handshake succeeds");
    client
        .write_all(b"25 <13>1 - fw1 app - - - one25 <13>1 - fw1 app - - - two<13>by newline\n")
        .await
        .unwrap();
    client.flush().await.unwrap();
    let got = inputs.take(3).await;
    assert_eq!(
        texts(&got),
        [
            "<13>1 - fw1 app - - - one",
            "<13>1 - fw1 app - - - two",
            "<13>by newline"
        ]
    );
    let names = got[0].client_names.as_deref().expect("client names");
    assert!(names.iter().any(|n| n == "acme-fw"), "{names:?}");
    assert!(names.iter().any(|n| n == "fw1.acme.example"), "{names:?}");
    let fingerprint = names.iter().find(|n| n.starts_with("sha256:")).unwrap();
    assert_eq!(fingerprint.len(), "sha256:".len() + 64);
    assert_eq!(got[0].listener, 1);
    assert_eq!(
        inputs.metric("vigil_syslog_messages_total{protocol=\"tls\"}"),
        3.0
    );
}

#[tokio::test]
async fn tls_client_without_certificate_is_refused_when_required() {
    let pki = Pki::new();
    let mut inputs = start(vec![pki.listener(true)], 16).await;
    // With TLS 1.3 the client may finish its side before the server
    // refuses; then the refusal shows on the next read.
    if let Ok(mut client) = tls_connect(&pki.connector(false), inputs.addrs[0]).await {
        let _ = client.write_all(b"<13>anonymous\n").await;
        let _ = client.flush().await;
        assert_closed(&mut client).await;
    }
    inputs
        .wait_metric("vigil_syslog_tls_handshake_failures_total", 1.0)
        .await;
    inputs.expect_nothing(Duration::from_millis(300)).await;

    // Optional client certificates: the anonymous client is served,
    // without names.
    let mut optional = start(vec![pki.listener(false)], 16).await;
    let mut client = tls_connect(&pki.connector(false), optional.addrs[0])
        .await
        .unwrap();
    client.write_all(b"<13>anonymous\n").await.unwrap();
    client.flush().await.unwrap();
    let got = optional.take(1).await;
    assert_eq!(got[0].text, "<13>anonymous");
    assert!(got[0].client_names.is_none());
}

#[tokio::test]
async fn tls_garbage_is_counted_and_the_listener_keeps_serving() {
    let pki = Pki::new();
    let mut inputs = start(vec![pki.listener(false)], 16).await;
    let mut plain = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    plain
        .write_all(b"<13>this is not TLS at all\n")
        .await
        .unwrap();
    assert_closed(&mut plain).await;
    inputs
        .wait_metric("vigil_syslog_tls_handshake_failures_total", 1.0)
        .await;
    inputs
        .wait_metric(
            "vigil_syslog_connections_closed_total{protocol=\"tls\",reason=\"handshake\"}",
            1.0,
        )
        .await;
    // A silent connection mid-handshake does not hold up others either.
    let _silent = TcpStream::connect(inputs.addrs[0]).await.unwrap();
    let mut good = tls_connect(&pki.connector(true), inputs.addrs[0])
        .await
        .unwrap();
    good.write_all(b"9 <13>fine!").await.unwrap();
    good.flush().await.unwrap();
    let got = inputs.take(1).await;
    assert_eq!(got[0].text, "<13>fine!");
    assert!(got[0]
        .client_names
        .as_deref()
        .is_some_and(|n| n.iter().any(|n| n == "acme-fw")));
    inputs.expect_nothing(Duration::from_millis(200)).await;
}
