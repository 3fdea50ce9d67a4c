//! Commands of the call screen, and the task that turns tandem-call's
//! events into `CallUpdate`s for the UI.

use std::sync::Arc;
use std::time::Duration;

use tandem_call::lk::{ConnectionQuality, EncryptionState, TrackKind};
use tandem_call::media::audio::NoiseRemoval;
use tandem_call::platform::rules;
use tandem_call::session::{
    self, CallConfig, CallEvent, CallState, ChatMessage, EndReason, MediaConfig, TokenSource,
};
use tauri::{AppHandle, Manager, State};

use crate::dto::{
    CallPhase, CallUpdate, ChatLine, DeviceKind, EndKind, JoinRequest, Quality, SessionKind,
};
use crate::error::{AppError, ErrorCode, sentence};
use crate::prejoin::{camera_choice, mic_choice, speaker_choice};
use crate::{AppState, client_for, close_preview};

/// Starts the call; progress and everything after arrive as `CallUpdate`s.
#[tauri::command]
#[specta::specta]
pub(crate) async fn call_join(
    app: AppHandle,
    state: State<'_, AppState>,
    request: JoinRequest,
) -> Result<(), AppError> {
    if state.call_running() {
        return Err(AppError::invalid("You are already in a call."));
    }
    let name = rules::display_name(&request.display_name).map_err(|e| AppError::invalid(e.0))?;
    let target = request.target.clone();
    // A passphrase typed at prejoin, or the one the link carried.
    let e2ee = match request.passphrase.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Some(passphrase_key(p)?),
        None => state.link_key_for(&target),
    };
    let platform = state.platforms.get(&target.platform_id)?;
    let client = client_for(&state, &platform.id).await?;
    let token_request = crate::platforms::profile(platform.profile).token_request(
        target.session.clone(),
        target.link.clone(),
        Some(name),
    );
    // The preview holds the devices the call is about to open.
    close_preview(&state).await?;
    let kind = target.kind;
    let config = CallConfig {
        token: TokenSource::Backend(Box::new(client), token_request),
        session_type: kind,
        paid_minutes: target.paid_minutes,
        warn_before: Duration::from_secs(5 * 60),
        give_up_after: session::GIVE_UP_AFTER,
        e2ee,
        media: MediaConfig {
            camera: camera_choice(request.camera.as_deref()),
            mic: mic_choice(request.microphone.as_deref()),
            speaker: speaker_choice(request.speaker.as_deref()),
            denoise: NoiseRemoval::new(request.noise_removal),
            background: state.background.clone(),
            encoder: encoder_from_env(),
            ..MediaConfig::devices()
        },
        mic_on: request.mic_on,
        camera_on: request.camera_on,
        received_dir: state.received_dir.clone(),
    };
    let (handle, events) = session::start(config);
    let handle = Arc::new(handle);
    let generation = state.set_call(Some(handle.clone()));
    tauri::async_runtime::spawn(forward(app, events, generation));
    Ok(())
}

/// Received chat is handed to the page at most this often after the first
/// message: a flood becomes a few batches a second instead of thousands of
/// page updates (which froze the webview).
const CHAT_BATCH_EVERY: Duration = Duration::from_millis(100);
/// Messages per batch at most.
const CHAT_BATCH_MAX: usize = 500;

