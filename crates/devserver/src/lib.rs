//! tandem-devserver: a single-node SFU speaking LiveKit's v0 client protocol.
//!
//! For development, CI and two-machine LAN test calls. Production uses LiveKit
//! Cloud or a self-hosted livekit-server.

pub mod auth;
pub mod config;
mod http;
mod ids;
mod sfu;
mod signal;
#[cfg(test)]
mod testing;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use config::Config;
pub use sfu::{Counts, DataCount, MediaPath, Traffic};

/// A running server. Dropping it does not stop it; call [`Server::stop`].
#[derive(Debug)]
pub struct Server {
    http_addr: SocketAddr,
    media_addr: SocketAddr,
    sfu: sfu::SfuHandle,
    stop_sfu: Option<oneshot::Sender<()>>,
    stop_http: Option<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The HTTP port could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Http(SocketAddr, std::io::Error),
    /// The UDP media port could not be bound.
    #[error("cannot bind UDP media port {0}: {1}")]
    Udp(SocketAddr, std::io::Error),
    /// No API key configured.
    #[error("no API key configured")]
    NoKeys,
}

impl Server {
    /// Binds both ports and starts serving.
    pub async fn start(cfg: Config) -> Result<Server, StartError> {
        if cfg.keys.is_empty() {
            return Err(StartError::NoKeys);
        }
        let http_bind = SocketAddr::new(cfg.bind, cfg.port);
        let listener = TcpListener::bind(http_bind)
            .await
            .map_err(|e| StartError::Http(http_bind, e))?;
        let udp_bind = SocketAddr::new(cfg.bind, cfg.udp_port);
        let socket = UdpSocket::bind(udp_bind)
            .await
            .map_err(|e| StartError::Udp(udp_bind, e))?;
        let http_addr = listener
            .local_addr()
            .map_err(|e| StartError::Http(http_bind, e))?;
        let udp_port = socket
            .local_addr()
            .map_err(|e| StartError::Udp(udp_bind, e))?
            .port();
        let media_addr = SocketAddr::new(cfg.candidate_ip(), udp_port);

        let cfg = Arc::new(cfg);
        let webhooks = webhook::Webhooks::start(
            cfg.webhook_url.clone(),
            cfg.signing_key().map(|(k, s)| (k.to_owned(), s.to_owned())),
        );
        let (tx, rx) = mpsc::channel(1024);
        let handle = sfu::SfuHandle { tx };
        let (stop_sfu, stop_sfu_rx) = oneshot::channel();
        let core = sfu::Sfu::new(cfg.clone(), Arc::new(socket), media_addr, webhooks);
        let sfu_task = tokio::spawn(core.run(rx, stop_sfu_rx));

        let state = http::AppState {
            keys: auth::Keys::new(cfg.keys.clone()),
            cfg: cfg.clone(),
            sfu: handle.clone(),
        };
        let (stop_http, stop_http_rx) = oneshot::channel::<()>();
        let app = http::router(state);
        let http_task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_http_rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!("http server stopped: {e}");
            }
        });
        tracing::info!(%http_addr, %media_addr, "tandem-devserver listening");
        Ok(Server {
            http_addr,
            media_addr,
            sfu: handle,
            stop_sfu: Some(stop_sfu),
            stop_http: Some(stop_http),
            tasks: vec![sfu_task, http_task],
        })
    }

    /// The HTTP/WebSocket address actually bound.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The address written into ICE candidates.
    pub fn media_addr(&self) -> SocketAddr {
        self.media_addr
    }

    /// The URL clients connect to (`ws://host:port`).
    pub fn url(&self) -> String {
        format!("ws://{}", self.http_addr)
    }

    /// Live rooms, participants and tracks.
    pub async fn counts(&self) -> Option<Counts> {
        self.sfu.call(sfu::Command::Counts).await
    }

    /// Every publisher-to-subscriber media path with its frame counts.
    pub async fn paths(&self) -> Vec<MediaPath> {
        self.sfu.call(sfu::Command::Paths).await.unwrap_or_default()
    }

    /// Data packets each participant sent and was sent.
    pub async fn data_counts(&self) -> Vec<DataCount> {
        self.sfu.call(sfu::Command::Data).await.unwrap_or_default()
    }

    /// Traffic totals since start.
    pub async fn traffic(&self) -> Option<Traffic> {
        self.sfu.call(sfu::Command::Traffic).await
    }

    /// Tells one participant the server is leaving and it should reconnect
    /// (what `simulate{server_leave}` does); false when it is not in the room.
    pub async fn server_leave(&self, room: &str, identity: &str) -> bool {
        let (room, identity) = (room.to_owned(), identity.to_owned());
        self.sfu
            .call(|tx| sfu::Command::ServerLeave(room, identity, tx))
            .await
            .unwrap_or(false)
    }

    /// Closes every room (clients get a leave), then stops both listeners.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop_sfu.take() {
            let _ = s.send(());
        }
        // Give the leave messages a moment to reach the sockets.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if let Some(s) = self.stop_http.take() {
            let _ = s.send(());
        }
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(3), t).await;
        }
    }
}
