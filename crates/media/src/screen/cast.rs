//! A screen cast granted by the desktop portal ([`super::portal`]), read
//! from PipeWire on the share's own thread: the loop is turned whenever a
//! picture is due, only the newest buffer is kept, and it is converted to
//! I420 (scaled to at most full HD) only when it is sent. A screen that does
//! not change sends no new buffers; its last picture is sent again.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use pipewire as pw;
use pw::spa;
use spa::param::video::VideoFormat;

use super::portal::{self, Grant};
use super::{Pace, ScreenError, ScreenSource, at_size, now_us, sent_size};
use crate::convert::{bgrx_to_i420, rgbx_to_i420};
use crate::feed::CaptureFormat;
use crate::frame::I420Frame;

/// How long the first picture may take once the person chose.
const FIRST_PICTURE: Duration = Duration::from_secs(10);

/// The newest picture PipeWire delivered, and how the stream is.
#[derive(Default)]
struct Latest {
    /// Its bytes, rows `stride` apart.
    data: Vec<u8>,
    width: u32,
    height: u32,
    stride: u32,
    /// Red first (RGBx/RGBA) rather than blue first.
    red_first: bool,
    /// Not sent yet.
    fresh: bool,
    /// The format agreed with the portal: (width, height, red first).
    format: Option<(u32, u32, bool)>,
    /// Why the stream ended, once it has.
    ended: Option<String>,
}

fn failed(what: &str) -> impl Fn(pw::Error) -> ScreenError + '_ {
    move |e| ScreenError::Failed(format!("PipeWire ({what}): {e}"))
}

pub(super) struct Capture {
    // Dropped in this order: the stream's callbacks, the stream, the
    // connection, then the portal's session.
    _listener: pw::stream::StreamListener<()>,
    _core_listener: pw::core::Listener,
    _registry_listener: pw::registry::Listener,
    _registry: pw::registry::RegistryRc,
    stream: pw::stream::StreamRc,
    _core: pw::core::CoreRc,
    _context: pw::context::ContextRc,
    entered: Entered,
    grant: Grant,
    latest: Rc<RefCell<Latest>>,
    fps: u32,
    pace: Pace,
    size: (u32, u32),
    last: Option<I420Frame>,
}

