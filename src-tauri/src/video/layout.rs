//! What the page says about its video elements, checked: the layout the
//! native renderer draws, and which path a window uses.

use serde::{Deserialize, Serialize};

/// At most this many video elements at once (a grid of 16 is plenty).
pub const MAX_VIEWS: usize = 32;
/// The largest coordinate a page may report, in CSS pixels.
const MAX_COORD: f64 = 32_768.0;

/// Which way video is drawn in a window.
#[derive(
    Debug, Clone, Serialize, Deserialize, PartialEq, Eq, specta::Type, tauri_specta::Event,
)]
#[serde(rename_all = "camelCase")]
pub struct VideoPath {
    /// Drawn natively (true) or by the page from `frames:` (false).
    pub native: bool,
    /// Why, in a person's words (shown in the app's status and logged).
    pub reason: String,
}

/// How a picture fills its element.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum Fit {
    /// All of the picture, with bars (screens, the full view).
    Contain,
    /// The element filled, the picture cut at the edges (tiles).
    Cover,
}

/// One video element (or a coloured element behind one), as the page lays
/// it out (CSS pixels, from the top
/// left of the window's page).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ViewPlacement {
    /// The element's own name (one per element).
    pub id: String,
    /// "local", a participant identity, or `screen:<identity>`; none for
    /// a plain fill of `background` (an element behind the video, whose
    /// colour the page cannot paint: it would cover the video).
    pub source: Option<String>,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// Higher is drawn later (on top).
    pub z: i32,
    pub mirrored: bool,
    /// Corner radius, CSS pixels.
    pub radius: f64,
    pub fit: Fit,
    /// Colour behind the picture (bars), 0xRRGGBB.
    pub background: u32,
}

/// Everything the page shows, as one message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct VideoLayout {
    /// The page's own background, 0xRRGGBB: drawn where the page is
    /// transparent and no video is.
    pub background: u32,
    pub views: Vec<ViewPlacement>,
}

/// A checked view: finite, bounded, sorted by z.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub id: String,
    pub source: Option<String>,
    pub rect: [f32; 4],
    pub mirrored: bool,
    pub radius: f32,
    pub fit: Fit,
    pub background: [f32; 3],
}

/// Where a picture of `fw`×`fh` goes in `rect` (x, y, w, h).
pub fn placed_quad(rect: [f32; 4], fw: u32, fh: u32, fit: Fit) -> [f32; 4] {
    let [x, y, w, h] = rect;
    if fw == 0 || fh == 0 || w <= 0.0 || h <= 0.0 {
        return rect;
    }
    let sx = w / fw as f32;
    let sy = h / fh as f32;
    let s = match fit {
        Fit::Contain => sx.min(sy),
        Fit::Cover => sx.max(sy),
    };
    let (qw, qh) = (fw as f32 * s, fh as f32 * s);
    [x + (w - qw) / 2.0, y + (h - qh) / 2.0, qw, qh]
}

pub fn rgb(c: u32) -> [f32; 3] {
    let c = c & 0xff_ff_ff;
    [
        ((c >> 16) & 0xff) as f32 / 255.0,
        ((c >> 8) & 0xff) as f32 / 255.0,
        (c & 0xff) as f32 / 255.0,
    ]
}

impl VideoLayout {
    /// What of the page's report can be drawn: nonsense (NaN, infinite,
    /// negative sizes, too many views, long names) is refused with a
    /// reason; views off the page are kept (they draw nothing).
    pub fn checked(self) -> Result<(Vec<Placed>, [f32; 3]), String> {
        if self.views.len() > MAX_VIEWS {
            return Err(format!("at most {MAX_VIEWS} video views"));
        }
        let mut ids = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(self.views.len());
        let mut views = self.views;
        views.sort_by_key(|v| v.z);
        for v in views {
            if v.id.is_empty() || v.id.len() > 64 || !ids.insert(v.id.clone()) {
                return Err("each view needs its own short name".into());
            }
            if v.source
                .as_ref()
                .is_some_and(|s| s.is_empty() || s.len() > 300)
            {
                return Err("a view's source must be 1 to 300 bytes".into());
            }
            let nums = [v.x, v.y, v.width, v.height, v.radius];
            if nums.iter().any(|n| !n.is_finite() || n.abs() > MAX_COORD) {
                return Err(format!("{}: its place is not a finite number", v.id));
            }
            if v.width < 0.0 || v.height < 0.0 || v.radius < 0.0 {
                return Err(format!("{}: a negative size", v.id));
            }
            out.push(Placed {
                id: v.id,
                source: v.source,
                rect: [v.x as f32, v.y as f32, v.width as f32, v.height as f32],
                mirrored: v.mirrored,
                radius: v.radius.min(v.width.min(v.height) / 2.0) as f32,
                fit: v.fit,
                background: rgb(v.background),
            });
        }
        Ok((out, rgb(self.background)))
    }
}

