//! `CallSession`: one call, as an actor. Commands go in, a typed event stream
//! comes out; the task owns the room, the local tracks and the timer.
//!
//! States: idle → fetching token → connecting → connected ↔ reconnecting →
//! ended(reason) or failed(error).
//!
//! Chat is sent and received in two formats: `lk.chat` text streams (today's
//! SDKs) and data packets on topic `chat` carrying
//! `{"id": "<id>", "timestamp": <ms>, "message": "<text>"}` (what seed 000's web
//! app reads and writes with `useDataChannel('chat')`). A message sent both ways
//! carries the same id, and received duplicates are dropped by (sender, id).

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use tandem_lk as lk;
use tokio::sync::mpsc;

use crate::backend::{BackendClient, BackendError, TokenRequest};
use crate::diagnose;

/// What was booked; it decides what is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionType {
    /// Text only: nothing is published.
    Chat,
    /// Microphone only.
    Voice,
    /// Microphone and camera.
    Video,
}

/// Where the token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// The platform's backend.
    Backend(Box<BackendClient>, TokenRequest),
    /// Already known (a LiveKit URL and token).
    Direct { url: String, token: String },
}

/// Local media for a call. Devices come with tandem-media; these synthetic
/// sources are what tests and the bot use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyntheticMedia {
    /// Test pattern size and rate.
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Tone frequency in Hz.
    pub tone_hz: f64,
}

impl Default for SyntheticMedia {
    fn default() -> Self {
        Self {
            width: 640,
            height: 360,
            fps: 30,
            tone_hz: 440.0,
        }
    }
}

/// Everything a call needs to start.
#[derive(Debug, Clone)]
pub struct CallConfig {
    pub token: TokenSource,
    pub session_type: SessionType,
    /// Paid minutes, for the remaining-time display and the end warning.
    pub paid_minutes: Option<u32>,
    /// Warn this long before the paid time ends.
    pub warn_before: Duration,
    pub media: SyntheticMedia,
    /// Start with the microphone / camera on.
    pub mic_on: bool,
    pub camera_on: bool,
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// We left.
    Left,
    /// The server or the platform ended it (its reason).
    Remote(String),
}

/// Why a call could not go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("the LiveKit server refused the token: {likely}")]
    TokenRejected { likely: diagnose::Likely },
    #[error("cannot connect to the call server: {0}")]
    Connect(String),
    #[error("the local media could not start: {0}")]
    Media(String),
}

/// Where a call is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    Idle,
    FetchingToken,
    Connecting,
    Connected,
    Reconnecting,
    Ended(EndReason),
    Failed(CallError),
}

/// A chat message, sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub id: String,
    /// Sender identity (ours for sent messages).
    pub from: String,
    pub text: String,
    /// Sender's time, ms since the Unix epoch.
    pub timestamp_ms: i64,
}

/// Everything the UI (or the CLI) hears about.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    State(CallState),
    /// Problems noticed in the token before joining (clock skew…), as advice.
    Warning(String),
    ParticipantJoined {
        identity: String,
        name: String,
    },
    ParticipantLeft {
        identity: String,
    },
    TrackSubscribed {
        identity: String,
        kind: lk::TrackKind,
    },
    TrackMuted {
        identity: String,
        muted: bool,
    },
    ChatReceived(ChatMessage),
    ChatSent(ChatMessage),
    ChatFailed {
        id: String,
        error: String,
    },
    /// Once a second while connected.
    Timer {
        elapsed: Duration,
        remaining: Option<Duration>,
        ending_soon: bool,
    },
}

/// Commands to a running call.
#[derive(Debug)]
enum Command {
    Mic(bool),
    Camera(bool),
    Chat(String),
    Leave,
}

/// The caller's side of a call.
#[derive(Debug)]
pub struct CallHandle {
    tx: mpsc::UnboundedSender<Command>,
    /// The event stream; ends after `Ended` or `Failed`.
    pub events: mpsc::UnboundedReceiver<CallEvent>,
}

