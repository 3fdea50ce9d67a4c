//! The installed app, as a person gets it: installs the `.deb` that
//! `cargo xtask bundle` built (`apt-get install`), checks that the package
//! holds the LiveKit library, its licence and a desktop entry that claims
//! `tandem://` links, runs `/usr/bin/tandem` under Xvfb through
//! tauri-driver to the connect screen, opens a join link the way a browser
//! does (`xdg-open`, which starts a second Tandem that hands the link to the
//! running one), sees prejoin for that session, and shows that a missing
//! library or an unreachable update feed each give a clear message while
//! the rest of the app keeps working. Removes the package afterwards.
//!
//! Needs root and a built package:
//! `cargo xtask bundle && cargo test -p tandem --test installed -- --ignored`
//! (the newest package, or `TANDEM_DEB=path`)
//! (`cargo xtask test` does both).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use tandem_testkit::display::Xvfb;
use tandem_testkit::webdriver::{Driver, Session};

mod common;

const TEST: &str = "the_installed_app_opens_links_and_explains_what_is_missing";
const BIN: &str = "/usr/bin/tandem";
const LIB_DIR: &str = "/usr/lib/Tandem";
const LIB: &str = "/usr/lib/Tandem/liblivekit_ffi.so";

#[test]
#[ignore = "installs a package as root: run by `cargo xtask test` after `cargo xtask bundle` (TANDEM_DEB=path)"]
fn the_installed_app_opens_links_and_explains_what_is_missing() {
    if common::ran_in_private_dbus(TEST) {
        return;
    }
    let deb = std::env::var_os("TANDEM_DEB")
        .map(PathBuf::from)
        .unwrap_or_else(newest_deb);
    let deb = std::fs::canonicalize(&deb).unwrap_or_else(|e| panic!("{}: {e}", deb.display()));
    let installed = Installed::install(&deb);
    check_package_files();
    common::block_on(run());
    drop(installed);
}

/// The package `cargo xtask bundle` wrote last.
fn newest_deb() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| tandem_testkit::workspace_root().join("target"));
    let dir = target.join("release/bundle/deb");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "no packages in {} ({e}): run `cargo xtask bundle`",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| panic!("no .deb in {}: run `cargo xtask bundle`", dir.display()))
}

/// The package, removed again on every way out.
struct Installed;

