//! The polling client: one agent, v2c (community) or v3 (USM).
//!
//! One request is in flight per client at a time (a lock around the
//! exchange), so an answer is matched by request-id (and msgID in v3) and
//! anything else that arrives (a late answer to an earlier try, a stray
//! datagram) is dropped without ending the wait. The socket is connected
//! to the agent, so the kernel already drops datagrams from other peers.
//!
//! v3 discovers the agent's engine (ID, boots, time) with an empty
//! unauthenticated request, localizes the keys to it, and keeps an
//! estimate of the engine's clock. A `notInTimeWindow` report (the agent
//! rebooted, or our estimate drifted) resynchronises and retries once; an
//! `unknownEngineID` report rediscovers.

use crate::ber::{
    decode_message_with_auth_offset, decode_scoped_pdu, encode_message_with_auth_offset,
    encode_scoped_pdu, CommunityMessage, DecodeError, Message, Pdu, PduKind, ScopedData, ScopedPdu,
    UsmParams, V3Message, VarBind, Version, FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE,
};
use crate::oid::Oid;
use crate::usm::{self, AuthProtocol, PrivProtocol, MIN_PASSWORD_LEN};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::UdpSocket;
use tokio::sync::Mutex;

/// Largest datagram read or announced (msgMaxSize).
const MAX_DATAGRAM: usize = 65507;

/// Default max-repetitions of a walk's GetBulk requests.
pub const WALK_REPETITIONS: i32 = 25;

/// Most varbinds one walk collects before it gives up: a bound on what a
/// broken or hostile agent can make Vigil hold.
pub const MAX_WALK_ROWS: usize = 100_000;

/// Why an SNMP operation failed, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no answer from {target} after {tries} tries of {timeout:?} each{hint}")]
    Timeout {
        target: SocketAddr,
        tries: u32,
        timeout: Duration,
        /// What else silence can mean with these settings.
        hint: &'static str,
    },
    #[error("authentication failed: {0}")]
    Authentication(String),
    #[error("the agent refused the request: {0}")]
    Report(String),
    #[error("the agent answered {name} ({status}){}", at_varbind(*index, oid.as_ref()))]
    Status {
        status: i32,
        name: &'static str,
        index: i32,
        oid: Option<Oid>,
    },
    #[error("malformed response: {0}")]
    Malformed(#[from] DecodeError),
    #[error("unexpected response: {0}")]
    Unexpected(String),
    #[error("walk of {root}: {reason}")]
    Walk { root: Oid, reason: String },
    #[error("invalid SNMP settings: {0}")]
    Config(String),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

/// " at varbind N (OID)" for an error-index, nothing for index 0.
fn at_varbind(index: i32, oid: Option<&Oid>) -> String {
    match (index, oid) {
        (i, _) if i <= 0 => String::new(),
        (i, Some(o)) => format!(" at varbind {i} ({o})"),
        (i, None) => format!(" at varbind {i}"),
    }
}

/// The name of an error-status (RFC 3416).
pub fn error_status_name(status: i32) -> &'static str {
    const NAMES: [&str; 19] = [
        "noError",
        "tooBig",
        "noSuchName",
        "badValue",
        "readOnly",
        "genErr",
        "noAccess",
        "wrongType",
        "wrongLength",
        "wrongEncoding",
        "wrongValue",
        "noCreation",
        "inconsistentValue",
        "resourceUnavailable",
        "commitFailed",
        "undoFailed",
        "authorizationError",
        "notWritable",
        "inconsistentName",
    ];
    usize::try_from(status)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("an unknown error-status")
}

/// A v3 user: name, authentication and (optional) privacy.
#[derive(Clone)]
pub struct UsmUser {
    pub name: String,
    pub auth: AuthProtocol,
    pub auth_password: String,
    pub privacy: Option<(PrivProtocol, String)>,
}

impl std::fmt::Debug for UsmUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the passwords.
        f.debug_struct("UsmUser")
            .field("name", &self.name)
            .field("auth", &self.auth)
            .field("privacy", &self.privacy.as_ref().map(|p| p.0))
            .finish()
    }
}

