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
    // Ignored tests run only when asked for, so the inner run includes them.
    let args = [
        "--exact",
        test_name,
        "--nocapture",
        "--test-threads=1",
        "--include-ignored",
    ];
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

/// The host end of the link to a [`Guest`] namespace.
pub const HOST_LINK_ADDR: &str = "10.77.1.1";
/// The guest's address.
pub const GUEST_ADDR: &str = "10.77.1.2";

/// A program running in a namespace of its own, nested in the test's, and
/// joined to it by a veth pair (host end `tndh`, guest end `tndg`) whose
/// link the test can cut, or make lossy. The guest reaches everything in
/// the test's namespace (servers bound to [`ADDR`]) through it.
#[derive(Debug)]
pub struct Guest {
    pub child: std::process::Child,
}

const HOST_IF: &str = "tndh";

impl Guest {
    /// Starts `program args…` in a new namespace, with the link up. Call
    /// from inside the test's namespace ([`enter`]); one guest at a time.
    pub fn spawn(program: &str, args: &[&str], env: &[(&str, &str)]) -> Guest {
        // The guest waits for its end of the link, configures it, and only
        // then becomes the program.
        let script = format!(
            "until ip link show tndg >/dev/null 2>&1; do sleep 0.02; done; \
             ip link set lo up; ip addr add {GUEST_ADDR}/24 dev tndg; ip link set tndg up; \
             ip route add default via {HOST_LINK_ADDR}; exec \"$@\""
        );
        let mut cmd = Command::new("unshare");
        cmd.args(["--net", "--", "sh", "-c", &script, "sh", program])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("unshare (util-linux) for the guest");
        // The link's far end must land in the guest's namespace, so wait
        // until unshare has made it: moved earlier (a busy machine), it
        // would stay here and the guest would wait for it for ever.
        let ours = std::fs::read_link("/proc/self/ns/net").expect("our network namespace");
        let theirs = format!("/proc/{}/ns/net", child.id());
        let started = std::time::Instant::now();
        while std::fs::read_link(&theirs).is_ok_and(|ns| ns == ours) {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "the guest's namespace was never made"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let pid = child.id().to_string();
        sh(&format!(
            "ip link add {HOST_IF} type veth peer name tndg netns {pid} && \
             ip addr add {HOST_LINK_ADDR}/24 dev {HOST_IF} && ip link set {HOST_IF} up"
        ));
        Guest { child }
    }

    /// Cuts the link (`up == false`) or restores it: the guest's packets go
    /// nowhere, as when a laptop's Wi-Fi drops.
    pub fn link(&self, up: bool) {
        sh(&format!(
            "ip link set {HOST_IF} {}",
            if up { "up" } else { "down" }
        ));
    }

    /// Moves the guest to another address on the same link, as when a
    /// laptop goes from Wi-Fi to Ethernet: the old address disappears
    /// (connections from it get no answer), the new one works at once.
    pub fn readdress(&self, address: &str) {
        let pid = self.child.id();
        sh(&format!(
            "nsenter -t {pid} -n sh -c 'ip addr flush dev tndg && \
             ip addr add {address}/24 dev tndg && \
             ip route replace default via {HOST_LINK_ADDR}'"
        ));
    }

    /// Stops the guest's program (`SIGSTOP`, as a computer going to sleep)
    /// or lets it go on (`SIGCONT`).
    pub fn pause(&self, stopped: bool) {
        let signal = if stopped { "STOP" } else { "CONT" };
        sh(&format!("kill -{signal} {}", self.child.id()));
    }

    /// Drops `percent` % of the packets from and to the guest, at random
    /// (nftables; 0 removes the rule).
    pub fn loss(&self, percent: u8) {
        replace_table(
            "tandem_loss",
            (percent > 0).then(|| {
                format!(
                    "nft add chain inet tandem_loss in '{{ type filter hook input priority 0; }}' && \
                     nft add chain inet tandem_loss out '{{ type filter hook output priority 0; }}' && \
                     nft add rule inet tandem_loss in iifname {HOST_IF} numgen random mod 100 lt {percent} drop && \
                     nft add rule inet tandem_loss out oifname {HOST_IF} numgen random mod 100 lt {percent} drop"
                )
            }),
        );
    }
}

/// Drops every packet the test's namespace sends except over loopback and
/// to the [`Guest`] (`true`), or lets them through again (`false`): programs
/// in the test's own namespace lose the network as when Wi-Fi drops — their
/// packets go nowhere, silently — while a guest keeps its link to the
/// servers here and local connections (WebDriver, X, audio) keep working.
pub fn blackhole_all_but_guest(on: bool) {
    replace_table(
        "tandem_cut",
        on.then(|| {
            format!(
                "nft add chain inet tandem_cut out '{{ type filter hook output priority 0; }}' && \
                 nft add rule inet tandem_cut out oifname lo ip daddr 127.0.0.0/8 accept && \
                 nft add rule inet tandem_cut out oifname lo ip6 daddr ::1 accept && \
                 nft add rule inet tandem_cut out ip daddr {GUEST_ADDR} accept && \
                 nft add rule inet tandem_cut out drop"
            )
        }),
    );
}

/// Limits the UDP the test's namespace sends to anything but loopback to
/// `kbit_per_s` in all (what is over it is dropped, as an uplink's policer
/// does), or lifts the limit (`None`): media between programs here, which
/// goes by the namespace's own address, then has that much room.
pub fn cap_udp(kbit_per_s: Option<u32>) {
    replace_table(
        "tandem_cap",
        kbit_per_s.map(|kbit| {
            let kbytes = (kbit / 8).max(1);
            format!(
                "nft add chain inet tandem_cap out '{{ type filter hook output priority 0; }}' && \
                 nft add rule inet tandem_cap out ip daddr 127.0.0.0/8 accept && \
                 nft add rule inet tandem_cap out meta l4proto udp limit rate over {kbytes} kbytes/second burst {kbytes} kbytes drop"
            )
        }),
    );
}

/// Removes nftables table `inet <name>`, then, given `chains_and_rules`,
/// makes it again with them.
fn replace_table(name: &str, chains_and_rules: Option<String>) {
    let _ = Command::new("nft")
        .args(["delete", "table", "inet", name])
        .stderr(Stdio::null())
        .status();
    if let Some(rules) = chains_and_rules {
        sh(&format!("nft add table inet {name} && {rules}"));
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("ip")
            .args(["link", "delete", HOST_IF])
            .stderr(Stdio::null())
            .status();
    }
}

fn sh(script: &str) {
    let status = Command::new("sh")
        .args(["-c", script])
        .status()
        .expect("running sh");
    assert!(status.success(), "`{script}` failed");
}
