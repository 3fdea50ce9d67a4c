//! Files in seed 004's peer-to-peer calls, between two Tandems: the seed's
//! platform has no way to send files, so they go over Tandem's own data
//! channel on the call's connection. Two `CallSession`s (the client and
//! the coach) meet through tandem-backend's Socket.IO room server, with no
//! LiveKit anywhere: files both ways whole and checked, the receiver
//! cancelling, the sender leaving half way (nothing partial kept), and a
//! chat booking, whose connection carries only files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest;
use support::{next_matching, next_within};
use tandem_backend::dev::{add_link, book};
use tandem_call::platform::{Auth, BackendClient, P2p, Profile};
use tandem_call::session::{
    self, CallConfig, CallEvent, CallEvents, CallHandle, CallState, FileState, FileTransfer,
    SessionType,
};
use tandem_testkit::files::{names_in, patterned};

/// One side of the call, keeping received files in `dir`.
fn tandem(url: &str, link: &str, kind: SessionType, dir: &Path) -> (CallHandle, CallEvents) {
    let api = BackendClient::new(url, Profile::Seed004, Auth::None)
        .unwrap()
        .with_p2p(P2p {
            always: true,
            socket_url: Some(url.to_owned()),
            ..P2p::default()
        });
    session::start(CallConfig {
        camera_on: kind == SessionType::Video,
        received_dir: dir.to_owned(),
        ..CallConfig::new(
            support::join_link(&api, link),
            SessionType::Video,
            support::small_synthetic(),
        )
    })
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-p2p-files-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The next `File` event about `id` (any, when `None`) passing `ok`.
async fn file_event(
    events: &mut CallEvents,
    what: &str,
    id: Option<&str>,
    ok: impl Fn(&FileTransfer) -> bool,
) -> FileTransfer {
    let e = next_within(
        events,
        Duration::from_secs(120),
        what,
        |e| matches!(e, CallEvent::File(t) if id.is_none_or(|id| t.id == id) && ok(t)),
    )
    .await;
    let CallEvent::File(t) = e else {
        unreachable!()
    };
    t
}

fn ended(t: &FileTransfer) -> bool {
    t.state != FileState::Moving
}

/// Both sides joined, connected, and each told files can be sent.
async fn both_offered(a: &mut CallEvents, b: &mut CallEvents) {
    for (events, who) in [(a, "the client"), (b, "the coach")] {
        next_matching(events, &format!("{who} connected"), |e| {
            matches!(e, CallEvent::State(CallState::Connected))
        })
        .await;
        next_within(
            events,
            Duration::from_secs(60),
            &format!("files offered to {who}"),
            |e| matches!(e, CallEvent::FilesOffered(None)),
        )
        .await;
    }
}

/// Sends `bytes` from `from` as `name`; checks both sides end with it
/// whole (same sha256, the receiver's copy on disk), and that the receiver
/// saw it arrive in more than one step. The receiver's transfer.
async fn send_whole(
    from: (&CallHandle, &mut CallEvents),
    to: &mut CallEvents,
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> FileTransfer {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let started = std::time::Instant::now();
    let id = from.0.send_file(&path).await.unwrap();
    let mut steps = 0;
    let got = loop {
        let t = file_event(to, "the file arriving", Some(&id), |_| true).await;
        if ended(&t) {
            break t;
        }
        steps += 1;
    };
    let sent = file_event(from.1, "the file sent", Some(&id), ended).await;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{name}: {} bytes in {secs:.1} s ({:.1} MB/s), {steps} progress reports",
        bytes.len(),
        bytes.len() as f64 / secs / 1e6
    );
    let want = hex(bytes);
    assert_eq!(
        sent.state,
        FileState::Done {
            sha256: want.clone(),
            path: None
        }
    );
    let FileState::Done { sha256, path } = &got.state else {
        panic!("{name} did not arrive: {got:?}");
    };
    assert_eq!(*sha256, want);
    assert_eq!(std::fs::read(path.as_ref().unwrap()).unwrap(), bytes);
    assert_eq!(got.name, name);
    assert_eq!(got.size, Some(bytes.len() as u64));
    if bytes.len() > 4_000_000 {
        assert!(steps > 0, "no progress was told for {name}");
    }
    got
}

#[test]
fn two_tandems_send_files_peer_to_peer() {
    tandem_testkit::media_test("two_tandems_send_files_peer_to_peer", |_ip| async move {
        let (backend, _db_file) = support::backend("ws://127.0.0.1:7880", "p2p-files").await;
        let (url, db) = (backend.url(), backend.state.db.clone());
        let (client_dir, coach_dir, out_dir) =
            (scratch("client"), scratch("coach"), scratch("out"));

        // ---- a video booking: both ways, whole.
        let b = book(&db, "p2p-files-video", "video", 30).await.unwrap();
        let coach_link = add_link(&db, &b.session, &b.coach, "astrologer", 3600)
            .await
            .unwrap();
        let (coach, mut coach_ev) = tandem(&url, &coach_link, SessionType::Video, &coach_dir);
        let (client, mut client_ev) = tandem(&url, &b.link, SessionType::Video, &client_dir);
        both_offered(&mut client_ev, &mut coach_ev).await;
        let plan = patterned(20_000_000, 7);
        let got = send_whole(
            (&client, &mut client_ev),
            &mut coach_ev,
            &out_dir,
            "week plan.pdf",
            &plan,
        )
        .await;
        assert_eq!(got.identity, "user", "the sender as the coach sees them");
        send_whole(
            (&coach, &mut coach_ev),
            &mut client_ev,
            &out_dir,
            "notes.txt",
            b"Squats: 3 x 10\n",
        )
        .await;

        // ---- the receiver cancels half way: the sender is told, and
        // nothing of it is kept.
        let big = out_dir.join("big.bin");
        std::fs::write(&big, patterned(80_000_000, 9)).unwrap();
        let id = client.send_file(&big).await.unwrap();
        file_event(&mut coach_ev, "the big file arriving", Some(&id), |t| {
            t.done > 1_000_000
        })
        .await;
        coach.cancel_file(&id).await.unwrap();
        let mine = file_event(&mut coach_ev, "the coach's cancel", Some(&id), ended).await;
        assert_eq!(mine.state, FileState::Cancelled { by_us: true });
        let theirs = file_event(&mut client_ev, "the sender told", Some(&id), ended).await;
        assert_eq!(theirs.state, FileState::Cancelled { by_us: false });
        assert!(
            names_in(&coach_dir).iter().all(|n| !n.ends_with(".part")),
            "{:?}",
            names_in(&coach_dir)
        );
        let kept_before = names_in(&client_dir).len();

        // ---- the sender leaves half way: the receiver is told why, and
        // nothing partial is left looking complete.
        let id = coach.send_file(&big).await.unwrap();
        file_event(&mut client_ev, "the big file arriving", Some(&id), |t| {
            t.done > 1_000_000
        })
        .await;
        coach.leave().unwrap();
        // Both come, in either order: the file cut off, and files no
        // longer offered.
        let (mut lost, mut unoffered) = (None, false);
        while lost.is_none() || !unoffered {
            match next_matching(&mut client_ev, "the file cut off, files not offered", |e| {
                matches!(e, CallEvent::File(t) if t.id == id && ended(t))
                    || matches!(e, CallEvent::FilesOffered(Some(_)))
            })
            .await
            {
                CallEvent::File(t) => lost = Some(t),
                _ => unoffered = true,
            }
        }
        let lost = lost.unwrap();
        assert!(
            matches!(&lost.state, FileState::Failed(why) if why.contains("ended") || why.contains("left")),
            "{lost:?}"
        );
        assert_eq!(
            names_in(&client_dir).len(),
            kept_before,
            "{:?}",
            names_in(&client_dir)
        );
        let refused = client.send_file(&big).await.unwrap_err().to_string();
        assert!(refused.contains("Tandem"), "{refused}");
        client.leave().unwrap();

        // ---- a chat booking: no media, but files between two Tandems.
        let b = book(&db, "p2p-files-chat", "chat", 30).await.unwrap();
        let coach_link = add_link(&db, &b.session, &b.coach, "astrologer", 3600)
            .await
            .unwrap();
        let (coach, mut coach_ev) = tandem(&url, &coach_link, SessionType::Chat, &coach_dir);
        let (client, mut client_ev) = tandem(&url, &b.link, SessionType::Chat, &client_dir);
        both_offered(&mut client_ev, &mut coach_ev).await;
        send_whole(
            (&coach, &mut coach_ev),
            &mut client_ev,
            &out_dir,
            "intake form.png",
            &patterned(300_000, 3),
        )
        .await;
        assert!(
            client
                .received()
                .get("astrologer")
                .is_none_or(|r| r.audio_frames == 0 && r.video_frames == 0),
            "media in a chat booking: {:?}",
            client.received()
        );
        for c in [&client, &coach] {
            c.leave().unwrap();
        }
        for d in [client_dir, coach_dir, out_dir] {
            let _ = std::fs::remove_dir_all(d);
        }
    });
}
