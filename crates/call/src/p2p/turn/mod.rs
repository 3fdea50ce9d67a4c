//! A TURN client (RFC 8656, over UDP) for seed 004's peer-to-peer calls:
//! when neither side can reach the other directly (strict NATs, firewalls
//! that let only a relay through), media goes through the platform's TURN
//! server, as the seed recommends for production. str0m has no TURN client,
//! so this is ours.
//!
//! [`Client`] is a plain machine with time as input: it is handed the
//! datagrams from its server and the time, and hands back datagrams to send
//! and what arrived. It allocates a relayed address with the long-term
//! credential (the `username`/`credential` pair an `iceServers` entry has),
//! keeps it refreshed, binds a channel to each peer it sends to (which also
//! gives that peer permission to send to us), and wraps and unwraps the
//! media: ChannelData once a channel is bound, Send/Data indications before.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::stun::{self, Message, Read};

const ALLOCATE: u16 = 0x0003;
const REFRESH: u16 = 0x0004;
const SEND_INDICATION: u16 = 0x0016;
const DATA_INDICATION: u16 = 0x0017;
const CHANNEL_BIND: u16 = 0x0009;
const SUCCESS: u16 = 0x0100;
const ERROR: u16 = 0x0110;

const CHANNEL_NUMBER: u16 = 0x000C;
const LIFETIME: u16 = 0x000D;
const USERNAME: u16 = 0x0006;
const XOR_PEER_ADDRESS: u16 = 0x0012;
const DATA: u16 = 0x0013;
const REALM: u16 = 0x0014;
const NONCE: u16 = 0x0015;
const XOR_RELAYED_ADDRESS: u16 = 0x0016;
const REQUESTED_TRANSPORT: u16 = 0x0019;
/// REQUESTED-TRANSPORT's value for UDP (protocol 17).
const UDP: [u8; 4] = [17, 0, 0, 0];

/// The first retransmission of a request; doubled each time.
const RTO: Duration = Duration::from_millis(500);
/// Tries of one request before it is given up.
const TRIES: u32 = 5;
/// A channel binding lasts ten minutes and its permission five: both are
/// renewed after four.
const CHANNEL_REFRESH: Duration = Duration::from_secs(240);
/// The allocation is refreshed this long before it would expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Channels are numbered from 0x4000 to 0x4FFF (RFC 8656 §12).
const FIRST_CHANNEL: u16 = 0x4000;
const LAST_CHANNEL: u16 = 0x4FFF;
/// Longest username, credential, realm or nonce kept (RFC 8489 limits
/// them to under 513 bytes; longer is not a server we talk to).
const MAX_TEXT: usize = 512;

/// A TURN server as an `iceServers` entry names it.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnServer {
    /// `host:port`.
    pub address: String,
    pub username: String,
    pub credential: String,
}

impl std::fmt::Debug for TurnServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credential.
        f.debug_struct("TurnServer")
            .field("address", &self.address)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Why a TURN server's address, as written, cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnUrlError {
    #[error("{0:?} is not a TURN server address (turn:host:port)")]
    NotTurn(String),
    #[error(
        "{0:?} asks for TURN over TCP or TLS; Tandem relays over UDP only (turn:host:port or ?transport=udp)"
    )]
    NotUdp(String),
}

/// Reads `turn:host[:port][?transport=udp]` (port 3478 by default).
pub fn parse_url(s: &str) -> Result<String, TurnUrlError> {
    let s = s.trim();
    if s.starts_with("turns:") {
        return Err(TurnUrlError::NotUdp(s.to_owned()));
    }
    let Some(rest) = s.strip_prefix("turn:") else {
        return Err(TurnUrlError::NotTurn(s.to_owned()));
    };
    let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("transport", "udp")) => {}
            Some(("transport", _)) => return Err(TurnUrlError::NotUdp(s.to_owned())),
            _ => return Err(TurnUrlError::NotTurn(s.to_owned())),
        }
    }
    if host.is_empty()
        || host.len() > 255
        || host.contains('@')
        || host.chars().any(|c| c.is_whitespace() || c == '/')
    {
        return Err(TurnUrlError::NotTurn(s.to_owned()));
    }
    if host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        Ok(host.to_owned())
    } else if host.contains(':') && !host.starts_with('[') {
        // A port that is not a number.
        Err(TurnUrlError::NotTurn(s.to_owned()))
    } else {
        Ok(format!("{host}:3478"))
    }
}

