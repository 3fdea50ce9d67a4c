//! The `frames:` protocol: each video element pulls "the next frame after
//! N" at its own size (VIDEO-PATH.md). Only the newest frame of a track is
//! kept; a page that is slow skips frames instead of queueing them; frames
//! are scaled here to the element's size so the picture-in-picture never
//! carries 720p.
//!
//! Request: `frames://localhost/<view>?src=<identity|local>&after=<seq>&w=<px>&h=<px>`
//! where `<view>` names one element (two elements showing the same track
//! each get every frame). Answer: 200 with a 32-byte header — seq, width,
//! height, 0 (u32 little-endian), the sender's capture time and our receive
//! time in µs since the Unix epoch (f64, 0 when unknown) — then the I420
//! planes; 204 when no newer frame came within a second; 404 when the source
//! has no video (yet).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tandem_call::media::FrameReceiver;

/// How long a request waits for a newer frame before answering 204.
const WAIT: Duration = Duration::from_secs(1);
/// Views unused this long are forgotten.
const IDLE: Duration = Duration::from_secs(30);
/// The largest size a view may ask for.
const MAX_SIDE: u32 = 3840;
pub const HEADER: usize = 32;

/// One element's position in its source's stream.
#[derive(Debug)]
struct Slot {
    source: String,
    rx: Option<FrameReceiver>,
    /// Frames seen on `rx` (the current one included).
    seq: u32,
    /// The last seq answered to this view.
    served: u32,
    used: Instant,
}

/// Every element's slot.
#[derive(Debug, Default)]
pub struct Views {
    slots: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

/// A parsed request.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameRequest {
    pub view: String,
    pub source: String,
    pub after: u32,
    pub width: u32,
    pub height: u32,
}

/// What to answer.
#[derive(Debug)]
pub enum Answer {
    Frame(Vec<u8>),
    NoNewFrame,
    NoVideo,
    Bad(String),
}

impl FrameRequest {
    /// Parses the path and query of a `frames:` URL; never panics on
    /// anything the page sends.
    pub fn parse(uri: &str) -> Result<FrameRequest, String> {
        let url = url::Url::parse(uri).map_err(|e| format!("bad frame URL: {e}"))?;
        let view = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .filter(|v| !v.is_empty() && v.len() <= 64)
            .ok_or("no view in the frame URL")?
            .to_owned();
        let (mut source, mut after, mut width, mut height) = (None, 0, 0, 0);
        for (k, v) in url.query_pairs() {
            match &*k {
                "src" if v.len() <= 256 => source = Some(v.into_owned()),
                "after" => after = v.parse().map_err(|_| "bad `after`")?,
                "w" => width = v.parse().map_err(|_| "bad `w`")?,
                "h" => height = v.parse().map_err(|_| "bad `h`")?,
                _ => {}
            }
        }
        let source = source.ok_or("no `src` in the frame URL")?;
        if !(2..=MAX_SIDE).contains(&width) || !(2..=MAX_SIDE).contains(&height) {
            return Err(format!("the view size must be 2…{MAX_SIDE} pixels"));
        }
        Ok(FrameRequest {
            view,
            source,
            after,
            width,
            height,
        })
    }
}

impl Views {
    fn slot(&self, view: &str, source: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = match self.slots.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        slots.retain(|_, s| {
            Arc::strong_count(s) > 1
                || s.try_lock()
                    .map(|s| s.used.elapsed() < IDLE)
                    .unwrap_or(true)
        });
        slots
            .entry(view.to_owned())
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(Slot {
                    source: source.to_owned(),
                    rx: None,
                    seq: 0,
                    served: 0,
                    used: Instant::now(),
                }))
            })
            .clone()
    }

    /// Answers one request; `lookup` finds a source's frames.
    pub async fn answer(
        &self,
        req: FrameRequest,
        lookup: impl Fn(&str) -> Option<FrameReceiver>,
    ) -> Answer {
        let slot = self.slot(&req.view, &req.source);
        let mut slot = slot.lock().await;
        slot.used = Instant::now();
        let stale = slot.source != req.source
            || slot.rx.as_ref().is_none_or(|rx| rx.has_changed().is_err());
        if stale {
            slot.source = req.source.clone();
            slot.rx = lookup(&req.source);
            let Some(rx) = slot.rx.as_mut() else {
                return Answer::NoVideo;
            };
            // The frame already there counts as new to this view.
            let has_frame = rx.borrow_and_update().is_some();
            slot.seq = slot.seq.wrapping_add(u32::from(has_frame));
        }
        let wanted_after = req.after.max(slot.served);
        if slot.seq <= wanted_after || slot.rx.as_ref().is_some_and(|rx| rx.borrow().is_none()) {
            let Some(rx) = slot.rx.as_mut() else {
                return Answer::NoVideo;
            };
            match tokio::time::timeout(WAIT, rx.changed()).await {
                Ok(Ok(())) => {
                    rx.borrow_and_update();
                    slot.seq = slot.seq.wrapping_add(1);
                }
                Ok(Err(_)) => {
                    slot.rx = None;
                    return Answer::NoVideo;
                }
                Err(_) => return Answer::NoNewFrame,
            }
        }
        let Some(frame) = slot.rx.as_ref().and_then(|rx| rx.borrow().clone()) else {
            return Answer::NoNewFrame;
        };
        slot.served = slot.seq;
        let seq = slot.seq;
        drop(slot);
        let (w, h) = (req.width, req.height);
        if !worth_scaling(frame.width(), frame.height(), w, h) {
            return Answer::Frame(encode(seq, &frame));
        }
        let scaled = tokio::task::spawn_blocking(move || frame.fitted(w, h)).await;
        match scaled {
            Ok(Ok(f)) => Answer::Frame(encode(seq, &f)),
            Ok(Err(e)) => Answer::Bad(e.to_string()),
            Err(e) => Answer::Bad(e.to_string()),
        }
    }
}

