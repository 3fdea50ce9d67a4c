//! What happens in a room, as our own types.

use crate::proto;
use crate::track::{PublicationInfo, Track};
use std::collections::BTreeMap;

/// A participant as the room last described them.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ParticipantInfo {
    /// Server id.
    pub sid: String,
    /// Stable identity from the token (a user id).
    pub identity: String,
    /// Display name.
    pub name: String,
    /// Free-form metadata set by the backend or the participant.
    pub metadata: String,
    /// Key/value attributes.
    pub attributes: BTreeMap<String, String>,
    /// What their token lets them publish: `None` any source (or not
    /// said), else only these (empty: nothing).
    pub publish_sources: Option<Vec<crate::track::TrackSource>>,
}

impl ParticipantInfo {
    pub(crate) fn from_proto(p: &proto::ParticipantInfo) -> Self {
        Self {
            sid: p.sid.clone(),
            identity: p.identity.clone(),
            name: p.name.clone(),
            metadata: p.metadata.clone(),
            attributes: p
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            publish_sources: p.permission.as_ref().and_then(|perm| {
                if !perm.can_publish {
                    Some(Vec::new())
                } else if perm.can_publish_sources.is_empty() {
                    None
                } else {
                    Some(
                        perm.can_publish_sources
                            .iter()
                            .map(|s| crate::track::TrackSource::from_proto(*s))
                            .collect(),
                    )
                }
            }),
        }
    }

    /// Whether their token lets them publish `source`.
    pub fn may_publish(&self, source: crate::track::TrackSource) -> bool {
        self.publish_sources
            .as_ref()
            .is_none_or(|s| s.contains(&source))
    }
}

/// The link to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ConnectionState {
    /// Media and signalling are up.
    Connected,
    /// LiveKit is resuming or rejoining by itself.
    Reconnecting,
    /// The room is gone.
    Disconnected,
}

impl ConnectionState {
    fn from_proto(state: i32) -> Self {
        match proto::ConnectionState::try_from(state) {
            Ok(proto::ConnectionState::ConnConnected) => Self::Connected,
            Ok(proto::ConnectionState::ConnReconnecting) => Self::Reconnecting,
            _ => Self::Disconnected,
        }
    }
}

/// How well a participant's media is flowing, as the server judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ConnectionQuality {
    /// No problems.
    Excellent,
    /// Some loss or delay.
    Good,
    /// Noticeable problems.
    Poor,
    /// No media arriving.
    Lost,
}

impl ConnectionQuality {
    fn from_proto(q: i32) -> Self {
        match proto::ConnectionQuality::try_from(q) {
            Ok(proto::ConnectionQuality::QualityExcellent) => Self::Excellent,
            Ok(proto::ConnectionQuality::QualityGood) => Self::Good,
            Ok(proto::ConnectionQuality::QualityLost) => Self::Lost,
            _ => Self::Poor,
        }
    }
}

/// Why a participant (or we) left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DisconnectReason {
    /// We (or they) chose to leave.
    ClientInitiated,
    /// The same identity joined elsewhere.
    DuplicateIdentity,
    /// The server is shutting down.
    ServerShutdown,
    /// An admin removed the participant.
    ParticipantRemoved,
    /// The room was deleted.
    RoomDeleted,
    /// Client and server disagreed about state.
    StateMismatch,
    /// Joining failed.
    JoinFailure,
    /// Moved to another server.
    Migration,
    /// The signalling connection closed.
    SignalClose,
    /// The room was closed.
    RoomClosed,
    /// The connection timed out.
    ConnectionTimeout,
    /// Media could not flow.
    MediaFailure,
    /// Any other or unknown reason.
    Other,
}

impl DisconnectReason {
    pub(crate) fn from_proto(reason: i32) -> Self {
        use proto::DisconnectReason as R;
        match R::try_from(reason) {
            Ok(R::ClientInitiated) => Self::ClientInitiated,
            Ok(R::DuplicateIdentity) => Self::DuplicateIdentity,
            Ok(R::ServerShutdown) => Self::ServerShutdown,
            Ok(R::ParticipantRemoved) => Self::ParticipantRemoved,
            Ok(R::RoomDeleted) => Self::RoomDeleted,
            Ok(R::StateMismatch) => Self::StateMismatch,
            Ok(R::JoinFailure) => Self::JoinFailure,
            Ok(R::Migration) => Self::Migration,
            Ok(R::SignalClose) => Self::SignalClose,
            Ok(R::RoomClosed) => Self::RoomClosed,
            Ok(R::ConnectionTimeout) => Self::ConnectionTimeout,
            Ok(R::MediaFailure) => Self::MediaFailure,
            _ => Self::Other,
        }
    }
}

