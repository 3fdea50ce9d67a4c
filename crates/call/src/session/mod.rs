//! [`CallSession`]: one call, as an actor. Commands go in through a
//! [`CallHandle`], typed events come out as [`CallEvents`]; the session
//! owns the room, the local tracks and the timer, and routes each wake-up
//! to one handler (`on_command`, `on_room_event`, `on_probe`, `on_tick`).
//!
//! States: idle → fetching token → connecting → connected ↔ reconnecting →
//! ended(reason) or failed(error) ([`lifecycle`]). When to rejoin and when
//! to give up is decided by the machines in [`reconnect`], which take the
//! time as input. The room is reached through [`crate::room`]: LiveKit in
//! the product, an in-process fake in the behaviour tests.
//!
//! Chat is sent and received in two formats: `lk.chat` text streams (today's
//! SDKs) and data packets on topic `chat` carrying
//! `{"id": "<id>", "timestamp": <ms>, "message": "<text>"}` (what seed 000's web
//! app reads and writes with `useDataChannel('chat')`). A message sent both ways
//! carries the same id, and received duplicates are dropped by (sender, id).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use tandem_lk as lk;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use tandem_media::{FrameReceiver, I420Frame};

use crate::diagnose;
use crate::platform::{BackendError, Profile, SessionInfo};
use crate::room::{Connector, Live, Room, RoomEvents};

mod chat;
mod handle;
mod lifecycle;
mod media;
mod p2p;
mod reconnect;
mod rejoin;
mod sender;
#[cfg(test)]
mod tests;
mod types;

pub use chat::{
    ChatHistory, ChatMessage, LEGACY_CHAT_TOPIC, MAX_CHAT_CHARS, MAX_HISTORY, MAX_NAME_CHARS,
    parse_legacy_chat, shorten,
};
pub use handle::{CallEvents, CallHandle};
pub use lifecycle::timer;
pub use reconnect::GIVE_UP_AFTER;
pub use types::{
    CallConfig, CallError, CallEvent, CallState, Device, EndReason, LOCAL_VIDEO, MediaConfig,
    MediaError, Received, SessionType, TokenSource,
};

use handle::{Command, Out, Shared};
use lifecycle::{Input, Lifecycle};
use media::{Local, play_remote, publish, report_switch, set_camera};
use reconnect::{Attempts, Next, Probe, Watch};
use sender::{ChatJob, Recent, chat_sender};

/// The newest frame of `rx`, scaled to fit `max_width`×`max_height`.
pub fn frame_fitted(rx: &FrameReceiver, max_width: u32, max_height: u32) -> Option<I420Frame> {
    let frame = rx.borrow().clone()?;
    frame.fitted(max_width, max_height).ok()
}

/// Starts a call on LiveKit: the handle to steer it and its events.
pub fn start(config: CallConfig) -> (CallHandle, CallEvents) {
    let (session, handle, events) = CallSession::new(config);
    tokio::spawn(session.run());
    (handle, events)
}

/// Now, on tokio's clock (which tests can pause and advance).
pub(super) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// One call: its configuration, its channels and where it is.
#[derive(Debug)]
pub struct CallSession<C: Connector = Live> {
    cfg: CallConfig,
    connector: C,
    commands: mpsc::UnboundedReceiver<Command>,
    out: Out,
    shared: Shared,
    life: Lifecycle,
}

impl CallSession<Live> {
    /// A call on LiveKit, not started: run it with [`CallSession::run`].
    pub fn new(config: CallConfig) -> (Self, CallHandle, CallEvents) {
        Self::with_connector(config, Live)
    }
}

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

impl<C: Connector> CallSession<C> {
    /// A call reaching its rooms through `connector`.
    pub fn with_connector(config: CallConfig, connector: C) -> (Self, CallHandle, CallEvents) {
        let (handle, commands, out, shared, events) = handle::channels();
        let life = Lifecycle::new(config.paid_minutes, config.warn_before);
        let session = Self {
            cfg: config,
            connector,
            commands,
            out,
            shared,
            life,
        };
        (session, handle, events)
    }

    /// Holds the call until it ends (the last event is `Ended` or `Failed`).
    pub async fn run(self) {
        let span = tracing::info_span!(
            "call",
            room = tracing::field::Empty,
            identity = tracing::field::Empty
        );
        self.hold().instrument(span).await;
    }

    fn step(&mut self, input: Input) {
        for e in self.life.on(input, now()) {
            self.out.emit(e);
        }
    }

    async fn hold(mut self) {
        self.out.emit(CallEvent::State(CallState::Idle));
        let Some(joined) = self.join().await else {
            return;
        };
        let mut call = InCall::new(self, joined).await;
        let end = call.run().await;
        let InCall { mut s, local, .. } = call;
        // Closing devices joins their threads: off the async runtime.
        let _ = tokio::task::spawn_blocking(move || drop(local)).await;
        s.shared.clear_video();
        s.step(Input::Ended(end));
    }

