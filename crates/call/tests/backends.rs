//! Each of the five profiles gets a token from a real tandem-backend, and
//! every backend failure class reaches the caller as its typed error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::routing::any;
use tandem_backend::auth::issue_user_jwt;
use tandem_backend::dev::{add_coach, add_link, add_session, add_study_group, add_user};
use tandem_backend::model::User;
use tandem_call::diagnose;
use tandem_call::platform::{Auth, BackendClient, BackendError, Profile, TokenRequest};

const SECRET: &str = "call-tests-jwt-secret-0123";

struct World {
    run: tandem_backend::Running,
    coach: String,
    client: String,
    outsider: String,
    judge: String,
    session: String,
    cancelled: String,
    link: String,
    expired: String,
}

async fn world(tweak: impl FnOnce(&mut tandem_backend::Config)) -> World {
    let path = std::env::temp_dir().join(format!(
        "tandem-call-{}-{}.db",
        std::process::id(),
        rand_tag()
    ));
    let mut cfg = tandem_backend::Config::for_tests(
        &format!("sqlite://{}", path.display()),
        "ws://127.0.0.1:7880",
        SECRET,
    );
    tweak(&mut cfg);
    let run = tandem_backend::start(cfg).await.unwrap();
    let db = run.state.db.clone();
    let jwt = |id: String, role: &str| {
        issue_user_jwt(
            SECRET,
            "authenticated",
            &User {
                id,
                email: String::new(),
                display_name: "x".into(),
                role: role.into(),
            },
        )
    };
    let coach_id = add_user(&db, "c@x", "Coach", "trainer", None)
        .await
        .unwrap();
    let client_id = add_user(&db, "k@x", "Client", "student", None)
        .await
        .unwrap();
    let outsider_id = add_user(&db, "o@x", "Other", "client", None).await.unwrap();
    let judge_id = add_user(&db, "j@x", "Judge", "judge", None).await.unwrap();
    let coach_row = add_coach(&db, &coach_id).await.unwrap();
    let session = add_session(
        &db,
        &coach_row,
        &client_id,
        0,
        30,
        "video",
        "online",
        "scheduled",
    )
    .await
    .unwrap();
    let cancelled = add_session(
        &db,
        &coach_row,
        &client_id,
        0,
        30,
        "video",
        "online",
        "cancelled",
    )
    .await
    .unwrap();
    let link = add_link(&db, &session, &client_id, "user", 3600)
        .await
        .unwrap();
    let expired = add_link(&db, &session, &client_id, "user", -5)
        .await
        .unwrap();
    add_study_group(&db, "Study", "study_group_1", &coach_id, &[&client_id])
        .await
        .unwrap();
    World {
        coach: jwt(coach_id, "trainer"),
        client: jwt(client_id, "student"),
        outsider: jwt(outsider_id, "client"),
        judge: jwt(judge_id, "judge"),
        run,
        session,
        cancelled,
        link,
        expired,
    }
}

fn rand_tag() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn client(w: &World, profile: Profile, auth: Auth) -> BackendClient {
    BackendClient::new(&w.run.url(), profile, auth)
        .unwrap()
        .with_limits(Duration::from_secs(3), 0)
}

