//! Shared test harness: each media test runs in its own private network
//! namespace, with tokens for the dev server and LiveKit's official SDKs as
//! peers (code nobody here wrote).

// A test harness: failing loudly is how it reports.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod canned;
pub mod display;
pub mod netns;
pub mod peer;
pub mod process;
pub mod procstat;
pub mod pulse;
pub mod token;
pub mod webdriver;

/// The workspace root, for finding scripts under `tests/`.
pub fn workspace_root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).unwrap_or(here).to_path_buf()
}

/// Sends `tracing` output to the test's stderr (`RUST_LOG` filters; default: info).
pub fn logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,str0m=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Runs an async media test inside its own private network namespace (see
/// [`netns::enter`]), with logs on. `test_name` is the test function's name;
/// `body` gets the namespace address to bind servers to.
pub fn media_test<F, Fut>(test_name: &str, body: F)
where
    F: FnOnce(std::net::IpAddr) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(ip) = netns::enter(test_name) else {
        return;
    };
    logs();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(body(ip));
}
