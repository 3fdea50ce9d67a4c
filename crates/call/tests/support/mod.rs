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
