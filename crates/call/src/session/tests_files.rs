//! Files in chat on the fake room server: ours going out whole or
//! cancelled, others' arriving whole, typed by their content, and refused or
//! abandoned (too large, more than announced, the sender gone, silence)
//! without anything partial left behind.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tandem_lk as lk;
use tandem_testkit::files::names_in;
use tokio::sync::mpsc;

use super::tests::{connected, next};
use super::*;
use crate::room::fake::FakeServer;

/// A call on the fake whose received files go to a folder of its own.
fn call_keeping_files_in(dir: &Path) -> (FakeServer, CallHandle, CallEvents) {
    let server = FakeServer::new();
    let cfg = CallConfig {
        received_dir: dir.to_owned(),
        ..super::tests::config(SessionType::Chat)
    };
    let (session, handle, events) = CallSession::with_connector(cfg, server.clone());
    tokio::spawn(session.run());
    (server, handle, events)
}

fn scratch() -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("tandem-files-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The next `File` event whose state is not `Moving`.
async fn ended(events: &mut CallEvents) -> FileTransfer {
    let e = next(
        events,
        Duration::from_secs(30),
        |e| matches!(e, CallEvent::File(t) if t.state != FileState::Moving),
    )
    .await;
    let CallEvent::File(t) = e else {
        unreachable!()
    };
    t
}

/// Someone else's file, fed to the call by hand: its announced size,
/// name and declared type.
fn incoming(
    server: &FakeServer,
    from: &str,
    id: &str,
    name: &str,
    size: Option<u64>,
) -> mpsc::UnboundedSender<lk::ByteChunk> {
    let (tx, rx) = mpsc::unbounded_channel();
    let info = lk::ByteStreamInfo {
        id: id.into(),
        name: name.into(),
        mime_type: "text/plain".into(),
        topic: FILE_TOPIC.into(),
        total_length: size,
        ..Default::default()
    };
    server.emit(lk::RoomEvent::BytesOpened(lk::ByteReader::from_channel(
        from.into(),
        info,
        rx,
    )));
    tx
}

#[tokio::test]
async fn our_file_goes_out_whole_with_its_type_and_checksum() {
    let dir = scratch();
    let (server, call, mut events) = call_keeping_files_in(&dir.join("in"));
    connected(&mut events).await;
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&content);
    let path = dir.join("plan.png");
    std::fs::write(&path, &png).unwrap();
    let id = call.send_file(&path).await.unwrap();
    let first = next(&mut events, Duration::from_secs(5), |e| {
        matches!(e, CallEvent::File(_))
    })
    .await;
    let CallEvent::File(first) = first else {
        unreachable!()
    };
    assert_eq!(
        (
            first.id.as_str(),
            first.name.as_str(),
            first.mime_type.as_str()
        ),
        (id.as_str(), "plan.png", "image/png")
    );
    assert_eq!(
        (first.outgoing, first.size, first.done),
        (true, Some(png.len() as u64), 0)
    );
    let done = ended(&mut events).await;
    assert_eq!(done.done, png.len() as u64);
    assert_eq!(
        done.state,
        FileState::Done {
            sha256: sha256(&png),
            path: None
        }
    );
    let files = server.files();
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].name.as_str(), &files[0].bytes, &files[0].ended),
        ("plan.png", &png, &Some(None))
    );
}

