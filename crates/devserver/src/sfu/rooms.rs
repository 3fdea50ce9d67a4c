//! Rooms and their members: a room made on first join (or by the room
//! API), a participant joining with its two peer connections, the others
//! told of each arrival, and a participant removed with what it published.

use super::*;

impl Sfu {
    pub(super) fn check_capacity(&self, room: &str) -> Result<(), JoinError> {
        let max = self
            .rooms
            .get(room)
            .map_or(self.cfg.max_participants, |r| r.max_participants);
        let count = self.rooms.get(room).map_or(0, |r| r.members.len());
        if max > 0 && count >= max as usize {
            return Err(JoinError::RoomFull(room.to_owned()));
        }
        Ok(())
    }

    /// Creates the room if needed; returns whether it was created.
    pub(super) fn ensure_room(
        &mut self,
        name: &str,
        empty_timeout: Option<Duration>,
        max: Option<u32>,
    ) -> bool {
        if self.rooms.contains_key(name) {
            return false;
        }
        let room = RoomState {
            sid: ids::room_sid(),
            created_at: SystemTime::now(),
            empty_timeout: empty_timeout.unwrap_or(self.cfg.empty_timeout),
            max_participants: max.unwrap_or(self.cfg.max_participants),
            metadata: String::new(),
            members: Vec::new(),
            empty_since: Some(Instant::now()),
            speakers: Vec::new(),
        };
        tracing::info!(room = name, sid = %room.sid, "room created");
        self.rooms.insert(name.to_owned(), room);
        self.webhooks
            .room_event("room_started", self.room_proto(name));
        true
    }

    pub(super) fn room_proto(&self, name: &str) -> Option<proto::Room> {
        let r = self.rooms.get(name)?;
        let created = r.created_at.duration_since(UNIX_EPOCH).unwrap_or_default();
        Some(proto::Room {
            sid: r.sid.clone(),
            name: name.to_owned(),
            empty_timeout: r.empty_timeout.as_secs() as u32,
            max_participants: r.max_participants,
            creation_time: created.as_secs() as i64,
            creation_time_ms: created.as_millis() as i64,
            metadata: r.metadata.clone(),
            num_participants: r.members.len() as u32,
            num_publishers: r
                .members
                .iter()
                .filter(|p| self.parts.get(p).is_some_and(|p| !p.tracks.is_empty()))
                .count() as u32,
            ..Default::default()
        })
    }

