//! Sharing on Wayland, through the desktop's ScreenCast portal and PipeWire
//! (the real xdg-desktop-portal, PipeWire and WirePlumber; the screen is
//! the test's own portal backend, see `tandem_testkit::screencast`): the
//! only choice listed is the system's dialog; sharing gives the screen's
//! pictures at its size and colour, also while nothing on it moves; the
//! portal's restore token is kept and offered next time, so the system can
//! skip its dialog; when the system ends the cast, the share ends with a
//! reason.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tandem_media::convert::i420_to_rgb;
use tandem_media::screen::{self, PORTAL, ScreenChoice, ScreenError, ScreenStatus};
use tandem_testkit::display::mean_rgb as mean;
use tandem_testkit::screencast::Desktop;

const SCREEN: [u8; 3] = [0x2a, 0x9d, 0x5c];

fn near(got: [u8; 3], want: [u8; 3]) -> bool {
    got.iter()
        .zip(want)
        .all(|(&g, w)| (i32::from(g) - i32::from(w)).abs() < 16)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wayland_screen_is_shared_through_the_portal() {
    let mut desktop = Desktop::start(1280, 720, SCREEN);
    // SAFETY: the only test in this program; nothing else reads or writes
    // the environment while it is set.
    unsafe {
        for (k, v) in desktop.env() {
            std::env::set_var(k, v);
        }
        std::env::remove_var("DISPLAY");
    }

    let listed = screen::list_screens().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, PORTAL);
    let small = screen::thumbnail(&ScreenChoice::Id(PORTAL.into()), 240, 136);
    assert!(
        matches!(small, Err(ScreenError::Unsupported(_))),
        "{small:?}"
    );

    let share =
        || tokio::task::spawn_blocking(|| screen::open(&ScreenChoice::Id(PORTAL.into()), 15));
    let feed = share().await.unwrap().expect("sharing through the portal");
    assert_eq!(feed.name(), "Entire screen");
    let f = feed.format();
    assert_eq!((f.width, f.height), (1280, 720));
    let mut frames = feed.frames();
    tokio::time::timeout(Duration::from_secs(10), frames.changed())
        .await
        .expect("a picture within 10 s")
        .unwrap();
    let picture = frames.borrow_and_update().clone().unwrap();
    assert_eq!((picture.width(), picture.height()), (1280, 720));
    let colour = mean(&i420_to_rgb(&picture).unwrap());
    assert!(
        near(colour, SCREEN),
        "{colour:?} is not the screen's colour"
    );

    // Nothing moves on the screen, yet pictures keep coming at the rate.
    let before = feed.delivered();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent = feed.delivered() - before;
    assert!(
        (10..=20).contains(&sent),
        "{sent} pictures in 1 s at 15 fps"
    );

    // The choice is remembered for the next share, only for the person.
    let token = desktop
        .state_home()
        .join("tandem/screen-share-restore-token");
    let kept = std::fs::read_to_string(&token).expect("the portal's restore token is kept");
    assert!(!kept.trim().is_empty());
    drop(feed);
    let again = share()
        .await
        .unwrap()
        .expect("sharing again with the token");
    assert_eq!(again.format().width, 1280);
    assert!(
        desktop.restored(),
        "the second share offered the first one's choice"
    );

    // The system ends the cast: the share ends with a reason.
    let mut status = again.status();
    desktop.end_screen_cast();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let ScreenStatus::Failed(e) = status.borrow_and_update().clone() {
                return e;
            }
            status.changed().await.unwrap();
        }
    })
    .await
    .expect("the share ends within 10 s of the cast");
    assert!(matches!(ended, ScreenError::Gone(_)), "{ended:?}");
}
