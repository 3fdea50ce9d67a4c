//! `cargo xtask demo`: a working call on this desktop with one command.
//! Starts tandem-devserver and tandem-backend in development mode, a
//! `tandem-cli bot` as the coach (test pattern and a tone, echoing chat),
//! and the app as the client, joined to the demo session. Closing the app
//! (or Ctrl-C) stops everything.
//!
//! As root with `unshare` (CI machines, containers) it runs inside a private
//! network namespace, so no media touches the machine's real interfaces;
//! elsewhere the call runs over this machine's own addresses.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

const INSIDE: &str = "TANDEM_DEMO_NETNS";
const ADDR: &str = "10.77.0.1";

pub(crate) struct Options {
    /// Stop after this long (smoke tests); `None` runs until the app closes.
    pub(crate) seconds: Option<u64>,
    /// Save a screenshot of the display here before stopping.
    pub(crate) screenshot: Option<PathBuf>,
    /// A call with a second machine on this LAN: servers listen on this
    /// address, and the coach's link is printed for the other machine.
    pub(crate) lan: Option<String>,
    /// With `--lan`, also start the bot (one-person testing).
    pub(crate) bot: bool,
}

pub(crate) fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        seconds: None,
        screenshot: None,
        lan: None,
        bot: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                o.seconds = Some(
                    it.next()
                        .and_then(|s| s.parse().ok())
                        .context("--seconds needs a number")?,
                )
            }
            "--screenshot" => {
                o.screenshot = Some(it.next().context("--screenshot needs a path")?.into())
            }
            "--lan" => {
                let addr = match it.clone().next().filter(|a| !a.starts_with("--")) {
                    Some(a) => {
                        it.next();
                        a.clone()
                    }
                    None => lan_address()?,
                };
                let ip: std::net::Ipv4Addr = addr
                    .parse()
                    .with_context(|| format!("--lan {addr:?} is not an IPv4 address"))?;
                if ip.is_loopback() || ip.is_unspecified() {
                    bail!("--lan needs this machine's LAN address, not {ip}");
                }
                o.lan = Some(addr);
            }
            "--bot" => o.bot = true,
            other => bail!(
                "unknown demo option {other:?} (known: --seconds N, --screenshot FILE, --lan [ADDRESS], --bot)"
            ),
        }
    }
    Ok(o)
}

/// Builds what the demo runs, then runs it (in a private network namespace
/// when this user can make one).
pub(crate) fn run(args: &[String]) -> Result<()> {
    let opts = parse(args)?;
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        bail!(
            "the demo opens a window, and there is no display: run it on a desktop, or under `xvfb-run -a`"
        );
    }
    if std::env::var_os(INSIDE).is_none() {
        let root = crate::workspace_root();
        crate::run::status(
            Command::new(crate::npm())
                .args(["run", "--silent", "build"])
                .current_dir(root.join("ui")),
            "the UI did not build; see above",
        )?;
        crate::run::status(
            Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())).args([
                "build",
                "-p",
                "tandem",
                "-p",
                "tandem-backend",
                "-p",
                "tandem-devserver",
                "-p",
                "tandem-cli",
            ]),
            "the demo's programs did not build; see above",
        )?;
        if opts.lan.is_none() && can_make_namespace() {
            println!("demo: running in a private network namespace ({ADDR})");
            let script = format!(
                "set -e; ip link set lo up; ip link add tnd0 type veth peer name tnd1; \
                 ip addr add {ADDR}/24 dev tnd0; ip link set tnd0 up; ip link set tnd1 up; exec \"$@\""
            );
            let status = Command::new("unshare")
                .args(["--net", "--", "sh", "-c", &script, "sh"])
                .arg(std::env::current_exe()?)
                .arg("demo")
                .args(args)
                .env(INSIDE, "1")
                .status()?;
            if !status.success() {
                bail!("the demo failed ({status})");
            }
            return Ok(());
        }
    }
    call(&opts)
}

/// This machine's address on its LAN: the source address of the default
/// route (asking the kernel sends nothing).
fn lan_address() -> Result<String> {
    let out = crate::run::output(
        Command::new("ip").args(["-4", "route", "get", "192.0.2.1"]),
        "give the address yourself: --lan 192.168.1.20",
    )?;
    let mut words = out.split_whitespace();
    while let Some(w) = words.next() {
        if w == "src" {
            return words
                .next()
                .map(str::to_owned)
                .context("`ip route get` named no source address; give it: --lan ADDRESS");
        }
    }
    bail!("no route to a LAN here; give the address yourself: --lan 192.168.1.20")
}

fn can_make_namespace() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    root && Command::new("unshare").arg("--version").output().is_ok()
}

/// The children, stopped in reverse order on every way out.
struct Procs(Vec<(String, Child)>);

impl Drop for Procs {
    fn drop(&mut self) {
        for (name, child) in self.0.iter_mut().rev() {
            // SIGINT first, so servers stop cleanly.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
            println!("demo: stopped {name}");
        }
    }
}