/// Forwards one call's events until it ends, then forgets the call.
/// Received chat goes out at once when it is the first in a while, else in
/// batches (see [`CHAT_BATCH_EVERY`]); order is kept.
async fn forward(
    app: AppHandle,
    mut events: tokio::sync::mpsc::UnboundedReceiver<CallEvent>,
    generation: u64,
) {
    let mut elapsed = 0;
    let mut batch: Vec<ChatLine> = Vec::new();
    let mut quiet_until: Option<tokio::time::Instant> = None;
    let mut notifier = crate::notify::Notifier::default();
    let flush = |batch: &mut Vec<ChatLine>| {
        if !batch.is_empty() {
            let messages = std::mem::take(batch);
            crate::emit(&app, CallUpdate::Chat { messages });
        }
    };
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            () = tokio::time::sleep_until(quiet_until.unwrap_or_else(tokio::time::Instant::now)), if quiet_until.is_some() => {
                quiet_until = (!batch.is_empty()).then(|| tokio::time::Instant::now() + CHAT_BATCH_EVERY);
                flush(&mut batch);
                continue;
            }
        };
        let Some(ev) = ev else { break };
        if let Some(note) = notifier.on_event(std::time::Instant::now(), &ev)
            && !crate::notify::in_front(&app)
        {
            crate::notify::show(&app, note);
        }
        if let CallEvent::ChatReceived(m) = ev {
            batch.push(line(m));
            if quiet_until.is_none() || batch.len() >= CHAT_BATCH_MAX {
                quiet_until = Some(tokio::time::Instant::now() + CHAT_BATCH_EVERY);
                flush(&mut batch);
            }
            continue;
        }
        flush(&mut batch);
        if let CallEvent::File(t) = &ev {
            app.state::<AppState>().received.track(t);
        }
        if let CallEvent::Timer { elapsed: e, .. } = &ev {
            elapsed = secs(*e);
        }
        let last = matches!(
            ev,
            CallEvent::State(CallState::Ended(_) | CallState::Failed(_))
        );
        if let Some(update) = update(ev, elapsed) {
            crate::emit(&app, update);
        }
        if last {
            break;
        }
    }
    flush(&mut batch);
    let state = app.state::<AppState>();
    state.clear_call(generation);
    if !state.call_running() {
        crate::float::call_over(&app);
    }
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

fn line(m: ChatMessage) -> ChatLine {
    ChatLine {
        id: m.id,
        from: m.from,
        text: m.text,
        timestamp_ms: m.timestamp_ms as f64,
    }
}

