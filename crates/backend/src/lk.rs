//! LiveKit access tokens, minted with `livekit-api`, and the room service client.

use std::time::Duration;

use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_api::services::room::RoomClient;
use serde_json::json;

use crate::config::Config;
use crate::error::ApiError;
use crate::model::User;

/// What a token lets its holder do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub room: String,
    pub can_publish: bool,
    pub can_subscribe: bool,
    pub can_publish_data: bool,
    pub can_update_metadata: bool,
    /// Empty: any source. Otherwise e.g. ["microphone"] for a voice session.
    pub sources: Vec<String>,
    pub ttl: Duration,
}

impl Grant {
    /// Publish, subscribe and data in `room` for `ttl`.
    pub fn full(room: &str, ttl: Duration) -> Self {
        Self {
            room: room.to_owned(),
            can_publish: true,
            can_subscribe: true,
            can_publish_data: true,
            can_update_metadata: false,
            sources: Vec::new(),
            ttl,
        }
    }
}

/// Mints a token: identity = user id, name = display name, metadata = role and user id.
pub fn mint(
    cfg: &Config,
    user: &User,
    display_name: &str,
    grant: &Grant,
) -> Result<String, ApiError> {
    if !cfg.livekit_configured() {
        return Err(ApiError::internal(
            "LiveKit is not configured on this server (LIVEKIT_API_KEY / LIVEKIT_API_SECRET)",
        ));
    }
    let metadata = json!({ "role": user.role, "userId": user.id }).to_string();
    AccessToken::with_api_key(&cfg.livekit_api_key, &cfg.livekit_api_secret)
        .with_identity(&user.id)
        .with_name(display_name)
        .with_metadata(&metadata)
        .with_ttl(grant.ttl)
        .with_grants(VideoGrants {
            room_join: true,
            room: grant.room.clone(),
            can_publish: Some(grant.can_publish),
            can_subscribe: Some(grant.can_subscribe),
            can_publish_data: Some(grant.can_publish_data),
            can_update_own_metadata: Some(grant.can_update_metadata),
            can_publish_sources: grant.sources.clone(),
            ..Default::default()
        })
        .to_jwt()
        .map_err(|e| {
            tracing::error!("token signing failed: {e}");
            ApiError::internal("could not sign the LiveKit token")
        })
}

/// The RoomService client for the configured server (http(s) form of its URL).
pub fn room_client(cfg: &Config) -> Option<RoomClient> {
    if !cfg.livekit_configured() {
        return None;
    }
    let host = cfg
        .livekit_url
        .replacen("wss://", "https://", 1)
        .replacen("ws://", "http://", 1);
    Some(RoomClient::with_api_key(
        &host,
        &cfg.livekit_api_key,
        &cfg.livekit_api_secret,
    ))
}

/// Maps a RoomService failure to an answer.
pub fn service_error(e: livekit_api::services::ServiceError) -> ApiError {
    let text = e.to_string();
    if text.contains("not_found") || text.contains("does not exist") || text.contains("not in room")
    {
        ApiError::not_found(text).shaped(crate::error::Shape::Envelope)
    } else {
        tracing::warn!("LiveKit room service: {text}");
        ApiError::new(
            axum::http::StatusCode::BAD_GATEWAY,
            format!("the LiveKit server refused or is unreachable: {text}"),
        )
        .shaped(crate::error::Shape::Envelope)
    }
}
