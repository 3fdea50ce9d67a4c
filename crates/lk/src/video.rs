//! Video in and out: a source we push I420 frames into, local video
//! tracks, and a stream of frames from any track (zero-copy, bounded,
//! newest-frame friendly).

use crate::error::{FfiError, LkError};
use crate::ffi::{self, EventSink};
use crate::handle::FfiHandle;
use crate::proto;
use crate::proto::ffi_event::Message as Ev;
use crate::proto::ffi_request::Message as Rq;
use crate::proto::ffi_response::Message as Rs;
use crate::queue::DropOldest;
use crate::track::Track;
use std::sync::Arc;

/// An I420 image with tightly packed planes (Y, then U, then V).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I420Buffer {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl I420Buffer {
    /// A black image. Width and height must be non-zero.
    pub fn new(width: u32, height: u32) -> Result<Self, LkError> {
        if width == 0 || height == 0 || width > 8192 || height > 8192 {
            return Err(LkError::Invalid {
                what: "frame size",
                why: format!("{width}x{height} is outside 1..=8192"),
            });
        }
        let (y, c) = Self::plane_sizes(width, height);
        let mut data = vec![0u8; y + 2 * c];
        data[y..].fill(128);
        Ok(Self {
            width,
            height,
            data,
        })
    }

    fn plane_sizes(width: u32, height: u32) -> (usize, usize) {
        let y = width as usize * height as usize;
        let c = width.div_ceil(2) as usize * height.div_ceil(2) as usize;
        (y, c)
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Row strides of Y, U and V.
    pub fn strides(&self) -> (u32, u32, u32) {
        let c = self.width.div_ceil(2);
        (self.width, c, c)
    }

    /// The three planes, mutable.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let (y, c) = Self::plane_sizes(self.width, self.height);
        let (py, rest) = self.data.split_at_mut(y);
        let (pu, pv) = rest.split_at_mut(c);
        (py, pu, pv)
    }

    /// The three planes.
    pub fn planes(&self) -> (&[u8], &[u8], &[u8]) {
        let (y, c) = Self::plane_sizes(self.width, self.height);
        (&self.data[..y], &self.data[y..y + c], &self.data[y + c..])
    }

    fn buffer_info(&self) -> proto::VideoBufferInfo {
        let (y, c) = Self::plane_sizes(self.width, self.height);
        let (sy, su, sv) = self.strides();
        let base = self.data.as_ptr() as u64;
        let component =
            |offset: usize, stride: u32, size: usize| proto::video_buffer_info::ComponentInfo {
                data_ptr: base + offset as u64,
                stride,
                size: size as u32,
            };
        proto::VideoBufferInfo {
            r#type: proto::VideoBufferType::I420 as i32,
            width: self.width,
            height: self.height,
            data_ptr: base,
            stride: None,
            components: vec![
                component(0, sy, y),
                component(y, su, c),
                component(y + c, sv, c),
            ],
        }
    }
}

/// Extra data carried with a frame from sender to receiver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameMeta {
    /// A capture time chosen by the sender (e.g. µs since the Unix epoch).
    pub user_timestamp_us: Option<u64>,
    /// A frame counter chosen by the sender.
    pub frame_id: Option<u32>,
}

/// Where local video frames enter LiveKit.
#[derive(Debug, Clone)]
pub struct VideoSource {
    handle: Arc<FfiHandle>,
    width: u32,
    height: u32,
}

impl VideoSource {
    /// A source for frames of about `width`×`height`.
    pub fn new(width: u32, height: u32) -> Result<Self, LkError> {
        if width == 0 || height == 0 {
            return Err(LkError::Invalid {
                what: "video source size",
                why: format!("{width}x{height}"),
            });
        }
        let client = ffi::client().map_err(FfiError::from)?;
        let response = client.request(Rq::NewVideoSource(proto::NewVideoSourceRequest {
            r#type: proto::VideoSourceType::VideoSourceNative as i32,
            resolution: proto::VideoSourceResolution { width, height },
            is_screencast: Some(false),
        }))?;
        let Rs::NewVideoSource(r) = response else {
            return Err(
                FfiError::Protocol("NewVideoSource answered with another message".into()).into(),
            );
        };
        Ok(Self {
            handle: Arc::new(FfiHandle::new(r.source.handle.id)),
            width,
            height,
        })
    }

