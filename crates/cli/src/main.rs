//! `tandem-cli`: a headless Tandem. Join a call with this machine's camera,
//! microphone and speaker (or a test pattern and a tone), run a test bot that
//! echoes chat, list devices, or mint a dev token.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use livekit_api::access_token::{AccessToken, VideoGrants};
use tandem_call::media::effects::Background;
use tandem_call::platform::{Auth, BackendClient, P2p, Profile, TokenRequest};
use tandem_call::session::{
    self, CallConfig, CallEvent, CallState, MediaConfig, SessionType, TokenSource,
};
use tokio::io::AsyncBufReadExt as _;

/// Prints a line; a closed stdout (piped into `head`, a test that stopped
/// reading) is ignored instead of panicking.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

mod console;
mod files;
use console::{command, print_event, print_stats, screen_choice};

#[derive(Debug, Parser)]
#[command(name = "tandem-cli", version, about = "Tandem from a terminal")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Join a call; prints its events, sends each stdin line as chat (lines
    /// starting with `/` are commands: `/end`, `/mute`, `/speaker <id>`…);
    /// Ctrl-C leaves.
    Join(Conn),
    /// A test peer: publishes the moving pattern and a tone, echoes chat, reports what it receives.
    Bot(Conn),
    /// Mint a LiveKit token (with --dev: the dev server's devkey/secret).
    Token(TokenArgs),
    /// List cameras, microphones and speakers (ids for --camera, --mic, --speaker).
    Devices,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Chat,
    Voice,
    Video,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

