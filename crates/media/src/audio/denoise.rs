//! Noise removal beyond WebRTC's: RNNoise (through `nnnoiseless`, pure
//! Rust), a small recurrent network that estimates, for each of 22
//! frequency bands of every 10 ms frame, how much is voice, and keeps that.
//! WebRTC's own suppressor removes steady hum; this one also removes what
//! comes and goes (keyboards, dogs, traffic, other voices far away).
//!
//! Where it runs, on each 10 ms frame of a real microphone (a tone or
//! silence is left alone):
//! 1. echo cancellation, WebRTC's suppressor and the high-pass filter
//!    (the shared processing module). The canceller models the room as a
//!    linear filter from the speaker to the microphone; a network's gains
//!    that change every frame would break that model if they came first,
//!    and the echo would come back. Run after it, the network also removes
//!    the canceller's residue.
//! 2. this network.
//! 3. gain control. Before the network it would lift the noise between
//!    words, which the network then sees louder (it removes less of a loud
//!    noise), and the level the listener gets would depend on the noise.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nnnoiseless::DenoiseState;

use super::FRAME;

/// Whether noise removal is on: a switch shared between whoever decides
/// (the app's menu, the command line) and the microphone's thread, which
/// reads it every frame, so turning it on or off never stops the audio.
#[derive(Clone)]
pub struct NoiseRemoval {
    on: Arc<AtomicBool>,
}

impl NoiseRemoval {
    pub fn new(on: bool) -> Self {
        Self {
            on: Arc::new(AtomicBool::new(on)),
        }
    }

    pub fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }
}

impl Default for NoiseRemoval {
    /// On: real microphones are cleaned unless the person says otherwise.
    fn default() -> Self {
        Self::new(true)
    }
}

impl fmt::Debug for NoiseRemoval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NoiseRemoval({})",
            if self.is_on() { "on" } else { "off" }
        )
    }
}

/// Two switches are equal when they are in the same position.
impl PartialEq for NoiseRemoval {
    fn eq(&self, other: &Self) -> bool {
        self.is_on() == other.is_on()
    }
}

// RNNoise's frame is ours: 10 ms at 48 kHz.
const _: () = assert!(DenoiseState::FRAME_SIZE == FRAME);

/// One microphone's network state. Its output lags its input by one frame
/// (the overlap of its windows): 10 ms.
pub struct Denoiser {
    state: Box<DenoiseState<'static>>,
    input: Vec<f32>,
    output: Vec<f32>,
}

impl Default for Denoiser {
    fn default() -> Self {
        Self::new()
    }
}

impl Denoiser {
    pub fn new() -> Self {
        Self {
            state: DenoiseState::new(),
            input: vec![0.0; FRAME],
            output: vec![0.0; FRAME],
        }
    }

    /// Cleans one 10 ms frame (48 kHz mono) in place; returns how likely
    /// the frame holds a voice (0 to 1).
    pub fn process(&mut self, frame: &mut [i16]) -> f32 {
        debug_assert_eq!(frame.len(), FRAME);
        for (to, &s) in self.input.iter_mut().zip(frame.iter()) {
            *to = f32::from(s);
        }
        let voice = self.state.process_frame(&mut self.output, &self.input);
        for (to, &s) in frame.iter_mut().zip(self.output.iter()) {
            *to = s.round().clamp(-32_768.0, 32_767.0) as i16;
        }
        voice
    }
}

impl fmt::Debug for Denoiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Denoiser")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::RATE;

    /// A deterministic noise (xorshift), in 16-bit scale.
    fn noise(n: usize, amplitude: f32) -> Vec<i16> {
        let mut x: u32 = 0x9E37_79B9;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let u = x as f32 / u32::MAX as f32 * 2.0 - 1.0;
                (u * amplitude) as i16
            })
            .collect()
    }

    fn rms(s: &[i16]) -> f64 {
        (s.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
    }

    /// Decibels from `before` to `after`, past the first half second (in
    /// which the network settles).
    fn removed(input: &[i16]) -> f64 {
        let mut d = Denoiser::new();
        let mut out = input.to_vec();
        for frame in out.chunks_exact_mut(FRAME) {
            d.process(frame);
        }
        let half = RATE as usize / 2;
        20.0 * (rms(&input[half..]) / rms(&out[half..]).max(1.0)).log10()
    }

    #[test]
    fn a_quiet_hiss_is_removed_and_a_steady_tone_kept() {
        // About -35 dBFS: a room's hiss (how much goes depends on its
        // level; the end-to-end test measures it in a call).
        let hiss = removed(&noise(RATE as usize * 2, 1_000.0));
        assert!(hiss > 6.0, "only {hiss:.1} dB removed");
        // Tests play tones into microphones: those pass (a voiced sound).
        let tone: Vec<i16> = (0..RATE as usize * 2)
            .map(|i| ((i as f64 * 440.0 * std::f64::consts::TAU / 48_000.0).sin() * 9_000.0) as i16)
            .collect();
        let kept = removed(&tone);
        assert!(kept.abs() < 1.0, "the tone changed by {kept:.1} dB");
    }

    #[test]
    fn a_switch_is_shared_and_compares_by_position() {
        let a = NoiseRemoval::default();
        let b = a.clone();
        assert!(b.is_on());
        a.set(false);
        assert!(!b.is_on());
        assert_eq!(a, NoiseRemoval::new(false));
        assert_ne!(a, NoiseRemoval::new(true));
        assert_eq!(format!("{a:?}"), "NoiseRemoval(off)");
    }
}
