//! Peer connections: UDP in and out, offer/answer, RTP forwarding (data
//! packets: `data.rs`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use livekit_protocol as proto;
use proto::signal_response;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::channel::{ChannelConfig, Reliability};
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid, Rid};
use str0m::net::{Protocol, Receive};
use str0m::{Event, Input, Output};

use super::{DataKind, DownTrack, DtState, PcRole, Pid, PubTrack, Sfu, SubChannels};

/// How long a simulcast layer counts as active after its last frame.
const LAYER_TIMEOUT: Duration = Duration::from_millis(1500);
/// Minimum gap between keyframe requests to one publisher track.
const PLI_INTERVAL: Duration = Duration::from_millis(250);

impl Sfu {
    /// The earliest moment some peer connection needs a timeout tick.
    pub(super) fn next_timeout(&self) -> Instant {
        let cap = Instant::now() + Duration::from_millis(100);
        self.parts
            .values()
            .flat_map(|p| [p.publisher.next_timeout, p.subscriber.next_timeout])
            .fold(cap, Instant::min)
    }

    pub(super) fn timeouts(&mut self) {
        let now = Instant::now();
        for (pid, p) in &mut self.parts {
            for role in [PcRole::Publisher, PcRole::Subscriber] {
                let pc = p.pc(role);
                if pc.next_timeout <= now && !pc.failed {
                    if let Err(e) = pc.rtc.handle_input(Input::Timeout(now)) {
                        tracing::warn!("peer connection failed on timeout: {e}");
                        pc.failed = true;
                    }
                    if !self.dirty.contains(&(*pid, role)) {
                        self.dirty.push((*pid, role));
                    }
                }
            }
        }
    }

    pub(super) fn udp_in(&mut self, buf: &[u8], src: SocketAddr) {
        let Ok(recv) = Receive::new(Protocol::Udp, src, self.media_addr, buf) else {
            return;
        };
        self.traffic.datagrams_in += 1;
        let input = Input::Receive(Instant::now(), recv);
        let cached = self.addr_cache.get(&src).copied().filter(|(pid, role)| {
            self.parts
                .get_mut(pid)
                .is_some_and(|p| p.pc(*role).rtc.accepts(&input))
        });
        let target = cached.or_else(|| {
            self.parts.iter_mut().find_map(|(pid, p)| {
                [PcRole::Publisher, PcRole::Subscriber]
                    .into_iter()
                    .find(|r| p.pc(*r).rtc.accepts(&input))
                    .map(|r| (*pid, r))
            })
        });
        let Some((pid, role)) = target else {
            tracing::trace!("no peer connection takes a datagram from {src}");
            return;
        };
        self.addr_cache.insert(src, (pid, role));
        if let Some(p) = self.parts.get_mut(&pid) {
            let pc = p.pc(role);
            if let Err(e) = pc.rtc.handle_input(input) {
                tracing::debug!("peer connection rejected a datagram: {e}");
            }
        }
        if !self.dirty.contains(&(pid, role)) {
            self.dirty.push((pid, role));
        }
    }

    /// Polls every touched peer connection until it is idle, handling what
    /// it emits; then sends offers where something changed.
    pub(super) fn drive(&mut self) {
        loop {
            while let Some((pid, role)) = self.dirty.pop() {
                self.poll(pid, role);
            }
            let Some((pid, role, ev)) = self.events.pop_front() else {
                break;
            };
            self.event(pid, role, ev);
        }
        let pids: Vec<Pid> = self
            .parts
            .iter()
            .filter(|(_, p)| {
                (p.sub_needs_offer && p.sub_pending.is_none()) || !p.backlog.is_empty()
            })
            .map(|(pid, _)| *pid)
            .collect();
        for pid in pids {
            self.negotiate(pid);
            self.flush_backlog(pid);
        }
        if !self.dirty.is_empty() {
            while let Some((pid, role)) = self.dirty.pop() {
                self.poll(pid, role);
            }
            while let Some((pid, role, ev)) = self.events.pop_front() {
                self.event(pid, role, ev);
            }
        }
    }

