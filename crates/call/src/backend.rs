//! Getting a LiveKit token from the coach platform's backend, in each
//! platform's API shape (seeds 000–004) or a custom one, with errors
//! classified so the app can say what to do.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::supabase::SignedIn;

/// Which platform API to speak.
#[derive(Debug, Clone, PartialEq)]
pub enum Profile {
    /// `GET /api/livekit-token?sessionId=` → `{token, serverUrl}`.
    Seed000,
    /// Supabase function `POST /functions/v1/livekit-token {roomType}` → `{token, livekitUrl}`.
    Seed001,
    /// `POST /api/v1/admin/sessions/:id/livekit-token` → `{data: {token, url, roomName}}`.
    Seed002,
    /// `POST /api/livekit/token {roomName, participantName}` → `{data: {token, serverUrl, roomName}}`.
    Seed003,
    /// `POST /api/sessions/livekit-token {token: <link token>}` → `{token, serverUrl, roomName}`.
    Seed004,
    /// Anything else, described by the user.
    Custom(CustomProfile),
}

/// A platform API described by hand. `{session}`, `{room}`, `{name}` and
/// `{link}` in the path and in body strings are replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomProfile {
    /// GET or POST.
    pub method: String,
    /// Path below the backend URL, e.g. `/api/token/{session}`.
    pub path: String,
    /// JSON body for POST.
    pub body: Option<Value>,
    /// Dotted path of the token in the answer, e.g. `data.token`.
    pub token_at: String,
    /// Dotted path of the LiveKit URL in the answer.
    pub url_at: String,
}

impl Profile {
    /// Parses a profile name: `000`…`004` (or `seed000`…).
    pub fn named(name: &str) -> Option<Profile> {
        Some(match name.trim_start_matches("seed") {
            "000" | "0" => Profile::Seed000,
            "001" | "1" => Profile::Seed001,
            "002" | "2" => Profile::Seed002,
            "003" | "3" => Profile::Seed003,
            "004" | "4" => Profile::Seed004,
            _ => return None,
        })
    }
}

/// How the caller proves who it is.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// No credentials (seed 004 links carry their own).
    #[default]
    None,
    /// `Authorization: Bearer <jwt>`.
    Bearer(String),
    /// Supabase: a pasted user JWT plus the project's anon key in `apikey`.
    Supabase { jwt: String, anon_key: String },
    /// A Supabase sign-in that refreshes itself; the anon key goes along
    /// only to the project's own functions (profile 001).
    Session(Arc<SignedIn>),
}

impl Auth {
    /// The bearer token now (a signed-in session refreshed first when it
    /// is about to expire).
    async fn bearer(&self) -> Result<Option<String>, BackendError> {
        Ok(match self {
            Auth::None => None,
            Auth::Bearer(t) | Auth::Supabase { jwt: t, .. } => Some(t.clone()),
            Auth::Session(s) => Some(s.access_token().await?),
        })
    }

    /// Who the credentials name (the JWT's `sub`), for requests that need
    /// an identity when the person gave no name.
    pub async fn identity(&self) -> Option<String> {
        let token = self.bearer().await.ok()??;
        crate::supabase::jwt_claims(&token)?["sub"]
            .as_str()
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .map(str::to_owned)
    }
}

/// What to ask a token for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// Session id (seeds 000, 002).
    pub session: Option<String>,
    /// Room type (seed 001: `audition` or `main_show`) or room name (seed 003).
    pub room: Option<String>,
    /// Display name to ask for (seeds 001, 003).
    pub name: Option<String>,
    /// Join-link token (seed 004).
    pub link: Option<String>,
}

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

/// Signs in to tandem-backend (`POST /api/auth/login`) and returns the user JWT.
pub async fn login(base: &str, email: &str, password: &str) -> Result<String, BackendError> {
    let base = base.trim_end_matches('/');
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| BackendError::Tls(e.to_string()))?;
    let res = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .map_err(|e| classify_transport(base, &e, Duration::from_secs(10)))?;
    let status = res.status().as_u16();
    let text = read_body(res)
        .await
        .map_err(|e| e.unwrap_or_else(|e| classify_transport(base, &e, Duration::from_secs(10))))?;
    read_answer(status, &text, 30)?
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| BackendError::WrongShape("no `access_token` in the sign-in answer".into()))
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

