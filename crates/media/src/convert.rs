//! Camera pixel formats to I420, with SIMD libraries (yuvutils-rs for colour
//! conversion, zune-jpeg for MJPEG); no hand-written pixel loops.

use yuvutils_rs::{
    BufferStoreMut, YuvBiPlanarImage, YuvConversionMode, YuvPackedImage, YuvPlanarImageMut,
    YuvRange, YuvStandardMatrix,
};
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use crate::frame::{FrameError, I420Frame};

/// How a camera lays out a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// Motion JPEG: each frame a JPEG picture.
    Mjpeg,
    /// Packed 4:2:2, Y0 U Y1 V.
    Yuyv,
    /// Y plane, then interleaved U/V at half size.
    Nv12,
    /// Packed 8-bit red, green, blue.
    Rgb,
    /// Packed 8-bit blue, green, red.
    Bgr,
    /// 8-bit luma only.
    Gray,
}

impl PixelFormat {
    /// The name cameras use for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mjpeg => "MJPEG",
            Self::Yuyv => "YUYV",
            Self::Nv12 => "NV12",
            Self::Rgb => "RGB",
            Self::Bgr => "BGR",
            Self::Gray => "GRAY",
        }
    }
}

/// Converts one camera picture to I420.
pub fn to_i420(
    format: PixelFormat,
    width: u32,
    height: u32,
    data: &[u8],
) -> Result<I420Frame, FrameError> {
    let mut out = I420Frame::new(width, height)?;
    let (w, h) = (width as usize, height as usize);
    let need = |want: usize| {
        if data.len() < want {
            Err(FrameError::Truncated {
                format: format.name(),
                width,
                height,
                got: data.len(),
                want,
            })
        } else {
            Ok(())
        }
    };
    match format {
        PixelFormat::Mjpeg => {
            let rgb = decode_jpeg(data, width, height)?;
            rgb_into(&mut out, &rgb, false)?;
        }
        PixelFormat::Rgb | PixelFormat::Bgr => {
            need(w * h * 3)?;
            rgb_into(&mut out, &data[..w * h * 3], format == PixelFormat::Bgr)?;
        }
        PixelFormat::Yuyv => {
            need(w * h * 2)?;
            let packed = YuvPackedImage {
                yuy: &data[..w * h * 2],
                yuy_stride: width * 2,
                width,
                height,
            };
            // yuvutils-rs 0.8.3's direct YUYV → I420 leaves the last 16
            // columns of each row unwritten; through RGB is correct.
            let mut rgb = vec![0u8; w * h * 3];
            yuvutils_rs::yuyv422_to_rgb(
                &packed,
                &mut rgb,
                width * 3,
                YuvRange::Limited,
                YuvStandardMatrix::Bt601,
            )
            .map_err(|e| FrameError::Convert(e.to_string()))?;
            rgb_into(&mut out, &rgb, false)?;
        }
        PixelFormat::Nv12 => {
            need(w * h * 3 / 2)?;
            // No direct NV12 → I420 in the library: through RGB, both passes SIMD.
            let bi = YuvBiPlanarImage {
                y_plane: &data[..w * h],
                y_stride: width,
                uv_plane: &data[w * h..w * h * 3 / 2],
                uv_stride: width,
                width,
                height,
            };
            let mut rgb = vec![0u8; w * h * 3];
            yuvutils_rs::yuv_nv12_to_rgb(
                &bi,
                &mut rgb,
                width * 3,
                YuvRange::Limited,
                YuvStandardMatrix::Bt601,
                YuvConversionMode::Balanced,
            )
            .map_err(|e| FrameError::Convert(e.to_string()))?;
            rgb_into(&mut out, &rgb, false)?;
        }
        PixelFormat::Gray => {
            need(w * h)?;
            out.planes_mut().0.copy_from_slice(&data[..w * h]);
        }
    }
    Ok(out)
}

/// Decodes a JPEG picture to packed RGB, checking it is the size announced.
fn decode_jpeg(data: &[u8], width: u32, height: u32) -> Result<Vec<u8>, FrameError> {
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(crate::frame::MAX_SIDE as usize)
        .set_max_height(crate::frame::MAX_SIDE as usize);
    let mut decoder = JpegDecoder::new_with_options(data, options);
    let rgb = decoder
        .decode()
        .map_err(|e| FrameError::Jpeg(e.to_string()))?;
    let got = decoder.dimensions().unwrap_or((0, 0));
    if got != (width as usize, height as usize) {
        return Err(FrameError::Jpeg(format!(
            "it is {}×{}, the camera announced {width}×{height}",
            got.0, got.1
        )));
    }
    Ok(rgb)
}

