//! Camera effects: the background blurred or replaced behind the person,
//! applied on the camera's thread between the device and everything that
//! shows or sends its pictures (the preview shows what is sent).
//!
//! The person is found by a segmentation model ([`segment`]); its masks
//! are smoothed over time (no flicker) and its edges softened, and where
//! the model is sure of the person the pixels are left exactly as they
//! were ([`compose`]). On a slow machine the model runs on every second to
//! sixth picture and the mask in between is reused, so the camera keeps
//! its frame rate; if even that is too much, the effect is turned off and
//! the switch says why, rather than slowing the call's video.

mod backdrop;
mod blur;
mod compose;
pub mod segment;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::I420Frame;
pub use backdrop::{Backdrop, SCENES};
use compose::{Behind, Composer};
pub use segment::{EffectError, Segmenter};

/// What happens behind the person.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Background {
    #[default]
    Off,
    /// Softened: the room is still there, not its details.
    BlurLight,
    /// Nothing of the room can be read.
    BlurStrong,
    /// Another picture instead of the room.
    Picture(Backdrop),
}

impl Background {
    /// What goes behind the person, or nothing to do.
    fn behind(&self) -> Option<Behind<'_>> {
        match self {
            Self::Off => None,
            Self::BlurLight => Some(Behind::Blur(3)),
            Self::BlurStrong => Some(Behind::Blur(8)),
            Self::Picture(b) => Some(Behind::Picture(b.picture())),
        }
    }

    /// Reads what the command line says: `off`, `blur`, `blur-strong`,
    /// `scene:NAME` (one of [`SCENES`]) or `image:PATH` (a JPEG or PNG
    /// file, read now).
    pub fn parse(s: &str) -> Result<Self, String> {
        let scenes = SCENES.join(", ");
        match s {
            "off" => Ok(Self::Off),
            "blur" => Ok(Self::BlurLight),
            "blur-strong" => Ok(Self::BlurStrong),
            _ => {
                if let Some(name) = s.strip_prefix("scene:") {
                    Backdrop::scene(name)
                        .map(Self::Picture)
                        .ok_or_else(|| format!("{name:?}: no such scene (there are {scenes})"))
                } else if let Some(path) = s.strip_prefix("image:") {
                    Backdrop::from_file(path.as_ref())
                        .map(Self::Picture)
                        .map_err(|e| format!("{path}: {e}"))
                } else {
                    Err(format!(
                        "{s:?}: one of off, blur, blur-strong, scene:NAME ({scenes}), image:PATH"
                    ))
                }
            }
        }
    }
}

impl fmt::Display for Background {
    /// As [`parse`](Self::parse) reads it (a picture from disk by its
    /// file's name).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::BlurLight => f.write_str("blur"),
            Self::BlurStrong => f.write_str("blur-strong"),
            Self::Picture(b) if b.name().starts_with("scene:") => f.write_str(b.name()),
            Self::Picture(b) => write!(f, "image:{}", b.name()),
        }
    }
}

#[derive(Debug, Default)]
struct SwitchState {
    background: Background,
    /// Bumped by every choice: a choice made again is tried again.
    choice: u64,
    /// Why the effect is not applied although asked for.
    problem: Option<String>,
    /// Pictures per model run (1 = every picture).
    every: u32,
}

/// How the chosen effect is doing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EffectStatus {
    /// Why it is not applied, when it is not (a bad model, a machine too
    /// slow for it).
    pub problem: Option<String>,
    /// How many pictures share one run of the model: 1 when the machine
    /// keeps up, up to 6 when it is busy; 0 before it has run.
    pub pictures_per_mask: u32,
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
            s.choice += 1;
            s.problem = None;
            s.every = 0;
        }
    }

    pub fn get(&self) -> Background {
        self.state
            .lock()
            .map(|s| s.background.clone())
            .unwrap_or_default()
    }

    /// How the chosen effect is doing.
    pub fn status(&self) -> EffectStatus {
        self.state
            .lock()
            .map(|s| EffectStatus {
                problem: s.problem.clone(),
                pictures_per_mask: s.every,
            })
            .unwrap_or_default()
    }

    /// Why the chosen effect is not applied, when it is not.
    pub fn problem(&self) -> Option<String> {
        self.status().problem
    }

    /// The choice and its number, read together once a picture.
    fn read(&self) -> (Background, u64) {
        self.state
            .lock()
            .map(|s| (s.background.clone(), s.choice))
            .unwrap_or_default()
    }

    fn report(&self, choice: u64, problem: Option<String>, every: u32) {
        if let Ok(mut s) = self.state.lock()
            && s.choice == choice
        {
            s.problem = problem;
            s.every = every;
        }
    }
}

