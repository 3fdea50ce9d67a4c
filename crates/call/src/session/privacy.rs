//! Whose encrypted media we cannot read. LiveKit reports a participant's
//! decryption working (`Ok`), but with another passphrase its frame
//! decryptor may drop frames without ever reporting a failure, which would
//! leave a black tile and silence without explanation. So in an encrypted
//! call, someone whose media we receive and whose decryption has not worked
//! within [`DECRYPT_WITHIN`] is reported as not decrypting, once. A plain
//! machine: inputs and `now` in, who to report out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long after a track of theirs arrives decryption must have worked.
pub(super) const DECRYPT_WITHIN: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub(super) struct Undecrypted {
    /// People we receive from whose decryption has not worked yet, and
    /// since when.
    waiting: HashMap<String, Instant>,
}

impl Undecrypted {
    /// A track of `identity`'s arrived.
    pub(super) fn subscribed(&mut self, identity: &str, now: Instant) {
        self.waiting.entry(identity.to_owned()).or_insert(now);
    }

    /// Their decryption works.
    pub(super) fn working(&mut self, identity: &str) {
        self.waiting.remove(identity);
    }

    /// They left.
    pub(super) fn gone(&mut self, identity: &str) {
        self.waiting.remove(identity);
    }

    /// Who has not decrypted within the limit by `now` (each once).
    pub(super) fn due(&mut self, now: Instant) -> Vec<String> {
        let mut late: Vec<String> = self
            .waiting
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(**t) >= DECRYPT_WITHIN)
            .map(|(who, _)| who.clone())
            .collect();
        late.sort();
        for who in &late {
            self.waiting.remove(who);
        }
        late
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
}
