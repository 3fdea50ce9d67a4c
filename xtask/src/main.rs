//! `cargo xtask`: the one task runner that the README and CI call verbatim.
//!
//! - `setup`: install what the workspace needs on this machine (Debian
//!   packages, the pinned LiveKit library). Idempotent and fast when done.
//! - `test`: setup, then every gate CI enforces (format, lints, tests).
//! - `demo`: setup, then the current demo.
//! - `fetch-livekit`: one target's pinned library into a folder.
//! - `bundle`: the app's installers with that library inside.
//! - `feed`: the update feed (`latest.json`) for signed installers.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod apt;
mod bundle;
mod demo;
mod feed;
mod gate;
mod livekit;
mod pg;
mod run;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", about = "Tandem's task runner")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Install Debian packages and the pinned LiveKit library (idempotent).
    Setup {
        /// Skip Debian packages (for machines set up by hand or not Debian).
        #[arg(long)]
        no_apt: bool,
    },
    /// Setup, then format check, clippy and all tests: what CI runs.
    Test {
        /// Skip Debian packages.
        #[arg(long)]
        no_apt: bool,
    },
    /// Setup, then a call on this desktop: dev server, backend, a bot as the
    /// coach and the app as the client (`--seconds N --screenshot F` for a
    /// bounded run).
    Demo {
        /// Arguments passed on to the demo.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Write the update feed (latest.json) for a folder of signed installers.
    Feed(feed::FeedArgs),
    /// Fetch one target's pinned LiveKit library (sha256-checked) into a folder.
    FetchLivekit {
        /// Rust target triple, e.g. x86_64-pc-windows-msvc.
        #[arg(long)]
        target: String,
        /// Folder that receives the library, its licence and the descriptors.
        #[arg(long)]
        dest: PathBuf,
    },
    /// Setup, then the app's installers (.deb and .rpm here; every OS in the
    /// release workflow) with the LiveKit library and its licence inside.
    Bundle {
        /// Skip Debian packages.
        #[arg(long)]
        no_apt: bool,
        #[command(flatten)]
        args: bundle::BundleArgs,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Setup { no_apt } => setup(no_apt),
        Command::Test { no_apt } => {
            setup(no_apt)?;
            gate::run_all()
        }
        Command::Demo { args } => {
            setup(false)?;
            demo::run(&args)
        }
        Command::Bundle { no_apt, args } => {
            setup(no_apt)?;
            bundle::run(&args).map(|_| ())
        }
        Command::Feed(args) => feed::run(&args),
        Command::FetchLivekit { target, dest } => {
            let pin = tandem_lk_dist::pin_for_target(&target).ok_or_else(|| {
                anyhow::anyhow!(
                    "no pinned LiveKit wheel for target {target}; known targets: {}",
                    tandem_lk_dist::WHEELS
                        .iter()
                        .map(|w| w.target)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            livekit::ensure(pin, &dest)?;
            println!("LiveKit library for {target} is in {}", dest.display());
            Ok(())
        }
    }
}

fn setup(no_apt: bool) -> Result<()> {
    let started = std::time::Instant::now();
    if no_apt || std::env::var_os("TANDEM_NO_APT").is_some() {
        println!("setup: skipping Debian packages");
    } else {
        apt::ensure(apt::PACKAGES)?;
    }
    livekit::ensure_host()?;
    python_peers()?;
    npm_ci("tests/peers/js", "JS test peer")?;
    npm_ci("ui", "UI")?;
    tools()?;
    println!("setup: done in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Installs the pinned official Python SDKs the interop tests use as peers.
fn python_peers() -> Result<()> {
    let root = workspace_root();
    let reqs = root.join("tests/peers/requirements.txt");
    let python = if cfg!(windows) { "python" } else { "python3" };
    run::status(
        std::process::Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--root-user-action=ignore",
                "-r",
            ])
            .arg(&reqs),
        "the interop tests need LiveKit's Python SDK; check the network or install the versions in tests/peers/requirements.txt by hand",
    )?;
    println!("setup: Python test peers ready ({})", reqs.display());
    Ok(())
}

/// The workspace root (xtask lives one level below it).
pub(crate) fn workspace_root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Tools built once into `~/.cache/tandem/tools` with `cargo install`:
/// tauri-driver (WebDriver for the app's end-to-end tests) and the Tauri CLI
/// (the bundler behind `cargo xtask bundle`; its npm package cannot be
/// locked for every OS from here).
const TOOLS: &[(&str, &str, &str)] = &[
    ("tauri-driver", "2.1.0", "the app's end-to-end tests"),
    ("tauri-cli", "2.12.4", "building the installers"),
];

/// Where those tools live.
pub(crate) fn tools_dir() -> Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .ok_or_else(|| anyhow::anyhow!("HOME is not set"))?;
    Ok(std::path::Path::new(&home).join(".cache/tandem/tools"))
}

fn tools() -> Result<()> {
    let root = tools_dir()?;
    for &(name, version, why) in TOOLS {
        if name == "tauri-driver" && !cfg!(target_os = "linux") {
            continue;
        }
        let marker = root.join(format!(".{name}-{version}"));
        if marker.exists() {
            println!("setup: {name} {version} present");
            continue;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        run::status(
            std::process::Command::new(cargo)
                .args([
                    "install",
                    "--quiet",
                    "--locked",
                    name,
                    "--version",
                    version,
                    "--root",
                ])
                .arg(&root)
                // Its own build directory: the workspace's target is not involved.
                .env_remove("CARGO_TARGET_DIR"),
            &format!("{why} need {name}; check the network"),
        )?;
        std::fs::write(&marker, "")?;
        println!("setup: {name} {version} installed in {}", root.display());
    }
    Ok(())
}

/// Installs a folder's pinned npm packages (`npm ci`) when its lockfile
/// changed since the last install.
fn npm_ci(rel: &str, what: &str) -> Result<()> {
    use sha2::{Digest as _, Sha256};
    let dir = workspace_root().join(rel);
    let lock = std::fs::read(dir.join("package-lock.json"))?;
    let want = format!("{:x}", Sha256::digest(&lock));
    let marker = dir.join("node_modules/.tandem-lock-sha256");
    if std::fs::read_to_string(&marker).is_ok_and(|have| have.trim() == want) {
        println!("setup: {what} packages present");
        return Ok(());
    }
    run::status(
        std::process::Command::new(npm())
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir),
        "this needs Node.js (20.19 or newer) with npm and the npm registry; install it or check the network",
    )?;
    std::fs::write(&marker, want)?;
    println!("setup: {what} packages installed ({})", dir.display());
    Ok(())
}

pub(crate) fn npm() -> &'static str {
    if cfg!(windows) { "npm.cmd" } else { "npm" }
}
