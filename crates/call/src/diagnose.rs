//! Reading a LiveKit token without verifying it, to explain why a server
//! might refuse it: clock skew, expiry, or a signature from another secret —
//! seed 000's troubleshooting, done by the app.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The claims that matter for diagnosis.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TokenClaims {
    /// Expiry, Unix seconds.
    #[serde(default)]
    pub exp: i64,
    /// Not before, Unix seconds.
    #[serde(default)]
    pub nbf: i64,
    /// The API key that signed it.
    #[serde(default)]
    pub iss: String,
    /// Identity.
    #[serde(default)]
    pub sub: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// The video grant's room, if any.
    #[serde(default, skip)]
    pub room: String,
}

/// Why a token could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the LiveKit token is not a JWT (expected three dot-separated parts)")]
    NotJwt,
    #[error("the LiveKit token's claims are not readable JSON")]
    BadClaims,
}

/// Decodes the claims of a JWT without checking its signature.
pub fn read_claims(token: &str) -> Result<TokenClaims, ReadError> {
    let mut parts = token.trim().split('.');
    let (Some(_), Some(body), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::NotJwt);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(body.trim_end_matches('='))
        .map_err(|_| ReadError::BadClaims)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| ReadError::BadClaims)?;
    // serde would read a JSON array as the struct's fields in order; claims are an object.
    if !value.is_object() {
        return Err(ReadError::BadClaims);
    }
    let mut claims: TokenClaims =
        serde_json::from_value(value.clone()).map_err(|_| ReadError::BadClaims)?;
    claims.room = value["video"]["room"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(claims)
}

/// Skew beyond this is worth telling the user about.
pub const SKEW_WARNING_SECS: i64 = 30;

/// What the clocks say about a token, before using it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// Seconds until expiry by the local clock (negative: expired).
    pub expires_in: i64,
    /// Local clock minus the backend's clock (from its `Date` header), if known.
    pub skew_secs: Option<i64>,
    /// Problems found, most likely first.
    pub problems: Vec<Likely>,
}

/// A likely cause of a refused token, with what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Likely {
    #[error("this computer's clock is {} s {} the server's: turn on automatic time (NTP) and try again", .0.unsigned_abs(), if *.0 > 0 { "ahead of" } else { "behind" })]
    ClockSkew(i64),
    #[error("the session token expired {0} s ago: rejoin to get a fresh one")]
    Expired(i64),
    #[error(
        "the session token is not valid for another {0} s (a clock difference between the platform and the LiveKit server?)"
    )]
    NotYetValid(i64),
    #[error(
        "the LiveKit server did not accept the token's signature: the platform's LIVEKIT_API_KEY and LIVEKIT_API_SECRET do not match the server's (copy both from the same key)"
    )]
    WrongSecret,
    #[error("the token is for room {token_room:?}, not {expected:?}")]
    WrongRoom {
        token_room: String,
        expected: String,
    },
}

/// Checks a token's times against the local clock and the backend's `Date`.
pub fn diagnose(claims: &TokenClaims, now: i64, server_now: Option<i64>) -> Diagnosis {
    let skew = server_now.map(|s| now.saturating_sub(s));
    let mut problems = Vec::new();
    if let Some(s) = skew
        && s.unsigned_abs() > SKEW_WARNING_SECS.unsigned_abs()
    {
        problems.push(Likely::ClockSkew(s));
    }
    // Judge expiry by the server's clock when we know it: that is what LiveKit uses.
    let reference = server_now.unwrap_or(now);
    if claims.exp != 0 && claims.exp <= reference {
        problems.push(Likely::Expired(reference.saturating_sub(claims.exp)));
    }
    if claims.nbf > reference.saturating_add(5) {
        problems.push(Likely::NotYetValid(claims.nbf.saturating_sub(reference)));
    }
    Diagnosis {
        expires_in: if claims.exp == 0 {
            i64::MAX
        } else {
            claims.exp.saturating_sub(now)
        },
        skew_secs: skew,
        problems,
    }
}