/// Reads a child's stdout until a line contains `marker`; returns the lines.
fn read_until(child: &mut Child, name: &str, markers: &[&str]) -> Result<Vec<String>> {
    let out = child.stdout.take().context("no stdout")?;
    let mut lines = Vec::new();
    let mut reader = BufReader::new(out);
    let mut left: Vec<&str> = markers.to_vec();
    while !left.is_empty() {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("{name} stopped before it was ready:\n{}", lines.join(""));
        }
        print!("  {name}: {line}");
        left.retain(|m| !line.contains(m));
        lines.push(line);
    }
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    Ok(lines)
}

fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"));
    target.join("debug").join(name)
}

fn call(opts: &Options) -> Result<()> {
    let work = crate::workspace_root().join("target/demo");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let mut procs = Procs(Vec::new());

    let node_ip = match &opts.lan {
        Some(addr) => Some(addr.as_str()),
        None if std::env::var_os(INSIDE).is_some() => Some(ADDR),
        None => None,
    };
    let mut ds = Command::new(bin("tandem-devserver"))
        .arg("--dev")
        // In the namespace (or on the LAN), media goes to that address (the
        // socket must listen there too).
        .args(match node_ip {
            Some(ip) => vec!["--bind", "0.0.0.0", "--node-ip", ip],
            None => vec![],
        })
        .stdout(Stdio::piped())
        .spawn()
        .context("starting tandem-devserver")?;
    let ready = read_until(&mut ds, "devserver", &["Ctrl-C"]);
    procs.0.push(("tandem-devserver".into(), ds));
    ready.context("tandem-devserver (is port 7880 or UDP 7882 in use?)")?;

    let mut backend = Command::new(bin("tandem-backend"));
    backend.arg("--dev").current_dir(&work);
    if let Some(addr) = &opts.lan {
        backend
            .args(["--listen", "0.0.0.0:3000"])
            .env("LIVEKIT_URL", format!("ws://{addr}:7880"));
    }
    let mut backend = backend
        .stdout(Stdio::piped())
        .spawn()
        .context("starting tandem-backend")?;
    let lines = read_until(&mut backend, "backend", &["join as the client", "Ctrl-C"]);
    procs.0.push(("tandem-backend".into(), backend));
    let lines = lines.context("tandem-backend (is port 3000 in use?)")?;
    let link = |who: &str| -> Result<String> {
        lines
            .iter()
            .find(|l| l.contains(&format!("join as the {who}")))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_owned)
            .with_context(|| format!("tandem-backend printed no {who} link"))
    };
    let (mut coach, mut client) = (link("coach")?, link("client")?);
    if let Some(addr) = &opts.lan {
        // The backend prints the address it listens on; the other machine
        // needs this machine's.
        for l in [&mut coach, &mut client] {
            *l = l.replace("http://0.0.0.0:3000", &format!("http://{addr}:3000"));
        }
        println!(
            "\ndemo: LAN call. On the second machine (Tandem installed), open the coach's link:\n\n    {coach}\n\n  e.g. `tandem '{coach}'`, or paste it under \"Have a join link?\". This machine's firewall must let in TCP 3000 and 7880 and UDP 7882.\n"
        );
    }
    let coach_token = coach
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("link="))
        .context("the coach link has no token")?
        .to_owned();
    let backend_url = coach
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("backend="))
        .context("the coach link names no backend")?
        .to_owned();

    if opts.lan.is_none() || opts.bot {
        let bot = Command::new(bin("tandem-cli"))
            .args([
                "bot",
                "--backend",
                &backend_url,
                "--profile",
                "004",
                "--link",
                &coach_token,
            ])
            .stdout(Stdio::null())
            .spawn()
            .context("starting the bot")?;
        procs.0.push(("the bot (coach)".into(), bot));
    }

    let mut app = Command::new(bin("tandem"))
        .args([&client, "--name", "Demo client", "--join-now"])
        .env("XDG_CONFIG_HOME", work.join("config"))
        // Its own instance, even beside a Tandem the user already has open.
        .env("TANDEM_SINGLE_INSTANCE", "0")
        .spawn()
        .context("starting the app")?;
    println!(
        "demo: the app joins as the client; {} is the coach. Close the window (or Ctrl-C) to stop.",
        if opts.lan.is_some() && !opts.bot {
            "the second machine"
        } else {
            "the bot"
        }
    );
    let started = Instant::now();
    loop {
        if let Some(status) = app.try_wait()? {
            println!("demo: the app closed ({status})");
            break;
        }
        if opts
            .seconds
            .is_some_and(|s| started.elapsed() >= Duration::from_secs(s))
        {
            if let Some(path) = &opts.screenshot {
                screenshot(path);
            }
            procs.0.push(("the app".into(), app));
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

fn screenshot(path: &Path) {
    let ok = Command::new("import")
        .args(["-window", "root"])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        println!("demo: screenshot in {}", path.display());
    } else {
        println!("demo: could not take a screenshot (imagemagick's `import`)");
    }
}
