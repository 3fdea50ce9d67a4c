//! The call's public vocabulary: what it is configured with, the states
//! it passes through, the events it reports and the errors it ends with.
//! Kept apart from the actor so callers and the session's own parts read
//! them from one place.

use std::time::Duration;

use tandem_lk as lk;
use tandem_media::audio::{MicChoice, NoiseRemoval, SpeakerChoice};
use tandem_media::camera::{CameraChoice, CaptureFormat, PatternColour};
use tandem_media::effects::BackgroundSwitch;

use crate::diagnose;
use crate::platform::{BackendClient, BackendError, TokenRequest};
use crate::room::RoomError;
use tandem_media::audio::AudioError;
use tandem_media::camera::CameraError;

use super::chat::ChatMessage;

/// What was booked; it decides what is published. (`SessionKind` to the UI.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "bindings",
    derive(serde::Serialize, serde::Deserialize, specta::Type),
    serde(rename = "SessionKind", rename_all = "camelCase")
)]
pub enum SessionType {
    /// Text only: nothing is published.
    Chat,
    /// Microphone only.
    Voice,
    /// Microphone and camera.
    Video,
}

impl SessionType {
    /// Reads a platform's word for a booking; unknown words mean video.
    pub fn from_platform(word: &str) -> Self {
        match word.trim().to_ascii_lowercase().as_str() {
            "chat" | "text" | "messaging" => SessionType::Chat,
            "voice" | "audio" | "phone" | "call" => SessionType::Voice,
            _ => SessionType::Video,
        }
    }
}

/// Where the token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// The platform's backend.
    Backend(Box<BackendClient>, TokenRequest),
    /// Already known (a LiveKit URL and token).
    Direct { url: String, token: String },
}

/// Which devices a call uses.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaConfig {
    pub camera: CameraChoice,
    /// Asked of the camera (it may offer the nearest it has).
    pub capture: CaptureFormat,
    pub mic: MicChoice,
    pub speaker: SpeakerChoice,
    /// Echo cancellation, noise suppression and gain control on the
    /// microphone (with what the speaker plays as the echo reference).
    pub processing: bool,
    /// The neural noise removal after that processing, on real
    /// microphones only; a switch the caller keeps and may turn mid-call
    /// (also through [`CallHandle::set_noise_removal`](super::CallHandle::set_noise_removal)).
    pub denoise: NoiseRemoval,
    /// What happens behind the person in the camera's pictures (the
    /// preview shows it too); a switch the caller keeps, like `denoise`.
    pub background: BackgroundSwitch,
    /// The encoder the camera is sent through: `Auto` is the machine's
    /// hardware encoder where it shows one (H.264; LiveKit's library falls
    /// back to its software encoder when that one cannot start), VP8 in
    /// software otherwise. LiveKit calls only.
    pub encoder: tandem_lk::EncoderBackend,
}

impl MediaConfig {
    /// The system's default camera, microphone and speaker, processed.
    pub fn devices() -> Self {
        Self {
            camera: CameraChoice::Default,
            capture: CaptureFormat::default(),
            mic: MicChoice::Default,
            speaker: SpeakerChoice::Default,
            processing: true,
            denoise: NoiseRemoval::default(),
            background: BackgroundSwitch::default(),
            encoder: tandem_lk::EncoderBackend::Auto,
        }
    }

    /// The moving test pattern and a tone; nothing played (bots, tests).
    pub fn synthetic(tone_hz: f64) -> Self {
        Self {
            camera: CameraChoice::TestPattern(PatternColour::TEAL),
            capture: CaptureFormat {
                width: 640,
                height: 360,
                fps: 30,
            },
            mic: MicChoice::Tone(tone_hz),
            speaker: SpeakerChoice::Discard,
            processing: false,
            denoise: NoiseRemoval::new(false),
            background: BackgroundSwitch::default(),
            encoder: tandem_lk::EncoderBackend::Auto,
        }
    }
}