    // Deprecated protocol fields are still what current clients read.
    #[allow(deprecated)]
    pub(super) fn join(&mut self, req: JoinRequest) -> Result<Joined, JoinError> {
        let room_name = req.claims.video.room.clone();
        // A second connection with the same identity replaces the first.
        let duplicate = self.rooms.get(&room_name).and_then(|r| {
            r.members.iter().copied().find(|p| {
                self.parts
                    .get(p)
                    .is_some_and(|p| p.identity == req.claims.sub)
            })
        });
        if let Some(old) = duplicate {
            tracing::info!(identity = %req.claims.sub, "duplicate identity: replacing the older connection");
            let leave = leave_request(
                proto::DisconnectReason::DuplicateIdentity,
                proto::leave_request::Action::Disconnect,
            );
            self.remove(old, proto::DisconnectReason::DuplicateIdentity, Some(leave));
        }
        self.check_capacity(&room_name)?;
        self.ensure_room(&room_name, None, None);

        let publisher = self.new_pc().map_err(JoinError::Media)?;
        let subscriber = self.new_pc().map_err(JoinError::Media)?;
        let (out, rx) = mpsc::channel(SIGNAL_BACKLOG);
        let grants = &req.claims.video;
        let permission = proto::ParticipantPermission {
            can_subscribe: grants.can_subscribe(),
            can_publish: grants.can_publish(),
            can_publish_data: grants.can_publish_data(),
            can_publish_sources: grants
                .can_publish_sources
                .iter()
                .filter_map(|s| source_from_grant(s))
                .map(|s| s as i32)
                .collect(),
            hidden: grants.hidden,
            recorder: grants.recorder,
            can_update_metadata: grants.can_update_own_metadata(),
            agent: grants.agent,
            ..Default::default()
        };
        let pid = self.next_pid;
        self.next_pid += 1;
        let mut p = Participant {
            sid: ids::participant_sid(),
            identity: req.claims.sub.clone(),
            name: req.claims.name.clone(),
            metadata: req.claims.metadata.clone(),
            attributes: req.claims.attributes.clone(),
            room: room_name.clone(),
            joined_at: SystemTime::now(),
            version: 1,
            permission,
            client_protocol: req.client_protocol,
            auto_subscribe: req.auto_subscribe,
            out,
            publisher,
            subscriber,
            tracks: Vec::new(),
            pending_tracks: Vec::new(),
            downtracks: Vec::new(),
            sub_pending: None,
            next_offer_id: 1,
            sub_needs_offer: true,
            sub_channels: None,
            backlog: VecDeque::new(),
            data_in: 0,
            data_out: 0,
            pub_channels: HashMap::new(),
            logged: Vec::new(),
            loss: 0.0,
            media_at: None,
            quality: None,
        };

        let members: Vec<Pid> = self.members(&room_name);
        let others: Vec<proto::ParticipantInfo> = members
            .iter()
            .filter_map(|m| self.parts.get(m))
            .filter(|o| !o.permission.hidden)
            .map(|o| o.info(proto::participant_info::State::Active))
            .collect();
        if p.auto_subscribe && p.permission.can_subscribe {
            for m in &members {
                if let Some(o) = self.parts.get(m) {
                    for t in &o.tracks {
                        p.downtracks
                            .push(DownTrack::new(*m, &o.sid, &t.info.sid, t.kind));
                    }
                }
            }
        }
        let join = proto::JoinResponse {
            room: self.room_proto(&room_name).map(|mut r| {
                r.num_participants += 1;
                r
            }),
            participant: Some(p.info(proto::participant_info::State::Joined)),
            other_participants: others,
            server_version: SERVER_VERSION.to_owned(),
            subscriber_primary: true,
            // As LiveKit's server does. Without it, LiveKit's Rust SDK (and
            // every SDK built on it) negotiates its publisher through a
            // debouncer that can drop a request arriving while an offer is
            // being made: a second track published over 150 ms after the
            // first was then never offered, and never arrived.
            fast_publish: true,
            ping_timeout: self.cfg.ping_timeout.as_secs() as i32,
            ping_interval: self.cfg.ping_interval.as_secs() as i32,
            server_info: Some(proto::ServerInfo {
                edition: proto::server_info::Edition::Standard as i32,
                version: SERVER_VERSION.to_owned(),
                protocol: PROTOCOL_VERSION,
                node_id: "ND_tandemdev".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        };
        p.send(signal_response::Message::Join(join));
        let info = p.info(proto::participant_info::State::Active);
        let hidden = p.permission.hidden;
        tracing::info!(room = %room_name, identity = %p.identity, sid = %p.sid, "participant joined");
        self.parts.insert(pid, p);
        if let Some(r) = self.rooms.get_mut(&room_name) {
            r.members.push(pid);
            r.empty_since = None;
        }
        if !hidden {
            self.broadcast(&room_name, vec![info.clone()], Some(pid));
        }
        self.webhooks.participant_event(
            "participant_joined",
            self.room_proto(&room_name),
            info,
            None,
        );
        Ok(Joined { pid, rx })
    }

    pub(super) fn new_pc(&self) -> Result<Pc, String> {
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            // After VP8, so that a client offering both keeps VP8 unless it
            // put H.264 first (a hardware encoder's codec).
            .enable_h264(true)
            .set_stats_interval(Some(Duration::from_secs(1)))
            .build(Instant::now());
        let candidate =
            str0m::Candidate::host(self.media_addr, "udp").map_err(|e| e.to_string())?;
        rtc.add_local_candidate(candidate);
        Ok(Pc {
            rtc,
            next_timeout: Instant::now(),
            failed: false,
        })
    }

    /// Sends a participant update to every member of a room (but `except`).
    pub(super) fn broadcast(
        &mut self,
        room: &str,
        infos: Vec<proto::ParticipantInfo>,
        except: Option<Pid>,
    ) {
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        for m in r.members.clone() {
            if Some(m) == except {
                continue;
            }
            if let Some(p) = self.parts.get_mut(&m) {
                p.send(signal_response::Message::Update(proto::ParticipantUpdate {
                    participants: infos.clone(),
                }));
            }
        }
    }

    /// Bumps a participant's version and tells the room (it included) about it.
    pub(super) fn announce(&mut self, pid: Pid) {
        let Some(p) = self.parts.get_mut(&pid) else {
            return;
        };
        p.version += 1;
        let info = p.info(proto::participant_info::State::Active);
        let room = p.room.clone();
        if p.permission.hidden {
            p.send(signal_response::Message::Update(proto::ParticipantUpdate {
                participants: vec![info],
            }));
        } else {
            self.broadcast(&room, vec![info], None);
        }
    }

    /// Removes a participant, telling it why (`leave`) and the room that it left.
    pub(super) fn remove(
        &mut self,
        pid: Pid,
        reason: proto::DisconnectReason,
        leave: Option<proto::LeaveRequest>,
    ) {
        let Some(mut p) = self.parts.remove(&pid) else {
            return;
        };
        if let Some(leave) = leave {
            p.send(signal_response::Message::Leave(leave));
        }
        let _ = p.out.try_send(Outbound::Close);
        p.publisher.rtc.disconnect();
        p.subscriber.rtc.disconnect();
        self.addr_cache.retain(|_, (owner, _)| *owner != pid);
        self.dirty.retain(|(owner, _)| *owner != pid);
        self.events.retain(|(owner, _, _)| *owner != pid);
        tracing::info!(room = %p.room, identity = %p.identity, reason = reason.as_str_name(), "participant left");

        let room = p.room.clone();
        if let Some(r) = self.rooms.get_mut(&room) {
            r.members.retain(|m| *m != pid);
            if r.members.is_empty() {
                r.empty_since = Some(Instant::now());
            }
        }
        let members = self.members(&room);
        for m in &members {
            if let Some(o) = self.parts.get_mut(m) {
                for dt in o.downtracks.iter_mut().filter(|d| d.publisher == pid) {
                    dt.stop();
                }
                o.downtracks.retain(|d| !d.removable());
                o.sub_needs_offer |= o.downtracks.iter().any(DownTrack::needs_offer);
            }
        }
        let room_proto = self.room_proto(&room);
        for t in &p.tracks {
            self.webhooks.participant_event(
                "track_unpublished",
                room_proto.clone(),
                p.info(proto::participant_info::State::Active),
                Some(t.info.clone()),
            );
        }
        p.version += 1;
        let mut info = p.info(proto::participant_info::State::Disconnected);
        info.disconnect_reason = reason as i32;
        if !p.permission.hidden {
            self.broadcast(&room, vec![info.clone()], None);
        }
        self.webhooks
            .participant_event("participant_left", room_proto, info, None);
    }
}
