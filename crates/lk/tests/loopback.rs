//! Proves the FFI path without a server: frames and tones pushed into local
//! tracks come back out of streams on those same tracks, intact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;
use tandem_lk::*;

fn gradient(width: u32, height: u32, seed: u8) -> I420Buffer {
    let mut buf = I420Buffer::new(width, height).unwrap();
    let (y, u, v) = buf.planes_mut();
    for (i, p) in y.iter_mut().enumerate() {
        let (x, row) = (i as u32 % width, i as u32 / width);
        *p = (16 + (x * 200 / width) as u8 / 2 + (row * 200 / height) as u8 / 2).wrapping_add(seed);
    }
    u.fill(90);
    v.fill(200);
    buf
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (i32::from(*x) - i32::from(*y)).unsigned_abs() as f64)
        .sum::<f64>()
        / a.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_video_track_loops_back_the_frames_sent() {
    let source = VideoSource::new(320, 240).unwrap();
    let track = LocalVideoTrack::new("loop", &source).unwrap();
    let mut stream =
        VideoStream::new(track.track(), VideoStreamOptions { queue_frames: 8 }).unwrap();
    let sent = gradient(320, 240, 7);
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        for i in 0..200u32 {
            source
                .capture(
                    &sent,
                    i64::from(i) * 33_000,
                    FrameMeta {
                        user_timestamp_us: Some(42),
                        frame_id: Some(i),
                    },
                )
                .unwrap();
            if let Ok(Some(frame)) =
                tokio::time::timeout(Duration::from_millis(30), stream.next()).await
            {
                return frame;
            }
        }
        panic!("no frame came back");
    })
    .await
    .expect("timed out waiting for a looped frame");
    assert_eq!((got.width(), got.height()), (320, 240));
    let back = got.to_i420().unwrap();
    let (sy, su, sv) = sent.planes();
    let (by, bu, bv) = back.planes();
    assert!(
        mean_abs_diff(sy, by) < 1.0,
        "Y differs by {}",
        mean_abs_diff(sy, by)
    );
    assert!(mean_abs_diff(su, bu) < 1.0 && mean_abs_diff(sv, bv) < 1.0);
}

/// Dominant frequency by counting zero crossings (clean tone in, clean out).
fn frequency(samples: &[i16], rate: u32) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 / 2.0 / (samples.len() as f64 / f64::from(rate))
}

fn tone(freq: f64, rate: u32, start: usize, len: usize) -> Vec<i16> {
    (start..start + len)
        .map(|n| {
            ((n as f64 * freq * std::f64::consts::TAU / f64::from(rate)).sin() * 12_000.0) as i16
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_audio_track_loops_back_the_tone() {
    let source = AudioSource::new(AudioSourceOptions {
        sample_rate: 48_000,
        channels: 1,
        queue_ms: 50,
    })
    .unwrap();
    let track = LocalAudioTrack::new("tone", &source).unwrap();
    let mut stream = AudioStream::new(
        track.track(),
        AudioStreamOptions {
            sample_rate: 24_000,
            channels: 1,
            queue_frames: 200,
        },
    )
    .unwrap();
    let producer = {
        let source = source.clone();
        tokio::spawn(async move {
            for i in 0..150 {
                let data = tone(440.0, 48_000, i * 480, 480);
                source
                    .capture(AudioFrame {
                        data,
                        sample_rate: 48_000,
                        channels: 1,
                    })
                    .await
                    .unwrap();
            }
        })
    };
    let mut received = Vec::new();
    let collect = async {
        while received.len() < 24_000 {
            match stream.next().await {
                Some(f) => {
                    assert_eq!((f.sample_rate, f.channels), (24_000, 1));
                    received.extend_from_slice(&f.data);
                }
                None => break,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), collect)
        .await
        .expect("tone did not come back");
    producer.await.unwrap();
    // Skip the resampler's start-up, then measure.
    let f = frequency(&received[4_800..], 24_000);
    assert!((f - 440.0).abs() < 5.0, "measured {f} Hz");
}
