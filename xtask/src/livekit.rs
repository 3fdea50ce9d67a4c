//! Fetching the pinned `livekit` wheel and unpacking the parts Tandem uses:
//! the FFI library, its licence, its C header and the protocol descriptors.

use crate::run;
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use tandem_lk_dist::{self as dist, WheelPin};

/// Makes sure the host's library is unpacked in the cache.
pub(crate) fn ensure_host() -> Result<()> {
    let pin = dist::host_pin().with_context(|| {
        format!(
            "LiveKit ships no library for this platform ({}); supported: {}",
            dist::host_target(),
            dist::WHEELS
                .iter()
                .map(|w| w.target)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let root = dist::cache_root().context("no cache directory: set TANDEM_CACHE_DIR or HOME")?;
    let dir = dist::dist_dir(&root, pin);
    ensure(pin, &dir)?;
    println!(
        "setup: LiveKit {} ({}) ready in {}",
        dist::WHEEL_VERSION,
        pin.platform_tag,
        dir.display()
    );
    Ok(())
}

/// Unpacks `pin`'s wheel into `dest` unless a complete copy is already there.
pub(crate) fn ensure(pin: &WheelPin, dest: &Path) -> Result<()> {
    if is_complete(pin, dest) {
        return Ok(());
    }
    let download = tempdir(dest, "download")?;
    let wheel = download_wheel(pin, &download)?;
    verify_sha256(&wheel, pin.sha256)?;
    let staging = tempdir(dest, "staging")?;
    unpack(pin, &wheel, &staging)?;
    fs::write(staging.join(dist::COMPLETE_MARKER), pin.sha256)?;
    if dest.exists() {
        fs::remove_dir_all(dest).with_context(|| format!("removing stale {}", dest.display()))?;
    }
    fs::rename(&staging, dest)
        .with_context(|| format!("moving the library into {}", dest.display()))?;
    let _ = fs::remove_dir_all(&download);
    Ok(())
}

fn is_complete(pin: &WheelPin, dir: &Path) -> bool {
    fs::read_to_string(dir.join(dist::COMPLETE_MARKER)).is_ok_and(|s| s == pin.sha256)
        && dir.join(pin.library).is_file()
        && dir.join(dist::LICENSE_FILE).is_file()
}

/// A fresh sibling folder of `dest`, so the final rename stays on one disk.
fn tempdir(dest: &Path, what: &str) -> Result<PathBuf> {
    let parent = dest.parent().context("destination has no parent folder")?;
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let dir = parent.join(format!(".{what}-{}", std::process::id()));
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Asks Python's package installer for the exact wheel (it knows the
/// registry; we only name the package).
fn download_wheel(pin: &WheelPin, dir: &Path) -> Result<PathBuf> {
    println!(
        "setup: downloading livekit=={} for {}",
        dist::WHEEL_VERSION,
        pin.platform_tag
    );
    let python = if cfg!(windows) { "python" } else { "python3" };
    run::output(
        Command::new(python)
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                "--platform",
                pin.platform_tag,
                "--dest",
            ])
            .arg(dir)
            .arg(format!("livekit=={}", dist::WHEEL_VERSION)),
        "Python 3 with pip is needed to fetch the LiveKit library (Debian: apt-get install python3-pip); check the network",
    )?;
    let wheel = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .with_context(|| {
            format!(
                "pip reported success but left no wheel in {}",
                dir.display()
            )
        })?;
    Ok(wheel)
}

fn verify_sha256(file: &Path, expected: &str) -> Result<()> {
    let mut hasher = Sha256::new();
    let mut f = fs::File::open(file)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let actual = format!("{:x}", hasher.finalize());
    if actual != expected {
        bail!(
            "{} has sha256 {actual}, but {expected} is pinned. The download is corrupt or the \
             package was replaced upstream: do not use it. Delete it and rerun; if it persists, \
             re-pin deliberately in crates/lk-dist/src/lib.rs.",
            file.display()
        );
    }
    Ok(())
}

/// Extracts the library, LICENSE.md, the C header and `proto/*_pb2.py`.
fn unpack(pin: &WheelPin, wheel: &Path, dest: &Path) -> Result<()> {
    let file = fs::File::open(wheel)?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a wheel", wheel.display()))?;
    fs::create_dir_all(dest.join("proto"))?;
    let mut found_library = false;
    let mut found_license = false;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        let name = entry.name().to_owned();
        let target = if let Some(file) = name.strip_prefix(dist::WHEEL_RESOURCES) {
            if file == pin.library {
                found_library = true;
            } else if file == dist::LICENSE_FILE {
                found_license = true;
            } else if file != "livekit_ffi.h" {
                continue;
            }
            dest.join(file)
        } else if let Some(file) = name.strip_prefix(dist::WHEEL_PROTO) {
            if !file.ends_with("_pb2.py") || file.contains('/') {
                continue;
            }
            dest.join("proto").join(file)
        } else {
            continue;
        };
        let mut out =
            fs::File::create(&target).with_context(|| format!("writing {}", target.display()))?;
        std::io::copy(&mut entry, &mut out)?;
    }
    if !found_library || !found_license {
        bail!(
            "{} lacks {}{} or {}: not the wheel we pinned",
            wheel.display(),
            dist::WHEEL_RESOURCES,
            pin.library,
            dist::LICENSE_FILE
        );
    }
    Ok(())
}