#[derive(Debug, Args)]
struct Conn {
    /// A join link, as the app opens it: a platform's
    /// `https://…/join?token=…` or `tandem://join?…` (a session link takes
    /// the sign-in options below).
    #[arg(value_name = "LINK", conflicts_with_all = ["url", "backend", "link", "session"])]
    open: Option<String>,
    /// LiveKit server URL (with --token), e.g. ws://127.0.0.1:7880.
    #[arg(long, requires = "token", conflicts_with = "backend")]
    url: Option<String>,
    /// LiveKit token (with --url).
    #[arg(long, requires = "url")]
    token: Option<String>,
    /// The platform backend's URL, e.g. http://127.0.0.1:3000.
    #[arg(long, requires = "profile")]
    backend: Option<String>,
    /// The backend's API shape: 000, 001, 002, 003 or 004.
    #[arg(long)]
    profile: Option<String>,
    /// Session id (profiles 000, 002).
    #[arg(long)]
    session: Option<String>,
    /// Room type (001) or room name (003).
    #[arg(long)]
    room: Option<String>,
    /// Join-link token (004).
    #[arg(long)]
    link: Option<String>,
    /// Your bearer token (JWT) for the backend.
    #[arg(long, conflicts_with = "email")]
    auth: Option<String>,
    /// Sign in with this email (and --password): at the Supabase project
    /// when --apikey is given (GoTrue's password grant), else at
    /// tandem-backend's `/api/auth/login`.
    #[arg(long, requires = "password")]
    email: Option<String>,
    #[arg(long)]
    password: Option<String>,
    /// Supabase anon key (profile 001, or any Supabase sign-in), sent as `apikey`.
    #[arg(long)]
    apikey: Option<String>,
    /// The Supabase project to sign in at, when it is not --backend
    /// (profile 000: the app's API and its Supabase project differ).
    #[arg(long, requires = "apikey")]
    supabase_url: Option<String>,
    /// Hold seed-004 calls peer to peer (the platform's own way) even when
    /// it also has a LiveKit token endpoint; without it, only when it has none.
    #[arg(long)]
    p2p: bool,
    /// The Socket.IO server of seed-004 peer-to-peer calls (default: the
    /// platform's host on port 3001, as the seed's web app is built).
    #[arg(long, value_parser = parse_socket_url)]
    socket_url: Option<String>,
    /// A STUN server for seed-004 peer-to-peer calls across NATs
    /// (`stun:host:port`; repeatable). None by default: host addresses only.
    #[arg(long, value_parser = parse_stun)]
    stun: Vec<String>,
    /// A TURN server relaying seed-004 peer-to-peer media when no direct
    /// path works (`turn:host:port`, UDP), with --turn-username and
    /// --turn-credential (or TANDEM_TURN_CREDENTIAL, kept out of the
    /// process list).
    #[arg(long, value_parser = parse_turn, requires = "turn_username")]
    turn: Option<String>,
    /// The TURN server's username.
    #[arg(long, requires = "turn")]
    turn_username: Option<String>,
    /// The TURN server's credential (TANDEM_TURN_CREDENTIAL works too).
    #[arg(long, requires = "turn")]
    turn_credential: Option<String>,
    /// Media only through the TURN relay, never straight between the two
    /// computers (a browser's iceTransportPolicy "relay").
    #[arg(long, requires = "turn")]
    relay_only: bool,
    /// Display name to ask for (001, 003).
    #[arg(long)]
    name: Option<String>,
    /// Session type: what to publish.
    #[arg(long, value_enum, default_value = "video")]
    r#type: Kind,
    /// Camera: `default`, a camera id from `tandem-cli devices`,
    /// `test-pattern`, `picture:PATH` (a JPEG or PNG shown as a camera), or
    /// `none`. The bot always sends the test pattern.
    #[arg(long, default_value = "default")]
    camera: String,
    /// Microphone: `default`, an id from `tandem-cli devices`, `tone`, or
    /// `silence`. The bot always sends the tone.
    #[arg(long, default_value = "default")]
    mic: String,
    /// Speaker: `default`, an id from `tandem-cli devices`, or `none`.
    #[arg(long, default_value = "default")]
    speaker: String,
    /// Capture size and rate, WIDTHxHEIGHT@FPS (cameras: the nearest they
    /// offer). Default: 1280x720@30 for cameras, 640x360@30 for the pattern.
    #[arg(long, value_parser = parse_capture)]
    capture: Option<tandem_call::media::camera::CaptureFormat>,
    /// Turn off echo cancellation, noise suppression and gain control.
    #[arg(long)]
    no_processing: bool,
    /// Neural noise removal on a real microphone (keyboards, voices
    /// around, traffic), after echo cancellation. `/denoise on|off` while in
    /// the call.
    #[arg(long, value_enum, default_value = "on")]
    denoise: Switch,
    /// Behind the person in the camera's pictures: `off`, `blur`,
    /// `blur-strong`, `scene:NAME` (a picture that comes with Tandem:
    /// studio, dawn, leaves) or `image:PATH` (a JPEG or PNG up to 20 MB).
    /// `/background …` while in the call.
    #[arg(long, default_value = "off", value_parser = parse_background)]
    background: Background,
    /// The encoder the camera goes through (LiveKit calls): `auto` (the
    /// machine's hardware encoder when it shows one, sending H.264; VP8 in
    /// software otherwise), `software` or `hardware` (H.264; LiveKit's
    /// library falls back to software when no hardware encoder starts).
    #[arg(long, value_enum, default_value = "auto")]
    encoder: Encoder,
    /// Tone frequency in Hz.
    #[arg(long, default_value_t = 440.0)]
    tone_hz: f64,
    /// Share a screen or window once in the call: an id from `tandem-cli
    /// devices` (`screen:0`, `window:0x…`), or `synthetic` (a moving page of
    /// text and colour blocks). `/share <id>` and `/share off` while in it.
    #[arg(long, value_name = "ID")]
    share: Option<String>,
    /// Send this file to everyone once in the call (up to 100 MB; may be
    /// given more than once). `/send <path>` while in it.
    #[arg(long, value_name = "PATH")]
    send_file: Vec<PathBuf>,
    /// Save files others send in this folder (never replacing a file:
    /// `name (2).ext`); without it they are checked and then deleted.
    #[arg(long, value_name = "DIR")]
    save_files: Option<PathBuf>,
    /// Leave after this many seconds.
    #[arg(long)]
    seconds: Option<u64>,
    /// Encrypt the call's media and chat end to end with this shared passphrase
    /// (LiveKit calls; everyone needs the same one). TANDEM_E2EE_KEY works
    /// too and keeps it out of the process list.
    #[arg(long, value_name = "PASSPHRASE")]
    e2ee_key: Option<String>,
    /// How many seconds a lost call keeps trying to get back in before it
    /// ends.
    #[arg(long, default_value_t = session::GIVE_UP_AFTER.as_secs(), value_parser = clap::value_parser!(u64).range(5..=3600))]
    give_up_after: u64,
    /// Print what arrives from each participant this often (seconds; 0: never).
    #[arg(long, default_value_t = 5)]
    stats: u64,
    /// Print stats as JSON lines (`stats {...}`), for scripts.
    #[arg(long)]
    json_stats: bool,
}

