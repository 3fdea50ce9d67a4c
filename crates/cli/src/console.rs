//! What a person at the terminal types and reads during a call: the stdin
//! commands (`/mute`, `/share`, `/hand`…), a line per event (chat and names
//! escaped so they cannot drive the terminal) and the received-media stats.

use tandem_call::session::{self, CallEvent};

/// Stdin commands: `/end`, `/mute`, `/unmute`, `/camera on|off|<id>`,
/// `/mic <id>`, `/speaker <id>`, `/test-speaker`, `/key <passphrase>` (the
/// rest of the line, trimmed), `/hand up|down`, `/lower <identity>` (as
/// the host: someone's hand), `/send <path>`, `/cancel <id>`,
/// `/react thumbs_up|clap|heart|laugh|party`, `/denoise on|off`,
/// `/background off|blur|blur-strong|scene:NAME|image:PATH`.
pub(crate) async fn command(handle: &session::CallHandle, line: &str) {
    use tandem_call::media::audio::{MicChoice, SpeakerChoice};
    use tandem_call::media::camera::CameraChoice;
    let (cmd, arg) = line
        .split_once(' ')
        .map_or((line, ""), |(c, a)| (c, a.trim()));
    let done = match (cmd, arg) {
        ("/end", "") => handle.end_session(),
        ("/mute" | "/unmute", "") => handle.set_mic(cmd == "/unmute").await,
        ("/camera", "on") => handle.set_camera(true).await,
        ("/camera", "off") => handle.set_camera(false).await,
        ("/camera", id) if !id.is_empty() => handle.switch_camera(CameraChoice::Id(id.into())),
        ("/mic", id) if !id.is_empty() => handle.switch_mic(MicChoice::Id(id.into())),
        ("/speaker", id) if !id.is_empty() => handle.switch_speaker(SpeakerChoice::Id(id.into())),
        ("/test-speaker", "") => handle.test_speaker(),
        ("/share", "off") => handle.share_screen(None).await,
        ("/share", id) if !id.is_empty() => handle.share_screen(Some(screen_choice(id))).await,
        ("/key", passphrase) if !passphrase.is_empty() => {
            match tandem_call::lk::SharedKey::from_passphrase(passphrase) {
                Ok(key) => handle
                    .change_key(key)
                    .await
                    .map(|()| say!("passphrase changed")),
                Err(e) => {
                    say!("/key: {e}");
                    return;
                }
            }
        }
        ("/denoise", "on" | "off") => {
            handle.set_noise_removal(arg == "on");
            say!("noise removal {arg}");
            return;
        }
        ("/background", choice) => {
            match tandem_call::media::effects::Background::parse(choice) {
                Ok(b) => {
                    say!("background {b}");
                    handle.set_background(b);
                }
                Err(e) => say!("/background: {e}"),
            }
            return;
        }
        ("/hand", "up" | "down") => handle.raise_hand(arg == "up").await,
        ("/lower", identity) if !identity.is_empty() => handle.lower_hand(identity).await,
        ("/send", path) if !path.is_empty() => handle
            .send_file(std::path::Path::new(path))
            .await
            .map(|_| ()),
        ("/cancel", id) if !id.is_empty() => handle.cancel_file(id).await,
        ("/react", name) => match session::Reaction::from_name(name) {
            Some(r) => handle.react(r).await,
            None => {
                say!("/react: one of thumbs_up clap heart laugh party");
                return;
            }
        },
        _ => {
            say!(
                "commands: /end /mute /unmute /camera on|off|<id> /mic <id> /speaker <id> /test-speaker /share <id>|off /key <new passphrase> /hand up|down /lower <identity> /send <path> /cancel <file id> /react thumbs_up|clap|heart|laugh|party /denoise on|off /background off|blur|blur-strong|scene:<name>|image:<path> (ids: tandem-cli devices)"
            );
            Ok(())
        }
    };
    if let Err(e) = done {
        say!("{cmd}: {e}");
    }
}

/// What `--share` / `/share` names.
pub(crate) fn screen_choice(id: &str) -> tandem_call::media::screen::ScreenChoice {
    use tandem_call::media::screen::ScreenChoice;
    match id {
        "synthetic" => ScreenChoice::Synthetic,
        id => ScreenChoice::Id(id.to_owned()),
    }
}

/// One line per participant: what arrived since the last report.
pub(crate) fn print_stats(
    now: &std::collections::HashMap<String, session::Received>,
    before: &std::collections::HashMap<String, session::Received>,
    secs: f64,
    json: bool,
) {
    let mut who: Vec<&String> = now.keys().collect();
    who.sort();
    for id in who {
        let r = &now[id];
        let b = before.get(id).cloned().unwrap_or_default();
        let fps = (r.video_frames - b.video_frames.min(r.video_frames)) as f64 / secs;
        if json {
            say!(
                "stats {}",
                serde_json::json!({
                    "identity": id, "fps": (fps * 10.0).round() / 10.0,
                    "width": r.video_size.0, "height": r.video_size.1,
                    "latency_ms": r.video_latency_ms, "counter": r.video_counter,
                    "audio_hz": (r.audio_hz * 10.0).round() / 10.0, "audio_dbfs": r.audio_dbfs,
                    "audio_frames": r.audio_frames,
                })
            );
        } else {
            let latency = r
                .video_latency_ms
                .map_or_else(String::new, |l| format!(", {l} ms behind"));
            say!(
                "stats: {}: video {}x{} {fps:.1} fps{latency}; audio {:.0} Hz at {:.1} dBFS",
                id.escape_debug(),
                r.video_size.0,
                r.video_size.1,
                r.audio_hz,
                r.audio_dbfs
            );
        }
    }
}

