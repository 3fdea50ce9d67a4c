//! Getting a LiveKit token from the coach platform's backend, in each
//! platform's API shape (seeds 000–004) or a custom one, with errors
//! classified so the app can say what to do.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::supabase::SignedIn;

pub(crate) mod answers;
pub mod rules;
pub use answers::{
    BackendError, MAX_ANSWER_BYTES, SessionInfo, SessionSummary, TokenGrant, classify_status,
    parse_grant, parse_session_info, parse_session_list, read_answer,
};
use answers::{classify_transport, http_client, read_body};

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

/// Signs in to tandem-backend (`POST /api/auth/login`) and returns the user JWT.
pub async fn login(base: &str, email: &str, password: &str) -> Result<String, BackendError> {
    let base = base.trim_end_matches('/');
    let http = http_client(Duration::from_secs(10))?;
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
    p2p: P2p,
}

/// Whether a seed-004 call goes peer to peer, and through which Socket.IO
/// server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct P2p {
    /// Always peer to peer, even when the platform has a LiveKit token
    /// endpoint (otherwise only when it has none).
    pub always: bool,
    /// The Socket.IO server; by default the platform's host on port 3001,
    /// as the seed's web app is built (`NEXT_PUBLIC_SOCKET_URL`).
    pub socket_url: Option<String>,
    /// STUN servers (`stun:host:port`) for a reflexive candidate across
    /// NATs, as the platform's page has them in `iceServers`.
    pub stun: Vec<String>,
    /// TURN servers, as the page's `iceServers` has them, for a relay when
    /// no direct path works (the seed recommends one in production).
    pub turn: Vec<crate::p2p::turn::TurnServer>,
    /// Media only through a TURN relay, never straight between the two
    /// computers (a browser's `iceTransportPolicy: "relay"`: neither side
    /// learns the other's addresses).
    pub relay_only: bool,
}

/// The seed's documented default Socket.IO address for a platform at `base`.
pub fn default_socket_url(base: &str) -> Option<String> {
    let mut u = url::Url::parse(base).ok()?;
    u.set_port(Some(3001)).ok()?;
    u.set_path("");
    Some(u.as_str().trim_end_matches('/').to_owned())
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
            p2p: P2p::default(),
        })
    }

    /// How seed-004 calls go peer to peer (see [`P2p`]).
    pub fn with_p2p(mut self, p2p: P2p) -> Self {
        self.p2p = p2p;
        self
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Whether a call on this platform goes peer to peer whatever else it offers.
    pub fn always_p2p(&self) -> bool {
        self.profile == Profile::Seed004 && self.p2p.always
    }

    /// The STUN and TURN servers of peer-to-peer calls.
    pub fn ice_servers(&self) -> crate::p2p::peer::IceServers {
        crate::p2p::peer::IceServers {
            stun: self
                .p2p
                .stun
                .iter()
                .filter_map(|s| crate::p2p::stun::parse_server(s))
                .collect(),
            turn: self.p2p.turn.clone(),
            relay_only: self.p2p.relay_only,
        }
    }

    /// The Socket.IO server of peer-to-peer calls.
    pub fn socket_url(&self) -> Option<String> {
        self.p2p
            .socket_url
            .clone()
            .or_else(|| default_socket_url(&self.base))
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
                            ": its calls are peer to peer over its own Socket.IO server, without LiveKit, and Tandem holds them that way"
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 004's call server is the platform's host on port 3001 unless
    /// told otherwise; only profile 004 goes peer to peer when asked.
    #[test]
    fn the_call_server_defaults_to_the_platform_host_on_port_3001() {
        assert_eq!(
            default_socket_url("https://coach.example.com/app").as_deref(),
            Some("https://coach.example.com:3001")
        );
        assert_eq!(
            default_socket_url("http://127.0.0.1:3000").as_deref(),
            Some("http://127.0.0.1:3001")
        );
        let c = BackendClient::new("http://h:3000", Profile::Seed004, Auth::None)
            .unwrap()
            .with_p2p(P2p {
                always: true,
                socket_url: Some("http://rt:9".into()),
                ..Default::default()
            });
        assert_eq!(
            (c.always_p2p(), c.socket_url().as_deref()),
            (true, Some("http://rt:9"))
        );
        let c = BackendClient::new("http://h", Profile::Seed000, Auth::None)
            .unwrap()
            .with_p2p(P2p {
                always: true,
                socket_url: None,
                ..Default::default()
            });
        assert!(!c.always_p2p());
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
