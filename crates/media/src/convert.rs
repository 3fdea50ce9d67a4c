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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
