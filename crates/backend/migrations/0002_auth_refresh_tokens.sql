-- Supabase-style sign-in sessions (GoTrue's password and refresh-token
-- grants): each refresh token is used once and replaced; signing out
-- revokes every token of the session. Only a hash of each token is kept.
CREATE TABLE auth_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    session_id TEXT NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE INDEX auth_refresh_tokens_by_session ON auth_refresh_tokens (session_id);
