//! Every way a platform's backend can fail the token request, in the real
//! app (under Xvfb, through tauri-driver): a loopback stand-in for a
//! profile-004 platform answers the join link's check, then the token
//! request with one failure after another — each status, bodies that are
//! not what was asked for, tokens that cannot work — and the test reads
//! what the person sees: the error screen's title, message and advice, or
//! the message under the join link. A dev server on loopback refuses the
//! token signed with another secret and shows the clock warnings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tandem_testkit::canned::{Canned, Reply};
use tandem_testkit::display::Xvfb;
use tandem_testkit::token;
use tandem_testkit::webdriver::{Driver, Session};

mod common;

const APP: &str = env!("CARGO_BIN_EXE_tandem");
const LINK: &str = "join-link-0123456789";
const ROOM: &str = "session-42";
const TOKEN_PATH: &str = "/api/sessions/livekit-token";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// A 004 token answer.
fn grant(token: &str, server_url: &str) -> Reply {
    Reply::json(
        200,
        &json!({"token": token, "serverUrl": server_url, "roomName": ROOM}),
    )
}

/// The backend's `Date` header with its clock `offset` seconds from ours.
fn http_date(offset: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset)).to_rfc2822()
}

#[test]
fn every_backend_failure_gets_its_own_message_in_the_app() {
    common::block_on(run());
}

async fn run() {
    let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(
        "127.0.0.1".parse().unwrap(),
    ))
    .await
    .unwrap();
    let dir = common::Scratch::new("bad-backends");
    let platform = Canned::start();
    platform.set(
        "/api/sessions/validate",
        Reply::json(
            200,
            &json!({
                "valid": true, "sessionId": ROOM, "sessionType": "chat",
                "participantType": "user", "otherParticipantName": "Casey Coach",
                "status": "scheduled"
            }),
        ),
    );
    let x = Xvfb::start(1200, 800);
    let env = common::app_env(&dir, &x.display);
    let driver = Driver::start(&common::pairs(&env)).unwrap();
    let s = driver.session(Path::new(APP)).await.unwrap();
    let result = drive(&s, &x, &platform, &ds.url()).await;
    let shots = tandem_testkit::workspace_root().join("target/app-e2e");
    let _ = std::fs::create_dir_all(&shots);
    if result.is_err() {
        x.screenshot(&shots.join("bad-backends-failure.png"));
    }
    let _ = s.close().await;
    drop(driver);
    ds.stop().await;
    result.unwrap();
}

/// What the person should see for one failure.
struct Expect {
    /// The error screen's `data-code`.
    code: &'static str,
    /// Phrases the message must hold.
    says: &'static [&'static str],
}

/// Pastes the join link on the connect screen and opens it.
async fn open_link(s: &Session, link: &str) -> anyhow::Result<()> {
    s.testid("screen-connect").await?;
    s.fill(&s.testid("join-link").await?, link).await?;
    let open = s
        .wait_for(
            "[data-testid=link-form] button[type=submit]",
            Duration::from_secs(10),
        )
        .await?;
    s.click(&open).await
}

/// Opens the link, joins from prejoin, and returns the error screen's
/// code, message and advice.
async fn join_and_fail(s: &Session, link: &str) -> anyhow::Result<(String, String, String)> {
    open_link(s, link).await?;
    s.testid("screen-prejoin").await?;
    s.fill(&s.testid("display-name").await?, "Sam Client")
        .await?;
    s.click(&s.testid("join").await?).await?;
    let screen = s
        .wait_for("[data-testid=screen-error]", Duration::from_secs(60))
        .await?;
    let code = s.attribute(&screen, "data-code").await?.unwrap_or_default();
    let message = s.text(&s.testid("error-message").await?).await?;
    let next = s.text(&s.testid("error-next").await?).await?;
    s.click(&s.testid("error-back").await?).await?;
    Ok((code, message, next))
}

