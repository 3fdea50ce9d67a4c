//! VP8 through the system's libvpx: a real-time encoder for the camera and
//! a decoder for what a peer sends, both on I420 pictures.

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::raw::{c_int, c_uint};

use vpx_sys as vpx;

use crate::I420Frame;

use super::CodecError;

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Settings {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Target bitrate in kbit/s.
    pub kbps: u32,
    /// Longest gap between keyframes, in frames (a receiver that lost one
    /// recovers within it even if its request is lost).
    pub keyframe_every: u32,
}

impl Vp8Settings {
    /// What a call's camera needs at `width`×`height` and `fps`: about
    /// 0.1 bit per pixel per frame, capped for 1080p.
    pub fn for_camera(width: u32, height: u32, fps: u32) -> Self {
        let pixels_per_s = u64::from(width) * u64::from(height) * u64::from(fps.max(1));
        let kbps = (pixels_per_s / 10_000).clamp(150, 2_500);
        Self {
            width,
            height,
            fps: fps.max(1),
            kbps: kbps as u32,
            keyframe_every: fps.max(1) * 10,
        }
    }
}

/// Encoder threads for a picture size on this machine. libvpx's VP8 threads
/// wait for each other by spinning, so more threads than spare cores burn
/// CPU and lose frames: on two cores, two 720p calls side by side fell from
/// 30 to 12 fps with one thread per core (docs/benchmarks.md). Extra
/// threads only for large pictures on machines with cores to spare.
fn threads_for(width: u32, height: u32) -> c_uint {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pixels = u64::from(width) * u64::from(height);
    match (pixels, cores) {
        (p, c) if p >= 1920 * 1080 && c > 8 => 4,
        (p, c) if p >= 1280 * 720 && c > 6 => 3,
        (p, c) if p >= 640 * 480 && c > 3 => 2,
        _ => 1,
    }
}

/// One encoded frame.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub data: Vec<u8>,
    pub keyframe: bool,
}

fn error_of(what: &str, err: vpx::vpx_codec_err_t) -> CodecError {
    // SAFETY: libvpx returns a pointer to a static, NUL-terminated string
    // for every error code.
    let text = unsafe { CStr::from_ptr(vpx::vpx_codec_err_to_string(err)) };
    CodecError::Vp8(format!("{what}: {}", text.to_string_lossy()))
}

/// A VP8 encoder for one picture size.
pub struct Vp8Encoder {
    ctx: Box<vpx::vpx_codec_ctx_t>,
    cfg: vpx::vpx_codec_enc_cfg_t,
    settings: Vp8Settings,
    pts: i64,
}

impl std::fmt::Debug for Vp8Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vp8Encoder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

// SAFETY: the codec context is owned by this value alone and libvpx keeps
// no thread-local state for it; moving it to another thread is fine.
unsafe impl Send for Vp8Encoder {}

impl Vp8Encoder {
    pub fn new(settings: Vp8Settings) -> Result<Self, CodecError> {
        if settings.width == 0
            || settings.height == 0
            || !settings.width.is_multiple_of(2)
            || !settings.height.is_multiple_of(2)
            || settings.width > crate::frame::MAX_SIDE
            || settings.height > crate::frame::MAX_SIDE
        {
            return Err(CodecError::Vp8(format!(
                "cannot encode {}×{}: sides must be even and at most {}",
                settings.width,
                settings.height,
                crate::frame::MAX_SIDE
            )));
        }
        let mut cfg = MaybeUninit::<vpx::vpx_codec_enc_cfg_t>::zeroed();
        // SAFETY: `cfg` is writable memory of the right type; libvpx fills it.
        let err = unsafe {
            vpx::vpx_codec_enc_config_default(vpx::vpx_codec_vp8_cx(), cfg.as_mut_ptr(), 0)
        };
        if err != vpx::VPX_CODEC_OK {
            return Err(error_of("VP8 defaults", err));
        }
        // SAFETY: filled by the successful call above.
        let mut cfg = unsafe { cfg.assume_init() };
        cfg.g_w = settings.width;
        cfg.g_h = settings.height;
        cfg.g_timebase = vpx::vpx_rational {
            num: 1,
            den: 90_000,
        };
        cfg.rc_target_bitrate = settings.kbps;
        cfg.rc_end_usage = vpx::vpx_rc_mode::VPX_CBR;
        cfg.g_lag_in_frames = 0;
        cfg.g_error_resilient = 1;
        cfg.g_threads = threads_for(settings.width, settings.height);
        // Skip a picture rather than overshoot the bitrate when the buffer
        // runs low (a narrow link: congestion control lowered the target).
        cfg.rc_dropframe_thresh = 0;
        cfg.rc_min_quantizer = 2;
        cfg.rc_max_quantizer = 56;
        cfg.rc_buf_sz = 1000;
        cfg.rc_buf_initial_sz = 500;
        cfg.rc_buf_optimal_sz = 600;
        cfg.kf_mode = vpx::vpx_kf_mode::VPX_KF_AUTO;
        cfg.kf_max_dist = settings.keyframe_every.max(1);
        // SAFETY: an all-zero context is the documented state before init.
        let mut ctx: Box<vpx::vpx_codec_ctx_t> =
            Box::new(unsafe { MaybeUninit::zeroed().assume_init() });
        // SAFETY: `ctx` and `cfg` are valid for the call; the ABI version is
        // the one these bindings were generated for.
        let err = unsafe {
            vpx::vpx_codec_enc_init_ver(
                &mut *ctx,
                vpx::vpx_codec_vp8_cx(),
                &cfg,
                0,
                vpx::VPX_ENCODER_ABI_VERSION as c_int,
            )
        };
        if err != vpx::VPX_CODEC_OK {
            return Err(error_of("VP8 encoder", err));
        }
        // Real-time speed: -6 trades a little quality for about a third of
        // the CPU of the default, as browsers do for calls.
        // SAFETY: `ctx` is initialised; VP8E_SET_CPUUSED takes an int.
        unsafe {
            vpx::vpx_codec_control_(
                &mut *ctx,
                vpx::vp8e_enc_control_id::VP8E_SET_CPUUSED as c_int,
                -6 as c_int,
            );
        }
        Ok(Self {
            ctx,
            cfg,
            settings,
            pts: 0,
        })
    }

