//! Us in a room: publishing tracks, sending data and chat, our name,
//! metadata and attributes.

use crate::error::{LkError, failed, unexpected};
use crate::events::ParticipantInfo;
use crate::ffi;
use crate::handle::FfiHandle;
use crate::proto;
use crate::proto::ffi_event::Message as Ev;
use crate::proto::ffi_request::Message as Rq;
use crate::track::{PublicationInfo, Track, TrackSource};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The topic LiveKit's SDKs use for chat text streams.
pub const CHAT_TOPIC: &str = "lk.chat";
/// Largest data packet we send (LiveKit's reliable limit is about 15 KiB).
pub const MAX_DATA_BYTES: usize = 15 * 1024;

/// Video codecs LiveKit can publish with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// VP8 (what every SDK and the dev server support).
    Vp8,
    /// H.264.
    H264,
    /// VP9.
    Vp9,
    /// AV1.
    Av1,
}

/// Which of LiveKit's video encoders a track is sent with. A hardware
/// encoder that cannot start makes the library fall back to its software
/// one by itself (VAAPI and NVENC on Linux, VideoToolbox on macOS encode
/// H.264).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncoderBackend {
    /// The library's own choice.
    #[default]
    Auto,
    Software,
    Hardware,
}

/// How to publish a track.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// What the track is (camera, microphone…).
    pub source: TrackSource,
    /// Send several resolutions (video).
    pub simulcast: bool,
    /// Video codec.
    pub video_codec: VideoCodec,
    /// Cap on video bitrate in bits per second, with the frame rate it assumes.
    pub max_video_bitrate: Option<(u64, f64)>,
    /// Silence suppression (audio).
    pub dtx: bool,
    /// When bandwidth or CPU is short, keep the picture's size and lower
    /// its rate (shared screens: text stays legible) instead of the
    /// encoder's balance of both.
    pub keep_resolution: bool,
    /// The video encoder asked for.
    pub encoder: EncoderBackend,
}

impl Default for PublishOptions {
    fn default() -> Self {
        Self {
            source: TrackSource::Unknown,
            simulcast: false,
            video_codec: VideoCodec::Vp8,
            max_video_bitrate: None,
            dtx: true,
            keep_resolution: false,
            encoder: EncoderBackend::Auto,
        }
    }
}

/// Where a data packet goes and how.
#[derive(Debug, Clone, Default)]
pub struct DataOptions {
    /// Retransmitted and ordered (true) or best-effort (false).
    pub reliable: bool,
    /// Optional topic the receiver can filter on.
    pub topic: Option<String>,
    /// Identities to send to; empty means everyone.
    pub destinations: Vec<String>,
}

/// Us in the room. Cloning shares the same participant.
#[derive(Debug, Clone)]
pub struct LocalParticipant {
    handle: Arc<FfiHandle>,
    info: Arc<Mutex<ParticipantInfo>>,
    publications: Arc<Mutex<HashMap<String, FfiHandle>>>,
}

impl LocalParticipant {
    pub(crate) fn new(handle: FfiHandle, info: ParticipantInfo) -> Self {
        Self {
            handle: Arc::new(handle),
            info: Arc::new(Mutex::new(info)),
            publications: Arc::default(),
        }
    }

    /// Our identity, name, metadata and attributes as last set.
    pub fn info(&self) -> ParticipantInfo {
        self.info.lock().clone()
    }

    /// Our identity (from the token).
    pub fn identity(&self) -> String {
        self.info.lock().identity.clone()
    }

