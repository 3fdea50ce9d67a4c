//! A private Wayland desktop's screen sharing, for tests: a session bus of
//! its own, PipeWire with WirePlumber, and the real desktop portal
//! (xdg-desktop-portal) in front of a ScreenCast backend of the test's own
//! (`org.freedesktop.impl.portal.ScreenCast`, as GNOME's, KDE's and
//! wlroots' backends implement it). The backend grants the one "screen"
//! without a dialog; the screen is a PipeWire video source of one colour.
//!
//! Why not a real compositor's backend: xdg-desktop-portal-wlr (0.7, in
//! Debian 12) starts a cast only where the compositor offers DMA-BUF
//! buffers, which needs a GPU render node this machine lacks.
//!
//! Nothing of the machine's own desktop is touched; dropping it stops all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use pipewire as pw;
use pw::spa;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

const BACKEND: &str = "org.freedesktop.impl.portal.desktop.tandemtest";

/// A running desktop; [`Desktop::env`] is what a program needs to use it.
pub struct Desktop {
    dir: PathBuf,
    runtime: PathBuf,
    /// Started in this order, stopped in the reverse one.
    children: Vec<(&'static str, Child)>,
    screen: Option<Screen>,
    _backend: zbus::blocking::Connection,
    restored: Arc<AtomicBool>,
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desktop").field("dir", &self.dir).finish()
    }
}

fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> (&'static str, Child) {
    let out = std::fs::File::create(log).expect("a log file");
    let err = out.try_clone().expect("a log file");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name} (see `cargo xtask setup`): {e}"));
    (name, child)
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !ready() {
        assert!(
            Instant::now() < until,
            "{what} was not ready within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Desktop {
    /// Starts a desktop whose screen is `width`×`height` of `colour` (RGB)
    /// and returns once its portal answers.
    pub fn start(width: u32, height: u32, colour: [u8; 3]) -> Desktop {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tandem-desktop-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let runtime = dir.join("run");
        let portals = dir.join("portals");
        for d in [&dir, &runtime, &portals] {
            std::fs::create_dir_all(d).expect("the desktop's directories");
        }
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(
            portals.join("tandemtest.portal"),
            format!(
                "[portal]\nDBusName={BACKEND}\nInterfaces=org.freedesktop.impl.portal.ScreenCast;\nUseIn=tandemtest;\n"
            ),
        )
        .unwrap();

        let mut children = Vec::new();
        let bus = runtime.join("bus");
        let address = format!("unix:path={}", bus.display());
        children.push(spawn(
            "dbus-daemon",
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", "--nopidfile"])
                .arg(format!("--address={address}")),
            &dir.join("dbus.log"),
        ));
        wait_for("the session bus", Duration::from_secs(10), || bus.exists());
        let env = |cmd: &mut Command| {
            cmd.env("XDG_RUNTIME_DIR", &runtime)
                .env("DBUS_SESSION_BUS_ADDRESS", &address)
                .env("XDG_CURRENT_DESKTOP", "tandemtest")
                .env("XDG_DESKTOP_PORTAL_DIR", &portals)
                .env_remove("DISPLAY");
        };
        let mut pipewire = Command::new("pipewire");
        env(&mut pipewire);
        children.push(spawn("pipewire", &mut pipewire, &dir.join("pipewire.log")));
        let socket = runtime.join("pipewire-0");
        wait_for("PipeWire", Duration::from_secs(10), || socket.exists());
        let mut wireplumber = Command::new("wireplumber");
        env(&mut wireplumber);
        children.push(spawn(
            "wireplumber",
            &mut wireplumber,
            &dir.join("wireplumber.log"),
        ));

        let screen = Screen::start(&socket, width, height, colour);
        let restored = Arc::new(AtomicBool::new(false));
        let backend = ScreenCastBackend {
            node: screen.node,
            size: (width, height),
            restored: restored.clone(),
        };
        let connection = zbus::blocking::connection::Builder::address(address.as_str())
            .and_then(|b| b.name(BACKEND))
            .and_then(|b| b.serve_at("/org/freedesktop/portal/desktop", backend))
            .and_then(zbus::blocking::connection::Builder::build)
            .expect("the test's portal backend on the bus");

        let mut portal = Command::new("/usr/libexec/xdg-desktop-portal");
        portal.arg("-r");
        env(&mut portal);
        children.push(spawn(
            "xdg-desktop-portal",
            &mut portal,
            &dir.join("portal.log"),
        ));
        let mut probe = Command::new("dbus-send");
        probe.args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.portal.Desktop",
            "/org/freedesktop/portal/desktop",
            "org.freedesktop.DBus.Properties.Get",
            "string:org.freedesktop.portal.ScreenCast",
            "string:version",
        ]);
        env(&mut probe);
        wait_for("the screen-cast portal", Duration::from_secs(20), || {
            probe
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        Desktop {
            dir,
            runtime,
            children,
            screen: Some(screen),
            _backend: connection,
            restored,
            width,
            height,
        }
    }

    /// Ends the screen's stream, as a system does when a person stops the
    /// share from its own controls or the shared display goes away.
    pub fn end_screen_cast(&mut self) {
        self.screen = None;
    }

    /// Whether the portal handed the backend a restored choice: a share
    /// offered the portal's restore token from an earlier one.
    pub fn restored(&self) -> bool {
        self.restored.load(Ordering::SeqCst)
    }

    /// The variables a program needs to be on this desktop (and to keep
    /// its screen-sharing choice here, not in the machine's home).
    pub fn env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        let bus = format!("unix:path={}", self.runtime.join("bus").display());
        vec![
            ("XDG_RUNTIME_DIR", self.runtime.clone().into()),
            ("DBUS_SESSION_BUS_ADDRESS", bus.into()),
            ("XDG_SESSION_TYPE", "wayland".into()),
            ("XDG_CURRENT_DESKTOP", "tandemtest".into()),
            ("XDG_STATE_HOME", self.state_home().into()),
        ]
    }

    /// Where a program on this desktop keeps its state.
    pub fn state_home(&self) -> PathBuf {
        self.dir.join("state")
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        self.screen = None;
        while let Some((_, mut child)) = self.children.pop() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("[desktop] its logs are kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The portal backend: grants the one screen at once, and hands back a
/// restore token's data the way real backends do.
struct ScreenCastBackend {
    node: u32,
    size: (u32, u32),
    restored: Arc<AtomicBool>,
}

type Answer = (u32, HashMap<String, OwnedValue>);

fn owned(v: Value<'_>) -> OwnedValue {
    OwnedValue::try_from(v).expect("a plain value")
}

#[zbus::interface(name = "org.freedesktop.impl.portal.ScreenCast")]
impl ScreenCastBackend {
    fn create_session(
        &self,
        _handle: OwnedObjectPath,
        _session: OwnedObjectPath,
        _app_id: String,
        _options: HashMap<String, OwnedValue>,
    ) -> Answer {
        (0, HashMap::new())
    }

    fn select_sources(
        &self,
        _handle: OwnedObjectPath,
        _session: OwnedObjectPath,
        _app_id: String,
        options: HashMap<String, OwnedValue>,
    ) -> Answer {
        if options.contains_key("restore_data") {
            self.restored.store(true, Ordering::SeqCst);
        }
        (0, HashMap::new())
    }

    fn start(
        &self,
        _handle: OwnedObjectPath,
        _session: OwnedObjectPath,
        _app_id: String,
        _parent_window: String,
        _options: HashMap<String, OwnedValue>,
    ) -> Answer {
        let (w, h) = self.size;
        let mut props: HashMap<String, OwnedValue> = HashMap::new();
        props.insert("size".into(), owned(Value::from((w as i32, h as i32))));
        props.insert("position".into(), owned(Value::from((0i32, 0i32))));
        props.insert("source_type".into(), owned(Value::U32(1)));
        let mut results = HashMap::new();
        results.insert(
            "streams".into(),
            owned(Value::from(vec![(self.node, props)])),
        );
        results.insert("persist_mode".into(), owned(Value::U32(2)));
        let kept = Value::from(("tandemtest", 1u32, Value::Value(Box::new(Value::U32(1)))));
        results.insert("restore_data".into(), owned(kept));
        (0, results)
    }

    #[zbus(property)]
    fn available_source_types(&self) -> u32 {
        1
    }

    #[zbus(property)]
    fn available_cursor_modes(&self) -> u32 {
        3
    }

    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        4
    }
}

/// The "screen": a PipeWire video source of one colour, 30 pictures a
/// second, on a thread of its own; dropping it removes it.
struct Screen {
    node: u32,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Screen {
    fn start(socket: &Path, width: u32, height: u32, colour: [u8; 3]) -> Screen {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let socket = socket.to_owned();
        let quit = stop.clone();
        let thread = std::thread::spawn(move || {
            if let Err(e) = run_screen(&socket, width, height, colour, &quit, &tx) {
                let _ = tx.send(Err(e));
            }
        });
        let node = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the screen's stream within 10 s")
            .expect("the screen's stream");
        Screen {
            node,
            stop,
            thread: Some(thread),
        }
    }
}

fn run_screen(
    socket: &Path,
    width: u32,
    height: u32,
    [r, g, b]: [u8; 3],
    stop: &AtomicBool,
    ready: &mpsc::Sender<Result<u32, String>>,
) -> Result<(), String> {
    let e = |e: pw::Error| e.to_string();
    pw::init();
    let mainloop = pw::main_loop::MainLoopRc::new(None).map_err(e)?;
    // Entered for the thread's whole run, so PipeWire's data thread hands
    // its callbacks to this thread instead of running them itself.
    // SAFETY: paired with the `leave` at the end, on this thread.
    unsafe { mainloop.loop_().enter() };
    let context = pw::context::ContextRc::new(&mainloop, None).map_err(e)?;
    let fd = std::os::unix::net::UnixStream::connect(socket).map_err(|e| e.to_string())?;
    let core = context.connect_fd_rc(fd.into(), None).map_err(e)?;
    let stream = pw::stream::StreamRc::new(
        core,
        "Test screen",
        pw::properties::properties! {
            *pw::keys::MEDIA_CLASS => "Video/Source",
            *pw::keys::NODE_NAME => "tandem-test-screen",
        },
    )
    .map_err(e)?;
    let stride = width * 4;
    let picture: Vec<u8> = std::iter::repeat_n([b, g, r, 255], (width * height) as usize)
        .flatten()
        .collect();
    let streaming = Arc::new(Mutex::new(false));
    let _listener = stream
        .add_local_listener_with_user_data(())
        .state_changed({
            let streaming = streaming.clone();
            move |_, _, _, new| {
                *streaming.lock().unwrap() = new == pw::stream::StreamState::Streaming;
            }
        })
        .param_changed(move |s, _, id, param| {
            if id != spa::param::ParamType::Format.as_raw() || param.is_none() {
                return;
            }
            let buffers = pod(spa::pod::Value::Object(spa::pod::Object {
                type_: spa::utils::SpaTypes::ObjectParamBuffers.as_raw(),
                id: spa::param::ParamType::Buffers.as_raw(),
                properties: vec![
                    spa::pod::Property::new(
                        spa::sys::SPA_PARAM_BUFFERS_buffers,
                        spa::pod::Value::Int(4),
                    ),
                    spa::pod::Property::new(
                        spa::sys::SPA_PARAM_BUFFERS_blocks,
                        spa::pod::Value::Int(1),
                    ),
                    spa::pod::Property::new(
                        spa::sys::SPA_PARAM_BUFFERS_size,
                        spa::pod::Value::Int((stride * height) as i32),
                    ),
                    spa::pod::Property::new(
                        spa::sys::SPA_PARAM_BUFFERS_stride,
                        spa::pod::Value::Int(stride as i32),
                    ),
                    // Memory PipeWire shares with the reader.
                    spa::pod::Property::new(
                        spa::sys::SPA_PARAM_BUFFERS_dataType,
                        spa::pod::Value::Int(1 << spa::sys::SPA_DATA_MemPtr),
                    ),
                ],
            }));
            if let Some(p) = spa::pod::Pod::from_bytes(&buffers) {
                let _ = s.update_params(&mut [p]);
            }
        })
        .process(move |s, _| {
            let Some(mut buffer) = s.dequeue_buffer() else {
                return;
            };
            let Some(d) = buffer.datas_mut().first_mut() else {
                return;
            };
            if let Some(bytes) = d.data() {
                let n = picture.len().min(bytes.len());
                bytes[..n].copy_from_slice(&picture[..n]);
                let chunk = d.chunk_mut();
                *chunk.offset_mut() = 0;
                *chunk.size_mut() = n as u32;
                *chunk.stride_mut() = stride as i32;
            }
        })
        .register()
        .map_err(e)?;
    let format = pod(spa::pod::Value::Object(spa::pod::object!(
        spa::utils::SpaTypes::ObjectParamFormat,
        spa::param::ParamType::EnumFormat,
        spa::pod::property!(
            spa::param::format::FormatProperties::MediaType,
            Id,
            spa::param::format::MediaType::Video
        ),
        spa::pod::property!(
            spa::param::format::FormatProperties::MediaSubtype,
            Id,
            spa::param::format::MediaSubtype::Raw
        ),
        spa::pod::property!(
            spa::param::format::FormatProperties::VideoFormat,
            Id,
            spa::param::video::VideoFormat::BGRx
        ),
        spa::pod::property!(
            spa::param::format::FormatProperties::VideoSize,
            Rectangle,
            spa::utils::Rectangle { width, height }
        ),
        spa::pod::property!(
            spa::param::format::FormatProperties::VideoFramerate,
            Fraction,
            spa::utils::Fraction { num: 30, denom: 1 }
        ),
    )));
    let mut params = [spa::pod::Pod::from_bytes(&format).ok_or("the format")?];
    stream
        .connect(
            spa::utils::Direction::Output,
            None,
            pw::stream::StreamFlags::DRIVER | pw::stream::StreamFlags::MAP_BUFFERS,
            &mut params,
        )
        .map_err(e)?;
    let lp = mainloop.loop_();
    // SAFETY: the loop is entered on this thread (above).
    let turn =
        |ms| unsafe { lp.iterate_unguarded(pw::loop_::Timeout::Finite(Duration::from_millis(ms))) };
    let until = Instant::now() + Duration::from_secs(10);
    while stream.node_id() == u32::MAX && Instant::now() < until {
        turn(20);
    }
    let _ = ready.send(Ok(stream.node_id()));
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        turn(5);
        if Instant::now() >= next {
            next += Duration::from_millis(33);
            if *streaming.lock().unwrap() {
                let _ = stream.trigger_process();
            }
        }
    }
    let _ = stream.disconnect();
    drop(_listener);
    drop(stream);
    // SAFETY: paired with the `enter` above, on this thread.
    unsafe { lp.leave() };
    Ok(())
}

fn pod(value: spa::pod::Value) -> Vec<u8> {
    spa::pod::serialize::PodSerializer::serialize(std::io::Cursor::new(Vec::new()), &value)
        .map(|(c, _)| c.into_inner())
        .unwrap_or_default()
}
