//! Data packets between participants: relayed from a publisher's channel
//! to the room (or the packet's destinations), with the real sender stamped
//! on, and queued per subscriber while its channel opens or drains.

use livekit_protocol as proto;
use prost::Message as _;

use super::{DataKind, PcRole, Pid, Sfu};

/// Data messages queued per subscriber while its channel opens or drains.
const MAX_BACKLOG: usize = 4096;
/// Largest data packet relayed (the SDKs split larger payloads into streams).
const MAX_DATA_PACKET: usize = 64 * 1024;

impl Sfu {
    /// Relays a data packet from a publisher channel to the room.
    pub(super) fn relay_data(&mut self, from: Pid, kind: DataKind, bytes: &[u8]) {
        let Some(p) = self.parts.get_mut(&from) else {
            return;
        };
        if !p.permission.can_publish_data {
            p.log_once(
                "data-denied",
                "data from a participant without canPublishData dropped",
            );
            return;
        }
        if bytes.len() > MAX_DATA_PACKET {
            p.log_once("data-oversize", "oversize data packet dropped");
            return;
        }
        let mut packet = match proto::DataPacket::decode(bytes) {
            Ok(pk) => pk,
            Err(e) => {
                p.log_once(
                    "data-malformed",
                    &format!("malformed data packet dropped: {e}"),
                );
                return;
            }
        };
        p.data_in += 1;
        let destinations = stamp_sender(&mut packet, &p.identity, &p.sid);
        let encoded = packet.encode_to_vec();
        let room = p.room.clone();
        for m in self.members(&room) {
            if m == from {
                continue;
            }
            let Some(sub) = self.parts.get_mut(&m) else {
                continue;
            };
            if !destinations.is_empty() && !destinations.contains(&sub.identity) {
                continue;
            }
            if sub.backlog.len() >= MAX_BACKLOG {
                if kind == DataKind::Reliable {
                    sub.log_once(
                        "data-backlog",
                        "subscriber is not draining data; dropping it",
                    );
                    sub.subscriber.failed = true;
                }
                continue;
            }
            sub.backlog.push_back((kind, encoded.clone()));
            self.flush_backlog(m);
        }
    }

    /// Writes queued data to the subscriber's channels while they take it.
    pub(super) fn flush_backlog(&mut self, pid: Pid) {
        let Some(p) = self.parts.get_mut(&pid) else {
            return;
        };
        let Some(ch) = &p.sub_channels else { return };
        let (reliable, lossy) = (ch.reliable, ch.lossy);
        let mut wrote = false;
        while let Some((kind, bytes)) = p.backlog.front() {
            let id = if *kind == DataKind::Reliable {
                reliable
            } else {
                lossy
            };
            let Some(mut channel) = p.subscriber.rtc.channel(id) else {
                break;
            };
            match channel.write(true, bytes) {
                Ok(true) => {
                    p.backlog.pop_front();
                    p.data_out += 1;
                    wrote = true;
                }
                Ok(false) => break,
                Err(e) => {
                    tracing::debug!("data channel write failed: {e}");
                    p.backlog.pop_front();
                }
            }
        }
        if wrote && !self.dirty.contains(&(pid, PcRole::Subscriber)) {
            self.dirty.push((pid, PcRole::Subscriber));
        }
    }
}

/// Makes the packet say who really sent it (whatever it claimed) and takes
/// out its destination list, which is the server's business only. Returns
/// the destination identities (empty: everyone).
#[allow(deprecated)] // the per-packet sender fields older clients still read
pub(super) fn stamp_sender(
    packet: &mut proto::DataPacket,
    identity: &str,
    sid: &str,
) -> Vec<String> {
    packet.participant_identity = identity.to_owned();
    packet.participant_sid = sid.to_owned();
    let mut destinations = std::mem::take(&mut packet.destination_identities);
    // Other kinds (legacy chat, transcriptions, streams, RPC) pass as they are.
    if let Some(proto::data_packet::Value::User(user)) = &mut packet.value {
        user.participant_sid = sid.to_owned();
        user.participant_identity = identity.to_owned();
        destinations.append(&mut user.destination_identities);
        user.destination_sids.clear();
    }
    destinations.sort();
    destinations.dedup();
    destinations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated)]
    fn data_packets_carry_the_real_sender_and_lose_their_destinations() {
        let mut spoofed = proto::DataPacket {
            participant_identity: "the-coach".into(),
            participant_sid: "PA_fake".into(),
            destination_identities: vec!["bob".into()],
            value: Some(proto::data_packet::Value::User(proto::UserPacket {
                participant_identity: "the-coach".into(),
                destination_identities: vec!["carol".into(), "bob".into()],
                destination_sids: vec!["PA_x".into()],
                payload: b"hi".to_vec(),
                topic: Some("t".into()),
                ..Default::default()
            })),
            ..Default::default()
        };
        let to = stamp_sender(&mut spoofed, "mallory", "PA_m");
        assert_eq!(to, ["bob", "carol"]);
        assert_eq!(spoofed.participant_identity, "mallory");
        assert_eq!(spoofed.participant_sid, "PA_m");
        assert!(spoofed.destination_identities.is_empty());
        let Some(proto::data_packet::Value::User(u)) = &spoofed.value else {
            panic!()
        };
        assert_eq!(
            (u.participant_identity.as_str(), u.participant_sid.as_str()),
            ("mallory", "PA_m")
        );
        assert!(u.destination_identities.is_empty() && u.destination_sids.is_empty());
        assert_eq!(u.payload, b"hi");

        // A legacy chat packet passes through with the sender stamped.
        let mut chat = proto::DataPacket {
            value: Some(proto::data_packet::Value::ChatMessage(proto::ChatMessage {
                id: "m1".into(),
                message: "<b>hello</b>".into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert!(stamp_sender(&mut chat, "alice", "PA_a").is_empty());
        assert_eq!(chat.participant_identity, "alice");
        let Some(proto::data_packet::Value::ChatMessage(m)) = &chat.value else {
            panic!()
        };
        assert_eq!(
            m.message, "<b>hello</b>",
            "chat text is opaque to the server"
        );
    }
}
