//! Audio in and out: a source we push 16-bit PCM into, local audio
//! tracks, and a stream of PCM frames from any track at a chosen rate.

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

/// Interleaved signed 16-bit PCM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame {
    /// Samples, interleaved by channel.
    pub data: Vec<i16>,
    /// Samples per second.
    pub sample_rate: u32,
    /// 1 (mono) or 2 (stereo).
    pub channels: u32,
}

impl AudioFrame {
    /// Samples in each channel.
    pub fn samples_per_channel(&self) -> usize {
        if self.channels == 0 {
            0
        } else {
            self.data.len() / self.channels as usize
        }
    }

    fn validate(&self) -> Result<(), LkError> {
        let invalid = |why: String| {
            Err(LkError::Invalid {
                what: "audio frame",
                why,
            })
        };
        if !(1..=8).contains(&self.channels) {
            return invalid(format!("{} channels", self.channels));
        }
        if !(8_000..=192_000).contains(&self.sample_rate) {
            return invalid(format!("sample rate {}", self.sample_rate));
        }
        if self.data.is_empty() || !self.data.len().is_multiple_of(self.channels as usize) {
            return invalid(format!(
                "{} samples for {} channels",
                self.data.len(),
                self.channels
            ));
        }
        Ok(())
    }

    fn buffer_info(&self) -> proto::AudioFrameBufferInfo {
        proto::AudioFrameBufferInfo {
            data_ptr: self.data.as_ptr() as u64,
            num_channels: self.channels,
            sample_rate: self.sample_rate,
            samples_per_channel: self.samples_per_channel() as u32,
        }
    }
}

/// Options for an [`AudioSource`].
#[derive(Debug, Clone, Copy)]
pub struct AudioSourceOptions {
    /// Rate of the frames that will be captured.
    pub sample_rate: u32,
    /// Channels of the frames that will be captured.
    pub channels: u32,
    /// How much audio LiveKit buffers ahead of the encoder; capture waits
    /// when it is full, which paces a producer that runs ahead.
    pub queue_ms: u32,
}

impl Default for AudioSourceOptions {
    fn default() -> Self {
        Self {
            sample_rate: 48_000,
            channels: 1,
            queue_ms: 100,
        }
    }
}

/// Where local audio enters LiveKit.
#[derive(Debug, Clone)]
pub struct AudioSource {
    handle: Arc<FfiHandle>,
    options: AudioSourceOptions,
}

impl AudioSource {
    /// A source for frames at the given rate and channel count. Echo
    /// cancellation is done by [`AudioProcessor`] before capture, not here.
    pub fn new(options: AudioSourceOptions) -> Result<Self, LkError> {
        let client = ffi::client().map_err(FfiError::from)?;
        let response = client.request(Rq::NewAudioSource(proto::NewAudioSourceRequest {
            r#type: proto::AudioSourceType::AudioSourceNative as i32,
            options: Some(proto::AudioSourceOptions {
                echo_cancellation: false,
                noise_suppression: false,
                auto_gain_control: false,
                prefer_hardware: None,
            }),
            sample_rate: Some(options.sample_rate),
            num_channels: Some(options.channels),
            queue_size_ms: Some(options.queue_ms),
            platform_audio_handle: None,
        }))?;
        let Rs::NewAudioSource(r) = response else {
            return Err(
                FfiError::Protocol("NewAudioSource answered with another message".into()).into(),
            );
        };
        Ok(Self {
            handle: Arc::new(FfiHandle::new(r.source.handle.id)),
            options,
        })
    }

    /// The options given at creation.
    pub fn options(&self) -> AudioSourceOptions {
        self.options
    }

    /// Queues one frame (10 ms is the natural size). Completes when LiveKit
    /// has taken it; waits while its queue is full.
    pub async fn capture(&self, frame: AudioFrame) -> Result<(), LkError> {
        frame.validate()?;
        if frame.sample_rate != self.options.sample_rate || frame.channels != self.options.channels
        {
            return Err(LkError::Invalid {
                what: "audio frame",
                why: format!(
                    "{} Hz × {} ch, but the source was made for {} Hz × {} ch",
                    frame.sample_rate,
                    frame.channels,
                    self.options.sample_rate,
                    self.options.channels
                ),
            });
        }
        let client = ffi::client().map_err(FfiError::from)?;
        let async_id = client.next_async_id();
        let buffer = frame.buffer_info();
        // The library reads the samples until its callback: they live in the
        // pending entry, not in this future, so cancelling cannot free them.
        let reply = client.expect_callback(async_id, Some(Box::new(frame)));
        let sent = client.request(Rq::CaptureAudioFrame(proto::CaptureAudioFrameRequest {
            source_handle: self.handle.id(),
            buffer,
            request_async_id: Some(async_id),
        }));
        if let Err(e) = sent {
            client.forget_callback(async_id);
            return Err(e.into());
        }
        match reply.await {
            Ok(Ev::CaptureAudioFrame(cb)) => match cb.error {
                Some(reason) => Err(LkError::Failed {
                    operation: "capturing audio",
                    reason,
                }),
                None => Ok(()),
            },
            Ok(_) => Err(FfiError::Protocol(
                "CaptureAudioFrame answered with another event".into(),
            )
            .into()),
            Err(_) => Err(FfiError::Closed.into()),
        }
    }
}

