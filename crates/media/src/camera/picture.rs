//! A still photograph (JPEG) as a camera: the same picture at the asked
//! rate, each stamped with its time, for tests and demonstrations of the
//! camera effects (a person that sits still).

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zune_jpeg::JpegDecoder;

use super::{CameraError, CameraSource, CaptureFormat};
use crate::convert::{PixelFormat, to_i420};
use crate::frame::I420Frame;

/// The largest photograph taken (a camera-like size).
const MAX_BYTES: u64 = 20 * 1024 * 1024;

#[derive(Debug)]
pub struct Picture {
    frame: I420Frame,
    fps: u32,
    next_at: Instant,
}

impl Picture {
    /// Reads `path` (a JPEG up to 20 MB and 4096 pixels a side), shown at `fps`.
    pub fn open(path: &Path, fps: u32) -> Result<Self, CameraError> {
        let bad = |why: String| CameraError::Other(format!("{}: {why}", path.display()));
        let size = std::fs::metadata(path)
            .map_err(|e| bad(e.to_string()))?
            .len();
        if size > MAX_BYTES {
            return Err(bad(format!("{size} bytes is more than a photograph")));
        }
        let jpeg = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let mut header = JpegDecoder::new(&jpeg);
        header
            .decode_headers()
            .map_err(|e| bad(format!("not a JPEG picture ({e})")))?;
        let (w, h) = header
            .dimensions()
            .ok_or_else(|| bad("not a JPEG picture".into()))?;
        // I420 halves the colour planes: an odd side loses its last row.
        let (w, h) = (w as u32 & !1, h as u32 & !1);
        let frame = to_i420(PixelFormat::Mjpeg, w, h, &jpeg).map_err(CameraError::Format)?;
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
