//! LiveKit SDK participants driven over JSON lines: the Python SDK
//! (`tests/peers/py_peer.py`) and the JS SDK in Chromium
//! (`tests/peers/js/js_peer.mjs`), which speak the same protocol.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// One SDK participant in a room.
#[derive(Debug)]
pub struct Peer {
    /// Its identity, for messages.
    pub name: String,
    child: Child,
    stdin: ChildStdin,
    events: mpsc::UnboundedReceiver<Value>,
    /// Every event seen so far, oldest first.
    pub history: Vec<Value>,
    next_id: u64,
}

impl Peer {
    /// The peer's process id (for CPU and memory figures).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// A Python SDK participant, once connected (or failed to).
    pub async fn python(name: &str, url: &str, token: &str) -> Result<Peer> {
        Self::python_with(name, url, token, &[]).await
    }

    /// [`Peer::python`] with more of `py_peer.py`'s options.
    pub async fn python_with(name: &str, url: &str, token: &str, options: &[&str]) -> Result<Peer> {
        let script = crate::workspace_root().join("tests/peers/py_peer.py");
        Self::spawn_with(name, &[], "python3", &script, url, token, options)?
            .connected()
            .await
    }

    /// [`Peer::python`] inside another process's network namespace (a
    /// [`crate::netns::Guest`]'s), so that cutting the test's own network
    /// leaves this participant's link alone.
    pub async fn python_in(netns_of: u32, name: &str, url: &str, token: &str) -> Result<Peer> {
        let script = crate::workspace_root().join("tests/peers/py_peer.py");
        let netns = format!("--net=/proc/{netns_of}/ns/net");
        Self::spawn_with(
            name,
            &["nsenter", &netns],
            "python3",
            &script,
            url,
            token,
            &[],
        )?
        .connected()
        .await
    }

    /// [`Peer::browser`] with more of `js_peer.mjs`'s options.
    pub async fn browser_with(
        name: &str,
        url: &str,
        token: &str,
        options: &[&str],
    ) -> Result<Peer> {
        let script = crate::workspace_root().join("tests/peers/js/js_peer.mjs");
        Self::spawn_with(name, &[], "node", &script, url, token, options)?
            .connected()
            .await
    }

    /// A JS SDK participant in headless Chromium, once connected (or failed to).
    pub async fn browser(name: &str, url: &str, token: &str) -> Result<Peer> {
        let script = crate::workspace_root().join("tests/peers/js/js_peer.mjs");
        Self::spawn(name, "node", &script, url, token)?
            .connected()
            .await
    }

    /// Seed 004's session page in headless Chromium (`js_peer.mjs --page
    /// p2p`: `RTCPeerConnection` + socket.io-client), which validates and
    /// joins `link` at the platform `api`, then enters the Socket.IO room at
    /// `socket_url`; once it is in.
    pub async fn seed_page(name: &str, api: &str, socket_url: &str, link: &str) -> Result<Peer> {
        Self::seed_page_with(name, api, socket_url, link, &[]).await
    }

    /// [`Peer::seed_page`] with more of js_peer's options (`--turn URL
    /// --turn-username U --turn-credential C`: only through that relay).
    pub async fn seed_page_with(
        name: &str,
        api: &str,
        socket_url: &str,
        link: &str,
        options: &[&str],
    ) -> Result<Peer> {
        let script = crate::workspace_root().join("tests/peers/js/js_peer.mjs");
        let mut all = vec!["--page", "p2p", "--api", api];
        all.extend_from_slice(options);
        Self::spawn_with(name, &[], "node", &script, socket_url, link, &all)?
            .connected()
            .await
    }

    /// Starts a peer program without waiting for it to connect.
    pub fn spawn(
        name: &str,
        program: &str,
        script: &std::path::Path,
        url: &str,
        token: &str,
    ) -> Result<Peer> {
        Self::spawn_with(name, &[], program, script, url, token, &[])
    }

