//! Tauri's build step, with the app's own commands declared so that the
//! capability file can allow exactly the ones the UI uses.

const COMMANDS: &[&str] = &[
    "platforms_list",
    "platform_add",
    "platform_remove",
    "platform_set_network",
    "sign_in",
    "sign_out",
    "sessions_list",
    "session_by_id",
    "open_join_link",
    "launch_options",
    "devices_list",
    "preview_set",
    "preview_close",
    "speaker_test",
    "call_join",
    "call_set_mic",
    "call_set_noise_removal",
    "set_background",
    "background_pick_picture",
    "background_status",
    "call_set_camera",
    "call_change_passphrase",
    "call_react",
    "call_raise_hand",
    "call_lower_hand",
    "notes_load",
    "notes_save",
    "notes_export",
    "call_share",
    "file_send_pick",
    "file_cancel",
    "file_save",
    "screens_list",
    "screen_thumbnail",
    "call_send_chat",
    "call_switch_device",
    "call_leave",
    "call_end_session",
    "open_external",
    "float_update",
    "float_view",
    "float_action",
    "video_path",
    "video_layout",
    "video_stats",
    "app_status",
    "update_check",
    "update_install",
];

fn main() {
    let embedded = std::env::var_os("CARGO_FEATURE_CUSTOM_PROTOCOL").is_some();
    let index = std::path::Path::new("../ui/dist/index.html");
    println!("cargo:rerun-if-changed=../ui/dist");
    if embedded && !index.exists() {
        panic!(
            "the UI is not built (ui/dist is missing): run `npm ci && npm run build` in ui/ \
             (`cargo xtask test` and `cargo xtask demo` do it), or build with \
             --no-default-features to load the Vite dev server instead"
        );
    }
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .unwrap_or_else(|e| panic!("tauri build step failed: {e:#}"));
}
