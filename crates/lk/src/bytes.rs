//! Byte streams (files sent in chat): a [`ByteWriter`] that sends piece by
//! piece, so the sender can show progress and stop half-way, and a
//! [`ByteReader`] that hands over what arrives chunk by chunk, so the
//! receiver decides where it goes and how much it takes. Both interoperate
//! with LiveKit's SDKs (`sendFile`, `streamBytes`,
//! `registerByteStreamHandler`).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::error::{LkError, failed, unexpected};
use crate::ffi::{self, EventSink};
use crate::handle::FfiHandle;
use crate::proto;
use crate::proto::byte_stream_reader_event::Detail;
use crate::proto::ffi_event::Message as Ev;
use crate::proto::ffi_request::Message as Rq;

/// What a byte stream says about itself in its header (the sender's word:
/// check it before trusting it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ByteStreamInfo {
    /// Stream id, unique per stream.
    pub id: String,
    /// The file name the sender gave.
    pub name: String,
    /// The MIME type the sender declared.
    pub mime_type: String,
    /// Topic (files in chat use `lk.chat`).
    pub topic: String,
    /// The size the sender announced, when it did.
    pub total_length: Option<u64>,
    /// Sender's timestamp, ms since the Unix epoch.
    pub timestamp_ms: i64,
    /// Attributes sent with it.
    pub attributes: BTreeMap<String, String>,
}

impl From<proto::ByteStreamInfo> for ByteStreamInfo {
    fn from(i: proto::ByteStreamInfo) -> Self {
        Self {
            id: i.stream_id,
            name: i.name,
            mime_type: i.mime_type,
            topic: i.topic,
            total_length: i.total_length,
            timestamp_ms: i.timestamp,
            attributes: i.attributes.into_iter().collect(),
        }
    }
}

/// How to open a byte stream.
#[derive(Debug, Clone, Default)]
pub struct ByteStreamOptions {
    /// Topic the receivers registered for.
    pub topic: String,
    /// The stream's id (one is made up when `None`).
    pub id: Option<String>,
    /// File name shown to the receivers.
    pub name: String,
    pub mime_type: String,
    /// The size, when known (receivers show progress against it).
    pub total_length: Option<u64>,
    /// Who receives it (empty: everyone).
    pub destinations: Vec<String>,
    pub attributes: BTreeMap<String, String>,
}

/// An open outgoing byte stream. Close it with [`ByteWriter::close`]; one
/// dropped unclosed is released and its receivers never see an end.
#[derive(Debug)]
pub struct ByteWriter {
    handle: FfiHandle,
    id: String,
}

impl ByteWriter {
    pub(crate) fn new(handle: FfiHandle, id: String) -> Self {
        Self { handle, id }
    }

    /// The stream's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends `bytes` (the library cuts them into packets); returns once the
    /// library has taken them.
    pub async fn write(&self, bytes: Vec<u8>) -> Result<(), LkError> {
        let writer = self.handle.id();
        let event = ffi::call(
            |async_id| {
                Rq::ByteStreamWrite(proto::ByteStreamWriterWriteRequest {
                    writer_handle: writer,
                    bytes: bytes.into(),
                    request_async_id: Some(async_id),
                })
            },
            None,
        )
        .await?;
        match event {
            Ev::ByteStreamWriterWrite(cb) => cb
                .error
                .map_or(Ok(()), |e| Err(failed("sending bytes", e.description))),
            _ => Err(unexpected("ByteStreamWrite")),
        }
    }

    /// Ends the stream: complete when `reason` is `None`, else abandoned
    /// (receivers are told the reason).
    pub async fn close(self, reason: Option<String>) -> Result<(), LkError> {
        let writer = self.handle.id();
        let event = ffi::call(
            |async_id| {
                Rq::ByteStreamClose(proto::ByteStreamWriterCloseRequest {
                    writer_handle: writer,
                    reason,
                    request_async_id: Some(async_id),
                    ..Default::default()
                })
            },
            None,
        )
        .await?;
        match event {
            Ev::ByteStreamWriterClose(cb) => cb.error.map_or(Ok(()), |e| {
                Err(failed("closing a byte stream", e.description))
            }),
            _ => Err(unexpected("ByteStreamClose")),
        }
    }
}

/// What comes out of a [`ByteReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteChunk {
    /// The next bytes.
    Data(Vec<u8>),
    /// The stream ended: whole, or with the sender's or library's reason.
    End(Result<(), String>),
}

/// An incoming byte stream, read chunk by chunk. Dropping it (every clone)
/// stops delivery; what still arrives is released unread.
#[derive(Debug, Clone)]
pub struct ByteReader {
    /// Who sends it.
    pub sender: String,
    pub info: ByteStreamInfo,
    rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<ByteChunk>>>,
    _sink: Arc<Option<Sink>>,
}

impl ByteReader {
    /// A reader fed from `rx` instead of LiveKit (for fakes and tests).
    pub fn from_channel(
        sender: String,
        info: ByteStreamInfo,
        rx: mpsc::UnboundedReceiver<ByteChunk>,
    ) -> Self {
        Self {
            sender,
            info,
            rx: Arc::new(tokio::sync::Mutex::new(rx)),
            _sink: Arc::new(None),
        }
    }

    /// The next chunk; `None` once nothing more can come (the library is
    /// gone, or the end was already read).
    pub async fn next(&self) -> Option<ByteChunk> {
        self.rx.lock().await.recv().await
    }
}

/// Turns the library's reader events into chunks.
struct ReaderSink(mpsc::UnboundedSender<ByteChunk>);

impl EventSink for ReaderSink {
    fn deliver(&self, event: Ev) {
        let Ev::ByteStreamReaderEvent(proto::ByteStreamReaderEvent {
            detail: Some(detail),
            ..
        }) = event
        else {
            return;
        };
        let chunk = match detail {
            Detail::ChunkReceived(c) => ByteChunk::Data(c.content.to_vec()),
            Detail::Eos(end) => ByteChunk::End(end.error.map_or(Ok(()), |e| Err(e.description))),
        };
        let _ = self.0.send(chunk);
    }
}

/// Unregisters the reader's sink when the last clone goes.
#[derive(Debug)]
struct Sink(u64);

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(client) = ffi::client_if_loaded() {
            client.unregister_sink(self.0);
        }
    }
}

/// Starts reading a stream the room announced; `None` (the stream released)
/// when the library refuses.
pub(crate) fn start_reading(opened: proto::ByteStreamOpened) -> Option<ByteReader> {
    let handle = FfiHandle::new(opened.reader.handle.id);
    let id = handle.id();
    let client = ffi::client().ok()?;
    let (tx, rx) = mpsc::unbounded_channel();
    client.register_sink(id, Arc::new(ReaderSink(tx)));
    let sink = Sink(id);
    let info = ByteStreamInfo::from(opened.reader.info);
    if let Err(e) = client.request(Rq::ByteReadIncremental(
        proto::ByteStreamReaderReadIncrementalRequest { reader_handle: id },
    )) {
        tracing::warn!(stream = %info.id, "byte stream could not be read: {e}");
        return None;
    }
    // Reading moved the reader into the library's own task.
    handle.taken_by_library();
    Some(ByteReader {
        sender: opened.participant_identity,
        info,
        rx: Arc::new(tokio::sync::Mutex::new(rx)),
        _sink: Arc::new(Some(sink)),
    })
}
