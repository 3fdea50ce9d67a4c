//! Reactions (👍 👏 ❤️ 😂 🎉, drawn as icons by the app) sent to everyone in
//! a call on data topic [`REACTION_TOPIC`] as `{"reaction":"clap"}`, so any
//! LiveKit client can send and read them. What arrives is checked strictly
//! and held to a rate, so nobody can flood the others' screens.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use tandem_lk as lk;

use super::handle::Out;
use super::types::{CallError, CallEvent, Reaction};
use crate::room::{Room, RoomError};

/// The data topic reactions travel on.
pub const REACTION_TOPIC: &str = "tandem.reaction";

/// The longest reaction packet read.
const MAX_PAYLOAD: usize = 64;
/// Reactions shown per sender within [`WINDOW`]; more are dropped.
const PER_WINDOW: usize = 5;
const WINDOW: Duration = Duration::from_secs(5);

impl Reaction {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Reaction::ThumbsUp => "thumbs_up",
            Reaction::Clap => "clap",
            Reaction::Heart => "heart",
            Reaction::Laugh => "laugh",
            Reaction::Party => "party",
        }
    }

    /// The reaction named `s` on the wire.
    pub fn from_name(s: &str) -> Option<Reaction> {
        Some(match s {
            "thumbs_up" => Reaction::ThumbsUp,
            "clap" => Reaction::Clap,
            "heart" => Reaction::Heart,
            "laugh" => Reaction::Laugh,
            "party" => Reaction::Party,
            _ => return None,
        })
    }

    pub const ALL: [Reaction; 5] = [
        Reaction::ThumbsUp,
        Reaction::Clap,
        Reaction::Heart,
        Reaction::Laugh,
        Reaction::Party,
    ];
}

/// The packet that sends `r`.
pub(super) fn payload(r: Reaction) -> Vec<u8> {
    format!(r#"{{"reaction":"{}"}}"#, r.as_str()).into_bytes()
}

/// Sends `r` to everyone in `room` (waiting at most two seconds), then
/// tells it as ours.
pub(super) async fn react<R: Room>(room: &R, r: Reaction, out: &Out) -> Result<(), CallError> {
    let sent = tokio::time::timeout(
        Duration::from_secs(2),
        room.send_data(REACTION_TOPIC, payload(r)),
    )
    .await
    .unwrap_or_else(|_| {
        Err(RoomError(
            "the call server did not take it within 2 s".into(),
        ))
    });
    sent.map_err(CallError::Reaction)?;
    out.emit(CallEvent::Reaction {
        identity: room.identity(),
        reaction: r,
    });
    Ok(())
}

/// The reaction a packet carries; `None` for anything else.
pub(super) fn parse(payload: &[u8]) -> Option<Reaction> {
    if payload.len() > MAX_PAYLOAD {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    Reaction::from_name(v.get("reaction")?.as_str()?)
}

/// Holds each sender to [`PER_WINDOW`] reactions within [`WINDOW`].
#[derive(Debug, Default)]
pub(super) struct Limiter {
    recent: HashMap<String, VecDeque<Instant>>,
}

impl Limiter {
    /// Tells a reaction packet from someone else (held to the rate); true
    /// when `ev` was one.
    pub(super) fn on_event(
        &mut self,
        ev: &lk::RoomEvent,
        me: &str,
        now: Instant,
        out: &Out,
    ) -> bool {
        let lk::RoomEvent::DataReceived {
            participant,
            topic,
            payload,
            ..
        } = ev
        else {
            return false;
        };
        if topic.as_deref() != Some(REACTION_TOPIC) {
            return false;
        }
        if participant != me
            && let Some(reaction) = parse(payload)
            && self.allow(participant, now)
        {
            out.emit(CallEvent::Reaction {
                identity: participant.clone(),
                reaction,
            });
        }
        true
    }

    /// Whether a reaction from `sender` at `now` is shown.
    pub(super) fn allow(&mut self, sender: &str, now: Instant) -> bool {
        // Bounded: senders with nothing recent are forgotten.
        self.recent
            .retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        let q = self.recent.entry(sender.to_owned()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        if q.len() >= PER_WINDOW {
            return false;
        }
        q.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_are_read_strictly() {
        for r in Reaction::ALL {
            assert_eq!(parse(&payload(r)), Some(r));
        }
        assert_eq!(
            parse(br#"{"reaction":"clap","extra":1}"#),
            Some(Reaction::Clap)
        );
        for bad in [
            &br#"{"reaction":"poop"}"#[..],
            br#"{"reaction":3}"#,
            br#"{"emoji":"clap"}"#,
            b"clap",
            b"",
            br#"{"reaction":"clap","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#,
        ] {
            assert_eq!(parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_sender_flooding_reactions_is_held_to_five_in_five_seconds() {
        let t0 = Instant::now();
        let mut l = Limiter::default();
        let shown = (0..20)
            .filter(|i| l.allow("ann", t0 + Duration::from_millis(i * 100)))
            .count();
        assert_eq!(shown, 5);
        // Others are not held back by her.
        assert!(l.allow("bob", t0 + Duration::from_secs(1)));
        // Five seconds after her first, she may react again.
        assert!(l.allow("ann", t0 + Duration::from_secs(5)));
        assert!(!l.allow("ann", t0 + Duration::from_millis(5_050)));
    }
}
