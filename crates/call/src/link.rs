//! Join links, read the same way by the app and the CLI: a platform's
//! `https://…/join?token=…` (or `…/join/<token>`), a bare link token with
//! the platform's address given beside it, and Tandem's own
//! `tandem://join?backend=…&profile=…&link=…|session=…`. Links never carry
//! passwords or bearer tokens (they end up in browser history and process
//! lists): one that does is refused. A link may carry the passphrase of an
//! end-to-end encrypted session in its fragment (`#key=…`), which browsers
//! never send to a server; in the query, where a server would read it, it
//! is refused.

use crate::platform::Profile;

/// Why a link or address cannot be used, in the person's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LinkError(pub String);

fn invalid(m: impl Into<String>) -> LinkError {
    LinkError(m.into())
}

/// What a link asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    /// A join link (profile 004): the platform's address, the link token,
    /// and the Socket.IO server of its peer-to-peer calls when the link
    /// names one (`socket=`).
    Join {
        backend: url::Url,
        token: String,
        socket: Option<url::Url>,
    },
    /// A session on a platform the person signs in to (profiles 000–003).
    Session {
        backend: url::Url,
        profile: Profile,
        session: String,
    },
}

/// An http(s) platform address with a host and no credentials, query or fragment.
pub fn backend_url(input: &str) -> Result<url::Url, LinkError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(invalid(
            "Enter the platform's backend address, e.g. https://coach.example.com.",
        ));
    }
    if input.len() > 2048 {
        return Err(invalid("That address is too long."));
    }
    let url = url::Url::parse(input).map_err(|e| {
        invalid(format!(
            "\"{}\" is not a web address ({e}); it should look like https://coach.example.com.",
            input.chars().take(80).collect::<String>()
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            "The backend address must start with https:// (or http:// for a local test server).",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("The backend address has no host name."));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "Put no user name or password in the address; sign in below instead.",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "The backend address should not contain ? or #: use only the site's address.",
        ));
    }
    Ok(url)
}

const KEY_IN_QUERY: &str =
    "it carries the encryption key where a server could read it (it belongs after #key=)";

/// The passphrase of an end-to-end encrypted session that `link` carries in
/// its fragment (`#key=…`, percent-encoded); none when it carries none.
pub fn encryption_key(link: &str) -> Result<Option<tandem_lk::SharedKey>, LinkError> {
    let Some((_, fragment)) = link.trim().split_once('#') else {
        return Ok(None);
    };
    let mut key = None;
    for (k, v) in url::form_urlencoded::parse(fragment.as_bytes()) {
        if k == "key" {
            if key.is_some() {
                return Err(invalid("This link carries two encryption keys."));
            }
            key = Some(v.into_owned());
        }
    }
    match key {
        None => Ok(None),
        Some(k) if k.is_empty() => Err(invalid(
            "This link's encryption key is empty: ask for the link again.",
        )),
        Some(k) => tandem_lk::SharedKey::from_passphrase(&k)
            .map(Some)
            .map_err(|e| invalid(format!("This link's encryption key cannot be used ({e})."))),
    }
}

/// Reads any link: Tandem's own or a platform's join link.
pub fn parse(link: &str) -> Result<Link, LinkError> {
    let link = link.trim();
    if link.starts_with("tandem:") {
        return parse_app_link(link);
    }
    let (backend, token) = parse_join_link(link, None)?;
    Ok(Link::Join {
        backend,
        token,
        socket: None,
    })
}

fn valid_token(t: &str) -> bool {
    (8..=512).contains(&t.len())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
}

/// Splits a pasted join link into the platform's address and the link
/// token; a bare token needs `backend`.
pub fn parse_join_link(link: &str, backend: Option<&str>) -> Result<(url::Url, String), LinkError> {
    let link = link.trim();
    if let Some(b) = backend.filter(|b| !b.trim().is_empty()) {
        let base = backend_url(b)?;
        if valid_token(link) {
            return Ok((base, link.to_owned()));
        }
    }
    if link.starts_with("tandem:") {
        return match parse_app_link(link)? {
            Link::Join { backend, token, .. } => Ok((backend, token)),
            Link::Session { .. } => Err(invalid(
                "This Tandem link names a session, not a join link.",
            )),
        };
    }
    let url = url::Url::parse(link).map_err(|_| {
        invalid("Paste the whole join link from your booking email (it starts with https://).")
    })?;
    if url
        .query_pairs()
        .any(|(k, _)| matches!(&*k, "key" | "e2ee" | "e2eeKey" | "passphrase"))
    {
        return Err(invalid(format!(
            "This link cannot be used: {KEY_IN_QUERY}."
        )));
    }
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("A join link starts with https://."));
    }
    let token = url
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .or_else(|| url.path_segments().and_then(|mut s| s.next_back()).map(str::to_owned))
        .filter(|t| valid_token(t))
        .ok_or_else(|| {
            invalid("This link has no session token in it: paste the whole link from your booking email.")
        })?;
    let mut base = url.clone();
    base.set_path("");
    base.set_query(None);
    base.set_fragment(None);
    Ok((base, token))
}

