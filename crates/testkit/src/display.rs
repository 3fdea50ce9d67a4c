//! A private X display (Xvfb) for running the desktop app in tests.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Xvfb; dropping it stops it.
#[derive(Debug)]
pub struct Xvfb {
    child: Child,
    /// `:N`, for `DISPLAY`.
    pub display: String,
}

impl Xvfb {
    /// Starts Xvfb on the first free display from :90, `width`×`height`.
    pub fn start(width: u32, height: u32) -> Xvfb {
        for n in 90..190 {
            if Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let display = format!(":{n}");
            let child = Command::new("Xvfb")
                .args([
                    &display,
                    "-screen",
                    "0",
                    &format!("{width}x{height}x24"),
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("cannot start Xvfb (Debian package xvfb)");
            let mut x = Xvfb { child, display };
            let socket = format!("/tmp/.X11-unix/X{n}");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if Path::new(&socket).exists() {
                    return x;
                }
                if x.child.try_wait().ok().flatten().is_some() {
                    break; // lost a race for this display; try the next
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = x.child.kill();
        }
        panic!("no free X display for Xvfb between :90 and :189");
    }

    /// A PNG of the whole screen (imagemagick's `import`).
    pub fn screenshot(&self, path: &Path) -> bool {
        Command::new("import")
            .args(["-display", &self.display, "-window", "root"])
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
