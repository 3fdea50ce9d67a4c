//! Desktop-app benchmark (not a timed test), in a private network namespace
//! with the dev server and backend; the app runs under Xvfb through
//! tauri-driver, so the webview draws with software GL (Mesa llvmpipe):
//! - start → connect screen (app launch to the first screen, N times);
//! - Join → first remote frame drawn;
//! - a remote 1280×720 30 fps stream (the stamped test pattern, sent by an
//!   in-process tandem-call session): frames delivered to the page and drawn
//!   per second, added latency (received from LiveKit → drawn), and CPU and
//!   RSS of all the app's processes (tandem, WebKit's web and network
//!   processes);
//! - then, in the same run, LiveKit's JS SDK in headed Chromium on the same
//!   Xvfb, subscribed to the same stream and showing it in a <video> that
//!   fills a window of the app's view size: frames played per second, and
//!   CPU and RSS of Chromium's processes (and its Node driver).
//!
//!     cargo bench -p tandem --bench app [-- STARTS SECONDS]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tandem_call::media::camera::CaptureFormat;
use tandem_call::session::{self, CallConfig, MediaConfig, SessionType, TokenSource};
use tandem_testkit::display::Xvfb;
use tandem_testkit::peer::Peer;
use tandem_testkit::procstat::{cpu_time, percentile, total, tree};
use tandem_testkit::webdriver::{Driver, Session};
use tandem_testkit::{netns, token};

const APP: &str = env!("CARGO_BIN_EXE_tandem");

#[path = "../tests/common/mod.rs"]
mod common;

fn attr_script(testid: &str, name: &str) -> String {
    format!(
        "const e = document.querySelector('[data-testid=\"{testid}\"]'); return e ? e.getAttribute('{name}') : null;"
    )
}

