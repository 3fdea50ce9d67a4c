//! A still photograph (JPEG or PNG) as a camera: the same picture at the asked
//! rate, each stamped with its time, for tests and demonstrations of the
//! camera effects (a person that sits still).

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{CameraError, CameraSource, CaptureFormat};
use crate::frame::I420Frame;
use crate::still;

#[derive(Debug)]
pub struct Picture {
    frame: I420Frame,
    fps: u32,
    next_at: Instant,
}

impl Picture {
    /// Reads `path` (a JPEG or PNG, as [`still`] takes them), shown at `fps`.
    pub fn open(path: &Path, fps: u32) -> Result<Self, CameraError> {
        let frame = still::read(path)
            .map_err(|e| CameraError::Other(format!("{}: {e}", path.display())))?;
        Ok(Self {
            frame,
            fps: fps.clamp(1, 60),
            next_at: Instant::now(),
        })
    }
}

impl CameraSource for Picture {
    fn format(&self) -> CaptureFormat {
        CaptureFormat {
            width: self.frame.width(),
            height: self.frame.height(),
            fps: self.fps,
        }
    }

    fn next_frame(&mut self) -> Result<I420Frame, CameraError> {
        let now = Instant::now();
        if self.next_at > now {
            std::thread::sleep(self.next_at - now);
        }
        let period = Duration::from_secs(1) / self.fps;
        self.next_at = self.next_at.max(now - period) + period;
        let mut frame = self.frame.clone();
        frame.captured_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as i64;
        Ok(frame)
    }
}
