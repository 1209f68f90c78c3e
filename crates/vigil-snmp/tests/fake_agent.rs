//! The pollers and rates against a small scripted agent: a static MIB the
//! test changes between polls, to play devices net-snmp on this machine
//! cannot (no ifXTable, 32-bit counters that wrap, a reboot that resets
//! them, a 10 Gb/s link whose ifSpeed saturates).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use vigil_snmp::ber::{decode_message, encode_message, Message};
use vigil_snmp::{
    interfaces, system, Client, CounterWidth, InterfaceRates, Oid, PduKind, Value, VarBind,
};

type Mib = Arc<Mutex<BTreeMap<Oid, Value>>>;

fn oid(s: &str) -> Oid {
    s.parse().unwrap()
}

fn next_after(mib: &BTreeMap<Oid, Value>, after: &Oid) -> VarBind {
    use std::ops::Bound::{Excluded, Unbounded};
    match mib.range((Excluded(after.clone()), Unbounded)).next() {
        Some((o, v)) => VarBind {
            oid: o.clone(),
            value: v.clone(),
        },
        None => VarBind {
            oid: after.clone(),
            value: Value::EndOfMibView,
        },
    }
}

/// Answers Get, GetNext and GetBulk (v2c, any community) from `mib`.
async fn agent(mib: Mib) -> SocketAddr {
    agent_with_limit(mib, usize::MAX).await
}

/// The same, answering tooBig to a GetBulk of more than `max_reps`.
async fn agent_with_limit(mib: Mib, max_reps: usize) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            let Ok(Message::Community(mut m)) = decode_message(&buf[..n]) else {
                continue;
            };
            let asked = std::mem::take(&mut m.pdu.varbinds);
            let table = mib.lock().unwrap().clone();
            let answer: Vec<VarBind> = match m.pdu.kind {
                PduKind::Get => asked
                    .into_iter()
                    .map(|vb| VarBind {
                        value: table.get(&vb.oid).cloned().unwrap_or(Value::NoSuchObject),
                        oid: vb.oid,
                    })
                    .collect(),
                PduKind::GetNext => asked.iter().map(|vb| next_after(&table, &vb.oid)).collect(),
                PduKind::GetBulk => {
                    let non_rep = m.pdu.error_status.max(0) as usize;
                    let reps = m.pdu.error_index.max(0) as usize;
                    if reps > max_reps {
                        m.pdu.kind = PduKind::Response;
                        m.pdu.error_status = 1;
                        m.pdu.error_index = 0;
                        let _ = socket
                            .send_to(&encode_message(&Message::Community(m)), peer)
                            .await;
                        continue;
                    }
                    let mut out: Vec<VarBind> = asked
                        .iter()
                        .take(non_rep)
                        .map(|vb| next_after(&table, &vb.oid))
                        .collect();
                    let mut cursors: Vec<Oid> = asked
                        .iter()
                        .skip(non_rep)
                        .map(|vb| vb.oid.clone())
                        .collect();
                    for _ in 0..reps {
                        for c in cursors.iter_mut() {
                            let vb = next_after(&table, c);
                            *c = vb.oid.clone();
                            out.push(vb);
                        }
                    }
                    out
                }
                _ => continue,
            };
            m.pdu.kind = PduKind::Response;
            m.pdu.error_status = 0;
            m.pdu.error_index = 0;
            m.pdu.varbinds = answer;
            let _ = socket
                .send_to(&encode_message(&Message::Community(m)), peer)
                .await;
        }
    });
    addr
}

/// An old device: ifTable only, 32-bit counters, plus one 10 Gb/s port
/// whose ifSpeed is saturated and whose ifHighSpeed is present.
fn device(
    uptime: u32,
    in_octets: u32,
    out_octets: u32,
    with_ifx_port2: bool,
) -> BTreeMap<Oid, Value> {
    let mut m = BTreeMap::new();
    let mut put = |o: &str, v: Value| {
        m.insert(oid(o), v);
    };
    put(
        "1.3.6.1.2.1.1.1.0",
        Value::OctetString(b"old switch".to_vec()),
    );
    put("1.3.6.1.2.1.1.3.0", Value::TimeTicks(uptime));
    put("1.3.6.1.2.1.1.5.0", Value::OctetString(b"sw1".to_vec()));
    for (i, descr, speed) in [(1, "port1", 100_000_000u32), (2, "port2", u32::MAX)] {
        let col = |c: u32| format!("1.3.6.1.2.1.2.2.1.{c}.{i}");
        put(&col(1), Value::Integer(i));
        put(&col(2), Value::OctetString(descr.as_bytes().to_vec()));
        put(&col(5), Value::Gauge32(speed));
        put(&col(8), Value::Integer(if i == 1 { 1 } else { 2 }));
        put(&col(10), Value::Counter32(in_octets));
        put(&col(13), Value::Counter32(1));
        put(&col(14), Value::Counter32(2));
        put(&col(16), Value::Counter32(out_octets));
        put(&col(19), Value::Counter32(3));
        put(&col(20), Value::Counter32(4));
    }
    if with_ifx_port2 {
        put(
            "1.3.6.1.2.1.31.1.1.1.1.2",
            Value::OctetString(b"Te0/2".to_vec()),
        );
        put("1.3.6.1.2.1.31.1.1.1.15.2", Value::Gauge32(10_000));
    }
    // Something after the tables, so walks end on a foreign OID.
    put("1.3.6.1.2.1.4.1.0", Value::Integer(2));
    m
}

