//! The five platforms' token and session APIs, each at its seed's path with
//! its seed's JSON. The write-ups are in `shared/reference/seeds/000–004`.

use std::collections::HashMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row as _;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Shape, rejection};
use crate::lk::{self, Grant};
use crate::model::{Session, Side, User};

mod common;
mod links;
use common::{ONE_HOUR, TWO_HOURS, body, iso, iso_ms_z, required, session_for};
use links::{end_004, join_004, token_004, validate_004};

/// Routes that mint tokens or check passwords (rate limited); seed 004's
/// LiveKit token only when `seed_004_livekit`.
pub(crate) fn token_routes(seed_004_livekit: bool) -> Router<AppState> {
    let routes = Router::new()
        .route("/api/livekit-token", get(token_000))
        .route("/functions/v1/livekit-token", post(token_001))
        .route(
            "/api/v1/admin/sessions/{session_id}/livekit-token",
            post(token_002),
        )
        .route("/api/livekit/token", post(token_003))
        .route("/api/sessions/validate", post(validate_004));
    if seed_004_livekit {
        routes.route("/api/sessions/livekit-token", post(token_004))
    } else {
        routes
    }
}

/// Everything else.
pub(crate) fn other_routes() -> Router<AppState> {
    Router::new()
        .route("/api/sessions", get(my_sessions))
        .route("/api/livekit/rooms", post(create_room).get(list_rooms))
        .route(
            "/api/livekit/rooms/{room}",
            get(get_room).delete(delete_room),
        )
        .route(
            "/api/livekit/rooms/{room}/remove-participant",
            post(remove_participant),
        )
        .route("/api/livekit/status", get(status))
        .route("/api/sessions/join", post(join_004))
        .route("/api/sessions/end", post(end_004))
}

// ---- seed 000: GET /api/livekit-token?sessionId= → {token, serverUrl} ----

async fn token_000(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let user = caller.in_shape(Shape::Plain)?;
    let Query(q) = q.map_err(|e| rejection(e, Shape::Plain))?;
    let sid = required(&q.get("sessionId").cloned(), "sessionId", 64, Shape::Plain)?.to_owned();
    let session = session_for(&state, &sid, Shape::Plain).await?;
    let side = session
        .side_of(&user.id)
        .ok_or_else(|| ApiError::forbidden("you are not a participant of this session"))?;
    let mut grant = Grant::full(&session.id, TWO_HOURS);
    grant.can_update_metadata = side == Side::Coach;
    let token = lk::mint(&state.cfg, &user, &user.display_name, &grant)?;
    let mut out = json!({ "token": token, "serverUrl": state.cfg.livekit_url });
    if let Some(key) = &session.e2ee_key {
        out["e2eeKey"] = json!(key);
    }
    if state.cfg.dev {
        out["_debug"] = json!({ "serverTimeUtc": iso_ms_z(chrono::Utc::now()) });
    }
    Ok(Json(out))
}

// ---- seed 001: POST /functions/v1/livekit-token {roomType} → {token, livekitUrl} ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Req001 {
    room_type: Option<String>,
    user_name: Option<String>,
}

/// Audition and main show: judges and contestants perform (publish); everyone
/// else watches (subscribe only).
pub(crate) fn grant_001(role: &str, room_type: &str) -> Option<Grant> {
    let room = match room_type {
        "audition" => "audition-room",
        "main_show" => "main-show",
        _ => return None,
    };
    let performer = matches!(role, "judge" | "contestant" | "admin");
    Some(Grant {
        can_publish: performer,
        can_publish_data: performer,
        can_update_metadata: performer,
        ..Grant::full(room, ONE_HOUR)
    })
}

async fn token_001(
    State(state): State<AppState>,
    caller: Caller,
    b: Result<Json<Req001>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let user = caller.in_shape(Shape::Plain)?;
    let req = body(b, Shape::Plain)?;
    let room_type = required(&req.room_type, "roomType", 32, Shape::Plain)?;
    let grant = grant_001(&user.role, room_type)
        .ok_or_else(|| ApiError::bad_request("roomType must be \"audition\" or \"main_show\""))?;
    let name = match &req.user_name {
        Some(_) => required(&req.user_name, "userName", 128, Shape::Plain)?.to_owned(),
        None => user.display_name.clone(),
    };
    let token = lk::mint(&state.cfg, &user, &name, &grant)?;
    Ok(Json(
        json!({ "token": token, "livekitUrl": state.cfg.livekit_url }),
    ))
}

// ---- seed 002: POST /api/v1/admin/sessions/:id/livekit-token ----

/// Who may join when (seed 002's access rules); the error says why not.
pub(crate) fn access_002(session: &Session, side: Side) -> Result<Grant, ApiError> {
    let refuse = |m: &str| Err(ApiError::bad_request(m).shaped(Shape::Envelope));
    match (session.status.as_str(), session.mode.as_str()) {
        ("cancelled", _) => return refuse("this session is cancelled"),
        ("completed", _) => return refuse("this session has ended"),
        ("scheduled", "offline") => {
            return refuse("this offline session is not accessible until the trainer starts it");
        }
        _ => {}
    }
    let mut grant = Grant::full(&format!("session-{}", session.id), TWO_HOURS);
    grant.can_update_metadata = side == Side::Coach;
    Ok(grant)
}

