//! Files in chat: LiveKit byte streams on topic [`FILE_TOPIC`], which is
//! where LiveKit's JS SDK sends a chat message's attachments
//! (`sendText(…, {attachments})`) and what a JS client's
//! `registerByteStreamHandler("lk.chat", …)` reads; files sent with
//! `sendFile`'s default topic (`""`) are taken too.
//!
//! A file is sent piece by piece from disk, so progress is told and either
//! side can stop it. One that arrives is written to a `.part` file under
//! [`super::CallConfig::received_dir`], counted against [`MAX_FILE_BYTES`],
//! and renamed only once whole: nothing partial is ever left looking
//! complete. Saving it where the person wants is
//! [`super::saving::save_received`], under a name made safe; nothing
//! received is ever opened.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tandem_lk as lk;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use super::handle::Out;
use super::saving::{io_words, is_format_char};
use super::types::{CallError, CallEvent, FileState, FileTransfer};
use crate::room::{BytesOut, Room, RoomError};

/// The topic files travel on (the chat's, as LiveKit's JS SDK sends
/// attachments).
pub const FILE_TOPIC: &str = "lk.chat";
/// The largest file sent or taken.
pub const MAX_FILE_BYTES: u64 = 100_000_000;
/// Bytes read from disk and handed to LiveKit at a time.
const PIECE: usize = 64 * 1024;
/// A file that sends nothing for this long is abandoned.
pub(super) const IDLE: Duration = Duration::from_secs(20);
/// Files received at the same time; more are refused.
const MAX_RECEIVING: usize = 8;
/// Characters of a sender's file name kept for showing.
const MAX_NAME_CHARS: usize = 255;
/// Progress is told at most this often per transfer.
const REPORT_EVERY: Duration = Duration::from_millis(200);
/// Bytes looked at to tell a file's type.
const SNIFF_BYTES: usize = 8 * 1024;

/// Why a transfer is being stopped from outside its task.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stop {
    /// The person cancelled it.
    Cancelled,
    /// The sender left the call.
    SenderLeft,
    /// Ours going out: the receiving side cancelled it (`None`), or it
    /// cannot go on for this reason (refused, the way to them went).
    Refused(Option<String>),
}

/// Where files are sent: the LiveKit room, or the data channel of a
/// peer-to-peer call ([`super::p2p_files`]).
pub(super) trait FileLink: Clone + Send + Sync + 'static {
    type Bytes: BytesOut;
    /// Who sends (our identity).
    fn identity(&self) -> String;
    /// Opens a stream for one file.
    fn open_bytes(
        &self,
        options: lk::ByteStreamOptions,
    ) -> impl Future<Output = Result<Self::Bytes, RoomError>> + Send;
}

impl<R: Room> FileLink for R {
    type Bytes = R::Bytes;
    fn identity(&self) -> String {
        Room::identity(self)
    }
    fn open_bytes(
        &self,
        options: lk::ByteStreamOptions,
    ) -> impl Future<Output = Result<Self::Bytes, RoomError>> + Send {
        Room::open_bytes(self, options)
    }
}

#[derive(Debug)]
struct Running {
    sender: String,
    outgoing: bool,
    stop: watch::Sender<Option<Stop>>,
}

/// The call's file transfers.
#[derive(Debug)]
pub(super) struct Files {
    running: HashMap<String, Running>,
    dir: PathBuf,
    /// Numbers received files' names on disk.
    next: u64,
}

impl Files {
    pub(super) fn new(dir: PathBuf) -> Self {
        Self {
            running: HashMap::new(),
            dir,
            next: 0,
        }
    }

    /// Forgets transfers whose task has finished.
    fn prune(&mut self) {
        self.running.retain(|_, r| !r.stop.is_closed());
    }

