//! Linux: the main window's webview is laid over a drawing area in a
//! `GtkOverlay` and made transparent; the drawing area paints each view's
//! newest picture where the page said its element is, and the colours of
//! the elements behind it. GTK composes both in the window, so the page's
//! controls, names and frames stay on top of the video. Pictures are
//! converted and scaled once per new frame to the size they are shown
//! (SIMD, in tandem-media's `BgrxScaler`, into the same cairo surface each
//! time), then painted by cairo. Runs on GTK's thread.
//!
//! Why not a GL area: GTK 3 then paints the whole window with GL, and
//! under Mesa it dropped the transparent webview above it (nothing of the
//! page shown), or, with GDK_GL=software-draw-surface, left stale page
//! content over the video. A child X11/Wayland window for wgpu would sit
//! above the webview. See docs/decisions.md D15.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gtk::cairo;
use gtk::prelude::*;
use tandem_call::media::convert::BgrxScaler;
use tandem_call::media::{FrameReceiver, I420Frame};
use tauri::{AppHandle, Manager, WebviewWindow};
use webkit2gtk::WebViewExt as _;

use super::layout::{Placed, VideoPath, Wanted, placed_quad};
use crate::AppState;

/// How often each shown source is looked up again: its video may begin,
/// end, or start over on a new channel (a camera switched).
const LOOK_AGAIN: Duration = Duration::from_millis(250);

thread_local! {
    static SURFACE: RefCell<Option<Surface>> = const { RefCell::new(None) };
}

struct Surface {
    area: gtk::DrawingArea,
    app: AppHandle,
    sources: HashMap<String, Source>,
    /// The seq each view last drew.
    shown: HashMap<String, u64>,
}

/// What a display refresh has to draw again.
enum News {
    Nothing,
    All,
    /// x, y, width, height in the page's pixels.
    Area([f64; 4]),
}

/// One source's frames, and its newest picture as painted.
struct Source {
    rx: Option<FrameReceiver>,
    looked: Instant,
    frame: Option<Arc<I420Frame>>,
    /// Pictures taken so far.
    seq: u64,
    /// The picture converted for painting: for which seq, at what size.
    image: Option<(u64, cairo::ImageSurface)>,
    /// Converts and scales its pictures, keeping its buffers.
    scaler: BgrxScaler,
}

fn decide(app: &AppHandle, native: bool, reason: impl Into<String>) {
    let path = VideoPath {
        native,
        reason: reason.into(),
    };
    app.state::<AppState>().video.decide("main", path.clone());
    crate::emit(app, path);
}

/// Puts the drawing area under the main window's webview.
pub(super) fn install(app: &AppHandle, window: &WebviewWindow, wanted: Wanted) {
    let app = app.clone();
    let done = app.clone();
    let result = window.with_webview(move |platform| match build(&app, platform.inner()) {
        Ok(()) => {
            let how = if wanted == Wanted::Native {
                "TANDEM_VIDEO=native"
            } else {
                "chosen by itself"
            };
            decide(&app, true, format!("drawn natively under the page ({how})"));
        }
        Err(why) => decide(&app, false, format!("drawn by the page: {why}")),
    });
    if let Err(e) = result {
        decide(&done, false, format!("drawn by the page: {e}"));
    }
}

