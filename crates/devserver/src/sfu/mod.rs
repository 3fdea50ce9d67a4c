//! The SFU core: one task owns every room, participant and peer connection.
//!
//! Signaling connections, RoomService calls and the UDP socket all feed this
//! task; nothing else touches room state, so there are no locks and no
//! ordering surprises. str0m is sans-IO: the task moves datagrams between the
//! socket and each `Rtc`, and forwards media and data between them.

mod activity;
mod data;
mod media;
mod requests;
mod rooms;
mod service;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use livekit_api::access_token::Claims;
use livekit_protocol as proto;
use proto::{signal_request, signal_response};
use str0m::Rtc;
use str0m::change::SdpPendingOffer;
use str0m::channel::ChannelId;
use str0m::media::{MediaKind, Mid, Rid};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::ids;
use crate::webhook::Webhooks;

pub(crate) use service::{ServiceCall, ServiceError, ServiceReply};

/// Internal participant key (never sent to clients; they see the `PA_` sid).
pub(crate) type Pid = u64;

/// Semantic version reported to clients; they gate features on it.
pub(crate) const SERVER_VERSION: &str = "1.9.0";
/// Signaling protocol version the server speaks.
pub(crate) const PROTOCOL_VERSION: i32 = 16;
/// Bound on queued signal messages per client before it is dropped as too slow.
const SIGNAL_BACKLOG: usize = 1024;

/// Messages the SFU sends to one signaling connection.
#[derive(Debug)]
pub(crate) enum Outbound {
    Signal(Box<proto::SignalResponse>),
    /// Close the WebSocket after sending everything before this.
    Close,
}

/// What a WebSocket connection asks to join with.
#[derive(Debug)]
pub(crate) struct JoinRequest {
    pub(crate) claims: Claims,
    pub(crate) auto_subscribe: bool,
    pub(crate) client_protocol: i32,
}

/// A successful join: the key to send signals with and the stream of replies.
#[derive(Debug)]
pub(crate) struct Joined {
    pub(crate) pid: Pid,
    pub(crate) rx: mpsc::Receiver<Outbound>,
}

/// Why a join was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JoinError {
    #[error("room {0:?} is full")]
    RoomFull(String),
    #[error("server is shutting down")]
    ShuttingDown,
    #[error("could not set up media: {0}")]
    Media(String),
}

/// Everything sent to the SFU task.
#[derive(Debug)]
pub(crate) enum Command {
    Join(Box<JoinRequest>, oneshot::Sender<Result<Joined, JoinError>>),
    /// Checks that a join would be admitted, for `/rtc/validate`.
    CanJoin(String, oneshot::Sender<Result<(), JoinError>>),
    Signal(Pid, Box<signal_request::Message>),
    /// The participant's WebSocket closed.
    Gone(Pid),
    Service(
        Box<ServiceCall>,
        oneshot::Sender<Result<ServiceReply, ServiceError>>,
    ),
    /// Server-initiated leave with a reconnect, as `simulate{server_leave}` does;
    /// answers whether the participant was found.
    ServerLeave(String, String, oneshot::Sender<bool>),
    /// Snapshot counters, for tests and leak checks.
    Counts(oneshot::Sender<Counts>),
    /// Traffic totals since start, for benchmarks.
    Traffic(oneshot::Sender<Traffic>),
    /// Every media path from a publisher to a subscriber, for soak checks.
    Paths(oneshot::Sender<Vec<MediaPath>>),
    /// Data packets each participant sent and was sent, for soak checks.
    Data(oneshot::Sender<Vec<DataCount>>),
}

/// Live object counts, to check nothing leaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Open rooms.
    pub rooms: usize,
    /// Connected participants.
    pub participants: usize,
    /// Published tracks.
    pub tracks: usize,
}

/// Traffic totals since the server started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Traffic {
    /// UDP datagrams received.
    pub datagrams_in: u64,
    /// UDP datagrams sent.
    pub datagrams_out: u64,
    /// Bytes sent over UDP.
    pub bytes_out: u64,
    /// Media frames written to subscribers.
    pub frames_forwarded: u64,
}

