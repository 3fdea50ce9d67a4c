//! The TURN client against an in-memory server written from RFC 8656.
#![allow(clippy::unwrap_used)]

use super::*;

const REALM_NAME: &str = "tandem.test";
const RELAY: &str = "203.0.113.9:50000";

/// A TURN server as RFC 8656 describes one, answering in memory: it
/// challenges unauthenticated requests with its realm and nonce, checks
/// MESSAGE-INTEGRITY with the long-term key, and signs its answers.
struct Server {
    password: &'static str,
    nonce: String,
    lifetime: u32,
    bound: Vec<(u16, SocketAddr)>,
}

impl Server {
    fn new(password: &'static str) -> Self {
        Server {
            password,
            nonce: "n1".into(),
            lifetime: 600,
            bound: Vec::new(),
        }
    }

    fn key(&self) -> [u8; 16] {
        use md5::Digest as _;
        md5::Md5::digest(format!("coach:{REALM_NAME}:{}", self.password)).into()
    }

    fn error(&self, m: &Read<'_>, code: u16) -> Vec<u8> {
        let mut v = vec![0, 0, (code / 100) as u8, (code % 100) as u8];
        v.extend_from_slice(b"no");
        Message::new((m.kind & 0x3eef) | ERROR, m.id)
            .attr(0x0009, &v)
            .attr(REALM, REALM_NAME.as_bytes())
            .attr(NONCE, self.nonce.as_bytes())
            .bytes()
    }

    fn answer(&mut self, request: &[u8]) -> Vec<u8> {
        let m = stun::read(request).unwrap();
        if m.get(USERNAME) != Some(b"coach".as_slice()) || !m.integrity_ok(&self.key()) {
            return self.error(&m, 401);
        }
        if m.get(NONCE) != Some(self.nonce.as_bytes()) {
            return self.error(&m, 438);
        }
        let ok = Message::new((m.kind & 0x3eef) | SUCCESS, m.id);
        let ok = match m.kind {
            ALLOCATE => {
                assert_eq!(m.get(REQUESTED_TRANSPORT), Some(UDP.as_slice()));
                ok.xor_address(XOR_RELAYED_ADDRESS, RELAY.parse().unwrap())
                    .attr(LIFETIME, &self.lifetime.to_be_bytes())
            }
            REFRESH => ok.attr(LIFETIME, &self.lifetime.to_be_bytes()),
            CHANNEL_BIND => {
                let n = m.get(CHANNEL_NUMBER).unwrap();
                self.bound.push((
                    u16::from_be_bytes([n[0], n[1]]),
                    m.address(XOR_PEER_ADDRESS).unwrap(),
                ));
                ok
            }
            other => panic!("unexpected request {other:#06x}"),
        };
        ok.with_integrity(&self.key())
    }
}

fn turn_server(password: &str) -> TurnServer {
    TurnServer {
        address: "127.0.0.1:3478".into(),
        username: "coach".into(),
        credential: password.into(),
    }
}

/// Plays every datagram the client has for the server, and hands the
/// client the answers; what the last answer gave.
fn exchange(c: &mut Client, s: &mut Server, now: Instant) -> Got {
    let mut got = Got::Nothing;
    while let Some(d) = c.transmit() {
        let a = s.answer(&d);
        got = c.handle(&a, now);
    }
    got
}

fn allocated(now: Instant) -> (Client, Server) {
    let mut s = Server::new("secret");
    let mut c = Client::new(&turn_server("secret"), now);
    assert_eq!(
        exchange(&mut c, &mut s, now),
        Got::Allocated(RELAY.parse().unwrap())
    );
    (c, s)
}

#[test]
fn a_relay_is_allocated_after_the_realm_challenge_and_kept_refreshed() {
    let t0 = Instant::now();
    let (mut c, mut s) = allocated(t0);
    assert_eq!(c.relay(), Some(RELAY.parse().unwrap()));
    // Refreshed a minute before its ten minutes run out, and again
    // after the server grants another ten.
    let due = c.timeout().unwrap();
    assert_eq!(due - t0, Duration::from_secs(540));
    assert_eq!(c.on_timeout(due - Duration::from_secs(1)), Got::Nothing);
    assert!(c.transmit().is_none(), "refreshed early");
    c.on_timeout(due);
    let refresh = c.transmit().unwrap();
    assert_eq!(stun::read(&refresh).unwrap().kind, REFRESH);
    let answer = s.answer(&refresh);
    assert_eq!(c.handle(&answer, due), Got::Nothing);
    assert_eq!(c.timeout().unwrap() - due, Duration::from_secs(540));
    // Closing asks for lifetime 0, once.
    let close = c.close().unwrap();
    let m = stun::read(&close).unwrap();
    assert_eq!(
        (m.kind, m.get(LIFETIME)),
        (REFRESH, Some(&[0u8, 0, 0, 0][..]))
    );
    assert!(c.close().is_none());
}

#[test]
fn a_wrong_credential_is_said_once_not_retried() {
    let mut s = Server::new("secret");
    let mut c = Client::new(&turn_server("wrong"), Instant::now());
    assert_eq!(
        exchange(&mut c, &mut s, Instant::now()),
        Got::Failed(TurnError::Unauthorized)
    );
    assert!(c.relay().is_none());
    assert!(c.timeout().is_none(), "still retrying");
}

