//! The session's behaviour on the fake room server: joining, chat, mute,
//! the camera, people dropping out, and the room lost and found again,
//! driven on tokio's paused clock where time matters, so minutes of
//! outage take milliseconds.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tandem_lk as lk;
use tokio::time::Instant;

use super::*;
use crate::room::fake::{Door, FakeServer};

pub(super) fn config(kind: SessionType) -> CallConfig {
    let fake = TokenSource::Direct {
        url: "ws://fake".into(),
        // The fake takes the token as our identity.
        token: "alice".into(),
    };
    CallConfig::new(fake, kind, MediaConfig::synthetic(440.0))
}

pub(super) fn call(kind: SessionType) -> (FakeServer, CallHandle, CallEvents) {
    let server = FakeServer::new();
    let (session, handle, events) = CallSession::with_connector(config(kind), server.clone());
    tokio::spawn(session.run());
    (server, handle, events)
}

/// The next event matching `want`, within `within` (on tokio's clock).
pub(super) async fn next(
    events: &mut CallEvents,
    within: Duration,
    want: impl Fn(&CallEvent) -> bool,
) -> CallEvent {
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(e)) if want(&e) => return e,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the call's events ended"),
            Err(_) => panic!("no such event within {within:?}"),
        }
    }
}

fn is_state(s: CallState) -> impl Fn(&CallEvent) -> bool {
    move |e| matches!(e, CallEvent::State(x) if *x == s)
}

pub(super) async fn connected(events: &mut CallEvents) {
    next(
        events,
        Duration::from_secs(10),
        is_state(CallState::Connected),
    )
    .await;
}

/// The room is lost and the server's door set as given; returns once the
/// call says it is reconnecting.
async fn lose_room(server: &FakeServer, events: &mut CallEvents, door: Door) {
    server.set_door(door);
    server.lose_room(lk::DisconnectReason::ConnectionTimeout);
    next(
        events,
        Duration::from_secs(5),
        is_state(CallState::Reconnecting),
    )
    .await;
}

/// Waits, on the real clock, until `f` holds.
async fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn chat_goes_out_in_both_formats_and_comes_in_once() {
    let (server, call, mut events) = call(SessionType::Chat);
    connected(&mut events).await;
    let id = call.send_chat("hello <b>coach</b>").unwrap();
    let sent = next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::ChatSent { .. })
    })
    .await;
    let CallEvent::ChatSent { local_id, message } = sent else {
        unreachable!()
    };
    assert_eq!(
        (local_id, message.text.as_str()),
        (id, "hello <b>coach</b>")
    );
    assert_eq!(server.chats(), ["hello <b>coach</b>"]);
    until("the legacy copy", || server.data("chat").len() == 1).await;
    assert!(server.data("chat")[0].contains(&message.id));
    server.say("bob", "m1", "hi");
    server.say("bob", "m1", "hi"); // the same message again
    server.say("bob", "m2", "again");
    let got = next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::ChatReceived(_))
    })
    .await;
    assert!(matches!(got, CallEvent::ChatReceived(m) if m.text == "hi"));
    let got = next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::ChatReceived(_))
    })
    .await;
    assert!(
        matches!(got, CallEvent::ChatReceived(m) if m.text == "again"),
        "the copy was shown"
    );
    assert_eq!(call.chat_history().messages.len(), 3);
}

/// Off always holds: no sample reaches the track while muted, even when
/// LiveKit's mute fails; a failed unmute says so and stays off.
#[tokio::test]
async fn the_microphone_sends_nothing_while_muted_even_when_livekit_cannot_mute() {
    let (server, call, mut events) = call(SessionType::Voice);
    connected(&mut events).await;
    until("the tone reaching the track", || server.samples() > 4_800).await;
    server.fail_mutes(true);
    assert_eq!(call.set_mic(false).await, Ok(()), "off holds locally");
    tokio::time::sleep(Duration::from_millis(50)).await; // a block in the pump may finish
    let at_mute = server.samples();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.samples(), at_mute, "samples left while muted");
    assert_eq!(
        server.mic_muted(),
        Some(false),
        "the others never saw the mute"
    );
    let refused = call.set_mic(true).await;
    assert!(matches!(refused, Err(CallError::Unmute(_))), "{refused:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.samples(), at_mute, "a failed unmute let sound out");
    server.fail_mutes(false);
    assert_eq!(call.set_mic(true).await, Ok(()));
    assert_eq!(server.mic_muted(), Some(false));
    until("the tone flowing again", || {
        server.samples() > at_mute + 4_800
    })
    .await;
    assert_eq!(call.set_mic(false).await, Ok(()));
    assert_eq!(server.mic_muted(), Some(true));
}