    /// Starts a peer program with extra options and no token, without
    /// waiting for it to connect.
    pub fn spawn_args(
        name: &str,
        program: &str,
        script: &std::path::Path,
        url: &str,
        options: &[&str],
    ) -> Result<Peer> {
        Self::spawn_with(name, &[], program, script, url, "-", options)
    }

    /// A seed-004 signalling participant on the official Socket.IO JS
    /// client (`tests/peers/js/socketio_peer.mjs`), once connected to the
    /// server at `url`. `transports` as socket.io-client takes them
    /// (`websocket`); none: its default, long polling upgraded, as the
    /// seed's page connects.
    pub async fn socketio(name: &str, url: &str, transports: Option<&str>) -> Result<Peer> {
        let script = crate::workspace_root().join("tests/peers/js/socketio_peer.mjs");
        let options: Vec<&str> = match transports {
            Some(t) => vec!["--transports", t],
            None => vec![],
        };
        Self::spawn_args(name, "node", &script, url, &options)?
            .connected()
            .await
    }

    /// The data of the first Socket.IO event `name` this peer received
    /// (waiting up to 10 s for it).
    pub async fn socket_event(&mut self, name: &str) -> Result<Value> {
        let e = self
            .wait(Duration::from_secs(10), |e| {
                e["event"] == "socket" && e["name"] == name
            })
            .await?;
        Ok(e["data"].clone())
    }

    /// The data of every Socket.IO event `name` received so far.
    pub fn socket_events(&self, name: &str) -> Vec<&Value> {
        self.history
            .iter()
            .filter(|e| e["event"] == "socket" && e["name"] == name)
            .map(|e| &e["data"])
            .collect()
    }

    /// Every event seen so far, oldest first.
    pub fn history(&self) -> &[Value] {
        &self.history
    }

