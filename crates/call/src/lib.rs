//! tandem-call: the call engine, free of UI: tokens from each platform's
//! backend with classified errors, token diagnosis, the device preview
//! before joining, and the call session.

pub mod diagnose;
pub mod link;
pub mod p2p;
pub mod platform;
pub mod prejoin;
pub mod room;
pub mod session;
pub mod supabase;
pub use tandem_lk as lk;
pub use tandem_media as media;
