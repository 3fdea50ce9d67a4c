//! LiveKit's audio processing module (WebRTC's echo cancellation, noise
//! suppression, gain control) and its SoX resampler.

use crate::error::{FfiError, LkError};
use crate::ffi;
use crate::handle::FfiHandle;
use crate::proto;
use crate::proto::ffi_request::Message as Rq;
use crate::proto::ffi_response::Message as Rs;

/// Which parts of the audio processing module are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingOptions {
    /// Remove the far end's voice picked up by the microphone.
    pub echo_cancellation: bool,
    /// Suppress steady background noise.
    pub noise_suppression: bool,
    /// Keep the voice level steady.
    pub gain_control: bool,
    /// Remove rumble below speech.
    pub high_pass_filter: bool,
}

impl Default for ProcessingOptions {
    fn default() -> Self {
        Self {
            echo_cancellation: true,
            noise_suppression: true,
            gain_control: true,
            high_pass_filter: true,
        }
    }
}

/// WebRTC's audio processing. Feed it 10 ms frames: the microphone through
/// [`process_capture`](Self::process_capture) and what the speaker plays
/// through [`process_render`](Self::process_render).
#[derive(Debug)]
pub struct AudioProcessor {
    handle: FfiHandle,
}

impl AudioProcessor {
    /// A processor with the chosen stages.
    pub fn new(options: ProcessingOptions) -> Result<Self, LkError> {
        let client = ffi::client().map_err(FfiError::from)?;
        let response = client.request(Rq::NewApm(proto::NewApmRequest {
            echo_canceller_enabled: options.echo_cancellation,
            gain_controller_enabled: options.gain_control,
            high_pass_filter_enabled: options.high_pass_filter,
            noise_suppression_enabled: options.noise_suppression,
        }))?;
        let Rs::NewApm(r) = response else {
            return Err(FfiError::Protocol("NewApm answered with another message".into()).into());
        };
        Ok(Self {
            handle: FfiHandle::new(r.apm.handle.id),
        })
    }

    /// Cleans a 10 ms microphone frame in place.
    pub fn process_capture(
        &mut self,
        samples: &mut [i16],
        sample_rate: u32,
        channels: u32,
    ) -> Result<(), LkError> {
        check_10ms(samples, sample_rate, channels)?;
        let request = Rq::ApmProcessStream(proto::ApmProcessStreamRequest {
            apm_handle: self.handle.id(),
            data_ptr: samples.as_mut_ptr() as u64,
            size: std::mem::size_of_val(samples) as u32,
            sample_rate,
            num_channels: channels,
        });
        apm_request(request, "processing microphone audio")
    }

    /// Gives the processor a 10 ms frame of what the speaker plays (the
    /// echo it must remove); the frame may be changed in place.
    pub fn process_render(
        &mut self,
        samples: &mut [i16],
        sample_rate: u32,
        channels: u32,
    ) -> Result<(), LkError> {
        check_10ms(samples, sample_rate, channels)?;
        let request = Rq::ApmProcessReverseStream(proto::ApmProcessReverseStreamRequest {
            apm_handle: self.handle.id(),
            data_ptr: samples.as_mut_ptr() as u64,
            size: std::mem::size_of_val(samples) as u32,
            sample_rate,
            num_channels: channels,
        });
        apm_request(request, "processing speaker audio")
    }

    /// Tells the echo canceller how late the speaker's sound reaches the mic.
    pub fn set_stream_delay_ms(&mut self, delay_ms: i32) -> Result<(), LkError> {
        let request = Rq::ApmSetStreamDelay(proto::ApmSetStreamDelayRequest {
            apm_handle: self.handle.id(),
            delay_ms,
        });
        apm_request(request, "setting the echo delay")
    }
}

/// Sends an APM request; all three answer with an optional error.
fn apm_request(request: Rq, operation: &'static str) -> Result<(), LkError> {
    let error = match ffi::client().map_err(FfiError::from)?.request(request)? {
        Rs::ApmProcessStream(r) => r.error,
        Rs::ApmProcessReverseStream(r) => r.error,
        Rs::ApmSetStreamDelay(r) => r.error,
        _ => {
            return Err(
                FfiError::Protocol(format!("{operation}: answered with another message")).into(),
            );
        }
    };
    error.map_or(Ok(()), |reason| Err(LkError::Failed { operation, reason }))
}

