//! The `tandem-devserver` binary: what it prints, bad flags, Ctrl-C.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let mut printed = String::new();
    while !printed.contains("Ctrl-C") {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "exited early: {printed}"
        );
        printed.push_str(&line);
    }
    assert!(printed.contains("ws://127.0.0.1:"), "{printed}");
    assert!(
        printed.contains("devkey") && printed.contains("secret"),
        "{printed}"
    );
    // SIGINT, as Ctrl-C in a terminal sends.
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "did not stop on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
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
