//! The picker's small pictures of screens, taken from a real X11 screen
//! (Xvfb): a screen of one colour comes back as a small picture of that
//! colour with the screen's shape; the synthetic page too; a window that
//! is not there is refused by name.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tandem_media::convert::i420_to_rgb;
use tandem_media::screen::{ScreenChoice, ScreenError, thumbnail};
use tandem_testkit::display::{Xvfb, mean_rgb as mean};
use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{ChangeWindowAttributesAux, ConnectionExt as _};

const SCREEN: [u8; 3] = [0x33, 0x66, 0xcc];

#[test]
fn small_pictures_of_screens_for_the_picker() {
    let xvfb = Xvfb::start(1600, 1000);
    let (x, n) = x11rb::connect(Some(&xvfb.display)).unwrap();
    let root = x.setup().roots[n].root;
    let [r, g, b] = SCREEN;
    x.change_window_attributes(
        root,
        &ChangeWindowAttributesAux::new().background_pixel(u32::from_be_bytes([0, r, g, b])),
    )
    .unwrap();
    x.clear_area(false, root, 0, 0, 0, 0).unwrap();
    x.flush().unwrap();
    // SAFETY: the only test in this program, and no thread of it reads or
    // writes the environment meanwhile.
    unsafe { std::env::set_var("DISPLAY", &xvfb.display) };

    let small = thumbnail(&ScreenChoice::Id("screen:0".into()), 240, 136).unwrap();
    // 16:10 kept: as wide as allowed, and not as high.
    assert_eq!((small.width(), small.height()), (218, 136));
    let colour = mean(&i420_to_rgb(&small).unwrap());
    assert!(
        colour.iter().zip(SCREEN).all(|(c, s)| c.abs_diff(s) < 12),
        "{colour:?}"
    );

    let page = thumbnail(&ScreenChoice::Synthetic, 240, 136).unwrap();
    assert_eq!((page.width(), page.height()), (240, 134));

    let gone = thumbnail(&ScreenChoice::Id("window:0x7fffff".into()), 240, 136);
    assert!(matches!(gone, Err(ScreenError::NotFound(id)) if id == "window:0x7fffff"));
    let nonsense = thumbnail(&ScreenChoice::Id("../../etc".into()), 240, 136);
    assert!(matches!(nonsense, Err(ScreenError::NotFound(_))));
}
