//! The `tandem-devserver` binary: what it prints, bad flags, Ctrl-C.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufReader;
use std::process::{Command, Stdio};

use tandem_testkit::process;

const BIN: &str = env!("CARGO_BIN_EXE_tandem-devserver");

#[test]
fn dev_mode_prints_url_and_keys_and_stops_cleanly_on_ctrl_c() {
    let mut child = Command::new(BIN)
        .args(["--dev", "--port", "0", "--udp-port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let printed = process::read_until(&mut out, "Ctrl-C");
    assert!(printed.contains("ws://127.0.0.1:"), "{printed}");
    assert!(
        printed.contains("devkey") && printed.contains("secret"),
        "{printed}"
    );
    assert!(process::interrupt(&mut child), "Ctrl-C exits 0");
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut out, &mut rest);
    assert!(rest.contains("stopping"), "{rest}");
}

#[test]
fn bad_flags_exit_2_with_a_reason() {
    let cases: [(&[&str], &str); 3] = [
        (&[], "--dev"),
        (&["--keys", "nosecret"], "key:secret"),
        (&["--dev", "--webhook-url", "ftp://x"], "http(s)"),
    ];
    for (args, want) in cases {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn a_taken_port_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(BIN)
        .args(["--dev", "--port", &port, "--udp-port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen") && err.contains(&port),
        "{err}"
    );
}
