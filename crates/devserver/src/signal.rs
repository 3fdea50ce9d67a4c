//! One signaling WebSocket: protobuf `SignalRequest`s in, `SignalResponse`s out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt as _, StreamExt as _};
use livekit_protocol as proto;
use prost::Message as _;
use proto::leave_request::Action;
use proto::{signal_request, signal_response};
use tokio::time::Instant;

use crate::http::AppState;
use crate::sfu::{Command, JoinError, JoinRequest, Outbound};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn encode(msg: signal_response::Message) -> Message {
    Message::Binary(
        proto::SignalResponse { message: Some(msg) }
            .encode_to_vec()
            .into(),
    )
}

/// Sends a `leave` and closes, for connections refused before they join.
async fn leave_and_close(
    mut tx: futures_util::stream::SplitSink<WebSocket, Message>,
    reason: proto::DisconnectReason,
    action: Action,
) {
    let leave = crate::sfu::leave_request(reason, action);
    let _ = tx
        .send(encode(signal_response::Message::Leave(leave)))
        .await;
    let _ = tx.close().await;
}

/// Runs a signaling connection until either side ends it.
pub(crate) async fn serve(socket: WebSocket, state: AppState, req: JoinRequest, reconnect: bool) {
    let (mut tx, mut rx) = socket.split();
    let identity = req.claims.sub.clone();
    if reconnect {
        // Sessions are not kept after their connection drops, so there is
        // nothing to resume: ask for a full reconnect instead.
        tracing::info!(%identity, "resume for an unknown session: asking for a full reconnect");
        let (reason, action) = (proto::DisconnectReason::StateMismatch, Action::Reconnect);
        return leave_and_close(tx, reason, action).await;
    }
    let joined = state
        .sfu
        .call(|reply| Command::Join(Box::new(req), reply))
        .await
        .unwrap_or(Err(JoinError::ShuttingDown));
    let mut joined = match joined {
        Ok(j) => j,
        Err(e) => {
            tracing::info!(%identity, "join failed: {e}");
            let (reason, action) = (proto::DisconnectReason::JoinFailure, Action::Disconnect);
            return leave_and_close(tx, reason, action).await;
        }
    };
    let pid = joined.pid;
    let timeout = state.cfg.ping_timeout;
    let mut deadline = Instant::now() + timeout;
    let mut bad_logged = false;
    loop {
        tokio::select! {
            out = joined.rx.recv() => match out {
                Some(Outbound::Signal(msg)) => {
                    if tx.send(Message::Binary(msg.encode_to_vec().into())).await.is_err() {
                        break;
                    }
                }
                Some(Outbound::Close) | None => {
                    let _ = tx.close().await;
                    break;
                }
            },
            incoming = rx.next() => {
                let bytes = match incoming {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        tracing::info!(%identity, "signal connection error: {e}");
                        break;
                    }
                };
                deadline = Instant::now() + timeout;
                let msg = match proto::SignalRequest::decode(bytes.as_ref()) {
                    Ok(proto::SignalRequest { message: Some(m) }) => m,
                    Ok(_) => continue,
                    Err(e) => {
                        if !bad_logged {
                            bad_logged = true;
                            tracing::warn!(%identity, "malformed signal message ignored: {e}");
                        }
                        continue;
                    }
                };
                let reply = match msg {
                    signal_request::Message::Ping(ts) => Some(signal_response::Message::Pong(ts)),
                    signal_request::Message::PingReq(p) => Some(signal_response::Message::PongResp(proto::Pong {
                        last_ping_timestamp: p.timestamp,
                        timestamp: now_ms(),
                    })),
                    other => {
                        if state.sfu.tx.send(Command::Signal(pid, Box::new(other))).await.is_err() {
                            break;
                        }
                        None
                    }
                };
                if let Some(reply) = reply
                    && tx.send(encode(reply)).await.is_err()
                {
                    break;
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                tracing::info!(%identity, "no message for {:?}: dropping the connection", timeout);
                break;
            }
        }
    }
    let _ = state.sfu.tx.send(Command::Gone(pid)).await;
    // Let queued replies reach a client that is still reading, briefly.
    let _ = tokio::time::timeout(Duration::from_millis(100), tx.close()).await;
}
