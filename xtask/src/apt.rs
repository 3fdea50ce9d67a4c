//! Debian packages the workspace needs, installed only when missing.

use crate::run;
use anyhow::Result;
use std::process::Command;

/// Everything the build and the test command need, with why.
pub(crate) const PACKAGES: &[(&str, &str)] = &[
    ("build-essential", "C toolchain for crates that build C"),
    ("pkg-config", "locating system libraries"),
    ("python3-pip", "fetching the pinned LiveKit wheel"),
    ("ca-certificates", "TLS for package downloads"),
    ("iproute2", "private network namespaces for media tests"),
    ("util-linux", "unshare, to enter those namespaces"),
    ("chromium", "the browser the JS SDK interop peer runs in"),
    (
        "libclang-dev",
        "nokhwa's V4L2 bindings are generated with bindgen",
    ),
    ("libasound2-dev", "cpal's ALSA backend"),
    ("libopus-dev", "Opus for seed 004's peer-to-peer calls"),
    ("libvpx-dev", "VP8 for seed 004's peer-to-peer calls"),
    (
        "libpipewire-0.3-dev",
        "reading shared screens on Wayland (PipeWire)",
    ),
    (
        "pipewire",
        "a PipeWire server for the Wayland screen-sharing tests",
    ),
    ("wireplumber", "links those tests' PipeWire streams"),
    (
        "xdg-desktop-portal",
        "the desktop portal those tests share through",
    ),
    (
        "coturn",
        "a TURN server relaying seed 004's peer-to-peer test calls",
    ),
    ("pulseaudio", "fake microphone and speakers for audio tests"),
    ("espeak-ng", "speech for the noise-removal test"),
    (
        "pulseaudio-utils",
        "pactl and parec drive and record those devices",
    ),
    (
        "libasound2-plugins",
        "routes ALSA's default device to PulseAudio",
    ),
    ("libwebkit2gtk-4.1-dev", "the desktop app's webview (Tauri)"),
    ("libgtk-3-dev", "the desktop app's window toolkit"),
    ("libxdo-dev", "Tauri's keyboard/menu support on Linux"),
    ("libssl-dev", "TLS for Tauri's dependencies"),
    ("libayatana-appindicator3-dev", "tray support Tauri links"),
    ("librsvg2-dev", "icons in the desktop app"),
    ("file", "Tauri's bundler inspects binaries"),
    ("rpm", "lists the .rpm installer's files to check them"),
    (
        "xdg-utils",
        "opens tandem:// links through the installed desktop entry",
    ),
    (
        "desktop-file-utils",
        "registers the installed app's tandem:// scheme",
    ),
    (
        "nftables",
        "drops a share of a test client's packets (the kernel here has no netem)",
    ),
    ("xvfb", "a virtual display for the app's tests"),
    ("xauth", "xvfb-run needs it"),
    (
        "openbox",
        "a window manager, to minimise the app in the floating window test",
    ),
    ("imagemagick", "screenshots of the virtual display"),
    (
        "webkit2gtk-driver",
        "WebDriver for the app's end-to-end tests",
    ),
    ("dbus", "a session bus for the app under test"),
    (
        "gnome-keyring",
        "a real Secret Service for the keychain test",
    ),
    (
        "postgresql",
        "the backend's tests run on a real PostgreSQL too",
    ),
];

/// Installs the packages that are not installed yet; does nothing (and
/// needs no privileges) when all are present.
pub(crate) fn ensure(packages: &[(&str, &str)]) -> Result<()> {
    if !is_debian() {
        println!("setup: not a Debian-like system; install the equivalents of these yourself:");
        for (name, why) in packages {
            println!("  {name:<20} {why}");
        }
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !installed(name))
        .collect();
    if missing.is_empty() {
        println!("setup: Debian packages present ({})", packages.len());
        return Ok(());
    }
    println!("setup: installing Debian packages: {}", missing.join(" "));
    let hint = "check the network and apt sources, or install these packages by hand and rerun with --no-apt";
    run::status(privileged("apt-get").arg("update").arg("-qq"), hint)?;
    run::status(
        privileged("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        hint,
    )
}

fn is_debian() -> bool {
    std::path::Path::new("/etc/debian_version").exists()
}

fn installed(name: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .output()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout).contains("install ok installed")
        })
        .unwrap_or(false)
}

/// `apt-get` as root, through sudo when we are not root.
fn privileged(program: &str) -> Command {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if is_root {
        Command::new(program)
    } else {
        let mut cmd = Command::new("sudo");
        cmd.arg(program);
        cmd
    }
}
