//! Files in a seed-004 call between two Tandems, over the connection's
//! data channel ([`crate::p2p::data`]): the same [`Files`] as a LiveKit
//! call (progress, cancel, the limit, nothing partial kept), fed by this
//! channel instead of LiveKit's byte streams.
//!
//! Files are offered once the other side's app said hello on the channel
//! (only Tandem does). When the connection goes (the other person left,
//! the network changed and a new connection was made), files on their way
//! fail with a reason and the next connection starts clean.

use std::collections::HashMap;

use tandem_lk as lk;
use tokio::sync::mpsc;

use super::files::{FILE_TOPIC, FileLink, Files, MAX_FILE_BYTES, size_words};
use super::handle::Out;
use super::types::{CallError, CallEvent};
use crate::p2p::data::{self, Incoming, Message};
use crate::p2p::peer::ChannelOut;
use crate::room::{BytesOut, RoomError};

/// Why nothing can be sent before the other side's app said hello.
const NOT_TANDEM: &str = "files go only to someone whose app is Tandem too, and the other \
                          person's app has not said it takes them";
/// Files opened and not ended that are kept track of; more are refused.
const MAX_ARRIVING: usize = 16;
/// Why a file on its way failed when the connection went.
const CONNECTION_WENT: &str = "the connection to the other person was lost";

/// The data channel of one connection, as [`Files`] sends through it.
#[derive(Clone)]
struct Link {
    me: String,
    tx: mpsc::Sender<ChannelOut>,
}

impl Link {
    async fn say(&self, message: &Message) -> Result<(), RoomError> {
        self.send(false, data::text(message)).await
    }

    async fn send(&self, binary: bool, data: Vec<u8>) -> Result<(), RoomError> {
        self.tx
            .send(ChannelOut { binary, data })
            .await
            .map_err(|_| RoomError(CONNECTION_WENT.into()))
    }
}

impl FileLink for Link {
    type Bytes = Outgoing;

    fn identity(&self) -> String {
        self.me.clone()
    }

    async fn open_bytes(&self, options: lk::ByteStreamOptions) -> Result<Outgoing, RoomError> {
        let id = options.id.unwrap_or_default();
        data::check_id(&id).map_err(RoomError)?;
        self.say(&Message::Open {
            id: id.clone(),
            name: options.name,
            mime_type: options.mime_type,
            size: options.total_length.unwrap_or(0),
        })
        .await?;
        Ok(Outgoing {
            id,
            link: self.clone(),
        })
    }
}

/// One file of ours going out on the channel.
struct Outgoing {
    id: String,
    link: Link,
}

impl BytesOut for Outgoing {
    async fn write(&self, bytes: Vec<u8>) -> Result<(), RoomError> {
        for part in bytes.chunks(data::PIECE) {
            self.link.send(true, data::piece(&self.id, part)).await?;
        }
        Ok(())
    }

    async fn close(self, reason: Option<String>) -> Result<(), RoomError> {
        self.link
            .say(&Message::End {
                id: self.id,
                error: reason,
            })
            .await
    }
}

/// A file coming in: where its pieces go, and how much came.
struct Arriving {
    tx: mpsc::UnboundedSender<lk::ByteChunk>,
    got: u64,
    announced: u64,
}

/// The files of a peer-to-peer call.
pub(super) struct PeerFiles {
    files: Files,
    out: Out,
    me: String,
    other: String,
    /// The current connection's channel, once it opened.
    channel: Option<mpsc::Sender<ChannelOut>>,
    /// Set once the other side said hello on it.
    link: Option<Link>,
    arriving: HashMap<String, Arriving>,
}

impl PeerFiles {
    /// Files not offered yet: nobody has said hello.
    pub(super) fn new(files: Files, me: String, other: String, out: &Out) -> Self {
        out.emit(CallEvent::FilesOffered(Some(NOT_TANDEM.into())));
        Self {
            files,
            out: out.clone(),
            me,
            other,
            channel: None,
            link: None,
            arriving: HashMap::new(),
        }
    }

    /// Sends the file at `path` to the other person; its id.
    pub(super) fn send(&mut self, path: &std::path::Path) -> Result<String, CallError> {
        match &self.link {
            Some(link) => self.files.send(link, path, &self.out),
            None => Err(CallError::File(NOT_TANDEM.into())),
        }
    }