fn rgb_into(out: &mut I420Frame, rgb: &[u8], bgr: bool) -> Result<(), FrameError> {
    let stride = out.width() * 3;
    let convert = if bgr {
        yuvutils_rs::bgr_to_yuv420
    } else {
        yuvutils_rs::rgb_to_yuv420
    };
    with_planes(out, |planar| {
        convert(
            planar,
            rgb,
            stride,
            YuvRange::Limited,
            YuvStandardMatrix::Bt601,
            YuvConversionMode::Balanced,
        )
    })
}

fn with_planes(
    out: &mut I420Frame,
    f: impl FnOnce(&mut YuvPlanarImageMut<'_, u8>) -> Result<(), yuvutils_rs::YuvError>,
) -> Result<(), FrameError> {
    let (width, height) = (out.width(), out.height());
    let (y, u, v) = out.planes_mut();
    let mut planar = YuvPlanarImageMut {
        y_plane: BufferStoreMut::Borrowed(y),
        y_stride: width,
        u_plane: BufferStoreMut::Borrowed(u),
        u_stride: width / 2,
        v_plane: BufferStoreMut::Borrowed(v),
        v_stride: width / 2,
        width,
        height,
    };
    f(&mut planar).map_err(|e| FrameError::Convert(e.to_string()))
}

/// Converts a packed 32-bit blue, green, red, unused picture (X11's and
/// most screens' layout) with rows `stride` bytes apart to I420; an odd
/// width or height loses its last column or row.
pub fn bgrx_to_i420(
    width: u32,
    height: u32,
    stride: u32,
    data: &[u8],
) -> Result<I420Frame, FrameError> {
    packed32_to_i420("BGRX", width, height, stride, data)
}

/// [`bgrx_to_i420`] for red first: red, green, blue, unused.
pub fn rgbx_to_i420(
    width: u32,
    height: u32,
    stride: u32,
    data: &[u8],
) -> Result<I420Frame, FrameError> {
    packed32_to_i420("RGBX", width, height, stride, data)
}

fn packed32_to_i420(
    format: &'static str,
    width: u32,
    height: u32,
    stride: u32,
    data: &[u8],
) -> Result<I420Frame, FrameError> {
    let (w, h) = (width & !1, height & !1);
    let want = stride as usize * h.saturating_sub(1) as usize + w as usize * 4;
    if data.len() < want || stride < w * 4 {
        return Err(FrameError::Truncated {
            format,
            width,
            height,
            got: data.len(),
            want,
        });
    }
    let mut out = I420Frame::new(w, h)?;
    let convert = if format == "RGBX" {
        yuvutils_rs::rgba_to_yuv420
    } else {
        yuvutils_rs::bgra_to_yuv420
    };
    with_planes(&mut out, |planar| {
        convert(
            planar,
            data,
            stride,
            YuvRange::Limited,
            YuvStandardMatrix::Bt601,
            YuvConversionMode::Balanced,
        )
    })?;
    Ok(out)
}

/// A picture's planes as yuvutils-rs reads them.
fn planar(frame: &I420Frame) -> yuvutils_rs::YuvPlanarImage<'_, u8> {
    let (w, h) = (frame.width(), frame.height());
    let (y, u, v) = frame.planes();
    yuvutils_rs::YuvPlanarImage {
        y_plane: y,
        y_stride: w,
        u_plane: u,
        u_stride: w / 2,
        v_plane: v,
        v_stride: w / 2,
        width: w,
        height: h,
    }
}

/// Converts I420 to packed RGB (for tests and snapshots).
pub fn i420_to_rgb(frame: &I420Frame) -> Result<Vec<u8>, FrameError> {
    let (w, h) = (frame.width(), frame.height());
    let planar = planar(frame);
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    yuvutils_rs::yuv420_to_rgb(
        &planar,
        &mut rgb,
        w * 3,
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
    )
    .map_err(|e| FrameError::Convert(e.to_string()))?;
    Ok(rgb)
}