impl CallHandle {
    pub fn set_mic(&self, on: bool) {
        let _ = self.tx.send(Command::Mic(on));
    }
    pub fn set_camera(&self, on: bool) {
        let _ = self.tx.send(Command::Camera(on));
    }
    pub fn send_chat(&self, text: &str) {
        let _ = self.tx.send(Command::Chat(text.to_owned()));
    }
    pub fn leave(&self) {
        let _ = self.tx.send(Command::Leave);
    }
}

/// Starts a call.
pub fn start(config: CallConfig) -> CallHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let (etx, events) = mpsc::unbounded_channel();
    tokio::spawn(run(config, rx, etx));
    CallHandle { tx, events }
}

/// Chat text is bounded so one message cannot flood a call.
pub const MAX_CHAT_CHARS: usize = 4000;
/// The legacy chat data topic.
pub const LEGACY_CHAT_TOPIC: &str = "chat";

/// Parses a legacy chat packet; `None` when it is not one.
pub fn parse_legacy_chat(from: &str, payload: &[u8]) -> Option<ChatMessage> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let text = v["message"].as_str()?;
    let id = v["id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("legacy-{}", v["timestamp"]));
    Some(ChatMessage {
        id: id.chars().take(128).collect(),
        from: from.to_owned(),
        text: text.chars().take(MAX_CHAT_CHARS).collect(),
        timestamp_ms: v["timestamp"].as_i64().unwrap_or(0),
    })
}

/// Timer figures at `elapsed` into a call with `paid` minutes.
pub fn timer(elapsed: Duration, paid_minutes: Option<u32>, warn_before: Duration) -> CallEvent {
    let remaining =
        paid_minutes.map(|m| Duration::from_secs(u64::from(m) * 60).saturating_sub(elapsed));
    CallEvent::Timer {
        elapsed,
        remaining,
        ending_soon: remaining.is_some_and(|r| r <= warn_before),
    }
}

struct Local {
    video: Option<lk::LocalVideoTrack>,
    audio: Option<lk::LocalAudioTrack>,
}

