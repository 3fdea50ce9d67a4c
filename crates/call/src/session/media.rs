//! The local side of a call: devices opened, tracks published, remote
//! tracks played, and the tasks between them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tandem_lk as lk;
use tandem_media::audio::{self, Microphone, Speaker};
use tandem_media::camera::{self, CameraFeed};
use tandem_media::{FrameReceiver, I420Frame};
use tracing::Instrument;

use super::handle::{Out, Shared};
use super::types::{
    CallConfig, CallError, CallEvent, Device, LOCAL_VIDEO, MediaError, Received, SessionType,
};
use crate::room::{CameraTrack, MicTrack, Room};

/// Everything local in a call: tracks, devices, and the tasks between them.
/// Dropping it stops the tasks and closes the devices.
pub(super) struct Local<R: Room> {
    pub(super) video: Option<R::Camera>,
    pub(super) camera: Option<CameraFeed>,
    pub(super) camera_task: Option<tokio::task::JoinHandle<()>>,
    pub(super) audio: Option<R::Mic>,
    pub(super) mic: Option<Microphone>,
    pub(super) mic_task: Option<tokio::task::JoinHandle<()>>,
    /// Open while the microphone is on: closed, no sample reaches the
    /// track, whatever LiveKit's mute did.
    pub(super) mic_gate: Arc<AtomicBool>,
    pub(super) speaker: Option<Speaker>,
    pub(super) processor: Option<audio::SharedProcessor>,
    pub(super) remote_tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Which encoder the camera's video goes through.
    pub(super) encoder: super::encoder::EncoderWatch,
}

impl<R: Room> Default for Local<R> {
    fn default() -> Self {
        Self {
            video: None,
            camera: None,
            camera_task: None,
            audio: None,
            mic: None,
            mic_task: None,
            mic_gate: Arc::default(),
            speaker: None,
            processor: None,
            remote_tasks: Vec::new(),
            encoder: Default::default(),
        }
    }
}

impl<R: Room> Drop for Local<R> {
    fn drop(&mut self) {
        for t in self
            .camera_task
            .iter()
            .chain(&self.mic_task)
            .chain(&self.remote_tasks)
        {
            t.abort();
        }
    }
}

impl<R: Room> Local<R> {
    /// Gates the microphone locally first (off takes effect before anything
    /// else can fail), then mutes or unmutes the published track. Off holds
    /// even when LiveKit's mute fails: nothing leaves, the others just do
    /// not see the muted sign.
    pub(super) fn set_mic(&self, on: bool) -> Result<(), CallError> {
        if !on {
            self.mic_gate.store(false, Ordering::SeqCst);
        }
        let published = match &self.audio {
            Some(a) => a.set_muted(!on),
            None => Ok(()),
        };
        match (on, published) {
            (true, Ok(())) => {
                self.mic_gate.store(true, Ordering::SeqCst);
                Ok(())
            }
            (true, Err(e)) => Err(CallError::Unmute(e)),
            (false, Ok(())) => Ok(()),
            (false, Err(e)) => {
                tracing::warn!("LiveKit's mute failed ({e}); the microphone is gated locally");
                Ok(())
            }
        }
    }

    /// Stops the camera: no picture reaches the track, the device closes
    /// (its light goes out) and the preview goes; then the track is muted
    /// for the others to see.
    pub(super) fn camera_off(&mut self, shared: &Shared) {
        if let Some(t) = self.camera_task.take() {
            t.abort();
        }
        self.camera = None;
        if let Ok(mut v) = shared.video.lock() {
            v.remove(LOCAL_VIDEO);
        }
        if let Some(v) = &self.video
            && let Err(e) = v.set_muted(true)
        {
            // The camera is closed: nothing leaves either way.
            tracing::warn!("LiveKit's camera mute failed ({e}); the camera is closed");
        }
    }

    /// Tells which encoder the camera's video goes through (while it is
    /// published).
    pub(super) fn watch_encoder(&mut self, room: &R, out: &Out) {
        if self.video.is_some() {
            self.encoder.tick(room, out, super::lifecycle::now());
        }
    }