fn build(app: &AppHandle, webview: webkit2gtk::WebView) -> Result<(), String> {
    let parent = webview
        .parent()
        .and_then(|p| p.downcast::<gtk::Box>().ok())
        .ok_or("the webview is not where Tauri puts it")?;
    let overlay = gtk::Overlay::new();
    let area = gtk::DrawingArea::new();
    parent.remove(&webview);
    overlay.add(&area);
    overlay.add_overlay(&webview);
    parent.pack_start(&overlay, true, true, 0);
    webview.set_background_color(&gtk::gdk::RGBA::new(0.0, 0.0, 0.0, 0.0));
    area.connect_draw(|area, cr| {
        SURFACE.with(|s| {
            if let Some(s) = s.borrow_mut().as_mut() {
                let scale = f64::from(area.scale_factor().max(1));
                if let Err(e) = s.draw(cr, scale) {
                    tracing::warn!("video could not be drawn: {e}");
                }
            }
        });
        gtk::glib::Propagation::Stop
    });
    // On each display refresh: draw again when a shown source has a new
    // picture. Never waits for the page.
    area.add_tick_callback(|area, _clock| {
        let news = SURFACE.with(|s| s.borrow_mut().as_mut().map(Surface::news));
        match news {
            Some(News::All) => area.queue_draw(),
            // Only the changed pictures' places (the page above them is
            // composed again there, not everywhere).
            Some(News::Area([x, y, w, h])) => {
                let (x0, y0) = (x.floor() as i32, y.floor() as i32);
                let (x1, y1) = ((x + w).ceil() as i32, (y + h).ceil() as i32);
                area.queue_draw_area(x0, y0, x1 - x0, y1 - y0);
            }
            Some(News::Nothing) | None => {}
        }
        gtk::glib::ControlFlow::Continue
    });
    SURFACE.with(|s| {
        *s.borrow_mut() = Some(Surface {
            area,
            app: app.clone(),
            sources: HashMap::new(),
            shown: HashMap::new(),
        })
    });
    overlay.show_all();
    Ok(())
}

