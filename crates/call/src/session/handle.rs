//! The caller's side of a call ([`CallHandle`], [`CallEvents`]) and what
//! the session shares with it: the newest video frames, what has arrived
//! from each participant, and the chat history.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tandem_media::FrameReceiver;
use tandem_media::audio::{MicChoice, NoiseRemoval, SpeakerChoice};
use tandem_media::camera::CameraChoice;
use tandem_media::effects::{Background, BackgroundSwitch, EffectStatus};
use tokio::sync::{mpsc, oneshot};

use super::chat::{ChatHistory, History};
use super::types::{CallError, CallEvent, Received};

/// The call's events; the stream ends after `Ended` or `Failed`.
pub type CallEvents = mpsc::UnboundedReceiver<CallEvent>;

/// An answer the session gives once a command has taken effect.
pub(super) type Reply = oneshot::Sender<Result<(), CallError>>;

/// Commands to a running call.
#[derive(Debug)]
pub(super) enum Command {
    Mic(bool, Reply),
    Camera(bool, Reply),
    Chat(u64, String),
    SwitchCamera(CameraChoice),
    SwitchMic(MicChoice),
    SwitchSpeaker(SpeakerChoice),
    TestSpeaker,
    ChangeKey(tandem_lk::SharedKey, Reply),
    Share(ShareStep, Reply),
    React(super::types::Reaction, Reply),
    Hand(bool, Reply),
    LowerHand(String, Reply),
    SendFile(
        std::path::PathBuf,
        oneshot::Sender<Result<String, CallError>>,
    ),
    CancelFile(String, Reply),
    Leave,
    End,
}

/// A step of sharing, as the handle asks the call for it.
#[derive(Debug)]
pub(super) enum ShareStep {
    /// Whether sharing is offered (before a screen is opened).
    May,
    /// Share this opened screen, replacing a share running.
    Start(tandem_media::screen::ScreenFeed),
    Stop,
}

/// What the session and its handle both read: per participant identity
/// (and [`super::LOCAL_VIDEO`]) the newest frames and what has arrived.
#[derive(Debug, Clone, Default)]
pub(super) struct Shared {
    pub(super) video: Arc<Mutex<HashMap<String, FrameReceiver>>>,
    pub(super) received: Arc<Mutex<HashMap<String, Received>>>,
    /// Others' shared screens, by identity.
    pub(super) screens: Arc<Mutex<HashMap<String, FrameReceiver>>>,
}

impl Shared {
    pub(super) fn set_video(&self, identity: &str, frames: FrameReceiver) {
        if let Ok(mut v) = self.video.lock() {
            v.insert(identity.to_owned(), frames);
        }
    }

    /// Forgets someone's video and statistics (they left).
    pub(super) fn forget(&self, identity: &str) {
        if let Ok(mut v) = self.video.lock() {
            v.remove(identity);
        }
        if let Ok(mut r) = self.received.lock() {
            r.remove(identity);
        }
    }

    /// Forgets every picture (the call is over).
    pub(super) fn clear_video(&self) {
        if let Ok(mut v) = self.video.lock() {
            v.clear();
        }
    }
}

/// Where the session's events go; chat is also kept in the history.
#[derive(Debug, Clone)]
pub(super) struct Out {
    tx: mpsc::UnboundedSender<CallEvent>,
    history: History,
}

impl Out {
    /// Events going nowhere but the returned receiver (unit tests).
    #[cfg(test)]
    pub(super) fn for_tests() -> (Self, mpsc::UnboundedReceiver<CallEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                tx,
                history: History::default(),
            },
            rx,
        )
    }

    pub(super) fn emit(&self, e: CallEvent) {
        if let CallEvent::ChatReceived(m) | CallEvent::ChatSent { message: m, .. } = &e
            && let Ok(mut h) = self.history.lock()
        {
            h.push(m.clone());
        }
        if self.tx.send(e).is_err() {
            tracing::debug!("a call event was dropped: nobody listens any more");
        }
    }
}

