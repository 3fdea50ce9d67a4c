//! Reading the call screen of the real app through WebDriver: joining from
//! prejoin, the chat on screen, the remote name and picture (as the X
//! screen shows it), and the app's memory.

use std::time::Duration;

use serde_json::json;
use tandem_testkit::procstat;
use tandem_testkit::webdriver::Session;

/// On prejoin: types `name`, joins, and waits until the call is connected.
pub(crate) async fn join_from_prejoin(s: &Session, name: &str) -> anyhow::Result<()> {
    s.testid("screen-prejoin").await?;
    s.fill(&s.testid("display-name").await?, name).await?;
    s.click(&s.testid("join").await?).await?;
    s.until(
        "connected",
        Duration::from_secs(30),
        "const e = document.querySelector('[data-testid=screen-call]'); return e && e.dataset.phase === 'connected';",
    )
    .await?;
    Ok(())
}

/// The texts of the chat messages on screen, oldest first.
const CHAT_TEXTS: &str =
    "return [...document.querySelectorAll('[data-testid=chat-text]')].map(e => e.textContent);";

pub(crate) async fn chat_texts(s: &Session) -> anyhow::Result<Vec<String>> {
    Ok(serde_json::from_value(
        s.script(CHAT_TEXTS, json!([])).await?,
    )?)
}

/// Waits until the newest message on screen is `text`.
pub(crate) async fn until_last_chat(
    s: &Session,
    text: &str,
    within: Duration,
) -> anyhow::Result<()> {
    s.until(
        &format!("chat message {text:?}"),
        within,
        &format!(
            "const t = [...document.querySelectorAll('[data-testid=chat-text]')].map(e => e.textContent); return t.length && t[t.length - 1] === {} ? t.length : null;",
            json!(text)
        ),
    )
    .await
    .map(|_| ())
}

/// Frames of the peer's picture drawn so far; -1 without one.
pub(crate) async fn drawn(s: &Session) -> anyhow::Result<i64> {
    let v = s
        .script(
            "const e = document.querySelector('[data-testid=remote-video]'); return e ? Number(e.dataset.drawn) : -1;",
            json!([]),
        )
        .await?;
    Ok(v.as_i64().unwrap_or(-1))
}

pub(crate) const REMOTE_NAME: &str = "const e = document.querySelector('[data-testid=remote-name]'); return e ? e.textContent : null;";

/// The app's processes (tandem and WebKit's helpers) in MiB.
pub(crate) fn app_rss(driver_pid: u32) -> f64 {
    let procs: Vec<(u32, String)> = procstat::tree(driver_pid)
        .into_iter()
        .filter(|(_, name)| {
            name == "tandem" || name.starts_with("WebKitWeb") || name.starts_with("WebKitNet")
        })
        .collect();
    let each: Vec<String> = procs
        .iter()
        .map(|(p, n)| format!("{n} {:.0}", procstat::rss_mib(*p)))
        .collect();
    eprintln!("app memory (MiB): {}", each.join(", "));
    procs.iter().map(|(p, _)| procstat::rss_mib(*p)).sum()
}

/// Where `testid`'s element is on the X screen: x, y, width, height.
pub(crate) async fn on_screen(s: &Session, testid: &str) -> anyhow::Result<Option<[i32; 4]>> {
    let v = s
        .script(
            "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"]`); if (!e) return null; const r = e.getBoundingClientRect(); return [window.screenX + r.x, window.screenY + r.y, r.width, r.height].map(Math.round);",
            json!([testid]),
        )
        .await?;
    Ok(serde_json::from_value(v).ok())
}

/// Waits until the middle of `testid`'s element, read from the X screen
/// (whichever way the app drew it), passes `test`; returns its colour.
pub(crate) async fn until_colour_on_screen(
    s: &Session,
    display: &str,
    testid: &str,
    within: Duration,
    test: impl Fn([u8; 3]) -> bool,
) -> anyhow::Result<[u8; 3]> {
    let deadline = std::time::Instant::now() + within;
    let mut last = None;
    loop {
        if let Some([x, y, w, h]) = on_screen(s, testid).await?
            && w >= 16
            && h >= 16
        {
            last =
                tandem_testkit::display::mean_colour(display, x + w / 2 - 4, y + h / 2 - 4, 8, 8);
            if let Some(c) = last.filter(|c| test(*c)) {
                return Ok(c);
            }
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("{testid} never showed the expected colour on screen (last: {last:?})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Which way the app draws `testid`'s video: "native" or "page".
pub(crate) async fn video_path(s: &Session, testid: &str) -> anyhow::Result<String> {
    Ok(s.attribute(&s.testid(testid).await?, "data-path")
        .await?
        .unwrap_or_default())
}
