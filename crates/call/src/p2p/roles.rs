//! Who makes the offer in a seed-004 call, as a plain machine (no I/O, no
//! clock of its own): inputs and `now` go in, actions come out.
//!
//! The seed's events only tell the participant already in the room that
//! someone joined, so that side offers. Tandem must work whichever side
//! joins first, so it also offers when it joined second and no offer came
//! within [`OFFER_WAIT`] (a page that never offers), and it settles two
//! offers crossing the way WebRTC's "perfect negotiation" does: the coach
//! (`astrologer`) is impolite and keeps its own offer, the client (`user`)
//! is polite and yields to the coach's.

use std::time::{Duration, Instant};

use super::signal::Side;

/// How long the later joiner waits for the other side's offer before
/// offering itself.
pub const OFFER_WAIT: Duration = Duration::from_secs(4);
/// How long an offer may go unanswered before it is made again (once),
/// and then reported.
pub const ANSWER_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// We joined the room.
    Joined,
    /// The other side joined (we were here first).
    PeerJoined,
    /// The other side left.
    PeerLeft,
    /// An offer arrived.
    RemoteOffer,
    /// The answer to our offer arrived.
    RemoteAnswer,
    /// The network changed under us: negotiate anew with ICE restart.
    NetworkChanged,
    /// Time passed.
    Tick,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create and send an offer (`ice_restart` to gather new candidates).
    MakeOffer { ice_restart: bool },
    /// Apply the remote offer and answer it.
    Answer,
    /// Drop our pending offer, then apply the remote one and answer it.
    RollbackAndAnswer,
    /// Ignore the remote offer (ours wins).
    IgnoreOffer,
    /// Apply the remote answer.
    ApplyAnswer,
    /// Ignore an answer we did not ask for.
    IgnoreAnswer,
    /// Tell the person the other side's app is not answering.
    ReportNoAnswer,
    /// The other side is gone: close the peer connection, wait for it.
    Reset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not joined yet, or alone in the room.
    Alone,
    /// Joined second: waiting for the other side's offer since then.
    AwaitingOffer(Instant),
    /// Our offer is out since then; `retried` once it was made again.
    Offered { at: Instant, retried: bool },
    /// Offer and answer exchanged.
    Stable,
}

#[derive(Debug)]
pub struct Negotiator {
    polite: bool,
    state: State,
    /// Whether anyone else is known to be in the room.
    peer_here: bool,
}

impl Negotiator {
    pub fn new(side: Side) -> Self {
        Self {
            polite: side == Side::User,
            state: State::Alone,
            peer_here: false,
        }
    }

    /// Whether an offer and its answer have been exchanged.
    pub fn stable(&self) -> bool {
        self.state == State::Stable
    }

