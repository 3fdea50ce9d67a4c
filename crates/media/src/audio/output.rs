//! The speaker: remote audio and the test sound mixed on a thread, shown to
//! the echo canceller, then played by a device whose callback only drains a
//! ring.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SizedSample};
use tandem_lk as lk;
use tokio::sync::watch;

use super::signal::speaker_test_sound;
use super::thread::{DeviceThread, Heartbeat, Opened, Reply, by_sample_format, on_stream_error};
use super::{AudioError, DeviceStatus, FRAME, RATE, SharedProcessor, find_device, open_error};

/// Where the sound goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeakerChoice {
    /// The system's default output.
    Default,
    /// A device by its [`AudioDevice::id`](super::AudioDevice::id).
    Id(String),
    /// Nowhere (mixed and paced in real time, then dropped): the bot, tests.
    Discard,
}

/// How far ahead of the device the mixer stays.
const AHEAD: Duration = Duration::from_millis(40);
/// Audio a source must have queued before it plays (60 ms).
const PRIME: usize = FRAME * 6;
/// A source holding more than this is trimmed, so latency cannot grow.
const MAX_QUEUED: usize = FRAME * 20;

enum Command {
    Add(rtrb::Consumer<i16>),
    TestSound,
    Switch(SpeakerChoice, Reply),
}

/// A running speaker. Dropping it stops its thread and closes the device.
#[derive(Debug)]
pub struct Speaker {
    thread: DeviceThread<Command>,
    status: watch::Receiver<DeviceStatus>,
    underruns: Arc<AtomicU64>,
}

/// One stream of 48 kHz mono audio into the speaker's mix (a remote track).
/// Dropping it removes the stream once its queued audio has played.
#[derive(Debug)]
pub struct SpeakerInput {
    ring: rtrb::Producer<i16>,
    dropped: u64,
}

impl SpeakerInput {
    /// Queues samples; never blocks. When the mix is far behind, the
    /// excess is dropped (and counted).
    pub fn push(&mut self, samples: &[i16]) {
        let n = samples.len().min(self.ring.slots());
        if let Ok(chunk) = self.ring.write_chunk_uninit(n) {
            chunk.fill_from_iter(samples.iter().copied());
        }
        self.dropped += (samples.len() - n) as u64;
    }

    /// Samples dropped because the mix was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl Speaker {
    /// Opens `choice`; `processor` (when given) hears everything played.
    pub fn start(
        choice: SpeakerChoice,
        processor: Option<SharedProcessor>,
    ) -> Result<Speaker, AudioError> {
        let (status_tx, status) = watch::channel(DeviceStatus::Running(String::new()));
        let underruns = Arc::new(AtomicU64::new(0));
        let counter = underruns.clone();
        let thread = DeviceThread::start("speaker", move |stop, commands, opened| {
            let mixer = Mixer {
                stop,
                commands,
                status: status_tx,
                underruns: counter,
                processor,
            };
            mixer.run(choice, opened)
        })?;
        Ok(Speaker {
            thread,
            status,
            underruns,
        })
    }

    /// A new stream into the mix.
    pub fn add_input(&self) -> SpeakerInput {
        let (ring, consumer) = rtrb::RingBuffer::new(MAX_QUEUED * 2);
        self.thread.send(Command::Add(consumer));
        SpeakerInput { ring, dropped: 0 }
    }

    /// Plays the speaker-test chime once.
    pub fn play_test_sound(&self) {
        self.thread.send(Command::TestSound);
    }

    /// The device in use, or why it was lost.
    pub fn status(&self) -> watch::Receiver<DeviceStatus> {
        self.status.clone()
    }

    /// Times the device asked for audio and the mix had none ready.
    pub fn underruns(&self) -> u64 {
        self.underruns.load(Ordering::Relaxed)
    }

    /// Moves the sound to another device; on failure the previous one
    /// keeps playing.
    pub async fn switch(&self, choice: SpeakerChoice) -> Result<(), AudioError> {
        self.thread
            .ask(|reply| Command::Switch(choice, reply))
            .await
    }
}

/// An open output stream and the ring its callback drains.
struct DeviceOutput {
    _stream: cpal::Stream,
    ring: rtrb::Producer<f32>,
    rate: u32,
    channels: usize,
    lost: Arc<AtomicBool>,
    heartbeat: Heartbeat,
    name: String,
}

