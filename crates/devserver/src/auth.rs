//! Access-token checks: which key signed it, whether it is still valid, what it grants.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use livekit_api::access_token::{Claims, TokenVerifier};

/// Why a token was refused. The text is what `/rtc/validate` and Twirp answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token in the header or query.
    #[error("no access token: send it as `Authorization: Bearer <token>` or `access_token=`")]
    Missing,
    /// Not a JWT at all.
    #[error("access token is malformed")]
    Malformed,
    /// Signed by a key this server does not know.
    #[error("access token was issued by unknown API key {0:?}")]
    UnknownKey(String),
    /// `exp` has passed.
    #[error("access token is expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("access token is not valid yet")]
    NotYetValid,
    /// Signature does not match the key's secret.
    #[error("access token signature is invalid (signed with another secret?)")]
    BadSignature,
    /// Valid, but lacks the grant for what was asked.
    #[error("permission denied: {0}")]
    Forbidden(String),
}

impl AuthError {
    /// HTTP status an HTTP endpoint answers this with.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Forbidden(_) => 403,
            _ => 401,
        }
    }
}

/// The server's API keys.
#[derive(Clone)]
pub struct Keys {
    keys: BTreeMap<String, String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys.keys()).finish()
    }
}

impl Keys {
    /// Wraps a key → secret map.
    pub fn new(keys: BTreeMap<String, String>) -> Self {
        Self { keys }
    }

    /// Verifies signature, issuer, `exp` and `nbf`; returns the claims.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let unverified = Claims::from_unverified(token).map_err(|_| AuthError::Malformed)?;
        let secret = self
            .keys
            .get(&unverified.iss)
            .ok_or_else(|| AuthError::UnknownKey(unverified.iss.clone()))?;
        TokenVerifier::with_api_key(&unverified.iss, secret)
            .verify(token)
            .map_err(|_| {
                // The verifier's error does not say which check failed; the
                // unverified claims do, and a correct signature is the only
                // check left once the times are fine.
                let now = unix_now();
                if unverified.exp != 0 && unverified.exp <= now {
                    AuthError::Expired
                } else if unverified.nbf > now {
                    AuthError::NotYetValid
                } else {
                    AuthError::BadSignature
                }
            })
    }
}

fn unix_now() -> usize {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as usize)
        .unwrap_or(0)
}

/// Takes the token from `Authorization: Bearer …` or the `access_token` query value.
pub fn token_from(header: Option<&str>, query: Option<&str>) -> Option<String> {
    header
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .or(query.filter(|t| !t.is_empty()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_api::access_token::{AccessToken, VideoGrants};
    use std::time::Duration;

    fn keys() -> Keys {
        Keys::new(BTreeMap::from([("devkey".into(), "secret".into())]))
    }

    fn token(secret: &str, ttl: Duration) -> String {
        AccessToken::with_api_key("devkey", secret)
            .with_identity("alice")
            .with_ttl(ttl)
            .with_grants(VideoGrants {
                room_join: true,
                room: "r".into(),
                ..Default::default()
            })
            .to_jwt()
            .unwrap()
    }

    #[test]
    fn accepts_a_good_token() {
        let claims = keys()
            .verify(&token("secret", Duration::from_secs(60)))
            .unwrap();
        assert_eq!(claims.sub, "alice");
        assert!(claims.video.room_join);
    }

    #[test]
    fn names_the_reason_for_each_bad_token() {
        let k = keys();
        assert_eq!(
            k.verify(&token("other", Duration::from_secs(60))),
            Err(AuthError::BadSignature)
        );
        assert_eq!(k.verify("not a jwt"), Err(AuthError::Malformed));
        assert_eq!(k.verify(""), Err(AuthError::Missing));
        let other_key = AccessToken::with_api_key("k2", "s2")
            .with_identity("a")
            .to_jwt()
            .unwrap();
        assert_eq!(
            k.verify(&other_key),
            Err(AuthError::UnknownKey("k2".into()))
        );
        // Expired by more than the verifier's 60 s leeway.
        let now = unix_now() as i64;
        let expired = crate::testing::sign_hs256(
            "secret",
            &serde_json::json!({"iss": "devkey", "sub": "a", "exp": now - 600, "nbf": now - 1200}),
        );
        assert_eq!(k.verify(&expired), Err(AuthError::Expired));
        let early = crate::testing::sign_hs256(
            "secret",
            &serde_json::json!({"iss": "devkey", "sub": "a", "exp": now + 6000, "nbf": now + 600}),
        );
        assert_eq!(k.verify(&early), Err(AuthError::NotYetValid));
    }

    #[test]
    fn token_comes_from_header_or_query() {
        assert_eq!(token_from(Some("Bearer abc"), None).as_deref(), Some("abc"));
        assert_eq!(token_from(None, Some("q")).as_deref(), Some("q"));
        assert_eq!(token_from(Some("Basic x"), None), None);
        assert_eq!(token_from(Some("Bearer "), Some("")), None);
    }
}
