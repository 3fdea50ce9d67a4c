//! The app's health at start (is the call library there?) and updates:
//! checked at start and on request, installed only when the user asks and
//! never during a call.
//!
//! The feed and the key that signs updates come from the build
//! (`plugins.updater` in the Tauri config; the release workflow supplies
//! both). `TANDEM_UPDATE_FEED` points a build at another feed (a mirror, a
//! test server); the signing key can only be replaced in debug builds, so
//! nobody who can set an environment variable can make an installed app
//! accept their own package.

use serde::Serialize;
use specta::Type;
use tauri::{AppHandle, Manager, State};
use tauri_plugin_updater::UpdaterExt as _;

use crate::AppState;
use crate::error::{AppError, ErrorCode};

/// What the UI shows about the app itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppStatus {
    pub(crate) version: String,
    /// Why calls cannot work (the LiveKit library is missing or broken).
    pub call_library_problem: Option<String>,
    /// Whether this build can update itself.
    pub updates: bool,
}

/// An update the feed offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateInfo {
    pub(crate) version: String,
    pub notes: Option<String>,
    pub date: Option<String>,
}

/// Download progress of an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateProgress {
    #[specta(type = u32)]
    pub downloaded: u64,
    #[specta(type = Option<u32>)]
    pub total: Option<u64>,
}

/// Loads the call library (off the UI thread) and says whether calls can
/// work; the rest of the app works either way.
#[tauri::command]
#[specta::specta]
pub(crate) async fn app_status(app: AppHandle) -> Result<AppStatus, AppError> {
    let problem = tokio::task::spawn_blocking(|| tandem_call::lk::ensure_loaded().err())
        .await
        .map_err(AppError::internal)?
        .map(|e| {
            // The full story (every path tried) goes to the log; the person
            // gets what to do.
            tracing::error!("{e}");
            use tandem_call::lk::LoadError as L;
            let what = match e {
                L::NotFound { file, .. } => format!("its call library ({file}) is missing"),
                L::Unusable { path, .. } => {
                    format!("its call library ({}) is damaged", path.display())
                }
                L::UnsupportedPlatform(p) => {
                    return format!("Calls cannot start: Tandem has no call library for this system ({p}).");
                }
            };
            format!(
                "Calls cannot start: {what}. Reinstall Tandem from your platform's download page; everything else works meanwhile."
            )
        });
    Ok(AppStatus {
        version: app.package_info().version.to_string(),
        call_library_problem: problem,
        updates: feed(&app).is_ok(),
    })
}

/// Asks the feed for a newer version.
#[tauri::command]
#[specta::specta]
pub(crate) async fn update_check(app: AppHandle) -> Result<Option<UpdateInfo>, AppError> {
    let update = check(&app).await?;
    Ok(update.map(|u| UpdateInfo {
        version: u.version.clone(),
        notes: u.body.clone().filter(|b| !b.trim().is_empty()),
        date: u.date.map(|d| d.to_string()),
    }))
}

/// Downloads, verifies and installs the newest version, then restarts.
/// Refused during a call: an update never ends one.
#[tauri::command]
#[specta::specta]
pub(crate) async fn update_install(
    app: AppHandle,
    state: State<'_, AppState>,
) -> Result<(), AppError> {
    if state.call_running() {
        return Err(AppError::new(
            ErrorCode::Update,
            "Tandem updates after your call: leave the call first.",
        ));
    }
    let update = check(&app)
        .await?
        .ok_or_else(|| AppError::new(ErrorCode::Update, "There is no newer version to install."))?;
    let mut downloaded = 0u64;
    let progress_app = app.clone();
    let bytes = update
        .download(
            move |chunk, total| {
                downloaded += chunk as u64;
                crate::emit(&progress_app, UpdateProgress { downloaded, total });
            },
            || {},
        )
        .await
        .map_err(|e| failed("download", &e))?;
    // A call may have started while the package downloaded.
    if app.state::<AppState>().call_running() {
        return Err(AppError::new(
            ErrorCode::Update,
            "The update is downloaded but waits for your call to end: install it afterwards.",
        ));
    }
    update.install(bytes).map_err(|e| failed("install", &e))?;
    tracing::info!("installed Tandem {}; restarting", update.version);
    app.restart();
}

