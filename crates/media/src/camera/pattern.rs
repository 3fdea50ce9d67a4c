//! The moving test pattern: a flat colour, a bright bar sweeping across it,
//! and a [`stamp`](crate::stamp) with the frame counter and capture time.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{CameraError, CameraSource, CaptureFormat};
use crate::frame::I420Frame;
use crate::stamp::{self, Stamp};

/// The background colour, as Y, U, V (video range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternColour {
    pub y: u8,
    pub u: u8,
    pub v: u8,
}

impl PatternColour {
    /// A dark teal; far from grey, black and white, so it is easy to
    /// recognise after compression.
    pub const TEAL: Self = Self {
        y: 100,
        u: 150,
        v: 80,
    };
    /// An orange, for a second participant.
    pub const ORANGE: Self = Self {
        y: 140,
        u: 70,
        v: 190,
    };

    /// Roughly the same colour as 8-bit RGB (BT.601, video range).
    pub fn to_rgb(self) -> [u8; 3] {
        let (y, u, v) = (
            f64::from(self.y) - 16.0,
            f64::from(self.u) - 128.0,
            f64::from(self.v) - 128.0,
        );
        let c = |x: f64| x.round().clamp(0.0, 255.0) as u8;
        [
            c(1.164 * y + 1.596 * v),
            c(1.164 * y - 0.392 * u - 0.813 * v),
            c(1.164 * y + 2.017 * u),
        ]
    }
}

/// A paced synthetic camera.
#[derive(Debug)]
pub struct TestPattern {
    format: CaptureFormat,
    colour: PatternColour,
    counter: u32,
    next_at: Instant,
    frame: I420Frame,
}

impl TestPattern {
    /// A pattern of `format` size and rate; sizes are rounded to even.
    pub fn new(format: CaptureFormat, colour: PatternColour) -> Result<Self, CameraError> {
        let width = (format.width.clamp(64, 3840)) & !1;
        let height = (format.height.clamp(36, 2160)) & !1;
        let format = CaptureFormat {
            width,
            height,
            fps: format.fps.clamp(1, 120),
        };
        Ok(Self {
            format,
            colour,
            counter: 0,
            next_at: Instant::now(),
            frame: I420Frame::new(width, height)?,
        })
    }

    /// Draws picture number `counter` captured at `time_ms` into `frame`.
    pub fn draw(&mut self, counter: u32, time_ms: u64) {
        let w = self.format.width as usize;
        let bar_w = (w / 16).max(2);
        let bar = (counter as usize * 8) % (w - bar_w);
        let colour = self.colour;
        let (y, u, v) = self.frame.planes_mut();
        for row in y.chunks_mut(w) {
            row.fill(colour.y);
            row[bar..bar + bar_w].fill(235);
        }
        for (plane, value) in [(&mut *u, colour.u), (&mut *v, colour.v)] {
            for row in plane.chunks_mut(w / 2) {
                row.fill(value);
                row[bar / 2..(bar + bar_w) / 2].fill(128);
            }
        }
        stamp::draw(
            y,
            u,
            v,
            self.format.width,
            Stamp {
                counter,
                time_ms: time_ms & ((1 << 40) - 1),
            },
        );
    }
}

impl CameraSource for TestPattern {
    fn format(&self) -> CaptureFormat {
        self.format
    }

    fn next_frame(&mut self) -> Result<I420Frame, CameraError> {
        let now = Instant::now();
        if self.next_at > now {
            std::thread::sleep(self.next_at - now);
        }
        let period = Duration::from_secs(1) / self.format.fps;
        self.next_at = self.next_at.max(now - period) + period;
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.draw(self.counter, wall.as_millis() as u64);
        self.counter = self.counter.wrapping_add(1);
        let mut frame = self.frame.clone();
        frame.captured_us = wall.as_micros() as i64;
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn frames_move_carry_their_stamp_and_keep_pace() {
        let fmt = CaptureFormat {
            width: 640,
            height: 360,
            fps: 50,
        };
        let mut p = TestPattern::new(fmt, PatternColour::TEAL).unwrap();
        let started = Instant::now();
        let frames: Vec<_> = (0..10).map(|_| p.next_frame().unwrap()).collect();
        // 10 frames at 50 fps: the first is immediate, then 20 ms apart.
        assert!(started.elapsed() >= Duration::from_millis(170));
        for (i, f) in frames.iter().enumerate() {
            let s = stamp::read(f.planes().0, 640, 640, 360).unwrap();
            assert_eq!(s.counter, i as u32);
            assert_eq!(s.time_ms, (f.captured_us / 1000) as u64 & ((1 << 40) - 1));
        }
        // The bar moves; the background below the stamp is the colour.
        assert_ne!(frames[0].planes().0, frames[1].planes().0);
        let (y, u, v) = frames[0].planes();
        let (row, col) = (300, 600);
        assert_eq!(
            (
                y[row * 640 + col],
                u[row / 2 * 320 + col / 2],
                v[row / 2 * 320 + col / 2]
            ),
            (100, 150, 80)
        );
        assert_eq!(PatternColour::TEAL.to_rgb(), [21, 128, 142]);
    }
}
