//! The camera's encoder, chosen and told. On this machine (no GPU)
//! `tandem-cli join` sends VP8 through libvpx by itself; asked for a
//! hardware encoder (`--encoder hardware`: H.264), LiveKit's library finds
//! none, falls back to its software H.264 encoder, and the CLI says which
//! one is in use. LiveKit's Python SDK receives the picture both times, of
//! the type announced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::Value;
use tandem_testkit::peer::Peer;
use tandem_testkit::process::{self, Console};
use tandem_testkit::token;

const BIN: &str = env!("CARGO_BIN_EXE_tandem-cli");

#[test]
fn the_camera_encoder_is_told_and_a_missing_hardware_one_falls_back() {
    tandem_testkit::media_test(
        "the_camera_encoder_is_told_and_a_missing_hardware_one_falls_back",
        |ip| async move {
            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            let mut peer = Peer::python("peer", &ds.url(), &token::join("enc", "peer"))
                .await
                .unwrap();
            for (asked, mime) in [("auto", "video/VP8"), ("hardware", "video/H264")] {
                let us = format!("cam-{asked}");
                let mut me = Console::spawn(
                    process::joining(BIN, &ds.url(), &token::join("enc", &us))
                        .args(["--camera", "test-pattern", "--mic", "silence"])
                        .args(["--speaker", "none", "--encoder", asked]),
                );
                me.until("state: Connected").await;
                let told =
                    tokio::time::timeout(Duration::from_secs(30), me.until("video encoder:"))
                        .await
                        .expect("no video encoder told within 30 s");
                let line = told.lines().last().unwrap_or_default().to_owned();
                println!("--encoder {asked}: {line}");
                if asked == "auto" {
                    assert!(line.contains("libvpx (software)"), "{line}");
                } else {
                    // No hardware here: the library's software H.264.
                    assert!(line.contains("(software)"), "{line}");
                    assert!(!line.contains("libvpx"), "still VP8: {line}");
                }
                let s = peer
                    .stats_until(Duration::from_secs(20), |s| {
                        s["video"][us.as_str()]["frames"].as_u64().unwrap_or(0) > 30
                    })
                    .await
                    .unwrap();
                assert!(
                    s["video"][us.as_str()]["width"].as_u64().unwrap_or(0) > 0,
                    "{s}"
                );
                let announced: Vec<Value> = peer
                    .history()
                    .iter()
                    .filter(|e| {
                        e["event"] == "track_subscribed"
                            && e["identity"] == us.as_str()
                            && e["kind"] == "video"
                    })
                    .cloned()
                    .collect();
                assert!(announced.iter().any(|e| e["mime"] == mime), "{announced:?}");
                let (clean, _) = me.finish().await;
                assert!(clean, "--encoder {asked} did not leave cleanly");
            }
        },
    );
}
