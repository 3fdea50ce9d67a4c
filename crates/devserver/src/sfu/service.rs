//! RoomService operations, run inside the SFU task.

use std::time::Duration;

use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_response;

use super::{Pid, Sfu, merge_attributes};

/// A RoomService request (travels boxed in `Command::Service`).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum ServiceCall {
    CreateRoom(proto::CreateRoomRequest),
    ListRooms(proto::ListRoomsRequest),
    DeleteRoom(proto::DeleteRoomRequest),
    ListParticipants(proto::ListParticipantsRequest),
    GetParticipant(proto::RoomParticipantIdentity),
    RemoveParticipant(proto::RoomParticipantIdentity),
    MutePublishedTrack(proto::MuteRoomTrackRequest),
    UpdateParticipant(proto::UpdateParticipantRequest),
    SendData(proto::SendDataRequest),
}

/// A RoomService response.
#[derive(Debug)]
pub(crate) enum ServiceReply {
    Room(proto::Room),
    Rooms(proto::ListRoomsResponse),
    Deleted(proto::DeleteRoomResponse),
    Participants(proto::ListParticipantsResponse),
    Participant(proto::ParticipantInfo),
    Removed(proto::RemoveParticipantResponse),
    Muted(proto::MuteRoomTrackResponse),
    Sent(proto::SendDataResponse),
}

/// A Twirp error: its code string and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceError {
    pub(crate) code: &'static str,
    pub(crate) msg: String,
}

