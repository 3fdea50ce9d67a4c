//! Errors as the UI receives them: a `code` it may branch on and a message
//! a person can act on. The UI never parses messages.

use serde::{Deserialize, Serialize};
use specta::Type;
use tandem_call::diagnose::Likely;
use tandem_call::platform::BackendError;
use tandem_call::session::CallError;

/// What kind of problem; one code per way the UI reacts differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Something the user typed is not acceptable (the message says what).
    InvalidInput,
    /// The backend cannot be reached (network, address).
    Unreachable,
    /// The backend was too slow.
    Timeout,
    /// TLS failed.
    Tls,
    /// Sign-in needed again (expired or refused credentials).
    SignInRequired,
    /// Signed in, but not allowed (not a participant of this session…).
    Forbidden,
    /// The session or link does not exist.
    NotFound,
    /// The link or session expired, was cancelled or already ended.
    Gone,
    /// Too many attempts.
    RateLimited,
    /// The backend failed or answered something unexpected.
    BackendFailed,
    /// This platform does not offer the operation (e.g. a session list).
    Unsupported,
    /// The LiveKit server refused the token because of the clock.
    ClockSkew,
    /// The platform's key and the LiveKit server's do not match.
    WrongSecret,
    /// The token was refused for another reason.
    TokenRejected,
    /// The call server cannot be reached.
    ConnectFailed,
    /// A camera, microphone or speaker problem.
    Device,
    /// The OS keychain could not be used.
    Keychain,
    /// No call is running (the command came too late).
    NoCall,
    /// Checking for, downloading or installing an update failed (or updates
    /// are off in this build).
    Update,
    /// Anything else.
    Internal,
}

/// An error crossing to the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::Internal, message.to_string())
    }
}

/// Turns a message's first letter upper case, for showing it on its own.
pub(crate) fn sentence(s: String) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => s,
    }
}

impl From<tandem_call::media::screen::ScreenError> for AppError {
    fn from(e: tandem_call::media::screen::ScreenError) -> Self {
        Self::new(ErrorCode::Device, sentence(e.to_string()))
    }
}

impl From<tandem_call::link::LinkError> for AppError {
    fn from(e: tandem_call::link::LinkError) -> Self {
        Self::invalid(e.0)
    }
}

impl From<BackendError> for AppError {
    fn from(e: BackendError) -> Self {
        let code = match &e {
            BackendError::Unreachable { .. } => ErrorCode::Unreachable,
            BackendError::Timeout(_) => ErrorCode::Timeout,
            BackendError::Tls(_) => ErrorCode::Tls,
            BackendError::Unauthorized(_) => ErrorCode::SignInRequired,
            BackendError::Forbidden(_) => ErrorCode::Forbidden,
            BackendError::NotFound(_) => ErrorCode::NotFound,
            BackendError::Gone(_) => ErrorCode::Gone,
            BackendError::RateLimited(_) => ErrorCode::RateLimited,
            BackendError::BadRequest(_)
            | BackendError::MissingInput(_)
            | BackendError::SignInRefused(_) => ErrorCode::InvalidInput,
            BackendError::NoEndpoint { .. } => ErrorCode::Unsupported,
            BackendError::Server { .. }
            | BackendError::Malformed(_)
            | BackendError::WrongShape(_) => ErrorCode::BackendFailed,
        };
        Self::new(code, sentence(e.to_string()))
    }
}

impl From<CallError> for AppError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Backend(b) => b.into(),
            CallError::TokenRejected { likely } => {
                let code = match likely {
                    Likely::ClockSkew(_) | Likely::NotYetValid(_) => ErrorCode::ClockSkew,
                    Likely::WrongSecret => ErrorCode::WrongSecret,
                    Likely::Expired(_) | Likely::WrongRoom { .. } => ErrorCode::TokenRejected,
                };
                Self::new(
                    code,
                    sentence(format!("The call server refused to let you in: {likely}.")),
                )
            }
            CallError::TokenUnusable { likely } => Self::new(
                ErrorCode::TokenRejected,
                sentence(format!(
                    "The platform gave a session token that cannot work: {likely}. Try joining again; if it persists, tell your platform."
                )),
            ),
            CallError::Connect(detail) => Self::new(
                ErrorCode::ConnectFailed,
                format!(
                    "Cannot reach the call server ({detail}). Check your internet connection; if it works, the platform's call server may be down."
                ),
            ),
            CallError::Media(detail) => Self::new(
                ErrorCode::Device,
                format!("Your camera or microphone could not start: {detail}."),
            ),
            CallError::Unmute(detail) => Self::new(
                ErrorCode::Device,
                format!(
                    "Your microphone could not be turned on ({detail}), so it stays off. Try again."
                ),
            ),
            CallError::CameraOn(detail) => Self::new(
                ErrorCode::Device,
                format!("Your camera could not be turned on ({detail}), so it stays off."),
            ),
            CallError::Share(detail) => Self::new(
                ErrorCode::Device,
                format!("Your screen could not be shared: {detail}."),
            ),
            CallError::File(why) => Self::invalid(format!("{}.", sentence(why))),
            CallError::NotEncrypted => Self::invalid(
                "This call is not end-to-end encrypted, so it has no passphrase to change. Leave and join again with a passphrase.",
            ),
            CallError::KeyChange(detail) => Self::new(
                ErrorCode::Internal,
                format!("The passphrase could not be changed ({detail}); the old one stays."),
            ),
            CallError::Hand(detail) => Self::new(
                ErrorCode::ConnectFailed,
                format!("Your hand could not be raised or lowered ({detail})."),
            ),
            CallError::Reaction(detail) => Self::new(
                ErrorCode::ConnectFailed,
                format!("Your reaction could not be sent ({detail})."),
            ),
            CallError::NotInPeerToPeer(what) => Self::new(
                ErrorCode::Unsupported,
                format!(
                    "{} are not available in this platform's peer-to-peer calls.",
                    capitalised(what)
                ),
            ),
            CallError::Ended => Self::new(ErrorCode::NoCall, "The call has already ended."),
        }
    }
}

/// `s` with its first letter in upper case.
fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_errors_keep_their_advice_and_get_a_code() {
        let e: AppError = BackendError::Gone("session cancelled".into()).into();
        assert_eq!(e.code, ErrorCode::Gone);
        assert!(e.message.starts_with("This link has expired"));
        let e: AppError = CallError::TokenRejected {
            likely: Likely::ClockSkew(600),
        }
        .into();
        assert_eq!(e.code, ErrorCode::ClockSkew);
        assert!(e.message.contains("600 s ahead"), "{}", e.message);
        let e: AppError = CallError::TokenRejected {
            likely: Likely::WrongSecret,
        }
        .into();
        assert_eq!(e.code, ErrorCode::WrongSecret);
    }
}
