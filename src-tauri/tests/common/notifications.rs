//! A notification server of our own on a private D-Bus session bus, as a
//! desktop has one: it takes `org.freedesktop.Notifications` and keeps
//! every notification the app raises, for the test to read back.

use std::collections::HashMap;
use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// A window of the test's on the X display holding the input focus, so the
/// app is not in front (as when its person switched to another app); it
/// goes when this is dropped.
pub(crate) struct ElsewhereFocused(x11rb::rust_connection::RustConnection);

impl ElsewhereFocused {
    pub(crate) fn take(display: &str) -> ElsewhereFocused {
        use x11rb::connection::Connection as _;
        use x11rb::protocol::xproto::{
            ConnectionExt as _, CreateWindowAux, InputFocus, WindowClass,
        };
        let (x, n) = x11rb::connect(Some(display)).expect("the X display");
        let root = x.setup().roots[n].root;
        let win = x.generate_id().expect("a window id");
        x.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            win,
            root,
            0,
            0,
            16,
            16,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new(),
        )
        .expect("a window");
        x.map_window(win).expect("shown");
        x.flush().expect("sent");
        std::thread::sleep(std::time::Duration::from_millis(200));
        x.set_input_focus(InputFocus::PARENT, win, x11rb::CURRENT_TIME)
            .expect("the focus");
        x.flush().expect("sent");
        ElsewhereFocused(x)
    }
}

/// One notification as the server got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shown {
    pub(crate) app: String,
    pub(crate) summary: String,
    pub(crate) body: String,
    pub(crate) actions: Vec<String>,
}

struct Server {
    shown: Arc<Mutex<Vec<Shown>>>,
    next: AtomicU32,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        if let Ok(mut s) = self.shown.lock() {
            s.push(Shown {
                app: app_name,
                summary,
                body,
                actions,
            });
        }
        self.next.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "tandem-test".into(),
            "tandem".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// The bus and the server; both stop when this is dropped.
pub(crate) struct Notifications {
    /// `DBUS_SESSION_BUS_ADDRESS` for the app.
    pub(crate) address: String,
    daemon: Child,
    shown: Arc<Mutex<Vec<Shown>>>,
    _connection: zbus::Connection,
}

impl Notifications {
    pub(crate) async fn start() -> Notifications {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dbus-daemon (Debian's dbus package)");
        let mut line = String::new();
        std::io::BufReader::new(daemon.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("the bus's address");
        let address = line.trim().to_owned();
        let shown = Arc::new(Mutex::new(Vec::new()));
        let server = Server {
            shown: shown.clone(),
            next: AtomicU32::new(0),
        };
        let connection = zbus::connection::Builder::address(address.as_str())
            .and_then(|b| b.name("org.freedesktop.Notifications"))
            .and_then(|b| b.serve_at("/org/freedesktop/Notifications", server))
            .expect("a server on the bus")
            .build()
            .await
            .expect("the server's connection");
        Notifications {
            address,
            daemon,
            shown,
            _connection: connection,
        }
    }

    /// What was shown so far.
    pub(crate) fn shown(&self) -> Vec<Shown> {
        self.shown.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Notifications {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
