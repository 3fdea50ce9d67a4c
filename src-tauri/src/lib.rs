//! The Tandem desktop app: a thin Tauri shell over tandem-call. It registers
//! commands and events (typed, with generated TypeScript bindings), keeps
//! the platforms, the preview and the running call, and serves video frames
//! to the page through the `frames:` protocol. Call logic lives in
//! tandem-call; nothing here decides how a call behaves.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use tandem_call::prejoin::Preview;
use tandem_call::session::{CallHandle, LOCAL_VIDEO};
use tauri::Manager;

mod call;
mod connect;
pub mod dto;
mod effects;
pub mod error;
mod files;
pub mod float;
pub mod frames;
pub mod notes;
mod notify;
pub mod platforms;
mod prejoin;
mod update;
pub mod video;

use error::AppError;
use platforms::{Keychain, MemoryKeychain, OsKeychain, Platforms};

/// What the commands share.
#[derive(Debug)]
pub struct AppState {
    platforms: Arc<Platforms>,
    preview: Arc<Mutex<Preview>>,
    /// The camera's background effect, one switch for the preview and the
    /// call (the person's choice, from the page's remembered settings).
    background: tandem_call::media::effects::BackgroundSwitch,
    /// Where the picked background picture is kept.
    backdrops: effects::Backdrops,
    /// The running call and its generation (a finished call's forwarder
    /// must not clear a newer call).
    call: Mutex<(u64, Option<Arc<CallHandle>>)>,
    /// Bumped whenever the preview microphone changes; a meter task stops
    /// when it no longer matches.
    meter_generation: Arc<AtomicU64>,
    views: frames::Views,
    launch: dto::LaunchOptions,
    /// The passphrase the last opened link carried (`#key=`), for the
    /// target it opened: in memory only, never handed to the page.
    link_key: Mutex<Option<(dto::JoinTarget, tandem_call::lk::SharedKey)>>,
    notes: notes::Notes,
    /// Files received in calls, until saved.
    received: files::Received,
    /// Where received files wait.
    received_dir: std::path::PathBuf,
    /// What the floating window shows.
    float: float::Float,
    /// How video is drawn, and the native renderer's layout.
    video: video::Video,
}

impl AppState {
    pub fn new(
        platforms: Platforms,
        launch: dto::LaunchOptions,
        notes: notes::Notes,
        received_dir: std::path::PathBuf,
        backdrop_dir: Option<std::path::PathBuf>,
    ) -> Self {
        let background = tandem_call::media::effects::BackgroundSwitch::default();
        Self {
            platforms: Arc::new(platforms),
            preview: Arc::new(Mutex::new(Preview::with_background(background.clone()))),
            background,
            backdrops: effects::Backdrops::new(backdrop_dir),
            call: Mutex::new((0, None)),
            meter_generation: Arc::new(AtomicU64::new(0)),
            views: frames::Views::default(),
            launch,
            link_key: Mutex::new(None),
            notes,
            received: files::Received::default(),
            received_dir,
            float: float::Float::default(),
            video: video::Video::default(),
        }
    }

    /// Keeps the passphrase `target`'s link carried (or forgets an older
    /// one), and marks the target as encrypted.
    fn remember_link_key(
        &self,
        mut target: dto::JoinTarget,
        key: Option<tandem_call::lk::SharedKey>,
    ) -> dto::JoinTarget {
        target.encrypted = key.is_some();
        if let Ok(mut slot) = self.link_key.lock() {
            *slot = key.map(|k| (target.clone(), k));
        }
        target
    }

    /// The passphrase the link of `target` carried, if it was the last one opened.
    fn link_key_for(&self, target: &dto::JoinTarget) -> Option<tandem_call::lk::SharedKey> {
        let slot = self.link_key.lock().ok()?;
        slot.as_ref()
            .filter(|(t, _)| t == target)
            .map(|(_, k)| k.clone())
    }

    fn call(&self) -> Option<Arc<CallHandle>> {
        self.call.lock().ok()?.1.clone()
    }

    /// The call in progress, or why there is none.
    fn running(&self) -> Result<Arc<CallHandle>, error::AppError> {
        self.call().ok_or_else(|| {
            error::AppError::new(error::ErrorCode::NoCall, "The call has already ended.")
        })
    }

    fn call_running(&self) -> bool {
        self.call().is_some()
    }

    fn set_call(&self, call: Option<Arc<CallHandle>>) -> u64 {
        match self.call.lock() {
            Ok(mut c) => {
                c.0 += 1;
                c.1 = call;
                c.0
            }
            Err(_) => 0,
        }
    }

    fn clear_call(&self, generation: u64) {
        if let Ok(mut c) = self.call.lock()
            && c.0 == generation
        {
            c.1 = None;
        }
    }

