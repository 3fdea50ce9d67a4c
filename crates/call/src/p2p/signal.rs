//! Seed 004's signalling over Socket.IO, with its events and payloads
//! exactly as the seed documents them: `join-room {roomId, participantType,
//! sessionType}`, `message {roomId, senderId, senderType, message,
//! timestamp}`, `offer {roomId, offer}`, `answer {roomId, answer}`,
//! `ice-candidate {roomId, candidate}`, and from the server
//! `participant-joined`/`participant-left {participantType, timestamp}`.
//! Everything received is validated and bounded before it becomes a
//! [`Signal`]; what does not fit is dropped with a log line.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::socketio::{self, Incoming, SocketIoError, SocketIoSender};

/// Longest SDP accepted (a few KiB in practice).
const MAX_SDP: usize = 64 * 1024;
/// Longest chat message kept.
pub const MAX_CHAT_CHARS: usize = 4000;

/// `user` (the client) or `astrologer` (the coach), as seed 004 names the sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    User,
    Astrologer,
}

impl Side {
    pub fn parse(word: &str) -> Option<Side> {
        match word {
            "user" => Some(Side::User),
            "astrologer" => Some(Side::Astrologer),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Side::User => "user",
            Side::Astrologer => "astrologer",
        }
    }
}

/// `offer`/`answer` as `RTCSessionDescriptionInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    #[serde(rename = "type")]
    pub kind: String,
    pub sdp: String,
}

/// `ice-candidate` as `RTCIceCandidateInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub candidate: String,
    #[serde(default)]
    pub sdp_mid: Option<String>,
    #[serde(default)]
    pub sdp_m_line_index: Option<u16>,
}

/// A chat message as the seed's page sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    pub sender_id: String,
    pub sender_type: String,
    pub message: String,
    pub timestamp: String,
}

/// What the other side (or the server) said.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    PeerJoined(Side),
    PeerLeft(Side),
    Offer(Description),
    Answer(Description),
    Candidate(Candidate),
    Chat(ChatMessage),
    /// The server refused us (tandem-backend's `session-error`).
    Refused(String),
    /// The connection ended.
    Closed(SocketIoError),
}

/// A joined signalling room.
#[derive(Debug, Clone)]
pub struct SignalClient {
    socket: SocketIoSender,
    room: String,
    side: Side,
}

impl SignalClient {
    /// Connects to the Socket.IO server at `address` and joins `room` as
    /// `side` for a session of `session_type` (`chat`, `voice`, `video`).
    pub async fn join(
        address: &str,
        room: &str,
        side: Side,
        session_type: &str,
    ) -> Result<(SignalClient, mpsc::Receiver<Signal>), SocketIoError> {
        let (socket, mut incoming) = socketio::connect(address, Duration::from_secs(10)).await?;
        socket.emit(
            "join-room",
            &json!({ "roomId": room, "participantType": side.as_str(), "sessionType": session_type }),
        );
        let (tx, rx) = mpsc::channel(256);
        let room_owned = room.to_owned();
        tokio::spawn(async move {
            while let Some(i) = incoming.recv().await {
                let signal = match i {
                    Incoming::Event { name, data } => match read(&name, &data, &room_owned) {
                        Some(s) => s,
                        None => {
                            tracing::info!(event = %name.chars().take(40).collect::<String>(), "signalling: unusable event dropped");
                            continue;
                        }
                    },
                    Incoming::Closed(e) => Signal::Closed(e),
                };
                let last = matches!(signal, Signal::Closed(_));
                if tx.send(signal).await.is_err() || last {
                    return;
                }
            }
        });
        Ok((
            SignalClient {
                socket,
                room: room.to_owned(),
                side,
            },
            rx,
        ))
    }

    pub fn offer(&self, sdp: &str) -> bool {
        self.socket.emit(
            "offer",
            &json!({ "roomId": self.room, "offer": {"type": "offer", "sdp": sdp} }),
        )
    }

    pub fn answer(&self, sdp: &str) -> bool {
        self.socket.emit(
            "answer",
            &json!({ "roomId": self.room, "answer": {"type": "answer", "sdp": sdp} }),
        )
    }

    pub fn candidate(&self, c: &Candidate) -> bool {
        self.socket.emit(
            "ice-candidate",
            &json!({ "roomId": self.room, "candidate": c }),
        )
    }

    /// Sends chat as the seed's page does (ISO timestamp, our side as the
    /// sender type).
    pub fn chat(&self, sender_id: &str, text: &str, timestamp: &str) -> bool {
        self.socket.emit(
            "message",
            &json!({
                "roomId": self.room,
                "senderId": sender_id,
                "senderType": self.side.as_str(),
                "message": text,
                "timestamp": timestamp,
            }),
        )
    }
}

