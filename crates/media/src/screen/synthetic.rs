//! A synthetic screen: a page of "text" (dark word-shaped bars on white,
//! in lines that scroll slowly) beside three colour blocks, so what a
//! receiver gets can be checked for sharpness and colour without a display.

use super::{Pace, ScreenError, ScreenSource, now_us};
use crate::convert::bgrx_to_i420;
use crate::feed::CaptureFormat;
use crate::frame::I420Frame;

/// The blocks' colours (red, green, blue), top to bottom at the right.
pub const BLOCKS: [[u8; 3]; 3] = [[220, 40, 40], [40, 180, 70], [40, 80, 220]];

pub struct Synthetic {
    width: u32,
    height: u32,
    fps: u32,
    pace: Pace,
    page: Vec<u8>,
    frame: u64,
}

impl std::fmt::Debug for Synthetic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Synthetic({}x{}@{})", self.width, self.height, self.fps)
    }
}

impl Synthetic {
    pub fn new(width: u32, height: u32, fps: u32) -> Result<Self, ScreenError> {
        // Checked here, so drawing never meets a size it cannot take.
        I420Frame::new(width, height)?;
        Ok(Self {
            width,
            height,
            fps,
            pace: Pace::new(fps),
            page: vec![0; width as usize * height as usize * 4],
            frame: 0,
        })
    }

    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, [r, g, b]: [u8; 3]) {
        let (x1, y1) = ((x + w).min(self.width), (y + h).min(self.height));
        for row in y.min(y1)..y1 {
            let start = (row * self.width + x.min(x1)) as usize * 4;
            let end = (row * self.width + x1) as usize * 4;
            for px in self.page[start..end].chunks_exact_mut(4) {
                px.copy_from_slice(&[b, g, r, 0]);
            }
        }
    }

    fn draw(&mut self) {
        let (w, h) = (self.width, self.height);
        self.fill(0, 0, w, h, [255, 255, 255]);
        let text_w = w * 2 / 3;
        // Lines of words 18 px apart, scrolling a pixel a picture.
        let scroll = (self.frame % 18) as u32;
        let mut line = self.frame / 18;
        let mut y = 24 + 18 - scroll;
        while y + 10 < h - 16 {
            let mut x = 32;
            let mut word = line.wrapping_mul(2_654_435_761);
            while x < text_w {
                let len = 12 + (word % 7) as u32 * 9;
                self.fill(x, y, len.min(text_w - x), 9, [30, 30, 40]);
                x += len + 8;
                word = word.rotate_left(5) ^ 0x9e37_79b9;
            }
            line += 1;
            y += 18;
        }
        let side = (h / 4).min(w / 4);
        for (i, colour) in BLOCKS.iter().enumerate() {
            let top = 24 + i as u32 * (side + 16);
            self.fill(w - side - 32, top, side, side, *colour);
        }
    }
}

impl ScreenSource for Synthetic {
    fn format(&self) -> CaptureFormat {
        CaptureFormat {
            width: self.width,
            height: self.height,
            fps: self.fps,
        }
    }

    fn next_frame(&mut self) -> Result<I420Frame, ScreenError> {
        self.pace.wait();
        self.draw();
        self.frame += 1;
        let mut f = bgrx_to_i420(self.width, self.height, self.width * 4, &self.page)?;
        f.captured_us = now_us();
        Ok(f)
    }
}
