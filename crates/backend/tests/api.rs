//! Every endpoint and status code of the five seed APIs, on SQLite and (when
//! the test command started one) PostgreSQL. Tokens are checked with
//! livekit-api's own verifier.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{databases, fixture, fixture_with, livekit_claims};
use serde_json::json;

#[tokio::test]
async fn seed_000_token_for_session_participants_only() {
    for engine in databases() {
        let fx = fixture(engine).await;
        let sid = fx.sessions["coach-video"].clone();
        let path = format!("/api/livekit-token?sessionId={sid}");
        let (s, b) = fx.call("GET", &path, None, None).await;
        assert_eq!(
            (s, b["error"].as_str().is_some()),
            (401, true),
            "{engine}: {b}"
        );
        let (s, b) = fx
            .call("GET", "/api/livekit-token", Some("client"), None)
            .await;
        assert_eq!(s, 400, "{engine}: {b}");
        assert!(b["error"].as_str().unwrap().contains("sessionId"));
        let (s, _) = fx
            .call(
                "GET",
                "/api/livekit-token?sessionId=00000000-0000-0000-0000-000000000000",
                Some("client"),
                None,
            )
            .await;
        assert_eq!(s, 404, "{engine}");
        let (s, _) = fx
            .call(
                "GET",
                "/api/livekit-token?sessionId=../../etc",
                Some("client"),
                None,
            )
            .await;
        assert_eq!(s, 404, "{engine}");
        let (s, b) = fx.call("GET", &path, Some("outsider"), None).await;
        assert_eq!(s, 403, "{engine}: {b}");
        for who in ["client", "coach"] {
            let (s, b) = fx.call("GET", &path, Some(who), None).await;
            assert_eq!(s, 200, "{engine} {who}: {b}");
            assert_eq!(b["serverUrl"], "ws://127.0.0.1:7880");
            assert!(
                b["_debug"]["serverTimeUtc"]
                    .as_str()
                    .unwrap()
                    .ends_with('Z')
            );
            let c = livekit_claims(b["token"].as_str().unwrap());
            assert_eq!(c.video.room, sid, "room = sessionId");
            assert_eq!(c.sub, fx.id(who));
            assert_eq!(c.name, format!("{who} name"));
            let meta: serde_json::Value = serde_json::from_str(&c.metadata).unwrap();
            assert_eq!(meta["userId"], fx.id(who).as_str());
            let ttl = c.exp as i64 - chrono::Utc::now().timestamp();
            assert!((7100..=7200).contains(&ttl), "2 h TTL, got {ttl}");
            assert!(c.video.can_publish() && c.video.can_subscribe() && c.video.can_publish_data());
        }
        fx.stop().await;
    }
}

#[tokio::test]
async fn seed_001_rooms_and_grants_by_role() {
    for engine in databases() {
        let fx = fixture(engine).await;
        let p = "/functions/v1/livekit-token";
        let (s, _) = fx
            .call("POST", p, None, Some(json!({"roomType": "audition"})))
            .await;
        assert_eq!(s, 401);
        let (s, b) = fx.call("POST", p, Some("judge"), Some(json!({}))).await;
        assert_eq!(s, 400, "{b}");
        let (s, b) = fx
            .call(
                "POST",
                p,
                Some("judge"),
                Some(json!({"roomType": "backstage"})),
            )
            .await;
        assert_eq!(s, 400, "{b}");
        assert!(b["error"].as_str().unwrap().contains("audition"));
        let (s, _) = fx
            .call("POST", p, Some("judge"), Some(json!("not an object")))
            .await;
        assert_eq!(s, 400);
        for (who, room_type, room, publish) in [
            ("judge", "audition", "audition-room", true),
            ("contestant", "audition", "audition-room", true),
            ("client", "audition", "audition-room", false),
            ("judge", "main_show", "main-show", true),
            ("student", "main_show", "main-show", false),
        ] {
            let (s, b) = fx
                .call("POST", p, Some(who), Some(json!({"roomType": room_type})))
                .await;
            assert_eq!(s, 200, "{who}: {b}");
            assert_eq!(b["livekitUrl"], "ws://127.0.0.1:7880");
            let c = livekit_claims(b["token"].as_str().unwrap());
            assert_eq!(c.video.room, room);
            assert_eq!(c.video.can_publish(), publish, "{who} in {room_type}");
            assert!(c.video.can_subscribe());
            let ttl = c.exp as i64 - chrono::Utc::now().timestamp();
            assert!((3500..=3600).contains(&ttl), "1 h TTL, got {ttl}");
        }
        fx.stop().await;
        // 500 when LiveKit is not configured, as the seed lists.
        let fx = fixture_with(engine, |c| c.livekit_api_secret.clear()).await;
        let (s, b) = fx
            .call(
                "POST",
                p,
                Some("judge"),
                Some(json!({"roomType": "audition"})),
            )
            .await;
        assert_eq!(s, 500, "{b}");
        assert!(b["error"].as_str().unwrap().contains("LIVEKIT_API"));
        fx.stop().await;
    }
}

