//! The platforms a user added, and their credentials. The list (names,
//! addresses, profiles, account names) is a JSON file in the app's config
//! folder; tokens live only in the OS keychain. When the keychain cannot be
//! used, a token is held in memory for this run and the UI says so.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tandem_call::platform::{Auth, BackendClient, Profile};
use tandem_call::supabase::{SignedIn, SupabaseProject, SupabaseSession};

use crate::dto::{Network, NetworkChange, NewPlatform, Platform, ProfileId};

use crate::error::{AppError, ErrorCode};

mod network;
use network::{Credential, turn_account};

/// Where tokens are kept.
pub trait Keychain: Send + Sync + std::fmt::Debug {
    fn get(&self, account: &str) -> Result<Option<String>, String>;
    fn set(&self, account: &str, secret: &str) -> Result<(), String>;
    fn delete(&self, account: &str) -> Result<(), String>;
}

/// The OS keychain (Keychain on macOS, Credential Manager on Windows, the
/// Secret Service on Linux).
#[derive(Debug)]
pub struct OsKeychain;

const SERVICE: &str = "Tandem";

impl Keychain for OsKeychain {
    fn get(&self, account: &str) -> Result<Option<String>, String> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(|e| e.to_string())?;
        match entry.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
    fn set(&self, account: &str, secret: &str) -> Result<(), String> {
        keyring::Entry::new(SERVICE, account)
            .and_then(|e| e.set_password(secret))
            .map_err(|e| e.to_string())
    }
    fn delete(&self, account: &str) -> Result<(), String> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(|e| e.to_string())?;
        match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// A keychain that forgets everything at exit (tests; `TANDEM_KEYCHAIN=memory`).
#[derive(Debug, Default)]
pub struct MemoryKeychain(Mutex<HashMap<String, String>>);

impl Keychain for MemoryKeychain {
    fn get(&self, account: &str) -> Result<Option<String>, String> {
        Ok(self
            .0
            .lock()
            .map_err(|e| e.to_string())?
            .get(account)
            .cloned())
    }
    fn set(&self, account: &str, secret: &str) -> Result<(), String> {
        self.0
            .lock()
            .map_err(|e| e.to_string())?
            .insert(account.into(), secret.into());
        Ok(())
    }
    fn delete(&self, account: &str) -> Result<(), String> {
        self.0.lock().map_err(|e| e.to_string())?.remove(account);
        Ok(())
    }
}

/// The platforms and their credentials.
#[derive(Debug)]
pub struct Platforms {
    file: Option<PathBuf>,
    list: Mutex<Vec<Platform>>,
    keychain: Box<dyn Keychain>,
    /// Tokens the keychain refused to keep (this run only).
    fallback: MemoryKeychain,
}

/// Marks a stored Supabase session (JSON) apart from a plain bearer token.
const SESSION_PREFIX: &str = "supabase-session:";

/// Longest accepted name, URL or token, so a pasted novel is refused early.
const MAX_FIELD: usize = 8 * 1024;

impl Platforms {
    /// Loads the list from `file` (none or unreadable: empty, and the
    /// problem logged, never fatal).
    pub fn load(file: Option<PathBuf>, keychain: Box<dyn Keychain>) -> Self {
        let list = file
            .as_ref()
            .and_then(|f| match std::fs::read(f) {
                Ok(bytes) => match serde_json::from_slice::<Vec<Platform>>(&bytes) {
                    Ok(l) => Some(l),
                    Err(e) => {
                        tracing::warn!("ignoring unreadable platform list {}: {e}", f.display());
                        None
                    }
                },
                Err(_) => None,
            })
            .unwrap_or_default();
        Self {
            file,
            list: Mutex::new(list),
            keychain,
            fallback: MemoryKeychain::default(),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Vec<Platform>>, AppError> {
        self.list.lock().map_err(AppError::internal)
    }

    fn save(&self, list: &[Platform]) -> Result<(), AppError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let write = || -> std::io::Result<()> {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = file.with_extension("json.tmp");
            std::fs::write(&tmp, serde_json::to_vec_pretty(list).unwrap_or_default())?;
            std::fs::rename(&tmp, file)
        };
        write().map_err(|e| {
            AppError::internal(format!(
                "could not save the platform list to {}: {e}",
                file.display()
            ))
        })
    }

    pub fn list(&self) -> Result<Vec<Platform>, AppError> {
        Ok(self.lock()?.clone())
    }

    pub fn get(&self, id: &str) -> Result<Platform, AppError> {
        self.lock()?
            .iter()
            .find(|p| p.id == id)
            .cloned()
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, "That platform was removed."))
    }

