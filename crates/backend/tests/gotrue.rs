//! Supabase Auth's (GoTrue's) sign-in endpoints of tandem-backend, on
//! SQLite and (when the test command started one) PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{databases, fixture};
use serde_json::json;

/// Supabase Auth's sign-in, as its clients speak it: the password grant
/// answers a session, a refresh token works once and is replaced, signing
/// out revokes the session, and every refusal has GoTrue's error shape.
#[tokio::test]
async fn gotrue_password_refresh_and_logout() {
    for engine in databases() {
        let fx = fixture(engine).await;
        let post =
            |path: &str, key: Option<&str>, bearer: Option<&str>, body: serde_json::Value| {
                let mut rb = fx.http.post(fx.url(path)).json(&body);
                if let Some(k) = key {
                    rb = rb.header("apikey", k);
                }
                if let Some(b) = bearer {
                    rb = rb.bearer_auth(b);
                }
                async move {
                    let res = rb.send().await.unwrap();
                    let status = res.status().as_u16();
                    let text = res.text().await.unwrap();
                    (
                        status,
                        serde_json::from_str::<serde_json::Value>(&text).unwrap_or_default(),
                    )
                }
            };
        let creds = json!({"email": "coach@test.tandem", "password": "pw-for-tests"});
        let (s, b) = post(
            "/auth/v1/token?grant_type=password",
            None,
            None,
            creds.clone(),
        )
        .await;
        assert_eq!(
            (s, b["msg"].as_str()),
            (401, Some("No API key found in request"))
        );
        let (s, b) = post(
            "/auth/v1/token?grant_type=password",
            Some("anon"),
            None,
            json!({"email": "coach@test.tandem", "password": "nope"}),
        )
        .await;
        assert_eq!(
            (s, b["error_code"].as_str()),
            (400, Some("invalid_credentials")),
            "{b}"
        );
        let (s, b) = post(
            "/auth/v1/token?grant_type=magic",
            Some("anon"),
            None,
            creds.clone(),
        )
        .await;
        assert_eq!(s, 400, "{b}");

        let (s, first) = post(
            "/auth/v1/token?grant_type=password",
            Some("anon"),
            None,
            creds.clone(),
        )
        .await;
        assert_eq!(s, 200, "{first}");
        assert_eq!(first["token_type"], "bearer");
        assert_eq!(first["expires_in"], 3600);
        assert_eq!(first["user"]["email"], "coach@test.tandem");
        let access = first["access_token"].as_str().unwrap();
        let refresh = first["refresh_token"].as_str().unwrap();
        assert!(first["expires_at"].as_i64().unwrap() > chrono::Utc::now().timestamp());
        // The access token is a user JWT the platform's endpoints accept.
        let res = fx
            .http
            .get(fx.url("/api/sessions"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);

        let grant = |t: &str| json!({"refresh_token": t});
        let (s, second) = post(
            "/auth/v1/token?grant_type=refresh_token",
            Some("anon"),
            None,
            grant(refresh),
        )
        .await;
        assert_eq!(s, 200, "{second}");
        let refresh2 = second["refresh_token"].as_str().unwrap();
        assert_ne!(refresh2, refresh);
        let (s, b) = post(
            "/auth/v1/token?grant_type=refresh_token",
            Some("anon"),
            None,
            grant(refresh),
        )
        .await;
        assert_eq!(
            (s, b["error_code"].as_str()),
            (400, Some("refresh_token_already_used"))
        );
        // Reuse ended the whole session: its newest token is revoked too.
        let (s, _) = post(
            "/auth/v1/token?grant_type=refresh_token",
            Some("anon"),
            None,
            grant(refresh2),
        )
        .await;
        assert_eq!(s, 400);
        let (s, b) = post(
            "/auth/v1/token?grant_type=refresh_token",
            Some("anon"),
            None,
            grant("zzz"),
        )
        .await;
        assert_eq!(
            (s, b["error_code"].as_str()),
            (400, Some("refresh_token_not_found"))
        );

        // Sign-out revokes the session's refresh tokens.
        let (_, third) = post(
            "/auth/v1/token?grant_type=password",
            Some("anon"),
            None,
            creds,
        )
        .await;
        let (s, _) = post(
            "/auth/v1/logout",
            Some("anon"),
            Some(third["access_token"].as_str().unwrap()),
            json!({}),
        )
        .await;
        assert_eq!(s, 204);
        let (s, _) = post(
            "/auth/v1/token?grant_type=refresh_token",
            Some("anon"),
            None,
            grant(third["refresh_token"].as_str().unwrap()),
        )
        .await;
        assert_eq!(s, 400);
        let (s, b) = post(
            "/auth/v1/logout",
            Some("anon"),
            Some("not-a-jwt"),
            json!({}),
        )
        .await;
        assert_eq!((s, b["error_code"].as_str()), (401, Some("bad_jwt")));
        fx.stop().await;
    }
}
