//! Seed 004's own calls, peer to peer: Tandem's `CallSession` and the
//! seed's session page (Chromium: `RTCPeerConnection` + socket.io-client,
//! written from the seed) meet through tandem-backend's Socket.IO room
//! server, with no LiveKit anywhere. Video, audio and chat both ways; voice
//! and chat bookings carry only what they booked; the page leaving and
//! coming back; ending the session. Inside a private network namespace
//! (Chromium ignores loopback candidates).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use std::time::Duration;
use support::next_matching;

use serde_json::{Value, json};
use tandem_backend::dev::{add_link, book};
use tandem_call::lk::TrackKind;
use tandem_call::platform::{Auth, BackendClient, P2p, Profile};
use tandem_call::session::{
    self, CallConfig, CallEvent, CallEvents, CallHandle, CallState, EndReason, SessionType,
};
use tandem_testkit::peer::Peer;

/// Waits until what Tandem received from `who` satisfies `ok`.
async fn received_until(
    call: &CallHandle,
    who: &str,
    what: &str,
    ok: impl Fn(&tandem_call::session::Received) -> bool,
) -> tandem_call::session::Received {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = call.received().get(who).cloned().unwrap_or_default();
        if ok(&r) {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: after 30 s Tandem has {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// tandem-backend on a fresh SQLite file: seed 004's API and its Socket.IO
/// room server, no LiveKit behind it.
async fn platform(tag: &str) -> tandem_backend::Running {
    let db_path = std::env::temp_dir().join(format!("tandem-p2p-{tag}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db_path);
    tandem_backend::start(tandem_backend::Config::for_tests(
        &format!("sqlite://{}", db_path.display()),
        "ws://127.0.0.1:7880",
        "p2p-jwt-secret-0123456789",
    ))
    .await
    .unwrap()
}

/// A video booking, the coach's join link, and the coach's page already in
/// the room.
async fn booked_with_page(
    url: &str,
    db: &tandem_backend::db::Db,
    tag: &str,
) -> (tandem_backend::dev::Booking, String, Peer) {
    let b = book(db, tag, "video", 30).await.unwrap();
    let coach_link = add_link(db, &b.session, &b.coach, "astrologer", 3600)
        .await
        .unwrap();
    let page = Peer::seed_page("page", url, url, &coach_link)
        .await
        .unwrap();
    (b, coach_link, page)
}

fn start(url: &str, link: &str, kind: SessionType) -> (CallHandle, CallEvents) {
    start_with(url, link, kind, P2p::default())
}

/// [`start`] with the STUN and TURN servers of `ice`.
fn start_with(url: &str, link: &str, kind: SessionType, ice: P2p) -> (CallHandle, CallEvents) {
    let api = BackendClient::new(url, Profile::Seed004, Auth::None)
        .unwrap()
        .with_p2p(P2p {
            always: true,
            socket_url: Some(url.to_owned()),
            ..ice
        });
    session::start(CallConfig {
        camera_on: kind == SessionType::Video,
        ..CallConfig::new(
            support::join_link(&api, link),
            SessionType::Video,
            support::small_synthetic(),
        )
    })
}

#[test]
fn tandem_and_the_seed_page_call_peer_to_peer() {
    tandem_testkit::media_test(
        "tandem_and_the_seed_page_call_peer_to_peer",
        |_ip| async move {
            let backend = platform("call").await;
            let (url, db) = (backend.url(), backend.state.db.clone());

            // ---- a video booking: the coach's page is in the room first.
            let (b, coach_link, mut page) = booked_with_page(&url, &db, "p2p-video").await;
            let (call, mut events) = start(&url, &b.link, SessionType::Video);
            next_matching(&mut events, "the session's facts", |e| {
            matches!(e, CallEvent::Session(i) if i.session_type == "video" && i.room_id.is_some())
        })
        .await;
            next_matching(&mut events, "the coach in the room", |e| {
            matches!(e, CallEvent::ParticipantJoined { identity, .. } if identity == "astrologer")
        })
        .await;
            next_matching(&mut events, "the coach's video", |e| {
            matches!(e, CallEvent::TrackSubscribed { identity, kind: TrackKind::Video } if identity == "astrologer")
        })
        .await;
            // Chromium's fake camera (640×480 at 30) and beeping microphone.
            let r = received_until(&call, "astrologer", "the page's picture and sound", |r| {
                r.video_frames > 30 && r.audio_frames > 100 && r.audio_dbfs > -60.0
            })
            .await;
            assert_eq!(r.video_size, (640, 480), "{r:?}");
            // Tandem's test pattern and 440 Hz tone at the page.
            let s = page
                .stats_until(Duration::from_secs(30), |s| {
                    count(&s["video"]["user"]["frames"]) > 30
                        && count(&s["audio"]["user"]["packets"]) > 100
                        && s["audio"]["user"]["energy"].as_f64().unwrap_or(0.0) > 0.0
                })
                .await
                .unwrap();
            assert_eq!(s["video"]["user"]["width"], 640, "{s}");
            assert_eq!(s["video"]["user"]["height"], 360, "{s}");

            // ---- chat both ways, in the seed's `message` shape.
            let id = call.send_chat("hello from Tandem ✓").unwrap();
            next_matching(
                &mut events,
                "our chat sent",
                |e| matches!(e, CallEvent::ChatSent { local_id, .. } if *local_id == id),
            )
            .await;
            let heard = page
                .expect("chat", json!({"text": "hello from Tandem ✓"}))
                .await
                .unwrap();
            assert_eq!(heard["sender"], "user", "{heard}");
            page.cmd(json!({"cmd": "send_chat", "text": "<b>from the page</b>"}))
                .await
                .unwrap();
            let CallEvent::ChatReceived(m) = next_matching(&mut events, "the page's chat", |e| {
                matches!(e, CallEvent::ChatReceived(_))
            })
            .await
            else {
                unreachable!()
            };
            assert_eq!(
                (m.from.as_str(), m.text.as_str()),
                ("astrologer", "<b>from the page</b>")
            );

            // ---- Tandem's camera off: the page sees black, still moving (not
            // our last picture frozen); on again: the picture is back.
            let lit = page
                .stats_until(Duration::from_secs(10), |s| {
                    s["video"]["user"]["luma"].as_f64().unwrap_or(-1.0) > 40.0
                })
                .await
                .unwrap();
            call.set_camera(false).await.unwrap();
            let dark = page
                .stats_until(Duration::from_secs(10), |s| {
                    let l = s["video"]["user"]["luma"].as_f64().unwrap_or(-1.0);
                    (0.0..25.0).contains(&l)
                })
                .await
                .unwrap();
            page.stats_until(Duration::from_secs(10), |s| {
                count(&s["video"]["user"]["frames"]) > count(&dark["video"]["user"]["frames"]) + 2
            })
            .await
            .unwrap();
            assert!(
                count(&dark["video"]["user"]["frames"]) > count(&lit["video"]["user"]["frames"]),
                "{dark}"
            );
            call.set_camera(true).await.unwrap();
            page.stats_until(Duration::from_secs(10), |s| {
                s["video"]["user"]["luma"].as_f64().unwrap_or(-1.0) > 40.0
            })
            .await
            .unwrap();

            // ---- the coach's page closes and opens again: the call carries on.
            page.disconnect().await.unwrap();
            next_matching(&mut events, "the coach leaving", |e| {
            matches!(e, CallEvent::ParticipantLeft { identity } if identity == "astrologer")
        })
        .await;
            assert!(
                call.video("astrologer").is_none(),
                "the coach's picture stays after they left"
            );
            let mut page = Peer::seed_page("page-again", &url, &url, &coach_link)
                .await
                .unwrap();
            next_matching(&mut events, "the coach back", |e| {
            matches!(e, CallEvent::ParticipantJoined { identity, .. } if identity == "astrologer")
        })
        .await;
            received_until(
                &call,
                "astrologer",
                "the page's picture after it came back",
                |r| r.video_frames > 30 && r.audio_frames > 100,
            )
            .await;
            page.stats_until(Duration::from_secs(30), |s| {
                count(&s["video"]["user"]["frames"]) > 30
            })
            .await
            .unwrap();

            // ---- this time Tandem offered, with its files channel: the
            // page's browser took the offer (media flows, above) and opens
            // the channel by itself, but never says it takes files (the
            // seed has none), so files are refused with the reason.
            let plan =
                std::env::temp_dir().join(format!("tandem-p2p-plan-{}.txt", std::process::id()));
            std::fs::write(&plan, b"Squats: 3 x 10").unwrap();
            let refused = call.send_file(&plan).await.unwrap_err().to_string();
            assert!(refused.contains("Tandem"), "{refused}");
            let _ = std::fs::remove_file(&plan);

            // ---- ending the session ends it on the platform too.
            call.end_session().unwrap();
            next_matching(&mut events, "the end", |e| {
                matches!(
                    e,
                    CallEvent::State(CallState::Ended(EndReason::SessionEnded))
                )
            })
            .await;
            let v = reqwest::Client::new()
                .post(format!("{url}/api/sessions/validate"))
                .json(&json!({"token": b.link}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap();
            assert_ne!(v["status"], "scheduled", "{v}");
            page.disconnect().await.unwrap();

            // ---- a voice booking carries sound only; a chat booking, chat only.
            for (kind, word) in [(SessionType::Voice, "voice"), (SessionType::Chat, "chat")] {
                let b = book(&db, &format!("p2p-{word}"), word, 30).await.unwrap();
                let link = add_link(&db, &b.session, &b.coach, "astrologer", 3600)
                    .await
                    .unwrap();
                let mut page = Peer::seed_page(word, &url, &url, &link).await.unwrap();
                let (call, mut events) = start(&url, &b.link, kind);
                next_matching(&mut events, "our place in the room", |e| {
                    matches!(e, CallEvent::State(CallState::Connected))
                })
                .await;
                if kind == SessionType::Chat {
                    // Nobody offers in a chat booking, and the seed's server
                    // tells only the one already inside that someone came: the
                    // coach's first message is how Tandem learns they are here.
                    page.expect("participant_connected", json!({"identity": "user"}))
                        .await
                        .unwrap();
                    page.cmd(json!({"cmd": "send_chat", "text": "welcome"}))
                        .await
                        .unwrap();
                }
                next_matching(&mut events, "the coach in the room", |e| {
                matches!(e, CallEvent::ParticipantJoined { identity, .. } if identity == "astrologer")
            })
            .await;
                if kind == SessionType::Voice {
                    received_until(&call, "astrologer", "the coach's voice", |r| {
                        r.audio_frames > 100
                    })
                    .await;
                    let s = page
                        .stats_until(Duration::from_secs(30), |s| {
                            count(&s["audio"]["user"]["packets"]) > 100
                        })
                        .await
                        .unwrap();
                    assert_eq!(
                        count(&s["video"]["user"]["frames"]),
                        0,
                        "video in a voice booking: {s}"
                    );
                    assert!(call.video("astrologer").is_none());
                    assert_eq!(call.received()["astrologer"].video_frames, 0);
                } else {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let s = page.stats().await.unwrap();
                    assert_eq!(s["state"], "none", "a connection in a chat booking: {s}");
                    assert!(
                        call.received()
                            .get("astrologer")
                            .is_none_or(|r| r.audio_frames == 0)
                    );
                }
                call.send_chat(&format!("{word} booking")).unwrap();
                page.expect("chat", json!({"text": format!("{word} booking")}))
                    .await
                    .unwrap();
                call.leave().unwrap();
                next_matching(&mut events, "the end", |e| {
                    matches!(e, CallEvent::State(CallState::Ended(EndReason::Left)))
                })
                .await;
                page.disconnect().await.unwrap();
            }
        },
    );
}

/// The network under the media drops for 10 s (signalling, on loopback,
/// stays): Tandem says it is reconnecting, then a new connection carries
/// pictures and sound both ways again, and the call never ends.
#[test]
fn a_cut_in_the_media_path_heals() {
    tandem_testkit::media_test("a_cut_in_the_media_path_heals", |_ip| async move {
        let backend = platform("cut").await;
        let (url, db) = (backend.url(), backend.state.db.clone());
        let (b, _, mut page) = booked_with_page(&url, &db, "p2p-cut").await;
        let (call, mut events) = start(&url, &b.link, SessionType::Video);
        received_until(&call, "astrologer", "the page's picture", |r| {
            r.video_frames > 30
        })
        .await;

        // Media travels over the namespace's veth address; loopback (the
        // Socket.IO room) is spared.
        tandem_testkit::netns::blackhole_all_but_guest(true);
        next_matching(&mut events, "reconnecting", |e| {
            matches!(e, CallEvent::State(CallState::Reconnecting))
        })
        .await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let before = call.received()["astrologer"].video_frames;
        tandem_testkit::netns::blackhole_all_but_guest(false);
        next_matching(&mut events, "reconnected", |e| {
            matches!(e, CallEvent::State(CallState::Connected))
        })
        .await;
        received_until(&call, "astrologer", "pictures after the cut", |r| {
            r.video_frames > before + 60 && r.audio_frames > 0
        })
        .await;
        let frames = page.stats().await.unwrap()["video"]["user"]["frames"]
            .as_u64()
            .unwrap_or(0);
        page.stats_until(Duration::from_secs(30), |s| {
            s["video"]["user"]["frames"].as_u64().unwrap_or(0) > frames + 30
        })
        .await
        .unwrap();
        call.leave().unwrap();
        next_matching(&mut events, "the end", |e| {
            matches!(e, CallEvent::State(CallState::Ended(EndReason::Left)))
        })
        .await;
        page.disconnect().await.unwrap();
    });
}

/// Neither side may use the other's addresses (both relay only, as behind
/// NATs that let nothing else through): the seed page's Chromium and Tandem
/// each take a relay on coturn, the platform's TURN server, and pictures
/// and sound go both ways through it.
#[test]
fn tandem_and_the_seed_page_meet_through_a_turn_relay() {
    tandem_testkit::media_test(
        "tandem_and_the_seed_page_meet_through_a_turn_relay",
        |ip| async move {
            use tandem_testkit::turn::{CREDENTIAL, Coturn, USERNAME};
            let std::net::IpAddr::V4(v4) = ip else {
                panic!("the namespace's address is not IPv4: {ip}")
            };
            // On the namespace's own address: Chromium leaves loopback alone.
            let coturn = Coturn::start(v4);
            let backend = platform("turn").await;
            let (url, db) = (backend.url(), backend.state.db.clone());
            let b = book(&db, "p2p-turn", "video", 30).await.unwrap();
            let coach_link = add_link(&db, &b.session, &b.coach, "astrologer", 3600)
                .await
                .unwrap();
            let mut page = Peer::seed_page_with(
                "page",
                &url,
                &url,
                &coach_link,
                &[
                    "--turn",
                    &coturn.url,
                    "--turn-username",
                    USERNAME,
                    "--turn-credential",
                    CREDENTIAL,
                ],
            )
            .await
            .unwrap();
            let relay = P2p {
                turn: vec![tandem_call::p2p::turn::TurnServer {
                    address: coturn.address.clone(),
                    username: USERNAME.into(),
                    credential: CREDENTIAL.into(),
                }],
                relay_only: true,
                ..P2p::default()
            };
            let (call, mut events) = start_with(&url, &b.link, SessionType::Video, relay);
            received_until(
                &call,
                "astrologer",
                "the page's picture and sound through the relay",
                |r| r.video_frames > 30 && r.audio_frames > 100 && r.audio_dbfs > -60.0,
            )
            .await;
            page.stats_until(Duration::from_secs(30), |s| {
                count(&s["video"]["user"]["frames"]) > 30
                    && count(&s["audio"]["user"]["packets"]) > 100
            })
            .await
            .unwrap();
            call.leave().unwrap();
            next_matching(&mut events, "the end", |e| {
                matches!(e, CallEvent::State(CallState::Ended(EndReason::Left)))
            })
            .await;
            page.disconnect().await.unwrap();
        },
    );
}
