//! Shared screens and windows: a [`ScreenSource`] is read on its own thread
//! by a [`ScreenFeed`] (the same feed cameras use), which keeps only the
//! newest I420 picture, at most [`MAX_WIDTH`]×[`MAX_HEIGHT`] (larger sources
//! are scaled down, keeping their shape).
//!
//! Capture is per system: X11 ([`x11`]), and Wayland through the desktop's
//! ScreenCast portal and PipeWire ([`portal`], [`cast`]), where the person
//! chooses in the system's dialog; a synthetic page of text and colour
//! blocks ([`Synthetic`]) runs everywhere, for the bot and tests.

#[cfg(target_os = "linux")]
mod cast;
#[cfg(target_os = "linux")]
mod portal;
mod synthetic;
#[cfg(target_os = "linux")]
mod x11;

pub use synthetic::{BLOCKS as SYNTHETIC_BLOCKS, Synthetic};

use crate::feed::CaptureFormat;
use crate::feed::{Feed, FeedStatus, Source};
use crate::frame::{FrameError, I420Frame, fit};

/// The largest picture a share sends; bigger screens are scaled down.
pub const MAX_WIDTH: u32 = 1920;
pub const MAX_HEIGHT: u32 = 1080;
/// Pictures a second a share sends unless asked otherwise: text stays sharp
/// at this rate where a faster one would cost resolution.
pub const DEFAULT_FPS: u32 = 15;

/// A whole screen, or one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenKind {
    Screen,
    Window,
}

/// Something that can be shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenInfo {
    /// Pass it back to share it (`screen:0`, `window:0x1a00004`, `synthetic`).
    pub id: String,
    /// What a person would call it (a monitor's name, a window's title).
    pub name: String,
    pub kind: ScreenKind,
    /// Its size now, in pixels.
    pub width: u32,
    pub height: u32,
}

/// What can go wrong with a share.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScreenError {
    #[error("there is no screen to share: {0}")]
    NoDisplay(String),
    #[error("\"{0}\" cannot be shared: it is not open (any more)")]
    NotFound(String),
    #[error("sharing stopped: {0}")]
    Gone(String),
    /// The person (or the system on their behalf) said no.
    #[error("{0}")]
    Refused(String),
    #[error("screen sharing is not available here: {0}")]
    Unsupported(String),
    #[error("the screen could not be captured: {0}")]
    Failed(String),
    #[error("the screen's pictures cannot be used: {0}")]
    Format(#[from] FrameError),
}

/// A source of screen pictures, opened and read on the feed's own thread
/// (it need not be `Send`); `next_frame` paces itself to its rate.
pub trait ScreenSource {
    /// The size and rate it delivers (after scaling).
    fn format(&self) -> CaptureFormat;
    /// The next picture, `captured_us` set; an error ends the share.
    fn next_frame(&mut self) -> Result<I420Frame, ScreenError>;
    /// What is shared, when only the source knows (the person chose it in
    /// the system's dialog).
    fn name(&self) -> Option<String> {
        None
    }
}

/// Where a share's feed is.
pub type ScreenStatus = FeedStatus<ScreenError>;

/// A running share: its thread, the newest picture, its status. Dropping it
/// stops capturing.
pub type ScreenFeed = Feed<ScreenError>;

struct Screen<S>(S);

impl<S: ScreenSource> Source for Screen<S> {
    type Error = ScreenError;
    fn format(&self) -> CaptureFormat {
        self.0.format()
    }
    fn next_frame(&mut self) -> Result<I420Frame, ScreenError> {
        self.0.next_frame()
    }
    fn name(&self) -> Option<String> {
        self.0.name()
    }
}

impl Feed<ScreenError> {
    /// Opens a screen source with `open` on a new thread and starts reading
    /// it; returns once it is open, or with the error that kept it shut.
    pub fn start_screen<S, F>(name: &str, open: F) -> Result<Self, ScreenError>
    where
        S: ScreenSource,
        F: FnOnce() -> Result<S, ScreenError> + Send + 'static,
    {
        Self::start_screen_within(name, std::time::Duration::from_secs(15), open)
    }

    /// [`start_screen`](Self::start_screen) for a source that may take up to
    /// `limit` to open (one that waits for the person in a dialog).
    pub fn start_screen_within<S, F>(
        name: &str,
        limit: std::time::Duration,
        open: F,
    ) -> Result<Self, ScreenError>
    where
        S: ScreenSource,
        F: FnOnce() -> Result<S, ScreenError> + Send + 'static,
    {
        Feed::spawn(
            format!("screen {name}"),
            name,
            move || open().map(Screen),
            (limit, ScreenError::Failed),
        )
    }
}

/// The id of sharing through the desktop portal (Wayland): the person
/// chooses the screen or window in the system's dialog.
pub const PORTAL: &str = "portal";

/// What to share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreenChoice {
    /// The synthetic page (moving text and colour blocks).
    Synthetic,
    /// A screen or window by its [`ScreenInfo::id`].
    Id(String),
}