#[derive(Debug, Args)]
struct TokenArgs {
    /// Sign with the dev server's devkey/secret.
    #[arg(long)]
    dev: bool,
    #[arg(long, required_unless_present = "dev")]
    key: Option<String>,
    #[arg(long, required_unless_present = "dev")]
    secret: Option<String>,
    #[arg(long)]
    room: String,
    #[arg(long)]
    identity: String,
    #[arg(long)]
    name: Option<String>,
    /// Validity in minutes.
    #[arg(long, default_value_t = 120)]
    minutes: u64,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,livekit=error,pulseaudio=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().cmd {
        Cmd::Token(t) => token(t),
        Cmd::Join(c) => call(c, false).await,
        Cmd::Bot(c) => call(c, true).await,
        Cmd::Devices => devices(),
    };
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("tandem-cli: {e:#}");
            1
        }
    };
    // Exit now: a blocking read of a terminal's stdin (chat input) would
    // otherwise hold the runtime's shutdown until Enter is pressed.
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

fn token(t: TokenArgs) -> Result<()> {
    let (key, secret) = if t.dev {
        ("devkey".to_owned(), "secret".to_owned())
    } else {
        (t.key.context("--key")?, t.secret.context("--secret")?)
    };
    if t.room.is_empty() || t.identity.is_empty() {
        bail!("--room and --identity must not be empty");
    }
    let jwt = AccessToken::with_api_key(&key, &secret)
        .with_identity(&t.identity)
        .with_name(t.name.as_deref().unwrap_or(&t.identity))
        .with_ttl(Duration::from_secs(t.minutes.clamp(1, 7 * 24 * 60) * 60))
        .with_grants(VideoGrants {
            room_join: true,
            room: t.room,
            can_update_own_metadata: Some(true),
            ..Default::default()
        })
        .to_jwt()?;
    say!("{jwt}");
    Ok(())
}

async fn token_source(c: &Conn) -> Result<TokenSource> {
    if let (Some(url), Some(token)) = (&c.url, &c.token) {
        return Ok(TokenSource::Direct {
            url: url.clone(),
            token: token.clone(),
        });
    }
    // A link names the platform, its type and the session; flags do otherwise.
    let mut linked_socket = None;
    let (base, profile, session, link) = match &c.open {
        Some(l) => match tandem_call::link::parse(l)? {
            tandem_call::link::Link::Join {
                backend,
                token,
                socket,
            } => {
                linked_socket = socket.map(|s| s.as_str().trim_end_matches('/').to_owned());
                (backend.to_string(), Profile::Seed004, None, Some(token))
            }
            tandem_call::link::Link::Session {
                backend,
                profile,
                session,
            } => (backend.to_string(), profile, Some(session), None),
        },
        None => {
            let (Some(base), Some(p)) = (&c.backend, &c.profile) else {
                bail!("give a join link, --url and --token, or --backend and --profile");
            };
            let profile = Profile::named(p)
                .with_context(|| format!("unknown profile {p:?}: use 000, 001, 002, 003 or 004"))?;
            (base.clone(), profile, c.session.clone(), c.link.clone())
        }
    };
    let base = base.trim_end_matches('/');
    // Profiles 001 and 003 take a room (type) where the others take a session.
    let (session, room) = match (&profile, session) {
        (Profile::Seed001 | Profile::Seed003, Some(s)) => (None, Some(s)),
        (_, s) => (s, c.room.clone()),
    };
    let auth = match (&c.auth, &c.email, &c.password) {
        (Some(jwt), _, _) => match &c.apikey {
            Some(k) => Auth::Supabase {
                jwt: jwt.clone(),
                anon_key: k.clone(),
            },
            None => Auth::Bearer(jwt.clone()),
        },
        (None, Some(email), Some(password)) => match &c.apikey {
            Some(k) => {
                let project = tandem_call::supabase::SupabaseProject::new(
                    c.supabase_url.as_deref().unwrap_or(base),
                    k,
                )?;
                let session = project.sign_in(email, password).await?;
                Auth::Session(tandem_call::supabase::SignedIn::new(
                    project,
                    session,
                    Box::new(|_| {}),
                ))
            }
            None => Auth::Bearer(tandem_call::platform::login(base, email, password).await?),
        },
        _ => Auth::None,
    };
    let client = BackendClient::new(base, profile, auth)?.with_p2p(P2p {
        always: c.p2p,
        socket_url: c.socket_url.clone().or(linked_socket),
        stun: c.stun.clone(),
        turn: turn_server(c)?.into_iter().collect(),
        relay_only: c.relay_only,
    });
    let req = TokenRequest {
        session,
        room,
        name: c.name.clone(),
        link,
    };
    Ok(TokenSource::Backend(Box::new(client), req))
}

