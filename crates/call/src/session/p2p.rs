//! A seed-004 call held peer to peer: the platform's Socket.IO room for
//! signalling and chat, one WebRTC connection to the other person, and the
//! same devices, events, timer and end flow as a LiveKit call.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tandem_lk as lk;
use tandem_media::I420Frame;
use tandem_media::audio::{self, Microphone, Speaker};
use tandem_media::camera::{self, CameraFeed};
use tandem_media::frame::{FrameSender, newest_frame_channel};
use tokio::sync::mpsc;

use super::chat::{ChatMessage, MAX_CHAT_CHARS, MAX_NAME_CHARS, shorten};
use super::files::Files;
use super::handle::{Command, Out, Shared};
use super::lifecycle::{Input, Lifecycle, now};
use super::media::{Meter, camera_in_use, pump_mic, report_switch, watch_device};
use super::p2p_files::PeerFiles;
use super::types::{
    CallConfig, CallError, CallEvent, Device, EndReason, LOCAL_VIDEO, MediaConfig, MediaError,
    SessionType,
};
use crate::p2p::peer::{self, Carries, Peer, PeerEvent, Sinks, Sources};
use crate::p2p::roles::{Action, Input as Turn, Negotiator};
use crate::p2p::signal::{Side, Signal, SignalClient};
use crate::platform::{BackendClient, SessionInfo, TokenRequest};

/// How long ICE may stay disconnected before we restart it.
const ICE_RESTART_AFTER: Duration = Duration::from_secs(5);
/// How long after the other side closed the connection (while staying in
/// the room) we offer a new one.
const RECONNECT_AFTER_CLOSE: Duration = Duration::from_secs(3);
/// Between attempts to reach the Socket.IO server again.
const SIGNAL_RETRY: Duration = Duration::from_secs(2);
/// How long one attempt may take.
const SIGNAL_TIMEOUT: Duration = Duration::from_secs(5);

/// What a peer-to-peer call needs from the surrounding session.
pub(super) struct Call<'a> {
    pub(super) cfg: &'a CallConfig,
    pub(super) client: &'a BackendClient,
    pub(super) req: &'a TokenRequest,
    pub(super) info: &'a SessionInfo,
    pub(super) out: &'a Out,
    pub(super) shared: &'a Shared,
}

type MicSink = Arc<std::sync::Mutex<Option<mpsc::Sender<Vec<i16>>>>>;

/// Devices of a peer-to-peer call; dropping it closes them.
#[derive(Default)]
struct Devices {
    speaker: Option<Speaker>,
    mic: Option<Microphone>,
    camera: Option<CameraFeed>,
    gate: Arc<AtomicBool>,
    /// Where the microphone's blocks go: the current connection's encoder.
    mic_sink: MicSink,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    camera_task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Devices {
    fn drop(&mut self) {
        for t in self.tasks.iter().chain(&self.camera_task) {
            t.abort();
        }
    }
}

impl Call<'_> {
    fn emit(&self, e: CallEvent) {
        self.out.emit(e);
    }

    fn step(&self, life: &mut Lifecycle, input: Input) {
        for e in life.on(input, now()) {
            self.emit(e);
        }
    }

