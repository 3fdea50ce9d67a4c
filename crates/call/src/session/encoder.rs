//! Which encoder our camera's video goes through, as WebRTC reports it:
//! looked at now and then while the camera is published, and told when it
//! changes (the first picture; a hardware encoder that failed and was
//! replaced by the software one).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::handle::Out;
use super::types::CallEvent;
use crate::room::Room;

/// How often the statistics are read.
const EVERY: Duration = Duration::from_secs(3);

/// The encoder in use: its name and whether it is a hardware one.
pub(crate) type Encoder = (String, bool);

/// Looks at the room's statistics in a task of its own, so the call's
/// loop never waits on them.
#[derive(Default)]
pub(super) struct EncoderWatch {
    told: Option<Encoder>,
    seen: Arc<Mutex<Option<Encoder>>>,
    next: Option<Instant>,
    asking: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for EncoderWatch {
    fn drop(&mut self) {
        if let Some(t) = self.asking.take() {
            t.abort();
        }
    }
}

impl EncoderWatch {
    /// Tells what the last look found, if it changed, and looks again
    /// when it is time.
    pub(super) fn tick<R: Room>(&mut self, room: &R, out: &Out, now: Instant) {
        let seen = self.seen.lock().ok().and_then(|mut s| s.take());
        if let Some(seen) = seen
            && self.told.as_ref() != Some(&seen)
        {
            tracing::info!(encoder = %seen.0, hardware = seen.1, "video encoder");
            out.emit(CallEvent::VideoEncoder {
                name: seen.0.clone(),
                hardware: seen.1,
            });
            self.told = Some(seen);
        }
        if self.next.is_some_and(|t| now < t)
            || self.asking.as_ref().is_some_and(|t| !t.is_finished())
        {
            return;
        }
        self.next = Some(now + EVERY);
        let (room, seen) = (room.clone(), self.seen.clone());
        self.asking = Some(tokio::spawn(async move {
            if let Some(e) = room.video_encoder().await
                && let Ok(mut s) = seen.lock()
            {
                *s = Some(e);
            }
        }));
    }
}
