//! Call benchmark (not a timed test), in a private network namespace with
//! the dev server: `tandem-cli bot` sends the stamped 1280×720 30 fps test
//! pattern and a tone; then
//! - join: `tandem-cli join` started N times, command → first remote frame;
//! - steady state: one `tandem-cli join` and one LiveKit Python-SDK peer are
//!   both in the call, each sending 720p30 video and a tone and receiving
//!   the bot and each other, for a measured window: delivered fps and
//!   capture-to-receipt delay of the bot's stream (read from the stamp in
//!   the picture), and each process's CPU and RSS.
//!
//!     cargo bench -p tandem-cli --bench call [-- JOINS SECONDS]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tandem_devserver::{Config, Server};
use tandem_testkit::peer::Peer;
use tandem_testkit::procstat::{cpu_time, percentile, rss_mib};
use tandem_testkit::{netns, process, token};

const BIN: &str = env!("CARGO_BIN_EXE_tandem-cli");

/// Starts `tandem-cli join` receiving only; its stdout lines arrive on the channel.
/// Sends nothing (only receives).
const RECEIVE_ONLY: &[&str] = &["--camera", "none", "--mic", "silence", "--speaker", "none"];
/// Sends the pattern at 720p30 and a tone, as a participant in a call.
const SEND_720P: &[&str] = &[
    "--camera",
    "test-pattern",
    "--capture",
    "1280x720@30",
    "--mic",
    "tone",
    "--tone-hz",
    "330",
    "--speaker",
    "none",
];

fn join(url: &str, identity: &str, media: &[&str]) -> (Child, mpsc::Receiver<String>) {
    process::spawn_lines(
        Command::new(BIN)
            .args([
                "join",
                "--url",
                url,
                "--token",
                &token::join("bench", identity),
            ])
            .args(media)
            .args(["--stats", "1", "--json-stats"])
            .stdin(Stdio::piped()),
    )
}

