//! The real app (under Xvfb, through tauri-driver, in a private network
//! namespace) through network cuts of 2, 10 and 30 s. The other participant
//! (LiveKit's Python SDK) sits in a namespace of its own and keeps its link;
//! everything the app sends, to the call server and to the platform, goes
//! nowhere while the cut lasts. The test checks what the person sees: the
//! "reconnecting" banner while a long cut lasts, then the call again — the
//! banner gone and the other person's picture moving — soon after the
//! network returns; a message typed during the cut ends up delivered or
//! marked unsent (never shown as sent and lost); chat from the other side
//! arrives again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tandem_testkit::display::Xvfb;
use tandem_testkit::netns::{Guest, blackhole_all_but_guest};
use tandem_testkit::peer::Peer;
use tandem_testkit::pulse::FakeAudio;
use tandem_testkit::token;
use tandem_testkit::webdriver::Session;

mod common;

use common::call_page::{drawn, join_from_prejoin, until_last_chat};

/// Cut lengths in seconds.
const CUTS: [u64; 3] = [2, 10, 30];

/// How long the call may take to come back once the network has.
const BACK_WITHIN: Duration = Duration::from_secs(10);

#[test]
fn the_app_shows_a_network_cut_and_comes_back() {
    tandem_testkit::media_test(
        "the_app_shows_a_network_cut_and_comes_back",
        |ip| async move {
            let audio = FakeAudio::start("cut");
            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            let dir = common::Scratch::new("cut");
            let (backend, demo) = common::backend_with_demo(&dir, &ds.url()).await;
            // The other participant keeps its network: it lives behind a link
            // of its own, which the cut leaves alone.
            let guest = Guest::spawn("sleep", &["infinity"], &[]);
            let mut peer = Peer::python_in(
                guest.child.id(),
                "coach-peer",
                &ds.url(),
                &token::join(&demo.session_id, "coach-peer"),
            )
            .await
            .unwrap();
            peer.cmd(json!({"cmd": "publish_video", "color": [40, 90, 200], "width": 320, "height": 180, "fps": 10}))
            .await
            .unwrap();

            let (x, driver, s) = common::app_on_client_link(&dir, &audio, &backend, &demo).await;
            let shots = tandem_testkit::workspace_root().join("target/app-e2e");
            let _ = std::fs::create_dir_all(&shots);
            let result = drive(&s, &x, &mut peer, &shots).await;
            blackhole_all_but_guest(false);
            if result.is_err() {
                x.screenshot(&shots.join("network-cut-failure.png"));
            }
            let _ = s.close().await;
            drop(driver);
            peer.kill().await;
            let rows = result.unwrap();
            eprintln!(
                "\n| cut | back after the network returned | reconnecting shown | chat typed meanwhile |"
            );
            eprintln!("|---|---|---|---|");
            for r in &rows {
                eprintln!(
                    "| {} s | {:.2} s | {} | {} |",
                    r.cut,
                    r.back.as_secs_f64(),
                    r.banner,
                    r.typed
                );
            }
        },
    );
}

struct Row {
    cut: u64,
    back: Duration,
    /// When "reconnecting" was first seen.
    banner: String,
    typed: &'static str,
}

/// `[phase, banner shown, frames of the peer's picture drawn]`.
const STATE: &str = "const c = document.querySelector('[data-testid=screen-call]'); \
    const v = document.querySelector('[data-testid=remote-video]'); \
    return [c ? c.dataset.phase : null, document.querySelector('[data-testid=reconnecting]') !== null, v ? Number(v.dataset.drawn) : -1];";

async fn state(s: &Session) -> anyhow::Result<(String, bool, i64)> {
    let v: Value = s.script(STATE, json!([])).await?;
    Ok((
        v[0].as_str().unwrap_or("").to_owned(),
        v[1].as_bool().unwrap_or(false),
        v[2].as_i64().unwrap_or(-1),
    ))
}

/// The status (`sending`, `sent`, `failed`) of our message reading `text`.
async fn status_of(s: &Session, text: &str) -> anyhow::Result<Option<String>> {
    let v = s
        .script(
            "const m = [...document.querySelectorAll('[data-testid=chat-message]')].filter(m => m.querySelector('[data-testid=chat-text]')?.textContent === arguments[0]); \
             return m.length ? m[m.length - 1].dataset.status : null;",
            json!([text]),
        )
        .await?;
    Ok(v.as_str().map(str::to_owned))
}

