//! Getting back into the room after the SDK gave up on it.
//!
//! LiveKit's SDK resumes a dropped connection, then rejoins with the same
//! token, and after about ten tries reports the room disconnected. Tandem
//! then keeps trying on its own: a fresh token from the platform (the old
//! one may have expired during a long outage), a new connection every
//! [`RETRY_EVERY`] or sooner, for up to [`GIVE_UP_AFTER`]. The person can
//! leave meanwhile; chat typed meanwhile is kept and sent once back.

use std::time::Duration;

use tandem_lk as lk;
use tokio::sync::mpsc;

use super::media::Local;
use super::{CallEvent, Command, Events, TokenSource, send};
use crate::backend::BackendError;

/// Pause between attempts, so a returning network is noticed quickly.
pub(super) const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(8);
/// After this long without a connection, the call ends.
pub(super) const GIVE_UP_AFTER: Duration = Duration::from_secs(120);
/// While the SDK reconnects for longer than this, Tandem checks whether the
/// call server answers again.
pub(super) const PROBE_AFTER: Duration = Duration::from_secs(3);
/// How often it checks.
pub(super) const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How long the server must have answered, with the SDK still
/// reconnecting, before Tandem rejoins by itself (the SDK may be just
/// about to succeed).
pub(super) const GRACE: Duration = Duration::from_millis(750);

/// Whether the call server at `url` (ws:// or wss://) accepts a TCP
/// connection within half a second.
pub(super) async fn reachable(url: &str) -> bool {
    let (tls, rest) = match url.split_once("://") {
        Some(("wss", rest)) => (true, rest),
        Some((_, rest)) => (false, rest),
        None => return false,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok() && !p.is_empty());
    let target = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    matches!(
        tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(target)
        )
        .await,
        Ok(Ok(_))
    )
}

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

/// How a rejoin ended.
pub(super) enum Rejoined {
    Back(lk::Room, mpsc::UnboundedReceiver<lk::RoomEvent>),
    /// The person left (or ended the session) while we were away.
    Left(Command),
    /// The platform will not let us back (session over, access removed).
    Refused(BackendError),
    /// No connection within [`GIVE_UP_AFTER`].
    GaveUp,
}

/// Tries to get back in. Commands that arrive meanwhile: leaving stops
/// trying; chat is queued (up to [`MAX_QUEUED_CHAT`], later ones are
/// reported unsent by the caller through `overflow`); device and mute
/// changes are applied by the caller once back, so they are handed back.
pub(super) async fn rejoin(
    source: &TokenSource,
    rx: &mut mpsc::UnboundedReceiver<Command>,
    held: &mut Vec<Command>,
    mic_gate: &std::sync::atomic::AtomicBool,
) -> Rejoined {
    let deadline = tokio::time::Instant::now() + GIVE_UP_AFTER;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let try_once = async {
            let (url, token) = match source {
                TokenSource::Direct { url, token } => (url.clone(), token.clone()),
                TokenSource::Backend(client, req) => match client.fetch_token(req).await {
                    Ok(g) => (g.server_url, g.token),
                    Err(e) if e.transient() => return Err(None),
                    Err(e) => return Err(Some(e)),
                },
            };
            match tokio::time::timeout(
                ATTEMPT_TIMEOUT,
                lk::Room::connect(&url, &token, lk::RoomOptions::default()),
            )
            .await
            {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(e)) => {
                    tracing::info!(attempt, "rejoin failed: {e}");
                    Err(None)
                }
                Err(_) => {
                    tracing::info!(attempt, "rejoin timed out");
                    Err(None)
                }
            }
        };
        tokio::pin!(try_once);
        let outcome = loop {
            tokio::select! {
                r = &mut try_once => break r,
                cmd = rx.recv() => match cmd {
                    None => return Rejoined::Left(Command::Leave),
                    Some(c @ (Command::Leave | Command::End)) => return Rejoined::Left(c),
                    Some(c) => hold(c, held, mic_gate),
                },
            }
        };
        match outcome {
            Ok((room, events)) => return Rejoined::Back(room, events),
            Err(Some(refused)) => return Rejoined::Refused(refused),
            Err(None) => {}
        }
        if tokio::time::Instant::now() + RETRY_EVERY > deadline {
            return Rejoined::GaveUp;
        }
        let pause = tokio::time::sleep(RETRY_EVERY);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                () = &mut pause => break,
                cmd = rx.recv() => match cmd {
                    None => return Rejoined::Left(Command::Leave),
                    Some(c @ (Command::Leave | Command::End)) => return Rejoined::Left(c),
                    Some(c) => hold(c, held, mic_gate),
                },
            }
        }
    }
}

