//! One Tandem at a time: with the app running (under Xvfb, in a private
//! D-Bus session), launching it again with a `tandem://` join link — what
//! the OS does when a link is clicked — hands the link to the running app,
//! which shows prejoin for that session, and the second launch exits. A
//! malformed link shows an error and joins nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use tandem_testkit::display::Xvfb;
use tandem_testkit::webdriver::{Driver, Session};

mod common;

const TEST: &str = "a_second_launch_hands_its_link_to_the_running_app";
const APP: &str = env!("CARGO_BIN_EXE_tandem");

#[test]
fn a_second_launch_hands_its_link_to_the_running_app() {
    if common::ran_in_private_dbus(TEST) {
        return;
    }
    common::block_on(run());
}

/// Launches the app again with `link`, as the OS would, and waits for that
/// second process to hand over and exit.
fn launch_again(env: &[(&str, String)], link: &str) {
    let mut second = Command::new(APP);
    second.arg(link);
    for (k, v) in env {
        second.env(k, v);
    }
    let mut child = second.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the second launch failed: {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the second launch did not hand over and exit");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn run() {
    let dir = common::Scratch::new("second-launch");
    let (backend, demo) = common::backend_with_demo(&dir, "ws://127.0.0.1:9").await;
    let link = common::client_link(&backend, &demo);
    let x = Xvfb::start(1200, 800);
    let env = common::app_env_single_instance(&dir, &x.display);
    let driver = Driver::start(&common::pairs(&env)).unwrap();
    let s = driver.session(std::path::Path::new(APP)).await.unwrap();
    let result = drive(&s, &env, &link).await;
    if result.is_err() {
        let shots = tandem_testkit::workspace_root().join("target/app-e2e");
        let _ = std::fs::create_dir_all(&shots);
        x.screenshot(&shots.join("second-launch-failure.png"));
    }
    let _ = s.close().await;
    drop(driver);
    result.unwrap();
}

async fn drive(s: &Session, env: &[(&str, String)], link: &str) -> anyhow::Result<()> {
    s.testid("screen-connect").await?;
    launch_again(env, link);
    s.testid("screen-prejoin").await?;
    let title = s.text(&s.testid("session-title").await?).await?;
    anyhow::ensure!(
        title == "Session with Casey Coach",
        "prejoin shows {title:?}"
    );

    // A malformed link: an error that says so, nothing joined.
    launch_again(env, "tandem://join?backend=javascript:alert(1)&link=x");
    s.testid("screen-error").await?;
    let code = s
        .script(
            "return document.querySelector('[data-testid=screen-error]').getAttribute('data-code');",
            serde_json::json!([]),
        )
        .await?;
    anyhow::ensure!(code == "invalid_input", "error code {code}");
    Ok(())
}
