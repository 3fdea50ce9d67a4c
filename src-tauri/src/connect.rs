//! Commands of the connect screen: platforms, sign-in, sessions, links.

use tandem_call::link::{self, Link};
use tandem_call::platform::{self, TokenRequest, rules};
use tauri::State;

use crate::dto::{
    JoinTarget, LaunchOptions, NetworkChange, NewPlatform, Platform, ProfileId, SessionKind, SignIn,
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

/// Sets a peer-to-peer platform's STUN and TURN servers.
#[tauri::command]
#[specta::specta]
pub(crate) async fn platform_set_network(
    state: State<'_, AppState>,
    id: String,
    network: NetworkChange,
) -> Result<Platform, AppError> {
    // The keychain blocks: off the runtime.
    blocking(&state, move |p| p.set_network(&id, network)).await
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
            let jwt = platform::login(&p.backend_url, &email, &password).await?;
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
        Err(platform::BackendError::NotFound(_)) => {
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
        .filter(|s| rules::listed(&s.status))
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
                encrypted: false,
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
    let session = rules::session_id(&session).map_err(|e| AppError::invalid(e.0))?;
    Ok(JoinTarget {
        platform_id: p.id,
        title: format!("Session {session}"),
        session: Some(session),
        link: None,
        kind: SessionKind::Video,
        other_name: None,
        paid_minutes: None,
        starts_at: None,
        encrypted: false,
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
    let key = link::encryption_key(&link)?;
    let target = open_link(&state, link, backend_url).await?;
    Ok(state.remember_link_key(target, key))
}

async fn open_link(
    state: &AppState,
    link: String,
    backend_url: Option<String>,
) -> Result<JoinTarget, AppError> {
    if link.trim().starts_with("tandem:")
        && let Link::Session {
            backend,
            profile,
            session,
        } = link::parse_app_link(link.trim())?
    {
        let profile = crate::platforms::profile_id(&profile)
            .ok_or_else(|| AppError::invalid("This Tandem link names an unknown platform type."))?;
        return open_session_link(state, backend, profile, session).await;
    }
    let (base, token) = link::parse_join_link(&link, backend_url.as_deref())?;
    // Tandem's own links may name the platform's call server (`socket=`).
    let socket_url = match link::parse(link.trim()) {
        Ok(Link::Join { socket, .. }) => socket.map(|s| s.to_string()),
        _ => None,
    };
    let platform = state.platforms.add(NewPlatform {
        name: base.host_str().unwrap_or("Platform").to_owned(),
        backend_url: base.to_string(),
        profile: ProfileId::Seed004,
        anon_key: None,
        supabase_url: None,
        socket_url,
    })?;
    let client = client_for(state, &platform.id).await?;
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
    rules::joinable(&info.status)?;
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
        encrypted: false,
    })
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
            socket_url: None,
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
        encrypted: false,
    })
}
