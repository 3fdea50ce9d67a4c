//! Background effects on real photographs of people: the person is found
//! as MediaPipe's own runtime finds them, and a blur keeps the person's
//! pixels and changes the room's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use tandem_media::I420Frame;
use tandem_media::convert::{PixelFormat, to_i420};
use tandem_media::effects::segment::{MASK_HEIGHT, MASK_WIDTH};
use tandem_media::effects::{Background, BackgroundSwitch, Effects, Segmenter};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn photo(name: &str, width: u32, height: u32) -> I420Frame {
    let jpeg = std::fs::read(data(&format!("{name}.jpg"))).unwrap();
    to_i420(PixelFormat::Mjpeg, width, height, &jpeg).unwrap()
}

fn reference_mask(name: &str) -> (usize, usize, Vec<bool>) {
    tandem_testkit::pbm::read(&data(&format!("{name}.mask.pbm")))
}

/// The model's mask at the photo's size (bilinear, as MediaPipe scales
/// its own), as person or not.
fn ours(mask: &[f32], w: usize, h: usize) -> Vec<bool> {
    let at = |pixel: usize, size: usize, n: usize| {
        let pos = ((pixel as f32 + 0.5) * n as f32 / size as f32 - 0.5).clamp(0.0, (n - 1) as f32);
        let i = (pos as usize).min(n - 2);
        (i, pos - i as f32)
    };
    (0..w * h)
        .map(|i| {
            let ((mx, tx), (my, ty)) = (at(i % w, w, MASK_WIDTH), at(i / w, h, MASK_HEIGHT));
            let m = |y: usize, x: usize| mask[y * MASK_WIDTH + x];
            let top = m(my, mx) * (1.0 - tx) + m(my, mx + 1) * tx;
            let bottom = m(my + 1, mx) * (1.0 - tx) + m(my + 1, mx + 1) * tx;
            top * (1.0 - ty) + bottom * ty > 0.5
        })
        .collect()
}

fn iou(a: &[bool], b: &[bool]) -> f64 {
    let both = a.iter().zip(b).filter(|(x, y)| **x && **y).count();
    let either = a.iter().zip(b).filter(|(x, y)| **x || **y).count();
    both as f64 / either.max(1) as f64
}

const PHOTOS: [(&str, u32, u32); 2] = [("astronaut", 512, 512), ("grace_hopper", 512, 600)];

#[test]
fn the_person_is_found_as_mediapipe_finds_them() {
    let model = Segmenter::new().unwrap();
    for (name, w, h) in PHOTOS {
        let mask = model.mask(&photo(name, w, h)).unwrap();
        let (rw, rh, reference) = reference_mask(name);
        assert_eq!((rw, rh), (w as usize, h as usize));
        let score = iou(&ours(&mask, rw, rh), &reference);
        println!("{name}: intersection over union {score:.3}");
        // The same model: what differs is the scaling of the picture in
        // and the mask out (about a cell along the edges).
        assert!(score > 0.95, "{name}: {score:.3}");
    }
}

/// `photo` with `background` applied: the mean change of brightness well
/// inside the person (12 pixels from the reference mask's edge), and the
/// brightness of the room's pixels before and after, well inside it.
fn applied(name: &str, w: u32, h: u32, background: Background) -> (f64, Vec<(u8, u8)>) {
    let original = photo(name, w, h);
    let mut changed = original.clone();
    let switch = BackgroundSwitch::new(background);
    Effects::default().apply(&switch, &mut changed);
    assert_eq!(switch.problem(), None);
    let (_, _, person) = reference_mask(name);
    let (y0, _, _) = original.planes();
    let (y1, _, _) = changed.planes();
    let w = w as usize;
    let inside = |i: usize, want: bool| {
        let (x, y) = ((i % w) as isize, (i / w) as isize);
        (-12..=12).step_by(4).all(|dy| {
            (-12..=12).step_by(4).all(|dx| {
                let (xx, yy) = (x + dx, y + dy);
                xx >= 0
                    && yy >= 0
                    && (xx as usize) < w
                    && ((yy as usize) * w + xx as usize) < person.len()
                    && person[yy as usize * w + xx as usize] == want
            })
        })
    };
    let on_person: Vec<usize> = (0..person.len()).filter(|&i| inside(i, true)).collect();
    let change = on_person
        .iter()
        .map(|&i| f64::from(y0[i].abs_diff(y1[i])))
        .sum::<f64>()
        / on_person.len().max(1) as f64;
    let room = (0..person.len())
        .filter(|&i| inside(i, false))
        .map(|i| (y0[i], y1[i]))
        .collect();
    (change, room)
}

#[test]
fn a_blur_keeps_the_person_and_changes_the_room() {
    for (name, w, h) in PHOTOS {
        let (on_person, room) = applied(name, w, h, Background::BlurStrong);
        let on_room = room
            .iter()
            .map(|&(a, b)| f64::from(a.abs_diff(b)))
            .sum::<f64>()
            / room.len().max(1) as f64;
        println!("{name}: mean change of brightness: person {on_person:.2}, room {on_room:.2}");
        assert!(
            on_person < 1.0,
            "{name}: the person changed by {on_person:.2}"
        );
        assert!(
            on_room > 8.0,
            "{name}: the room changed by only {on_room:.2}"
        );
    }
}

#[test]
fn a_picture_replaces_the_room_and_keeps_the_person() {
    // A flat green picture, from a file as a person would pick it.
    let path = std::env::temp_dir().join(format!("tandem-green-{}.jpg", std::process::id()));
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 95)
        .encode(
            &[40, 170, 60].repeat(320 * 240),
            320,
            240,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&path, jpeg).unwrap_or_else(|e| panic!("{e}"));
    let background =
        Background::parse(&format!("image:{}", path.display())).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_file(&path);
    // Limited-range luma of that green.
    let green = 16.0 + (0.257 * 40.0 + 0.504 * 170.0 + 0.098 * 60.0);
    for (name, w, h) in PHOTOS {
        let (on_person, room) = applied(name, w, h, background.clone());
        let off_green = room
            .iter()
            .map(|&(_, b)| (f64::from(b) - green).abs())
            .sum::<f64>()
            / room.len().max(1) as f64;
        println!("{name}: person changed {on_person:.2}, room {off_green:.2} from the picture");
        assert!(
            on_person < 1.0,
            "{name}: the person changed by {on_person:.2}"
        );
        assert!(
            off_green < 3.0,
            "{name}: the room is {off_green:.2} from the picture"
        );
    }
}

#[test]
fn a_file_that_is_not_the_model_is_refused_with_a_reason() {
    let e = Segmenter::from_bytes(b"not an onnx model").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("the person segmentation model cannot be used"),
        "{e}"
    );
}
