//! LiveKit's Python SDK as two participants through the dev server, inside a
//! private network namespace. Default room options, so the SDK's v1 → v0
//! signaling fallback runs too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use tandem_devserver::{Config, Server};
use tandem_testkit::peer::Peer;
use tandem_testkit::token;

fn close(got: &Value, want: [i64; 3], tolerance: i64) -> bool {
    got.as_array().is_some_and(|c| {
        c.len() == 3
            && c.iter()
                .zip(want)
                .all(|(g, w)| g.as_i64().is_some_and(|g| (g - w).abs() <= tolerance))
    })
}

#[test]
fn python_peers_exchange_video_audio_data_and_chat() {
    tandem_testkit::media_test(
        "python_peers_exchange_video_audio_data_and_chat",
        |ip| async move {
            let server = Server::start(Config::for_tests(ip)).await.unwrap();
            let url = server.url();
            let mut alice = Peer::python("alice", &url, &token::join("r1", "alice"))
                .await
                .unwrap();
            let mut bob = Peer::python("bob", &url, &token::join("r1", "bob"))
                .await
                .unwrap();
            alice
                .expect("participant_connected", json!({"identity": "bob"}))
                .await
                .unwrap();

            alice
            .cmd(json!({"cmd": "publish_video", "color": [200, 30, 90], "width": 320, "height": 240, "fps": 15}))
            .await
            .unwrap();
            alice
                .cmd(json!({"cmd": "publish_audio", "freq": 440}))
                .await
                .unwrap();
            bob.cmd(json!({"cmd": "publish_video", "color": [20, 180, 60], "width": 320, "height": 240, "fps": 15}))
            .await
            .unwrap();
            bob.cmd(json!({"cmd": "publish_audio", "freq": 660}))
                .await
                .unwrap();

            for (peer, other) in [(&mut alice, "bob"), (&mut bob, "alice")] {
                for kind in ["video", "audio"] {
                    peer.expect("track_subscribed", json!({"identity": other, "kind": kind}))
                        .await
                        .unwrap();
                }
            }
            let window = Duration::from_secs(20);
            let s = bob
                .stats_until(window, |s| {
                    let v = &s["video"]["alice"];
                    v["frames"].as_u64().unwrap_or(0) > 10 && close(&v["color"], [200, 30, 90], 12)
                })
                .await
                .unwrap();
            assert_eq!(s["video"]["alice"]["width"], 320, "{s}");
            alice
                .stats_until(window, |s| {
                    let v = &s["video"]["bob"];
                    v["frames"].as_u64().unwrap_or(0) > 10 && close(&v["color"], [20, 180, 60], 12)
                })
                .await
                .unwrap();
            let tone = |s: &Value, who: &str, hz: f64| {
                s["audio"][who]["freq"]
                    .as_f64()
                    .is_some_and(|f| (f - hz).abs() < 5.0)
            };
            bob.stats_until(window, |s| tone(s, "alice", 440.0))
                .await
                .unwrap();
            alice
                .stats_until(window, |s| tone(s, "bob", 660.0))
                .await
                .unwrap();

            // Data, reliable and lossy, and chat, both ways.
            alice
            .cmd(json!({"cmd": "send_data", "payload": "hello bob", "topic": "t1", "reliable": true}))
            .await
            .unwrap();
            bob.expect(
                "data",
                json!({"sender": "alice", "payload": "hello bob", "topic": "t1"}),
            )
            .await
            .unwrap();
            bob.cmd(json!({"cmd": "send_data", "payload": "hi alice", "topic": "t2", "reliable": false}))
            .await
            .unwrap();
            alice
                .expect(
                    "data",
                    json!({"sender": "bob", "payload": "hi alice", "topic": "t2"}),
                )
                .await
                .unwrap();
            alice
                .cmd(json!({"cmd": "send_chat", "text": "chat from alice ✓"}))
                .await
                .unwrap();
            bob.expect(
                "chat",
                json!({"sender": "alice", "text": "chat from alice ✓"}),
            )
            .await
            .unwrap();
            bob.cmd(json!({"cmd": "send_chat", "text": "chat from bob"}))
                .await
                .unwrap();
            alice
                .expect("chat", json!({"sender": "bob", "text": "chat from bob"}))
                .await
                .unwrap();

            // Mute is seen by the other side, and unmute too.
            alice
                .cmd(json!({"cmd": "mute", "kind": "audio", "muted": true}))
                .await
                .unwrap();
            bob.expect("track_muted", json!({"identity": "alice", "kind": "audio"}))
                .await
                .unwrap();
            alice
                .cmd(json!({"cmd": "mute", "kind": "audio", "muted": false}))
                .await
                .unwrap();
            bob.expect(
                "track_unmuted",
                json!({"identity": "alice", "kind": "audio"}),
            )
            .await
            .unwrap();

            // Leaving is seen, and the server forgets everything.
            bob.disconnect().await.unwrap();
            alice
                .expect("participant_disconnected", json!({"identity": "bob"}))
                .await
                .unwrap();
            alice.disconnect().await.unwrap();
            let mut counts = server.counts().await.unwrap();
            for _ in 0..20 {
                if counts.participants == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                counts = server.counts().await.unwrap();
            }
            assert_eq!(counts.participants, 0, "{counts:?}");
            assert_eq!(counts.tracks, 0, "{counts:?}");
            server.stop().await;
        },
    );
}
