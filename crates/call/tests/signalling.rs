//! Seed 004's signalling from Tandem's side: our Socket.IO client joins a
//! room on tandem-backend's room server with the official socket.io-client
//! (as the seed's page uses it) on the other side, and every event goes
//! both ways in the seed's shapes. Servers that are not Socket.IO 4, that
//! close, or that cannot be reached each get their own error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use tandem_backend::dev::book;
use tandem_call::p2p::signal::{Candidate, Side, Signal, SignalClient};
use tandem_call::p2p::socketio::{self, SocketIoError};
use tandem_testkit::peer::Peer;

async fn next(rx: &mut tokio::sync::mpsc::Receiver<Signal>) -> Signal {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a signal within 10 s")
        .expect("the signal stream is open")
}

#[tokio::test]
async fn tandem_and_the_seed_page_signal_through_the_room_server() {
    let path = std::env::temp_dir().join(format!("tandem-signalling-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let run = tandem_backend::start(tandem_backend::Config::for_tests(
        &format!("sqlite://{}", path.display()),
        "ws://127.0.0.1:7880",
        "signalling-tests-secret-0123",
    ))
    .await
    .unwrap();
    // A booked session's room (its id).
    let room = book(&run.state.db, "signalling", "video", 30)
        .await
        .unwrap()
        .session;
    let url = run.url();

    // The page (the coach) is in the room first; Tandem (the client) joins.
    let mut page = Peer::socketio("page", &url, None).await.unwrap();
    page.cmd(json!({"cmd": "emit", "name": "join-room", "data": {"roomId": room, "participantType": "astrologer", "sessionType": "video"}}))
        .await
        .unwrap();
    let (tandem, mut rx) = SignalClient::join(&url, &room, Side::User, "video")
        .await
        .unwrap();
    // The two joins race on the server (each checks the session first):
    // whichever it handles second is told of the other.
    let page_heard = page
        .wait(Duration::from_secs(3), |e| {
            e["event"] == "socket" && e["name"] == "participant-joined"
        })
        .await;
    match page_heard {
        Ok(joined) => assert_eq!(joined["data"]["participantType"], "user"),
        Err(_) => assert_eq!(next(&mut rx).await, Signal::PeerJoined(Side::Astrologer)),
    }

    // The page offers (it was inside); Tandem answers; candidates both ways.
    let sdp = "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
    page.cmd(json!({"cmd": "emit", "name": "offer", "data": {"roomId": room, "offer": {"type": "offer", "sdp": sdp}}}))
        .await
        .unwrap();
    match next(&mut rx).await {
        Signal::Offer(d) => assert_eq!((d.kind.as_str(), d.sdp.as_str()), ("offer", sdp)),
        other => panic!("expected the offer, got {other:?}"),
    }
    assert!(tandem.answer("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"));
    assert_eq!(
        page.socket_event("answer").await.unwrap(),
        json!({"roomId": room, "answer": {"type": "answer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}})
    );
    let cand = Candidate {
        candidate: "candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
    };
    assert!(tandem.candidate(&cand));
    assert_eq!(
        page.socket_event("ice-candidate").await.unwrap(),
        json!({"roomId": room, "candidate": {"candidate": cand.candidate, "sdpMid": "0", "sdpMLineIndex": 0}})
    );
    page.cmd(json!({"cmd": "emit", "name": "ice-candidate", "data": {"roomId": room, "candidate": {"candidate": "candidate:2 1 udp 1 10.0.0.3 50001 typ host", "sdpMid": "0", "sdpMLineIndex": 0}}}))
        .await
        .unwrap();
    assert!(
        matches!(next(&mut rx).await, Signal::Candidate(c) if c.candidate.contains("10.0.0.3"))
    );

    // Chat both ways, with sender and timestamp.
    assert!(tandem.chat("client-1", "hello <coach>", "2026-12-06T10:00:00.000Z"));
    assert_eq!(
        page.socket_event("message").await.unwrap(),
        json!({"roomId": room, "senderId": "client-1", "senderType": "user", "message": "hello <coach>", "timestamp": "2026-12-06T10:00:00.000Z"})
    );
    page.cmd(json!({"cmd": "emit", "name": "message", "data": {"roomId": room, "senderId": "coach-1", "senderType": "astrologer", "message": "welcome", "timestamp": "2026-12-06T10:00:01.000Z"}}))
        .await
        .unwrap();
    match next(&mut rx).await {
        Signal::Chat(m) => assert_eq!(
            (
                m.sender_type.as_str(),
                m.message.as_str(),
                m.timestamp.as_str()
            ),
            ("astrologer", "welcome", "2026-12-06T10:00:01.000Z")
        ),
        other => panic!("expected chat, got {other:?}"),
    }

    // The page leaves and comes back: Tandem hears both.
    page.disconnect().await.unwrap();
    assert_eq!(next(&mut rx).await, Signal::PeerLeft(Side::Astrologer));
    let mut page = Peer::socketio("page", &url, Some("websocket"))
        .await
        .unwrap();
    page.cmd(json!({"cmd": "emit", "name": "join-room", "data": {"roomId": room, "participantType": "astrologer", "sessionType": "video"}}))
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await, Signal::PeerJoined(Side::Astrologer));

    // Leaving on our side closes the connection: the page hears it.
    let mut page2 = page;
    drop(tandem);
    let left = page2.socket_event("participant-left").await.unwrap();
    assert_eq!(left["participantType"], "user");
    assert!(
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .is_none(),
        "our own close ends the stream quietly"
    );
    page2.disconnect().await.unwrap();
    run.stop().await;

    // A room the server does not know is refused with its reason.
    let run = tandem_backend::start(tandem_backend::Config::for_tests(
        &format!("sqlite://{}", path.display()),
        "ws://127.0.0.1:7880",
        "signalling-tests-secret-0123",
    ))
    .await
    .unwrap();
    let (_c, mut rx) = SignalClient::join(&run.url(), "no-such-room", Side::User, "video")
        .await
        .unwrap();
    assert!(matches!(next(&mut rx).await, Signal::Refused(m) if m.contains("no session")));
    run.stop().await;
}

#[tokio::test]
async fn servers_that_are_not_socket_io_4_are_told_apart() {
    // An HTTP server without Socket.IO: its 404 page.
    let app = axum::Router::new();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    let e = socketio::connect(&format!("http://{addr}"), Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SocketIoError::WrongProtocol { detail, .. } if detail.contains("404")),
        "{e}"
    );
    assert!(e.to_string().contains("does not speak Socket.IO 4"), "{e}");

    // A WebSocket server speaking Engine.IO 3 (Socket.IO 2), and one that
    // says nothing, and one that refuses the namespace.
    for (first, want) in [
        (
            r#"0{"sid":"a","upgrades":[],"pingInterval":25000,"pingTimeout":5000}"#,
            "Engine.IO 3",
        ),
        ("hello", "first packet"),
        (
            r#"0{"sid":"a","upgrades":[],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}"#,
            "refused",
        ),
    ] {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let first = first.to_owned();
        tokio::spawn(async move {
            use futures_util::{SinkExt, StreamExt};
            let (tcp, _) = l.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            ws.send(tokio_tungstenite::tungstenite::Message::text(first))
                .await
                .unwrap();
            if let Some(Ok(m)) = ws.next().await
                && m.to_text().unwrap_or_default() == "40"
            {
                let _ = ws
                    .send(tokio_tungstenite::tungstenite::Message::text(
                        r#"44{"message":"not allowed"}"#,
                    ))
                    .await;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let e = socketio::connect(&format!("http://{addr}"), Duration::from_secs(3))
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(want)
                || (want == "refused"
                    && matches!(e, SocketIoError::Refused(ref m) if m == "not allowed")),
            "{want}: {text}"
        );
    }

    // A server that accepts, then goes away mid-call: the stream says so.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        use futures_util::{SinkExt, StreamExt};
        let (tcp, _) = l.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let text = tokio_tungstenite::tungstenite::Message::text;
        ws.send(text(r#"0{"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":300,"maxPayload":1000000}"#)).await.unwrap();
        let _ = ws.next().await; // 40
        ws.send(text(r#"40{"sid":"b"}"#)).await.unwrap();
        ws.send(text(
            r#"42["participant-joined",{"participantType":"astrologer","timestamp":"t"}]"#,
        ))
        .await
        .unwrap();
        ws.send(text("2")).await.unwrap();
        let pong = ws.next().await.unwrap().unwrap();
        assert_eq!(pong.to_text().unwrap(), "3", "pings are answered");
        // Then silence: no more pings.
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let (_sender, mut rx) = socketio::connect(&format!("http://{addr}"), Duration::from_secs(3))
        .await
        .unwrap();
    assert!(matches!(
        rx.recv().await.unwrap(),
        socketio::Incoming::Event { ref name, .. } if name == "participant-joined"
    ));
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(4), rx.recv())
            .await
            .unwrap()
            .unwrap(),
        socketio::Incoming::Closed(SocketIoError::Silent),
        "a server that stops pinging is gone"
    );

    // Nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = socketio::connect(&format!("http://127.0.0.1:{port}"), Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(matches!(e, SocketIoError::Unreachable { .. }), "{e}");
}
