//! Reading text streams (chat on `lk.chat`) from other participants, with
//! bounds: a peer decides how long its stream is and whether it ever ends,
//! so each is read chunk by chunk up to [`MAX_TEXT_BYTES`], abandoned when
//! it goes quiet, and only so many are read at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::events::TextMessage;
use crate::ffi::{self, EventSink};
use crate::handle::FfiHandle;
use crate::proto;
use crate::proto::ffi_event::Message as Ev;
use crate::proto::ffi_request::Message as Rq;
use crate::proto::text_stream_reader_event::Detail;

/// Bytes of a text stream kept; the rest is dropped and the message is
/// marked [`TextMessage::truncated`]. Chat shows at most 4,000 characters,
/// which fit in 16 KiB of UTF-8.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// A stream that sends nothing for this long is abandoned.
pub(crate) const IDLE: Duration = Duration::from_secs(20);
/// Streams read at the same time; more are refused until some finish.
pub(crate) const MAX_OPEN: usize = 64;

struct ReaderSink(mpsc::UnboundedSender<Ev>);

impl EventSink for ReaderSink {
    fn deliver(&self, event: Ev) {
        let _ = self.0.send(event);
    }
}

/// Unregisters the reader's sink however reading ends. What the library
/// still sends for it afterwards is released unread.
struct Sink(u64);

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(client) = ffi::client_if_loaded() {
            client.unregister_sink(self.0);
        }
    }
}

/// Releases a stream without reading it.
pub(crate) fn refuse(opened: proto::TextStreamOpened) {
    tracing::warn!(
        stream = %opened.reader.info.stream_id,
        from = %opened.participant_identity,
        "too many unfinished text streams; refusing another"
    );
    drop(FfiHandle::new(opened.reader.handle.id));
}

/// Reads one stream to its end (or [`MAX_TEXT_BYTES`]); `None` when it
/// failed, went quiet for [`IDLE`], or the library is gone.
pub(crate) async fn read(opened: proto::TextStreamOpened) -> Option<TextMessage> {
    let info = opened.reader.info;
    let handle = FfiHandle::new(opened.reader.handle.id);
    let id = handle.id();
    let client = ffi::client().ok()?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    client.register_sink(id, Arc::new(ReaderSink(tx)));
    let sink = Sink(id);
    let asked = client.request(Rq::TextReadIncremental(
        proto::TextStreamReaderReadIncrementalRequest { reader_handle: id },
    ));
    if let Err(e) = asked {
        tracing::warn!(stream = %info.stream_id, "text stream could not be read: {e}");
        return None;
    }
    // Reading moved the reader into the library's own task.
    handle.taken_by_library();
    let mut text = String::new();
    let mut truncated = false;
    loop {
        let event = match tokio::time::timeout(IDLE, rx.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => return None,
            Err(_) => {
                tracing::warn!(stream = %info.stream_id, from = %opened.participant_identity, "text stream went quiet; abandoned");
                return None;
            }
        };
        let Ev::TextStreamReaderEvent(proto::TextStreamReaderEvent {
            detail: Some(detail),
            ..
        }) = event
        else {
            continue;
        };
        match detail {
            Detail::ChunkReceived(c) => {
                if append_bounded(&mut text, &c.content) {
                    truncated = true;
                    // Enough: stop reading; what the peer still sends is
                    // released unread.
                    break;
                }
            }
            Detail::Eos(end) => {
                if let Some(e) = end.error {
                    tracing::warn!(stream = %info.stream_id, "text stream ended with an error: {}", e.description);
                    return None;
                }
                break;
            }
        }
    }
    drop(sink);
    Some(TextMessage {
        sender: opened.participant_identity,
        topic: info.topic,
        text,
        id: info.stream_id,
        timestamp_ms: info.timestamp,
        attributes: info.attributes.into_iter().collect(),
        truncated,
    })
}

