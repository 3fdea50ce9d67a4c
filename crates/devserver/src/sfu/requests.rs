//! Signal requests from a participant: publishing, mute, metadata,
//! subscriptions and simulated scenarios.

use livekit_protocol as proto;
use proto::{signal_request, signal_response};

use super::{
    DownTrack, MAX_METADATA, MAX_NAME, Outbound, PendingTrack, Pid, Sfu, attributes_size,
    leave_request, merge_attributes,
};
use crate::ids;

impl Sfu {
    pub(super) fn signal(&mut self, pid: Pid, msg: signal_request::Message) {
        use signal_request::Message as M;
        match msg {
            M::Offer(sd) => self.publisher_offer(pid, sd),
            M::Answer(sd) => self.subscriber_answer(pid, sd),
            M::AddTrack(req) => self.add_track(pid, req),
            M::Mute(req) => self.mute(pid, &req.sid, req.muted),
            M::Subscription(req) => self.update_subscription(pid, req),
            M::Leave(_) => {
                self.remove(pid, proto::DisconnectReason::ClientInitiated, None);
            }
            M::Simulate(s) => self.simulate(pid, s),
            M::UpdateMetadata(req) => self.update_metadata(pid, req),
            // Trickle: the server is ICE-lite and learns the client's
            // address from its connectivity checks.
            // Pings are answered by the connection task.
            _ => {}
        }
    }

    pub(super) fn simulate(&mut self, pid: Pid, s: proto::SimulateScenario) {
        use proto::simulate_scenario::Scenario;
        match s.scenario {
            Some(Scenario::ServerLeave(_)) => {
                let leave = leave_request(
                    proto::DisconnectReason::ServerShutdown,
                    proto::leave_request::Action::Reconnect,
                );
                self.remove(pid, proto::DisconnectReason::ServerShutdown, Some(leave));
            }
            Some(Scenario::NodeFailure(_)) => {
                // The signal connection just drops, as when a node dies.
                if let Some(p) = self.parts.get(&pid) {
                    let _ = p.out.try_send(Outbound::Close);
                }
            }
            other => tracing::debug!("simulate scenario ignored: {other:?}"),
        }
    }