/// Scaling in Rust pays when the view is much smaller than the frame (the
/// picture-in-picture, grid tiles). When it would keep most of the pixels,
/// sending the frame as it is costs less: the GPU scales it while drawing.
pub fn worth_scaling(fw: u32, fh: u32, max_w: u32, max_h: u32) -> bool {
    let (w, h) = tandem_call::media::frame::fit(fw, fh, max_w, max_h);
    u64::from(w) * u64::from(h) * 10 < u64::from(fw) * u64::from(fh) * 6
}

/// Header and planes, as the page's renderer reads them.
pub fn encode(seq: u32, f: &tandem_call::media::I420Frame) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + f.data().len());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&f.width().to_le_bytes());
    out.extend_from_slice(&f.height().to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(f.captured_us as f64).to_le_bytes());
    out.extend_from_slice(&(f.received_us as f64).to_le_bytes());
    out.extend_from_slice(f.data());
    out
}

/// The HTTP response for an answer.
pub fn response(answer: Answer) -> tauri::http::Response<Vec<u8>> {
    let (status, body) = match answer {
        Answer::Frame(b) => (200, b),
        Answer::NoNewFrame => (204, Vec::new()),
        Answer::NoVideo => (404, b"no video".to_vec()),
        Answer::Bad(why) => (400, why.into_bytes()),
    };
    tauri::http::Response::builder()
        .status(status)
        .header("Content-Type", "application/octet-stream")
        .header("Access-Control-Allow-Origin", "*")
        .header("Cache-Control", "no-store")
        .body(body)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tandem_call::media::I420Frame;
    use tandem_call::media::frame::newest_frame_channel;

    fn frame(w: u32, h: u32) -> Option<Arc<I420Frame>> {
        Some(Arc::new(I420Frame::new(w, h).unwrap()))
    }

    fn req(view: &str, after: u32) -> FrameRequest {
        FrameRequest::parse(&format!(
            "frames://localhost/{view}?src=alice&after={after}&w=320&h=320"
        ))
        .unwrap()
    }

    #[test]
    fn only_much_smaller_views_get_scaled_frames() {
        assert!(worth_scaling(1280, 720, 320, 180), "picture-in-picture");
        assert!(worth_scaling(1280, 720, 640, 480), "a grid tile");
        assert!(!worth_scaling(1280, 720, 1088, 612), "nearly full size");
        assert!(
            !worth_scaling(640, 360, 1920, 1080),
            "larger than the frame"
        );
    }

    #[test]
    fn requests_are_parsed_strictly() {
        let r = FrameRequest::parse("http://frames.localhost/v1?src=a%20b&after=3&w=640&h=360")
            .unwrap();
        assert_eq!(
            (
                r.view.as_str(),
                r.source.as_str(),
                r.after,
                r.width,
                r.height
            ),
            ("v1", "a b", 3, 640, 360)
        );
        for bad in [
            "frames://localhost/v1?after=1&w=2&h=2",
            "frames://localhost/v1?src=a&w=0&h=2",
            "frames://localhost/v1?src=a&w=99999&h=2",
            "frames://localhost/v1?src=a&after=-1&w=2&h=2",
            "frames://localhost/?src=a&w=2&h=2",
            "not a url",
        ] {
            assert!(FrameRequest::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn each_view_gets_each_frame_once_scaled_to_its_size() {
        let (tx, rx) = newest_frame_channel();
        let views = Views::default();
        let lookup = |s: &str| (s == "alice").then(|| rx.clone());
        // Nothing yet, then a frame: the waiting request gets it.
        let first = {
            let views = &views;
            let pending = views.answer(req("v", 0), lookup);
            let send = async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                tx.send_replace(frame(1280, 720));
            };
            let (a, ()) = tokio::join!(pending, send);
            a
        };
        let Answer::Frame(bytes) = first else {
            panic!("{first:?}")
        };
        let seq = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
        let w = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
        let h = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
        assert_eq!((w, h), (320, 180), "fitted into 320×320");
        assert_eq!(bytes.len(), HEADER + 320 * 180 * 3 / 2);
        // Asking again after it, with no new frame: nothing new.
        assert!(matches!(
            views.answer(req("v", seq), lookup).await,
            Answer::NoNewFrame
        ));
        // A pipelined request that still says after=0 is not served the same
        // frame twice.
        tx.send_replace(frame(640, 360));
        let Answer::Frame(b2) = views.answer(req("v", 0), lookup).await else {
            panic!()
        };
        assert_eq!(u32::from_le_bytes(b2[0..4].try_into().unwrap()), seq + 1);
        // Another view of the same source starts with the newest frame.
        assert!(matches!(
            views.answer(req("other", 0), lookup).await,
            Answer::Frame(_)
        ));
        // Unknown sources have no video; a closed source neither.
        let r = FrameRequest::parse("frames://localhost/x?src=bob&w=2&h=2").unwrap();
        assert!(matches!(views.answer(r, lookup).await, Answer::NoVideo));
    }
}
