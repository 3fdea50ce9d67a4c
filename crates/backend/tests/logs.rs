//! Nothing secret reaches the logs: not passwords, user JWTs, LiveKit tokens,
//! nor the configured secrets, even at trace level and on failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::fixture;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_never_hold_tokens_passwords_or_secrets() {
    let buf = Buf::default();
    let sink = buf.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .init();
    let fx = fixture("sqlite").await;
    let mut secrets: Vec<String> = vec![
        "pw-for-tests".into(),
        common::JWT_SECRET.into(),
        "wrong-password-123".into(),
    ];
    secrets.extend(fx.users.values().map(|(_, jwt)| jwt.clone()));
    let mut grab = |v: &Value| {
        for t in [&v["token"], &v["data"]["token"], &v["access_token"]] {
            if let Some(s) = t.as_str() {
                secrets.push(s.to_owned());
            }
        }
    };
    let (_, b) = fx
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"email": "coach@test.tandem", "password": "pw-for-tests"})),
        )
        .await;
    grab(&b);
    fx.call(
        "POST",
        "/api/auth/login",
        None,
        Some(json!({"email": "coach@test.tandem", "password": "wrong-password-123"})),
    )
    .await;
    let (_, b) = fx
        .call(
            "GET",
            &format!(
                "/api/livekit-token?sessionId={}",
                fx.sessions["coach-video"]
            ),
            Some("coach"),
            None,
        )
        .await;
    grab(&b);
    let (_, b) = fx
        .call(
            "POST",
            "/functions/v1/livekit-token",
            Some("judge"),
            Some(json!({"roomType": "audition"})),
        )
        .await;
    grab(&b);
    let (_, b) = fx
        .call(
            "POST",
            "/api/livekit/token",
            Some("student"),
            Some(json!({"roomName": "study_group_123"})),
        )
        .await;
    grab(&b);
    let (_, b) = fx
        .call(
            "POST",
            "/api/sessions/livekit-token",
            None,
            Some(json!({"token": fx.links["client-video"]})),
        )
        .await;
    grab(&b);
    secrets.push(fx.links["client-video"].clone());
    // Failures log their reasons; the tokens that caused them must not appear.
    let res = fx
        .http
        .get(fx.url("/api/sessions"))
        .bearer_auth("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    secrets.push("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl".into());
    fx.http
        .post(fx.url("/api/livekit/webhook"))
        .header("authorization", "eyJforged.eyJx.sig")
        .body("{}")
        .send()
        .await
        .unwrap();
    fx.stop().await;

    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(logs.len() > 500, "logging was on: {logs}");
    assert!(logs.contains("signed in"), "the login was logged: {logs}");
    assert!(secrets.len() >= 12);
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "a secret reached the log: {}…",
            &s[..s.len().min(12)]
        );
    }
    assert!(
        !logs.contains("eyJ"),
        "something JWT-shaped reached the log"
    );
}
