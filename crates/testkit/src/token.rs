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
    AccessToken::with_api_key(KEY, SECRET)
        .with_identity(identity)
        .with_name(name)
        .with_ttl(Duration::from_secs(600))
        .with_grants(VideoGrants {
            room_join: true,
            room: room.to_owned(),
            ..Default::default()
        })
        .to_jwt()
        .expect("signing a test token")
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