fn req_session(s: &str) -> TokenRequest {
    TokenRequest {
        session: Some(s.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_profile_gets_a_token_from_tandem_backend() {
    let w = world(|_| {}).await;
    let check = |g: tandem_call::platform::TokenGrant, room: &str| {
        assert_eq!(g.server_url, "ws://127.0.0.1:7880");
        let c = diagnose::read_claims(&g.token).unwrap();
        assert_eq!(c.room, room);
        assert_eq!(c.iss, "devkey");
        let now = chrono::Utc::now().timestamp();
        assert!(
            g.server_time.is_some_and(|t| (t - now).abs() < 5),
            "Date header read"
        );
        assert!(
            diagnose::diagnose(&c, now, g.server_time)
                .problems
                .is_empty()
        );
    };
    let g = client(&w, Profile::Seed000, Auth::Bearer(w.client.clone()))
        .fetch_token(&req_session(&w.session))
        .await
        .unwrap();
    check(g, &w.session);
    let g = client(
        &w,
        Profile::Seed001,
        Auth::Supabase {
            jwt: w.judge.clone(),
            anon_key: "anon".into(),
        },
    )
    .fetch_token(&TokenRequest {
        room: Some("audition".into()),
        name: Some("Judge Judy".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    check(g.clone(), "audition-room");
    // 001 documents no name field: the platform names the participant.
    assert_eq!(diagnose::read_claims(&g.token).unwrap().name, "Judge");
    let g = client(&w, Profile::Seed002, Auth::Bearer(w.coach.clone()))
        .fetch_token(&req_session(&w.session))
        .await
        .unwrap();
    assert_eq!(
        g.room.as_deref(),
        Some(format!("session-{}", w.session).as_str())
    );
    check(g, &format!("session-{}", w.session));
    let g = client(&w, Profile::Seed004, Auth::None)
        .fetch_token(&TokenRequest {
            link: Some(w.link.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    check(g, &w.session);
    let g = client(&w, Profile::Seed003, Auth::Bearer(w.client.clone()))
        .fetch_token(&TokenRequest {
            room: Some("study_group_1".into()),
            name: Some("Stu".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(g.room.as_deref(), Some("study_group_1"));
    check(g, "study_group_1");
    // An unknown room is the backend's 404, classified.
    let e = client(&w, Profile::Seed003, Auth::Bearer(w.client.clone()))
        .fetch_token(&TokenRequest {
            room: Some("study_group_9".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BackendError::NotFound(m) if m.contains("study_group_9")),
        "{e}"
    );
    w.run.stop().await;
}

#[tokio::test]
async fn backend_refusals_are_typed_with_the_backends_message() {
    let w = world(|_| {}).await;
    let e = client(&w, Profile::Seed000, Auth::Bearer("not-a-jwt".into()))
        .fetch_token(&req_session(&w.session))
        .await
        .unwrap_err();
    assert!(matches!(e, BackendError::Unauthorized(_)), "{e}");
    let e = client(&w, Profile::Seed000, Auth::Bearer(w.outsider.clone()))
        .fetch_token(&req_session(&w.session))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BackendError::Forbidden(m) if m.contains("not a participant")),
        "{e}"
    );
    let e = client(&w, Profile::Seed000, Auth::Bearer(w.client.clone()))
        .fetch_token(&req_session("00000000-0000-0000-0000-000000000000"))
        .await
        .unwrap_err();
    assert!(matches!(e, BackendError::NotFound(_)), "{e}");
    let e = client(&w, Profile::Seed002, Auth::Bearer(w.client.clone()))
        .fetch_token(&req_session(&w.cancelled))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BackendError::BadRequest(m) if m.contains("cancelled")),
        "{e}"
    );
    let e = client(&w, Profile::Seed004, Auth::None)
        .fetch_token(&TokenRequest {
            link: Some(w.expired.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(e, BackendError::Gone(_)), "{e}");
    let e = client(&w, Profile::Seed001, Auth::Bearer(w.judge.clone()))
        .fetch_token(&TokenRequest {
            room: Some("backstage".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BackendError::BadRequest(m) if m.contains("audition")),
        "{e}"
    );
    w.run.stop().await;
    let w = world(|c| c.token_per_minute = 1).await;
    let c = client(&w, Profile::Seed000, Auth::Bearer(w.client.clone()));
    c.fetch_token(&req_session(&w.session)).await.unwrap();
    let e = c.fetch_token(&req_session(&w.session)).await.unwrap_err();
    assert!(matches!(e, BackendError::RateLimited(s) if s >= 1), "{e}");
    w.run.stop().await;
}

/// A stand-in backend that answers every request with `answer`.
/// A stand-in backend answering `answers` in order (then empty 200s), each after `delay`.
async fn fake_seq(
    answers: Vec<axum::response::Response<axum::body::Body>>,
    delay: Duration,
) -> String {
    let queue = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::from(
        answers,
    )));
    let app = axum::Router::new().fallback(any(move || {
        let queue = queue.clone();
        async move {
            tokio::time::sleep(delay).await;
            queue.lock().unwrap().pop_front().unwrap_or_default()
        }
    }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

async fn fake(answer: axum::response::Response<axum::body::Body>, delay: Duration) -> String {
    fake_seq(vec![answer], delay).await
}

fn resp(status: u16, ct: &str, body: &str) -> axum::response::Response<axum::body::Body> {
    axum::response::Response::builder()
        .status(status)
        .header("content-type", ct)
        .body(axum::body::Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn transport_and_shape_failures_are_typed() {
    let req = req_session("s1");
    let mk = |url: &str| {
        BackendClient::new(url, Profile::Seed000, Auth::Bearer("t".into()))
            .unwrap()
            .with_limits(Duration::from_millis(500), 0)
    };
    // Nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = mk(&format!("http://127.0.0.1:{port}"))
        .fetch_token(&req)
        .await
        .unwrap_err();
    assert!(matches!(e, BackendError::Unreachable { .. }), "{e}");
    assert!(e.to_string().contains("cannot be reached"));
    // Too slow.
    let url = fake(resp(200, "application/json", "{}"), Duration::from_secs(3)).await;
    let e = mk(&url).fetch_token(&req).await.unwrap_err();
    assert!(matches!(e, BackendError::Timeout(_)), "{e}");
    // An HTML page where JSON was expected.
    let url = fake(resp(200, "text/html", "<html>login</html>"), Duration::ZERO).await;
    let e = mk(&url).fetch_token(&req).await.unwrap_err();
    assert!(
        matches!(&e, BackendError::Malformed(m) if m.contains("web page")),
        "{e}"
    );
    // Empty body, broken JSON.
    for body in ["", "{\"token\": "] {
        let url = fake(resp(200, "application/json", body), Duration::ZERO).await;
        let e = mk(&url).fetch_token(&req).await.unwrap_err();
        assert!(matches!(e, BackendError::Malformed(_)), "{body:?}: {e}");
    }
    // Right JSON, wrong fields.
    let url = fake(
        resp(
            200,
            "application/json",
            r#"{"token": null, "serverUrl": "wss://x"}"#,
        ),
        Duration::ZERO,
    )
    .await;
    let e = mk(&url).fetch_token(&req).await.unwrap_err();
    assert!(matches!(e, BackendError::WrongShape(_)), "{e}");
    let url = fake(
        resp(
            200,
            "application/json",
            r#"{"token": "a.b.c", "serverUrl": "http://x"}"#,
        ),
        Duration::ZERO,
    )
    .await;
    let e = mk(&url).fetch_token(&req).await.unwrap_err();
    assert!(e.to_string().contains("ws://"), "{e}");
    // Server errors, with and without a message.
    let url = fake(
        resp(
            500,
            "application/json",
            r#"{"error": "LiveKit not configured"}"#,
        ),
        Duration::ZERO,
    )
    .await;
    let e = mk(&url).fetch_token(&req).await.unwrap_err();
    assert_eq!(
        e,
        BackendError::Server {
            status: 500,
            message: "LiveKit not configured".into()
        }
    );
    let url = fake(
        resp(503, "text/html", "<h1>Service Unavailable</h1>"),
        Duration::ZERO,
    )
    .await;
    let e = mk(&url).fetch_token(&req).await.unwrap_err();
    assert!(e.transient() && e.to_string().contains("503"), "{e}");
    // A transient failure is retried: the second answer succeeds.
    let good = r#"{"token": "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln", "serverUrl": "wss://ok"}"#;
    let url = fake_seq(
        vec![
            resp(502, "text/plain", "bad gateway"),
            resp(200, "application/json", good),
        ],
        Duration::ZERO,
    )
    .await;
    let g = BackendClient::new(&url, Profile::Seed000, Auth::None)
        .unwrap()
        .with_limits(Duration::from_secs(2), 1)
        .fetch_token(&req)
        .await
        .unwrap();
    assert_eq!(g.server_url, "wss://ok");
}

/// One request as a platform received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path_and_query: String,
    authorization: Option<String>,
    apikey: Option<String>,
    body: Option<serde_json::Value>,
}

/// A platform that records every request and answers by path.
async fn recorder(
    answer: fn(&str) -> (u16, String),
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Seen>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Seen>::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(any(
        move |method: axum::http::Method,
              uri: axum::http::Uri,
              headers: axum::http::HeaderMap,
              body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let h = |k: &str| {
                    headers
                        .get(k)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                log.lock().unwrap().push(Seen {
                    method: method.to_string(),
                    path_and_query: uri
                        .path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    authorization: h("authorization"),
                    apikey: h("apikey"),
                    body: (!body.is_empty())
                        .then(|| serde_json::from_slice(&body).expect("bodies are JSON")),
                });
                let (status, text) = answer(uri.path());
                resp(status, "application/json", &text)
            }
        },
    ));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, seen)
}

const LK_JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln";

/// Answers in each seed's documented shape.
fn documented_answer(path: &str) -> (u16, String) {
    let body = match path {
        "/api/livekit-token" | "/functions/v1/livekit-token" => {
            serde_json::json!({"token": LK_JWT, "serverUrl": "wss://x", "livekitUrl": "wss://x"})
        }
        "/api/livekit/token" => {
            serde_json::json!({"success": true, "data": {"token": LK_JWT, "serverUrl": "wss://x", "roomName": "r"}})
        }
        "/api/sessions/validate" => serde_json::json!({
            "valid": true, "sessionId": "s-9", "roomId": "room_s-9", "sessionType": "video",
            "participantType": "user", "participantId": "u", "otherParticipantName": "Asha",
            "paidDurationMinutes": 30, "status": "scheduled", "scheduledStartTime": "2026-12-06T10:00:00"
        }),
        "/api/sessions/join" => {
            serde_json::json!({"success": true, "sessionActive": true, "bothJoined": false, "message": "ok"})
        }
        "/api/sessions/end" => {
            serde_json::json!({"success": true, "durationSeconds": 60, "amountReleased": "1.00", "message": "Session ended"})
        }
        p if p.starts_with("/api/v1/admin/sessions/") => {
            serde_json::json!({"success": true, "message": "ok", "data": {"token": LK_JWT, "url": "wss://x", "roomName": "session-s"}})
        }
        _ => return (404, "<html>404</html>".into()),
    };
    (200, body.to_string())
}

/// Each profile sends what its seed documents and nothing else: method,
/// path, query, credentials and every body field.
#[tokio::test]
async fn each_profile_sends_exactly_the_documented_request() {
    use serde_json::json;
    let (url, seen) = recorder(documented_answer).await;
    let mk = |p: Profile, auth: Auth| {
        BackendClient::new(&url, p, auth)
            .unwrap()
            .with_limits(Duration::from_secs(3), 0)
    };
    let last = || seen.lock().unwrap().last().cloned().unwrap();
    // A user JWT whose subject is "user_15".
    let user_jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzE1In0.c2ln";
    let bearer = Some(format!("Bearer {user_jwt}"));

    // 000: GET /api/livekit-token?sessionId=<id>, Bearer, no body.
    mk(Profile::Seed000, Auth::Bearer(user_jwt.into()))
        .fetch_token(&req_session("s 1"))
        .await
        .unwrap();
    let r = last();
    assert_eq!(
        (r.method.as_str(), r.path_and_query.as_str()),
        ("GET", "/api/livekit-token?sessionId=s%201")
    );
    assert_eq!(
        (r.authorization.clone(), r.apikey, r.body),
        (bearer.clone(), None, None)
    );

    // 001: POST {roomType} only (no userName), Bearer and apikey.
    mk(
        Profile::Seed001,
        Auth::Supabase {
            jwt: user_jwt.into(),
            anon_key: "anon-key".into(),
        },
    )
    .fetch_token(&TokenRequest {
        room: Some("audition".into()),
        name: Some("Judge Judy".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let r = last();
    assert_eq!(
        (r.method.as_str(), r.path_and_query.as_str()),
        ("POST", "/functions/v1/livekit-token")
    );
    assert_eq!(r.body, Some(json!({"roomType": "audition"})));
    assert_eq!(
        (r.authorization, r.apikey.as_deref()),
        (bearer.clone(), Some("anon-key"))
    );

    // 002: POST /api/v1/admin/sessions/:id/livekit-token, no body.
    mk(Profile::Seed002, Auth::Bearer(user_jwt.into()))
        .fetch_token(&req_session("s-2"))
        .await
        .unwrap();
    let r = last();
    assert_eq!(
        (r.method.as_str(), r.path_and_query.as_str(), r.body),
        ("POST", "/api/v1/admin/sessions/s-2/livekit-token", None)
    );

    // 003: {roomName, participantName}: the name given, or else the
    // identity the credentials name.
    for (name, want) in [(Some("John Doe"), "John Doe"), (None, "user_15")] {
        mk(Profile::Seed003, Auth::Bearer(user_jwt.into()))
            .fetch_token(&TokenRequest {
                room: Some("study_group_123".into()),
                name: name.map(str::to_owned),
                ..Default::default()
            })
            .await
            .unwrap();
        let r = last();
        assert_eq!(
            (r.method.as_str(), r.path_and_query.as_str()),
            ("POST", "/api/livekit/token")
        );
        assert_eq!(
            r.body,
            Some(json!({"roomName": "study_group_123", "participantName": want}))
        );
    }

    // 004: validate {token}; join {sessionId, participantType}; end
    // {sessionId, reason}: the link never in join's or end's body.
    let c = mk(Profile::Seed004, Auth::None);
    let req = TokenRequest {
        link: Some("link-abc".into()),
        ..Default::default()
    };
    let info = c.session_info(&req).await.unwrap().unwrap();
    let r = last();
    assert_eq!(
        (r.path_and_query.as_str(), r.body),
        ("/api/sessions/validate", Some(json!({"token": "link-abc"})))
    );
    c.mark_joined(&req, &info).await.unwrap();
    let r = last();
    assert_eq!(
        (r.path_and_query.as_str(), r.body),
        (
            "/api/sessions/join",
            Some(json!({"sessionId": "s-9", "participantType": "user"}))
        )
    );
    assert_eq!(r.authorization.as_deref(), Some("Bearer link-abc"));
    assert_eq!(
        c.end_session(&req, &info, "completed").await.unwrap(),
        Some(60)
    );
    let r = last();
    assert_eq!(
        (r.path_and_query.as_str(), r.body),
        (
            "/api/sessions/end",
            Some(json!({"sessionId": "s-9", "reason": "completed"}))
        )
    );

    // The real seed-004 platform has no token endpoint: named, with the way forward.
    let e = c.fetch_token(&req).await.unwrap_err();
    assert!(
        matches!(&e, BackendError::NoEndpoint { endpoint, .. } if endpoint == "POST /api/sessions/livekit-token"),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains("no LiveKit token endpoint") && text.contains("peer to peer"),
        "{text}"
    );

    // So a call goes peer to peer by itself: through the validation's
    // room, at the call server (here a closed port, so it says so).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let socket_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let platform = c.with_p2p(tandem_call::platform::P2p {
        always: false,
        socket_url: Some(socket_url.clone()),
        ..Default::default()
    });
    let (_call, mut events) = tandem_call::session::start(tandem_call::session::CallConfig {
        mic_on: false,
        camera_on: false,
        ..tandem_call::session::CallConfig::new(
            tandem_call::session::TokenSource::Backend(Box::new(platform), req),
            tandem_call::session::SessionType::Video,
            tandem_call::session::MediaConfig::synthetic(440.0),
        )
    });
    let failed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(e) = events.recv().await {
            if let tandem_call::session::CallEvent::State(
                tandem_call::session::CallState::Failed(e),
            ) = e
            {
                return e.to_string();
            }
        }
        panic!("the call ended without failing")
    })
    .await
    .unwrap();
    assert!(
        failed.contains("call server") && failed.contains(&socket_url),
        "{failed}"
    );
}

/// Express's usual `authenticateToken` answers 403 "Invalid or expired
/// token": that is a sign-in to renew, not a refusal of access.
#[tokio::test]
async fn a_403_for_a_bad_credential_asks_to_sign_in_again() {
    let mk = |url: &str| {
        BackendClient::new(url, Profile::Seed003, Auth::Bearer("t".into()))
            .unwrap()
            .with_limits(Duration::from_secs(2), 0)
    };
    let req = TokenRequest {
        room: Some("r".into()),
        name: Some("n".into()),
        ..Default::default()
    };
    let url = fake(
        resp(
            403,
            "application/json",
            r#"{"error": "Invalid or expired token"}"#,
        ),
        Duration::ZERO,
    )
    .await;
    let e = mk(&url).fetch_token(&req).await.unwrap_err();
    assert!(matches!(e, BackendError::Unauthorized(_)), "{e}");
    assert!(e.to_string().contains("sign in again"), "{e}");
    let url = fake(
        resp(
            403,
            "application/json",
            r#"{"success": false, "message": "Not a member of this study group"}"#,
        ),
        Duration::ZERO,
    )
    .await;
    let e = mk(&url).fetch_token(&req).await.unwrap_err();
    assert!(matches!(e, BackendError::Forbidden(_)), "{e}");
}

/// Supabase sign-in against tandem-backend's GoTrue endpoints: password
/// grant, the session used for 001's token, refresh before expiry with the
/// rotated refresh token kept, wrong password, a used refresh token, and
/// sign-out revoking the session.
#[tokio::test]
async fn supabase_sign_in_refreshes_and_signs_out() {
    use tandem_call::supabase::{SignedIn, SupabaseProject, SupabaseSession};
    let w = world(|c| c.supabase_anon_key = "anon-public-key".into()).await;
    add_user(
        &w.run.state.db,
        "judge2@x",
        "Judge Two",
        "judge",
        Some("correct horse"),
    )
    .await
    .unwrap();
    let project = SupabaseProject::new(&w.run.url(), "anon-public-key").unwrap();

    let e = project.sign_in("judge2@x", "wrong").await.unwrap_err();
    assert!(
        matches!(&e, BackendError::SignInRefused(m) if m.contains("password is not right")),
        "{e}"
    );
    let e = SupabaseProject::new(&w.run.url(), "another-key")
        .unwrap()
        .sign_in("judge2@x", "correct horse")
        .await
        .unwrap_err();
    assert!(
        matches!(e, BackendError::Unauthorized(_)),
        "a wrong apikey: {e}"
    );

    let first = project.sign_in("judge2@x", "correct horse").await.unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((first.expires_at - now - 3600).abs() < 10);
    assert_eq!(first.email.as_deref(), Some("judge2@x"));

    let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::<SupabaseSession>::new()));
    let keep = kept.clone();
    let signed = SignedIn::new(
        project.clone(),
        first.clone(),
        Box::new(move |s| keep.lock().unwrap().push(s.clone())),
    );
    let c = BackendClient::new(
        &w.run.url(),
        Profile::Seed001,
        Auth::Session(signed.clone()),
    )
    .unwrap()
    .with_limits(Duration::from_secs(3), 0);
    let g = c
        .fetch_token(&TokenRequest {
            room: Some("audition".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(diagnose::read_claims(&g.token).unwrap().name, "Judge Two");
    assert!(
        kept.lock().unwrap().is_empty(),
        "a fresh token is not refreshed"
    );

    // Within the margin of expiry: refreshed, and the new refresh token kept.
    let token = signed.access_token_at(first.expires_at - 30).await.unwrap();
    let second = kept.lock().unwrap().last().cloned().expect("refreshed");
    assert_eq!(token, second.access_token);
    assert_ne!(second.refresh_token, first.refresh_token, "rotated");
    assert_eq!(second.email.as_deref(), Some("judge2@x"));
    // The old refresh token is spent; presenting it again ends that session.
    let e = project.refresh(&first.refresh_token).await.unwrap_err();
    assert!(matches!(e, BackendError::Unauthorized(_)), "{e}");
    let e = project.refresh(&second.refresh_token).await.unwrap_err();
    assert!(
        matches!(e, BackendError::Unauthorized(_)),
        "reuse revokes the family: {e}"
    );
    let e = project.refresh("never-issued").await.unwrap_err();
    assert!(matches!(e, BackendError::Unauthorized(_)), "{e}");
    assert!(e.to_string().contains("sign in again"), "{e}");

    // Sign-out revokes: the refresh token stops working.
    let third = project.sign_in("judge2@x", "correct horse").await.unwrap();
    let signed = SignedIn::new(project.clone(), third.clone(), Box::new(|_| {}));
    signed.sign_out().await.unwrap();
    let e = project.refresh(&third.refresh_token).await.unwrap_err();
    assert!(matches!(e, BackendError::Unauthorized(_)), "{e}");
    w.run.stop().await;
}
