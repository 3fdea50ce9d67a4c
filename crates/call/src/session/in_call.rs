//! The call in a room: one handler per wake-up of its loop (a command, a
//! room event, the tick, a probe of the server, a look at the network),
//! each returning what happens next; and getting back into the room when
//! it is lost.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tandem_lk as lk;
use tokio::sync::{mpsc, watch};

use super::chat::{
    self, ChatMessage, LEGACY_CHAT_TOPIC, MAX_CHAT_CHARS, MAX_NAME_CHARS, parse_legacy_chat,
    shorten,
};
use super::files::Files;
use super::handle::{Command, Out, Shared};
use super::hands::Hands;
use super::lifecycle::{Input, Lifecycle, now};
use super::media::{Local, play_remote, publish, report_switch, set_camera};
use super::privacy::Undecrypted;
use super::reactions;
use super::reconnect::{self, Attempts, Next, Probe, Watch};
use super::rejoin;
use super::sender::{ChatJob, Recent, chat_sender};
use super::share::{self, Share, play_screen, screen_gone};
use super::types::{
    CallConfig, CallError, CallEvent, Device, EndReason, MediaError, SessionType, TokenSource,
};
use crate::platform::SessionInfo;
use crate::room::{Connector, Room, RoomEvents};

/// The data topic on which a participant says they changed the call's key
/// (the payload is `{}`: never the key).
pub const KEY_CHANGED_TOPIC: &str = "tandem.e2ee.key-changed";

/// What the session does after a handler.
enum Flow {
    Go,
    /// The room is lost: rejoin.
    Lost,
    End(EndReason),
}

/// What woke the session.
enum Wake {
    Command(Option<Command>),
    Tick,
    Probe,
    Network,
    Room(Option<lk::RoomEvent>),
}

/// What a call is made of, whether it is in a room yet or not.
#[derive(Debug)]
pub(super) struct Basics<C: Connector> {
    pub(super) cfg: CallConfig,
    pub(super) connector: C,
    pub(super) commands: mpsc::UnboundedReceiver<Command>,
    pub(super) out: Out,
    pub(super) shared: Shared,
    pub(super) life: Lifecycle,
}

impl<C: Connector> Basics<C> {
    /// Applies `input` to the call's states; emits what follows.
    pub(super) fn step(&mut self, input: Input) {
        for e in self.life.on(input, now()) {
            self.out.emit(e);
        }
    }
}

/// A room just joined.
pub(super) struct Joined<R> {
    pub(super) url: String,
    pub(super) info: Option<SessionInfo>,
    pub(super) room: R,
    pub(super) events: RoomEvents,
}

/// The call while it is in a room (or getting back into one).
pub(super) struct InCall<C: Connector> {
    pub(super) s: Basics<C>,
    url: String,
    info: Option<SessionInfo>,
    room: C::Room,
    events: RoomEvents,
    pub(super) local: Local<C::Room>,
    /// This room's chat sender.
    chat: mpsc::UnboundedSender<ChatJob>,
    /// Messages sent lately, to send again after an outage.
    recent: Recent,
    /// Whether the room is connected now (chat confirmations wait on it).
    connected: watch::Sender<bool>,
    seen: chat::Seen,
    /// Track kinds by sid, so mutes can say which track.
    kinds: HashMap<String, lk::TrackKind>,
    my_identity: String,
    mic_on: bool,
    /// Commands held while rejoining, handled first once back.
    replay: VecDeque<Command>,
    watch: Watch,
    /// In an encrypted call, whose media has not decrypted yet.
    undecrypted: Option<Undecrypted>,
    /// Set when the room is left (there may be no room to end with).
    left: bool,
    /// Our shared screen, while we share.
    share: Option<Share<C::Room>>,
    /// Others' shared-screen tracks: sid → identity.
    screens: HashMap<String, String>,
    /// Holds others' reactions to a rate.
    reacting: reactions::Limiter,
    hands: Hands,
    files: Files,
}

