//! `cargo xtask bundle`: the app's installers, with the pinned LiveKit
//! library and its licence inside.
//!
//! The same command runs here (`.deb`, `.rpm`) and in the release workflow
//! (every OS). It builds the UI, fetches the target's library from its
//! sha256-checked wheel, hands Tauri's bundler a config overlay that places
//! the library where `tandem-lk` looks for it (beside the executable on
//! Windows, `Contents/Frameworks` on macOS, `/usr/lib/Tandem` on Linux),
//! then checks every Linux package really holds both files and prints the
//! installers' sizes.

use crate::run;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `cargo xtask bundle` was asked for.
#[derive(Debug, clap::Args)]
pub(crate) struct BundleArgs {
    /// Rust target triple (default: this machine's).
    #[arg(long)]
    pub(crate) target: Option<String>,
    /// Installer kinds, comma-separated (default per OS: deb,rpm; app,dmg;
    /// nsis,msi). AppImage is built only by the release workflow: its
    /// bundler downloads tools from GitHub.
    #[arg(long)]
    pub(crate) bundles: Option<String>,
    /// More Tauri config overlays (JSON files), merged after ours.
    #[arg(long = "config")]
    pub(crate) configs: Vec<PathBuf>,
}

/// One installer that was built.
#[derive(Debug)]
pub(crate) struct Installer {
    pub(crate) path: PathBuf,
    pub(crate) bytes: u64,
}

/// The licence's name inside every installer.
const LICENSE_NAME: &str = "LICENSE-livekit.md";

pub(crate) fn run(args: &BundleArgs) -> Result<Vec<Installer>> {
    let root = crate::workspace_root();
    let target = args
        .target
        .clone()
        .unwrap_or_else(|| tandem_lk_dist::host_target().to_owned());
    let pin = tandem_lk_dist::pin_for_target(&target).with_context(|| {
        format!("no pinned LiveKit wheel for {target}: Tandem cannot be bundled for it")
    })?;
    let bundles = args.bundles.clone().unwrap_or_else(|| {
        if target.contains("apple") {
            "app,dmg"
        } else if target.contains("windows") {
            "nsis,msi"
        } else {
            "deb,rpm"
        }
        .to_owned()
    });

    run::status(
        Command::new(crate::npm())
            .args(["run", "--silent", "build"])
            .current_dir(root.join("ui")),
        "fix the UI build errors above",
    )?;

    let target_dir = target_dir(&root);
    let stage = target_dir.join("livekit-bundle").join(&target);
    crate::livekit::ensure(pin, &stage)?;
    let lib = stage.join(pin.library);
    let licence = stage.join("LICENSE.md");
    for f in [&lib, &licence] {
        if !f.is_file() {
            bail!("{} is missing after fetching the wheel", f.display());
        }
    }
    let overlay = stage.join("tauri.livekit.json");
    std::fs::write(
        &overlay,
        overlay_json(&target, &lib, &licence, pin.library)?,
    )?;

    let cli = crate::tools_dir()?.join("bin").join(if cfg!(windows) {
        "cargo-tauri.exe"
    } else {
        "cargo-tauri"
    });
    let mut cmd = Command::new(cli);
    cmd.current_dir(root.join("src-tauri"))
        .args(["tauri", "build", "--ci", "--bundles", &bundles, "--config"])
        .arg(&overlay);
    for extra in &args.configs {
        cmd.arg("--config").arg(extra);
    }
    if args.target.is_some() {
        cmd.args(["--target", &target]);
    }
    run::status(
        &mut cmd,
        "the Tauri bundler failed; its message is above (run `cargo xtask setup` if the CLI is missing)",
    )?;

    let out_dir = match &args.target {
        Some(t) => target_dir.join(t),
        None => target_dir,
    }
    .join("release/bundle");
    let mut built = Vec::new();
    for kind in bundles.split(',').map(str::trim) {
        let dir = out_dir.join(if kind == "app" { "macos" } else { kind });
        let newest = newest_file(&dir, &version(), installer_suffix(kind))?;
        if matches!(kind, "deb" | "rpm") {
            check_linux_package(kind, &newest, pin.library)?;
        }
        built.push(Installer {
            bytes: std::fs::metadata(&newest)?.len(),
            path: newest,
        });
    }
    println!("\n| installer | MiB |\n|---|---|");
    for i in &built {
        println!(
            "| {} | {:.1} |",
            i.path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            i.bytes as f64 / (1024.0 * 1024.0)
        );
    }
    Ok(built)
}

/// Where cargo (and so the bundler) writes.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
}

