//! Seed 004: sessions reached by join links (`validate`, `join`, `end`, and
//! the LiveKit token only tandem-backend has).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row as _;

use super::common::{body, iso, required, session_for};
use crate::AppState;
use crate::auth::Caller;
use crate::db;
use crate::error::{ApiError, Shape};
use crate::lk::{self, Grant};
use crate::model::{self, Session, Side, User};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LinkReq {
    token: Option<String>,
}

/// A valid, unexpired join link with its session and user.
struct Link {
    session: Session,
    user: User,
    participant_type: String,
}

async fn link(state: &AppState, token: &str, shape: Shape) -> Result<Link, ApiError> {
    let unknown = || ApiError::not_found("this session link is not valid").shaped(shape);
    if token.len() > 128
        || !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(unknown());
    }
    let row = sqlx::query("SELECT session_id, user_id, participant_type, valid_until FROM session_links WHERE token = $1")
        .bind(token)
        .fetch_optional(&state.db.pool)
        .await
        .map_err(|e| ApiError::from(e).shaped(shape))?
        .ok_or_else(unknown)?;
    let valid_until: i64 = row.get("valid_until");
    if valid_until < db::now() {
        return Err(ApiError::new(
            axum::http::StatusCode::GONE,
            "this session link has expired",
        )
        .shaped(shape));
    }
    let session_id: String = row.get("session_id");
    let user_id: String = row.get("user_id");
    let session = session_for(state, &session_id, shape).await?;
    let user = model::user_by_id(&state.db, &user_id)
        .await
        .map_err(|e| e.shaped(shape))?
        .ok_or_else(unknown)?;
    Ok(Link {
        session,
        user,
        participant_type: row.get("participant_type"),
    })
}

pub(super) async fn validate_004(
    State(state): State<AppState>,
    b: Result<Json<LinkReq>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let req = body(b, Shape::Validate)?;
    let token = required(&req.token, "token", 128, Shape::Validate)?;
    let l = link(&state, token, Shape::Validate).await?;
    let other_id = if l.participant_type == "user" {
        &l.session.coach_user_id
    } else {
        &l.session.client_user_id
    };
    let other = model::user_by_id(&state.db, other_id)
        .await
        .map_err(|e| e.shaped(Shape::Validate))?;
    Ok(Json(json!({
        "valid": true,
        "sessionId": l.session.id,
        "roomId": l.session.room_name,
        "sessionType": l.session.session_type,
        "participantType": l.participant_type,
        "participantId": l.user.id,
        "otherParticipantName": other.map(|u| u.display_name).unwrap_or_default(),
        "paidDurationMinutes": l.session.paid_minutes,
        "status": l.session.status,
        "scheduledStartTime": iso(l.session.scheduled_start),
    })))
}

/// What a session type lets a participant send.
pub(crate) fn grant_004(session: &Session) -> Grant {
    let ttl = Duration::from_secs((session.paid_minutes.clamp(1, 600) as u64 + 30) * 60);
    let mut g = Grant::full(&session.room_name, ttl);
    match session.session_type.as_str() {
        "chat" => g.can_publish = false,
        "voice" => g.sources = vec!["microphone".into()],
        _ => g.sources = vec!["camera".into(), "microphone".into()],
    }
    g
}

fn joinable(session: &Session, shape: Shape) -> Result<(), ApiError> {
    match session.status.as_str() {
        "cancelled" => Err(ApiError::bad_request("this session is cancelled").shaped(shape)),
        "completed" => Err(ApiError::bad_request("this session has ended").shaped(shape)),
        _ => Ok(()),
    }
}

pub(super) async fn token_004(
    State(state): State<AppState>,
    b: Result<Json<LinkReq>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let shape = Shape::Envelope;
    let req = body(b, shape)?;
    let token = required(&req.token, "token", 128, shape)?;
    let l = link(&state, token, shape).await?;
    joinable(&l.session, shape)?;
    let grant = grant_004(&l.session);
    let lk_token =
        lk::mint(&state.cfg, &l.user, &l.user.display_name, &grant).map_err(|e| e.shaped(shape))?;
    let mut out = json!({
        "success": true,
        "token": lk_token,
        "serverUrl": state.cfg.livekit_url,
        "roomName": grant.room,
        "identity": l.user.id,
        "sessionType": l.session.session_type,
    });
    if let Some(key) = &l.session.e2ee_key {
        out["e2eeKey"] = json!(key);
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JoinEnd {
    session_id: Option<String>,
    participant_type: Option<String>,
    reason: Option<String>,
    /// The join link's token, for callers without a user JWT (older
    /// Tandem clients sent it here; it also comes as a bearer credential).
    token: Option<String>,
}

/// A join link's token presented as `Authorization: Bearer <link>` (link
/// tokens are not JWTs), as Tandem sends it beside the documented body.
fn link_bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let t = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))?
        .trim();
    (!t.is_empty() && !t.contains('.') && t.len() <= 128).then(|| t.to_owned())
}

