//! An owned I420 picture, its scaling, and the newest-frame hand-off.

use std::sync::Arc;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use tokio::sync::watch;

/// A picture in I420 (planar Y, then U and V at half size), tightly packed.
#[derive(Clone, PartialEq, Eq)]
pub struct I420Frame {
    width: u32,
    height: u32,
    data: Vec<u8>,
    /// When the picture was captured, µs since the Unix epoch.
    pub captured_us: i64,
    /// When this machine received it (µs since the Unix epoch; 0 for local
    /// frames): renderers measure their added latency from it.
    pub received_us: i64,
}

impl std::fmt::Debug for I420Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("I420Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("captured_us", &self.captured_us)
            .field("received_us", &self.received_us)
            .finish_non_exhaustive()
    }
}

/// Why a picture could not be made, converted or scaled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a picture must be at least 2×2 with even sides, not {0}×{1}")]
    Size(u32, u32),
    #[error("the {format} picture holds {got} bytes; {width}×{height} needs {want}")]
    Truncated {
        format: &'static str,
        width: u32,
        height: u32,
        got: usize,
        want: usize,
    },
    #[error("the camera's JPEG picture could not be decoded: {0}")]
    Jpeg(String),
    #[error("the picture could not be converted: {0}")]
    Convert(String),
    #[error("the picture could not be scaled: {0}")]
    Scale(String),
}

/// The largest side a picture may have; cameras and peers stay far below.
pub const MAX_SIDE: u32 = 8192;