enum Security {
    Community(Vec<u8>),
    Usm(UsmUser),
}

/// What a v3 client knows of the agent's engine.
struct Engine {
    id: Vec<u8>,
    boots: i32,
    time: i32,
    /// When `time` was learnt: the engine's clock is estimated from it.
    at: Instant,
    auth_key: Vec<u8>,
    priv_key: Vec<u8>,
}

/// How far an authentic message's engine time may lag our estimate
/// before it is taken for a replay (RFC 3414 section 2.2.3).
const TIME_WINDOW_SECS: i32 = 150;

impl Engine {
    fn now(&self) -> i32 {
        let elapsed = i32::try_from(self.at.elapsed().as_secs()).unwrap_or(i32::MAX);
        self.time.saturating_add(elapsed)
    }

    /// Whether an authentic message's boots and time can be current.
    fn in_time_window(&self, boots: i32, time: i32) -> bool {
        boots != i32::MAX
            && (boots > self.boots
                || boots == self.boots && time >= self.now().saturating_sub(TIME_WINDOW_SECS))
    }

    /// Moves the estimate forward to an authentic message's clock
    /// (RFC 3414 3.2.7b), never back.
    fn learn_clock(&mut self, boots: i32, time: i32) {
        if boots > self.boots || boots == self.boots && time > self.now() {
            self.boots = boots;
            self.time = time;
            self.at = Instant::now();
        }
    }
}

/// What a client has seen besides answers, for metrics and tests.
#[derive(Debug, Default)]
pub struct ClientStats {
    /// v3 engine discoveries (the first request, and after unknownEngineID).
    pub discoveries: AtomicU64,
    /// v3 clock resynchronisations after a notInTimeWindow report.
    pub resyncs: AtomicU64,
    /// Datagrams dropped as not the awaited answer (late, stray, forged).
    pub ignored: AtomicU64,
    /// Datagrams that did not decode.
    pub malformed: AtomicU64,
}

/// A snapshot of [`ClientStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientCounts {
    pub discoveries: u64,
    pub resyncs: u64,
    pub ignored: u64,
    pub malformed: u64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// An SNMP client for one agent.
pub struct Client {
    socket: UdpSocket,
    target: SocketAddr,
    timeout: Duration,
    retries: u32,
    security: Security,
    /// Held for a whole exchange: one request in flight.
    engine: Mutex<Option<Engine>>,
    next_id: AtomicU64,
    salt: AtomicU64,
    stats: ClientStats,
}

/// A number that differs between runs, to start request-ids and salts.
fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}

impl Client {
    async fn new(
        target: SocketAddr,
        security: Security,
        timeout: Duration,
        retries: u32,
    ) -> Result<Client, Error> {
        let local: SocketAddr = if target.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(target).await?;
        let s = seed();
        Ok(Client {
            socket,
            target,
            timeout,
            retries,
            security,
            engine: Mutex::new(None),
            next_id: AtomicU64::new(s % 0x3fff_ffff),
            salt: AtomicU64::new(s.rotate_left(17)),
            stats: ClientStats::default(),
        })
    }

    /// A v2c client. Each request is tried `retries + 1` times, waiting
    /// `timeout` for each.
    pub async fn v2c(
        target: SocketAddr,
        community: &str,
        timeout: Duration,
        retries: u32,
    ) -> Result<Client, Error> {
        let security = Security::Community(community.as_bytes().to_vec());
        Client::new(target, security, timeout, retries).await
    }

