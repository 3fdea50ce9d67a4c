//! Noise removal heard at the other end: speech (espeak-ng) over three
//! noises is played into a fake microphone, `tandem-cli join` sends it
//! through the whole path (echo cancellation and WebRTC's suppressor, then
//! the neural one, Opus, LiveKit), and LiveKit's Python SDK records it, once
//! with noise removal off and once after `/denoise on` in the same call.
//! `tests/peers/denoise_audio.py` makes the sound and scores the two.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tandem_testkit::peer::Peer;
use tandem_testkit::process::{self, Console};
use tandem_testkit::pulse::FakeAudio;
use tandem_testkit::token;

const BIN: &str = env!("CARGO_BIN_EXE_tandem-cli");

fn denoise_audio(args: &[&str]) -> Value {
    let script = tandem_testkit::workspace_root().join("tests/peers/denoise_audio.py");
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "denoise_audio.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Records what `us` sends while the mix plays into the microphone.
async fn record(peer: &mut Peer, fake: &FakeAudio, us: &str, mix: &Path, to: &Path) {
    peer.cmd(json!({"cmd": "record_audio", "identity": us}))
        .await
        .unwrap();
    let (server, mix) = (fake.server.clone(), mix.to_owned());
    tokio::task::spawn_blocking(move || tandem_testkit::pulse::play(&server, "micfeed", &mix))
        .await
        .unwrap();
    // What is still on its way.
    tokio::time::sleep(Duration::from_millis(700)).await;
    peer.cmd(json!({"cmd": "save_audio", "identity": us, "path": to}))
        .await
        .unwrap();
}

#[test]
fn noise_removal_quietens_noise_and_keeps_speech_at_the_other_end() {
    tandem_testkit::media_test(
        "noise_removal_quietens_noise_and_keeps_speech_at_the_other_end",
        |ip| async move {
            let dir: PathBuf =
                std::env::temp_dir().join(format!("tandem-denoise-{}", std::process::id()));
            let made = denoise_audio(&["make", dir.to_str().unwrap()]);
            println!("sound: {made}");
            let fake = FakeAudio::start("denoise");
            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            let mut peer = Peer::python("peer", &ds.url(), &token::join("calm", "peer"))
                .await
                .unwrap();
            let us = "coach";
            let mut me = Console::spawn(
                process::joining(BIN, &ds.url(), &token::join("calm", us))
                    .args(["--type", "voice", "--mic", "default", "--speaker", "none"])
                    .args(["--denoise", "off"])
                    .env("PULSE_SERVER", &fake.server),
            );
            let printed = me.until("state: Connected").await;
            assert!(printed.contains("Microphone: Fake-Microphone"), "{printed}");
            peer.stats_until(Duration::from_secs(20), |s| {
                s["audio"][us]["frames"].as_u64().unwrap_or(0) > 50
            })
            .await
            .unwrap();

            let (off, on) = (dir.join("off.s16"), dir.join("on.s16"));
            let mix = dir.join("mix.s16");
            record(&mut peer, &fake, us, &mix, &off).await;
            me.say("/denoise on", "noise removal on").await;
            record(&mut peer, &fake, us, &mix, &on).await;

            let score = denoise_audio(&[
                "score",
                dir.to_str().unwrap(),
                off.to_str().unwrap(),
                on.to_str().unwrap(),
            ]);
            println!("score: {score}");
            let of = |noise: &str, what: &str| score[noise][what].as_f64().unwrap();
            // What WebRTC's suppressor leaves of a steady hiss, the network
            // takes (and the Opus encoder then stops sending the silence).
            assert!(of("white", "snr_gain_db") >= 10.0, "{score}");
            for noise in ["white", "typing", "babble"] {
                // Never worse where it does little: RNNoise hears sharp
                // clicks as consonants, and babble is voices.
                assert!(of(noise, "snr_gain_db") >= -1.5, "{noise}: {score}");
                // The speech is kept: as intelligible, and about as loud.
                assert!(
                    of(noise, "stoi_on") >= of(noise, "stoi_off") - 0.03,
                    "{noise}: {score}"
                );
                assert!(
                    of(noise, "speech_level_change_db") > -6.0,
                    "{noise}: {score}"
                );
            }
            // The speech came through in both passes (the gains above), and
            // the track still runs.
            peer.still_receiving("audio", us, 50).await.unwrap();
            assert!(me.interrupt());
            peer.disconnect().await.unwrap();
            ds.stop().await;
            let _ = std::fs::remove_dir_all(&dir);
        },
    );
}