#[tokio::test]
async fn seed_002_access_matrix() {
    for engine in databases() {
        let fx = fixture(engine).await;
        // (mode, status) → trainer and student outcome; outsiders always 403.
        let cases = [
            ("online", "scheduled", 200),
            ("online", "in_progress", 200),
            ("online", "completed", 400),
            ("online", "cancelled", 400),
            ("offline", "scheduled", 400),
            ("offline", "in_progress", 200),
            ("offline", "completed", 400),
            ("offline", "cancelled", 400),
        ];
        for (mode, status, want) in cases {
            let sid = fx.sessions[&format!("{mode}-{status}")].clone();
            let path = format!("/api/v1/admin/sessions/{sid}/livekit-token");
            for who in [
                "trainer",
                "student",
                "outsider",
                "coach",
                "client",
                "judge",
                "contestant",
                "admin",
            ] {
                let (s, b) = fx.call("POST", &path, Some(who), None).await;
                let participant = matches!(who, "trainer" | "student");
                let expect = if participant { want } else { 403 };
                assert_eq!(s, expect, "{engine} {who} {mode}/{status}: {b}");
                assert_eq!(b["success"], (s == 200), "{b}");
                if s == 200 {
                    assert_eq!(b["message"], "LiveKit token generated successfully");
                    assert_eq!(b["data"]["roomName"], format!("session-{sid}"));
                    assert_eq!(b["data"]["url"], "ws://127.0.0.1:7880");
                    let c = livekit_claims(b["data"]["token"].as_str().unwrap());
                    assert_eq!(c.video.room, format!("session-{sid}"));
                    assert!(c.video.can_publish() && c.video.can_subscribe());
                    assert_eq!(
                        c.video.can_update_own_metadata(),
                        who == "trainer",
                        "only trainers update metadata"
                    );
                } else {
                    assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
                }
            }
        }
        let (s, b) = fx
            .call(
                "POST",
                "/api/v1/admin/sessions/nope/livekit-token",
                Some("trainer"),
                None,
            )
            .await;
        assert_eq!((s, &b["success"]), (404, &json!(false)));
        let sid = &fx.sessions["online-scheduled"];
        let (s, _) = fx
            .call(
                "POST",
                &format!("/api/v1/admin/sessions/{sid}/livekit-token"),
                None,
                None,
            )
            .await;
        assert_eq!(s, 401);
        fx.stop().await;
    }
}