fn parse_stun(s: &str) -> Result<String, String> {
    tandem_call::p2p::stun::parse_server(s)
        .map(|_| s.trim().to_owned())
        .ok_or_else(|| {
            format!("{s:?} is not a STUN server (stun:host:port); a TURN server goes in --turn")
        })
}

fn parse_turn(s: &str) -> Result<String, String> {
    tandem_call::p2p::turn::parse_url(s).map_err(|e| e.to_string())
}

/// The TURN server of --turn, with its username and credential.
fn turn_server(c: &Conn) -> Result<Option<tandem_call::p2p::turn::TurnServer>> {
    let (Some(url), Some(username)) = (&c.turn, &c.turn_username) else {
        return Ok(None);
    };
    let credential = c
        .turn_credential
        .clone()
        .or_else(|| std::env::var("TANDEM_TURN_CREDENTIAL").ok())
        .ok_or_else(|| anyhow!("--turn needs --turn-credential (or TANDEM_TURN_CREDENTIAL)"))?;
    let address = tandem_call::p2p::turn::parse_url(url)?;
    Ok(Some(tandem_call::p2p::turn::TurnServer {
        address,
        username: username.clone(),
        credential,
    }))
}

fn parse_socket_url(s: &str) -> Result<String, String> {
    tandem_call::link::backend_url(s)
        .map(|u| u.as_str().trim_end_matches('/').to_owned())
        .map_err(|e| e.to_string())
}

/// Parses `1280x720@30` (the rate is optional, default 30).
fn parse_capture(s: &str) -> Result<tandem_call::media::camera::CaptureFormat, String> {
    let bad = || format!("{s:?} is not WIDTHxHEIGHT@FPS, e.g. 1280x720@30");
    let (size, fps) = s.split_once('@').unwrap_or((s, "30"));
    let (w, h) = size.split_once('x').ok_or_else(bad)?;
    let (width, height, fps): (u32, u32, u32) = (
        w.parse().map_err(|_| bad())?,
        h.parse().map_err(|_| bad())?,
        fps.parse().map_err(|_| bad())?,
    );
    if !(64..=3840).contains(&width) || !(36..=2160).contains(&height) || !(1..=60).contains(&fps) {
        return Err(format!(
            "{s:?}: sizes go from 64x36 to 3840x2160, rates from 1 to 60"
        ));
    }
    Ok(tandem_call::media::camera::CaptureFormat { width, height, fps })
}

/// Lists what `--camera`, `--mic` and `--speaker` accept.
fn devices() -> Result<()> {
    use tandem_call::media::{audio, camera};
    say!("cameras:");
    match camera::list_cameras() {
        Ok(l) if l.is_empty() => say!("  (none found)"),
        Ok(l) => l
            .iter()
            .for_each(|c| say!("  {:<24} {}", c.id, c.name.escape_debug())),
        Err(e) => say!("  (cannot list: {e})"),
    }
    say!("screens and windows (--share):");
    match tandem_call::media::screen::list_screens() {
        Ok(l) => l.iter().for_each(|s| {
            // A share through the desktop portal has no size until chosen.
            let size = if s.width == 0 {
                String::new()
            } else {
                format!(" ({}×{})", s.width, s.height)
            };
            say!("  {:<24} {}{size}", s.id, s.name.escape_debug())
        }),
        Err(e) => say!("  (cannot list: {e})"),
    }
    say!(
        "  {:<24} a moving page of text and colour blocks",
        "synthetic"
    );
    let list = audio::devices();
    for (title, devices) in [("microphones", &list.inputs), ("speakers", &list.outputs)] {
        say!("{title}:");
        if devices.is_empty() {
            say!("  (none found)");
        }
        for d in devices {
            let mark = if d.is_default { " (default)" } else { "" };
            say!("  {:<24} {}{mark}", d.id, d.name.escape_debug());
        }
    }
    Ok(())
}

