//! When to rejoin, when to give up, and what chat to send again, as plain
//! machines: inputs and `now` go in, decisions come out. No I/O and no clock
//! of their own, so long outages, flapping links, a server that answers but
//! refuses, and clock jumps (a computer that slept) are tested synchronously.
//!
//! LiveKit's SDK resumes a dropped connection, then rejoins with the same
//! token, waiting longer and longer between its tries, and after about ten
//! reports the room disconnected. Tandem helps in two ways:
//! - [`Watch`]: while the SDK reconnects for longer than [`PROBE_AFTER`],
//!   the call server is probed; once it has answered for [`GRACE`], Tandem
//!   rejoins by itself rather than wait out the SDK's back-off.
//! - [`Attempts`]: once the room is lost, Tandem keeps trying (a fresh token
//!   each time) every [`RETRY_EVERY`] until [`GIVE_UP_AFTER`] has passed
//!   (or the call's own limit) *and* a few attempts have failed, so a computer waking from a long
//!   sleep still tries before it gives up.
//!
//! - [`Watch::addresses`]: when one of the computer's addresses goes away
//!   (Wi-Fi to Ethernet), the connection may have gone with it, and the SDK
//!   would notice only after its keep-alive times out (15 s or more), so
//!   Tandem rejoins at once.
//!
//! Chat sent shortly before an outage may have been lost in flight; both
//! machines say from when it must be sent again ([`IN_FLIGHT`]).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Pause between rejoin attempts, so a returning network is noticed quickly.
pub(super) const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How long one attempt may take.
pub(super) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(8);
/// After this long without a connection (and [`MIN_ATTEMPTS`]), the call
/// ends, unless the call is configured otherwise
/// ([`super::CallConfig::give_up_after`]). People who dropped out are
/// remembered this long too.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(120);
/// Attempts made before giving up, however long the outage seemed.
pub(super) const MIN_ATTEMPTS: u32 = 3;
/// While the SDK reconnects for longer than this, the server is probed.
pub(super) const PROBE_AFTER: Duration = Duration::from_secs(3);
/// How often it is probed.
pub(super) const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How often the computer's addresses are looked at.
pub(super) const NETWORK_EVERY: Duration = Duration::from_secs(1);
/// How long the server must have answered, with the SDK still
/// reconnecting, before Tandem rejoins by itself (the SDK may be just
/// about to succeed).
pub(super) const GRACE: Duration = Duration::from_millis(750);
/// How long before the SDK noticed an outage a message may have been sent
/// into it (LiveKit notices a dead connection after up to about 15 s).
pub(super) const IN_FLIGHT: Duration = Duration::from_secs(20);

/// Chat sent since this moment is sent again (receivers drop copies by id).
pub(super) type ResendSince = Instant;

fn resend_since(t: Instant) -> ResendSince {
    t.checked_sub(IN_FLIGHT).unwrap_or(t)
}

/// What [`Watch::probed`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Probe {
    /// Keep waiting for the SDK.
    Wait,
    /// The server has answered long enough: leave the SDK's attempt and
    /// rejoin now.
    RejoinNow,
}

/// The connection as the SDK reports it, and the people who dropped out.
#[derive(Debug, Default)]
pub(super) struct Watch {
    reconnecting_since: Option<Instant>,
    answering_since: Option<Instant>,
    /// Who dropped out of the room, and when.
    away: HashMap<String, Instant>,
    /// The computer's IPv4 addresses when last looked at.
    addresses: Option<BTreeSet<IpAddr>>,
}

impl Watch {
    /// The SDK lost the link and is restoring it.
    pub(super) fn sdk_reconnecting(&mut self, now: Instant) {
        self.reconnecting_since.get_or_insert(now);
    }

    /// The SDK restored the link; chat from the returned moment on is sent
    /// again, since what was in flight may be gone.
    pub(super) fn sdk_reconnected(&mut self) -> Option<ResendSince> {
        self.answering_since = None;
        self.reconnecting_since.take().map(resend_since)
    }

    /// Whether the server should be probed now.
    pub(super) fn should_probe(&self, now: Instant) -> bool {
        self.reconnecting_since
            .is_some_and(|t| now.saturating_duration_since(t) >= PROBE_AFTER)
    }

    /// A probe's outcome.
    pub(super) fn probed(&mut self, up: bool, now: Instant) -> Probe {
        if !self.should_probe(now) {
            return Probe::Wait;
        }
        if !up {
            self.answering_since = None;
            return Probe::Wait;
        }
        let since = *self.answering_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= GRACE {
            Probe::RejoinNow
        } else {
            Probe::Wait
        }
    }

    /// The room is lost (the SDK gave up, or we left its attempt): when the
    /// outage began, for [`Attempts::new`].
    pub(super) fn lost(&mut self, now: Instant) -> Instant {
        self.answering_since = None;
        self.reconnecting_since.take().unwrap_or(now)
    }