async fn run(
    cfg: CallConfig,
    mut rx: mpsc::UnboundedReceiver<Command>,
    out: mpsc::UnboundedSender<CallEvent>,
) {
    let emit = |e: CallEvent| {
        let _ = out.send(e);
    };
    emit(CallEvent::State(CallState::Idle));
    let (url, token, server_time) = match &cfg.token {
        TokenSource::Direct { url, token } => (url.clone(), token.clone(), None),
        TokenSource::Backend(client, req) => {
            emit(CallEvent::State(CallState::FetchingToken));
            match client.fetch_token(req).await {
                Ok(g) => (g.server_url, g.token, g.server_time),
                Err(e) => return emit(CallEvent::State(CallState::Failed(e.into()))),
            }
        }
    };
    let claims = diagnose::read_claims(&token).ok();
    let now = chrono::Utc::now().timestamp();
    if let Some(c) = &claims {
        for p in diagnose::diagnose(c, now, server_time).problems {
            emit(CallEvent::Warning(p.to_string()));
        }
    }
    emit(CallEvent::State(CallState::Connecting));
    let (room, mut room_events) =
        match lk::Room::connect(&url, &token, lk::RoomOptions::default()).await {
            Ok(r) => r,
            Err(lk::ConnectError::Unauthorized { .. }) => {
                let likely = claims.as_ref().map_or(diagnose::Likely::WrongSecret, |c| {
                    diagnose::explain_rejection(c, now, server_time)
                });
                return emit(CallEvent::State(CallState::Failed(
                    CallError::TokenRejected { likely },
                )));
            }
            Err(e) => {
                return emit(CallEvent::State(CallState::Failed(CallError::Connect(
                    e.to_string(),
                ))));
            }
        };
    let me = room.local_participant().clone();
    let mut local = Local {
        video: None,
        audio: None,
    };
    if let Err(e) = publish(&cfg, &me, &mut local).await {
        let _ = room.disconnect().await;
        return emit(CallEvent::State(CallState::Failed(CallError::Media(e))));
    }
    for p in room.remote_participants() {
        emit(CallEvent::ParticipantJoined {
            identity: p.info.identity.clone(),
            name: p.info.name.clone(),
        });
    }
    emit(CallEvent::State(CallState::Connected));
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let my_identity = me.identity();
    let end = loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Command::Mic(on)) => {
                    if let Some(a) = &local.audio { let _ = a.set_muted(!on); }
                }
                Some(Command::Camera(on)) => {
                    if let Some(v) = &local.video { let _ = v.set_muted(!on); }
                }
                Some(Command::Chat(text)) => {
                    let text: String = text.chars().take(MAX_CHAT_CHARS).collect();
                    match me.send_chat(&text).await {
                        Ok(id) => {
                            let ts = chrono::Utc::now().timestamp_millis();
                            let legacy = json!({"id": id, "timestamp": ts, "message": text}).to_string();
                            let opts = lk::DataOptions { reliable: true, topic: Some(LEGACY_CHAT_TOPIC.into()), destinations: vec![] };
                            let _ = me.publish_data(legacy.into_bytes(), opts).await;
                            emit(CallEvent::ChatSent(ChatMessage { id, from: my_identity.clone(), text, timestamp_ms: ts }));
                        }
                        Err(e) => emit(CallEvent::ChatFailed { id: String::new(), error: e.to_string() }),
                    }
                }
                Some(Command::Leave) | None => {
                    let _ = room.disconnect().await;
                    break EndReason::Left;
                }
            },
            _ = tick.tick() => emit(timer(started.elapsed(), cfg.paid_minutes, cfg.warn_before)),
            ev = room_events.recv() => {
                let Some(ev) = ev else { break EndReason::Remote("the room closed".into()) };
                match ev {
                    lk::RoomEvent::ParticipantConnected(p) => emit(CallEvent::ParticipantJoined { identity: p.identity, name: p.name }),
                    lk::RoomEvent::ParticipantDisconnected { identity, .. } => emit(CallEvent::ParticipantLeft { identity }),
                    lk::RoomEvent::TrackSubscribed { participant, track, .. } => {
                        emit(CallEvent::TrackSubscribed { identity: participant, kind: track.kind() });
                    }
                    lk::RoomEvent::TrackMuted { participant, .. } if participant != my_identity => {
                        emit(CallEvent::TrackMuted { identity: participant, muted: true });
                    }
                    lk::RoomEvent::TrackUnmuted { participant, .. } if participant != my_identity => {
                        emit(CallEvent::TrackMuted { identity: participant, muted: false });
                    }
                    lk::RoomEvent::TextReceived(t) if t.topic == "lk.chat" && seen.insert((t.sender.clone(), t.id.clone())) => {
                        emit(CallEvent::ChatReceived(ChatMessage {
                            id: t.id, from: t.sender, text: t.text.chars().take(MAX_CHAT_CHARS).collect(), timestamp_ms: t.timestamp_ms,
                        }));
                    }
                    lk::RoomEvent::DataReceived { participant, topic, payload, .. } if topic.as_deref() == Some(LEGACY_CHAT_TOPIC) => {
                        if let Some(m) = parse_legacy_chat(&participant, &payload)
                            && seen.insert((m.from.clone(), m.id.clone()))
                        {
                            emit(CallEvent::ChatReceived(m));
                        }
                    }
                    lk::RoomEvent::Reconnecting => emit(CallEvent::State(CallState::Reconnecting)),
                    lk::RoomEvent::Reconnected => emit(CallEvent::State(CallState::Connected)),
                    lk::RoomEvent::Disconnected { reason } => break EndReason::Remote(format!("{reason:?}")),
                    _ => {}
                }
            }
        }
    };
    drop(local);
    emit(CallEvent::State(CallState::Ended(end)));
}

