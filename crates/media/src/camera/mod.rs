//! Cameras: a [`CameraSource`] is read on its own thread by a [`CameraFeed`],
//! which keeps only the newest I420 frame for whoever draws or sends it.

mod native;
mod pattern;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

pub use native::{NativeCamera, list_cameras};
pub use pattern::{PatternColour, TestPattern};

use crate::frame::{FrameError, FrameReceiver, I420Frame, newest_frame_channel};

/// A camera the system offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraInfo {
    /// Stable within a session of the OS; pass it back to open the camera.
    pub id: String,
    /// What a person would call it.
    pub name: String,
}

/// The picture size and rate a camera should deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureFormat {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

impl Default for CaptureFormat {
    /// 1280×720 at 30 frames a second.
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
            fps: 30,
        }
    }
}

/// What can go wrong with a camera.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CameraError {
    #[error("no camera was found; connect one, or join without video")]
    NoCamera,
    #[error("the camera \"{0}\" is not connected (any more)")]
    NotFound(String),
    #[error("the camera \"{0}\" is in use by another application; close it and try again")]
    Busy(String),
    #[error("the camera was unplugged or stopped delivering pictures")]
    Unplugged,
    #[error("the camera's pictures cannot be used: {0}")]
    Format(#[from] FrameError),
    #[error("the camera could not be used: {0}")]
    Other(String),
}

/// A source of pictures. It is opened and read on the feed's own thread, so
/// it need not be `Send`; `next_frame` may block until a picture is ready.
pub trait CameraSource {
    /// The size and rate it delivers.
    fn format(&self) -> CaptureFormat;
    /// The next picture; `captured_us` set to the capture time.
    fn next_frame(&mut self) -> Result<I420Frame, CameraError>;
}

/// Where a feed is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraStatus {
    Running,
    /// The source failed after starting (unplugged…); the feed has stopped.
    Failed(CameraError),
    /// Stopped by its owner.
    Stopped,
}

/// A running camera: its thread, the newest frame, and its status. Dropping
/// it stops the thread.
#[derive(Debug)]
pub struct CameraFeed {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    frames: FrameReceiver,
    status: watch::Receiver<CameraStatus>,
    format: CaptureFormat,
    delivered: Arc<AtomicU64>,
    name: String,
}

impl CameraFeed {
    /// Opens a source with `open` on a new thread and starts reading it;
    /// returns once it is open, or with the error that kept it shut.
    pub fn start<S, F>(name: &str, open: F) -> Result<Self, CameraError>
    where
        S: CameraSource,
        F: FnOnce() -> Result<S, CameraError> + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let (frame_tx, frames) = newest_frame_channel();
        let (status_tx, status) = watch::channel(CameraStatus::Running);
        let (opened_tx, opened_rx) = std::sync::mpsc::sync_channel(1);
        let delivered = Arc::new(AtomicU64::new(0));
        let (stop2, delivered2) = (stop.clone(), delivered.clone());
        let thread = std::thread::Builder::new()
            .name(format!("camera {name}"))
            .spawn(move || {
                let mut source = match open() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                let _ = opened_tx.send(Ok(source.format()));
                let end = loop {
                    if stop2.load(Ordering::Relaxed) {
                        break CameraStatus::Stopped;
                    }
                    match source.next_frame() {
                        Ok(frame) => {
                            frame_tx.send_replace(Some(Arc::new(frame)));
                            delivered2.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "camera stopped");
                            break CameraStatus::Failed(e);
                        }
                    }
                };
                let _ = status_tx.send(end);
            })
            .map_err(|e| CameraError::Other(format!("cannot start its thread: {e}")))?;
        let format = match opened_rx.recv_timeout(Duration::from_secs(15)) {
            Ok(Ok(format)) => format,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                stop.store(true, Ordering::Relaxed);
                return Err(CameraError::Other("it did not open within 15 s".into()));
            }
        };
        Ok(Self {
            stop,
            thread: Some(thread),
            frames,
            status,
            format,
            delivered,
            name: name.to_owned(),
        })
    }

    /// What the camera is called.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The newest picture, replaced as new ones arrive.
    pub fn frames(&self) -> FrameReceiver {
        self.frames.clone()
    }

    /// Running, or why it stopped.
    pub fn status(&self) -> watch::Receiver<CameraStatus> {
        self.status.clone()
    }

    /// The size and rate the source delivers.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Pictures delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }
}

impl Drop for CameraFeed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // A native read returns within a frame time; do not wait on it from
        // an async context any longer than that.
        if let Some(t) = self.thread.take() {
            std::thread::spawn(move || {
                let _ = t.join();
            });
        }
    }
}

/// What to capture pictures from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraChoice {
    /// The moving test pattern.
    TestPattern(PatternColour),
    /// The system's first camera.
    Default,
    /// A camera by its [`CameraInfo::id`].
    Id(String),
}

/// Opens the chosen camera at `format` (or the nearest it offers).
pub fn open(choice: &CameraChoice, format: CaptureFormat) -> Result<CameraFeed, CameraError> {
    match choice.clone() {
        CameraChoice::TestPattern(colour) => {
            CameraFeed::start("test pattern", move || TestPattern::new(format, colour))
        }
        CameraChoice::Default => {
            let first = list_cameras()?
                .into_iter()
                .next()
                .ok_or(CameraError::NoCamera)?;
            CameraFeed::start(&first.name, move || NativeCamera::open(&first.id, format))
        }
        CameraChoice::Id(id) => {
            let name = id.clone();
            CameraFeed::start(&name, move || NativeCamera::open(&id, format))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    struct Flaky {
        left: u32,
    }

    impl CameraSource for Flaky {
        fn format(&self) -> CaptureFormat {
            CaptureFormat {
                width: 64,
                height: 32,
                fps: 100,
            }
        }
        fn next_frame(&mut self) -> Result<I420Frame, CameraError> {
            std::thread::sleep(Duration::from_millis(10));
            if self.left == 0 {
                return Err(CameraError::Unplugged);
            }
            self.left -= 1;
            let mut f = I420Frame::new(64, 32)?;
            f.captured_us = i64::from(self.left);
            Ok(f)
        }
    }

    #[tokio::test]
    async fn an_unplugged_camera_is_a_status_not_a_crash() {
        let feed = CameraFeed::start("flaky", || Ok(Flaky { left: 5 })).unwrap();
        let mut status = feed.status();
        let s = status
            .wait_for(|s| *s != CameraStatus::Running)
            .await
            .unwrap()
            .clone();
        assert_eq!(s, CameraStatus::Failed(CameraError::Unplugged));
        assert_eq!(feed.delivered(), 5);
        // The newest frame is the last one delivered.
        assert_eq!(feed.frames().borrow().as_ref().unwrap().captured_us, 0);
    }

    #[test]
    fn a_source_that_cannot_open_reports_why() {
        let r = CameraFeed::start::<Flaky, _>("busy", || Err(CameraError::Busy("cam".into())));
        assert_eq!(r.unwrap_err(), CameraError::Busy("cam".into()));
    }

    #[test]
    fn without_cameras_the_default_choice_is_no_camera() {
        // The build machine has no /dev/video*; a desktop would list its own.
        if list_cameras().map(|l| l.is_empty()).unwrap_or(true) {
            assert_eq!(
                open(&CameraChoice::Default, CaptureFormat::default()).unwrap_err(),
                CameraError::NoCamera
            );
        }
    }
}
