//! Who is speaking and how well each participant is connected, announced
//! to their rooms when it changes.

use std::time::{Duration, Instant};

use livekit_protocol as proto;
use proto::signal_response;
use str0m::media::MediaKind;

use super::Sfu;

/// Audio above this level (linear, about −40 dBov) counts as speaking.
const SPEAKING_LEVEL: f32 = 0.01;
/// How often connection quality is rated.
pub(super) const QUALITY_EVERY: Duration = Duration::from_secs(2);
/// A publisher with no media for this long has lost its connection.
const SILENT_FOR: Duration = Duration::from_secs(5);

/// A rating from the loss of a participant's published media, LiveKit's
/// way round: a few percent is still excellent, over ten is poor.
pub(super) fn rate(
    publishes: bool,
    media_age: Option<Duration>,
    loss: f32,
) -> proto::ConnectionQuality {
    use proto::ConnectionQuality as Q;
    if publishes && media_age.is_none_or(|a| a > SILENT_FOR) {
        Q::Lost
    } else if loss <= 0.02 {
        Q::Excellent
    } else if loss <= 0.10 {
        Q::Good
    } else {
        Q::Poor
    }
}

impl Sfu {
    /// Tells each room who is speaking when that changes: participants whose
    /// unmuted audio was above −40 dBov within the last second, loudest first.
    pub(super) fn announce_speakers(&mut self, now: Instant) {
        let names: Vec<String> = self.rooms.keys().cloned().collect();
        for name in names {
            let mut speaking: Vec<(String, f32)> = self
                .members(&name)
                .iter()
                .filter_map(|pid| self.parts.get(pid))
                .filter_map(|p| {
                    let level = p
                        .tracks
                        .iter()
                        .filter(|t| t.kind == MediaKind::Audio && !t.info.muted)
                        .filter(|t| t.heard_at.is_some_and(|h| now - h < Duration::from_secs(1)))
                        .map(|t| t.level)
                        .fold(0.0f32, f32::max);
                    (level > SPEAKING_LEVEL).then(|| (p.sid.clone(), level))
                })
                .collect();
            speaking.sort_by(|a, b| b.1.total_cmp(&a.1));
            let Some(room) = self.rooms.get_mut(&name) else {
                continue;
            };
            let mut now_sids: Vec<String> = speaking.iter().map(|(s, _)| s.clone()).collect();
            now_sids.sort();
            if now_sids == room.speakers {
                continue;
            }
            let stopped: Vec<String> = room
                .speakers
                .iter()
                .filter(|s| !now_sids.contains(s))
                .cloned()
                .collect();
            room.speakers = now_sids;
            let mut speakers: Vec<proto::SpeakerInfo> = speaking
                .into_iter()
                .map(|(sid, level)| proto::SpeakerInfo {
                    sid,
                    level,
                    active: true,
                })
                .collect();
            speakers.extend(stopped.into_iter().map(|sid| proto::SpeakerInfo {
                sid,
                level: 0.0,
                active: false,
            }));
            for pid in self.members(&name) {
                if let Some(p) = self.parts.get_mut(&pid) {
                    p.send(signal_response::Message::SpeakersChanged(
                        proto::SpeakersChanged {
                            speakers: speakers.clone(),
                        },
                    ));
                }
            }
        }
    }

    /// Rates every participant and tells its room when a rating changed.
    pub(super) fn announce_quality(&mut self, now: Instant) {
        let mut changed: Vec<(String, proto::ConnectionQualityInfo)> = Vec::new();
        for p in self.parts.values_mut() {
            let quality = rate(!p.tracks.is_empty(), p.media_at.map(|t| now - t), p.loss);
            p.loss = 0.0;
            if p.quality != Some(quality) {
                p.quality = Some(quality);
                let score = match quality {
                    proto::ConnectionQuality::Excellent => 5.0,
                    proto::ConnectionQuality::Good => 3.5,
                    proto::ConnectionQuality::Poor => 2.0,
                    proto::ConnectionQuality::Lost => 0.0,
                };
                changed.push((
                    p.room.clone(),
                    proto::ConnectionQualityInfo {
                        participant_sid: p.sid.clone(),
                        quality: quality as i32,
                        score,
                    },
                ));
            }
        }
        let rooms: Vec<String> = self.rooms.keys().cloned().collect();
        for room in rooms {
            let updates: Vec<proto::ConnectionQualityInfo> = changed
                .iter()
                .filter(|(r, _)| *r == room)
                .map(|(_, i)| i.clone())
                .collect();
            if updates.is_empty() {
                continue;
            }
            for pid in self.members(&room) {
                if let Some(p) = self.parts.get_mut(&pid) {
                    p.send(signal_response::Message::ConnectionQuality(
                        proto::ConnectionQualityUpdate {
                            updates: updates.clone(),
                        },
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::ConnectionQuality as Q;

    #[test]
    fn ratings_follow_loss_and_silence() {
        let fresh = Some(Duration::from_millis(100));
        assert_eq!(rate(true, fresh, 0.0), Q::Excellent);
        assert_eq!(rate(true, fresh, 0.05), Q::Good);
        assert_eq!(rate(true, fresh, 0.3), Q::Poor);
        assert_eq!(rate(true, Some(Duration::from_secs(6)), 0.0), Q::Lost);
        assert_eq!(rate(true, None, 0.0), Q::Lost);
        // Publishing nothing is not a lost connection.
        assert_eq!(rate(false, None, 0.0), Q::Excellent);
    }
}
