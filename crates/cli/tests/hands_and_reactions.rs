//! Reactions and raised hands between `tandem-cli join` and LiveKit's
//! Python SDK (code nobody here wrote): the peer's reaction on data topic
//! `tandem.reaction` is printed, ours reaches the peer as
//! `{"reaction":"heart"}`, and what is not a reaction is not shown; our
//! raised hand reaches the peer as our participant attribute `tandem.hand`,
//! and the peer's attribute is read as its hand; as the session's host
//! (a `roomAdmin` token) the CLI lowers the peer's hand through the
//! server's room API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tandem_testkit::peer::Peer;
use tandem_testkit::{process, token};

const BIN: &str = env!("CARGO_BIN_EXE_tandem-cli");

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

#[test]
fn reactions_go_both_ways_with_the_python_sdk() {
    tandem_testkit::media_test(
        "reactions_go_both_ways_with_the_python_sdk",
        |ip| async move {
            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            let mut peer = Peer::python("coach", &ds.url(), &token::join("r", "coach"))
                .await
                .unwrap();
            let (child, lines) = process::spawn_lines(
                // The session's host: its token makes it the room's admin.
                process::joining(
                    BIN,
                    &ds.url(),
                    &token::join_with("r", "me", |g| g.room_admin = true),
                )
                .args(["--camera", "none", "--mic", "silence", "--speaker", "none"])
                .args(["--stats", "0"])
                .stdin(Stdio::piped()),
            );
            let mut child = process::Killed(child);
            let within = Duration::from_secs(20);
            process::expect_line(&lines, "tandem-cli", within, "you are the session's host");
            process::expect_line(&lines, "tandem-cli", within, "state: Connected");
            peer.expect("participant_connected", json!({"identity": "me"}))
                .await
                .unwrap();

            // Not reactions: markup in the name, another shape; then a real one.
            for payload in [
                r#"{"reaction":"<b>x</b>"}"#,
                r#"{"emoji":"clap"}"#,
                r#"{"reaction":"clap"}"#,
            ] {
                peer.cmd(
                    json!({"cmd": "send_data", "topic": "tandem.reaction", "payload": payload}),
                )
                .await
                .unwrap();
            }
            let said = process::expect_line(&lines, "tandem-cli", within, "reaction from");
            assert_eq!(said, "reaction from coach: clap");

            let mut stdin = child.0.stdin.take().unwrap();
            writeln!(stdin, "/react heart").unwrap();
            let got = peer
                .expect("data", json!({"topic": "tandem.reaction"}))
                .await
                .unwrap();
            assert_eq!(
                (got["sender"].as_str(), got["payload"].as_str()),
                (Some("me"), Some(r#"{"reaction":"heart"}"#))
            );
            writeln!(stdin, "/hand up").unwrap();
            process::expect_line(&lines, "tandem-cli", within, "hand raised by me");
            let attrs = peer
                .expect("participant_attributes_changed", json!({"identity": "me"}))
                .await
                .unwrap();
            assert!(
                attrs["attributes"]["tandem.hand"]
                    .as_str()
                    .is_some_and(|v| v.parse::<i64>().is_ok()),
                "{attrs}"
            );
            // The peer raises its hand as an attribute only (as a web client
            // following the same convention would): told.
            let at = now_ms().to_string();
            peer.cmd(json!({"cmd": "set_attributes", "attributes": {"tandem.hand": at}}))
                .await
                .unwrap();
            process::expect_line(&lines, "tandem-cli", within, "hand raised by coach");
            peer.cmd(json!({"cmd": "set_attributes", "attributes": {"tandem.hand": ""}}))
                .await
                .unwrap();
            process::expect_line(&lines, "tandem-cli", within, "hand lowered by coach");
            // Raised again, and lowered by the host through the server:
            // the peer's own attribute is cleared.
            peer.cmd(json!({"cmd": "set_attributes", "attributes": {"tandem.hand": now_ms().to_string()}}))
                .await
                .unwrap();
            process::expect_line(&lines, "tandem-cli", within, "hand raised by coach");
            peer.history.clear();
            writeln!(stdin, "/lower coach").unwrap();
            process::expect_line(&lines, "tandem-cli", within, "hand lowered by coach");
            let mine = peer
                .expect(
                    "participant_attributes_changed",
                    json!({"identity": "coach", "changed": {"tandem.hand": ""}}),
                )
                .await
                .unwrap();
            // An empty value removes the attribute (as LiveKit's server does).
            assert!(
                mine["attributes"]
                    .get("tandem.hand")
                    .is_none_or(|v| v == ""),
                "{mine}"
            );
            writeln!(stdin, "/react poop").unwrap();
            process::expect_line(
                &lines,
                "tandem-cli",
                within,
                "/react: one of thumbs_up clap heart laugh party",
            );
            drop(stdin);
            let _ = child.0.kill();
            peer.kill().await;
            ds.stop().await;
        },
    );
}