/// An audio track fed by an [`AudioSource`], ready to publish.
#[derive(Debug, Clone)]
pub struct LocalAudioTrack {
    pub(crate) track: Track,
    _source: AudioSource,
}

impl LocalAudioTrack {
    /// Creates a track named `name` that carries `source`'s audio.
    pub fn new(name: &str, source: &AudioSource) -> Result<Self, LkError> {
        let track =
            crate::track_ops::create_local(Rq::CreateAudioTrack(proto::CreateAudioTrackRequest {
                name: name.to_owned(),
                source_handle: source.handle.id(),
            }))?;
        Ok(Self {
            track,
            _source: source.clone(),
        })
    }

    /// The underlying track.
    pub fn track(&self) -> &Track {
        &self.track
    }

    /// Mutes or unmutes.
    pub fn set_muted(&self, muted: bool) -> Result<(), LkError> {
        crate::track_ops::set_muted(&self.track, muted)
    }
}

/// Options for an [`AudioStream`].
#[derive(Debug, Clone, Copy)]
pub struct AudioStreamOptions {
    /// Rate to deliver at (LiveKit resamples).
    pub sample_rate: u32,
    /// Channels to deliver (LiveKit remixes).
    pub channels: u32,
    /// Frames (of 10 ms) kept when the reader falls behind; older are dropped.
    pub queue_frames: usize,
}

impl Default for AudioStreamOptions {
    fn default() -> Self {
        Self {
            sample_rate: 48_000,
            channels: 1,
            queue_frames: 50,
        }
    }
}

impl EventSink for DropOldest<AudioFrame> {
    fn deliver(&self, event: Ev) {
        let Ev::AudioStreamEvent(e) = event else {
            return;
        };
        match e.message {
            Some(proto::audio_stream_event::Message::FrameReceived(f)) => {
                let owned = FfiHandle::new(f.frame.handle.id);
                let info = f.frame.info;
                let len = info.samples_per_channel as usize * info.num_channels as usize;
                let data = if info.data_ptr == 0 || len == 0 {
                    Vec::new()
                } else {
                    // SAFETY: the library keeps the frame's samples alive until
                    // `owned` is dropped below; the length comes from the same info.
                    unsafe { std::slice::from_raw_parts(info.data_ptr as *const i16, len) }.to_vec()
                };
                drop(owned);
                self.push(AudioFrame {
                    data,
                    sample_rate: info.sample_rate,
                    channels: info.num_channels,
                });
            }
            Some(proto::audio_stream_event::Message::Eos(_)) => self.close(),
            None => {}
        }
    }
}

/// PCM frames from a track.
pub struct AudioStream {
    handle: FfiHandle,
    queue: Arc<DropOldest<AudioFrame>>,
    /// The stream ends when the native track is released, so it keeps one.
    _track: Track,
}

impl std::fmt::Debug for AudioStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioStream")
            .field("handle", &self.handle.id())
            .finish()
    }
}

impl AudioStream {
    /// Starts receiving `track`'s audio at the chosen rate and channels.
    pub fn new(track: &Track, options: AudioStreamOptions) -> Result<Self, LkError> {
        if !(8_000..=192_000).contains(&options.sample_rate) || !(1..=2).contains(&options.channels)
        {
            return Err(LkError::Invalid {
                what: "audio stream format",
                why: format!("{} Hz × {} ch", options.sample_rate, options.channels),
            });
        }
        let client = ffi::client().map_err(FfiError::from)?;
        let response = client.request(Rq::NewAudioStream(proto::NewAudioStreamRequest {
            track_handle: track.handle.id(),
            r#type: proto::AudioStreamType::AudioStreamNative as i32,
            sample_rate: Some(options.sample_rate),
            num_channels: Some(options.channels),
            audio_filter_module_id: None,
            audio_filter_options: None,
            frame_size_ms: Some(10),
            queue_size_frames: Some(options.queue_frames.clamp(1, 1000) as u32),
        }))?;
        let Rs::NewAudioStream(r) = response else {
            return Err(
                FfiError::Protocol("NewAudioStream answered with another message".into()).into(),
            );
        };
        let handle = FfiHandle::new(r.stream.handle.id);
        let queue = Arc::new(DropOldest::new(options.queue_frames.clamp(1, 1000)));
        client.register_sink(handle.id(), queue.clone());
        Ok(Self {
            handle,
            queue,
            _track: track.clone(),
        })
    }

    /// The next frame; `None` when the track ended.
    pub async fn next(&mut self) -> Option<AudioFrame> {
        self.queue.pop(false).await
    }

    /// Frames dropped because the reader was behind.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }
}

impl Drop for AudioStream {
    fn drop(&mut self) {
        if let Some(client) = ffi::client_if_loaded() {
            client.unregister_sink(self.handle.id());
        }
    }
}