impl ServiceError {
    pub(crate) fn not_found(msg: impl Into<String>) -> Self {
        Self {
            code: "not_found",
            msg: msg.into(),
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self {
            code: "invalid_argument",
            msg: msg.into(),
        }
    }
}

impl ServiceReply {
    /// Encodes as protobuf or as protobuf-JSON.
    pub(crate) fn encode(&self, json: bool) -> Result<Vec<u8>, String> {
        fn enc<M: prost::Message + serde::Serialize>(m: &M, json: bool) -> Result<Vec<u8>, String> {
            if json {
                serde_json::to_vec(m).map_err(|e| e.to_string())
            } else {
                Ok(m.encode_to_vec())
            }
        }
        match self {
            ServiceReply::Room(m) => enc(m, json),
            ServiceReply::Rooms(m) => enc(m, json),
            ServiceReply::Deleted(m) => enc(m, json),
            ServiceReply::Participants(m) => enc(m, json),
            ServiceReply::Participant(m) => enc(m, json),
            ServiceReply::Removed(m) => enc(m, json),
            ServiceReply::Muted(m) => enc(m, json),
            ServiceReply::Sent(m) => enc(m, json),
        }
    }
}

impl Sfu {
    pub(super) fn service(&mut self, call: ServiceCall) -> Result<ServiceReply, ServiceError> {
        match call {
            ServiceCall::CreateRoom(req) => {
                if req.name.is_empty() || req.name.len() > 256 {
                    return Err(ServiceError::invalid("room name must be 1 to 256 bytes"));
                }
                let timeout =
                    (req.empty_timeout > 0).then(|| Duration::from_secs(req.empty_timeout.into()));
                let max = (req.max_participants > 0).then_some(req.max_participants);
                self.ensure_room(&req.name, timeout, max);
                if let Some(r) = self.rooms.get_mut(&req.name)
                    && !req.metadata.is_empty()
                {
                    r.metadata = req.metadata.clone();
                }
                self.room_proto(&req.name)
                    .map(ServiceReply::Room)
                    .ok_or_else(|| ServiceError::not_found("room vanished"))
            }
            ServiceCall::ListRooms(req) => {
                let mut names: Vec<&String> = self
                    .rooms
                    .keys()
                    .filter(|n| req.names.is_empty() || req.names.contains(n))
                    .collect();
                names.sort();
                let rooms = names
                    .into_iter()
                    .filter_map(|n| self.room_proto(n))
                    .collect();
                Ok(ServiceReply::Rooms(proto::ListRoomsResponse { rooms }))
            }
            ServiceCall::DeleteRoom(req) => {
                if !self.rooms.contains_key(&req.room) {
                    return Err(ServiceError::not_found(format!(
                        "room {:?} does not exist",
                        req.room
                    )));
                }
                self.close_room(&req.room, proto::DisconnectReason::RoomDeleted);
                Ok(ServiceReply::Deleted(proto::DeleteRoomResponse {}))
            }
            ServiceCall::ListParticipants(req) => {
                let room = self.rooms.get(&req.room).ok_or_else(|| {
                    ServiceError::not_found(format!("room {:?} does not exist", req.room))
                })?;
                let participants = room
                    .members
                    .iter()
                    .filter_map(|m| self.parts.get(m))
                    .map(|p| p.info(proto::participant_info::State::Active))
                    .collect();
                Ok(ServiceReply::Participants(
                    proto::ListParticipantsResponse { participants },
                ))
            }
            ServiceCall::GetParticipant(req) => {
                let pid = self.find(&req.room, &req.identity)?;
                let p = self
                    .parts
                    .get(&pid)
                    .ok_or_else(|| ServiceError::not_found("participant vanished"))?;
                Ok(ServiceReply::Participant(
                    p.info(proto::participant_info::State::Active),
                ))
            }
            ServiceCall::RemoveParticipant(req) => {
                let pid = self.find(&req.room, &req.identity)?;
                let leave = super::leave_request(
                    proto::DisconnectReason::ParticipantRemoved,
                    proto::leave_request::Action::Disconnect,
                );
                self.remove(
                    pid,
                    proto::DisconnectReason::ParticipantRemoved,
                    Some(leave),
                );
                Ok(ServiceReply::Removed(proto::RemoveParticipantResponse {}))
            }
            ServiceCall::MutePublishedTrack(req) => {
                let pid = self.find(&req.room, &req.identity)?;
                let p = self
                    .parts
                    .get_mut(&pid)
                    .ok_or_else(|| ServiceError::not_found("participant vanished"))?;
                let Some(track) = p.tracks.iter().find(|t| t.info.sid == req.track_sid) else {
                    return Err(ServiceError::not_found(format!(
                        "track {:?} not found",
                        req.track_sid
                    )));
                };
                let mut info = track.info.clone();
                // The client mutes its own track when asked; it then reports the mute back.
                p.send(signal_response::Message::Mute(proto::MuteTrackRequest {
                    sid: req.track_sid.clone(),
                    muted: req.muted,
                }));
                self.mute(pid, &req.track_sid, req.muted);
                info.muted = req.muted;
                Ok(ServiceReply::Muted(proto::MuteRoomTrackResponse {
                    track: Some(info),
                }))
            }
            ServiceCall::UpdateParticipant(req) => {
                let pid = self.find(&req.room, &req.identity)?;
                let p = self
                    .parts
                    .get_mut(&pid)
                    .ok_or_else(|| ServiceError::not_found("participant vanished"))?;
                if !req.metadata.is_empty() {
                    p.metadata = req.metadata.clone();
                }
                if !req.name.is_empty() {
                    p.name = req.name.clone();
                }
                merge_attributes(&mut p.attributes, &req.attributes);
                if let Some(perm) = req.permission {
                    p.permission = perm;
                }
                self.announce(pid);
                let p = self
                    .parts
                    .get(&pid)
                    .ok_or_else(|| ServiceError::not_found("participant vanished"))?;
                Ok(ServiceReply::Participant(
                    p.info(proto::participant_info::State::Active),
                ))
            }
            ServiceCall::SendData(req) => {
                let room = self.rooms.get(&req.room).ok_or_else(|| {
                    ServiceError::not_found(format!("room {:?} does not exist", req.room))
                })?;
                let reliable = req.kind() == proto::data_packet::Kind::Reliable;
                let kind = if reliable {
                    super::DataKind::Reliable
                } else {
                    super::DataKind::Lossy
                };
                #[allow(deprecated)]
                let packet = proto::DataPacket {
                    kind: req.kind,
                    destination_identities: Vec::new(),
                    value: Some(proto::data_packet::Value::User(proto::UserPacket {
                        payload: req.data.clone(),
                        topic: req.topic.clone(),
                        ..Default::default()
                    })),
                    ..Default::default()
                };
                let bytes = packet.encode_to_vec();
                let targets: Vec<Pid> =
                    room.members
                        .iter()
                        .copied()
                        .filter(|m| {
                            req.destination_identities.is_empty()
                                || self.parts.get(m).is_some_and(|p| {
                                    req.destination_identities.contains(&p.identity)
                                })
                        })
                        .collect();
                for m in targets {
                    if let Some(p) = self.parts.get_mut(&m) {
                        p.backlog.push_back((kind, bytes.clone()));
                    }
                    self.flush_backlog(m);
                }
                Ok(ServiceReply::Sent(proto::SendDataResponse {}))
            }
        }
    }

    pub(super) fn find(&self, room: &str, identity: &str) -> Result<Pid, ServiceError> {
        let r = self
            .rooms
            .get(room)
            .ok_or_else(|| ServiceError::not_found(format!("room {room:?} does not exist")))?;
        r.members
            .iter()
            .copied()
            .find(|m| self.parts.get(m).is_some_and(|p| p.identity == identity))
            .ok_or_else(|| {
                ServiceError::not_found(format!("participant {identity:?} is not in room {room:?}"))
            })
    }
}
