//! Tandem's local media: cameras (and a test pattern) delivered as I420
//! frames on a capture thread, microphones and speakers through cpal with
//! LiveKit's audio processing, and the SIMD conversion and scaling between.
//!
//! Device I/O never runs on the async runtime: each device has its own OS
//! thread, audio callbacks only move samples through lock-free rings, and
//! video keeps only the newest frame.

pub mod audio;
pub mod camera;
pub mod codec;
pub mod convert;
pub mod effects;
pub mod feed;
pub mod frame;
pub mod screen;
pub mod stamp;
pub mod still;

pub use frame::{FrameError, FrameReceiver, I420Frame};