    /// The computer's addresses now; true when one it had is gone, so the
    /// call should rejoin from where it is now. New addresses alone change
    /// nothing (the old network still works), nor do loopback and IPv6
    /// ones (temporary IPv6 addresses come and go by design).
    pub(super) fn addresses(&mut self, now: Vec<IpAddr>) -> bool {
        let now: BTreeSet<IpAddr> = now
            .into_iter()
            .filter(|a| a.is_ipv4() && !a.is_loopback())
            .collect();
        let gone = self
            .addresses
            .as_ref()
            .is_some_and(|before| before.difference(&now).next().is_some());
        self.addresses = Some(now);
        gone
    }

    /// Someone dropped out of the room.
    pub(super) fn participant_left(&mut self, identity: &str, now: Instant) {
        self.away
            .retain(|_, t| now.saturating_duration_since(*t) < GIVE_UP_AFTER);
        self.away.insert(identity.to_owned(), now);
    }

    /// Someone is in the room; if they had dropped out, what we sent since
    /// then never reached them.
    pub(super) fn participant_joined(&mut self, identity: &str) -> Option<ResendSince> {
        self.away.remove(identity).map(resend_since)
    }
}

/// What to do after a failed rejoin attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Try again at this moment.
    RetryAt(Instant),
    /// The call ends.
    GiveUp,
}

/// Rejoin attempts after the room was lost.
#[derive(Debug)]
pub(super) struct Attempts {
    lost_at: Instant,
    limit: Duration,
    failed: u32,
}

impl Attempts {
    /// The outage began at `lost_at`; it may last `limit`.
    pub(super) fn new(lost_at: Instant, limit: Duration) -> Self {
        Self {
            lost_at,
            limit,
            failed: 0,
        }
    }

    /// An attempt failed at `now`.
    pub(super) fn failed(&mut self, now: Instant) -> Next {
        self.failed += 1;
        let next = now + RETRY_EVERY;
        if self.failed >= MIN_ATTEMPTS && next.saturating_duration_since(self.lost_at) > self.limit
        {
            Next::GiveUp
        } else {
            Next::RetryAt(next)
        }
    }

    /// Back in: chat since before the outage is sent again.
    pub(super) fn rejoined(&self) -> ResendSince {
        resend_since(self.lost_at)
    }

    pub(super) fn failures(&self) -> u32 {
        self.failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn the_server_is_probed_only_after_the_sdk_has_tried_for_a_while() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        assert!(!w.should_probe(t0), "not while connected");
        w.sdk_reconnecting(t0);
        assert!(!w.should_probe(ms(t0, 2_999)));
        assert!(w.should_probe(ms(t0, 3_000)));
        // A second "reconnecting" keeps the first moment.
        w.sdk_reconnecting(ms(t0, 2_000));
        assert!(w.should_probe(ms(t0, 3_000)));
    }