    pub fn settings(&self) -> Vp8Settings {
        self.settings
    }

    /// Changes the target bitrate (what the network allows now), from the
    /// next picture on; the size and everything else stay.
    pub fn set_kbps(&mut self, kbps: u32) -> Result<(), CodecError> {
        let kbps = kbps.max(30);
        if kbps == self.settings.kbps {
            return Ok(());
        }
        let mut cfg = self.cfg;
        cfg.rc_target_bitrate = kbps;
        // SAFETY: `ctx` is initialised and `cfg` is a full configuration of
        // the same size it was made with; libvpx copies what it needs.
        let err = unsafe { vpx::vpx_codec_enc_config_set(&mut *self.ctx, &cfg) };
        if err != vpx::VPX_CODEC_OK {
            return Err(error_of("VP8 bitrate", err));
        }
        self.cfg = cfg;
        self.settings.kbps = kbps;
        Ok(())
    }

    /// Encodes one picture (scaled first if its size differs); `keyframe`
    /// forces a keyframe (a receiver asked for one). `elapsed_90k` is the
    /// picture's time on a 90 kHz clock.
    pub fn encode(
        &mut self,
        frame: &I420Frame,
        elapsed_90k: i64,
        keyframe: bool,
    ) -> Result<Vec<Encoded>, CodecError> {
        let s = self.settings;
        let scaled;
        let frame = if (frame.width(), frame.height()) == (s.width, s.height) {
            frame
        } else {
            scaled = frame
                .scaled(s.width, s.height)
                .map_err(|e| CodecError::Vp8(e.to_string()))?;
            &scaled
        };
        let mut img = MaybeUninit::<vpx::vpx_image_t>::zeroed();
        // SAFETY: the image only borrows `frame`'s buffer, which outlives
        // the encode call below; libvpx reads it and does not keep it.
        let wrapped = unsafe {
            vpx::vpx_img_wrap(
                img.as_mut_ptr(),
                vpx::vpx_img_fmt::VPX_IMG_FMT_I420,
                s.width,
                s.height,
                1,
                frame.data().as_ptr().cast_mut(),
            )
        };
        if wrapped.is_null() {
            return Err(CodecError::Vp8("could not wrap the picture".into()));
        }
        let pts = elapsed_90k.max(self.pts + 1);
        let duration = 90_000 / u64::from(s.fps.max(1));
        let flags = if keyframe {
            vpx::VPX_EFLAG_FORCE_KF as vpx::vpx_enc_frame_flags_t
        } else {
            0
        };
        // SAFETY: `wrapped` points at `img`, initialised by vpx_img_wrap.
        let err = unsafe {
            vpx::vpx_codec_encode(
                &mut *self.ctx,
                wrapped,
                pts,
                duration as _,
                flags,
                vpx::VPX_DL_REALTIME as _,
            )
        };
        if err != vpx::VPX_CODEC_OK {
            return Err(error_of("VP8 encode", err));
        }
        self.pts = pts;
        let mut out = Vec::new();
        let mut iter: vpx::vpx_codec_iter_t = std::ptr::null();
        loop {
            // SAFETY: the context is initialised; `iter` is the cursor
            // libvpx expects, null at first.
            let pkt = unsafe { vpx::vpx_codec_get_cx_data(&mut *self.ctx, &mut iter) };
            if pkt.is_null() {
                break;
            }
            // SAFETY: a non-null packet is valid until the next call on the
            // context; it is copied out at once.
            let pkt = unsafe { &*pkt };
            if pkt.kind != vpx::vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                continue;
            }
            // SAFETY: a frame packet's union member is `frame`; `buf` holds
            // `sz` bytes.
            let (data, flags) = unsafe {
                let f = pkt.data.frame;
                (
                    std::slice::from_raw_parts(f.buf.cast::<u8>(), f.sz as usize),
                    f.flags,
                )
            };
            out.push(Encoded {
                data: data.to_vec(),
                keyframe: flags & vpx::VPX_FRAME_IS_KEY != 0,
            });
        }
        Ok(out)
    }
}