async fn number(s: &Session, testid: &str, name: &str) -> f64 {
    s.script(&attr_script(testid, name), json!([]))
        .await
        .ok()
        .and_then(|v| v.as_str().and_then(|t| t.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// The app's processes: tandem (below the driver) and everything below it.
fn app_pids(driver: &Driver) -> Vec<u32> {
    let tandem = tree(driver.pid())
        .into_iter()
        .find(|(_, n)| n == "tandem")
        .map(|(p, _)| p)
        .expect("the app's process");
    tree(tandem).into_iter().map(|(p, _)| p).collect()
}

fn main() {
    let ip = netns::enter_program();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let starts: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(5);
    let window = Duration::from_secs(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10));
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(ip, starts, window));
}

async fn run(ip: std::net::IpAddr, starts: usize, window: Duration) {
    let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
        .await
        .unwrap();
    let dir = common::Scratch::new("app-bench");
    let (backend, demo) = common::backend_with_demo(&dir, &ds.url()).await;
    let link = common::client_link(&backend, &demo);

    // The remote stream: 720p30 stamped pattern and a tone, in this process.
    let (_sender, mut sender_events) = session::start(CallConfig {
        token: TokenSource::Direct {
            url: ds.url(),
            token: token::join_named(&demo.session_id, "coach-sender", "Coach"),
        },
        session_type: SessionType::Video,
        paid_minutes: None,
        warn_before: Duration::from_secs(60),
        give_up_after: session::GIVE_UP_AFTER,
        e2ee: None,
        media: MediaConfig {
            capture: CaptureFormat {
                width: 1280,
                height: 720,
                fps: 30,
            },
            ..MediaConfig::synthetic(330.0)
        },
        mic_on: true,
        camera_on: true,
        received_dir: std::env::temp_dir().join("tandem-bench-received"),
    });
    tokio::spawn(async move { while sender_events.recv().await.is_some() {} });

    let x = Xvfb::start(1280, 860);
    let mut env = common::app_env(&dir, &x.display);
    env.push(("RUST_LOG", "warn".into()));
    let driver = Driver::start(&common::pairs(&env)).unwrap();

    // Start → connect screen.
    let mut start_ms = Vec::new();
    for _ in 0..starts {
        let t0 = Instant::now();
        let s = driver.session(Path::new(APP)).await.unwrap();
        s.testid("screen-connect").await.unwrap();
        start_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        s.close().await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(driver);

    // The call on each video path, receiving only (camera and microphone
    // off), as the browser below does.
    let mut native_env = common::app_env_native(&dir, &x.display);
    native_env.push(("RUST_LOG", "warn".into()));
    let native = receive(&native_env, &link, window).await;
    let page = receive(&env, &link, window).await;

    // The same stream in Chromium with LiveKit's JS SDK.
    // Headed, on the same Xvfb, its <video> filling a page of the size the
    // app's remote view had.
    let mut js = Peer::browser_with(
        "js",
        &ds.url(),
        &token::join(&demo.session_id, "js-viewer"),
        &["--headed", &native.element, "--display", &x.display],
    )
    .await
    .unwrap();
    let played = |st: &Value| {
        st["video"]["coach-sender"]["played"]
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    js.stats_until(Duration::from_secs(30), |st| played(st) > 30.0)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let js_pids: Vec<u32> = tree(js.pid().unwrap())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let f0 = played(&js.stats().await.unwrap());
    let (js_cpu, js_rss, jsecs) = watch(&js_pids, window).await;
    let f1 = played(&js.stats().await.unwrap());
    js.kill().await;

    println!(
        "\nDesktop app benchmark ({} starts, {:.0} s windows; Xvfb, software GL; receive only)\n",
        starts,
        window.as_secs_f64()
    );
    println!(
        "start → connect screen: p50 {:.0} ms, max {:.0} ms",
        percentile(&mut start_ms.clone(), 0.5),
        percentile(&mut start_ms, 1.0)
    );
    for r in [&native, &page] {
        println!(
            "{}: Join → first remote frame drawn {:.0} ms; remote view {}; CPU by process: {}",
            r.path,
            r.first,
            r.element,
            r.each.join(", ")
        );
    }
    println!(
        "\n| receiver of the 720p30 stream | delivered fps | drawn fps | added latency p50 / p95 ms | CPU % (all processes) | peak RSS MiB (sum) |"
    );
    println!("|---|---|---|---|---|---|");
    for r in [&native, &page] {
        println!(
            "| Tandem app, {} ({}) | {:.1} | {:.1} | {:.0} / {:.0} | {:.0} | {:.0} |",
            r.path,
            r.names.join(" + "),
            r.delivered,
            r.drawn,
            r.p50,
            r.p95,
            r.cpu,
            r.rss
        );
    }
    println!(
        "| Chromium + LiveKit JS SDK (<video> filling a window of that size, headed) | — | {:.1} (played) | — | {js_cpu:.0} | {js_rss:.0} |",
        (f1 - f0) / jsecs
    );
    println!(
        "\nCPU against Chromium: native {:.2}×, page {:.2}×",
        native.cpu / js_cpu,
        page.cpu / js_cpu
    );
}

/// CPU (% of one core) and peak RSS (MiB, summed) of `pids` over `window`,
/// and the seconds it really took.
async fn watch(pids: &[u32], window: Duration) -> (f64, f64, f64) {
    let (c0, _) = total(pids);
    let t0 = Instant::now();
    let mut rss: f64 = 0.0;
    while t0.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss = rss.max(total(pids).1);
    }
    let secs = t0.elapsed().as_secs_f64();
    let (c1, _) = total(pids);
    ((c1 - c0).as_secs_f64() / secs * 100.0, rss, secs)
}

/// One path's figures.
struct Received {
    path: String,
    first: f64,
    /// The remote view's size, WxH CSS pixels.
    element: String,
    names: Vec<String>,
    each: Vec<String>,
    delivered: f64,
    drawn: f64,
    p50: f64,
    p95: f64,
    cpu: f64,
    rss: f64,
}

/// Joins with the app in `env` (camera and microphone off), measures the
/// remote stream for `window`, and leaves.
async fn receive(env: &[(&'static str, String)], link: &str, window: Duration) -> Received {
    let driver = Driver::start(&common::pairs(env)).unwrap();
    let s = driver
        .session_with_args(Path::new(APP), &[link])
        .await
        .unwrap();
    s.testid("screen-prejoin").await.unwrap();
    s.fill(&s.testid("display-name").await.unwrap(), "Bench client")
        .await
        .unwrap();
    for off in ["camera-on", "mic-on"] {
        let checked = s
            .script(
                &format!("return document.querySelector('[data-testid={off}]').checked;"),
                json!([]),
            )
            .await
            .unwrap();
        if checked.as_bool().unwrap_or(false) {
            s.click(&s.testid(off).await.unwrap()).await.unwrap();
        }
    }
    let join = s.testid("join").await.unwrap();
    s.script("window.__joinClickedAt = Date.now();", json!([]))
        .await
        .unwrap();
    s.click(&join).await.unwrap();
    let first = s
        .until("the first remote frame", Duration::from_secs(30), &format!(
            "const v = (() => {{ {} }})(); return v ? Number(v) - window.__joinClickedAt : null;",
            attr_script("remote-video", "data-first-drawn-at")
        ))
        .await
        .unwrap()
        .as_f64()
        .unwrap_or(f64::NAN);
    let path = s
        .script(&attr_script("remote-video", "data-path"), json!([]))
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();

    // Steady state.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let pids = app_pids(&driver);
    let (r0, d0) = (
        number(&s, "remote-video", "data-received").await,
        number(&s, "remote-video", "data-drawn").await,
    );
    let each0: Vec<Duration> = pids.iter().map(|&p| cpu_time(p)).collect();
    let (cpu, rss, secs) = watch(&pids, window).await;
    let (r1, d1) = (
        number(&s, "remote-video", "data-received").await,
        number(&s, "remote-video", "data-drawn").await,
    );
    let (p50, p95) = (
        number(&s, "remote-video", "data-added-p50").await,
        number(&s, "remote-video", "data-added-p95").await,
    );
    let names: Vec<String> = tree(pids[0]).into_iter().map(|(_, n)| n).collect();
    let each: Vec<String> = pids
        .iter()
        .zip(&each0)
        .zip(&names)
        .map(|((&p, &c0), n)| {
            format!(
                "{n} {:.0} %",
                (cpu_time(p) - c0).as_secs_f64() / secs * 100.0
            )
        })
        .collect();
    let element = s
        .script("const e = document.querySelector('[data-testid=remote-video]'); return e ? `${e.clientWidth}x${e.clientHeight}` : null;", json!([]))
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "1176x616".into());
    s.click(&s.testid("leave").await.unwrap()).await.unwrap();
    s.click(&s.testid("leave-confirm").await.unwrap())
        .await
        .unwrap();
    s.testid("screen-ended").await.unwrap();
    s.close().await.unwrap();
    drop(driver);
    Received {
        path: if path == "native" {
            "native".into()
        } else {
            "frames: (page)".into()
        },
        first,
        element,
        names,
        each,
        delivered: (r1 - r0) / secs,
        drawn: (d1 - d0) / secs,
        p50,
        p95,
        cpu,
        rss,
    }
}
