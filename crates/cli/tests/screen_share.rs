//! Sharing a screen and a window with `tandem-cli join --share`, on a real
//! X11 screen (Xvfb), to LiveKit's Python SDK as the other person: it
//! receives a `screen_share` track at the screen's size and sees the
//! screen's colour; `/share off` removes the track; a shared window that
//! closes ends the share, says so, and the call goes on.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use serde_json::json;
use tandem_testkit::display::Xvfb;
use tandem_testkit::peer::{Peer, colour_near as near};
use tandem_testkit::{process, token};
use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{
    ChangeWindowAttributesAux, ConnectionExt as _, CreateWindowAux, PropMode, WindowClass,
};
use x11rb::wrapper::ConnectionExt as _;

const BIN: &str = env!("CARGO_BIN_EXE_tandem-cli");

/// The screen's colour, and the window's.
const SCREEN: [u8; 3] = [0x33, 0x66, 0xcc];
const WINDOW: [u8; 3] = [0xe0, 0x90, 0x20];

fn pixel([r, g, b]: [u8; 3]) -> u32 {
    u32::from_be_bytes([0, r, g, b])
}

/// `tandem-cli join` with no devices, sharing `share` once in the call.
fn joining(url: &str, token: &str, share: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["join", "--url", url, "--token", token])
        .args(["--camera", "none", "--mic", "silence", "--speaker", "none"])
        .args(["--stats", "0", "--share", share]);
    cmd
}

fn wait(lines: &Receiver<String>, want: &str) -> String {
    process::expect_line(lines, "tandem-cli", Duration::from_secs(20), want)
}

#[test]
fn a_screen_and_a_window_are_shared_to_the_python_sdk() {
    tandem_testkit::media_test(
        "a_screen_and_a_window_are_shared_to_the_python_sdk",
        |ip| async move {
            let xvfb = Xvfb::start(800, 600);
            // The screen: one colour all over.
            let (x, n) = x11rb::connect(Some(&xvfb.display)).unwrap();
            let root = x.setup().roots[n].root;
            x.change_window_attributes(
                root,
                &ChangeWindowAttributesAux::new().background_pixel(pixel(SCREEN)),
            )
            .unwrap();
            x.clear_area(false, root, 0, 0, 0, 0).unwrap();
            x.flush().unwrap();

            // What can be shared, as a person lists it.
            let devices = Command::new(BIN)
                .arg("devices")
                .env("DISPLAY", &xvfb.display)
                .output()
                .unwrap();
            let listed = String::from_utf8_lossy(&devices.stdout);
            assert!(
                listed.contains("screen:0") && listed.contains("(800×600)"),
                "{listed}"
            );

            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            let mut peer = Peer::python("peer", &ds.url(), &token::join("share", "peer"))
                .await
                .unwrap();
            let mut cmd = joining(&ds.url(), &token::join("share", "tandem"), "screen:0");
            cmd.env("DISPLAY", &xvfb.display).stdin(Stdio::piped());
            let (cli, says) = process::spawn_lines(&mut cmd);
            // Killed if the test fails, so it never outlives it.
            let mut cli = process::Killed(cli);
            let mut stdin = cli.0.stdin.take().unwrap();
            wait(&says, "sharing Entire screen as tandem");
            peer.expect(
                "track_subscribed",
                json!({"identity": "tandem", "source": "SOURCE_SCREENSHARE", "kind": "video"}),
            )
            .await
            .unwrap();
            peer.stats_until(Duration::from_secs(20), |s| {
                let v = &s["video"]["tandem#screen"];
                v["width"] == 800 && v["height"] == 600 && near(&v["color"], SCREEN)
            })
            .await
            .expect("the peer did not see the screen at its size and colour");

            // Stopping removes the track.
            writeln!(stdin, "/share off").unwrap();
            wait(&says, "tandem stopped sharing");
            peer.expect(
                "track_unsubscribed",
                json!({"identity": "tandem", "kind": "video"}),
            )
            .await
            .unwrap();

            // A window (no window manager here: the root's titled children).
            let win = x.generate_id().unwrap();
            x.create_window(
                x11rb::COPY_DEPTH_FROM_PARENT,
                win,
                root,
                100,
                80,
                320,
                240,
                0,
                WindowClass::INPUT_OUTPUT,
                0,
                &CreateWindowAux::new().background_pixel(pixel(WINDOW)),
            )
            .unwrap();
            x.change_property8(
                PropMode::REPLACE,
                win,
                x11rb::protocol::xproto::AtomEnum::WM_NAME,
                x11rb::protocol::xproto::AtomEnum::STRING,
                b"Training plan",
            )
            .unwrap();
            x.map_window(win).unwrap();
            x.flush().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            let id = format!("window:{win:#x}");
            writeln!(stdin, "/share {id}").unwrap();
            wait(&says, "sharing Training plan as tandem");
            peer.stats_until(Duration::from_secs(20), |s| {
                let v = &s["video"]["tandem#screen"];
                v["width"] == 320 && v["height"] == 240 && near(&v["color"], WINDOW)
            })
            .await
            .expect("the peer did not see the window at its size and colour");

            // The window closes: sharing ends and says why; the call goes on.
            x.destroy_window(win).unwrap();
            x.flush().unwrap();
            let warning = wait(&says, "warning: sharing stopped");
            assert!(warning.contains("window"), "{warning}");
            peer.expect(
                "track_unsubscribed",
                json!({"identity": "tandem", "kind": "video"}),
            )
            .await
            .unwrap();
            writeln!(stdin, "still here").unwrap();
            peer.expect("chat", json!({"sender": "tandem", "text": "still here"}))
                .await
                .expect("the call did not go on after the shared window closed");

            // A token that does not grant the screen_share source: sharing is
            // not offered, and asking for it gets the reason.
            let limited = token::join_with("share", "limited", |g| {
                g.can_publish_sources = vec!["camera".into(), "microphone".into()];
            });
            let mut cmd = joining(&ds.url(), &limited, "synthetic");
            cmd.stdin(Stdio::piped());
            let (other, other_says) = process::spawn_lines(&mut cmd);
            let _other = process::Killed(other);
            wait(
                &other_says,
                "sharing a screen is not offered: the platform's token does not allow sharing a screen",
            );
            wait(
                &other_says,
                "--share: the screen could not be shared: the platform's token does not allow sharing a screen",
            );

            assert!(
                process::interrupt(&mut cli.0),
                "tandem-cli did not stop on Ctrl-C"
            );
            peer.disconnect().await.unwrap();
            ds.stop().await;
            drop(xvfb);
        },
    );
}