    /// Starts `launcher… program script --url … --token … options…`.
    fn spawn_with(
        name: &str,
        launcher: &[&str],
        program: &str,
        script: &std::path::Path,
        url: &str,
        token: &str,
        options: &[&str],
    ) -> Result<Peer> {
        let mut cmd = match launcher.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(program);
                c
            }
            None => Command::new(program),
        };
        let mut child = cmd
            .arg(script)
            .args(["--url", url, "--token", token])
            .args(options)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", script.display()))?;
        let stdout = child.stdout.take().context("peer stdout")?;
        let stdin = child.stdin.take().context("peer stdin")?;
        let (tx, events) = mpsc::unbounded_channel();
        let label = name.to_owned();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("[{label}] not JSON: {line}"),
                }
            }
        });
        Ok(Peer {
            name: name.to_owned(),
            child,
            stdin,
            events,
            history: Vec::new(),
            next_id: 1,
        })
    }

    /// Waits for the `connected` event.
    pub async fn connected(mut self) -> Result<Peer> {
        let ev = self
            .wait(Duration::from_secs(60), |e| {
                matches!(e["event"].as_str(), Some("connected"))
                    || (e["event"] == "error" && e["where"] == "connect")
            })
            .await?;
        if ev["event"] == "error" {
            bail!("{} could not connect: {}", self.name, ev["message"]);
        }
        Ok(self)
    }

    /// Sends a command and waits for its `ok`; an `error` reply is an `Err`.
    pub async fn cmd(&mut self, command: Value) -> Result<Value> {
        self.cmd_within(Duration::from_secs(20), command).await
    }

    /// [`Peer::cmd`] for a command that takes longer than 20 s.
    pub async fn cmd_within(&mut self, timeout: Duration, mut command: Value) -> Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        command["id"] = json!(id);
        let line = format!("{command}\n");
        self.stdin
            .write_all(line.as_bytes())
            .await
            .with_context(|| format!("{} is gone", self.name))?;
        self.stdin.flush().await?;
        let reply = self
            .wait(timeout, |e| {
                e["id"] == json!(id) && (e["event"] == "ok" || e["event"] == "error")
            })
            .await?;
        if reply["event"] == "error" {
            bail!(
                "{}: {} failed: {}",
                self.name,
                command["cmd"],
                reply["message"]
            );
        }
        Ok(reply)
    }

    /// The `stats` event: what this peer receives from each remote identity.
    pub async fn stats(&mut self) -> Result<Value> {
        self.cmd(json!({"cmd": "stats"})).await?;
        self.history
            .iter()
            .rev()
            .find(|e| e["event"] == "stats")
            .cloned()
            .context("stats event missing")
    }

    /// Returns the first event (seen before or arriving within `timeout`) matching `pred`.
    pub async fn wait(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        if let Some(e) = self.history.iter().find(|e| pred(e)) {
            return Ok(e.clone());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) => {
                    self.history.push(e.clone());
                    if pred(&e) {
                        return Ok(e);
                    }
                }
                Ok(None) => bail!("{} exited; events: {:?}", self.name, self.history),
                Err(_) => bail!(
                    "{}: timed out after {timeout:?}; events: {:?}",
                    self.name,
                    self.history
                ),
            }
        }
    }

    /// Waits for an event named `event` whose fields include all of `fields`.
    pub async fn expect(&mut self, event: &str, fields: Value) -> Result<Value> {
        self.expect_within(Duration::from_secs(20), event, fields)
            .await
    }

    /// [`Peer::expect`] with a chosen timeout.
    pub async fn expect_within(
        &mut self,
        timeout: Duration,
        event: &str,
        fields: Value,
    ) -> Result<Value> {
        let fields = fields.as_object().cloned().unwrap_or_default();
        self.wait(timeout, |e| {
            e["event"] == event && fields.iter().all(|(k, v)| &e[k] == v)
        })
        .await
        .with_context(|| format!("{} waiting for {event} {fields:?}", self.name))
    }

    /// Polls `stats` until `check` accepts it or `timeout` passes; returns the last stats.
    pub async fn stats_until(
        &mut self,
        timeout: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let s = self.stats().await?;
            if check(&s) {
                return Ok(s);
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "{}: stats never satisfied the check within {timeout:?}; last: {s}",
                    self.name
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits (up to 5 s) until `more` frames of `kind` (`audio` or
    /// `video`) have arrived from `identity` since now: its track still runs.
    pub async fn still_receiving(&mut self, kind: &str, identity: &str, more: u64) -> Result<()> {
        let count = |s: &Value| s[kind][identity]["frames"].as_u64().unwrap_or(0);
        let now = count(&self.stats().await?);
        self.stats_until(Duration::from_secs(5), |s| count(s) >= now + more)
            .await
            .map(|_| ())
    }

    /// Disconnects and waits for the process to end.
    pub async fn disconnect(mut self) -> Result<()> {
        let _ = self.cmd(json!({"cmd": "disconnect"})).await;
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        Ok(())
    }

    /// Ends the process abruptly (no leave sent), as a crash or pulled cable would.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// One RoomService call through LiveKit's Python server SDK (`tests/peers/room_api.py`).
/// `http_url` is the server's `http://host:port`.
pub async fn room_api(http_url: &str, args: &[&str]) -> Result<Value> {
    let script = crate::workspace_root().join("tests/peers/room_api.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(["--url", http_url])
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .await
        .with_context(|| format!("starting {}", script.display()))?;
    let v: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "room_api {args:?} printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    if !out.status.success() {
        bail!("room_api {args:?}: {}", v["error"]);
    }
    Ok(v)
}

/// Whether a colour a peer reported (`[r, g, b]` in its stats) is within 24
/// of `want` in each channel: video coding shifts colours a little.
pub fn colour_near(reported: &serde_json::Value, want: [u8; 3]) -> bool {
    reported.as_array().is_some_and(|c| {
        c.len() == 3
            && c.iter()
                .zip(want)
                .all(|(v, w)| v.as_i64().is_some_and(|v| (v - i64::from(w)).abs() < 24))
    })
}