    /// The size given at creation.
    pub fn resolution(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Hands one frame to LiveKit (copied before this returns).
    pub fn capture(
        &self,
        frame: &I420Buffer,
        timestamp_us: i64,
        meta: FrameMeta,
    ) -> Result<(), LkError> {
        let client = ffi::client().map_err(FfiError::from)?;
        let metadata = (meta.user_timestamp_us.is_some() || meta.frame_id.is_some()).then(|| {
            proto::FrameMetadata {
                user_timestamp: meta.user_timestamp_us,
                frame_id: meta.frame_id,
                user_data: None,
            }
        });
        let response = client.request(Rq::CaptureVideoFrame(proto::CaptureVideoFrameRequest {
            source_handle: self.handle.id(),
            buffer: frame.buffer_info(),
            timestamp_us,
            rotation: proto::VideoRotation::VideoRotation0 as i32,
            metadata,
        }))?;
        match response {
            Rs::CaptureVideoFrame(_) => Ok(()),
            _ => Err(
                FfiError::Protocol("CaptureVideoFrame answered with another message".into()).into(),
            ),
        }
    }
}

/// A video track fed by a [`VideoSource`], ready to publish.
#[derive(Debug, Clone)]
pub struct LocalVideoTrack {
    pub(crate) track: Track,
    _source: VideoSource,
}

impl LocalVideoTrack {
    /// Creates a track named `name` that carries `source`'s frames.
    pub fn new(name: &str, source: &VideoSource) -> Result<Self, LkError> {
        let track =
            crate::track_ops::create_local(Rq::CreateVideoTrack(proto::CreateVideoTrackRequest {
                name: name.to_owned(),
                source_handle: source.handle.id(),
            }))?;
        Ok(Self {
            track,
            _source: source.clone(),
        })
    }

    /// The underlying track (to publish, or to watch locally).
    pub fn track(&self) -> &Track {
        &self.track
    }

    /// Mutes or unmutes (a muted track sends black or nothing).
    pub fn set_muted(&self, muted: bool) -> Result<(), LkError> {
        crate::track_ops::set_muted(&self.track, muted)
    }
}

/// A frame received from a track. Its planes are read in place from
/// LiveKit's buffer, which is released when the frame is dropped.
#[derive(Debug)]
pub struct VideoFrame {
    // Owns the native buffer the planes point into; released on drop.
    _buffer: FfiHandle,
    info: proto::VideoBufferInfo,
    /// WebRTC's receive clock, in µs.
    pub timestamp_us: i64,
    /// The sender's metadata, when it sent some.
    pub meta: FrameMeta,
}

/// One plane of a received frame.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    /// The bytes, `stride * rows` long.
    pub data: &'a [u8],
    /// Bytes per row.
    pub stride: u32,
}

