//! `CallSession`: one call, as an actor. Commands go in, a typed event stream
//! comes out; the task owns the room, the local tracks and the timer.
//!
//! States: idle → fetching token → connecting → connected ↔ reconnecting →
//! ended(reason) or failed(error).
//!
//! Chat is sent and received in two formats: `lk.chat` text streams (today's
//! SDKs) and data packets on topic `chat` carrying
//! `{"id": "<id>", "timestamp": <ms>, "message": "<text>"}` (what seed 000's web
//! app reads and writes with `useDataChannel('chat')`). A message sent both ways
//! carries the same id, and received duplicates are dropped by (sender, id).

use std::time::{Duration, Instant};

use tandem_lk as lk;
use tokio::sync::mpsc;

use tandem_media::audio::{MicChoice, SpeakerChoice};
use tandem_media::camera::CameraChoice;
use tandem_media::{FrameReceiver, I420Frame};

use crate::diagnose;

mod chat;
mod lifecycle;
mod media;
mod p2p;
mod rejoin;
mod sender;
mod types;

use chat::History;
pub use chat::{
    ChatHistory, ChatMessage, LEGACY_CHAT_TOPIC, MAX_CHAT_CHARS, MAX_HISTORY, MAX_NAME_CHARS,
    parse_legacy_chat, shorten,
};
use lifecycle::{Input, Lifecycle};
use media::{Local, play_remote, publish, report_switch, set_camera};
use sender::{ChatJob, Recent, chat_sender};
pub use types::{
    CallConfig, CallError, CallEvent, CallState, Device, EndReason, LOCAL_VIDEO, MediaConfig,
    Received, SessionType, TokenSource,
};

/// Commands to a running call.
#[derive(Debug)]
enum Command {
    Mic(bool, tokio::sync::oneshot::Sender<Result<(), CallError>>),
    Camera(bool),
    Chat(u64, String),
    SwitchCamera(CameraChoice),
    SwitchMic(MicChoice),
    SwitchSpeaker(SpeakerChoice),
    TestSpeaker,
    Leave,
    End,
}

type ReceivedMap = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Received>>>;

/// Newest frames per participant identity (and [`LOCAL_VIDEO`]).
type VideoMap = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, FrameReceiver>>>;

/// The caller's side of a call.
#[derive(Debug)]
pub struct CallHandle {
    tx: mpsc::UnboundedSender<Command>,
    video: VideoMap,
    history: History,
    received: ReceivedMap,
    next_chat: std::sync::atomic::AtomicU64,
    /// The event stream; ends after `Ended` or `Failed`.
    pub events: mpsc::UnboundedReceiver<CallEvent>,
}

impl CallHandle {
    /// Turns the microphone on or off; the outcome once it has taken
    /// effect. Off always holds locally (no sample leaves), even when
    /// LiveKit's mute fails; a failed "on" leaves it off and says why.
    pub async fn set_mic(&self, on: bool) -> Result<(), CallError> {
        let (reply, outcome) = tokio::sync::oneshot::channel();
        self.tx
            .send(Command::Mic(on, reply))
            .map_err(|_| CallError::Ended)?;
        outcome.await.unwrap_or(Err(CallError::Ended))
    }
    /// Hands a command to the call; [`CallError::Ended`] once it is over.
    fn command(&self, c: Command) -> Result<(), CallError> {
        self.tx.send(c).map_err(|_| CallError::Ended)
    }
    pub fn set_camera(&self, on: bool) -> Result<(), CallError> {
        self.command(Command::Camera(on))
    }
    /// Sends a chat message; returns the id its `ChatSent` or `ChatFailed`
    /// event will carry.
    pub fn send_chat(&self, text: &str) -> Result<u64, CallError> {
        let id = self
            .next_chat
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.command(Command::Chat(id, text.to_owned()))?;
        Ok(id)
    }
    /// What has arrived from each remote participant.
    pub fn received(&self) -> std::collections::HashMap<String, Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
    /// The call's chat so far (sent and received).
    pub fn chat_history(&self) -> ChatHistory {
        self.history.lock().map(|h| h.clone()).unwrap_or_default()
    }
    pub fn leave(&self) -> Result<(), CallError> {
        self.command(Command::Leave)
    }
    /// Ends the session for everyone: leaves, and tells the platform where
    /// its API has an end-session call.
    pub fn end_session(&self) -> Result<(), CallError> {
        self.command(Command::End)
    }
    /// Moves capture to another camera.
    pub fn switch_camera(&self, choice: CameraChoice) -> Result<(), CallError> {
        self.command(Command::SwitchCamera(choice))
    }
    /// Moves capture to another microphone.
    pub fn switch_mic(&self, choice: MicChoice) -> Result<(), CallError> {
        self.command(Command::SwitchMic(choice))
    }
    /// Moves playback to another speaker.
    pub fn switch_speaker(&self, choice: SpeakerChoice) -> Result<(), CallError> {
        self.command(Command::SwitchSpeaker(choice))
    }
    /// Plays the speaker-test chime.
    pub fn test_speaker(&self) -> Result<(), CallError> {
        self.command(Command::TestSpeaker)
    }
    /// The newest video frame of `identity` ([`LOCAL_VIDEO`] for our own
    /// camera), when there is such video.
    pub fn video(&self, identity: &str) -> Option<FrameReceiver> {
        self.video.lock().ok()?.get(identity).cloned()
    }
}

