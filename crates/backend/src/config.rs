//! Settings from a TOML file, overridden by environment variables.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

/// Everything the backend needs.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `sqlite://path` (default `sqlite://tandem.db`) or `postgres://…`.
    pub database_url: String,
    /// HS256 secret for user JWTs (Supabase's JWT secret works).
    pub jwt_secret: String,
    /// Required `aud` of user JWTs.
    pub jwt_audience: String,
    /// LiveKit server URL handed to clients (ws:// or wss://).
    pub livekit_url: String,
    /// LiveKit API key and secret used to mint tokens and call RoomService.
    pub livekit_api_key: String,
    /// See [`Config::livekit_api_key`].
    pub livekit_api_secret: String,
    /// Adds `_debug` fields and allows `--dev` seeding.
    pub dev: bool,
    /// Allowed CORS origins; `*` allows any. Empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// Login attempts per client address per minute.
    pub login_per_minute: u32,
    /// Token requests per client address per minute.
    pub token_per_minute: u32,
    /// The `apikey` Supabase-style sign-in requires (`/auth/v1/…`); empty:
    /// any non-empty key.
    pub supabase_anon_key: String,
    /// Serves seed 004's `POST /api/sessions/livekit-token`, which only
    /// tandem-backend has. Off, this is seed 004's platform as it really
    /// is: its calls go peer to peer through the Socket.IO room server.
    pub seed_004_livekit: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database", &redact_url(&self.database_url))
            .field("livekit_url", &self.livekit_url)
            .field("livekit_api_key", &self.livekit_api_key)
            .field("dev", &self.dev)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            database_url: "sqlite://tandem.db".into(),
            jwt_secret: String::new(),
            jwt_audience: "authenticated".into(),
            livekit_url: "ws://127.0.0.1:7880".into(),
            livekit_api_key: String::new(),
            livekit_api_secret: String::new(),
            dev: false,
            cors_origins: Vec::new(),
            login_per_minute: 20,
            token_per_minute: 240,
            supabase_anon_key: String::new(),
            seed_004_livekit: true,
        }
    }
}

/// A configuration problem, said so a person can fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads `file` (if given), then applies environment variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut cfg = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| ConfigError(format!("cannot read {}: {e}", p.display())))?;
                toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", p.display())))?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        Ok(cfg)
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("TANDEM_LISTEN") {
            self.listen = v
                .parse()
                .map_err(|_| ConfigError(format!("TANDEM_LISTEN={v:?} is not host:port")))?;
        }
        if let Some(v) = get("DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = get("TANDEM_JWT_SECRET").or_else(|| get("SUPABASE_JWT_SECRET")) {
            self.jwt_secret = v;
        }
        if let Some(v) = get("LIVEKIT_URL").or_else(|| get("LIVEKIT_SERVER_URL")) {
            self.livekit_url = v;
        }
        if let Some(v) = get("SUPABASE_ANON_KEY") {
            self.supabase_anon_key = v;
        }
        if let Some(v) = get("LIVEKIT_API_KEY") {
            self.livekit_api_key = v;
        }
        if let Some(v) = get("LIVEKIT_API_SECRET") {
            self.livekit_api_secret = v;
        }
        if let Some(v) = get("TANDEM_CORS_ORIGINS") {
            self.cors_origins = v
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
        }
        Ok(())
    }

    /// Settings for tests and local demos: loopback on a free port, the dev
    /// server's `devkey`/`secret`, the given database, LiveKit URL and JWT secret.
    pub fn for_tests(database_url: &str, livekit_url: &str, jwt_secret: &str) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.to_owned(),
            jwt_secret: jwt_secret.to_owned(),
            livekit_url: livekit_url.to_owned(),
            livekit_api_key: "devkey".into(),
            livekit_api_secret: "secret".into(),
            ..Config::default()
        }
    }

    /// Checks what the server cannot run without.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.jwt_secret.len() < 16 {
            return Err(ConfigError(
                "the JWT secret is missing or shorter than 16 bytes: set TANDEM_JWT_SECRET (or SUPABASE_JWT_SECRET)".into(),
            ));
        }
        if !(self.livekit_url.starts_with("ws://") || self.livekit_url.starts_with("wss://")) {
            return Err(ConfigError(format!(
                "LIVEKIT_URL must start with ws:// or wss://, got {:?}",
                self.livekit_url
            )));
        }
        if self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres") {
            Ok(())
        } else {
            Err(ConfigError(format!(
                "DATABASE_URL must be sqlite://… or postgres://…, got {:?}",
                redact_url(&self.database_url)
            )))
        }
    }

    /// Whether token minting is possible (the API key and secret are set).
    pub fn livekit_configured(&self) -> bool {
        !self.livekit_api_key.is_empty() && !self.livekit_api_secret.is_empty()
    }
}

/// Hides a password in a database URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:…{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_and_validation() {
        let mut c = Config::default();
        c.apply_env(|k| match k {
            "SUPABASE_JWT_SECRET" => Some("0123456789abcdef0123".into()),
            "LIVEKIT_SERVER_URL" => Some("wss://x.livekit.cloud".into()),
            "DATABASE_URL" => Some("postgres://u:pw@h/db".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.livekit_url, "wss://x.livekit.cloud");
        c.validate().unwrap();
        c.livekit_url = "https://x".into();
        assert!(c.validate().unwrap_err().0.contains("ws://"));
        let bad = c.apply_env(|k| (k == "TANDEM_LISTEN").then(|| "nope".to_owned()));
        assert!(bad.is_err());
    }

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            redact_url("postgres://u:secretpw@h:5432/db"),
            "postgres://u:…@h:5432/db"
        );
        assert!(
            !format!(
                "{:?}",
                Config {
                    database_url: "postgres://u:pw9@h/d".into(),
                    jwt_secret: "s3cr3t-s3cr3t-s3cr3t".into(),
                    ..Default::default()
                }
            )
            .contains("pw9")
        );
    }
}
