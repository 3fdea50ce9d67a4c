//! Desktop-app benchmark (not a timed test), in a private network namespace
//! with the dev server and backend; the app runs under Xvfb through
//! tauri-driver, so the webview draws with software GL (Mesa llvmpipe):
//! - start → connect screen (app launch to the first screen, N times);
//! - Join → first remote frame drawn;
//! - a remote 1280×720 30 fps stream (the stamped test pattern and a tone,
//!   sent by an in-process tandem-call session), shown full-view by the app
//!   on the native path and on the `frames:` path: frames delivered and
//!   drawn per second, added latency (received from LiveKit → drawn), CPU
//!   and memory (peak PSS and RSS) of all the app's processes (tandem,
//!   WebKit's web and network processes);
//! - the decode floor: the same tandem-call session as `tandem-cli join`
//!   (this program run again), receiving the same stream and drawing
//!   nothing;
//! - LiveKit's JS SDK in headed Chromium on the same Xvfb, its <video>
//!   filling a window of the app's view size: frames played per second, CPU
//!   and memory of Chromium's processes (not its Node driver).
//!
//! Everyone plays the remote sound into a private PulseAudio's null sink.
//! By default every receiver has its camera and microphone off; with
//! `--full` each also sends a 1280×720 30 fps camera and its microphone and
//! shows its own picture in the corner (the app's picture-in-picture; a
//! 240×135 mirrored <video> in Chromium), as in a real call.
//!
//!     cargo bench -p tandem --bench app [-- STARTS SECONDS] [--full]
//!
//! `BENCH_LOG=tandem_app=debug,tandem_call=debug,warn` shows the app's log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tandem_call::media::camera::{CameraChoice, CaptureFormat, PatternColour};
use tandem_call::session::{self, CallConfig, CallEvent, MediaConfig, SessionType, TokenSource};
use tandem_testkit::display::Xvfb;
use tandem_testkit::peer::Peer;
use tandem_testkit::procstat::{cpu_time, percentile, pss_mib, pss_total, total, tree};
use tandem_testkit::pulse::FakeAudio;
use tandem_testkit::webdriver::{Driver, Session};
use tandem_testkit::{netns, token};

const APP: &str = env!("CARGO_BIN_EXE_tandem");

/// Set (to `URL\tTOKEN\tFULL`) in the copy of this program that measures
/// the decode floor.
const FLOOR: &str = "TANDEM_BENCH_FLOOR";

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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn main() {
    if let Ok(spec) = std::env::var(FLOOR) {
        runtime().block_on(floor(&spec));
        return;
    }
    let ip = netns::enter_program();
    let full = std::env::args().any(|a| a == "--full");
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let starts: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(5);
    let window = Duration::from_secs(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10));
    // Sound for everyone in this run: the remote tone is played into a
    // null sink, and the microphones hear a tone.
    let audio = FakeAudio::start("app-bench");
    audio.use_in_this_process();
    audio.play_tone_into_mic(440);
    runtime().block_on(run(ip, starts, window, full));
    drop(audio);
}

/// The receivers' sending, as the table's title says it.
fn what(full: bool) -> &'static str {
    if full {
        "full call: each receiver also sends a 720p30 camera and its microphone, its own picture shown"
    } else {
        "receive only: cameras and microphones off"
    }
}

