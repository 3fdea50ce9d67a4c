//! The call's states and its session timer as a plain machine: an input and
//! `now` go in, the events to emit come out. No I/O and no clock of its own,
//! so every transition is tested synchronously, faster than real time.
//!
//! idle → fetching token → connecting → connected ↔ reconnecting →
//! ended(reason) or failed(error); nothing leaves ended or failed.

use std::time::{Duration, Instant};

use super::types::{CallError, CallEvent, CallState, EndReason};

/// Now, on tokio's clock (which tests can pause and advance).
pub(super) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Timer figures at `elapsed` into a call with `paid` minutes.
pub fn timer(elapsed: Duration, paid_minutes: Option<u32>, warn_before: Duration) -> CallEvent {
    let remaining =
        paid_minutes.map(|m| Duration::from_secs(u64::from(m) * 60).saturating_sub(elapsed));
    CallEvent::Timer {
        elapsed,
        remaining,
        ending_soon: remaining.is_some_and(|r| r <= warn_before),
    }
}

/// What happened to the call.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Input {
    FetchToken,
    Connect,
    Connected,
    Reconnecting,
    Reconnected,
    Failed(CallError),
    Ended(EndReason),
    /// The once-a-second timer.
    Tick,
}

/// Where the call is, and since when it has been connected.
#[derive(Debug)]
pub(super) struct Lifecycle {
    state: CallState,
    connected_at: Option<Instant>,
    paid_minutes: Option<u32>,
    warn_before: Duration,
    warned: bool,
}

impl Lifecycle {
    /// A call not started yet, with its paid time (if any).
    pub(super) fn new(paid_minutes: Option<u32>, warn_before: Duration) -> Self {
        Self {
            state: CallState::Idle,
            connected_at: None,
            paid_minutes,
            warn_before,
            warned: false,
        }
    }

    /// The paid time, once the platform has said it.
    pub(super) fn set_paid_minutes(&mut self, minutes: Option<u32>) {
        self.paid_minutes = minutes;
    }

    #[cfg(test)]
    pub(super) fn state(&self) -> &CallState {
        &self.state
    }

    /// Applies `input` at `now`; returns the events to emit (none when the
    /// input does not apply in this state).
    pub(super) fn on(&mut self, input: Input, now: Instant) -> Vec<CallEvent> {
        use CallState as S;
        if matches!(self.state, S::Ended(_) | S::Failed(_)) {
            return Vec::new();
        }
        let next = match (&self.state, input) {
            (S::Idle, Input::FetchToken) => S::FetchingToken,
            (S::Idle | S::FetchingToken, Input::Connect) => S::Connecting,
            (S::Connecting, Input::Connected) => S::Connected,
            (S::Connected, Input::Reconnecting) => S::Reconnecting,
            (S::Reconnecting, Input::Reconnected) => S::Connected,
            (_, Input::Failed(e)) => S::Failed(e),
            (_, Input::Ended(r)) => S::Ended(r),
            (S::Connected | S::Reconnecting, Input::Tick) => return self.tick(now),
            _ => return Vec::new(),
        };
        if next == S::Connected && self.connected_at.is_none() {
            self.connected_at = Some(now);
        }
        self.state = next.clone();
        vec![CallEvent::State(next)]
    }