    pub fn on(&mut self, input: Input, now: Instant) -> Option<Action> {
        use Action::*;
        match (input, self.state) {
            (Input::Joined, _) => {
                // Someone may already be inside and will offer when told we
                // came; if nobody is, waiting costs nothing.
                self.state = State::AwaitingOffer(now);
                None
            }
            (Input::PeerJoined, _) => {
                self.peer_here = true;
                self.state = State::Offered {
                    at: now,
                    retried: false,
                };
                Some(MakeOffer { ice_restart: false })
            }
            (Input::PeerLeft, _) => {
                self.peer_here = false;
                self.state = State::Alone;
                Some(Reset)
            }
            (Input::RemoteOffer, State::Offered { .. }) if !self.polite => Some(IgnoreOffer),
            (Input::RemoteOffer, State::Offered { .. }) => {
                self.peer_here = true;
                self.state = State::Stable;
                Some(RollbackAndAnswer)
            }
            (Input::RemoteOffer, _) => {
                self.peer_here = true;
                self.state = State::Stable;
                Some(Answer)
            }
            (Input::RemoteAnswer, State::Offered { .. }) => {
                self.state = State::Stable;
                Some(ApplyAnswer)
            }
            (Input::RemoteAnswer, _) => Some(IgnoreAnswer),
            (Input::NetworkChanged, State::Stable | State::Offered { .. }) => {
                self.state = State::Offered {
                    at: now,
                    retried: false,
                };
                Some(MakeOffer { ice_restart: true })
            }
            (Input::NetworkChanged, _) => None,
            (Input::Tick, State::AwaitingOffer(since))
                if now.duration_since(since) >= OFFER_WAIT =>
            {
                // Nobody offered: offer ourselves (an answer comes only if
                // someone is there; otherwise this offer waits, harmlessly).
                self.state = State::Offered {
                    at: now,
                    retried: false,
                };
                Some(MakeOffer { ice_restart: false })
            }
            (Input::Tick, State::Offered { at, retried })
                if now.duration_since(at) >= ANSWER_WAIT =>
            {
                if retried {
                    // Reported once; keep waiting quietly.
                    self.state = State::Offered {
                        at: now + Duration::from_secs(3600),
                        retried: true,
                    };
                    Some(ReportNoAnswer)
                } else if self.peer_here {
                    self.state = State::Offered {
                        at: now,
                        retried: true,
                    };
                    Some(MakeOffer { ice_restart: true })
                } else {
                    // Alone in the room: nobody to answer yet.
                    self.state = State::AwaitingOffer(now + Duration::from_secs(3600));
                    None
                }
            }
            (Input::Tick, _) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn the_one_already_inside_offers_when_the_other_joins() {
        let now = t0();
        let mut coach = Negotiator::new(Side::Astrologer);
        assert_eq!(coach.on(Input::Joined, now), None);
        assert_eq!(
            coach.on(Input::PeerJoined, now + Duration::from_secs(30)),
            Some(Action::MakeOffer { ice_restart: false })
        );
        assert_eq!(
            coach.on(Input::RemoteAnswer, now),
            Some(Action::ApplyAnswer)
        );
        assert!(coach.stable());
        // The client, joining second, answers the offer it receives.
        let mut client = Negotiator::new(Side::User);
        client.on(Input::Joined, now);
        assert_eq!(client.on(Input::RemoteOffer, now), Some(Action::Answer));
        assert!(client.stable());
        assert_eq!(client.on(Input::Tick, now + Duration::from_secs(60)), None);
    }

    #[test]
    fn joining_second_to_a_page_that_never_offers_offers_after_a_wait() {
        let now = t0();
        let mut n = Negotiator::new(Side::User);
        n.on(Input::Joined, now);
        assert_eq!(n.on(Input::Tick, now + OFFER_WAIT / 2), None);
        assert_eq!(
            n.on(Input::Tick, now + OFFER_WAIT),
            Some(Action::MakeOffer { ice_restart: false })
        );
        assert_eq!(n.on(Input::RemoteAnswer, now), Some(Action::ApplyAnswer));
    }

    #[test]
    fn crossing_offers_are_settled_by_politeness() {
        let now = t0();
        let mut coach = Negotiator::new(Side::Astrologer);
        let mut client = Negotiator::new(Side::User);
        coach.on(Input::PeerJoined, now);
        client.on(Input::PeerJoined, now);
        // Both offered; each receives the other's offer.
        assert_eq!(coach.on(Input::RemoteOffer, now), Some(Action::IgnoreOffer));
        assert_eq!(
            client.on(Input::RemoteOffer, now),
            Some(Action::RollbackAndAnswer)
        );
        // The coach's offer is answered; the client's answer is applied.
        assert_eq!(
            coach.on(Input::RemoteAnswer, now),
            Some(Action::ApplyAnswer)
        );
        assert!(coach.stable() && client.stable());
    }

    #[test]
    fn an_unanswered_offer_is_made_again_once_then_reported() {
        let now = t0();
        let mut n = Negotiator::new(Side::Astrologer);
        n.on(Input::PeerJoined, now);
        assert_eq!(
            n.on(Input::Tick, now + ANSWER_WAIT),
            Some(Action::MakeOffer { ice_restart: true })
        );
        assert_eq!(
            n.on(Input::Tick, now + ANSWER_WAIT * 2),
            Some(Action::ReportNoAnswer)
        );
        assert_eq!(
            n.on(Input::Tick, now + ANSWER_WAIT * 3),
            None,
            "reported once"
        );
        assert_eq!(n.on(Input::RemoteAnswer, now), Some(Action::ApplyAnswer));
    }

    #[test]
    fn leaving_and_coming_back_and_a_network_change() {
        let now = t0();
        let mut n = Negotiator::new(Side::User);
        n.on(Input::Joined, now);
        n.on(Input::RemoteOffer, now);
        assert_eq!(
            n.on(Input::NetworkChanged, now),
            Some(Action::MakeOffer { ice_restart: true })
        );
        assert_eq!(n.on(Input::RemoteAnswer, now), Some(Action::ApplyAnswer));
        assert_eq!(n.on(Input::PeerLeft, now), Some(Action::Reset));
        assert_eq!(
            n.on(Input::NetworkChanged, now),
            None,
            "nobody to renegotiate with"
        );
        assert_eq!(n.on(Input::RemoteAnswer, now), Some(Action::IgnoreAnswer));
        // Alone after an offer timed out: no report, just waiting.
        let mut m = Negotiator::new(Side::User);
        m.on(Input::Joined, now);
        m.on(Input::Tick, now + OFFER_WAIT);
        assert_eq!(m.on(Input::Tick, now + OFFER_WAIT + ANSWER_WAIT), None);
        assert_eq!(
            m.on(Input::PeerJoined, now + Duration::from_secs(100)),
            Some(Action::MakeOffer { ice_restart: false })
        );
    }
}
