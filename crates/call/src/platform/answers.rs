//! Reading what a platform answers: token grants, session lists, link
//! validations, and every failure classified with its advice; the HTTP
//! client the requests go through. Nothing here imports the rest of
//! `backend`, so the Supabase sign-in can use it without a circle.

use std::time::Duration;

use serde_json::{Value, json};

/// A token and where to use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The LiveKit access token.
    pub token: String,
    /// ws:// or wss:// URL of the LiveKit server.
    pub server_url: String,
    /// The room, when the backend says.
    pub room: Option<String>,
    /// The backend's clock (Unix seconds) from its `Date` header, for skew checks.
    pub server_time: Option<i64>,
    /// The session is private: its media is encrypted end to end with this
    /// key (`e2eeKey` beside the token, for every profile).
    pub e2ee_key: Option<tandem_lk::SharedKey>,
}

/// Why no token: each class has its own advice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error(
        "the platform's backend at {url} cannot be reached ({detail}): check the address and your internet connection"
    )]
    Unreachable { url: String, detail: String },
    #[error("the backend did not answer within {0} s: it may be overloaded; try again")]
    Timeout(u64),
    #[error(
        "a secure connection to the backend failed ({0}): its certificate is not trusted or the address is wrong"
    )]
    Tls(String),
    #[error("the backend did not accept your sign-in ({0}): sign in again")]
    Unauthorized(String),
    /// A sign-in refused, in the person's words (wrong password, email not confirmed).
    #[error("{0}")]
    SignInRefused(String),
    #[error("this platform has no {what} endpoint ({endpoint}){advice}")]
    NoEndpoint {
        what: &'static str,
        endpoint: String,
        advice: &'static str,
    },
    #[error("the backend refused: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("the backend refused the request: {0}")]
    BadRequest(String),
    #[error("this link has expired: {0}")]
    Gone(String),
    #[error("too many attempts; try again in {0} s")]
    RateLimited(u64),
    #[error(
        "the backend failed (HTTP {status}): {message}; try again later or contact the platform"
    )]
    Server { status: u16, message: String },
    #[error("the backend's answer is not JSON ({0}): is the backend address right?")]
    Malformed(String),
    #[error(
        "the backend's answer lacks what this profile expects: {0}; is the profile right for this platform?"
    )]
    WrongShape(String),
    #[error("missing input: {0}")]
    MissingInput(&'static str),
}

impl BackendError {
    /// Worth retrying automatically.
    pub fn transient(&self) -> bool {
        matches!(
            self,
            BackendError::Unreachable { .. } | BackendError::Timeout(_)
        ) || matches!(self, BackendError::Server { status, .. } if *status == 502 || *status == 503 || *status == 504)
    }
}

/// The HTTP client every platform request goes through: bounded waits,
/// Tandem's user agent, rustls.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, BackendError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("Tandem/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| BackendError::Tls(e.to_string()))
}