    /// Frames of `source`: "local" is our camera (in a call, or the
    /// preview), `screen:<identity>` someone's shared screen.
    fn video(&self, source: &str) -> Option<tandem_call::media::FrameReceiver> {
        if let Some(identity) = source.strip_prefix("screen:") {
            return self.call()?.screen(identity);
        }
        let identity = if source == "local" {
            LOCAL_VIDEO
        } else {
            source
        };
        if let Some(call) = self.call() {
            return call.video(identity);
        }
        if identity == LOCAL_VIDEO {
            return self.preview.lock().ok()?.video();
        }
        None
    }
}

/// Runs `f` on the platforms off the async runtime (the keychain blocks).
async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Platforms) -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    let platforms = state.platforms.clone();
    tokio::task::spawn_blocking(move || f(&platforms))
        .await
        .map_err(AppError::internal)?
}

/// A backend client for platform `id` (reads the keychain off the runtime).
async fn client_for(
    state: &AppState,
    id: &str,
) -> Result<tandem_call::platform::BackendClient, AppError> {
    let id = id.to_owned();
    let platforms = state.platforms.clone();
    tokio::task::spawn_blocking(move || platforms.client(&id))
        .await
        .map_err(AppError::internal)?
}

/// Closes the preview's devices (leaving prejoin, or before a call opens
/// the same devices) and stops its meter.
async fn close_preview(state: &AppState) -> Result<(), AppError> {
    state
        .meter_generation
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let preview = state.preview.clone();
    tokio::task::spawn_blocking(move || {
        if let Ok(mut p) = preview.lock() {
            p.close();
        }
    })
    .await
    .map_err(AppError::internal)
}

/// The commands and events the UI may use, for registration and for the
/// TypeScript bindings.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(tauri_specta::collect_commands![
            connect::platforms_list,
            connect::platform_add,
            connect::platform_remove,
            connect::platform_set_network,
            connect::sign_in,
            connect::sign_out,
            connect::sessions_list,
            connect::session_by_id,
            connect::open_join_link,
            connect::launch_options,
            prejoin::devices_list,
            prejoin::preview_set,
            prejoin::preview_close,
            prejoin::speaker_test,
            call::call_join,
            call::call_set_mic,
            call::call_set_noise_removal,
            effects::set_background,
            effects::background_pick_picture,
            effects::background_status,
            call::call_set_camera,
            call::call_change_passphrase,
            call::call_react,
            call::call_raise_hand,
            call::call_lower_hand,
            notes::notes_load,
            notes::notes_save,
            notes::notes_export,
            call::call_share,
            files::file_send_pick,
            files::file_cancel,
            files::file_save,
            call::screens_list,
            call::screen_thumbnail,
            call::call_send_chat,
            call::call_switch_device,
            call::call_leave,
            call::call_end_session,
            call::open_external,
            float::float_update,
            float::float_view,
            float::float_action,
            video::video_path,
            video::video_layout,
            video::video_stats,
            update::app_status,
            update::update_check,
            update::update_install,
        ])
        .events(tauri_specta::collect_events![
            dto::CallUpdate,
            dto::MicLevel,
            dto::OpenLink,
            update::UpdateProgress,
            float::FloatView,
            float::FloatRequest,
            video::VideoPath
        ])
}

/// Where the generated bindings live (relative to this crate).
pub const BINDINGS: &str = "../ui/src/lib/ipc/bindings.ts";

/// Writes the TypeScript bindings.
pub fn export_bindings(path: &std::path::Path) -> Result<(), String> {
    specta_builder()
        .export(
            specta_typescript::Typescript::default().header("// Generated from src-tauri by `cargo test -p tandem`; do not edit.\n/* eslint-disable */"),
            path,
        )
        .map_err(|e| e.to_string())
}

/// Whether the webview may show `url`: only the app's own pages. Links
/// from chat open in the system browser instead (`open_external`).
pub fn allowed_page(url: &url::Url) -> bool {
    match (url.scheme(), url.host_str()) {
        ("tauri", Some("localhost")) => true,
        ("http" | "https", Some("tauri.localhost")) => true,
        ("about", _) => url.as_str() == "about:blank",
        // The Vite dev server, only in builds that load it.
        ("http", Some("localhost")) => {
            !cfg!(feature = "custom-protocol") && url.port() == Some(1420)
        }
        _ => false,
    }
}

/// Sends `event` to the page. One that cannot be delivered (the window is
/// gone, or the event does not serialise) is logged, never dropped silently.
pub(crate) fn emit<E>(app: &tauri::AppHandle, event: E)
where
    E: tauri_specta::Event + serde::Serialize + Clone,
{
    if let Err(e) = event.emit(app) {
        tracing::warn!(
            event = std::any::type_name::<E>(),
            "an event for the page was dropped: {e}"
        );
    }
}