    /// A v3 client (authNoPriv, or authPriv when `user.privacy` is set).
    pub async fn v3(
        target: SocketAddr,
        user: UsmUser,
        timeout: Duration,
        retries: u32,
    ) -> Result<Client, Error> {
        if user.auth_password.len() < MIN_PASSWORD_LEN {
            return Err(Error::Config(format!(
                "the authentication password of {} is under {MIN_PASSWORD_LEN} characters",
                user.name
            )));
        }
        if let Some((_, p)) = &user.privacy {
            if p.len() < MIN_PASSWORD_LEN {
                return Err(Error::Config(format!(
                    "the privacy password of {} is under {MIN_PASSWORD_LEN} characters",
                    user.name
                )));
            }
        }
        Client::new(target, Security::Usm(user), timeout, retries).await
    }

    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// What the client has seen so far besides answers.
    pub fn counts(&self) -> ClientCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClientCounts {
            discoveries: get(&self.stats.discoveries),
            resyncs: get(&self.stats.resyncs),
            ignored: get(&self.stats.ignored),
            malformed: get(&self.stats.malformed),
        }
    }

    /// GetRequest: the values of `oids`, in order.
    pub async fn get(&self, oids: &[Oid]) -> Result<Vec<VarBind>, Error> {
        self.request(PduKind::Get, oids, 0, 0).await
    }

    /// GetNextRequest: for each OID, the next one in the agent's MIB.
    pub async fn get_next(&self, oids: &[Oid]) -> Result<Vec<VarBind>, Error> {
        self.request(PduKind::GetNext, oids, 0, 0).await
    }

    /// GetBulkRequest (RFC 3416 4.2.3).
    pub async fn get_bulk(
        &self,
        oids: &[Oid],
        non_repeaters: i32,
        max_repetitions: i32,
    ) -> Result<Vec<VarBind>, Error> {
        self.request(PduKind::GetBulk, oids, non_repeaters, max_repetitions)
            .await
    }

    /// Everything under `root`, in order, by GetBulk. Stops at the end of
    /// the subtree or of the MIB; fails if the agent goes backwards or
    /// repeats itself (a loop) or returns more than [`MAX_WALK_ROWS`].
    pub async fn walk(&self, root: &Oid) -> Result<Vec<VarBind>, Error> {
        let fail = |reason: String| Error::Walk {
            root: root.clone(),
            reason,
        };
        let mut out: Vec<VarBind> = Vec::new();
        let mut cursor = root.clone();
        let mut repetitions = WALK_REPETITIONS;
        loop {
            let asked = self
                .get_bulk(std::slice::from_ref(&cursor), 0, repetitions)
                .await;
            let batch = match asked {
                // The answer would not fit the agent's buffer: ask for less.
                Err(Error::Status { status: 1, .. }) if repetitions > 1 => {
                    repetitions /= 2;
                    continue;
                }
                other => other?,
            };
            if batch.is_empty() {
                return Ok(out);
            }
            for vb in batch {
                if !vb.oid.starts_with(root) || vb.value == crate::ber::Value::EndOfMibView {
                    return Ok(out);
                }
                if vb.oid <= cursor {
                    // The agent's OID is not quoted (an index can carry text).
                    return Err(fail("the agent went backwards (a loop)".into()));
                }
                if out.len() == MAX_WALK_ROWS {
                    return Err(fail(format!("more than {MAX_WALK_ROWS} values")));
                }
                cursor = vb.oid.clone();
                out.push(vb);
            }
        }
    }

    fn next_request_id(&self) -> i32 {
        (self.next_id.fetch_add(1, Ordering::Relaxed) % 0x7fff_ffff) as i32
    }

    async fn request(
        &self,
        kind: PduKind,
        oids: &[Oid],
        status: i32,
        index: i32,
    ) -> Result<Vec<VarBind>, Error> {
        let pdu = Pdu {
            kind,
            request_id: self.next_request_id(),
            error_status: status,
            error_index: index,
            varbinds: oids.iter().cloned().map(VarBind::null).collect(),
        };
        let answer = match &self.security {
            Security::Community(c) => self.exchange_v2c(c, &pdu).await?,
            Security::Usm(user) => self.exchange_v3(user, &pdu).await?,
        };
        check_status(answer)
    }

    /// Sends `bytes` up to `retries + 1` times and gives each datagram
    /// that comes back to `accept` until it returns an answer. Datagrams
    /// `accept` rejects are ignored; the last one that did not decode is
    /// the error when nothing else arrives.
    async fn exchange<T>(
        &self,
        mut bytes: impl FnMut() -> Result<Vec<u8>, Error>,
        mut accept: impl FnMut(&[u8]) -> Result<Option<T>, Error>,
    ) -> Result<T, Error> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut malformed: Option<DecodeError> = None;
        let mut stray = false;
        for _ in 0..=self.retries {
            self.send(&bytes()?).await?;
            // Saturating: a timeout no clock can hold waits the longest
            // a check may (the server bounds it anyway).
            let now = tokio::time::Instant::now();
            let deadline = now
                .checked_add(self.timeout)
                .unwrap_or_else(|| now + Duration::from_secs(60));
            loop {
                let recv = tokio::time::timeout_at(deadline, self.socket.recv(&mut buf)).await;
                let n = match recv {
                    Err(_) => break,
                    // ICMP port unreachable shows as an error on a
                    // connected socket: the same as no answer.
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        tokio::time::sleep_until(deadline).await;
                        break;
                    }
                    Ok(r) => r?,
                };
                match accept(&buf[..n]) {
                    Ok(Some(answer)) => return Ok(answer),
                    Ok(None) => {
                        bump(&self.stats.ignored);
                        stray = true;
                    }
                    Err(Error::Malformed(e)) => {
                        bump(&self.stats.malformed);
                        malformed = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        if let Some(e) = malformed {
            return Err(Error::Malformed(e));
        }
        let hint = match self.security {
            // Something answered, just never this request: say so, or the
            // operator hunts for a firewall that is not there.
            _ if stray => " (datagrams came back, but none answered this request: a wrong request id, or another agent's replies)",
            Security::Community(_) => " (agents drop requests with a wrong community unanswered)",
            Security::Usm(_) => " (agents drop requests with a wrong privacy password unanswered)",
        };
        Err(Error::Timeout {
            target: self.target,
            tries: self.retries + 1,
            timeout: self.timeout,
            hint,
        })
    }

    /// Sends one datagram. An ICMP error left by an earlier datagram can
    /// surface on this send instead of a receive: it is consumed by being
    /// reported, so the send is tried once more.
    async fn send(&self, bytes: &[u8]) -> Result<(), Error> {
        match self.socket.send(bytes).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                self.socket.send(bytes).await?;
            }
            other => {
                other?;
            }
        }
        Ok(())
    }

    async fn exchange_v2c(&self, community: &[u8], pdu: &Pdu) -> Result<Pdu, Error> {
        let _one = self.engine.lock().await;
        let msg = Message::Community(CommunityMessage {
            version: Version::V2c,
            community: community.to_vec(),
            pdu: pdu.clone(),
        });
        let bytes = encode_message_with_auth_offset(&msg).0;
        self.exchange(
            || Ok(bytes.clone()),
            |datagram| {
                let (msg, _) = decode_message_with_auth_offset(datagram)?;
                Ok(match msg {
                    Message::Community(m)
                        if m.pdu.request_id == pdu.request_id
                            && m.pdu.kind == PduKind::Response
                            && m.community == community =>
                    {
                        Some(m.pdu)
                    }
                    _ => None,
                })
            },
        )
        .await
    }

    async fn exchange_v3(&self, user: &UsmUser, pdu: &Pdu) -> Result<Pdu, Error> {
        let mut engine = self.engine.lock().await;
        // At most: discover, resync the clock, then the request itself.
        for _ in 0..3 {
            if engine.is_none() {
                bump(&self.stats.discoveries);
                *engine = Some(self.discover(user).await?);
            }
            let Some(e) = engine.as_mut() else { continue };
            match self.send_v3(user, e, pdu).await? {
                V3Answer::Pdu { pdu, boots, time } => {
                    e.learn_clock(boots, time);
                    return Ok(pdu);
                }
                V3Answer::Resync { boots, time } => {
                    bump(&self.stats.resyncs);
                    e.boots = boots;
                    e.time = time;
                    e.at = Instant::now();
                }
                V3Answer::Rediscover => *engine = None,
            }
        }
        Err(Error::Report(
            "the agent kept rejecting our engine clock or engine ID".into(),
        ))
    }

    fn msg_id(&self) -> i32 {
        self.next_request_id()
    }

    /// Engine discovery (RFC 3414 section 4): an empty request answered
    /// by a report carrying the engine's ID, boots and time.
    async fn discover(&self, user: &UsmUser) -> Result<Engine, Error> {
        let msg_id = self.msg_id();
        let msg = Message::V3(V3Message {
            msg_id,
            max_size: MAX_DATAGRAM as i32,
            flags: FLAG_REPORTABLE,
            usm: UsmParams::default(),
            data: ScopedData::Plain(ScopedPdu {
                context_engine_id: vec![],
                context_name: vec![],
                pdu: Pdu {
                    kind: PduKind::Get,
                    request_id: msg_id,
                    error_status: 0,
                    error_index: 0,
                    varbinds: vec![],
                },
            }),
        });
        let bytes = encode_message_with_auth_offset(&msg).0;
        let usm = self
            .exchange(
                || Ok(bytes.clone()),
                |datagram| match decode_message_with_auth_offset(datagram)? {
                    (Message::V3(m), _) if m.msg_id == msg_id && !m.usm.engine_id.is_empty() => {
                        Ok(Some(m.usm))
                    }
                    _ => Ok(None),
                },
            )
            .await?;
        let auth_key = user.auth.localize(
            &user.auth.password_to_key(user.auth_password.as_bytes()),
            &usm.engine_id,
        );
        let priv_key = match &user.privacy {
            Some((PrivProtocol::Aes128, p)) => user
                .auth
                .localize(&user.auth.password_to_key(p.as_bytes()), &usm.engine_id),
            None => vec![],
        };
        Ok(Engine {
            id: usm.engine_id,
            boots: usm.boots,
            time: usm.time,
            at: Instant::now(),
            auth_key,
            priv_key,
        })
    }

    fn next_salt(&self) -> [u8; 8] {
        self.salt.fetch_add(1, Ordering::Relaxed).to_be_bytes()
    }

    /// Encodes, encrypts and signs one v3 request.
    fn seal_v3(&self, user: &UsmUser, e: &Engine, msg_id: i32, pdu: &Pdu) -> Vec<u8> {
        let (boots, time) = (e.boots, e.now());
        let scoped = ScopedPdu {
            context_engine_id: e.id.clone(),
            context_name: vec![],
            pdu: pdu.clone(),
        };
        let (data, priv_params, flags) = match &user.privacy {
            Some(_) => {
                let salt = self.next_salt();
                let mut plain = encode_scoped_pdu(&scoped);
                usm::aes_encrypt(&e.priv_key, boots, time, &salt, &mut plain);
                let data = ScopedData::Encrypted(plain);
                (data, salt.to_vec(), FLAG_AUTH | FLAG_PRIV | FLAG_REPORTABLE)
            }
            None => (
                ScopedData::Plain(scoped),
                vec![],
                FLAG_AUTH | FLAG_REPORTABLE,
            ),
        };
        let msg = Message::V3(V3Message {
            msg_id,
            max_size: MAX_DATAGRAM as i32,
            flags,
            usm: UsmParams {
                engine_id: e.id.clone(),
                boots,
                time,
                user: user.name.as_bytes().to_vec(),
                auth_params: vec![0; user.auth.mac_len()],
                priv_params,
            },
            data,
        });
        let (mut bytes, at) = encode_message_with_auth_offset(&msg);
        if let Some(at) = at {
            let mac = user.auth.mac(&e.auth_key, &bytes);
            bytes[at..at + mac.len()].copy_from_slice(&mac);
        }
        bytes
    }

    async fn send_v3(&self, user: &UsmUser, e: &Engine, pdu: &Pdu) -> Result<V3Answer, Error> {
        let msg_id = self.msg_id();
        self.exchange(
            || Ok(self.seal_v3(user, e, msg_id, pdu)),
            |datagram| open_v3(user, e, msg_id, pdu.request_id, datagram),
        )
        .await
    }
}