impl fmt::Debug for BackgroundSwitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackgroundSwitch({})", self.get())
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
/// The most pictures one mask serves.
const MOST_PICTURES_PER_MASK: u32 = 6;
/// The share of a picture's time the whole effect may take before it is
/// turned off...
const EFFECT_SHARE: f64 = 0.8;
/// ...for this many pictures in a row (two to three seconds).
const SLOW_PICTURES: u32 = 75;

/// One camera's effect state: the model (loaded when first needed), the
/// smoothed mask, how often the model runs, and the composing buffers.
#[derive(Debug)]
pub struct Effects {
    model: Option<Result<Segmenter, EffectError>>,
    mask: Vec<f32>,
    composer: Composer,
    /// The camera's time between pictures (seconds).
    picture_secs: f64,
    /// Model time, and the whole effect's, smoothed (seconds).
    model_secs: f64,
    effect_secs: f64,
    since_mask: u32,
    /// Pictures in a row that took too long at the slowest model rate.
    slow: u32,
    /// The choice turned off for being too slow.
    gave_up_on: Option<u64>,
}

impl Default for Effects {
    /// For a camera of 30 pictures a second.
    fn default() -> Self {
        Self::for_rate(30)
    }
}

impl Effects {
    /// For a camera sending `fps` pictures a second.
    pub fn for_rate(fps: u32) -> Self {
        Self {
            model: None,
            mask: Vec::new(),
            composer: Composer::default(),
            picture_secs: 1.0 / f64::from(fps.clamp(1, 1000)),
            model_secs: 0.0,
            effect_secs: 0.0,
            since_mask: 0,
            slow: 0,
            gave_up_on: None,
        }
    }

    /// Applies what `switch` says to `frame`, in place.
    pub fn apply(&mut self, switch: &BackgroundSwitch, frame: &mut I420Frame) {
        let (background, choice) = switch.read();
        let Some(behind) = background.behind() else {
            // Off: a later effect starts from a fresh mask.
            self.mask.clear();
            self.slow = 0;
            return;
        };
        if self.gave_up_on == Some(choice) {
            return;
        }
        let every = self.every();
        let model = match self.model.get_or_insert_with(|| {
            Segmenter::new().inspect_err(|e| tracing::warn!(error = %e, "no background effects"))
        }) {
            Ok(m) => m,
            Err(e) => return switch.report(choice, Some(e.to_string()), 0),
        };
        let started = Instant::now();
        if self.mask.is_empty() || self.since_mask + 1 >= every {
            let model_started = Instant::now();
            match model.mask(frame) {
                Ok(fresh) => {
                    self.smooth(fresh);
                    self.since_mask = 0;
                }
                Err(e) => return switch.report(choice, Some(e.to_string()), 0),
            }
            ease(
                &mut self.model_secs,
                model_started.elapsed().as_secs_f64(),
                0.2,
            );
        } else {
            self.since_mask += 1;
        }
        let new_mask = self.since_mask == 0;
        if let Err(e) = self.composer.compose(frame, &self.mask, new_mask, behind) {
            return switch.report(choice, Some(e.to_string()), every);
        }
        ease(&mut self.effect_secs, started.elapsed().as_secs_f64(), 0.1);
        switch.report(choice, self.too_slow(choice), every);
    }

