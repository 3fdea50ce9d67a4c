//! End-to-end encrypted calls with LiveKit's Python SDK as the other
//! participant, through tandem-devserver, inside a private network
//! namespace: with the same passphrase both see and hear each other and
//! report decryption working; with another passphrase neither decodes the
//! other, and both say so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use std::time::Duration;

use serde_json::json;
use tandem_call::lk::{EncryptionState, SharedKey};
use tandem_call::session::{
    self, CallConfig, CallEvent, CallEvents, CallHandle, CallState, MediaConfig, SessionType,
    TokenSource,
};
use tandem_testkit::peer::Peer;
use tandem_testkit::token;

const PASSPHRASE: &str = "our coaching session, 6 December";
const NEW_PASSPHRASE: &str = "a fresh key for the second half";

/// The frame counter of the newest picture of ours the Python peer decoded.
fn counter_of(stats: &serde_json::Value) -> u64 {
    stats["video"]["tandem"]["stamp"]["counter"]
        .as_u64()
        .unwrap_or(0)
}

fn join(url: &str, room: &str, key: &str) -> (CallHandle, CallEvents) {
    let direct = TokenSource::Direct {
        url: url.to_owned(),
        token: token::join(room, "tandem"),
    };
    session::start(CallConfig {
        e2ee: Some(SharedKey::from_passphrase(key).unwrap()),
        ..CallConfig::new(direct, SessionType::Video, MediaConfig::synthetic(440.0))
    })
}

/// The next event passing `pred`, within 20 s.
async fn next(events: &mut CallEvents, what: &str, pred: impl Fn(&CallEvent) -> bool) -> CallEvent {
    support::next_within(events, Duration::from_secs(20), what, pred).await
}

/// The Python peer sending a tone and a colour, encrypted with `key`.
/// With its SDK's default ratchet window a receiver that failed to decrypt
/// never recovers after a key change (a LiveKit limitation Tandem avoids
/// with a window of none); `recovers` gives it none too.
async fn python_peer(url: &str, room: &str, key: &str, recovers: bool) -> Peer {
    let window = if recovers { "0" } else { "16" };
    let mut peer = Peer::python_with(
        "peer",
        url,
        &token::join(room, "peer"),
        // `=`: a generated key may start with '-'.
        &[
            &format!("--e2ee-key={key}"),
            &format!("--e2ee-ratchet-window={window}"),
        ],
    )
    .await
    .unwrap();
    peer.cmd(json!({"cmd": "publish_audio", "freq": 660}))
        .await
        .unwrap();
    peer.cmd(json!({"cmd": "publish_video", "color": [200, 40, 160], "width": 320, "height": 180, "fps": 15}))
        .await
        .unwrap();
    peer
}

/// The centre colour of the newest picture from `who`, if any.
fn colour_of(call: &CallHandle, who: &str) -> Option<[u8; 3]> {
    let f = session::frame_fitted(&call.video(who)?, 160, 160)?;
    let rgb = tandem_call::media::convert::i420_to_rgb(&f).ok()?;
    let mid = ((f.height() / 2 * f.width() + f.width() / 2) * 3) as usize;
    Some([rgb[mid], rgb[mid + 1], rgb[mid + 2]])
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) < 30)
}

