//! Load benchmark (not a timed test): N LiveKit Python SDK participants each
//! publish synthetic 720p30 VP8 + Opus and subscribe to everyone else,
//! through the dev server inside a private network namespace. Prints the
//! server's CPU and memory, datagrams forwarded per second, join times and
//! the worst receive frame rate. Bounded: three room sizes, ~15 s each.
//!
//!     cargo bench -p tandem-devserver --bench sfu_load [-- 2 5 10]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tandem_devserver::{Config, Server};
use tandem_testkit::peer::Peer;
use tandem_testkit::{netns, token};

const WARMUP: Duration = Duration::from_secs(4);
const MEASURE: Duration = Duration::from_secs(10);

/// This process's CPU time (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // `rest` starts at field 3 (state, not a number) so utime is index 10 here.
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx]
}

fn frames_by_sender(stats: &Value) -> Vec<(String, u64)> {
    stats["video"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v["frames"].as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

struct Row {
    n: usize,
    cpu_pct: f64,
    rss_mib: f64,
    peak_mib: f64,
    datagrams_out_s: f64,
    mbit_out_s: f64,
    join_p50: f64,
    join_p95: f64,
    min_fps: f64,
}

async fn run(ip: std::net::IpAddr, n: usize) -> Row {
    let server = Server::start(Config::for_tests(ip)).await.unwrap();
    let url = server.url();
    let room = format!("bench-{n}");
    let mut peers = Vec::new();
    let mut joins = Vec::new();
    for i in 0..n {
        let name = format!("p{i}");
        let p = Peer::python(&name, &url, &token::join(&room, &name))
            .await
            .unwrap();
        let ms = p
            .history
            .iter()
            .find(|e| e["event"] == "connected")
            .and_then(|e| e["connect_ms"].as_f64())
            .unwrap_or(f64::NAN);
        joins.push(ms);
        peers.push(p);
    }
    for (i, p) in peers.iter_mut().enumerate() {
        let shade = (40 + i * 20) as u64;
        p.cmd(json!({"cmd": "publish_video", "color": [shade, 100, 200], "width": 1280, "height": 720, "fps": 30, "simulcast": false}))
            .await
            .unwrap();
        p.cmd(json!({"cmd": "publish_audio", "freq": 300 + 50 * i}))
            .await
            .unwrap();
    }
    for p in &mut peers {
        for j in 0..n {
            let other = format!("p{j}");
            if other != p.name {
                p.expect_within(
                    Duration::from_secs(60),
                    "track_subscribed",
                    json!({"identity": other, "kind": "video"}),
                )
                .await
                .unwrap();
            }
        }
    }
    tokio::time::sleep(WARMUP).await;
    let mut before = Vec::new();
    for p in &mut peers {
        before.push(frames_by_sender(&p.stats().await.unwrap()));
    }
    let (t0, c0, tr0) = (Instant::now(), cpu_time(), server.traffic().await.unwrap());
    tokio::time::sleep(MEASURE).await;
    let (t1, c1, tr1) = (Instant::now(), cpu_time(), server.traffic().await.unwrap());
    let wall = (t1 - t0).as_secs_f64();
    let mut min_fps = f64::INFINITY;
    for (p, b) in peers.iter_mut().zip(&before) {
        for (sender, frames) in frames_by_sender(&p.stats().await.unwrap()) {
            let start = b.iter().find(|(s, _)| *s == sender).map_or(0, |(_, f)| *f);
            // The stats call itself takes time; the frame window is at least `wall`.
            min_fps = min_fps.min(frames.saturating_sub(start) as f64 / (wall + 0.5));
        }
    }
    let rss = status_kib("VmRSS:") as f64 / 1024.0;
    let peak = status_kib("VmHWM:") as f64 / 1024.0;
    for p in peers {
        p.disconnect().await.unwrap();
    }
    server.stop().await;
    joins.sort_by(f64::total_cmp);
    Row {
        n,
        cpu_pct: (c1 - c0).as_secs_f64() / wall * 100.0,
        rss_mib: rss,
        peak_mib: peak,
        datagrams_out_s: (tr1.datagrams_out - tr0.datagrams_out) as f64 / wall,
        mbit_out_s: (tr1.bytes_out - tr0.bytes_out) as f64 * 8.0 / wall / 1e6,
        join_p50: percentile(&joins, 0.5),
        join_p95: percentile(&joins, 0.95),
        min_fps: if min_fps.is_finite() { min_fps } else { 0.0 },
    }
}

fn main() {
    let ip = netns::enter_program();
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .filter(|n| (2..=16).contains(n))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![2, 5, 10]
    } else {
        sizes
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "tandem-devserver load: each participant publishes 1280x720 30 fps VP8 (no simulcast) + Opus, everyone subscribed"
    );
    println!(
        "server CPU and memory are this process's (the SDK peers are separate processes); {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!(
        "| participants | server CPU % | RSS MiB (peak) | datagrams out/s | Mbit/s out | join p50 ms | join p95 ms | worst receive fps |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let r = rt.block_on(run(ip, n));
        println!(
            "| {} | {:.1} | {:.1} ({:.1}) | {:.0} | {:.2} | {:.0} | {:.0} | {:.1} |",
            r.n,
            r.cpu_pct,
            r.rss_mib,
            r.peak_mib,
            r.datagrams_out_s,
            r.mbit_out_s,
            r.join_p50,
            r.join_p95,
            r.min_fps
        );
    }
}
