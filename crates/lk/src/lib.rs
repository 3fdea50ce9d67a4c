//! `tandem-lk`: LiveKit's Rust SDK, taken through its C ABI library
//! (`liblivekit_ffi` from the pinned `livekit` wheel), as a safe async API
//! of our own.
//!
//! This crate is the only place that touches LiveKit's generated protocol
//! types; everything it exports is ours. It never imports UI code.

mod audio;
mod bytes;
mod e2ee;
mod error;
mod events;
mod ffi;
mod handle;
mod loader;
mod participant;
mod processing;
mod proto;
mod queue;
mod room;
mod stats;
mod text;
mod track;
mod track_ops;
mod video;

pub use audio::{
    AudioFrame, AudioSource, AudioSourceOptions, AudioStream, AudioStreamOptions, LocalAudioTrack,
};
pub use bytes::{ByteChunk, ByteReader, ByteStreamInfo, ByteStreamOptions, ByteWriter};
pub use e2ee::{EncryptionState, MAX_KEY_BYTES, RATCHET_SALT, SharedKey};
pub use error::{ConnectError, FfiError, LkError};
pub use events::{
    ConnectionQuality, ConnectionState, DisconnectReason, ParticipantInfo, RefreshedToken,
    RoomEvent, TextMessage,
};
pub use ffi::{LibraryConfig, configure, ensure_loaded, shutdown};
pub use handle::{HandleStats, handle_stats};
pub use loader::LoadError;
pub use participant::{
    CHAT_TOPIC, DataOptions, EncoderBackend, LocalParticipant, MAX_DATA_BYTES, PublishOptions,
    VideoCodec,
};
pub use processing::{AudioProcessor, ProcessingOptions, Resampler};
pub use room::{RemoteParticipant, Room, RoomInfo, RoomOptions};
pub use stats::{RtpStreamStats, SessionStats};
pub use text::MAX_TEXT_BYTES;
pub use track::{PublicationInfo, Track, TrackInfo, TrackKind, TrackSource};
pub use video::{
    FrameMeta, I420Buffer, LocalVideoTrack, Plane, VideoFrame, VideoSource, VideoStream,
    VideoStreamOptions,
};

/// The pinned LiveKit wheel version this build uses.
pub const LIVEKIT_WHEEL_VERSION: &str = tandem_lk_dist::WHEEL_VERSION;

/// The receiver of a room's events.
pub type RoomEvents = tokio::sync::mpsc::UnboundedReceiver<RoomEvent>;