#[test]
fn an_encrypted_call_with_the_python_sdk() {
    tandem_testkit::media_test("an_encrypted_call_with_the_python_sdk", |ip| async move {
        let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
            .await
            .unwrap();
        let url = ds.url();

        // The same passphrase: both ways, seen and heard.
        let mut peer = python_peer(&url, "private", PASSPHRASE, true).await;
        let (call, mut events) = join(&url, "private", PASSPHRASE);
        next(&mut events, "connected", |e| {
            e == &CallEvent::State(CallState::Connected)
        })
        .await;
        peer.stats_until(Duration::from_secs(20), |s| {
            let v = &s["video"]["tandem"];
            v["frames"].as_u64().unwrap_or(0) > 10
                && v["stamp"]["counter"].as_u64().unwrap_or(0) > 10
                && s["audio"]["tandem"]["freq"]
                    .as_f64()
                    .is_some_and(|f| (f - 440.0).abs() < 6.0)
        })
        .await
        .expect("the Python peer did not decode our encrypted media");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let heard = call
                .received()
                .get("peer")
                .map(|r| r.audio_hz)
                .unwrap_or(0.0);
            if colour_of(&call, "peer").is_some_and(|c| near(c, [200, 40, 160]))
                && (heard - 660.0).abs() < 6.0
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "we did not decode the peer: colour {:?}, tone {heard} Hz",
                colour_of(&call, "peer")
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // Chat is encrypted with the same key (LiveKit encrypts data packets
        // and text streams too), and reads both ways.
        call.send_chat("private words").unwrap();
        peer.expect("chat", json!({"sender": "tandem", "text": "private words"}))
            .await
            .expect("the Python peer did not read our encrypted chat");
        peer.cmd(json!({"cmd": "send_chat", "text": "a private answer"}))
            .await
            .unwrap();
        next(
            &mut events,
            "the peer's encrypted chat",
            |e| matches!(e, CallEvent::ChatReceived(m) if m.text == "a private answer"),
        )
        .await;

        // We change the key mid-call; the peer still has the old one: its
        // pictures stop decrypting and we say so; it decodes nothing of ours.
        call.change_key(SharedKey::from_passphrase(NEW_PASSPHRASE).unwrap())
            .await
            .unwrap();
        next(&mut events, "the peer on the old key said not to decrypt", |e| {
            matches!(e, CallEvent::Encryption { identity, state: EncryptionState::DecryptionFailed } if identity == "peer")
        })
        .await;
        let stuck = counter_of(&peer.stats().await.unwrap());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            counter_of(&peer.stats().await.unwrap()) <= stuck + 1,
            "the peer still decoded our pictures after we changed the key"
        );
        // It changes to the new key too: both decode again, and we say so.
        peer.cmd(json!({"cmd": "set_key", "key": NEW_PASSPHRASE}))
            .await
            .unwrap();
        next(&mut events, "the peer said to decrypt again", |e| {
            matches!(e, CallEvent::Encryption { identity, state } if identity == "peer" && state.working())
        })
        .await;
        peer.stats_until(Duration::from_secs(20), |s| counter_of(s) > stuck + 10)
            .await
            .expect("the Python peer did not decode our pictures with the new key");
        call.leave().unwrap();
        peer.disconnect().await.unwrap();

        // Another passphrase: neither decodes the other, and both say so.
        let mut peer = python_peer(&url, "mismatch", "someone else's passphrase", false).await;
        let (call, mut events) = join(&url, "mismatch", PASSPHRASE);
        // We say so within seconds (LiveKit itself may never report it).
        next(&mut events, "the peer's media said not to decrypt", |e| {
            matches!(e, CallEvent::Encryption { identity, state: EncryptionState::DecryptionFailed } if identity == "peer")
        })
        .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let s = peer.stats().await.unwrap();
        assert_eq!(
            s["video"]["tandem"]["stamp"]["counter"]
                .as_u64()
                .unwrap_or(0),
            0,
            "the Python peer decoded our picture with the wrong key: {s}"
        );
        assert!(
            !colour_of(&call, "peer").is_some_and(|c| near(c, [200, 40, 160])),
            "we decoded the peer's picture with the wrong key"
        );
        call.leave().unwrap();
        peer.disconnect().await.unwrap();

        // Someone without encryption: what the server forwards of ours is
        // not plain media they could decode, and we say theirs does not
        // decrypt rather than show it as private.
        let mut plain = Peer::python("peer", &url, &token::join("plain", "peer"))
            .await
            .unwrap();
        plain
            .cmd(json!({"cmd": "publish_video", "color": [200, 40, 160], "width": 320, "height": 180, "fps": 15}))
            .await
            .unwrap();
        let (call, mut events) = join(&url, "plain", PASSPHRASE);
        next(&mut events, "the peer said to send unencrypted media", |e| {
            matches!(e, CallEvent::Encryption { identity, state: EncryptionState::NotEncrypted } if identity == "peer")
        })
        .await;
        // Their pictures arrive (in the clear): never called private.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            call.received()
                .get("peer")
                .is_some_and(|r| r.video_frames > 0)
        );
        while let Ok(e) = events.try_recv() {
            assert!(
                !matches!(&e, CallEvent::Encryption { identity, state } if identity == "peer" && state.working()),
                "an unencrypted peer was said to decrypt: {e:?}"
            );
        }
        // Nor can it read our chat: it ignores what it cannot decrypt.
        call.send_chat("for the key holders only").unwrap();
        assert!(
            plain
                .expect_within(Duration::from_secs(5), "chat", json!({"sender": "tandem"}))
                .await
                .is_err(),
            "a participant without the key read our chat"
        );
        let s = plain.stats().await.unwrap();
        assert_eq!(
            s["video"]["tandem"]["stamp"]["counter"]
                .as_u64()
                .unwrap_or(0),
            0,
            "a participant without the key decoded our picture: {s}"
        );
        call.leave().unwrap();
        plain.disconnect().await.unwrap();
        ds.stop().await;
    });
}