fn check_10ms(samples: &[i16], sample_rate: u32, channels: u32) -> Result<(), LkError> {
    let expected = (sample_rate / 100) as usize * channels as usize;
    if channels == 0 || samples.len() != expected {
        return Err(LkError::Invalid {
            what: "audio frame",
            why: format!(
                "{} samples is not 10 ms at {sample_rate} Hz × {channels} ch ({expected})",
                samples.len()
            ),
        });
    }
    Ok(())
}

/// Converts a stream of interleaved i16 PCM between sample rates.
#[derive(Debug)]
pub struct Resampler {
    handle: FfiHandle,
    channels: u32,
}

impl Resampler {
    /// High-quality resampling from `input_rate` to `output_rate`.
    pub fn new(input_rate: u32, output_rate: u32, channels: u32) -> Result<Self, LkError> {
        if input_rate == 0 || output_rate == 0 || !(1..=8).contains(&channels) {
            return Err(LkError::Invalid {
                what: "resampler",
                why: format!("{input_rate} Hz → {output_rate} Hz × {channels} ch"),
            });
        }
        let client = ffi::client().map_err(FfiError::from)?;
        let response = client.request(Rq::NewSoxResampler(proto::NewSoxResamplerRequest {
            input_rate: f64::from(input_rate),
            output_rate: f64::from(output_rate),
            num_channels: channels,
            input_data_type: proto::SoxResamplerDataType::SoxrDatatypeInt16i as i32,
            output_data_type: proto::SoxResamplerDataType::SoxrDatatypeInt16i as i32,
            quality_recipe: proto::SoxQualityRecipe::SoxrQualityMedium as i32,
            flags: Some(0),
        }))?;
        match response {
            Rs::NewSoxResampler(proto::NewSoxResamplerResponse {
                message: Some(proto::new_sox_resampler_response::Message::Resampler(r)),
            }) => Ok(Self {
                handle: FfiHandle::new(r.handle.id),
                channels,
            }),
            Rs::NewSoxResampler(proto::NewSoxResamplerResponse {
                message: Some(proto::new_sox_resampler_response::Message::Error(reason)),
            }) => Err(LkError::Failed {
                operation: "creating a resampler",
                reason,
            }),
            _ => Err(
                FfiError::Protocol("NewSoxResampler answered with another message".into()).into(),
            ),
        }
    }

    /// Pushes input; returns whatever output is ready (may be empty).
    pub fn push(&mut self, input: &[i16]) -> Result<Vec<i16>, LkError> {
        if input.is_empty() {
            return Ok(Vec::new());
        }
        if !input.len().is_multiple_of(self.channels as usize) {
            return Err(LkError::Invalid {
                what: "resampler input",
                why: "not whole frames".into(),
            });
        }
        let request = Rq::PushSoxResampler(proto::PushSoxResamplerRequest {
            resampler_handle: self.handle.id(),
            data_ptr: input.as_ptr() as u64,
            size: std::mem::size_of_val(input) as u32,
        });
        match ffi::client().map_err(FfiError::from)?.request(request)? {
            Rs::PushSoxResampler(r) => output(r.error, r.output_ptr, r.size),
            _ => Err(
                FfiError::Protocol("PushSoxResampler answered with another message".into()).into(),
            ),
        }
    }

    /// Drains what is still buffered at the end of a stream.
    pub fn flush(&mut self) -> Result<Vec<i16>, LkError> {
        let request = Rq::FlushSoxResampler(proto::FlushSoxResamplerRequest {
            resampler_handle: self.handle.id(),
        });
        match ffi::client().map_err(FfiError::from)?.request(request)? {
            Rs::FlushSoxResampler(r) => output(r.error, r.output_ptr, r.size),
            _ => Err(
                FfiError::Protocol("FlushSoxResampler answered with another message".into()).into(),
            ),
        }
    }
}

fn output(error: Option<String>, ptr: u64, size_bytes: u32) -> Result<Vec<i16>, LkError> {
    if let Some(reason) = error.filter(|e| !e.is_empty()) {
        return Err(LkError::Failed {
            operation: "resampling",
            reason,
        });
    }
    if ptr == 0 || size_bytes == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the resampler owns this output buffer until its next call; we
    // copy it out before returning. Size is in bytes of i16 samples.
    let samples = unsafe { std::slice::from_raw_parts(ptr as *const i16, size_bytes as usize / 2) };
    Ok(samples.to_vec())
}
