//! tandem-lk against LiveKit's Python SDK through the dev server, inside a
//! private network namespace: video (colour checked), a tone (frequency
//! checked), data and `lk.chat`, each way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use tandem_devserver::{Config, Server};
use tandem_lk::*;
use tandem_testkit::peer::Peer;
use tandem_testkit::token;

const RATE: u32 = 48_000;

/// BT.601 limited-range YUV → RGB for one pixel.
fn rgb(y: u8, u: u8, v: u8) -> [i64; 3] {
    let (y, u, v) = (
        f64::from(y) - 16.0,
        f64::from(u) - 128.0,
        f64::from(v) - 128.0,
    );
    let c = |x: f64| x.round().clamp(0.0, 255.0) as i64;
    [
        c(1.164 * y + 1.596 * v),
        c(1.164 * y - 0.392 * u - 0.813 * v),
        c(1.164 * y + 2.017 * u),
    ]
}

fn near(a: [i64; 3], b: [i64; 3], tol: i64) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

/// Dominant frequency by counting zero crossings.
fn frequency(samples: &[i16], rate: u32) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 / 2.0 / (samples.len().max(1) as f64 / f64::from(rate))
}

#[test]
fn tandem_lk_and_python_sdk_exchange_media_data_and_chat() {
    tandem_testkit::media_test(
        "tandem_lk_and_python_sdk_exchange_media_data_and_chat",
        |ip| async move {
            let server = Server::start(Config::for_tests(ip)).await.unwrap();
            let url = server.url();
            let mut py = Peer::python("py", &url, &token::join("r", "py"))
                .await
                .unwrap();
            py.cmd(json!({"cmd": "publish_video", "color": [30, 60, 220], "width": 320, "height": 240, "fps": 15}))
            .await
            .unwrap();
            py.cmd(json!({"cmd": "publish_audio", "freq": 440}))
                .await
                .unwrap();

            let (room, mut events) =
                Room::connect(&url, &token::join("r", "tandem"), RoomOptions::default())
                    .await
                    .unwrap();
            let me = room.local_participant().clone();
            // A solid red picture (Y 81, U 90, V 240) and a 660 Hz tone.
            let video = VideoSource::new(320, 240).unwrap();
            let audio = AudioSource::new(AudioSourceOptions::default()).unwrap();
            let vt = LocalVideoTrack::new("cam", &video).unwrap();
            let at = LocalAudioTrack::new("mic", &audio).unwrap();
            me.publish_track(
                vt.track(),
                PublishOptions {
                    source: TrackSource::Camera,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            me.publish_track(
                at.track(),
                PublishOptions {
                    source: TrackSource::Microphone,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            tokio::spawn(async move {
                let mut buf = I420Buffer::new(320, 240).unwrap();
                let (y, u, v) = buf.planes_mut();
                y.fill(81);
                u.fill(90);
                v.fill(240);
                let mut tick = tokio::time::interval(Duration::from_millis(66));
                for n in 0i64.. {
                    tick.tick().await;
                    if video
                        .capture(&buf, n * 66_000, FrameMeta::default())
                        .is_err()
                    {
                        return;
                    }
                }
            });
            let rate = AudioSourceOptions::default().sample_rate;
            tokio::spawn(async move {
                let per = (rate / 100) as usize;
                for i in 0usize.. {
                    let data = (i * per..(i + 1) * per)
                        .map(|n| {
                            ((n as f64 * 660.0 * std::f64::consts::TAU / f64::from(rate)).sin()
                                * 9_000.0) as i16
                        })
                        .collect();
                    if audio
                        .capture(AudioFrame {
                            data,
                            sample_rate: rate,
                            channels: 1,
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });

            // What tandem-lk receives from the Python peer.
            let mut video_in = None;
            let mut audio_in = None;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while video_in.is_none() || audio_in.is_none() {
                let ev = tokio::time::timeout_at(deadline, events.recv())
                    .await
                    .expect("py's tracks")
                    .unwrap();
                if let RoomEvent::TrackSubscribed {
                    participant, track, ..
                } = ev
                {
                    assert_eq!(participant, "py");
                    match track.kind() {
                        TrackKind::Video => {
                            video_in = Some(
                                VideoStream::new(&track, VideoStreamOptions::default()).unwrap(),
                            )
                        }
                        TrackKind::Audio => {
                            let opts = AudioStreamOptions {
                                sample_rate: RATE,
                                channels: 1,
                                ..Default::default()
                            };
                            audio_in = Some(AudioStream::new(&track, opts).unwrap());
                        }
                        _ => {}
                    }
                }
            }
            let (mut video_in, mut audio_in) = (video_in.unwrap(), audio_in.unwrap());
            let mut frames = 0;
            let mut colour = [0; 3];
            while frames < 10 || !near(colour, [30, 60, 220], 24) {
                let f = tokio::time::timeout_at(deadline, video_in.next())
                    .await
                    .expect("py's video frames")
                    .unwrap();
                frames += 1;
                let p = f.planes();
                let (w, h) = (f.width() as usize, f.height() as usize);
                let y = p[0].data[(h / 2) * p[0].stride as usize + w / 2];
                let u = p[1].data[(h / 4) * p[1].stride as usize + w / 4];
                let v = p[2].data[(h / 4) * p[2].stride as usize + w / 4];
                colour = rgb(y, u, v);
            }
            let mut samples = Vec::new();
            while samples.len() < RATE as usize {
                let a = tokio::time::timeout_at(deadline, audio_in.next())
                    .await
                    .expect("py's audio")
                    .unwrap();
                samples.extend_from_slice(&a.data);
            }
            // Skip the first half second (jitter buffer warm-up), measure the rest.
            let hz = frequency(&samples[RATE as usize / 2..], RATE);
            assert!((hz - 440.0).abs() < 6.0, "tone from py measured at {hz} Hz");

            // What the Python peer receives from tandem-lk.
            py.expect(
                "track_subscribed",
                json!({"identity": "tandem", "kind": "video"}),
            )
            .await
            .unwrap();
            py.stats_until(Duration::from_secs(20), |s| {
                let v = &s["video"]["tandem"];
                let c: Vec<i64> = v["color"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_i64()).collect())
                    .unwrap_or_default();
                v["frames"].as_u64().unwrap_or(0) > 10
                    && c.len() == 3
                    && near([c[0], c[1], c[2]], [255, 0, 0], 30)
                    && s["audio"]["tandem"]["freq"]
                        .as_f64()
                        .is_some_and(|f| (f - 660.0).abs() < 6.0)
            })
            .await
            .unwrap();

            // Data and chat, both ways.
            me.publish_data(
                b"from tandem".to_vec(),
                DataOptions {
                    reliable: true,
                    topic: Some("t".into()),
                    destinations: vec![],
                },
            )
            .await
            .unwrap();
            py.expect(
                "data",
                json!({"sender": "tandem", "payload": "from tandem", "topic": "t"}),
            )
            .await
            .unwrap();
            me.send_chat("chat from tandem ✓").await.unwrap();
            py.expect(
                "chat",
                json!({"sender": "tandem", "text": "chat from tandem ✓"}),
            )
            .await
            .unwrap();
            py.cmd(
                json!({"cmd": "send_data", "payload": "from py", "topic": "u", "reliable": true}),
            )
            .await
            .unwrap();
            py.cmd(json!({"cmd": "send_chat", "text": "chat from py"}))
                .await
                .unwrap();
            let (mut got_data, mut got_chat) = (false, false);
            while !(got_data && got_chat) {
                match tokio::time::timeout_at(deadline, events.recv())
                    .await
                    .expect("py's data and chat")
                    .unwrap()
                {
                    RoomEvent::DataReceived {
                        participant,
                        topic,
                        payload,
                        ..
                    } => {
                        assert_eq!(
                            (participant.as_str(), topic.as_deref(), payload.as_slice()),
                            ("py", Some("u"), b"from py".as_slice())
                        );
                        got_data = true;
                    }
                    RoomEvent::TextReceived(t) if t.topic == "lk.chat" => {
                        assert_eq!((t.sender.as_str(), t.text.as_str()), ("py", "chat from py"));
                        got_chat = true;
                    }
                    _ => {}
                }
            }

            room.disconnect().await.unwrap();
            py.expect("participant_disconnected", json!({"identity": "tandem"}))
                .await
                .unwrap();
            py.disconnect().await.unwrap();
            server.stop().await;
        },
    );
}
