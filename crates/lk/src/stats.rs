//! A summary of WebRTC's statistics for a room: what we send and receive.

use crate::error::{FfiError, LkError};
use crate::ffi;
use crate::proto;
use crate::proto::ffi_event::Message as Ev;
use crate::proto::ffi_request::Message as Rq;

/// One RTP stream, sending or receiving.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct RtpStreamStats {
    /// "audio" or "video".
    pub kind: String,
    /// Packets sent or received.
    pub packets: u64,
    /// Payload bytes sent or received.
    pub bytes: u64,
    /// Packets lost (receiving only).
    pub packets_lost: i64,
    /// Jitter in seconds (receiving only).
    pub jitter_s: f64,
    /// Video: frames encoded (sending) or decoded (receiving).
    pub frames: u64,
    /// Video: current frame rate.
    pub fps: f64,
    /// Video: current size.
    pub width: u32,
    /// Video: current size.
    pub height: u32,
    /// Video we send: the encoder's name as WebRTC gives it (`libvpx`,
    /// `OpenH264`, a hardware encoder's), empty before the first picture.
    pub encoder: String,
    /// Video we send: whether that encoder is a hardware one.
    pub hardware_encoder: bool,
}

/// What both peer connections report.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct SessionStats {
    /// Streams we send.
    pub outbound: Vec<RtpStreamStats>,
    /// Streams we receive.
    pub inbound: Vec<RtpStreamStats>,
}

pub(crate) async fn session(room_handle: u64) -> Result<SessionStats, LkError> {
    let event = ffi::call(
        |async_id| {
            Rq::GetSessionStats(proto::GetSessionStatsRequest {
                room_handle,
                request_async_id: Some(async_id),
            })
        },
        None,
    )
    .await?;
    let result = match event {
        Ev::GetSessionStats(proto::GetSessionStatsCallback {
            message: Some(proto::get_session_stats_callback::Message::Result(r)),
            ..
        }) => r,
        Ev::GetSessionStats(proto::GetSessionStatsCallback {
            message: Some(proto::get_session_stats_callback::Message::Error(reason)),
            ..
        }) => {
            return Err(LkError::Failed {
                operation: "reading statistics",
                reason,
            });
        }
        _ => {
            return Err(
                FfiError::Protocol("GetSessionStats answered with another event".into()).into(),
            );
        }
    };
    let mut out = SessionStats::default();
    for stat in result
        .publisher_stats
        .into_iter()
        .chain(result.subscriber_stats)
    {
        match stat.stats {
            Some(proto::rtc_stats::Stats::OutboundRtp(s)) => out.outbound.push(RtpStreamStats {
                kind: s.stream.kind,
                packets: s.sent.packets_sent,
                bytes: s.sent.bytes_sent,
                frames: u64::from(s.outbound.frames_encoded),
                fps: s.outbound.frames_per_second,
                width: s.outbound.frame_width,
                height: s.outbound.frame_height,
                encoder: s.outbound.encoder_implementation,
                hardware_encoder: s.outbound.power_efficient_encoder,
                ..Default::default()
            }),
            Some(proto::rtc_stats::Stats::InboundRtp(s)) => out.inbound.push(RtpStreamStats {
                kind: s.stream.kind,
                packets: s.received.packets_received,
                bytes: s.inbound.bytes_received,
                packets_lost: s.received.packets_lost,
                jitter_s: s.received.jitter,
                frames: u64::from(s.inbound.frames_decoded),
                fps: s.inbound.frames_per_second,
                width: s.inbound.frame_width,
                height: s.inbound.frame_height,
                ..Default::default()
            }),
            _ => {}
        }
    }
    Ok(out)
}
