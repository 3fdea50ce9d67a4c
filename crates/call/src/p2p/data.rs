//! Files between two Tandems in a seed-004 call. Seed 004's platform has
//! no way to send files (its write-up lists it among future work), so when
//! both people use Tandem they go over a WebRTC data channel of Tandem's
//! own, labelled [`LABEL`], on the connection the call already has.
//!
//! The channel is ordered and reliable. Text messages are JSON
//! [`Message`]s; binary messages are a file's pieces: one byte giving the
//! length of the file's id, the id, then the bytes. Each side says
//! [`Message::Hello`] when the channel opens; a browser's page opens the
//! channel too (its WebRTC stack does that by itself) but never says hello,
//! so files are offered only between two Tandems.
//!
//! Everything read here comes from the network and is checked: sizes,
//! ids, and JSON that is not one of these messages.

use serde::{Deserialize, Serialize};

/// The data channel's label (its version after the slash).
pub const LABEL: &str = "tandem-files/1";
/// Bytes of a file per binary message.
pub const PIECE: usize = 16 * 1024;
/// The longest text message taken.
const MAX_TEXT: usize = 8 * 1024;
/// The longest file id taken.
pub const MAX_ID: usize = 64;

/// A text message on the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// The channel is open on this side and it takes files.
    Hello { app: String },
    /// A file begins; its pieces follow.
    Open {
        id: String,
        name: String,
        mime_type: String,
        size: u64,
    },
    /// The sender is done with a file: whole (`error` none) or abandoned.
    End { id: String, error: Option<String> },
    /// The receiver takes no more of a file, and why.
    Stop { id: String, reason: String },
}

/// What arrived on the channel, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Message(Message),
    Piece { id: String, bytes: Vec<u8> },
}

/// Reads one message from the channel; why it is refused otherwise.
pub fn parse(binary: bool, data: &[u8]) -> Result<Incoming, String> {
    if binary {
        let (&len, rest) = data.split_first().ok_or("an empty piece")?;
        let len = usize::from(len);
        if rest.len() < len {
            return Err("a piece shorter than its id".into());
        }
        let (id, bytes) = rest.split_at(len);
        let id = std::str::from_utf8(id).map_err(|_| "a piece whose id is not text")?;
        check_id(id)?;
        return Ok(Incoming::Piece {
            id: id.to_owned(),
            bytes: bytes.to_vec(),
        });
    }
    if data.len() > MAX_TEXT {
        return Err(format!("a message of {} bytes", data.len()));
    }
    let message: Message =
        serde_json::from_slice(data).map_err(|e| format!("a message not understood: {e}"))?;
    match &message {
        Message::Hello { .. } => {}
        Message::Open { id, .. } | Message::End { id, .. } | Message::Stop { id, .. } => {
            check_id(id)?
        }
    }
    Ok(Incoming::Message(message))
}

/// A message as the channel carries it.
pub fn text(message: &Message) -> Vec<u8> {
    // A plain enum of strings and numbers always serialises.
    serde_json::to_vec(message).unwrap_or_default()
}

/// A piece of the file `id` as the channel carries it; `id` must have
/// passed [`check_id`].
pub fn piece(id: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + id.len() + bytes.len());
    out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(bytes);
    out
}

/// A file id: 1 to [`MAX_ID`] letters, digits, `-` or `_`.
pub fn check_id(id: &str) -> Result<(), String> {
    let fine = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fine {
        Ok(())
    } else {
        Err(format!(
            "a file id that is not 1 to {MAX_ID} letters, digits, - or _"
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_pieces_come_back_as_sent() {
        let open = Message::Open {
            id: "f-1".into(),
            name: "plan.pdf".into(),
            mime_type: "application/pdf".into(),
            size: 12,
        };
        assert_eq!(parse(false, &text(&open)).unwrap(), Incoming::Message(open));
        let end = Message::End {
            id: "f-1".into(),
            error: None,
        };
        assert_eq!(parse(false, &text(&end)).unwrap(), Incoming::Message(end));
        assert_eq!(
            parse(true, &piece("f-1", b"hello")).unwrap(),
            Incoming::Piece {
                id: "f-1".into(),
                bytes: b"hello".to_vec()
            }
        );
        // An empty piece of a file is still a piece.
        assert_eq!(
            parse(true, &piece("f-1", b"")).unwrap(),
            Incoming::Piece {
                id: "f-1".into(),
                bytes: vec![]
            }
        );
    }

    #[test]
    fn what_is_not_a_message_is_refused() {
        assert!(parse(true, b"").is_err());
        assert!(parse(true, &[9, b'a']).is_err(), "shorter than its id");
        assert!(parse(true, &[0]).is_err(), "an empty id");
        assert!(parse(true, &piece("../x", b"1")).is_err());
        assert!(parse(false, b"not json").is_err());
        assert!(parse(false, br#"{"kind":"launch","id":"a"}"#).is_err());
        assert!(parse(false, br#"{"kind":"end","id":"a b","error":null}"#).is_err());
        assert!(
            parse(
                false,
                br#"{"kind":"open","id":"a","name":"x","mime_type":"y","size":-1}"#
            )
            .is_err()
        );
        let long = format!(r#"{{"kind":"hello","app":"{}"}}"#, "x".repeat(MAX_TEXT));
        assert!(parse(false, long.as_bytes()).is_err());
        assert!(check_id(&"a".repeat(MAX_ID + 1)).is_err());
        assert!(check_id(&"a".repeat(MAX_ID)).is_ok());
    }
}
