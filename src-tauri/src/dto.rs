//! The shapes that cross to the UI (commands' arguments and results, and
//! events). TypeScript bindings are generated from these into
//! `ui/src/lib/ipc/bindings.ts`; a test fails when that file is stale.

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::error::AppError;

/// A platform's API shape (see tandem-call's `Profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
pub enum ProfileId {
    /// `GET /api/livekit-token?sessionId=`, signed in with email and
    /// password or a bearer token (tandem-backend's own shape).
    #[serde(rename = "000")]
    Seed000,
    /// Supabase function; needs the project's anon key.
    #[serde(rename = "001")]
    Seed001,
    /// Admin session token endpoint.
    #[serde(rename = "002")]
    Seed002,
    /// `POST /api/livekit/token` by room name.
    #[serde(rename = "003")]
    Seed003,
    /// Join links.
    #[serde(rename = "004")]
    Seed004,
}

/// A platform the user added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Platform {
    pub id: String,
    pub name: String,
    pub backend_url: String,
    pub profile: ProfileId,
    /// Supabase anon key (public; profile 001, and any platform whose
    /// sign-in is Supabase's).
    pub anon_key: Option<String>,
    /// The Supabase project to sign in at, when it is not the backend
    /// address itself (profile 000: the app's API on its own host).
    #[serde(default)]
    pub supabase_url: Option<String>,
    /// The Socket.IO server of seed 004's peer-to-peer calls, when it is not
    /// the platform's host on port 3001 (as a join link may say).
    #[serde(default)]
    pub socket_url: Option<String>,
    /// How seed 004's peer-to-peer calls cross NATs (never the TURN
    /// credential, which stays in the keychain).
    #[serde(default)]
    pub network: Network,
    /// Who is signed in (an email, or "token").
    pub account: Option<String>,
    /// Credentials are in the keychain (or, when it is unavailable, held
    /// for this run only: then `remembered` is false).
    pub signed_in: bool,
    pub remembered: bool,
}

/// The STUN and TURN servers of a seed-004 platform's calls, as its web
/// page has them in `iceServers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    /// `stun:host:port` each.
    pub stun: Vec<String>,
    /// `turn:host:port`.
    pub turn_url: Option<String>,
    pub turn_username: Option<String>,
    /// Whether the keychain (or this run) holds the TURN credential.
    pub has_turn_credential: bool,
    /// Media only through the TURN relay.
    pub relay_only: bool,
}

/// What the network form sends: the credential only when typed anew
/// (`None` keeps the one stored).
#[derive(Debug, Clone, Default, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct NetworkChange {
    pub stun: Vec<String>,
    pub turn_url: Option<String>,
    pub turn_username: Option<String>,
    pub turn_credential: Option<String>,
    pub relay_only: bool,
}

/// What the "add platform" form sends.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct NewPlatform {
    pub name: String,
    pub backend_url: String,
    pub profile: ProfileId,
    pub anon_key: Option<String>,
    /// Supabase project address (000), when it signs in there.
    #[serde(default)]
    pub supabase_url: Option<String>,
    /// Socket.IO server of peer-to-peer calls (004), when not the default.
    #[serde(default)]
    pub socket_url: Option<String>,
}

/// How to sign in.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SignIn {
    Password { email: String, password: String },
    Bearer { token: String },
}

/// A reaction, as the engine names it.
pub use tandem_call::session::Reaction;

/// What kind of session was booked; it decides what is offered.
/// What was booked: the engine's own type, as the UI names it.
pub use tandem_call::session::SessionType as SessionKind;

/// A session to join, as the prejoin screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct JoinTarget {
    pub platform_id: String,
    /// Session id (profiles 000, 002) or room (003).
    pub session: Option<String>,
    /// Join-link token (profile 004).
    pub link: Option<String>,
    pub kind: SessionKind,
    pub title: String,
    /// The other person, when the platform says.
    pub other_name: Option<String>,
    pub paid_minutes: Option<u32>,
    /// RFC 3339, when the platform says.
    pub starts_at: Option<String>,
    /// The link carried a passphrase (`#key=`): the call will be end-to-end
    /// encrypted. The passphrase itself stays in the app, never in the page.
    #[serde(default)]
    pub encrypted: bool,
}

