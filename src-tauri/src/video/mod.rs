//! How call video reaches the screen: natively, drawn by the GPU under a
//! transparent webview (the page reports where each video goes), or through
//! the `frames:` protocol into the page (the fallback). See
//! docs/decisions.md D15.
//!
//! The page asks `video_path` once; on the native path it sends
//! `video_layout` whenever a video element moves, and reads `video_stats`
//! for what was drawn. Frames never pass through JavaScript there.

use std::collections::HashMap;
use std::sync::Mutex;

use tauri::{AppHandle, Manager, State, WebviewWindow};

use crate::AppState;
use crate::error::{AppError, ErrorCode};

pub mod layout;
#[cfg(target_os = "linux")]
mod linux;
mod scene;

pub use layout::VideoPath;
use layout::{VideoLayout, Wanted};
pub use scene::{Scene, ViewStats};

/// The native renderers of the app's windows, by window label.
#[derive(Debug, Default)]
pub struct Video {
    /// Each window's path, once decided.
    paths: Mutex<HashMap<String, VideoPath>>,
    /// Shared with the renderer: layout in, stats out.
    pub scene: std::sync::Arc<Scene>,
    /// Told when a window's path is decided.
    decided: tokio::sync::Notify,
}

impl Video {
    fn path_of(&self, label: &str) -> Option<VideoPath> {
        self.paths.lock().ok()?.get(label).cloned()
    }

    /// Records a window's path (logged, and told to a page that waits).
    pub fn decide(&self, label: &str, path: VideoPath) {
        tracing::info!(
            window = label,
            native = path.native,
            "video path: {}",
            path.reason
        );
        if let Ok(mut p) = self.paths.lock() {
            p.insert(label.to_owned(), path);
        }
        self.decided.notify_waiters();
    }
}

/// Sets up the main window's video: the native surface where this OS has
/// one and it can be made, else the `frames:` path. Called once at start.
pub fn set_up(app: &AppHandle) {
    let state = app.state::<AppState>();
    let video = &state.video;
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let wanted = Wanted::from_env();
    if wanted == Wanted::Webview {
        video.decide(
            "main",
            VideoPath {
                native: false,
                reason: "drawn by the page (TANDEM_VIDEO=webview)".into(),
            },
        );
        return;
    }
    if let Some(why) = no_dmabuf(
        std::env::var("WEBKIT_DISABLE_DMABUF_RENDERER")
            .ok()
            .as_deref(),
    ) {
        video.decide(
            "main",
            VideoPath {
                native: false,
                reason: format!("drawn by the page: {why}"),
            },
        );
        return;
    }
    native(app, &window, wanted);
}

/// Why the native surface cannot be used with this WebKit setting: without
/// its DMA-BUF renderer, WebKitGTK (2.50) leaves stale page content in a
/// transparent page instead of what lies below, so the video would never
/// be seen.
fn no_dmabuf(setting: Option<&str>) -> Option<&'static str> {
    let off = setting.is_some_and(|v| !v.trim().is_empty() && v.trim() != "0");
    off.then_some(
        "WebKit's DMA-BUF renderer is off (WEBKIT_DISABLE_DMABUF_RENDERER), and a transparent page needs it",
    )
}

#[cfg(target_os = "linux")]
fn native(app: &AppHandle, window: &WebviewWindow, wanted: Wanted) {
    linux::install(app, window, wanted);
}

#[cfg(not(target_os = "linux"))]
fn native(app: &AppHandle, _window: &WebviewWindow, wanted: Wanted) {
    let reason = if wanted == Wanted::Native {
        "drawn by the page: native video is not available on this system yet"
    } else {
        "drawn by the page (native video is Linux-only so far)"
    };
    app.state::<AppState>().video.decide(
        "main",
        VideoPath {
            native: false,
            reason: reason.into(),
        },
    );
}

/// How this window's video is drawn. Waits (at most 3 s) for the native
/// surface to be made or refused, so the page never starts on one path
/// and jumps to the other.
#[tauri::command]
#[specta::specta]
pub(crate) async fn video_path(
    window: WebviewWindow,
    state: State<'_, AppState>,
) -> Result<VideoPath, AppError> {
    let label = window.label().to_owned();
    if label != "main" {
        return Ok(VideoPath {
            native: false,
            reason: "drawn by the page (only the main window has native video)".into(),
        });
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let wait = state.video.decided.notified();
        if let Some(p) = state.video.path_of(&label) {
            return Ok(p);
        }
        if tokio::time::timeout_at(deadline, wait).await.is_err() {
            let p = VideoPath {
                native: false,
                reason: "drawn by the page: the native surface did not start in time".into(),
            };
            state.video.decide(&label, p.clone());
            return Ok(p);
        }
    }
}

/// Where the page's video elements are now (native path only).
#[tauri::command]
#[specta::specta]
pub(crate) async fn video_layout(
    window: WebviewWindow,
    state: State<'_, AppState>,
    layout: VideoLayout,
) -> Result<(), AppError> {
    if window.label() != "main" {
        return Err(AppError::new(
            ErrorCode::InvalidInput,
            "Only the main window draws video natively.",
        ));
    }
    let (views, background) = layout.checked().map_err(|why| {
        tracing::warn!("video layout refused: {why}");
        AppError::new(ErrorCode::InvalidInput, why)
    })?;
    tracing::debug!(views = views.len(), "video layout");
    state.video.scene.set_layout(views, background);
    #[cfg(target_os = "linux")]
    linux::redraw(&window);
    Ok(())
}

/// What each native view has drawn (for the page's status, tests and the
/// benchmark).
#[tauri::command]
#[specta::specta]
pub(crate) async fn video_stats(state: State<'_, AppState>) -> Result<Vec<ViewStats>, AppError> {
    Ok(state.video.scene.stats())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn webkit_without_dmabuf_rules_the_native_path_out() {
        assert!(no_dmabuf(Some("1")).is_some());
        assert!(no_dmabuf(Some("yes")).is_some());
        assert!(no_dmabuf(Some("0")).is_none());
        assert!(no_dmabuf(Some("")).is_none());
        assert!(no_dmabuf(None).is_none());
    }
}
