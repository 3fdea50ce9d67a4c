//! An in-process room server for the session's behaviour tests: rooms that
//! connect at once (or are refused, or hang), events the test injects
//! (people joining, chat, the SDK reconnecting, the room lost), sends that
//! can be held in flight or fail, a LiveKit mute that can fail, and a log
//! of everything the call sent into it.
//!
//! Two calls connected to one `FakeServer` see each other's chat.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tandem_lk as lk;
use tandem_media::I420Frame;
use tokio::sync::{mpsc, watch};

use super::{BytesOut, CameraTrack, Connector, MicTrack, Room, RoomError, RoomEvents};

/// Whether the fake lets connections in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Door {
    /// Connections succeed.
    #[default]
    Open,
    /// Nothing answers (network down): connects fail, probes fail.
    Unreachable,
    /// The server answers but refuses to join (probes succeed).
    Refusing,
    /// Connects never complete (the server accepts TCP and then stalls).
    Stalled,
}

#[derive(Default)]
struct State {
    door: Door,
    /// Every connection so far; the newest is the current one.
    rooms: Vec<RoomSlot>,
    /// Remote participants: identity → name.
    others: BTreeMap<String, String>,
    mute_fails: bool,
    /// The microphone's mute as the others see it (once set).
    mic_muted: Option<bool>,
    /// Chat sent by calls: (sender identity, text), in order.
    chats: Vec<(String, String)>,
    /// Data packets sent: (sender identity, topic, payload).
    data: Vec<(String, String, Vec<u8>)>,
    /// Audio samples handed to microphones.
    samples: usize,
    frames: usize,
    /// Tracks unpublished, by id.
    unpublished: Vec<String>,
    /// Tokens do not grant sharing a screen.
    no_sharing: bool,
    /// Tracks published: (connection number, "microphone" | "camera" | "screen").
    published: Vec<(usize, &'static str)>,
    next_id: u64,
    /// Connection attempts, successful or not.
    attempts: usize,
    /// The key the connector encrypts new rooms with.
    connect_key: Option<lk::SharedKey>,
    /// Keys rooms were opened with, and keys set during calls, in order:
    /// (connection number, key).
    keys: Vec<(usize, lk::SharedKey)>,
    /// The computer's addresses (none set: one private address).
    addresses: Option<Vec<std::net::IpAddr>>,
    /// Others' attributes, by identity.
    attributes: BTreeMap<String, BTreeMap<String, String>>,
    /// Attributes calls set, in order: (connection number, attributes).
    set_attributes: Vec<(usize, BTreeMap<String, String>)>,
    /// Tokens do not let calls set their attributes.
    no_attributes: bool,
    /// Files sent by calls, in order.
    files: Vec<SentFile>,
    /// Tokens let calls change others (`roomAdmin`).
    admin: bool,
}

/// A file a call sent into the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentFile {
    pub sender: String,
    pub name: String,
    /// What was written so far.
    pub bytes: Vec<u8>,
    /// How it ended: `None` while open, `Some(None)` whole,
    /// `Some(Some(reason))` abandoned.
    pub ended: Option<Option<String>>,
}

struct RoomSlot {
    identity: String,
    events: mpsc::UnboundedSender<lk::RoomEvent>,
    open: bool,
}

/// The fake server; clones share it.
#[derive(Clone, Default)]
pub struct FakeServer {
    state: Arc<Mutex<State>>,
    /// While true, sends wait (in flight) until it turns false.
    held: Arc<watch::Sender<bool>>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer").finish_non_exhaustive()
    }
}

impl FakeServer {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends `event` to every open connection except `except`'s.
    fn broadcast(&self, except: Option<&str>, event: &lk::RoomEvent) {
        for r in self.state().rooms.iter().filter(|r| r.open) {
            if Some(r.identity.as_str()) != except {
                let _ = r.events.send(event.clone());
            }
        }
    }

