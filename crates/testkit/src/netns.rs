//! Running one test inside a fresh private network namespace.
//!
//! libwebrtc ignores loopback when gathering ICE candidates, so media needs a
//! real-looking interface. Each test re-runs itself under `unshare --net` with
//! `lo` up and a veth pair, one end holding [`ADDR`]; nothing it sends can leave
//! that namespace, and the namespace vanishes with the process.

use std::io::{BufRead as _, BufReader};
use std::net::IpAddr;
use std::process::{Command, Stdio};

/// The address the namespace's dummy interface holds.
pub const ADDR: &str = "10.77.0.1";
const MARK: &str = "TANDEM_TEST_NETNS";

/// Returns the namespace address when the caller runs inside its private
/// namespace and should run its body. Otherwise re-runs exactly `test_name`
/// (the test function's name) in a new namespace, panics if it failed, and
/// returns `None`: the caller then returns at once.
pub fn enter(test_name: &str) -> Option<IpAddr> {
    if let Ok(addr) = std::env::var(MARK) {
        return addr.parse().ok();
    }
    let args = ["--exact", test_name, "--nocapture", "--test-threads=1"];
    let status = rerun_inside(&args, true);
    assert!(
        status.success(),
        "{test_name} failed inside its private network namespace ({status}); \
         it needs root (or CAP_SYS_ADMIN) and iproute2: see its output above"
    );
    None
}

/// For a whole program (a benchmark): returns the namespace address when
/// already inside; otherwise re-runs the program with the same arguments in a
/// new namespace and exits with its status.
pub fn enter_program() -> IpAddr {
    if let Some(addr) = std::env::var(MARK).ok().and_then(|a| a.parse().ok()) {
        return addr;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let status = rerun_inside(&args, false);
    std::process::exit(status.code().unwrap_or(1));
}

fn rerun_inside(args: &[&str], indent: bool) -> std::process::ExitStatus {
    let exe = std::env::current_exe().expect("own executable path");
    let script = format!(
        "set -e; ip link set lo up; ip link add tnd0 type veth peer name tnd1; \
         ip addr add {ADDR}/24 dev tnd0; ip link set tnd0 up; ip link set tnd1 up; exec \"$@\""
    );
    let mut child = Command::new("unshare")
        .args(["--net", "--", "sh", "-c", &script, "sh"])
        .arg(&exe)
        .args(args)
        .env(MARK, ADDR)
        .stdout(if indent {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `unshare` (util-linux) to make a private network namespace: {e}")
        });
    // A namespaced test's own summary lines are indented so that only the
    // outer harness's results are counted by whoever reads the output.
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("  [netns] {line}");
        }
    }
    child.wait().expect("waiting for the namespaced run")
}
