//! Seed 004's peer-to-peer call beside the LiveKit path, in one run (not a
//! timed test), inside a private network namespace: tandem-backend books
//! two video sessions; in one, two `tandem-cli join` processes meet through
//! the dev server (LiveKit), in the other they meet peer to peer (`--p2p`,
//! the backend's Socket.IO room). Each sends the stamped 1280×720 30 fps
//! test pattern and a tone and receives the other's. Printed: delivered fps,
//! capture-to-receipt delay read from the stamp in the picture (the same
//! clock, one machine), and each process's CPU and peak RSS.
//!
//!     cargo bench -p tandem-cli --bench p2p [-- SECONDS]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tandem_backend::dev::{add_link, book};
use tandem_devserver::{Config, Server};
use tandem_testkit::procstat::{cpu_time, percentile, rss_mib};
use tandem_testkit::{netns, process};

const BIN: &str = env!("CARGO_BIN_EXE_tandem-cli");

const SEND_720P: &[&str] = &[
    "--camera",
    "test-pattern",
    "--capture",
    "1280x720@30",
    "--mic",
    "tone",
    "--speaker",
    "none",
    "--stats",
    "1",
    "--json-stats",
];

fn join(backend: &str, link: &str, p2p: bool) -> (Child, mpsc::Receiver<String>) {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "join",
        "--backend",
        backend,
        "--profile",
        "004",
        "--link",
        link,
    ])
    .args(SEND_720P)
    .stdin(Stdio::piped())
    .stdout(Stdio::piped());
    if p2p {
        cmd.args(["--p2p", "--socket-url", backend]);
    }
    process::spawn_lines(&mut cmd)
}

/// One side's figures over the window.
struct Side {
    fps: Vec<f64>,
    delay: Vec<f64>,
    cpu: f64,
    rss: f64,
}

async fn measure(
    backend: &str,
    coach_link: &str,
    client_link: &str,
    p2p: bool,
    seconds: u64,
) -> [Side; 2] {
    let (mut a, a_lines) = join(backend, coach_link, p2p);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (mut b, b_lines) = join(backend, client_link, p2p);
    // Settle: both receiving video.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = [false, false];
    while seen != [true, true] {
        assert!(
            Instant::now() < deadline,
            "the two never saw each other's video"
        );
        for (i, lines) in [&a_lines, &b_lines].into_iter().enumerate() {
            while let Ok(l) = lines.try_recv() {
                if let Some(json) = l.strip_prefix("stats ")
                    && serde_json::from_str::<serde_json::Value>(json).unwrap()["fps"]
                        .as_f64()
                        .unwrap_or(0.0)
                        > 0.0
                {
                    seen[i] = true;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for lines in [&a_lines, &b_lines] {
        while lines.try_recv().is_ok() {}
    }
    let pids = [a.id(), b.id()];
    let cpu0 = pids.map(cpu_time);
    let t0 = Instant::now();
    let mut sides = [(); 2].map(|_| Side {
        fps: Vec::new(),
        delay: Vec::new(),
        cpu: 0.0,
        rss: 0.0,
    });
    while t0.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for (i, lines) in [&a_lines, &b_lines].into_iter().enumerate() {
            sides[i].rss = sides[i].rss.max(rss_mib(pids[i]));
            while let Ok(line) = lines.try_recv() {
                let Some(json) = line.strip_prefix("stats ") else {
                    continue;
                };
                let v: serde_json::Value = serde_json::from_str(json).unwrap();
                if let Some(f) = v["fps"].as_f64() {
                    sides[i].fps.push(f);
                }
                if let Some(l) = v["latency_ms"].as_f64() {
                    sides[i].delay.push(l);
                }
            }
        }
    }
    let window = t0.elapsed().as_secs_f64();
    for (i, side) in sides.iter_mut().enumerate() {
        side.cpu = (cpu_time(pids[i]) - cpu0[i]).as_secs_f64() / window * 100.0;
    }
    tokio::task::spawn_blocking(move || {
        process::interrupt(&mut a);
        process::interrupt(&mut b);
    })
    .await
    .unwrap();
    sides
}

fn main() {
    let ip = netns::enter_program();
    let seconds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<u64>().ok())
        .unwrap_or(15)
        .clamp(5, 120);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let server = Server::start(Config::for_tests(ip)).await.unwrap();
        let db_path = std::env::temp_dir().join(format!("tandem-p2p-bench-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&db_path);
        let backend = tandem_backend::start(tandem_backend::Config::for_tests(
            &format!("sqlite://{}", db_path.display()),
            &server.url(),
            "p2p-bench-secret-0123456789",
        ))
        .await
        .unwrap();
        let url = backend.url();
        let mut rows = Vec::new();
        for (p2p, label) in [(false, "LiveKit (dev server)"), (true, "peer to peer (seed 004)")] {
            let b = book(&backend.state.db, if p2p { "bench-p2p" } else { "bench-lk" }, "video", 60)
                .await
                .unwrap();
            let coach = add_link(&backend.state.db, &b.session, &b.coach, "astrologer", 3600)
                .await
                .unwrap();
            let sides = measure(&url, &coach, &b.link, p2p, seconds).await;
            rows.push((label, sides));
        }
        println!();
        println!("two tandem-cli processes in a call for {seconds} s, each sending 720p30 + tone and receiving the other's:");
        println!("| path | side | fps | delay p50 ms | delay p95 ms | CPU % (one core = 100) | peak RSS MiB |");
        println!("|---|---|---:|---:|---:|---:|---:|");
        for (label, sides) in rows {
            for (side, mut s) in ["coach", "client"].into_iter().zip(sides) {
                let fps = s.fps.iter().sum::<f64>() / s.fps.len().max(1) as f64;
                println!(
                    "| {label} | {side} | {fps:.1} | {:.0} | {:.0} | {:.1} | {:.1} |",
                    percentile(&mut s.delay.clone(), 0.5),
                    percentile(&mut s.delay, 0.95),
                    s.cpu,
                    s.rss
                );
            }
        }
        server.stop().await;
    });
}