/// What a v3 exchange ended with.
enum V3Answer {
    /// The answer, and the engine clock it was sent at.
    Pdu {
        pdu: Pdu,
        boots: i32,
        time: i32,
    },
    Resync {
        boots: i32,
        time: i32,
    },
    Rediscover,
}

const USM_STATS: [u32; 10] = [1, 3, 6, 1, 6, 3, 15, 1, 1, 0];

/// Checks, decrypts and reads one datagram answering a v3 request;
/// `Ok(None)` for what is not the answer (to be ignored).
fn open_v3(
    user: &UsmUser,
    e: &Engine,
    msg_id: i32,
    request_id: i32,
    datagram: &[u8],
) -> Result<Option<V3Answer>, Error> {
    let (msg, auth_at) = decode_message_with_auth_offset(datagram)?;
    let (Message::V3(m), Some(auth_at)) = (msg, auth_at) else {
        return Ok(None);
    };
    if m.msg_id != msg_id {
        return Ok(None);
    }
    let authentic = m.flags & FLAG_AUTH != 0 && verify(user, e, &m, auth_at, datagram);
    if m.flags & FLAG_AUTH != 0 && !authentic {
        // Forged or corrupted: not the agent's answer.
        return Ok(None);
    }
    let scoped = match m.data {
        ScopedData::Plain(s) => s,
        ScopedData::Encrypted(mut bytes) => {
            if !authentic {
                return Ok(None);
            }
            usm::aes_decrypt(
                &e.priv_key,
                m.usm.boots,
                m.usm.time,
                &m.usm.priv_params,
                &mut bytes,
            )
            .ok_or_else(|| Error::Unexpected("an encrypted answer that cannot be decrypted (no privacy key, or privacy parameters not 8 bytes)".into()))?;
            decode_scoped_pdu(&bytes).map_err(|err| {
                Error::Unexpected(format!(
                    "the decrypted PDU does not decode ({err}): wrong privacy password?"
                ))
            })?
        }
    };
    let pdu = scoped.pdu;
    if pdu.kind == PduKind::Report {
        return report(pdu, authentic, &m.usm).map(Some);
    }
    if pdu.kind != PduKind::Response || pdu.request_id != request_id {
        return Ok(None);
    }
    if !authentic {
        return Err(Error::Authentication(
            "the agent answered without authentication".into(),
        ));
    }
    if !e.in_time_window(m.usm.boots, m.usm.time) {
        // An old message replayed (RFC 3414 3.2.7b): not the answer.
        return Ok(None);
    }
    Ok(Some(V3Answer::Pdu {
        pdu,
        boots: m.usm.boots,
        time: m.usm.time,
    }))
}