async fn publish(
    cfg: &CallConfig,
    me: &lk::LocalParticipant,
    local: &mut Local,
) -> Result<(), String> {
    let m = cfg.media;
    if matches!(cfg.session_type, SessionType::Voice | SessionType::Video) {
        let source =
            lk::AudioSource::new(lk::AudioSourceOptions::default()).map_err(|e| e.to_string())?;
        let track = lk::LocalAudioTrack::new("microphone", &source).map_err(|e| e.to_string())?;
        me.publish_track(
            track.track(),
            lk::PublishOptions {
                source: lk::TrackSource::Microphone,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        track.set_muted(!cfg.mic_on).map_err(|e| e.to_string())?;
        spawn_tone(source, m.tone_hz);
        local.audio = Some(track);
    }
    if cfg.session_type == SessionType::Video {
        let source = lk::VideoSource::new(m.width, m.height).map_err(|e| e.to_string())?;
        let track = lk::LocalVideoTrack::new("camera", &source).map_err(|e| e.to_string())?;
        me.publish_track(
            track.track(),
            lk::PublishOptions {
                source: lk::TrackSource::Camera,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        track.set_muted(!cfg.camera_on).map_err(|e| e.to_string())?;
        spawn_pattern(source, m);
        local.video = Some(track);
    }
    Ok(())
}

/// A continuous sine at `hz`, 10 ms frames, paced by the source's own queue.
fn spawn_tone(source: lk::AudioSource, hz: f64) {
    tokio::spawn(async move {
        let rate = source.options().sample_rate;
        let per = (rate / 100) as usize;
        for i in 0usize.. {
            let data = (i * per..(i + 1) * per)
                .map(|n| {
                    ((n as f64 * hz * std::f64::consts::TAU / f64::from(rate)).sin() * 9_000.0)
                        as i16
                })
                .collect();
            if source
                .capture(lk::AudioFrame {
                    data,
                    sample_rate: rate,
                    channels: 1,
                })
                .await
                .is_err()
            {
                return;
            }
        }
    });
}

/// A grey picture with a bright bar moving across it.
fn spawn_pattern(source: lk::VideoSource, m: SyntheticMedia) {
    tokio::spawn(async move {
        let Ok(mut buf) = lk::I420Buffer::new(m.width, m.height) else {
            return;
        };
        let period = Duration::from_secs(1) / m.fps.max(1);
        let mut tick = tokio::time::interval(period);
        for n in 0u32.. {
            tick.tick().await;
            let w = m.width as usize;
            let bar = (n as usize * 8) % w;
            let (y, u, v) = buf.planes_mut();
            for row in y.chunks_mut(w) {
                row.fill(90);
                let end = (bar + w / 16).min(w);
                row[bar..end].fill(235);
            }
            u.fill(128);
            v.fill(128);
            let ts = i64::from(n) * period.as_micros() as i64;
            if source.capture(&buf, ts, lk::FrameMeta::default()).is_err() {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_chat_packets_parse_and_are_bounded() {
        let m = parse_legacy_chat(
            "bob",
            br#"{"id":"m1","timestamp":1700000000000,"message":"<b>hi</b>"}"#,
        )
        .unwrap();
        assert_eq!(
            (
                m.id.as_str(),
                m.from.as_str(),
                m.text.as_str(),
                m.timestamp_ms
            ),
            ("m1", "bob", "<b>hi</b>", 1_700_000_000_000)
        );
        assert!(parse_legacy_chat("bob", b"not json").is_none());
        assert!(parse_legacy_chat("bob", br#"{"message": 5}"#).is_none());
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(10_000));
        assert_eq!(
            parse_legacy_chat("bob", long.as_bytes())
                .unwrap()
                .text
                .len(),
            MAX_CHAT_CHARS
        );
    }

    #[test]
    fn timer_counts_down_paid_time_and_warns_before_the_end() {
        let warn = Duration::from_secs(300);
        let CallEvent::Timer {
            remaining,
            ending_soon,
            ..
        } = timer(Duration::from_secs(60), Some(30), warn)
        else {
            panic!()
        };
        assert_eq!(
            (remaining, ending_soon),
            (Some(Duration::from_secs(29 * 60)), false)
        );
        let CallEvent::Timer {
            remaining,
            ending_soon,
            ..
        } = timer(Duration::from_secs(26 * 60), Some(30), warn)
        else {
            panic!()
        };
        assert_eq!(
            (remaining, ending_soon),
            (Some(Duration::from_secs(240)), true)
        );
        let CallEvent::Timer {
            remaining,
            ending_soon,
            ..
        } = timer(Duration::from_secs(40 * 60), Some(30), warn)
        else {
            panic!()
        };
        assert_eq!((remaining, ending_soon), (Some(Duration::ZERO), true));
        let CallEvent::Timer {
            remaining,
            ending_soon,
            ..
        } = timer(Duration::from_secs(5), None, warn)
        else {
            panic!()
        };
        assert_eq!((remaining, ending_soon), (None, false));
    }
}
