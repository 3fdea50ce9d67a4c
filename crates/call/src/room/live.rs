//! The room seam over LiveKit (`tandem_lk`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tandem_lk as lk;
use tandem_media::I420Frame;

use super::{BytesOut, CameraTrack, Connector, MicTrack, Room, RoomError, RoomEvents};

/// Rooms on a LiveKit server, with our media encrypted end to end once
/// [`Connector::set_encryption`] gave a key.
#[derive(Debug, Clone, Default)]
pub struct Live {
    encryption: Option<lk::SharedKey>,
    encoder: lk::EncoderBackend,
}

impl Connector for Live {
    type Room = LiveRoom;

    async fn connect(
        &self,
        url: &str,
        token: &str,
    ) -> Result<(LiveRoom, RoomEvents), lk::ConnectError> {
        let options = lk::RoomOptions {
            encryption: self.encryption.clone(),
            ..lk::RoomOptions::default()
        };
        let (room, events) = lk::Room::connect(url, token, options).await?;
        let admin = RoomAdmin::from_token(url, token).map(Arc::new);
        Ok((LiveRoom(room, admin, camera_encoder(self.encoder)), events))
    }

    async fn reachable(&self, url: &str) -> bool {
        reachable(url).await
    }

    fn set_encryption(&mut self, key: Option<lk::SharedKey>) {
        self.encryption = key;
    }

    fn set_encoder(&mut self, encoder: lk::EncoderBackend) {
        self.encoder = encoder;
    }
}

/// Whether the server at `url` (ws:// or wss://) accepts a TCP connection
/// within half a second.
pub(crate) async fn reachable(url: &str) -> bool {
    let (tls, rest) = match url.split_once("://") {
        Some(("wss", rest)) => (true, rest),
        Some((_, rest)) => (false, rest),
        None => return false,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.parse::<u16>().is_ok());
    let target = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    matches!(
        tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(target)
        )
        .await,
        Ok(Ok(_))
    )
}

/// A joined LiveKit room, and the way to its server's room API when our
/// token is the room's admin's.
#[derive(Debug, Clone)]
pub struct LiveRoom(lk::Room, Option<Arc<RoomAdmin>>, lk::EncoderBackend);

/// The encoder the camera goes through: `Auto` is the machine's hardware
/// encoder when it shows one (a VAAPI render node or an NVIDIA device on
/// Linux, VideoToolbox on macOS), else software.
fn camera_encoder(asked: lk::EncoderBackend) -> lk::EncoderBackend {
    match asked {
        lk::EncoderBackend::Auto if hardware_encoder_shown() => lk::EncoderBackend::Hardware,
        lk::EncoderBackend::Auto => lk::EncoderBackend::Software,
        other => other,
    }
}

/// How the camera is published through `encoder`: LiveKit's hardware
/// encoders (VAAPI, NVENC, VideoToolbox) encode H.264; the software path
/// stays VP8, which every client and server here decodes.
fn camera_options(encoder: lk::EncoderBackend) -> lk::PublishOptions {
    let hardware = encoder == lk::EncoderBackend::Hardware;
    lk::PublishOptions {
        source: lk::TrackSource::Camera,
        video_codec: if hardware {
            lk::VideoCodec::H264
        } else {
            lk::VideoCodec::Vp8
        },
        // VP8 is software everywhere: the library's own choice, as before.
        encoder: if hardware {
            encoder
        } else {
            lk::EncoderBackend::Auto
        },
        ..Default::default()
    }
}

/// Whether this machine shows a video encoder LiveKit's library can use.
fn hardware_encoder_shown() -> bool {
    if cfg!(target_os = "macos") {
        return true;
    }
    if !cfg!(target_os = "linux") {
        return false;
    }
    let render_node = std::fs::read_dir("/dev/dri").is_ok_and(|d| {
        d.filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    });
    render_node || std::path::Path::new("/dev/nvidia0").exists()
}

/// The server's room API (Twirp `RoomService`), for a token that grants
/// `roomAdmin` in its room. The token is sent to the server that issued
/// the call, never logged.
pub(crate) struct RoomAdmin {
    endpoint: String,
    room: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for RoomAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomAdmin")
            .field("endpoint", &self.endpoint)
            .field("room", &self.room)
            .finish_non_exhaustive()
    }
}

