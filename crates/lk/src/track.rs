//! Tracks (local and remote) as our own types.

use crate::handle::FfiHandle;
use crate::proto;
use std::sync::Arc;

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TrackKind {
    /// A microphone or other audio track.
    Audio,
    /// A camera, screen or other video track.
    Video,
    /// Not announced by the server.
    Unknown,
}

impl TrackKind {
    pub(crate) fn from_proto(kind: i32) -> Self {
        match proto::TrackKind::try_from(kind) {
            Ok(proto::TrackKind::KindAudio) => Self::Audio,
            Ok(proto::TrackKind::KindVideo) => Self::Video,
            _ => Self::Unknown,
        }
    }
}

/// What a track carries, as the publisher declared it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TrackSource {
    /// A camera.
    Camera,
    /// A microphone.
    Microphone,
    /// A shared screen.
    ScreenShare,
    /// A shared screen's audio.
    ScreenShareAudio,
    /// Not declared.
    Unknown,
}

impl TrackSource {
    pub(crate) fn from_proto(source: i32) -> Self {
        match proto::TrackSource::try_from(source) {
            Ok(proto::TrackSource::SourceCamera) => Self::Camera,
            Ok(proto::TrackSource::SourceMicrophone) => Self::Microphone,
            Ok(proto::TrackSource::SourceScreenshare) => Self::ScreenShare,
            Ok(proto::TrackSource::SourceScreenshareAudio) => Self::ScreenShareAudio,
            _ => Self::Unknown,
        }
    }

    pub(crate) fn to_proto(self) -> i32 {
        (match self {
            Self::Camera => proto::TrackSource::SourceCamera,
            Self::Microphone => proto::TrackSource::SourceMicrophone,
            Self::ScreenShare => proto::TrackSource::SourceScreenshare,
            Self::ScreenShareAudio => proto::TrackSource::SourceScreenshareAudio,
            Self::Unknown => proto::TrackSource::SourceUnknown,
        }) as i32
    }
}

/// A snapshot of a track's state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrackInfo {
    /// Server-assigned id (empty for a local track until published).
    pub sid: String,
    /// Publisher-chosen name.
    pub name: String,
    /// Audio or video.
    pub kind: TrackKind,
    /// Whether the publisher muted it.
    pub muted: bool,
    /// Whether it comes from another participant.
    pub remote: bool,
}

impl TrackInfo {
    pub(crate) fn from_proto(info: &proto::TrackInfo) -> Self {
        Self {
            sid: info.sid.clone(),
            name: info.name.clone(),
            kind: TrackKind::from_proto(info.kind),
            muted: info.muted,
            remote: info.remote,
        }
    }
}

/// A track held by this process: a local one we created, or a remote one
/// we are subscribed to. Cloning shares the same native track.
#[derive(Debug, Clone)]
pub struct Track {
    pub(crate) handle: Arc<FfiHandle>,
    pub(crate) info: TrackInfo,
}

impl Track {
    pub(crate) fn from_owned(owned: proto::OwnedTrack) -> Self {
        Self {
            handle: Arc::new(FfiHandle::new(owned.handle.id)),
            info: TrackInfo::from_proto(&owned.info),
        }
    }

    /// The track's state when we received it.
    pub fn info(&self) -> &TrackInfo {
        &self.info
    }

    /// Server id.
    pub fn sid(&self) -> &str {
        &self.info.sid
    }

    /// Audio or video.
    pub fn kind(&self) -> TrackKind {
        self.info.kind
    }
}

/// A published track as the room describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublicationInfo {
    /// Track id.
    pub sid: String,
    /// Publisher-chosen name.
    pub name: String,
    /// Audio or video.
    pub kind: TrackKind,
    /// Camera, microphone, screen…
    pub source: TrackSource,
    /// Declared size (video).
    pub width: u32,
    /// Declared size (video).
    pub height: u32,
    /// Codec MIME type.
    pub mime_type: String,
    /// Muted by its publisher.
    pub muted: bool,
    /// Whether it comes from another participant.
    pub remote: bool,
    /// Whether its publisher encrypts it end to end.
    pub encrypted: bool,
}

impl PublicationInfo {
    pub(crate) fn from_proto(info: &proto::TrackPublicationInfo) -> Self {
        Self {
            sid: info.sid.clone(),
            name: info.name.clone(),
            kind: TrackKind::from_proto(info.kind),
            source: TrackSource::from_proto(info.source),
            width: info.width,
            height: info.height,
            mime_type: info.mime_type.clone(),
            muted: info.muted,
            remote: info.remote,
            encrypted: info.encryption_type != proto::EncryptionType::None as i32,
        }
    }
}