/// The screens and windows that can be shared now (windows of this process
/// left out: nobody shares the call itself). On Wayland that is one entry,
/// [`PORTAL`]: the person chooses in the system's dialog when sharing.
pub fn list_screens() -> Result<Vec<ScreenInfo>, ScreenError> {
    #[cfg(target_os = "linux")]
    {
        if portal::is_wayland() {
            Ok(vec![portal::entry()])
        } else {
            x11::list()
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(ScreenError::Unsupported(
            "this build captures screens on Linux (X11) only so far".into(),
        ))
    }
}

/// Starts sharing `choice` at `fps` pictures a second.
pub fn open(choice: &ScreenChoice, fps: u32) -> Result<ScreenFeed, ScreenError> {
    let fps = fps.clamp(1, 30);
    match choice.clone() {
        ScreenChoice::Synthetic => {
            ScreenFeed::start_screen("synthetic screen", move || Synthetic::new(1280, 720, fps))
        }
        #[cfg(target_os = "linux")]
        ScreenChoice::Id(id) if id == PORTAL => {
            // The person's time in the dialog, then the first picture.
            let limit = portal::DIALOG_LIMIT + std::time::Duration::from_secs(40);
            ScreenFeed::start_screen_within("the shared screen", limit, move || {
                cast::Capture::open(fps)
            })
        }
        #[cfg(target_os = "linux")]
        ScreenChoice::Id(id) => {
            let name = list_screens()?
                .into_iter()
                .find(|s| s.id == id)
                .map_or_else(|| id.clone(), |s| s.name);
            ScreenFeed::start_screen(&name, move || x11::Capture::open(&id, fps))
        }
        #[cfg(not(target_os = "linux"))]
        ScreenChoice::Id(_) => Err(ScreenError::Unsupported(
            "this build captures screens on Linux (X11) only so far".into(),
        )),
    }
}

/// A small picture of what `choice` shows now, at most
/// `max_width`×`max_height` with its shape kept (the pointer included):
/// for a picker to show beside the names.
pub fn thumbnail(
    choice: &ScreenChoice,
    max_width: u32,
    max_height: u32,
) -> Result<I420Frame, ScreenError> {
    let full = match choice {
        ScreenChoice::Synthetic => Synthetic::new(1280, 720, 1)?.next_frame()?,
        #[cfg(target_os = "linux")]
        ScreenChoice::Id(id) if id == PORTAL => {
            return Err(ScreenError::Unsupported(
                "what is shared is chosen in the system's dialog".into(),
            ));
        }
        #[cfg(target_os = "linux")]
        ScreenChoice::Id(id) => x11::Capture::open(id, 1)?.next_frame()?,
        #[cfg(not(target_os = "linux"))]
        ScreenChoice::Id(_) => {
            return Err(ScreenError::Unsupported(
                "this build captures screens on Linux (X11) only so far".into(),
            ));
        }
    };
    Ok(full.fitted(max_width, max_height)?)
}

/// `full` at the share's `size`: a source bigger than full HD, or one that
/// changed size since the share began (kept steady for the receivers'
/// layout), is scaled to it.
pub(crate) fn at_size(full: I420Frame, (w, h): (u32, u32)) -> Result<I420Frame, ScreenError> {
    if (full.width(), full.height()) == (w, h) {
        Ok(full)
    } else {
        Ok(full.scaled(w, h)?)
    }
}

/// The size a `width`×`height` source is sent at.
pub fn sent_size(width: u32, height: u32) -> (u32, u32) {
    fit(width & !1, height & !1, MAX_WIDTH, MAX_HEIGHT)
}

/// Waits until the next picture is due at `fps`; returns when it is.
pub(crate) struct Pace {
    every: std::time::Duration,
    next: std::time::Instant,
}

impl Pace {
    pub(crate) fn new(fps: u32) -> Self {
        Self {
            every: std::time::Duration::from_secs(1) / fps.max(1),
            next: std::time::Instant::now(),
        }
    }

    pub(crate) fn wait(&mut self) {
        let now = std::time::Instant::now();
        if let Some(left) = self.next.checked_duration_since(now) {
            std::thread::sleep(left);
            self.next += self.every;
        } else {
            // Late (a slow capture): start counting again from now.
            self.next = now + self.every;
        }
    }
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn big_screens_are_sent_at_most_full_hd_keeping_their_shape() {
        assert_eq!(sent_size(1920, 1080), (1920, 1080));
        assert_eq!(sent_size(3840, 2160), (1920, 1080));
        assert_eq!(sent_size(2560, 1600), (1728, 1080));
        assert_eq!(sent_size(1281, 721), (1280, 720));
        assert_eq!(sent_size(800, 3000), (288, 1080));
    }

    #[tokio::test]
    async fn the_synthetic_screen_moves_at_its_rate() {
        let feed = open(&ScreenChoice::Synthetic, 15).unwrap();
        let mut frames = feed.frames();
        frames.changed().await.unwrap();
        let first = frames.borrow_and_update().clone().unwrap();
        assert_eq!((first.width(), first.height()), (1280, 720));
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let later = frames.borrow_and_update().clone().unwrap();
        assert_ne!(first.data(), later.data(), "the page moves");
        let n = feed.delivered();
        assert!(
            (5..=10).contains(&n),
            "{n} pictures in about half a second at 15 fps"
        );
    }
}