impl VideoFrame {
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.info.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.info.height
    }

    /// Y, U and V planes (I420).
    pub fn planes(&self) -> [Plane<'_>; 3] {
        let plane = |i: usize| {
            self.info.components.get(i).map_or(
                Plane {
                    data: &[],
                    stride: 0,
                },
                |c| Plane {
                    // SAFETY: LiveKit keeps the buffer (all components) alive until
                    // `self.buffer` is dropped, which cannot happen while `&self` is
                    // borrowed; the pointer and size come from the same buffer info.
                    data: unsafe {
                        std::slice::from_raw_parts(c.data_ptr as *const u8, c.size as usize)
                    },
                    stride: c.stride,
                },
            )
        };
        [plane(0), plane(1), plane(2)]
    }

    /// Copies the frame into a packed [`I420Buffer`].
    pub fn to_i420(&self) -> Result<I420Buffer, LkError> {
        let mut out = I420Buffer::new(self.width(), self.height())?;
        let (w, h) = (self.width() as usize, self.height() as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let src = self.planes();
        let (dy, du, dv) = out.planes_mut();
        for (dst, plane, width, rows) in [
            (dy, src[0], w, h),
            (du, src[1], cw, ch),
            (dv, src[2], cw, ch),
        ] {
            for row in 0..rows {
                let s = row * plane.stride as usize;
                let Some(line) = plane.data.get(s..s + width) else {
                    break;
                };
                dst[row * width..(row + 1) * width].copy_from_slice(line);
            }
        }
        Ok(out)
    }

    fn from_proto(f: proto::VideoFrameReceived) -> Self {
        let meta = f
            .metadata
            .map(|m| FrameMeta {
                user_timestamp_us: m.user_timestamp,
                frame_id: m.frame_id,
            })
            .unwrap_or_default();
        Self {
            _buffer: FfiHandle::new(f.buffer.handle.id),
            info: f.buffer.info,
            timestamp_us: f.timestamp_us,
            meta,
        }
    }
}

/// Options for a [`VideoStream`].
#[derive(Debug, Clone, Copy)]
pub struct VideoStreamOptions {
    /// Frames kept when the reader falls behind; the oldest are dropped.
    pub queue_frames: usize,
}

impl Default for VideoStreamOptions {
    fn default() -> Self {
        Self { queue_frames: 4 }
    }
}

impl EventSink for DropOldest<VideoFrame> {
    fn deliver(&self, event: Ev) {
        let Ev::VideoStreamEvent(e) = event else {
            return;
        };
        match e.message {
            Some(proto::video_stream_event::Message::FrameReceived(f)) => {
                self.push(VideoFrame::from_proto(f))
            }
            Some(proto::video_stream_event::Message::Eos(_)) => self.close(),
            None => {}
        }
    }
}

/// Frames from a track, oldest first, or skipping to the newest.
pub struct VideoStream {
    handle: FfiHandle,
    queue: Arc<DropOldest<VideoFrame>>,
    /// The stream ends when the native track is released, so it keeps one.
    _track: Track,
}

impl std::fmt::Debug for VideoStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoStream")
            .field("handle", &self.handle.id())
            .finish()
    }
}

impl VideoStream {
    /// Starts receiving `track`'s frames as I420.
    pub fn new(track: &Track, options: VideoStreamOptions) -> Result<Self, LkError> {
        let capacity = options.queue_frames.clamp(1, 120);
        let client = ffi::client().map_err(FfiError::from)?;
        let response = client.request(Rq::NewVideoStream(proto::NewVideoStreamRequest {
            track_handle: track.handle.id(),
            r#type: proto::VideoStreamType::VideoStreamNative as i32,
            format: Some(proto::VideoBufferType::I420 as i32),
            normalize_stride: Some(true),
            queue_size_frames: Some(capacity as u32),
        }))?;
        let Rs::NewVideoStream(r) = response else {
            return Err(
                FfiError::Protocol("NewVideoStream answered with another message".into()).into(),
            );
        };
        let handle = FfiHandle::new(r.stream.handle.id);
        let queue = Arc::new(DropOldest::new(capacity));
        client.register_sink(handle.id(), queue.clone());
        Ok(Self {
            handle,
            queue,
            _track: track.clone(),
        })
    }

    /// The next frame, oldest first; `None` when the track ended.
    pub async fn next(&mut self) -> Option<VideoFrame> {
        self.queue.pop(false).await
    }

    /// The newest frame, dropping older queued ones; `None` when ended.
    pub async fn latest(&mut self) -> Option<VideoFrame> {
        self.queue.pop(true).await
    }

    /// Frames received from LiveKit so far.
    pub fn received(&self) -> u64 {
        self.queue.received()
    }

    /// Frames dropped because the reader was behind.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }
}

impl Drop for VideoStream {
    fn drop(&mut self) {
        if let Some(client) = ffi::client_if_loaded() {
            client.unregister_sink(self.handle.id());
        }
        self.queue.clear();
    }
}