/// The devices a `join` (or, synthetic, a `bot`) uses.
fn media(c: &Conn, bot: bool) -> Result<(MediaConfig, bool)> {
    use tandem_call::media::audio::{MicChoice, SpeakerChoice};
    use tandem_call::media::camera::{CameraChoice, PatternColour};
    if !(1.0..=20_000.0).contains(&c.tone_hz) {
        bail!("--tone-hz must be between 1 and 20000");
    }
    let mut m = MediaConfig::synthetic(c.tone_hz);
    m.encoder = match c.encoder {
        Encoder::Auto => tandem_call::lk::EncoderBackend::Auto,
        Encoder::Software => tandem_call::lk::EncoderBackend::Software,
        Encoder::Hardware => tandem_call::lk::EncoderBackend::Hardware,
    };
    if bot {
        m.capture = c.capture.unwrap_or(m.capture);
        return Ok((m, true));
    }
    let camera_on = c.camera != "none";
    m.camera = match c.camera.as_str() {
        "test-pattern" => CameraChoice::TestPattern(PatternColour::TEAL),
        id if let Some(path) = id.strip_prefix("picture:") => CameraChoice::Picture(path.into()),
        "default" | "none" => CameraChoice::Default,
        id => CameraChoice::Id(id.to_owned()),
    };
    m.mic = match c.mic.as_str() {
        "tone" => MicChoice::Tone(c.tone_hz),
        "silence" => MicChoice::Silence,
        "default" => MicChoice::Default,
        id => MicChoice::Id(id.to_owned()),
    };
    m.speaker = match c.speaker.as_str() {
        "none" => SpeakerChoice::Discard,
        "default" => SpeakerChoice::Default,
        id => SpeakerChoice::Id(id.to_owned()),
    };
    m.processing = !c.no_processing && !matches!(m.mic, MicChoice::Tone(_) | MicChoice::Silence);
    m.denoise.set(c.denoise == Switch::On);
    m.background.set(c.background.clone());
    if m.camera != CameraChoice::TestPattern(PatternColour::TEAL) {
        m.capture = Default::default();
    }
    m.capture = c.capture.unwrap_or(m.capture);
    Ok((m, camera_on))
}

