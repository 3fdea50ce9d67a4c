//! Each of the five profiles gets a token from a real tandem-backend, and
//! every backend failure class reaches the caller as its typed error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::routing::any;
use tandem_backend::auth::issue_user_jwt;
use tandem_backend::dev::{add_coach, add_link, add_session, add_study_group, add_user};
use tandem_backend::model::User;
use tandem_call::backend::{Auth, BackendClient, BackendError, Profile, TokenRequest};
use tandem_call::diagnose;

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
    let check = |g: tandem_call::backend::TokenGrant, room: &str| {
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
    assert_eq!(diagnose::read_claims(&g.token).unwrap().name, "Judge Judy");
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