    /// Sends `event` to the current (newest open) connection.
    pub fn emit(&self, event: lk::RoomEvent) {
        if let Some(r) = self.state().rooms.iter().rev().find(|r| r.open) {
            let _ = r.events.send(event);
        }
    }

    /// Lets connections in, or not.
    pub fn set_door(&self, door: Door) {
        self.state().door = door;
    }

    /// A remote participant joins.
    pub fn join(&self, identity: &str, name: &str) {
        self.state().others.insert(identity.into(), name.into());
        self.broadcast(
            None,
            &lk::RoomEvent::ParticipantConnected(lk::ParticipantInfo {
                sid: format!("PA_{identity}"),
                identity: identity.into(),
                name: name.into(),
                metadata: String::new(),
                attributes: BTreeMap::new(),
                publish_sources: None,
            }),
        );
    }

    /// A remote participant leaves (their network dropped).
    pub fn leave(&self, identity: &str) {
        self.state().others.remove(identity);
        self.broadcast(
            None,
            &lk::RoomEvent::ParticipantDisconnected {
                identity: identity.into(),
                reason: lk::DisconnectReason::Other,
            },
        );
    }

    /// A remote participant says something (`lk.chat`).
    pub fn say(&self, from: &str, id: &str, text: &str) {
        self.broadcast(
            None,
            &lk::RoomEvent::TextReceived(lk::TextMessage {
                sender: from.into(),
                topic: "lk.chat".into(),
                text: text.into(),
                id: id.into(),
                timestamp_ms: 0,
                attributes: BTreeMap::new(),
                truncated: false,
            }),
        );
    }

    /// The current connection is lost for good (LiveKit gave up on it).
    pub fn lose_room(&self, reason: lk::DisconnectReason) {
        let mut s = self.state();
        if let Some(r) = s.rooms.iter_mut().rev().find(|r| r.open) {
            r.open = false;
            let _ = r.events.send(lk::RoomEvent::Disconnected { reason });
        }
    }

    /// LiveKit's mute and unmute fail (or work again).
    pub fn fail_mutes(&self, fail: bool) {
        self.state().mute_fails = fail;
    }

    /// Holds every send in flight until released.
    pub fn hold_sends(&self, hold: bool) {
        self.held.send_replace(hold);
    }

    /// How many connections were opened.
    pub fn connections(&self) -> usize {
        self.state().rooms.len()
    }

    /// The computer's network addresses change.
    pub fn set_addresses(&self, addresses: &[std::net::IpAddr]) {
        self.state().addresses = Some(addresses.to_vec());
    }

    /// How many connections were tried (opened or not).
    pub fn attempts(&self) -> usize {
        self.state().attempts
    }

    /// Chat texts sent so far, in order.
    pub fn chats(&self) -> Vec<String> {
        self.state().chats.iter().map(|(_, t)| t.clone()).collect()
    }

    /// Data packets sent on `topic`, as text.
    pub fn data(&self, topic: &str) -> Vec<String> {
        self.state()
            .data
            .iter()
            .filter(|(_, t, _)| t == topic)
            .map(|(_, _, p)| String::from_utf8_lossy(p).into_owned())
            .collect()
    }

    /// Audio samples handed to the microphone track so far.
    pub fn samples(&self) -> usize {
        self.state().samples
    }

    /// The microphone's mute as the others see it, once it was set.
    pub fn mic_muted(&self) -> Option<bool> {
        self.state().mic_muted
    }

    /// Pictures handed to the camera track so far.
    pub fn frames(&self) -> usize {
        self.state().frames
    }

    /// Tracks published, per connection (1-based).
    pub fn published(&self) -> Vec<(usize, &'static str)> {
        self.state().published.clone()
    }

    /// Waits while sends are held.
    /// Tokens from now on do not grant sharing a screen.
    pub fn forbid_sharing(&self) {
        self.state().no_sharing = true;
    }

    /// Refuses calls' attributes from now on, as a token without
    /// `canUpdateOwnMetadata` makes the server do.
    pub fn forbid_attributes(&self) {
        self.state().no_attributes = true;
    }

