//! System cameras through nokhwa (V4L2, AVFoundation, Media Foundation).
//! Raw frames are converted here, not by nokhwa, so MJPEG, YUYV and NV12 all
//! go through the SIMD paths in [`convert`](crate::convert).

use std::time::{SystemTime, UNIX_EPOCH};

use nokhwa::Camera;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

use super::{CameraError, CameraInfo, CameraSource, CaptureFormat};
use crate::convert::{PixelFormat, to_i420};
use crate::frame::I420Frame;

/// The cameras the system offers; empty (not an error) when there are none.
pub fn list_cameras() -> Result<Vec<CameraInfo>, CameraError> {
    match nokhwa::query(ApiBackend::Auto) {
        Ok(list) => Ok(list
            .into_iter()
            .map(|c| CameraInfo {
                id: c.index().to_string(),
                name: c.human_name(),
            })
            .collect()),
        // Some backends answer "nothing to enumerate" with an error.
        Err(e) if is_absent(&e.to_string()) => Ok(Vec::new()),
        Err(e) => Err(CameraError::Other(e.to_string())),
    }
}

/// An open system camera.
pub struct NativeCamera {
    camera: Camera,
    name: String,
    format: CaptureFormat,
    pixels: PixelFormat,
}

impl std::fmt::Debug for NativeCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeCamera")
            .field("name", &self.name)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl NativeCamera {
    /// Opens camera `id` at the format nearest `want`, preferring MJPEG (the
    /// only way most USB cameras reach 720p30), then YUYV, then NV12.
    pub fn open(id: &str, want: CaptureFormat) -> Result<Self, CameraError> {
        let info = list_cameras()?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| CameraError::NotFound(id.to_owned()))?;
        let index = id
            .parse::<u32>()
            .map_or_else(|_| CameraIndex::String(id.to_owned()), CameraIndex::Index);
        let request = RequestedFormat::with_formats(
            RequestedFormatType::Closest(CameraFormat::new(
                Resolution::new(want.width, want.height),
                FrameFormat::MJPEG,
                want.fps,
            )),
            &[FrameFormat::MJPEG, FrameFormat::YUYV, FrameFormat::NV12],
        );
        let name = info.name;
        let open_error = |e: nokhwa::NokhwaError| classify(&name, &e.to_string());
        let mut camera = Camera::new(index, request).map_err(open_error)?;
        camera.open_stream().map_err(open_error)?;
        let got = camera.camera_format();
        let pixels = match got.format() {
            FrameFormat::MJPEG => PixelFormat::Mjpeg,
            FrameFormat::YUYV => PixelFormat::Yuyv,
            FrameFormat::NV12 => PixelFormat::Nv12,
            FrameFormat::GRAY => PixelFormat::Gray,
            FrameFormat::RAWRGB => PixelFormat::Rgb,
            FrameFormat::RAWBGR => PixelFormat::Bgr,
        };
        tracing::info!(camera = %name, format = %got, "camera open");
        Ok(Self {
            camera,
            format: CaptureFormat {
                width: got.resolution().width(),
                height: got.resolution().height(),
                fps: got.frame_rate(),
            },
            name,
            pixels,
        })
    }
}

impl CameraSource for NativeCamera {
    fn format(&self) -> CaptureFormat {
        self.format
    }

    fn next_frame(&mut self) -> Result<I420Frame, CameraError> {
        let raw = self.camera.frame_raw().map_err(|e| {
            tracing::warn!(camera = %self.name, error = %e, "camera read failed");
            CameraError::Unplugged
        })?;
        let captured = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut frame = to_i420(self.pixels, self.format.width, self.format.height, &raw)?;
        frame.captured_us = captured.as_micros() as i64;
        Ok(frame)
    }
}

impl Drop for NativeCamera {
    fn drop(&mut self) {
        let _ = self.camera.stop_stream();
    }
}

fn is_absent(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("no such file") || m.contains("no device") || m.contains("not found")
}

/// Turns a backend's open failure into what a person can act on.
fn classify(name: &str, message: &str) -> CameraError {
    let m = message.to_ascii_lowercase();
    if m.contains("busy") || m.contains("in use") || m.contains("exclusive") {
        CameraError::Busy(name.to_owned())
    } else if is_absent(message) {
        CameraError::NotFound(name.to_owned())
    } else {
        CameraError::Other(message.to_owned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn open_failures_are_classified() {
        assert_eq!(
            classify(
                "Cam",
                "Could not open device: Device or resource busy (os error 16)"
            ),
            CameraError::Busy("Cam".into())
        );
        assert_eq!(
            classify("Cam", "/dev/video3: No such file or directory"),
            CameraError::NotFound("Cam".into())
        );
        assert!(matches!(
            classify("Cam", "ioctl failed"),
            CameraError::Other(_)
        ));
    }

    #[test]
    fn opening_an_unknown_camera_names_it() {
        assert_eq!(
            NativeCamera::open("no-such-camera", CaptureFormat::default()).unwrap_err(),
            CameraError::NotFound("no-such-camera".into())
        );
    }
}
