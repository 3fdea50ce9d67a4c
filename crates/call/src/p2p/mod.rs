//! Seed 004's own calls, peer to peer: its Socket.IO signalling (events and
//! payloads as the seed documents them) and who offers when. The WebRTC
//! peer connection and its codecs come next; see docs/decisions.md D9.

pub mod roles;
pub mod signal;
pub mod socketio;
