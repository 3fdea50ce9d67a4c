//! The real desktop app under Xvfb, driven through tauri-driver and
//! WebKitWebDriver, in a private network namespace with tandem-backend,
//! tandem-devserver, LiveKit's Python SDK as the other participant and fake
//! PulseAudio devices: sign in, the prejoin meter follows the microphone,
//! join, the peer's picture is drawn and ours reaches the peer, chat both
//! ways, our mute is seen, hostile chat and names stay text, leaving shows
//! the ended screen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tandem_testkit::display::Xvfb;
use tandem_testkit::peer::Peer;
use tandem_testkit::pulse::FakeAudio;
use tandem_testkit::token;
use tandem_testkit::webdriver::{Driver, Session};

mod common;

/// What a hostile participant would try: markup in a name and a message.
const PAYLOAD: &str = r#"<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>"#;

fn shots_dir() -> PathBuf {
    let d = tandem_testkit::workspace_root().join("target/app-e2e");
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn shot(s: &Session, name: &str) {
    let _ = s.screenshot(&shots_dir().join(format!("{name}.png"))).await;
}

/// A data-testid's attribute, or null.
fn attr(testid: &str, name: &str) -> String {
    format!(
        "const e = document.querySelector('[data-testid=\"{testid}\"]'); return e ? e.getAttribute('{name}') : null;"
    )
}

/// A script that is truthy when `testid`'s attribute `name` passes `test`
/// (JavaScript on `v`, the attribute's text or null).
fn attr_is(testid: &str, name: &str, test: &str) -> String {
    let read = attr(testid, name);
    format!("const v = (() => {{ {read} }})(); return ({test}) ? (v ?? true) : null;")
}

#[test]
fn the_desktop_app_makes_a_call_with_a_python_peer() {
    // The servers log at debug level too, for the secret scan at the end.
    tandem_testkit::media_test_logging_at(
        "the_desktop_app_makes_a_call_with_a_python_peer",
        "debug,str0m=warn,hyper=info,h2=info,sqlx=info,tungstenite=info,tokio_tungstenite=info",
        |ip| async move {
            let audio = FakeAudio::start("app-e2e");
            // The platform mints with a key pair of its own, so the scan
            // below can look for its secret.
            let mut ds_cfg = tandem_devserver::Config::for_tests(ip);
            ds_cfg.keys.insert(LK_KEY.into(), LK_SECRET.into());
            let ds = tandem_devserver::Server::start(ds_cfg).await.unwrap();
            let dir = common::Scratch::new("app-e2e");
            let (backend, demo) = common::backend_with_demo_and(&dir, &ds.url(), |c| {
                c.livekit_api_key = LK_KEY.into();
                c.livekit_api_secret = LK_SECRET.into();
            })
            .await;
            let session = demo.session_id.clone();
            // A private session: the platform hands its key out with the
            // tokens, and the call is end-to-end encrypted.
            let e2ee_key = tandem_backend::dev::make_private(&backend.state.db, &session)
                .await
                .unwrap();

            // The other participant: a hostile display name, a magenta picture, 660 Hz.
            let mut peer = Peer::python_with(
                "peer",
                &ds.url(),
                &token::join_named(&session, "coach-peer", PAYLOAD),
                // `=`: the generated key may start with '-'.
                &[&format!("--e2ee-key={e2ee_key}")],
            )
            .await
            .unwrap();
            peer.cmd(json!({"cmd": "publish_video", "color": [200, 40, 160], "width": 640, "height": 360, "fps": 15}))
            .await
            .unwrap();
            peer.cmd(json!({"cmd": "publish_audio", "freq": 660}))
                .await
                .unwrap();

            let x = Xvfb::start(1280, 860);
            // A desktop's notification server, to read back what the app
            // tells while it is not in front (under Xvfb, with no window
            // manager, its window never has the focus).
            let notifications = common::notifications::Notifications::start().await;
            let mut env = common::app_env_native(&dir, &x.display);
            env.push(("PULSE_SERVER", audio.server.clone()));
            env.push(("DBUS_SESSION_BUS_ADDRESS", notifications.address.clone()));
            env.push(("RUST_LOG", "debug,tao=warn,wry=warn,str0m=warn".into()));
            let app_log = shots_dir().join("app-e2e-app.log");
            let driver = Driver::start_logged(&common::pairs(&env), &app_log).unwrap();
            let s = driver
                .session(std::path::Path::new(env!("CARGO_BIN_EXE_tandem")))
                .await
                .unwrap();
            let sharer = Sharer {
                url: ds.url(),
                token: token::join_named(&session, "js-sharer", "Sam's laptop"),
                e2ee_key: e2ee_key.clone(),
            };
            let result = drive(
                &s,
                &backend.url(),
                &demo,
                (&mut peer, &sharer),
                &audio,
                &x.display,
            )
            .await;
            if result.is_err() {
                shot(&s, "failure").await;
                x.screenshot(&shots_dir().join("failure-screen.png"));
            }
            let _ = s.close().await;
            drop(driver);
            let app_log = std::fs::read_to_string(&app_log).unwrap_or_default();
            if result.is_err() {
                eprintln!("the app's log:\n{app_log}");
            }
            result.unwrap();
            received_whole(&dir.0.join("cache"), &peer);
            notified(&notifications.shown());
            peer.kill().await;
            backend.stop().await;
            ds.stop().await;
            no_secrets_in_logs(&app_log, &tandem_testkit::captured_logs(), &demo, &e2ee_key);
        },
    );
}

/// The OS was told the peer joined, wrote and sent a file, in plain text
/// (the peer's name and message carry markup), from Tandem, each
/// clickable.
fn notified(shown: &[common::notifications::Shown]) {
    let find = |what: &str| {
        shown
            .iter()
            .find(|n| n.summary.contains(what))
            .unwrap_or_else(|| panic!("no notification says {what:?}: {shown:#?}"))
    };
    let joined = find("joined the call");
    assert!(joined.summary.starts_with("‹img src=x"), "{joined:?}");
    let file = find("sent a file");
    assert_eq!(file.body, "‹img src=x›plan.pdf");
    let chat = shown
        .iter()
        .find(|n| n.body.starts_with("‹img src=x onerror"))
        .unwrap_or_else(|| panic!("no chat notification: {shown:#?}"));
    assert!(
        chat.body.ends_with('…') && chat.body.chars().count() <= 61,
        "{chat:?}"
    );
    for n in shown {
        assert!(
            !format!("{}{}", n.summary, n.body).contains(['<', '>', '&']),
            "markup reached the notification server: {n:?}"
        );
        assert!(
            n.actions.iter().any(|a| a == "default"),
            "not clickable: {n:?}"
        );
        assert!(n.app.contains("tandem"), "{n:?}");
    }
}

/// The peer's file is in the app's cache folder, byte for byte.
fn received_whole(cache: &std::path::Path, peer: &Peer) {
    use sha2::Digest as _;
    let sent = peer
        .history()
        .iter()
        .find(|e| e["event"] == "file_sent")
        .expect("the peer sent its file");
    let mut found = Vec::new();
    let mut dirs = vec![cache.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if d.ends_with("received") {
                let sum = sha2::Sha256::digest(std::fs::read(&p).unwrap());
                found.push(sum.iter().map(|b| format!("{b:02x}")).collect::<String>());
            }
        }
    }
    assert_eq!(
        found,
        [sent["sha256"].as_str().unwrap()],
        "received files on disk"
    );
}