impl<C: Connector> InCall<C> {
    pub(super) async fn new(s: Basics<C>, joined: Joined<C::Room>) -> Self {
        let Joined {
            url,
            info,
            room,
            events,
        } = joined;
        let (connected, _) = watch::channel(true);
        let recent = Recent::default();
        let chat = chat_sender(
            room.clone(),
            s.out.clone(),
            connected.subscribe(),
            recent.clone(),
        );
        let span = tracing::Span::current();
        span.record("room", room.name());
        span.record("identity", room.identity());
        Self {
            undecrypted: s.cfg.e2ee.is_some().then(Undecrypted::default),
            share: None,
            screens: HashMap::new(),
            reacting: reactions::Limiter::default(),
            hands: Hands::default(),
            files: Files::new(s.cfg.received_dir.clone()),
            mic_on: s.cfg.mic_on,
            my_identity: room.identity(),
            s,
            url,
            info,
            room,
            events,
            local: Local::default(),
            chat,
            recent,
            connected,
            seen: chat::Seen::default(),
            kinds: HashMap::new(),
            replay: VecDeque::new(),
            watch: Watch::default(),
            left: false,
        }
    }

    /// Publishes, says who is here, then routes every wake-up to its
    /// handler until the call ends.
    pub(super) async fn run(&mut self) -> EndReason {
        if let Err(e) = publish(
            &self.s.cfg,
            &self.room,
            &mut self.local,
            &self.s.out,
            &self.s.shared,
        )
        .await
        {
            self.room.disconnect().await;
            // Reported as a failure; the end reason is never shown.
            self.s.step(Input::Failed(CallError::Media(e.clone())));
            return EndReason::Remote(e.to_string());
        }
        self.announce_participants();
        self.hands.joined(&self.room, &self.s.out).await;
        let offered = share::offered(&self.room, self.s.cfg.session_type);
        self.s.out.emit(CallEvent::ShareOffered(offered.err()));
        self.s.out.emit(CallEvent::Joined {
            identity: self.my_identity.clone(),
            room: self.room.name(),
        });
        self.s.step(Input::Connected);
        if let (TokenSource::Backend(client, req), Some(info)) = (&self.s.cfg.token, &self.info)
            && let Err(e) = client.mark_joined(req, info).await
        {
            self.s.out.emit(CallEvent::Warning(format!(
                "the platform was not told we joined: {e}"
            )));
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut probe = tokio::time::interval(reconnect::PROBE_EVERY);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut network = tokio::time::interval(reconnect::NETWORK_EVERY);
        network.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let wake = tokio::select! {
                c = next_command(&mut self.replay, &mut self.s.commands) => Wake::Command(c),
                _ = tick.tick() => Wake::Tick,
                _ = probe.tick(), if self.watch.should_probe(now()) => Wake::Probe,
                _ = network.tick() => Wake::Network,
                ev = self.events.recv() => Wake::Room(ev),
            };
            let flow = match wake {
                Wake::Command(c) => self.on_command(c).await,
                Wake::Tick => self.on_tick(),
                Wake::Probe => self.on_probe().await,
                Wake::Network => self.on_network().await,
                Wake::Room(ev) => self.on_room_event(ev),
            };
            match flow {
                Flow::Go => {}
                Flow::End(reason) => return reason,
                Flow::Lost => {
                    if let Some(end) = self.rejoin().await {
                        return end;
                    }
                }
            }
        }
    }

    fn announce_participants(&self) {
        for (identity, name) in self.room.participants() {
            self.s.out.emit(CallEvent::ParticipantJoined {
                identity,
                name: shorten(&name, MAX_NAME_CHARS, false),
            });
        }
    }

