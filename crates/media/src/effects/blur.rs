//! The background blurred behind the person: each plane is shrunk to a
//! quarter of the picture's size, blurred there (three box passes, close to
//! a Gaussian, at a sixteenth of the work), and blended back with the mask:
//! the person's pixels stay as they were, the rest takes the blurred ones.

use super::segment::{MASK_HEIGHT, MASK_WIDTH};
use crate::I420Frame;

/// How far the shrunken planes are from the picture.
const SHRINK: usize = 4;

/// Blurs what `mask` (256×144, 1 = person) calls background, `radius`
/// pixels of the shrunken plane (times four in the picture).
pub(super) fn blur_background(frame: &mut I420Frame, mask: &[f32], radius: usize) {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (y, u, v) = frame.planes_mut();
    blend_plane(y, w, h, SHRINK, mask, radius);
    blend_plane(u, cw, ch, SHRINK / 2, mask, radius);
    blend_plane(v, cw, ch, SHRINK / 2, mask, radius);
}

/// One plane: shrink by `shrink`, blur, blend back where the mask says.
fn blend_plane(plane: &mut [u8], w: usize, h: usize, shrink: usize, mask: &[f32], radius: usize) {
    let (sw, sh) = (w.div_ceil(shrink), h.div_ceil(shrink));
    let mut small = shrunk(plane, w, h, shrink, sw, sh);
    let mut scratch = vec![0f32; small.len()];
    for _ in 0..3 {
        box_rows(&small, &mut scratch, sw, sh, radius);
        box_columns(&scratch, &mut small, sw, sh, radius);
    }
    // Where each column and row falls in the mask and in the small plane:
    // the bilinear weights, worked out once per plane.
    let cols: Vec<(Lerp, Lerp)> = (0..w)
        .map(|x| (Lerp::at(x, w, MASK_WIDTH), Lerp::at(x, w, sw)))
        .collect();
    for yy in 0..h {
        let (mr, br) = (Lerp::at(yy, h, MASK_HEIGHT), Lerp::at(yy, h, sh));
        let row = &mut plane[yy * w..(yy + 1) * w];
        for (px, (mc, bc)) in row.iter_mut().zip(&cols) {
            let person = shape(sample(mask, MASK_WIDTH, &mr, mc));
            if person >= 0.999 {
                continue;
            }
            let blurred = sample(&small, sw, &br, bc);
            let out = person * f32::from(*px) + (1.0 - person) * blurred;
            *px = out.round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// A position between two cells of a grid of `n`, for a pixel of `size`.
struct Lerp {
    i0: usize,
    i1: usize,
    t: f32,
}

impl Lerp {
    fn at(pixel: usize, size: usize, n: usize) -> Self {
        let pos = ((pixel as f32 + 0.5) * n as f32 / size as f32 - 0.5).max(0.0);
        let i0 = (pos as usize).min(n - 1);
        Self {
            i0,
            i1: (i0 + 1).min(n - 1),
            t: pos - i0 as f32,
        }
    }
}

fn sample(grid: &[f32], width: usize, row: &Lerp, col: &Lerp) -> f32 {
    let at = |r: usize, c: usize| grid[r * width + c];
    let top = at(row.i0, col.i0) * (1.0 - col.t) + at(row.i0, col.i1) * col.t;
    let bottom = at(row.i1, col.i0) * (1.0 - col.t) + at(row.i1, col.i1) * col.t;
    top * (1.0 - row.t) + bottom * row.t
}

/// The mask's probabilities to blend weights: sure pixels are fully one
/// or the other, and the uncertain band in between is a soft edge.
pub(super) fn shape(p: f32) -> f32 {
    let t = ((p - 0.25) / 0.5).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The plane shrunk by averaging `shrink`×`shrink` blocks.
fn shrunk(plane: &[u8], w: usize, h: usize, shrink: usize, sw: usize, sh: usize) -> Vec<f32> {
    let mut sums = vec![0f32; sw * sh];
    let mut counts = vec![0u16; sw * sh];
    for yy in 0..h {
        let base = (yy / shrink) * sw;
        for (xx, &p) in plane[yy * w..(yy + 1) * w].iter().enumerate() {
            sums[base + xx / shrink] += f32::from(p);
            counts[base + xx / shrink] += 1;
        }
    }
    for (s, &c) in sums.iter_mut().zip(&counts) {
        *s /= f32::from(c.max(1));
    }
    sums
}

/// A running-sum box blur along rows, edges repeated.
fn box_rows(src: &[f32], dst: &mut [f32], w: usize, h: usize, r: usize) {
    let span = (2 * r + 1) as f32;
    for yy in 0..h {
        let row = &src[yy * w..(yy + 1) * w];
        let out = &mut dst[yy * w..(yy + 1) * w];
        let at = |i: isize| row[i.clamp(0, w as isize - 1) as usize];
        let r = r as isize;
        let mut sum: f32 = (-r..=r).map(at).sum();
        for (x, o) in out.iter_mut().enumerate() {
            *o = sum / span;
            let x = x as isize;
            sum += at(x + r + 1) - at(x - r);
        }
    }
}

/// The same along columns.
fn box_columns(src: &[f32], dst: &mut [f32], w: usize, h: usize, r: usize) {
    let span = (2 * r + 1) as f32;
    let r = r as isize;
    for x in 0..w {
        let at = |i: isize| src[i.clamp(0, h as isize - 1) as usize * w + x];
        let mut sum: f32 = (-r..=r).map(at).sum();
        for yy in 0..h {
            dst[yy * w + x] = sum / span;
            let y = yy as isize;
            sum += at(y + r + 1) - at(y - r);
        }
    }
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

    #[test]
    fn the_person_is_kept_and_the_background_smoothed() {
        let (w, h) = (640usize, 360usize);
        let mut f = stripes(w as u32, h as u32);
        let before = f.clone();
        // The person on the left half of the mask.
        let mask: Vec<f32> = (0..MASK_WIDTH * MASK_HEIGHT)
            .map(|i| {
                if i % MASK_WIDTH < MASK_WIDTH / 2 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        blur_background(&mut f, &mask, 4);
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
    fn edges_are_soft_and_certain_pixels_are_not() {
        assert_eq!(shape(0.0), 0.0);
        assert_eq!(shape(0.2), 0.0);
        assert_eq!(shape(0.8), 1.0);
        assert!((shape(0.5) - 0.5).abs() < 1e-6);
    }
}