/// The platform's LiveKit key pair in this run.
const LK_KEY: &str = "e2e-platform-key";
const LK_SECRET: &str = "lk-secret-seen-only-by-this-run-51c0e2";

/// Tokens, passwords and secrets appear in no component's log: the app's
/// (at debug level, with the LiveKit library's own lines), and the
/// backend's and dev server's (in this process).
fn no_secrets_in_logs(app: &str, servers: &str, demo: &tandem_backend::dev::Demo, e2ee_key: &str) {
    assert!(
        app.contains("tandem") && app.lines().count() > 50,
        "the app's log was not captured ({} lines)",
        app.lines().count()
    );
    assert!(
        servers.contains("tandem_devserver") && servers.contains("tandem_backend"),
        "the servers' logs were not captured"
    );
    let secrets = [
        ("the LiveKit API secret", LK_SECRET),
        ("the backend's JWT secret", common::BACKEND_JWT_SECRET),
        ("the password", demo.password.as_str()),
        ("the client's join link", demo.client_link.as_str()),
        ("the coach's join link", demo.coach_link.as_str()),
        ("the private session's key", e2ee_key),
    ];
    for (log, text) in [("the app's", app), ("the servers'", servers)] {
        let found = secrets
            .iter()
            .find_map(|&(what, secret)| text.find(secret).map(|at| (what, at)))
            // Every token here is a JWT (sign-in, session and LiveKit
            // tokens), so no run as long as a JWT header may start `eyJ`
            // (base64 of `{"`); WebRTC's 8-character candidate ids may.
            .or_else(|| jwt_like(text).map(|at| ("a JWT", at)));
        if let Some((what, at)) = found {
            let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            panic!(
                "{what} is in {log} log, in this line (long runs masked): {}",
                masked(&text[start..end])
            );
        }
    }
    eprintln!(
        "log scan: {} app lines and {} server lines hold no token, password or secret",
        app.lines().count(),
        servers.lines().count()
    );
}

