//! Sharing a screen: ours (a second video track, source `screen_share`,
//! fed from a [`ScreenFeed`]) and others' (their shared screen, kept apart
//! from their camera and readable with [`super::CallHandle::screen`]).

use std::sync::Arc;

use tandem_lk as lk;
use tandem_media::screen::{ScreenFeed, ScreenStatus};
use tracing::Instrument as _;

use super::handle::{Out, ShareStep, Shared};
use super::media::{pump, to_frame};
use super::types::{CallEvent, MediaError, SessionType};
use crate::room::{Room, RoomError};

/// Our share while it runs.
pub(super) struct Share<R: Room> {
    feed: ScreenFeed,
    track: R::Camera,
    /// The published track's id in the current room.
    sid: Option<String>,
    task: tokio::task::JoinHandle<()>,
}

impl<R: Room> Drop for Share<R> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<R: Room> Share<R> {
    /// Publishes the opened screen `feed` in `room`.
    pub(super) async fn start(room: &R, feed: ScreenFeed) -> Result<Self, MediaError> {
        let f = feed.format();
        let publish = |error: RoomError| MediaError::Publish {
            track: "screen",
            error,
        };
        let track = room.new_screen(f.width, f.height).map_err(publish)?;
        let sid = room.publish_screen(&track).await.map_err(publish)?;
        // Its end (the window closed) is read from the feed by `ended`.
        let span = tracing::info_span!("screen share");
        let task = pump(feed.frames(), feed.status(), track.clone(), span, |_| {});
        Ok(Self {
            feed,
            track,
            sid: Some(sid),
            task,
        })
    }

    /// What is shared.
    pub(super) fn name(&self) -> String {
        self.feed.name().to_owned()
    }

    /// Why the share ended by itself (the window closed…), once it has.
    pub(super) fn ended(&self) -> Option<String> {
        if !self.task.is_finished() {
            return None;
        }
        Some(match self.feed.status().borrow().clone() {
            ScreenStatus::Failed(e) => e.to_string(),
            _ => "sharing stopped".into(),
        })
    }

    /// Stops publishing (the capture stops when the share is dropped).
    pub(super) async fn unpublish(&mut self, room: &R) {
        if let Some(sid) = self.sid.take()
            && let Err(e) = room.unpublish(&sid).await
        {
            tracing::warn!("unpublishing the shared screen failed: {e}");
        }
    }

    /// Publishes the share again in a rejoined room.
    pub(super) async fn republish(&mut self, room: &R) {
        match room.publish_screen(&self.track).await {
            Ok(sid) => self.sid = Some(sid),
            Err(e) => tracing::warn!("republishing the shared screen failed: {e}"),
        }
    }
}

/// Whether a call of `kind` in `room` may share a screen, or why not.
pub(super) fn offered<R: Room>(room: &R, kind: SessionType) -> Result<(), MediaError> {
    if kind != SessionType::Video {
        Err(MediaError::NotBooked)
    } else if !room.may_share_screen() {
        Err(MediaError::NotAllowed)
    } else {
        Ok(())
    }
}

/// Takes `step` in `slot`; each change is said under our identity `me`.
pub(super) async fn switch<R: Room>(
    slot: &mut Option<Share<R>>,
    room: &R,
    kind: SessionType,
    me: &str,
    out: &Out,
    step: ShareStep,
) -> Result<(), MediaError> {
    if let ShareStep::May = step {
        return offered(room, kind);
    }
    if let Some(mut old) = slot.take() {
        old.unpublish(room).await;
        out.emit(CallEvent::ScreenShare {
            identity: me.to_owned(),
            sharing: false,
            name: Some(old.name()),
        });
    }
    let ShareStep::Start(feed) = step else {
        return Ok(());
    };
    offered(room, kind)?;
    let share = Share::start(room, feed).await?;
    tracing::info!(what = %share.name(), "sharing a screen");
    out.emit(CallEvent::ScreenShare {
        identity: me.to_owned(),
        sharing: true,
        name: Some(share.name()),
    });
    *slot = Some(share);
    Ok(())
}

/// A share whose source ended by itself (its window closed, the display
/// went) is stopped and said; the call goes on.
pub(super) fn ended_by_itself<R: Room>(slot: &mut Option<Share<R>>, room: &R, me: &str, out: &Out) {
    let Some(why) = slot.as_ref().and_then(Share::ended) else {
        return;
    };
    tracing::info!(%why, "the shared screen ended by itself");
    if let Some(mut s) = slot.take() {
        let room = room.clone();
        tokio::spawn(async move { s.unpublish(&room).await });
    }
    out.emit(CallEvent::ScreenShare {
        identity: me.to_owned(),
        sharing: false,
        name: None,
    });
    out.emit(CallEvent::Warning(why));
}

/// Back in a room: say whether sharing is offered; publish our share
/// again, or stop it when the new token no longer allows it.
pub(super) async fn after_rejoin<R: Room>(
    slot: &mut Option<Share<R>>,
    room: &R,
    kind: SessionType,
    me: &str,
    out: &Out,
) {
    let offered = offered(room, kind);
    out.emit(CallEvent::ShareOffered(offered.clone().err()));
    match (slot.as_mut(), offered) {
        (Some(s), Ok(())) => s.republish(room).await,
        (Some(_), Err(why)) => {
            *slot = None;
            out.emit(CallEvent::ScreenShare {
                identity: me.to_owned(),
                sharing: false,
                name: None,
            });
            out.emit(CallEvent::Warning(format!("sharing stopped: {why}")));
        }
        (None, _) => {}
    }
}

/// Starts receiving `identity`'s shared screen.
pub(super) fn play_screen(
    identity: &str,
    track: &lk::Track,
    out: &Out,
    shared: &Shared,
) -> Option<tokio::task::JoinHandle<()>> {
    let mut stream = lk::VideoStream::new(track, lk::VideoStreamOptions::default()).ok()?;
    let (tx, rx) = tandem_media::frame::newest_frame_channel();
    if let Ok(mut s) = shared.screens.lock() {
        s.insert(identity.to_owned(), rx);
    }
    out.emit(CallEvent::ScreenShare {
        identity: identity.to_owned(),
        sharing: true,
        name: None,
    });
    let span = tracing::info_span!("remote screen", participant = %identity);
    Some(tokio::spawn(
        async move {
            while let Some(frame) = stream.next().await {
                if let Some(f) = to_frame(&frame) {
                    tx.send_replace(Some(Arc::new(f)));
                }
            }
        }
        .instrument(span),
    ))
}

/// `identity` stopped sharing (or left).
pub(super) fn screen_gone(identity: &str, out: &Out, shared: &Shared) {
    let had = shared
        .screens
        .lock()
        .map(|mut s| s.remove(identity).is_some())
        .unwrap_or(false);
    if had {
        out.emit(CallEvent::ScreenShare {
            identity: identity.to_owned(),
            sharing: false,
            name: None,
        });
    }
}