/// What `TANDEM_VIDEO` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    Auto,
    Native,
    Webview,
}

impl Wanted {
    pub fn from_env() -> Self {
        Self::parse(std::env::var("TANDEM_VIDEO").ok().as_deref())
    }

    pub fn parse(v: Option<&str>) -> Self {
        match v.map(str::trim) {
            Some("native") => Wanted::Native,
            Some("webview") => Wanted::Webview,
            Some("") | None => Wanted::Auto,
            Some(other) => {
                tracing::warn!(
                    "TANDEM_VIDEO={other:?} is not native or webview; choosing by itself"
                );
                Wanted::Auto
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn view(id: &str, z: i32) -> ViewPlacement {
        ViewPlacement {
            id: id.into(),
            source: Some("alice".into()),
            x: 10.0,
            y: 20.0,
            width: 320.0,
            height: 180.0,
            z,
            mirrored: false,
            radius: 500.0,
            fit: Fit::Cover,
            background: 0x10_20_30,
        }
    }

    #[test]
    fn layouts_are_checked_and_drawn_in_z_order() {
        let layout = VideoLayout {
            background: 0xff_00_00,
            views: vec![view("pip", 2), view("main", 0)],
        };
        let (views, bg) = layout.checked().unwrap();
        assert_eq!(bg, [1.0, 0.0, 0.0]);
        assert_eq!(views[0].id, "main", "lowest z first");
        assert_eq!(views[0].radius, 90.0, "radius at most half the short side");
        for bad in [
            VideoLayout {
                background: 0,
                views: vec![ViewPlacement {
                    x: f64::NAN,
                    ..view("a", 0)
                }],
            },
            VideoLayout {
                background: 0,
                views: vec![ViewPlacement {
                    width: -1.0,
                    ..view("a", 0)
                }],
            },
            VideoLayout {
                background: 0,
                views: vec![ViewPlacement {
                    y: 1e300,
                    ..view("a", 0)
                }],
            },
            VideoLayout {
                background: 0,
                views: vec![view("a", 0), view("a", 1)],
            },
            VideoLayout {
                background: 0,
                views: (0..40).map(|i| view(&format!("v{i}"), i)).collect(),
            },
        ] {
            assert!(bad.clone().checked().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pictures_are_fitted_or_cover_their_element() {
        // 16:9 in a square: bars above and below, or cut at the sides.
        assert_eq!(
            placed_quad([0.0, 0.0, 160.0, 160.0], 1280, 720, Fit::Contain),
            [0.0, 35.0, 160.0, 90.0]
        );
        let c = placed_quad([10.0, 0.0, 90.0, 90.0], 1280, 720, Fit::Cover);
        assert_eq!(c[3], 90.0);
        assert!((c[2] - 160.0).abs() < 1e-3 && (c[0] - (10.0 - 35.0)).abs() < 1e-3);
        // Nothing to fit: the element itself.
        assert_eq!(
            placed_quad([1.0, 2.0, 3.0, 4.0], 0, 0, Fit::Contain),
            [1.0, 2.0, 3.0, 4.0]
        );
    }
    #[test]
    fn the_choice_is_read_from_the_environment() {
        assert_eq!(Wanted::parse(Some("native")), Wanted::Native);
        assert_eq!(Wanted::parse(Some("webview")), Wanted::Webview);
        assert_eq!(Wanted::parse(None), Wanted::Auto);
        assert_eq!(Wanted::parse(Some("gpu")), Wanted::Auto);
    }
}