fn no_developer_text(case: &str, text: &str) -> anyhow::Result<()> {
    for bad in [
        "reqwest",
        "serde",
        "Error {",
        "error sending request",
        "hyper",
        "{\"",
    ] {
        anyhow::ensure!(
            !text.contains(bad),
            "{case}: developer text {bad:?} reaches the person: {text:?}"
        );
    }
    Ok(())
}

async fn drive(s: &Session, x: &Xvfb, platform: &Canned, ds_url: &str) -> anyhow::Result<()> {
    let link = platform.url(&format!("/join/{LINK}"));
    let fresh = token::join(ROOM, "sam");
    let e = |status: u16, body: serde_json::Value| Reply::json(status, &body);
    let cases: Vec<(&str, Reply, Expect)> = vec![
        (
            "400",
            e(400, json!({"error": "roomName is required"})),
            Expect {
                code: "invalid_input",
                says: &["roomName is required"],
            },
        ),
        (
            "401",
            e(401, json!({"error": "Invalid or expired token"})),
            Expect {
                code: "sign_in_required",
                says: &["did not accept your sign-in", "Invalid or expired token"],
            },
        ),
        (
            "403",
            e(403, json!({"error": "Not a participant of this session"})),
            Expect {
                code: "forbidden",
                says: &["Not a participant of this session"],
            },
        ),
        (
            "404",
            e(404, json!({"error": "Session not found"})),
            Expect {
                code: "not_found",
                says: &["Session not found"],
            },
        ),
        (
            "429",
            e(429, json!({"error": "Too many requests"})).header("retry-after", "17"),
            Expect {
                code: "rate_limited",
                says: &["try again in 17 s"],
            },
        ),
        (
            "500",
            e(500, json!({"error": "LiveKit not configured"})),
            Expect {
                code: "backend_failed",
                says: &["HTTP 500", "LiveKit not configured"],
            },
        ),
        (
            "502",
            Reply::html(502),
            Expect {
                code: "backend_failed",
                says: &["HTTP 502"],
            },
        ),
        (
            "503",
            Reply::html(503),
            Expect {
                code: "backend_failed",
                says: &["HTTP 503"],
            },
        ),
        (
            "an empty body",
            Reply::new(200, "application/json", ""),
            Expect {
                code: "backend_failed",
                says: &["not JSON"],
            },
        ),
        (
            "an HTML error page",
            Reply::html(200),
            Expect {
                code: "backend_failed",
                says: &["web page"],
            },
        ),
        (
            "malformed JSON",
            Reply::new(200, "application/json", r#"{"token": "a.b"#),
            Expect {
                code: "backend_failed",
                says: &["not JSON"],
            },
        ),
        (
            "an answer larger than 1 MB",
            Reply::new(200, "application/json", vec![b' '; 2 << 20]),
            Expect {
                code: "backend_failed",
                says: &["larger than 1 MB"],
            },
        ),
        (
            "no token",
            e(200, json!({"serverUrl": ds_url, "roomName": ROOM})),
            Expect {
                code: "backend_failed",
                says: &["no `token`"],
            },
        ),
        (
            "a token of the wrong type",
            e(
                200,
                json!({"token": 12345, "serverUrl": ds_url, "roomName": ROOM}),
            ),
            Expect {
                code: "backend_failed",
                says: &["`token` is a number instead of a string"],
            },
        ),
        (
            "a token that is not a JWT",
            e(
                200,
                json!({"token": "opensesame", "serverUrl": ds_url, "roomName": ROOM}),
            ),
            Expect {
                code: "backend_failed",
                says: &["not a LiveKit token"],
            },
        ),
        (
            "a server URL that is not ws(s)",
            grant(&fresh, "https://livekit.example.com"),
            Expect {
                code: "backend_failed",
                says: &["ws://"],
            },
        ),
        (
            "an expired token",
            grant(
                &token::unsigned(
                    &json!({"exp": now() - 3600, "sub": "sam", "video": {"room": ROOM, "roomJoin": true}}),
                ),
                ds_url,
            ),
            Expect {
                code: "token_rejected",
                says: &["expired", "s ago"],
            },
        ),
        (
            "a token for another room",
            grant(&token::join("someone-elses-session", "sam"), ds_url),
            Expect {
                code: "token_rejected",
                says: &["someone-elses-session", ROOM],
            },
        ),
        (
            "a token signed with another secret",
            grant(
                &token::join_signed_by(ROOM, "sam", "not-the-servers-secret"),
                ds_url,
            ),
            Expect {
                code: "wrong_secret",
                says: &["LIVEKIT_API_SECRET"],
            },
        ),
        (
            "a backend too slow to answer",
            e(200, json!({})).after(Duration::from_secs(12)),
            Expect {
                code: "timeout",
                says: &["did not answer within 10 s"],
            },
        ),
    ];
    for (case, reply, want) in cases {
        platform.set(TOKEN_PATH, reply);
        let (code, message, next) = join_and_fail(s, &link).await?;
        anyhow::ensure!(
            code == want.code,
            "{case}: error code {code} ({message:?}), not {}",
            want.code
        );
        for part in want.says {
            anyhow::ensure!(message.contains(part), "{case}: the app says {message:?}");
        }
        anyhow::ensure!(!next.is_empty(), "{case}: no advice under {message:?}");
        no_developer_text(case, &message)?;
        eprintln!("{case}: [{code}] {message} / {next}");
    }
    x.screenshot(&tandem_testkit::workspace_root().join("target/app-e2e/bad-backends-last.png"));

    // Failures of the connection itself, at the first request (the link's
    // check): nothing listening, and TLS to a server that speaks plain HTTP.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let transport = [
        (
            "connection refused",
            format!("http://127.0.0.1:{closed}/join/{LINK}"),
            "cannot be reached",
        ),
        (
            "TLS failure",
            format!("https://{}/join/{LINK}", platform.addr()),
            "secure connection",
        ),
    ];
    for (case, link, part) in transport {
        open_link(s, &link).await?;
        let said = s
            .until(
                &format!("{case} to be explained"),
                Duration::from_secs(30),
                "return document.querySelector('[data-testid=link-error]')?.textContent || null;",
            )
            .await?;
        let said = said.as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(said.contains(part), "{case}: the app says {said:?}");
        no_developer_text(case, &said)?;
        eprintln!("{case}: {said}");
    }

    // This computer's clock ten minutes off the platform's (and the call
    // server's): the call starts, and says the clock is wrong. The platform
    // mints tokens by its own clock, valid from ten minutes before it.
    platform.set(
        "/api/sessions/join",
        Reply::json(200, &json!({"success": true})),
    );
    for (case, offset, part) in [
        ("our clock 10 min ahead", -600, "ahead of"),
        ("our clock 10 min behind", 600, "behind"),
    ] {
        let platform_now = now() + offset;
        let minted = token::signed(
            &json!({
                "iss": token::KEY, "sub": "sam", "name": "Sam Client",
                "nbf": platform_now - 600, "exp": platform_now + 3600,
                "video": {"room": ROOM, "roomJoin": true}
            }),
            token::SECRET,
        );
        platform.set(
            TOKEN_PATH,
            grant(&minted, ds_url).header("date", http_date(offset)),
        );
        open_link(s, &link).await?;
        s.testid("screen-prejoin").await?;
        s.fill(&s.testid("display-name").await?, "Sam Client")
            .await?;
        s.click(&s.testid("join").await?).await?;
        let said = s
            .until(
                &format!("{case}: the clock warning"),
                Duration::from_secs(30),
                "const w = [...document.querySelectorAll('.banner.warn')].map(e => e.textContent).join(' '); return w || null;",
            )
            .await?;
        let said = said.as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(
            said.contains(part) && said.contains("automatic time"),
            "{case}: the call says {said:?}"
        );
        anyhow::ensure!(
            !said.contains("token"),
            "{case}: a valid token is doubted: {said:?}"
        );
        eprintln!("{case}: {said}");
        s.click(&s.testid("leave").await?).await?;
        s.click(&s.testid("leave-confirm").await?).await?;
        s.testid("end-reason").await?;
        s.click(&s.testid("back-to-sessions").await?).await?;
    }
    Ok(())
}
