//! Rows and the queries the routes share.

use sqlx::Row as _;

use crate::db::Db;
use crate::error::ApiError;

/// A user, as the routes need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
}

/// A coaching session with its coach's user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub coach_id: String,
    pub coach_user_id: String,
    pub client_user_id: String,
    pub scheduled_start: i64,
    pub paid_minutes: i64,
    pub session_type: String,
    pub mode: String,
    pub status: String,
    pub room_name: String,
    pub started_at: Option<i64>,
    /// Private sessions: the key their media is encrypted with end to end.
    pub e2ee_key: Option<String>,
}

/// The roles a user may have.
pub const ROLES: [&str; 7] = [
    "coach",
    "trainer",
    "judge",
    "contestant",
    "student",
    "client",
    "admin",
];

impl Session {
    /// Which side `user` is on, if either.
    pub fn side_of(&self, user_id: &str) -> Option<Side> {
        if user_id == self.coach_user_id {
            Some(Side::Coach)
        } else if user_id == self.client_user_id {
            Some(Side::Client)
        } else {
            None
        }
    }
}

/// A participant's side of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Coach,
    Client,
}

pub async fn user_by_id(db: &Db, id: &str) -> Result<Option<User>, ApiError> {
    let row = sqlx::query("SELECT id, email, display_name, role FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|r| User {
        id: r.get("id"),
        email: r.get("email"),
        display_name: r.get("display_name"),
        role: r.get("role"),
    }))
}

pub async fn session_by_id(db: &Db, id: &str) -> Result<Option<Session>, ApiError> {
    session_where(db, "s.id = $1", id).await
}

pub async fn session_by_room(db: &Db, room: &str) -> Result<Option<Session>, ApiError> {
    session_where(db, "s.room_name = $1", room).await
}

async fn session_where(db: &Db, cond: &str, value: &str) -> Result<Option<Session>, ApiError> {
    let sql = format!(
        "SELECT s.id, s.coach_id, c.user_id AS coach_user_id, s.client_user_id, s.scheduled_start, \
         s.paid_minutes, s.session_type, s.mode, s.status, s.room_name, s.started_at, s.e2ee_key \
         FROM sessions s JOIN coaches c ON c.id = s.coach_id WHERE {cond}"
    );
    let row = sqlx::query(&sql)
        .bind(value)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|r| Session {
        id: r.get("id"),
        coach_id: r.get("coach_id"),
        coach_user_id: r.get("coach_user_id"),
        client_user_id: r.get("client_user_id"),
        scheduled_start: r.get("scheduled_start"),
        paid_minutes: r.get("paid_minutes"),
        session_type: r.get("session_type"),
        mode: r.get("mode"),
        status: r.get("status"),
        room_name: r.get("room_name"),
        started_at: r.get("started_at"),
        e2ee_key: r.get("e2ee_key"),
    }))
}

/// Records a session event inside a transaction or on the pool.
pub async fn add_event<'e, E>(
    exec: E,
    session_id: &str,
    kind: &str,
    user_id: Option<&str>,
    at: i64,
    detail: &str,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query("INSERT INTO session_events (id, session_id, kind, user_id, at, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(crate::db::new_id())
        .bind(session_id)
        .bind(kind)
        .bind(user_id)
        .bind(at)
        .bind(detail)
        .execute(exec)
        .await?;
    Ok(())
}

/// Session ids are UUIDs; anything else is answered 404 before touching the database.
pub fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