/// The caller's side of a call. Dropping it leaves the call.
#[derive(Debug)]
pub struct CallHandle {
    tx: mpsc::UnboundedSender<Command>,
    /// The microphone reads it every frame: no command needed.
    denoise: NoiseRemoval,
    /// The camera reads it every picture.
    background: BackgroundSwitch,
    shared: Shared,
    history: History,
    next_chat: AtomicU64,
}

/// A new handle, the session's ends of its channels, and the event stream.
pub(super) fn channels(
    denoise: NoiseRemoval,
    background: BackgroundSwitch,
) -> (
    CallHandle,
    mpsc::UnboundedReceiver<Command>,
    Out,
    Shared,
    CallEvents,
) {
    let (tx, commands) = mpsc::unbounded_channel();
    let (etx, events) = mpsc::unbounded_channel();
    let shared = Shared::default();
    let history = History::default();
    let handle = CallHandle {
        tx,
        denoise,
        background,
        shared: shared.clone(),
        history: history.clone(),
        next_chat: AtomicU64::new(1),
    };
    let out = Out { tx: etx, history };
    (handle, commands, out, shared, events)
}

impl CallHandle {
    /// Turns the microphone's noise removal on or off, from the next 10 ms
    /// frame on (the same switch as the call's `MediaConfig::denoise`).
    pub fn set_noise_removal(&self, on: bool) {
        self.denoise.set(on);
    }

    /// Whether noise removal is on.
    pub fn noise_removal(&self) -> bool {
        self.denoise.is_on()
    }

    /// Changes what happens behind the person, from the camera's next
    /// picture on (the same switch as the call's `MediaConfig::background`).
    pub fn set_background(&self, background: Background) {
        self.background.set(background);
    }

    /// How the background effect asked for is doing: why it is not
    /// applied, when it is not, and how often the model runs.
    pub fn background_status(&self) -> EffectStatus {
        self.background.status()
    }

    /// Hands a command to the call; [`CallError::Ended`] once it is over.
    fn command(&self, c: Command) -> Result<(), CallError> {
        self.tx.send(c).map_err(|_| CallError::Ended)
    }

    /// Sends a command and waits for its outcome.
    async fn ask(&self, c: impl FnOnce(Reply) -> Command) -> Result<(), CallError> {
        let (reply, outcome) = oneshot::channel();
        self.command(c(reply))?;
        outcome.await.unwrap_or(Err(CallError::Ended))
    }

    /// Turns the microphone on or off; the outcome once it has taken
    /// effect. Off always holds locally (no sample leaves), even when
    /// LiveKit's mute fails; a failed "on" leaves it off and says why.
    pub async fn set_mic(&self, on: bool) -> Result<(), CallError> {
        self.ask(|r| Command::Mic(on, r)).await
    }

    /// Turns the camera on or off; the outcome once it has taken effect.
    /// Off always closes the camera (no picture leaves, its light goes
    /// out); a camera that will not open is an error.
    pub async fn set_camera(&self, on: bool) -> Result<(), CallError> {
        self.ask(|r| Command::Camera(on, r)).await
    }

    /// Shares a screen or window (`Some`), or stops sharing (`None`); the
    /// outcome once it has taken effect. A share that ends by itself (its
    /// window closed) is said with a `ScreenShare` event and a warning.
    pub async fn share_screen(
        &self,
        choice: Option<tandem_media::screen::ScreenChoice>,
    ) -> Result<(), CallError> {
        use tandem_media::screen;
        let Some(choice) = choice else {
            return self.ask(|r| Command::Share(ShareStep::Stop, r)).await;
        };
        // Asked first, so that no system dialog opens for a share the call
        // would refuse.
        self.ask(|r| Command::Share(ShareStep::May, r)).await?;
        // Opened here rather than in the call: the person may take a while
        // in the system's dialog (Wayland), and the call goes on meanwhile.
        let feed = tokio::task::spawn_blocking(move || screen::open(&choice, screen::DEFAULT_FPS))
            .await
            .map_err(|e| CallError::Share(super::types::MediaError::Thread(e.to_string())))?
            .map_err(|e| CallError::Share(e.into()))?;
        self.ask(|r| Command::Share(ShareStep::Start(feed), r))
            .await
    }

