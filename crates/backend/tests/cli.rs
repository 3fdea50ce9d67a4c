//! `tandem-backend --dev`: it seeds a demo, prints logins that work, and
//! stops on Ctrl-C; bad configuration is refused with a reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufReader;
use std::process::{Command, Stdio};

use tandem_testkit::process;

const BIN: &str = env!("CARGO_BIN_EXE_tandem-backend");

#[tokio::test]
async fn dev_mode_prints_working_logins_and_links() {
    let dir = std::env::temp_dir().join(format!("tandem-backend-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(BIN)
        .args(["--dev", "--listen", "127.0.0.1:0"])
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let printed = process::read_until(&mut out, "Ctrl-C");
    let field = |label: &str| -> String {
        printed
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label} in {printed}"))
            .trim()
            .to_owned()
    };
    let base = printed
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    let coach = field("coach:");
    let (email, password) = coach.split_once(" / ").unwrap();
    let session = field("session:");
    assert!(
        printed.contains("tandem://join?backend=") && printed.contains("&profile=004&link="),
        "{printed}"
    );
    assert!(dir.join("tandem-dev.db").exists());

    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = login["access_token"]
        .as_str()
        .expect("the printed login works");
    let res = http
        .get(format!("{base}/api/livekit-token?sessionId={session}"))
        .bearer_auth(jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    assert!(process::interrupt(&mut child), "Ctrl-C exits 0");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_secrets_and_bad_urls_are_refused_with_a_reason() {
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[], "TANDEM_JWT_SECRET"),
        (
            &[
                ("TANDEM_JWT_SECRET", "0123456789abcdef0123"),
                ("LIVEKIT_URL", "https://x"),
            ],
            "ws://",
        ),
        (
            &[
                ("TANDEM_JWT_SECRET", "0123456789abcdef0123"),
                ("DATABASE_URL", "mysql://u:hidden@h/db"),
            ],
            "sqlite://",
        ),
    ];
    for (env, want) in cases {
        let mut cmd = Command::new(BIN);
        cmd.args(["--listen", "127.0.0.1:0"]);
        for k in [
            "TANDEM_JWT_SECRET",
            "SUPABASE_JWT_SECRET",
            "LIVEKIT_URL",
            "LIVEKIT_SERVER_URL",
            "DATABASE_URL",
        ] {
            cmd.env_remove(k);
        }
        cmd.envs(env.iter().copied());
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{env:?}: {err}");
        assert!(!err.contains("hidden"), "a password was printed: {err}");
    }
}
