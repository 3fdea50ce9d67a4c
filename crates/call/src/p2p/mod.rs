//! Seed 004's own calls, peer to peer: its Socket.IO signalling (events and
//! payloads as the seed documents them), who offers when, and the WebRTC
//! peer connection with its codecs; see docs/decisions.md D9.

pub mod data;
pub mod peer;
pub mod rate;
mod relay;
pub mod roles;
pub mod signal;
pub mod socketio;
pub mod stun;
pub mod turn;
mod video;
