//! A small Socket.IO client (protocol 5 over Engine.IO 4, WebSocket
//! transport, the default namespace, JSON events): what seed 004's
//! signalling needs and nothing more. One task owns the connection,
//! answers the server's pings, and hands received events to the caller;
//! a server that speaks another protocol version, refuses the namespace,
//! stops pinging or closes is reported as a typed [`SocketIoError`].

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Largest frame accepted from the server.
const MAX_FRAME: usize = 256 * 1024;
/// Received events waiting for the caller, at most.
const QUEUE: usize = 256;

/// Why the signalling connection failed or ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocketIoError {
    #[error("the signalling address {0:?} is not an http(s) or ws(s) URL")]
    BadUrl(String),
    #[error("the signalling server at {url} cannot be reached ({detail})")]
    Unreachable { url: String, detail: String },
    #[error("the signalling server did not answer within {0} s")]
    Timeout(u64),
    #[error(
        "the server at {url} does not speak Socket.IO 4 ({detail}): is the signalling address right?"
    )]
    WrongProtocol { url: String, detail: String },
    #[error("the signalling server refused the connection: {0}")]
    Refused(String),
    #[error("the signalling server stopped answering")]
    Silent,
    #[error("the signalling connection closed ({0})")]
    Closed(String),
}

/// What the connection delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// An event and its first argument (`null` when none).
    Event { name: String, data: Value },
    /// The connection ended; nothing follows.
    Closed(SocketIoError),
}

/// Sends events; cheap to clone. Dropping every sender closes the socket.
#[derive(Debug, Clone)]
pub struct SocketIoSender {
    tx: mpsc::UnboundedSender<String>,
}

impl SocketIoSender {
    /// Emits `name` with `data`; `false` once the connection is gone.
    pub fn emit(&self, name: &str, data: &Value) -> bool {
        let frame = format!("42{}", Value::Array(vec![name.into(), data.clone()]));
        self.tx.send(frame).is_ok()
    }
}

/// The WebSocket address of a Socket.IO server given as the web page
/// gives it (`http://host:3001`, or with a path ending in `/socket.io/`).
pub fn endpoint(address: &str) -> Result<url::Url, SocketIoError> {
    let bad = || SocketIoError::BadUrl(address.chars().take(120).collect());
    let mut u = url::Url::parse(address.trim()).map_err(|_| bad())?;
    let scheme = match u.scheme() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return Err(bad()),
    };
    if u.host_str().is_none_or(str::is_empty) || !u.username().is_empty() {
        return Err(bad());
    }
    u.set_scheme(scheme).map_err(|()| bad())?;
    if !u.path().contains("/socket.io") {
        let base = u.path().trim_end_matches('/').to_owned();
        u.set_path(&format!("{base}/socket.io/"));
    }
    u.set_query(Some("EIO=4&transport=websocket"));
    u.set_fragment(None);
    Ok(u)
}