impl RoomAdmin {
    /// The room API of the server at `url` (ws:// or wss://), when
    /// `token`'s claims (read, not verified: the server does that) grant
    /// `roomAdmin` in a named room.
    pub(crate) fn from_token(url: &str, token: &str) -> Option<RoomAdmin> {
        use base64::Engine as _;
        let payload = token.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let video = claims.get("video")?;
        if video.get("roomAdmin").and_then(serde_json::Value::as_bool) != Some(true) {
            return None;
        }
        let room = video.get("room")?.as_str().filter(|r| !r.is_empty())?;
        let base = if let Some(rest) = url.strip_prefix("wss://") {
            format!("https://{rest}")
        } else if let Some(rest) = url.strip_prefix("ws://") {
            format!("http://{rest}")
        } else {
            return None;
        };
        let base = base.split(['?', '#']).next().unwrap_or_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?;
        Some(RoomAdmin {
            endpoint: format!(
                "{}/twirp/livekit.RoomService/UpdateParticipant",
                base.trim_end_matches('/')
            ),
            room: room.to_owned(),
            token: token.to_owned(),
            http,
        })
    }

    /// Sets `identity`'s attributes (merged with their others by the server).
    async fn update_attributes(
        &self,
        identity: &str,
        attributes: std::collections::BTreeMap<String, String>,
    ) -> Result<(), RoomError> {
        let body = serde_json::json!({
            "room": self.room,
            "identity": identity,
            "attributes": attributes,
        });
        let res = self
            .http
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                RoomError(format!(
                    "the call server's room API did not answer: {}",
                    e.without_url()
                ))
            })?;
        if res.status().is_success() {
            return Ok(());
        }
        let status = res.status();
        let why: serde_json::Value = res.json().await.unwrap_or_default();
        let msg = why
            .get("msg")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect::<String>();
        Err(RoomError(format!(
            "the call server refused ({status}): {msg}"
        )))
    }
}

/// Our microphone on LiveKit.
#[derive(Debug, Clone)]
pub struct LiveMic {
    source: lk::AudioSource,
    track: lk::LocalAudioTrack,
}

/// Our camera on LiveKit, with the buffer pictures are copied through.
#[derive(Debug, Clone)]
pub struct LiveCamera {
    source: lk::VideoSource,
    track: lk::LocalVideoTrack,
    buffer: Arc<Mutex<Option<lk::I420Buffer>>>,
}

impl Room for LiveRoom {
    type Mic = LiveMic;
    type Camera = LiveCamera;
    type Bytes = lk::ByteWriter;

    fn identity(&self) -> String {
        self.0.local_participant().identity()
    }

    fn name(&self) -> String {
        self.0.info().name
    }

    fn participants(&self) -> Vec<(String, String)> {
        self.0
            .remote_participants()
            .into_iter()
            .map(|p| (p.info.identity, p.info.name))
            .collect()
    }

    fn new_mic(&self) -> Result<LiveMic, RoomError> {
        let source = lk::AudioSource::new(lk::AudioSourceOptions::default())?;
        let track = lk::LocalAudioTrack::new("microphone", &source)?;
        Ok(LiveMic { source, track })
    }

    fn new_camera(&self, width: u32, height: u32) -> Result<LiveCamera, RoomError> {
        let source = lk::VideoSource::new(width, height)?;
        let track = lk::LocalVideoTrack::new("camera", &source)?;
        Ok(LiveCamera {
            source,
            track,
            buffer: Arc::default(),
        })
    }

    async fn publish_mic(&self, mic: &LiveMic) -> Result<(), RoomError> {
        let options = lk::PublishOptions {
            source: lk::TrackSource::Microphone,
            ..Default::default()
        };
        self.0
            .local_participant()
            .publish_track(mic.track.track(), options)
            .await?;
        Ok(())
    }

