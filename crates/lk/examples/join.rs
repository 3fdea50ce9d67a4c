//! Joins a LiveKit room, publishes a moving test pattern and a 440 Hz tone,
//! and prints what happens. Without `--url`/`--token` it runs the same
//! media through local tracks (no server) and prints what comes back.
//!
//!     cargo run -p tandem-lk --example join -- --url ws://127.0.0.1:7880 --token <jwt>

#![allow(clippy::print_stdout)]

use anyhow::{Context, Result};
use clap::Parser;
use std::time::{Duration, Instant};
use tandem_lk::*;

#[derive(Parser, Debug)]
struct Args {
    /// LiveKit server URL (ws:// or wss://).
    #[arg(long, requires = "token")]
    url: Option<String>,
    /// Access token for the room.
    #[arg(long, requires = "url")]
    token: Option<String>,
    /// Stop after this many seconds (default: until Ctrl-C in a room, 5 s locally).
    #[arg(long)]
    seconds: Option<u64>,
}

const W: u32 = 640;
const H: u32 = 360;
const RATE: u32 = 48_000;

/// A white bar sweeping across a blue background.
fn pattern(frame: u32) -> Result<I420Buffer> {
    let mut buf = I420Buffer::new(W, H)?;
    let bar = (frame * 8) % W;
    let (y, u, v) = buf.planes_mut();
    for (i, p) in y.iter_mut().enumerate() {
        let x = i as u32 % W;
        *p = if x >= bar && x < bar + 40 { 235 } else { 41 };
    }
    u.fill(240);
    v.fill(110);
    Ok(buf)
}

fn tone(start: usize) -> Vec<i16> {
    (start..start + 480)
        .map(|n| {
            ((n as f64 * 440.0 * std::f64::consts::TAU / f64::from(RATE)).sin() * 8_000.0) as i16
        })
        .collect()
}

fn spawn_media(video: VideoSource, audio: AudioSource) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        for frame in 0u32.. {
            tick.tick().await;
            let Ok(buf) = pattern(frame) else { return };
            let now_us = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros() as u64)
                .unwrap_or(0);
            let meta = FrameMeta {
                user_timestamp_us: Some(now_us),
                frame_id: Some(frame),
            };
            if let Err(e) = video.capture(&buf, i64::from(frame) * 33_333, meta) {
                eprintln!("video capture stopped: {e}");
                return;
            }
        }
    });
    tokio::spawn(async move {
        // capture() waits while LiveKit's queue is full, which paces us.
        for i in 0usize.. {
            let frame = AudioFrame {
                data: tone(i * 480),
                sample_rate: RATE,
                channels: 1,
            };
            if let Err(e) = audio.capture(frame).await {
                eprintln!("audio capture stopped: {e}");
                return;
            }
        }
    });
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();
    let started = Instant::now();
    let library = ensure_loaded().context("loading the LiveKit library")?;
    println!(
        "LiveKit {LIVEKIT_WHEEL_VERSION} loaded from {} in {:?}",
        library.display(),
        started.elapsed()
    );

    let video = VideoSource::new(W, H)?;
    let audio = AudioSource::new(AudioSourceOptions::default())?;
    let video_track = LocalVideoTrack::new("test-pattern", &video)?;
    let audio_track = LocalAudioTrack::new("tone", &audio)?;
    spawn_media(video, audio);

    match (args.url, args.token) {
        (Some(url), Some(token)) => {
            in_room(&url, &token, &video_track, &audio_track, args.seconds).await
        }
        _ => locally(&video_track, &audio_track, args.seconds.unwrap_or(5)).await,
    }
}

async fn locally(video: &LocalVideoTrack, audio: &LocalAudioTrack, seconds: u64) -> Result<()> {
    println!(
        "No --url/--token: looping the test pattern and tone through local tracks for {seconds} s."
    );
    println!("(To join a room: --url ws://<server>:7880 --token <jwt>.)");
    let mut frames = VideoStream::new(video.track(), VideoStreamOptions::default())?;
    let mut pcm = AudioStream::new(audio.track(), AudioStreamOptions::default())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let (mut count, mut samples) = (0u64, Vec::new());
    let mut last_report = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            Some(f) = frames.latest() => {
                count += 1;
                if last_report.elapsed() >= Duration::from_secs(1) {
                    let bar = f.planes()[0].data.iter().take(W as usize).position(|&p| p > 128);
                    println!("video: {count} frames, {}x{}, bar at x={bar:?}", f.width(), f.height());
                    last_report = Instant::now();
                }
            }
            Some(a) = pcm.next() => samples.extend_from_slice(&a.data),
        }
    }
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    let hz = crossings as f64 / 2.0 / (samples.len().max(1) as f64 / f64::from(RATE));
    println!(
        "audio: {} ms received, tone measured at {hz:.1} Hz (sent 440 Hz)",
        samples.len() * 1000 / RATE as usize
    );
    Ok(())
}

async fn in_room(
    url: &str,
    token: &str,
    video: &LocalVideoTrack,
    audio: &LocalAudioTrack,
    seconds: Option<u64>,
) -> Result<()> {
    println!("joining {url} …");
    let started = Instant::now();
    let (room, mut events) = Room::connect(url, token, RoomOptions::default()).await?;
    let me = room.local_participant().clone();
    println!(
        "joined room {:?} as {:?} in {:?}",
        room.info().name,
        me.identity(),
        started.elapsed()
    );
    for p in room.remote_participants() {
        println!(
            "already here: {} ({}) with {} tracks",
            p.info.identity,
            p.info.name,
            p.publications.len()
        );
    }
    let v = me
        .publish_track(
            video.track(),
            PublishOptions {
                source: TrackSource::Camera,
                ..Default::default()
            },
        )
        .await?;
    let a = me
        .publish_track(
            audio.track(),
            PublishOptions {
                source: TrackSource::Microphone,
                ..Default::default()
            },
        )
        .await?;
    println!("published video {} and audio {}", v.sid, a.sid);
    me.send_chat("hello from tandem-lk").await?;

    let stop = async {
        match seconds {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::pin!(stop);
    let mut stats_tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = stats_tick.tick() => {
                if let Ok(s) = room.stats().await {
                    for o in &s.outbound { println!("sending {}: {} packets, {:.0} fps", o.kind, o.packets, o.fps); }
                    for i in &s.inbound { println!("receiving {}: {} packets, {} lost, {:.0} fps", i.kind, i.packets, i.packets_lost, i.fps); }
                }
            }
            event = events.recv() => match event {
                Some(RoomEvent::TextReceived(t)) => println!("text from {} on {}: {}", t.sender, t.topic, t.text.escape_debug()),
                Some(RoomEvent::DataReceived { participant, topic, payload, .. }) => {
                    println!("data from {participant} on {topic:?}: {} bytes", payload.len());
                }
                Some(RoomEvent::Disconnected { reason }) => { println!("disconnected: {reason:?}"); return Ok(()); }
                Some(other) => println!("event: {other:?}"),
                None => break,
            }
        }
    }
    room.disconnect().await?;
    println!("left the room");
    Ok(())
}
