//! X11 capture: screens are RandR monitors (or the whole root window when
//! the server has none), windows are the window manager's client list (or
//! the root's mapped, named children without one). Pictures come from
//! `GetImage` as 32-bit BGRX, the pointer is drawn in from XFixes, and the
//! result is scaled to at most full HD.

use x11rb::connection::Connection;
use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::xfixes::ConnectionExt as _;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, ImageFormat, MapState, Window};
use x11rb::rust_connection::RustConnection;

use super::{Pace, ScreenError, ScreenInfo, ScreenKind, ScreenSource, at_size, now_us, sent_size};
use crate::convert::bgrx_to_i420;
use crate::feed::CaptureFormat;
use crate::frame::I420Frame;

fn failed(e: impl std::fmt::Display) -> ScreenError {
    ScreenError::Failed(e.to_string())
}

fn connect() -> Result<(RustConnection, Window), ScreenError> {
    if std::env::var_os("DISPLAY").is_none() {
        let why = if std::env::var_os("WAYLAND_DISPLAY").is_some() {
            "this is a Wayland session without X11"
        } else {
            "no X11 display (DISPLAY is not set)"
        };
        return Err(ScreenError::NoDisplay(why.into()));
    }
    let (conn, n) = x11rb::connect(None)
        .map_err(|e| ScreenError::NoDisplay(format!("cannot reach the X11 display: {e}")))?;
    let root = conn
        .setup()
        .roots
        .get(n)
        .map(|s| s.root)
        .ok_or_else(|| ScreenError::NoDisplay("the X11 display has no such screen".into()))?;
    Ok((conn, root))
}

fn atom(conn: &RustConnection, name: &str) -> Result<u32, ScreenError> {
    Ok(conn
        .intern_atom(false, name.as_bytes())
        .map_err(failed)?
        .reply()
        .map_err(failed)?
        .atom)
}

/// A window's 32-bit property as numbers (empty when it has none).
fn numbers(conn: &RustConnection, w: Window, prop: u32) -> Vec<u32> {
    conn.get_property(false, w, prop, AtomEnum::ANY, 0, 4096)
        .ok()
        .and_then(|c| c.reply().ok())
        .and_then(|r| r.value32().map(Iterator::collect))
        .unwrap_or_default()
}

/// A window's title (`_NET_WM_NAME`, else `WM_NAME`).
fn title(conn: &RustConnection, w: Window, net_name: u32) -> Option<String> {
    for prop in [net_name, u32::from(AtomEnum::WM_NAME)] {
        let r = conn
            .get_property(false, w, prop, AtomEnum::ANY, 0, 1024)
            .ok()?
            .reply()
            .ok()?;
        let t = String::from_utf8_lossy(&r.value).trim().to_owned();
        if !t.is_empty() {
            return Some(t);
        }
    }
    None
}

/// The monitors: (name, x, y, width, height).
fn monitors(conn: &RustConnection, root: Window) -> Vec<(String, i16, i16, u16, u16)> {
    let listed = conn
        .randr_get_monitors(root, true)
        .ok()
        .and_then(|c| c.reply().ok())
        .map(|r| r.monitors)
        .unwrap_or_default();
    let mut out: Vec<_> = listed
        .iter()
        .map(|m| {
            let name = conn
                .get_atom_name(m.name)
                .ok()
                .and_then(|c| c.reply().ok())
                .map(|r| String::from_utf8_lossy(&r.name).into_owned())
                .unwrap_or_default();
            (name, m.x, m.y, m.width, m.height)
        })
        .collect();
    if out.is_empty()
        && let Ok(Ok(g)) = conn.get_geometry(root).map(|c| c.reply())
    {
        out.push((String::new(), 0, 0, g.width, g.height));
    }
    out
}

/// Top-level windows worth offering: the window manager's list, or the
/// root's mapped children with a title; never this process's own.
fn windows(conn: &RustConnection, root: Window) -> Result<Vec<(Window, String)>, ScreenError> {
    let net_name = atom(conn, "_NET_WM_NAME")?;
    let pid_atom = atom(conn, "_NET_WM_PID")?;
    let mut candidates = numbers(conn, root, atom(conn, "_NET_CLIENT_LIST")?);
    if candidates.is_empty() {
        candidates = conn
            .query_tree(root)
            .map_err(failed)?
            .reply()
            .map_err(failed)?
            .children;
    }
    let me = std::process::id();
    Ok(candidates
        .into_iter()
        .filter(|w| {
            conn.get_window_attributes(*w)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|a| a.map_state == MapState::VIEWABLE)
        })
        .filter(|w| numbers(conn, *w, pid_atom).first() != Some(&me))
        .filter_map(|w| title(conn, w, net_name).map(|t| (w, t)))
        .collect())
}

pub(super) fn list() -> Result<Vec<ScreenInfo>, ScreenError> {
    let (conn, root) = connect()?;
    let mut out = Vec::new();
    let screens = monitors(&conn, root);
    let many = screens.len() > 1;
    for (i, (name, _, _, w, h)) in screens.into_iter().enumerate() {
        let label = match (many, name.is_empty()) {
            (false, _) => "Entire screen".to_owned(),
            (true, true) => format!("Screen {}", i + 1),
            (true, false) => format!("Screen {} ({name})", i + 1),
        };
        out.push(ScreenInfo {
            id: format!("screen:{i}"),
            name: label,
            kind: ScreenKind::Screen,
            width: u32::from(w),
            height: u32::from(h),
        });
    }
    for (w, name) in windows(&conn, root)? {
        let Ok(Ok(g)) = conn.get_geometry(w).map(|c| c.reply()) else {
            continue;
        };
        out.push(ScreenInfo {
            id: format!("window:{w:#x}"),
            name,
            kind: ScreenKind::Window,
            width: u32::from(g.width),
            height: u32::from(g.height),
        });
    }
    Ok(out)
}

