//! One WebRTC peer connection to a browser (seed 004's calls), on str0m:
//! ICE over UDP host candidates (plus a STUN server's reflexive ones and a
//! TURN server's relayed one when configured), DTLS-SRTP, Opus and VP8.
//!
//! A task owns the `Rtc` and the sockets; commands (offer, answer,
//! candidates) go in, connection events come out. Video is encoded and
//! decoded on threads of their own so the network loop never waits on a
//! codec; audio (20 ms of Opus) is cheap enough to code inline.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Instant;

use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tandem_media::codec::{OpusDecoder, OpusEncoder};
use tandem_media::{FrameReceiver, I420Frame};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::relay::{Relay, relays};
use super::turn::TurnServer;
use super::video::{Steer, spawn_decoder, spawn_encoder};

/// Longest datagram read.
const MAX_DATAGRAM: usize = 2000;
/// How long a STUN server may take to answer (three tries).
const STUN_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);
/// Encoded video frames queued for the network loop.
const VIDEO_QUEUE: usize = 4;
/// Congestion control: the estimate a call starts from (WebRTC's own
/// start is 300 kbit/s; probing raises it within seconds on a good link),
/// and the most it probes for (the camera's cap and Opus).
const BWE_START_KBPS: u64 = 500;
const BWE_DESIRED_KBPS: u64 = 2_600;

/// What the connection carries, from the booking's session type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Carries {
    pub audio: bool,
    pub video: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    #[error("the other side's offer is not a session description: {0}")]
    BadOffer(String),
    #[error("the other side's answer is not a session description: {0}")]
    BadAnswer(String),
    #[error("the answer came for an offer no longer pending")]
    NoPendingOffer,
    #[error("no network address to receive media on: {0}")]
    NoAddress(String),
    /// Only relayed paths were allowed, and no TURN server gave one.
    #[error("no TURN relay: {0}")]
    NoRelay(String),
    #[error("the connection is closed")]
    Closed,
}

/// Connection changes the call is told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// Media flows (ICE and DTLS done).
    Connected,
    /// ICE lost the path; it may come back by itself or after a restart.
    Disconnected,
    /// The first picture or sound from the other side.
    RemoteMedia(MediaKind),
    /// Tandem's data channel ([`super::data::LABEL`]) is open.
    ChannelOpen,
    /// A message on it.
    ChannelData { binary: bool, data: Vec<u8> },
    /// It closed.
    ChannelClosed,
}

/// A message for Tandem's data channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOut {
    pub binary: bool,
    pub data: Vec<u8>,
}

/// Messages for the data channel waiting for the network loop; a full
/// queue holds the sender back (the loop takes one only when SCTP has room).
const CHANNEL_QUEUE: usize = 16;

enum Command {
    Offer(oneshot::Sender<Result<String, PeerError>>),
    AcceptOffer(String, oneshot::Sender<Result<String, PeerError>>),
    AcceptAnswer(String, oneshot::Sender<Result<(), PeerError>>),
    Candidate(String),
}

/// Receives decoded sound (48 kHz mono), on the network task.
pub type AudioSink = Box<dyn FnMut(&[i16]) + Send>;
/// Receives decoded pictures, on the decoder's thread.
pub type VideoSink = Box<dyn FnMut(I420Frame) + Send>;

/// Where decoded media goes.
pub struct Sinks {
    pub audio: AudioSink,
    pub video: VideoSink,
}

impl std::fmt::Debug for Sinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sinks")
    }
}

/// The servers that help ICE across NATs, as a page's `iceServers` has
/// them, and whether only relayed paths may be used (a browser's
/// `iceTransportPolicy: "relay"`: nothing of our addresses is offered).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceServers {
    /// STUN servers, `host:port`.
    pub stun: Vec<String>,
    pub turn: Vec<TurnServer>,
    pub relay_only: bool,
}

/// Local media fed to the connection.
#[derive(Debug, Default)]
pub struct Sources {
    /// The microphone's 10 ms blocks, already gated by mute.
    pub audio: Option<mpsc::Receiver<Vec<i16>>>,
    /// The camera's newest pictures, and their rate.
    pub video: Option<(FrameReceiver, u32)>,
}

