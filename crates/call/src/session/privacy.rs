//! Whose encrypted media we cannot read. LiveKit reports a participant's
//! decryption working (`Ok`), but with another passphrase its frame
//! decryptor may drop frames without ever reporting a failure, which would
//! leave a black tile and silence without explanation. So in an encrypted
//! call, someone whose media we receive and whose decryption has not worked
//! within [`DECRYPT_WITHIN`] is reported as not decrypting, once.
//!
//! After a key change (ours, or someone saying they changed theirs) LiveKit
//! reports nothing either: frames that no longer decrypt are dropped. There
//! the pictures tell: whoever's video was arriving must have new pictures
//! within the same limit, or is reported; and anyone reported whose
//! pictures arrive again is reported working. (Someone sending no video
//! cannot be judged this way; they are left as they were.) A plain machine:
//! inputs and `now` in, who to report out.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// How long after a track of theirs arrives, or after a key change,
/// decryption must have worked.
pub(super) const DECRYPT_WITHIN: Duration = Duration::from_secs(5);

/// Video that grew this recently counts as arriving when the key changes.
const ARRIVING: Duration = Duration::from_secs(2);

/// Pictures decoded this soon after a key change may have been sent before
/// it: they prove nothing.
const IN_FLIGHT: Duration = Duration::from_secs(1);

/// New pictures past this many (after [`IN_FLIGHT`]) prove decryption
/// after a key change.
const PROOF_FRAMES: u64 = 3;

#[derive(Debug, Default)]
pub(super) struct Undecrypted {
    /// People we receive from whose decryption has not worked yet, and
    /// since when.
    waiting: HashMap<String, Instant>,
    /// After a key change: whose video was arriving, and what is known of
    /// it since. Until their pictures prove it, LiveKit's word that their
    /// decryption works is not taken (it says so on a key change even when
    /// every frame then fails).
    rekeyed: HashMap<String, Rekeyed>,
    /// Per participant: pictures decoded so far, and when that last grew
    /// (never: `None`).
    video: HashMap<String, (u64, Option<Instant>)>,
    /// Reported as not decrypting (and not working since).
    failed: HashSet<String>,
    /// Sending unencrypted media: never working, whatever arrives.
    plain: HashSet<String>,
}

#[derive(Debug)]
struct Rekeyed {
    since: Instant,
    /// Their picture count once pictures from before the change are in
    /// (zero after a new subscription).
    base: u64,
    /// `base` was taken [`IN_FLIGHT`] or more after the change.
    settled: bool,
    /// Already reported as not decrypting.
    reported: bool,
}

impl Undecrypted {
    /// A track of `identity`'s arrived.
    pub(super) fn subscribed(&mut self, identity: &str, now: Instant) {
        if !self.plain.contains(identity) {
            self.waiting.entry(identity.to_owned()).or_insert(now);
        }
    }

    /// A track of theirs comes unencrypted: they are never working (their
    /// pictures arrive, but not privately).
    pub(super) fn unencrypted(&mut self, identity: &str) {
        self.waiting.remove(identity);
        self.rekeyed.remove(identity);
        self.plain.insert(identity.to_owned());
    }

    /// LiveKit says their decryption works; false when that is not to be
    /// believed (after a key change, only their pictures tell).
    pub(super) fn working(&mut self, identity: &str) -> bool {
        if self.rekeyed.contains_key(identity) || self.plain.contains(identity) {
            return false;
        }
        self.waiting.remove(identity);
        self.failed.remove(identity);
        true
    }

    /// They left.
    pub(super) fn gone(&mut self, identity: &str) {
        self.waiting.remove(identity);
        self.rekeyed.remove(identity);
        self.video.remove(identity);
        self.failed.remove(identity);
        self.plain.remove(identity);
    }

    /// The key changed: ours (`None`: everyone's media is now read with
    /// another key), or `identity` said theirs did.
    pub(super) fn rekeyed(&mut self, identity: Option<&str>, now: Instant) {
        for (who, (count, grew)) in &self.video {
            if identity.is_none_or(|i| i == who)
                && grew.is_some_and(|g| now.saturating_duration_since(g) <= ARRIVING)
            {
                self.rekeyed.insert(
                    who.clone(),
                    Rekeyed {
                        since: now,
                        base: *count,
                        settled: false,
                        reported: false,
                    },
                );
            }
        }
    }

    /// `identity` has decoded `count` pictures so far (a rejoin starts
    /// again from zero). True when this proves their media decrypts again
    /// after a key change or a report.
    pub(super) fn pictures(&mut self, identity: &str, count: u64, now: Instant) -> bool {
        let grew = match self.video.get_mut(identity) {
            Some((seen, at)) => {
                let grew = count > *seen;
                if count < *seen
                    && let Some(r) = self.rekeyed.get_mut(identity)
                {
                    // A new subscription (a rejoin) counts from zero.
                    r.base = 0;
                }
                *seen = count;
                if grew {
                    *at = Some(now);
                }
                grew
            }
            None => {
                let seen = (count > 0).then_some(now);
                self.video.insert(identity.to_owned(), (count, seen));
                false
            }
        };
        if self.plain.contains(identity) {
            return false;
        }
        let proven = match self.rekeyed.get_mut(identity) {
            Some(r) if !r.settled => {
                r.base = count;
                r.settled = now.saturating_duration_since(r.since) >= IN_FLIGHT;
                false
            }
            Some(r) => count >= r.base + PROOF_FRAMES,
            None => grew && self.failed.contains(identity),
        };
        if proven {
            self.rekeyed.remove(identity);
            self.working(identity);
        }
        proven
    }

