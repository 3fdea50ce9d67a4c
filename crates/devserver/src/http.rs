//! HTTP routes: signaling WebSocket, validation, Twirp RoomService, CORS.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use livekit_api::access_token::Claims;

use crate::auth::{AuthError, Keys, token_from};
use crate::config::Config;
use crate::sfu::{Command, JoinError, JoinRequest, ServiceCall, ServiceError, SfuHandle};
use crate::signal;

/// Largest signal message accepted from a client.
pub(crate) const MAX_SIGNAL_MESSAGE: usize = 1024 * 1024;
/// Largest Twirp request body.
const MAX_TWIRP_BODY: usize = 1024 * 1024;

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) cfg: Arc<Config>,
    pub(crate) keys: Keys,
    pub(crate) sfu: SfuHandle,
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { "OK" }))
        .route("/rtc", get(rtc).options(not_found))
        .route("/rtc/validate", get(validate).options(not_found))
        // The single-peer-connection protocol is not offered; SDKs fall back to /rtc.
        .route("/rtc/v1", any(not_found))
        .route("/rtc/v1/validate", any(not_found))
        .route(
            "/twirp/livekit.RoomService/{method}",
            post(twirp).options(not_found),
        )
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_TWIRP_BODY))
        .layer(axum::middleware::map_response(cors))
        .with_state(state)
}

async fn not_found(method: Method) -> Response {
    if method == Method::OPTIONS {
        return StatusCode::NO_CONTENT.into_response();
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}

async fn cors(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, twirp-version"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    res
}

/// What the join query carries that the server uses.
struct JoinParams {
    claims: Claims,
    auto_subscribe: bool,
    client_protocol: i32,
    reconnect: bool,
}

fn text(status: u16, msg: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, msg.into()).into_response()
}

/// Checks the token and its join grant; the error is the answer to send.
fn join_params(
    state: &AppState,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
) -> Result<JoinParams, Box<Response>> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = token_from(auth, q.get("access_token").map(String::as_str)).ok_or_else(|| {
        tracing::info!("join refused: {}", AuthError::Missing);
        Box::new(text(401, AuthError::Missing.to_string()))
    })?;
    let claims = state.keys.verify(&token).map_err(|e| {
        tracing::info!("join refused: {e}");
        Box::new(text(e.status(), e.to_string()))
    })?;
    if !claims.video.room_join {
        let e = AuthError::Forbidden("token lacks the roomJoin grant".into());
        tracing::info!(identity = %claims.sub, "join refused: {e}");
        return Err(Box::new(text(403, e.to_string())));
    }
    if claims.video.room.is_empty() || claims.video.room.len() > 256 {
        return Err(Box::new(text(
            400,
            "token names no room (or a name over 256 bytes)",
        )));
    }
    if claims.sub.is_empty() || claims.sub.len() > 256 {
        return Err(Box::new(text(
            400,
            "token has no identity (or one over 256 bytes)",
        )));
    }
    let flag = |k: &str, default: bool| match q.get(k).map(String::as_str) {
        Some("1" | "true") => true,
        Some("0" | "false") => false,
        _ => default,
    };
    Ok(JoinParams {
        claims,
        auto_subscribe: flag("auto_subscribe", true),
        client_protocol: q
            .get("client_protocol")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        reconnect: flag("reconnect", false),
    })
}

fn join_error(e: &JoinError) -> Response {
    match e {
        JoinError::RoomFull(_) => text(403, e.to_string()),
        JoinError::ShuttingDown => text(503, e.to_string()),
        JoinError::Media(_) => text(500, e.to_string()),
    }
}

async fn validate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let params = match join_params(&state, &headers, &q) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let room = params.claims.video.room.clone();
    match state.sfu.call(|tx| Command::CanJoin(room, tx)).await {
        Some(Ok(())) => (StatusCode::OK, "success").into_response(),
        Some(Err(e)) => join_error(&e),
        None => join_error(&JoinError::ShuttingDown),
    }
}

async fn rtc(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let params = match join_params(&state, &headers, &q) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if !params.reconnect {
        let room = params.claims.video.room.clone();
        match state.sfu.call(|tx| Command::CanJoin(room, tx)).await {
            Some(Ok(())) => {}
            Some(Err(e)) => return join_error(&e),
            None => return join_error(&JoinError::ShuttingDown),
        }
    }
    let req = JoinRequest {
        claims: params.claims,
        auto_subscribe: params.auto_subscribe,
        client_protocol: params.client_protocol,
    };
    let reconnect = params.reconnect;
    ws.max_message_size(MAX_SIGNAL_MESSAGE)
        .on_upgrade(move |socket| signal::serve(socket, state, req, reconnect))
}

