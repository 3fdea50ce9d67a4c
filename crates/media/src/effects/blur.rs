//! A blur close to a Gaussian, at little cost: three box passes each way,
//! with running sums, on a plane already shrunk (see [`super::compose`]).

/// Blurs one plane of `w`×`h` in place, `radius` pixels each way.
pub(super) fn blur_plane(plane: &mut [u8], w: usize, h: usize, radius: usize) {
    if radius == 0 || w == 0 || h == 0 {
        return;
    }
    let mut a: Vec<f32> = plane.iter().map(|&p| f32::from(p)).collect();
    let mut b = vec![0f32; a.len()];
    for _ in 0..3 {
        box_rows(&a, &mut b, w, h, radius);
        box_columns(&b, &mut a, w, h, radius);
    }
    for (p, v) in plane.iter_mut().zip(a) {
        *p = v.round().clamp(0.0, 255.0) as u8;
    }
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

    #[test]
    fn stripes_are_smoothed_and_flat_planes_kept() {
        let (w, h) = (64, 8);
        let mut plane: Vec<u8> = (0..w * h)
            .map(|i| if (i % w / 4) % 2 == 0 { 40 } else { 220 })
            .collect();
        blur_plane(&mut plane, w, h, 4);
        let row = &plane[3 * w + 16..4 * w - 16];
        let spread = row.iter().max().unwrap_or(&0) - row.iter().min().unwrap_or(&0);
        assert!(spread < 10, "{row:?}");
        let mut flat = vec![77u8; w * h];
        blur_plane(&mut flat, w, h, 4);
        assert!(flat.iter().all(|&p| p == 77));
    }
}
