//! A join-link platform's network: the STUN and TURN servers its
//! peer-to-peer calls use (as its web page has them in `iceServers`), as
//! the settings form sends them, checked, and as a call takes them. Where
//! the TURN credential is kept (the keychain, like a sign-in) is
//! `Platforms`' business.

use crate::dto::{Network, NetworkChange, Platform, ProfileId};
use crate::error::AppError;

/// The keychain account of platform `id`'s TURN credential.
pub(super) fn turn_account(id: &str) -> String {
    format!("{id}#turn")
}

/// What to do with the stored TURN credential.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Credential {
    /// No TURN server any more: forget it.
    Forget,
    /// Typed anew: keep this.
    Keep(String),
    /// Not typed: the stored one stays.
    Unchanged,
}

/// `change` checked for platform `p`: the network to keep (assuming the
/// credential is kept) and what to do with the credential.
pub(super) fn checked(
    p: &Platform,
    change: &NetworkChange,
) -> Result<(Network, Credential), AppError> {
    if p.profile != ProfileId::Seed004 {
        return Err(AppError::invalid(
            "Only peer-to-peer platforms (join links) use STUN and TURN servers.",
        ));
    }
    if change.stun.len() > 8 {
        return Err(AppError::invalid("Give at most 8 STUN servers."));
    }
    let mut stun = Vec::new();
    for s in change
        .stun
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        if tandem_call::p2p::stun::parse_server(s).is_none() {
            return Err(AppError::invalid(format!(
                "{s:?} is not a STUN server: write it as stun:host:port."
            )));
        }
        stun.push(s.to_owned());
    }
    let turn_url = change
        .turn_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let turn = match turn_url {
        None => None,
        Some(u) => {
            tandem_call::p2p::turn::parse_url(u)
                .map_err(|e| AppError::invalid(format!("TURN server: {e}.")))?;
            let username = change
                .turn_username
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| AppError::invalid("Enter the TURN server's username."))?;
            if username.len() > 512 || username.chars().any(char::is_control) {
                return Err(AppError::invalid(
                    "That TURN username is too long or has control characters.",
                ));
            }
            Some((u.to_owned(), username.to_owned()))
        }
    };
    if change.relay_only && turn.is_none() {
        return Err(AppError::invalid(
            "Relaying every call needs a TURN server.",
        ));
    }
    let typed = change.turn_credential.as_deref().filter(|c| !c.is_empty());
    let credential = match (&turn, typed) {
        (None, _) => Credential::Forget,
        (Some(_), Some(c)) => {
            if c.len() > 512 || c.chars().any(char::is_control) {
                return Err(AppError::invalid(
                    "That TURN credential is too long or has control characters.",
                ));
            }
            Credential::Keep(c.to_owned())
        }
        (Some(_), None) if !p.network.has_turn_credential => {
            return Err(AppError::invalid(
                "Enter the TURN server's credential (password).",
            ));
        }
        (Some(_), None) => Credential::Unchanged,
    };
    let has_turn_credential = turn.is_some();
    let (turn_url, turn_username) = turn.unzip();
    let network = Network {
        stun,
        turn_url,
        turn_username,
        has_turn_credential,
        relay_only: change.relay_only,
    };
    Ok((network, credential))
}

