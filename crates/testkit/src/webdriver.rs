//! Just enough W3C WebDriver to drive the desktop app through tauri-driver
//! (which fronts Debian's WebKitWebDriver): find elements by `data-testid`,
//! click, type, read text and attributes, run scripts, take screenshots.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::{Value, json};

/// The W3C key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// `tauri-driver`: installed by `cargo xtask setup` under
/// `~/.cache/tandem/tools/bin`, or found on `PATH`.
pub fn tauri_driver_path() -> PathBuf {
    let cached = std::env::var_os("HOME")
        .map(|h| Path::new(&h).join(".cache/tandem/tools/bin/tauri-driver"));
    match cached {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("tauri-driver"),
    }
}

/// A running tauri-driver; dropping it stops it (and the app it started).
#[derive(Debug)]
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts tauri-driver on a free port with `env` added to its (and so
    /// the app's) environment.
    pub fn start(env: &[(&str, &str)]) -> Result<Driver> {
        Self::start_with_stderr(env, Stdio::inherit())
    }

    /// [`Driver::start`] with the driver's stderr — and so the app's log —
    /// written to `log`.
    pub fn start_logged(env: &[(&str, &str)], log: &Path) -> Result<Driver> {
        let file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        Self::start_with_stderr(env, Stdio::from(file))
    }

    fn start_with_stderr(env: &[(&str, &str)], stderr: Stdio) -> Result<Driver> {
        let port = free_port()?;
        let native = free_port()?;
        let mut cmd = Command::new(tauri_driver_path());
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
        .stdout(Stdio::null())
        .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().context(
            "cannot start tauri-driver: run `cargo xtask setup` (it installs it) and install webkit2gtk-driver",
        )?;
        Ok(Driver { child, port })
    }

    /// The driver's process id (the app runs below it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Opens the app at `binary` (waits for the driver to listen).
    pub async fn session(&self, binary: &Path) -> Result<Session> {
        self.session_with_args(binary, &[]).await
    }

    /// Opens the app at `binary` with command-line `args`.
    pub async fn session_with_args(&self, binary: &Path, args: &[&str]) -> Result<Session> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let base = format!("http://127.0.0.1:{}", self.port);
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": binary, "args": args}
        }}});
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match http
                .post(format!("{base}/session"))
                .json(&caps)
                .send()
                .await
            {
                Ok(res) => {
                    let v: Value = res.json().await?;
                    let id = v["value"]["sessionId"]
                        .as_str()
                        .ok_or_else(|| anyhow!("no session: {v}"))?;
                    return Ok(Session {
                        http,
                        url: format!("{base}/session/{id}"),
                    });
                }
                // Not listening yet, or (while it is still starting its
                // native driver) closing the connection without an answer.
                Err(e)
                    if Instant::now() < deadline
                        && (e.is_connect() || (e.is_request() && !e.is_timeout())) =>
                {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e).context("tauri-driver did not answer"),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // WebKitWebDriver and the app outlive tauri-driver when it is
        // killed: stop the whole tree, children first.
        let mut below: Vec<u32> = crate::procstat::tree(self.child.id())
            .into_iter()
            .map(|(p, _)| p)
            .filter(|&p| p != self.child.id())
            .collect();
        below.reverse();
        for pid in below {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// One WebDriver session (the app's window).
#[derive(Debug, Clone)]
pub struct Session {
    http: reqwest::Client,
    url: String,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Session {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(&b);
        } else if method == reqwest::Method::POST {
            req = req.json(&json!({}));
        }
        let res = req.send().await?;
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("WebDriver {path}: {status}: {}", v["value"]["message"]);
        }
        Ok(v["value"].clone())
    }

    /// Runs `script` (a function body; `arguments` available) and returns its value.
    pub async fn script(&self, script: &str, args: Value) -> Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// The first element matching a CSS selector, if any now.
    pub async fn find(&self, css: &str) -> Result<Option<Element>> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        Ok(v.as_array()
            .and_then(|a| a.first())
            .and_then(|e| e[ELEMENT].as_str())
            .map(|id| Element(id.to_owned())))
    }

    /// Waits up to `within` for an element matching `css`.
    pub async fn wait_for(&self, css: &str, within: Duration) -> Result<Element> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(e) = self.find(css).await? {
                return Ok(e);
            }
            if Instant::now() > deadline {
                bail!("no element {css} within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `[data-testid=…]`.
    pub async fn testid(&self, id: &str) -> Result<Element> {
        self.wait_for(&format!("[data-testid=\"{id}\"]"), Duration::from_secs(20))
            .await
    }

    /// Polls `script` until it returns something truthy (then returns it).
    pub async fn until(&self, what: &str, within: Duration, script: &str) -> Result<Value> {
        let deadline = Instant::now() + within;
        let mut last;
        loop {
            match self.script(script, json!([])).await {
                Ok(v) if !v.is_null() && v != json!(false) && v != json!(0) && v != json!("") => {
                    return Ok(v);
                }
                Ok(v) => last = v,
                Err(e) => last = json!(e.to_string()),
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {what} (last: {last})");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    pub async fn click(&self, e: &Element) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", e.0),
            None,
        )
        .await
        .map(|_| ())
    }

    /// Clears an input and types `text`.
    pub async fn fill(&self, e: &Element, text: &str) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/clear", e.0),
            None,
        )
        .await?;
        self.type_text(e, text).await
    }

    /// Types `text` into an element, after what it holds.
    pub async fn type_text(&self, e: &Element, text: &str) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", e.0),
            Some(json!({"text": text})),
        )
        .await
        .map(|_| ())
    }

    /// The element's text content (WebKitWebDriver's rendered-text
    /// endpoint answers empty for some visible elements).
    pub async fn text(&self, e: &Element) -> Result<String> {
        Ok(self
            .script(
                "return arguments[0].textContent;",
                json!([{ ELEMENT: e.0 }]),
            )
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn attribute(&self, e: &Element, name: &str) -> Result<Option<String>> {
        Ok(self
            .call(
                reqwest::Method::GET,
                &format!("/element/{}/attribute/{name}", e.0),
                None,
            )
            .await?
            .as_str()
            .map(str::to_owned))
    }

    /// Sends key presses to the focused element (W3C key codes allowed).
    pub async fn keys(&self, keys: &[&str]) -> Result<()> {
        let mut down = Vec::new();
        let mut up = Vec::new();
        for k in keys {
            down.push(json!({"type": "keyDown", "value": k}));
            up.insert(0, json!({"type": "keyUp", "value": k}));
        }
        down.extend(up);
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": down}]})),
        )
        .await
        .map(|_| ())
    }

    /// Saves a PNG of the window.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        use base64::Engine as _;
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await?;
        let png =
            base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default())?;
        std::fs::write(path, png)?;
        Ok(())
    }

    /// The handles of the app's windows (each webview one).
    pub async fn window_handles(&self) -> Result<Vec<String>> {
        let v = self
            .call(reqwest::Method::GET, "/window/handles", None)
            .await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The window commands go to now.
    pub async fn window_handle(&self) -> Result<String> {
        let v = self.call(reqwest::Method::GET, "/window", None).await?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no window handle: {v}"))
    }

    /// Sends the next commands to the window `handle`.
    pub async fn switch_to_window(&self, handle: &str) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            "/window",
            Some(json!({"handle": handle})),
        )
        .await
        .map(|_| ())
    }

    /// Minimises the current window (needs a window manager to do so).
    pub async fn minimize(&self) -> Result<()> {
        self.call(reqwest::Method::POST, "/window/minimize", None)
            .await
            .map(|_| ())
    }

    /// Ends the session (closes the app).
    pub async fn close(self) -> Result<()> {
        self.http.delete(&self.url).send().await?;
        Ok(())
    }
}

/// W3C key values.
pub mod key {
    pub const CONTROL: &str = "\u{E009}";
    pub const SHIFT: &str = "\u{E008}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const ENTER: &str = "\u{E007}";
}