fn navigation_guard() -> tauri::plugin::TauriPlugin<tauri::Wry> {
    tauri::plugin::Builder::new("navigation-guard")
        .on_navigation(|_, url| {
            let ok = allowed_page(url);
            if !ok {
                tracing::warn!("blocked navigation to a {} page", url.scheme());
            }
            ok
        })
        .build()
}

/// Whether a D-Bus session bus is there to keep Tandem to one instance
/// (Linux; elsewhere the OS mechanism is always present). Without one the
/// app still runs, as separate instances.
/// `TANDEM_SINGLE_INSTANCE=0` turns it off (tests that run beside a
/// user's Tandem).
fn single_instance_possible() -> bool {
    if std::env::var("TANDEM_SINGLE_INSTANCE").as_deref() == Ok("0") {
        return false;
    }
    if !cfg!(target_os = "linux") {
        return true;
    }
    // The plugin cannot start on a bus address it cannot use, so only
    // addresses that point at something are accepted.
    let usable = |addr: &str| {
        addr.split(';').any(|a| match a.strip_prefix("unix:") {
            Some(rest) => rest.split(',').any(|kv| match kv.split_once('=') {
                Some(("path", p)) => std::path::Path::new(p).exists(),
                Some(("abstract", _)) => true,
                _ => false,
            }),
            None => false,
        })
    };
    match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        Ok(addr) => usable(&addr),
        Err(_) => std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|d| std::path::Path::new(&d).join("bus").exists()),
    }
}

/// A second launch (the OS opening a `tandem://` link) hands its command
/// line to this instance and exits; its link goes to the UI, which decides
/// (it never interrupts a call).
fn on_second_launch(app: &tauri::AppHandle, argv: Vec<String>) {
    let launch = dto::LaunchOptions::from_args(argv.into_iter().skip(1));
    if let Some(link) = launch.link {
        emit(app, dto::OpenLink { link });
    }
    show_main(app);
}

