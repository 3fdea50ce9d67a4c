//! What turning a received 1280×720 picture into screen pixels of the size
//! it is shown costs (the app's native video path, `src-tauri/src/video/
//! linux.rs`): `cargo bench -p tandem-media --bench draw [-- SECONDS]`
//! prints, per shown size, the three planes scaled and then converted
//! against `BgrxScaler` (converted, then scaled as packed pixels, buffers
//! kept), with the share of one core at 30 pictures a second.

use tandem_media::convert::{BgrxScaler, i420_to_bgrx_into};

mod common;
use common::{picture, row, seconds, times};

fn main() {
    let seconds = seconds();
    let frame = picture();
    println!("| 1280×720 picture shown at | median ms | p95 ms | one core at 30 fps |");
    println!("|---|---|---|---|");
    // The call's full view in the benchmark's window, half of it (a grid
    // tile), a small tile, and the picture-in-picture.
    for (w, h) in [(1176u32, 662u32), (654, 368), (426, 240), (240, 136)] {
        let mut out = vec![0u8; w as usize * 4 * h as usize];
        row(
            &format!("{w}×{h}: planes scaled, then converted"),
            30.0,
            &times(seconds, || {
                let small = frame.scaled(w, h).unwrap_or_else(|e| panic!("{e}"));
                i420_to_bgrx_into(&small, &mut out, w * 4).unwrap_or_else(|e| panic!("{e}"));
            }),
        );
        let mut scaler = BgrxScaler::default();
        row(
            &format!("{w}×{h}: BgrxScaler"),
            30.0,
            &times(seconds, || {
                scaler
                    .scale_into(&frame, &mut out, (w, h), w * 4)
                    .unwrap_or_else(|e| panic!("{e}"));
            }),
        );
    }
}