/// What the UI hears about an event (some have nothing to show).
pub(crate) fn update(ev: CallEvent, elapsed_secs: u32) -> Option<CallUpdate> {
    Some(match ev {
        CallEvent::State(s) => match s {
            CallState::Idle => return None,
            CallState::FetchingToken => CallUpdate::Phase {
                phase: CallPhase::FetchingToken,
            },
            CallState::Connecting => CallUpdate::Phase {
                phase: CallPhase::Connecting,
            },
            CallState::Connected => CallUpdate::Phase {
                phase: CallPhase::Connected,
            },
            CallState::Reconnecting => CallUpdate::Phase {
                phase: CallPhase::Reconnecting,
            },
            CallState::Ended(reason) => {
                let (kind, reason) = match reason {
                    EndReason::Left => (EndKind::Left, "You left the call.".to_owned()),
                    EndReason::SessionEnded => {
                        (EndKind::SessionEnded, "You ended the session.".to_owned())
                    }
                    EndReason::Remote(why) => {
                        (EndKind::Remote, format!("The call was ended: {why}."))
                    }
                };
                CallUpdate::Ended {
                    kind,
                    reason,
                    duration_secs: elapsed_secs,
                }
            }
            CallState::Failed(e) => CallUpdate::Failed { error: e.into() },
        },
        CallEvent::Joined { identity, room } => CallUpdate::Joined { identity, room },
        CallEvent::Warning(message) => CallUpdate::Warning { message },
        CallEvent::Session(info) => CallUpdate::Session {
            kind: SessionKind::from_platform(&info.session_type),
            other_name: info.other_name,
            paid_minutes: info.paid_minutes,
        },
        CallEvent::ParticipantJoined { identity, name } => {
            CallUpdate::ParticipantJoined { identity, name }
        }
        CallEvent::ParticipantLeft { identity } => CallUpdate::ParticipantLeft { identity },
        CallEvent::TrackSubscribed { .. } => return None,
        CallEvent::TrackMuted {
            identity,
            kind,
            muted,
        } => CallUpdate::Muted {
            identity,
            video: kind.map(|k| k == TrackKind::Video),
            muted,
        },
        CallEvent::ChatReceived(m) => CallUpdate::Chat {
            messages: vec![line(m)],
        },
        CallEvent::ChatSent { local_id, message } => CallUpdate::ChatSent {
            local_id: u32::try_from(local_id).unwrap_or(u32::MAX),
            message: line(message),
        },
        CallEvent::ChatFailed {
            local_id,
            text,
            error,
        } => CallUpdate::ChatFailed {
            local_id: u32::try_from(local_id).unwrap_or(u32::MAX),
            text,
            error,
        },
        CallEvent::Speaking(identities) => CallUpdate::Speaking { identities },
        CallEvent::KeyChanged { identity } => CallUpdate::KeyChanged { identity },
        CallEvent::Reaction { identity, reaction } => CallUpdate::Reaction { identity, reaction },
        CallEvent::File(t) => CallUpdate::File {
            file: crate::files::line(t),
        },
        CallEvent::Hand {
            identity,
            raised_at,
        } => CallUpdate::Hand {
            identity,
            raised_at_ms: raised_at.map(|t| t as f64),
        },
        CallEvent::MayLowerHands(allowed) => CallUpdate::MayLowerHands { allowed },
        CallEvent::ShareOffered(why_not) => CallUpdate::ShareOffered {
            why_not: why_not.map(|e| sentence(e.to_string())),
        },
        CallEvent::FilesOffered(why_not) => CallUpdate::FilesOffered {
            why_not: why_not.map(sentence),
        },
        CallEvent::VideoEncoder { name, hardware } => CallUpdate::VideoEncoder { name, hardware },
        CallEvent::ScreenShare {
            identity,
            sharing,
            name,
        } => CallUpdate::ScreenShare {
            identity,
            sharing,
            name,
        },
        CallEvent::Encryption { identity, state } => match state {
            EncryptionState::Ok | EncryptionState::KeyRatcheted => CallUpdate::Encryption {
                identity,
                working: true,
            },
            EncryptionState::New => return None,
            _ => CallUpdate::Encryption {
                identity,
                working: false,
            },
        },
        CallEvent::Quality { identity, quality } => CallUpdate::Quality {
            identity,
            quality: match quality {
                ConnectionQuality::Excellent => Quality::Excellent,
                ConnectionQuality::Good => Quality::Good,
                ConnectionQuality::Poor => Quality::Poor,
                ConnectionQuality::Lost => Quality::Lost,
            },
        },
        CallEvent::VideoAvailable { identity } => CallUpdate::Video { identity },
        CallEvent::DeviceInUse { device: d, name } => CallUpdate::DeviceInUse { device: d, name },
        CallEvent::DeviceProblem { device: d, error } => CallUpdate::DeviceProblem {
            device: d,
            error: error.to_string(),
        },
        CallEvent::Timer {
            elapsed,
            remaining,
            ending_soon,
        } => CallUpdate::Timer {
            elapsed_secs: secs(elapsed),
            remaining_secs: remaining.map(secs),
            ending_soon,
        },
    })
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn call_set_mic(state: State<'_, AppState>, on: bool) -> Result<(), AppError> {
    Ok(state.running()?.set_mic(on).await?)
}

/// Turns the microphone's noise removal on or off during the call.
#[tauri::command]
#[specta::specta]
pub(crate) async fn call_set_noise_removal(
    state: State<'_, AppState>,
    on: bool,
) -> Result<(), AppError> {
    state.running()?.set_noise_removal(on);
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn call_set_camera(state: State<'_, AppState>, on: bool) -> Result<(), AppError> {
    Ok(state.running()?.set_camera(on).await?)
}

/// The screens and windows that can be shared (the app's own windows left
/// out).
#[tauri::command]
#[specta::specta]
pub(crate) async fn screens_list() -> Result<Vec<crate::dto::ScreenEntry>, AppError> {
    use tandem_call::media::screen::{self, ScreenKind};
    let listed = tokio::task::spawn_blocking(screen::list_screens)
        .await
        .map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
    let list = listed?;
    Ok(list
        .into_iter()
        .map(|s| crate::dto::ScreenEntry {
            id: s.id,
            name: s.name,
            screen: s.kind == ScreenKind::Screen,
            width: s.width,
            height: s.height,
        })
        .collect())
}

/// A small picture of a screen or window for the picker (at most 240×136,
/// its shape kept): a JPEG as a data URL, which the page shows as an image.
#[tauri::command]
#[specta::specta]
pub(crate) async fn screen_thumbnail(id: String) -> Result<String, AppError> {
    use base64::Engine as _;
    use tandem_call::media::screen::{self, ScreenChoice};
    let choice = if id == "synthetic" {
        ScreenChoice::Synthetic
    } else {
        ScreenChoice::Id(id)
    };
    let internal = |e: &dyn std::fmt::Display| AppError::new(ErrorCode::Internal, e.to_string());
    let jpeg = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, AppError> {
        let small = screen::thumbnail(&choice, 240, 136)?;
        let rgb = tandem_call::media::convert::i420_to_rgb(&small).map_err(|e| internal(&e))?;
        let (w, h) = (small.width() as u16, small.height() as u16);
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 75)
            .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
            .map_err(|e| internal(&e))?;
        Ok(out)
    })
    .await
    .map_err(|e| internal(&e))??;
    Ok(format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(jpeg)
    ))
}