/// One track on its way to one subscriber, with what went through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPath {
    /// Identity of the subscriber.
    pub subscriber: String,
    /// Identity of the publisher.
    pub publisher: String,
    /// `"audio"` or `"video"`.
    pub kind: &'static str,
    /// Negotiated and forwarding.
    pub open: bool,
    /// Frames the server received of this track (from every layer).
    pub published: u64,
    /// Frames handed to the subscriber's connection.
    pub forwarded: u64,
    /// Frames its connection refused.
    pub refused: u64,
}

/// The data packets (chat, streams, user packets) one participant sent that
/// the server relayed, and those it wrote to that participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataCount {
    /// Identity of the participant.
    pub identity: String,
    /// Packets from it, accepted for relaying.
    pub sent: u64,
    /// Packets written to its connection.
    pub delivered: u64,
}

/// Cheap handle other tasks use to talk to the SFU task.
#[derive(Debug, Clone)]
pub(crate) struct SfuHandle {
    pub(crate) tx: mpsc::Sender<Command>,
}

impl SfuHandle {
    pub(crate) async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.ok()?;
        rx.await.ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PcRole {
    Publisher,
    Subscriber,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataKind {
    Reliable,
    Lossy,
}

impl DataKind {
    fn from_label(label: &str) -> Option<Self> {
        match label {
            "_reliable" => Some(DataKind::Reliable),
            "_lossy" => Some(DataKind::Lossy),
            _ => None,
        }
    }
}

struct Pc {
    rtc: Rtc,
    next_timeout: Instant,
    failed: bool,
}

/// A track a participant publishes, bound to a `mid` of its publisher PC.
struct PubTrack {
    info: proto::TrackInfo,
    mid: Mid,
    kind: MediaKind,
    /// Simulcast layers seen recently, with when.
    rids_seen: Vec<(Rid, Instant)>,
    last_pli: Option<Instant>,
    /// Audio: the smoothed level (0–1) from the audio-level header
    /// extension, and when it was last heard.
    level: f32,
    heard_at: Option<Instant>,
    /// Frames received from the publisher.
    received: u64,
}

/// A track announced with `AddTrackRequest`, waiting for its media section.
struct PendingTrack {
    cid: String,
    info: proto::TrackInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DtState {
    ToOpen,
    Negotiating(Mid),
    Open(Mid),
    ToStop(Mid),
    Stopping(Mid),
}

/// A remote track sent to one subscriber.
struct DownTrack {
    publisher: Pid,
    publisher_sid: String,
    track_sid: String,
    kind: MediaKind,
    state: DtState,
    /// The publisher went away or unpublished while this was being negotiated.
    stop_when_open: bool,
    /// Simulcast layer forwarded now, and the one being switched to.
    rid: Option<Rid>,
    target_rid: Option<Rid>,
    awaiting_keyframe: bool,
    /// Frames written to the subscriber, and writes refused.
    forwarded: u64,
    refused: u64,
}

struct SubChannels {
    reliable: ChannelId,
    lossy: ChannelId,
}

struct Participant {
    sid: String,
    identity: String,
    name: String,
    metadata: String,
    attributes: HashMap<String, String>,
    room: String,
    joined_at: SystemTime,
    version: u32,
    permission: proto::ParticipantPermission,
    client_protocol: i32,
    auto_subscribe: bool,
    out: mpsc::Sender<Outbound>,
    publisher: Pc,
    subscriber: Pc,
    tracks: Vec<PubTrack>,
    pending_tracks: Vec<PendingTrack>,
    downtracks: Vec<DownTrack>,
    sub_pending: Option<(SdpPendingOffer, u32)>,
    next_offer_id: u32,
    sub_needs_offer: bool,
    sub_channels: Option<SubChannels>,
    /// Data waiting for a subscriber channel to open or drain.
    backlog: VecDeque<(DataKind, Vec<u8>)>,
    /// Data packets relayed from this participant, and written to it.
    data_in: u64,
    data_out: u64,
    pub_channels: HashMap<ChannelId, DataKind>,
    /// Reasons already logged for this participant (each bad input is logged once).
    logged: Vec<&'static str>,
    /// Worst packet loss its published media showed since the last rating.
    loss: f32,
    /// When media last arrived from it.
    media_at: Option<Instant>,
    /// The quality last announced for it.
    quality: Option<proto::ConnectionQuality>,
}

impl Participant {
    fn pc(&mut self, role: PcRole) -> &mut Pc {
        match role {
            PcRole::Publisher => &mut self.publisher,
            PcRole::Subscriber => &mut self.subscriber,
        }
    }

    fn send(&mut self, msg: signal_response::Message) {
        let msg = proto::SignalResponse { message: Some(msg) };
        if let Err(mpsc::error::TrySendError::Full(_)) =
            self.out.try_send(Outbound::Signal(Box::new(msg)))
        {
            self.log_once(
                "signal-backlog",
                "client is not reading signal messages; dropping it",
            );
            self.publisher.failed = true;
        }
    }

    fn log_once(&mut self, key: &'static str, what: &str) {
        if !self.logged.contains(&key) {
            self.logged.push(key);
            tracing::warn!(participant = %self.identity, sid = %self.sid, "{what}");
        }
    }

    fn info(&self, state: proto::participant_info::State) -> proto::ParticipantInfo {
        let joined = self
            .joined_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        proto::ParticipantInfo {
            sid: self.sid.clone(),
            identity: self.identity.clone(),
            state: state as i32,
            tracks: self.tracks.iter().map(|t| t.info.clone()).collect(),
            metadata: self.metadata.clone(),
            joined_at: joined.as_secs() as i64,
            joined_at_ms: joined.as_millis() as i64,
            name: self.name.clone(),
            version: self.version,
            permission: Some(self.permission.clone()),
            is_publisher: !self.tracks.is_empty(),
            attributes: self.attributes.clone(),
            client_protocol: self.client_protocol,
            ..Default::default()
        }
    }
}

struct RoomState {
    sid: String,
    created_at: SystemTime,
    empty_timeout: Duration,
    max_participants: u32,
    metadata: String,
    members: Vec<Pid>,
    empty_since: Option<Instant>,
    /// Participant sids announced as speaking.
    speakers: Vec<String>,
}

/// The SFU state, owned by its task.
pub(crate) struct Sfu {
    cfg: Arc<Config>,
    socket: Arc<UdpSocket>,
    /// The address in our ICE candidate; str0m matches incoming packets against it.
    media_addr: SocketAddr,
    rooms: HashMap<String, RoomState>,
    parts: HashMap<Pid, Participant>,
    next_pid: Pid,
    addr_cache: HashMap<SocketAddr, (Pid, PcRole)>,
    dirty: Vec<(Pid, PcRole)>,
    events: VecDeque<(Pid, PcRole, str0m::Event)>,
    webhooks: Webhooks,
    traffic: Traffic,
    /// When connection quality was last rated.
    quality_checked: Instant,
}

impl Sfu {
    pub(crate) fn new(
        cfg: Arc<Config>,
        socket: Arc<UdpSocket>,
        media_addr: SocketAddr,
        webhooks: Webhooks,
    ) -> Self {
        Self {
            cfg,
            socket,
            media_addr,
            rooms: HashMap::new(),
            parts: HashMap::new(),
            next_pid: 1,
            addr_cache: HashMap::new(),
            dirty: Vec::new(),
            events: VecDeque::new(),
            webhooks,
            traffic: Traffic::default(),
            quality_checked: Instant::now(),
        }
    }

    /// Runs until every handle is dropped or `stop` fires.
    pub(crate) async fn run(
        mut self,
        mut rx: mpsc::Receiver<Command>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let socket = self.socket.clone();
        let mut buf = vec![0u8; 2048];
        let mut housekeeping = tokio::time::interval(Duration::from_millis(250));
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wake = self.next_timeout();
            tokio::select! {
                _ = &mut stop => break,
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                r = socket.recv_from(&mut buf) => match r {
                    Ok((n, src)) => self.udp_in(&buf[..n], src),
                    // Linux reports ICMP errors for earlier sends here; harmless.
                    Err(e) => tracing::debug!("udp receive: {e}"),
                },
                _ = tokio::time::sleep_until(wake.into()) => self.timeouts(),
                _ = housekeeping.tick() => self.housekeeping(),
            }
            self.drive();
        }
        self.shutdown();
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Join(req, reply) => {
                let result = self.join(*req);
                if let Err(Ok(joined)) = reply.send(result) {
                    // The connection went away while joining.
                    self.remove(joined.pid, proto::DisconnectReason::ClientInitiated, None);
                }
            }
            Command::CanJoin(room, reply) => {
                let _ = reply.send(self.check_capacity(&room));
            }
            Command::Signal(pid, msg) => self.signal(pid, *msg),
            Command::Gone(pid) => {
                self.remove(pid, proto::DisconnectReason::ClientInitiated, None);
            }
            Command::Service(call, reply) => {
                let _ = reply.send(self.service(*call));
            }
            Command::ServerLeave(room, identity, reply) => {
                let found = self.find(&room, &identity).ok();
                if let Some(pid) = found {
                    self.simulate(
                        pid,
                        proto::SimulateScenario {
                            scenario: Some(proto::simulate_scenario::Scenario::ServerLeave(true)),
                        },
                    );
                }
                let _ = reply.send(found.is_some());
            }
            Command::Traffic(reply) => {
                let _ = reply.send(self.traffic);
            }
            Command::Paths(reply) => {
                let _ = reply.send(self.paths());
            }
            Command::Data(reply) => {
                let _ = reply.send(
                    self.parts
                        .values()
                        .map(|p| DataCount {
                            identity: p.identity.clone(),
                            sent: p.data_in,
                            delivered: p.data_out,
                        })
                        .collect(),
                );
            }
            Command::Counts(reply) => {
                let _ = reply.send(Counts {
                    rooms: self.rooms.len(),
                    participants: self.parts.len(),
                    tracks: self.parts.values().map(|p| p.tracks.len()).sum(),
                });
            }
        }
    }

    fn paths(&self) -> Vec<MediaPath> {
        let mut paths = Vec::new();
        for sub in self.parts.values() {
            for dt in &sub.downtracks {
                let publisher = self.parts.get(&dt.publisher);
                paths.push(MediaPath {
                    subscriber: sub.identity.clone(),
                    publisher: publisher.map(|p| p.identity.clone()).unwrap_or_default(),
                    published: publisher
                        .and_then(|p| p.tracks.iter().find(|t| t.info.sid == dt.track_sid))
                        .map_or(0, |t| t.received),
                    kind: if dt.kind == MediaKind::Video {
                        "video"
                    } else {
                        "audio"
                    },
                    open: matches!(dt.state, DtState::Open(_)),
                    forwarded: dt.forwarded,
                    refused: dt.refused,
                });
            }
        }
        paths
    }

    /// A room's members (empty when there is no such room).
    fn members(&self, room: &str) -> Vec<Pid> {
        self.rooms
            .get(room)
            .map(|r| r.members.clone())
            .unwrap_or_default()
    }

    fn housekeeping(&mut self) {
        let failed: Vec<Pid> = self
            .parts
            .iter()
            .filter(|(_, p)| {
                p.publisher.failed
                    || p.subscriber.failed
                    || !p.publisher.rtc.is_alive()
                    || !p.subscriber.rtc.is_alive()
            })
            .map(|(pid, _)| *pid)
            .collect();
        for pid in failed {
            // Ask the client to come back with a fresh session.
            let leave = leave_request(
                proto::DisconnectReason::StateMismatch,
                proto::leave_request::Action::Reconnect,
            );
            self.remove(pid, proto::DisconnectReason::StateMismatch, Some(leave));
        }
        let now = Instant::now();
        let expired: Vec<String> = self
            .rooms
            .iter()
            .filter(|(_, r)| {
                r.members.is_empty() && r.empty_since.is_some_and(|t| now - t >= r.empty_timeout)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in expired {
            self.close_room(&name, proto::DisconnectReason::RoomClosed);
        }
        self.announce_speakers(now);
        if now - self.quality_checked >= activity::QUALITY_EVERY {
            self.quality_checked = now;
            self.announce_quality(now);
        }
    }

    /// Closes a room, removing anyone still in it.
    fn close_room(&mut self, name: &str, reason: proto::DisconnectReason) {
        let members = self
            .rooms
            .get(name)
            .map(|r| r.members.clone())
            .unwrap_or_default();
        for pid in members {
            let leave = leave_request(reason, proto::leave_request::Action::Disconnect);
            self.remove(pid, reason, Some(leave));
        }
        let room = self.room_proto(name);
        if self.rooms.remove(name).is_some() {
            tracing::info!(room = name, "room closed");
            self.webhooks.room_event("room_finished", room);
        }
    }

    fn shutdown(&mut self) {
        let names: Vec<String> = self.rooms.keys().cloned().collect();
        for name in names {
            self.close_room(&name, proto::DisconnectReason::ServerShutdown);
        }
    }
}

impl DownTrack {
    fn new(publisher: Pid, publisher_sid: &str, track_sid: &str, kind: MediaKind) -> Self {
        Self {
            publisher,
            publisher_sid: publisher_sid.to_owned(),
            track_sid: track_sid.to_owned(),
            kind,
            state: DtState::ToOpen,
            stop_when_open: false,
            rid: None,
            target_rid: None,
            awaiting_keyframe: kind == MediaKind::Video,
            forwarded: 0,
            refused: 0,
        }
    }

    /// Starts taking this track away from the subscriber.
    fn stop(&mut self) {
        match self.state {
            DtState::Open(m) => self.state = DtState::ToStop(m),
            DtState::Negotiating(_) => self.stop_when_open = true,
            DtState::ToOpen | DtState::ToStop(_) | DtState::Stopping(_) => {
                self.stop_when_open = true;
            }
        }
    }

    /// Never offered, so it can just be dropped.
    fn removable(&self) -> bool {
        self.state == DtState::ToOpen && self.stop_when_open
    }

    fn needs_offer(&self) -> bool {
        matches!(self.state, DtState::ToOpen | DtState::ToStop(_))
    }
}

/// A `leave` message; clients reconnect on their own when the action says so
/// (`can_reconnect` follows from it).
pub(crate) fn leave_request(
    reason: proto::DisconnectReason,
    action: proto::leave_request::Action,
) -> proto::LeaveRequest {
    proto::LeaveRequest {
        can_reconnect: action != proto::leave_request::Action::Disconnect,
        reason: reason as i32,
        action: action as i32,
        regions: None,
    }
}

/// Per-field limits, as livekit-server's defaults.
const MAX_METADATA: usize = 64 * 1024;
const MAX_NAME: usize = 1024;

fn attributes_size(a: &HashMap<String, String>) -> usize {
    a.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// Applies an attribute update: empty values delete keys.
fn merge_attributes(into: &mut HashMap<String, String>, update: &HashMap<String, String>) {
    for (k, v) in update {
        if v.is_empty() {
            into.remove(k);
        } else {
            into.insert(k.clone(), v.clone());
        }
    }
}

/// Maps a token's `canPublishSources` entry to a track source.
fn source_from_grant(s: &str) -> Option<proto::TrackSource> {
    Some(match s {
        "camera" => proto::TrackSource::Camera,
        "microphone" => proto::TrackSource::Microphone,
        "screen_share" => proto::TrackSource::ScreenShare,
        "screen_share_audio" => proto::TrackSource::ScreenShareAudio,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_updates_merge_and_delete() {
        let mut a = HashMap::from([
            ("x".to_owned(), "1".to_owned()),
            ("y".to_owned(), "2".to_owned()),
        ]);
        merge_attributes(
            &mut a,
            &HashMap::from([
                ("x".to_owned(), String::new()),
                ("z".to_owned(), "3".to_owned()),
            ]),
        );
        assert_eq!(a.get("x"), None);
        assert_eq!(a.get("y").map(String::as_str), Some("2"));
        assert_eq!(a.get("z").map(String::as_str), Some("3"));
    }

    #[test]
    fn downtrack_stop_depends_on_negotiation_state() {
        let mut d = DownTrack::new(1, "PA_x", "TR_y", MediaKind::Video);
        assert!(d.needs_offer());
        d.stop();
        assert!(d.removable(), "never offered: dropped at once");
        let mid = Mid::from("0");
        let mut d = DownTrack::new(1, "PA_x", "TR_y", MediaKind::Audio);
        d.state = DtState::Open(mid);
        d.stop();
        assert_eq!(d.state, DtState::ToStop(mid));
        assert!(d.needs_offer());
    }

    #[test]
    fn publish_source_grants_map_to_track_sources() {
        assert_eq!(
            source_from_grant("camera"),
            Some(proto::TrackSource::Camera)
        );
        assert_eq!(source_from_grant("nonsense"), None);
    }
}