    /// Encrypts and decrypts with `key` from now on, and says so to the
    /// others (the notice carries no key).
    async fn change_key(&mut self, key: lk::SharedKey) -> Result<(), CallError> {
        if self.s.cfg.e2ee.is_none() {
            return Err(CallError::NotEncrypted);
        }
        // Said before the change: LiveKit encrypts data packets with the
        // key too, and those still on the old one must read it.
        let notice = self.room.send_data(KEY_CHANGED_TOPIC, b"{}".to_vec());
        match tokio::time::timeout(Duration::from_secs(2), notice).await {
            Ok(Ok(())) => {}
            // They still see our media stop decrypting, and are told so.
            Ok(Err(e)) => tracing::warn!(error = %e, "could not tell the others the key changes"),
            Err(_) => tracing::warn!("could not tell the others the key changes in time"),
        }
        self.room.set_key(&key).map_err(CallError::KeyChange)?;
        self.s.connector.set_encryption(Some(key.clone()));
        self.s.cfg.e2ee = Some(key);
        self.look_at_pictures();
        if let Some(u) = &mut self.undecrypted {
            u.rekeyed(None, now());
        }
        tracing::info!("the call's key changed");
        Ok(())
    }

    /// How many pictures each person's video has decoded: in an encrypted
    /// call, proof that their media decrypts (again).
    fn look_at_pictures(&mut self) {
        let Some(u) = &mut self.undecrypted else {
            return;
        };
        let at = now();
        let received = self.s.shared.received.lock().map(|r| r.clone());
        for (identity, r) in received.unwrap_or_default() {
            if u.pictures(&identity, r.video_frames, at) {
                tracing::info!(participant = %identity, "their encrypted media decrypts again");
                self.s.out.emit(CallEvent::Encryption {
                    identity,
                    state: lk::EncryptionState::Ok,
                });
            }
        }
    }

    fn on_tick(&mut self) -> Flow {
        self.s.step(Input::Tick);
        share::ended_by_itself(&mut self.share, &self.room, &self.my_identity, &self.s.out);
        self.look_at_pictures();
        self.local.watch_encoder(&self.room, &self.s.out);
        if let Some(u) = &mut self.undecrypted {
            for identity in u.due(now()) {
                tracing::warn!(participant = %identity, "their encrypted media does not decrypt");
                self.s.out.emit(CallEvent::Encryption {
                    identity,
                    state: lk::EncryptionState::DecryptionFailed,
                });
            }
        }
        Flow::Go
    }