#[tokio::test]
async fn files_that_cannot_go_out_are_refused_before_anything_is_sent() {
    let dir = scratch();
    let (server, call, mut events) = call_keeping_files_in(&dir.join("in"));
    connected(&mut events).await;
    let big = dir.join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(MAX_FILE_BYTES + 1)
        .unwrap();
    let err = call.send_file(&big).await.unwrap_err().to_string();
    assert!(
        err.contains("big.bin is 100 MB; files over 100 MB cannot be sent"),
        "{err}"
    );
    let err = call
        .send_file(&dir.join("nope.txt"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nope.txt cannot be read: it is not there"),
        "{err}"
    );
    let err = call.send_file(&dir).await.unwrap_err().to_string();
    assert!(err.contains("is not a file"), "{err}");
    assert!(server.files().is_empty());
}

#[tokio::test]
async fn cancelling_our_file_stops_it_and_the_others_are_told() {
    let dir = scratch();
    let (server, call, mut events) = call_keeping_files_in(&dir.join("in"));
    connected(&mut events).await;
    let path = dir.join("notes.txt");
    std::fs::write(&path, "words ".repeat(100_000)).unwrap();
    server.hold_sends(true);
    let id = call.send_file(&path).await.unwrap();
    call.cancel_file(&id).await.unwrap();
    server.hold_sends(false);
    let t = ended(&mut events).await;
    assert_eq!(t.state, FileState::Cancelled { by_us: true });
    let files = server.files();
    let how = files.first().map(|f| f.ended.clone());
    assert!(
        matches!(how, None | Some(Some(Some(_)))),
        "the stream was abandoned with a reason (or never opened): {how:?}"
    );
    let again = call.cancel_file(&id).await.unwrap_err().to_string();
    assert!(again.contains("no longer being sent"), "{again}");
}

#[tokio::test]
async fn a_file_from_someone_arrives_whole_typed_by_its_content() {
    let dir = scratch();
    let inbox = dir.join("in");
    let (server, _call, mut events) = call_keeping_files_in(&inbox);
    connected(&mut events).await;
    server.join("bob", "Bob");
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend(std::iter::repeat_n(b'x', 20_000));
    let tx = incoming(
        &server,
        "bob",
        "FS_1",
        "../../.bashrc",
        Some(pdf.len() as u64),
    );
    for piece in pdf.chunks(15_000) {
        tx.send(lk::ByteChunk::Data(piece.to_vec())).unwrap();
    }
    tx.send(lk::ByteChunk::End(Ok(()))).unwrap();
    let t = ended(&mut events).await;
    assert_eq!((t.identity.as_str(), t.outgoing), ("bob", false));
    assert_eq!(
        t.name, "../../.bashrc",
        "shown as sent, saved only through safe_file_name"
    );
    assert_eq!(
        t.mime_type, "application/pdf",
        "the content's type, not the declared one"
    );
    let FileState::Done {
        sha256: sum,
        path: Some(path),
    } = t.state
    else {
        panic!("{:?}", t.state)
    };
    assert_eq!(sum, sha256(&pdf));
    assert!(path.starts_with(&inbox));
    assert_eq!(std::fs::read(&path).unwrap(), pdf);
    let saved = save_received(&path, &dir, &t.name, false).unwrap();
    assert_eq!(saved, dir.join("bashrc"));
}

#[tokio::test]
async fn files_over_the_limit_or_longer_than_announced_are_refused_and_nothing_is_kept() {
    let dir = scratch();
    let inbox = dir.join("in");
    let (server, _call, mut events) = call_keeping_files_in(&inbox);
    connected(&mut events).await;
    server.join("bob", "Bob");
    let _tx = incoming(
        &server,
        "bob",
        "FS_big",
        "film.mp4",
        Some(MAX_FILE_BYTES * 2),
    );
    let t = ended(&mut events).await;
    let FileState::Failed(why) = t.state else {
        panic!("{:?}", t.state)
    };
    assert!(
        why.contains("it is 200 MB, and files over 100 MB are not taken"),
        "{why}"
    );

    let tx = incoming(&server, "bob", "FS_liar", "small.txt", Some(10));
    tx.send(lk::ByteChunk::Data(vec![b'a'; 8])).unwrap();
    tx.send(lk::ByteChunk::Data(vec![b'a'; 8])).unwrap();
    let t = ended(&mut events).await;
    let FileState::Failed(why) = t.state else {
        panic!("{:?}", t.state)
    };
    assert!(
        why.contains("more arrived than the sender announced"),
        "{why}"
    );

    let tx = incoming(&server, "bob", "FS_short", "short.txt", Some(10));
    tx.send(lk::ByteChunk::Data(vec![b'a'; 4])).unwrap();
    tx.send(lk::ByteChunk::End(Ok(()))).unwrap();
    let t = ended(&mut events).await;
    let FileState::Failed(why) = t.state else {
        panic!("{:?}", t.state)
    };
    assert!(why.contains("arrived incomplete (4 B of 10 B)"), "{why}");
    assert!(names_in(&inbox).is_empty(), "{:?}", names_in(&inbox));
}

#[tokio::test]
async fn a_sender_leaving_or_cancelling_half_way_leaves_nothing_behind() {
    let dir = scratch();
    let inbox = dir.join("in");
    let (server, call, mut events) = call_keeping_files_in(&inbox);
    connected(&mut events).await;
    server.join("bob", "Bob");
    let tx = incoming(&server, "bob", "FS_a", "a.txt", Some(100));
    tx.send(lk::ByteChunk::Data(vec![b'a'; 50])).unwrap();
    next(
        &mut events,
        Duration::from_secs(5),
        |e| matches!(e, CallEvent::File(t) if t.id == "FS_a"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.leave("bob");
    let t = ended(&mut events).await;
    let FileState::Failed(why) = t.state else {
        panic!("{:?}", t.state)
    };
    assert!(
        why.contains("bob left before the file was complete (50 B of 100 B)"),
        "{why}"
    );

    server.join("carol", "Carol");
    let tx = incoming(&server, "carol", "FS_b", "b.txt", None);
    tx.send(lk::ByteChunk::Data(vec![b'b'; 50])).unwrap();
    tx.send(lk::ByteChunk::End(Err(
        "stream ended abnormally: cancelled by the sender".into(),
    )))
    .unwrap();
    let t = ended(&mut events).await;
    assert_eq!(t.state, FileState::Cancelled { by_us: false });

    let _tx = incoming(&server, "carol", "FS_c", "c.txt", Some(1000));
    next(
        &mut events,
        Duration::from_secs(5),
        |e| matches!(e, CallEvent::File(t) if t.id == "FS_c"),
    )
    .await;
    call.cancel_file("FS_c").await.unwrap();
    let t = ended(&mut events).await;
    assert_eq!(t.state, FileState::Cancelled { by_us: true });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(names_in(&inbox).is_empty(), "{:?}", names_in(&inbox));
}

#[tokio::test(start_paused = true)]
async fn a_file_that_goes_quiet_is_abandoned() {
    let dir = scratch();
    let (server, _call, mut events) = call_keeping_files_in(&dir.join("in"));
    connected(&mut events).await;
    server.join("bob", "Bob");
    let _tx = incoming(&server, "bob", "FS_q", "q.txt", Some(100));
    let t = ended(&mut events).await;
    let FileState::Failed(why) = t.state else {
        panic!("{:?}", t.state)
    };
    assert!(why.contains("nothing arrived for 20 s"), "{why}");
}

/// A disk that fills up while a file arrives, and saving into a full disk
/// or a read-only one: real small file systems (root ignores permissions),
/// mounted for this test alone.
#[test]
fn a_full_or_read_only_disk_is_said_and_nothing_partial_is_kept() {
    let Some(disks) = tandem_testkit::disks::enter(
        "session::tests_files::a_full_or_read_only_disk_is_said_and_nothing_partial_is_kept",
    ) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let inbox = disks.small.join("in");
        let (server, _call, mut events) = call_keeping_files_in(&inbox);
        connected(&mut events).await;
        server.join("bob", "Bob");
        let size = 4 * tandem_testkit::disks::SMALL_BYTES;
        let tx = incoming(&server, "bob", "FS_film", "film.mp4", Some(size));
        for _ in 0..size / 16_384 {
            if tx.send(lk::ByteChunk::Data(vec![7; 16_384])).is_err() {
                break;
            }
        }
        let _ = tx.send(lk::ByteChunk::End(Ok(())));
        let t = ended(&mut events).await;
        assert_eq!(
            t.state,
            FileState::Failed("it could not be written to disk: the disk is full".into())
        );
        assert!(names_in(&inbox).is_empty(), "{:?}", names_in(&inbox));

        let source = scratch().join("plan.pdf");
        std::fs::write(
            &source,
            vec![1u8; 3 * tandem_testkit::disks::SMALL_BYTES as usize / 2],
        )
        .unwrap();
        // Something already uses part of the small disk.
        std::fs::write(disks.small.join("other"), vec![2u8; 64 * 1024]).unwrap();
        let full = save_received(&source, &disks.small, "plan.pdf", false).unwrap_err();
        assert_eq!(
            full,
            SaveError::Failed(format!(
                "it could not be saved in {}: the disk is full",
                disks.small.display()
            ))
        );
        let left = names_in(&disks.small);
        assert!(
            left.iter().all(|n| n == "in" || n == "other"),
            "a half-saved copy is left: {left:?}"
        );
        let read_only = save_received(&source, &disks.read_only, "plan.pdf", false).unwrap_err();
        assert_eq!(
            read_only,
            SaveError::Failed(format!(
                "it could not be saved in {}: the disk is read-only",
                disks.read_only.display()
            ))
        );
        assert!(names_in(&disks.read_only).is_empty());
    });
}
