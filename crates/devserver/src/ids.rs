//! Server-assigned ids. Clients parse the prefixes (`RM_`, `PA_`, `TR_`), so they are fixed.

use rand::Rng as _;
use rand::distr::Alphanumeric;

fn with_prefix(prefix: &str) -> String {
    let tail: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(12)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

pub(crate) fn room_sid() -> String {
    with_prefix("RM_")
}

pub(crate) fn participant_sid() -> String {
    with_prefix("PA_")
}

pub(crate) fn track_sid() -> String {
    with_prefix("TR_")
}

pub(crate) fn event_id() -> String {
    with_prefix("EV_")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_have_their_prefix_and_differ() {
        let a = super::participant_sid();
        assert!(a.starts_with("PA_") && a.len() == 15, "{a}");
        assert_ne!(a, super::participant_sid());
        assert!(super::room_sid().starts_with("RM_"));
        assert!(super::track_sid().starts_with("TR_"));
    }
}
