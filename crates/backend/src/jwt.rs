//! HS256 user JWTs, compatible with Supabase's: `sub` = user id, `exp`,
//! `aud` = "authenticated".

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The claims Tandem reads and writes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserClaims {
    /// User id.
    pub sub: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Audience; Supabase uses "authenticated".
    #[serde(default)]
    pub aud: serde_json::Value,
    /// Issued at.
    #[serde(default)]
    pub iat: i64,
    /// Email, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Supabase puts "authenticated" here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The sign-in session (Supabase's `session_id`), so signing out can
    /// revoke its refresh tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// Why a bearer token was refused (the text is shown to the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the bearer token is not a JWT")]
    Malformed,
    #[error("the bearer token is not HS256-signed")]
    Algorithm,
    #[error("the bearer token's signature is invalid")]
    Signature,
    #[error("the bearer token has expired; sign in again")]
    Expired,
    #[error("the bearer token is for another audience")]
    Audience,
}

/// Signs claims.
pub fn sign(secret: &str, claims: &UserClaims) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let input = format!("{header}.{body}");
    let sig = URL_SAFE_NO_PAD.encode(mac(secret, input.as_bytes()).finalize().into_bytes());
    format!("{input}.{sig}")
}

fn mac(secret: &str, data: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(data);
    m
}

/// Verifies signature (constant time), algorithm, expiry (60 s leeway) and audience.
pub fn verify(secret: &str, audience: &str, token: &str, now: i64) -> Result<UserClaims, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(b), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|x| serde_json::from_slice(&x).ok())
        .ok_or(JwtError::Malformed)?;
    if header["alg"] != "HS256" {
        return Err(JwtError::Algorithm);
    }
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
    mac(secret, format!("{h}.{b}").as_bytes())
        .verify_slice(&sig)
        .map_err(|_| JwtError::Signature)?;
    let claims: UserClaims = URL_SAFE_NO_PAD
        .decode(b)
        .ok()
        .and_then(|x| serde_json::from_slice(&x).ok())
        .ok_or(JwtError::Malformed)?;
    if claims.exp + 60 < now {
        return Err(JwtError::Expired);
    }
    let aud_ok = match &claims.aud {
        serde_json::Value::String(a) => a == audience,
        serde_json::Value::Array(v) => v.iter().any(|a| a == audience),
        _ => false,
    };
    if !aud_ok {
        return Err(JwtError::Audience);
    }
    if claims.sub.is_empty() || claims.sub.len() > 128 {
        return Err(JwtError::Malformed);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64, aud: &str) -> UserClaims {
        UserClaims {
            sub: "u1".into(),
            exp,
            aud: aud.into(),
            iat: 0,
            email: None,
            role: Some("authenticated".into()),
            session_id: None,
        }
    }

    #[test]
    fn round_trip_and_each_refusal() {
        let t = sign("secret-secret-secret", &claims(2_000, "authenticated"));
        assert_eq!(
            verify("secret-secret-secret", "authenticated", &t, 1_000)
                .unwrap()
                .sub,
            "u1"
        );
        assert_eq!(
            verify("other-secret-other", "authenticated", &t, 1_000),
            Err(JwtError::Signature)
        );
        assert_eq!(
            verify("secret-secret-secret", "authenticated", &t, 3_000),
            Err(JwtError::Expired)
        );
        assert_eq!(
            verify("secret-secret-secret", "other", &t, 1_000),
            Err(JwtError::Audience)
        );
        assert_eq!(verify("s", "a", "x.y", 0), Err(JwtError::Malformed));
        let none_alg = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            t.split('.').nth(1).unwrap()
        );
        assert_eq!(
            verify("secret-secret-secret", "authenticated", &none_alg, 1_000),
            Err(JwtError::Algorithm)
        );
    }
}
