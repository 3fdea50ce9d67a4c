//! Operations shared by local audio and video tracks.

use crate::error::{FfiError, LkError};
use crate::ffi;
use crate::proto;
use crate::proto::ffi_request::Message as Rq;
use crate::track::Track;

/// Mutes or unmutes a local track.
pub(crate) fn set_muted(track: &Track, muted: bool) -> Result<(), LkError> {
    let client = ffi::client().map_err(FfiError::from)?;
    match client.request(Rq::LocalTrackMute(proto::LocalTrackMuteRequest {
        track_handle: track.handle.id(),
        mute: muted,
    }))? {
        proto::ffi_response::Message::LocalTrackMute(_) => Ok(()),
        _ => Err(FfiError::Protocol("LocalTrackMute answered with another message".into()).into()),
    }
}

/// Creates a local audio or video track from a source.
pub(crate) fn create_local(request: Rq) -> Result<Track, LkError> {
    let client = ffi::client().map_err(FfiError::from)?;
    match client.request(request)? {
        proto::ffi_response::Message::CreateAudioTrack(r) => Ok(Track::from_owned(r.track)),
        proto::ffi_response::Message::CreateVideoTrack(r) => Ok(Track::from_owned(r.track)),
        _ => Err(
            FfiError::Protocol("creating a local track answered with another message".into())
                .into(),
        ),
    }
}
