//! A whole call: tandem-backend hands out the token (seed 004 link),
//! tandem-devserver carries the media, `CallSession` publishes the test
//! pattern and a tone, and LiveKit's Python SDK is the other participant.
//! Inside a private network namespace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use std::time::Duration;
use support::next_matching;

use serde_json::json;
use tandem_backend::dev::book;
use tandem_call::platform::{Auth, BackendClient, Profile, TokenRequest};
use tandem_call::session::{
    self, CallConfig, CallEvent, CallState, EndReason, MediaConfig, SessionType, TokenSource,
};
use tandem_testkit::peer::Peer;
use tandem_testkit::token;

#[test]
fn call_session_through_backend_and_devserver_with_a_python_peer() {
    tandem_testkit::media_test(
        "call_session_through_backend_and_devserver_with_a_python_peer",
        |ip| async move {
            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            let (backend, _db) = support::backend(&ds.url(), "call-e2e").await;
            let db = backend.state.db.clone();
            let booking = book(&db, "e2e", "video", 30).await.unwrap();
            let (client, sid, link) = (booking.client, booking.session, booking.link);

            let mut peer = Peer::python("peer", &ds.url(), &token::join(&sid, "peer"))
                .await
                .unwrap();
            peer.cmd(json!({"cmd": "publish_audio", "freq": 660}))
                .await
                .unwrap();
            peer.cmd(json!({"cmd": "publish_video", "color": [200, 40, 160], "width": 320, "height": 180, "fps": 15}))
                .await
                .unwrap();

            let api = BackendClient::new(&backend.url(), Profile::Seed004, Auth::None).unwrap();
            let (call, mut events) = session::start(CallConfig {
                paid_minutes: Some(30),
                ..CallConfig::new(
                    support::join_link(&api, &link),
                    SessionType::Video,
                    support::small_synthetic(),
                )
            });
            let mut states = Vec::new();
            let mut info = None;
            next_matching(&mut events, "connected", |e| {
                if let CallEvent::State(s) = e {
                    states.push(s.clone());
                }
                if let CallEvent::Session(i) = e {
                    info = Some(i.clone());
                }
                e == &CallEvent::State(CallState::Connected)
            })
            .await;
            assert_eq!(
                states,
                [
                    CallState::Idle,
                    CallState::FetchingToken,
                    CallState::Connecting,
                    CallState::Connected
                ]
            );
            // The link told us the booking before the token was fetched.
            let info = info.expect("no session info from the 004 link");
            assert_eq!(
                (
                    info.session_id.as_str(),
                    info.session_type.as_str(),
                    info.paid_minutes,
                    info.other_name.as_str()
                ),
                (sid.as_str(), "video", Some(30), "Coach")
            );
            next_matching(&mut events, "the peer's audio", |e| matches!(e, CallEvent::TrackSubscribed { identity, kind: tandem_lk::TrackKind::Audio } if identity == "peer")).await;
            next_matching(&mut events, "a timer tick", |e| matches!(e, CallEvent::Timer { remaining: Some(r), ending_soon: false, .. } if r.as_secs() > 29 * 60)).await;

            // The peer sees our picture and hears our tone.
            let us = client.as_str();
            peer.stats_until(Duration::from_secs(20), |s| {
                let v = &s["video"][us];
                // Our pattern, recognised by the stamp it carries.
                v["frames"].as_u64().unwrap_or(0) > 10
                    && v["width"] == 640
                    && v["stamp"]["counter"].as_u64().unwrap_or(0) > 10
                    && s["audio"][us]["freq"]
                        .as_f64()
                        .is_some_and(|f| (f - 440.0).abs() < 6.0)
            })
            .await
            .unwrap();

            // We see the peer's picture: its colour in our newest-frame slot,
            // scaled to the size a view asks for.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
            let seen = loop {
                if let Some(rx) = call.video("peer")
                    && let Some(f) = session::frame_fitted(&rx, 160, 160)
                {
                    let rgb = tandem_call::media::convert::i420_to_rgb(&f).unwrap();
                    let mid = ((f.height() / 2 * f.width() + f.width() / 2) * 3) as usize;
                    let px = [rgb[mid], rgb[mid + 1], rgb[mid + 2]];
                    if px
                        .iter()
                        .zip([200u8, 40, 160])
                        .all(|(a, b)| a.abs_diff(b) < 30)
                    {
                        break (f.width(), f.height(), px);
                    }
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the peer's video never arrived"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            assert_eq!((seen.0, seen.1), (160, 90), "{seen:?}");
            assert!(
                call.video(session::LOCAL_VIDEO).is_some(),
                "no local preview"
            );

            // Chat both ways, both formats.
            let sent_id = call.send_chat("hello from tandem ✓").unwrap();
            next_matching(
                &mut events,
                "chat sent",
                |e| matches!(e, CallEvent::ChatSent { local_id, message } if *local_id == sent_id && message.text == "hello from tandem ✓"),
            )
            .await;
            peer.expect("chat", json!({"sender": us, "text": "hello from tandem ✓"}))
                .await
                .unwrap();
            let legacy = peer
                .wait(Duration::from_secs(10), |e| {
                    e["event"] == "data" && e["topic"] == "chat"
                })
                .await
                .unwrap();
            let body: serde_json::Value =
                serde_json::from_str(legacy["payload"].as_str().unwrap()).unwrap();
            assert_eq!(body["message"], "hello from tandem ✓");
            assert!(
                body["id"].is_string() && body["timestamp"].is_i64(),
                "{body}"
            );
            peer.cmd(
                json!({"cmd": "send_chat", "text": "<img src=x onerror=alert(1)> from python"}),
            )
            .await
            .unwrap();
            next_matching(&mut events, "lk.chat from the peer", |e| matches!(e, CallEvent::ChatReceived(m) if m.from == "peer" && m.text == "<img src=x onerror=alert(1)> from python")).await;
            let packet = json!({"id": "legacy-1", "timestamp": 1_700_000_000_000_i64, "message": "legacy hello"}).to_string();
            peer.cmd(
                json!({"cmd": "send_data", "payload": packet, "topic": "chat", "reliable": true}),
            )
            .await
            .unwrap();
            next_matching(&mut events, "legacy chat from the peer", |e| matches!(e, CallEvent::ChatReceived(m) if m.id == "legacy-1" && m.text == "legacy hello")).await;

            // The call's history holds both directions, in order, duplicates
            // (the same message in both formats) once.
            let h = call.chat_history();
            let texts: Vec<&str> = h.messages.iter().map(|m| m.text.as_str()).collect();
            assert_eq!(
                texts,
                [
                    "hello from tandem ✓",
                    "<img src=x onerror=alert(1)> from python",
                    "legacy hello"
                ]
            );

            // Mute is seen by the other side; so is leaving.
            call.set_mic(false).await.unwrap();
            peer.expect("track_muted", json!({"identity": us, "kind": "audio"}))
                .await
                .unwrap();
            // And the peer hears silence: the tone is gone from the last half second.
            peer.stats_until(Duration::from_secs(10), |s| {
                s["audio"][us]["rms"].as_f64().is_some_and(|r| r < 0.001)
            })
            .await
            .unwrap();
            // Ending the session leaves the room and settles it on the platform.
            call.end_session().unwrap();
            next_matching(&mut events, "ended", |e| {
                e == &CallEvent::State(CallState::Ended(EndReason::SessionEnded))
            })
            .await;
            peer.expect("participant_disconnected", json!({"identity": us}))
                .await
                .unwrap();
            let link_req = TokenRequest {
                link: Some(link.clone()),
                ..Default::default()
            };
            let api = BackendClient::new(&backend.url(), Profile::Seed004, Auth::None).unwrap();
            let after = api.session_info(&link_req).await;
            assert!(
                matches!(&after, Ok(Some(i)) if i.status == "completed"),
                "{after:?}"
            );
            let rejoin = api.fetch_token(&link_req).await.unwrap_err();
            assert!(rejoin.to_string().contains("ended"), "{rejoin}");
            peer.disconnect().await.unwrap();
            backend.stop().await;
            ds.stop().await;
        },
    );
}

#[tokio::test]
async fn a_refused_token_fails_the_call_with_the_likely_cause() {
    // A token signed with another secret against a dev server on loopback:
    // the join is refused and the call says the secret is the likely cause.
    let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(
        "127.0.0.1".parse().unwrap(),
    ))
    .await
    .unwrap();
    let forged =
        livekit_api::access_token::AccessToken::with_api_key("devkey", "some-other-secret")
            .with_identity("x")
            .with_grants(livekit_api::access_token::VideoGrants {
                room_join: true,
                room: "r".into(),
                ..Default::default()
            })
            .to_jwt()
            .unwrap();
    let forged = TokenSource::Direct {
        url: ds.url(),
        token: forged,
    };
    let (_call, mut events) = session::start(CallConfig::new(
        forged,
        SessionType::Chat,
        MediaConfig::synthetic(440.0),
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap()
            .unwrap();
        if let CallEvent::State(CallState::Failed(e)) = ev {
            let text = e.to_string();
            assert!(text.contains("LIVEKIT_API_SECRET"), "{text}");
            break;
        }
        assert!(
            !matches!(ev, CallEvent::State(CallState::Connected)),
            "a forged token must not connect"
        );
    }
    ds.stop().await;
}