/// Reads one event; `None` for anything unusable or for another room.
pub fn read(name: &str, data: &Value, room: &str) -> Option<Signal> {
    // Relays carry the room; a different one is not ours.
    if let Some(r) = data.get("roomId")
        && r.as_str() != Some(room)
    {
        return None;
    }
    let side = || {
        data.get("participantType")
            .and_then(Value::as_str)
            .and_then(Side::parse)
    };
    let description = |key: &str, kind: &str| -> Option<Description> {
        let d: Description = serde_json::from_value(data.get(key)?.clone()).ok()?;
        (d.kind == kind && d.sdp.starts_with("v=0") && d.sdp.len() <= MAX_SDP).then_some(d)
    };
    Some(match name {
        "participant-joined" => Signal::PeerJoined(side()?),
        "participant-left" => Signal::PeerLeft(side()?),
        "offer" => Signal::Offer(description("offer", "offer")?),
        "answer" => Signal::Answer(description("answer", "answer")?),
        "ice-candidate" => {
            let c: Candidate = serde_json::from_value(data.get("candidate")?.clone()).ok()?;
            // An empty candidate marks the end of candidates.
            if c.candidate.len() > 1024 || c.candidate.chars().any(char::is_control) {
                return None;
            }
            Signal::Candidate(c)
        }
        "message" => {
            let mut m: ChatMessage = serde_json::from_value(json!({
                "senderId": data.get("senderId").and_then(Value::as_str).unwrap_or_default(),
                "senderType": data.get("senderType").and_then(Value::as_str).unwrap_or_default(),
                "message": data.get("message")?.as_str()?,
                "timestamp": data.get("timestamp").and_then(Value::as_str).unwrap_or_default(),
            }))
            .ok()?;
            if m.message.trim().is_empty() {
                return None;
            }
            m.message = m.message.chars().take(MAX_CHAT_CHARS).collect();
            m.sender_id = m.sender_id.chars().take(128).collect();
            m.sender_type = m.sender_type.chars().take(32).collect();
            m.timestamp = m.timestamp.chars().take(64).collect();
            Signal::Chat(m)
        }
        "session-error" => Signal::Refused(
            data.get("message")
                .and_then(Value::as_str)
                .unwrap_or("refused")
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect(),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_as_the_seed_writes_them() {
        let r = "room-1";
        assert_eq!(
            read(
                "participant-joined",
                &json!({"participantType": "astrologer", "timestamp": "t"}),
                r
            ),
            Some(Signal::PeerJoined(Side::Astrologer))
        );
        assert_eq!(
            read(
                "offer",
                &json!({"roomId": r, "offer": {"type": "offer", "sdp": "v=0\r\n"}}),
                r
            ),
            Some(Signal::Offer(Description {
                kind: "offer".into(),
                sdp: "v=0\r\n".into()
            }))
        );
        let c = read(
            "ice-candidate",
            &json!({"roomId": r, "candidate": {"candidate": "candidate:1 1 udp 1 10.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}}),
            r,
        );
        assert!(matches!(
            c,
            Some(Signal::Candidate(Candidate {
                sdp_m_line_index: Some(0),
                ..
            }))
        ));
        let m = read(
            "message",
            &json!({"roomId": r, "senderId": "u", "senderType": "user", "message": "hi", "timestamp": "2024-01-01T10:00:00"}),
            r,
        );
        assert!(
            matches!(m, Some(Signal::Chat(ChatMessage { ref message, .. })) if message == "hi")
        );
    }

    #[test]
    fn what_does_not_fit_is_dropped() {
        let r = "room-1";
        for (name, data) in [
            (
                "offer",
                json!({"roomId": "other", "offer": {"type": "offer", "sdp": "v=0"}}),
            ),
            ("offer", json!({"roomId": r, "offer": "v=0"})),
            (
                "offer",
                json!({"roomId": r, "offer": {"type": "offer", "sdp": "<html>"}}),
            ),
            (
                "offer",
                json!({"roomId": r, "offer": {"type": "answer", "sdp": "v=0"}}),
            ),
            ("answer", json!({"roomId": r})),
            ("ice-candidate", json!({"roomId": r, "candidate": "x"})),
            ("message", json!({"roomId": r, "message": 5})),
            ("message", json!({"roomId": r, "message": "   "})),
            ("participant-joined", json!({"participantType": "admin"})),
            ("no-such-event", json!({})),
        ] {
            assert_eq!(read(name, &data, r), None, "{name} {data}");
        }
        let huge = "x".repeat(MAX_CHAT_CHARS + 10);
        let Some(Signal::Chat(m)) = read("message", &json!({"roomId": r, "message": huge}), r)
        else {
            panic!()
        };
        assert_eq!(m.message.chars().count(), MAX_CHAT_CHARS);
    }
}