/// Everything a call needs to start.
#[derive(Debug, Clone)]
pub struct CallConfig {
    pub token: TokenSource,
    pub session_type: SessionType,
    /// Paid minutes, for the remaining-time display and the end warning.
    pub paid_minutes: Option<u32>,
    /// Warn this long before the paid time ends.
    pub warn_before: Duration,
    /// How long a lost call keeps trying to get back in before it ends
    /// (normally [`super::GIVE_UP_AFTER`]).
    pub give_up_after: Duration,
    /// Encrypt the call's media end to end with this key (LiveKit calls;
    /// everyone in the room needs the same key).
    pub e2ee: Option<lk::SharedKey>,
    pub media: MediaConfig,
    /// Start with the microphone / camera on.
    pub mic_on: bool,
    pub camera_on: bool,
    /// Where files others send are kept until saved (created when needed).
    pub received_dir: std::path::PathBuf,
}

impl CallConfig {
    /// A call of `session_type` with `media`: microphone and camera on, no
    /// paid time, a five-minute warning, the usual rejoin limit, not
    /// encrypted. Change the rest with struct update syntax.
    pub fn new(token: TokenSource, session_type: SessionType, media: MediaConfig) -> Self {
        Self {
            token,
            session_type,
            paid_minutes: None,
            warn_before: Duration::from_secs(300),
            give_up_after: super::reconnect::GIVE_UP_AFTER,
            e2ee: None,
            media,
            mic_on: true,
            camera_on: true,
            received_dir: std::env::temp_dir().join("tandem-received"),
        }
    }
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// We left.
    Left,
    /// We ended the session for everyone (the platform was told, where it
    /// has an end-session call).
    SessionEnded,
    /// The server or the platform ended it (its reason).
    Remote(String),
}

/// Why a call could not go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("the LiveKit server refused the token: {likely}")]
    TokenRejected { likely: diagnose::Likely },
    /// The platform's token cannot work (already expired, or for another
    /// room than the one it named), so it was not tried.
    #[error("the platform's token cannot be used: {likely}")]
    TokenUnusable { likely: diagnose::Likely },
    #[error("cannot connect to the call server: {0}")]
    Connect(String),
    #[error("the local media could not start: {0}")]
    Media(MediaError),
    /// The hand could not be raised or lowered.
    #[error("the hand could not be raised or lowered: {0}")]
    Hand(RoomError),
    /// The reaction could not be sent.
    #[error("the reaction could not be sent: {0}")]
    Reaction(RoomError),
    /// The file was not sent (not readable, too large, …); nothing went out.
    #[error("{0}")]
    File(String),
    /// Something LiveKit calls have that seed 004's peer-to-peer calls do not.
    #[error("{0} are not available in this platform's peer-to-peer calls")]
    NotInPeerToPeer(&'static str),
    /// Unmuting failed: the microphone stays off (locally too).
    #[error("the microphone could not be turned on: {0}")]
    Unmute(RoomError),
    /// Sharing could not start (or the call has no video): nothing is shared.
    #[error("the screen could not be shared: {0}")]
    Share(MediaError),
    /// The camera could not be turned on: it stays off.
    #[error("the camera could not be turned on: {0}")]
    CameraOn(MediaError),
    /// A key change in a call that is not end-to-end encrypted (LiveKit
    /// sets encryption up when joining; it cannot be added later).
    #[error("this call is not end-to-end encrypted; only an encrypted call's key can be changed")]
    NotEncrypted,
    /// LiveKit would not take the new key: the old one stays.
    #[error("the key could not be changed (the old one stays): {0}")]
    KeyChange(RoomError),
    /// The command came after the call ended.
    #[error("the call has ended")]
    Ended,
}

