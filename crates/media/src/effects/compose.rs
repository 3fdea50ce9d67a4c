//! The person over a new background. Whatever goes behind (the picture
//! blurred, or a picture the person chose) is first made a whole picture of
//! the camera's size, the mask is scaled once to each plane's size as blend
//! weights, and then every pixel is one integer blend, whole rows at a time
//! (the compiler turns it into vector instructions). The scaling is done by
//! `fast_image_resize`, which picks the machine's vector unit itself.
//!
//! The blur shrinks the picture to a quarter of its size, blurs it there
//! ([`super::blur`], a sixteenth of the work) and scales it back up: a
//! blurred picture loses nothing by being made small first.

use std::sync::Arc;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};

use super::blur::blur_plane;
use super::segment::{MASK_HEIGHT, MASK_WIDTH};
use crate::frame::{FrameError, I420Frame, scale_plane};

/// How much smaller the picture is blurred.
const SHRINK: u32 = 4;

/// What goes behind the person.
pub(super) enum Behind<'a> {
    /// The picture itself, blurred by this radius (in the shrunken picture).
    Blur(usize),
    /// Another picture, scaled to fill the camera's (cropped, never
    /// stretched).
    Picture(&'a Arc<I420Frame>),
}

/// The buffers one camera's composing reuses from picture to picture.
#[derive(Debug, Default)]
pub(super) struct Composer {
    resizer: Resizer,
    /// The mask as blend weights (255 = person), at the mask's size.
    shaped: Vec<u8>,
    /// The weights at the luma and at the colour planes' size, and the
    /// picture size they were scaled for.
    luma_weights: Vec<u8>,
    colour_weights: Vec<u8>,
    weighed_for: Option<(u32, u32)>,
    small: Option<I420Frame>,
    backdrop: Option<I420Frame>,
    /// The chosen picture `backdrop` was made from, when it was one.
    fitted_from: Option<Arc<I420Frame>>,
}

impl Composer {
    /// Puts `behind` behind the person `mask` (256×144, 1 = person) finds;
    /// the mask is scaled again only when it is `new` (the model ran) or
    /// the picture's size changed.
    pub(super) fn compose(
        &mut self,
        frame: &mut I420Frame,
        mask: &[f32],
        new: bool,
        behind: Behind<'_>,
    ) -> Result<(), FrameError> {
        let size = (frame.width(), frame.height());
        match behind {
            Behind::Blur(radius) => {
                self.fitted_from = None;
                self.blurred(frame, radius)?;
            }
            Behind::Picture(picture) => self.fitted(picture, size)?,
        }
        if new || self.weighed_for != Some(size) {
            self.weigh(mask, size)?;
        }
        let Some(backdrop) = &self.backdrop else {
            return Ok(());
        };
        let (y, u, v) = frame.planes_mut();
        let (by, bu, bv) = backdrop.planes();
        blend(y, by, &self.luma_weights);
        blend(u, bu, &self.colour_weights);
        blend(v, bv, &self.colour_weights);
        Ok(())
    }

