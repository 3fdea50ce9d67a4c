-- A private session's media is end-to-end encrypted with this key, which
-- the token endpoints hand to the session's participants only (NULL: not
-- private).
ALTER TABLE sessions ADD COLUMN e2ee_key TEXT;
