//! Seed 004's Socket.IO room server, driven by the official Socket.IO JS
//! client (`tests/peers/js/socketio_peer.mjs`) as the seed's web page uses
//! it: join, the joined/left notices, offer/answer/candidate and chat
//! relayed as sent, and what the seed leaves open (other rooms, a third
//! person, unknown rooms, malformed payloads) refused or dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use tandem_backend::dev::book;
use tandem_testkit::peer::Peer;

#[tokio::test]
async fn seed_004_signalling_with_the_official_socket_io_client() {
    let path = std::env::temp_dir().join(format!("tandem-signal-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let cfg = tandem_backend::Config::for_tests(
        &format!("sqlite://{}", path.display()),
        "ws://127.0.0.1:7880",
        "signal-tests-jwt-secret-01",
    );
    let run = tandem_backend::start(cfg).await.unwrap();
    let db = run.state.db.clone();
    // Booked sessions' rooms are their ids: one to call in, another, and an ended one.
    let room = book(&db, "room", "video", 30).await.unwrap().session;
    let other = book(&db, "other", "voice", 30).await.unwrap().session;
    let ended = book(&db, "ended", "video", 30).await.unwrap().session;
    sqlx::query("UPDATE sessions SET status = 'completed' WHERE id = $1")
        .bind(&ended)
        .execute(&db.pool)
        .await
        .unwrap();
    let url = run.url();
    let join = |room: &str, side: &str| json!({"cmd": "emit", "name": "join-room", "data": {"roomId": room, "participantType": side, "sessionType": "video"}});

    // The client joins first (the seed page's default transports); the
    // coach second, over WebSocket only: the client hears of it.
    let mut user = Peer::socketio("user", &url, None).await.unwrap();
    user.cmd(join(&room, "user")).await.unwrap();
    let mut astro = Peer::socketio("astrologer", &url, Some("websocket"))
        .await
        .unwrap();
    astro.cmd(join(&room, "astrologer")).await.unwrap();
    // Joins race only while the first is still being checked against the
    // database; whichever the server handles second is told of the other,
    // and only that one hears anything.
    let is_joined = |e: &Value| e["event"] == "socket" && e["name"] == "participant-joined";
    let (joined, quiet) = match user.wait(Duration::from_secs(3), is_joined).await {
        Ok(j) => (j, &astro),
        Err(_) => (
            astro.wait(Duration::from_secs(5), is_joined).await.unwrap(),
            &user,
        ),
    };
    let side = joined["data"]["participantType"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(side == "astrologer" || side == "user", "{joined}");
    let ts = joined["data"]["timestamp"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
        "an ISO timestamp: {ts}"
    );
    assert!(
        quiet.socket_events("participant-joined").is_empty(),
        "the one joining second hears of no one (as documented)"
    );

    // Offer, answer, candidates and chat arrive at the other side as sent.
    let offer = json!({"roomId": room, "offer": {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}});
    user.cmd(json!({"cmd": "emit", "name": "offer", "data": offer}))
        .await
        .unwrap();
    let answer = json!({"roomId": room, "answer": {"type": "answer", "sdp": "v=0\r\n"}});
    astro
        .cmd(json!({"cmd": "emit", "name": "answer", "data": answer}))
        .await
        .unwrap();
    let cand = json!({"roomId": room, "candidate": {"candidate": "candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}});
    astro
        .cmd(json!({"cmd": "emit", "name": "ice-candidate", "data": cand}))
        .await
        .unwrap();
    let chat = json!({"roomId": room, "senderId": "u-1", "senderType": "user", "message": "<b>hi</b> 👋", "timestamp": "2026-12-06T10:00:00"});
    user.cmd(json!({"cmd": "emit", "name": "message", "data": chat}))
        .await
        .unwrap();
    assert_eq!(astro.socket_event("offer").await.unwrap(), offer);
    assert_eq!(user.socket_event("answer").await.unwrap(), answer);
    assert_eq!(user.socket_event("ice-candidate").await.unwrap(), cand);
    assert_eq!(astro.socket_event("message").await.unwrap(), chat);
    assert!(
        user.socket_events("message").is_empty(),
        "chat goes to the others"
    );

    // Dropped: a relay naming another room, an offer that is not SDP, a
    // chat without text. A later good message proves they were not just slow.
    for bad in [
        json!({"cmd": "emit", "name": "offer", "data": {"roomId": other, "offer": {"type": "offer", "sdp": "v=0"}}}),
        json!({"cmd": "emit", "name": "offer", "data": {"roomId": room, "offer": "not sdp"}}),
        json!({"cmd": "emit", "name": "message", "data": {"roomId": room, "message": 5}}),
    ] {
        user.cmd(bad).await.unwrap();
    }
    let marker = json!({"roomId": room, "senderId": "u-1", "senderType": "user", "message": "after", "timestamp": "t"});
    user.cmd(json!({"cmd": "emit", "name": "message", "data": marker}))
        .await
        .unwrap();
    astro
        .wait(Duration::from_secs(10), |e| {
            e["name"] == "message" && e["data"]["message"] == "after"
        })
        .await
        .unwrap();
    assert_eq!(
        astro.socket_events("offer").len(),
        1,
        "only the good offer arrived"
    );
    assert_eq!(astro.socket_events("message").len(), 2);

    // A side the seed does not know is refused with a reason.
    let mut odd = Peer::socketio("odd", &url, Some("websocket"))
        .await
        .unwrap();
    odd.cmd(join(&room, "user_2")).await.unwrap();
    let e = odd
        .wait(Duration::from_secs(10), |e| e["name"] == "session-error")
        .await
        .unwrap();
    assert!(
        e["data"]["message"]
            .as_str()
            .unwrap()
            .contains("participantType")
    );
    // The same side again replaces the older connection (a network change).
    let mut third = Peer::socketio("third", &url, Some("websocket"))
        .await
        .unwrap();
    third.cmd(join(&room, "user")).await.unwrap();
    user.wait(Duration::from_secs(10), |e| {
        e["event"] == "socket" && e["name"] == "session-error"
    })
    .await
    .unwrap();
    user.wait(Duration::from_secs(10), |e| {
        e["event"] == "socket_disconnected"
    })
    .await
    .unwrap();
    let rejoined = astro
        .wait(Duration::from_secs(10), |e| {
            e["name"] == "participant-joined" && e["data"]["participantType"] == "user"
        })
        .await
        .unwrap();
    assert_eq!(rejoined["data"]["participantType"], "user");

    // Unknown and ended sessions are refused.
    for (r, why) in [("no-such-room", "no session"), (ended.as_str(), "ended")] {
        let mut p = Peer::socketio("stranger", &url, Some("websocket"))
            .await
            .unwrap();
        p.cmd(join(r, "user")).await.unwrap();
        let e = p
            .wait(Duration::from_secs(10), |e| e["name"] == "session-error")
            .await
            .unwrap();
        assert!(e["data"]["message"].as_str().unwrap().contains(why), "{e}");
    }

    // Leaving is announced to the one who stays.
    third.disconnect().await.unwrap();
    let left = astro
        .wait(Duration::from_secs(10), |e| e["name"] == "participant-left")
        .await
        .unwrap();
    assert_eq!(left["data"]["participantType"], "user");
    astro.disconnect().await.unwrap();
    run.stop().await;
}