/// The newest frame of `rx`, scaled to fit `max_width`×`max_height`.
pub fn frame_fitted(rx: &FrameReceiver, max_width: u32, max_height: u32) -> Option<I420Frame> {
    let frame = rx.borrow().clone()?;
    frame.fitted(max_width, max_height).ok()
}

/// Starts a call.
pub fn start(config: CallConfig) -> CallHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let (etx, events) = mpsc::unbounded_channel();
    let video = VideoMap::default();
    let history = History::default();
    let received = ReceivedMap::default();
    tokio::spawn(run(
        config,
        rx,
        etx,
        video.clone(),
        history.clone(),
        received.clone(),
    ));
    CallHandle {
        tx,
        events,
        video,
        history,
        received,
        next_chat: 1.into(),
    }
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

type Events = mpsc::UnboundedSender<CallEvent>;

fn send(out: &Events, e: CallEvent) {
    let _ = out.send(e);
}

async fn run(
    cfg: CallConfig,
    mut rx: mpsc::UnboundedReceiver<Command>,
    out: Events,
    video: VideoMap,
    history: History,
    received: ReceivedMap,
) {
    let emit = |e: CallEvent| {
        if let CallEvent::ChatReceived(m) | CallEvent::ChatSent { message: m, .. } = &e
            && let Ok(mut h) = history.lock()
        {
            h.push(m.clone());
        }
        send(&out, e)
    };
    let mut life = Lifecycle::new(cfg.paid_minutes, cfg.warn_before);
    let step = |life: &mut Lifecycle, input: Input| {
        for e in life.on(input, Instant::now()) {
            emit(e);
        }
    };
    emit(CallEvent::State(CallState::Idle));
    let mut cfg = cfg;
    let mut session_info = None;
    let (url, token, server_time, named_room) = match &cfg.token {
        TokenSource::Direct { url, token } => (url.clone(), token.clone(), None, None),
        TokenSource::Backend(client, req) => {
            step(&mut life, Input::FetchToken);
            match client.session_info(req).await {
                Ok(Some(info)) => {
                    // The booking decides what is published and for how long.
                    cfg.session_type = match info.session_type.as_str() {
                        "chat" => SessionType::Chat,
                        "voice" => SessionType::Voice,
                        _ => SessionType::Video,
                    };
                    cfg.paid_minutes = cfg.paid_minutes.or(info.paid_minutes);
                    life.set_paid_minutes(cfg.paid_minutes);
                    emit(CallEvent::Session(info.clone()));
                    session_info = Some(info);
                }
                Ok(None) => {}
                Err(e) => return step(&mut life, Input::Failed(e.into())),
            }
            // Seed 004's own calls are peer to peer: taken when the profile
            // says so, or when the platform has no LiveKit token endpoint.
            let grant = match &session_info {
                Some(_) if client.always_p2p() => None,
                _ => Some(client.fetch_token(req).await),
            };
            match (grant, &session_info) {
                (Some(Ok(g)), _) => (g.server_url, g.token, g.server_time, g.room),
                (None, Some(info))
                | (Some(Err(crate::backend::BackendError::NoEndpoint { .. })), Some(info))
                    if client.profile() == &crate::backend::Profile::Seed004 =>
                {
                    let call = p2p::Call {
                        cfg: &cfg,
                        client,
                        req,
                        info,
                        out: &out,
                        history: &history,
                        video: &video,
                        received: &received,
                    };
                    if let Some(end) = call.run(&mut life, &mut rx).await {
                        if let Ok(mut v) = video.lock() {
                            v.clear();
                        }
                        step(&mut life, Input::Ended(end));
                    }
                    return;
                }
                (Some(Err(e)), _) => return step(&mut life, Input::Failed(e.into())),
                (None, _) => {
                    return step(
                        &mut life,
                        Input::Failed(CallError::Connect("no call server to join".into())),
                    );
                }
            }
        }
    };
    let claims = diagnose::read_claims(&token).ok();
    let now = chrono::Utc::now().timestamp();
    if let Some(c) = &claims {
        if let Some(likely) = diagnose::unusable(c, now, server_time, named_room.as_deref()) {
            return step(
                &mut life,
                Input::Failed(CallError::TokenUnusable { likely }),
            );
        }
        for p in diagnose::diagnose(c, now, server_time).problems {
            emit(CallEvent::Warning(p.to_string()));
        }
    }
    step(&mut life, Input::Connect);
    let (mut room, mut room_events) =
        match lk::Room::connect(&url, &token, lk::RoomOptions::default()).await {
            Ok(r) => r,
            Err(lk::ConnectError::Unauthorized { .. }) => {
                let likely = claims.as_ref().map_or(diagnose::Likely::WrongSecret, |c| {
                    diagnose::explain_rejection(c, now, server_time)
                });
                return step(
                    &mut life,
                    Input::Failed(CallError::TokenRejected { likely }),
                );
            }
            Err(e) => {
                return step(&mut life, Input::Failed(CallError::Connect(e.to_string())));
            }
        };
    let mut me = room.local_participant().clone();
    let mut local = Local::default();
    if let Err(e) = publish(&cfg, &me, &mut local, &out, &video).await {
        let _ = room.disconnect().await;
        return step(&mut life, Input::Failed(CallError::Media(e)));
    }
    for p in room.remote_participants() {
        emit(CallEvent::ParticipantJoined {
            identity: p.info.identity.clone(),
            name: shorten(&p.info.name, MAX_NAME_CHARS, false),
        });
    }
    emit(CallEvent::Joined {
        identity: me.identity(),
        room: room.info().name,
    });
    step(&mut life, Input::Connected);
    if let (TokenSource::Backend(client, req), Some(info)) = (&cfg.token, &session_info)
        && let Err(e) = client.mark_joined(req, info).await
    {
        emit(CallEvent::Warning(format!(
            "the platform was not told we joined: {e}"
        )));
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut seen = chat::Seen::default();
    // Track kinds by sid, so mutes can say which track.
    let mut kinds: std::collections::HashMap<String, lk::TrackKind> =
        std::collections::HashMap::new();
    let my_identity = me.identity();
    let mut mic_on = cfg.mic_on;
    // Commands held while rejoining, handled first once back.
    let mut replay: std::collections::VecDeque<Command> = std::collections::VecDeque::new();
    let (connected_tx, connected_rx) = tokio::sync::watch::channel(true);
    // Messages sent lately: after the SDK or Tandem rejoined, they are sent
    // again (as the id-carrying data packet, which receivers deduplicate),
    // since a rejoin drops what was still in flight.
    let recent = Recent::default();
    // Who dropped out of the room, and when.
    let mut away: std::collections::HashMap<String, Instant> = std::collections::HashMap::new();
    let mut chat_out = chat_sender(
        me.clone(),
        out.clone(),
        history.clone(),
        connected_rx.clone(),
        recent.clone(),
    );
    let mut reconnecting_since: Option<Instant> = None;
    let mut answering_since: Option<Instant> = None;
    let mut probe = tokio::time::interval(rejoin::PROBE_EVERY);
    probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let end = loop {
        let mut lost = false;
        tokio::select! {
            cmd = next_command(&mut replay, &mut rx) => match cmd {
                Some(Command::Mic(on, reply)) => {
                    let outcome = set_mic(&local, on);
                    mic_on = on && outcome.is_ok();
                    let _ = reply.send(outcome);
                }
                Some(Command::Camera(on)) => set_camera(&cfg, &me, &mut local, on, &out, &video).await,
                Some(Command::SwitchCamera(choice)) => {
                    let cfg = CallConfig { media: MediaConfig { camera: choice, ..cfg.media.clone() }, ..cfg.clone() };
                    if local.camera.is_some() {
                        set_camera(&cfg, &me, &mut local, false, &out, &video).await;
                        set_camera(&cfg, &me, &mut local, true, &out, &video).await;
                    }
                }
                Some(Command::SwitchMic(choice)) => {
                    if let Some(m) = &local.mic {
                        report_switch(&out, Device::Microphone, m.switch(choice).await, &m.status());
                    }
                }
                Some(Command::SwitchSpeaker(choice)) => {
                    if let Some(sp) = &local.speaker {
                        report_switch(&out, Device::Speaker, sp.switch(choice).await, &sp.status());
                    }
                }
                Some(Command::TestSpeaker) => {
                    if let Some(sp) = &local.speaker { sp.play_test_sound(); }
                }
                Some(Command::Chat(local_id, text)) => {
                    // Sent in order by a task of its own: a send waits while
                    // the connection is down, and the call must not.
                    let text: String = text.chars().take(MAX_CHAT_CHARS).collect();
                    if let Err(mpsc::error::SendError(ChatJob::Send(local_id, text))) = chat_out.send(ChatJob::Send(local_id, text)) {
                        emit(CallEvent::ChatFailed { local_id, text, error: "the call is reconnecting".into() });
                    }
                }
                Some(Command::Leave) | None => {
                    let _ = room.disconnect().await;
                    break EndReason::Left;
                }
                Some(Command::End) => {
                    let _ = room.disconnect().await;
                    if let (TokenSource::Backend(client, req), Some(info)) = (&cfg.token, &session_info)
                        && let Err(e) = client.end_session(req, info, "completed").await
                    {
                        emit(CallEvent::Warning(format!("the platform was not told the session ended: {e}")));
                    }
                    break EndReason::SessionEnded;
                }
            },
            _ = tick.tick() => step(&mut life, Input::Tick),
            _ = probe.tick(), if reconnecting_since.is_some_and(|t| t.elapsed() >= rejoin::PROBE_AFTER) => {
                // The SDK waits longer and longer between its tries; once the
                // server answers again, rejoining now beats waiting for it.
                let up = rejoin::reachable(&url).await;
                tracing::debug!(up, "probing the call server while reconnecting");
                if !up {
                    answering_since = None;
                } else if answering_since.get_or_insert_with(Instant::now).elapsed() >= rejoin::GRACE {
                    tracing::info!("the call server answers again; rejoining without waiting for the SDK");
                    let _ = tokio::time::timeout(Duration::from_secs(2), room.disconnect()).await;
                    lost = true;
                }
            }
            ev = room_events.recv() => {
                let Some(ev) = ev else { break EndReason::Remote("the room closed".into()) };
                match ev {
                    lk::RoomEvent::ParticipantConnected(p) => {
                        // Back after dropping out (their network, or a server
                        // restart): what we sent meanwhile never reached them.
                        if let Some(left_at) = away.remove(&p.identity) {
                            let _ = chat_out.send(ChatJob::Resend { since: left_at.checked_sub(sender::IN_FLIGHT).unwrap_or(left_at) });
                        }
                        emit(CallEvent::ParticipantJoined { name: shorten(&p.name, MAX_NAME_CHARS, false), identity: p.identity });
                    }
                    lk::RoomEvent::ParticipantDisconnected { identity, .. } => {
                        away.retain(|_, t| t.elapsed() < rejoin::GIVE_UP_AFTER);
                        away.insert(identity.clone(), Instant::now());
                        if let Ok(mut v) = video.lock() { v.remove(&identity); }
                        if let Ok(mut r) = received.lock() { r.remove(&identity); }
                        emit(CallEvent::ParticipantLeft { identity });
                    }
                    lk::RoomEvent::TrackSubscribed { participant, track, .. } => {
                        let kind = track.kind();
                        kinds.insert(track.sid().to_owned(), kind);
                        if let Some(task) = play_remote(&participant, &track, &local, &out, &video, &received) {
                            local.remote_tasks.retain(|t| !t.is_finished());
                            local.remote_tasks.push(task);
                        }
                        emit(CallEvent::TrackSubscribed { identity: participant, kind });
                    }
                    lk::RoomEvent::TrackMuted { participant, sid } if participant != my_identity => {
                        emit(CallEvent::TrackMuted { identity: participant, kind: kinds.get(&sid).copied(), muted: true });
                    }
                    lk::RoomEvent::TrackUnmuted { participant, sid } if participant != my_identity => {
                        emit(CallEvent::TrackMuted { identity: participant, kind: kinds.get(&sid).copied(), muted: false });
                    }
                    lk::RoomEvent::ParticipantNameChanged { identity, name } if identity != my_identity => {
                        emit(CallEvent::ParticipantJoined { identity, name: shorten(&name, MAX_NAME_CHARS, false) });
                    }
                    lk::RoomEvent::ActiveSpeakers(who) => emit(CallEvent::Speaking(who)),
                    lk::RoomEvent::ConnectionQuality { participant, quality } => {
                        emit(CallEvent::Quality { identity: participant, quality });
                    }
                    lk::RoomEvent::TextReceived(t) if t.topic == "lk.chat" && seen.first(&t.sender, &t.id) => {
                        emit(CallEvent::ChatReceived(ChatMessage {
                            text: shorten(&t.text, MAX_CHAT_CHARS, t.truncated),
                            id: shorten(&t.id, 128, false), from: t.sender, timestamp_ms: t.timestamp_ms,
                        }));
                    }
                    lk::RoomEvent::DataReceived { participant, topic, payload, .. } if topic.as_deref() == Some(LEGACY_CHAT_TOPIC) => {
                        if let Some(m) = parse_legacy_chat(&participant, &payload)
                            && seen.first(&m.from, &m.id)
                        {
                            emit(CallEvent::ChatReceived(m));
                        }
                    }
                    lk::RoomEvent::Reconnecting => {
                        connected_tx.send_replace(false);
                        reconnecting_since.get_or_insert_with(Instant::now);
                        step(&mut life, Input::Reconnecting);
                    }
                    lk::RoomEvent::Reconnected => {
                        connected_tx.send_replace(true);
                        if let Some(since) = reconnecting_since {
                            let _ = chat_out.send(ChatJob::Resend { since: since.checked_sub(sender::IN_FLIGHT).unwrap_or(since) });
                        }
                        reconnecting_since = None;
                        answering_since = None;
                        step(&mut life, Input::Reconnected);
                    }
                    lk::RoomEvent::Disconnected { reason } if rejoin::recoverable(&reason) => {
                        tracing::warn!(?reason, "the room was lost; rejoining");
                        lost = true;
                    }
                    lk::RoomEvent::Disconnected { reason } => break EndReason::Remote(format!("{reason:?}")),
                    _ => {}
                }
            }
        }
        if lost {
            connected_tx.send_replace(false);
            let lost_at = reconnecting_since.take().unwrap_or_else(Instant::now);
            answering_since = None;
            step(&mut life, Input::Reconnecting);
            let mut held = Vec::new();
            match rejoin::rejoin(&cfg.token, &mut rx, &mut held, &local.mic_gate).await {
                rejoin::Rejoined::Back(new_room, events) => {
                    room = new_room;
                    room_events = events;
                    me = room.local_participant().clone();
                    chat_out = chat_sender(
                        me.clone(),
                        out.clone(),
                        history.clone(),
                        connected_rx.clone(),
                        recent.clone(),
                    );
                    rejoin::republish(&me, &local, mic_on).await;
                    for p in room.remote_participants() {
                        emit(CallEvent::ParticipantJoined {
                            identity: p.info.identity.clone(),
                            name: shorten(&p.info.name, MAX_NAME_CHARS, false),
                        });
                    }
                    connected_tx.send_replace(true);
                    let _ = chat_out.send(ChatJob::Resend {
                        since: lost_at.checked_sub(sender::IN_FLIGHT).unwrap_or(lost_at),
                    });
                    step(&mut life, Input::Reconnected);
                    rejoin::queue_held(held, &mut replay, &out);
                }
                rejoin::Rejoined::Left(c) => {
                    rejoin::fail_chat(held, &out, "you left the call");
                    let _ = room.disconnect().await;
                    replay.push_back(c);
                }
                rejoin::Rejoined::Refused(e) => {
                    rejoin::fail_chat(held, &out, "the call ended");
                    break EndReason::Remote(format!(
                        "the connection was lost and the platform would not let you back in: {e}"
                    ));
                }
                rejoin::Rejoined::GaveUp => {
                    rejoin::fail_chat(held, &out, "the call ended");
                    break EndReason::Remote(format!(
                        "the connection was lost and could not be restored within {} s",
                        rejoin::GIVE_UP_AFTER.as_secs()
                    ));
                }
            }
        }
    };
    // Closing devices joins their threads: off the async runtime.
    let _ = tokio::task::spawn_blocking(move || drop(local)).await;
    if let Ok(mut v) = video.lock() {
        v.clear();
    }
    step(&mut life, Input::Ended(end));
}

/// Gates the microphone locally first (off takes effect before anything
/// else can fail), then mutes or unmutes the published track.
fn set_mic(local: &Local, on: bool) -> Result<(), CallError> {
    use std::sync::atomic::Ordering;
    if !on {
        local.mic_gate.store(false, Ordering::SeqCst);
    }
    let published = match &local.audio {
        Some(a) => a.set_muted(!on).map_err(|e| e.to_string()),
        None => Ok(()),
    };
    match (on, published) {
        (true, Ok(())) => {
            local.mic_gate.store(true, Ordering::SeqCst);
            Ok(())
        }
        (true, Err(e)) => Err(CallError::Unmute(e)),
        (false, Ok(())) => Ok(()),
        (false, Err(e)) => {
            // Nothing leaves (the gate is closed); the others just do not
            // see the muted sign.
            tracing::warn!("LiveKit's mute failed ({e}); the microphone is gated locally");
            Ok(())
        }
    }
}

/// The next command: those held while rejoining first.
async fn next_command(
    replay: &mut std::collections::VecDeque<Command>,
    rx: &mut mpsc::UnboundedReceiver<Command>,
) -> Option<Command> {
    match replay.pop_front() {
        Some(c) => Some(c),
        None => rx.recv().await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Every command after the call is over says so instead of "done".
    #[tokio::test]
    async fn commands_after_the_end_answer_ended() {
        let (tx, rx) = mpsc::unbounded_channel();
        drop(rx);
        let (_events_tx, events) = mpsc::unbounded_channel();
        let h = CallHandle {
            tx,
            video: VideoMap::default(),
            history: History::default(),
            received: ReceivedMap::default(),
            next_chat: std::sync::atomic::AtomicU64::new(0),
            events,
        };
        assert_eq!(h.set_mic(false).await, Err(CallError::Ended));
        assert_eq!(h.set_camera(true), Err(CallError::Ended));
        assert_eq!(h.send_chat("hi"), Err(CallError::Ended));
        assert_eq!(h.leave(), Err(CallError::Ended));
        assert_eq!(h.end_session(), Err(CallError::Ended));
        assert_eq!(
            h.switch_camera(CameraChoice::TestPattern(
                tandem_media::camera::PatternColour::TEAL
            )),
            Err(CallError::Ended)
        );
        assert_eq!(h.switch_mic(MicChoice::Silence), Err(CallError::Ended));
        assert_eq!(
            h.switch_speaker(SpeakerChoice::Discard),
            Err(CallError::Ended)
        );
        assert_eq!(h.test_speaker(), Err(CallError::Ended));
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
