//! The OS thread that owns an audio device: started with a handshake (the
//! caller learns whether the device opened), driven by commands, stopped
//! when its owner drops it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::AudioError;

/// How the thread reports that its device opened (or why not).
pub(super) type Opened = mpsc::SyncSender<Result<(), AudioError>>;

/// A reply to a command, for [`DeviceThread::ask`].
pub(super) type Reply = oneshot::Sender<Result<(), AudioError>>;

/// A running device thread and the way to reach it.
pub(super) struct DeviceThread<C> {
    commands: mpsc::Sender<C>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<C> std::fmt::Debug for DeviceThread<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceThread")
            .field(
                "thread",
                &self.thread.as_ref().and_then(|t| t.thread().name()),
            )
            .finish_non_exhaustive()
    }
}

impl<C: Send + 'static> DeviceThread<C> {
    /// Runs `body(stop, commands, opened)` on a thread called `name`;
    /// returns once `body` has reported through `opened`.
    pub(super) fn start<F>(name: &str, body: F) -> Result<Self, AudioError>
    where
        F: FnOnce(Arc<AtomicBool>, mpsc::Receiver<C>, Opened) + Send + 'static,
    {
        let (commands, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let (opened, opened_rx) = mpsc::sync_channel(1);
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || body(flag, rx, opened))
            .map_err(|e| AudioError::Processing(format!("cannot start the {name} thread: {e}")))?;
        match opened_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                commands,
                stop,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(AudioError::Processing(format!("the {name} thread ended"))),
        }
    }

    /// Sends a command that needs no answer.
    pub(super) fn send(&self, command: C) {
        let _ = self.commands.send(command);
    }

    /// Sends a command made with a reply channel and waits for the answer.
    pub(super) async fn ask(&self, make: impl FnOnce(Reply) -> C) -> Result<(), AudioError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).map_err(|_| AudioError::Lost)?;
        rx.await.map_err(|_| AudioError::Lost)?
    }
}

impl<C> Drop for DeviceThread<C> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// When a device callback last ran, so a device that went away without an
/// error (PulseAudio kills the stream of a removed sink; cpal says nothing)
/// is still noticed.
#[derive(Debug, Clone)]
pub(super) struct Heartbeat {
    start: Instant,
    last_ms: Arc<AtomicU64>,
    limit: Duration,
}

/// A device whose callback has not run for this long is gone.
pub(super) const STALLED: Duration = Duration::from_secs(2);

impl Heartbeat {
    pub(super) fn new() -> Self {
        Self::with_limit(STALLED)
    }

    fn with_limit(limit: Duration) -> Self {
        Self {
            start: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
            limit,
        }
    }

    /// From the callback: cheap, never blocks.
    pub(super) fn beat(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Whether the callback has been silent for longer than its limit
    /// ([`STALLED`]).
    pub(super) fn stalled(&self) -> bool {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last) > self.limit
    }
}

/// A cpal error callback that raises `lost` when the device goes away.
pub(super) fn on_stream_error(lost: Arc<AtomicBool>) -> impl FnMut(cpal::Error) + Send + 'static {
    move |e| {
        if matches!(
            e.kind(),
            cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::HostUnavailable
        ) {
            lost.store(true, Ordering::Relaxed);
        }
    }
}

/// Builds a stream with `$build::<T>(args)` for the device's sample type `T`.
macro_rules! by_sample_format {
    ($format:expr, $name:expr, $build:ident ( $($arg:expr),* $(,)? )) => {
        match $format {
            cpal::SampleFormat::F32 => $build::<f32>($($arg),*),
            cpal::SampleFormat::I16 => $build::<i16>($($arg),*),
            cpal::SampleFormat::I32 => $build::<i32>($($arg),*),
            cpal::SampleFormat::U16 => $build::<u16>($($arg),*),
            other => {
                return Err(AudioError::Open {
                    name: $name,
                    reason: format!("its sample format {other} is not supported"),
                });
            }
        }
    };
}
pub(super) use by_sample_format;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_whose_callback_stops_is_stalled() {
        let h = Heartbeat::with_limit(Duration::from_millis(40));
        let callback = h.clone();
        for _ in 0..5 {
            callback.beat();
            std::thread::sleep(Duration::from_millis(15));
            assert!(!h.stalled());
        }
        std::thread::sleep(Duration::from_millis(80));
        assert!(h.stalled());
        callback.beat();
        assert!(!h.stalled());
    }
}
