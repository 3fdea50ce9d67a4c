//! Updates in the real app (under Xvfb, through tauri-driver) against a
//! loopback feed signed with a key made for the test: every way a feed goes
//! wrong gets its own message on the connect screen and changes nothing
//! else; a newer version is offered in a banner; a package whose signature
//! does not hold is downloaded, refused with a clear message, and the app
//! keeps working.
//!
//! Debug builds only: they are the ones that take `TANDEM_UPDATE_PUBKEY`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use tandem_testkit::canned::{Canned, Reply};
use tandem_testkit::display::Xvfb;
use tandem_testkit::webdriver::{Driver, Session};

mod common;

const APP: &str = env!("CARGO_BIN_EXE_tandem");
const PACKAGE: &[u8] = b"\x7fELF pretend this is Tandem 9.9.9";

fn b64(s: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A signing key as Tauri's updater takes it: the public half is the
/// minisign public-key file, base64-encoded.
struct Key(minisign::KeyPair);

impl Key {
    fn new() -> Key {
        Key(minisign::KeyPair::generate_unencrypted_keypair().unwrap())
    }

    fn public(&self) -> String {
        b64(self.0.pk.to_box().unwrap().to_string())
    }

    /// The feed's `signature` for `data`, bound to `version` as the Tauri
    /// CLI binds it (`version:` in the trusted comment).
    fn sign(&self, data: &[u8], version: &str) -> String {
        let comment = format!("timestamp:1700000000\tfile:tandem.AppImage\tversion:{version}");
        let sig = minisign::sign(
            Some(&self.0.pk),
            &self.0.sk,
            Cursor::new(data),
            Some(&comment),
            None,
        )
        .unwrap();
        b64(sig.to_string())
    }
}

/// This system's key in the feed (what a debug build, which is no
/// installer, looks up).
fn shots_dir() -> std::path::PathBuf {
    let d = tandem_testkit::workspace_root().join("target/app-e2e");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn platform() -> String {
    format!("linux-{}", std::env::consts::ARCH)
}

fn feed(version: &str, platforms: serde_json::Value) -> Reply {
    Reply::json(
        200,
        &json!({
            "version": version,
            "notes": "Sharper video on slow links",
            "pub_date": "2026-11-20T10:00:00Z",
            "platforms": platforms,
        }),
    )
}

#[test]
fn the_app_explains_every_broken_feed_and_refuses_a_badly_signed_update() {
    common::block_on(run());
}

async fn run() {
    let dir = common::Scratch::new("updates");
    let server = Canned::start();
    let key = Key::new();
    // The first answer the app gets, at start: a proxy's error page.
    server.set("/latest.json", Reply::html(200));
    let x = Xvfb::start(1200, 800);
    let env: Vec<(&str, String)> = common::app_env(&dir, &x.display)
        .into_iter()
        .chain([
            ("TANDEM_UPDATE_FEED", server.url("/latest.json")),
            ("TANDEM_UPDATE_PUBKEY", key.public()),
        ])
        .collect();
    let driver = Driver::start(&common::pairs(&env)).unwrap();
    let s = driver.session(Path::new(APP)).await.unwrap();
    let result = drive(&s, &x, &server, &key).await;
    x.screenshot(&shots_dir().join(if result.is_ok() {
        "updates-refused.png"
    } else {
        "updates-failure.png"
    }));
    let _ = s.close().await;
    drop(driver);
    result.unwrap();
}

/// Waits for the footer's update status to settle in `phase` and returns
/// what it says.
async fn settled(s: &Session, phase: &str) -> anyhow::Result<String> {
    let script = format!(
        "const e = document.querySelector('[data-testid=update-status]'); \
         return e && e.dataset.phase === '{phase}' ? e.textContent : null;"
    );
    let text = s
        .until(
            &format!("the update status to be {phase}"),
            Duration::from_secs(30),
            &script,
        )
        .await?;
    Ok(text.as_str().unwrap_or_default().to_owned())
}

/// Serves `reply`, asks again with "Check for updates", and returns the
/// status once it settles in `phase`.
async fn check_with(
    s: &Session,
    server: &Canned,
    reply: Reply,
    phase: &str,
) -> anyhow::Result<String> {
    server.set("/latest.json", reply);
    let before = server.count("/latest.json");
    s.click(&s.testid("update-check").await?).await?;
    // Once the feed is asked the earlier outcome is gone ("checking").
    let asked = std::time::Instant::now();
    while server.count("/latest.json") == before {
        anyhow::ensure!(
            asked.elapsed() < Duration::from_secs(30),
            "the check did not reach the feed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    settled(s, phase).await
}

fn expect(said: &str, part: &str, case: &str) -> anyhow::Result<()> {
    anyhow::ensure!(said.contains(part), "{case}: the app says {said:?}");
    anyhow::ensure!(
        !said.contains("reqwest") && !said.contains("serde") && !said.contains("Error("),
        "{case}: developer text reaches the person: {said:?}"
    );
    Ok(())
}

async fn drive(s: &Session, x: &Xvfb, server: &Canned, key: &Key) -> anyhow::Result<()> {
    s.testid("screen-connect").await?;
    let not_a_feed = "not a Tandem update feed";
    expect(&settled(s, "failed").await?, not_a_feed, "an HTML page")?;

    let cases = [
        (
            "malformed JSON",
            Reply::new(
                200,
                "application/json",
                r#"{"version": "9.9.9", "platforms": "#,
            ),
            not_a_feed,
        ),
        (
            "JSON that is not a feed",
            Reply::json(200, &json!({"version": 7})),
            not_a_feed,
        ),
        (
            "a server error",
            Reply::html(500),
            "did not answer with an update feed",
        ),
        (
            "no entry for this system",
            feed(
                "9.9.9",
                json!({"windows-x86_64": {"url": "https://example.invalid/t.msi", "signature": "x"}}),
            ),
            "no update for this system",
        ),
    ];
    for (case, reply, part) in cases {
        expect(&check_with(s, server, reply, "failed").await?, part, case)?;
        // Nothing else changed: no offer, still on the connect screen.
        anyhow::ensure!(
            s.find("[data-testid=update-offer]").await?.is_none(),
            "{case}: an update is offered"
        );
        s.testid("screen-connect").await?;
    }

    // The feed's version is ours: up to date.
    let same = feed(
        env!("CARGO_PKG_VERSION"),
        json!({ platform(): {"url": server.url("/tandem.AppImage"), "signature": key.sign(PACKAGE, env!("CARGO_PKG_VERSION"))} }),
    );
    expect(
        &check_with(s, server, same, "current").await?,
        "up to date",
        "the same version",
    )?;

    // A newer version whose package was signed by someone else's key.
    server.set(
        "/tandem.AppImage",
        Reply::new(200, "application/octet-stream", PACKAGE),
    );
    let stranger = Key::new();
    let newer = feed(
        "9.9.9",
        json!({ platform(): {"url": server.url("/tandem.AppImage"), "signature": stranger.sign(PACKAGE, "9.9.9")} }),
    );
    check_with(s, server, newer, "available").await?;
    let offer = s.text(&s.testid("update-offer").await?).await?;
    anyhow::ensure!(
        offer.contains("Tandem 9.9.9 is available: Sharper video on slow links"),
        "the offer reads {offer:?}"
    );
    x.screenshot(&shots_dir().join("updates-offer.png"));
    s.click(&s.testid("update-install").await?).await?;
    let said = settled(s, "failed").await?;
    expect(
        &said,
        "not signed by Tandem's key",
        "a stranger's signature",
    )?;
    anyhow::ensure!(
        server.count("/tandem.AppImage") == 1,
        "the package was not downloaded (so its signature was never checked)"
    );

    // Our key, but signed for another version than the feed announces (an
    // old package passed off as new): refused too, for that reason.
    let old = feed(
        "9.9.9",
        json!({ platform(): {"url": server.url("/tandem.AppImage"), "signature": key.sign(PACKAGE, "9.9.8")} }),
    );
    check_with(s, server, old, "available").await?;
    s.click(&s.testid("update-install").await?).await?;
    expect(
        &settled(s, "failed").await?,
        "not the version the feed announced",
        "a signature for another version",
    )?;

    // Our key, the right version, but the bytes changed on the way.
    let tampered = feed(
        "9.9.9",
        json!({ platform(): {"url": server.url("/tandem.AppImage"), "signature": key.sign(b"the real package", "9.9.9")} }),
    );
    check_with(s, server, tampered, "available").await?;
    s.click(&s.testid("update-install").await?).await?;
    expect(
        &settled(s, "failed").await?,
        "not signed by Tandem's key",
        "changed bytes",
    )?;

    // The app keeps working: the add-platform form (open while there are
    // no platforms) closes and opens.
    let add = s.testid("add-platform").await?;
    s.click(&add).await?;
    anyhow::ensure!(
        s.find("[data-testid=add-platform-form]").await?.is_none(),
        "the add-platform form did not close"
    );
    s.click(&add).await?;
    s.testid("add-platform-form").await?;
    Ok(())
}