impl Capture {
    /// Asks the person what to share (the system's dialog), connects to
    /// the stream and waits for its first picture.
    pub(super) fn open(fps: u32) -> Result<Self, ScreenError> {
        let mut grant = portal::request()?;
        let fd = grant
            .fd
            .take()
            .ok_or_else(|| ScreenError::Failed("the portal gave no PipeWire connection".into()))?;
        pw::init();
        let mainloop = pw::main_loop::MainLoopRc::new(None).map_err(failed("loop"))?;
        let entered = Entered::new(mainloop.clone());
        let context = pw::context::ContextRc::new(&mainloop, None).map_err(failed("context"))?;
        let core = context
            .connect_fd_rc(fd, None)
            .map_err(failed("connecting"))?;
        let latest = Rc::new(RefCell::new(Latest::default()));

        let core_listener = core
            .add_listener_local()
            .error({
                let latest = latest.clone();
                move |id, _, _, message| {
                    // Object 0 is the connection itself: it is gone.
                    if id == 0 {
                        latest.borrow_mut().ended =
                            Some(format!("the screen cast was cut off ({message})"));
                    }
                }
            })
            .register();
        // The shared node going away is how most systems end a cast (the
        // person stopped it in the system's controls, the display went).
        let registry = core.get_registry_rc().map_err(failed("registry"))?;
        let node = grant.node;
        let registry_listener = registry
            .add_listener_local()
            .global_remove({
                let latest = latest.clone();
                move |id| {
                    if id == node {
                        latest.borrow_mut().ended = Some("the system ended the screen cast".into());
                    }
                }
            })
            .register();

        let stream = pw::stream::StreamRc::new(
            core.clone(),
            "Tandem screen share",
            pw::properties::properties! {
                *pw::keys::MEDIA_TYPE => "Video",
                *pw::keys::MEDIA_CATEGORY => "Capture",
                *pw::keys::MEDIA_ROLE => "Screen",
            },
        )
        .map_err(failed("stream"))?;
        let listener = stream
            .add_local_listener_with_user_data(())
            .state_changed({
                let latest = latest.clone();
                move |_, _, old, new| match new {
                    pw::stream::StreamState::Error(e) => {
                        latest.borrow_mut().ended = Some(format!("the screen cast failed: {e}"));
                    }
                    pw::stream::StreamState::Unconnected
                        if old != pw::stream::StreamState::Unconnected =>
                    {
                        latest.borrow_mut().ended = Some("the system ended the screen cast".into());
                    }
                    _ => {}
                }
            })
            .param_changed({
                let latest = latest.clone();
                move |_, _, id, param| {
                    if id != spa::param::ParamType::Format.as_raw() {
                        return;
                    }
                    let Some(param) = param else { return };
                    let mut info = spa::param::video::VideoInfoRaw::new();
                    if info.parse(param).is_err() {
                        return;
                    }
                    let f = info.format();
                    let red_first = f == VideoFormat::RGBx || f == VideoFormat::RGBA;
                    let size = info.size();
                    latest.borrow_mut().format = Some((size.width, size.height, red_first));
                }
            })
            .process({
                let latest = latest.clone();
                move |stream, _| keep_newest(stream, &latest)
            })
            .register()
            .map_err(failed("listening"))?;

        let (w, h) = grant.size.unwrap_or((1920, 1080));
        let params = formats(w, h, fps);
        let mut pods = [spa::pod::Pod::from_bytes(&params)
            .ok_or_else(|| ScreenError::Failed("the stream's formats".into()))?];
        stream
            .connect(
                spa::utils::Direction::Input,
                Some(grant.node),
                pw::stream::StreamFlags::AUTOCONNECT | pw::stream::StreamFlags::MAP_BUFFERS,
                &mut pods,
            )
            .map_err(failed("connecting the stream"))?;

        let mut me = Self {
            _listener: listener,
            _core_listener: core_listener,
            _registry_listener: registry_listener,
            _registry: registry,
            stream,
            _core: core,
            _context: context,
            entered,
            grant,
            latest,
            fps,
            pace: Pace::new(fps),
            size: (2, 2),
            last: None,
        };
        let first = me.first_picture()?;
        me.size = sent_size(first.0, first.1);
        Ok(me)
    }

    /// Turns the loop until the first picture is in; its size.
    fn first_picture(&mut self) -> Result<(u32, u32), ScreenError> {
        let until = Instant::now() + FIRST_PICTURE;
        loop {
            self.turn(Duration::from_millis(50));
            let l = self.latest.borrow();
            if let Some(why) = &l.ended {
                return Err(ScreenError::Gone(why.clone()));
            }
            if l.fresh && l.width >= 2 && l.height >= 2 {
                return Ok((l.width, l.height));
            }
            if Instant::now() >= until {
                return Err(ScreenError::Failed(format!(
                    "the screen cast sent no picture within {} s",
                    FIRST_PICTURE.as_secs()
                )));
            }
        }
    }

    /// Dispatches what PipeWire has for us, waiting at most `wait` for it.
    fn turn(&self, wait: Duration) {
        let l = self.entered.0.loop_();
        let mut timeout = pw::loop_::Timeout::Finite(wait);
        // A bounded number of rounds: a flood cannot hold the share here.
        for _ in 0..64 {
            // SAFETY: the loop is entered on this thread for the capture's
            // whole life (`Entered`).
            if unsafe { l.iterate_unguarded(timeout) } <= 0 {
                break;
            }
            timeout = pw::loop_::Timeout::Finite(Duration::ZERO);
        }
    }
}

/// The loop entered on the share's thread from its creation until the
/// stream and connection are gone. PipeWire runs a callback on the calling
/// thread when the loop is not entered, so between turns its data thread
/// would call ours (which share state with this thread); entered, it hands
/// them to this thread's next turn.
struct Entered(pw::main_loop::MainLoopRc);

impl Entered {
    fn new(mainloop: pw::main_loop::MainLoopRc) -> Self {
        // SAFETY: paired with the `leave` in `drop`, on the same thread (a
        // capture is made, read and dropped on the share's own thread).
        unsafe { mainloop.loop_().enter() };
        Self(mainloop)
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        // SAFETY: paired with the `enter` in `new`.
        unsafe { self.0.loop_().leave() };
    }
}