/// One request: method, path, body, and where the token, URL and room sit in the answer.
#[derive(Debug)]
struct Spec<'a>(
    reqwest::Method,
    String,
    Option<Value>,
    &'a str,
    &'a str,
    Option<&'a str>,
);

/// Talks to one platform backend.
#[derive(Debug, Clone)]
pub struct BackendClient {
    http: reqwest::Client,
    base: String,
    profile: Profile,
    auth: Auth,
    timeout: Duration,
    retries: u32,
}

impl BackendClient {
    /// `base` is the backend's http(s) URL.
    pub fn new(base: &str, profile: Profile, auth: Auth) -> Result<BackendClient, BackendError> {
        let base = base.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(BackendError::BadRequest(format!(
                "the backend address must start with http:// or https://, got {base:?}"
            )));
        }
        let timeout = Duration::from_secs(10);
        let http = http_client(timeout)?;
        Ok(BackendClient {
            http,
            base,
            profile,
            auth,
            timeout,
            retries: 2,
        })
    }

    /// The self-refreshing Supabase sign-in behind this client, if any.
    pub fn signed_in(&self) -> Option<&Arc<SignedIn>> {
        match &self.auth {
            Auth::Session(s) => Some(s),
            _ => None,
        }
    }

    /// Sets the per-request timeout and the number of retries for transient failures.
    pub fn with_limits(mut self, timeout: Duration, retries: u32) -> Self {
        self.timeout = timeout;
        self.retries = retries;
        self
    }

    /// Asks for a token; transient failures are retried with a short backoff.
    pub async fn fetch_token(&self, req: &TokenRequest) -> Result<TokenGrant, BackendError> {
        let mut attempt = 0;
        loop {
            match self.fetch_once(req).await {
                Err(e) if e.transient() && attempt < self.retries => {
                    attempt += 1;
                    tracing::info!(attempt, "token request failed, retrying: {e}");
                    tokio::time::sleep(Duration::from_millis(300 * u64::from(attempt))).await;
                }
                other => return other,
            }
        }
    }

    fn spec<'s>(
        &'s self,
        req: &TokenRequest,
        identity: Option<&str>,
    ) -> Result<Spec<'s>, BackendError> {
        let session = || {
            req.session
                .clone()
                .ok_or(BackendError::MissingInput("a session id"))
        };
        let enc = |s: &str| {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        };
        let t = match &self.profile {
            Profile::Seed000 => (
                reqwest::Method::GET,
                format!("/api/livekit-token?sessionId={}", enc(&session()?)),
                None,
                "token",
                "serverUrl",
                None,
            ),
            Profile::Seed001 => {
                let room = req.room.clone().ok_or(BackendError::MissingInput(
                    "a room type (audition or main_show)",
                ))?;
                (
                    reqwest::Method::POST,
                    "/functions/v1/livekit-token".into(),
                    Some(json!({ "roomType": room })),
                    "token",
                    "livekitUrl",
                    None,
                )
            }
            Profile::Seed002 => (
                reqwest::Method::POST,
                format!("/api/v1/admin/sessions/{}/livekit-token", enc(&session()?)),
                None,
                "data.token",
                "data.url",
                Some("data.roomName"),
            ),
            Profile::Seed003 => {
                let room = req
                    .room
                    .clone()
                    .ok_or(BackendError::MissingInput("a room name"))?;
                // Documented as required: the display name, or who the
                // credentials name when the person gave none.
                let name = req
                    .name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .or_else(|| identity.map(str::to_owned))
                    .ok_or(BackendError::MissingInput("your name"))?;
                (
                    reqwest::Method::POST,
                    "/api/livekit/token".into(),
                    Some(json!({ "roomName": room, "participantName": name })),
                    "data.token",
                    "data.serverUrl",
                    Some("data.roomName"),
                )
            }
            Profile::Seed004 => {
                let link = req
                    .link
                    .clone()
                    .ok_or(BackendError::MissingInput("a session link"))?;
                (
                    reqwest::Method::POST,
                    "/api/sessions/livekit-token".into(),
                    Some(json!({ "token": link })),
                    "token",
                    "serverUrl",
                    Some("roomName"),
                )
            }
            Profile::Custom(c) => {
                let fill = |s: &str| {
                    s.replace(
                        "{session}",
                        &enc(req.session.as_deref().unwrap_or_default()),
                    )
                    .replace("{room}", &enc(req.room.as_deref().unwrap_or_default()))
                    .replace("{name}", &enc(req.name.as_deref().unwrap_or_default()))
                    .replace("{link}", &enc(req.link.as_deref().unwrap_or_default()))
                };
                let fill_raw = |s: &str| {
                    s.replace("{session}", req.session.as_deref().unwrap_or_default())
                        .replace("{room}", req.room.as_deref().unwrap_or_default())
                        .replace("{name}", req.name.as_deref().unwrap_or_default())
                        .replace("{link}", req.link.as_deref().unwrap_or_default())
                };
                let method = if c.method.eq_ignore_ascii_case("get") {
                    reqwest::Method::GET
                } else {
                    reqwest::Method::POST
                };
                let body = c.body.as_ref().map(|b| map_strings(b, &fill_raw));
                (
                    method,
                    fill(&c.path),
                    body,
                    c.token_at.as_str(),
                    c.url_at.as_str(),
                    None,
                )
            }
        };
        Ok(Spec(t.0, t.1, t.2, t.3, t.4, t.5))
    }

    async fn fetch_once(&self, req: &TokenRequest) -> Result<TokenGrant, BackendError> {
        let identity = match (&self.profile, &req.name) {
            (Profile::Seed003, None) => self.auth.identity().await,
            _ => None,
        };
        let Spec(method, path, body, token_at, url_at, room_at) =
            self.spec(req, identity.as_deref())?;
        let endpoint = format!("{method} {}", path.split('?').next().unwrap_or_default());
        let (v, server_time) = self
            .call(method, &path, body.as_ref())
            .await
            .map_err(|e| self.name_missing_endpoint(e, "LiveKit token", endpoint))?;
        parse_grant(&v, token_at, url_at, room_at, server_time)
    }

    /// A 404 that is not the platform's JSON (a web page, nothing) means
    /// the endpoint itself is missing: say which, and what to try.
    fn name_missing_endpoint(
        &self,
        e: BackendError,
        what: &'static str,
        endpoint: String,
    ) -> BackendError {
        match e {
            BackendError::NotFound(m)
                if m.starts_with("the answer is") || m == "no such endpoint" =>
            {
                BackendError::NoEndpoint {
                    what,
                    endpoint: endpoint.chars().take(160).collect(),
                    advice: match self.profile {
                        Profile::Seed004 => {
                            ": its calls are peer to peer over its own Socket.IO server, without LiveKit, which this version of Tandem cannot join yet; open the session in the platform's web page"
                        }
                        _ => {
                            ": check the backend address and that the platform type matches this platform"
                        }
                    },
                }
            }
            other => other,
        }
    }

    /// One request with the profile's credentials; the JSON answer and the
    /// server's clock, or the classified failure.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(Value, Option<i64>), BackendError> {
        self.call_as(None, method, path, body).await
    }

    /// [`Self::call`], with `bearer` (a join link) when the client has no
    /// credentials of its own.
    async fn call_as(
        &self,
        bearer: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(Value, Option<i64>), BackendError> {
        let url = format!("{}{path}", self.base);
        let mut rb = self.http.request(method, &url).timeout(self.timeout);
        if let Some(t) = self.auth.bearer().await?.or(bearer.map(str::to_owned)) {
            rb = rb.bearer_auth(t);
        }
        match &self.auth {
            Auth::Supabase { anon_key, .. } => rb = rb.header("apikey", anon_key),
            Auth::Session(s) if self.profile == Profile::Seed001 => {
                rb = rb.header("apikey", s.project().anon_key());
            }
            _ => {}
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let res = rb
            .send()
            .await
            .map_err(|e| classify_transport(&self.base, &e, self.timeout))?;
        let status = res.status().as_u16();
        let server_time = res
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
            .map(|d| d.timestamp());
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(30);
        let text = read_body(res)
            .await
            .map_err(|e| e.unwrap_or_else(|e| classify_transport(&self.base, &e, self.timeout)))?;
        Ok((read_answer(status, &text, retry_after)?, server_time))
    }

    /// What the platform says about the session before joining, where the
    /// profile can ask (004 validates its link); `None` elsewhere.
    pub async fn session_info(
        &self,
        req: &TokenRequest,
    ) -> Result<Option<SessionInfo>, BackendError> {
        if self.profile != Profile::Seed004 {
            return Ok(None);
        }
        let link = req
            .link
            .as_ref()
            .ok_or(BackendError::MissingInput("a session link"))?;
        let (v, _) = self
            .call(
                reqwest::Method::POST,
                "/api/sessions/validate",
                Some(&json!({ "token": link })),
            )
            .await?;
        parse_session_info(&v).map(Some)
    }

    /// Tells the platform we joined (004's `start_session`); does nothing
    /// for profiles without such a call.
    pub async fn mark_joined(
        &self,
        req: &TokenRequest,
        info: &SessionInfo,
    ) -> Result<(), BackendError> {
        if self.profile != Profile::Seed004 {
            return Ok(());
        }
        // The documented body; the link proves who we are as a bearer
        // credential (a platform that does not check it ignores it).
        let body =
            json!({ "sessionId": info.session_id, "participantType": info.participant_type });
        self.call_as(
            req.link.as_deref(),
            reqwest::Method::POST,
            "/api/sessions/join",
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// Ends the session on the platform (004's `end_session`, which settles
    /// its payment); `Ok(None)` for profiles without such a call, else the
    /// duration the platform recorded, in seconds.
    pub async fn end_session(
        &self,
        req: &TokenRequest,
        info: &SessionInfo,
        reason: &str,
    ) -> Result<Option<i64>, BackendError> {
        if self.profile != Profile::Seed004 {
            return Ok(None);
        }
        let body = json!({ "sessionId": info.session_id, "reason": reason });
        let (v, _) = self
            .call_as(
                req.link.as_deref(),
                reqwest::Method::POST,
                "/api/sessions/end",
                Some(&body),
            )
            .await?;
        Ok(v["durationSeconds"].as_i64())
    }
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

impl BackendClient {
    /// The caller's sessions, soonest first (`GET /api/sessions`, which
    /// tandem-backend offers to signed-in users). A platform without such a
    /// list answers 404, returned as [`BackendError::NotFound`].
    pub async fn list_sessions(&self) -> Result<Vec<SessionSummary>, BackendError> {
        let (v, _) = self
            .call(reqwest::Method::GET, "/api/sessions", None)
            .await?;
        parse_session_list(&v)
    }
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
        status: text("status").unwrap_or_default(),
    })
}

fn map_strings(v: &Value, f: &impl Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| map_strings(x, f)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), map_strings(x, f)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Follows a dotted path (`data.token`).
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
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
    Ok(TokenGrant {
        token,
        server_url,
        room,
        server_time,
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

    #[test]
    fn profiles_by_name_and_inputs_required() {
        assert_eq!(Profile::named("002"), Some(Profile::Seed002));
        assert_eq!(Profile::named("seed004"), Some(Profile::Seed004));
        assert_eq!(Profile::named("9"), None);
        let c = BackendClient::new("http://h", Profile::Seed000, Auth::None).unwrap();
        assert_eq!(
            c.spec(&TokenRequest::default(), None).unwrap_err(),
            BackendError::MissingInput("a session id")
        );
        let Spec(_, path, ..) = c
            .spec(
                &TokenRequest {
                    session: Some("a b/../c".into()),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        assert_eq!(path, "/api/livekit-token?sessionId=a%20b%2F..%2Fc");
        assert!(BackendClient::new("ftp://h", Profile::Seed000, Auth::None).is_err());
    }
}