async fn run(ip: std::net::IpAddr, starts: usize, window: Duration, full: bool) {
    let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
        .await
        .unwrap();
    let dir = common::Scratch::new("app-bench");
    let (backend, demo) = common::backend_with_demo(&dir, &ds.url()).await;
    let link = common::client_link(&backend, &demo);

    // The remote stream: 720p30 stamped pattern and a tone, in this process.
    let (_sender, mut sender_events) = session::start(CallConfig::new(
        TokenSource::Direct {
            url: ds.url(),
            token: token::join_named(&demo.session_id, "coach-sender", "Coach"),
        },
        SessionType::Video,
        MediaConfig {
            capture: CaptureFormat {
                width: 1280,
                height: 720,
                fps: 30,
            },
            ..MediaConfig::synthetic(330.0)
        },
    ));
    tokio::spawn(async move { while sender_events.recv().await.is_some() {} });

    let x = Xvfb::start(1280, 860);
    let mut env = common::app_env(&dir, &x.display);
    // BENCH_LOG: the app's log filter (RUST_LOG syntax), to see why a join
    // was slow.
    let log = std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into());
    env.push(("RUST_LOG", log.clone()));
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

    // The call on each video path.
    let mut native_env = common::app_env_native(&dir, &x.display);
    native_env.push(("RUST_LOG", log));
    let native = in_call(&native_env, &link, x.pid(), window, full).await;
    let page = in_call(&env, &link, x.pid(), window, full).await;

    // The decode floor: the same session, nothing drawn.
    let floor = floor_run(
        &ds.url(),
        &token::join_named(&demo.session_id, "floor", "Floor"),
        x.pid(),
        window,
        full,
    )
    .await;

    // The same stream in Chromium with LiveKit's JS SDK, headed, on the
    // same Xvfb, its <video> filling a page of the size the app's remote
    // view had.
    let chromium = chromium(
        &ds.url(),
        &demo.session_id,
        &x,
        &native.element,
        window,
        full,
    )
    .await;

    println!(
        "\nDesktop app benchmark ({} starts, {:.0} s windows; Xvfb, software GL; {})\n",
        starts,
        window.as_secs_f64(),
        what(full)
    );
    println!(
        "start → connect screen: p50 {:.0} ms, max {:.0} ms",
        percentile(&mut start_ms.clone(), 0.5),
        percentile(&mut start_ms, 1.0)
    );
    for r in [&native, &page] {
        println!(
            "{}: Join → first remote frame drawn {:.0} ms; remote view {}; own picture drawn {:.1} fps; CPU and PSS by process: {}",
            r.path,
            r.first,
            r.element,
            r.own_drawn,
            r.each.join(", ")
        );
    }
    println!(
        "\n| receiver of the 720p30 stream | delivered fps | drawn fps | added latency p50 / p95 ms | CPU % (all processes) | X server CPU % | PSS MiB (peak, sum) | RSS MiB (peak, sum) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in [&native, &page] {
        println!(
            "| Tandem app, {} ({}) | {:.1} | {:.1} | {:.0} / {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            r.path,
            r.names.join(" + "),
            r.delivered,
            r.drawn,
            r.p50,
            r.p95,
            r.use_.cpu,
            r.use_.x_cpu,
            r.use_.pss,
            r.use_.rss
        );
    }
    println!(
        "| decode floor: tandem-call session, nothing drawn | {:.1} | — | — | {:.0} | {:.0} | {:.0} | {:.0} |",
        floor.delivered, floor.use_.cpu, floor.use_.x_cpu, floor.use_.pss, floor.use_.rss
    );
    println!(
        "| Chromium + LiveKit JS SDK, headed, <video> {} ({}) | — | {:.1} (played) | — | {:.0} | {:.0} | {:.0} | {:.0} |",
        native.element,
        chromium.names.join(" + "),
        chromium.played,
        chromium.use_.cpu,
        chromium.use_.x_cpu,
        chromium.use_.pss,
        chromium.use_.rss
    );
    println!(
        "\nAgainst Chromium: CPU native {:.2}×, page {:.2}×; PSS native {:.2}×, page {:.2}×.",
        native.use_.cpu / chromium.use_.cpu,
        page.use_.cpu / chromium.use_.cpu,
        native.use_.pss / chromium.use_.pss,
        page.use_.pss / chromium.use_.pss,
    );
    println!(
        "Against the decode floor: CPU native {:.2}×, page {:.2}×; Chromium's CPU is {:.2}× the floor.",
        native.use_.cpu / floor.use_.cpu,
        page.use_.cpu / floor.use_.cpu,
        chromium.use_.cpu / floor.use_.cpu,
    );
    let with_x = |u: &Use| u.cpu + u.x_cpu;
    println!(
        "With the X server's CPU: native {:.2}× Chromium, page {:.2}×.",
        with_x(&native.use_) / with_x(&chromium.use_),
        with_x(&page.use_) / with_x(&chromium.use_),
    );
}

