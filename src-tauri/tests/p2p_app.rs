//! The real app holds a seed-004 call as the real platform has it: peer to
//! peer, with no LiveKit anywhere. tandem-backend plays seed 004's platform
//! without its LiveKit token endpoint (as the seed documents it), and the
//! coach is the seed's own session page in Chromium (`RTCPeerConnection` +
//! socket.io-client). The client opens the join link in the app (under
//! Xvfb, through tauri-driver, in a private network namespace) and the test
//! checks what each person gets: the coach's picture drawn in the app, our
//! picture and sound at the page, chat both ways, the camera turned off
//! arriving as black, and leaving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tandem_testkit::display::Xvfb;
use tandem_testkit::peer::Peer;
use tandem_testkit::pulse::FakeAudio;
use tandem_testkit::webdriver::{Driver, Session};

mod common;

use common::call_page::{drawn, join_from_prejoin, until_last_chat};

#[test]
fn the_desktop_app_calls_the_seed_page_peer_to_peer() {
    tandem_testkit::media_test(
        "the_desktop_app_calls_the_seed_page_peer_to_peer",
        |_ip| async move {
            let audio = FakeAudio::start("p2p-app");
            let dir = common::Scratch::new("p2p-app");
            let (backend, demo) = common::backend_with_demo_and(&dir, "ws://127.0.0.1:9", |c| {
                c.seed_004_livekit = false;
            })
            .await;
            let url = backend.url();
            // The coach's page is in the room first; its Socket.IO room
            // server is the backend's own address.
            let mut page = Peer::seed_page("coach-page", &url, &url, &demo.coach_link)
                .await
                .unwrap();

            let x = Xvfb::start(1280, 860);
            // Exports go to the downloads folder the desktop names.
            let downloads = dir.0.join("downloads");
            std::fs::create_dir_all(dir.0.join("config")).unwrap();
            std::fs::write(
                dir.0.join("config/user-dirs.dirs"),
                format!("XDG_DOWNLOAD_DIR=\"{}\"\n", downloads.display()),
            )
            .unwrap();
            let mut env = common::app_env(&dir, &x.display);
            env.push(("PULSE_SERVER", audio.server.clone()));
            let driver = Driver::start(&common::pairs(&env)).unwrap();
            let link = format!("{}&socket={url}", common::client_link(&backend, &demo));
            let s = driver
                .session_with_args(Path::new(env!("CARGO_BIN_EXE_tandem")), &[&link])
                .await
                .unwrap();
            let shots = tandem_testkit::workspace_root().join("target/app-e2e");
            let _ = std::fs::create_dir_all(&shots);
            let result = drive(&s, &mut page, &x, &shots).await;
            let result = result.and_then(|()| notes_kept(&dir.0, &downloads));
            x.screenshot(&shots.join(if result.is_ok() {
                "p2p-ended.png"
            } else {
                "p2p-failure.png"
            }));
            let _ = s.close().await;
            drop(driver);
            let _ = page.disconnect().await;
            result.unwrap();
        },
    );
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

async fn drive(s: &Session, page: &mut Peer, x: &Xvfb, shots: &Path) -> anyhow::Result<()> {
    let long = Duration::from_secs(30);
    join_from_prejoin(s, "Sam Client").await?;

    // The coach's picture (Chromium's fake camera) is drawn, and keeps moving.
    s.until(
        "the coach's picture",
        long,
        "const e = document.querySelector('[data-testid=remote-video]'); return e && Number(e.dataset.drawn) > 10 ? true : null;",
    )
    .await?;
    let before = drawn(s).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = drawn(s).await?;
    anyhow::ensure!(
        after > before + 10,
        "the coach's picture drew {before} then {after} frames"
    );

    // The page gets our picture and sound.
    let seen = page
        .stats_until(long, |st| {
            count(&st["video"]["user"]["frames"]) > 20
                && count(&st["audio"]["user"]["packets"]) > 100
                && st["video"]["user"]["luma"].as_f64().unwrap_or(-1.0) > 25.0
        })
        .await?;
    eprintln!("the page sees us: {}", seen["video"]["user"]);

    // Chat both ways, in the seed's `message` shape.
    page.cmd(json!({"cmd": "send_chat", "text": "Hello from the coach's page"}))
        .await?;
    s.until(
        "the unread badge",
        long,
        "const b = document.querySelector('[data-testid=unread]'); return b ? b.textContent : null;",
    )
    .await?;
    s.click(&s.testid("toggle-chat").await?).await?;
    until_last_chat(s, "Hello from the coach's page", long).await?;
    s.fill(&s.testid("chat-input").await?, "Hello from Tandem")
        .await?;
    s.click(&s.testid("chat-send").await?).await?;
    page.expect("chat", json!({"text": "Hello from Tandem"}))
        .await?;
    s.until(
        "our message marked sent",
        long,
        "return document.querySelector('[data-testid=chat-message][data-status=sent]') !== null;",
    )
    .await?;
    until_last_chat(s, "Hello from Tandem", long).await?;
    // Nothing to share in a peer-to-peer call: the button says why.
    let share: Value = s
        .script(
            "const b = document.querySelector('[data-testid=share]'); return b ? [b.disabled, b.title] : null;",
            json!([]),
        )
        .await?;
    anyhow::ensure!(
        share
            == json!([
                true,
                "This platform's peer-to-peer calls have no screen sharing"
            ]),
        "the share button: {share}"
    );
    // Files go only between two Tandems: with the seed's page the button
    // is greyed out and says why.
    let attach: Value = s
        .script(
            "const b = document.querySelector('[data-testid=chat-attach]'); return b ? [b.disabled, b.title] : null;",
            json!([]),
        )
        .await?;
    anyhow::ensure!(
        attach[0] == json!(true)
            && attach[1]
                .as_str()
                .is_some_and(|t| t.starts_with("Files go only to someone whose app is Tandem too")),
        "the attach button: {attach}"
    );
    x.screenshot(&shots.join("p2p-call.png"));

    // Our camera off: the page sees black, not our last picture frozen.
    s.click(&s.testid("toggle-camera").await?).await?;
    page.stats_until(long, |st| {
        let l = st["video"]["user"]["luma"].as_f64().unwrap_or(-1.0);
        (0.0..25.0).contains(&l)
    })
    .await?;
    s.click(&s.testid("toggle-camera").await?).await?;
    page.stats_until(long, |st| {
        st["video"]["user"]["luma"].as_f64().unwrap_or(-1.0) > 25.0
    })
    .await?;

    // Private notes: typed, kept, never sent; exported after the call.
    s.click(&s.testid("toggle-notes").await?).await?;
    s.fill(&s.testid("notes-text").await?, NOTE).await?;
    s.until(
        "the note saved",
        long,
        "const e = document.querySelector('[data-testid=notes-status]'); return e && e.dataset.status === 'saved' && e.textContent.includes('Saved') ? true : null;",
    )
    .await?;

    // Leave: the ended screen, with the note to export.
    s.click(&s.testid("leave").await?).await?;
    s.click(&s.testid("leave-confirm").await?).await?;
    let reason = s.text(&s.testid("end-reason").await?).await?;
    anyhow::ensure!(
        reason == "You left the call.",
        "ended screen says {reason:?}"
    );
    let shown = s.text(&s.testid("ended-notes-text").await?).await?;
    anyhow::ensure!(shown == NOTE, "the ended screen shows {shown:?}");
    s.click(&s.testid("export-notes").await?).await?;
    let path = s.text(&s.testid("export-path").await?).await?;
    anyhow::ensure!(path.contains("Tandem notes - "), "export said {path:?}");
    Ok(())
}

const NOTE: &str = "Goals: sleep 8 h, walk daily";

/// The note is in the app's data folder and in the Markdown export, and
/// nowhere it could have been sent: the page heard no chat with it.
fn notes_kept(scratch: &Path, downloads: &Path) -> anyhow::Result<()> {
    let kept: Vec<String> = walk(&scratch.join("data"))
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json") && p.to_string_lossy().contains("/notes/")
        })
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    anyhow::ensure!(
        kept.len() == 1 && kept[0].contains(NOTE),
        "notes kept: {kept:?}"
    );
    let exported: Vec<String> = walk(downloads)
        .into_iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    anyhow::ensure!(
        exported.len() == 1
            && exported[0].contains(NOTE)
            && exported[0].contains("> Hello from the coach's page"),
        "exported: {exported:?}"
    );
    Ok(())
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