async fn token_002(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = caller.in_shape(Shape::Envelope)?;
    let session = session_for(&state, &session_id, Shape::Envelope).await?;
    let side = session.side_of(&user.id).ok_or_else(|| {
        ApiError::forbidden("you do not have access to this session").shaped(Shape::Envelope)
    })?;
    let grant = access_002(&session, side)?;
    let token = lk::mint(&state.cfg, &user, &user.display_name, &grant)
        .map_err(|e| e.shaped(Shape::Envelope))?;
    let mut out = json!({
        "success": true,
        "message": "LiveKit token generated successfully",
        "data": { "token": token, "url": state.cfg.livekit_url, "roomName": grant.room },
    });
    if let Some(key) = &session.e2ee_key {
        out["data"]["e2eeKey"] = json!(key);
    }
    Ok(Json(out))
}

// ---- seed 003: study groups ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Req003 {
    room_name: Option<String>,
    participant_name: Option<String>,
}

async fn token_003(
    State(state): State<AppState>,
    caller: Caller,
    b: Result<Json<Req003>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let shape = Shape::Envelope;
    let user = caller.in_shape(shape)?;
    let req = body(b, shape)?;
    let room = required(&req.room_name, "roomName", 255, shape)?;
    let name = match &req.participant_name {
        Some(_) => required(&req.participant_name, "participantName", 128, shape)?.to_owned(),
        None => user.display_name.clone(),
    };
    let group = sqlx::query("SELECT id, owner_user_id FROM study_groups WHERE room_name = $1")
        .bind(room)
        .fetch_optional(&state.db.pool)
        .await
        .map_err(|e| ApiError::from(e).shaped(shape))?
        .ok_or_else(|| {
            ApiError::not_found(format!("no study group uses room {room:?}")).shaped(shape)
        })?;
    let group_id: String = group.get("id");
    let owner: String = group.get("owner_user_id");
    let member = sqlx::query(
        "SELECT 1 AS one FROM study_group_members WHERE group_id = $1 AND user_id = $2",
    )
    .bind(&group_id)
    .bind(&user.id)
    .fetch_optional(&state.db.pool)
    .await
    .map_err(|e| ApiError::from(e).shaped(shape))?
    .is_some();
    if !(member || owner == user.id || user.role == "admin") {
        return Err(ApiError::forbidden("you are not a member of this study group").shaped(shape));
    }
    let grant = Grant {
        can_update_metadata: true,
        ..Grant::full(room, TWO_HOURS)
    };
    let token = lk::mint(&state.cfg, &user, &name, &grant).map_err(|e| e.shaped(shape))?;
    Ok(Json(json!({
        "success": true,
        "data": {
            "token": token,
            "serverUrl": state.cfg.livekit_url,
            "roomName": room,
            "identity": user.id,
            "participantName": name,
        },
    })))
}

/// Room management is for coaches and admins.
fn manager(caller: Caller) -> Result<User, ApiError> {
    let user = caller.in_shape(Shape::Envelope)?;
    if matches!(user.role.as_str(), "coach" | "trainer" | "admin") {
        Ok(user)
    } else {
        Err(
            ApiError::forbidden("room management is for coaches and admins")
                .shaped(Shape::Envelope),
        )
    }
}

fn client(state: &AppState) -> Result<livekit_api::services::room::RoomClient, ApiError> {
    lk::room_client(&state.cfg).ok_or_else(|| {
        ApiError::internal(
            "LiveKit service not configured (LIVEKIT_API_KEY / LIVEKIT_API_SECRET / LIVEKIT_URL)",
        )
        .shaped(Shape::Envelope)
    })
}

fn room_json(r: &livekit_protocol::Room) -> Value {
    json!({
        "sid": r.sid,
        "name": r.name,
        "emptyTimeout": r.empty_timeout,
        "maxParticipants": r.max_participants,
        "numParticipants": r.num_participants,
        "creationTime": r.creation_time,
    })
}