    /// Fails the call with `e`; nothing else follows.
    fn fail(&mut self, e: CallError) -> Option<Joined<C::Room>> {
        self.step(Input::Failed(e));
        None
    }

    /// Gets into the room: the platform's session and token, then LiveKit
    /// (or, for seed 004's platform, the whole call peer to peer). `None`
    /// when the call is already over (reported).
    async fn join(&mut self) -> Option<Joined<C::Room>> {
        let mut info = None;
        let (url, token, server_time, named_room) = match self.cfg.token.clone() {
            TokenSource::Direct { url, token } => (url, token, None, None),
            TokenSource::Backend(client, req) => {
                self.step(Input::FetchToken);
                match client.session_info(&req).await {
                    Ok(Some(i)) => {
                        // The booking decides what is published and for how long.
                        self.cfg.session_type = SessionType::from_platform(&i.session_type);
                        self.cfg.paid_minutes = self.cfg.paid_minutes.or(i.paid_minutes);
                        self.life.set_paid_minutes(self.cfg.paid_minutes);
                        self.out.emit(CallEvent::Session(i.clone()));
                        if let Err(e) = crate::platform::rules::joinable(&i.status) {
                            return self.fail(e.into());
                        }
                        info = Some(i);
                    }
                    Ok(None) => {}
                    Err(e) => return self.fail(e.into()),
                }
                // Seed 004's own calls are peer to peer: taken when the
                // profile says so, or when the platform has no LiveKit
                // token endpoint.
                let grant = match &info {
                    Some(_) if client.always_p2p() => None,
                    _ => Some(client.fetch_token(&req).await),
                };
                match (grant, &info) {
                    (Some(Ok(g)), _) => (g.server_url, g.token, g.server_time, g.room),
                    (None, Some(i)) | (Some(Err(BackendError::NoEndpoint { .. })), Some(i))
                        if client.profile() == &Profile::Seed004 =>
                    {
                        let call = p2p::Call {
                            cfg: &self.cfg,
                            client: &client,
                            req: &req,
                            info: i,
                            out: &self.out,
                            shared: &self.shared,
                        };
                        if let Some(end) = call.run(&mut self.life, &mut self.commands).await {
                            self.shared.clear_video();
                            self.step(Input::Ended(end));
                        }
                        return None;
                    }
                    (Some(Err(e)), _) => return self.fail(e.into()),
                    (None, _) => {
                        return self.fail(CallError::Connect("no call server to join".into()));
                    }
                }
            }
        };
        let claims = diagnose::read_claims(&token).ok();
        let wall = chrono::Utc::now().timestamp();
        if let Some(c) = &claims {
            if let Some(likely) = diagnose::unusable(c, wall, server_time, named_room.as_deref()) {
                return self.fail(CallError::TokenUnusable { likely });
            }
            for p in diagnose::diagnose(c, wall, server_time).problems {
                self.out.emit(CallEvent::Warning(p.to_string()));
            }
        }
        self.step(Input::Connect);
        match self.connector.connect(&url, &token).await {
            Ok((room, events)) => Some(Joined {
                url,
                info,
                room,
                events,
            }),
            Err(lk::ConnectError::Unauthorized { .. }) => {
                let likely = claims.as_ref().map_or(diagnose::Likely::WrongSecret, |c| {
                    diagnose::explain_rejection(c, wall, server_time)
                });
                self.fail(CallError::TokenRejected { likely })
            }
            Err(e) => self.fail(CallError::Connect(e.to_string())),
        }
    }
}

/// A room just joined.
struct Joined<R> {
    url: String,
    info: Option<SessionInfo>,
    room: R,
    events: RoomEvents,
}

/// The call while it is in a room (or getting back into one).
struct InCall<C: Connector> {
    s: CallSession<C>,
    url: String,
    info: Option<SessionInfo>,
    room: C::Room,
    events: RoomEvents,
    local: Local<C::Room>,
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
    /// Set when the room is left (there may be no room to end with).
    left: bool,
}

impl<C: Connector> InCall<C> {
    async fn new(s: CallSession<C>, joined: Joined<C::Room>) -> Self {
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
    async fn run(&mut self) -> EndReason {
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

    fn on_tick(&mut self) -> Flow {
        self.s.step(Input::Tick);
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
                self.s.shared.forget(&identity);
                out.emit(CallEvent::ParticipantLeft { identity });
            }
            lk::RoomEvent::TrackSubscribed {
                participant, track, ..
            } => {
                let kind = track.kind();
                self.kinds.insert(track.sid().to_owned(), kind);
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
        self.announce_participants();
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
