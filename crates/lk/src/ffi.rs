//! The process-wide FFI client: one library, one event callback.
//!
//! Requests are synchronous calls into the library; many answer later with
//! a callback event carrying the `async_id` we assigned up front. Events
//! for rooms and streams are routed to the sink registered for their
//! handle. Nothing panics across the C boundary.

use crate::error::FfiError;
use crate::handle::FfiHandle;
use crate::loader::{FfiLib, LoadError};
use crate::proto;
use crate::proto::ffi_event::Message as Ev;
use parking_lot::{Condvar, Mutex};
use prost::Message as _;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Settings read once, when the library is first used.
#[derive(Debug, Clone, Default)]
pub struct LibraryConfig {
    /// Extra folders to search, e.g. the app bundle's resource folder.
    pub resource_dirs: Vec<PathBuf>,
}

static CONFIG: OnceLock<LibraryConfig> = OnceLock::new();
static CLIENT: OnceLock<Result<FfiClient, LoadError>> = OnceLock::new();

/// Sets where to look for the library. Only the first call counts, and only
/// if it happens before the first LiveKit object is created.
pub fn configure(config: LibraryConfig) -> bool {
    CONFIG.set(config).is_ok() && CLIENT.get().is_none()
}

/// Loads and initializes the library if needed; returns its path.
pub fn ensure_loaded() -> Result<PathBuf, LoadError> {
    client().map(|c| c.lib.path.to_path_buf())
}

/// Receives events routed to one handle (a room, a stream). Called on the
/// library's thread: it must not block.
pub(crate) trait EventSink: Send + Sync {
    fn deliver(&self, event: Ev);
}

pub(crate) type Keepalive = Box<dyn std::any::Any + Send>;

struct Pending {
    reply: oneshot::Sender<Ev>,
    _keepalive: Option<Keepalive>,
}

pub(crate) struct FfiClient {
    lib: FfiLib,
    next_async_id: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
    sinks: Mutex<HashMap<u64, Arc<dyn EventSink>>>,
    recent_errors: Mutex<RecentLogs>,
    logs_arrived: Condvar,
}

/// The last few warning/error lines from the library, to explain a request
/// that it refused with handle 0.
#[derive(Default)]
struct RecentLogs {
    seq: u64,
    lines: VecDeque<(u64, String)>,
}

