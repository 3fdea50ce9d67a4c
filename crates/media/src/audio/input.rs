//! The microphone: a device (or a tone, or silence) read on its own thread,
//! turned into 10 ms frames of 48 kHz mono, cleaned by the processing module
//! and handed to the caller; its level is published for meters.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SizedSample};
use tandem_lk as lk;
use tokio::sync::{mpsc, watch};

use super::denoise::{Denoiser, NoiseRemoval};
use super::signal::{Level, Tone, tone};
use super::thread::{DeviceThread, Heartbeat, Opened, Reply, by_sample_format, on_stream_error};
use super::{AudioError, DeviceStatus, FRAME, RATE, SharedProcessor, find_device, open_error};

/// What the microphone captures.
#[derive(Debug, Clone, PartialEq)]
pub enum MicChoice {
    /// The system's default microphone.
    Default,
    /// A device by its [`AudioDevice::id`](super::AudioDevice::id).
    Id(String),
    /// A sine at this frequency (tests, the bot).
    Tone(f64),
    /// Nothing.
    Silence,
}

enum Command {
    Switch(MicChoice, Reply),
}

/// A running microphone. Dropping it stops its thread and closes the device.
#[derive(Debug)]
pub struct Microphone {
    thread: DeviceThread<Command>,
    level: watch::Receiver<Level>,
    status: watch::Receiver<DeviceStatus>,
    frames: Option<mpsc::Receiver<Vec<i16>>>,
    dropped: Arc<AtomicU64>,
}

impl Microphone {
    /// Opens `choice`; `processor` (when given) cleans every frame, then
    /// `denoise` (when on) removes the noise left in a real microphone's.
    pub fn start(
        choice: MicChoice,
        processor: Option<SharedProcessor>,
        denoise: Option<NoiseRemoval>,
    ) -> Result<Microphone, AudioError> {
        let (level_tx, level) = watch::channel(Level::SILENT);
        let (status_tx, status) = watch::channel(DeviceStatus::Running(String::new()));
        // Half a second of frames; a reader that falls further behind loses
        // the oldest audio, not the device thread's pace.
        let (frame_tx, frames) = mpsc::channel(50);
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = dropped.clone();
        let thread = DeviceThread::start("microphone", move |stop, commands, opened| {
            let worker = Worker {
                stop,
                commands,
                level: level_tx,
                status: status_tx,
                frames: frame_tx,
                dropped: counter,
                processor,
                denoise,
            };
            worker.run(choice, opened)
        })?;
        Ok(Microphone {
            thread,
            level,
            status,
            frames: Some(frames),
            dropped,
        })
    }

    /// The 10 ms frames (48 kHz mono), once; frames nobody reads are dropped.
    pub fn take_frames(&mut self) -> Option<mpsc::Receiver<Vec<i16>>> {
        self.frames.take()
    }

    /// The latest level, for a meter.
    pub fn level(&self) -> watch::Receiver<Level> {
        self.level.clone()
    }

    /// The device in use, or why it was lost.
    pub fn status(&self) -> watch::Receiver<DeviceStatus> {
        self.status.clone()
    }

    /// Frames dropped because the reader fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Switches to another microphone without stopping the frames; on
    /// failure the previous one keeps running.
    pub async fn switch(&self, choice: MicChoice) -> Result<(), AudioError> {
        self.thread
            .ask(|reply| Command::Switch(choice, reply))
            .await
    }
}

/// Where samples come from right now.
enum Source {
    Device(Box<DeviceInput>),
    Tone(Tone),
    Silence,
}

/// An open input stream and the ring its callback fills.
struct DeviceInput {
    stream: cpal::Stream,
    /// `Some("microphone")` when it is the system's default.
    default: Option<&'static str>,
    ring: rtrb::Consumer<f32>,
    rate: u32,
    channels: usize,
    lost: Arc<AtomicBool>,
    heartbeat: Heartbeat,
    name: String,
}

struct Worker {
    stop: Arc<AtomicBool>,
    commands: std_mpsc::Receiver<Command>,
    level: watch::Sender<Level>,
    status: watch::Sender<DeviceStatus>,
    frames: mpsc::Sender<Vec<i16>>,
    dropped: Arc<AtomicU64>,
    processor: Option<SharedProcessor>,
    denoise: Option<NoiseRemoval>,
}

