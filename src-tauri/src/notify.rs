//! Notifications from the OS while Tandem is not in front: the other
//! person joined or left, a chat message (sender and first words only, so
//! a locked screen never shows a whole message), a file arrived, the
//! session ends soon. Clicking one brings the call to the front.
//!
//! [`Notifier`] decides what to say from the call's events (a plain
//! machine, tested directly); [`show`] hands it to Tauri's notification
//! plugin. Names and messages are made plain text first: notification
//! servers may read a subset of HTML in the body.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tandem_call::session::{CallEvent, FileState};
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt as _;

/// Characters of a message shown in its notification.
const FIRST_WORDS: usize = 60;
/// Chat messages told at most this often (a flood is one notification).
const CHAT_EVERY: Duration = Duration::from_secs(5);

/// What the OS is asked to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    pub(crate) title: String,
    pub(crate) body: String,
}

/// Decides what is worth a notification in one call.
#[derive(Debug, Default)]
pub(crate) struct Notifier {
    me: String,
    /// Who is in the call: identity → name.
    names: HashMap<String, String>,
    told_ending: bool,
    last_chat: Option<Instant>,
}

impl Notifier {
    /// The notification `ev` deserves, if any (every event is read, so
    /// names are known when they are needed).
    pub(crate) fn on_event(&mut self, now: Instant, ev: &CallEvent) -> Option<Note> {
        match ev {
            CallEvent::Joined { identity, .. } => {
                self.me = identity.clone();
                None
            }
            CallEvent::ParticipantJoined { identity, name } => {
                let first = self.names.insert(identity.clone(), name.clone()).is_none();
                (first && *identity != self.me).then(|| Note {
                    title: format!("{} joined the call", self.name(identity)),
                    body: "Open Tandem to see them.".into(),
                })
            }
            CallEvent::ParticipantLeft { identity } => {
                let name = self.name(identity);
                self.names.remove(identity);
                Some(Note {
                    title: format!("{name} left the call"),
                    body: "They may be back in a moment.".into(),
                })
            }
            CallEvent::ChatReceived(m) => {
                if self
                    .last_chat
                    .is_some_and(|t| now.duration_since(t) < CHAT_EVERY)
                {
                    return None;
                }
                self.last_chat = Some(now);
                Some(Note {
                    title: self.name(&m.from),
                    body: first_words(&plain(&m.text)),
                })
            }
            CallEvent::File(t) if !t.outgoing && matches!(t.state, FileState::Done { .. }) => {
                Some(Note {
                    title: format!("{} sent a file", self.name(&t.identity)),
                    body: first_words(&plain(&t.name)),
                })
            }
            CallEvent::Timer {
                remaining: Some(left),
                ending_soon: true,
                ..
            } if !self.told_ending => {
                self.told_ending = true;
                let minutes = left.as_secs().div_ceil(60).max(1);
                let unit = if minutes == 1 { "minute" } else { "minutes" };
                Some(Note {
                    title: format!("The session ends in {minutes} {unit}"),
                    body: "Time to wrap up.".into(),
                })
            }
            _ => None,
        }
    }

    /// Someone's name as a notification shows it.
    fn name(&self, identity: &str) -> String {
        let name = self
            .names
            .get(identity)
            .filter(|n| !n.trim().is_empty())
            .map_or(identity, String::as_str);
        first_words(&plain(name))
    }
}