/// Converts I420 into 32-bit pixels as cairo and most toolkits store them
/// on little-endian machines (B, G, R, then 255), `stride` bytes a row.
pub fn i420_to_bgrx_into(frame: &I420Frame, out: &mut [u8], stride: u32) -> Result<(), FrameError> {
    let planar = planar(frame);
    yuvutils_rs::yuv420_to_bgra(
        &planar,
        out,
        stride,
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
    )
    .map_err(|e| FrameError::Convert(e.to_string()))
}

/// Turns I420 pictures into BGRX rows of any size, for drawing on a
/// screen, scaled bilinearly (as a convolution, so a large shrink does not
/// alias), with its buffers kept from one picture to the next. Shown at
/// most a few times smaller, a picture is converted at its own size and
/// then scaled as packed pixels, which costs about half of scaling the
/// three planes apart and converting the result (0.82 against 1.61 ms for
/// 1280×720 → 1176×662 here); shown much smaller (a picture-in-picture),
/// the planes are scaled first, so that little is converted
/// (`cargo bench -p tandem-media --bench draw`, docs/benchmarks.md).
#[derive(Default)]
pub struct BgrxScaler {
    resizer: fast_image_resize::Resizer,
    /// The picture as BGRX at its own size.
    full: Vec<u8>,
    /// The scaled picture, when the output's rows are padded.
    tight: Vec<u8>,
    /// The picture's planes scaled, for a much smaller size.
    small: Option<I420Frame>,
}

/// Below this share of the picture's pixels, its planes are scaled first.
const PLANES_FIRST_BELOW: f64 = 1.0 / 8.0;

impl std::fmt::Debug for BgrxScaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BgrxScaler")
            .field("full", &self.full.len())
            .finish_non_exhaustive()
    }
}

