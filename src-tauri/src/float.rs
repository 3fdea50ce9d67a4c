//! The floating window: while a call runs and the main window is minimised
//! or in the background, a small always-on-top window shows the other
//! person with mute, camera and leave. It closes when the main window comes
//! back.
//!
//! The main page owns the call's state, so it decides what the floating
//! window shows ([`float_update`], `None` when there is nothing to float:
//! no call, a chat booking, or the person turned it off) and carries out
//! what its buttons ask ([`FloatAction`], relayed here). The floating page
//! only draws: its video comes through the same `frames:` protocol, from
//! the same decoded stream as the main window's (no second decode).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::{AppHandle, Manager, State, WebviewUrl, WebviewWindowBuilder};

use crate::AppState;
use crate::error::AppError;

/// The floating window's label (its capability names it).
pub const LABEL: &str = "float";
/// Its size, in logical pixels.
const SIZE: (f64, f64) = (320.0, 212.0);
/// About what a window manager's title bar adds to its height.
const TITLE_BAR: f64 = 32.0;
/// Its distance from the screen's bottom right corner.
const MARGIN: f64 = 24.0;
/// How long the main window must stay in the background (or in front)
/// before the floating window opens (or closes): focus passes through
/// nothing while the person clicks between two windows.
const SETTLE: Duration = Duration::from_millis(350);
/// The longest name or title the page may hand over.
const MAX_TEXT: usize = 200;

/// What the floating window shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct FloatView {
    /// The session's title.
    pub title: String,
    /// The person shown: their identity (whose frames to draw), or none
    /// while nobody else is here.
    pub identity: Option<String>,
    /// Their name, or who is awaited.
    pub name: String,
    /// Their video is on.
    pub video: bool,
    pub speaking: bool,
    /// Their microphone is muted.
    pub muted: bool,
    /// Our microphone.
    pub mic_on: bool,
    /// Our camera; none in a voice call.
    pub camera_on: Option<bool>,
}

/// What a floating window's button asks of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum FloatAction {
    ToggleMic,
    ToggleCamera,
    Leave,
    /// Back to the main window.
    ShowCall,
}

/// A floating window's button, for the main page to carry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct FloatRequest {
    pub action: FloatAction,
}

/// What the floating window should show, if anything.
#[derive(Debug, Default)]
pub(crate) struct Float {
    view: Mutex<Option<FloatView>>,
    /// The main window lost the focus (to another window, or minimised)
    /// and has not had it back. A window that never had the focus (no
    /// window manager gives it) is not in the background.
    background: AtomicBool,
}

impl Float {
    fn view(&self) -> Option<FloatView> {
        self.view.lock().ok()?.clone()
    }

    fn set(&self, view: Option<FloatView>) {
        if let Ok(mut v) = self.view.lock() {
            *v = view;
        }
    }
}

fn clip(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect()
}

impl FloatView {
    /// Names bounded, without control characters (the page draws them as
    /// text). The identity is left as it is: it is never shown, only asked
    /// for frames, which must find the same participant.
    fn cleaned(mut self) -> FloatView {
        self.title = clip(&self.title);
        self.name = clip(&self.name);
        self
    }
}

/// The main page: what the floating window should show now (`None`:
/// nothing, and it closes).
#[tauri::command]
#[specta::specta]
pub(crate) async fn float_update(
    app: AppHandle,
    state: State<'_, AppState>,
    view: Option<FloatView>,
) -> Result<(), AppError> {
    let view = view.map(FloatView::cleaned);
    state.float.set(view.clone());
    match view {
        None => close(&app),
        Some(view) => {
            if app.get_webview_window(LABEL).is_some() {
                crate::emit(&app, view);
            } else if state.float.background.load(Ordering::SeqCst) {
                open(&app);
            }
        }
    }
    Ok(())
}

/// The floating page, when it opens: what to show.
#[tauri::command]
#[specta::specta]
pub(crate) async fn float_view(state: State<'_, AppState>) -> Result<Option<FloatView>, AppError> {
    Ok(state.float.view())
}

/// The floating page's buttons. Back to the call is done here; the rest go
/// to the main page, which runs the call.
#[tauri::command]
#[specta::specta]
pub(crate) async fn float_action(app: AppHandle, action: FloatAction) -> Result<(), AppError> {
    if matches!(action, FloatAction::ShowCall | FloatAction::Leave) {
        // Leaving shows the ended screen, with the notes and transcript.
        crate::show_main(&app);
    }
    if action != FloatAction::ShowCall {
        crate::emit(&app, FloatRequest { action });
    }
    Ok(())
}