fn twirp_error(status: StatusCode, e: &ServiceError) -> Response {
    let body = serde_json::json!({ "code": e.code, "msg": e.msg });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn twirp_status(code: &str) -> StatusCode {
    match code {
        "not_found" | "bad_route" => StatusCode::NOT_FOUND,
        "invalid_argument" | "malformed" => StatusCode::BAD_REQUEST,
        "unauthenticated" => StatusCode::UNAUTHORIZED,
        "permission_denied" => StatusCode::FORBIDDEN,
        "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn decode<M: prost::Message + Default + serde::de::DeserializeOwned>(
    json: bool,
    body: &[u8],
) -> Result<M, ServiceError> {
    let malformed = |e: String| ServiceError {
        code: "malformed",
        msg: format!("request body could not be decoded: {e}"),
    };
    if json {
        let body = if body.is_empty() {
            b"{}".as_slice()
        } else {
            body
        };
        serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))
    } else {
        M::decode(body).map_err(|e| malformed(e.to_string()))
    }
}

/// Which grant each method needs, and the room it is about.
fn authorize(claims: &Claims, call: &ServiceCall) -> Result<(), ServiceError> {
    let deny = |what: &str| ServiceError {
        code: "permission_denied",
        msg: format!("token lacks the {what} grant"),
    };
    let room = match call {
        ServiceCall::CreateRoom(_) => {
            return if claims.video.room_create {
                Ok(())
            } else {
                Err(deny("roomCreate"))
            };
        }
        ServiceCall::ListRooms(_) => {
            return if claims.video.room_list {
                Ok(())
            } else {
                Err(deny("roomList"))
            };
        }
        // Deleting a room takes roomCreate, as in livekit-server.
        ServiceCall::DeleteRoom(_) => {
            return if claims.video.room_create {
                Ok(())
            } else {
                Err(deny("roomCreate"))
            };
        }
        ServiceCall::ListParticipants(r) => &r.room,
        ServiceCall::GetParticipant(r) | ServiceCall::RemoveParticipant(r) => &r.room,
        ServiceCall::MutePublishedTrack(r) => &r.room,
        ServiceCall::UpdateParticipant(r) => &r.room,
        ServiceCall::SendData(r) => &r.room,
    };
    if claims.video.room_admin && claims.video.room == *room {
        Ok(())
    } else {
        Err(deny(&format!("roomAdmin for room {room:?}")))
    }
}

async fn twirp(
    State(state): State<AppState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let json = content_type.starts_with("application/json");
    if !json && !content_type.starts_with("application/protobuf") {
        return twirp_error(
            StatusCode::BAD_REQUEST,
            &ServiceError {
                code: "bad_route",
                msg: format!(
                    "unexpected Content-Type {content_type:?}: use application/protobuf or application/json"
                ),
            },
        );
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let claims = match token_from(auth, None)
        .ok_or(AuthError::Missing)
        .and_then(|t| state.keys.verify(&t))
    {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(method, "RoomService refused: {e}");
            return twirp_error(
                StatusCode::UNAUTHORIZED,
                &ServiceError {
                    code: "unauthenticated",
                    msg: e.to_string(),
                },
            );
        }
    };
    let call = match method.as_str() {
        "CreateRoom" => decode(json, &body).map(ServiceCall::CreateRoom),
        "ListRooms" => decode(json, &body).map(ServiceCall::ListRooms),
        "DeleteRoom" => decode(json, &body).map(ServiceCall::DeleteRoom),
        "ListParticipants" => decode(json, &body).map(ServiceCall::ListParticipants),
        "GetParticipant" => decode(json, &body).map(ServiceCall::GetParticipant),
        "RemoveParticipant" => decode(json, &body).map(ServiceCall::RemoveParticipant),
        "MutePublishedTrack" => decode(json, &body).map(ServiceCall::MutePublishedTrack),
        "UpdateParticipant" => decode(json, &body).map(ServiceCall::UpdateParticipant),
        "SendData" => decode(json, &body).map(ServiceCall::SendData),
        _ => Err(ServiceError {
            code: "bad_route",
            msg: format!("no RoomService method {method:?}"),
        }),
    };
    let call = match call.and_then(|c| authorize(&claims, &c).map(|()| c)) {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(method, "RoomService refused: {}", e.msg);
            return twirp_error(twirp_status(e.code), &e);
        }
    };
    match state
        .sfu
        .call(|tx| Command::Service(Box::new(call), tx))
        .await
    {
        Some(Ok(reply)) => match reply.encode(json) {
            Ok(bytes) => {
                let ct = if json {
                    "application/json"
                } else {
                    "application/protobuf"
                };
                (StatusCode::OK, [(header::CONTENT_TYPE, ct)], bytes).into_response()
            }
            Err(e) => twirp_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &ServiceError {
                    code: "internal",
                    msg: e,
                },
            ),
        },
        Some(Err(e)) => twirp_error(twirp_status(e.code), &e),
        None => twirp_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &ServiceError {
                code: "unavailable",
                msg: "server is shutting down".into(),
            },
        ),
    }
}
