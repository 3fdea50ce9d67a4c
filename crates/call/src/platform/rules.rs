//! What a platform's sessions mean, the same for the app and the CLI: the
//! token request each profile takes, which sessions can be joined or are
//! worth listing, and what a person may type as their name or a session
//! id. (What a booking's word means is `SessionType::from_platform`.)

use super::{BackendError, Profile, TokenRequest};

impl Profile {
    /// The token request for a session: its id (its room for profiles 001
    /// and 003), or the join link's token (004), and the name to show.
    pub fn token_request(
        &self,
        session: Option<String>,
        link: Option<String>,
        name: Option<String>,
    ) -> TokenRequest {
        match self {
            Profile::Seed001 | Profile::Seed003 => TokenRequest {
                room: session,
                name,
                link,
                ..TokenRequest::default()
            },
            _ => TokenRequest {
                session,
                name,
                link,
                ..TokenRequest::default()
            },
        }
    }
}

/// Whether a session in `status` can still be joined: not when it was
/// cancelled or is over (said in the person's words).
pub fn joinable(status: &str) -> Result<(), BackendError> {
    match status.trim().to_ascii_lowercase().as_str() {
        "cancelled" | "canceled" => Err(BackendError::Gone(
            "This session was cancelled. Ask your coach for a new booking.".into(),
        )),
        "completed" | "ended" => Err(BackendError::Gone("This session has already ended.".into())),
        _ => Ok(()),
    }
}

/// Whether a session in `status` belongs in the list to join from
/// (scheduled or under way; an empty status is a platform that has none).
pub fn listed(status: &str) -> bool {
    matches!(status.trim(), "scheduled" | "in_progress" | "")
}

/// What a person typed that cannot be used, and what to type instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub &'static str);

/// Characters of a display name a person may type.
pub const MAX_DISPLAY_NAME: usize = 64;

/// A display name as others will see it: trimmed, not empty, at most
/// [`MAX_DISPLAY_NAME`] characters, no control characters.
pub fn display_name(raw: &str) -> Result<String, Invalid> {
    let name = raw.trim();
    if name.is_empty()
        || name.chars().count() > MAX_DISPLAY_NAME
        || name.chars().any(char::is_control)
    {
        return Err(Invalid(
            "Enter your name as others should see it (up to 64 characters).",
        ));
    }
    Ok(name.to_owned())
}

/// A session id typed by hand: trimmed, not empty, at most 200 bytes, no
/// control characters.
pub fn session_id(raw: &str) -> Result<String, Invalid> {
    let id = raw.trim();
    if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
        return Err(Invalid(
            "Enter the session id shown on the platform's website.",
        ));
    }
    Ok(id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_profile_asks_for_its_own_kind_of_session() {
        let s = || Some("s1".to_owned());
        let name = || Some("Ann".to_owned());
        let r = Profile::Seed003.token_request(s(), None, name());
        assert_eq!((r.room.as_deref(), r.session), (Some("s1"), None));
        let r = Profile::Seed001.token_request(s(), None, None);
        assert_eq!(r.room.as_deref(), Some("s1"));
        let r = Profile::Seed000.token_request(s(), None, name());
        assert_eq!((r.session.as_deref(), r.room), (Some("s1"), None));
        let r = Profile::Seed004.token_request(None, Some("lnk".into()), name());
        assert_eq!(
            (r.link.as_deref(), r.name.as_deref()),
            (Some("lnk"), Some("Ann"))
        );
    }

    #[test]
    fn cancelled_and_finished_sessions_cannot_be_joined_nor_are_listed() {
        assert!(joinable("scheduled").is_ok());
        assert!(joinable("").is_ok());
        assert!(
            matches!(joinable("Cancelled"), Err(BackendError::Gone(m)) if m.contains("cancelled"))
        );
        assert!(matches!(joinable("completed"), Err(BackendError::Gone(m)) if m.contains("ended")));
        assert!(
            listed("in_progress") && listed("") && !listed("completed") && !listed("cancelled")
        );
    }

    #[test]
    fn names_and_session_ids_are_checked_as_typed() {
        assert_eq!(display_name("  Ann Lee ").unwrap(), "Ann Lee");
        assert!(display_name("   ").is_err());
        assert!(display_name(&"x".repeat(65)).is_err());
        assert_eq!(display_name(&"é".repeat(64)).unwrap().chars().count(), 64);
        assert!(display_name("Ann\u{7}").is_err());
        assert_eq!(session_id(" abc ").unwrap(), "abc");
        assert!(session_id("").is_err());
        assert!(session_id(&"1".repeat(201)).is_err());
        assert!(session_id("a\nb").is_err());
    }
}
