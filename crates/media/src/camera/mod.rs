//! Cameras: a [`CameraSource`] is read on its own thread by a [`CameraFeed`],
//! which keeps only the newest I420 frame for whoever draws or sends it.

mod native;
mod pattern;
mod picture;

pub use native::{NativeCamera, list_cameras};
pub use pattern::{PatternColour, TestPattern};
pub use picture::Picture;

use crate::effects::{BackgroundSwitch, Effects};
pub use crate::feed::CaptureFormat;
use crate::feed::{Feed, FeedStatus, Source};
use crate::frame::{FrameError, I420Frame};

/// A camera the system offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraInfo {
    /// Stable within a session of the OS; pass it back to open the camera.
    pub id: String,
    /// What a person would call it.
    pub name: String,
}

/// What can go wrong with a camera.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CameraError {
    #[error("no camera was found; connect one, or join without video")]
    NoCamera,
    #[error("the camera \"{0}\" is not connected (any more)")]
    NotFound(String),
    #[error("the camera \"{0}\" is in use by another application; close it and try again")]
    Busy(String),
    #[error("the camera was unplugged or stopped delivering pictures")]
    Unplugged,
    #[error("the camera's pictures cannot be used: {0}")]
    Format(#[from] FrameError),
    #[error("the camera could not be used: {0}")]
    Other(String),
}

/// A source of pictures. It is opened and read on the feed's own thread, so
/// it need not be `Send`; `next_frame` may block until a picture is ready.
pub trait CameraSource {
    /// The size and rate it delivers.
    fn format(&self) -> CaptureFormat;
    /// The next picture; `captured_us` set to the capture time.
    fn next_frame(&mut self) -> Result<I420Frame, CameraError>;
}

/// Where a camera's feed is.
pub type CameraStatus = FeedStatus<CameraError>;

/// A running camera: its thread, the newest frame, and its status. Dropping
/// it stops the thread.
pub type CameraFeed = Feed<CameraError>;

/// Lets the feed read any camera source, with the effects the switch asks
/// for applied on the camera's thread.
struct Camera<S> {
    source: S,
    background: BackgroundSwitch,
    effects: Effects,
}

impl<S: CameraSource> Source for Camera<S> {
    type Error = CameraError;
    fn format(&self) -> CaptureFormat {
        self.source.format()
    }
    fn next_frame(&mut self) -> Result<I420Frame, CameraError> {
        let mut frame = self.source.next_frame()?;
        self.effects.apply(&self.background, &mut frame);
        Ok(frame)
    }
}

impl Feed<CameraError> {
    /// Opens a camera source with `open` on a new thread and starts reading
    /// it; returns once it is open, or with the error that kept it shut.
    pub fn start<S, F>(name: &str, open: F) -> Result<Self, CameraError>
    where
        S: CameraSource,
        F: FnOnce() -> Result<S, CameraError> + Send + 'static,
    {
        Self::start_with(name, BackgroundSwitch::default(), open)
    }

    /// [`start`](Self::start), its pictures changed as `background` says.
    pub fn start_with<S, F>(
        name: &str,
        background: BackgroundSwitch,
        open: F,
    ) -> Result<Self, CameraError>
    where
        S: CameraSource,
        F: FnOnce() -> Result<S, CameraError> + Send + 'static,
    {
        Feed::spawn(
            format!("camera {name}"),
            name,
            move || {
                open().map(|source| Camera {
                    effects: Effects::for_rate(source.format().fps),
                    source,
                    background,
                })
            },
            (std::time::Duration::from_secs(15), CameraError::Other),
        )
    }
}

/// What to capture pictures from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraChoice {
    /// The moving test pattern.
    TestPattern(PatternColour),
    /// The system's first camera.
    Default,
    /// A camera by its [`CameraInfo::id`].
    Id(String),
    /// A still photograph (JPEG) shown as a camera.
    Picture(std::path::PathBuf),
}

/// Opens the chosen camera at `format` (or the nearest it offers).
pub fn open(choice: &CameraChoice, format: CaptureFormat) -> Result<CameraFeed, CameraError> {
    open_with(choice, format, BackgroundSwitch::default())
}

/// [`open`], with the background effect `background` says (read again for
/// every picture).
pub fn open_with(
    choice: &CameraChoice,
    format: CaptureFormat,
    background: BackgroundSwitch,
) -> Result<CameraFeed, CameraError> {
    let b = background;
    match choice.clone() {
        CameraChoice::TestPattern(colour) => {
            CameraFeed::start_with("test pattern", b, move || TestPattern::new(format, colour))
        }
        CameraChoice::Picture(path) => {
            let name = path
                .file_name()
                .map_or_else(|| "picture".into(), |n| n.to_string_lossy().into_owned());
            CameraFeed::start_with(&name, b, move || Picture::open(&path, format.fps))
        }
        CameraChoice::Default => {
            let first = list_cameras()?
                .into_iter()
                .next()
                .ok_or(CameraError::NoCamera)?;
            CameraFeed::start_with(&first.name, b, move || {
                NativeCamera::open(&first.id, format)
            })
        }
        CameraChoice::Id(id) => {
            let name = id.clone();
            CameraFeed::start_with(&name, b, move || NativeCamera::open(&id, format))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    struct Flaky {
        left: u32,
    }

    impl CameraSource for Flaky {
        fn format(&self) -> CaptureFormat {
            CaptureFormat {
                width: 64,
                height: 32,
                fps: 100,
            }
        }
        fn next_frame(&mut self) -> Result<I420Frame, CameraError> {
            std::thread::sleep(Duration::from_millis(10));
            if self.left == 0 {
                return Err(CameraError::Unplugged);
            }
            self.left -= 1;
            let mut f = I420Frame::new(64, 32)?;
            f.captured_us = i64::from(self.left);
            Ok(f)
        }
    }

    #[tokio::test]
    async fn an_unplugged_camera_is_a_status_not_a_crash() {
        let feed = CameraFeed::start("flaky", || Ok(Flaky { left: 5 })).unwrap();
        let mut status = feed.status();
        let s = status
            .wait_for(|s| *s != CameraStatus::Running)
            .await
            .unwrap()
            .clone();
        assert_eq!(s, CameraStatus::Failed(CameraError::Unplugged));
        assert_eq!(feed.delivered(), 5);
        // The newest frame is the last one delivered.
        assert_eq!(feed.frames().borrow().as_ref().unwrap().captured_us, 0);
    }

    #[test]
    fn a_source_that_cannot_open_reports_why() {
        let r = CameraFeed::start::<Flaky, _>("busy", || Err(CameraError::Busy("cam".into())));
        assert_eq!(r.unwrap_err(), CameraError::Busy("cam".into()));
    }

    #[test]
    fn without_cameras_the_default_choice_is_no_camera() {
        // The build machine has no /dev/video*; a desktop would list its own.
        if list_cameras().map(|l| l.is_empty()).unwrap_or(true) {
            assert_eq!(
                open(&CameraChoice::Default, CaptureFormat::default()).unwrap_err(),
                CameraError::NoCamera
            );
        }
    }
}
