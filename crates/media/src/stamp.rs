//! A frame counter and capture time drawn into a picture as two rows of big
//! black and white blocks, coarse enough to survive VP8 at low bitrates and
//! simulcast downscaling, so a receiver can read them back (glass-to-glass
//! latency, dropped frames).
//!
//! Layout, from the top-left corner: 40 blocks per row, each `width / 40`
//! pixels square. Row 0: the 32-bit counter, then an 8-bit check. Row 1: the
//! capture time in ms since the Unix epoch, low 40 bits. A set bit is white
//! (Y 235), a clear bit black (Y 16). The check is the XOR of the nine
//! payload bytes with 0x5A, so an all-black or all-white area never reads
//! as a stamp.

/// What a stamp carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Frames since the source started.
    pub counter: u32,
    /// Capture time, ms since the Unix epoch, low 40 bits.
    pub time_ms: u64,
}

const BLOCKS: usize = 40;
const TIME_MASK: u64 = (1 << 40) - 1;

impl Stamp {
    /// The full capture time nearest `now_ms` that matches the 40 stored bits.
    pub fn time_near(&self, now_ms: u64) -> u64 {
        (now_ms & !TIME_MASK) | self.time_ms
    }

    fn bits(&self) -> [bool; 2 * BLOCKS] {
        let time = self.time_ms & TIME_MASK;
        let mut bytes = [0u8; 9];
        bytes[..4].copy_from_slice(&self.counter.to_be_bytes());
        bytes[4..].copy_from_slice(&time.to_be_bytes()[3..]);
        let check = bytes.iter().fold(0x5A, |a, b| a ^ b);
        let mut bits = [false; 2 * BLOCKS];
        let payload = [&bytes[..4], &[check], &bytes[4..]].concat();
        for (i, bit) in bits.iter_mut().enumerate() {
            *bit = payload[i / 8] & (0x80 >> (i % 8)) != 0;
        }
        bits
    }
}

/// The block side for a picture `width` wide; 0 when too narrow to carry one.
pub fn block_size(width: u32) -> usize {
    let b = width as usize / BLOCKS;
    if b < 2 { 0 } else { b & !1 }
}

/// Draws `stamp` into the top of a Y plane `width` bytes per row; the chroma
/// under it is made neutral so it stays black and white.
pub fn draw(y: &mut [u8], u: &mut [u8], v: &mut [u8], width: u32, stamp: Stamp) {
    let b = block_size(width);
    let w = width as usize;
    if b == 0 || y.len() < w * 2 * b {
        return;
    }
    let bits = stamp.bits();
    for (band, row_bits) in bits.chunks(BLOCKS).enumerate() {
        for line in y[band * b * w..(band + 1) * b * w].chunks_mut(w) {
            for (i, &bit) in row_bits.iter().enumerate() {
                line[i * b..(i + 1) * b].fill(if bit { 235 } else { 16 });
            }
        }
    }
    let (cw, rows) = (w / 2, b);
    for plane in [u, v] {
        if let Some(area) = plane.get_mut(..cw * rows) {
            for line in area.chunks_mut(cw) {
                line[..BLOCKS * b / 2].fill(128);
            }
        }
    }
}

/// Reads a stamp from a Y plane (`stride` bytes per row) of a `width`×`height`
/// picture; `None` when there is none or it does not check.
pub fn read(y: &[u8], stride: usize, width: u32, height: u32) -> Option<Stamp> {
    let b = block_size(width);
    if b == 0 || (height as usize) < 2 * b {
        return None;
    }
    let mut bits = [false; 2 * BLOCKS];
    for (i, bit) in bits.iter_mut().enumerate() {
        let (band, col) = (i / BLOCKS, i % BLOCKS);
        // The centre of the block, away from edges codecs smear.
        let (cy, cx) = (band * b + b / 2, col * b + b / 2);
        let at = |r: usize, c: usize| y.get(r * stride + c).copied().map_or(0, u32::from);
        let sum = at(cy, cx) + at(cy - 1, cx) + at(cy, cx - 1) + at(cy - 1, cx - 1);
        *bit = sum / 4 >= 128;
    }
    let mut bytes = [0u8; 10];
    for (i, &bit) in bits.iter().enumerate() {
        if bit {
            bytes[i / 8] |= 0x80 >> (i % 8);
        }
    }
    let check = bytes[..4]
        .iter()
        .chain(&bytes[5..])
        .fold(0x5A, |a, b| a ^ b);
    if check != bytes[4] {
        return None;
    }
    let mut time = [0u8; 8];
    time[3..].copy_from_slice(&bytes[5..]);
    Some(Stamp {
        counter: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        time_ms: u64::from_be_bytes(time),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::I420Frame;

    #[test]
    fn a_drawn_stamp_reads_back_at_any_scale() {
        let stamp = Stamp {
            counter: 123_456,
            time_ms: 1_790_000_000_123 & TIME_MASK,
        };
        let mut f = I420Frame::new(1280, 720).unwrap();
        let w = f.width();
        let (y, u, v) = f.planes_mut();
        draw(y, u, v, w, stamp);
        assert_eq!(read(f.planes().0, 1280, 1280, 720), Some(stamp));
        for (sw, sh) in [(640, 360), (320, 180)] {
            let s = f.scaled(sw, sh).unwrap();
            assert_eq!(read(s.planes().0, sw as usize, sw, sh), Some(stamp), "{sw}");
        }
        assert_eq!(stamp.time_near(1_790_000_000_500), 1_790_000_000_123);
    }

    #[test]
    fn plain_pictures_and_damage_do_not_read_as_stamps() {
        let black = I420Frame::new(640, 360).unwrap();
        assert_eq!(read(black.planes().0, 640, 640, 360), None);
        let white = vec![235u8; 640 * 360];
        assert_eq!(read(&white, 640, 640, 360), None);
        let mut f = I420Frame::new(640, 360).unwrap();
        let (y, u, v) = f.planes_mut();
        draw(
            y,
            u,
            v,
            640,
            Stamp {
                counter: 9,
                time_ms: 5,
            },
        );
        // Flip one block: the check no longer matches.
        let b = block_size(640);
        for line in f.planes_mut().0[..b * 640].chunks_mut(640) {
            line[30 * b..31 * b].fill(235);
        }
        assert_eq!(read(f.planes().0, 640, 640, 360), None);
        assert_eq!(read(&[0; 16], 4, 4, 4), None);
    }
}