#[tokio::test]
async fn an_old_device_falls_back_to_32_bit_counters_and_if_speed() {
    let mib: Mib = Arc::new(Mutex::new(device(100, 5, 6, true)));
    let client = Client::v2c(agent(mib).await, "public", Duration::from_secs(2), 0)
        .await
        .unwrap();
    let rows = interfaces(&client).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].name, "port1", "no ifName: ifDescr");
    assert_eq!(rows[0].speed_bps, 100_000_000);
    assert_eq!(rows[0].octets_width, CounterWidth::Bits32);
    assert_eq!((rows[0].in_octets, rows[0].out_octets), (5, 6));
    assert_eq!(
        (
            rows[0].in_discards,
            rows[0].in_errors,
            rows[0].out_discards,
            rows[0].out_errors
        ),
        (1, 2, 3, 4)
    );
    assert!(rows[0].is_up() && !rows[1].is_up());
    assert_eq!(rows[1].name, "Te0/2");
    assert_eq!(
        rows[1].speed_bps, 10_000_000_000,
        "saturated ifSpeed: ifHighSpeed"
    );
}

#[tokio::test]
async fn wraps_are_rates_and_reboots_are_never_spikes() {
    let start = u32::MAX - 1_000_000;
    let mib: Mib = Arc::new(Mutex::new(device(100_000, start, 0, false)));
    let client = Client::v2c(
        agent(mib.clone()).await,
        "public",
        Duration::from_secs(2),
        0,
    )
    .await
    .unwrap();
    let mut rates = InterfaceRates::new();
    let t0 = Instant::now();
    let poll = |at: Instant| {
        let client = &client;
        async move {
            let sys = system(client).await.unwrap();
            let rows = interfaces(client).await.unwrap();
            (at, sys.uptime_ticks, rows)
        }
    };
    let (t, up, rows) = poll(t0).await;
    rates.update(t, up, &rows);

    // 60 s later the 32-bit counter went round: 3,000,001 octets in 60 s.
    *mib.lock().unwrap() = device(106_000, 2_000_000, 600_000, false);
    let (t, up, rows) = poll(t0 + Duration::from_secs(60)).await;
    let (reboot, r) = rates.update(t, up, &rows);
    assert!(reboot.is_none());
    let in_bps = r[0].in_bps.unwrap();
    assert!((in_bps - 3_000_001.0 * 8.0 / 60.0).abs() < 1e-6, "{in_bps}");
    assert!((r[0].out_bps.unwrap() - 80_000.0).abs() < 1e-6);
    let util = r[0].in_utilisation.unwrap();
    assert!((util - in_bps / 1e8).abs() < 1e-12);

    // The device rebooted: uptime 30 s, counters restarted small. The
    // drop from 2,000,000 to 10 would pass for a wrap; it must not.
    *mib.lock().unwrap() = device(3_000, 10, 20, false);
    let (t, up, rows) = poll(t0 + Duration::from_secs(120)).await;
    let (reboot, r) = rates.update(t, up, &rows);
    assert!(reboot.is_some());
    assert!(r.iter().all(|x| x.in_bps.is_none() && x.out_bps.is_none()));

    // And rates resume from there.
    *mib.lock().unwrap() = device(9_000, 60_010, 20, false);
    let (t, up, rows) = poll(t0 + Duration::from_secs(180)).await;
    let (reboot, r) = rates.update(t, up, &rows);
    assert!(reboot.is_none());
    assert_eq!(r[0].in_bps, Some(8_000.0));
}

#[tokio::test]
async fn a_walk_asks_for_less_when_the_answer_is_too_big() {
    let mib: Mib = Arc::new(Mutex::new(device(100, 5, 6, true)));
    let client = Client::v2c(
        agent_with_limit(mib.clone(), 3).await,
        "public",
        Duration::from_secs(2),
        0,
    )
    .await
    .unwrap();
    let all = client.walk(&oid("1.3.6.1.2.1.2.2.1")).await.unwrap();
    let expected = mib
        .lock()
        .unwrap()
        .keys()
        .filter(|o| o.starts_with(&oid("1.3.6.1.2.1.2.2.1")))
        .count();
    assert_eq!(all.len(), expected);
}