#[test]
fn a_stale_nonce_is_taken_and_the_request_made_again() {
    let now = Instant::now();
    let (mut c, mut s) = allocated(now);
    s.nonce = "n2".into();
    let later = now + Duration::from_secs(540);
    c.on_timeout(later);
    assert_eq!(exchange(&mut c, &mut s, later), Got::Nothing);
    assert!(c.pending.is_empty(), "the refresh was not made again");
    assert_eq!(c.nonce.as_deref(), Some("n2"));
}

#[test]
fn media_goes_by_indication_until_a_channel_is_bound_then_by_channel_data() {
    let now = Instant::now();
    let (mut c, mut s) = allocated(now);
    let peer: SocketAddr = "198.51.100.20:6000".parse().unwrap();
    let first = c.wrap(peer, b"hello", now).unwrap();
    let m = stun::read(&first).unwrap();
    assert_eq!(m.kind, SEND_INDICATION);
    assert_eq!(m.address(XOR_PEER_ADDRESS), Some(peer));
    assert_eq!(m.get(DATA), Some(b"hello".as_slice()));
    exchange(&mut c, &mut s, now);
    assert_eq!(s.bound, [(0x4000, peer)]);
    assert_eq!(
        c.wrap(peer, b"hello", now).unwrap(),
        [0x40, 0x00, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o']
    );
    // What the peer sends comes back unwrapped, by channel or indication.
    assert_eq!(
        c.handle(&[0x40, 0x00, 0x00, 0x02, 7, 8, 0, 0], now),
        Got::Data {
            from: peer,
            data: vec![7, 8]
        }
    );
    let other: SocketAddr = "198.51.100.21:6001".parse().unwrap();
    let indication = Message::new(DATA_INDICATION, stun::rand_id())
        .xor_address(XOR_PEER_ADDRESS, other)
        .attr(DATA, &[9])
        .bytes();
    assert_eq!(
        c.handle(&indication, now),
        Got::Data {
            from: other,
            data: vec![9]
        }
    );
    // Unknown channels, short or garbled datagrams are nothing.
    assert_eq!(c.handle(&[0x40, 0x01, 0x00, 0x01, 1], now), Got::Nothing);
    assert_eq!(c.handle(&[0x40, 0x00, 0x00, 0x09, 1], now), Got::Nothing);
    assert_eq!(c.handle(&[0x40], now), Got::Nothing);
    assert_eq!(c.handle(&[0xff; 40], now), Got::Nothing);
    // The binding (and its permission) is renewed after four minutes.
    let renew = now + CHANNEL_REFRESH;
    c.on_timeout(renew);
    let again = c.transmit().unwrap();
    assert_eq!(stun::read(&again).unwrap().kind, CHANNEL_BIND);
}

#[test]
fn answers_without_our_integrity_are_ignored() {
    let now = Instant::now();
    let (mut c, _) = allocated(now);
    let peer: SocketAddr = "198.51.100.20:6000".parse().unwrap();
    c.wrap(peer, b"x", now);
    let bind = c.transmit().unwrap();
    let id = stun::read(&bind).unwrap().id;
    let forged = Message::new(CHANNEL_BIND | SUCCESS, id).bytes();
    assert_eq!(c.handle(&forged, now), Got::Nothing);
    assert!(!c.channels[&peer].bound);
    assert_eq!(c.pending.len(), 1);
}

#[test]
fn a_silent_server_fails_the_allocation_after_its_tries() {
    let t0 = Instant::now();
    let mut c = Client::new(&turn_server("secret"), t0);
    let mut sent = 0;
    let mut got = Got::Nothing;
    while let Some(t) = c.timeout() {
        while c.transmit().is_some() {
            sent += 1;
        }
        got = c.on_timeout(t);
        if got != Got::Nothing {
            assert_eq!(t - t0, Duration::from_millis(15_500));
            break;
        }
    }
    assert_eq!(got, Got::Failed(TurnError::Timeout));
    assert_eq!(sent, TRIES);
    assert!(
        c.wrap("198.51.100.20:6000".parse().unwrap(), b"x", t0)
            .is_none()
    );
}

#[test]
fn turn_urls_are_read_as_ice_servers_write_them() {
    assert_eq!(
        parse_url("turn:relay.example.com").unwrap(),
        "relay.example.com:3478"
    );
    assert_eq!(
        parse_url("turn:relay.example.com:3479?transport=udp").unwrap(),
        "relay.example.com:3479"
    );
    assert_eq!(parse_url(" turn:10.0.0.1:3478 ").unwrap(), "10.0.0.1:3478");
    assert!(matches!(
        parse_url("turns:relay.example.com"),
        Err(TurnUrlError::NotUdp(_))
    ));
    assert!(matches!(
        parse_url("turn:relay.example.com?transport=tcp"),
        Err(TurnUrlError::NotUdp(_))
    ));
    for bad in [
        "stun:x:1",
        "turn:",
        "turn:a b",
        "turn:u@h",
        "turn:h:port",
        "turn:h?x=1",
    ] {
        assert!(
            matches!(parse_url(bad), Err(TurnUrlError::NotTurn(_))),
            "{bad}"
        );
    }
    let s = format!("{:?}", turn_server("hunter2"));
    assert!(!s.contains("hunter2"), "{s}");
}
