//! Still pictures a person gives Tandem (a JPEG or PNG file): told apart by
//! their content, not their name, and checked before they are decoded, so a
//! file that only claims to be a picture, a huge one or a decoder bomb (a
//! few kilobytes announcing a billion pixels) is refused with a reason
//! instead of filling the memory.

use std::path::Path;

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_png::PngDecoder;

use crate::convert::{PixelFormat, to_i420};
use crate::frame::{I420Frame, MAX_SIDE};

/// The largest file taken: a photograph from any camera fits.
pub const MAX_BYTES: u64 = 20 * 1024 * 1024;
/// The most pixels decoded (a 40-megapixel photograph).
pub const MAX_PIXELS: u64 = 40_000_000;

/// Why a picture was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StillError {
    #[error("cannot read it: {0}")]
    Read(String),
    #[error("it is {0} MB; pictures up to {max} MB are taken", max = MAX_BYTES >> 20)]
    TooLarge(u64),
    #[error("it is not a JPEG or PNG picture")]
    NotAPicture,
    #[error(
        "it is {0}×{1} pixels; pictures up to {MAX_SIDE} pixels a side and {mp} megapixels are taken",
        mp = MAX_PIXELS / 1_000_000
    )]
    TooManyPixels(usize, usize),
    #[error("it is damaged: {0}")]
    Damaged(String),
}

/// The picture in the file at `path`.
pub fn read(path: &Path) -> Result<I420Frame, StillError> {
    decode(&read_file(path)?)
}

/// The bytes of the file at `path`, refused unread past [`MAX_BYTES`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, StillError> {
    let size = std::fs::metadata(path)
        .map_err(|e| StillError::Read(e.to_string()))?
        .len();
    if size > MAX_BYTES {
        return Err(StillError::TooLarge(size.div_ceil(1 << 20)));
    }
    std::fs::read(path).map_err(|e| StillError::Read(e.to_string()))
}

/// The picture in `bytes`, in I420 (an odd last row or column is dropped).
pub fn decode(bytes: &[u8]) -> Result<I420Frame, StillError> {
    if bytes.len() as u64 > MAX_BYTES {
        return Err(StillError::TooLarge((bytes.len() as u64).div_ceil(1 << 20)));
    }
    let (rgb, w, h) = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        jpeg(bytes)?
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(bytes)?
    } else {
        return Err(StillError::NotAPicture);
    };
    if w < 2 || h < 2 {
        return Err(StillError::TooManyPixels(w, h));
    }
    let (ew, eh) = (w & !1, h & !1);
    let even = if ew == w {
        rgb[..w * eh * 3].to_vec()
    } else {
        rgb.chunks_exact(w * 3)
            .take(eh)
            .flat_map(|row| &row[..ew * 3])
            .copied()
            .collect()
    };
    to_i420(PixelFormat::Rgb, ew as u32, eh as u32, &even)
        .map_err(|e| StillError::Damaged(e.to_string()))
}

/// Refuses sizes past the limits before a pixel is decoded.
fn check(w: usize, h: usize) -> Result<(), StillError> {
    if w.max(h) > MAX_SIDE as usize || (w as u64) * (h as u64) > MAX_PIXELS {
        return Err(StillError::TooManyPixels(w, h));
    }
    Ok(())
}

/// The decoders' own limits are lifted so that [`check`] sees every size
/// and says what it is.
fn options() -> DecoderOptions {
    DecoderOptions::default()
        .set_max_width(u32::MAX as usize)
        .set_max_height(u32::MAX as usize)
}

fn jpeg(bytes: &[u8]) -> Result<(Vec<u8>, usize, usize), StillError> {
    let mut decoder =
        JpegDecoder::new_with_options(bytes, options().jpeg_set_out_colorspace(ColorSpace::RGB));
    let damaged = |e: zune_jpeg::errors::DecodeErrors| StillError::Damaged(e.to_string());
    decoder.decode_headers().map_err(damaged)?;
    let (w, h) = decoder.dimensions().ok_or(StillError::NotAPicture)?;
    check(w, h)?;
    let rgb = decoder.decode().map_err(damaged)?;
    if rgb.len() < w * h * 3 {
        return Err(StillError::Damaged("it ends early".into()));
    }
    Ok((rgb, w, h))
}