/// What is being captured.
enum Target {
    /// A part of the root window (a monitor).
    Area {
        x: i16,
        y: i16,
        w: u16,
        h: u16,
    },
    Window(Window),
}

pub(super) struct Capture {
    conn: RustConnection,
    root: Window,
    target: Target,
    fps: u32,
    pace: Pace,
    /// The size pictures are sent at (fixed for the share; a source that
    /// changes size is scaled to it).
    size: (u32, u32),
    cursor: bool,
}

impl Capture {
    pub(super) fn open(id: &str, fps: u32) -> Result<Self, ScreenError> {
        let (conn, root) = connect()?;
        let depth_ok = conn
            .setup()
            .pixmap_formats
            .iter()
            .any(|f| f.depth == 24 && f.bits_per_pixel == 32);
        if !depth_ok {
            return Err(ScreenError::Unsupported(
                "the X11 display does not use 32-bit pixels".into(),
            ));
        }
        let not_found = || ScreenError::NotFound(id.to_owned());
        let target = if let Some(n) = id.strip_prefix("screen:") {
            let n: usize = n.parse().map_err(|_| not_found())?;
            let (_, x, y, w, h) = monitors(&conn, root)
                .into_iter()
                .nth(n)
                .ok_or_else(not_found)?;
            Target::Area { x, y, w, h }
        } else if let Some(hex) = id.strip_prefix("window:0x") {
            let w = u32::from_str_radix(hex, 16).map_err(|_| not_found())?;
            conn.get_geometry(w)
                .map_err(failed)?
                .reply()
                .map_err(|_| not_found())?;
            Target::Window(w)
        } else {
            return Err(not_found());
        };
        let cursor = conn
            .xfixes_query_version(4, 0)
            .ok()
            .and_then(|c| c.reply().ok())
            .is_some();
        let mut me = Self {
            conn,
            root,
            target,
            fps,
            pace: Pace::new(fps),
            size: (2, 2),
            cursor,
        };
        let (_, _, w, h) = me.area()?;
        me.size = sent_size(u32::from(w), u32::from(h));
        Ok(me)
    }

    /// Where the target is now, in root coordinates: (x, y, width, height).
    fn area(&self) -> Result<(i16, i16, u16, u16), ScreenError> {
        match self.target {
            Target::Area { x, y, w, h } => Ok((x, y, w, h)),
            Target::Window(win) => {
                let gone = |_| ScreenError::Gone("the shared window was closed".into());
                let g = self
                    .conn
                    .get_geometry(win)
                    .map_err(failed)?
                    .reply()
                    .map_err(gone)?;
                let at = self
                    .conn
                    .translate_coordinates(win, self.root, 0, 0)
                    .map_err(failed)?
                    .reply()
                    .map_err(gone)?;
                Ok((at.dst_x, at.dst_y, g.width, g.height))
            }
        }
    }

    /// Draws the pointer (premultiplied ARGB from XFixes) over `px`, a
    /// BGRX picture of the area at (`ax`, `ay`) of `w`×`h`.
    fn draw_cursor(&self, px: &mut [u8], ax: i16, ay: i16, w: u16, h: u16) {
        let Some(c) = self
            .conn
            .xfixes_get_cursor_image()
            .ok()
            .and_then(|c| c.reply().ok())
        else {
            return;
        };
        let left = i32::from(c.x) - i32::from(c.xhot) - i32::from(ax);
        let top = i32::from(c.y) - i32::from(c.yhot) - i32::from(ay);
        for cy in 0..i32::from(c.height) {
            let y = top + cy;
            if !(0..i32::from(h)).contains(&y) {
                continue;
            }
            for cx in 0..i32::from(c.width) {
                let x = left + cx;
                if !(0..i32::from(w)).contains(&x) {
                    continue;
                }
                let argb = c.cursor_image[(cy * i32::from(c.width) + cx) as usize];
                let a = argb >> 24;
                if a == 0 {
                    continue;
                }
                let i = (y as usize * usize::from(w) + x as usize) * 4;
                for (k, shift) in [(0, 0), (1, 8), (2, 16)] {
                    let src = (argb >> shift) & 0xff;
                    let dst = u32::from(px[i + k]);
                    px[i + k] = (src + dst * (255 - a) / 255).min(255) as u8;
                }
            }
        }
    }
}

impl ScreenSource for Capture {
    fn format(&self) -> CaptureFormat {
        CaptureFormat {
            width: self.size.0,
            height: self.size.1,
            fps: self.fps,
        }
    }

    fn next_frame(&mut self) -> Result<I420Frame, ScreenError> {
        self.pace.wait();
        let (x, y, w, h) = self.area()?;
        if w < 2 || h < 2 {
            return Err(ScreenError::Gone(
                "the shared area has no size any more".into(),
            ));
        }
        let (drawable, gx, gy) = match self.target {
            Target::Area { .. } => (self.root, x, y),
            Target::Window(win) => (win, 0, 0),
        };
        let mut image = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, drawable, gx, gy, w, h, !0)
            .map_err(failed)?
            .reply()
            .map_err(|e| match self.target {
                // An unmapped or closed window cannot be read.
                Target::Window(_) => {
                    ScreenError::Gone(format!("the shared window went away ({e})"))
                }
                Target::Area { .. } => failed(e),
            })?
            .data;
        if self.cursor {
            self.draw_cursor(&mut image, x, y, w, h);
        }
        let full = bgrx_to_i420(u32::from(w), u32::from(h), u32::from(w) * 4, &image)?;
        let mut f = at_size(full, self.size)?;
        f.captured_us = now_us();
        Ok(f)
    }
}