async fn drive(s: &Session, x: &Xvfb, peer: &mut Peer, shots: &Path) -> anyhow::Result<Vec<Row>> {
    join_from_prejoin(s, "Sam Client").await?;
    s.until(
        "the peer's picture",
        Duration::from_secs(30),
        "const e = document.querySelector('[data-testid=remote-video]'); return e && Number(e.dataset.drawn) > 5;",
    )
    .await?;
    s.click(&s.testid("toggle-chat").await?).await?;
    peer.cmd(json!({"cmd": "send_chat", "text": "before the cuts"}))
        .await?;
    until_last_chat(s, "before the cuts", Duration::from_secs(20)).await?;

    let mut rows = Vec::new();
    for cut in CUTS {
        let length = Duration::from_secs(cut);
        blackhole_all_but_guest(true);
        let cut_at = Instant::now();
        tokio::time::sleep(length / 2).await;
        let typed = format!("typed during the {cut} s cut");
        s.fill(&s.testid("chat-input").await?, &typed).await?;
        s.click(&s.testid("chat-send").await?).await?;
        let mut banner = false;
        let mut banner_after = None;
        while cut_at.elapsed() < length {
            if !banner && state(s).await?.1 {
                banner = true;
                banner_after = Some(cut_at.elapsed());
                x.screenshot(&shots.join(format!("network-cut-{cut}s.png")));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        blackhole_all_but_guest(false);
        let back_at = Instant::now();

        // Back: connected, no banner, and the picture moving again (two
        // readings in a row that grew).
        let mut last = -1;
        let back = loop {
            let (phase, shown, frames) = state(s).await?;
            banner |= shown;
            if phase == "connected" && !shown && last >= 0 && frames > last {
                break back_at.elapsed();
            }
            anyhow::ensure!(
                back_at.elapsed() < BACK_WITHIN,
                "{cut} s cut: the call was not back {BACK_WITHIN:?} after the network returned \
                 (phase {phase:?}, banner {shown}, frames {frames})"
            );
            last = frames;
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        eprintln!(
            "network cut: {cut} s, back {:.2} s after the network returned, banner {banner}",
            back.as_secs_f64()
        );
        if cut >= 30 {
            anyhow::ensure!(
                banner,
                "the {cut} s cut never showed that the call was reconnecting"
            );
        }

        // The message typed meanwhile: delivered, or marked unsent — never
        // shown as sent and lost, never left hanging.
        let deadline = Instant::now() + Duration::from_secs(40);
        let status = loop {
            let st = status_of(s, &typed).await?;
            if matches!(st.as_deref(), Some("sent" | "failed")) {
                break st.unwrap_or_default();
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{typed:?} is still {st:?} 40 s after the network returned"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let typed_outcome = if status == "sent" {
            peer.expect_within(Duration::from_secs(20), "chat", json!({"text": typed}))
                .await?;
            "delivered"
        } else {
            "marked unsent"
        };

        // Chat flows both ways again.
        let from_peer = format!("after the {cut} s cut");
        peer.cmd(json!({"cmd": "send_chat", "text": from_peer}))
            .await?;
        until_last_chat(s, &from_peer, Duration::from_secs(20)).await?;
        let reply = format!("still here after {cut} s");
        s.fill(&s.testid("chat-input").await?, &reply).await?;
        s.click(&s.testid("chat-send").await?).await?;
        peer.expect_within(Duration::from_secs(20), "chat", json!({"text": reply}))
            .await?;
        anyhow::ensure!(drawn(s).await? > 0, "no picture after the {cut} s cut");
        rows.push(Row {
            cut,
            back,
            banner: banner_after.map_or_else(
                || {
                    if banner {
                        "after the cut".to_owned()
                    } else {
                        "no".to_owned()
                    }
                },
                |t| format!("{:.1} s into the cut", t.as_secs_f64()),
            ),
            typed: typed_outcome,
        });
    }
    Ok(rows)
}
