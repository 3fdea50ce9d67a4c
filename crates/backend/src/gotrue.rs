//! Supabase Auth's (GoTrue's) sign-in endpoints, so a platform built on
//! Supabase can be stood in for end to end: `POST /auth/v1/token` with
//! `grant_type=password` or `refresh_token`, and `POST /auth/v1/logout`.
//! Answers and errors take GoTrue's shapes (`{access_token, token_type,
//! expires_in, expires_at, refresh_token, user}`; `{code, error_code, msg}`).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row as _;

use crate::AppState;
use crate::auth::{check_password, issue_session_jwt};
use crate::db;
use crate::model::{self, User};

/// Access tokens last an hour, as Supabase's do by default.
const ACCESS_SECS: i64 = 3600;

/// A GoTrue error answer.
#[derive(Debug)]
pub(crate) struct AuthError {
    status: StatusCode,
    code: &'static str,
    msg: String,
}

impl AuthError {
    fn new(status: StatusCode, code: &'static str, msg: impl Into<String>) -> Self {
        Self {
            status,
            code,
            msg: msg.into(),
        }
    }
}

impl From<crate::error::ApiError> for AuthError {
    fn from(e: crate::error::ApiError) -> Self {
        AuthError::new(e.status, "unexpected_failure", e.message)
    }
}

impl From<sqlx::Error> for AuthError {
    fn from(e: sqlx::Error) -> Self {
        crate::error::ApiError::from(e).into()
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "code": self.status.as_u16(), "error_code": self.code, "msg": self.msg })),
        )
            .into_response()
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Grant {
    grant_type: Option<String>,
}

/// Supabase's gateway refuses requests without the project's key.
fn check_apikey(state: &AppState, headers: &HeaderMap) -> Result<(), AuthError> {
    let key = headers
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() {
        return Err(AuthError::new(
            StatusCode::UNAUTHORIZED,
            "no_api_key",
            "No API key found in request",
        ));
    }
    let want = &state.cfg.supabase_anon_key;
    if !want.is_empty() && key != want {
        return Err(AuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "Invalid API key",
        ));
    }
    Ok(())
}

/// `POST /auth/v1/token?grant_type=password|refresh_token`.
pub(crate) async fn token(
    State(state): State<AppState>,
    Query(q): Query<Grant>,
    headers: HeaderMap,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, AuthError> {
    check_apikey(&state, &headers)?;
    let Json(body) = body.map_err(|e| {
        AuthError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("Could not parse request body as JSON: {e}"),
        )
    })?;
    let field = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    match q.grant_type.as_deref() {
        Some("password") => {
            let (email, password) = (field("email"), field("password"));
            if email.is_empty() || password.is_empty() || email.len() > 320 || password.len() > 1024
            {
                return Err(AuthError::new(
                    StatusCode::BAD_REQUEST,
                    "validation_failed",
                    "An email address and a password are required",
                ));
            }
            let user = check_password(&state, &email, &password)
                .await?
                .ok_or_else(|| {
                    AuthError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_credentials",
                        "Invalid login credentials",
                    )
                })?;
            let session_id = db::new_id();
            tracing::info!(user = %user.id, "signed in (password grant)");
            Ok(Json(issue(&state, &user, &session_id).await?))
        }
        Some("refresh_token") => {
            let presented = field("refresh_token");
            if presented.is_empty() || presented.len() > 512 {
                return Err(AuthError::new(
                    StatusCode::BAD_REQUEST,
                    "validation_failed",
                    "A refresh_token is required",
                ));
            }
            let hash = hash_token(&presented);
            let row = sqlx::query(
                "SELECT user_id, session_id, revoked FROM auth_refresh_tokens WHERE token_hash = $1",
            )
            .bind(&hash)
            .fetch_optional(&state.db.pool)
            .await?;
            let Some(row) = row else {
                return Err(AuthError::new(
                    StatusCode::BAD_REQUEST,
                    "refresh_token_not_found",
                    "Invalid Refresh Token: Refresh Token Not Found",
                ));
            };
            let (user_id, session_id, revoked): (String, String, i64) = (
                row.get("user_id"),
                row.get("session_id"),
                row.get("revoked"),
            );
            if revoked != 0 {
                // A used token presented again may be a stolen copy: the
                // whole session ends.
                revoke_session(&state, &session_id).await?;
                return Err(AuthError::new(
                    StatusCode::BAD_REQUEST,
                    "refresh_token_already_used",
                    "Invalid Refresh Token: Already Used",
                ));
            }
            let used = sqlx::query(
                "UPDATE auth_refresh_tokens SET revoked = 1 WHERE token_hash = $1 AND revoked = 0",
            )
            .bind(&hash)
            .execute(&state.db.pool)
            .await?;
            if used.rows_affected() != 1 {
                return Err(AuthError::new(
                    StatusCode::BAD_REQUEST,
                    "refresh_token_already_used",
                    "Invalid Refresh Token: Already Used",
                ));
            }
            let user = model::user_by_id(&state.db, &user_id)
                .await?
                .ok_or_else(|| {
                    AuthError::new(StatusCode::BAD_REQUEST, "user_not_found", "User not found")
                })?;
            Ok(Json(issue(&state, &user, &session_id).await?))
        }
        other => Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            format!(
                "unsupported grant_type {:?}: use password or refresh_token",
                other
                    .unwrap_or_default()
                    .chars()
                    .take(40)
                    .collect::<String>()
            ),
        )),
    }
}

/// `POST /auth/v1/logout`: revokes the caller's session (204).
pub(crate) async fn logout(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    let (parts, _) = req.into_parts();
    if let Err(e) = check_apikey(&state, &parts.headers) {
        return e.into_response();
    }
    match crate::auth::authenticate_claims(&parts, &state).await {
        Ok((user, claims)) => {
            if let Some(sid) = claims.session_id
                && let Err(e) = revoke_session(&state, &sid).await
            {
                return e.into_response();
            }
            tracing::info!(user = %user.id, "signed out");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => AuthError::new(StatusCode::UNAUTHORIZED, "bad_jwt", e.message).into_response(),
    }
}

async fn revoke_session(state: &AppState, session_id: &str) -> Result<(), AuthError> {
    sqlx::query("UPDATE auth_refresh_tokens SET revoked = 1 WHERE session_id = $1")
        .bind(session_id)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

fn hash_token(t: &str) -> String {
    Sha256::digest(t.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new access token and a new refresh token for the session.
async fn issue(state: &AppState, user: &User, session_id: &str) -> Result<Value, AuthError> {
    let now = db::now();
    let refresh: String = rand::random::<[u8; 24]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    sqlx::query(
        "INSERT INTO auth_refresh_tokens (token_hash, user_id, session_id, revoked, created_at) VALUES ($1, $2, $3, 0, $4)",
    )
    .bind(hash_token(&refresh))
    .bind(&user.id)
    .bind(session_id)
    .bind(now)
    .execute(&state.db.pool)
    .await?;
    let access = issue_session_jwt(
        &state.cfg.jwt_secret,
        &state.cfg.jwt_audience,
        user,
        Some(session_id),
        now,
    );
    Ok(json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": ACCESS_SECS,
        "expires_at": now + ACCESS_SECS,
        "refresh_token": refresh,
        "user": { "id": user.id, "aud": state.cfg.jwt_audience, "role": "authenticated", "email": user.email },
    }))
}