#[tokio::test]
async fn the_camera_turned_off_sends_no_picture_and_a_voice_booking_has_none() {
    let (server, call, mut events) = call(SessionType::Video);
    connected(&mut events).await;
    until("pictures reaching the track", || server.frames() > 3).await;
    assert!(call.video(LOCAL_VIDEO).is_some(), "no preview");
    server.fail_mutes(true);
    assert_eq!(call.set_camera(false).await, Ok(()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let at_off = server.frames();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.frames(), at_off, "pictures left with the camera off");
    assert!(call.video(LOCAL_VIDEO).is_none(), "the preview stayed");
    server.fail_mutes(false);
    assert_eq!(call.set_camera(true).await, Ok(()));
    until("pictures again", || server.frames() > at_off + 3).await;

    let (_server, voice, mut events) = super::tests::call(SessionType::Voice);
    connected(&mut events).await;
    assert!(matches!(
        voice.set_camera(true).await,
        Err(CallError::CameraOn(_))
    ));
}

#[tokio::test]
async fn someone_back_after_dropping_out_is_sent_what_they_missed() {
    let (server, call, mut events) = call(SessionType::Chat);
    server.join("bob", "Bob");
    // Who is already there is announced before "connected".
    next(
        &mut events,
        Duration::from_secs(5),
        |e| matches!(e, CallEvent::ParticipantJoined { identity, .. } if identity == "bob"),
    )
    .await;
    connected(&mut events).await;
    server.leave("bob");
    next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::ParticipantLeft { .. })
    })
    .await;
    call.send_chat("are you there?").unwrap();
    next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::ChatSent { .. })
    })
    .await;
    until("the first copy", || server.data("chat").len() == 1).await;
    server.join("bob", "Bob");
    until("the copy sent again", || server.data("chat").len() == 2).await;
    assert_eq!(server.data("chat")[0], server.data("chat")[1]);
}

#[tokio::test(start_paused = true)]
async fn a_lost_room_is_rejoined_when_the_network_returns_and_held_chat_is_sent() {
    let (server, call, mut events) = call(SessionType::Voice);
    connected(&mut events).await;
    assert_eq!(server.published(), [(1, "microphone")]);
    lose_room(&server, &mut events, Door::Unreachable).await;
    call.send_chat("typed while away").unwrap();
    assert_eq!(
        call.set_mic(false).await,
        Ok(()),
        "answered at once while away"
    );
    // Thirty seconds without a network: one attempt a second.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let tried = server.attempts();
    assert!((29..=33).contains(&tried), "{tried} attempts in 30 s");
    server.set_door(Door::Open);
    let started = Instant::now();
    connected(&mut events).await;
    assert!(
        started.elapsed() <= Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        server.published(),
        [(1, "microphone"), (2, "microphone")],
        "not published again"
    );
    assert_eq!(
        server.mic_muted(),
        Some(true),
        "muted while away, muted once back"
    );
    let sent = next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::ChatSent { .. })
    })
    .await;
    assert!(
        matches!(sent, CallEvent::ChatSent { message, .. } if message.text == "typed while away")
    );
    assert_eq!(server.chats(), ["typed while away"]);
}

#[tokio::test(start_paused = true)]
async fn nothing_answering_for_two_minutes_ends_the_call_and_says_what_was_not_sent() {
    let (server, call, mut events) = call(SessionType::Chat);
    connected(&mut events).await;
    let started = Instant::now();
    lose_room(&server, &mut events, Door::Unreachable).await;
    call.send_chat("lost?").unwrap();
    let failed = next(&mut events, Duration::from_secs(200), |e| {
        matches!(e, CallEvent::ChatFailed { .. })
    })
    .await;
    assert!(matches!(failed, CallEvent::ChatFailed { text, .. } if text == "lost?"));
    let ended = next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::State(CallState::Ended(_)))
    })
    .await;
    let CallEvent::State(CallState::Ended(EndReason::Remote(why))) = ended else {
        panic!("{ended:?}")
    };
    assert!(why.contains("could not be restored within 120 s"), "{why}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(119) && took <= Duration::from_secs(125),
        "{took:?}"
    );
    assert_eq!(call.send_chat("after"), Err(CallError::Ended));
}