fn main() {
    let ip = netns::enter_program();
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let joins = args.first().copied().unwrap_or(5).clamp(1, 20) as usize;
    let seconds = args.get(1).copied().unwrap_or(15).clamp(5, 120);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let server = Server::start(Config::for_tests(ip)).await.unwrap();
        let url = server.url();
        let mut bot = Command::new(BIN)
            .args(["bot", "--url", &url, "--token", &token::join("bench", "bot")])
            .args(["--capture", "1280x720@30", "--stats", "0"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;

        // Join: command → first remote frame, N times.
        let mut join_ms = Vec::new();
        for i in 0..joins {
            let started = Instant::now();
            let (mut child, lines) = join(&url, &format!("joiner-{i}"), RECEIVE_ONLY);
            let first = tokio::task::spawn_blocking(move || {
                lines
                    .iter()
                    .find(|l| l.starts_with("first video from bot"))
                    .map(|_| started.elapsed())
            })
            .await
            .unwrap()
            .expect("join never saw the bot's video");
            join_ms.push(first.as_secs_f64() * 1000.0);
            tokio::task::spawn_blocking(move || process::interrupt(&mut child))
                .await
                .unwrap();
        }

        // Steady state: tandem-cli and the Python SDK side by side, each
        // in the call as a participant: sending 720p30 and a tone, receiving
        // the bot and each other.
        let (mut me, lines) = join(&url, "tandem", SEND_720P);
        let py_started = Instant::now();
        let mut py = Peer::python("python", &url, &token::join("bench", "python"))
            .await
            .unwrap();
        py.cmd(serde_json::json!({"cmd": "publish_video", "width": 1280, "height": 720, "fps": 30, "color": [40, 160, 200]}))
            .await
            .unwrap();
        py.cmd(serde_json::json!({"cmd": "publish_audio", "freq": 550}))
            .await
            .unwrap();
        py.stats_until(Duration::from_secs(30), |s| {
            s["video"]["bot"]["frames"].as_u64().unwrap_or(0) > 0
        })
        .await
        .unwrap();
        let py_first_ms = py_started.elapsed().as_secs_f64() * 1000.0;
        tokio::time::sleep(Duration::from_secs(3)).await;
        while lines.try_recv().is_ok() {}
        let (me_pid, py_pid) = (me.id(), py.pid().unwrap());
        let bot_pid = bot.id();
        let (me_cpu0, py_cpu0, bot_cpu0) = (cpu_time(me_pid), cpu_time(py_pid), cpu_time(bot_pid));
        let py_frames0 = py.stats().await.unwrap()["video"]["bot"]["frames"]
            .as_u64()
            .unwrap_or(0);
        let t0 = Instant::now();
        let (mut me_rss, mut py_rss, mut bot_rss) = (0f64, 0f64, 0f64);
        let (mut me_fps, mut me_lat, mut py_lat) = (Vec::new(), Vec::new(), Vec::new());
        while t0.elapsed() < Duration::from_secs(seconds) {
            tokio::time::sleep(Duration::from_millis(500)).await;
            me_rss = me_rss.max(rss_mib(me_pid));
            py_rss = py_rss.max(rss_mib(py_pid));
            bot_rss = bot_rss.max(rss_mib(bot_pid));
            let s = py.stats().await.unwrap();
            if let Some(l) = s["video"]["bot"]["latency_ms"].as_f64() {
                py_lat.push(l);
            }
            while let Ok(line) = lines.try_recv() {
                let Some(json) = line.strip_prefix("stats ") else { continue };
                let v: serde_json::Value = serde_json::from_str(json).unwrap();
                if v["identity"] == "bot" {
                    me_fps.push(v["fps"].as_f64().unwrap_or(0.0));
                    if let Some(l) = v["latency_ms"].as_f64() {
                        me_lat.push(l);
                    }
                }
            }
        }
        let window = t0.elapsed().as_secs_f64();
        let cpu = |now: Duration, then: Duration| (now - then).as_secs_f64() / window * 100.0;
        let (me_cpu, py_cpu) = (cpu(cpu_time(me_pid), me_cpu0), cpu(cpu_time(py_pid), py_cpu0));
        let bot_cpu = cpu(cpu_time(bot_pid), bot_cpu0);
        let py_frames = py.stats().await.unwrap()["video"]["bot"]["frames"]
            .as_u64()
            .unwrap_or(0);
        let py_fps = (py_frames - py_frames0) as f64 / window;
        let me_fps_mean = me_fps.iter().sum::<f64>() / me_fps.len().max(1) as f64;

        println!();
        println!("join (command → first remote frame), {joins} runs: p50 {:.0} ms, max {:.0} ms",
            percentile(&mut join_ms.clone(), 0.5), percentile(&mut join_ms, 1.0));
        println!("Python SDK peer (process start → first frame): {py_first_ms:.0} ms");
        println!();
        println!("in the call for {window:.0} s (sending 720p30 + tone; receiving the bot's and each other's); fps and delay are of the bot's stream:");
        println!("| receiver | fps | delay p50 ms | delay p95 ms | CPU % (one core = 100) | peak RSS MiB |");
        println!("|---|---:|---:|---:|---:|---:|");
        println!("| tandem-cli join | {me_fps_mean:.1} | {:.0} | {:.0} | {me_cpu:.1} | {me_rss:.1} |",
            percentile(&mut me_lat.clone(), 0.5), percentile(&mut me_lat, 0.95));
        println!("| LiveKit Python SDK 1.2.1 | {py_fps:.1} | {:.0} | {:.0} | {py_cpu:.1} | {py_rss:.1} |",
            percentile(&mut py_lat.clone(), 0.5), percentile(&mut py_lat, 0.95));

        println!();
        println!("sender: tandem-cli bot (pattern drawn, converted and VP8-encoded at 720p30, plus Opus): CPU {bot_cpu:.1} %, peak RSS {bot_rss:.1} MiB");

        py.disconnect().await.unwrap();
        tokio::task::spawn_blocking(move || {
            process::interrupt(&mut me);
            process::interrupt(&mut bot);
        })
        .await
        .unwrap();
        server.stop().await;
    });
}
