//! Room management (seed 003) through livekit-api's RoomClient and signed
//! webhooks, against a running tandem-devserver. Signaling only, on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{databases, fixture_with};
use futures_util::StreamExt as _;
use serde_json::json;

/// Joins a room over signaling only and returns the open connection.
async fn join(
    url: &str,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{url}/rtc?access_token={token}&protocol=16"))
            .await
            .expect("signal connection");
    let first = ws.next().await.unwrap().unwrap();
    assert!(!first.into_data().is_empty(), "join response");
    ws
}

#[tokio::test]
async fn room_management_and_webhooks_against_the_dev_server() {
    for engine in databases() {
        // The dev server posts webhooks to the backend, whose address is known only once
        // it listens; start the backend first with the dev server's future URL.
        let ds_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let fx = fixture_with(engine, |c| {
            c.livekit_url = format!("ws://127.0.0.1:{ds_port}")
        })
        .await;
        let mut dcfg = tandem_devserver::Config::for_tests("127.0.0.1".parse().unwrap());
        dcfg.port = ds_port;
        dcfg.empty_timeout = Duration::from_millis(500);
        dcfg.webhook_url = Some(fx.url("/api/livekit/webhook"));
        let ds = tandem_devserver::Server::start(dcfg).await.unwrap();

        // Seed 003 room management.
        let (s, b) = fx
            .call(
                "POST",
                "/api/livekit/rooms",
                Some("coach"),
                Some(
                    json!({"name": "study_group_123", "emptyTimeout": 600, "maxParticipants": 20}),
                ),
            )
            .await;
        assert_eq!(s, 200, "{engine}: {b}");
        assert_eq!(b["data"]["name"], "study_group_123");
        assert_eq!(b["data"]["maxParticipants"], 20);
        assert!(b["data"]["sid"].as_str().unwrap().starts_with("RM_"));
        let (s, b) = fx
            .call(
                "POST",
                "/api/livekit/rooms",
                Some("student"),
                Some(json!({"name": "x"})),
            )
            .await;
        assert_eq!((s, &b["success"]), (403, &json!(false)));
        let (_, tok) = fx
            .call(
                "POST",
                "/api/livekit/token",
                Some("student"),
                Some(json!({"roomName": "study_group_123", "participantName": "Stu"})),
            )
            .await;
        let _student = join(&ds.url(), tok["data"]["token"].as_str().unwrap()).await;
        let (s, b) = fx
            .call("GET", "/api/livekit/rooms", Some("admin"), None)
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["total"], 1);
        assert_eq!(b["data"]["rooms"][0]["numParticipants"], 1);
        let (s, b) = fx
            .call(
                "GET",
                "/api/livekit/rooms/study_group_123",
                Some("coach"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let p = &b["data"]["participants"][0];
        assert_eq!(
            (p["identity"].as_str(), p["name"].as_str()),
            (Some(fx.id("student").as_str()), Some("Stu"))
        );
        assert!(p["metadata"].as_str().unwrap().contains("student"));
        let (s, _) = fx
            .call(
                "GET",
                "/api/livekit/rooms/no_such_room",
                Some("coach"),
                None,
            )
            .await;
        assert_eq!(s, 404);
        let (s, b) = fx
            .call(
                "POST",
                "/api/livekit/rooms/study_group_123/remove-participant",
                Some("coach"),
                Some(json!({"participantIdentity": fx.id("student")})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["message"], "Participant removed from room");
        let (s, _) = fx
            .call(
                "POST",
                "/api/livekit/rooms/study_group_123/remove-participant",
                Some("coach"),
                Some(json!({"participantIdentity": "nobody"})),
            )
            .await;
        assert_eq!(s, 404);
        let (s, b) = fx
            .call(
                "DELETE",
                "/api/livekit/rooms/study_group_123",
                Some("coach"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["message"], "Room 'study_group_123' has been deleted");

        // Webhooks: the first join starts the session, the room finishing completes it.
        let sid = fx.sessions["coach-video"].clone();
        let (_, tok) = fx
            .call(
                "GET",
                &format!("/api/livekit-token?sessionId={sid}"),
                Some("client"),
                None,
            )
            .await;
        let client = join(&ds.url(), tok["token"].as_str().unwrap()).await;
        let status = |fx: &common::Fx| {
            let pool = fx.run.state.db.pool.clone();
            let sid = sid.clone();
            async move {
                sqlx::query_scalar::<_, String>("SELECT status FROM sessions WHERE id = $1")
                    .bind(&sid)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        let mut st = String::new();
        for _ in 0..50 {
            st = status(&fx).await;
            if st == "in_progress" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            st, "in_progress",
            "{engine}: participant_joined starts the session"
        );
        drop(client);
        for _ in 0..80 {
            st = status(&fx).await;
            if st == "completed" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(st, "completed", "{engine}: room_finished completes it");
        let kinds: Vec<String> = sqlx::query_scalar::<_, String>(
            "SELECT kind FROM session_events WHERE session_id = $1 ORDER BY at, kind",
        )
        .bind(&sid)
        .fetch_all(&fx.run.state.db.pool)
        .await
        .unwrap();
        for k in ["join", "leave", "end"] {
            assert!(
                kinds.iter().any(|x| x == k),
                "{engine}: no {k} event in {kinds:?}"
            );
        }
        let dur: Option<i64> =
            sqlx::query_scalar("SELECT duration_seconds FROM sessions WHERE id = $1")
                .bind(&sid)
                .fetch_one(&fx.run.state.db.pool)
                .await
                .unwrap();
        assert!(dur.is_some_and(|d| d >= 0));

        // A forged webhook is refused and changes nothing.
        let res = fx
            .http
            .post(fx.url("/api/livekit/webhook"))
            .header("authorization", "not-a-token")
            .body("{\"event\":\"room_finished\"}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        ds.stop().await;
        fx.stop().await;
    }
}