impl Worker {
    fn run(self, choice: MicChoice, opened: Opened) {
        let mut source = match open(&choice) {
            Ok(s) => s,
            Err(e) => {
                let _ = opened.send(Err(e));
                return;
            }
        };
        self.status
            .send_replace(DeviceStatus::Running(describe(&choice, &source)));
        // The device is there and its stream made: the caller goes on
        // (a call need not wait for it) while it starts here.
        let _ = opened.send(Ok(()));
        if let Err(e) = play(&source) {
            tracing::warn!(error = %e, "the microphone did not start");
            self.status.send_replace(DeviceStatus::Lost(e));
            source = Source::Silence;
        }
        let mut resampler: Option<(u32, lk::Resampler)> = None;
        let mut pending: Vec<i16> = Vec::with_capacity(FRAME * 4);
        let mut mono: Vec<i16> = Vec::with_capacity(FRAME * 4);
        let mut next_at = Instant::now();
        // Made when first needed: most calls never switch it on and off.
        let mut denoiser: Option<Denoiser> = None;
        // The last stage, where there is processing at all.
        let mut gain = match &self.processor {
            Some(_) => super::gain_control()
                .inspect_err(|e| tracing::warn!(error = %e, "no gain control"))
                .ok(),
            None => None,
        };
        while !self.stop.load(Ordering::Relaxed) {
            while let Ok(Command::Switch(choice, reply)) = self.commands.try_recv() {
                match open(&choice).and_then(|s| play(&s).map(|()| s)) {
                    Ok(s) => {
                        self.status
                            .send_replace(DeviceStatus::Running(describe(&choice, &s)));
                        source = s;
                        resampler = None;
                        let _ = reply.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            mono.clear();
            let rate = match &mut source {
                Source::Device(d) => {
                    if d.lost.load(Ordering::Relaxed) || d.heartbeat.stalled() {
                        tracing::warn!(device = %d.name, "microphone lost");
                        self.status
                            .send_replace(DeviceStatus::Lost(AudioError::Lost));
                        source = Source::Silence;
                        next_at = Instant::now();
                        continue;
                    }
                    let want = (d.rate as usize / 100) * d.channels;
                    if d.ring.slots() < want {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                    let Ok(chunk) = d.ring.read_chunk(want) else {
                        continue;
                    };
                    let (a, b) = chunk.as_slices();
                    let ch = d.channels;
                    // Down-mix by averaging the channels of each sample.
                    let to_mono = |frame: &[f32]| {
                        let v = frame.iter().sum::<f32>() / ch as f32;
                        (v.clamp(-1.0, 1.0) * 32_767.0) as i16
                    };
                    if a.len() % ch == 0 {
                        mono.extend(a.chunks(ch).map(to_mono));
                        mono.extend(b.chunks(ch).map(to_mono));
                    } else {
                        let joined: Vec<f32> = a.iter().chain(b).copied().collect();
                        mono.extend(joined.chunks(ch).map(to_mono));
                    }
                    chunk.commit_all();
                    d.rate
                }
                Source::Tone(_) | Source::Silence => {
                    let now = Instant::now();
                    if next_at > now {
                        std::thread::sleep(next_at - now);
                    }
                    next_at = next_at.max(Instant::now() - Duration::from_millis(50))
                        + Duration::from_millis(10);
                    mono.resize(FRAME, 0);
                    if let Source::Tone(t) = &mut source {
                        t.fill(&mut mono);
                    }
                    RATE
                }
            };
            if rate == RATE {
                pending.extend_from_slice(&mono);
            } else {
                if resampler.as_ref().is_none_or(|(r, _)| *r != rate) {
                    match lk::Resampler::new(rate, RATE, 1) {
                        Ok(r) => resampler = Some((rate, r)),
                        Err(e) => {
                            tracing::error!(error = %e, "cannot resample the microphone");
                            continue;
                        }
                    }
                }
                if let Some((_, r)) = &mut resampler
                    && let Ok(out) = r.push(&mono)
                {
                    pending.extend_from_slice(&out);
                }
            }
            while pending.len() >= FRAME {
                let mut frame: Vec<i16> = pending.drain(..FRAME).collect();
                self.level.send_replace(Level::of(&frame));
                if let Some(p) = &self.processor
                    && let Ok(mut apm) = p.lock()
                    && let Err(e) = apm.process_capture(&mut frame, RATE, 1)
                {
                    tracing::debug!(error = %e, "microphone processing skipped a frame");
                }
                if matches!(source, Source::Device(_))
                    && self.denoise.as_ref().is_some_and(NoiseRemoval::is_on)
                {
                    denoiser
                        .get_or_insert_with(Denoiser::new)
                        .process(&mut frame);
                }
                if let Some(apm) = &mut gain
                    && let Err(e) = apm.process_capture(&mut frame, RATE, 1)
                {
                    tracing::debug!(error = %e, "gain control skipped a frame");
                }
                if self.frames.try_send(frame).is_err() {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

fn describe(choice: &MicChoice, source: &Source) -> String {
    match (choice, source) {
        (_, Source::Device(d)) => d.name.clone(),
        (MicChoice::Tone(hz), _) => format!("{hz} Hz tone"),
        _ => "silence".into(),
    }
}

fn open(choice: &MicChoice) -> Result<Source, AudioError> {
    let id = match choice {
        MicChoice::Tone(hz) => return Ok(Source::Tone(tone(*hz))),
        MicChoice::Silence => return Ok(Source::Silence),
        MicChoice::Default => None,
        MicChoice::Id(id) => Some(id.as_str()),
    };
    let (device, name) = find_device(id, true)?;
    let config = device
        .default_input_config()
        .map_err(|e| open_error(&name, id.is_none().then_some("microphone"), &e))?;
    let rate = config.sample_rate();
    let channels = usize::from(config.channels()).max(1);
    // Half a second of device audio.
    let (producer, ring) = rtrb::RingBuffer::new(rate as usize / 2 * channels);
    let lost = Arc::new(AtomicBool::new(false));
    let heartbeat = Heartbeat::new();
    let stream = by_sample_format!(
        config.sample_format(),
        name,
        build(&device, &config, producer, lost.clone(), heartbeat.clone())
    )
    .map_err(|e| open_error(&name, id.is_none().then_some("microphone"), &e))?;
    Ok(Source::Device(Box::new(DeviceInput {
        stream,
        default: id.is_none().then_some("microphone"),
        ring,
        rate,
        channels,
        lost,
        heartbeat,
        name,
    })))
}

/// Starts a device's stream. It returns once the first sound arrives,
/// which some take seconds to send (PulseAudio's null-sink sources, a
/// Bluetooth headset switching to its microphone profile).
fn play(source: &Source) -> Result<(), AudioError> {
    let Source::Device(d) = source else {
        return Ok(());
    };
    let started = Instant::now();
    d.stream
        .play()
        .map_err(|e| open_error(&d.name, d.default, &e))?;
    // The device's silence counts from now.
    d.heartbeat.beat();
    tracing::info!(
        device = %d.name,
        rate = d.rate,
        channels = d.channels,
        ms = started.elapsed().as_millis(),
        "microphone open"
    );
    Ok(())
}

fn build<T>(
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
    mut producer: rtrb::Producer<f32>,
    lost: Arc<AtomicBool>,
    heartbeat: Heartbeat,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    device.build_input_stream::<T, _, _>(
        super::stream_config(config),
        // The callback: copy into the ring; when full, the newest is lost.
        move |data: &[T], _| {
            heartbeat.beat();
            let n = data.len().min(producer.slots());
            if let Ok(chunk) = producer.write_chunk_uninit(n) {
                chunk.fill_from_iter(data.iter().map(|s| s.to_sample::<f32>()));
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
    use crate::audio::signal::dominant_hz;

    #[tokio::test]
    async fn a_tone_microphone_delivers_paced_frames_with_its_level() {
        let mut mic = Microphone::start(MicChoice::Tone(440.0), None, None).unwrap();
        let mut frames = mic.take_frames().unwrap();
        let started = Instant::now();
        let mut all = Vec::new();
        for _ in 0..30 {
            let f = frames.recv().await.unwrap();
            assert_eq!(f.len(), FRAME);
            all.extend(f);
        }
        assert!(started.elapsed() >= Duration::from_millis(250));
        assert!((dominant_hz(&all, RATE) - 440.0).abs() < 5.0);
        assert!((mic.level().borrow().peak_dbfs + 11.2).abs() < 0.2);
        mic.switch(MicChoice::Silence).await.unwrap();
        // Frames keep coming; soon they are silent.
        let mut silent = 0;
        while silent < 3 {
            if frames.recv().await.unwrap().iter().all(|&s| s == 0) {
                silent += 1;
            }
        }
        assert_eq!(*mic.level().borrow(), Level::SILENT);
        assert!(matches!(
            mic.switch(MicChoice::Id("alsa:no-such-device".into()))
                .await,
            Err(AudioError::NotFound(_))
        ));
        assert_eq!(
            *mic.status().borrow(),
            DeviceStatus::Running("silence".into())
        );
    }
}