/// Why our camera, microphone or speaker could not start or went away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Camera(#[from] CameraError),
    /// LiveKit would not take our track.
    #[error("the call server would not take our {track}: {error}")]
    Publish {
        track: &'static str,
        error: RoomError,
    },
    /// The screen could not be shared, or sharing stopped by itself.
    #[error(transparent)]
    Screen(#[from] tandem_media::screen::ScreenError),
    /// The platform's token does not let us publish this.
    #[error("the platform's token does not allow sharing a screen")]
    NotAllowed,
    /// The booking has no such media (a chat or voice session's camera).
    #[error("this session has no video (booked as chat or voice)")]
    NotBooked,
    /// Screen sharing in a seed-004 call, which goes peer to peer to the
    /// platform's own page: it shows one picture, the camera's.
    #[error("this platform's peer-to-peer calls have no screen sharing")]
    NotInPeerToPeer,
    /// A device's thread failed (a bug, reported rather than hidden).
    #[error("a device thread failed: {0}")]
    Thread(String),
}

/// A reaction to everyone in the call; see [`super::REACTION_TOPIC`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "bindings",
    derive(serde::Serialize, serde::Deserialize, specta::Type),
    serde(rename_all = "snake_case")
)]
pub enum Reaction {
    ThumbsUp,
    Clap,
    Heart,
    Laugh,
    Party,
}

/// A file going to or coming from someone in the call, as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTransfer {
    /// The stream's id (the same on both sides).
    pub id: String,
    /// Who sends it (us, for ours).
    pub identity: String,
    /// We send it.
    pub outgoing: bool,
    /// The name the sender gave, bounded (show it as text; save it only
    /// through [`super::safe_file_name`]).
    pub name: String,
    /// The size announced (ours: the file's), when known.
    pub size: Option<u64>,
    /// The type as the content says (sniffed from its first bytes; the
    /// sender's declared type until enough has arrived).
    pub mime_type: String,
    /// Bytes moved so far.
    pub done: u64,
    pub state: FileState,
}

/// Where a file transfer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Bytes are moving.
    Moving,
    /// All of it arrived (or went out); `path`: where a received file is
    /// kept until the person saves it.
    Done {
        sha256: String,
        path: Option<std::path::PathBuf>,
    },
    /// Stopped by either side; nothing partial is kept.
    Cancelled { by_us: bool },
    /// It could not be completed (why, in words for the person).
    Failed(String),
}

/// Where a call is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    Idle,
    FetchingToken,
    Connecting,
    Connected,
    Reconnecting,
    Ended(EndReason),
    Failed(CallError),
}

