//! What end-to-end encryption costs (a benchmark, not a timed test): in a
//! private network namespace with the dev server, two `tandem-cli join`
//! processes are in a call, each sending the 720p30 test pattern and a tone
//! and receiving the other's; once in the clear, then end-to-end encrypted
//! (`--e2ee-key`), alternately for several rounds. Prints each process's
//! CPU and the frame rate each receives, as a table.
//!
//!     cargo bench -p tandem-cli --bench e2ee [-- ROUNDS SECONDS]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tandem_devserver::{Config, Server};
use tandem_testkit::procstat::{cpu_time, percentile};
use tandem_testkit::{netns, process, token};

const BIN: &str = env!("CARGO_BIN_EXE_tandem-cli");

fn join(
    url: &str,
    room: &str,
    identity: &str,
    key: Option<&str>,
) -> (Child, mpsc::Receiver<String>) {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "join",
        "--url",
        url,
        "--token",
        &token::join(room, identity),
    ])
    .args(["--camera", "test-pattern", "--capture", "1280x720@30"])
    .args([
        "--mic",
        "tone",
        "--speaker",
        "none",
        "--stats",
        "1",
        "--json-stats",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped());
    if let Some(k) = key {
        cmd.env("TANDEM_E2EE_KEY", k);
    }
    process::spawn_lines(&mut cmd)
}

/// The received frame rates in `lines` since last read, for `from`.
fn fps(lines: &mpsc::Receiver<String>, from: &str) -> Vec<f64> {
    let mut out = Vec::new();
    while let Ok(line) = lines.try_recv() {
        let Some(json) = line.strip_prefix("stats ") else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
            continue;
        };
        if v["identity"] == from {
            out.push(v["fps"].as_f64().unwrap_or(0.0));
        }
    }
    out
}

/// One call of `seconds`: (CPU % of each process summed, mean received fps).
async fn round(url: &str, room: &str, key: Option<&str>, seconds: u64) -> (f64, f64) {
    let (mut a, a_lines) = join(url, room, "ann", key);
    let (mut b, b_lines) = join(url, room, "bob", key);
    // Settled: both receive pictures.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (fa, fb) = (fps(&a_lines, "bob"), fps(&b_lines, "ann"));
        if fa.iter().any(|f| *f > 20.0) && fb.iter().any(|f| *f > 20.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the call never settled (key: {})",
            key.is_some()
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = (fps(&a_lines, "bob"), fps(&b_lines, "ann"));
    let (pa, pb) = (a.id(), b.id());
    let (ca, cb) = (cpu_time(pa), cpu_time(pb));
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let window = t0.elapsed().as_secs_f64();
    let cpu = ((cpu_time(pa) - ca) + (cpu_time(pb) - cb)).as_secs_f64() / window * 100.0;
    let mut rates = fps(&a_lines, "bob");
    rates.extend(fps(&b_lines, "ann"));
    let mean = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
    tokio::task::spawn_blocking(move || {
        process::interrupt(&mut a);
        process::interrupt(&mut b);
    })
    .await
    .unwrap();
    (cpu, mean)
}

fn main() {
    let ip = netns::enter_program();
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(3).clamp(1, 10);
    let seconds = args.get(1).copied().unwrap_or(15).clamp(5, 120);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let server = Server::start(Config::for_tests(ip)).await.unwrap();
        let url = server.url();
        let (mut plain, mut encrypted) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            // Alternate, so a warming machine does not favour one side.
            for key in [None, Some("benchmark passphrase")] {
                let room = format!("bench-{r}-{}", key.is_some());
                let (cpu, fps) = round(&url, &room, key, seconds).await;
                println!("round {r} {}: CPU {cpu:.1} % (both processes), {fps:.1} fps received",
                    if key.is_some() { "encrypted" } else { "clear" });
                if key.is_some() { encrypted.push((cpu, fps)) } else { plain.push((cpu, fps)) }
            }
        }
        let med = |v: &[(f64, f64)], i: usize| {
            let mut x: Vec<f64> = v.iter().map(|p| if i == 0 { p.0 } else { p.1 }).collect();
            percentile(&mut x, 0.5)
        };
        let (pc, ec) = (med(&plain, 0), med(&encrypted, 0));
        println!();
        println!("two tandem-cli in a call, each sending 720p30 + a tone and receiving the other's, {rounds} rounds of {seconds} s (medians):");
        println!("| call | CPU % of both processes (one core = 100) | fps received |");
        println!("|---|---:|---:|");
        println!("| in the clear | {pc:.1} | {:.1} |", med(&plain, 1));
        println!("| end-to-end encrypted | {ec:.1} | {:.1} |", med(&encrypted, 1));
        // Paired: each encrypted call against the clear one just before it,
        // which shares the machine's state at the time.
        let mut added: Vec<f64> = plain
            .iter()
            .zip(&encrypted)
            .map(|(p, e)| e.0 - p.0)
            .collect();
        let each: Vec<String> = added.iter().map(|d| format!("{d:+.1}")).collect();
        let median_added = percentile(&mut added, 0.5);
        println!(
            "encryption adds {median_added:+.1} percentage points, median of the rounds' pairs ({}); {:+.1} % of the clear call",
            each.join(", "),
            median_added / pc * 100.0
        );
        server.stop().await;
    });
}
