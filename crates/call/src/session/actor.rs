//! The call before it is in a room: the platform's session and token, the
//! token's diagnosis, and the connection (or, for seed 004's platform, the
//! whole call peer to peer); then [`InCall`] holds it.

use tracing::Instrument;

use super::handle::{self, CallEvents, CallHandle};
use super::in_call::{Basics, InCall, Joined};
use super::lifecycle::{Input, Lifecycle};
use super::p2p;
use super::types::{CallConfig, CallError, CallEvent, CallState, SessionType, TokenSource};
use crate::diagnose;
use crate::platform::{BackendError, Profile};
use crate::room::{Connector, Live};
use tandem_lk as lk;

/// One call, before it runs: its configuration, its channels and where it
/// is. [`CallSession::run`] holds the call until it ends.
#[derive(Debug)]
pub struct CallSession<C: Connector = Live> {
    s: Basics<C>,
}

impl CallSession<Live> {
    /// A call on LiveKit, not started: run it with [`CallSession::run`].
    pub fn new(config: CallConfig) -> (Self, CallHandle, CallEvents) {
        Self::with_connector(config, Live::default())
    }
}

impl<C: Connector> CallSession<C> {
    /// A call reaching its rooms through `connector`.
    pub fn with_connector(config: CallConfig, mut connector: C) -> (Self, CallHandle, CallEvents) {
        connector.set_encryption(config.e2ee.clone());
        connector.set_encoder(config.media.encoder);
        let (handle, commands, out, shared, events) = handle::channels(
            config.media.denoise.clone(),
            config.media.background.clone(),
        );
        let life = Lifecycle::new(config.paid_minutes, config.warn_before);
        let session = Self {
            s: Basics {
                cfg: config,
                connector,
                commands,
                out,
                shared,
                life,
            },
        };
        (session, handle, events)
    }

    /// Holds the call until it ends (the last event is `Ended` or `Failed`).
    pub async fn run(self) {
        let span = tracing::info_span!(
            "call",
            room = tracing::field::Empty,
            identity = tracing::field::Empty
        );
        self.hold().instrument(span).await;
    }

    fn step(&mut self, input: Input) {
        self.s.step(input);
    }

    async fn hold(mut self) {
        self.s.out.emit(CallEvent::State(CallState::Idle));
        let Some(joined) = self.join().await else {
            return;
        };
        let mut call = InCall::new(self.s, joined).await;
        let end = call.run().await;
        let InCall { mut s, local, .. } = call;
        // Closing devices joins their threads: off the async runtime.
        let _ = tokio::task::spawn_blocking(move || drop(local)).await;
        s.shared.clear_video();
        s.step(Input::Ended(end));
    }

    /// The platform made the session private: its key encrypts the media
    /// (over a passphrase the person gave, which is said).
    fn private_session(&mut self, key: lk::SharedKey) {
        if self.s.cfg.e2ee.as_ref().is_some_and(|k| *k != key) {
            self.s.out.emit(CallEvent::Warning(
                "this session is private: its media is encrypted with the key the platform gave, not the passphrase you entered".into(),
            ));
        }
        self.s.connector.set_encryption(Some(key.clone()));
        self.s.cfg.e2ee = Some(key);
    }

    /// Fails the call with `e`; nothing else follows.
    fn fail(&mut self, e: CallError) -> Option<Joined<C::Room>> {
        self.step(Input::Failed(e));
        None
    }

    /// Gets into the room: the platform's session and token, then LiveKit
    /// (or, for seed 004's platform, the whole call peer to peer). `None`
    /// when the call is already over (reported).
    async fn join(&mut self) -> Option<Joined<C::Room>> {
        let mut info = None;
        let (url, token, server_time, named_room) = match self.s.cfg.token.clone() {
            TokenSource::Direct { url, token } => (url, token, None, None),
            TokenSource::Backend(client, req) => {
                self.step(Input::FetchToken);
                match client.session_info(&req).await {
                    Ok(Some(i)) => {
                        // The booking decides what is published and for how long.
                        self.s.cfg.session_type = SessionType::from_platform(&i.session_type);
                        self.s.cfg.paid_minutes = self.s.cfg.paid_minutes.or(i.paid_minutes);
                        self.s.life.set_paid_minutes(self.s.cfg.paid_minutes);
                        self.s.out.emit(CallEvent::Session(i.clone()));
                        if let Err(e) = crate::platform::rules::joinable(&i.status) {
                            return self.fail(e.into());
                        }
                        info = Some(i);
                    }
                    Ok(None) => {}
                    Err(e) => return self.fail(e.into()),
                }
                // Seed 004's own calls are peer to peer: taken when the
                // profile says so, or when the platform has no LiveKit
                // token endpoint.
                let grant = match &info {
                    Some(_) if client.always_p2p() => None,
                    _ => Some(client.fetch_token(&req).await),
                };
                match (grant, &info) {
                    (Some(Ok(g)), _) => {
                        if let Some(key) = g.e2ee_key {
                            self.private_session(key);
                        }
                        (g.server_url, g.token, g.server_time, g.room)
                    }
                    (None, Some(i)) | (Some(Err(BackendError::NoEndpoint { .. })), Some(i))
                        if client.profile() == &Profile::Seed004 =>
                    {
                        let call = p2p::Call {
                            cfg: &self.s.cfg,
                            client: &client,
                            req: &req,
                            info: i,
                            out: &self.s.out,
                            shared: &self.s.shared,
                        };
                        if let Some(end) = call.run(&mut self.s.life, &mut self.s.commands).await {
                            self.s.shared.clear_video();
                            self.step(Input::Ended(end));
                        }
                        return None;
                    }
                    (Some(Err(e)), _) => return self.fail(e.into()),
                    (None, _) => {
                        return self.fail(CallError::Connect("no call server to join".into()));
                    }
                }
            }
        };
        let claims = diagnose::read_claims(&token).ok();
        let wall = chrono::Utc::now().timestamp();
        if let Some(c) = &claims {
            if let Some(likely) = diagnose::unusable(c, wall, server_time, named_room.as_deref()) {
                return self.fail(CallError::TokenUnusable { likely });
            }
            for p in diagnose::diagnose(c, wall, server_time).problems {
                self.s.out.emit(CallEvent::Warning(p.to_string()));
            }
        }
        self.step(Input::Connect);
        match self.s.connector.connect(&url, &token).await {
            Ok((room, events)) => Some(Joined {
                url,
                info,
                room,
                events,
            }),
            Err(lk::ConnectError::Unauthorized { .. }) => {
                let likely = claims.as_ref().map_or(diagnose::Likely::WrongSecret, |c| {
                    diagnose::explain_rejection(c, wall, server_time)
                });
                self.fail(CallError::TokenRejected { likely })
            }
            Err(e) => self.fail(CallError::Connect(e.to_string())),
        }
    }
}