    /// `identity`'s attributes as the server holds them.
    pub fn attributes_of(&self, identity: &str) -> BTreeMap<String, String> {
        self.state()
            .attributes
            .get(identity)
            .cloned()
            .unwrap_or_default()
    }

    /// Tokens from now on let calls change others (`roomAdmin`).
    pub fn grant_admin(&self) {
        self.state().admin = true;
    }

    /// Attributes calls set: (connection number, attributes).
    pub fn attributes_set(&self) -> Vec<(usize, BTreeMap<String, String>)> {
        self.state().set_attributes.clone()
    }

    /// `identity` (already in) sets its attributes: the calls hear it.
    pub fn set_attributes_of(&self, identity: &str, attributes: BTreeMap<String, String>) {
        let changed = attributes.clone();
        self.state()
            .attributes
            .insert(identity.to_owned(), attributes.clone());
        self.broadcast(
            None,
            &lk::RoomEvent::ParticipantAttributesChanged {
                identity: identity.to_owned(),
                attributes,
                changed,
            },
        );
    }

    /// Files calls sent, in order.
    pub fn files(&self) -> Vec<SentFile> {
        self.state().files.clone()
    }

    /// Tracks unpublished so far, by id.
    pub fn unpublished(&self) -> Vec<String> {
        self.state().unpublished.clone()
    }

    /// Keys rooms were opened with or changed to: (connection number, key).
    pub fn keys(&self) -> Vec<(usize, lk::SharedKey)> {
        self.state().keys.clone()
    }

    async fn in_flight(&self) {
        let mut held = self.held.subscribe();
        let _ = held.wait_for(|h| !*h).await;
    }
}

impl Connector for FakeServer {
    type Room = FakeRoom;

    async fn connect(
        &self,
        _url: &str,
        token: &str,
    ) -> Result<(FakeRoom, RoomEvents), lk::ConnectError> {
        let door = {
            let mut s = self.state();
            s.attempts += 1;
            s.door
        };
        match door {
            Door::Open => {}
            Door::Unreachable => {
                return Err(lk::ConnectError::Unreachable {
                    url: "fake".into(),
                    reason: "the network is down".into(),
                });
            }
            Door::Refusing => {
                return Err(lk::ConnectError::Http {
                    status: 503,
                    reason: "the server refuses joins".into(),
                });
            }
            Door::Stalled => std::future::pending().await,
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let mut s = self.state();
        // The token names who we are.
        let identity = token.to_owned();
        for r in &mut s.rooms {
            // Only one connection per identity is open at a time.
            if r.identity == identity {
                r.open = false;
            }
        }
        s.rooms.push(RoomSlot {
            identity: identity.clone(),
            events: tx,
            open: true,
        });
        let connection = s.rooms.len();
        if let Some(key) = s.connect_key.clone() {
            s.keys.push((connection, key));
        }
        Ok((
            FakeRoom {
                server: self.clone(),
                identity,
                connection,
            },
            rx,
        ))
    }

    async fn reachable(&self, _url: &str) -> bool {
        matches!(
            self.state().door,
            Door::Open | Door::Refusing | Door::Stalled
        )
    }

    fn set_encryption(&mut self, key: Option<lk::SharedKey>) {
        self.state().connect_key = key;
    }

    fn local_addresses(&self) -> Vec<std::net::IpAddr> {
        self.state()
            .addresses
            .clone()
            .unwrap_or_else(|| vec![std::net::IpAddr::from([10, 0, 0, 2])])
    }
}

/// One connection to the fake.
#[derive(Debug, Clone)]
pub struct FakeRoom {
    server: FakeServer,
    identity: String,
    connection: usize,
}

impl FakeRoom {
    fn open(&self) -> bool {
        self.server
            .state()
            .rooms
            .get(self.connection - 1)
            .is_some_and(|r| r.open)
    }

