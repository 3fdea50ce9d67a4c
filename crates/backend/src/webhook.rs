//! `POST /api/livekit/webhook`: LiveKit's signed room events become session
//! events; the first join starts a session, the room finishing completes it.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use livekit_api::access_token::TokenVerifier;
use livekit_api::webhooks::WebhookReceiver;
use serde_json::{Value, json};

use crate::AppState;
use crate::db;
use crate::error::ApiError;
use crate::model;

pub(crate) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Value>, ApiError> {
    if !state.cfg.livekit_configured() {
        return Err(ApiError::internal(
            "LiveKit is not configured; webhooks cannot be verified",
        ));
    }
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("webhook without an Authorization header"))?;
    let receiver = WebhookReceiver::new(TokenVerifier::with_api_key(
        &state.cfg.livekit_api_key,
        &state.cfg.livekit_api_secret,
    ));
    let event = receiver
        .receive(&body, auth.trim_start_matches("Bearer "))
        .map_err(|e| {
            tracing::warn!("webhook refused: {e}");
            ApiError::unauthorized("webhook signature or body did not verify")
        })?;
    let Some(room) = event.room.as_ref().map(|r| r.name.clone()) else {
        return Ok(Json(json!({ "ok": true, "recorded": false })));
    };
    let Some(session) = model::session_by_room(&state.db, &room).await? else {
        // Rooms that are not sessions (study groups, shows) are not tracked.
        return Ok(Json(json!({ "ok": true, "recorded": false })));
    };
    let at = if event.created_at > 0 {
        event.created_at
    } else {
        db::now()
    };
    let who = event.participant.as_ref().map(|p| p.identity.clone());
    let mut tx = state.db.pool.begin().await?;
    let recorded = match event.event.as_str() {
        "participant_joined" => {
            model::add_event(&mut *tx, &session.id, "join", who.as_deref(), at, "livekit").await?;
            sqlx::query("UPDATE sessions SET status = 'in_progress', started_at = $1 WHERE id = $2 AND status = 'scheduled'")
                .bind(at)
                .bind(&session.id)
                .execute(&mut *tx)
                .await?;
            true
        }
        "participant_left" => {
            model::add_event(
                &mut *tx,
                &session.id,
                "leave",
                who.as_deref(),
                at,
                "livekit",
            )
            .await?;
            true
        }
        "room_finished" => {
            let done = sqlx::query(
                "UPDATE sessions SET status = 'completed', ended_at = $1, \
                 duration_seconds = $1 - COALESCE(started_at, $1), end_reason = 'room_finished' \
                 WHERE id = $2 AND status = 'in_progress'",
            )
            .bind(at)
            .bind(&session.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done > 0 {
                model::add_event(&mut *tx, &session.id, "end", None, at, "room_finished").await?;
            }
            done > 0
        }
        _ => false,
    };
    tx.commit().await?;
    tracing::info!(event = %event.event, room = %room, recorded, "webhook");
    Ok(Json(json!({ "ok": true, "recorded": recorded })))
}