    /// Why the effect was turned off, once it has been too slow for
    /// [`SLOW_PICTURES`] in a row (the model's rate adapts within a few
    /// pictures, so by then running it less often has not been enough).
    fn too_slow(&mut self, choice: u64) -> Option<String> {
        let budget = self.picture_secs * EFFECT_SHARE;
        if self.effect_secs <= budget {
            self.slow = 0;
            return None;
        }
        self.slow += 1;
        if self.slow < SLOW_PICTURES {
            return None;
        }
        self.gave_up_on = Some(choice);
        self.slow = 0;
        self.mask.clear();
        let why = format!(
            "this computer takes {:.0} ms for each picture, and the camera sends one every {:.0} ms",
            self.effect_secs * 1000.0,
            self.picture_secs * 1000.0
        );
        tracing::warn!("background effect turned off: {why}");
        Some(why)
    }

    /// Pictures per model run: enough that the model takes at most
    /// [`MODEL_SHARE`] of the pictures' time.
    fn every(&self) -> u32 {
        if self.model_secs <= 0.0 {
            return 1;
        }
        let budget = self.picture_secs * MODEL_SHARE;
        ((self.model_secs / budget).ceil() as u32).clamp(1, MOST_PICTURES_PER_MASK)
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

/// Moves a smoothed time towards a new one (the first taken as it is).
fn ease(smoothed: &mut f64, new: f64, weight: f64) {
    *smoothed = if *smoothed == 0.0 {
        new
    } else {
        (1.0 - weight) * *smoothed + weight * new
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey() -> I420Frame {
        I420Frame::new(320, 180).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn choices_read_as_they_are_written() {
        for s in ["off", "blur", "blur-strong", "scene:studio", "scene:leaves"] {
            let b = Background::parse(s).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(b.to_string(), s);
        }
        for bad in [
            "",
            "blurry",
            "scene:",
            "scene:moon",
            "image:/no/such/file.jpg",
        ] {
            let e = Background::parse(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} taken"));
            assert!(!e.is_empty());
        }
        let e = Background::parse("image:/etc/hostname")
            .err()
            .unwrap_or_default();
        assert!(e.contains("not a JPEG or PNG"), "{e}");
    }

    #[test]
    fn a_machine_too_slow_turns_the_effect_off_and_says_so() {
        // A camera of 1000 pictures a second: no machine keeps up.
        let mut effects = Effects::for_rate(1000);
        let switch = BackgroundSwitch::new(Background::BlurLight);
        let mut turned_off_after = None;
        for i in 0..400 {
            let mut f = grey();
            effects.apply(&switch, &mut f);
            if switch.problem().is_some() {
                turned_off_after = Some(i);
                break;
            }
        }
        let after = turned_off_after.unwrap_or_else(|| panic!("never turned off"));
        assert!(after + 1 >= SLOW_PICTURES as usize, "{after}");
        let status = switch.status();
        assert!(
            status
                .problem
                .as_ref()
                .is_some_and(|p| p.starts_with("this computer takes"))
        );
        assert!(status.pictures_per_mask > 1, "{status:?}");
        // Off for good: pictures pass untouched...
        let mut f = grey();
        f.planes_mut().0[0] = 250;
        let before = f.clone();
        effects.apply(&switch, &mut f);
        assert_eq!(f.planes(), before.planes());
        // ...until the person chooses again.
        switch.set(Background::BlurStrong);
        assert_eq!(switch.status(), EffectStatus::default());
        effects.apply(&switch, &mut f);
        assert_eq!(switch.status().problem, None);
        assert!(switch.status().pictures_per_mask >= 1);
    }

    #[test]
    fn a_machine_that_keeps_up_runs_the_model_on_every_picture() {
        // A camera of one picture a second.
        let mut effects = Effects::for_rate(1);
        let switch = BackgroundSwitch::new(Background::Picture(
            Backdrop::scene("dawn").unwrap_or_else(|| panic!("dawn")),
        ));
        for _ in 0..3 {
            effects.apply(&switch, &mut grey());
        }
        assert_eq!(
            switch.status(),
            EffectStatus {
                problem: None,
                pictures_per_mask: 1
            }
        );
    }
}
