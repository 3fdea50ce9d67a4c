//! The coach's private notes survive the app being killed mid-typing: the
//! real app under Xvfb, in a call, notes typed, the app killed with SIGKILL
//! while keys are still arriving; started again and back in the session,
//! the notes hold everything that was saved before the kill, in order,
//! never a torn or empty file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use tandem_testkit::pulse::FakeAudio;
use tandem_testkit::webdriver::{Driver, Session};

mod common;

use common::call_page::join_from_prejoin;

/// Confirmed saved before the kill.
const FIRST: &str = "Warm-up: 10 min mobility. ";
/// Typed while the app is killed: long enough that it is still being
/// typed when its first part has been saved.
fn more() -> String {
    "Main set: squats 3x12 at 60 kg, then lunges 3x10 each side; check knee tracking. ".repeat(20)
}

/// The start of [`more`] that must be saved before the kill.
const MORE_SAVED: &str = "Main set: squats";

#[test]
fn notes_survive_the_app_killed_mid_typing() {
    tandem_testkit::media_test("notes_survive_the_app_killed_mid_typing", |ip| async move {
        let audio = FakeAudio::start("notes-kill");
        let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
            .await
            .unwrap();
        let dir = common::Scratch::new("notes-kill");
        let (backend, demo) = common::backend_with_demo(&dir, &ds.url()).await;
        let x = tandem_testkit::display::Xvfb::start(1280, 860);
        let mut env = common::app_env(&dir, &x.display);
        env.push(("PULSE_SERVER", audio.server.clone()));
        let link = common::client_link(&backend, &demo);
        let app = std::path::Path::new(env!("CARGO_BIN_EXE_tandem"));

        // First run: type, see it saved, type on and kill the app meanwhile.
        let driver = Driver::start(&common::pairs(&env)).unwrap();
        let s = driver.session_with_args(app, &[&link]).await.unwrap();
        let typed = type_and_kill(&s, &driver, &dir.0).await;
        drop(driver);
        let at_kill = typed.unwrap();
        let typed = format!("{FIRST}{}", more());

        // Second run: the same session's notes.
        let driver = Driver::start(&common::pairs(&env)).unwrap();
        let s = driver.session_with_args(app, &[&link]).await.unwrap();
        let shown = notes_after_restart(&s).await;
        let _ = s.close().await;
        drop(driver);
        let shown = shown.unwrap();
        eprintln!(
            "notes: {} bytes in the notes file when the app was killed, {} characters there after the restart, {} typed in all",
            at_kill.len(),
            shown.chars().count(),
            typed.chars().count()
        );
        assert!(
            shown.starts_with(&format!("{FIRST}{MORE_SAVED}")),
            "what was saved before the kill is gone: {shown:?}"
        );
        assert!(
            typed.starts_with(&shown) && shown.len() < typed.len(),
            "the notes after the restart are not what was typed up to the kill: {shown:?}"
        );
        backend.stop().await;
        ds.stop().await;
    });
}

/// Joins, types [`FIRST`] and waits until it is saved, then types
/// [`more`] and kills the app with SIGKILL as soon as a part of it is on
/// disk (under `dir`), while keys are still arriving. Returns the notes
/// file as it was just before the kill.
async fn type_and_kill(s: &Session, driver: &Driver, dir: &Path) -> anyhow::Result<String> {
    join_from_prejoin(s, "Coach Kim").await?;
    s.click(&s.testid("toggle-notes").await?).await?;
    let area = s.testid("notes-text").await?;
    s.type_text(&area, FIRST).await?;
    s.until(
        "the first notes saved",
        Duration::from_secs(10),
        "const e = document.querySelector('[data-testid=notes-status]'); return e && e.dataset.status === 'saved' && document.querySelector('[data-testid=notes-text]').value.length > 0;",
    )
    .await?;
    let typing = {
        let s = s.clone();
        let area = area.clone();
        tokio::spawn(async move { s.type_text(&area, &more()).await })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let on_disk = loop {
        let saved = notes_files(dir);
        if saved.contains(MORE_SAVED) {
            break saved;
        }
        anyhow::ensure!(
            Instant::now() < deadline && !typing.is_finished(),
            "nothing typed was saved while typing went on"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let pids: Vec<u32> = tandem_testkit::procstat::tree(driver.pid())
        .into_iter()
        .filter(|(_, name)| name == "tandem")
        .map(|(p, _)| p)
        .collect();
    anyhow::ensure!(!pids.is_empty(), "the app's process was not found");
    for pid in pids {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let _ = typing.await;
    Ok(on_disk)
}

/// Everything in the app's notes folder under `dir`, as text.
fn notes_files(dir: &Path) -> String {
    fn walk(p: &Path, out: &mut String) {
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.components().any(|c| c.as_os_str() == "notes") {
                    out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
                }
            }
        }
    }
    let mut out = String::new();
    walk(&dir.join("data"), &mut out);
    out
}

/// Back in the session after a restart: the notes panel's text, once loaded.
async fn notes_after_restart(s: &Session) -> anyhow::Result<String> {
    join_from_prejoin(s, "Coach Kim").await?;
    s.click(&s.testid("toggle-notes").await?).await?;
    let v = s
        .until(
            "the notes loaded",
            Duration::from_secs(10),
            "const t = document.querySelector('[data-testid=notes-text]'); const st = document.querySelector('[data-testid=notes-status]'); return t && st && st.dataset.status !== 'failed' && t.value.length > 0 ? t.value : null;",
        )
        .await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}
