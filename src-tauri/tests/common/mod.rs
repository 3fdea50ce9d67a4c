//! What the app's end-to-end tests and its benchmark share: a scratch
//! folder, tandem-backend with the demo booking, and the environment the app
//! runs in under Xvfb.
#![allow(dead_code, clippy::unwrap_used, missing_debug_implementations)]

use std::path::PathBuf;

pub(crate) mod call_page;
pub(crate) mod notifications;

/// A scratch folder, removed when dropped.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tandem-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// tandem-backend on SQLite in `dir`, minting tokens for `livekit_url`,
/// with the demo coach, client and session.
pub(crate) async fn backend_with_demo(
    dir: &Scratch,
    livekit_url: &str,
) -> (tandem_backend::Running, tandem_backend::dev::Demo) {
    backend_with_demo_and(dir, livekit_url, |_| {}).await
}

/// The JWT secret of the tests' backend.
pub(crate) const BACKEND_JWT_SECRET: &str = "app-tests-jwt-secret-0123456789";

/// [`backend_with_demo`] with its configuration changed by `tweak`.
pub(crate) async fn backend_with_demo_and(
    dir: &Scratch,
    livekit_url: &str,
    tweak: impl FnOnce(&mut tandem_backend::Config),
) -> (tandem_backend::Running, tandem_backend::dev::Demo) {
    let mut cfg = tandem_backend::Config::for_tests(
        &format!("sqlite://{}", dir.0.join("backend.db").display()),
        livekit_url,
        BACKEND_JWT_SECRET,
    );
    tweak(&mut cfg);
    let backend = tandem_backend::start(cfg).await.unwrap();
    let demo = tandem_backend::dev::seed(&backend.state.db).await.unwrap();
    (backend, demo)
}

/// The client's `tandem://` join link for the demo session.
pub(crate) fn client_link(
    backend: &tandem_backend::Running,
    demo: &tandem_backend::dev::Demo,
) -> String {
    format!(
        "tandem://join?backend={}&profile=004&link={}",
        backend.url(),
        demo.client_link
    )
}

/// The app's environment: the display, software rendering that works under
/// Xvfb, an in-memory keychain, its own instance, and config, data and
/// cache folders inside `dir`.
pub(crate) fn app_env(dir: &Scratch, display: &str) -> Vec<(&'static str, String)> {
    let sub = |s: &str| dir.0.join(s).display().to_string();
    vec![
        ("DISPLAY", display.to_owned()),
        ("WEBKIT_DISABLE_DMABUF_RENDERER", "1".into()),
        ("TANDEM_KEYCHAIN", "memory".into()),
        ("TANDEM_SINGLE_INSTANCE", "0".into()),
        ("XDG_CONFIG_HOME", sub("config")),
        ("XDG_DATA_HOME", sub("data")),
        ("XDG_CACHE_HOME", sub("cache")),
    ]
}

/// [`app_env`] for the native video path: WebKit's DMA-BUF renderer on
/// (without it a transparent page shows stale content, and the app falls
/// back to drawing video in the page), and the path asked for, so a
/// fallback fails the test instead of passing unnoticed.
pub(crate) fn app_env_native(dir: &Scratch, display: &str) -> Vec<(&'static str, String)> {
    let mut env: Vec<_> = app_env(dir, display)
        .into_iter()
        .filter(|(k, _)| *k != "WEBKIT_DISABLE_DMABUF_RENDERER")
        .collect();
    env.push(("TANDEM_VIDEO", "native".into()));
    env
}

/// [`app_env`] with the single instance on, as the OS starts the app:
/// a second launch hands its link to the running one.
pub(crate) fn app_env_single_instance(dir: &Scratch, display: &str) -> Vec<(&'static str, String)> {
    app_env(dir, display)
        .into_iter()
        .filter(|(k, _)| *k != "TANDEM_SINGLE_INSTANCE")
        .collect()
}

/// [`app_env`] as the pairs `Driver::start` takes.
pub(crate) fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Runs the test `test` again inside a private D-Bus session (what the
/// single-instance handoff needs, and nothing of the user's desktop) and
/// checks that it passed there. Returns false inside that session, where
/// the caller does the work; true outside, where it is done.
pub(crate) fn ran_in_private_dbus(test: &str) -> bool {
    const MARK: &str = "TANDEM_IN_PRIVATE_DBUS";
    if std::env::var_os(MARK).is_some() {
        return false;
    }
    let status = std::process::Command::new("dbus-run-session")
        .args(["--", std::env::current_exe().unwrap().to_str().unwrap()])
        .args(["--exact", test, "--nocapture", "--include-ignored"])
        .env(MARK, "1")
        .status()
        .expect("dbus-run-session (Debian package dbus) is needed");
    assert!(status.success(), "the test failed inside its D-Bus session");
    true
}

/// Runs an app test's async body on a multi-threaded runtime.
pub(crate) fn block_on<F: std::future::Future<Output = ()>>(body: F) {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(body);
}

/// The app as a client opens it from its join link: under a new Xvfb
/// (1280×860) with `audio` as its sound server, through tauri-driver.
/// Keep all three alive for as long as the app runs.
pub(crate) async fn app_on_client_link(
    dir: &Scratch,
    audio: &tandem_testkit::pulse::FakeAudio,
    backend: &tandem_backend::Running,
    demo: &tandem_backend::dev::Demo,
) -> (
    tandem_testkit::display::Xvfb,
    tandem_testkit::webdriver::Driver,
    tandem_testkit::webdriver::Session,
) {
    let x = tandem_testkit::display::Xvfb::start(1280, 860);
    let mut env = app_env(dir, &x.display);
    env.push(("PULSE_SERVER", audio.server.clone()));
    let driver = tandem_testkit::webdriver::Driver::start(&pairs(&env)).unwrap();
    let link = client_link(backend, demo);
    let session = driver
        .session_with_args(std::path::Path::new(env!("CARGO_BIN_EXE_tandem")), &[&link])
        .await
        .unwrap();
    (x, driver, session)
}