    /// Publishes our tracks again in a rejoined room, muted as they were.
    pub(super) async fn republish(&self, room: &R, mic_on: bool) {
        let mic_on = mic_on && self.mic_gate.load(Ordering::SeqCst);
        if let Some(a) = &self.audio {
            if let Err(e) = room.publish_mic(a).await {
                tracing::warn!("republishing the microphone failed: {e}");
            }
            if let Err(e) = a.set_muted(!mic_on) {
                tracing::warn!("muting the republished microphone failed: {e}");
            }
        }
        if let Some(v) = &self.video {
            if let Err(e) = room.publish_camera(v).await {
                tracing::warn!("republishing the camera failed: {e}");
            }
            if let Err(e) = v.set_muted(self.camera.is_none()) {
                tracing::warn!("muting the republished camera failed: {e}");
            }
        }
    }
}

pub(super) fn report_switch(
    out: &Out,
    device: Device,
    result: Result<(), audio::AudioError>,
    status: &tokio::sync::watch::Receiver<audio::DeviceStatus>,
) {
    match result {
        Ok(()) => {
            if let audio::DeviceStatus::Running(name) = status.borrow().clone() {
                out.emit(CallEvent::DeviceInUse { device, name });
            }
        }
        Err(e) => out.emit(CallEvent::DeviceProblem {
            device,
            error: e.into(),
        }),
    }
}

/// Reports a device thread's status changes (a device lost mid-call) as events.
pub(super) fn watch_device(
    out: &Out,
    device: Device,
    mut status: tokio::sync::watch::Receiver<audio::DeviceStatus>,
) -> tokio::task::JoinHandle<()> {
    let out = out.clone();
    let span = tracing::debug_span!("device watch", ?device);
    tokio::spawn(
        async move {
            while status.changed().await.is_ok() {
                if let audio::DeviceStatus::Lost(e) = status.borrow_and_update().clone() {
                    out.emit(CallEvent::DeviceProblem {
                        device,
                        error: e.into(),
                    });
                }
            }
        }
        .instrument(span),
    )
}

/// Opens the speaker, and publishes what the booking allows: the
/// microphone (voice and video) and the camera (video).
pub(super) async fn publish<R: Room>(
    cfg: &CallConfig,
    room: &R,
    local: &mut Local<R>,
    out: &Out,
    shared: &Shared,
) -> Result<(), MediaError> {
    let m = &cfg.media;
    if cfg.media.processing && cfg.session_type != SessionType::Chat {
        match audio::processor() {
            Ok(p) => local.processor = Some(p),
            Err(e) => out.emit(CallEvent::Warning(e.to_string())),
        }
    }
    // Opening a device waits on the audio server: off the async runtime.
    let (choice, processor) = (m.speaker.clone(), local.processor.clone());
    let opened = tokio::task::spawn_blocking(move || Speaker::start(choice, processor))
        .await
        .map_err(|e| MediaError::Thread(e.to_string()))?;
    match opened {
        Ok(sp) => {
            if let audio::DeviceStatus::Running(name) = sp.status().borrow().clone() {
                out.emit(CallEvent::DeviceInUse {
                    device: Device::Speaker,
                    name,
                });
            }
            local
                .remote_tasks
                .push(watch_device(out, Device::Speaker, sp.status()));
            local.speaker = Some(sp);
        }
        Err(e) => out.emit(CallEvent::DeviceProblem {
            device: Device::Speaker,
            error: e.into(),
        }),
    }
    if matches!(cfg.session_type, SessionType::Voice | SessionType::Video) {
        let publish = |error| MediaError::Publish {
            track: "microphone",
            error,
        };
        let track = room.new_mic().map_err(publish)?;
        let started = std::time::Instant::now();
        room.publish_mic(&track).await.map_err(publish)?;
        tracing::debug!(ms = started.elapsed().as_millis(), "microphone published");
        track.set_muted(!cfg.mic_on).map_err(publish)?;
        local.mic_gate.store(cfg.mic_on, Ordering::SeqCst);
        let choice = m.mic.clone();
        let processor = local.processor.clone();
        let denoise = Some(m.denoise.clone());
        match tokio::task::spawn_blocking(move || Microphone::start(choice, processor, denoise))
            .await
        {
            Ok(Ok(mut mic)) => {
                if let audio::DeviceStatus::Running(name) = mic.status().borrow().clone() {
                    out.emit(CallEvent::DeviceInUse {
                        device: Device::Microphone,
                        name,
                    });
                }
                if let Some(frames) = mic.take_frames() {
                    let gate = local.mic_gate.clone();
                    let sink = track.clone();
                    let pump = pump_mic(frames, gate, move |data| {
                        let sink = sink.clone();
                        async move { sink.capture(data).await }
                    });
                    local.mic_task = Some(tokio::spawn(
                        pump.instrument(tracing::info_span!("microphone")),
                    ));
                }
                local
                    .remote_tasks
                    .push(watch_device(out, Device::Microphone, mic.status()));
                local.mic = Some(mic);
            }
            Ok(Err(e)) => out.emit(CallEvent::DeviceProblem {
                device: Device::Microphone,
                error: e.into(),
            }),
            Err(e) => return Err(MediaError::Thread(e.to_string())),
        }
        local.audio = Some(track);
    }
    if cfg.session_type == SessionType::Video {
        // A camera that will not open is reported; the call goes on.
        let _ = set_camera(cfg, room, local, cfg.camera_on, out, shared).await;
    }
    Ok(())
}

