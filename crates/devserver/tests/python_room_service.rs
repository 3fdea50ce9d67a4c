//! RoomService driven by LiveKit's Python server SDK against Python SDK
//! participants, webhooks checked with LiveKit's own verifier, and the
//! server-initiated leave / duplicate identity paths as the SDK sees them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use livekit_api::access_token::TokenVerifier;
use livekit_api::webhooks::WebhookReceiver;
use parking_lot::Mutex;
use serde_json::json;
use tandem_devserver::{Config, Server};
use tandem_testkit::peer::{Peer, room_api};
use tandem_testkit::token;

/// Collects webhook deliveries as (body, authorization header).
async fn webhook_sink(ip: std::net::IpAddr) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let got: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                sink.lock().push((body, auth));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[test]
fn room_service_webhooks_and_server_leave_with_python_sdks() {
    tandem_testkit::media_test(
        "room_service_webhooks_and_server_leave_with_python_sdks",
        |ip| async move {
            let (hook_url, hooks) = webhook_sink(ip).await;
            let mut cfg = Config::for_tests(ip);
            cfg.webhook_url = Some(hook_url);
            let server = Server::start(cfg).await.unwrap();
            let http = format!("http://{}", server.http_addr());
            let url = server.url();

            let room = room_api(&http, &["create", "coach-1"]).await.unwrap();
            assert_eq!(room["name"], "coach-1");
            assert!(room["sid"].as_str().unwrap().starts_with("RM_"));
            let rooms = room_api(&http, &["list"]).await.unwrap();
            assert_eq!(rooms["rooms"][0]["name"], "coach-1");

            let mut alice = Peer::python("alice", &url, &token::join("coach-1", "alice"))
                .await
                .unwrap();
            let mut bob = Peer::python("bob", &url, &token::join("coach-1", "bob"))
                .await
                .unwrap();
            alice.cmd(json!({"cmd": "publish_video", "color": [0, 0, 255], "width": 160, "height": 120, "fps": 10})).await.unwrap();
            alice
                .cmd(json!({"cmd": "publish_audio", "freq": 440}))
                .await
                .unwrap();
            bob.expect(
                "track_subscribed",
                json!({"identity": "alice", "kind": "audio"}),
            )
            .await
            .unwrap();

            let parts = room_api(&http, &["participants", "coach-1"]).await.unwrap();
            let mut ids: Vec<&str> = parts["participants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["identity"].as_str().unwrap())
                .collect();
            ids.sort_unstable();
            assert_eq!(ids, ["alice", "bob"]);

            // Muting alice's microphone from the server: the client mutes and bob sees it.
            let alice_info = parts["participants"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["identity"] == "alice")
                .unwrap()
                .clone();
            let audio_sid = alice_info["tracks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["type"] == "AUDIO")
                .expect("alice's audio track listed")["sid"]
                .as_str()
                .unwrap()
                .to_owned();
            let muted = room_api(&http, &["mute", "coach-1", "alice", &audio_sid, "1"])
                .await
                .unwrap();
            assert_eq!(muted["track"]["muted"], true);
            bob.expect("track_muted", json!({"identity": "alice", "kind": "audio"}))
                .await
                .unwrap();

            // Server-initiated leave: the SDK reconnects by itself and media flows again.
            assert!(server.server_leave("coach-1", "alice").await);
            alice.expect("reconnected", json!({})).await.unwrap();
            bob.expect("participant_disconnected", json!({"identity": "alice"}))
                .await
                .unwrap();
            // The rejoin: a participant_connected for alice after her disconnect.
            let left_at = bob
                .history
                .iter()
                .position(|e| e["event"] == "participant_disconnected" && e["identity"] == "alice")
                .unwrap();
            let mut rejoined = false;
            for _ in 0..100 {
                rejoined = bob.history[left_at..]
                    .iter()
                    .any(|e| e["event"] == "participant_connected" && e["identity"] == "alice");
                if rejoined {
                    break;
                }
                let _ = bob.wait(Duration::from_millis(200), |_| false).await;
            }
            assert!(rejoined, "alice never came back: {:?}", bob.history);
            bob.stats_until(Duration::from_secs(20), |s| {
                s["video"]["alice"]["frames"].as_u64().unwrap_or(0) > 5
                    && s["video"]["alice"]["color"]
                        .as_array()
                        .is_some_and(|c| c[2].as_i64().unwrap_or(0) > 200)
            })
            .await
            .unwrap();

            // A second connection as bob replaces the first; the first is told why.
            let mut bob2 = Peer::python("bob2", &url, &token::join("coach-1", "bob"))
                .await
                .unwrap();
            bob.expect("disconnected", json!({"reason": "DUPLICATE_IDENTITY"}))
                .await
                .unwrap();
            bob2.expect(
                "track_subscribed",
                json!({"identity": "alice", "kind": "video"}),
            )
            .await
            .unwrap();

            // Removing a participant: its SDK sees the disconnect, the others see it leave.
            room_api(&http, &["remove", "coach-1", "bob"])
                .await
                .unwrap();
            bob2.expect("disconnected", json!({"reason": "PARTICIPANT_REMOVED"}))
                .await
                .unwrap();
            alice
                .expect("participant_disconnected", json!({"identity": "bob"}))
                .await
                .unwrap();
            let missing = room_api(&http, &["remove", "coach-1", "bob"]).await;
            assert!(missing.is_err(), "removing someone absent is an error");

            room_api(&http, &["delete", "coach-1"]).await.unwrap();
            alice
                .expect("disconnected", json!({"reason": "ROOM_DELETED"}))
                .await
                .unwrap();
            let rooms = room_api(&http, &["list"]).await.unwrap();
            assert!(
                rooms
                    .get("rooms")
                    .is_none_or(|r| r.as_array().is_some_and(Vec::is_empty)),
                "{rooms}"
            );

            // Webhooks: every one verifies with LiveKit's receiver; the lifecycle is all there.
            let receiver = WebhookReceiver::new(TokenVerifier::with_api_key("devkey", "secret"));
            let mut seen = Vec::new();
            for _ in 0..50 {
                seen = hooks
                    .lock()
                    .iter()
                    .map(|(body, auth)| {
                        let ev = receiver.receive(body, auth).expect("webhook verifies");
                        let who = ev.participant.map(|p| p.identity).unwrap_or_default();
                        format!("{} {who}", ev.event).trim().to_owned()
                    })
                    .collect::<Vec<_>>();
                if seen.iter().any(|e| e == "room_finished") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            for want in [
                "room_started",
                "participant_joined alice",
                "participant_joined bob",
                "track_published alice",
                "participant_left bob",
                "track_unpublished alice",
                "room_finished",
            ] {
                assert!(seen.iter().any(|e| e == want), "no {want:?} in {seen:?}");
            }
            let (body, auth) = hooks.lock()[0].clone();
            assert!(
                receiver
                    .receive(&body.replace("coach-1", "coach-2"), &auth)
                    .is_err(),
                "tampered body rejected"
            );

            for p in [alice, bob, bob2] {
                p.disconnect().await.unwrap();
            }
            server.stop().await;
        },
    );
}