/// Everything the UI (or the CLI) hears about.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    State(CallState),
    /// Problems noticed in the token before joining (clock skew…), as advice.
    Warning(String),
    /// We are in the room, under this identity (sent just before the
    /// first `Connected`).
    Joined {
        identity: String,
        room: String,
    },
    /// What the platform says about the session (where its API tells).
    Session(crate::platform::SessionInfo),
    /// Someone is in the call, or changed their display name (bounded to
    /// [`MAX_NAME_CHARS`]).
    ParticipantJoined {
        identity: String,
        name: String,
    },
    ParticipantLeft {
        identity: String,
    },
    TrackSubscribed {
        identity: String,
        kind: lk::TrackKind,
    },
    TrackMuted {
        identity: String,
        /// Which track, when it was subscribed before (mutes of tracks we
        /// never received are reported without).
        kind: Option<lk::TrackKind>,
        muted: bool,
    },
    ChatReceived(ChatMessage),
    /// A message we sent reached the server (both formats).
    ChatSent {
        /// What [`super::CallHandle::send_chat`] returned.
        local_id: u64,
        message: ChatMessage,
    },
    /// A message we sent could not be delivered; the text is kept so the
    /// UI can offer to resend it.
    ChatFailed {
        local_id: u64,
        text: String,
        error: String,
    },
    /// Who is speaking now (identities, loudest first; ours included).
    Speaking(Vec<String>),
    /// A participant's connection quality changed.
    Quality {
        identity: String,
        quality: lk::ConnectionQuality,
    },
    /// A participant's end-to-end encryption changed state (ours under our
    /// own identity): working, or their media does not decrypt.
    Encryption {
        identity: String,
        state: lk::EncryptionState,
    },
    /// Whether we may share a screen in this call (`None`), or why not (a
    /// chat or voice booking, a token without the `screen_share` source).
    /// Said on joining and after each rejoin.
    ShareOffered(Option<MediaError>),
    /// Whether files can be sent now (`None`), or why not. Only
    /// peer-to-peer calls say it: files go there only between two Tandems,
    /// once the other person's app said it takes them.
    FilesOffered(Option<String>),
    /// The encoder our camera's video goes through (its name as WebRTC
    /// gives it: `libvpx`, `OpenH264`, a hardware one's), told when it is
    /// first known and when it changes (a hardware encoder that failed).
    VideoEncoder {
        name: String,
        hardware: bool,
    },
    /// Someone started or stopped sharing a screen (ours under our own
    /// identity, with what we share as `name`); theirs can be read with
    /// [`super::CallHandle::screen`].
    ScreenShare {
        identity: String,
        sharing: bool,
        name: Option<String>,
    },
    /// A participant says they changed the call's key: their media reads
    /// only with the new one (ask for it).
    KeyChanged {
        identity: String,
    },
    /// Someone raised their hand (`raised_at`: when, ms since the epoch)
    /// or lowered it (`None`); ours too, once it took effect.
    Hand {
        identity: String,
        raised_at: Option<i64>,
    },
    /// Whether we may lower others' hands (the platform's token makes us
    /// the room's admin); told on joining.
    MayLowerHands(bool),
    /// A file transfer started, moved on (at most a few times a second),
    /// or ended.
    File(FileTransfer),
    /// Someone reacted (us too, once sent); at most five per sender in
    /// five seconds are told.
    Reaction {
        identity: String,
        reaction: Reaction,
    },
    /// A participant's video can be read with [`super::CallHandle::video`].
    VideoAvailable {
        identity: String,
    },
    /// A device is in use (at the start or after a switch).
    DeviceInUse {
        device: Device,
        name: String,
    },
    /// A device failed or could not open; the call goes on without it.
    DeviceProblem {
        device: Device,
        error: MediaError,
    },
    /// Once a second while connected.
    Timer {
        elapsed: Duration,
        remaining: Option<Duration>,
        ending_soon: bool,
    },
}

/// A kind of local device. (`DeviceKind` to the UI.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "bindings",
    derive(serde::Serialize, serde::Deserialize, specta::Type),
    serde(rename = "DeviceKind", rename_all = "camelCase")
)]
pub enum Device {
    Camera,
    Microphone,
    Speaker,
}

/// The identity under which the local camera preview is kept.
pub const LOCAL_VIDEO: &str = "";

/// What arrives from one remote participant, for stats and self-tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Received {
    pub video_frames: u64,
    pub video_size: (u32, u32),
    /// Capture-to-receipt delay read from the test pattern's stamp, when the
    /// sender draws one (glass-to-glass less our own drawing).
    pub video_latency_ms: Option<i64>,
    /// The stamp's frame counter, when there is one.
    pub video_counter: Option<u32>,
    pub audio_frames: u64,
    /// Level of the last half second.
    pub audio_dbfs: f32,
    /// Frequency of the last half second, when it is a single tone.
    pub audio_hz: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bookings_word_decides_what_is_sent() {
        assert_eq!(SessionType::from_platform("Chat"), SessionType::Chat);
        assert_eq!(SessionType::from_platform(" audio "), SessionType::Voice);
        assert_eq!(SessionType::from_platform("video"), SessionType::Video);
        assert_eq!(SessionType::from_platform("yoga"), SessionType::Video);
    }
}