    /// Holds the call; `None` when it failed before it began (already reported).
    pub(super) async fn run(
        &self,
        life: &mut Lifecycle,
        rx: &mut mpsc::UnboundedReceiver<Command>,
    ) -> Option<EndReason> {
        let fail = |life: &mut Lifecycle, why: String| {
            self.step(life, Input::Failed(CallError::Connect(why)));
            None
        };
        let Some(room) = self.info.room_id.clone() else {
            return fail(
                life,
                "the platform's link names no call room (roomId)".into(),
            );
        };
        let Some(side) = Side::parse(&self.info.participant_type) else {
            return fail(
                life,
                format!(
                    "the platform says we are {:?}, neither user nor astrologer",
                    self.info.participant_type
                ),
            );
        };
        let Some(address) = self.client.socket_url() else {
            return fail(life, "no address for the platform's call server".into());
        };
        let kind = self.cfg.session_type;
        let kind_word = match kind {
            SessionType::Chat => "chat",
            SessionType::Voice => "voice",
            SessionType::Video => "video",
        };
        self.step(life, Input::Connect);
        let (mut signal, signals) = match tokio::time::timeout(
            SIGNAL_TIMEOUT * 2,
            SignalClient::join(&address, &room, side, kind_word),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return fail(life, format!("the platform's call server ({address}): {e}"));
            }
            Err(_) => {
                return fail(
                    life,
                    format!("the platform's call server ({address}) did not answer"),
                );
            }
        };
        let mut signals = Some(signals);
        let mut devices = self.open_devices().await;
        let (outgoing_tx, outgoing) = newest_frame_channel();
        let outgoing_tx = Arc::new(outgoing_tx);
        if kind == SessionType::Video {
            // A camera that will not open is reported; the call goes on
            // (sending black, as with the camera off).
            let _ = self
                .camera(&mut devices, self.cfg.camera_on, &outgoing_tx)
                .await;
        }
        let me = side.as_str().to_owned();
        let other = match side {
            Side::User => Side::Astrologer,
            Side::Astrologer => Side::User,
        }
        .as_str()
        .to_owned();
        let mut files = PeerFiles::new(
            Files::new(self.cfg.received_dir.clone()),
            me.clone(),
            other.clone(),
            self.out,
        );
        self.emit(CallEvent::Joined {
            identity: me.clone(),
            room: room.clone(),
        });
        self.step(life, Input::Connected);
        // Seed 004's platform has no screen sharing yet (its page would not
        // show a second picture): the UI says so rather than offering it.
        self.emit(CallEvent::ShareOffered(Some(MediaError::NotInPeerToPeer)));
        if kind == SessionType::Video {
            // Our own VP8 encoder (tandem-media's libvpx), always software.
            self.emit(CallEvent::VideoEncoder {
                name: "libvpx".into(),
                hardware: false,
            });
        }
        if let Err(e) = self.client.mark_joined(self.req, self.info).await {
            self.emit(CallEvent::Warning(format!(
                "the platform was not told we joined: {e}"
            )));
        }
        let mut roles = Negotiator::new(side);
        let mut peer: Option<(Peer, mpsc::UnboundedReceiver<PeerEvent>)> = None;
        let mut remote_fingerprint: Option<String> = None;
        let mut ice_down_since: Option<Instant> = None;
        // When the other side closed our connection.
        let mut closed_at: Option<Instant> = None;
        let mut signal_lost: Option<Instant> = None;
        let mut last_try = Instant::now();
        let mut here = false;
        let mut act = roles.on(Turn::Joined, Instant::now());
        let mut pending_offer: Option<String> = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let end = 'call: loop {
            // Act on what the negotiator decided. A chat booking has a
            // connection too, for files between two Tandems only: it carries
            // no media, and the seed's own page never answers it.
            while let Some(a) = act.take() {
                match a {
                    Action::MakeOffer { .. } => {
                        // Always a fresh connection, an ICE restart too: the
                        // seed's page answers every offer with a new
                        // RTCPeerConnection (new DTLS keys), which only a
                        // new connection on our side can meet.
                        files.closed();
                        peer = self.new_peer(kind, &outgoing, &devices, &other).await;
                        if let Some((p, _)) = &peer {
                            match p.offer().await {
                                Ok(sdp) => {
                                    signal.offer(&sdp);
                                }
                                Err(e) => self.emit(CallEvent::Warning(format!(
                                    "no offer could be made: {e}"
                                ))),
                            }
                        }
                    }
                    Action::Answer | Action::RollbackAndAnswer => {
                        let Some(sdp) = pending_offer.take() else {
                            continue;
                        };
                        let print = fingerprint(&sdp);
                        if peer.is_none() || print != remote_fingerprint {
                            files.closed();
                            peer = self.new_peer(kind, &outgoing, &devices, &other).await;
                        }
                        remote_fingerprint = print;
                        if let Some((p, _)) = &peer {
                            match p.accept_offer(&sdp).await {
                                Ok(answer) => {
                                    signal.answer(&answer);
                                }
                                Err(e) => self.emit(CallEvent::Warning(format!(
                                    "the other person's app sent an offer that cannot be used: {e}"
                                ))),
                            }
                        }
                    }
                    Action::IgnoreOffer | Action::IgnoreAnswer => {}
                    Action::ApplyAnswer => {}
                    Action::ReportNoAnswer if kind == SessionType::Chat => {}
                    Action::ReportNoAnswer => self.emit(CallEvent::Warning(
                        "the other person's app is not answering the call; it may need to be reopened"
                            .into(),
                    )),
                    Action::Reset => {
                        files.closed();
                        peer = None;
                        remote_fingerprint = None;
                        self.forget(&other);
                    }
                }
            }
            let peer_events = async {
                match &mut peer {
                    Some((_, ev)) => ev.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::Mic(on, reply)) => {
                        devices.gate.store(on && devices.mic.is_some(), Ordering::SeqCst);
                        let _ = reply.send(Ok(()));
                    }
                    Some(Command::Camera(on, reply)) => {
                        let outcome = if kind == SessionType::Video {
                            self.camera(&mut devices, on, &outgoing_tx).await.map_err(CallError::CameraOn)
                        } else if on {
                            Err(CallError::CameraOn(MediaError::NotBooked))
                        } else {
                            Ok(())
                        };
                        let _ = reply.send(outcome);
                    }
                    Some(Command::SwitchCamera(choice)) => {
                        if devices.camera.is_some() {
                            let cfg = CallConfig { media: MediaConfig { camera: choice, ..self.cfg.media.clone() }, ..self.cfg.clone() };
                            let call = Call { cfg: &cfg, ..*self };
                            let _ = call.camera(&mut devices, false, &outgoing_tx).await;
                            let _ = call.camera(&mut devices, true, &outgoing_tx).await;
                        }
                    }
                    Some(Command::SwitchMic(choice)) => {
                        if let Some(m) = &devices.mic {
                            report_switch(self.out, Device::Microphone, m.switch(choice).await, &m.status());
                        }
                    }
                    Some(Command::SwitchSpeaker(choice)) => {
                        if let Some(sp) = &devices.speaker {
                            report_switch(self.out, Device::Speaker, sp.switch(choice).await, &sp.status());
                        }
                    }
                    Some(Command::TestSpeaker) => {
                        if let Some(sp) = &devices.speaker { sp.play_test_sound(); }
                    }
                    Some(Command::Chat(local_id, text)) => {
                        let text: String = text.chars().take(MAX_CHAT_CHARS).collect();
                        let now = chrono::Utc::now();
                        let sender = self.info.participant_id.clone().unwrap_or_else(|| me.clone());
                        if signal_lost.is_none() && signal.chat(&sender, &text, &now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)) {
                            self.emit(CallEvent::ChatSent { local_id, message: ChatMessage {
                                id: format!("{me}-{local_id}"), from: me.clone(), text, timestamp_ms: now.timestamp_millis(),
                            }});
                        } else {
                            self.emit(CallEvent::ChatFailed { local_id, text, error: "the call is reconnecting".into() });
                        }
                    }
                    Some(Command::Share(_, reply)) => {
                        let _ = reply.send(Err(CallError::Share(MediaError::NotInPeerToPeer)));
                    }
                    Some(Command::Hand(_, reply) | Command::LowerHand(_, reply)) => {
                        let _ = reply.send(Err(CallError::NotInPeerToPeer("raised hands")));
                    }
                    Some(Command::SendFile(path, reply)) => {
                        let _ = reply.send(files.send(&path));
                    }
                    Some(Command::CancelFile(id, reply)) => {
                        let _ = reply.send(files.cancel(&id));
                    }
                    Some(Command::React(_, reply)) => {
                        // The seed's page has no reactions to show them.
                        let _ = reply.send(Err(CallError::NotInPeerToPeer("reactions")));
                    }
                    Some(Command::ChangeKey(_, reply)) => {
                        // Seed 004's calls have no LiveKit frame encryption.
                        let _ = reply.send(Err(CallError::NotEncrypted));
                    }
                    Some(Command::Leave) | None => break 'call EndReason::Left,
                    Some(Command::End) => {
                        if let Err(e) = self.client.end_session(self.req, self.info, "completed").await {
                            self.emit(CallEvent::Warning(format!("the platform was not told the session ended: {e}")));
                        }
                        break 'call EndReason::SessionEnded;
                    }
                },
                s = recv_opt(&mut signals) => match s {
                    Some(Signal::PeerJoined(who)) if who != side => {
                        here = true;
                        self.emit(CallEvent::ParticipantJoined { identity: other.clone(), name: shorten(&self.info.other_name, MAX_NAME_CHARS, false) });
                        act = roles.on(Turn::PeerJoined, Instant::now());
                    }
                    Some(Signal::PeerLeft(who)) if who != side => {
                        files.closed();
                        peer = None;
                        closed_at = None;
                        self.forget(&other);
                        if here {
                            self.emit(CallEvent::ParticipantLeft { identity: other.clone() });
                        }
                        here = false;
                        act = roles.on(Turn::PeerLeft, Instant::now());
                    }
                    Some(Signal::Offer(d)) => {
                        if !here {
                            here = true;
                            self.emit(CallEvent::ParticipantJoined { identity: other.clone(), name: shorten(&self.info.other_name, MAX_NAME_CHARS, false) });
                        }
                        closed_at = None;
                        pending_offer = Some(d.sdp);
                        act = roles.on(Turn::RemoteOffer, Instant::now());
                    }
                    Some(Signal::Answer(d)) => {
                        if !here {
                            // Our offer found someone we were not told of.
                            here = true;
                            self.emit(CallEvent::ParticipantJoined { identity: other.clone(), name: shorten(&self.info.other_name, MAX_NAME_CHARS, false) });
                        }
                        act = roles.on(Turn::RemoteAnswer, Instant::now());
                        if act == Some(Action::ApplyAnswer)
                            && let Some((p, _)) = &peer
                            && let Err(e) = p.accept_answer(&d.sdp).await
                        {
                            self.emit(CallEvent::Warning(format!("the other person's answer cannot be used: {e}")));
                        }
                    }
                    Some(Signal::Candidate(c)) => {
                        if let Some((p, _)) = &peer { p.add_candidate(&c.candidate); }
                    }
                    Some(Signal::Chat(m)) => {
                        let timestamp_ms = chrono::DateTime::parse_from_rfc3339(&m.timestamp)
                            .map(|t| t.timestamp_millis())
                            .unwrap_or_else(|_| chrono::Utc::now().timestamp_millis());
                        let from = if Side::parse(&m.sender_type).is_some() { m.sender_type.clone() } else { other.clone() };
                        if from == other && !here {
                            // In a chat booking nobody offers: the server
                            // told only the one already inside, so a
                            // message is how we learn they are here.
                            here = true;
                            self.emit(CallEvent::ParticipantJoined { identity: other.clone(), name: shorten(&self.info.other_name, MAX_NAME_CHARS, false) });
                        }
                        self.emit(CallEvent::ChatReceived(ChatMessage {
                            id: format!("{}-{}", m.sender_id, m.timestamp), from, text: m.message, timestamp_ms,
                        }));
                    }
                    Some(Signal::Refused(why)) => {
                        break 'call EndReason::Remote(format!("the platform's call server refused the call: {why}"));
                    }
                    Some(Signal::Closed(_)) | None => {
                        tracing::warn!("the platform's call server connection was lost");
                        if signal_lost.is_none() {
                            signal_lost = Some(Instant::now());
                            self.step(life, Input::Reconnecting);
                        }
                        signals = None;
                    }
                    Some(_) => {}
                },
                e = peer_events => match e {
                    Some(PeerEvent::ChannelOpen) => {
                        if let Some((p, _)) = &peer { files.opened(p.channel()); }
                    }
                    Some(PeerEvent::ChannelData { binary, data }) => files.on_data(binary, &data),
                    Some(PeerEvent::ChannelClosed) => files.closed(),
                    // A chat booking's connection is only for files: the
                    // call is not "reconnecting" when it drops.
                    Some(PeerEvent::Connected) => {
                        if ice_down_since.take().is_some() && signal_lost.is_none() && kind != SessionType::Chat {
                            self.step(life, Input::Reconnected);
                        }
                    }
                    Some(PeerEvent::Disconnected) => {
                        if ice_down_since.is_none() && signal_lost.is_none() && kind != SessionType::Chat {
                            self.step(life, Input::Reconnecting);
                        }
                        ice_down_since.get_or_insert_with(Instant::now);
                    }
                    Some(PeerEvent::RemoteMedia(kind)) => {
                        let kind = match kind {
                            str0m::media::MediaKind::Audio => lk::TrackKind::Audio,
                            str0m::media::MediaKind::Video => {
                                self.emit(CallEvent::VideoAvailable { identity: other.clone() });
                                lk::TrackKind::Video
                            }
                        };
                        self.emit(CallEvent::TrackSubscribed { identity: other.clone(), kind });
                    }
                    None => {
                        // The other side closed the connection (its page is
                        // leaving or reloading) or it failed: unless they
                        // leave or offer anew meanwhile, we start anew.
                        files.closed();
                        peer = None;
                        self.forget(&other);
                        closed_at = Some(Instant::now());
                    }
                },
                _ = tick.tick() => {
                    self.step(life, Input::Tick);
                    act = roles.on(Turn::Tick, Instant::now());
                    if act.is_none()
                        && here
                        && peer.is_none()
                        && closed_at.is_some_and(|t| t.elapsed() >= RECONNECT_AFTER_CLOSE)
                    {
                        closed_at = None;
                        act = roles.on(Turn::NetworkChanged, Instant::now());
                    }
                    if act.is_none()
                        && ice_down_since.is_some_and(|t| t.elapsed() >= ICE_RESTART_AFTER)
                        && signal_lost.is_none()
                    {
                        ice_down_since = Some(Instant::now());
                        act = roles.on(Turn::NetworkChanged, Instant::now());
                    }
                    if let Some(lost) = signal_lost && last_try.elapsed() >= SIGNAL_RETRY {
                        last_try = Instant::now();
                        if lost.elapsed() >= self.cfg.give_up_after {
                            break 'call EndReason::Remote(format!(
                                "the platform's call server could not be reached again within {} s",
                                self.cfg.give_up_after.as_secs()
                            ));
                        }
                        if let Ok(Ok((s, rx))) = tokio::time::timeout(SIGNAL_TIMEOUT, SignalClient::join(&address, &room, side, kind_word)).await {
                            signal = s;
                            signals = Some(rx);
                            signal_lost = None;
                            if ice_down_since.is_none() {
                                self.step(life, Input::Reconnected);
                            }
                            roles = Negotiator::new(side);
                            act = roles.on(Turn::Joined, Instant::now());
                        }
                    }
                }
            }
        };
        drop(peer);
        drop(signal);
        // Closing devices joins their threads: off the async runtime.
        let _ = tokio::task::spawn_blocking(move || drop(devices)).await;
        Some(end)
    }

    /// A fresh connection to the other person, fed from our devices.
    async fn new_peer(
        &self,
        kind: SessionType,
        outgoing: &tandem_media::FrameReceiver,
        devices: &Devices,
        other: &str,
    ) -> Option<(Peer, mpsc::UnboundedReceiver<PeerEvent>)> {
        let carries = Carries {
            audio: kind != SessionType::Chat,
            video: kind == SessionType::Video,
        };
        let (audio_tx, audio_rx) = mpsc::channel(64);
        if let Ok(mut sink) = devices.mic_sink.lock() {
            *sink = Some(audio_tx);
        }
        let sources = Sources {
            audio: Some(audio_rx),
            video: carries
                .video
                .then(|| (outgoing.clone(), self.cfg.media.capture.fps.max(1))),
        };
        let sinks = self.sinks(devices, other);
        let ice = self.client.ice_servers();
        match Peer::start(carries, &peer::local_addresses(), &ice, sources, sinks).await {
            Ok(p) => Some(p),
            Err(e) => {
                self.emit(CallEvent::Warning(format!(
                    "no connection to the other person: {e}"
                )));
                None
            }
        }
    }

    fn sinks(&self, devices: &Devices, other: &str) -> Sinks {
        let meter = Meter::new(other, self.shared);
        let video_meter = meter.clone();
        let mut input = devices.speaker.as_ref().map(Speaker::add_input);
        let mut recent: Vec<i16> = Vec::with_capacity(audio::RATE as usize);
        let (tx, rx) = newest_frame_channel();
        if self.cfg.session_type == SessionType::Video {
            self.shared.set_video(other, rx);
        }
        Sinks {
            audio: Box::new(move |pcm| {
                if let Some(i) = &mut input {
                    i.push(pcm);
                }
                meter.audio(&mut recent, pcm);
            }),
            video: Box::new(move |f| {
                video_meter.video(&f);
                tx.send_replace(Some(Arc::new(f)));
            }),
        }
    }

    /// The other person's media is gone (they left).
    fn forget(&self, other: &str) {
        self.shared.forget(other);
    }
}