/// Devices the system offers. Ids are passed back to choose one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DeviceList {
    pub cameras: Vec<DeviceEntry>,
    pub microphones: Vec<DeviceEntry>,
    pub speakers: Vec<DeviceEntry>,
}

/// A screen or window that can be shared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ScreenEntry {
    /// Passed back to share it.
    pub id: String,
    /// A monitor's name or a window's title: text, never markup.
    pub name: String,
    /// A whole screen (false: one window).
    pub screen: bool,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DeviceEntry {
    pub id: String,
    pub name: String,
    pub is_default: bool,
}

/// The camera id meaning "the moving test pattern" (machines without a
/// camera, demos).
pub const TEST_PATTERN: &str = "test-pattern";

/// A kind of local device: the engine's own type, as the UI names it.
pub use tandem_call::session::Device as DeviceKind;

/// What the prejoin screen chose.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequest {
    pub target: JoinTarget,
    pub display_name: String,
    /// Device ids; `None` = the system default.
    pub camera: Option<String>,
    pub microphone: Option<String>,
    pub speaker: Option<String>,
    pub camera_on: bool,
    pub mic_on: bool,
    /// Remove background noise from a real microphone (on unless said).
    #[serde(default = "on")]
    pub noise_removal: bool,
    /// A passphrase both people agreed on: the call's media is encrypted
    /// end to end with it. Kept in memory for the call only.
    #[serde(default)]
    pub passphrase: Option<String>,
}

fn on() -> bool {
    true
}

/// What happens behind the person in the camera's pictures.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum BackgroundChoice {
    Off,
    /// Softened.
    Blur,
    /// Unreadable.
    BlurStrong,
    /// One of the scenes that come with Tandem, by name.
    Scene(String),
    /// The picture the person picked last (kept by the app).
    Picture,
}

/// How the background effect is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BackgroundStatus {
    /// Why the chosen effect is not applied, when it is not (a machine
    /// too slow for it, a broken model).
    pub problem: Option<String>,
    /// How many camera pictures share one look for the person: 1 when the
    /// machine keeps up, more when it is busy; 0 before the first.
    pub pictures_per_mask: u32,
    /// The scenes that come with Tandem.
    pub scenes: Vec<String>,
    /// The name of the picture the person picked, when one is kept.
    pub picture: Option<String>,
}

/// The preview's state after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PreviewState {
    /// The camera shown (its name), when one is open.
    pub camera: Option<String>,
    /// Why the camera or microphone could not open.
    pub camera_error: Option<String>,
    pub mic_error: Option<String>,
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum CallPhase {
    FetchingToken,
    Connecting,
    Connected,
    Reconnecting,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum EndKind {
    Left,
    SessionEnded,
    Remote,
}

/// A participant's link quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum Quality {
    Excellent,
    Good,
    Poor,
    Lost,
}

/// A chat message (text only; the UI renders it as text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChatLine {
    pub id: String,
    pub from: String,
    pub text: String,
    /// Sender's clock, ms since the Unix epoch (f64: exact to 2^53; typed
    /// as a plain number, which it always is).
    #[specta(type = u32)]
    pub timestamp_ms: f64,
}

/// A file in chat, as it stands (names are shown as text, never markup).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct FileLine {
    pub id: String,
    /// Who sends it (we, for ours).
    pub identity: String,
    pub outgoing: bool,
    /// The name the sender gave.
    pub name: String,
    /// Bytes announced, when known (a plain number, exact to 2^53).
    #[specta(type = Option<u32>)]
    pub size: Option<f64>,
    /// The type as the content says.
    pub mime_type: String,
    /// Bytes moved so far.
    #[specta(type = u32)]
    pub done: f64,
    pub status: FileStatus,
    /// Why it failed, in words.
    pub error: Option<String>,
    pub sha256: Option<String>,
}

/// Where a file transfer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum FileStatus {
    Moving,
    Done,
    /// Stopped by us.
    Cancelled,
    /// Stopped by the sender.
    CancelledBySender,
    Failed,
}