struct Mixer {
    stop: Arc<AtomicBool>,
    commands: std_mpsc::Receiver<Command>,
    status: watch::Sender<DeviceStatus>,
    underruns: Arc<AtomicU64>,
    processor: Option<SharedProcessor>,
}

impl Mixer {
    fn run(self, choice: SpeakerChoice, opened: Opened) {
        let mut out = match open(&choice, &self.underruns) {
            Ok(o) => o,
            Err(e) => {
                let _ = opened.send(Err(e));
                return;
            }
        };
        self.status
            .send_replace(DeviceStatus::Running(name_of(&out)));
        let _ = opened.send(Ok(()));
        // Each input with whether it has buffered enough to play: a source
        // starts (and, after running dry, restarts) only with PRIME queued,
        // so network jitter becomes an occasional whole gap, not chopped audio.
        let mut inputs: Vec<(rtrb::Consumer<i16>, bool)> = Vec::new();
        let mut test: Option<(Vec<i16>, usize)> = None;
        let mut resampler: Option<(u32, lk::Resampler)> = None;
        let mut mix = [0i16; FRAME];
        let mut wide: Vec<i32> = vec![0; FRAME];
        let mut started = Instant::now();
        let mut mixed_frames: u64 = 0;
        while !self.stop.load(Ordering::Relaxed) {
            while let Ok(cmd) = self.commands.try_recv() {
                match cmd {
                    Command::Add(c) => inputs.push((c, false)),
                    Command::TestSound => test = Some((speaker_test_sound(), 0)),
                    Command::Switch(choice, reply) => match open(&choice, &self.underruns) {
                        Ok(o) => {
                            out = o;
                            resampler = None;
                            (started, mixed_frames) = (Instant::now(), 0);
                            self.status
                                .send_replace(DeviceStatus::Running(name_of(&out)));
                            let _ = reply.send(Ok(()));
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    },
                }
            }
            if let Some(d) = &out
                && (d.lost.load(Ordering::Relaxed) || d.heartbeat.stalled())
            {
                tracing::warn!(device = %d.name, "speaker lost");
                self.status
                    .send_replace(DeviceStatus::Lost(AudioError::Lost));
                out = None;
                (started, mixed_frames) = (Instant::now(), 0);
            }
            // Is there room ahead of the device (or, with no device, of the clock)?
            let room = match &out {
                Some(d) => {
                    let ahead = d.rate as usize * d.channels * AHEAD.as_millis() as usize / 1000;
                    let queued = d.ring.buffer().capacity() - d.ring.slots();
                    queued + (d.rate as usize / 100) * d.channels <= ahead
                }
                None => Duration::from_millis(mixed_frames * 10) < started.elapsed() + AHEAD,
            };
            if !room {
                std::thread::sleep(Duration::from_millis(3));
                continue;
            }
            wide.fill(0);
            inputs.retain(|(c, _)| !(c.is_abandoned() && c.is_empty()));
            for (c, playing) in &mut inputs {
                if c.slots() > MAX_QUEUED
                    && let Ok(chunk) = c.read_chunk(c.slots() - MAX_QUEUED / 2)
                {
                    chunk.commit_all();
                }
                *playing = if *playing {
                    c.slots() >= FRAME || (c.is_abandoned() && !c.is_empty())
                } else {
                    c.slots() >= PRIME || (c.is_abandoned() && !c.is_empty())
                };
                if !*playing {
                    continue;
                }
                let n = c.slots().min(FRAME);
                if let Ok(chunk) = c.read_chunk(n) {
                    let (a, b) = chunk.as_slices();
                    for (w, s) in wide.iter_mut().zip(a.iter().chain(b)) {
                        *w += i32::from(*s);
                    }
                    chunk.commit_all();
                }
            }
            if let Some((sound, at)) = &mut test {
                let end = (*at + FRAME).min(sound.len());
                for (w, s) in wide.iter_mut().zip(&sound[*at..end]) {
                    *w += i32::from(*s);
                }
                *at = end;
                if end == sound.len() {
                    test = None;
                }
            }
            for (m, w) in mix.iter_mut().zip(&wide) {
                *m = (*w).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
            }
            if let Some(p) = &self.processor
                && let Ok(mut apm) = p.lock()
            {
                let mut copy = mix;
                let _ = apm.process_render(&mut copy, RATE, 1);
            }
            mixed_frames += 1;
            let Some(d) = &mut out else { continue };
            let samples: Vec<i16> = if d.rate == RATE {
                mix.to_vec()
            } else {
                if resampler.as_ref().is_none_or(|(r, _)| *r != d.rate) {
                    resampler = lk::Resampler::new(RATE, d.rate, 1)
                        .ok()
                        .map(|r| (d.rate, r));
                }
                match &mut resampler {
                    Some((_, r)) => r.push(&mix).unwrap_or_default(),
                    None => Vec::new(),
                }
            };
            let ch = d.channels;
            let n = (samples.len() * ch).min(d.ring.slots());
            if let Ok(chunk) = d.ring.write_chunk_uninit(n) {
                chunk.fill_from_iter(
                    samples
                        .iter()
                        .flat_map(|&s| std::iter::repeat_n(f32::from(s) / 32_768.0, ch)),
                );
            }
        }
    }
}

fn name_of(out: &Option<DeviceOutput>) -> String {
    out.as_ref()
        .map_or_else(|| "none".into(), |d| d.name.clone())
}

fn open(
    choice: &SpeakerChoice,
    underruns: &Arc<AtomicU64>,
) -> Result<Option<DeviceOutput>, AudioError> {
    let id = match choice {
        SpeakerChoice::Discard => return Ok(None),
        SpeakerChoice::Default => None,
        SpeakerChoice::Id(id) => Some(id.as_str()),
    };
    let (device, name) = find_device(id, false)?;
    let config = device
        .default_output_config()
        .map_err(|e| open_error(&name, id.is_none().then_some("speaker"), &e))?;
    let rate = config.sample_rate();
    let channels = usize::from(config.channels()).max(1);
    // A quarter second of room; the mixer keeps it only AHEAD full.
    let (ring, consumer) = rtrb::RingBuffer::new(rate as usize / 4 * channels);
    let lost = Arc::new(AtomicBool::new(false));
    let heartbeat = Heartbeat::new();
    let (l, u, h) = (lost.clone(), underruns.clone(), heartbeat.clone());
    let stream = by_sample_format!(
        config.sample_format(),
        name,
        build(&device, &config, consumer, l, u, h)
    )
    .map_err(|e| open_error(&name, id.is_none().then_some("speaker"), &e))?;
    stream
        .play()
        .map_err(|e| open_error(&name, id.is_none().then_some("speaker"), &e))?;
    // Opening can take a while; the device's silence counts from now.
    heartbeat.beat();
    tracing::info!(device = %name, rate, channels, "speaker open");
    Ok(Some(DeviceOutput {
        _stream: stream,
        ring,
        rate,
        channels,
        lost,
        heartbeat,
        name,
    }))
}

fn build<T>(
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
    mut ring: rtrb::Consumer<f32>,
    lost: Arc<AtomicBool>,
    underruns: Arc<AtomicU64>,
    heartbeat: Heartbeat,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    device.build_output_stream::<T, _, _>(
        super::stream_config(config),
        // The callback: drain the ring, silence for whatever is missing.
        move |out: &mut [T], _| {
            heartbeat.beat();
            let n = out.len().min(ring.slots());
            if let Ok(chunk) = ring.read_chunk(n) {
                let (a, b) = chunk.as_slices();
                for (o, s) in out.iter_mut().zip(a.iter().chain(b)) {
                    *o = T::from_sample(*s);
                }
                chunk.commit_all();
            }
            if n < out.len() {
                out[n..].fill(T::EQUILIBRIUM);
                underruns.fetch_add(1, Ordering::Relaxed);
            }
        },
        on_stream_error(lost),
        None,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_discarding_speaker_plays_its_inputs_in_real_time() {
        let speaker = Speaker::start(SpeakerChoice::Discard, None).unwrap();
        let mut input = speaker.add_input();
        let capacity = input.ring.buffer().capacity();
        // More than a source may queue: the excess is dropped and counted.
        input.push(&vec![1000i16; capacity + 480]);
        assert_eq!(input.dropped(), 480);
        let started = Instant::now();
        // 400 ms queued: trimmed to MAX_QUEUED / 2 (100 ms), then played
        // 10 ms per frame, so it takes about 100 ms to drain, not an instant.
        while input.ring.slots() < capacity {
            assert!(started.elapsed() < Duration::from_secs(2));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            started.elapsed() >= Duration::from_millis(40),
            "{:?}",
            started.elapsed()
        );
        speaker.play_test_sound();
        assert_eq!(
            *speaker.status().borrow(),
            DeviceStatus::Running("none".into())
        );
    }
}