impl Drop for Vp8Encoder {
    fn drop(&mut self) {
        // SAFETY: the context was initialised in `new` and is destroyed once.
        unsafe {
            vpx::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

/// A VP8 decoder.
pub struct Vp8Decoder {
    ctx: Box<vpx::vpx_codec_ctx_t>,
}

impl std::fmt::Debug for Vp8Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vp8Decoder").finish_non_exhaustive()
    }
}

// SAFETY: as for the encoder, the context belongs to this value alone.
unsafe impl Send for Vp8Decoder {}

impl Vp8Decoder {
    pub fn new() -> Result<Self, CodecError> {
        // SAFETY: all-zero is the state libvpx expects before init.
        let mut ctx: Box<vpx::vpx_codec_ctx_t> =
            Box::new(unsafe { MaybeUninit::zeroed().assume_init() });
        let cfg = vpx::vpx_codec_dec_cfg_t {
            threads: 1,
            w: 0,
            h: 0,
        };
        // SAFETY: `ctx` and `cfg` are valid for the call.
        let err = unsafe {
            vpx::vpx_codec_dec_init_ver(
                &mut *ctx,
                vpx::vpx_codec_vp8_dx(),
                &cfg,
                0,
                vpx::VPX_DECODER_ABI_VERSION as c_int,
            )
        };
        if err != vpx::VPX_CODEC_OK {
            return Err(error_of("VP8 decoder", err));
        }
        Ok(Self { ctx })
    }

    /// Decodes one frame; `None` when it held no picture. Corrupt input is
    /// an error (ask the sender for a keyframe), never a crash.
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<I420Frame>, CodecError> {
        if data.is_empty() {
            return Ok(None);
        }
        let len = c_uint::try_from(data.len())
            .map_err(|_| CodecError::Vp8("a frame too large to decode".into()))?;
        // SAFETY: `data` is valid for `len` bytes during the call.
        let err = unsafe {
            vpx::vpx_codec_decode(&mut *self.ctx, data.as_ptr(), len, std::ptr::null_mut(), 0)
        };
        if err != vpx::VPX_CODEC_OK {
            return Err(error_of("VP8 decode", err));
        }
        let mut newest = None;
        let mut iter: vpx::vpx_codec_iter_t = std::ptr::null();
        loop {
            // SAFETY: the context is initialised; the image is valid until
            // the next decode and is copied out below.
            let img = unsafe { vpx::vpx_codec_get_frame(&mut *self.ctx, &mut iter) };
            if img.is_null() {
                break;
            }
            // SAFETY: non-null images from libvpx are valid here.
            newest = copy_image(unsafe { &*img });
        }
        Ok(newest)
    }
}

impl Drop for Vp8Decoder {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe {
            vpx::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

/// Copies a decoded I420 image into an owned frame (sides rounded down to
/// even).
fn copy_image(img: &vpx::vpx_image_t) -> Option<I420Frame> {
    if img.fmt != vpx::vpx_img_fmt::VPX_IMG_FMT_I420 {
        return None;
    }
    let (w, h) = (img.d_w & !1, img.d_h & !1);
    let mut out = I420Frame::new(w, h).ok()?;
    let (dy, du, dv) = out.planes_mut();
    for (i, (dst, width)) in [(dy, w as usize), (du, w as usize / 2), (dv, w as usize / 2)]
        .into_iter()
        .enumerate()
    {
        let stride = usize::try_from(img.stride[i]).ok()?;
        let src = img.planes[i];
        if src.is_null() || stride < width {
            return None;
        }
        for (row, line) in dst.chunks_mut(width).enumerate() {
            // SAFETY: libvpx's plane `i` has at least `rows × stride` bytes,
            // and `row` stays below the plane's row count (`dst` has as many
            // rows as the rounded-down picture).
            let src_row = unsafe { std::slice::from_raw_parts(src.add(row * stride), width) };
            line.copy_from_slice(src_row);
        }
    }
    Some(out)
}