    /// Validates and adds a platform; the same address and profile twice
    /// returns the existing one.
    pub fn add(&self, new: NewPlatform) -> Result<Platform, AppError> {
        let url = valid_backend_url(&new.backend_url)?;
        let name = new.name.trim();
        if name.chars().count() > 80 {
            return Err(AppError::invalid("The name is longer than 80 characters."));
        }
        let name = if name.is_empty() {
            url.host_str().unwrap_or("Platform").to_owned()
        } else {
            name.to_owned()
        };
        let anon_key = new
            .anon_key
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty());
        if new.profile == ProfileId::Seed001 && anon_key.is_none() {
            return Err(AppError::invalid(
                "This platform type (Supabase) needs the project's anon key.",
            ));
        }
        if anon_key.as_ref().is_some_and(|k| k.len() > MAX_FIELD) {
            return Err(AppError::invalid("The anon key is too long."));
        }
        let supabase_url = match new
            .supabase_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(u) => Some(
                valid_backend_url(u)
                    .map_err(|e| {
                        AppError::invalid(format!("Supabase project address: {}", e.message))
                    })?
                    .as_str()
                    .trim_end_matches('/')
                    .to_owned(),
            ),
            None => None,
        };
        if supabase_url.is_some() && anon_key.is_none() {
            return Err(AppError::invalid(
                "Signing in through Supabase needs the project's anon key too (it is in the platform's web app settings).",
            ));
        }
        let socket_url = match new
            .socket_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(u) => Some(
                valid_backend_url(u)
                    .map_err(|e| AppError::invalid(format!("Call server address: {}", e.message)))?
                    .as_str()
                    .trim_end_matches('/')
                    .to_owned(),
            ),
            None => None,
        };
        let backend_url = url.as_str().trim_end_matches('/').to_owned();
        let mut list = self.lock()?;
        if let Some(p) = list
            .iter_mut()
            .find(|p| p.backend_url == backend_url && p.profile == new.profile)
        {
            // A join link naming the call server keeps it for next time.
            if socket_url.is_some() && p.socket_url != socket_url {
                p.socket_url = socket_url;
                let (p, list) = (p.clone(), list.clone());
                self.save(&list)?;
                return Ok(p);
            }
            return Ok(p.clone());
        }
        let platform = Platform {
            id: new_id(&backend_url, list.len()),
            name,
            backend_url,
            profile: new.profile,
            anon_key,
            supabase_url,
            socket_url,
            network: Network::default(),
            account: None,
            signed_in: new.profile == ProfileId::Seed004,
            remembered: true,
        };
        list.push(platform.clone());
        self.save(&list)?;
        Ok(platform)
    }

    pub fn remove(&self, id: &str) -> Result<(), AppError> {
        let mut list = self.lock()?;
        list.retain(|p| p.id != id);
        self.save(&list)?;
        drop(list);
        for account in [id.to_owned(), turn_account(id)] {
            let _ = self.keychain.delete(&account);
            let _ = self.fallback.delete(&account);
        }
        Ok(())
    }

    /// Sets how platform `id`'s peer-to-peer calls cross NATs: its STUN
    /// servers, its TURN server (the credential kept in the keychain; none
    /// given keeps the stored one), and whether media goes only through
    /// the relay.
    pub fn set_network(&self, id: &str, change: NetworkChange) -> Result<Platform, AppError> {
        let (network, credential) = network::checked(&self.get(id)?, &change)?;
        let account = turn_account(id);
        match credential {
            Credential::Forget => {
                let _ = self.keychain.delete(&account);
                let _ = self.fallback.delete(&account);
            }
            Credential::Keep(c) => {
                if let Err(e) = self.keychain.set(&account, &c) {
                    tracing::warn!(
                        "the keychain refused the TURN credential: {e}; holding it for this run"
                    );
                    self.fallback
                        .set(&account, &c)
                        .map_err(AppError::internal)?;
                }
            }
            Credential::Unchanged => {}
        }
        let mut list = self.lock()?;
        let p = list
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, "That platform was removed."))?;
        p.network = network;
        let out = p.clone();
        self.save(&list)?;
        Ok(out)
    }

    /// The servers of platform `p`'s peer-to-peer calls, the TURN
    /// credential read from the keychain (or this run's fallback).
    fn p2p(&self, p: &Platform) -> Result<tandem_call::platform::P2p, AppError> {
        let credential = p.network.turn_url.as_ref().and_then(|_| {
            let account = turn_account(&p.id);
            match self.fallback.get(&account) {
                Ok(Some(c)) => Some(c),
                _ => self.keychain.get(&account).ok().flatten(),
            }
        });
        network::p2p(p, credential)
    }

    /// Keeps `token` for platform `id` signed in as `account`.
    pub fn store_token(&self, id: &str, account: &str, token: &str) -> Result<Platform, AppError> {
        let remembered = match self.keychain.set(id, token) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("the keychain refused the sign-in: {e}; holding it for this run");
                self.fallback.set(id, token).map_err(AppError::internal)?;
                false
            }
        };
        let mut list = self.lock()?;
        let p = list
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, "That platform was removed."))?;
        p.account = Some(account.chars().take(200).collect());
        p.signed_in = true;
        p.remembered = remembered;
        let out = p.clone();
        self.save(&list)?;
        Ok(out)
    }

    /// Keeps a Supabase sign-in (access and refresh token) for platform `id`.
    pub fn store_session(&self, id: &str, session: &SupabaseSession) -> Result<Platform, AppError> {
        let account = session.email.clone().unwrap_or_else(|| "Supabase".into());
        let json = serde_json::to_string(session).map_err(AppError::internal)?;
        self.store_token(id, &account, &format!("{SESSION_PREFIX}{json}"))
    }

    /// The Supabase project platform `id` signs in at, when it has one:
    /// its own address (001: its functions live there) or the one given.
    pub fn supabase_project(&self, id: &str) -> Result<Option<SupabaseProject>, AppError> {
        let p = self.get(id)?;
        let Some(anon_key) = &p.anon_key else {
            return Ok(None);
        };
        let url = p.supabase_url.as_deref().unwrap_or(&p.backend_url);
        Ok(Some(SupabaseProject::new(url, anon_key)?))
    }

    pub fn sign_out(&self, id: &str) -> Result<Platform, AppError> {
        let _ = self.fallback.delete(id);
        self.keychain.delete(id).map_err(|e| {
            AppError::new(
                ErrorCode::Keychain,
                format!("The keychain could not remove the sign-in: {e}"),
            )
        })?;
        let mut list = self.lock()?;
        let p = list
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, "That platform was removed."))?;
        p.account = None;
        p.signed_in = p.profile == ProfileId::Seed004;
        p.remembered = true;
        let out = p.clone();
        self.save(&list)?;
        Ok(out)
    }

    /// The stored token of platform `id`. A keychain that cannot be read
    /// holds nothing we can use: the user signs in again (and is told why).
    fn token(&self, id: &str) -> Result<Option<String>, String> {
        if let Some(t) = self.fallback.get(id)? {
            return Ok(Some(t));
        }
        self.keychain.get(id)
    }

    /// A client for platform `id` with its credentials. A Supabase sign-in
    /// refreshes itself and keeps each rotated refresh token here.
    pub fn client(self: &Arc<Self>, id: &str) -> Result<BackendClient, AppError> {
        let p = self.get(id)?;
        if p.profile == ProfileId::Seed004 {
            // Join links carry their own credentials.
            return Ok(
                BackendClient::new(&p.backend_url, profile(p.profile), Auth::None)?
                    .with_p2p(self.p2p(&p)?),
            );
        }
        let token = self.token(id);
        let auth = match token {
            Ok(Some(stored)) if stored.starts_with(SESSION_PREFIX) => {
                let session: SupabaseSession =
                    serde_json::from_str(&stored[SESSION_PREFIX.len()..]).map_err(|_| {
                        AppError::new(
                            ErrorCode::SignInRequired,
                            format!(
                                "Sign in to {} again (the saved sign-in is unreadable).",
                                p.name
                            ),
                        )
                    })?;
                let project = self.supabase_project(id)?.ok_or_else(|| {
                    AppError::new(
                        ErrorCode::SignInRequired,
                        format!("Sign in to {} again.", p.name),
                    )
                })?;
                let keep = Arc::downgrade(self);
                let pid = id.to_owned();
                Auth::Session(SignedIn::new(
                    project,
                    session,
                    Box::new(move |fresh: &SupabaseSession| {
                        let (keep, pid, fresh) = (keep.clone(), pid.clone(), fresh.clone());
                        // The keychain blocks: off the runtime.
                        tokio::task::spawn_blocking(move || {
                            if let Some(p) = keep.upgrade()
                                && let Err(e) = p.store_session(&pid, &fresh)
                            {
                                tracing::warn!(
                                    "could not keep the refreshed sign-in: {}",
                                    e.message
                                );
                            }
                        });
                    }),
                ))
            }
            Ok(Some(jwt)) if p.profile == ProfileId::Seed001 => Auth::Supabase {
                jwt,
                anon_key: p.anon_key.clone().unwrap_or_default(),
            },
            Ok(Some(t)) => Auth::Bearer(t),
            missing => {
                let why = match missing {
                    Err(e) => {
                        tracing::warn!("the keychain could not be read: {e}");
                        " (the system keychain is not available, so sign-ins last only while Tandem runs)"
                    }
                    _ => "",
                };
                self.forget_sign_in(id)?;
                return Err(AppError::new(
                    ErrorCode::SignInRequired,
                    format!("Sign in to {} first{why}.", p.name),
                ));
            }
        };
        Ok(BackendClient::new(
            &p.backend_url,
            profile(p.profile),
            auth,
        )?)
    }

    /// Marks a platform signed out when its token is gone.
    fn forget_sign_in(&self, id: &str) -> Result<(), AppError> {
        let mut list = self.lock()?;
        if let Some(p) = list.iter_mut().find(|p| p.id == id && p.signed_in) {
            p.signed_in = false;
            let list = list.clone();
            return self.save(&list);
        }
        Ok(())
    }
}

