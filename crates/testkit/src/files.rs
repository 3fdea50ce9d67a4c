//! Files for tests: contents that do not compress, and what a folder holds.

use std::path::Path;

/// `size` bytes that do not compress (xorshift), so nothing along the way
/// can make light of them, and differ all through (a piece delivered twice
/// or out of order shows).
pub fn patterned(size: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The names in `dir` (none when it is not there).
pub fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}