/// The call's handle on a peer connection; dropping it closes the
/// connection.
#[derive(Debug)]
pub struct Peer {
    commands: mpsc::UnboundedSender<Command>,
    channel: mpsc::Sender<ChannelOut>,
    task: tokio::task::JoinHandle<()>,
    video_in: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = self.video_in.take();
    }
}

/// Addresses media can be received on: every interface's, loopback only
/// when there is nothing else (two apps on one machine).
pub fn local_addresses() -> Vec<IpAddr> {
    let all: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| match ip {
            IpAddr::V4(v4) => !v4.is_link_local(),
            IpAddr::V6(v6) => !v6.is_unicast_link_local(),
        })
        .collect();
    let outside: Vec<IpAddr> = all.iter().copied().filter(|ip| !ip.is_loopback()).collect();
    if outside.is_empty() {
        all.into_iter().filter(|ip| ip.is_ipv4()).collect()
    } else {
        outside
    }
}

impl Peer {
    /// Opens sockets on `addresses` and starts the connection task.
    pub async fn start(
        carries: Carries,
        addresses: &[IpAddr],
        ice: &IceServers,
        sources: Sources,
        sinks: Sinks,
    ) -> Result<(Peer, mpsc::UnboundedReceiver<PeerEvent>), PeerError> {
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .enable_bwe(carries.video.then_some(Bitrate::kbps(BWE_START_KBPS)))
            .build(Instant::now());
        if carries.video {
            rtc.bwe()
                .set_bitrate(Bitrate::kbps(0), Bitrate::kbps(BWE_DESIRED_KBPS));
        }
        let mut sockets = Vec::new();
        for ip in addresses {
            let Ok(socket) = UdpSocket::bind(SocketAddr::new(*ip, 0)).await else {
                continue;
            };
            let Ok(local) = socket.local_addr() else {
                continue;
            };
            match Candidate::host(local, "udp") {
                Ok(c) => {
                    if !ice.relay_only {
                        rtc.add_local_candidate(c);
                    }
                    sockets.push(Arc::new(socket));
                }
                Err(e) => tracing::debug!(%local, "no host candidate: {e}"),
            }
        }
        if sockets.is_empty() {
            return Err(PeerError::NoAddress(format!("tried {addresses:?}")));
        }
        // Where a STUN server sees each socket from (behind a NAT), and a
        // relay on each TURN server, asked before the sockets are handed to
        // the connection.
        if !ice.relay_only {
            let asked = futures_util::future::join_all(sockets.iter().map(|socket| async move {
                for server in &ice.stun {
                    if let Some(seen) = super::stun::reflexive(socket, server, STUN_WAIT).await {
                        return socket.local_addr().ok().map(|base| (seen, base));
                    }
                }
                None
            }))
            .await;
            for (seen, base) in asked.into_iter().flatten() {
                if seen == base {
                    continue;
                }
                match Candidate::server_reflexive(seen, base, "udp") {
                    Ok(c) => {
                        rtc.add_local_candidate(c);
                    }
                    Err(e) => tracing::debug!(%seen, "no reflexive candidate: {e}"),
                }
            }
        }
        let (relays, refused) = relays(&mut rtc, &sockets, &ice.turn).await;
        if ice.relay_only && relays.is_empty() {
            return Err(PeerError::NoRelay(refused.unwrap_or_else(|| {
                "only relayed paths are allowed, and no TURN server is set".into()
            })));
        }
        let (commands, rx) = mpsc::unbounded_channel();
        let (events, events_rx) = mpsc::unbounded_channel();
        let (udp_tx, udp_rx) = mpsc::channel(512);
        let (channel, channel_rx) = mpsc::channel(CHANNEL_QUEUE);
        for s in &sockets {
            tokio::spawn(read_socket(s.clone(), udp_tx.clone()));
        }
        let want_key = Arc::new(AtomicBool::new(true));
        let video_kbps = Arc::new(AtomicU32::new(0));
        let (video_out_tx, video_out_rx) = mpsc::channel(VIDEO_QUEUE);
        let video_in = match (carries.video, sources.video) {
            (true, Some((frames, fps))) => Some(spawn_encoder(
                frames,
                fps,
                Steer {
                    want_key: want_key.clone(),
                    kbps: video_kbps.clone(),
                },
                video_out_tx,
            )),
            _ => None,
        };
        let decoder_lost = Arc::new(AtomicBool::new(false));
        let decoder = carries
            .video
            .then(|| spawn_decoder(sinks.video, decoder_lost.clone()));
        let opus_out = if carries.audio {
            Some(OpusEncoder::new().map_err(|e| PeerError::NoAddress(e.to_string()))?)
        } else {
            None
        };
        let opus_in = if carries.audio {
            Some(OpusDecoder::new().map_err(|e| PeerError::NoAddress(e.to_string()))?)
        } else {
            None
        };
        let driver = Driver {
            rtc,
            carries,
            sockets,
            relays,
            events,
            pending: None,
            mids: Mids::default(),
            audio_samples: 0,
            opus_out,
            opus_in,
            speaker: sinks.audio,
            decoder,
            decoder_lost,
            want_key,
            video_kbps,
            heard: (false, false),
            channel: Channel::default(),
        };
        let task = tokio::spawn(driver.run(rx, udp_rx, sources.audio, video_out_rx, channel_rx));
        Ok((
            Peer {
                commands,
                channel,
                task,
                video_in,
            },
            events_rx,
        ))
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, PeerError>>) -> Command,
    ) -> Result<T, PeerError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .map_err(|_| PeerError::Closed)?;
        rx.await.unwrap_or(Err(PeerError::Closed))
    }

    /// Makes an offer: the media the connection carries, or, when that
    /// was offered already, the same again with new ICE credentials.
    pub async fn offer(&self) -> Result<String, PeerError> {
        self.ask(Command::Offer).await
    }

    /// Applies the other side's offer (dropping any offer of ours) and
    /// returns the answer.
    pub async fn accept_offer(&self, sdp: &str) -> Result<String, PeerError> {
        let sdp = sdp.to_owned();
        self.ask(|tx| Command::AcceptOffer(sdp, tx)).await
    }

    /// Applies the other side's answer to our pending offer.
    pub async fn accept_answer(&self, sdp: &str) -> Result<(), PeerError> {
        let sdp = sdp.to_owned();
        self.ask(|tx| Command::AcceptAnswer(sdp, tx)).await
    }

    /// Where messages for Tandem's data channel go (once it is open: what
    /// is sent before is dropped). Sending waits while the network is
    /// behind; it fails once the connection is gone.
    pub fn channel(&self) -> mpsc::Sender<ChannelOut> {
        self.channel.clone()
    }

    /// Adds a candidate the other side trickled (`candidate:…`). Candidates
    /// str0m cannot use (mDNS names, TCP) are skipped.
    pub fn add_candidate(&self, candidate: &str) {
        let _ = self.commands.send(Command::Candidate(candidate.to_owned()));
    }
}