pub fn profile(p: ProfileId) -> Profile {
    match p {
        ProfileId::Seed000 => Profile::Seed000,
        ProfileId::Seed001 => Profile::Seed001,
        ProfileId::Seed002 => Profile::Seed002,
        ProfileId::Seed003 => Profile::Seed003,
        ProfileId::Seed004 => Profile::Seed004,
    }
}

/// The profile a link or the CLI names, as the UI knows it.
pub fn profile_id(p: &Profile) -> Option<ProfileId> {
    Some(match p {
        Profile::Seed000 => ProfileId::Seed000,
        Profile::Seed001 => ProfileId::Seed001,
        Profile::Seed002 => ProfileId::Seed002,
        Profile::Seed003 => ProfileId::Seed003,
        Profile::Seed004 => ProfileId::Seed004,
        Profile::Custom(_) => return None,
    })
}

/// An id that is stable for the file and unique within it.
fn new_id(url: &str, n: usize) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    url.hash(&mut h);
    std::time::SystemTime::now().hash(&mut h);
    n.hash(&mut h);
    format!("p{:016x}", h.finish())
}

/// An http(s) URL with a host and no credentials, query or fragment.
pub fn valid_backend_url(input: &str) -> Result<url::Url, AppError> {
    Ok(tandem_call::link::backend_url(input)?)
}