/// Shares a screen or window by its id (`null`: stops sharing).
#[tauri::command]
#[specta::specta]
pub(crate) async fn call_share(
    state: State<'_, AppState>,
    id: Option<String>,
) -> Result<(), AppError> {
    use tandem_call::media::screen::ScreenChoice;
    if id.as_deref().is_some_and(|i| i.is_empty() || i.len() > 200) {
        return Err(AppError::invalid("Choose a screen or window to share."));
    }
    Ok(state
        .running()?
        .share_screen(id.map(ScreenChoice::Id))
        .await?)
}

/// The key a typed passphrase gives, or why it cannot be one.
fn passphrase_key(passphrase: &str) -> Result<tandem_call::lk::SharedKey, AppError> {
    tandem_call::lk::SharedKey::from_passphrase(passphrase).map_err(|_| {
        AppError::invalid(
            "That passphrase cannot be used: use up to 1024 characters, without line breaks or tabs.",
        )
    })
}

/// Changes the encrypted call's passphrase (both people must change to the
/// same one; the other is told it changed, never what to).
#[tauri::command]
#[specta::specta]
pub(crate) async fn call_change_passphrase(
    state: State<'_, AppState>,
    passphrase: String,
) -> Result<(), AppError> {
    if passphrase.is_empty() {
        return Err(AppError::invalid("Type the new passphrase first."));
    }
    let key = passphrase_key(&passphrase)?;
    Ok(state.running()?.change_key(key).await?)
}

/// Raises (`true`) or lowers our hand; it comes back as a `hand` update.
#[tauri::command]
#[specta::specta]
pub(crate) async fn call_raise_hand(
    state: State<'_, AppState>,
    raise: bool,
) -> Result<(), AppError> {
    Ok(state.running()?.raise_hand(raise).await?)
}