/// The main window gained or lost the focus: once that has lasted a
/// moment, the floating window closes (the main window is in front) or
/// opens (it is not). A focus that only flickers changes nothing.
pub(crate) fn main_focus_changed(app: &AppHandle, focused: bool) {
    app.state::<AppState>()
        .float
        .background
        .store(!focused, Ordering::SeqCst);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(SETTLE).await;
        let state = app.state::<AppState>();
        if !state.float.background.load(Ordering::SeqCst) {
            close(&app);
        } else if state.float.view().is_some() {
            open(&app);
        }
    });
}

/// Opens the floating window at the bottom right of the main window's
/// screen, without taking the focus from where the person went. Called off
/// the main thread (from async tasks): building a window waits for the
/// event loop, which would deadlock it there.
fn open(app: &AppHandle) {
    if app.get_webview_window(LABEL).is_some() {
        return;
    }
    let mut builder = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("index.html".into()))
        .title("Tandem call")
        .inner_size(SIZE.0, SIZE.1)
        .min_inner_size(240.0, 160.0)
        .always_on_top(true)
        .visible_on_all_workspaces(true)
        .skip_taskbar(true)
        .focused(false);
    if let Some((x, y)) = corner(app) {
        builder = builder.position(x, y);
    }
    if let Err(e) = builder.build() {
        tracing::warn!("the floating window could not open: {e}");
    }
}

/// The floating window's top left corner: the bottom right of the screen
/// the main window is on (logical pixels).
fn corner(app: &AppHandle) -> Option<(f64, f64)> {
    let main = app.get_webview_window("main")?;
    let monitor = main
        .current_monitor()
        .ok()
        .flatten()
        .or_else(|| main.primary_monitor().ok().flatten())?;
    let scale = monitor.scale_factor();
    let at = monitor.position().to_logical::<f64>(scale);
    let size = monitor.size().to_logical::<f64>(scale);
    // The position is the frame's; the title bar adds to the height.
    Some(place(
        (at.x, at.y),
        (size.width, size.height),
        (SIZE.0, SIZE.1 + TITLE_BAR),
        MARGIN,
    ))
}

/// Where a window of `size` goes in the bottom right corner of a screen at
/// `at` of `screen` size, `margin` from its edges (never off its top left).
fn place(at: (f64, f64), screen: (f64, f64), size: (f64, f64), margin: f64) -> (f64, f64) {
    (
        at.0 + (screen.0 - size.0 - margin).max(0.0),
        at.1 + (screen.1 - size.1 - margin).max(0.0),
    )
}

/// The call is over: nothing floats (whatever the page said last).
pub(crate) fn call_over(app: &AppHandle) {
    app.state::<AppState>().float.set(None);
    close(app);
}

fn close(app: &AppHandle) {
    if let Some(w) = app.get_webview_window(LABEL)
        && let Err(e) = w.destroy()
    {
        tracing::warn!("the floating window could not close: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_sits_in_the_bottom_right_corner_of_its_screen() {
        assert_eq!(
            place((0.0, 0.0), (1280.0, 860.0), (320.0, 212.0), 24.0),
            (936.0, 624.0)
        );
        // A second screen to the right.
        assert_eq!(
            place((1920.0, 0.0), (1280.0, 1024.0), (320.0, 212.0), 24.0),
            (2856.0, 788.0)
        );
        // A screen smaller than the window: its top left.
        assert_eq!(
            place((0.0, 0.0), (300.0, 200.0), (320.0, 212.0), 24.0),
            (0.0, 0.0)
        );
    }

    #[test]
    fn names_from_the_page_are_bounded_text() {
        let v = FloatView {
            title: "t".repeat(1000),
            identity: Some("p\u{7}1".into()),
            name: "Ann\nLee".into(),
            video: true,
            speaking: false,
            muted: false,
            mic_on: true,
            camera_on: None,
        }
        .cleaned();
        assert_eq!(v.title.chars().count(), MAX_TEXT);
        assert_eq!(v.name, "AnnLee");
        assert_eq!(
            v.identity.as_deref(),
            Some("p\u{7}1"),
            "whose frames: unchanged"
        );
    }
}