/// The caller (by link token or bearer JWT) and its side of the session.
async fn participant(
    state: &AppState,
    caller: Caller,
    headers: &axum::http::HeaderMap,
    req: &JoinEnd,
) -> Result<(User, Session, Side), ApiError> {
    let shape = Shape::Envelope;
    let sid = required(&req.session_id, "sessionId", 64, shape)?;
    let link_token = req.token.clone().or_else(|| link_bearer(headers));
    let (user, session) = match &link_token {
        Some(t) => {
            let l = link(state, t, shape).await?;
            if l.session.id != sid {
                return Err(ApiError::forbidden("this link is for another session").shaped(shape));
            }
            (l.user, l.session)
        }
        None => (
            caller.in_shape(shape)?,
            session_for(state, sid, shape).await?,
        ),
    };
    let side = session.side_of(&user.id).ok_or_else(|| {
        ApiError::forbidden("you are not a participant of this session").shaped(shape)
    })?;
    if let Some(pt) = &req.participant_type {
        let claimed = match pt.as_str() {
            "user" => Side::Client,
            "astrologer" | "coach" => Side::Coach,
            _ => {
                return Err(ApiError::bad_request(
                    "participantType must be \"user\" or \"astrologer\"",
                )
                .shaped(shape));
            }
        };
        if claimed != side {
            return Err(ApiError::forbidden(
                "participantType does not match your side of the session",
            )
            .shaped(shape));
        }
    }
    Ok((user, session, side))
}

pub(super) async fn join_004(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    b: Result<Json<JoinEnd>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let shape = Shape::Envelope;
    let req = body(b, shape)?;
    let (user, session, _) = participant(&state, caller, &headers, &req).await?;
    joinable(&session, shape)?;
    let now = db::now();
    let mut tx = state
        .db
        .pool
        .begin()
        .await
        .map_err(|e| ApiError::from(e).shaped(shape))?;
    model::add_event(&mut *tx, &session.id, "join", Some(&user.id), now, "api")
        .await
        .map_err(|e| ApiError::from(e).shaped(shape))?;
    let joined: i64 = sqlx::query("SELECT COUNT(DISTINCT user_id) AS n FROM session_events WHERE session_id = $1 AND kind = 'join' AND user_id IN ($2, $3)")
        .bind(&session.id)
        .bind(&session.coach_user_id)
        .bind(&session.client_user_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| ApiError::from(e).shaped(shape))?
        .get("n");
    let both = joined >= 2;
    if both && session.status == "scheduled" {
        sqlx::query("UPDATE sessions SET status = 'in_progress', started_at = $1 WHERE id = $2 AND status = 'scheduled'")
            .bind(now)
            .bind(&session.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| ApiError::from(e).shaped(shape))?;
    }
    tx.commit()
        .await
        .map_err(|e| ApiError::from(e).shaped(shape))?;
    Ok(Json(json!({
        "success": true,
        "sessionActive": both || session.status == "in_progress",
        "bothJoined": both,
        "message": if both { "Session started" } else { "Waiting for the other participant" },
    })))
}

pub(super) async fn end_004(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    b: Result<Json<JoinEnd>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let shape = Shape::Envelope;
    let req = body(b, shape)?;
    let reason = match &req.reason {
        Some(_) => required(&req.reason, "reason", 64, shape)?.to_owned(),
        None => "completed".to_owned(),
    };
    let (user, session, _) = participant(&state, caller, &headers, &req).await?;
    joinable(&session, shape)?;
    let now = db::now();
    let duration = session.started_at.map_or(0, |s| (now - s).max(0));
    let new_status = if session.started_at.is_none() && reason == "cancelled" {
        "cancelled"
    } else {
        "completed"
    };
    let mut tx = state
        .db
        .pool
        .begin()
        .await
        .map_err(|e| ApiError::from(e).shaped(shape))?;
    let updated = sqlx::query(
        "UPDATE sessions SET status = $1, ended_at = $2, duration_seconds = $3, end_reason = $4 \
         WHERE id = $5 AND status IN ('scheduled', 'in_progress')",
    )
    .bind(new_status)
    .bind(now)
    .bind(duration)
    .bind(&reason)
    .bind(&session.id)
    .execute(&mut *tx)
    .await
    .map_err(|e| ApiError::from(e).shaped(shape))?
    .rows_affected();
    if updated == 0 {
        return Err(ApiError::bad_request("this session has already ended").shaped(shape));
    }
    model::add_event(&mut *tx, &session.id, "end", Some(&user.id), now, &reason)
        .await
        .map_err(|e| ApiError::from(e).shaped(shape))?;
    tx.commit()
        .await
        .map_err(|e| ApiError::from(e).shaped(shape))?;
    Ok(Json(json!({
        "success": true,
        "durationSeconds": duration,
        "amountReleased": "0.00",
        "message": "Session ended",
    })))
}
