//! coturn, the TURN server most platforms run, as the relay in peer-to-peer
//! tests (code nobody here wrote, from Debian's `coturn` package).

use std::net::{Ipv4Addr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::Killed;

/// The username and credential every test relay accepts.
pub const USERNAME: &str = "coach";
pub const CREDENTIAL: &str = "relay-secret";

/// A coturn listening on `ip` over UDP, with the long-term credential
/// [`USERNAME`]/[`CREDENTIAL`], relaying from `ip` too (loopback peers
/// allowed), stopped when dropped.
#[derive(Debug)]
pub struct Coturn {
    /// `turn:ip:port`, as an `iceServers` entry writes it.
    pub url: String,
    /// `ip:port`.
    pub address: String,
    _child: Killed,
    _dir: TempDir,
}

#[derive(Debug)]
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Coturn {
    pub fn start(ip: Ipv4Addr) -> Coturn {
        // A free port, found by binding and letting go.
        let port = UdpSocket::bind((ip, 0))
            .and_then(|s| s.local_addr())
            .expect("no free UDP port")
            .port();
        let dir = std::env::temp_dir().join(format!("tandem-coturn-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("coturn's folder");
        let child = Command::new("turnserver")
            .args(["-n", "--no-tls", "--no-dtls", "--no-cli", "--lt-cred-mech"])
            .args(["--realm", "tandem.test", "--allow-loopback-peers"])
            .arg("--listening-ip")
            .arg(ip.to_string())
            .arg("--relay-ip")
            .arg(ip.to_string())
            .arg("--listening-port")
            .arg(port.to_string())
            .arg("--user")
            .arg(format!("{USERNAME}:{CREDENTIAL}"))
            .arg("--userdb")
            .arg(dir.join("turndb"))
            .arg("--pidfile")
            .arg(dir.join("turnserver.pid"))
            .args(["--log-file", "stdout", "--simple-log"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnserver (Debian's coturn package; cargo xtask setup installs it)");
        let child = Killed(child);
        wait_until_listening(ip, port);
        let address = format!("{ip}:{port}");
        Coturn {
            url: format!("turn:{address}"),
            address,
            _child: child,
            _dir: TempDir(dir),
        }
    }
}

/// Waits until the server answers a STUN Binding request (coturn answers
/// those without credentials).
fn wait_until_listening(ip: Ipv4Addr, port: u16) {
    let s = UdpSocket::bind((ip, 0)).expect("a probe socket");
    s.set_read_timeout(Some(Duration::from_millis(100))).ok();
    let mut req = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
    req.extend_from_slice(&[7; 12]);
    let start = Instant::now();
    let mut buf = [0u8; 512];
    while start.elapsed() < Duration::from_secs(10) {
        let _ = s.send_to(&req, (ip, port));
        if matches!(s.recv_from(&mut buf), Ok((n, _)) if n >= 20 && buf[..2] == [1, 1]) {
            return;
        }
    }
    panic!("coturn did not answer on {ip}:{port} within 10 s");
}
