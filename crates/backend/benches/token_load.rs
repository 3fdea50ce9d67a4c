//! Token endpoint load (not a timed test): 50 concurrent clients on loopback
//! ask seed 000's `GET /api/livekit-token` for a session, each a bounded
//! number of times. Prints throughput and latency percentiles per database.
//!
//!     cargo bench -p tandem-backend --bench token_load
//!     TANDEM_TEST_POSTGRES=postgres://… cargo bench -p tandem-backend --bench token_load
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

const CLIENTS: usize = 50;
const PER_CLIENT: usize = 200;
const TIME_LIMIT: Duration = Duration::from_secs(60);

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn run(engine: &str) -> String {
    let fx = common::fixture(engine).await;
    let url = fx.url(&format!(
        "/api/livekit-token?sessionId={}",
        fx.sessions["coach-video"]
    ));
    let jwt = fx.jwt("client");
    // Warm the pool and caches.
    for _ in 0..20 {
        fx.http.get(&url).bearer_auth(&jwt).send().await.unwrap();
    }
    let deadline = Instant::now() + TIME_LIMIT;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (url, jwt) = (url.clone(), jwt.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut lat = Vec::with_capacity(PER_CLIENT);
            let mut errors = 0usize;
            for _ in 0..PER_CLIENT {
                if Instant::now() > deadline {
                    break;
                }
                let t = Instant::now();
                match http.get(&url).bearer_auth(&jwt).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let wall = started.elapsed().as_secs_f64();
    all.sort();
    fx.stop().await;
    format!(
        "| {engine} | {} | {errors} | {:.0} | {:.1} | {:.1} | {:.1} |",
        all.len(),
        all.len() as f64 / wall,
        pct(&all, 0.5),
        pct(&all, 0.95),
        pct(&all, 0.99)
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "tandem-backend token endpoint (seed 000): {CLIENTS} concurrent clients × {PER_CLIENT} requests, loopback, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| database | requests | errors | requests/s | p50 ms | p95 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for engine in common::databases() {
        println!("{}", rt.block_on(run(engine)));
    }
}