impl BgrxScaler {
    /// Writes `frame` scaled to `width`×`height` into `out`, whose rows
    /// are `stride` bytes apart (the fourth byte of each pixel is 255).
    pub fn scale_into(
        &mut self,
        frame: &I420Frame,
        out: &mut [u8],
        (width, height): (u32, u32),
        stride: u32,
    ) -> Result<(), FrameError> {
        use fast_image_resize::PixelType;
        use fast_image_resize::images::{Image, ImageRef};
        let (fw, fh) = (frame.width(), frame.height());
        let row = width as usize * 4;
        if width == 0 || height == 0 || (stride as usize) < row {
            return Err(FrameError::Scale(format!(
                "cannot draw {width}×{height} into rows of {stride} bytes"
            )));
        }
        let need = (height as usize - 1) * stride as usize + row;
        if out.len() < need {
            return Err(FrameError::Scale(format!(
                "{} bytes cannot hold {width}×{height} at {stride} bytes a row",
                out.len()
            )));
        }
        if (width, height) == (fw, fh) {
            return i420_to_bgrx_into(frame, out, stride);
        }
        let share = f64::from(width) * f64::from(height) / (f64::from(fw) * f64::from(fh)).max(1.0);
        if share < PLANES_FIRST_BELOW && width % 2 == 0 && height % 2 == 0 {
            let small = match self.small.take() {
                Some(s) if (s.width(), s.height()) == (width, height) => s,
                _ => I420Frame::new(width, height)?,
            };
            let small = self.small.insert(small);
            frame.scale_into(small, &mut self.resizer, &crate::frame::bilinear())?;
            return i420_to_bgrx_into(small, out, stride);
        }
        self.full.resize(fw as usize * fh as usize * 4, 0);
        i420_to_bgrx_into(frame, &mut self.full, fw * 4)?;
        let bad = |e: &dyn std::fmt::Display| FrameError::Scale(e.to_string());
        let from = ImageRef::new(fw, fh, &self.full, PixelType::U8x4).map_err(|e| bad(&e))?;
        // The fourth byte is not alpha: no premultiplying.
        let options = crate::frame::bilinear().use_alpha(false);
        let padded = stride as usize != row;
        let target: &mut [u8] = if padded {
            self.tight.resize(row * height as usize, 0);
            &mut self.tight
        } else {
            &mut out[..row * height as usize]
        };
        let mut to =
            Image::from_slice_u8(width, height, target, PixelType::U8x4).map_err(|e| bad(&e))?;
        self.resizer
            .resize(&from, &mut to, &options)
            .map_err(|e| bad(&e))?;
        if padded {
            for (dst, src) in out
                .chunks_mut(stride as usize)
                .zip(self.tight.chunks_exact(row))
            {
                dst[..row].copy_from_slice(src);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_scaler_draws_a_picture_at_any_size_as_the_planes_would_scale() {
        // Left half red, right half green (BT.601 limited range).
        let mut f = I420Frame::new(64, 32).unwrap();
        {
            let (y, u, v) = f.planes_mut();
            for (plane, w, left, right) in [(y, 64, 81u8, 145u8), (u, 32, 90, 54), (v, 32, 240, 34)]
            {
                for row in plane.chunks_mut(w) {
                    row[..w / 2].fill(left);
                    row[w / 2..].fill(right);
                }
            }
        }
        let mut scaler = BgrxScaler::default();
        // Twice, so the kept buffers are used again.
        // Shown a little smaller (padded rows, then tight), at its own
        // size, and much smaller (its planes scaled first).
        for (w, h, stride) in [
            (30u32, 16u32, 30 * 4 + 12),
            (30, 16, 30 * 4),
            (64, 32, 64 * 4),
            (20, 10, 20 * 4 + 4),
        ] {
            let mut out = vec![7u8; stride as usize * h as usize];
            scaler.scale_into(&f, &mut out, (w, h), stride).unwrap();
            // The planes scaled first and converted: the same picture.
            let mut planes = vec![0u8; w as usize * 4 * h as usize];
            i420_to_bgrx_into(&f.scaled(w, h).unwrap(), &mut planes, w * 4).unwrap();
            for (y, row) in out.chunks(stride as usize).enumerate() {
                let px = |x: u32| &row[x as usize * 4..x as usize * 4 + 4];
                assert!(px(1)[2] > 240 && px(1)[1] < 15, "left is red: {:?}", px(1));
                assert!(px(w - 2)[1] > 240 && px(w - 2)[2] < 15, "right is green");
                // Away from the edge between the halves, where scaling the
                // half-size colour planes apart blends differently.
                for x in (0..w).filter(|x| x.abs_diff(w / 2) > 2) {
                    let other = &planes[(y * w as usize + x as usize) * 4..][..4];
                    for c in 0..3 {
                        assert!(
                            px(x)[c].abs_diff(other[c]) <= 24,
                            "{x},{y}: {:?} against {other:?}",
                            px(x)
                        );
                    }
                    assert_eq!(px(x)[3], 255);
                }
                assert!(
                    row[w as usize * 4..].iter().all(|&b| b == 7),
                    "padding untouched"
                );
            }
        }
        assert!(
            scaler
                .scale_into(&f, &mut [0u8; 100], (30, 16), 120)
                .is_err(),
            "too small"
        );
        assert!(
            scaler
                .scale_into(&f, &mut [0u8; 4096], (30, 16), 100)
                .is_err(),
            "rows too short"
        );
        assert!(
            scaler
                .scale_into(&f, &mut [0u8; 4096], (0, 16), 120)
                .is_err(),
            "no size"
        );
    }

    #[test]
    fn i420_becomes_bgrx_rows_at_the_given_stride() {
        // BT.601 limited-range red, green and white planes.
        for (yuv, bgr) in [
            ([81u8, 90, 240], [0u8, 0, 255]),
            ([145, 54, 34], [0, 255, 0]),
            ([235, 128, 128], [255, 255, 255]),
        ] {
            let mut f = I420Frame::new(4, 2).unwrap();
            let (y, u, v) = f.planes_mut();
            y.fill(yuv[0]);
            u.fill(yuv[1]);
            v.fill(yuv[2]);
            let stride = 4 * 4 + 8;
            let mut out = vec![7u8; stride * 2];
            i420_to_bgrx_into(&f, &mut out, stride as u32).unwrap();
            for row in out.chunks(stride) {
                for px in row[..16].chunks(4) {
                    for c in 0..3 {
                        assert!(
                            px[c].abs_diff(bgr[c]) <= 3,
                            "{yuv:?}: {px:?} against {bgr:?}"
                        );
                    }
                    assert_eq!(px[3], 255);
                }
                assert_eq!(&row[16..], &[7; 8], "padding untouched");
            }
        }
        let f = I420Frame::new(4, 2).unwrap();
        assert!(
            i420_to_bgrx_into(&f, &mut [0u8; 8], 16).is_err(),
            "too small"
        );
    }
}
