//! A backend with users of every role, sessions in every state, a study group
//! and join links, on SQLite or PostgreSQL.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use livekit_api::access_token::{Claims, TokenVerifier};
use serde_json::Value;
use tandem_backend::auth::issue_user_jwt;
use tandem_backend::db::{self, Db};
use tandem_backend::dev::{add_coach, add_link, add_session, add_user};
use tandem_backend::model::User;
use tandem_backend::{Config, Running};

pub const JWT_SECRET: &str = "test-jwt-secret-0123456789";

/// Which databases to run on: SQLite always; PostgreSQL when
/// `TANDEM_TEST_POSTGRES` names a server (the test command starts one).
pub fn databases() -> Vec<&'static str> {
    let mut v = vec!["sqlite"];
    if std::env::var("TANDEM_TEST_POSTGRES").is_ok() {
        v.push("postgres");
    }
    v
}

/// A fresh, empty database URL of the given engine.
pub async fn fresh_db(engine: &str) -> String {
    let name = format!("t_{}", uuid_like());
    if engine == "postgres" {
        let base = std::env::var("TANDEM_TEST_POSTGRES").unwrap();
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let (head, _) = base.rsplit_once('/').unwrap();
        format!("{head}/{name}")
    } else {
        let path = std::env::temp_dir().join(format!("tandem-backend-{name}.db"));
        format!("sqlite://{}", path.display())
    }
}

fn uuid_like() -> String {
    format!("{:016x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

pub fn config(db_url: &str, livekit_url: &str) -> Config {
    Config {
        dev: true,
        cors_origins: vec!["https://app.example".into()],
        login_per_minute: 1000,
        token_per_minute: 100_000,
        ..Config::for_tests(db_url, livekit_url, JWT_SECRET)
    }
}

/// Everyone and everything the tests use.
pub struct Fx {
    pub run: Running,
    pub http: reqwest::Client,
    /// name → (user id, bearer JWT)
    pub users: HashMap<&'static str, (String, String)>,
    /// name → session id
    pub sessions: HashMap<String, String>,
    /// name → link token
    pub links: HashMap<&'static str, String>,
}

pub async fn fixture(engine: &str) -> Fx {
    fixture_with(engine, |_| {}).await
}

pub async fn fixture_with(engine: &str, tweak: impl FnOnce(&mut Config)) -> Fx {
    let url = fresh_db(engine).await;
    let mut cfg = config(&url, "ws://127.0.0.1:7880");
    tweak(&mut cfg);
    let run = tandem_backend::start(cfg).await.unwrap();
    let db = run.state.db.clone();
    let mut users = HashMap::new();
    let roles = [
        ("coach", "coach"),
        ("trainer", "trainer"),
        ("judge", "judge"),
        ("contestant", "contestant"),
        ("student", "student"),
        ("client", "client"),
        ("admin", "admin"),
        ("outsider", "client"),
    ];
    for (name, role) in roles {
        let id = add_user(
            &db,
            &format!("{name}@test.tandem"),
            &format!("{name} name"),
            role,
            Some("pw-for-tests"),
        )
        .await
        .unwrap();
        let user = User {
            id: id.clone(),
            email: format!("{name}@test.tandem"),
            display_name: format!("{name} name"),
            role: role.into(),
        };
        users.insert(
            name,
            (id, issue_user_jwt(JWT_SECRET, "authenticated", &user)),
        );
    }
    let coach = add_coach(&db, &users["coach"].0).await.unwrap();
    let trainer = add_coach(&db, &users["trainer"].0).await.unwrap();
    let mut sessions = HashMap::new();
    let soon = db::now() + 600;
    for ty in ["chat", "voice", "video"] {
        let id = add_session(
            &db,
            &coach,
            &users["client"].0,
            soon,
            30,
            ty,
            "online",
            "scheduled",
        )
        .await
        .unwrap();
        sessions.insert(format!("coach-{ty}"), id);
    }
    for mode in ["online", "offline"] {
        for status in ["scheduled", "in_progress", "completed", "cancelled"] {
            let id = add_session(
                &db,
                &trainer,
                &users["student"].0,
                soon,
                60,
                "video",
                mode,
                status,
            )
            .await
            .unwrap();
            sessions.insert(format!("{mode}-{status}"), id);
        }
    }
    let mut links = HashMap::new();
    for ty in ["chat", "voice", "video"] {
        let sid = &sessions[&format!("coach-{ty}")];
        let client = add_link(&db, sid, &users["client"].0, "user", 3600)
            .await
            .unwrap();
        let coach_l = add_link(&db, sid, &users["coach"].0, "astrologer", 3600)
            .await
            .unwrap();
        links.insert(leak(format!("client-{ty}")), client);
        links.insert(leak(format!("coach-{ty}")), coach_l);
    }
    let expired = add_link(
        &db,
        &sessions["coach-video"],
        &users["client"].0,
        "user",
        -10,
    )
    .await
    .unwrap();
    links.insert("expired", expired);
    study_group(&db, &users).await;
    Fx {
        run,
        http: reqwest::Client::new(),
        users,
        sessions,
        links,
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

async fn study_group(db: &Db, users: &HashMap<&'static str, (String, String)>) {
    tandem_backend::dev::add_study_group(
        db,
        "Gospel of John",
        "study_group_123",
        &users["coach"].0,
        &[&users["student"].0],
    )
    .await
    .unwrap();
}

impl Fx {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.run.url())
    }

    pub fn jwt(&self, who: &str) -> String {
        self.users[who].1.clone()
    }

    pub fn id(&self, who: &str) -> String {
        self.users[who].0.clone()
    }

    /// A request as `who` (None: anonymous) → (status, JSON body).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        who: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method.parse().unwrap(), self.url(path));
        if let Some(w) = who {
            req = req.bearer_auth(self.jwt(w));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.timeout(Duration::from_secs(20)).send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn stop(self) {
        self.run.stop().await;
    }
}

/// Verifies a LiveKit token with livekit-api's own verifier.
pub fn livekit_claims(token: &str) -> Claims {
    TokenVerifier::with_api_key("devkey", "secret")
        .verify(token)
        .expect("a LiveKit token signed with devkey")
}