#[tokio::test(start_paused = true)]
async fn a_server_that_answers_but_refuses_is_retried_until_the_limit() {
    let (server, _call, mut events) = call(SessionType::Chat);
    connected(&mut events).await;
    lose_room(&server, &mut events, Door::Refusing).await;
    next(&mut events, Duration::from_secs(200), |e| {
        matches!(e, CallEvent::State(CallState::Ended(EndReason::Remote(_))))
    })
    .await;
    let tried = server.attempts();
    assert!((115..=125).contains(&tried), "{tried} attempts");
}

#[tokio::test(start_paused = true)]
async fn a_server_that_hangs_each_attempt_is_given_up_on_in_bounded_time() {
    let (server, _call, mut events) = call(SessionType::Chat);
    connected(&mut events).await;
    let started = Instant::now();
    lose_room(&server, &mut events, Door::Stalled).await;
    next(&mut events, Duration::from_secs(300), |e| {
        matches!(e, CallEvent::State(CallState::Ended(EndReason::Remote(_))))
    })
    .await;
    // Attempts of 8 s each, a second apart, until two minutes have passed.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(120) && took <= Duration::from_secs(130),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_sdk_stuck_reconnecting_to_a_server_that_is_back_is_overtaken() {
    let (server, _call, mut events) = call(SessionType::Chat);
    connected(&mut events).await;
    let started = Instant::now();
    server.emit(lk::RoomEvent::Reconnecting);
    next(
        &mut events,
        Duration::from_secs(5),
        is_state(CallState::Reconnecting),
    )
    .await;
    // The server answers throughout: after 3 s of the SDK trying and 0.75 s
    // of answers, Tandem rejoins by itself.
    connected(&mut events).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(3_750) && took <= Duration::from_millis(4_500),
        "{took:?}"
    );
    assert_eq!(server.connections(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_sdk_that_recovers_by_itself_is_left_alone() {
    let (server, call, mut events) = call(SessionType::Chat);
    connected(&mut events).await;
    for _ in 0..10 {
        server.emit(lk::RoomEvent::Reconnecting);
        tokio::time::sleep(Duration::from_secs(2)).await;
        server.emit(lk::RoomEvent::Reconnected);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(server.connections(), 1, "rejoined behind the SDK's back");
    call.leave().unwrap();
    next(
        &mut events,
        Duration::from_secs(5),
        is_state(CallState::Ended(EndReason::Left)),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn leaving_while_rejoining_ends_the_call_at_once() {
    let (server, call, mut events) = call(SessionType::Chat);
    connected(&mut events).await;
    lose_room(&server, &mut events, Door::Stalled).await;
    call.send_chat("never sent").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let started = Instant::now();
    call.leave().unwrap();
    let failed = next(&mut events, Duration::from_secs(1), |e| {
        matches!(e, CallEvent::ChatFailed { .. })
    })
    .await;
    assert!(matches!(failed, CallEvent::ChatFailed { error, .. } if error == "you left the call"));
    next(
        &mut events,
        Duration::from_secs(1),
        is_state(CallState::Ended(EndReason::Left)),
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(100));
}

#[tokio::test]
async fn a_room_closed_by_the_server_ends_the_call_without_rejoining() {
    let (server, _call, mut events) = call(SessionType::Chat);
    connected(&mut events).await;
    server.lose_room(lk::DisconnectReason::RoomDeleted);
    let ended = next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::State(CallState::Ended(_)))
    })
    .await;
    assert!(
        matches!(ended, CallEvent::State(CallState::Ended(EndReason::Remote(r))) if r.contains("RoomDeleted"))
    );
    assert_eq!(server.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_changed_address_rejoins_at_once() {
    let (server, _call, mut events) = call(SessionType::Voice);
    connected(&mut events).await;
    tokio::time::sleep(Duration::from_secs(2)).await; // the address is known
    let started = Instant::now();
    // Wi-Fi to Ethernet: the old address goes, a new one comes.
    server.set_addresses(&[std::net::IpAddr::from([192, 168, 5, 9])]);
    next(
        &mut events,
        Duration::from_secs(5),
        is_state(CallState::Reconnecting),
    )
    .await;
    connected(&mut events).await;
    assert!(
        started.elapsed() <= Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(server.connections(), 2);
    assert_eq!(server.published(), [(1, "microphone"), (2, "microphone")]);
}

/// A message the server never confirms (stuck in flight while connected)
/// is reported not sent after ten seconds, never left pending.
#[tokio::test(start_paused = true)]
async fn a_message_stuck_in_flight_is_reported_not_sent() {
    let (server, call, mut events) = call(SessionType::Chat);
    connected(&mut events).await;
    server.hold_sends(true);
    let started = Instant::now();
    let id = call.send_chat("stuck").unwrap();
    let failed = next(&mut events, Duration::from_secs(30), |e| {
        matches!(e, CallEvent::ChatFailed { .. })
    })
    .await;
    assert!(
        matches!(&failed, CallEvent::ChatFailed { local_id, text, .. } if *local_id == id && text == "stuck"),
        "{failed:?}"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(10) && took < Duration::from_secs(12),
        "{took:?}"
    );
    assert!(server.chats().is_empty());
    server.hold_sends(false);
}

/// Changing an encrypted call's key: the room takes it, the others are told
/// (never the key), a rejoin uses it; someone else's change is reported;
/// a call that is not encrypted refuses.
#[tokio::test(start_paused = true)]
async fn the_key_of_an_encrypted_call_changes_and_the_others_are_told() {
    let old = lk::SharedKey::from_passphrase("old words").unwrap();
    let new = lk::SharedKey::from_passphrase("new words").unwrap();
    let server = FakeServer::new();
    let mut cfg = config(SessionType::Voice);
    cfg.e2ee = Some(old.clone());
    let (session, private, mut events) = CallSession::with_connector(cfg, server.clone());
    tokio::spawn(session.run());
    connected(&mut events).await;
    assert_eq!(server.keys(), [(1, old)]);
    private.change_key(new.clone()).await.unwrap();
    assert_eq!(server.keys()[1], (1, new.clone()));
    assert_eq!(server.data(KEY_CHANGED_TOPIC), ["{}"]);
    lose_room(&server, &mut events, Door::Open).await;
    connected(&mut events).await;
    assert_eq!(server.keys()[2], (2, new), "the rejoin kept the new key");
    // Bob says he changed his.
    server.join("bob", "Bob");
    server.emit(lk::RoomEvent::DataReceived {
        participant: "bob".into(),
        topic: Some(KEY_CHANGED_TOPIC.into()),
        payload: b"{}".to_vec(),
        reliable: true,
    });
    let got = next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::KeyChanged { .. })
    })
    .await;
    assert!(matches!(got, CallEvent::KeyChanged { identity } if identity == "bob"));

    let (server, call, mut events) = call(SessionType::Voice);
    connected(&mut events).await;
    let key = lk::SharedKey::from_passphrase("late").unwrap();
    assert_eq!(call.change_key(key).await, Err(CallError::NotEncrypted));
    assert!(server.keys().is_empty());
    assert!(server.data(KEY_CHANGED_TOPIC).is_empty());
}

/// Reactions go to everyone on their topic and come back to us as an
/// event; others' are told, at most five in five seconds each, and packets
/// that are not reactions are not.
#[tokio::test(start_paused = true)]
async fn reactions_go_out_and_others_come_in_held_to_a_rate() {
    let (server, call, mut events) = call(SessionType::Voice);
    connected(&mut events).await;
    call.react(Reaction::Clap).await.unwrap();
    assert_eq!(server.data(REACTION_TOPIC), [r#"{"reaction":"clap"}"#]);
    let mine = next(&mut events, Duration::from_secs(1), |e| {
        matches!(e, CallEvent::Reaction { .. })
    })
    .await;
    assert_eq!(
        mine,
        CallEvent::Reaction {
            identity: "alice".into(),
            reaction: Reaction::Clap
        }
    );
    server.join("bob", "Bob");
    let from_bob = |payload: &[u8]| lk::RoomEvent::DataReceived {
        participant: "bob".into(),
        topic: Some(REACTION_TOPIC.into()),
        payload: payload.to_vec(),
        reliable: true,
    };
    server.emit(from_bob(br#"{"reaction":"<img src=x>"}"#));
    for _ in 0..8 {
        server.emit(from_bob(br#"{"reaction":"heart"}"#));
    }
    server.emit(from_bob(br#"{"reaction":"party"}"#));
    let mut told = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(1), events.recv()).await {
        if let CallEvent::Reaction { identity, reaction } = e {
            told.push((identity, reaction));
        }
    }
    assert_eq!(told, vec![("bob".to_owned(), Reaction::Heart); 5]);
}

/// A raised hand: kept as our attribute and said on its topic, said again
/// to a newcomer and set again after a rejoin; others' hands are read from
/// either, told once per change; without the attribute grant the topic
/// alone carries it.
#[tokio::test(start_paused = true)]
async fn hands_are_raised_kept_across_a_rejoin_and_others_are_told_once() {
    let (server, call, mut events) = call(SessionType::Voice);
    connected(&mut events).await;
    let hand = |e: &CallEvent| matches!(e, CallEvent::Hand { .. });
    call.raise_hand(true).await.unwrap();
    let CallEvent::Hand {
        identity,
        raised_at,
    } = next(&mut events, Duration::from_secs(1), hand).await
    else {
        unreachable!()
    };
    let at = raised_at.unwrap();
    assert_eq!(identity, "alice");
    assert_eq!(server.attributes_set()[0].1[HAND_ATTRIBUTE], at.to_string());
    assert_eq!(
        server.data(HAND_TOPIC),
        [format!(r#"{{"raised":true,"at":{at}}}"#)]
    );
    call.raise_hand(true).await.unwrap();
    assert_eq!(server.data(HAND_TOPIC).len(), 1, "raised twice");

    // Bob joins: our hand is said again for him. His own, set both ways, is told once.
    server.join("bob", "Bob");
    until("said again to Bob", || server.data(HAND_TOPIC).len() == 2).await;
    let bob_at = at + 5;
    server.set_attributes_of(
        "bob",
        std::collections::BTreeMap::from([(HAND_ATTRIBUTE.to_owned(), bob_at.to_string())]),
    );
    server.emit(lk::RoomEvent::DataReceived {
        participant: "bob".into(),
        topic: Some(HAND_TOPIC.into()),
        payload: format!(r#"{{"raised":true,"at":{bob_at}}}"#).into_bytes(),
        reliable: true,
    });
    server.emit(lk::RoomEvent::DataReceived {
        participant: "bob".into(),
        topic: Some(HAND_TOPIC.into()),
        payload: br#"{"raised":false}"#.to_vec(),
        reliable: true,
    });
    let mut told = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(1), events.recv()).await {
        if let CallEvent::Hand {
            identity,
            raised_at,
        } = e
        {
            told.push((identity, raised_at));
        }
    }
    assert_eq!(
        told,
        [("bob".to_owned(), Some(bob_at)), ("bob".to_owned(), None)]
    );

    // After a rejoin the new room gets our hand again, even where the
    // token no longer lets us set attributes (the topic carries it).
    server.forbid_attributes();
    lose_room(&server, &mut events, Door::Open).await;
    connected(&mut events).await;
    until("said again after the rejoin", || {
        server.data(HAND_TOPIC).len() == 3
    })
    .await;
    call.raise_hand(false).await.unwrap();
    let lowered = next(&mut events, Duration::from_secs(1), hand).await;
    assert_eq!(
        lowered,
        CallEvent::Hand {
            identity: "alice".into(),
            raised_at: None
        }
    );
    assert_eq!(
        server.data(HAND_TOPIC).last().unwrap(),
        r#"{"raised":false}"#
    );
}

/// A host (a token that makes us the room's admin) lowers someone's hand
/// through the server; without that grant it is refused with a reason.
/// When the host lowers ours, it is down and said so on the topic.
#[tokio::test]
async fn the_host_lowers_a_hand_and_ours_goes_down_when_the_host_lowers_it() {
    let (server, call, mut events) = call(SessionType::Voice);
    let may = |e: &CallEvent| matches!(e, CallEvent::MayLowerHands(_));
    assert_eq!(
        next(&mut events, Duration::from_secs(5), may).await,
        CallEvent::MayLowerHands(false)
    );
    connected(&mut events).await;
    server.join("bob", "Bob");
    let hand = |e: &CallEvent| matches!(e, CallEvent::Hand { .. });
    server.set_attributes_of(
        "bob",
        std::collections::BTreeMap::from([(HAND_ATTRIBUTE.to_owned(), "1".to_owned())]),
    );
    assert!(matches!(
        next(&mut events, Duration::from_secs(1), hand).await,
        CallEvent::Hand {
            raised_at: Some(_),
            ..
        }
    ));
    let refused = call.lower_hand("bob").await.unwrap_err();
    assert!(
        refused.to_string().contains("only the session's host"),
        "{refused}"
    );
    assert_eq!(server.attributes_of("bob")[HAND_ATTRIBUTE], "1");

    // As the host (after a rejoin with such a token): Bob's hand goes down.
    server.grant_admin();
    lose_room(&server, &mut events, Door::Open).await;
    assert_eq!(
        next(&mut events, Duration::from_secs(5), may).await,
        CallEvent::MayLowerHands(true)
    );
    call.lower_hand("bob").await.unwrap();
    assert_eq!(server.attributes_of("bob")[HAND_ATTRIBUTE], "");
    assert_eq!(
        next(&mut events, Duration::from_secs(1), hand).await,
        CallEvent::Hand {
            identity: "bob".into(),
            raised_at: None
        }
    );

    // The host lowers ours: down, and said so to those reading the topic.
    call.raise_hand(true).await.unwrap();
    next(&mut events, Duration::from_secs(1), hand).await;
    server.set_attributes_of(
        "alice",
        std::collections::BTreeMap::from([(HAND_ATTRIBUTE.to_owned(), String::new())]),
    );
    assert_eq!(
        next(&mut events, Duration::from_secs(1), hand).await,
        CallEvent::Hand {
            identity: "alice".into(),
            raised_at: None
        }
    );
    until("our lowered hand said", || {
        server.data(HAND_TOPIC).last().map(String::as_str) == Some(r#"{"raised":false}"#)
    })
    .await;
}

/// Sharing the synthetic screen: published as a screen track, said with
/// what is shared, published again after a rejoin, unpublished on stop; a
/// voice booking does not share.
#[tokio::test]
async fn a_shared_screen_is_published_kept_across_a_rejoin_and_stopped() {
    use tandem_media::screen::ScreenChoice;
    let (server, sharing, mut events) = call(SessionType::Video);
    let offered = next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::ShareOffered(_))
    })
    .await;
    assert_eq!(offered, CallEvent::ShareOffered(None));
    connected(&mut events).await;
    sharing
        .share_screen(Some(ScreenChoice::Synthetic))
        .await
        .unwrap();
    let said = next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::ScreenShare { .. })
    })
    .await;
    assert_eq!(
        said,
        CallEvent::ScreenShare {
            identity: "alice".into(),
            sharing: true,
            name: Some("synthetic screen".into())
        }
    );
    assert!(server.published().contains(&(1, "screen")));
    lose_room(&server, &mut events, Door::Open).await;
    connected(&mut events).await;
    until("the share published again", || {
        server.published().contains(&(2, "screen"))
    })
    .await;
    sharing.share_screen(None).await.unwrap();
    assert_eq!(server.unpublished().len(), 1, "the rejoined room's track");
    let said = next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::ScreenShare { .. })
    })
    .await;
    assert!(matches!(
        said,
        CallEvent::ScreenShare { sharing: false, .. }
    ));

    let (server, voice, mut events) = call(SessionType::Voice);
    let offered = next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::ShareOffered(_))
    })
    .await;
    assert_eq!(
        offered,
        CallEvent::ShareOffered(Some(MediaError::NotBooked))
    );
    connected(&mut events).await;
    assert_eq!(
        voice.share_screen(Some(ScreenChoice::Synthetic)).await,
        Err(CallError::Share(MediaError::NotBooked))
    );
    assert!(!server.published().iter().any(|(_, t)| *t == "screen"));

    // A token without the screen_share source: not offered, and refused.
    let server = FakeServer::new();
    server.forbid_sharing();
    let (session, forbidden, mut events) =
        CallSession::with_connector(config(SessionType::Video), server.clone());
    tokio::spawn(session.run());
    let offered = next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::ShareOffered(_))
    })
    .await;
    assert_eq!(
        offered,
        CallEvent::ShareOffered(Some(MediaError::NotAllowed))
    );
    assert_eq!(
        forbidden.share_screen(Some(ScreenChoice::Synthetic)).await,
        Err(CallError::Share(MediaError::NotAllowed))
    );
    assert!(!server.published().iter().any(|(_, t)| *t == "screen"));
}