/// Brings the main window to the front (unminimised, shown, focused).
pub(crate) fn show_main(app: &tauri::AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Links the OS hands over other than on the command line: macOS sends
/// them as events (to the running app, and at start). On Linux and Windows
/// a link starts a second instance, which the single-instance plugin turns
/// into `on_second_launch`. An AppImage has no installed desktop entry, so
/// it registers the scheme for the user itself.
fn links_from_the_os(app: &tauri::AppHandle) {
    use tauri_plugin_deep_link::DeepLinkExt as _;
    if cfg!(target_os = "macos") {
        let handle = app.clone();
        app.deep_link().on_open_url(move |event| {
            for url in event.urls() {
                emit(
                    &handle,
                    dto::OpenLink {
                        link: url.to_string(),
                    },
                );
            }
        });
    }
    if cfg!(target_os = "linux")
        && std::env::var_os("APPIMAGE").is_some()
        && let Err(e) = app.deep_link().register_all()
    {
        tracing::warn!("could not register tandem:// links for this AppImage: {e}");
    }
}

/// Starts the app.
pub fn run() -> anyhow::Result<()> {
    let builder = specta_builder();
    let mut app = tauri::Builder::default();
    if single_instance_possible() {
        // First, so a second instance exits before doing anything else.
        app = app.plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            on_second_launch(app, argv);
        }));
    } else {
        tracing::warn!(
            "no D-Bus session bus: links opened while Tandem runs start another instance"
        );
    }
    app.plugin(navigation_guard())
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .on_window_event(|window, event| match event {
            tauri::WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. })
                if window.label() == "main" =>
            {
                files::dropped(window.app_handle(), paths.clone());
            }
            tauri::WindowEvent::Focused(focused) if window.label() == "main" => {
                float::main_focus_changed(window.app_handle(), *focused);
            }
            // The app ends with its main window, floating window or not.
            tauri::WindowEvent::Destroyed if window.label() == "main" => {
                float::call_over(window.app_handle());
            }
            _ => {}
        })
        .invoke_handler(builder.invoke_handler())
        .register_asynchronous_uri_scheme_protocol("frames", |ctx, request, responder| {
            let app = ctx.app_handle().clone();
            let uri = request.uri().to_string();
            tauri::async_runtime::spawn(async move {
                let state = app.state::<AppState>();
                let answer = match frames::FrameRequest::parse(&uri) {
                    Ok(req) => state.views.answer(req, |s| state.video(s)).await,
                    Err(why) => frames::Answer::Bad(why),
                };
                responder.respond(frames::response(answer));
            });
        })
        .setup(move |app| {
            builder.mount_events(app);
            // Installed apps carry the LiveKit library among their resources.
            let resource_dirs = app.path().resource_dir().into_iter().collect();
            tandem_call::lk::configure(tandem_call::lk::LibraryConfig { resource_dirs });
            links_from_the_os(app.handle());
            notify::bring_to_front_on_click(app.handle());
            let file = app
                .path()
                .app_config_dir()
                .ok()
                .map(|d| d.join("platforms.json"));
            let keychain: Box<dyn Keychain> =
                if std::env::var("TANDEM_KEYCHAIN").as_deref() == Ok("memory") {
                    Box::new(MemoryKeychain::default())
                } else {
                    Box::new(OsKeychain)
                };
            let launch = dto::LaunchOptions::from_args(std::env::args().skip(1));
            // Notes in the app's data folder; exports where downloads go
            // (the home folder when the system names none).
            let notes = notes::Notes::new(
                app.path().app_data_dir().ok().map(|d| d.join("notes")),
                app.path()
                    .download_dir()
                    .or_else(|_| app.path().home_dir())
                    .ok(),
            );
            // Received files wait in the cache folder until saved; an
            // earlier run's unsaved ones are gone.
            let received_dir = app
                .path()
                .app_cache_dir()
                .unwrap_or_else(|_| std::env::temp_dir().join("tandem"))
                .join("received");
            files::clear_received(&received_dir);
            app.manage(AppState::new(
                Platforms::load(file, keychain),
                launch,
                notes,
                received_dir,
                app.path().app_data_dir().ok(),
            ));
            video::set_up(app.handle());
            Ok(())
        })
        .run(tauri::generate_context!())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Every command the UI's bindings can invoke is declared to Tauri's
    /// build step and allowed to exactly one window's capability, and
    /// nothing more: a command missing from either is refused in the real
    /// app only.
    #[test]
    fn every_command_is_declared_and_allowed_exactly_once() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap_or_default();
        let quoted_after = |text: &str, marker: &str| -> Vec<String> {
            let mut out: Vec<String> = text
                .split(marker)
                .skip(1)
                .filter_map(|rest| rest.split('"').next().map(str::to_owned))
                .collect();
            out.sort();
            out
        };
        let invoked = quoted_after(&read("../ui/src/lib/ipc/bindings.ts"), "__TAURI_INVOKE(\"");
        let build = read("build.rs");
        let declared_list = build
            .split("const COMMANDS")
            .nth(1)
            .and_then(|r| r.split("];").next())
            .unwrap_or_default();
        let declared = quoted_after(declared_list, "\n    \"");
        let allowed: Vec<String> = {
            let both = read("capabilities/main.json") + &read("capabilities/float.json");
            let mut a: Vec<String> = quoted_after(&both, "\"allow-")
                .into_iter()
                .map(|c| c.replace('-', "_"))
                .collect();
            a.sort();
            a
        };
        assert!(!invoked.is_empty(), "no commands found in the bindings");
        assert_eq!(declared, invoked, "build.rs COMMANDS against the bindings");
        assert_eq!(
            allowed, invoked,
            "capabilities/main.json and float.json against the bindings"
        );
        let float = read("capabilities/float.json");
        for c in ["call_", "file_", "notes_", "open_external", "sign_"] {
            assert!(
                !float.contains(&format!("allow-{}", c.replace('_', "-"))),
                "the floating window may only show the call and relay its buttons: {c}"
            );
        }
    }

    #[test]
    fn the_webview_shows_only_the_apps_own_pages() {
        let ok = |u: &str| {
            super::allowed_page(&url::Url::parse(u).unwrap_or_else(|e| panic!("{u}: {e}")))
        };
        assert!(ok("tauri://localhost/"));
        assert!(ok("http://tauri.localhost/index.html"));
        for bad in [
            "https://example.com/",
            "http://localhost:1420/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:text/html,x",
            "tauri://evil/",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }

    /// The committed bindings match the Rust types: run
    /// `cargo test -p tandem` and commit `ui/src/lib/ipc/bindings.ts`
    /// when this fails.
    #[test]
    fn typescript_bindings_are_current() {
        let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(super::BINDINGS);
        let fresh = std::env::temp_dir().join(format!("tandem-bindings-{}.ts", std::process::id()));
        super::export_bindings(&fresh).unwrap_or_else(|e| panic!("export failed: {e}"));
        let new = std::fs::read_to_string(&fresh).unwrap_or_default();
        let _ = std::fs::remove_file(&fresh);
        let old = std::fs::read_to_string(&committed).unwrap_or_default();
        if old != new {
            if std::env::var_os("TANDEM_UPDATE_BINDINGS").is_some() {
                std::fs::write(&committed, &new).unwrap_or_else(|e| panic!("{e}"));
            } else {
                panic!(
                    "{} is stale: run `TANDEM_UPDATE_BINDINGS=1 cargo test -p tandem bindings` and commit it",
                    committed.display()
                );
            }
        }
    }
}