    async fn publish_camera(&self, camera: &LiveCamera) -> Result<(), RoomError> {
        let me = self.0.local_participant();
        if self.2 == lk::EncoderBackend::Hardware {
            match me
                .publish_track(camera.track.track(), camera_options(self.2))
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) => tracing::warn!(
                    "the camera could not be sent through a hardware encoder ({e}); sending VP8 in software"
                ),
            }
        }
        me.publish_track(
            camera.track.track(),
            camera_options(lk::EncoderBackend::Software),
        )
        .await?;
        Ok(())
    }

    fn may_share_screen(&self) -> bool {
        self.0
            .local_participant()
            .info()
            .may_publish(lk::TrackSource::ScreenShare)
    }

    fn new_screen(&self, width: u32, height: u32) -> Result<LiveCamera, RoomError> {
        let source = lk::VideoSource::new(width, height)?;
        let track = lk::LocalVideoTrack::new("screen", &source)?;
        Ok(LiveCamera {
            source,
            track,
            buffer: Arc::default(),
        })
    }

    async fn publish_screen(&self, screen: &LiveCamera) -> Result<String, RoomError> {
        let options = lk::PublishOptions {
            source: lk::TrackSource::ScreenShare,
            // One sharp layer: a simulcast layer a quarter the size would
            // blur text at the receiver.
            simulcast: false,
            // Enough for text at full HD and 15 fps; a still page costs far
            // less.
            max_video_bitrate: Some((2_500_000, f64::from(tandem_media::screen::DEFAULT_FPS))),
            keep_resolution: true,
            ..Default::default()
        };
        let publication = self
            .0
            .local_participant()
            .publish_track(screen.track.track(), options)
            .await?;
        Ok(publication.sid)
    }

    async fn unpublish(&self, sid: &str) -> Result<(), RoomError> {
        Ok(self.0.local_participant().unpublish_track(sid).await?)
    }

    fn set_key(&self, key: &lk::SharedKey) -> Result<(), RoomError> {
        // Index 0, where the JS SDK's key provider puts a new passphrase's
        // key too.
        Ok(self.0.set_shared_key(key, 0)?)
    }

    async fn send_chat(&self, text: &str) -> Result<String, RoomError> {
        Ok(self.0.local_participant().send_chat(text).await?)
    }

    async fn send_data(&self, topic: &str, payload: Vec<u8>) -> Result<(), RoomError> {
        let options = lk::DataOptions {
            reliable: true,
            topic: Some(topic.to_owned()),
            destinations: vec![],
        };
        Ok(self
            .0
            .local_participant()
            .publish_data(payload, options)
            .await?)
    }

    async fn open_bytes(
        &self,
        options: lk::ByteStreamOptions,
    ) -> Result<lk::ByteWriter, RoomError> {
        Ok(self.0.local_participant().open_bytes(options).await?)
    }

    fn attributes_of(&self, identity: &str) -> std::collections::BTreeMap<String, String> {
        self.0
            .remote_participants()
            .into_iter()
            .find(|p| p.info.identity == identity)
            .map(|p| p.info.attributes)
            .unwrap_or_default()
    }

    async fn set_attributes(
        &self,
        attributes: std::collections::BTreeMap<String, String>,
    ) -> Result<(), RoomError> {
        Ok(self
            .0
            .local_participant()
            .set_attributes(attributes)
            .await?)
    }

    fn may_update_others(&self) -> bool {
        self.1.is_some()
    }

    async fn set_attributes_of(
        &self,
        identity: &str,
        attributes: std::collections::BTreeMap<String, String>,
    ) -> Result<(), RoomError> {
        match &self.1 {
            Some(admin) => admin.update_attributes(identity, attributes).await,
            None => Err(RoomError(
                "the platform's token does not let us change others (no roomAdmin)".into(),
            )),
        }
    }

    async fn video_encoder(&self) -> Option<(String, bool)> {
        let stats = self.0.stats().await.ok()?;
        stats
            .outbound
            .into_iter()
            .find(|s| s.kind == "video" && !s.encoder.is_empty())
            .map(|s| (s.encoder, s.hardware_encoder))
    }

    async fn disconnect(&self) {
        if let Err(e) = self.0.disconnect().await {
            tracing::debug!("leaving the room: {e}");
        }
    }
}