    /// Starts sending the file at `path` to everyone; its id. The file is
    /// checked first (readable, a regular file, within the limit).
    pub(super) fn send<L: FileLink>(
        &mut self,
        room: &L,
        path: &Path,
        out: &Out,
    ) -> Result<String, CallError> {
        self.prune();
        let shown = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let unreadable = |e: std::io::Error| {
            CallError::File(format!("{shown} cannot be read: {}", io_words(&e)))
        };
        let meta = std::fs::metadata(path).map_err(unreadable)?;
        if !meta.is_file() {
            return Err(CallError::File(format!("{shown} is not a file")));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(CallError::File(format!(
                "{shown} is {}; files over {} cannot be sent",
                size_words(meta.len()),
                size_words(MAX_FILE_BYTES)
            )));
        }
        let mut file = std::fs::File::open(path).map_err(unreadable)?;
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        std::io::Read::read_to_end(
            &mut std::io::Read::take(&mut file, SNIFF_BYTES as u64),
            &mut head,
        )
        .map_err(unreadable)?;
        std::io::Seek::rewind(&mut file).map_err(unreadable)?;
        let id = new_id();
        let t = FileTransfer {
            id: id.clone(),
            identity: room.identity(),
            outgoing: true,
            name: bounded_name(&shown),
            size: Some(meta.len()),
            mime_type: sniff(&head),
            done: 0,
            state: FileState::Moving,
        };
        let (stop, stopped) = watch::channel(None);
        self.running.insert(
            id.clone(),
            Running {
                sender: t.identity.clone(),
                outgoing: true,
                stop,
            },
        );
        out.emit(CallEvent::File(t.clone()));
        tokio::spawn(send_file(
            room.clone(),
            tokio::fs::File::from_std(file),
            t,
            stopped,
            out.clone(),
        ));
        Ok(id)
    }

    /// Stops the transfer `id` (ours going out, or one coming in).
    pub(super) fn cancel(&mut self, id: &str) -> Result<(), CallError> {
        self.prune();
        match self.running.get(id) {
            Some(r) => {
                let _ = r.stop.send(Some(Stop::Cancelled));
                Ok(())
            }
            None => Err(CallError::File(
                "that file is no longer being sent or received".into(),
            )),
        }
    }

    /// Stops our file `id` going out because the receiving side stopped
    /// it (false: no such file of ours is going out).
    pub(super) fn refused(&mut self, id: &str, reason: Option<String>) -> bool {
        self.prune();
        match self.running.get(id) {
            Some(r) if r.outgoing => {
                let _ = r.stop.send(Some(Stop::Refused(reason)));
                true
            }
            _ => false,
        }
    }

    /// Stops every file of ours going out: the way to the others went.
    pub(super) fn refuse_all_outgoing(&mut self, reason: &str) {
        self.prune();
        for r in self.running.values().filter(|r| r.outgoing) {
            let _ = r.stop.send(Some(Stop::Refused(Some(reason.to_owned()))));
        }
    }

    /// Takes the room events about files: a file arriving (true: handled)
    /// and a sender leaving (their unfinished files fail; false: others
    /// want the event too).
    pub(super) fn on_event(&mut self, ev: &lk::RoomEvent, out: &Out) -> bool {
        match ev {
            lk::RoomEvent::BytesOpened(reader)
                if reader.info.topic == FILE_TOPIC || reader.info.topic.is_empty() =>
            {
                self.receive(reader.clone(), out);
                true
            }
            lk::RoomEvent::ParticipantDisconnected { identity, .. } => {
                for r in self.running.values() {
                    if !r.outgoing && r.sender == *identity {
                        let _ = r.stop.send(Some(Stop::SenderLeft));
                    }
                }
                false
            }
            _ => false,
        }
    }

