//! Asking a STUN server (RFC 8489 Binding) which address and port it saw
//! a socket's packets come from: the server-reflexive candidate that lets
//! a peer behind another NAT reach us; and the message reading and
//! writing TURN (`turn.rs`) shares.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

const MAGIC: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
const MAPPED_ADDRESS: u16 = 0x0001;

/// Reads `stun:host:port` (the form `iceServers` take), `host:port`, or
/// `host` (port 3478). `turn:` servers are not STUN servers: `None`.
pub fn parse_server(s: &str) -> Option<String> {
    let s = s.trim();
    let rest = if let Some(r) = s.strip_prefix("stun:") {
        r
    } else if s.contains(':') && s.split(':').next().is_some_and(|p| p.starts_with("turn")) {
        return None;
    } else {
        s
    };
    let rest = rest.split('?').next()?;
    if rest.is_empty() || rest.len() > 255 || rest.chars().any(|c| c.is_whitespace() || c == '/') {
        return None;
    }
    if rest
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        Some(rest.to_owned())
    } else {
        Some(format!("{rest}:3478"))
    }
}

/// A Binding request with transaction id `id`.
pub fn request(id: [u8; 12]) -> Vec<u8> {
    Message::new(BINDING_REQUEST, id).bytes()
}

/// The address a Binding success answer for transaction `id` carries;
/// `None` for anything else (another transaction, an error, garbage).
pub fn mapped_address(answer: &[u8], id: [u8; 12]) -> Option<SocketAddr> {
    let m = read(answer)?;
    if m.kind != BINDING_SUCCESS || m.id != id {
        return None;
    }
    m.address(XOR_MAPPED_ADDRESS)
        .or_else(|| address(m.get(MAPPED_ADDRESS)?, None))
}

/// A STUN message being built (RFC 8489 §5): the header, then attributes,
/// each padded to four bytes.
pub(crate) struct Message {
    buf: Vec<u8>,
    id: [u8; 12],
}

impl Message {
    pub(crate) fn new(kind: u16, id: [u8; 12]) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&kind.to_be_bytes());
        buf.extend_from_slice(&0u16.to_be_bytes());
        buf.extend_from_slice(&MAGIC.to_be_bytes());
        buf.extend_from_slice(&id);
        Message { buf, id }
    }

    pub(crate) fn attr(mut self, kind: u16, value: &[u8]) -> Self {
        self.buf.extend_from_slice(&kind.to_be_bytes());
        self.buf
            .extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(value);
        self.buf.resize(self.buf.len().div_ceil(4) * 4, 0);
        self
    }

    /// An XOR-ed address attribute (XOR-MAPPED/-PEER/-RELAYED-ADDRESS).
    pub(crate) fn xor_address(self, kind: u16, a: SocketAddr) -> Self {
        let cookie = MAGIC.to_be_bytes();
        let port = a.port() ^ u16::from_be_bytes([cookie[0], cookie[1]]);
        let mut v = vec![0u8];
        match a.ip() {
            IpAddr::V4(ip) => {
                v.push(0x01);
                v.extend_from_slice(&port.to_be_bytes());
                v.extend(ip.octets().iter().zip(cookie).map(|(b, c)| b ^ c));
            }
            IpAddr::V6(ip) => {
                v.push(0x02);
                v.extend_from_slice(&port.to_be_bytes());
                let key = cookie.iter().chain(self.id.iter());
                v.extend(ip.octets().iter().zip(key).map(|(b, k)| b ^ k));
            }
        }
        self.attr(kind, &v)
    }

    /// The message, its length field set.
    pub(crate) fn bytes(mut self) -> Vec<u8> {
        self.set_len(self.buf.len());
        self.buf
    }

    /// The message with MESSAGE-INTEGRITY (HMAC-SHA1 over everything before
    /// it, the length counting the attribute itself) as its last attribute.
    pub(crate) fn with_integrity(mut self, key: &[u8]) -> Vec<u8> {
        let upto = self.buf.len();
        self.set_len(upto + 24);
        let mac = hmac_sha1(key, &self.buf[..upto]);
        self.attr(MESSAGE_INTEGRITY, &mac).bytes()
    }

    fn set_len(&mut self, total: usize) {
        let len = (total - 20) as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
    }
}

pub(crate) const MESSAGE_INTEGRITY: u16 = 0x0008;
const ERROR_CODE: u16 = 0x0009;

fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    use hmac::{Hmac, Mac};
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(key) else {
        return [0; 20];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// A STUN message read: its type, transaction and attributes (each with
/// where it starts, for MESSAGE-INTEGRITY).
pub(crate) struct Read<'a> {
    pub(crate) kind: u16,
    pub(crate) id: [u8; 12],
    raw: &'a [u8],
    attrs: Vec<(u16, usize, &'a [u8])>,
}

/// Reads a STUN message; `None` for anything that is not one (media, a
/// truncated or malformed message).
pub(crate) fn read(b: &[u8]) -> Option<Read<'_>> {
    let header = b.get(..20)?;
    if header[0] & 0xc0 != 0
        || u32::from_be_bytes([header[4], header[5], header[6], header[7]]) != MAGIC
    {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let raw = b.get(..20 + len)?;
    let mut attrs = Vec::new();
    let mut at = 20;
    while at + 4 <= raw.len() {
        let kind = u16::from_be_bytes([raw[at], raw[at + 1]]);
        let alen = usize::from(u16::from_be_bytes([raw[at + 2], raw[at + 3]]));
        let value = raw.get(at + 4..at + 4 + alen)?;
        attrs.push((kind, at, value));
        at += (4 + alen).div_ceil(4) * 4;
    }
    Some(Read {
        kind: u16::from_be_bytes([header[0], header[1]]),
        id: header[8..20].try_into().ok()?,
        raw,
        attrs,
    })
}

impl Read<'_> {
    /// The first attribute of `kind`.
    pub(crate) fn get(&self, kind: u16) -> Option<&[u8]> {
        self.attrs.iter().find(|a| a.0 == kind).map(|a| a.2)
    }

    /// An XOR-ed address attribute.
    pub(crate) fn address(&self, kind: u16) -> Option<SocketAddr> {
        address(self.get(kind)?, Some(self.id))
    }

    /// ERROR-CODE's number and reason.
    pub(crate) fn error(&self) -> Option<(u16, String)> {
        let v = self.get(ERROR_CODE)?;
        let code = u16::from(*v.get(2)? & 0x07) * 100 + u16::from(*v.get(3)?);
        let reason = String::from_utf8_lossy(v.get(4..)?)
            .chars()
            .take(128)
            .collect();
        Some((code, reason))
    }

    /// Whether MESSAGE-INTEGRITY is present and right for `key`.
    pub(crate) fn integrity_ok(&self, key: &[u8]) -> bool {
        let Some(&(_, at, value)) = self.attrs.iter().find(|a| a.0 == MESSAGE_INTEGRITY) else {
            return false;
        };
        let mut prefix = self.raw[..at].to_vec();
        let len = (at + 24 - 20) as u16;
        prefix[2..4].copy_from_slice(&len.to_be_bytes());
        hmac_sha1(key, &prefix)[..] == *value
    }
}

/// Reads an address attribute, un-XORing it when `xor` holds the transaction id.
fn address(v: &[u8], xor: Option<[u8; 12]>) -> Option<SocketAddr> {
    let family = *v.get(1)?;
    let cookie = MAGIC.to_be_bytes();
    let mut port = u16::from_be_bytes([*v.get(2)?, *v.get(3)?]);
    if xor.is_some() {
        port ^= u16::from_be_bytes([cookie[0], cookie[1]]);
    }
    let ip = match family {
        0x01 => {
            let mut b: [u8; 4] = v.get(4..8)?.try_into().ok()?;
            if xor.is_some() {
                for (x, c) in b.iter_mut().zip(cookie) {
                    *x ^= c;
                }
            }
            IpAddr::V4(Ipv4Addr::from(b))
        }
        0x02 => {
            let mut b: [u8; 16] = v.get(4..20)?.try_into().ok()?;
            if let Some(id) = xor {
                let key: Vec<u8> = cookie.iter().chain(id.iter()).copied().collect();
                for (x, k) in b.iter_mut().zip(key) {
                    *x ^= k;
                }
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Asks `server` (host:port) from `socket`, three tries within `limit`;
/// `None` when it does not answer or cannot be found.
pub async fn reflexive(socket: &UdpSocket, server: &str, limit: Duration) -> Option<SocketAddr> {
    let local = socket.local_addr().ok()?;
    let target = tokio::net::lookup_host(server)
        .await
        .ok()?
        .find(|a| a.is_ipv4() == local.is_ipv4())?;
    let id: [u8; 12] = rand_id();
    let req = request(id);
    let mut buf = [0u8; 576];
    let per_try = limit / 3;
    for _ in 0..3 {
        socket.send_to(&req, target).await.ok()?;
        let answer = tokio::time::timeout(per_try, async {
            loop {
                let (n, from) = socket.recv_from(&mut buf).await.ok()?;
                if from == target
                    && let Some(a) = mapped_address(&buf[..n], id)
                {
                    return Some(a);
                }
            }
        })
        .await;
        if let Ok(a) = answer {
            return a;
        }
    }
    None
}

pub(crate) fn rand_id() -> [u8; 12] {
    // Uniqueness per request is all STUN needs; the clock's nanoseconds and
    // a counter give that without a random-number crate.
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let mut id = [0u8; 12];
    id[..8].copy_from_slice(&nanos.to_be_bytes());
    id[8..].copy_from_slice(&(n as u32).to_be_bytes());
    id
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A Binding answer as RFC 8489's test vectors lay it out (IPv4
    /// 192.0.2.1:32853, XOR-mapped), read back; other transactions and
    /// garbage are not.
    #[test]
    fn answers_are_read_and_others_ignored() {
        let id = [
            0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
        ];
        let mut a = vec![0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
        a.extend_from_slice(&id);
        a.extend_from_slice(&[
            0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
        ]);
        assert_eq!(
            mapped_address(&a, id),
            Some("192.0.2.1:32853".parse().unwrap())
        );
        let mut other = id;
        other[0] ^= 1;
        assert_eq!(mapped_address(&a, other), None);
        assert_eq!(mapped_address(&a[..25], id), None);
        assert_eq!(mapped_address(&[0xff; 3], id), None);
        assert_eq!(request(id).len(), 20);
    }

    #[test]
    fn servers_are_read_as_ice_servers_name_them() {
        assert_eq!(
            parse_server("stun:stun.example.com:19302").as_deref(),
            Some("stun.example.com:19302")
        );
        assert_eq!(
            parse_server("stun.example.com").as_deref(),
            Some("stun.example.com:3478")
        );
        assert_eq!(
            parse_server("10.0.0.1:3478").as_deref(),
            Some("10.0.0.1:3478")
        );
        assert_eq!(parse_server("turn:relay.example.com:3478"), None);
        assert_eq!(parse_server("stun:"), None);
        assert_eq!(parse_server("stun:a b"), None);
    }
}
