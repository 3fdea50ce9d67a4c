//! Proves that failing to join gives typed errors that carry the server's
//! own reason: a refused port, a server answering 401, bad URLs and tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;
use tandem_lk::{ConnectError, Room, RoomOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// Shaped like a LiveKit token; never valid anywhere.
const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl";

fn options() -> RoomOptions {
    RoomOptions {
        connect_timeout: Duration::from_secs(5),
        join_retries: 0,
        ..Default::default()
    }
}

/// Joins `url` and returns the error, which must come within 30 s.
async fn connect_failure(url: &str) -> ConnectError {
    tokio::time::timeout(
        Duration::from_secs(30),
        Room::connect(url, TOKEN, options()),
    )
    .await
    .expect("connect did not fail in time")
    .unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_port_is_unreachable() {
    // Bind then drop to find a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let err = connect_failure(&url).await;
    assert!(matches!(err, ConnectError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
    eprintln!("refused: {err}");
}

/// Answers every HTTP request with 401 and a LiveKit-style reason.
async fn unauthorized_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let body = "invalid token: token is expired (exp)";
                let reply = format!(
                    "HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_is_unauthorized_with_the_servers_reason() {
    let port = unauthorized_server().await;
    let url = format!("ws://127.0.0.1:{port}");
    let err = connect_failure(&url).await;
    match &err {
        ConnectError::Unauthorized { status, reason } => {
            assert_eq!(*status, 401);
            assert!(reason.contains("token is expired"), "reason lost: {reason}");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_urls_and_tokens_are_rejected_before_connecting() {
    assert!(matches!(
        Room::connect("127.0.0.1:7880", TOKEN, options())
            .await
            .unwrap_err(),
        ConnectError::InvalidUrl { .. }
    ));
    assert!(matches!(
        Room::connect("ws://127.0.0.1:7880", "not-a-jwt", options())
            .await
            .unwrap_err(),
        ConnectError::InvalidToken
    ));
}