    fn tick(&mut self, now: Instant) -> Vec<CallEvent> {
        let Some(at) = self.connected_at else {
            return Vec::new();
        };
        let t = timer(
            now.saturating_duration_since(at),
            self.paid_minutes,
            self.warn_before,
        );
        let mut events = Vec::new();
        if let CallEvent::Timer {
            remaining: Some(r),
            ending_soon: true,
            ..
        } = &t
            && !self.warned
        {
            self.warned = true;
            let minutes = r.as_secs().div_ceil(60);
            events.push(CallEvent::Warning(format!(
                "the paid time ends in {minutes} minute{}",
                if minutes == 1 { "" } else { "s" }
            )));
        }
        events.push(t);
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::MediaError;

    fn states(events: &[CallEvent]) -> Vec<CallState> {
        events
            .iter()
            .filter_map(|e| match e {
                CallEvent::State(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_call_goes_through_its_states_in_order_and_stays_ended() {
        let t0 = Instant::now();
        let mut life = Lifecycle::new(None, Duration::from_secs(300));
        let mut seen = Vec::new();
        for input in [
            Input::FetchToken,
            Input::Connect,
            Input::Connected,
            Input::Reconnecting,
            Input::Reconnected,
            Input::Ended(EndReason::Left),
            Input::Connected,
            Input::Failed(CallError::Connect("late".into())),
        ] {
            seen.extend(life.on(input, t0));
        }
        assert_eq!(
            states(&seen),
            [
                CallState::FetchingToken,
                CallState::Connecting,
                CallState::Connected,
                CallState::Reconnecting,
                CallState::Connected,
                CallState::Ended(EndReason::Left),
            ]
        );
        assert_eq!(life.state(), &CallState::Ended(EndReason::Left));
    }

    #[test]
    fn inputs_that_do_not_apply_are_ignored() {
        let t0 = Instant::now();
        let mut life = Lifecycle::new(None, Duration::ZERO);
        // Not connected yet: no reconnecting, no timer.
        assert!(life.on(Input::Reconnecting, t0).is_empty());
        assert!(life.on(Input::Tick, t0).is_empty());
        assert!(life.on(Input::Connected, t0).is_empty());
        // A direct token skips fetching.
        assert_eq!(
            states(&life.on(Input::Connect, t0)),
            [CallState::Connecting]
        );
        assert!(life.on(Input::FetchToken, t0).is_empty());
        let failed = life.on(Input::Failed(CallError::Media(MediaError::NotBooked)), t0);
        assert_eq!(
            states(&failed),
            [CallState::Failed(CallError::Media(MediaError::NotBooked))]
        );
        assert!(life.on(Input::Ended(EndReason::Left), t0).is_empty());
    }

    #[test]
    fn the_timer_counts_from_connection_across_reconnects_and_warns_once() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut life = Lifecycle::new(None, Duration::from_secs(300));
        life.on(Input::Connect, t0);
        life.on(Input::Connected, at(10));
        life.set_paid_minutes(Some(30));
        let timer_at = |life: &mut Lifecycle, s: u64| life.on(Input::Tick, at(s));
        assert_eq!(
            timer_at(&mut life, 70),
            [CallEvent::Timer {
                elapsed: Duration::from_secs(60),
                remaining: Some(Duration::from_secs(29 * 60)),
                ending_soon: false
            }]
        );
        // A reconnect does not restart the clock.
        life.on(Input::Reconnecting, at(100));
        life.on(Input::Reconnected, at(105));
        // 26 minutes in: four left, inside the five-minute warning.
        let warned = timer_at(&mut life, 10 + 26 * 60);
        assert_eq!(
            warned[0],
            CallEvent::Warning("the paid time ends in 4 minutes".into())
        );
        assert!(matches!(
            warned[1],
            CallEvent::Timer {
                ending_soon: true,
                ..
            }
        ));
        // Only once.
        assert_eq!(timer_at(&mut life, 10 + 27 * 60).len(), 1);
        // Past the end: nothing left, still ticking.
        assert!(matches!(
            timer_at(&mut life, 10 + 40 * 60)[..],
            [CallEvent::Timer {
                remaining: Some(Duration::ZERO),
                ..
            }]
        ));
    }

    #[test]
    fn timer_counts_down_paid_time_and_warns_before_the_end() {
        let warn = Duration::from_secs(300);
        let CallEvent::Timer {
            remaining,
            ending_soon,
            ..
        } = timer(Duration::from_secs(60), Some(30), warn)
        else {
            panic!()
        };
        assert_eq!(
            (remaining, ending_soon),
            (Some(Duration::from_secs(29 * 60)), false)
        );
        let CallEvent::Timer {
            remaining,
            ending_soon,
            ..
        } = timer(Duration::from_secs(26 * 60), Some(30), warn)
        else {
            panic!()
        };
        assert_eq!(
            (remaining, ending_soon),
            (Some(Duration::from_secs(240)), true)
        );
        let CallEvent::Timer {
            remaining,
            ending_soon,
            ..
        } = timer(Duration::from_secs(40 * 60), Some(30), warn)
        else {
            panic!()
        };
        assert_eq!((remaining, ending_soon), (Some(Duration::ZERO), true));
        let CallEvent::Timer {
            remaining,
            ending_soon,
            ..
        } = timer(Duration::from_secs(5), None, warn)
        else {
            panic!()
        };
        assert_eq!((remaining, ending_soon), (None, false));
    }
}