fn png(bytes: &[u8]) -> Result<(Vec<u8>, usize, usize), StillError> {
    let mut decoder = PngDecoder::new_with_options(
        bytes,
        options()
            .png_set_strip_to_8bit(true)
            .png_set_decode_animated(false),
    );
    let damaged = |e: zune_png::error::PngDecodeErrors| StillError::Damaged(format!("{e:?}"));
    decoder.decode_headers().map_err(damaged)?;
    let (w, h) = decoder.get_dimensions().ok_or(StillError::NotAPicture)?;
    check(w, h)?;
    let raw = decoder.decode_raw().map_err(damaged)?;
    let channels = match decoder.get_colorspace() {
        Some(ColorSpace::Luma) => 1,
        Some(ColorSpace::LumaA) => 2,
        Some(ColorSpace::RGB) => 3,
        Some(ColorSpace::RGBA) => 4,
        other => return Err(StillError::Damaged(format!("colours as {other:?}"))),
    };
    if raw.len() < w * h * channels {
        return Err(StillError::Damaged("it ends early".into()));
    }
    // Transparency is dropped: what shows is the colour under it.
    let rgb = raw
        .chunks_exact(channels)
        .take(w * h)
        .flat_map(|p| match channels {
            1 | 2 => [p[0], p[0], p[0]],
            _ => [p[0], p[1], p[2]],
        })
        .collect();
    Ok((rgb, w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG file of `w`×`h` grey pixels (`rows` of them present),
    /// written by hand: signature, IHDR, one stored (uncompressed) zlib
    /// IDAT, IEND.
    fn png_file(w: u32, h: u32, rows: usize) -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut c = !0u32;
            for &b in bytes {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 == 1 {
                        0xEDB8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        }
        fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
            out.extend((data.len() as u32).to_be_bytes());
            let start = out.len();
            out.extend(kind);
            out.extend(data);
            let crc = crc32(&out[start..]);
            out.extend(crc.to_be_bytes());
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend(w.to_be_bytes());
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, 0, 0, 0, 0]); // 8-bit grey
        chunk(&mut out, b"IHDR", &ihdr);
        let raw: Vec<u8> = (0..rows)
            .flat_map(|_| std::iter::once(0).chain(std::iter::repeat_n(200, w as usize)))
            .collect();
        let mut z = vec![0x78, 0x01, 1];
        z.extend((raw.len() as u16).to_le_bytes());
        z.extend((!(raw.len() as u16)).to_le_bytes());
        z.extend(&raw);
        let adler = {
            let (mut a, mut b) = (1u32, 0u32);
            for &x in &raw {
                a = (a + u32::from(x)) % 65521;
                b = (b + a) % 65521;
            }
            (b << 16) | a
        };
        z.extend(adler.to_be_bytes());
        chunk(&mut out, b"IDAT", &z);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn a_png_is_read() {
        let frame = decode(&png_file(7, 5, 5)).unwrap_or_else(|e| panic!("{e}"));
        // Odd sides lose their last row and column.
        assert_eq!((frame.width(), frame.height()), (6, 4));
        let (y, _, _) = frame.planes();
        // Grey 200 in limited-range luma.
        assert!(y.iter().all(|&p| (185..=190).contains(&p)), "{y:?}");
    }

    #[test]
    fn a_bomb_is_refused_before_decoding() {
        // A few bytes announcing 100 000 × 100 000 pixels.
        assert!(matches!(
            decode(&png_file(100_000, 100_000, 1)),
            Err(StillError::TooManyPixels(100_000, 100_000))
        ));
        // Within a side, past the pixel count.
        assert!(matches!(
            decode(&png_file(8000, 8000, 1)),
            Err(StillError::TooManyPixels(8000, 8000))
        ));
    }

    #[test]
    fn a_huge_file_is_refused_unread() {
        let path = std::env::temp_dir().join(format!("tandem-huge-{}.jpg", std::process::id()));
        let f = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        f.set_len(MAX_BYTES + 1).unwrap_or_else(|e| panic!("{e}"));
        let got = read(&path);
        let _ = std::fs::remove_file(&path);
        assert_eq!(got, Err(StillError::TooLarge(21)));
        assert!(matches!(
            read(Path::new("/no/such.png")),
            Err(StillError::Read(_))
        ));
    }

    #[test]
    fn other_files_are_not_pictures() {
        assert_eq!(
            decode(b"#!/bin/sh\nrm -rf ~\n"),
            Err(StillError::NotAPicture)
        );
        assert_eq!(decode(&[]), Err(StillError::NotAPicture));
        // A JPEG's start and nothing else.
        assert!(matches!(
            decode(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16]),
            Err(StillError::Damaged(_))
        ));
        // A PNG cut short.
        let mut cut = png_file(16, 16, 16);
        cut.truncate(60);
        assert!(matches!(decode(&cut), Err(StillError::Damaged(_))));
    }
}