    async fn on_command(&mut self, command: Option<Command>) -> Flow {
        let Some(command) = command else {
            // Every handle is gone: nobody can steer the call any more.
            self.room.disconnect().await;
            return Flow::End(EndReason::Left);
        };
        match command {
            Command::Mic(on, reply) => {
                let outcome = self.local.set_mic(on);
                self.mic_on = on && outcome.is_ok();
                let _ = reply.send(outcome);
            }
            Command::Camera(on, reply) => {
                let outcome = self.camera(on).await;
                let _ = reply.send(outcome);
            }
            Command::SwitchCamera(choice) => {
                // Kept, so that turning the camera off and on again opens
                // the one chosen last.
                self.s.cfg.media.camera = choice;
                if self.local.camera.is_some() {
                    let _ = self.camera(false).await;
                    let _ = self.camera(true).await;
                }
            }
            Command::SwitchMic(choice) => {
                if let Some(m) = &self.local.mic {
                    let result = m.switch(choice.clone()).await;
                    if result.is_ok() {
                        self.s.cfg.media.mic = choice;
                    }
                    report_switch(&self.s.out, Device::Microphone, result, &m.status());
                }
            }
            Command::SwitchSpeaker(choice) => {
                if let Some(sp) = &self.local.speaker {
                    let result = sp.switch(choice.clone()).await;
                    if result.is_ok() {
                        self.s.cfg.media.speaker = choice;
                    }
                    report_switch(&self.s.out, Device::Speaker, result, &sp.status());
                }
            }
            Command::TestSpeaker => {
                if let Some(sp) = &self.local.speaker {
                    sp.play_test_sound();
                }
            }
            Command::Chat(local_id, text) => {
                // Sent in order by a task of its own: a send waits while the
                // connection is down, and the call must not.
                let text: String = text.chars().take(MAX_CHAT_CHARS).collect();
                if let Err(mpsc::error::SendError(ChatJob::Send(local_id, text))) =
                    self.chat.send(ChatJob::Send(local_id, text))
                {
                    self.s.out.emit(CallEvent::ChatFailed {
                        local_id,
                        text,
                        error: "the call is reconnecting".into(),
                    });
                }
            }
            Command::Share(choice, reply) => {
                let kind = self.s.cfg.session_type;
                let (me, out) = (&self.my_identity, &self.s.out);
                let done = share::switch(&mut self.share, &self.room, kind, me, out, choice).await;
                let _ = reply.send(done.map_err(CallError::Share));
            }
            Command::ChangeKey(key, reply) => {
                let _ = reply.send(self.change_key(key).await);
            }
            Command::Hand(raise, reply) => {
                let _ = reply.send(self.hands.set(&self.room, raise, &self.s.out).await);
            }
            Command::LowerHand(who, reply) => {
                let _ = reply.send(self.hands.lower(&self.room, &who, &self.s.out).await);
            }
            Command::React(reaction, reply) => {
                let _ = reply.send(reactions::react(&self.room, reaction, &self.s.out).await);
            }
            Command::SendFile(path, reply) => {
                let _ = reply.send(self.files.send(&self.room, &path, &self.s.out));
            }
            Command::CancelFile(id, reply) => {
                let _ = reply.send(self.files.cancel(&id));
            }
            Command::Leave => {
                self.leave_room().await;
                return Flow::End(EndReason::Left);
            }
            Command::End => {
                self.leave_room().await;
                if let (TokenSource::Backend(client, req), Some(info)) =
                    (&self.s.cfg.token, &self.info)
                    && let Err(e) = client.end_session(req, info, "completed").await
                {
                    self.s.out.emit(CallEvent::Warning(format!(
                        "the platform was not told the session ended: {e}"
                    )));
                }
                return Flow::End(EndReason::SessionEnded);
            }
        }
        Flow::Go
    }

    async fn leave_room(&mut self) {
        if !self.left {
            self.left = true;
            self.room.disconnect().await;
        }
    }

    async fn camera(&mut self, on: bool) -> Result<(), CallError> {
        if on && self.s.cfg.session_type != SessionType::Video {
            return Err(CallError::CameraOn(MediaError::NotBooked));
        }
        set_camera(
            &self.s.cfg,
            &self.room,
            &mut self.local,
            on,
            &self.s.out,
            &self.s.shared,
        )
        .await
        .map_err(CallError::CameraOn)
    }

    /// The SDK has been reconnecting for a while: if the server answers
    /// again, rejoin rather than wait out the SDK's back-off.
    async fn on_probe(&mut self) -> Flow {
        let up = self.s.connector.reachable(&self.url).await;
        tracing::debug!(up, "probing the call server while reconnecting");
        match self.watch.probed(up, now()) {
            Probe::Wait => Flow::Go,
            Probe::RejoinNow => {
                tracing::info!(
                    "the call server answers again; rejoining without waiting for the SDK"
                );
                let _ = tokio::time::timeout(Duration::from_secs(2), self.room.disconnect()).await;
                Flow::Lost
            }
        }
    }

    /// The computer's addresses, once a second: one gone means the
    /// connection may be gone with it; rejoin from the network there is now.
    async fn on_network(&mut self) -> Flow {
        if !self.watch.addresses(self.s.connector.local_addresses()) {
            return Flow::Go;
        }
        tracing::info!("a network address went away; rejoining from the network there is now");
        let _ = tokio::time::timeout(Duration::from_secs(2), self.room.disconnect()).await;
        Flow::Lost
    }