#[tokio::test]
async fn seed_003_study_group_tokens() {
    for engine in databases() {
        let fx = fixture(engine).await;
        let p = "/api/livekit/token";
        let body = json!({"roomName": "study_group_123", "participantName": "John Doe"});
        for who in ["student", "coach", "admin"] {
            let (s, b) = fx.call("POST", p, Some(who), Some(body.clone())).await;
            assert_eq!(s, 200, "{who}: {b}");
            let d = &b["data"];
            assert_eq!(
                (d["roomName"].as_str(), d["participantName"].as_str()),
                (Some("study_group_123"), Some("John Doe"))
            );
            assert_eq!(d["identity"], fx.id(who).as_str());
            assert_eq!(d["serverUrl"], "ws://127.0.0.1:7880");
            let c = livekit_claims(d["token"].as_str().unwrap());
            assert_eq!(
                (c.video.room.as_str(), c.name.as_str()),
                ("study_group_123", "John Doe")
            );
            assert!(
                c.video.can_publish()
                    && c.video.can_publish_data()
                    && c.video.can_update_own_metadata()
            );
        }
        let (s, b) = fx
            .call("POST", p, Some("outsider"), Some(body.clone()))
            .await;
        assert_eq!((s, &b["success"]), (403, &json!(false)), "{b}");
        let (s, _) = fx
            .call(
                "POST",
                p,
                Some("student"),
                Some(json!({"roomName": "nope"})),
            )
            .await;
        assert_eq!(s, 404);
        let (s, b) = fx
            .call(
                "POST",
                p,
                Some("student"),
                Some(json!({"participantName": "x"})),
            )
            .await;
        assert_eq!(s, 400, "{b}");
        let (s, _) = fx
            .call(
                "POST",
                p,
                Some("student"),
                Some(json!({"roomName": "study_group_123", "participantName": "a\u{0}b"})),
            )
            .await;
        assert_eq!(s, 400);
        let (s, _) = fx.call("POST", p, None, Some(body)).await;
        assert_eq!(s, 401);
        // Room management needs a coach or admin, even for the status check.
        let (s, _) = fx
            .call("GET", "/api/livekit/status", Some("student"), None)
            .await;
        assert_eq!(s, 403);
        let (s, b) = fx
            .call("GET", "/api/livekit/status", Some("coach"), None)
            .await;
        assert_eq!(s, 200);
        assert_eq!(
            b["data"],
            json!({"configured": true, "serverUrl": "ws://127.0.0.1:7880", "hasApiKey": true, "hasApiSecret": true, "hasServerUrl": true})
        );
        fx.stop().await;
    }
}

