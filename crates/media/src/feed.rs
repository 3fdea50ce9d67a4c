//! A video source read on its own thread, keeping only the newest picture:
//! what cameras and shared screens have in common. Each kind brings its own
//! source trait and error type ([`crate::camera::CameraSource`],
//! [`crate::screen::ScreenSource`]); the thread, the newest-frame channel,
//! the status and the stop are here once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

use crate::frame::{FrameReceiver, I420Frame, newest_frame_channel};

/// The picture size and rate a source delivers (or a camera is asked for).
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

/// Where a feed is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedStatus<E> {
    Running,
    /// The source failed after starting (unplugged, closed…); the feed has
    /// stopped.
    Failed(E),
    /// Stopped by its owner.
    Stopped,
}

/// What a feed needs of a source, whatever it captures.
pub(crate) trait Source {
    type Error: Clone + std::fmt::Display + Send + Sync + 'static;
    fn format(&self) -> CaptureFormat;
    /// The next picture; may block until it is ready (this paces the feed).
    fn next_frame(&mut self) -> Result<I420Frame, Self::Error>;
    /// What it turned out to be, when that is known only once it is open
    /// (a screen the person chose in the system's dialog).
    fn name(&self) -> Option<String> {
        None
    }
}

/// A running source: its thread, the newest frame, and its status.
/// Dropping it stops the thread.
#[derive(Debug)]
pub struct Feed<E> {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    frames: FrameReceiver,
    status: watch::Receiver<FeedStatus<E>>,
    format: CaptureFormat,
    delivered: Arc<AtomicU64>,
    name: String,
}

impl<E: Clone + std::fmt::Display + Send + Sync + 'static> Feed<E> {
    /// Opens a source with `open` on a thread called `thread_name` and
    /// starts reading it; returns once it is open, or with the error that
    /// kept it shut (`timeout` makes one when it does not open within
    /// `limit`).
    pub(crate) fn spawn<S, F>(
        thread_name: String,
        name: &str,
        open: F,
        (limit, timeout): (Duration, fn(String) -> E),
    ) -> Result<Self, E>
    where
        S: Source<Error = E>,
        F: FnOnce() -> Result<S, E> + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let (frame_tx, frames) = newest_frame_channel();
        let (status_tx, status) = watch::channel(FeedStatus::Running);
        let (opened_tx, opened_rx) = std::sync::mpsc::sync_channel(1);
        let delivered = Arc::new(AtomicU64::new(0));
        let (stop2, delivered2) = (stop.clone(), delivered.clone());
        let thread = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                let mut source = match open() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                let _ = opened_tx.send(Ok((source.format(), source.name())));
                let end = loop {
                    if stop2.load(Ordering::Relaxed) {
                        break FeedStatus::Stopped;
                    }
                    match source.next_frame() {
                        Ok(frame) => {
                            frame_tx.send_replace(Some(Arc::new(frame)));
                            delivered2.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "video source stopped");
                            break FeedStatus::Failed(e);
                        }
                    }
                };
                let _ = status_tx.send(end);
            })
            .map_err(|e| timeout(format!("cannot start its thread: {e}")))?;
        let (format, found) = match opened_rx.recv_timeout(limit) {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                stop.store(true, Ordering::Relaxed);
                return Err(timeout(format!(
                    "it did not open within {} s",
                    limit.as_secs()
                )));
            }
        };
        Ok(Self {
            stop,
            thread: Some(thread),
            frames,
            status,
            format,
            delivered,
            name: found.unwrap_or_else(|| name.to_owned()),
        })
    }
}

impl<E> Feed<E> {
    /// What the source is called.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The newest picture, replaced as new ones arrive.
    pub fn frames(&self) -> FrameReceiver {
        self.frames.clone()
    }

    /// Running, or why it stopped.
    pub fn status(&self) -> watch::Receiver<FeedStatus<E>> {
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

impl<E> Drop for Feed<E> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // A read returns within a frame time; do not wait on it from an
        // async context any longer than that.
        if let Some(t) = self.thread.take() {
            std::thread::spawn(move || {
                let _ = t.join();
            });
        }
    }
}