    /// Starts taking a file that `reader` delivers (checked against the
    /// limits first: a refusal is told as a failed transfer).
    pub(super) fn receive(&mut self, reader: lk::ByteReader, out: &Out) {
        self.prune();
        let info = &reader.info;
        let mut t = FileTransfer {
            id: info.id.clone(),
            identity: reader.sender.clone(),
            outgoing: false,
            name: bounded_name(&info.name),
            size: info.total_length,
            mime_type: bounded_name(&info.mime_type),
            done: 0,
            state: FileState::Moving,
        };
        let receiving = self.running.values().filter(|r| !r.outgoing).count();
        let refusal = if receiving >= MAX_RECEIVING {
            Some(format!(
                "refused: {MAX_RECEIVING} files are already arriving"
            ))
        } else if let Some(size) = info.total_length.filter(|s| *s > MAX_FILE_BYTES) {
            Some(format!(
                "refused: it is {}, and files over {} are not taken",
                size_words(size),
                size_words(MAX_FILE_BYTES)
            ))
        } else if self.running.contains_key(&info.id) {
            Some("refused: a file with the same id is already arriving".into())
        } else {
            None
        };
        if let Some(why) = refusal {
            tracing::warn!(from = %reader.sender, stream = %info.id, "{why}");
            t.state = FileState::Failed(why);
            out.emit(CallEvent::File(t));
            return;
        }
        self.next += 1;
        let path = self
            .dir
            .join(format!("{}-{}", self.next, disk_id(&info.id)));
        let (stop, stopped) = watch::channel(None);
        self.running.insert(
            t.id.clone(),
            Running {
                sender: t.identity.clone(),
                outgoing: false,
                stop,
            },
        );
        out.emit(CallEvent::File(t.clone()));
        tokio::spawn(receive_file(reader, t, path, stopped, out.clone()));
    }
}

/// Sends `file` as `t` describes it, telling progress, until done, failed
/// or stopped.
async fn send_file<L: FileLink>(
    room: L,
    file: tokio::fs::File,
    mut t: FileTransfer,
    mut stop: watch::Receiver<Option<Stop>>,
    out: Out,
) {
    let size = t.size.unwrap_or(0);
    let options = lk::ByteStreamOptions {
        topic: FILE_TOPIC.into(),
        id: Some(t.id.clone()),
        name: t.name.clone(),
        mime_type: t.mime_type.clone(),
        total_length: Some(size),
        ..Default::default()
    };
    let writer = tokio::select! {
        w = room.open_bytes(options) => w,
        _ = stop.changed() => {
            t.state = halted(&stop);
            out.emit(CallEvent::File(t));
            return;
        }
    };
    let writer = match writer {
        Ok(w) => w,
        Err(e) => {
            t.state = FileState::Failed(format!("it could not be sent: {e}"));
            out.emit(CallEvent::File(t));
            return;
        }
    };
    let mut file = file.take(size);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; PIECE];
    let mut told = Instant::now();
    let ended = loop {
        let n = match file.read(&mut buf).await {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) => {
                break Err(FileState::Failed(format!(
                    "reading it failed: {}",
                    io_words(&e)
                )));
            }
        };
        hash.update(&buf[..n]);
        tokio::select! {
            sent = writer.write(buf[..n].to_vec()) => {
                if let Err(e) = sent {
                    break Err(FileState::Failed(format!("sending stopped: {e}")));
                }
            }
            _ = stop.changed() => break Err(halted(&stop)),
        }
        t.done += n as u64;
        if told.elapsed() >= REPORT_EVERY {
            told = Instant::now();
            out.emit(CallEvent::File(t.clone()));
        }
    };
    let ended = match ended {
        Ok(()) if t.done < size => Err(FileState::Failed(
            "the file got shorter while it was being sent".into(),
        )),
        other => other,
    };
    t.state = match ended {
        Ok(()) => match writer.close(None).await {
            Ok(()) => FileState::Done {
                sha256: hex(&hash.finalize()),
                path: None,
            },
            Err(e) => FileState::Failed(format!("it could not be finished: {e}")),
        },
        Err(state) => {
            let reason = if state == (FileState::Cancelled { by_us: true }) {
                "cancelled by the sender"
            } else {
                "the sender stopped"
            };
            if let Err(e) = writer.close(Some(reason.into())).await {
                tracing::debug!("an abandoned file's stream did not close: {e}");
            }
            state
        }
    };
    out.emit(CallEvent::File(t));
}

