-- Portable between SQLite and PostgreSQL: text ids (UUIDs), times as Unix
-- seconds (BIGINT), enums as checked text.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('coach', 'trainer', 'judge', 'contestant', 'student', 'client', 'admin')),
    created_at BIGINT NOT NULL
);

CREATE TABLE coaches (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE REFERENCES users (id)
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    coach_id TEXT NOT NULL REFERENCES coaches (id),
    client_user_id TEXT NOT NULL REFERENCES users (id),
    scheduled_start BIGINT NOT NULL,
    paid_minutes INTEGER NOT NULL CHECK (paid_minutes > 0),
    session_type TEXT NOT NULL CHECK (session_type IN ('chat', 'voice', 'video')),
    mode TEXT NOT NULL CHECK (mode IN ('online', 'offline')),
    status TEXT NOT NULL CHECK (status IN ('scheduled', 'in_progress', 'completed', 'cancelled')),
    room_name TEXT NOT NULL UNIQUE,
    started_at BIGINT,
    ended_at BIGINT,
    duration_seconds BIGINT,
    end_reason TEXT
);

CREATE TABLE study_groups (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    room_name TEXT NOT NULL UNIQUE,
    owner_user_id TEXT NOT NULL REFERENCES users (id)
);

CREATE TABLE study_group_members (
    group_id TEXT NOT NULL REFERENCES study_groups (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
);

-- Join links (seed 004): one per participant of a session.
CREATE TABLE session_links (
    token TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    participant_type TEXT NOT NULL CHECK (participant_type IN ('user', 'astrologer')),
    valid_until BIGINT NOT NULL
);

CREATE TABLE session_events (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    kind TEXT NOT NULL CHECK (kind IN ('join', 'leave', 'end')),
    user_id TEXT,
    at BIGINT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

CREATE INDEX session_events_by_session ON session_events (session_id, at);
