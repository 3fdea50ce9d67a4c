//! Background blur seen at the other end: `tandem-cli join` sends a
//! photograph of a person as its camera, and LiveKit's Python SDK looks at
//! what arrives, first without the effect and then after `/background
//! blur-strong` and then `/background image:green.jpg` in the same call:
//! the person's pixels are kept and the room's are blurred, then green,
//! and the track never stops.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use tandem_call::media::convert::{PixelFormat, i420_to_rgb, to_i420};
use tandem_testkit::peer::Peer;
use tandem_testkit::process::{self, Console};
use tandem_testkit::token;

const BIN: &str = env!("CARGO_BIN_EXE_tandem-cli");

fn data(name: &str) -> PathBuf {
    tandem_testkit::workspace_root()
        .join("crates/media/tests/data")
        .join(name)
}

/// A PPM (P6) as width, height and RGB bytes.
fn read_ppm(path: &Path) -> (usize, usize, Vec<u8>) {
    let raw = std::fs::read(path).unwrap();
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        let end = at + raw[at..].iter().position(u8::is_ascii_whitespace).unwrap();
        fields.push(String::from_utf8_lossy(&raw[at..end]).to_string());
        at = end + 1;
    }
    assert_eq!(fields[0], "P6");
    let (w, h) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    (w, h, raw[at..].to_vec())
}

/// The person's mask (MediaPipe's, for the 512×512 photograph) at w×h
/// (nearest pixel), as one bool a pixel.
fn person(w: usize, h: usize) -> Vec<bool> {
    let (mw, mh, mask) = tandem_testkit::pbm::read(&data("astronaut.mask.pbm"));
    (0..w * h)
        .map(|i| mask[(i / w) * mh / h * mw + (i % w) * mw / w])
        .collect()
}

/// The brightness of the green picture put behind the person.
const GREEN: f64 = 0.299 * 40.0 + 0.587 * 170.0 + 0.114 * 60.0;

/// Mean difference of brightness between the photograph and what arrived,
/// over the pixels well inside the person and well inside the room; and
/// the room's from [`GREEN`].
fn changes(received: &Path) -> (f64, f64, f64) {
    // At the size the SFU forwards (a simulcast layer, by the bandwidth).
    let (w, h, got) = read_ppm(received);
    let jpeg = std::fs::read(data("astronaut.jpg")).unwrap();
    let photo = to_i420(PixelFormat::Mjpeg, 512, 512, &jpeg).unwrap();
    let sent = i420_to_rgb(&photo.scaled(w as u32, h as u32).unwrap()).unwrap();
    let mask = person(w, h);
    let inside = |i: usize, want: bool| {
        let (x, y) = ((i % w) as isize, (i / w) as isize);
        [-16isize, 0, 16].iter().all(|dy| {
            [-16isize, 0, 16].iter().all(|dx| {
                let (xx, yy) = (x + dx, y + dy);
                (0..w as isize).contains(&xx)
                    && (0..h as isize).contains(&yy)
                    && mask[yy as usize * w + xx as usize] == want
            })
        })
    };
    let luma = |px: &[u8], i: usize| {
        0.299 * f64::from(px[3 * i])
            + 0.587 * f64::from(px[3 * i + 1])
            + 0.114 * f64::from(px[3 * i + 2])
    };
    let mean = |want: bool, reference: &dyn Fn(usize) -> f64| {
        let (sum, n) = (0..w * h)
            .filter(|&i| inside(i, want))
            .fold((0.0, 0usize), |(s, n), i| {
                (s + (luma(&got, i) - reference(i)).abs(), n + 1)
            });
        sum / n.max(1) as f64
    };
    let photo = |i| luma(&sent, i);
    (
        mean(true, &photo),
        mean(false, &photo),
        mean(false, &|_| GREEN),
    )
}

async fn look(peer: &mut Peer, us: &str, to: &Path) -> (f64, f64, f64) {
    // Long enough for the encoder to reach its quality on a still picture.
    tokio::time::sleep(Duration::from_secs(4)).await;
    peer.cmd(json!({"cmd": "save_frame", "identity": us, "path": to}))
        .await
        .unwrap();
    changes(to)
}

#[test]
fn a_blurred_background_arrives_with_the_person_kept() {
    tandem_testkit::media_test(
        "a_blurred_background_arrives_with_the_person_kept",
        |ip| async move {
            let dir =
                std::env::temp_dir().join(format!("tandem-background-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let ds = tandem_devserver::Server::start(tandem_devserver::Config::for_tests(ip))
                .await
                .unwrap();
            let mut peer = Peer::python("peer", &ds.url(), &token::join("calm", "peer"))
                .await
                .unwrap();
            let us = "client";
            let camera = format!("picture:{}", data("astronaut.jpg").display());
            let mut me = Console::spawn(
                process::joining(BIN, &ds.url(), &token::join("calm", us)).args([
                    "--camera",
                    &camera,
                    "--mic",
                    "silence",
                    "--speaker",
                    "none",
                ]),
            );
            let printed = me.until("state: Connected").await;
            assert!(
                printed.contains("Camera: astronaut.jpg (512×512"),
                "{printed}"
            );
            peer.stats_until(Duration::from_secs(20), |s| {
                s["video"][us]["width"].as_u64().unwrap_or(0) > 0
            })
            .await
            .unwrap();

            let (person_off, room_off, _) = look(&mut peer, us, &dir.join("off.ppm")).await;
            println!("without the effect: person {person_off:.1}, room {room_off:.1}");
            me.say("/background blur-strong", "background blur-strong")
                .await;
            let (person_on, room_on, _) = look(&mut peer, us, &dir.join("on.ppm")).await;
            println!("blurred: person {person_on:.1}, room {room_on:.1}");
            // Without it, only the codec changes anything.
            assert!(
                person_off < 6.0 && room_off < 6.0,
                "{person_off} {room_off}"
            );
            // With it, the room is changed several times more than the
            // person, whom only the codec changes (how much depends on the
            // simulcast layer that arrives: 256 or 384 pixels here).
            assert!(room_on > 12.0 && room_on > 3.0 * room_off, "{room_on}");
            assert!(
                person_on < 10.0 && room_on > 3.0 * person_on,
                "{person_on} {room_on}"
            );
            // A picture picked from disk instead of the room.
            let green = dir.join("green.jpg");
            let mut jpeg = Vec::new();
            jpeg_encoder::Encoder::new(&mut jpeg, 95)
                .encode(
                    &[40, 170, 60].repeat(64 * 48),
                    64,
                    48,
                    jpeg_encoder::ColorType::Rgb,
                )
                .unwrap();
            std::fs::write(&green, jpeg).unwrap();
            let line = format!("/background image:{}", green.display());
            me.say(&line, "background image:green.jpg").await;
            let (person_green, _, room_green) = look(&mut peer, us, &dir.join("green.ppm")).await;
            println!("green behind: person {person_green:.1}, room {room_green:.1} from green");
            assert!(person_green < 10.0, "{person_green}");
            assert!(room_green < 8.0, "{room_green}");
            // Still sending.
            peer.still_receiving("video", us, 20).await.unwrap();
            assert!(me.interrupt());
            peer.disconnect().await.unwrap();
            ds.stop().await;
            let _ = std::fs::remove_dir_all(&dir);
        },
    );
}
