//! End-to-end encryption of media with LiveKit's frame encryption
//! (AES-GCM on each encoded frame, keys derived with PBKDF2), the scheme
//! LiveKit's JS SDK (`ExternalE2EEKeyProvider`), Python and Rust SDKs share:
//! a passphrase given to any of them derives the same frame keys, so an
//! encrypted call can include web participants.
//!
//! What it covers: our published audio and video (and whatever we
//! receive). What it does not: chat and other data packets, and what the
//! server sees anyway (who is in the room, when, and how much they send).

use crate::error::{FfiError, LkError};
use crate::ffi;
use crate::proto;
use crate::proto::ffi_request::Message as Rq;
use crate::proto::ffi_response::Message as Rs;

/// The salt LiveKit's SDKs derive frame keys with by default; the same
/// passphrase gives the same keys only with the same salt.
pub const RATCHET_SALT: &[u8] = b"LKFrameEncryptionKey";

/// How many ratchet steps forward a receiver tries when a frame does not
/// decrypt (to follow a sender that ratcheted its key). None: with any
/// window, LiveKit's receiver that failed for a while (someone on another
/// key) never decrypts again after the right key is set, while with none it
/// recovers at once (measured in `crates/call/tests/e2ee.rs`): on a failure
/// it writes back the key it started with, even one replaced meanwhile.
/// LiveKit's JS SDK uses none for shared keys too; Tandem never ratchets.
const RATCHET_WINDOW: i32 = 0;
/// Keys kept per participant (key indexes 0..16).
const KEY_RING: i32 = 16;

/// The longest key or passphrase accepted.
pub const MAX_KEY_BYTES: usize = 1024;

/// A key everyone in the room shares: a passphrase, or bytes a platform
/// handed out. Its `Debug` never shows it, and its bytes are wiped when it
/// is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedKey(Vec<u8>);

impl std::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedKey({} bytes)", self.0.len())
    }
}

impl Drop for SharedKey {
    fn drop(&mut self) {
        for b in &mut self.0 {
            // SAFETY: `b` is a valid, aligned, exclusive reference into our
            // own buffer; a volatile write keeps the wipe from being
            // optimised away.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

impl SharedKey {
    /// A passphrase as typed (used exactly: no trimming, so both sides
    /// derive the same key from the same characters).
    pub fn from_passphrase(passphrase: &str) -> Result<Self, LkError> {
        if passphrase.chars().any(char::is_control) {
            return Err(invalid("the passphrase contains control characters"));
        }
        Self::from_bytes(passphrase.as_bytes())
    }

    /// Key material as bytes (as a platform hands it out).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LkError> {
        if bytes.is_empty() {
            return Err(invalid("the key is empty"));
        }
        if bytes.len() > MAX_KEY_BYTES {
            return Err(invalid(&format!(
                "the key is longer than {MAX_KEY_BYTES} bytes"
            )));
        }
        Ok(Self(bytes.to_vec()))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn options(&self) -> proto::E2eeOptions {
        proto::E2eeOptions {
            encryption_type: proto::EncryptionType::Gcm as i32,
            key_provider_options: proto::KeyProviderOptions {
                shared_key: Some(self.0.clone().into()),
                ratchet_window_size: RATCHET_WINDOW,
                ratchet_salt: RATCHET_SALT.to_vec().into(),
                // Never give up on a sender: a wrong key is reported as
                // such (and fixed by setting the right one), not by
                // dropping the participant's media for good.
                failure_tolerance: -1,
                key_ring_size: KEY_RING,
                key_derivation_function: proto::KeyDerivationFunction::Pbkdf2 as i32,
            },
        }
    }
}

fn invalid(why: &str) -> LkError {
    LkError::Invalid {
        what: "encryption key",
        why: why.to_owned(),
    }
}

/// Where a participant's encrypted media is, as LiveKit reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptionState {
    /// Not started yet.
    New,
    /// Encrypting (ours) or decrypting (theirs).
    Ok,
    /// Our media could not be encrypted.
    EncryptionFailed,
    /// Their media does not decrypt: another key, or none.
    DecryptionFailed,
    /// There is no key for them.
    MissingKey,
    /// The key was ratcheted forward.
    KeyRatcheted,
    /// LiveKit failed inside.
    InternalError,
    /// Their media comes unencrypted (an app without end-to-end
    /// encryption). Not LiveKit's: read from their track's publication.
    NotEncrypted,
}

impl EncryptionState {
    pub(crate) fn from_proto(state: i32) -> Self {
        use proto::EncryptionState as S;
        match S::try_from(state) {
            Ok(S::New) => Self::New,
            Ok(S::Ok) => Self::Ok,
            Ok(S::EncryptionFailed) => Self::EncryptionFailed,
            Ok(S::DecryptionFailed) => Self::DecryptionFailed,
            Ok(S::MissingKey) => Self::MissingKey,
            Ok(S::KeyRatcheted) => Self::KeyRatcheted,
            Ok(S::InternalError) | Err(_) => Self::InternalError,
        }
    }

    /// Whether media flows decrypted in this state.
    pub fn working(self) -> bool {
        matches!(self, Self::Ok | Self::KeyRatcheted)
    }
}

/// Sends one E2EE request for `room`; its response.
pub(crate) fn request(
    room: u64,
    message: proto::e2ee_request::Message,
) -> Result<proto::e2ee_response::Message, LkError> {
    let client = ffi::client().map_err(FfiError::from)?;
    let response = client.request(Rq::E2ee(proto::E2eeRequest {
        room_handle: room,
        message: Some(message),
    }))?;
    match response {
        Rs::E2ee(proto::E2eeResponse {
            message: Some(m), ..
        }) => Ok(m),
        _ => Err(FfiError::Protocol("E2ee answered with another message".into()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_never_shown() {
        let k = SharedKey::from_passphrase("correct horse battery staple")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{k:?}"), "SharedKey(28 bytes)");
        assert!(SharedKey::from_passphrase("").is_err());
        assert!(SharedKey::from_passphrase("tab\there").is_err());
        assert!(SharedKey::from_bytes(&[7; MAX_KEY_BYTES + 1]).is_err());
        assert!(SharedKey::from_bytes(&[7; MAX_KEY_BYTES]).is_ok());
        // Used exactly as typed.
        assert_ne!(
            SharedKey::from_passphrase(" a").ok(),
            SharedKey::from_passphrase("a").ok()
        );
    }

    #[test]
    fn the_options_match_livekits_other_sdks() {
        let k = SharedKey::from_passphrase("pass").unwrap_or_else(|e| panic!("{e}"));
        let o = k.options();
        assert_eq!(o.encryption_type, proto::EncryptionType::Gcm as i32);
        let p = o.key_provider_options;
        assert_eq!(p.ratchet_salt.as_ref(), b"LKFrameEncryptionKey");
        assert_eq!(p.shared_key.as_deref(), Some(&b"pass"[..]));
        assert_eq!(
            p.key_derivation_function,
            proto::KeyDerivationFunction::Pbkdf2 as i32
        );
    }
}