    fn closed() -> RoomError {
        RoomError("the room is closed".into())
    }
}

/// A file a call sends into the fake: what is written reaches the other
/// open connections' readers (and the server's record).
#[derive(Debug)]
pub struct FakeBytes {
    server: FakeServer,
    index: usize,
    tx: mpsc::UnboundedSender<lk::ByteChunk>,
}

impl BytesOut for FakeBytes {
    async fn write(&self, bytes: Vec<u8>) -> Result<(), RoomError> {
        self.server.in_flight().await;
        self.server.state().files[self.index]
            .bytes
            .extend_from_slice(&bytes);
        let _ = self.tx.send(lk::ByteChunk::Data(bytes));
        Ok(())
    }

    async fn close(self, reason: Option<String>) -> Result<(), RoomError> {
        self.server.state().files[self.index].ended = Some(reason.clone());
        let _ = self.tx.send(lk::ByteChunk::End(reason.map_or(Ok(()), Err)));
        Ok(())
    }
}

/// A microphone track on the fake.
#[derive(Debug, Clone)]
pub struct FakeMic {
    server: FakeServer,
}

/// A camera track on the fake.
#[derive(Debug, Clone)]
pub struct FakeCamera {
    server: FakeServer,
    size: (u32, u32),
}

impl Room for FakeRoom {
    type Mic = FakeMic;
    type Camera = FakeCamera;
    type Bytes = FakeBytes;

    fn identity(&self) -> String {
        self.identity.clone()
    }

    fn name(&self) -> String {
        "fake-room".into()
    }

    fn participants(&self) -> Vec<(String, String)> {
        self.server
            .state()
            .others
            .iter()
            .map(|(i, n)| (i.clone(), n.clone()))
            .collect()
    }

    fn new_mic(&self) -> Result<FakeMic, RoomError> {
        Ok(FakeMic {
            server: self.server.clone(),
        })
    }

    fn new_camera(&self, width: u32, height: u32) -> Result<FakeCamera, RoomError> {
        Ok(FakeCamera {
            server: self.server.clone(),
            size: (width, height),
        })
    }

    async fn publish_mic(&self, _mic: &FakeMic) -> Result<(), RoomError> {
        if !self.open() {
            return Err(Self::closed());
        }
        self.server
            .state()
            .published
            .push((self.connection, "microphone"));
        Ok(())
    }

    async fn publish_camera(&self, _camera: &FakeCamera) -> Result<(), RoomError> {
        if !self.open() {
            return Err(Self::closed());
        }
        self.server
            .state()
            .published
            .push((self.connection, "camera"));
        Ok(())
    }

    async fn send_chat(&self, text: &str) -> Result<String, RoomError> {
        self.server.in_flight().await;
        if !self.open() {
            return Err(Self::closed());
        }
        let id = {
            let mut s = self.server.state();
            s.next_id += 1;
            s.chats.push((self.identity.clone(), text.to_owned()));
            format!("TX_{}", s.next_id)
        };
        self.server.broadcast(
            Some(&self.identity),
            &lk::RoomEvent::TextReceived(lk::TextMessage {
                sender: self.identity.clone(),
                topic: "lk.chat".into(),
                text: text.to_owned(),
                id: id.clone(),
                timestamp_ms: 0,
                attributes: BTreeMap::new(),
                truncated: false,
            }),
        );
        Ok(id)
    }

    fn may_share_screen(&self) -> bool {
        !self.server.state().no_sharing
    }

    fn new_screen(&self, width: u32, height: u32) -> Result<FakeCamera, RoomError> {
        self.new_camera(width, height)
    }

    async fn publish_screen(&self, _screen: &FakeCamera) -> Result<String, RoomError> {
        if !self.open() {
            return Err(Self::closed());
        }
        let mut s = self.server.state();
        s.published.push((self.connection, "screen"));
        s.next_id += 1;
        Ok(format!("TR_screen{}", s.next_id))
    }

    async fn unpublish(&self, sid: &str) -> Result<(), RoomError> {
        if !self.open() {
            return Err(Self::closed());
        }
        self.server.state().unpublished.push(sid.to_owned());
        Ok(())
    }