    /// Stops a file going out or coming in (the sender of one coming in
    /// is told at once).
    pub(super) fn cancel(&mut self, id: &str) -> Result<(), CallError> {
        self.files.cancel(id)?;
        if self.arriving.remove(id).is_some() {
            self.stop(id, CANCELLED);
        }
        Ok(())
    }

    /// A new connection's channel opened: say hello on it.
    pub(super) fn opened(&mut self, tx: mpsc::Sender<ChannelOut>) {
        self.closed();
        tracing::debug!("files channel open");
        let hello = data::text(&Message::Hello {
            app: "tandem".into(),
        });
        if tx
            .try_send(ChannelOut {
                binary: false,
                data: hello,
            })
            .is_err()
        {
            tracing::debug!("no hello said: the connection is gone");
        }
        self.channel = Some(tx);
    }

    /// The connection (or its channel) went: files on their way fail.
    pub(super) fn closed(&mut self) {
        self.channel = None;
        // Dropping their senders ends the readers ("the connection ended").
        self.arriving.clear();
        self.files.refuse_all_outgoing(CONNECTION_WENT);
        if self.link.take().is_some() {
            self.out
                .emit(CallEvent::FilesOffered(Some(NOT_TANDEM.into())));
        }
    }

    /// A message on the channel.
    pub(super) fn on_data(&mut self, binary: bool, bytes: &[u8]) {
        let message = match data::parse(binary, bytes) {
            Ok(m) => m,
            Err(why) => return tracing::warn!("files channel: {why}; ignored"),
        };
        match message {
            Incoming::Message(Message::Hello { .. }) => {
                if let Some(tx) = &self.channel
                    && self.link.is_none()
                {
                    tracing::info!("the other person's app takes files");
                    self.link = Some(Link {
                        me: self.me.clone(),
                        tx: tx.clone(),
                    });
                    self.out.emit(CallEvent::FilesOffered(None));
                }
            }
            Incoming::Message(Message::Open {
                id,
                name,
                mime_type,
                size,
            }) => self.arrive(id, name, mime_type, size),
            Incoming::Piece { id, bytes } => {
                let Some(a) = self.arriving.get_mut(&id) else {
                    return tracing::debug!(%id, "a piece of a file not arriving");
                };
                a.got += bytes.len() as u64;
                // More than announced: the reader refuses it on this piece.
                let over = a.got > a.announced;
                if a.tx.send(lk::ByteChunk::Data(bytes)).is_err() || over {
                    self.arriving.remove(&id);
                    self.stop(
                        &id,
                        if over {
                            "more arrived than was announced"
                        } else {
                            "it could not be taken"
                        },
                    );
                }
            }
            Incoming::Message(Message::End { id, error }) => {
                if let Some(a) = self.arriving.remove(&id) {
                    let _ = a.tx.send(lk::ByteChunk::End(error.map_or(Ok(()), Err)));
                }
            }
            Incoming::Message(Message::Stop { id, reason }) => {
                let why = (reason != CANCELLED).then(|| {
                    let reason: String = reason
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(200)
                        .collect();
                    format!("the other person's app refused it: {reason}")
                });
                if !self.files.refused(&id, why) {
                    tracing::debug!(%id, "a stop for a file not going out");
                }
            }
        }
    }

    fn arrive(&mut self, id: String, name: String, mime_type: String, size: u64) {
        if self.arriving.contains_key(&id) {
            return tracing::warn!(%id, "a file opened twice; the second ignored");
        }
        if self.arriving.len() >= MAX_ARRIVING {
            // Files refuses more than a few at once; this bounds what a
            // sender that opens files and never sends them can make us keep.
            tracing::warn!(%id, "too many files opened at once; refused");
            return self.stop(&id, "too many files are arriving at once");
        }
        if size > MAX_FILE_BYTES {
            self.stop(
                &id,
                &format!(
                    "it is {}, and files over {} are not taken",
                    size_words(size),
                    size_words(MAX_FILE_BYTES)
                ),
            );
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let info = lk::ByteStreamInfo {
            id: id.clone(),
            name,
            mime_type,
            topic: FILE_TOPIC.into(),
            total_length: Some(size),
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
            attributes: Default::default(),
        };
        // A refusal (too big, too many at once) drops the reader at once,
        // and the first piece then tells the sender.
        self.files.receive(
            lk::ByteReader::from_channel(self.other.clone(), info, rx),
            &self.out,
        );
        if size <= MAX_FILE_BYTES {
            self.arriving.insert(
                id,
                Arriving {
                    tx,
                    got: 0,
                    announced: size,
                },
            );
        }
    }

    /// Tells the sender we take no more of `id`.
    fn stop(&self, id: &str, reason: &str) {
        let Some(tx) = &self.channel else { return };
        let message = Message::Stop {
            id: id.to_owned(),
            reason: reason.to_owned(),
        };
        // The sender is sending: its queue may be full, so this waits.
        let (tx, data) = (tx.clone(), data::text(&message));
        tokio::spawn(async move {
            let _ = tx
                .send(ChannelOut {
                    binary: false,
                    data,
                })
                .await;
        });
    }
}

/// The reason a receiver gives when the person cancelled.
const CANCELLED: &str = "cancelled";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::session::types::FileState;