/// Why the relay could not be had, or was lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnError {
    #[error("the TURN server did not answer")]
    Timeout,
    #[error("the TURN server refused the username or credential")]
    Unauthorized,
    #[error("the TURN server refused: {code} {reason}")]
    Refused { code: u16, reason: String },
    #[error("the TURN server's answer could not be read: {0}")]
    BadAnswer(&'static str),
    #[error("the TURN server {0} could not be found")]
    NotFound(String),
}

/// Allocates a relay on `server` from `socket`, within `limit`: the client
/// that holds it, and the server's address.
pub async fn allocate(
    socket: &tokio::net::UdpSocket,
    server: &TurnServer,
    limit: Duration,
) -> Result<(Client, SocketAddr), TurnError> {
    let local = socket
        .local_addr()
        .map_err(|_| TurnError::NotFound(server.address.clone()))?;
    let target = tokio::net::lookup_host(server.address.as_str())
        .await
        .ok()
        .and_then(|mut a| a.find(|a| a.is_ipv4() == local.is_ipv4()))
        .ok_or_else(|| TurnError::NotFound(server.address.clone()))?;
    let deadline = tokio::time::Instant::now() + limit;
    let mut client = Client::new(server, Instant::now());
    let mut buf = vec![0u8; 2048];
    loop {
        while let Some(d) = client.transmit() {
            let _ = socket.send_to(&d, target).await;
        }
        let wake = client.timeout().map_or(deadline, |t| {
            tokio::time::Instant::from_std(t).min(deadline)
        });
        match tokio::time::timeout_at(wake, socket.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) if from == target => match client.handle(&buf[..n], Instant::now()) {
                Got::Allocated(_) => return Ok((client, target)),
                Got::Failed(e) => return Err(e),
                _ => {}
            },
            Ok(_) => {}
            Err(_) if tokio::time::Instant::now() >= deadline => return Err(TurnError::Timeout),
            Err(_) => {
                if let Got::Failed(e) = client.on_timeout(Instant::now()) {
                    return Err(e);
                }
            }
        }
    }
}

/// What a datagram from the server was.
#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    /// Media or ICE from a peer, through the relay.
    Data { from: SocketAddr, data: Vec<u8> },
    /// The relayed address is ours.
    Allocated(SocketAddr),
    /// The relay could not be had (or was lost).
    Failed(TurnError),
    /// Nothing for the caller (an answer to a refresh, a binding…).
    Nothing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Allocate,
    Refresh,
    Bind(SocketAddr),
}

struct Pending {
    what: What,
    message: Vec<u8>,
    next_try: Instant,
    tries: u32,
}

struct Channel {
    number: u16,
    bound: bool,
    /// When the binding (and its permission) is renewed.
    renew_at: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Allocating,
    Allocated {
        relay: SocketAddr,
        refresh_at: Instant,
    },
    Failed,
}

