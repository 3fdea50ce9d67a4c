//! The webview's walls, in the real app (under Xvfb, through tauri-driver):
//! from inside the page — where injected markup would run — nothing reaches
//! the network (fetch, images, scripts, frames, navigation, pop-ups; a
//! loopback server records any attempt), inline event handlers do not run,
//! and plugin commands the UI has no permission for are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tandem_testkit::canned::{Canned, Reply};
use tandem_testkit::display::Xvfb;
use tandem_testkit::webdriver::{Driver, Session};

mod common;

const APP: &str = env!("CARGO_BIN_EXE_tandem");

#[test]
fn the_page_cannot_reach_out_or_call_what_it_was_not_granted() {
    common::block_on(run());
}

async fn run() {
    let dir = common::Scratch::new("surface");
    let outside = Canned::start();
    for path in [
        "/fetch",
        "/img",
        "/script.js",
        "/frame",
        "/nav",
        "/popup",
        "/style.css",
    ] {
        outside.set(path, Reply::new(200, "text/plain", "reached"));
    }
    let x = Xvfb::start(1200, 800);
    let env = common::app_env(&dir, &x.display);
    let driver = Driver::start(&common::pairs(&env)).unwrap();
    let s = driver.session(Path::new(APP)).await.unwrap();
    let result = drive(&s, &outside).await;
    if result.is_err() {
        let shots = tandem_testkit::workspace_root().join("target/app-e2e");
        let _ = std::fs::create_dir_all(&shots);
        x.screenshot(&shots.join("surface-failure.png"));
    }
    let _ = s.close().await;
    drop(driver);
    result.unwrap();
}

async fn drive(s: &Session, outside: &Canned) -> anyhow::Result<()> {
    s.testid("screen-connect").await?;
    let base = outside.url("");
    // Everything a hostile string could try once it were markup in the page.
    s.script(
        r#"
        const base = arguments[0];
        window.__results = {};
        fetch(base + '/fetch').then(() => { window.__results.fetch = 'reached'; },
                                    (e) => { window.__results.fetch = 'blocked'; });
        const img = document.createElement('img');
        img.onload = () => { window.__results.img = 'reached'; };
        img.onerror = () => { window.__results.img = 'blocked'; };
        img.src = base + '/img';
        document.body.appendChild(img);
        const script = document.createElement('script');
        script.src = base + '/script.js';
        document.body.appendChild(script);
        const link = document.createElement('link');
        link.rel = 'stylesheet';
        link.href = base + '/style.css';
        document.head.appendChild(link);
        const frame = document.createElement('iframe');
        frame.src = base + '/frame';
        document.body.appendChild(frame);
        // Inline handlers: what chat-borne markup relies on.
        const div = document.createElement('div');
        div.innerHTML = '<img src="data:," onerror="window.__pwned = 1"><svg onload="window.__pwned = 2"></svg>';
        document.body.appendChild(div);
        try { window.open(base + '/popup'); } catch (e) {}
        window.__TAURI_INTERNALS__.invoke('plugin:updater|check', {}).then(
            () => { window.__results.plugin = 'allowed'; },
            (e) => { window.__results.plugin = 'refused: ' + e; });
        // The same call path works for what the UI was granted.
        window.__TAURI_INTERNALS__.invoke('app_status', {}).then(
            () => { window.__results.granted = 'allowed'; },
            (e) => { window.__results.granted = 'refused: ' + e; });
        window.__TAURI_INTERNALS__.invoke('plugin:deep-link|get_current', {}).then(
            () => { window.__results.deeplink = 'allowed'; },
            (e) => { window.__results.deeplink = 'refused: ' + e; });
        return true;
        "#,
        json!([base]),
    )
    .await?;
    let results = s
        .until(
            "the attempts to settle",
            Duration::from_secs(20),
            "const r = window.__results; return r && r.fetch && r.img && r.plugin && r.deeplink && r.granted ? r : null;",
        )
        .await?;
    eprintln!("from inside the page: {results}");
    anyhow::ensure!(results["granted"] == "allowed", "app_status: {results}");
    anyhow::ensure!(results["fetch"] == "blocked", "fetch: {results}");
    anyhow::ensure!(results["img"] == "blocked", "img: {results}");
    for cmd in ["plugin", "deeplink"] {
        let said = results[cmd].as_str().unwrap_or_default();
        anyhow::ensure!(said.starts_with("refused"), "{cmd}: {results}");
    }
    // Navigating away is refused: the app stays on its own page.
    s.script(
        "window.location.href = arguments[0] + '/nav'; return true;",
        json!([base]),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let here = s.script("return window.location.href;", json!([])).await?;
    anyhow::ensure!(
        !here.as_str().unwrap_or_default().contains("127.0.0.1"),
        "the page navigated to {here}"
    );
    s.testid("screen-connect").await?;
    let pwned = s
        .script("return window.__pwned ?? null;", json!([]))
        .await?;
    anyhow::ensure!(pwned.is_null(), "an inline handler ran: {pwned}");
    let hits: Vec<String> = outside.hits().into_iter().map(|h| h.target).collect();
    anyhow::ensure!(hits.is_empty(), "the page reached out: {hits:?}");
    Ok(())
}