/// Puts finished streams back in the order each sender opened them, so a
/// sender's messages arrive in the order sent; one sender's slow or stuck
/// stream holds up only that sender's later messages (until [`IDLE`]).
#[derive(Debug, Default)]
pub(crate) struct InOrder {
    lanes: HashMap<String, Lane>,
}

#[derive(Debug, Default)]
struct Lane {
    opened: u64,
    released: u64,
    done: BTreeMap<u64, Option<TextMessage>>,
}

impl InOrder {
    /// Numbers a newly opened stream from `sender`.
    pub(crate) fn open(&mut self, sender: &str) -> u64 {
        let lane = self.lanes.entry(sender.to_owned()).or_default();
        lane.opened += 1;
        lane.opened - 1
    }

    /// Records how stream `seq` from `sender` ended (`None`: unreadable)
    /// and returns the messages now due, in order.
    pub(crate) fn finish(
        &mut self,
        sender: &str,
        seq: u64,
        message: Option<TextMessage>,
    ) -> Vec<TextMessage> {
        let Some(lane) = self.lanes.get_mut(sender) else {
            return Vec::new();
        };
        lane.done.insert(seq, message);
        let mut due = Vec::new();
        while let Some(m) = lane.done.remove(&lane.released) {
            lane.released += 1;
            due.extend(m);
        }
        if lane.released == lane.opened {
            self.lanes.remove(sender);
        }
        due
    }
}

/// Appends `chunk` while `text` stays within [`MAX_TEXT_BYTES`], cut at a
/// character boundary; true when something had to be left out.
fn append_bounded(text: &mut String, chunk: &str) -> bool {
    let room = MAX_TEXT_BYTES.saturating_sub(text.len());
    if chunk.len() <= room {
        text.push_str(chunk);
        return false;
    }
    let mut cut = room;
    while !chunk.is_char_boundary(cut) {
        cut -= 1;
    }
    text.push_str(&chunk[..cut]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str) -> Option<TextMessage> {
        Some(TextMessage {
            sender: "a".into(),
            topic: "lk.chat".into(),
            text: id.into(),
            id: id.into(),
            timestamp_ms: 0,
            attributes: Default::default(),
            truncated: false,
        })
    }

    fn ids(v: Vec<TextMessage>) -> Vec<String> {
        v.into_iter().map(|m| m.id).collect()
    }

    #[test]
    fn each_senders_messages_come_out_in_the_order_opened() {
        let mut o = InOrder::default();
        let (a0, a1, a2) = (o.open("a"), o.open("a"), o.open("a"));
        let b0 = o.open("b");
        assert!(o.finish("a", a1, msg("a1")).is_empty(), "a1 waits for a0");
        assert_eq!(
            ids(o.finish("b", b0, msg("b0"))),
            ["b0"],
            "b does not wait for a"
        );
        assert_eq!(ids(o.finish("a", a0, msg("a0"))), ["a0", "a1"]);
        assert_eq!(ids(o.finish("a", a2, None)), Vec::<String>::new());
        assert!(o.lanes.is_empty(), "finished lanes are forgotten");
        let a3 = o.open("a");
        assert_eq!(a3, 0);
        let a4 = o.open("a");
        assert!(o.finish("a", a4, msg("a4")).is_empty());
        assert_eq!(
            ids(o.finish("a", a3, None)),
            ["a4"],
            "an unreadable stream releases the next"
        );
    }

    #[test]
    fn text_is_bounded_at_a_character_boundary() {
        let mut t = String::new();
        assert!(!append_bounded(&mut t, &"a".repeat(MAX_TEXT_BYTES - 1)));
        assert!(append_bounded(&mut t, "éé"));
        assert_eq!(t.len(), MAX_TEXT_BYTES - 1);
        let mut t = String::new();
        assert!(!append_bounded(&mut t, "short"));
        assert!(!append_bounded(&mut t, " and more"));
        assert_eq!(t, "short and more");
    }
}