/// The servers of platform `p`'s peer-to-peer calls, with the TURN
/// `credential` as stored (none: the keychain lost it).
pub(super) fn p2p(
    p: &Platform,
    credential: Option<String>,
) -> Result<tandem_call::platform::P2p, AppError> {
    let n = &p.network;
    let turn = match (&n.turn_url, &n.turn_username) {
        (Some(url), Some(username)) => {
            let credential = credential.ok_or_else(|| {
                AppError::invalid(format!(
                    "The TURN server's credential for {} is not in the keychain any more: enter it again in the platform's network settings.",
                    p.name
                ))
            })?;
            let address = tandem_call::p2p::turn::parse_url(url)
                .map_err(|e| AppError::invalid(format!("TURN server: {e}.")))?;
            vec![tandem_call::p2p::turn::TurnServer {
                address,
                username: username.clone(),
                credential,
            }]
        }
        _ => Vec::new(),
    };
    Ok(tandem_call::platform::P2p {
        always: false,
        socket_url: p.socket_url.clone(),
        stun: n.stun.clone(),
        turn,
        relay_only: n.relay_only,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::dto::NewPlatform;
    use crate::error::ErrorCode;
    use crate::platforms::test_store as store;

    /// A join-link platform's STUN and TURN servers: validated, the
    /// credential only in the keychain (never the file, never the UI), kept
    /// when not typed again, and handed to its calls.
    #[test]
    fn a_link_platforms_network_is_validated_and_its_turn_credential_kept_in_the_keychain() {
        let dir = std::env::temp_dir().join(format!("tandem-network-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = store(&dir);
        let new = |profile| NewPlatform {
            name: String::new(),
            backend_url: "http://127.0.0.1:9".into(),
            profile,
            anon_key: None,
            supabase_url: None,
            socket_url: None,
        };
        let p = s.add(new(ProfileId::Seed004)).unwrap();
        let change = |turn: Option<&str>, credential: Option<&str>, relay_only| NetworkChange {
            stun: vec!["stun:stun.example.com:19302".into(), " ".into()],
            turn_url: turn.map(Into::into),
            turn_username: Some("coach".into()),
            turn_credential: credential.map(Into::into),
            relay_only,
        };
        let refused = |c: NetworkChange, why: &str| {
            let e = s.set_network(&p.id, c).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput);
            assert!(e.message.contains(why), "{why}: {}", e.message);
        };
        refused(change(None, None, true), "needs a TURN server");
        refused(
            change(Some("turn:relay.example.com"), None, false),
            "credential",
        );
        refused(
            change(Some("turns:relay.example.com"), Some("pw"), false),
            "UDP only",
        );
        refused(
            change(Some("http://relay"), Some("pw"), false),
            "not a TURN server",
        );
        refused(
            NetworkChange {
                stun: vec!["turn:relay.example.com".into()],
                ..NetworkChange::default()
            },
            "not a STUN server",
        );
        let set = s
            .set_network(
                &p.id,
                change(Some("turn:relay.example.com:3479"), Some("hunter2"), true),
            )
            .unwrap();
        assert_eq!(set.network.stun, ["stun:stun.example.com:19302"]);
        assert_eq!(
            set.network.turn_url.as_deref(),
            Some("turn:relay.example.com:3479")
        );
        assert!(set.network.has_turn_credential && set.network.relay_only);
        let on_disk = std::fs::read_to_string(dir.join("platforms.json")).unwrap();
        assert!(on_disk.contains("relay.example.com") && !on_disk.contains("hunter2"));
        assert!(!serde_json::to_string(&set).unwrap().contains("hunter2"));
        // Saved again without retyping the credential: it stays.
        s.set_network(
            &p.id,
            change(Some("turn:relay.example.com:3479"), None, true),
        )
        .unwrap();
        let ice = s.client(&p.id).unwrap().ice_servers();
        assert_eq!(ice.stun, ["stun.example.com:19302"]);
        assert_eq!(ice.turn.len(), 1);
        assert_eq!(
            (
                ice.turn[0].address.as_str(),
                ice.turn[0].credential.as_str(),
                ice.relay_only
            ),
            ("relay.example.com:3479", "hunter2", true)
        );
        // Taking the TURN server away forgets its credential.
        let cleared = s.set_network(&p.id, NetworkChange::default()).unwrap();
        assert_eq!(cleared.network, Network::default());
        assert!(s.keychain.get(&turn_account(&p.id)).unwrap().is_none());
        // Other platforms have no STUN or TURN to set.
        let other = s.add(new(ProfileId::Seed003)).unwrap();
        let e = s
            .set_network(&other.id, NetworkChange::default())
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
