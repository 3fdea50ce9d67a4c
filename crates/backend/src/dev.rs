//! `--dev`: a demo coach, client and session, with their logins and a join link.

use sqlx::Row as _;

use crate::auth::hash_password;
use crate::db::{self, Db};
use crate::error::ApiError;

/// What `--dev` created (or found), to print.
#[derive(Debug, Clone)]
pub struct Demo {
    pub coach_email: String,
    pub client_email: String,
    pub password: String,
    pub session_id: String,
    pub coach_link: String,
    pub client_link: String,
}

pub const DEMO_PASSWORD: &str = "tandem-demo";

/// Inserts a user (id, email, name, role) with `password`.
pub async fn add_user(
    db: &Db,
    email: &str,
    name: &str,
    role: &str,
    password: Option<&str>,
) -> Result<String, ApiError> {
    let id = db::new_id();
    let hash = match password {
        Some(p) => Some(hash_password(p)?),
        None => None,
    };
    sqlx::query("INSERT INTO users (id, email, password_hash, display_name, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(email.to_lowercase())
        .bind(hash)
        .bind(name)
        .bind(role)
        .bind(db::now())
        .execute(&db.pool)
        .await?;
    Ok(id)
}

/// Makes a coach row for a user.
pub async fn add_coach(db: &Db, user_id: &str) -> Result<String, ApiError> {
    let id = db::new_id();
    sqlx::query("INSERT INTO coaches (id, user_id) VALUES ($1, $2)")
        .bind(&id)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(id)
}

/// A session between a coach and a client.
#[allow(clippy::too_many_arguments)]
pub async fn add_session(
    db: &Db,
    coach_id: &str,
    client_user_id: &str,
    start: i64,
    minutes: i64,
    session_type: &str,
    mode: &str,
    status: &str,
) -> Result<String, ApiError> {
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO sessions (id, coach_id, client_user_id, scheduled_start, paid_minutes, session_type, mode, status, room_name) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(coach_id)
    .bind(client_user_id)
    .bind(start)
    .bind(minutes)
    .bind(session_type)
    .bind(mode)
    .bind(status)
    .bind(&id)
    .execute(&db.pool)
    .await?;
    Ok(id)
}

/// Makes a session private: a fresh random key (32 bytes, base64url) that
/// its participants receive with their tokens, and with which their media
/// is encrypted end to end. Returns the key.
pub async fn make_private(db: &Db, session: &str) -> Result<String, ApiError> {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    sqlx::query("UPDATE sessions SET e2ee_key = $1 WHERE id = $2")
        .bind(&key)
        .bind(session)
        .execute(&db.pool)
        .await?;
    Ok(key)
}

/// A study group (seed 003) owned by `owner`, with `members`.
pub async fn add_study_group(
    db: &Db,
    title: &str,
    room: &str,
    owner: &str,
    members: &[&str],
) -> Result<String, ApiError> {
    let id = db::new_id();
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO study_groups (id, title, room_name, owner_user_id) VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(title)
    .bind(room)
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    for m in members {
        sqlx::query("INSERT INTO study_group_members (group_id, user_id) VALUES ($1, $2)")
            .bind(&id)
            .bind(m)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// A join link for one side of a session, valid for `valid_secs`.
pub async fn add_link(
    db: &Db,
    session_id: &str,
    user_id: &str,
    participant_type: &str,
    valid_secs: i64,
) -> Result<String, ApiError> {
    let token = format!("{:032x}", rand::random::<u128>());
    sqlx::query("INSERT INTO session_links (token, session_id, user_id, participant_type, valid_until) VALUES ($1, $2, $3, $4, $5)")
        .bind(&token)
        .bind(session_id)
        .bind(user_id)
        .bind(participant_type)
        .bind(db::now() + valid_secs)
        .execute(&db.pool)
        .await?;
    Ok(token)
}

/// A session booked and ready to join by link, as end-to-end tests need it.
#[derive(Debug, Clone)]
pub struct Booking {
    /// The coach's user id ("Coach").
    pub coach: String,
    /// The client's user id ("Client"), who joins by `link`.
    pub client: String,
    /// The session id; also its LiveKit room name.
    pub session: String,
    /// The client's join link token (profile 004), valid an hour.
    pub link: String,
}

/// Books a scheduled online `session_type` session of `minutes` between a
/// new coach and a new client (emails `coach@<tag>` and `client@<tag>`).
pub async fn book(
    db: &Db,
    tag: &str,
    session_type: &str,
    minutes: i64,
) -> Result<Booking, ApiError> {
    let coach = add_user(db, &format!("coach@{tag}"), "Coach", "coach", None).await?;
    let client = add_user(db, &format!("client@{tag}"), "Client", "client", None).await?;
    let coach_row = add_coach(db, &coach).await?;
    let session = add_session(
        db,
        &coach_row,
        &client,
        0,
        minutes,
        session_type,
        "online",
        "scheduled",
    )
    .await?;
    let link = add_link(db, &session, &client, "user", 3600).await?;
    Ok(Booking {
        coach,
        client,
        session,
        link,
    })
}

/// Seeds the demo data once; later runs find it and print it again.
pub async fn seed(db: &Db) -> Result<Demo, ApiError> {
    let (coach_email, client_email) = ("coach@demo.tandem", "client@demo.tandem");
    let existing = sqlx::query("SELECT id FROM users WHERE email = $1")
        .bind(coach_email)
        .fetch_optional(&db.pool)
        .await?;
    let session_id = if let Some(row) = existing {
        let coach_user: String = row.get("id");
        sqlx::query("SELECT s.id FROM sessions s JOIN coaches c ON c.id = s.coach_id WHERE c.user_id = $1 ORDER BY s.scheduled_start DESC")
            .bind(&coach_user)
            .fetch_one(&db.pool)
            .await?
            .get("id")
    } else {
        let coach = add_user(db, coach_email, "Casey Coach", "coach", Some(DEMO_PASSWORD)).await?;
        let client = add_user(
            db,
            client_email,
            "Robin Client",
            "client",
            Some(DEMO_PASSWORD),
        )
        .await?;
        let coach_id = add_coach(db, &coach).await?;
        add_session(
            db,
            &coach_id,
            &client,
            db::now() + 300,
            45,
            "video",
            "online",
            "scheduled",
        )
        .await?
    };
    let ids = sqlx::query("SELECT c.user_id AS coach_user, s.client_user_id AS client_user FROM sessions s JOIN coaches c ON c.id = s.coach_id WHERE s.id = $1")
        .bind(&session_id)
        .fetch_one(&db.pool)
        .await?;
    let coach_link = add_link(
        db,
        &session_id,
        &ids.get::<String, _>("coach_user"),
        "astrologer",
        7 * 86_400,
    )
    .await?;
    let client_link = add_link(
        db,
        &session_id,
        &ids.get::<String, _>("client_user"),
        "user",
        7 * 86_400,
    )
    .await?;
    Ok(Demo {
        coach_email: coach_email.into(),
        client_email: client_email.into(),
        password: DEMO_PASSWORD.into(),
        session_id,
        coach_link,
        client_link,
    })
}