    #[test]
    fn a_server_answering_again_is_rejoined_after_the_grace_only_if_it_keeps_answering() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.sdk_reconnecting(t0);
        // Before the probing starts, answers do not count.
        assert_eq!(w.probed(true, ms(t0, 1_000)), Probe::Wait);
        assert_eq!(w.probed(false, ms(t0, 3_000)), Probe::Wait);
        assert_eq!(w.probed(true, ms(t0, 3_250)), Probe::Wait);
        assert_eq!(w.probed(true, ms(t0, 3_750)), Probe::Wait);
        // Flapping: one miss starts the grace over.
        assert_eq!(w.probed(false, ms(t0, 3_900)), Probe::Wait);
        assert_eq!(w.probed(true, ms(t0, 4_000)), Probe::Wait);
        assert_eq!(w.probed(true, ms(t0, 4_500)), Probe::Wait);
        assert_eq!(w.probed(true, ms(t0, 4_750)), Probe::RejoinNow);
    }

    #[test]
    fn a_link_that_flaps_never_rejoins_behind_the_sdks_back() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        // Down 2 s, up 1 s, for a minute: the SDK copes each time.
        for i in 0..20 {
            let start = i * 3_000;
            w.sdk_reconnecting(ms(t0, start));
            for p in (0..2_000).step_by(250) {
                assert_eq!(w.probed(true, ms(t0, start + p)), Probe::Wait);
            }
            let since = w.sdk_reconnected().unwrap();
            assert_eq!(since, ms(t0, start).checked_sub(IN_FLIGHT).unwrap_or(t0));
        }
        assert_eq!(
            w.sdk_reconnected(),
            None,
            "nothing to resend when nothing dropped"
        );
    }

    #[test]
    fn a_long_outage_gives_up_after_two_minutes_and_three_attempts() {
        let t0 = Instant::now();
        let mut a = Attempts::new(t0, GIVE_UP_AFTER);
        let mut now = t0;
        let mut tries = 0;
        loop {
            // Each attempt takes its full time limit (the server hangs).
            now += ATTEMPT_TIMEOUT;
            tries += 1;
            match a.failed(now) {
                Next::RetryAt(at) => {
                    assert_eq!(at, now + RETRY_EVERY);
                    now = at;
                }
                Next::GiveUp => break,
            }
        }
        let took = now.duration_since(t0);
        assert!(
            took >= GIVE_UP_AFTER - RETRY_EVERY && took <= GIVE_UP_AFTER + ATTEMPT_TIMEOUT,
            "gave up after {took:?}"
        );
        assert_eq!(tries, a.failures());
        assert!(tries > MIN_ATTEMPTS);
    }

    #[test]
    fn a_server_that_answers_but_refuses_is_retried_every_second_until_the_limit() {
        let t0 = Instant::now();
        let mut a = Attempts::new(t0, GIVE_UP_AFTER);
        let mut now = t0;
        let mut tries = 0u32;
        while let Next::RetryAt(at) = a.failed(now) {
            tries += 1;
            now = at; // refused at once
        }
        // One attempt a second for two minutes.
        assert!((118..=121).contains(&tries), "{tries} attempts");
    }

    #[test]
    fn a_computer_that_slept_tries_again_before_giving_up() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.sdk_reconnecting(t0);
        // The machine sleeps for ten minutes: the next thing seen is the
        // room lost, long after.
        let woke = t0 + Duration::from_secs(600);
        let mut a = Attempts::new(w.lost(woke), GIVE_UP_AFTER);
        assert_eq!(a.failed(woke), Next::RetryAt(woke + RETRY_EVERY));
        assert_eq!(
            a.failed(woke + RETRY_EVERY),
            Next::RetryAt(woke + 2 * RETRY_EVERY)
        );
        assert_eq!(a.failed(woke + 2 * RETRY_EVERY), Next::GiveUp);
        // Chat from before the sleep (and what was in flight) is resent.
        assert_eq!(a.rejoined(), t0.checked_sub(IN_FLIGHT).unwrap_or(t0));
    }

    #[test]
    fn a_short_stop_of_the_process_keeps_trying() {
        // Stopped for 60 s (SIGSTOP), then continued: the clock jumped, but
        // the outage is within the limit.
        let t0 = Instant::now();
        let mut a = Attempts::new(t0, GIVE_UP_AFTER);
        for i in 0..5 {
            assert!(matches!(
                a.failed(t0 + Duration::from_secs(60 + i)),
                Next::RetryAt(_)
            ));
        }
    }

    #[test]
    fn someone_back_after_dropping_out_gets_what_was_sent_meanwhile() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        assert_eq!(
            w.participant_joined("bob"),
            None,
            "a first join resends nothing"
        );
        w.participant_left("bob", ms(t0, 30_000));
        assert_eq!(
            w.participant_joined("bob"),
            Some(ms(t0, 30_000) - IN_FLIGHT)
        );
        assert_eq!(w.participant_joined("bob"), None, "only once");
        // Long-gone people are forgotten.
        w.participant_left("carol", t0);
        w.participant_left("dave", t0 + GIVE_UP_AFTER + Duration::from_secs(1));
        assert_eq!(w.participant_joined("carol"), None);
        assert!(w.participant_joined("dave").is_some());
    }

    #[test]
    fn a_lost_room_counts_the_outage_from_when_the_sdk_began_reconnecting() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.sdk_reconnecting(t0);
        assert_eq!(w.lost(ms(t0, 20_000)), t0);
        // And from the loss itself when the SDK never said so.
        assert_eq!(w.lost(ms(t0, 30_000)), ms(t0, 30_000));
        assert!(!w.should_probe(ms(t0, 40_000)));
    }

    #[test]
    fn a_lost_address_means_rejoin_and_a_new_one_does_not() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut w = Watch::default();
        assert!(
            !w.addresses(vec![ip("192.168.1.20"), ip("127.0.0.1")]),
            "first look"
        );
        // Ethernet plugged in beside Wi-Fi.
        assert!(!w.addresses(vec![ip("192.168.1.20"), ip("10.0.0.5")]));
        // IPv6 and loopback come and go: nothing to do.
        assert!(!w.addresses(vec![ip("192.168.1.20"), ip("10.0.0.5"), ip("2001:db8::1")]));
        assert!(!w.addresses(vec![ip("192.168.1.20"), ip("10.0.0.5")]));
        // Wi-Fi off.
        assert!(w.addresses(vec![ip("10.0.0.5")]));
        assert!(!w.addresses(vec![ip("10.0.0.5")]), "only once");
        // Everything gone (cable out), then back with a new address.
        assert!(w.addresses(vec![]));
        assert!(!w.addresses(vec![ip("10.0.0.6")]));
    }
}