async fn recv_opt<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The `a=fingerprint` of an SDP: a new one means a new connection on the
/// other side (its page reloaded), not a renegotiation.
fn fingerprint(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=fingerprint:"))
        .map(str::to_owned)
}

impl Call<'_> {
    /// Opens the speaker and microphone the session type needs (a device
    /// that fails is reported and the call goes on without it).
    async fn open_devices(&self) -> Devices {
        let mut d = Devices::default();
        if self.cfg.session_type == SessionType::Chat {
            return d;
        }
        let m = &self.cfg.media;
        let processor = if m.processing {
            match audio::processor() {
                Ok(p) => Some(p),
                Err(e) => {
                    self.emit(CallEvent::Warning(e.to_string()));
                    None
                }
            }
        } else {
            None
        };
        let (choice, p) = (m.speaker.clone(), processor.clone());
        match tokio::task::spawn_blocking(move || Speaker::start(choice, p)).await {
            Ok(Ok(sp)) => {
                if let audio::DeviceStatus::Running(name) = sp.status().borrow().clone() {
                    self.emit(CallEvent::DeviceInUse {
                        device: Device::Speaker,
                        name,
                    });
                }
                d.tasks
                    .push(watch_device(self.out, Device::Speaker, sp.status()));
                d.speaker = Some(sp);
            }
            Ok(Err(e)) => self.emit(CallEvent::DeviceProblem {
                device: Device::Speaker,
                error: e.into(),
            }),
            Err(e) => tracing::warn!("speaker thread: {e}"),
        }
        d.gate.store(self.cfg.mic_on, Ordering::SeqCst);
        let (choice, p, denoise) = (m.mic.clone(), processor, Some(m.denoise.clone()));
        match tokio::task::spawn_blocking(move || Microphone::start(choice, p, denoise)).await {
            Ok(Ok(mut mic)) => {
                if let audio::DeviceStatus::Running(name) = mic.status().borrow().clone() {
                    self.emit(CallEvent::DeviceInUse {
                        device: Device::Microphone,
                        name,
                    });
                }
                if let Some(frames) = mic.take_frames() {
                    let sink = d.mic_sink.clone();
                    d.tasks.push(tokio::spawn(pump_mic(
                        frames,
                        d.gate.clone(),
                        move |block| {
                            let tx = sink.lock().ok().and_then(|s| s.clone());
                            async move {
                                // A full queue drops the block, as a congested
                                // network would; no connection yet drops it too.
                                if let Some(tx) = tx {
                                    let _ = tx.try_send(block);
                                }
                                true
                            }
                        },
                    )));
                }
                d.tasks
                    .push(watch_device(self.out, Device::Microphone, mic.status()));
                d.mic = Some(mic);
            }
            Ok(Err(e)) => {
                d.gate.store(false, Ordering::SeqCst);
                self.emit(CallEvent::DeviceProblem {
                    device: Device::Microphone,
                    error: e.into(),
                });
            }
            Err(e) => tracing::warn!("microphone thread: {e}"),
        }
        d
    }

    /// Turns the camera on (its pictures go to the connection and the
    /// preview) or off (closed, its light out). While it is off the
    /// connection carries a black picture once a second, as a browser's
    /// disabled camera track does, so the other side shows black rather
    /// than our last picture frozen.
    async fn camera(
        &self,
        d: &mut Devices,
        on: bool,
        outgoing: &Arc<FrameSender>,
    ) -> Result<(), MediaError> {
        let format = self.cfg.media.capture;
        if !on {
            if let Some(t) = d.camera_task.take() {
                t.abort();
            }
            if let Some(feed) = d.camera.take() {
                let _ = tokio::task::spawn_blocking(move || drop(feed)).await;
            }
            if let Ok(mut v) = self.shared.video.lock() {
                v.remove(LOCAL_VIDEO);
            }
            d.camera_task = Some(tokio::spawn(send_black(outgoing.clone(), format)));
            return Ok(());
        }
        if d.camera.is_some() {
            return Ok(());
        }
        let choice = self.cfg.media.camera.clone();
        let background = self.cfg.media.background.clone();
        let opened = move || camera::open_with(&choice, format, background);
        let feed = match tokio::task::spawn_blocking(opened).await {
            Ok(Ok(feed)) => feed,
            Ok(Err(e)) => {
                self.emit(CallEvent::DeviceProblem {
                    device: Device::Camera,
                    error: e.clone().into(),
                });
                if d.camera_task.is_none() {
                    d.camera_task = Some(tokio::spawn(send_black(outgoing.clone(), format)));
                }
                return Err(e.into());
            }
            Err(e) => return Err(MediaError::Thread(e.to_string())),
        };
        if let Some(black) = d.camera_task.take() {
            black.abort();
        }
        self.emit(camera_in_use(&feed));
        self.shared.set_video(LOCAL_VIDEO, feed.frames());
        let (mut frames, outgoing) = (feed.frames(), outgoing.clone());
        d.camera_task = Some(tokio::spawn(async move {
            while frames.changed().await.is_ok() {
                let frame = frames.borrow_and_update().clone();
                if frame.is_some() {
                    outgoing.send_replace(frame);
                }
            }
        }));
        d.camera = Some(feed);
        Ok(())
    }
}

/// A black picture of the camera's size, once a second, until aborted.
async fn send_black(outgoing: Arc<FrameSender>, format: tandem_media::camera::CaptureFormat) {
    let Ok(mut black) = I420Frame::new(format.width.max(2), format.height.max(2)) else {
        return;
    };
    let (y, u, v) = black.planes_mut();
    y.fill(16);
    u.fill(128);
    v.fill(128);
    let black = Arc::new(black);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        outgoing.send_replace(Some(black.clone()));
    }
}
