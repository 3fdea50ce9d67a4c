//! Synthetic sounds and level measurement.

use std::f64::consts::TAU;

use super::{FRAME, RATE};

/// A continuous sine, frame after frame, at a fixed amplitude.
#[derive(Debug, Clone)]
pub struct Tone {
    hz: f64,
    n: u64,
}

/// A sine at `hz`, about −11 dBFS.
pub fn tone(hz: f64) -> Tone {
    Tone { hz, n: 0 }
}

impl Tone {
    /// Writes the next 10 ms into `out` (one [`FRAME`]).
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out.iter_mut() {
            let t = self.n as f64 / f64::from(RATE);
            *s = ((t * self.hz * TAU).sin() * 9_000.0) as i16;
            self.n += 1;
        }
    }
}

/// 10 ms of nothing.
pub fn silence() -> [i16; FRAME] {
    [0; FRAME]
}

/// A short two-note chime (660 Hz then 880 Hz, 0.3 s each, faded in and
/// out) for "test speaker".
pub fn speaker_test_sound() -> Vec<i16> {
    let note = (RATE as usize * 3) / 10;
    let fade = RATE as usize / 100;
    [660.0, 880.0]
        .iter()
        .flat_map(|&hz: &f64| {
            (0..note).map(move |i| {
                let edge = i.min(note - 1 - i).min(fade) as f64 / fade as f64;
                let t = i as f64 / f64::from(RATE);
                ((t * hz * TAU).sin() * 12_000.0 * edge) as i16
            })
        })
        .collect()
}

/// How loud a frame is, for meters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Root mean square, dB relative to full scale (−100 for silence).
    pub rms_dbfs: f32,
    /// The largest sample, dBFS.
    pub peak_dbfs: f32,
}

impl Level {
    /// The floor used for silence.
    pub const SILENT: Level = Level {
        rms_dbfs: -100.0,
        peak_dbfs: -100.0,
    };

    /// Measures `samples`.
    pub fn of(samples: &[i16]) -> Level {
        if samples.is_empty() {
            return Self::SILENT;
        }
        let (sum, peak) = samples.iter().fold((0f64, 0i32), |(sum, peak), &s| {
            let v = f64::from(s);
            (sum + v * v, peak.max(i32::from(s).abs()))
        });
        let db = |v: f64| {
            if v <= 0.0 {
                -100.0
            } else {
                (20.0 * (v / 32_768.0).log10()).max(-100.0) as f32
            }
        };
        Level {
            rms_dbfs: db((sum / samples.len() as f64).sqrt()),
            peak_dbfs: db(f64::from(peak)),
        }
    }
}

/// The frequency of a single tone in `samples` at `rate`: zero crossings
/// counted between the first and the last one, so the estimate does not
/// depend on where the buffer starts. 0 when there is no tone.
pub fn dominant_hz(samples: &[i16], rate: u32) -> f64 {
    let mut crossings = samples
        .windows(2)
        .enumerate()
        .filter(|(_, w)| (w[0] < 0) != (w[1] < 0))
        .map(|(i, _)| i);
    let Some(first) = crossings.next() else {
        return 0.0;
    };
    let (count, last) = crossings.fold((0usize, first), |(n, _), i| (n + 1, i));
    if last == first {
        return 0.0;
    }
    count as f64 / 2.0 / ((last - first) as f64 / f64::from(rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_of_known_signals() {
        let mut t = tone(440.0);
        let mut buf = [0i16; FRAME * 10];
        for chunk in buf.chunks_mut(FRAME) {
            t.fill(chunk);
        }
        let l = Level::of(&buf);
        // Peak 9000/32768 = −11.2 dBFS; a sine's RMS is 3 dB lower.
        assert!((l.peak_dbfs + 11.2).abs() < 0.1, "{l:?}");
        assert!((l.rms_dbfs + 14.2).abs() < 0.1, "{l:?}");
        assert_eq!(Level::of(&silence()), Level::SILENT);
        assert_eq!(Level::of(&[]), Level::SILENT);
        let hz = dominant_hz(&buf, RATE);
        assert!((hz - 440.0).abs() < 5.0, "{hz}");
    }

    #[test]
    fn the_tone_is_continuous_across_frames() {
        let mut t = tone(1000.0);
        let mut a = [0i16; FRAME];
        let mut b = [0i16; FRAME];
        t.fill(&mut a);
        t.fill(&mut b);
        // No jump at the seam larger than the sine's steepest step.
        assert!((i32::from(a[FRAME - 1]) - i32::from(b[0])).abs() < 1200);
    }

    #[test]
    fn the_speaker_test_sound_is_two_notes_that_fade() {
        let s = speaker_test_sound();
        assert_eq!(s.len(), RATE as usize * 6 / 10);
        assert_eq!((s[0], s[s.len() - 1]), (0, 0));
        let half = s.len() / 2;
        assert!((dominant_hz(&s[..half], RATE) - 660.0).abs() < 10.0);
        assert!((dominant_hz(&s[half..], RATE) - 880.0).abs() < 10.0);
    }
}
