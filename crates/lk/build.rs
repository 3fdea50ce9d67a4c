//! Generates LiveKit's FFI protocol types from the descriptors inside the
//! pinned wheel (unpacked by `cargo xtask setup`), so the schema always
//! matches the library it came with and no LiveKit file is committed.

use prost::Message;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=TANDEM_LK_DIST_DIR");
    println!("cargo:rerun-if-env-changed=TANDEM_CACHE_DIR");
    let dir = match std::env::var_os("TANDEM_LK_DIST_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => tandem_lk_dist::installed_host_dist().unwrap_or_else(|| {
            fail("the pinned LiveKit library is not set up on this machine. Run `cargo xtask setup` first (or set TANDEM_LK_DIST_DIR to an unpacked wheel folder).")
        }),
    };
    let proto_dir = dir.join("proto");
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    println!("cargo:rustc-env=TANDEM_LK_BUILD_DIST_DIR={}", dir.display());

    let mut entries: Vec<PathBuf> = std::fs::read_dir(&proto_dir)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", proto_dir.display())))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_pb2.py"))
        .collect();
    entries.sort();
    if entries.is_empty() {
        fail(&format!(
            "{} holds no *_pb2.py descriptors; rerun `cargo xtask setup`",
            proto_dir.display()
        ));
    }
    let mut set = prost_types::FileDescriptorSet::default();
    for path in &entries {
        let src = std::fs::read_to_string(path)
            .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
        let bytes = tandem_lk_dist::serialized_descriptor(&src)
            .unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
        let file = prost_types::FileDescriptorProto::decode(bytes.as_slice()).unwrap_or_else(|e| {
            fail(&format!(
                "{}: not a FileDescriptorProto: {e}",
                path.display()
            ))
        });
        set.file.push(file);
    }
    let mut config = prost_build::Config::new();
    config.bytes(["."]);
    if let Err(e) = config.compile_fds(set) {
        fail(&format!("generating the LiveKit protocol failed: {e}"));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}