async fn call(c: Conn, bot: bool) -> Result<()> {
    let (media, camera_on) = media(&c, bot)?;
    let source = token_source(&c).await?;
    let given = match c
        .e2ee_key
        .clone()
        .or_else(|| std::env::var("TANDEM_E2EE_KEY").ok())
    {
        Some(k) => Some(
            tandem_call::lk::SharedKey::from_passphrase(&k)
                .context("the end-to-end encryption passphrase")?,
        ),
        None => None,
    };
    // A join link may carry the session's passphrase after `#key=`.
    let linked = match &c.open {
        Some(l) => tandem_call::link::encryption_key(l)?,
        None => None,
    };
    let e2ee = match (given, linked) {
        (Some(g), Some(l)) if g != l => {
            bail!("--e2ee-key and the link's #key= differ: give one of them")
        }
        (g, l) => g.or(l),
    };
    let (handle, mut events) = session::start(CallConfig {
        token: source,
        session_type: match c.r#type {
            Kind::Chat => SessionType::Chat,
            Kind::Voice => SessionType::Voice,
            Kind::Video => SessionType::Video,
        },
        paid_minutes: None,
        warn_before: Duration::from_secs(300),
        give_up_after: Duration::from_secs(c.give_up_after),
        e2ee,
        media,
        mic_on: true,
        camera_on,
        received_dir: files::received_dir(c.save_files.as_deref()),
    });
    let mut files = files::Files::new(c.save_files.clone());
    let mut to_send = c.send_file.clone();
    let (mut files_wait, mut connected) = (false, false);
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = !bot;
    let stop = async {
        match c.seconds {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::pin!(stop);
    let mut left = false;
    let started = std::time::Instant::now();
    // Quick ticks until the first picture (to time it), then every --stats seconds.
    let mut probe = tokio::time::interval(Duration::from_millis(20));
    let mut first_seen: std::collections::HashSet<String> = Default::default();
    // Per participant: frames so far, and when the count last grew.
    let mut flowing: std::collections::HashMap<String, (u64, std::time::Instant)> =
        Default::default();
    let mut last_report = std::time::Instant::now();
    let mut last: std::collections::HashMap<String, session::Received> = Default::default();
    let mut share = c.share.as_deref().map(screen_choice);
    // Why the background effect is not applied, as last said.
    let mut effect_problem = None;
    loop {
        tokio::select! {
            _ = probe.tick() => {
                let now = handle.received();
                for (who, r) in &now {
                    let first = r.video_frames > 0 && first_seen.insert(who.clone());
                    if first {
                        say!("first video from {} after {} ms", who.escape_debug(), started.elapsed().as_millis());
                    }
                    // A picture that stopped (a network cut) and came back.
                    let (count, at) = flowing.entry(who.clone()).or_insert((r.video_frames, std::time::Instant::now()));
                    // A new subscription (after a rejoin) counts from zero.
                    *count = (*count).min(r.video_frames);
                    if r.video_frames > *count {
                        let gap = at.elapsed();
                        if gap >= Duration::from_secs(1) && !first {
                            say!("video from {} again after a {} ms gap", who.escape_debug(), gap.as_millis());
                        }
                        *count = r.video_frames;
                        *at = std::time::Instant::now();
                    }
                }
                let problem = handle.background_status().problem;
                if problem != effect_problem {
                    if let Some(p) = &problem {
                        say!("background effect off: {p}");
                    }
                    effect_problem = problem;
                }
                if c.stats > 0 && last_report.elapsed() >= Duration::from_secs(c.stats) {
                    let secs = last_report.elapsed().as_secs_f64();
                    last_report = std::time::Instant::now();
                    print_stats(&now, &last, secs, c.json_stats);
                    last = now;
                }
            }
            _ = &mut stop, if !left => {
                left = true;
                // Already over when this fails: nothing to leave.
                let _ = handle.leave();
            }
            line = stdin.next_line(), if stdin_open => match line {
                Ok(Some(l)) if l.trim().starts_with('/') => command(&handle, l.trim()).await,
                Ok(Some(l)) if !l.trim().is_empty() => {
                    if let Err(e) = handle.send_chat(l.trim()) {
                        say!("chat not sent: {e}");
                    }
                }
                Ok(Some(_)) => {}
                _ => stdin_open = false,
            },
            ev = events.recv() => {
                let Some(ev) = ev else { return Ok(()) };
                print_event(&ev);
                match ev {
                    CallEvent::ChatReceived(m) if bot => {
                        let _ = handle.send_chat(&format!("echo: {}", m.text));
                    }
                    CallEvent::File(t) => files.on_file(&t, &handle, bot),
                    CallEvent::Hand { raised_at: Some(_), .. } if bot => {
                        // The bot acknowledges a raised hand.
                        let _ = handle.react(session::Reaction::ThumbsUp).await;
                    }
                    // In a peer-to-peer call files wait until the other
                    // side's app says it takes them.
                    CallEvent::FilesOffered(why_not) => {
                        files_wait = why_not.is_some();
                        if !files_wait && connected {
                            files::send_waiting(&handle, &mut to_send).await;
                        }
                    }
                    CallEvent::State(CallState::Connected) => {
                        connected = true;
                        if !files_wait {
                            files::send_waiting(&handle, &mut to_send).await;
                        }
                        if let Some(choice) = share.take()
                            && let Err(e) = handle.share_screen(Some(choice)).await
                        {
                            say!("--share: {e}");
                        }
                    }
                    CallEvent::State(CallState::Ended(_)) => return Ok(()),
                    CallEvent::State(CallState::Failed(e)) => bail!("{e}"),
                    _ => {}
                }
            }
        }
    }
}

/// `--encoder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Encoder {
    Auto,
    Software,
    Hardware,
}

fn parse_background(s: &str) -> Result<Background, String> {
    Background::parse(s)
}
