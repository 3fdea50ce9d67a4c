//! The desktop's ScreenCast portal (`org.freedesktop.portal.ScreenCast`
//! over D-Bus): how a Wayland session shares a screen or a window. The
//! person picks what to share in the system's own dialog; the portal then
//! hands over a PipeWire connection and the stream's node ([`Grant`]), read
//! by [`super::pipewire`].
//!
//! The portal's restore token is kept (`$XDG_STATE_HOME/tandem/`, readable
//! only by the person) and offered the next time, so the person chooses
//! once: the system may then share the same thing without asking again.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use zbus::blocking::{Connection, MessageIterator};
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use super::{ScreenError, ScreenKind};

const PORTAL: &str = "org.freedesktop.portal.Desktop";
const DESKTOP: &str = "/org/freedesktop/portal/desktop";
const SCREENCAST: &str = "org.freedesktop.portal.ScreenCast";
/// How long the system's dialog may stay open before we give up on it.
pub(super) const DIALOG_LIMIT: Duration = Duration::from_secs(180);
/// How long the portal may take for a step without a dialog.
const STEP_LIMIT: Duration = Duration::from_secs(20);

/// What sharing through the portal looks like in a list.
pub(super) fn entry() -> super::ScreenInfo {
    super::ScreenInfo {
        id: super::PORTAL.into(),
        name: "A screen or window you choose in the system dialog".into(),
        kind: ScreenKind::Screen,
        width: 0,
        height: 0,
    }
}

/// Whether this is a Wayland session, where screens are shared through
/// the portal (X11 capture there sees only older apps' windows).
pub(super) fn is_wayland() -> bool {
    std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty())
        || std::env::var("XDG_SESSION_TYPE").is_ok_and(|v| v == "wayland")
}

/// A share the person granted: the PipeWire connection and the stream in
/// it. Dropping it closes the portal's session, which ends the stream.
pub(super) struct Grant {
    conn: Connection,
    session: OwnedObjectPath,
    /// The PipeWire remote to connect to (only this share's node is in it).
    pub(super) fd: Option<OwnedFd>,
    pub(super) node: u32,
    /// The size the portal announced, if it did.
    pub(super) size: Option<(u32, u32)>,
    /// What the person chose.
    pub(super) name: String,
}

impl Drop for Grant {
    fn drop(&mut self) {
        let closed = self.conn.call_method(
            Some(PORTAL),
            self.session.as_str(),
            Some("org.freedesktop.portal.Session"),
            "Close",
            &(),
        );
        if let Err(e) = closed {
            tracing::debug!("closing the portal's screen-cast session: {e}");
        }
    }
}

fn failed(what: &str) -> impl Fn(zbus::Error) -> ScreenError + '_ {
    move |e| ScreenError::Failed(format!("the desktop portal ({what}): {e}"))
}

