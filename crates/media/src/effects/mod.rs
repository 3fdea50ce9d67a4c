//! Camera effects: the background blurred behind the person, applied on
//! the camera's thread between the device and everything that shows or
//! sends its pictures (the preview shows what is sent).
//!
//! The person is found by a segmentation model ([`segment`]); its masks
//! are smoothed over time (no flicker) and its edges softened, and where
//! the model is sure of the person the pixels are left exactly as they
//! were. On a slow machine the model runs on every second or third picture
//! and the mask in between is reused, so the camera keeps its frame rate.

mod blur;
pub mod segment;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::I420Frame;
pub use segment::Segmenter;

/// What happens behind the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Background {
    #[default]
    Off,
    /// Softened: the room is still there, not its details.
    BlurLight,
    /// Nothing of the room can be read.
    BlurStrong,
}

impl Background {
    /// The blur's radius in the quarter-size planes.
    fn radius(self) -> Option<usize> {
        match self {
            Self::Off => None,
            Self::BlurLight => Some(3),
            Self::BlurStrong => Some(8),
        }
    }

    /// As the command line and the app name it: `off`, `blur`, `blur-strong`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::BlurLight => "blur",
            Self::BlurStrong => "blur-strong",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Off, Self::BlurLight, Self::BlurStrong]
            .into_iter()
            .find(|b| b.name() == name)
    }
}

/// Why an effect cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EffectError {
    #[error("the person segmentation model cannot be used: {0}")]
    Model(String),
}

#[derive(Debug, Default)]
struct SwitchState {
    background: Background,
    /// Why the effect is not applied although asked for.
    problem: Option<String>,
    /// Pictures per model run (1 = every picture).
    every: u32,
}

/// The background choice, shared between whoever decides and the camera's
/// thread, which reads it every picture: switching never reopens the
/// camera, and the effect follows to another camera.
#[derive(Clone, Default)]
pub struct BackgroundSwitch {
    state: Arc<Mutex<SwitchState>>,
}

impl BackgroundSwitch {
    pub fn new(background: Background) -> Self {
        let s = Self::default();
        s.set(background);
        s
    }

    pub fn set(&self, background: Background) {
        if let Ok(mut s) = self.state.lock() {
            s.background = background;
        }
    }

    pub fn get(&self) -> Background {
        self.state.lock().map(|s| s.background).unwrap_or_default()
    }

    /// Why the chosen effect is not applied, when it is not.
    pub fn problem(&self) -> Option<String> {
        self.state.lock().ok().and_then(|s| s.problem.clone())
    }

    /// How many pictures share one run of the model (1 when the machine
    /// keeps up; 0 before it has run).
    pub fn pictures_per_mask(&self) -> u32 {
        self.state.lock().map(|s| s.every).unwrap_or(0)
    }

    fn report(&self, problem: Option<String>, every: u32) {
        if let Ok(mut s) = self.state.lock() {
            s.problem = problem;
            s.every = every;
        }
    }
}

impl fmt::Debug for BackgroundSwitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackgroundSwitch({})", self.get().name())
    }
}

/// Two switches are equal when they are set alike.
impl PartialEq for BackgroundSwitch {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// How much of a picture's time the model may take before it runs on
/// fewer pictures.
const MODEL_SHARE: f64 = 0.5;

/// One camera's effect state: the model (loaded when first needed), the
/// smoothed mask, and how often the model runs.
#[derive(Debug, Default)]
pub struct Effects {
    model: Option<Result<Segmenter, EffectError>>,
    mask: Vec<f32>,
    /// Model time, smoothed (seconds).
    model_secs: f64,
    since_mask: u32,
    last_picture: Option<Instant>,
    picture_secs: f64,
}

impl Effects {
    /// Applies what `switch` says to `frame`, in place.
    pub fn apply(&mut self, switch: &BackgroundSwitch, frame: &mut I420Frame) {
        let background = switch.get();
        let now = Instant::now();
        if let Some(last) = self.last_picture.replace(now) {
            let secs = now.duration_since(last).as_secs_f64().min(1.0);
            self.picture_secs = if self.picture_secs == 0.0 {
                secs
            } else {
                0.9 * self.picture_secs + 0.1 * secs
            };
        }
        let Some(radius) = background.radius() else {
            // Off: a later blur starts from a fresh mask.
            self.mask.clear();
            return;
        };
        let every = self.every();
        let model = match self.model.get_or_insert_with(|| {
            Segmenter::new().inspect_err(|e| tracing::warn!(error = %e, "no background effects"))
        }) {
            Ok(m) => m,
            Err(e) => return switch.report(Some(e.to_string()), 0),
        };
        if self.mask.is_empty() || self.since_mask + 1 >= every {
            let started = Instant::now();
            match model.mask(frame) {
                Ok(fresh) => {
                    self.smooth(fresh);
                    self.since_mask = 0;
                }
                Err(e) => return switch.report(Some(e.to_string()), 0),
            }
            let took = started.elapsed().as_secs_f64();
            self.model_secs = if self.model_secs == 0.0 {
                took
            } else {
                0.8 * self.model_secs + 0.2 * took
            };
        } else {
            self.since_mask += 1;
        }
        blur::blur_background(frame, &self.mask, radius);
        switch.report(None, every);
    }

    /// Pictures per model run: enough that the model takes at most
    /// [`MODEL_SHARE`] of the pictures' time.
    fn every(&self) -> u32 {
        if self.picture_secs <= 0.0 || self.model_secs <= 0.0 {
            return 1;
        }
        let budget = self.picture_secs * MODEL_SHARE;
        ((self.model_secs / budget).ceil() as u32).clamp(1, 6)
    }

    /// Blends a new mask into the kept one: flicker at the edges (a
    /// pixel unsure from one picture to the next) is averaged away, while
    /// a real move shows within two or three pictures.
    fn smooth(&mut self, fresh: Vec<f32>) {
        if self.mask.len() != fresh.len() {
            self.mask = fresh;
            return;
        }
        for (kept, new) in self.mask.iter_mut().zip(fresh) {
            *kept = 0.4 * *kept + 0.6 * new;
        }
    }
}