#[tokio::test]
async fn seed_004_links_validate_join_end_and_tokens_by_session_type() {
    for engine in databases() {
        let fx = fixture(engine).await;
        let link = |k: &str| fx.links[k].clone();
        let (s, b) = fx
            .call(
                "POST",
                "/api/sessions/validate",
                None,
                Some(json!({"token": link("client-video")})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let sid = fx.sessions["coach-video"].clone();
        assert_eq!(b["valid"], true);
        assert_eq!(b["sessionId"], sid.as_str());
        assert_eq!(b["roomId"], sid.as_str());
        assert_eq!(b["sessionType"], "video");
        assert_eq!(b["participantType"], "user");
        assert_eq!(b["participantId"], fx.id("client").as_str());
        assert_eq!(b["otherParticipantName"], "coach name");
        assert_eq!(b["paidDurationMinutes"], 30);
        assert_eq!(b["status"], "scheduled");
        assert!(b["scheduledStartTime"].as_str().unwrap().len() == 19, "{b}");
        let (s, b) = fx
            .call(
                "POST",
                "/api/sessions/validate",
                None,
                Some(json!({"token": link("coach-video")})),
            )
            .await;
        assert_eq!(
            (s, b["participantType"].as_str()),
            (200, Some("astrologer"))
        );
        for (tok, want) in [
            (json!({"token": "nope"}), 404),
            (json!({"token": link("expired")}), 410),
            (json!({}), 400),
            (json!({"token": 5}), 400),
        ] {
            let (s, b) = fx
                .call("POST", "/api/sessions/validate", None, Some(tok))
                .await;
            assert_eq!(s, want, "{b}");
            assert_eq!(b["valid"], false);
        }

        // Tokens follow the booked session type.
        for (ty, publish, sources) in [
            ("chat", false, vec![]),
            ("voice", true, vec!["microphone"]),
            ("video", true, vec!["camera", "microphone"]),
        ] {
            let (s, b) = fx
                .call(
                    "POST",
                    "/api/sessions/livekit-token",
                    None,
                    Some(json!({"token": link(&format!("client-{ty}"))})),
                )
                .await;
            assert_eq!(s, 200, "{b}");
            assert_eq!(b["sessionType"], ty);
            let c = livekit_claims(b["token"].as_str().unwrap());
            assert_eq!(c.video.can_publish(), publish, "{ty}");
            assert_eq!(c.video.can_publish_sources, sources, "{ty}");
            assert!(c.video.can_publish_data(), "chat works in every type");
        }

        // Join: one side, then both → in progress; end → completed; again → 400.
        let join = |who: &str, pt: &str| json!({"sessionId": sid, "participantType": pt, "token": link(&format!("{who}-video"))});
        // The documented body, with the link as the bearer credential (how
        // Tandem sends it).
        let res = fx
            .http
            .post(fx.url("/api/sessions/join"))
            .bearer_auth(link("client-video"))
            .json(&json!({"sessionId": sid, "participantType": "user"}))
            .send()
            .await
            .unwrap();
        let b: serde_json::Value = res.json().await.unwrap();
        assert_eq!(b["bothJoined"], json!(false), "{b}");
        let (s, b) = fx
            .call(
                "POST",
                "/api/sessions/join",
                None,
                Some(join("coach", "user")),
            )
            .await;
        assert_eq!(s, 403, "claimed the wrong side: {b}");
        let (s, b) = fx
            .call(
                "POST",
                "/api/sessions/join",
                Some("coach"),
                Some(json!({"sessionId": sid, "participantType": "astrologer"})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            (
                b["bothJoined"].as_bool(),
                b["sessionActive"].as_bool(),
                b["message"].as_str()
            ),
            (Some(true), Some(true), Some("Session started"))
        );
        let (s, _) = fx
            .call(
                "POST",
                "/api/sessions/join",
                Some("outsider"),
                Some(json!({"sessionId": sid})),
            )
            .await;
        assert_eq!(s, 403);
        let (_, v) = fx
            .call(
                "POST",
                "/api/sessions/validate",
                None,
                Some(json!({"token": link("client-video")})),
            )
            .await;
        assert_eq!(v["status"], "in_progress");
        let (s, b) = fx
            .call(
                "POST",
                "/api/sessions/end",
                None,
                Some(
                    json!({"sessionId": sid, "reason": "completed", "token": link("client-video")}),
                ),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["success"], true);
        assert!(b["durationSeconds"].as_i64().unwrap() >= 0);
        assert_eq!(b["amountReleased"], "0.00");
        let (s, _) = fx
            .call(
                "POST",
                "/api/sessions/end",
                None,
                Some(
                    json!({"sessionId": sid, "reason": "completed", "token": link("client-video")}),
                ),
            )
            .await;
        assert_eq!(s, 400, "ending twice");
        let (s, _) = fx
            .call(
                "POST",
                "/api/sessions/livekit-token",
                None,
                Some(json!({"token": link("client-video")})),
            )
            .await;
        assert_eq!(s, 400, "no token for an ended session");
        let events: i64 = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM session_events WHERE session_id = $1",
        )
        .bind(&sid)
        .fetch_one(&fx.run.state.db.pool)
        .await
        .unwrap();
        assert_eq!(events, 3, "two joins and an end");
        fx.stop().await;
    }
}

#[tokio::test]
async fn login_issues_a_usable_jwt_and_refuses_wrong_passwords() {
    for engine in databases() {
        let fx = fixture(engine).await;
        let (s, b) = fx
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"email": "Coach@Test.Tandem", "password": "pw-for-tests"})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let jwt = b["access_token"].as_str().unwrap().to_owned();
        assert_eq!(b["user"]["role"], "coach");
        let res = fx
            .http
            .get(fx.url(&format!(
                "/api/livekit-token?sessionId={}",
                fx.sessions["coach-video"]
            )))
            .bearer_auth(&jwt)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let res = fx
            .http
            .get(fx.url("/api/sessions"))
            .bearer_auth(&jwt)
            .send()
            .await
            .unwrap();
        let list: serde_json::Value = res.json().await.unwrap();
        assert_eq!(list["sessions"].as_array().unwrap().len(), 3, "{list}");
        for body in [
            json!({"email": "coach@test.tandem", "password": "wrong"}),
            json!({"email": "nobody@x", "password": "pw-for-tests"}),
        ] {
            let (s, b) = fx.call("POST", "/api/auth/login", None, Some(body)).await;
            assert_eq!(s, 401, "{b}");
            assert_eq!(b["error"], "wrong email or password");
        }
        let (s, _) = fx
            .call("POST", "/api/auth/login", None, Some(json!({"email": "x"})))
            .await;
        assert_eq!(s, 400);
        // A token signed with another secret, or expired, is refused with its reason.
        let forged = tandem_backend::jwt::sign(
            "another-secret-entirely",
            &tandem_backend::jwt::UserClaims {
                sub: fx.id("coach"),
                exp: chrono::Utc::now().timestamp() + 600,
                aud: json!("authenticated"),
                iat: 0,
                email: None,
                role: None,
                session_id: None,
            },
        );
        let res = fx
            .http
            .get(fx.url("/api/sessions"))
            .bearer_auth(forged)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert!(res.text().await.unwrap().contains("signature"));
        fx.stop().await;
    }
}

