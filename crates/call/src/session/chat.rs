//! Chat in a call: the message, the call's capped history, and the legacy
//! `chat` data packets seed 000's web app sends and reads.

use std::collections::VecDeque;

/// A chat message, sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub id: String,
    /// Sender identity (ours for sent messages).
    pub from: String,
    pub text: String,
    /// Sender's time, ms since the Unix epoch.
    pub timestamp_ms: i64,
}

/// Chat of the call so far, oldest first, and how many older messages were
/// dropped to keep it at [`MAX_HISTORY`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatHistory {
    pub messages: VecDeque<ChatMessage>,
    pub dropped: u64,
}

/// Messages kept per call; older ones are dropped (and counted).
pub const MAX_HISTORY: usize = 2000;

impl ChatHistory {
    pub(super) fn push(&mut self, m: ChatMessage) {
        if self.messages.len() == MAX_HISTORY {
            self.messages.pop_front();
            self.dropped += 1;
        }
        self.messages.push_back(m);
    }
}

pub(super) type History = std::sync::Arc<std::sync::Mutex<ChatHistory>>;

/// Chat text is bounded so one message cannot flood a call.
pub const MAX_CHAT_CHARS: usize = 4000;
/// The legacy chat data topic.
pub const LEGACY_CHAT_TOPIC: &str = "chat";

/// Characters of a display name shown; longer ones are shortened.
pub const MAX_NAME_CHARS: usize = 256;

/// `text` up to `max` characters; a longer one (or one already `cut`
/// short) ends in "…" so the reader sees it was shortened.
pub fn shorten(text: &str, max: usize, cut: bool) -> String {
    let mut chars = text.char_indices();
    match chars.nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None if cut => format!("{text}…"),
        None => text.to_owned(),
    }
}

/// Received messages by (sender, id), so a message resent after a
/// reconnect is shown once. Bounded: only the newest [`Seen::KEEP`] are
/// remembered (resends only repeat the last 20 s).
#[derive(Debug, Default)]
pub(super) struct Seen {
    set: std::collections::HashSet<(String, String)>,
    order: VecDeque<(String, String)>,
}

impl Seen {
    const KEEP: usize = 10_000;

    /// True the first time `(from, id)` is seen.
    pub(super) fn first(&mut self, from: &str, id: &str) -> bool {
        let key = (from.to_owned(), id.to_owned());
        if self.set.contains(&key) {
            return false;
        }
        if self.order.len() == Self::KEEP
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.order.push_back(key.clone());
        self.set.insert(key);
        true
    }
}

/// Parses a legacy chat packet; `None` when it is not one. Bytes that are
/// not UTF-8 become U+FFFD rather than losing the message.
pub fn parse_legacy_chat(from: &str, payload: &[u8]) -> Option<ChatMessage> {
    let v: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(payload)).ok()?;
    let text = v["message"].as_str()?;
    let id = v["id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("legacy-{}", v["timestamp"]));
    Some(ChatMessage {
        id: id.chars().take(128).collect(),
        from: from.to_owned(),
        text: shorten(text, MAX_CHAT_CHARS, false),
        timestamp_ms: v["timestamp"].as_i64().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn legacy_chat_packets_parse_and_are_bounded() {
        let m = parse_legacy_chat(
            "bob",
            br#"{"id":"m1","timestamp":1700000000000,"message":"<b>hi</b>"}"#,
        )
        .unwrap();
        assert_eq!(
            (
                m.id.as_str(),
                m.from.as_str(),
                m.text.as_str(),
                m.timestamp_ms
            ),
            ("m1", "bob", "<b>hi</b>", 1_700_000_000_000)
        );
        assert!(parse_legacy_chat("bob", b"not json").is_none());
        assert!(parse_legacy_chat("bob", br#"{"message": 5}"#).is_none());
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(10_000));
        let text = parse_legacy_chat("bob", long.as_bytes()).unwrap().text;
        assert_eq!(text.chars().count(), MAX_CHAT_CHARS + 1);
        assert!(text.ends_with("x…"));
        let m = parse_legacy_chat("bob", b"{\"message\":\"caf\xC3\x28\xFF ok\"}").unwrap();
        assert_eq!(m.text, "caf\u{FFFD}(\u{FFFD} ok");
    }

    #[test]
    fn shortened_text_says_so() {
        assert_eq!(shorten("abc", 3, false), "abc");
        assert_eq!(shorten("abcd", 3, false), "abc…");
        assert_eq!(shorten("abc", 3, true), "abc…");
        assert_eq!(shorten("ééé", 2, false), "éé…");
    }

    #[test]
    fn seen_ids_are_remembered_up_to_a_bound() {
        let mut s = Seen::default();
        assert!(s.first("a", "1"));
        assert!(!s.first("a", "1"));
        assert!(s.first("b", "1"));
        for i in 0..Seen::KEEP {
            assert!(s.first("c", &i.to_string()));
        }
        assert!(s.first("a", "1"), "the oldest was forgotten");
        assert!(!s.first("c", &(Seen::KEEP - 1).to_string()));
        assert_eq!(s.set.len(), Seen::KEEP);
    }

    #[test]
    fn chat_history_is_capped_and_counts_what_it_dropped() {
        let mut h = ChatHistory::default();
        for i in 0..MAX_HISTORY + 5 {
            h.push(ChatMessage {
                id: i.to_string(),
                from: "a".into(),
                text: format!("m{i}"),
                timestamp_ms: 0,
            });
        }
        assert_eq!((h.messages.len(), h.dropped), (MAX_HISTORY, 5));
        assert_eq!(h.messages.front().unwrap().text, "m5");
    }
}
