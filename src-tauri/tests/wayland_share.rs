//! Sharing on a Wayland desktop, in the real app: the picker's one entry
//! opens the system's sharing dialog (the desktop portal; the test's
//! desktop grants its one screen, see `tandem_testkit::screencast`); LiveKit's
//! Python SDK receives the screen at its size and colour; the bar says what
//! is shared; when the system ends the cast, the bar goes, the person is
//! told why, and the call goes on. The app's window itself is on Xvfb (GTK
//! under X11), with the Wayland session's environment.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use tandem_testkit::peer::{Peer, colour_near as near};
use tandem_testkit::screencast::Desktop;
use tandem_testkit::token;
use tandem_testkit::webdriver::Session;

mod common;

const SCREEN: [u8; 3] = [0xd0, 0x60, 0x30];

#[test]
fn the_app_shares_a_wayland_screen_through_the_system_dialog() {
    tandem_testkit::media_test(
        "the_app_shares_a_wayland_screen_through_the_system_dialog",
        |ip| async move {
            let mut desktop = Desktop::start(1280, 720, SCREEN);
            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            let dir = common::Scratch::new("wayland-share");
            let (backend, demo) = common::backend_with_demo(&dir, &ds.url()).await;
            let mut peer = Peer::python(
                "coach-peer",
                &ds.url(),
                &token::join_named(&demo.session_id, "coach-peer", "Coach Dana"),
            )
            .await
            .unwrap();

            let x = tandem_testkit::display::Xvfb::start(1280, 860);
            let mut env = common::app_env(&dir, &x.display);
            for (k, v) in desktop.env() {
                env.push((k, v.to_string_lossy().into_owned()));
            }
            let driver = tandem_testkit::webdriver::Driver::start(&common::pairs(&env)).unwrap();
            let s = driver
                .session(std::path::Path::new(env!("CARGO_BIN_EXE_tandem")))
                .await
                .unwrap();
            let result = drive(&s, (&backend.url(), &demo), &mut desktop, &mut peer).await;
            if result.is_err() {
                let shots = tandem_testkit::workspace_root().join("target/app-e2e");
                let _ = std::fs::create_dir_all(&shots);
                x.screenshot(&shots.join("wayland-share-failure.png"));
            }
            let _ = s.close().await;
            drop(driver);
            peer.kill().await;
            backend.stop().await;
            ds.stop().await;
            result.unwrap();
        },
    );
}

async fn drive(
    s: &Session,
    (backend, demo): (&str, &tandem_backend::dev::Demo),
    desktop: &mut Desktop,
    peer: &mut Peer,
) -> anyhow::Result<()> {
    let long = Duration::from_secs(30);
    // Signed in to Tandem's own platform API, whose tokens grant sharing
    // (seed 004's grant only the camera and microphone).
    s.testid("screen-connect").await?;
    s.fill(&s.testid("platform-url").await?, backend).await?;
    s.click(
        &s.wait_for("[data-testid=add-platform-form] button[type=submit]", long)
            .await?,
    )
    .await?;
    s.fill(&s.testid("email").await?, &demo.client_email)
        .await?;
    s.fill(&s.testid("password").await?, &demo.password).await?;
    s.click(&s.testid("sign-in").await?).await?;
    s.click(&s.testid("open-session").await?).await?;
    common::call_page::join_from_prejoin(s, "Client Ana").await?;

    let offered = s
        .until("sharing offered", long, "const b = document.querySelector('[data-testid=share]'); return b && !b.disabled ? true : null;")
        .await;
    if offered.is_err() {
        let b = s.testid("share").await?;
        anyhow::bail!(
            "sharing is not offered: {:?}",
            s.attribute(&b, "title").await?
        );
    }
    s.click(&s.testid("share").await?).await?;
    let choice = s.testid("share-choice").await?;
    let text = s.text(&choice).await?;
    anyhow::ensure!(
        text.contains("Opens your system's sharing dialog"),
        "the picker offers {text:?}"
    );
    s.click(&choice).await?;
    peer.expect(
        "track_subscribed",
        json!({"kind": "video", "source": "SOURCE_SCREENSHARE"}),
    )
    .await?;
    peer.stats_until(long, |st| {
        st["video"].as_object().is_some_and(|v| {
            v.iter().any(|(who, v)| {
                who.ends_with("#screen")
                    && v["width"] == 1280
                    && v["height"] == 720
                    && near(&v["color"], SCREEN)
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

    // The system ends the cast: the bar goes, the person is told why, and
    // the call goes on.
    desktop.end_screen_cast();
    s.until(
        "the sharing bar gone",
        long,
        "return document.querySelector('[data-testid=sharing-bar]') === null ? true : null;",
    )
    .await?;
    let told = s
        .until("the reason shown", long, "const w = [...document.querySelectorAll('.banner.warn')].map(e => e.textContent).find(t => t.includes('the system ended the screen cast')); return w || null;")
        .await?;
    anyhow::ensure!(told.is_string(), "{told}");
    peer.expect("track_unsubscribed", json!({"kind": "video"}))
        .await?;
    let phase = s
        .until("still in the call", long, "const e = document.querySelector('[data-testid=screen-call]'); return e ? e.dataset.phase : null;")
        .await?;
    anyhow::ensure!(phase == "connected", "the call is {phase}");
    Ok(())
}
