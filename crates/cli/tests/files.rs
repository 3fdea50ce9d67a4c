//! Files in chat between `tandem-cli join` and LiveKit's JS SDK in
//! Chromium (code nobody here wrote): 50 MB each way, byte for byte
//! (sha256 on both sides), with progress told on both sides; files with
//! hostile names saved under safe ones in the chosen folder and nowhere
//! else; files over the limit refused with a message on both sides.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use sha2::Digest as _;
use tandem_testkit::files::patterned;
use tandem_testkit::peer::Peer;
use tandem_testkit::{process, token};

const BIN: &str = env!("CARGO_BIN_EXE_tandem-cli");
const SIZE: usize = 50 * 1024 * 1024;

fn sha256_of(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    hex(&sha2::Sha256::digest(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn files_go_both_ways_with_the_js_sdk_and_land_safely() {
    tandem_testkit::media_test(
        "files_go_both_ways_with_the_js_sdk_and_land_safely",
        |ip| async move {
            let dir = std::env::temp_dir().join(format!("tandem-files-e2e-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let inbox = dir.join("saved");
            std::fs::create_dir_all(&inbox).unwrap();
            let outgoing = dir.join("training plan.bin");
            std::fs::write(&outgoing, patterned(SIZE, 11)).unwrap();
            let too_big = dir.join("too big.bin");
            std::fs::File::create(&too_big)
                .unwrap()
                .set_len(100_000_001)
                .unwrap();

            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            let mut peer = Peer::browser("coach", &ds.url(), &token::join("f", "coach"))
                .await
                .unwrap();
            let (child, lines) = process::spawn_lines(
                process::joining(BIN, &ds.url(), &token::join("f", "me"))
                    .args(["--type", "chat", "--stats", "0"])
                    .args(["--camera", "none", "--mic", "silence", "--speaker", "none"])
                    .arg("--send-file")
                    .arg(&too_big)
                    .arg("--send-file")
                    .arg(&outgoing)
                    .arg("--save-files")
                    .arg(&inbox)
                    .stdin(Stdio::piped()),
            );
            let child = process::Killed(child);
            let within = Duration::from_secs(20);
            process::expect_line(&lines, "tandem-cli", within, "state: Connected");
            let refused = process::expect_line(&lines, "tandem-cli", within, "--send-file");
            assert!(
                refused.contains("too big.bin is 100 MB; files over 100 MB cannot be sent"),
                "{refused}"
            );

            // Ours, to the browser.
            let got = peer
                .expect_within(Duration::from_secs(240), "file", json!({"sender": "me"}))
                .await
                .unwrap();
            let want = sha256_of(&outgoing);
            assert_eq!(got["sha256"], json!(want));
            assert_eq!(got["name"], json!("training plan.bin"));
            assert_eq!(
                (got["size"].as_u64(), got["announced"].as_u64()),
                (Some(SIZE as u64), Some(SIZE as u64))
            );
            assert!(
                peer.history()
                    .iter()
                    .filter(|e| e["event"] == "file_progress")
                    .count()
                    >= 5,
                "the browser saw it arrive bit by bit"
            );
            let sent = process::expect_line(&lines, "tandem-cli", within, "sent training plan.bin");
            assert!(sent.contains(&want), "{sent}");

            // The browser's, to us, under a hostile name.
            let sent = peer
                .cmd_within(
                    Duration::from_secs(240),
                    json!({"cmd": "send_file", "name": "../../.bashrc", "size": SIZE, "seed": 7}),
                )
                .await
                .unwrap();
            let _ = sent;
            let told = peer
                .history()
                .iter()
                .find(|e| e["event"] == "file_sent")
                .cloned()
                .unwrap();
            let line =
                process::expect_line(&lines, "tandem-cli", Duration::from_secs(60), "received");
            assert!(line.contains(told["sha256"].as_str().unwrap()), "{line}");
            assert!(line.contains("from coach"), "{line}");
            let saved = inbox.join("bashrc");
            assert!(
                line.contains(&format!("saved to {}", saved.display())),
                "{line}"
            );
            assert_eq!(sha256_of(&saved), told["sha256"].as_str().unwrap());

            // More hostile names, each saved safely in the folder.
            let long = "x".repeat(4000) + ".txt";
            for (name, safe) in [
                ("CON", "_CON".to_owned()),
                ("invoice\u{202E}txt.exe", "invoicetxt.exe".to_owned()),
                (long.as_str(), "x".repeat(196) + ".txt"),
                ("../../.bashrc", "bashrc (2)".to_owned()),
            ] {
                peer.cmd(json!({"cmd": "send_file", "name": name, "size": 1000, "seed": 5}))
                    .await
                    .unwrap();
                let line = process::expect_line(&lines, "tandem-cli", within, "saved to");
                assert!(
                    line.ends_with(&format!("saved to {}", inbox.join(&safe).display())),
                    "{line}"
                );
            }
            let mut in_dir: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            in_dir.sort();
            assert_eq!(
                in_dir,
                ["saved", "too big.bin", "training plan.bin"],
                "nothing landed outside the folder"
            );

            // Over the limit as announced, and longer than announced: refused.
            peer.cmd(json!({"cmd": "stream_file", "name": "film.mp4", "announce": 200_000_000u64, "size": 1000}))
                .await
                .unwrap();
            let line = process::expect_line(&lines, "tandem-cli", within, "film.mp4 from coach:");
            assert!(
                line.contains("refused: it is 200 MB, and files over 100 MB are not taken"),
                "{line}"
            );
            peer.cmd(
                json!({"cmd": "stream_file", "name": "liar.txt", "announce": 10, "size": 5000}),
            )
            .await
            .unwrap();
            let line = process::expect_line(&lines, "tandem-cli", within, "liar.txt from coach:");
            assert!(
                line.contains("more arrived than the sender announced"),
                "{line}"
            );
            assert!(
                !std::fs::read_dir(&inbox).unwrap().any(|e| {
                    let n = e.unwrap().file_name().to_string_lossy().into_owned();
                    n.contains("film") || n.contains("liar")
                }),
                "refused files are not kept"
            );

            drop(child);
            let _ = std::fs::remove_dir_all(&dir);
        },
    );
}

/// Seed 004's peer-to-peer calls have no LiveKit: between two tandem-cli
/// the file goes over Tandem's own data channel. `--send-file` waits until
/// the other side's app says it takes files (a chat booking, whose
/// connection carries nothing else), and the file lands whole.
#[test]
fn send_file_waits_for_the_other_tandem_in_a_peer_to_peer_call() {
    tandem_testkit::media_test(
        "send_file_waits_for_the_other_tandem_in_a_peer_to_peer_call",
        |_ip| async move {
            let dir = std::env::temp_dir().join(format!("tandem-files-p2p-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let inbox = dir.join("saved");
            std::fs::create_dir_all(&inbox).unwrap();
            let outgoing = dir.join("week 3.pdf");
            std::fs::write(&outgoing, patterned(3_000_000, 5)).unwrap();
            let backend = tandem_backend::start(tandem_backend::Config::for_tests(
                &format!("sqlite://{}", dir.join("platform.db").display()),
                "ws://127.0.0.1:9",
                "p2p-files-secret-0123456789",
            ))
            .await
            .unwrap();
            let url = backend.url();
            let b = tandem_backend::dev::book(&backend.state.db, "cli-p2p-files", "chat", 30)
                .await
                .unwrap();
            let coach_link = tandem_backend::dev::add_link(
                &backend.state.db,
                &b.session,
                &b.coach,
                "astrologer",
                3600,
            )
            .await
            .unwrap();
            let join = |link: &str| {
                let mut cmd = std::process::Command::new(BIN);
                cmd.args([
                    "join",
                    "--backend",
                    &url,
                    "--profile",
                    "004",
                    "--link",
                    link,
                ])
                .args(["--p2p", "--socket-url", &url, "--stats", "0"])
                .stdin(Stdio::piped());
                cmd
            };
            let (sender, sender_lines) =
                process::spawn_lines(join(&coach_link).arg("--send-file").arg(&outgoing));
            let _sender = process::Killed(sender);
            let within = Duration::from_secs(30);
            process::expect_line(&sender_lines, "the coach", within, "state: Connected");
            let (receiver, receiver_lines) =
                process::spawn_lines(join(&b.link).arg("--save-files").arg(&inbox));
            let _receiver = process::Killed(receiver);
            process::expect_line(&sender_lines, "the coach", within, "files can be sent");
            let line = process::expect_line(&receiver_lines, "the client", within, "received");
            let want = sha256_of(&outgoing);
            assert!(line.contains(&want), "{line}");
            assert!(line.contains("from astrologer"), "{line}");
            assert_eq!(sha256_of(&inbox.join("week 3.pdf")), want);
            let sent = process::expect_line(&sender_lines, "the coach", within, "sent week 3.pdf");
            assert!(sent.contains(&want), "{sent}");
            let _ = std::fs::remove_dir_all(&dir);
        },
    );
}
