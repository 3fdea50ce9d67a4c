//! Access tokens for the dev server's default key.

use std::time::Duration;

use livekit_api::access_token::{AccessToken, VideoGrants};

/// The dev server's default API key and secret.
pub const KEY: &str = "devkey";
/// See [`KEY`].
pub const SECRET: &str = "secret";

/// A join token for `identity` in `room` with default grants.
pub fn join(room: &str, identity: &str) -> String {
    join_with(room, identity, |_| {})
}

/// A join token whose grants `tweak` may change.
pub fn join_with(room: &str, identity: &str, tweak: impl FnOnce(&mut VideoGrants)) -> String {
    let mut grants = VideoGrants {
        room_join: true,
        room: room.to_owned(),
        can_update_own_metadata: Some(true),
        ..Default::default()
    };
    tweak(&mut grants);
    AccessToken::with_api_key(KEY, SECRET)
        .with_identity(identity)
        .with_name(&format!("{identity} (test)"))
        .with_ttl(Duration::from_secs(600))
        .with_grants(grants)
        .to_jwt()
        .expect("signing a test token")
}

/// A join token for `identity` shown to others as `name` (any text: tests
/// use hostile names).
pub fn join_named(room: &str, identity: &str, name: &str) -> String {
    plain_join(room, identity, Some(name), SECRET)
}

/// A join token with only `room_join`, signed with `secret`.
fn plain_join(room: &str, identity: &str, name: Option<&str>, secret: &str) -> String {
    let mut token = AccessToken::with_api_key(KEY, secret).with_identity(identity);
    if let Some(name) = name {
        token = token.with_name(name);
    }
    token
        .with_ttl(Duration::from_secs(600))
        .with_grants(VideoGrants {
            room_join: true,
            room: room.to_owned(),
            ..Default::default()
        })
        .to_jwt()
        .expect("signing a test token")
}

/// A JWT with `claims` and a signature nobody can check: for tokens the app
/// must refuse before using them (expired, for another room).
pub fn unsigned(claims: &serde_json::Value) -> String {
    use base64::Engine as _;
    let b64 = |v: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.{}",
        b64(r#"{"alg":"HS256","typ":"JWT"}"#.into()),
        b64(claims.to_string()),
        b64("not a signature".into())
    )
}

/// A JWT with exactly `claims`, signed (HS256) with `secret`: for times
/// (`nbf`, `exp`) the token builder sets from this machine's clock.
pub fn signed(claims: &serde_json::Value, secret: &str) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let body = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body.as_bytes());
    format!("{body}.{}", b64(&mac.finalize().into_bytes()))
}

/// A join token signed with `secret` instead of the dev server's.
pub fn join_signed_by(room: &str, identity: &str, secret: &str) -> String {
    plain_join(room, identity, None, secret)
}

/// A RoomService token for `room` (create, list, admin).
pub fn admin(room: &str) -> String {
    AccessToken::with_api_key(KEY, SECRET)
        .with_ttl(Duration::from_secs(600))
        .with_grants(VideoGrants {
            room_create: true,
            room_list: true,
            room_admin: true,
            room: room.to_owned(),
            ..Default::default()
        })
        .to_jwt()
        .expect("signing a test token")
}