/// Connects and joins the default namespace; events arrive on the receiver.
pub async fn connect(
    address: &str,
    timeout: Duration,
) -> Result<(SocketIoSender, mpsc::Receiver<Incoming>), SocketIoError> {
    let url = endpoint(address)?;
    let shown = address.chars().take(120).collect::<String>();
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME));
    let (mut ws, _) = tokio::time::timeout(
        timeout,
        tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), false),
    )
    .await
    .map_err(|_| SocketIoError::Timeout(timeout.as_secs()))?
    .map_err(|e| match e {
        tokio_tungstenite::tungstenite::Error::Http(r) => SocketIoError::WrongProtocol {
            url: shown.clone(),
            detail: format!("HTTP {} to a Socket.IO 4 WebSocket request", r.status()),
        },
        other => SocketIoError::Unreachable {
            url: shown.clone(),
            detail: other.to_string(),
        },
    })?;
    let wrong = |detail: String| SocketIoError::WrongProtocol {
        url: shown.clone(),
        detail,
    };
    // Engine.IO's open packet: `0{"sid", "pingInterval", "pingTimeout", "maxPayload"}`.
    let open = next_text(&mut ws, timeout).await?;
    let Some(body) = open.strip_prefix('0') else {
        return Err(wrong(format!("its first packet is {:?}", head(&open))));
    };
    let open: Value =
        serde_json::from_str(body).map_err(|_| wrong("its open packet is not JSON".into()))?;
    let (Some(interval), Some(ping_timeout)) =
        (open["pingInterval"].as_u64(), open["pingTimeout"].as_u64())
    else {
        return Err(wrong("its open packet lacks the ping settings".into()));
    };
    if open.get("maxPayload").is_none() {
        return Err(wrong(
            "it answered as Engine.IO 3 (Socket.IO 2), which has no maxPayload".into(),
        ));
    }
    // A server silent for longer than this is gone.
    let silence =
        Duration::from_millis(interval.saturating_add(ping_timeout).clamp(1_000, 300_000));
    ws.send(Message::text("40"))
        .await
        .map_err(|e| SocketIoError::Closed(e.to_string()))?;
    loop {
        let packet = next_text(&mut ws, timeout).await?;
        match packet.get(..2) {
            Some("40") => break,
            Some("44") => {
                let why: Value = serde_json::from_str(&packet[2..]).unwrap_or_default();
                let m = why["message"].as_str().unwrap_or("no reason given");
                return Err(SocketIoError::Refused(m.chars().take(200).collect()));
            }
            _ if packet == "2" => {
                let _ = ws.send(Message::text("3")).await;
            }
            _ => {
                return Err(wrong(format!(
                    "it answered the connect with {:?}",
                    head(&packet)
                )));
            }
        }
    }
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
    let (in_tx, in_rx) = mpsc::channel(QUEUE);
    tokio::spawn(async move {
        let end = loop {
            tokio::select! {
                frame = out_rx.recv() => match frame {
                    Some(f) => if let Err(e) = ws.send(Message::text(f)).await {
                        break SocketIoError::Closed(e.to_string());
                    },
                    None => {
                        let _ = ws.send(Message::text("41")).await;
                        let _ = ws.close(None).await;
                        return;
                    }
                },
                msg = tokio::time::timeout(silence, ws.next()) => match msg {
                    Err(_) => break SocketIoError::Silent,
                    Ok(None) => break SocketIoError::Closed("the server closed it".into()),
                    Ok(Some(Err(e))) => break SocketIoError::Closed(e.to_string()),
                    Ok(Some(Ok(Message::Text(t)))) => match read_packet(t.as_str()) {
                        Packet::Ping => if let Err(e) = ws.send(Message::text("3")).await {
                            break SocketIoError::Closed(e.to_string());
                        },
                        Packet::Event(name, data) => {
                            // A full queue means the caller is stuck: drop
                            // rather than grow without bound.
                            if in_tx.try_send(Incoming::Event { name, data }).is_err() {
                                tracing::warn!("signalling events are not being read; one dropped");
                            }
                        }
                        Packet::Disconnect => break SocketIoError::Closed("the server disconnected us".into()),
                        Packet::Close => break SocketIoError::Closed("the server closed it".into()),
                        Packet::Other => {}
                    },
                    Ok(Some(Ok(Message::Close(_)))) => break SocketIoError::Closed("the server closed it".into()),
                    Ok(Some(Ok(_))) => {}
                },
            }
        };
        tracing::info!("signalling connection ended: {end}");
        let _ = in_tx.send(Incoming::Closed(end)).await;
    });
    Ok((SocketIoSender { tx: out_tx }, in_rx))
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_text(ws: &mut Ws, timeout: Duration) -> Result<String, SocketIoError> {
    loop {
        match tokio::time::timeout(timeout, ws.next()).await {
            Err(_) => return Err(SocketIoError::Timeout(timeout.as_secs())),
            Ok(None) | Ok(Some(Ok(Message::Close(_)))) => {
                return Err(SocketIoError::Closed("the server closed it".into()));
            }
            Ok(Some(Err(e))) => return Err(SocketIoError::Closed(e.to_string())),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(t.as_str().to_owned()),
            Ok(Some(Ok(_))) => {}
        }
    }
}

fn head(s: &str) -> String {
    s.chars().take(40).collect()
}

/// One received Engine.IO/Socket.IO packet, as far as we use it.
#[derive(Debug, PartialEq)]
enum Packet {
    Ping,
    Close,
    Event(String, Value),
    Disconnect,
    Other,
}

fn read_packet(t: &str) -> Packet {
    match t.as_bytes().first() {
        Some(b'2') => return Packet::Ping,
        Some(b'1') => return Packet::Close,
        Some(b'4') => {}
        _ => return Packet::Other,
    }
    match t.as_bytes().get(1) {
        Some(b'1') => Packet::Disconnect,
        Some(b'2') => {
            // `42` [`/nsp,`] [ack id] `[name, data…]`.
            let body = t[2..].trim_start_matches(|c: char| c.is_ascii_digit());
            match serde_json::from_str::<Value>(body) {
                Ok(Value::Array(mut a)) if matches!(a.first(), Some(Value::String(_))) => {
                    let data = if a.len() > 1 {
                        a.swap_remove(1)
                    } else {
                        Value::Null
                    };
                    match a.swap_remove(0) {
                        Value::String(name) => Packet::Event(name, data),
                        _ => Packet::Other,
                    }
                }
                _ => Packet::Other,
            }
        }
        _ => Packet::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_become_the_websocket_endpoint() {
        assert_eq!(
            endpoint("http://localhost:3001").unwrap().as_str(),
            "ws://localhost:3001/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            endpoint("https://rt.example.com/socket.io/")
                .unwrap()
                .as_str(),
            "wss://rt.example.com/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            endpoint("https://x.example/rt").unwrap().path(),
            "/rt/socket.io/"
        );
        for bad in ["ftp://x", "localhost:3001", "", "http://u:p@x"] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn packets_are_read_strictly() {
        assert_eq!(read_packet("2"), Packet::Ping);
        assert_eq!(
            read_packet(r#"42["offer",{"sdp":"v=0"}]"#),
            Packet::Event("offer".into(), json!({"sdp": "v=0"}))
        );
        assert_eq!(
            read_packet(r#"4217["participant-left"]"#),
            Packet::Event("participant-left".into(), Value::Null)
        );
        assert_eq!(read_packet("41"), Packet::Disconnect);
        for junk in ["42", "42{}", "42[5]", "42[\"x\"", "9", "", "4x"] {
            assert_eq!(read_packet(junk), Packet::Other, "{junk:?}");
        }
    }
}
