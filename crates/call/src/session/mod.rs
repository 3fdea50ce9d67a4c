//! [`CallSession`]: one call, as an actor. Commands go in through a
//! [`CallHandle`], typed events come out as [`CallEvents`]; the session
//! owns the room, the local tracks and the timer, and routes each wake-up
//! to one handler (`on_command`, `on_room_event`, `on_probe`, `on_tick`).
//!
//! States: idle → fetching token → connecting → connected ↔ reconnecting →
//! ended(reason) or failed(error) ([`lifecycle`]). When to rejoin and when
//! to give up is decided by the machines in [`reconnect`], which take the
//! time as input. The room is reached through [`crate::room`]: LiveKit in
//! the product, an in-process fake in the behaviour tests.
//!
//! Chat is sent and received in two formats: `lk.chat` text streams (today's
//! SDKs) and data packets on topic `chat` carrying
//! `{"id": "<id>", "timestamp": <ms>, "message": "<text>"}` (what seed 000's web
//! app reads and writes with `useDataChannel('chat')`). A message sent both ways
//! carries the same id, and received duplicates are dropped by (sender, id).

use tandem_media::{FrameReceiver, I420Frame};

mod actor;
mod chat;
mod encoder;
mod files;
mod handle;
mod hands;
mod in_call;
mod lifecycle;
mod media;
mod p2p;
mod p2p_files;
mod privacy;
mod reactions;
mod reconnect;
mod rejoin;
mod saving;
mod sender;
mod share;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_files;
mod types;

pub use actor::CallSession;
pub use chat::{
    ChatHistory, ChatMessage, LEGACY_CHAT_TOPIC, MAX_CHAT_CHARS, MAX_HISTORY, MAX_NAME_CHARS,
    parse_legacy_chat, shorten,
};
pub use files::{FILE_TOPIC, MAX_FILE_BYTES, size_words, sniff};
pub use handle::{CallEvents, CallHandle};
pub use hands::{HAND_ATTRIBUTE, HAND_TOPIC};
pub use in_call::KEY_CHANGED_TOPIC;
pub use lifecycle::timer;
pub use reactions::REACTION_TOPIC;
pub use reconnect::GIVE_UP_AFTER;
pub use saving::{SaveError, free_name, safe_file_name, save_received};
pub use types::{
    CallConfig, CallError, CallEvent, CallState, Device, EndReason, FileState, FileTransfer,
    LOCAL_VIDEO, MediaConfig, MediaError, Reaction, Received, SessionType, TokenSource,
};

/// The newest frame of `rx`, scaled to fit `max_width`×`max_height`.
pub fn frame_fitted(rx: &FrameReceiver, max_width: u32, max_height: u32) -> Option<I420Frame> {
    let frame = rx.borrow().clone()?;
    frame.fitted(max_width, max_height).ok()
}

/// Starts a call on LiveKit: the handle to steer it and its events.
pub fn start(config: CallConfig) -> (CallHandle, CallEvents) {
    let (session, handle, events) = CallSession::new(config);
    tokio::spawn(session.run());
    (handle, events)
}