/// A text stream (such as a chat message on `lk.chat`) that arrived whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMessage {
    /// Sender's identity.
    pub sender: String,
    /// Topic, e.g. `lk.chat`.
    pub topic: String,
    /// The text.
    pub text: String,
    /// Stream id (unique per message).
    pub id: String,
    /// Sender's timestamp, ms since the Unix epoch.
    pub timestamp_ms: i64,
    /// Attributes sent with it.
    pub attributes: BTreeMap<String, String>,
    /// The stream was longer than [`crate::MAX_TEXT_BYTES`]; `text` is its start.
    pub truncated: bool,
}

/// A token the server issued to replace ours; its `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshedToken(pub String);

impl std::fmt::Debug for RefreshedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshedToken(<redacted>)")
    }
}

/// Everything that happens in a room after joining.
#[derive(Debug, Clone)]
pub enum RoomEvent {
    /// Someone joined.
    ParticipantConnected(ParticipantInfo),
    /// Someone left.
    ParticipantDisconnected {
        /// Their identity.
        identity: String,
        /// Why.
        reason: DisconnectReason,
    },
    /// A remote participant published a track.
    TrackPublished {
        /// Publisher identity.
        participant: String,
        /// The track as published.
        publication: PublicationInfo,
    },
    /// A remote participant stopped publishing a track.
    TrackUnpublished {
        /// Publisher identity.
        participant: String,
        /// The track id.
        sid: String,
    },
    /// We now receive a remote track; open a stream on it to get media.
    TrackSubscribed {
        /// Publisher identity.
        participant: String,
        /// The track.
        track: Track,
        /// Its publication, when known.
        publication: Option<PublicationInfo>,
    },
    /// We no longer receive a remote track.
    TrackUnsubscribed {
        /// Publisher identity.
        participant: String,
        /// The track id.
        sid: String,
    },
    /// Subscribing failed.
    TrackSubscriptionFailed {
        /// Publisher identity.
        participant: String,
        /// The track id.
        sid: String,
        /// LiveKit's reason.
        error: String,
    },
    /// A track (ours or theirs) was muted.
    TrackMuted {
        /// Publisher identity.
        participant: String,
        /// The track id.
        sid: String,
    },
    /// A track (ours or theirs) was unmuted.
    TrackUnmuted {
        /// Publisher identity.
        participant: String,
        /// The track id.
        sid: String,
    },
    /// One of our tracks is now published.
    LocalTrackPublished {
        /// The track id.
        sid: String,
    },
    /// One of our tracks was unpublished.
    LocalTrackUnpublished {
        /// The track id.
        sid: String,
    },
    /// Who is speaking now (loudest first).
    ActiveSpeakers(Vec<String>),
    /// A participant's connection quality changed.
    ConnectionQuality {
        /// Whose.
        participant: String,
        /// New quality.
        quality: ConnectionQuality,
    },
    /// Our link changed state.
    ConnectionState(ConnectionState),
    /// A participant's end-to-end encryption changed state (ours too).
    EncryptionState {
        /// Whose media.
        participant: String,
        /// Where it is.
        state: crate::EncryptionState,
    },
    /// LiveKit lost the link and is trying to restore it.
    Reconnecting,
    /// The link is back.
    Reconnected,
    /// We left the room, or were made to; no more events follow.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// A data packet arrived.
    DataReceived {
        /// Sender identity (empty when sent by the server).
        participant: String,
        /// Topic, if the sender set one.
        topic: Option<String>,
        /// The bytes.
        payload: Vec<u8>,
        /// Sent reliably (ordered, retransmitted) or lossy.
        reliable: bool,
    },
    /// A text stream arrived whole (chat uses topic `lk.chat`).
    TextReceived(TextMessage),
    /// A byte stream (a file) began arriving; read it, or drop the reader
    /// to refuse it.
    BytesOpened(crate::bytes::ByteReader),
    /// The server refreshed our token (kept for rejoining).
    TokenRefreshed(RefreshedToken),
    /// The room's metadata changed.
    RoomMetadataChanged(String),
    /// A participant's metadata changed.
    ParticipantMetadataChanged {
        /// Whose.
        identity: String,
        /// New metadata.
        metadata: String,
    },
    /// A participant's display name changed.
    ParticipantNameChanged {
        /// Whose.
        identity: String,
        /// New name.
        name: String,
    },
    /// A participant's attributes changed.
    ParticipantAttributesChanged {
        /// Whose.
        identity: String,
        /// All attributes now.
        attributes: BTreeMap<String, String>,
        /// The ones that changed.
        changed: BTreeMap<String, String>,
    },
}

