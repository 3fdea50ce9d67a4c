//! Signing in to a Supabase project (seeds 000 and 001 use Supabase
//! sessions): GoTrue's password grant, its refresh-token grant and sign-out,
//! with a signed-in session that refreshes itself before its access token
//! expires and hands every rotated refresh token to whoever keeps it.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::platform::answers::{
    BackendError, classify_transport, http_client, read_answer, read_body,
};

/// How long before expiry an access token is refreshed: a token fetched
/// now must still be valid when the platform checks it.
pub const REFRESH_MARGIN_SECS: i64 = 120;

/// A Supabase project: its URL (`https://<ref>.supabase.co`) and the anon
/// key its web app ships (public, sent as `apikey`).
#[derive(Debug, Clone)]
pub struct SupabaseProject {
    http: reqwest::Client,
    url: String,
    anon_key: String,
    timeout: Duration,
}

/// A signed-in session: what the keychain keeps.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupabaseSession {
    pub access_token: String,
    pub refresh_token: String,
    /// Unix seconds when the access token expires.
    pub expires_at: i64,
    /// The account, for showing who is signed in.
    #[serde(default)]
    pub email: Option<String>,
}

impl std::fmt::Debug for SupabaseSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens never reach logs.
        f.debug_struct("SupabaseSession")
            .field("expires_at", &self.expires_at)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl SupabaseProject {
    /// `url` is the project's http(s) address; `anon_key` its public key.
    pub fn new(url: &str, anon_key: &str) -> Result<SupabaseProject, BackendError> {
        let url = url.trim().trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(BackendError::BadRequest(format!(
                "the Supabase project address must start with https://, got {:?}",
                url.chars().take(80).collect::<String>()
            )));
        }
        let anon_key = anon_key.trim().to_owned();
        if anon_key.is_empty() {
            return Err(BackendError::MissingInput("the project's anon key"));
        }
        let timeout = Duration::from_secs(10);
        let http = http_client(timeout)?;
        Ok(SupabaseProject {
            http,
            url,
            anon_key,
            timeout,
        })
    }

    /// The anon key, for requests to the project's functions.
    pub fn anon_key(&self) -> &str {
        &self.anon_key
    }

    /// Signs in with email and password (GoTrue's password grant).
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
    ) -> Result<SupabaseSession, BackendError> {
        let v = self
            .post(
                "/auth/v1/token?grant_type=password",
                None,
                &json!({ "email": email, "password": password }),
            )
            .await?;
        parse_session(&v, chrono::Utc::now().timestamp())
    }

    /// A fresh access token (and a new refresh token: Supabase rotates
    /// them, and the old one stops working soon after).
    pub async fn refresh(&self, refresh_token: &str) -> Result<SupabaseSession, BackendError> {
        let v = self
            .post(
                "/auth/v1/token?grant_type=refresh_token",
                None,
                &json!({ "refresh_token": refresh_token }),
            )
            .await
            .map_err(|e| match e {
                // A refresh token that is unknown, used or revoked: the
                // person signs in again.
                BackendError::SignInRefused(m) | BackendError::BadRequest(m) => {
                    BackendError::Unauthorized(m)
                }
                other => other,
            })?;
        parse_session(&v, chrono::Utc::now().timestamp())
    }

    /// Signs out: GoTrue revokes the session's refresh tokens.
    pub async fn sign_out(&self, access_token: &str) -> Result<(), BackendError> {
        self.post("/auth/v1/logout", Some(access_token), &json!({}))
            .await
            .map(|_| ())
    }

    async fn post(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &Value,
    ) -> Result<Value, BackendError> {
        let mut rb = self
            .http
            .post(format!("{}{path}", self.url))
            .header("apikey", &self.anon_key)
            .json(body);
        if let Some(t) = bearer {
            rb = rb.bearer_auth(t);
        }
        let res = rb
            .send()
            .await
            .map_err(|e| classify_transport(&self.url, &e, self.timeout))?;
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        let text = read_body(res)
            .await
            .map_err(|e| e.unwrap_or_else(|e| classify_transport(&self.url, &e, self.timeout)))?;
        if status == 204 {
            return Ok(Value::Null);
        }
        if !(200..300).contains(&status) {
            let parsed: Option<Value> = serde_json::from_str(&text).ok();
            if let Some(e) = parsed.as_ref().and_then(|v| gotrue_error(v, retry_after)) {
                return Err(e);
            }
        }
        read_answer(status, &text, retry_after)
    }
}