/// Text that no notification server reads as markup, on one line.
fn plain(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => '‹',
            '>' => '›',
            '&' => '＆',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// The start of `s`, cut at a word where it can be, with "…" when cut.
fn first_words(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() <= FIRST_WORDS {
        return s.to_owned();
    }
    let cut: String = s.chars().take(FIRST_WORDS).collect();
    let at_word = cut
        .rfind(char::is_whitespace)
        .filter(|i| *i > FIRST_WORDS / 2)
        .map_or(cut.as_str(), |i| &cut[..i]);
    format!("{}…", at_word.trim_end())
}

/// Whether the main window is where the person is looking.
pub(crate) fn in_front(app: &AppHandle) -> bool {
    app.get_webview_window("main")
        .is_some_and(|w| w.is_focused().unwrap_or(true) && !w.is_minimized().unwrap_or(false))
}

/// Shows `note` (never failing the call: a missing notification server is
/// logged).
pub(crate) fn show(app: &AppHandle, note: Note) {
    if let Err(e) = app
        .notification()
        .builder()
        .title(note.title)
        .body(note.body)
        .show()
    {
        tracing::warn!("a notification could not be shown: {e}");
    }
}

/// Clicking a notification brings the main window to the front.
pub(crate) fn bring_to_front_on_click(app: &AppHandle) {
    let handle = app.clone();
    let registered = app
        .notification()
        .on_action(move |_| crate::show_main(&handle));
    if let Err(e) = registered {
        tracing::warn!("clicks on notifications will not bring Tandem forward: {e}");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tandem_call::session::{ChatMessage, FileTransfer};

    use super::*;

    fn joined(identity: &str, name: &str) -> CallEvent {
        CallEvent::ParticipantJoined {
            identity: identity.into(),
            name: name.into(),
        }
    }

    #[test]
    fn what_is_worth_telling_and_how() {
        let mut n = Notifier::default();
        let at = Instant::now();
        assert_eq!(
            n.on_event(
                at,
                &CallEvent::Joined {
                    identity: "me".into(),
                    room: "r".into()
                }
            ),
            None
        );
        assert_eq!(n.on_event(at, &joined("me", "Sam")), None, "not ourselves");
        let note = n.on_event(at, &joined("c", "<b>Coach</b> & co")).unwrap();
        assert_eq!(note.title, "‹b›Coach‹/b› ＆ co joined the call");
        assert_eq!(
            n.on_event(at, &joined("c", "Coach")),
            None,
            "a new name is not news"
        );
        let long =
            "Let's move our session to Thursday because I have a dentist appointment on Wednesday";
        let note = n
            .on_event(
                at,
                &CallEvent::ChatReceived(ChatMessage {
                    id: "1".into(),
                    from: "c".into(),
                    text: long.into(),
                    timestamp_ms: 0,
                }),
            )
            .unwrap();
        assert_eq!(note.title, "Coach");
        assert_eq!(
            note.body,
            "Let's move our session to Thursday because I have a dentist…"
        );
        let again = |text: &str| {
            CallEvent::ChatReceived(ChatMessage {
                id: text.into(),
                from: "c".into(),
                text: text.into(),
                timestamp_ms: 0,
            })
        };
        assert_eq!(
            n.on_event(at + Duration::from_secs(1), &again("flood")),
            None
        );
        let later = n
            .on_event(at + Duration::from_secs(6), &again("later"))
            .unwrap();
        assert_eq!(later.body, "later");
        let file = FileTransfer {
            id: "f".into(),
            identity: "c".into(),
            outgoing: false,
            name: "plan.pdf".into(),
            size: Some(1),
            mime_type: "application/pdf".into(),
            done: 1,
            state: FileState::Done {
                sha256: String::new(),
                path: None,
            },
        };
        assert_eq!(
            n.on_event(at, &CallEvent::File(file.clone()))
                .unwrap()
                .title,
            "Coach sent a file"
        );
        let moving = FileTransfer {
            state: FileState::Moving,
            ..file
        };
        assert_eq!(n.on_event(at, &CallEvent::File(moving)), None);
        let soon = CallEvent::Timer {
            elapsed: Duration::from_secs(2400),
            remaining: Some(Duration::from_secs(290)),
            ending_soon: true,
        };
        assert_eq!(
            n.on_event(at, &soon).unwrap().title,
            "The session ends in 5 minutes"
        );
        assert_eq!(n.on_event(at, &soon), None, "said once");
        let left = n
            .on_event(
                at,
                &CallEvent::ParticipantLeft {
                    identity: "c".into(),
                },
            )
            .unwrap();
        assert_eq!(left.title, "Coach left the call");
        assert!(
            n.on_event(at, &joined("c", "Coach")).is_some(),
            "back again is news"
        );
    }
}
