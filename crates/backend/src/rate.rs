//! Per-address request limits for login and token endpoints.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// (bucket, client address) → (window start, requests in it).
type Windows = HashMap<(&'static str, IpAddr), (Instant, u32)>;

/// A fixed-window counter per (bucket, address).
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    windows: Mutex<Windows>,
}

impl Limiter {
    /// Counts a request; `Err(seconds to wait)` past `per_minute`.
    pub(crate) fn check(
        &self,
        bucket: &'static str,
        ip: IpAddr,
        per_minute: u32,
    ) -> Result<(), u64> {
        let now = Instant::now();
        let mut w = self.windows.lock();
        if w.len() > 100_000 {
            w.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let entry = w.entry((bucket, ip)).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        if entry.1 >= per_minute {
            let wait = 60 - now.duration_since(entry.0).as_secs().min(59);
            return Err(wait);
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn limits_per_bucket_and_address() {
        let l = super::Limiter::default();
        let a = "127.0.0.1".parse().unwrap();
        let b = "127.0.0.2".parse().unwrap();
        assert!(l.check("login", a, 2).is_ok());
        assert!(l.check("login", a, 2).is_ok());
        assert!(l.check("login", a, 2).unwrap_err() >= 1);
        assert!(l.check("login", b, 2).is_ok());
        assert!(l.check("token", a, 2).is_ok());
    }
}