/// Everything a running call tells the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Type, tauri_specta::Event)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum CallUpdate {
    Phase {
        phase: CallPhase,
    },
    /// Our own identity in the room, once connected.
    Joined {
        identity: String,
        room: String,
    },
    Ended {
        kind: EndKind,
        /// What a person reads ("You left", the server's reason…).
        reason: String,
        duration_secs: u32,
    },
    Failed {
        error: AppError,
    },
    Warning {
        message: String,
    },
    Session {
        kind: SessionKind,
        other_name: String,
        paid_minutes: Option<u32>,
    },
    ParticipantJoined {
        identity: String,
        name: String,
    },
    ParticipantLeft {
        identity: String,
    },
    Muted {
        identity: String,
        /// Which track; `None` when unknown.
        video: Option<bool>,
        muted: bool,
    },
    /// Messages received, oldest first (several when they arrive quickly).
    Chat {
        messages: Vec<ChatLine>,
    },
    ChatSent {
        local_id: u32,
        message: ChatLine,
    },
    ChatFailed {
        local_id: u32,
        text: String,
        error: String,
    },
    Speaking {
        identities: Vec<String>,
    },
    Quality {
        identity: String,
        quality: Quality,
    },
    /// Video of `identity` can be shown (view source `identity`).
    Video {
        identity: String,
    },
    DeviceInUse {
        device: DeviceKind,
        name: String,
    },
    /// A participant's end-to-end encryption (ours under our identity):
    /// `working`, or their media does not decrypt (`failing`).
    Encryption {
        identity: String,
        working: bool,
    },
    /// Whether we may lower others' hands (the platform made us the
    /// session's host).
    MayLowerHands {
        allowed: bool,
    },
    /// Whether we may share a screen (`whyNot` null), or why not.
    ShareOffered {
        why_not: Option<String>,
    },
    /// Whether files can be sent now (`whyNot` null), or why not (a
    /// peer-to-peer call whose other side is not Tandem).
    FilesOffered {
        why_not: Option<String>,
    },
    /// The encoder our camera's video goes through (`libvpx`, `OpenH264`,
    /// a hardware one's), and whether it is a hardware one.
    VideoEncoder {
        name: String,
        hardware: bool,
    },
    /// Someone started or stopped sharing a screen (we, under our own
    /// identity, with what we share as `name`). Theirs is video source
    /// `screen:<identity>`.
    ScreenShare {
        identity: String,
        sharing: bool,
        name: Option<String>,
    },
    /// A participant changed the call's passphrase: their media reads only
    /// with the new one (ask the person for it).
    KeyChanged {
        identity: String,
    },
    /// Someone raised their hand (`raised_at_ms`: when, ms since the epoch)
    /// or lowered it (`null`); we too, once ours took effect.
    Hand {
        identity: String,
        raised_at_ms: Option<f64>,
    },
    /// Someone reacted (we too, once ours was sent).
    Reaction {
        identity: String,
        reaction: Reaction,
    },
    /// A file in chat started, moved on, or ended.
    File {
        file: FileLine,
    },
    DeviceProblem {
        device: DeviceKind,
        error: String,
    },
    Timer {
        elapsed_secs: u32,
        remaining_secs: Option<u32>,
        ending_soon: bool,
    },
}

/// The preview microphone's level, about 20 times a second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct MicLevel {
    /// RMS, dBFS (−100 = silence; never NaN).
    #[specta(type = i32)]
    pub dbfs: f32,
}

/// What the command line asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LaunchOptions {
    /// A join link (`tandem://join?…` or https) to open at start.
    pub link: Option<String>,
    /// The display name to fill in.
    pub name: Option<String>,
    /// Join without waiting on the prejoin screen.
    pub join_now: bool,
}

impl LaunchOptions {
    /// Reads `[LINK] [--name NAME] [--join-now]`; anything else is ignored
    /// (with a warning), so an odd launcher cannot stop the app.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Self {
        let mut out = LaunchOptions::default();
        let mut args = args.into_iter();
        while let Some(a) = args.next() {
            match a.as_str() {
                "--name" => out.name = args.next().map(|n| n.chars().take(64).collect()),
                "--join-now" => out.join_now = true,
                _ if out.link.is_none()
                    && (a.starts_with("tandem:")
                        || a.starts_with("https:")
                        || a.starts_with("http:"))
                    && a.len() <= 4096 =>
                {
                    out.link = Some(a);
                }
                _ => tracing::warn!("ignoring an unknown command-line argument"),
            }
        }
        out
    }
}

/// Another launch of Tandem handed over a join link (the OS opened a
/// `tandem://` link while the app was running).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct OpenLink {
    pub link: String,
}