/// A session the platform made private: Tandem takes the key that comes
/// with its token (no passphrase of its own), and a Python participant
/// given the same key sees and hears it.
#[test]
fn a_private_session_from_the_platform() {
    tandem_testkit::media_test("a_private_session_from_the_platform", |ip| async move {
        use tandem_call::platform::{Auth, BackendClient, Profile};
        let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
            .await
            .unwrap();
        let (backend, _db) = support::backend(&ds.url(), "e2ee").await;
        let db = backend.state.db.clone();
        let booking = tandem_backend::dev::book(&db, "private", "video", 30)
            .await
            .unwrap();
        let key = tandem_backend::dev::make_private(&db, &booking.session)
            .await
            .unwrap();
        let mut peer = python_peer(&ds.url(), &booking.session, &key, false).await;
        let api = BackendClient::new(&backend.url(), Profile::Seed004, Auth::None).unwrap();
        let (call, mut events) = session::start(CallConfig::new(
            support::join_link(&api, &booking.link),
            SessionType::Video,
            MediaConfig::synthetic(440.0),
        ));
        next(&mut events, "the peer's media decrypting", |e| {
            matches!(e, CallEvent::Encryption { identity, state: EncryptionState::Ok } if identity == "peer")
        })
        .await;
        let us = booking.client.as_str();
        peer.stats_until(Duration::from_secs(20), |s| {
            s["video"][us]["stamp"]["counter"].as_u64().unwrap_or(0) > 10
                && s["audio"][us]["freq"]
                    .as_f64()
                    .is_some_and(|f| (f - 440.0).abs() < 6.0)
        })
        .await
        .expect("the Python peer did not decode the private session's media");
        call.leave().unwrap();
        peer.disconnect().await.unwrap();
        ds.stop().await;
    });
}

fn count(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// LiveKit's JS SDK in Chromium, with its own encryption worker and key
/// provider given the same passphrase: both decode each other; with another
/// passphrase neither does, and Tandem names the browser as not decrypting.
#[test]
fn an_encrypted_call_with_the_js_sdk() {
    tandem_testkit::media_test("an_encrypted_call_with_the_js_sdk", |ip| async move {
        let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
            .await
            .unwrap();
        let url = ds.url();
        for (room, passphrase, same) in [
            ("web-private", PASSPHRASE, true),
            ("web-mismatch", "the browser's own guess", false),
        ] {
            let mut web = Peer::browser_with(
                "web",
                &url,
                &token::join(room, "web"),
                &[&format!("--e2ee-key={passphrase}")],
            )
            .await
            .unwrap();
            web.cmd(json!({"cmd": "publish_camera", "width": 320, "height": 180, "fps": 15}))
                .await
                .unwrap();
            web.cmd(json!({"cmd": "publish_mic"})).await.unwrap();
            let (call, mut events) = join(&url, room, PASSPHRASE);
            if same {
                next(&mut events, "the browser's media decrypting", |e| {
                    matches!(e, CallEvent::Encryption { identity, state: EncryptionState::Ok } if identity == "web")
                })
                .await;
                web.stats_until(Duration::from_secs(30), |s| {
                    count(&s["video"]["tandem"]["frames"]) > 10
                        && count(&s["audio"]["tandem"]["packets"]) > 50
                })
                .await
                .expect("the browser did not decode our encrypted media");
                let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
                while call.received().get("web").map_or(0, |r| r.video_frames) < 10 {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "we did not decode the browser's picture"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                // Chat too, encrypted by both SDKs with the same key.
                call.send_chat("to the browser, privately").unwrap();
                web.expect(
                    "chat",
                    json!({"sender": "tandem", "text": "to the browser, privately"}),
                )
                .await
                .expect("the browser did not read our encrypted chat");
                web.cmd(json!({"cmd": "send_chat", "text": "from the browser, privately"}))
                    .await
                    .unwrap();
                next(&mut events, "the browser's encrypted chat", |e| {
                    matches!(e, CallEvent::ChatReceived(m) if m.text == "from the browser, privately")
                })
                .await;
            } else {
                next(&mut events, "the browser's media said not to decrypt", |e| {
                    matches!(e, CallEvent::Encryption { identity, state: EncryptionState::DecryptionFailed } if identity == "web")
                })
                .await;
                assert_eq!(
                    call.received().get("web").map_or(0, |r| r.video_frames),
                    0,
                    "we decoded the browser's picture with another passphrase"
                );
                // The browser says so too (its SDK's encryption error).
                web.wait(Duration::from_secs(15), |e| {
                    e["event"] == "encryption_error"
                        && e["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("Decryption failed"))
                })
                .await
                .expect("the browser did not report our media failing to decrypt");
                let s = web.stats().await.unwrap();
                assert!(
                    count(&s["video"]["tandem"]["frames"]) < 3,
                    "the browser decoded our picture with another passphrase: {s}"
                );
            }
            call.leave().unwrap();
            web.disconnect().await.unwrap();
        }
        ds.stop().await;
    });
}