/// Holds a command until the call is back; turning the microphone off
/// takes effect at once (nothing may leave once the person muted), the
/// track's mute follows when the command is replayed.
/// The caller is answered at once (it must not wait out a rejoin); "on"
/// opens the gate only when replayed, once the track is published again.
fn hold(c: Command, held: &mut Vec<Command>, mic_gate: &std::sync::atomic::AtomicBool) {
    match c {
        Command::Mic(on, reply) => {
            if !on {
                mic_gate.store(false, std::sync::atomic::Ordering::SeqCst);
            }
            let _ = reply.send(Ok(()));
            let (replayed, _) = tokio::sync::oneshot::channel();
            held.push(Command::Mic(on, replayed));
        }
        c => held.push(c),
    }
}

/// Publishes our tracks again in a rejoined room, muted as they were.
pub(super) async fn republish(me: &lk::LocalParticipant, local: &Local, mic_on: bool) {
    let mic_on = mic_on && local.mic_gate.load(std::sync::atomic::Ordering::SeqCst);
    let tracks = [
        (
            local.audio.as_ref().map(|a| a.track()),
            lk::TrackSource::Microphone,
        ),
        (
            local.video.as_ref().map(|v| v.track()),
            lk::TrackSource::Camera,
        ),
    ];
    for (track, source) in tracks {
        let Some(track) = track else { continue };
        let options = lk::PublishOptions {
            source,
            ..Default::default()
        };
        if let Err(e) = me.publish_track(track, options).await {
            tracing::warn!("republishing {source:?} failed: {e}");
        }
    }
    if let Some(a) = &local.audio {
        let _ = a.set_muted(!mic_on);
    }
    if let Some(v) = &local.video {
        let _ = v.set_muted(local.camera.is_none());
    }
}

/// Commands held while rejoining, to run once back; chat beyond
/// [`MAX_QUEUED_CHAT`] is reported unsent.
pub(super) fn queue_held(
    held: Vec<Command>,
    replay: &mut std::collections::VecDeque<Command>,
    out: &Events,
) {
    let mut chats = 0;
    for c in held {
        if let Command::Chat(local_id, text) = c {
            chats += 1;
            if chats > MAX_QUEUED_CHAT {
                send(
                    out,
                    CallEvent::ChatFailed {
                        local_id,
                        text,
                        error: "too many messages while reconnecting".into(),
                    },
                );
                continue;
            }
            replay.push_back(Command::Chat(local_id, text));
        } else {
            replay.push_back(c);
        }
    }
}

/// Chat held while rejoining, when the call does not come back.
pub(super) fn fail_chat(held: Vec<Command>, out: &Events, why: &str) {
    for c in held {
        if let Command::Chat(local_id, text) = c {
            send(
                out,
                CallEvent::ChatFailed {
                    local_id,
                    text,
                    error: why.to_owned(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listening_server_is_reachable_and_a_closed_port_is_not() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(reachable(&format!("ws://127.0.0.1:{port}/rtc")).await);
        drop(l);
        assert!(!reachable(&format!("ws://127.0.0.1:{port}")).await);
        assert!(!reachable("not a url").await);
    }
}