    fn poll(&mut self, pid: Pid, role: PcRole) {
        let Some(p) = self.parts.get_mut(&pid) else {
            return;
        };
        let identity = &p.identity;
        let pc = match role {
            PcRole::Publisher => &mut p.publisher,
            PcRole::Subscriber => &mut p.subscriber,
        };
        if pc.failed {
            return;
        }
        loop {
            match pc.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    // A full socket buffer drops the datagram, as the network would.
                    if self.socket.try_send_to(&t.contents, t.destination).is_ok() {
                        self.traffic.datagrams_out += 1;
                        self.traffic.bytes_out += t.contents.len() as u64;
                    }
                }
                Ok(Output::Timeout(t)) => {
                    pc.next_timeout = t;
                    break;
                }
                Ok(Output::Event(ev)) => self.events.push_back((pid, role, ev)),
                Err(e) => {
                    tracing::warn!(participant = %identity, "peer connection failed: {e}");
                    pc.failed = true;
                    break;
                }
            }
        }
    }

    fn event(&mut self, pid: Pid, role: PcRole, ev: Event) {
        match (role, ev) {
            // Clients may offer spare receive-only transceivers on this
            // connection; only sections the client sends on are tracks.
            (PcRole::Publisher, Event::MediaAdded(m)) if m.direction.is_receiving() => {
                self.bind_track(pid, m.mid, m.kind)
            }
            (PcRole::Publisher, Event::MediaChanged(m)) if !m.direction.is_receiving() => {
                self.unpublish_mid(pid, m.mid);
            }
            // A section that starts sending later: a transceiver offered
            // receive-only, or one reused after an unpublish (WebRTC reuses
            // them), is a new track now.
            (PcRole::Publisher, Event::MediaChanged(m)) => {
                let kind = self
                    .parts
                    .get_mut(&pid)
                    .and_then(|p| p.publisher.rtc.media(m.mid).map(|x| x.kind()));
                if let Some(kind) = kind {
                    self.bind_track(pid, m.mid, kind);
                }
            }
            (PcRole::Publisher, Event::MediaData(data)) => self.forward(pid, data),
            (PcRole::Publisher, Event::MediaIngressStats(stats)) => {
                if let Some(p) = self.parts.get_mut(&pid) {
                    p.loss = p.loss.max(stats.loss.unwrap_or(0.0));
                }
            }
            (PcRole::Publisher, Event::ChannelOpen(id, label)) => {
                if let (Some(p), Some(kind)) =
                    (self.parts.get_mut(&pid), DataKind::from_label(&label))
                {
                    p.pub_channels.insert(id, kind);
                }
            }
            (PcRole::Publisher, Event::ChannelData(d)) => {
                let kind = self
                    .parts
                    .get(&pid)
                    .and_then(|p| p.pub_channels.get(&d.id).copied());
                if let Some(kind) = kind {
                    self.relay_data(pid, kind, &d.data);
                }
            }
            (PcRole::Subscriber, Event::KeyframeRequest(req)) => {
                let target = self.parts.get(&pid).and_then(|p| {
                    p.downtracks
                        .iter()
                        .find(|d| d.state == DtState::Open(req.mid))
                        .map(|d| (d.publisher, d.track_sid.clone(), d.rid))
                });
                if let Some((publisher, sid, rid)) = target {
                    self.request_keyframe(publisher, &sid, rid);
                }
            }
            (PcRole::Subscriber, Event::ChannelOpen(..)) => self.flush_backlog(pid),
            (_, Event::IceConnectionStateChange(state)) => {
                if let Some(p) = self.parts.get(&pid) {
                    tracing::debug!(participant = %p.identity, ?role, ?state, "ice state");
                }
            }
            _ => {}
        }
    }

    /// A publisher's new media section: match it to an announced track and offer it to the room.
    fn bind_track(&mut self, pid: Pid, mid: Mid, kind: MediaKind) {
        let Some(p) = self.parts.get_mut(&pid) else {
            return;
        };
        if p.tracks.iter().any(|t| t.mid == mid) {
            return;
        }
        let track_id = p
            .publisher
            .rtc
            .media(mid)
            .map(|m| m.track_id().to_owned())
            .unwrap_or_default();
        let want_type = if kind == MediaKind::Video {
            proto::TrackType::Video
        } else {
            proto::TrackType::Audio
        } as i32;
        let idx = p
            .pending_tracks
            .iter()
            .position(|t| t.cid == track_id)
            .or_else(|| {
                p.pending_tracks
                    .iter()
                    .position(|t| t.info.r#type == want_type)
            });
        let Some(idx) = idx else {
            p.log_once(
                "unannounced-media",
                "media section without AddTrackRequest ignored",
            );
            return;
        };
        let pending = p.pending_tracks.remove(idx);
        let mut info = pending.info;
        info.mid = mid.to_string();
        if kind == MediaKind::Video && sends_h264(&p.publisher.rtc, mid) {
            info.mime_type = "video/H264".into();
        }
        let sid = info.sid.clone();
        tracing::info!(participant = %p.identity, track = %sid, ?kind, "track published");
        p.tracks.push(PubTrack {
            info: info.clone(),
            mid,
            kind,
            rids_seen: Vec::new(),
            last_pli: None,
            level: 0.0,
            heard_at: None,
            received: 0,
        });
        let publisher_sid = p.sid.clone();
        let room = p.room.clone();
        let pinfo = p.info(proto::participant_info::State::Active);
        self.announce(pid);
        for m in self.members(&room) {
            if m == pid {
                continue;
            }
            if let Some(o) = self.parts.get_mut(&m)
                && o.auto_subscribe
                && o.permission.can_subscribe
            {
                o.downtracks
                    .push(DownTrack::new(pid, &publisher_sid, &sid, kind));
                o.sub_needs_offer = true;
            }
        }
        let room_proto = self.room_proto(&room);
        self.webhooks
            .participant_event("track_published", room_proto, pinfo, Some(info));
    }

    fn unpublish_mid(&mut self, pid: Pid, mid: Mid) {
        let Some(p) = self.parts.get_mut(&pid) else {
            return;
        };
        let Some(idx) = p.tracks.iter().position(|t| t.mid == mid) else {
            return;
        };
        let track = p.tracks.remove(idx);
        tracing::info!(participant = %p.identity, track = %track.info.sid, "track unpublished");
        let room = p.room.clone();
        let pinfo = p.info(proto::participant_info::State::Active);
        self.announce(pid);
        for m in self.members(&room) {
            if let Some(o) = self.parts.get_mut(&m) {
                for dt in o
                    .downtracks
                    .iter_mut()
                    .filter(|d| d.track_sid == track.info.sid)
                {
                    dt.stop();
                }
                o.downtracks.retain(|d| !d.removable());
                o.sub_needs_offer |= o.downtracks.iter().any(DownTrack::needs_offer);
            }
        }
        let room_proto = self.room_proto(&room);
        self.webhooks
            .participant_event("track_unpublished", room_proto, pinfo, Some(track.info));
    }

    /// Sends one publisher frame to every subscriber of the track.
    fn forward(&mut self, from: Pid, data: MediaData) {
        let now = Instant::now();
        let Some(p) = self.parts.get_mut(&from) else {
            return;
        };
        p.media_at = Some(now);
        let Some(track) = p.tracks.iter_mut().find(|t| t.mid == data.mid) else {
            tracing::trace!(mid = %data.mid, "media for an unbound mid");
            return;
        };
        tracing::trace!(track = %track.info.sid, rid = ?data.rid, keyframe = data.is_keyframe(), "media in");
        track.received += 1;
        if let Some(rid) = data.rid {
            match track.rids_seen.iter_mut().find(|(r, _)| *r == rid) {
                Some(seen) => seen.1 = now,
                None => track.rids_seen.push((rid, now)),
            }
        }
        if let Some(dbov) = data.ext_vals.audio_level {
            // 0 is loudest, −127 silence; rise at once, fall smoothly.
            let linear = 10f32.powf(f32::from(dbov.min(0)) / 20.0);
            track.level = if linear > track.level {
                linear
            } else {
                track.level * 0.9 + linear * 0.1
            };
            track.heard_at = Some(now);
        }
        let best = track.best_rid(now);
        let sid = track.info.sid.clone();
        let video = track.kind == MediaKind::Video;
        let keyframe = data.is_keyframe();
        let room = p.room.clone();
        let mut want_keyframe: Option<Option<Rid>> = None;
        if video && !data.contiguous {
            want_keyframe = Some(data.rid);
        }
        for m in self.members(&room) {
            if m == from {
                continue;
            }
            let Some(sub) = self.parts.get_mut(&m) else {
                continue;
            };
            let Some(dt) = sub
                .downtracks
                .iter_mut()
                .find(|d| d.publisher == from && d.track_sid == sid)
            else {
                continue;
            };
            let DtState::Open(mid_out) = dt.state else {
                continue;
            };
            if video {
                if data.rid.is_some() {
                    // One layer per subscriber: the best one being sent,
                    // switched at a keyframe of the new layer.
                    if dt.rid != best && dt.target_rid != best {
                        dt.target_rid = best;
                        want_keyframe = Some(best);
                    }
                    if data.rid == dt.target_rid && keyframe {
                        dt.rid = dt.target_rid.take();
                        dt.awaiting_keyframe = false;
                    }
                    if data.rid != dt.rid {
                        continue;
                    }
                }
                if dt.awaiting_keyframe {
                    if !keyframe {
                        want_keyframe = Some(dt.rid);
                        continue;
                    }
                    dt.awaiting_keyframe = false;
                }
            }
            let Some(writer) = sub.subscriber.rtc.writer(mid_out) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                sub.log_once(
                    "codec-mismatch",
                    "subscriber has no matching codec; track not forwarded",
                );
                continue;
            };
            tracing::trace!(to = %sub.identity, track = %sid, "forward");
            match writer.write(pt, data.network_time, data.time, data.data.clone()) {
                Ok(()) => {
                    self.traffic.frames_forwarded += 1;
                    dt.forwarded += 1;
                }
                Err(e) => {
                    dt.refused += 1;
                    tracing::debug!("forward to {} failed: {e}", sub.identity);
                }
            }
            if !self.dirty.contains(&(m, PcRole::Subscriber)) {
                self.dirty.push((m, PcRole::Subscriber));
            }
        }
        if let Some(rid) = want_keyframe {
            self.request_keyframe(from, &sid, rid);
        }
    }

    pub(super) fn request_keyframe(&mut self, publisher: Pid, track_sid: &str, rid: Option<Rid>) {
        let Some(p) = self.parts.get_mut(&publisher) else {
            return;
        };
        let Some(track) = p.tracks.iter_mut().find(|t| t.info.sid == track_sid) else {
            return;
        };
        if track.kind != MediaKind::Video
            || track.last_pli.is_some_and(|t| t.elapsed() < PLI_INTERVAL)
        {
            return;
        }
        let rid = rid.or_else(|| track.best_rid(Instant::now()));
        track.last_pli = Some(Instant::now());
        let mid = track.mid;
        if let Some(mut w) = p.publisher.rtc.writer(mid)
            && let Err(e) = w.request_keyframe(rid, KeyframeRequestKind::Pli)
        {
            tracing::debug!("keyframe request failed: {e}");
        }
        if !self.dirty.contains(&(publisher, PcRole::Publisher)) {
            self.dirty.push((publisher, PcRole::Publisher));
        }
    }

    /// A client offer on its publisher connection: answer it, echoing its id.
    pub(super) fn publisher_offer(&mut self, pid: Pid, sd: proto::SessionDescription) {
        let Some(p) = self.parts.get_mut(&pid) else {
            return;
        };
        let offer = match SdpOffer::from_sdp_string(&sd.sdp) {
            Ok(o) => o,
            Err(e) => {
                p.log_once(
                    "bad-offer",
                    &format!("unparsable publisher offer ignored: {e}"),
                );
                return;
            }
        };
        match p.publisher.rtc.sdp_api().accept_offer(offer) {
            Ok(answer) => {
                tracing::debug!(participant = %p.identity, id = sd.id, "publisher offer accepted");
                p.send(signal_response::Message::Answer(
                    proto::SessionDescription {
                        r#type: "answer".to_owned(),
                        sdp: answer.to_sdp_string(),
                        id: sd.id,
                        ..Default::default()
                    },
                ));
            }
            Err(e) => {
                p.log_once(
                    "offer-refused",
                    &format!("publisher offer not accepted: {e}"),
                );
                return;
            }
        }
        if !self.dirty.contains(&(pid, PcRole::Publisher)) {
            self.dirty.push((pid, PcRole::Publisher));
        }
    }

    /// The client's answer to our subscriber offer.
    pub(super) fn subscriber_answer(&mut self, pid: Pid, sd: proto::SessionDescription) {
        let Some(p) = self.parts.get_mut(&pid) else {
            return;
        };
        let Some((pending, id)) = p.sub_pending.take() else {
            p.log_once(
                "stray-answer",
                "answer without an outstanding offer ignored",
            );
            return;
        };
        if sd.id != 0 && sd.id != id {
            p.sub_pending = Some((pending, id));
            p.log_once("stale-answer", "answer for an older offer ignored");
            return;
        }
        let answer = match SdpAnswer::from_sdp_string(&sd.sdp) {
            Ok(a) => a,
            Err(e) => {
                p.log_once("bad-answer", &format!("unparsable answer: {e}"));
                p.subscriber.failed = true;
                return;
            }
        };
        if let Err(e) = p.subscriber.rtc.sdp_api().accept_answer(pending, answer) {
            p.log_once("answer-refused", &format!("answer not accepted: {e}"));
            p.subscriber.failed = true;
            return;
        }
        tracing::debug!(participant = %p.identity, id, "subscriber answer accepted");
        let mut opened = Vec::new();
        for dt in &mut p.downtracks {
            match dt.state {
                DtState::Negotiating(m) if dt.stop_when_open => {
                    dt.state = DtState::ToStop(m);
                }
                DtState::Negotiating(m) => {
                    dt.state = DtState::Open(m);
                    if dt.kind == MediaKind::Video {
                        opened.push((dt.publisher, dt.track_sid.clone()));
                    }
                }
                _ => {}
            }
        }
        p.downtracks
            .retain(|d| !matches!(d.state, DtState::Stopping(_)));
        p.sub_needs_offer |= p.downtracks.iter().any(DownTrack::needs_offer);
        // New subscribers start with a keyframe.
        for (publisher, sid) in opened {
            if let Some(t) = self
                .parts
                .get_mut(&publisher)
                .and_then(|p| p.tracks.iter_mut().find(|t| t.info.sid == sid))
            {
                t.last_pli = None;
            }
            self.request_keyframe(publisher, &sid, None);
        }
        if !self.dirty.contains(&(pid, PcRole::Subscriber)) {
            self.dirty.push((pid, PcRole::Subscriber));
        }
    }

    /// Sends the subscriber an offer covering every queued change (one outstanding at a time).
    fn negotiate(&mut self, pid: Pid) {
        let Some(p) = self.parts.get_mut(&pid) else {
            return;
        };
        if p.sub_pending.is_some() || !p.sub_needs_offer || p.subscriber.failed {
            return;
        }
        p.sub_needs_offer = false;
        let mut api = p.subscriber.rtc.sdp_api();
        if p.sub_channels.is_none() {
            let reliable = api.add_channel_with_config(ChannelConfig {
                label: "_reliable".to_owned(),
                ordered: true,
                reliability: Reliability::Reliable,
                negotiated: None,
                protocol: String::new(),
            });
            let lossy = api.add_channel_with_config(ChannelConfig {
                label: "_lossy".to_owned(),
                ordered: false,
                reliability: Reliability::MaxRetransmits { retransmits: 0 },
                negotiated: None,
                protocol: String::new(),
            });
            p.sub_channels = Some(SubChannels { reliable, lossy });
        }
        for dt in &mut p.downtracks {
            match dt.state {
                DtState::ToOpen => {
                    let stream = format!("{}|{}", dt.publisher_sid, dt.track_sid);
                    let mid = api.add_media(
                        dt.kind,
                        Direction::SendOnly,
                        Some(stream),
                        Some(dt.track_sid.clone()),
                        None,
                    );
                    dt.state = DtState::Negotiating(mid);
                }
                DtState::ToStop(mid) => {
                    api.stop_media(mid);
                    dt.state = DtState::Stopping(mid);
                }
                _ => {}
            }
        }
        if !api.has_changes() {
            return;
        }
        let Some((offer, pending)) = api.apply() else {
            return;
        };
        let id = p.next_offer_id;
        p.next_offer_id += 1;
        p.sub_pending = Some((pending, id));
        tracing::debug!(participant = %p.identity, id, "subscriber offer");
        p.send(signal_response::Message::Offer(proto::SessionDescription {
            r#type: "offer".to_owned(),
            sdp: offer.to_sdp_string(),
            id,
            ..Default::default()
        }));
        if !self.dirty.contains(&(pid, PcRole::Subscriber)) {
            self.dirty.push((pid, PcRole::Subscriber));
        }
    }
}

impl PubTrack {
    /// The highest simulcast layer sent recently (`f` > `h` > `q`).
    fn best_rid(&self, now: Instant) -> Option<Rid> {
        let rank = |r: &Rid| match &**r {
            "f" => 3,
            "h" => 2,
            "q" => 1,
            _ => 0,
        };
        self.rids_seen
            .iter()
            .filter(|(_, t)| now.duration_since(*t) < LAYER_TIMEOUT)
            .map(|(r, _)| *r)
            .max_by_key(rank)
    }
}

/// Whether the publisher's media section `mid` puts H.264 first (a
/// hardware encoder's codec); VP8 otherwise, the other codec carried here.
fn sends_h264(rtc: &str0m::Rtc, mid: Mid) -> bool {
    let Some(first) = rtc.media(mid).and_then(|m| m.remote_pts().first().copied()) else {
        return false;
    };
    rtc.codec_config()
        .params()
        .iter()
        .any(|p| p.pt() == first && p.spec().codec == str0m::format::Codec::H264)
}