    fn on_room_event(&mut self, ev: Option<lk::RoomEvent>) -> Flow {
        let Some(ev) = ev else {
            return Flow::End(EndReason::Remote("the room closed".into()));
        };
        if self.hands.on_event(&ev, &self.room, &self.s.out)
            || self.files.on_event(&ev, &self.s.out)
            || self
                .reacting
                .on_event(&ev, &self.my_identity, now(), &self.s.out)
        {
            return Flow::Go;
        }
        let out = &self.s.out;
        match ev {
            lk::RoomEvent::ParticipantConnected(p) => {
                // Back after dropping out (their network, or a server
                // restart): what we sent meanwhile never reached them.
                if let Some(since) = self.watch.participant_joined(&p.identity) {
                    let _ = self.chat.send(ChatJob::Resend(since));
                }
                out.emit(CallEvent::ParticipantJoined {
                    name: shorten(&p.name, MAX_NAME_CHARS, false),
                    identity: p.identity,
                });
            }
            lk::RoomEvent::ParticipantDisconnected { identity, .. } => {
                self.watch.participant_left(&identity, now());
                self.screens.retain(|_, who| *who != identity);
                screen_gone(&identity, out, &self.s.shared);
                if let Some(u) = &mut self.undecrypted {
                    u.gone(&identity);
                }
                self.s.shared.forget(&identity);
                out.emit(CallEvent::ParticipantLeft { identity });
            }
            lk::RoomEvent::TrackSubscribed {
                participant,
                track,
                publication,
            } if publication
                .as_ref()
                .is_some_and(|p| p.source == lk::TrackSource::ScreenShare)
                && track.kind() == lk::TrackKind::Video =>
            {
                self.screens
                    .insert(track.sid().to_owned(), participant.clone());
                if let Some(task) = play_screen(&participant, &track, out, &self.s.shared) {
                    self.local.remote_tasks.push(task);
                }
            }
            lk::RoomEvent::TrackUnsubscribed { participant, sid }
                if self.screens.remove(&sid).is_some() =>
            {
                screen_gone(&participant, out, &self.s.shared);
            }
            lk::RoomEvent::TrackSubscribed {
                participant,
                track,
                publication,
            } => {
                let kind = track.kind();
                self.kinds.insert(track.sid().to_owned(), kind);
                if let Some(u) = &mut self.undecrypted {
                    if publication.is_some_and(|p| !p.encrypted) {
                        tracing::warn!(participant = %participant, "their media comes unencrypted");
                        u.unencrypted(&participant);
                        out.emit(CallEvent::Encryption {
                            identity: participant.clone(),
                            state: lk::EncryptionState::NotEncrypted,
                        });
                    }
                    u.subscribed(&participant, now());
                }
                if let Some(task) =
                    play_remote(&participant, &track, &self.local, out, &self.s.shared)
                {
                    self.local.remote_tasks.retain(|t| !t.is_finished());
                    self.local.remote_tasks.push(task);
                }
                out.emit(CallEvent::TrackSubscribed {
                    identity: participant,
                    kind,
                });
            }
            lk::RoomEvent::TrackMuted { participant, sid } if participant != self.my_identity => {
                out.emit(CallEvent::TrackMuted {
                    identity: participant,
                    kind: self.kinds.get(&sid).copied(),
                    muted: true,
                });
            }
            lk::RoomEvent::TrackUnmuted { participant, sid } if participant != self.my_identity => {
                out.emit(CallEvent::TrackMuted {
                    identity: participant,
                    kind: self.kinds.get(&sid).copied(),
                    muted: false,
                });
            }
            lk::RoomEvent::ParticipantNameChanged { identity, name }
                if identity != self.my_identity =>
            {
                out.emit(CallEvent::ParticipantJoined {
                    identity,
                    name: shorten(&name, MAX_NAME_CHARS, false),
                });
            }
            lk::RoomEvent::ActiveSpeakers(who) => out.emit(CallEvent::Speaking(who)),
            lk::RoomEvent::EncryptionState { participant, state } => {
                if let Some(u) = &mut self.undecrypted
                    && state.working()
                    && !u.working(&participant)
                {
                    // After a key change their pictures tell, not LiveKit.
                    return Flow::Go;
                }
                out.emit(CallEvent::Encryption {
                    identity: participant,
                    state,
                });
            }
            lk::RoomEvent::ConnectionQuality {
                participant,
                quality,
            } => out.emit(CallEvent::Quality {
                identity: participant,
                quality,
            }),
            lk::RoomEvent::TextReceived(t)
                if t.topic == "lk.chat" && self.seen.first(&t.sender, &t.id) =>
            {
                out.emit(CallEvent::ChatReceived(ChatMessage {
                    text: shorten(&t.text, MAX_CHAT_CHARS, t.truncated),
                    id: shorten(&t.id, 128, false),
                    from: t.sender,
                    timestamp_ms: t.timestamp_ms,
                }));
            }
            lk::RoomEvent::DataReceived {
                participant, topic, ..
            } if topic.as_deref() == Some(KEY_CHANGED_TOPIC) && participant != self.my_identity => {
                self.look_at_pictures();
                if let Some(u) = &mut self.undecrypted {
                    u.rekeyed(Some(&participant), now());
                    self.s.out.emit(CallEvent::KeyChanged {
                        identity: participant,
                    });
                }
            }
            lk::RoomEvent::DataReceived {
                participant,
                topic,
                payload,
                ..
            } if topic.as_deref() == Some(LEGACY_CHAT_TOPIC) => {
                if let Some(m) = parse_legacy_chat(&participant, &payload)
                    && self.seen.first(&m.from, &m.id)
                {
                    out.emit(CallEvent::ChatReceived(m));
                }
            }
            lk::RoomEvent::Reconnecting => {
                self.connected.send_replace(false);
                self.watch.sdk_reconnecting(now());
                self.s.step(Input::Reconnecting);
            }
            lk::RoomEvent::Reconnected => {
                self.connected.send_replace(true);
                if let Some(since) = self.watch.sdk_reconnected() {
                    let _ = self.chat.send(ChatJob::Resend(since));
                }
                self.s.step(Input::Reconnected);
            }
            lk::RoomEvent::Disconnected { reason } if rejoin::recoverable(&reason) => {
                tracing::warn!(?reason, "the room was lost; rejoining");
                return Flow::Lost;
            }
            lk::RoomEvent::Disconnected { reason } => {
                return Flow::End(EndReason::Remote(format!("{reason:?}")));
            }
            _ => {}
        }
        Flow::Go
    }