pub(crate) fn attributes(entries: &[proto::AttributesEntry]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect()
}

/// Converts room events that need no state; the rest are handled by the room.
pub(crate) fn simple(m: &proto::room_event::Message) -> Option<RoomEvent> {
    use proto::room_event::Message as M;
    Some(match m {
        M::ParticipantDisconnected(e) => RoomEvent::ParticipantDisconnected {
            identity: e.participant_identity.clone(),
            reason: DisconnectReason::from_proto(e.disconnect_reason),
        },
        M::LocalTrackPublished(e) => RoomEvent::LocalTrackPublished {
            sid: e.track_sid.clone(),
        },
        M::LocalTrackUnpublished(e) => RoomEvent::LocalTrackUnpublished {
            sid: e.publication_sid.clone(),
        },
        M::TrackUnpublished(e) => RoomEvent::TrackUnpublished {
            participant: e.participant_identity.clone(),
            sid: e.publication_sid.clone(),
        },
        M::TrackUnsubscribed(e) => RoomEvent::TrackUnsubscribed {
            participant: e.participant_identity.clone(),
            sid: e.track_sid.clone(),
        },
        M::TrackSubscriptionFailed(e) => RoomEvent::TrackSubscriptionFailed {
            participant: e.participant_identity.clone(),
            sid: e.track_sid.clone(),
            error: e.error.clone(),
        },
        M::TrackMuted(e) => RoomEvent::TrackMuted {
            participant: e.participant_identity.clone(),
            sid: e.track_sid.clone(),
        },
        M::TrackUnmuted(e) => RoomEvent::TrackUnmuted {
            participant: e.participant_identity.clone(),
            sid: e.track_sid.clone(),
        },
        M::ActiveSpeakersChanged(e) => RoomEvent::ActiveSpeakers(e.participant_identities.clone()),
        M::ConnectionQualityChanged(e) => RoomEvent::ConnectionQuality {
            participant: e.participant_identity.clone(),
            quality: ConnectionQuality::from_proto(e.quality),
        },
        M::ConnectionStateChanged(e) => {
            RoomEvent::ConnectionState(ConnectionState::from_proto(e.state))
        }
        M::Disconnected(e) => RoomEvent::Disconnected {
            reason: DisconnectReason::from_proto(e.reason),
        },
        M::Reconnecting(_) => RoomEvent::Reconnecting,
        M::E2eeStateChanged(e) => RoomEvent::EncryptionState {
            participant: e.participant_identity.clone(),
            state: crate::EncryptionState::from_proto(e.state),
        },
        M::Reconnected(_) => RoomEvent::Reconnected,
        M::RoomMetadataChanged(e) => RoomEvent::RoomMetadataChanged(e.metadata.clone()),
        M::ParticipantMetadataChanged(e) => RoomEvent::ParticipantMetadataChanged {
            identity: e.participant_identity.clone(),
            metadata: e.metadata.clone(),
        },
        M::ParticipantNameChanged(e) => RoomEvent::ParticipantNameChanged {
            identity: e.participant_identity.clone(),
            name: e.name.clone(),
        },
        M::ParticipantAttributesChanged(e) => RoomEvent::ParticipantAttributesChanged {
            identity: e.participant_identity.clone(),
            attributes: attributes(&e.attributes),
            changed: attributes(&e.changed_attributes),
        },
        M::TokenRefreshed(e) => RoomEvent::TokenRefreshed(RefreshedToken(e.token.clone())),
        _ => return None,
    })
}
