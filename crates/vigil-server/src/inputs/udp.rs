//! The UDP listener (RFC 5426): one message per datagram, or several on
//! lines of their own.
//!
//! The receive loop never waits for the pipeline: after one datagram it
//! takes whatever else is ready, up to [`BATCH_MESSAGES`], and offers the
//! batch with `try_send`. A full channel drops the batch and counts it, so
//! loss shows in `/metrics` rather than in the kernel's buffer, where
//! nobody sees it (that loss is exported too, from `/proc/net/udp`).

use super::framing::split_datagram;
use super::{stopped, Delivery, InboundMessage, Listener};
use crate::metrics::ListenLabel;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::error::TrySendError;
use vigil_core::Timestamp;

/// Most messages handed over in one batch.
pub const BATCH_MESSAGES: usize = 256;

/// Receive buffer asked of the kernel: bursts wait there while the loop is
/// busy. Linux caps it at `net.core.rmem_max` (raise that for big sites).
const RECV_BUFFER_BYTES: usize = 8 << 20;

/// Largest UDP payload.
const DATAGRAM_BYTES: usize = 65536;

/// How often the kernel's drop count is read.
const KERNEL_DROPS_EVERY: Duration = Duration::from_secs(10);

pub(super) fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(RECV_BUFFER_BYTES) {
        tracing::warn!(%addr, error = %e, "cannot enlarge the syslog UDP receive buffer");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

pub(super) fn spawn(socket: UdpSocket, listener: Arc<Listener>) {
    if let (Some(inode), Ok(addr)) = (socket_inode(&socket), socket.local_addr()) {
        tokio::spawn(export_kernel_drops(inode, addr, listener.clone()));
    }
    tokio::spawn(serve(socket, listener));
}

async fn serve(socket: UdpSocket, listener: Arc<Listener>) {
    let mut shutdown = listener.shutdown.clone();
    let mut buf = vec![0u8; DATAGRAM_BYTES];
    let mut drops = DropLog::default();
    loop {
        let received = tokio::select! {
            _ = stopped(&mut shutdown) => return,
            r = socket.recv_from(&mut buf) => r,
        };
        let mut batch = Vec::new();
        match received {
            Ok((n, peer)) => add_datagram(&listener, &buf[..n], peer, &mut batch),
            Err(e) => {
                // Nothing on an unconnected socket should fail twice; still,
                // never spin on it.
                tracing::debug!(error = %e, "syslog UDP receive failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        }
        while batch.len() < BATCH_MESSAGES {
            match socket.try_recv_from(&mut buf) {
                Ok((n, peer)) => add_datagram(&listener, &buf[..n], peer, &mut batch),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!(error = %e, "syslog UDP receive failed");
                    break;
                }
            }
        }
        if !hand_over(&listener, batch, &mut drops) {
            return;
        }
    }
}

/// Offers a batch without waiting; false when the pipeline is gone.
fn hand_over(listener: &Listener, batch: Vec<InboundMessage>, drops: &mut DropLog) -> bool {
    if batch.is_empty() {
        return true;
    }
    match listener.sink.try_send(Delivery::unjournalled(batch)) {
        Ok(()) => true,
        Err(TrySendError::Full(Delivery {
            messages: batch, ..
        })) => {
            listener
                .metrics
                .syslog
                .udp_dropped
                .inc_by(batch.len() as u64);
            drops.dropped(listener, batch.len());
            true
        }
        Err(TrySendError::Closed(_)) => false,
    }
}

/// Warns of dropped messages at most once per [`DROP_WARNING_EVERY`], so
/// that an overload is seen in the log without flooding it.
#[derive(Default)]
struct DropLog {
    unreported: usize,
    last_warning: Option<Instant>,
}

const DROP_WARNING_EVERY: Duration = Duration::from_secs(10);

impl DropLog {
    fn dropped(&mut self, listener: &Listener, messages: usize) {
        self.unreported += messages;
        if self
            .last_warning
            .is_some_and(|at| at.elapsed() < DROP_WARNING_EVERY)
        {
            return;
        }
        tracing::warn!(
            addr = %listener.config.listen,
            dropped = self.unreported,
            "syslog UDP messages dropped: the pipeline is full"
        );
        self.unreported = 0;
        self.last_warning = Some(Instant::now());
    }
}

fn add_datagram(
    listener: &Listener,
    datagram: &[u8],
    peer: SocketAddr,
    batch: &mut Vec<InboundMessage>,
) {
    let now = Timestamp::now();
    let max = listener.config.max_message_bytes;
    for message in split_datagram(datagram) {
        let truncated = message.len() > max;
        let kept = &message[..message.len().min(max)];
        batch.push(listener.message(kept.to_vec(), truncated, peer, &None, now));
    }
}

/// The socket's inode, which names it in `/proc/net/udp`.
fn socket_inode(socket: &UdpSocket) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
    let link = link.to_str()?;
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Copies the kernel's drop count of the socket into a gauge until
/// shutdown. Quietly does nothing where `/proc` has no such table.
async fn export_kernel_drops(inode: u64, addr: SocketAddr, listener: Arc<Listener>) {
    let mut shutdown = listener.shutdown.clone();
    let label = ListenLabel {
        listen: addr.to_string(),
    };
    loop {
        let drops = ["/proc/net/udp", "/proc/net/udp6"]
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .find_map(|table| kernel_drops(&table, inode));
        match drops {
            Some(drops) => {
                let gauge = listener
                    .metrics
                    .syslog
                    .udp_kernel_drops
                    .get_or_create(&label);
                gauge.set(i64::try_from(drops).unwrap_or(i64::MAX));
            }
            None => return,
        }
        tokio::select! {
            _ = stopped(&mut shutdown) => return,
            _ = tokio::time::sleep(KERNEL_DROPS_EVERY) => {}
        }
    }
}

/// The `drops` column (the last) of the row of `/proc/net/udp` whose
/// `inode` column (the tenth) is `inode`.
fn kernel_drops(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let columns: Vec<&str> = line.split_whitespace().collect();
        let row_inode: u64 = columns.get(9)?.parse().ok()?;
        if row_inode != inode {
            return None;
        }
        columns.last()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_drop_column() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
          1: 00000000:0202 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17\n\
          2: 00000000:0203 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 999 2 0000000000000000 3\n";
        assert_eq!(kernel_drops(table, 4242), Some(17));
        assert_eq!(kernel_drops(table, 999), Some(3));
        assert_eq!(kernel_drops(table, 1), None);
    }
}