/// The page moved something: draw again now.
pub(super) fn redraw(window: &WebviewWindow) {
    let _ = window.run_on_main_thread(|| {
        SURFACE.with(|s| {
            if let Some(s) = s.borrow().as_ref() {
                s.area.queue_draw();
            }
        });
    });
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// A rectangle with rounded corners, as the current path.
fn rounded(cr: &cairo::Context, [x, y, w, h]: [f64; 4], r: f64) {
    use std::f64::consts::{FRAC_PI_2, PI};
    let r = r.min(w / 2.0).min(h / 2.0).max(0.0);
    cr.new_sub_path();
    cr.arc(x + w - r, y + r, r, -FRAC_PI_2, 0.0);
    cr.arc(x + w - r, y + h - r, r, 0.0, FRAC_PI_2);
    cr.arc(x + r, y + h - r, r, FRAC_PI_2, PI);
    cr.arc(x + r, y + r, r, PI, 3.0 * FRAC_PI_2);
    cr.close_path();
}

/// `frame` scaled to `w`×`h` (at most its own size) and converted for
/// cairo, into `old` when it has that size and nothing else holds it.
fn image_of(
    scaler: &mut BgrxScaler,
    frame: &I420Frame,
    (w, h): (u32, u32),
    old: Option<cairo::ImageSurface>,
) -> Result<cairo::ImageSurface, String> {
    let (w, h) = tandem_call::media::frame::fit(frame.width(), frame.height(), w, h);
    let new = || {
        cairo::ImageSurface::create(cairo::Format::Rgb24, w as i32, h as i32)
            .map_err(|e| e.to_string())
    };
    let mut surface = match old {
        Some(s) if (s.width() as u32, s.height() as u32) == (w, h) => s,
        _ => new()?,
    };
    // Still held by cairo (never so after a draw): a new one.
    if surface.data().is_err() {
        surface = new()?;
    }
    let stride = surface.stride() as u32;
    {
        let mut data = surface.data().map_err(|e| e.to_string())?;
        scaler
            .scale_into(frame, &mut data, (w, h), stride)
            .map_err(|e| e.to_string())?;
    }
    surface.mark_dirty();
    Ok(surface)
}

impl Surface {
    /// Looks the layout's sources up (again, every [`LOOK_AGAIN`]);
    /// returns whether one got a new channel.
    fn refresh_sources(&mut self, views: &[Placed]) -> bool {
        let state = self.app.state::<AppState>();
        let mut fresh = false;
        self.sources
            .retain(|name, _| views.iter().any(|v| v.source.as_ref() == Some(name)));
        for source in views.iter().filter_map(|v| v.source.as_ref()) {
            let src = self
                .sources
                .entry(source.clone())
                .or_insert_with(|| Source {
                    rx: None,
                    looked: Instant::now() - LOOK_AGAIN,
                    frame: None,
                    seq: 0,
                    image: None,
                    scaler: BgrxScaler::default(),
                });
            if src.looked.elapsed() < LOOK_AGAIN {
                continue;
            }
            src.looked = Instant::now();
            match (state.video(source), &src.rx) {
                (Some(now), Some(old)) if now.same_channel(old) => {}
                (Some(now), _) => {
                    tracing::debug!(source, "video source found");
                    // Its current picture is taken at the next draw.
                    src.rx = Some(now);
                    src.frame = None;
                    fresh = true;
                }
                (None, _) => {
                    fresh |= src.frame.is_some();
                    src.rx = None;
                    src.frame = None;
                }
            }
        }
        fresh
    }

    /// What to draw again: everything (a source began or ended), the
    /// views of the sources with a new picture, or nothing.
    fn news(&mut self) -> News {
        let (views, _, _) = self.app.state::<AppState>().video.scene.layout();
        if self.refresh_sources(&views) {
            return News::All;
        }
        let mut area: Option<[f64; 4]> = None;
        for (name, s) in &self.sources {
            // A channel that closed needs one draw, to clear it.
            let new =
                s.rx.as_ref()
                    .is_some_and(|rx| rx.has_changed().unwrap_or(s.frame.is_some()));
            if !new {
                continue;
            }
            for v in views.iter().filter(|v| v.source.as_ref() == Some(name)) {
                let r = v.rect.map(f64::from);
                area = Some(match area {
                    None => r,
                    Some(a) => {
                        let (x0, y0) = (a[0].min(r[0]), a[1].min(r[1]));
                        let x1 = (a[0] + a[2]).max(r[0] + r[2]);
                        let y1 = (a[1] + a[3]).max(r[1] + r[3]);
                        [x0, y0, x1 - x0, y1 - y0]
                    }
                });
            }
        }
        area.map_or(News::Nothing, News::Area)
    }

    fn draw(&mut self, cr: &cairo::Context, scale: f64) -> Result<(), cairo::Error> {
        let app = self.app.clone();
        let scene = &app.state::<AppState>().video.scene;
        let (all, background, _) = scene.layout();
        self.refresh_sources(&all);
        // Only what GTK asked for is drawn (a changed picture's place):
        // other views keep their pictures, unseen, for their own turn.
        let (cx0, cy0, cx1, cy1) = cr.clip_extents()?;
        let views: Vec<&Placed> = all
            .iter()
            .filter(|v| {
                let [x, y, w, h] = v.rect.map(f64::from);
                w >= 1.0 && h >= 1.0 && x < cx1 && y < cy1 && x + w > cx0 && y + h > cy0
            })
            .collect();
        let inside = |v: &Placed| {
            let [x, y, w, h] = v.rect.map(f64::from);
            x >= cx0 - 1.0 && y >= cy0 - 1.0 && x + w <= cx1 + 1.0 && y + h <= cy1 + 1.0
        };
        for (name, src) in &mut self.sources {
            // A new picture is taken only where all of it will be drawn; a
            // view cut by this draw's edge keeps its picture until its own.
            let mut shown = views.iter().filter(|v| v.source.as_ref() == Some(name));
            if !shown.clone().any(|_| true) || !shown.all(|v| inside(v)) {
                continue;
            }
            let Some(rx) = src.rx.as_mut() else { continue };
            if rx.has_changed().is_err() {
                src.rx = None;
                src.frame = None;
                continue;
            }
            if rx.has_changed().unwrap_or(false) || src.frame.is_none() {
                let frame = rx.borrow_and_update().clone();
                if frame.is_some() {
                    src.seq += 1;
                    src.frame = frame;
                }
            }
        }
        let [r, g, b] = background.map(f64::from);
        cr.set_source_rgb(r, g, b);
        cr.paint()?;
        let now = now_ms();
        for v in views {
            let rect = v.rect.map(f64::from);
            cr.save()?;
            rounded(cr, rect, f64::from(v.radius));
            cr.clip();
            let [r, g, b] = v.background.map(f64::from);
            cr.set_source_rgb(r, g, b);
            cr.paint()?;
            let drawn = match &v.source {
                Some(source) => self.paint_source(cr, source, v, scale),
                None => Ok(None),
            };
            cr.restore()?;
            let Some(source) = &v.source else { continue };
            match drawn {
                Ok(Some((seq, w, h, received_us))) => {
                    let before = self.shown.insert(v.id.clone(), seq);
                    if before.is_none() {
                        tracing::debug!(source, view = v.id, "first picture drawn");
                    }
                    if before != Some(seq) {
                        let added = (received_us > 0).then(|| now - received_us as f64 / 1000.0);
                        scene.drawn(&v.id, w, h, now, added);
                    }
                }
                Ok(None) => scene.set_has_video(&v.id, false),
                Err(e) => {
                    tracing::warn!(source, "a picture could not be drawn: {e}");
                    scene.set_has_video(&v.id, false);
                }
            }
        }
        self.shown.retain(|id, _| all.iter().any(|v| &v.id == id));
        Ok(())
    }

    /// Paints `source`'s newest picture into `v` (clipped already): its
    /// seq, size and receive time, or None when it has no picture.
    fn paint_source(
        &mut self,
        cr: &cairo::Context,
        source: &str,
        v: &Placed,
        scale: f64,
    ) -> Result<Option<(u64, u32, u32, i64)>, String> {
        let Some(src) = self.sources.get_mut(source) else {
            return Ok(None);
        };
        let Some(frame) = src.frame.clone() else {
            return Ok(None);
        };
        let q = placed_quad(v.rect, frame.width(), frame.height(), v.fit).map(f64::from);
        let (want_w, want_h) = ((q[2] * scale).round() as u32, (q[3] * scale).round() as u32);
        let (fw, fh) =
            tandem_call::media::frame::fit(frame.width(), frame.height(), want_w, want_h);
        let stale = !matches!(&src.image, Some((seq, img))
            if *seq == src.seq && img.width() as u32 == fw && img.height() as u32 == fh);
        if stale {
            let old = src.image.take().map(|(_, img)| img);
            let image = image_of(&mut src.scaler, &frame, (want_w, want_h), old)?;
            src.image = Some((src.seq, image));
        }
        let Some((seq, image)) = &src.image else {
            return Ok(None);
        };
        let (iw, ih) = (f64::from(image.width()), f64::from(image.height()));
        let paint = || -> Result<(), cairo::Error> {
            cr.translate(q[0], q[1]);
            if v.mirrored {
                cr.translate(q[2], 0.0);
                cr.scale(-1.0, 1.0);
            }
            let (sx, sy) = (q[2] / iw, q[3] / ih);
            cr.scale(sx, sy);
            cr.set_source_surface(image, 0.0, 0.0)?;
            // Converted at the size shown, the picture is copied as it is;
            // only a picture smaller than its place (a low layer in a large
            // window) is stretched, bilinearly. Cairo's "good" filter is a
            // convolution that cost 80 ms a frame here.
            let exact = (sx * scale - 1.0).abs() < 0.01 && (sy * scale - 1.0).abs() < 0.01;
            cr.source().set_filter(if exact {
                cairo::Filter::Nearest
            } else {
                cairo::Filter::Bilinear
            });
            cr.paint()
        };
        paint().map_err(|e| e.to_string())?;
        Ok(Some((
            *seq,
            frame.width(),
            frame.height(),
            frame.received_us,
        )))
    }
}