fn verify(user: &UsmUser, e: &Engine, m: &V3Message, auth_at: usize, datagram: &[u8]) -> bool {
    let len = user.auth.mac_len();
    if m.usm.auth_params.len() != len || m.usm.engine_id != e.id {
        return false;
    }
    let mut zeroed = datagram.to_vec();
    zeroed[auth_at..auth_at + len].fill(0);
    usm::mac_eq(&user.auth.mac(&e.auth_key, &zeroed), &m.usm.auth_params)
}

/// Turns a USM report into the next step or an error with its reason.
fn report(pdu: Pdu, authentic: bool, usm: &UsmParams) -> Result<V3Answer, Error> {
    let Some(vb) = pdu.varbinds.first() else {
        return Err(Error::Report("an empty report".into()));
    };
    let arcs = vb.oid.arcs();
    let stat = if arcs.len() == 11 && arcs[..9] == USM_STATS[..9] {
        arcs[9]
    } else {
        0
    };
    match stat {
        2 if authentic => Ok(V3Answer::Resync {
            boots: usm.boots,
            time: usm.time,
        }),
        2 => Err(Error::Authentication(
            "notInTimeWindow report without authentication".into(),
        )),
        4 => Ok(V3Answer::Rediscover),
        1 => Err(Error::Report(
            "usmStatsUnsupportedSecLevels: the user does not allow this security level".into(),
        )),
        3 => Err(Error::Authentication(
            "usmStatsUnknownUserNames: the agent has no such user".into(),
        )),
        5 => Err(Error::Authentication(
            "usmStatsWrongDigests: wrong authentication password or protocol".into(),
        )),
        6 => Err(Error::Authentication(
            "usmStatsDecryptionErrors: wrong privacy password or protocol".into(),
        )),
        _ => Err(Error::Report(format!("report {}", vb.oid))),
    }
}