impl Installed {
    fn install(deb: &Path) -> Installed {
        let out = Command::new("apt-get")
            .args(["install", "-y", "--reinstall", "--no-install-recommends"])
            .arg(deb)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .expect("apt-get");
        assert!(
            out.status.success(),
            "apt-get install {} failed (this test needs root):\n{}",
            deb.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Installed
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("apt-get")
            .args(["remove", "-y", "tandem"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output();
    }
}

fn check_package_files() {
    let files = String::from_utf8(
        Command::new("dpkg")
            .args(["-L", "tandem"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for want in [
        BIN,
        LIB,
        "/usr/lib/Tandem/LICENSE-livekit.md",
        "/usr/share/applications/Tandem.desktop",
    ] {
        assert!(
            files.lines().any(|l| l == want),
            "the package lacks {want}; it has:\n{files}"
        );
    }
    let licence = std::fs::read_to_string("/usr/lib/Tandem/LICENSE-livekit.md").unwrap();
    assert!(
        licence.contains("webrtc") || licence.contains("WebRTC"),
        "the licence file is not LiveKit's"
    );
    let entry = std::fs::read_to_string("/usr/share/applications/Tandem.desktop").unwrap();
    assert!(
        entry.lines().any(|l| l == "Exec=tandem %u"),
        "the desktop entry does not pass links on:\n{entry}"
    );
    assert!(
        entry
            .lines()
            .any(|l| l.starts_with("MimeType=") && l.contains("x-scheme-handler/tandem")),
        "the desktop entry does not claim tandem:// links:\n{entry}"
    );
    let handler = Command::new("xdg-mime")
        .args(["query", "default", "x-scheme-handler/tandem"])
        .output()
        .expect("xdg-mime (Debian package xdg-utils)");
    assert_eq!(
        String::from_utf8_lossy(&handler.stdout).trim(),
        "Tandem.desktop",
        "the system does not send tandem:// links to Tandem"
    );
}

/// The library moved aside, and put back on every way out.
struct LibraryAway(PathBuf);

impl LibraryAway {
    fn new() -> LibraryAway {
        let aside = std::env::temp_dir().join(format!("liblivekit-aside-{}", std::process::id()));
        std::fs::rename(LIB, &aside).unwrap();
        LibraryAway(aside)
    }
}

impl Drop for LibraryAway {
    fn drop(&mut self) {
        let _ = std::fs::rename(&self.0, LIB);
    }
}

async fn run() {
    let dir = common::Scratch::new("installed");
    let (backend, demo) = common::backend_with_demo(&dir, "ws://127.0.0.1:9").await;
    let link = common::client_link(&backend, &demo);
    let x = Xvfb::start(1200, 800);
    // The installed app as the OS starts it: one instance, links handed over.
    let env: Vec<(&str, String)> = common::app_env_single_instance(&dir, &x.display)
        .into_iter()
        .chain([
            (
                // Nothing listens there: the start-up update check must fail
                // clearly and harmlessly.
                "TANDEM_UPDATE_FEED",
                "https://127.0.0.1:9/latest.json".to_owned(),
            ),
            // Not this machine's setup cache: the installed app must find the
            // library it ships.
            (
                "TANDEM_CACHE_DIR",
                dir.0.join("no-cache").display().to_string(),
            ),
        ])
        .collect();
    let shots = tandem_testkit::workspace_root().join("target/app-e2e");
    let _ = std::fs::create_dir_all(&shots);

    let driver = Driver::start(&common::pairs(&env)).unwrap();
    let s = driver.session(Path::new(BIN)).await.unwrap();
    let result = with_library(&s, &env, &link).await;
    x.screenshot(&shots.join(if result.is_ok() {
        "installed-prejoin.png"
    } else {
        "installed-failure.png"
    }));
    let _ = s.close().await;
    drop(driver);
    result.unwrap();

    let away = LibraryAway::new();
    let driver = Driver::start(&common::pairs(&env)).unwrap();
    let s = driver.session(Path::new(BIN)).await.unwrap();
    let result = without_library(&s).await;
    x.screenshot(&shots.join(if result.is_ok() {
        "installed-no-library.png"
    } else {
        "installed-no-library-failure.png"
    }));
    let _ = s.close().await;
    drop(driver);
    drop(away);
    result.unwrap();
    assert!(Path::new(LIB).is_file(), "the library was not put back");
    let _ = std::fs::read_dir(LIB_DIR);
}

async fn with_library(s: &Session, env: &[(&str, String)], link: &str) -> anyhow::Result<()> {
    s.testid("screen-connect").await?;
    // The update feed cannot be reached: said so, nothing else changes.
    s.until(
        "the failed update check to be shown",
        std::time::Duration::from_secs(40),
        "return document.querySelector('[data-testid=update-status]')?.dataset.phase === 'failed';",
    )
    .await?;
    let said = s.text(&s.testid("update-status").await?).await?;
    anyhow::ensure!(
        said.contains("cannot be reached") || said.contains("could not be reached"),
        "the update status says {said:?}"
    );
    let fine = s
        .script(
            "return document.querySelector('[data-testid=library-problem]') === null;",
            serde_json::json!([]),
        )
        .await?;
    anyhow::ensure!(
        fine == serde_json::json!(true),
        "the installed app says its call library is missing"
    );

    // A click on a join link in a browser or mail: xdg-open starts Tandem
    // through its desktop entry; that second Tandem hands the link over.
    let mut open = Command::new("xdg-open");
    open.arg(link);
    for (k, v) in env {
        open.env(k, v);
    }
    let status = open.status()?;
    anyhow::ensure!(status.success(), "xdg-open failed: {status}");
    s.testid("screen-prejoin").await?;
    let title = s.text(&s.testid("session-title").await?).await?;
    anyhow::ensure!(
        title == "Session with Casey Coach",
        "prejoin shows {title:?}"
    );
    Ok(())
}

async fn without_library(s: &Session) -> anyhow::Result<()> {
    s.testid("screen-connect").await?;
    let problem = s.text(&s.testid("library-problem").await?).await?;
    anyhow::ensure!(
        problem.contains("Calls cannot start: its call library (liblivekit_ffi.so) is missing")
            && problem.contains("Reinstall Tandem")
            && !problem.contains("cargo"),
        "the missing library is explained as {problem:?}"
    );
    // The rest of the app still works: adding a platform opens its form.
    let add = s.testid("add-platform").await?;
    s.click(&add).await?;
    s.testid("add-platform-form").await?;
    Ok(())
}