    /// Raises (`true`) or lowers our hand; it comes back as a `Hand`
    /// event once it took effect.
    pub async fn raise_hand(&self, raise: bool) -> Result<(), CallError> {
        self.ask(|r| Command::Hand(raise, r)).await
    }

    /// Lowers `identity`'s hand: ours, or (as the session's host, where
    /// the platform's token makes us the room's admin) someone else's; it
    /// comes back as their `Hand` event.
    pub async fn lower_hand(&self, identity: &str) -> Result<(), CallError> {
        let identity = identity.to_owned();
        self.ask(|r| Command::LowerHand(identity, r)).await
    }

    /// Sends a reaction to everyone; once sent, it comes back as a
    /// `Reaction` event with our identity, as others' do.
    pub async fn react(&self, reaction: super::types::Reaction) -> Result<(), CallError> {
        self.ask(|r| Command::React(reaction, r)).await
    }

    /// Sends the file at `path` to everyone (up to
    /// [`super::MAX_FILE_BYTES`]); its id, which the `File` events of its
    /// progress carry. A file that cannot be read or is too large is an
    /// error, and nothing is sent.
    pub async fn send_file(&self, path: &std::path::Path) -> Result<String, CallError> {
        let (reply, outcome) = oneshot::channel();
        self.command(Command::SendFile(path.to_owned(), reply))?;
        outcome.await.unwrap_or(Err(CallError::Ended))
    }

    /// Stops sending or receiving the file `id`; nothing partial is kept.
    pub async fn cancel_file(&self, id: &str) -> Result<(), CallError> {
        self.ask(|r| Command::CancelFile(id.to_owned(), r)).await
    }

    /// The newest picture of `identity`'s shared screen, while they share.
    pub fn screen(&self, identity: &str) -> Option<FrameReceiver> {
        self.shared.screens.lock().ok()?.get(identity).cloned()
    }

    /// Changes the key of an end-to-end encrypted call: our media is
    /// encrypted, and others' decrypted, with `key` from now on (and after
    /// a rejoin). The others are told the key changed (never the key), and
    /// anyone still on the old one is reported as not decrypting.
    pub async fn change_key(&self, key: tandem_lk::SharedKey) -> Result<(), CallError> {
        self.ask(|r| Command::ChangeKey(key, r)).await
    }

    /// Sends a chat message; returns the id its `ChatSent` or `ChatFailed`
    /// event will carry.
    pub fn send_chat(&self, text: &str) -> Result<u64, CallError> {
        let id = self.next_chat.fetch_add(1, Ordering::Relaxed);
        self.command(Command::Chat(id, text.to_owned()))?;
        Ok(id)
    }

    /// What has arrived from each remote participant.
    pub fn received(&self) -> HashMap<String, Received> {
        self.shared
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
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

    /// The newest video frame of `identity` ([`super::LOCAL_VIDEO`] for our
    /// own camera), when there is such video.
    pub fn video(&self, identity: &str) -> Option<FrameReceiver> {
        self.shared.video.lock().ok()?.get(identity).cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Every command after the call is over says so instead of "done".
    #[tokio::test]
    async fn commands_after_the_end_answer_ended() {
        let (h, commands, _out, _shared, _events) =
            channels(NoiseRemoval::default(), BackgroundSwitch::default());
        drop(commands);
        assert_eq!(h.set_mic(false).await, Err(CallError::Ended));
        assert_eq!(h.set_camera(true).await, Err(CallError::Ended));
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
        let key = tandem_lk::SharedKey::from_passphrase("new").unwrap();
        assert_eq!(h.change_key(key).await, Err(CallError::Ended));
        assert_eq!(h.share_screen(None).await, Err(CallError::Ended));
    }
}
