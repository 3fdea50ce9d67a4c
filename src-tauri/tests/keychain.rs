//! Sign-ins live in the system keychain: against a real Secret Service
//! (gnome-keyring, unlocked, in a private D-Bus session with its own home),
//! a token stored at sign-in is read back after a restart, never appears in
//! the platform file, and is gone after signing out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use tandem_app::dto::{NewPlatform, ProfileId};
use tandem_app::platforms::{Keychain as _, OsKeychain, Platforms};

const MARK: &str = "TANDEM_KEYCHAIN_TEST";
const TEST: &str = "sign_ins_are_kept_in_the_system_keychain";

#[test]
fn sign_ins_are_kept_in_the_system_keychain() {
    let home = std::env::temp_dir().join(format!("tandem-keychain-{}", std::process::id()));
    if std::env::var_os(MARK).is_none() {
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        // A session bus of our own, and gnome-keyring unlocked on it with a
        // throwaway login keyring under this test's home.
        let status = Command::new("dbus-run-session")
            .args([
                "--",
                "sh",
                "-c",
                "echo -n tandem-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$@\"",
                "sh",
            ])
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
            .env(MARK, "1")
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .status()
            .expect("dbus-run-session (Debian package dbus) and gnome-keyring are needed");
        let _ = std::fs::remove_dir_all(&home);
        assert!(
            status.success(),
            "the keychain test failed inside its D-Bus session"
        );
        return;
    }
    let file = home.join("platforms.json");
    let platforms = Platforms::load(Some(file.clone()), Box::new(OsKeychain));
    let p = platforms
        .add(NewPlatform {
            name: "Studio".into(),
            backend_url: "http://127.0.0.1:9".into(),
            profile: ProfileId::Seed000,
            anon_key: None,
            supabase_url: None,
            socket_url: None,
        })
        .unwrap();
    let signed = platforms
        .store_token(&p.id, "coach@example.com", "jwt-kept-in-the-keychain")
        .unwrap();
    assert!(
        signed.signed_in && signed.remembered,
        "the keychain took the token: {signed:?}"
    );
    drop(platforms);

    // "Restart": a new store reads the list from the file and the token from the keychain.
    let again = std::sync::Arc::new(Platforms::load(Some(file.clone()), Box::new(OsKeychain)));
    assert!(again.client(&p.id).is_ok());
    assert_eq!(
        OsKeychain.get(&p.id).unwrap().as_deref(),
        Some("jwt-kept-in-the-keychain")
    );
    assert!(
        !std::fs::read_to_string(&file).unwrap().contains("jwt-kept"),
        "tokens never go to files"
    );

    again.sign_out(&p.id).unwrap();
    assert_eq!(OsKeychain.get(&p.id).unwrap(), None);
}
