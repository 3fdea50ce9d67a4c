//! Microphones and speakers through cpal, in 10 ms frames of 48 kHz mono,
//! with LiveKit's audio processing between them.
//!
//! Each device is owned by one OS thread (cpal streams are not `Send` on
//! every platform). Device callbacks only copy samples into or out of
//! lock-free rings: they never block or allocate. The threads do the rest:
//! down-mixing, resampling, echo cancellation, mixing and levels.

mod denoise;
mod input;
mod output;
mod signal;
mod thread;

use std::sync::{Arc, Mutex};

use cpal::traits::{DeviceTrait, HostTrait};
use tandem_lk as lk;

pub use denoise::{Denoiser, NoiseRemoval};
pub use input::{MicChoice, Microphone};
pub use output::{Speaker, SpeakerChoice, SpeakerInput};
pub use signal::{Level, Tone, dominant_hz, silence, speaker_test_sound, tone};

/// The rate everything inside Tandem runs at.
pub const RATE: u32 = 48_000;
/// Samples in one 10 ms frame at [`RATE`], mono.
pub const FRAME: usize = (RATE / 100) as usize;

/// An audio device the system offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioDevice {
    /// Pass it back to open this device.
    pub id: String,
    /// What a person would call it.
    pub name: String,
    /// The system's default for its direction.
    pub is_default: bool,
}

/// The system's microphones and speakers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudioDevices {
    pub inputs: Vec<AudioDevice>,
    pub outputs: Vec<AudioDevice>,
}

/// What can go wrong with audio.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    #[error("no {0} was found: connect one, or choose another in the devices menu")]
    NoDevice(&'static str),
    #[error("the audio device \"{0}\" is not connected (any more)")]
    NotFound(String),
    #[error("the audio device \"{0}\" is in use by another application")]
    Busy(String),
    #[error("the audio device was unplugged or stopped")]
    Lost,
    #[error("the audio device \"{name}\" could not be opened: {reason}")]
    Open { name: String, reason: String },
    #[error("audio processing failed: {0}")]
    Processing(String),
}

/// Where a device thread is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Working with the named device (or a synthetic source).
    Running(String),
    /// The device failed; the thread goes on with silence until switched.
    Lost(AudioError),
}

/// The processing module shared by the microphone (capture) and speaker
/// (render) threads, so the echo canceller hears what is played.
pub type SharedProcessor = Arc<Mutex<lk::AudioProcessor>>;

/// A processing module with echo cancellation, noise suppression and the
/// high-pass filter. Gain control is not in it: the microphone's thread
/// runs its own ([`gain_control`]) after the neural noise removal, so the
/// gain follows the voice rather than lifting the noise the network then
/// has to fight (see `denoise.rs` for the order).
pub fn processor() -> Result<SharedProcessor, AudioError> {
    let apm = lk::AudioProcessor::new(lk::ProcessingOptions {
        gain_control: false,
        ..lk::ProcessingOptions::default()
    })
    .map_err(|e| AudioError::Processing(e.to_string()))?;
    Ok(Arc::new(Mutex::new(apm)))
}

/// WebRTC's gain control alone, the last stage on the microphone.
fn gain_control() -> Result<lk::AudioProcessor, AudioError> {
    lk::AudioProcessor::new(lk::ProcessingOptions {
        echo_cancellation: false,
        noise_suppression: false,
        gain_control: true,
        high_pass_filter: false,
    })
    .map_err(|e| AudioError::Processing(e.to_string()))
}

/// Lists microphones and speakers. A host with no audio at all lists none.
pub fn devices() -> AudioDevices {
    let host = cpal::default_host();
    let default_in = host.default_input_device().and_then(|d| d.id().ok());
    let default_out = host.default_output_device().and_then(|d| d.id().ok());
    let describe = |d: cpal::Device, default: &Option<cpal::DeviceId>| {
        let id = d.id().ok()?;
        let name = d
            .description()
            .map(|n| n.name().to_owned())
            .unwrap_or_else(|_| id.to_string());
        Some(AudioDevice {
            is_default: default.as_ref() == Some(&id),
            id: id.to_string(),
            name,
        })
    };
    AudioDevices {
        inputs: host
            .input_devices()
            .map(|it| it.filter_map(|d| describe(d, &default_in)).collect())
            .unwrap_or_default(),
        outputs: host
            .output_devices()
            .map(|it| it.filter_map(|d| describe(d, &default_out)).collect())
            .unwrap_or_default(),
    }
}

/// Finds a device by id, or the default when `id` is `None`.
fn find_device(id: Option<&str>, input: bool) -> Result<(cpal::Device, String), AudioError> {
    let host = cpal::default_host();
    let kind = if input { "microphone" } else { "speaker" };
    let device = match id {
        None => if input {
            host.default_input_device()
        } else {
            host.default_output_device()
        }
        .ok_or(AudioError::NoDevice(kind))?,
        Some(id) => {
            let parsed: cpal::DeviceId = id
                .parse()
                .map_err(|_| AudioError::NotFound(id.to_owned()))?;
            host.device_by_id(&parsed)
                .ok_or_else(|| AudioError::NotFound(id.to_owned()))?
        }
    };
    let name = device
        .description()
        .map(|d| d.name().to_owned())
        .unwrap_or_else(|_| id.unwrap_or("default").to_owned());
    Ok((device, name))
}

/// The device's own format with a 20 ms buffer: small enough for a call,
/// and without it some hosts (PulseAudio) default to seconds of buffering.
fn stream_config(supported: &cpal::SupportedStreamConfig) -> cpal::StreamConfig {
    let mut config = supported.config();
    let want = supported.sample_rate() / 50;
    config.buffer_size = match *supported.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } => {
            cpal::BufferSize::Fixed(want.clamp(min, max.max(min)))
        }
        cpal::SupportedBufferSize::Unknown => cpal::BufferSize::Fixed(want),
    };
    config
}

/// Turns a cpal failure into an [`AudioError`] naming the device. When
/// the system's default (`default` is its kind) is not available, there
/// is no such device at all: a machine without a microphone still lists
/// a default ("Default Audio Device") that cannot be opened.
fn open_error(name: &str, default: Option<&'static str>, e: &cpal::Error) -> AudioError {
    match (e.kind(), default) {
        (cpal::ErrorKind::DeviceBusy, _) => AudioError::Busy(name.to_owned()),
        (cpal::ErrorKind::DeviceNotAvailable, Some(kind)) => AudioError::NoDevice(kind),
        (cpal::ErrorKind::DeviceNotAvailable, None) => AudioError::NotFound(name.to_owned()),
        _ => AudioError::Open {
            name: name.to_owned(),
            reason: e.to_string(),
        },
    }
}

#[cfg(test)]
mod open_error_tests {
    use super::*;

    #[test]
    fn a_default_device_that_cannot_be_opened_means_there_is_none() {
        let gone = cpal::Error::new(cpal::ErrorKind::DeviceNotAvailable);
        let e = open_error("Default Audio Device", Some("microphone"), &gone);
        assert_eq!(e, AudioError::NoDevice("microphone"));
        assert!(e.to_string().starts_with("no microphone was found"), "{e}");
        assert_eq!(
            open_error("USB Mic", None, &gone),
            AudioError::NotFound("USB Mic".into())
        );
        let busy = cpal::Error::new(cpal::ErrorKind::DeviceBusy);
        assert_eq!(
            open_error("Default Audio Device", Some("speaker"), &busy),
            AudioError::Busy("Default Audio Device".into())
        );
    }
}
