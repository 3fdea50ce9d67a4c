//! LiveKit's FFI protocol, generated at build time from the pinned wheel's
//! descriptors. Crate-private: nothing generated leaks out of tandem-lk.

#![allow(
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    clippy::undocumented_unsafe_blocks,
    deprecated,
    dead_code,
    rust_2018_idioms
)]

include!(concat!(env!("OUT_DIR"), "/livekit.proto.rs"));