/// Sends a reaction to everyone in the call; it comes back as a `reaction`
/// update once sent.
/// Lowers `identity`'s hand: ours, or as the session's host someone else's.
#[tauri::command]
#[specta::specta]
pub(crate) async fn call_lower_hand(
    state: State<'_, AppState>,
    identity: String,
) -> Result<(), AppError> {
    Ok(state.running()?.lower_hand(&identity).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn call_react(
    state: State<'_, AppState>,
    reaction: crate::dto::Reaction,
) -> Result<(), AppError> {
    Ok(state.running()?.react(reaction).await?)
}

/// Sends a chat message; returns the id its `chatSent`/`chatFailed` carries.
#[tauri::command]
#[specta::specta]
pub(crate) async fn call_send_chat(
    state: State<'_, AppState>,
    text: String,
) -> Result<u32, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::invalid("Type a message first."));
    }
    if text.chars().count() > session::MAX_CHAT_CHARS {
        return Err(AppError::invalid(format!(
            "Messages are limited to {} characters.",
            session::MAX_CHAT_CHARS
        )));
    }
    let id = state.running()?.send_chat(text)?;
    Ok(u32::try_from(id).unwrap_or(u32::MAX))
}

/// Moves the call to another device.
#[tauri::command]
#[specta::specta]
pub(crate) async fn call_switch_device(
    state: State<'_, AppState>,
    device: DeviceKind,
    id: Option<String>,
) -> Result<(), AppError> {
    let call = state.running()?;
    Ok(match device {
        DeviceKind::Camera => call.switch_camera(camera_choice(id.as_deref())),
        DeviceKind::Microphone => call.switch_mic(mic_choice(id.as_deref())),
        DeviceKind::Speaker => call.switch_speaker(speaker_choice(id.as_deref())),
    }?)
}

/// Leaves (the session stays open for rejoining).
#[tauri::command]
#[specta::specta]
pub(crate) async fn call_leave(state: State<'_, AppState>) -> Result<(), AppError> {
    Ok(state.running()?.leave()?)
}

/// Ends the session for everyone (where the platform has such a call).
#[tauri::command]
#[specta::specta]
pub(crate) async fn call_end_session(state: State<'_, AppState>) -> Result<(), AppError> {
    Ok(state.running()?.end_session()?)
}

/// Opens an http(s) link from the chat in the system browser (the UI asks
/// the user first). Anything else is refused.
#[tauri::command]
#[specta::specta]
pub(crate) async fn open_external(url: String) -> Result<(), AppError> {
    let parsed =
        url::Url::parse(url.trim()).map_err(|_| AppError::invalid("That is not a web link."))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(AppError::invalid(
            "Only http and https links can be opened.",
        ));
    }
    open::that_detached(parsed.as_str())
        .map_err(|e| AppError::internal(format!("The browser could not be opened: {e}")))
}

/// The camera's encoder as `TANDEM_ENCODER` forces it (`software`,
/// `hardware`); by itself otherwise.
fn encoder_from_env() -> tandem_call::lk::EncoderBackend {
    use tandem_call::lk::EncoderBackend;
    match std::env::var("TANDEM_ENCODER").ok().as_deref() {
        Some("software") => EncoderBackend::Software,
        Some("hardware") => EncoderBackend::Hardware,
        None | Some("auto") => EncoderBackend::Auto,
        Some(other) => {
            tracing::warn!(
                "TANDEM_ENCODER={other:?} is not auto, software or hardware; choosing by itself"
            );
            EncoderBackend::Auto
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_failures_become_readable_updates() {
        let u = update(
            CallEvent::State(CallState::Ended(EndReason::Remote("room deleted".into()))),
            61,
        );
        assert_eq!(
            u,
            Some(CallUpdate::Ended {
                kind: EndKind::Remote,
                reason: "The call was ended: room deleted.".into(),
                duration_secs: 61
            })
        );
        let u = update(
            CallEvent::State(CallState::Failed(session::CallError::Connect(
                "refused".into(),
            ))),
            0,
        );
        let Some(CallUpdate::Failed { error }) = u else {
            panic!("{u:?}")
        };
        assert_eq!(error.code, ErrorCode::ConnectFailed);
        assert_eq!(update(CallEvent::State(CallState::Idle), 0), None);
    }
}