    /// Gets back into the room after it was lost; `Some` when the call
    /// ends instead. Commands meanwhile: leaving stops trying (and is
    /// handled next); turning the microphone or camera off takes effect at
    /// once; the rest is held and replayed once back.
    async fn rejoin(&mut self) -> Option<EndReason> {
        self.connected.send_replace(false);
        let limit = self.s.cfg.give_up_after;
        let mut attempts = Attempts::new(self.watch.lost(now()), limit);
        self.s.step(Input::Reconnecting);
        let mut held = Vec::new();
        loop {
            let number = attempts.failures() + 1;
            let outcome = {
                let attempt = rejoin::attempt(&self.s.cfg.token, &self.s.connector, number);
                tokio::pin!(attempt);
                loop {
                    tokio::select! {
                        r = &mut attempt => break r,
                        c = self.s.commands.recv() => {
                            if let Some(end) = hold(c, &mut held, &mut self.local, &self.s.shared) {
                                rejoin::fail_chat(held, &self.s.out, "you left the call");
                                self.replay.push_back(end);
                                return None;
                            }
                        }
                    }
                }
            };
            let retry_at = match outcome {
                rejoin::Attempt::Back(room, events) => {
                    self.back(room, events, attempts.rejoined(), held).await;
                    return None;
                }
                rejoin::Attempt::Refused(e) => {
                    rejoin::fail_chat(held, &self.s.out, "the call ended");
                    return Some(EndReason::Remote(format!(
                        "the connection was lost and the platform would not let you back in: {e}"
                    )));
                }
                rejoin::Attempt::Failed => match attempts.failed(now()) {
                    Next::RetryAt(at) => at,
                    Next::GiveUp => {
                        rejoin::fail_chat(held, &self.s.out, "the call ended");
                        return Some(EndReason::Remote(format!(
                            "the connection was lost and could not be restored within {} s",
                            limit.as_secs()
                        )));
                    }
                },
            };
            let pause = tokio::time::sleep_until(tokio::time::Instant::from_std(retry_at));
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    () = &mut pause => break,
                    c = self.s.commands.recv() => {
                        if let Some(end) = hold(c, &mut held, &mut self.local, &self.s.shared) {
                            rejoin::fail_chat(held, &self.s.out, "you left the call");
                            self.replay.push_back(end);
                            return None;
                        }
                    }
                }
            }
        }
    }

    /// Back in a room: publish again, say who is here, send what may have
    /// been lost, then run what was held.
    async fn back(
        &mut self,
        room: C::Room,
        events: RoomEvents,
        resend: reconnect::ResendSince,
        held: Vec<Command>,
    ) {
        self.room = room;
        self.events = events;
        self.left = false;
        self.my_identity = self.room.identity();
        self.chat = chat_sender(
            self.room.clone(),
            self.s.out.clone(),
            self.connected.subscribe(),
            self.recent.clone(),
        );
        self.local.republish(&self.room, self.mic_on).await;
        let kind = self.s.cfg.session_type;
        share::after_rejoin(
            &mut self.share,
            &self.room,
            kind,
            &self.my_identity,
            &self.s.out,
        )
        .await;
        // Their shares come again with the new room's subscriptions.
        for (_, who) in std::mem::take(&mut self.screens) {
            screen_gone(&who, &self.s.out, &self.s.shared);
        }
        self.announce_participants();
        self.hands.joined(&self.room, &self.s.out).await;
        self.connected.send_replace(true);
        let _ = self.chat.send(ChatJob::Resend(resend));
        self.s.step(Input::Reconnected);
        rejoin::queue_held(held, &mut self.replay, &self.s.out);
    }
}