/// Where a run of 16 or more base64url characters starting `eyJ` is.
fn jwt_like(text: &str) -> Option<usize> {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices("eyJ")
        .map(|(at, _)| at)
        .find(|&at| text[at..].chars().take_while(|&c| is_b64(c)).count() >= 16)
}

/// `line` with every run of 16 or more token characters replaced by its
/// length and number of dots, so that a failure can show where a secret
/// was without printing it.
fn masked(line: &str) -> String {
    let is_token = |c: char| c.is_ascii_alphanumeric() || "-_.=+/".contains(c);
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 16 {
            let dots = run.matches('.').count();
            out.push_str(&format!("<{} chars, {dots} dots>", run.len()));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in line.chars() {
        if is_token(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out.chars().take(600).collect()
}

/// Where a second participant, LiveKit's JS SDK in Chromium, joins to
/// share a screen.
struct Sharer {
    url: String,
    token: String,
    e2ee_key: String,
}

async fn drive(
    s: &Session,
    backend_url: &str,
    demo: &tandem_backend::dev::Demo,
    (peer, sharer): (&mut Peer, &Sharer),
    audio: &FakeAudio,
    display: &str,
) -> anyhow::Result<()> {
    let long = Duration::from_secs(30);
    // Connect: add the platform, a wrong password is refused, the right one signs in.
    s.testid("screen-connect").await?;
    s.fill(&s.testid("platform-url").await?, backend_url)
        .await?;
    s.click(
        &s.wait_for("[data-testid=add-platform-form] button[type=submit]", long)
            .await?,
    )
    .await?;
    s.fill(&s.testid("email").await?, &demo.client_email)
        .await?;
    s.fill(&s.testid("password").await?, "not-the-password")
        .await?;
    s.click(&s.testid("sign-in").await?).await?;
    let err = s.text(&s.testid("sign-in-error").await?).await?;
    anyhow::ensure!(err.contains("sign in again"), "sign-in error said: {err}");
    s.fill(&s.testid("password").await?, &demo.password).await?;
    s.click(&s.testid("sign-in").await?).await?;
    s.click(&s.testid("open-session").await?).await?;
    shot(s, "1-sessions-opened").await;

    // Prejoin: the meter follows the tone microphone, up and then down.
    s.testid("screen-prejoin").await?;
    let tone = audio.play_tone_into_mic(440);
    s.until(
        "the meter to rise",
        long,
        &attr_is("mic-meter", "data-level", "v !== null && Number(v) > 40"),
    )
    .await?;
    shot(s, "2-prejoin").await;
    audio.stop_tone(&tone);
    s.until(
        "the meter to fall",
        long,
        &attr_is("mic-meter", "data-level", "v !== null && Number(v) < 15"),
    )
    .await?;
    let tone = audio.play_tone_into_mic(440);
    s.until(
        "our preview",
        long,
        &attr_is("preview-video", "data-has-video", "v === 'true'"),
    )
    .await?;
    // A scene behind the person, chosen in prejoin: the test pattern has
    // nobody in it, so the preview shows the studio's grey instead of the
    // pattern's orange; back to the room as it is, the colour returns.
    let background = |choice: &str| {
        format!(
            "const s = document.querySelector('[data-testid=background-select]'); s.value = '{choice}'; s.dispatchEvent(new Event('change', {{ bubbles: true }})); return s.value;"
        )
    };
    let vivid = |[r, g, b]: [u8; 3]| r.max(g).max(b) - r.min(g).min(b) > 80;
    common::call_page::until_colour_on_screen(s, display, "preview-video", long, vivid).await?;
    s.script(&background("scene:studio"), json!([])).await?;
    let grey = common::call_page::until_colour_on_screen(
        s,
        display,
        "preview-video",
        long,
        |[r, g, b]| r > 70 && r.abs_diff(g) < 20 && b.abs_diff(g) < 25,
    )
    .await?;
    eprintln!("preview with the studio behind: {grey:?}");
    shot(s, "2-prejoin-studio").await;
    s.script(&background("off"), json!([])).await?;
    common::call_page::until_colour_on_screen(s, display, "preview-video", long, vivid).await?;
    // The person switches to another app as the call starts.
    let _elsewhere = common::notifications::ElsewhereFocused::take(display);
    common::call_page::join_from_prejoin(s, "Sam Client").await?;

    // The call: connected, the peer's name as text, its picture drawn.
    let name = s.text(&s.testid("remote-name").await?).await?;
    anyhow::ensure!(name == PAYLOAD, "the peer's name shows as {name:?}");
    // Drawn by the app under the page, not by the page.
    let path = common::call_page::video_path(s, "remote-video").await?;
    anyhow::ensure!(path == "native", "video drawn by the {path:?} path");
    let colour =
        common::call_page::until_colour_on_screen(s, display, "remote-video", long, |[r, g, b]| {
            r > 150 && g < 90 && b > 110
        })
        .await?;
    // The session is private: the lock says so once the peer decrypts.
    let lock = s
        .until("the encryption lock", long, "const l = document.querySelector('[data-testid=e2ee-lock]'); return l ? l.textContent.trim() : null;")
        .await?;
    anyhow::ensure!(lock == "End-to-end encrypted", "the lock reads {lock:?}");
    shot(s, "3-call").await;
    tandem_testkit::display::screenshot(display, &shots_dir().join("3-call-screen.png"));

    // The peer sees our pattern and hears our tone.
    // (We are the only other participant, whatever identity the backend gave us.)
    let first = |v: &Value| {
        v.as_object()
            .and_then(|m| m.values().next())
            .cloned()
            .unwrap_or_default()
    };
    peer.stats_until(long, |st| {
        first(&st["video"])["frames"].as_u64().unwrap_or(0) > 10
            && first(&st["audio"])["freq"]
                .as_f64()
                .is_some_and(|f| (f - 440.0).abs() < 8.0)
    })
    .await?;

    // Chat both ways; the hostile message stays text and runs nothing.
    peer.cmd(json!({"cmd": "send_chat", "text": PAYLOAD}))
        .await?;
    s.until("the unread badge", long, "const b = document.querySelector('[data-testid=unread]'); return b ? b.textContent : null;").await?;
    s.click(&s.testid("toggle-chat").await?).await?;
    let text = s.text(&s.testid("chat-text").await?).await?;
    anyhow::ensure!(text == PAYLOAD, "chat shows {text:?}");
    let executed: Value = s
        .script("return [window.__pwned === undefined, document.querySelectorAll('[data-testid=chat-panel] img, [data-testid=chat-panel] script, [data-testid=remote-tile] img').length];", json!([]))
        .await?;
    anyhow::ensure!(
        executed == json!([true, 0]),
        "hostile markup became live: {executed}"
    );
    s.fill(&s.testid("chat-input").await?, "Hello from Tandem")
        .await?;
    s.click(&s.testid("chat-send").await?).await?;
    peer.expect("chat", json!({"text": "Hello from Tandem"}))
        .await?;
    s.until(
        "our message marked sent",
        long,
        "return document.querySelector('[data-testid=chat-message][data-status=sent]') !== null;",
    )
    .await?;

    // Reactions both ways: the peer's shows on its tile; ours reaches it.
    peer.cmd(json!({"cmd": "send_data", "topic": "tandem.reaction", "payload": "{\"reaction\":\"party\"}"}))
        .await?;
    s.until(
        "the peer's reaction on its tile",
        long,
        "const r = document.querySelector('[data-testid=remote-tile] [data-testid=reaction]'); return r ? r.dataset.reaction : null;",
    )
    .await?;
    s.click(&s.testid("react").await?).await?;
    s.click(&s.testid("react-thumbs_up").await?).await?;
    let got = peer
        .expect("data", json!({"topic": "tandem.reaction"}))
        .await?;
    anyhow::ensure!(
        got["payload"] == r#"{"reaction":"thumbs_up"}"#,
        "the peer got {got}"
    );
    // Raised hands both ways. This platform's tokens do not let anyone set
    // attributes, so hands travel on their data topic: ours reaches the
    // peer there, and the peer's shows on its tile.
    s.click(&s.testid("toggle-hand").await?).await?;
    let said = peer.expect("data", json!({"topic": "tandem.hand"})).await?;
    anyhow::ensure!(
        said["payload"]
            .as_str()
            .is_some_and(|p| p.starts_with(r#"{"raised":true,"at":"#)),
        "the peer got {said}"
    );
    peer.cmd(json!({"cmd": "send_data", "topic": "tandem.hand", "payload": "{\"raised\":true}"}))
        .await?;
    s.wait_for("[data-testid=remote-tile] [data-testid=tile-hand]", long)
        .await?;
    s.click(&s.testid("toggle-hand").await?).await?;

    // A file from the peer, its name carrying markup: listed in chat as
    // text with its type as the content says, and received whole (its
    // sha256 is checked on disk once the call is over).
    peer.cmd(
        json!({"cmd": "send_file", "name": "<img src=x>plan.pdf", "size": 300_000, "seed": 4}),
    )
    .await?;
    let name = s
        .until(
            "the peer's file, received",
            long,
            "const f = document.querySelector('[data-testid=chat-file][data-status=done]'); return f ? [f.querySelector('[data-testid=file-name]').textContent, f.querySelector('[data-testid=file-meta]').textContent, f.querySelector('[data-testid=file-save]') !== null] : null;",
        )
        .await?;
    anyhow::ensure!(
        name == json!([
            "<img src=x>plan.pdf",
            "300 KB · application/octet-stream",
            true
        ]),
        "the file shows as {name}"
    );
    shot(s, "4-chat").await;

    // Sharing: the picker offers this (Xvfb's) screen; the peer receives it
    // as a screen share at the screen's size.
    s.click(&s.testid("share").await?).await?;
    // Each offered with a small picture of it, drawn (the page's policy
    // lets it show).
    s.until(
        "the screen's thumbnail drawn",
        long,
        "const i = document.querySelector('[data-testid=share-thumbnail] img'); return i && i.complete && i.naturalWidth > 100 ? i.naturalWidth : null;",
    )
    .await?;
    shot(s, "4a-share-picker").await;
    s.click(&s.testid("share-choice").await?).await?;
    let ours = peer
        .expect(
            "track_subscribed",
            json!({"kind": "video", "source": "SOURCE_SCREENSHARE"}),
        )
        .await?;
    peer.stats_until(long, |st| {
        st["video"].as_object().is_some_and(|v| {
            v.iter().any(|(who, v)| {
                who.ends_with("#screen") && v["width"] == 1280 && v["height"] == 860
            })
        })
    })
    .await?;
    let bar = s
        .until("the sharing bar", long, "const b = document.querySelector('[data-testid=sharing-bar]'); return b ? b.textContent.trim() : null;")
        .await?;
    anyhow::ensure!(
        bar.as_str()
            .is_some_and(|b| b.starts_with("You are sharing Entire screen")),
        "the sharing bar reads {bar}"
    );
    shot(s, "4b-sharing").await;
    // The peer shares too: the app shows it large, then the layout comes
    // back when it stops.
    peer.cmd(json!({"cmd": "publish_video", "source": "screen_share", "color": [30, 200, 90], "width": 1280, "height": 720, "fps": 5}))
        .await?;
    common::call_page::until_colour_on_screen(s, display, "screen-video", long, |[r, g, b]| {
        r < 90 && g > 150 && b < 140
    })
    .await?;
    shot(s, "4c-peer-screen").await;
    tandem_testkit::display::screenshot(display, &shots_dir().join("4c-peer-screen-screen.png"));
    peer.cmd(json!({"cmd": "unpublish", "kind": "screen"}))
        .await?;
    s.until(
        "the layout back",
        long,
        "return document.querySelector('[data-testid=screen-video]') === null ? true : null;",
    )
    .await?;
    // LiveKit's JS SDK in Chromium shares too (a page's canvas published
    // as a screen share, end-to-end encrypted like the call): shown large,
    // read from the screen; the layout comes back when it stops.
    let mut js = Peer::browser_with(
        "js-sharer",
        &sharer.url,
        &sharer.token,
        &[&format!("--e2ee-key={}", sharer.e2ee_key)],
    )
    .await?;
    js.cmd(json!({"cmd": "publish_screen", "color": [40, 90, 220], "width": 1280, "height": 720, "fps": 5}))
        .await?;
    let blue =
        common::call_page::until_colour_on_screen(s, display, "screen-video", long, |[r, g, b]| {
            r < 100 && g < 140 && b > 170
        })
        .await?;
    eprintln!("the JS SDK's share drawn: {blue:?}");
    tandem_testkit::display::screenshot(display, &shots_dir().join("4d-js-screen-screen.png"));
    js.cmd(json!({"cmd": "unpublish", "kind": "screen"}))
        .await?;
    s.until(
        "the layout back after the JS share",
        long,
        "return document.querySelector('[data-testid=screen-video]') === null ? true : null;",
    )
    .await?;
    js.disconnect().await?;
    // We stop ours: the peer's screen-share track goes.
    s.click(&s.testid("share").await?).await?;
    peer.expect(
        "track_unsubscribed",
        json!({"kind": "video", "sid": ours["sid"]}),
    )
    .await?;

    // Our mute reaches the peer.
    s.click(&s.testid("toggle-mic").await?).await?;
    peer.expect("track_muted", json!({"kind": "audio"})).await?;
    audio.stop_tone(&tone);

    // Leave: the ended screen.
    s.click(&s.testid("leave").await?).await?;
    s.click(&s.testid("leave-confirm").await?).await?;
    let reason = s.text(&s.testid("end-reason").await?).await?;
    anyhow::ensure!(
        reason == "You left the call.",
        "ended screen says {reason:?}"
    );
    shot(s, "5-ended").await;
    eprintln!("peer colour drawn: {colour:?}");
    Ok(())
}
