//! Camera formats decode to the right picture: MJPEG (a real JPEG encoded
//! here), YUYV and NV12 of known colours, and truncated input is an error.

#![allow(clippy::unwrap_used)]

use tandem_media::FrameError;
use tandem_media::convert::{PixelFormat, i420_to_rgb, to_i420};

const W: u32 = 64;
const H: u32 = 32;

/// Left half red, right half blue, as packed RGB.
fn halves() -> Vec<u8> {
    (0..H)
        .flat_map(|_| {
            (0..W).flat_map(|x| {
                if x < W / 2 {
                    [220, 30, 30]
                } else {
                    [30, 30, 220]
                }
            })
        })
        .collect()
}

fn close(got: &[u8], want: [u8; 3], tolerance: u8) -> bool {
    got.iter()
        .zip(want)
        .all(|(g, w)| g.abs_diff(w) <= tolerance)
}

fn pixel(rgb: &[u8], x: u32, y: u32) -> &[u8] {
    let i = ((y * W + x) * 3) as usize;
    &rgb[i..i + 3]
}

#[test]
fn mjpeg_decodes_to_the_encoded_picture() {
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 90)
        .encode(&halves(), W as u16, H as u16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let frame = to_i420(PixelFormat::Mjpeg, W, H, &jpeg).unwrap();
    let rgb = i420_to_rgb(&frame).unwrap();
    assert!(
        close(pixel(&rgb, 8, 16), [220, 30, 30], 20),
        "{:?}",
        pixel(&rgb, 8, 16)
    );
    assert!(
        close(pixel(&rgb, 56, 16), [30, 30, 220], 20),
        "{:?}",
        pixel(&rgb, 56, 16)
    );
    // A picture of another size than the camera announced is refused.
    assert!(matches!(
        to_i420(PixelFormat::Mjpeg, 128, 64, &jpeg),
        Err(FrameError::Jpeg(_))
    ));
    assert!(matches!(
        to_i420(PixelFormat::Mjpeg, W, H, &jpeg[..jpeg.len() / 3]),
        Err(FrameError::Jpeg(_))
    ));
}

#[test]
fn yuyv_and_nv12_keep_luma_and_colour() {
    // Y 81, U 90, V 240 is a strong red in BT.601 video range.
    let yuyv: Vec<u8> = (0..W * H / 2).flat_map(|_| [81, 90, 81, 240]).collect();
    let f = to_i420(PixelFormat::Yuyv, W, H, &yuyv).unwrap();
    // Every pixel, the right edge included (a library bug once skipped it).
    let (y, u, v) = f.planes();
    let off = |p: &[u8], want: u8| p.iter().filter(|&&x| x.abs_diff(want) > 2).count();
    assert_eq!((off(y, 81), off(u, 90), off(v, 240)), (0, 0, 0));

    let mut nv12 = vec![81u8; (W * H) as usize];
    nv12.extend((0..W * H / 4).flat_map(|_| [90, 240]));
    let rgb = i420_to_rgb(&to_i420(PixelFormat::Nv12, W, H, &nv12).unwrap()).unwrap();
    let red = pixel(&rgb, 10, 10);
    assert!(red[0] > 200 && red[1] < 60 && red[2] < 60, "{red:?}");

    assert_eq!(
        to_i420(PixelFormat::Yuyv, W, H, &yuyv[..100]),
        Err(FrameError::Truncated {
            format: "YUYV",
            width: W,
            height: H,
            got: 100,
            want: (W * H * 2) as usize
        })
    );
    assert_eq!(
        to_i420(PixelFormat::Rgb, 63, 32, &halves()),
        Err(FrameError::Size(63, 32))
    );
    let gray = to_i420(PixelFormat::Gray, W, H, &vec![150; (W * H) as usize]).unwrap();
    assert!(gray.planes().0.iter().all(|&p| p == 150) && gray.planes().1.iter().all(|&p| p == 128));
}