async fn read_socket(socket: Arc<UdpSocket>, out: mpsc::Sender<(Vec<u8>, SocketAddr, SocketAddr)>) {
    let Ok(local) = socket.local_addr() else {
        return;
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                if out.send((buf[..n].to_vec(), from, local)).await.is_err() {
                    return;
                }
            }
            // ICMP "port unreachable" shows up as an error on some systems:
            // the socket itself is fine.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => {
                tracing::warn!(%local, "media socket failed: {e}");
                return;
            }
        }
    }
}

#[derive(Default)]
struct Mids {
    audio: Option<Mid>,
    video: Option<Mid>,
}

struct Driver {
    rtc: Rtc,
    carries: Carries,
    sockets: Vec<Arc<UdpSocket>>,
    relays: Vec<Relay>,
    events: mpsc::UnboundedSender<PeerEvent>,
    pending: Option<SdpPendingOffer>,
    mids: Mids,
    audio_samples: u64,
    opus_out: Option<OpusEncoder>,
    opus_in: Option<OpusDecoder>,
    speaker: AudioSink,
    decoder: Option<std::sync::mpsc::SyncSender<Arc<[u8]>>>,
    /// Set by the decoder when a frame would not decode: ask for a keyframe.
    decoder_lost: Arc<AtomicBool>,
    /// Set when our encoder must send a keyframe (a receiver asked).
    want_key: Arc<AtomicBool>,
    /// What the network allows our video, kbit/s (0: no estimate yet).
    video_kbps: Arc<AtomicU32>,
    /// Whether audio and video have arrived yet.
    heard: (bool, bool),
    channel: Channel,
}