fn room_name(name: &str) -> Result<&str, ApiError> {
    let ok = !name.is_empty() && name.len() <= 255 && !name.chars().any(char::is_control);
    ok.then_some(name).ok_or_else(|| {
        ApiError::bad_request("room name must be 1–255 printable characters")
            .shaped(Shape::Envelope)
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRoom {
    name: Option<String>,
    empty_timeout: Option<u32>,
    max_participants: Option<u32>,
}

async fn create_room(
    State(state): State<AppState>,
    caller: Caller,
    b: Result<Json<CreateRoom>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    manager(caller)?;
    let req = body(b, Shape::Envelope)?;
    let name = room_name(required(&req.name, "name", 255, Shape::Envelope)?)?;
    let opts = livekit_api::services::room::CreateRoomOptions {
        empty_timeout: req.empty_timeout.unwrap_or(600).min(86_400),
        max_participants: req.max_participants.unwrap_or(0).min(10_000),
        ..Default::default()
    };
    let room = client(&state)?
        .create_room(name, opts)
        .await
        .map_err(lk::service_error)?;
    Ok(Json(json!({ "success": true, "data": room_json(&room) })))
}

async fn list_rooms(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    manager(caller)?;
    let rooms = client(&state)?
        .list_rooms(Vec::new())
        .await
        .map_err(lk::service_error)?;
    let list: Vec<Value> = rooms.iter().map(room_json).collect();
    Ok(Json(
        json!({ "success": true, "data": { "total": list.len(), "rooms": list } }),
    ))
}

async fn get_room(
    State(state): State<AppState>,
    caller: Caller,
    Path(room): Path<String>,
) -> Result<Json<Value>, ApiError> {
    manager(caller)?;
    let room = room_name(&room)?;
    let c = client(&state)?;
    let rooms = c
        .list_rooms(vec![room.to_owned()])
        .await
        .map_err(lk::service_error)?;
    let r = rooms.first().ok_or_else(|| {
        ApiError::not_found(format!("room {room:?} is not active")).shaped(Shape::Envelope)
    })?;
    let participants = c.list_participants(room).await.map_err(lk::service_error)?;
    let people: Vec<Value> = participants
        .iter()
        .map(|p| {
            json!({
                "sid": p.sid,
                "identity": p.identity,
                "name": p.name,
                "state": livekit_protocol::participant_info::State::try_from(p.state).map(|s| s.as_str_name()).unwrap_or("UNKNOWN"),
                "joinedAt": p.joined_at,
                "metadata": p.metadata,
            })
        })
        .collect();
    Ok(Json(
        json!({ "success": true, "data": { "room": room_json(r), "participants": people } }),
    ))
}

async fn delete_room(
    State(state): State<AppState>,
    caller: Caller,
    Path(room): Path<String>,
) -> Result<Json<Value>, ApiError> {
    manager(caller)?;
    let room = room_name(&room)?;
    client(&state)?
        .delete_room(room)
        .await
        .map_err(lk::service_error)?;
    Ok(Json(json!({
        "success": true,
        "message": format!("Room '{room}' has been deleted"),
        "data": { "roomName": room, "deletedAt": iso_ms_z(chrono::Utc::now()) },
    })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Remove {
    participant_identity: Option<String>,
}

async fn remove_participant(
    State(state): State<AppState>,
    caller: Caller,
    Path(room): Path<String>,
    b: Result<Json<Remove>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    manager(caller)?;
    let room = room_name(&room)?;
    let req = body(b, Shape::Envelope)?;
    let who = required(
        &req.participant_identity,
        "participantIdentity",
        255,
        Shape::Envelope,
    )?;
    client(&state)?
        .remove_participant(room, who)
        .await
        .map_err(lk::service_error)?;
    Ok(Json(json!({
        "success": true,
        "message": "Participant removed from room",
        "data": { "roomName": room, "participantIdentity": who, "removedAt": iso_ms_z(chrono::Utc::now()) },
    })))
}

async fn status(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    manager(caller)?;
    let c = &state.cfg;
    Ok(Json(json!({
        "success": true,
        "data": {
            "configured": c.livekit_configured(),
            "serverUrl": c.livekit_url,
            "hasApiKey": !c.livekit_api_key.is_empty(),
            "hasApiSecret": !c.livekit_api_secret.is_empty(),
            "hasServerUrl": !c.livekit_url.is_empty(),
        },
    })))
}

/// `GET /api/sessions`: the caller's sessions, soonest first.
async fn my_sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let user = caller.in_shape(Shape::Plain)?;
    let rows = sqlx::query(
        "SELECT s.id, s.scheduled_start, s.paid_minutes, s.session_type, s.mode, s.status, s.room_name, \
         cu.display_name AS coach_name, cl.display_name AS client_name \
         FROM sessions s JOIN coaches c ON c.id = s.coach_id JOIN users cu ON cu.id = c.user_id \
         JOIN users cl ON cl.id = s.client_user_id \
         WHERE c.user_id = $1 OR s.client_user_id = $1 ORDER BY s.scheduled_start LIMIT 200",
    )
    .bind(&user.id)
    .fetch_all(&state.db.pool)
    .await?;
    let sessions: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.get::<String, _>("id"),
                "scheduledStartTime": iso(r.get("scheduled_start")),
                "paidDurationMinutes": r.get::<i64, _>("paid_minutes"),
                "sessionType": r.get::<String, _>("session_type"),
                "mode": r.get::<String, _>("mode"),
                "status": r.get::<String, _>("status"),
                "roomName": r.get::<String, _>("room_name"),
                "coachName": r.get::<String, _>("coach_name"),
                "clientName": r.get::<String, _>("client_name"),
            })
        })
        .collect();
    Ok(Json(json!({ "sessions": sessions })))
}