/// What a set of processes used over a window.
#[derive(Debug, Default, Clone, Copy)]
struct Use {
    /// % of one core.
    cpu: f64,
    /// Peak of the summed PSS, MiB.
    pss: f64,
    /// Peak of the summed RSS, MiB.
    rss: f64,
    /// The X server's CPU in the same time (% of one core): what drawing
    /// to the screen costs there, for the app and Chromium alike.
    x_cpu: f64,
    /// The seconds it really took.
    secs: f64,
}

/// What `pids` use over `window`, memory sampled twice a second, and the
/// X server `x`'s CPU in that time.
async fn watch(pids: &[u32], x: u32, window: Duration) -> Use {
    let (c0, _) = total(pids);
    let x0 = cpu_time(x);
    let t0 = Instant::now();
    let mut u = Use::default();
    while t0.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(500)).await;
        u.rss = u.rss.max(total(pids).1);
        u.pss = u.pss.max(pss_total(pids));
    }
    u.secs = t0.elapsed().as_secs_f64();
    let (c1, _) = total(pids);
    u.cpu = (c1 - c0).as_secs_f64() / u.secs * 100.0;
    u.x_cpu = (cpu_time(x) - x0).as_secs_f64() / u.secs * 100.0;
    u
}

/// One path's figures.
struct InCall {
    path: String,
    first: f64,
    /// The remote view's size, WxH CSS pixels.
    element: String,
    names: Vec<String>,
    each: Vec<String>,
    delivered: f64,
    drawn: f64,
    /// The own picture's drawn fps (0 with the camera off).
    own_drawn: f64,
    p50: f64,
    p95: f64,
    use_: Use,
}

/// Joins with the app in `env` (camera and microphone off, or on when
/// `full`), measures the remote stream for `window`, and leaves.
async fn in_call(
    env: &[(&'static str, String)],
    link: &str,
    x: u32,
    window: Duration,
    full: bool,
) -> InCall {
    let driver = Driver::start(&common::pairs(env)).unwrap();
    let s = driver
        .session_with_args(Path::new(APP), &[link])
        .await
        .unwrap();
    s.testid("screen-prejoin").await.unwrap();
    s.fill(&s.testid("display-name").await.unwrap(), "Bench client")
        .await
        .unwrap();
    for switch in ["camera-on", "mic-on"] {
        let checked = s
            .script(
                &format!("return document.querySelector('[data-testid={switch}]').checked;"),
                json!([]),
            )
            .await
            .unwrap();
        if checked.as_bool().unwrap_or(false) != full {
            s.click(&s.testid(switch).await.unwrap()).await.unwrap();
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
    let counts = async || {
        (
            number(&s, "remote-video", "data-received").await,
            number(&s, "remote-video", "data-drawn").await,
            number(&s, "local-video", "data-drawn").await,
        )
    };
    let (r0, d0, o0) = counts().await;
    let each0: Vec<Duration> = pids.iter().map(|&p| cpu_time(p)).collect();
    let use_ = watch(&pids, x, window).await;
    let (r1, d1, o1) = counts().await;
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
                "{n} {:.0} % {:.0} MiB",
                (cpu_time(p) - c0).as_secs_f64() / use_.secs * 100.0,
                pss_mib(p)
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
    let own_drawn = if o1.is_finite() && o0.is_finite() {
        (o1 - o0) / use_.secs
    } else {
        0.0
    };
    InCall {
        path: if path == "native" {
            "native".into()
        } else {
            "frames: (page)".into()
        },
        first,
        element,
        names,
        each,
        delivered: (r1 - r0) / use_.secs,
        drawn: (d1 - d0) / use_.secs,
        own_drawn,
        p50,
        p95,
        use_,
    }
}

/// The decode floor's figures.
struct Floor {
    delivered: f64,
    use_: Use,
}

/// Runs this program again as a receiver that draws nothing (see
/// [`floor`]) and measures it for `window`.
async fn floor_run(url: &str, token: &str, x: u32, window: Duration, full: bool) -> Floor {
    let mut child: Child = Command::new(std::env::current_exe().unwrap())
        .env(FLOOR, format!("{url}\t{token}\t{}", u8::from(full)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the decode floor's process");
    // Its stdout: the frames received so far, one line at a time.
    let frames = Arc::new(AtomicU64::new(0));
    let out = child.stdout.take().unwrap();
    let seen = frames.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(n) = line.trim().parse::<u64>() {
                seen.store(n, Ordering::Relaxed);
            }
        }
    });
    let t0 = Instant::now();
    while frames.load(Ordering::Relaxed) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the decode floor received no video"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let f0 = frames.load(Ordering::Relaxed);
    let use_ = watch(&[child.id()], x, window).await;
    let f1 = frames.load(Ordering::Relaxed);
    // Closing its input makes it leave the call.
    drop(child.stdin.take());
    let t1 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t1.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.wait();
    Floor {
        delivered: f1.saturating_sub(f0) as f64 / use_.secs,
        use_,
    }
}

/// The decode floor (this program, with [`FLOOR`] set): the tandem-call
/// session `tandem-cli join` runs, with the app's media choices (the test
/// pattern camera at 1280×720, the default microphone, processed, and the
/// default speaker), receiving the stream and drawing nothing. Prints the
/// video frames received so far every quarter second; leaves when its
/// input closes.
async fn floor(spec: &str) {
    let mut parts = spec.split('\t');
    let (url, token, full) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
        parts.next() == Some("1"),
    );
    let (handle, mut events) = session::start(CallConfig {
        mic_on: full,
        camera_on: full,
        ..CallConfig::new(
            TokenSource::Direct { url, token },
            SessionType::Video,
            MediaConfig {
                camera: CameraChoice::TestPattern(PatternColour::ORANGE),
                ..MediaConfig::devices()
            },
        )
    });
    let (eof_tx, mut eof) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
        let _ = eof_tx.send(());
    });
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let n: u64 = handle.received().values().map(|r| r.video_frames).sum();
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{n}");
                let _ = out.flush();
            }
            _ = &mut eof => break,
            ev = events.recv() => match ev {
                None | Some(CallEvent::State(session::CallState::Ended(_))) => return,
                Some(CallEvent::State(session::CallState::Failed(e))) => {
                    eprintln!("decode floor: {e}");
                    return;
                }
                _ => {}
            },
        }
    }
    let _ = handle.leave();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(ev) = events.recv().await {
            if matches!(ev, CallEvent::State(session::CallState::Ended(_))) {
                break;
            }
        }
    })
    .await;
}

