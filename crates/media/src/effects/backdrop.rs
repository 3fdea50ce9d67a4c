//! Pictures that can stand behind the person: one the person chose from
//! disk (read as [`crate::still`] reads pictures: checked, size-limited),
//! or one of the scenes that come with Tandem. The scenes are painted here
//! when first asked for, at the camera's usual 1280×720: no picture files
//! to ship, and nothing whose licence needs saying.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::convert::{PixelFormat, to_i420};
use crate::frame::I420Frame;
use crate::still::{self, StillError};

/// A picture behind the person, and what to call it.
#[derive(Clone)]
pub struct Backdrop {
    name: Arc<str>,
    picture: Arc<I420Frame>,
}

/// The scenes that come with Tandem, as they are named.
pub const SCENES: [&str; 3] = ["studio", "dawn", "leaves"];

impl Backdrop {
    /// The picture in the file at `path`, named by the file's name.
    pub fn from_file(path: &Path) -> Result<Self, StillError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(Self::new(&name, still::read(path)?))
    }

    /// The picture in `bytes` (a JPEG or PNG file's content).
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Self, StillError> {
        Ok(Self::new(name, still::decode(bytes)?))
    }

    /// One of the [`SCENES`].
    pub fn scene(name: &str) -> Option<Self> {
        static PAINTED: [OnceLock<Option<Arc<I420Frame>>>; 3] =
            [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let i = SCENES.iter().position(|s| *s == name)?;
        let picture = PAINTED[i]
            .get_or_init(|| paint(name).map(Arc::new))
            .as_ref()?;
        Some(Self {
            name: format!("scene:{name}").into(),
            picture: picture.clone(),
        })
    }

    fn new(name: &str, picture: I420Frame) -> Self {
        // Names come from people and file systems: shown, never trusted
        // (no control characters, no direction overrides that turn
        // `gpj.exe` around).
        let bidi = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        let name: String = name
            .chars()
            .filter(|&c| !c.is_control() && !bidi(c))
            .take(120)
            .collect();
        Self {
            name: name.into(),
            picture: Arc::new(picture),
        }
    }

    /// `scene:NAME` for a scene, the file's name for a picture from disk.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn picture(&self) -> &Arc<I420Frame> {
        &self.picture
    }

    pub fn size(&self) -> (u32, u32) {
        (self.picture.width(), self.picture.height())
    }
}

impl fmt::Debug for Backdrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (w, h) = self.size();
        write!(f, "Backdrop({}, {w}×{h})", self.name)
    }
}

/// The same picture (not merely an equal one).
impl PartialEq for Backdrop {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.picture, &other.picture)
    }
}

const W: usize = 1280;
const H: usize = 720;

/// Paints a scene, in RGB, then to I420.
fn paint(name: &str) -> Option<I420Frame> {
    let mut rgb = vec![0u8; W * H * 3];
    let put = |rgb: &mut [u8], x: usize, y: usize, c: [f32; 3]| {
        let i = (y * W + x) * 3;
        for k in 0..3 {
            rgb[i + k] = c[k].round().clamp(0.0, 255.0) as u8;
        }
    };
    let mix = |a: [f32; 3], b: [f32; 3], t: f32| {
        let t = t.clamp(0.0, 1.0);
        [0, 1, 2].map(|k| a[k] + (b[k] - a[k]) * t)
    };
    match name {
        // A photographer's backdrop: grey, lit in the middle, darker
        // towards the corners.
        "studio" => {
            for y in 0..H {
                for x in 0..W {
                    let dx = (x as f32 - W as f32 * 0.5) / (W as f32 * 0.6);
                    let dy = (y as f32 - H as f32 * 0.42) / (H as f32 * 0.75);
                    let d = (dx * dx + dy * dy).sqrt();
                    put(&mut rgb, x, y, mix([112., 116., 124.], [34., 36., 42.], d));
                }
            }
        }
        // Sky from blue to peach above a dark hill, the sun low.
        "dawn" => {
            let horizon = H as f32 * 0.68;
            for y in 0..H {
                for x in 0..W {
                    let fy = y as f32;
                    let mut c = if fy < horizon {
                        mix([78., 112., 168.], [246., 190., 150.], fy / horizon)
                    } else {
                        mix(
                            [58., 64., 62.],
                            [30., 34., 34.],
                            (fy - horizon) / (H as f32 - horizon),
                        )
                    };
                    let (sx, sy) = (W as f32 * 0.7, horizon - 30.0);
                    let d = ((x as f32 - sx).powi(2) + (fy - sy).powi(2)).sqrt();
                    if fy < horizon {
                        c = mix(c, [255., 236., 200.], (1.0 - d / 260.0).max(0.0).powi(2));
                    }
                    put(&mut rgb, x, y, c);
                }
            }
        }
        // Green light through leaves, out of focus: soft discs of light
        // over a dark green.
        "leaves" => {
            for y in 0..H {
                for x in 0..W {
                    let c = mix([26., 52., 34.], [64., 98., 54.], y as f32 / H as f32);
                    put(&mut rgb, x, y, c);
                }
            }
            // Fixed places (a small congruential sequence): the same
            // scene every time.
            let mut seed = 0x2545_f491_u32;
            let mut next = move || {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1u32 << 24) as f32
            };
            for _ in 0..46 {
                let (cx, cy) = (next() * W as f32, next() * H as f32);
                let r = 30.0 + next() * 90.0;
                let light = mix([120., 170., 90.], [230., 226., 150.], next());
                let strength = 0.25 + next() * 0.35;
                let (x0, x1) = ((cx - r).max(0.0) as usize, ((cx + r) as usize).min(W - 1));
                let (y0, y1) = ((cy - r).max(0.0) as usize, ((cy + r) as usize).min(H - 1));
                for y in y0..=y1 {
                    for x in x0..=x1 {
                        let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt() / r;
                        if d < 1.0 {
                            let i = (y * W + x) * 3;
                            let was = [rgb[i], rgb[i + 1], rgb[i + 2]].map(f32::from);
                            let edge = (1.0 - d).min(0.15) / 0.15;
                            put(&mut rgb, x, y, mix(was, light, strength * edge));
                        }
                    }
                }
            }
        }
        _ => return None,
    }
    to_i420(PixelFormat::Rgb, W as u32, H as u32, &rgb).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_are_painted_once_and_differ() {
        let mut means = Vec::new();
        for name in SCENES {
            let a = Backdrop::scene(name).unwrap_or_else(|| panic!("{name}"));
            let b = Backdrop::scene(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(a, b, "{name} painted twice");
            assert_eq!(a.size(), (1280, 720));
            assert_eq!(a.name(), format!("scene:{name}"));
            let (y, u, v) = a.picture().planes();
            let mean = |p: &[u8]| p.iter().map(|&x| u64::from(x)).sum::<u64>() / p.len() as u64;
            means.push((mean(y), mean(u), mean(v)));
        }
        means.dedup();
        assert_eq!(means.len(), 3, "{means:?}");
        assert!(Backdrop::scene("../etc/passwd").is_none());
    }

    #[test]
    fn names_from_outside_are_kept_printable() {
        let name = format!("a\u{202e}b\nc{}", "x".repeat(500));
        let b = Backdrop::new(
            &name,
            I420Frame::new(2, 2).unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(b.name().starts_with("abcxxx"));
        assert_eq!(b.name().chars().count(), 120);
    }
}