/// Asks the person (through the portal's dialog) what to share, and
/// returns the grant; a dismissed dialog is [`ScreenError::Refused`].
pub(super) fn request() -> Result<Grant, ScreenError> {
    let conn = Connection::session().map_err(|e| {
        ScreenError::Unsupported(format!(
            "no desktop session bus to reach the screen-sharing portal ({e})"
        ))
    })?;
    let version = property(&conn, "version").map_err(|_| {
        ScreenError::Unsupported(
            "this desktop has no screen-sharing portal (install xdg-desktop-portal and your desktop's portal backend)".into(),
        )
    })?;
    let sources = property(&conn, "AvailableSourceTypes").unwrap_or(1);
    let cursors = property(&conn, "AvailableCursorModes").unwrap_or(1);
    let portal = Portal::new(conn)?;

    let created = portal.ask(
        "CreateSession",
        |options| {
            options.insert("session_handle_token", Value::from(token("session")));
        },
        |options| portal.call("CreateSession", &(options,)),
        STEP_LIMIT,
    )?;
    let session = created
        .get("session_handle")
        .and_then(|v| match &**v {
            Value::Str(s) => OwnedObjectPath::try_from(s.as_str()).ok(),
            Value::ObjectPath(p) => Some(p.clone().into()),
            _ => None,
        })
        .ok_or_else(|| ScreenError::Failed("the portal gave no session".into()))?;
    // From here on, a failure closes the session again.
    let mut grant = Grant {
        conn: portal.conn.clone(),
        session,
        fd: None,
        node: 0,
        size: None,
        name: String::new(),
    };

    let kept = token_file();
    let restore = kept
        .as_deref()
        .filter(|_| version >= 4)
        .and_then(saved_token);
    portal.ask(
        "SelectSources",
        |options| {
            // Screens, and windows where the portal offers them.
            options.insert("types", Value::U32(sources & 0b11));
            options.insert("multiple", Value::Bool(false));
            // The pointer drawn into the picture where it can be.
            let cursor = if cursors & 2 != 0 { 2 } else { 1 };
            options.insert("cursor_mode", Value::U32(cursor));
            if version >= 4 {
                // Remembered until the person revokes it.
                options.insert("persist_mode", Value::U32(2));
                if let Some(t) = &restore {
                    options.insert("restore_token", Value::from(t.clone()));
                }
            }
        },
        |options| portal.call("SelectSources", &(&grant.session, options)),
        STEP_LIMIT,
    )?;

    let started = portal.ask(
        "Start",
        |_| {},
        |options| portal.call("Start", &(&grant.session, "", options)),
        DIALOG_LIMIT,
    )?;
    if let Some(t) = started.get("restore_token").and_then(|v| match &**v {
        Value::Str(s) => Some(s.to_string()),
        _ => None,
    }) && let Some(path) = &kept
    {
        save_token(path, &t);
    }
    let streams = started
        .get("streams")
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| Vec::<(u32, HashMap<String, OwnedValue>)>::try_from(v).ok())
        .unwrap_or_default();
    let Some((node, props)) = streams.into_iter().next() else {
        return Err(ScreenError::Failed(
            "the portal started sharing without a stream".into(),
        ));
    };
    grant.node = node;
    grant.size = props
        .get("size")
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| <(i32, i32)>::try_from(v).ok())
        .and_then(|(w, h)| Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?)));
    let kind = props
        .get("source_type")
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(1);
    grant.name = if kind == 2 {
        "A window".into()
    } else {
        "Entire screen".into()
    };

    let reply = portal
        .conn
        .call_method(
            Some(PORTAL),
            DESKTOP,
            Some(SCREENCAST),
            "OpenPipeWireRemote",
            &(&grant.session, HashMap::<&str, Value<'_>>::new()),
        )
        .map_err(failed("OpenPipeWireRemote"))?;
    let fd: zbus::zvariant::OwnedFd = reply
        .body()
        .deserialize()
        .map_err(failed("OpenPipeWireRemote"))?;
    grant.fd = Some(fd.into());
    Ok(grant)
}

/// A `u` property of the ScreenCast portal.
fn property(conn: &Connection, name: &str) -> Result<u32, ScreenError> {
    let reply = conn
        .call_method(
            Some(PORTAL),
            DESKTOP,
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(SCREENCAST, name),
        )
        .map_err(failed(name))?;
    let value: OwnedValue = reply.body().deserialize().map_err(failed(name))?;
    u32::try_from(&value).map_err(|e| failed(name)(e.into()))
}