/// How a file of ours going out ends when it is stopped from outside.
fn halted(stop: &watch::Receiver<Option<Stop>>) -> FileState {
    match stop.borrow().clone() {
        Some(Stop::Refused(None)) => FileState::Cancelled { by_us: false },
        Some(Stop::Refused(Some(why))) => FileState::Failed(why),
        _ => FileState::Cancelled { by_us: true },
    }
}

/// Reads `reader` into `path` (through `path.part`), telling progress,
/// until whole, failed or stopped; nothing is left behind unless whole.
async fn receive_file(
    reader: lk::ByteReader,
    mut t: FileTransfer,
    path: PathBuf,
    stop: watch::Receiver<Option<Stop>>,
    out: Out,
) {
    let part = path.with_extension("part");
    let state = match read_into(&reader, &mut t, &part, stop, &out).await {
        Ok(sha256) => match tokio::fs::rename(&part, &path).await {
            Ok(()) => FileState::Done {
                sha256,
                path: Some(path),
            },
            Err(e) => FileState::Failed(format!("it could not be kept: {}", io_words(&e))),
        },
        Err(state) => state,
    };
    if !matches!(state, FileState::Done { .. }) {
        let _ = tokio::fs::remove_file(&part).await;
    }
    t.state = state;
    out.emit(CallEvent::File(t));
}

/// The reading itself: the file's sha256 once whole, or how it ended.
async fn read_into(
    reader: &lk::ByteReader,
    t: &mut FileTransfer,
    part: &Path,
    mut stop: watch::Receiver<Option<Stop>>,
    out: &Out,
) -> Result<String, FileState> {
    let disk = |e: std::io::Error| {
        FileState::Failed(format!("it could not be written to disk: {}", io_words(&e)))
    };
    if let Some(dir) = part.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(disk)?;
    }
    let mut file = tokio::fs::File::create(part).await.map_err(disk)?;
    let mut hash = Sha256::new();
    let mut head = Vec::new();
    let mut told = Instant::now();
    let limit = t.size.unwrap_or(MAX_FILE_BYTES).min(MAX_FILE_BYTES);
    loop {
        // A stop wins over what arrived at the same moment: a file the
        // person cancelled (whose sender may be dropped with it) ends as
        // cancelled, not as a lost connection.
        let next = tokio::select! {
            biased;
            _ = stop.changed() => {
                let why = stop.borrow().clone();
                return Err(match why {
                    Some(Stop::SenderLeft) => FileState::Failed(format!(
                        "{} left before the file was complete ({} of {})",
                        t.identity, size_words(t.done), t.size.map_or("?".into(), size_words)
                    )),
                    _ => FileState::Cancelled { by_us: true },
                });
            }
            next = tokio::time::timeout(IDLE, reader.next()) => next,
        };
        match next {
            Err(_) => {
                return Err(FileState::Failed(format!(
                    "nothing arrived for {} s; the file was abandoned",
                    IDLE.as_secs()
                )));
            }
            Ok(None) => return Err(FileState::Failed("the call's connection ended".into())),
            Ok(Some(lk::ByteChunk::Data(bytes))) => {
                let n = bytes.len() as u64;
                if t.done + n > limit {
                    return Err(FileState::Failed(if t.done + n > MAX_FILE_BYTES {
                        format!("refused: more than {} arrived", size_words(MAX_FILE_BYTES))
                    } else {
                        "refused: more arrived than the sender announced".into()
                    }));
                }
                if head.len() < SNIFF_BYTES {
                    head.extend_from_slice(&bytes[..bytes.len().min(SNIFF_BYTES - head.len())]);
                    if head.len() == SNIFF_BYTES {
                        t.mime_type = sniff(&head);
                    }
                }
                hash.update(&bytes);
                file.write_all(&bytes).await.map_err(disk)?;
                t.done += n;
                if told.elapsed() >= REPORT_EVERY {
                    told = Instant::now();
                    out.emit(CallEvent::File(t.clone()));
                }
            }
            Ok(Some(lk::ByteChunk::End(Ok(())))) => {
                if let Some(size) = t.size.filter(|s| *s != t.done) {
                    return Err(FileState::Failed(format!(
                        "it arrived incomplete ({} of {})",
                        size_words(t.done),
                        size_words(size)
                    )));
                }
                file.flush().await.map_err(disk)?;
                file.sync_all().await.map_err(disk)?;
                if head.len() < SNIFF_BYTES {
                    t.mime_type = sniff(&head);
                }
                return Ok(hex(&hash.finalize()));
            }
            Ok(Some(lk::ByteChunk::End(Err(reason)))) => {
                // The sender's reason, or LiveKit's (it checks the length too).
                return Err(if reason.contains("cancel") {
                    FileState::Cancelled { by_us: false }
                } else if reason.contains("exceeded total length") {
                    FileState::Failed("refused: more arrived than the sender announced".into())
                } else {
                    FileState::Failed(format!("it stopped before it was whole: {reason}"))
                });
            }
        }
    }
}