/// Chromium's figures.
struct Chromium {
    played: f64,
    names: Vec<String>,
    use_: Use,
}

/// LiveKit's JS SDK in headed Chromium (`WxH` window on `display`), as the
/// app was: receiving, or with `full` sending its fake camera (shown in the
/// corner) and microphone.
async fn chromium(
    url: &str,
    room: &str,
    x: &Xvfb,
    size: &str,
    window: Duration,
    full: bool,
) -> Chromium {
    let mut js = Peer::browser_with(
        "js",
        url,
        &token::join(room, "js-viewer"),
        &["--headed", size, "--display", &x.display],
    )
    .await
    .unwrap();
    if full {
        js.cmd(json!({"cmd": "publish_camera", "width": 1280, "height": 720, "fps": 30, "preview": true}))
            .await
            .unwrap();
        js.cmd(json!({"cmd": "publish_mic"})).await.unwrap();
    }
    let played = |st: &Value| {
        st["video"]["coach-sender"]["played"]
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    js.stats_until(Duration::from_secs(30), |st| played(st) > 30.0)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    // Chromium's own processes; its Node driver (Playwright) is left out.
    let procs: Vec<(u32, String)> = tree(js.pid().unwrap())
        .into_iter()
        .filter(|(_, n)| n != "node")
        .collect();
    let pids: Vec<u32> = procs.iter().map(|(p, _)| *p).collect();
    let mut names: Vec<String> = procs.into_iter().map(|(_, n)| n).collect();
    names.dedup();
    let f0 = played(&js.stats().await.unwrap());
    let use_ = watch(&pids, x.pid(), window).await;
    let f1 = played(&js.stats().await.unwrap());
    js.kill().await;
    Chromium {
        played: (f1 - f0) / use_.secs,
        names,
        use_,
    }
}
