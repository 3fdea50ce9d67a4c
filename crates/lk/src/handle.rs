//! Owned FFI handles: each is dropped exactly once, by RAII.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static FAILED_DROPS: AtomicU64 = AtomicU64::new(0);

/// Counts of handles this process holds, for leak checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandleStats {
    /// Handles created and not yet dropped.
    pub live: usize,
    /// Drops the library refused (a double drop or an unknown handle).
    pub failed_drops: u64,
}

/// How many LiveKit handles are alive right now.
pub fn handle_stats() -> HandleStats {
    HandleStats {
        live: LIVE.load(Ordering::SeqCst),
        failed_drops: FAILED_DROPS.load(Ordering::SeqCst),
    }
}

/// A handle the library gave us; dropping it releases the native object.
#[derive(Debug)]
pub(crate) struct FfiHandle(u64);

impl FfiHandle {
    /// Takes ownership of `id`; `0` (the invalid handle) is held but never dropped.
    pub(crate) fn new(id: u64) -> Self {
        if id != 0 {
            LIVE.fetch_add(1, Ordering::SeqCst);
        }
        Self(id)
    }

    pub(crate) fn id(&self) -> u64 {
        self.0
    }

    /// The library took the object over (a stream reader, once reading
    /// starts): it releases it itself, so it is not dropped from here.
    pub(crate) fn taken_by_library(self) {
        if self.0 != 0 {
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
        std::mem::forget(self);
    }
}

impl Drop for FfiHandle {
    fn drop(&mut self) {
        if self.0 == 0 {
            return;
        }
        LIVE.fetch_sub(1, Ordering::SeqCst);
        if let Some(client) = crate::ffi::client_if_loaded()
            && !client.drop_handle(self.0)
        {
            FAILED_DROPS.fetch_add(1, Ordering::SeqCst);
            tracing::warn!(handle = self.0, "LiveKit refused to drop a handle");
        }
    }
}