/// A command that arrived while rejoining. Leaving (or every handle gone)
/// is handed back to end the call; "off" for the microphone or camera
/// takes effect at once and is answered at once, as is "on", which takes
/// effect once back; the rest waits.
fn hold<R: Room>(
    c: Option<Command>,
    held: &mut Vec<Command>,
    local: &mut Local<R>,
    shared: &Shared,
) -> Option<Command> {
    match c {
        None => Some(Command::Leave),
        Some(c @ (Command::Leave | Command::End)) => Some(c),
        Some(Command::Mic(on, reply)) => {
            if !on {
                local
                    .mic_gate
                    .store(false, std::sync::atomic::Ordering::SeqCst);
            }
            let _ = reply.send(Ok(()));
            let (replayed, _) = tokio::sync::oneshot::channel();
            held.push(Command::Mic(on, replayed));
            None
        }
        Some(Command::Camera(on, reply)) => {
            if !on {
                local.camera_off(shared);
            }
            let _ = reply.send(Ok(()));
            let (replayed, _) = tokio::sync::oneshot::channel();
            held.push(Command::Camera(on, replayed));
            None
        }
        Some(c) => {
            held.push(c);
            None
        }
    }
}

/// The next command: those held while rejoining first.
async fn next_command(
    replay: &mut VecDeque<Command>,
    rx: &mut mpsc::UnboundedReceiver<Command>,
) -> Option<Command> {
    match replay.pop_front() {
        Some(c) => Some(c),
        None => rx.recv().await,
    }
}