pub(crate) fn client() -> Result<&'static FfiClient, LoadError> {
    CLIENT
        .get_or_init(|| {
            let config = CONFIG.get_or_init(LibraryConfig::default);
            let lib = crate::loader::load(&config.resource_dirs)?;
            let started = Instant::now();
            // SAFETY: `on_event` matches the callback type and is 'static; the
            // strings are NUL-terminated literals.
            unsafe {
                (lib.initialize)(on_event, true, c"rust".as_ptr(), c"0.1.0".as_ptr());
            }
            tracing::debug!(path = %lib.path.display(), took_ms = started.elapsed().as_millis() as u64, "LiveKit library initialized");
            Ok(FfiClient {
                lib,
                next_async_id: AtomicU64::new(1),
                pending: Mutex::new(HashMap::new()),
                sinks: Mutex::new(HashMap::new()),
                recent_errors: Mutex::new(RecentLogs::default()),
                logs_arrived: Condvar::new(),
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

pub(crate) fn client_if_loaded() -> Option<&'static FfiClient> {
    CLIENT.get().and_then(|c| c.as_ref().ok())
}

impl FfiClient {
    pub(crate) fn next_async_id(&self) -> u64 {
        self.next_async_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn drop_handle(&self, id: u64) -> bool {
        // SAFETY: plain integer call into the loaded library.
        unsafe { (self.lib.drop_handle)(id) }
    }

    /// Sends a request and decodes its immediate response.
    pub(crate) fn request(
        &self,
        message: proto::ffi_request::Message,
    ) -> Result<proto::ffi_response::Message, FfiError> {
        let name = request_name(&message);
        let bytes = proto::FfiRequest {
            message: Some(message),
        }
        .encode_to_vec();
        let seq_before = self.recent_errors.lock().seq;
        let mut res_ptr: *const u8 = std::ptr::null();
        let mut res_len: usize = 0;
        // SAFETY: `bytes` outlives the call; the out-pointers are valid locals.
        let handle =
            unsafe { (self.lib.request)(bytes.as_ptr(), bytes.len(), &mut res_ptr, &mut res_len) };
        if handle == 0 || res_ptr.is_null() {
            return Err(FfiError::Rejected {
                request: name,
                reason: self.log_reason_after(seq_before),
            });
        }
        let response_handle = FfiHandle::new(handle);
        // SAFETY: the library keeps the response buffer alive until its handle
        // is dropped, which happens after we decode it below.
        let slice = unsafe { std::slice::from_raw_parts(res_ptr, res_len) };
        let decoded = proto::FfiResponse::decode(slice);
        drop(response_handle);
        decoded
            .map_err(|e| FfiError::Protocol(format!("undecodable {name} response: {e}")))?
            .message
            .ok_or_else(|| FfiError::Protocol(format!("empty {name} response")))
    }

    /// Registers for the callback with `async_id` before the request is sent;
    /// `keepalive` holds memory the library reads until the callback arrives.
    pub(crate) fn expect_callback(
        &self,
        async_id: u64,
        keepalive: Option<Keepalive>,
    ) -> oneshot::Receiver<Ev> {
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(
            async_id,
            Pending {
                reply: tx,
                _keepalive: keepalive,
            },
        );
        rx
    }

    pub(crate) fn forget_callback(&self, async_id: u64) {
        self.pending.lock().remove(&async_id);
    }

    pub(crate) fn register_sink(&self, handle: u64, sink: Arc<dyn EventSink>) {
        self.sinks.lock().insert(handle, sink);
    }

    pub(crate) fn unregister_sink(&self, handle: u64) {
        self.sinks.lock().remove(&handle);
    }

    /// Waits briefly for the library's log line that explains a refusal:
    /// logs arrive on the event thread, slightly after the request returns.
    fn log_reason_after(&self, seq_before: u64) -> String {
        let deadline = Instant::now() + Duration::from_millis(300);
        let mut logs = self.recent_errors.lock();
        loop {
            let newer: Vec<&str> = logs
                .lines
                .iter()
                .filter(|(seq, _)| *seq > seq_before)
                .map(|(_, l)| l.as_str())
                .collect();
            if !newer.is_empty() {
                return newer.join("; ");
            }
            if self
                .logs_arrived
                .wait_until(&mut logs, deadline)
                .timed_out()
            {
                return "the library refused the request without saying why".to_owned();
            }
        }
    }

    fn on_logs(&self, batch: proto::LogBatch) {
        for record in batch.records {
            let level = proto::LogLevel::try_from(record.level).unwrap_or(proto::LogLevel::LogInfo);
            let target = record.target.as_str();
            // The library's request dumps can include the access token.
            let redacted = redact_tokens(&record.message);
            let msg = redacted.as_ref();
            match level {
                proto::LogLevel::LogError => {
                    tracing::error!(target: "livekit", lk_target = target, "{msg}")
                }
                proto::LogLevel::LogWarn => {
                    tracing::warn!(target: "livekit", lk_target = target, "{msg}")
                }
                proto::LogLevel::LogInfo => {
                    tracing::info!(target: "livekit", lk_target = target, "{msg}")
                }
                proto::LogLevel::LogDebug => {
                    tracing::debug!(target: "livekit", lk_target = target, "{msg}")
                }
                proto::LogLevel::LogTrace => {
                    tracing::trace!(target: "livekit", lk_target = target, "{msg}")
                }
            }
            if matches!(level, proto::LogLevel::LogError | proto::LogLevel::LogWarn) {
                let mut logs = self.recent_errors.lock();
                logs.seq += 1;
                let seq = logs.seq;
                logs.lines.push_back((seq, msg.to_owned()));
                while logs.lines.len() > 16 {
                    logs.lines.pop_front();
                }
                self.logs_arrived.notify_all();
            }
        }
    }

    fn dispatch(&self, event: Ev) {
        if let Some(async_id) = callback_async_id(&event) {
            let pending = self.pending.lock().remove(&async_id);
            match pending {
                Some(p) => {
                    if let Err(event) = p.reply.send(event) {
                        release_orphan(event);
                    }
                }
                None => release_orphan(event),
            }
            return;
        }
        let route = match &event {
            Ev::RoomEvent(e) => Some(e.room_handle),
            Ev::VideoStreamEvent(e) => Some(e.stream_handle),
            Ev::AudioStreamEvent(e) => Some(e.stream_handle),
            Ev::TextStreamReaderEvent(e) => Some(e.reader_handle),
            Ev::ByteStreamReaderEvent(e) => Some(e.reader_handle),
            Ev::Logs(_) | Ev::Panic(_) => None,
            _ => None,
        };
        match event {
            Ev::Logs(batch) => self.on_logs(batch),
            Ev::Panic(p) => {
                tracing::error!(target: "livekit", "the LiveKit library panicked: {}", p.message)
            }
            event => {
                let sink = route.and_then(|h| self.sinks.lock().get(&h).cloned());
                match sink {
                    Some(sink) => sink.deliver(event),
                    None => release_orphan(event),
                }
            }
        }
    }

    /// Synchronous dispose (the async form panics inside the library), then
    /// the library's own teardown. The library stays loaded.
    pub(crate) fn dispose(&self) {
        let _ = self.request(proto::ffi_request::Message::Dispose(
            proto::DisposeRequest { r#async: false },
        ));
        // SAFETY: no arguments; after this no further requests are made.
        unsafe { (self.lib.dispose)() }
    }
}

/// Tears the library down at process exit (optional; the OS reclaims all).
pub fn shutdown() {
    if let Some(c) = client_if_loaded() {
        c.dispose();
    }
}

/// Replaces anything shaped like a JWT (`eyJ…​.…​.…`), or a piece of one (a
/// base64 JSON run, as a dump cut short leaves), with a marker, so no token
/// or part of one reaches a log.
pub(crate) fn redact_tokens(text: &str) -> std::borrow::Cow<'_, str> {
    const MARK: &str = "<redacted token>";
    if !text.contains("eyJ") {
        return std::borrow::Cow::Borrowed(text);
    }
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '=';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("eyJ") {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| !(is_b64(c) || c == '.'))
            .unwrap_or(candidate.len());
        let run = &candidate[..end];
        if run.len() >= 8 {
            out.push_str(MARK);
        } else {
            out.push_str(run);
        }
        rest = &candidate[end..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

extern "C" fn on_event(data: *const u8, len: usize) {
    let outcome = std::panic::catch_unwind(|| {
        if data.is_null() {
            return;
        }
        // SAFETY: the library passes a buffer valid for the duration of this call.
        let bytes = unsafe { std::slice::from_raw_parts(data, len) };
        let event = match proto::FfiEvent::decode(bytes) {
            Ok(proto::FfiEvent { message: Some(m) }) => m,
            Ok(_) => return,
            Err(e) => {
                tracing::error!("undecodable event from the LiveKit library: {e}");
                return;
            }
        };
        if let Some(client) = client_if_loaded() {
            client.dispatch(event);
        }
    });
    if outcome.is_err() {
        // The panic message was already printed by the hook; never unwind into C.
        tracing::error!("a LiveKit event handler panicked; the event was dropped");
    }
}

/// The `async_id` of a callback-style event, if it is one.
fn callback_async_id(event: &Ev) -> Option<u64> {
    Some(match event {
        Ev::Connect(e) => e.async_id,
        Ev::Disconnect(e) => e.async_id,
        Ev::Dispose(e) => e.async_id,
        Ev::PublishTrack(e) => e.async_id,
        Ev::UnpublishTrack(e) => e.async_id,
        Ev::PublishData(e) => e.async_id,
        Ev::PublishTranscription(e) => e.async_id,
        Ev::CaptureAudioFrame(e) => e.async_id,
        Ev::SetLocalMetadata(e) => e.async_id,
        Ev::SetLocalName(e) => e.async_id,
        Ev::SetLocalAttributes(e) => e.async_id,
        Ev::GetStats(e) => e.async_id,
        Ev::GetSessionStats(e) => e.async_id,
        Ev::PublishSipDtmf(e) => e.async_id,
        Ev::ChatMessage(e) => e.async_id,
        Ev::PerformRpc(e) => e.async_id,
        Ev::SendStreamHeader(e) => e.async_id,
        Ev::SendStreamChunk(e) => e.async_id,
        Ev::SendStreamTrailer(e) => e.async_id,
        Ev::ByteStreamReaderReadAll(e) => e.async_id,
        Ev::ByteStreamReaderWriteToFile(e) => e.async_id,
        Ev::ByteStreamOpen(e) => e.async_id,
        Ev::ByteStreamWriterWrite(e) => e.async_id,
        Ev::ByteStreamWriterClose(e) => e.async_id,
        Ev::SendFile(e) => e.async_id,
        Ev::TextStreamReaderReadAll(e) => e.async_id,
        Ev::TextStreamOpen(e) => e.async_id,
        Ev::TextStreamWriterWrite(e) => e.async_id,
        Ev::TextStreamWriterClose(e) => e.async_id,
        Ev::SendText(e) => e.async_id,
        Ev::SendBytes(e) => e.async_id,
        _ => return None,
    })
}

/// Drops the handles inside an event nobody is waiting for, so an abandoned
/// future or an unrouted stream never leaks native objects.
fn release_orphan(event: Ev) {
    use proto::room_event::Message as R;
    match event {
        Ev::Connect(proto::ConnectCallback {
            message: Some(proto::connect_callback::Message::Result(r)),
            ..
        }) => {
            drop(FfiHandle::new(r.local_participant.handle.id));
            for p in r.participants {
                drop(FfiHandle::new(p.participant.handle.id));
                for publication in p.publications {
                    drop(FfiHandle::new(publication.handle.id));
                }
            }
            drop(FfiHandle::new(r.room.handle.id));
        }
        Ev::PublishTrack(proto::PublishTrackCallback {
            message: Some(proto::publish_track_callback::Message::Publication(p)),
            ..
        }) => drop(FfiHandle::new(p.handle.id)),
        Ev::ByteStreamOpen(proto::ByteStreamOpenCallback {
            result: Some(proto::byte_stream_open_callback::Result::Writer(w)),
            ..
        }) => drop(FfiHandle::new(w.handle.id)),
        Ev::VideoStreamEvent(proto::VideoStreamEvent {
            message: Some(proto::video_stream_event::Message::FrameReceived(f)),
            ..
        }) => drop(FfiHandle::new(f.buffer.handle.id)),
        Ev::AudioStreamEvent(proto::AudioStreamEvent {
            message: Some(proto::audio_stream_event::Message::FrameReceived(f)),
            ..
        }) => drop(FfiHandle::new(f.frame.handle.id)),
        Ev::RoomEvent(proto::RoomEvent {
            message: Some(m), ..
        }) => match m {
            R::ParticipantConnected(p) => drop(FfiHandle::new(p.info.handle.id)),
            R::TrackPublished(t) => drop(FfiHandle::new(t.publication.handle.id)),
            R::TrackSubscribed(t) => drop(FfiHandle::new(t.track.handle.id)),
            R::TextStreamOpened(t) => drop(FfiHandle::new(t.reader.handle.id)),
            R::ByteStreamOpened(b) => drop(FfiHandle::new(b.reader.handle.id)),
            R::DataPacketReceived(proto::DataPacketReceived {
                value: Some(proto::data_packet_received::Value::User(u)),
                ..
            }) => drop(FfiHandle::new(u.data.handle.id)),
            _ => {}
        },
        _ => {}
    }
}

fn request_name(message: &proto::ffi_request::Message) -> &'static str {
    use proto::ffi_request::Message as Rq;
    match message {
        Rq::Dispose(_) => "Dispose",
        Rq::Connect(_) => "Connect",
        Rq::Disconnect(_) => "Disconnect",
        Rq::PublishTrack(_) => "PublishTrack",
        Rq::UnpublishTrack(_) => "UnpublishTrack",
        Rq::PublishData(_) => "PublishData",
        Rq::SetLocalMetadata(_) => "SetLocalMetadata",
        Rq::SetLocalName(_) => "SetLocalName",
        Rq::SetLocalAttributes(_) => "SetLocalAttributes",
        Rq::CreateVideoTrack(_) => "CreateVideoTrack",
        Rq::CreateAudioTrack(_) => "CreateAudioTrack",
        Rq::LocalTrackMute(_) => "LocalTrackMute",
        Rq::NewVideoStream(_) => "NewVideoStream",
        Rq::NewVideoSource(_) => "NewVideoSource",
        Rq::CaptureVideoFrame(_) => "CaptureVideoFrame",
        Rq::NewAudioStream(_) => "NewAudioStream",
        Rq::NewAudioSource(_) => "NewAudioSource",
        Rq::CaptureAudioFrame(_) => "CaptureAudioFrame",
        Rq::NewApm(_) => "NewApm",
        Rq::ApmProcessStream(_) => "ApmProcessStream",
        Rq::ApmProcessReverseStream(_) => "ApmProcessReverseStream",
        Rq::NewSoxResampler(_) => "NewSoxResampler",
        Rq::PushSoxResampler(_) => "PushSoxResampler",
        Rq::SendText(_) => "SendText",
        Rq::TextReadAll(_) => "TextReadAll",
        Rq::GetStats(_) => "GetStats",
        Rq::ReadyForRoomEvent(_) => "ReadyForRoomEvent",
        _ => "request",
    }
}

/// Sends a request that answers with a callback event, and awaits it.
/// `build` receives the pre-assigned async id; `keepalive` holds memory the
/// library reads until it answers.
pub(crate) async fn call(
    build: impl FnOnce(u64) -> proto::ffi_request::Message,
    keepalive: Option<Keepalive>,
) -> Result<Ev, FfiError> {
    let client = client()?;
    let async_id = client.next_async_id();
    let reply = client.expect_callback(async_id, keepalive);
    if let Err(e) = client.request(build(async_id)) {
        client.forget_callback(async_id);
        return Err(e);
    }
    // If this future is dropped here, the pending entry stays until the
    // callback arrives; then its handles are released as orphans.
    reply.await.map_err(|_| FfiError::Closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_redacted_from_log_lines() {
        let line = r#"ConnectRequest { url: "ws://x", token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig-_x" }"#;
        let out = redact_tokens(line);
        assert!(
            !out.contains("eyJhbGci") && !out.contains("sig-_x"),
            "{out}"
        );
        assert!(out.contains("<redacted token>") && out.contains("ws://x"));
        assert_eq!(redact_tokens("plain eyJ text"), "plain eyJ text");
        // A dump cut off inside the token still hides what it holds.
        let cut = r#"(connect { token: "eyJhbGciOiJIUzI1NiJ9.eyJzd"#;
        assert_eq!(redact_tokens(cut), r#"(connect { token: "<redacted token>"#);
        assert_eq!(
            redact_tokens("h=eyJhbGciOiJIUzI1NiJ9"),
            "h=<redacted token>"
        );
    }

    #[test]
    fn a_refused_request_carries_the_librarys_log_reason() {
        let client = client().unwrap();
        // No track has this handle: LiveKit answers with handle 0 and a log line.
        let err = client
            .request(proto::ffi_request::Message::NewVideoStream(
                proto::NewVideoStreamRequest {
                    track_handle: 987_654_321,
                    r#type: proto::VideoStreamType::VideoStreamNative as i32,
                    ..Default::default()
                },
            ))
            .unwrap_err();
        match err {
            FfiError::Rejected { request, reason } => {
                assert_eq!(request, "NewVideoStream");
                assert!(
                    !reason.contains("without saying why"),
                    "no log reason captured: {reason}"
                );
                eprintln!("reason: {reason}");
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
    }
}