impl BytesOut for lk::ByteWriter {
    async fn write(&self, bytes: Vec<u8>) -> Result<(), RoomError> {
        Ok(lk::ByteWriter::write(self, bytes).await?)
    }

    async fn close(self, reason: Option<String>) -> Result<(), RoomError> {
        Ok(lk::ByteWriter::close(self, reason).await?)
    }
}

impl MicTrack for LiveMic {
    fn set_muted(&self, muted: bool) -> Result<(), RoomError> {
        Ok(self.track.set_muted(muted)?)
    }

    async fn capture(&self, samples: Vec<i16>) -> bool {
        let frame = lk::AudioFrame {
            data: samples,
            sample_rate: tandem_media::audio::RATE,
            channels: 1,
        };
        self.source.capture(frame).await.is_ok()
    }
}

impl CameraTrack for LiveCamera {
    fn set_muted(&self, muted: bool) -> Result<(), RoomError> {
        Ok(self.track.set_muted(muted)?)
    }

    fn resolution(&self) -> (u32, u32) {
        self.source.resolution()
    }

    fn capture(&self, frame: &I420Frame) -> bool {
        let Ok(mut slot) = self.buffer.lock() else {
            return false;
        };
        let (w, h) = self.source.resolution();
        if slot.is_none() {
            match lk::I420Buffer::new(w, h) {
                Ok(b) => *slot = Some(b),
                Err(_) => return false,
            }
        }
        let Some(buf) = slot.as_mut() else {
            return false;
        };
        let (dy, du, dv) = buf.planes_mut();
        let (sy, su, sv) = frame.planes();
        if dy.len() != sy.len() || du.len() != su.len() || dv.len() != sv.len() {
            // Not at the track's size: skipped, the next one may be.
            return true;
        }
        dy.copy_from_slice(sy);
        du.copy_from_slice(su);
        dv.copy_from_slice(sv);
        let meta = lk::FrameMeta {
            user_timestamp_us: u64::try_from(frame.captured_us).ok(),
            frame_id: None,
        };
        self.source.capture(buf, frame.captured_us, meta).is_ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn token_with(claims: &serde_json::Value) -> String {
        use base64::Engine as _;
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.sig",
            b64(br#"{"alg":"HS256"}"#),
            b64(claims.to_string().as_bytes())
        )
    }

    #[test]
    fn only_a_room_admin_token_reaches_the_room_api_of_its_own_server() {
        let admin =
            serde_json::json!({"video": {"roomJoin": true, "room": "r1", "roomAdmin": true}});
        let a = RoomAdmin::from_token("ws://10.0.0.1:7880", &token_with(&admin)).unwrap();
        assert_eq!(
            a.endpoint,
            "http://10.0.0.1:7880/twirp/livekit.RoomService/UpdateParticipant"
        );
        assert_eq!(a.room, "r1");
        let a = RoomAdmin::from_token("wss://lk.example.com/", &token_with(&admin)).unwrap();
        assert_eq!(
            a.endpoint,
            "https://lk.example.com/twirp/livekit.RoomService/UpdateParticipant"
        );
        assert!(
            !format!("{a:?}").contains("sig"),
            "the token is never shown"
        );
        let plain = serde_json::json!({"video": {"roomJoin": true, "room": "r1"}});
        assert!(RoomAdmin::from_token("ws://h:1", &token_with(&plain)).is_none());
        let no_room = serde_json::json!({"video": {"roomAdmin": true}});
        assert!(RoomAdmin::from_token("ws://h:1", &token_with(&no_room)).is_none());
        assert!(RoomAdmin::from_token("ws://h:1", "not.a-token").is_none());
        assert!(RoomAdmin::from_token("http://h:1", &token_with(&admin)).is_none());
    }

    #[tokio::test]
    async fn a_listening_server_is_reachable_and_a_closed_port_is_not() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(reachable(&format!("ws://127.0.0.1:{port}/rtc")).await);
        drop(l);
        assert!(!reachable(&format!("ws://127.0.0.1:{port}")).await);
        assert!(!reachable("not a url").await);
    }
}
