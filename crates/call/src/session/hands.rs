//! Raised hands. A raised hand is kept as our participant attribute
//! [`HAND_ATTRIBUTE`] (the time it went up, ms since the epoch; empty when
//! lowered), so anyone joining later sees it, and said on data topic
//! [`HAND_TOPIC`] as `{"raised":true,"at":<ms>}` / `{"raised":false}`,
//! which also works where the platform's token does not let us set
//! attributes (`canUpdateOwnMetadata`); there a raised hand is said again to
//! each newcomer. Others' hands are read from both and told once per change.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tandem_lk as lk;

use super::handle::Out;
use super::types::{CallError, CallEvent};
use crate::room::{Room, RoomError};

/// The participant attribute that holds a raised hand's time.
pub const HAND_ATTRIBUTE: &str = "tandem.hand";
/// The data topic hands are said on.
pub const HAND_TOPIC: &str = "tandem.hand";

const MAX_PAYLOAD: usize = 64;
/// A raise time further than this from ours is not believed (a peer's
/// broken clock, or a made-up value): their hand counts from now.
const PLAUSIBLE_MS: i64 = 24 * 3600 * 1000;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The packet that says our hand is up since `raised_at`, or down.
fn payload(raised_at: Option<i64>) -> Vec<u8> {
    match raised_at {
        Some(at) => format!(r#"{{"raised":true,"at":{at}}}"#),
        None => r#"{"raised":false}"#.to_owned(),
    }
    .into_bytes()
}

/// What a hand packet says: `Some(Some(at))` up, `Some(None)` down, `None`
/// not a hand packet.
fn parse(payload: &[u8]) -> Option<Option<i64>> {
    if payload.len() > MAX_PAYLOAD {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    match v.get("raised")?.as_bool()? {
        false => Some(None),
        true => Some(Some(plausible(v.get("at").and_then(|a| a.as_i64())))),
    }
}

/// What the attribute says: up since, or down (absent or empty).
fn from_attributes(attributes: &BTreeMap<String, String>) -> Option<i64> {
    let v = attributes.get(HAND_ATTRIBUTE)?;
    if v.is_empty() {
        return None;
    }
    Some(plausible(v.parse().ok()))
}

fn plausible(at: Option<i64>) -> i64 {
    let now = now_ms();
    match at {
        Some(at) if (now - at).abs() <= PLAUSIBLE_MS => at,
        _ => now,
    }
}

/// Our hand and what we last told of others'.
#[derive(Debug, Default)]
pub(super) struct Hands {
    mine: Option<i64>,
    others: HashMap<String, Option<i64>>,
}

impl Hands {
    /// Raises (`true`) or lowers our hand: set as our attribute where the
    /// token allows, and said on the topic; told as a `Hand` event once
    /// either worked.
    pub(super) async fn set<R: Room>(
        &mut self,
        room: &R,
        raise: bool,
        out: &Out,
    ) -> Result<(), CallError> {
        if raise == self.mine.is_some() {
            return Ok(());
        }
        let at = raise.then(now_ms);
        say(room, at).await?;
        self.mine = at;
        out.emit(CallEvent::Hand {
            identity: room.identity(),
            raised_at: at,
        });
        Ok(())
    }

    /// Lowers `identity`'s hand (ours: as [`Hands::set`]). Someone else's
    /// is lowered through the server's room API, which only the room's
    /// admin may use (a coach whose platform grants it); it comes back as
    /// their `Hand` event.
    pub(super) async fn lower<R: Room>(
        &mut self,
        room: &R,
        identity: &str,
        out: &Out,
    ) -> Result<(), CallError> {
        if identity == room.identity() {
            return self.set(room, false, out).await;
        }
        if !room.may_update_others() {
            return Err(CallError::Hand(RoomError(
                "only the session's host can lower someone else's hand".into(),
            )));
        }
        room.set_attributes_of(
            identity,
            BTreeMap::from([(HAND_ATTRIBUTE.to_owned(), String::new())]),
        )
        .await
        .map_err(CallError::Hand)
    }

    /// In a new room (after a rejoin our attributes are gone): our hand is
    /// set again, and the hands of those already there are told.
    pub(super) async fn joined<R: Room>(&mut self, room: &R, out: &Out) {
        if self.mine.is_some()
            && let Err(e) = say(room, self.mine).await
        {
            tracing::warn!("our raised hand could not be set again: {e}");
        }
        for (identity, _) in room.participants() {
            let at = from_attributes(&room.attributes_of(&identity));
            self.tell(identity, at, out);
        }
        out.emit(CallEvent::MayLowerHands(room.may_update_others()));
    }

    /// Reads what `ev` says of hands; true when it was a hand packet (and
    /// nothing else needs it).
    pub(super) fn on_event<R: Room>(&mut self, ev: &lk::RoomEvent, room: &R, out: &Out) -> bool {
        match ev {
            lk::RoomEvent::ParticipantConnected(p) => {
                self.tell(p.identity.clone(), from_attributes(&p.attributes), out);
                // Said again for them, where attributes may not carry it.
                if self.mine.is_some() {
                    let (room, packet) = (room.clone(), payload(self.mine));
                    tokio::spawn(async move {
                        if let Err(e) = room.send_data(HAND_TOPIC, packet).await {
                            tracing::debug!("our raised hand was not said to a newcomer: {e}");
                        }
                    });
                }
                false
            }
            lk::RoomEvent::ParticipantDisconnected { identity, .. } => {
                self.others.remove(identity);
                false
            }
            lk::RoomEvent::ParticipantAttributesChanged {
                identity,
                attributes,
                changed,
            } if changed.contains_key(HAND_ATTRIBUTE) => {
                let at = from_attributes(attributes);
                if *identity != room.identity() {
                    self.tell(identity.clone(), at, out);
                } else if at.is_none() && self.mine.is_some() {
                    // The host lowered our hand: it is down, and said so
                    // to those who read hands from the topic.
                    self.mine = None;
                    out.emit(CallEvent::Hand {
                        identity: identity.clone(),
                        raised_at: None,
                    });
                    let room = room.clone();
                    tokio::spawn(async move {
                        if let Err(e) = room.send_data(HAND_TOPIC, payload(None)).await {
                            tracing::debug!("our lowered hand was not said: {e}");
                        }
                    });
                }
                false
            }
            lk::RoomEvent::DataReceived {
                participant,
                topic,
                payload,
                ..
            } if topic.as_deref() == Some(HAND_TOPIC) => {
                if *participant != room.identity()
                    && let Some(at) = parse(payload)
                {
                    self.tell(participant.clone(), at, out);
                }
                true
            }
            _ => false,
        }
    }

    /// Tells `identity`'s hand when it changed (a hand said both ways is
    /// told once).
    fn tell(&mut self, identity: String, at: Option<i64>, out: &Out) {
        let before = self.others.get(&identity).copied().flatten();
        if before.is_some() == at.is_some() {
            self.others.insert(identity, before.or(at));
            return;
        }
        self.others.insert(identity.clone(), at);
        out.emit(CallEvent::Hand {
            identity,
            raised_at: at,
        });
    }
}

/// Sets our attribute and says it on the topic; fine when either worked.
async fn say<R: Room>(room: &R, at: Option<i64>) -> Result<(), CallError> {
    let value = at.map(|a| a.to_string()).unwrap_or_default();
    let attribute = tokio::time::timeout(
        Duration::from_secs(3),
        room.set_attributes(BTreeMap::from([(HAND_ATTRIBUTE.to_owned(), value)])),
    )
    .await
    .unwrap_or_else(|_| Err(RoomError("no answer within 3 s".into())));
    if let Err(e) = &attribute {
        tracing::info!("the hand is not kept as an attribute (the token may not allow it): {e}");
    }
    let said = tokio::time::timeout(
        Duration::from_secs(2),
        room.send_data(HAND_TOPIC, payload(at)),
    )
    .await
    .unwrap_or_else(|_| Err(RoomError("no answer within 2 s".into())));
    match (attribute, said) {
        (Ok(()), _) | (_, Ok(())) => Ok(()),
        (_, Err(e)) => Err(CallError::Hand(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_packets_and_attributes_are_read_strictly() {
        let now = now_ms();
        assert_eq!(parse(&payload(Some(now))), Some(Some(now)));
        assert_eq!(parse(&payload(None)), Some(None));
        // A time far off is not believed: the hand counts from now.
        let far = parse(br#"{"raised":true,"at":5}"#).unwrap().unwrap();
        assert!((far - now_ms()).abs() < 5_000);
        for bad in [&br#"{"raised":"yes"}"#[..], br#"{"hand":true}"#, b"up", b""] {
            assert_eq!(parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        let attr = |v: &str| BTreeMap::from([(HAND_ATTRIBUTE.to_owned(), v.to_owned())]);
        assert_eq!(from_attributes(&attr(&now.to_string())), Some(now));
        assert_eq!(from_attributes(&attr("")), None);
        assert_eq!(from_attributes(&BTreeMap::new()), None);
        assert!(from_attributes(&attr("soon")).is_some_and(|t| (t - now_ms()).abs() < 5_000));
    }
}