/// The most of an answer Tandem reads: tokens and session lists are a few
/// kilobytes; anything far larger is not a platform's answer.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Reads a body up to [`MAX_ANSWER_BYTES`] (as text, invalid UTF-8
/// replaced); `Err(Ok(_))` when it is larger, `Err(Err(_))` when reading
/// failed.
pub(crate) async fn read_body(
    mut res: reqwest::Response,
) -> Result<String, Result<BackendError, reqwest::Error>> {
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(Err)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(Ok(BackendError::Malformed(format!(
                "the answer is larger than {} MB",
                MAX_ANSWER_BYTES >> 20
            ))));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Reads an answer: the JSON of a 2xx, or the classified failure (with the
/// backend's own message, bounded, where it gave one).
pub fn read_answer(status: u16, body: &str, retry_after: u64) -> Result<Value, BackendError> {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    if !(200..300).contains(&status) {
        return Err(classify_status(status, parsed.as_ref(), body, retry_after));
    }
    parsed.ok_or_else(|| BackendError::Malformed(describe_non_json(body)))
}

/// A booked session as a platform's session list describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub id: String,
    /// RFC 3339 start time, as the platform wrote it.
    pub starts_at: String,
    pub paid_minutes: Option<u32>,
    /// `video`, `voice` or `chat` (the platform's word).
    pub session_type: String,
    pub status: String,
    pub coach_name: String,
    pub client_name: String,
}

/// Parses `{"sessions": [...]}`; entries without an id are skipped, other
/// fields default to empty.
pub fn parse_session_list(v: &Value) -> Result<Vec<SessionSummary>, BackendError> {
    let list = v["sessions"]
        .as_array()
        .ok_or_else(|| BackendError::WrongShape("no `sessions` list in the answer".into()))?;
    let text = |e: &Value, k: &str| -> String {
        e[k].as_str()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect()
    };
    Ok(list
        .iter()
        .filter(|e| e["id"].as_str().is_some_and(|id| !id.is_empty()))
        .map(|e| SessionSummary {
            id: text(e, "id"),
            starts_at: text(e, "scheduledStartTime"),
            paid_minutes: e["paidDurationMinutes"]
                .as_u64()
                .and_then(|m| u32::try_from(m).ok()),
            session_type: text(e, "sessionType"),
            status: text(e, "status"),
            coach_name: text(e, "coachName"),
            client_name: text(e, "clientName"),
        })
        .collect())
}

/// A session as the platform describes it (profile 004).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub session_id: String,
    /// `chat`, `voice` or `video`.
    pub session_type: String,
    /// `user` (the client) or `astrologer` (the coach), as 004 names them.
    pub participant_type: String,
    pub paid_minutes: Option<u32>,
    /// Who we are meeting.
    pub other_name: String,
    /// The signalling room of a peer-to-peer call (`roomId`).
    pub room_id: Option<String>,
    /// Our own id, the chat's `senderId` (`participantId`).
    pub participant_id: Option<String>,
    /// `scheduled`, `in_progress`, …
    pub status: String,
}

/// Reads profile 004's link validation answer.
pub fn parse_session_info(v: &Value) -> Result<SessionInfo, BackendError> {
    if v["valid"] == json!(false) {
        let why = v["error"]
            .as_str()
            .or(v["message"].as_str())
            .unwrap_or("the link is not valid");
        return Err(BackendError::BadRequest(why.chars().take(200).collect()));
    }
    let text = |k: &str| {
        v[k].as_str()
            .map(|s| s.chars().take(200).collect::<String>())
    };
    let session_id = text("sessionId")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| BackendError::WrongShape("the answer has no sessionId".into()))?;
    let session_type = text("sessionType").unwrap_or_else(|| "video".into());
    if !["chat", "voice", "video"].contains(&session_type.as_str()) {
        return Err(BackendError::WrongShape(format!(
            "unknown session type {session_type:?}"
        )));
    }
    Ok(SessionInfo {
        session_id,
        session_type,
        participant_type: text("participantType").unwrap_or_else(|| "user".into()),
        paid_minutes: v["paidDurationMinutes"]
            .as_u64()
            .and_then(|m| u32::try_from(m).ok()),
        other_name: text("otherParticipantName").unwrap_or_default(),
        room_id: text("roomId").filter(|r| !r.is_empty()),
        participant_id: text("participantId").filter(|r| !r.is_empty()),
        status: text("status").unwrap_or_default(),
    })
}

/// Follows a dotted path (`data.token`).
pub(crate) fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

