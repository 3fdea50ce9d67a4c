//! Driving a command-line program the way a person in a terminal does.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, ChildStdout};
use std::time::{Duration, Instant};

/// Reads the child's stdout until a line contains `marker`; returns all of it.
/// Panics if the program exits first.
pub fn read_until(out: &mut BufReader<ChildStdout>, marker: &str) -> String {
    let mut printed = String::new();
    while !printed.contains(marker) {
        let mut line = String::new();
        let n = out
            .read_line(&mut line)
            .expect("reading the program's output");
        assert!(n > 0, "exited before printing {marker:?}: {printed}");
        printed.push_str(&line);
    }
    printed
}

/// `BIN join --url URL --token TOKEN`: tandem-cli joining a room, for
/// the caller to add its devices and options to.
pub fn joining(bin: &str, url: &str, token: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["join", "--url", url, "--token", token]);
    cmd
}

/// Sends SIGINT (Ctrl-C) and waits up to 10 s; returns whether it exited 0.
pub fn interrupt(child: &mut Child) -> bool {
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(sent.success(), "kill -INT failed");
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("waiting for the program") {
            return s.success();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "did not stop on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `cmd` with its stdout piped; its lines arrive on the channel (read
/// on a thread of their own, until the program closes its stdout).
pub fn spawn_lines(cmd: &mut std::process::Command) -> (Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead as _;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting the program");
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
    }
    (child, rx)
}

/// The first line containing `want` within `within`, or a panic naming
/// `who` and everything it said instead.
pub fn expect_line(
    lines: &std::sync::mpsc::Receiver<String>,
    who: &str,
    within: Duration,
    want: &str,
) -> String {
    let deadline = Instant::now() + within;
    let mut said = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(l) if l.contains(want) => return l,
            Ok(l) => said.push(l),
            Err(_) => break,
        }
    }
    panic!("{who} never said {want:?} within {within:?}; said {said:#?}");
}

/// A child process killed when this is dropped (a failing test never
/// leaves it running).
#[derive(Debug)]
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A program driven as a person at a terminal drives it: lines typed in,
/// its output read until what is awaited shows (off the async runtime's
/// threads). Dropped, it is killed if still running, so a test that fails
/// half-way leaves no program behind.
#[derive(Debug)]
pub struct Console {
    child: Child,
    out: Option<BufReader<ChildStdout>>,
}

impl Console {
    /// Starts `cmd` with its input and output piped (its errors shown).
    pub fn spawn(cmd: &mut std::process::Command) -> Self {
        use std::process::Stdio;
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the program");
        let out = child.stdout.take().map(BufReader::new);
        Self { child, out }
    }

    /// Everything printed until a line contains `marker` (see [`read_until`]).
    pub async fn until(&mut self, marker: &str) -> String {
        let mut out = self.out.take().expect("the program's output");
        let marker = marker.to_owned();
        let (printed, out) = tokio::task::spawn_blocking(move || {
            let p = read_until(&mut out, &marker);
            (p, out)
        })
        .await
        .expect("reading the program's output");
        self.out = Some(out);
        printed
    }

    /// Types `line` (and Enter).
    pub fn type_line(&mut self, line: &str) {
        use std::io::Write as _;
        let stdin = self.child.stdin.as_mut().expect("the program's input");
        writeln!(stdin, "{line}").expect("typing into the program");
    }

    /// Types `line`, then reads until `marker`.
    pub async fn say(&mut self, line: &str, marker: &str) -> String {
        self.type_line(line);
        self.until(marker).await
    }

    /// Ctrl-C, as [`interrupt`]: whether it exited cleanly.
    pub fn interrupt(&mut self) -> bool {
        interrupt(&mut self.child)
    }

    /// Ctrl-C, then what it printed on its way out: whether it exited
    /// cleanly, and that.
    pub async fn finish(mut self) -> (bool, String) {
        let mut out = self.out.take();
        tokio::task::spawn_blocking(move || {
            let ok = self.interrupt();
            let mut rest = String::new();
            if let Some(out) = out.as_mut() {
                let _ = std::io::Read::read_to_string(out, &mut rest);
            }
            (ok, rest)
        })
        .await
        .expect("reading the program's output")
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