/// On Wayland: `tandem-cli devices` offers the system's dialog, `--share
/// portal` shares through the desktop portal (the test's desktop grants its
/// one screen), the Python SDK receives the screen at its size and colour,
/// and when the system ends the cast the share ends and the call goes on.
#[test]
fn a_wayland_screen_is_shared_through_the_portal_to_the_python_sdk() {
    tandem_testkit::media_test(
        "a_wayland_screen_is_shared_through_the_portal_to_the_python_sdk",
        |ip| async move {
            let mut desktop = tandem_testkit::screencast::Desktop::start(1280, 720, SCREEN);
            let on_desktop = |cmd: &mut Command| {
                for (k, v) in desktop.env() {
                    cmd.env(k, v);
                }
                cmd.env_remove("DISPLAY");
            };
            let mut devices = Command::new(BIN);
            devices.arg("devices");
            on_desktop(&mut devices);
            let listed = String::from_utf8_lossy(&devices.output().unwrap().stdout).into_owned();
            assert!(
                listed.contains("portal") && listed.contains("you choose in the system dialog"),
                "{listed}"
            );

            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            let mut peer = Peer::python("peer", &ds.url(), &token::join("wl", "peer"))
                .await
                .unwrap();
            let mut cmd = joining(&ds.url(), &token::join("wl", "tandem"), "portal");
            on_desktop(&mut cmd);
            cmd.stdin(Stdio::piped());
            let (cli, says) = process::spawn_lines(&mut cmd);
            let mut cli = process::Killed(cli);
            let mut stdin = cli.0.stdin.take().unwrap();
            wait(&says, "sharing Entire screen as tandem");
            peer.expect(
                "track_subscribed",
                json!({"identity": "tandem", "source": "SOURCE_SCREENSHARE", "kind": "video"}),
            )
            .await
            .unwrap();
            peer.stats_until(Duration::from_secs(20), |s| {
                let v = &s["video"]["tandem#screen"];
                v["width"] == 1280 && v["height"] == 720 && near(&v["color"], SCREEN)
            })
            .await
            .expect("the peer did not see the Wayland screen at its size and colour");

            // The system ends the cast: the share ends, said; the call goes on.
            desktop.end_screen_cast();
            let warning = wait(&says, "warning: sharing stopped");
            assert!(warning.contains("the system ended"), "{warning}");
            peer.expect(
                "track_unsubscribed",
                json!({"identity": "tandem", "kind": "video"}),
            )
            .await
            .unwrap();
            writeln!(stdin, "still here").unwrap();
            peer.expect("chat", json!({"sender": "tandem", "text": "still here"}))
                .await
                .expect("the call did not go on after the system ended the cast");

            assert!(
                process::interrupt(&mut cli.0),
                "tandem-cli did not stop on Ctrl-C"
            );
            peer.disconnect().await.unwrap();
            ds.stop().await;
        },
    );
}