    /// Publishes a local track; returns its publication.
    pub async fn publish_track(
        &self,
        track: &Track,
        options: PublishOptions,
    ) -> Result<PublicationInfo, LkError> {
        let codec = match options.video_codec {
            VideoCodec::Vp8 => proto::VideoCodec::Vp8,
            VideoCodec::H264 => proto::VideoCodec::H264,
            VideoCodec::Vp9 => proto::VideoCodec::Vp9,
            VideoCodec::Av1 => proto::VideoCodec::Av1,
        };
        let publish = proto::TrackPublishOptions {
            video_encoding: options
                .max_video_bitrate
                .map(|(bitrate, fps)| proto::VideoEncoding {
                    max_bitrate: bitrate,
                    max_framerate: fps,
                }),
            video_codec: Some(codec as i32),
            dtx: Some(options.dtx),
            simulcast: Some(options.simulcast),
            source: Some(options.source.to_proto()),
            degradation_preference: options
                .keep_resolution
                .then_some(proto::DegradationPreference::MaintainResolution as i32),
            video_encoder: match options.encoder {
                EncoderBackend::Auto => None,
                EncoderBackend::Software => {
                    Some(proto::VideoEncoderBackend::EncoderBackendSoftware as i32)
                }
                EncoderBackend::Hardware => {
                    Some(proto::VideoEncoderBackend::EncoderBackendHardware as i32)
                }
            },
            ..Default::default()
        };
        let (me, track_handle) = (self.handle.id(), track.handle.id());
        let event = ffi::call(
            |async_id| {
                Rq::PublishTrack(proto::PublishTrackRequest {
                    local_participant_handle: me,
                    track_handle,
                    options: publish,
                    request_async_id: Some(async_id),
                })
            },
            Some(Box::new(track.handle.clone())),
        )
        .await?;
        match event {
            Ev::PublishTrack(proto::PublishTrackCallback {
                message: Some(proto::publish_track_callback::Message::Publication(p)),
                ..
            }) => {
                let info = PublicationInfo::from_proto(&p.info);
                self.publications
                    .lock()
                    .insert(info.sid.clone(), FfiHandle::new(p.handle.id));
                Ok(info)
            }
            Ev::PublishTrack(proto::PublishTrackCallback {
                message: Some(proto::publish_track_callback::Message::Error(e)),
                ..
            }) => Err(failed("publishing a track", e)),
            _ => Err(unexpected("PublishTrack")),
        }
    }

    /// Stops publishing the track with id `sid`.
    pub async fn unpublish_track(&self, sid: &str) -> Result<(), LkError> {
        let me = self.handle.id();
        let build = |async_id| {
            Rq::UnpublishTrack(proto::UnpublishTrackRequest {
                local_participant_handle: me,
                track_sid: sid.to_owned(),
                stop_on_unpublish: true,
                request_async_id: Some(async_id),
            })
        };
        let result = call_for_error("unpublishing a track", build, None).await;
        self.publications.lock().remove(sid);
        result
    }

    /// Sends a data packet (at most [`MAX_DATA_BYTES`]).
    pub async fn publish_data(
        &self,
        payload: Vec<u8>,
        options: DataOptions,
    ) -> Result<(), LkError> {
        if payload.len() > MAX_DATA_BYTES {
            return Err(LkError::Invalid {
                what: "data packet",
                why: format!(
                    "{} bytes is over the {MAX_DATA_BYTES}-byte limit; send a text stream instead",
                    payload.len()
                ),
            });
        }
        let me = self.handle.id();
        let (ptr, len) = (payload.as_ptr() as u64, payload.len() as u64);
        let build = |async_id| {
            Rq::PublishData(proto::PublishDataRequest {
                local_participant_handle: me,
                data_ptr: ptr,
                data_len: len,
                reliable: options.reliable,
                topic: options.topic,
                destination_identities: options.destinations,
                request_async_id: Some(async_id),
                ..Default::default()
            })
        };
        // The library reads the bytes until it answers.
        call_for_error("sending data", build, Some(Box::new(payload))).await
    }

    /// Sends `text` as a text stream on `topic` to `destinations` (empty:
    /// everyone). Returns the stream id.
    pub async fn send_text(
        &self,
        topic: &str,
        text: &str,
        destinations: Vec<String>,
    ) -> Result<String, LkError> {
        let me = self.handle.id();
        let event = ffi::call(
            |async_id| {
                Rq::SendText(proto::StreamSendTextRequest {
                    local_participant_handle: me,
                    options: proto::StreamTextOptions {
                        topic: topic.to_owned(),
                        destination_identities: destinations,
                        ..Default::default()
                    },
                    text: text.to_owned(),
                    request_async_id: Some(async_id),
                })
            },
            None,
        )
        .await?;
        match event {
            Ev::SendText(proto::StreamSendTextCallback {
                result: Some(proto::stream_send_text_callback::Result::Info(info)),
                ..
            }) => Ok(info.stream_id),
            Ev::SendText(proto::StreamSendTextCallback {
                result: Some(proto::stream_send_text_callback::Result::Error(e)),
                ..
            }) => Err(failed("sending text", e.description)),
            _ => Err(unexpected("SendText")),
        }
    }

