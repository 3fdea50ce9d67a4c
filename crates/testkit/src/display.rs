//! A private X display (Xvfb) for running the desktop app in tests.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running Xvfb; dropping it stops it.
#[derive(Debug)]
pub struct Xvfb {
    child: Child,
    /// `:N`, for `DISPLAY`.
    pub display: String,
}

impl Xvfb {
    /// Starts Xvfb on a free display, `width`×`height`, and returns once it
    /// accepts clients.
    ///
    /// Xvfb picks the display itself and writes its number to stdout when it
    /// is ready (`-displayfd`), so no display is guessed, a socket left by an
    /// earlier run is never mistaken for a live server, and a lock left by a
    /// server that was killed is reclaimed by Xvfb's own stale-lock check.
    pub fn start(width: u32, height: u32) -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                &format!("{width}x{height}x24"),
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start Xvfb (Debian package xvfb)");
        let stdout = child.stdout.take().expect("Xvfb stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let number = rx
            .recv_timeout(Duration::from_secs(20))
            .ok()
            .and_then(|line| line.trim().parse::<u32>().ok());
        let Some(n) = number else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("Xvfb did not report a display within 20 s");
        };
        Xvfb {
            child,
            display: format!(":{n}"),
        }
    }

    /// The X server's process (its CPU is part of what drawing costs).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A PNG of the whole screen (imagemagick's `import`).
    pub fn screenshot(&self, path: &Path) -> bool {
        screenshot(&self.display, path)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM lets Xvfb remove its lock file and socket; SIGKILL would
        // leave both behind for every run.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A PNG of `display`'s whole screen (imagemagick's `import`): what a
/// person sees, the webview and whatever the app draws natively.
pub fn screenshot(display: &str, path: &Path) -> bool {
    Command::new("import")
        .args(["-display", display, "-window", "root"])
        .arg(path)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The mean colour of the `w`×`h` rectangle at (`x`, `y`) of `display`'s
/// screen, as a person would see it (imagemagick's `import`, whatever drew
/// it: the webview, GTK or GL). None when it cannot be read.
pub fn mean_colour(display: &str, x: i32, y: i32, w: u32, h: u32) -> Option<[u8; 3]> {
    let out = Command::new("import")
        .args([
            "-display", display, "-window", "root", "-depth", "8", "-crop",
        ])
        .arg(format!("{w}x{h}+{x}+{y}"))
        .arg("ppm:-")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    mean_of_ppm(&out.stdout)
}

/// The mean colour of a binary PPM (P6, 8 bits).
pub(crate) fn mean_of_ppm(ppm: &[u8]) -> Option<[u8; 3]> {
    // Header: P6, width, height, maxval, each after whitespace, then one
    // whitespace byte and the pixels.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while ppm.get(i)?.is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !ppm.get(i)?.is_ascii_whitespace() {
            i += 1;
        }
        fields.push(std::str::from_utf8(&ppm[start..i]).ok()?);
    }
    let pixels = ppm.get(i + 1..)?;
    if fields[0] != "P6" || fields[3] != "255" || pixels.len() < 3 {
        return None;
    }
    Some(mean_rgb(pixels))
}

/// The mean colour of packed 8-bit RGB pixels (black when there are none).
pub fn mean_rgb(rgb: &[u8]) -> [u8; 3] {
    let n = (rgb.len() / 3).max(1) as u64;
    let mut sum = [0u64; 3];
    for p in rgb.chunks_exact(3) {
        for c in 0..3 {
            sum[c] += u64::from(p[c]);
        }
    }
    sum.map(|s| (s / n) as u8)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_ppm_is_averaged() {
        let mut ppm = b"P6\n2 1\n255\n".to_vec();
        ppm.extend_from_slice(&[10, 20, 30, 30, 40, 50]);
        assert_eq!(super::mean_of_ppm(&ppm), Some([20, 30, 40]));
        assert_eq!(super::mean_of_ppm(b"P5\n1 1\n255\n\x00"), None);
        assert_eq!(super::mean_of_ppm(b"P6\n"), None);
    }
}
