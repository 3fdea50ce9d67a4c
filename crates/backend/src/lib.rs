//! tandem-backend: the reference token and session backend. It speaks the
//! HTTP shapes of five coaching platforms (seeds 000–004), so Tandem runs end
//! to end out of the box and can be tested against each platform's API.

pub mod auth;
pub mod config;
pub mod db;
pub mod dev;
pub mod error;
mod gotrue;
pub mod jwt;
pub mod lk;
pub mod model;
mod rate;
mod seeds;
mod signal;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use config::Config;
use error::ApiError;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub cfg: Arc<Config>,
    pub db: db::Db,
    limiter: Arc<rate::Limiter>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(cfg: Config, db: db::Db) -> Self {
        Self {
            cfg: Arc::new(cfg),
            db,
            limiter: Arc::default(),
        }
    }
}

/// Every route.
pub fn app(state: AppState) -> Router {
    let limited = Router::new()
        .route("/api/auth/login", post(auth::login))
        .route("/auth/v1/token", post(gotrue::token))
        .merge(seeds::token_routes(state.cfg.seed_004_livekit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(seeds::other_routes())
        .route("/api/livekit/webhook", post(webhook::receive))
        .route("/auth/v1/logout", post(gotrue::logout))
        .merge(limited)
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(signal::layer(state.clone()))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(state.clone(), cors))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Response {
    match sqlx::query("SELECT 1").execute(&state.db.pool).await {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!("health check: database unavailable: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "database unavailable"})),
            )
                .into_response()
        }
    }
}

async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let (bucket, limit) = if matches!(req.uri().path(), "/api/auth/login" | "/auth/v1/token") {
        ("login", state.cfg.login_per_minute)
    } else {
        ("token", state.cfg.token_per_minute)
    };
    if req.method() != Method::OPTIONS
        && let Err(wait) = state.limiter.check(bucket, ip, limit)
    {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many requests; try again in {wait} s"),
        );
        e.retry_after = Some(wait);
        return e.into_response();
    }
    next.run(req).await
}

async fn cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned);
    let allowed = origin.as_deref().and_then(|o| {
        let any = state.cfg.cors_origins.iter().any(|a| a == "*");
        (any || state.cfg.cors_origins.iter().any(|a| a == o))
            .then(|| if any { "*".to_owned() } else { o.to_owned() })
    });
    let preflight = req.method() == Method::OPTIONS;
    let mut res = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    if let Some(a) = allowed.and_then(|a| HeaderValue::from_str(&a).ok()) {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, a);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, apikey, x-client-info"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        h.insert(header::VARY, HeaderValue::from_static("origin"));
    }
    res
}

/// A running backend.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and waits for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.task).await;
    }
}

/// Connects the database, migrates, binds and serves.
pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    cfg.validate()?;
    let db = db::Db::connect(&cfg.database_url).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot open the database {}: {e}",
            config::redact_url(&cfg.database_url)
        )
    })?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let state = AppState::new(cfg, db);
    let router = app(state.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .await;
        if let Err(e) = served {
            tracing::error!("server stopped: {e}");
        }
    });
    tracing::info!(%addr, "tandem-backend listening");
    Ok(Running {
        addr,
        state,
        stop: Some(stop),
        task,
    })
}
