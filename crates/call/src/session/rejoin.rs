//! Getting back into the room after the SDK gave up on it: one attempt at a
//! time (a fresh token from the platform, since the old one may have
//! expired during a long outage), and what happens to commands meanwhile.
//! When to try and when to stop is decided by [`super::reconnect`].

use std::collections::VecDeque;

use tandem_lk as lk;

use super::handle::{Command, Out};
use super::reconnect::ATTEMPT_TIMEOUT;
use super::types::{CallEvent, TokenSource};
use crate::platform::BackendError;
use crate::room::{Connector, RoomEvents};

/// Chat typed while away that is kept for sending afterwards.
pub(super) const MAX_QUEUED_CHAT: usize = 100;

/// Whether a disconnect is worth rejoining after: not when we or the
/// server meant it (left, removed, room closed, same identity elsewhere).
pub(super) fn recoverable(reason: &lk::DisconnectReason) -> bool {
    use lk::DisconnectReason as R;
    !matches!(
        reason,
        R::ClientInitiated
            | R::DuplicateIdentity
            | R::ParticipantRemoved
            | R::RoomDeleted
            | R::RoomClosed
    )
}

/// How one attempt went.
pub(super) enum Attempt<R> {
    Back(R, RoomEvents),
    /// Worth trying again (network, server not back yet).
    Failed,
    /// The platform will not let us back (session over, access removed).
    Refused(BackendError),
}

/// One attempt to get back in, within [`ATTEMPT_TIMEOUT`].
pub(super) async fn attempt<C: Connector>(
    source: &TokenSource,
    connector: &C,
    number: u32,
) -> Attempt<C::Room> {
    let (url, token) = match source {
        TokenSource::Direct { url, token } => (url.clone(), token.clone()),
        TokenSource::Backend(client, req) => match client.fetch_token(req).await {
            Ok(g) => (g.server_url, g.token),
            Err(e) if e.transient() => return Attempt::Failed,
            Err(e) => return Attempt::Refused(e),
        },
    };
    match tokio::time::timeout(ATTEMPT_TIMEOUT, connector.connect(&url, &token)).await {
        Ok(Ok((room, events))) => Attempt::Back(room, events),
        Ok(Err(e)) => {
            tracing::info!(attempt = number, "rejoin failed: {e}");
            Attempt::Failed
        }
        Err(_) => {
            tracing::info!(attempt = number, "rejoin timed out");
            Attempt::Failed
        }
    }
}

/// Commands held while rejoining, to run once back; chat beyond
/// [`MAX_QUEUED_CHAT`] is reported unsent.
pub(super) fn queue_held(held: Vec<Command>, replay: &mut VecDeque<Command>, out: &Out) {
    let mut chats = 0;
    for c in held {
        if let Command::Chat(local_id, text) = c {
            chats += 1;
            if chats > MAX_QUEUED_CHAT {
                out.emit(CallEvent::ChatFailed {
                    local_id,
                    text,
                    error: "too many messages while reconnecting".into(),
                });
                continue;
            }
            replay.push_back(Command::Chat(local_id, text));
        } else {
            replay.push_back(c);
        }
    }
}

/// Chat held while rejoining, when the call does not come back.
pub(super) fn fail_chat(held: Vec<Command>, out: &Out, why: &str) {
    for c in held {
        if let Command::Chat(local_id, text) = c {
            out.emit(CallEvent::ChatFailed {
                local_id,
                text,
                error: why.to_owned(),
            });
        }
    }
}
