//! Running one test with real troublesome disks: a file system that is
//! full after a few hundred kilobytes, and one mounted read-only. Root
//! ignores file permissions, so only real file systems make these errors
//! for the tests; they are mounted in a private mount namespace that
//! vanishes with the test's process, so nothing is left mounted.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const MARK: &str = "TANDEM_TEST_DISKS";
/// How much the small disk holds.
pub const SMALL_BYTES: u64 = 256 * 1024;

/// Where the test's disks are mounted.
#[derive(Debug, Clone)]
pub struct Disks {
    /// A file system of [`SMALL_BYTES`], empty at the start.
    pub small: PathBuf,
    /// An empty file system mounted read-only.
    pub read_only: PathBuf,
}

/// Returns the disks when the caller runs inside its private mount
/// namespace and should run its body. Otherwise re-runs exactly `test_name`
/// (the test's full name, as `cargo test -- --exact` wants it) with them
/// mounted, panics if it failed, and returns `None`: the caller then returns
/// at once.
pub fn enter(test_name: &str) -> Option<Disks> {
    if let Ok(base) = std::env::var(MARK) {
        let base = PathBuf::from(base);
        return Some(Disks {
            small: base.join("small"),
            read_only: base.join("read-only"),
        });
    }
    let base = std::env::temp_dir().join(format!("tandem-disks-{}", std::process::id()));
    for d in ["small", "read-only"] {
        std::fs::create_dir_all(base.join(d)).expect("folders to mount on");
    }
    let script = format!(
        "set -e; mount -t tmpfs -o size={SMALL_BYTES} tandem-small \"$1/small\"; \
         mount -t tmpfs -o ro tandem-read-only \"$1/read-only\"; shift; exec \"$@\""
    );
    let mut child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(&script)
        .arg("sh")
        .arg(&base)
        .arg(std::env::current_exe().expect("own executable path"))
        .args([
            "--exact",
            test_name,
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ])
        .env(MARK, &base)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `unshare` (util-linux) to mount test disks: {e}"));
    // The inner run's summary is indented so that only the outer harness's
    // results are counted.
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("  [disks] {line}");
        }
    }
    let status = child.wait().expect("waiting for the run with test disks");
    let _ = std::fs::remove_dir_all(&base);
    assert!(
        status.success(),
        "{test_name} failed with its test disks mounted ({status}); it needs root (or \
         CAP_SYS_ADMIN): see its output above"
    );
    None
}