    /// What the other side would read next on the channel.
    async fn next_on(rx: &mut mpsc::Receiver<ChannelOut>) -> Message {
        let m = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        match data::parse(m.binary, &m.data).unwrap() {
            Incoming::Message(m) => m,
            other => panic!("a piece, not a message: {other:?}"),
        }
    }

    fn open(id: &str, size: u64) -> Vec<u8> {
        data::text(&Message::Open {
            id: id.into(),
            name: "x.bin".into(),
            mime_type: "application/octet-stream".into(),
            size,
        })
    }

    fn dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("tandem-p2p-files-unit-{}", std::process::id()))
    }

    #[tokio::test]
    async fn files_wait_for_hello_and_hostile_input_is_refused() {
        let (out, mut events) = Out::for_tests();
        let mut files = PeerFiles::new(Files::new(dir()), "user".into(), "astrologer".into(), &out);
        assert!(matches!(
            events.try_recv().unwrap(),
            CallEvent::FilesOffered(Some(_))
        ));
        let (tx, mut rx) = mpsc::channel(64);
        files.opened(tx);
        assert_eq!(
            next_on(&mut rx).await,
            Message::Hello {
                app: "tandem".into()
            }
        );
        // Nothing goes before the other side's app says hello.
        let why = files
            .send(std::path::Path::new("/etc/hostname"))
            .unwrap_err();
        assert!(why.to_string().contains("Tandem"), "{why}");

        // Garbage, pieces of files never opened: ignored, nothing said.
        files.on_data(false, b"{\"kind\":\"format_disk\"}");
        files.on_data(true, &[200, 1, 2]);
        files.on_data(true, &data::piece("nobody", b"bytes"));
        assert!(events.try_recv().is_err());
        assert!(rx.try_recv().is_err());

        // Over the limit: refused before a byte, on both sides.
        files.on_data(false, &open("big", MAX_FILE_BYTES + 1));
        assert!(matches!(
            next_on(&mut rx).await,
            Message::Stop { id, reason } if id == "big" && reason.contains("not taken")
        ));
        assert!(matches!(
            events.recv().await.unwrap(),
            CallEvent::File(t) if matches!(&t.state, FileState::Failed(w) if w.contains("refused"))
        ));

        // More than announced: refused on the piece that goes over.
        files.on_data(false, &open("short", 4));
        files.on_data(true, &data::piece("short", b"12345678"));
        assert!(matches!(
            next_on(&mut rx).await,
            Message::Stop { id, reason } if id == "short" && reason.contains("announced")
        ));

        // Opening files and never sending them is bounded.
        for n in 0..MAX_ARRIVING + 2 {
            files.on_data(false, &open(&format!("f{n}"), 10));
        }
        let mut refused = Vec::new();
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
            if let Ok(Incoming::Message(Message::Stop { id, .. })) = data::parse(m.binary, &m.data)
            {
                refused.push(id);
            }
        }
        assert!(
            files.arriving.len() <= MAX_ARRIVING,
            "{}",
            files.arriving.len()
        );
        assert!(
            refused.contains(&format!("f{}", MAX_ARRIVING + 1)),
            "{refused:?}"
        );

        // Hello: offered. The connection going: not offered, nothing kept.
        files.on_data(
            false,
            &data::text(&Message::Hello {
                app: "tandem".into(),
            }),
        );
        let offered = loop {
            match events.recv().await.unwrap() {
                CallEvent::FilesOffered(w) => break w,
                _ => continue,
            }
        };
        assert_eq!(offered, None);
        files.closed();
        assert!(files.arriving.is_empty());
        let why = files
            .send(std::path::Path::new("/etc/hostname"))
            .unwrap_err();
        assert!(why.to_string().contains("Tandem"), "{why}");
        let _ = std::fs::remove_dir_all(dir());
    }
}