/// Reads `tandem://join?backend=<url>&profile=004&link=<token>` (a join
/// link, the form platforms and `tandem-backend --dev` hand out) or
/// `…&profile=<000…003>&session=<id>` (a session to sign in for).
pub fn parse_app_link(link: &str) -> Result<Link, LinkError> {
    let bad = |why: &str| invalid(format!("This Tandem link cannot be used: {why}."));
    if link.len() > 2048 {
        return Err(bad("it is too long"));
    }
    let url = url::Url::parse(link).map_err(|_| bad("it is malformed"))?;
    if url.scheme() != "tandem" || url.host_str() != Some("join") {
        return Err(bad("it is not a join link"));
    }
    let (mut backend, mut profile, mut token, mut session, mut socket) =
        (None, None, None, None, None);
    for (k, v) in url.query_pairs() {
        let slot = match &*k {
            "backend" => &mut backend,
            "profile" => &mut profile,
            "link" => &mut token,
            "session" => &mut session,
            "socket" => &mut socket,
            "token" | "password" | "secret" => {
                return Err(bad("it carries a credential; sign in in Tandem instead"));
            }
            "key" | "e2ee" | "e2eeKey" | "passphrase" => {
                return Err(bad(KEY_IN_QUERY));
            }
            _ => continue,
        };
        if slot.is_some() {
            return Err(bad(&format!("`{k}` is given twice")));
        }
        *slot = Some(v.into_owned());
    }
    let backend = backend_url(&backend.ok_or_else(|| bad("it names no backend"))?)?;
    let profile = match profile.as_deref() {
        None => Profile::Seed004,
        Some(p) => Profile::named(p)
            .filter(|_| p.len() == 3)
            .ok_or_else(|| bad("it names an unknown platform type"))?,
    };
    match (profile, token, session) {
        (Profile::Seed004, Some(token), None) => {
            let (backend, token) = parse_join_link(&token, Some(backend.as_str()))
                .map_err(|_| bad("its session token is malformed"))?;
            let socket = socket
                .map(|s| backend_url(&s).map_err(|_| bad("its call server address is malformed")))
                .transpose()?;
            Ok(Link::Join {
                backend,
                token,
                socket,
            })
        }
        (Profile::Seed004, _, _) => Err(bad("it carries no session token")),
        (profile, None, Some(session)) => {
            if session.is_empty()
                || session.len() > 200
                || !session
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
            {
                return Err(bad("its session id is malformed"));
            }
            Ok(Link::Session {
                backend,
                profile,
                session,
            })
        }
        _ => Err(bad("it names no session")),
    }
}
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::platform::Profile;

    /// The passphrase rides in the fragment, never in the query.
    #[test]
    fn an_encryption_key_is_read_from_the_fragment_only() {
        let app =
            "tandem://join?backend=https://a.example&link=abcdefgh12#key=blue%20moon%20%26%20stars";
        assert!(parse(app).is_ok());
        assert_eq!(
            encryption_key(app).unwrap(),
            Some(tandem_lk::SharedKey::from_passphrase("blue moon & stars").unwrap())
        );
        let web = "https://coach.example/join?token=abcdefgh12#key=s3cret";
        assert_eq!(parse_join_link(web, None).unwrap().1, "abcdefgh12");
        assert!(encryption_key(web).unwrap().is_some());
        assert_eq!(
            encryption_key("https://coach.example/join?token=abcdefgh12").unwrap(),
            None
        );
        assert!(encryption_key("https://c.example/join?token=abcdefgh12#key=").is_err());
        assert!(encryption_key("https://c.example/join?token=abcdefgh12#key=a&key=b").is_err());
        assert!(encryption_key("https://c.example/join?token=abcdefgh12#key=a%07b").is_err());
        for bad in [
            "https://coach.example/join?token=abcdefgh12&key=s3cret",
            "tandem://join?backend=https://a.example&link=abcdefgh12&key=s3cret",
        ] {
            assert!(parse(bad).unwrap_err().0.contains("#key="), "{bad}");
        }
    }

    /// A seed-004 link may name the Socket.IO server of its peer-to-peer
    /// calls; one that is not an http(s) address is refused.
    #[test]
    fn join_links_may_carry_the_call_server() {
        let Link::Join { socket, .. } = parse(
            "tandem://join?backend=https://a.example&link=abcdefgh12&socket=https://rt.a.example:3001",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(socket.unwrap().as_str(), "https://rt.a.example:3001/");
        assert!(
            parse("tandem://join?backend=https://a.example&link=abcdefgh12&socket=ftp://x")
                .unwrap_err()
                .0
                .contains("call server")
        );
    }

    #[test]
    fn session_links_name_a_platform_and_a_session_and_never_a_credential() {
        let link = parse_app_link(
            "tandem://join?backend=https://studio.example.com&profile=000&session=sess_42",
        )
        .unwrap();
        assert_eq!(
            link,
            Link::Session {
                backend: url::Url::parse("https://studio.example.com/").unwrap(),
                profile: Profile::Seed000,
                session: "sess_42".into(),
            }
        );
        for bad in [
            "tandem://join?backend=https://a.b&profile=000&session=sess_42&token=abcdEFGH1234",
            "tandem://join?backend=https://a.b&profile=000&session=sess_42&password=x",
            "tandem://join?backend=https://a.b&profile=000&session=<img>",
            "tandem://join?backend=https://a.b&profile=000&session=",
            "tandem://join?backend=https://a.b&profile=000&session=a&session=b",
            "tandem://join?backend=https://a.b&profile=009&session=sess_42",
            "tandem://join?backend=https://a.b&profile=004&session=sess_42",
            "tandem://join?backend=file:///etc&profile=000&session=sess_42",
            "https://join?backend=https://a.b&profile=000&session=sess_42",
        ] {
            assert!(parse_app_link(bad).is_err(), "{bad}");
        }
        let long = format!(
            "tandem://join?backend=https://a.b&profile=000&session={}",
            "a".repeat(3000)
        );
        assert!(parse_app_link(&long).is_err());
    }

    #[test]
    fn join_links_are_read_in_their_usual_forms() {
        let (b, t) =
            parse_join_link("https://coach.example.com/join?token=abcdEFGH1234", None).unwrap();
        assert_eq!(
            (b.as_str(), t.as_str()),
            ("https://coach.example.com/", "abcdEFGH1234")
        );
        let (b, t) =
            parse_join_link(" http://127.0.0.1:8080/session/join/tok_12345678 ", None).unwrap();
        assert_eq!(
            (b.as_str(), t.as_str()),
            ("http://127.0.0.1:8080/", "tok_12345678")
        );
        let (_, t) = parse_join_link("tok_12345678", Some("http://127.0.0.1:9")).unwrap();
        assert_eq!(t, "tok_12345678");
        let (b, t) = parse_join_link(
            "tandem://join?backend=http://127.0.0.1:8080&profile=004&link=tok_12345678",
            None,
        )
        .unwrap();
        assert_eq!(
            (b.as_str(), t.as_str()),
            ("http://127.0.0.1:8080/", "tok_12345678")
        );
        for bad in [
            "tandem://join?backend=http://a.b&profile=004&link=tok_12345678&link=tok_87654321",
            "tandem://join?backend=javascript:alert(1)&profile=004&link=tok_12345678",
            "tandem://join?backend=http://a.b&profile=000&link=tok_12345678",
            "tandem://other?backend=http://a.b&link=tok_12345678",
            "tandem://join?backend=http://a.b&link=<script>",
        ] {
            assert!(parse_join_link(bad, None).is_err(), "{bad}");
        }
        for bad in [
            "",
            "tok_12345678",
            "javascript:alert(1)//?token=abcdefgh1",
            "https://x.y/join?token=<script>",
            "https://x.y/",
        ] {
            assert!(parse_join_link(bad, None).is_err(), "{bad}");
        }
    }
}
