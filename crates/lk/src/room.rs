//! Joining a room and following what happens in it.
//!
//! `Room::connect` returns the room and a receiver of [`RoomEvent`]s. A
//! task owned by the room turns LiveKit's events into ours, keeps the
//! native handles of remote participants and publications, and reads text
//! streams (bounded, see [`crate::text`]) before reporting them, in the
//! order each sender sent them.

use crate::error::{ConnectError, FfiError, LkError};
use crate::events::{ParticipantInfo, RoomEvent, TextMessage};
use crate::ffi::{self, EventSink};
use crate::handle::FfiHandle;
use crate::participant::LocalParticipant;
use crate::proto;
use crate::proto::ffi_event::Message as Ev;
use crate::proto::ffi_request::Message as Rq;
use crate::proto::room_event::Message as M;
use crate::track::{PublicationInfo, Track};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How to join.
#[derive(Debug, Clone)]
pub struct RoomOptions {
    /// Subscribe to every remote track automatically.
    pub auto_subscribe: bool,
    /// Let LiveKit pause video nobody is looking at.
    pub adaptive_stream: bool,
    /// Let LiveKit stop sending layers nobody receives.
    pub dynacast: bool,
    /// Give up joining after this long.
    pub connect_timeout: Duration,
    /// Extra attempts at the initial join.
    pub join_retries: u32,
    /// Encrypt our media end to end with this key, and decrypt others'
    /// with it (LiveKit's frame encryption, as its other SDKs do it).
    pub encryption: Option<crate::SharedKey>,
}

impl Default for RoomOptions {
    fn default() -> Self {
        Self {
            auto_subscribe: true,
            adaptive_stream: false,
            dynacast: false,
            connect_timeout: Duration::from_secs(15),
            join_retries: 1,
            encryption: None,
        }
    }
}

/// The room as the server described it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomInfo {
    /// Server id.
    pub sid: String,
    /// Room name.
    pub name: String,
    /// Room metadata.
    pub metadata: String,
}

/// A remote participant and their published tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteParticipant {
    /// Who they are.
    pub info: ParticipantInfo,
    /// What they publish.
    pub publications: Vec<PublicationInfo>,
}

struct RemoteState {
    _handle: FfiHandle,
    info: ParticipantInfo,
    publications: HashMap<String, (FfiHandle, PublicationInfo)>,
}

#[derive(Default)]
struct RoomState {
    info: RoomInfo,
    remotes: HashMap<String, RemoteState>,
    disconnected: bool,
}

struct RoomInner {
    handle: FfiHandle,
    local: LocalParticipant,
    state: Arc<Mutex<RoomState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RoomInner {
    fn drop(&mut self) {
        if let Some(client) = ffi::client_if_loaded() {
            client.unregister_sink(self.handle.id());
        }
        self.task.abort();
    }
}

/// A joined room. Cloning shares it; the last clone dropped leaves it.
#[derive(Clone)]
pub struct Room {
    inner: Arc<RoomInner>,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room").field("info", &self.info()).finish()
    }
}

struct RoomSink(mpsc::UnboundedSender<Ev>);

impl EventSink for RoomSink {
    fn deliver(&self, event: Ev) {
        let _ = self.0.send(event);
    }
}