    #[allow(deprecated)]
    pub(super) fn add_track(&mut self, pid: Pid, req: proto::AddTrackRequest) {
        let Some(p) = self.parts.get_mut(&pid) else {
            return;
        };
        let source = req.source;
        let allowed = p.permission.can_publish
            && (p.permission.can_publish_sources.is_empty()
                || p.permission.can_publish_sources.contains(&source));
        if !allowed {
            p.log_once(
                "publish-denied",
                "AddTrack refused: the token does not grant publishing this source",
            );
            p.send(signal_response::Message::RequestResponse(
                proto::RequestResponse {
                    reason: proto::request_response::Reason::NotAllowed as i32,
                    message: "token does not allow publishing this track".to_owned(),
                    ..Default::default()
                },
            ));
            return;
        }
        if req.cid.is_empty() || req.cid.len() > 256 {
            p.log_once("bad-cid", "AddTrack without a usable cid ignored");
            return;
        }
        // A repeated request (the client retried) gets the same answer.
        if let Some(t) = p.pending_tracks.iter().find(|t| t.cid == req.cid) {
            let track = t.info.clone();
            p.send(signal_response::Message::TrackPublished(
                proto::TrackPublishedResponse {
                    cid: req.cid,
                    track: Some(track),
                },
            ));
            return;
        }
        let is_video = req.r#type == proto::TrackType::Video as i32;
        if !is_video && req.r#type != proto::TrackType::Audio as i32 {
            p.log_once(
                "bad-track-type",
                "AddTrack with a track type other than audio or video ignored",
            );
            return;
        }
        // End-to-end encrypted media is forwarded untouched; saying so in the
        // track's description is what makes every client encrypt (or
        // decrypt) it. An unknown scheme is refused rather than passed on.
        if proto::encryption::Type::try_from(req.encryption).is_err() {
            p.log_once(
                "bad-encryption",
                "AddTrack with an unknown encryption scheme ignored",
            );
            return;
        }
        let info = proto::TrackInfo {
            sid: ids::track_sid(),
            encryption: req.encryption,
            r#type: req.r#type,
            name: req.name.chars().take(256).collect(),
            muted: req.muted,
            width: req.width,
            height: req.height,
            simulcast: req.layers.len() > 1,
            disable_dtx: req.disable_dtx,
            source,
            layers: req.layers.clone(),
            // VP8 until its media section shows otherwise (the SDKs do not
            // say the codec here).
            mime_type: if is_video { "video/VP8" } else { "audio/opus" }.to_owned(),
            stereo: req.stereo,
            disable_red: true,
            stream: req.stream.clone(),
            ..Default::default()
        };
        p.pending_tracks.push(PendingTrack {
            cid: req.cid.clone(),
            info: info.clone(),
        });
        p.send(signal_response::Message::TrackPublished(
            proto::TrackPublishedResponse {
                cid: req.cid,
                track: Some(info),
            },
        ));
    }

    pub(super) fn mute(&mut self, pid: Pid, sid: &str, muted: bool) {
        let Some(p) = self.parts.get_mut(&pid) else {
            return;
        };
        let changed = if let Some(t) = p.tracks.iter_mut().find(|t| t.info.sid == sid) {
            let changed = t.info.muted != muted;
            t.info.muted = muted;
            changed
        } else if let Some(t) = p.pending_tracks.iter_mut().find(|t| t.info.sid == sid) {
            t.info.muted = muted;
            false
        } else {
            p.log_once("mute-unknown", "mute for an unknown track ignored");
            false
        };
        if changed {
            self.announce(pid);
        }
    }

    pub(super) fn update_metadata(&mut self, pid: Pid, req: proto::UpdateParticipantMetadata) {
        let Some(p) = self.parts.get_mut(&pid) else {
            return;
        };
        let reply = |reason: proto::request_response::Reason, message: &str| {
            signal_response::Message::RequestResponse(proto::RequestResponse {
                request_id: req.request_id,
                reason: reason as i32,
                message: message.to_owned(),
                ..Default::default()
            })
        };
        if !p.permission.can_update_metadata {
            p.send(reply(
                proto::request_response::Reason::NotAllowed,
                "token does not allow updating own metadata",
            ));
            return;
        }
        if req.metadata.len() > MAX_METADATA
            || req.name.len() > MAX_NAME
            || attributes_size(&req.attributes) > MAX_METADATA
        {
            p.send(reply(
                proto::request_response::Reason::LimitExceeded,
                "metadata too large",
            ));
            return;
        }
        if !req.name.is_empty() {
            p.name = req.name.clone();
        }
        if !req.metadata.is_empty() {
            p.metadata = req.metadata.clone();
        }
        merge_attributes(&mut p.attributes, &req.attributes);
        // The update first, then the answer: a client that sends its next
        // change on the answer (LiveKit's SDKs resend their current name and
        // metadata with each) must already know the new values.
        self.announce(pid);
        if let Some(p) = self.parts.get_mut(&pid) {
            p.send(reply(proto::request_response::Reason::Ok, ""));
        }
    }

    pub(super) fn update_subscription(&mut self, pid: Pid, req: proto::UpdateSubscription) {
        let mut sids: Vec<String> = req.track_sids.clone();
        for pt in &req.participant_tracks {
            sids.extend(pt.track_sids.iter().cloned());
        }
        let Some(room) = self.parts.get(&pid).map(|p| p.room.clone()) else {
            return;
        };
        let members = self.members(&room);
        let mut found = Vec::new();
        for m in members.iter().filter(|m| **m != pid) {
            if let Some(o) = self.parts.get(m) {
                for t in o.tracks.iter().filter(|t| sids.contains(&t.info.sid)) {
                    found.push((*m, o.sid.clone(), t.info.sid.clone(), t.kind));
                }
            }
        }
        let Some(p) = self.parts.get_mut(&pid) else {
            return;
        };
        if req.subscribe && !p.permission.can_subscribe {
            p.log_once(
                "subscribe-denied",
                "subscription refused: the token does not grant subscribing",
            );
            return;
        }
        for (publisher, publisher_sid, track_sid, kind) in found {
            let existing = p.downtracks.iter_mut().find(|d| d.track_sid == track_sid);
            match (req.subscribe, existing) {
                (true, None) => {
                    p.downtracks
                        .push(DownTrack::new(publisher, &publisher_sid, &track_sid, kind))
                }
                (false, Some(dt)) => dt.stop(),
                _ => {}
            }
        }
        p.downtracks.retain(|d| !d.removable());
        p.sub_needs_offer |= p.downtracks.iter().any(DownTrack::needs_offer);
    }
}