/// Feeds microphone frames to `capture` while `gate` is open, and drops
/// them while it is closed; stops when the microphone or the sink ends.
pub(super) async fn pump_mic<F, Fut>(
    mut frames: tokio::sync::mpsc::Receiver<Vec<i16>>,
    gate: Arc<AtomicBool>,
    mut capture: F,
) where
    F: FnMut(Vec<i16>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    while let Some(data) = frames.recv().await {
        if !gate.load(Ordering::SeqCst) {
            continue;
        }
        if !capture(data).await {
            return;
        }
    }
}

/// Turns the camera on (opening it, publishing on first use) or off
/// (muting the track and closing the device, so its light goes out). A
/// camera that cannot start is reported as a device problem and returned.
pub(super) async fn set_camera<R: Room>(
    cfg: &CallConfig,
    room: &R,
    local: &mut Local<R>,
    on: bool,
    out: &Out,
    shared: &Shared,
) -> Result<(), MediaError> {
    if !on {
        local.camera_off(shared);
        return Ok(());
    }
    if local.camera.is_some() {
        return Ok(());
    }
    let problem = |error: MediaError| {
        out.emit(CallEvent::DeviceProblem {
            device: Device::Camera,
            error: error.clone(),
        });
        Err(error)
    };
    let (choice, format) = (cfg.media.camera.clone(), cfg.media.capture);
    let background = cfg.media.background.clone();
    let opened =
        tokio::task::spawn_blocking(move || camera::open_with(&choice, format, background))
            .await
            .map_err(|e| MediaError::Thread(e.to_string()))
            .and_then(|r| r.map_err(MediaError::from));
    let feed = match opened {
        Ok(feed) => feed,
        Err(error) => return problem(error),
    };
    let f = feed.format();
    if local.video.is_none() {
        let published = async {
            let track = room.new_camera(f.width, f.height)?;
            room.publish_camera(&track).await?;
            Ok::<_, crate::room::RoomError>(track)
        };
        match published.await {
            Ok(track) => local.video = Some(track),
            Err(error) => {
                return problem(MediaError::Publish {
                    track: "camera",
                    error,
                });
            }
        }
    }
    if let Some(v) = &local.video
        && let Err(e) = v.set_muted(false)
    {
        tracing::warn!("LiveKit's camera unmute failed: {e}");
    }
    out.emit(camera_in_use(&feed));
    shared.set_video(LOCAL_VIDEO, feed.frames());
    if let Some(track) = local.video.clone() {
        let out = out.clone();
        local.camera_task = Some(pump(
            feed.frames(),
            feed.status(),
            track,
            tracing::info_span!("camera"),
            move |e| {
                out.emit(CallEvent::DeviceProblem {
                    device: Device::Camera,
                    error: e.into(),
                })
            },
        ));
    }
    local.camera = Some(feed);
    Ok(())
}