/// The type the first bytes of a file say it is.
pub fn sniff(head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        // Cut inside a character at the end of what was looked at.
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    };
    if !head.is_empty() && text && !head.contains(&0) {
        "text/plain".into()
    } else {
        "application/octet-stream".into()
    }
}

/// A size in words people read: `512 B`, `1.5 MB`.
pub fn size_words(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1000.0;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

/// A sender's name or type as shown: no control characters or ones that
/// reorder how the rest reads, bounded (a long name keeps its extension:
/// `xxxx…x.pdf`).
fn bounded_name(s: &str) -> String {
    let kept: Vec<char> = s
        .chars()
        .filter(|c| !c.is_control() && !is_format_char(*c))
        .collect();
    if kept.len() <= MAX_NAME_CHARS {
        return kept.into_iter().collect();
    }
    let ext = kept
        .iter()
        .rposition(|c| *c == '.')
        .filter(|i| kept.len() - i <= 20)
        .map_or(&[][..], |i| &kept[i..]);
    let head = &kept[..MAX_NAME_CHARS - 1 - ext.len()];
    head.iter().chain(['…'].iter()).chain(ext).collect()
}

/// A stream id as a file name part (the sender chose it).
fn disk_id(id: &str) -> String {
    let kept: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    if kept.is_empty() { "file".into() } else { kept }
}

/// A new random stream id.
fn new_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&nanos.to_le_bytes());
    });
    format!("FS_{}", hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_names_lose_invisible_characters_and_keep_their_extension() {
        assert_eq!(bounded_name("bill\u{202E}fdp.exe\n"), "billfdp.exe");
        let long = bounded_name(&format!("{}.pdf", "a".repeat(400)));
        assert_eq!(long.chars().count(), MAX_NAME_CHARS);
        assert!(long.ends_with("a….pdf"), "{long}");
        let no_ext = bounded_name(&"b".repeat(400));
        assert_eq!(no_ext, format!("{}…", "b".repeat(MAX_NAME_CHARS - 1)));
    }

    #[test]
    fn types_come_from_the_content() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff("plain words, é".as_bytes()), "text/plain");
        // Cut inside the last character: still text.
        assert_eq!(sniff(&"é".as_bytes()[..1]), "text/plain");
        assert_eq!(sniff(&[0, 1, 2, 255]), "application/octet-stream");
        assert_eq!(sniff(b""), "application/octet-stream");
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size_words(512), "512 B");
        assert_eq!(size_words(1_500_000), "1.5 MB");
        assert_eq!(size_words(MAX_FILE_BYTES), "100 MB");
        assert_eq!(size_words(52_428_800), "52 MB");
    }
}
