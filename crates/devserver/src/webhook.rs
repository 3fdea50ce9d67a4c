//! Webhook delivery: events POSTed as JSON with LiveKit's signed `Authorization` header.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use livekit_api::access_token::AccessToken;
use livekit_protocol as proto;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

/// Bound on undelivered events; past it new events are dropped (and counted in the log).
const QUEUE: usize = 1024;

/// Sender side, owned by the SFU. Does nothing when no URL is configured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Webhooks {
    tx: Option<mpsc::Sender<proto::WebhookEvent>>,
}

impl Webhooks {
    /// Starts the delivery task when a URL is given.
    pub(crate) fn start(url: Option<String>, key: Option<(String, String)>) -> Self {
        let (Some(url), Some((key, secret))) = (url, key) else {
            return Self::default();
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(deliver(url, key, secret, rx));
        Self { tx: Some(tx) }
    }

    pub(crate) fn room_event(&self, event: &str, room: Option<proto::Room>) {
        self.emit(proto::WebhookEvent {
            event: event.to_owned(),
            room,
            ..Default::default()
        });
    }

    pub(crate) fn participant_event(
        &self,
        event: &str,
        room: Option<proto::Room>,
        participant: proto::ParticipantInfo,
        track: Option<proto::TrackInfo>,
    ) {
        self.emit(proto::WebhookEvent {
            event: event.to_owned(),
            room,
            participant: Some(participant),
            track,
            ..Default::default()
        });
    }

    fn emit(&self, mut ev: proto::WebhookEvent) {
        let Some(tx) = &self.tx else { return };
        ev.id = crate::ids::event_id();
        ev.created_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        match tx.try_send(ev) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(ev)) => {
                tracing::warn!(event = %ev.event, "webhook queue full; event dropped");
            }
            Err(mpsc::error::TrySendError::Closed(ev)) => {
                tracing::debug!(event = %ev.event, "webhook delivery stopped; event dropped");
            }
        }
    }
}

/// Signs a body the way LiveKit does: a JWT from the API key whose `sha256`
/// claim is the base64 SHA-256 of the body.
pub(crate) fn sign(key: &str, secret: &str, body: &[u8]) -> Result<String, String> {
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
    AccessToken::with_api_key(key, secret)
        .with_ttl(Duration::from_secs(300))
        .with_sha256(&digest)
        .to_jwt()
        .map_err(|e| e.to_string())
}

async fn deliver(
    url: String,
    key: String,
    secret: String,
    mut rx: mpsc::Receiver<proto::WebhookEvent>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("webhooks disabled: {e}");
            return;
        }
    };
    while let Some(ev) = rx.recv().await {
        let body = match serde_json::to_vec(&ev) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("webhook {} not encodable: {e}", ev.event);
                continue;
            }
        };
        let auth = match sign(&key, &secret, &body) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!("webhook not signed: {e}");
                continue;
            }
        };
        // Three tries with a short pause; a dev server should not stall on a dead receiver.
        for attempt in 1..=3 {
            let sent = client
                .post(&url)
                .header("Content-Type", "application/webhook+json")
                .header("Authorization", &auth)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => break,
                Ok(r) => {
                    tracing::warn!(event = %ev.event, status = %r.status(), attempt, "webhook refused")
                }
                Err(e) => tracing::warn!(event = %ev.event, attempt, "webhook not delivered: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use livekit_api::access_token::TokenVerifier;
    use livekit_api::webhooks::WebhookReceiver;

    #[test]
    fn livekit_api_receiver_accepts_our_signature_and_rejects_tampering() {
        let ev = livekit_protocol::WebhookEvent {
            event: "room_started".into(),
            id: "EV_1".into(),
            room: Some(livekit_protocol::Room {
                name: "r1".into(),
                sid: "RM_x".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let body = serde_json::to_string(&ev).unwrap();
        let auth = super::sign("devkey", "secret", body.as_bytes()).unwrap();
        let receiver = WebhookReceiver::new(TokenVerifier::with_api_key("devkey", "secret"));
        let got = receiver.receive(&body, &auth).unwrap();
        assert_eq!(got.event, "room_started");
        assert_eq!(got.room.unwrap().name, "r1");
        let tampered = body.replace("r1", "r2");
        assert!(receiver.receive(&tampered, &auth).is_err());
        let other = WebhookReceiver::new(TokenVerifier::with_api_key("devkey", "other"));
        assert!(other.receive(&body, &auth).is_err());
    }
}