/// "Camera in use", naming the camera and what it delivers.
pub(super) fn camera_in_use(feed: &CameraFeed) -> CallEvent {
    let f = feed.format();
    CallEvent::DeviceInUse {
        device: Device::Camera,
        name: format!(
            "{} ({}×{} at {} fps)",
            feed.name(),
            f.width,
            f.height,
            f.fps
        ),
    }
}

/// Sends a feed's newest pictures (a camera's, a shared screen's) to the
/// published track at the track's size until the feed stops; `failed`
/// hears why, when it failed.
pub(super) fn pump<C: CameraTrack, E: Clone + Send + Sync + 'static>(
    mut frames: FrameReceiver,
    mut status: tokio::sync::watch::Receiver<tandem_media::feed::FeedStatus<E>>,
    track: C,
    span: tracing::Span,
    failed: impl FnOnce(E) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    use tandem_media::feed::FeedStatus;
    tokio::spawn(
        async move {
            let (w, h) = track.resolution();
            loop {
                tokio::select! {
                    changed = frames.changed() => {
                        if changed.is_err() { return; }
                        let Some(frame) = frames.borrow_and_update().clone() else { continue };
                        if !send_at(&track, &frame, (w, h)) { return; }
                    }
                    changed = status.changed() => {
                        if changed.is_err() { return; }
                        match status.borrow_and_update().clone() {
                            FeedStatus::Running => {}
                            FeedStatus::Failed(e) => return failed(e),
                            FeedStatus::Stopped => return,
                        }
                    }
                }
            }
        }
        .instrument(span),
    )
}

/// Hands `frame` to `track` at `size` (scaled when it differs; a frame that
/// cannot be scaled is skipped); false once the track is gone for good.
pub(super) fn send_at<C: CameraTrack>(track: &C, frame: &I420Frame, size: (u32, u32)) -> bool {
    if (frame.width(), frame.height()) == size {
        track.capture(frame)
    } else {
        frame
            .scaled(size.0, size.1)
            .map_or(true, |f| track.capture(&f))
    }
}

/// Starts playing a remote track: audio into the speaker's mix, video into
/// a newest-frame slot readable with [`super::CallHandle::video`].
pub(super) fn play_remote<R: Room>(
    identity: &str,
    track: &lk::Track,
    local: &Local<R>,
    out: &Out,
    shared: &Shared,
) -> Option<tokio::task::JoinHandle<()>> {
    let meter = Meter::new(identity, shared);
    let span = tracing::info_span!("remote track", participant = %identity, kind = ?track.kind(), sid = %track.sid());
    match track.kind() {
        lk::TrackKind::Audio => {
            let mut input = local.speaker.as_ref()?.add_input();
            let mut stream = lk::AudioStream::new(track, lk::AudioStreamOptions::default()).ok()?;
            Some(tokio::spawn(
                async move {
                    let mut recent: Vec<i16> = Vec::with_capacity(audio::RATE as usize);
                    while let Some(frame) = stream.next().await {
                        input.push(&frame.data);
                        meter.audio(&mut recent, &frame.data);
                    }
                }
                .instrument(span),
            ))
        }
        lk::TrackKind::Video => {
            let mut stream = lk::VideoStream::new(track, lk::VideoStreamOptions::default()).ok()?;
            let (tx, rx) = tandem_media::frame::newest_frame_channel();
            shared.set_video(identity, rx);
            out.emit(CallEvent::VideoAvailable {
                identity: identity.to_owned(),
            });
            Some(tokio::spawn(
                async move {
                    while let Some(frame) = stream.next().await {
                        let Some(f) = to_frame(&frame) else { continue };
                        meter.video(&f);
                        tx.send_replace(Some(Arc::new(f)));
                    }
                }
                .instrument(span),
            ))
        }
        _ => None,
    }
}