impl I420Frame {
    /// A black picture.
    pub fn new(width: u32, height: u32) -> Result<Self, FrameError> {
        if width < 2
            || height < 2
            || width % 2 == 1
            || height % 2 == 1
            || width.max(height) > MAX_SIDE
        {
            return Err(FrameError::Size(width, height));
        }
        let (y, c) = plane_sizes(width, height);
        let mut data = vec![16u8; y + 2 * c];
        data[y..].fill(128);
        Ok(Self {
            width,
            height,
            data,
            captured_us: 0,
            received_us: 0,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The whole buffer: Y, then U, then V, each tightly packed.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Y, U and V planes; rows are `width` and `width / 2` bytes.
    pub fn planes(&self) -> (&[u8], &[u8], &[u8]) {
        let (y, c) = plane_sizes(self.width, self.height);
        let (yp, rest) = self.data.split_at(y);
        let (u, v) = rest.split_at(c);
        (yp, u, v)
    }

    /// Y, U and V planes, writable.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let (y, c) = plane_sizes(self.width, self.height);
        let (yp, rest) = self.data.split_at_mut(y);
        let (u, v) = rest.split_at_mut(c);
        (yp, u, v)
    }

    /// The picture scaled (bilinear, SIMD) to `width`×`height`.
    pub fn scaled(&self, width: u32, height: u32) -> Result<I420Frame, FrameError> {
        let mut out = I420Frame::new(width, height)?;
        out.captured_us = self.captured_us;
        out.received_us = self.received_us;
        if (width, height) == (self.width, self.height) {
            out.data.copy_from_slice(&self.data);
            return Ok(out);
        }
        self.scale_into(&mut out, &mut Resizer::new(), &bilinear())?;
        Ok(out)
    }

    /// Scales the picture into `out` (whose size says how), plane by plane.
    pub fn scale_into(
        &self,
        out: &mut I420Frame,
        resizer: &mut Resizer,
        options: &ResizeOptions,
    ) -> Result<(), FrameError> {
        let (sw, sh, dw, dh) = (self.width, self.height, out.width, out.height);
        let src = self.planes();
        let dst = out.planes_mut();
        for (from, to, (fw, fh), (tw, th)) in [
            (src.0, dst.0, (sw, sh), (dw, dh)),
            (src.1, dst.1, (sw / 2, sh / 2), (dw / 2, dh / 2)),
            (src.2, dst.2, (sw / 2, sh / 2), (dw / 2, dh / 2)),
        ] {
            scale_plane(resizer, options, from, (fw, fh), to, (tw, th))?;
        }
        Ok(())
    }

    /// The picture scaled to fit inside `max_width`×`max_height`, keeping
    /// its shape; never larger than it is.
    pub fn fitted(&self, max_width: u32, max_height: u32) -> Result<I420Frame, FrameError> {
        let (w, h) = fit(self.width, self.height, max_width, max_height);
        self.scaled(w, h)
    }
}

/// How pictures are scaled: bilinear, as a convolution, so that a large
/// shrink (a picture-in-picture) does not alias.
pub fn bilinear() -> ResizeOptions {
    ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
}

/// The even size that fits `w`×`h` inside `max_w`×`max_h` with the same shape
/// (never upscaled, never below 2×2).
pub fn fit(w: u32, h: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let (max_w, max_h) = (max_w.clamp(2, w.max(2)), max_h.clamp(2, h.max(2)));
    let scale = f64::min(
        f64::from(max_w) / f64::from(w.max(1)),
        f64::from(max_h) / f64::from(h.max(1)),
    )
    .min(1.0);
    let even = |v: f64| ((v.round() as u32) & !1).max(2);
    (even(f64::from(w) * scale), even(f64::from(h) * scale))
}

/// One 8-bit plane of `from_size` scaled into one of `to_size`.
pub fn scale_plane(
    resizer: &mut Resizer,
    options: &ResizeOptions,
    from: &[u8],
    from_size: (u32, u32),
    to: &mut [u8],
    to_size: (u32, u32),
) -> Result<(), FrameError> {
    let bad = |e: &dyn std::fmt::Display| FrameError::Scale(e.to_string());
    let from = ImageRef::new(from_size.0, from_size.1, from, PixelType::U8).map_err(|e| bad(&e))?;
    let mut to =
        Image::from_slice_u8(to_size.0, to_size.1, to, PixelType::U8).map_err(|e| bad(&e))?;
    resizer.resize(&from, &mut to, options).map_err(|e| bad(&e))
}

fn plane_sizes(width: u32, height: u32) -> (usize, usize) {
    let y = width as usize * height as usize;
    (y, y / 4)
}

/// The sending side of a newest-frame channel: a new frame replaces the one
/// not yet taken, so a slow reader sees fewer frames, never older ones.
pub type FrameSender = watch::Sender<Option<Arc<I420Frame>>>;
/// The reading side of a newest-frame channel.
pub type FrameReceiver = watch::Receiver<Option<Arc<I420Frame>>>;

/// A newest-frame channel with nothing in it yet.
pub fn newest_frame_channel() -> (FrameSender, FrameReceiver) {
    watch::channel(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sizes_are_checked() {
        assert_eq!(I420Frame::new(3, 4), Err(FrameError::Size(3, 4)));
        assert_eq!(I420Frame::new(0, 4), Err(FrameError::Size(0, 4)));
        assert!(I420Frame::new(16_384, 2).is_err());
        let f = I420Frame::new(4, 2).unwrap();
        let (y, u, v) = f.planes();
        assert_eq!((y.len(), u.len(), v.len()), (8, 2, 2));
    }

    #[test]
    fn fitting_keeps_the_shape_and_never_upscales() {
        assert_eq!(fit(1280, 720, 320, 320), (320, 180));
        assert_eq!(fit(1280, 720, 4000, 4000), (1280, 720));
        assert_eq!(fit(640, 480, 100, 1000), (100, 74));
        assert_eq!(fit(640, 480, 0, 0), (2, 2));
    }

    #[test]
    fn scaling_keeps_regions_and_colour() {
        // Left half dark, right half bright; chroma a flat tint.
        let mut f = I420Frame::new(64, 32).unwrap();
        let (y, u, v) = f.planes_mut();
        for row in y.chunks_mut(64) {
            row[32..].fill(200);
            row[..32].fill(40);
        }
        u.fill(90);
        v.fill(170);
        f.captured_us = 77;
        f.received_us = 88;
        let s = f.scaled(16, 8).unwrap();
        assert_eq!((s.width(), s.height(), s.captured_us), (16, 8, 77));
        assert_eq!(s.received_us, 88);
        let (y, u, v) = s.planes();
        assert_eq!(y.len(), 128);
        assert!(y[0] < 60 && y[15] > 180, "{:?}", &y[..16]);
        assert!(u.iter().all(|&p| p == 90) && v.iter().all(|&p| p == 170));
        assert_eq!(f.scaled(64, 32).unwrap(), f);
    }
}