/// Tandem's data channel as the network loop sees it.
#[derive(Default)]
struct Channel {
    /// Added to an offer of ours already.
    offered: bool,
    /// Open, with this id.
    open: Option<ChannelId>,
    /// A message SCTP had no room for yet.
    unsent: Option<ChannelOut>,
}

impl Drop for Driver {
    /// Gives the relays back at once (a TURN server would otherwise hold
    /// them, and count them against the user's quota, until they expire).
    fn drop(&mut self) {
        for r in &mut self.relays {
            if let Some(d) = r.client.close() {
                let _ = r.socket.try_send_to(&d, r.server);
            }
        }
    }
}

impl Driver {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut udp: mpsc::Receiver<(Vec<u8>, SocketAddr, SocketAddr)>,
        mut audio: Option<mpsc::Receiver<Vec<i16>>>,
        mut video: mpsc::Receiver<(tandem_media::codec::Encoded, i64)>,
        mut channel: mpsc::Receiver<ChannelOut>,
    ) {
        loop {
            self.flush_channel();
            let wake = match self.poll() {
                Some(t) => t,
                None => return,
            };
            let room_for_more = self.channel.unsent.is_none();
            let wake = self
                .relays
                .iter()
                .filter_map(|r| r.client.timeout())
                .fold(wake, Instant::min);
            let sleep = tokio::time::sleep_until(wake.max(Instant::now()).into());
            tokio::select! {
                c = commands.recv() => match c {
                    Some(c) => self.command(c),
                    None => return,
                },
                d = udp.recv() => {
                    let Some((data, from, to)) = d else { return };
                    if let Some(r) = self.relays.iter_mut().find(|r| r.server == from && r.local == to) {
                        let got = r.client.handle(&data, Instant::now());
                        r.got(got, &mut self.rtc);
                    } else if let Ok(r) = Receive::new(Protocol::Udp, from, to, &data) {
                        let _ = self.rtc.handle_input(Input::Receive(Instant::now(), r));
                    }
                }
                a = recv_opt(&mut audio) => match a {
                    Some(block) => self.send_audio(&block),
                    None => audio = None,
                },
                v = video.recv() => {
                    if let Some((frame, t90)) = v { self.send_video(frame, t90) }
                }
                m = channel.recv(), if room_for_more => {
                    if let Some(m) = m {
                        self.channel.unsent = self.channel.open.is_some().then_some(m);
                    }
                }
                _ = sleep => {
                    let now = Instant::now();
                    for r in &mut self.relays {
                        let got = r.client.on_timeout(now);
                        r.got(got, &mut self.rtc);
                    }
                    let _ = self.rtc.handle_input(Input::Timeout(now));
                }
            }
        }
    }

    /// Sends what str0m wants sent and handles its events; the next time
    /// it needs to be woken, or `None` once it is closed.
    fn poll(&mut self) -> Option<Instant> {
        loop {
            if !self.rtc.is_alive() {
                return None;
            }
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    if let Some(r) = self.relays.iter_mut().find(|r| r.relay == t.source) {
                        if let Some(d) = r.client.wrap(t.destination, &t.contents, Instant::now()) {
                            let _ = r.socket.try_send_to(&d, r.server);
                        }
                        r.flush();
                    } else if let Some(s) = self
                        .sockets
                        .iter()
                        .find(|s| s.local_addr().ok() == Some(t.source))
                    {
                        // A full buffer drops the datagram, as the network would.
                        let _ = s.try_send_to(&t.contents, t.destination);
                    }
                }
                Ok(Output::Timeout(t)) => return Some(t),
                Ok(Output::Event(e)) => self.event(e),
                Err(e) => {
                    tracing::warn!("peer connection failed: {e}");
                    return None;
                }
            }
        }
    }

    fn emit(&self, e: PeerEvent) {
        let _ = self.events.send(e);
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.emit(PeerEvent::Disconnected)
            }
            Event::Connected => {
                self.want_key.store(true, Ordering::SeqCst);
                self.emit(PeerEvent::Connected);
                self.request_keyframe();
            }
            Event::MediaAdded(m) => match m.kind {
                MediaKind::Audio => self.mids.audio = Some(m.mid),
                MediaKind::Video => {
                    self.mids.video = Some(m.mid);
                    self.request_keyframe();
                }
            },
            Event::EgressBitrateEstimate(
                BweKind::Twcc { estimate, .. } | BweKind::Remb { estimate, .. },
            ) => {
                let kbps = super::rate::video_share(estimate.as_u64() / 1000);
                let was = self.video_kbps.swap(kbps, Ordering::SeqCst);
                if was.abs_diff(kbps) * 5 > was {
                    tracing::debug!(
                        estimate_kbps = estimate.as_u64() / 1000,
                        video_kbps = kbps,
                        "bandwidth estimate"
                    );
                }
            }
            Event::KeyframeRequest(r) => {
                tracing::debug!(kind = ?r.kind, "keyframe requested by the other side");
                self.want_key.store(true, Ordering::SeqCst)
            }
            Event::MediaData(d) => match d.params.spec().codec {
                Codec::Opus if self.carries.audio => {
                    if !self.heard.0 {
                        self.heard.0 = true;
                        self.emit(PeerEvent::RemoteMedia(MediaKind::Audio));
                    }
                    if let Some(dec) = &mut self.opus_in {
                        match dec.decode(Some(&d.data)) {
                            Ok(pcm) => (self.speaker)(&pcm),
                            Err(e) => tracing::debug!("undecodable audio: {e}"),
                        }
                    }
                }
                Codec::Vp8 if self.carries.video => {
                    if !self.heard.1 {
                        self.heard.1 = true;
                        self.emit(PeerEvent::RemoteMedia(MediaKind::Video));
                    }
                    if !d.contiguous {
                        tracing::debug!("keyframe asked: a gap");
                        self.request_keyframe();
                    } else if self.decoder_lost.swap(false, Ordering::SeqCst) {
                        tracing::debug!("keyframe asked: undecodable");
                        self.request_keyframe();
                    }
                    if let Some(dec) = &self.decoder
                        && dec.try_send(d.data).is_err()
                    {
                        // The decoder is behind: skip to the next keyframe.
                        tracing::debug!("keyframe asked: decoder behind");
                        self.request_keyframe();
                    }
                }
                _ => {}
            },
            Event::ChannelOpen(id, label) if label == super::data::LABEL => {
                self.channel.open = Some(id);
                self.emit(PeerEvent::ChannelOpen);
            }
            Event::ChannelData(d) if Some(d.id) == self.channel.open => {
                self.emit(PeerEvent::ChannelData {
                    binary: d.binary,
                    data: d.data,
                });
            }
            Event::ChannelClose(id) if Some(id) == self.channel.open => {
                self.channel.open = None;
                self.channel.unsent = None;
                self.emit(PeerEvent::ChannelClosed);
            }
            _ => {}
        }
    }

    /// Hands the waiting channel message to SCTP if it has room now.
    fn flush_channel(&mut self) {
        let (Some(id), Some(m)) = (self.channel.open, &self.channel.unsent) else {
            return;
        };
        match self.rtc.channel(id).map(|mut c| c.write(m.binary, &m.data)) {
            Some(Ok(false)) => {}
            Some(Ok(true)) => self.channel.unsent = None,
            Some(Err(e)) => {
                tracing::debug!("data channel message not sent: {e}");
                self.channel.unsent = None;
            }
            None => self.channel.unsent = None,
        }
    }

    fn request_keyframe(&mut self) {
        if let Some(mid) = self.mids.video
            && let Some(mut w) = self.rtc.writer(mid)
        {
            let _ = w.request_keyframe(None, KeyframeRequestKind::Pli);
        }
    }

    fn writer_pt(&mut self, mid: Option<Mid>, codec: Codec) -> Option<(Mid, str0m::media::Pt)> {
        let mid = mid?;
        let w = self.rtc.writer(mid)?;
        let pt = w.payload_params().find(|p| p.spec().codec == codec)?.pt();
        Some((mid, pt))
    }

    fn send_audio(&mut self, block: &[i16]) {
        let Some(enc) = &mut self.opus_out else {
            return;
        };
        let packets = match enc.push(block) {
            Ok(p) => p,
            Err(e) => return tracing::debug!("audio not encoded: {e}"),
        };
        for p in packets {
            let t = MediaTime::new(self.audio_samples, str0m::media::Frequency::FORTY_EIGHT_KHZ);
            self.audio_samples += tandem_media::codec::FRAME_SAMPLES as u64;
            let Some((mid, pt)) = self.writer_pt(self.mids.audio, Codec::Opus) else {
                continue;
            };
            if let Some(w) = self.rtc.writer(mid) {
                let _ = w.write(pt, Instant::now(), t, p);
            }
        }
    }

    fn send_video(&mut self, frame: tandem_media::codec::Encoded, t90: i64) {
        let Some((mid, pt)) = self.writer_pt(self.mids.video, Codec::Vp8) else {
            return;
        };
        let t = MediaTime::from_90khz(u64::try_from(t90).unwrap_or(0));
        if let Some(w) = self.rtc.writer(mid) {
            let _ = w.write(pt, Instant::now(), t, frame.data);
        }
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Offer(reply) => {
                let mut api = self.rtc.sdp_api();
                if self.mids.audio.is_none() && self.carries.audio {
                    self.mids.audio = Some(api.add_media(
                        MediaKind::Audio,
                        Direction::SendRecv,
                        None,
                        None,
                        None,
                    ));
                }
                if self.mids.video.is_none() && self.carries.video {
                    self.mids.video = Some(api.add_media(
                        MediaKind::Video,
                        Direction::SendRecv,
                        None,
                        None,
                        None,
                    ));
                }
                if !self.channel.offered {
                    self.channel.offered = true;
                    api.add_channel(super::data::LABEL.into());
                }
                let made = api.apply();
                let _ = reply.send(match made {
                    Some((offer, pending)) => {
                        self.pending = Some(pending);
                        Ok(offer.to_sdp_string())
                    }
                    // Nothing changed since the last offer: offer the same
                    // session again with new ICE credentials.
                    None => {
                        let mut api = self.rtc.sdp_api();
                        api.ice_restart(true);
                        match api.apply() {
                            Some((offer, pending)) => {
                                self.pending = Some(pending);
                                Ok(offer.to_sdp_string())
                            }
                            None => Err(PeerError::Closed),
                        }
                    }
                });
            }
            Command::AcceptOffer(sdp, reply) => {
                self.pending = None;
                let answer = SdpOffer::from_sdp_string(&sdp)
                    .map_err(|e| PeerError::BadOffer(e.to_string()))
                    .and_then(|offer| {
                        self.rtc
                            .sdp_api()
                            .accept_offer(offer)
                            .map_err(|e| PeerError::BadOffer(e.to_string()))
                    })
                    .map(|a| a.to_sdp_string());
                let _ = reply.send(answer);
            }
            Command::AcceptAnswer(sdp, reply) => {
                let outcome = match self.pending.take() {
                    None => Err(PeerError::NoPendingOffer),
                    Some(pending) => SdpAnswer::from_sdp_string(&sdp)
                        .map_err(|e| PeerError::BadAnswer(e.to_string()))
                        .and_then(|answer| {
                            self.rtc
                                .sdp_api()
                                .accept_answer(pending, answer)
                                .map_err(|e| PeerError::BadAnswer(e.to_string()))
                        }),
                };
                let _ = reply.send(outcome);
            }
            Command::Candidate(line) => {
                let line = line.trim().trim_start_matches("a=");
                match Candidate::from_sdp_string(line) {
                    Ok(c) if c.proto() == Protocol::Udp => self.rtc.add_remote_candidate(c),
                    Ok(_) => {}
                    Err(e) => tracing::debug!("candidate skipped: {e}"),
                }
            }
        }
    }
}

async fn recv_opt<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
