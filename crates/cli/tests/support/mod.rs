//! The network-fault harness: a Tandem client (tandem-cli) in a guest
//! namespace behind a link to cut, a bot that echoes chat, and the
//! client's timed output read line by line.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tandem_testkit::netns::Guest;
use tandem_testkit::token;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_tandem-cli");
pub(crate) const ROOM: &str = "cuts";

/// The client's output lines, each with when it arrived.
pub(crate) struct Lines {
    pub(crate) rx: mpsc::Receiver<(Instant, String)>,
    pub(crate) seen: Vec<(Instant, String)>,
}

impl Lines {
    pub(crate) fn from(out: impl std::io::Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send((Instant::now(), line)).is_err() {
                    return;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// The first line after `since` that passes `test`, waiting up to `within`.
    pub(crate) fn wait(
        &mut self,
        since: Instant,
        within: Duration,
        test: impl Fn(&str) -> bool,
    ) -> Option<(Instant, String)> {
        if let Some(hit) = self.seen.iter().find(|(t, l)| *t >= since && test(l)) {
            return Some(hit.clone());
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let (t, line) = self.rx.recv_timeout(left).ok()?;
            self.seen.push((t, line.clone()));
            if t >= since && test(&line) {
                return Some((t, line));
            }
        }
    }

    /// Drains what arrived so far.
    pub(crate) fn pump(&mut self) {
        while let Ok(x) = self.rx.try_recv() {
            self.seen.push(x);
        }
    }
}

/// Video from the bot is arriving: a stats line with frames per second > 0.
pub(crate) fn bot_video(line: &str) -> bool {
    line.strip_prefix("stats ")
        .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        .is_some_and(|v| v["identity"] == "bot" && v["fps"].as_f64().unwrap_or(0.0) > 0.0)
}

pub(crate) fn cli_args<'a>(url: &'a str, token: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "--url",
        url,
        "--token",
        token,
        "--type",
        "video",
        "--capture",
        "320x180@15",
        "--speaker",
        "none",
    ];
    a.extend_from_slice(extra);
    a
}

/// A call under test: the bot beside the server, the client in its own
/// namespace (behind the link the test cuts), the picture flowing.
pub(crate) struct Call {
    pub(crate) bot: Child,
    pub(crate) guest: Guest,
    pub(crate) stdin: std::process::ChildStdin,
    pub(crate) lines: Lines,
}

impl Call {
    pub(crate) fn start(url: &str) -> Call {
        Self::start_with(url, &[])
    }

    /// With more options for the client.
    pub(crate) fn start_with(url: &str, extra: &[&str]) -> Call {
        let bot_token = token::join(ROOM, "bot");
        let bot = Command::new(BIN)
            .arg("bot")
            .args(cli_args(url, &bot_token, &["--stats", "0"]))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let client_token = token::join(ROOM, "client");
        let mut args = vec!["join"];
        args.extend(cli_args(
            url,
            &client_token,
            &[
                "--camera",
                "test-pattern",
                "--mic",
                "tone",
                "--stats",
                "1",
                "--json-stats",
            ],
        ));
        args.extend_from_slice(extra);
        let mut guest = Guest::spawn(
            BIN,
            &args,
            &[("RUST_LOG", "warn,tandem_call=info,libwebrtc=error")],
        );
        let stdin = guest.child.stdin.take().unwrap();
        let mut lines = Lines::from(guest.child.stdout.take().unwrap());
        assert!(
            lines
                .wait(Instant::now(), Duration::from_secs(30), bot_video)
                .is_some(),
            "the call never started: {:?}",
            lines.seen
        );
        Call {
            bot,
            guest,
            stdin,
            lines,
        }
    }
}

/// One cut's outcome.
#[derive(Debug)]
pub(crate) struct Trial {
    /// Seconds from the link's return to the call being back (connected
    /// and the bot's video arriving), or `None` if it did not come back.
    pub(crate) recovered_after: Option<f64>,
    /// The client said it was reconnecting.
    pub(crate) showed_reconnecting: bool,
    /// What became of the chat message typed during the cut.
    pub(crate) chat: &'static str,
    /// What the client said meanwhile (seconds after the link returned).
    pub(crate) said: Vec<String>,
}

/// The client's state lines since `since`, timed from `back_at`.
pub(crate) fn said(lines: &Lines, since: Instant, back_at: Instant) -> Vec<String> {
    lines
        .seen
        .iter()
        .filter(|(t, l)| {
            *t >= since && (l.starts_with("state:") || l.starts_with("video from bot again"))
        })
        .map(|(t, l)| {
            let s = if *t >= back_at {
                t.duration_since(back_at).as_secs_f64()
            } else {
                -back_at.duration_since(*t).as_secs_f64()
            };
            format!("{s:+.2} s {l}")
        })
        .collect()
}

/// How the network fails.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fault {
    /// The link is down for this long.
    Cut(Duration),
    /// This share of packets is dropped for this long.
    Loss(u8, Duration),
    /// The client's address changes to this one (Wi-Fi to Ethernet).
    Readdress(&'static str),
    /// The client is stopped this long (SIGSTOP: the computer sleeps).
    Sleep(Duration),
}

