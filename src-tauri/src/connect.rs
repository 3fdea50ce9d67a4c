//! Commands of the connect screen: platforms, sign-in, sessions, links.

use tandem_call::backend::{self, TokenRequest};
use tauri::State;

use crate::dto::{
    JoinTarget, LaunchOptions, NewPlatform, Platform, ProfileId, SessionKind, SignIn,
};
use crate::error::{AppError, ErrorCode};
use crate::platforms::{valid_backend_url, valid_secret};
use crate::{AppState, blocking, client_for};

#[tauri::command]
#[specta::specta]
pub(crate) async fn platforms_list(state: State<'_, AppState>) -> Result<Vec<Platform>, AppError> {
    state.platforms.list()
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn platform_add(
    state: State<'_, AppState>,
    platform: NewPlatform,
) -> Result<Platform, AppError> {
    state.platforms.add(platform)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn platform_remove(
    state: State<'_, AppState>,
    id: String,
) -> Result<(), AppError> {
    state.platforms.remove(&id)
}

/// Signs in to a platform and keeps the credentials in the keychain.
#[tauri::command]
#[specta::specta]
pub(crate) async fn sign_in(
    state: State<'_, AppState>,
    id: String,
    credentials: SignIn,
) -> Result<Platform, AppError> {
    let p = state.platforms.get(&id)?;
    let (account, token) = match credentials {
        SignIn::Password { email, password } => {
            let email = email.trim().to_owned();
            if !email.contains('@') || email.len() > 320 {
                return Err(AppError::invalid(
                    "Enter the email address you sign in with.",
                ));
            }
            if password.is_empty() {
                return Err(AppError::invalid("Enter your password."));
            }
            // Supabase platforms sign in at their project (GoTrue's
            // password grant); others at tandem-backend's own endpoint.
            if let Some(project) = state.platforms.supabase_project(&id)? {
                let mut session = project.sign_in(&email, &password).await?;
                session.email.get_or_insert(email);
                return blocking(&state, move |p| p.store_session(&id, &session)).await;
            }
            let jwt = backend::login(&p.backend_url, &email, &password).await?;
            (email, jwt)
        }
        SignIn::Bearer { token } => ("token".to_owned(), valid_secret("token", &token)?),
    };
    blocking(&state, move |p| p.store_token(&id, &account, &token)).await
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn sign_out(state: State<'_, AppState>, id: String) -> Result<Platform, AppError> {
    // A Supabase sign-in is revoked on the server first; if that fails
    // (offline, already expired), it is still forgotten here.
    if let Ok(client) = client_for(&state, &id).await
        && let Some(signed) = client.signed_in()
        && let Err(e) = signed.sign_out().await
    {
        tracing::warn!("the platform did not confirm the sign-out: {e}");
    }
    blocking(&state, move |p| p.sign_out(&id)).await
}

/// The signed-in user's sessions, where the platform lists them.
#[tauri::command]
#[specta::specta]
pub(crate) async fn sessions_list(
    state: State<'_, AppState>,
    id: String,
) -> Result<Vec<JoinTarget>, AppError> {
    let p = state.platforms.get(&id)?;
    let client = client_for(&state, &id).await?;
    let list = match client.list_sessions().await {
        Ok(l) => l,
        Err(backend::BackendError::NotFound(_)) => {
            return Err(AppError::new(
                ErrorCode::Unsupported,
                format!(
                    "{} does not list sessions here: enter the session id from its website.",
                    p.name
                ),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(list
        .into_iter()
        .filter(|s| matches!(s.status.as_str(), "scheduled" | "in_progress" | ""))
        .map(|s| {
            let me = p.account.as_deref().unwrap_or_default();
            let other = if s.coach_name.is_empty() {
                s.client_name.clone()
            } else {
                s.coach_name.clone()
            };
            JoinTarget {
                platform_id: p.id.clone(),
                session: Some(s.id.clone()),
                link: None,
                kind: SessionKind::from_platform(&s.session_type),
                title: format!(
                    "Session with {}",
                    if other.is_empty() {
                        "your coach"
                    } else {
                        &other
                    }
                ),
                other_name: (!other.is_empty() && other != me).then_some(other),
                paid_minutes: s.paid_minutes,
                starts_at: (!s.starts_at.is_empty()).then_some(s.starts_at),
            }
        })
        .collect())
}

/// How the app was started: a join link on the command line (how the OS
/// hands over links), a name, and whether to join at once (the demo).
#[tauri::command]
#[specta::specta]
pub(crate) async fn launch_options(state: State<'_, AppState>) -> Result<LaunchOptions, AppError> {
    Ok(state.launch.clone())
}

/// A session entered by hand (its id, or room for profile 003).
#[tauri::command]
#[specta::specta]
pub(crate) async fn session_by_id(
    state: State<'_, AppState>,
    id: String,
    session: String,
) -> Result<JoinTarget, AppError> {
    let p = state.platforms.get(&id)?;
    let session = session.trim();
    if session.is_empty() || session.len() > 200 || session.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "Enter the session id shown on the platform's website.",
        ));
    }
    Ok(JoinTarget {
        platform_id: p.id,
        session: Some(session.to_owned()),
        link: None,
        kind: SessionKind::Video,
        title: format!("Session {session}"),
        other_name: None,
        paid_minutes: None,
        starts_at: None,
    })
}

/// Opens a join link (profile 004): a URL whose `token` parameter or last
/// path segment is the link token, or the token itself with `backend`.
/// The platform is added when it is new; the booking is checked with the
/// platform before the prejoin screen shows it.
#[tauri::command]
#[specta::specta]
pub(crate) async fn open_join_link(
    state: State<'_, AppState>,
    link: String,
    backend_url: Option<String>,
) -> Result<JoinTarget, AppError> {
    if link.trim().starts_with("tandem:")
        && let AppLink::Session {
            backend,
            profile,
            session,
        } = parse_app_link(link.trim())?
    {
        return open_session_link(&state, backend, profile, session).await;
    }
    let (base, token) = parse_join_link(&link, backend_url.as_deref())?;
    let platform = state.platforms.add(NewPlatform {
        name: base.host_str().unwrap_or("Platform").to_owned(),
        backend_url: base.to_string(),
        profile: ProfileId::Seed004,
        anon_key: None,
        supabase_url: None,
    })?;
    let client = client_for(&state, &platform.id).await?;
    let req = TokenRequest {
        link: Some(token.clone()),
        ..TokenRequest::default()
    };
    let info = client.session_info(&req).await?.ok_or_else(|| {
        AppError::new(
            ErrorCode::BackendFailed,
            "The platform did not describe the session.",
        )
    })?;
    match info.status.as_str() {
        "cancelled" => {
            return Err(AppError::new(
                ErrorCode::Gone,
                "This session was cancelled. Ask your coach for a new booking.",
            ));
        }
        "completed" | "ended" => {
            return Err(AppError::new(
                ErrorCode::Gone,
                "This session has already ended.",
            ));
        }
        _ => {}
    }
    let other = info.other_name.clone();
    Ok(JoinTarget {
        platform_id: platform.id,
        session: Some(info.session_id),
        link: Some(token),
        kind: SessionKind::from_platform(&info.session_type),
        title: if other.is_empty() {
            "Your session".into()
        } else {
            format!("Session with {other}")
        },
        other_name: (!other.is_empty()).then_some(other),
        paid_minutes: info.paid_minutes,
        starts_at: None,
    })
}

/// Splits a pasted link into the platform's address and the link token.
pub(crate) fn parse_join_link(
    link: &str,
    backend: Option<&str>,
) -> Result<(url::Url, String), AppError> {
    let link = link.trim();
    let valid_token = |t: &str| {
        (8..=512).contains(&t.len())
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
    };
    if let Some(b) = backend.filter(|b| !b.trim().is_empty()) {
        let base = valid_backend_url(b)?;
        if valid_token(link) {
            return Ok((base, link.to_owned()));
        }
    }
    if link.starts_with("tandem:") {
        return match parse_app_link(link)? {
            AppLink::Join { backend, token } => Ok((backend, token)),
            AppLink::Session { .. } => Err(AppError::invalid(
                "This Tandem link names a session, not a join link.",
            )),
        };
    }
    let url = url::Url::parse(link).map_err(|_| {
        AppError::invalid(
            "Paste the whole join link from your booking email (it starts with https://).",
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(AppError::invalid("A join link starts with https://."));
    }
    let token = url
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .or_else(|| url.path_segments().and_then(|mut s| s.next_back()).map(str::to_owned))
        .filter(|t| valid_token(t))
        .ok_or_else(|| AppError::invalid("This link has no session token in it: paste the whole link from your booking email."))?;
    let mut base = url.clone();
    base.set_path("");
    base.set_query(None);
    base.set_fragment(None);
    Ok((base, token))
}

/// What a `tandem://join` link asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AppLink {
    /// `tandem://join?backend=<url>&profile=004&link=<token>`: a join link
    /// (the form platforms and `tandem-backend --dev` hand out).
    Join { backend: url::Url, token: String },
    /// `tandem://join?backend=<url>&profile=<000…003>&session=<id>`: a
    /// session on a platform the person signs in to. Links never carry
    /// passwords or bearer tokens: they end up in browser history and
    /// process lists.
    Session {
        backend: url::Url,
        profile: ProfileId,
        session: String,
    },
}

pub(crate) fn parse_app_link(link: &str) -> Result<AppLink, AppError> {
    let bad = |why: &str| AppError::invalid(format!("This Tandem link cannot be used: {why}."));
    if link.len() > 2048 {
        return Err(bad("it is too long"));
    }
    let url = url::Url::parse(link).map_err(|_| bad("it is malformed"))?;
    if url.scheme() != "tandem" || url.host_str() != Some("join") {
        return Err(bad("it is not a join link"));
    }
    let (mut backend, mut profile, mut token, mut session) = (None, None, None, None);
    for (k, v) in url.query_pairs() {
        let slot = match &*k {
            "backend" => &mut backend,
            "profile" => &mut profile,
            "link" => &mut token,
            "session" => &mut session,
            "token" | "password" | "secret" => {
                return Err(bad("it carries a credential; sign in in Tandem instead"));
            }
            _ => continue,
        };
        if slot.is_some() {
            return Err(bad(&format!("`{k}` is given twice")));
        }
        *slot = Some(v.into_owned());
    }
    let backend = valid_backend_url(&backend.ok_or_else(|| bad("it names no backend"))?)?;
    let profile = match profile.as_deref() {
        None | Some("004") => ProfileId::Seed004,
        Some("000") => ProfileId::Seed000,
        Some("001") => ProfileId::Seed001,
        Some("002") => ProfileId::Seed002,
        Some("003") => ProfileId::Seed003,
        Some(_) => return Err(bad("it names an unknown platform type")),
    };
    match (profile, token, session) {
        (ProfileId::Seed004, Some(token), None) => {
            let (backend, token) = parse_join_link(&token, Some(backend.as_str()))
                .map_err(|_| bad("its session token is malformed"))?;
            Ok(AppLink::Join { backend, token })
        }
        (ProfileId::Seed004, _, _) => Err(bad("it carries no session token")),
        (profile, None, Some(session)) => {
            if session.is_empty()
                || session.len() > 200
                || !session
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
            {
                return Err(bad("its session id is malformed"));
            }
            Ok(AppLink::Session {
                backend,
                profile,
                session,
            })
        }
        _ => Err(bad("it names no session")),
    }
}

/// Opens a session link: the platform must be one the person added and
/// signed in to (a link alone never signs anyone in).
async fn open_session_link(
    state: &AppState,
    backend: url::Url,
    profile: ProfileId,
    session: String,
) -> Result<JoinTarget, AppError> {
    let known = state.platforms.list()?.into_iter().find(|p| {
        p.profile == profile && valid_backend_url(&p.backend_url).ok().as_ref() == Some(&backend)
    });
    let host = backend.host_str().unwrap_or("the platform").to_owned();
    let platform = match known {
        Some(p) => p,
        None if profile == ProfileId::Seed001 => {
            return Err(AppError::new(
                ErrorCode::SignInRequired,
                format!(
                    "Add {host} under Platforms (it needs the project's key) and sign in, then open the link again."
                ),
            ));
        }
        None => state.platforms.add(NewPlatform {
            name: host.clone(),
            backend_url: backend.to_string(),
            profile,
            anon_key: None,
            supabase_url: None,
        })?,
    };
    if !platform.signed_in {
        return Err(AppError::new(
            ErrorCode::SignInRequired,
            format!(
                "Sign in to {} under Platforms, then open the link again.",
                platform.name
            ),
        ));
    }
    Ok(JoinTarget {
        platform_id: platform.id,
        title: format!("Session {session}"),
        session: Some(session),
        link: None,
        kind: SessionKind::Video,
        other_name: None,
        paid_minutes: None,
        starts_at: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn session_links_name_a_platform_and_a_session_and_never_a_credential() {
        let link = parse_app_link(
            "tandem://join?backend=https://studio.example.com&profile=000&session=sess_42",
        )
        .unwrap();
        assert_eq!(
            link,
            AppLink::Session {
                backend: url::Url::parse("https://studio.example.com/").unwrap(),
                profile: ProfileId::Seed000,
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
            assert_eq!(
                parse_app_link(bad).unwrap_err().code,
                ErrorCode::InvalidInput,
                "{bad}"
            );
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
            assert_eq!(
                parse_join_link(bad, None).unwrap_err().code,
                ErrorCode::InvalidInput,
                "{bad}"
            );
        }
        for bad in [
            "",
            "tok_12345678",
            "javascript:alert(1)//?token=abcdefgh1",
            "https://x.y/join?token=<script>",
            "https://x.y/",
        ] {
            assert_eq!(
                parse_join_link(bad, None).unwrap_err().code,
                ErrorCode::InvalidInput,
                "{bad}"
            );
        }
    }
}
