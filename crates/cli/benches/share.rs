//! What sharing a screen costs (a benchmark, not a timed test): in a private
//! network namespace with the dev server, `tandem-cli join` shares a
//! 1920×1080 Xvfb screen whose content keeps changing (a block moving over
//! a page of stripes, repainted ten times a second) to LiveKit's Python SDK,
//! which reads every picture. Rounds alternate between the same call without
//! sharing and with it. Prints the sender's CPU, the pictures the receiver
//! got per second and their size, as a table.
//!
//!     cargo bench -p tandem-cli --bench share [-- ROUNDS SECONDS]
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tandem_devserver::{Config, Server};
use tandem_testkit::display::Xvfb;
use tandem_testkit::peer::Peer;
use tandem_testkit::procstat::{cpu_time, percentile};
use tandem_testkit::{netns, process, token};
use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{ConnectionExt as _, CreateGCAux, Rectangle};

const BIN: &str = env!("CARGO_BIN_EXE_tandem-cli");
const SIZE: (u16, u16) = (1920, 1080);

/// Repaints the screen ten times a second until `stop`: stripes, and a
/// block that moves, so every picture differs (a page being scrolled).
fn paint(display: String, stop: Arc<AtomicBool>) {
    let (x, n) = x11rb::connect(Some(&display)).unwrap();
    let root = x.setup().roots[n].root;
    let gc = x.generate_id().unwrap();
    x.create_gc(gc, root, &CreateGCAux::new()).unwrap();
    let mut step: i16 = 0;
    while !stop.load(Ordering::Relaxed) {
        for (i, colour) in [0x00f0_f0f0u32, 0x0030_3040].iter().enumerate() {
            let rows: Vec<Rectangle> = (0..54)
                .filter(|r| r % 2 == i as i16)
                .map(|r| Rectangle {
                    x: 0,
                    y: r * 20 + step % 20,
                    width: SIZE.0,
                    height: 20,
                })
                .collect();
            x.change_gc(
                gc,
                &x11rb::protocol::xproto::ChangeGCAux::new().foreground(*colour),
            )
            .unwrap();
            x.poly_fill_rectangle(root, gc, &rows).unwrap();
        }
        x.change_gc(
            gc,
            &x11rb::protocol::xproto::ChangeGCAux::new().foreground(0x00d0_4020),
        )
        .unwrap();
        x.poly_fill_rectangle(
            root,
            gc,
            &[Rectangle {
                x: (step * 17) % 1700,
                y: 400,
                width: 220,
                height: 220,
            }],
        )
        .unwrap();
        x.flush().unwrap();
        step = step.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One call of `seconds`: (sender CPU %, pictures received per second, the
/// received picture's size), sharing or not.
async fn round(
    url: &str,
    display: &str,
    room: &str,
    share: bool,
    seconds: u64,
) -> (f64, f64, String) {
    let mut peer = Peer::python_with("receiver", url, &token::join(room, "receiver"), &[])
        .await
        .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "join",
        "--url",
        url,
        "--token",
        &token::join(room, "sharer"),
    ])
    .args([
        "--camera",
        "none",
        "--mic",
        "silence",
        "--speaker",
        "none",
        "--stats",
        "0",
    ])
    .env("DISPLAY", display)
    .stdin(Stdio::piped());
    if share {
        cmd.args(["--share", "screen:0"]);
    }
    let (child, _lines) = process::spawn_lines(&mut cmd);
    let mut sharer = process::Killed(child);
    let frames =
        |s: &serde_json::Value| s["video"]["sharer#screen"]["frames"].as_u64().unwrap_or(0);
    if share {
        peer.stats_until(Duration::from_secs(30), |s| frames(s) > 30)
            .await
            .unwrap();
    } else {
        peer.expect(
            "track_subscribed",
            json!({"identity": "sharer", "kind": "audio"}),
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = frames(&peer.stats().await.unwrap());
    let pid = sharer.0.id();
    let cpu0 = cpu_time(pid);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let window = t0.elapsed().as_secs_f64();
    let cpu = (cpu_time(pid) - cpu0).as_secs_f64() / window * 100.0;
    let s = peer.stats().await.unwrap();
    let fps = (frames(&s) - before) as f64 / window;
    let v = &s["video"]["sharer#screen"];
    let size = format!("{}×{}", v["width"], v["height"]);
    tokio::task::spawn_blocking(move || process::interrupt(&mut sharer.0))
        .await
        .unwrap();
    peer.disconnect().await.unwrap();
    (cpu, fps, size)
}

fn main() {
    let ip = netns::enter_program();
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(3).clamp(1, 10);
    let seconds = args.get(1).copied().unwrap_or(15).clamp(5, 120);
    let xvfb = Xvfb::start(u32::from(SIZE.0), u32::from(SIZE.1));
    let stop = Arc::new(AtomicBool::new(false));
    let painter = {
        let (display, stop) = (xvfb.display.clone(), stop.clone());
        std::thread::spawn(move || paint(display, stop))
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = Server::start(Config::for_tests(ip)).await.unwrap();
        let url = server.url();
        let (mut idle, mut sharing) = (Vec::new(), Vec::new());
        let mut sizes = Vec::new();
        for r in 0..rounds {
            // Alternate, so a warming machine does not favour one side.
            for share in [false, true] {
                let room = format!("share-{r}-{share}");
                let (cpu, fps, size) = round(&url, &xvfb.display, &room, share, seconds).await;
                if share {
                    println!("round {r} sharing: sender CPU {cpu:.1} %, {fps:.1} pictures/s received at {size}");
                    sharing.push((cpu, fps));
                    sizes.push(size);
                } else {
                    println!("round {r} not sharing: sender CPU {cpu:.1} %");
                    idle.push((cpu, fps));
                }
            }
        }
        let med = |v: &[(f64, f64)], i: usize| {
            let mut x: Vec<f64> = v.iter().map(|p| if i == 0 { p.0 } else { p.1 }).collect();
            percentile(&mut x, 0.5)
        };
        println!();
        println!("tandem-cli sharing a changing 1920×1080 Xvfb screen at 15 fps to the Python SDK, {rounds} rounds of {seconds} s (medians):");
        println!("| sender | CPU % (one core = 100) | pictures/s received | received size |");
        println!("|---|---:|---:|---|");
        println!("| in the call, not sharing | {:.1} | – | – |", med(&idle, 0));
        println!("| sharing the screen | {:.1} | {:.1} | {} |", med(&sharing, 0), med(&sharing, 1), sizes.first().cloned().unwrap_or_default());
        server.stop().await;
    });
    stop.store(true, Ordering::Relaxed);
    let _ = painter.join();
}