    /// The backdrop: `frame` shrunk, blurred and brought back to its size.
    fn blurred(&mut self, frame: &I420Frame, radius: usize) -> Result<(), FrameError> {
        let (w, h) = (frame.width(), frame.height());
        let small_size = (((w / SHRINK) & !1).max(2), ((h / SHRINK) & !1).max(2));
        let small = reuse(&mut self.small, small_size)?;
        let shrink = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Box));
        frame.scale_into(small, &mut self.resizer, &shrink)?;
        let (sw, sh) = (small_size.0 as usize, small_size.1 as usize);
        let (y, u, v) = small.planes_mut();
        blur_plane(y, sw, sh, radius);
        // The colour planes are half as wide: half the radius blurs alike.
        blur_plane(u, sw / 2, sh / 2, radius.div_ceil(2));
        blur_plane(v, sw / 2, sh / 2, radius.div_ceil(2));
        let backdrop = reuse(&mut self.backdrop, (w, h))?;
        small.scale_into(backdrop, &mut self.resizer, &grow())
    }

    /// The backdrop: `picture` filling `size`, made again only when either
    /// changes.
    fn fitted(&mut self, picture: &Arc<I420Frame>, size: (u32, u32)) -> Result<(), FrameError> {
        let same_picture = self
            .fitted_from
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(p, picture));
        let same_size = self
            .backdrop
            .as_ref()
            .is_some_and(|b| (b.width(), b.height()) == size);
        if same_picture && same_size {
            return Ok(());
        }
        let backdrop = reuse(&mut self.backdrop, size)?;
        let fill = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom))
            .fit_into_destination(Some((0.5, 0.5)));
        picture.scale_into(backdrop, &mut self.resizer, &fill)?;
        self.fitted_from = Some(picture.clone());
        Ok(())
    }

    /// The mask as weights at the size of the picture's planes.
    fn weigh(&mut self, mask: &[f32], (w, h): (u32, u32)) -> Result<(), FrameError> {
        self.shaped.clear();
        self.shaped
            .extend(mask.iter().map(|&p| (shape(p) * 255.0).round() as u8));
        self.shaped.resize(MASK_WIDTH * MASK_HEIGHT, 0);
        let mask_size = (MASK_WIDTH as u32, MASK_HEIGHT as u32);
        for (weights, (pw, ph)) in [
            (&mut self.luma_weights, (w, h)),
            (&mut self.colour_weights, (w / 2, h / 2)),
        ] {
            weights.resize(pw as usize * ph as usize, 0);
            scale_plane(
                &mut self.resizer,
                &grow(),
                &self.shaped,
                mask_size,
                weights,
                (pw, ph),
            )?;
        }
        self.weighed_for = Some((w, h));
        Ok(())
    }
}

/// Bilinear, for making small planes large.
fn grow() -> ResizeOptions {
    ResizeOptions::new().resize_alg(ResizeAlg::Interpolation(FilterType::Bilinear))
}

/// The frame kept in `slot`, made anew when it is not of `size`.
fn reuse(slot: &mut Option<I420Frame>, size: (u32, u32)) -> Result<&mut I420Frame, FrameError> {
    if slot
        .as_ref()
        .is_none_or(|f| (f.width(), f.height()) != size)
    {
        *slot = Some(I420Frame::new(size.0, size.1)?);
    }
    slot.as_mut().ok_or(FrameError::Size(size.0, size.1))
}

/// Each pixel becomes `weight` of itself and the rest of `behind`, rounded
/// (255 leaves the pixel exactly as it was).
fn blend(plane: &mut [u8], behind: &[u8], weights: &[u8]) {
    for ((p, &b), &m) in plane.iter_mut().zip(behind).zip(weights) {
        let m = u16::from(m);
        let x = u16::from(*p) * m + u16::from(b) * (255 - m) + 128;
        // x / 255, rounded, without a division.
        *p = ((x + (x >> 8)) >> 8) as u8;
    }
}

