//! Finding and loading `liblivekit_ffi`.
//!
//! Search order: `LIVEKIT_LIB_PATH` (a file or a folder), beside the
//! executable, the app bundle's resource folders, then the setup cache.
//! The library is never unloaded: LiveKit's threads outlive any owner.

use std::ffi::c_char;
use std::path::{Path, PathBuf};

/// `livekit_ffi_initialize(callback, capture_logs, sdk, sdk_version)`.
pub(crate) type InitializeFn = unsafe extern "C" fn(
    cb: EventCallback,
    capture_logs: bool,
    sdk: *const c_char,
    version: *const c_char,
);
/// `livekit_ffi_request(data, len, &res_ptr, &res_len) -> handle`.
pub(crate) type RequestFn = unsafe extern "C" fn(
    data: *const u8,
    len: usize,
    res_ptr: *mut *const u8,
    res_len: *mut usize,
) -> u64;
/// `livekit_ffi_drop_handle(handle) -> bool`.
pub(crate) type DropHandleFn = unsafe extern "C" fn(handle: u64) -> bool;
/// `livekit_ffi_dispose()`.
pub(crate) type DisposeFn = unsafe extern "C" fn();
/// Receives serialized `FfiEvent`s, valid only for the duration of the call.
pub(crate) type EventCallback = extern "C" fn(data: *const u8, len: usize);

/// The library's four entry points.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FfiLib {
    pub(crate) initialize: InitializeFn,
    pub(crate) request: RequestFn,
    pub(crate) drop_handle: DropHandleFn,
    pub(crate) dispose: DisposeFn,
    pub(crate) path: &'static Path,
}

/// Why the library could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// No candidate file exists.
    #[error(
        "the LiveKit library ({file}) was not found. Looked in:\n{tried}\nRun `cargo xtask setup`, or set LIVEKIT_LIB_PATH to the library file.",
        tried = format_paths(.tried)
    )]
    NotFound {
        /// The file name looked for.
        file: &'static str,
        /// Every path tried, in order.
        tried: Vec<PathBuf>,
    },
    /// A file exists but could not be loaded or lacks a symbol.
    #[error(
        "the LiveKit library at {path} could not be loaded: {reason}. Reinstall Tandem or rerun `cargo xtask setup`."
    )]
    Unusable {
        /// The file that failed.
        path: PathBuf,
        /// The loader's reason.
        reason: String,
    },
    /// This platform has no LiveKit build.
    #[error("LiveKit ships no library for this platform ({0})")]
    UnsupportedPlatform(&'static str),
}

fn format_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("  - {}", p.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where to look, in order, for a library file named `file`.
pub(crate) fn candidates(file: &str, resource_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("LIVEKIT_LIB_PATH").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        out.push(if p.is_dir() { p.join(file) } else { p });
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push(exe_dir.join(file));
        // macOS app bundle: Contents/MacOS/<exe> → Contents/Resources and Frameworks.
        out.push(exe_dir.join("../Resources").join(file));
        out.push(exe_dir.join("../Frameworks").join(file));
        // Linux packages: /usr/bin/<exe> → /usr/lib/<product>/.
        if let Some(name) = std::env::current_exe()
            .ok()
            .and_then(|e| e.file_stem().map(|s| s.to_owned()))
        {
            out.push(exe_dir.join("../lib").join(&name).join(file));
        }
        // Test and example binaries live in target/<profile>/{deps,examples}.
        out.push(exe_dir.join("..").join(file));
    }
    for dir in resource_dirs {
        out.push(dir.join(file));
    }
    if let Some(dir) = tandem_lk_dist::installed_host_dist() {
        out.push(dir.join(file));
    }
    // The folder the protocol was generated from, when this binary was
    // built: development builds only (an installed app must not depend on
    // the machine that built it).
    if cfg!(debug_assertions) {
        out.push(PathBuf::from(env!("TANDEM_LK_BUILD_DIST_DIR")).join(file));
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    out
}

/// Loads the first candidate that exists.
pub(crate) fn load(resource_dirs: &[PathBuf]) -> Result<FfiLib, LoadError> {
    let pin = tandem_lk_dist::host_pin()
        .ok_or(LoadError::UnsupportedPlatform(tandem_lk_dist::host_target()))?;
    let tried = candidates(pin.library, resource_dirs);
    let path = tried
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| LoadError::NotFound {
            file: pin.library,
            tried: tried.clone(),
        })?;
    load_from(&path)
}

fn load_from(path: &Path) -> Result<FfiLib, LoadError> {
    let unusable = |reason: String| LoadError::Unusable {
        path: path.to_path_buf(),
        reason,
    };
    // SAFETY: loading runs the library's initialisers; liblivekit_ffi is a
    // Rust cdylib whose initialisers only set up statics.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| unusable(e.to_string()))?;
    // Never unloaded: the library's runtime threads hold code pointers into it.
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    // SAFETY: the symbol types match `livekit_ffi.h` shipped with the wheel
    // (and the initialize signature its official SDKs use).
    unsafe {
        let initialize = *lib
            .get::<InitializeFn>(b"livekit_ffi_initialize\0")
            .map_err(|e| unusable(e.to_string()))?;
        let request = *lib
            .get::<RequestFn>(b"livekit_ffi_request\0")
            .map_err(|e| unusable(e.to_string()))?;
        let drop_handle = *lib
            .get::<DropHandleFn>(b"livekit_ffi_drop_handle\0")
            .map_err(|e| unusable(e.to_string()))?;
        let dispose = *lib
            .get::<DisposeFn>(b"livekit_ffi_dispose\0")
            .map_err(|e| unusable(e.to_string()))?;
        Ok(FfiLib {
            initialize,
            request,
            drop_handle,
            dispose,
            path: Box::leak(path.to_path_buf().into_boxed_path()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_end_with_the_build_cache_and_have_no_duplicates() {
        let c = candidates("libx.so", &[PathBuf::from("/res")]);
        assert!(c.contains(&PathBuf::from("/res/libx.so")));
        assert!(
            c.last()
                .unwrap()
                .starts_with(env!("TANDEM_LK_BUILD_DIST_DIR"))
        );
        let unique: std::collections::HashSet<_> = c.iter().collect();
        assert_eq!(unique.len(), c.len());
    }

    #[test]
    fn not_found_names_every_path() {
        let err = LoadError::NotFound {
            file: "libx.so",
            tried: vec!["/a/libx.so".into(), "/b/libx.so".into()],
        };
        let text = err.to_string();
        assert!(
            text.contains("/a/libx.so")
                && text.contains("/b/libx.so")
                && text.contains("cargo xtask setup")
        );
    }

    #[test]
    fn a_file_that_is_not_a_library_is_unusable() {
        let dir = std::env::temp_dir().join(format!("tandem-lk-loader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bogus = dir.join("libbogus.so");
        std::fs::write(&bogus, b"not a library").unwrap();
        let err = load_from(&bogus).unwrap_err();
        assert!(matches!(err, LoadError::Unusable { .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
