//! `tandem-lk`: LiveKit's Rust SDK, taken through its C ABI library
//! (`liblivekit_ffi` from the pinned `livekit` wheel), as a safe async API
//! of our own.
//!
//! This crate is the only place that touches LiveKit's generated protocol
//! types; everything it exports is ours. It never imports UI code.

mod audio;
mod error;
mod ffi;
mod handle;
mod loader;
mod processing;
mod proto;
mod track;
mod track_ops;
mod video;

pub use audio::{
    AudioFrame, AudioSource, AudioSourceOptions, AudioStream, AudioStreamOptions, LocalAudioTrack,
};
pub use error::{ConnectError, FfiError, LkError};
pub use ffi::{LibraryConfig, configure, ensure_loaded, shutdown};
pub use handle::{HandleStats, handle_stats};
pub use loader::LoadError;
pub use processing::{AudioProcessor, ProcessingOptions, Resampler};
pub use track::{PublicationInfo, Track, TrackInfo, TrackKind, TrackSource};
pub use video::{
    FrameMeta, I420Buffer, LocalVideoTrack, Plane, VideoFrame, VideoSource, VideoStream,
    VideoStreamOptions,
};

/// The pinned LiveKit wheel version this build uses.
pub const LIVEKIT_WHEEL_VERSION: &str = tandem_lk_dist::WHEEL_VERSION;