pub(crate) fn fail(
    guest: &Guest,
    stdin: &mut std::process::ChildStdin,
    lines: &mut Lines,
    fault: Fault,
    n: usize,
) -> Trial {
    lines.pump();
    let cut_at = Instant::now();
    let down = match fault {
        Fault::Cut(d) => {
            guest.link(false);
            d
        }
        Fault::Loss(p, d) => {
            guest.loss(p);
            d
        }
        Fault::Readdress(a) => {
            guest.readdress(a);
            Duration::ZERO
        }
        Fault::Sleep(d) => {
            guest.pause(true);
            d
        }
    };
    std::thread::sleep(down / 2);
    let text = format!("typed during fault {n}");
    writeln!(stdin, "{text}").unwrap();
    std::thread::sleep(down - down / 2);
    match fault {
        Fault::Cut(_) => guest.link(true),
        Fault::Loss(..) => guest.loss(0),
        Fault::Readdress(_) => {}
        Fault::Sleep(_) => guest.pause(false),
    }
    let back_at = Instant::now();
    if let Fault::Loss(..) = fault {
        return lossy_outcome(lines, cut_at, back_at, &text);
    }
    // Back: the bot's picture arrives again (the client prints when a
    // picture that stopped for a second or more starts again).
    let again = match fault {
        // A rejoin after an address change can be quicker than that second:
        // back is then a whole stats interval of the bot's video after the
        // call said it was connected again.
        Fault::Readdress(_) => flowing_after_rejoin(lines, cut_at),
        _ => lines
            .wait(back_at, Duration::from_secs(150), |l| {
                l.starts_with("video from bot again")
            })
            .map(|(t, _)| t),
    };
    lines.pump();
    let showed_reconnecting = lines
        .seen
        .iter()
        .any(|(t, l)| *t >= cut_at && l == "state: Reconnecting");
    let ended = lines.seen.iter().any(|(t, l)| {
        *t >= cut_at && (l.starts_with("state: Ended") || l.starts_with("state: Failed"))
    });
    let recovered_after = again
        .filter(|_| !ended)
        .map(|t| t.duration_since(back_at).as_secs_f64());
    Trial {
        recovered_after,
        showed_reconnecting,
        chat: chat_outcome(lines, cut_at, &text),
        said: said(lines, cut_at, back_at),
    }
}

/// When the bot's video flows again after the call rejoined: a "video again"
/// line, or a stats line with frames that covers only time after the call
/// was connected again (stats come once a second).
fn flowing_after_rejoin(lines: &mut Lines, since: Instant) -> Option<Instant> {
    let (connected, _) =
        lines.wait(since, Duration::from_secs(150), |l| l == "state: Connected")?;
    let whole_interval = connected + Duration::from_millis(1100);
    let mut from = connected;
    loop {
        let (t, l) = lines.wait(from, Duration::from_secs(60), |l| {
            l.starts_with("video from bot again") || bot_video(l)
        })?;
        if l.starts_with("video from bot again") || t >= whole_interval {
            return Some(t);
        }
        from = t + Duration::from_nanos(1);
    }
}

/// The message typed during a fault: echoed by the bot, or reported unsent.
pub(crate) fn chat_outcome(lines: &mut Lines, since: Instant, text: &str) -> &'static str {
    let echo = format!("chat from bot: echo: {text}");
    let unsent = format!("): {text}");
    match lines.wait(since, Duration::from_secs(30), |l| {
        l == echo || (l.starts_with("chat not sent") && l.ends_with(&unsent))
    }) {
        Some((_, l)) if l == echo => "delivered",
        Some(_) => "marked unsent",
        None => {
            for (t, l) in lines
                .seen
                .iter()
                .filter(|(t, l)| *t >= since && !l.starts_with("stats"))
            {
                println!("  {:+.2} s {l}", t.duration_since(since).as_secs_f64());
            }
            "LOST"
        }
    }
}

/// After packet loss the call may never have dropped: it is back when the
/// bot's picture flows (a stats line with frames) and nothing ended.
pub(crate) fn lossy_outcome(
    lines: &mut Lines,
    since: Instant,
    back_at: Instant,
    text: &str,
) -> Trial {
    let flowing = lines
        .wait(back_at, Duration::from_secs(60), |l| {
            bot_video(l) || l.starts_with("video from bot again")
        })
        .map(|(t, _)| t);
    lines.pump();
    let ended = lines.seen.iter().any(|(t, l)| {
        *t >= since && (l.starts_with("state: Ended") || l.starts_with("state: Failed"))
    });
    Trial {
        recovered_after: flowing
            .filter(|_| !ended)
            .map(|t| t.duration_since(back_at).as_secs_f64()),
        showed_reconnecting: lines
            .seen
            .iter()
            .any(|(t, l)| *t >= since && l == "state: Reconnecting"),
        chat: chat_outcome(lines, since, text),
        said: said(lines, since, back_at),
    }
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// tandem-devserver as its own process (so it can be killed like a
/// crashing server), beside tandem-cli in the build's target folder.
pub(crate) fn devserver(ip: std::net::IpAddr, port: u16, udp: u16) -> Child {
    let bin = std::path::Path::new(BIN).with_file_name("tandem-devserver");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "-p", "tandem-devserver"])
            .status()
            .unwrap();
        assert!(built.success(), "building tandem-devserver failed");
    }
    let child = Command::new(bin)
        .args(["--dev", "--bind", &ip.to_string()])
        .args(["--port", &port.to_string(), "--udp-port", &udp.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect((ip, port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "tandem-devserver did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

pub(crate) fn free_port(ip: std::net::IpAddr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
