//! What the call tests share: waiting for a call's event.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use tandem_call::session::{CallEvent, CallEvents, CallState};

/// The next event passing `pred` within `within`; panics when the call
/// fails or its events end first. `CALL_EVENTS_DEBUG=1` prints each event.
pub(crate) async fn next_within(
    events: &mut CallEvents,
    within: Duration,
    what: &str,
    mut pred: impl FnMut(&CallEvent) -> bool,
) -> CallEvent {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("the call's events ended before {what}"));
        if let CallEvent::State(CallState::Failed(e)) = &ev {
            panic!("the call failed while waiting for {what}: {e}");
        }
        if std::env::var_os("CALL_EVENTS_DEBUG").is_some() {
            eprintln!("event: {ev:?}");
        }
        if pred(&ev) {
            return ev;
        }
    }
}

/// [`next_within`] 30 s.
pub(crate) async fn next_matching(
    events: &mut CallEvents,
    what: &str,
    pred: impl FnMut(&CallEvent) -> bool,
) -> CallEvent {
    next_within(events, Duration::from_secs(30), what, pred).await
}

/// tandem-backend on a fresh SQLite file, minting for the call server at
/// `call_server`; the file goes when the returned guard is dropped.
pub(crate) async fn backend(call_server: &str, tag: &str) -> (tandem_backend::Running, TempFile) {
    let path = std::env::temp_dir().join(format!("tandem-{tag}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let running = tandem_backend::start(tandem_backend::Config::for_tests(
        &format!("sqlite://{}", path.display()),
        call_server,
        &format!("{tag}-jwt-secret-0123456789"),
    ))
    .await
    .unwrap();
    (running, TempFile(path))
}

/// A file removed when this is dropped.
pub(crate) struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A seed-004 join link at `platform` as a token source.
pub(crate) fn join_link(
    platform: &tandem_call::platform::BackendClient,
    link: &str,
) -> tandem_call::session::TokenSource {
    tandem_call::session::TokenSource::Backend(
        Box::new(platform.clone()),
        tandem_call::platform::TokenRequest {
            link: Some(link.to_owned()),
            ..Default::default()
        },
    )
}

/// The synthetic media of the tests at 640×360, 15 fps (the pattern and a 440 Hz tone).
pub(crate) fn small_synthetic() -> tandem_call::session::MediaConfig {
    tandem_call::session::MediaConfig {
        capture: tandem_call::media::camera::CaptureFormat {
            width: 640,
            height: 360,
            fps: 15,
        },
        ..tandem_call::session::MediaConfig::synthetic(440.0)
    }
}
