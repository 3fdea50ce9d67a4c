//! Seed 004's Socket.IO room server: the signalling for its peer-to-peer
//! calls, written from the seed's event list. A participant emits
//! `join-room {roomId, participantType, sessionType}`; the others in the
//! room hear `participant-joined {participantType, timestamp}` (and
//! `participant-left` when it goes); `message`, `offer`, `answer` and
//! `ice-candidate` are relayed to the others in the sender's room as sent.
//!
//! What the seed leaves open, decided here: a room is a booked session's
//! room (others are refused), it holds one participant per side, `user` and
//! `astrologer` (a second connection of the same side replaces the first,
//! as after a network change), relays only go to the room the sender
//! joined, and every payload is bounded. Refusals come as `session-error
//! {message}` before the socket is closed.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{Data, SocketRef};
use socketioxide::handler::ConnectHandler as _;
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::Sid;

use crate::AppState;

/// Largest relayed payload (an SDP with many candidates is a few KiB).
const MAX_PAYLOAD: usize = 64 * 1024;
/// Longest chat message relayed.
const MAX_CHAT: usize = 4000;

/// Who is in which room.
#[derive(Debug, Default)]
struct Rooms {
    /// socket → (room, participant type)
    members: HashMap<Sid, (String, String)>,
}

/// The layer to put on the router (serves `/socket.io/`).
pub(crate) fn layer(state: AppState) -> SocketIoLayer {
    let (layer, io) = SocketIo::builder()
        .max_payload(MAX_PAYLOAD as u64 * 2)
        .build_layer();
    let rooms = Arc::new(Mutex::new(Rooms::default()));
    // Handlers are registered in a middleware, which runs before the
    // CONNECT packet goes out: registered in the connect handler (which
    // runs after it, in a task of its own), an event the client sent the
    // moment it was connected (the seed page's `join-room`) was now and
    // then dropped before anything listened.
    let register = move |s: SocketRef| {
        let (state, rooms) = (state.clone(), rooms.clone());
        async move {
            on_connect(s, state, rooms);
            Ok::<(), std::convert::Infallible>(())
        }
    };
    let connected = |_: SocketRef| async {};
    io.ns("/", connected.with(register));
    layer
}

fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn refuse(s: &SocketRef, message: &str) {
    tracing::info!(socket = %s.id, "signalling refused: {message}");
    let _ = s.emit("session-error", &json!({ "message": message }));
    let _ = s.clone().disconnect();
}

fn text<'a>(v: &'a Value, k: &str, max: usize) -> Option<&'a str> {
    v.get(k)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() <= max)
}

fn on_connect(s: SocketRef, state: AppState, rooms: Arc<Mutex<Rooms>>) {
    {
        let (state, rooms) = (state.clone(), rooms.clone());
        s.on("join-room", move |s: SocketRef, Data(v): Data<Value>| {
            let (state, rooms) = (state.clone(), rooms.clone());
            async move { join(s, v, state, rooms).await }
        });
    }
    for event in ["offer", "answer", "ice-candidate", "message"] {
        let rooms = rooms.clone();
        s.on(event, move |s: SocketRef, Data(v): Data<Value>| {
            let rooms = rooms.clone();
            async move { relay(s, event, v, &rooms).await }
        });
    }
    s.on_disconnect(move |s: SocketRef| {
        let rooms = rooms.clone();
        async move {
            let left = rooms.lock().members.remove(&s.id);
            if let Some((room, side)) = left {
                tracing::info!(socket = %s.id, %room, %side, "left the signalling room");
                let _ = s
                    .to(room)
                    .emit(
                        "participant-left",
                        &json!({ "participantType": side, "timestamp": now() }),
                    )
                    .await;
            }
        }
    });
}

async fn join(s: SocketRef, v: Value, state: AppState, rooms: Arc<Mutex<Rooms>>) {
    let (Some(room), Some(side)) = (text(&v, "roomId", 128), text(&v, "participantType", 32))
    else {
        return refuse(&s, "join-room needs a roomId and a participantType");
    };
    if !matches!(side, "user" | "astrologer") {
        return refuse(&s, "participantType must be \"user\" or \"astrologer\"");
    }
    tracing::debug!(socket = %s.id, %room, %side, "join-room: checking the session");
    let session = sqlx::query("SELECT session_type, status FROM sessions WHERE room_name = $1")
        .bind(room)
        .fetch_optional(&state.db.pool)
        .await;
    tracing::debug!(socket = %s.id, ok = session.is_ok(), "join-room: session checked");
    let status: String = match session {
        Ok(Some(row)) => sqlx::Row::get(&row, "status"),
        Ok(None) => return refuse(&s, "there is no session with this room"),
        Err(e) => {
            tracing::warn!("signalling: database unavailable: {e}");
            return refuse(&s, "the platform cannot check the session now; try again");
        }
    };
    if matches!(status.as_str(), "completed" | "cancelled") {
        return refuse(&s, "this session has ended or was cancelled");
    }
    let replaced = {
        let mut r = rooms.lock();
        let here: Vec<(Sid, String)> = r
            .members
            .iter()
            .filter(|(sid, (rm, _))| rm == room && **sid != s.id)
            .map(|(sid, (_, side))| (*sid, side.clone()))
            .collect();
        let replaced: Vec<Sid> = here
            .iter()
            .filter(|(_, other)| other == side)
            .map(|(sid, _)| *sid)
            .collect();
        for sid in &replaced {
            r.members.remove(sid);
        }
        r.members.insert(s.id, (room.to_owned(), side.to_owned()));
        replaced
    };
    for old in replaced {
        // The same side again (a new connection after a network change):
        // the old socket goes quietly.
        if let Some(o) = s.broadcast().sockets().into_iter().find(|o| o.id == old) {
            let _ = o.emit(
                "session-error",
                &json!({ "message": "you joined this session from another connection" }),
            );
            let _ = o.disconnect();
        }
    }
    s.join(room.to_owned());
    tracing::info!(socket = %s.id, %room, %side, "joined the signalling room");
    let _ = s
        .to(room.to_owned())
        .emit(
            "participant-joined",
            &json!({ "participantType": side, "timestamp": now() }),
        )
        .await;
}

async fn relay(s: SocketRef, event: &'static str, v: Value, rooms: &Mutex<Rooms>) {
    let Some(joined) = rooms.lock().members.get(&s.id).map(|(r, _)| r.clone()) else {
        tracing::debug!(socket = %s.id, event, "relay before join-room: dropped");
        return;
    };
    if text(&v, "roomId", 128) != Some(joined.as_str()) {
        tracing::info!(socket = %s.id, event, "relay for another room: dropped");
        return;
    }
    let size = v.to_string().len();
    let well_formed = size <= MAX_PAYLOAD
        && match event {
            "offer" | "answer" => v
                .get(event)
                .and_then(|d| d.get("sdp"))
                .and_then(Value::as_str)
                .is_some(),
            "ice-candidate" => v.get("candidate").is_some_and(Value::is_object),
            _ => text(&v, "message", MAX_CHAT * 4).is_some_and(|m| m.chars().count() <= MAX_CHAT),
        };
    if !well_formed {
        tracing::info!(socket = %s.id, event, size, "malformed relay: dropped");
        return;
    }
    let _ = s.to(joined).emit(event, &v).await;
}
