//! What the benches of tandem-media share: timing a step, printing its
//! row, and the test portrait as a camera picture.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use tandem_media::I420Frame;
use tandem_media::convert::{PixelFormat, to_i420};

pub(crate) fn times(seconds: f64, mut step: impl FnMut()) -> Vec<Duration> {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let mut all = Vec::new();
    while Instant::now() < until || all.len() < 10 {
        let t = Instant::now();
        step();
        all.push(t.elapsed());
    }
    all.sort();
    all
}

pub(crate) fn row(what: &str, per_second: f64, t: &[Duration]) {
    let at = |q: f64| t[((t.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    println!(
        "| {what} | {:.3} | {:.3} | {:.1} % |",
        at(0.5),
        at(0.95),
        at(0.5) * per_second / 10.0
    );
}

/// The portrait, scaled to 1280×720 (stretched: the cost is what matters).
pub(crate) fn picture() -> I420Frame {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/astronaut.jpg");
    let jpeg = std::fs::read(path).unwrap_or_default();
    to_i420(PixelFormat::Mjpeg, 512, 512, &jpeg)
        .and_then(|f| f.scaled(1280, 720))
        .unwrap_or_else(|e| panic!("the test portrait: {e}"))
}

/// Seconds per step: the first number among the arguments, else 3.
pub(crate) fn seconds() -> f64 {
    std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3.0)
}