/// One allocation on one TURN server, from one local socket.
pub struct Client {
    username: String,
    credential: String,
    realm: Option<String>,
    nonce: Option<String>,
    key: Option<[u8; 16]>,
    state: State,
    /// Whether the allocation was asked for with credentials already.
    authenticated_once: bool,
    pending: HashMap<[u8; 12], Pending>,
    channels: HashMap<SocketAddr, Channel>,
    by_number: HashMap<u16, SocketAddr>,
    next_channel: u16,
    out: VecDeque<Vec<u8>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state)
            .field("channels", &self.channels.len())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client that asks for an allocation at once (see [`Client::transmit`]).
    pub fn new(server: &TurnServer, now: Instant) -> Client {
        let mut c = Client {
            username: server.username.chars().take(MAX_TEXT).collect(),
            credential: server.credential.chars().take(MAX_TEXT).collect(),
            realm: None,
            nonce: None,
            key: None,
            state: State::Allocating,
            authenticated_once: false,
            pending: HashMap::new(),
            channels: HashMap::new(),
            by_number: HashMap::new(),
            next_channel: FIRST_CHANNEL,
            out: VecDeque::new(),
        };
        c.request(What::Allocate, now);
        c
    }

    /// The relayed address, once allocated.
    pub fn relay(&self) -> Option<SocketAddr> {
        match self.state {
            State::Allocated { relay, .. } => Some(relay),
            _ => None,
        }
    }

    /// The next datagram to send to the server.
    pub fn transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// When [`Client::on_timeout`] should next be called.
    pub fn timeout(&self) -> Option<Instant> {
        let retry = self.pending.values().map(|p| p.next_try).min();
        let refresh = match self.state {
            State::Allocated { refresh_at, .. } => Some(refresh_at),
            _ => None,
        };
        let renew = self
            .channels
            .values()
            .filter(|c| c.bound)
            .map(|c| c.renew_at)
            .min();
        [retry, refresh, renew].into_iter().flatten().min()
    }

    /// Retransmits, refreshes and renews what is due; a request that was
    /// never answered ends the allocation ([`Got::Failed`]) when it was the
    /// allocation's own.
    pub fn on_timeout(&mut self, now: Instant) -> Got {
        let due: Vec<[u8; 12]> = self
            .pending
            .iter()
            .filter(|(_, p)| p.next_try <= now)
            .map(|(id, _)| *id)
            .collect();
        let mut failed = None;
        for id in due {
            let Some(p) = self.pending.get_mut(&id) else {
                continue;
            };
            if p.tries >= TRIES {
                let what = p.what;
                self.pending.remove(&id);
                match what {
                    What::Allocate | What::Refresh => failed = Some(self.fail()),
                    What::Bind(peer) => self.forget(peer),
                }
                continue;
            }
            p.tries += 1;
            p.next_try = now + RTO * 2u32.pow(p.tries - 1);
            self.out.push_back(p.message.clone());
        }
        if let Some(f) = failed {
            return Got::Failed(f);
        }
        if let State::Allocated { refresh_at, .. } = self.state
            && refresh_at <= now
            && !self.pending.values().any(|p| p.what == What::Refresh)
        {
            self.request(What::Refresh, now);
        }
        let renew: Vec<SocketAddr> = self
            .channels
            .iter()
            .filter(|(_, c)| c.bound && c.renew_at <= now)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in renew {
            if let Some(c) = self.channels.get_mut(&peer) {
                c.renew_at = now + CHANNEL_REFRESH;
            }
            self.request(What::Bind(peer), now);
        }
        Got::Nothing
    }

    /// Wraps `data` for `peer` through the relay; `None` before the
    /// allocation. The first datagram to a peer also binds it a channel
    /// (its permission comes with it); until that is answered the data
    /// goes as a Send indication, which the server drops while the peer
    /// has no permission, as a lost packet (ICE tries again).
    pub fn wrap(&mut self, peer: SocketAddr, data: &[u8], now: Instant) -> Option<Vec<u8>> {
        self.relay()?;
        if !self.channels.contains_key(&peer) {
            let number = self.free_channel()?;
            self.channels.insert(
                peer,
                Channel {
                    number,
                    bound: false,
                    renew_at: now + CHANNEL_REFRESH,
                },
            );
            self.by_number.insert(number, peer);
            self.request(What::Bind(peer), now);
        }
        let c = self.channels.get(&peer)?;
        if c.bound {
            let mut d = Vec::with_capacity(4 + data.len() + 3);
            d.extend_from_slice(&c.number.to_be_bytes());
            d.extend_from_slice(&(data.len() as u16).to_be_bytes());
            d.extend_from_slice(data);
            // Over UDP the padding may be left out (RFC 8656 §12.5).
            Some(d)
        } else {
            Some(
                Message::new(SEND_INDICATION, stun::rand_id())
                    .xor_address(XOR_PEER_ADDRESS, peer)
                    .attr(DATA, data)
                    .bytes(),
            )
        }
    }

    /// Reads a datagram that came from the server.
    pub fn handle(&mut self, datagram: &[u8], now: Instant) -> Got {
        if let Some(&first) = datagram.first()
            && (0x40..=0x4f).contains(&first)
        {
            return self.channel_data(datagram);
        }
        let Some(m) = stun::read(datagram) else {
            return Got::Nothing;
        };
        if m.kind == DATA_INDICATION {
            return match (m.address(XOR_PEER_ADDRESS), m.get(DATA)) {
                (Some(from), Some(data)) => Got::Data {
                    from,
                    data: data.to_vec(),
                },
                _ => Got::Nothing,
            };
        }
        let Some(p) = self.pending.remove(&m.id) else {
            return Got::Nothing;
        };
        // Answers to authenticated requests must carry our integrity; an
        // answer that does not is not from our server (or was altered).
        if let Some(key) = self.key
            && m.kind & 0x0110 == SUCCESS
            && !m.integrity_ok(&key)
        {
            self.pending.insert(m.id, p);
            return Got::Nothing;
        }
        match m.kind & 0x0110 {
            SUCCESS => self.succeeded(p.what, &m, now),
            ERROR => self.refused(p.what, &m, now),
            _ => {
                self.pending.insert(m.id, p);
                Got::Nothing
            }
        }
    }

    /// The datagram that ends the allocation (a refresh to lifetime 0),
    /// sent once when the call is over; `None` when nothing is allocated.
    pub fn close(&mut self) -> Option<Vec<u8>> {
        self.relay()?;
        self.state = State::Failed;
        Some(self.message(REFRESH, stun::rand_id(), |m| {
            m.attr(LIFETIME, &0u32.to_be_bytes())
        }))
    }

    fn channel_data(&self, d: &[u8]) -> Got {
        let (Some(n), Some(len)) = (d.get(0..2), d.get(2..4)) else {
            return Got::Nothing;
        };
        let number = u16::from_be_bytes([n[0], n[1]]);
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        match (self.by_number.get(&number), d.get(4..4 + len)) {
            (Some(from), Some(data)) => Got::Data {
                from: *from,
                data: data.to_vec(),
            },
            _ => Got::Nothing,
        }
    }

    fn succeeded(&mut self, what: What, m: &Read<'_>, now: Instant) -> Got {
        match what {
            What::Allocate => {
                let Some(relay) = m.address(XOR_RELAYED_ADDRESS) else {
                    self.state = State::Failed;
                    return Got::Failed(TurnError::BadAnswer("no relayed address"));
                };
                self.state = State::Allocated {
                    relay,
                    refresh_at: now + lifetime(m).saturating_sub(REFRESH_MARGIN),
                };
                Got::Allocated(relay)
            }
            What::Refresh => {
                if let State::Allocated { refresh_at, .. } = &mut self.state {
                    *refresh_at = now + lifetime(m).saturating_sub(REFRESH_MARGIN);
                }
                Got::Nothing
            }
            What::Bind(peer) => {
                if let Some(c) = self.channels.get_mut(&peer) {
                    c.bound = true;
                }
                Got::Nothing
            }
        }
    }

    fn refused(&mut self, what: What, m: &Read<'_>, now: Instant) -> Got {
        let (code, reason) = m.error().unwrap_or((0, String::new()));
        // A nonce gone stale (438), or the first 401 telling the realm and
        // nonce: ask again with them. A 401 to a request that had them means
        // the credential is wrong.
        let retry = match code {
            438 => true,
            401 => !(what == What::Allocate && self.authenticated_once),
            _ => false,
        };
        if retry && self.learn(m) {
            if what == What::Allocate {
                self.authenticated_once = true;
            }
            self.request(what, now);
            return Got::Nothing;
        }
        match what {
            What::Allocate | What::Refresh => {
                let e = if code == 401 {
                    TurnError::Unauthorized
                } else {
                    TurnError::Refused { code, reason }
                };
                self.state = State::Failed;
                Got::Failed(e)
            }
            What::Bind(peer) => {
                tracing::debug!(%peer, code, "the TURN server would not bind a channel");
                self.forget(peer);
                Got::Nothing
            }
        }
    }

    /// Takes the realm and nonce from an error answer; false when it has
    /// none (or unusable ones).
    fn learn(&mut self, m: &Read<'_>) -> bool {
        let text = |kind| {
            m.get(kind)
                .filter(|v| v.len() <= MAX_TEXT)
                .and_then(|v| std::str::from_utf8(v).ok())
                .map(str::to_owned)
        };
        let Some(nonce) = text(NONCE) else {
            return false;
        };
        if let Some(realm) = text(REALM) {
            self.realm = Some(realm);
        }
        let Some(realm) = &self.realm else {
            return false;
        };
        use md5::Digest as _;
        let key = md5::Md5::digest(format!("{}:{realm}:{}", self.username, self.credential));
        self.key = Some(key.into());
        self.nonce = Some(nonce);
        true
    }

    fn fail(&mut self) -> TurnError {
        self.state = State::Failed;
        TurnError::Timeout
    }

    fn forget(&mut self, peer: SocketAddr) {
        if let Some(c) = self.channels.remove(&peer) {
            self.by_number.remove(&c.number);
        }
    }

    fn free_channel(&mut self) -> Option<u16> {
        let span = usize::from(LAST_CHANNEL - FIRST_CHANNEL) + 1;
        for _ in 0..span {
            let n = self.next_channel;
            self.next_channel = if n >= LAST_CHANNEL {
                FIRST_CHANNEL
            } else {
                n + 1
            };
            if !self.by_number.contains_key(&n) {
                return Some(n);
            }
        }
        None
    }

    fn request(&mut self, what: What, now: Instant) {
        let id = stun::rand_id();
        let message = match what {
            What::Allocate => self.message(ALLOCATE, id, |m| m.attr(REQUESTED_TRANSPORT, &UDP)),
            What::Refresh => self.message(REFRESH, id, |m| m),
            What::Bind(peer) => {
                let Some(number) = self.channels.get(&peer).map(|c| c.number) else {
                    return;
                };
                self.message(CHANNEL_BIND, id, |m| {
                    m.attr(CHANNEL_NUMBER, &[(number >> 8) as u8, number as u8, 0, 0])
                        .xor_address(XOR_PEER_ADDRESS, peer)
                })
            }
        };
        // One request of a kind at a time: a newer one replaces its elder.
        self.pending.retain(|_, p| p.what != what);
        self.out.push_back(message.clone());
        self.pending.insert(
            id,
            Pending {
                what,
                message,
                next_try: now + RTO,
                tries: 1,
            },
        );
    }

    /// A request with its attributes, and the credentials once known.
    fn message(&self, kind: u16, id: [u8; 12], attrs: impl FnOnce(Message) -> Message) -> Vec<u8> {
        let m = attrs(Message::new(kind, id));
        match (&self.key, &self.realm, &self.nonce) {
            (Some(key), Some(realm), Some(nonce)) => m
                .attr(USERNAME, self.username.as_bytes())
                .attr(REALM, realm.as_bytes())
                .attr(NONCE, nonce.as_bytes())
                .with_integrity(key),
            _ => m.bytes(),
        }
    }
}

/// LIFETIME of an answer, ten minutes when it has none.
fn lifetime(m: &Read<'_>) -> Duration {
    let secs = m
        .get(LIFETIME)
        .and_then(|v| v.get(..4))
        .map_or(600, |v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
    Duration::from_secs(u64::from(secs))
}

#[cfg(test)]
mod tests;
