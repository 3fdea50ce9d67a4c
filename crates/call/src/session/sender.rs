//! Sending chat: in order, on a task of its own (a send waits while the
//! connection is down, and the call must not), with every message either
//! confirmed or reported not sent — and sent again after a rejoin, which
//! drops whatever was still in flight.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::chat::ChatMessage;
use super::chat::LEGACY_CHAT_TOPIC;
use super::handle::Out;
use super::lifecycle::now;
use super::reconnect::{IN_FLIGHT, ResendSince};
use super::types::CallEvent;
use crate::room::Room;

/// A message not confirmed after the call has been connected this long (a
/// send can hang when the SDK rejoined a restarted server) is reported not
/// sent, so that nothing is lost silently. Time spent reconnecting does not
/// count: the SDK delivers what was typed then once back.
const CONFIRM_WITHIN: Duration = Duration::from_secs(10);

/// What the sender is asked to do.
#[derive(Debug)]
pub(super) enum ChatJob {
    /// Send a message (the UI's id for it, the text).
    Send(u64, String),
    /// Send again what was sent since then (after a rejoin).
    Resend(ResendSince),
}

/// Messages sent lately, kept across rejoins (each room has its own sender).
pub(super) type Recent = Arc<Mutex<VecDeque<(Instant, ChatMessage)>>>;

/// Returns once `connected` has stayed true for `within`.
async fn connected_for(within: Duration, connected: &mut watch::Receiver<bool>) {
    loop {
        while !*connected.borrow_and_update() {
            if connected.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
        if tokio::time::timeout(within, connected.changed())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The data packet web apps read (seed 000), carrying the message's id, by
/// which receivers drop copies.
async fn send_legacy<R: Room>(room: &R, m: &ChatMessage, connected: &mut watch::Receiver<bool>) {
    let legacy = json!({"id": m.id, "timestamp": m.timestamp_ms, "message": m.text}).to_string();
    tokio::select! {
        r = room.send_data(LEGACY_CHAT_TOPIC, legacy.into_bytes()) => if let Err(e) = r {
            tracing::warn!(error = %e, "legacy chat copy not sent");
        },
        () = connected_for(CONFIRM_WITHIN, connected) => {
            tracing::warn!("legacy chat copy not confirmed");
        }
    }
}

/// Starts the sender for one room; each message is reported sent (and
/// added to the history) or not sent.
pub(super) fn chat_sender<R: Room>(
    room: R,
    out: Out,
    mut connected: watch::Receiver<bool>,
    recent: Recent,
) -> mpsc::UnboundedSender<ChatJob> {
    let (tx, mut rx) = mpsc::unbounded_channel::<ChatJob>();
    let from = room.identity();
    let span = tracing::info_span!("chat sender", identity = %from);
    let task = async move {
        while let Some(job) = rx.recv().await {
            let (local_id, text) = match job {
                ChatJob::Send(local_id, text) => (local_id, text),
                ChatJob::Resend(since) => {
                    let again: Vec<ChatMessage> = recent
                        .lock()
                        .map(|r| {
                            r.iter()
                                .filter(|(t, _)| *t >= since)
                                .map(|(_, m)| m.clone())
                                .collect()
                        })
                        .unwrap_or_default();
                    tracing::info!(count = again.len(), "sending recent chat again");
                    for m in &again {
                        send_legacy(&room, m, &mut connected).await;
                    }
                    continue;
                }
            };
            // On a task of its own, so that the time limit below fires even
            // if the send holds up the thread it runs on.
            let sending = {
                let (room, text) = (room.clone(), text.clone());
                tokio::spawn(async move { room.send_chat(&text).await })
            };
            let sent = tokio::select! {
                r = sending => match r {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
                () = connected_for(CONFIRM_WITHIN, &mut connected) => {
                    Err("not confirmed by the call server; it may not have arrived".into())
                }
            };
            match sent {
                Ok(id) => {
                    let message = ChatMessage {
                        id,
                        from: from.clone(),
                        text,
                        timestamp_ms: chrono::Utc::now().timestamp_millis(),
                    };
                    if let Ok(mut r) = recent.lock() {
                        let now = now();
                        r.retain(|(t, _)| now.saturating_duration_since(*t) < IN_FLIGHT * 2);
                        r.push_back((now, message.clone()));
                    }
                    out.emit(CallEvent::ChatSent {
                        local_id,
                        message: message.clone(),
                    });
                    send_legacy(&room, &message, &mut connected).await;
                }
                Err(error) => out.emit(CallEvent::ChatFailed {
                    local_id,
                    text,
                    error,
                }),
            }
        }
    };
    tokio::spawn(tracing::Instrument::instrument(task, span));
    tx
}
