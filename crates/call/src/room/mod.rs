//! The room seam: what a call needs from a LiveKit room, as traits, so the
//! session's behaviour (reconnects, rejoins, chat delivery, mute) can run
//! against an in-process fake in milliseconds as well as against LiveKit.
//!
//! [`Live`] is LiveKit through `tandem_lk`; [`fake::FakeServer`] (behind the
//! `test-support` feature) is a room that can drop, delay, refuse and fail
//! on request, and records what was sent into it.

use std::future::Future;

use tandem_lk as lk;
use tandem_media::I420Frame;
use tokio::sync::mpsc;

#[cfg(any(test, feature = "test-support"))]
pub mod fake;
mod live;

pub use live::Live;

/// A room's events, as LiveKit reports them.
pub type RoomEvents = mpsc::UnboundedReceiver<lk::RoomEvent>;

/// Why publishing or sending failed (LiveKit's words).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RoomError(pub String);

impl From<lk::LkError> for RoomError {
    fn from(e: lk::LkError) -> Self {
        Self(e.to_string())
    }
}

/// Opens rooms: one per connection (a rejoin opens a new one).
pub trait Connector: std::fmt::Debug + Send + Sync + 'static {
    type Room: Room;
    /// Joins the room `token` grants at `url`.
    fn connect(
        &self,
        url: &str,
        token: &str,
    ) -> impl Future<Output = Result<(Self::Room, RoomEvents), lk::ConnectError>> + Send;
    /// Whether the server at `url` answers at all (a quick probe while the
    /// SDK is still reconnecting).
    fn reachable(&self, url: &str) -> impl Future<Output = bool> + Send;
    /// Encrypt the media of rooms opened from now on with `key` (a key the
    /// platform handed out with the token).
    fn set_encryption(&mut self, _key: Option<tandem_lk::SharedKey>) {}
    /// Send the camera of rooms opened from now on through this encoder.
    fn set_encoder(&mut self, _encoder: tandem_lk::EncoderBackend) {}
    /// The computer's network addresses now (watched for a network change).
    fn local_addresses(&self) -> Vec<std::net::IpAddr> {
        crate::p2p::peer::local_addresses()
    }
}

/// One joined room. Cloning shares it.
pub trait Room: Clone + Send + Sync + 'static {
    /// Our microphone track; it outlives a room and is published again in
    /// the next one after a rejoin.
    type Mic: MicTrack;
    /// Our camera track, likewise.
    type Camera: CameraTrack;
    /// A byte stream (a file) we send.
    type Bytes: BytesOut;
    /// Our identity in the room.
    fn identity(&self) -> String;
    /// The room's name.
    fn name(&self) -> String;
    /// Who else is in it: (identity, display name).
    fn participants(&self) -> Vec<(String, String)>;
    /// A new microphone track (not published yet).
    fn new_mic(&self) -> Result<Self::Mic, RoomError>;
    /// A new camera track of `width`×`height` (not published yet).
    fn new_camera(&self, width: u32, height: u32) -> Result<Self::Camera, RoomError>;
    /// Publishes the microphone in this room.
    fn publish_mic(&self, mic: &Self::Mic) -> impl Future<Output = Result<(), RoomError>> + Send;
    /// Publishes the camera in this room.
    fn publish_camera(
        &self,
        camera: &Self::Camera,
    ) -> impl Future<Output = Result<(), RoomError>> + Send;
    /// Whether our token lets us share a screen (`canPublishSources`).
    fn may_share_screen(&self) -> bool;
    /// A new video track for a shared screen of `width`×`height` (not
    /// published yet); pictures go in as a camera's do.
    fn new_screen(&self, width: u32, height: u32) -> Result<Self::Camera, RoomError>;
    /// Publishes a shared screen (source `screen_share`, resolution kept
    /// over frame rate, one layer); its track id.
    fn publish_screen(
        &self,
        screen: &Self::Camera,
    ) -> impl Future<Output = Result<String, RoomError>> + Send;
    /// Stops publishing the track `sid` (the others see it go).
    fn unpublish(&self, sid: &str) -> impl Future<Output = Result<(), RoomError>> + Send;
    /// Replaces the shared key our media is encrypted with and others'
    /// media is decrypted with (a key change during an encrypted call).
    fn set_key(&self, key: &lk::SharedKey) -> Result<(), RoomError>;
    /// Sends a chat message (`lk.chat`); its id once the server has it.
    fn send_chat(&self, text: &str) -> impl Future<Output = Result<String, RoomError>> + Send;
    /// Sends a reliable data packet on `topic` to everyone.
    fn send_data(
        &self,
        topic: &str,
        payload: Vec<u8>,
    ) -> impl Future<Output = Result<(), RoomError>> + Send;
    /// Opens a byte stream to send a file.
    fn open_bytes(
        &self,
        options: lk::ByteStreamOptions,
    ) -> impl Future<Output = Result<Self::Bytes, RoomError>> + Send;
    /// Someone else's attributes as the room last heard them (empty for
    /// someone unknown).
    fn attributes_of(&self, identity: &str) -> std::collections::BTreeMap<String, String>;
    /// Sets our attributes (merged with the others by the server); the
    /// token must allow it (`canUpdateOwnMetadata`).
    fn set_attributes(
        &self,
        attributes: std::collections::BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), RoomError>> + Send;
    /// Whether our token lets us change others in the room (`roomAdmin`):
    /// a coach lowering someone's hand.
    fn may_update_others(&self) -> bool;
    /// Sets `identity`'s attributes through the server's room API (merged
    /// with their others); needs [`Room::may_update_others`].
    fn set_attributes_of(
        &self,
        identity: &str,
        attributes: std::collections::BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), RoomError>> + Send;
    /// The encoder a video of ours is sent through, as WebRTC reports it
    /// (its name, and whether it is a hardware one); `None` before the
    /// first picture, or with no video published.
    fn video_encoder(&self) -> impl Future<Output = Option<(String, bool)>> + Send;
    /// Leaves the room.
    fn disconnect(&self) -> impl Future<Output = ()> + Send;
}

/// A published microphone: samples go in, mute is signalled to the others.
pub trait MicTrack: Clone + Send + Sync + 'static {
    /// Sets the track's mute as the others see it.
    fn set_muted(&self, muted: bool) -> Result<(), RoomError>;
    /// Hands 10 ms of mono 48 kHz samples to the track; false once it is
    /// gone for good.
    fn capture(&self, samples: Vec<i16>) -> impl Future<Output = bool> + Send;
}

/// A byte stream we send: pieces go in, then it is closed (whole, or
/// abandoned with a reason the receivers are told).
pub trait BytesOut: Send + Sync + 'static {
    fn write(&self, bytes: Vec<u8>) -> impl Future<Output = Result<(), RoomError>> + Send;
    fn close(self, reason: Option<String>) -> impl Future<Output = Result<(), RoomError>> + Send;
}

/// A published camera: pictures go in at the track's size.
pub trait CameraTrack: Clone + Send + Sync + 'static {
    fn set_muted(&self, muted: bool) -> Result<(), RoomError>;
    /// The size pictures are sent at.
    fn resolution(&self) -> (u32, u32);
    /// Hands one picture (already at [`CameraTrack::resolution`]) to the
    /// track; false once it is gone for good.
    fn capture(&self, frame: &I420Frame) -> bool;
}
