//! Before joining: the camera preview, the microphone level for a meter and
//! the speaker test, with the same devices a call will use. Opening and
//! closing devices blocks, so callers on an async runtime use
//! `spawn_blocking`; nothing here touches the network.

use tandem_media::FrameReceiver;
use tandem_media::audio::{AudioError, Level, MicChoice, Microphone, Speaker, SpeakerChoice};
use tandem_media::camera::{self, CameraChoice, CameraError, CameraFeed, CaptureFormat};
use tandem_media::effects::BackgroundSwitch;
use tokio::sync::watch;

/// The devices being tried out. Dropping it closes them (the camera light
/// goes out).
#[derive(Debug, Default)]
pub struct Preview {
    /// The effect the preview shows (the call's, when shared with it).
    background: BackgroundSwitch,
    camera: Option<CameraFeed>,
    mic: Option<Microphone>,
    speaker: Option<Speaker>,
}

impl Preview {
    /// Nothing open yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Nothing open yet; the camera will show what `background` says.
    pub fn with_background(background: BackgroundSwitch) -> Self {
        Self {
            background,
            ..Self::default()
        }
    }

    /// Shows `choice` (or nothing); the previous camera is closed first, so
    /// a camera that allows one user can be switched to itself.
    pub fn set_camera(
        &mut self,
        choice: Option<&CameraChoice>,
        format: CaptureFormat,
    ) -> Result<(), CameraError> {
        self.camera = None;
        if let Some(choice) = choice {
            self.camera = Some(camera::open_with(choice, format, self.background.clone())?);
        }
        Ok(())
    }

    /// Listens to `choice` (or nothing) for the level meter.
    pub fn set_mic(&mut self, choice: Option<MicChoice>) -> Result<(), AudioError> {
        self.mic = None;
        if let Some(choice) = choice {
            self.mic = Some(Microphone::start(choice, None, None)?);
        }
        Ok(())
    }

    /// Plays the test chime on `choice`; the speaker stays open (and is
    /// reused) until another one is tested or the preview closes.
    pub fn test_speaker(&mut self, choice: SpeakerChoice) -> Result<(), AudioError> {
        self.speaker = None;
        let speaker = Speaker::start(choice, None)?;
        speaker.play_test_sound();
        self.speaker = Some(speaker);
        Ok(())
    }

    /// The camera's newest frame, while one is open.
    pub fn video(&self) -> Option<FrameReceiver> {
        self.camera.as_ref().map(CameraFeed::frames)
    }

    /// The open camera's name.
    pub fn camera_name(&self) -> Option<&str> {
        self.camera.as_ref().map(CameraFeed::name)
    }

    /// The microphone's level, while one is open.
    pub fn level(&self) -> Option<watch::Receiver<Level>> {
        self.mic.as_ref().map(Microphone::level)
    }

    /// Closes everything (before a call opens the same devices).
    pub fn close(&mut self) {
        self.camera = None;
        self.mic = None;
        self.speaker = None;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tandem_media::camera::PatternColour;

    #[test]
    fn preview_shows_the_pattern_and_closes_it() {
        let mut p = Preview::new();
        assert!(p.video().is_none());
        let fmt = CaptureFormat {
            width: 320,
            height: 180,
            fps: 30,
        };
        p.set_camera(Some(&CameraChoice::TestPattern(PatternColour::TEAL)), fmt)
            .unwrap();
        let mut rx = p.video().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while rx.borrow_and_update().is_none() {
            assert!(std::time::Instant::now() < deadline, "no frame");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(p.camera_name(), Some("test pattern"));
        p.set_camera(None, fmt).unwrap();
        assert!(p.video().is_none());
    }

    #[test]
    fn tone_microphone_moves_the_level() {
        let mut p = Preview::new();
        p.set_mic(Some(MicChoice::Tone(440.0))).unwrap();
        let level = p.level().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while level.borrow().rms_dbfs < -30.0 {
            assert!(std::time::Instant::now() < deadline, "level stayed low");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        p.close();
        assert!(p.level().is_none());
    }
}