/// One line per event; chat text is printed escaped so it cannot drive the terminal.
pub(crate) fn print_event(ev: &CallEvent) {
    match ev {
        CallEvent::State(s) => say!("state: {s:?}"),
        CallEvent::Warning(w) => say!("warning: {w}"),
        CallEvent::Joined { identity, room } => {
            say!(
                "joined room {} as {}",
                room.escape_debug(),
                identity.escape_debug()
            )
        }
        CallEvent::Session(i) => say!(
            "session: {} with {}, {} minutes, {}",
            i.session_type.escape_debug(),
            i.other_name.escape_debug(),
            i.paid_minutes.map_or_else(|| "?".into(), |m| m.to_string()),
            i.status.escape_debug()
        ),
        CallEvent::ParticipantJoined { identity, name } => say!(
            "joined: {} ({})",
            identity.escape_debug(),
            name.escape_debug()
        ),
        CallEvent::ParticipantLeft { identity } => say!("left: {}", identity.escape_debug()),
        CallEvent::TrackSubscribed { identity, kind } => {
            say!("receiving {kind:?} from {}", identity.escape_debug())
        }
        CallEvent::TrackMuted {
            identity, muted, ..
        } => say!(
            "{} {}",
            identity.escape_debug(),
            if *muted { "muted" } else { "unmuted" }
        ),
        CallEvent::ChatReceived(m) => say!(
            "chat from {}: {}",
            m.from.escape_debug(),
            m.text.escape_debug()
        ),
        CallEvent::ChatSent { message, .. } => {
            say!("chat sent: {}", message.text.escape_debug())
        }
        CallEvent::ChatFailed { text, error, .. } => {
            say!("chat not sent ({error}): {}", text.escape_debug())
        }
        CallEvent::Speaking(who) if who.is_empty() => say!("speaking: nobody"),
        CallEvent::Speaking(who) => say!(
            "speaking: {}",
            who.iter()
                .map(|w| w.escape_debug().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        CallEvent::Quality { identity, quality } => {
            say!("connection of {}: {quality:?}", identity.escape_debug())
        }
        CallEvent::Encryption { identity, state } => {
            say!("encryption of {}: {state:?}", identity.escape_debug())
        }
        CallEvent::ShareOffered(None) => {}
        CallEvent::ShareOffered(Some(why)) => say!("sharing a screen is not offered: {why}"),
        CallEvent::FilesOffered(None) => say!("files can be sent"),
        CallEvent::FilesOffered(Some(why)) => say!("files are not offered: {why}"),
        CallEvent::VideoEncoder { name, hardware } => say!(
            "video encoder: {} ({})",
            name.escape_debug(),
            if *hardware { "hardware" } else { "software" }
        ),
        CallEvent::ScreenShare {
            identity,
            sharing,
            name,
        } => match (sharing, name) {
            (true, Some(n)) => say!(
                "sharing {} as {}",
                n.escape_debug(),
                identity.escape_debug()
            ),
            (true, None) => say!("{} shares a screen", identity.escape_debug()),
            (false, _) => say!("{} stopped sharing", identity.escape_debug()),
        },
        CallEvent::KeyChanged { identity } => say!(
            "{} changed the call's passphrase: type /key and the new one to keep seeing and hearing them",
            identity.escape_debug()
        ),
        CallEvent::MayLowerHands(true) => {
            say!("you are the session's host: /lower <identity> lowers someone's hand");
        }
        CallEvent::MayLowerHands(false) => {}
        CallEvent::Hand {
            identity,
            raised_at,
        } => say!(
            "hand {} by {}",
            if raised_at.is_some() {
                "raised"
            } else {
                "lowered"
            },
            identity.escape_debug()
        ),
        CallEvent::Reaction { identity, reaction } => {
            say!(
                "reaction from {}: {}",
                identity.escape_debug(),
                reaction.as_str()
            )
        }
        // Told by the call loop, which also saves what arrives.
        CallEvent::File(_) | CallEvent::Timer { .. } => {}
        CallEvent::VideoAvailable { identity } => {
            say!("video from {}", identity.escape_debug())
        }
        CallEvent::DeviceInUse { device, name } => {
            say!("{device:?}: {}", name.escape_debug())
        }
        CallEvent::DeviceProblem { device, error } => say!("{device:?} problem: {error}"),
    }
}
