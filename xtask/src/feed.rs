//! `cargo xtask feed`: the update feed (`latest.json`) the app's updater
//! reads, made from the signed installers the release workflow collected.
//! Each installer with its `.sig` becomes one entry per key the updater
//! looks up: `{os}-{arch}-{installer}`, and `{os}-{arch}` for the kind that
//! updates in place by default (AppImage, the macOS app, NSIS).

use anyhow::{Context, Result, bail};

#[derive(Debug, clap::Args)]
pub(crate) struct FeedArgs {
    /// Folder holding the installers and their `.sig` files.
    #[arg(long)]
    pub(crate) dir: std::path::PathBuf,
    /// Where the installers are downloaded from (the release's URL).
    #[arg(long)]
    pub(crate) base_url: String,
    /// The version being released.
    #[arg(long)]
    pub(crate) version: String,
    /// Release notes shown to people before they update.
    #[arg(long, default_value = "")]
    pub(crate) notes: String,
    /// Output file.
    #[arg(long)]
    pub(crate) out: std::path::PathBuf,
}

pub(crate) fn run(args: &FeedArgs) -> Result<()> {
    let mut files = Vec::new();
    for entry in
        std::fs::read_dir(&args.dir).with_context(|| format!("reading {}", args.dir.display()))?
    {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(".sig") {
            continue;
        }
        let sig = args.dir.join(format!("{name}.sig"));
        if sig.is_file() {
            files.push((name.to_owned(), std::fs::read_to_string(&sig)?));
        }
    }
    let pub_date = rfc3339_now()?;
    let feed = build(
        &args.version,
        &args.notes,
        &pub_date,
        &args.base_url,
        &files,
    )?;
    std::fs::write(&args.out, serde_json::to_string_pretty(&feed)?)?;
    println!(
        "feed: {} ({} platforms)",
        args.out.display(),
        feed["platforms"].as_object().map_or(0, |p| p.len())
    );
    Ok(())
}

fn rfc3339_now() -> Result<String> {
    let out = crate::run::output(
        std::process::Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "`date` gives the feed's publication time",
    )?;
    Ok(out.trim().to_owned())
}

/// The updater's keys for one installer file name, most specific first.
pub(crate) fn keys_for(name: &str) -> Option<Vec<String>> {
    let lower = name.to_ascii_lowercase();
    let arch = if lower.contains("aarch64") || lower.contains("arm64") {
        "aarch64"
    } else if lower.contains("x86_64") || lower.contains("amd64") || lower.contains("x64") {
        "x86_64"
    } else {
        return None;
    };
    let (os, kind, default) = if lower.ends_with(".appimage") {
        ("linux", "appimage", true)
    } else if lower.ends_with(".deb") {
        ("linux", "deb", false)
    } else if lower.ends_with(".rpm") {
        ("linux", "rpm", false)
    } else if lower.ends_with(".app.tar.gz") {
        ("darwin", "app", true)
    } else if lower.ends_with("-setup.exe") {
        ("windows", "nsis", true)
    } else if lower.ends_with(".msi") {
        ("windows", "msi", false)
    } else {
        return None;
    };
    let mut keys = vec![format!("{os}-{arch}-{kind}")];
    if default {
        keys.push(format!("{os}-{arch}"));
    }
    Some(keys)
}

/// The feed for `files` (name, signature).
pub(crate) fn build(
    version: &str,
    notes: &str,
    pub_date: &str,
    base_url: &str,
    files: &[(String, String)],
) -> Result<serde_json::Value> {
    let mut platforms = serde_json::Map::new();
    for (name, sig) in files {
        let Some(keys) = keys_for(name) else {
            continue;
        };
        let url = format!("{}/{}", base_url.trim_end_matches('/'), name);
        for key in keys {
            if platforms.contains_key(&key) {
                bail!("two installers for {key} (one is {name})");
            }
            platforms.insert(
                key,
                serde_json::json!({ "signature": sig.trim(), "url": url }),
            );
        }
    }
    if platforms.is_empty() {
        bail!("no signed installers: the feed would offer nothing");
    }
    Ok(serde_json::json!({
        "version": version,
        "notes": notes,
        "pub_date": pub_date,
        "platforms": platforms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_installer_the_bundler_names_gets_its_updater_keys() {
        let k = |n: &str| keys_for(n).unwrap_or_default().join(" ");
        assert_eq!(k("Tandem_0.2.0_amd64.deb"), "linux-x86_64-deb");
        assert_eq!(k("Tandem-0.2.0-1.x86_64.rpm"), "linux-x86_64-rpm");
        assert_eq!(
            k("Tandem_0.2.0_aarch64.AppImage"),
            "linux-aarch64-appimage linux-aarch64"
        );
        assert_eq!(
            k("Tandem_0.2.0_aarch64.app.tar.gz"),
            "darwin-aarch64-app darwin-aarch64"
        );
        assert_eq!(
            k("Tandem_0.2.0_x64-setup.exe"),
            "windows-x86_64-nsis windows-x86_64"
        );
        assert_eq!(k("Tandem_0.2.0_x64_en-US.msi"), "windows-x86_64-msi");
        assert!(keys_for("Tandem_0.2.0_x64.dmg").is_none());
        assert!(keys_for("README.md").is_none());
    }

    #[test]
    fn the_feed_lists_each_signed_installer_once_per_key() {
        let files = vec![
            ("Tandem_0.2.0_amd64.deb".to_owned(), "SIGDEB\n".to_owned()),
            (
                "Tandem_0.2.0_x64-setup.exe".to_owned(),
                "SIGNSIS".to_owned(),
            ),
        ];
        let feed = build(
            "0.2.0",
            "Faster joins",
            "2026-11-22T00:00:00Z",
            "https://r/x/",
            &files,
        )
        .unwrap_or_default();
        assert_eq!(feed["version"], "0.2.0");
        assert_eq!(feed["platforms"]["linux-x86_64-deb"]["signature"], "SIGDEB");
        assert_eq!(
            feed["platforms"]["windows-x86_64"]["url"],
            "https://r/x/Tandem_0.2.0_x64-setup.exe"
        );
        assert!(build("0.2.0", "", "d", "u", &[]).is_err());
        let twice = vec![
            ("Tandem_0.2.0_amd64.deb".to_owned(), "A".to_owned()),
            ("Tandem_0.3.0_amd64.deb".to_owned(), "B".to_owned()),
        ];
        assert!(build("0.3.0", "", "d", "u", &twice).is_err());
    }
}
