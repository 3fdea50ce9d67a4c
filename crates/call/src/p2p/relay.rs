//! The connection's relays: a TURN allocation per configured server, made
//! before the connection starts, whose relayed address becomes a `relay`
//! candidate; what str0m sends from it goes through the TURN client, and
//! what the server relays to us comes back to str0m as if received there.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Input, Rtc};
use tokio::net::UdpSocket;

use super::turn::{self, Got, TurnServer};

/// How long a TURN server may take to grant a relay (challenge included).
const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// A relay on each TURN server, from the first IPv4 socket, its candidate
/// added to `rtc`; and why the first server that granted none did not. A
/// server that grants none is logged and left out: the call goes on with
/// the other paths.
pub(super) async fn relays(
    rtc: &mut Rtc,
    sockets: &[Arc<UdpSocket>],
    servers: &[TurnServer],
) -> (Vec<Relay>, Option<String>) {
    let Some(socket) = sockets
        .iter()
        .find(|s| s.local_addr().is_ok_and(|a| a.is_ipv4()))
        .or(sockets.first())
    else {
        return (Vec::new(), None);
    };
    let Ok(local) = socket.local_addr() else {
        return (Vec::new(), None);
    };
    let mut relays = Vec::new();
    let mut refused = None;
    for server in servers {
        match turn::allocate(socket, server, TURN_WAIT).await {
            Ok((client, address)) => {
                let Some(relay) = client.relay() else {
                    continue;
                };
                match Candidate::relayed(relay, local, "udp") {
                    Ok(c) => {
                        tracing::info!(server = %server.address, %relay, "TURN relay granted");
                        rtc.add_local_candidate(c);
                        relays.push(Relay {
                            client,
                            socket: socket.clone(),
                            local,
                            server: address,
                            relay,
                        });
                    }
                    Err(e) => tracing::warn!(%relay, "no relayed candidate: {e}"),
                }
            }
            Err(e) => {
                tracing::warn!(server = %server.address, "no TURN relay: {e}");
                refused.get_or_insert_with(|| format!("{}: {e}", server.address));
            }
        }
    }
    (relays, refused)
}

/// A relay on a TURN server: media to and from it goes through `client`.
pub(super) struct Relay {
    pub(super) client: turn::Client,
    pub(super) socket: Arc<UdpSocket>,
    /// Our socket's own address.
    pub(super) local: SocketAddr,
    /// The TURN server's.
    pub(super) server: SocketAddr,
    /// The relayed address peers see.
    pub(super) relay: SocketAddr,
}

impl Relay {
    /// Sends what the client has for its server.
    pub(super) fn flush(&mut self) {
        while let Some(d) = self.client.transmit() {
            let _ = self.socket.try_send_to(&d, self.server);
        }
    }

    /// Handles what the client says of a datagram or a timeout.
    pub(super) fn got(&mut self, got: Got, rtc: &mut Rtc) {
        match got {
            Got::Data { from, data } => {
                if let Ok(r) = Receive::new(Protocol::Udp, from, self.relay, &data) {
                    let _ = rtc.handle_input(Input::Receive(Instant::now(), r));
                }
            }
            Got::Failed(e) => tracing::warn!(relay = %self.relay, "the TURN relay was lost: {e}"),
            Got::Allocated(_) | Got::Nothing => {}
        }
        self.flush();
    }
}