/// Takes every buffer that is ready, copies the newest (PipeWire gets the
/// others back at once) and marks it fresh.
fn keep_newest(stream: &pw::stream::Stream, latest: &Rc<RefCell<Latest>>) {
    let mut newest = None;
    while let Some(b) = stream.dequeue_buffer() {
        newest = Some(b);
    }
    let Some(mut buffer) = newest else { return };
    let mut l = latest.borrow_mut();
    let Some((width, height, red_first)) = l.format else {
        return;
    };
    let Some(d) = buffer.datas_mut().first_mut() else {
        return;
    };
    let chunk = d.chunk();
    if chunk.flags().contains(spa::buffer::ChunkFlags::CORRUPTED) || chunk.size() == 0 {
        return;
    }
    let offset = chunk.offset() as usize;
    let size = chunk.size() as usize;
    let stride = match u32::try_from(chunk.stride()) {
        Ok(s) if s >= width.saturating_mul(4) => s,
        _ => width.saturating_mul(4),
    };
    let Some(bytes) = d.data() else { return };
    let Some(picture) = bytes.get(offset..offset.saturating_add(size)) else {
        return;
    };
    // A picture must hold every row it claims.
    let need = stride as usize * height.saturating_sub(1) as usize + width as usize * 4;
    if picture.len() < need {
        return;
    }
    l.data.clear();
    l.data.extend_from_slice(&picture[..need]);
    (l.width, l.height, l.stride, l.red_first) = (width, height, stride, red_first);
    l.fresh = true;
}

/// The formats we take: 32-bit pictures in either byte order, any size up
/// to 8K (the portal's own size preferred), up to `fps` a second.
fn formats(width: u32, height: u32, fps: u32) -> Vec<u8> {
    use spa::param::format::{FormatProperties, MediaSubtype, MediaType};
    use spa::pod::{Value, property};
    use spa::utils::{Fraction, Rectangle};
    let object = spa::pod::object!(
        spa::utils::SpaTypes::ObjectParamFormat,
        spa::param::ParamType::EnumFormat,
        property!(FormatProperties::MediaType, Id, MediaType::Video),
        property!(FormatProperties::MediaSubtype, Id, MediaSubtype::Raw),
        property!(
            FormatProperties::VideoFormat,
            Choice,
            Enum,
            Id,
            VideoFormat::BGRx,
            VideoFormat::BGRx,
            VideoFormat::BGRA,
            VideoFormat::RGBx,
            VideoFormat::RGBA
        ),
        property!(
            FormatProperties::VideoSize,
            Choice,
            Range,
            Rectangle,
            Rectangle { width, height },
            Rectangle {
                width: 1,
                height: 1
            },
            Rectangle {
                width: 8192,
                height: 8192
            }
        ),
        property!(
            FormatProperties::VideoFramerate,
            Choice,
            Range,
            Fraction,
            Fraction { num: fps, denom: 1 },
            Fraction { num: 0, denom: 1 },
            Fraction { num: 60, denom: 1 }
        ),
    );
    spa::pod::serialize::PodSerializer::serialize(
        std::io::Cursor::new(Vec::new()),
        &Value::Object(object),
    )
    .map(|(c, _)| c.into_inner())
    .unwrap_or_default()
}

impl ScreenSource for Capture {
    fn name(&self) -> Option<String> {
        Some(self.grant.name.clone())
    }

    fn format(&self) -> CaptureFormat {
        CaptureFormat {
            width: self.size.0,
            height: self.size.1,
            fps: self.fps,
        }
    }

    fn next_frame(&mut self) -> Result<I420Frame, ScreenError> {
        self.pace.wait();
        self.turn(Duration::ZERO);
        let mut l = self.latest.borrow_mut();
        if let Some(why) = &l.ended {
            return Err(ScreenError::Gone(why.clone()));
        }
        if l.fresh || self.last.is_none() {
            l.fresh = false;
            let convert = if l.red_first {
                rgbx_to_i420
            } else {
                bgrx_to_i420
            };
            let full = convert(l.width, l.height, l.stride, &l.data)?;
            drop(l);
            self.last = Some(at_size(full, self.size)?);
        }
        let mut f = self
            .last
            .clone()
            .ok_or_else(|| ScreenError::Failed("no picture".into()))?;
        f.captured_us = now_us();
        Ok(f)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.stream.disconnect();
    }
}
