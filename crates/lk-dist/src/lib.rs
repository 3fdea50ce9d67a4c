//! The pinned LiveKit FFI distribution: which wheel, its checksums per
//! platform, and where `cargo xtask setup` keeps the unpacked library.
//!
//! Shared by `xtask` (which fetches), `tandem-lk`'s build script (which reads
//! the protocol descriptors) and `tandem-lk` at run time (the last place it
//! looks for the library). It must stay dependency-free: it is a build
//! dependency.

use std::path::{Path, PathBuf};

/// Version of the `livekit` Python wheel that carries our `liblivekit_ffi`.
pub const WHEEL_VERSION: &str = "1.2.1";

/// What the library reports as its own version (`build_version()`).
pub const FFI_VERSION: &str = "0.13.2";

/// One platform's wheel: its tag, its sha256, and the library file in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelPin {
    /// Rust target triple this wheel serves.
    pub target: &'static str,
    /// The wheel's platform tag, as the package installer names it.
    pub platform_tag: &'static str,
    /// sha256 of the whole `.whl` file, lower-case hex.
    pub sha256: &'static str,
    /// File name of the library inside `livekit/rtc/resources/`.
    pub library: &'static str,
}

/// Every desktop platform Tandem ships for. Only the host's is fetched by
/// setup; the release workflow bundles each target's from this table.
pub const WHEELS: &[WheelPin] = &[
    WheelPin {
        target: "x86_64-unknown-linux-gnu",
        platform_tag: "manylinux_2_28_x86_64",
        sha256: "c9a0269cc23a889e20f716405a59fbae375a0248ea3d2d043da103cfb0b71711",
        library: "liblivekit_ffi.so",
    },
    WheelPin {
        target: "aarch64-unknown-linux-gnu",
        platform_tag: "manylinux_2_28_aarch64",
        sha256: "8a3dd36574d5df73dba5baa8fbed97401e25b51ab38822fe2c4769fef994f09d",
        library: "liblivekit_ffi.so",
    },
    WheelPin {
        target: "aarch64-apple-darwin",
        platform_tag: "macosx_11_0_arm64",
        sha256: "571d25d107b70e70b6b435e803554b0124272cc3d85a45998ea75a4eb09b5ab8",
        library: "liblivekit_ffi.dylib",
    },
    WheelPin {
        target: "x86_64-apple-darwin",
        platform_tag: "macosx_10_15_x86_64",
        sha256: "7c3a09623b059f7d93c0c487ff4ba8b5bdebdfa7f0bd424cccbe655ea70c85f3",
        library: "liblivekit_ffi.dylib",
    },
    WheelPin {
        target: "x86_64-pc-windows-msvc",
        platform_tag: "win_amd64",
        sha256: "a7892d9b7bd2f683c8789026519e84d6931b67dd19507450343e147dff789c2f",
        library: "livekit_ffi.dll",
    },
];

/// Path of the library and resources inside the wheel.
pub const WHEEL_RESOURCES: &str = "livekit/rtc/resources/";
/// Path of the generated protobuf modules inside the wheel.
pub const WHEEL_PROTO: &str = "livekit/rtc/_proto/";
/// The licence that must travel with the library in every bundle.
pub const LICENSE_FILE: &str = "LICENSE.md";
/// Written last by setup; its presence means the directory is complete.
pub const COMPLETE_MARKER: &str = ".complete";

/// The pin for a Rust target triple.
pub fn pin_for_target(target: &str) -> Option<&'static WheelPin> {
    WHEELS.iter().find(|w| w.target == target)
}

/// The pin for the machine this code was compiled for.
pub fn host_pin() -> Option<&'static WheelPin> {
    pin_for_target(host_target())
}

/// The target triple of the running code, in the wheel table's spelling.
pub fn host_target() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "x86_64-unknown-linux-gnu",
        ("linux", "aarch64") => "aarch64-unknown-linux-gnu",
        ("macos", "aarch64") => "aarch64-apple-darwin",
        ("macos", "x86_64") => "x86_64-apple-darwin",
        ("windows", "x86_64") => "x86_64-pc-windows-msvc",
        _ => "unsupported",
    }
}