/// Keeps what has arrived from one participant up to date for
/// [`super::CallHandle::received`]: frame counts, sound level and pitch, picture
/// size, and the stamp's counter and delay when the picture carries one.
#[derive(Clone)]
pub(super) struct Meter {
    who: String,
    received: Arc<std::sync::Mutex<std::collections::HashMap<String, Received>>>,
}

impl Meter {
    pub(super) fn new(who: &str, shared: &Shared) -> Self {
        Self {
            who: who.to_owned(),
            received: shared.received.clone(),
        }
    }

    fn update(&self, f: impl FnOnce(&mut Received)) {
        if let Ok(mut r) = self.received.lock() {
            f(r.entry(self.who.clone()).or_default());
        }
    }

    /// Counts a block of sound; every half second of it (gathered in
    /// `recent`) also gives the level and pitch.
    pub(super) fn audio(&self, recent: &mut Vec<i16>, pcm: &[i16]) {
        recent.extend_from_slice(pcm);
        if recent.len() >= audio::RATE as usize / 2 {
            let level = audio::Level::of(recent);
            let hz = audio::dominant_hz(recent, audio::RATE);
            self.update(|r| {
                r.audio_dbfs = level.rms_dbfs;
                r.audio_hz = hz;
            });
            recent.clear();
        }
        self.update(|r| r.audio_frames += 1);
    }

    /// Counts a picture and reads its stamp.
    pub(super) fn video(&self, f: &I420Frame) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let stamp =
            tandem_media::stamp::read(f.planes().0, f.width() as usize, f.width(), f.height());
        self.update(|r| {
            r.video_frames += 1;
            r.video_size = (f.width(), f.height());
            r.video_counter = stamp.map(|s| s.counter);
            r.video_latency_ms = stamp.map(|s| now_ms - s.time_near(now_ms as u64) as i64);
        });
    }
}

/// Copies a received frame into an owned I420 picture (rounded down to even).
pub(super) fn to_frame(frame: &lk::VideoFrame) -> Option<I420Frame> {
    let (w, h) = (frame.width() & !1, frame.height() & !1);
    let mut out = I420Frame::new(w, h).ok()?;
    let src = frame.planes();
    let (dy, du, dv) = out.planes_mut();
    for (dst, plane, width) in [
        (dy, src[0], w as usize),
        (du, src[1], w as usize / 2),
        (dv, src[2], w as usize / 2),
    ] {
        for (row, line) in dst.chunks_mut(width).enumerate() {
            let start = row * plane.stride as usize;
            line.copy_from_slice(plane.data.get(start..start + width)?);
        }
    }
    out.captured_us = frame
        .meta
        .user_timestamp_us
        .and_then(|t| i64::try_from(t).ok())
        .unwrap_or(0);
    out.received_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// No sample reaches the source while the gate is closed, whatever
    /// happens to LiveKit's mute; samples flow again once it opens.
    #[tokio::test]
    async fn a_closed_mic_gate_lets_no_sample_through() {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let gate = Arc::new(AtomicBool::new(true));
        let (sink_tx, mut sink) = tokio::sync::mpsc::unbounded_channel::<Vec<i16>>();
        let pump = tokio::spawn(pump_mic(rx, gate.clone(), move |d| {
            let sink_tx = sink_tx.clone();
            async move { sink_tx.send(d).is_ok() }
        }));
        tx.send(vec![1; 480]).await.unwrap();
        assert_eq!(sink.recv().await.unwrap()[0], 1);
        gate.store(false, Ordering::SeqCst);
        for i in 0..50 {
            tx.send(vec![2 + i; 480]).await.unwrap();
        }
        // Every frame sent while closed is consumed (this runtime runs the
        // pump only while the test waits) before the gate opens again.
        while tx.capacity() < 64 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        gate.store(true, Ordering::SeqCst);
        tx.send(vec![99; 480]).await.unwrap();
        let next = sink.recv().await.unwrap();
        assert_eq!(next[0], 99, "a sample from the muted time leaked");
        drop(tx);
        pump.await.unwrap();
        assert!(sink.try_recv().is_err());
    }
}