/// The mask's probabilities to blend weights: sure pixels are fully one
/// or the other, and the uncertain band in between is a soft edge.
pub(super) fn shape(p: f32) -> f32 {
    let t = ((p - 0.25) / 0.5).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vertical stripes, 8 pixels wide: what a blur smooths out.
    fn stripes(w: u32, h: u32) -> I420Frame {
        let mut f = I420Frame::new(w, h).unwrap_or_else(|e| panic!("{e}"));
        let (y, u, v) = f.planes_mut();
        for (i, p) in y.iter_mut().enumerate() {
            *p = if (i % w as usize / 8).is_multiple_of(2) {
                40
            } else {
                220
            };
        }
        u.fill(128);
        v.fill(128);
        f
    }

    fn spread(row: &[u8]) -> u8 {
        row.iter().max().copied().unwrap_or(0) - row.iter().min().copied().unwrap_or(0)
    }

    /// The person on the left half of the mask.
    fn left_half() -> Vec<f32> {
        (0..MASK_WIDTH * MASK_HEIGHT)
            .map(|i| f32::from(u8::from(i % MASK_WIDTH < MASK_WIDTH / 2)))
            .collect()
    }

    #[test]
    fn the_person_is_kept_and_the_background_smoothed() {
        let (w, h) = (640usize, 360usize);
        let mut f = stripes(w as u32, h as u32);
        let before = f.clone();
        Composer::default()
            .compose(&mut f, &left_half(), true, Behind::Blur(4))
            .unwrap_or_else(|e| panic!("{e}"));
        let row = h / 2 * w;
        let (y, _, _) = f.planes();
        let (y0, _, _) = before.planes();
        // Left: untouched, well inside the person.
        assert_eq!(y[row..row + w / 2 - 16], y0[row..row + w / 2 - 16]);
        // Right, away from the blend and the picture's edge: the stripes
        // are almost gone.
        let room = row + w / 2 + 48..row + w - 48;
        assert_eq!(spread(&y0[room.clone()]), 180);
        assert!(spread(&y[room.clone()]) < 20, "{:?}", &y[room]);
    }

    #[test]
    fn a_picture_fills_the_background_cropped_not_stretched() {
        // A square picture: its top quarter dark, the rest light.
        let mut square = I420Frame::new(400, 400).unwrap_or_else(|e| panic!("{e}"));
        let (y, _, _) = square.planes_mut();
        for (i, p) in y.iter_mut().enumerate() {
            *p = if i / 400 < 100 { 30 } else { 200 };
        }
        let square = Arc::new(square);
        let mut f = stripes(640, 360);
        let before = f.clone();
        let mut composer = Composer::default();
        composer
            .compose(&mut f, &left_half(), true, Behind::Picture(&square))
            .unwrap_or_else(|e| panic!("{e}"));
        let (y, _, _) = f.planes();
        let (y0, _, _) = before.planes();
        let row = |r: usize| &y[r * 640 + 360..r * 640 + 640];
        // The person's half untouched.
        assert_eq!(
            y[180 * 640..180 * 640 + 300],
            y0[180 * 640..180 * 640 + 300]
        );
        // Filled (×1.6, the middle 360 rows kept), the dark quarter shows
        // only in the top 20 rows; stretched, it would reach row 90.
        assert!(row(5).iter().all(|&p| p.abs_diff(30) <= 2), "{:?}", row(5));
        for r in [40, 90, 200, 350] {
            assert!(
                row(r).iter().all(|&p| p.abs_diff(200) <= 2),
                "{r}: {:?}",
                row(r)
            );
        }
        // The same picture at the same size is not fitted again: marked,
        // the kept backdrop is what shows.
        if let Some(b) = composer.backdrop.as_mut() {
            b.planes_mut().0.fill(0);
        }
        let mut again = stripes(640, 360);
        composer
            .compose(&mut again, &left_half(), true, Behind::Picture(&square))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            again.planes().0[200 * 640 + 400..200 * 640 + 640]
                .iter()
                .all(|&p| p == 0)
        );
    }

    #[test]
    fn a_mask_kept_between_model_runs_is_not_scaled_again() {
        let mut composer = Composer::default();
        let mut f = stripes(640, 360);
        let before = f.clone();
        composer
            .compose(&mut f, &left_half(), true, Behind::Blur(4))
            .unwrap_or_else(|e| panic!("{e}"));
        // Not new: the left-half weights stay, whatever this mask says.
        let mut g = before.clone();
        composer
            .compose(
                &mut g,
                &vec![0.0; MASK_WIDTH * MASK_HEIGHT],
                false,
                Behind::Blur(4),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.planes(), g.planes());
        // New: now nobody is there, and the left half is blurred too.
        composer
            .compose(
                &mut g,
                &vec![0.0; MASK_WIDTH * MASK_HEIGHT],
                true,
                Behind::Blur(4),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let row = 180 * 640;
        assert_ne!(
            g.planes().0[row..row + 300],
            before.planes().0[row..row + 300]
        );
    }

    #[test]
    fn the_blend_is_exact_at_both_ends() {
        let mut plane = vec![0u8, 100, 255, 7];
        blend(&mut plane, &[9, 9, 9, 9], &[255, 255, 255, 255]);
        assert_eq!(plane, [0, 100, 255, 7]);
        blend(&mut plane, &[9, 200, 0, 255], &[0, 0, 0, 0]);
        assert_eq!(plane, [9, 200, 0, 255]);
        let mut half = vec![200u8];
        blend(&mut half, &[100], &[128]);
        assert_eq!(half, [150]);
    }

    #[test]
    fn edges_are_soft_and_certain_pixels_are_not() {
        assert_eq!(shape(0.0), 0.0);
        assert_eq!(shape(0.2), 0.0);
        assert_eq!(shape(0.8), 1.0);
        assert!((shape(0.5) - 0.5).abs() < 1e-6);
    }
}