/// GoTrue's errors in the person's words. Both shapes it has used:
/// `{"error_code": "invalid_credentials", "msg": …}` and the older
/// `{"error": "invalid_grant", "error_description": …}`.
fn gotrue_error(v: &Value, retry_after: u64) -> Option<BackendError> {
    let code = v["error_code"].as_str().or(v["error"].as_str())?;
    let said = v["msg"]
        .as_str()
        .or(v["error_description"].as_str())
        .or(v["message"].as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    Some(match code {
        "invalid_credentials" => BackendError::SignInRefused(
            "the email address or password is not right: check both and try again".into(),
        ),
        "invalid_grant" if said.contains("credentials") => BackendError::SignInRefused(
            "the email address or password is not right: check both and try again".into(),
        ),
        "email_not_confirmed" => BackendError::SignInRefused(
            "this email address is not confirmed yet: open the link the platform emailed you, then sign in".into(),
        ),
        "invalid_grant" if said.contains("not confirmed") => BackendError::SignInRefused(
            "this email address is not confirmed yet: open the link the platform emailed you, then sign in".into(),
        ),
        "user_banned" => BackendError::Forbidden("this account is blocked by the platform".into()),
        "over_request_rate_limit" | "over_email_send_rate_limit" => {
            BackendError::RateLimited(retry_after)
        }
        "refresh_token_not_found"
        | "refresh_token_already_used"
        | "session_not_found"
        | "session_expired"
        | "bad_jwt" => BackendError::Unauthorized("your sign-in has expired".into()),
        "invalid_grant" if said.contains("refresh token") => {
            BackendError::Unauthorized("your sign-in has expired".into())
        }
        _ => return None,
    })
}

/// Reads GoTrue's session answer; `now` fills in `expires_at` when only
/// `expires_in` is given.
pub fn parse_session(v: &Value, now: i64) -> Result<SupabaseSession, BackendError> {
    let text = |k: &str| -> Result<String, BackendError> {
        v[k].as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 16 * 1024 && !s.contains(char::is_whitespace))
            .map(str::to_owned)
            .ok_or_else(|| {
                BackendError::WrongShape(format!(
                    "no usable `{k}` in the sign-in answer: is this a Supabase project address?"
                ))
            })
    };
    let access_token = text("access_token")?;
    let refresh_token = text("refresh_token")?;
    let expires_at = match (v["expires_at"].as_i64(), v["expires_in"].as_i64()) {
        (Some(at), _) => at,
        (None, Some(secs)) => now.saturating_add(secs.clamp(0, 7 * 24 * 3600)),
        (None, None) => jwt_expiry(&access_token).ok_or_else(|| {
            BackendError::WrongShape("the sign-in answer does not say when it expires".into())
        })?,
    };
    let email = v["user"]["email"]
        .as_str()
        .map(|e| e.chars().take(320).collect());
    Ok(SupabaseSession {
        access_token,
        refresh_token,
        expires_at,
        email,
    })
}

/// A JWT's claims, unverified (only the issuer can verify them; Tandem
/// reads them to know when to refresh and whom to name).
pub fn jwt_claims(token: &str) -> Option<Value> {
    use base64::Engine as _;
    let body = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn jwt_expiry(token: &str) -> Option<i64> {
    jwt_claims(token)?["exp"].as_i64()
}

/// Told of every refreshed session, to keep it (the app: the keychain).
pub type OnRefresh = Box<dyn Fn(&SupabaseSession) + Send + Sync>;

/// A session that refreshes itself: each request asks it for an access
/// token, and gets one valid for at least [`REFRESH_MARGIN_SECS`].
pub struct SignedIn {
    project: SupabaseProject,
    session: tokio::sync::Mutex<SupabaseSession>,
    on_refresh: OnRefresh,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("project", &self.project.url)
            .finish_non_exhaustive()
    }
}