    /// Who has not decrypted within the limit by `now` (each once).
    pub(super) fn due(&mut self, now: Instant) -> Vec<String> {
        let late = |since: &Instant| now.saturating_duration_since(*since) >= DECRYPT_WITHIN;
        let mut due: Vec<String> = self
            .waiting
            .iter()
            .filter(|(_, t)| late(t))
            .map(|(who, _)| who.clone())
            .chain(
                self.rekeyed
                    .iter()
                    .filter(|(_, r)| !r.reported && late(&r.since))
                    .map(|(who, _)| who.clone()),
            )
            .collect();
        due.sort();
        due.dedup();
        for who in &due {
            self.waiting.remove(who);
            if let Some(r) = self.rekeyed.get_mut(who) {
                r.reported = true;
            }
            self.failed.insert(who.clone());
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn someone_not_decrypting_within_five_seconds_is_reported_once() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut u = Undecrypted::default();
        u.subscribed("ann", t0);
        u.subscribed("bob", t0);
        u.subscribed("ann", s(3)); // her second track: still counted from the first
        u.working("bob");
        assert!(u.due(s(4)).is_empty());
        assert_eq!(u.due(s(5)), ["ann"]);
        assert!(u.due(s(60)).is_empty(), "only once");
        u.subscribed("cat", s(10));
        u.gone("cat");
        assert!(u.due(s(20)).is_empty());
    }

    #[test]
    fn after_a_key_change_pictures_must_keep_coming() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut u = Undecrypted::default();
        // Ann's video arrives and decrypts; Bob's camera is off.
        u.pictures("ann", 10, t0);
        assert!(!u.pictures("ann", 40, ms(1000)));
        u.pictures("bob", 0, t0);
        assert!(u.working("ann"));
        // We change the key: Ann's pictures stop (she still has the old one).
        u.rekeyed(None, ms(1500));
        assert!(
            !u.pictures("ann", 45, ms(2000)),
            "frames in flight when the key changed prove nothing"
        );
        assert!(!u.pictures("ann", 45, ms(2600)));
        assert!(u.due(ms(6000)).is_empty());
        assert_eq!(
            u.due(ms(6500)),
            ["ann"],
            "reported five seconds after the change"
        );
        assert!(u.due(ms(9000)).is_empty(), "once");
        assert!(!u.working("ann"), "nor after the report");
        // She changes to the new key: her pictures come again.
        assert!(u.pictures("ann", 48, ms(20_000)), "working again");
        assert!(!u.pictures("ann", 50, ms(21_000)), "said once");
        assert!(u.working("ann"), "LiveKit is believed again");
        // Bob sent no video: he cannot be judged and is never reported.
        assert!(u.due(ms(60_000)).is_empty());
    }

    #[test]
    fn a_key_change_both_sides_make_keeps_the_call_working() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut u = Undecrypted::default();
        u.pictures("ann", 100, t0);
        u.pictures("ann", 130, ms(1000));
        // Ann says she changed the key; we changed too, and pictures go on.
        u.rekeyed(Some("ann"), ms(1100));
        assert!(!u.pictures("ann", 131, ms(1200)));
        assert!(!u.pictures("ann", 135, ms(2200)));
        assert!(u.pictures("ann", 150, ms(3200)));
        assert!(u.due(ms(10_000)).is_empty());
        // Someone's key change says nothing about the others'.
        u.pictures("cat", 5, ms(9000));
        u.pictures("ann", 200, ms(9000));
        u.rekeyed(Some("ann"), ms(9500));
        assert_eq!(u.due(ms(20_000)), ["ann"]);
    }

    #[test]
    fn a_rejoin_counting_from_zero_is_not_pictures_arriving() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut u = Undecrypted::default();
        u.pictures("ann", 300, t0);
        u.rekeyed(None, s(1));
        assert!(
            !u.pictures("ann", 0, s(2)),
            "a new subscription starts at zero"
        );
        assert!(!u.pictures("ann", 2, s(3)));
        assert!(u.pictures("ann", 3, s(4)), "three new pictures prove it");
        u.rekeyed(None, s(5));
        assert!(!u.pictures("ann", 0, s(6)));
        assert_eq!(u.due(s(10)), ["ann"]);
    }

    #[test]
    fn someone_sending_unencrypted_media_is_never_working() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut u = Undecrypted::default();
        u.unencrypted("old");
        u.subscribed("old", t0);
        assert!(!u.working("old"), "LiveKit's word is not taken");
        u.pictures("old", 10, s(1));
        assert!(
            !u.pictures("old", 40, s(2)),
            "their pictures arrive, but in the clear"
        );
        assert!(u.due(s(30)).is_empty(), "already said, not again");
        u.gone("old");
        u.subscribed("old", s(40));
        assert!(u.working("old"), "back with an encrypting app");
    }
}
