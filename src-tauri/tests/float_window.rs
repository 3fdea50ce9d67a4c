//! The floating window, in the real app under Xvfb with a window manager
//! (openbox, so that minimising is real): in a call with LiveKit's Python
//! SDK as the other person, minimising the main window brings up a small
//! window on top showing them; its mute and camera buttons reach the other
//! person; "back to the call" restores the main window, and the small one
//! goes; switching to another window brings it back, and its Leave ends
//! the call, which the main window shows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::json;
use tandem_testkit::peer::Peer;
use tandem_testkit::pulse::FakeAudio;
use tandem_testkit::token;
use tandem_testkit::webdriver::Session;

mod common;

use common::call_page::join_from_prejoin;

/// The window manager on the test's display, stopped when dropped.
struct WindowManager(Child);

impl WindowManager {
    fn start(display: &str) -> WindowManager {
        let child = Command::new("openbox")
            .args(["--sm-disable"])
            .env("DISPLAY", display)
            .spawn()
            .expect("openbox (Debian package openbox; `cargo xtask setup` installs it)");
        // Running once it owns the screen's window manager selection.
        let (x, n) = x11rb::connect(Some(display)).expect("the X display");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            use x11rb::protocol::xproto::ConnectionExt as _;
            let atom = x
                .intern_atom(false, format!("WM_S{n}").as_bytes())
                .unwrap()
                .reply()
                .unwrap()
                .atom;
            let owner = x.get_selection_owner(atom).unwrap().reply().unwrap().owner;
            if owner != x11rb::NONE {
                break;
            }
            assert!(Instant::now() < deadline, "openbox did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        WindowManager(child)
    }
}

impl Drop for WindowManager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_floating_window_shows_the_call_while_the_app_is_minimised() {
    tandem_testkit::media_test(
        "the_floating_window_shows_the_call_while_the_app_is_minimised",
        |ip| async move {
            let audio = FakeAudio::start("float");
            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            let dir = common::Scratch::new("float");
            let (backend, demo) = common::backend_with_demo(&dir, &ds.url()).await;
            let mut peer = Peer::python(
                "coach-peer",
                &ds.url(),
                &token::join_named(&demo.session_id, "coach-peer", "Coach Dana"),
            )
            .await
            .unwrap();
            peer.cmd(json!({"cmd": "publish_video", "color": [200, 40, 160], "width": 320, "height": 180, "fps": 10}))
                .await
                .unwrap();
            peer.cmd(json!({"cmd": "publish_audio", "freq": 520}))
                .await
                .unwrap();

            let x = tandem_testkit::display::Xvfb::start(1280, 860);
            let wm = WindowManager::start(&x.display);
            let mut env = common::app_env(&dir, &x.display);
            env.push(("PULSE_SERVER", audio.server.clone()));
            let driver = tandem_testkit::webdriver::Driver::start(&common::pairs(&env)).unwrap();
            let link = common::client_link(&backend, &demo);
            let s = driver
                .session_with_args(std::path::Path::new(env!("CARGO_BIN_EXE_tandem")), &[&link])
                .await
                .unwrap();
            let shots = tandem_testkit::workspace_root().join("target/app-e2e");
            let _ = std::fs::create_dir_all(&shots);
            let result = drive(&s, &x, &mut peer, &shots).await;
            if result.is_err() {
                x.screenshot(&shots.join("float-failure-screen.png"));
            }
            let _ = s.close().await;
            drop(driver);
            drop(wm);
            peer.kill().await;
            backend.stop().await;
            ds.stop().await;
            result.unwrap();
        },
    );
}

/// Waits until the app has `n` windows; returns their handles.
async fn windows(s: &Session, n: usize, within: Duration) -> anyhow::Result<Vec<String>> {
    let deadline = Instant::now() + within;
    loop {
        let handles = s.window_handles().await?;
        if handles.len() == n {
            return Ok(handles);
        }
        if Instant::now() > deadline {
            anyhow::bail!("the app has {} windows, not {n}", handles.len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The floating window's handle, once it is the app's second window.
async fn floating(s: &Session, main: &str) -> anyhow::Result<String> {
    let handles = windows(s, 2, Duration::from_secs(10)).await?;
    handles
        .into_iter()
        .find(|h| h != main)
        .ok_or_else(|| anyhow::anyhow!("no floating window"))
}

async fn drive(
    s: &Session,
    x: &tandem_testkit::display::Xvfb,
    peer: &mut Peer,
    shots: &std::path::Path,
) -> anyhow::Result<()> {
    join_from_prejoin(s, "Sam Client").await?;
    let main = s.window_handle().await?;
    s.until(
        "the peer's picture",
        Duration::from_secs(20),
        "const e = document.querySelector('[data-testid=remote-video]'); return e && Number(e.dataset.drawn) > 0;",
    )
    .await?;
    // With WebKit's DMA-BUF renderer off (as these tests run it), the app
    // falls back by itself to drawing video in the page.
    let path = common::call_page::video_path(s, "remote-video").await?;
    anyhow::ensure!(path == "page", "video drawn by the {path:?} path");
    // In front, nothing floats.
    tokio::time::sleep(Duration::from_secs(1)).await;
    anyhow::ensure!(
        s.window_handles().await?.len() == 1,
        "a floating window while the app is in front"
    );

    // Minimised: the small window shows the other person, on top.
    s.minimize().await?;
    let float = floating(s, &main).await?;
    s.switch_to_window(&float).await?;
    s.until(
        "the floating window's picture",
        Duration::from_secs(15),
        "const e = document.querySelector('[data-testid=float-video]'); return e && Number(e.dataset.drawn) > 0;",
    )
    .await?;
    let name = s.text(&s.testid("float-name").await?).await?;
    anyhow::ensure!(name == "Coach Dana", "the floating window names {name:?}");
    x.screenshot(&shots.join("float-minimised-screen.png"));

    // Its mute and camera reach the other person.
    s.click(&s.testid("float-mic").await?).await?;
    peer.expect("track_muted", json!({"kind": "audio"})).await?;
    s.until(
        "the mute shown",
        Duration::from_secs(5),
        "const e = document.querySelector('[data-testid=float-mic]'); return e && e.dataset.on === 'false';",
    )
    .await?;
    s.click(&s.testid("float-camera").await?).await?;
    peer.expect("track_muted", json!({"kind": "video"})).await?;

    // Back to the call: the main window returns, muted as the small one
    // left it, and the small one goes.
    s.click(&s.testid("float-back").await?).await?;
    windows(s, 1, Duration::from_secs(10)).await?;
    s.switch_to_window(&main).await?;
    let pressed = s
        .attribute(&s.testid("toggle-mic").await?, "aria-pressed")
        .await?;
    anyhow::ensure!(
        pressed.as_deref() == Some("true"),
        "the main window's mute button says {pressed:?}"
    );
    s.click(&s.testid("toggle-mic").await?).await?;
    peer.expect("track_unmuted", json!({"kind": "audio"}))
        .await?;

    // Another window takes the focus: the small window comes back; its
    // Leave asks, then ends the call, which the main window shows.
    // (Once the window manager has settled the main window's return.)
    tokio::time::sleep(Duration::from_secs(1)).await;
    let elsewhere = common::notifications::ElsewhereFocused::take(&x.display);
    let float = floating(s, &main).await?;
    s.switch_to_window(&float).await?;
    s.click(&s.testid("float-leave").await?).await?;
    s.click(&s.testid("float-leave-confirm").await?).await?;
    peer.expect("participant_disconnected", json!({})).await?;
    windows(s, 1, Duration::from_secs(10)).await?;
    s.switch_to_window(&main).await?;
    s.wait_for("[data-testid=screen-ended]", Duration::from_secs(10))
        .await?;
    drop(elsewhere);
    Ok(())
}
