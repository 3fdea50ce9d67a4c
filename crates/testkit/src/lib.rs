//! Shared test harness: each media test runs in its own private network
//! namespace, with tokens for the dev server and LiveKit's official SDKs as
//! peers (code nobody here wrote).

// A test harness: failing loudly is how it reports.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod canned;
pub mod disks;
pub mod display;
pub mod files;
pub mod netns;
pub mod pbm;
pub mod peer;
pub mod process;
pub mod procstat;
pub mod pulse;
#[cfg(target_os = "linux")]
pub mod screencast;
pub mod token;
pub mod turn;
pub mod webdriver;

/// The workspace root, for finding scripts under `tests/`.
pub fn workspace_root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).unwrap_or(here).to_path_buf()
}

/// Sends `tracing` output to the test's stderr (`RUST_LOG` filters; default:
/// info), and keeps a copy for [`captured_logs`].
pub fn logs() {
    logs_at("info,str0m=warn");
}

/// [`logs`] with `filter` unless `RUST_LOG` is set.
pub fn logs_at(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(|| Tee)
        .try_init();
}

/// What this process logged through [`logs`] so far (servers running inside
/// the test), for scanning.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&CAPTURED.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

static CAPTURED: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// Writes to the test's output (captured by the harness unless
/// `--nocapture`) and to [`CAPTURED`].
struct Tee;

impl std::io::Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        // `eprint!` goes through the harness's capture, like `with_test_writer`.
        eprint!("{}", String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs an async media test inside its own private network namespace (see
/// [`netns::enter`]), with logs on. `test_name` is the test function's name;
/// `body` gets the namespace address to bind servers to.
pub fn media_test<F, Fut>(test_name: &str, body: F)
where
    F: FnOnce(std::net::IpAddr) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    media_test_logging_at(test_name, "info,str0m=warn", body);
}

/// [`media_test`] with the log filter `filter` (see [`logs_at`]).
pub fn media_test_logging_at<F, Fut>(test_name: &str, filter: &str, body: F)
where
    F: FnOnce(std::net::IpAddr) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(ip) = netns::enter(test_name) else {
        return;
    };
    logs_at(filter);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(body(ip));
}