impl SignedIn {
    pub fn new(
        project: SupabaseProject,
        session: SupabaseSession,
        on_refresh: OnRefresh,
    ) -> Arc<SignedIn> {
        Arc::new(SignedIn {
            project,
            session: tokio::sync::Mutex::new(session),
            on_refresh,
        })
    }

    pub fn project(&self) -> &SupabaseProject {
        &self.project
    }

    /// An access token valid for a while yet, refreshed first when it
    /// expires within the margin (one refresh at a time).
    pub async fn access_token(&self) -> Result<String, BackendError> {
        self.access_token_at(chrono::Utc::now().timestamp()).await
    }

    /// [`Self::access_token`] with the clock given.
    pub async fn access_token_at(&self, now: i64) -> Result<String, BackendError> {
        let mut s = self.session.lock().await;
        if s.expires_at - now > REFRESH_MARGIN_SECS {
            return Ok(s.access_token.clone());
        }
        let mut fresh = self.project.refresh(&s.refresh_token).await?;
        if fresh.email.is_none() {
            fresh.email = s.email.clone();
        }
        tracing::info!("refreshed the Supabase sign-in");
        (self.on_refresh)(&fresh);
        *s = fresh;
        Ok(s.access_token.clone())
    }

    /// Signs out on the server (revoking the refresh token).
    pub async fn sign_out(&self) -> Result<(), BackendError> {
        let token = self.access_token().await?;
        self.project.sign_out(&token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_answer_is_read_with_its_expiry() {
        let v = json!({"access_token": "a.b.c", "token_type": "bearer", "expires_in": 3600,
            "expires_at": 1_900_000_000, "refresh_token": "r1", "user": {"email": "c@x"}});
        let s = parse_session(&v, 5).unwrap();
        assert_eq!(
            (s.expires_at, s.refresh_token.as_str(), s.email.as_deref()),
            (1_900_000_000, "r1", Some("c@x"))
        );
        let v = json!({"access_token": "a.b.c", "expires_in": 60, "refresh_token": "r"});
        assert_eq!(parse_session(&v, 1000).unwrap().expires_at, 1060);
        assert!(matches!(
            parse_session(&json!({"access_token": "a"}), 0),
            Err(BackendError::WrongShape(m)) if m.contains("refresh_token")
        ));
        assert!(
            !format!("{:?}", parse_session(&v, 0).unwrap()).contains("a.b.c"),
            "tokens stay out of Debug"
        );
    }

    #[test]
    fn gotrue_errors_in_both_shapes_read_as_the_persons_problem() {
        let new = json!({"code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"});
        let old =
            json!({"error": "invalid_grant", "error_description": "Invalid login credentials"});
        for v in [new, old] {
            assert!(
                matches!(gotrue_error(&v, 60), Some(BackendError::SignInRefused(m)) if m.contains("password is not right"))
            );
        }
        let unconfirmed =
            json!({"error_code": "email_not_confirmed", "msg": "Email not confirmed"});
        assert!(
            matches!(gotrue_error(&unconfirmed, 60), Some(BackendError::SignInRefused(m)) if m.contains("not confirmed"))
        );
        assert_eq!(
            gotrue_error(
                &json!({"error_code": "over_request_rate_limit", "msg": "x"}),
                30
            ),
            Some(BackendError::RateLimited(30))
        );
        assert!(matches!(
            gotrue_error(
                &json!({"error_code": "refresh_token_already_used", "msg": "Invalid Refresh Token: Already Used"}),
                60
            ),
            Some(BackendError::Unauthorized(_))
        ));
        assert_eq!(gotrue_error(&json!({"message": "boom"}), 60), None);
    }
}