#[tokio::test]
async fn rate_limits_cors_health_and_unknown_paths() {
    let fx = fixture_with("sqlite", |c| c.login_per_minute = 3).await;
    for _ in 0..3 {
        let (s, _) = fx
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"email": "a@b", "password": "c"})),
            )
            .await;
        assert_eq!(s, 401);
    }
    let res = fx
        .http
        .post(fx.url("/api/auth/login"))
        .json(&json!({"email": "a@b", "password": "c"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let (s, b) = fx.call("GET", "/healthz", None, None).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("ok")));
    let (s, b) = fx.call("GET", "/nope", None, None).await;
    assert_eq!(s, 404);
    assert!(b["error"].is_string());
    let res = fx
        .http
        .request(
            reqwest::Method::OPTIONS,
            fx.url("/functions/v1/livekit-token"),
        )
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let res = fx
        .http
        .get(fx.url("/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    fx.stop().await;
}

/// A bounded burst at the defaults (20 logins and 240 token requests a
/// minute per address), all at once: exactly the allowance gets through,
/// every other request is refused with 429 and Retry-After, another address
/// is unaffected, and the server keeps answering.
#[tokio::test]
async fn rate_limits_hold_under_a_concurrent_burst() {
    let defaults = tandem_backend::Config::for_tests("sqlite::memory:", "ws://x", "s");
    let (login_limit, token_limit) = (defaults.login_per_minute, defaults.token_per_minute);
    let fx = fixture_with("sqlite", |c| {
        c.login_per_minute = login_limit;
        c.token_per_minute = token_limit;
    })
    .await;
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let attacker = from([127, 0, 0, 1]);
    let burst = |n: usize, req: &dyn Fn() -> reqwest::RequestBuilder| {
        let calls: Vec<_> = (0..n).map(|_| req().send()).collect();
        async move {
            let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
            for r in futures_util::future::join_all(calls).await {
                let r = r.unwrap();
                let status = r.status().as_u16();
                if status == 429 {
                    let wait: u64 = r.headers()["retry-after"]
                        .to_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    assert!((1..=60).contains(&wait), "Retry-After {wait}");
                }
                *by_status.entry(status).or_default() += 1;
            }
            by_status
        }
    };
    let login = json!({"email": "coach@test.tandem", "password": "guess"});
    let got = burst(10 * login_limit as usize, &|| {
        attacker.post(fx.url("/api/auth/login")).json(&login)
    })
    .await;
    let expect = [(401, login_limit as usize), (429, 9 * login_limit as usize)];
    assert_eq!(got, expect.into_iter().collect(), "login burst");

    let jwt = fx.users["coach"].1.clone();
    let session = fx.sessions["coach-video"].clone();
    let got = burst(token_limit as usize + 200, &|| {
        attacker
            .get(fx.url(&format!("/api/livekit-token?sessionId={session}")))
            .bearer_auth(&jwt)
    })
    .await;
    let expect = [(200, token_limit as usize), (429, 200)];
    assert_eq!(got, expect.into_iter().collect(), "token burst");

    // Someone else, at another address, signs in and gets a token.
    let other = from([127, 0, 0, 2]);
    let res = other
        .post(fx.url("/api/auth/login"))
        .json(&json!({"email": "coach@test.tandem", "password": "pw-for-tests"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "another address is not limited");
    let res = other
        .get(fx.url(&format!("/api/livekit-token?sessionId={session}")))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (s, _) = fx.call("GET", "/healthz", None, None).await;
    assert_eq!(s, 200, "the server still answers");
    fx.stop().await;
}