/// The feed and key this build uses, or why updates are off.
fn feed(app: &AppHandle) -> Result<(Vec<url::Url>, Option<String>), AppError> {
    let off = |why: &str| AppError::new(ErrorCode::Update, why.to_owned());
    let configured = app
        .config()
        .plugins
        .0
        .get("updater")
        .cloned()
        .unwrap_or_default();
    let mut endpoints: Vec<url::Url> = configured
        .get("endpoints")
        .and_then(|e| serde_json::from_value(e.clone()).ok())
        .unwrap_or_default();
    let mut key = configured
        .get("pubkey")
        .and_then(|k| k.as_str())
        .map(str::to_owned)
        .filter(|k| !k.is_empty());
    if let Ok(url) = std::env::var("TANDEM_UPDATE_FEED") {
        endpoints = vec![url::Url::parse(&url).map_err(|_| {
            off("TANDEM_UPDATE_FEED is not a URL; unset it or give the feed's address")
        })?];
    }
    let mut key_override = None;
    if cfg!(debug_assertions)
        && let Ok(k) = std::env::var("TANDEM_UPDATE_PUBKEY")
    {
        key = Some(k.clone());
        key_override = Some(k);
    }
    if endpoints.is_empty() || key.is_none() {
        return Err(off(
            "This build of Tandem does not update itself: install new versions from your platform's download page.",
        ));
    }
    Ok((endpoints, key_override))
}

async fn check(app: &AppHandle) -> Result<Option<tauri_plugin_updater::Update>, AppError> {
    let (endpoints, key) = feed(app)?;
    let mut builder = app
        .updater_builder()
        .timeout(std::time::Duration::from_secs(20))
        .endpoints(endpoints)
        .map_err(|e| failed("check", &e))?;
    if let Some(key) = key {
        builder = builder.pubkey(key);
    }
    builder
        .build()
        .map_err(|e| failed("check", &e))?
        .check()
        .await
        .map_err(|e| failed("check", &e))
}

/// A message a person can act on, per way an update fails.
fn failed(step: &str, e: &tauri_plugin_updater::Error) -> AppError {
    use tauri_plugin_updater::Error as E;
    tracing::warn!("update {step} failed: {e}");
    let not_a_feed = "The update server answered something that is not a Tandem update feed. Try again later; if it persists, tell your platform.";
    let message = match e {
        E::Reqwest(r) if r.is_timeout() => {
            "The update server did not answer in time. Try again later.".to_owned()
        }
        E::Reqwest(r) if r.is_connect() => {
            "The update server cannot be reached. Check your connection and try again.".to_owned()
        }
        E::Reqwest(r) if r.is_decode() => not_a_feed.to_owned(),
        E::Reqwest(_) | E::Network(_) => {
            "The update server could not be reached or refused the request. Try again later."
                .to_owned()
        }
        E::InsecureTransportProtocol => {
            "The update feed is not served over HTTPS, so Tandem will not use it.".to_owned()
        }
        // An error status: the feed is down or moved.
        E::ReleaseNotFound => {
            "The update server did not answer with an update feed; it may be having trouble. Try again later.".to_owned()
        }
        E::Serialization(_) | E::UrlParse(_) | E::Semver(_) => not_a_feed.to_owned(),
        E::TargetNotFound(_) | E::TargetsNotFound(_) => {
            "There is no update for this system in the feed yet.".to_owned()
        }
        E::SignedVersionMismatch { .. } => {
            "The downloaded update is not the version the feed announced, so it was not installed.".to_owned()
        }
        E::Minisign(_) | E::Base64(_) | E::SignatureUtf8(_) | E::MissingSignedVersion => {
            "The downloaded update is not signed by Tandem's key, so it was not installed.".to_owned()
        }
        E::AuthenticationFailed => {
            "Installing the update needs your password; it was cancelled, so nothing changed.".to_owned()
        }
        _ => format!("The update could not be {}: {e}.", match step {
            "download" => "downloaded",
            "install" => "installed",
            _ => "checked",
        }),
    };
    AppError::new(ErrorCode::Update, message)
}
