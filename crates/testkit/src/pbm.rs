//! 1-bit PBM (P4) masks, as the effect tests keep a person's outline.

use std::path::Path;

/// A mask: width, height and one bool a pixel, row by row.
pub fn read(path: &Path) -> (usize, usize, Vec<bool>) {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 3 {
        let end = at
            + raw[at..]
                .iter()
                .position(u8::is_ascii_whitespace)
                .unwrap_or(0);
        fields.push(String::from_utf8_lossy(&raw[at..end]).to_string());
        at = end + 1;
    }
    assert_eq!(fields[0], "P4", "{} is not a 1-bit PBM", path.display());
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let (bits, row) = (&raw[at..], w.div_ceil(8));
    let px = (0..w * h)
        .map(|i| bits[(i / w) * row + (i % w) / 8] & (0x80 >> (i % 8)) != 0)
        .collect();
    (w, h, px)
}