/// A fresh token for a request or session object's name.
fn token(what: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "tandem_{what}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The portal's answer to a request: its results.
type Results = HashMap<String, OwnedValue>;

struct Portal {
    conn: Connection,
    /// Our name on the bus as request paths spell it (`:1.42` → `1_42`).
    sender: String,
}

impl Portal {
    fn new(conn: Connection) -> Result<Self, ScreenError> {
        let sender = conn
            .unique_name()
            .map(|n| n.trim_start_matches(':').replace('.', "_"))
            .ok_or_else(|| ScreenError::Failed("no name on the session bus".into()))?;
        Ok(Self { conn, sender })
    }

    fn call<B>(&self, method: &str, body: &B) -> Result<(), ScreenError>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        self.conn
            .call_method(Some(PORTAL), DESKTOP, Some(SCREENCAST), method, body)
            .map(drop)
            .map_err(failed(method))
    }

    /// One portal request: the options (`handle_token` added) are filled by
    /// `options`, the method called by `call`, and the answer (the
    /// `Response` signal on the request's object) awaited for `limit`.
    fn ask(
        &self,
        method: &str,
        options: impl FnOnce(&mut HashMap<&'static str, Value<'static>>),
        call: impl FnOnce(HashMap<&'static str, Value<'static>>) -> Result<(), ScreenError>,
        limit: Duration,
    ) -> Result<Results, ScreenError> {
        let handle_token = token("request");
        let handle = format!(
            "/org/freedesktop/portal/desktop/request/{}/{handle_token}",
            self.sender
        );
        // Listening before asking, so a quick answer is not missed.
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface("org.freedesktop.portal.Request")
            .and_then(|b| b.member("Response"))
            .and_then(|b| b.path(handle.clone()))
            .map_err(failed(method))?
            .build();
        let answers =
            MessageIterator::for_match_rule(rule, &self.conn, Some(4)).map_err(failed(method))?;
        let mut opts = HashMap::new();
        options(&mut opts);
        opts.insert("handle_token", Value::from(handle_token));
        call(opts)?;

        // The answer is read on a thread of its own, so a portal that never
        // answers cannot hold the share forever.
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("portal answer".into())
            .spawn(move || {
                let mut answers = answers;
                if let Some(m) = answers.next() {
                    let parsed = m.and_then(|m| m.body().deserialize::<(u32, Results)>());
                    let _ = tx.send(parsed);
                }
            })
            .map_err(|e| ScreenError::Failed(e.to_string()))?;
        let answer = match rx.recv_timeout(limit) {
            Ok(a) => a.map_err(failed(method))?,
            Err(_) => {
                // Take the dialog away; its late answer goes nowhere.
                let _ = self.conn.call_method(
                    Some(PORTAL),
                    handle.as_str(),
                    Some("org.freedesktop.portal.Request"),
                    "Close",
                    &(),
                );
                return Err(ScreenError::Failed(format!(
                    "the system's sharing dialog did not answer within {} s",
                    limit.as_secs()
                )));
            }
        };
        match answer {
            (0, results) => Ok(results),
            (1, _) => Err(ScreenError::Refused(
                "sharing was cancelled in the system's dialog".into(),
            )),
            (_, _) => Err(ScreenError::Refused(format!(
                "the system did not allow sharing the screen ({method} was refused)"
            ))),
        }
    }
}

/// Where the portal's restore token is kept.
fn token_file() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("tandem").join("screen-share-restore-token"))
}

fn saved_token(path: &std::path::Path) -> Option<String> {
    let t = std::fs::read_to_string(path).ok()?;
    let t = t.trim();
    // A token is the portal's own short id; anything else is not ours.
    (!t.is_empty() && t.len() <= 256 && t.chars().all(|c| c.is_ascii_graphic()))
        .then(|| t.to_owned())
}

fn save_token(path: &std::path::Path, token: &str) {
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(token.as_bytes())
    };
    if let Err(e) = write() {
        tracing::warn!("the screen-sharing choice could not be remembered: {e}");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn a_kept_token_is_read_back_and_garbage_is_not() {
        let dir = std::env::temp_dir().join(format!("tandem-portal-{}", std::process::id()));
        let path = dir.join("tandem").join("token");
        super::save_token(&path, "a1b2-c3");
        assert_eq!(super::saved_token(&path).as_deref(), Some("a1b2-c3"));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the person can read it");
        std::fs::write(&path, "not a token\n\0").unwrap();
        assert_eq!(super::saved_token(&path), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