    /// Opens a byte stream (its header goes out now).
    pub async fn open_bytes(
        &self,
        options: crate::bytes::ByteStreamOptions,
    ) -> Result<crate::bytes::ByteWriter, LkError> {
        let me = self.handle.id();
        let attributes = options.attributes.into_iter().collect();
        let opts = proto::StreamByteOptions {
            topic: options.topic,
            attributes,
            destination_identities: options.destinations,
            id: options.id,
            name: Some(options.name),
            mime_type: Some(options.mime_type),
            total_length: options.total_length,
            ..Default::default()
        };
        let event = ffi::call(
            |async_id| {
                Rq::ByteStreamOpen(proto::ByteStreamOpenRequest {
                    local_participant_handle: me,
                    options: opts,
                    request_async_id: Some(async_id),
                })
            },
            None,
        )
        .await?;
        use proto::byte_stream_open_callback::Result as R;
        match event {
            Ev::ByteStreamOpen(proto::ByteStreamOpenCallback {
                result: Some(R::Writer(w)),
                ..
            }) => Ok(crate::bytes::ByteWriter::new(
                FfiHandle::new(w.handle.id),
                w.info.stream_id,
            )),
            Ev::ByteStreamOpen(proto::ByteStreamOpenCallback {
                result: Some(R::Error(e)),
                ..
            }) => Err(failed("opening a byte stream", e.description)),
            _ => Err(unexpected("ByteStreamOpen")),
        }
    }

    /// Sends a chat message the way LiveKit's SDKs do (text stream on `lk.chat`).
    pub async fn send_chat(&self, text: &str) -> Result<String, LkError> {
        self.send_text(CHAT_TOPIC, text, Vec::new()).await
    }

    /// Changes our display name.
    pub async fn set_name(&self, name: &str) -> Result<(), LkError> {
        let me = self.handle.id();
        let build = |async_id| {
            Rq::SetLocalName(proto::SetLocalNameRequest {
                local_participant_handle: me,
                name: name.to_owned(),
                request_async_id: Some(async_id),
            })
        };
        call_for_error("setting the name", build, None).await?;
        self.info.lock().name = name.to_owned();
        Ok(())
    }

    /// Changes our metadata.
    pub async fn set_metadata(&self, metadata: &str) -> Result<(), LkError> {
        let me = self.handle.id();
        let build = |async_id| {
            Rq::SetLocalMetadata(proto::SetLocalMetadataRequest {
                local_participant_handle: me,
                metadata: metadata.to_owned(),
                request_async_id: Some(async_id),
            })
        };
        call_for_error("setting metadata", build, None).await?;
        self.info.lock().metadata = metadata.to_owned();
        Ok(())
    }

    /// Sets our attributes (merged with existing ones by the server).
    pub async fn set_attributes(
        &self,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), LkError> {
        let me = self.handle.id();
        let entries = attributes
            .iter()
            .map(|(k, v)| proto::AttributesEntry {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        let build = |async_id| {
            Rq::SetLocalAttributes(proto::SetLocalAttributesRequest {
                local_participant_handle: me,
                attributes: entries,
                request_async_id: Some(async_id),
            })
        };
        call_for_error("setting attributes", build, None).await?;
        self.info.lock().attributes.extend(attributes);
        Ok(())
    }
}

/// Sends a request whose callback carries only an optional error.
async fn call_for_error(
    operation: &'static str,
    build: impl FnOnce(u64) -> Rq,
    keepalive: Option<ffi::Keepalive>,
) -> Result<(), LkError> {
    let error = match ffi::call(build, keepalive).await? {
        Ev::UnpublishTrack(cb) => cb.error,
        Ev::PublishData(cb) => cb.error,
        Ev::SetLocalName(cb) => cb.error,
        Ev::SetLocalMetadata(cb) => cb.error,
        Ev::SetLocalAttributes(cb) => cb.error,
        _ => return Err(unexpected(operation)),
    };
    error.map_or(Ok(()), |reason| Err(failed(operation, reason)))
}