/// Reads a token grant out of a 2xx answer, checking what it holds.
pub fn parse_grant(
    v: &Value,
    token_at: &str,
    url_at: &str,
    room_at: Option<&str>,
    server_time: Option<i64>,
) -> Result<TokenGrant, BackendError> {
    let token = match at(v, token_at) {
        Some(Value::String(t)) => t.trim().to_owned(),
        Some(other) => {
            return Err(BackendError::WrongShape(format!(
                "`{token_at}` is {} instead of a string",
                kind(other)
            )));
        }
        None => {
            return Err(BackendError::WrongShape(format!(
                "no `{token_at}` in the answer"
            )));
        }
    };
    if token.split('.').count() != 3
        || token.len() > 16 * 1024
        || token.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(BackendError::WrongShape(format!(
            "`{token_at}` is not a LiveKit token (JWT)"
        )));
    }
    let server_url = match at(v, url_at) {
        Some(Value::String(u)) => u.trim().to_owned(),
        Some(other) => {
            return Err(BackendError::WrongShape(format!(
                "`{url_at}` is {} instead of a string",
                kind(other)
            )));
        }
        None => {
            return Err(BackendError::WrongShape(format!(
                "no `{url_at}` in the answer"
            )));
        }
    };
    if !(server_url.starts_with("ws://") || server_url.starts_with("wss://"))
        || server_url.len() > 2048
    {
        return Err(BackendError::WrongShape(format!(
            "`{url_at}` should be a ws:// or wss:// LiveKit address, got {:?}",
            server_url.chars().take(80).collect::<String>()
        )));
    }
    let room = room_at
        .and_then(|p| at(v, p))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if room
        .as_deref()
        .is_some_and(|r| r.len() > 256 || r.chars().any(char::is_control))
    {
        return Err(BackendError::WrongShape(format!(
            "`{}` is not a room name",
            room_at.unwrap_or_default()
        )));
    }
    // `e2eeKey` sits beside the token (`data.token` → `data.e2eeKey`).
    let key_at = match token_at.rsplit_once('.') {
        Some((parent, _)) => format!("{parent}.e2eeKey"),
        None => "e2eeKey".to_owned(),
    };
    let e2ee_key = match at(v, &key_at) {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(tandem_lk::SharedKey::from_passphrase(k).map_err(|e| {
            BackendError::WrongShape(format!("`{key_at}` is not a usable encryption key ({e})"))
        })?),
        Some(other) => {
            return Err(BackendError::WrongShape(format!(
                "`{key_at}` is {} instead of a string",
                kind(other)
            )));
        }
    };
    Ok(TokenGrant {
        token,
        server_url,
        room,
        server_time,
        e2ee_key,
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The backend's own message, as plain text, bounded.
fn backend_message(parsed: Option<&Value>, text: &str, status: u16) -> String {
    let from_json = parsed.and_then(|v| {
        [
            "error",
            "message",
            "msg",
            "error_description",
            "data.message",
            "error.message",
        ]
        .iter()
        .find_map(|k| {
            at(v, k)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
        })
    });
    let raw = match from_json {
        Some(m) => m.to_owned(),
        None if parsed.is_none() && !text.trim().is_empty() => describe_non_json(text),
        None => format!("HTTP {status} without a message"),
    };
    let clean: String = raw.chars().filter(|c| !c.is_control()).take(300).collect();
    clean
}

fn describe_non_json(text: &str) -> String {
    let t = text.trim_start();
    if t.starts_with('<') {
        "the answer is a web page, not JSON".into()
    } else if t.is_empty() {
        "the answer is empty".into()
    } else {
        "the answer is not valid JSON".into()
    }
}

/// Whether a refusal's text says the credential itself is bad (Express's
/// usual `authenticateToken` answers 403 "Invalid or expired token"), as
/// opposed to a valid sign-in without access.
fn says_credential_is_bad(m: &str) -> bool {
    let m = m.to_ascii_lowercase();
    let credential = [
        "token",
        "jwt",
        "credential",
        "session",
        "sign-in",
        "signin",
        "login",
    ]
    .iter()
    .any(|w| m.contains(w));
    let bad = ["invalid", "expired", "malformed", "not valid", "revoked"]
        .iter()
        .any(|w| m.contains(w));
    credential && bad
}

/// Maps an HTTP error status to its class.
pub fn classify_status(
    status: u16,
    parsed: Option<&Value>,
    text: &str,
    retry_after: u64,
) -> BackendError {
    let m = backend_message(parsed, text, status);
    match status {
        400 | 409 | 422 => BackendError::BadRequest(m),
        401 => BackendError::Unauthorized(m),
        403 if says_credential_is_bad(&m) => BackendError::Unauthorized(m),
        403 => BackendError::Forbidden(m),
        404 => BackendError::NotFound(m),
        410 => BackendError::Gone(m),
        429 => BackendError::RateLimited(retry_after.min(3600)),
        s if s >= 500 => BackendError::Server {
            status: s,
            message: m,
        },
        s => BackendError::Server {
            status: s,
            message: m,
        },
    }
}

pub(crate) fn classify_transport(
    base: &str,
    e: &reqwest::Error,
    timeout: Duration,
) -> BackendError {
    if e.is_timeout() {
        return BackendError::Timeout(timeout.as_secs());
    }
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    let lower = detail.to_lowercase();
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        BackendError::Tls(detail)
    } else if e.is_decode() || e.is_body() {
        BackendError::Malformed(detail)
    } else {
        BackendError::Unreachable {
            url: base.to_owned(),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A private session's key rides beside the token, for any profile.
    #[test]
    fn a_key_beside_the_token_makes_the_session_private() {
        let jwt = "a.b.c";
        let g = parse_grant(
            &json!({"data": {"token": jwt, "url": "wss://lk", "e2eeKey": "k3y of this session"}}),
            "data.token",
            "data.url",
            None,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            g.e2ee_key,
            tandem_lk::SharedKey::from_passphrase("k3y of this session").ok()
        );
        let plain = parse_grant(
            &json!({"token": jwt, "serverUrl": "ws://x", "e2eeKey": null}),
            "token",
            "serverUrl",
            None,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.e2ee_key, None);
        for bad in [json!(42), json!(""), json!({"k": 1})] {
            let e = parse_grant(
                &json!({"token": jwt, "serverUrl": "ws://x", "e2eeKey": bad}),
                "token",
                "serverUrl",
                None,
                None,
            )
            .expect_err("a bad key was taken");
            assert!(e.to_string().contains("e2eeKey"), "{e}");
        }
    }

    #[test]
    fn session_list_is_read_leniently() {
        let v = json!({"sessions": [
            {"id": "s1", "scheduledStartTime": "2026-11-22T10:00:00Z", "paidDurationMinutes": 45,
             "sessionType": "video", "status": "scheduled", "coachName": "Coach", "clientName": "Client"},
            {"id": ""},
            {"nothing": true},
            {"id": "s2", "paidDurationMinutes": -3}
        ]});
        let list = parse_session_list(&v).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].paid_minutes, Some(45));
        assert_eq!(list[0].coach_name, "Coach");
        assert_eq!(list[1].id, "s2");
        assert_eq!(list[1].paid_minutes, None);
        assert!(matches!(
            parse_session_list(&json!({"data": []})),
            Err(BackendError::WrongShape(_))
        ));
    }

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln";

    #[test]
    fn each_profile_reads_its_platforms_answer() {
        // Shapes as the seed write-ups show them.
        let s000 = json!({"token": JWT, "serverUrl": "wss://betrora.livekit.cloud", "_debug": {"serverTimeUtc": "2026-01-01T00:00:00.000Z"}});
        assert_eq!(
            parse_grant(&s000, "token", "serverUrl", None, None)
                .unwrap()
                .server_url,
            "wss://betrora.livekit.cloud"
        );
        let s001 = json!({"token": JWT, "livekitUrl": "wss://your-livekit-server.com"});
        assert!(parse_grant(&s001, "token", "livekitUrl", None, None).is_ok());
        let s002 = json!({"success": true, "message": "LiveKit token generated successfully", "data": {"token": JWT, "url": "wss://k.livekit.cloud", "roomName": "session-1"}});
        assert_eq!(
            parse_grant(&s002, "data.token", "data.url", Some("data.roomName"), None)
                .unwrap()
                .room
                .as_deref(),
            Some("session-1")
        );
        let s003 = json!({"success": true, "data": {"token": JWT, "serverUrl": "wss://p.livekit.cloud", "roomName": "study_group_123", "identity": "user_15", "participantName": "John Doe"}});
        assert_eq!(
            parse_grant(
                &s003,
                "data.token",
                "data.serverUrl",
                Some("data.roomName"),
                Some(5)
            )
            .unwrap()
            .server_time,
            Some(5)
        );
    }

    #[test]
    fn a_004_link_validation_reads_the_booking() {
        // The shape seed 004's validate endpoint answers with.
        let v = json!({
            "valid": true, "sessionId": "s-1", "roomId": "session_s-1", "sessionType": "voice",
            "participantType": "user", "participantId": "u-1", "otherParticipantName": "Asha",
            "paidDurationMinutes": 45, "status": "scheduled", "scheduledStartTime": "2026-11-22T10:00:00Z"
        });
        let i = parse_session_info(&v).unwrap();
        assert_eq!(
            (
                i.session_id.as_str(),
                i.session_type.as_str(),
                i.paid_minutes,
                i.other_name.as_str()
            ),
            ("s-1", "voice", Some(45), "Asha")
        );
        assert_eq!(
            parse_session_info(&json!({"valid": false, "error": "Link expired"})),
            Err(BackendError::BadRequest("Link expired".into()))
        );
        assert!(matches!(
            parse_session_info(&json!({"valid": true, "sessionType": "video"})),
            Err(BackendError::WrongShape(_))
        ));
        assert!(matches!(
            parse_session_info(&json!({"sessionId": "s", "sessionType": "<script>"})),
            Err(BackendError::WrongShape(_))
        ));
    }

    #[test]
    fn wrong_shapes_say_what_is_wrong() {
        let e = parse_grant(
            &json!({"serverUrl": "wss://x"}),
            "token",
            "serverUrl",
            None,
            None,
        )
        .unwrap_err();
        assert!(
            matches!(&e, BackendError::WrongShape(m) if m.contains("no `token`")),
            "{e}"
        );
        let e = parse_grant(
            &json!({"token": 5, "serverUrl": "wss://x"}),
            "token",
            "serverUrl",
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("a number"), "{e}");
        let e = parse_grant(
            &json!({"token": "abc", "serverUrl": "wss://x"}),
            "token",
            "serverUrl",
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a LiveKit token"), "{e}");
        let e = parse_grant(
            &json!({"token": JWT, "serverUrl": "https://x"}),
            "token",
            "serverUrl",
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("ws:// or wss://"), "{e}");
    }

    #[test]
    fn statuses_map_to_classes_with_the_backends_message() {
        let body = json!({"success": false, "message": "Session is cancelled"});
        assert_eq!(
            classify_status(400, Some(&body), "", 0),
            BackendError::BadRequest("Session is cancelled".into())
        );
        assert_eq!(
            classify_status(401, Some(&json!({"error": "expired"})), "", 0),
            BackendError::Unauthorized("expired".into())
        );
        assert!(matches!(
            classify_status(403, None, "", 0),
            BackendError::Forbidden(_)
        ));
        assert!(matches!(
            classify_status(404, None, "", 0),
            BackendError::NotFound(_)
        ));
        assert!(matches!(
            classify_status(410, None, "", 0),
            BackendError::Gone(_)
        ));
        assert_eq!(
            classify_status(429, None, "", 12),
            BackendError::RateLimited(12)
        );
        let html = classify_status(502, None, "<html><body>Bad gateway</body></html>", 0);
        assert_eq!(
            html,
            BackendError::Server {
                status: 502,
                message: "the answer is a web page, not JSON".into()
            }
        );
        assert!(html.transient());
        assert!(!classify_status(500, None, "", 0).transient());
        let long = "x\u{7}".repeat(1000);
        let m = classify_status(400, Some(&json!({"error": long})), "", 0).to_string();
        assert!(m.len() < 400 && !m.contains('\u{7}'));
    }
}