/// Why a token cannot work at all, so trying it would only fail later and
/// less clearly: it expired by both our clock and the backend's, or it is
/// for another room than the one the backend named.
pub fn unusable(
    claims: &TokenClaims,
    now: i64,
    server_now: Option<i64>,
    named_room: Option<&str>,
) -> Option<Likely> {
    let latest = server_now.map_or(now, |s| s.max(now));
    let earliest = server_now.map_or(now, |s| s.min(now));
    if claims.exp != 0 && claims.exp <= earliest {
        return Some(Likely::Expired(latest.saturating_sub(claims.exp)));
    }
    match named_room {
        Some(expected) if !expected.is_empty() && claims.room != expected => {
            Some(Likely::WrongRoom {
                token_room: claims.room.clone(),
                expected: expected.to_owned(),
            })
        }
        _ => None,
    }
}

/// When LiveKit refused a token (a 401 at join), the most likely reason.
pub fn explain_rejection(claims: &TokenClaims, now: i64, server_now: Option<i64>) -> Likely {
    let d = diagnose(claims, now, server_now);
    d.problems.into_iter().next().unwrap_or(Likely::WrongSecret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: serde_json::Value) -> String {
        let b = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("eyJhbGciOiJIUzI1NiJ9.{b}.sig")
    }

    #[test]
    fn reads_claims_and_room() {
        let c = read_claims(&token(serde_json::json!({"exp": 100, "nbf": 10, "iss": "devkey", "sub": "u1", "video": {"room": "r"}}))).unwrap();
        assert_eq!(
            (
                c.exp,
                c.nbf,
                c.iss.as_str(),
                c.sub.as_str(),
                c.room.as_str()
            ),
            (100, 10, "devkey", "u1", "r")
        );
        assert_eq!(read_claims("abc"), Err(ReadError::NotJwt));
        assert_eq!(read_claims("a.!!!.c"), Err(ReadError::BadClaims));
        assert_eq!(
            read_claims(&format!("a.{}.c", URL_SAFE_NO_PAD.encode("[1]"))),
            Err(ReadError::BadClaims)
        );
    }

    #[test]
    fn expired_tokens_and_tokens_for_another_room_are_unusable() {
        let c = TokenClaims {
            exp: 10_000,
            room: "session-a".into(),
            ..Default::default()
        };
        assert_eq!(unusable(&c, 5_000, Some(5_000), Some("session-a")), None);
        assert_eq!(unusable(&c, 5_000, None, None), None);
        // Expired by both clocks.
        assert_eq!(
            unusable(&c, 10_100, Some(10_050), None),
            Some(Likely::Expired(100))
        );
        // Expired by one clock only: worth trying (the warning says why).
        assert_eq!(unusable(&c, 10_100, Some(9_000), None), None);
        assert_eq!(
            unusable(&c, 5_000, None, Some("session-b")),
            Some(Likely::WrongRoom {
                token_room: "session-a".into(),
                expected: "session-b".into()
            })
        );
    }

    #[test]
    fn skewed_clocks_expired_and_early_tokens_and_foreign_secrets() {
        let c = TokenClaims {
            exp: 10_000,
            nbf: 2_000,
            ..Default::default()
        };
        // All well.
        assert!(diagnose(&c, 5_000, Some(5_001)).problems.is_empty());
        // Our clock 10 minutes ahead: skew reported first, token still fine by the server's clock.
        let d = diagnose(&c, 5_600, Some(5_000));
        assert_eq!(d.skew_secs, Some(600));
        assert_eq!(d.problems, vec![Likely::ClockSkew(600)]);
        assert!(
            Likely::ClockSkew(600)
                .to_string()
                .contains("600 s ahead of")
        );
        assert!(Likely::ClockSkew(-600).to_string().contains("behind"));
        // Expired by the server's clock.
        assert_eq!(
            explain_rejection(&c, 10_050, Some(10_050)),
            Likely::Expired(50)
        );
        // Not valid yet.
        assert_eq!(
            explain_rejection(&c, 1_000, None),
            Likely::NotYetValid(1_000)
        );
        // Nothing wrong with the times: the signature is the likely cause.
        assert_eq!(
            explain_rejection(&c, 5_000, Some(5_000)),
            Likely::WrongSecret
        );
        assert!(
            Likely::WrongSecret
                .to_string()
                .contains("LIVEKIT_API_SECRET")
        );
    }
}
