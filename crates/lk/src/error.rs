//! Typed errors. Each message says what happened and what to do.

use crate::loader::LoadError;

/// A failure talking to the LiveKit library itself.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FfiError {
    /// The library could not be found or loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The library refused a request (it answers invalid ones with handle 0
    /// and a log line, whose text is the reason here).
    #[error("LiveKit refused the {request} request: {reason}")]
    Rejected {
        /// Which request.
        request: &'static str,
        /// The library's own explanation.
        reason: String,
    },
    /// A response or event did not have the expected shape (a version mismatch).
    #[error(
        "unexpected answer from the LiveKit library: {0}. The library and tandem-lk disagree; rerun `cargo xtask setup`."
    )]
    Protocol(String),
    /// The library stopped before answering (it was shut down).
    #[error("the LiveKit library shut down before answering")]
    Closed,
}

/// An operation on a room, participant, track or stream failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LkError {
    /// The library itself failed.
    #[error(transparent)]
    Ffi(#[from] FfiError),
    /// LiveKit reported a failure for this operation.
    #[error("{operation} failed: {reason}")]
    Failed {
        /// What was attempted.
        operation: &'static str,
        /// LiveKit's reason.
        reason: String,
    },
    /// The arguments cannot be valid (checked before calling LiveKit).
    #[error("invalid {what}: {why}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// Why it is rejected.
        why: String,
    },
    /// The room was disconnected or dropped.
    #[error("the room is no longer connected")]
    Disconnected,
}

/// Why joining a room failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    /// The library itself failed.
    #[error(transparent)]
    Ffi(#[from] FfiError),
    /// The URL is not a ws:// or wss:// (or http(s)://) URL.
    #[error(
        "{url:?} is not a LiveKit server URL: it must start with wss:// (or ws:// for a local server)"
    )]
    InvalidUrl {
        /// The URL given.
        url: String,
    },
    /// The token is empty or not a JWT.
    #[error(
        "the access token is not a JWT (three dot-separated parts); ask the platform for a new one"
    )]
    InvalidToken,
    /// Nothing answered at the server address.
    #[error(
        "could not reach the LiveKit server at {url}: {reason}. Check the server URL and your network."
    )]
    Unreachable {
        /// The URL tried.
        url: String,
        /// The network error.
        reason: String,
    },
    /// The server refused the token (HTTP 401/403).
    #[error(
        "the LiveKit server rejected the access token (HTTP {status}): {reason}. The token may be expired, for another room, or signed with another key."
    )]
    Unauthorized {
        /// HTTP status the server answered with.
        status: u16,
        /// The server's reason, as it gave it.
        reason: String,
    },
    /// The server answered with another HTTP error.
    #[error("the LiveKit server answered HTTP {status}: {reason}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The server's reason.
        reason: String,
    },
    /// Any other failure LiveKit reported.
    #[error("could not join the room: {reason}")]
    Other {
        /// LiveKit's reason.
        reason: String,
    },
}

impl ConnectError {
    /// Classifies LiveKit's textual connect error.
    pub(crate) fn classify(url: &str, reason: String) -> Self {
        let lower = reason.to_ascii_lowercase();
        if let Some(status) = http_status(&reason) {
            return match status {
                401 | 403 => Self::Unauthorized { status, reason },
                _ => Self::Http { status, reason },
            };
        }
        let unreachable = [
            "connection refused",
            "failed to lookup",
            "dns error",
            "no route to host",
            "network is unreachable",
            "timed out",
            "timeout",
            "connection reset",
        ];
        if unreachable.iter().any(|needle| lower.contains(needle)) {
            return Self::Unreachable {
                url: url.to_owned(),
                reason,
            };
        }
        Self::Other { reason }
    }
}

/// Finds an HTTP error status (4xx/5xx) mentioned in LiveKit's message.
fn http_status(reason: &str) -> Option<u16> {
    let bytes = reason.as_bytes();
    for (i, window) in bytes.windows(3).enumerate() {
        let before_ok = i == 0 || !bytes[i - 1].is_ascii_digit();
        let after_ok = bytes.get(i + 3).is_none_or(|b| !b.is_ascii_digit());
        if before_ok
            && after_ok
            && window.iter().all(u8::is_ascii_digit)
            && matches!(window[0], b'4' | b'5')
        {
            let status: u16 = std::str::from_utf8(window).ok()?.parse().ok()?;
            let context = reason[..i].to_ascii_lowercase();
            // LiveKit writes e.g. "signal failure: client error: 401 Unauthorized - <reason>".
            if context.contains("status")
                || context.contains("http")
                || context.contains("code")
                || context.ends_with("error: ")
            {
                return Some(status);
            }
        }
    }
    None
}

/// LiveKit refused `operation`, saying why.
pub(crate) fn failed(operation: &'static str, reason: String) -> LkError {
    LkError::Failed { operation, reason }
}

/// The library answered `what` with an event that does not belong to it.
pub(crate) fn unexpected(what: &str) -> LkError {
    FfiError::Protocol(format!("{what} answered with another event")).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_http_and_network_failures() {
        assert!(matches!(
            ConnectError::classify(
                "ws://x",
                "server error: HTTP status 401: invalid token".into()
            ),
            ConnectError::Unauthorized { status: 401, .. }
        ));
        assert!(matches!(
            ConnectError::classify(
                "ws://x",
                "engine: signal failure: client error: 401 Unauthorized - invalid token: token is expired (exp)".into()
            ),
            ConnectError::Unauthorized { status: 401, .. }
        ));
        assert!(matches!(
            ConnectError::classify("ws://x", "http error: status code 503".into()),
            ConnectError::Http { status: 503, .. }
        ));
        assert!(matches!(
            ConnectError::classify(
                "ws://x",
                "io error: Connection refused (os error 111)".into()
            ),
            ConnectError::Unreachable { .. }
        ));
        assert!(matches!(
            ConnectError::classify("ws://x", "something odd".into()),
            ConnectError::Other { .. }
        ));
        // A number that is not a status stays unclassified.
        assert!(matches!(
            ConnectError::classify("ws://x", "room 4040 full".into()),
            ConnectError::Other { .. }
        ));
    }
}