/// Root of Tandem's download cache: `TANDEM_CACHE_DIR`, else the user's
/// cache directory (`XDG_CACHE_HOME`, `~/.cache`, `~/Library/Caches`,
/// `%LOCALAPPDATA%`) joined with `tandem`.
pub fn cache_root() -> Option<PathBuf> {
    if let Some(dir) = env_path("TANDEM_CACHE_DIR") {
        return Some(dir);
    }
    let base = if cfg!(windows) {
        env_path("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        env_path("HOME").map(|h| h.join("Library").join("Caches"))
    } else {
        env_path("XDG_CACHE_HOME").or_else(|| env_path("HOME").map(|h| h.join(".cache")))
    }?;
    Some(base.join("tandem"))
}

/// Directory that holds one platform's unpacked wheel contents:
/// `<cache>/livekit/<version>/<platform_tag>/` with the library, its
/// licence and `proto/*_pb2.py`.
pub fn dist_dir(cache_root: &Path, pin: &WheelPin) -> PathBuf {
    cache_root
        .join("livekit")
        .join(WHEEL_VERSION)
        .join(pin.platform_tag)
}

/// The host's unpacked distribution, if setup has completed it.
pub fn installed_host_dist() -> Option<PathBuf> {
    let dir = dist_dir(&cache_root()?, host_pin()?);
    dir.join(COMPLETE_MARKER).is_file().then_some(dir)
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pin_is_a_full_sha256_and_unique() {
        for pin in WHEELS {
            assert_eq!(pin.sha256.len(), 64, "{}", pin.target);
            assert!(
                pin.sha256
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
        let mut tags: Vec<_> = WHEELS.iter().map(|w| w.platform_tag).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), WHEELS.len());
    }

    #[test]
    fn host_is_in_the_table() {
        assert!(
            host_pin().is_some(),
            "host {} has no pinned wheel",
            host_target()
        );
    }

    #[test]
    fn dist_dir_names_version_and_platform() {
        let pin = pin_for_target("x86_64-pc-windows-msvc").unwrap();
        let dir = dist_dir(Path::new("/c"), pin);
        assert!(dir.ends_with(Path::new("livekit/1.2.1/win_amd64")));
    }
}

/// Why a `_pb2.py` module could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorError(pub String);

impl std::fmt::Display for DescriptorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DescriptorError {}

/// Extracts the serialized `FileDescriptorProto` that a protoc-generated
/// Python module passes to `AddSerializedFile(b'…')`.
pub fn serialized_descriptor(pb2_source: &str) -> Result<Vec<u8>, DescriptorError> {
    const CALL: &str = "AddSerializedFile(b";
    let start = pb2_source
        .find(CALL)
        .ok_or_else(|| DescriptorError("no AddSerializedFile(b…) call".into()))?
        + CALL.len();
    decode_python_bytes(&pb2_source[start..]).map(|(bytes, _)| bytes)
}

/// Decodes one Python bytes literal at the start of `src` (quote included);
/// returns the bytes and how many characters of `src` it spanned.
pub fn decode_python_bytes(src: &str) -> Result<(Vec<u8>, usize), DescriptorError> {
    let err = |m: &str| DescriptorError(m.to_owned());
    let raw = src.as_bytes();
    let quote = *raw.first().ok_or_else(|| err("empty literal"))?;
    if quote != b'\'' && quote != b'"' {
        return Err(err("literal does not start with a quote"));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 1;
    while i < raw.len() {
        let c = raw[i];
        if c == quote {
            return Ok((out, i + 1));
        }
        if c != b'\\' {
            if !c.is_ascii() || c == b'\n' {
                return Err(err("unescaped non-ASCII or newline in bytes literal"));
            }
            out.push(c);
            i += 1;
            continue;
        }
        let esc = *raw
            .get(i + 1)
            .ok_or_else(|| err("literal ends in a backslash"))?;
        i += 2;
        match esc {
            b'\\' | b'\'' | b'"' => out.push(esc),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'v' => out.push(0x0b),
            b'\n' => {}
            b'x' => {
                let hex = raw
                    .get(i..i + 2)
                    .ok_or_else(|| err("truncated \\x escape"))?;
                let hex = std::str::from_utf8(hex).map_err(|_| err("bad \\x escape"))?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| err("bad \\x escape"))?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut value = u32::from(esc - b'0');
                let mut digits = 1;
                while digits < 3 {
                    match raw.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                            digits += 1;
                        }
                        _ => break,
                    }
                }
                out.push(u8::try_from(value).map_err(|_| err("octal escape above 0o377"))?);
            }
            _ => {
                // Python keeps unknown escapes verbatim.
                out.push(b'\\');
                out.push(esc);
            }
        }
    }
    Err(err("unterminated bytes literal"))
}

#[cfg(test)]
mod literal_tests {
    use super::*;

    #[test]
    fn decodes_every_escape_form() {
        let literal = r#"'\n\x0chandle\"\\\'\t\0\177z'"#;
        let (bytes, used) = decode_python_bytes(&format!("{literal}) trailing")).unwrap();
        assert_eq!(bytes, b"\n\x0chandle\"\\'\t\0\x7fz");
        assert_eq!(used, literal.len());
    }

    #[test]
    fn finds_the_descriptor_call() {
        let src = "x = 1\nDESCRIPTOR = _pool.AddSerializedFile(b'\\n\\x02ab')\n";
        assert_eq!(serialized_descriptor(src).unwrap(), b"\n\x02ab");
    }

    #[test]
    fn rejects_broken_input() {
        assert!(serialized_descriptor("nothing here").is_err());
        assert!(decode_python_bytes("'abc").is_err());
        assert!(decode_python_bytes("'\\x4'").is_err());
        assert!(decode_python_bytes("abc'").is_err());
    }
}