impl Room {
    /// Joins the room that `token` grants at `url` (ws:// or wss://).
    pub async fn connect(
        url: &str,
        token: &str,
        options: RoomOptions,
    ) -> Result<(Room, mpsc::UnboundedReceiver<RoomEvent>), ConnectError> {
        validate_url(url)?;
        if token.split('.').count() != 3 || token.chars().any(char::is_whitespace) {
            return Err(ConnectError::InvalidToken);
        }
        let client = ffi::client().map_err(FfiError::from)?;
        let request = |async_id| {
            Rq::Connect(proto::ConnectRequest {
                url: url.to_owned(),
                token: token.to_owned(),
                options: proto::RoomOptions {
                    auto_subscribe: Some(options.auto_subscribe),
                    adaptive_stream: Some(options.adaptive_stream),
                    dynacast: Some(options.dynacast),
                    join_retries: Some(options.join_retries),
                    connect_timeout_ms: Some(options.connect_timeout.as_millis() as u64),
                    encryption: options.encryption.as_ref().map(crate::SharedKey::options),
                    ..Default::default()
                },
                request_async_id: Some(async_id),
            })
        };
        let event = ffi::call(request, None).await?;
        let result = match event {
            Ev::Connect(proto::ConnectCallback {
                message: Some(proto::connect_callback::Message::Result(r)),
                ..
            }) => r,
            Ev::Connect(proto::ConnectCallback {
                message: Some(proto::connect_callback::Message::Error(e)),
                ..
            }) => {
                return Err(ConnectError::classify(url, e));
            }
            _ => {
                return Err(
                    FfiError::Protocol("Connect answered with another event".into()).into(),
                );
            }
        };
        let handle = FfiHandle::new(result.room.handle.id);
        let local = LocalParticipant::new(
            FfiHandle::new(result.local_participant.handle.id),
            ParticipantInfo::from_proto(&result.local_participant.info),
        );
        let mut state = RoomState {
            info: RoomInfo {
                sid: result.room.info.sid.clone().unwrap_or_default(),
                name: result.room.info.name.clone(),
                metadata: result.room.info.metadata.clone(),
            },
            ..Default::default()
        };
        for p in result.participants {
            let info = ParticipantInfo::from_proto(&p.participant.info);
            let publications = p
                .publications
                .into_iter()
                .map(|publication| {
                    let info = PublicationInfo::from_proto(&publication.info);
                    (
                        info.sid.clone(),
                        (FfiHandle::new(publication.handle.id), info),
                    )
                })
                .collect();
            state.remotes.insert(
                info.identity.clone(),
                RemoteState {
                    _handle: FfiHandle::new(p.participant.handle.id),
                    info,
                    publications,
                },
            );
        }
        let state = Arc::new(Mutex::new(state));
        let (raw_tx, raw_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        client.register_sink(handle.id(), Arc::new(RoomSink(raw_tx)));
        let task = tokio::spawn(run_events(raw_rx, events_tx, state.clone()));
        // LiveKit holds the room's events until we say we are listening.
        client.request(Rq::ReadyForRoomEvent(proto::ReadyForRoomEventRequest {
            room_handle: handle.id(),
        }))?;
        Ok((
            Room {
                inner: Arc::new(RoomInner {
                    handle,
                    local,
                    state,
                    task,
                }),
            },
            events_rx,
        ))
    }

    /// Replaces the shared key at `index` (a key change during the call;
    /// everyone must change to it).
    pub fn set_shared_key(&self, key: &crate::SharedKey, index: i32) -> Result<(), LkError> {
        crate::e2ee::request(
            self.inner.handle.id(),
            proto::e2ee_request::Message::SetSharedKey(proto::SetSharedKeyRequest {
                shared_key: key.bytes().to_vec().into(),
                key_index: index,
            }),
        )
        .map(|_| ())
    }

    /// Moves the shared key at `index` one step forward (receivers follow
    /// within their ratchet window).
    pub fn ratchet_shared_key(&self, index: i32) -> Result<(), LkError> {
        crate::e2ee::request(
            self.inner.handle.id(),
            proto::e2ee_request::Message::RatchetSharedKey(proto::RatchetSharedKeyRequest {
                key_index: index,
            }),
        )
        .map(|_| ())
    }

    /// Sets the key `identity`'s media is decrypted with (per-participant
    /// keys; ours when `identity` is our own).
    pub fn set_participant_key(
        &self,
        identity: &str,
        key: &crate::SharedKey,
        index: i32,
    ) -> Result<(), LkError> {
        crate::e2ee::request(
            self.inner.handle.id(),
            proto::e2ee_request::Message::SetKey(proto::SetKeyRequest {
                participant_identity: identity.to_owned(),
                key: key.bytes().to_vec().into(),
                key_index: index,
            }),
        )
        .map(|_| ())
    }

    /// The room's name, id and metadata.
    pub fn info(&self) -> RoomInfo {
        self.inner.state.lock().info.clone()
    }

    /// Us.
    pub fn local_participant(&self) -> &LocalParticipant {
        &self.inner.local
    }

    /// Everyone else, with what they publish.
    pub fn remote_participants(&self) -> Vec<RemoteParticipant> {
        let state = self.inner.state.lock();
        let mut out: Vec<_> = state
            .remotes
            .values()
            .map(|r| RemoteParticipant {
                info: r.info.clone(),
                publications: r.publications.values().map(|(_, p)| p.clone()).collect(),
            })
            .collect();
        out.sort_by(|a, b| a.info.identity.cmp(&b.info.identity));
        out
    }

    /// Whether the room has been left.
    pub fn is_disconnected(&self) -> bool {
        self.inner.state.lock().disconnected
    }

    /// Leaves the room. Tracks stop; the event stream ends with `Disconnected`.
    pub async fn disconnect(&self) -> Result<(), LkError> {
        let room = self.inner.handle.id();
        let event = ffi::call(
            |async_id| {
                Rq::Disconnect(proto::DisconnectRequest {
                    room_handle: room,
                    request_async_id: Some(async_id),
                    reason: Some(proto::DisconnectReason::ClientInitiated as i32),
                })
            },
            None,
        )
        .await?;
        self.inner.state.lock().disconnected = true;
        match event {
            Ev::Disconnect(_) => Ok(()),
            _ => Err(FfiError::Protocol("Disconnect answered with another event".into()).into()),
        }
    }

    /// Transport statistics of both peer connections, summarised.
    pub async fn stats(&self) -> Result<crate::stats::SessionStats, LkError> {
        crate::stats::session(self.inner.handle.id()).await
    }
}

fn validate_url(url: &str) -> Result<(), ConnectError> {
    let lower = url.to_ascii_lowercase();
    let rest = ["wss://", "ws://", "https://", "http://"]
        .iter()
        .find_map(|s| lower.strip_prefix(s));
    match rest {
        Some(host)
            if !host.is_empty()
                && !host.starts_with('/')
                && !url.chars().any(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(ConnectError::InvalidUrl {
            url: url.to_owned(),
        }),
    }
}

/// A text stream being read: its sender, number (see [`crate::text::InOrder`]) and message.
type TextRead =
    std::pin::Pin<Box<dyn std::future::Future<Output = (String, u64, Option<TextMessage>)> + Send>>;

/// Text streams being read, and the order to report them in.
#[derive(Default)]
struct Texts {
    reading: FuturesUnordered<TextRead>,
    order: crate::text::InOrder,
}

async fn run_events(
    mut raw: mpsc::UnboundedReceiver<Ev>,
    out: mpsc::UnboundedSender<RoomEvent>,
    state: Arc<Mutex<RoomState>>,
) {
    let mut texts = Texts::default();
    loop {
        tokio::select! {
            event = raw.recv() => {
                let Some(Ev::RoomEvent(proto::RoomEvent { message: Some(m), .. })) = event else {
                    if event.is_none() { break } else { continue }
                };
                let ended = matches!(m, M::Disconnected(_) | M::Eos(_));
                for e in on_room_event(m, &state, &mut texts) {
                    let _ = out.send(e);
                }
                if ended {
                    state.lock().disconnected = true;
                }
            }
            Some((sender, seq, text)) = texts.reading.next(), if !texts.reading.is_empty() => {
                for text in texts.order.finish(&sender, seq, text) {
                    let _ = out.send(RoomEvent::TextReceived(text));
                }
            }
        }
    }
}

fn on_room_event(m: M, state: &Mutex<RoomState>, texts: &mut Texts) -> Vec<RoomEvent> {
    if let Some(e) = crate::events::simple(&m) {
        update_simple(&m, state);
        return vec![e];
    }
    match m {
        M::ParticipantConnected(e) => {
            let info = ParticipantInfo::from_proto(&e.info.info);
            state.lock().remotes.insert(
                info.identity.clone(),
                RemoteState {
                    _handle: FfiHandle::new(e.info.handle.id),
                    info: info.clone(),
                    publications: HashMap::new(),
                },
            );
            vec![RoomEvent::ParticipantConnected(info)]
        }
        M::TrackPublished(e) => {
            let handle = FfiHandle::new(e.publication.handle.id);
            let publication = PublicationInfo::from_proto(&e.publication.info);
            if let Some(r) = state.lock().remotes.get_mut(&e.participant_identity) {
                r.publications
                    .insert(publication.sid.clone(), (handle, publication.clone()));
            }
            vec![RoomEvent::TrackPublished {
                participant: e.participant_identity,
                publication,
            }]
        }
        M::TrackSubscribed(e) => {
            let track = Track::from_owned(e.track);
            let publication = state
                .lock()
                .remotes
                .get(&e.participant_identity)
                .and_then(|r| r.publications.get(track.sid()).map(|(_, p)| p.clone()));
            vec![RoomEvent::TrackSubscribed {
                participant: e.participant_identity,
                track,
                publication,
            }]
        }
        M::DataPacketReceived(e) => match e.value {
            Some(proto::data_packet_received::Value::User(u)) => {
                let owned = FfiHandle::new(u.data.handle.id);
                let len = usize::try_from(u.data.data.data_len).unwrap_or(0);
                let payload = if u.data.data.data_ptr == 0 || len == 0 {
                    Vec::new()
                } else {
                    // SAFETY: LiveKit keeps the packet's bytes alive until
                    // `owned` is dropped, just after this copy.
                    unsafe { std::slice::from_raw_parts(u.data.data.data_ptr as *const u8, len) }
                        .to_vec()
                };
                drop(owned);
                vec![RoomEvent::DataReceived {
                    participant: e.participant_identity,
                    topic: u.topic,
                    payload,
                    reliable: e.kind == proto::DataPacketKind::KindReliable as i32,
                }]
            }
            _ => Vec::new(),
        },
        M::TextStreamOpened(e) => {
            if texts.reading.len() < crate::text::MAX_OPEN {
                let sender = e.participant_identity.clone();
                let seq = texts.order.open(&sender);
                texts.reading.push(Box::pin(async move {
                    (sender, seq, crate::text::read(e).await)
                }));
            } else {
                crate::text::refuse(e);
            }
            Vec::new()
        }
        M::ByteStreamOpened(e) => crate::bytes::start_reading(e)
            .map(RoomEvent::BytesOpened)
            .into_iter()
            .collect(),
        M::RoomUpdated(info) => {
            let mut s = state.lock();
            s.info.sid = info.sid.unwrap_or_default();
            s.info.name = info.name;
            s.info.metadata = info.metadata;
            Vec::new()
        }
        M::RoomSidChanged(e) => {
            state.lock().info.sid = e.sid;
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// Keeps the participant/publication snapshot in step with events.
fn update_simple(m: &M, state: &Mutex<RoomState>) {
    let mut s = state.lock();
    match m {
        M::ParticipantDisconnected(e) => {
            s.remotes.remove(&e.participant_identity);
        }
        M::TrackUnpublished(e) => {
            if let Some(r) = s.remotes.get_mut(&e.participant_identity) {
                r.publications.remove(&e.publication_sid);
            }
        }
        M::TrackMuted(e) => set_muted(&mut s, &e.participant_identity, &e.track_sid, true),
        M::TrackUnmuted(e) => set_muted(&mut s, &e.participant_identity, &e.track_sid, false),
        M::ParticipantMetadataChanged(e) => {
            if let Some(r) = s.remotes.get_mut(&e.participant_identity) {
                r.info.metadata = e.metadata.clone();
            }
        }
        M::ParticipantNameChanged(e) => {
            if let Some(r) = s.remotes.get_mut(&e.participant_identity) {
                r.info.name = e.name.clone();
            }
        }
        M::ParticipantAttributesChanged(e) => {
            if let Some(r) = s.remotes.get_mut(&e.participant_identity) {
                r.info.attributes = crate::events::attributes(&e.attributes);
            }
        }
        M::RoomMetadataChanged(e) => s.info.metadata = e.metadata.clone(),
        M::Disconnected(_) => s.disconnected = true,
        _ => {}
    }
}

fn set_muted(s: &mut RoomState, identity: &str, sid: &str, muted: bool) {
    if let Some((_, p)) = s
        .remotes
        .get_mut(identity)
        .and_then(|r| r.publications.get_mut(sid))
    {
        p.muted = muted;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_websocket_or_http_with_a_host() {
        for ok in [
            "ws://127.0.0.1:7880",
            "wss://x.livekit.cloud",
            "https://a.b",
        ] {
            assert!(validate_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "127.0.0.1:7880",
            "ftp://x",
            "ws://",
            "ws:///path",
            "ws://a b",
        ] {
            assert!(
                matches!(validate_url(bad), Err(ConnectError::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }
}
