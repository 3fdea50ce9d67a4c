//! Congestion control's last step: from the network's estimate (str0m's
//! transport-wide feedback estimator) to what the VP8 encoder is told, the
//! bitrate and the picture size. A plain machine with time as input.
//!
//! The estimate is shared: Opus and headroom come off it first. Video then
//! gets at most what the camera's picture wants. When that is far more than
//! the network allows, the picture is sent smaller (half, then a quarter of
//! each side), as WebRTC does: a small sharp picture moves, a large one
//! starved of bits breaks up or stalls. A size is kept for a while before
//! it changes again, since each change costs a keyframe.

use std::time::{Duration, Instant};

use tandem_media::codec::Vp8Settings;

/// What Opus (and the packets' overhead) takes off the estimate.
pub const AUDIO_KBPS: u32 = 40;
/// The least video is given: a small picture still moves on it.
pub const MIN_VIDEO_KBPS: u32 = 60;
/// How long a picture size is kept before it may change again.
const HOLD: Duration = Duration::from_secs(3);

/// Video's share of an estimate of `estimate_kbps`: 90 % of it (the rest is
/// headroom for bursts) less Opus, never under [`MIN_VIDEO_KBPS`].
pub fn video_share(estimate_kbps: u64) -> u32 {
    let kbps = u32::try_from(estimate_kbps * 9 / 10).unwrap_or(u32::MAX);
    kbps.saturating_sub(AUDIO_KBPS).max(MIN_VIDEO_KBPS)
}

/// What the encoder is told for a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub width: u32,
    pub height: u32,
    pub kbps: u32,
}

/// Keeps the picture's size steady while the bitrate follows the network.
#[derive(Debug)]
pub struct Fit {
    fps: u32,
    /// Each side is divided by this: 1, 2 or 4.
    divisor: u32,
    changed: Option<Instant>,
}

impl Fit {
    pub fn new(fps: u32) -> Self {
        Fit {
            fps: fps.max(1),
            divisor: 1,
            changed: None,
        }
    }

    /// The target for a `width`×`height` picture when the network allows
    /// `allowed_kbps` (0: no estimate yet, the camera's own rate).
    pub fn target(&mut self, width: u32, height: u32, allowed_kbps: u32, now: Instant) -> Target {
        let full = Vp8Settings::for_camera(width, height, self.fps).kbps;
        let allowed = if allowed_kbps == 0 {
            full
        } else {
            allowed_kbps
        };
        // Full size while the network allows a third of what it wants;
        // half size down to a tenth; a quarter below that. Coming back up
        // needs a fifth more than going down did.
        let want = match allowed {
            a if a * 3 >= full => 1,
            a if a * 10 >= full => 2,
            _ => 4,
        };
        let up_ok = |to: u32| match to {
            1 => allowed * 3 >= full + full / 5,
            _ => allowed * 10 >= full + full / 5,
        };
        let settled = self.changed.is_none_or(|t| now.duration_since(t) >= HOLD);
        if want != self.divisor && settled && (want > self.divisor || up_ok(want)) {
            self.divisor = want;
            self.changed = Some(now);
        }
        let (w, h) = (even(width / self.divisor), even(height / self.divisor));
        let most = Vp8Settings::for_camera(w, h, self.fps).kbps;
        Target {
            width: w,
            height: h,
            kbps: allowed.min(most),
        }
    }
}

fn even(n: u32) -> u32 {
    (n & !1).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_leaves_room_for_sound_and_has_a_floor() {
        assert_eq!(video_share(1000), 860);
        assert_eq!(video_share(100), MIN_VIDEO_KBPS);
        assert_eq!(video_share(0), MIN_VIDEO_KBPS);
    }

    /// 720p at 15 fps wants about 1,380 kbit/s. Plenty keeps it whole at
    /// its own rate; a narrow link makes it half, then a quarter of each
    /// side; each size is held three seconds; growing needs room to spare.
    #[test]
    fn the_picture_shrinks_when_the_network_is_narrow_and_grows_back_steadily() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut fit = Fit::new(15);
        let full = fit.target(1280, 720, 0, at(0));
        assert_eq!((full.width, full.height, full.kbps), (1280, 720, 1382));
        assert_eq!(fit.target(1280, 720, 5000, at(0)).kbps, 1382);
        // A third of what it wants: still whole, at what is allowed.
        let t = fit.target(1280, 720, 470, at(1));
        assert_eq!((t.width, t.kbps), (1280, 470));
        // Narrower: half a side.
        let t = fit.target(1280, 720, 300, at(2));
        assert_eq!((t.width, t.height, t.kbps), (640, 360, 300));
        // Much narrower at once: held at half for three seconds, then a quarter.
        assert_eq!(fit.target(1280, 720, 100, at(3)).width, 640);
        assert_eq!(fit.target(1280, 720, 100, at(5)).width, 320);
        assert_eq!(fit.target(1280, 720, 100, at(5)).kbps, 100);
        // Back to just over a tenth: not enough spare to grow yet.
        assert_eq!(fit.target(1280, 720, 140, at(9)).width, 320);
        // Plenty: whole again at once (the estimate itself rises gradually).
        assert_eq!(fit.target(1280, 720, 2000, at(10)).width, 1280);
        // Narrow again right after: held whole for three seconds.
        assert_eq!(fit.target(1280, 720, 300, at(11)).width, 1280);
        assert_eq!(fit.target(1280, 720, 300, at(13)).width, 640);
    }
}