    fn set_key(&self, key: &lk::SharedKey) -> Result<(), RoomError> {
        if !self.open() {
            return Err(Self::closed());
        }
        self.server
            .state()
            .keys
            .push((self.connection, key.clone()));
        Ok(())
    }

    async fn send_data(&self, topic: &str, payload: Vec<u8>) -> Result<(), RoomError> {
        self.server.in_flight().await;
        if !self.open() {
            return Err(Self::closed());
        }
        self.server
            .state()
            .data
            .push((self.identity.clone(), topic.to_owned(), payload));
        Ok(())
    }

    fn attributes_of(&self, identity: &str) -> BTreeMap<String, String> {
        self.server
            .state()
            .attributes
            .get(identity)
            .cloned()
            .unwrap_or_default()
    }

    async fn open_bytes(&self, options: lk::ByteStreamOptions) -> Result<FakeBytes, RoomError> {
        self.server.in_flight().await;
        if !self.open() {
            return Err(Self::closed());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let info = lk::ByteStreamInfo {
            id: options.id.unwrap_or_default(),
            name: options.name.clone(),
            mime_type: options.mime_type,
            topic: options.topic,
            total_length: options.total_length,
            timestamp_ms: 0,
            attributes: options.attributes,
        };
        let reader = lk::ByteReader::from_channel(self.identity.clone(), info, rx);
        self.server
            .broadcast(Some(&self.identity), &lk::RoomEvent::BytesOpened(reader));
        let index = {
            let mut s = self.server.state();
            s.files.push(SentFile {
                sender: self.identity.clone(),
                name: options.name,
                bytes: Vec::new(),
                ended: None,
            });
            s.files.len() - 1
        };
        Ok(FakeBytes {
            server: self.server.clone(),
            index,
            tx,
        })
    }

    async fn set_attributes(&self, attributes: BTreeMap<String, String>) -> Result<(), RoomError> {
        self.server.in_flight().await;
        if !self.open() {
            return Err(Self::closed());
        }
        let mut s = self.server.state();
        if s.no_attributes {
            return Err(RoomError(
                "does not have permission to update own metadata".into(),
            ));
        }
        s.set_attributes.push((self.connection, attributes));
        Ok(())
    }

    fn may_update_others(&self) -> bool {
        self.server.state().admin
    }

    async fn set_attributes_of(
        &self,
        identity: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), RoomError> {
        self.server.in_flight().await;
        if !self.server.state().admin {
            return Err(RoomError("permission denied: needs roomAdmin".into()));
        }
        let mut merged = self.attributes_of(identity);
        merged.extend(attributes);
        self.server.set_attributes_of(identity, merged);
        Ok(())
    }

    async fn video_encoder(&self) -> Option<(String, bool)> {
        let s = self.server.state();
        s.published
            .contains(&(self.connection, "camera"))
            .then(|| ("fake".to_owned(), false))
    }

    async fn disconnect(&self) {
        if let Some(r) = self.server.state().rooms.get_mut(self.connection - 1) {
            r.open = false;
        }
    }
}

impl MicTrack for FakeMic {
    fn set_muted(&self, muted: bool) -> Result<(), RoomError> {
        if self.server.state().mute_fails {
            return Err(RoomError("the server did not answer the mute".into()));
        }
        self.server.state().mic_muted = Some(muted);
        Ok(())
    }

    async fn capture(&self, samples: Vec<i16>) -> bool {
        self.server.state().samples += samples.len();
        true
    }
}

impl CameraTrack for FakeCamera {
    fn set_muted(&self, _muted: bool) -> Result<(), RoomError> {
        if self.server.state().mute_fails {
            return Err(RoomError("the server did not answer the mute".into()));
        }
        Ok(())
    }

    fn resolution(&self) -> (u32, u32) {
        self.size
    }

    fn capture(&self, _frame: &I420Frame) -> bool {
        self.server.state().frames += 1;
        true
    }
}
