//! Proves that a create/publish-locally/stream/drop cycle leaves no native
//! handle behind and never drops one twice. (Its own test binary: the
//! handle counter is process-wide.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;
use tandem_lk::*;

async fn one_cycle() {
    let video = VideoSource::new(64, 48).unwrap();
    let video_track = LocalVideoTrack::new("v", &video).unwrap();
    let mut frames =
        VideoStream::new(video_track.track(), VideoStreamOptions { queue_frames: 2 }).unwrap();
    let audio = AudioSource::new(AudioSourceOptions::default()).unwrap();
    let audio_track = LocalAudioTrack::new("a", &audio).unwrap();
    let mut pcm = AudioStream::new(audio_track.track(), AudioStreamOptions::default()).unwrap();
    let picture = I420Buffer::new(64, 48).unwrap();
    let got_frame = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            video.capture(&picture, 0, FrameMeta::default()).unwrap();
            if let Ok(Some(f)) =
                tokio::time::timeout(Duration::from_millis(20), frames.latest()).await
            {
                return f;
            }
        }
    })
    .await
    .expect("no frame");
    drop(got_frame);
    for _ in 0..5 {
        audio
            .capture(AudioFrame {
                data: vec![1000; 480],
                sample_rate: 48_000,
                channels: 1,
            })
            .await
            .unwrap();
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), pcm.next()).await;
    let mut apm = AudioProcessor::new(ProcessingOptions::default()).unwrap();
    let mut mic = vec![500i16; 480];
    apm.process_capture(&mut mic, 48_000, 1).unwrap();
    let mut resampler = Resampler::new(48_000, 16_000, 1).unwrap();
    let _ = resampler.push(&mic).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cycle_leaks_no_handles() {
    ensure_loaded().unwrap();
    let before = handle_stats();
    for _ in 0..3 {
        one_cycle().await;
    }
    // Frames in flight when a stream closes are released as orphans by the
    // event thread; give it a moment.
    let mut after = handle_stats();
    for _ in 0..50 {
        if after.live == before.live {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        after = handle_stats();
    }
    assert_eq!(
        after.live, before.live,
        "handles leaked: {before:?} -> {after:?}"
    );
    assert_eq!(
        after.failed_drops, 0,
        "a handle was dropped twice or was unknown"
    );
}