/// Limits a pasted secret.
pub fn valid_secret(what: &str, s: &str) -> Result<String, AppError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(AppError::invalid(format!("Enter the {what}.")));
    }
    if s.len() > MAX_FIELD {
        return Err(AppError::invalid(format!("That {what} is too long.")));
    }
    if s.chars().any(char::is_control) || s.contains(' ') {
        return Err(AppError::invalid(format!(
            "That {what} contains spaces or control characters: paste it again."
        )));
    }
    Ok(s.to_owned())
}

/// Platforms kept in `dir`, with a keychain that forgets at exit (tests).
#[cfg(test)]
fn test_store(dir: &std::path::Path) -> Arc<Platforms> {
    Arc::new(Platforms::load(
        Some(dir.join("platforms.json")),
        Box::new(MemoryKeychain::default()),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    use super::test_store as store;

    #[test]
    fn platforms_persist_without_their_tokens() {
        let dir = std::env::temp_dir().join(format!("tandem-platforms-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = store(&dir);
        let p = s
            .add(NewPlatform {
                name: " My coach ".into(),
                backend_url: "http://127.0.0.1:8080/".into(),
                profile: ProfileId::Seed000,
                anon_key: None,
                supabase_url: None,
                socket_url: None,
            })
            .unwrap();
        assert_eq!(p.name, "My coach");
        assert_eq!(p.backend_url, "http://127.0.0.1:8080");
        assert!(!p.signed_in);
        assert!(matches!(
            s.client(&p.id),
            Err(AppError {
                code: ErrorCode::SignInRequired,
                ..
            })
        ));
        s.store_token(&p.id, "coach@example.com", "secret-jwt")
            .unwrap();
        assert!(s.client(&p.id).is_ok());
        let on_disk = std::fs::read_to_string(dir.join("platforms.json")).unwrap();
        assert!(on_disk.contains("coach@example.com"));
        assert!(!on_disk.contains("secret-jwt"), "tokens never go to files");
        // Reloaded: the list survives; this memory keychain does not.
        let again = store(&dir);
        assert_eq!(again.list().unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_addresses_are_refused_with_advice() {
        for bad in [
            "",
            "coach.example.com",
            "ftp://x.y",
            "https://u:p@x.y",
            "https://x.y/?a=1",
            "javascript:alert(1)",
        ] {
            let e = valid_backend_url(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
            assert!(!e.message.is_empty());
        }
        assert!(valid_backend_url("https://coach.example.com/api").is_ok());
        assert!(valid_secret("token", "a b").is_err());
        assert!(valid_secret("token", "").is_err());
    }

    /// A keychain with no provider (a desktop without a Secret Service).
    #[derive(Debug)]
    struct NoKeychain;
    impl Keychain for NoKeychain {
        fn get(&self, _: &str) -> Result<Option<String>, String> {
            Err("no secret service provider".into())
        }
        fn set(&self, _: &str, _: &str) -> Result<(), String> {
            Err("no secret service provider".into())
        }
        fn delete(&self, _: &str) -> Result<(), String> {
            Err("no secret service provider".into())
        }
    }

    #[test]
    fn without_a_keychain_sign_ins_last_for_the_run_and_links_still_work() {
        let s = Arc::new(Platforms::load(None, Box::new(NoKeychain)));
        let new = |profile| NewPlatform {
            name: String::new(),
            backend_url: "http://127.0.0.1:9".into(),
            profile,
            anon_key: None,
            supabase_url: None,
            socket_url: None,
        };
        let links = s.add(new(ProfileId::Seed004)).unwrap();
        assert!(s.client(&links.id).is_ok(), "join links need no keychain");
        let p = s.add(new(ProfileId::Seed000)).unwrap();
        let e = s.client(&p.id).unwrap_err();
        assert_eq!(e.code, ErrorCode::SignInRequired);
        assert!(
            e.message.contains("keychain is not available"),
            "{}",
            e.message
        );
        let signed = s.store_token(&p.id, "a@b.c", "jwt").unwrap();
        assert!(signed.signed_in && !signed.remembered);
        assert!(s.client(&p.id).is_ok());
    }

    #[test]
    fn supabase_needs_its_anon_key() {
        let s = Platforms::load(None, Box::new(MemoryKeychain::default()));
        let e = s
            .add(NewPlatform {
                name: String::new(),
                backend_url: "https://x.supabase.co".into(),
                profile: ProfileId::Seed001,
                anon_key: None,
                supabase_url: None,
                socket_url: None,
            })
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
    }

    #[test]
    fn a_supabase_sign_in_is_kept_whole_and_refreshes_itself() {
        let s = Arc::new(Platforms::load(None, Box::new(MemoryKeychain::default())));
        let new = |profile, supabase_url: Option<&str>, anon_key: Option<&str>| NewPlatform {
            name: String::new(),
            backend_url: "https://app.example".into(),
            profile,
            anon_key: anon_key.map(str::to_owned),
            supabase_url: supabase_url.map(str::to_owned),
            socket_url: None,
        };
        // 000 with its Supabase project beside the app's address.
        let e = s
            .add(new(ProfileId::Seed000, Some("https://x.supabase.co"), None))
            .unwrap_err();
        assert!(e.message.contains("anon key"), "{}", e.message);
        let e = s
            .add(new(ProfileId::Seed000, Some("not a url"), Some("k")))
            .unwrap_err();
        assert!(
            e.message.starts_with("Supabase project address"),
            "{}",
            e.message
        );
        let p = s
            .add(new(
                ProfileId::Seed000,
                Some("https://x.supabase.co/"),
                Some("anon"),
            ))
            .unwrap();
        assert_eq!(p.supabase_url.as_deref(), Some("https://x.supabase.co"));
        assert!(s.supabase_project(&p.id).unwrap().is_some());
        let session = SupabaseSession {
            access_token: "a.b.c".into(),
            refresh_token: "r".into(),
            expires_at: i64::MAX,
            email: Some("coach@x".into()),
        };
        let signed = s.store_session(&p.id, &session).unwrap();
        assert_eq!(signed.account.as_deref(), Some("coach@x"));
        let client = s.client(&p.id).unwrap();
        assert!(client.signed_in().is_some(), "the client refreshes itself");
        // Without an anon key there is no Supabase sign-in: tandem-backend's own.
        let plain = s.add(new(ProfileId::Seed002, None, None)).unwrap();
        assert!(s.supabase_project(&plain.id).unwrap().is_none());
    }
}
