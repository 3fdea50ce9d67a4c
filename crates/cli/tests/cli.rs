//! `tandem-cli` as a person (or a test) runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufReader;
use std::process::{Command, Stdio};
use std::time::Duration;

use livekit_api::access_token::TokenVerifier;
use serde_json::json;
use tandem_testkit::peer::Peer;
use tandem_testkit::process::{self, Console};
use tandem_testkit::token;

const BIN: &str = env!("CARGO_BIN_EXE_tandem-cli");

#[test]
fn dev_tokens_verify_with_the_dev_keys() {
    let out = Command::new(BIN)
        .args([
            "token",
            "--dev",
            "--room",
            "r1",
            "--identity",
            "ann",
            "--name",
            "Ann",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jwt = String::from_utf8(out.stdout).unwrap();
    let c = TokenVerifier::with_api_key("devkey", "secret")
        .verify(jwt.trim())
        .unwrap();
    assert_eq!(
        (c.sub.as_str(), c.name.as_str(), c.video.room.as_str()),
        ("ann", "Ann", "r1")
    );
    assert!(c.video.room_join);
    let out = Command::new(BIN)
        .args(["token", "--room", "r1", "--identity", "ann"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "without --dev a key and secret are required"
    );
    let out = Command::new(BIN)
        .args(["join", "--backend", "http://x", "--profile", "999"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown profile"));
    // Links are read as the app reads them: one carrying a credential is refused.
    for (link, says) in [
        (
            "tandem://join?backend=http://x&profile=000&session=s1&password=p",
            "carries a credential",
        ),
        ("https://x.example/", "no session token"),
        (
            "tandem://join?backend=http://x&profile=009&session=s1",
            "unknown platform type",
        ),
    ] {
        let out = Command::new(BIN).args(["join", link]).output().unwrap();
        assert!(!out.status.success(), "{link}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{link}: {err}");
    }
}

#[test]
fn the_bot_publishes_pattern_and_tone_and_echoes_chat() {
    tandem_testkit::media_test(
        "the_bot_publishes_pattern_and_tone_and_echoes_chat",
        |ip| async move {
            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            let mut bot = Console::spawn(Command::new(BIN).args([
                "bot",
                "--url",
                &ds.url(),
                "--token",
                &token::join("r", "bot"),
                "--tone-hz",
                "523",
            ]));
            let printed = bot.until("state: Connected").await;
            assert!(printed.contains("state: Connecting"), "{printed}");
            let mut peer = Peer::python("peer", &ds.url(), &token::join("r", "peer"))
                .await
                .unwrap();
            peer.stats_until(Duration::from_secs(20), |s| {
                s["video"]["bot"]["frames"].as_u64().unwrap_or(0) > 10
                    && s["audio"]["bot"]["freq"]
                        .as_f64()
                        .is_some_and(|f| (f - 523.0).abs() < 6.0)
            })
            .await
            .unwrap();
            peer.cmd(json!({"cmd": "send_chat", "text": "ping <b>"}))
                .await
                .unwrap();
            peer.expect("chat", json!({"sender": "bot", "text": "echo: ping <b>"}))
                .await
                .unwrap();
            let rest = bot.finish().await;
            assert!(rest.0, "Ctrl-C leaves and exits 0");
            assert!(
                rest.1.contains("chat from peer: ping <b>")
                    && rest.1.contains("state: Ended(Left)"),
                "{}",
                rest.1
            );
            peer.expect("participant_disconnected", json!({"identity": "bot"}))
                .await
                .unwrap();
            peer.disconnect().await.unwrap();
            ds.stop().await;
        },
    );
}

/// `tandem-cli join` with this machine's devices (a private PulseAudio server
/// with a fake microphone and speaker): the peer hears the tone played into
/// our microphone and sees our pattern; the peer's tone comes out of our
/// speaker (recorded from its monitor); muting is seen by the peer.
#[test]
fn join_with_devices_sends_the_microphone_and_plays_the_peer() {
    tandem_testkit::media_test(
        "join_with_devices_sends_the_microphone_and_plays_the_peer",
        |ip| async move {
            let fake = tandem_testkit::pulse::FakeAudio::start("cli-join");
            let tone = fake.play_tone_into_mic(523);
            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            // A booked video session on tandem-backend, joined by its link
            // (profile 004), as a client's desktop would.
            let db_path =
                std::env::temp_dir().join(format!("tandem-cli-e2e-{}.db", std::process::id()));
            let _ = std::fs::remove_file(&db_path);
            let backend = tandem_backend::start(tandem_backend::Config::for_tests(
                &format!("sqlite://{}", db_path.display()),
                &ds.url(),
                "cli-e2e-jwt-secret-0123456789",
            ))
            .await
            .unwrap();
            let db = backend.state.db.clone();
            let booking = tandem_backend::dev::book(&db, "cli", "video", 30)
                .await
                .unwrap();
            let (client, sid, link) = (booking.client, booking.session, booking.link);
            let room = sid.clone();
            let us = client.as_str();
            let mut peer = Peer::python("peer", &ds.url(), &token::join(&room, "peer"))
                .await
                .unwrap();
            peer.cmd(json!({"cmd": "publish_audio", "freq": 660}))
                .await
                .unwrap();
            let devices = Command::new(BIN)
                .arg("devices")
                .env("PULSE_SERVER", &fake.server)
                .output()
                .unwrap();
            let listed = String::from_utf8_lossy(&devices.stdout).to_string();
            assert!(
                listed.contains("Fake-Microphone (default)") && listed.contains("Fake-Headset"),
                "{listed}"
            );
            let mut me = Console::spawn(
                Command::new(BIN)
                    // The join link as the app opens it (a platform's join page).
                    .args([
                        "join",
                        &format!("{}/session/join?token={link}", backend.url()),
                    ])
                    .args([
                        "--camera",
                        "test-pattern",
                        "--mic",
                        "default",
                        "--speaker",
                        "default",
                    ])
                    .env("PULSE_SERVER", &fake.server),
            );
            let printed = me.until("state: Connected").await;
            assert!(
                printed.contains("session: video with Coach, 30 minutes"),
                "{printed}"
            );
            assert!(printed.contains("Microphone: Fake-Microphone"), "{printed}");
            assert!(printed.contains("Speaker: Fake-Speaker"), "{printed}");
            // The peer: our microphone's tone (processed: echo cancellation,
            // noise suppression, gain) and our stamped pattern.
            peer.stats_until(Duration::from_secs(25), |s| {
                s["video"][us]["stamp"]["counter"].as_u64().unwrap_or(0) > 10
                    && s["audio"][us]["freq"]
                        .as_f64()
                        .is_some_and(|f| (f - 523.0).abs() < 6.0)
            })
            .await
            .unwrap();
            // Our speaker plays the peer's 660 Hz.
            let server = fake.server.clone();
            let played = tokio::task::spawn_blocking(move || {
                tandem_testkit::pulse::record(&server, "speaker", Duration::from_secs(1))
            })
            .await
            .unwrap();
            let (hz, db) = tandem_testkit::pulse::tone_of(&played, 48_000);
            println!("speaker played {hz:.1} Hz at {db:.1} dBFS");
            assert!((hz - 660.0).abs() < 6.0 && db > -40.0, "{hz} Hz, {db} dBFS");

            // Switched mid-call (a stdin command) to the 44.1 kHz headset.
            let printed = me
                .say("/speaker pulseaudio:headset", "Speaker: Fake-Headset")
                .await;
            assert!(printed.contains("Speaker: Fake-Headset"), "{printed}");
            let server = fake.server.clone();
            let (on_headset, on_speaker) = tokio::task::spawn_blocking(move || {
                std::thread::sleep(Duration::from_millis(300));
                let h = tandem_testkit::pulse::record(&server, "headset", Duration::from_secs(1));
                let s =
                    tandem_testkit::pulse::record(&server, "speaker", Duration::from_millis(300));
                (h, s)
            })
            .await
            .unwrap();
            let (hz, db) = tandem_testkit::pulse::tone_of(&on_headset, 48_000);
            println!("headset played {hz:.1} Hz at {db:.1} dBFS");
            assert!((hz - 660.0).abs() < 8.0 && db > -40.0, "{hz} Hz, {db} dBFS");
            assert!(tandem_testkit::pulse::tone_of(&on_speaker, 48_000).1 < -60.0);

            // Muting (a stdin command) is seen by the peer.
            me.type_line("/mute");
            peer.expect("track_muted", json!({"identity": us, "kind": "audio"}))
                .await
                .unwrap();
            fake.stop_tone(&tone);
            let rest = me.finish().await;
            assert!(
                rest.0 && rest.1.contains("state: Ended(Left)"),
                "{}",
                rest.1
            );
            peer.expect("participant_disconnected", json!({"identity": us}))
                .await
                .unwrap();
            peer.disconnect().await.unwrap();
            backend.stop().await;
            ds.stop().await;
            let _ = std::fs::remove_file(&db_path);
        },
    );
}

/// Two tandem-cli processes: `join` reports the bot's stamped pattern (frame
/// counter and delay read back from the picture) and its tone.
#[test]
fn join_reports_what_the_bot_sends() {
    tandem_testkit::media_test("join_reports_what_the_bot_sends", |ip| async move {
        let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
            .await
            .unwrap();
        let mut bot = Command::new(BIN)
            .args([
                "bot",
                "--url",
                &ds.url(),
                "--token",
                &token::join("r", "bot"),
            ])
            .args(["--tone-hz", "523", "--stats", "0"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut me = Command::new(BIN)
            .args([
                "join",
                "--url",
                &ds.url(),
                "--token",
                &token::join("r", "me"),
            ])
            .args(["--camera", "none", "--mic", "silence", "--speaker", "none"])
            .args(["--stats", "1", "--json-stats", "--capture", "bad"])
            .output()
            .unwrap();
        assert_eq!(
            me.status.code(),
            Some(2),
            "a bad --capture is a usage error"
        );
        assert!(String::from_utf8_lossy(&me.stderr).contains("WIDTHxHEIGHT@FPS"));
        let mut child = Command::new(BIN)
            .args([
                "join",
                "--url",
                &ds.url(),
                "--token",
                &token::join("r", "me"),
            ])
            .args(["--camera", "none", "--mic", "silence", "--speaker", "none"])
            .args(["--stats", "1", "--json-stats"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let report = tokio::task::spawn_blocking(move || {
            let mut lines = std::io::BufRead::lines(BufReader::new(out));
            let mut first = None;
            let mut speaking = false;
            let mut rated = false;
            loop {
                let line = lines.next().expect("join ended before reporting").unwrap();
                if line.starts_with("first video from bot after") {
                    first = Some(line.clone());
                }
                // The dev server's active-speaker updates name the bot's tone.
                speaking |= line == "speaking: bot";
                // And its connection-quality rating of the bot.
                rated |= line == "connection of bot: Excellent";
                let Some(json) = line.strip_prefix("stats ") else {
                    continue;
                };
                let s: serde_json::Value = serde_json::from_str(json).unwrap();
                // The full 640x360 layer, once the bot's bandwidth estimate
                // lets it send that layer (lower layers may come first).
                if s["identity"] == "bot"
                    && speaking
                    && rated
                    && (s["width"].as_u64(), s["height"].as_u64()) == (Some(640), Some(360))
                    && s["fps"].as_f64().unwrap_or(0.0) > 5.0
                    && s["counter"].as_u64().unwrap_or(0) > 0
                    && (s["audio_hz"].as_f64().unwrap_or(0.0) - 523.0).abs() < 6.0
                {
                    // Keep draining so the process never writes to a closed pipe.
                    std::thread::spawn(move || lines.for_each(drop));
                    return (first, s);
                }
            }
        });
        let (first, s) = tokio::time::timeout(Duration::from_secs(30), report)
            .await
            .expect("no stats with the bot's full-size pattern and tone, or the bot never speaking")
            .unwrap();
        println!("{first:?} {s}");
        assert!(first.is_some());
        let latency = s["latency_ms"].as_i64().unwrap();
        assert!((0..2000).contains(&latency), "{latency} ms");
        assert!(
            process::interrupt(&mut child),
            "join did not stop on Ctrl-C"
        );
        assert!(
            process::interrupt(&mut bot),
            "the bot did not stop on Ctrl-C"
        );
        ds.stop().await;
        me.stdout.clear();
    });
}

/// Two people in an encrypted call, each with `tandem-cli join`. One
/// changes the passphrase: the other is told, their pictures of the first
/// stop decrypting and they are told that too; they type the new one and
/// the pictures decrypt again.
#[test]
fn a_passphrase_changed_mid_call_is_said_and_can_be_followed() {
    tandem_testkit::media_test(
        "a_passphrase_changed_mid_call_is_said_and_can_be_followed",
        |ip| async move {
            use std::io::Write as _;
            use std::sync::mpsc::Receiver;
            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            let person = |who: &str| {
                let mut cmd = Command::new(BIN);
                cmd.args([
                    "join",
                    "--url",
                    &ds.url(),
                    "--token",
                    &token::join("k", who),
                ])
                .args([
                    "--camera",
                    "test-pattern",
                    "--mic",
                    "silence",
                    "--speaker",
                    "none",
                ])
                .args(["--capture", "320x180@15", "--stats", "0"])
                .arg("--e2ee-key=the first passphrase")
                .stdin(Stdio::piped());
                process::spawn_lines(&mut cmd)
            };
            let wait = |lines: &Receiver<String>, who: &str, want: &str| {
                process::expect_line(lines, who, Duration::from_secs(20), want)
            };
            let (mut ann, ann_says) = person("ann");
            let (mut bob, bob_says) = person("bob");
            wait(&bob_says, "bob", "first video from ann");
            wait(&ann_says, "ann", "first video from bob");
            let mut ann_in = ann.stdin.take().unwrap();
            writeln!(ann_in, "/key").unwrap();
            wait(&ann_says, "ann", "commands:");
            writeln!(ann_in, "/key the second passphrase").unwrap();
            wait(&ann_says, "ann", "passphrase changed");
            wait(
                &bob_says,
                "bob",
                "ann changed the call's passphrase: type /key",
            );
            wait(&bob_says, "bob", "encryption of ann: DecryptionFailed");
            wait(&ann_says, "ann", "encryption of bob: DecryptionFailed");
            let mut bob_in = bob.stdin.take().unwrap();
            writeln!(bob_in, "/key the second passphrase").unwrap();
            wait(&bob_says, "bob", "encryption of ann: Ok");
            wait(&ann_says, "ann", "encryption of bob: Ok");
            assert!(process::interrupt(&mut ann), "ann did not stop on Ctrl-C");
            assert!(process::interrupt(&mut bob), "bob did not stop on Ctrl-C");
            ds.stop().await;
        },
    );
}