/// An answer's error-status as an error naming the varbind.
fn check_status(pdu: Pdu) -> Result<Vec<VarBind>, Error> {
    if pdu.error_status != 0 {
        let oid = usize::try_from(pdu.error_index - 1)
            .ok()
            .and_then(|i| pdu.varbinds.get(i))
            .map(|vb| vb.oid.clone());
        return Err(Error::Status {
            status: pdu.error_status,
            name: error_status_name(pdu.error_status),
            index: pdu.error_index,
            oid,
        });
    }
    Ok(pdu.varbinds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(boots: i32, time: i32) -> Engine {
        Engine {
            id: vec![1],
            boots,
            time,
            at: Instant::now(),
            auth_key: vec![],
            priv_key: vec![],
        }
    }

    #[test]
    fn the_time_window_refuses_replays() {
        let e = engine(3, 1_000);
        assert!(e.in_time_window(3, 1_000));
        assert!(e.in_time_window(3, 851));
        assert!(!e.in_time_window(3, 849), "older than 150 s");
        assert!(!e.in_time_window(2, 5_000), "an earlier boot");
        assert!(e.in_time_window(4, 0), "a later boot");
        assert!(
            !e.in_time_window(i32::MAX, 0),
            "boots latched at its maximum"
        );
    }

    #[test]
    fn the_clock_only_moves_forward() {
        let mut e = engine(3, 1_000);
        e.learn_clock(3, 900);
        assert_eq!((e.boots, e.time), (3, 1_000));
        e.learn_clock(3, 1_200);
        assert_eq!((e.boots, e.time), (3, 1_200));
        e.learn_clock(4, 5);
        assert_eq!((e.boots, e.time), (4, 5));
        e.learn_clock(3, 99_999);
        assert_eq!((e.boots, e.time), (4, 5));
    }

    #[test]
    fn reports_become_reasons() {
        let usm = UsmParams::default();
        let pdu = |arc: u32| Pdu {
            kind: PduKind::Report,
            request_id: 1,
            error_status: 0,
            error_index: 0,
            varbinds: vec![VarBind {
                oid: Oid::from_arcs(&[1, 3, 6, 1, 6, 3, 15, 1, 1, arc, 0]).unwrap(),
                value: crate::ber::Value::Counter32(1),
            }],
        };
        let reason = |arc, authentic| match report(pdu(arc), authentic, &usm) {
            Err(e) => e.to_string(),
            Ok(V3Answer::Resync { .. }) => "resync".into(),
            Ok(V3Answer::Rediscover) => "rediscover".into(),
            Ok(V3Answer::Pdu { .. }) => "pdu".into(),
        };
        assert_eq!(reason(2, true), "resync");
        assert!(reason(2, false).contains("without authentication"));
        assert_eq!(reason(4, false), "rediscover");
        assert!(reason(1, false).contains("security level"));
        assert!(reason(3, false).contains("no such user"));
        assert!(reason(5, false).contains("wrong authentication password"));
        assert!(reason(6, false).contains("wrong privacy password"));
        assert!(reason(9, false).contains("1.3.6.1.6.3.15.1.1.9.0"));
    }

    #[test]
    fn error_status_names() {
        assert_eq!(error_status_name(2), "noSuchName");
        assert_eq!(error_status_name(18), "inconsistentName");
        assert_eq!(error_status_name(19), "an unknown error-status");
        assert_eq!(error_status_name(-1), "an unknown error-status");
    }
}