/// The app's version (the bundler names installers after it).
fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The bundler config that puts the library and its licence into the
/// installer: macOS signs and loads dylibs from `Contents/Frameworks`;
/// elsewhere resources sit beside the executable (Windows) or in
/// `/usr/lib/<product>` (Linux), both folders the loader searches.
fn overlay_json(target: &str, lib: &Path, licence: &Path, lib_name: &str) -> Result<String> {
    let path = |p: &Path| -> Result<String> {
        p.to_str()
            .map(str::to_owned)
            .with_context(|| format!("{} is not valid UTF-8", p.display()))
    };
    let mut resources = serde_json::Map::new();
    resources.insert(path(licence)?, LICENSE_NAME.into());
    let mut bundle = serde_json::Map::new();
    if target.contains("apple") {
        bundle.insert(
            "macOS".into(),
            serde_json::json!({ "frameworks": [path(lib)?] }),
        );
    } else {
        resources.insert(path(lib)?, lib_name.into());
    }
    bundle.insert("resources".into(), resources.into());
    Ok(serde_json::to_string_pretty(
        &serde_json::json!({ "bundle": bundle }),
    )?)
}

/// How an installer of `kind` is named at its end.
fn installer_suffix(kind: &str) -> &'static str {
    match kind {
        "deb" => ".deb",
        "rpm" => ".rpm",
        "appimage" => ".AppImage",
        "dmg" => ".dmg",
        "nsis" => "-setup.exe",
        "msi" => ".msi",
        _ => ".app",
    }
}

/// The most recently written installer of this version in `dir` (not its
/// `.sig`, not the bundler's staging folders).
fn newest_file(dir: &Path, version: &str, suffix: &str) -> Result<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .with_context(|| format!("the bundler wrote nothing to {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| (n.contains(version) || suffix == ".app") && n.ends_with(suffix))
        })
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, p)| p)
        .with_context(|| format!("no installer for version {version} in {}", dir.display()))
}

/// Fails unless a .deb or .rpm holds the library and its licence in the
/// folder the installed app looks in.
fn check_linux_package(kind: &str, file: &Path, lib_name: &str) -> Result<()> {
    let listing = if kind == "deb" {
        run::output(
            Command::new("dpkg-deb").arg("--contents").arg(file),
            "dpkg-deb lists a .deb's files",
        )?
    } else {
        run::output(
            Command::new("rpm").arg("-qlp").arg(file),
            "rpm lists a .rpm's files (Debian package `rpm`; `cargo xtask setup` installs it)",
        )?
    };
    for want in [lib_name, LICENSE_NAME] {
        // dpkg lists `usr/lib/…` (after its permissions), rpm `/usr/lib/…`.
        let needle = format!("usr/lib/Tandem/{want}");
        let holds = |l: &str| {
            l.trim_end()
                .strip_suffix(&needle)
                .is_some_and(|before| before.ends_with(['/', ' ']) || before.is_empty())
        };
        if !listing.lines().any(holds) {
            bail!(
                "{} lacks {needle}: the installed app could not make calls",
                file.display()
            );
        }
    }
    println!(
        "bundle: {} holds {lib_name} and {LICENSE_NAME}",
        file.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_goes_to_frameworks_on_macos_and_resources_elsewhere() {
        let lib = Path::new("/s/liblivekit_ffi.dylib");
        let lic = Path::new("/s/LICENSE.md");
        let mac: serde_json::Value = serde_json::from_str(
            &overlay_json("aarch64-apple-darwin", lib, lic, "liblivekit_ffi.dylib")
                .unwrap_or_default(),
        )
        .unwrap_or_default();
        assert_eq!(
            mac["bundle"]["macOS"]["frameworks"][0],
            "/s/liblivekit_ffi.dylib"
        );
        assert_eq!(mac["bundle"]["resources"]["/s/LICENSE.md"], LICENSE_NAME);
        assert!(
            mac["bundle"]["resources"]
                .get("/s/liblivekit_ffi.dylib")
                .is_none()
        );

        let lib = Path::new("/s/liblivekit_ffi.so");
        let linux: serde_json::Value = serde_json::from_str(
            &overlay_json("x86_64-unknown-linux-gnu", lib, lic, "liblivekit_ffi.so")
                .unwrap_or_default(),
        )
        .unwrap_or_default();
        assert_eq!(
            linux["bundle"]["resources"]["/s/liblivekit_ffi.so"],
            "liblivekit_ffi.so"
        );
        assert!(linux["bundle"].get("macOS").is_none());
    }
}
