//! Who is calling: bearer JWT → user; and `POST /api/auth/login`.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row as _;

use crate::AppState;
use crate::db;
use crate::error::{ApiError, Shape};
use crate::jwt::{self, UserClaims};
use crate::model::{self, User};

/// An authenticated caller. Rejections are answered in the plain shape;
/// routes re-shape them with [`Caller::in_shape`].
#[derive(Debug, Clone)]
pub struct Caller(pub Result<User, ApiError>);

impl Caller {
    /// The user, or the auth error in the route's error shape.
    pub fn in_shape(self, shape: Shape) -> Result<User, ApiError> {
        self.0.map_err(|e| e.shaped(shape))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Caller(authenticate(parts, state).await))
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<User, ApiError> {
    authenticate_claims(parts, state).await.map(|(u, _)| u)
}

/// The caller and the claims of its bearer token.
pub(crate) async fn authenticate_claims(
    parts: &Parts,
    state: &AppState,
) -> Result<(User, UserClaims), ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized("authentication required: send Authorization: Bearer <token>")
        })?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
        })?;
    let claims = jwt::verify(
        &state.cfg.jwt_secret,
        &state.cfg.jwt_audience,
        token,
        db::now(),
    )
    .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let user = model::user_by_id(&state.db, &claims.sub)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the bearer token's user does not exist"))?;
    Ok((user, claims))
}

/// Hashes a password with Argon2id.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|_| ApiError::internal("could not make a salt"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ApiError::internal("could not hash the password"))
}

/// Issues a user JWT like Supabase's, valid for an hour.
pub fn issue_user_jwt(secret: &str, audience: &str, user: &User) -> String {
    issue_session_jwt(secret, audience, user, None, db::now())
}

/// A user JWT for sign-in session `session_id`, issued at `now`.
pub fn issue_session_jwt(
    secret: &str,
    audience: &str,
    user: &User,
    session_id: Option<&str>,
    now: i64,
) -> String {
    jwt::sign(
        secret,
        &UserClaims {
            sub: user.id.clone(),
            exp: now + 3600,
            aud: Value::String(audience.to_owned()),
            iat: now,
            email: Some(user.email.clone()),
            role: Some("authenticated".into()),
            session_id: session_id.map(str::to_owned),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct Login {
    email: String,
    password: String,
}

/// Checks an email and password; the user, or `None` when either is wrong
/// (the same time spent either way, so timing does not reveal accounts).
pub(crate) async fn check_password(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<Option<User>, ApiError> {
    let row = sqlx::query("SELECT id, password_hash FROM users WHERE email = $1")
        .bind(email.trim().to_lowercase())
        .fetch_optional(&state.db.pool)
        .await?;
    let Some(row) = row else {
        let _ = hash_password(password);
        return Ok(None);
    };
    let id: String = row.get("id");
    let hash: Option<String> = row.get("password_hash");
    let ok = hash
        .as_deref()
        .and_then(|h| PasswordHash::new(h).ok())
        .is_some_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
    if !ok {
        return Ok(None);
    }
    model::user_by_id(&state.db, &id).await
}

/// `POST /api/auth/login {email, password}` → `{access_token, token_type, expires_in, user}`.
pub async fn login(
    State(state): State<AppState>,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| crate::error::rejection(e, Shape::Plain))?;
    if body.email.len() > 320 || body.password.len() > 1024 {
        return Err(ApiError::bad_request("email or password too long"));
    }
    let user = check_password(&state, &body.email, &body.password)
        .await?
        .ok_or_else(|| ApiError::unauthorized("wrong email or password"))?;
    let token = issue_user_jwt(&state.cfg.jwt_secret, &state.cfg.jwt_audience, &user);
    tracing::info!(user = %user.id, "signed in");
    Ok(Json(json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": 3600,
        "user": { "id": user.id, "email": user.email, "displayName": user.display_name, "role": user.role },
    })))
}
