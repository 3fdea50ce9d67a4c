//! tandem-call: the call engine, free of UI. So far: fetching a token from
//! each platform's backend with classified errors, and diagnosing why a
//! LiveKit server might refuse a token.

pub mod backend;
pub mod diagnose;
pub mod session;
pub use tandem_media as media;
