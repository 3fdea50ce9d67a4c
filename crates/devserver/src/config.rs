//! Server settings, shared read-only by every part of the server.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// The API key and secret `livekit-server --dev` uses; the dev server starts with the same.
pub const DEV_API_KEY: &str = "devkey";
/// Secret paired with [`DEV_API_KEY`].
pub const DEV_API_SECRET: &str = "secret";

/// Everything the server needs to start.
#[derive(Clone)]
pub struct Config {
    /// Address the HTTP/WebSocket listener and the UDP media socket bind to.
    pub bind: IpAddr,
    /// HTTP/WebSocket port (0 picks a free one).
    pub port: u16,
    /// UDP media port (0 picks a free one).
    pub udp_port: u16,
    /// Address written into ICE candidates; defaults to `bind`, or to the
    /// loopback address when `bind` is unspecified.
    pub node_ip: Option<IpAddr>,
    /// API key → secret.
    pub keys: BTreeMap<String, String>,
    /// Where webhook events are POSTed, if anywhere.
    pub webhook_url: Option<String>,
    /// How long a room with nobody in it lives (unless CreateRoom set its own).
    pub empty_timeout: Duration,
    /// Upper bound on participants per room (0 = no limit) unless the room sets one.
    pub max_participants: u32,
    /// Ping interval sent to clients; a client silent for `ping_timeout` is dropped.
    pub ping_interval: Duration,
    /// See [`Config::ping_interval`].
    pub ping_timeout: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of logs and panic messages.
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("port", &self.port)
            .field("udp_port", &self.udp_port)
            .field("node_ip", &self.node_ip)
            .field("api_keys", &self.keys.keys().collect::<Vec<_>>())
            .field("webhook_url", &self.webhook_url)
            .field("empty_timeout", &self.empty_timeout)
            .field("max_participants", &self.max_participants)
            .finish()
    }
}

impl Config {
    /// The `--dev` settings: loopback, 7880/7882, `devkey:secret`.
    pub fn dev() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 7880,
            udp_port: 7882,
            node_ip: None,
            keys: BTreeMap::from([(DEV_API_KEY.to_owned(), DEV_API_SECRET.to_owned())]),
            webhook_url: None,
            empty_timeout: Duration::from_secs(300),
            max_participants: 0,
            ping_interval: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(15),
        }
    }

    /// Settings for in-process tests: like `dev`, but on free ports with short timeouts.
    pub fn for_tests(bind: IpAddr) -> Self {
        Self {
            bind,
            port: 0,
            udp_port: 0,
            empty_timeout: Duration::from_secs(5),
            ..Self::dev()
        }
    }

    /// The address clients are told to send media to.
    pub fn candidate_ip(&self) -> IpAddr {
        match self.node_ip {
            Some(ip) => ip,
            None if self.bind.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            None => self.bind,
        }
    }

    /// The first configured key pair, used to sign webhooks.
    pub fn signing_key(&self) -> Option<(&str, &str)> {
        self.keys
            .iter()
            .next()
            .map(|(k, s)| (k.as_str(), s.as_str()))
    }
}

/// Parses `key:secret` as given on the command line.
pub fn parse_key_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected key:secret, got {:?}", redact_pair(s))),
    }
}

fn redact_pair(s: &str) -> String {
    match s.split_once(':') {
        Some((k, _)) => format!("{k}:…"),
        None if s.len() > 4 => format!("{}…", &s[..s.floor_char_boundary(4)]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_pairs_parse_and_errors_hide_the_secret() {
        assert_eq!(
            parse_key_pair("devkey:secret"),
            Ok(("devkey".into(), "secret".into()))
        );
        let err = parse_key_pair("devkey").unwrap_err();
        assert!(err.contains("key:secret"), "{err}");
        let err = parse_key_pair(":hidden").unwrap_err();
        assert!(!err.contains("hidden"), "{err}");
    }

    #[test]
    fn candidate_address_never_unspecified() {
        let mut c = Config::dev();
        c.bind = "0.0.0.0".parse().unwrap();
        assert_eq!(c.candidate_ip().to_string(), "127.0.0.1");
        c.node_ip = Some("192.168.1.20".parse().unwrap());
        assert_eq!(c.candidate_ip().to_string(), "192.168.1.20");
    }
}
