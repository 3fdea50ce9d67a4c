//! What every seed's handlers share: bodies read in the seed's error shape,
//! bounded required fields, sessions looked up, times written as the seeds
//! write them.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;

use crate::AppState;
use crate::error::{ApiError, Shape, rejection};
use crate::model::{self, Session};

pub(super) const TWO_HOURS: Duration = Duration::from_secs(2 * 3600);
pub(super) const ONE_HOUR: Duration = Duration::from_secs(3600);

pub(super) fn body<T>(b: Result<Json<T>, JsonRejection>, shape: Shape) -> Result<T, ApiError> {
    b.map(|Json(t)| t).map_err(|e| rejection(e, shape))
}

pub(super) fn iso(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

pub(super) fn iso_ms_z(ts: chrono::DateTime<chrono::Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A required, bounded text field.
pub(super) fn required<'a>(
    v: &'a Option<String>,
    name: &str,
    max: usize,
    shape: Shape,
) -> Result<&'a str, ApiError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Err(ApiError::bad_request(format!("{name} is required")).shaped(shape)),
        Some(s) if s.len() > max => {
            Err(ApiError::bad_request(format!("{name} is longer than {max} bytes")).shaped(shape))
        }
        Some(s) if s.chars().any(char::is_control) => {
            Err(ApiError::bad_request(format!("{name} contains control characters")).shaped(shape))
        }
        Some(s) => Ok(s),
    }
}

pub(super) async fn session_for(
    state: &AppState,
    id: &str,
    shape: Shape,
) -> Result<Session, ApiError> {
    let missing = || ApiError::not_found("session not found").shaped(shape);
    if !model::plausible_id(id) {
        return Err(missing());
    }
    model::session_by_id(&state.db, id)
        .await
        .map_err(|e| e.shaped(shape))?
        .ok_or_else(missing)
}
