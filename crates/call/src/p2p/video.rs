//! The video codecs of a peer connection, each on a thread of its own so
//! the network loop never waits on them: the encoder takes the camera's
//! newest picture at the size and bitrate the network allows, the decoder
//! hands pictures to the call as they decode.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Instant;

use tandem_media::codec::{Vp8Decoder, Vp8Encoder, Vp8Settings};
use tandem_media::{FrameReceiver, I420Frame};
use tokio::sync::mpsc;

/// What the network loop tells the encoder: send a keyframe, and the
/// bitrate the network allows.
pub(super) struct Steer {
    pub(super) want_key: Arc<AtomicBool>,
    pub(super) kbps: Arc<AtomicU32>,
}

/// Encodes the camera's newest pictures on a thread of its own, at the
/// size and bitrate the network allows ([`super::rate::Fit`]).
pub(super) fn spawn_encoder(
    mut frames: FrameReceiver,
    fps: u32,
    steer: Steer,
    out: mpsc::Sender<(tandem_media::codec::Encoded, i64)>,
) -> std::thread::JoinHandle<()> {
    let Steer { want_key, kbps } = steer;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Arc<I420Frame>>(1);
    tokio::spawn(async move {
        while frames.changed().await.is_ok() {
            let Some(f) = frames.borrow_and_update().clone() else {
                continue;
            };
            match tx.try_send(f) {
                // The encoder is busy: this picture is skipped (newest only).
                Ok(()) | Err(std::sync::mpsc::TrySendError::Full(_)) => {}
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return,
            }
        }
    });
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut encoder: Option<Vp8Encoder> = None;
        let mut fit = super::rate::Fit::new(fps);
        while let Ok(frame) = rx.recv() {
            let (w, h) = (frame.width() & !1, frame.height() & !1);
            let target = fit.target(w, h, kbps.load(Ordering::SeqCst), Instant::now());
            if encoder.as_ref().is_none_or(|e| {
                (e.settings().width, e.settings().height) != (target.width, target.height)
            }) {
                tracing::debug!(width = target.width, height = target.height, "video size");
                encoder =
                    Vp8Encoder::new(Vp8Settings::for_camera(target.width, target.height, fps))
                        .inspect_err(|e| tracing::warn!("video not encoded: {e}"))
                        .ok();
                want_key.store(true, Ordering::SeqCst);
            }
            let Some(enc) = &mut encoder else { continue };
            if target.kbps.abs_diff(enc.settings().kbps) * 20 > enc.settings().kbps
                && let Err(e) = enc.set_kbps(target.kbps)
            {
                tracing::debug!("video bitrate not changed: {e}");
            }
            let t90 = i64::try_from(started.elapsed().as_micros() * 9 / 100).unwrap_or(i64::MAX);
            let key = want_key.swap(false, Ordering::SeqCst);
            match enc.encode(&frame, t90, key) {
                Ok(packets) => {
                    for p in packets {
                        if p.keyframe {
                            tracing::debug!(bytes = p.data.len(), "keyframe sent");
                        }
                        if out.blocking_send((p, t90)).is_err() {
                            return;
                        }
                    }
                }
                Err(e) => tracing::debug!("video frame not encoded: {e}"),
            }
        }
    })
}

/// Decodes the other side's video on a thread of its own.
pub(super) fn spawn_decoder(
    mut sink: Box<dyn FnMut(I420Frame) + Send>,
    lost: Arc<AtomicBool>,
) -> std::sync::mpsc::SyncSender<Arc<[u8]>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Arc<[u8]>>(8);
    std::thread::spawn(move || {
        let mut decoder = match Vp8Decoder::new() {
            Ok(d) => d,
            Err(e) => return tracing::warn!("video cannot be decoded: {e}"),
        };
        while let Ok(data) = rx.recv() {
            match decoder.decode(&data) {
                Ok(Some(mut frame)) => {
                    frame.received_us = now_us();
                    sink(frame);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!("video frame not decoded: {e}");
                    lost.store(true, Ordering::SeqCst);
                }
            }
        }
    });
    tx
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
